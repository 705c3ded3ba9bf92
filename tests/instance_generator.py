"""Generated COCO segm and keypoints datasets for the pycocotools oracle tests.

Plain functions driven by a seed, returning COCO JSON dicts/lists (ground
truth, results).  Each dataset mixes what ``COCOeval(iouType="segm")`` /
``"keypoints"`` handle in a particular way:

- segm: polygons with several parts (overlapping and disjoint), compressed
  and uncompressed (crowd) RLEs, ``area`` fields that differ from the mask
  area, crowds, empty images, images without ground truth or without
  results, categories without ground truth / results / either, more than
  100 results on an image, score ties within and across images, duplicate
  results (equal IoUs), non-square images of several sizes;
- keypoints: ground truths with all, some and no visible keypoints (and
  ``num_keypoints`` 0 but visible ones, which COCOeval ignores all the same),
  crowds, detections near and far, score ties, > 20 detections per image,
  areas on the medium/large boundaries.

>>> gt, res = make_segm_dataset(0, n_images=3)
>>> sorted(gt) == ["annotations", "categories", "images"]
True
"""

from __future__ import annotations

import numpy as np

__all__ = ["make_segm_dataset", "make_keypoints_dataset", "to_segm_mean_ap", "to_keypoints_mean_ap"]

_SCORES = (1.0, 0.9, 0.75, 0.5, 0.5, 0.25, 0.1, 0.05)


def _encode(mask):
    from detmetrics.masks import encode

    rle = encode(mask)
    return {"size": rle["size"], "counts": rle["counts"].decode("ascii")}


def _uncompressed(mask):
    """Uncompressed (list) counts of a (H, W) mask, as COCO's crowd annotations store them."""
    flat = np.asarray(mask, dtype=np.uint8).T.reshape(-1)
    counts, cur, run = [], 0, 0
    for v in flat:
        if v != cur:
            counts.append(run)
            run, cur = 0, v
        run += 1
    counts.append(run)
    return {"size": [int(mask.shape[0]), int(mask.shape[1])], "counts": [int(c) for c in counts]}


def _polygon(rng, h, w, cx=None, cy=None, r=None):
    cx = rng.uniform(0, w) if cx is None else cx
    cy = rng.uniform(0, h) if cy is None else cy
    r = rng.uniform(2, max(3.0, min(h, w) / 2)) if r is None else r
    n = int(rng.integers(3, 9))
    ang = np.sort(rng.uniform(0, 2 * np.pi, n))
    rad = r * rng.uniform(0.5, 1.0, n)
    xs = np.clip(cx + rad * np.cos(ang), -2, w + 2)
    ys = np.clip(cy + rad * np.sin(ang), -2, h + 2)
    pts = np.round(np.stack([xs, ys], 1) * 4) / 4  # a coarse grid: shared edges, equal IoUs
    return pts.ravel().tolist()


def _rasterize(poly_parts, h, w):
    from detmetrics.masks import decode, from_polygons, merge

    return decode(merge(from_polygons(poly_parts, h, w)))


