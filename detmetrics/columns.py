"""``evaluate_columns``: COCO evaluation of flat columns (arrays, pandas or pyarrow tables).

The entry point for data that is already columnar (a training loop's
concatenated outputs, a Parquet file, a DataFrame): one row per detection and
per ground truth, each carrying its ``image_id``; no per-image Python object is
built.  The columns become the same flat record ``evaluate_coco`` decodes COCO
JSON into (``detmetrics.io._coco_decode.CocoGroundTruth`` / ``CocoResults``)
and run through the same stages (``detmetrics.evaluate.evaluate_loaded``), so
on the same data the numbers are those of ``evaluate_coco``, i.e. of
pycocotools' ``COCOeval``.  (An extension of the COCO interface.)
"""

from __future__ import annotations

import numpy as np

from ._inputs import parse_options
from ._lookup import isin, positions
from ._validate import all_finite, as_any_boxes, as_array

__all__ = ["evaluate_columns"]

_DET_NAMES = {"image_id": ("image_id",), "boxes": ("boxes", "bbox"), "scores": ("scores", "score"),
              "labels": ("labels", "category_id")}
_GT_NAMES = {"image_id": ("image_id",), "boxes": ("boxes", "bbox"), "labels": ("labels", "category_id"),
             "iscrowd": ("iscrowd",), "area": ("area",)}


def _names(table, what: str) -> list:
    if isinstance(table, (str, bytes)):
        raise TypeError(f"{what} must be a mapping of columns, a pandas DataFrame or a pyarrow Table; "
                        f"got {type(table).__name__}")
    if hasattr(table, "column_names"):  # pyarrow.Table / RecordBatch
        return list(table.column_names)
    if hasattr(table, "columns") and hasattr(table, "iloc"):  # pandas.DataFrame
        return [str(c) for c in table.columns]
    if hasattr(table, "keys") and not isinstance(table, np.ndarray):
        return list(table.keys())
    raise TypeError(f"{what} must be a mapping of columns, a pandas DataFrame or a pyarrow Table; "
                    f"got {type(table).__name__}")


def _get(table, what: str, key: str, spellings, required: bool = True):
    """``(column name, raw column)`` of the first present spelling, or ``(None, None)``."""
    present = _names(table, what)
    for name in spellings:
        if name in present:
            return name, table[name]
    if required:
        raise ValueError(f"{what} has no {' or '.join(repr(s) for s in spellings)} column (columns: {present})")
    return None, None


def _plain(col, name: str):
    """A column as NumPy: pyarrow columns via ``to_numpy``, pandas via ``to_numpy``; nulls are errors."""
    if hasattr(col, "combine_chunks"):  # pyarrow.ChunkedArray
        col = col.combine_chunks()
    if hasattr(col, "null_count") and hasattr(col, "type"):  # pyarrow.Array
        if col.null_count:
            raise ValueError(f"{name} holds {col.null_count} null values")
        import pyarrow as pa

        if pa.types.is_list(col.type) or pa.types.is_fixed_size_list(col.type) or pa.types.is_large_list(col.type):
            lengths = np.asarray(col.value_lengths()) if not pa.types.is_fixed_size_list(col.type) else None
            if lengths is not None and lengths.size and not np.all(lengths == lengths[0]):
                raise ValueError(f"{name} rows have different lengths")
            width = col.type.list_size if lengths is None else (int(lengths[0]) if lengths.size else 4)
            return _plain(col.flatten(), name).reshape(len(col), width)
        return col.to_numpy(zero_copy_only=False)
    if hasattr(col, "to_numpy") and not isinstance(col, np.ndarray):  # pandas.Series
        col = col.to_numpy()
    if isinstance(col, np.ndarray) and col.dtype == object and col.ndim == 1 and col.size \
            and isinstance(col[0], (list, tuple, np.ndarray)):
        try:  # a column of 4-lists (pandas' form of COCO's bbox)
            return np.stack([np.asarray(v, dtype=np.float64) for v in col])
        except ValueError:
            raise ValueError(f"{name} rows have different lengths") from None
    return col


def _ids(col, name: str) -> np.ndarray:
    if col is None or isinstance(col, (str, bytes, dict)):
        raise TypeError(f"{name} must be a one-dimensional array of ids; got {type(col).__name__}")
    try:
        arr = np.asarray(col)
    except (ValueError, TypeError):
        raise ValueError(f"{name} could not be read as a one-dimensional array of ids") from None
    if arr.ndim != 1:
        raise ValueError(f"{name} must be one-dimensional; got shape {arr.shape}")
    if arr.dtype.kind in "US":
        return arr
    if arr.dtype == object and all(isinstance(v, str) for v in arr.tolist()):
        return arr.astype(str)
    return as_array(arr, name, dtype=np.int64, ndim=1)


def _length(arr, n: int, name: str, what: str):
    if arr.shape[0] != n:
        raise ValueError(f"{name} has {arr.shape[0]} rows but {what} has {n}")
    return arr


