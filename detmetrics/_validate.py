"""Input validation: user data in, contiguous float64 / int64 arrays out.

Every public function calls these once, before dispatching to a NumPy
reference or a Numba kernel, so kernels only ever see validated, contiguous
arrays.  Each error names the argument, what was expected and what was
received.
"""

from __future__ import annotations

import numbers

import numpy as np

from ._box_convert import BOX_FORMATS, _convert_reference

__all__ = [
    "BOX_FORMATS",
    "BOX_KINDS",
    "as_array",
    "as_boxes",
    "as_any_boxes",
    "as_rotated_boxes",
    "as_quads",
    "box_kind",
    "as_scores",
    "as_labels",
    "check_choice",
    "check_box_format",
    "check_threshold",
    "check_positive",
    "check_same_length",
]

# Coordinates and sizes float64 can take through IoU: with |coordinate| <= 2**500 and every
# width / height 0 or >= 2**-500, areas, unions, enclosing boxes and squared distances stay
# finite and normal, so no IoU silently becomes 0 or NaN (IoU is scale-invariant: rescale
# data outside these limits).
COORD_LIMIT = 2.0**500
SIZE_MIN = 2.0**-500
_LIMITS = "|coordinates| <= 2**500 (~3.3e150) and sizes 0 or >= 2**-500 (~3.1e-151)"

#: The largest count (``max_detections``, budgets) accepted: far beyond any data, and int64-safe.
MAX_COUNT = 2**62

#: The one vocabulary of box kinds: axis-aligned ``(N, 4)`` in a ``box_format``,
#: rotated ``(N, 5)`` ``(cx, cy, w, h, angle)``, convex quads ``(N, 4, 2)`` (or ``(N, 8)``).
BOX_KINDS = ("axis", "rotated", "quad")

# Relative tolerance of the convexity test: a turn with sin(angle) > -1e-12 counts
# as convex, so corners computed with rounding (zero-width boxes) are accepted.
_CONVEX_RTOL = 1e-12


def _describe(value) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def as_array(value, name: str, *, dtype=np.float64, ndim=None, allow_bool: bool = False) -> np.ndarray:
    """Convert ``value`` (list, ndarray, anything with ``__array__``) to a contiguous array.

    Raises ``TypeError`` for non-numeric data (strings, objects, booleans
    unless ``allow_bool``, which reads them as 0/1) and ``ValueError`` for
    ragged nesting or a wrong number of dimensions.  With ``dtype=np.int64``
    values must be integral and within int64 (checked before the cast, so
    ``1e19`` or a uint64 ``2**63`` is an error, not a wrapped number).  A
    tensor that requires grad is detached (and moved to the CPU) first.
    """
    if value is None:
        raise TypeError(f"{name} must be an array-like of numbers; got None")
    if isinstance(value, (str, bytes, dict)):
        raise TypeError(f"{name} must be an array-like of numbers; got {type(value).__name__}")
    value = _detached(value)
    try:
        arr = np.asarray(value)
    except (ValueError, TypeError) as exc:
        why = "its rows have different lengths" if "inhomogeneous" in str(exc) else str(exc)
        raise ValueError(f"{name} could not be read as a rectangular numeric array ({why})") from None
    if arr.dtype == object:
        # e.g. a list holding None, Python ints beyond int64, or nested ragged sequences
        if dtype is np.int64:
            _check_int64_objects(arr, name)
        try:
            arr = arr.astype(np.float64)
        except (ValueError, TypeError, OverflowError):
            raise TypeError(f"{name} must be numeric; got dtype object") from None
    if arr.dtype.kind == "b":
        if not allow_bool:
            raise TypeError(f"{name} must be numeric; got dtype bool")
        arr = arr.astype(np.uint8)
    if arr.dtype.kind not in "iuf":
        raise TypeError(f"{name} must be numeric; got dtype {arr.dtype}")
    if ndim is not None and arr.ndim != ndim:
        raise ValueError(f"{name} must be {ndim}-dimensional; got shape {arr.shape}")
    if dtype is np.int64:
        _check_int64_range(arr, name)
    return np.ascontiguousarray(arr, dtype=dtype)


