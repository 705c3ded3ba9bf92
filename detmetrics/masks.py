"""Binary masks as COCO run-length encoding (RLE), equal to ``pycocotools.mask``.

An RLE is a dict ``{"size": [h, w], "counts": ...}``.  The mask's pixels are
read in column-major (Fortran) order, ``x`` outer and ``y`` inner, and
``counts`` holds the lengths of alternating runs, background first (so a
mask whose first pixel is set starts with a ``0``).  ``counts`` may be

* ``bytes`` or ``str``: pycocotools' compressed text.  Each count, after the
  first three, is stored as the difference to the count two places before;
  the value is written 5 bits per character, least significant group first,
  bit ``0x20`` meaning "more characters follow" and bit ``0x10`` of the last
  character the sign, and the character is that 6-bit value plus 48 (so the
  alphabet is ASCII 48-111).  This is ``maskApi.c``'s ``rleToString`` /
  ``rleFrString``; ``encode`` writes exactly pycocotools' bytes.
* a list (or 1-D array) of non-negative integers: uncompressed counts, as
  COCO's crowd annotations store them.

Every function here is number-for-number (and, for RLE output, byte-for-byte)
equal to its ``pycocotools.mask`` counterpart on valid input: ``encode``,
``decode``, ``area``, ``to_bbox`` (``toBbox``), ``from_polygons`` and
``from_boxes`` (``frPyObjects`` on polygons / xywh boxes), ``merge``, ``iou``.
The differences are in the interface and in what is refused:

* masks are ``(N, H, W)`` (pycocotools: ``(H, W, N)`` Fortran arrays); a
  ``(H, W)`` mask or a single RLE dict gives a single result, a list gives a
  list or an array, as in pycocotools;
* ``iou`` of an empty set is a ``(0, M)`` / ``(N, 0)`` array (pycocotools:
  ``[]``); boxes are not accepted (``detmetrics.box_iou`` is for boxes);
* a ``ValueError`` names the argument (and the RLE's position) for counts that
  do not add up to ``h * w``, negative counts, garbage compressed strings,
  RLEs of different sizes compared or merged (pycocotools returns -1 / an
  empty RLE or reads out of bounds), masks that are not 2-D / 3-D or hold
  values other than 0 and 1, and polygons with an odd number of coordinates or
  fewer than 3 points (see ``from_polygons``).

Flat layout (what the kernels and the evaluator see)
----------------------------------------------------
``N`` RLEs are three arrays: ``counts`` (int64, all counts one after the
other), ``count_offsets`` (int64, ``N + 1``; RLE ``i`` owns
``counts[count_offsets[i]:count_offsets[i + 1]]``) and ``sizes`` (int64,
``(N, 2)``, ``(h, w)``).  ``_flatten`` builds them from user input (masks or
RLE dicts) after validation.  For IoU the foreground runs are turned into
half-open intervals of column-major pixel indices, ``starts`` / ``ends``
(int64) with ``interval_offsets``, plus each RLE's area and exact bounding
box; two masks then intersect by merging their sorted interval lists, never
by touching pixels.

``_mask_iou_blocks`` scores groups the way ``detmetrics.matching._iou_blocks``
scores boxes: group ``g`` owns detections ``det_offsets[g]:det_offsets[g+1]``
and ground truths ``gt_offsets[g]:gt_offsets[g+1]`` (rows of the flat RLE
arrays) and gets a row-major ``(n_det_g, n_gt_g)`` block of ``iou_flat`` at
``iou_offsets[g]``; a crowd ground truth scores ``inter / area(det)``.
"""

from __future__ import annotations

import itertools
import math
import numbers

import numpy as np

from ._backend import defer_backend, kernel, resolve_backend
from ._validate import as_array, as_boxes, as_labels, as_scores, check_threshold

__all__ = ["area", "batched_nms", "decode", "encode", "from_boxes", "from_polygons", "iou", "merge", "nms", "to_bbox"]

_UINT32 = 1 << 32
# pycocotools upsamples polygon coordinates by 5 into C ints: |5 * coordinate| must stay below 2**31
_MAX_COORD = 4.0e8


# --------------------------------------------------------------------------------------
# input gates


def _describe(value) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _as_masks(masks, name: str):
    """Validate ``(N, H, W)`` / ``(H, W)`` 0-1 masks; return ``(uint8 (N, W, H) column-major copy, single, (H, W))``."""
    if masks is None or isinstance(masks, (str, bytes, dict)):
        raise TypeError(f"{name} must be an array of shape (N, H, W) or (H, W); got {type(masks).__name__}")
    try:
        arr = np.asarray(masks)
    except (ValueError, TypeError) as exc:
        raise ValueError(f"{name} could not be read as a rectangular array ({exc})") from None
    if arr.ndim not in (2, 3):
        raise ValueError(f"{name} must have shape (N, H, W) or (H, W); got shape {arr.shape}")
    single = arr.ndim == 2
    if single:
        arr = arr[None]
    if arr.dtype == np.bool_:
        arr = arr.view(np.uint8)
    elif arr.dtype.kind in "iuf":
        if arr.size and (arr.max() > 1 if arr.dtype.kind == "u" else not np.all((arr == 0) | (arr == 1))):
            bad = tuple(int(i) for i in np.argwhere((arr != 0) & (arr != 1))[0])
            where = bad[1:] if single else bad
            raise ValueError(
                f"{name} must hold only 0 and 1 (or booleans); got {arr[bad]!r} at index {where}; "
                "threshold probability maps first"
            )
    else:
        raise TypeError(f"{name} must be a boolean or 0/1 numeric array; got dtype {arr.dtype}")
    hw = (int(arr.shape[1]), int(arr.shape[2]))
    # no copy when the masks are C-ordered (N, H, W) or column-major per mask (pycocotools' layout)
    if arr.dtype == np.uint8 and not arr.flags.c_contiguous and arr.transpose(0, 2, 1).flags.c_contiguous:
        return arr.transpose(0, 2, 1), True, single, hw
    return np.ascontiguousarray(arr, dtype=np.uint8), False, single, hw


def _as_size(value, name: str):
    try:
        h, w = value
    except (TypeError, ValueError):
        raise ValueError(f"{name}['size'] must be [height, width]; got {_describe(value)}") from None
    for v in (h, w):
        if isinstance(v, (bool, np.bool_)) or not isinstance(v, (numbers.Integral, np.integer)) or v < 0:
            raise ValueError(f"{name}['size'] must be two non-negative integers; got {_describe(value)}")
    return int(h), int(w)


def _n_items(obj) -> int:
    """How many masks ``obj`` holds (a list / tuple / array of them, or one), for ``backend="auto"``'s estimate."""
    if isinstance(obj, (dict, str, bytes)):
        return 1
    try:
        return len(obj)
    except TypeError:
        return 1


def _as_rles(rles, name: str, backend: str):
    """Validate RLE dicts; return ``(counts, count_offsets, sizes, single)`` in the flat layout."""
    single = isinstance(rles, dict)
    items = [rles] if single else rles
    if isinstance(items, (str, bytes)) or not hasattr(items, "__len__"):
        raise TypeError(f"{name} must be an RLE dict or a list of RLE dicts; got {type(rles).__name__}")
    fast = _as_rles_fast(items, name, single, backend)
    if fast is not None:
        return fast
    n = len(items)
    sizes = np.empty((n, 2), dtype=np.int64)
    strings, string_pos, lists, list_pos = [], [], [], []
    for i, rle in enumerate(items):
        where = name if single else f"{name}[{i}]"
        if not isinstance(rle, dict):
            raise TypeError(f"{where} must be an RLE dict with 'size' and 'counts'; got {type(rle).__name__}")
        if "size" not in rle or "counts" not in rle:
            raise ValueError(f"{where} must have keys 'size' and 'counts'; got keys {sorted(rle)}")
        sizes[i] = _as_size(rle["size"], where)
        counts = rle["counts"]
        if isinstance(counts, str):
            try:
                counts = counts.encode("ascii")
            except UnicodeEncodeError:
                raise ValueError(f"{where}['counts'] is not a valid compressed RLE string (non-ASCII text)") from None
        if isinstance(counts, (bytes, bytearray, memoryview)):
            strings.append(bytes(counts))
            string_pos.append(i)
        else:
            lists.append(counts)
            list_pos.append(i)
    parts: list = [None] * n
    if strings:
        for k, text in enumerate(strings):
            if _SEPARATOR in text:  # the separator below is outside the alphabet: report it here
                where = name if single else f"{name}[{string_pos[k]}]"
                raise ValueError(
                    f"{where}['counts'] is not a valid compressed RLE string: a character outside "
                    f"pycocotools' alphabet (ASCII 48-111) at character {text.index(_SEPARATOR)}"
                )
        counts, offsets, err = _parse_strings(strings, np.full(len(strings), -1, dtype=np.int64), backend)
        if err[0] != 0:
            k = int(err[1])
            where = name if single else f"{name}[{string_pos[k]}]"
            reason = _STRING_ERRORS[int(err[0])]
            raise ValueError(
                f"{where}['counts'] is not a valid compressed RLE string: {reason} at character {int(err[2])}"
            )
        if not lists:
            order = np.asarray(string_pos, dtype=np.int64)
            if single or np.array_equal(order, np.arange(n)):
                return _checked(counts, offsets, sizes, name, single)
        for k, i in enumerate(string_pos):
            parts[i] = counts[offsets[k] : offsets[k + 1]]
    for i, raw in zip(list_pos, lists):
        where = name if single else f"{name}[{i}]"
        try:
            arr = np.asarray(raw)
        except (ValueError, TypeError):
            raise ValueError(f"{where}['counts'] must be bytes, str or a list of integers") from None
        if arr.ndim != 1 or (arr.size and arr.dtype.kind not in "iuf") or arr.dtype == object:
            raise ValueError(f"{where}['counts'] must be bytes, str or a 1-D list of integers; got {_describe(raw)}")
        if arr.size and (arr.dtype.kind == "f" and not np.all(arr == np.round(arr))):
            raise ValueError(f"{where}['counts'] must hold integers; got {_describe(raw)}")
        if arr.size and np.any(arr < 0):
            raise ValueError(f"{where}['counts'] must be non-negative; got {int(arr[arr < 0][0])}")
        parts[i] = arr.astype(np.int64)
    offsets = np.zeros(n + 1, dtype=np.int64)
    np.cumsum([p.shape[0] for p in parts], out=offsets[1:])
    counts = np.concatenate(parts).astype(np.int64) if n else np.zeros(0, dtype=np.int64)
    return _checked(counts, offsets, sizes, name, single)


