"""Why two mAP protocols disagree: ``explain_gap`` switches their differences one at a time.

``explain_gap(predictions, ground_truths, from_protocol="ultralytics", to_protocol="coco")``
starts from the options of ``from_protocol`` (``detmetrics._inputs.PROTOCOLS``) and walks to
those of ``to_protocol`` along ``SWITCH_ORDER``, changing one switch per step and recomputing
mAP (IoU 0.50:0.95, area "all", the largest ``max_detections``) after each.  Each step
reports the switch, what it changes, ``map_after``, ``delta`` and counts behind it; the deltas
telescope, so they add up to ``to_map - from_map``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace

import numpy as np

from ._inputs import PROTOCOLS, flatten, parse_options, resolve_categories
from ._validate import check_choice

__all__ = ["SWITCH_ORDER", "GapStep", "GapReport", "explain_gap"]

#: the order in which ``explain_gap`` flips the switches (data first, then matching, then integration)
SWITCH_ORDER = ("crowd", "difficult", "image_budget", "max_detections", "box_plus_one", "iou_test", "matching",
                "interpolation")

_WHAT = {
    "crowd": "crowd ground truths: {a} -> {b}",
    "difficult": "difficult ground truths: {a} -> {b}",
    "image_budget": "detections kept per image across classes: {a} -> {b}",
    "max_detections": "detections kept per image and class: {a} -> {b}",
    "box_plus_one": "inclusive pixel boxes (w = x2 - x1 + 1): {a} -> {b}",
    "iou_test": "IoU test: iou {a} t -> iou {b} t",
    "matching": "matching rule: {a} -> {b}",
    "interpolation": "AP integration: {a} -> {b}",
}


@dataclass(frozen=True)
class GapStep:
    """One switch flipped: its name, a one-line description, mAP after it, the change and counts."""

    switch: str
    what: str
    map_after: float
    delta: float
    counts: dict = field(default_factory=dict)


@dataclass(frozen=True)
class GapReport:
    """``explain_gap``'s result; ``steps`` lead from ``from_map`` to ``to_map``."""

    from_protocol: str
    to_protocol: str
    from_map: float
    to_map: float
    steps: tuple

    def to_dict(self) -> dict:
        return {"from_protocol": self.from_protocol, "to_protocol": self.to_protocol, "from_map": self.from_map,
                "to_map": self.to_map,
                "steps": [{"switch": s.switch, "what": s.what, "map_after": s.map_after, "delta": s.delta,
                           "counts": dict(s.counts)} for s in self.steps]}

    def table(self) -> str:
        """The report as a plain-text table: per step the mAP after it, its delta, the true and false
        positives (detection x IoU threshold pairs, area "all") before -> after, and its own counts."""
        rows = [("step", "switch", "mAP after", "delta", "TP", "FP", "counts", "what")]
        rows.append(("0", self.from_protocol, f"{self.from_map:.4f}", "", "", "", "", "starting protocol"))
        for i, s in enumerate(self.steps, 1):
            c = s.counts
            own = ", ".join(f"{k}={v}" for k, v in c.items() if k not in _GENERIC_COUNTS)
            rows.append((str(i), s.switch, f"{s.map_after:.4f}", f"{s.delta:+.4f}",
                         _before_after(c["tp_before"], c["tp_after"]), _before_after(c["fp_before"], c["fp_after"]),
                         own, s.what))
        rows.append(("", self.to_protocol, f"{self.to_map:.4f}", f"{self.to_map - self.from_map:+.4f}", "", "", "",
                     "total"))
        n = len(rows[0]) - 1
        widths = [max(len(r[c]) for r in rows) for c in range(n)]
        lines = ["  ".join(r[c].ljust(widths[c]) for c in range(n)) + "  " + r[n] for r in rows]
        lines.insert(1, "-" * max(len(line) for line in lines))
        return "\n".join(line.rstrip() for line in lines)


#: counts every step has (the table shows them as the TP / FP columns)
_GENERIC_COUNTS = ("tp_before", "tp_after", "fp_before", "fp_after", "changed", "gained", "lost")


def _before_after(a: int, b: int) -> str:
    return str(a) if a == b else f"{a} -> {b}"


