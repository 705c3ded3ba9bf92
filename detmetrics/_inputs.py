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
from ._validate import (
    MAX_COUNT,
    all_finite,
    as_any_boxes,
    as_array,
    as_labels,
    box_kind,
    check_box_format,
    check_choice,
)
from .ap import INTERPOLATIONS
from .matching import MATCHING_RULES

__all__ = ["COCO_AREA_RANGES", "IOU_TYPES", "PROTOCOLS", "Options", "parse_options", "FlatData", "flatten", "resolve_categories"]

#: ``iou_type=``: boxes, instance masks (RLE), keypoints (OKS), as pycocotools' ``iouType``
IOU_TYPES = ("bbox", "segm", "keypoints")

#: pycocotools' default area ranges (``areaRng`` / ``areaRngLbl``)
COCO_AREA_RANGES = {
    "all": (0.0, 1e5**2),
    "small": (0.0, 32.0**2),
    "medium": (32.0**2, 96.0**2),
    "large": (96.0**2, 1e5**2),
}

#: ``protocol=`` presets, each a set of defaults for the switches below (``iou_test``, ``box_plus_one``,
#: ``matching``, ``crowd``, ``difficult``, ``image_budget``, ``max_detections``, ``interpolation``)
PROTOCOLS = {
    "coco": dict(iou_test=">=", box_plus_one=False, matching="coco", crowd="ignore", difficult="ignore",
                 image_budget=None, max_detections=None, interpolation="coco"),
    "voc07": dict(iou_test=">", box_plus_one=True, matching="voc", crowd="ignore", difficult="ignore",
                  image_budget=None, max_detections=(MAX_COUNT,), interpolation="voc11"),
    "voc12": dict(iou_test=">", box_plus_one=True, matching="voc", crowd="ignore", difficult="ignore",
                  image_budget=None, max_detections=(MAX_COUNT,), interpolation="voc"),
    "dota": dict(iou_test=">", box_plus_one=False, matching="voc", crowd="ignore", difficult="ignore",
                 image_budget=None, max_detections=(MAX_COUNT,), interpolation="voc"),
    "ultralytics": dict(iou_test=">=", box_plus_one=False, matching="ultralytics", crowd="drop", difficult="drop",
                        image_budget=300, max_detections=(MAX_COUNT,), interpolation="ultralytics"),
}

#: ``iou_test=``: a match needs ``iou >= t`` (COCO, ultralytics) or ``iou > t`` (VOC / DOTA devkits)
IOU_TESTS = (">=", ">")
#: ``crowd=`` / ``difficult=``: flagged ground truths are ignored (neither matched nor missed), dropped
#: (no ground truth at all: detections on them are false positives) or counted as ordinary ground truths
FLAG_RULES = ("ignore", "drop", "count")
#: the bit of ``FlatData.gt_difficult`` marking keypoint ground truths without keypoints (COCO ignores
#: them; the ``difficult=`` switch acts on bit 1, the flag the user gave, only)
NO_KEYPOINTS = 2

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
    iou_type: str = "bbox"
    sigmas: tuple | None = None
    #: recall points precision is sampled at (None: ``detmetrics.ap.recall_thresholds(interpolation)``)
    recall_thresholds: np.ndarray | None = None
    #: the ``protocol=`` preset the switches below started from
    protocol: str = "coco"
    iou_test: str = ">="
    box_plus_one: bool = False
    crowd: str = "ignore"
    difficult: str = "ignore"
    #: detections kept per image across categories, highest scored first (None: all)
    image_budget: int | None = None

    @property
    def area_array(self) -> np.ndarray:
        return np.ascontiguousarray(list(self.area_ranges.values()), dtype=np.float64).reshape(-1, 2)

    def differences(self, other: "Options") -> list:
        """Names of the options (backend aside) on which ``self`` and ``other`` differ."""
        names = []
        for name in ("box_format", "max_detections", "area_ranges", "interpolation", "matching", "iou_type", "sigmas",
                     "iou_test", "box_plus_one", "crowd", "difficult", "image_budget"):
            if getattr(self, name) != getattr(other, name):
                names.append(name)
        if not np.array_equal(self.iou_thresholds, other.iou_thresholds):
            names.insert(1, "iou_thresholds")
        mine, theirs = self.recall_thresholds, other.recall_thresholds
        if (mine is None or theirs is None) and mine is not theirs or (
                mine is not None and theirs is not None and not np.array_equal(mine, theirs)):
            names.append("recall_thresholds")
        return names


