"""torchmetrics' ``MeanAveragePrecision`` on detmetrics' ``Evaluator`` (change one import line).

    from detmetrics.compat.torchmetrics import MeanAveragePrecision   # was: from torchmetrics.detection ...

    metric = MeanAveragePrecision(iou_type="bbox", class_metrics=True)
    for preds, target in batches:          # lists of per-image dicts of tensors or arrays
        metric.update(preds, target)
    metric.compute()["map"]                # the same keys as torchmetrics

torch is not imported: tensors (on any device) are read with ``.detach()``,
``.cpu()`` and ``__array__``; values come back as NumPy ``float32`` scalars
(and ``int32`` / ``float32`` arrays for ``classes`` / per-class values),
which ``float()``, ``.item()`` and Lightning's ``log_dict`` accept
(``torch.as_tensor`` turns them into tensors).

An ``update`` matches its images (in batches, see ``detmetrics.Evaluator``)
and keeps only a packed matching state, never the boxes (except with
``extended_summary=True``, whose ``ious`` need them); evaluators on other
processes combine with ``merge_state`` (or pickle and merge), and the result
equals one metric that saw every batch, in the order merged.

The numbers
-----------
torchmetrics runs pycocotools on what it was given, so ``compute()``
follows pycocotools' ``summarize()``, quirks included: ``map`` is read at
``maxDets=100`` (-1 when ``max_detection_thresholds`` lacks 100,
cocodataset/cocoapi#558); ``xyxy`` / ``cxcywh`` boxes are converted to xywh
in the boxes' own float type (as ``torchvision.ops.box_convert`` does before
torchmetrics hands them to pycocotools); a ground-truth ``area`` that is not
positive is replaced by ``w * h``.

torchmetrics builds its default IoU and recall thresholds with
``torch.linspace`` in float32 (``0.550000011920929``, ...), which moves some
numbers in the third decimal (0.3843 instead of pycocotools' 0.3859 mAP on
the bundled sample).  ``threshold_dtype="float32"`` (the default) reproduces
torchmetrics' thresholds, so the numbers equal torchmetrics'; ``"float64"``
uses pycocotools' own thresholds, so the numbers equal
``pycocotools.COCOeval`` (and ``detmetrics.mean_ap``).  Explicit
``iou_thresholds`` / ``rec_thresholds`` lists are used as given (float64) in
both modes.
"""

from __future__ import annotations

import numpy as np

from . import protocol_keyword_error

__all__ = ["MeanAveragePrecision"]

_THRESHOLD_DTYPES = ("float32", "float64")
# torchmetrics.Metric keywords: about torch devices and process groups, no effect here
_METRIC_KWARGS = ("compute_on_cpu", "dist_sync_on_step", "process_group", "dist_sync_fn", "distributed_available_fn",
                  "sync_on_compute", "compute_with_cache")


