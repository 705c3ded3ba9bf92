"""YOLO-style detection confusion matrix, with a background row and column.

The matrix ultralytics draws after ``yolo val`` (``confusion_matrix.png``):
``(num_classes + 1, num_classes + 1)`` counts, **rows are predicted classes,
columns true classes**, the last row and column are "background".

Per image (ultralytics' ``ConfusionMatrix.process_batch``):

1. keep the detections with ``score > conf_threshold`` (strict);
2. candidate pairs are (ground truth, detection) with ``IoU > iou_threshold``
   (strict), **whatever their classes** (class confusions are the point);
3. sort the candidates by decreasing IoU and keep each detection's first
   pair; sort the survivors by decreasing IoU again and keep each ground
   truth's first pair -- a one-to-one matching;
4. a matched ground truth of class ``g`` with detection of class ``d``
   counts in ``[d, g]``; an unmatched ground truth in ``[background, g]``
   (missed); an unmatched detection in ``[d, background]`` (false alarm).

Ties are broken deterministically where ultralytics leaves them to an
unstable sort: in step 3 the first sort is stable over the candidates in
(ground truth, detection) row-major order, the second is stable over the
survivors in detection order.  IoU has no epsilon in the denominator (0 when
the union is 0); ultralytics adds ``1e-7``, which can only matter for pairs
sitting exactly at ``iou_threshold``.
"""

from __future__ import annotations

import numpy as np

from ._backend import defer_backend, kernel, resolve_backend
from ._validate import as_any_boxes, as_labels, as_scores, check_box_format, check_threshold

__all__ = ["confusion_matrix"]


#: The most classes a confusion matrix takes: (4097)^2 int64 counts are 134 MB.
MAX_CLASSES = 4096


