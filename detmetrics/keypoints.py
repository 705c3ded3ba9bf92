"""Object keypoint similarity (OKS), exactly as pycocotools' ``COCOeval.computeOks``.

For a detection ``d`` and a ground truth ``g`` with ``K`` keypoints
``(x, y, v)``, per-keypoint sigmas ``s`` and the ground truth's ``area``::

    e_k = (dx_k**2 + dy_k**2) / (2 * s_k)**2 / (area + eps) / 2      eps = np.spacing(1)
    oks = mean over the visible keypoints (v_k > 0) of exp(-e_k)

with ``dx_k = x_d - x_g``.  A ground truth without any visible keypoint
(pycocotools' branch for them) measures instead, for every keypoint, the
distance from the detection's keypoint to the ground truth's box enlarged by
its own size on every side (``[x - w, x + 2w] x [y - h, y + 2h]``; 0 inside)
and averages over all ``K`` keypoints.  COCO ignores such ground truths
(``num_keypoints == 0`` is a crowd for pose), but their OKS still decides
what the detections match.

Both backends compute ``e`` with the same operations in the same order as
pycocotools, ``exp`` with NumPy's ``np.exp`` (whose vectorised routine can
differ from the C library's in the last bit) and the sum with NumPy's
pairwise summation order, so reference and kernel are bit-identical to
``computeOks``.

Block layout for the evaluator: ``_oks_blocks`` takes detections and ground
truths grouped by ``det_offsets`` / ``gt_offsets`` (group ``g`` owns rows
``det_offsets[g]:det_offsets[g+1]`` and ``gt_offsets[g]:gt_offsets[g+1]``)
and returns ``(oks_flat, oks_offsets)``, block ``g`` being the row-major
``(n_det_g, n_gt_g)`` OKS matrix, as ``detmetrics.matching._iou_blocks`` and
``detmetrics.masks._mask_iou_blocks`` do for boxes and masks.
"""

from __future__ import annotations

import numpy as np

from ._backend import defer_backend, kernel, resolve_backend
from ._validate import as_array, as_boxes, check_box_format

__all__ = ["COCO_SIGMAS", "oks"]

#: COCO's 17 person-keypoint sigmas (pycocotools ``Params.kpt_oks_sigmas``)
COCO_SIGMAS = (
    np.array([0.26, 0.25, 0.25, 0.35, 0.35, 0.79, 0.79, 0.72, 0.72, 0.62, 0.62, 1.07, 1.07, 0.87, 0.87, 0.89, 0.89])
    / 10.0
)
COCO_SIGMAS.setflags(write=False)

_EPS = float(np.spacing(1))


