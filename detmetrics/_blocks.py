"""Stages 2-3 of a large evaluation: matching by blocks of images, one compact state, one accumulation.

Above ``_BLOCK_ROWS`` detections (and when they come image by image, as detectors and COCO
result files write them), ``match_and_accumulate`` matches the detections a block of whole
images at a time: the block's rows are a contiguous slice of the columns (no copy), and
every working array of the matching (sorted boxes, ranks, areas, group offsets, IoU blocks,
codes) lives in buffers reused from block to block (``detmetrics._scratch``).  Each block's
kept detections are then written into one category-major state that holds only what the
accumulation reads: the score (8 bytes), the codes packed four to a byte (``ap.pack_codes``:
10 bytes for COCO's 4 area ranges x 10 thresholds) and the rank in its group (one byte after
them), 19 bytes per detection instead of the one-pass state's 56 plus its working arrays.

Why: every page an evaluation touches for the first time costs a page fault (~2-3 us per
4 KB page on the benchmark machine).  At 400k results a repeated evaluation gets its arrays
back from the allocator's heap, at 4M they are mapped afresh on every call: ~97k faults and
0.25-0.3 s of system time in one pass (see ``docs/speed.md``).

A category's rows are written block after block, so they stay in (image, rank) order, the
order of the one-pass state: the accumulation's stable sort by score sees the same ties in
the same order, and the numbers are those of one pass exactly (tested with blocks of a few
rows).  Each category's part of the state is sized by its detections before the
``max_detections`` cut; rows the cut leaves unused get code 0 and rank 255, which no
``max_detections`` keeps (the blocks take ``max_detections`` up to 255), so the accumulation
passes over them, and ``n_det`` counts them out.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from ._backend import kernel
from ._lookup import covers, lookup_table
from ._scratch import Scratch
from .ap import Accumulation, _accumulate, accumulate, accumulate_backend, ground_truth_counts, recall_grid
from .matching import apply_protocol, match_applied, match_backend

#: detections per block of images (at COCO scale, 400k results, an evaluation is one pass)
_BLOCK_ROWS = 1 << 19

#: geometries whose rows are the flat box columns (masks and keypoints carry more per row)
_KINDS = ("axis", "rotated", "quad")

#: the rank byte of a row the max_detections cut left unused (no max_detections up to 255 keeps it)
_UNUSED_RANK = 255


def match_and_accumulate(flat, opts, cats: np.ndarray) -> Accumulation:
    """``accumulate(match(flat, opts, cats), opts, cats)``; by blocks of images when large (above)."""
    flat = apply_protocol(flat, opts)
    backend = match_backend(flat, opts)
    plan = _plan(flat, opts, cats, backend)
    if plan is None:
        return accumulate(match_applied(flat, opts, cats, backend), opts, cats)
    return _by_blocks(flat, opts, cats, backend, *plan)


def _plan(flat, opts, cats: np.ndarray, backend: str):
    """``(row bounds, per-category counts)`` of the blocks, or None for one pass: few detections,
    the NumPy backend, a geometry or integration the blocks do not take, rows not in image order,
    labels without a compact table."""
    n_det = flat.det_score.shape[0]
    if n_det <= _BLOCK_ROWS or backend != "numba" or flat.kind not in _KINDS or not blocks_take(opts, cats.shape[0]):
        return None
    img = flat.det_img
    if not bool((img[1:] >= img[:-1]).all()):
        return None
    counts = _category_counts(cats, flat.det_label)
    if counts is None:
        return None  # a label outside the categories (the one-pass path reports it), or sparse ids
    # block boundaries at the first row of an image, about _BLOCK_ROWS apart
    bounds = [0]
    while n_det - bounds[-1] > _BLOCK_ROWS:
        target = bounds[-1] + _BLOCK_ROWS
        cut = int(np.searchsorted(img, img[target], side="left"))
        if cut <= bounds[-1]:
            cut = int(np.searchsorted(img, img[target], side="right"))
        if cut >= n_det:
            break
        bounds.append(cut)
    bounds.append(n_det)
    if len(bounds) == 2:
        return None
    return bounds, counts


def _category_counts(cats: np.ndarray, labels: np.ndarray) -> np.ndarray | None:
    """Detections per category (``cats`` sorted) through a lookup table; None when the ids are too
    sparse for one or a label is not among ``cats``."""
    found = lookup_table(cats, labels)
    if found is None or not covers(found, labels):
        return None
    table, lo = found
    per_label = np.bincount(labels - lo if lo else labels, minlength=table.shape[0])
    if np.any(per_label[table < 0]):
        return None
    counts = np.zeros(cats.shape[0], dtype=np.int64)
    counts[table[table >= 0]] = per_label[table >= 0]
    return counts


def _by_blocks(flat, opts, cats, backend, bounds, counts) -> Accumulation:
    n_det, n_cat = flat.det_score.shape[0], cats.shape[0]
    n_area = len(opts.area_ranges)
    width = _code_width(opts)
    cat_offsets = np.zeros(n_cat + 1, dtype=np.int64)
    np.cumsum(counts, out=cat_offsets[1:])
    score = np.empty(n_det, dtype=np.float64)
    code = np.empty((n_det, width), dtype=np.uint8)
    fill = cat_offsets[:-1].copy()
    n_gt = np.zeros((n_cat, n_area), dtype=np.int64)
    # ground truths by image (stable), each block takes those of its images
    gt_by_img = np.argsort(flat.gt_img, kind="stable")
    gt_img_sorted = flat.gt_img[gt_by_img]
    scratch = Scratch()
    n_blocks = len(bounds) - 1
    for b in range(n_blocks):
        r0, r1 = bounds[b], bounds[b + 1]
        first = 0 if b == 0 else int(flat.det_img[r0])
        last = flat.n_images if b == n_blocks - 1 else int(flat.det_img[r1])  # images [first, last)
        g = gt_by_img[np.searchsorted(gt_img_sorted, first):np.searchsorted(gt_img_sorted, last)]
        part = _block_part(
            flat, g, det_img=flat.det_img[r0:r1], det_label=flat.det_label[r0:r1], det_score=flat.det_score[r0:r1],
            det_box=flat.det_box[r0:r1], det_area=None if flat.det_area is None else flat.det_area[r0:r1])
        n_gt += _match_block(part, opts, cats, backend, scratch, fill, score, code)
        del part
    del scratch, gt_by_img, gt_img_sorted  # the blocks' buffers go back before the accumulation's arrays come
    kept = fill - cat_offsets[:-1]
    for k in np.flatnonzero(fill < cat_offsets[1:]).tolist():  # rows the max_detections cut left unused
        lo, hi = int(fill[k]), int(cat_offsets[k + 1])
        score[lo:hi] = 0.0
        code[lo:hi, :-1] = 0
        code[lo:hi, -1] = _UNUSED_RANK
    return _accumulate_state(opts, cats, cat_offsets, score, code, n_gt, kept)


def _block_part(flat, g: np.ndarray, **detections):
    """A block's record: ``flat`` with the block's detection columns and the ground truths ``g``."""
    return replace(flat, **detections, gt_img=flat.gt_img[g], gt_label=flat.gt_label[g], gt_box=flat.gt_box[g],
                   gt_area=flat.gt_area[g], gt_crowd=flat.gt_crowd[g], gt_difficult=flat.gt_difficult[g],
                   gt_zero_id=flat.gt_zero_id[g])


def _code_width(opts) -> int:
    """Bytes per detection of the compact state's codes: the packed codes, then the rank byte."""
    return -(-(len(opts.area_ranges) * opts.iou_thresholds.shape[0]) // 4) + 1


def _match_block(part, opts, cats, backend, scratch, fill, score, code) -> np.ndarray:
    """Match one block (``part``, protocol applied) and append its kept detections to each category's
    part of the compact state (``score``, ``code`` at ``fill``, moved on); its ground-truth counts."""
    n_area, n_thr = len(opts.area_ranges), opts.iou_thresholds.shape[0]
    state = match_applied(part, opts, cats, backend, scratch=scratch)
    segments = np.searchsorted(state.det_cat, cats, side="left").astype(np.int64)
    segments = np.append(segments, state.det_cat.shape[0]).astype(np.int64)
    rows = state.det_code.reshape(state.det_code.shape[0], n_area * n_thr)
    _keep(segments, state.det_score, state.det_rank, rows, fill, score, code, backend)
    return ground_truth_counts(state.gt_cat, state.gt_ignored, cats)


def _accumulate_state(opts, cats, cat_offsets, score, code, n_gt, kept) -> Accumulation:
    """The accumulation of the compact state (``kept``: each category's detections in it)."""
    rec = recall_grid(opts)
    max_dets = np.asarray(opts.max_detections, dtype=np.int64)
    precision, recall, scores, ap, order = _accumulate(
        cat_offsets, score, None, code, n_gt, max_dets, rec, opts.interpolation, opts.iou_thresholds.shape[0],
        accumulate_backend(score.shape[0], cats.shape[0], opts), keep_order=False)  # curves sort a category when asked
    return Accumulation(cats, rec, precision, recall, scores, ap, n_gt, cat_offsets, order, score, code, n_det=kept)


def blocks_take(opts, n_cat: int) -> bool:
    """Whether the blocks take an evaluation with these options and ``n_cat`` categories (the rest of
    ``_plan``'s conditions are on the rows)."""
    return (n_cat > 0 and opts.interpolation != "ultralytics" and max(opts.max_detections) <= _UNUSED_RANK)


def accumulate_blocks(blocks, gt_flat, opts, cats: np.ndarray) -> Accumulation | None:
    """Stages 2-3 of detections that come as blocks of whole images, none of them held whole.

    ``blocks`` yields ``(first, end, det_img, det_label, det_score, det_box)``: the axis-aligned
    xywh detections of images ``first:end`` (views that may be overwritten once the next block is
    asked for), blocks in image order and covering every image; or None, which abandons the
    evaluation (returns None).  ``gt_flat``: a record of the ground truths (every image) and no
    detections.  On the numba backend (``blocks_take`` and ``match_backend`` checked by the caller).

    Each block is matched and its kept detections packed (``_keep``) into a compact state of its
    own; once all are read (the per-category counts known only then), each category's rows are
    copied block after block into one category-major state, the order ``_by_blocks`` writes, so
    the numbers are those of one pass.
    """
    n_cat, n_area = cats.shape[0], len(opts.area_ranges)
    width = _code_width(opts)
    gt_by_img = np.argsort(gt_flat.gt_img, kind="stable")
    gt_img_sorted = gt_flat.gt_img[gt_by_img]
    scratch = Scratch()
    n_gt = np.zeros((n_cat, n_area), dtype=np.int64)
    parts = []
    for block in blocks:
        if block is None:
            return None
        first, end, det_img, det_label, det_score, det_box = block
        g = gt_by_img[np.searchsorted(gt_img_sorted, first):np.searchsorted(gt_img_sorted, end)]
        part = _block_part(gt_flat, g, det_img=det_img, det_label=det_label, det_score=det_score, det_box=det_box,
                           det_area=None)
        part = apply_protocol(part, opts)
        n_part = part.det_score.shape[0]
        counts = _category_counts(cats, part.det_label) if n_part else np.zeros(n_cat, dtype=np.int64)
        if counts is None:  # sparse category ids (every label is one of cats: result_blocks keeps no other)
            counts = np.bincount(np.searchsorted(cats, part.det_label), minlength=n_cat)
        offsets = np.zeros(n_cat + 1, dtype=np.int64)
        np.cumsum(counts, out=offsets[1:])
        fill = offsets[:-1].copy()
        score = np.empty(n_part, dtype=np.float64)
        code = np.empty((n_part, width), dtype=np.uint8)
        n_gt += _match_block(part, opts, cats, "numba", scratch, fill, score, code)
        parts.append((offsets, fill - offsets[:-1], score, code))
        del part
    del scratch, gt_by_img, gt_img_sorted
    kept = np.zeros(n_cat, dtype=np.int64)
    for _, n_kept, _, _ in parts:
        kept += n_kept
    cat_offsets = np.zeros(n_cat + 1, dtype=np.int64)
    np.cumsum(kept, out=cat_offsets[1:])
    score = np.empty(int(cat_offsets[-1]), dtype=np.float64)
    code = np.empty((score.shape[0], width), dtype=np.uint8)
    at = cat_offsets[:-1].copy()
    parts.reverse()
    while parts:  # block after block, each freed once copied
        offsets, n_kept, part_score, part_code = parts.pop()
        for k in np.flatnonzero(n_kept).tolist():
            lo, n = int(offsets[k]), int(n_kept[k])
            q = int(at[k])
            score[q:q + n] = part_score[lo:lo + n]
            code[q:q + n] = part_code[lo:lo + n]
            at[k] = q + n
        del part_score, part_code
    return _accumulate_state(opts, cats, cat_offsets, score, code, n_gt, kept)


# --------------------------------------------------------------------------------------
# a block's kept detections into the compact state


def _keep_reference(segments, score, rank, rows, fill, out_score, out_code):
    from .ap import pack_codes

    for k in range(segments.shape[0] - 1):
        s0, s1 = int(segments[k]), int(segments[k + 1])
        if s1 == s0:
            continue
        q = int(fill[k])
        n = s1 - s0
        out_score[q:q + n] = score[s0:s1]
        out_code[q:q + n, :-1] = pack_codes(rows[s0:s1])
        out_code[q:q + n, -1] = rank[s0:s1]
        fill[k] = q + n


@kernel
def _keep_kernel(segments, score, rank, rows, fill, out_score, out_code):
    n_rows = rows.shape[1]
    last = out_code.shape[1] - 1
    full = n_rows // 4  # whole bytes of four codes, then the rest (no branch per code)
    for k in range(segments.shape[0] - 1):
        q = fill[k]
        for s in range(segments[k], segments[k + 1]):
            out_score[q] = score[s]
            out_code[q, last] = rank[s]
            for p in range(full):
                r = 4 * p
                out_code[q, p] = rows[s, r] | (rows[s, r + 1] << 2) | (rows[s, r + 2] << 4) | (rows[s, r + 3] << 6)
            if full * 4 < n_rows:
                byte = 0
                for r in range(full * 4, n_rows):
                    byte |= rows[s, r] << (2 * (r - full * 4))
                out_code[q, full] = byte
            q += 1
        fill[k] = q


def _keep(segments, score, rank, rows, fill, out_score, out_code, backend="numba") -> None:
    """Append each category's segment ``segments[k]:segments[k + 1]`` of a block's kept detections
    (score, rank below 256, codes ``(n, A * T)``) at ``fill[k]`` of the compact state: the score, and
    the codes packed (``ap.pack_codes``) followed by the rank byte; moves ``fill[k]`` on."""
    fn = _keep_kernel if backend == "numba" else _keep_reference
    fn(segments, score, rank, np.ascontiguousarray(rows), fill, out_score, out_code)
