"""The COCO JSON decoder of ``detmetrics.io`` (flat NumPy arrays out).

The one place where COCO JSON bytes are decoded: ``decode_json`` serves the
readers of ``detmetrics.io.coco`` (untyped: they check every field and name
the entry), and ``load_ground_truth`` / ``load_results`` decode straight into
typed structs for ``detmetrics.evaluate_coco`` (validation and decoding in
one pass with msgspec, about twice as fast as ``json.load``).  Without
msgspec the standard library's ``json`` is used with the same checks.
pycocotools is never imported.

Semantics follow pycocotools' ``COCO`` / ``COCO.loadRes``:

* ground truth: images and categories come from the ``images`` and
  ``categories`` lists; an annotation whose image or category is not listed
  is an error (pycocotools leaves it out silently; ``read_coco_gt`` and
  ``evaluate_coco`` share this rule); ``iscrowd`` defaults to 0;
  a missing ``area`` field is taken as ``w * h`` (pycocotools would raise
  ``KeyError``); the annotation ``id`` is only used for pycocotools' quirk
  that a match with a ground truth of id 0 does not count.
* results: each entry needs ``image_id``, ``category_id``, ``bbox`` (4
  numbers, xywh) and ``score``; its area is ``w * h``; an ``image_id`` absent
  from the ground truth is an error (pycocotools asserts); a ``category_id``
  absent from the ground truth's categories is ignored (as COCOeval does); an
  empty list is valid.
"""

from __future__ import annotations

import gc
import os
from dataclasses import dataclass
from itertools import chain
from operator import attrgetter
from typing import Annotated

import numpy as np

INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1

try:
    import msgspec

    HAVE_MSGSPEC = True
except ImportError:  # pragma: no cover - msgspec is a dependency
    msgspec = None  # type: ignore[assignment]
    HAVE_MSGSPEC = False

__all__: list[str] = []


if HAVE_MSGSPEC:
    # ids are int64 in the arrays: a larger JSON integer is a named error, not an OverflowError
    _Id = Annotated[int, msgspec.Meta(ge=INT64_MIN, le=INT64_MAX)]

    class _Image(msgspec.Struct, gc=False):
        id: _Id | str

    class _Category(msgspec.Struct, gc=False):
        id: _Id
        name: str = ""

    class _Annotation(msgspec.Struct, gc=False):
        image_id: _Id | str
        category_id: _Id
        bbox: tuple[float, float, float, float]
        id: int | str | None = None
        area: float | None = None
        iscrowd: int | bool = 0

    class _GroundTruth(msgspec.Struct, gc=False):
        images: list[_Image]
        annotations: list[_Annotation] = []
        categories: list[_Category] = []

    class _Result(msgspec.Struct, gc=False):
        image_id: _Id | str
        category_id: _Id
        bbox: tuple[float, float, float, float]
        score: float

    # results are decoded knowing the ground truth's id type: a string "1" is not the image 1
    class _ResultIntId(_Result):
        image_id: _Id

    class _ResultStrId(_Result):
        image_id: str


@dataclass
class CocoGroundTruth:
    """Flat ground truth: ids sorted as COCOeval sorts them, annotations as arrays."""

    image_ids: list          # sorted
    category_ids: list       # sorted ints
    category_names: dict     # id -> name
    image_index: np.ndarray  # (G,) int64 index into image_ids
    category: np.ndarray     # (G,) int64 category id
    boxes: np.ndarray        # (G, 4) float64 xywh
    area: np.ndarray         # (G,) float64
    iscrowd: np.ndarray      # (G,) uint8
    zero_id: np.ndarray      # (G,) uint8 (annotation id == 0)


@dataclass
class CocoResults:
    image_index: np.ndarray  # (D,) int64 index into the ground truth's image_ids
    category: np.ndarray     # (D,) int64
    boxes: np.ndarray        # (D, 4) float64 xywh
    scores: np.ndarray       # (D,) float64


def _read(source, what: str, *, allow=(dict, list)):
    """``(bytes, None, display name)`` for a path or bytes, ``(None, object, what)`` when already loaded."""
    if isinstance(source, allow):
        return None, source, what
    if isinstance(source, (bytes, bytearray)):
        return bytes(source), None, what
    if isinstance(source, (str, os.PathLike)):
        path = os.fspath(source)
        if not os.path.isfile(path):
            raise ValueError(f"{what} file {path!r} does not exist")
        with open(path, "rb") as fh:
            return fh.read(), None, path
    raise TypeError(f"{what} must be a path, bytes or a loaded COCO {('dict' if what == 'ground_truth' else 'list')}; "
                    f"got {type(source).__name__}")


