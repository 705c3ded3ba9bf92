"""filter_by_confidence, nms, batched_nms, soft_nms on axis-aligned boxes.

reference == kernel on hypothesis input (indices exactly, new scores bit for
bit); textbook greedy NMS and soft-NMS written out here as oracles (torchvision
is not installed in the test environment); IoU exactly at and just above the
threshold; a hand-worked 4-box soft-NMS example; one bad-input table.
Rotated and quad boxes are tested in test_rotated_nms.py.
"""

import math

import numpy as np
import pytest
from hypothesis import example, given
from hypothesis import strategies as st
from numpy.testing import assert_allclose, assert_array_equal

from detmetrics import batched_nms, convert_boxes, filter_by_confidence, nms, soft_nms
from detmetrics.strategies import SCORE_SET, nms_inputs

from _support import ArrayLike

FORMATS = ("xyxy", "xywh", "cxcywh")
BACKENDS = ("numba", "numpy")
THRESHOLDS = st.sampled_from([0.0, 0.1, 0.2, 0.25, 1 / 3, 0.5, 0.6, 2 / 3, 0.75, 0.9, 1.0])


# ---------------------------------------------------------------------------
# oracles: the textbook definitions, one pair at a time in plain Python
# ---------------------------------------------------------------------------


def _iou(a, b):
    w = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    h = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = w * h
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


def greedy_nms_oracle(boxes, scores, labels, threshold):
    """torchvision's CPU nms: stable order by decreasing score; strict > suppression."""
    order = sorted(range(len(scores)), key=lambda i: (-scores[i], i))
    keep = []
    for i in order:
        if all(labels[k] != labels[i] or _iou(boxes[k], boxes[i]) <= threshold for k in keep):
            keep.append(i)
    return keep


def soft_nms_oracle(boxes, scores, gaussian, sigma, iou_threshold, score_threshold):
    current = [float(s) for s in scores]
    alive = [i for i in range(len(scores)) if current[i] >= score_threshold]
    picked, picked_scores = [], []
    while alive:
        best = max(alive, key=lambda i: (current[i], -i))  # highest score, then lowest index
        picked.append(best)
        picked_scores.append(current[best])
        alive.remove(best)
        for j in alive:
            v = _iou(boxes[best], boxes[j])
            if gaussian:
                current[j] *= math.exp(-(v * v) / sigma)
            elif v >= iou_threshold:
                current[j] *= 1.0 - v
        alive = [j for j in alive if current[j] >= score_threshold]
    return picked, picked_scores


def _xyxy(b, box_format):
    return convert_boxes(b, box_format, "xyxy")


# ---------------------------------------------------------------------------
# nms / batched_nms
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("box_format", FORMATS)
@given(data=st.data(), threshold=THRESHOLDS)
def test_nms_backends_agree_and_equal_greedy_oracle(box_format, data, threshold):
    b, s, _ = data.draw(nms_inputs(box_format=box_format))
    fast = nms(b, s, threshold, box_format=box_format, backend="numba")
    slow = nms(b, s, threshold, box_format=box_format, backend="numpy")
    assert fast.dtype == slow.dtype == np.int64
    assert_array_equal(fast, slow)
    xyxy = _xyxy(b, box_format)
    assert fast.tolist() == greedy_nms_oracle(xyxy, s, np.zeros(len(s)), threshold)


@pytest.mark.parametrize("box_format", FORMATS)
@given(data=st.data(), threshold=THRESHOLDS)
def test_batched_nms_backends_agree_and_equal_greedy_oracle(box_format, data, threshold):
    b, s, lab = data.draw(nms_inputs(box_format=box_format, n_classes=3))
    fast = batched_nms(b, s, lab, threshold, box_format=box_format, backend="numba")
    slow = batched_nms(b, s, lab, threshold, box_format=box_format, backend="numpy")
    assert fast.dtype == slow.dtype == np.int64
    assert_array_equal(fast, slow)
    assert fast.tolist() == greedy_nms_oracle(_xyxy(b, box_format), s, lab, threshold)


