"""Exact COCO mAP of a synthetic dataset generated and matched on a Dask cluster, never on the client.

    python examples/dask_large_scale.py                          # small: 4000 images, 2 workers
    python examples/dask_large_scale.py --images 1000000 --dets-per-image 50 --partitions 400
    python examples/dask_large_scale.py --scheduler sync --images 2000000 --dets-per-image 50

Every partition of images is generated on the worker that evaluates it (the
client sends a partition number, nothing else), matched there by
``detmetrics.dask.mean_ap`` into a packed state, and the states merge in a
tree; only the merged state reaches this process, which computes the result.
``--scheduler sync`` streams the partitions one after the other through this
single process instead (its memory: the merged states plus one partition).
Printed: wall time (generate + match + merge on the cluster, then the
root's compute), the merged state's bytes per kept detection, the peak resident
memory of every worker and of this process; with ``--check`` (the default
up to 20000 images) the result is compared with single-process ``mean_ap``
on the same data.
"""

from __future__ import annotations

import argparse
import resource
import sys
import time

import numpy as np


def synthetic_partition(index: int, images: int, dets_per_image: int, gts_per_image: int, classes: int,
                        seed: int = 0) -> list:
    """The records ``(image_id, prediction, ground_truth)`` of partition ``index`` (ids ``index * images + j``).

    Per image ``gts_per_image`` objects and ``dets_per_image`` detections: most
    are noisy copies of an object (some with the wrong class), the rest land
    anywhere; scores are higher for the better detections.
    """
    rng = np.random.default_rng([seed, index])
    n_gt, n_det = images * gts_per_image, images * dets_per_image
    xy = rng.uniform(0, 900, (n_gt, 2))
    gt_boxes = np.hstack([xy, xy + rng.uniform(6, 300, (n_gt, 2))])
    gt_labels = rng.integers(0, classes, n_gt)
    owner = np.repeat(np.arange(images), dets_per_image) * gts_per_image + rng.integers(0, gts_per_image, n_det)
    noise = rng.exponential(4.0, (n_det, 1))
    det_boxes = gt_boxes[owner] + rng.normal(0, 1, (n_det, 4)) * noise
    stray = rng.random(n_det) < 0.3
    det_boxes[stray] = np.roll(det_boxes, 7, axis=0)[stray]
    det_boxes[:, 2:] = np.maximum(det_boxes[:, 2:], det_boxes[:, :2] + 1)
    det_labels = np.where(rng.random(n_det) < 0.9, gt_labels[owner], rng.integers(0, classes, n_det))
    scores = np.clip(1.0 - noise[:, 0] / 20 - 0.3 * stray + rng.normal(0, 0.1, n_det), 0.001, 1.0)
    out = []
    for j in range(images):
        g = slice(j * gts_per_image, (j + 1) * gts_per_image)
        d = slice(j * dets_per_image, (j + 1) * dets_per_image)
        out.append((index * images + j,
                    {"boxes": det_boxes[d], "scores": scores[d], "labels": det_labels[d]},
                    {"boxes": gt_boxes[g], "labels": gt_labels[g]}))
    return out


def peak_rss_mb() -> float:
    """Peak resident memory of the calling process so far, in MB (Linux: ru_maxrss is in KB)."""
    scale = 1.0 if sys.platform == "darwin" else 1024.0
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * scale / 1e6


