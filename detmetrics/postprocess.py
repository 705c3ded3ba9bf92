"""Post-processing: confidence filtering, greedy NMS, class-aware (batched) NMS, soft-NMS.

Semantics (torchvision's CPU kernel for ``nms``; Bodla et al. 2017 for ``soft_nms``):

* Boxes are ranked by a stable sort on decreasing score: equal scores keep
  their input order.
* Greedy NMS suppresses a box when its IoU with an already kept box is
  ``> iou_threshold`` (strict).  IoU is ``inter / (area1 + area2 - inter)``
  with areas ``(x2 - x1) * (y2 - y1)`` and no +1 pixel; a union of 0 gives 0.
* ``batched_nms`` never lets boxes of different labels suppress each other.
  It is computed exactly, per label, not with the usual coordinate-offset
  trick (adding ``label * max_coordinate`` to every box rounds the
  coordinates and can change IoUs near the threshold).
* ``(N, 5)`` boxes are rotated ``(cx, cy, w, h, angle)`` and ``(N, 4, 2)``
  boxes are convex quadrilaterals; both use exact polygon IoU
  (``detmetrics.rotated``) with the same ranking and suppression rules.

The Numba kernels visit, for each kept box, only boxes that can overlap it:
boxes are bucketed in horizontal strips (by ``y1`` rank), each strip sorted by
``x1``; strips whose y-extent misses the box are skipped, and inside a strip a
running maximum of ``x2`` bounds, by binary search, the first box that can
reach past ``x1_i``; the scan stops at the first ``x1_j >= x2_i``.  Only comparisons
decide the window (no arithmetic, so no rounding).  A pair outside it has
intersection 0, hence IoU 0, which never exceeds a threshold ``>= 0`` and
gives a gaussian decay factor of exactly ``exp(0) = 1``: the pruning changes
no result, bit for bit.
"""

from __future__ import annotations

import math
import numbers

import numpy as np

from ._backend import kernel, resolve_backend
from ._validate import MAX_COUNT, as_any_boxes, as_labels, as_scores, check_choice, check_positive, check_threshold

__all__ = ["filter_by_confidence", "nms", "batched_nms", "soft_nms"]


# ---------------------------------------------------------------------------
# shared input handling
# ---------------------------------------------------------------------------


def _check_max_detections(max_detections):
    if max_detections is None:
        return None
    if isinstance(max_detections, (bool, np.bool_)) or not isinstance(max_detections, (numbers.Integral, np.integer)):
        raise TypeError(f"max_detections must be a non-negative int or None; got {max_detections!r}")
    if max_detections < 0:
        raise ValueError(f"max_detections must be >= 0; got {max_detections}")
    if max_detections > MAX_COUNT:
        raise ValueError(f"max_detections must be <= 2**62 (a larger budget keeps every box anyway); "
                         f"got {max_detections}")
    return int(max_detections)


# ---------------------------------------------------------------------------
# filter_by_confidence
# ---------------------------------------------------------------------------


