"""Positions of ids in a sorted set of ids: one gather through a table for compact integer ranges."""

from __future__ import annotations

import numpy as np

__all__ = ["covers", "isin", "lookup_table", "positions"]


def lookup_table(universe: np.ndarray, ids: np.ndarray):
    """``(table, lo)`` with ``table[id - lo]`` the position of ``id`` in the sorted, unique ``universe``.

    ``-1`` marks an id of ``[lo, lo + len(table))`` that is not in ``universe``; ids outside that
    range are the caller's to handle.  None unless both are integer arrays and the universe's
    range is compact (at most ~4 table entries per id of ``ids``).  ``lo`` is 0 when the smallest
    id is a small positive number (ids from 1, as COCO's), so that ``table[ids]`` needs no
    offset array.
    """
    n = universe.shape[0]
    if n == 0 or universe.dtype.kind != "i" or ids.dtype.kind != "i" or ids.shape[0] == 0:
        return None
    lo, hi = int(universe[0]), int(universe[-1])
    if 0 < lo <= 4096:
        lo = 0
    if hi - lo > 4 * ids.shape[0] + 4096:
        return None
    table = np.full(hi - lo + 1, -1, dtype=np.int64)
    table[(universe - lo).astype(np.int64)] = np.arange(n, dtype=np.int64)
    return table, lo


def covers(found, ids: np.ndarray) -> bool:
    """Whether every id of ``ids`` indexes the ``(table, lo)`` of ``lookup_table`` (two reductions)."""
    table, lo = found
    return ids.shape[0] == 0 or (int(ids.min()) >= lo and int(ids.max()) < lo + table.shape[0])


def positions(universe: np.ndarray, ids: np.ndarray) -> np.ndarray:
    """Positions (int64) of ``ids`` in the sorted, unique ``universe``; -1 where an id is absent.

    Integer ids whose range is compact go through a lookup table (``lookup_table``; measured
    ~3x faster than ``searchsorted`` at 400k ids); anything else by ``searchsorted``.  Both give
    the same positions (tested).
    """
    n = universe.shape[0]
    if n == 0:
        return np.full(ids.shape[0], -1, dtype=np.int64)
    found = lookup_table(universe, ids)
    if found is not None:
        table, lo = found
        if covers(found, ids):  # the usual case: one gather
            return table[ids - lo] if lo else table[ids]
        # ids outside [lo, hi] map to -1; the rest through the table (no wrap-around of the offsets)
        hi = lo + table.shape[0] - 1
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
