"""Reports of an ``EvaluationResult``: the per-class table, pandas, CSV, JSON and a self-contained HTML page.

The per-class table is the one ``detmetrics eval`` prints.  It has ultralytics'
columns (``images``, ``instances``, ``P``, ``R``, ``mAP50``, ``mAP50-95``) so it
can be laid beside ``yolo val``'s output, plus ``AP75``, ``F1``, the confidence
``conf`` at which ``P``, ``R`` and ``F1`` are taken, and ``dets``.

Definitions (one for the table, the JSON, the CSV and the plots):

* ``mAP50-95``, ``mAP50``, ``AP75``: COCO AP of the class (pycocotools'
  ``precision`` averaged over recall thresholds), at the largest
  ``max_detections`` and area "all".  ``all`` is their mean over the classes
  with ground truth, i.e. ``result.map`` / ``map50`` / ``map75``.
* ``P``, ``R``, ``F1`` at ``conf``: precision, recall and F1 of the class's
  detections with ``score >= conf`` at IoU 0.5; ``conf`` is the threshold that
  maximises that F1 (``EvaluationResult.best_f1``), or the ``conf=`` given.
  For ``all`` the detections of every class are pooled (micro average): one
  threshold for all classes, the one maximising the pooled F1.
* ``images``: images holding at least one ground truth of the class (``all``:
  every image); ``instances``: its ground truths that count (not crowd, not
  ``difficult``); ``dets``: its detections kept by the per-image budget.
* A value is ``None`` (printed ``-``) when the class has no ground truth, so
  the quantity is undefined (pycocotools' -1), and ``"n/a"`` when it was not
  evaluated (``AP75`` without 0.75 among ``iou_thresholds``).
"""

from __future__ import annotations

import base64
import csv
import html
import io
import json
import math
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["per_class_table", "format_class_table", "to_pandas", "write_csv", "result_json", "write_json",
           "write_html", "COLUMNS"]

COLUMNS = ("class", "category_id", "images", "instances", "P", "R", "mAP50", "mAP50-95", "AP75", "F1", "conf",
           "dets")
NOT_EVALUATED = "n/a"


def _value(x):
    """-1 (pycocotools' undefined) and NaN -> None."""
    if x is None:
        return None
    x = float(x)
    return None if x != x or x < 0 else x


def _images_per_class(ground_truth, category_ids) -> dict | None:
    """Images holding at least one ground truth of each category, from per-image dicts or DetectionData."""
    if ground_truth is None:
        return None
    records = getattr(ground_truth, "records", ground_truth)
    counts = dict.fromkeys(category_ids, 0)
    for record in records:
        labels = np.asarray(record.get("labels", []))
        for label in np.unique(labels).tolist():
            if label in counts:
                counts[label] += 1
    counts["__all__"] = len(records)
    return counts