def _evaluate(flat, opts, cats):
    from .ap import accumulate
    from .matching import match
    from .result import EvaluationResult

    state = match(flat, opts, cats)
    result = EvaluationResult.from_accumulation(accumulate(state, opts, cats), opts)
    return result.map, state


def _codes(state):
    """Per detection and threshold (area "all"): 1 true positive, 2 false positive, 0 ignored (sorted)."""
    return state.sorted().det_code[:, 0, :]


def _pairs_at_threshold(flat, opts, cats):
    """Detection-ground truth pairs (same image and class) whose IoU equals an IoU threshold exactly:
    the only ones ``>=`` and ``>`` tell apart (counted once per threshold they sit on)."""
    from .matching import _IOU_BLOCKS, _group, apply_protocol

    flat = apply_protocol(flat, opts)
    n_img = max(int(flat.n_images), 1)
    order, _, gt_order, det_offsets, gt_offsets = _group(
        np.searchsorted(cats, flat.det_label), flat.det_img, flat.det_score, np.searchsorted(cats, flat.gt_label),
        flat.gt_img, max(cats.shape[0], 1), n_img, opts.max_detections[-1], "numpy")[:5]
    iou, _ = _IOU_BLOCKS[flat.kind](np.take(flat.det_box, order, axis=0), np.take(flat.gt_box, gt_order, axis=0),
                                    np.ascontiguousarray(flat.gt_crowd[gt_order]), det_offsets, gt_offsets, "numpy")
    return int(sum(np.count_nonzero(iou == t) for t in opts.iou_thresholds.tolist()))


def _step_counts(switch, flat, cats, before, after, opts_before, opts_after):
    from .matching import apply_protocol

    counts: dict = {}
    cb, ca = _codes(before), _codes(after)
    same = cb.shape == ca.shape  # the same detections, in the same order: outcomes compare one to one
    if switch in ("crowd", "difficult"):
        flags = flat.gt_crowd if switch == "crowd" else flat.gt_difficult & 1
        counts[f"{switch}_ground_truths"] = int(np.count_nonzero(flags))
        if same:  # detections a flagged region absorbs (ignored) on one side of the step and not the other
            counts[f"detections_on_{switch}"] = int(np.count_nonzero(np.any((cb == 0) != (ca == 0), axis=1)))
    if switch == "image_budget":
        n_before = apply_protocol(flat, opts_before).det_score.shape[0]
        n_after = apply_protocol(flat, opts_after).det_score.shape[0]
        counts["detections_cut"] = abs(n_before - n_after)
    if switch == "max_detections":  # the matching state holds the detections inside the cap
        counts["detections_cut"] = abs(int(before.det_code.shape[0]) - int(after.det_code.shape[0]))
    if switch == "iou_test" and flat.kind in ("axis", "rotated", "quad"):
        counts["pairs_at_threshold"] = _pairs_at_threshold(flat, opts_after, cats)
    counts["tp_before"], counts["tp_after"] = int(np.count_nonzero(cb == 1)), int(np.count_nonzero(ca == 1))
    counts["fp_before"], counts["fp_after"] = int(np.count_nonzero(cb == 2)), int(np.count_nonzero(ca == 2))
    if same:  # (detection, threshold) pairs whose outcome moved; gained: became a true positive, lost: stopped
        counts["changed"] = int(np.count_nonzero(cb != ca))
        counts["gained"] = int(np.count_nonzero((ca == 1) & (cb != 1)))
        counts["lost"] = int(np.count_nonzero((cb == 1) & (ca != 1)))
    return counts