def oks(dt_keypoints, gt_keypoints, gt_areas, gt_boxes, *, sigmas=None, box_format="xywh", backend="auto"):
    """Pairwise object keypoint similarity of detections and ground truths of one image and class.

    Equals pycocotools' ``COCOeval.computeOks(imgId, catId)`` on the same
    detections (already in the order wanted: ``computeOks`` sorts them by
    score and cuts them to ``maxDets[-1]`` first) and ground truths.

    Parameters
    ----------
    dt_keypoints : array-like of shape (D, K, 3), (D, K, 2) or (D, 3K)
        Detected keypoints ``(x, y[, v])``; the visibility of detections is not used.
    gt_keypoints : array-like of shape (G, K, 3) or (G, 3K)
        Ground-truth keypoints ``(x, y, v)``; ``v > 0`` is labelled.
    gt_areas : array-like of shape (G,)
        The ground truths' ``area`` (COCO's segment area), ``>= 0``.
    gt_boxes : array-like of shape (G, 4)
        Ground-truth boxes in ``box_format``; used only for ground truths
        without a labelled keypoint.
    sigmas : array-like of shape (K,), optional
        Per-keypoint sigmas, ``> 0``; ``None`` means COCO's 17 (then ``K``
        must be 17).
    box_format : {"xywh", "xyxy", "cxcywh"}, default="xywh"
    backend : {"auto", "numba", "numpy"}, default="auto"

    Returns
    -------
    oks : ndarray of shape (D, G), float64
        In ``[0, 1]``; ``(0, G)`` / ``(D, 0)`` for empty input (pycocotools: ``[]``).

    Examples
    --------
    >>> import numpy as np
    >>> from detmetrics.keypoints import oks
    >>> gt = [[[10, 10, 2], [20, 10, 2], [0, 0, 0]]]
    >>> dt = [[[10, 10, 1], [20, 10, 1], [5, 5, 1]], [[11, 10, 1], [20, 12, 1], [5, 5, 1]]]
    >>> oks(dt, gt, [100.0], [[5, 5, 20, 10]], sigmas=[0.1, 0.1, 0.1]).round(6).tolist()
    [[1.0], [0.744514]]
    """
    backend = defer_backend(backend)
    d, g, areas, boxes, s = _validate(dt_keypoints, gt_keypoints, gt_areas, gt_boxes, sigmas, box_format)
    # "auto": the vectorised reference handles ~20 (detection, ground truth, keypoint) terms per microsecond
    backend = resolve_backend(backend, d.shape[0] * g.shape[0] * s.shape[0] // 20 + 100,
                              (_oks_terms_kernel, _oks_mean_kernel))
    if backend == "numba":
        return _oks_fast(d, g, areas, boxes, s)
    return _oks_reference(d, g, areas, boxes, s)


