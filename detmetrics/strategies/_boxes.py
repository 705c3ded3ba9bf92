"""Hypothesis strategies for axis-aligned boxes, scores and labels.

Boxes are drawn as ``x1, y1, w, h`` on a coarse integer grid and converted,
so that every drawn box is valid in its format and ties, touching edges,
duplicates and zero-area boxes occur often.  Scores come from a small set so
that score ties occur; labels from a few classes.
"""

from __future__ import annotations

import numpy as np
from hypothesis import strategies as st

__all__ = ["boxes", "scores", "labels", "box_pairs", "nms_inputs", "SCORE_SET"]

#: Scores drawn by ``scores`` (duplicates force ties).
SCORE_SET = (0.05, 0.1, 0.3, 0.5, 0.5, 0.7, 0.9, 1.0)


def _to_format(xywh: np.ndarray, box_format: str) -> np.ndarray:
    x, y, w, h = xywh.T
    if box_format == "xywh":
        return np.stack([x, y, w, h], axis=1)
    if box_format == "cxcywh":
        return np.stack([x + w / 2, y + h / 2, w, h], axis=1)
    return np.stack([x, y, x + w, y + h], axis=1)


@st.composite
def boxes(draw, *, min_size=0, max_size=30, box_format="xyxy", grid=16, max_side=8, allow_zero_area=True, size=None):
    """``(N, 4)`` float64 boxes in ``box_format`` (``"xyxy"``, ``"xywh"``, ``"cxcywh"``).

    Parameters
    ----------
    min_size, max_size : int
        Bounds on ``N`` (ignored when ``size`` is given).
    box_format : str
        Output format.
    grid : int
        Top-left corners are integers in ``[0, grid]``.
    max_side : int
        Widths and heights are integers in ``[0, max_side]`` (``[1, max_side]``
        without zero-area boxes).
    allow_zero_area : bool
        Whether widths/heights of 0 may be drawn.
    size : int, optional
        Exact number of boxes.

    Examples
    --------
    >>> from hypothesis import given
    >>> from detmetrics.strategies import boxes
    >>> @given(boxes(max_size=5))
    ... def check(b):
    ...     assert b.shape[1] == 4 and (b[:, 2] >= b[:, 0]).all()
    >>> check()
    """
    n = size if size is not None else draw(st.integers(min_size, max_size))
    low_side = 0 if allow_zero_area else 1
    corner = st.integers(0, grid)
    side = st.integers(low_side, max_side)
    rows = draw(st.lists(st.tuples(corner, corner, side, side), min_size=n, max_size=n))
    xywh = np.array(rows, dtype=np.float64).reshape(n, 4)
    if n >= 2 and draw(st.booleans()):
        # exact duplicates of earlier rows
        dup = draw(st.lists(st.integers(0, n - 1), min_size=1, max_size=max(1, n // 3)))
        for k, src in enumerate(dup):
            xywh[(src + 1 + k) % n] = xywh[src]
    return np.ascontiguousarray(_to_format(xywh, box_format))


def scores(size: int):
    """``(size,)`` float64 scores from ``SCORE_SET`` (ties are common)."""
    return st.lists(st.sampled_from(SCORE_SET), min_size=size, max_size=size).map(
        lambda v: np.array(v, dtype=np.float64)
    )


def labels(size: int, *, n_classes: int = 3):
    """``(size,)`` int64 labels in ``[0, n_classes)``."""
    return st.lists(st.integers(0, n_classes - 1), min_size=size, max_size=size).map(
        lambda v: np.array(v, dtype=np.int64)
    )


@st.composite
def box_pairs(draw, *, max_size=20, box_format="xyxy", **kwargs):
    """Two independent box sets ``(boxes1, boxes2)`` on the same grid."""
    b1 = draw(boxes(max_size=max_size, box_format=box_format, **kwargs))
    b2 = draw(boxes(max_size=max_size, box_format=box_format, **kwargs))
    return b1, b2


@st.composite
def nms_inputs(draw, *, max_size=40, box_format="xyxy", n_classes=3, **kwargs):
    """``(boxes, scores, labels)`` for NMS, with score ties and overlapping duplicates."""
    b = draw(boxes(max_size=max_size, box_format=box_format, **kwargs))
    n = b.shape[0]
    return b, draw(scores(n)), draw(labels(n, n_classes=n_classes))