def make_segm_dataset(seed, *, n_images=12, n_categories=4, crowd_rate=0.15, with_bbox=False):
    """A COCO segm ground truth and compressed-RLE results (``with_bbox``: results carry a bbox)."""
    rng = np.random.default_rng(seed)
    images, anns, results = [], [], []
    sizes = [(24, 32), (40, 30), (33, 57), (64, 48), (17, 23)]
    cats = [{"id": c, "name": f"c{c}"} for c in (2, 5, 7, 11, 13)[:n_categories + 1]]
    gt_cats = [c["id"] for c in cats[:n_categories - 1]]  # the last listed category has no ground truth
    det_cats = [c["id"] for c in cats[1:n_categories]] + [cats[-1]["id"]]  # ...the first no results
    ann_id = 1
    for i in range(n_images):
        img_id = int(3 * i + 1)
        h, w = sizes[int(rng.integers(len(sizes)))]
        images.append({"id": img_id, "height": h, "width": w, "file_name": f"{img_id}.png"})
        kind = i % 6
        gt_masks = []
        if kind != 0:  # image 0 mod 6: no ground truth
            for _ in range(int(rng.integers(1, 6))):
                cat = int(rng.choice(gt_cats))
                crowd = rng.random() < crowd_rate
                n_parts = int(rng.integers(1, 4))
                parts = [_polygon(rng, h, w) for _ in range(n_parts)]
                mask = _rasterize(parts, h, w)
                if crowd:
                    segm = _uncompressed(mask)
                elif rng.random() < 0.2:
                    segm = _encode(mask)
                else:
                    segm = parts
                area = float(mask.sum())
                if rng.random() < 0.3:
                    area = float(rng.choice([area * 0.5, area + 300.0, 1024.0, 9216.0, 0.0]))
                ys, xs = np.nonzero(mask)
                bbox = [float(xs.min()), float(ys.min()), float(xs.max() - xs.min() + 1),
                        float(ys.max() - ys.min() + 1)] if xs.size else [0.0, 0.0, 0.0, 0.0]
                anns.append({"id": ann_id, "image_id": img_id, "category_id": cat, "segmentation": segm,
                             "area": area, "bbox": bbox, "iscrowd": int(crowd)})
                ann_id += 1
                gt_masks.append((cat, mask))
        if kind == 1:  # image 1 mod 6: ground truth, no results
            continue
        n_det = 130 if kind == 5 else int(rng.integers(0, 12))
        for d in range(n_det):
            if gt_masks and rng.random() < 0.6:
                cat, base = gt_masks[int(rng.integers(len(gt_masks)))]
                mask = base.copy()
                dy, dx = (int(v) for v in rng.integers(-2, 3, 2))
                mask = np.roll(np.roll(mask, dy, 0), dx, 1)
                if rng.random() < 0.3:
                    cat = int(rng.choice(det_cats))
            else:
                cat = int(rng.choice(det_cats))
                mask = _rasterize([_polygon(rng, h, w)], h, w)
            entry = {"image_id": img_id, "category_id": cat, "segmentation": _encode(mask),
                     "score": float(rng.choice(_SCORES))}
            if with_bbox:
                ys, xs = np.nonzero(mask)
                pad = float(rng.choice([0.0, 3.0, 8.0]))  # box area != mask area: loadRes takes the box's
                entry["bbox"] = [float(xs.min()) - pad, float(ys.min()) - pad, float(xs.max() - xs.min() + 1) + 2 * pad,
                                 float(ys.max() - ys.min() + 1) + 2 * pad] if xs.size else [0.0, 0.0, 1.0, 1.0]
            results.append(entry)
            if rng.random() < 0.1:  # a duplicate: equal IoUs, equal scores
                results.append(dict(entry))
    return {"images": images, "annotations": anns, "categories": cats}, results


def make_keypoints_dataset(seed, *, n_images=12, k=17, with_bbox=True):
    """A COCO person-keypoints ground truth and results (``with_bbox``: results carry a bbox)."""
    rng = np.random.default_rng(seed)
    images, anns, results = [], [], []
    cats = [{"id": 1, "name": "person"}, {"id": 3, "name": "other"}]
    ann_id = 1
    for i in range(n_images):
        img_id = int(2 * i + 5)
        images.append({"id": img_id, "height": 480, "width": 640})
        kind = i % 5
        gts = []
        if kind != 0:
            for _ in range(int(rng.integers(1, 6))):
                w, h = (float(v) for v in rng.choice([20.0, 31.0, 32.0, 60.0, 96.0, 150.0], 2))
                x, y = float(rng.uniform(0, 400)), float(rng.uniform(0, 300))
                kx = np.round(rng.uniform(x, x + w, k), 1)
                ky = np.round(rng.uniform(y, y + h, k), 1)
                v = rng.choice([0, 1, 2], k, p=[0.3, 0.3, 0.4]) if rng.random() > 0.2 else np.zeros(k, int)
                kx, ky = np.where(v > 0, kx, 0.0), np.where(v > 0, ky, 0.0)
                num = int((v > 0).sum())
                if rng.random() < 0.05:
                    num = 0  # num_keypoints says 0 though keypoints are visible: COCOeval ignores it
                crowd = int(rng.random() < 0.1)
                area = float(rng.choice([w * h, w * h * 0.6, 1024.0, 9216.0]))
                kps = np.stack([kx, ky, v.astype(float)], 1).ravel().tolist()
                cat = 1 if rng.random() < 0.85 else 3
                anns.append({"id": ann_id, "image_id": img_id, "category_id": cat, "keypoints": kps,
                             "num_keypoints": num, "area": area, "bbox": [x, y, w, h], "iscrowd": crowd})
                ann_id += 1
                gts.append((cat, np.stack([kx, ky], 1), (x, y, w, h)))
        if kind == 1:
            continue
        n_det = 27 if kind == 4 else int(rng.integers(0, 8))
        for _ in range(n_det):
            if gts and rng.random() < 0.7:
                cat, pts, (x, y, w, h) = gts[int(rng.integers(len(gts)))]
                pts = np.where(pts == 0, rng.uniform(x, x + w, pts.shape), pts)
                pts = np.round(pts + rng.normal(0, rng.choice([0.5, 2.0, 8.0]), pts.shape), 2)
            else:
                cat = 1
                x, y = float(rng.uniform(0, 400)), float(rng.uniform(0, 300))
                pts = np.round(np.stack([rng.uniform(x, x + 80, k), rng.uniform(y, y + 80, k)], 1), 2)
            kps = np.concatenate([pts, np.ones((k, 1))], 1).ravel().tolist()
            entry = {"image_id": img_id, "category_id": cat, "keypoints": kps, "score": float(rng.choice(_SCORES))}
            if with_bbox:
                x0, y0 = pts.min(0)
                x1, y1 = pts.max(0)
                entry["bbox"] = [float(x0) - 2, float(y0) - 2, float(x1 - x0) + 4, float(y1 - y0) + 4]
            results.append(entry)
    return {"images": images, "annotations": anns, "categories": cats}, results