def _as_keypoints(value, name, k, allow_xy):
    arr = as_array(value, name)
    if arr.size == 0 and arr.ndim <= 3 and arr.shape[0] == 0:
        return np.zeros((0, k if k is not None else 0, 3), dtype=np.float64)
    if arr.ndim == 2 and arr.shape[1] % 3 == 0:
        arr = arr.reshape(arr.shape[0], arr.shape[1] // 3, 3)
    shapes = "(N, K, 3), (N, K, 2) or (N, 3K)" if allow_xy else "(N, K, 3) or (N, 3K)"
    if arr.ndim != 3 or arr.shape[2] not in ((2, 3) if allow_xy else (3,)):
        raise ValueError(f"{name} must have shape {shapes}; got shape {arr.shape}")
    if not np.all(np.isfinite(arr)):
        row = int(np.argwhere(~np.isfinite(arr))[0][0])
        raise ValueError(f"{name} contains NaN or infinite values (first at row {row})")
    if arr.shape[2] == 2:
        arr = np.concatenate([arr, np.ones(arr.shape[:2] + (1,))], axis=2)
    return np.ascontiguousarray(arr)


def _validate(dt_keypoints, gt_keypoints, gt_areas, gt_boxes, sigmas, box_format):
    check_box_format(box_format)
    g = _as_keypoints(gt_keypoints, "gt_keypoints", None, allow_xy=False)
    d = _as_keypoints(dt_keypoints, "dt_keypoints", g.shape[1] if g.shape[0] else None, allow_xy=True)
    if g.shape[0] == 0 and d.shape[0]:
        g = np.zeros((0, d.shape[1], 3), dtype=np.float64)
    if d.shape[0] and g.shape[0] and d.shape[1] != g.shape[1]:
        raise ValueError(f"dt_keypoints has {d.shape[1]} keypoints per object but gt_keypoints has {g.shape[1]}")
    n_kpt = g.shape[1] if g.shape[0] else d.shape[1]
    if sigmas is None:
        if (d.shape[0] or g.shape[0]) and n_kpt != 17:
            raise ValueError(
                f"sigmas=None means COCO's 17 keypoint sigmas, but the keypoints have K={n_kpt}; "
                "pass sigmas= with one value per keypoint"
            )
        s = np.array(COCO_SIGMAS)
    else:
        s = as_array(sigmas, "sigmas", ndim=1)
        if not np.all(np.isfinite(s)) or np.any(s <= 0):
            raise ValueError(f"sigmas must be finite and > 0; got {s.tolist()}")
        if (d.shape[0] or g.shape[0]) and s.shape[0] != n_kpt:
            raise ValueError(f"sigmas has {s.shape[0]} values but the keypoints have K={n_kpt}")
    n_gt = g.shape[0]
    areas = as_array(gt_areas, "gt_areas", ndim=1) if n_gt or np.size(gt_areas) else np.zeros(0)
    if areas.shape[0] != n_gt:
        raise ValueError(f"gt_areas has length {areas.shape[0]} but gt_keypoints has {n_gt} rows")
    if not np.all(np.isfinite(areas)) or np.any(areas < 0):
        raise ValueError("gt_areas must be finite and >= 0")
    boxes = _as_xywh(gt_boxes, box_format)
    if boxes.shape[0] != n_gt:
        raise ValueError(f"gt_boxes has {boxes.shape[0]} rows but gt_keypoints has {n_gt}")
    return d, g, np.ascontiguousarray(areas), boxes, np.ascontiguousarray(s)


def _as_xywh(gt_boxes, box_format):
    xyxy = as_boxes(gt_boxes, "gt_boxes", box_format=box_format)  # validates shape, NaN, negative sizes
    if box_format == "xywh":
        # pycocotools reads x, y, w, h as given: keep them, not x + w - x
        return np.ascontiguousarray(as_array(gt_boxes, "gt_boxes").reshape(-1, 4)) if xyxy.size else xyxy
    from .boxes import convert_boxes

    return np.ascontiguousarray(convert_boxes(xyxy, "xyxy", "xywh"))


def _oks_reference(d, g, areas, boxes, sigmas):
    """``computeOks``' loops, operation for operation."""
    out = np.zeros((d.shape[0], g.shape[0]), dtype=np.float64)
    variances = (sigmas * 2) ** 2
    k = sigmas.shape[0]
    for j in range(g.shape[0]):
        xg, yg, vg = g[j, :, 0], g[j, :, 1], g[j, :, 2]
        k1 = np.count_nonzero(vg > 0)
        bb = boxes[j]
        x0 = bb[0] - bb[2]
        x1 = bb[0] + bb[2] * 2
        y0 = bb[1] - bb[3]
        y1 = bb[1] + bb[3] * 2
        for i in range(d.shape[0]):
            xd, yd = d[i, :, 0], d[i, :, 1]
            if k1 > 0:
                dx = xd - xg
                dy = yd - yg
            else:
                z = np.zeros(k)
                dx = np.max((z, x0 - xd), axis=0) + np.max((z, xd - x1), axis=0)
                dy = np.max((z, y0 - yd), axis=0) + np.max((z, yd - y1), axis=0)
            e = (dx**2 + dy**2) / variances / (areas[j] + _EPS) / 2
            if k1 > 0:
                e = e[vg > 0]
            out[i, j] = np.sum(np.exp(-e)) / e.shape[0]
    return out


def _oks_fast(d, g, areas, boxes, sigmas):
    variances = np.ascontiguousarray((sigmas * 2) ** 2)
    terms = np.empty((d.shape[0], g.shape[0], sigmas.shape[0]), dtype=np.float64)
    _oks_terms_kernel(d, g, areas, boxes, variances, terms)
    np.exp(terms, out=terms)  # NumPy's exp, as computeOks: bit-identical values
    out = np.empty((d.shape[0], g.shape[0]), dtype=np.float64)
    _oks_mean_kernel(terms, g, out)
    return out


@kernel
def _oks_terms_kernel(d, g, areas, boxes, variances, terms):
    # terms[i, j, k] = -e_k (so that exp(terms) is computeOks' exp(-e))
    n_kpt = variances.shape[0]
    eps = 2.220446049250313e-16
    for j in range(g.shape[0]):
        k1 = 0
        for k in range(n_kpt):
            if g[j, k, 2] > 0:
                k1 += 1
        x0 = boxes[j, 0] - boxes[j, 2]
        x1 = boxes[j, 0] + boxes[j, 2] * 2
        y0 = boxes[j, 1] - boxes[j, 3]
        y1 = boxes[j, 1] + boxes[j, 3] * 2
        denom = areas[j] + eps
        for i in range(d.shape[0]):
            for k in range(n_kpt):
                xd = d[i, k, 0]
                yd = d[i, k, 1]
                if k1 > 0:
                    dx = xd - g[j, k, 0]
                    dy = yd - g[j, k, 1]
                else:
                    dx = max(0.0, x0 - xd) + max(0.0, xd - x1)
                    dy = max(0.0, y0 - yd) + max(0.0, yd - y1)
                terms[i, j, k] = -((dx * dx + dy * dy) / variances[k] / denom / 2)


@kernel
def _pairwise_sum(a, n):
    # NumPy's pairwise summation order for a contiguous float64 array (numpy/_core/src/umath/loops_utils.h)
    if n < 8:
        res = 0.0
        for i in range(n):
            res += a[i]
        return res
    if n <= 128:
        r0, r1, r2, r3, r4, r5, r6, r7 = a[0], a[1], a[2], a[3], a[4], a[5], a[6], a[7]
        i = 8
        stop = n - (n % 8)
        while i < stop:
            r0 += a[i]
            r1 += a[i + 1]
            r2 += a[i + 2]
            r3 += a[i + 3]
            r4 += a[i + 4]
            r5 += a[i + 5]
            r6 += a[i + 6]
            r7 += a[i + 7]
            i += 8
        res = ((r0 + r1) + (r2 + r3)) + ((r4 + r5) + (r6 + r7))
        while i < n:
            res += a[i]
            i += 1
        return res
    n2 = n // 2
    n2 -= n2 % 8
    return _pairwise_sum(a[:n2], n2) + _pairwise_sum(a[n2:], n - n2)


@kernel
def _oks_mean_kernel(values, g, out):
    n_kpt = values.shape[2]
    buf = np.empty(n_kpt, dtype=np.float64)
    for j in range(g.shape[0]):
        k1 = 0
        for k in range(n_kpt):
            if g[j, k, 2] > 0:
                k1 += 1
        for i in range(values.shape[0]):
            if k1 > 0:
                m = 0
                for k in range(n_kpt):
                    if g[j, k, 2] > 0:
                        buf[m] = values[i, j, k]
                        m += 1
            else:
                m = n_kpt
                for k in range(n_kpt):
                    buf[k] = values[i, j, k]
            out[i, j] = _pairwise_sum(buf, m) / m


def _oks_blocks(det_keypoints, gt_keypoints, gt_areas, gt_boxes_xywh, sigmas, det_offsets, gt_offsets, backend):
    """Per-group OKS blocks in the layout of ``detmetrics.matching._iou_blocks``.

    Parameters
    ----------
    det_keypoints : ndarray of shape (D, K, 3), float64
        Validated, in group order (inside a group: the order matching uses).
    gt_keypoints : ndarray of shape (G, K, 3), float64
    gt_areas : ndarray of shape (G,), float64
    gt_boxes_xywh : ndarray of shape (G, 4), float64
    sigmas : ndarray of shape (K,), float64
    det_offsets, gt_offsets : ndarray of shape (n_groups + 1,), int64
    backend : {"numba", "numpy"}
        Already resolved.

    Returns
    -------
    oks_flat : ndarray, float64
        Block ``g`` is ``oks_flat[oks_offsets[g]:oks_offsets[g+1]]``, row-major ``(n_det_g, n_gt_g)``.
    oks_offsets : ndarray of shape (n_groups + 1,), int64

    Examples
    --------
    >>> import numpy as np
    >>> kp = np.array([[[1.0, 1.0, 2.0]]])
    >>> out, off = _oks_blocks(kp, kp, np.ones(1), np.array([[0.0, 0.0, 2.0, 2.0]]), np.ones(1),
    ...                        np.array([0, 1, 1]), np.array([0, 0, 1]), "numpy")
    >>> out.tolist(), off.tolist()
    ([], [0, 0, 0])
    """
    det_offsets = np.ascontiguousarray(det_offsets, dtype=np.int64)
    gt_offsets = np.ascontiguousarray(gt_offsets, dtype=np.int64)
    sizes = np.diff(det_offsets) * np.diff(gt_offsets)
    offsets = np.zeros(sizes.shape[0] + 1, dtype=np.int64)
    np.cumsum(sizes, out=offsets[1:])
    out = np.empty(int(offsets[-1]), dtype=np.float64)
    variances = np.ascontiguousarray((np.asarray(sigmas, dtype=np.float64) * 2) ** 2)
    if backend == "numba":
        terms = np.empty(int(offsets[-1]) * variances.shape[0], dtype=np.float64)
        _oks_blocks_terms_kernel(
            det_keypoints, gt_keypoints, gt_areas, gt_boxes_xywh, variances, det_offsets, gt_offsets, offsets, terms
        )
        np.exp(terms, out=terms)
        _oks_blocks_mean_kernel(terms, gt_keypoints, det_offsets, gt_offsets, offsets, out)
        return out, offsets
    for g in range(det_offsets.shape[0] - 1):
        d0, d1, g0, g1 = det_offsets[g], det_offsets[g + 1], gt_offsets[g], gt_offsets[g + 1]
        if d1 > d0 and g1 > g0:
            block = _oks_reference(
                det_keypoints[d0:d1],
                gt_keypoints[g0:g1],
                gt_areas[g0:g1],
                gt_boxes_xywh[g0:g1],
                np.asarray(sigmas, dtype=np.float64),
            )
            out[offsets[g] : offsets[g + 1]] = block.ravel()
    return out, offsets


@kernel
def _oks_blocks_terms_kernel(d, g, areas, boxes, variances, det_offsets, gt_offsets, offsets, terms):
    n_kpt = variances.shape[0]
    eps = 2.220446049250313e-16
    for grp in range(det_offsets.shape[0] - 1):
        n_g = gt_offsets[grp + 1] - gt_offsets[grp]
        for jj in range(n_g):
            j = gt_offsets[grp] + jj
            k1 = 0
            for k in range(n_kpt):
                if g[j, k, 2] > 0:
                    k1 += 1
            x0 = boxes[j, 0] - boxes[j, 2]
            x1 = boxes[j, 0] + boxes[j, 2] * 2
            y0 = boxes[j, 1] - boxes[j, 3]
            y1 = boxes[j, 1] + boxes[j, 3] * 2
            denom = areas[j] + eps
            for ii in range(det_offsets[grp + 1] - det_offsets[grp]):
                i = det_offsets[grp] + ii
                base = (offsets[grp] + ii * n_g + jj) * n_kpt
                for k in range(n_kpt):
                    xd = d[i, k, 0]
                    yd = d[i, k, 1]
                    if k1 > 0:
                        dx = xd - g[j, k, 0]
                        dy = yd - g[j, k, 1]
                    else:
                        dx = max(0.0, x0 - xd) + max(0.0, xd - x1)
                        dy = max(0.0, y0 - yd) + max(0.0, yd - y1)
                    terms[base + k] = -((dx * dx + dy * dy) / variances[k] / denom / 2)


@kernel
def _oks_blocks_mean_kernel(values, g, det_offsets, gt_offsets, offsets, out):
    n_kpt = g.shape[1]
    buf = np.empty(n_kpt, dtype=np.float64)
    for grp in range(det_offsets.shape[0] - 1):
        n_g = gt_offsets[grp + 1] - gt_offsets[grp]
        for jj in range(n_g):
            j = gt_offsets[grp] + jj
            k1 = 0
            for k in range(n_kpt):
                if g[j, k, 2] > 0:
                    k1 += 1
            for ii in range(det_offsets[grp + 1] - det_offsets[grp]):
                pos = offsets[grp] + ii * n_g + jj
                base = pos * n_kpt
                m = 0
                for k in range(n_kpt):
                    if k1 == 0 or g[j, k, 2] > 0:
                        buf[m] = values[base + k]
                        m += 1
                out[pos] = _pairwise_sum(buf, m) / m
