"""Input validation: user data in, contiguous float64 / int64 arrays out.

Every public function calls these once, before dispatching to a NumPy
reference or a Numba kernel, so kernels only ever see validated, contiguous
arrays.  Each error names the argument, what was expected and what was
received.
"""

from __future__ import annotations

import numbers

import numpy as np

__all__ = [
    "BOX_FORMATS",
    "as_array",
    "as_boxes",
    "as_scores",
    "as_labels",
    "check_choice",
    "check_box_format",
    "check_threshold",
    "check_positive",
    "check_same_length",
]

BOX_FORMATS = ("xyxy", "xywh", "cxcywh")


def _describe(value) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def as_array(value, name: str, *, dtype=np.float64, ndim=None) -> np.ndarray:
    """Convert ``value`` (list, ndarray, anything with ``__array__``) to a contiguous array.

    Raises ``TypeError`` for non-numeric data (strings, objects, booleans) and
    ``ValueError`` for ragged nesting or a wrong number of dimensions.
    """
    if value is None:
        raise TypeError(f"{name} must be an array-like of numbers; got None")
    if isinstance(value, (str, bytes, dict)):
        raise TypeError(f"{name} must be an array-like of numbers; got {type(value).__name__}")
    try:
        arr = np.asarray(value)
    except (ValueError, TypeError) as exc:
        raise ValueError(f"{name} could not be read as a rectangular numeric array ({exc})") from None
    if arr.dtype == object:
        # e.g. a list holding None or nested ragged sequences
        try:
            arr = arr.astype(np.float64)
        except (ValueError, TypeError):
            raise TypeError(f"{name} must be numeric; got dtype object") from None
    if arr.dtype.kind == "b":
        raise TypeError(f"{name} must be numeric; got dtype bool")
    if arr.dtype.kind not in "iuf":
        raise TypeError(f"{name} must be numeric; got dtype {arr.dtype}")
    if ndim is not None and arr.ndim != ndim:
        raise ValueError(f"{name} must be {ndim}-dimensional; got shape {arr.shape}")
    if dtype is np.int64 and arr.dtype.kind == "f":
        if not np.all(np.isfinite(arr)):
            raise ValueError(f"{name} contains NaN or infinite values")
        if not np.all(arr == np.round(arr)):
            bad = int(np.flatnonzero(arr.ravel() != np.round(arr.ravel()))[0])
            raise ValueError(f"{name} must hold integers; got {arr.ravel()[bad]!r} at index {bad}")
    return np.ascontiguousarray(arr, dtype=dtype)


def _check_finite(arr: np.ndarray, name: str) -> None:
    if arr.size and not np.all(np.isfinite(arr)):
        bad = np.argwhere(~np.isfinite(arr))[0]
        where = f"row {bad[0]}" if arr.ndim > 1 else f"index {bad[0]}"
        raise ValueError(f"{name} contains NaN or infinite values (first at {where})")


def check_box_format(box_format) -> str:
    """Return ``box_format`` if it is one of ``"xyxy"``, ``"xywh"``, ``"cxcywh"``."""
    if not isinstance(box_format, str) or box_format not in BOX_FORMATS:
        raise ValueError(f"box_format must be one of 'xyxy', 'xywh', 'cxcywh'; got {_describe(box_format)}")
    return box_format