def filter_by_confidence(scores, min_score, *, max_detections=None, backend="auto") -> np.ndarray:
    """Indices of the detections with ``score >= min_score``, by decreasing score.

    Parameters
    ----------
    scores : array-like of shape (N,)
        Confidence scores (any finite float; not restricted to [0, 1]).
    min_score : float
        Keep scores ``>= min_score`` (inclusive).
    max_detections : int, optional
        Keep at most this many (the highest scoring); ``None`` keeps all.
    backend : {"auto", "numba", "numpy"}
        The Numba kernel selects the top ``max_detections`` in linear time
        before sorting only those (a YOLO head's 8400 x 80 scores cut to 300);
        the NumPy reference sorts every candidate.  Both give the same indices.

    Returns
    -------
    keep : ndarray of shape (K,), int64
        Indices into ``scores``, by decreasing score; equal scores keep the
        lower index first (stable sort).  Empty input gives an empty array.

    Examples
    --------
    >>> from detmetrics import filter_by_confidence
    >>> filter_by_confidence([0.2, 0.9, 0.5, 0.9], 0.5).tolist()
    [1, 3, 2]
    >>> filter_by_confidence([0.2, 0.9, 0.5, 0.9], 0.5, max_detections=2).tolist()
    [1, 3]
    >>> filter_by_confidence([], 0.5).tolist()
    []
    """
    s = as_scores(scores, "scores")
    min_score = float(check_threshold(min_score, "min_score", low=-math.inf, high=math.inf))
    limit = _check_max_detections(max_detections)
    # "auto": the reference sorts ~20 scores per microsecond (see _backend.AUTO_WORK)
    if resolve_backend(backend, s.shape[0] // 20, (_filter_by_confidence_kernel,)) == "numba":
        return _filter_by_confidence_kernel(s, min_score, -1 if limit is None else min(limit, s.shape[0]))
    keep = _filter_by_confidence_reference(s, min_score)
    return keep if limit is None else keep[:limit]


def _filter_by_confidence_reference(scores, min_score):
    candidates = np.flatnonzero(scores >= min_score)
    order = np.argsort(-scores[candidates], kind="stable")
    return candidates[order].astype(np.int64)


@kernel
def _sort_desc_kernel(idx, lo, hi, score, buf):
    # Stable sort of idx[lo:hi] by decreasing score[idx[.]], written out instead of
    # np.argsort(kind="mergesort") (numba's generic merge sort costs ~1.5 s of compilation per
    # process, measured with benchmarks/bench_startup.py --compile).  The keys are copied next
    # to the indices so that the comparisons read memory sequentially: insertion sort of runs
    # of 32, then bottom-up merges through buf (>= hi - lo entries).  One copy per module that
    # uses it: numba's cache does not see edits to helpers in other files.
    n = hi - lo
    keys = np.empty(2 * n, dtype=np.float64)  # keys[:n] the keys, keys[n:] the merge buffer
    for i in range(n):
        keys[i] = score[idx[lo + i]]
    run = 32
    for s0 in range(0, n, run):
        s1 = min(s0 + run, n)
        for i in range(s0 + 1, s1):
            v = idx[lo + i]
            kv = keys[i]
            j = i - 1
            while j >= s0 and keys[j] < kv:
                idx[lo + j + 1] = idx[lo + j]
                keys[j + 1] = keys[j]
                j -= 1
            idx[lo + j + 1] = v
            keys[j + 1] = kv
    width = run
    while width < n:
        for s0 in range(0, n, 2 * width):
            mid = min(s0 + width, n)
            s1 = min(s0 + 2 * width, n)
            if mid >= s1 or keys[mid - 1] >= keys[mid]:
                continue  # nothing to merge, or already in order
            n_left = mid - s0
            for i in range(n_left):
                buf[i] = idx[lo + s0 + i]
                keys[n + i] = keys[s0 + i]
            i = 0
            j = mid
            k = s0
            while i < n_left and j < s1:
                if keys[j] > keys[n + i]:  # ties keep the left (earlier) entry first
                    idx[lo + k] = idx[lo + j]
                    keys[k] = keys[j]
                    j += 1
                else:
                    idx[lo + k] = buf[i]
                    keys[k] = keys[n + i]
                    i += 1
                k += 1
            while i < n_left:
                idx[lo + k] = buf[i]
                keys[k] = keys[n + i]
                i += 1
                k += 1
        width *= 2


@kernel
def _filter_by_confidence_kernel(scores, min_score, limit):
    """``limit < 0``: no limit.  The first ``limit`` of the stable order are
    every candidate scoring above the ``limit``-th largest score ``kth`` plus
    the lowest-index candidates scoring exactly ``kth``; select those with one
    partition, then stable-sort only them."""
    n = scores.shape[0]
    if limit == 0:
        return np.empty(0, dtype=np.int64)
    count = 0
    for i in range(n):
        if scores[i] >= min_score:
            count += 1
    candidates = np.empty(count, dtype=np.int64)
    k = 0
    for i in range(n):
        if scores[i] >= min_score:
            candidates[k] = i
            k += 1
    if 0 <= limit < count:
        values = np.empty(count, dtype=np.float64)
        for j in range(count):
            values[j] = scores[candidates[j]]
        kth = np.partition(values, count - limit)[count - limit]
        above = 0
        for j in range(count):
            if values[j] > kth:
                above += 1
        ties_left = limit - above
        chosen = np.empty(limit, dtype=np.int64)
        m = 0
        for j in range(count):
            if values[j] > kth:
                chosen[m] = candidates[j]
                m += 1
            elif values[j] == kth and ties_left > 0:
                ties_left -= 1
                chosen[m] = candidates[j]
                m += 1
        candidates = chosen
    # candidates are in index order: a stable sort by decreasing score is the result
    _sort_desc_kernel(candidates, 0, candidates.shape[0], scores, np.empty(candidates.shape[0], dtype=np.int64))
    return candidates


# ---------------------------------------------------------------------------
# nms and batched_nms
# ---------------------------------------------------------------------------


def nms(boxes, scores, iou_threshold=0.5, *, box_format="xyxy", backend="auto") -> np.ndarray:
    """Greedy non-maximum suppression (torchvision semantics).

    Boxes are visited by decreasing score (stable: equal scores in input
    order); each box not yet suppressed is kept and suppresses every later box
    whose IoU with it is ``> iou_threshold`` (strict: IoU exactly at the
    threshold survives).

    Parameters
    ----------
    boxes : array-like of shape (N, 4), (N, 5) or (N, 4, 2)
        Axis-aligned boxes in ``box_format``; ``(N, 5)`` are rotated
        ``(cx, cy, w, h, angle)``; ``(N, 4, 2)`` are convex quadrilaterals.
    scores : array-like of shape (N,)
        Confidence scores.
    iou_threshold : float in [0, 1], default=0.5
        ``0`` suppresses every box that overlaps a kept one with positive area;
        ``1`` suppresses nothing.
    box_format : {"xyxy", "xywh", "cxcywh"}, default="xyxy"
        Format of axis-aligned boxes (ignored for rotated boxes and quads).
    backend : {"auto", "numba", "numpy"}, default="auto"

    Returns
    -------
    keep : ndarray of shape (K,), int64
        Indices of kept boxes by decreasing score.  Empty input gives ``[]``.

    Examples
    --------
    >>> import numpy as np
    >>> from detmetrics import nms
    >>> nms([[0, 0, 10, 10], [1, 1, 10, 10], [20, 20, 30, 30]], [0.9, 0.8, 0.7]).tolist()
    [0, 2]
    >>> nms(np.empty((0, 4)), np.empty(0)).tolist()
    []
    """
    b, kind = as_any_boxes(boxes, "boxes", box_format=box_format)
    s = as_scores(scores, "scores", length=b.shape[0])
    thr = check_threshold(iou_threshold, "iou_threshold")
    labels = np.zeros(b.shape[0], dtype=np.int64)
    return _dispatch_nms(b, s, labels, thr, kind, backend)


def batched_nms(boxes, scores, labels, iou_threshold=0.5, *, box_format="xyxy", backend="auto") -> np.ndarray:
    """Class-aware NMS: boxes with different labels never suppress each other.

    The result equals running ``nms`` separately on each label's boxes and
    merging the kept indices by decreasing score (stable, so equal scores keep
    input order).  Computed exactly, without the coordinate-offset trick.

    Parameters
    ----------
    boxes : array-like of shape (N, 4), (N, 5) or (N, 4, 2)
        As in ``nms``.
    scores : array-like of shape (N,)
    labels : array-like of shape (N,), integers
        Class of each box (any integers, negative allowed).
    iou_threshold : float in [0, 1], default=0.5
    box_format, backend
        As in ``nms``.

    Returns
    -------
    keep : ndarray of shape (K,), int64
        Indices of kept boxes by decreasing score.

    Examples
    --------
    >>> from detmetrics import batched_nms
    >>> boxes = [[0, 0, 10, 10], [1, 1, 10, 10], [0, 0, 10, 10]]
    >>> batched_nms(boxes, [0.9, 0.8, 0.7], [0, 0, 1]).tolist()
    [0, 2]
    """
    b, kind = as_any_boxes(boxes, "boxes", box_format=box_format)
    s = as_scores(scores, "scores", length=b.shape[0])
    lab = as_labels(labels, "labels", length=b.shape[0])
    thr = check_threshold(iou_threshold, "iou_threshold")
    return _dispatch_nms(b, s, lab, thr, kind, backend)


def _dispatch_nms(boxes, scores, labels, iou_threshold, kind, backend):
    """Greedy (class-aware) NMS on validated boxes of any kind: the kernel per geometry, or the one reference."""
    order = np.argsort(-scores, kind="stable").astype(np.int64)
    n = order.shape[0]
    if kind != "axis":
        from .rotated import _CLIP_CAPACITY, _nms_oriented_kernel, _polygon_iou_row_reference, _polygon_setup

        # "auto": the reference spends ~2 us per pair of polygons (see _backend.AUTO_WORK)
        backend = resolve_backend(backend, 2 * n * n, (_nms_oriented_kernel,))
        polys, bounds, area = _polygon_setup(boxes)
        if backend == "numba":
            keep = np.empty(order.shape[0], dtype=np.int64)
            suppressed = np.zeros(order.shape[0], dtype=np.uint8)
            count = _nms_oriented_kernel(polys, bounds, area, order, labels, iou_threshold, suppressed, keep,
                                         _CLIP_CAPACITY)
            return keep[:count].copy()
        iou_row = _polygon_iou_row_reference(polys, bounds, area)
    else:
        # "auto": the reference spends ~25 us per box (measured, N = 100..1000)
        backend = resolve_backend(backend, 25 * n, (_nms_kernel,))
        if backend == "numba":
            index = _spatial_index(boxes, labels)
            keep = np.empty(order.shape[0], dtype=np.int64)
            count = _nms_kernel(boxes, order, *index, iou_threshold, keep)
            return keep[:count].copy()

        def iou_row(i, others):
            return _iou_row_reference(boxes, i, others)

    return _greedy_nms_reference(order, labels, iou_row, iou_threshold)


def _greedy_nms_reference(order, labels, iou_row, iou_threshold):
    """Greedy NMS for every geometry: ``iou_row(i, others)`` is box ``i``'s IoU with the boxes ``others``.

    Boxes are visited in ``order``; a box not yet suppressed is kept and
    suppresses the later boxes of its label whose IoU with it is ``> iou_threshold``.
    """
    suppressed = np.zeros(order.shape[0], dtype=bool)
    keep = []
    for rank, i in enumerate(order):
        if suppressed[i]:
            continue
        keep.append(i)
        later = order[rank + 1 :]
        later = later[~suppressed[later] & (labels[later] == labels[i])]
        suppressed[later[iou_row(i, later) > iou_threshold]] = True
    return np.array(keep, dtype=np.int64)


def _iou_row_reference(boxes, i, others):
    """IoU of box ``i`` with the boxes ``others`` (index array), kernel arithmetic."""
    b = boxes[others]
    w = np.maximum(np.minimum(boxes[i, 2], b[:, 2]) - np.maximum(boxes[i, 0], b[:, 0]), 0.0)
    h = np.maximum(np.minimum(boxes[i, 3], b[:, 3]) - np.maximum(boxes[i, 1], b[:, 1]), 0.0)
    inter = w * h
    area_i = (boxes[i, 2] - boxes[i, 0]) * (boxes[i, 3] - boxes[i, 1])
    area = (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])
    union = (area_i + area) - inter
    return np.divide(inter, union, out=np.zeros_like(inter), where=union > 0.0)


