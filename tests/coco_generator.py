"""Adversarial COCO detection datasets for the pycocotools oracle tests.

Plain functions driven by a seed (no hypothesis), returning data in COCO JSON
form: a ground-truth dict (``images``, ``categories``, ``annotations``) and a
results list (``image_id``, ``category_id``, ``bbox``, ``score``).

Every dataset mixes the cases pycocotools' ``COCOeval`` handles in a
particular way, so that a re-implementation that gets one rule wrong gives a
different number:

- score ties within an image and across images (scores from a small set,
  rounded like real exports) -- the stable sorts decide who is first;
- crowd ground truths (matched by ``inter / area(det)``, many detections each),
  including a category whose ground truths are all crowds;
- empty images, images with detections but no ground truth, images with
  ground truth but no detections;
- categories with ground truth but no detections, with detections but no
  ground truth, and with neither;
- more than 100 detections on an image (truncation after a stable sort);
- boxes and ``area`` fields exactly at and next to the 32**2 / 96**2 area range
  boundaries, ``area`` different from ``w * h``, zero-area boxes;
- detection/ground-truth pairs whose IoU (computed with pycocotools' own
  arithmetic, :func:`coco_bbox_iou`) is exactly an IoU threshold, or the
  float just below it;
- duplicate ground truths and duplicate detections (equal-IoU candidates);
- non-contiguous, shuffled image, category and annotation ids.

>>> gt, results = make_coco_dataset(0, n_images=8)
>>> sorted(gt) == ["annotations", "categories", "images"]
True
>>> {"image_id", "category_id", "bbox", "score"} <= set(results[0])
True
"""

from __future__ import annotations

import copy
import math

import numpy as np

__all__ = [
    "COCO_IOU_THRESHOLDS",
    "coco_bbox_iou",
    "box_with_iou",
    "make_coco_dataset",
    "adversarial_datasets",
    "to_mean_ap",
    "has_zero_annotation_id",
    "quirk_datasets",
    "run_pycocotools",
]

# pycocotools' default thresholds, built the way COCOeval builds them
COCO_IOU_THRESHOLDS = np.linspace(0.5, 0.95, int(np.round((0.95 - 0.5) / 0.05)) + 1, endpoint=True)
_EXTRA_THRESHOLDS = (0.1, 0.3, 0.6, 0.7, 0.9)

# sizes (w, h) placed on purpose: area range boundaries, zero area, thin boxes
_SPECIAL_SIZES = (
    (32.0, 32.0), (96.0, 96.0), (16.0, 64.0), (64.0, 16.0), (48.0, 192.0),
    (31.5, 32.5), (32.5, 31.5), (95.5, 96.5), (31.0, 33.0), (1.0, 1.0),
    (0.0, 10.0), (10.0, 0.0), (0.0, 0.0), (0.5, 2048.0),
)
_SPECIAL_AREAS = (
    1024.0, 9216.0, math.nextafter(1024.0, 0.0), math.nextafter(1024.0, math.inf),
    math.nextafter(9216.0, 0.0), math.nextafter(9216.0, math.inf), 0.0,
)
_SCORE_SET = (1.0, 0.9, 0.75, 0.5, 0.5, 0.25, 0.1, 0.05, 0.001)


def coco_bbox_iou(det, gt, iscrowd=False):
    """IoU of two xywh boxes with pycocotools' arithmetic (maskApi.c ``bbIou``).

    For a crowd ground truth the denominator is the detection's area.

    >>> coco_bbox_iou([0, 0, 10, 5], [0, 0, 10, 10])
    0.5
    >>> coco_bbox_iou([0, 0, 20, 10], [0, 0, 10, 10], iscrowd=True)
    0.5
    """
    dx, dy, dw, dh = (float(v) for v in det)
    gx, gy, gw, gh = (float(v) for v in gt)
    w = min(dw + dx, gw + gx) - max(dx, gx)
    if w <= 0:
        return 0.0
    h = min(dh + dy, gh + gy) - max(dy, gy)
    if h <= 0:
        return 0.0
    i = w * h
    u = dw * dh if iscrowd else dw * dh + gw * gh - i
    return i / u


