"""Named buffers reused from one block of an evaluation to the next.

A large evaluation runs category block by category block (``detmetrics.evaluate``):
each block's working arrays (sorted boxes, ranks, IoU blocks, codes) take the
memory of the previous block's instead of fresh pages.  Every fresh page costs a
page fault when first written (~2-3 us per 4 KB page in a VM, measured for
``docs/speed.md``), and glibc hands allocations above its mmap threshold (at most
32 MiB) back to the kernel on ``free``, so arrays of a 4M-detection evaluation
were fresh pages every time.

``empty(scratch, name, shape, dtype)`` is ``np.empty(shape, dtype)`` when
``scratch`` is None; else a view of the buffer kept under ``name``, grown when
too small.  A name's view is valid until the next ``empty`` of that name: the
caller gives every array that must live at the same time its own name.
"""

from __future__ import annotations

import math

import numpy as np


class Scratch:
    """Buffers by name, each as large as the largest request made under that name."""

    def __init__(self) -> None:
        self._buffers: dict = {}

    def empty(self, name: str, shape, dtype) -> np.ndarray:
        shape = (shape,) if isinstance(shape, (int, np.integer)) else tuple(int(s) for s in shape)
        dtype = np.dtype(dtype)
        n_bytes = math.prod(shape) * dtype.itemsize
        buf = self._buffers.get(name)
        if buf is None or buf.shape[0] < n_bytes:
            # a little headroom: the next block is rarely exactly as large
            buf = np.empty(max(n_bytes + n_bytes // 8, 64), dtype=np.uint8)
            self._buffers[name] = buf
        return buf[:n_bytes].view(dtype).reshape(shape)


def empty(scratch: Scratch | None, name: str, shape, dtype) -> np.ndarray:
    """``np.empty(shape, dtype)``, or a reused buffer of ``scratch`` (see the module's docstring)."""
    if scratch is None:
        return np.empty(shape, dtype=dtype)
    return scratch.empty(name, shape, dtype)
