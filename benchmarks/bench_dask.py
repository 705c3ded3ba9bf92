"""detmetrics.dask on a LocalCluster against single-process ``mean_ap``: speed-up, state size, memory per worker.

    python benchmarks/bench_dask.py                      # 50000 images x 20 detections, 1 and 2 workers
    python benchmarks/bench_dask.py --large              # + 1M images / 50M detections on 2 workers
    python benchmarks/bench_dask.py --streamed           # + 100M detections streamed through one process

The data is the example's synthetic dataset (``examples/dask_large_scale.py``):
every partition is generated where it is evaluated.  Single process: the
same partitions generated here, then one ``mean_ap`` call (timed apart).  The
cluster runs (1 and 2 worker processes, one thread each, a fresh cluster
each so that the peak RSS is that run's) must give the single-process result
(stats, precision, recall, scores within 1e-12) before anything is printed.
The state size is measured on the merged Evaluator: packed detection and
ground-truth arrays per kept detection / ground truth, and the pickled bytes
per image (image ids included).  Speed is a ratio within this run:
single-process (generate + mean_ap) time over the cluster's wall time.
"""

from __future__ import annotations

import argparse
import os
import pickle
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "examples"))
from dask_large_scale import cpu_seconds, parse_args, peak_rss_mb, run, synthetic_partition


def state_sizes(ev, n_images: int) -> dict:
    det = gt = n_det = n_gt = 0
    for state in ev._states:
        det += sum(getattr(state, f).nbytes for f in ("det_cat", "det_img", "det_score", "det_rank", "det_tp", "det_fp"))
        gt += sum(getattr(state, f).nbytes for f in ("gt_cat", "gt_img", "gt_ignored"))
        n_det += state.det_score.shape[0]
        n_gt += state.gt_cat.shape[0]
    return {"det_bytes": det / max(n_det, 1), "gt_bytes": gt / max(n_gt, 1),
            "pickled_per_image": (len(pickle.dumps(ev)) - det - gt) / max(n_images, 1), "n_det": n_det, "n_gt": n_gt}


