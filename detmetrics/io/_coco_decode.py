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
from itertools import chain, repeat
from operator import attrgetter, eq
from typing import Annotated

import numpy as np

from .._backend import kernel
from .._lookup import isin, positions
from .._validate import all_finite
from ._dict_columns import DictBlockReader, annotation_dict_columns, result_dict_columns

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


    class _RLE(msgspec.Struct, gc=False):
        size: list[int]
        counts: str | list[int]

    class _ImageSized(msgspec.Struct, gc=False):
        id: int | str
        height: int = 0
        width: int = 0

    class _AnnotationInstance(msgspec.Struct, gc=False):
        image_id: int | str
        category_id: int
        bbox: tuple[float, float, float, float]
        id: int | str | None = None
        area: float | None = None
        iscrowd: int | bool = 0
        segmentation: list[list[float]] | _RLE | None = None
        keypoints: msgspec.Raw = msgspec.Raw(b"null")  # parsed in one call (_keypoint_array)
        num_keypoints: int | None = None

    class _GroundTruthInstance(msgspec.Struct, gc=False):
        images: list[_ImageSized]
        annotations: list[_AnnotationInstance] = []
        categories: list[_Category] = []

    class _ResultInstance(msgspec.Struct, gc=False):
        image_id: int | str
        category_id: int
        score: float
        bbox: list[float] | None = None
        segmentation: list[list[float]] | _RLE | None = None
        keypoints: msgspec.Raw = msgspec.Raw(b"null")


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
    iou_type: str = "bbox"
    heights: np.ndarray | None = None        # (n_images,) int64, 0 = not given (segm / keypoints)
    widths: np.ndarray | None = None
    masks: tuple | None = None               # segm: flat RLEs (counts, count_offsets, sizes)
    keypoints: np.ndarray | None = None      # keypoints: (G, K, 3)
    num_keypoints: np.ndarray | None = None  # keypoints: (G,) float64


@dataclass
class CocoResults:
    image_index: np.ndarray  # (D,) int64 index into the ground truth's image_ids
    category: np.ndarray     # (D,) int64
    boxes: np.ndarray        # (D, 4) float64 xywh
    scores: np.ndarray       # (D,) float64
    area: np.ndarray | None = None       # segm / keypoints: COCO.loadRes' area
    masks: tuple | None = None           # segm: flat RLEs
    keypoints: np.ndarray | None = None  # keypoints: (D, K, 3)


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
                # pycocotools accepts: the plain converter reads them.  If it fails too, msgspec's
                # error, unless that error is about a NumPy scalar (which the converter read): the
                # converter's then names what is really wrong
                try:
                    return _fallback_convert(obj, type_, what)
                except ValueError:
                    if "got `numpy." in str(exc):
                        raise
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
    if boxes.size == 0 or (all_finite(boxes) and boxes[:, 2:].min() >= 0):
        return  # the common case in three reductions, no temporary; else find and name the row
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


def _check_id_types(items, int_ids: bool, what: str, where: str, offset: int = 0) -> None:
    """Image ids match by value and type, as in pycocotools' dicts: "1" is not the image with id 1.

    ``offset``: the row of ``items[0]`` in the errors (``items`` a chunk of the list).
    """
    wrong = str if int_ids else int
    if wrong not in set(map(type, map(attrgetter("image_id"), items))):  # one C-level pass: the common case
        return
    for row, item in enumerate(items, offset):
        if isinstance(item.image_id, wrong):
            expected = "int" if int_ids else "str"
            raise ValueError(f"{what}: Expected `{expected}` (the ground truth's image ids are {expected}s), "
                             f"got `{type(item.image_id).__name__}` - at `{where.format(row)}`")


def _index_of_ints(sorted_ids, vals: np.ndarray) -> np.ndarray:
    """Positions of the int64 ``vals`` in the sorted integer ids (-1 when absent)."""
    return positions(np.asarray(sorted_ids, dtype=np.int64), vals)


def _index_of(sorted_ids: list, items, field: str) -> np.ndarray:
    """Positions of every ``item.<field>`` in ``sorted_ids`` (-1 when absent)."""
    vals = None
    if set(map(type, sorted_ids)) <= {int}:
        try:
            vals = _column(items, field, np.int64)
        except (TypeError, ValueError):  # string ids
            vals = None
    if vals is not None:
        return _index_of_ints(sorted_ids, vals)
    lookup = {k: i for i, k in enumerate(sorted_ids)}
    return np.fromiter((lookup.get(v, -1) for v in map(attrgetter(field), items)), dtype=np.int64, count=len(items))


def load_ground_truth(source, iou_type: str = "bbox", backend: str = "numpy") -> CocoGroundTruth:
    """Load a COCO ground truth (path, bytes or dict) into flat arrays.

    ``iou_type="segm"`` also decodes every annotation's ``segmentation`` (polygons with
    the image's ``height`` / ``width``, or RLE) as ``COCO.annToRLE`` does; ``"keypoints"``
    every annotation's ``keypoints`` and ``num_keypoints``.
    """
    if iou_type != "bbox":
        return _load_instances(source, iou_type, backend)
    if isinstance(source, dict) and HAVE_MSGSPEC:
        fast = _ground_truth_dict_columns(source, backend)
        if fast is not None:
            return fast
    return _ground_truth_columns(_decode(source, _GroundTruth if HAVE_MSGSPEC else None, "ground_truth"))


