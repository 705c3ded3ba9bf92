"""Accumulation: precision-recall curves and average precision.

This is pycocotools' ``COCOeval.accumulate`` for every category ``k``, area
range ``a`` and ``max_detections`` entry ``m``:

1. the category's detections of every image are concatenated in image order
   (each image's detections already sorted by decreasing score, stable, and cut
   to ``max_detections[m]``), then sorted by decreasing score with a *stable*
   sort, so cross-image ties keep image order;
2. for each IoU threshold, cumulative true positives (matched, not ignored) and
   false positives (unmatched, not ignored) give ``recall = tp / n_gt`` and
   ``precision = tp / (tp + fp + eps)`` (``eps = np.spacing(1)``, as
   pycocotools); ignored detections stay in the sequence and repeat the
   previous point;
3. precision is made monotone (``p[i] = max(p[i:])``) and sampled at the recall
   thresholds with ``searchsorted(recall, r, side="left")``; thresholds beyond
   the last recall get precision 0 (and score 0).

Interpolation modes (``interpolation=``):

* ``"coco"``: 101 recall thresholds ``0, 0.01, ..., 1``; AP is the mean of the
  101 sampled precisions (pycocotools).
* ``"voc11"``: PASCAL VOC2007's 11-point AP: the same sampling at
  ``0, 0.1, ..., 1`` (the maximum precision at recall ``>= r``, 0 when ``r`` is
  never reached), averaged.  The ``precision``/``scores`` arrays then have
  ``R = 11``.
* ``"voc"``: all-point AP (VOC2010+, DOTA): the area under the monotone
  precision envelope, ``sum_i (r_i - r_{i-1}) * p_env[i]``.  The ``precision``
  and ``scores`` arrays are still sampled at COCO's 101 recall thresholds (for
  curves), but AP is the exact area, not their mean.

A category without any non-ignored ground truth (for that area range) keeps
``-1`` everywhere, as in pycocotools.
"""

from __future__ import annotations

import numpy as np

from ._backend import kernel, parallel_kernel, prange
from ._validate import as_array, check_choice

__all__ = ["average_precision", "INTERPOLATIONS", "recall_thresholds"]

INTERPOLATIONS = ("coco", "voc11", "voc")

_EPS = float(np.spacing(1))


def recall_thresholds(interpolation: str = "coco") -> np.ndarray:
    """The recall thresholds at which precision is sampled for ``interpolation``.

    ``"coco"`` and ``"voc"``: 101 points built as pycocotools builds them;
    ``"voc11"``: the 11 points ``0, 0.1, ..., 1``.

    Examples
    --------
    >>> recall_thresholds("voc11").round(1).tolist()
    [0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0]
    >>> recall_thresholds("coco").shape
    (101,)
    """
    check_choice(interpolation, "interpolation", INTERPOLATIONS)
    if interpolation == "voc11":
        return np.linspace(0.0, 1.0, 11)
    return np.linspace(0.0, 1.00, int(np.round((1.00 - 0.0) / 0.01)) + 1, endpoint=True)