def cpu_seconds() -> float:
    """User + system CPU time of the calling process so far."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def records_bag(args):
    import dask.bag as db

    per_part = -(-args.images // args.partitions)
    generate = lambda index: synthetic_partition(index, per_part, args.dets_per_image, args.gts_per_image,
                                                 args.classes, args.seed)
    # one element (the partition number) per partition, turned into that partition's records on the worker
    return db.from_sequence(range(args.partitions), npartitions=args.partitions).map(generate).flatten(), per_part


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--images", type=int, default=4000)
    parser.add_argument("--dets-per-image", type=int, default=20)
    parser.add_argument("--gts-per-image", type=int, default=8)
    parser.add_argument("--classes", type=int, default=20)
    parser.add_argument("--partitions", type=int, default=8)
    parser.add_argument("--workers", type=int, default=2, help="LocalCluster worker processes (1 thread each)")
    parser.add_argument("--scheduler", choices=["cluster", "sync"], default="cluster",
                        help="cluster: a distributed.LocalCluster; sync: stream the partitions through this process")
    parser.add_argument("--split-every", type=int, default=None,
                        help="merge the states on the workers in a tree of this fan-in (default: each partition's "
                             "state comes straight to this process)")
    parser.add_argument("--seed", type=int, default=0)
    check = parser.add_mutually_exclusive_group()
    check.add_argument("--check", dest="check", action="store_true", default=None,
                       help="compare with single-process mean_ap (default up to 20000 images)")
    check.add_argument("--no-check", dest="check", action="store_false")
    args = parser.parse_args(argv)
    for name in ("images", "dets_per_image", "gts_per_image", "classes", "partitions", "workers"):
        if getattr(args, name) < 1:
            parser.error(f"--{name.replace('_', '-')} must be a positive integer")
    if args.check is None:
        args.check = args.images <= 20000
    return args


def run(args) -> dict:
    """Evaluate; returns the figures printed (the benchmark reads them)."""
    import dask

    from detmetrics import dask as ddm

    bag, per_part = records_bag(args)
    n_images = per_part * args.partitions
    _warm_up()  # this process computes the root: its kernels loaded before the clock starts too
    out = {"images": n_images, "detections": n_images * args.dets_per_image, "partitions": args.partitions}
    if args.scheduler == "sync":
        with dask.config.set(scheduler="sync"):
            cpu = cpu_seconds()
            start = time.perf_counter()
            merged = ddm.merged_evaluator(bag, split_every=args.split_every)
            out["match_seconds"] = time.perf_counter() - start
            out["worker_cpu_seconds"] = cpu_seconds() - cpu
        out["worker_peak_mb"] = []
    else:
        from distributed import Client, LocalCluster

        with LocalCluster(n_workers=args.workers, threads_per_worker=1, processes=True,
                          dashboard_address=None) as cluster, Client(cluster) as client:
            client.run(_warm_up)  # numba kernels loaded (or compiled) before the clock starts
            out["worker_start_mb"] = sorted(client.run(peak_rss_mb).values())
            cpu = client.run(cpu_seconds)
            start = time.perf_counter()
            merged = ddm.merged_evaluator(bag, split_every=args.split_every)
            out["match_seconds"] = time.perf_counter() - start
            out["worker_peak_mb"] = sorted(client.run(peak_rss_mb).values())
            out["worker_cpu_seconds"] = sum(v - cpu[k] for k, v in client.run(cpu_seconds).items())
    out["client_before_compute_mb"] = peak_rss_mb()
    out["state_bytes"] = merged.state_nbytes
    start, cpu = time.perf_counter(), cpu_seconds()
    result = ddm.compute_merged(merged)  # the root: here, in this process
    out["compute_seconds"] = time.perf_counter() - start
    out["compute_cpu_seconds"] = cpu_seconds() - cpu
    out["seconds"] = out["match_seconds"] + out["compute_seconds"]
    out["client_peak_mb"] = peak_rss_mb()
    out["map"], out["map50"] = float(result.map), float(result.map50)
    out["kept_detections"] = int(result.n_det.sum())
    if args.check:
        from detmetrics import mean_ap

        records = [r for i in range(args.partitions) for r in synthetic_partition(
            i, per_part, args.dets_per_image, args.gts_per_image, args.classes, args.seed)]
        expected = mean_ap([r[1] for r in records], [r[2] for r in records])
        for name in ("stats", "precision", "recall", "scores"):
            if not np.allclose(getattr(result, name), getattr(expected, name), rtol=0, atol=1e-12):
                raise SystemExit(f"distributed {name} differs from single-process mean_ap")
        out["checked"] = True
    return out


def _warm_up() -> None:
    from detmetrics import Evaluator

    p, g = synthetic_partition(0, 2, 3, 2, 2)[0][1:]
    ev = Evaluator()
    ev.update([p], [g], image_ids=[0])
    ev.compute()


def main(argv=None) -> None:
    args = parse_args(argv)
    out = run(args)
    where = "this process (sync)" if args.scheduler == "sync" else f"LocalCluster, {args.workers} worker processes"
    print(f"{out['images']} images, {out['detections']} detections in {out['partitions']} partitions on {where}")
    print(f"wall time {out['seconds']:.2f} s  ({out['detections'] / out['seconds'] / 1e6:.2f} M detections/s): "
          f"generate + match + merge {out['match_seconds']:.2f} s, compute {out['compute_seconds']:.2f} s")
    print(f"CPU time: {out['worker_cpu_seconds']:.2f} s generating and matching, {out['compute_cpu_seconds']:.2f} s "
          "computing the root")
    print(f"merged state {out['state_bytes'] / 1e6:.1f} MB, "
          f"{out['state_bytes'] / max(out['kept_detections'], 1):.1f} bytes per kept detection (ground truths included)")
    print(f"mAP {out['map']:.4f}  mAP50 {out['map50']:.4f}  ({out['kept_detections']} detections kept)")
    if out["worker_peak_mb"]:
        print("peak RSS per worker (MB): " + ", ".join(f"{v:.0f}" for v in out["worker_peak_mb"])
              + "  (after start-up: " + ", ".join(f"{v:.0f}" for v in out["worker_start_mb"]) + ")")
    print(f"peak RSS of this process (MB): {out['client_peak_mb']:.0f}")
    if out.get("checked"):
        print("equal to single-process mean_ap (stats, precision, recall, scores within 1e-12)")


if __name__ == "__main__":
    main()