def _ground_truth_dict_columns(source: dict, backend: str) -> CocoGroundTruth | None:
    """``_ground_truth_columns`` of a loaded ground truth whose annotations ``annotation_dict_columns``
    reads (one compiled pass over the dicts instead of typed structs and a pass per field), its
    images and categories decoded as usual; None where anything differs from what that path takes
    without a word (string image ids, NumPy scalars, a duplicate id, an unknown image): the typed
    path then reads it or names the problem, with its own message."""
    anns = source.get("annotations", [])
    if type(anns) is not list or len(anns) < 2 or type(source.get("images")) is not list \
            or type(source.get("categories", [])) is not list:
        return None
    try:
        head = _decode({"images": source["images"], "categories": source.get("categories", [])}, _GroundTruth,
                       "ground_truth")
    except ValueError:
        return None
    image_ids = _sorted_ids([img.id for img in head.images], "ground_truth images")
    if not set(map(type, image_ids)) <= {int}:
        return None
    fields = annotation_dict_columns(anns, backend)
    if fields is None:
        return None
    image_vals, category, boxes, area, missing, iscrowd, ann_id, has_id = fields

    def duplicate():  # which one is left to the typed path (its error names the first)
        return None if _int64_unique(ann_id if has_id.all() else ann_id[has_id]) else True

    try:
        return _ground_truth_arrays(head, image_ids, image_vals, category, boxes, area, missing, iscrowd,
                                    (has_id & (ann_id == 0)).astype(np.uint8), duplicate,
                                    lambda row, field: anns[row][field])
    except ValueError:
        return None  # a box, an area, a duplicate id, an image or a category: the typed path names it


#: annotations per round of field passes in ``_annotation_fields``: their objects (~300 bytes
#: each with the box tuple) stay in the cache from one field's pass to the next
_FIELD_CHUNK = 8192


def _annotation_fields(anns, int_images: bool):
    """``(image ids or None, category ids, boxes, areas, area missing, iscrowd, ids)`` of decoded annotations.

    One C-level pass per field (``map`` + ``attrgetter``), run over chunks of ``_FIELD_CHUNK``
    annotations: all fields of a chunk are read while its objects are in the cache.  Passes
    over the whole list, one field after the other, read every object from memory once per
    field once the list outgrows the cache (ground truth 13x the time at 10x the annotations).
    ``int_images``: the image ids are ints (checked here, chunk by chunk, in row order).
    Areas read NaN where missing (None), flagged in the mask; ``ids`` is the list of ids.
    """
    n = len(anns)
    image = np.empty(n, dtype=np.int64) if int_images else None
    category = np.empty(n, dtype=np.int64)
    boxes = np.empty((n, 4), dtype=np.float64)
    area = np.empty(n, dtype=np.float64)
    missing = np.zeros(n, dtype=bool)
    iscrowd = np.empty(n, dtype=np.int64)
    ids: list = []
    flat_boxes = boxes.reshape(-1)
    for c0 in range(0, n, _FIELD_CHUNK):
        part = anns[c0:c0 + _FIELD_CHUNK]
        m = len(part)
        c1 = c0 + m
        _check_id_types(part, int_images, "ground_truth", "$.annotations[{}].image_id", c0)
        if image is not None:
            image[c0:c1] = np.fromiter(map(attrgetter("image_id"), part), dtype=np.int64, count=m)
        category[c0:c1] = np.fromiter(map(attrgetter("category_id"), part), dtype=np.int64, count=m)
        flat_boxes[4 * c0:4 * c1] = np.fromiter(chain.from_iterable(map(attrgetter("bbox"), part)),
                                                dtype=np.float64, count=4 * m)
        areas = list(map(attrgetter("area"), part))
        area[c0:c1] = np.array(areas, dtype=np.float64).reshape(-1)  # a missing area (None) reads as NaN here
        if None in areas:
            missing[c0:c1] = np.fromiter(map(eq, areas, repeat(None)), dtype=bool, count=m)
        iscrowd[c0:c1] = np.fromiter(map(attrgetter("iscrowd"), part), dtype=np.int64, count=m)
        ids.extend(map(attrgetter("id"), part))
    return image, category, boxes, area, missing, iscrowd, ids


def _ints_unique(ids: list):
    """Whether the ids are unique, when all are ints within int64 (told through NumPy); else None.

    Increasing ids (as files write them) take one comparison pass, others a sort: np.unique's
    hash table took 0.3 s for 369k ids, a set of the Python ints 50 ms.
    """
    if not ids or set(map(type, ids)) != {int}:
        return None
    try:
        arr = np.array(ids, dtype=np.int64)
    except OverflowError:  # beyond int64
        return None
    return _int64_unique(arr)


def _int64_unique(arr: np.ndarray) -> bool:
    """Whether the int64 ids are unique: one comparison pass when increasing, else a sort."""
    if bool(np.all(arr[1:] > arr[:-1])):
        return True
    ordered = np.sort(arr)
    return not bool(np.any(ordered[1:] == ordered[:-1]))


def _duplicate_id(ids: list):
    """The first annotation id (None skipped) seen twice, or None."""
    unique = _ints_unique(ids)
    ann_ids = [i for i in ids if i is not None] if None in ids else ids
    if unique or (unique is None and len(set(ann_ids)) == len(ann_ids)):
        return None
    seen: set = set()  # a duplicate exists: the first one in row order
    return next(i for i in ann_ids if i in seen or seen.add(i))  # type: ignore[func-returns-value]


def _ground_truth_columns(gt) -> CocoGroundTruth:
    """The flat columns of a decoded ground truth (``images``, ``annotations``, ``categories``)."""
    image_ids = _sorted_ids([img.id for img in gt.images], "ground_truth images")
    anns = gt.annotations
    int_images = set(map(type, image_ids)) <= {int}
    image_vals, category, boxes, area, missing, iscrowd, ids = _annotation_fields(anns, int_images)
    zero_id = np.fromiter(map(eq, ids, repeat(0)), dtype=bool, count=len(ids)).astype(np.uint8)
    return _ground_truth_arrays(gt, image_ids, image_vals, category, boxes, area, missing, iscrowd, zero_id,
                                lambda: _duplicate_id(ids), lambda row, field: getattr(anns[row], field))


