"""COCO matching: per-group IoU blocks and greedy detection/ground-truth matching.

Evaluation stage 2 of 4 (after ``detmetrics._inputs``, before ``detmetrics.ap``):
``match`` turns a ``FlatData`` record into a mergeable ``MatchState``.  It is
the one place that picks the geometry (``_IOU_BLOCKS``: xywh boxes here,
rotated boxes and quads from ``detmetrics.rotated``).

Evaluation works on *groups*: the detections and ground truths of one
(image, category) pair.  Everything is flat: group ``g`` owns detections
``det_offsets[g]:det_offsets[g+1]`` (sorted by decreasing score, stable, and
already cut to the largest ``max_detections``) and ground truths
``gt_offsets[g]:gt_offsets[g+1]`` (in input order).  Two steps:

1. ``_iou_blocks`` computes one row-major ``(n_det_g, n_gt_g)`` IoU block
   per group with pycocotools' arithmetic (``maskApi.c`` ``bbIou`` on xywh
   boxes), so that an IoU sitting exactly on a threshold compares the way it
   does in pycocotools.  For a crowd ground truth the value is
   ``intersection / area(det)``.  Rotated boxes and quads get their blocks from
   ``detmetrics.rotated._iou_blocks_oriented`` instead (same layout).
2. ``_match_groups`` is geometry-free: from the blocks and the area fields
   it runs pycocotools' ``evaluateImg`` for every area range and IoU threshold:

   * a ground truth is *ignored* for an area range when it is a crowd, marked
     ``difficult`` (VOC / DOTA's flag: ordinary IoU, but never a true
     positive, and not counted) or its area is outside ``[lo, hi]`` (both
     ends inclusive); ground truths are visited non-ignored first (stable);
   * each detection, in score order, takes the unmatched ground truth with the
     highest IoU ``>= min(t, 1 - 1e-10)`` (a later candidate replaces the
     current one only when its IoU is ``>=`` the best so far, so the last of
     equal IoUs wins); crowds stay available and may take many detections; once
     a non-ignored ground truth is matched, ignored ones are not considered;
   * a detection matched to an ignored ground truth is ignored, and so is an
     unmatched detection whose area is outside the range;
   * as in pycocotools, whose match record is the ground-truth *id*, a match
     with a ground truth whose annotation id is 0 counts as no match (the
     ``gt_zero_id`` flag; ``detmetrics.mean_ap`` never produces it).

``matching="voc"`` replaces step 2 by the PASCAL VOC / DOTA devkits' rule
(``_match_groups_voc``): each detection looks only at the ground truth it
overlaps most (the first of equal IoUs); with ``iou > t`` (strict) it is a
true positive when that ground truth is free, a false positive when it is
already taken and ignored when it is ignored; otherwise a false positive.
Ignored ground truths (crowd, ``difficult``, outside the area range) and the
area rule for unmatched detections are as above; the annotation-id-0 quirk
does not apply.

Both steps have a NumPy reference that works on every group at once (whole-array passes over
all (detection, ground truth) pairs; the greedy rule stepped by detection rank across groups),
fast enough that ``backend="auto"`` answers a first COCO-scale evaluation with it instead of
compiling the kernels (``detmetrics._backend.COLD_WORK``); ``_match_groups_loop`` keeps the
per-group loop as the readable specification, tested equal.

The output is one code per detection, area range and threshold,
``det_code`` of shape ``(D, A, T)`` (uint8: ``0`` ignored, ``1`` true positive,
``2`` false positive; detection-major so that one detection's codes share a
cache line), and ``gt_ignored`` of shape ``(G, A)`` (uint8), which is all the
accumulation needs (see ``detmetrics.ap``).
"""

from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np

from ._backend import COLD_WORK, kernel, resolve_backend
from ._lookup import covers, lookup_table, positions
from ._scratch import empty

__all__ = ["MATCHING_RULES", "MatchState", "PackedState", "match"]

#: ``matching=`` rules: pycocotools', the PASCAL VOC / DOTA devkits' and ultralytics 8.4's
#: (``"ultralytics"``: COCO's greedy rule, but of equal IoUs the *first* ground truth wins, as
#: ``np.argmax`` in ``BaseValidator.match_predictions``)
MATCHING_RULES = ("coco", "voc", "ultralytics")

# pycocotools' match test is ``iou >= min(t, 1 - 1e-10)``
_IOU_CAP = 1.0 - 1e-10


def _effective_thresholds(iou_thresholds: np.ndarray, iou_test: str = ">=") -> np.ndarray:
    """The thresholds the ``>=`` kernels compare with.

    ``">="``: ``min(t, 1 - 1e-10)`` for every threshold (pycocotools' evaluateImg);
    ``">"``: the next double above ``t`` (``iou > t`` is ``iou >= nextafter(t, inf)``).
    """
    if iou_test == ">":
        return np.ascontiguousarray(np.nextafter(np.asarray(iou_thresholds, dtype=np.float64), np.inf))
    return np.ascontiguousarray([min(float(t), _IOU_CAP) for t in iou_thresholds], dtype=np.float64)


def _strict_thresholds(iou_thresholds: np.ndarray, iou_test: str = ">") -> np.ndarray:
    """The thresholds the devkits' ``>`` kernel compares with (``iou >= t`` is ``iou > nextafter(t, -inf)``)."""
    values = np.asarray(iou_thresholds, dtype=np.float64)
    if iou_test == ">=":
        values = np.nextafter(values, -np.inf)
    return np.ascontiguousarray(values)


def apply_protocol(flat, opts):
    """``flat`` with ``opts``' data switches applied: ``crowd`` / ``difficult`` (drop or count the
    flagged ground truths), ``image_budget`` (the highest scored detections of each image, across
    categories, stable) and ``box_plus_one`` (PASCAL VOC's inclusive pixel widths ``x2 - x1 + 1``).

    Boxes, masks and keypoints alike: dropped rows leave every per-row column, RLEs and keypoint
    arrays included.  ``difficult`` acts on the flag given (bit 1 of ``gt_difficult``); keypoint
    ground truths without keypoints (``NO_KEYPOINTS``) stay ignored, as COCO has them.

    Returns ``flat`` itself when no switch changes anything.
    """
    from dataclasses import replace

    from ._inputs import take_rles

    changes: dict = {}
    keep_gt = np.ones(flat.gt_label.shape[0], dtype=bool)
    crowd = flat.gt_crowd.copy()
    difficult = flat.gt_difficult.copy()
    if opts.crowd == "drop":
        keep_gt &= crowd == 0
    elif opts.crowd == "count" and np.any(crowd):
        changes["gt_crowd"] = np.zeros_like(crowd)
    if opts.difficult == "drop":
        keep_gt &= (difficult & 1) == 0
    elif opts.difficult == "count" and np.any(difficult & 1):
        changes["gt_difficult"] = np.ascontiguousarray(difficult & ~np.uint8(1))
    if opts.matching == "ultralytics" and np.any(flat.gt_zero_id):
        changes["gt_zero_id"] = np.zeros_like(flat.gt_zero_id)  # pycocotools' id-0 quirk is COCO's alone
    keep_det = None
    if opts.image_budget is not None and flat.det_score.shape[0] > opts.image_budget:
        order = np.lexsort((-flat.det_score, flat.det_img))  # by image, then decreasing score (stable)
        img = flat.det_img[order]
        starts = np.searchsorted(img, img, side="left")
        rank = np.arange(order.shape[0]) - starts
        keep_det = np.zeros(order.shape[0], dtype=bool)
        keep_det[order[rank < opts.image_budget]] = True
        if keep_det.all():
            keep_det = None
    if opts.box_plus_one:
        if flat.kind != "axis":
            what = "masks" if flat.kind == "mask" else ("keypoints" if flat.kind == "keypoints" else
                                                        f"{flat.kind} boxes")
            raise ValueError(f"box_plus_one=True (the default of protocol='voc07' and 'voc12'; pass "
                             f"box_plus_one=False) applies to axis-aligned boxes only; got {what}")
        if flat.det_area is None:
            changes["det_area"] = flat.det_areas()  # the given boxes' area, not the widened ones'
        changes["det_box"] = flat.det_box + np.array([0.0, 0.0, 1.0, 1.0])
        changes["gt_box"] = flat.gt_box + np.array([0.0, 0.0, 1.0, 1.0])
    if not keep_gt.all():
        for name in ("gt_img", "gt_label", "gt_box", "gt_area", "gt_crowd", "gt_difficult", "gt_zero_id"):
            changes[name] = np.ascontiguousarray(changes.get(name, getattr(flat, name))[keep_gt])
        if flat.gt_masks is not None:
            changes["gt_masks"] = take_rles(flat.gt_masks, np.flatnonzero(keep_gt))
        if flat.gt_kpts is not None:
            changes["gt_kpts"] = np.ascontiguousarray(flat.gt_kpts[keep_gt])
    if keep_det is not None:
        for name in ("det_img", "det_label", "det_score", "det_box", "det_area"):
            column = changes.get(name, getattr(flat, name))
            if column is not None:  # det_area None: the boxes' area, still
                changes[name] = np.ascontiguousarray(column[keep_det])
        if flat.det_masks is not None:
            changes["det_masks"] = take_rles(flat.det_masks, np.flatnonzero(keep_det))
        if flat.det_kpts is not None:
            changes["det_kpts"] = np.ascontiguousarray(flat.det_kpts[keep_det])
    return replace(flat, **changes) if changes else flat