def explain_gap(predictions, ground_truths, *, from_protocol="ultralytics", to_protocol="coco", box_format="xyxy",
                iou_thresholds=None, backend="auto", category_ids=None, iou_type="bbox", sigmas=None) -> GapReport:
    """Explain the mAP difference between two protocols one switch at a time.

    Parameters
    ----------
    predictions, ground_truths : list of dict
        As ``detmetrics.mean_ap`` (axis-aligned, rotated boxes or quads, masks or
        keypoints with ``iou_type``; ``iscrowd`` and ``difficult`` flags as bool or 0/1).
    from_protocol, to_protocol : {"coco", "voc07", "voc12", "dota", "ultralytics"}
        The VOC presets' +1-pixel boxes need axis-aligned boxes: on rotated boxes,
        quads, masks or keypoints a path from or to ``"voc07"`` / ``"voc12"`` raises
        ``ValueError``.
    box_format, iou_thresholds, backend, category_ids, iou_type, sigmas
        As ``detmetrics.mean_ap``; shared by every step.

    Returns
    -------
    GapReport
        ``from_map``, ``to_map`` (each equal to ``mean_ap(..., protocol=...).map``) and
        ``steps`` (``GapStep``), one per switch on which the presets differ, in
        ``SWITCH_ORDER``; ``counts`` per step:

        - ``crowd_ground_truths`` / ``difficult_ground_truths``: the flagged ground
          truths, and ``detections_on_crowd`` / ``detections_on_difficult``: the
          detections such a region absorbs (ignored) on one side of the step only;
        - ``detections_cut``: detections the per-image budget or the per-class
          ``max_detections`` cut (their steps);
        - ``pairs_at_threshold`` (the ``iou_test`` step, boxes): detection-ground
          truth pairs whose IoU equals an IoU threshold exactly, the only ones
          ``>=`` and ``>`` tell apart;
        - every step: ``tp_before`` / ``tp_after``, ``fp_before`` / ``fp_after``
          (detection x IoU threshold pairs, area "all"), and, where the step keeps
          the same detections, ``changed`` (pairs whose outcome moved),
          ``gained`` (became a true positive) and ``lost`` (stopped being one).
          A true positive that moves to another ground truth of equal standing is
          not an outcome change and is not counted.

        The deltas add up to ``to_map - from_map`` (``math.fsum``, to rounding).

    Examples
    --------
    >>> preds = [{"boxes": [[0, 0, 10, 10]], "scores": [0.9], "labels": [0]}]
    >>> gts = [{"boxes": [[0, 0, 10, 10]], "labels": [0]}]
    >>> report = explain_gap(preds, gts, from_protocol="ultralytics", to_protocol="coco")
    >>> [s.switch for s in report.steps]
    ['crowd', 'difficult', 'image_budget', 'max_detections', 'matching', 'interpolation']
    >>> round(report.from_map, 4), round(report.to_map, 4)
    (0.995, 1.0)
    """
    check_choice(from_protocol, "from_protocol", tuple(PROTOCOLS))
    check_choice(to_protocol, "to_protocol", tuple(PROTOCOLS))
    start = parse_options(box_format, iou_thresholds, backend=backend, protocol=from_protocol, iou_type=iou_type,
                          sigmas=sigmas)
    goal = parse_options(box_format, iou_thresholds, backend=backend, protocol=to_protocol, iou_type=iou_type,
                         sigmas=sigmas)
    flat = flatten(predictions, ground_truths, box_format, iou_type, start.sigmas, start.backend)
    if flat.kind != "axis" and (start.box_plus_one or goal.box_plus_one):
        raise ValueError(f"from_protocol={from_protocol!r} / to_protocol={to_protocol!r} use +1-pixel boxes, "
                         f"which apply to axis-aligned boxes only (got {flat.kind!r} data); use 'dota' for "
                         "rotated boxes")
    cats = resolve_categories(flat, category_ids)
    current = start
    from_map, state = _evaluate(flat, current, cats)
    steps = []
    previous = from_map
    for switch in SWITCH_ORDER:
        a, b = getattr(current, switch), getattr(goal, switch)
        if a == b:
            continue
        following = replace(current, **{switch: b})
        map_after, new_state = _evaluate(flat, following, cats)
        counts = _step_counts(switch, flat, cats, state, new_state, current, following)
        steps.append(GapStep(switch, _WHAT[switch].format(a=_show(a), b=_show(b)), map_after, map_after - previous,
                             counts))
        previous, state, current = map_after, new_state, following
    to_map = previous
    assert math.isclose(math.fsum(s.delta for s in steps), to_map - from_map, rel_tol=0, abs_tol=1e-12)
    return GapReport(from_protocol, to_protocol, from_map, to_map, tuple(steps))


def _show(value):
    if isinstance(value, tuple):
        return "all" if value[-1] >= 2**62 else str(value[-1])
    if value is None:
        return "all"
    return str(value)