def _ground_truth_arrays(gt, image_ids, image_vals, category, boxes, area, missing, iscrowd, zero_id,
                         duplicate, shown) -> CocoGroundTruth:
    """``CocoGroundTruth`` of the annotations' fields, checked in the typed path's order.

    ``gt``: the decoded images and categories (and the annotations when ``image_vals`` is None,
    the ids then strings); ``duplicate()``: the first annotation id given twice, or None;
    ``shown(row, field)``: an annotation's value, as the errors name it.
    """
    category_ids = _sorted_ids([c.id for c in gt.categories], "ground_truth categories")
    names = {c.id: c.name for c in gt.categories}
    if image_vals is not None:
        image_index = _index_of_ints(image_ids, image_vals)
    else:
        image_index = _index_of(image_ids, gt.annotations, "image_id")
    cat_index = _index_of_ints(category_ids, category)
    _check_boxes(boxes, "ground_truth annotations")
    # a NaN area given is an error, not "missing": tell the two apart by the None
    if not all_finite(area[~missing] if missing.any() else area):
        row = int(np.flatnonzero(~missing & ~np.isfinite(area))[0])
        raise ValueError(f"ground_truth annotations: [{row}].area must be finite; got {area[row]!r}")
    if missing.any():
        area[missing] = boxes[missing, 2] * boxes[missing, 3]
    if not all_finite(area):
        row = int(np.flatnonzero(~np.isfinite(area))[0])
        raise ValueError(f"ground_truth annotations: [{row}].area must be finite; got {area[row]!r}")
    iscrowd = (iscrowd != 0).astype(np.uint8)
    dup = duplicate()
    if dup is not None:
        raise ValueError(f"ground_truth annotations: duplicate annotation id {dup!r}")
    for index, field, listed in ((image_index, "image_id", "images"), (cat_index, "category_id", "categories")):
        if np.any(index < 0):
            row = int(np.flatnonzero(index < 0)[0])
            raise ValueError(f"ground_truth annotations: [{row}].{field} {shown(row, field)!r} is not in "
                             f"'{listed}' (pycocotools would leave the annotation out silently)")
    return CocoGroundTruth(  # every annotation's image and category is listed (checked above)
        image_ids=image_ids,
        category_ids=category_ids,
        category_names=names,
        image_index=image_index,
        category=category,
        boxes=boxes,
        area=area,
        iscrowd=iscrowd,
        zero_id=zero_id,
    )


def load_results(source, gt: CocoGroundTruth, backend: str = "numpy") -> CocoResults:
    """Load COCO results (path, bytes or list) against a loaded ground truth (of its ``iou_type``)."""
    if gt.iou_type != "bbox":
        return _load_instance_results(source, gt, backend)
    int_ids = set(map(type, gt.image_ids)) <= {int}  # one C-level pass (msgspec gives int or str)
    fast = result_dict_columns(source, backend) if int_ids and isinstance(source, list) else None
    if fast is not None:
        # one C-level pass per column straight from the dicts; errors go through the typed path below
        return _int_id_columns(gt, *fast, shown=lambda row: source[row]["image_id"])
    size = _results_size(source) if int_ids and HAVE_MSGSPEC and backend != "numpy" else None
    if size is not None:
        from .._backend import COLD_WORK, resolve_backend

        # the typed decoder (C) is the reference: a first run in a fresh environment uses it rather
        # than compiling the scan kernel (~2 s) for one file.  Only the scan kernel decides: the token
        # join compiles only for files with numbers the scan leaves to msgspec, so requiring it too
        # would keep most environments on the decoder for good
        if resolve_backend(backend, _scan_work(size), (_results_scan_kernel,),
                           site=_scan_results, cold_work=COLD_WORK) == "numba":
            scanned = _scan_source(source)
            if scanned is not None:
                return _int_id_columns(gt, *scanned, shown=lambda row: int(scanned[0][row]))
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
    return _result_columns(gt, image_index, category, scores, boxes)


def result_blocks(items: list, gt: CocoGroundTruth, rows: int):
    """A bbox result list (integer ids, image by image) as blocks of whole images, for ``detmetrics._blocks``.

    Yields ``(first, end, image_index, category, scores, boxes)``: the results of images
    ``first:end`` (positions in ``gt.image_ids``; the blocks cover every image, the last ends at
    the last image), about ``rows`` at a time, read by ``DictBlockReader`` into one set of
    buffers (views valid until the next block) and checked as ``load_results`` checks them
    (categories the ground truth does not list dropped).  Yields None and stops at anything the
    blocks do not take: an entry the kernel does not read, an unknown image, a box or score
    ``load_results`` rejects, results not in image order, an image with more than ``rows``
    results.  The caller then evaluates the list through ``load_results``, which reads it (or
    names the problem) as always.
    """
    n = len(items)
    reader = DictBlockReader(items, rows + 1)  # one entry more: whether a block's last image goes on
    ids = np.asarray(gt.image_ids, dtype=np.int64)
    start = first = 0
    while start < n:
        block = reader.read(start)
        if block is None:
            yield None
            return
        image_id, category, scores, boxes = block
        m = image_id.shape[0]
        index = positions(ids, image_id)
        if index[0] < first or index.min() < 0 or bool((index[1:] < index[:-1]).any()):
            yield None
            return
        if start + m < n:
            cut = int(np.searchsorted(index, index[m - 1], side="left"))  # the last image goes to the next block
            if cut == 0:
                yield None
                return
            end = int(index[cut])
        else:
            cut, end = m, len(gt.image_ids)
        try:  # load_results' checks and category filter, on the block
            part = _result_columns(gt, index[:cut], category[:cut], scores[:cut], boxes[:cut])
        except ValueError:
            yield None
            return
        yield first, end, part.image_index, part.category, part.scores, part.boxes
        start, first = start + cut, end


def _int_id_columns(gt: CocoGroundTruth, image_id, category, scores, boxes, *, shown) -> CocoResults:
    """``_result_columns`` of results whose integer image ids are looked up in ``gt`` (``shown(row)``:
    the id as the error names it)."""
    image_index = _index_of_ints(gt.image_ids, image_id)
    if np.any(image_index < 0):
        row = int(np.flatnonzero(image_index < 0)[0])
        raise ValueError(f"results: [{row}].image_id {shown(row)!r} is not an image of the ground truth")
    return _result_columns(gt, image_index, category, scores, boxes)


