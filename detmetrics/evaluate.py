"""COCO-exact evaluation: ``mean_ap``, ``evaluate_coco``, ``EvaluationResult`` and ``Evaluator``.

pycocotools' ``COCOeval`` (bbox) is the definition; on any input it accepts
these functions return the same 12 statistics and the same ``precision``,
``recall`` and ``scores`` arrays.  This module is the public face; the data
path runs through four stage modules, top to bottom, with no Python loop
over groups:

1. ``detmetrics._inputs``: options parsed once (backend checked there),
   per-image dicts validated and flattened into one ``FlatData`` record, the
   category set resolved once;
2. ``detmetrics.matching``: detections of every (image, category) group
   sorted by decreasing score (stable) and cut to the largest
   ``max_detections``, per-group IoU blocks for the geometry, greedy matching
   for every area range and IoU threshold -> ``MatchState``;
3. ``detmetrics.ap``: accumulation per category, area range and
   ``max_detections`` -> ``Accumulation``;
4. ``detmetrics.result``: ``EvaluationResult``.

Above half a million detections (numba, results image by image) stages 2-3 run
by blocks of images (``detmetrics._blocks``): the same numbers, a fraction of
the fresh memory.  ``evaluate_coco`` on such a loaded result list reads it a
block at a time too (``_result_list_by_blocks``): stage 1 never makes a
column of every result.

``Evaluator`` runs stage 2 per ``update`` and keeps the ``MatchState``s;
``compute`` runs stages 3 and 4.

Differences from pycocotools, all deliberate and documented:

* The headline AP (``stats[0]``) and the ``stats`` that pycocotools computes
  at ``maxDets[2]`` use the *largest* ``max_detections``; pycocotools
  hard-codes 100 for ``stats[0]`` (cocodataset/cocoapi#558), which gives -1
  when 100 is not among ``maxDets``.  With the default ``(1, 10, 100)`` the
  numbers are identical.  ``stats[6:9]`` (``mar_1``, ``mar_10``, ``mar_100``)
  are the mean recalls at ``max_detections[0]``, ``[1]`` and ``[2]`` (the last
  one repeated when fewer are given).
* A ground truth without an ``area`` gets ``w * h`` (pycocotools raises).
* An empty results list is valid and scores 0 where there is ground truth.
* Bad input (NaN, negative sizes, unknown image ids, missing fields,
  duplicate annotation ids) raises ``ValueError`` / ``TypeError`` instead of
  producing a number.
* ``interpolation="voc11"`` / ``"voc"`` are not in pycocotools; see
  ``detmetrics.ap`` for what the ``precision`` array holds then.

Rotated boxes ``(N, 5)`` and quads ``(N, 4, 2)`` in ``mean_ap`` are
matched with the same rules on exact polygon IoU (crowds: intersection over
the detection's polygon area); their area (for area ranges, unless ``area``
is given) is the polygon area.

A category without ground truth (for an area range) keeps -1 in
``precision``/``recall``/``scores`` and in ``per_class`` and is left out of the
means; when no category has ground truth the statistic is -1 (pycocotools).
"""

from __future__ import annotations

import os
import threading
from contextlib import contextmanager

import numpy as np

from ._blocks import match_and_accumulate
from ._inputs import (
    COCO_AREA_RANGES,
    FlatData,
    Options,
    as_category_ids,
    check_labels_in,
    flatten,
    parse_options,
    resolve_categories,
    take_rles,
    unique_ints,
)
from ._validate import as_array
from .ap import accumulate
from .matching import MatchState, PackedState, match
from .result import EvaluationResult

__all__ = ["mean_ap", "evaluate_coco", "evaluate_files", "EvaluationResult", "Evaluator", "COCO_AREA_RANGES"]


