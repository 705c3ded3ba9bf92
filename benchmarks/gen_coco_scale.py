"""Deterministic COCO-scale detection data: ``gt.json`` and ``results.json``.

Shaped like COCO val2017 and a typical detector's export: 5000 images with
non-contiguous ids, COCO's 80 category ids (1..90 with gaps) with a skewed
class frequency, ~36.8k ground truths (about 41% small, 34% medium, 25% large
by box area, ~1% crowds, ``area`` fields smaller than ``w * h`` as polygon
areas are), and up to 100 detections per image (~400k in all): jittered copies
of the ground truths with high scores, duplicates, and false positives (mostly
of the classes present in the image) with low scores; boxes rounded to 2 decimals and scores to 3, so that score ties are
frequent, as in real exports.

Usage::

    python benchmarks/gen_coco_scale.py                 # -> /tmp/detmetrics_bench
    python benchmarks/gen_coco_scale.py --out DIR --scale small

Everything is vectorised NumPy plus one msgspec encode; the full scale is
written in a few seconds.
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np

COCO_CATEGORY_IDS = [c for c in range(1, 91) if c not in (12, 26, 29, 30, 45, 66, 68, 69, 71, 83)]
SCALES = {"full": 5000, "small": 500, "x10": 50000}
DEFAULT_OUT = "/tmp/detmetrics_bench"


def generate(n_images=5000, seed=0, max_dets=100):
    """Return ``(gt_dict, results_list)`` in COCO JSON form."""
    rng = np.random.default_rng(seed)
    n_cat = len(COCO_CATEGORY_IDS)
    cat_ids = np.array(COCO_CATEGORY_IDS, dtype=np.int64)
    cat_p = 1.0 / np.arange(1, n_cat + 1) ** 0.9  # skewed: "person" dominates
    cat_p /= cat_p.sum()

    image_ids = np.sort(rng.choice(600_000, size=n_images, replace=False) + 1)
    widths = rng.choice([640, 640, 640, 500, 480, 427], size=n_images)
    heights = rng.choice([480, 480, 427, 640, 375, 640], size=n_images)

    # ---- ground truths: ~7.36 per image, COCO's small/medium/large mix
    n_gt_img = rng.poisson(7.36, size=n_images)
    n_gt = int(n_gt_img.sum())
    gt_img = np.repeat(np.arange(n_images), n_gt_img)
    gt_cat = cat_ids[rng.choice(n_cat, size=n_gt, p=cat_p)]
    size_class = rng.choice(3, size=n_gt, p=[0.41, 0.34, 0.25])
    lo = np.array([2.0, 32.0, 96.0])[size_class]
    hi = np.array([32.0, 96.0, 400.0])[size_class]
    side = np.exp(rng.uniform(np.log(lo), np.log(hi)))  # sqrt(w*h)
    aspect = np.exp(rng.normal(0.0, 0.5, size=n_gt))
    w = np.minimum(side * np.sqrt(aspect), widths[gt_img] - 1.0)
    h = np.minimum(side / np.sqrt(aspect), heights[gt_img] - 1.0)
    x = rng.uniform(0.0, 1.0, size=n_gt) * (widths[gt_img] - w)
    y = rng.uniform(0.0, 1.0, size=n_gt) * (heights[gt_img] - h)
    gt_box = np.round(np.column_stack([x, y, w, h]), 2)
    gt_area = np.round(gt_box[:, 2] * gt_box[:, 3] * rng.uniform(0.45, 0.95, size=n_gt), 2)
    gt_crowd = (rng.random(n_gt) < 0.01).astype(np.int64)
    gt_ann_ids = np.sort(rng.choice(10**6, size=n_gt, replace=False) + 1)

    # ---- detections: copies of ground truths (true positives and duplicates)
    n_copies = rng.choice(4, size=n_gt, p=[0.15, 0.55, 0.2, 0.1])
    src = np.repeat(np.arange(n_gt), n_copies)
    base = gt_box[src]
    noise = rng.normal(0.0, 0.08, size=(len(src), 4)) * np.column_stack([base[:, 2], base[:, 3]] * 2)
    tp_box = base + noise
    tp_box[:, 2:] = np.maximum(tp_box[:, 2:], 0.5)
    tp_cat = np.where(rng.random(len(src)) < 0.92, gt_cat[src], cat_ids[rng.choice(n_cat, size=len(src), p=cat_p)])
    tp_score = rng.beta(5.0, 2.0, size=len(src))
    tp_img = gt_img[src]

    # ---- false positives fill each image to 60..100 candidates
    target = rng.integers(60, max_dets + 1, size=n_images)
    n_fp_img = np.maximum(target - np.bincount(tp_img, minlength=n_images), 0)
    n_fp = int(n_fp_img.sum())
    fp_img = np.repeat(np.arange(n_images), n_fp_img)
    fp_side = np.exp(rng.uniform(np.log(4.0), np.log(300.0), size=n_fp))
    fp_aspect = np.exp(rng.normal(0.0, 0.6, size=n_fp))
    fw = np.minimum(fp_side * np.sqrt(fp_aspect), widths[fp_img] - 1.0)
    fh = np.minimum(fp_side / np.sqrt(fp_aspect), heights[fp_img] - 1.0)
    fx = rng.random(n_fp) * (widths[fp_img] - fw)
    fy = rng.random(n_fp) * (heights[fp_img] - fh)
    fp_box = np.column_stack([fx, fy, fw, fh])
    # a detector's false positives are mostly of the classes in the image (mislocalised,
    # duplicates, parts), the rest of any class
    fp_cat = cat_ids[rng.choice(n_cat, size=n_fp, p=cat_p)]
    gt_start = np.searchsorted(gt_img, np.arange(n_images))
    n_in_img = n_gt_img[fp_img]
    same = (rng.random(n_fp) < 0.6) & (n_in_img > 0)
    pick = gt_start[fp_img] + (rng.random(n_fp) * np.maximum(n_in_img, 1)).astype(np.int64)
    fp_cat[same] = gt_cat[pick[same]]
    fp_score = rng.beta(1.0, 6.0, size=n_fp)

    det_img = np.concatenate([tp_img, fp_img])
    det_box = np.round(np.concatenate([tp_box, fp_box]), 2)
    det_cat = np.concatenate([tp_cat, fp_cat])
    det_score = np.round(np.concatenate([tp_score, fp_score]), 3)
    det_score = np.maximum(det_score, 0.001)
    # a detector keeps its top max_dets per image; export grouped by image
    order = np.lexsort((-det_score, det_img))
    det_img, det_box, det_cat, det_score = det_img[order], det_box[order], det_cat[order], det_score[order]
    starts = np.searchsorted(det_img, np.arange(n_images))
    rank = np.arange(len(det_img)) - starts[det_img]
    keep = rank < max_dets
    det_img, det_box, det_cat, det_score = det_img[keep], det_box[keep], det_cat[keep], det_score[keep]

    images = [{"id": i, "width": int(wi), "height": int(he), "file_name": f"{i:012d}.jpg"}
              for i, wi, he in zip(image_ids.tolist(), widths.tolist(), heights.tolist())]
    categories = [{"id": c, "name": f"class_{c}", "supercategory": "thing"} for c in COCO_CATEGORY_IDS]
    gt_image_ids = image_ids[gt_img].tolist()
    annotations = [
        {"id": a, "image_id": i, "category_id": c, "bbox": b, "area": ar, "iscrowd": cr}
        for a, i, c, b, ar, cr in zip(gt_ann_ids.tolist(), gt_image_ids, gt_cat.tolist(), gt_box.tolist(),
                                      gt_area.tolist(), gt_crowd.tolist())
    ]
    results = [
        {"image_id": i, "category_id": c, "bbox": b, "score": s}
        for i, c, b, s in zip(image_ids[det_img].tolist(), det_cat.tolist(), det_box.tolist(), det_score.tolist())
    ]
    gt = {"info": {"description": "detmetrics synthetic COCO-scale benchmark"}, "images": images,
          "categories": categories, "annotations": annotations}
    return gt, results


def write(out=DEFAULT_OUT, scale="full", seed=0):
    """Generate and write ``gt.json`` / ``results.json`` into ``out``; return their paths."""
    import msgspec

    gt, results = generate(SCALES[scale], seed=seed)
    os.makedirs(out, exist_ok=True)
    gt_path, res_path = os.path.join(out, "gt.json"), os.path.join(out, "results.json")
    with open(gt_path, "wb") as f:
        f.write(msgspec.json.encode(gt))
    with open(res_path, "wb") as f:
        f.write(msgspec.json.encode(results))
    return gt_path, res_path, gt, results


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=DEFAULT_OUT, help=f"output folder (default {DEFAULT_OUT})")
    parser.add_argument("--scale", choices=sorted(SCALES), default="full")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    t0 = time.perf_counter()
    gt_path, res_path, gt, results = write(args.out, args.scale, args.seed)
    elapsed = time.perf_counter() - t0
    anns = gt["annotations"]
    areas = np.array([a["bbox"][2] * a["bbox"][3] for a in anns])
    small, medium = np.mean(areas < 32**2), np.mean((areas >= 32**2) & (areas < 96**2))
    crowd = sum(a["iscrowd"] for a in anns)
    scores = np.array([r["score"] for r in results])
    print(f"{len(gt['images'])} images, {len(gt['categories'])} categories, {len(anns)} ground truths "
          f"({crowd} crowd; small {small:.0%} / medium {medium:.0%} / large {1 - small - medium:.0%}), "
          f"{len(results)} results ({len(np.unique(scores))} distinct scores)")
    print(f"wrote {gt_path} ({os.path.getsize(gt_path) / 1e6:.1f} MB) and {res_path} "
          f"({os.path.getsize(res_path) / 1e6:.1f} MB) in {elapsed:.1f} s")


if __name__ == "__main__":
    main()
