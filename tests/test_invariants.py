"""Invariants of the public IoU and NMS functions, in one registry.

``INVARIANTS`` maps every public IoU / post-processing name to the checks it
must pass; ``test_registry_is_complete`` fails when a new public IoU or NMS
function appears in ``detmetrics.__all__`` without an entry (after
scikit-learn's ``sklearn/metrics/tests/test_common.py``).  Each check draws
its own data and backend, so both backends are covered.

Axis-aligned boxes sit on an integer grid and are shifted by integers and
scaled by powers of two, so their invariants hold exactly; rotated boxes and
quads go through sines and cosines and are compared at 1e-9.
"""

import functools

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from numpy.testing import assert_allclose, assert_array_equal

import detmetrics
from detmetrics import (
    batched_nms,
    box_iou,
    complete_box_iou,
    distance_box_iou,
    filter_by_confidence,
    generalized_box_iou,
    nms,
    polygon_iou,
    rotated_iou,
    soft_nms,
)
from detmetrics.strategies import SCORE_SET, boxes, labels, quads, rotated_boxes, scores

BACKENDS = st.sampled_from(["numba", "numpy"])
THRESHOLDS = st.sampled_from([0.0, 0.1, 0.3, 0.5, 0.7, 1.0])
SHIFTS = st.integers(-1000, 1000)
SCALES = st.sampled_from([0.25, 0.5, 2.0, 8.0, 1024.0])


# ---------------------------------------------------------------------------
# geometry kinds: how to draw, translate and scale each kind of box
# ---------------------------------------------------------------------------


class Kind:
    def __init__(self, name, draw, translate, scale, exact, iou):
        self.name, self.draw, self.translate, self.scale, self.exact, self.iou = name, draw, translate, scale, exact, iou


AXIS = Kind(
    "xyxy",
    lambda data, **kw: data.draw(boxes(max_size=kw.get("max_size", 15), allow_zero_area=kw.get("allow_zero_area", True))),
    lambda b, dx, dy: b + np.array([dx, dy, dx, dy], dtype=np.float64),
    lambda b, f: b * f,
    True,
    box_iou,
)
ROTATED = Kind(
    "rotated",
    lambda data, **kw: data.draw(rotated_boxes(max_size=kw.get("max_size", 10), allow_zero_area=kw.get("allow_zero_area", True))),
    lambda b, dx, dy: b + np.array([dx, dy, 0, 0, 0], dtype=np.float64),
    lambda b, f: b * np.array([f, f, f, f, 1.0]),
    False,
    rotated_iou,
)
QUAD = Kind(
    "quad",
    lambda data, **kw: data.draw(quads(max_size=kw.get("max_size", 10), allow_zero_area=kw.get("allow_zero_area", True))),
    lambda b, dx, dy: b + np.array([dx, dy], dtype=np.float64),
    lambda b, f: b * f,
    False,
    polygon_iou,
)


def _equal(kind, a, b, atol=1e-9):
    if kind.exact:
        assert_array_equal(a, b)
    else:
        assert_allclose(a, b, rtol=0, atol=atol)


# ---------------------------------------------------------------------------
# IoU checks: spec = (function, kind, value range)
# ---------------------------------------------------------------------------


class IouSpec:
    def __init__(self, fn, kind, low=0.0, high=1.0):
        self.fn, self.kind, self.low, self.high = fn, kind, low, high


def iou_symmetric(spec, data):
    k = spec.kind
    a, b = k.draw(data), k.draw(data)
    backend = data.draw(BACKENDS)
    _equal(k, spec.fn(a, b, backend=backend), spec.fn(b, a, backend=backend).T)


def iou_in_range(spec, data):
    k = spec.kind
    a, b = k.draw(data), k.draw(data)
    out = spec.fn(a, b, backend=data.draw(BACKENDS))
    assert out.shape == (len(a), len(b)) and out.dtype == np.float64
    assert np.isfinite(out).all()
    tol = 0.0 if k.exact else 1e-12
    assert (out >= spec.low - tol).all() and (out <= spec.high + tol).all()


def iou_self_is_one(spec, data):
    k = spec.kind
    a = k.draw(data, allow_zero_area=False)
    out = spec.fn(a, a, backend=data.draw(BACKENDS))
    _equal(k, np.diag(out), np.ones(len(a)))


def iou_translation_invariant(spec, data):
    k = spec.kind
    a, b = k.draw(data), k.draw(data)
    dx, dy = data.draw(SHIFTS), data.draw(SHIFTS)
    backend = data.draw(BACKENDS)
    _equal(k, spec.fn(k.translate(a, dx, dy), k.translate(b, dx, dy), backend=backend), spec.fn(a, b, backend=backend))