def mean_ap(predictions, ground_truths, *, box_format="xyxy", iou_thresholds=None, max_detections=None,
            area_ranges="coco", interpolation=None, backend="auto", category_ids=None,
            matching=None, iou_type="bbox", sigmas=None, protocol="coco", iou_test=None, box_plus_one=None,
            crowd=None, difficult=None, image_budget=None) -> EvaluationResult:
    """COCO mean average precision of per-image detections (pycocotools-exact).

    Parameters
    ----------
    predictions : list of dict
        One dict per image (image ``i`` is position ``i``) with ``"boxes"``
        ``(N, 4)`` in ``box_format`` (or ``(N, 5)`` rotated ``(cx, cy, w, h,
        angle)``, or ``(N, 4, 2)`` quads), ``"scores"`` ``(N,)`` and
        ``"labels"`` ``(N,)`` (any integers).
    ground_truths : list of dict
        Same length; ``"boxes"``, ``"labels"`` and optionally ``"iscrowd"``
        (non-zero = crowd), ``"area"`` (used for the area ranges; default
        the box area) and ``"difficult"`` (non-zero = ignored like a ground
        truth outside the area range: ordinary IoU, a detection matched to it
        is neither a true nor a false positive, not counted; VOC / DOTA's flag).
    box_format : {"xyxy", "xywh", "cxcywh"}
        IoUs are computed on xywh with pycocotools' arithmetic; pass
        ``"xywh"`` to get pycocotools' numbers bit for bit on COCO boxes.
    iou_thresholds : sequence of float in [0, 1], optional
        Default COCO's ``np.linspace(0.5, 0.95, 10)``.
    max_detections : tuple of increasing positive ints, optional
        Detections per image and category kept (by score); AP uses the largest.
        Default COCO's ``(1, 10, 100)``, ``(20,)`` for ``iou_type="keypoints"``.
    area_ranges : "coco" or dict name -> (lo, hi)
        ``"all"`` is added (``(0, 1e10)``) when missing; bounds are inclusive.
        ``"coco"`` is all/small/medium/large, all/medium/large for keypoints.
    interpolation : {"coco", "voc11", "voc", "ultralytics"}, optional
        See ``detmetrics.ap``.  Default: the protocol's.
    backend : {"auto", "numba", "numpy"}
    category_ids : sequence of int, optional
        The categories to evaluate (the K axis of the arrays, sorted), as a
        COCO ground truth lists them; a category with neither ground truth nor
        detections then still gets its (-1) column, as in pycocotools.  Every
        label must be one of them.  Default: the labels that occur.
        (An extension of the COCO interface.)
    matching : {"coco", "voc", "ultralytics"}, optional
        Default: the protocol's.  ``"ultralytics"``: the ``"coco"`` rule with
        equal IoUs going to the first ground truth (ultralytics 8.4's
        ``match_predictions``).  ``"coco"``: pycocotools' rule (a detection takes the best-overlapping
        ground truth still free, ``iou >= t``).  ``"voc"``: the PASCAL VOC /
        DOTA devkits' ``voc_eval`` rule (a detection looks only at the ground
        truth it overlaps most and is a false positive when that one is
        already taken; ``iou > t``).  With ``iou_thresholds=[0.5]``,
        ``interpolation="voc11"`` or ``"voc"`` and ``max_detections`` large
        enough to keep every detection, this is the devkits' AP (score ties
        aside: they use an unstable sort).  (An extension of the COCO interface.)
    iou_type : {"bbox", "segm", "keypoints"}
        What is matched, as pycocotools' ``iouType``.  ``"segm"``: every dict
        carries ``"masks"`` instead of ``"boxes"``: an ``(N, H, W)`` bool (or
        0/1) array, a list of COCO RLE dicts (``{"size": [h, w], "counts":
        bytes | str | list}``) or a list of polygons (per instance a list of
        flat ``[x1, y1, x2, y2, ...]`` parts) with the image's
        ``"image_size": (h, w)``; IoU is mask IoU (crowds: ``inter /
        area(det)``), a detection's area is its mask area (unless the
        prediction gives ``"area"``, e.g. its box's ``w * h`` as
        ``COCO.loadRes`` takes it) and a ground truth's ``area`` defaults to
        its mask area; ``"boxes"`` may be present and are not used.  All
        masks of an image must have its size.
        ``"keypoints"``: predictions carry ``"keypoints"`` ``(N, K, 3)`` ``(x,
        y, v)`` (or ``(N, K, 2)`` / ``(N, 3K)``) and optionally ``"boxes"``;
        ground truths ``"keypoints"``, ``"boxes"`` (needed: OKS measures ground
        truths without a visible keypoint from their box) and optionally
        ``"area"`` (the OKS scale; default the box area), ``"num_keypoints"``
        (default: the keypoints with ``v > 0``), ``"iscrowd"``.  IoU is OKS
        (``detmetrics.keypoints.oks``); ground truths with ``num_keypoints ==
        0`` are ignored (COCO); a detection's area (for the area ranges) is
        its box's, or, without boxes, its keypoints' extent, as
        ``COCO.loadRes`` computes them.  Default ``max_detections`` ``(20,)``,
        area ranges all/medium/large, 10 stats (``EvaluationResult``).
    sigmas : sequence of float, optional
        Per-keypoint OKS sigmas for ``iou_type="keypoints"``; default COCO's
        17 (``detmetrics.keypoints.COCO_SIGMAS``); another K needs its own.
    protocol : {"coco", "voc07", "voc12", "dota", "ultralytics"}
        A preset of defaults for ``iou_test``, ``box_plus_one``, ``matching``,
        ``crowd``, ``difficult``, ``image_budget``, ``max_detections`` and
        ``interpolation`` (``detmetrics._inputs.PROTOCOLS``; docs/protocols.md);
        each of them given overrides it.
    iou_test : {">=", ">"}, optional
        A match needs ``iou >= t`` (COCO, ultralytics) or ``iou > t`` (VOC, DOTA).
        Default: the protocol's, or, when ``matching`` is given, that rule's
        own (``">"`` for ``"voc"``).
    box_plus_one : bool, optional
        PASCAL VOC's inclusive pixel boxes: widths and heights ``x2 - x1 + 1``
        (axis-aligned boxes only).
    crowd, difficult : {"ignore", "drop", "count"}, optional
        What a flagged ground truth is: ignored (COCO's crowds, VOC's
        ``difficult``), dropped (no ground truth at all: detections on it are
        false positives, as after ultralytics' dataset converters) or an
        ordinary ground truth.
    image_budget : int, optional
        Detections kept per image across categories, highest scored first
        (ultralytics: 300, its NMS ``max_det``); 0 switches a preset's budget off.

    Returns
    -------
    EvaluationResult

    Notes
    -----
    Categories are the union of the labels of predictions and ground truths
    (or ``category_ids``); one without ground truth gets -1 and is left out of
    the means.  Ties in
    score across images are broken by image position (COCOeval breaks them by
    image id); inside an image by input order.

    Examples
    --------
    >>> from detmetrics import mean_ap
    >>> preds = [{"boxes": [[0, 0, 10, 10]], "scores": [0.9], "labels": [1]}]
    >>> gts = [{"boxes": [[0, 0, 10, 10]], "labels": [1]}]
    >>> r = mean_ap(preds, gts)
    >>> round(r.map, 12), round(r.map50, 12), r.map_large
    (1.0, 1.0, -1.0)
    >>> r.map  # precision is tp / (tp + fp + eps), as in pycocotools
    0.9999999999999998
    >>> mean_ap([{"boxes": [], "scores": [], "labels": []}], gts).map
    0.0
    """
    opts = parse_options(box_format, iou_thresholds, max_detections, area_ranges, interpolation, backend, matching,
                         iou_type, sigmas, protocol=protocol, iou_test=iou_test, box_plus_one=box_plus_one,
                         crowd=crowd, difficult=difficult, image_budget=image_budget)
    flat = flatten(predictions, ground_truths, box_format, iou_type, opts.sigmas, opts.backend)
    cats = resolve_categories(flat, category_ids)
    with _without_hugepages(flat.det_score.shape[0] + flat.gt_label.shape[0]):
        return EvaluationResult.from_accumulation(match_and_accumulate(flat, opts, cats), opts)