def confusion_matrix(
    predictions,
    ground_truths,
    *,
    num_classes=None,
    conf_threshold=0.25,
    iou_threshold=0.45,
    box_format="xyxy",
    backend="auto",
) -> np.ndarray:
    """Detection confusion matrix with a background row and column (YOLO convention).

    Parameters
    ----------
    predictions : list of dict
        One dict per image with ``"boxes"``, ``"scores"`` and ``"labels"``
        (``mean_ap``'s form).  Boxes are ``(N, 4)`` in ``box_format``, or
        oriented: ``(N, 5)`` rotated ``(cx, cy, w, h, angle)`` or
        ``(N, 4, 2)`` quadrilaterals.
    ground_truths : list of dict
        One dict per image with ``"boxes"`` and ``"labels"``; other keys
        (``iscrowd``, ``area``) are ignored, as ultralytics has no crowds.
    num_classes : int, optional
        Number of classes (at most 4096); labels must be in ``[0, num_classes)``.  Default:
        the largest label seen plus one.
    conf_threshold : float, default=0.25
        Detections with ``score > conf_threshold`` are counted (ultralytics'
        default 0.25).
    iou_threshold : float, default=0.45
        A pair can match when ``IoU > iou_threshold`` (ultralytics' 0.45).
    box_format : {"xyxy", "xywh", "cxcywh"}, default="xyxy"
        Format of ``(N, 4)`` boxes.
    backend : {"auto", "numba", "numpy"}, default="auto"

    Returns
    -------
    ndarray of shape (num_classes + 1, num_classes + 1), int64
        ``matrix[predicted, true]``; index ``num_classes`` is background.
        Column sums are the ground-truth counts per class, row sums the
        detection counts (above ``conf_threshold``) per class.

    Examples
    --------
    >>> from detmetrics.confusion import confusion_matrix
    >>> gt = [{"boxes": [[0, 0, 10, 10], [20, 20, 30, 30]], "labels": [0, 1]}]
    >>> pred = [{"boxes": [[0, 0, 10, 10], [20, 20, 30, 30], [50, 50, 60, 60]],
    ...          "scores": [0.9, 0.8, 0.7], "labels": [0, 0, 1]}]
    >>> confusion_matrix(pred, gt, num_classes=2).tolist()
    [[1, 1, 0], [0, 0, 1], [0, 0, 0]]
    """
    check_box_format(box_format)
    conf_threshold = check_threshold(conf_threshold, "conf_threshold")
    iou_threshold = check_threshold(iou_threshold, "iou_threshold")
    backend = defer_backend(backend)
    if not isinstance(predictions, (list, tuple)) or not isinstance(ground_truths, (list, tuple)):
        raise TypeError("predictions and ground_truths must be lists with one dict per image")
    if len(predictions) != len(ground_truths):
        raise ValueError(f"predictions has {len(predictions)} images but ground_truths has {len(ground_truths)}")

    det_boxes, det_labels, gt_boxes, gt_labels = [], [], [], []
    for i, (pred, gt) in enumerate(zip(predictions, ground_truths)):
        if not isinstance(pred, dict) or not isinstance(gt, dict):
            raise TypeError(f"predictions[{i}] and ground_truths[{i}] must be dicts")
        for key in ("boxes", "scores", "labels"):
            if key not in pred:
                raise ValueError(f"predictions[{i}] has no {key!r}")
        for key in ("boxes", "labels"):
            if key not in gt:
                raise ValueError(f"ground_truths[{i}] has no {key!r}")
        pb = _as_any_boxes(pred["boxes"], f"predictions[{i}]['boxes']", box_format)
        gb = _as_any_boxes(gt["boxes"], f"ground_truths[{i}]['boxes']", box_format)
        scores = as_scores(pred["scores"], f"predictions[{i}]['scores']", length=len(pb))
        plabels = as_labels(pred["labels"], f"predictions[{i}]['labels']", length=len(pb))
        glabels = as_labels(gt["labels"], f"ground_truths[{i}]['labels']", length=len(gb))
        keep = scores > conf_threshold
        det_boxes.append(pb[keep])
        det_labels.append(plabels[keep])
        gt_boxes.append(gb)
        gt_labels.append(glabels)

    flat_det = np.concatenate(det_labels) if det_labels else np.zeros(0, np.int64)
    flat_gt = np.concatenate(gt_labels) if gt_labels else np.zeros(0, np.int64)
    seen = max(int(flat_det.max(initial=-1)), int(flat_gt.max(initial=-1))) + 1
    if num_classes is None:
        if seen > MAX_CLASSES:
            raise ValueError(f"labels go up to {seen - 1}: a confusion matrix takes class indices below "
                             f"{MAX_CLASSES} (a ({seen} + 1)^2 matrix would not fit); map ids to indices first")
        num_classes = seen
    if isinstance(num_classes, bool) or not isinstance(num_classes, (int, np.integer)) or num_classes < 0:
        raise ValueError(f"num_classes must be a non-negative integer; got {num_classes!r}")
    if num_classes > MAX_CLASSES:
        raise ValueError(f"num_classes must be <= {MAX_CLASSES} (the matrix is (num_classes + 1)^2 int64); "
                         f"got {num_classes}")
    num_classes = int(num_classes)
    for name, labels in (("predictions", flat_det), ("ground_truths", flat_gt)):
        bad = (labels < 0) | (labels >= num_classes)
        if bad.any():
            raise ValueError(f"{name} has label {int(labels[bad][0])} outside [0, {num_classes})")

    det_offsets = _offsets(det_labels)
    gt_offsets = _offsets(gt_labels)
    # "auto": the reference spends ~30 us per image and ~1 us per box (see _backend.AUTO_WORK)
    backend = resolve_backend(backend, 30 * len(predictions) + flat_det.shape[0] + flat_gt.shape[0],
                              (_confusion_kernel,))
    iou_flat, iou_offsets = _iou_blocks(det_boxes, gt_boxes, backend)
    det_label_array = np.ascontiguousarray(flat_det, dtype=np.int64)
    gt_label_array = np.ascontiguousarray(flat_gt, dtype=np.int64)
    if backend == "numba":
        out = np.zeros((num_classes + 1, num_classes + 1), dtype=np.int64)
        cap = max(1, int((iou_offsets[1:] - iou_offsets[:-1]).max(initial=0)))
        _confusion_kernel(iou_flat, iou_offsets, det_label_array, det_offsets, gt_label_array, gt_offsets,
                          iou_threshold, num_classes, out, cap)
        return out
    return _confusion_reference(iou_flat, iou_offsets, det_label_array, det_offsets, gt_label_array, gt_offsets,
                                iou_threshold, num_classes)


def _as_any_boxes(boxes, name: str, box_format: str) -> np.ndarray:
    """The box gate, with rotated boxes turned into their corners (IoU is then polygon IoU)."""
    arr, kind = as_any_boxes(boxes, name, box_format=box_format)
    if kind == "rotated":
        from .rotated import rotated_to_corners

        return rotated_to_corners(arr)
    return arr


def _offsets(parts) -> np.ndarray:
    offsets = np.zeros(len(parts) + 1, dtype=np.int64)
    offsets[1:] = np.cumsum([len(p) for p in parts])
    return offsets


def _iou_blocks(det_boxes, gt_boxes, backend: str):
    """Per image, the row-major ``(n_gt, n_det)`` IoU block, flattened; and block offsets."""
    blocks = []
    for db, gb in zip(det_boxes, gt_boxes):
        if len(db) == 0 or len(gb) == 0:
            blocks.append(np.zeros(0))
        elif db.ndim == 3 or gb.ndim == 3:
            from .rotated import polygon_iou

            blocks.append(polygon_iou(gb.reshape(-1, 4, 2), db.reshape(-1, 4, 2), backend=backend).ravel())
        else:
            from .iou import box_iou

            blocks.append(box_iou(gb, db, backend=backend).ravel())
    offsets = _offsets(blocks)
    flat = np.ascontiguousarray(np.concatenate(blocks) if blocks else np.zeros(0), dtype=np.float64)
    return flat, offsets