def _spatial_index(boxes, labels):
    """Bucket boxes for the kernels' overlap search; only comparisons, never arithmetic.

    Boxes are split into horizontal strips of about equal count by their ``y1``
    rank, and ordered by ``(label, strip, x1)`` (stable).  A *segment* is a run
    of one label and one strip.  For segment ``g``, positions
    ``seg_lo[g]:seg_hi[g]`` of ``by_x`` hold its boxes by increasing ``x1``;
    ``seg_min_y1[g]`` / ``seg_max_y2[g]`` bound its y-extent; ``reach[p]`` is the
    running maximum of ``x2`` inside the segment (non-decreasing).  Box ``i``'s
    label owns segments ``first_segment[i]:last_segment[i]``.

    A box can only overlap box ``i`` if its segment's y-extent meets
    ``(y1_i, y2_i)``, its reach passes ``x1_i`` and its ``x1`` is below ``x2_i``;
    every other pair has intersection 0.
    """
    n = boxes.shape[0]
    if n == 0:
        empty_i, empty_f = np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float64)
        return empty_i, empty_i, empty_i, empty_f, empty_f, empty_f, empty_i, empty_i
    n_strips = max(1, min(256, int(np.sqrt(n) / 2)))
    strip = np.empty(n, dtype=np.int64)
    strip[np.argsort(boxes[:, 1], kind="stable")] = (np.arange(n) * n_strips) // max(n, 1)
    by_x = np.lexsort((boxes[:, 0], strip, labels)).astype(np.int64)
    key_label = labels[by_x]
    key_strip = strip[by_x]
    new_segment = np.ones(n, dtype=bool)
    new_segment[1:] = (key_label[1:] != key_label[:-1]) | (key_strip[1:] != key_strip[:-1])
    seg_lo = np.flatnonzero(new_segment).astype(np.int64)
    seg_hi = np.append(seg_lo[1:], n).astype(np.int64)
    seg_min_y1 = np.minimum.reduceat(boxes[by_x, 1], seg_lo)
    seg_max_y2 = np.maximum.reduceat(boxes[by_x, 3], seg_lo)
    reach = np.ascontiguousarray(boxes[by_x, 2])
    _running_max_by_segment(reach, seg_lo, seg_hi)
    # segment range of each box's label
    seg_label = key_label[seg_lo]
    new_label = np.ones(seg_lo.shape[0], dtype=bool)
    new_label[1:] = seg_label[1:] != seg_label[:-1]
    label_first = np.flatnonzero(new_label)
    label_last = np.append(label_first[1:], seg_lo.shape[0])
    first_segment = np.empty(n, dtype=np.int64)
    last_segment = np.empty(n, dtype=np.int64)
    boxes_per_label = seg_hi[label_last - 1] - seg_lo[label_first]
    first_segment[by_x] = np.repeat(label_first, boxes_per_label)
    last_segment[by_x] = np.repeat(label_last, boxes_per_label)
    return (
        by_x,
        seg_lo,
        seg_hi,
        np.ascontiguousarray(seg_min_y1, dtype=np.float64),
        np.ascontiguousarray(seg_max_y2, dtype=np.float64),
        reach,
        first_segment,
        last_segment,
    )