def single_process(ns) -> dict:
    from detmetrics import Evaluator, mean_ap

    per_part = -(-ns.images // ns.partitions)
    start = time.perf_counter()
    records = [r for i in range(ns.partitions) for r in synthetic_partition(
        i, per_part, ns.dets_per_image, ns.gts_per_image, ns.classes, ns.seed)]
    generate = time.perf_counter() - start
    preds, gts = [r[1] for r in records], [r[2] for r in records]
    mean_ap(preds[:50], gts[:50])  # kernels loaded before the clock starts
    start, cpu = time.perf_counter(), cpu_seconds()
    result = mean_ap(preds, gts)
    seconds, cpu = time.perf_counter() - start, cpu_seconds() - cpu
    ev = Evaluator()
    ev.update(preds, gts, image_ids=[r[0] for r in records])
    out = {"generate": generate, "mean_ap": seconds, "cpu": cpu, "result": result, "sizes": state_sizes(ev, len(records)),
           "peak_mb": peak_rss_mb()}
    # the root's compute in category groups (a quarter of the detections each here), 1 thread vs 2
    from detmetrics import dask as ddm

    saved, ddm._GROUP_ROWS = ddm._GROUP_ROWS, max(1, n_det(ev) // 4)
    try:
        for threads in (1, 2):
            start = time.perf_counter()
            grouped = ddm.compute_merged(ev, threads=threads)
            out[f"root_{threads}"] = time.perf_counter() - start
            assert np.array_equal(grouped.precision, result.precision) and np.array_equal(grouped.stats, result.stats)
    finally:
        ddm._GROUP_ROWS = saved
    return out


def n_det(ev) -> int:
    return sum(state.det_score.shape[0] for state in ev._states)


def cluster_run(ns, workers: int, scheduler: str = "cluster") -> dict:
    """One ``examples/dask_large_scale.py`` run in a fresh interpreter (its own peak RSS), figures as a dict."""
    import json
    import subprocess

    argv = ["--images", str(ns.images), "--dets-per-image", str(ns.dets_per_image), "--gts-per-image",
            str(ns.gts_per_image), "--classes", str(ns.classes), "--partitions", str(ns.partitions),
            "--workers", str(workers), "--scheduler", scheduler, "--seed", str(ns.seed), "--no-check"]
    code = ("import json, sys; sys.path.insert(0, sys.argv[1]); from dask_large_scale import parse_args, run; "
            "out = run(parse_args(sys.argv[2:])); print(json.dumps(out))")
    proc = subprocess.run([sys.executable, "-c", code, str(Path(__file__).resolve().parent.parent / "examples"),
                           *argv], capture_output=True, text=True, env=os.environ.copy())
    if proc.returncode:
        raise SystemExit(proc.stderr[-3000:])
    return json.loads(proc.stdout.strip().splitlines()[-1])


def check_equal(ns, expected) -> None:
    """The 2-worker result equals single-process mean_ap (run in this process, on a LocalCluster)."""
    args = parse_args(["--images", str(ns.images), "--dets-per-image", str(ns.dets_per_image), "--gts-per-image",
                       str(ns.gts_per_image), "--classes", str(ns.classes), "--partitions", str(ns.partitions),
                       "--workers", "2", "--seed", str(ns.seed), "--check"])
    out = run(args)
    assert out["checked"] and abs(out["map"] - float(expected.map)) < 1e-12


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--images", type=int, default=50000)
    parser.add_argument("--dets-per-image", type=int, default=20)
    parser.add_argument("--gts-per-image", type=int, default=8)
    parser.add_argument("--classes", type=int, default=20)
    parser.add_argument("--partitions", type=int, default=10)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--large", action="store_true", help="also 1M images / 50M detections on 2 workers")
    parser.add_argument("--streamed", action="store_true",
                        help="also 100M detections (2M images x 50) streamed through one process")
    parser.add_argument("--large-partitions", type=int, default=500)
    ns = parser.parse_args()

    single = single_process(ns)
    check_equal(ns, single["result"])
    rows = [cluster_run(ns, 1), cluster_run(ns, 2)]
    base = single["generate"] + single["mean_ap"]
    n_det = ns.images * ns.dets_per_image
    print(f"{ns.images} images, {n_det} detections, {ns.classes} classes, {ns.partitions} partitions; "
          "the 2-worker result equals single-process mean_ap (checked)")
    print(f"single process: generate {single['generate']:.2f} s + mean_ap {single['mean_ap']:.2f} s "
          f"= {base:.2f} s, peak RSS {single['peak_mb']:.0f} MB (the whole dataset in memory)")
    print(f"  (mean_ap CPU {single['cpu']:.2f} s; load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores: "
          "other processes share them)")
    print(f"{'workers':>8} {'wall s':>8} {'match s':>8} {'root s':>8} {'speed-up':>9} {'CPU s w+root':>13} "
          f"{'peak RSS per worker MB':>24} {'root MB':>8}")
    for workers, row in zip((1, 2), rows):
        peaks = "/".join(f"{v:.0f}" for v in row["worker_peak_mb"])
        cpu = f"{row['worker_cpu_seconds']:.2f}+{row['compute_cpu_seconds']:.2f}"
        print(f"{workers:>8} {row['seconds']:>8.2f} {row['match_seconds']:>8.2f} {row['compute_seconds']:>8.2f} "
              f"{base / row['seconds']:>8.2f}x {cpu:>13} {peaks:>24} {row['client_peak_mb']:>8.0f}")
    print("  (speed-up: single-process generate + mean_ap wall time over the cluster's; CPU s: the workers' "
          "generate + match, the root's compute)")
    print(f"2 workers vs 1: {rows[0]['seconds'] / rows[1]['seconds']:.2f}x")
    print(f"root compute in 4 category groups (equal to mean_ap, checked): 1 thread {single['root_1']:.2f} s, "
          f"2 threads {single['root_2']:.2f} s ({single['root_1'] / single['root_2']:.2f}x)")
    sizes = single["sizes"]
    print(f"state: {sizes['det_bytes']:.1f} B per kept detection, {sizes['gt_bytes']:.1f} B per ground truth, "
          f"{sizes['pickled_per_image']:.1f} B more per image when pickled (its id; {sizes['n_det']} detections, "
          f"{sizes['n_gt']} ground truths; a float64 xyxy box alone is 32 B, with score and label 48 B)")

    big = []
    if ns.large:
        big.append(("1M images / 50M detections, LocalCluster 2 workers",
                    argparse.Namespace(**{**vars(ns), "images": 1_000_000, "dets_per_image": 50,
                                          "partitions": ns.large_partitions}), 2, "cluster"))
    if ns.streamed:
        big.append(("2M images / 100M detections, streamed through one process (sync)",
                    argparse.Namespace(**{**vars(ns), "images": 2_000_000, "dets_per_image": 50,
                                          "partitions": 2 * ns.large_partitions}), 1, "sync"))
    for title, args, workers, scheduler in big:
        row = cluster_run(args, workers, scheduler)
        peaks = "/".join(f"{v:.0f}" for v in row["worker_peak_mb"]) or "-"
        print(f"{title}: wall {row['seconds']:.1f} s (match {row['match_seconds']:.1f} s, root compute "
              f"{row['compute_seconds']:.1f} s; CPU {row['worker_cpu_seconds']:.1f} + {row['compute_cpu_seconds']:.1f} s), "
              f"{row['kept_detections']} kept, state "
              f"{row['state_bytes'] / 1e9:.2f} GB ({row['state_bytes'] / row['kept_detections']:.1f} B/det), "
              f"peak RSS per worker {peaks} MB, root process {row['client_peak_mb']:.0f} MB, mAP {row['map']:.4f}")
    if not np.isfinite(single["result"].map):
        raise SystemExit("mAP is not finite")


if __name__ == "__main__":
    main()
