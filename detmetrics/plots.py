"""Figures for an evaluation: PR curves, F1 / precision / recall vs confidence, confusion matrix.

Needs matplotlib (``pip install 'detmetrics[plot]'``), imported only inside
these functions.  They draw on a new ``matplotlib.figure.Figure`` with the
Agg canvas -- never through ``pyplot`` -- so they work headless and leave
the caller's matplotlib backend alone.  Each returns the figure and saves it
when ``path`` is given.

* ``plot_pr_curves``: COCO's interpolated precision at the 101 recall
  points (the curve whose mean is AP), per class and the mean over classes,
  at one IoU threshold or averaged over all of them (AP50 vs AP50:95).
* ``plot_metric_vs_confidence``: F1, precision or recall of the
  detections with ``score >= threshold`` as the threshold sweeps 0..1 (raw,
  un-interpolated counts at IoU 0.5), per class and the mean; the mean F1
  curve's peak is the confidence to deploy with.
* ``plot_confusion_matrix``: ``detmetrics.confusion.confusion_matrix``
  with its background row and column, counts or column-normalized.
* ``plot_error_breakdown``: ``detmetrics.error_breakdown``'s dAP per error
  type (TIDE's six, then its two special errors) as horizontal bars.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

__all__ = ["plot_pr_curves", "plot_metric_vs_confidence", "plot_confusion_matrix", "plot_error_breakdown", "plot_all"]


def _figure(size=(7.0, 5.0)):
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError:
        raise ImportError("plots need matplotlib: pip install 'detmetrics[plot]'") from None
    fig = Figure(figsize=size, dpi=100, layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def _save(fig, path):
    if path is not None:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(path)
    return fig


def _names(result, class_names):
    class_names = class_names or {}
    return {c: str(class_names.get(c, c)) for c in result.category_ids}


def _has_gt(result, category) -> bool:
    return int(result.per_class.get(category, {}).get("n_gt", 0)) > 0


def plot_pr_curves(result, class_names=None, *, iou_threshold=0.5, path=None, max_legend=20):
    """Precision-recall curves per class and their mean.

    Parameters
    ----------
    result : EvaluationResult
    class_names : dict, optional
        Category id -> name for the legend.
    iou_threshold : float or None, default=0.5
        One of ``result.iou_thresholds``, or ``None`` for the mean over all
        of them (the curve behind AP50:95).
    path : str or Path, optional
        Where to save the PNG.

    Returns
    -------
    matplotlib.figure.Figure
    """
    names = _names(result, class_names)
    precision = np.asarray(result.precision, dtype=np.float64)  # [T, R, K, A, M]
    recall_points = np.asarray(result.recall_thresholds, dtype=np.float64)
    a_all = list(result.area_ranges).index("all")
    if iou_threshold is None:
        curves = precision[:, :, :, a_all, -1]
        label = f"IoU {result.iou_thresholds[0]:.2f}:{result.iou_thresholds[-1]:.2f}"
    else:
        t = _iou_index(result, iou_threshold)
        curves = precision[t : t + 1, :, :, a_all, -1]
        label = f"IoU {iou_threshold:.2f}"
    fig = _figure()
    ax = fig.add_subplot()
    means = []
    shown = 0
    for k, category in enumerate(result.category_ids):
        if not _has_gt(result, category):
            continue
        curve = curves[:, :, k]
        curve = np.where(curve < 0, 0.0, curve).mean(axis=0)  # -1 (recall never reached) plots as 0
        means.append(curve)
        ap = result.per_class[category]["ap50" if iou_threshold == 0.5 else "ap"]
        if iou_threshold not in (None, 0.5):
            ap = float(np.mean(curve))
        if shown < max_legend:
            ax.plot(recall_points, curve, linewidth=1, label=f"{names[category]} {ap:.3f}")
            shown += 1
        else:
            ax.plot(recall_points, curve, linewidth=1, color="grey", alpha=0.4)
    if means:
        mean = np.mean(means, axis=0)
        ax.plot(recall_points, mean, linewidth=3, color="blue", label=f"all classes {np.mean(mean):.3f}")
    protocol = {"coco": "COCO 101-point", "voc11": "VOC 11-point", "voc": "all-point"}.get(
        getattr(result, "interpolation", "coco"), str(getattr(result, "interpolation", "")))
    ax.set(xlabel="Recall", ylabel="Precision", xlim=(0, 1), ylim=(0, 1.02),
           title=f"Precision-recall ({label}, {protocol})")
    ax.grid(alpha=0.3)
    if means:
        ax.legend(loc="lower left", fontsize="small")
    return _save(fig, path)


def _iou_index(result, iou_threshold) -> int:
    thresholds = np.asarray(result.iou_thresholds, dtype=np.float64)
    hits = np.flatnonzero(np.isclose(thresholds, iou_threshold, rtol=0, atol=1e-9))
    if hits.size == 0:
        raise ValueError(f"iou_threshold must be one of the evaluated thresholds {thresholds.tolist()}; "
                         f"got {iou_threshold!r}")
    return int(hits[0])


def _at_thresholds(curve, grid, metric):
    """Value of ``metric`` for detections with score >= each grid threshold."""
    scores = np.asarray(curve["scores"], dtype=np.float64)
    values = np.asarray(curve[metric], dtype=np.float64)
    # scores decrease: the detections kept at threshold x are the first n = #(scores >= x)
    n = np.searchsorted(-scores, -grid, side="right")
    empty = {"precision": 1.0, "recall": 0.0, "f1": 0.0}[metric]  # nothing kept: plot convention
    out = np.full(grid.shape, empty)
    has = n > 0
    out[has] = values[n[has] - 1]
    return out


def plot_metric_vs_confidence(result, metric="f1", class_names=None, *, iou_threshold=0.5, path=None,
                              max_legend=20):
    """F1, precision or recall vs the confidence threshold, per class and for all classes pooled.

    The "all classes" curve pools the detections of every class (the per-class
    table's ``all`` row); the F1 legend gives its best F1 and confidence
    exactly as ``result.best_f1()["all"]``.

    Parameters
    ----------
    result : EvaluationResult
    metric : {"f1", "precision", "recall"}
    class_names : dict, optional
    iou_threshold : float, default=0.5
    path : str or Path, optional

    Returns
    -------
    matplotlib.figure.Figure
    """
    if metric not in ("f1", "precision", "recall"):
        raise ValueError(f"metric must be one of 'f1', 'precision', 'recall'; got {metric!r}")
    names = _names(result, class_names)
    grid = np.linspace(0.0, 1.0, 1001)
    fig = _figure()
    ax = fig.add_subplot()
    curves = []
    shown = 0
    for category in result.category_ids:
        if not _has_gt(result, category):
            continue
        values = _at_thresholds(result.pr_curve(category, iou_threshold=iou_threshold), grid, metric)
        curves.append(values)
        kw = {"label": names[category]} if shown < max_legend else {"color": "grey", "alpha": 0.4}
        shown += 1
        ax.plot(grid, values, linewidth=1, **kw)
    if curves:
        # "all" pools the detections of every class, as the per-class table's "all" row and
        # EvaluationResult.best_f1()["all"] do: one definition (its exact best, not the grid's)
        pooled = _at_thresholds(result.pr_curve(None, iou_threshold=iou_threshold), grid, metric)
        label = "all classes"
        if metric == "f1":
            best = result.best_f1(iou_threshold=iou_threshold)["all"]
            label = f"all classes {best['f1']:.2f} at {best['score_threshold']:.3f}"
        ax.plot(grid, pooled, linewidth=3, color="blue", label=label)
        ax.legend(loc="lower left" if metric != "recall" else "upper right", fontsize="small")
    title = {"f1": "F1", "precision": "Precision", "recall": "Recall"}[metric]
    ax.set(xlabel="Confidence threshold", ylabel=title, xlim=(0, 1), ylim=(0, 1.02),
           title=f"{title} vs confidence (IoU {iou_threshold:.2f})")
    ax.grid(alpha=0.3)
    return _save(fig, path)


def plot_confusion_matrix(matrix, class_names=None, *, normalize=False, path=None):
    """Draw a ``(K + 1, K + 1)`` confusion matrix (rows predicted, columns true, last = background).

    Parameters
    ----------
    matrix : array-like of shape (K + 1, K + 1)
        From ``detmetrics.confusion.confusion_matrix``.
    class_names : sequence or dict, optional
        K names (dict: class index -> name).
    normalize : bool, default=False
        Divide each column by its sum (the fraction of each true class that
        went to each prediction).
    path : str or Path, optional

    Returns
    -------
    matplotlib.figure.Figure
    """
    m = np.asarray(matrix, dtype=np.float64)
    if m.ndim != 2 or m.shape[0] != m.shape[1] or m.shape[0] < 1:
        raise ValueError(f"matrix must be square (K + 1, K + 1); got shape {m.shape}")
    k = m.shape[0] - 1
    if class_names is None:
        labels = [str(i) for i in range(k)]
    elif isinstance(class_names, dict):
        labels = [str(class_names.get(i, i)) for i in range(k)]
    else:
        labels = [str(n) for n in class_names]
    if len(labels) != k:
        raise ValueError(f"class_names has {len(labels)} names but the matrix has {k} classes")
    labels = labels + ["background"]
    if normalize:
        sums = m.sum(axis=0, keepdims=True)
        m = np.divide(m, sums, out=np.zeros_like(m), where=sums > 0)
    size = min(4.0 + 0.45 * (k + 1), 20.0)
    fig = _figure((size + 1.5, size))
    ax = fig.add_subplot()
    image = ax.imshow(m, cmap="Blues", vmin=0)
    fig.colorbar(image, ax=ax, shrink=0.8)
    ticks = np.arange(k + 1)
    ax.set_xticks(ticks, labels, rotation=90 if k > 8 else 45, ha="right" if k <= 8 else "center")
    ax.set_yticks(ticks, labels)
    ax.set(xlabel="True", ylabel="Predicted",
           title="Confusion matrix" + (" (column-normalized)" if normalize else ""))
    if k + 1 <= 30:
        top = m.max() if m.size else 0
        for i in range(k + 1):
            for j in range(k + 1):
                value = m[i, j]
                if value:
                    text = f"{value:.2f}" if normalize else f"{int(value)}"
                    ax.text(j, i, text, ha="center", va="center", fontsize="small",
                            color="white" if value > 0.5 * top else "black")
    return _save(fig, path)


def plot_error_breakdown(breakdown, *, path=None):
    """Horizontal bars of the AP (points) each error type costs, from ``detmetrics.error_breakdown``.

    Parameters
    ----------
    breakdown : detmetrics.errors.ErrorBreakdown
    path : str or Path, optional

    Returns
    -------
    matplotlib.figure.Figure
        Two panels: the six main types (count next to each bar) and the two special errors.
    """
    from .errors import ERROR_TYPES, SPECIAL_TYPES, ErrorBreakdown

    if not isinstance(breakdown, ErrorBreakdown):
        raise TypeError(f"breakdown must be an ErrorBreakdown (from error_breakdown); got {type(breakdown).__name__}")
    fig = _figure((7.0, 4.5))
    main, special = fig.subplots(2, 1, height_ratios=[len(ERROR_TYPES), len(SPECIAL_TYPES)])
    values = [100 * breakdown.dap[t] for t in ERROR_TYPES]
    y = np.arange(len(ERROR_TYPES))
    main.barh(y, values, color="tab:red")
    main.set_yticks(y, [f"{t} ({breakdown.counts[t]})" for t in ERROR_TYPES])
    main.invert_yaxis()
    main.set(xlabel="dAP (AP points gained by fixing the type alone)",
             title=f"TIDE error breakdown, AP@{breakdown.fg_iou:g} = {100 * breakdown.ap:.2f}")
    for yi, v in zip(y, values):
        main.text(v, yi, f" {v:.2f}", va="center", fontsize="small")
    values = [100 * breakdown.special[t] for t in SPECIAL_TYPES]
    y = np.arange(len(SPECIAL_TYPES))
    special.barh(y, values, color="tab:blue")
    special.set_yticks(y, list(SPECIAL_TYPES))
    special.invert_yaxis()
    special.set(xlabel="dAP (perfect precision / perfect recall)")
    for yi, v in zip(y, values):
        special.text(v, yi, f" {v:.2f}", va="center", fontsize="small")
    top = max([100 * breakdown.dap[t] for t in ERROR_TYPES] + values + [1.0])
    for ax in (main, special):
        ax.set_xlim(min(0.0, *values), top * 1.15)
    return _save(fig, path)


def plot_all(result, predictions, ground_truth, out_dir, *, conf_threshold=0.25, iou_threshold=0.45,
             backend="auto") -> list:
    """Write every figure for an evaluation of ``detmetrics.io`` data into ``out_dir``.

    Files: ``pr_curve.png`` (IoU 0.5), ``pr_curve_50_95.png``,
    ``f1_curve.png``, ``p_curve.png``, ``r_curve.png``,
    ``confusion_matrix.png`` and ``confusion_matrix_normalized.png``
    (confusion at ``conf_threshold`` / ``iou_threshold``, ultralytics'
    0.25 / 0.45).  Returns the paths written.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    names = ground_truth.class_names
    paths = []

    def save(fig_func, name, *args, **kwargs):
        path = out / name
        fig_func(*args, path=path, **kwargs)
        paths.append(path)

    has_05 = bool(np.isclose(np.asarray(result.iou_thresholds, dtype=np.float64), 0.5, rtol=0, atol=1e-9).any())
    iou_curve = 0.5 if has_05 else float(result.iou_thresholds[0])
    save(plot_pr_curves, "pr_curve.png", result, names, iou_threshold=iou_curve)
    save(plot_pr_curves, "pr_curve_50_95.png", result, names, iou_threshold=None)
    for metric, name in (("f1", "f1_curve.png"), ("precision", "p_curve.png"), ("recall", "r_curve.png")):
        save(plot_metric_vs_confidence, name, result, metric, names, iou_threshold=iou_curve)

    matrix, ordered = data_confusion_matrix(predictions, ground_truth, conf_threshold=conf_threshold,
                                            iou_threshold=iou_threshold, backend=backend)
    save(plot_confusion_matrix, "confusion_matrix.png", matrix, ordered)
    save(plot_confusion_matrix, "confusion_matrix_normalized.png", matrix, ordered, normalize=True)
    return paths


def data_confusion_matrix(predictions, ground_truth, *, conf_threshold=0.25, iou_threshold=0.45, backend="auto"):
    """ultralytics' confusion matrix of ``detmetrics.io`` data and the class names in its order."""
    from .confusion import confusion_matrix

    names = ground_truth.class_names
    labels = sorted(names)
    index = {label: i for i, label in enumerate(labels)}

    def reindex(records):
        return [{**r, "labels": np.array([index[int(v)] for v in r["labels"]], dtype=np.int64)} for r in records]

    kwargs = {} if ground_truth.obb else {"box_format": "xyxy"}
    gts, preds = reindex(ground_truth.records), reindex(predictions.records)
    if not ground_truth.obb:  # COCO xywh -> xyxy
        gts = [{**r, "boxes": _xywh_to_xyxy(r["boxes"])} for r in gts]
        preds = [{**r, "boxes": _xywh_to_xyxy(r["boxes"])} for r in preds]
    matrix = confusion_matrix(preds, gts, num_classes=len(labels), conf_threshold=conf_threshold,
                              iou_threshold=iou_threshold, backend=backend, **kwargs)
    return matrix, [names[label] for label in labels]


def _xywh_to_xyxy(boxes):
    b = np.array(boxes, dtype=np.float64).reshape(-1, 4)
    b[:, 2] += b[:, 0]
    b[:, 3] += b[:, 1]
    return b
