"""COCO segm and keypoints evaluation: detmetrics vs pycocotools and faster-coco-eval on the same files.

Data (generated once, fixed seed, written to ``--dir``):

* segm: ``--images`` images of 640 x 480 (default 500), 80 categories;
  about 7 ground truths per image: random star-shaped polygons (1-2 parts,
  radius 8-90 px) and, one in ten, crowd regions stored as uncompressed RLE
  (COCO's crowd format); 80 results per image as compressed RLE (60 %
  jittered copies of a ground truth -- shifted by a few pixels, or the
  category changed -- and 40 % unrelated polygons), scores from a coarse set
  (ties).  At the default size that is about 3,500 ground truths and 40,000
  results, as COCO val2017's per-image density of results.
* keypoints: the same images, 1-5 persons each (17 keypoints, some
  invisible, a few without any visible keypoint) and 20 results per image
  with a bbox (as ultralytics and detectron2 write them).

Each library loads the two JSON files (``load``) and then runs evaluate +
accumulate (+ summarize) (``eval+acc``); ``total`` is both.  detmetrics'
load is its JSON decoder (``detmetrics.io._coco_decode``) and its eval+acc
``detmetrics.evaluate.evaluate_loaded``; ``total`` is ``evaluate_coco`` from
the paths.  The stats of every library are checked against pycocotools'
first (``max |d stats|``).  Medians over ``--repeats`` (pycocotools once by
default: it takes seconds), after a warm-up of the numba kernels on a tiny
dataset.  ``x pycoco`` / ``x fce`` = their time / ours, for eval+acc in wall and CPU time
(this process's, steadier when other jobs share the cores) and for the total.

Measured (2 shared cores, load average ~2, --repeats 9): segm -- pycocotools 0.54 s load +
6.68 s eval+acc, faster-coco-eval 1.06 s + 1.18 s, detmetrics 0.24 s + 0.055 s (eval+acc
122x pycocotools and 21.6x faster-coco-eval, CPU time alike; from the files 24.8x / 7.7x);
keypoints -- pycocotools 0.27 s + 0.80 s, faster-coco-eval 0.24 s + 0.22 s, detmetrics
0.07 s + 0.011 s (70x / 19x; from the files 9.6x / 4.1x); identical stats.  The ratios move
with the machine's load (segm eval+acc 68-167x / 20-36x over runs here).

Run:  python benchmarks/bench_segm.py [--images 500] [--repeats 5] [--quick]
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

DEFAULT_DIR = os.path.join("/tmp", "detmetrics_bench_segm")
H, W = 480, 640


def _median_time(fn, repeats, cpu_out=None):
    """(median wall seconds, last return value); the median CPU seconds go to ``cpu_out[0]``."""
    times, cpus, out = [], [], None
    for _ in range(max(1, repeats)):
        t0, c0 = time.perf_counter(), time.process_time()
        out = fn()
        times.append(time.perf_counter() - t0)
        cpus.append(time.process_time() - c0)
    if cpu_out is not None:
        cpu_out.append(float(np.median(cpus)))
    return float(np.median(times)), out


@contextlib.contextmanager
def _quiet():
    with contextlib.redirect_stdout(io.StringIO()):
        yield


# ---------------------------------------------------------------- data
def _star(rng, cx, cy, r):
    n = int(rng.integers(8, 20))
    ang = np.sort(rng.uniform(0, 2 * np.pi, n))
    rad = r * rng.uniform(0.5, 1.0, n)
    xs = np.clip(cx + rad * np.cos(ang), 0, W)
    ys = np.clip(cy + rad * np.sin(ang), 0, H)
    return np.round(np.stack([xs, ys], 1), 2).ravel().tolist()


def _uncompressed(counts):
    return [int(c) for c in counts]


def make_segm(n_images, seed=0):
    from detmetrics.masks import _polygons_kernel, _to_dicts, from_polygons, merge

    rng = np.random.default_rng(seed)
    cats = [{"id": c, "name": f"class{c}"} for c in range(1, 81)]
    images, anns, results = [], [], []
    scores = np.round(np.linspace(0.05, 1.0, 20), 2)
    ann_id = 1
    for i in range(n_images):
        img_id = i + 1
        images.append({"id": img_id, "height": H, "width": W, "file_name": f"{img_id:06d}.jpg"})
        gts = []
        for _ in range(int(rng.integers(2, 13))):
            cat = int(rng.integers(1, 81))
            cx, cy, r = rng.uniform(0, W), rng.uniform(0, H), rng.uniform(8, 90)
            parts = [_star(rng, cx, cy, r)]
            if rng.random() < 0.2:
                parts.append(_star(rng, cx + r, cy, r / 2))
            rle = merge(from_polygons(parts, H, W))
            crowd = rng.random() < 0.1
            if crowd:
                from detmetrics.masks import _as_rles

                c, _, _, _ = _as_rles(rle, "rle", "numba")
                segm = {"size": [H, W], "counts": _uncompressed(c)}
            else:
                segm = parts
            from detmetrics.masks import area as rle_area
            from detmetrics.masks import to_bbox

            anns.append({"id": ann_id, "image_id": img_id, "category_id": cat, "segmentation": segm,
                         "area": float(rle_area(rle)), "bbox": to_bbox(rle).tolist(), "iscrowd": int(crowd)})
            ann_id += 1
            gts.append((cat, cx, cy, r, parts))
        polys, dets = [], []
        for _ in range(80):
            if gts and rng.random() < 0.6:
                cat, cx, cy, r, parts = gts[int(rng.integers(len(gts)))]
                dx, dy = rng.normal(0, max(1.0, r / 8), 2)
                poly = (np.array(parts[0]) + np.tile([dx, dy], len(parts[0]) // 2)).clip(0, max(H, W)).tolist()
                if rng.random() < 0.2:
                    cat = int(rng.integers(1, 81))
            else:
                cat = int(rng.integers(1, 81))
                poly = _star(rng, rng.uniform(0, W), rng.uniform(0, H), rng.uniform(5, 60))
            polys.append(poly)
            dets.append((cat, float(rng.choice(scores))))
        xy = np.ascontiguousarray(np.concatenate([np.reshape(p, (-1, 2)) for p in polys]), dtype=np.float64)
        point_offsets = np.zeros(len(polys) + 1, dtype=np.int64)
        np.cumsum([len(p) // 2 for p in polys], out=point_offsets[1:])
        part_offsets = np.arange(len(polys) + 1, dtype=np.int64)
        hs = np.full(len(polys), H, dtype=np.int64)
        ws = np.full(len(polys), W, dtype=np.int64)
        counts, offsets = _polygons_kernel(xy, point_offsets, part_offsets, hs, ws)
        sizes = np.stack([hs, ws], 1)
        for (cat, score), rle in zip(dets, _to_dicts(counts, offsets, sizes, "numba")):
            results.append({"image_id": img_id, "category_id": cat,
                            "segmentation": {"size": rle["size"], "counts": rle["counts"].decode("ascii")},
                            "score": score})
    return {"images": images, "annotations": anns, "categories": cats}, results


def make_keypoints(n_images, seed=1):
    rng = np.random.default_rng(seed)
    images, anns, results = [], [], []
    ann_id = 1
    for i in range(n_images):
        img_id = i + 1
        images.append({"id": img_id, "height": H, "width": W})
        people = []
        for _ in range(int(rng.integers(1, 6))):
            w, h = rng.uniform(20, 200), rng.uniform(40, 300)
            x, y = rng.uniform(0, W - w), rng.uniform(0, H - h)
            kx, ky = rng.uniform(x, x + w, 17), rng.uniform(y, y + h, 17)
            v = rng.choice([0, 1, 2], 17, p=[0.25, 0.25, 0.5]) if rng.random() > 0.05 else np.zeros(17, int)
            kx, ky = np.where(v > 0, kx, 0), np.where(v > 0, ky, 0)
            kps = np.round(np.stack([kx, ky, v], 1), 2).ravel().tolist()
            anns.append({"id": ann_id, "image_id": img_id, "category_id": 1, "keypoints": kps,
                         "num_keypoints": int((v > 0).sum()), "area": float(w * h * 0.6),
                         "bbox": [x, y, w, h], "iscrowd": int(rng.random() < 0.03)})
            ann_id += 1
            people.append((x, y, w, h, kx, ky, v))
        for _ in range(20):
            if rng.random() < 0.7:
                x, y, w, h, kx, ky, v = people[int(rng.integers(len(people)))]
                kx = np.where(v > 0, kx, rng.uniform(x, x + w, 17)) + rng.normal(0, w / 20, 17)
                ky = np.where(v > 0, ky, rng.uniform(y, y + h, 17)) + rng.normal(0, h / 20, 17)
            else:
                x, y = rng.uniform(0, W - 100), rng.uniform(0, H - 200)
                kx, ky = rng.uniform(x, x + 100, 17), rng.uniform(y, y + 200, 17)
            kps = np.round(np.stack([kx, ky, np.ones(17)], 1), 2).ravel().tolist()
            box = [float(kx.min()), float(ky.min()), float(kx.max() - kx.min()), float(ky.max() - ky.min())]
            results.append({"image_id": img_id, "category_id": 1, "keypoints": kps, "bbox": box,
                            "score": float(np.round(rng.uniform(0.05, 1.0), 2))})
    return {"images": images, "annotations": anns, "categories": [{"id": 1, "name": "person"}]}, results


def _ensure(folder, name, make, n_images):
    os.makedirs(folder, exist_ok=True)
    gt_path = os.path.join(folder, f"{name}_gt_{n_images}.json")
    res_path = os.path.join(folder, f"{name}_results_{n_images}.json")
    if not (os.path.exists(gt_path) and os.path.exists(res_path)):
        gt, res = make(n_images)
        with open(gt_path, "w") as f:
            json.dump(gt, f)
        with open(res_path, "w") as f:
            json.dump(res, f)
    return gt_path, res_path


# ---------------------------------------------------------------- libraries
def _phases(load, evaluate, repeats):
    t_load, loaded = _median_time(load, repeats)
    cpu: list = []
    t_eval, stats = _median_time(lambda: evaluate(loaded), repeats, cpu)
    return t_load, t_eval, t_load + t_eval, stats, cpu[0]


def _pycocotools(gt_path, res_path, iou_type, repeats):
    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval

    def load():
        with _quiet():
            gt = COCO(gt_path)
            return gt, gt.loadRes(res_path)

    def evaluate(loaded):
        with _quiet():
            ev = COCOeval(loaded[0], loaded[1], iou_type)
            ev.evaluate()
            ev.accumulate()
            ev.summarize()
        return np.asarray(ev.stats)

    return _phases(load, evaluate, repeats)


def _faster_coco_eval(gt_path, res_path, iou_type, repeats):
    from faster_coco_eval import COCO, COCOeval_faster

    def load():
        with _quiet():
            gt = COCO(gt_path)
            return gt, gt.loadRes(res_path)

    def evaluate(loaded):
        with _quiet():
            ev = COCOeval_faster(loaded[0], loaded[1], iouType=iou_type, print_function=lambda *a, **k: None)
            ev.evaluate()
            ev.accumulate()
            ev.summarize()
        return np.asarray(ev.stats[: 10 if iou_type == "keypoints" else 12])

    return _phases(load, evaluate, repeats)


def _detmetrics(gt_path, res_path, iou_type, repeats, backend="numba"):
    from detmetrics import evaluate_coco
    from detmetrics._inputs import parse_options
    from detmetrics.evaluate import evaluate_loaded
    from detmetrics.io._coco_decode import load_ground_truth, load_results

    opts = parse_options("xywh", backend=backend, iou_type=iou_type)

    def load():
        gt = load_ground_truth(gt_path, iou_type, opts.backend)
        return gt, load_results(res_path, gt, opts.backend)

    t_load, loaded = _median_time(load, repeats)
    cpu: list = []
    t_eval, split = _median_time(lambda: evaluate_loaded(*loaded, opts), repeats, cpu)
    t_total, result = _median_time(lambda: evaluate_coco(gt_path, res_path, iou_type=iou_type, backend=backend),
                                   repeats)
    assert np.array_equal(split.stats, result.stats)
    return t_load, t_eval, t_total, np.asarray(result.stats), cpu[0]


def _warm_up(folder):
    from detmetrics import evaluate_coco

    t0 = time.perf_counter()
    for name, make, iou_type in (("segm", make_segm, "segm"), ("kpts", make_keypoints, "keypoints")):
        gt, res = _ensure(folder, name, make, 3)
        evaluate_coco(gt, res, iou_type=iou_type, backend="numba")
    return time.perf_counter() - t0


def _table(title, rows):
    ref, fce = rows["pycocotools"], rows["faster-coco-eval"]
    print(f"\n{title}")
    header = (f"{'library':<20} {'load s':>8} {'eval+acc s':>11} {'(cpu s)':>8} {'total s':>9} "
              f"{'x pycoco (eval / cpu / total)':>30} {'x fce (eval / cpu / total)':>27} {'max |d stats|':>14}")
    print(header)
    print("-" * len(header))
    for name, (t_load, t_eval, t_total, stats, cpu) in rows.items():
        diff = float(np.max(np.abs(stats - ref[3])))
        vs_coco = f"{ref[1] / t_eval:7.1f} / {ref[4] / cpu:6.1f} / {ref[2] / t_total:6.1f}"
        vs_fce = f"{fce[1] / t_eval:6.1f} / {fce[4] / cpu:6.1f} / {fce[2] / t_total:6.1f}"
        print(f"{name:<20} {t_load:8.3f} {t_eval:11.3f} {cpu:8.3f} {t_total:9.3f} {vs_coco:>30} {vs_fce:>27} "
              f"{diff:14.2e}")
    print("stats (pycocotools):", np.array2string(ref[3], precision=4, max_line_width=200))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=500)
    parser.add_argument("--dir", default=DEFAULT_DIR)
    parser.add_argument("--repeats", type=int, default=5, help="repeats for detmetrics (median)")
    parser.add_argument("--fce-repeats", type=int, default=3)
    parser.add_argument("--coco-repeats", type=int, default=1)
    parser.add_argument("--quick", action="store_true", help="50 images, fewer repeats")
    parser.add_argument("--only", choices=("segm", "keypoints"), default=None)
    args = parser.parse_args(argv)
    if args.quick:
        args.images, args.repeats, args.fce_repeats = 50, 3, 1
    print(f"detmetrics numba warm-up (compile or cache load): {_warm_up(args.dir):.1f} s")
    for name, make, iou_type in (("segm", make_segm, "segm"), ("kpts", make_keypoints, "keypoints")):
        if args.only and args.only != iou_type:
            continue
        gt_path, res_path = _ensure(args.dir, name, make, args.images)
        with open(gt_path) as f:
            gt = json.load(f)
        with open(res_path) as f:
            n_res = len(json.load(f))
        n_crowd = sum(a["iscrowd"] for a in gt["annotations"])
        rows = {
            "pycocotools": _pycocotools(gt_path, res_path, iou_type, args.coco_repeats),
            "faster-coco-eval": _faster_coco_eval(gt_path, res_path, iou_type, args.fce_repeats),
            "detmetrics (numba)": _detmetrics(gt_path, res_path, iou_type, args.repeats),
        }
        _table(f"iouType={iou_type!r}: {len(gt['images'])} images {H}x{W}, {len(gt['annotations'])} ground truths "
               f"({n_crowd} crowd), {n_res} results; repeats: pycocotools {args.coco_repeats}, faster-coco-eval "
               f"{args.fce_repeats}, detmetrics {args.repeats}", rows)


if __name__ == "__main__":
    main()