def evaluate_coco(ground_truth, results, *, iou_thresholds=None, max_detections=None, area_ranges="coco",
                  interpolation=None, backend="auto", matching=None, iou_type="bbox",
                  sigmas=None, image_ids=None, category_ids=None, use_categories=True,
                  recall_thresholds=None, protocol="coco", iou_test=None, box_plus_one=None,
                  crowd=None, difficult=None, image_budget=None) -> EvaluationResult:
    """pycocotools' ``COCOeval`` (``iouType`` bbox, segm or keypoints) on COCO JSON, without pycocotools.

    Parameters
    ----------
    ground_truth : path, bytes or dict
        A COCO ground-truth file (``images``, ``annotations``, ``categories``).
    results : path, bytes or list
        A COCO results file: entries ``image_id``, ``category_id``, ``bbox``
        (xywh) and ``score``.  An empty list is valid (AP 0 where there is
        ground truth).
    iou_thresholds, max_detections, area_ranges, interpolation, backend, matching
        As ``mean_ap``.
    protocol, iou_test, box_plus_one, crowd, difficult, image_budget
        As ``mean_ap``.
    iou_type : {"bbox", "segm", "keypoints"}
        pycocotools' ``iouType``.  ``"segm"``: ground-truth ``segmentation``
        (polygons, rasterised at the image's ``height`` x ``width``, or RLE,
        as ``COCO.annToRLE``) and result ``segmentation`` (compressed RLE as
        pycocotools wants; polygons and uncompressed RLE are read too).
        ``"keypoints"``: ``keypoints`` (flat ``[x1, y1, v1, ...]``) on both
        sides and the ground truth's ``num_keypoints`` (default: the visible
        keypoints); ground truths with ``num_keypoints == 0`` are ignored.
        ``COCO.loadRes``' rule decides a result's area from the *first*
        result: when it has a ``bbox`` (detectron2's and ultralytics' files
        do) every result's area is its box's ``w * h`` (and a result without
        ``segmentation`` is scored as its box); otherwise it is the mask's
        area (segm) or the keypoints' extent (keypoints).
    sigmas : sequence of float, optional
        OKS sigmas (keypoints), default COCO's 17.
    image_ids : sequence, optional
        Evaluate only these images of the ground truth (pycocotools'
        ``params.imgIds``; duplicates are dropped, an id the ground truth does
        not list is an error).  Default: every image.
    category_ids : sequence of int, optional
        Evaluate only these categories of the ground truth (``params.catIds``).
        Default: every category.
    use_categories : bool, default True
        ``False`` is pycocotools' ``useCats=0``: categories are pooled, a
        detection may match a ground truth of any (selected) category, and the
        result has one category, ``-1``.  Inside an image the pooled ground
        truths and detections are taken category by category in the order of
        ``category_ids`` (default: sorted), which decides ties as in
        pycocotools; ``category_ids`` must then hold no duplicates.
    recall_thresholds : sequence of float in [0, 1], optional
        The recall points ``precision`` is sampled at (``params.recThrs``,
        sorted); default COCO's 101 points.

    Returns
    -------
    EvaluationResult
        ``category_ids`` are the ground truth's categories (sorted), or the
        selected ones, or ``[-1]`` with ``use_categories=False``;
        ``category_names`` maps them to names.

    Raises
    ------
    ValueError
        Malformed JSON, a missing field, a bbox that is not 4 finite numbers
        with ``w, h >= 0``, a non-finite score, or a result whose ``image_id``
        is not an image of the ground truth (named in the message).

    Examples
    --------
    >>> gt = {"images": [{"id": 1}], "categories": [{"id": 3, "name": "cat"}],
    ...       "annotations": [{"id": 1, "image_id": 1, "category_id": 3, "bbox": [0, 0, 10, 10], "area": 100}]}
    >>> res = [{"image_id": 1, "category_id": 3, "bbox": [0, 0, 10, 10], "score": 0.5}]
    >>> round(evaluate_coco(gt, res).map, 12)
    1.0
    >>> evaluate_coco(gt, []).map
    0.0
    """
    from .io._coco_decode import load_ground_truth, load_results

    opts = parse_options("xywh", iou_thresholds, max_detections, area_ranges, interpolation, backend, matching,
                         iou_type, sigmas, recall_thresholds, protocol=protocol, iou_test=iou_test,
                         box_plus_one=box_plus_one, crowd=crowd, difficult=difficult, image_budget=image_budget)
    if not isinstance(use_categories, (bool, int, np.integer)):
        raise TypeError(f"use_categories must be a bool; got {type(use_categories).__name__}")
    with _without_hugepages(_estimated_rows(results)):
        gt = load_ground_truth(ground_truth, iou_type, opts.backend)
        if image_ids is None and category_ids is None and use_categories:
            streamed = _result_list_by_blocks(gt, results, opts)
            if streamed is not None:
                return streamed
        res = load_results(results, gt, opts.backend)
        return evaluate_loaded(gt, res, opts, image_ids=image_ids, category_ids=category_ids,
                               use_categories=bool(use_categories))


