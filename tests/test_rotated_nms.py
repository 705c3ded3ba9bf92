"""Rotated / quad NMS and soft-NMS (the hooks nms.py dispatches (N, 5) and (N, 4, 2) boxes to)."""

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from numpy.testing import assert_allclose, assert_array_equal

from detmetrics import polygon_iou, rotated_iou, soft_nms
from detmetrics._validate import as_quads, as_rotated_boxes, box_kind
from detmetrics.postprocess import _dispatch_nms
from detmetrics.strategies import quads, rotated_boxes


def _nms_oriented(boxes, scores, labels, iou_threshold, backend):
    return _dispatch_nms(boxes, scores, labels, iou_threshold, box_kind(boxes.shape), backend)


def _soft_nms_oriented(boxes, scores, method, sigma, iou_threshold, score_threshold, backend):
    return soft_nms(boxes, scores, method=method, sigma=sigma, iou_threshold=iou_threshold,
                    score_threshold=score_threshold, backend=backend)

BACKENDS = ["numba", "numpy"]
THRESHOLDS = [0.0, 0.1, 0.3, 0.5, 0.7, 1.0]


@st.composite
def detections(draw, kind="rotated", max_size=25, n_labels=3):
    boxes = draw((rotated_boxes if kind == "rotated" else quads)(max_size=max_size, grid=12))
    n = len(boxes)
    scores = np.array(draw(st.lists(st.sampled_from([0.05, 0.2, 0.5, 0.5, 0.7, 0.9, 1.0]), min_size=n, max_size=n)))
    labels = np.array(draw(st.lists(st.integers(0, n_labels - 1), min_size=n, max_size=n)), dtype=np.int64)
    return boxes, scores.astype(np.float64), labels


def validated(boxes):
    return as_rotated_boxes(boxes) if boxes.ndim == 2 else as_quads(boxes)


def iou_matrix(boxes):
    return rotated_iou(boxes, boxes) if boxes.ndim == 2 else polygon_iou(boxes, boxes)


def greedy_oracle(iou, scores, labels, threshold):
    """Textbook greedy NMS on a full IoU matrix."""
    order = sorted(range(len(scores)), key=lambda i: (-scores[i], i))
    keep = []
    for i in order:
        if all(not (labels[k] == labels[i] and iou[k, i] > threshold) for k in keep):
            keep.append(i)
    return np.array(keep, dtype=np.int64)


def soft_oracle(iou, scores, method, sigma, iou_threshold, score_threshold):
    current = np.array(scores, dtype=np.float64)
    alive = [i for i in range(len(scores)) if current[i] >= score_threshold]
    picked, picked_scores = [], []
    while alive:
        best = max(alive, key=lambda i: (current[i], -i))
        picked.append(best)
        picked_scores.append(current[best])
        alive.remove(best)
        for j in list(alive):
            v = iou[best, j]
            if method == "gaussian":
                current[j] *= math.exp(-(v * v) / sigma)
            elif v >= iou_threshold:
                current[j] *= 1.0 - v
            if current[j] < score_threshold:
                alive.remove(j)
    return np.array(picked, dtype=np.int64), np.array(picked_scores)


@pytest.mark.parametrize("kind", ["rotated", "quads"])
@given(data=st.data())
def test_nms_matches_greedy_oracle_and_backends_agree(kind, data):
    boxes, scores, labels = data.draw(detections(kind))
    threshold = data.draw(st.sampled_from(THRESHOLDS))
    v = validated(boxes)
    expected = greedy_oracle(iou_matrix(boxes), scores, labels, threshold)
    for backend in BACKENDS:
        keep = _nms_oriented(v, scores, labels, threshold, backend)
        assert keep.dtype == np.int64
        assert_array_equal(keep, expected)


@given(detections(), st.sampled_from(THRESHOLDS))
def test_nms_properties(dets, threshold):
    boxes, scores, labels = dets
    v = validated(boxes)
    keep = _nms_oriented(v, scores, labels, threshold, "numba")
    iou = iou_matrix(boxes)
    # by decreasing score, ties in input order
    assert all((scores[a] > scores[b]) or (scores[a] == scores[b] and a < b) for a, b in zip(keep, keep[1:]))
    # no two kept boxes of one label overlap by more than the threshold
    for a in range(len(keep)):
        for b in range(a + 1, len(keep)):
            i, j = keep[a], keep[b]
            assert labels[i] != labels[j] or iou[i, j] <= threshold
    # every dropped box is covered by a kept box of its label ranked before it
    rank = {i: (-scores[i], i) for i in range(len(scores))}
    for j in set(range(len(scores))) - set(keep.tolist()):
        assert any(labels[k] == labels[j] and rank[k] < rank[j] and iou[k, j] > threshold for k in keep)
    # idempotent
    again = _nms_oriented(v[keep], scores[keep], labels[keep], threshold, "numba")
    assert_array_equal(keep[again], keep)