def iou_scale_invariant(spec, data):
    # a power-of-two factor scales every intermediate exactly: exact for every kind
    k = spec.kind
    a, b = k.draw(data), k.draw(data)
    f = data.draw(SCALES)
    backend = data.draw(BACKENDS)
    assert_array_equal(spec.fn(k.scale(a, f), k.scale(b, f), backend=backend), spec.fn(a, b, backend=backend))


IOU_CHECKS = [iou_symmetric, iou_in_range, iou_self_is_one, iou_translation_invariant, iou_scale_invariant]


# ---------------------------------------------------------------------------
# NMS checks
# ---------------------------------------------------------------------------


def _detections(data, kind=None, n_classes=1):
    kind = kind or data.draw(st.sampled_from([AXIS, AXIS, ROTATED]))
    b = kind.draw(data, max_size=25)
    n = len(b)
    return kind, b, data.draw(scores(n)), data.draw(labels(n, n_classes=n_classes))


def _rank(s):
    order = np.argsort(-s, kind="stable")
    rank = np.empty(len(s), dtype=np.int64)
    rank[order] = np.arange(len(s))
    return rank


def _check_greedy_result(kind, b, s, lab, keep, thr):
    """Subset, by decreasing score (stable); kept pairs <= thr; every dropped box covered."""
    assert keep.dtype == np.int64 and len(set(keep.tolist())) == len(keep)
    assert ((keep >= 0) & (keep < len(s))).all()
    rank = _rank(s)
    assert (np.diff(rank[keep]) > 0).all()  # decreasing score, equal scores in input order
    iou = kind.iou(b, b)
    same = lab[:, None] == lab[None, :]
    kept = np.zeros(len(s), dtype=bool)
    kept[keep] = True
    sub = (iou > thr) & same
    assert not sub[np.ix_(keep, keep)][~np.eye(len(keep), dtype=bool)].any()
    for j in np.flatnonzero(~kept):
        assert any(sub[k, j] and rank[k] < rank[j] for k in keep), f"box {j} dropped without a cause"


def nms_greedy_properties(data):
    kind, b, s, _ = _detections(data)
    thr = data.draw(THRESHOLDS)
    keep = nms(b, s, thr, backend=data.draw(BACKENDS))
    _check_greedy_result(kind, b, s, np.zeros(len(s), dtype=np.int64), keep, thr)


def nms_idempotent(data):
    _, b, s, _ = _detections(data)
    thr, backend = data.draw(THRESHOLDS), data.draw(BACKENDS)
    keep = nms(b, s, thr, backend=backend)
    again = nms(b[keep], s[keep], thr, backend=backend)
    assert_array_equal(again, np.arange(len(keep)))


def batched_greedy_properties(data):
    kind, b, s, lab = _detections(data, n_classes=3)
    thr = data.draw(THRESHOLDS)
    keep = batched_nms(b, s, lab, thr, backend=data.draw(BACKENDS))
    _check_greedy_result(kind, b, s, lab, keep, thr)


def batched_equals_per_label_nms(data):
    _, b, s, lab = _detections(data, n_classes=3)
    thr, backend = data.draw(THRESHOLDS), data.draw(BACKENDS)
    merged = []
    for c in np.unique(lab):
        members = np.flatnonzero(lab == c)
        merged.extend(members[nms(b[members], s[members], thr, backend=backend)].tolist())
    merged = np.array(merged, dtype=np.int64)
    merged = merged[np.lexsort((merged, -s[merged]))] if len(merged) else merged  # by score, ties by index
    assert_array_equal(batched_nms(b, s, lab, thr, backend=backend), merged)


def batched_idempotent(data):
    _, b, s, lab = _detections(data, n_classes=3)
    thr, backend = data.draw(THRESHOLDS), data.draw(BACKENDS)
    keep = batched_nms(b, s, lab, thr, backend=backend)
    assert_array_equal(batched_nms(b[keep], s[keep], lab[keep], thr, backend=backend), np.arange(len(keep)))


def _soft(data):
    kind, b, s, _ = _detections(data)
    kwargs = dict(
        method=data.draw(st.sampled_from(["gaussian", "linear"])),
        sigma=data.draw(st.sampled_from([0.1, 0.5, 2.0])),
        iou_threshold=data.draw(THRESHOLDS),
        score_threshold=data.draw(st.sampled_from([0.0, 0.001, 0.2])),
        backend=data.draw(BACKENDS),
    )
    idx, new = soft_nms(b, s, **kwargs)
    return kind, b, s, kwargs, idx, new


def soft_scores_non_increasing_and_decayed(data):
    _, _, s, kw, idx, new = _soft(data)
    assert idx.dtype == np.int64 and new.dtype == np.float64 and idx.shape == new.shape
    assert len(set(idx.tolist())) == len(idx)
    assert (np.diff(new) <= 0).all()
    assert (new <= s[idx]).all()
    assert (new >= kw["score_threshold"]).all()