def evaluate_loaded(gt, res, opts: Options, *, image_ids=None, category_ids=None,
                    use_categories=True) -> EvaluationResult:
    """Stages 2-4 on already-decoded COCO columns (``detmetrics.io._coco_decode``); the benchmark times this."""
    with _without_hugepages(res.category.shape[0] + gt.category.shape[0]):
        flat, cats, names = coco_flat(gt, res, opts, image_ids, category_ids, use_categories)
        return EvaluationResult.from_accumulation(match_and_accumulate(flat, opts, cats), opts, names)


def _result_list_by_blocks(gt, results, opts: Options) -> EvaluationResult | None:
    """``evaluate_loaded(gt, load_results(results, gt))`` of a large bbox result list, read and matched
    a block of images at a time (``_coco_decode.result_blocks`` into ``_blocks.accumulate_blocks``):
    no column of every result is made, only the compact state the accumulation reads.  None when
    that does not apply (small, not a list, string ids, the NumPy backend, options the blocks do
    not take) or is abandoned (results not in image order, anything ``load_results`` reads
    differently or rejects): the caller then takes the usual path, which gives the same numbers
    and errors.
    """
    from . import _blocks
    from .io._coco_decode import CocoResults, result_blocks
    from .io._dict_columns import kernel_chosen
    from .matching import match_backend_for

    if opts.iou_type != "bbox" or not isinstance(results, list) or len(results) <= _blocks._BLOCK_ROWS:
        return None
    if not _blocks.blocks_take(opts, len(gt.category_ids)) or not set(map(type, gt.image_ids)) <= {int}:
        return None
    if match_backend_for("axis", len(results), gt.category.shape[0], opts) != "numba" \
            or not kernel_chosen(len(results), opts.backend):
        return None
    none = CocoResults(image_index=np.zeros(0, dtype=np.int64), category=np.zeros(0, dtype=np.int64),
                       boxes=np.zeros((0, 4)), scores=np.zeros(0))
    gt_flat, cats, names = coco_flat(gt, none, opts)
    blocks = result_blocks(results, gt, _blocks._BLOCK_ROWS)
    acc = _blocks.accumulate_blocks(blocks, gt_flat, opts, cats)
    return None if acc is None else EvaluationResult.from_accumulation(acc, opts, names)