def _by_image(gt, results):
    ids = sorted(im["id"] for im in gt["images"])
    pos = {i: p for p, i in enumerate(ids)}
    g = [[] for _ in ids]
    r = [[] for _ in ids]
    for a in gt["annotations"]:
        g[pos[a["image_id"]]].append(a)
    for d in results:
        r[pos[d["image_id"]]].append(d)
    return ids, g, r


def to_segm_mean_ap(gt, results, form="rle"):
    """Per-image dicts for ``mean_ap(iou_type="segm")``: ``form`` "rle", "masks" (bool arrays) or "polygons"."""
    from detmetrics.masks import decode

    ids, g, r = _by_image(gt, results)
    sizes = {im["id"]: (im["height"], im["width"]) for im in gt["images"]}
    preds, gts = [], []
    for img, anns, dets in zip(ids, g, r):
        h, w = sizes[img]
        segs = [a["segmentation"] for a in anns]
        if form == "masks":
            from detmetrics.masks import _segmentations_flat, _to_dicts

            c, o, sz = _segmentations_flat(segs, [h] * len(segs), [w] * len(segs), "numpy")
            gmasks = decode(_to_dicts(c, o, sz, "numpy")) if segs else np.zeros((0, h, w), bool)
            dmasks = decode([d["segmentation"] for d in dets]) if dets else np.zeros((0, h, w), bool)
        else:
            gmasks, dmasks = segs, [d["segmentation"] for d in dets]
        gts.append({"masks": gmasks, "labels": [a["category_id"] for a in anns], "image_size": (h, w),
                    "iscrowd": [a["iscrowd"] for a in anns], "area": [a["area"] for a in anns]})
        preds.append({"masks": dmasks, "scores": [d["score"] for d in dets],
                      "labels": [d["category_id"] for d in dets], "image_size": (h, w)})
    return preds, gts


def to_keypoints_mean_ap(gt, results, k=17):
    """Per-image dicts for ``mean_ap(iou_type="keypoints", box_format="xywh")``."""
    ids, g, r = _by_image(gt, results)
    preds, gts = [], []
    for anns, dets in zip(g, r):
        gts.append({"keypoints": np.array([a["keypoints"] for a in anns]).reshape(len(anns), k, 3),
                    "boxes": np.array([a["bbox"] for a in anns]).reshape(-1, 4),
                    "labels": [a["category_id"] for a in anns], "iscrowd": [a["iscrowd"] for a in anns],
                    "area": [a["area"] for a in anns], "num_keypoints": [a["num_keypoints"] for a in anns]})
        pred = {"keypoints": np.array([d["keypoints"] for d in dets]).reshape(len(dets), k, 3),
                "scores": [d["score"] for d in dets], "labels": [d["category_id"] for d in dets]}
        if dets and "bbox" in dets[0]:
            pred["boxes"] = np.array([d["bbox"] for d in dets]).reshape(-1, 4)
        preds.append(pred)
    return preds, gts
