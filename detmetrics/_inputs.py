"""Evaluation stage 1 of 4: options and inputs.

``mean_ap``'s data path reads top to bottom through four modules::

    _inputs.py     parse the options once (``parse_options`` -> ``Options``, the
                   backend checked there), validate and flatten per-image dicts
                   into one typed record (``flatten`` -> ``FlatData``), and resolve
                   the category set once (``resolve_categories``);
    matching.py    per (image, category) group: sort, cut, IoU blocks for the
                   geometry (the one place that picks it), greedy matching ->
                   ``MatchState`` (mergeable: the Evaluator keeps these);
    ap.py          accumulation per category, area range and max_detections ->
                   ``Accumulation``;
    result.py      ``EvaluationResult``, which reads the accumulated arrays.

``FlatData`` has one producer, ``FlatData.build``: ``flatten`` (per-image dicts)
and the COCO JSON path (``detmetrics.io``'s decoded columns) both go through it,
so every field is always present.  Axis-aligned boxes are stored as xywh
(pycocotools' arithmetic), rotated boxes as ``(N, 5)``, quads as ``(N, 4, 2)``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ._backend import defer_backend
from ._validate import MAX_COUNT, as_any_boxes, as_array, as_labels, box_kind, check_box_format, check_choice
from .ap import INTERPOLATIONS
from .matching import MATCHING_RULES

__all__ = ["COCO_AREA_RANGES", "Options", "parse_options", "FlatData", "flatten", "resolve_categories"]

#: pycocotools' default area ranges (``areaRng`` / ``areaRngLbl``)
COCO_AREA_RANGES = {
    "all": (0.0, 1e5**2),
    "small": (0.0, 32.0**2),
    "medium": (32.0**2, 96.0**2),
    "large": (96.0**2, 1e5**2),
}

_PRED_KEYS = ("boxes", "scores", "labels")
_GT_KEYS = ("boxes", "labels")
_GT_OPTIONAL = ("iscrowd", "area", "difficult")


# --------------------------------------------------------------------------------------
# options


@dataclass(frozen=True)
class Options:
    """The evaluation options, validated once.

    ``backend`` is ``"numba"``, ``"numpy"`` or ``"auto"`` (numba available: each
    stage picks by its own work with ``detmetrics._backend.resolve_backend``).
    """

    box_format: str
    iou_thresholds: np.ndarray
    max_detections: tuple
    area_ranges: dict
    interpolation: str
    backend: str
    matching: str = "coco"

    @property
    def area_array(self) -> np.ndarray:
        return np.ascontiguousarray(list(self.area_ranges.values()), dtype=np.float64).reshape(-1, 2)

    def differences(self, other: "Options") -> list:
        """Names of the options (backend aside) on which ``self`` and ``other`` differ."""
        names = []
        for name in ("box_format", "max_detections", "area_ranges", "interpolation", "matching"):
            if getattr(self, name) != getattr(other, name):
                names.append(name)
        if not np.array_equal(self.iou_thresholds, other.iou_thresholds):
            names.insert(1, "iou_thresholds")
        return names


def parse_options(box_format="xyxy", iou_thresholds=None, max_detections=(1, 10, 100), area_ranges="coco",
                  interpolation="coco", backend="auto", matching="coco") -> Options:
    """Validate ``mean_ap``'s options (each error names the option and the value) and resolve the backend."""
    check_box_format(box_format)
    check_choice(interpolation, "interpolation", INTERPOLATIONS)
    check_choice(matching, "matching", MATCHING_RULES)
    resolved = defer_backend(backend)
    return Options(box_format, _iou_thresholds(iou_thresholds), _max_detections(max_detections),
                   _area_ranges(area_ranges), interpolation, resolved, matching)


def _iou_thresholds(iou_thresholds) -> np.ndarray:
    if iou_thresholds is None:
        return np.linspace(0.5, 0.95, int(np.round((0.95 - 0.5) / 0.05)) + 1, endpoint=True)
    if isinstance(iou_thresholds, (int, float)) and not isinstance(iou_thresholds, bool):
        iou_thresholds = [iou_thresholds]
    thresholds = as_array(iou_thresholds, "iou_thresholds")
    if thresholds.ndim > 1:
        raise ValueError(f"iou_thresholds must be a 1-D sequence; got shape {thresholds.shape}")
    thresholds = thresholds.reshape(-1)
    if thresholds.size == 0:
        raise ValueError("iou_thresholds must not be empty")
    if not np.all(np.isfinite(thresholds)) or np.any(thresholds < 0) or np.any(thresholds > 1):
        raise ValueError(f"iou_thresholds must be in [0, 1]; got {thresholds.tolist()}")
    return np.ascontiguousarray(thresholds, dtype=np.float64)