def coco_flat(gt, res, opts, image_ids=None, category_ids=None, use_categories=True):
    """``(FlatData, categories, names)`` of decoded COCO columns, for a subset of images and categories.

    ``use_categories=False`` pools the selected categories into one, ``-1``,
    with the rows of every image in category order (``category_ids``' order),
    as pycocotools' ``useCats=0`` gathers them.
    """
    g_rows = r_rows = None  # None: every row
    if image_ids is not None:
        chosen = np.zeros(len(gt.image_ids), dtype=bool)
        chosen[_positions(gt.image_ids, image_ids, "image_ids", "an image")] = True
        g_rows, r_rows = chosen[gt.image_index], chosen[res.image_index]
    order = np.asarray(gt.category_ids, dtype=np.int64)
    if category_ids is not None:
        if isinstance(category_ids, (str, bytes)) or not hasattr(category_ids, "__len__"):
            raise TypeError(f"category_ids must be a sequence of ints; got {type(category_ids).__name__}")
        given = as_array(category_ids, "category_ids", dtype=np.int64).reshape(-1)
        order = order[_positions(gt.category_ids, given.tolist(), "category_ids", "a category")]
        if use_categories:
            order = np.unique(order)
        elif np.unique(order).shape[0] != order.shape[0]:
            raise ValueError("category_ids holds duplicate ids (with use_categories=False pycocotools would "
                             "count their annotations twice)")
        g_cat, r_cat = np.isin(gt.category, order), np.isin(res.category, order)
        g_rows = g_cat if g_rows is None else g_rows & g_cat
        r_rows = r_cat if r_rows is None else r_rows & r_cat
    # every row (the common case): the columns as they are, no copy through an index
    g_take = slice(None) if g_rows is None else np.flatnonzero(g_rows)
    r_take = slice(None) if r_rows is None else np.flatnonzero(r_rows)
    g_label, r_label = gt.category[g_take], res.category[r_take]
    names = {int(c): gt.category_names[c] for c in order.tolist() if c in gt.category_names}
    if not use_categories:
        # pooled: rows of an image category by category (stable), all labelled -1
        g_take = np.arange(gt.category.shape[0])[g_take]
        r_take = np.arange(res.category.shape[0])[r_take]
        rank = np.argsort(order, kind="stable")
        sorted_order = order[rank]
        g_take = g_take[np.argsort(rank[np.searchsorted(sorted_order, g_label)], kind="stable")]
        r_take = r_take[np.argsort(rank[np.searchsorted(sorted_order, r_label)], kind="stable")]
        g_label = np.full(g_take.shape[0], -1, dtype=np.int64)
        r_label = np.full(r_take.shape[0], -1, dtype=np.int64)
        order, names = np.array([-1], dtype=np.int64), {}
    kind, extra = "axis", {}
    if opts.iou_type != "bbox":  # masks and keypoints are gathered through an index
        g_take = np.arange(gt.category.shape[0])[g_take]
        r_take = np.arange(res.category.shape[0])[r_take]
    if opts.iou_type == "segm":
        kind = "mask"
        # every row in file order (the common case): no gather of the counts (millions at COCO scale)
        r_all = r_rows is None and use_categories
        g_all = g_rows is None and use_categories
        extra = dict(det_masks=res.masks if r_all else take_rles(res.masks, r_take),
                     gt_masks=gt.masks if g_all else take_rles(gt.masks, g_take), det_area=res.area[r_take])
    elif opts.iou_type == "keypoints":
        kind = "keypoints"
        k = gt.keypoints.shape[1] if gt.keypoints.shape[0] else (res.keypoints.shape[1] if res.keypoints.shape[0]
                                                                   else 0)
        n_sigmas = 17 if opts.sigmas is None else len(opts.sigmas)
        if (gt.keypoints.shape[0] or res.keypoints.shape[0]) and k != n_sigmas:
            raise ValueError(f"the keypoints have K={k} but sigmas has {n_sigmas} values"
                             + (" (sigmas=None means COCO's 17)" if opts.sigmas is None else ""))
        extra = dict(det_kpts=res.keypoints.reshape(-1, k, 3)[r_take], gt_kpts=gt.keypoints.reshape(-1, k, 3)[g_take],
                     det_area=res.area[r_take],
                     gt_no_keypoints=gt.num_keypoints[g_take] == 0)  # COCOeval: ignored, matched at most once
    flat = FlatData.build(
        kind, len(gt.image_ids), res.image_index[r_take], r_label, res.scores[r_take], res.boxes[r_take],
        gt.image_index[g_take], g_label, gt.boxes[g_take], gt_area=gt.area[g_take], gt_crowd=gt.iscrowd[g_take],
        gt_zero_id=gt.zero_id[g_take], **extra,
    )
    return flat, np.ascontiguousarray(order, dtype=np.int64), names