def _reverse_within_groups(gt_order: np.ndarray, gt_offsets: np.ndarray) -> np.ndarray:
    """``gt_order`` with every group's ground truths in reverse order (COCO's last-of-equal-IoUs
    rule then picks the first of the original order)."""
    pos = np.arange(gt_order.shape[0])
    group = np.searchsorted(gt_offsets, pos, side="right") - 1
    return np.ascontiguousarray(gt_order[gt_offsets[group] + gt_offsets[group + 1] - 1 - pos])


def _block_offsets(det_offsets: np.ndarray, gt_offsets: np.ndarray) -> np.ndarray:
    sizes = np.diff(det_offsets) * np.diff(gt_offsets)
    iou_offsets = np.zeros(sizes.shape[0] + 1, dtype=np.int64)
    np.cumsum(sizes, out=iou_offsets[1:])
    return iou_offsets


# --------------------------------------------------------------------------------------
# grouping: (category, image) buckets, detections by decreasing score inside


def _group(det_cat, det_img, det_score, gt_cat, gt_img, n_cat, n_img, max_det, backend, det_area=None,
           det_box=None, box_out=None, cat_table=None, want_order=True, scratch=None):
    """Order detections and ground truths into (category, image) groups.

    ``det_cat`` / ``gt_cat`` are category positions in ``[0, n_cat)``,
    ``det_img`` / ``gt_img`` image positions in ``[0, n_img)``; a group's
    bucket is ``category * n_img + image``.  Detections are ordered by bucket
    and, inside a bucket, by decreasing score (stable), then cut to
    ``max_det`` per bucket; ground truths by bucket (stable).  Only non-empty
    buckets become groups.  The kept detections' columns come out in that
    order too, gathered while grouping (``det_box`` None: zeros; ``det_area`` None: the
    xywh boxes' area ``w * h``, computed while grouping, or zeros without boxes).
    ``box_out``, optional, is a C-contiguous float64 array of ``det_box``'s
    shape that receives the sorted boxes (the returned box column is a view of
    its first rows), so that a caller can reuse that memory afterwards.
    ``cat_table``, optional, is ``(table, lo)`` (``detmetrics._lookup.lookup_table``):
    ``det_cat`` then holds labels, each with ``table[label - lo]`` its category position
    (looked up while sorting: no array of positions).  ``want_order=False``: the returned
    ``det_order`` is None (the kernel keeps its working order in ``det_rank``'s memory).
    ``scratch``, optional, a ``detmetrics._scratch.Scratch``: the numba path's outputs
    live in its buffers (valid until the next call with the same scratch).

    Returns
    -------
    det_order, det_rank, gt_order, det_offsets, gt_offsets : ndarray, int64
        ``det_rank`` is each kept detection's position inside its group.
    columns : tuple of ndarray
        ``(score, area, box, bucket)`` of the kept detections in ``det_order``.

    Examples
    --------
    >>> import numpy as np
    >>> out = _group(np.array([0, 0, 0]), np.array([1, 0, 1]), np.array([0.5, 0.1, 0.9]),
    ...              np.array([0]), np.array([1]), 1, 2, 100, "numpy")
    >>> [x.tolist() for x in out[:5]]
    [[1, 2, 0], [0, 0, 1], [0], [0, 1, 3], [0, 0, 1]]
    >>> out[5][0].tolist()
    [0.1, 0.9, 0.5]
    """
    n_det, n_gt = det_cat.shape[0], gt_cat.shape[0]
    table, lo = (np.zeros(0, dtype=np.int64), 0) if cat_table is None else cat_table
    # no det_area with xywh boxes: the kernel multiplies w * h as it moves a row (no input array
    # of areas: at 4M boxes 32 MB of fresh pages and a pass fewer)
    box_area = det_area is None and det_box is not None
    if box_area and det_box.shape[1:] != (4,):
        raise ValueError(f"det_area=None takes the area of xywh boxes (N, 4); got boxes {det_box.shape}")
    det_box = np.zeros((n_det, 4)) if det_box is None else det_box
    if det_area is None:
        det_area = np.zeros(0 if box_area else n_det)
    if backend == "numba":
        # the order, scores, areas and boxes are sorted in place; the kept rows end up first
        det_rank = empty(scratch, "group.rank", n_det, np.int64)
        # without want_order the working order lives in det_rank's memory: the kernel writes a
        # rank only at the cut, to a row (kept) at or before the one whose order it has just read,
        # and reads no order there afterwards (at 4M boxes 32 MB of fresh pages fewer)
        order = empty(scratch, "group.order", n_det, np.int64) if want_order else det_rank
        score = empty(scratch, "group.score", n_det, np.float64)
        area = empty(scratch, "group.area", n_det, np.float64)
        width = int(np.prod(det_box.shape[1:]))  # (N, 4), (N, 5) or quads (N, 4, 2) as (N, 8)
        flat_box = np.ascontiguousarray(det_box).reshape(n_det, width)
        box = empty(scratch, "group.box", flat_box.shape, np.float64) if box_out is None else box_out.reshape(flat_box.shape)
        bucket = empty(scratch, "group.bucket", n_det, np.int64)
        gt_order = empty(scratch, "group.gt_order", n_gt, np.int64)
        # at most one group per row; only the pages of the groups found are ever touched
        det_offsets = empty(scratch, "group.det_offsets", n_det + n_gt + 1, np.int64)
        gt_offsets = empty(scratch, "group.gt_offsets", n_det + n_gt + 1, np.int64)
        k, n_groups = _group_kernel(
            _int64(det_cat), table, lo, _int64(det_img), det_score, det_area, box_area, flat_box, _int64(gt_cat),
            _int64(gt_img), max(int(n_cat), 1), max(int(n_img), 1), max_det, order, score, area, box, det_rank,
            bucket, gt_order, det_offsets, gt_offsets)
        return (order[:k] if want_order else None, det_rank[:k], gt_order, det_offsets[:n_groups + 1], gt_offsets[:n_groups + 1],
                (score[:k], area[:k], box[:k].reshape(k, *det_box.shape[1:]), bucket[:k]))
    if box_area:
        det_area = det_box[:, 2] * det_box[:, 3]
    if cat_table is not None:
        det_cat = table[np.asarray(det_cat, dtype=np.int64) - lo]
    det_key = det_cat.astype(np.int64) * n_img + det_img
    gt_key = gt_cat.astype(np.int64) * n_img + gt_img
    order, rank, gt_order, det_offsets, gt_offsets = _group_reference(det_key, det_score, gt_key, max_det,
                                                                      max(n_cat, 1) * max(n_img, 1))
    if box_out is None:
        box = np.take(det_box, order, axis=0)
    else:
        box = box_out[:order.shape[0]]
        np.take(det_box, order, axis=0, out=box)
    return order if want_order else None, rank, gt_order, det_offsets, gt_offsets, (det_score[order], det_area[order], box, det_key[order])


def _int64(values) -> np.ndarray:
    return np.ascontiguousarray(values, dtype=np.int64)


def _group_reference(det_key, det_score, gt_key, max_det, n_buckets=None):
    order = np.argsort(-det_score, kind="stable")
    order = order[np.argsort(det_key[order], kind="stable")]
    keys = det_key[order]
    idx = np.arange(keys.shape[0], dtype=np.int64)
    start = np.ones(keys.shape[0], dtype=bool)
    start[1:] = keys[1:] != keys[:-1]
    rank = idx - np.maximum.accumulate(np.where(start, idx, 0)) if keys.shape[0] else idx
    keep = rank < max_det
    order, keys, rank = order[keep], keys[keep], rank[keep]
    gt_order = np.argsort(gt_key, kind="stable")
    gt_keys = gt_key[gt_order]
    if n_buckets is not None and n_buckets <= 4 * (keys.shape[0] + gt_keys.shape[0]) + (1 << 20):
        # counts per bucket instead of np.unique's sort (~30 ms less at COCO scale)
        det_counts = np.bincount(keys, minlength=n_buckets)
        gt_counts = np.bincount(gt_keys, minlength=n_buckets)
        present = np.flatnonzero((det_counts > 0) | (gt_counts > 0))
        det_offsets = np.zeros(present.shape[0] + 1, dtype=np.int64)
        gt_offsets = np.zeros(present.shape[0] + 1, dtype=np.int64)
        np.cumsum(det_counts[present], out=det_offsets[1:])
        np.cumsum(gt_counts[present], out=gt_offsets[1:])
    else:
        groups = np.unique(np.concatenate([keys, gt_keys]))
        det_offsets = np.append(np.searchsorted(keys, groups, side="left"), keys.shape[0]).astype(np.int64)
        gt_offsets = np.append(np.searchsorted(gt_keys, groups, side="left"), gt_keys.shape[0]).astype(np.int64)
    return order.astype(np.int64), rank.astype(np.int64), gt_order.astype(np.int64), det_offsets, gt_offsets