def _max_detections(max_detections) -> tuple:
    if isinstance(max_detections, (int, np.integer)) and not isinstance(max_detections, bool):
        max_detections = (int(max_detections),)
    try:
        max_dets = tuple(max_detections)
    except TypeError:
        raise TypeError(f"max_detections must be a tuple of positive integers; got {max_detections!r}") from None
    if not max_dets:
        raise ValueError("max_detections must not be empty")
    for v in max_dets:
        if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v <= 0:
            raise ValueError(f"max_detections must hold positive integers; got {max_dets!r}")
        if v > MAX_COUNT:
            raise ValueError(f"max_detections must hold integers <= 2**62 (a larger budget keeps every "
                             f"detection anyway); got {max_dets!r}")
    max_dets = tuple(int(v) for v in max_dets)
    if any(b <= a for a, b in zip(max_dets, max_dets[1:])):
        raise ValueError(f"max_detections must be strictly increasing; got {max_dets!r}")
    return max_dets


def _area_ranges(area_ranges) -> dict:
    if isinstance(area_ranges, str):
        if area_ranges != "coco":
            raise ValueError(f"area_ranges must be 'coco' or a dict name -> (lo, hi); got {area_ranges!r}")
        return dict(COCO_AREA_RANGES)
    if not isinstance(area_ranges, dict):
        raise TypeError(f"area_ranges must be 'coco' or a dict name -> (lo, hi); got {type(area_ranges).__name__}")
    if not area_ranges:
        raise ValueError("area_ranges must not be empty")
    ranges = {}
    for name, value in area_ranges.items():
        if not isinstance(name, str):
            raise TypeError(f"area_ranges keys must be strings; got {name!r}")
        try:
            lo, hi = (float(v) for v in value)
        except (TypeError, ValueError):
            raise ValueError(f"area_ranges[{name!r}] must be a pair (lo, hi) of numbers; got {value!r}") from None
        if math.isnan(lo) or math.isnan(hi) or lo > hi:
            raise ValueError(f"area_ranges[{name!r}] must satisfy lo <= hi; got {value!r}")
        ranges[name] = (lo, hi)
    if "all" not in ranges:
        ranges = {"all": COCO_AREA_RANGES["all"], **ranges}
    return ranges


# --------------------------------------------------------------------------------------
# the flat record


