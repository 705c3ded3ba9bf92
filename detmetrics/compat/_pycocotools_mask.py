"""``pycocotools.mask``'s functions over ``detmetrics.masks`` (pycocotools' names and array layout).

``from detmetrics.compat.pycocotools import mask as maskUtils`` then
``maskUtils.encode``, ``decode``, ``area``, ``toBbox``, ``frPyObjects``,
``iou`` and ``merge`` take and return what pycocotools' do: masks are
``(H, W, N)`` (or ``(H, W)``) uint8 arrays, RLEs are dicts with ``bytes``
counts.  The numbers and bytes are ``detmetrics.masks``' (equal to
pycocotools'); bad input raises ``ValueError`` / ``TypeError`` naming the
argument instead of returning garbage.
"""

from __future__ import annotations

import numpy as np

from .. import masks as _masks

__all__ = ["area", "decode", "encode", "frPyObjects", "iou", "merge", "toBbox"]


def encode(bimask):
    """RLE of an ``(H, W)`` mask (a dict) or of ``(H, W, N)`` masks (a list), as ``pycocotools.mask.encode``."""
    arr = np.asarray(bimask)
    if arr.ndim == 3:
        return _masks.encode(np.moveaxis(arr, 2, 0))
    if arr.ndim == 2:
        return _masks.encode(arr)
    raise ValueError(f"bimask must have shape (H, W) or (H, W, N); got shape {arr.shape}")


def decode(rleObjs):
    """``(H, W)`` (one RLE) or ``(H, W, N)`` (a list) uint8 Fortran-ordered masks."""
    out = _masks.decode(rleObjs)
    if isinstance(rleObjs, dict):
        return np.asfortranarray(out, dtype=np.uint8)
    return np.asfortranarray(np.moveaxis(np.asarray(out, dtype=np.uint8), 0, 2))


def area(rleObjs):
    """Foreground pixel counts (uint32), as ``pycocotools.mask.area``."""
    out = _masks.area(rleObjs)
    return np.asarray(out).astype(np.uint32) if not isinstance(rleObjs, dict) else np.uint32(out)


def toBbox(rleObjs):
    """xywh bounding boxes (float64), as ``pycocotools.mask.toBbox``."""
    return _masks.to_bbox(rleObjs)


def merge(rleObjs, intersect=0):
    """Union (or intersection with ``intersect=1``) of RLEs, as ``pycocotools.mask.merge``."""
    return _masks.merge(rleObjs, bool(intersect))


def iou(dt, gt, pyiscrowd):
    """IoU of RLEs (or of ``(N, 4)`` xywh box arrays), as ``pycocotools.mask.iou``.

    Returns ``[]`` when either side is empty, as pycocotools does.
    """
    if len(dt) == 0 or len(gt) == 0:
        return []
    crowd = np.asarray(pyiscrowd, dtype=np.int64).reshape(-1)
    if isinstance(dt, dict) or isinstance(gt, dict):
        raise TypeError("dt and gt must be lists of RLEs or (N, 4) box arrays, as in pycocotools")
    if not isinstance(dt[0], dict) and not isinstance(gt[0], dict):
        from .._validate import as_array
        from ..matching import _bbox_iou_reference

        d = as_array(dt, "dt").reshape(-1, 4)
        g = as_array(gt, "gt").reshape(-1, 4)
        if crowd.shape[0] != g.shape[0]:
            raise ValueError(f"pyiscrowd must hold one flag per gt ({g.shape[0]}); got {crowd.shape[0]}")
        return _bbox_iou_reference(d, g, crowd)
    return _masks.iou(dt, gt, crowd)


def frPyObjects(pyobj, h, w):
    """RLEs of polygons, xywh boxes or uncompressed RLEs, dispatched as ``pycocotools.mask.frPyObjects``.

    A list of objects gives a list; a single polygon (flat list of more than
    4 numbers), box (4 numbers) or uncompressed RLE dict gives one RLE.
    """
    if isinstance(pyobj, np.ndarray):
        return _masks.from_boxes(pyobj.reshape(-1, 4), h, w)
    if isinstance(pyobj, dict):
        if "counts" in pyobj and "size" in pyobj:
            return _compressed([pyobj])[0]
    elif isinstance(pyobj, list) and pyobj:
        first = pyobj[0]
        if isinstance(first, dict) and "counts" in first and "size" in first:
            return _compressed(pyobj)
        if isinstance(first, (list, tuple, np.ndarray)):
            if len(first) == 4:
                return _masks.from_boxes(pyobj, h, w)
            if len(first) > 4:
                return _masks.from_polygons([[part] for part in pyobj], h, w)
        elif len(pyobj) == 4:
            return _masks.from_boxes([pyobj], h, w)[0]
        elif len(pyobj) > 4:
            return _masks.from_polygons([[pyobj]], h, w)[0]
    raise TypeError(f"pyobj must be polygons, xywh boxes or uncompressed RLEs (pycocotools' frPyObjects input); "
                    f"got {type(pyobj).__name__}")


def _compressed(rles: list) -> list:
    """Compressed (bytes) RLEs of RLE dicts (list or compressed counts)."""
    from .._backend import resolve_backend

    backend = resolve_backend("auto")
    counts, offsets, sizes, _ = _masks._flatten(list(rles), "pyobj", backend)
    return _masks._to_dicts(counts, offsets, sizes, backend)