@kernel
def _sort_desc_kernel(idx, lo, hi, score, buf):
    # Stable sort of idx[lo:hi] by decreasing score[idx[.]], written out instead of
    # np.argsort(kind="mergesort") (numba's generic merge sort costs ~1.5 s of compilation per
    # process, measured with benchmarks/bench_startup.py --compile).  The keys are copied next
    # to the indices so that the comparisons read memory sequentially: insertion sort of runs
    # of 32, then bottom-up merges through buf (>= hi - lo entries).  One copy per module that
    # uses it: numba's cache does not see edits to helpers in other files.
    n = hi - lo
    keys = np.empty(2 * n, dtype=np.float64)  # keys[:n] the keys, keys[n:] the merge buffer
    for i in range(n):
        keys[i] = score[idx[lo + i]]
    run = 32
    for s0 in range(0, n, run):
        s1 = min(s0 + run, n)
        for i in range(s0 + 1, s1):
            v = idx[lo + i]
            kv = keys[i]
            j = i - 1
            while j >= s0 and keys[j] < kv:
                idx[lo + j + 1] = idx[lo + j]
                keys[j + 1] = keys[j]
                j -= 1
            idx[lo + j + 1] = v
            keys[j + 1] = kv
    width = run
    while width < n:
        for s0 in range(0, n, 2 * width):
            mid = min(s0 + width, n)
            s1 = min(s0 + 2 * width, n)
            if mid >= s1 or keys[mid - 1] >= keys[mid]:
                continue  # nothing to merge, or already in order
            n_left = mid - s0
            for i in range(n_left):
                buf[i] = idx[lo + s0 + i]
                keys[n + i] = keys[s0 + i]
            i = 0
            j = mid
            k = s0
            while i < n_left and j < s1:
                if keys[j] > keys[n + i]:  # ties keep the left (earlier) entry first
                    idx[lo + k] = idx[lo + j]
                    keys[k] = keys[j]
                    j += 1
                else:
                    idx[lo + k] = buf[i]
                    keys[k] = keys[n + i]
                    i += 1
                k += 1
            while i < n_left:
                idx[lo + k] = buf[i]
                keys[k] = keys[n + i]
                i += 1
                k += 1
        width *= 2


@kernel
def _image_order(img, n_img):
    # the rows in image order (stable): empty when the images never decrease (a detector's output
    # written image by image, the usual layout), else a counting sort by image
    n = img.shape[0]
    for i in range(1, n):
        if img[i] < img[i - 1]:
            break
    else:
        return np.empty(0, dtype=np.int64)
    start = np.zeros(n_img + 1, dtype=np.int64)
    for i in range(n):
        start[img[i] + 1] += 1
    for m in range(n_img):
        start[m + 1] += start[m]
    out = np.empty(n, dtype=np.int64)
    for i in range(n):
        m = img[i]
        out[start[m]] = i
        start[m] += 1
    return out


@kernel
def _group_kernel(det_cat, cat_table, cat_lo, det_img, det_score, det_area, box_area, det_box, gt_cat, gt_img, n_cat,
                  n_img, max_det, order, score, area, box, det_rank, bucket, gt_order, det_offsets, gt_offsets):
    # The rows ordered by (category, image) as two stable counting sorts, least significant
    # first: by image (nothing to do when the input is in image order), then by category,
    # carrying each detection's score, area and box (and, until the end, its image) to its
    # place.  Both count tables are small (images, categories), so every pass reads its input
    # in order and writes one sequential stream per category.  The earlier single counting
    # sort over n_cat * n_img buckets hit a 32 MB table at random at 50,000 images (each row of
    # an image lands in another category's part of it), and gathering the columns through the
    # final order afterwards read each column once per category: 20-30x the time at 10x the
    # data.  Then, bucket by bucket, a stable sort by decreasing score (insertion up to 32
    # detections, nearly all buckets; else _sort_desc_kernel, the columns re-read through the
    # sorted indices), the cut to max_det compacting the columns in place (the kept rows
    # first: they are the output) and the offsets of the non-empty buckets.  Returns
    # (detections kept, groups).  A non-empty cat_table maps det_cat's labels to positions
    # (cat_table[label - cat_lo]); ``order`` may share det_rank's memory (see _group).  With
    # box_area the areas are the xywh boxes' w * h (det_area is not read).
    n_det = det_cat.shape[0]
    n_gt = gt_cat.shape[0]
    w = det_box.shape[1]  # 4 coordinates, 5 for rotated boxes, 8 for quadrilaterals
    row = np.empty(w, dtype=np.float64)
    by_img = _image_order(det_img, n_img)
    start = np.zeros(n_cat + 1, dtype=np.int64)
    lookup = cat_table.shape[0] > 0
    for i in range(n_det):
        c = cat_table[det_cat[i] - cat_lo] if lookup else det_cat[i]
        start[c + 1] += 1
    for c in range(n_cat):
        start[c + 1] += start[c]
    fill = start[:n_cat].copy()
    sorted_in = by_img.shape[0] == 0
    for p in range(n_det):
        i = p if sorted_in else by_img[p]
        c = cat_table[det_cat[i] - cat_lo] if lookup else det_cat[i]
        q = fill[c]
        fill[c] = q + 1
        order[q] = i
        score[q] = det_score[i]
        area[q] = det_box[i, 2] * det_box[i, 3] if box_area else det_area[i]
        for j in range(w):
            box[q, j] = det_box[i, j]
        bucket[q] = det_img[i]  # the image until the cut writes the bucket
    by_img = _image_order(gt_img, n_img)
    gt_start = np.zeros(n_cat + 1, dtype=np.int64)
    for i in range(n_gt):
        gt_start[gt_cat[i] + 1] += 1
    for c in range(n_cat):
        gt_start[c + 1] += gt_start[c]
    fill = gt_start[:n_cat].copy()
    gt_sorted_img = np.empty(n_gt, dtype=np.int64)
    sorted_in = by_img.shape[0] == 0
    for p in range(n_gt):
        i = p if sorted_in else by_img[p]
        c = gt_cat[i]
        q = fill[c]
        fill[c] = q + 1
        gt_order[q] = i
        gt_sorted_img[q] = gt_img[i]
    buf = np.empty(0, dtype=np.int64)  # _sort_desc_kernel's merge buffer, grown when a bucket needs it
    kept = 0
    n_groups = 0
    for c in range(n_cat):
        s0 = start[c]
        s_end = start[c + 1]
        g0 = gt_start[c]
        g_end = gt_start[c + 1]
        while s0 < s_end or g0 < g_end:
            m_det = bucket[s0] if s0 < s_end else n_img
            m_gt = gt_sorted_img[g0] if g0 < g_end else n_img
            m = m_det if m_det < m_gt else m_gt  # the next image with rows of this category
            s1 = s0
            while s1 < s_end and bucket[s1] == m:
                s1 += 1
            g1 = g0
            while g1 < g_end and gt_sorted_img[g1] == m:
                g1 += 1
            n = s1 - s0
            if n > 32:
                if buf.shape[0] < n:
                    buf = np.empty(n, dtype=np.int64)
                _sort_desc_kernel(order, s0, s1, det_score, buf)
                for q in range(s0, s1):
                    i = order[q]
                    score[q] = det_score[i]
                    area[q] = det_box[i, 2] * det_box[i, 3] if box_area else det_area[i]
                    for j in range(w):
                        box[q, j] = det_box[i, j]
            else:
                for i in range(s0 + 1, s1):  # stable: an equal score stays after the earlier one
                    v = order[i]
                    kv = score[i]
                    av = area[i]
                    for t in range(w):
                        row[t] = box[i, t]
                    j = i - 1
                    while j >= s0 and score[j] < kv:
                        order[j + 1] = order[j]
                        score[j + 1] = score[j]
                        area[j + 1] = area[j]
                        for t in range(w):
                            box[j + 1, t] = box[j, t]
                        j -= 1
                    order[j + 1] = v
                    score[j + 1] = kv
                    area[j + 1] = av
                    for t in range(w):
                        box[j + 1, t] = row[t]
            take = n if n < max_det else max_det
            if take > 0 or g1 > g0:
                det_offsets[n_groups] = kept
                gt_offsets[n_groups] = g0
                n_groups += 1
            b = c * n_img + m
            for i in range(take):  # kept <= s0 + i: compacting in place never overwrites a row still to move
                q = s0 + i
                order[kept] = order[q]
                score[kept] = score[q]
                area[kept] = area[q]
                for j in range(w):
                    box[kept, j] = box[q, j]
                det_rank[kept] = i
                bucket[kept] = b
                kept += 1
            s0 = s1
            g0 = g1
    det_offsets[n_groups] = kept
    gt_offsets[n_groups] = n_gt
    return kept, n_groups


