"""Backend selection: the numba probe, ``resolve_backend`` and the ``kernel`` decorator.

Every primitive in detmetrics exists twice: a NumPy reference and a Numba
kernel. This module is the one place that knows whether numba is importable.

* ``kernel`` is ``numba.njit(cache=True, nogil=True)``: nopython mode, cached
  on disk, releases the GIL.  Compilation is lazy (on first call) so that
  ``import detmetrics`` stays cheap.  Without numba it is a no-op decorator and
  the kernels are plain Python (still correct, only slow); they are never
  dispatched to in that case.
* ``resolve_backend("auto")`` is ``"numba"`` when numba imports, otherwise
  ``"numpy"`` with a single warning.  ``backend="numba"`` without numba raises
  ``ImportError``.
"""

from __future__ import annotations

import warnings

__all__ = ["HAVE_NUMBA", "BACKENDS", "kernel", "parallel_kernel", "resolve_backend", "prange"]

BACKENDS = ("auto", "numba", "numpy")

try:  # pragma: no cover - exercised by whichever environment runs the tests
    import numba as _numba

    HAVE_NUMBA = True
    _NUMBA_ERROR = None
except Exception as exc:  # pragma: no cover - numba missing or broken
    _numba = None  # type: ignore[assignment]
    HAVE_NUMBA = False
    _NUMBA_ERROR = exc

_warned_no_numba = False


def kernel(func):
    """Compile ``func`` with ``numba.njit(cache=True, nogil=True)`` (lazy)."""
    if HAVE_NUMBA:
        return _numba.njit(cache=True, nogil=True)(func)
    return func


def parallel_kernel(func):
    """Like ``kernel`` with ``parallel=True``, for independent outer loops (``prange``)."""
    if HAVE_NUMBA:
        return _numba.njit(cache=True, nogil=True, parallel=True)(func)
    return func


if HAVE_NUMBA:
    prange = _numba.prange
else:  # pragma: no cover
    prange = range  # type: ignore[misc]


def resolve_backend(backend) -> str:
    """Return ``"numba"`` or ``"numpy"`` for a user's ``backend=`` argument.

    Raises
    ------
    ValueError
        ``backend`` is not one of ``"auto"``, ``"numba"``, ``"numpy"``.
    ImportError
        ``backend="numba"`` but numba cannot be imported.
    """
    global _warned_no_numba
    if not isinstance(backend, str) or backend not in BACKENDS:
        raise ValueError(f"backend must be one of 'auto', 'numba', 'numpy'; got {backend!r}")
    if backend == "numpy":
        return "numpy"
    if HAVE_NUMBA:
        return "numba"
    if backend == "numba":
        raise ImportError(
            f"backend='numba' was requested but numba cannot be imported ({_NUMBA_ERROR!r}); "
            "install numba or use backend='numpy'"
        )
    if not _warned_no_numba:
        warnings.warn(
            "numba is not importable; detmetrics falls back to its NumPy reference "
            "implementations (correct but slower)",
            RuntimeWarning,
            stacklevel=3,
        )
        _warned_no_numba = True
    return "numpy"
