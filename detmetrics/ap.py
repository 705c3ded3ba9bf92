"""Accumulation: precision-recall curves and average precision.

Evaluation stage 3 of 4 (after ``detmetrics.matching``, before
``detmetrics.result``): ``accumulate`` turns a ``MatchState`` into an
``Accumulation``, the arrays ``EvaluationResult`` reads.

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
* ``"ultralytics"``: ultralytics 8.4's ``compute_ap``: the curve of every
  detection with sentinels ``(0, 1)`` in front and ``(r_last, 0)``, ``(1, 0)``
  behind, its envelope linearly
  interpolated (``np.interp``) at the 101 points ``0, 0.01, ..., 1`` and
  integrated with the trapezoid rule (``_trapezoid_ap``); the ``precision`` /
  ``scores`` arrays are COCO's 101-point samples (for curves).
* ``"voc"``: all-point AP (VOC2010+, DOTA): the area under the monotone
  precision envelope, ``sum_i (r_i - r_{i-1}) * p_env[i]``.  The ``precision``
  and ``scores`` arrays are still sampled at COCO's 101 recall thresholds (for
  curves), but AP is the exact area, not their mean.

A category without any non-ignored ground truth (for that area range) keeps
``-1`` everywhere, as in pycocotools.

The mode changes only the summary of the curve; which detection matches
which object is ``detmetrics.mean_ap``'s ``matching=`` (``"coco"`` or the
VOC / DOTA devkits' ``"voc"``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ._backend import COLD_WORK, kernel, prefetch, resolve_backend
from ._validate import as_array, check_choice

__all__ = ["average_precision", "INTERPOLATIONS", "recall_thresholds", "Accumulation", "accumulate"]

INTERPOLATIONS = ("coco", "voc11", "voc", "ultralytics")

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

    Raises
    ------
    ValueError
        Lengths differ, a value is not finite or outside ``[0, 1]``, or
        ``recall`` decreases (such a "curve" has no average precision).

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
    for name, values in (("recall", rc), ("precision", pr)):
        if rc.size and (values.min() < 0 or values.max() > 1):
            bad = int(np.flatnonzero((values < 0) | (values > 1))[0])
            raise ValueError(f"{name} must be in [0, 1]; got {float(values[bad])!r} at index {bad}")
    if rc.size == 0:
        return 0.0
    if interpolation == "ultralytics":
        return _trapezoid_curve_reference(rc, pr)
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
                rec_thresholds, interpolation, n_thresholds, backend, keep_order=True):
    """COCOeval.accumulate on flat matching results.

    Parameters
    ----------
    cat_offsets : ndarray of shape (K + 1,), int64
        Category ``k`` owns detections ``cat_offsets[k]:cat_offsets[k+1]``,
        ordered by image and, inside an image, by decreasing score.
    det_score : ndarray of shape (D,), float64
    det_rank : ndarray of shape (D,), int64, or None
        Position of the detection inside its (image, category) group; None with
        packed codes whose last byte is the rank (``detmetrics._blocks``' state).
    det_code : ndarray of shape (D, A, T), uint8
        0 ignored, 1 true positive, 2 false positive (``detmetrics.matching._match_groups``);
        or ``(D, ceil(A * T / 4))``, the same codes packed (``pack_codes``), plus one
        byte, the rank, when ``det_rank`` is None.
    n_gt : ndarray of shape (K, A), int64
        Non-ignored ground truths per category and area range (the matching
        guarantees at most that many true positives per threshold, which the
        kernel relies on to size its buffers).
    max_detections : ndarray of shape (M,), int64
    rec_thresholds : ndarray of shape (R,), float64
    interpolation : {"coco", "voc11", "voc"}
    n_thresholds : int
        T (also given by ``det_code``; passed for ``D == 0``).
    backend : {"numba", "numpy"}
    keep_order : bool, default True
        False: ``order`` is not kept (None; the numba kernel sorts each category in a
        scratch of its size instead of a ``(D,)`` array).

    Returns
    -------
    precision, scores : ndarray of shape (T, R, K, A, M)
    recall, ap : ndarray of shape (T, K, A, M)
    order : ndarray of shape (D,), int64, or None
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
    all_point = interpolation == "voc"
    if backend == "numba":
        order = np.arange(det_score.shape[0], dtype=np.int64) if keep_order else None
        # the kernel writes category-major arrays (K, A, M, T[, R]): each category's block is
        # contiguous, instead of cache-missing strided writes; transposed once here
        blocks = [np.full((n_cat, n_area, n_max, n_thresholds, n_rec), -1.0) for _ in range(2)]
        blocks += [np.full((n_cat, n_area, n_max, n_thresholds), -1.0) for _ in range(2)]
        packed = det_code.ndim == 2  # (D, ceil(A * T / 4)) 2-bit codes (pack_codes)[, the rank byte]
        rank_col = det_code.shape[1] - 1 if det_rank is None else -1
        if det_rank is None:
            det_rank = np.zeros(0, dtype=np.int64)
        rows = det_code if packed else np.ascontiguousarray(det_code.reshape(det_code.shape[0], n_area * n_thresholds))
        # one kernel call per category from here: a kernel looping over the categories would cost
        # ~1 s more compilation per process (numba compiles the callee into it again), the calls
        # ~10 us each
        score_bits = np.ascontiguousarray(det_score).view(np.int64)  # the sort key's source, no copy
        bounds = cat_offsets.tolist()
        # scratch for a block of a category's detections gathered in score order (see the kernel)
        block = max(1, min(_GATHER_BLOCK, int(np.max(np.diff(cat_offsets))) if n_cat else 1))
        seq_code = np.empty(block * n_area * n_thresholds, dtype=np.uint8)
        seq_rank = np.empty(block, dtype=np.int64)
        seq_score = np.empty(block, dtype=np.float64)
        local = None if keep_order else np.empty(int(np.max(np.diff(cat_offsets))) if n_cat else 0, np.int64)
        for k in range(n_cat):
            c0, c1 = bounds[k], bounds[k + 1]
            if keep_order:
                rows_k = (c0, c1, det_score, score_bits, det_rank, rows, order)
            else:  # the category's rows as views (contiguous), sorted in a scratch of its size
                rows_k = (0, c1 - c0, det_score[c0:c1], score_bits[c0:c1], det_rank[c0:c1], rows[c0:c1], local)
            lo, hi, score_k, bits_k, rank_k, code_k, order_k = rows_k
            _accumulate_category(k, lo, hi, score_k, bits_k, rank_k, code_k, packed, rank_col, n_thresholds,
                                 n_gt, max_detections, rec_thresholds, all_point, _EPS, blocks[0], blocks[2],
                                 blocks[1], blocks[3], order_k, seq_code, seq_rank, seq_score)
        # COCOeval's axis order as views: a contiguous copy of the (T, R, K, A, M) arrays cost about
        # as much as the accumulation itself at COCO scale (80 categories: 7.8 MB each, page faults)
        precision = blocks[0].transpose(3, 4, 0, 1, 2)
        scores = blocks[1].transpose(3, 4, 0, 1, 2)
        recall = blocks[2].transpose(3, 0, 1, 2)
        ap = blocks[3].transpose(3, 0, 1, 2)
    else:
        if det_rank is None:
            det_rank = det_code[:, -1].astype(np.int64)
            det_code = det_code[:, :-1]
        if det_code.ndim == 2:
            det_code = unpack_codes(det_code, n_area, n_thresholds)
        precision = -np.ones((n_thresholds, n_rec, n_cat, n_area, n_max))
        scores = -np.ones((n_thresholds, n_rec, n_cat, n_area, n_max))
        recall = -np.ones((n_thresholds, n_cat, n_area, n_max))
        ap = -np.ones((n_thresholds, n_cat, n_area, n_max))
        order = np.arange(det_score.shape[0], dtype=np.int64)
        _accumulate_reference(cat_offsets, det_score, det_rank, det_code, n_gt, max_detections, rec_thresholds,
                              all_point, _EPS, precision, recall, scores, ap, order)
    return precision, recall, scores, ap, (order if keep_order else None)


def category_order(det_score: np.ndarray, c0: int, c1: int) -> np.ndarray:
    """Rows ``c0:c1`` by decreasing score, stable (the accumulation's order of one category)."""
    return c0 + np.argsort(-det_score[c0:c1], kind="stable")


def pack_codes(codes: np.ndarray) -> np.ndarray:
    """``(D, A, T)`` codes (0, 1, 2) as ``(D, ceil(A * T / 4))`` bytes: row ``r = a * T + t`` in byte
    ``r // 4`` at bits ``2 * (r % 4)`` (unused bits 0)."""
    n = codes.shape[0]
    flat = codes.reshape(n, int(np.prod(codes.shape[1:])))
    width = -(-flat.shape[1] // 4)
    padded = np.zeros((n, width * 4), dtype=np.uint8)
    padded[:, :flat.shape[1]] = flat
    quads = padded.reshape(n, width, 4)
    return (quads[:, :, 0] | (quads[:, :, 1] << 2) | (quads[:, :, 2] << 4) | (quads[:, :, 3] << 6)).astype(np.uint8)


def unpack_codes(packed: np.ndarray, n_area: int, n_thr: int) -> np.ndarray:
    """``pack_codes``' inverse: ``(D, A, T)`` uint8."""
    n = packed.shape[0]
    shifts = np.array([0, 2, 4, 6], dtype=np.uint8)
    every = (packed[:, :, None] >> shifts) & np.uint8(3)
    return np.ascontiguousarray(every.reshape(n, 4 * packed.shape[1])[:, :n_area * n_thr].reshape(n, n_area, n_thr))


def _accumulate_reference(cat_offsets, det_score, det_rank, det_code, n_gt, max_detections,
                          rec_thresholds, all_point, eps, precision, recall, scores, ap, order):
    # One category at a time, every (area range, threshold) row at once.  Only true positives
    # matter for the samples: ``searchsorted(recall, r, "left")`` for r > 0 lands on the true
    # positive that first reaches r (recall grows only there), and the monotone envelope at a
    # true positive is the maximum precision over the true positives from there on (between
    # two of them precision only falls); at r <= 0 it is index 0, the envelope over all and
    # the first detection's score.  A loop over (category, max_detections, area, threshold)
    # rows cost ~1 s at COCO scale (9600 rows), this ~0.1 s.  All integer bookkeeping
    # (counts, positions, ranks) is exact; the floats are the loop's operations (``tp / n``,
    # ``tp / (fp + tp + eps)``, sums left to right through ``np.cumsum``).
    n_thr = precision.shape[0]
    n_rec = rec_thresholds.shape[0]
    n_area = n_gt.shape[1]
    n_rows = n_area * n_thr
    positive_r = rec_thresholds > 0.0
    for k in range(cat_offsets.shape[0] - 1):
        c0, c1 = int(cat_offsets[k]), int(cat_offsets[k + 1])
        cat_order = c0 + np.argsort(-det_score[c0:c1], kind="stable")
        order[c0:c1] = cat_order
        npig = n_gt[k]                                        # (A,)
        if not np.any(npig):
            continue
        codes_k = det_code[cat_order].reshape(c1 - c0, n_rows)  # (n, rows): score order, area-major rows
        rank_k = det_rank[cat_order]
        score_k = det_score[cat_order]
        row_gt = np.repeat(npig, n_thr)                       # (rows,) n_gt of each row
        for m, max_det in enumerate(max_detections):
            sel = np.flatnonzero(rank_k < max_det)
            nd = sel.shape[0]
            codes = codes_k[sel] if nd < c1 - c0 else codes_k
            q = np.zeros((n_rows, n_rec))
            ss = np.zeros((n_rows, n_rec))
            area = np.zeros(n_rows)
            tp_total = np.zeros(n_rows)
            if nd:
                flat_tp = np.flatnonzero(codes == 1)              # position * rows + row, by position
                at_pm = flat_tp // n_rows
                row_pm = flat_tp - at_pm * n_rows
                # (a stable sort of int16 keys is a radix sort: ~5x faster than of int64 ones)
                by_row = np.argsort(row_pm.astype(np.int16) if n_rows < 1 << 15 else row_pm, kind="stable")
                row, at = row_pm[by_row], at_pm[by_row]          # the events by (row, position)
                tp_start = np.searchsorted(row, np.arange(n_rows + 1))
                n_ev = np.diff(tp_start)
                tp = (np.arange(row.shape[0]) - tp_start[row] + 1).astype(np.float64)
                fp = np.zeros(row.shape[0])
                if row.shape[0]:
                    # false positives up to each event: running integer counts along each row
                    fp_count = np.cumsum(np.ascontiguousarray((codes == 2).T), axis=1, dtype=np.int32)
                    fp = fp_count[row, at].astype(np.float64)
                with np.errstate(divide="ignore", invalid="ignore"):  # rows without ground truth stay -1
                    rc = tp / row_gt[row]
                pr = tp / (fp + tp + eps)
                # the envelope: maximum over the row's later events (rows padded with -1 to the
                # longest; a running maximum from the right)
                tp_total = n_ev.astype(np.float64)
                width = int(max(n_ev.max() if n_rows else 0, 1))
                event_col = (tp - 1.0).astype(np.int64)
                padded = np.full((n_rows, width), -1.0)
                padded[row, event_col] = pr
                env = np.maximum.accumulate(padded[:, ::-1], axis=1)[:, ::-1][row, event_col]
                # the event that first reaches each recall threshold (counting exactly as rc does)
                levels = np.arange(1, width + 1, dtype=np.float64)
                reach = np.full((n_rows, n_rec), width, dtype=np.int64)
                for a in range(n_area):
                    if npig[a]:
                        reach[a * n_thr:(a + 1) * n_thr] = np.searchsorted(levels / npig[a], rec_thresholds, "left")
                hit = (reach < n_ev[:, None]) & positive_r[None, :]
                event = np.where(hit, tp_start[:-1, None] + reach, 0)
                q = np.where(hit, env[event] if env.shape[0] else 0.0, 0.0)
                ss = np.where(hit, score_k[sel][at[event]] if env.shape[0] else 0.0, 0.0)
                if not positive_r.all():
                    zero = ~positive_r
                    first_env = np.where(n_ev > 0, env[np.minimum(tp_start[:-1], max(env.shape[0] - 1, 0))]
                                         if env.shape[0] else 0.0, 0.0)
                    q[:, zero] = first_env[:, None]
                    ss[:, zero] = score_k[sel[0]]
                if all_point and flat_tp.shape[0]:
                    # area under the envelope: sum over the events of (rc - previous rc) * env, in
                    # order (zeros pad the shorter rows: adding 0.0 changes no sum)
                    with np.errstate(divide="ignore", invalid="ignore"):
                        step = rc - np.where(tp > 1.0, (tp - 1.0) / row_gt[row], 0.0)
                    terms = np.zeros((n_rows, width))
                    terms[row, event_col] = step * env
                    area = np.cumsum(terms, axis=1)[:, -1]
            for a in range(n_area):
                if npig[a] == 0:
                    continue
                rows = slice(a * n_thr, (a + 1) * n_thr)
                recall[:, k, a, m] = tp_total[rows] / npig[a] if nd else 0.0
                precision[:, :, k, a, m] = q[rows]
                scores[:, :, k, a, m] = ss[rows]
                if all_point:
                    ap[:, k, a, m] = area[rows]
                else:
                    ap[:, k, a, m] = np.cumsum(q[rows], axis=1)[:, -1] / n_rec


def _accumulate_loop(cat_offsets, det_score, det_rank, det_code, n_gt, max_detections,
                     rec_thresholds, all_point, eps, precision, recall, scores, ap, order):
    """COCOeval.accumulate's loop, one curve per (category, max_detections, area, threshold): the
    specification ``_accumulate_reference`` is tested equal to (``tests/test_ap.py``)."""
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
                    # sums run left to right (np.cumsum), as the kernel's loops do: np.sum / np.mean
                    # add pairwise and could differ from the kernel in the last bit
                    if all_point:
                        steps = np.diff(np.concatenate(([0.0], rc)))
                        ap[t, k, a, m] = float(np.cumsum(steps * envelope)[-1]) if nd else 0.0
                    else:
                        ap[t, k, a, m] = float(np.cumsum(q)[-1] / n_rec)


@kernel
def _radix_order_desc(bits, c0, c1, order):
    # order[c0:c1] = c0:c1 sorted by decreasing score, stable (ties keep their order): a
    # least-significant-digit radix sort (stable by construction) on a 64-bit key made from the
    # scores' float64 bits (``bits``, the scores viewed as int64), replacing a merge sort (a third
    # of the accumulation's time at COCO scale).  The key, read as unsigned, grows as the score
    # falls: -0.0 is first made 0.0 (comparisons see them equal); a score >= 0 (sign bit clear)
    # becomes bits ^ (2**63 - 1), below 2**63 and falling as the score grows; a negative score keeps
    # its bits (sign set: above every key of a score >= 0, and growing with the magnitude).  Six
    # 11-bit digits, (key >> 11 d) & 2047; a digit every key shares is skipped.  For the top digit
    # (bits 55-63) the arithmetic shift also copies bit 63 into the digit's bits 9 and 10, which
    # keeps the digits' order (bit 63 set: >= 1792, unset: < 256).  Scratch is per category.
    n = c1 - c0
    idx = np.empty(n, dtype=np.int64)
    keys = np.empty(n, dtype=np.int64)
    idx_out = np.empty(n, dtype=np.int64)
    keys_out = np.empty(n, dtype=np.int64)
    negative_zero = -9223372036854775807 - 1
    for i in range(n):
        idx[i] = c0 + i
        v = bits[c0 + i]
        if v == negative_zero:
            v = 0
        keys[i] = v ^ 9223372036854775807 if v >= 0 else v
    count = np.empty(2048, dtype=np.int64)
    for digit in range(6):
        shift = 11 * digit
        for b in range(2048):
            count[b] = 0
        for i in range(n):
            count[(keys[i] >> shift) & 2047] += 1
        if count[(keys[0] >> shift) & 2047] == n:
            continue  # every key has this digit: the pass would not move anything
        total = 0
        for b in range(2048):
            c = count[b]
            count[b] = total
            total += c
        for i in range(n):
            b = (keys[i] >> shift) & 2047
            q = count[b]
            idx_out[q] = idx[i]
            keys_out[q] = keys[i]
            count[b] = q + 1
        idx, idx_out = idx_out, idx
        keys, keys_out = keys_out, keys
    for i in range(n):
        order[c0 + i] = idx[i]


#: detections per gathered block in ``_accumulate_category`` (4096 x (40 + 16) bytes for COCO's
#: 4 area ranges x 10 thresholds: within the L2 cache)
_GATHER_BLOCK = 4096

#: how many detections ahead that gather prefetches (``detmetrics._backend.prefetch``): measured
#: on 670k random rows of 40 bytes, 61 ns per row without, 24-25 ns with 8 or 16 ahead, 40 ns with 32
_AHEAD = 16


# Serial over categories: measured at COCO scale (80 categories, 2 shared cores) prange over
# categories did not pay (parallel 115 ms vs serial 102 ms; one category holds a sixth of the
# detections).
@kernel
def _accumulate_category(k, c0, c1, det_score, score_bits, det_rank, det_code, packed, rank_col, n_thr, n_gt,
                         max_detections,
                         rec_thresholds, all_point, eps, precision, recall, scores, ap, order, seq_code, seq_rank,
                         seq_score):
    # Same numbers as the reference, computed only where they can matter: recall changes
    # only at true positives, so ``searchsorted(recall, r, "left")`` for r > 0 lands on a
    # true positive, and the monotone envelope there is the maximum precision over the
    # true positives from there on (false positives lower the precision, ignored
    # detections repeat it).  One pass over the detections in score order serves every
    # (area, threshold) row and max_detections subset at once: false positives are
    # counted with branch-free row-vector adds, true positives (rare) are recorded as
    # events with the false-positive counts of that moment.
    n_seg = c1 - c0
    n_max = max_detections.shape[0]
    # area-major (area, threshold) rows; ``packed``: det_code holds them as 2-bit codes, four
    # per byte, row r in byte r >> 2 at bits 2 * (r & 3) (``pack_codes``); rank_col >= 0: the
    # rank is that byte of det_code (det_rank is not read)
    n_rows = n_gt.shape[1] * n_thr
    width = det_code.shape[1]
    n_rec = rec_thresholds.shape[0]
    # the category's detections by decreasing score (stable), as global indices, in order[c0:c1]
    if n_seg > 0:
        _radix_order_desc(score_bits, c0, c1, order)
    capacity = 0
    for a in range(n_gt.shape[1]):
        capacity = max(capacity, n_gt[k, a])
    capacity = min(capacity, n_seg)
    # flat 1-D buffers (each other array type costs compilation time):
    # ev_pos[r, e] -> ev_pos[r * capacity + e], ev_fp[r, e, m] -> ev_fp[(r * capacity + e) * n_max + m],
    # fp_count[m, r] -> fp_count[m * n_rows + r] (false positives first kept at level m)
    ev_pos = np.empty(n_rows * capacity, dtype=np.int64)
    ev_fp = np.empty(n_rows * capacity * n_max, dtype=np.int64)
    n_ev = np.empty(n_rows, dtype=np.int64)
    for r in range(n_rows):
        n_ev[r] = 0
    fp_count = np.empty(n_max * n_rows, dtype=np.int64)
    for q in range(n_max * n_rows):
        fp_count[q] = 0
    first_m = np.empty(n_seg, dtype=np.int64)
    first_score = np.empty(n_max, dtype=np.float64)
    nd = np.empty(n_max, dtype=np.int64)
    for m in range(n_max):
        first_score[m] = 0.0
        nd[m] = 0
    # The detections in score order, a block at a time: their codes, ranks and scores are first
    # gathered into the seq_* scratch (``block`` rows, cache-sized), a loop of independent loads
    # that prefetches the rows _AHEAD places on, where the pass below, reading each row through
    # ``order`` between its row-vector adds, waited on one miss at a time once a category's rows
    # no longer fit in the cache (accumulation at 4M detections 0.84 s -> 0.55-0.6 s CPU with the
    # gather, less with the prefetch; at 400k unchanged within noise)
    block = seq_rank.shape[0]
    for b0 in range(0, n_seg, block):
        b1 = min(b0 + block, n_seg)
        for j in range(b1 - b0):
            if b0 + j + _AHEAD < n_seg:  # the row _AHEAD places on, on its way from memory meanwhile
                ahead = order[c0 + b0 + j + _AHEAD]
                prefetch(det_code, ahead * width)
                if rank_col < 0:
                    prefetch(det_rank, ahead)
                prefetch(det_score, ahead)
            d = order[c0 + b0 + j]
            seq_rank[j] = det_code[d, rank_col] if rank_col >= 0 else det_rank[d]
            seq_score[j] = det_score[d]
            if packed:
                for r in range(n_rows):
                    seq_code[j * n_rows + r] = (det_code[d, r >> 2] >> ((r & 3) << 1)) & 3
            else:
                for r in range(n_rows):
                    seq_code[j * n_rows + r] = det_code[d, r]
        for i in range(b0, b1):
            j = i - b0
            m0 = n_max  # first max_detections entry that keeps this detection (n_max: none)
            for m in range(n_max - 1, -1, -1):
                if seq_rank[j] < max_detections[m]:
                    m0 = m
            first_m[i] = m0
            for m in range(m0, n_max):
                if nd[m] == 0:
                    first_score[m] = seq_score[j]
                nd[m] += 1
            base = j * n_rows
            # false positives counted once, at the detection's first max_detections level m0 (the count
            # at level m is the sum of levels <= m, formed at the true positives only): one pass over
            # the rows per detection instead of one per level (measured: accumulation ~1.5x faster at
            # COCO scale)
            has_tp = False
            if m0 < n_max:
                row = m0 * n_rows
                for r in range(n_rows):
                    c = seq_code[base + r]
                    fp_count[row + r] += c >> 1
                    has_tp |= c == 1
            else:
                for r in range(n_rows):
                    has_tp |= seq_code[base + r] == 1
            if has_tp:
                for r in range(n_rows):
                    if seq_code[base + r] == 1:
                        e = n_ev[r]
                        if e < capacity:
                            ev_pos[r * capacity + e] = i
                            running = 0
                            for m in range(n_max):
                                running += fp_count[m * n_rows + r]
                                ev_fp[(r * capacity + e) * n_max + m] = running
                            n_ev[r] = e + 1
    ev_rc = np.empty(capacity, dtype=np.float64)
    ev_pr = np.empty(capacity, dtype=np.float64)
    ev_score = np.empty(capacity, dtype=np.float64)
    for r in range(n_rows):
        a = r // n_thr
        t = r - a * n_thr
        npig = n_gt[k, a]
        if npig == 0:
            continue
        for m in range(n_max):
            tp_m = 0.0
            n_e = 0
            for q in range(n_ev[r]):
                i = ev_pos[r * capacity + q]
                if first_m[i] <= m:
                    tp_m += 1.0
                    ev_rc[n_e] = tp_m / npig
                    ev_pr[n_e] = tp_m / (float(ev_fp[(r * capacity + q) * n_max + m]) + tp_m + eps)
                    ev_score[n_e] = det_score[order[c0 + i]]
                    n_e += 1
            recall[k, a, m, t] = tp_m / npig if nd[m] > 0 else 0.0
            for e in range(n_e - 1, 0, -1):
                if ev_pr[e] > ev_pr[e - 1]:
                    ev_pr[e - 1] = ev_pr[e]
            e = 0
            total = 0.0
            for ri in range(n_rec):
                x = rec_thresholds[ri]
                value = 0.0
                score = 0.0
                if x <= 0.0:
                    # searchsorted gives index 0: envelope over everything, first detection's score
                    if nd[m] > 0:
                        value = ev_pr[0] if n_e > 0 else 0.0
                        score = first_score[m]
                else:
                    while e < n_e and ev_rc[e] < x:
                        e += 1
                    if e < n_e:
                        value = ev_pr[e]
                        score = ev_score[e]
                precision[k, a, m, t, ri] = value
                scores[k, a, m, t, ri] = score
                total += value
            if all_point:
                area = 0.0
                previous = 0.0
                for q in range(n_e):
                    area += (ev_rc[q] - previous) * ev_pr[q]
                    previous = ev_rc[q]
                ap[k, a, m, t] = area
            else:
                ap[k, a, m, t] = total / n_rec


# --------------------------------------------------------------------------------------
# ultralytics' 101-point trapezoid over the linearly interpolated envelope

#: ``cold_work`` of the trapezoid's call site (see ``detmetrics._backend.resolve_backend``)
_TRAPEZOID_COLD_WORK = 1_000_000

#: ultralytics' integration points, ``np.linspace(0, 1, 101)``
_TRAPEZOID_X = np.linspace(0.0, 1.0, 101)


def _trapezoid_curve_reference(rc: np.ndarray, pr: np.ndarray) -> float:
    """ultralytics' ``compute_ap`` (method ``"interp"``) of one curve, sums left to right."""
    mrec = np.concatenate(([0.0], rc, [rc[-1]], [1.0]))
    mpre = np.concatenate(([1.0], pr, [0.0], [0.0]))
    mpre = np.flip(np.maximum.accumulate(np.flip(mpre)))
    y = np.interp(_TRAPEZOID_X, mrec, mpre)
    return float(np.cumsum(np.diff(_TRAPEZOID_X) * (y[1:] + y[:-1]) / 2.0)[-1])


def _trapezoid_ap(cat_offsets, order, det_rank, det_code, n_gt, max_detections, backend):
    """AP ``(T, K, A, M)`` with ultralytics' integration, from the accumulation's inputs.

    ``order`` holds each category's detections by decreasing score (``_accumulate``'s
    output); ignored detections (code 0) are left out of the curve; categories without
    ground truth get -1, categories without detections 0.

    Examples
    --------
    One true positive then one false positive, one ground truth:

    >>> import numpy as np
    >>> ap = _trapezoid_ap(np.array([0, 2]), np.array([0, 1]), np.array([0, 1]),
    ...                    np.array([[[1]], [[2]]], np.uint8), np.array([[1]]), np.array([100]), "numpy")
    >>> round(float(ap[0, 0, 0, 0]), 6)
    0.995
    """
    n_thr = det_code.shape[2] if det_code.ndim == 3 else 0
    ap = -np.ones((n_thr, cat_offsets.shape[0] - 1, n_gt.shape[1], max_detections.shape[0]))
    args = (cat_offsets, order, det_rank, det_code, n_gt, max_detections, _TRAPEZOID_X, ap)
    if backend == "numba":
        _trapezoid_ap_kernel(*args)
    else:
        _trapezoid_ap_reference(*args)
    return ap


def _trapezoid_ap_reference(cat_offsets, order, det_rank, det_code, n_gt, max_detections, x, ap):
    for k in range(cat_offsets.shape[0] - 1):
        cat_order = order[cat_offsets[k]:cat_offsets[k + 1]]
        for m, max_det in enumerate(max_detections):
            sel = cat_order[det_rank[cat_order] < max_det]
            for a in range(n_gt.shape[1]):
                if n_gt[k, a] == 0:
                    continue
                for t in range(ap.shape[0]):
                    code = det_code[sel, a, t]
                    code = code[code != 0]
                    if code.shape[0] == 0:
                        ap[t, k, a, m] = 0.0
                        continue
                    tp = np.cumsum(code == 1).astype(np.float64)
                    fp = np.cumsum(code == 2).astype(np.float64)
                    ap[t, k, a, m] = _trapezoid_curve_reference(tp / n_gt[k, a], tp / (tp + fp))


@kernel
def _trapezoid_ap_kernel(cat_offsets, order, det_rank, det_code, n_gt, max_detections, x, ap):
    n_x = x.shape[0]
    y = np.empty(n_x, dtype=np.float64)
    for k in range(cat_offsets.shape[0] - 1):
        c0 = cat_offsets[k]
        c1 = cat_offsets[k + 1]
        mrec = np.empty(c1 - c0 + 3, dtype=np.float64)
        mpre = np.empty(c1 - c0 + 3, dtype=np.float64)
        for m in range(max_detections.shape[0]):
            for a in range(n_gt.shape[1]):
                npig = n_gt[k, a]
                if npig == 0:
                    continue
                for t in range(ap.shape[0]):
                    n = 1
                    tp = 0.0
                    fp = 0.0
                    mrec[0] = 0.0
                    mpre[0] = 1.0
                    for i in range(c1 - c0):
                        d = order[c0 + i]
                        code = det_code[d, a, t]
                        if det_rank[d] >= max_detections[m] or code == 0:
                            continue
                        if code == 1:
                            tp += 1.0
                        else:
                            fp += 1.0
                        mrec[n] = tp / npig
                        mpre[n] = tp / (tp + fp)
                        n += 1
                    if n == 1:
                        ap[t, k, a, m] = 0.0
                        continue
                    mrec[n] = mrec[n - 1]
                    mpre[n] = 0.0
                    mrec[n + 1] = 1.0
                    mpre[n + 1] = 0.0
                    n += 2
                    for i in range(n - 2, -1, -1):
                        if mpre[i + 1] > mpre[i]:
                            mpre[i] = mpre[i + 1]
                    # np.interp: j is the last index with mrec[j] <= x (x in [0, 1] = [mrec[0], mrec[-1]])
                    j = 0
                    for q in range(n_x):
                        xv = x[q]
                        while j + 1 < n and mrec[j + 1] <= xv:
                            j += 1
                        if j == n - 1 or mrec[j] == xv:
                            y[q] = mpre[j]
                        else:
                            slope = (mpre[j + 1] - mpre[j]) / (mrec[j + 1] - mrec[j])
                            y[q] = slope * (xv - mrec[j]) + mpre[j]
                    total = 0.0
                    for q in range(n_x - 1):
                        total += (x[q + 1] - x[q]) * (y[q + 1] + y[q]) / 2.0
                    ap[t, k, a, m] = total


# --------------------------------------------------------------------------------------
# the stage: MatchState -> Accumulation


@dataclass(frozen=True)
class Accumulation:
    """COCOeval's accumulated arrays plus what the curves need (views of the state, no copies).

    ``precision``/``scores`` ``(T, R, K, A, M)``, ``recall``/``ap`` ``(T, K, A, M)``;
    ``n_gt`` ``(K, A)`` non-ignored ground truths; category ``k``'s detections
    by decreasing score are ``order[cat_offsets[k]:cat_offsets[k + 1]]``,
    indices into ``det_score`` / ``det_code`` (the sorted ``MatchState``'s, or the
    block-built state of ``detmetrics._blocks``: packed codes, ``pack_codes``, and
    unused rows of code 0 that no ``max_detections`` keeps, counted out by ``n_det``).
    """

    category_ids: np.ndarray
    recall_thresholds: np.ndarray
    precision: np.ndarray
    recall: np.ndarray
    scores: np.ndarray
    ap: np.ndarray
    n_gt: np.ndarray
    cat_offsets: np.ndarray
    order: np.ndarray | None
    det_score: np.ndarray
    det_code: np.ndarray
    n_det: np.ndarray | None = None  # (K,) kept detections; None: np.diff(cat_offsets)

    def category_rows(self, k: int) -> np.ndarray:
        """Category position ``k``'s detections by decreasing score (stable), indices into ``det_score``
        (``order``'s part, or sorted now when the order was not kept)."""
        c0, c1 = int(self.cat_offsets[k]), int(self.cat_offsets[k + 1])
        return self.order[c0:c1] if self.order is not None else category_order(self.det_score, c0, c1)

    def kept(self) -> np.ndarray:
        """``(K,)`` kept detections per category (a block-built state may leave unused rows)."""
        return np.diff(self.cat_offsets) if self.n_det is None else self.n_det

    def codes(self, index, area: int, t: int) -> np.ndarray:
        """The codes of the detections ``index`` at area range ``area`` and threshold ``t``."""
        if self.det_code.ndim == 3:
            return self.det_code[index, area, t]
        r = area * self.precision.shape[0] + t  # packed (pack_codes)
        return (self.det_code[index, r >> 2] >> np.uint8((r & 3) * 2)) & np.uint8(3)


def ground_truth_counts(gt_cat: np.ndarray, gt_ignored: np.ndarray, cats: np.ndarray) -> np.ndarray:
    """``(K, A)`` int64: the ground truths of each category of ``cats`` not ignored at each area range."""
    n_cat, n_area = cats.shape[0], gt_ignored.shape[1]
    gt_code = np.searchsorted(cats, gt_cat)
    n_gt = np.zeros((n_cat, n_area), dtype=np.int64)
    for a in range(n_area):
        n_gt[:, a] = np.bincount(gt_code, weights=(gt_ignored[:, a] == 0), minlength=n_cat)[:n_cat]
    return n_gt


def recall_grid(opts) -> np.ndarray:
    """The recall thresholds of ``opts``: given, or those of its interpolation."""
    return recall_thresholds(opts.interpolation) if opts.recall_thresholds is None else opts.recall_thresholds


def accumulate(state, opts, cats: np.ndarray) -> Accumulation:
    """COCOeval.accumulate over a ``MatchState`` for the categories ``cats`` (sorted int64)."""
    state = state.sorted()
    n_cat = cats.shape[0]
    n_area = len(opts.area_ranges)
    cat_offsets = np.append(np.searchsorted(state.det_cat, cats, side="left"),
                            state.det_cat.shape[0]).astype(np.int64)
    n_gt = ground_truth_counts(state.gt_cat, state.gt_ignored, cats)
    rec = recall_grid(opts)
    max_dets = np.asarray(opts.max_detections, dtype=np.int64)
    precision, recall, scores, ap, order = _accumulate(
        cat_offsets, state.det_score, state.det_rank, state.det_code, n_gt, max_dets,
        rec, opts.interpolation, opts.iou_thresholds.shape[0], accumulate_backend(state.det_score.shape[0], n_cat, opts),
    )
    if opts.interpolation == "ultralytics":
        # the trapezoid's reference loops over curves (~60 us each; 0.56 s at COCO scale), its
        # kernel compiles in ~0.7 s (plus ~0.25 s for importing numba): a first process compiles
        # it only from ~1 s of the reference's work
        ap = _trapezoid_ap(cat_offsets, order, state.det_rank, state.det_code, n_gt, max_dets,
                           resolve_backend(opts.backend, 60 * n_cat * max_dets.shape[0] * n_area
                                           * opts.iou_thresholds.shape[0] + state.det_score.shape[0] // 4,
                                           (_trapezoid_ap_kernel,), cold_work=_TRAPEZOID_COLD_WORK))
    return Accumulation(cats, rec, precision, recall, scores, ap, n_gt, cat_offsets, order,
                        state.det_score, state.det_code)


def accumulate_backend(n_det: int, n_cat: int, opts) -> str:
    """The backend ``accumulate`` runs ``n_det`` detections of ``n_cat`` categories on (``opts.backend`` resolved)."""
    # "auto": the reference spends ~0.015 us per detection, area range and threshold and ~0.1 ms
    # per (category, max_detections) (measured at COCO scale: 0.25 s for 400k x 40, 80 x 3)
    n_area, n_max = len(opts.area_ranges), len(opts.max_detections)
    return resolve_backend(opts.backend, n_det * n_area * opts.iou_thresholds.shape[0] // 64 + 100 * n_cat * n_max,
                           (_accumulate_category,), cold_work=COLD_WORK)
