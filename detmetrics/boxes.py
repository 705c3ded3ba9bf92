"""Box formats and conversions: ``"xyxy"`` (default), ``"xywh"`` (COCO), ``"cxcywh"`` (YOLO).

Conversions are elementwise arithmetic on ``(N, 4)`` arrays; NumPy already
runs them at memory speed, so this family has no separate Numba kernel (the
arithmetic lives in ``_box_convert``, below the validators).
"""

from __future__ import annotations

import numpy as np

from ._box_convert import _convert_reference
from ._validate import as_array, as_boxes, check_box_format

__all__ = ["convert_boxes", "box_area"]


def convert_boxes(boxes, src: str, dst: str) -> np.ndarray:
    """Convert boxes between ``"xyxy"``, ``"xywh"`` and ``"cxcywh"``.

    Parameters
    ----------
    boxes : array-like of shape (N, 4)
        Boxes in format ``src``.
    src, dst : {"xyxy", "xywh", "cxcywh"}
        ``xyxy`` is ``(x1, y1, x2, y2)``; ``xywh`` is COCO's ``(x, y, w, h)``
        with ``(x, y)`` the top-left corner; ``cxcywh`` is YOLO's
        ``(cx, cy, w, h)``.

    Returns
    -------
    ndarray of shape (N, 4), float64
        A new array (never a view of the input).

    Raises
    ------
    ValueError
        Unknown format, wrong shape, NaN/inf, ``x2 < x1`` / ``y2 < y1`` or a
        negative width/height.

    Examples
    --------
    >>> from detmetrics import convert_boxes
    >>> convert_boxes([[10, 20, 30, 40]], "xywh", "xyxy").tolist()
    [[10.0, 20.0, 40.0, 60.0]]
    >>> convert_boxes([[10, 20, 40, 60]], "xyxy", "cxcywh").tolist()
    [[25.0, 40.0, 30.0, 40.0]]
    """
    check_box_format(src)
    if not isinstance(dst, str) or dst not in ("xyxy", "xywh", "cxcywh"):
        raise ValueError(f"dst must be one of 'xyxy', 'xywh', 'cxcywh'; got {dst!r}")
    # validate in the source format (negative w/h or x2 < x1 are errors there)
    as_boxes(boxes, "boxes", box_format=src)
    arr = as_array(boxes, "boxes")
    if arr.size == 0:
        return np.zeros((0, 4), dtype=np.float64)
    return np.ascontiguousarray(_convert_reference(arr, src, dst))


def box_area(boxes, *, box_format: str = "xyxy") -> np.ndarray:
    """Area ``(x2 - x1) * (y2 - y1)`` of each box (no +1 pixel), float64 ``(N,)``.

    Examples
    --------
    >>> from detmetrics import box_area
    >>> box_area([[0, 0, 10, 5], [2, 2, 2, 9]]).tolist()
    [50.0, 0.0]
    """
    b = as_boxes(boxes, "boxes", box_format=box_format)
    return _area(b)


def _area(b: np.ndarray) -> np.ndarray:
    return (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])