# --------------------------------------------------------------------------------------
# NumPy's transparent-huge-page hint, off for large evaluations
#
# NumPy asks the kernel for transparent huge pages (madvise) on every array of 4 MB or more.
# With Linux's default ``defrag=madvise`` a page fault in such an array may stall on direct
# compaction: at 4M results the evaluation's fresh arrays (about 1.5 GB allocated in all) cost
# 1.5 s of system time with the hint against 0.65 s without it, for the same user time
# (measured on this project's benchmark machine, ``bench_coco.py --scaling``: whole evaluation
# 5.3 s -> 4.4-4.9 s CPU; at 400k results no difference).  So large evaluations run with the
# hint off and restore it afterwards (a counter keeps nested and concurrent calls right).  Only
# speed depends on it, never a number.

#: rows (detections + ground truths, estimated for files) from which the hint is switched off
_NO_HUGEPAGE_ROWS = 1_000_000
_hugepage_lock = threading.Lock()
_hugepage_users = 0
_hugepage_saved = True


def _hugepage_setter():
    for module in ("numpy._core.multiarray", "numpy.core.multiarray"):
        try:
            mod = __import__(module, fromlist=["_set_madvise_hugepage"])
        except ImportError:
            continue
        setter = getattr(mod, "_set_madvise_hugepage", None)
        if setter is not None:
            return setter
    return None


@contextmanager
def _without_hugepages(n_rows: int):
    """NumPy's huge-page hint off while the block runs, when ``n_rows`` is large (see above)."""
    global _hugepage_users, _hugepage_saved
    setter = _hugepage_setter() if n_rows >= _NO_HUGEPAGE_ROWS else None
    if setter is None:
        yield
        return
    with _hugepage_lock:
        if _hugepage_users == 0:
            _hugepage_saved = bool(setter(False))
        _hugepage_users += 1
    try:
        yield
    finally:
        with _hugepage_lock:
            _hugepage_users -= 1
            if _hugepage_users == 0:
                setter(_hugepage_saved)


def _estimated_rows(source) -> int:
    """Rows of a COCO source (a list's length, a file's or bytes' size at ~85 bytes per result)."""
    if isinstance(source, (list, tuple)):
        return len(source)
    if isinstance(source, (bytes, bytearray)):
        return len(source) // 85
    if isinstance(source, (str, os.PathLike)):
        try:
            return os.path.getsize(os.fspath(source)) // 85
        except OSError:
            return 0
    return 0


def _positions(sorted_ids: list, wanted, name: str, what: str) -> np.ndarray:
    """Positions in ``sorted_ids`` of every id of ``wanted`` (``ValueError`` naming the first unknown one)."""
    if isinstance(wanted, (str, bytes)) or not hasattr(wanted, "__len__"):
        raise TypeError(f"{name} must be a sequence of ids; got {type(wanted).__name__}")
    lookup = {k: i for i, k in enumerate(sorted_ids)}
    out = np.empty(len(wanted), dtype=np.int64)
    for i, key in enumerate(wanted):
        key = int(key) if isinstance(key, np.integer) else key
        pos = lookup.get(key) if isinstance(key, (int, str)) and not isinstance(key, bool) else None
        if pos is None:
            raise ValueError(f"{name}[{i}] = {key!r} is not {what} of the ground truth")
        out[i] = pos
    return out