def as_boxes(boxes, name: str = "boxes", *, box_format: str = "xyxy", columns: int = 4) -> np.ndarray:
    """Validate axis-aligned boxes and return them as contiguous ``(N, 4)`` float64 xyxy.

    Empty input (``[]``, ``np.empty((0, 4))``) gives an empty ``(0, 4)`` array.
    Raises for a wrong shape, NaN/inf, negative width/height (``xywh``,
    ``cxcywh``) and ``x2 < x1`` or ``y2 < y1`` (``xyxy``).
    """
    check_box_format(box_format)
    arr = as_array(boxes, name)
    # empty: [] or (0, 4) / (0, 0); not (3, 0), which is three rows of the wrong width
    if arr.size == 0 and (arr.ndim == 1 or (arr.ndim == 2 and arr.shape[0] == 0 and arr.shape[1] in (0, 4))):
        return np.zeros((0, 4), dtype=np.float64)
    if arr.ndim != 2 or arr.shape[1] != 4:
        raise ValueError(f"{name} must have shape (N, 4) for box_format={box_format!r}; got shape {arr.shape}")
    _check_finite(arr, name)
    if box_format == "xyxy":
        bad = (arr[:, 2] < arr[:, 0]) | (arr[:, 3] < arr[:, 1])
        if bad.any():
            row = int(np.flatnonzero(bad)[0])
            which = "x2 < x1" if arr[row, 2] < arr[row, 0] else "y2 < y1"
            raise ValueError(f"{name} has {which} at row {row} ({arr[row].tolist()})")
        return arr
    bad = (arr[:, 2] < 0) | (arr[:, 3] < 0)
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        raise ValueError(f"{name} has a negative width or height at row {row} ({arr[row].tolist()})")
    from .boxes import _convert_reference

    return np.ascontiguousarray(_convert_reference(arr, box_format, "xyxy"))


def as_scores(scores, name: str = "scores", *, length: int | None = None, length_of: str = "boxes") -> np.ndarray:
    """Validate a 1-D score vector; return contiguous float64 of shape ``(N,)``."""
    # ndim is checked before as_array's ascontiguousarray, which turns a scalar into shape (1,)
    arr = as_array(scores, name, ndim=1)
    _check_finite(arr, name)
    if length is not None and arr.shape[0] != length:
        raise ValueError(f"{name} has length {arr.shape[0]} but {length_of} has {length} rows")
    return arr


def as_labels(labels, name: str = "labels", *, length: int | None = None, length_of: str = "boxes") -> np.ndarray:
    """Validate integer class labels; return contiguous int64 of shape ``(N,)``.

    Floats holding whole numbers (``1.0``) are accepted; ``1.5`` is an error.
    """
    arr = as_array(labels, name, dtype=np.int64, ndim=1)  # ndim before the scalar -> (1,) promotion
    if length is not None and arr.shape[0] != length:
        raise ValueError(f"{name} has length {arr.shape[0]} but {length_of} has {length} rows")
    return arr


def check_same_length(name_a: str, a: np.ndarray, name_b: str, b: np.ndarray) -> None:
    """Raise ``ValueError`` unless ``a`` and ``b`` have the same number of rows."""
    if a.shape[0] != b.shape[0]:
        raise ValueError(f"{name_a} has {a.shape[0]} rows but {name_b} has {b.shape[0]}")


def _as_real(value, name: str) -> float:
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (numbers.Real, np.integer, np.floating)):
        raise TypeError(f"{name} must be a real number; got {_describe(value)}")
    value = float(value)
    if value != value:
        raise ValueError(f"{name} must not be NaN")
    return value


def check_threshold(value, name: str, *, low: float = 0.0, high: float = 1.0) -> float:
    """Return ``value`` as a float, raising unless ``low <= value <= high``."""
    value = _as_real(value, name)
    if not (low <= value <= high):
        raise ValueError(f"{name} must be in [{low:g}, {high:g}]; got {value!r}")
    return value


def check_positive(value, name: str, *, allow_zero: bool = False) -> float:
    """Return ``value`` as a finite float, raising unless it is > 0 (or >= 0)."""
    value = _as_real(value, name)
    if not np.isfinite(value) or value < 0 or (value == 0 and not allow_zero):
        relation = ">= 0" if allow_zero else "> 0"
        raise ValueError(f"{name} must be finite and {relation}; got {value!r}")
    return value


def check_choice(value, name: str, choices) -> str:
    """Return ``value`` if it is one of the string ``choices``."""
    if not isinstance(value, str) or value not in choices:
        options = ", ".join(repr(c) for c in choices)
        raise ValueError(f"{name} must be one of {options}; got {_describe(value)}")
    return value