def _confusion_reference(iou_flat, iou_offsets, det_labels, det_offsets, gt_labels, gt_offsets,
                         iou_threshold, num_classes):
    bg = num_classes
    matrix = np.zeros((num_classes + 1, num_classes + 1), dtype=np.int64)
    for k in range(len(det_offsets) - 1):
        dl = det_labels[det_offsets[k] : det_offsets[k + 1]]
        gl = gt_labels[gt_offsets[k] : gt_offsets[k + 1]]
        iou = iou_flat[iou_offsets[k] : iou_offsets[k + 1]].reshape(len(gl), len(dl))
        gi, di = np.nonzero(iou > iou_threshold)  # row-major order
        vals = iou[gi, di]
        # 1) by decreasing IoU, each detection keeps its first pair
        order = np.argsort(-vals, kind="stable")
        gi, di, vals = gi[order], di[order], vals[order]
        _, first = np.unique(di, return_index=True)  # survivors come out in detection order
        gi, di, vals = gi[first], di[first], vals[first]
        # 2) by decreasing IoU again, each ground truth keeps its first pair
        order = np.argsort(-vals, kind="stable")
        gi, di = gi[order], di[order]
        _, first = np.unique(gi, return_index=True)
        gi, di = gi[first], di[first]
        det_matched = np.zeros(len(dl), dtype=bool)
        det_matched[di] = True
        gt_match = np.full(len(gl), -1)
        gt_match[gi] = di
        for g in range(len(gl)):
            row = dl[gt_match[g]] if gt_match[g] >= 0 else bg
            matrix[row, gl[g]] += 1
        for d in np.flatnonzero(~det_matched):
            matrix[dl[d], bg] += 1
    return matrix


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
def _confusion_kernel(iou_flat, iou_offsets, det_labels, det_offsets, gt_labels, gt_offsets,
                      iou_threshold, num_classes, out, cap):
    bg = num_classes
    cand_g = np.empty(cap, dtype=np.int64)
    cand_d = np.empty(cap, dtype=np.int64)
    cand_v = np.empty(cap, dtype=np.float64)
    order = np.empty(cap, dtype=np.int64)
    order2 = np.empty(cap, dtype=np.int64)
    buf = np.empty(cap, dtype=np.int64)
    for k in range(det_offsets.shape[0] - 1):
        d0 = det_offsets[k]
        n_det = det_offsets[k + 1] - d0
        g0 = gt_offsets[k]
        n_gt = gt_offsets[k + 1] - g0
        base = iou_offsets[k]
        # candidates in row-major (gt, det) order (counts start as int64, not the literal 0: numba
        # compiled the sort below once more for a literal bound)
        n = np.int64(0)
        for g in range(n_gt):
            for d in range(n_det):
                v = iou_flat[base + g * n_det + d]
                if v > iou_threshold:
                    cand_g[n] = g
                    cand_d[n] = d
                    cand_v[n] = v
                    n += 1
        # 1) each detection keeps its best pair (first in stable decreasing-IoU order)
        for t in range(n):
            order[t] = t
        _sort_desc_kernel(order, np.int64(0), n, cand_v, buf)
        best_g = np.full(n_det, -1, dtype=np.int64)
        best_v = np.zeros(n_det, dtype=np.float64)
        for t in range(n):
            c = order[t]
            d = cand_d[c]
            if best_g[d] < 0:
                best_g[d] = cand_g[c]
                best_v[d] = cand_v[c]
        # survivors in detection order, 2) each ground truth keeps its best (stable)
        m = np.int64(0)
        surv_d = np.empty(n_det, dtype=np.int64)
        surv_v = np.empty(n_det, dtype=np.float64)
        for d in range(n_det):
            if best_g[d] >= 0:
                surv_d[m] = d
                surv_v[m] = best_v[d]
                m += 1
        for t in range(m):
            order2[t] = t
        _sort_desc_kernel(order2, np.int64(0), m, surv_v, buf)
        gt_match = np.full(n_gt, -1, dtype=np.int64)
        det_matched = np.zeros(n_det, dtype=np.bool_)
        for t in range(m):
            d = surv_d[order2[t]]
            g = best_g[d]
            if gt_match[g] < 0:
                gt_match[g] = d
                det_matched[d] = True
        for g in range(n_gt):
            if gt_match[g] >= 0:
                out[det_labels[d0 + gt_match[g]], gt_labels[g0 + g]] += 1
            else:
                out[bg, gt_labels[g0 + g]] += 1
        for d in range(n_det):
            if not det_matched[d]:
                out[det_labels[d0 + d], bg] += 1
