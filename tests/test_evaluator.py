"""detmetrics.Evaluator: sharded, merged, pickled evaluation equals mean_ap on all the data."""

import multiprocessing
import pickle

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from numpy.testing import assert_allclose

from detmetrics import Evaluator, mean_ap
from detmetrics.strategies import detection_datasets

FIELDS = ("stats", "precision", "recall", "scores", "ap")


def assert_same(r, expected):
    assert r.category_ids == expected.category_ids
    for name in FIELDS:
        assert_allclose(getattr(r, name), getattr(expected, name), rtol=0, atol=1e-12)


def _shards(n, rnd, n_shards):
    ids = list(range(n))
    rnd.shuffle(ids)
    cuts = sorted(rnd.randint(0, n) for _ in range(n_shards - 1))
    bounds = [0] + cuts + [n]
    return [ids[a:b] for a, b in zip(bounds, bounds[1:])]


@settings(deadline=None, max_examples=40)
@given(detection_datasets(max_images=8), st.randoms(use_true_random=False), st.integers(1, 4),
       st.sampled_from(["coco", "voc"]))
def test_random_shards_any_merge_order_equal_mean_ap(data, rnd, n_shards, interpolation):
    predictions, ground_truths = data
    expected = mean_ap(predictions, ground_truths, interpolation=interpolation)
    evaluators = []
    for shard in _shards(len(predictions), rnd, n_shards):
        ev = Evaluator(interpolation=interpolation)
        # several updates per shard, images given by their global position
        for part in (shard[: len(shard) // 2], shard[len(shard) // 2:]):
            ev.update([predictions[i] for i in part], [ground_truths[i] for i in part], image_ids=part)
        evaluators.append(pickle.loads(pickle.dumps(ev)))
    rnd.shuffle(evaluators)
    total = evaluators[0]
    for ev in evaluators[1:]:
        total.merge(ev)
    assert total.n_images == len(predictions)
    assert_same(total.compute(), expected)


@settings(deadline=None, max_examples=20)
@given(detection_datasets(max_images=6))
def test_sequential_updates_without_ids_equal_mean_ap(data):
    predictions, ground_truths = data
    ev = Evaluator()
    for i in range(len(predictions)):
        ev.update(predictions[i:i + 1], ground_truths[i:i + 1])
    assert_same(ev.compute(), mean_ap(predictions, ground_truths))
    # merging auto-numbered evaluators appends the other's images after ours
    a, b = Evaluator(), Evaluator()
    half = len(predictions) // 2
    a.update(predictions[:half], ground_truths[:half])
    b.update(predictions[half:], ground_truths[half:])
    assert_same(a.merge(b).compute(), mean_ap(predictions, ground_truths))


def test_reset_and_empty():
    ev = Evaluator()
    assert ev.compute().map == -1.0
    ev.update([{"boxes": [[0, 0, 1, 1]], "scores": [1.0], "labels": [0]}], [{"boxes": [[0, 0, 1, 1]], "labels": [0]}])
    assert ev.compute().map == pytest.approx(1.0, abs=1e-12)
    ev.reset()
    assert ev.n_images == 0 and ev.compute().stats.tolist() == [-1.0] * 12


def _shard_worker(args):
    predictions, ground_truths, ids = args
    ev = Evaluator(iou_thresholds=(0.5, 0.75))
    ev.update(predictions, ground_truths, image_ids=ids)
    return ev


def test_multiprocessing_pool():
    rng = np.random.default_rng(0)
    predictions, ground_truths = [], []
    for _ in range(12):
        gt = rng.integers(0, 50, (5, 2)).astype(float)
        gt = np.hstack([gt, gt + rng.integers(1, 30, (5, 2))])
        det = gt + rng.integers(-3, 4, gt.shape)
        det[:, 2:] = np.maximum(det[:, 2:], det[:, :2])
        predictions.append({"boxes": det, "scores": rng.choice([0.3, 0.5, 0.9], 5), "labels": rng.integers(0, 3, 5)})
        ground_truths.append({"boxes": gt, "labels": rng.integers(0, 3, 5)})
    chunks = [(predictions[i:i + 4], ground_truths[i:i + 4], list(range(i, i + 4))) for i in range(0, 12, 4)]
    with multiprocessing.get_context("spawn").Pool(2) as pool:
        parts = pool.map(_shard_worker, chunks)
    total = parts[2].merge(parts[0]).merge(parts[1])
    assert_same(total.compute(), mean_ap(predictions, ground_truths, iou_thresholds=(0.5, 0.75)))


P = {"boxes": [[0, 0, 1, 1]], "scores": [0.5], "labels": [1]}
G = {"boxes": [[0, 0, 1, 1]], "labels": [1]}


def _twice(first, second):
    ev = Evaluator()
    ev.update([P], [G], **first)
    ev.update([P], [G], **second)


@pytest.mark.parametrize("call, exception, match", [
    (lambda: Evaluator(iou_treshold=0.5), TypeError, "unexpected option"),
    (lambda: Evaluator(max_detections=(5, 5)), ValueError, "strictly increasing"),
    (lambda: _twice({"image_ids": [3]}, {"image_ids": [3]}), ValueError, "image id 3 was already evaluated"),
    (lambda: _twice({"image_ids": [3]}, {}), ValueError, "on every update or on none"),
    (lambda: Evaluator().update([P, P], [G, G], image_ids=[1, 1]), ValueError, "duplicate"),
    (lambda: Evaluator().update([P], [G], image_ids=[1, 2]), ValueError, "one integer per image"),
    (lambda: Evaluator().merge(Evaluator(iou_thresholds=[0.5])), ValueError,
         r"different iou_thresholds: \[0.5, 0.55, .*\] vs \[0.5\]"),
        (lambda: Evaluator().merge(Evaluator(max_detections=(1, 10))), ValueError,
         r"different max_detections: \(1, 10, 100\) vs \(1, 10\)"),
    (lambda: Evaluator().merge("x"), TypeError, "must be an Evaluator"),
    (lambda: Evaluator(category_ids=[2, 3]).update([P], [G]), ValueError, "label 1, which is not in category_ids"),
    (lambda: Evaluator(category_ids="ab"), TypeError, "category_ids must be a sequence"),
    (lambda: Evaluator(category_ids=[1]).merge(Evaluator()), ValueError, "different category_ids"),
])
def test_bad_input(call, exception, match):
    with pytest.raises(exception, match=match):
        call()


@settings(deadline=None, max_examples=20)
@given(detection_datasets(max_images=6), st.lists(st.integers(0, 12), max_size=4))
def test_category_ids_equal_mean_ap(data, extra):
    predictions, ground_truths = data
    labels = {int(x) for d in predictions + ground_truths for x in np.asarray(d["labels"]).ravel()}
    cats = sorted(labels | set(extra))
    half = len(predictions) // 2
    a, b = Evaluator(category_ids=cats), Evaluator(category_ids=cats)
    a.update(predictions[:half], ground_truths[:half])
    b.update(predictions[half:], ground_truths[half:])
    result = a.merge(b).compute()
    assert result.category_ids == cats
    assert_same(result, mean_ap(predictions, ground_truths, category_ids=cats))


def test_merge_refuses_overlapping_ids():
    a, b = Evaluator(), Evaluator()
    a.update([P], [G], image_ids=[7])
    b.update([P], [G], image_ids=[7])
    with pytest.raises(ValueError, match="image id 7 was already evaluated"):
        a.merge(b)


def test_rotated_and_quads_shards():
    rng = np.random.default_rng(1)
    preds, gts = [], []
    for _ in range(6):
        g = np.column_stack([rng.integers(10, 90, (4, 2)), rng.integers(2, 20, (4, 2)), rng.uniform(-1, 1, 4)])
        d = g + np.column_stack([rng.integers(-2, 3, (4, 2)), np.zeros((4, 2)), rng.uniform(-0.1, 0.1, 4)])
        preds.append({"boxes": d, "scores": rng.choice([0.2, 0.6, 0.9], 4), "labels": rng.integers(0, 2, 4)})
        gts.append({"boxes": g, "labels": rng.integers(0, 2, 4)})
    expected = mean_ap(preds, gts)
    a, b = Evaluator(), Evaluator()
    a.update(preds[:2], gts[:2], image_ids=[0, 1])
    b.update(preds[2:], gts[2:], image_ids=range(2, 6))
    assert_same(b.merge(a).compute(), expected)
    from detmetrics import rotated_to_corners

    quads_p = [{**p, "boxes": rotated_to_corners(p["boxes"])} for p in preds]
    quads_g = [{**g, "boxes": rotated_to_corners(g["boxes"])} for g in gts]
    assert_allclose(mean_ap(quads_p, quads_g).stats, expected.stats, rtol=0, atol=1e-9)


def test_merge_with_itself_is_an_error():
    # it used to iterate the list it appended to, until MemoryError
    e = Evaluator()
    e.update([P], [G])
    with pytest.raises(ValueError, match="cannot merge an evaluator with itself"):
        e.merge(e)


def test_packed_state_is_compact_and_exact():
    import pickle

    from detmetrics.matching import PackedState

    rng = np.random.default_rng(3)
    preds, gts = [], []
    for _ in range(300):
        b = rng.integers(0, 200, (20, 2)).astype(float)
        b = np.hstack([b, b + rng.integers(1, 60, (20, 2))])
        preds.append({"boxes": b, "scores": rng.random(20), "labels": rng.integers(0, 5, 20)})
        gts.append({"boxes": b[:6] + rng.integers(0, 4, (6, 4)) * [0, 0, 1, 1], "labels": rng.integers(0, 5, 6),
                    "iscrowd": rng.random(6) < 0.1})
    ev = Evaluator()
    ev.update(preds, gts, image_ids=np.arange(300) * 2**40)  # large keys: wider dtypes, still exact
    n_det = sum(len(p["scores"]) for p in preds)
    n_gt = sum(len(g["labels"]) for g in gts)
    # COCO defaults: 4 area ranges x 10 thresholds -> 2 x 5 bytes of codes, the float64 score, an
    # int64 image key (these keys need it), int8 category and rank; per ground truth int8 category,
    # int64 key and one byte of ignore flags.  The unpacked state took 72 and 20 bytes.
    assert ev.state_nbytes <= 28 * n_det + 10 * n_gt
    assert len(pickle.dumps(ev)) < 28 * n_det + 10 * n_gt + 4096
    state = ev._states[0]
    assert isinstance(state, PackedState)
    again = state.unpack().pack()
    for name in ("det_cat", "det_img", "det_score", "det_rank", "det_tp", "det_fp", "gt_cat", "gt_img", "gt_ignored"):
        assert np.array_equal(getattr(state, name), getattr(again, name)), name
    expected = mean_ap(preds, gts)
    got = ev.compute()
    assert np.array_equal(got.stats, expected.stats) and np.array_equal(got.precision, expected.precision)