def decode_json(source, what: str):
    """``(decoded JSON, display name)`` of a path, bytes or an already decoded dict/list (untyped)."""
    data, obj, name = _read(source, what)
    if data is None:
        return obj, name
    if HAVE_MSGSPEC:
        try:
            return msgspec.json.decode(data), name
        except msgspec.DecodeError as exc:
            raise ValueError(f"{name} is not valid JSON ({exc})") from None
        except RecursionError:
            raise ValueError(f"{name} is nested too deeply to be COCO JSON") from None
    import json  # fallback without msgspec

    try:
        return json.loads(data), name
    except ValueError as exc:
        raise ValueError(f"{name} is not valid JSON ({exc})") from None
    except RecursionError:
        raise ValueError(f"{name} is nested too deeply to be COCO JSON") from None


def _decode(source, type_, what: str):
    """Typed decode (msgspec structs) of a path, bytes or loaded object; errors name ``what``."""
    data, obj, _ = _read(source, what)
    if HAVE_MSGSPEC:
        # hundreds of thousands of small containers: the cyclic GC would scan them again
        # and again while they are created (~10% of the decode time at COCO scale)
        was_enabled = gc.isenabled()
        gc.disable()
        try:
            if data is not None:
                return msgspec.json.decode(data, type=type_)
            try:
                return msgspec.convert(obj, type=type_)
            except msgspec.ValidationError as exc:
                # built in Python with NumPy scalars (np.float32 scores, np.int64 ids), which
                # pycocotools accepts: the plain converter reads them; its error if it fails too
                try:
                    return _fallback_convert(obj, type_, what)
                except ValueError:
                    raise exc from None
        except msgspec.ValidationError as exc:
            raise ValueError(f"{what}: {exc}") from None
        except msgspec.DecodeError as exc:
            raise ValueError(f"{what} is not valid JSON ({exc})") from None
        except RecursionError:
            raise ValueError(f"{what} is nested too deeply to be COCO JSON") from None
        finally:
            if was_enabled:
                gc.enable()
    import json  # fallback without msgspec

    if data is not None:
        try:
            obj = json.loads(data)
        except ValueError as exc:
            raise ValueError(f"{what} is not valid JSON ({exc})") from None
        except RecursionError:
            raise ValueError(f"{what} is nested too deeply to be COCO JSON") from None
    return _fallback_convert(obj, type_, what)


def _check_boxes(boxes: np.ndarray, what: str) -> None:
    finite = np.isfinite(boxes).all(axis=1)
    if not finite.all():
        row = int(np.flatnonzero(~finite)[0])
        raise ValueError(f"{what}: [{row}].bbox contains NaN or infinite values ({boxes[row].tolist()})")
    bad = (boxes[:, 2] < 0) | (boxes[:, 3] < 0)
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        raise ValueError(f"{what}: [{row}].bbox has a negative width or height ({boxes[row].tolist()})")


def _bbox_array(items) -> np.ndarray:
    n = len(items)
    flat = np.fromiter(chain.from_iterable(map(attrgetter("bbox"), items)), dtype=np.float64, count=4 * n)
    return flat.reshape(n, 4)


def _column(items, field: str, dtype) -> np.ndarray:
    return np.fromiter(map(attrgetter(field), items), dtype=dtype, count=len(items))


def _sorted_ids(ids, what: str) -> list:
    try:
        return sorted(set(ids))
    except TypeError:
        raise ValueError(f"{what} mixes integer and string ids") from None


def _check_id_types(items, int_ids: bool, what: str, where: str) -> None:
    """Image ids match by value and type, as in pycocotools' dicts: "1" is not the image with id 1."""
    wrong = str if int_ids else int
    for row, item in enumerate(items):
        if isinstance(item.image_id, wrong):
            expected = "int" if int_ids else "str"
            raise ValueError(f"{what}: Expected `{expected}` (the ground truth's image ids are {expected}s), "
                             f"got `{type(item.image_id).__name__}` - at `{where.format(row)}`")