@given(detections(n_labels=3), st.sampled_from(THRESHOLDS))
def test_class_aware_equals_per_label_nms(dets, threshold):
    boxes, scores, labels = dets
    v = validated(boxes)
    keep = _nms_oriented(v, scores, labels, threshold, "numba")
    parts = []
    for label in np.unique(labels):
        idx = np.flatnonzero(labels == label)
        parts.append(idx[_nms_oriented(v[idx], scores[idx], np.zeros(len(idx), np.int64), threshold, "numba")])
    merged = np.concatenate(parts) if parts else np.zeros(0, np.int64)
    merged = merged[np.lexsort((merged, -scores[merged]))]
    assert_array_equal(keep, merged)


def test_nms_hand_example():
    boxes = as_rotated_boxes([[0, 0, 4, 2, 0.0], [0, 0, 4, 2, 0.1], [0, 0, 4, 2, math.pi / 2], [10, 0, 4, 2, 0.0]])
    scores = np.array([0.9, 0.8, 0.7, 0.6])
    labels = np.zeros(4, np.int64)
    # box 1 overlaps box 0 by ~0.8; box 2 (crossed) by 1/3; box 3 is far away
    for backend in BACKENDS:
        assert _nms_oriented(boxes, scores, labels, 0.5, backend).tolist() == [0, 2, 3]
        assert _nms_oriented(boxes, scores, labels, 0.3, backend).tolist() == [0, 3]
        assert _nms_oriented(boxes, scores, np.array([0, 1, 0, 0]), 0.3, backend).tolist() == [0, 1, 3]
        assert _nms_oriented(boxes[:0], scores[:0], labels[:0], 0.5, backend).tolist() == []


def test_nms_iou_exactly_at_threshold_is_kept():
    # two 2x2 squares sharing half their area: IoU exactly 1/3 in both backends
    boxes = as_rotated_boxes([[0, 0, 2, 2, 0.0], [1, 0, 2, 2, 0.0]])
    iou = rotated_iou(boxes, boxes)[0, 1]
    for backend in BACKENDS:
        assert _nms_oriented(boxes, np.array([0.9, 0.8]), np.zeros(2, np.int64), iou, backend).tolist() == [0, 1]
        below = np.nextafter(iou, 0.0)
        assert _nms_oriented(boxes, np.array([0.9, 0.8]), np.zeros(2, np.int64), below, backend).tolist() == [0]


@pytest.mark.parametrize("kind", ["rotated", "quads"])
@given(
    data=st.data(),
    method=st.sampled_from(["gaussian", "linear"]),
    sigma=st.sampled_from([0.1, 0.5, 2.0]),
    iou_threshold=st.sampled_from([0.0, 0.3, 0.5]),
    score_threshold=st.sampled_from([0.0, 0.001, 0.3]),
)
def test_soft_nms_matches_oracle_and_backends_agree(kind, data, method, sigma, iou_threshold, score_threshold):
    boxes, scores, _ = data.draw(detections(kind))
    v = validated(boxes)
    exp_idx, exp_scores = soft_oracle(iou_matrix(boxes), scores, method, sigma, iou_threshold, score_threshold)
    results = [_soft_nms_oriented(v, scores, method, sigma, iou_threshold, score_threshold, b) for b in BACKENDS]
    for idx, new in results:
        assert idx.dtype == np.int64 and new.dtype == np.float64
        assert_array_equal(idx, exp_idx)
        assert_allclose(new, exp_scores, rtol=0, atol=1e-9)
        assert np.all(new <= scores[idx])
        assert np.all(new >= score_threshold)
        assert np.all(np.diff(new) <= 0)


def test_soft_nms_hand_example():
    boxes = as_rotated_boxes([[0, 0, 2, 2, 0.0], [1, 0, 2, 2, 0.0], [10, 0, 2, 2, 0.5]])
    scores = np.array([0.9, 0.8, 0.7])
    for backend in BACKENDS:
        idx, new = _soft_nms_oriented(boxes, scores, "linear", 0.5, 0.3, 0.001, backend)
        assert idx.tolist() == [0, 2, 1]  # box 1 decays to 0.8 * (1 - 1/3)
        assert_allclose(new, [0.9, 0.7, 0.8 * (2 / 3)], rtol=0, atol=1e-12)
        idx, new = _soft_nms_oriented(boxes, scores, "gaussian", 0.5, 0.3, 0.75, backend)
        assert idx.tolist() == [0]  # box 2 starts below 0.75, box 1 decays below it