def evaluate_files(ground_truth, predictions, *, split: str | None = None, sizes=None, obb=None,
                   category_ids: str = "auto", progress=None, format: str = "auto", **options):
    """Read a ground-truth / predictions pair (``detmetrics.io``) and evaluate it with ``mean_ap``.

    ``ground_truth`` and ``predictions`` are paths (see
    ``detmetrics.io.load_ground_truth`` and ``load_predictions``) or already
    read ``DetectionData`` (``format``, ``split``, ``sizes``, ``obb`` and
    ``progress`` are ``load_ground_truth``'s); ``options`` go to ``mean_ap`` (``iou_thresholds``,
    ``max_detections``, ``interpolation``, ``backend``, ...) over the
    dataset's own (its ``category_ids``).

    Returns
    -------
    (EvaluationResult, DetectionData)
        The result and the ground truth (for its class names).
    """
    from .io import DetectionData, load_ground_truth, load_predictions

    gt = ground_truth if isinstance(ground_truth, DetectionData) else load_ground_truth(
        ground_truth, format=format, split=split, sizes=sizes, obb=obb, progress=progress
    )
    pred = predictions if isinstance(predictions, DetectionData) else load_predictions(
        predictions, gt, category_ids=category_ids, progress=progress
    )
    if len(pred) != len(gt):
        raise ValueError(f"predictions cover {len(pred)} images but the ground truth has {len(gt)}")
    iou_type = options.get("iou_type", "bbox")
    options = {**gt.mean_ap_kwargs(iou_type), **options}
    result = mean_ap(pred.records_for(iou_type), gt.records_for(iou_type), **options)
    result.category_names = {c: gt.class_names[c] for c in result.category_ids if c in gt.class_names}
    return result, gt