@dataclass(frozen=True)
class FlatData:
    """Every detection and ground truth of a batch of images, as flat contiguous arrays.

    ``det_img`` / ``gt_img`` are image positions ``0 .. n_images - 1``; boxes
    are xywh (``kind="axis"``), ``(N, 5)`` (``"rotated"``) or ``(N, 4, 2)``
    (``"quad"``); areas are the ground truth's ``area`` where given, else the
    box (polygon) area; flags are uint8.  ``gt_zero_id`` marks ground truths
    whose COCO annotation id is 0 (pycocotools cannot tell their matches from
    "unmatched"; see ``detmetrics.matching``).
    """

    kind: str
    n_images: int
    det_img: np.ndarray
    det_label: np.ndarray
    det_score: np.ndarray
    det_box: np.ndarray
    det_area: np.ndarray
    gt_img: np.ndarray
    gt_label: np.ndarray
    gt_box: np.ndarray
    gt_area: np.ndarray
    gt_crowd: np.ndarray
    gt_difficult: np.ndarray
    gt_zero_id: np.ndarray

    @classmethod
    def build(cls, kind, n_images, det_img, det_label, det_score, det_box, gt_img, gt_label, gt_box, *,
              gt_area=None, gt_crowd=None, gt_difficult=None, gt_zero_id=None) -> "FlatData":
        """The one producer: validated columns in, defaults filled (``gt_area`` NaN = not given)."""
        n_gt = gt_img.shape[0]
        det_area = _box_area(kind, det_box)
        if gt_area is None:
            gt_area = _box_area(kind, gt_box)
        else:
            missing = np.isnan(gt_area)
            if missing.any():
                gt_area = np.where(missing, _box_area(kind, gt_box), gt_area)
        zeros = np.zeros(n_gt, dtype=np.uint8)
        return cls(
            kind=kind, n_images=int(n_images),
            det_img=_c(det_img, np.int64), det_label=_c(det_label, np.int64), det_score=_c(det_score, np.float64),
            det_box=_c(det_box, np.float64), det_area=_c(det_area, np.float64),
            gt_img=_c(gt_img, np.int64), gt_label=_c(gt_label, np.int64), gt_box=_c(gt_box, np.float64),
            gt_area=_c(gt_area, np.float64),
            gt_crowd=zeros if gt_crowd is None else _flag(gt_crowd),
            gt_difficult=zeros if gt_difficult is None else _flag(gt_difficult),
            gt_zero_id=zeros if gt_zero_id is None else _flag(gt_zero_id),
        )


    @classmethod
    def concat(cls, parts: list) -> "FlatData":
        """One record of several batches, images numbered on (every non-empty part of one kind)."""
        if len(parts) == 1:
            return parts[0]
        kinds = {p.kind for p in parts if p.det_box.shape[0] or p.gt_box.shape[0]}
        kind = kinds.pop() if len(kinds) == 1 else parts[0].kind
        if kinds:
            raise ValueError(f"cannot combine boxes of kinds {sorted(kinds | {kind})}")
        shift = np.cumsum([0] + [p.n_images for p in parts[:-1]])

        def cat(name, offset=False):
            arrays = [getattr(p, name) for p in parts]
            out = np.concatenate(arrays)
            if offset:
                out += np.repeat(shift, [a.shape[0] for a in arrays])
            return out

        def boxes(name):
            arrays = [getattr(p, name) for p in parts if getattr(p, name).shape[0]]
            return np.ascontiguousarray(np.concatenate(arrays)) if arrays else np.zeros(_EMPTY_SHAPES[kind])

        return cls(
            kind=kind, n_images=int(sum(p.n_images for p in parts)),
            det_img=cat("det_img", True), det_label=cat("det_label"), det_score=cat("det_score"),
            det_box=boxes("det_box"), det_area=cat("det_area"),
            gt_img=cat("gt_img", True), gt_label=cat("gt_label"), gt_box=boxes("gt_box"), gt_area=cat("gt_area"),
            gt_crowd=cat("gt_crowd"), gt_difficult=cat("gt_difficult"), gt_zero_id=cat("gt_zero_id"),
        )


def _c(arr, dtype) -> np.ndarray:
    return np.ascontiguousarray(arr, dtype=dtype)


def _flag(arr) -> np.ndarray:
    return np.ascontiguousarray(np.asarray(arr) != 0, dtype=np.uint8)


def _box_area(kind: str, boxes: np.ndarray) -> np.ndarray:
    if kind == "axis":
        return boxes[:, 2] * boxes[:, 3]
    from .rotated import _oriented_area

    return _oriented_area(boxes)


def resolve_categories(flat: FlatData, category_ids=None) -> np.ndarray:
    """The category set (sorted unique int64), resolved once: ``category_ids`` or the labels that occur.

    With ``category_ids`` every label must be one of them (``ValueError``
    naming the first that is not).
    """
    if category_ids is None:
        return unique_ints(flat.det_label, flat.gt_label)
    cats = as_category_ids(category_ids)
    check_labels_in(cats, flat)
    return cats


def as_category_ids(category_ids) -> np.ndarray:
    if isinstance(category_ids, (str, bytes)) or not hasattr(category_ids, "__len__"):
        raise TypeError(f"category_ids must be a sequence of ints; got {type(category_ids).__name__}")
    return np.unique(as_labels(category_ids, "category_ids"))


def check_labels_in(cats: np.ndarray, flat: FlatData) -> None:
    for name, labels in (("predictions", flat.det_label), ("ground_truths", flat.gt_label)):
        missing = np.setdiff1d(labels, cats)
        if missing.size:
            raise ValueError(f"{name} has label {int(missing[0])}, which is not in category_ids")


def unique_ints(*arrays) -> np.ndarray:
    """Sorted unique values of int64 arrays (a presence table when the range is small)."""
    values = [a for a in arrays if a.shape[0]]
    if not values:
        return np.zeros(0, dtype=np.int64)
    lo = min(int(a.min()) for a in values)
    hi = max(int(a.max()) for a in values)
    if hi - lo <= 4 * sum(a.shape[0] for a in values) + (1 << 16):
        present = np.zeros(hi - lo + 1, dtype=bool)
        for a in values:
            present[a - lo] = True
        return np.flatnonzero(present).astype(np.int64) + lo
    return np.unique(np.concatenate(values)).astype(np.int64)


# --------------------------------------------------------------------------------------
# per-image dicts -> the flat record