def _as_rles_fast(items, name, single, backend):
    """The common case, all compressed ``bytes`` counts and integer sizes, without per-item checks.

    Returns None whenever anything is unusual; the general path then finds and names the problem.
    """
    try:
        counts = [r["counts"] for r in items]
        size_list = [r["size"] for r in items]
        n = len(counts)
        first = size_list[0] if n else None
        if n and all(sz == first for sz in size_list):  # one image: build the array from one entry
            one = np.array(first)
            sizes = np.empty((n,) + one.shape, dtype=one.dtype)
            sizes[:] = one
        else:
            sizes = np.array(size_list)
    except (TypeError, KeyError, IndexError, ValueError):
        return None
    if sizes.shape != (n, 2) or (n and (sizes.dtype.kind not in "iu" or sizes.min() < 0)):
        return None
    if n == 0 or not all(type(c) is bytes for c in counts):
        return None
    sizes = np.ascontiguousarray(sizes, dtype=np.int64)
    flat, offsets, err = _parse_strings(counts, sizes[:, 0] * sizes[:, 1], backend)
    if err[0] != 0:  # including counts that do not add up: the general path names the problem
        return None
    return flat, offsets, sizes, single


def _checked(counts, offsets, sizes, name, single):
    cs = np.zeros(counts.shape[0] + 1, dtype=np.int64)
    np.cumsum(counts, out=cs[1:])
    totals = cs[offsets[1:]] - cs[offsets[:-1]]
    pixels = sizes[:, 0] * sizes[:, 1]
    bad = np.flatnonzero(totals != pixels)
    if bad.size:
        i = int(bad[0])
        where = name if single else f"{name}[{i}]"
        h, w = int(sizes[i, 0]), int(sizes[i, 1])
        raise ValueError(f"{where}['counts'] add up to {int(totals[i])} pixels but 'size' [{h}, {w}] has {h * w}")
    return np.ascontiguousarray(counts), offsets, sizes, single


def _flatten(obj, name: str, backend: str):
    """Masks (array) or RLE dicts -> ``(counts, count_offsets, sizes, single)``."""
    if isinstance(obj, dict) or (isinstance(obj, (list, tuple)) and (len(obj) == 0 or isinstance(obj[0], dict))):
        return _as_rles(obj, name, backend)
    cm, xfirst, single, (h, w) = _as_masks(obj, name)
    counts, offsets = _encode_counts(cm, xfirst, backend)
    sizes = np.empty((cm.shape[0], 2), dtype=np.int64)
    sizes[:, 0], sizes[:, 1] = h, w
    return counts, offsets, sizes, single


def _to_dicts(counts, offsets, sizes, backend: str) -> list:
    if backend == "numba":
        buf, str_offsets = _to_strings_kernel(counts, offsets)
    else:
        buf, str_offsets = _to_strings_reference(counts, offsets)
    raw = buf.tobytes()
    so = str_offsets.tolist()
    hw = sizes.tolist()
    return [{"size": hw[i], "counts": raw[so[i] : so[i + 1]]} for i in range(offsets.shape[0] - 1)]


# --------------------------------------------------------------------------------------
# encode / decode