def _result_columns(gt: CocoGroundTruth, image_index, category, scores, boxes) -> CocoResults:
    """Checked ``CocoResults`` of result columns (categories the ground truth does not list are dropped)."""
    _check_boxes(boxes, "results")
    if not all_finite(scores):
        row = int(np.flatnonzero(~np.isfinite(scores))[0])
        raise ValueError(f"results: [{row}].score must be finite; got {scores[row]!r}")
    cats = np.asarray(gt.category_ids, dtype=np.int64)
    keep = isin(category, cats)
    if not keep.all():
        image_index, category, boxes, scores = image_index[keep], category[keep], boxes[keep], scores[keep]
    return CocoResults(
        image_index=np.ascontiguousarray(image_index, dtype=np.int64),
        category=np.ascontiguousarray(category),
        boxes=np.ascontiguousarray(boxes),
        scores=np.ascontiguousarray(scores),
    )


# --------------------------------------------------------------------------------------
# segm / keypoints


def _segm_objects(items, what: str) -> list:
    """``segmentation`` fields as ``detmetrics.masks._segmentations_flat`` takes them (RLE structs -> dicts)."""
    out = []
    for i, item in enumerate(items):
        segm = item.segmentation if not isinstance(item, dict) else item.get("segmentation")
        if segm is None:
            raise ValueError(f"{what}: [{i}] has no 'segmentation' (iou_type='segm' needs one on every entry)")
        if isinstance(segm, dict):
            segm = {"size": segm.get("size"), "counts": segm.get("counts")}
        elif not isinstance(segm, list):
            segm = {"size": segm.size, "counts": segm.counts}
        if isinstance(segm, dict) and isinstance(segm["counts"], str):
            try:
                segm["counts"] = segm["counts"].encode("ascii")
            except UnicodeEncodeError:
                raise ValueError(f"{what}: [{i}].segmentation['counts'] is not a valid compressed RLE string "
                                 "(non-ASCII text)") from None
        out.append(segm)
    return out


def _compressed_rles(items, backend: str):
    """Flat RLEs of results that all carry compressed (text) RLEs, parsed in one kernel call; else None.

    The common results file (pycocotools' own ``encode`` output, detectron2's, ultralytics'):
    the strings are joined into one buffer without a Python object per RLE.  Anything unusual
    (polygons, list counts, a bad string, counts that do not add up) returns None and the
    general path reads (and names) it.
    """
    from ..masks import _SEPARATOR, _parse_joined

    try:
        texts = [r.segmentation.counts for r in items]
        size_list = [r.segmentation.size for r in items]
    except AttributeError:
        return None
    if not all(type(t) is str for t in texts):
        return None
    sizes = np.array(size_list) if size_list else np.zeros((0, 2), np.int64)
    if sizes.shape != (len(texts), 2) or sizes.dtype.kind not in "iu" or (sizes.size and sizes.min() < 0):
        return None
    sizes = np.ascontiguousarray(sizes, dtype=np.int64)
    try:
        joined = _SEPARATOR.decode().join(texts).encode("ascii")
    except UnicodeEncodeError:
        return None
    counts, offsets, err = _parse_joined(joined, len(texts), sizes[:, 0] * sizes[:, 1], backend)
    if err[0] != 0:
        return None
    return counts, offsets, sizes


def _raw_json(item, field: str) -> bytes:
    value = getattr(item, field)
    return bytes(value) if isinstance(value, msgspec.Raw) else msgspec.json.encode(value)


def _has(item, field: str) -> bool:
    return _raw_json(item, field) != b"null"