def _check_dict(entry, name: str, required, optional=()):
    if not isinstance(entry, dict):
        raise TypeError(f"{name} must be a dict with keys {list(required)}; got {type(entry).__name__}")
    missing = [k for k in required if k not in entry]
    if missing:
        raise ValueError(f"{name} is missing key(s) {missing}; expected keys {list(required) + list(optional)}")
    extra = [k for k in entry if k not in required and k not in optional]
    if extra:
        raise ValueError(f"{name} has unexpected key(s) {extra}; expected keys {list(required) + list(optional)}")


def flatten(predictions, ground_truths, box_format: str) -> FlatData:
    """Validate per-image dicts (``mean_ap``'s input) and concatenate them into one ``FlatData``.

    Each image's arrays are read once; boxes of all images are then validated
    together by the box gate, whose errors still name the image and the row
    (``predictions[3]['boxes'] has x2 < x1 at row 2 (...)``).
    """
    for what, value in (("predictions", predictions), ("ground_truths", ground_truths)):
        if isinstance(value, dict) or not hasattr(value, "__len__"):
            raise TypeError(f"{what} must be a list of per-image dicts; got {type(value).__name__}")
    if len(predictions) != len(ground_truths):
        raise ValueError(f"predictions has {len(predictions)} images but ground_truths has {len(ground_truths)}")
    det_boxes: list[np.ndarray] = []
    det_scores: list[np.ndarray] = []
    det_labels: list[np.ndarray] = []
    det_counts: list[int] = []
    gt_boxes: list[np.ndarray] = []
    gt_labels: list[np.ndarray] = []
    gt_counts: list[int] = []
    optional: dict[str, list] = {key: [] for key in _GT_OPTIONAL}
    kind = None
    for i, (pred, gt) in enumerate(zip(predictions, ground_truths)):
        _check_dict(pred, f"predictions[{i}]", _PRED_KEYS)
        _check_dict(gt, f"ground_truths[{i}]", _GT_KEYS, _GT_OPTIONAL)
        for src, boxes_list, what in ((pred, det_boxes, "predictions"), (gt, gt_boxes, "ground_truths")):
            name = f"{what}[{i}]['boxes']"
            arr = _fast_array(src["boxes"], name)
            k = box_kind(arr.shape)
            if k is None:
                raise ValueError(f"{name} must have shape (N, 4), (N, 5) (rotated) or (N, 4, 2) (quads); "
                                 f"got shape {arr.shape}")
            if arr.size:
                if kind is None:
                    kind = k
                elif k != kind:
                    raise ValueError(f"{name} has shape {arr.shape} but earlier boxes were of kind {kind!r}; "
                                     "all boxes must share one kind (axis, rotated or quad)")
            boxes_list.append(arr)
        n_det = det_boxes[-1].shape[0] if det_boxes[-1].size else 0
        n_gt = gt_boxes[-1].shape[0] if gt_boxes[-1].size else 0
        if np.ndim(pred["scores"]) > 1:
            raise ValueError(f"predictions[{i}]['scores'] must be 1-dimensional; got shape {np.shape(pred['scores'])}")
        scores = _fast_array(pred["scores"], f"predictions[{i}]['scores']").reshape(-1)
        labels = _labels(pred["labels"], f"predictions[{i}]['labels']")
        if scores.shape[0] != n_det or labels.shape[0] != n_det:
            raise ValueError(f"predictions[{i}] has {n_det} boxes, {scores.shape[0]} scores and "
                             f"{labels.shape[0]} labels; they must have the same length")
        glabels = _labels(gt["labels"], f"ground_truths[{i}]['labels']")
        if glabels.shape[0] != n_gt:
            raise ValueError(f"ground_truths[{i}] has {n_gt} boxes but {glabels.shape[0]} labels")
        for key, store in optional.items():
            if gt.get(key) is None:
                store.append(None)
                continue
            flag = key != "area"  # iscrowd / difficult: bool or 0/1
            arr = _fast_array(gt[key], f"ground_truths[{i}][{key!r}]", allow_bool=flag).reshape(-1) \
                if np.ndim(gt[key]) <= 1 else None
            if arr is None or arr.shape[0] != n_gt:
                raise ValueError(f"ground_truths[{i}][{key!r}] must have one value per box ({n_gt}); "
                                 f"got shape {np.shape(gt[key])}")
            store.append(arr)
        det_scores.append(scores)
        det_labels.append(labels)
        gt_labels.append(glabels)
        det_counts.append(n_det)
        gt_counts.append(n_gt)
    kind = kind or "axis"
    n_images = len(det_counts)
    det_img = _image_index(det_counts)
    gt_img = _image_index(gt_counts)
    det_box = _concat_boxes(det_boxes, det_counts, kind, box_format, "predictions")
    gt_box = _concat_boxes(gt_boxes, gt_counts, kind, box_format, "ground_truths")
    scores = _cat(det_scores, np.float64)
    if not np.all(np.isfinite(scores)):
        row = int(np.flatnonzero(~np.isfinite(scores))[0])
        raise ValueError(f"predictions[{int(det_img[row])}]['scores'] contains NaN or infinite values")
    columns: dict[str, np.ndarray | None] = {}
    for key, default in (("iscrowd", 0.0), ("difficult", 0.0), ("area", np.nan)):
        if all(c is None for c in optional[key]):
            columns[key] = None  # FlatData.build fills the default
            continue
        values, given = _optional_column(optional[key], gt_counts, default)
        if not np.all(np.isfinite(values[given])):
            row = int(np.flatnonzero(given & ~np.isfinite(values))[0])
            raise ValueError(f"ground_truths[{_locate(row, gt_counts)[0]}][{key!r}] contains NaN or infinite values")
        columns[key] = values
    return FlatData.build(
        kind, n_images, det_img, _cat(det_labels), scores, det_box, gt_img, _cat(gt_labels), gt_box,
        gt_area=columns["area"], gt_crowd=columns["iscrowd"], gt_difficult=columns["difficult"],
    )


