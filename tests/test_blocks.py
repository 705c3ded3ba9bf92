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
from detmetrics.strategies import detection_datasets

from _support import BACKENDS, pycocotools_eval
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
