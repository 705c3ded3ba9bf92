"""Box-format conversion on validated arrays, below everything that needs it.

``_validate`` (which converts while it validates) and ``boxes`` (the public
``convert_boxes``) both import from here, so neither imports the other.
Conversions are elementwise arithmetic on ``(N, 4)`` arrays; NumPy already
runs them at memory speed, so this family has no separate Numba kernel.
"""

from __future__ import annotations

import numpy as np

BOX_FORMATS = ("xyxy", "xywh", "cxcywh")


def _convert_reference(boxes: np.ndarray, src: str, dst: str) -> np.ndarray:
    """Format conversion on a validated ``(N, 4)`` float64 array (always a copy)."""
    b = np.array(boxes, dtype=np.float64, copy=True)
    if src == dst:
        return b
    # to xyxy
    if src == "xywh":
        b[:, 2] = b[:, 0] + b[:, 2]
        b[:, 3] = b[:, 1] + b[:, 3]
    elif src == "cxcywh":
        half_w = b[:, 2] / 2.0
        half_h = b[:, 3] / 2.0
        x1 = b[:, 0] - half_w
        y1 = b[:, 1] - half_h
        b[:, 2] = b[:, 0] + half_w
        b[:, 3] = b[:, 1] + half_h
        b[:, 0] = x1
        b[:, 1] = y1
    # from xyxy
    if dst == "xywh":
        b[:, 2] = b[:, 2] - b[:, 0]
        b[:, 3] = b[:, 3] - b[:, 1]
    elif dst == "cxcywh":
        w = b[:, 2] - b[:, 0]
        h = b[:, 3] - b[:, 1]
        b[:, 0] = b[:, 0] + w / 2.0
        b[:, 1] = b[:, 1] + h / 2.0
        b[:, 2] = w
        b[:, 3] = h
    return b