class Evaluator:
    """Incremental, mergeable COCO evaluation (the options of ``mean_ap``).

    ``update`` validates a batch of images at once; images are matched in
    batches (of about a thousand images, and before ``merge``, ``compute`` and
    pickling), after which only a packed matching state is kept, never boxes:
    per kept detection its score, small-integer category / image / rank and
    two bits per area range and threshold (about 23 bytes with COCO's
    defaults; ``state_nbytes`` says how many).
    Evaluators built on different shards (processes, Dask workers) combine
    with ``merge``; ``compute`` gives the same ``EvaluationResult`` as
    ``mean_ap`` on all the images at once.  Evaluators pickle.

    Images are ordered by ``image_ids`` when given (every update must then give
    them, unique across updates and merged shards); that order breaks score
    ties across images, so sharded runs with ``image_ids`` are exact whatever
    the sharding and merge order.  Without ``image_ids`` images are numbered
    in update order and a merged evaluator's images follow this one's.

    Examples
    --------
    >>> from detmetrics import Evaluator, mean_ap
    >>> preds = [{"boxes": [[0, 0, 10, 10]], "scores": [0.9], "labels": [1]}] * 2
    >>> gts = [{"boxes": [[0, 0, 10, 10]], "labels": [1]}, {"boxes": [[5, 5, 20, 20]], "labels": [1]}]
    >>> a, b = Evaluator(), Evaluator()
    >>> a.update(preds[:1], gts[:1], image_ids=[0])
    >>> b.update(preds[1:], gts[1:], image_ids=[1])
    >>> a.merge(b).compute().map == mean_ap(preds, gts).map
    True
    """

    def __init__(self, **options):
        allowed = {"box_format", "iou_thresholds", "max_detections", "area_ranges", "interpolation", "backend",
                   "category_ids", "matching", "iou_type", "sigmas", "recall_thresholds", "protocol", "iou_test",
                   "box_plus_one", "crowd", "difficult", "image_budget"}
        unknown = set(options) - allowed
        if unknown:
            raise TypeError(f"Evaluator got unexpected option(s) {sorted(unknown)}; expected {sorted(allowed)}")
        category_ids = options.pop("category_ids", None)
        self._category_ids = None if category_ids is None else as_category_ids(category_ids)
        self._options = parse_options(**options)
        self.reset()

    # Updates are validated at once but matched in batches: a training loop's one-image updates
    # then cost their validation, not a matching pass each (measured: ~1.6-3.5 ms per one-image
    # update when each was matched on its own, ~20 us per image inside one mean_ap call).  A batch
    # is matched when it holds this many images or rows, and before merge / compute / pickling.
    _BATCH_IMAGES = 1024
    _BATCH_ROWS = 262_144

    def reset(self) -> None:
        """Forget every image seen so far."""
        self._states: list[PackedState] = []
        self._pending: list[FlatData] = []
        self._pending_keys: list[np.ndarray] = []
        self._pending_rows = 0
        self._seen: set[int] = set()
        self._explicit: bool | None = None
        self._n_images = 0
        self._kind: str | None = None

    @property
    def n_images(self) -> int:
        return self._n_images

    @property
    def state_nbytes(self) -> int:
        """Bytes held by the matched state (after matching what is pending)."""
        self._flush()
        return sum(s.nbytes for s in self._states)

    def update(self, predictions, ground_truths, image_ids=None) -> None:
        """Add a batch of images (per-image dicts as ``mean_ap`` takes them), validated at once."""
        opts = self._options
        flat = flatten(predictions, ground_truths, opts.box_format, opts.iou_type, opts.sigmas, opts.backend)
        if self._category_ids is not None:
            check_labels_in(self._category_ids, flat)
        n = flat.n_images
        explicit = image_ids is not None
        if self._explicit is not None and explicit != self._explicit:
            raise ValueError("image_ids must be given on every update or on none")
        if explicit:
            given = as_array(image_ids, "image_ids", dtype=np.int64)
            keys = given.reshape(-1)
            if given.ndim > 1 or keys.shape[0] != n:
                raise ValueError(f"image_ids must hold one integer per image ({n}); got shape {np.shape(image_ids)}")
            key_list = keys.tolist()
            if len(set(key_list)) != n:
                raise ValueError("image_ids holds duplicate ids")
        else:
            keys = np.arange(self._n_images, self._n_images + n, dtype=np.int64)
        self._explicit = explicit
        if n == 0:
            return
        if flat.det_box.shape[0] or flat.gt_box.shape[0]:
            if self._kind is not None and flat.kind != self._kind:
                raise ValueError(f"boxes of kind {flat.kind!r} cannot be mixed with earlier {self._kind!r} boxes")
            self._kind = self._kind or flat.kind
        if explicit:
            clash = self._seen.intersection(key_list)
            if clash:
                raise ValueError(f"image id {min(clash)} was already evaluated")
            self._seen.update(key_list)
        self._pending.append(flat)
        self._pending_keys.append(keys)
        self._pending_rows += flat.det_img.shape[0] + flat.gt_img.shape[0]
        self._n_images += n
        if len(self._pending) >= self._BATCH_IMAGES or self._pending_rows >= self._BATCH_ROWS:
            self._flush()

    def _flush(self) -> None:
        """Match the images added since the last flush (one pass for the whole batch)."""
        if not self._pending:
            return
        flat = FlatData.concat(self._pending)
        keys = np.concatenate(self._pending_keys)
        cats = resolve_categories(flat, self._category_ids)
        self._states.append(match(flat, self._options, cats, image_keys=keys).pack())
        self._pending, self._pending_keys, self._pending_rows = [], [], 0

    def __getstate__(self):
        self._flush()  # only matching states travel, never boxes
        return self.__dict__.copy()

    def merge(self, other: "Evaluator") -> "Evaluator":
        """Add ``other``'s images to this evaluator (in place); returns ``self``."""
        if not isinstance(other, Evaluator):
            raise TypeError(f"other must be an Evaluator; got {type(other).__name__}")
        if other is self:
            raise ValueError("cannot merge an evaluator with itself (its images would be counted twice)")
        differ = self._options.differences(other._options)
        if differ:
            name = differ[0]
            mine, theirs = (getattr(o, name) for o in (self._options, other._options))
            mine, theirs = (v.tolist() if isinstance(v, np.ndarray) else v for v in (mine, theirs))
            raise ValueError(f"cannot merge evaluators with different {name}: {mine!r} vs {theirs!r}")
        if (self._category_ids is None) != (other._category_ids is None) or (
                self._category_ids is not None and not np.array_equal(self._category_ids, other._category_ids)):
            mine = None if self._category_ids is None else self._category_ids.tolist()
            theirs = None if other._category_ids is None else other._category_ids.tolist()
            raise ValueError(f"cannot merge evaluators with different category_ids: {mine} vs {theirs}")
        if other._n_images == 0:
            return self
        if self._explicit is not None and other._explicit is not None and self._explicit != other._explicit:
            raise ValueError("cannot merge an evaluator using image_ids with one that does not")
        if self._kind is not None and other._kind is not None and self._kind != other._kind:
            raise ValueError(f"cannot merge {other._kind!r} boxes into {self._kind!r} boxes")
        if other._explicit:
            clash = self._seen.intersection(other._seen)
            if clash:
                raise ValueError(f"image id {min(clash)} was already evaluated")
        self._flush()
        other._flush()
        if other._explicit:
            self._states.extend(other._states)
            self._seen.update(other._seen)
        else:
            self._states.extend(state.shifted(self._n_images) for state in other._states)
        self._explicit = other._explicit if self._explicit is None else self._explicit
        self._kind = self._kind or other._kind
        self._n_images += other._n_images
        return self

    def compute(self) -> EvaluationResult:
        """The ``EvaluationResult`` of every image seen (updated and merged)."""
        self._flush()
        opts = self._options
        if self._states:
            state = MatchState.concat([s.unpack() for s in self._states])
        else:
            state = MatchState.empty(len(opts.area_ranges), opts.iou_thresholds.shape[0])
        cats = unique_ints(state.det_cat, state.gt_cat) if self._category_ids is None else self._category_ids
        return EvaluationResult.from_accumulation(accumulate(state, opts, cats), opts)
