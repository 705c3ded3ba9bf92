"""A large evaluation by blocks of images (``detmetrics._blocks``) equals the one-pass evaluation.

The blocks start above ``_BLOCK_ROWS`` detections (half a million); here the
limit is patched down to a few rows, so that hypothesis-generated datasets run
in many blocks: every statistic, the COCOeval arrays and the raw curves must be
those of one pass, bit for bit, under every matching rule, interpolation and
protocol switch that acts on the rows (the blocks run on the numba backend; on
NumPy, and for ultralytics' integration, the evaluation is one pass).
"""

from __future__ import annotations

from unittest import mock

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from numpy.testing import assert_array_equal

from detmetrics import _blocks, evaluate_coco, mean_ap
from detmetrics.strategies import coco_datasets, detection_datasets

from _support import BACKENDS, pycocotools_eval, requires_numba
from coco_generator import make_coco_dataset

#: options whose handling differs along the block path (cuts, per-image budgets across
#: categories, box widths changed once, other matchers and integrations)
_OPTIONS = [
    {},
    {"max_detections": (1, 2, 3)},
    {"interpolation": "voc"},
    {"interpolation": "voc11", "matching": "voc"},
    {"protocol": "ultralytics"},
    {"image_budget": 3},
    {"protocol": "voc07"},
    {"crowd": "drop", "iou_thresholds": [0.3, 0.6]},
]


class _Spy:
    """Counts the blocked runs (so a test knows the path it compared was taken)."""

    def __init__(self):
        self.calls = 0
        self.real = _blocks._by_blocks

    def __call__(self, *args, **kwargs):
        self.calls += 1
        return self.real(*args, **kwargs)


def _blocked(fn, rows):
    spy = _Spy()
    with mock.patch.object(_blocks, "_BLOCK_ROWS", rows), mock.patch.object(_blocks, "_by_blocks", spy):
        return fn(), spy.calls


def _assert_same(one, blocked):
    assert blocked.category_ids == one.category_ids
    for name in ("stats", "precision", "recall", "scores", "ap", "n_gt", "n_det"):
        assert_array_equal(np.asarray(getattr(blocked, name)), np.asarray(getattr(one, name)), err_msg=name)
    for cat in [None, *one.category_ids]:
        for t in one.iou_thresholds:
            a, b = one.pr_curve(cat, iou_threshold=t), blocked.pr_curve(cat, iou_threshold=t)
            for key in a:
                assert_array_equal(b[key], a[key], err_msg=f"pr_curve({cat}, {t})[{key}]")


@settings(deadline=None, max_examples=60)
@given(detection_datasets(max_images=6), st.integers(1, 6), st.sampled_from(BACKENDS), st.sampled_from(_OPTIONS))
def test_blocks_equal_one_pass(data, rows, backend, options):
    predictions, ground_truths = data
    one = mean_ap(predictions, ground_truths, backend=backend, **options)
    blocked, calls = _blocked(lambda: mean_ap(predictions, ground_truths, backend=backend, **options), rows)
    _assert_same(one, blocked)
    budget = options.get("image_budget", np.inf)
    counts = [min(len(p["scores"]), budget) for p in predictions]
    expected = (backend == "numba" and options.get("protocol") != "ultralytics" and sum(counts) > rows
                and sum(c > 0 for c in counts) >= 2 and max(one.max_detections) <= 255)
    assert calls == int(expected)  # the path compared is the one meant


@pytest.mark.parametrize("backend", BACKENDS)
def test_blocks_of_a_coco_dataset_equal_pycocotools(backend):
    """The adversarial COCO generator (ties, crowds, >100 detections per image, empty categories)
    in blocks of 50 detections: pycocotools' numbers."""
    gt, results = make_coco_dataset(3, n_images=24)
    results = sorted(results, key=lambda r: r["image_id"])  # image by image, as result files are (stable)
    blocked, calls = _blocked(lambda: evaluate_coco(gt, results, backend=backend), 50)
    assert calls == int(backend == "numba")  # on NumPy the evaluation is one pass
    expected, _ = pycocotools_eval(gt, results)
    np.testing.assert_allclose(blocked.stats, expected.stats, rtol=0, atol=1e-12)
    np.testing.assert_allclose(blocked.precision, expected.eval["precision"], rtol=0, atol=1e-12)
    np.testing.assert_allclose(blocked.recall, expected.eval["recall"], rtol=0, atol=1e-12)
    one = evaluate_coco(gt, results, backend=backend)
    _assert_same(one, blocked)