def within(arr: np.ndarray, limit: float) -> bool:
    """Every value finite with ``|value| <= limit``: two reductions, no temporary array.

    (``np.abs(arr).max()`` would write a copy of ``arr`` first, 128 MB at 4M boxes.)  A NaN
    fails: ``max`` propagates it and every comparison with it is false.  ``limit=inf`` asks for
    finite values, which is ``all_finite``.
    """
    if arr.size == 0:
        return True
    if limit == np.inf:
        return bool(arr.max() < np.inf and arr.min() > -np.inf)
    return bool(arr.max() <= limit and arr.min() >= -limit)


def all_finite(arr: np.ndarray) -> bool:
    """``np.isfinite(arr).all()`` without its boolean temporary (see ``within``)."""
    return within(arr, np.inf)


_INT64_RANGE = "[-2**63, 2**63)"


def _check_int64_objects(arr: np.ndarray, name: str) -> None:
    """Python ints beyond int64 in an object array: a named error before any cast (which would round them)."""
    for i, v in enumerate(arr.ravel()):
        if isinstance(v, (int, np.integer)) and not isinstance(v, bool) and not -(2**63) <= int(v) < 2**63:
            raise ValueError(f"{name} must hold integers in {_INT64_RANGE} (int64); got {v!r} at index {i}")


def _check_int64_range(arr: np.ndarray, name: str) -> None:
    """Integral and within int64, checked before the cast (uint64 and floats would wrap or merge)."""
    flat = arr.ravel()
    if arr.dtype.kind == "f":
        finite = np.isfinite(flat)
        if not finite.all():
            bad = int(np.flatnonzero(~finite)[0])
            raise ValueError(f"{name} contains NaN or infinite values (first at index {bad})")
        whole = flat == np.round(flat)
        if not whole.all():
            bad = int(np.flatnonzero(~whole)[0])
            raise ValueError(f"{name} must hold integers; got {flat[bad]!r} at index {bad}")
        out = (flat < -(2.0**63)) | (flat >= 2.0**63)
    elif arr.dtype.kind == "u" and arr.dtype.itemsize == 8:
        out = flat > np.uint64(2**63 - 1)
    else:
        return
    if out.any():
        bad = int(np.flatnonzero(out)[0])
        raise ValueError(f"{name} must hold integers in {_INT64_RANGE} (int64); got {flat[bad].item()!r} at index {bad}")


def _detached(value):
    """A tensor that requires grad (torch) is read through ``.detach()`` (and ``.cpu()``), without importing torch."""
    if getattr(value, "requires_grad", False) and callable(getattr(value, "detach", None)):
        value = value.detach()
    if hasattr(value, "device") and callable(getattr(value, "cpu", None)) and hasattr(value, "__array__"):
        if str(getattr(value, "device", "cpu")) != "cpu":
            value = value.cpu()
    return value


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


def _row_name(name: str, row: int, locate) -> tuple:
    """(argument name, row) for an error message; ``locate`` maps a row of a concatenation to its part."""
    return (name, row) if locate is None else locate(row)


def box_kind(shape) -> str | None:
    """The kind (``"axis"``, ``"rotated"``, ``"quad"``) a box array's shape says, or None.

    ``(N, 4)`` is axis-aligned, ``(N, 5)`` rotated, ``(N, 4, 2)`` and ``(N, 8)``
    quads; ``[]`` (shape ``(0,)``) is an empty axis-aligned array.  Any other
    shape gives None.

    >>> box_kind((3, 4)), box_kind((3, 5)), box_kind((3, 4, 2)), box_kind((0,)), box_kind((3, 6))
    ('axis', 'rotated', 'quad', 'axis', None)
    """
    shape = tuple(shape)
    if len(shape) == 1 and shape[0] == 0:
        return "axis"
    if len(shape) == 2:
        return {4: "axis", 5: "rotated", 8: "quad"}.get(shape[1], "axis" if shape == (0, 0) else None)
    if len(shape) == 3 and shape[1:] == (4, 2):
        return "quad"
    return None