def _index_of(sorted_ids: list, items, field: str) -> np.ndarray:
    """Positions of every ``item.<field>`` in ``sorted_ids`` (-1 when absent)."""
    vals = None
    if all(isinstance(i, int) for i in sorted_ids):
        try:
            vals = _column(items, field, np.int64)
        except (TypeError, ValueError):  # string ids
            vals = None
    if vals is not None:
        keys = np.asarray(sorted_ids, dtype=np.int64)
        pos = np.searchsorted(keys, vals)
        pos_clip = np.minimum(pos, max(len(keys) - 1, 0))
        found = (pos < len(keys)) & (keys[pos_clip] == vals) if len(keys) else np.zeros(len(vals), bool)
        return np.where(found, pos, -1).astype(np.int64)
    lookup = {k: i for i, k in enumerate(sorted_ids)}
    return np.fromiter((lookup.get(v, -1) for v in map(attrgetter(field), items)), dtype=np.int64, count=len(items))


def load_ground_truth(source) -> CocoGroundTruth:
    """Load a COCO ground truth (path, bytes or dict) into flat arrays."""
    gt = _decode(source, _GroundTruth if HAVE_MSGSPEC else None, "ground_truth")
    image_ids = _sorted_ids([img.id for img in gt.images], "ground_truth images")
    category_ids = _sorted_ids([c.id for c in gt.categories], "ground_truth categories")
    names = {c.id: c.name for c in gt.categories}
    anns = gt.annotations
    _check_id_types(anns, all(isinstance(i, int) for i in image_ids), "ground_truth", "$.annotations[{}].image_id")
    image_index = _index_of(image_ids, anns, "image_id")
    cat_index = _index_of(category_ids, anns, "category_id")
    boxes = _bbox_array(anns)
    _check_boxes(boxes, "ground_truth annotations")
    area = np.array([a.area if a.area is not None else np.nan for a in anns], dtype=np.float64)
    missing = np.array([a.area is None for a in anns], dtype=bool)  # a NaN area given is an error, not "missing"
    if not np.all(np.isfinite(area[~missing])):
        row = int(np.flatnonzero(~missing & ~np.isfinite(area))[0])
        raise ValueError(f"ground_truth annotations: [{row}].area must be finite; got {area[row]!r}")
    if missing.any():
        area[missing] = boxes[missing, 2] * boxes[missing, 3]
    if not np.all(np.isfinite(area)):
        row = int(np.flatnonzero(~np.isfinite(area))[0])
        raise ValueError(f"ground_truth annotations: [{row}].area must be finite; got {area[row]!r}")
    iscrowd = np.array([bool(a.iscrowd) for a in anns], dtype=np.uint8)
    zero_id = np.array([a.id == 0 for a in anns], dtype=np.uint8)
    ann_ids = [a.id for a in anns if a.id is not None]
    if len(set(ann_ids)) != len(ann_ids):
        seen: set = set()
        dup = next(i for i in ann_ids if i in seen or seen.add(i))  # type: ignore[func-returns-value]
        raise ValueError(f"ground_truth annotations: duplicate annotation id {dup!r}")
    for index, field, listed in ((image_index, "image_id", "images"), (cat_index, "category_id", "categories")):
        if np.any(index < 0):
            row = int(np.flatnonzero(index < 0)[0])
            raise ValueError(f"ground_truth annotations: [{row}].{field} {getattr(anns[row], field)!r} is not in "
                             f"'{listed}' (pycocotools would leave the annotation out silently)")
    keep = (image_index >= 0) & (cat_index >= 0)
    return CocoGroundTruth(
        image_ids=image_ids,
        category_ids=category_ids,
        category_names=names,
        image_index=np.ascontiguousarray(image_index[keep]),
        category=np.ascontiguousarray(np.asarray([a.category_id for a in anns], dtype=np.int64).reshape(-1)[keep]),
        boxes=np.ascontiguousarray(boxes[keep]),
        area=np.ascontiguousarray(area[keep]),
        iscrowd=np.ascontiguousarray(iscrowd[keep]),
        zero_id=np.ascontiguousarray(zero_id[keep]),
    )