def box_with_iou(gt, t, *, iscrowd=False, below=False, max_steps=400):
    """A detection box sharing ``gt``'s corner whose IoU with ``gt`` is exactly ``t``.

    With ``below=True`` the IoU is instead just below ``t`` (the side one
    float shorter than the shortest side reaching ``t``). The width is searched first, then
    the height, float by float around the analytic solution; returns ``None``
    when ``gt`` has no area or neither search hits ``t`` exactly.

    >>> box_with_iou([0.0, 0.0, 10.0, 10.0], 0.75)
    [0.0, 0.0, 7.5, 10.0]
    >>> d = box_with_iou([3.0, 7.0, 40.0, 13.0], 0.55, below=True)
    >>> coco_bbox_iou(d, [3.0, 7.0, 40.0, 13.0]) < 0.55
    True
    """
    gt = [float(v) for v in gt]
    if gt[2] <= 0 or gt[3] <= 0 or not 0 < t <= 1:
        return None
    for axis in (2, 3):
        box = _search_side(gt, t, axis, iscrowd, below, max_steps)
        if box is not None:
            return box
    return None


def _search_side(gt, t, axis, iscrowd, below, max_steps):
    # non-crowd: a box inside gt, narrower along `axis`, IoU increases with the side;
    # crowd: a box containing gt, longer along `axis`, IoU = side_gt / side decreases.
    side = t * gt[axis] if not iscrowd else gt[axis] / t
    if side <= 0:
        return None
    sign = 1.0 if not iscrowd else -1.0  # direction of the side that increases the IoU

    def box_of(s):
        b = list(gt)
        b[axis] = s
        return b

    def f(s):
        return coco_bbox_iou(box_of(s), gt, iscrowd)

    steps = 0
    while f(side) < t and steps < max_steps:  # walk up to f >= t
        side = math.nextafter(side, sign * math.inf)
        steps += 1
    while steps < 2 * max_steps:  # then down to the smallest side with f >= t
        prev = math.nextafter(side, -sign * math.inf)
        if prev <= 0 or f(prev) < t:
            break
        side = prev
        steps += 1
    if below:  # the next float down has f < t (just below the threshold)
        prev = math.nextafter(side, -sign * math.inf)
        return box_of(prev) if prev > 0 and f(prev) < t else None
    if f(side) != t:
        return None
    return box_of(side)


def _grid(rng, low, high, halves):
    v = float(rng.integers(low, high + 1))
    if halves and rng.random() < 0.3:
        v += 0.5
    return v


def _random_size(rng):
    if rng.random() < 0.35:
        return _SPECIAL_SIZES[rng.integers(len(_SPECIAL_SIZES))]
    kind = rng.random()
    if kind < 0.4:
        return (_grid(rng, 2, 40, True), _grid(rng, 2, 40, True))  # small
    if kind < 0.75:
        return (_grid(rng, 30, 110, True), _grid(rng, 30, 110, True))  # medium
    return (_grid(rng, 90, 300, False), _grid(rng, 90, 300, False))  # large


def _gt_area(rng, w, h):
    r = rng.random()
    if r < 0.7:
        return w * h
    if r < 0.85:
        return _SPECIAL_AREAS[rng.integers(len(_SPECIAL_AREAS))]
    return round(w * h * float(rng.uniform(0.3, 1.2)), 2)  # polygon-like area != w*h


def _score(rng):
    if rng.random() < 0.6:
        return _SCORE_SET[rng.integers(len(_SCORE_SET))]
    return round(float(rng.random()), 3)


def _jitter(rng, box):
    x, y, w, h = box
    kind = rng.random()
    if kind < 0.2:
        return [x, y, w, h]  # duplicate of the ground truth
    if kind < 0.6:
        return [x + _grid(rng, -3, 3, True), y + _grid(rng, -3, 3, True), w, h]
    scale = float(rng.choice([0.5, 0.8, 0.9, 1.1, 1.25, 2.0]))
    return [x + _grid(rng, -2, 2, False), y, w * scale, h * scale]