# --------------------------------------------------------------------------------------
# IoU blocks (axis-aligned, xywh, pycocotools arithmetic)


def _iou_blocks(det_boxes_xywh, gt_boxes_xywh, gt_crowd, det_offsets, gt_offsets, backend, scratch=None):
    """Per-group IoU blocks of xywh boxes with pycocotools' ``bbIou`` arithmetic.

    Parameters
    ----------
    det_boxes_xywh, gt_boxes_xywh : ndarray of shape (D, 4), (G, 4), float64
        Validated xywh boxes, grouped by the offsets.
    gt_crowd : ndarray of shape (G,), uint8
        Non-zero for crowd ground truths (value ``intersection / area(det)``).
    det_offsets, gt_offsets : ndarray of shape (n_groups + 1,), int64
    backend : {"numba", "numpy"}
        Already resolved.
    scratch : detmetrics._scratch.Scratch, optional
        Where ``iou_flat`` lives (reused from call to call).

    Returns
    -------
    iou_flat : ndarray, float64
        Block ``g`` is ``iou_flat[iou_offsets[g]:iou_offsets[g+1]]``, row-major
        ``(n_det_g, n_gt_g)``.
    iou_offsets : ndarray of shape (n_groups + 1,), int64

    Examples
    --------
    >>> import numpy as np
    >>> det = np.array([[0., 0., 10., 10.], [5., 0., 10., 10.]])
    >>> gt = np.array([[0., 0., 10., 10.]])
    >>> off_d, off_g = np.array([0, 2]), np.array([0, 1])
    >>> iou, off = _iou_blocks(det, gt, np.zeros(1, np.uint8), off_d, off_g, "numpy")
    >>> (iou * 3).tolist(), off.tolist()
    ([3.0, 1.0], [0, 2])
    """
    det_offsets = np.ascontiguousarray(det_offsets, dtype=np.int64)
    gt_offsets = np.ascontiguousarray(gt_offsets, dtype=np.int64)
    gt_crowd = np.ascontiguousarray(gt_crowd, dtype=np.uint8)
    iou_offsets = _block_offsets(det_offsets, gt_offsets)
    iou_flat = empty(scratch, "iou", int(iou_offsets[-1]), np.float64)
    if backend == "numba":
        _iou_blocks_kernel(det_boxes_xywh, gt_boxes_xywh, gt_crowd, det_offsets, gt_offsets, iou_offsets, iou_flat)
    else:
        _iou_blocks_reference(det_boxes_xywh, gt_boxes_xywh, gt_crowd, det_offsets, gt_offsets, iou_offsets, iou_flat)
    return iou_flat, iou_offsets


def _bbox_iou_reference(d: np.ndarray, g: np.ndarray, crowd: np.ndarray) -> np.ndarray:
    """``(n_det, n_gt)`` IoU of xywh boxes exactly as ``maskApi.c`` ``bbIou`` computes it."""
    da = d[:, 2] * d[:, 3]
    ga = g[:, 2] * g[:, 3]
    w = np.minimum(d[:, None, 2] + d[:, None, 0], g[None, :, 2] + g[None, :, 0]) - np.maximum(d[:, None, 0], g[None, :, 0])
    h = np.minimum(d[:, None, 3] + d[:, None, 1], g[None, :, 3] + g[None, :, 1]) - np.maximum(d[:, None, 1], g[None, :, 1])
    inter = w * h
    union = np.where(crowd[None, :] != 0, da[:, None], (da[:, None] + ga[None, :]) - inter)
    overlap = (w > 0) & (h > 0) & (union > 0)
    return np.divide(inter, union, out=np.zeros_like(inter), where=overlap)


def _pair_index(det_offsets, gt_offsets, iou_offsets):
    """``(det, gt)`` rows of every entry of the flat IoU blocks (row-major per group), int64."""
    n_det, n_gt = np.diff(det_offsets), np.diff(gt_offsets)
    sizes = n_det * n_gt
    group = np.repeat(np.arange(sizes.shape[0], dtype=np.int64), sizes)
    local = np.arange(int(iou_offsets[-1]), dtype=np.int64) - iou_offsets[group]
    width = n_gt[group]
    rows = local // width
    return det_offsets[group] + rows, gt_offsets[group] + (local - rows * width)


def _iou_blocks_reference(det, gt, gt_crowd, det_offsets, gt_offsets, iou_offsets, out):
    # every (det, gt) pair of every group in whole-array passes (no loop over groups), with
    # the kernel's arithmetic: a per-group loop cost ~0.7 s at COCO scale (110k groups), this ~30 ms
    if out.shape[0] == 0:
        return
    i, j = _pair_index(det_offsets, gt_offsets, iou_offsets)
    d = np.take(det, i, axis=0)
    g = np.take(gt, j, axis=0)
    dx, dy, dw, dh = d[:, 0], d[:, 1], d[:, 2], d[:, 3]
    gx, gy, gw, gh = g[:, 0], g[:, 1], g[:, 2], g[:, 3]
    da = dw * dh
    w = np.minimum(dw + dx, gw + gx) - np.maximum(dx, gx)
    h = np.minimum(dh + dy, gh + gy) - np.maximum(dy, gy)
    inter = w * h
    union = np.where(gt_crowd[j] != 0, da, (da + gw * gh) - inter)
    out[:] = 0.0
    np.divide(inter, union, out=out, where=(w > 0.0) & (h > 0.0) & (union > 0.0))


# Serial: measured at COCO scale (110k groups, 2 shared cores) prange over groups did not pay
# (parallel 7.9 ms vs serial 4.9 ms).
@kernel
def _iou_blocks_kernel(det, gt, gt_crowd, det_offsets, gt_offsets, iou_offsets, out):
    n_groups = det_offsets.shape[0] - 1
    for g in range(n_groups):
        pos = iou_offsets[g]
        g0 = gt_offsets[g]
        g1 = gt_offsets[g + 1]
        for i in range(det_offsets[g], det_offsets[g + 1]):
            dx = det[i, 0]
            dy = det[i, 1]
            dw = det[i, 2]
            dh = det[i, 3]
            da = dw * dh
            for j in range(g0, g1):
                gx = gt[j, 0]
                gy = gt[j, 1]
                gw = gt[j, 2]
                gh = gt[j, 3]
                value = 0.0
                w = min(dw + dx, gw + gx) - max(dx, gx)
                if w > 0.0:
                    h = min(dh + dy, gh + gy) - max(dy, gy)
                    if h > 0.0:
                        inter = w * h
                        if gt_crowd[j] != 0:
                            union = da
                        else:
                            union = (da + gw * gh) - inter
                        if union > 0.0:
                            value = inter / union
                out[pos] = value
                pos += 1


# --------------------------------------------------------------------------------------
# greedy matching (geometry-free)


def _match_groups(iou_flat, iou_offsets, det_offsets, gt_offsets, det_area, gt_area, gt_crowd, gt_zero_id,
                  area_ranges, thresholds, backend, gt_difficult=None, out=None):
    """pycocotools' ``evaluateImg`` for every group, area range and IoU threshold.

    Parameters
    ----------
    iou_flat, iou_offsets : the blocks from ``_iou_blocks`` (or the oriented hook).
    det_offsets, gt_offsets : ndarray of shape (n_groups + 1,), int64
    det_area, gt_area : ndarray of shape (D,), (G,), float64
        Areas compared with the area ranges (detections: box area; ground
        truths: their ``area`` field).
    gt_crowd, gt_zero_id : ndarray of shape (G,), uint8
    area_ranges : ndarray of shape (A, 2), float64
    thresholds : ndarray of shape (T,), float64
        Effective thresholds ``min(t, 1 - 1e-10)`` (``_effective_thresholds``).
    backend : {"numba", "numpy"}
    gt_difficult : ndarray of shape (G,), uint8, optional
        Ground truths ignored at every area range (with their ordinary IoU).
    out : ndarray of shape (D, A, T), uint8, optional
        C-contiguous; receives ``det_code`` (every entry is written).

    Returns
    -------
    det_code : ndarray of shape (D, A, T), uint8
        0 ignored, 1 true positive (matched, not ignored), 2 false positive.
    gt_ignored : ndarray of shape (G, A), uint8

    Examples
    --------
    One group, two detections on one ground truth: the higher-scored one matches.

    >>> import numpy as np
    >>> code, gig = _match_groups(
    ...     np.array([0.9, 0.8]), np.array([0, 2]), np.array([0, 2]), np.array([0, 1]),
    ...     np.array([100.0, 100.0]), np.array([100.0]), np.zeros(1, np.uint8), np.zeros(1, np.uint8),
    ...     np.array([[0.0, 1e10]]), np.array([0.5]), "numpy")
    >>> code.tolist(), gig.tolist()
    ([[[1]], [[2]]], [[0]])
    """
    n_det = det_area.shape[0]
    n_area = area_ranges.shape[0]
    n_thr = thresholds.shape[0]
    det_code = _code_array(out, (n_det, n_area, n_thr))
    gt_ignored = _ignored_ground_truths(gt_area, _always_ignored(gt_crowd, gt_difficult), area_ranges)
    args = (iou_flat, iou_offsets, det_offsets, gt_offsets, det_area, gt_crowd, gt_zero_id,
            area_ranges, thresholds, det_code, gt_ignored)
    if backend == "numba":
        _match_groups_kernel(*args)
    else:
        _match_groups_reference(*args)
    return det_code, gt_ignored