def _keypoint_array(items, what: str, k: int | None) -> np.ndarray:
    """``keypoints`` fields (raw JSON ``[x1, y1, v1, ...]``) -> ``(N, K, 3)``; every entry must have the same K.

    The raw arrays are joined and parsed by NumPy in one call (a Python float per number
    was most of the load time); anything unusual goes through the per-entry path, which
    names the entry.
    """
    raws = [_raw_json(item, "keypoints") for item in items]
    sizes = [r.count(b",") + 1 for r in raws]
    if raws and all(r[:1] == b"[" and r[-1:] == b"]" and b"[" not in r[1:] and b'"' not in r for r in raws):
        try:
            values = msgspec.json.decode(b"[" + b",".join(r[1:-1] for r in raws) + b"]", type=list[float])
            flat = np.array(values, dtype=np.float64)
        except (msgspec.DecodeError, msgspec.ValidationError):
            flat = None
        n0 = sizes[0]
        if flat is not None and flat.shape[0] == sum(sizes) and all(n == n0 for n in sizes) and n0 % 3 == 0 \
                and (k is None or n0 == 3 * k) and np.all(np.isfinite(flat)):
            return flat.reshape(len(raws), n0 // 3, 3)
    rows = []
    for i, raw in enumerate(raws):
        kp = msgspec.json.decode(raw)
        if kp is None:
            raise ValueError(f"{what}: [{i}] has no 'keypoints' (iou_type='keypoints' needs them on every entry)")
        if not isinstance(kp, list) or len(kp) == 0 or len(kp) % 3 or not all(
                isinstance(v, (int, float)) and not isinstance(v, bool) for v in kp):
            raise ValueError(f"{what}: [{i}].keypoints must be [x1, y1, v1, ...] (3 numbers per keypoint); "
                             f"got {str(kp)[:80]}")
        if k is None:
            k = len(kp) // 3
        elif len(kp) != 3 * k:
            raise ValueError(f"{what}: [{i}].keypoints has {len(kp) // 3} keypoints but earlier entries have {k}")
        rows.append(kp)
    arr = np.asarray(rows, dtype=np.float64).reshape(len(rows), k or 0, 3)
    if not np.all(np.isfinite(arr)):
        row = int(np.argwhere(~np.isfinite(arr))[0][0])
        raise ValueError(f"{what}: [{row}].keypoints contains NaN or infinite values")
    return arr


def _resolve(backend: str, n_entries: int) -> str:
    """``backend`` for reading ``n_entries`` masks / keypoint sets (``"auto"`` weighs them)."""
    from .._backend import resolve_backend
    from .._inputs import MASK_WORK
    from ..masks import _area_kernel, _from_strings_kernel, _polygons_kernel

    return resolve_backend(backend, MASK_WORK * n_entries, (_area_kernel, _from_strings_kernel, _polygons_kernel),
                           site=_resolve)


def _as_json(source):
    """Loaded Python objects -> JSON bytes (the typed decoder reads raw keypoint arrays from text)."""
    if not isinstance(source, (dict, list)):
        return source

    def plain(obj):  # bytes RLE counts (pycocotools' encode output) stay text, NumPy values plain
        if isinstance(obj, dict):
            return {k: plain(v) for k, v in obj.items()}
        if isinstance(obj, (list, tuple)):
            return [plain(v) for v in obj]
        if isinstance(obj, (bytes, bytearray)):
            return bytes(obj).decode("latin-1")
        if isinstance(obj, np.ndarray):
            return obj.tolist()
        if isinstance(obj, np.generic):
            return obj.item()
        return obj

    try:
        return msgspec.json.encode(plain(source))
    except (TypeError, OverflowError) as exc:
        raise TypeError(f"a loaded COCO object must hold JSON values ({exc})") from None


def _load_instances(source, iou_type: str, backend: str) -> CocoGroundTruth:
    from ..masks import _segmentations_flat

    if not HAVE_MSGSPEC:  # pragma: no cover - msgspec is a dependency
        raise ImportError(f"iou_type={iou_type!r} from COCO JSON needs msgspec")
    gt = _decode(_as_json(source), _GroundTruthInstance, "ground_truth")
    backend = _resolve(backend, len(gt.annotations))
    base = _ground_truth_columns(gt)
    image_ids = base.image_ids
    lookup = {im.id: im for im in gt.images}
    heights = np.array([getattr(lookup[i], "height", 0) or 0 for i in image_ids], dtype=np.int64)
    widths = np.array([getattr(lookup[i], "width", 0) or 0 for i in image_ids], dtype=np.int64)
    anns = gt.annotations
    base.iou_type = iou_type
    base.heights, base.widths = heights, widths
    if iou_type == "segm":
        segms = _segm_objects(anns, "ground_truth annotations")
        idx = base.image_index
        base.masks = _segmentations_flat(segms, heights[idx], widths[idx], backend, "ground_truth annotations")
    else:
        base.keypoints = _keypoint_array(anns, "ground_truth annotations", None)
        num = [a.num_keypoints if not isinstance(a, dict) else a.get("num_keypoints") for a in anns]
        visible = (base.keypoints[:, :, 2] > 0).sum(axis=1).astype(np.float64)
        given = np.array([np.nan if v is None else float(v) for v in num], dtype=np.float64).reshape(-1)
        base.num_keypoints = np.where(np.isnan(given), visible, given)
    return base


def _load_instance_results(source, gt: CocoGroundTruth, backend: str) -> CocoResults:
    """Results with ``segmentation`` / ``keypoints``, with ``COCO.loadRes``' rules for area and boxes.

    ``loadRes`` decides from the *first* entry: if it has a (non-empty) ``bbox``, every entry
    is read as a box result (its area is ``w * h``, a missing ``segmentation`` is the box as a
    polygon); otherwise, with a ``segmentation``, the area is the mask's; otherwise, with
    ``keypoints``, the area is the keypoints' extent ``(max x - min x) * (max y - min y)``.
    """
    from ..masks import _area_flat, _segmentations_flat

    if not HAVE_MSGSPEC:  # pragma: no cover - msgspec is a dependency
        raise ImportError(f"iou_type={gt.iou_type!r} from COCO JSON needs msgspec")
    res = _decode(_as_json(source), list[_ResultInstance], "results")
    _check_id_types(res, set(map(type, gt.image_ids)) <= {int}, "results", "$[{}].image_id")
    backend = _resolve(backend, len(res))
    image_index = _index_of(gt.image_ids, res, "image_id")
    if np.any(image_index < 0):
        row = int(np.flatnonzero(image_index < 0)[0])
        raise ValueError(f"results: [{row}].image_id {res[row].image_id!r} is not an image of the ground truth")
    category = _column(res, "category_id", np.int64)
    scores = _column(res, "score", np.float64)
    if not np.all(np.isfinite(scores)):
        row = int(np.flatnonzero(~np.isfinite(scores))[0])
        raise ValueError(f"results: [{row}].score must be finite; got {scores[row]!r}")
    n = len(res)
    branch = "bbox"
    if n:
        first = res[0]
        if first.bbox is not None and len(first.bbox) > 0:
            branch = "bbox"
        elif first.segmentation is not None:
            branch = "segm"
        elif _has(first, "keypoints"):
            branch = "keypoints"
        else:
            raise ValueError("results: [0] has neither 'bbox', 'segmentation' nor 'keypoints'")
    boxes = np.zeros((n, 4), dtype=np.float64)
    if branch == "bbox":
        for i, r in enumerate(res):
            if r.bbox is None or len(r.bbox) != 4:
                raise ValueError(f"results: [{i}].bbox must be 4 numbers [x, y, w, h] (the first result has a "
                                 "bbox, so pycocotools reads every result as a box result)")
        boxes = np.asarray([r.bbox for r in res], dtype=np.float64).reshape(n, 4)
        _check_boxes(boxes, "results")
    masks = kpts = None
    heights = gt.heights[image_index] if gt.heights is not None else np.zeros(n, np.int64)
    widths = gt.widths[image_index] if gt.widths is not None else np.zeros(n, np.int64)
    if gt.iou_type == "segm" or branch == "segm":
        if branch == "bbox":
            # a box result without a segmentation is scored as its box (loadRes' polygon)
            items = []
            for r, b in zip(res, boxes.tolist()):
                if r.segmentation is None:
                    x1, y1, x2, y2 = b[0], b[1], b[0] + b[2], b[1] + b[3]
                    items.append(_ResultInstance(r.image_id, r.category_id, r.score,
                                                 segmentation=[[x1, y1, x1, y2, x2, y2, x2, y1]]))
                else:
                    items.append(r)
        else:
            items = res
        masks = _compressed_rles(items, backend)
        if masks is None:  # polygons, uncompressed or bad RLEs: the general reader (which names problems)
            masks = _segmentations_flat(_segm_objects(items, "results"), heights, widths, backend, "results")
    if gt.iou_type == "keypoints" or branch == "keypoints":
        k = gt.keypoints.shape[1] if gt.keypoints is not None and gt.keypoints.shape[0] else None
        kpts = _keypoint_array(res, "results", k)
    if branch == "bbox":
        area = boxes[:, 2] * boxes[:, 3]
    elif branch == "segm":
        assert masks is not None
        area = _area_flat(masks[0], masks[1], backend).astype(np.float64)
    else:
        assert kpts is not None
        x, y = kpts[:, :, 0], kpts[:, :, 1]
        x0, x1, y0, y1 = x.min(axis=1), x.max(axis=1), y.min(axis=1), y.max(axis=1)
        boxes = np.stack([x0, y0, x1 - x0, y1 - y0], axis=1) if n else boxes
        area = (x1 - x0) * (y1 - y0)
    if gt.iou_type == "segm":
        kpts = None
    else:
        masks = None
    cats = np.asarray(gt.category_ids, dtype=np.int64)
    keep = np.isin(category, cats)
    if not keep.all():
        from .._inputs import take_rles

        idx = np.flatnonzero(keep)
        image_index, category, boxes, scores, area = (a[idx] for a in (image_index, category, boxes, scores, area))
        masks = take_rles(masks, idx) if masks is not None else None
        kpts = kpts[idx] if kpts is not None else None
    return CocoResults(
        image_index=np.ascontiguousarray(image_index, dtype=np.int64),
        category=np.ascontiguousarray(category),
        boxes=np.ascontiguousarray(boxes),
        scores=np.ascontiguousarray(scores),
        area=np.ascontiguousarray(area, dtype=np.float64),
        masks=masks,
        keypoints=None if kpts is None else np.ascontiguousarray(kpts),
    )


# --------------------------------------------------------------------------------------
# bbox results straight from the JSON bytes into columns (no Python object per result)
#
# ``load_results`` on bytes or a file: the common results file (a flat array of objects with
# ``image_id``, ``category_id``, ``bbox``, ``score`` and perhaps other scalar fields) is scanned
# by one kernel that writes the columns directly.  A number is converted in the kernel only when
# the conversion is exact by construction (at most 15 significant digits and a decimal exponent
# in [-22, 22]: one correctly rounded multiplication or division of two exact doubles, the fast
# path every correctly rounded strtod has); any other number (17-digit reprs of float32 scores,
# for example) is handed back as a token and converted by msgspec, the decoder of the typed path.
# Whatever the kernel does not read exactly as msgspec would (a nested field value, a non-ASCII
# string, a duplicate field, an id that is not a plain integer, malformed JSON, ...) makes it
# return a failure and the typed decoder reads (and names the problem in) the whole input.
# Measured at COCO scale (400k results, 34 MB): about 10x less time than the typed decode plus
# column extraction, and the memory of the columns only.

#: the shortest valid result, ``{"image_id":1,"category_id":1,"bbox":[1,1,1,1],"score":1}`` and
#: its comma: a bound on the number of results in ``n`` bytes
_MIN_RESULT_BYTES = 58

_SCAN_OK, _SCAN_FAIL = 0, 1


@kernel
def _skip_ws(data, p):
    n = data.shape[0]
    while p < n:
        c = data[p]
        if c != 32 and c != 10 and c != 13 and c != 9:
            break
        p += 1
    return p


@kernel
def _scan_number(data, p):
    # A JSON number at p (strict grammar).  Returns (end, kind, mantissa, exp10, negative, n_sig):
    # kind -1 invalid, 0 integer literal, 1 with fraction or exponent; the value is
    # mantissa * 10**exp10 while n_sig (significant digits) <= 18, else the mantissa is truncated
    # (the caller then does not use it).
    n = data.shape[0]
    neg = False
    mant = 0
    exp10 = 0
    n_sig = 0
    kind = 0
    if p < n and data[p] == 45:  # '-'
        neg = True
        p += 1
    if p >= n:
        return p, -1, mant, exp10, neg, n_sig
    c = data[p]
    if c == 48:  # '0'
        p += 1
    elif 49 <= c <= 57:
        while p < n and 48 <= data[p] <= 57:
            if n_sig < 18:
                mant = mant * 10 + (data[p] - 48)
                n_sig += 1
            else:
                exp10 += 1
                n_sig += 1
            p += 1
    else:
        return p, -1, mant, exp10, neg, n_sig
    if p < n and data[p] == 46:  # '.'
        kind = 1
        p += 1
        if p >= n or not 48 <= data[p] <= 57:
            return p, -1, mant, exp10, neg, n_sig
        while p < n and 48 <= data[p] <= 57:
            d = data[p] - 48
            if n_sig < 18:
                if mant != 0 or d != 0:
                    n_sig += 1
                mant = mant * 10 + d
                exp10 -= 1
            else:
                n_sig += 1  # beyond the exact range: the token goes to msgspec
            p += 1
    if p < n and (data[p] == 101 or data[p] == 69):  # 'e' / 'E'
        kind = 1
        p += 1
        eneg = False
        if p < n and (data[p] == 43 or data[p] == 45):
            eneg = data[p] == 45
            p += 1
        if p >= n or not 48 <= data[p] <= 57:
            return p, -1, mant, exp10, neg, n_sig
        e = 0
        while p < n and 48 <= data[p] <= 57:
            if e < 100000:
                e = e * 10 + (data[p] - 48)
            p += 1
        exp10 += -e if eneg else e
    return p, kind, mant, exp10, neg, n_sig


@kernel
def _exact_double(kind, mant, exp10, neg, n_sig):
    # (ok, value): mant * 10**exp10 when one IEEE operation on exact operands gives it
    if n_sig > 15 or exp10 > 22 or exp10 < -22:
        return False, 0.0
    if kind == 0 and mant == 0:
        return True, 0.0  # the integer -0 is the float 0.0 (msgspec, json), not -0.0
    power = 1.0
    for _ in range(exp10 if exp10 > 0 else -exp10):
        power *= 10.0  # exact up to 1e22
    value = float(mant) * power if exp10 >= 0 else float(mant) / power
    return True, -value if neg else value


@kernel
def _skip_scalar(data, p):
    # End of the scalar JSON value at p (string of printable ASCII with valid escapes, number,
    # true / false / null), or -1 (a container, non-ASCII text, malformed)
    n = data.shape[0]
    if p >= n:
        return -1
    c = data[p]
    if c == 34:  # '"'
        p += 1
        while p < n:
            c = data[p]
            if c == 34:
                return p + 1
            if c < 32 or c >= 128:
                return -1
            if c == 92:  # backslash
                p += 1
                if p >= n:
                    return -1
                e = data[p]
                if e == 117:  # \uXXXX
                    for _ in range(4):
                        p += 1
                        if p >= n:
                            return -1
                        h = data[p]
                        if not (48 <= h <= 57 or 65 <= h <= 70 or 97 <= h <= 102):
                            return -1
                elif not (e == 34 or e == 92 or e == 47 or e == 98 or e == 102 or e == 110 or e == 114
                          or e == 116):
                    return -1
            p += 1
        return -1
    if c == 45 or 48 <= c <= 57:
        end, kind, mant, exp10, neg, n_sig = _scan_number(data, p)
        return -1 if kind < 0 else end
    if c == 116 or c == 110:  # true, null
        if p + 4 > n:
            return -1
        if c == 116 and data[p + 1] == 114 and data[p + 2] == 117 and data[p + 3] == 101:
            return p + 4
        if c == 110 and data[p + 1] == 117 and data[p + 2] == 108 and data[p + 3] == 108:
            return p + 4
        return -1
    if c == 102:  # false
        if p + 5 <= n and data[p + 1] == 97 and data[p + 2] == 108 and data[p + 3] == 115 and data[p + 4] == 101:
            return p + 5
    return -1


@kernel
def _results_scan_kernel(data, image_id, category, boxes, scores, token_start, token_end, token_dest, counts):
    # Scan a JSON array of bbox results into the columns (boxes flat, 4 per result).  Numbers
    # not converted exactly here go to token_start / token_end / token_dest (dest 5 * i + k: k < 4
    # the box value, 4 the score).  counts[0] = results, counts[1] = tokens.  Returns 0 (read)
    # or 1 (not read: the typed decoder takes the input).
    n = data.shape[0]
    cap = image_id.shape[0]
    n_res = 0
    n_tok = 0
    counts[0] = 0
    counts[1] = 0
    p = _skip_ws(data, 0)
    if p >= n or data[p] != 91:  # '['
        return 1
    p = _skip_ws(data, p + 1)
    if p < n and data[p] == 93:  # ']'
        p = _skip_ws(data, p + 1)
        return 0 if p == n else 1
    while True:
        if p >= n or data[p] != 123 or n_res >= cap:  # '{'
            return 1
        i = n_res
        seen = 0
        p = _skip_ws(data, p + 1)
        while True:
            if p >= n or data[p] != 34:
                return 1
            k0 = p + 1
            p = k0
            while p < n and data[p] != 34:
                c = data[p]
                if c == 92 or c < 32 or c >= 128:
                    return 1
                p += 1
            if p >= n:
                return 1
            k1 = p
            p = _skip_ws(data, p + 1)
            if p >= n or data[p] != 58:  # ':'
                return 1
            p = _skip_ws(data, p + 1)
            length = k1 - k0
            field = 0  # 1 image_id, 2 category_id, 4 bbox, 8 score, 0 another field
            if length == 8 and data[k0] == 105 and data[k0 + 1] == 109 and data[k0 + 2] == 97 \
                    and data[k0 + 3] == 103 and data[k0 + 4] == 101 and data[k0 + 5] == 95 \
                    and data[k0 + 6] == 105 and data[k0 + 7] == 100:
                field = 1
            elif length == 11 and data[k0] == 99 and data[k0 + 1] == 97 and data[k0 + 2] == 116 \
                    and data[k0 + 3] == 101 and data[k0 + 4] == 103 and data[k0 + 5] == 111 \
                    and data[k0 + 6] == 114 and data[k0 + 7] == 121 and data[k0 + 8] == 95 \
                    and data[k0 + 9] == 105 and data[k0 + 10] == 100:
                field = 2
            elif length == 4 and data[k0] == 98 and data[k0 + 1] == 98 and data[k0 + 2] == 111 \
                    and data[k0 + 3] == 120:
                field = 4
            elif length == 5 and data[k0] == 115 and data[k0 + 1] == 99 and data[k0 + 2] == 111 \
                    and data[k0 + 3] == 114 and data[k0 + 4] == 101:
                field = 8
            if field != 0 and seen & field:
                return 1  # a repeated field: the typed decoder decides
            seen |= field
            if field == 1 or field == 2:
                end, kind, mant, exp10, neg, n_sig = _scan_number(data, p)
                if kind != 0 or n_sig > 18:
                    return 1  # not a plain integer, or beyond the exact range here
                value = -mant if neg else mant
                if field == 1:
                    image_id[i] = value
                else:
                    category[i] = value
                p = end
            elif field == 8:
                end, kind, mant, exp10, neg, n_sig = _scan_number(data, p)
                if kind < 0:
                    return 1
                ok, value = _exact_double(kind, mant, exp10, neg, n_sig)
                if ok:
                    scores[i] = value
                else:
                    token_start[n_tok] = p
                    token_end[n_tok] = end
                    token_dest[n_tok] = 5 * i + 4
                    n_tok += 1
                p = end
            elif field == 4:
                if p >= n or data[p] != 91:
                    return 1
                p = _skip_ws(data, p + 1)
                for k in range(4):
                    end, kind, mant, exp10, neg, n_sig = _scan_number(data, p)
                    if kind < 0:
                        return 1
                    ok, value = _exact_double(kind, mant, exp10, neg, n_sig)
                    if ok:
                        boxes[4 * i + k] = value
                    else:
                        token_start[n_tok] = p
                        token_end[n_tok] = end
                        token_dest[n_tok] = 5 * i + k
                        n_tok += 1
                    p = _skip_ws(data, end)
                    if k < 3:
                        if p >= n or data[p] != 44:  # ','
                            return 1
                        p = _skip_ws(data, p + 1)
                if p >= n or data[p] != 93:
                    return 1
                p += 1
            else:
                p = _skip_scalar(data, p)
                if p < 0:
                    return 1
            p = _skip_ws(data, p)
            if p < n and data[p] == 44:
                p = _skip_ws(data, p + 1)
                continue
            if p < n and data[p] == 125:  # '}'
                p += 1
                break
            return 1
        if seen != 15:
            return 1  # a missing field: the typed decoder names it
        n_res += 1
        counts[0] = n_res
        counts[1] = n_tok
        p = _skip_ws(data, p)
        if p < n and data[p] == 44:
            p = _skip_ws(data, p + 1)
            continue
        if p < n and data[p] == 93:
            p = _skip_ws(data, p + 1)
            return 0 if p == n else 1
        return 1


@kernel
def _join_tokens_kernel(data, token_start, token_end, out):
    # "[tok0,tok1,...]" of the tokens into out (sized by the caller); returns the length used
    q = 0
    out[q] = 91
    q += 1
    for t in range(token_start.shape[0]):
        if t:
            out[q] = 44
            q += 1
        for p in range(token_start[t], token_end[t]):
            out[q] = data[p]
            q += 1
    out[q] = 93
    return q + 1


def _scan_work(n_bytes: int) -> int:
    """``resolve_backend`` work units of scanning ``n_bytes`` of results (the typed decode: ~1 us per result)."""
    return n_bytes // 85


def _results_size(source):
    """The byte length of results given as bytes or a file path (None for loaded objects)."""
    if isinstance(source, (bytes, bytearray)):
        return len(source)
    if isinstance(source, (str, os.PathLike)) and os.path.isfile(os.fspath(source)):
        return os.path.getsize(os.fspath(source))
    return None


def _scan_source(source):
    """``_scan_results`` (numba) of results bytes or a file, the file mapped rather than read (no copy)."""
    if isinstance(source, (bytes, bytearray)):
        return _scan_results(np.frombuffer(source, dtype=np.uint8), "numba")
    import mmap

    with open(os.fspath(source), "rb") as fh:
        try:
            mapped = mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ)
        except (ValueError, OSError):  # an empty file, or one that cannot be mapped
            return _scan_results(np.frombuffer(fh.read(), dtype=np.uint8), "numba")
    try:
        if hasattr(mapped, "madvise") and hasattr(mmap, "MADV_SEQUENTIAL"):
            mapped.madvise(mmap.MADV_SEQUENTIAL)
        return _scan_results(np.frombuffer(mapped, dtype=np.uint8), "numba")
    finally:
        try:
            mapped.close()
        except BufferError:  # pragma: no cover - a view still alive: closed when collected
            pass