def load_results(source, gt: CocoGroundTruth) -> CocoResults:
    """Load COCO results (path, bytes or list) against a loaded ground truth."""
    int_ids = all(isinstance(i, int) for i in gt.image_ids)
    res_type = (list[_ResultIntId] if int_ids else list[_ResultStrId]) if HAVE_MSGSPEC else None
    res = _decode(source, res_type, "results")
    if not HAVE_MSGSPEC or isinstance(source, list):  # the plain converter accepts both id types
        _check_id_types(res, int_ids, "results", "$[{}].image_id")
    image_index = _index_of(gt.image_ids, res, "image_id")
    if np.any(image_index < 0):
        row = int(np.flatnonzero(image_index < 0)[0])
        raise ValueError(f"results: [{row}].image_id {res[row].image_id!r} is not an image of the ground truth")
    category = _column(res, "category_id", np.int64)
    scores = _column(res, "score", np.float64)
    boxes = _bbox_array(res)
    _check_boxes(boxes, "results")
    if not np.all(np.isfinite(scores)):
        row = int(np.flatnonzero(~np.isfinite(scores))[0])
        raise ValueError(f"results: [{row}].score must be finite; got {scores[row]!r}")
    cats = np.asarray(gt.category_ids, dtype=np.int64)
    keep = np.isin(category, cats)
    if not keep.all():
        image_index, category, boxes, scores = image_index[keep], category[keep], boxes[keep], scores[keep]
    return CocoResults(
        image_index=np.ascontiguousarray(image_index, dtype=np.int64),
        category=np.ascontiguousarray(category),
        boxes=np.ascontiguousarray(boxes),
        scores=np.ascontiguousarray(scores),
    )


# --------------------------------------------------------------------------------------
# stdlib fallback (no msgspec): same checks, plain Python


class _Obj:
    __slots__ = ("__dict__",)

    def __init__(self, **kw):
        self.__dict__.update(kw)


def _fallback_convert(obj, type_, what):
    def number(v, where):
        if isinstance(v, (bool, np.bool_)) or not isinstance(v, (int, float, np.integer, np.floating)):
            raise ValueError(f"{what}: Expected `float`, got `{type(v).__name__}` - at `{where}`")
        return float(v)

    def ident(v, where, allow_str=True):
        if isinstance(v, (bool, np.bool_)) or not (isinstance(v, (int, np.integer)) or (allow_str and isinstance(v, str))):
            raise ValueError(f"{what}: Expected `int`, got `{type(v).__name__}` - at `{where}`")
        if not isinstance(v, str) and not INT64_MIN <= v <= INT64_MAX:
            raise ValueError(f"{what}: Expected `int` <= {INT64_MAX} and >= {INT64_MIN} - at `{where}`")
        return int(v) if isinstance(v, np.integer) else v

    def bbox(v, where):
        if not isinstance(v, (list, tuple)) or len(v) != 4:
            raise ValueError(f"{what}: Expected `array` of length 4 - at `{where}`")
        return tuple(number(x, f"{where}[{i}]") for i, x in enumerate(v))

    def field(d, key, where):
        if not isinstance(d, dict):
            raise ValueError(f"{what}: Expected `object`, got `{type(d).__name__}` - at `{where}`")
        if key not in d:
            raise ValueError(f"{what}: Object missing required field `{key}` - at `{where}`")
        return d[key]

    if what == "results":
        if not isinstance(obj, list):
            raise ValueError(f"{what}: Expected `array`, got `{type(obj).__name__}`")
        out = []
        for i, r in enumerate(obj):
            w = f"$[{i}]"
            out.append(_Obj(image_id=ident(field(r, "image_id", w), w + ".image_id"),
                            category_id=ident(field(r, "category_id", w), w + ".category_id", False),
                            bbox=bbox(field(r, "bbox", w), w + ".bbox"),
                            score=number(field(r, "score", w), w + ".score")))
        return out
    if not isinstance(obj, dict):
        raise ValueError(f"{what}: Expected `object`, got `{type(obj).__name__}`")
    images = [_Obj(id=ident(field(im, "id", f"$.images[{i}]"), f"$.images[{i}].id"))
              for i, im in enumerate(field(obj, "images", "$"))]
    cats = [_Obj(id=ident(field(c, "id", f"$.categories[{i}]"), f"$.categories[{i}].id", False),
                 name=str(c.get("name", ""))) for i, c in enumerate(obj.get("categories", []))]
    anns = []
    for i, a in enumerate(obj.get("annotations", [])):
        w = f"$.annotations[{i}]"
        area = a.get("area") if isinstance(a, dict) else None
        anns.append(_Obj(image_id=ident(field(a, "image_id", w), w + ".image_id"),
                         category_id=ident(field(a, "category_id", w), w + ".category_id", False),
                         bbox=bbox(field(a, "bbox", w), w + ".bbox"), id=a.get("id"),
                         area=None if area is None else number(area, w + ".area"),
                         iscrowd=a.get("iscrowd", 0)))
    return _Obj(images=images, categories=cats, annotations=anns)
