"""Shared benchmark helpers: a median timer, a numba warm-up and a plain-text table.

Benchmarks report medians and ratios, never absolute targets: machines differ,
ratios on the same boxes in the same run travel better.
"""

from __future__ import annotations

import time

import numpy as np

__all__ = ["median_time", "warm_up", "print_table"]


def median_time(fn, repeat: int = 5, number: int = 1) -> float:
    """Median over ``repeat`` runs of the time of ``number`` calls of ``fn()``, per call, in seconds.

    No warm-up here: call :func:`warm_up` (or ``fn()`` once) first so that
    numba's compile / cache-load time is not measured.
    """
    times = []
    for _ in range(max(1, repeat)):
        start = time.perf_counter()
        for _ in range(max(1, number)):
            fn()
        times.append((time.perf_counter() - start) / max(1, number))
    return float(np.median(times))


def warm_up() -> None:
    """Call each public primitive once on tiny input with ``backend="numba"``.

    This compiles the kernels (or loads them from numba's on-disk cache) for
    the argument types the benchmarks use, so timings exclude it.
    """
    from detmetrics import (
        batched_nms,
        box_iou,
        complete_box_iou,
        distance_box_iou,
        generalized_box_iou,
        nms,
        soft_nms,
    )

    boxes = np.array([[0, 0, 10, 10], [1, 1, 11, 11], [20, 20, 30, 30], [0, 0, 10, 5]], dtype=np.float64)
    scores = np.array([0.9, 0.8, 0.7, 0.6])
    labels = np.array([0, 0, 1, 1], dtype=np.int64)
    for fn in (box_iou, generalized_box_iou, distance_box_iou, complete_box_iou):
        fn(boxes, boxes, backend="numba")
    nms(boxes, scores, 0.5, backend="numba")
    batched_nms(boxes, scores, labels, 0.5, backend="numba")
    soft_nms(boxes, scores, method="gaussian", backend="numba")
    soft_nms(boxes, scores, method="linear", backend="numba")


def _cell(value) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        if value != value:
            return "-"
        if abs(value) >= 100:
            return f"{value:.0f}"
        if abs(value) >= 10:
            return f"{value:.1f}"
        return f"{value:.2f}"
    return str(value)


def print_table(rows, columns) -> None:
    """Print ``rows`` (dicts) as an aligned text table with the given ``columns`` (keys, in order).

    Floats are rounded for reading; missing keys and NaN print as ``-``.
    """
    cells = [[_cell(row.get(c)) for c in columns] for row in rows]
    widths = [max([len(c)] + [len(r[k]) for r in cells]) for k, c in enumerate(columns)]
    line = "  ".join(c.ljust(w) if k == 0 else c.rjust(w) for k, (c, w) in enumerate(zip(columns, widths)))
    print(line)
    print("-" * len(line))
    for r in cells:
        print("  ".join(v.ljust(w) if k == 0 else v.rjust(w) for k, (v, w) in enumerate(zip(r, widths))))
