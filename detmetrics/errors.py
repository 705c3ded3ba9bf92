"""TIDE-style error breakdown: what kind of mistake costs how much AP (Bolya et al., ECCV 2020).

``error_breakdown(predictions, ground_truths)`` gives every false positive and every missed
ground truth one type, and for each type the AP gained by fixing that type alone (``dap``),
with the definitions, the precedence and the AP of the ``tidecv`` package (1.0.1), number
for number.  The stages:

1. per image, detections sorted by score (ties keep input order) and cut to ``max_detections``;
   one IoU block per image against all its ground truths (pycocotools' ``bbIou`` arithmetic;
   crowd / difficult ground truths are TIDE's ignore regions and get the crowd IoU
   ``intersection / area(detection)``);
2. ``_classify`` (NumPy reference + Numba kernel), per image:

   * matching: in score order, a detection takes the unmatched same-class ground truth of
     highest IoU (the first on ties) when that IoU is ``>= fg_iou``;
   * an unmatched detection whose crowd IoU with a same-class ignore region is ``> fg_iou``
     is ignored (left out of AP, still typed);
   * the type of an unmatched (or ignored) detection, first rule that holds: no ground truth
     in the image -> ``bkg``; ``bg_iou <= max same-class IoU <= fg_iou`` -> ``loc``;
     ``max other-class IoU >= fg_iou`` -> ``cls``; ``max IoU with a matched same-class ground
     truth >= fg_iou`` -> ``dupe``; ``max IoU <= bg_iou`` -> ``bkg``; else ``both``;
   * a ``cls`` / ``loc`` error points at a ground truth; when that ground truth is unmatched it
     is "usable" and the highest scored of the errors pointing at it (the first on ties) is the
     one that fixing turns into its true positive (the others are removed);
   * ``miss``: a ground truth neither matched nor usable;
3. the AP of every fix (``_tide_ap``, reference + kernel): TIDE's AP per class is the 101-point
   interpolated precision at recall ``0, 0.01, ..., 1`` (``searchsorted`` left, precision 0
   past the last recall); a class with detections but no ground truth has AP 0, a class with
   neither is left out of the mean.  Fixing a type: ``cls`` / ``loc`` errors become true
   positives (in the ground truth's class) or disappear, ``dupe`` / ``bkg`` / ``both``
   disappear, ``miss`` lowers the class's ground-truth count by one.  As in tidecv, a fixed
   run lists the error detections (fixed or not) before the true positives, which is how it
   ranks tied scores, and ``dap = max(fixed AP - AP, 0)``.

Where tidecv divides by zero (a run with no class left to average) the mean is 0 here.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ._backend import kernel, resolve_backend
from ._validate import check_threshold

__all__ = ["ERROR_TYPES", "SPECIAL_TYPES", "ErrorBreakdown", "error_breakdown", "error_breakdown_coco"]

#: the main error types, in TIDE's order (``_error_types``)
ERROR_TYPES = ("cls", "loc", "both", "dupe", "bkg", "miss")
#: TIDE's "special" errors: perfect precision (false positives scored 0) / perfect recall
SPECIAL_TYPES = ("false_pos", "false_neg")

# codes of det_error (0: a true positive, no error); "miss" is 6 for the ground truths
_CLS, _LOC, _BOTH, _DUPE, _BKG, _MISS = 1, 2, 3, 4, 5, 6
# det_status
_TP, _FP, _IGNORED = 1, 0, -1
_N_BARS = 101  # TIDE's (and COCO's) recall points 0, 0.01, ..., 1


@dataclass(frozen=True)
class ErrorBreakdown:
    """``error_breakdown``'s result.  AP figures are fractions (tidecv prints them times 100).

    Attributes
    ----------
    ap : float
        TIDE's mAP at ``fg_iou`` (its own 101-point AP, mean over classes).
    counts : dict
        ``ERROR_TYPES`` -> number of errors of that type.
    dap : dict
        ``ERROR_TYPES`` -> mAP gained by fixing that type alone (``>= 0``).
    special : dict
        ``"false_pos"`` -> mAP gained by scoring every false positive below every true positive
        (perfect precision, same recall); ``"false_neg"`` -> mAP gained with every unmatched
        ground truth removed (perfect recall, same precision).  Not clipped at 0.
    per_class : dict
        label -> ``{"ap", "counts", "dap", "special"}`` for that class alone (AP 0 without
        ground truth; ``dap`` clipped at 0 as above); detection errors count in the
        detection's class, misses in the ground truth's.
    fixed_ap : float
        mAP with every error of ``ERROR_TYPES`` fixed at once (1 when every ground truth can be
        found by some detection, 0 when nothing is left).
    fg_iou, bg_iou : float
    max_detections : int or None
    """

    ap: float
    counts: dict
    dap: dict
    special: dict
    per_class: dict = field(default_factory=dict)
    fixed_ap: float = 1.0
    fg_iou: float = 0.5
    bg_iou: float = 0.1
    max_detections: int | None = 100

    def to_dict(self) -> dict:
        """Plain JSON-ready data (class labels become strings)."""
        return {"ap": self.ap, "counts": dict(self.counts), "dap": dict(self.dap), "special": dict(self.special),
                "per_class": {str(k): {"ap": v["ap"], "counts": dict(v["counts"]), "dap": dict(v["dap"]),
                                       "special": dict(v["special"])} for k, v in self.per_class.items()},
                "fixed_ap": self.fixed_ap, "fg_iou": self.fg_iou, "bg_iou": self.bg_iou, "max_detections": self.max_detections}

    def table(self) -> str:
        """The breakdown as a plain-text table (AP and dAP in points, as tidecv prints them)."""
        cap = "all" if self.max_detections is None else str(self.max_detections)
        lines = [f"TIDE error breakdown: AP@{self.fg_iou:g} = {100 * self.ap:.2f} "
                 f"(bg_iou {self.bg_iou:g}, {cap} detections per image)", "",
                 f"{'type':<10}{'count':>8}{'dAP':>9}", "-" * 27]
        for name in ERROR_TYPES:
            lines.append(f"{name:<10}{self.counts[name]:>8d}{100 * self.dap[name]:>9.2f}")
        lines.append("-" * 27)
        for name in SPECIAL_TYPES:
            lines.append(f"{name:<10}{'':>8}{100 * self.special[name]:>9.2f}")
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.table()


def error_breakdown(predictions, ground_truths, *, fg_iou=0.5, bg_iou=0.1, max_detections=100, box_format="xyxy",
                    backend="auto") -> ErrorBreakdown:
    """Count TIDE's error types and the AP each one costs (Bolya et al., ECCV 2020; ``tidecv`` 1.0.1).

    Every false positive and missed ground truth gets one type of ``ERROR_TYPES``:

    * ``cls``: right place (IoU ``>= fg_iou`` with a ground truth of another class), wrong class;
    * ``loc``: right class, ``bg_iou <= IoU <= fg_iou`` with a ground truth of its class;
    * ``both``: wrong class and poorly placed (none of the others);
    * ``dupe``: right class and place, but the ground truth was taken by a higher scored detection;
    * ``bkg``: IoU ``<= bg_iou`` with every ground truth (or none in its image);
    * ``miss``: a ground truth no detection matched and no ``cls`` / ``loc`` error can fix;

    in this precedence: ``loc``, ``cls``, ``dupe``, ``bkg``, ``both`` (``bkg`` first in an image
    without ground truth).  ``dap[t]`` is the mAP gained by fixing the errors of type ``t`` alone
    (tidecv's oracle: a fixable ``cls`` / ``loc`` error becomes the true positive of its ground
    truth, the others and ``dupe`` / ``bkg`` / ``both`` are removed, a ``miss`` leaves the
    ground-truth count); see ``detmetrics.errors`` for every rule.

    Parameters
    ----------
    predictions, ground_truths : list of dict
        As ``detmetrics.mean_ap`` (axis-aligned boxes): ``boxes``, ``scores``, ``labels`` and
        ``boxes``, ``labels`` with optional ``iscrowd`` / ``difficult``; flagged ground truths
        are TIDE's ignore regions (a detection of their class covering them by more than
        ``fg_iou`` of its own area is left out of AP, as tidecv's COCO reader does with crowds).
    fg_iou : float, default=0.5
        IoU a true positive needs (``>=``); ``0 < fg_iou <= 1``.
    bg_iou : float, default=0.1
        IoU at or below which a detection is background; ``0 <= bg_iou <= fg_iou``.
    max_detections : int or None, default=100
        Highest scored detections kept per image across classes (tidecv's ``max_dets``).
    box_format : {"xyxy", "xywh", "cxcywh"}, default="xyxy"
    backend : {"auto", "numba", "numpy"}, default="auto"

    Returns
    -------
    ErrorBreakdown
        ``ap``, ``counts``, ``dap``, ``special``, ``per_class``; AP values are fractions
        (``100 * ap`` is what tidecv prints as ``bbox AP @ 50``).

    Examples
    --------
    >>> gts = [{"boxes": [[0, 0, 10, 10], [20, 0, 30, 10]], "labels": [0, 0]}]
    >>> preds = [{"boxes": [[50, 50, 60, 60], [0, 0, 10, 10], [0, 0, 10, 9], [25, 0, 35, 10]],
    ...           "scores": [0.95, 0.9, 0.8, 0.7], "labels": [0, 0, 0, 0]}]
    >>> result = error_breakdown(preds, gts)
    >>> result.counts
    {'cls': 0, 'loc': 1, 'both': 0, 'dupe': 1, 'bkg': 1, 'miss': 0}
    >>> round(result.ap, 4), round(result.dap["bkg"], 4), round(result.dap["loc"], 4), result.fixed_ap
    (0.2525, 0.2525, 0.2475, 1.0)
    """
    from ._inputs import flatten, parse_options

    fg_iou = check_threshold(fg_iou, "fg_iou")
    if fg_iou <= 0:
        raise ValueError(f"fg_iou must be in (0, 1]; got {fg_iou!r}")
    bg_iou = check_threshold(bg_iou, "bg_iou")
    if bg_iou > fg_iou:
        raise ValueError(f"bg_iou must be <= fg_iou ({fg_iou!r}); got {bg_iou!r}")
    cap = _check_cap(max_detections)
    opts = parse_options(box_format, backend=backend)
    flat = flatten(predictions, ground_truths, opts.box_format, "bbox", None, opts.backend)
    if flat.kind != "axis":
        raise ValueError(f"error_breakdown scores axis-aligned boxes; predictions and ground_truths hold {flat.kind} "
                         "boxes")
    return _breakdown(flat, fg_iou, bg_iou, cap, backend)


def error_breakdown_coco(ground_truth, results, *, fg_iou=0.5, bg_iou=0.1, max_detections=100,
                         backend="auto") -> ErrorBreakdown:
    """``error_breakdown`` on COCO JSON: a ground-truth file (or its dict) and a results file (or its list).

    As ``detmetrics.evaluate_coco`` reads them: every image of ``ground_truth`` (those without
    results too), in the file's order (as tidecv's own COCO reader walks them); results'
    ``category_id`` are the ground truth's category ids; crowds (``iscrowd``) are TIDE's ignore
    regions (as tidecv's reader makes them).
    The keywords are ``error_breakdown``'s; ``per_class`` is keyed by category id.

    Examples
    --------
    >>> gt = {"images": [{"id": 1}], "categories": [{"id": 3}],
    ...       "annotations": [{"id": 1, "image_id": 1, "category_id": 3, "bbox": [0, 0, 10, 10]}]}
    >>> res = [{"image_id": 1, "category_id": 3, "bbox": [5, 0, 10, 10], "score": 0.9}]
    >>> error_breakdown_coco(gt, res).counts["loc"]
    1
    """
    from .io import read_coco_gt, read_coco_results

    gt = _named(read_coco_gt, "ground_truth", ground_truth)
    pred = _named(read_coco_results, "results", results, gt, category_ids="ids")
    order = _coco_file_order(gt, ground_truth)
    gts, preds = gt.records_for("bbox"), pred.records_for("bbox")
    return error_breakdown([preds[k] for k in order], [gts[k] for k in order], fg_iou=fg_iou, bg_iou=bg_iou,
                           max_detections=max_detections, box_format="xywh", backend=backend)


def _coco_file_order(gt, source) -> list:
    """Positions of ``gt``'s records (sorted by image id, as pycocotools and the readers keep them) in the
    order of the images in the COCO file ``source`` (a path or the dict), the order tidecv walks: it
    decides tied scores across images."""
    from .io.coco import _load_json

    position = {image_id: k for k, image_id in enumerate(gt.image_ids)}
    data = source if isinstance(source, dict) else _load_json(source, "ground truth")[0]
    return [position[image["id"]] for image in data["images"]]


def _named(reader, name, source, *args, **kwargs):
    """Run a COCO reader; its errors name the argument (``ground_truth`` / ``results``)."""
    try:
        return reader(source, *args, **kwargs)
    except (TypeError, ValueError) as exc:
        message = str(exc)
        if name not in message:
            message = f"{name}: {message}"
        raise type(exc)(message) from None


def _check_cap(max_detections):
    if max_detections is None:
        return None
    if isinstance(max_detections, (bool, np.bool_)) or not isinstance(max_detections, (int, np.integer)):
        raise TypeError(f"max_detections must be a positive int or None; got {max_detections!r}")
    if max_detections <= 0:
        raise ValueError(f"max_detections must be a positive int or None; got {max_detections!r}")
    return int(max_detections)


# ----------------------------------------------------------------------------------------------
# the pipeline


def _breakdown(flat, fg_iou: float, bg_iou: float, cap, backend: str) -> ErrorBreakdown:
    det_score, det_label, gt_label, gt_ignore, resolved, classified = _classify_flat(flat, fg_iou, bg_iou, cap,
                                                                                     backend)
    return _summarise(det_score, det_label, gt_label, gt_ignore, resolved, classified, fg_iou, bg_iou, cap)


def _classify_flat(flat, fg_iou: float, bg_iou: float, cap, backend: str):
    """Stages 1-2: sort and cut the detections, IoU blocks per image, ``_classify``."""
    from .matching import _iou_blocks

    n_images = flat.n_images
    # detections per image by decreasing score, ties in input order, cut to the cap
    order = np.argsort(-flat.det_score, kind="stable")
    order = order[np.argsort(flat.det_img[order], kind="stable")]
    det_img = flat.det_img[order]
    det_offsets = np.zeros(n_images + 1, dtype=np.int64)
    np.cumsum(np.bincount(det_img, minlength=n_images), out=det_offsets[1:])
    if cap is not None:
        rank = np.arange(order.shape[0], dtype=np.int64) - det_offsets[det_img]
        order = order[rank < cap]
        det_img = flat.det_img[order]
        np.cumsum(np.bincount(det_img, minlength=n_images), out=det_offsets[1:])
    det_box = np.ascontiguousarray(flat.det_box[order])
    det_score = np.ascontiguousarray(flat.det_score[order])
    det_label = np.ascontiguousarray(flat.det_label[order])
    # ground truths stay in input order (flatten keeps them grouped by image)
    gt_offsets = np.zeros(n_images + 1, dtype=np.int64)
    np.cumsum(np.bincount(flat.gt_img, minlength=n_images), out=gt_offsets[1:])
    gt_ignore = ((flat.gt_crowd != 0) | (flat.gt_difficult != 0)).astype(np.uint8)
    gt_label = flat.gt_label

    work = det_box.shape[0] * max(1, flat.gt_box.shape[0] // max(1, n_images)) // 10
    resolved = resolve_backend(backend, work, (_classify_kernel, _tide_ap_kernel), site="errors")
    iou_flat, iou_offsets = _iou_blocks(det_box, flat.gt_box, gt_ignore, det_offsets, gt_offsets, resolved)
    classified = _classify(iou_flat, iou_offsets, det_offsets, gt_offsets, det_score, det_label, gt_label, gt_ignore,
                           fg_iou, bg_iou, resolved)
    return det_score, det_label, gt_label, gt_ignore, resolved, classified


def _summarise(det_score, det_label, gt_label, gt_ignore, resolved, classified, fg_iou, bg_iou, cap):
    det_status, det_error, det_target, det_fix, gt_matched, gt_miss = classified
    real = gt_ignore == 0
    classes = np.unique(np.concatenate([det_label, gt_label[real]]))
    n_cls = classes.shape[0]
    det_c = np.searchsorted(classes, det_label)
    gt_c = np.searchsorted(classes, gt_label)
    npos = np.bincount(gt_c[real], minlength=n_cls).astype(np.int64)
    n_missed = np.bincount(gt_c[gt_miss != 0], minlength=n_cls).astype(np.int64)
    n_matched = np.bincount(gt_c[real & (gt_matched >= 0)], minlength=n_cls).astype(np.int64)
    target_c = np.full(det_target.shape[0], -1, dtype=np.int64)
    pointed = det_target >= 0
    target_c[pointed] = gt_c[det_target[pointed]]

    scenarios = _scenarios(det_status, det_error, det_fix, det_score, det_c, target_c, npos, n_missed, n_matched)
    aps, present = _scenario_aps(scenarios, n_cls, resolved)
    maps = [_mean(aps[s], present[s]) for s in range(aps.shape[0])]
    base = maps[0]

    counts = {name: int(np.count_nonzero(det_error == code)) for code, name in enumerate(ERROR_TYPES[:-1], 1)}
    counts["miss"] = int(np.count_nonzero(gt_miss))
    dap = {name: max(maps[1 + i] - base, 0.0) for i, name in enumerate(ERROR_TYPES)}
    special = {name: maps[8 + i] - base for i, name in enumerate(SPECIAL_TYPES)}

    # per class: detection errors in the detection's class, misses in the ground truth's
    by_class = np.bincount(det_c * 7 + det_error, minlength=7 * n_cls).reshape(n_cls, 7)
    by_class[:, _MISS] = n_missed
    per_class = {}
    for c in range(n_cls):
        per_class[int(classes[c])] = {
            "ap": float(aps[0, c]),
            "counts": {name: int(by_class[c, code]) for code, name in enumerate(ERROR_TYPES, 1)},
            "dap": {name: max(float(aps[1 + i, c] - aps[0, c]), 0.0) for i, name in enumerate(ERROR_TYPES)},
            "special": {name: float(aps[8 + i, c] - aps[0, c]) for i, name in enumerate(SPECIAL_TYPES)},
        }
    return ErrorBreakdown(ap=base, counts=counts, dap=dap, special=special, per_class=per_class, fixed_ap=maps[7],
                          fg_iou=fg_iou,
                          bg_iou=bg_iou, max_detections=cap)


def _mean(values: np.ndarray, present: np.ndarray) -> float:
    """TIDE's mAP: the mean over the classes with a ground truth or a detection (0 when there is none)."""
    kept = values[present]
    return float(sum(kept.tolist()) / kept.shape[0]) if kept.shape[0] else 0.0


def _scenarios(det_status, det_error, det_fix, det_score, det_c, target_c, npos, n_missed, n_matched) -> list:
    """The AP data of the base run and of each fix: ``(class, score, tp, rank key)`` points and ``npos``.

    Row 0 is the base run (every true and false positive, in detection order); rows 1-6 fix one
    of ``ERROR_TYPES``, row 7 all of them; rows 8-9 are the special errors.  In a fixed run the error points come
    first and the true positives after them (key ``n + position``), which is the order tidecv's
    ``fix_errors`` rebuilds its data in: it decides the order of tied scores.
    """
    n = det_status.shape[0]
    pos = np.arange(n, dtype=np.int64)
    tp = det_status == _TP
    fp = det_status == _FP
    erred = ~tp
    out = [(det_c[~(det_status == _IGNORED)], det_score[det_status != _IGNORED], tp[det_status != _IGNORED],
            pos[det_status != _IGNORED], npos)]
    tp_part = (det_c[tp], det_score[tp], np.ones(int(tp.sum()), bool), n + pos[tp])
    for codes in [(code,) for code in range(1, 7)] + [tuple(range(1, 7))]:
        this = erred & np.isin(det_error, codes)
        kept_original = erred & ~this & fp
        fixed = this & (det_fix != 0)
        cls = np.concatenate([det_c[kept_original], np.where(det_error == _CLS, target_c, det_c)[fixed]])
        score = np.concatenate([det_score[kept_original], det_score[fixed]])
        flag = np.concatenate([np.zeros(int(kept_original.sum()), bool), np.ones(int(fixed.sum()), bool)])
        key = np.concatenate([pos[kept_original], pos[fixed]])
        out.append((np.concatenate([cls, tp_part[0]]), np.concatenate([score, tp_part[1]]),
                    np.concatenate([flag, tp_part[2]]), np.concatenate([key, tp_part[3]]),
                    npos - n_missed if _MISS in codes else npos))
    for special in SPECIAL_TYPES:
        score_fp = np.zeros(int(fp.sum())) if special == "false_pos" else det_score[fp]
        score_tp = np.ones(int(tp.sum())) if special == "false_pos" else tp_part[1]
        out.append((np.concatenate([det_c[fp], tp_part[0]]), np.concatenate([score_fp, score_tp]),
                    np.concatenate([np.zeros(int(fp.sum()), bool), tp_part[2]]),
                    np.concatenate([pos[fp], tp_part[3]]), npos if special == "false_pos" else n_matched))
    return out


def _scenario_aps(scenarios: list, n_cls: int, backend: str):
    """``(n_scenarios, n_cls)`` class APs (fractions) and which classes count in each mean."""
    n_s = len(scenarios)
    group = np.concatenate([s * n_cls + sc[0] for s, sc in enumerate(scenarios)]).astype(np.int64)
    score = np.concatenate([sc[1] for sc in scenarios]).astype(np.float64)
    flag = np.concatenate([sc[2] for sc in scenarios]).astype(np.uint8)
    key = np.concatenate([sc[3] for sc in scenarios]).astype(np.int64)
    npos = np.ascontiguousarray(np.concatenate([sc[4] for sc in scenarios]), dtype=np.int64)
    # per (scenario, class): decreasing score, ties by the rank key (Python's stable sort in tidecv)
    order = np.lexsort((key, -score, group))
    counts = np.bincount(group, minlength=n_s * n_cls)
    offsets = np.zeros(n_s * n_cls + 1, dtype=np.int64)
    np.cumsum(counts, out=offsets[1:])
    aps = _tide_ap(np.ascontiguousarray(flag[order]), offsets, npos, backend)
    present = (counts > 0) | (npos > 0)
    return aps.reshape(n_s, n_cls), present.reshape(n_s, n_cls)


# ----------------------------------------------------------------------------------------------
# per-image classification: matching, ignore regions, error types, the fixable errors


def _classify(iou_flat, iou_offsets, det_offsets, gt_offsets, det_score, det_label, gt_label, gt_ignore, fg_iou,
              bg_iou, backend):
    """Per image (``det_offsets`` / ``gt_offsets`` groups; detections sorted, IoU blocks row-major).

    Returns ``det_status`` (1 true positive, 0 false positive, -1 ignored), ``det_error`` (0 or a
    code 1-5 of ``ERROR_TYPES``), ``det_target`` (the matched / pointed-at ground truth, -1),
    ``det_fix`` (1: fixing this ``cls`` / ``loc`` error gives a true positive), ``gt_matched``
    (detection index or -1) and ``gt_miss`` (1: a ``miss``).
    """
    n_det, n_gt = det_score.shape[0], gt_label.shape[0]
    det_status = np.empty(n_det, dtype=np.int64)
    det_error = np.zeros(n_det, dtype=np.int64)
    det_target = np.full(n_det, -1, dtype=np.int64)
    det_fix = np.zeros(n_det, dtype=np.uint8)
    gt_matched = np.full(n_gt, -1, dtype=np.int64)
    gt_miss = np.zeros(n_gt, dtype=np.uint8)
    args = (iou_flat, iou_offsets, det_offsets, gt_offsets, np.ascontiguousarray(det_score, dtype=np.float64),
            np.ascontiguousarray(det_label, dtype=np.int64), np.ascontiguousarray(gt_label, dtype=np.int64),
            np.ascontiguousarray(gt_ignore, dtype=np.uint8), float(fg_iou), float(bg_iou),
            det_status, det_error, det_target, det_fix, gt_matched, gt_miss)
    if backend == "numba":
        _classify_kernel(*args)
    else:
        _classify_reference(*args)
    return det_status, det_error, det_target, det_fix, gt_matched, gt_miss


def _first_max(values: np.ndarray):
    """``(index, value)`` of the first maximum (``np.argmax``), ``(-1, 0.0)`` when empty."""
    if values.shape[0] == 0:
        return -1, 0.0
    j = int(np.argmax(values))
    return j, float(values[j])


def _classify_reference(iou_flat, iou_offsets, det_offsets, gt_offsets, det_score, det_label, gt_label, gt_ignore,
                        fg_iou, bg_iou, det_status, det_error, det_target, det_fix, gt_matched, gt_miss):
    for g in range(det_offsets.shape[0] - 1):
        d0, d1 = det_offsets[g], det_offsets[g + 1]
        g0, g1 = gt_offsets[g], gt_offsets[g + 1]
        iou = iou_flat[iou_offsets[g]:iou_offsets[g + 1]].reshape(d1 - d0, g1 - g0)
        ignore = gt_ignore[g0:g1] != 0
        real = np.flatnonzero(~ignore)          # TIDE's ground truths (positions in the block)
        regions = np.flatnonzero(ignore)        # its ignore regions
        same = det_label[d0:d1, None] == gt_label[None, g0 + real]
        block = iou[:, real]
        det_status[d0:d1] = _FP
        used = np.zeros(real.shape[0], dtype=bool)
        for i in range(d1 - d0):  # greedy, in score order
            j, value = _first_max(np.where(same[i] & ~used, block[i], 0.0))
            if j >= 0 and value >= fg_iou:
                used[j] = True
                det_status[d0 + i] = _TP
                det_target[d0 + i] = g0 + real[j]
                gt_matched[g0 + real[j]] = d0 + i
        for r in regions:  # TIDE's ignore regions: crowd IoU > fg_iou with the region's class
            hit = (det_status[d0:d1] != _TP) & (iou[:, r] > fg_iou) & (det_label[d0:d1] == gt_label[g0 + r])
            det_status[d0:d1][hit] = _IGNORED
        usable = np.zeros(real.shape[0], dtype=bool)
        best_score = np.full(real.shape[0], -np.inf)
        best_det = np.full(real.shape[0], -1, dtype=np.int64)
        for i in range(d1 - d0):
            if det_status[d0 + i] == _TP:
                continue
            j = -1
            if real.shape[0] == 0:
                code = _BKG
            else:
                j_loc, v_loc = _first_max(np.where(same[i], block[i], 0.0))
                j_cls, v_cls = _first_max(np.where(~same[i], block[i], 0.0))
                j_dup, v_dup = _first_max(np.where(same[i] & used, block[i], 0.0))
                if bg_iou <= v_loc <= fg_iou:
                    code, j = _LOC, j_loc
                elif v_cls >= fg_iou:
                    code, j = _CLS, j_cls
                elif v_dup >= fg_iou:
                    code, j = _DUPE, j_dup
                elif block[i].max() <= bg_iou:
                    code = _BKG
                else:
                    code = _BOTH
            det_error[d0 + i] = code
            if j >= 0:
                det_target[d0 + i] = g0 + real[j]
            if (code == _LOC or code == _CLS) and not used[j]:
                usable[j] = True
                if best_score[j] < det_score[d0 + i]:
                    best_score[j] = det_score[d0 + i]
                    best_det[j] = d0 + i
        for j in range(real.shape[0]):
            if best_det[j] >= 0:
                det_fix[best_det[j]] = 1
            if not used[j] and not usable[j]:
                gt_miss[g0 + real[j]] = 1


@kernel
def _classify_kernel(iou_flat, iou_offsets, det_offsets, gt_offsets, det_score, det_label, gt_label, gt_ignore,
                     fg_iou, bg_iou, det_status, det_error, det_target, det_fix, gt_matched, gt_miss):
    n_groups = det_offsets.shape[0] - 1
    for g in range(n_groups):
        d0 = det_offsets[g]
        d1 = det_offsets[g + 1]
        g0 = gt_offsets[g]
        g1 = gt_offsets[g + 1]
        m = g1 - g0
        base = iou_offsets[g]
        n_real = 0
        for j in range(g0, g1):
            if gt_ignore[j] == 0:
                n_real += 1
        for i in range(d0, d1):
            det_status[i] = 0
        # greedy matching in score order (gt_matched doubles as "used")
        for i in range(d0, d1):
            row = base + (i - d0) * m
            best = -1.0
            jb = -1
            for j in range(g0, g1):
                if gt_ignore[j] != 0:
                    continue
                v = 0.0
                if det_label[i] == gt_label[j] and gt_matched[j] < 0:
                    v = iou_flat[row + j - g0]
                if v > best:
                    best = v
                    jb = j
            if jb >= 0 and best >= fg_iou:
                det_status[i] = 1
                det_target[i] = jb
                gt_matched[jb] = i
        # ignore regions
        for r in range(g0, g1):
            if gt_ignore[r] == 0:
                continue
            for i in range(d0, d1):
                if det_status[i] != 1 and iou_flat[base + (i - d0) * m + r - g0] > fg_iou \
                        and det_label[i] == gt_label[r]:
                    det_status[i] = -1
        # error types; gt_miss holds "usable" until the end of the image
        for i in range(d0, d1):
            if det_status[i] == 1:
                continue
            row = base + (i - d0) * m
            code = 5
            jt = -1
            if n_real > 0:
                b_loc = -1.0
                j_loc = -1
                b_cls = -1.0
                j_cls = -1
                b_dup = -1.0
                j_dup = -1
                b_all = -1.0
                for j in range(g0, g1):
                    if gt_ignore[j] != 0:
                        continue
                    v = iou_flat[row + j - g0]
                    same = det_label[i] == gt_label[j]
                    v_loc = v if same else 0.0
                    v_cls = 0.0 if same else v
                    v_dup = v if same and gt_matched[j] >= 0 else 0.0
                    if v_loc > b_loc:
                        b_loc = v_loc
                        j_loc = j
                    if v_cls > b_cls:
                        b_cls = v_cls
                        j_cls = j
                    if v_dup > b_dup:
                        b_dup = v_dup
                        j_dup = j
                    if v > b_all:
                        b_all = v
                if bg_iou <= b_loc and b_loc <= fg_iou:
                    code = 2
                    jt = j_loc
                elif b_cls >= fg_iou:
                    code = 1
                    jt = j_cls
                elif b_dup >= fg_iou:
                    code = 4
                    jt = j_dup
                elif b_all <= bg_iou:
                    code = 5
                else:
                    code = 3
            det_error[i] = code
            det_target[i] = jt
            if (code == 1 or code == 2) and gt_matched[jt] < 0:
                gt_miss[jt] = 1
        # the fixable errors: per usable ground truth, the first of its highest scored errors
        for j in range(g0, g1):
            if gt_miss[j] == 0:
                continue
            best_i = -1
            for i in range(d0, d1):
                if det_status[i] != 1 and det_target[i] == j and (det_error[i] == 1 or det_error[i] == 2):
                    if best_i < 0 or det_score[best_i] < det_score[i]:
                        best_i = i
            det_fix[best_i] = 1
        for j in range(g0, g1):
            usable = gt_miss[j]
            gt_miss[j] = 1 if gt_ignore[j] == 0 and gt_matched[j] < 0 and usable == 0 else 0


# ----------------------------------------------------------------------------------------------
# TIDE's AP: 101-point interpolated precision per class


def _tide_ap(tp_sorted, offsets, npos, backend):
    """AP (fraction) of every group of ``offsets``: ``tp_sorted`` flags by decreasing score, ``npos`` per group."""
    out = np.zeros(offsets.shape[0] - 1, dtype=np.float64)
    if backend == "numba":
        _tide_ap_kernel(tp_sorted, offsets, npos, out)
    else:
        _tide_ap_reference(tp_sorted, offsets, npos, out)
    return out


def _tide_ap_reference(tp_sorted, offsets, npos, out):
    bars = np.arange(_N_BARS, dtype=np.float64) / (_N_BARS - 1)
    for g in range(offsets.shape[0] - 1):
        if npos[g] == 0:
            out[g] = 0.0
            continue
        tp = tp_sorted[offsets[g]:offsets[g + 1]] != 0
        n_true = np.cumsum(tp)
        precision = n_true / np.arange(1, tp.shape[0] + 1)
        recall = n_true / npos[g]
        precision = np.maximum.accumulate(precision[::-1])[::-1]  # remove the dips
        idx = np.searchsorted(recall, bars, side="left")
        y = np.zeros(_N_BARS)
        reached = idx < tp.shape[0]
        y[reached] = precision[idx[reached]]
        out[g] = sum(y.tolist()) / _N_BARS  # left to right, as tidecv sums its bars


@kernel
def _tide_ap_kernel(tp_sorted, offsets, npos, out):
    n_bars = 101
    for g in range(offsets.shape[0] - 1):
        out[g] = 0.0
        if npos[g] == 0:
            continue
        lo = offsets[g]
        n = offsets[g + 1] - lo
        precision = np.empty(n, dtype=np.float64)
        recall = np.empty(n, dtype=np.float64)
        n_true = 0
        for k in range(n):
            if tp_sorted[lo + k] != 0:
                n_true += 1
            precision[k] = n_true / (k + 1)
            recall[k] = n_true / npos[g]
        for k in range(n - 1, 0, -1):
            if precision[k] > precision[k - 1]:
                precision[k - 1] = precision[k]
        total = 0.0
        k = 0
        for b in range(n_bars):
            x = b / (n_bars - 1)
            while k < n and recall[k] < x:
                k += 1
            if k < n:
                total += precision[k]
        out[g] = total / n_bars