def as_any_boxes(boxes, name: str = "boxes", *, box_format: str = "xyxy", kinds=BOX_KINDS, dst: str = "xyxy",
                 locate=None) -> tuple:
    """The one box gate: validate boxes of any kind; return ``(array, kind)``.

    ``kind`` is one of ``BOX_KINDS``, decided by the shape (``box_kind``).
    Axis-aligned boxes come back as contiguous ``(N, 4)`` float64 in ``dst``
    (validated in ``box_format``), rotated boxes as ``(N, 5)``, quads as
    canonically ordered ``(N, 4, 2)``.  ``kinds`` restricts what is accepted;
    ``locate(row) -> (name, row)`` names the part a row of a concatenated
    array came from (``predictions[3]['boxes']``, row 2) in error messages.

    >>> arr, kind = as_any_boxes([[0, 0, 2, 1, 0.5]])
    >>> kind, arr.shape
    ('rotated', (1, 5))
    >>> as_any_boxes([[0, 0, 1, 1, 1]], kinds=("axis",))
    Traceback (most recent call last):
    ...
    ValueError: boxes must have shape (N, 4) for box_format='xyxy'; got shape (1, 5)
    """
    if not isinstance(boxes, np.ndarray):
        boxes = as_array(boxes, name)
    kind = box_kind(boxes.shape)
    if kind is None or kind not in kinds:
        shapes = {"axis": f"(N, 4) for box_format={box_format!r}", "rotated": "(N, 5) (rotated)",
                  "quad": "(N, 4, 2) (quads)"}
        wanted = [shapes[k] for k in kinds]
        expected = wanted[0] if len(wanted) == 1 else ", ".join(wanted[:-1]) + " or " + wanted[-1]
        raise ValueError(f"{name} must have shape {expected}; got shape {boxes.shape}")
    if kind == "axis":
        return as_boxes(boxes, name, box_format=box_format, dst=dst, locate=locate), kind
    if kind == "rotated":
        return as_rotated_boxes(boxes, name, locate=locate), kind
    return as_quads(boxes, name, locate=locate), kind


def as_boxes(boxes, name: str = "boxes", *, box_format: str = "xyxy", dst: str = "xyxy", locate=None) -> np.ndarray:
    """Validate axis-aligned boxes and return them as contiguous ``(N, 4)`` float64 in ``dst`` (xyxy).

    Empty input (``[]``, ``np.empty((0, 4))``) gives an empty ``(0, 4)`` array.
    Raises for a wrong shape, NaN/inf, negative width/height (``xywh``,
    ``cxcywh``) and ``x2 < x1`` or ``y2 < y1`` (``xyxy``).  Boxes already in
    ``dst`` are not converted (``xywh`` stays bit-exact for COCO arithmetic).
    """
    check_box_format(box_format)
    if isinstance(boxes, np.ndarray) and boxes.dtype == np.float64 and boxes.flags.c_contiguous:
        arr = boxes  # already validated upstream as numeric (the evaluation's concatenation)
    else:
        arr = as_array(boxes, name)
    # empty: [] or (0, 4) / (0, 0); not (3, 0), which is three rows of the wrong width
    if arr.size == 0 and (arr.ndim == 1 or (arr.ndim == 2 and arr.shape[0] == 0 and arr.shape[1] in (0, 4))):
        return np.zeros((0, 4), dtype=np.float64)
    if arr.ndim != 2 or arr.shape[1] != 4:
        raise ValueError(f"{name} must have shape (N, 4) for box_format={box_format!r}; got shape {arr.shape}")
    if box_format != "cxcywh":
        # the common case in a few whole-array passes: every coordinate finite and within the limit
        # (NaN fails the <=), every size >= SIZE_MIN; otherwise the checks below find and name the row
        with np.errstate(over="ignore", invalid="ignore"):  # inf/NaN sizes fail the test and are named below
            sizes = arr[:, 2:] - arr[:, :2] if box_format == "xyxy" else arr[:, 2:]
        if within(arr, COORD_LIMIT) and sizes.min() >= SIZE_MIN:
            if box_format == dst:
                return arr
            if box_format == "xyxy" and dst == "xywh":
                return np.concatenate((arr[:, :2], sizes), axis=1)  # the same subtraction as the conversion
            return np.ascontiguousarray(_convert_reference(arr, box_format, dst))
    if not np.isfinite(arr).all():
        row = int(np.flatnonzero(~np.isfinite(arr).all(axis=1))[0])
        part, local = _row_name(name, row, locate)
        raise ValueError(f"{part} contains NaN or infinite values (first at row {local}: {arr[row].tolist()})")
    if box_format == "xyxy":
        bad = (arr[:, 2] < arr[:, 0]) | (arr[:, 3] < arr[:, 1])
    else:
        bad = (arr[:, 2] < 0) | (arr[:, 3] < 0)
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        part, local = _row_name(name, row, locate)
        if box_format == "xyxy":
            which = "x2 < x1" if arr[row, 2] < arr[row, 0] else "y2 < y1"
        else:
            which = "a negative width or height"
        raise ValueError(f"{part} has {which} at row {local} ({arr[row].tolist()})")
    if box_format == "xyxy":
        with np.errstate(over="ignore"):  # an overflowing width is reported by _check_scale
            _check_scale(arr, arr[:, 2:] - arr[:, :2], name, locate)
    else:
        _check_scale(arr, arr[:, 2:], name, locate)
    if box_format == dst:
        return arr
    return np.ascontiguousarray(_convert_reference(arr, box_format, dst))


