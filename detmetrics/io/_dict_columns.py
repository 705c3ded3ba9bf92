"""COCO result dicts (Python objects in memory) into flat columns, in one pass.

``result_dict_columns(items, backend)`` turns a list of result dicts
(``image_id``, ``category_id``, ``score``, ``bbox``) into four arrays, or
returns None when an entry is anything the typed decoder would reject, so that
the typed path (``load_results``) names it.

* ``_result_dict_columns_reference``: one C-level pass per field
  (``map`` + ``itemgetter`` into ``np.fromiter``), chunk by chunk; it also reads
  NumPy scalars and any mapping.
* ``_result_dict_columns_kernel``: one compiled pass that visits each dict once
  and reads its four values through CPython's C API.  It reads only what it can
  check exactly: a ``dict``, ids that are ``int`` (or NumPy ``int64`` /
  ``int32``), scores and coordinates that are ``int`` or ``float`` (or NumPy
  ``float64`` / ``float32`` / ``int64`` / ``int32``), a bbox that is a ``list``
  or ``tuple`` of 4; exact types, so a ``bool`` is not an ``int`` here.  At the
  first entry it does not read it stops and the reference takes over from that
  entry, so both give the same columns (or None) for every input.

The kernel holds the GIL while it runs (``PyGILState_Ensure``: numba's
``nogil`` wrapper releases it, and Python objects may only be read under it),
takes a reference to each dict while it looks up its values (a key's
``__eq__`` may run Python code) and checks the list's length at every entry.
It is only used where the object layout it reads (``ob_type`` after the
reference count, a float's value and a list's length after the header) is
the one found in this interpreter (``_layout_ok``, checked with ctypes on
first use), and never under ``NUMBA_DISABLE_JIT``; NumPy scalars are read
only where their value sits right after the header too (NumPy's
``Py<Type>ScalarObject``, checked the same way), else left to the reference.
"""

from __future__ import annotations

import os
import sys
from itertools import chain
from operator import itemgetter

import numpy as np

from .._backend import intrinsic, kernel

#: the dict keys, in the kernel's order (the same string objects for every call)
_KEYS = ("image_id", "category_id", "score", "bbox")

#: results per chunk of the reference: the chunk's dicts, their values and the passes over them
#: stay in the CPU caches (measured at COCO scale: 0.29 s for the 400k dicts in one piece, 0.19 s
#: in chunks of 16k; at 4M results the one-piece passes grew 12x)
_DICT_CHUNK = 16384


def result_dict_columns(items: list, backend: str = "auto"):
    """``(image_id, category_id, score, boxes)`` arrays of COCO result dicts with integer ids, or None.

    ``backend`` as in ``resolve_backend``; the kernel is used only where ``_layout_ok``.
    """
    if kernel_chosen(len(items), backend):
        return _result_dict_columns_numba(items)
    return _result_dict_columns_reference(items)


