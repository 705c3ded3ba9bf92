"""Axis-aligned box IoU and its relatives: GIoU, DIoU, CIoU (torchvision's definitions).

Every function returns an ``(N, M)`` float64 matrix for ``(N, 4)`` and
``(M, 4)`` boxes and exists twice: a NumPy reference (broadcasting, written
for reading) and a Numba kernel (a double loop, same arithmetic in the same
order, so the two agree bit for bit on ``box_iou`` and to 1e-9 elsewhere).

Degenerate cases are defined, never NaN:

* IoU is ``inter / union`` with ``union = area1 + area2 - inter`` (no +1
  pixel, no epsilon); when the union is 0 (two zero-area boxes) the IoU is 0.
* GIoU is ``iou - (enclosing - union) / enclosing``; when the smallest
  enclosing box has zero area the penalty is 0 (so GIoU equals IoU, i.e. 0).
* DIoU and CIoU add torchvision's ``eps`` (default ``1e-7``) to the squared
  diagonal of the enclosing box and to CIoU's ``alpha`` denominator, so the
  values match ``torchvision.ops`` to rounding; a denominator that is still 0
  (``eps=0``) makes its term 0.  The aspect angle ``atan(w / h)`` of a box with
  ``h == 0`` is ``pi / 2`` (``w > 0``) or 0 (a point).
"""

from __future__ import annotations

import math

import numpy as np

from ._backend import kernel, resolve_backend
from ._validate import as_boxes, check_positive

__all__ = ["box_iou", "generalized_box_iou", "distance_box_iou", "complete_box_iou"]

# variant codes shared by the reference and the kernel
_GIOU, _DIOU, _CIOU = 1, 2, 3