def _image_index(counts: list) -> np.ndarray:
    """The image position of every row, for per-image row counts."""
    if len(counts) == 1:
        return np.zeros(counts[0], dtype=np.int64)
    return np.repeat(np.arange(len(counts), dtype=np.int64), np.asarray(counts, dtype=np.int64))


def _optional_column(columns, counts, default):
    """Concatenate optional per-image columns (None = absent): (values float64, given mask)."""
    n = sum(counts)
    present = [c for c in columns if c is not None]
    if len(present) == len(columns):
        values = np.concatenate(present).astype(np.float64, copy=False)
        return values, np.ones(n, dtype=bool)
    flags = np.array([c is not None for c in columns], dtype=bool)
    given = np.repeat(flags, np.asarray(counts, dtype=np.int64))
    values = np.full(n, default, dtype=np.float64)
    values[given] = np.concatenate(present)
    return values, given


def _fast_array(value, name, dtype=np.float64, allow_bool=False):
    """``as_array`` with a shortcut for arrays that already have a safe numeric dtype (the common case)."""
    if isinstance(value, np.ndarray):
        kind, size = value.dtype.kind, value.dtype.itemsize
        if kind == "i" or (kind == "u" and size < 8) or (kind == "f" and dtype is not np.int64):
            return value
    return as_array(value, name, dtype=dtype, allow_bool=allow_bool)


def _labels(value, name):
    arr = _fast_array(value, name, dtype=np.int64)
    if arr.ndim > 1:
        raise ValueError(f"{name} must be 1-dimensional; got shape {arr.shape}")
    return arr.reshape(-1)


def _cat(arrays, dtype=np.int64):
    if len(arrays) == 1:
        return np.ascontiguousarray(arrays[0], dtype=dtype)
    return np.ascontiguousarray(np.concatenate(arrays), dtype=dtype) if arrays else np.zeros(0, dtype)


_EMPTY_SHAPES = {"axis": (0, 4), "rotated": (0, 5), "quad": (0, 4, 2)}


def _concat_boxes(arrays, counts, kind, box_format, what):
    """Concatenate one kind's per-image boxes and validate them once with the box gate (xywh out)."""
    shape = _EMPTY_SHAPES[kind]
    parts = [a.reshape((-1,) + shape[1:]) if a.size else np.zeros(shape) for a in arrays]
    if len(parts) == 1:
        raw = parts[0]
    else:
        raw = np.concatenate(parts) if parts else np.zeros(shape)

    def locate(row):
        image, local = _locate(row, counts)
        return f"{what}[{image}]['boxes']", local

    boxes, _ = as_any_boxes(np.ascontiguousarray(raw, dtype=np.float64), what, box_format=box_format,
                            kinds=(kind,), dst="xywh", locate=locate)
    return boxes


def _locate(row, counts):
    ends = np.cumsum(counts)
    image = int(np.searchsorted(ends, row, side="right"))
    return image, int(row - (ends[image - 1] if image else 0))