def _code_array(out, shape) -> np.ndarray:
    """``out`` (checked: uint8, C-contiguous, ``shape``) or a new uint8 array of ``shape``."""
    if out is None:
        return np.empty(shape, dtype=np.uint8)
    if out.dtype != np.uint8 or out.shape != shape or not out.flags.c_contiguous:
        raise ValueError(f"out must be a C-contiguous uint8 array of shape {shape}; got {out.dtype} {out.shape}")
    return out


def _always_ignored(gt_crowd, gt_difficult):
    if gt_difficult is None:
        return gt_crowd
    return np.ascontiguousarray((gt_crowd != 0) | (gt_difficult != 0), dtype=np.uint8)


def _ignored_ground_truths(gt_area, always, area_ranges):
    """``(G, A)`` uint8: crowd / difficult (``always``) or area outside ``[lo, hi]``."""
    lo, hi = area_ranges[:, 0], area_ranges[:, 1]
    out = (always[:, None] != 0) | (gt_area[:, None] < lo[None, :]) | (gt_area[:, None] > hi[None, :])
    return np.ascontiguousarray(out, dtype=np.uint8)


def _match_groups_reference(iou_flat, iou_offsets, det_offsets, gt_offsets, det_area, gt_crowd,
                            gt_zero_id, area_ranges, thresholds, det_code, gt_ignored):
    # pycocotools' greedy loop, vectorised across groups (a loop over groups cost ~20 s of CPU at
    # COCO scale, this ~0.1 s).  Only pairs with IoU >= the lowest threshold can ever be chosen
    # (the others only hit ``continue``, or the ignore ``break`` of the loop), so the detections
    # without such a candidate are false positives (ignored outside the area range) at once.
    # The others are matched in steps: step s takes the s-th such detection of every group at
    # the same time (two detections of one step never share a ground truth), every area range
    # and threshold as array axes.  The loop's choice among the still available candidates
    # (crowds stay available) with IoU >= t: a non-ignored ground truth if there is one, of
    # those the highest IoU, of equal IoUs the last one in input order; that is the maximum
    # of the integer key (not ignored, IoU rank, position in the group), exact.
    n_area, n_thr = area_ranges.shape[0], thresholds.shape[0]
    outside = (det_area[:, None] < area_ranges[None, :, 0]) | (det_area[:, None] > area_ranges[None, :, 1])
    det_code[:] = np.where(outside, 0, 2).astype(np.uint8)[:, :, None]
    if iou_flat.shape[0] == 0 or n_thr == 0:
        return
    pair = np.flatnonzero(iou_flat >= thresholds.min())
    if pair.shape[0] == 0:
        return
    group = np.searchsorted(iou_offsets, pair, side="right") - 1
    n_gt = (gt_offsets[1:] - gt_offsets[:-1])[group]
    local = pair - iou_offsets[group]
    det = det_offsets[group] + local // n_gt
    col = local - (local // n_gt) * n_gt
    gt = gt_offsets[group] + col
    iou = iou_flat[pair]
    # the detections with candidates, and each one's step (its position among them in its group)
    first = np.ones(pair.shape[0], dtype=bool)
    first[1:] = det[1:] != det[:-1]
    seg = np.cumsum(first) - 1                      # candidate -> active detection
    active_det, active_group = det[first], group[first]
    new_group = np.ones(active_det.shape[0], dtype=bool)
    new_group[1:] = active_group[1:] != active_group[:-1]
    pos = np.arange(active_det.shape[0])
    step = pos - np.maximum.accumulate(np.where(new_group, pos, 0))
    # candidates by (step, detection, ground-truth position)
    by_step = np.argsort(step[seg], kind="stable")
    step_bounds = np.searchsorted(step[seg][by_step], np.arange(int(step.max()) + 2), side="left")
    ranks = np.unique(iou, return_inverse=True)[1].reshape(-1).astype(np.int64)
    width = int(n_gt.max())
    n_ranks = int(ranks.max()) + 1
    ignored = gt_ignored[gt] != 0                   # (P, A)
    key = ((~ignored) * n_ranks + ranks[:, None]) * width + col[:, None]   # (P, A)
    above = iou[:, None] >= thresholds[None, :]    # (P, T)
    free_always = gt_crowd[gt] != 0
    taken = np.zeros((gt_ignored.shape[0], n_area, n_thr), dtype=bool)
    for s in range(step_bounds.shape[0] - 1):
        p = by_step[step_bounds[s]:step_bounds[s + 1]]
        g = gt[p]
        valid = above[p][:, None, :] & (free_always[p][:, None, None] | ~taken[g])
        k = np.where(valid, key[p][:, :, None], -1)
        starts = np.flatnonzero(np.concatenate(([True], seg[p][1:] != seg[p][:-1])))
        best = np.maximum.reduceat(k, starts, axis=0)               # (n, A, T)
        d = det[p[starts]]
        has = best >= 0
        win = gt_offsets[group[p[starts]]][:, None, None] + best % width   # valid where has
        win = np.where(has, win, 0)
        a_idx = np.broadcast_to(np.arange(n_area)[None, :, None], best.shape)
        t_idx = np.broadcast_to(np.arange(n_thr)[None, None, :], best.shape)
        taken[win[has], a_idx[has], t_idx[has]] = True
        win_ignored = gt_ignored[win, a_idx] != 0
        matched = has & (gt_zero_id[win] == 0)
        out = outside[d][:, :, None]
        code = np.where(has & (win_ignored | (~matched & out)), 0, np.where(matched, 1, np.where(out, 0, 2)))
        det_code[d] = code.astype(np.uint8)


def _match_groups_loop(iou_flat, iou_offsets, det_offsets, gt_offsets, det_area, gt_crowd,
                       gt_zero_id, area_ranges, thresholds, det_code, gt_ignored):
    """pycocotools' ``evaluateImg`` loop, group by group: the specification ``_match_groups_reference``
    is tested equal to (``tests/test_matching.py``); too slow for COCO scale (~20 s of CPU)."""
    for a, (lo, hi) in enumerate(area_ranges):
        det_outside = (det_area < lo) | (det_area > hi)
        for g in range(det_offsets.shape[0] - 1):
            d0, d1 = det_offsets[g], det_offsets[g + 1]
            g0, g1 = gt_offsets[g], gt_offsets[g + 1]
            n_d, n_g = d1 - d0, g1 - g0
            ious = iou_flat[iou_offsets[g]:iou_offsets[g + 1]].reshape(n_d, n_g)
            ignored = gt_ignored[g0:g1, a]
            order = np.argsort(ignored, kind="stable")  # non-ignored ground truths first
            crowd = gt_crowd[g0:g1]
            for t, threshold in enumerate(thresholds):
                taken = np.zeros(n_g, dtype=bool)
                for i in range(n_d):
                    best, m = threshold, -1
                    for j in order:
                        if taken[j] and not crowd[j]:
                            continue
                        if m > -1 and not ignored[m] and ignored[j]:
                            break
                        if ious[i, j] < best:
                            continue
                        best, m = ious[i, j], j
                    matched = m > -1 and not gt_zero_id[g0 + m]
                    if m > -1:
                        taken[m] = True
                    is_ignored = (m > -1 and ignored[m]) or (not matched and det_outside[d0 + i])
                    det_code[d0 + i, a, t] = 0 if is_ignored else (1 if matched else 2)


# Each group first collects, per detection, its candidate ground truths (IoU >= the smallest
# threshold): any other ground truth would only ever hit ``continue`` or the ignore ``break``
# (the order is non-ignored first), so skipping it changes nothing, and most detections have
# 0-2 candidates.  Serial: measured at COCO scale (2 shared cores) prange over groups did not
# pay (parallel 92 ms vs serial 74 ms).
@kernel
def _match_groups_kernel(iou_flat, iou_offsets, det_offsets, gt_offsets, det_area, gt_crowd,
                         gt_zero_id, area_ranges, thresholds, det_code, gt_ignored):
    n_area = area_ranges.shape[0]
    n_thr = thresholds.shape[0]
    n_groups = det_offsets.shape[0] - 1
    lowest = thresholds[0]
    for t in range(n_thr):
        lowest = min(lowest, thresholds[t])
    for g in range(n_groups):
        d0 = det_offsets[g]
        d1 = det_offsets[g + 1]
        g0 = gt_offsets[g]
        n_d = d1 - d0
        n_g = gt_offsets[g + 1] - g0
        if n_d == 0:
            continue
        base = iou_offsets[g]
        if n_g == 0:
            for a in range(n_area):
                for i in range(d0, d1):
                    outside = det_area[i] < area_ranges[a, 0] or det_area[i] > area_ranges[a, 1]
                    for t in range(n_thr):
                        det_code[i, a, t] = 0 if outside else 2
            continue
        # candidates of each detection, in ground-truth input order
        cand_start = np.empty(n_d + 1, dtype=np.int64)
        n_cand = 0
        for i in range(n_d):
            row = base + i * n_g
            for j in range(n_g):
                if iou_flat[row + j] >= lowest:
                    n_cand += 1
        cand = np.empty(n_cand, dtype=np.int64)
        visit = np.empty(n_cand, dtype=np.int64)
        taken = np.empty(n_g, dtype=np.uint8)
        c = 0
        for i in range(n_d):
            cand_start[i] = c
            row = base + i * n_g
            for j in range(n_g):
                if iou_flat[row + j] >= lowest:
                    cand[c] = j
                    c += 1
        cand_start[n_d] = c
        # detections with candidates ("active"); the others are false positives or, outside
        # the area range, ignored, at every threshold
        active = np.empty(n_d, dtype=np.int64)
        n_active = 0
        for i in range(n_d):
            if cand_start[i + 1] > cand_start[i]:
                active[n_active] = i
                n_active += 1
        for a in range(n_area):
            lo = area_ranges[a, 0]
            hi = area_ranges[a, 1]
            for i in range(n_d):
                if cand_start[i + 1] == cand_start[i]:
                    d = d0 + i
                    value = 0 if (det_area[d] < lo or det_area[d] > hi) else 2
                    for t in range(n_thr):
                        det_code[d, a, t] = value
            if n_active == 0:
                continue
            # visiting order per detection: non-ignored candidates first (stable)
            for i in range(n_d):
                k = cand_start[i]
                for q in range(cand_start[i], cand_start[i + 1]):
                    if gt_ignored[g0 + cand[q], a] == 0:
                        visit[k] = cand[q]
                        k += 1
                for q in range(cand_start[i], cand_start[i + 1]):
                    if gt_ignored[g0 + cand[q], a] != 0:
                        visit[k] = cand[q]
                        k += 1
            for t in range(n_thr):
                for j in range(n_g):
                    taken[j] = 0
                for p in range(n_active):
                    i = active[p]
                    best = thresholds[t]
                    m = -1
                    row = base + i * n_g
                    for q in range(cand_start[i], cand_start[i + 1]):
                        j = visit[q]
                        if taken[j] != 0 and gt_crowd[g0 + j] == 0:
                            continue
                        if m > -1 and gt_ignored[g0 + m, a] == 0 and gt_ignored[g0 + j, a] != 0:
                            break
                        value = iou_flat[row + j]
                        if value < best:
                            continue
                        best = value
                        m = j
                    d = d0 + i
                    outside = det_area[d] < lo or det_area[d] > hi
                    if m > -1:
                        taken[m] = 1
                        matched = gt_zero_id[g0 + m] == 0
                        if gt_ignored[g0 + m, a] != 0 or (not matched and outside):
                            det_code[d, a, t] = 0
                        else:
                            det_code[d, a, t] = 1 if matched else 2
                    else:
                        det_code[d, a, t] = 0 if outside else 2


# --------------------------------------------------------------------------------------
# VOC / DOTA devkit matching


def _match_groups_voc(iou_flat, iou_offsets, det_offsets, gt_offsets, det_area, gt_area, gt_crowd, area_ranges,
                      thresholds, backend, gt_difficult=None, out=None):
    """The VOC / DOTA devkits' ``voc_eval`` matching for every group, area range and threshold.

    Same inputs and outputs as ``_match_groups``, except that
    ``thresholds`` are the raw IoU thresholds (the test is ``iou > t``).

    Examples
    --------
    One detection overlapping two ground truths, the better one already taken by a
    higher-scored detection: a false positive here, a true positive under COCO's rule.

    >>> import numpy as np
    >>> args = (np.array([0.9, 0.1, 0.8, 0.6]), np.array([0, 4]), np.array([0, 2]), np.array([0, 2]),
    ...         np.array([100.0, 100.0]), np.array([100.0, 100.0]), np.zeros(2, np.uint8),
    ...         np.array([[0.0, 1e10]]), np.array([0.5]))
    >>> code, _ = _match_groups_voc(*args, "numpy")
    >>> code[:, 0, 0].tolist()
    [1, 2]
    >>> _match_groups(*args[:7], np.zeros(2, np.uint8), *args[7:], "numpy")[0][:, 0, 0].tolist()
    [1, 1]
    """
    n_det = det_area.shape[0]
    det_code = _code_array(out, (n_det, area_ranges.shape[0], thresholds.shape[0]))
    gt_ignored = _ignored_ground_truths(gt_area, _always_ignored(gt_crowd, gt_difficult), area_ranges)
    args = (iou_flat, iou_offsets, det_offsets, gt_offsets, det_area, area_ranges, thresholds, det_code, gt_ignored)
    if backend == "numba":
        _match_groups_voc_kernel(*args)
    else:
        _match_groups_voc_reference(*args)
    return det_code, gt_ignored


def _match_groups_voc_reference(iou_flat, iou_offsets, det_offsets, gt_offsets, det_area, area_ranges,
                                thresholds, det_code, gt_ignored):
    # The devkits' rule vectorised across groups: each detection's best ground truth (the first
    # of equal IoUs) does not depend on the threshold or the area range, and of the detections
    # whose best is ground truth m with IoU > t, the first in score order takes m (unless m is
    # ignored at that area range: then all of them are ignored) and the later ones find it
    # taken, so no step-by-step loop is needed.  The devkits' loop: ``_match_groups_voc_loop``.
    n_thr = thresholds.shape[0]
    outside = (det_area[:, None] < area_ranges[None, :, 0]) | (det_area[:, None] > area_ranges[None, :, 1])
    det_code[:] = np.where(outside, 0, 2).astype(np.uint8)[:, :, None]
    if iou_flat.shape[0] == 0 or n_thr == 0:
        return
    # each detection's row of its IoU block: the maximum, then its first position
    n_det, n_gt = np.diff(det_offsets), np.diff(gt_offsets)
    rows_g = np.flatnonzero((n_det > 0) & (n_gt > 0))
    row_gt = np.repeat(n_gt[rows_g], n_det[rows_g])             # per detection with a block row
    det = np.repeat(det_offsets[rows_g], n_det[rows_g]) + (
        np.arange(int(n_det[rows_g].sum())) - np.repeat(np.cumsum(n_det[rows_g]) - n_det[rows_g], n_det[rows_g]))
    starts = np.zeros(det.shape[0], dtype=np.int64)
    np.cumsum(row_gt[:-1], out=starts[1:])                      # the rows are consecutive in iou_flat
    best_iou = np.maximum.reduceat(iou_flat, starts)
    row_of = np.repeat(np.arange(det.shape[0]), row_gt)
    at_max = np.flatnonzero(iou_flat == best_iou[row_of])
    first = np.ones(at_max.shape[0], dtype=bool)
    first[1:] = row_of[at_max[1:]] != row_of[at_max[:-1]]
    best_pos = at_max[first] - starts                           # the first maximum of each row
    group = np.repeat(rows_g, n_det[rows_g])
    best = gt_offsets[group] + best_pos                         # global ground-truth index
    for t in range(n_thr):
        hit = np.flatnonzero(best_iou > thresholds[t])
        if hit.shape[0] == 0:
            continue
        d, m = det[hit], best[hit]
        taker = np.zeros(hit.shape[0], dtype=bool)
        taker[np.unique(m, return_index=True)[1]] = True        # first (highest scored) per ground truth
        ignored = gt_ignored[m] != 0                            # (n, A)
        out = outside[d]
        code = np.where(ignored, 0, np.where(taker[:, None], 1, np.where(out, 0, 2)))
        det_code[d, :, t] = code.astype(np.uint8)


def _match_groups_voc_loop(iou_flat, iou_offsets, det_offsets, gt_offsets, det_area, area_ranges,
                           thresholds, det_code, gt_ignored):
    """The devkits' ``voc_eval`` loop, group by group: the specification ``_match_groups_voc_reference``
    is tested equal to (``tests/test_voc_matching.py``)."""
    for g in range(det_offsets.shape[0] - 1):
        d0, d1 = det_offsets[g], det_offsets[g + 1]
        g0, g1 = gt_offsets[g], gt_offsets[g + 1]
        n_d, n_g = d1 - d0, g1 - g0
        if n_d == 0:
            continue
        ious = iou_flat[iou_offsets[g]:iou_offsets[g + 1]].reshape(n_d, n_g)
        best = np.argmax(ious, axis=1) if n_g else np.full(n_d, -1)  # first of equal IoUs
        best_iou = ious[np.arange(n_d), best] if n_g else np.zeros(n_d)
        for a, (lo, hi) in enumerate(area_ranges):
            outside = (det_area[d0:d1] < lo) | (det_area[d0:d1] > hi)
            ignored = gt_ignored[g0:g1, a]
            for t, threshold in enumerate(thresholds):
                taken = np.zeros(n_g, dtype=bool)
                for i in range(n_d):
                    m = best[i]
                    if m < 0 or not best_iou[i] > threshold:
                        code = 0 if outside[i] else 2
                    elif ignored[m]:
                        code = 0
                    elif taken[m]:
                        code = 0 if outside[i] else 2
                    else:
                        taken[m] = True
                        code = 1
                    det_code[d0 + i, a, t] = code


@kernel
def _match_groups_voc_kernel(iou_flat, iou_offsets, det_offsets, gt_offsets, det_area, area_ranges, thresholds,
                             det_code, gt_ignored):
    n_area = area_ranges.shape[0]
    n_thr = thresholds.shape[0]
    for g in range(det_offsets.shape[0] - 1):
        d0 = det_offsets[g]
        n_d = det_offsets[g + 1] - d0
        g0 = gt_offsets[g]
        n_g = gt_offsets[g + 1] - g0
        if n_d == 0:
            continue
        # each detection's best ground truth does not depend on the area range or threshold
        best = np.full(n_d, -1, dtype=np.int64)
        best_iou = np.zeros(n_d, dtype=np.float64)
        base = iou_offsets[g]
        for i in range(n_d):
            row = base + i * n_g
            for j in range(n_g):
                if best[i] < 0 or iou_flat[row + j] > best_iou[i]:
                    best[i] = j
                    best_iou[i] = iou_flat[row + j]
        taken = np.empty(n_g, dtype=np.uint8)
        for a in range(n_area):
            lo = area_ranges[a, 0]
            hi = area_ranges[a, 1]
            for t in range(n_thr):
                taken[:] = 0
                threshold = thresholds[t]
                for i in range(n_d):
                    d = d0 + i
                    outside = det_area[d] < lo or det_area[d] > hi
                    m = best[i]
                    if m < 0 or not best_iou[i] > threshold:
                        code = 0 if outside else 2
                    elif gt_ignored[g0 + m, a] != 0:
                        code = 0
                    elif taken[m] != 0:
                        code = 0 if outside else 2
                    else:
                        taken[m] = 1
                        code = 1
                    det_code[d, a, t] = code


# --------------------------------------------------------------------------------------
# the stage: FlatData -> MatchState


@dataclass
class MatchState:
    """Per-detection matching results in (category, image, rank) order, plus ground-truth ignore flags.

    All an accumulation needs, and nothing more (no boxes): the ``Evaluator``
    keeps and merges these.
    """

    det_cat: np.ndarray      # (D,) int64 label
    det_img: np.ndarray      # (D,) int64 image key
    det_score: np.ndarray    # (D,) float64
    det_rank: np.ndarray     # (D,) int64 position in its (image, category) group
    det_code: np.ndarray     # (D, A, T) uint8: 0 ignored, 1 true positive, 2 false positive
    gt_cat: np.ndarray       # (G,) int64
    gt_img: np.ndarray       # (G,) int64
    gt_ignored: np.ndarray   # (G, A) uint8

    @classmethod
    def empty(cls, n_area: int, n_thr: int) -> "MatchState":
        z = np.zeros(0, np.int64)
        return cls(z, z, np.zeros(0), z, np.zeros((0, n_area, n_thr), np.uint8), z, z, np.zeros((0, n_area), np.uint8))

    @classmethod
    def concat(cls, states: list) -> "MatchState":
        if len(states) == 1:
            return states[0]
        return cls(*(np.concatenate([getattr(s, f.name) for s in states], axis=0) for f in fields(cls)))

    def shifted(self, shift: int) -> "MatchState":
        """The same state with image keys moved by ``shift`` (merging unkeyed evaluators)."""
        moved = MatchState(**{f.name: getattr(self, f.name) for f in fields(self)})
        moved.det_img = self.det_img + shift
        moved.gt_img = self.gt_img + shift
        return moved

    def pack(self) -> "PackedState":
        """The compact form the Evaluator keeps and ships (see ``PackedState``)."""
        return PackedState.pack(self)

    def sorted(self) -> "MatchState":
        """The state in (category, image key, rank) order (itself when it already is)."""
        c, i, r = self.det_cat, self.det_img, self.det_rank
        if c.shape[0] > 1:
            same_c = c[1:] == c[:-1]
            same_i = same_c & (i[1:] == i[:-1])
            ok = (c[1:] > c[:-1]) | (same_c & (i[1:] > i[:-1])) | (same_i & (r[1:] > r[:-1]))
            if not ok.all():
                order = np.lexsort((r, i, c))
                return MatchState(c[order], i[order], self.det_score[order], r[order], self.det_code[order],
                                  self.gt_cat, self.gt_img, self.gt_ignored)
        return self


def _small_ints(values: np.ndarray) -> np.ndarray:
    """``values`` (int64) in the smallest signed integer dtype that holds them all (exactly)."""
    if values.shape[0] == 0:
        return values.astype(np.int8)
    lo, hi = int(values.min()), int(values.max())
    for dtype in (np.int8, np.int16, np.int32):
        info = np.iinfo(dtype)
        if info.min <= lo and hi <= info.max:
            return values.astype(dtype)
    return values.astype(np.int64)


@dataclass
class PackedState:
    """A ``MatchState`` in few bytes: what the Evaluator keeps between updates and what travels.

    Per kept detection: the score (float64, exact), the category, image key
    and rank in the smallest integer dtypes that hold them, and the codes as
    two bit-planes (true positive, false positive; neither = ignored) over
    the ``A * T`` area ranges and thresholds.  With COCO's defaults (4 area
    ranges, 10 thresholds, ids below 2**15, ranks below 128) that is
    8 + 2 + 2 + 1 + 2 * 5 = 23 bytes instead of 72.  Ground truths keep their
    category, image key and a bit-plane of ignore flags.
    """

    n_area: int
    n_thr: int
    det_cat: np.ndarray
    det_img: np.ndarray
    det_score: np.ndarray
    det_rank: np.ndarray
    det_tp: np.ndarray      # (D, ceil(A*T / 8)) uint8, np.packbits of code == 1
    det_fp: np.ndarray      # (D, ceil(A*T / 8)) uint8, np.packbits of code == 2
    gt_cat: np.ndarray
    gt_img: np.ndarray
    gt_ignored: np.ndarray  # (G, ceil(A / 8)) uint8, np.packbits of gt_ignored

    @classmethod
    def pack(cls, state: MatchState) -> "PackedState":
        n_det, n_area, n_thr = state.det_code.shape
        codes = state.det_code.reshape(n_det, n_area * n_thr)
        return cls(
            n_area, n_thr, _small_ints(state.det_cat), _small_ints(state.det_img), state.det_score,
            _small_ints(state.det_rank), np.packbits(codes == 1, axis=1), np.packbits(codes == 2, axis=1),
            _small_ints(state.gt_cat), _small_ints(state.gt_img), np.packbits(state.gt_ignored != 0, axis=1),
        )

    def unpack(self) -> MatchState:
        n_det, width = self.det_score.shape[0], self.n_area * self.n_thr
        tp = np.unpackbits(self.det_tp, axis=1, count=width)
        fp = np.unpackbits(self.det_fp, axis=1, count=width)
        code = (tp + 2 * fp).astype(np.uint8).reshape(n_det, self.n_area, self.n_thr)
        ignored = np.unpackbits(self.gt_ignored, axis=1, count=self.n_area)
        as64 = lambda a: np.ascontiguousarray(a, dtype=np.int64)
        return MatchState(as64(self.det_cat), as64(self.det_img), self.det_score, as64(self.det_rank),
                          np.ascontiguousarray(code), as64(self.gt_cat), as64(self.gt_img),
                          np.ascontiguousarray(ignored, dtype=np.uint8))

    def shifted(self, shift: int) -> "PackedState":
        """Image keys moved by ``shift`` (re-packed: the shift may need a wider dtype)."""
        return self.unpack().shifted(shift).pack()

    @property
    def nbytes(self) -> int:
        return sum(getattr(self, f.name).nbytes for f in fields(self) if isinstance(getattr(self, f.name), np.ndarray))


def _oriented_blocks(det_box, gt_box, gt_crowd, det_offsets, gt_offsets, backend, scratch=None):
    from .rotated import _iou_blocks_oriented

    return _iou_blocks_oriented(det_box, gt_box, gt_crowd, det_offsets, gt_offsets, backend)


def _mask_blocks(flat, order, gt_order, gt_crowd, det_offsets, gt_offsets, backend):
    """Mask IoU blocks (``detmetrics.masks._mask_iou_blocks``) of the grouped detections and ground truths."""
    from .masks import _mask_iou_blocks

    # only groups with both detections and ground truths have a (non-empty) block: the
    # others' RLEs are never read (measured at COCO density: about half of all detections)
    n_det, n_gt = np.diff(det_offsets), np.diff(gt_offsets)
    both = (n_det > 0) & (n_gt > 0)
    keep_det = np.repeat(both, n_det)
    keep_gt = np.repeat(both, n_gt)
    sub_det = np.zeros(int(both.sum()) + 1, dtype=np.int64)
    sub_gt = np.zeros_like(sub_det)
    np.cumsum(n_det[both], out=sub_det[1:])
    np.cumsum(n_gt[both], out=sub_gt[1:])
    dc, do, ds = flat.det_masks
    gc, go, gs = flat.gt_masks
    iou_flat, _ = _mask_iou_blocks(dc, do, ds, gc, go, gs, np.ascontiguousarray(gt_crowd[keep_gt]), sub_det, sub_gt,
                                   backend, det_rows=order[keep_det], gt_rows=gt_order[keep_gt])
    return iou_flat, _block_offsets(det_offsets, gt_offsets)


def _keypoint_blocks(flat, order, gt_order, gt_box, sigmas, det_offsets, gt_offsets, backend):
    """OKS blocks (``detmetrics.keypoints._oks_blocks``): the ground truths' ``area`` and xywh boxes scale them."""
    from .keypoints import COCO_SIGMAS, _oks_blocks

    s = np.asarray(COCO_SIGMAS if sigmas is None else sigmas, dtype=np.float64)
    det = np.ascontiguousarray(np.take(flat.det_kpts, order, axis=0))
    gt = np.ascontiguousarray(np.take(flat.gt_kpts, gt_order, axis=0))
    areas = np.ascontiguousarray(flat.gt_area[gt_order])
    return _oks_blocks(det, gt, areas, gt_box, s, det_offsets, gt_offsets, backend)


#: The geometry pick: box kind -> per-group IoU blocks (same signature, same flat layout).
#: Masks (``"mask"``) and keypoints (``"keypoints"``) need more than boxes: ``match`` sends them
#: to ``_mask_blocks`` / ``_keypoint_blocks``, same flat layout out.
_IOU_BLOCKS = {"axis": _iou_blocks, "rotated": _oriented_blocks, "quad": _oriented_blocks}


def match(flat, opts, cats: np.ndarray, image_keys=None) -> MatchState:
    """Sort, group, compute the IoU blocks for ``flat.kind`` and match every group.

    ``flat`` is a ``detmetrics._inputs.FlatData``, ``opts`` its ``Options``
    (backend already resolved), ``cats`` the sorted category set every label
    belongs to; ``image_keys`` maps image positions to keys (the Evaluator's
    image ids).
    """
    flat = apply_protocol(flat, opts)
    return match_applied(flat, opts, cats, match_backend(flat, opts), image_keys)


def match_backend(flat, opts) -> str:
    """The backend ``match`` runs ``flat`` (protocol applied) on: ``opts.backend`` resolved."""
    return match_backend_for(flat.kind, flat.det_score.shape[0], flat.gt_label.shape[0], opts)


def match_backend_for(kind: str, n_det: int, n_gt: int, opts) -> str:
    """``match_backend`` of a record of ``kind`` with ``n_det`` detections and ``n_gt`` ground truths."""
    # "auto" (see _backend.AUTO_WORK / COLD_WORK): axis-aligned boxes have whole-array NumPy
    # references (COCO's greedy rule and VOC's), ~0.015 us per box, area range and threshold
    # (measured at COCO scale: 0.25 s for 437k boxes x 40); the other geometries loop, a few us
    n_box_rows = opts.area_array.shape[0] * opts.iou_thresholds.shape[0] * (n_det + n_gt)
    vectorised = kind == "axis"
    matcher = _match_groups_voc_kernel if opts.matching == "voc" else _match_groups_kernel
    return resolve_backend(opts.backend, n_box_rows // 64 if vectorised else 5 * n_box_rows,
                           (_group_kernel, _iou_blocks_kernel, matcher), site=match,
                           cold_work=COLD_WORK if vectorised else None)


def match_applied(flat, opts, cats: np.ndarray, backend: str, image_keys=None, scratch=None) -> MatchState:
    """``match`` of a ``flat`` whose protocol switches are applied (``apply_protocol``), on ``backend``.

    ``scratch`` (a ``detmetrics._scratch.Scratch``), optional: the detections'
    working arrays and the returned state's detection columns live in its
    buffers, valid until its next use (the image blocks of ``detmetrics._blocks``).
    """
    n_img = max(int(flat.n_images), 1)
    n_cat = max(cats.shape[0], 1)
    if opts.matching == "voc":
        thresholds = _strict_thresholds(opts.iou_thresholds, opts.iou_test)
    else:
        thresholds = _effective_thresholds(opts.iou_thresholds, opts.iou_test)
    # One buffer holds the sorted boxes and then, once the IoU blocks have read them, the
    # detections' codes: at 4M boxes that is 128-160 MB of fresh pages fewer per evaluation
    # (every fresh page costs a page fault, ~2 us in a VM; see docs/speed.md)
    n_det = flat.det_score.shape[0]
    code_shape = (opts.area_array.shape[0], thresholds.shape[0])
    box_bytes = 8 * int(np.prod(flat.det_box.shape[1:]))
    work = empty(scratch, "match.work", n_det * max(box_bytes, code_shape[0] * code_shape[1]), np.uint8)
    box_out = work[:n_det * box_bytes].view(np.float64).reshape(flat.det_box.shape)
    # the detections' labels go in as they are when a small table maps them to category
    # positions (every label is one of cats): the kernel looks them up, no array of positions
    table = lookup_table(cats, flat.det_label)
    if table is not None and not covers(table, flat.det_label):
        table = None
    det_cat = flat.det_label if table is not None else positions(cats, flat.det_label)
    # the order only gathers masks and keypoints; boxes, scores and areas come out of the grouping
    order, rank, gt_order, det_offsets, gt_offsets, (det_score, det_area, det_box, kept_key) = _group(
        det_cat, flat.det_img, flat.det_score, positions(cats, flat.gt_label), flat.gt_img,
        n_cat, n_img, opts.max_detections[-1], backend, flat.det_area, flat.det_box, box_out, table,
        want_order=flat.kind in ("mask", "keypoints"), scratch=scratch)
    del box_out, det_cat
    n_kept = det_score.shape[0]
    reuse = n_kept >= n_det // 2  # else most rows were cut by max_detections: the codes get their own buffer
    if opts.matching == "ultralytics":
        gt_order = _reverse_within_groups(gt_order, gt_offsets)
    gt_box = np.take(flat.gt_box, gt_order, axis=0)
    gt_crowd = np.ascontiguousarray(flat.gt_crowd[gt_order])
    if flat.kind == "mask":
        iou_flat, iou_offsets = _mask_blocks(flat, order, gt_order, gt_crowd, det_offsets, gt_offsets, backend)
    elif flat.kind == "keypoints":
        iou_flat, iou_offsets = _keypoint_blocks(flat, order, gt_order, gt_box, opts.sigmas, det_offsets, gt_offsets,
                                                 backend)
    else:
        iou_flat, iou_offsets = _IOU_BLOCKS[flat.kind](det_box, gt_box, gt_crowd, det_offsets, gt_offsets, backend,
                                                       scratch)
    del det_box, gt_box  # only the IoU blocks read them (the boxes' memory now takes the codes)
    codes_out = None if not reuse else work[:n_kept * code_shape[0] * code_shape[1]].reshape(n_kept, *code_shape)
    del work
    gt_area = np.ascontiguousarray(flat.gt_area[gt_order])
    difficult = np.ascontiguousarray(flat.gt_difficult[gt_order])
    if opts.matching == "voc":
        det_codes, gt_ignored = _match_groups_voc(
            iou_flat, iou_offsets, det_offsets, gt_offsets, det_area, gt_area, gt_crowd,
            opts.area_array, thresholds, backend, gt_difficult=difficult, out=codes_out,
        )
    else:
        det_codes, gt_ignored = _match_groups(
            iou_flat, iou_offsets, det_offsets, gt_offsets, det_area, gt_area,
            gt_crowd, np.ascontiguousarray(flat.gt_zero_id[gt_order]),
            opts.area_array, thresholds, backend, gt_difficult=difficult, out=codes_out,
        )
    del iou_flat, codes_out
    # the bucket is category position * n_img + image: the category in place, the image into the
    # areas' memory (read by the matching only), so no fresh pages
    det_cat, det_img = np.divmod(kept_key, n_img, out=(kept_key, det_area.view(np.int64)))
    del kept_key, det_area
    np.take(cats, det_cat, out=det_cat)  # a category position to its label, in place (every label is in cats)
    gt_img = flat.gt_img[gt_order]
    if image_keys is not None:
        det_img = image_keys[det_img]
        gt_img = image_keys[gt_img]
    return MatchState(
        det_cat=det_cat, det_img=np.ascontiguousarray(det_img), det_score=det_score,
        det_rank=np.ascontiguousarray(rank),
        det_code=det_codes,
        gt_cat=np.ascontiguousarray(flat.gt_label[gt_order]), gt_img=np.ascontiguousarray(gt_img),
        gt_ignored=gt_ignored,
    )