def parse_options(box_format="xyxy", iou_thresholds=None, max_detections=None, area_ranges="coco",
                  interpolation=None, backend="auto", matching=None, iou_type="bbox", sigmas=None,
                  recall_thresholds=None, *, protocol="coco", iou_test=None, box_plus_one=None, crowd=None,
                  difficult=None, image_budget=None) -> Options:
    """Validate ``mean_ap``'s options (each error names the option and the value) and resolve the backend.

    ``protocol`` (a key of ``PROTOCOLS``) gives the defaults of ``iou_test``, ``box_plus_one``,
    ``matching``, ``crowd``, ``difficult``, ``image_budget``, ``max_detections`` and
    ``interpolation``; each of them given (not None) overrides the preset (``matching`` given
    also brings its own IoU test unless ``iou_test`` is given too).  ``image_budget=0``
    means no budget (the preset's budget switched off).

    ``max_detections=None`` and ``area_ranges="coco"`` are COCO's protocol for ``iou_type``:
    ``(1, 10, 100)`` and all/small/medium/large for ``"bbox"`` and ``"segm"``, ``(20,)`` and
    all/medium/large for ``"keypoints"`` (pycocotools' ``Params.setKpParams``).
    """
    check_choice(protocol, "protocol", tuple(PROTOCOLS))
    preset = PROTOCOLS[protocol]
    interpolation = preset["interpolation"] if interpolation is None else interpolation
    if iou_test is None:
        # the preset's test, or, when matching= is given, that rule's own (the devkits' is strict)
        iou_test = preset["iou_test"] if matching is None else (">" if matching == "voc" else ">=")
    matching = preset["matching"] if matching is None else matching
    crowd = preset["crowd"] if crowd is None else crowd
    difficult = preset["difficult"] if difficult is None else difficult
    check_choice(iou_test, "iou_test", IOU_TESTS)
    check_choice(crowd, "crowd", FLAG_RULES)
    check_choice(difficult, "difficult", FLAG_RULES)
    if box_plus_one is None:
        box_plus_one = preset["box_plus_one"]
    if not isinstance(box_plus_one, (bool, np.bool_)):
        raise TypeError(f"box_plus_one must be a bool; got {type(box_plus_one).__name__}")
    if image_budget is None:
        image_budget = preset["image_budget"]
    elif isinstance(image_budget, bool) or not isinstance(image_budget, (int, np.integer)):
        raise TypeError(f"image_budget must be a non-negative integer (0: no budget); got {image_budget!r}")
    elif not 0 <= image_budget <= MAX_COUNT:
        raise ValueError(f"image_budget must be an integer in [0, 2**62] (0: no budget); got {image_budget!r}")
    image_budget = int(image_budget) if image_budget else None
    if max_detections is None and iou_type != "keypoints":
        max_detections = preset["max_detections"]
    check_box_format(box_format)
    check_choice(interpolation, "interpolation", INTERPOLATIONS)
    check_choice(matching, "matching", MATCHING_RULES)
    check_choice(iou_type, "iou_type", IOU_TYPES)
    resolved = defer_backend(backend)
    if max_detections is None:
        max_detections = (20,) if iou_type == "keypoints" else (1, 10, 100)
    if sigmas is not None:
        if iou_type != "keypoints":
            raise ValueError(f"sigmas is only used with iou_type='keypoints'; got iou_type={iou_type!r}")
        arr = as_array(sigmas, "sigmas", ndim=1)
        if arr.shape[0] == 0 or not np.all(np.isfinite(arr)) or np.any(arr <= 0):
            raise ValueError(f"sigmas must be a non-empty sequence of finite values > 0; got {arr.tolist()}")
        sigmas = tuple(float(v) for v in arr)
    ranges = _area_ranges(area_ranges)
    if iou_type == "keypoints" and isinstance(area_ranges, str):
        ranges = {k: v for k, v in ranges.items() if k != "small"}
    return Options(box_format, _iou_thresholds(iou_thresholds), _max_detections(max_detections),
                   ranges, interpolation, resolved, matching, iou_type, sigmas,
                   _recall_thresholds(recall_thresholds), protocol, iou_test, bool(box_plus_one), crowd, difficult,
                   image_budget)