def test_blocks_cut_at_image_boundaries():
    from detmetrics._inputs import FlatData, parse_options

    img = np.array([0, 0, 0, 1, 1, 2, 2, 2, 2, 3])
    n = img.shape[0]
    flat = FlatData.build("axis", 4, img, np.ones(n, np.int64), np.linspace(1, 0, n),
                          np.tile([0.0, 0.0, 5.0, 5.0], (n, 1)), np.zeros(1, np.int64), np.array([1]),
                          np.array([[0.0, 0.0, 5.0, 5.0]]))
    opts = parse_options()
    cats = np.array([1], np.int64)
    for rows, expected in ((4, [0, 3, 5, 9, 10]), (3, [0, 3, 5, 9, 10]), (6, [0, 5, 10]), (9, [0, 9, 10])):
        with mock.patch.object(_blocks, "_BLOCK_ROWS", rows):
            bounds, counts = _blocks._plan(flat, opts, cats, "numba")
        assert bounds == expected and counts.tolist() == [10], rows
    with mock.patch.object(_blocks, "_BLOCK_ROWS", 10):
        assert _blocks._plan(flat, opts, cats, "numba") is None  # fits one block: one pass
    with mock.patch.object(_blocks, "_BLOCK_ROWS", 4):
        assert _blocks._plan(flat, opts, cats, "numpy") is None
        shuffled = FlatData.build("axis", 4, img[::-1].copy(), np.ones(n, np.int64), np.linspace(1, 0, n),
                                  np.tile([0.0, 0.0, 5.0, 5.0], (n, 1)), np.zeros(1, np.int64), np.array([1]),
                                  np.array([[0.0, 0.0, 5.0, 5.0]]))
        assert _blocks._plan(shuffled, opts, cats, "numba") is None  # not image by image: one pass