def kernel_chosen(n: int, backend: str = "auto") -> bool:
    """Whether ``n`` result dicts are read by the kernel on ``backend`` (resolved as ``resolve_backend``)."""
    # the reference costs ~0.6 us a dict (0.26 s at COCO scale), the kernel ~0.1 us; a cold
    # compile of the kernel ~0.5 s, so a fresh environment stays on the reference for a while
    return n > 0 and _use_kernel(backend, n // 2, _result_dict_columns_kernel, result_dict_columns)


def _use_kernel(backend: str, work: int, fn, site) -> bool:
    """Whether the dict kernel ``fn`` runs: this interpreter's object layout, no ``NUMBA_DISABLE_JIT``,
    and ``backend`` resolved to numba for ``work`` at ``site`` (``resolve_backend``, cold-compile aware)."""
    if backend == "numpy" or not _layout_ok() or _jit_disabled():
        return False
    from .._backend import COLD_WORK, resolve_backend

    return resolve_backend(backend, work, (fn,), site=site, cold_work=COLD_WORK) == "numba"


class DictBlockReader:
    """Entries of a result list read by the kernel a block at a time, into one set of buffers.

    ``read(start)``: entries ``start:start + rows`` as ``(image_id, category, score, boxes)``,
    views valid until the next ``read``; None when the kernel cannot read one of them or the
    list changed length (the caller then reads the list by ``result_dict_columns``, which
    hands such entries to the reference and the typed path).
    """

    def __init__(self, items: list, rows: int):
        self.items, self.n = items, len(items)
        self.columns = (np.empty(rows, dtype=np.int64), np.empty(rows, dtype=np.int64),
                        np.empty(rows, dtype=np.float64), np.empty((rows, 4), dtype=np.float64))
        self.keys = np.array([id(k) for k in _KEYS], dtype=np.int64)
        self.type_ids = _type_ids()

    def fill(self, start: int) -> int:
        """Entries from ``start`` into the buffers (as many as they hold); the count the kernel read."""
        stop = min(start + self.columns[0].shape[0], self.n)
        return _result_dict_columns_kernel(id(self.items), start, stop, self.keys, self.type_ids, *self.columns)

    def read(self, start: int):
        m = min(self.columns[0].shape[0], self.n - start)
        if self.fill(start) < m or len(self.items) != self.n:
            return None
        return tuple(column[:m] for column in self.columns)


def _result_dict_columns_numba(items: list):
    n = len(items)
    reader = DictBlockReader(items, n)
    done = reader.fill(0)
    image_id, category, score, boxes = reader.columns
    if len(items) != n:  # changed by Python code a lookup ran: the typed path reads what is there now
        return None
    if done < n:  # an entry the kernel does not read (a NumPy scalar, a bool, a missing key, ...)
        rest = _result_dict_columns_reference(items[done:])
        if rest is None:
            return None
        for column, tail in zip((image_id, category, score, boxes), rest):
            column[done:] = tail
    return image_id, category, score, boxes


def _types_ok(values, number: bool) -> bool:
    """Every value an int (or, with ``number``, a float), Python or NumPy; never a bool.

    The set of the values' types is built in one C-level pass; the check is then on a
    handful of types.
    """
    for t in set(map(type, values)):
        if t is int or (number and t is float):
            continue
        if issubclass(t, (bool, np.bool_)) or not issubclass(t, (np.integer, np.floating) if number else np.integer):
            return False
        if not number and issubclass(t, np.unsignedinteger) and t is not np.uint8 and t is not np.uint16 \
                and t is not np.uint32:
            return False  # uint64 may exceed int64: the typed path names it
    return True


def _result_dict_columns_reference(items: list):
    """The columns by one C-level pass per field, without a struct or tuple per result.

    Chunk by chunk (``_DICT_CHUNK``); NumPy scalars are read as they are.  The value
    types are checked first (``np.fromiter`` would read ``1.5`` as the id 1, ``"0.5"`` or
    ``True`` as a score): anything the typed decoder would reject (a missing field, a
    string, a bool, a bbox that is not 4 numbers, an id outside int64, a number too large
    for a float) returns None, and the typed path names it.
    """
    n = len(items)
    image_id = np.empty(n, dtype=np.int64)
    category = np.empty(n, dtype=np.int64)
    score = np.empty(n, dtype=np.float64)
    boxes = np.empty((n, 4), dtype=np.float64)
    flat_boxes = boxes.reshape(-1)
    for s0 in range(0, n, _DICT_CHUNK):
        chunk = items[s0:s0 + _DICT_CHUNK]
        m = len(chunk)
        try:
            ids = list(map(itemgetter("image_id"), chunk))
            cats = list(map(itemgetter("category_id"), chunk))
            scores = list(map(itemgetter("score"), chunk))
            bboxes = list(map(itemgetter("bbox"), chunk))
        except (KeyError, TypeError, IndexError):
            return None
        if not (_types_ok(ids, False) and _types_ok(cats, False) and _types_ok(scores, True)):
            return None
        if not set(map(type, bboxes)) <= {list, tuple} or set(map(len, bboxes)) != {4}:
            return None
        if not _types_ok(chain.from_iterable(bboxes), True):
            return None
        try:
            image_id[s0:s0 + m] = np.fromiter(ids, dtype=np.int64, count=m)
            category[s0:s0 + m] = np.fromiter(cats, dtype=np.int64, count=m)
            score[s0:s0 + m] = np.fromiter(scores, dtype=np.float64, count=m)
            flat_boxes[4 * s0:4 * (s0 + m)] = np.fromiter(chain.from_iterable(bboxes), dtype=np.float64,
                                                          count=4 * m)
        except (OverflowError, ValueError):
            return None
    return image_id, category, score, boxes


@kernel
def _result_dict_columns_kernel(items, start, stop, keys, type_ids, image_id, category, score, boxes):
    """Fill the columns from entries ``start:stop`` of the list at address ``items`` (entry ``i`` into
    row ``i - start``); return the entries read (``stop - start`` when all).

    ``keys``: addresses of the strings of ``_KEYS``; ``type_ids``: addresses of the types
    ``_type_ids`` lists (0 for a NumPy type not read).  Entry ``i`` is read only when every
    value has one of the exact types the module docstring lists; otherwise ``i`` is returned.
    """
    t_dict, t_int, t_float, t_list, t_tuple = type_ids[0], type_ids[1], type_ids[2], type_ids[3], type_ids[4]
    value = np.empty(1, dtype=np.int64)
    number = np.empty(1, dtype=np.float64)
    state = _gil_ensure()
    done = 0
    for i in range(stop - start):
        if start + i >= _size(items):  # a key's __eq__ may have shortened the list
            break
        d = _list_item(items, start + i)
        if _type(d) != t_dict:
            break
        _incref(d)
        ok = True
        # the exact Python types are read here; NumPy scalars by _numpy_id / _numpy_number (a call
        # per value through them made the common case twice as slow)
        o = _dict_item(d, keys[0])
        t = _type(o) if o != 0 else 0
        if t == t_int and _long_value(o, value) == 0:
            image_id[i] = value[0]
        elif t != t_int and _numpy_id(o, t, type_ids, value):
            image_id[i] = value[0]
        else:
            ok = False
        if ok:
            o = _dict_item(d, keys[1])
            t = _type(o) if o != 0 else 0
            if t == t_int and _long_value(o, value) == 0:
                category[i] = value[0]
            elif t != t_int and _numpy_id(o, t, type_ids, value):
                category[i] = value[0]
            else:
                ok = False
        if ok:
            o = _dict_item(d, keys[2])
            t = _type(o) if o != 0 else 0
            if t == t_float:
                score[i] = _float_value(o)
            elif t == t_int:
                if _long_value(o, value) == 0:
                    score[i] = float(value[0])  # int64 to double rounds to nearest even, as float(int)
                else:
                    ok = False
            elif _numpy_number(o, t, type_ids, number):
                score[i] = number[0]
            else:
                ok = False
        if ok:
            b = _dict_item(d, keys[3])
            t = _type(b) if b != 0 else 0
            if (t != t_list and t != t_tuple) or _size(b) != 4:
                ok = False
            else:
                for j in range(4):
                    o = _list_item(b, j) if t == t_list else _tuple_item(b, j)
                    u = _type(o)
                    if u == t_float:
                        boxes[i, j] = _float_value(o)
                    elif u == t_int:
                        if _long_value(o, value) != 0:
                            ok = False
                            break
                        boxes[i, j] = float(value[0])
                    elif _numpy_number(o, u, type_ids, number):
                        boxes[i, j] = number[0]
                    else:
                        ok = False
                        break
        _decref(d)
        if not ok:
            break
        done = i + 1
    _gil_release(state)
    return done


@kernel
def _numpy_id(o, t, type_ids, value):
    # a NumPy int64 / int32 scalar (type t) into value[0]; False for any other type
    if t == 0:
        return False
    if t == type_ids[7]:
        value[0] = _int64_value(o)
        return True
    if t == type_ids[8]:
        value[0] = _int32_value(o)
        return True
    return False


@kernel
def _numpy_number(o, t, type_ids, number):
    # a NumPy float64 / float32 / int64 / int32 scalar (type t) into number[0], as float() gives it
    # (an int64 to double rounds to nearest even, as float(int) does); False for any other type
    if t == 0:
        return False
    if t == type_ids[5]:  # numpy.float64 is a float: the same layout
        number[0] = _float_value(o)
    elif t == type_ids[6]:
        number[0] = _float32_value(o)
    elif t == type_ids[7]:
        number[0] = float(_int64_value(o))
    elif t == type_ids[8]:
        number[0] = float(_int32_value(o))
    else:
        return False
    return True


def _type_ids() -> np.ndarray:
    """Addresses of the types the kernel reads: dict, int, float, list, tuple, then NumPy's float64,
    float32, int64, int32 (0 where ``_numpy_layout_ok`` does not hold)."""
    numpy_types = (np.float64, np.float32, np.int64, np.int32)
    numpy_ids = [id(t) for t in numpy_types] if _numpy_layout_ok() else [0] * len(numpy_types)
    return np.array([id(dict), id(int), id(float), id(list), id(tuple), *numpy_ids], dtype=np.int64)


# ------------------------------------------------------------------ ground-truth annotations

#: the annotation keys, in the kernel's order
_ANN_KEYS = ("image_id", "category_id", "bbox", "area", "iscrowd", "id")


def annotation_dict_columns(items: list, backend: str = "auto"):
    """``(image_id, category, boxes, area, missing, iscrowd, ann_id, has_id)`` of COCO annotation dicts, or None.

    Read only where every annotation is a ``dict`` of exact Python values as the typed decoder
    takes them: ``image_id`` and ``category_id`` ints, ``bbox`` a list or tuple of 4 ints or
    floats, ``area`` an int, a float, None or absent (``missing``, the area NaN), ``iscrowd`` an
    int, a bool or absent (0), ``id`` an int, None or absent (``has_id`` False); ints within
    int64.  Anything else (string ids, NumPy scalars, a missing field) gives None: the typed
    path reads it or names it.  ``backend`` as ``result_dict_columns``; None too where the
    kernel is not used (the typed decoder's C passes are faster than the Python reference,
    which holds the rules for the tests).
    """
    n = len(items)
    if not n:
        return _annotation_columns(0)
    if not _use_kernel(backend, n, _annotation_dict_columns_kernel, annotation_dict_columns):
        return None
    out = _annotation_columns(n)
    keys = np.array([id(k) for k in _ANN_KEYS], dtype=np.int64)
    done = _annotation_dict_columns_kernel(id(items), n, keys, _annotation_type_ids(), *out)
    return out if done == n and len(items) == n else None


def _annotation_columns(n: int):
    return (np.empty(n, dtype=np.int64), np.empty(n, dtype=np.int64), np.empty((n, 4), dtype=np.float64),
            np.empty(n, dtype=np.float64), np.zeros(n, dtype=bool), np.empty(n, dtype=np.int64),
            np.zeros(n, dtype=np.int64), np.zeros(n, dtype=bool))


def _annotation_type_ids() -> np.ndarray:
    """Addresses of dict, int, float, list, tuple, bool, then of the objects None and True."""
    return np.array([id(dict), id(int), id(float), id(list), id(tuple), id(bool), id(None), id(True)], dtype=np.int64)


def _annotation_dict_columns_reference(items: list):
    """The columns of ``annotation_dict_columns`` by a Python loop over the annotations (the same rules)."""
    n = len(items)
    image_id, category, boxes, area, missing, iscrowd, ann_id, has_id = out = _annotation_columns(n)

    def exact_int(v):
        return type(v) is int and -(2**63) <= v < 2**63

    def number(v):
        if type(v) is float:
            return v
        if exact_int(v):
            return float(v)
        raise TypeError

    try:
        for i, d in enumerate(items):
            if type(d) is not dict:
                return None
            if not (exact_int(d.get("image_id")) and exact_int(d.get("category_id"))):
                return None
            image_id[i], category[i] = d["image_id"], d["category_id"]
            b = d.get("bbox")
            if not isinstance(b, (list, tuple)) or type(b) not in (list, tuple) or len(b) != 4:
                return None
            boxes[i] = [number(v) for v in b]
            a = d.get("area")
            if a is None:
                area[i], missing[i] = np.nan, True
            else:
                area[i] = number(a)
            c = d.get("iscrowd", 0)
            if type(c) is bool:
                iscrowd[i] = int(c)
            elif exact_int(c):
                iscrowd[i] = c
            else:
                return None
            k = d.get("id")
            if k is not None:
                if not exact_int(k):
                    return None
                ann_id[i], has_id[i] = k, True
    except TypeError:
        return None
    return out


@kernel
def _exact_int(o, t_int, value):
    # an exact int within int64 into value[0]
    return o != 0 and _type(o) == t_int and _long_value(o, value) == 0


@kernel
def _exact_number(o, t_int, t_float, value, number):
    # an exact float, or an exact int within int64 (as float() rounds it), into number[0]
    if o == 0:
        return False
    t = _type(o)
    if t == t_float:
        number[0] = _float_value(o)
        return True
    if t == t_int and _long_value(o, value) == 0:
        number[0] = float(value[0])
        return True
    return False


@kernel
def _annotation_dict_columns_kernel(items, n, keys, types, image_id, category, boxes, area, missing, iscrowd,
                                    ann_id, has_id):
    """Fill the columns from the first ``n`` annotations of the list at address ``items``; return the
    annotations read (``n`` when all; the rules of ``annotation_dict_columns``)."""
    t_dict, t_int, t_float, t_list, t_tuple, t_bool = types[0], types[1], types[2], types[3], types[4], types[5]
    o_none, o_true = types[6], types[7]
    value = np.empty(1, dtype=np.int64)
    number = np.empty(1, dtype=np.float64)
    state = _gil_ensure()
    done = 0
    for i in range(n):
        if i >= _size(items):  # a key's __eq__ may have shortened the list
            break
        d = _list_item(items, i)
        if _type(d) != t_dict:
            break
        _incref(d)
        ok = _exact_int(_dict_item(d, keys[0]), t_int, value)
        if ok:
            image_id[i] = value[0]
            ok = _exact_int(_dict_item(d, keys[1]), t_int, value)
        if ok:
            category[i] = value[0]
            b = _dict_item(d, keys[2])
            t = _type(b) if b != 0 else 0
            ok = (t == t_list or t == t_tuple) and _size(b) == 4
            if ok:
                for j in range(4):
                    o = _list_item(b, j) if t == t_list else _tuple_item(b, j)
                    if not _exact_number(o, t_int, t_float, value, number):
                        ok = False
                        break
                    boxes[i, j] = number[0]
        if ok:
            o = _dict_item(d, keys[3])
            if o == 0 or o == o_none:
                area[i] = np.nan
                missing[i] = True
            elif _exact_number(o, t_int, t_float, value, number):
                area[i] = number[0]
                missing[i] = False
            else:
                ok = False
        if ok:
            o = _dict_item(d, keys[4])
            if o == 0:
                iscrowd[i] = 0
            elif _type(o) == t_bool:
                iscrowd[i] = 1 if o == o_true else 0
            elif _exact_int(o, t_int, value):
                iscrowd[i] = value[0]
            else:
                ok = False
        if ok:
            o = _dict_item(d, keys[5])
            if o == 0 or o == o_none:
                ann_id[i] = 0
                has_id[i] = False
            elif _exact_int(o, t_int, value):
                ann_id[i] = value[0]
                has_id[i] = True
            else:
                ok = False
        _decref(d)
        if not ok:
            break
        done = i + 1
    _gil_release(state)
    return done


# ------------------------------------------------------------------ CPython objects, for the kernel
# Addresses are int64 (``id()``); every helper returns a borrowed reference or a plain value.


def _llvm():
    from llvmlite import ir
    from numba import types
    from numba.core import cgutils

    return ir, types, cgutils


def _c_function(builder, name, ret, args):
    ir, _, cgutils = _llvm()
    return cgutils.get_or_insert_function(builder.module, ir.FunctionType(ret, args), name)


def _load(builder, address, offset, ir_type):
    ir, _, _ = _llvm()
    at = builder.add(address, ir.Constant(ir.IntType(64), offset))
    return builder.load(builder.inttoptr(at, ir_type.as_pointer()))


@intrinsic
def _type(typingctx, obj):
    """The address of ``type(obj)`` (``ob_type``, the word after the reference count)."""
    ir, types, _ = _llvm()

    def codegen(context, builder, sig, args):
        return _load(builder, args[0], _OB_TYPE, ir.IntType(64))
    return types.int64(types.int64), codegen


@intrinsic
def _size(typingctx, obj):
    """``len()`` of a list or tuple (``ob_size``, after ``ob_type``)."""
    ir, types, _ = _llvm()

    def codegen(context, builder, sig, args):
        return _load(builder, args[0], _OB_TYPE + 8, ir.IntType(64))
    return types.int64(types.int64), codegen


@intrinsic
def _float32_value(typingctx, obj):
    """The value of a NumPy ``float32`` scalar (after the header), widened to double."""
    ir, types, _ = _llvm()

    def codegen(context, builder, sig, args):
        return builder.fpext(_load(builder, args[0], _OB_TYPE + 8, ir.FloatType()), ir.DoubleType())
    return types.float64(types.int64), codegen


@intrinsic
def _int64_value(typingctx, obj):
    """The value of a NumPy ``int64`` scalar (after the header)."""
    ir, types, _ = _llvm()

    def codegen(context, builder, sig, args):
        return _load(builder, args[0], _OB_TYPE + 8, ir.IntType(64))
    return types.int64(types.int64), codegen


@intrinsic
def _int32_value(typingctx, obj):
    """The value of a NumPy ``int32`` scalar (after the header), widened to int64."""
    ir, types, _ = _llvm()

    def codegen(context, builder, sig, args):
        return builder.sext(_load(builder, args[0], _OB_TYPE + 8, ir.IntType(32)), ir.IntType(64))
    return types.int64(types.int64), codegen


@intrinsic
def _float_value(typingctx, obj):
    """The value of an exact ``float`` (``ob_fval``, after the header)."""
    ir, types, _ = _llvm()

    def codegen(context, builder, sig, args):
        return _load(builder, args[0], _OB_TYPE + 8, ir.DoubleType())
    return types.float64(types.int64), codegen


def _object_call(name, n_args):
    """An intrinsic ``name(obj, int64...) -> object address`` (0 for NULL)."""
    def impl(typingctx, *args):
        ir, types, _ = _llvm()
        p8 = ir.IntType(8).as_pointer()

        def codegen(context, builder, sig, llargs):
            fn = _c_function(builder, name, p8, [p8] + [ir.IntType(64)] * (n_args - 1))
            call_args = [builder.inttoptr(llargs[0], p8), *llargs[1:]]
            return builder.ptrtoint(builder.call(fn, call_args), ir.IntType(64))
        return types.int64(*([types.int64] * n_args)), codegen
    impl.__name__ = f"_{name}"
    return impl


@intrinsic
def _list_item(typingctx, obj, index):
    """``PyList_GetItem(obj, index)``."""
    return _object_call("PyList_GetItem", 2)(typingctx, obj, index)


@intrinsic
def _tuple_item(typingctx, obj, index):
    """``PyTuple_GetItem(obj, index)``."""
    return _object_call("PyTuple_GetItem", 2)(typingctx, obj, index)


@intrinsic
def _dict_item(typingctx, obj, key):
    """``PyDict_GetItem(obj, key)`` (0 when absent; errors are suppressed by the C API)."""
    ir, types, _ = _llvm()
    p8 = ir.IntType(8).as_pointer()

    def codegen(context, builder, sig, args):
        fn = _c_function(builder, "PyDict_GetItem", p8, [p8, p8])
        found = builder.call(fn, [builder.inttoptr(args[0], p8), builder.inttoptr(args[1], p8)])
        return builder.ptrtoint(found, ir.IntType(64))
    return types.int64(types.int64, types.int64), codegen


@intrinsic
def _long_value(typingctx, obj, out):
    """``PyLong_AsLongLongAndOverflow`` of an exact ``int`` into ``out[0]``; returns the overflow flag.

    On an exact ``int`` the call sets no exception: out of the int64 range it only raises the flag.
    """
    ir, types, cgutils = _llvm()
    p8 = ir.IntType(8).as_pointer()
    i32 = ir.IntType(32)

    def codegen(context, builder, sig, args):
        fn = _c_function(builder, "PyLong_AsLongLongAndOverflow", ir.IntType(64), [p8, i32.as_pointer()])
        flag = cgutils.alloca_once_value(builder, ir.Constant(i32, 0))
        got = builder.call(fn, [builder.inttoptr(args[0], p8), flag])
        builder.store(got, context.make_array(sig.args[1])(context, builder, args[1]).data)
        return builder.sext(builder.load(flag), ir.IntType(64))
    return types.int64(types.int64, types.int64[::1]), codegen


@intrinsic
def _incref(typingctx, obj):
    """``Py_IncRef(obj)``."""
    ir, types, _ = _llvm()
    p8 = ir.IntType(8).as_pointer()

    def codegen(context, builder, sig, args):
        builder.call(_c_function(builder, "Py_IncRef", ir.VoidType(), [p8]), [builder.inttoptr(args[0], p8)])
        return context.get_dummy_value()
    return types.none(types.int64), codegen


@intrinsic
def _decref(typingctx, obj):
    """``Py_DecRef(obj)``."""
    ir, types, _ = _llvm()
    p8 = ir.IntType(8).as_pointer()

    def codegen(context, builder, sig, args):
        builder.call(_c_function(builder, "Py_DecRef", ir.VoidType(), [p8]), [builder.inttoptr(args[0], p8)])
        return context.get_dummy_value()
    return types.none(types.int64), codegen


@intrinsic
def _gil_ensure(typingctx):
    """``PyGILState_Ensure()``, as an int64 to hand back to ``_gil_release``."""
    ir, types, _ = _llvm()

    def codegen(context, builder, sig, args):
        state = builder.call(_c_function(builder, "PyGILState_Ensure", ir.IntType(32), []), [])
        return builder.zext(state, ir.IntType(64))
    return types.int64(), codegen


@intrinsic
def _gil_release(typingctx, state):
    """``PyGILState_Release(state)``."""
    ir, types, _ = _llvm()

    def codegen(context, builder, sig, args):
        fn = _c_function(builder, "PyGILState_Release", ir.VoidType(), [ir.IntType(32)])
        builder.call(fn, [builder.trunc(args[0], ir.IntType(32))])
        return context.get_dummy_value()
    return types.none(types.int64), codegen


#: byte offset of ``ob_type`` in an object (after ``ob_refcnt``); ``_layout_ok`` confirms it
_OB_TYPE = 8

_layout: bool | None = None


def _layout_ok() -> bool:
    """Whether this interpreter lays objects out as the kernel reads them (checked once, with ctypes)."""
    global _layout
    if _layout is None:
        _layout = False
        if sys.implementation.name == "cpython" and np.dtype(np.intp).itemsize == 8:
            import ctypes

            def word(obj, offset):
                return ctypes.c_int64.from_address(id(obj) + offset).value

            x, items, pair = 1.25, [1, 2, 3], (1, 2)
            _layout = (word(x, _OB_TYPE) == id(float) and word(items, _OB_TYPE) == id(list)
                       and word({}, _OB_TYPE) == id(dict) and word(pair, _OB_TYPE) == id(tuple)
                       and word(7, _OB_TYPE) == id(int)
                       and ctypes.c_double.from_address(id(x) + _OB_TYPE + 8).value == x
                       and word(items, _OB_TYPE + 8) == 3 and word(pair, _OB_TYPE + 8) == 2)
    return _layout


_numpy_layout: bool | None = None


def _numpy_layout_ok() -> bool:
    """Whether NumPy's float64 / float32 / int64 / int32 scalars hold their value right after the header."""
    global _numpy_layout
    if _numpy_layout is None:
        _numpy_layout = False
        if _layout_ok():
            import ctypes

            def at(obj, c_type):
                return c_type.from_address(id(obj) + _OB_TYPE + 8).value

            _numpy_layout = (at(np.float64(-7.25), ctypes.c_double) == -7.25
                             and at(np.float32(-7.25), ctypes.c_float) == -7.25
                             and at(np.int64(-(2**40) - 7), ctypes.c_int64) == -(2**40) - 7
                             and at(np.int32(-7), ctypes.c_int32) == -7
                             and issubclass(np.float64, float))
    return _numpy_layout


def _jit_disabled() -> bool:
    # under NUMBA_DISABLE_JIT the kernel would run as Python, where its intrinsics cannot
    return os.environ.get("NUMBA_DISABLE_JIT", "0") not in ("", "0")