def evaluate_columns(detections, ground_truths, *, box_format=None, image_ids=None, category_ids=None,
                     category_names=None, iou_thresholds=None, max_detections=None, area_ranges="coco",
                     interpolation="coco", backend="auto", matching="coco", use_categories=True,
                     recall_thresholds=None):
    """COCO mean average precision of flat columns (pycocotools-exact), one row per box.

    Parameters
    ----------
    detections : mapping of columns, pandas.DataFrame or pyarrow.Table
        ``image_id`` ``(D,)`` (integers or strings), ``boxes`` ``(D, 4)`` (or
        COCO's ``bbox``: a column of 4-lists), ``scores`` (or ``score``)
        ``(D,)`` and ``labels`` (or ``category_id``) ``(D,)`` integers.
    ground_truths : mapping of columns, pandas.DataFrame or pyarrow.Table
        ``image_id``, ``boxes`` / ``bbox``, ``labels`` / ``category_id`` and
        optionally ``iscrowd`` (non-zero = crowd) and ``area`` (for the area
        ranges; default the box area ``w * h``).
    box_format : {"xyxy", "xywh", "cxcywh"}, optional
        Default ``"xywh"`` when the boxes column is called ``bbox`` (COCO's),
        else ``"xyxy"`` (as ``mean_ap``).  Both tables use the same format.
    image_ids : sequence, optional
        The images of the evaluation (COCO's ``images`` list): a row on an
        image not among them is an error.  Default: every image id of either
        table.  Ties in score across images are broken by image id, as in
        COCOeval.
    category_ids : sequence of int, optional
        The categories (the K axis, sorted), as a COCO ground truth lists
        them: a ground truth of another category is an error, a detection of
        another category is ignored (as COCOeval ignores it).  Default: the
        labels of either table.
    category_names : dict, optional
        Category id (int) -> name (str), carried to the result; every id must be one of the categories.
    iou_thresholds, max_detections, area_ranges, interpolation, backend, matching, use_categories, recall_thresholds
        As ``evaluate_coco``.

    Returns
    -------
    EvaluationResult

    Notes
    -----
    The same numbers as ``evaluate_coco`` on the COCO JSON form of the same
    rows (boxes in xywh); columns carry no annotation id, so pycocotools'
    quirk for a ground truth of id 0 does not arise.  Memory is the columns
    plus the evaluation's own arrays: nothing per image or per row is a
    Python object.

    Examples
    --------
    >>> import numpy as np
    >>> from detmetrics import evaluate_columns
    >>> dets = {"image_id": [1, 1], "boxes": [[0, 0, 10, 10], [20, 20, 30, 30]],
    ...         "scores": [0.9, 0.3], "labels": [3, 3]}
    >>> gts = {"image_id": [1], "boxes": [[0, 0, 10, 10]], "labels": [3]}
    >>> round(evaluate_columns(dets, gts).map, 12)
    1.0
    """
    from .evaluate import evaluate_loaded
    from .io._coco_decode import CocoGroundTruth, CocoResults

    opts = parse_options("xywh", iou_thresholds, max_detections, area_ranges, interpolation, backend, matching,
                         "bbox", None, recall_thresholds)
    if not isinstance(use_categories, (bool, int, np.integer)):
        raise TypeError(f"use_categories must be a bool; got {type(use_categories).__name__}")
    cols = {}
    for what, table, spec in (("detections", detections, _DET_NAMES), ("ground_truths", ground_truths, _GT_NAMES)):
        for key, spellings in spec.items():
            name, col = _get(table, what, key, spellings, required=key not in ("iscrowd", "area"))
            cols[what, key] = (None, None) if name is None else (f"{what}[{name!r}]", _plain(col, f"{what}[{name!r}]"))
    if box_format is None:
        formats = {("xywh" if cols[w, "boxes"][0].endswith("['bbox']") else "xyxy") for w in ("detections",
                                                                                               "ground_truths")}
        if len(formats) > 1:
            raise ValueError("detections and ground_truths name their boxes differently ('boxes' / 'bbox'); "
                             "pass box_format")
        box_format = formats.pop()

    def column(what, key, **kw):
        name, raw = cols[what, key]
        return as_array(raw, name, **kw)

    d_img = _ids(cols["detections", "image_id"][1], cols["detections", "image_id"][0])
    g_img = _ids(cols["ground_truths", "image_id"][1], cols["ground_truths", "image_id"][0])
    n_det, n_gt = d_img.shape[0], g_img.shape[0]
    d_lab = _length(column("detections", "labels", dtype=np.int64, ndim=1), n_det, "detections labels",
                    "detections image_id")
    g_lab = _length(column("ground_truths", "labels", dtype=np.int64, ndim=1), n_gt, "ground_truths labels",
                    "ground_truths image_id")
    scores = _length(column("detections", "scores", ndim=1), n_det, "detections scores", "detections image_id")
    if not all_finite(scores):
        row = int(np.flatnonzero(~np.isfinite(scores))[0])
        raise ValueError(f"{cols['detections', 'scores'][0]}[{row}] must be finite; got {scores[row]!r}")
    d_box = _length(as_any_boxes(np.asarray(cols["detections", "boxes"][1]).reshape(-1, 4) if n_det == 0 else
                                 cols["detections", "boxes"][1], cols["detections", "boxes"][0],
                                 box_format=box_format, kinds=("axis",), dst="xywh")[0], n_det,
                    "detections boxes", "detections image_id")
    g_box = _length(as_any_boxes(np.asarray(cols["ground_truths", "boxes"][1]).reshape(-1, 4) if n_gt == 0 else
                                 cols["ground_truths", "boxes"][1], cols["ground_truths", "boxes"][0],
                                 box_format=box_format, kinds=("axis",), dst="xywh")[0], n_gt,
                    "ground_truths boxes", "ground_truths image_id")
    if cols["ground_truths", "iscrowd"][0] is None:
        crowd = np.zeros(n_gt, dtype=np.uint8)
    else:
        crowd = (_length(column("ground_truths", "iscrowd", allow_bool=True, ndim=1), n_gt,
                         "ground_truths iscrowd", "ground_truths image_id") != 0).astype(np.uint8)
    if cols["ground_truths", "area"][0] is None:
        area = g_box[:, 2] * g_box[:, 3]
    else:
        area = _length(column("ground_truths", "area", ndim=1), n_gt, "ground_truths area", "ground_truths image_id")
        if not all_finite(area):
            row = int(np.flatnonzero(~np.isfinite(area))[0])
            raise ValueError(f"{cols['ground_truths', 'area'][0]}[{row}] must be finite; got {area[row]!r}")

    if (d_img.dtype.kind in "US") != (g_img.dtype.kind in "US") and n_det and n_gt:
        raise ValueError("detections and ground_truths image_id columns mix integer and string ids")
    if image_ids is None:
        universe = np.unique(np.concatenate([g_img, d_img])) if n_det or n_gt else np.zeros(0, np.int64)
    else:
        universe = np.unique(_ids(image_ids, "image_ids"))
    image_list = universe.tolist()
    d_index, g_index = _index(universe, d_img), _index(universe, g_img)
    for what, index, ids in (("detections", d_index, d_img), ("ground_truths", g_index, g_img)):
        if np.any(index < 0):
            row = int(np.flatnonzero(index < 0)[0])
            raise ValueError(f"{what}: row {row} has image_id {ids[row].item()!r}, which is not in image_ids")
    if category_ids is None:
        cats = np.unique(np.concatenate([g_lab, d_lab]))
    else:
        cats = np.unique(as_array(category_ids, "category_ids", dtype=np.int64, ndim=1))
        unknown = ~isin(g_lab, cats)
        if unknown.any():
            row = int(np.flatnonzero(unknown)[0])
            raise ValueError(f"ground_truths: row {row} has label {int(g_lab[row])}, which is not in category_ids")
        keep = isin(d_lab, cats)
        if not keep.all():  # COCOeval ignores detections of unlisted categories
            d_index, d_lab, scores, d_box = d_index[keep], d_lab[keep], scores[keep], d_box[keep]
    names = _category_names(category_names, cats)
    gt = CocoGroundTruth(image_ids=image_list, category_ids=cats.tolist(), category_names=names,
                         image_index=g_index, category=np.ascontiguousarray(g_lab), boxes=g_box,
                         area=np.ascontiguousarray(area, dtype=np.float64), iscrowd=crowd,
                         zero_id=np.zeros(n_gt, dtype=np.uint8))
    res = CocoResults(image_index=d_index, category=np.ascontiguousarray(d_lab), boxes=np.ascontiguousarray(d_box),
                      scores=np.ascontiguousarray(scores, dtype=np.float64))
    return evaluate_loaded(gt, res, opts, use_categories=bool(use_categories))


def _category_names(category_names, cats: np.ndarray) -> dict:
    """``category_names`` checked: a dict from category ids (ints) to names (str)."""
    if category_names is None:
        return {}
    if not isinstance(category_names, dict):
        raise TypeError(f"category_names must be a dict id -> name; got {type(category_names).__name__}")
    known = set(cats.tolist())
    for key, value in category_names.items():
        if isinstance(key, (bool, np.bool_)) or not isinstance(key, (int, np.integer)) or not isinstance(value, str):
            raise TypeError(f"category_names must map int ids to str names; got {key!r}: {value!r}")
        if int(key) not in known:
            raise ValueError(f"category_names names category {key!r}, which is not among the categories")
    return {int(c): category_names[c] for c in cats.tolist() if c in category_names}


def _index(universe: np.ndarray, ids: np.ndarray) -> np.ndarray:
    """Positions of ``ids`` in the sorted unique ``universe`` (-1 when absent)."""
    if universe.shape[0] == 0:
        return np.full(ids.shape[0], -1, dtype=np.int64)
    if universe.dtype.kind != ids.dtype.kind and ids.shape[0]:
        return np.full(ids.shape[0], -1, dtype=np.int64)
    return positions(universe, ids)