@kernel
def _running_max_by_segment(values, seg_lo, seg_hi):
    """In place: values[p] = max(values[seg_lo[g]..p]) within each segment g."""
    for g in range(seg_lo.shape[0]):
        for p in range(seg_lo[g] + 1, seg_hi[g]):
            if values[p - 1] > values[p]:
                values[p] = values[p - 1]


@kernel
def _first_reaching(reach, lo, hi, x):
    """First position p in [lo, hi) with reach[p] > x (binary search; reach is non-decreasing)."""
    while lo < hi:
        mid = (lo + hi) // 2
        if reach[mid] <= x:
            lo = mid + 1
        else:
            hi = mid
    return lo


@kernel
def _pair_iou(a, b):
    """IoU of two xyxy boxes (1-D views), the reference's arithmetic in the same order."""
    w = min(a[2], b[2]) - max(a[0], b[0])
    if w < 0.0:
        w = 0.0
    h = min(a[3], b[3]) - max(a[1], b[1])
    if h < 0.0:
        h = 0.0
    inter = w * h
    area_a = (a[2] - a[0]) * (a[3] - a[1])
    area_b = (b[2] - b[0]) * (b[3] - b[1])
    union = (area_a + area_b) - inter
    return inter / union if union > 0.0 else 0.0


@kernel
def _sorted_copy(boxes, by_x):
    """Rows of ``boxes`` in ``by_x`` order (contiguous: the scans read memory sequentially)."""
    n = by_x.shape[0]
    out = np.empty((n, 4), dtype=np.float64)
    for p in range(n):
        for c in range(4):
            out[p, c] = boxes[by_x[p], c]
    return out