def average_precision(recall, precision, *, interpolation: str = "coco") -> float:
    """Average precision of one raw precision-recall curve.

    For users with their own true/false positive counts: ``recall`` and
    ``precision`` are the raw (un-interpolated) values after each detection,
    in order of decreasing score (``recall`` non-decreasing).

    Parameters
    ----------
    recall, precision : array-like of shape (N,)
    interpolation : {"coco", "voc11", "voc"}
        ``"coco"``: mean of the monotone precision envelope sampled at 101
        recall points (``searchsorted(side="left")``, 0 past the last recall);
        ``"voc11"``: the same at 11 points (VOC2007); ``"voc"``: the area
        under the envelope (VOC2010+ / DOTA).

    Returns
    -------
    float
        0.0 for an empty curve.

    Examples
    --------
    Two ground truths; detections TP, FP, TP:

    >>> recall = [0.5, 0.5, 1.0]
    >>> precision = [1.0, 0.5, 2 / 3]
    >>> round(average_precision(recall, precision, interpolation="voc"), 6)
    0.833333
    >>> round(average_precision(recall, precision, interpolation="voc11"), 6)
    0.848485
    >>> average_precision([], [], interpolation="coco")
    0.0
    """
    check_choice(interpolation, "interpolation", INTERPOLATIONS)
    rc = as_array(recall, "recall").reshape(-1)
    pr = as_array(precision, "precision").reshape(-1)
    if rc.shape != pr.shape:
        raise ValueError(f"recall has length {rc.shape[0]} but precision has {pr.shape[0]}")
    if rc.size and not (np.all(np.isfinite(rc)) and np.all(np.isfinite(pr))):
        raise ValueError("recall and precision must be finite")
    if rc.size > 1 and np.any(np.diff(rc) < 0):
        raise ValueError("recall must be non-decreasing (detections in order of decreasing score)")
    if rc.size == 0:
        return 0.0
    envelope = np.maximum.accumulate(pr[::-1])[::-1]
    if interpolation == "voc":
        steps = np.diff(np.concatenate(([0.0], rc)))
        return float(np.sum(steps * envelope))
    thresholds = recall_thresholds(interpolation)
    index = np.searchsorted(rc, thresholds, side="left")
    sampled = np.where(index < rc.size, envelope[np.minimum(index, rc.size - 1)], 0.0)
    return float(np.mean(sampled))


# --------------------------------------------------------------------------------------
# accumulation over categories / area ranges / max_detections


def _accumulate(cat_offsets, det_score, det_rank, det_code, n_gt, max_detections,
                rec_thresholds, interpolation, n_thresholds, backend):
    """COCOeval.accumulate on flat matching results.

    Parameters
    ----------
    cat_offsets : ndarray of shape (K + 1,), int64
        Category ``k`` owns detections ``cat_offsets[k]:cat_offsets[k+1]``,
        ordered by image and, inside an image, by decreasing score.
    det_score : ndarray of shape (D,), float64
    det_rank : ndarray of shape (D,), int64
        Position of the detection inside its (image, category) group.
    det_code : ndarray of shape (D, A, T), uint8
        0 ignored, 1 true positive, 2 false positive (:func:`detmetrics.matching._match_groups`).
    n_gt : ndarray of shape (K, A), int64
        Non-ignored ground truths per category and area range.
    max_detections : ndarray of shape (M,), int64
    rec_thresholds : ndarray of shape (R,), float64
    interpolation : {"coco", "voc11", "voc"}
    n_thresholds : int
        T (also given by ``det_code``; passed for ``D == 0``).
    backend : {"numba", "numpy"}

    Returns
    -------
    precision, scores : ndarray of shape (T, R, K, A, M)
    recall, ap : ndarray of shape (T, K, A, M)
    order : ndarray of shape (D,), int64
        The detections of each category by decreasing score (stable), as
        global indices; category ``k`` is ``order[cat_offsets[k]:cat_offsets[k+1]]``.

    Examples
    --------
    One category, one image: TP then FP, one ground truth.

    >>> import numpy as np
    >>> out = _accumulate(np.array([0, 2]), np.array([0.9, 0.8]), np.array([0, 1]),
    ...                   np.array([[[1]], [[2]]], np.uint8),
    ...                   np.array([[1]]), np.array([100]), recall_thresholds("coco"), "coco", 1, "numpy")
    >>> precision, recall, scores, ap, order = out
    >>> round(float(ap[0, 0, 0, 0]), 12), float(recall[0, 0, 0, 0]), order.tolist()
    (1.0, 1.0, [0, 1])
    """
    n_cat = cat_offsets.shape[0] - 1
    n_area = n_gt.shape[1] if n_gt.ndim == 2 else 0
    n_max = max_detections.shape[0]
    n_rec = rec_thresholds.shape[0]
    precision = -np.ones((n_thresholds, n_rec, n_cat, n_area, n_max))
    scores = -np.ones((n_thresholds, n_rec, n_cat, n_area, n_max))
    recall = -np.ones((n_thresholds, n_cat, n_area, n_max))
    ap = -np.ones((n_thresholds, n_cat, n_area, n_max))
    order = np.empty(det_score.shape[0], dtype=np.int64)
    all_point = interpolation == "voc"
    args = (cat_offsets, det_score, det_rank, det_code, n_gt, max_detections, rec_thresholds,
            all_point, _EPS, precision, recall, scores, ap, order)
    if backend == "numba":
        _accumulate_kernel(*args)
    else:
        _accumulate_reference(*args)
    return precision, recall, scores, ap, order


