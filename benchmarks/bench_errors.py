"""TIDE error breakdown: ``detmetrics.error_breakdown`` vs the ``tidecv`` package on the same boxes.

A generated dataset (``--images`` images, ~20 detections and ~7 ground truths each, 10 classes,
some crowds, jittered / relabelled / duplicated / background detections); both compute TIDE's
AP at 0.5, the six main error counts and dAPs and the two special dAPs.  The results are checked
equal first (counts exactly, AP and dAP to 1e-6), then timed (median of ``--repeat``):

* tidecv: ``TIDE.evaluate`` + ``get_all_errors`` on prebuilt ``Data`` objects ("tidecv"), and
  with building the ``Data`` from the same per-image arrays ("tidecv+data");
* detmetrics: ``error_breakdown`` from the per-image dicts (validation included), numba kernels
  (warm) and the NumPy references.

    python benchmarks/bench_errors.py --images 500
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(__file__))
from _common import median_time, print_table

NAMES = {"cls": "Cls", "loc": "Loc", "both": "Both", "dupe": "Dupe", "bkg": "Bkg", "miss": "Miss"}
SPECIAL = {"false_pos": "FalsePos", "false_neg": "FalseNeg"}


def dataset(n_images, seed=0, n_classes=10):
    """Per-image dicts of xywh boxes."""
    rng = np.random.default_rng(seed)
    preds, gts = [], []
    for _ in range(n_images):
        m = int(rng.integers(1, 14))
        g = np.c_[rng.uniform(0, 500, (m, 2)), rng.uniform(8, 150, (m, 2))]
        labels = rng.integers(0, n_classes, m)
        crowd = (rng.random(m) < 0.05).astype(np.int64)
        k = int(rng.integers(1, 4)) * m
        src = rng.integers(0, m, k)
        wh = np.tile(g[src, 2:], 2)
        d = g[src] + wh * rng.normal(0, 0.12, (k, 4))  # jitter relative to the box size
        d[:, 2:] = np.maximum(d[:, 2:], 2)
        dl = np.where(rng.random(k) < 0.85, labels[src], rng.integers(0, n_classes, k))
        n_bg = int(rng.integers(0, 5))
        d = np.vstack([d, np.c_[rng.uniform(0, 500, (n_bg, 2)), rng.uniform(8, 80, (n_bg, 2))]])
        dl = np.concatenate([dl, rng.integers(0, n_classes, n_bg)])
        preds.append({"boxes": d, "scores": np.round(rng.random(d.shape[0]), 3), "labels": dl})
        gts.append({"boxes": g, "labels": labels, "iscrowd": crowd})
    return preds, gts


def tidecv_data(preds, gts):
    import tidecv

    gt_data, pred_data = tidecv.Data("gt"), tidecv.Data("pred")
    for i in range(len(gts)):
        gt_data.add_image(i, str(i))
    for i, (p, g) in enumerate(zip(preds, gts)):
        for box, label, crowd in zip(g["boxes"].tolist(), g["labels"].tolist(), g["iscrowd"].tolist()):
            if crowd:
                gt_data.add_ignore_region(i, label, box)
            else:
                gt_data.add_ground_truth(i, label, box)
        for box, score, label in zip(p["boxes"].tolist(), p["scores"].tolist(), p["labels"].tolist()):
            pred_data.add_detection(i, label, score, box)
    return gt_data, pred_data


def run_tidecv(gt_data, pred_data):
    import tidecv

    tide = tidecv.TIDE()
    with contextlib.redirect_stdout(io.StringIO()):
        run = tide.evaluate(gt_data, pred_data, name="pred")
        errors = tide.get_all_errors()
    me = tidecv.errors.main_errors
    counts = run.count_errors()
    return {"ap": run.ap, "main": errors["main"]["pred"], "special": errors["special"]["pred"],
            "counts": {name: counts[getattr(me, cls)] for name, cls in
                       (("cls", "ClassError"), ("loc", "BoxError"), ("both", "OtherError"),
                        ("dupe", "DuplicateError"), ("bkg", "BackgroundError"), ("miss", "MissedError"))}}


def check_equal(ours, theirs):
    assert ours.counts == theirs["counts"], (ours.counts, theirs["counts"])
    worst = abs(100 * ours.ap - theirs["ap"])
    for name, short in NAMES.items():
        worst = max(worst, abs(100 * ours.dap[name] - theirs["main"][short]))
    for name, short in SPECIAL.items():
        worst = max(worst, abs(100 * ours.special[name] - theirs["special"][short]))
    assert worst <= 1e-6, worst
    return worst


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=500)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args(argv)
    try:
        import tidecv  # noqa: F401
    except ImportError:
        sys.exit("bench_errors needs tidecv (pip install tidecv): it is the anchor")
    from detmetrics import error_breakdown

    preds, gts = dataset(args.images)
    n_det = sum(p["boxes"].shape[0] for p in preds)
    n_gt = sum(g["boxes"].shape[0] for g in gts)
    theirs = run_tidecv(*tidecv_data(preds, gts))
    results = {b: error_breakdown(preds, gts, box_format="xywh", backend=b) for b in ("numba", "numpy")}
    worst = max(check_equal(r, theirs) for r in results.values())
    assert results["numba"] == results["numpy"]
    print(f"{args.images} images, {n_det} detections, {n_gt} ground truths; equal to tidecv "
          f"(counts exact, AP / dAP max |diff| {worst:.1e} points)")
    print(f"TIDE AP@50 {theirs['ap']:.2f}; counts {theirs['counts']}")
    print()

    # tidecv mutates its Data while evaluating and clears it after, so prebuilt Data can be reused
    gt_data, pred_data = tidecv_data(preds, gts)
    t_tide = median_time(lambda: run_tidecv(gt_data, pred_data), repeat=args.repeat)
    t_tide_data = median_time(lambda: run_tidecv(*tidecv_data(preds, gts)), repeat=args.repeat)
    rows = [{"run": "tidecv", "seconds": t_tide, "ratio": 1.0},
            {"run": "tidecv+data", "seconds": t_tide_data, "ratio": t_tide_data / t_tide}]
    for backend in ("numba", "numpy"):
        t = median_time(lambda b=backend: error_breakdown(preds, gts, box_format="xywh", backend=b),
                        repeat=args.repeat)
        rows.append({"run": f"detmetrics ({backend})", "seconds": t, "ratio": t / t_tide,
                     "speed-up vs tidecv": t_tide / t})
    print_table(rows, ["run", "seconds", "ratio", "speed-up vs tidecv"])


if __name__ == "__main__":
    main()