@kernel
def _nms_kernel(
    boxes, order, by_x, seg_lo, seg_hi, seg_min_y1, seg_max_y2, reach, first_segment, last_segment, iou_threshold, keep
):
    n = order.shape[0]
    sorted_boxes = _sorted_copy(boxes, by_x)
    where = np.empty(n, dtype=np.int64)
    for p in range(n):
        where[by_x[p]] = p
    # open: neither kept nor suppressed yet (indexed by position in by_x)
    open_ = np.ones(n, dtype=np.bool_)
    count = 0
    for r in range(n):
        i = order[r]
        q = where[i]
        if not open_[q]:
            continue
        open_[q] = False
        keep[count] = i
        count += 1
        x1, y1, x2, y2 = boxes[i, 0], boxes[i, 1], boxes[i, 2], boxes[i, 3]
        for g in range(first_segment[i], last_segment[i]):
            if seg_min_y1[g] >= y2 or seg_max_y2[g] <= y1:
                continue  # the whole strip is disjoint in y
            for p in range(_first_reaching(reach, seg_lo[g], seg_hi[g], x1), seg_hi[g]):
                if sorted_boxes[p, 0] >= x2:
                    break
                if not open_[p]:
                    continue
                if sorted_boxes[p, 1] >= y2 or sorted_boxes[p, 3] <= y1:
                    continue  # disjoint in y: IoU 0 never suppresses
                if _pair_iou(boxes[i], sorted_boxes[p]) > iou_threshold:
                    open_[p] = False
    return count