def _clustered(seed, n, n_classes=1):
    """Float boxes in overlapping clusters (exercises the kernels' strip index at larger N)."""
    rng = np.random.default_rng(seed)
    centres = rng.uniform(0, 200, size=(max(1, n // 12), 2))
    c = centres[rng.integers(0, len(centres), n)] + rng.normal(0, 4, size=(n, 2))
    wh = rng.uniform(2, 30, size=(n, 2))
    boxes = np.column_stack([c - wh / 2, c + wh / 2])
    if rng.random() < 0.5:
        boxes = np.round(boxes)  # integer coordinates: exact IoU ties and duplicates
    scores = rng.choice([0.2, 0.5, 0.9], size=n) if rng.random() < 0.5 else rng.random(n)
    return boxes, scores, rng.integers(0, n_classes, n)


@given(seed=st.integers(0, 2**32 - 1), n=st.integers(50, 400), threshold=THRESHOLDS, n_classes=st.sampled_from([1, 5]))
def test_nms_kernel_equals_reference_on_larger_clustered_input(seed, n, threshold, n_classes):
    boxes, scores, labels = _clustered(seed, n, n_classes)
    assert_array_equal(batched_nms(boxes, scores, labels, threshold, backend="numba"), batched_nms(boxes, scores, labels, threshold, backend="numpy"))
    assert_array_equal(nms(boxes, scores, threshold, backend="numba"), nms(boxes, scores, threshold, backend="numpy"))


# ---------------------------------------------------------------------------
# IoU exactly at and just above the threshold (after torchvision's
# _create_tensors_with_iou): box [0, 0, b, 1] contains [0, 0, a, 1], so the
# IoU is fl(a / b), the very float that iou_threshold=a/b holds.
# ---------------------------------------------------------------------------

RATIOS = [(1, 2), (1, 3), (2, 3), (3, 4), (7, 10), (3, 10), (1, 1000)]


@pytest.mark.parametrize("a, b", RATIOS)
@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("box_format", FORMATS)
def test_nms_threshold_boundary(a, b, backend, box_format):
    threshold = a / b
    big, small = [0.0, 0.0, float(b), 1.0], [0.0, 0.0, float(a), 1.0]
    # a tiny nudge: widen the small box by one ulp -> IoU just above the threshold
    nudged = [0.0, 0.0, float(np.nextafter(float(a), np.inf)), 1.0]
    boxes = convert_boxes([big, small], "xyxy", box_format)
    assert nms(boxes, [0.9, 0.8], threshold, box_format=box_format, backend=backend).tolist() == [0, 1]  # at: kept
    boxes = convert_boxes([big, nudged], "xyxy", box_format)
    if box_format == "xyxy":  # conversions may round the one-ulp nudge away
        assert nms(boxes, [0.9, 0.8], threshold, backend=backend).tolist() == [0]  # above: suppressed
    # the same pair against a threshold one ulp below the IoU
    below = float(np.nextafter(threshold, -np.inf))
    boxes = convert_boxes([big, small], "xyxy", box_format)
    assert nms(boxes, [0.9, 0.8], below, box_format=box_format, backend=backend).tolist() == [0]
    assert batched_nms(boxes, [0.9, 0.8], [4, 4], below, box_format=box_format, backend=backend).tolist() == [0]
    assert batched_nms(boxes, [0.9, 0.8], [4, 5], below, box_format=box_format, backend=backend).tolist() == [0, 1]


@pytest.mark.parametrize("a, b", RATIOS)
@pytest.mark.parametrize("backend", BACKENDS)
def test_soft_nms_linear_threshold_boundary(a, b, backend):
    # linear decay applies from iou_threshold on (inclusive): at the threshold it decays
    iou = a / b
    boxes = [[0, 0, b, 1], [0, 0, a, 1]]
    idx, new = soft_nms(boxes, [0.9, 0.8], method="linear", iou_threshold=iou, score_threshold=0.0, backend=backend)
    assert idx.tolist() == [0, 1] and new.tolist() == [0.9, 0.8 * (1.0 - iou)]
    above = float(np.nextafter(iou, np.inf))
    idx, new = soft_nms(boxes, [0.9, 0.8], method="linear", iou_threshold=above, score_threshold=0.0, backend=backend)
    assert new.tolist() == [0.9, 0.8]


@pytest.mark.parametrize("backend", BACKENDS)
def test_nms_ties_keep_input_order(backend):
    # equal scores: the lower index ranks first and suppresses the later duplicate
    boxes = [[0, 0, 1, 1], [5, 5, 6, 6], [0, 0, 1, 1], [5, 5, 6, 6]]
    assert nms(boxes, [0.5, 0.5, 0.5, 0.5], 0.5, backend=backend).tolist() == [0, 1]
    assert nms(boxes, [0.5, 0.7, 0.5, 0.7], 0.5, backend=backend).tolist() == [1, 0]
    # threshold 0 suppresses any positive overlap; 1 suppresses nothing
    assert nms(boxes, [0.4, 0.3, 0.2, 0.1], 1.0, backend=backend).tolist() == [0, 1, 2, 3]
    touching = [[0, 0, 1, 1], [1, 0, 2, 1], [0.5, 0, 1.5, 1]]
    assert nms(touching, [0.9, 0.8, 0.7], 0.0, backend=backend).tolist() == [0, 1]
    # zero-area boxes never suppress or get suppressed (IoU 0)
    assert nms([[1, 1, 1, 1], [1, 1, 1, 1]], [0.9, 0.8], 0.0, backend=backend).tolist() == [0, 1]


# ---------------------------------------------------------------------------
# soft_nms
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("box_format", FORMATS)
@pytest.mark.parametrize("method", ["gaussian", "linear"])
@given(
    data=st.data(),
    sigma=st.sampled_from([0.05, 0.5, 1.0, 3.0]),
    iou_threshold=THRESHOLDS,
    score_threshold=st.sampled_from([0.0, 0.001, 0.1, 0.4]),
)
def test_soft_nms_backends_agree_and_equal_oracle(box_format, method, data, sigma, iou_threshold, score_threshold):
    b, s, _ = data.draw(nms_inputs(box_format=box_format))
    kwargs = dict(method=method, sigma=sigma, iou_threshold=iou_threshold, score_threshold=score_threshold, box_format=box_format)
    fi, fs = soft_nms(b, s, backend="numba", **kwargs)
    si, ss = soft_nms(b, s, backend="numpy", **kwargs)
    assert fi.dtype == si.dtype == np.int64 and fs.dtype == ss.dtype == np.float64
    assert_array_equal(fi, si)
    assert_array_equal(fs, ss)  # same arithmetic in the same order: bit for bit
    oi, os_ = soft_nms_oracle(_xyxy(b, box_format), s, method == "gaussian", sigma, iou_threshold, score_threshold)
    assert fi.tolist() == oi
    assert_allclose(fs, os_, rtol=0, atol=1e-12)


@pytest.mark.parametrize("method", ["gaussian", "linear"])
@given(seed=st.integers(0, 2**32 - 1), n=st.integers(50, 300), sigma=st.sampled_from([0.1, 0.5]))
def test_soft_nms_kernel_equals_reference_on_larger_clustered_input(method, seed, n, sigma):
    boxes, scores, _ = _clustered(seed, n)
    fi, fs = soft_nms(boxes, scores, method=method, sigma=sigma, backend="numba")
    si, ss = soft_nms(boxes, scores, method=method, sigma=sigma, backend="numpy")
    assert_array_equal(fi, si)
    assert_array_equal(fs, ss)


# Four boxes worked by hand:
#   A = [0, 0, 4, 4] score 0.9 (area 16)
#   B = [0, 0, 4, 2] score 0.8 (area 8):  IoU(A, B) = 8 / 16 = 1/2
#   C = [2, 0, 6, 4] score 0.7 (area 16): IoU(A, C) = 8 / (16 + 16 - 8) = 1/3
#                                         IoU(B, C) = 4 / (8 + 16 - 4) = 1/5
#   D = [10, 10, 12, 12] score 0.5: disjoint from all (IoU 0)
HAND_BOXES = [[0, 0, 4, 4], [0, 0, 4, 2], [2, 0, 6, 4], [10, 10, 12, 12]]
HAND_SCORES = [0.9, 0.8, 0.7, 0.5]


@pytest.mark.parametrize("backend", BACKENDS)
def test_soft_nms_linear_hand_example(backend):
    # linear, iou_threshold 0.3:
    # 1. pick A (0.9).  B: 1/2 >= 0.3 -> 0.8 * (1 - 1/2) = 0.4
    #                   C: 1/3 >= 0.3 -> 0.7 * (1 - 1/3) = 0.4667
    #                   D: IoU 0 -> 0.5
    # 2. pick D (0.5), which overlaps nothing.
    # 3. pick C (0.4667).  B: IoU 1/5 < 0.3 -> unchanged 0.4
    # 4. pick B (0.4).
    idx, new = soft_nms(HAND_BOXES, HAND_SCORES, method="linear", iou_threshold=0.3, backend=backend)
    assert idx.tolist() == [0, 3, 2, 1]
    assert_allclose(new, [0.9, 0.5, 0.7 * (2 / 3), 0.4], rtol=0, atol=1e-12)
    assert_allclose(new, [0.9, 0.5, 0.46666666666666667, 0.4], rtol=0, atol=1e-12)
    # score_threshold 0.45 drops B after step 1 (0.4 < 0.45)
    idx, new = soft_nms(HAND_BOXES, HAND_SCORES, method="linear", iou_threshold=0.3, score_threshold=0.45, backend=backend)
    assert idx.tolist() == [0, 3, 2]


@pytest.mark.parametrize("backend", BACKENDS)
def test_soft_nms_gaussian_hand_example(backend):
    # gaussian, sigma 0.5 (every remaining box decays by exp(-iou^2 / 0.5)):
    # 1. pick A (0.9).  B: 0.8 * exp(-0.25 / 0.5) = 0.8 * exp(-0.5)  = 0.485225
    #                   C: 0.7 * exp(-(1/9) / 0.5) = 0.7 * exp(-2/9) = 0.560516
    #                   D: 0.5 * exp(0) = 0.5
    # 2. pick C (0.560516).  B: 0.485225 * exp(-0.04 / 0.5) = 0.485225 * exp(-0.08) = 0.447919
    #                        D: unchanged 0.5
    # 3. pick D (0.5).
    # 4. pick B (0.447919).
    idx, new = soft_nms(HAND_BOXES, HAND_SCORES, method="gaussian", sigma=0.5, backend=backend)
    assert idx.tolist() == [0, 2, 3, 1]
    b1 = 0.8 * math.exp(-0.5)
    assert_allclose(new, [0.9, 0.7 * math.exp(-2 / 9), 0.5, b1 * math.exp(-0.08)], rtol=0, atol=1e-12)
    assert_allclose(new, [0.9, 0.560516, 0.5, 0.447919], rtol=0, atol=1e-6)


# ---------------------------------------------------------------------------
# filter_by_confidence (reference and top-k kernel, both checked against the definition)
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("backend", ["numpy", "numba"])
@given(
    scores=st.lists(st.sampled_from(SCORE_SET + (-1.0, 2.5, -0.0)), max_size=30),
    min_score=st.sampled_from([-math.inf, -1.0, 0.0, 0.3, 0.5, 1.0, 3.0]),
    max_detections=st.one_of(st.none(), st.integers(0, 35)),
)
def test_filter_by_confidence_definition(backend, scores, min_score, max_detections):
    keep = filter_by_confidence(scores, min_score, max_detections=max_detections, backend=backend)
    expected = sorted((i for i, v in enumerate(scores) if v >= min_score), key=lambda i: (-scores[i], i))
    if max_detections is not None:
        expected = expected[:max_detections]
    assert keep.dtype == np.int64
    assert keep.tolist() == expected


@given(
    scores=st.lists(st.sampled_from(SCORE_SET), min_size=0, max_size=300),
    min_score=st.sampled_from([-math.inf, 0.0, 0.5]),
    max_detections=st.one_of(st.none(), st.integers(0, 300)),
)
def test_filter_by_confidence_reference_equals_kernel(scores, min_score, max_detections):
    s = np.asarray(scores, dtype=np.float64)
    assert_array_equal(filter_by_confidence(s, min_score, max_detections=max_detections, backend="numba"),
                       filter_by_confidence(s, min_score, max_detections=max_detections, backend="numpy"))


def test_filter_by_confidence_hand():
    assert filter_by_confidence([0.2, 0.9, 0.5, 0.9], 0.5).tolist() == [1, 3, 2]  # inclusive, stable
    assert filter_by_confidence([0.2, 0.9, 0.5, 0.9], 0.5, max_detections=np.int64(1)).tolist() == [1]
    assert filter_by_confidence([0.2, 0.9], 0.5, max_detections=0).tolist() == []
    assert filter_by_confidence(np.array([3, 1, 2], dtype=np.int8), 2).tolist() == [0, 2]
    # ties at the cut: the lowest indices among equal scores survive, on both backends
    for backend in ("numpy", "numba"):
        assert filter_by_confidence([0.5, 0.9, 0.5, 0.5], 0.0, max_detections=3, backend=backend).tolist() == [1, 0, 2]


# ---------------------------------------------------------------------------
# empty input, dtypes, array-likes
# ---------------------------------------------------------------------------




@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("box_format", FORMATS)
def test_empty_inputs(backend, box_format):
    for empty_boxes in ([], np.empty((0, 4)), np.empty((0, 4), dtype=np.float32)):
        kw = dict(box_format=box_format, backend=backend)
        out = nms(empty_boxes, [], **kw)
        assert out.shape == (0,) and out.dtype == np.int64
        out = batched_nms(empty_boxes, np.empty(0), np.empty(0, dtype=np.int64), **kw)
        assert out.shape == (0,) and out.dtype == np.int64
        idx, new = soft_nms(empty_boxes, [], **kw)
        assert idx.shape == new.shape == (0,) and idx.dtype == np.int64 and new.dtype == np.float64
    out = filter_by_confidence([], 0.5)
    assert out.shape == (0,) and out.dtype == np.int64
    # everything below the score threshold: empty, typed
    idx, new = soft_nms([[0, 0, 1, 1]], [0.0001], backend=backend)
    assert idx.dtype == np.int64 and new.dtype == np.float64 and len(idx) == 0


@pytest.mark.parametrize("backend", BACKENDS)
def test_dtypes_and_array_likes(backend):
    boxes = [[0, 0, 10, 10], [1, 1, 10, 10], [20, 20, 30, 30]]
    scores = [0.9, 0.8, 0.7]
    for b, s in [
        (np.array(boxes, np.float32), np.array(scores, np.float32)),
        (np.array(boxes, np.int32), np.array([9, 8, 7], np.int64)),
        (ArrayLike(boxes), ArrayLike(scores)),
        (np.asfortranarray(np.array(boxes, np.float64)), np.array(scores)[::-1][::-1]),
    ]:
        assert nms(b, s, backend=backend).tolist() == [0, 2]
        assert batched_nms(b, s, ArrayLike([1, 1, 1]), backend=backend).tolist() == [0, 2]
        assert batched_nms(b, s, np.array([1.0, 2.0, 1.0]), backend=backend).tolist() == [0, 1, 2]
        assert soft_nms(b, s, backend=backend)[0].tolist() == [0, 2, 1]
        assert filter_by_confidence(s, 8).tolist() in ([0, 1], [])


# ---------------------------------------------------------------------------
# bad input: one table
# ---------------------------------------------------------------------------

B1 = [[0, 0, 1, 1]]
B2 = [[0, 0, 1, 1], [0, 0, 2, 2]]

BAD = [
    # nms
    (lambda: nms([[0, 0, 1]], [0.5]), ValueError, r"boxes must have shape \(N, 4\) for box_format='xyxy', \(N, 5\) \(rotated\) or \(N, 4, 2\) \(quads\); got shape \(1, 3\)"),
    (lambda: nms(np.zeros((2, 6)), [0.5, 0.5]), ValueError, r"boxes must have shape \(N, 4\).*\(2, 6\)"),
    (lambda: nms([[0, 0, 1, 1], [0, 0, 1]], [0.5, 0.5]), ValueError, "boxes could not be read as a rectangular"),  # fixed: was numpy's own message
    (lambda: nms([[], [], []], [0.1, 0.2, 0.3]), ValueError, r"boxes must have shape \(N, 4\).*\(3, 0\)"),  # fixed: was taken as empty
    (lambda: nms([[0, 0, np.nan, 1]], [0.5]), ValueError, "boxes contains NaN or infinite values"),
    (lambda: nms([[1, 0, 0, 1]], [0.5]), ValueError, "boxes has x2 < x1 at row 0"),
    (lambda: nms([[0, 0, 1, -1]], [0.5], box_format="xywh"), ValueError, "boxes has a negative width or height"),
    (lambda: nms([[0, 0, -1, 1]], [0.5], box_format="cxcywh"), ValueError, "negative width or height"),
    (lambda: nms([["0", "0", "1", "1"]], [0.5]), TypeError, "boxes must be numeric"),
    (lambda: nms(np.array([[0, 0, 1, 1]], dtype=object), np.array(["x"], dtype=object)), TypeError, "scores must be numeric; got dtype object"),
    (lambda: nms(B2, [0.5]), ValueError, "scores has length 1 but boxes has 2 rows"),
    (lambda: nms(B1, [[0.5]]), ValueError, r"scores must be 1-dimensional; got shape \(1, 1\)"),
    (lambda: nms(B1, 0.5), ValueError, r"scores must be 1-dimensional; got shape \(\)"),  # fixed: a scalar was taken as [0.5]
    (lambda: nms(B1, [np.inf]), ValueError, "scores contains NaN or infinite values"),
    (lambda: nms(B1, [0.5], 1.5), ValueError, r"iou_threshold must be in \[0, 1\]; got 1.5"),
    (lambda: nms(B1, [0.5], -0.5), ValueError, "iou_threshold must be in"),
    (lambda: nms(B1, [0.5], np.nan), ValueError, "iou_threshold must not be NaN"),
    (lambda: nms(B1, [0.5], "0.5"), TypeError, "iou_threshold must be a real number"),
    (lambda: nms(B1, [0.5], box_format="xyxy2"), ValueError, "box_format must be one of 'xyxy', 'xywh', 'cxcywh'; got 'xyxy2'"),
    (lambda: nms(B1, [0.5], backend="torch"), ValueError, "backend must be one of 'auto', 'numba', 'numpy'; got 'torch'"),
    # batched_nms
    (lambda: batched_nms(B2, [0.5, 0.4], [1]), ValueError, "labels has length 1 but boxes has 2 rows"),
    (lambda: batched_nms(B2, [0.5], [1, 2]), ValueError, "scores has length 1 but boxes has 2 rows"),
    (lambda: batched_nms(B1, [0.5], [1.5]), ValueError, "labels must hold integers"),
    (lambda: batched_nms(B1, [0.5], ["cat"]), TypeError, "labels must be numeric"),
    (lambda: batched_nms(B1, [0.5], [True]), TypeError, "labels must be numeric; got dtype bool"),
    (lambda: batched_nms(B1, [0.5], [np.nan]), ValueError, "labels contains NaN or infinite values"),
    (lambda: batched_nms(B1, [0.5], 3), ValueError, r"labels must be 1-dimensional; got shape \(\)"),
    (lambda: batched_nms(B1, [0.5], [[3]]), ValueError, "labels must be 1-dimensional"),
    (lambda: batched_nms(B1, [0.5], [1], 2.0), ValueError, "iou_threshold must be in"),
    (lambda: batched_nms(B1, [0.5], [1], backend="gpu"), ValueError, "backend must be one of"),
    (lambda: batched_nms([[0, 0, 1, 1]], [0.5], [1], box_format="yolo"), ValueError, "box_format must be one of"),
    (lambda: batched_nms([[0, 0, np.inf, 1]], [0.5], [1]), ValueError, "boxes contains NaN or infinite"),
    # soft_nms
    (lambda: soft_nms(B1, [0.5], method="hard"), ValueError, "method must be one of 'gaussian', 'linear'; got 'hard'"),
    (lambda: soft_nms(B1, [0.5], method=None), ValueError, "method must be one of"),
    (lambda: soft_nms(B1, [0.5], sigma=0), ValueError, "sigma must be finite and > 0; got 0.0"),
    (lambda: soft_nms(B1, [0.5], sigma=-1), ValueError, "sigma must be finite and > 0"),
    (lambda: soft_nms(B1, [0.5], sigma=math.inf), ValueError, "sigma must be finite"),
    (lambda: soft_nms(B1, [0.5], sigma="wide"), TypeError, "sigma must be a real number"),
    (lambda: soft_nms(B1, [0.5], iou_threshold=1.01), ValueError, "iou_threshold must be in"),
    (lambda: soft_nms(B1, [0.5], score_threshold=-0.1), ValueError, "score_threshold must be finite and >= 0"),
    (lambda: soft_nms(B1, [0.5], score_threshold=np.nan), ValueError, "score_threshold must not be NaN"),
    (lambda: soft_nms(B2, [0.5]), ValueError, "scores has length 1 but boxes has 2 rows"),
    (lambda: soft_nms([[0, 0, 1]], [0.5]), ValueError, r"boxes must have shape \(N, 4\)"),
    (lambda: soft_nms([[0, 1, 1, 0]], [0.5]), ValueError, "boxes has y2 < y1 at row 0"),
    (lambda: soft_nms(B1, [np.nan]), ValueError, "scores contains NaN"),
    (lambda: soft_nms(B1, [0.5], box_format="XYXY"), ValueError, "box_format must be one of"),
    (lambda: soft_nms(B1, [0.5], backend="fast"), ValueError, "backend must be one of"),
    # filter_by_confidence
    (lambda: filter_by_confidence([[0.5]], 0.1), ValueError, r"scores must be 1-dimensional; got shape \(1, 1\)"),
    (lambda: filter_by_confidence(0.5, 0.1), ValueError, r"scores must be 1-dimensional; got shape \(\)"),
    (lambda: filter_by_confidence([0.5, np.nan], 0.1), ValueError, "scores contains NaN"),
    (lambda: filter_by_confidence(["a"], 0.1), TypeError, "scores must be numeric"),
    (lambda: filter_by_confidence([0.5], np.nan), ValueError, "min_score must not be NaN"),
    (lambda: filter_by_confidence([0.5], None), TypeError, "min_score must be a real number"),
    (lambda: filter_by_confidence([0.5], 0.1, max_detections=-1), ValueError, "max_detections must be >= 0; got -1"),
    (lambda: filter_by_confidence([0.5], 0.1, max_detections=2.0), TypeError, "max_detections must be a non-negative int or None; got 2.0"),
    (lambda: filter_by_confidence([0.5], 0.1, max_detections=True), TypeError, "max_detections must be a non-negative int"),
    (lambda: filter_by_confidence([0.5], 0.1, max_detections="10"), TypeError, "max_detections must be a non-negative int"),
    (lambda: filter_by_confidence([0.5], 0.1, backend="cuda"), ValueError, "backend must be one of"),
]


@pytest.mark.parametrize("call, exception, match", BAD)
def test_bad_input(call, exception, match):
    with pytest.raises(exception, match=match):
        call()


@given(nms_inputs(min_size=1, max_size=8))
@example((np.zeros((3, 0)), np.zeros(3), np.zeros(3, dtype=np.int64)))
def test_wrong_widths_are_never_taken_as_empty(inputs):
    b, s, lab = inputs
    cut = b[:, :2] if b.shape[1] == 4 else b
    with pytest.raises(ValueError, match=r"boxes must have shape \(N, 4\)"):
        nms(cut, s)
    with pytest.raises(ValueError, match=r"boxes must have shape \(N, 4\)"):
        batched_nms(cut, s, lab)