def per_class_table(result, class_names: dict | None = None, *, ground_truth=None, iou_threshold: float = 0.5,
                    conf: float | None = None) -> list:
    """The per-class table as a list of rows (dicts keyed by ``COLUMNS``), ``all`` first.

    Parameters
    ----------
    result : EvaluationResult
    class_names : dict, optional
        Category id -> name (default the result's ``category_names``); classes
        named here but absent from the result get a row of ``None``.
    ground_truth : DetectionData or list of dict, optional
        Gives the ``images`` column (``None`` without it).
    iou_threshold : float, default 0.5
        The IoU of ``P``, ``R`` and ``F1``.
    conf : float, optional
        Take ``P``, ``R``, ``F1`` at this confidence for every row instead of
        at each row's best-F1 confidence.

    Returns
    -------
    list of dict
    """
    names = dict(result.category_names)
    names.update(class_names or {})
    per_class = result.per_class
    if conf is None:
        prf = result.best_f1(iou_threshold=iou_threshold)
    else:
        from .result import _real

        conf = _real(conf, "conf")
        prf = result.precision_recall_f1(conf, iou_threshold=iou_threshold)
        prf = {k: {**v, "score_threshold": float(conf)} for k, v in prf.items()}
    images = _images_per_class(ground_truth, list(per_class) + list(names))
    has_75 = bool(np.any(result.iou_thresholds == 0.75))

    def row(name, category_id, n_images, n_gt, n_det, ap, ap50, ap75, f1_info):
        defined = n_gt > 0
        info = f1_info if (defined and f1_info) else {}
        return {
            "class": str(name), "category_id": category_id, "images": n_images, "instances": int(n_gt),
            "P": _value(info.get("precision")), "R": _value(info.get("recall")),
            "mAP50": _value(ap50), "mAP50-95": _value(ap),
            "AP75": _value(ap75) if has_75 else NOT_EVALUATED,
            "F1": _value(info.get("f1")), "conf": _value(info.get("score_threshold")), "dets": int(n_det),
        }

    n_gt_all = sum(int(s["n_gt"]) for s in per_class.values())
    n_det_all = sum(int(s["n_det"]) for s in per_class.values())
    rows = [row("all", None, None if images is None else images["__all__"], n_gt_all, n_det_all,
                result.map, result.map50, result.map75, prf.get("all"))]
    for category in sorted(set(per_class) | set(names)):
        stats = per_class.get(category)
        n_images = None if images is None else images.get(category, 0)
        name = names.get(category, str(category))
        if stats is None:
            rows.append(row(name, category, n_images, 0, 0, None, None, None, None))
            continue
        rows.append(row(name, category, n_images, int(stats["n_gt"]), int(stats["n_det"]),
                        stats["ap"], stats["ap50"], stats["ap75"], prf.get(category)))
    return rows


def _cell(value, width: int) -> str:
    if value is None:
        return f"{'-':>{width}}"
    if value == NOT_EVALUATED:
        return f"{NOT_EVALUATED:>{width}}"
    if isinstance(value, float):
        return f"{value:>{width}.3f}"
    return f"{value:>{width}}"


def format_class_table(result, class_names: dict | None = None, *, ground_truth=None, iou_threshold: float = 0.5,
                       conf: float | None = None) -> str:
    """The per-class table as text (what ``detmetrics eval`` prints); see ``per_class_table``."""
    rows = per_class_table(result, class_names, ground_truth=ground_truth, iou_threshold=iou_threshold, conf=conf)
    shown = [c for c in COLUMNS if c != "category_id" and not (c == "images" and ground_truth is None)]
    name_width = max(len("class"), *(len(r["class"]) for r in rows))
    widths = {c: (name_width if c == "class" else max(8, len(c))) for c in shown}
    header = " ".join(f"{c:<{widths[c]}}" if c == "class" else f"{c:>{widths[c]}}" for c in shown)
    lines = [header, "-" * len(header)]
    for r in rows:
        lines.append(" ".join(f"{r[c]:<{widths[c]}}" if c == "class" else _cell(r[c], widths[c]) for c in shown))
    at = f"at conf {conf:g}" if conf is not None else "at the confidence 'conf' that maximises F1"
    notes = [f"(P, R, F1 {at}, IoU {iou_threshold:g}; 'all' pools the detections of every class;",
             " '-': no ground truth, so undefined and left out of the means"]
    if any(r["AP75"] == NOT_EVALUATED for r in rows):
        notes.append(" 'n/a': not evaluated (0.75 is not among the IoU thresholds)")
    notes[-1] += ")"
    return "\n".join(lines + notes)


def to_pandas(result, class_names: dict | None = None, *, ground_truth=None, iou_threshold: float = 0.5,
              conf: float | None = None):
    """The per-class table as a ``pandas.DataFrame`` (needs pandas); undefined values are NaN."""
    try:
        import pandas as pd
    except ImportError:
        raise ImportError("to_pandas needs pandas: pip install pandas") from None
    rows = per_class_table(result, class_names, ground_truth=ground_truth, iou_threshold=iou_threshold, conf=conf)
    frame = pd.DataFrame([{k: (np.nan if v is None or v == NOT_EVALUATED else v) for k, v in r.items()} for r in rows],
                         columns=list(COLUMNS))
    return frame.astype({"category_id": "Int64", "images": "Int64"})


