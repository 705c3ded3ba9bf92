"""Evaluation stage 4 of 4: ``EvaluationResult``, which reads the accumulated arrays.

Built by ``EvaluationResult.from_accumulation`` from ``detmetrics.ap``'s
``Accumulation``; the curves (``pr_curve``, ``best_f1``,
``precision_recall_f1``) read the same arrays, with no second copy of the
matching state.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .ap import Accumulation

__all__ = ["EvaluationResult"]


def _real(value, name: str) -> float:
    """A finite real number (NaN would silently select nothing), else a named error."""
    from ._validate import check_positive

    return check_positive(value, name, allow_zero=True)


_STAT_NAMES = ("map", "map50", "map75", "map_small", "map_medium", "map_large",
               "mar_1", "mar_10", "mar_100", "mar_small", "mar_medium", "mar_large")
# pycocotools' ``_summarizeKps``: 10 stats at the largest maxDets (20), no "small" range
_KPT_STAT_NAMES = ("map", "map50", "map75", "map_medium", "map_large",
                   "mar", "mar50", "mar75", "mar_medium", "mar_large")
# (ap?, iou, area) of each keypoints stat
_KPT_ROWS = ((1, None, "all"), (1, 0.5, "all"), (1, 0.75, "all"), (1, None, "medium"), (1, None, "large"),
             (0, None, "all"), (0, 0.5, "all"), (0, 0.75, "all"), (0, None, "medium"), (0, None, "large"))


@dataclass
class EvaluationResult:
    """Everything COCOeval's ``accumulate``/``summarize`` produce, plus curves and per-class numbers.

    Attributes
    ----------
    stats : ndarray of shape (12,)
        COCOeval's order: AP@[.5:.95], AP50, AP75, AP small/medium/large (at
        the largest ``max_detections``), AR at ``max_detections[0]``, ``[1]``,
        ``[2]``, AR small/medium/large (at the largest).  -1 when undefined
        (no ground truth, or the threshold/area range is not evaluated).
        Also available by name (``stat_names``): ``map``, ``map50``, ``map75``,
        ``map_small``, ``map_medium``, ``map_large``, ``mar_<m>`` for each of
        the first three ``max_detections`` (``mar_1``, ``mar_10``, ``mar_100``
        with COCO's), ``mar_small``, ``mar_medium``, ``mar_large``.
    precision, scores : ndarray of shape (T, R, K, A, M)
        COCOeval's ``eval["precision"]`` / ``eval["scores"]`` (-1 where a
        category has no ground truth).
    recall : ndarray of shape (T, K, A, M)
    ap : ndarray of shape (T, K, A, M)
        AP per threshold/category/area/max_detections (the mean over R of
        ``precision`` for ``"coco"``/``"voc11"``, the all-point area for
        ``"voc"``), -1 where undefined.
    category_ids : list of int
        Sorted; the K axis.
    per_class : dict
        ``category_id -> {"ap", "ap50", "ap75", "ap_small", "ap_medium",
        "ap_large", "ar", "n_gt", "n_det"}`` (-1 for a category without ground
        truth); ``ar`` is the recall at the largest ``max_detections``, area
        "all", averaged over thresholds.
    iou_thresholds, recall_thresholds, max_detections, area_ranges, interpolation, matching, iou_type
        The options the result was computed with.

    For ``iou_type="keypoints"`` ``stats`` has pycocotools' 10 keypoint
    statistics (``_summarizeKps``, all at the largest ``max_detections``):
    ``map``, ``map50``, ``map75``, ``map_medium``, ``map_large``, ``mar``,
    ``mar50``, ``mar75``, ``mar_medium``, ``mar_large``; ``stat_names`` lists
    the names of either layout.
    """

    category_ids: list
    iou_thresholds: np.ndarray
    recall_thresholds: np.ndarray
    max_detections: tuple
    area_ranges: dict
    interpolation: str
    precision: np.ndarray
    recall: np.ndarray
    scores: np.ndarray
    ap: np.ndarray
    n_gt: np.ndarray
    n_det: np.ndarray
    category_names: dict = field(default_factory=dict)
    matching: str = "coco"
    iou_type: str = "bbox"
    _acc: Accumulation | None = field(default=None, repr=False)
    stats: np.ndarray = field(init=False)

    @classmethod
    def from_accumulation(cls, acc: Accumulation, opts, category_names=None) -> "EvaluationResult":
        """The result of evaluation stage 3 (``detmetrics.ap.accumulate``) under the options ``opts``."""
        a_all = list(opts.area_ranges).index("all")
        return cls(
            category_ids=[int(c) for c in acc.category_ids],
            iou_thresholds=opts.iou_thresholds.copy(),
            recall_thresholds=acc.recall_thresholds,
            max_detections=tuple(opts.max_detections),
            area_ranges=dict(opts.area_ranges),
            interpolation=opts.interpolation,
            precision=acc.precision, recall=acc.recall, scores=acc.scores, ap=acc.ap,
            n_gt=acc.n_gt[:, a_all].copy(), n_det=np.asarray(acc.kept(), dtype=np.int64).copy(),
            category_names=dict(category_names or {}),
            matching=opts.matching,
            iou_type=getattr(opts, "iou_type", "bbox"),
            _acc=acc,
        )

    def __post_init__(self):
        self.stats = self._stats()

    def __repr__(self) -> str:
        return (f"EvaluationResult(map={self.map:.4f}, map50={self.map50:.4f}, map75={self.map75:.4f}, "
                f"{self.stat_names[self._recall_index]}={self.stats[self._recall_index]:.4f}, categories={len(self.category_ids)}, "
                f"interpolation={self.interpolation!r})")

    @property
    def _recall_index(self) -> int:
        return 5 if self.iou_type == "keypoints" else 8

    # ---------------------------------------------------------------- statistics
    def _mean(self, ap: bool, iou=None, area="all", m=-1) -> float:
        area_index = [i for i, name in enumerate(self.area_ranges) if name == area]
        if ap:
            s = self.ap if self.interpolation in ("voc", "ultralytics") else self.precision
        else:
            s = self.recall
        if iou is not None:
            s = s[np.where(iou == self.iou_thresholds)[0]]
        s = s[..., area_index, m]
        valid = s[s > -1]
        return -1.0 if valid.size == 0 else float(np.mean(valid))

    def _stats(self) -> np.ndarray:
        n_m = len(self.max_detections)
        last = n_m - 1
        if self.iou_type == "keypoints":
            return np.array([self._mean(bool(ap), iou=iou, area=area, m=last) for ap, iou, area in _KPT_ROWS],
                            dtype=np.float64)
        return np.array([
            self._mean(True, m=last),
            self._mean(True, iou=0.5, m=last),
            self._mean(True, iou=0.75, m=last),
            self._mean(True, area="small", m=last),
            self._mean(True, area="medium", m=last),
            self._mean(True, area="large", m=last),
            self._mean(False, m=0),
            self._mean(False, m=min(1, last)),
            self._mean(False, m=min(2, last)),
            self._mean(False, area="small", m=last),
            self._mean(False, area="medium", m=last),
            self._mean(False, area="large", m=last),
        ], dtype=np.float64)

    @property
    def stat_names(self) -> tuple:
        """The names of ``stats``, the recall fields named by their actual budget.

        With ``max_detections=(1, 10, 300)`` (ultralytics' budget) they are
        ``mar_1, mar_10, mar_300``: ``mar_100`` does not exist then, rather than
        silently meaning AR@300.  Keypoints have 10 (``map`` ... ``mar_large``,
        at their one budget).
        """
        if self.__dict__.get("iou_type") == "keypoints":
            return _KPT_STAT_NAMES
        md = self.max_detections
        last = len(md) - 1
        return _STAT_NAMES[:6] + (f"mar_{md[0]}", f"mar_{md[min(1, last)]}", f"mar_{md[min(2, last)]}") + _STAT_NAMES[9:]

    def __getattr__(self, name):
        stats = self.__dict__.get("stats")
        if stats is not None and name.startswith(("map", "mar")):
            names = self.stat_names
            if name in names:
                return float(stats[names.index(name)])
            if name.startswith("mar_") and name[4:].isdigit() and self.iou_type != "keypoints":
                recall_names = ", ".join(dict.fromkeys(names[6:9]))
                raise AttributeError(f"{name} was not evaluated: max_detections={self.max_detections} gives "
                                     f"{recall_names}")
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")

    @property
    def per_class(self) -> dict:
        names = list(self.area_ranges)
        a_all = names.index("all")
        out = {}
        thr = self.iou_thresholds

        def mean(values):
            values = values[values > -1]
            return float(np.mean(values)) if values.size else -1.0

        def at(k, iou=None, area="all"):
            if area not in names:
                return -1.0
            a = names.index(area)
            rows = self.ap[:, k, a, -1] if iou is None else self.ap[np.where(iou == thr)[0], k, a, -1]
            return mean(rows)

        for k, cat in enumerate(self.category_ids):
            out[cat] = {
                "ap": at(k), "ap50": at(k, 0.5), "ap75": at(k, 0.75),
                "ap_small": at(k, area="small"), "ap_medium": at(k, area="medium"), "ap_large": at(k, area="large"),
                "ar": mean(self.recall[:, k, a_all, -1]),
                "n_gt": int(self.n_gt[k]), "n_det": int(self.n_det[k]),
            }
            if cat in self.category_names:
                out[cat]["name"] = self.category_names[cat]
        return out

    # ---------------------------------------------------------------- text / dict
    def summary(self) -> str:
        """The 12 lines pycocotools' ``summarize()`` prints (``maxDets`` as used here)."""
        t = self.iou_thresholds
        md = self.max_detections
        last = len(md) - 1
        rows = [
            (1, None, "all", md[last]), (1, 0.5, "all", md[last]), (1, 0.75, "all", md[last]),
            (1, None, "small", md[last]), (1, None, "medium", md[last]), (1, None, "large", md[last]),
            (0, None, "all", md[0]), (0, None, "all", md[min(1, last)]), (0, None, "all", md[min(2, last)]),
            (0, None, "small", md[last]), (0, None, "medium", md[last]), (0, None, "large", md[last]),
        ]
        if self.iou_type == "keypoints":
            rows = [(ap, iou, area, md[last]) for ap, iou, area in _KPT_ROWS]
        lines = []
        fmt = " {:<18} {} @[ IoU={:<9} | area={:>6s} | maxDets={:>3} ] = {:0.3f}"
        for (ap, iou, area, m), value in zip(rows, self.stats):
            title = "Average Precision" if ap else "Average Recall"
            kind = "(AP)" if ap else "(AR)"
            iou_text = f"{t[0]:0.2f}:{t[-1]:0.2f}" if iou is None else f"{iou:0.2f}"
            budget = "all" if m >= 2**62 else m  # the devkits' and ultralytics' presets keep every detection
            lines.append(fmt.format(title, kind, iou_text, area, budget, value))
        return "\n".join(lines)

    def to_dict(self) -> dict:
        """JSON-ready dict: ``stats``, the named fields, options and ``per_class`` (string keys)."""
        out: dict = {"stats": [float(v) for v in self.stats], "stat_names": list(self.stat_names)}
        for name in self.stat_names:
            out[name] = getattr(self, name)
        out.update(
            category_ids=list(self.category_ids),
            iou_thresholds=[float(v) for v in self.iou_thresholds],
            max_detections=list(self.max_detections),
            area_ranges={k: [float(v[0]), float(v[1])] for k, v in self.area_ranges.items()},
            interpolation=self.interpolation,
            matching=self.matching,
            iou_type=self.iou_type,
            per_class={str(k): v for k, v in self.per_class.items()},
        )
        return out

    def per_class_table(self, class_names=None, *, ground_truth=None, iou_threshold=0.5, conf=None) -> list:
        """The per-class table ``detmetrics eval`` prints, as rows; see ``detmetrics.report.per_class_table``."""
        from .report import per_class_table

        return per_class_table(self, class_names, ground_truth=ground_truth, iou_threshold=iou_threshold, conf=conf)

    def to_pandas(self, class_names=None, *, ground_truth=None, iou_threshold=0.5, conf=None):
        """The per-class table as a ``pandas.DataFrame`` (pandas is optional); see ``detmetrics.report``."""
        from .report import to_pandas

        return to_pandas(self, class_names, ground_truth=ground_truth, iou_threshold=iou_threshold, conf=conf)

    # ---------------------------------------------------------------- curves / F1
    def _threshold_index(self, iou_threshold) -> int:
        value = _real(iou_threshold, "iou_threshold")
        hits = np.flatnonzero(np.isclose(self.iou_thresholds, value, rtol=0, atol=1e-9))
        if hits.size == 0:
            raise ValueError(f"iou_threshold must be one of the evaluated thresholds "
                             f"{[round(float(v), 4) for v in self.iou_thresholds]}; got {iou_threshold!r}")
        return int(hits[0])

    def _curve_data(self, category_id, t):
        """(scores, tp, fp, n_gt) of the non-ignored detections by decreasing score, area "all"."""
        acc = self._acc
        if category_id is None:
            # categories in turn, then a stable sort on -score
            index = acc.order if acc.order is not None else np.concatenate(
                [acc.category_rows(k) for k in range(len(self.category_ids))] or [np.zeros(0, np.int64)])
            index = index[np.argsort(-acc.det_score[index], kind="stable")]
            n_gt = int(self.n_gt.sum())
        else:
            if isinstance(category_id, (bool, np.bool_)) or not isinstance(category_id, (int, np.integer)):
                raise TypeError(f"category_id must be an integer (one of category_ids) or None; "
                                f"got {type(category_id).__name__}")
            if category_id not in self.category_ids:
                raise ValueError(f"category_id {category_id!r} is not among the evaluated categories")
            k = self.category_ids.index(category_id)
            index = acc.category_rows(k)
            n_gt = int(self.n_gt[k])
        code = acc.codes(index, list(self.area_ranges).index("all"), t)
        scores, tp, fp = acc.det_score[index], code == 1, code == 2
        keep = tp | fp  # ignored detections (crowd matches, outside the range) do not count
        return scores[keep], tp[keep], fp[keep], n_gt

    @staticmethod
    def _prf(tp_cum, fp_cum, n_gt):
        tp_cum = tp_cum.astype(np.float64)
        fp_cum = fp_cum.astype(np.float64)
        denom = tp_cum + fp_cum
        precision = np.divide(tp_cum, denom, out=np.zeros_like(tp_cum), where=denom > 0)
        recall = tp_cum / n_gt if n_gt > 0 else np.zeros_like(tp_cum)
        s = precision + recall
        f1 = np.divide(2 * precision * recall, s, out=np.zeros_like(s), where=s > 0)
        return precision, recall, f1

    def pr_curve(self, category_id=None, *, iou_threshold=0.5) -> dict:
        """Raw precision-recall curve: one point per (non-ignored) detection, by decreasing score.

        Area "all", the largest ``max_detections``; ``category_id=None`` pools
        every category (detections of categories without ground truth are false
        positives there).  Returns arrays ``scores``, ``precision``, ``recall``,
        ``f1`` (recall is 0 when there is no ground truth).
        """
        t = self._threshold_index(iou_threshold)
        scores, tp, fp, n_gt = self._curve_data(category_id, t)
        precision, recall, f1 = self._prf(np.cumsum(tp), np.cumsum(fp), n_gt)
        return {"scores": scores.copy(), "precision": precision, "recall": recall, "f1": f1}

    def _per_category(self, fn, iou_threshold):
        t = self._threshold_index(iou_threshold)
        out = {}
        for k, cat in enumerate(self.category_ids):
            if self.n_gt[k] > 0:
                out[cat] = fn(*self._curve_data(cat, t))
        out["all"] = fn(*self._curve_data(None, t))
        return out

    def best_f1(self, *, iou_threshold=0.5) -> dict:
        """The score threshold maximising F1, per category (with ground truth) and pooled (``"all"``).

        Only thresholds at the end of a run of equal scores are candidates
        (a threshold keeps every detection with ``score >= threshold``); ties
        in F1 go to the higher threshold.  Without detections the entry is
        ``{"score_threshold": nan, "precision": 0, "recall": 0, "f1": 0}``.
        """
        def best(scores, tp, fp, n_gt):
            if scores.size == 0:
                return {"score_threshold": float("nan"), "precision": 0.0, "recall": 0.0, "f1": 0.0}
            precision, recall, f1 = self._prf(np.cumsum(tp), np.cumsum(fp), n_gt)
            ends = np.flatnonzero(np.append(scores[1:] != scores[:-1], True))
            i = ends[int(np.argmax(f1[ends]))]
            return {"score_threshold": float(scores[i]), "precision": float(precision[i]),
                    "recall": float(recall[i]), "f1": float(f1[i])}

        return self._per_category(best, iou_threshold)

    def ultralytics_operating_point(self, *, iou_threshold=0.5) -> dict:
        """Precision, recall and F1 per category as ultralytics 8.4's ``ap_per_class`` reports them.

        Per category (with ground truth) the precision and recall curves are
        interpolated on the confidence grid ``np.linspace(0, 1, 1000)``
        (``np.interp`` over ``-score``, precision 1 and recall 0 above the top
        score); the grid point chosen maximises the mean F1 over categories
        after ultralytics' box filter (``smooth(f1, 0.1)``); a category without
        detections has zero curves.  Returns ``{"confidence", "precision",
        "recall", "f1"}`` (the last three dicts category -> value) plus the
        means ``"mp"``, ``"mr"`` (ultralytics' P and R columns).  Meant for
        ``protocol="ultralytics"``; computed on whatever matching produced.
        """
        t = self._threshold_index(iou_threshold)
        x = np.linspace(0, 1, 1000)
        cats = [c for k, c in enumerate(self.category_ids) if self.n_gt[k] > 0]
        p_curve, r_curve = np.zeros((len(cats), x.size)), np.zeros((len(cats), x.size))
        for row, cat in enumerate(cats):
            scores, tp, fp, n_gt = self._curve_data(cat, t)
            if scores.size == 0:
                continue
            tpc, fpc = np.cumsum(tp).astype(np.float64), np.cumsum(fp).astype(np.float64)
            r_curve[row] = np.interp(-x, -scores, tpc / (n_gt + 1e-16), left=0)
            p_curve[row] = np.interp(-x, -scores, tpc / (tpc + fpc), left=1)
        f1 = 2 * p_curve * r_curve / (p_curve + r_curve + 1e-16)
        mean_f1 = f1.mean(0) if cats else np.zeros(x.size)
        nf = round(mean_f1.size * 0.1 * 2) // 2 + 1  # ultralytics' smooth(y, f=0.1): a box filter
        pad = np.ones(nf // 2)
        smoothed = np.convolve(np.concatenate((pad * mean_f1[0], mean_f1, pad * mean_f1[-1])), np.ones(nf) / nf,
                               mode="valid")
        i = int(smoothed.argmax())
        return {"confidence": float(x[i]),
                "precision": {c: float(p_curve[r, i]) for r, c in enumerate(cats)},
                "recall": {c: float(r_curve[r, i]) for r, c in enumerate(cats)},
                "f1": {c: float(f1[r, i]) for r, c in enumerate(cats)},
                "mp": float(p_curve[:, i].mean()) if cats else 0.0,
                "mr": float(r_curve[:, i].mean()) if cats else 0.0}

    def precision_recall_f1(self, score_threshold, *, iou_threshold=0.5) -> dict:
        """Precision, recall and F1 of the detections with ``score >= score_threshold``.

        Same structure as ``best_f1``; precision is 0 when no detection
        passes the threshold.
        """
        threshold = _real(score_threshold, "score_threshold")

        def at(scores, tp, fp, n_gt):
            keep = scores >= threshold
            precision, recall, f1 = self._prf(np.array([tp[keep].sum()]), np.array([fp[keep].sum()]), n_gt)
            return {"score_threshold": threshold, "precision": float(precision[0]),
                    "recall": float(recall[0]), "f1": float(f1[0])}

        return self._per_category(at, iou_threshold)