def make_coco_dataset(
    seed,
    *,
    n_images=40,
    n_categories=8,
    max_gt_per_image=8,
    n_crowded_images=2,
    crowded_size=150,
):
    """One adversarial COCO dataset: ``(gt_dict, results_list)``.

    Parameters
    ----------
    seed : int
        Seed of ``numpy.random.default_rng``; same seed, same dataset.
    n_images : int
        Images listed in ``gt["images"]`` (>= 1).
    n_categories : int
        Categories listed (>= 5). The first four (in the shuffled order) are
        special: crowd-only, ground truth without detections, detections
        without ground truth, and neither.
    max_gt_per_image : int
        Ground truths per ordinary image are drawn in ``[0, max_gt_per_image]``.
    n_crowded_images : int
        Images that get ``crowded_size`` (> 100) detections with tied scores.
    """
    if n_categories < 5:
        raise ValueError(f"n_categories must be >= 5; got {n_categories}")
    rng = np.random.default_rng(seed)
    image_ids = [int(i) for i in rng.choice(10**6, size=n_images, replace=False) + 1]
    cat_ids = [int(c) for c in rng.choice(300, size=n_categories, replace=False) + 1]
    crowd_only, gt_only, det_only, _unused = cat_ids[:4]
    normal = cat_ids[4:]
    gt_cats = [crowd_only, gt_only] + normal
    det_cats = [crowd_only, det_only] + normal

    images = [{"id": i, "width": 640, "height": 480, "file_name": f"{i:07d}.jpg"} for i in image_ids]
    categories = [{"id": c, "name": f"class_{c}", "supercategory": "thing"} for c in cat_ids]
    annotations = []
    results = []

    roles = rng.choice(["empty", "dets_only", "gt_only", "normal"], size=n_images, p=[0.1, 0.1, 0.1, 0.7])
    crowded = set(rng.choice(n_images, size=min(n_crowded_images, n_images), replace=False).tolist())
    thresholds = list(COCO_IOU_THRESHOLDS) + list(_EXTRA_THRESHOLDS)

    for index, image_id in enumerate(image_ids):
        role = "normal" if index in crowded else roles[index]
        gts = []
        if role in ("gt_only", "normal"):
            for _ in range(int(rng.integers(0 if role == "normal" else 1, max_gt_per_image + 1))):
                cat = gt_cats[rng.integers(len(gt_cats))]
                w, h = _random_size(rng)
                box = [_grid(rng, 0, 400, True), _grid(rng, 0, 300, True), w, h]
                crowd = 1 if cat == crowd_only else int(rng.random() < 0.1)
                gts.append({"image_id": image_id, "category_id": cat, "bbox": box,
                            "area": _gt_area(rng, w, h), "iscrowd": crowd})
                if rng.random() < 0.05:  # exact duplicate ground truth
                    gts.append(dict(gts[-1], bbox=list(box)))
        annotations.extend(gts)
        if role in ("empty", "gt_only"):
            continue

        dets = []
        for g in gts:
            if g["category_id"] == gt_only or rng.random() < 0.15:
                continue
            cat = g["category_id"] if rng.random() < 0.9 else det_cats[rng.integers(len(det_cats))]
            for _ in range(int(rng.integers(1, 4))):
                r = rng.random()
                if r < 0.4:
                    t = thresholds[rng.integers(len(thresholds))]
                    box = box_with_iou(g["bbox"], t, iscrowd=bool(g["iscrowd"]), below=rng.random() < 0.4)
                    if box is None:
                        box = _jitter(rng, g["bbox"])
                else:
                    box = _jitter(rng, g["bbox"])
                dets.append((cat, box))
        for _ in range(int(rng.integers(0, 5))):  # false positives, incl. the det-only class
            w, h = _random_size(rng)
            box = [_grid(rng, 0, 400, True), _grid(rng, 0, 300, True), w, h]
            dets.append((det_cats[rng.integers(len(det_cats))], box))
        if index in crowded:
            few_scores = (0.9, 0.7, 0.7, 0.5, 0.3)
            base = [g for g in gts if g["category_id"] in det_cats] or [
                {"category_id": normal[0], "bbox": [10.0, 10.0, 50.0, 40.0]}]
            while len(dets) < crowded_size:
                g = base[rng.integers(len(base))]
                dets.append((g["category_id"], _jitter(rng, g["bbox"])))
            for cat, box in dets:
                results.append({"image_id": image_id, "category_id": cat, "bbox": [float(v) for v in box],
                                "score": few_scores[rng.integers(len(few_scores))]})
            continue
        for cat, box in dets:
            results.append({"image_id": image_id, "category_id": cat, "bbox": [float(v) for v in box],
                            "score": _score(rng)})

    ann_ids = rng.choice(10**7, size=len(annotations), replace=False) + 1
    for ann, ann_id in zip(annotations, ann_ids):
        ann["id"] = int(ann_id)
        ann["bbox"] = [float(v) for v in ann["bbox"]]
    order = rng.permutation(len(annotations))
    annotations = [annotations[i] for i in order]
    results = [results[i] for i in rng.permutation(len(results))]
    gt = {"images": images, "categories": categories, "annotations": annotations}
    return gt, results