def _recall_thresholds(recall_thresholds) -> np.ndarray | None:
    """pycocotools' ``recThrs`` / torchmetrics' ``rec_thresholds``: a non-empty 1-D sequence in [0, 1]."""
    if recall_thresholds is None:
        return None
    if np.ndim(recall_thresholds) != 1:
        raise ValueError(f"recall_thresholds must be a 1-D sequence; got shape {np.shape(recall_thresholds)}")
    values = as_array(recall_thresholds, "recall_thresholds").reshape(-1)
    if values.size == 0:
        raise ValueError("recall_thresholds must not be empty")
    if not np.all(np.isfinite(values)) or np.any(values < 0) or np.any(values > 1):
        raise ValueError(f"recall_thresholds must be in [0, 1]; got {values.tolist()}")
    if np.any(np.diff(values) < 0):
        raise ValueError(f"recall_thresholds must be sorted in increasing order; got {values.tolist()}")
    return np.ascontiguousarray(values, dtype=np.float64)


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
    box (polygon) area (``det_area`` None: the xywh boxes' ``w * h``, computed
    where it is read, ``det_areas()``); flags are uint8.  ``gt_difficult`` holds two bits: 1 the
    ``difficult`` flag given, ``NO_KEYPOINTS`` (2) a keypoint ground truth without
    keypoints (``num_keypoints == 0``), which COCO ignores whatever the
    ``difficult=`` switch says.  ``gt_zero_id`` marks ground truths
    whose COCO annotation id is 0 (pycocotools cannot tell their matches from
    "unmatched"; see ``detmetrics.matching``).
    """

    kind: str
    n_images: int
    det_img: np.ndarray
    det_label: np.ndarray
    det_score: np.ndarray
    det_box: np.ndarray
    det_area: np.ndarray | None
    gt_img: np.ndarray
    gt_label: np.ndarray
    gt_box: np.ndarray
    gt_area: np.ndarray
    gt_crowd: np.ndarray
    gt_difficult: np.ndarray
    gt_zero_id: np.ndarray
    det_masks: tuple | None = None     # kind "mask": (counts, count_offsets, sizes), masks.py's flat RLEs
    gt_masks: tuple | None = None
    det_kpts: np.ndarray | None = None  # kind "keypoints": (D, K, 3) float64
    gt_kpts: np.ndarray | None = None   # (G, K, 3) float64

    @classmethod
    def build(cls, kind, n_images, det_img, det_label, det_score, det_box, gt_img, gt_label, gt_box, *,
              gt_area=None, gt_crowd=None, gt_difficult=None, gt_zero_id=None, det_area=None,
              det_masks=None, gt_masks=None, det_kpts=None, gt_kpts=None, gt_no_keypoints=None) -> "FlatData":
        """The one producer: validated columns in, defaults filled (``gt_area`` NaN = not given).

        Kinds ``"mask"`` and ``"keypoints"`` carry xywh boxes too (the masks' enclosing
        boxes, the keypoints' boxes) and give ``det_area`` (mask area, keypoint extent).
        """
        n_gt = gt_img.shape[0]
        if det_area is None and kind != "axis":  # axis-aligned boxes: w * h where it is read
            det_area = _box_area(kind, det_box)
        if gt_area is None:
            gt_area = _box_area(kind, gt_box)
        else:
            missing = np.isnan(gt_area)
            if missing.any():
                gt_area = np.where(missing, _box_area(kind, gt_box), gt_area)
        zeros = np.zeros(n_gt, dtype=np.uint8)
        difficult = zeros if gt_difficult is None else _flag(gt_difficult)
        if gt_no_keypoints is not None:
            difficult = difficult | (_flag(gt_no_keypoints) * np.uint8(NO_KEYPOINTS))
        return cls(
            kind=kind, n_images=int(n_images),
            det_img=_c(det_img, np.int64), det_label=_c(det_label, np.int64), det_score=_c(det_score, np.float64),
            det_box=_c(det_box, np.float64), det_area=None if det_area is None else _c(det_area, np.float64),
            gt_img=_c(gt_img, np.int64), gt_label=_c(gt_label, np.int64), gt_box=_c(gt_box, np.float64),
            gt_area=_c(gt_area, np.float64),
            gt_crowd=zeros if gt_crowd is None else _flag(gt_crowd),
            gt_difficult=difficult,
            gt_zero_id=zeros if gt_zero_id is None else _flag(gt_zero_id),
            det_masks=det_masks, gt_masks=gt_masks,
            det_kpts=None if det_kpts is None else _c(det_kpts, np.float64),
            gt_kpts=None if gt_kpts is None else _c(gt_kpts, np.float64),
        )

    def det_areas(self) -> np.ndarray:
        """The detections' areas: ``det_area``, or the xywh boxes' ``w * h`` when it is None."""
        return self.det_area if self.det_area is not None else _box_area(self.kind, self.det_box)

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

        extra: dict = {}
        if kind == "mask":
            for name in ("det_masks", "gt_masks"):
                extra[name] = _concat_rles([getattr(p, name) for p in parts if getattr(p, name) is not None])
        elif kind == "keypoints":
            for name in ("det_kpts", "gt_kpts"):
                arrays = [getattr(p, name) for p in parts if getattr(p, name) is not None]
                shapes = {a.shape[1] for a in arrays if a.shape[0]}
                if len(shapes) > 1:
                    raise ValueError(f"cannot combine keypoints of different K {sorted(shapes)}")
                k = shapes.pop() if shapes else (arrays[0].shape[1] if arrays else 0)
                arrays = [a for a in arrays if a.shape[0]]
                extra[name] = np.ascontiguousarray(np.concatenate(arrays)) if arrays else np.zeros((0, k, 3))
        return cls(
            kind=kind, n_images=int(sum(p.n_images for p in parts)),
            det_img=cat("det_img", True), det_label=cat("det_label"), det_score=cat("det_score"),
            det_box=boxes("det_box"),
            det_area=None if all(p.det_area is None for p in parts) else np.concatenate([p.det_areas() for p in parts]),
            gt_img=cat("gt_img", True), gt_label=cat("gt_label"), gt_box=boxes("gt_box"), gt_area=cat("gt_area"),
            gt_crowd=cat("gt_crowd"), gt_difficult=cat("gt_difficult"), gt_zero_id=cat("gt_zero_id"), **extra,
        )


def _concat_rles(parts: list) -> tuple:
    """Flat RLEs ``(counts, count_offsets, sizes)`` of several parts, one after the other."""
    if len(parts) == 1:
        return parts[0]
    if not parts:
        return np.zeros(0, np.int64), np.zeros(1, np.int64), np.zeros((0, 2), np.int64)
    counts = np.concatenate([p[0] for p in parts]).astype(np.int64)
    shift = np.cumsum([0] + [p[0].shape[0] for p in parts[:-1]])
    offsets = np.concatenate([parts[0][1][:1]] + [p[1][1:] + s for p, s in zip(parts, shift)]).astype(np.int64)
    sizes = np.concatenate([p[2] for p in parts]).astype(np.int64).reshape(-1, 2)
    return np.ascontiguousarray(counts), offsets, np.ascontiguousarray(sizes)


def take_rles(rles: tuple, order: np.ndarray) -> tuple:
    """The RLEs ``rles[order]`` in the flat layout (a gather of count runs, no Python loop)."""
    counts, offsets, sizes = rles
    order = np.asarray(order, dtype=np.int64)
    lengths = (offsets[1:] - offsets[:-1])[order]
    new_offsets = np.zeros(order.shape[0] + 1, dtype=np.int64)
    np.cumsum(lengths, out=new_offsets[1:])
    index = np.arange(int(new_offsets[-1]), dtype=np.int64) + np.repeat(offsets[:-1][order] - new_offsets[:-1], lengths)
    return np.ascontiguousarray(counts[index]), new_offsets, np.ascontiguousarray(sizes[order])


def _c(arr, dtype) -> np.ndarray:
    return np.ascontiguousarray(arr, dtype=dtype)


def _check_flags(arr: np.ndarray, name: str) -> None:
    """``iscrowd`` / ``difficult`` are bool or 0/1 per object (a 2 or 0.5 has no agreed meaning)."""
    bad = np.flatnonzero(np.isfinite(arr) & (arr != 0) & (arr != 1))  # NaN / inf: the caller's finiteness check
    if bad.size:
        k = int(bad[0])
        raise ValueError(f"{name} must hold bool or 0/1 flags; got {arr[k].item()!r} at index {k}")


def _flag(arr) -> np.ndarray:
    return np.ascontiguousarray(np.asarray(arr) != 0, dtype=np.uint8)


def _box_area(kind: str, boxes: np.ndarray) -> np.ndarray:
    if kind in ("axis", "mask", "keypoints"):
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


def flatten(predictions, ground_truths, box_format: str, iou_type: str = "bbox", sigmas=None,
            backend: str = "numpy") -> FlatData:
    """Validate per-image dicts (``mean_ap``'s input) and concatenate them into one ``FlatData``.

    Each image's arrays are read once; boxes of all images are then validated
    together by the box gate, whose errors still name the image and the row
    (``predictions[3]['boxes'] has x2 < x1 at row 2 (...)``).  ``iou_type``
    ``"segm"`` / ``"keypoints"`` read ``"masks"`` / ``"keypoints"`` instead
    (``_flatten_instances``); ``backend`` (resolved) encodes masks.
    """
    for what, value in (("predictions", predictions), ("ground_truths", ground_truths)):
        if isinstance(value, dict) or not hasattr(value, "__len__"):
            raise TypeError(f"{what} must be a list of per-image dicts; got {type(value).__name__}")
    if len(predictions) != len(ground_truths):
        raise ValueError(f"predictions has {len(predictions)} images but ground_truths has {len(ground_truths)}")
    if iou_type != "bbox":
        return _flatten_instances(predictions, ground_truths, box_format, iou_type, sigmas, backend)
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
            if flag:
                _check_flags(arr, f"ground_truths[{i}][{key!r}]")
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
    if not all_finite(scores):
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


_EMPTY_SHAPES = {"axis": (0, 4), "rotated": (0, 5), "quad": (0, 4, 2), "mask": (0, 4), "keypoints": (0, 4)}


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



# --------------------------------------------------------------------------------------
# per-image dicts with masks or keypoints -> the flat record

_SEGM_PRED = (("masks", "scores", "labels"), ("boxes", "image_size", "area"))
_SEGM_GT = (("masks", "labels"), ("boxes", "image_size", "iscrowd", "area", "difficult"))
_KPT_PRED = (("keypoints", "scores", "labels"), ("boxes", "area"))
_KPT_GT = (("keypoints", "boxes", "labels"), ("iscrowd", "area", "difficult", "num_keypoints"))


def _image_size(value, name):
    try:
        h, w = (int(v) for v in value)
        ok = all(float(v) == int(v) for v in value)
    except (TypeError, ValueError):
        ok = False
    if not ok or h < 1 or w < 1:
        raise ValueError(f"{name} must be (height, width), two positive integers; got {value!r}")
    return h, w


def _image_masks(value, name, image_size, backend):
    """One image's ``masks`` (bool array, RLE dicts or polygons) -> flat RLEs ``(counts, offsets, sizes)``."""
    from .masks import _as_rles, _flatten, _segmentations_flat

    empty = (np.zeros(0, np.int64), np.zeros(1, np.int64), np.zeros((0, 2), np.int64))
    if isinstance(value, (list, tuple)) and value and hasattr(value[0], "__array__") and np.ndim(value[0]) == 2 \
            and np.asarray(value[0]).dtype.kind in "bu":  # a list of (H, W) bool / uint8 masks (arrays, tensors)
        try:
            value = np.stack([np.asarray(v) for v in value])
        except ValueError:
            raise ValueError(f"{name} holds masks of different shapes; the masks of an image share its size") from None
    if isinstance(value, (list, tuple)):
        if len(value) == 0:
            return empty
        if all(isinstance(v, dict) for v in value):
            return _as_rles(list(value), name, backend)[:3]
        for i, segm in enumerate(value):
            if isinstance(segm, dict):
                continue
            where = f"{name}[{i}]"
            if isinstance(segm, (str, bytes)) or not hasattr(segm, "__len__") or len(segm) == 0 or \
                    not all(hasattr(p, "__len__") and not isinstance(p, (str, bytes)) for p in segm):
                raise ValueError(f"{where} must be a polygon list [[x1, y1, x2, y2, ...], ...] or an RLE dict; "
                                 f"got {type(segm).__name__}")
            for j, part in enumerate(segm):
                if np.ndim(part) != 1 or len(part) % 2 or len(part) < 6:
                    raise ValueError(f"{where}[{j}] must be a flat [x1, y1, x2, y2, ...] list of at least 3 points "
                                     f"(an even number of coordinates); got {np.size(part)} values")
        if image_size is None:
            raise ValueError(f"{name} holds polygons: the image needs 'image_size' (height, width)")
        n = len(value)
        return _segmentations_flat(list(value), [image_size[0]] * n, [image_size[1]] * n, backend, name)
    if isinstance(value, dict):
        raise TypeError(f"{name} must be an (N, H, W) array or a list of RLE dicts / polygons; got a dict")
    arr = np.asarray(value) if hasattr(value, "__array__") else value
    if np.ndim(arr) != 3:
        raise ValueError(f"{name} must be an (N, H, W) array or a list of RLE dicts / polygons; "
                         f"got shape {np.shape(arr)}")
    if np.shape(arr)[0] == 0:
        return empty
    return _flatten(arr, name, backend)[:3]


def _check_mask_sizes(rles, image_size, name, ref):
    """Every mask of an image has one size (``image_size`` when given); returns that size."""
    sizes = rles[2]
    if sizes.shape[0] == 0:
        return ref
    want = np.asarray(image_size if image_size is not None else (ref if ref is not None else sizes[0]))
    bad = np.flatnonzero(np.any(sizes != want, axis=1))
    if bad.size:
        k = int(bad[0])
        what = "image_size" if image_size is not None else "the image's other masks"
        raise ValueError(f"{name}[{k}] has size {sizes[k].tolist()} but {what} {want.tolist()}; "
                         "the masks of an image must all have its size")
    return tuple(int(v) for v in want)


def _kpt_extent(kpts):
    """``(boxes xywh, area)`` of keypoints' extent over all K, as ``COCO.loadRes`` computes them."""
    if kpts.shape[0] == 0:
        return np.zeros((0, 4)), np.zeros(0)
    x, y = kpts[:, :, 0], kpts[:, :, 1]
    x0, x1, y0, y1 = x.min(axis=1), x.max(axis=1), y.min(axis=1), y.max(axis=1)
    return np.stack([x0, y0, x1 - x0, y1 - y0], axis=1), (x1 - x0) * (y1 - y0)


# work units (about a microsecond of the NumPy reference, detmetrics._backend.AUTO_WORK) per mask
# read: encoding, rasterising or parsing one mask and its area / box
MASK_WORK = 50


def _mask_backend(backend: str, *sides) -> str:
    """``backend`` resolved for reading masks: ``"auto"`` weighs the number of masks."""
    from ._backend import resolve_backend
    from .masks import _area_kernel, _encode_kernel, _from_strings_kernel, _polygons_kernel, _to_bbox_kernel

    if backend != "auto":
        return resolve_backend(backend)
    n = 0
    for side in sides:
        for entry in side:
            masks = entry.get("masks") if isinstance(entry, dict) else None
            n += len(masks) if masks is not None and hasattr(masks, "__len__") else 0
    return resolve_backend(backend, MASK_WORK * n, (_area_kernel, _to_bbox_kernel, _encode_kernel,
                                                     _from_strings_kernel, _polygons_kernel), site=_mask_backend)


def _flatten_instances(predictions, ground_truths, box_format, iou_type, sigmas, backend) -> FlatData:
    """``flatten`` for ``iou_type`` ``"segm"`` (``masks``) and ``"keypoints"`` (``keypoints``)."""
    from .keypoints import _as_keypoints
    from .masks import _area_flat, _to_bbox_kernel, _to_bbox_reference

    segm = iou_type == "segm"
    if segm:
        backend = _mask_backend(backend, predictions, ground_truths)
    pred_keys, gt_keys = (_SEGM_PRED, _SEGM_GT) if segm else (_KPT_PRED, _KPT_GT)
    det: dict[str, list] = {"labels": [], "scores": [], "geo": [], "box": [], "area": [], "n": []}
    gt: dict[str, list] = {"labels": [], "geo": [], "box": [], "area": [], "n": [], "iscrowd": [], "difficult": []}
    n_kpt = None if sigmas is None else len(sigmas)
    for i, (pred, truth) in enumerate(zip(predictions, ground_truths)):
        _check_dict(pred, f"predictions[{i}]", *pred_keys)
        _check_dict(truth, f"ground_truths[{i}]", *gt_keys)
        size = None
        for src, store, what in ((pred, det, "predictions"), (truth, gt, "ground_truths")):
            name = f"{what}[{i}]"
            if segm:
                image_size = None if src.get("image_size") is None else _image_size(src["image_size"],
                                                                                      f"{name}['image_size']")
                rles = _image_masks(src["masks"], f"{name}['masks']", image_size, backend)
                size = _check_mask_sizes(rles, image_size, f"{name}['masks']", size)
                n = rles[2].shape[0]
                store["geo"].append(rles)
            else:
                kp = _as_keypoints(src["keypoints"], f"{name}['keypoints']", n_kpt, allow_xy=what == "predictions")
                if kp.shape[0]:
                    if n_kpt is None:
                        n_kpt = kp.shape[1]
                    elif kp.shape[1] != n_kpt:
                        raise ValueError(f"{name}['keypoints'] has K={kp.shape[1]} keypoints per object but "
                                         f"{'sigmas has' if sigmas is not None else 'earlier images have'} {n_kpt}")
                n = kp.shape[0]
                store["geo"].append(kp)
            boxes = None
            if src.get("boxes") is not None:
                arr = _fast_array(src["boxes"], f"{name}['boxes']")
                if arr.size == 0:
                    arr = np.zeros((0, 4))
                if arr.ndim != 2 or arr.shape[1] != 4 or arr.shape[0] != n:
                    raise ValueError(f"{name}['boxes'] must have shape ({n}, 4) (one box per "
                                     f"{'mask' if segm else 'object'}); got shape {arr.shape}")
                boxes = _concat_boxes([arr], [n], "axis", box_format, what)
            store["box"].append(boxes)
            store["n"].append(n)
        scores = _fast_array(pred["scores"], f"predictions[{i}]['scores']")
        if np.ndim(scores) > 1:
            raise ValueError(f"predictions[{i}]['scores'] must be 1-dimensional; got shape {np.shape(scores)}")
        scores = np.asarray(scores, dtype=np.float64).reshape(-1)
        labels = _labels(pred["labels"], f"predictions[{i}]['labels']")
        n_det = det["n"][-1]
        kind_name = "masks" if segm else "keypoint sets"
        if scores.shape[0] != n_det or labels.shape[0] != n_det:
            raise ValueError(f"predictions[{i}] has {n_det} {kind_name}, {scores.shape[0]} scores and "
                             f"{labels.shape[0]} labels; they must have the same length")
        if not np.all(np.isfinite(scores)):
            raise ValueError(f"predictions[{i}]['scores'] contains NaN or infinite values")
        glabels = _labels(truth["labels"], f"ground_truths[{i}]['labels']")
        n_gt = gt["n"][-1]
        if glabels.shape[0] != n_gt:
            raise ValueError(f"ground_truths[{i}] has {n_gt} {kind_name} but {glabels.shape[0]} labels")
        det["scores"].append(scores)
        det["labels"].append(labels)
        gt["labels"].append(glabels)
        det_area = None
        if pred.get("area") is not None:  # explicit areas for the area ranges (COCO.loadRes' w * h)
            det_area = np.asarray(_fast_array(pred["area"], f"predictions[{i}]['area']"), dtype=np.float64)
            if det_area.ndim > 1 or det_area.reshape(-1).shape[0] != n_det:
                raise ValueError(f"predictions[{i}]['area'] must have one value per detection ({n_det}); "
                                 f"got shape {np.shape(pred['area'])}")
            det_area = det_area.reshape(-1)
            if not np.all(np.isfinite(det_area)):
                raise ValueError(f"predictions[{i}]['area'] contains NaN or infinite values")
        det["area"].append(det_area)
        for key, default in (("iscrowd", 0.0), ("difficult", 0.0), ("area", np.nan), ("num_keypoints", np.nan)):
            if key == "num_keypoints" and segm:
                continue
            value = truth.get(key)
            if value is None:
                arr = np.full(n_gt, default)
            else:
                arr = _fast_array(value, f"ground_truths[{i}][{key!r}]", allow_bool=key != "area")
                arr = np.asarray(arr, dtype=np.float64)
                if arr.ndim > 1 or arr.reshape(-1).shape[0] != n_gt:
                    raise ValueError(f"ground_truths[{i}][{key!r}] must have one value per object ({n_gt}); "
                                     f"got shape {np.shape(value)}")
                arr = arr.reshape(-1)
                if not np.all(np.isfinite(arr)):
                    raise ValueError(f"ground_truths[{i}][{key!r}] contains NaN or infinite values")
                if key in ("iscrowd", "difficult"):
                    _check_flags(arr, f"ground_truths[{i}][{key!r}]")
            gt.setdefault(key, []).append(arr)
    counts = det["n"], gt["n"]
    det_img, gt_img = _image_index(counts[0]), _image_index(counts[1])
    extra: dict = {}
    if segm:
        det_rles, gt_rles = _concat_rles(det["geo"]), _concat_rles(gt["geo"])
        boxes = []
        for rles in (det_rles, gt_rles):
            out = np.empty((rles[2].shape[0], 4), dtype=np.float64)
            c, o, sz = rles
            if backend == "numba":
                _to_bbox_kernel(c, o, sz, out)
            else:
                _to_bbox_reference(c, o, sz, out)
            boxes.append(out)
        det_box, gt_box = boxes
        det_area = _area_flat(det_rles[0], det_rles[1], backend).astype(np.float64)
        gt_default_area = _area_flat(gt_rles[0], gt_rles[1], backend).astype(np.float64)
        extra = dict(det_masks=det_rles, gt_masks=gt_rles)
        kind = "mask"
    else:
        k = n_kpt if n_kpt is not None else 17
        if sigmas is None and n_kpt is not None and n_kpt != 17:
            raise ValueError(f"sigmas=None means COCO's 17 keypoint sigmas, but the keypoints have K={n_kpt}; "
                             "pass sigmas= with one value per keypoint")
        det_kpts = np.concatenate([a.reshape(-1, k, 3) for a in det["geo"]]) if det["geo"] else np.zeros((0, k, 3))
        gt_kpts = np.concatenate([a.reshape(-1, k, 3) for a in gt["geo"]]) if gt["geo"] else np.zeros((0, k, 3))
        ext_box, ext_area = _kpt_extent(det_kpts)
        det_box, det_area = ext_box.copy(), ext_area.copy()
        start = 0
        for boxes, n in zip(det["box"], det["n"]):  # a detection's own box decides its area (COCO.loadRes)
            if boxes is not None and n:
                det_box[start:start + n] = boxes
                det_area[start:start + n] = boxes[:, 2] * boxes[:, 3]
            start += n
        gt_box = np.concatenate(gt["box"]) if gt["box"] else np.zeros((0, 4))
        gt_default_area = gt_box[:, 2] * gt_box[:, 3]
        visible = (gt_kpts[:, :, 2] > 0).sum(axis=1).astype(np.float64)
        num = np.concatenate(gt["num_keypoints"]) if gt["num_keypoints"] else np.zeros(0)
        num = np.where(np.isnan(num), visible, num)
        extra = dict(det_kpts=det_kpts, gt_kpts=gt_kpts, gt_no_keypoints=num == 0)
        kind = "keypoints"
    start = 0
    for given, n in zip(det["area"], det["n"]):
        if given is not None and n:
            det_area[start:start + n] = given
        start += n
    area = np.concatenate(gt["area"]) if gt["area"] else np.zeros(0)
    area = np.where(np.isnan(area), gt_default_area, area)
    return FlatData.build(
        kind, len(counts[0]), det_img, _cat(det["labels"]), _cat(det["scores"], np.float64), det_box,
        gt_img, _cat(gt["labels"]), gt_box, gt_area=area, det_area=det_area,
        gt_crowd=_cat(gt["iscrowd"], np.float64), gt_difficult=_cat(gt["difficult"], np.float64), **extra,
    )
