"""Hypothesis strategies for rotated boxes ``(cx, cy, w, h, angle)`` and convex quadrilaterals.

Centres, sides and vertices sit on a coarse integer grid, and angles come
partly from a small set (0, pi/2, pi, 2 pi, ...), so that identical boxes,
boxes turned by pi, touching edges, nested boxes and zero-area boxes occur
often; the remaining angles are arbitrary floats.
"""

from __future__ import annotations

import math

import numpy as np
from hypothesis import strategies as st

__all__ = ["rotated_boxes", "quads", "SPECIAL_ANGLES"]

SPECIAL_ANGLES = (0.0, math.pi / 2, math.pi, 2 * math.pi, -math.pi / 2, math.pi / 4, -math.pi / 3, 3 * math.pi / 2)


def _angles():
    return st.one_of(
        st.sampled_from(SPECIAL_ANGLES),
        st.floats(-2 * math.pi, 2 * math.pi, allow_nan=False, allow_infinity=False),
    )


@st.composite
def rotated_boxes(draw, *, min_size=0, max_size=20, grid=20, max_side=10, allow_zero_area=True):
    """``(N, 5)`` float64 rotated boxes ``(cx, cy, w, h, angle)``, angle in radians.

    Parameters
    ----------
    min_size, max_size : int
        Bounds on the number of boxes ``N``.
    grid : int
        Centres are integers in ``[0, grid]``.
    max_side : int
        Widths and heights are integers in ``[0, max_side]`` (``[1, max_side]``
        when ``allow_zero_area`` is false).
    """
    n = draw(st.integers(min_size, max_size))
    low = 0 if allow_zero_area else 1
    rows = []
    for _ in range(n):
        cx = draw(st.integers(0, grid))
        cy = draw(st.integers(0, grid))
        w = draw(st.integers(low, max_side))
        h = draw(st.integers(low, max_side))
        rows.append((cx, cy, w, h, draw(_angles())))
    return np.array(rows, dtype=np.float64).reshape(n, 5)


@st.composite
def _one_quad(draw, grid, max_side, allow_zero_area):
    kind = draw(st.sampled_from(("rectangle", "parallelogram", "ellipse")))
    if kind == "rectangle":
        from ..rotated import rotated_to_corners

        box = draw(rotated_boxes(min_size=1, max_size=1, grid=grid, max_side=max_side, allow_zero_area=allow_zero_area))
        quad = rotated_to_corners(box)[0]
    elif kind == "parallelogram":
        o = np.array([draw(st.integers(0, grid)), draw(st.integers(0, grid))], dtype=np.float64)
        side = st.integers(-max_side, max_side)
        u = np.array([draw(side), draw(side)], dtype=np.float64)
        v = np.array([draw(side), draw(side)], dtype=np.float64)
        if not allow_zero_area:
            u = np.where((u == 0).all(), np.array([1.0, 0.0]), u)
            if u[0] * v[1] - u[1] * v[0] == 0:
                v = np.array([-u[1], u[0]])
        quad = np.array([o, o + u, o + u + v, o + v])
    else:
        # four points on an ellipse, in angular order: always convex
        c = np.array([draw(st.integers(0, grid)), draw(st.integers(0, grid))], dtype=np.float64)
        rx = draw(st.integers(1, max_side))
        ry = draw(st.integers(1, max_side))
        steps = sorted(draw(st.lists(st.integers(0, 15), min_size=4, max_size=4, unique=True)))
        t = np.array(steps, dtype=np.float64) * (math.pi / 8)
        quad = np.column_stack([c[0] + rx * np.cos(t), c[1] + ry * np.sin(t)])
    if draw(st.booleans()):
        quad = quad[::-1]
    return np.roll(quad, draw(st.integers(0, 3)), axis=0)


@st.composite
def quads(draw, *, min_size=0, max_size=20, grid=20, max_side=10, allow_zero_area=True):
    """``(N, 4, 2)`` float64 convex quadrilaterals, vertices in boundary order.

    A mix of rotated rectangles, integer parallelograms (touching edges and
    duplicates are common; zero-area ones when ``allow_zero_area``) and
    general convex quads with corners on an ellipse.  Each quad is listed
    clockwise or counter-clockwise from a random starting vertex.
    """
    n = draw(st.integers(min_size, max_size))
    items = [draw(_one_quad(grid, max_side, allow_zero_area)) for _ in range(n)]
    return np.array(items, dtype=np.float64).reshape(n, 4, 2)
