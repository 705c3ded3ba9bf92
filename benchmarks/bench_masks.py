"""COCO RLE masks: detmetrics.masks (numba) vs pycocotools.mask and faster_coco_eval's mask module.

Data (fixed seed, the same objects for every library in one run): ``--images``
images of 640 x 480, each with 50 ground-truth instances (random star-shaped
polygons of 8-24 vertices, radius 10-80 px, some touching the border) and 100
detections (60 jittered copies of ground truths -- vertices moved by a few
pixels -- and 40 unrelated polygons).  Ground truths are rasterised once
(pycocotools' ``frPyObjects`` + ``merge``) into compressed RLEs; the bool
masks are their decodings.  A large-image case: one 4000 x 3000 image with
30 ground truths and 60 detections, radii 100-900 px.

Rows (each library from the same inputs; results checked equal first):

* ``encode``: the detections' ``(N, H, W)`` bool masks of one image to RLEs
  (pycocotools needs an ``(H, W, N)`` Fortran uint8 array: the conversion is
  part of its time, as for a user holding ``(N, H, W)`` masks); ``encode F``:
  the same from pycocotools' native ``(H, W, N)`` Fortran layout (detmetrics
  gets the ``(N, H, W)`` view of that array);
* ``decode``: one image's detection RLEs to masks;
* ``area`` / ``toBbox``: each image's detection RLEs, one call per image
  (pycocotools 2.0.11's ``area`` fails on more than 255 RLEs in one call
  under NumPy 2: it builds a uint8 array holding the count);
* ``frPyObjects``: every ground-truth polygon of every image (pycocotools:
  ``frPyObjects`` + ``merge`` per instance, as ``COCO.annToRLE``;
  detmetrics: one ``from_polygons`` call per image);
* ``iou``: 100 x 50 per image with crowds, summed over images (the call
  COCOeval makes per image and class, here per image);
* ``iou large``: the 4000 x 3000 image, 60 x 30.

Medians of ``--repeat`` runs after a warm-up (numba compiles or loads its
cache), the libraries interleaved run by run; ``--clock cpu`` times this
process's CPU time instead of wall time (steadier when other jobs share the
cores).  ``x pycoco`` / ``x fce`` = their time / ours.

Run:  python benchmarks/bench_masks.py [--images 20] [--repeat 5] [--clock wall|cpu] [--quick]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from pycocotools import mask as coco_mask

from detmetrics import masks as dm

from _common import median_time, print_table

try:  # faster-coco-eval's pycocotools-compatible mask module
    from faster_coco_eval.core import mask as fce_mask
except ImportError:  # pragma: no cover - optional anchor
    fce_mask = None


def star(rng, cx, cy, r_lo, r_hi, n_lo=8, n_hi=24):
    k = int(rng.integers(n_lo, n_hi + 1))
    angles = np.sort(rng.uniform(0, 2 * np.pi, k))
    radii = rng.uniform(r_lo, r_hi) * rng.uniform(0.5, 1.0, k)
    return np.column_stack([cx + radii * np.cos(angles), cy + radii * np.sin(angles)]).round(2)


def make_image(rng, h, w, n_gt, n_match, n_other, r_lo, r_hi):
    gts = [[star(rng, rng.uniform(0, w), rng.uniform(0, h), r_lo, r_hi).ravel().tolist()] for _ in range(n_gt)]
    dets = []
    for i in range(n_match):
        part = np.asarray(gts[i % n_gt][0]).reshape(-1, 2)
        dets.append([(part + rng.normal(0, 3, part.shape)).round(2).ravel().tolist()])
    for _ in range(n_other):
        dets.append([star(rng, rng.uniform(0, w), rng.uniform(0, h), r_lo, r_hi).ravel().tolist()])
    crowd = (rng.random(n_gt) < 0.1).astype(np.uint8)
    return gts, dets, crowd


def _cpu(fn):
    start = time.process_time()
    fn()
    return time.process_time() - start


def rasterise(instances, h, w):
    return [coco_mask.merge(coco_mask.frPyObjects(parts, h, w)) for parts in instances]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=None, help="640 x 480 images (default 20)")
    parser.add_argument("--repeat", type=int, default=None, help="timed runs per row (median; default 7)")
    parser.add_argument("--quick", action="store_true", help="smoke run: 3 images, 2 repeats")
    parser.add_argument(
        "--clock",
        choices=["wall", "cpu"],
        default="wall",
        help="wall time (default) or this process's CPU time (steadier on a shared machine)",
    )
    args = parser.parse_args(argv)
    n_images = args.images or (3 if args.quick else 20)
    repeat = args.repeat or (2 if args.quick else 7)
    rng = np.random.default_rng(0)
    h, w = 480, 640
    images = [make_image(rng, h, w, 50, 60, 40, 10, 80) for _ in range(n_images)]
    gt_rles = [rasterise(g, h, w) for g, _, _ in images]
    dt_rles = [rasterise(d, h, w) for _, d, _ in images]
    crowds = [c for _, _, c in images]
    big_h, big_w = 3000, 4000
    big_g, big_d, big_c = make_image(rng, big_h, big_w, 30, 40, 20, 100, 900)
    big_gt, big_dt = rasterise(big_g, big_h, big_w), rasterise(big_d, big_h, big_w)
    masks0 = dm.decode(dt_rles[0]).copy()  # (N, H, W) C-contiguous bool, as a user holds them
    masks0_f = np.asfortranarray(masks0.transpose(1, 2, 0).astype(np.uint8))  # pycocotools' native layout

    def ours_iou():
        return [dm.iou(d, g, c) for d, g, c in zip(dt_rles, gt_rles, crowds)]

    libs = {"pycocotools": coco_mask}
    if fce_mask is not None:
        libs["faster-coco-eval"] = fce_mask
    ops = {
        "encode": (
            lambda: dm.encode(masks0),
            {
                k: (lambda m=m: m.encode(np.asfortranarray(masks0.transpose(1, 2, 0).view(np.uint8))))
                for k, m in libs.items()
            },
            lambda a, b: [r["counts"] for r in a] == [r["counts"] for r in b],
        ),
        "encode F": (
            lambda: dm.encode(masks0_f.transpose(2, 0, 1)),
            {k: (lambda m=m: m.encode(masks0_f)) for k, m in libs.items()},
            lambda a, b: [r["counts"] for r in a] == [r["counts"] for r in b],
        ),
        "decode": (
            lambda: dm.decode(dt_rles[0]),
            {k: (lambda m=m: m.decode(dt_rles[0])) for k, m in libs.items()},
            lambda a, b: np.array_equal(a, np.asarray(b).transpose(2, 0, 1)),
        ),
        "area": (
            lambda: [dm.area(d) for d in dt_rles],
            {k: (lambda m=m: [m.area(d) for d in dt_rles]) for k, m in libs.items()},
            lambda a, b: all(np.array_equal(x, y) for x, y in zip(a, b)),
        ),
        "toBbox": (
            lambda: [dm.to_bbox(d) for d in dt_rles],
            {k: (lambda m=m: [m.toBbox(d) for d in dt_rles]) for k, m in libs.items()},
            lambda a, b: all(np.array_equal(x, y) for x, y in zip(a, b)),
        ),
        "frPyObjects": (
            lambda: [dm.from_polygons(g, h, w) for g, _, _ in images],
            {
                k: (lambda m=m: [[m.merge(m.frPyObjects(p, h, w)) for p in g] for g, _, _ in images])
                for k, m in libs.items()
            },
            lambda a, b: a == b,
        ),
        "iou": (
            ours_iou,
            {k: (lambda m=m: [m.iou(d, g, c) for d, g, c in zip(dt_rles, gt_rles, crowds)]) for k, m in libs.items()},
            lambda a, b: all(np.array_equal(x, y) for x, y in zip(a, b)),
        ),
        "iou large": (
            lambda: dm.iou(big_dt, big_gt, big_c),
            {k: (lambda m=m: m.iou(big_dt, big_gt, big_c)) for k, m in libs.items()},
            lambda a, b: np.array_equal(a, b),
        ),
    }
    sizes = {
        "encode": f"{masks0.shape[0]} x {h}x{w}",
        "encode F": f"{masks0.shape[0]} x {h}x{w}",
        "decode": f"{len(dt_rles[0])} RLEs",
        "area": f"{n_images} x {len(dt_rles[0])} RLEs",
        "toBbox": f"{n_images} x {len(dt_rles[0])} RLEs",
        "frPyObjects": f"{sum(len(g) for g, _, _ in images)} polygons",
        "iou": f"{n_images} x 100x50",
        "iou large": f"{len(big_dt)}x{len(big_gt)} {big_h}x{big_w}",
    }
    clock = time.process_time if args.clock == "cpu" else time.perf_counter
    rows = []
    for name, (ours, anchors, same) in ops.items():
        mine = ours()  # warm-up: compile or load the kernels
        for lib, fn in anchors.items():
            if not same(mine, fn()):
                raise SystemExit(f"{name}: detmetrics and {lib} disagree")
        # interleaved (ours, then each anchor, repeat times) so that a busy machine slows all alike
        fns = {"detmetrics": ours, **anchors}
        times = {k: [] for k in fns}
        for _ in range(repeat):
            for k, fn in fns.items():
                times[k].append(median_time(fn, 1, number=1) if clock is time.perf_counter else _cpu(fn))
        t_ours = float(np.median(times["detmetrics"]))
        row = {"op": name, "size": sizes[name], "detmetrics ms": 1e3 * t_ours}
        for lib in anchors:
            t = float(np.median(times[lib]))
            short = "pycoco" if lib == "pycocotools" else "fce"
            row[f"{short} ms"] = 1e3 * t
            row[f"x {short}"] = t / t_ours
        rows.append(row)
    columns = ["op", "size", "detmetrics ms", "pycoco ms", "x pycoco"]
    if fce_mask is not None:
        columns += ["fce ms", "x fce"]
    print(
        f"results equal for every row; {args.clock} clock, medians of {repeat} interleaved runs; "
        "x = their time / detmetrics' (numba)"
    )
    print_table(rows, columns)


if __name__ == "__main__":
    main()