# ---------------------------------------------------------------------------
# soft_nms
# ---------------------------------------------------------------------------


def soft_nms(
    boxes,
    scores,
    *,
    method="gaussian",
    sigma=0.5,
    iou_threshold=0.3,
    score_threshold=0.001,
    box_format="xyxy",
    backend="auto",
):
    """Soft non-maximum suppression (Bodla et al. 2017).

    Boxes scoring below ``score_threshold`` are dropped at the start.  Then,
    repeatedly, the box with the highest current score is selected (ties: the
    lowest index) and every remaining box's score is multiplied by

    * ``exp(-iou**2 / sigma)`` for ``method="gaussian"`` (all remaining boxes;
      ``iou_threshold`` is unused), or
    * ``1 - iou`` when ``iou >= iou_threshold`` for ``method="linear"``;

    a box whose score falls below ``score_threshold`` is dropped.

    Parameters
    ----------
    boxes : array-like of shape (N, 4), (N, 5) or (N, 4, 2)
        As in ``nms``.
    scores : array-like of shape (N,)
    method : {"gaussian", "linear"}, default="gaussian"
    sigma : float > 0, default=0.5
        Gaussian width.
    iou_threshold : float in [0, 1], default=0.3
        Linear decay applies from this IoU on (inclusive).
    score_threshold : float >= 0, default=0.001
        Boxes whose (decayed) score is below it are dropped.
    box_format, backend
        As in ``nms``.

    Returns
    -------
    indices : ndarray of shape (K,), int64
        Selected boxes in selection order, which is decreasing new score.
    new_scores : ndarray of shape (K,), float64
        Each selected box's score when it was selected.

    Examples
    --------
    >>> from detmetrics import soft_nms
    >>> boxes = [[0, 0, 10, 10], [0, 0, 10, 5], [20, 20, 30, 30]]
    >>> idx, new = soft_nms(boxes, [0.9, 0.8, 0.7], method="linear", iou_threshold=0.3)
    >>> idx.tolist(), new.tolist()
    ([0, 2, 1], [0.9, 0.7, 0.4])
    """
    b, kind = as_any_boxes(boxes, "boxes", box_format=box_format)
    s = as_scores(scores, "scores", length=b.shape[0])
    method = check_choice(method, "method", ("gaussian", "linear"))
    sigma = check_positive(sigma, "sigma")
    thr = check_threshold(iou_threshold, "iou_threshold")
    score_threshold = check_positive(score_threshold, "score_threshold", allow_zero=True)
    n_boxes = s.shape[0]
    gaussian = method == "gaussian"
    if kind != "axis":
        from .rotated import _CLIP_CAPACITY, _polygon_iou_row_reference, _polygon_setup, _soft_nms_oriented_kernel

        # "auto": ~2 us per pair of polygons in the reference (see _backend.AUTO_WORK)
        resolved = resolve_backend(backend, 2 * n_boxes * n_boxes, (_soft_nms_oriented_kernel,))
        polys, bounds, area = _polygon_setup(b)
        if resolved == "numba":
            n = s.shape[0]
            indices = np.empty(n, dtype=np.int64)
            new_scores = np.empty(n, dtype=np.float64)
            count = _soft_nms_oriented_kernel(polys, bounds, area, s, gaussian, sigma, thr, score_threshold,
                                              indices, new_scores, _CLIP_CAPACITY)
            return indices[:count].copy(), new_scores[:count].copy()
        iou_row = _polygon_iou_row_reference(polys, bounds, area)
    else:
        # "auto": ~30 us per box plus ~0.25 us per pair in the reference (measured, N = 100..1000)
        resolved = resolve_backend(backend, 30 * n_boxes + n_boxes * n_boxes // 4, (_soft_nms_kernel,))
        if resolved == "numba":
            n = b.shape[0]
            labels = np.zeros(n, dtype=np.int64)
            by_x, seg_lo, seg_hi, seg_min_y1, seg_max_y2, reach, _, _ = _spatial_index(b, labels)
            indices = np.empty(n, dtype=np.int64)
            new_scores = np.empty(n, dtype=np.float64)
            count = _soft_nms_kernel(
                b, s, by_x, seg_lo, seg_hi, seg_min_y1, seg_max_y2, reach,
                gaussian, sigma, thr, score_threshold, indices, new_scores,
            )
            return indices[:count].copy(), new_scores[:count].copy()

        def iou_row(i, others):
            return _iou_row_reference(b, i, others)

    return _soft_nms_reference(s, iou_row, gaussian, sigma, thr, score_threshold)


def _soft_nms_reference(scores, iou_row, gaussian, sigma, iou_threshold, score_threshold):
    """Soft-NMS for every geometry; ``iou_row(i, others)`` as in ``_greedy_nms_reference``."""
    current = scores.copy()
    alive = current >= score_threshold
    indices, new_scores = [], []
    while alive.any():
        candidates = np.flatnonzero(alive)
        best = candidates[np.argmax(current[candidates])]  # first maximum: lowest index on ties
        indices.append(best)
        new_scores.append(current[best])
        alive[best] = False
        rest = np.flatnonzero(alive)
        iou = iou_row(best, rest)
        if gaussian:
            # math.exp per element: the kernels' exp, so both backends agree bit for bit
            decay = np.array([math.exp(-(v * v) / sigma) for v in iou], dtype=np.float64)
        else:
            decay = np.where(iou >= iou_threshold, 1.0 - iou, 1.0)
        current[rest] = current[rest] * decay
        alive[rest[current[rest] < score_threshold]] = False
    return np.array(indices, dtype=np.int64), np.array(new_scores, dtype=np.float64)


@kernel
def _heap_before(current, a, b):
    """Heap order: higher current score first, then lower index."""
    return current[a] > current[b] or (current[a] == current[b] and a < b)


@kernel
def _heap_sift_down(heap, position, size, current, k):
    while True:
        left = 2 * k + 1
        if left >= size:
            return
        child = left
        right = left + 1
        if right < size and _heap_before(current, heap[right], heap[left]):
            child = right
        if not _heap_before(current, heap[child], heap[k]):
            return
        a, b = heap[k], heap[child]
        heap[k], heap[child] = b, a
        position[b] = k
        position[a] = child
        k = child


@kernel
def _heap_pop(heap, position, size, current, k):
    """Remove the entry at heap slot ``k``; return the new size.

    Only used for the root or for entries whose key just decreased and that
    are being dropped, so sifting the moved last entry down suffices when
    ``k`` is the root; for other slots the last entry may also need to go up.
    """
    size -= 1
    last = heap[size]
    removed = heap[k]
    position[removed] = -1
    if k == size:
        return size
    heap[k] = last
    position[last] = k
    # sift up (the moved entry may outrank its new parent)
    while k > 0:
        parent = (k - 1) // 2
        if not _heap_before(current, heap[k], heap[parent]):
            break
        a, b = heap[k], heap[parent]
        heap[k], heap[parent] = b, a
        position[b] = k
        position[a] = parent
        k = parent
    _heap_sift_down(heap, position, size, current, k)
    return size


@kernel
def _soft_nms_kernel(
    boxes, scores, by_x, seg_lo, seg_hi, seg_min_y1, seg_max_y2, reach,
    gaussian, sigma, iou_threshold, score_threshold, indices, new_scores,
):
    n = scores.shape[0]
    current = scores.copy()
    sorted_boxes = _sorted_copy(boxes, by_x)
    # indexed binary max-heap of the alive boxes (by original index); scores only
    # ever decrease, so an update is a sift-down of that entry
    heap = np.empty(n, dtype=np.int64)
    position = np.full(n, -1, dtype=np.int64)
    size = 0
    for i in range(n):
        if current[i] >= score_threshold:
            heap[size] = i
            position[i] = size
            size += 1
    for k in range(size // 2 - 1, -1, -1):
        _heap_sift_down(heap, position, size, current, k)
    count = 0
    while size > 0:
        best = heap[0]
        indices[count] = best
        new_scores[count] = current[best]
        count += 1
        size = _heap_pop(heap, position, size, current, 0)
        x1, y1, x2, y2 = boxes[best, 0], boxes[best, 1], boxes[best, 2], boxes[best, 3]
        # only boxes that can overlap ``best`` may get a factor other than 1
        for g in range(seg_lo.shape[0]):
            if seg_min_y1[g] >= y2 or seg_max_y2[g] <= y1:
                continue
            for p in range(_first_reaching(reach, seg_lo[g], seg_hi[g], x1), seg_hi[g]):
                if sorted_boxes[p, 0] >= x2:
                    break
                if sorted_boxes[p, 1] >= y2 or sorted_boxes[p, 3] <= y1:
                    continue  # disjoint in y: IoU 0, a decay factor of exactly 1
                j = by_x[p]
                if position[j] < 0:
                    continue
                iou = _pair_iou(boxes[best], sorted_boxes[p])
                if iou == 0.0:
                    continue  # exp(-0) == 1 and 1 - 0 == 1: the score is unchanged
                if gaussian:
                    decay = math.exp(-(iou * iou) / sigma)
                elif iou >= iou_threshold:
                    decay = 1.0 - iou
                else:
                    decay = 1.0
                if decay == 1.0:
                    continue
                current[j] = current[j] * decay
                if current[j] < score_threshold:
                    size = _heap_pop(heap, position, size, current, position[j])
                else:
                    _heap_sift_down(heap, position, size, current, position[j])
    return count