def encode(masks, *, backend="auto"):
    """Run-length encode binary masks, exactly as ``pycocotools.mask.encode``.

    Parameters
    ----------
    masks : array-like of shape (N, H, W) or (H, W)
        Booleans or numbers that are all 0 or 1 (any other value is an error:
        threshold probability maps first).
    backend : {"auto", "numba", "numpy"}, default="auto"

    Returns
    -------
    rles : list of dict, or dict for a (H, W) mask
        ``{"size": [H, W], "counts": bytes}`` with pycocotools' compressed
        counts, byte for byte.

    Examples
    --------
    >>> import numpy as np
    >>> from detmetrics.masks import encode
    >>> m = np.zeros((3, 4), dtype=bool)
    >>> m[1:, 1:3] = True
    >>> encode(m)
    {'size': [3, 4], 'counts': b'42102'}
    >>> len(encode(np.zeros((0, 5, 5), dtype=bool)))
    0
    """
    backend = defer_backend(backend)
    cm, xfirst, single, (h, w) = _as_masks(masks, "masks")
    # "auto": the reference encodes ~50 pixels per microsecond (see _backend.AUTO_WORK)
    backend = resolve_backend(backend, cm.size // 50, (_encode_kernel,))
    counts, offsets = _encode_counts(cm, xfirst, backend)
    sizes = np.empty((cm.shape[0], 2), dtype=np.int64)
    sizes[:, 0], sizes[:, 1] = h, w
    out = _to_dicts(counts, offsets, sizes, backend)
    return out[0] if single else out


def _encode_counts(m, xfirst, backend):
    """Run lengths of ``m``: ``(N, H, W)`` uint8, or ``(N, W, H)`` when ``xfirst`` (column-major masks)."""
    if backend == "numba":
        return _encode_kernel(m, xfirst)
    return _encode_reference(m, xfirst)


def _encode_reference(m, xfirst):
    """Every mask read in column-major order; a run ends wherever the value changes (background first)."""
    parts = []
    for mask in m:
        pixels = (mask if xfirst else mask.T).ravel()
        change = np.flatnonzero(np.diff(np.concatenate([[0], pixels]).astype(np.int8)) != 0)
        parts.append(np.diff(np.concatenate([[0], change, [pixels.shape[0]]])))
    offsets = np.zeros(m.shape[0] + 1, dtype=np.int64)
    np.cumsum([p.shape[0] for p in parts], out=offsets[1:])
    counts = np.concatenate(parts).astype(np.int64) if parts else np.zeros(0, dtype=np.int64)
    return counts, offsets


# One pass over each mask finds the box of its set pixels (an OR over every row, which LLVM
# vectorises); runs are then built from the pixels inside the box only, with the background
# around it added as counts.  Measured on 100 object masks of 640 x 480: ~10x fewer pixel reads
# than a full column-major scan, and no transposed copy of C-ordered masks.
@kernel
def _encode_kernel(m, xfirst):
    n, rows, cols = m.shape
    h, w = (cols, rows) if xfirst else (rows, cols)
    offsets = np.zeros(n + 1, dtype=np.int64)
    cap = 1024
    counts = np.empty(cap, dtype=np.int64)
    pos = 0
    for i in range(n):
        r0, r1, k0, k1 = -1, -1, cols, -1  # box of the set pixels in (row, column) of m[i]
        for r in range(rows):
            acc = 0
            for k in range(cols):
                acc |= m[i, r, k]
            if acc == 0:
                continue
            if r0 < 0:
                r0 = r
            r1 = r
            k = 0
            while m[i, r, k] == 0:
                k += 1
            k0 = min(k0, k)
            k = cols - 1
            while m[i, r, k] == 0:
                k -= 1
            k1 = max(k1, k)
        if r0 < 0:  # no pixel set: one background run
            need = pos + 1
        else:
            x0, x1, y0, y1 = (r0, r1, k0, k1) if xfirst else (k0, k1, r0, r1)
            need = pos + (x1 - x0 + 1) * (y1 - y0 + 2) + 3
        if need > cap:
            while cap < need:
                cap *= 2
            grown = np.empty(cap, dtype=np.int64)
            grown[:pos] = counts[:pos]
            counts = grown
        if r0 < 0:
            counts[pos] = h * w
            pos += 1
            offsets[i + 1] = pos
            continue
        p = 0
        c = x0 * h + y0  # background before the box's first pixel
        gap = (h - 1 - y1) + y0  # background from one column of the box to the next
        for x in range(x0, x1 + 1):
            for y in range(y0, y1 + 1):
                v = m[i, x, y] if xfirst else m[i, y, x]
                if v != p:
                    counts[pos] = c
                    pos += 1
                    c = 0
                    p = v
                c += 1
            if x < x1 and gap > 0:
                if p != 0:
                    counts[pos] = c
                    pos += 1
                    c = 0
                    p = 0
                c += gap
        tail = (h - 1 - y1) + (w - 1 - x1) * h
        if tail > 0:
            if p != 0:
                counts[pos] = c
                pos += 1
                c = 0
            c += tail
        counts[pos] = c
        pos += 1
        offsets[i + 1] = pos
    return counts[:pos].copy(), offsets


def decode(rles, *, backend="auto"):
    """Decode RLEs to boolean masks, exactly as ``pycocotools.mask.decode``.

    Parameters
    ----------
    rles : dict or list of dict
        ``{"size": [h, w], "counts": bytes | str | list}``; all of one size.
    backend : {"auto", "numba", "numpy"}, default="auto"

    Returns
    -------
    masks : ndarray of shape (N, H, W), or (H, W) for a single dict, bool
        Each mask is laid out column-major in memory (a transposed view, as
        pycocotools' Fortran output), so ``decode`` costs one pass.

    Examples
    --------
    >>> from detmetrics.masks import decode
    >>> decode({"size": [3, 4], "counts": b"42102"}).astype(int).tolist()
    [[0, 0, 0, 0], [0, 1, 1, 0], [0, 1, 1, 0]]
    >>> decode({"size": [2, 2], "counts": [0, 4]}).all()
    np.True_
    """
    # "auto": the reference spends ~0.02 us per pixel, a few hundred us per instance (see _backend.AUTO_WORK)
    backend = resolve_backend(backend, 200 * _n_items(rles), (_decode_kernel,))
    counts, offsets, sizes, single = _as_rles(rles, "rles", backend)
    n = sizes.shape[0]
    if n == 0:
        return np.zeros((0, 0, 0), dtype=bool)
    _check_one_size(sizes, "rles")
    h, w = int(sizes[0, 0]), int(sizes[0, 1])
    if backend == "numba":
        out = np.zeros((n, w * h), dtype=np.uint8)  # calloc: only the foreground is written
        _decode_kernel(counts, offsets, out)
    else:
        out = _decode_reference(counts, offsets, h * w)
    masks = out.view(np.bool_).reshape(n, w, h).transpose(0, 2, 1)
    return masks[0] if single else masks


def _check_one_size(sizes, name):
    bad = np.flatnonzero(np.any(sizes != sizes[0], axis=1))
    if bad.size:
        i = int(bad[0])
        raise ValueError(
            f"{name} must all have one size; {name}[0] is {sizes[0].tolist()} but {name}[{i}] is {sizes[i].tolist()}"
        )


def _decode_reference(counts, offsets, a):
    out = np.empty((offsets.shape[0] - 1, a), dtype=np.uint8)
    for i in range(out.shape[0]):
        c = counts[offsets[i] : offsets[i + 1]]
        out[i] = np.repeat(np.arange(c.shape[0]) % 2, c)
    return out


@kernel
def _decode_kernel(counts, offsets, out):
    # out arrives zeroed: write the foreground runs (odd positions) only
    for i in range(out.shape[0]):
        pos = 0
        for j in range(offsets[i], offsets[i + 1]):
            c = counts[j]
            if (j - offsets[i]) % 2 == 1:
                out[i, pos : pos + c] = 1
            pos += c


# --------------------------------------------------------------------------------------
# compressed counts strings (maskApi.c rleToString / rleFrString)


def _to_strings_reference(counts, offsets):
    chars = []
    str_offsets = np.zeros(offsets.shape[0], dtype=np.int64)
    for i in range(offsets.shape[0] - 1):
        c = counts[offsets[i] : offsets[i + 1]].tolist()
        for j, x in enumerate(c):
            if j > 2:
                x -= c[j - 2]
            more = True
            while more:
                ch = x & 0x1F
                x >>= 5  # arithmetic shift, as on C's long
                more = x != -1 if ch & 0x10 else x != 0
                if more:
                    ch |= 0x20
                chars.append(ch + 48)
        str_offsets[i + 1] = len(chars)
    return np.array(chars, dtype=np.uint8), str_offsets


@kernel
def _to_strings_kernel(counts, offsets):
    n = offsets.shape[0] - 1
    buf = np.empty(7 * counts.shape[0], dtype=np.uint8)  # a count below 2**32 takes at most 7 characters
    str_offsets = np.zeros(n + 1, dtype=np.int64)
    p = 0
    for i in range(n):
        o = offsets[i]
        for j in range(o, offsets[i + 1]):
            x = counts[j]
            if j - o > 2:
                x -= counts[j - 2]
            more = True
            while more:
                ch = x & 0x1F
                x >>= 5
                if ch & 0x10:
                    more = x != -1
                else:
                    more = x != 0
                if more:
                    ch |= 0x20
                buf[p] = ch + 48
                p += 1
        str_offsets[i + 1] = p
    return buf[:p], str_offsets


_SEPARATOR = b" "  # joins the strings for one kernel call; ASCII 32 is outside the alphabet


def _parse_strings(strings, pixels, backend):
    """Parse compressed strings (bytes) -> ``(counts, offsets, err)``; ``pixels[i] >= 0`` checks the sum."""
    return _parse_joined(_SEPARATOR.join(strings), len(strings), pixels, backend)


def _parse_joined(joined: bytes, n: int, pixels, backend):
    """``_parse_strings`` on ``n`` strings already joined by ``_SEPARATOR`` (one buffer, e.g. from JSON text)."""
    buf = np.frombuffer(joined, dtype=np.uint8)
    if backend == "numba":
        return _from_strings_kernel(buf, n, pixels)
    return _from_strings_reference(buf, n, pixels)


# error codes of the string parsers: err = [code, string, character or total]
_STRING_ERRORS = {
    1: "a character outside pycocotools' alphabet (ASCII 48-111)",
    2: "a value cut off at the end of the string",
    3: "a negative or out-of-range run length",
    4: "a value longer than 7 characters",
}


def _from_strings_reference(buf, n, pixels):
    """``rleFrString`` on ``n`` strings joined by spaces; err 5: counts do not add up, 6: not n strings."""
    offsets = np.zeros(n + 1, dtype=np.int64)
    err = np.zeros(3, dtype=np.int64)
    empty = np.zeros(0, dtype=np.int64)
    texts = bytes(buf).split(_SEPARATOR)
    if len(texts) != n:
        err[:] = (6, min(len(texts), n), 0)
        return empty, offsets, err
    out = []
    for i, text in enumerate(texts):
        cnts = []
        p, end = 0, len(text)
        while p < end:
            x, k, more = 0, 0, True
            while more:
                if p >= end:
                    err[:] = (2, i, p)
                    return empty, offsets, err
                c = text[p] - 48
                if c < 0 or c > 63:
                    err[:] = (1, i, p)
                    return empty, offsets, err
                if k == 7:
                    err[:] = (4, i, p)
                    return empty, offsets, err
                x |= (c & 0x1F) << (5 * k)
                more = bool(c & 0x20)
                p += 1
                k += 1
                if not more and c & 0x10:
                    x |= -1 << (5 * k)
            if len(cnts) > 2:
                x += cnts[-2]
            if x < 0 or x >= _UINT32:
                err[:] = (3, i, p - 1)
                return empty, offsets, err
            cnts.append(x)
        if pixels[i] >= 0 and sum(cnts) != pixels[i]:
            err[:] = (5, i, sum(cnts))
            return empty, offsets, err
        out.extend(cnts)
        offsets[i + 1] = len(out)
    return np.array(out, dtype=np.int64), offsets, err


@kernel
def _from_strings_kernel(buf, n, pixels):
    # one flat loop over the characters (measured ~2x faster than a loop per value): a value is
    # the sum of its 5-bit groups times 32**k; a set sign bit (0x10) in its last character
    # subtracts 32**(k + 1), which is C's ``x |= -1 << 5 * k`` without variable shifts
    counts = np.empty(buf.shape[0] + 1, dtype=np.int64)  # every count takes at least one character
    offsets = np.zeros(n + 1, dtype=np.int64)
    err = np.zeros(3, dtype=np.int64)
    size = buf.shape[0]
    i = 0  # current string
    first = 0  # its first count
    start = 0  # its first character
    total = 0
    m = 0
    x = 0
    scale = 1
    for p in range(size + 1):
        b = buf[p] if p < size else 32
        if b == 32:  # end of string i
            if scale != 1:
                err[0], err[1], err[2] = 2, i, p - start
                return counts[:0], offsets, err
            if i >= n:
                err[0], err[1], err[2] = 6, n, 0
                return counts[:0], offsets, err
            if pixels[i] >= 0 and total != pixels[i]:
                err[0], err[1], err[2] = 5, i, total
                return counts[:0], offsets, err
            offsets[i + 1] = m
            i += 1
            start = p + 1
            first = m
            total = 0
            continue
        c = np.int64(b) - 48
        if c < 0 or c > 63:
            err[0], err[1], err[2] = 1, i, p - start
            return counts[:0], offsets, err
        if scale == 34359738368:  # 32**7: an eighth character
            err[0], err[1], err[2] = 4, i, p - start
            return counts[:0], offsets, err
        x += (c & 0x1F) * scale
        scale *= 32
        if c & 0x20:
            continue
        if c & 0x10:
            x -= scale
        if m - first > 2:
            x += counts[m - 2]
        if x < 0 or x >= 4294967296:
            err[0], err[1], err[2] = 3, i, p - start
            return counts[:0], offsets, err
        counts[m] = x
        total += x
        m += 1
        x = 0
        scale = 1
    if i != n:
        err[0], err[1], err[2] = 6, i, 0
        return counts[:0], offsets, err
    return counts[:m], offsets, err


# --------------------------------------------------------------------------------------
# area and bounding box


def area(rles, *, backend="auto"):
    """Number of foreground pixels of each RLE, as ``pycocotools.mask.area``.

    Parameters
    ----------
    rles : dict or list of dict
    backend : {"auto", "numba", "numpy"}, default="auto"

    Returns
    -------
    area : ndarray of shape (N,), int64, or int for a single dict

    Examples
    --------
    >>> from detmetrics.masks import area
    >>> area([{"size": [3, 4], "counts": b"42102"}, {"size": [2, 2], "counts": [4]}]).tolist()
    [4, 0]
    """
    # "auto": the reference spends ~50-1000 us per instance (see _backend.AUTO_WORK)
    backend = resolve_backend(backend, 100 * _n_items(rles), (_area_kernel,))
    counts, offsets, _, single = _as_rles(rles, "rles", backend)
    out = _area_flat(counts, offsets, backend)
    return int(out[0]) if single else out


def _area_flat(counts, offsets, backend):
    if backend == "numba":
        out = np.empty(offsets.shape[0] - 1, dtype=np.int64)
        _area_kernel(counts, offsets, out)
        return out
    return _area_reference(counts, offsets)


def _area_reference(counts, offsets):
    return np.array(
        [counts[offsets[i] + 1 : offsets[i + 1] : 2].sum() for i in range(offsets.shape[0] - 1)], dtype=np.int64
    )


@kernel
def _area_kernel(counts, offsets, out):
    for i in range(out.shape[0]):
        s = 0
        for j in range(offsets[i] + 1, offsets[i + 1], 2):
            s += counts[j]
        out[i] = s


def to_bbox(rles, *, backend="auto"):
    """Bounding box ``[x, y, w, h]`` of each RLE, as ``pycocotools.mask.toBbox``.

    The box encloses the foreground pixels, ``w = x_max - x_min + 1``; an
    all-background RLE gives ``[0, 0, 0, 0]``.  This is pycocotools 2.0.x's
    ``rleToBbox`` (the fixed one: the original cocoapi 2.0 could report a box
    too tall).  Its one oddity is kept: an RLE with at least two counts whose
    foreground runs all have length 0 (e.g. ``[5, 0]``) gives
    ``[w, h, (1 - w) % 2**32, (1 - h) % 2**32]``, the C code's unsigned wrap-around.

    Parameters
    ----------
    rles : dict or list of dict
    backend : {"auto", "numba", "numpy"}, default="auto"

    Returns
    -------
    boxes : ndarray of shape (N, 4), or (4,) for a single dict, float64
        COCO ``xywh``.

    Examples
    --------
    >>> from detmetrics.masks import to_bbox
    >>> to_bbox({"size": [3, 4], "counts": b"42102"}).tolist()
    [1.0, 1.0, 2.0, 2.0]
    >>> to_bbox({"size": [3, 4], "counts": [12]}).tolist()
    [0.0, 0.0, 0.0, 0.0]
    """
    # "auto": the reference spends ~60-1000 us per instance (see _backend.AUTO_WORK)
    backend = resolve_backend(backend, 100 * _n_items(rles), (_to_bbox_kernel,))
    counts, offsets, sizes, single = _as_rles(rles, "rles", backend)
    out = np.empty((sizes.shape[0], 4), dtype=np.float64)
    if backend == "numba":
        _to_bbox_kernel(counts, offsets, sizes, out)
    else:
        _to_bbox_reference(counts, offsets, sizes, out)
    return out[0] if single else out


def _to_bbox_reference(counts, offsets, sizes, out):
    for i in range(sizes.shape[0]):
        h, w = int(sizes[i, 0]), int(sizes[i, 1])
        c = counts[offsets[i] : offsets[i + 1]]
        m = (c.shape[0] // 2) * 2
        if m == 0:
            out[i] = 0.0
            continue
        ends = np.cumsum(c[:m])
        fg = np.arange(1, m, 2)
        fg = fg[c[fg] > 0]
        starts, lasts = ends[fg] - c[fg], ends[fg] - 1
        xs = min([w] + (starts // h).tolist()) if fg.size else w
        xe = max([0] + (lasts // h).tolist()) if fg.size else 0
        if fg.size and np.any(starts // h < lasts // h):  # a run over a column boundary covers rows 0 and h-1
            ys, ye = 0, h - 1
        else:
            ys = min([h] + (starts % h).tolist()) if fg.size else h
            ye = max([0] + (lasts % h).tolist()) if fg.size else 0
        out[i] = (xs, ys, (xe - xs + 1) % _UINT32, (ye - ys + 1) % _UINT32)


@kernel
def _to_bbox_kernel(counts, offsets, sizes, out):
    for i in range(sizes.shape[0]):
        h = sizes[i, 0]
        w = sizes[i, 1]
        o = offsets[i]
        m = ((offsets[i + 1] - o) // 2) * 2
        if m == 0:
            for t in range(4):
                out[i, t] = 0.0
            continue
        inv_h = 1.0 / h if h > 0 else 0.0
        xs, ys, xe, ye = w, h, 0, 0
        cc = 0
        for j in range(m):
            start = cc
            c = counts[o + j]
            cc += c
            if j % 2 == 0 or c == 0:
                continue
            x0 = _column(start, h, inv_h)
            x1 = _column(cc - 1, h, inv_h)
            xs = min(xs, x0)
            xe = max(xe, x1)
            if x0 < x1:
                ys = 0
                ye = h - 1
            else:
                ys = min(ys, start - x0 * h)
                ye = max(ye, cc - 1 - x1 * h)
        out[i, 0] = xs
        out[i, 1] = ys
        out[i, 2] = (xe - xs + 1) % 4294967296
        out[i, 3] = (ye - ys + 1) % 4294967296


@kernel
def _column(pos, h, inv_h):
    """``pos // h`` for ``pos >= 0`` via a float product, corrected to the exact quotient.

    Measured: an int64 division per run boundary was most of the time of the interval and
    box kernels; the float product pipelines (no division, no chain from one run to the next).
    """
    q = np.int64(pos * inv_h)
    r = pos - q * h
    if r < 0:
        q -= 1
    elif r >= h:
        q += 1
    return q


# --------------------------------------------------------------------------------------
# polygons and boxes (maskApi.c rleFrPoly, rleFrBbox, rleMerge)


def _as_polygon(part, name):
    if isinstance(part, (str, bytes, dict)) or part is None:
        raise TypeError(f"{name} must be a flat list of coordinates [x1, y1, x2, y2, ...]; got {type(part).__name__}")
    try:
        arr = np.asarray(part, dtype=np.float64)
    except (ValueError, TypeError):
        raise ValueError(
            f"{name} must be a flat list of numbers [x1, y1, x2, y2, ...]; got {_describe(part)}"
        ) from None
    if arr.ndim > 2 or (arr.ndim == 2 and arr.shape[1] != 2):
        raise ValueError(f"{name} must be a flat list [x1, y1, ...] or (n, 2) points; got shape {arr.shape}")
    arr = arr.ravel()
    if arr.shape[0] % 2:
        raise ValueError(
            f"{name} has an odd number of coordinates ({arr.shape[0]}); pycocotools would drop the last one"
        )
    if arr.shape[0] < 6:
        raise ValueError(
            f"{name} has {arr.shape[0] // 2} points; a polygon needs at least 3 "
            "(pycocotools reads a first part of 4 numbers as an xywh box: use from_boxes)"
        )
    if not np.all(np.isfinite(arr)) or np.any(np.abs(arr) > _MAX_COORD):
        raise ValueError(f"{name} has NaN, infinite or out-of-range (|v| > {_MAX_COORD:g}) coordinates")
    return arr


def _check_image_size(height, width):
    out = []
    for v, nm in ((height, "height"), (width, "width")):
        if isinstance(v, (bool, np.bool_)) or not isinstance(v, (numbers.Integral, np.integer)) or not 1 <= v < 2**31:
            raise ValueError(f"{nm} must be a positive integer below 2**31 (pycocotools' limit); got {_describe(v)}")
        out.append(int(v))
    return out


def from_polygons(polygons, height, width, *, backend="auto") -> list:
    """Rasterise polygons to RLEs, exactly as pycocotools' ``frPyObjects`` + ``merge``.

    Each instance is a list of parts (``[[x1, y1, x2, y2, ...], ...]``, COCO's
    ``segmentation``); its parts are rasterised one by one with ``maskApi.c``'s
    ``rleFrPoly`` (coordinates upsampled by 5 and rounded, edges walked on that
    grid, a pixel is inside when its centre's column crossing lies below the
    boundary) and united with ``rleMerge``, which is what ``COCO.annToRLE``
    does.  Points may lie on or outside the image border.

    pycocotools accepts parts with an odd number of coordinates (it drops the
    last one) and, as later parts, 1- or 2-point parts; given a first part of
    exactly 4 numbers ``frPyObjects`` takes every part for an xywh box (and
    fails unless they come as an array).  Those inputs are refused here
    (``ValueError``): use ``from_boxes`` for boxes.

    Parameters
    ----------
    polygons : list of instances
        An instance is a list of parts or a single flat part; a part is a
        flat sequence of at least 6 finite numbers.
    height, width : int
        Image size, ``>= 1``.
    backend : {"auto", "numba", "numpy"}, default="auto"

    Returns
    -------
    rles : list of dict
        One compressed RLE per instance.

    Examples
    --------
    >>> from detmetrics.masks import area, from_polygons
    >>> rles = from_polygons([[[0, 0, 4, 0, 4, 4, 0, 4]], [[1, 1, 3, 1, 2, 3], [5, 5, 7, 5, 7, 7]]], 8, 8)
    >>> rles[0]
    {'size': [8, 8], 'counts': b'04400000P1'}
    >>> area(rles).tolist()
    [16, 3]
    """
    backend = defer_backend(backend)
    h, w = _check_image_size(height, width)
    if isinstance(polygons, (str, bytes, dict)) or not hasattr(polygons, "__len__"):
        raise TypeError(
            f"polygons must be a list of instances (lists of [x1, y1, ...] parts); got {type(polygons).__name__}"
        )
    # "auto": the reference spends ~450 us per instance and ~0.1 us per pixel (see _backend.AUTO_WORK)
    backend = resolve_backend(backend, len(polygons) * (450 + h * w // 10), (_polygons_kernel,))
    fast = _polygons_fast(polygons)
    if fast is not None:
        return _rasterize_flat(*fast, h, w, backend)  # type: ignore[call-arg]
    parts, part_counts = [], []
    for i, inst in enumerate(polygons):
        if isinstance(inst, (str, bytes, dict)) or not hasattr(inst, "__len__"):
            raise TypeError(f"polygons[{i}] must be a list of [x1, y1, ...] parts; got {type(inst).__name__}")
        if len(inst) == 0:
            raise ValueError(f"polygons[{i}] has no parts")
        flat = not hasattr(inst[0], "__len__")
        items = [inst] if flat else inst
        for j, part in enumerate(items):
            parts.append(_as_polygon(part, f"polygons[{i}]" if flat else f"polygons[{i}][{j}]").reshape(-1, 2))
        part_counts.append(len(items))
    return _rasterize(parts, part_counts, h, w, backend)


def from_boxes(boxes, height, width, *, box_format="xywh", backend="auto") -> list:
    """Rasterise boxes to RLEs, exactly as pycocotools' ``frPyObjects`` on boxes (``rleFrBbox``).

    A box is the polygon of its 4 corners, rasterised like ``from_polygons``.

    Parameters
    ----------
    boxes : array-like of shape (N, 4)
        In ``box_format`` (COCO ``xywh`` by default).
    height, width : int
        Image size, ``>= 1``.
    box_format : {"xywh", "xyxy", "cxcywh"}, default="xywh"
    backend : {"auto", "numba", "numpy"}, default="auto"

    Returns
    -------
    rles : list of dict

    Examples
    --------
    >>> from detmetrics.masks import area, from_boxes
    >>> area(from_boxes([[1, 1, 3, 2], [0, 0, 10, 10]], 5, 6)).tolist()
    [6, 30]
    """
    backend = defer_backend(backend)
    h, w = _check_image_size(height, width)
    b = as_boxes(boxes, "boxes", box_format=box_format)
    # "auto": the reference spends ~120 us per box and ~0.03 us per pixel (see _backend.AUTO_WORK)
    backend = resolve_backend(backend, b.shape[0] * (120 + h * w // 30), (_polygons_kernel,))  # xyxy; for xywh x2 = x + w as rleFrBbox computes it
    if b.size and np.any(np.abs(b) > _MAX_COORD):
        raise ValueError(f"boxes has out-of-range (|v| > {_MAX_COORD:g}) coordinates")
    xs, ys, xe, ye = b[:, 0], b[:, 1], b[:, 2], b[:, 3]
    corners = np.stack([xs, ys, xs, ye, xe, ye, xe, ys], axis=1).reshape(-1, 4, 2)
    return _rasterize(list(corners), [1] * corners.shape[0], h, w, backend)


def _polygons_fast(polygons):
    """COCO's own form (instances = lists of flat lists of numbers, all valid) in one pass, or None.

    None sends the input through the per-part checks, which name the offending part.
    """
    try:
        parts = [p for inst in polygons for p in inst]
        lengths = np.fromiter((len(p) for p in parts), dtype=np.int64, count=len(parts))
        part_counts = [len(inst) for inst in polygons]
        flat = np.fromiter(itertools.chain.from_iterable(parts), dtype=np.float64, count=int(lengths.sum()))
    except (TypeError, ValueError):
        return None
    if (
        not parts
        or any(isinstance(p, (str, bytes, dict)) for p in parts)
        or min(part_counts) == 0
        or np.any(lengths % 2)
        or np.any(lengths < 6)
        or not np.all(np.isfinite(flat))
        or np.any(np.abs(flat) > _MAX_COORD)
    ):
        return None
    point_offsets = np.zeros(len(parts) + 1, dtype=np.int64)
    np.cumsum(lengths // 2, out=point_offsets[1:])
    return flat.reshape(-1, 2), point_offsets, part_counts


def _rasterize(parts, part_counts, h, w, backend):
    point_offsets = np.zeros(len(parts) + 1, dtype=np.int64)
    np.cumsum([p.shape[0] for p in parts], out=point_offsets[1:])
    xy = np.ascontiguousarray(np.concatenate(parts) if parts else np.zeros((0, 2)), dtype=np.float64)
    return _rasterize_flat(xy, point_offsets, part_counts, h, w, backend)


def _rasterize_flat(xy, point_offsets, part_counts, h, w, backend):
    part_offsets = np.zeros(len(part_counts) + 1, dtype=np.int64)
    np.cumsum(part_counts, out=part_offsets[1:])
    hs = np.full(len(part_counts), h, dtype=np.int64)
    ws = np.full(len(part_counts), w, dtype=np.int64)
    if backend == "numba":
        counts, offsets = _polygons_kernel(xy, point_offsets, part_offsets, hs, ws)
    else:
        counts, offsets = _polygons_reference(xy, point_offsets, part_offsets, hs, ws)
    sizes = np.empty((offsets.shape[0] - 1, 2), dtype=np.int64)
    sizes[:, 0], sizes[:, 1] = h, w
    return _to_dicts(counts, offsets, sizes, backend)


def _polygons_reference(xy, point_offsets, part_offsets, hs, ws):
    out = []
    for i in range(part_offsets.shape[0] - 1):
        h, w = int(hs[i]), int(ws[i])
        rles = [
            _poly_reference(xy[point_offsets[p] : point_offsets[p + 1]], h, w)
            for p in range(part_offsets[i], part_offsets[i + 1])
        ]
        merged = rles[0]
        for other in rles[1:]:
            merged = _merge_two_reference(merged, other, False)
        out.append(np.asarray(merged, dtype=np.int64))
    offsets = np.zeros(len(out) + 1, dtype=np.int64)
    np.cumsum([o.shape[0] for o in out], out=offsets[1:])
    return (np.concatenate(out) if out else np.zeros(0, np.int64)), offsets


def _poly_reference(xy, h, w):
    """``rleFrPoly`` on one polygon ``(k, 2)``: run lengths (a list of ints)."""
    scale = 5.0
    k = xy.shape[0]
    if k == 0:  # no point (pycocotools reads an uninitialised vertex; no crossing either way)
        return [h * w]
    # C's (int) truncates toward zero
    x = np.trunc(scale * xy[:, 0] + 0.5).astype(np.int64).tolist()
    y = np.trunc(scale * xy[:, 1] + 0.5).astype(np.int64).tolist()
    x.append(x[0])
    y.append(y[0])
    u, v = [], []
    for j in range(k):  # walk each edge on the upsampled grid, one point per step of the longer axis
        xs, xe, ys, ye = x[j], x[j + 1], y[j], y[j + 1]
        dx, dy = abs(xe - xs), abs(ys - ye)
        flip = (dx >= dy and xs > xe) or (dx < dy and ys > ye)
        if flip:
            xs, xe, ys, ye = xe, xs, ye, ys
        if dx >= dy:
            # dx == dy == 0 (a repeated point): C computes 0/0; the point's y is never read
            s = (ye - ys) / dx if dx else 0.0
            for d in range(dx + 1):
                t = dx - d if flip else d
                u.append(t + xs)
                v.append(int(ys + s * t + 0.5))
        else:
            s = (xe - xs) / dy
            for d in range(dy + 1):
                t = dy - d if flip else d
                v.append(t + ys)
                u.append(int(xs + s * t + 0.5))
    bounds = []  # column crossings: (pixel column, first row below the boundary)
    for j in range(1, len(u)):
        if u[j] == u[j - 1]:
            continue
        xd = float(u[j] if u[j] < u[j - 1] else u[j] - 1)
        xd = (xd + 0.5) / scale - 0.5
        if math.floor(xd) != xd or xd < 0 or xd > w - 1:
            continue
        yd = float(min(v[j - 1], v[j]))
        yd = (yd + 0.5) / scale - 0.5
        yd = 0.0 if yd < 0 else (float(h) if yd > h else yd)
        bounds.append(int(xd) * h + math.ceil(yd))
    bounds.append(h * w)
    a = np.diff(np.sort(np.asarray(bounds, dtype=np.int64)), prepend=0).tolist()
    b = [a[0]]
    j = 1
    while j < len(a):  # a zero difference: two crossings at one pixel cancel, join the runs around them
        if a[j] > 0:
            b.append(a[j])
            j += 1
        else:
            j += 1
            if j < len(a):
                b[-1] += a[j]
                j += 1
    return b


def _merge_two_reference(A, B, intersect):
    """``rleMerge``'s loop for two RLEs of one size (lists of ints), its exact output."""
    A = list(A) or [0]
    B = list(B) or [0]
    ca, cb = A[0], B[0]
    v = va = vb = False
    a = b = 1
    cc, ct = 0, 1
    out = []
    while ct > 0:
        c = min(ca, cb)
        cc += c
        ct = 0
        ca -= c
        if not ca and a < len(A):
            ca = A[a]
            a += 1
            va = not va
        ct += ca
        cb -= c
        if not cb and b < len(B):
            cb = B[b]
            b += 1
            vb = not vb
        ct += cb
        vp = v
        v = (va and vb) if intersect else (va or vb)
        if v != vp or ct == 0:
            out.append(cc)
            cc = 0
    return out


@kernel
def _crossing(pu, pv, cu, cv, h, w):
    """``rleFrPoly``'s test for consecutive boundary points: the pixel index a column crossing
    starts at, or -1 (same column, or not at a pixel centre, or outside the image)."""
    if cu == pu:
        return -1
    xd = float(cu if cu < pu else cu - 1)
    xd = (xd + 0.5) / 5.0 - 0.5
    if math.floor(xd) != xd or xd < 0 or xd > w - 1:
        return -1
    yd = float(min(pv, cv))
    yd = (yd + 0.5) / 5.0 - 0.5
    if yd < 0:
        yd = 0.0
    elif yd > h:
        yd = float(h)
    return int(xd) * h + math.ceil(yd)


# The boundary points are streamed (each compared with the one before) instead of stored, as
# the reference stores them: same points, same order, same crossings.
@kernel
def _poly_kernel(xy, p0, p1, h, w):
    scale = 5.0
    k = p1 - p0
    if k == 0:
        out = np.empty(1, dtype=np.int64)
        out[0] = h * w
        return out
    x = np.empty(k + 1, dtype=np.int64)
    y = np.empty(k + 1, dtype=np.int64)
    for j in range(k):
        x[j] = int(scale * xy[p0 + j, 0] + 0.5)
        y[j] = int(scale * xy[p0 + j, 1] + 0.5)
    x[k] = x[0]
    y[k] = y[0]
    m = 0
    for j in range(k):
        m += max(abs(x[j] - x[j + 1]), abs(y[j] - y[j + 1])) + 1
    # an edge's points move monotonically in u, so it crosses each of the w pixel columns at
    # most once: k * w bounds the crossings even for a huge polygon on a small image
    a = np.empty(min(m, k * w) + 1, dtype=np.int64)
    n = 0
    first = True
    pu, pv = 0, 0
    for j in range(k):
        xs = x[j]
        xe = x[j + 1]
        ys = y[j]
        ye = y[j + 1]
        dx = abs(xe - xs)
        dy = abs(ys - ye)
        flip = (dx >= dy and xs > xe) or (dx < dy and ys > ye)
        if flip:
            xs, xe = xe, xs
            ys, ye = ye, ys
        if dx >= dy:
            s = (ye - ys) / dx if dx != 0 else 0.0
            for d in range(dx + 1):
                t = dx - d if flip else d
                cu = t + xs
                cv = int(ys + s * t + 0.5)
                if not first:
                    c = _crossing(pu, pv, cu, cv, h, w)
                    if c >= 0:
                        a[n] = c
                        n += 1
                first = False
                pu, pv = cu, cv
        else:
            s = (xe - xs) / dy
            for d in range(dy + 1):
                t = dy - d if flip else d
                cv = t + ys
                cu = int(xs + s * t + 0.5)
                if not first:
                    c = _crossing(pu, pv, cu, cv, h, w)
                    if c >= 0:
                        a[n] = c
                        n += 1
                first = False
                pu, pv = cu, cv
    a[n] = h * w
    n += 1
    a = np.sort(a[:n])
    prev = 0
    for j in range(n):
        t = a[j]
        a[j] -= prev
        prev = t
    b = np.empty(n, dtype=np.int64)
    j = 1
    mb = 1
    b[0] = a[0]
    while j < n:
        if a[j] > 0:
            b[mb] = a[j]
            mb += 1
            j += 1
        else:
            j += 1
            if j < n:
                b[mb - 1] += a[j]
                j += 1
    return b[:mb]


@kernel
def _merge_two_kernel(A, B, intersect):
    na = A.shape[0]
    nb = B.shape[0]
    out = np.empty(na + nb + 2, dtype=np.int64)
    ca = A[0] if na > 0 else 0
    cb = B[0] if nb > 0 else 0
    v = False
    va = False
    vb = False
    a = 1
    b = 1
    cc = 0
    ct = 1
    m = 0
    while ct > 0:
        c = min(ca, cb)
        cc += c
        ct = 0
        ca -= c
        if ca == 0 and a < na:
            ca = A[a]
            a += 1
            va = not va
        ct += ca
        cb -= c
        if cb == 0 and b < nb:
            cb = B[b]
            b += 1
            vb = not vb
        ct += cb
        vp = v
        if intersect:
            v = va and vb
        else:
            v = va or vb
        if v != vp or ct == 0:
            out[m] = cc
            m += 1
            cc = 0
    return out[:m]


@kernel
def _polygons_kernel(xy, point_offsets, part_offsets, hs, ws):
    n = part_offsets.shape[0] - 1
    offsets = np.zeros(n + 1, dtype=np.int64)
    cap = 1024
    counts = np.empty(cap, dtype=np.int64)
    for i in range(n):
        h = hs[i]
        w = ws[i]
        p = part_offsets[i]
        merged = _poly_kernel(xy, point_offsets[p], point_offsets[p + 1], h, w)
        for q in range(p + 1, part_offsets[i + 1]):
            merged = _merge_two_kernel(merged, _poly_kernel(xy, point_offsets[q], point_offsets[q + 1], h, w), False)
        need = offsets[i] + merged.shape[0]
        if need > cap:
            while cap < need:
                cap *= 2
            grown = np.empty(cap, dtype=np.int64)
            grown[: offsets[i]] = counts[: offsets[i]]
            counts = grown
        counts[offsets[i] : need] = merged
        offsets[i + 1] = need
    return counts[: offsets[n]].copy(), offsets


def _segmentations_flat(segms, heights, widths, backend, name="segmentation"):
    """COCO ``segmentation`` fields -> flat RLEs, as ``COCO.annToRLE`` turns them into masks.

    For the evaluator, which must reproduce pycocotools on every input it accepts, so this
    follows ``frPyObjects`` where ``from_polygons`` refuses (quirks included):

    * a list is polygons: a part with an odd number of coordinates loses its last one, a
      later part may have fewer than 3 points (even none); the parts are united (``merge``).
      A first part of at most 4 numbers is an error, as in pycocotools (which reads 4 numbers
      as an xywh box and then fails on the list);
    * a dict with list counts is an uncompressed RLE, one with ``bytes`` / ``str`` counts a
      compressed one; both keep their own ``size`` (the image's is not consulted, as in
      pycocotools) and are validated like every RLE here.

    Parameters
    ----------
    segms : sequence
        One ``segmentation`` per annotation.
    heights, widths : array-like of int
        The image size of every annotation (used by polygons and boxes).
    backend : {"numba", "numpy"}
        Already resolved.

    Returns
    -------
    counts, count_offsets, sizes : ndarray
        The flat layout of the module docstring, one RLE per annotation, in order.

    Examples
    --------
    >>> segms = [[[0, 0, 2, 0, 2, 2, 0, 2]], [[1, 1, 3, 1, 3, 3, 1], [0]], {"size": [3, 3], "counts": [4, 5]}]
    >>> c, o, sz = _segmentations_flat(segms, [3, 3, 3], [3, 3, 3], "numpy")
    >>> [c[o[i]:o[i + 1]].tolist() for i in range(3)], sz.tolist()
    ([[0, 2, 1, 2, 4], [7, 1, 1], [4, 5]], [[3, 3], [3, 3], [3, 3]])
    """
    n = len(segms)
    heights = as_array(heights, "heights", dtype=np.int64, ndim=1)
    widths = as_array(widths, "widths", dtype=np.int64, ndim=1)
    if heights.shape[0] != n or widths.shape[0] != n:
        raise ValueError(
            f"heights and widths must have one entry per {name}; got {heights.shape[0]}, {widths.shape[0]} for {n}"
        )
    poly_parts, poly_counts, poly_index, poly_h, poly_w = [], [], [], [], []
    rle_items, rle_index = [], []
    for i, segm in enumerate(segms):
        where = f"{name}[{i}]"
        if isinstance(segm, dict):
            rle_items.append(segm)
            rle_index.append(i)
            continue
        if isinstance(segm, (str, bytes)) or not hasattr(segm, "__len__") or len(segm) == 0:
            raise ValueError(
                f"{where} must be polygons (a list of [x1, y1, ...] lists) or an RLE dict; got {_describe(segm)}"
            )
        h, w = int(heights[i]), int(widths[i])
        if h < 1 or w < 1:
            raise ValueError(f"{where}: the image size must be positive; got height {h}, width {w}")
        try:
            parts = [np.asarray(p, dtype=np.float64).ravel() for p in segm]
        except (TypeError, ValueError):
            raise ValueError(f"{where} must hold flat lists of numbers; got {_describe(segm)}") from None
        if any(p.ndim != 1 for p in parts) or not hasattr(segm[0], "__len__"):
            raise ValueError(f"{where} must be a list of [x1, y1, ...] lists; got {_describe(segm)}")
        if len(parts[0]) <= 4:
            # frPyObjects reads a first part of 4 numbers as an xywh box and then fails on a list
            # (frBbox wants an ndarray); fewer numbers it refuses outright
            raise ValueError(
                f"{where}: a first part of {len(parts[0])} numbers is not a polygon (pycocotools fails on it too)"
            )
        parts_xy = [p[: 2 * (p.shape[0] // 2)].reshape(-1, 2) for p in parts]  # an odd last value is dropped
        flat = np.concatenate([p.ravel() for p in parts_xy])
        if not np.all(np.isfinite(flat)) or np.any(np.abs(flat) > _MAX_COORD):
            raise ValueError(f"{where} has NaN, infinite or out-of-range (|v| > {_MAX_COORD:g}) coordinates")
        poly_parts.extend(parts_xy)
        poly_counts.append(len(parts_xy))
        poly_index.append(i)
        poly_h.append(h)
        poly_w.append(w)
    pieces = [None] * n
    sizes = np.zeros((n, 2), dtype=np.int64)
    if poly_parts:
        point_offsets = np.zeros(len(poly_parts) + 1, dtype=np.int64)
        np.cumsum([p.shape[0] for p in poly_parts], out=point_offsets[1:])
        xy = np.ascontiguousarray(np.concatenate(poly_parts), dtype=np.float64)
        part_offsets = np.zeros(len(poly_counts) + 1, dtype=np.int64)
        np.cumsum(poly_counts, out=part_offsets[1:])
        hs, ws = np.asarray(poly_h, dtype=np.int64), np.asarray(poly_w, dtype=np.int64)
        fn = _polygons_kernel if backend == "numba" else _polygons_reference
        counts, offsets = fn(xy, point_offsets, part_offsets, hs, ws)
        for k, i in enumerate(poly_index):
            pieces[i] = counts[offsets[k] : offsets[k + 1]]
            sizes[i] = (poly_h[k], poly_w[k])
    if rle_items:
        try:
            counts, offsets, rle_sizes, _ = _as_rles(rle_items, name, backend)
        except (TypeError, ValueError):
            for k, item in zip(rle_index, rle_items):  # raise again, naming the annotation
                _as_rles(item, f"{name}[{k}]", backend)
            raise
        for k, i in enumerate(rle_index):
            pieces[i] = counts[offsets[k] : offsets[k + 1]]
            sizes[i] = rle_sizes[k]
    count_offsets = np.zeros(n + 1, dtype=np.int64)
    np.cumsum([p.shape[0] for p in pieces], out=count_offsets[1:])
    counts = np.concatenate(pieces).astype(np.int64) if n else np.zeros(0, dtype=np.int64)
    return np.ascontiguousarray(counts), count_offsets, sizes


def merge(rles, intersect=False, *, backend="auto") -> dict:
    """Union (or intersection) of RLEs of one size, exactly as ``pycocotools.mask.merge``.

    Parameters
    ----------
    rles : list of dict
        At least one RLE; all of one size.
    intersect : bool, default=False
        Intersection instead of union.
    backend : {"auto", "numba", "numpy"}, default="auto"

    Returns
    -------
    rle : dict
        Compressed, byte for byte pycocotools' output (``rleMerge`` keeps some
        zero-length runs of its inputs; so does this).

    Examples
    --------
    >>> from detmetrics.masks import area, merge
    >>> a = {"size": [2, 2], "counts": [0, 2, 2]}
    >>> b = {"size": [2, 2], "counts": [1, 2, 1]}
    >>> area(merge([a, b])), area(merge([a, b], intersect=True))
    (3, 1)
    """
    # "auto": the reference spends ~200-8000 us per instance (see _backend.AUTO_WORK)
    backend = resolve_backend(backend, 500 * _n_items(rles), (_merge_two_kernel,))
    if isinstance(rles, dict):
        rles = [rles]
    counts, offsets, sizes, _ = _as_rles(rles, "rles", backend)
    if sizes.shape[0] == 0:
        raise ValueError("rles must hold at least one RLE")
    _check_one_size(sizes, "rles")
    parts = [counts[offsets[i] : offsets[i + 1]] for i in range(sizes.shape[0])]
    merged = parts[0]
    for other in parts[1:]:
        if backend == "numba":
            merged = _merge_two_kernel(np.ascontiguousarray(merged), np.ascontiguousarray(other), bool(intersect))
        else:
            merged = _merge_two_reference(merged, other, bool(intersect))
    merged = np.asarray(merged, dtype=np.int64)
    return _to_dicts(merged, np.array([0, merged.shape[0]], dtype=np.int64), sizes[:1], backend)[0]


# --------------------------------------------------------------------------------------
# IoU on runs


def iou(rles1, rles2, iscrowd=None, *, backend="auto") -> np.ndarray:
    """Pairwise mask IoU on run-length encodings, as ``pycocotools.mask.iou``.

    ``iou = inter / union`` in pixels; for a crowd ground truth (``iscrowd``
    true) ``inter / area(rles1[i])``; 0 when the masks do not intersect.
    Computed on runs (merged interval lists, after a bounding-box test), never
    on decoded pixels.

    Parameters
    ----------
    rles1 : list of dict, or array-like of shape (N, H, W)
        Detections: RLE dicts or 0/1 masks.
    rles2 : list of dict, or array-like of shape (M, H, W)
        Ground truths, of the same image size as ``rles1``.
    iscrowd : array-like of shape (M,), optional
        Crowd flags of ``rles2`` (default: none).
    backend : {"auto", "numba", "numpy"}, default="auto"

    Returns
    -------
    iou : ndarray of shape (N, M), float64

    Examples
    --------
    >>> import numpy as np
    >>> from detmetrics.masks import iou
    >>> a = np.zeros((1, 4, 4), dtype=bool); a[0, :2] = True
    >>> b = np.zeros((2, 4, 4), dtype=bool); b[0, 1:3] = True; b[1] = True
    >>> iou(a, b).tolist(), iou(a, b, [0, 1]).tolist()
    ([[0.3333333333333333, 0.5]], [[0.3333333333333333, 1.0]])
    """
    # "auto": the reference spends ~50-250 us per pair (see _backend.AUTO_WORK)
    n1, n2 = _n_items(rles1), _n_items(rles2)
    backend = resolve_backend(backend, 100 * (n1 * n2 + n1 + n2), (_iou_kernel,))
    d = _flatten(rles1, "rles1", backend)
    g = _flatten(rles2, "rles2", backend)
    n_gt = g[2].shape[0]
    crowd = _as_crowd(iscrowd, n_gt)
    sizes = np.concatenate([d[2], g[2]])
    if sizes.shape[0]:
        bad = np.flatnonzero(np.any(sizes != sizes[0], axis=1))
        if bad.size:
            i = int(bad[0])
            which = f"rles1[{i}]" if i < d[2].shape[0] else f"rles2[{i - d[2].shape[0]}]"
            first = "rles1[0]" if d[2].shape[0] else "rles2[0]"
            raise ValueError(
                f"RLEs of different sizes compared: {first} is {sizes[0].tolist()} but {which} is {sizes[i].tolist()}"
            )
    di = _intervals(d[0], d[1], d[2], backend)
    gi = _intervals(g[0], g[1], g[2], backend)
    out = np.empty((d[2].shape[0], n_gt), dtype=np.float64)
    if backend == "numba":
        _iou_kernel(*di, *gi, crowd, int(sizes[0, 0]) if sizes.shape[0] else 1, out)
    else:
        _iou_reference(di, gi, crowd, out)
    return out


def _as_crowd(iscrowd, n):
    if iscrowd is None:
        return np.zeros(n, dtype=np.uint8)
    arr = as_array(iscrowd, "iscrowd", allow_bool=True)
    if arr.ndim != 1:
        raise ValueError(f"iscrowd must be 1-dimensional; got shape {arr.shape}")
    if not np.all(np.isfinite(arr)) or np.any((arr != 0) & (arr != 1)):
        raise ValueError("iscrowd must hold 0/1 or booleans")
    if arr.shape[0] != n:
        raise ValueError(f"iscrowd has length {arr.shape[0]} but rles2 has {n} RLEs")
    return np.ascontiguousarray(arr != 0, dtype=np.uint8)


def _intervals(counts, offsets, sizes, backend, rows=None):
    """Foreground runs as half-open pixel intervals + area + exact box ``(x0, y0, x1, y1)`` (inclusive).

    ``rows`` (int64) picks and orders the RLEs (default all, in order): output ``k`` is RLE
    ``rows[k]``, without gathering the counts first.
    """
    if rows is None:
        rows = np.arange(sizes.shape[0], dtype=np.int64)
    rows = np.ascontiguousarray(rows, dtype=np.int64)
    if backend == "numba":
        return _intervals_kernel(counts, offsets, sizes, rows)
    return _intervals_reference(counts, offsets, sizes, rows)


def _intervals_reference(counts, offsets, sizes, rows):
    n = rows.shape[0]
    starts, ends = [], []
    ioff = np.zeros(n + 1, dtype=np.int64)
    areas = np.zeros(n, dtype=np.int64)
    boxes = np.zeros((n, 4), dtype=np.int64)
    for k in range(n):
        i = rows[k]
        c = counts[offsets[i] : offsets[i + 1]]
        stop = np.cumsum(c)
        fg = np.arange(1, c.shape[0], 2)
        fg = fg[c[fg] > 0]
        s, e = stop[fg] - c[fg], stop[fg]
        starts.append(s)
        ends.append(e)
        ioff[k + 1] = ioff[k] + s.shape[0]
        areas[k] = int((e - s).sum())
        if s.shape[0]:
            h = int(sizes[i, 0])
            cols0, cols1 = s // h, (e - 1) // h
            wraps = np.any(cols0 < cols1)
            boxes[k] = (
                cols0.min(),
                0 if wraps else (s % h).min(),
                cols1.max(),
                h - 1 if wraps else ((e - 1) % h).max(),
            )
    cat = lambda parts: np.concatenate(parts).astype(np.int64) if parts else np.zeros(0, np.int64)
    return cat(starts), cat(ends), ioff, areas, boxes


@kernel
def _intervals_kernel(counts, offsets, sizes, rows):
    # one pass over the counts: the output is sized for every foreground run (empty ones
    # included) and cut at the end -- measured: a separate counting pass cost ~40% (memory bound)
    n = rows.shape[0]
    bound = 0
    for k in range(n):
        i = rows[k]
        bound += (offsets[i + 1] - offsets[i]) // 2
    starts = np.empty(bound, dtype=np.int64)
    ends = np.empty(bound, dtype=np.int64)
    lo = np.empty(n, dtype=np.int64)
    hi = np.empty(n, dtype=np.int64)
    areas = np.zeros(n, dtype=np.int64)
    boxes = np.zeros((n, 4), dtype=np.int64)
    _fill_intervals(counts, offsets, sizes, rows, 0, n, starts, ends, lo, hi, areas, boxes)
    ioff = np.zeros(n + 1, dtype=np.int64)
    ioff[1:] = hi  # the runs of RLE k follow those of k - 1: lo[k] == hi[k - 1]
    return starts[:ioff[n]], ends[:ioff[n]], ioff, areas, boxes


def _pair_value_reference(da, ga, inter, crowd):
    if inter == 0:
        return 0.0
    union = da if crowd else da + ga - inter
    return float(inter) / float(union)


def _inter_reference(s1, e1, s2, e2):
    """Pixels in both interval lists: sweep the sorted interval ends, count where both lists cover."""
    if s1.shape[0] == 0 or s2.shape[0] == 0:
        return 0
    pos = np.concatenate([s1, e1, s2, e2])
    step = np.concatenate([np.ones_like(s1), -np.ones_like(e1), np.ones_like(s2), -np.ones_like(e2)])
    order = np.argsort(pos, kind="stable")
    cover = np.cumsum(step[order])[:-1]  # how many lists cover [pos[k], pos[k + 1])
    return int(np.diff(pos[order])[cover == 2].sum())


def _iou_reference(di, gi, crowd, out):
    s1, e1, o1, a1, _ = di
    s2, e2, o2, a2, _ = gi
    for i in range(out.shape[0]):
        for j in range(out.shape[1]):
            inter = _inter_reference(
                s1[o1[i] : o1[i + 1]], e1[o1[i] : o1[i + 1]], s2[o2[j] : o2[j + 1]], e2[o2[j] : o2[j + 1]]
            )
            out[i, j] = _pair_value_reference(int(a1[i]), int(a2[j]), inter, crowd[j] != 0)


@kernel
def _lower_bound_end(ends, lo, hi, x):
    # first index in [lo, hi) whose interval end is > x
    while lo < hi:
        mid = (lo + hi) >> 1
        if ends[mid] <= x:
            lo = mid + 1
        else:
            hi = mid
    return lo


@kernel
def _pair_inter(s1, e1, i0, i1, s2, e2, j0, j1, lo, hi):
    """Pixels shared by interval lists ``i0:i1`` of ``(s1, e1)`` and ``j0:j1`` of ``(s2, e2)``.

    Callers test the two boxes first, inline: a call with array arguments
    costs reference-count updates, which measured more than the box test for the many pairs
    that are far apart.  ``[lo, hi)`` bounds the pixel indices of the boxes' intersection.
    """
    if i0 == i1 or j0 == j1:
        return 0
    lo = max(lo, s1[i0], s2[j0])  # [lo, hi): the pixels both boxes cover lie in there
    hi = min(hi, e1[i1 - 1], e2[j1 - 1])
    if lo >= hi:
        return 0
    i = _lower_bound_end(e1, i0, i1, lo)
    j = _lower_bound_end(e2, j0, j1, lo)
    inter = 0
    while i < i1 and j < j1:
        a = s1[i]
        b = s2[j]
        if a >= hi or b >= hi:
            break
        ea = e1[i]
        eb = e2[j]
        start = max(b, a)
        stop = min(eb, ea)
        if stop > start:
            inter += stop - start
        if ea < eb:
            i += 1
        else:
            j += 1
    return inter


@kernel
def _iou_kernel(s1, e1, o1, a1, b1, s2, e2, o2, a2, b2, crowd, h, out):
    for i in range(out.shape[0]):
        for j in range(out.shape[1]):
            if b1[i, 0] > b2[j, 2] or b2[j, 0] > b1[i, 2] or b1[i, 1] > b2[j, 3] or b2[j, 1] > b1[i, 3]:
                out[i, j] = 0.0
                continue
            lo = max(b1[i, 0], b2[j, 0]) * h + max(b1[i, 1], b2[j, 1])
            hi = min(b1[i, 2], b2[j, 2]) * h + min(b1[i, 3], b2[j, 3]) + 1
            inter = _pair_inter(s1, e1, o1[i], o1[i + 1], s2, e2, o2[j], o2[j + 1], lo, hi)
            if inter == 0:
                out[i, j] = 0.0
            elif crowd[j] != 0:
                out[i, j] = inter / a1[i]
            else:
                out[i, j] = inter / (a1[i] + a2[j] - inter)


# --------------------------------------------------------------------------------------
# per-group blocks for the evaluator


def _mask_iou_blocks(
    det_counts,
    det_count_offsets,
    det_sizes,
    gt_counts,
    gt_count_offsets,
    gt_sizes,
    gt_crowd,
    det_offsets,
    gt_offsets,
    backend,
    det_rows=None,
    gt_rows=None,
):
    """Per-group mask IoU blocks, in ``detmetrics.matching._iou_blocks``' layout.

    Parameters
    ----------
    det_counts, det_count_offsets, det_sizes : ndarray
        Detection RLEs in the flat layout (module docstring), in group order
        (or in any order, with ``det_rows``).
    gt_counts, gt_count_offsets, gt_sizes : ndarray
        Ground-truth RLEs, in group order (or any, with ``gt_rows``).
    gt_crowd : ndarray of shape (G,), uint8
        Non-zero for crowd ground truths (value ``inter / area(det)``).
    det_offsets, gt_offsets : ndarray of shape (n_groups + 1,), int64
    backend : {"numba", "numpy"}
        Already resolved.
    det_rows, gt_rows : ndarray of int64, optional
        The RLE of each detection / ground truth in group order (``det_rows[k]`` is the
        ``k``-th detection of the group layout); default ``0, 1, ...``.

    Returns
    -------
    iou_flat : ndarray, float64
        Block ``g`` is ``iou_flat[iou_offsets[g]:iou_offsets[g+1]]``, row-major ``(n_det_g, n_gt_g)``.
    iou_offsets : ndarray of shape (n_groups + 1,), int64

    Examples
    --------
    >>> import numpy as np
    >>> det = _flatten(np.eye(3, dtype=bool)[None].repeat(2, 0), "det", "numpy")
    >>> gt = _flatten(np.eye(3, dtype=bool)[None], "gt", "numpy")
    >>> iou, off = _mask_iou_blocks(*det[:3], *gt[:3], np.zeros(1, np.uint8), np.array([0, 1, 2]),
    ...                             np.array([0, 1, 1]), "numpy")
    >>> iou.tolist(), off.tolist()
    ([1.0], [0, 1, 1])
    """
    det_offsets = np.ascontiguousarray(det_offsets, dtype=np.int64)
    gt_offsets = np.ascontiguousarray(gt_offsets, dtype=np.int64)
    gt_crowd = np.ascontiguousarray(gt_crowd, dtype=np.uint8)
    sizes = np.diff(det_offsets) * np.diff(gt_offsets)
    iou_offsets = np.zeros(sizes.shape[0] + 1, dtype=np.int64)
    np.cumsum(sizes, out=iou_offsets[1:])
    if det_rows is None:
        det_rows = np.arange(int(det_offsets[-1]), dtype=np.int64)
    if gt_rows is None:
        gt_rows = np.arange(int(gt_offsets[-1]), dtype=np.int64)
    det_rows = np.ascontiguousarray(det_rows, dtype=np.int64)
    gt_rows = np.ascontiguousarray(gt_rows, dtype=np.int64)
    _check_group_sizes(det_sizes[det_rows], gt_sizes[gt_rows], det_offsets, gt_offsets)
    iou_flat = np.empty(int(iou_offsets[-1]), dtype=np.float64)
    if backend == "numba":
        _mask_iou_blocks_kernel(
            det_counts, det_count_offsets, det_sizes, det_rows, gt_counts, gt_count_offsets, gt_sizes, gt_rows,
            gt_crowd, det_offsets, gt_offsets, iou_offsets, iou_flat,
        )
    else:
        di = _intervals(det_counts, det_count_offsets, det_sizes, backend, det_rows)
        gi = _intervals(gt_counts, gt_count_offsets, gt_sizes, backend, gt_rows)
        for g in range(det_offsets.shape[0] - 1):
            d0, d1, g0, g1 = det_offsets[g], det_offsets[g + 1], gt_offsets[g], gt_offsets[g + 1]
            block = np.empty((d1 - d0, g1 - g0), dtype=np.float64)
            _iou_reference(_slice_intervals(di, d0, d1), _slice_intervals(gi, g0, g1), gt_crowd[g0:g1], block)
            iou_flat[iou_offsets[g] : iou_offsets[g + 1]] = block.ravel()
    return iou_flat, iou_offsets


def _slice_intervals(iv, i0, i1):
    starts, ends, ioff, areas, boxes = iv
    return starts, ends, ioff[i0 : i1 + 1], areas[i0:i1], boxes[i0:i1]


def _check_group_sizes(det_sizes, gt_sizes, det_offsets, gt_offsets):
    n_groups = det_offsets.shape[0] - 1
    det_group = np.repeat(np.arange(n_groups), np.diff(det_offsets))
    gt_group = np.repeat(np.arange(n_groups), np.diff(gt_offsets))
    ref = np.full((n_groups, 2), -1, dtype=np.int64)
    ref[gt_group[::-1]] = gt_sizes[: gt_group.shape[0]][::-1]  # first ground truth of each group
    ref[det_group[::-1]] = det_sizes[: det_group.shape[0]][::-1]
    for name, grp, sz in (("detection", det_group, det_sizes), ("ground truth", gt_group, gt_sizes)):
        bad = np.flatnonzero(np.any(sz[: grp.shape[0]] != ref[grp], axis=1))
        if bad.size:
            k = int(bad[0])
            raise ValueError(
                f"RLEs of different sizes compared: {name} {k} is {sz[k].tolist()} but group "
                f"{int(grp[k])} holds masks of size {ref[grp[k]].tolist()}"
            )


@kernel
def _fill_intervals(counts, offsets, sizes, rows, k0, k1, starts, ends, lo, hi, areas, boxes):
    """``_intervals_kernel`` for rows ``k0:k1`` into scratch ``starts`` / ``ends`` (from 0): RLE ``rows[k]``
    owns ``starts[lo[k]:hi[k]]``; ``areas[k]``, ``boxes[k]`` as there."""
    pos = 0
    for k in range(k0, k1):
        i = rows[k]
        h = sizes[i, 0]
        inv_h = 1.0 / h if h > 0 else 0.0
        lo[k] = pos
        cc = 0
        x0, y0, x1, y1 = np.int64(1) << 62, np.int64(1) << 62, -1, -1
        total = 0
        j = offsets[i]
        stop = offsets[i + 1]
        while j < stop:
            cc += counts[j]
            if j + 1 >= stop:
                break
            c = counts[j + 1]
            j += 2
            if c == 0:
                continue
            start = cc
            cc += c
            starts[pos] = start
            ends[pos] = cc
            pos += 1
            total += c
            c0 = _column(start, h, inv_h)
            c1 = _column(cc - 1, h, inv_h)
            x0 = min(x0, c0)
            x1 = max(x1, c1)
            if c0 < c1:
                y0 = 0
                y1 = h - 1
            else:
                y0 = min(y0, start - c0 * h)
                y1 = max(y1, cc - 1 - c1 * h)
        hi[k] = pos
        areas[k] = total
        if total > 0:
            boxes[k, 0], boxes[k, 1], boxes[k, 2], boxes[k, 3] = x0, y0, x1, y1
        else:
            boxes[k, 0], boxes[k, 1], boxes[k, 2], boxes[k, 3] = 0, 0, 0, 0


@kernel
def _scratch_size(offsets, rows, k0, k1):
    n = 0
    for k in range(k0, k1):
        n += (offsets[rows[k] + 1] - offsets[rows[k]]) // 2
    return n


# Fused per group: the intervals of a group's masks go to scratch buffers reused from group
# to group (they stay in cache), never to arrays of all masks -- measured at COCO density
# (40k results, 5.6M counts) the page faults of those arrays were most of the blocks' time.
@kernel
def _mask_iou_blocks_kernel(
    dc, dco, ds, det_rows, gc, gco, gs, gt_rows, gt_crowd, det_offsets, gt_offsets, iou_offsets, out
):
    n_det = det_rows.shape[0]
    n_gt = gt_rows.shape[0]
    lo1 = np.empty(n_det, dtype=np.int64)
    hi1 = np.empty(n_det, dtype=np.int64)
    a1 = np.empty(n_det, dtype=np.int64)
    b1 = np.empty((n_det, 4), dtype=np.int64)
    lo2 = np.empty(n_gt, dtype=np.int64)
    hi2 = np.empty(n_gt, dtype=np.int64)
    a2 = np.empty(n_gt, dtype=np.int64)
    b2 = np.empty((n_gt, 4), dtype=np.int64)
    s1 = np.empty(1024, dtype=np.int64)
    e1 = np.empty(1024, dtype=np.int64)
    s2 = np.empty(1024, dtype=np.int64)
    e2 = np.empty(1024, dtype=np.int64)
    for g in range(det_offsets.shape[0] - 1):
        d0 = det_offsets[g]
        d1 = det_offsets[g + 1]
        g0 = gt_offsets[g]
        g1 = gt_offsets[g + 1]
        if d1 == d0 or g1 == g0:
            continue
        need = _scratch_size(dco, det_rows, d0, d1)
        if need > s1.shape[0]:
            s1 = np.empty(2 * need, dtype=np.int64)
            e1 = np.empty(2 * need, dtype=np.int64)
        need = _scratch_size(gco, gt_rows, g0, g1)
        if need > s2.shape[0]:
            s2 = np.empty(2 * need, dtype=np.int64)
            e2 = np.empty(2 * need, dtype=np.int64)
        _fill_intervals(dc, dco, ds, det_rows, d0, d1, s1, e1, lo1, hi1, a1, b1)
        _fill_intervals(gc, gco, gs, gt_rows, g0, g1, s2, e2, lo2, hi2, a2, b2)
        pos = iou_offsets[g]
        for i in range(d0, d1):
            h = ds[det_rows[i], 0]
            for j in range(g0, g1):
                if b1[i, 0] > b2[j, 2] or b2[j, 0] > b1[i, 2] or b1[i, 1] > b2[j, 3] or b2[j, 1] > b1[i, 3]:
                    out[pos] = 0.0
                    pos += 1
                    continue
                lo = max(b1[i, 0], b2[j, 0]) * h + max(b1[i, 1], b2[j, 1])
                hi = min(b1[i, 2], b2[j, 2]) * h + min(b1[i, 3], b2[j, 3]) + 1
                inter = _pair_inter(s1, e1, lo1[i], hi1[i], s2, e2, lo2[j], hi2[j], lo, hi)
                if inter == 0:
                    out[pos] = 0.0
                elif gt_crowd[j] != 0:
                    out[pos] = inter / a1[i]
                else:
                    out[pos] = inter / (a1[i] + a2[j] - inter)
                pos += 1


# --------------------------------------------------------------------------------------
# mask NMS


def nms(masks, scores, iou_threshold=0.5, *, backend="auto") -> np.ndarray:
    """Greedy non-maximum suppression on masks, with ``detmetrics.nms``' semantics.

    Masks are visited by decreasing score (stable: equal scores in input
    order); each mask not yet suppressed is kept and suppresses every later
    mask whose mask IoU with it is ``> iou_threshold`` (strict).  Mask IoU is
    computed on runs, only for the pairs the greedy pass needs.

    Parameters
    ----------
    masks : array-like of shape (N, H, W), or list of N RLE dicts
        0/1 masks or RLEs of one size.
    scores : array-like of shape (N,)
    iou_threshold : float in [0, 1], default=0.5
    backend : {"auto", "numba", "numpy"}, default="auto"

    Returns
    -------
    keep : ndarray of shape (K,), int64
        Indices of kept masks by decreasing score.

    Examples
    --------
    >>> import numpy as np
    >>> from detmetrics.masks import nms
    >>> m = np.zeros((3, 4, 4), dtype=bool)
    >>> m[0, :2] = True; m[1, :3] = True; m[2, 3:] = True
    >>> nms(m, [0.9, 0.8, 0.7]).tolist(), nms(m, [0.9, 0.8, 0.7], 0.7).tolist()
    ([0, 2], [0, 1, 2])
    """
    return _nms(masks, scores, None, iou_threshold, backend)


def batched_nms(masks, scores, labels, iou_threshold=0.5, *, backend="auto") -> np.ndarray:
    """Class-aware mask NMS: masks with different labels never suppress each other.

    Equals ``nms`` on each label's masks, the kept indices merged by
    decreasing score (stable), as ``detmetrics.batched_nms``.

    Parameters
    ----------
    masks : array-like of shape (N, H, W), or list of N RLE dicts
    scores : array-like of shape (N,)
    labels : array-like of shape (N,), integers
    iou_threshold : float in [0, 1], default=0.5
    backend : {"auto", "numba", "numpy"}, default="auto"

    Returns
    -------
    keep : ndarray of shape (K,), int64

    Examples
    --------
    >>> import numpy as np
    >>> from detmetrics.masks import batched_nms
    >>> m = np.ones((3, 2, 2), dtype=bool)
    >>> batched_nms(m, [0.9, 0.8, 0.7], [0, 0, 1]).tolist()
    [0, 2]
    """
    if labels is None:
        raise TypeError("labels must be an array-like of integers; got None (masks.nms is the class-agnostic NMS)")
    return _nms(masks, scores, labels, iou_threshold, backend)


def _nms(masks, scores, labels, iou_threshold, backend):
    # "auto": the reference spends ~40-250 us per pair and ~200 us per mask (see _backend.AUTO_WORK)
    n_masks = _n_items(masks)
    backend = resolve_backend(backend, 100 * n_masks * n_masks + 200 * n_masks, (_nms_kernel,))
    counts, offsets, sizes, single = _flatten(masks, "masks", backend)
    if single:
        raise ValueError("masks must be (N, H, W) or a list of RLEs; got a single mask")
    n = sizes.shape[0]
    s = as_scores(scores, "scores", length=n, length_of="masks")
    lab = np.zeros(n, dtype=np.int64) if labels is None else as_labels(labels, "labels", length=n, length_of="masks")
    thr = check_threshold(iou_threshold, "iou_threshold")
    if n:
        _check_one_size(sizes, "masks")
    iv = _intervals(counts, offsets, sizes, backend)
    order = np.argsort(-s, kind="stable").astype(np.int64)
    if backend == "numba":
        keep = np.empty(n, dtype=np.int64)
        k = _nms_kernel(*iv, order, lab, thr, int(sizes[0, 0]) if n else 1, keep)
        return keep[:k].copy()
    return _nms_reference(iv, order, lab, thr)


def _nms_reference(iv, order, labels, thr):
    n = order.shape[0]
    full = np.empty((n, n), dtype=np.float64)
    _iou_reference(iv, iv, np.zeros(n, dtype=np.uint8), full)
    suppressed = np.zeros(n, dtype=bool)
    keep = []
    for rank, i in enumerate(order):
        if suppressed[i]:
            continue
        keep.append(i)
        later = order[rank + 1 :]
        later = later[~suppressed[later] & (labels[later] == labels[i])]
        suppressed[later[full[i, later] > thr]] = True
    return np.array(keep, dtype=np.int64)


@kernel
def _nms_kernel(starts, ends, ioff, areas, boxes, order, labels, thr, h, keep):
    n = order.shape[0]
    suppressed = np.zeros(n, dtype=np.uint8)
    k = 0
    for r in range(n):
        i = order[r]
        if suppressed[i]:
            continue
        keep[k] = i
        k += 1
        for q in range(r + 1, n):
            j = order[q]
            if suppressed[j] or labels[j] != labels[i]:
                continue
            if (
                boxes[i, 0] > boxes[j, 2]
                or boxes[j, 0] > boxes[i, 2]
                or boxes[i, 1] > boxes[j, 3]
                or boxes[j, 1] > boxes[i, 3]
            ):
                continue
            lo = max(boxes[i, 0], boxes[j, 0]) * h + max(boxes[i, 1], boxes[j, 1])
            hi = min(boxes[i, 2], boxes[j, 2]) * h + min(boxes[i, 3], boxes[j, 3]) + 1
            inter = _pair_inter(starts, ends, ioff[i], ioff[i + 1], starts, ends, ioff[j], ioff[j + 1], lo, hi)
            if inter == 0:
                continue
            value = inter / (areas[i] + areas[j] - inter)
            if value > thr:
                suppressed[j] = 1
    return k
