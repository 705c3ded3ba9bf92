"""Regression tests for the defects a fuzzing pass found (labels beyond int64, bool flags, the Evaluator)."""

import pickle

import numpy as np
import pytest
from numpy.testing import assert_allclose

from detmetrics import Evaluator, batched_nms, mean_ap

BOX = [[0, 0, 10, 10]]


@pytest.mark.parametrize("labels", [
    [1e19],                                      # a whole float beyond int64
    np.array([2**63], dtype=np.uint64),          # uint64 beyond int64
    [2**70],                                     # a Python int beyond int64
    [-(2**63) - 1],
])
def test_labels_beyond_int64_are_named_errors(labels):
    # used to wrap or merge: two different huge labels gave mAP 1.0
    with pytest.raises(ValueError, match=r"labels'?\]? must hold integers in \[-2\*\*63, 2\*\*63\)"):
        mean_ap([{"boxes": BOX, "scores": [0.9], "labels": labels}], [{"boxes": BOX, "labels": [1]}])
    with pytest.raises(ValueError, match=r"labels must hold integers in \[-2\*\*63, 2\*\*63\)"):
        batched_nms(BOX * 1, [0.9], labels)


def test_labels_at_the_int64_edges_are_accepted():
    labels = np.array([2**63 - 1, -(2**63)], dtype=np.int64)
    assert batched_nms(BOX * 2, [0.9, 0.8], labels).tolist() == [0, 1]
    assert batched_nms(BOX * 2, [0.9, 0.8], np.array([2**63 - 1, 0], dtype=np.uint64)).tolist() == [0, 1]


def test_bool_flags_are_accepted():
    pred = [{"boxes": BOX * 2, "scores": [0.9, 0.8], "labels": [1, 1]}]
    as_int = mean_ap(pred, [{"boxes": BOX * 2, "labels": [1, 1], "iscrowd": [0, 1], "difficult": [1, 0]}])
    for flags in ([False, True], np.array([False, True])):
        got = mean_ap(pred, [{"boxes": BOX * 2, "labels": [1, 1], "iscrowd": flags, "difficult": flags[::-1]}])
        assert_allclose(got.stats, as_int.stats, rtol=0, atol=0)


def _dataset(n, seed=0):
    rng = np.random.default_rng(seed)
    preds, gts = [], []
    for _ in range(n):
        b = rng.integers(0, 50, (6, 2)).astype(float)
        b = np.hstack([b, b + rng.integers(1, 20, (6, 2))])
        preds.append({"boxes": b, "scores": rng.choice([0.3, 0.5, 0.9], 6), "labels": rng.integers(0, 3, 6)})
        gts.append({"boxes": b[:3] + rng.integers(0, 3, (3, 4)) * [0, 0, 1, 1], "labels": rng.integers(0, 3, 3)})
    return preds, gts


@pytest.mark.parametrize("image_ids", [False, True])
def test_one_image_updates_equal_mean_ap(image_ids, monkeypatch):
    # updates are matched in batches: a small batch size makes every path run (flush on size,
    # on merge, on pickling, on compute)
    monkeypatch.setattr(Evaluator, "_BATCH_IMAGES", 7)
    preds, gts = _dataset(40)
    a, b = Evaluator(), Evaluator()
    for i in range(25):
        a.update(preds[i:i + 1], gts[i:i + 1], image_ids=[i] if image_ids else None)
    for i in range(25, 40):
        b.update(preds[i:i + 1], gts[i:i + 1], image_ids=[i] if image_ids else None)
    b = pickle.loads(pickle.dumps(b))
    a.merge(b)
    assert a.n_images == 40
    expected = mean_ap(preds, gts)
    assert_allclose(a.compute().stats, expected.stats, rtol=0, atol=1e-12)
    assert_allclose(a.compute().precision, expected.precision, rtol=0, atol=1e-12)


def test_duplicate_image_ids_across_pending_updates():
    e = Evaluator()
    preds, gts = _dataset(2)
    e.update(preds[:1], gts[:1], image_ids=[5])
    with pytest.raises(ValueError, match="image id 5 was already evaluated"):
        e.update(preds[1:], gts[1:], image_ids=[5])
    other = Evaluator()
    other.update(preds[1:], gts[1:], image_ids=[5])
    with pytest.raises(ValueError, match="image id 5 was already evaluated"):
        e.merge(other)

