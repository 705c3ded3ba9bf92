"""Evaluator in a training loop: the cost of ``update`` per call, flat in the number of calls.

One image per update (the worst case for per-call overhead), ``--images``
updates; printed: the median cost of an update over the first and the last
tenth of the calls (flat means equal), ``compute()``, and the same data
through one ``mean_ap`` call (the work itself).  With ``--torch-python`` (an
interpreter with torch + torchmetrics, also ``DETMETRICS_TORCH_PYTHON``), the
same batches go through torchmetrics' ``MeanAveragePrecision.update`` in that
interpreter, and its ``compute()`` is timed too.  The Evaluator's result is
checked equal to ``mean_ap`` before anything is printed.

    python benchmarks/bench_evaluator.py --images 20000 --torch-python /path/to/venv/bin/python
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

import numpy as np

_TORCH_SCRIPT = r"""
import json, sys, time
import numpy as np, torch
from torchmetrics.detection import MeanAveragePrecision
data = np.load(sys.argv[1])
n = int(data["n"])
metric = MeanAveragePrecision(box_format="xyxy", iou_type="bbox")
times = []
for i in range(n):
    p = [{"boxes": torch.from_numpy(data[f"pb{i}"]).float(), "scores": torch.from_numpy(data[f"ps{i}"]).float(),
          "labels": torch.from_numpy(data[f"pl{i}"])}]
    g = [{"boxes": torch.from_numpy(data[f"gb{i}"]).float(), "labels": torch.from_numpy(data[f"gl{i}"])}]
    t = time.perf_counter(); metric.update(p, g); times.append(time.perf_counter() - t)
t = time.perf_counter(); out = metric.compute(); t_compute = time.perf_counter() - t
tenth = max(1, n // 10)
print(json.dumps({"first": float(np.median(times[:tenth])), "last": float(np.median(times[-tenth:])),
                  "compute": t_compute, "map": float(out["map"])}))
"""


def _dataset(n, seed=0):
    rng = np.random.default_rng(seed)
    preds, gts = [], []
    for _ in range(n):
        k = int(rng.integers(5, 30))
        m = int(rng.integers(1, min(k, 10) + 1))
        b = rng.uniform(0, 600, (k, 2))
        b = np.hstack([b, b + rng.uniform(4, 120, (k, 2))])
        labels = rng.integers(0, 10, k)
        g = b[:m] + rng.normal(0, 3, (m, 4))  # ground truths near the first detections
        g[:, 2:] = np.maximum(g[:, 2:], g[:, :2] + 1)
        preds.append({"boxes": b, "scores": rng.random(k), "labels": labels})
        gts.append({"boxes": g, "labels": np.where(rng.random(m) < 0.8, labels[:m], rng.integers(0, 10, m))})
    return preds, gts


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=5000)
    parser.add_argument("--torch-python", default=os.environ.get("DETMETRICS_TORCH_PYTHON"))
    args = parser.parse_args()
    from detmetrics import Evaluator, mean_ap

    preds, gts = _dataset(args.images)
    warm = Evaluator()
    warm.update(preds[:2], gts[:2])
    warm.compute()  # compile / load the kernels first
    for image_ids in (False, True):
        ev = Evaluator()
        times = []
        cpu = time.process_time()
        for i in range(args.images):
            t = time.perf_counter()
            ev.update(preds[i:i + 1], gts[i:i + 1], image_ids=[i] if image_ids else None)
            times.append(time.perf_counter() - t)
        t = time.perf_counter()
        result = ev.compute()
        t_compute = time.perf_counter() - t
        cpu_evaluator = time.process_time() - cpu
        t, cpu = time.perf_counter(), time.process_time()
        expected = mean_ap(preds, gts)
        t_mean_ap = time.perf_counter() - t
        cpu_mean_ap = time.process_time() - cpu
        assert np.array_equal(result.stats, expected.stats) and np.array_equal(result.precision, expected.precision)
        tenth = max(1, args.images // 10)
        first, last = np.median(times[:tenth]), np.median(times[-tenth:])
        print(f"detmetrics Evaluator (image_ids={image_ids}): {args.images} one-image updates, "
              f"median update {first * 1e6:.0f} us (first tenth) / {last * 1e6:.0f} us (last tenth), "
              f"total {sum(times):.2f} s, compute {t_compute:.3f} s; mean_ap on all {t_mean_ap:.3f} s "
              f"({t_mean_ap / args.images * 1e6:.0f} us per image): update overhead "
              f"{(np.mean(times) - t_mean_ap / args.images) * 1e6:.0f} us per image")
        print(f"  CPU time (robust to a busy machine): updates + compute {cpu_evaluator:.2f} s, mean_ap "
              f"{cpu_mean_ap:.2f} s -> overhead {(cpu_evaluator - cpu_mean_ap) / args.images * 1e6:.0f} us per "
              "one-image update")
    if not args.torch_python:
        print("torchmetrics: not run (pass --torch-python or set DETMETRICS_TORCH_PYTHON)")
        return
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "batches.npz")
        arrays = {"n": np.array(args.images)}
        for i, (p, g) in enumerate(zip(preds, gts)):
            arrays.update({f"pb{i}": p["boxes"], f"ps{i}": p["scores"], f"pl{i}": p["labels"],
                           f"gb{i}": g["boxes"], f"gl{i}": g["labels"]})
        np.savez(path, **arrays)
        script = os.path.join(tmp, "tm.py")
        with open(script, "w") as fh:
            fh.write(_TORCH_SCRIPT)
        out = subprocess.run([args.torch_python, script, path], capture_output=True, text=True, check=True)
    tm = json.loads(out.stdout.strip().splitlines()[-1])
    print(f"torchmetrics MeanAveragePrecision: median update {tm['first'] * 1e6:.0f} us (first tenth) / "
          f"{tm['last'] * 1e6:.0f} us (last tenth), compute {tm['compute']:.2f} s, map {tm['map']:.4f} "
          f"(detmetrics {expected.map:.4f}; torchmetrics passes float32 thresholds)")
    print(f"ratio update (last tenth): {tm['last'] / last:.1f}x; compute: {tm['compute'] / t_compute:.1f}x")


if __name__ == "__main__":
    sys.exit(main())
