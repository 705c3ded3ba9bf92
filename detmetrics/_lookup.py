"""Positions of ids in a sorted set of ids: one gather through a table for compact integer ranges."""

from __future__ import annotations

import numpy as np

__all__ = ["isin", "positions"]


def positions(universe: np.ndarray, ids: np.ndarray) -> np.ndarray:
    """Positions (int64) of ``ids`` in the sorted, unique ``universe``; -1 where an id is absent.

    Integer ids whose range is compact (at most ~4 table entries per id) go through a lookup
    table (measured ~3x faster than ``searchsorted`` at 400k ids); anything else by
    ``searchsorted``.  Both give the same positions (tested).
    """
    n = universe.shape[0]
    if n == 0:
        return np.full(ids.shape[0], -1, dtype=np.int64)
    if universe.dtype.kind == "i" and ids.dtype.kind == "i" and ids.shape[0]:
        lo, hi = int(universe[0]), int(universe[-1])
        if 0 < lo <= 4096:
            lo = 0  # a table from 0 (ids from 1, as COCO's): the ids index it with no offset array
        if hi - lo <= 4 * ids.shape[0] + 4096:
            table = np.full(hi - lo + 1, -1, dtype=np.int64)
            table[(universe - lo).astype(np.int64)] = np.arange(n, dtype=np.int64)
            if int(ids.min()) >= lo and int(ids.max()) <= hi:  # the usual case: one gather
                return table[ids - lo] if lo else table[ids]
            # ids outside [lo, hi] map to -1; the rest through the table (no wrap-around of the offsets)
            inside = (ids >= lo) & (ids <= hi)
            offset = np.where(inside, ids, lo) - lo
            return np.where(inside, table[offset.astype(np.int64)], -1)
    pos = np.searchsorted(universe, ids)
    clip = np.minimum(pos, n - 1)
    return np.where((pos < n) & (universe[clip] == ids), pos, -1).astype(np.int64)


def isin(values: np.ndarray, universe: np.ndarray) -> np.ndarray:
    """``np.isin(values, universe)`` for integer arrays; one gather through a boolean table.

    When ``universe`` spans a compact non-negative range (as category ids do) the answer
    is one pass over ``values`` that writes only the result: ``np.isin``'s table method
    also builds a range mask and two index arrays of ``values``' length (at 4M labels,
    20x its 400k time).  Any other input goes to ``np.isin``.  Both agree (tested).
    """
    if (values.dtype.kind in "iu" and universe.dtype.kind in "iu" and values.size and universe.size
            and int(universe.min()) >= 0):
        hi = int(universe.max())
        if hi <= 4 * values.size + 4096:
            lo_v, hi_v = int(values.min()), int(values.max())
            if 0 <= lo_v and hi_v <= hi:
                table = np.zeros(hi + 1, dtype=bool)
                table[universe] = True
                return table[values]
    return np.isin(values, universe)