def soft_isolated_boxes_keep_their_score(data):
    # a box overlapping no other box (IoU 0 with all) is never decayed or dropped
    kind, b, s, kw, idx, new = _soft(data)
    iou = kind.iou(b, b)
    np.fill_diagonal(iou, 0.0)
    isolated = np.flatnonzero((iou == 0).all(axis=1) & (s >= kw["score_threshold"]))
    got = dict(zip(idx.tolist(), new.tolist()))
    for i in isolated:
        assert got[i] == s[i]


def soft_linear_at_one_drops_exactly_the_duplicates(data):
    # Every distinct positive-area box twice: a box has IoU 1 with its twin and
    # < 1 with the others.  Linear soft-NMS with iou_threshold=1 decays only
    # IoU-1 pairs, to 0, below score_threshold: it drops exactly the later twin,
    # as greedy nms does with a threshold one ulp under 1.
    b = AXIS.draw(data, max_size=20, allow_zero_area=False)
    b = b[np.unique(b, axis=0, return_index=True)[1]]
    b = np.concatenate([b, b])
    s = data.draw(scores(len(b)))
    backend = data.draw(BACKENDS)
    idx, new = soft_nms(b, s, method="linear", iou_threshold=1.0, score_threshold=min(SCORE_SET), backend=backend)
    keep = nms(b, s, float(np.nextafter(1.0, 0.0)), backend=backend)
    assert sorted(idx.tolist()) == sorted(keep.tolist())
    assert_array_equal(new, np.sort(s[keep])[::-1])


def filter_subset_by_score(data):
    s = np.array(data.draw(st.lists(st.sampled_from(SCORE_SET), max_size=30)), dtype=np.float64)
    m = data.draw(st.sampled_from([0.0, 0.3, 0.5, 0.95]))
    keep = filter_by_confidence(s, m)
    assert (s[keep] >= m).all() and (s[np.setdiff1d(np.arange(len(s)), keep)] < m).all()
    assert (np.diff(_rank(s)[keep]) > 0).all()


def filter_max_detections_is_a_prefix(data):
    s = np.array(data.draw(st.lists(st.sampled_from(SCORE_SET), max_size=30)), dtype=np.float64)
    m = data.draw(st.sampled_from([0.0, 0.5]))
    k = data.draw(st.integers(0, 35))
    full = filter_by_confidence(s, m)
    assert_array_equal(filter_by_confidence(s, m, max_detections=k), full[:k])


# ---------------------------------------------------------------------------
# the registry
# ---------------------------------------------------------------------------

IOU_SPECS = {
    "box_iou": IouSpec(box_iou, AXIS),
    "generalized_box_iou": IouSpec(generalized_box_iou, AXIS, -1.0, 1.0),
    # eps=0: with torchvision's eps the distance term is not exactly scale invariant
    "distance_box_iou": IouSpec(functools.partial(distance_box_iou, eps=0.0), AXIS, -1.0, 1.0),
    # CIoU >= -1.5: diou >= -1 and alpha * v = v**2 / (1 - iou + v) <= 1/2 with v <= 1
    "complete_box_iou": IouSpec(functools.partial(complete_box_iou, eps=0.0), AXIS, -1.5, 1.0),
    "rotated_iou": IouSpec(rotated_iou, ROTATED),
    "polygon_iou": IouSpec(polygon_iou, QUAD),
}

INVARIANTS = {name: [functools.partial(check, spec) for check in IOU_CHECKS] for name, spec in IOU_SPECS.items()}
INVARIANTS.update(
    {
        "nms": [nms_greedy_properties, nms_idempotent],
        "batched_nms": [batched_greedy_properties, batched_equals_per_label_nms, batched_idempotent],
        "soft_nms": [soft_scores_non_increasing_and_decayed, soft_isolated_boxes_keep_their_score, soft_linear_at_one_drops_exactly_the_duplicates],
        "filter_by_confidence": [filter_subset_by_score, filter_max_detections_is_a_prefix],
    }
)


def _check_name(check):
    return check.func.__name__ if isinstance(check, functools.partial) else check.__name__


CASES = [pytest.param(check, id=f"{name}-{_check_name(check)}") for name, checks in INVARIANTS.items() for check in checks]


def _family_names():
    """Public IoU / NMS names: everything exported from iou.py and postprocess.py, and every *_iou / *nms*."""
    exports = detmetrics._EXPORTS
    return {
        name
        for name in detmetrics.__all__
        if exports.get(name) in ("iou", "postprocess") or name.endswith("_iou") or "nms" in name
    }


def test_registry_is_complete():
    missing = _family_names() - set(INVARIANTS)
    assert not missing, f"public IoU/NMS functions without invariants in INVARIANTS: {sorted(missing)}"
    assert all(INVARIANTS[name] for name in INVARIANTS)
    assert set(INVARIANTS) <= set(detmetrics.__all__)


@pytest.mark.parametrize("check", CASES)
@given(data=st.data())
def test_invariant(check, data):
    check(data)