def _check_scale(coords: np.ndarray, sizes: np.ndarray, name: str, locate) -> None:
    """Coordinates and sizes within what float64 areas can hold (``_LIMITS``), else a named error."""
    if coords.size == 0:
        return
    if np.abs(coords).max() > COORD_LIMIT or ((sizes > 0) & (sizes < SIZE_MIN)).any():
        rows = (np.abs(coords.reshape(coords.shape[0], -1)) > COORD_LIMIT).any(axis=1)
        rows |= ((sizes > 0) & (sizes < SIZE_MIN)).reshape(sizes.shape[0], -1).any(axis=1)
        row = int(np.flatnonzero(rows)[0])
        part, local = _row_name(name, row, locate)
        raise ValueError(f"{part} is outside the range float64 IoU can handle at row {local} "
                         f"({coords[row].tolist()}): needs {_LIMITS}; rescale the boxes (IoU is scale-invariant)")


def as_rotated_boxes(boxes, name: str = "boxes", *, locate=None) -> np.ndarray:
    """Validate rotated boxes ``(cx, cy, w, h, angle)``; return contiguous ``(N, 5)`` float64.

    Empty input gives ``(0, 5)``.  Raises ``ValueError`` for a wrong shape, NaN or
    infinite values and a negative width or height (naming the row), ``TypeError``
    for non-numeric data.

    Examples
    --------
    >>> as_rotated_boxes([[5, 5, 4, 2, 0]]).tolist()
    [[5.0, 5.0, 4.0, 2.0, 0.0]]
    >>> as_rotated_boxes([]).shape
    (0, 5)
    """
    arr = as_array(boxes, name)
    # empty: [] or (0, 5) / (0, 0); not (3, 0), which is three rows of the wrong width
    if arr.size == 0 and (arr.ndim == 1 or (arr.ndim == 2 and arr.shape[0] == 0 and arr.shape[1] in (0, 5))):
        return np.zeros((0, 5), dtype=np.float64)
    if arr.ndim != 2 or arr.shape[1] != 5:
        raise ValueError(f"{name} must have shape (N, 5) for rotated boxes (cx, cy, w, h, angle); got shape {arr.shape}")
    finite = np.isfinite(arr)
    if not finite.all():
        row = int(np.flatnonzero(~finite.all(axis=1))[0])
        part, local = _row_name(name, row, locate)
        raise ValueError(f"{part} contains NaN or infinite values (first at row {local}: {arr[row].tolist()})")
    bad = (arr[:, 2] < 0) | (arr[:, 3] < 0)
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        part, local = _row_name(name, row, locate)
        raise ValueError(f"{part} has a negative width or height at row {local} ({arr[row].tolist()})")
    _check_scale(arr[:, :4], arr[:, 2:4], name, locate)
    return np.array(arr, dtype=np.float64, order="C", copy=True)