def write_csv(result, path, class_names: dict | None = None, *, ground_truth=None, iou_threshold: float = 0.5,
              conf: float | None = None) -> Path:
    """Write the per-class table as CSV (undefined values empty, not-evaluated ``n/a``)."""
    rows = per_class_table(result, class_names, ground_truth=ground_truth, iou_threshold=iou_threshold, conf=conf)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(COLUMNS))
        writer.writeheader()
        for r in rows:
            writer.writerow({k: ("" if v is None else repr(v) if isinstance(v, float) else v) for k, v in r.items()})
    return path


def _finite(value):
    """JSON has no NaN: None instead (and numpy scalars as Python numbers)."""
    if isinstance(value, dict):
        return {str(k): _finite(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite(v) for v in value]
    if isinstance(value, np.ndarray):
        return _finite(value.tolist())
    if isinstance(value, (np.integer,)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        value = float(value)
        return value if math.isfinite(value) else None
    return value


def result_json(result, class_names: dict | None = None, *, ground_truth=None, iou_threshold: float = 0.5,
                conf: float | None = None, curves: bool = False) -> dict:
    """Everything a report needs, JSON-ready (no NaN).

    ``EvaluationResult.to_dict()`` (stats, named fields, options, per-class AP),
    plus ``class_names``, ``per_class_table`` (the rows of ``per_class_table``:
    P/R/F1 at the best-F1 confidence, or at ``conf``), ``best_f1`` per class, and,
    with ``curves=True``, ``pr_curves`` (per class and pooled: scores, precision,
    recall, F1 at IoU ``iou_threshold``) and COCOeval's ``precision`` / ``recall``
    / ``scores`` arrays (shapes in ``array_shapes``, -1 where undefined).
    """
    data: dict[str, Any] = result.to_dict()
    names = dict(result.category_names)
    names.update(class_names or {})
    data["class_names"] = {str(k): v for k, v in names.items()}
    data["per_class_table"] = per_class_table(result, names, ground_truth=ground_truth, iou_threshold=iou_threshold,
                                              conf=conf)
    data["best_f1"] = {str(k): v for k, v in result.best_f1(iou_threshold=iou_threshold).items()}
    data["f1_iou_threshold"] = float(iou_threshold)
    if ground_truth is not None and hasattr(ground_truth, "image_ids"):
        data["image_ids"] = [x if isinstance(x, (int, str)) else str(x) for x in ground_truth.image_ids]
    if curves:
        pooled = {"all": result.pr_curve(None, iou_threshold=iou_threshold)}
        pooled.update({str(c): result.pr_curve(c, iou_threshold=iou_threshold) for c in result.category_ids})
        data["pr_curves"] = pooled
        data["precision"] = result.precision
        data["recall"] = result.recall
        data["scores"] = result.scores
        data["array_shapes"] = {"precision": "T, R, K, A, M", "scores": "T, R, K, A, M", "recall": "T, K, A, M"}
        data["recall_thresholds"] = result.recall_thresholds
    return _finite(data)


def write_json(result, path, class_names: dict | None = None, **kwargs) -> Path:
    """Write ``result_json(result, class_names, **kwargs)`` to ``path``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", encoding="utf-8") as handle:
        json.dump(result_json(result, class_names, **kwargs), handle, indent=1, allow_nan=False)
        handle.write("\n")
    return path


# ----------------------------------------------------------------------------------------------
# HTML


def _figures_png(result, predictions, ground_truth, names, conf) -> list:
    """(title, PNG bytes) of the standard figures; empty without matplotlib."""
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        return []
    from . import plots  # figures are matplotlib.figure.Figure objects: no pyplot state to clean up

    figures = [("Precision-recall", plots.plot_pr_curves(result, names)),
               ("F1 vs confidence", plots.plot_metric_vs_confidence(result, "f1", names)),
               ("Precision vs confidence", plots.plot_metric_vs_confidence(result, "precision", names)),
               ("Recall vs confidence", plots.plot_metric_vs_confidence(result, "recall", names))]
    if predictions is not None and ground_truth is not None:
        matrix, ordered = plots.data_confusion_matrix(predictions, ground_truth, conf_threshold=conf)
        figures.append(("Confusion matrix", plots.plot_confusion_matrix(matrix, ordered)))
    out = []
    for title, fig in figures:
        buffer = io.BytesIO()
        fig.savefig(buffer, format="png", dpi=100)
        out.append((title, buffer.getvalue()))
    return out


_PAGE = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>{title}</title>
<style>
body {{ font-family: system-ui, sans-serif; margin: 2em; color: #222; }}
table {{ border-collapse: collapse; margin: 1em 0; font-variant-numeric: tabular-nums; }}
th, td {{ border: 1px solid #ccc; padding: 0.25em 0.6em; text-align: right; }}
th:first-child, td:first-child {{ text-align: left; }}
tr.all td {{ font-weight: bold; }}
pre {{ background: #f6f6f6; padding: 1em; }}
figure {{ display: inline-block; margin: 0.5em; }}
figure img {{ max-width: 640px; }}
</style>
</head>
<body>
<h1>{title}</h1>
<p>{subtitle}</p>
<h2>COCO summary</h2>
<pre id="summary">{summary}</pre>
<h2>Per class</h2>
<table id="per-class">
<thead><tr>{header}</tr></thead>
<tbody>
{rows}
</tbody>
</table>
<p class="notes">{notes}</p>
<h2>Figures</h2>
<div id="figures">{figures}</div>
<script>
// a self-check a browser test reads: every figure decoded, the tables present
window.addEventListener("load", function () {{
  var imgs = Array.prototype.slice.call(document.images);
  var ok = imgs.every(function (im) {{ return im.complete && im.naturalWidth > 0; }});
  var rows = document.querySelectorAll("#per-class tbody tr").length;
  document.body.setAttribute("data-report", ok && rows > 0 ? "ok" : "broken");
  document.body.setAttribute("data-figures", String(imgs.length));
}});
</script>
</body>
</html>
"""


def write_html(result, path, class_names: dict | None = None, *, ground_truth=None, predictions=None,
               iou_threshold: float = 0.5, conf: float = 0.25, title: str = "detmetrics report",
               subtitle: str = "") -> Path:
    """One self-contained HTML file: the COCO summary, the per-class table and the figures (inline PNG).

    The figures need matplotlib (the ``plot`` extra); without it the page
    says so and holds the tables only.  ``predictions`` and ``ground_truth``
    (``DetectionData``) add the ``images`` column and the confusion matrix at
    ``conf``.
    """
    names = dict(result.category_names)
    names.update(class_names or {})
    rows = per_class_table(result, names, ground_truth=ground_truth, iou_threshold=iou_threshold)
    shown = [c for c in COLUMNS if c != "category_id" and not (c == "images" and ground_truth is None)]

    def cell(v):
        if v is None:
            return "-"
        if isinstance(v, float):
            return f"{v:.3f}"
        return html.escape(str(v))

    body = "\n".join(
        f'<tr class="{"all" if i == 0 else "class"}">' + "".join(f"<td>{cell(r[c])}</td>" for c in shown) + "</tr>"
        for i, r in enumerate(rows)
    )
    figures = _figures_png(result, predictions, ground_truth, names, conf)
    if figures:
        figure_html = "\n".join(
            f'<figure><img alt="{html.escape(t)}" src="data:image/png;base64,{base64.b64encode(png).decode()}">'
            f"<figcaption>{html.escape(t)}</figcaption></figure>"
            for t, png in figures
        )
    else:
        figure_html = "<p>No figures: matplotlib is not installed (pip install 'detmetrics[plot]').</p>"
    page = _PAGE.format(
        title=html.escape(title), subtitle=html.escape(subtitle), summary=html.escape(result.summary()),
        header="".join(f"<th>{html.escape(c)}</th>" for c in shown), rows=body,
        notes=html.escape(f"P, R, F1 at the confidence that maximises F1 at IoU {iou_threshold:g}; 'all' pools "
                          "every class; '-': no ground truth (undefined, left out of the means)."),
        figures=figure_html,
    )
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(page, encoding="utf-8")
    return path