def _torch_linspace_float32(start: float, end: float, steps: int) -> np.ndarray:
    """``torch.linspace(start, end, steps).tolist()`` (float32) without torch.

    torch's CPU kernel computes the first half as ``start + step * i`` and the
    second as ``end - step * (steps - 1 - i)``, the latter with one rounding
    (a fused multiply-add); float32 products are exact in float64, so the
    fused value is the float64 expression rounded once to float32.
    """
    f32 = np.float32
    lo, hi = f32(start), f32(end)
    step = f32((hi - lo) / f32(steps - 1))
    index = np.arange(steps)
    first = lo + step * index.astype(f32)
    second = (np.float64(hi) - np.float64(step) * (steps - 1 - index)).astype(f32)
    return np.where(index < steps // 2, first, second).astype(np.float64)


def _read(value, name: str) -> np.ndarray:
    """A tensor (any device) or array-like as a NumPy array, without importing torch."""
    if hasattr(value, "detach"):
        value = value.detach()
    if hasattr(value, "cpu"):
        value = value.cpu()
    if hasattr(value, "numpy") and not isinstance(value, np.ndarray):
        try:
            return np.asarray(value.numpy())
        except (TypeError, RuntimeError, AttributeError):
            pass
    try:
        return np.asarray(value)
    except (TypeError, ValueError):
        raise TypeError(f"{name} must be a tensor or an array; got {type(value).__name__}") from None


def _box_array(value, name: str) -> np.ndarray:
    """``(N, 4)`` numeric boxes (an empty tensor of any shape is ``(0, 4)``), in their own dtype."""
    boxes = _read(value, name)
    if boxes.size == 0:
        return np.zeros((0, 4), dtype=boxes.dtype if boxes.dtype.kind == "f" else np.float64)
    if boxes.ndim != 2 or boxes.shape[1] != 4:
        raise ValueError(f"{name} must have shape (N, 4); got shape {boxes.shape}")
    if boxes.dtype.kind not in "iuf":
        raise TypeError(f"{name} must be numeric; got dtype {boxes.dtype}")
    return boxes


def _to_xywh(boxes: np.ndarray, box_format: str) -> np.ndarray:
    """xywh boxes in float64, converted in the input's float type (torchvision's ``box_convert``)."""
    if boxes.shape[0] == 0:
        return np.zeros((0, 4))
    if box_format == "xywh":
        return boxes.astype(np.float64)
    if boxes.dtype.kind != "f" and box_format == "cxcywh":
        boxes = boxes.astype(np.float32)  # torch: integer * 0.5 is float32
    b = boxes
    if box_format == "cxcywh":
        half = b.dtype.type(0.5)
        x1, y1 = b[:, 0] - half * b[:, 2], b[:, 1] - half * b[:, 3]
        x2, y2 = b[:, 0] + half * b[:, 2], b[:, 1] + half * b[:, 3]
    else:
        x1, y1, x2, y2 = b[:, 0], b[:, 1], b[:, 2], b[:, 3]
    return np.stack([x1, y1, x2 - x1, y2 - y1], axis=1).astype(np.float64)


def _to_xywh_batch(arrays: list, box_format: str) -> list:
    """``_to_xywh`` of every image's boxes, in one pass when they share a dtype (the usual case)."""
    dtypes = {a.dtype for a in arrays if a.shape[0]}
    if len(dtypes) > 1:
        return [_to_xywh(a, box_format) for a in arrays]
    dtype = dtypes.pop() if dtypes else np.dtype(np.float64)
    flat = np.concatenate([a.astype(dtype, copy=False) for a in arrays]) if arrays else np.zeros((0, 4))
    ends = np.cumsum([a.shape[0] for a in arrays])
    return np.split(_to_xywh(flat, box_format), ends[:-1]) if arrays else []


class MeanAveragePrecision:
    """torchmetrics' ``MeanAveragePrecision`` (bbox), computed by ``detmetrics.Evaluator``.

    Parameters
    ----------
    box_format : {"xyxy", "xywh", "cxcywh"}, default "xyxy"
    iou_type : "bbox"
        ``"segm"`` (and tuples) raise ``NotImplementedError``.
    iou_thresholds, rec_thresholds : list of float, optional
        Default: torchmetrics' (see ``threshold_dtype``).
    max_detection_thresholds : list of 3 ints, optional
        Default ``[1, 10, 100]``; sorted.
    class_metrics : bool
        Adds ``map_per_class`` and ``mar_<max>_per_class``.
    extended_summary : bool
        Adds ``precision``, ``recall``, ``scores`` (float64 arrays) and
        ``ious`` (``{(image index, class): (D, G) float32 array or []}``).
    average : {"macro", "micro"}
        ``"micro"`` pools every class into one.
    backend : {"pycocotools", "faster_coco_eval"}
        torchmetrics' COCO backend; both give the same numbers here.
    threshold_dtype : {"float32", "float64"}, default "float32"
        Default thresholds as torchmetrics builds them (float32, the same
        numbers as torchmetrics) or as pycocotools does (float64, the same
        numbers as pycocotools).  Not a torchmetrics option.
    detmetrics_backend : {"auto", "numba", "numpy"}
        detmetrics' kernel backend.  Not a torchmetrics option.
    **kwargs
        torchmetrics ``Metric`` keywords (``dist_sync_on_step``,
        ``sync_on_compute``, ...) are accepted and have no effect; others
        raise ``TypeError`` (detmetrics' ``protocol=`` and its switches too:
        torchmetrics' numbers are COCO's).
    """

    def __init__(self, box_format="xyxy", iou_type="bbox", iou_thresholds=None, rec_thresholds=None,
                 max_detection_thresholds=None, class_metrics=False, extended_summary=False, average="macro",
                 backend="pycocotools", *, threshold_dtype="float32", detmetrics_backend="auto", **kwargs):
        self._init_args = dict(box_format=box_format, iou_type=iou_type, iou_thresholds=iou_thresholds,
                               rec_thresholds=rec_thresholds, max_detection_thresholds=max_detection_thresholds,
                               class_metrics=class_metrics, extended_summary=extended_summary, average=average,
                               backend=backend, threshold_dtype=threshold_dtype,
                               detmetrics_backend=detmetrics_backend)
        refused = protocol_keyword_error("MeanAveragePrecision", kwargs)
        if refused is not None:
            raise refused
        unknown = sorted(set(kwargs) - set(_METRIC_KWARGS))
        if unknown:
            raise TypeError(f"MeanAveragePrecision got unexpected keyword argument(s) {unknown}")
        if box_format not in ("xyxy", "xywh", "cxcywh"):
            raise ValueError(f"box_format must be one of ('xyxy', 'xywh', 'cxcywh'); got {box_format!r}")
        iou_types = (iou_type,) if isinstance(iou_type, str) else tuple(iou_type)
        if any(t not in ("bbox", "segm") for t in iou_types) or not iou_types:
            raise ValueError(f"iou_type must be 'bbox' or 'segm' or a tuple of them; got {iou_type!r}")
        if iou_types != ("bbox",):
            raise NotImplementedError(
                f"iou_type={iou_type!r} is not implemented in detmetrics.compat.torchmetrics yet: detmetrics has "
                "no mask mAP evaluator to back it; use iou_type='bbox'")
        for flag_name, flag in (("class_metrics", class_metrics), ("extended_summary", extended_summary)):
            if not isinstance(flag, bool):
                raise ValueError(f"{flag_name} must be a bool; got {flag!r}")
        if average not in ("macro", "micro"):
            raise ValueError(f"average must be one of ('macro', 'micro'); got {average!r}")
        if backend not in ("pycocotools", "faster_coco_eval"):
            raise ValueError(f"backend must be one of ('pycocotools', 'faster_coco_eval'); got {backend!r}")
        if threshold_dtype not in _THRESHOLD_DTYPES:
            raise ValueError(f"threshold_dtype must be one of {_THRESHOLD_DTYPES}; got {threshold_dtype!r}")
        if max_detection_thresholds is not None and len(max_detection_thresholds) != 3:
            raise ValueError(f"max_detection_thresholds must hold 3 integers (as in torchmetrics); got "
                             f"{max_detection_thresholds!r}")
        self.box_format = box_format
        self.iou_type = iou_types
        self.class_metrics = class_metrics
        self.extended_summary = extended_summary
        self.average = average
        self.backend = backend
        self.threshold_dtype = threshold_dtype
        torch_like = threshold_dtype == "float32"
        if iou_thresholds is not None:
            self.iou_thresholds = [float(t) for t in iou_thresholds]
        elif torch_like:
            self.iou_thresholds = _torch_linspace_float32(0.5, 0.95, 10).tolist()
        else:
            self.iou_thresholds = np.linspace(0.5, 0.95, 10).tolist()
        if rec_thresholds is not None:
            self.rec_thresholds = [float(t) for t in rec_thresholds]
        elif torch_like:
            self.rec_thresholds = _torch_linspace_float32(0.0, 1.0, 101).tolist()
        else:
            self.rec_thresholds = np.linspace(0.0, 1.00, 101).tolist()
        self.max_detection_thresholds = sorted(int(m) for m in (max_detection_thresholds or [1, 10, 100]))
        self._options = dict(box_format="xywh", iou_thresholds=self.iou_thresholds,
                             max_detections=tuple(self.max_detection_thresholds),
                             recall_thresholds=self.rec_thresholds, backend=detmetrics_backend)
        from ..evaluate import Evaluator

        Evaluator(**self._options)  # validates the options once, here
        self.reset()

    # ---------------------------------------------------------------- state
    def reset(self) -> None:
        """Forget every image seen so far."""
        from ..evaluate import Evaluator

        self._macro = Evaluator(**self._options) if self.average == "macro" or self.class_metrics else None
        self._micro = Evaluator(**self._options) if self.average == "micro" else None
        self._classes: set = set()
        self._boxes: list = []  # (det xywh, det score, det label, gt xywh, gt label) per image (extended_summary)

    def to(self, *args, **kwargs) -> "MeanAveragePrecision":
        """No-op (the state lives on the CPU); returns ``self`` as ``torch.nn.Module.to`` does."""
        return self

    def update(self, preds, target) -> None:
        """Add a batch: lists of per-image dicts (``boxes``, ``scores``, ``labels``; ``iscrowd``, ``area``)."""
        for what, value in (("preds", preds), ("target", target)):
            if isinstance(value, dict) or not hasattr(value, "__len__"):
                raise ValueError(f"{what} must be a list of per-image dicts; got {type(value).__name__}")
        if len(preds) != len(target):
            raise ValueError(f"preds and target must have the same length; got {len(preds)} and {len(target)}")
        det_raw, gt_raw, det_records, gt_records = [], [], [], []
        for i, (p, t) in enumerate(zip(preds, target)):
            for what, item, keys in (("preds", p, ("boxes", "scores", "labels")), ("target", t, ("boxes", "labels"))):
                if not isinstance(item, dict):
                    raise ValueError(f"{what}[{i}] must be a dict; got {type(item).__name__}")
                missing = [k for k in keys if k not in item]
                if missing:
                    raise ValueError(f"{what}[{i}] is missing key(s) {missing}")
            det_raw.append(_box_array(p["boxes"], f"preds[{i}]['boxes']"))
            gt_raw.append(_box_array(t["boxes"], f"target[{i}]['boxes']"))
            det_labels = _read(p["labels"], f"preds[{i}]['labels']").reshape(-1)
            gt_labels = _read(t["labels"], f"target[{i}]['labels']").reshape(-1)
            for name, labels in ((f"preds[{i}]['labels']", det_labels), (f"target[{i}]['labels']", gt_labels)):
                if labels.size and labels.dtype.kind not in "iu":
                    raise ValueError(f"{name} must hold integers; got dtype {labels.dtype}")
            det_records.append({"scores": _read(p["scores"], f"preds[{i}]['scores']").reshape(-1),
                                "labels": det_labels.astype(np.int64)})
            gt = {"labels": gt_labels.astype(np.int64)}
            if t.get("iscrowd") is not None:
                gt["iscrowd"] = _read(t["iscrowd"], f"target[{i}]['iscrowd']").reshape(-1)
            if t.get("area") is not None:
                gt["area"] = _read(t["area"], f"target[{i}]['area']").reshape(-1).astype(np.float64)
            gt_records.append(gt)
        for det, boxes in zip(det_records, _to_xywh_batch(det_raw, self.box_format)):
            det["boxes"] = boxes
        for gt, boxes in zip(gt_records, _to_xywh_batch(gt_raw, self.box_format)):
            gt["boxes"] = boxes
            if "area" in gt and gt["area"].shape[0] == boxes.shape[0]:
                # torchmetrics: an area that is not positive is replaced by w * h
                gt["area"] = np.where(gt["area"] > 0, gt["area"], boxes[:, 2] * boxes[:, 3])
        for evaluator, micro in ((self._macro, False), (self._micro, True)):
            if evaluator is None:
                continue
            if micro:
                evaluator.update([dict(d, labels=np.zeros_like(d["labels"])) for d in det_records],
                                 [dict(g, labels=np.zeros_like(g["labels"])) for g in gt_records])
            else:
                evaluator.update(det_records, gt_records)
        all_labels = [r["labels"] for r in det_records] + [r["labels"] for r in gt_records]
        if all_labels:
            self._classes.update(np.unique(np.concatenate(all_labels)).tolist())
        if self.extended_summary:
            for d, g in zip(det_records, gt_records):
                self._boxes.append((d["boxes"], d["scores"], d["labels"], g["boxes"], g["labels"],
                                    g.get("iscrowd")))

    def merge_state(self, incoming_state) -> None:
        """Add another ``MeanAveragePrecision``'s images (its images follow this one's)."""
        if not isinstance(incoming_state, MeanAveragePrecision):
            raise ValueError(f"incoming_state must be a MeanAveragePrecision; got {type(incoming_state).__name__}")
        if incoming_state is self:
            raise ValueError("cannot merge a metric with itself (its images would be counted twice)")
        for name in ("average", "class_metrics", "extended_summary", "iou_thresholds", "rec_thresholds",
                     "max_detection_thresholds"):
            if getattr(self, name) != getattr(incoming_state, name):
                raise ValueError(f"cannot merge metrics with different {name}: {getattr(self, name)!r} vs "
                                 f"{getattr(incoming_state, name)!r}")
        other = incoming_state  # Evaluator.merge only reads its states: the incoming metric stays usable
        for mine, theirs in ((self._macro, other._macro), (self._micro, other._micro)):
            if mine is not None and theirs is not None:
                mine.merge(theirs)
        self._classes.update(other._classes)
        self._boxes.extend(other._boxes)

    # ---------------------------------------------------------------- compute
    def compute(self) -> dict:
        """torchmetrics' output dict (NumPy float32 scalars; ``classes`` int32)."""
        from .pycocotools import coco_summary

        mdt = self.max_detection_thresholds
        classes = np.array(sorted(self._classes), dtype=np.int32)
        main = self._micro if self.average == "micro" else self._macro
        assert main is not None
        out: dict = {}
        if main.n_images == 0:
            stats = np.full(12, -1.0)
            result = None
        else:
            result = main.compute()
            stats, _ = coco_summary(result.precision, result.recall, result.iou_thresholds,
                                    list(result.area_ranges), result.max_detections)
        names = ["map", "map_50", "map_75", "map_small", "map_medium", "map_large", f"mar_{mdt[0]}",
                 f"mar_{mdt[1]}", f"mar_{mdt[2]}", "mar_small", "mar_medium", "mar_large"]
        for name, value in zip(names, stats):
            out[name] = np.float32(value)
        if result is not None and self.extended_summary:
            out["ious"] = self._ious(result)
            out["precision"] = result.precision
            out["recall"] = result.recall
            out["scores"] = result.scores
        if self.class_metrics and result is not None:
            assert self._macro is not None
            per = self._macro.compute() if self._macro is not main else result
            map_pc, mar_pc = [], []
            for cls in classes.tolist():
                k = per.category_ids.index(cls)
                cls_stats, _ = coco_summary(per.precision[:, :, k:k + 1], per.recall[:, k:k + 1],
                                            per.iou_thresholds, list(per.area_ranges), per.max_detections)
                map_pc.append(cls_stats[0])
                mar_pc.append(cls_stats[8])
            map_per_class = _squeeze(np.array(map_pc, dtype=np.float32))
            mar_per_class = _squeeze(np.array(mar_pc, dtype=np.float32))
        else:
            map_per_class = mar_per_class = np.float32(-1.0)
        out["map_per_class"] = map_per_class
        out[f"mar_{mdt[-1]}_per_class"] = mar_per_class
        out["classes"] = _squeeze(classes)
        return out

    def _ious(self, result) -> dict:
        """``{(image index, class): (D, G) float32}`` as pycocotools' ``ious`` (``[]`` when a side is empty)."""
        from ..matching import _bbox_iou_reference

        cats = result.category_ids
        max_det = self.max_detection_thresholds[-1]
        out: dict = {}
        for image, (d_box, d_score, d_label, g_box, g_label, g_crowd) in enumerate(self._boxes):
            if self.average == "micro":
                d_label, g_label = np.zeros_like(d_label), np.zeros_like(g_label)
            crowd_all = np.zeros(g_box.shape[0], np.int64) if g_crowd is None else (np.asarray(g_crowd) != 0)
            for cat in cats:
                d_sel, g_sel = np.flatnonzero(d_label == cat), np.flatnonzero(g_label == cat)
                d_sel = d_sel[np.argsort(-d_score[d_sel], kind="stable")][:max_det]
                if d_sel.size == 0 or g_sel.size == 0:
                    out[image, cat] = []
                    continue
                crowd = np.asarray(crowd_all[g_sel], dtype=np.int64)
                out[image, cat] = _bbox_iou_reference(d_box[d_sel], g_box[g_sel], crowd).astype(np.float32)
        return out

    def forward(self, preds, target) -> dict:
        """Update the state and return the metric of this batch alone (torchmetrics' ``forward``)."""
        batch = type(self)(**self._init_args)
        batch.update(preds, target)
        self.update(preds, target)
        return batch.compute()

    __call__ = forward


def _squeeze(values: np.ndarray):
    """torchmetrics squeezes one-element results to scalars."""
    return values.reshape(()) if values.size == 1 else values