def box_iou(boxes1, boxes2, *, box_format="xyxy", backend="auto") -> np.ndarray:
    """Pairwise intersection over union of two sets of axis-aligned boxes.

    ``iou = inter / (area1 + area2 - inter)`` with areas ``(x2 - x1) * (y2 - y1)``
    (no +1 pixel).  Boxes that only touch have IoU 0; two zero-area boxes
    (union 0) have IoU 0.

    Parameters
    ----------
    boxes1 : array-like of shape (N, 4)
        Boxes in ``box_format``.
    boxes2 : array-like of shape (M, 4)
        Boxes in ``box_format``.
    box_format : {"xyxy", "xywh", "cxcywh"}, default="xyxy"
        ``xyxy`` corners, COCO's ``xywh`` or YOLO's ``cxcywh``.
    backend : {"auto", "numba", "numpy"}, default="auto"
        ``"auto"`` uses numba when it can be imported.

    Returns
    -------
    iou : ndarray of shape (N, M), float64
        Values in ``[0, 1]``.

    Examples
    --------
    >>> from detmetrics import box_iou
    >>> box_iou([[0, 0, 2, 2]], [[1, 0, 3, 2], [2, 0, 4, 2], [0, 0, 2, 2]]).tolist()
    [[0.3333333333333333, 0.0, 1.0]]
    >>> box_iou([[0, 0, 4, 4]], [[2, 2, 2, 2]]).tolist()
    [[0.0]]
    >>> box_iou([], [[0, 0, 1, 1]]).shape
    (0, 1)
    """
    b1 = as_boxes(boxes1, "boxes1", box_format=box_format)
    b2 = as_boxes(boxes2, "boxes2", box_format=box_format)
    # "auto": the reference computes ~20 pairs per microsecond (see _backend.AUTO_WORK)
    if resolve_backend(backend, b1.shape[0] * b2.shape[0] // 20, (_box_iou_kernel,)) == "numba":
        out = np.empty((b1.shape[0], b2.shape[0]), dtype=np.float64)
        _box_iou_kernel(b1, b2, out)
        return out
    return _box_iou_reference(b1, b2)


def _box_iou_reference(b1: np.ndarray, b2: np.ndarray) -> np.ndarray:
    inter, union = _inter_union_reference(b1, b2)
    return np.divide(inter, union, out=np.zeros_like(inter), where=union > 0)


def _inter_union_reference(b1: np.ndarray, b2: np.ndarray):
    lt = np.maximum(b1[:, None, :2], b2[None, :, :2])
    rb = np.minimum(b1[:, None, 2:], b2[None, :, 2:])
    wh = np.clip(rb - lt, 0.0, None)
    inter = wh[..., 0] * wh[..., 1]
    area1 = (b1[:, 2] - b1[:, 0]) * (b1[:, 3] - b1[:, 1])
    area2 = (b2[:, 2] - b2[:, 0]) * (b2[:, 3] - b2[:, 1])
    union = area1[:, None] + area2[None, :] - inter
    return inter, union


# Serial on purpose: 5000 x 5000 takes ~60 ms here, most of it writing the
# 200 MB output; prange measured no faster on the shared 2-core machine.
@kernel
def _box_iou_kernel(b1, b2, out):
    n, m = b1.shape[0], b2.shape[0]
    area2 = np.empty(m, dtype=np.float64)
    for j in range(m):
        area2[j] = (b2[j, 2] - b2[j, 0]) * (b2[j, 3] - b2[j, 1])
    for i in range(n):
        x1, y1, x2, y2 = b1[i, 0], b1[i, 1], b1[i, 2], b1[i, 3]
        area1 = (x2 - x1) * (y2 - y1)
        for j in range(m):
            inter, union = _inter_union(x1, y1, x2, y2, area1, b2[j, 0], b2[j, 1], b2[j, 2], b2[j, 3], area2[j])
            out[i, j] = inter / union if union > 0.0 else 0.0


@kernel
def _inter_union(x1, y1, x2, y2, area1, u1, v1, u2, v2, area2):
    """Intersection and union of two xyxy boxes (the reference's arithmetic), for both IoU kernels."""
    w = min(x2, u2) - max(x1, u1)
    h = min(y2, v2) - max(y1, v1)
    if w < 0.0:
        w = 0.0
    if h < 0.0:
        h = 0.0
    inter = w * h
    return inter, area1 + area2 - inter


def generalized_box_iou(boxes1, boxes2, *, box_format="xyxy", backend="auto") -> np.ndarray:
    """Pairwise generalized IoU (Rezatofighi et al. 2019), torchvision's definition.

    ``giou = iou - (C - union) / C`` with ``C`` the area of the smallest box
    enclosing both.  Values lie in ``[-1, 1]``.  When ``C`` is 0 (both boxes
    degenerate on one line or point) the penalty is taken as 0, so the GIoU
    is the IoU, 0 (torchvision returns NaN there).

    Parameters
    ----------
    boxes1, boxes2 : array-like of shape (N, 4) and (M, 4)
        Boxes in ``box_format``.
    box_format : {"xyxy", "xywh", "cxcywh"}, default="xyxy"
    backend : {"auto", "numba", "numpy"}, default="auto"

    Returns
    -------
    giou : ndarray of shape (N, M), float64

    Examples
    --------
    >>> from detmetrics import generalized_box_iou
    >>> generalized_box_iou([[0, 0, 2, 2]], [[0, 0, 2, 2], [4, 0, 6, 2]]).tolist()
    [[1.0, -0.3333333333333333]]
    """
    return _variant(boxes1, boxes2, _GIOU, 0.0, box_format, backend)


def distance_box_iou(boxes1, boxes2, *, eps=1e-7, box_format="xyxy", backend="auto") -> np.ndarray:
    """Pairwise distance IoU (Zheng et al. 2020), torchvision's definition.

    ``diou = iou - d**2 / (c**2 + eps)`` with ``d`` the distance between the
    box centres and ``c`` the diagonal of the smallest enclosing box.  ``eps``
    (torchvision's default ``1e-7``) keeps the values equal to
    ``torchvision.ops.distance_box_iou``; with ``eps=0`` a zero diagonal (two
    identical points) makes the distance term 0.

    Parameters
    ----------
    boxes1, boxes2 : array-like of shape (N, 4) and (M, 4)
        Boxes in ``box_format``.
    eps : float, default=1e-7
        Added to the squared diagonal; must be ``>= 0``.
    box_format : {"xyxy", "xywh", "cxcywh"}, default="xyxy"
    backend : {"auto", "numba", "numpy"}, default="auto"

    Returns
    -------
    diou : ndarray of shape (N, M), float64

    Examples
    --------
    >>> from detmetrics import distance_box_iou
    >>> distance_box_iou([[0, 0, 2, 2]], [[2, 0, 4, 2]], eps=0).tolist()
    [[-0.2]]
    """
    eps = check_positive(eps, "eps", allow_zero=True)
    return _variant(boxes1, boxes2, _DIOU, eps, box_format, backend)


def complete_box_iou(boxes1, boxes2, *, eps=1e-7, box_format="xyxy", backend="auto") -> np.ndarray:
    """Pairwise complete IoU (Zheng et al. 2020), torchvision's definition.

    ``ciou = diou - alpha * v`` with
    ``v = 4 / pi**2 * (atan(w1 / h1) - atan(w2 / h2))**2`` and
    ``alpha = v / (1 - iou + v + eps)``.  ``atan(w / h)`` of a box with
    ``h == 0`` is ``pi / 2`` (or 0 for a point); a zero ``alpha`` denominator
    (``eps=0``) gives ``alpha = 0``.

    Parameters
    ----------
    boxes1, boxes2 : array-like of shape (N, 4) and (M, 4)
        Boxes in ``box_format``.
    eps : float, default=1e-7
        torchvision's stabiliser, in the DIoU diagonal and ``alpha``; ``>= 0``.
    box_format : {"xyxy", "xywh", "cxcywh"}, default="xyxy"
    backend : {"auto", "numba", "numpy"}, default="auto"

    Returns
    -------
    ciou : ndarray of shape (N, M), float64

    Examples
    --------
    >>> from detmetrics import complete_box_iou
    >>> complete_box_iou([[0, 0, 2, 2]], [[0, 0, 2, 2]], eps=0).tolist()
    [[1.0]]
    """
    eps = check_positive(eps, "eps", allow_zero=True)
    return _variant(boxes1, boxes2, _CIOU, eps, box_format, backend)


def _variant(boxes1, boxes2, variant, eps, box_format, backend):
    b1 = as_boxes(boxes1, "boxes1", box_format=box_format)
    b2 = as_boxes(boxes2, "boxes2", box_format=box_format)
    # per-box aspect angles are computed once, in NumPy, for both backends
    atan1, atan2 = _aspect_angle(b1), _aspect_angle(b2)
    ciou_scale = 4.0 / (math.pi**2)
    # "auto": the reference computes ~10 pairs per microsecond (see _backend.AUTO_WORK)
    if resolve_backend(backend, b1.shape[0] * b2.shape[0] // 10, (_box_iou_variant_kernel,)) == "numba":
        out = np.empty((b1.shape[0], b2.shape[0]), dtype=np.float64)
        _box_iou_variant_kernel(b1, b2, variant, eps, atan1, atan2, ciou_scale, out)
        return out
    return _box_iou_variant_reference(b1, b2, variant, eps, atan1, atan2, ciou_scale)


def _aspect_angle(b: np.ndarray) -> np.ndarray:
    """``atan(w / h)`` per box; ``pi / 2`` when ``h == 0 < w`` and 0 for a point."""
    w = b[:, 2] - b[:, 0]
    h = b[:, 3] - b[:, 1]
    ratio = np.divide(w, h, out=np.where(w > 0, np.inf, 0.0), where=h > 0)
    return np.ascontiguousarray(np.arctan(ratio))


def _box_iou_variant_reference(b1, b2, variant, eps, atan1, atan2, ciou_scale):
    inter, union = _inter_union_reference(b1, b2)
    iou = np.divide(inter, union, out=np.zeros_like(inter), where=union > 0)
    lti = np.minimum(b1[:, None, :2], b2[None, :, :2])
    rbi = np.maximum(b1[:, None, 2:], b2[None, :, 2:])
    whi = np.clip(rbi - lti, 0.0, None)
    if variant == _GIOU:
        enclosing = whi[..., 0] * whi[..., 1]
        penalty = np.divide(enclosing - union, enclosing, out=np.zeros_like(iou), where=enclosing > 0)
        return iou - penalty
    diagonal = (whi[..., 0] * whi[..., 0] + whi[..., 1] * whi[..., 1]) + eps
    dx = (b1[:, None, 0] + b1[:, None, 2]) / 2.0 - (b2[None, :, 0] + b2[None, :, 2]) / 2.0
    dy = (b1[:, None, 1] + b1[:, None, 3]) / 2.0 - (b2[None, :, 1] + b2[None, :, 3]) / 2.0
    centres = dx * dx + dy * dy
    diou = iou - np.divide(centres, diagonal, out=np.zeros_like(iou), where=diagonal > 0)
    if variant == _DIOU:
        return diou
    d = atan1[:, None] - atan2[None, :]
    v = ciou_scale * (d * d)
    denom = ((1.0 - iou) + v) + eps
    alpha = np.divide(v, denom, out=np.zeros_like(iou), where=denom > 0)
    return diou - alpha * v


@kernel
def _box_iou_variant_kernel(b1, b2, variant, eps, atan1, atan2, ciou_scale, out):
    n, m = b1.shape[0], b2.shape[0]
    for i in range(n):
        x1, y1, x2, y2 = b1[i, 0], b1[i, 1], b1[i, 2], b1[i, 3]
        area1 = (x2 - x1) * (y2 - y1)
        for j in range(m):
            area2 = (b2[j, 2] - b2[j, 0]) * (b2[j, 3] - b2[j, 1])
            inter, union = _inter_union(x1, y1, x2, y2, area1, b2[j, 0], b2[j, 1], b2[j, 2], b2[j, 3], area2)
            iou = inter / union if union > 0.0 else 0.0
            wi = max(x2, b2[j, 2]) - min(x1, b2[j, 0])
            hi = max(y2, b2[j, 3]) - min(y1, b2[j, 1])
            if wi < 0.0:
                wi = 0.0
            if hi < 0.0:
                hi = 0.0
            if variant == 1:
                enclosing = wi * hi
                penalty = (enclosing - union) / enclosing if enclosing > 0.0 else 0.0
                out[i, j] = iou - penalty
                continue
            diagonal = (wi * wi + hi * hi) + eps
            dx = (x1 + x2) / 2.0 - (b2[j, 0] + b2[j, 2]) / 2.0
            dy = (y1 + y2) / 2.0 - (b2[j, 1] + b2[j, 3]) / 2.0
            centres = dx * dx + dy * dy
            diou = iou - (centres / diagonal if diagonal > 0.0 else 0.0)
            if variant == 2:
                out[i, j] = diou
                continue
            d = atan1[i] - atan2[j]
            v = ciou_scale * (d * d)
            denom = ((1.0 - iou) + v) + eps
            alpha = v / denom if denom > 0.0 else 0.0
            out[i, j] = diou - alpha * v