def as_quads(quads, name: str = "quads", *, locate=None) -> np.ndarray:
    """Validate convex quadrilaterals; return contiguous ``(N, 4, 2)`` float64, canonically ordered.

    Accepts ``(N, 4, 2)`` or ``(N, 8)`` (``x1, y1, ..., x4, y4``).  Vertices must
    be in boundary order, either orientation, any starting vertex; the result
    is counter-clockwise (positive shoelace area) and starts at the vertex with
    the smallest ``(x, y)``.  Empty input gives ``(0, 4, 2)``.

    Raises ``ValueError`` for a wrong shape, NaN or infinite values, or a quad
    that is not convex or is self-intersecting (naming the row).  Quads with
    collinear corners (zero area, or a triangle with a repeated vertex) are
    accepted.

    Examples
    --------
    >>> as_quads([[[3, 0], [0, 0], [0, 2], [3, 2]]]).tolist()
    [[[0.0, 0.0], [3.0, 0.0], [3.0, 2.0], [0.0, 2.0]]]
    >>> as_quads([[0, 0, 1, 1, 1, 0, 0, 1]])
    Traceback (most recent call last):
    ...
    ValueError: quads row 0 is not a convex quadrilateral with its vertices in boundary order (non-convex or self-intersecting): [[0.0, 0.0], [1.0, 1.0], [1.0, 0.0], [0.0, 1.0]]
    """
    arr = as_array(quads, name)
    if arr.size == 0 and arr.shape[0] == 0 and (
        arr.ndim == 1 or (arr.ndim == 2 and arr.shape[1] in (0, 8)) or (arr.ndim == 3 and arr.shape[1:] == (4, 2))
    ):
        return np.zeros((0, 4, 2), dtype=np.float64)
    if arr.ndim == 2 and arr.shape[1] == 8:
        arr = arr.reshape(-1, 4, 2)
    if arr.ndim != 3 or arr.shape[1:] != (4, 2):
        raise ValueError(f"{name} must have shape (N, 4, 2) or (N, 8) for quadrilaterals; got shape {arr.shape}")
    finite = np.isfinite(arr).reshape(arr.shape[0], -1).all(axis=1)
    if not finite.all():
        row = int(np.flatnonzero(~finite)[0])
        part, local = _row_name(name, row, locate)
        raise ValueError(f"{part} contains NaN or infinite values (first at row {local}: {arr[row].tolist()})")
    _check_scale(arr, np.zeros((arr.shape[0], 1)), name, locate)
    quads = np.array(arr, dtype=np.float64, order="C", copy=True)
    # orient counter-clockwise: reverse the vertex order where the signed area is negative
    clockwise = _signed_area(quads) < 0
    quads[clockwise] = quads[clockwise, ::-1]
    # convex: every turn e_k x e_{k+1} is >= 0 (up to a relative tolerance)
    edges = np.roll(quads, -1, axis=1) - quads
    nxt = np.roll(edges, -1, axis=1)
    turn = edges[..., 0] * nxt[..., 1] - edges[..., 1] * nxt[..., 0]
    scale = np.hypot(edges[..., 0], edges[..., 1]) * np.hypot(nxt[..., 0], nxt[..., 1])
    bad = (turn < -_CONVEX_RTOL * scale).any(axis=1)
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        part, local = _row_name(name, row, locate)
        raise ValueError(
            f"{part} row {local} is not a convex quadrilateral with its vertices in boundary order "
            f"(non-convex or self-intersecting): {arr[row].tolist()}"
        )
    return _canonical_start(quads)


def _signed_area(polys: np.ndarray) -> np.ndarray:
    """Shoelace signed area of ``(N, 4, 2)`` quads, relative to the first vertex."""
    d = polys[:, 1:, :] - polys[:, :1, :]
    c1 = d[:, 0, 0] * d[:, 1, 1] - d[:, 1, 0] * d[:, 0, 1]
    c2 = d[:, 1, 0] * d[:, 2, 1] - d[:, 2, 0] * d[:, 1, 1]
    return 0.5 * (c1 + c2)


def _canonical_start(polys: np.ndarray) -> np.ndarray:
    """Roll each quad so that it starts at its vertex with the smallest ``(x, y)`` (first on ties)."""
    x, y = polys[:, :, 0], polys[:, :, 1]
    xmin = np.minimum(np.minimum(x[:, 0], x[:, 1]), np.minimum(x[:, 2], x[:, 3]))
    start = np.argmin(np.where(x == xmin[:, None], y, np.inf), axis=1)
    out = np.empty_like(polys)
    for shift in range(4):
        rows = start == shift
        out[rows] = np.roll(polys[rows], -shift, axis=1)
    return out


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