@settings(deadline=None, max_examples=50)
@given(st.integers(0, 30), st.integers(1, 5), st.integers(1, 12), st.randoms(use_true_random=False))
def test_packed_codes_round_trip(n, n_area, n_thr, rnd):
    from detmetrics.ap import pack_codes, unpack_codes

    codes = np.array([[[rnd.choice([0, 1, 2]) for _ in range(n_thr)] for _ in range(n_area)] for _ in range(n)],
                     dtype=np.uint8).reshape(n, n_area, n_thr)
    packed = pack_codes(codes)
    assert packed.shape == (n, -(-(n_area * n_thr) // 4)) and packed.dtype == np.uint8
    assert np.array_equal(unpack_codes(packed, n_area, n_thr), codes)


# --------------------------------------------------------------------------------------
# a result list read and matched a block of images at a time (evaluate_coco on loaded JSON)


class _ListSpy:
    """Counts the result lists evaluated block by block to the end (None: abandoned, not counted)."""

    def __init__(self):
        self.done = 0
        self.real = _blocks.accumulate_blocks

    def __call__(self, *args, **kwargs):
        out = self.real(*args, **kwargs)
        self.done += out is not None
        return out


def _by_list_blocks(fn, rows):
    spy = _ListSpy()
    with mock.patch.object(_blocks, "_BLOCK_ROWS", rows), mock.patch.object(_blocks, "accumulate_blocks", spy):
        return fn(), spy.done


def _per_image(results) -> int:
    counts: dict = {}
    for r in results:
        counts[r["image_id"]] = counts.get(r["image_id"], 0) + 1
    return max(counts.values(), default=0)


@settings(deadline=None, max_examples=60)
@requires_numba
@given(coco_datasets(min_images=2, max_images=8, max_categories=3, max_dets_per_image=8), st.integers(-2, 4),
       st.sampled_from([True, True, True, False]), st.sampled_from(_OPTIONS))
def test_result_list_by_blocks_equals_one_pass(data, extra, in_order, options):
    """Blocks of a few rows (around the largest image's results: an image larger than a block
    abandons the blocks) give the numbers of one pass, bit for bit (on NumPy there are no blocks:
    ``test_result_list_blocks_only_where_they_apply``)."""
    backend = "numba"
    gt, results = data
    if in_order:  # image by image, as detectors and result files give them (else: abandoned, same numbers)
        results = sorted(results, key=lambda r: r["image_id"])
    rows = max(1, _per_image(results) + extra)
    one = evaluate_coco(gt, results, backend=backend, **options)
    blocked, done = _by_list_blocks(lambda: evaluate_coco(gt, results, backend=backend, **options), rows)
    _assert_same(one, blocked)
    takes = (backend == "numba" and options.get("protocol") != "ultralytics" and len(results) > rows
             and max(one.max_detections) <= 255)
    if not takes:
        assert done == 0
    elif in_order and _per_image(results) <= rows:
        assert done == 1  # the path compared is the one meant


def _coco_in_order(seed=3, n_images=40):
    gt, results = make_coco_dataset(seed, n_images=n_images)
    return gt, sorted(results, key=lambda r: r["image_id"])  # image by image (stable)


@requires_numba
def test_result_list_by_blocks_equals_pycocotools():
    """The adversarial COCO generator (ties, crowds, >100 detections per image, empty categories)
    read and matched 200 results at a time: pycocotools' numbers."""
    gt, results = _coco_in_order()
    blocked, done = _by_list_blocks(lambda: evaluate_coco(gt, results, backend="numba"), 200)
    assert done == 1 and len(results) > 400  # three blocks at least
    expected, _ = pycocotools_eval(gt, results)
    np.testing.assert_allclose(blocked.stats, expected.stats, rtol=0, atol=1e-12)
    np.testing.assert_allclose(blocked.precision, expected.eval["precision"], rtol=0, atol=1e-12)
    np.testing.assert_allclose(blocked.recall, expected.eval["recall"], rtol=0, atol=1e-12)
    _assert_same(evaluate_coco(gt, results, backend="numba"), blocked)


@requires_numba
def test_result_list_blocks_only_where_they_apply():
    gt, results = _coco_in_order()
    one = evaluate_coco(gt, results, backend="numba")
    rows = 200
    for kwargs in ({"backend": "numpy"}, {"backend": "numba", "use_categories": False},
                   {"backend": "numba", "image_ids": [img["id"] for img in gt["images"]]},
                   {"backend": "numba", "category_ids": [c["id"] for c in gt["categories"]]},
                   {"backend": "numba", "max_detections": (1, 10, 300)}):
        out, done = _by_list_blocks(lambda: evaluate_coco(gt, results, **kwargs), rows)
        assert done == 0, kwargs
        if "max_detections" not in kwargs and "use_categories" not in kwargs:
            _assert_same(one, out)
    out, done = _by_list_blocks(lambda: evaluate_coco(gt, results, backend="numba"), len(results))
    assert done == 0  # fits one block
    # string image ids: the usual path
    gt_s = {**gt, "images": [{**img, "id": str(img["id"])} for img in gt["images"]],
            "annotations": [{**a, "image_id": str(a["image_id"])} for a in gt["annotations"]]}
    res_s = [{**r, "image_id": str(r["image_id"])} for r in results]
    out, done = _by_list_blocks(lambda: evaluate_coco(gt_s, res_s, backend="numba"), rows)
    assert done == 0
    _assert_same(evaluate_coco(gt_s, res_s, backend="numba"), out)


@requires_numba
@pytest.mark.parametrize("change", ["shuffled", "float16 score", "unlisted category", "bool score",
                                    "blocks of unlisted categories"])
def test_result_list_blocks_abandoned_or_taken_give_the_same_numbers(change):
    gt, results = _coco_in_order()
    results = [dict(r) for r in results]
    late = len(results) - 5  # in the last block: the earlier blocks were matched already
    if change == "shuffled":
        results[late], results[10] = results[10], results[late]
    elif change == "float16 score":  # not read by the kernel: the reference reads it, as NumPy gives it
        results[late]["score"] = np.float16(results[late]["score"])
    elif change == "unlisted category":  # dropped, as COCOeval ignores it (the blocks take it)
        results[late]["category_id"] = 10**6
    elif change == "blocks of unlisted categories":  # whole blocks left without a detection
        images = sorted({r["image_id"] for r in results})[5:30]
        for r in results:
            if r["image_id"] in images:
                r["category_id"] = 10**6
    else:  # a bool is no score: the typed path names it
        results[late]["score"] = True
    try:
        one = evaluate_coco(gt, results, backend="numba")
    except ValueError as err:
        with pytest.raises(ValueError) as got:
            _by_list_blocks(lambda: evaluate_coco(gt, results, backend="numba"), 200)
        assert str(got.value) == str(err)
        return
    blocked, done = _by_list_blocks(lambda: evaluate_coco(gt, results, backend="numba"), 200)
    assert done == int("unlisted" in change)
    _assert_same(one, blocked)


@requires_numba
@pytest.mark.parametrize("change", ["unknown image", "nan box", "negative width", "inf score", "missing bbox"])
def test_result_list_blocks_name_a_late_bad_result_as_the_usual_path(change):
    gt, results = _coco_in_order()
    results = [dict(r) for r in results]
    late = len(results) - 5
    if change == "unknown image":
        results[late]["image_id"] = 10**9
    elif change == "nan box":
        results[late]["bbox"] = [0.0, float("nan"), 1.0, 1.0]
    elif change == "negative width":
        results[late]["bbox"] = [0.0, 0.0, -1.0, 1.0]
    elif change == "inf score":
        results[late]["score"] = float("inf")
    else:
        del results[late]["bbox"]
    with pytest.raises(ValueError) as usual:
        evaluate_coco(gt, results, backend="numba")
    with pytest.raises(ValueError) as got:
        _by_list_blocks(lambda: evaluate_coco(gt, results, backend="numba"), 200)
    assert str(got.value) == str(usual.value)
    assert f"[{late}]" in str(got.value)  # the row of the whole list