def _accumulate_reference(cat_offsets, det_score, det_rank, det_code, n_gt, max_detections,
                          rec_thresholds, all_point, eps, precision, recall, scores, ap, order):
    n_rec = rec_thresholds.shape[0]
    for k in range(cat_offsets.shape[0] - 1):
        c0, c1 = cat_offsets[k], cat_offsets[k + 1]
        cat_order = c0 + np.argsort(-det_score[c0:c1], kind="stable")
        order[c0:c1] = cat_order
        for m, max_det in enumerate(max_detections):
            sel = cat_order[det_rank[cat_order] < max_det]
            sorted_scores = det_score[sel]
            for a in range(n_gt.shape[1]):
                npig = n_gt[k, a]
                if npig == 0:
                    continue
                code = det_code[sel, a, :].T  # (T, nd)
                tp_sum = np.cumsum(code == 1, axis=1).astype(np.float64)
                fp_sum = np.cumsum(code == 2, axis=1).astype(np.float64)
                for t in range(tp_sum.shape[0]):
                    tp, fp = tp_sum[t], fp_sum[t]
                    nd = tp.shape[0]
                    rc = tp / npig
                    pr = tp / (fp + tp + eps)
                    recall[t, k, a, m] = rc[-1] if nd else 0.0
                    envelope = np.maximum.accumulate(pr[::-1])[::-1] if nd else pr
                    index = np.searchsorted(rc, rec_thresholds, side="left")
                    inside = index < nd
                    q = np.zeros(n_rec)
                    ss = np.zeros(n_rec)
                    q[inside] = envelope[index[inside]]
                    ss[inside] = sorted_scores[index[inside]]
                    precision[t, :, k, a, m] = q
                    scores[t, :, k, a, m] = ss
                    if all_point:
                        steps = np.diff(np.concatenate(([0.0], rc)))
                        ap[t, k, a, m] = float(np.sum(steps * envelope)) if nd else 0.0
                    else:
                        ap[t, k, a, m] = float(np.mean(q))