def _results_scan_reference(data: np.ndarray):
    """The typed decoder's columns of results JSON (``(image_id, category_id, score, boxes)``), or None.

    What ``_results_scan_kernel`` must reproduce: msgspec's typed decode (``_ResultIntId``) and
    the columns of ``load_results``; None where it raises.
    """
    try:
        items = msgspec.json.decode(data.tobytes(), type=list[_ResultIntId])
    except (msgspec.DecodeError, msgspec.ValidationError):
        return None
    n = len(items)
    return (_column(items, "image_id", np.int64), _column(items, "category_id", np.int64),
            _column(items, "score", np.float64), _bbox_array(items).reshape(n, 4))


def _scan_results(data: np.ndarray, backend: str):
    """``(image_id, category_id, score, boxes)`` of bbox results JSON (uint8 text), or None.

    ``backend="numba"``: one kernel pass (``_results_scan_kernel``), the numbers it does not
    convert exactly by msgspec in one call; None when the kernel leaves the input to the typed
    decoder.  ``"numpy"``: the typed decoder (``_results_scan_reference``).
    """
    if backend != "numba":
        return _results_scan_reference(data)
    cap = data.shape[0] // _MIN_RESULT_BYTES + 1
    # np.empty: the pages past the results actually read are never touched (no memory)
    image_id = np.empty(cap, dtype=np.int64)
    category = np.empty(cap, dtype=np.int64)
    scores = np.empty(cap, dtype=np.float64)
    boxes = np.empty(4 * cap, dtype=np.float64)
    token_start = np.empty(5 * cap, dtype=np.int64)
    token_end = np.empty(5 * cap, dtype=np.int64)
    token_dest = np.empty(5 * cap, dtype=np.int64)
    counts = np.zeros(2, dtype=np.int64)
    if _results_scan_kernel(data, image_id, category, boxes, scores, token_start, token_end, token_dest,
                            counts) != _SCAN_OK:
        return None
    n, n_tok = int(counts[0]), int(counts[1])
    if n_tok:
        start, end = token_start[:n_tok], token_end[:n_tok]
        joined = np.empty(int((end - start).sum()) + n_tok + 1, dtype=np.uint8)
        size = _join_tokens_kernel(data, start, end, joined)
        try:
            values = np.array(msgspec.json.decode(joined[:size].tobytes(), type=list[float]), dtype=np.float64)
        except (msgspec.DecodeError, msgspec.ValidationError):
            return None  # out of range: the typed decoder names it
        dest = token_dest[:n_tok]
        row, slot = dest // 5, dest % 5
        in_box = slot < 4
        boxes[4 * row[in_box] + slot[in_box]] = values[in_box]
        scores[row[~in_box]] = values[~in_box]
    return image_id[:n], category[:n], scores[:n], boxes[:4 * n].reshape(n, 4)


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
        try:
            return float(v)
        except OverflowError:  # an int beyond the float range (msgspec: "Number out of range")
            raise ValueError(f"{what}: Number out of range - at `{where}`") from None

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