def _small_special_datasets():
    """Hand-made corner cases, each a ``(name, gt, results)``."""
    img = [{"id": 7, "width": 100, "height": 100}, {"id": 3, "width": 100, "height": 100}]
    cats = [{"id": 5, "name": "b"}, {"id": 2, "name": "a"}]

    def ann(i, image_id, cat, box, crowd=0, area=None):
        return {"id": i, "image_id": image_id, "category_id": cat, "bbox": [float(v) for v in box],
                "area": float(box[2] * box[3]) if area is None else area, "iscrowd": crowd}

    def det(image_id, cat, box, score):
        return {"image_id": image_id, "category_id": cat, "bbox": [float(v) for v in box], "score": score}

    out = []
    gt = {"images": img, "categories": cats,
          "annotations": [ann(1, 7, 5, [0, 0, 10, 10]), ann(2, 3, 2, [5, 5, 40, 40])]}
    out.append(("empty_results", gt, []))
    out.append(("no_annotations", {"images": img, "categories": cats, "annotations": []},
                [det(7, 5, [0, 0, 10, 10], 0.5), det(3, 2, [0, 0, 1, 1], 0.4)]))
    # one image, 130 detections with one score: truncation at 100 after a stable sort
    many = [det(7, 5, [float(k % 13), 0.0, 10.0, 10.0], 0.5) for k in range(130)]
    out.append(("ties_over_100", {"images": img, "categories": cats,
                                  "annotations": [ann(1, 7, 5, [0, 0, 10, 10]), ann(2, 7, 5, [12, 0, 10, 10]),
                                                  ann(3, 3, 5, [0, 0, 10, 10])]},
                many + [det(3, 5, [0, 0, 10, 10], 0.5)]))
    # cross-image tie: same score on both images, the lower image id comes first
    out.append(("cross_image_tie", {"images": img, "categories": cats,
                                    "annotations": [ann(1, 7, 5, [0, 0, 10, 10]), ann(2, 3, 5, [0, 0, 10, 10])]},
                [det(7, 5, [0, 0, 10, 10], 0.5), det(3, 5, [50, 50, 10, 10], 0.5),
                 det(3, 5, [0, 0, 10, 10], 0.4), det(7, 5, [60, 60, 5, 5], 0.4)]))
    # a crowd matched by several detections, a regular gt preferred over the crowd
    out.append(("crowd_many", {"images": img, "categories": cats,
                               "annotations": [ann(1, 7, 5, [0, 0, 50, 50], crowd=1),
                                               ann(2, 7, 5, [0, 0, 20, 20]), ann(3, 3, 2, [0, 0, 5, 5], crowd=1)]},
                [det(7, 5, [0, 0, 20, 20], 0.9), det(7, 5, [1, 1, 20, 20], 0.9),
                 det(7, 5, [10, 10, 20, 20], 0.8), det(7, 5, [40, 40, 20, 20], 0.7),
                 det(3, 2, [0, 0, 10, 5], 0.6), det(3, 2, [0, 0, 0, 5], 0.6)]))
    # equal IoU to two gts: pycocotools keeps the later one
    out.append(("equal_iou_candidates", {"images": img[:1], "categories": cats,
                                         "annotations": [ann(1, 7, 5, [0, 0, 10, 10]), ann(2, 7, 5, [10, 0, 10, 10]),
                                                         ann(3, 7, 5, [0, 0, 10, 10])]},
                [det(7, 5, [5, 0, 10, 10], 0.9), det(7, 5, [0, 0, 10, 10], 0.8), det(7, 5, [0, 0, 10, 10], 0.8)]))
    # area field exactly at the boundaries, detections of area exactly 32**2 and 96**2
    b = [ann(1, 7, 5, [0, 0, 32, 32]), ann(2, 7, 5, [100, 0, 30, 30], area=1024.0),
         ann(3, 7, 5, [0, 100, 96, 96]), ann(4, 7, 5, [200, 200, 10, 10], area=9216.0),
         ann(5, 3, 5, [0, 0, 40, 40], area=math.nextafter(1024.0, math.inf)),
         ann(6, 3, 5, [50, 50, 0, 10]), ann(7, 3, 2, [60, 60, 10, 0], area=50.0)]
    out.append(("area_boundaries", {"images": img, "categories": cats, "annotations": b},
                [det(7, 5, [0, 0, 32, 32], 0.9), det(7, 5, [100, 0, 30, 30], 0.8), det(7, 5, [0, 100, 96, 96], 0.7),
                 det(7, 5, [300, 300, 16, 64], 0.6), det(7, 5, [200, 200, 96, 96], 0.5),
                 det(3, 5, [0, 0, 40, 40], 0.4), det(3, 5, [50, 50, 0, 10], 0.3), det(3, 2, [60, 60, 10, 0], 0.3),
                 det(3, 5, [300, 300, 32, 32.5], 0.2)]))
    # annotation id 0: pycocotools records a match by the gt id, so a match with id 0
    # counts as no match (a false positive, or ignored when outside the area range)
    out.append(("ann_id_zero", {"images": img, "categories": cats,
                                "annotations": [ann(0, 7, 5, [0, 0, 10, 10]), ann(1, 7, 5, [50, 50, 40, 40]),
                                                ann(2, 3, 5, [0, 0, 100, 100]), ann(3, 3, 2, [0, 0, 20, 20])]},
                [det(7, 5, [0, 0, 10, 10], 0.9), det(7, 5, [0, 0, 10, 9], 0.8), det(7, 5, [50, 50, 40, 40], 0.7),
                 det(3, 5, [0, 0, 100, 100], 0.6), det(3, 2, [0, 0, 20, 20], 0.5)]))
    # recall k / n_gt for every k (n_gt = 100 and 50): recall lands on the 101 recall thresholds
    many_img = [{"id": 1000 + i} for i in range(10)]
    grid_anns, grid_dets, k = [], [], 1
    for cat, n_gt in ((5, 100), (2, 50)):
        for j in range(n_gt):
            box = [float(12 * (j % 10)), float(12 * (j // 10)), 10.0, 10.0]
            grid_anns.append(ann(k, 1000 + j % 10, cat, box))
            grid_dets.append(det(1000 + j % 10, cat, box, round(1.0 - j / 200, 4)))
            if j % 3 == 0:  # a false positive tied with it
                grid_dets.append(det(1000 + (j + 1) % 10, cat, [500.0, 500.0, 10.0, 10.0], round(1.0 - j / 200, 4)))
            k += 1
    out.append(("recall_grid", {"images": many_img, "categories": cats, "annotations": grid_anns}, grid_dets))
    # IoU exactly at each default threshold, and just below, for regular and crowd gts
    anns, dets, k = [], [], 1
    for j, t in enumerate(COCO_IOU_THRESHOLDS):
        for below in (False, True):
            for crowd in (0, 1):
                for w, h in ((13.0, 7.0), (100.0, 1.0), (64.0, 64.0), (40.0, 13.0), (3.0, 5.0)):
                    g = [float(20 * j), float(100 * below + 200 * crowd), w, h]
                    d = box_with_iou(g, float(t), iscrowd=bool(crowd), below=below)
                    if d is not None:
                        break
                else:
                    continue
                anns.append(ann(k, 7, 5, g, crowd=crowd))
                dets.append(det(7, 5, d, round(1.0 - 0.01 * k, 3)))
                k += 1
    out.append(("exact_thresholds", {"images": img, "categories": cats, "annotations": anns}, dets))
    return out


def adversarial_datasets():
    """The datasets the oracle tests run on: a list of ``(name, gt, results)``."""
    out = _small_special_datasets()
    for seed, n_images, n_categories in ((0, 40, 8), (1, 25, 6), (2, 60, 10), (3, 12, 5), (4, 5, 5), (5, 80, 12)):
        gt, results = make_coco_dataset(seed, n_images=n_images, n_categories=n_categories)
        out.append((f"seed{seed}_img{n_images}_cat{n_categories}", gt, results))
    return out


def has_zero_annotation_id(gt):
    """Whether a ground-truth annotation has id 0 (``mean_ap`` has no ids to reproduce that)."""
    return any(a["id"] == 0 for a in gt["annotations"])


def to_mean_ap(gt, results):
    """COCO JSON form -> ``(predictions, ground_truths, image_ids)`` for ``mean_ap``.

    One entry per image of ``gt["images"]`` in increasing image id (COCOeval's
    order, which decides cross-image score ties); detections keep their order
    in ``results``. Boxes stay ``xywh`` (use ``box_format="xywh"``), the ground
    truth ``area`` and ``iscrowd`` fields are passed through.
    """
    image_ids = sorted(img["id"] for img in gt["images"])
    gts = {i: [] for i in image_ids}
    dets = {i: [] for i in image_ids}
    for a in gt["annotations"]:
        gts[a["image_id"]].append(a)
    for r in results:
        dets[r["image_id"]].append(r)
    predictions, ground_truths = [], []
    for i in image_ids:
        d, g = dets[i], gts[i]
        predictions.append({
            "boxes": np.array([r["bbox"] for r in d], dtype=np.float64).reshape(len(d), 4),
            "scores": np.array([r["score"] for r in d], dtype=np.float64),
            "labels": np.array([r["category_id"] for r in d], dtype=np.int64),
        })
        ground_truths.append({
            "boxes": np.array([a["bbox"] for a in g], dtype=np.float64).reshape(len(g), 4),
            "labels": np.array([a["category_id"] for a in g], dtype=np.int64),
            "iscrowd": np.array([int(a.get("iscrowd", 0)) for a in g], dtype=np.int64),
            "area": np.array([a["area"] for a in g], dtype=np.float64),
        })
    return predictions, ground_truths, image_ids


def deep_copy(gt, results):
    """Independent copies (pycocotools mutates the dicts it is given)."""
    return copy.deepcopy(gt), copy.deepcopy(results)


def run_pycocotools(gt, results, *, iou_thresholds=None, max_detections=None, area_ranges=None):
    """``_support.pycocotools_eval`` as ``(stats, eval_dict, params)``.

    ``stats`` is NaN when fewer than 3 maxDets make ``summarize()`` fail.
    """
    from _support import pycocotools_eval

    summarize = max_detections is None or len(max_detections) >= 3  # summarize() indexes maxDets[2]
    ev, _ = pycocotools_eval(gt, results, iou_thresholds=iou_thresholds, max_detections=max_detections,
                             area_ranges=area_ranges, summarize=summarize)
    if not summarize:
        return np.full(12, np.nan), ev.eval, ev.params
    return np.asarray(ev.stats, dtype=np.float64), ev.eval, ev.params


def quirk_datasets(seed=0, n_images=20):
    """Inputs pycocotools accepts and handles in a particular way: ``(name, gt, results, options)``.

    ``options`` are ``evaluate_coco`` keywords (``iou_thresholds``,
    ``max_detections``, ``area_ranges``) to give both libraries.
    """
    base_gt, base_res = make_coco_dataset(seed, n_images=n_images)
    cat_ids = [c["id"] for c in base_gt["categories"]]
    out = []

    def add(name, gt=None, res=None, **options):
        out.append((name, base_gt if gt is None else gt, base_res if res is None else res, options))

    res = copy.deepcopy(base_res)
    res.append(dict(res[0], category_id=max(cat_ids) + 1000))
    add("results_with_unknown_category", res=res)  # pycocotools evaluates listed categories only
    gt = copy.deepcopy(base_gt)
    for a in gt["annotations"][::3]:
        a["ignore"] = 1  # overridden by iscrowd in COCOeval._prepare
    add("gt_ignore_field", gt=gt)
    gt = copy.deepcopy(base_gt)
    for a in gt["annotations"]:
        a["iscrowd"] = bool(a["iscrowd"])
    add("iscrowd_as_bool", gt=gt)
    # ground truth on an unlisted image or of an unlisted category: pycocotools leaves it out
    # silently; detmetrics rejects it (one rule with read_coco_gt), see test_reliability.py
    res = copy.deepcopy(base_res)
    for r in res:
        r["area"] = 5000.0  # loadRes overwrites area with w * h
        r["id"] = 0
        r["iscrowd"] = 1
    add("results_with_area_id_iscrowd_fields", res=res)
    gt, res = copy.deepcopy(base_gt), copy.deepcopy(base_res)
    a = gt["annotations"][0]
    a["bbox"], a["area"] = [0.0, 0.0, 2e5, 2e5], 4e10  # beyond the "all" range (1e5**2)
    res.append({"image_id": a["image_id"], "category_id": a["category_id"], "bbox": [0.0, 0.0, 2e5, 2e5],
                "score": 0.5})
    add("beyond_all_area_range", gt=gt, res=res)
    add("unsorted_iou_thresholds", iou_thresholds=(0.75, 0.5, 0.9))
    add("iou_threshold_zero", iou_thresholds=(0.0, 0.5))
    add("area_ranges_reordered", area_ranges={"large": (96.0**2, 1e10), "all": (0.0, 1e10),
                                              "small": (0.0, 32.0**2), "medium": (32.0**2, 96.0**2)})
    gt, res = copy.deepcopy(base_gt), copy.deepcopy(base_res)
    names = {img["id"]: f"img{img['id']}" for img in gt["images"]}  # sorted as strings
    for img in gt["images"]:
        img["id"] = names[img["id"]]
    for a in gt["annotations"]:
        a["image_id"] = names[a["image_id"]]
    for r in res:
        r["image_id"] = names[r["image_id"]]
    add("string_image_ids", gt=gt, res=res)
    res = copy.deepcopy(base_res)
    for r in res:
        r["bbox"] = [int(round(v)) for v in r["bbox"]]
        r["score"] = int(r["score"] >= 0.5)
    add("integer_boxes_and_scores", res=res)
    res = copy.deepcopy(base_res)
    for r in res:
        r["score"] = r["score"] * 10 - 3
    add("scores_outside_0_1", res=res)
    add("no_images", gt={"images": [], "categories": base_gt["categories"], "annotations": []}, res=[])
    add("no_categories", gt={"images": base_gt["images"], "categories": [], "annotations": []}, res=[])
    return out