@kernel
def _accumulate_category(k, c0, c1, det_score, det_rank, det_code, n_gt, max_detections,
                         rec_thresholds, all_point, eps, precision, recall, scores, ap, order):
    # Same numbers as the reference, computed only where they can matter: recall changes
    # only at true positives, so ``searchsorted(recall, r, "left")`` for r > 0 lands on a
    # true positive, and the monotone envelope at a true positive is the maximum precision
    # over the true positives from there on (false positives only lower the precision,
    # ignored detections repeat it).  One pass over the detections serves every
    # max_detections entry at once (their subsets are nested).
    n_seg = c1 - c0
    n_max = max_detections.shape[0]
    neg = np.empty(n_seg, dtype=np.float64)
    for i in range(n_seg):
        neg[i] = -det_score[c0 + i]
    local = np.argsort(neg, kind="mergesort")  # stable
    first_m = np.empty(n_seg, dtype=np.int64)
    for i in range(n_seg):
        d = c0 + local[i]
        order[c0 + i] = d
        m0 = n_max
        for m in range(n_max - 1, -1, -1):
            if det_rank[d] < max_detections[m]:
                m0 = m
        first_m[i] = m0
    n_rec = rec_thresholds.shape[0]
    n_area = det_code.shape[1]
    n_thr = det_code.shape[2]
    # the category's codes in score order, one contiguous row per (area, threshold)
    codes = np.empty((n_area * n_thr, n_seg), dtype=np.uint8)
    for i in range(n_seg):
        d = c0 + local[i]
        for a in range(n_area):
            for t in range(n_thr):
                codes[a * n_thr + t, i] = det_code[d, a, t]
    ev_rc = np.empty((n_max, n_seg), dtype=np.float64)
    ev_pr = np.empty((n_max, n_seg), dtype=np.float64)
    ev_score = np.empty((n_max, n_seg), dtype=np.float64)
    first_score = np.zeros(n_max, dtype=np.float64)
    nd = np.zeros(n_max, dtype=np.int64)
    tp = np.zeros(n_max, dtype=np.float64)
    ne = np.zeros(n_max, dtype=np.int64)
    for i in range(n_seg):
        for m in range(first_m[i], n_max):
            if nd[m] == 0:
                first_score[m] = det_score[c0 + local[i]]
            nd[m] += 1
    # positions (in score order) of each max_detections subset, concatenated
    sel_start = np.zeros(n_max + 1, dtype=np.int64)
    for m in range(n_max):
        sel_start[m + 1] = sel_start[m] + nd[m]
    sel = np.empty(sel_start[n_max], dtype=np.int64)
    fill = sel_start[:n_max].copy()
    for i in range(n_seg):
        for m in range(first_m[i], n_max):
            sel[fill[m]] = i
            fill[m] += 1
    for a in range(n_gt.shape[1]):
        npig = n_gt[k, a]
        if npig == 0:
            continue
        for t in range(n_thr):
            row = a * n_thr + t
            for m in range(n_max):
                # scalar counters (no store-to-load chains); false positives branch-free
                tp_m = 0.0
                fp_m = 0
                e = 0
                for q in range(sel_start[m], sel_start[m + 1]):
                    i = sel[q]
                    c = codes[row, i]
                    if c == 1:
                        tp_m += 1.0
                        ev_rc[m, e] = tp_m / npig
                        ev_pr[m, e] = tp_m / (float(fp_m) + tp_m + eps)
                        ev_score[m, e] = det_score[c0 + local[i]]
                        e += 1
                    else:
                        fp_m += c >> 1
                tp[m] = tp_m
                ne[m] = e
            for m in range(n_max):
                n_ev = ne[m]
                recall[t, k, a, m] = tp[m] / npig if nd[m] > 0 else 0.0
                for e in range(n_ev - 1, 0, -1):
                    if ev_pr[m, e] > ev_pr[m, e - 1]:
                        ev_pr[m, e - 1] = ev_pr[m, e]
                e = 0
                total = 0.0
                for r in range(n_rec):
                    x = rec_thresholds[r]
                    if x <= 0.0:
                        # searchsorted gives index 0: envelope over everything, first detection's score
                        if nd[m] > 0:
                            precision[t, r, k, a, m] = ev_pr[m, 0] if n_ev > 0 else 0.0
                            scores[t, r, k, a, m] = first_score[m]
                        else:
                            precision[t, r, k, a, m] = 0.0
                            scores[t, r, k, a, m] = 0.0
                    else:
                        while e < n_ev and ev_rc[m, e] < x:
                            e += 1
                        if e < n_ev:
                            precision[t, r, k, a, m] = ev_pr[m, e]
                            scores[t, r, k, a, m] = ev_score[m, e]
                        else:
                            precision[t, r, k, a, m] = 0.0
                            scores[t, r, k, a, m] = 0.0
                    total += precision[t, r, k, a, m]
                if all_point:
                    area = 0.0
                    previous = 0.0
                    for q in range(n_ev):
                        area += (ev_rc[m, q] - previous) * ev_pr[m, q]
                        previous = ev_rc[m, q]
                    ap[t, k, a, m] = area
                else:
                    ap[t, k, a, m] = total / n_rec


# measured at COCO scale (80 categories, 2 cores): prange over categories ~1.8x over serial.
@parallel_kernel
def _accumulate_kernel(cat_offsets, det_score, det_rank, det_code, n_gt, max_detections,
                       rec_thresholds, all_point, eps, precision, recall, scores, ap, order):
    n_cat = cat_offsets.shape[0] - 1
    for k in prange(n_cat):
        _accumulate_category(k, cat_offsets[k], cat_offsets[k + 1], det_score, det_rank, det_code, n_gt, max_detections, rec_thresholds, all_point, eps,
                             precision, recall, scores, ap, order)
