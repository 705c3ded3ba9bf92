"""Post-processing and box IoU: detmetrics (numba, numpy) vs torchvision, ensemble-boxes and plain NumPy.

Data (fixed seed, the same arrays for every implementation in one run): N
boxes (1k, 5k, 20k) in clusters of 10-20 jittered copies of an object box
(sides 20-60 px, centres jittered by ~6 px, sides by +-15%), on a square
canvas scaled with N so that there are about 1.5 cluster centres per 60 x 60
px: each cluster overlaps its neighbours partly.  Scores are distinct
uniform floats (so every implementation ranks the boxes the same way),
labels are 5 classes.

Timed (median of ``--repeat`` runs, after a warm-up that compiles / loads the
numba kernels):

* ``nms`` (IoU 0.5): detmetrics numba and numpy (a NumPy loop, the
  reference), torchvision ``ops.nms`` on float64 and float32, ensemble-boxes
  ``nms_float_fast``;
* ``batched_nms`` (5 classes): detmetrics numba / numpy, torchvision ``ops.batched_nms``;
* ``soft_nms`` gaussian (sigma 0.5, score threshold 0.001): detmetrics numba
  (numpy up to 5k: its reference is a Python-level exp loop), ensemble-boxes
  ``cpu_soft_nms_float`` (method 2);
* ``box_iou`` N x N at 1k and 5000 x 5000: detmetrics numba / numpy,
  torchvision ``ops.box_iou`` on float64, plain NumPy broadcasting;
* ``filter_by_confidence`` on a YOLO head's 8400 x 80 = 672,000 class scores
  (min_score 0.001, max_detections 300): numba (top-k selection) vs the NumPy
  reference (a stable argsort of every candidate).

torchvision rows run in another interpreter (``--torch-python``, default
``$DETMETRICS_TORCH_PYTHON``): the boxes go through a temporary .npz to
``_torch_rows.py``, which prints JSON (medians and kept indices).  Our kept
indices are checked against torchvision's (float64) and ensemble-boxes'.

Ratios are speed-ups of detmetrics numba: ``x tv`` = torchvision time /
ours (the faster torchvision dtype for nms), ``x eb`` = ensemble-boxes / ours,
``x np`` = the NumPy baseline / ours (our NumPy reference for NMS, plain
broadcasting for box_iou).

Run:  python benchmarks/bench_postprocess.py [--quick] [--torch-python PATH] [--repeat 5]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from detmetrics import batched_nms, box_iou, filter_by_confidence, nms, soft_nms

from _common import median_time, print_table, warm_up

HERE = Path(__file__).resolve().parent
N_CLASSES = 5
IOU_THRESHOLD = 0.5
SIGMA = 0.5
SCORE_THRESHOLD = 0.001


def clustered_boxes(n, seed=0):
    """``(boxes, scores, labels)``: ``n`` xyxy float64 boxes in partly overlapping clusters of 10-20."""
    rng = np.random.default_rng(seed)
    sizes = []
    while sum(sizes) < n:
        sizes.append(int(rng.integers(10, 21)))
    sizes[-1] -= sum(sizes) - n
    n_clusters = len(sizes)
    side = 60.0 * np.sqrt(n_clusters / 1.5)  # ~1.5 cluster centres per 60 x 60 px
    centres = rng.uniform(0, side, (n_clusters, 2))
    base_wh = rng.uniform(20, 60, (n_clusters, 2))
    which = np.repeat(np.arange(n_clusters), sizes)
    c = centres[which] + rng.normal(0, 6, (n, 2))
    wh = base_wh[which] * rng.uniform(0.85, 1.15, (n, 2))
    boxes = np.column_stack([c - wh / 2, c + wh / 2])
    order = rng.permutation(n)  # clusters are not contiguous in the input
    return (
        np.ascontiguousarray(boxes[order]),
        rng.random(n),
        rng.integers(0, N_CLASSES, n).astype(np.int64),
    )


def numpy_broadcast_iou(a, b):
    """Plain NumPy broadcasting IoU, as a user would write it."""
    area_a = (a[:, 2] - a[:, 0]) * (a[:, 3] - a[:, 1])
    area_b = (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])
    lt = np.maximum(a[:, None, :2], b[None, :, :2])
    rb = np.minimum(a[:, None, 2:], b[None, :, 2:])
    wh = np.clip(rb - lt, 0, None)
    inter = wh[..., 0] * wh[..., 1]
    return inter / (area_a[:, None] + area_b[None, :] - inter)


def torch_rows(python, data, repeat):
    """Run _torch_rows.py under ``python`` on ``data``; return its JSON, or None with a printed note."""
    if not python:
        print("note: torchvision rows skipped (give --torch-python PATH or set DETMETRICS_TORCH_PYTHON)")
        return None
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "boxes.npz")
        np.savez(path, **data)
        proc = subprocess.run(
            [python, str(HERE / "_torch_rows.py"), path, str(repeat)], capture_output=True, text=True
        )
    if proc.returncode != 0:
        print(f"note: torchvision rows failed under {python}:\n{proc.stderr.strip()[-2000:]}")
        return None
    return json.loads(proc.stdout.strip().splitlines()[-1])


def _ratio(baseline, ours):
    return baseline / ours if baseline is not None and ours else None


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=None, help="N values (default 1000 5000 20000)")
    parser.add_argument("--iou-size", type=int, default=None, help="side of the large box_iou (default 5000)")
    parser.add_argument("--repeat", type=int, default=None, help="timed runs per row (median; default 5)")
    parser.add_argument("--torch-python", default=os.environ.get("DETMETRICS_TORCH_PYTHON"),
                        help="interpreter with torch + torchvision (default $DETMETRICS_TORCH_PYTHON)")
    parser.add_argument("--quick", action="store_true", help="smoke run: N=1000, 1000 x 1000 IoU, 2 repeats")
    args = parser.parse_args(argv)
    sizes = args.sizes or ([1000] if args.quick else [1000, 5000, 20000])
    iou_size = args.iou_size or (1000 if args.quick else 5000)
    repeat = args.repeat or (2 if args.quick else 5)
    slow_repeat = max(1, min(repeat, 3))  # for the O(N^2) Python-level baselines

    from ensemble_boxes.ensemble_boxes_nms import cpu_soft_nms_float, nms_float_fast

    data, inputs = {}, {}
    for n in sizes:
        b, s, lab = clustered_boxes(n, seed=n)
        inputs[n] = (b, s, lab)
        data.update({f"boxes_{n}": b, f"scores_{n}": s, f"labels_{n}": lab})
    iou_a, _, _ = clustered_boxes(iou_size, seed=1)
    iou_b, _, _ = clustered_boxes(iou_size, seed=2)
    data.update({"iou_a": iou_a, "iou_b": iou_b})

    warm_up()
    nms_float_fast(inputs[sizes[0]][0][:10].copy(), inputs[sizes[0]][1][:10].copy(), IOU_THRESHOLD)  # its numba compile

    tv = torch_rows(args.torch_python, data, repeat)
    tv_rows = tv["rows"] if tv else {}
    if tv:
        print(f"torchvision {tv['version']} ({tv['threads']} torch threads), via {args.torch_python}")

    rows, checks = [], []
    for n in sizes:
        b, s, lab = inputs[n]
        # overlap statistics of the generated data
        keep = nms(b, s, IOU_THRESHOLD)
        print(f"N={n}: nms keeps {len(keep)} ({len(keep) / n:.1%}); batched_nms keeps "
              f"{len(batched_nms(b, s, lab, IOU_THRESHOLD))}")

        # nms
        t_numba = median_time(lambda: nms(b, s, IOU_THRESHOLD, backend="numba"), repeat)
        t_numpy = median_time(lambda: nms(b, s, IOU_THRESHOLD, backend="numpy"), slow_repeat)
        eb_keep = np.array(nms_float_fast(b.copy(), s.copy(), IOU_THRESHOLD), dtype=np.int64)
        t_eb = median_time(lambda: nms_float_fast(b, s, IOU_THRESHOLD), slow_repeat)
        tv64, tv32 = tv_rows.get(f"nms_f64_{n}"), tv_rows.get(f"nms_f32_{n}")
        t_tv = min(tv64["seconds"], tv32["seconds"]) if tv64 else None
        rows.append({"op": "nms", "N": n, "numba ms": 1e3 * t_numba, "numpy ms": 1e3 * t_numpy,
                     "tv f64 ms": tv64 and 1e3 * tv64["seconds"], "tv f32 ms": tv32 and 1e3 * tv32["seconds"],
                     "eb ms": 1e3 * t_eb, "x tv": _ratio(t_tv, t_numba), "x eb": _ratio(t_eb, t_numba),
                     "x np": _ratio(t_numpy, t_numba)})
        checks.append((f"nms N={n}: numba == numpy", np.array_equal(keep, nms(b, s, IOU_THRESHOLD, backend="numpy"))))
        checks.append((f"nms N={n}: == ensemble-boxes nms_float_fast", np.array_equal(keep, eb_keep)))
        if tv64:
            checks.append((f"nms N={n}: == torchvision float64", keep.tolist() == tv64["keep"]))
            checks.append((f"nms N={n}: == torchvision float32 (informational)", keep.tolist() == tv32["keep"]))

        # batched_nms
        bkeep = batched_nms(b, s, lab, IOU_THRESHOLD)
        t_numba = median_time(lambda: batched_nms(b, s, lab, IOU_THRESHOLD, backend="numba"), repeat)
        t_numpy = median_time(lambda: batched_nms(b, s, lab, IOU_THRESHOLD, backend="numpy"), slow_repeat)
        tvb = tv_rows.get(f"batched_nms_f64_{n}")
        rows.append({"op": "batched_nms", "N": n, "numba ms": 1e3 * t_numba, "numpy ms": 1e3 * t_numpy,
                     "tv f64 ms": tvb and 1e3 * tvb["seconds"], "x tv": _ratio(tvb and tvb["seconds"], t_numba),
                     "x np": _ratio(t_numpy, t_numba)})
        if tvb:
            checks.append((f"batched_nms N={n}: == torchvision float64", bkeep.tolist() == tvb["keep"]))

        # soft_nms (gaussian)
        kw = dict(method="gaussian", sigma=SIGMA, score_threshold=SCORE_THRESHOLD)
        idx, _ = soft_nms(b, s, **kw)
        t_numba = median_time(lambda: soft_nms(b, s, backend="numba", **kw), repeat)
        t_numpy = None
        if n <= 5000:
            t_numpy = median_time(lambda: soft_nms(b, s, backend="numpy", **kw), 1)
        eb_soft = cpu_soft_nms_float(b.copy(), s.copy(), Nt=IOU_THRESHOLD, sigma=SIGMA, thresh=SCORE_THRESHOLD, method=2)
        t_eb = median_time(lambda: cpu_soft_nms_float(b.copy(), s.copy(), Nt=IOU_THRESHOLD, sigma=SIGMA,
                                                      thresh=SCORE_THRESHOLD, method=2), slow_repeat)
        rows.append({"op": "soft_nms gauss", "N": n, "numba ms": 1e3 * t_numba,
                     "numpy ms": t_numpy and 1e3 * t_numpy, "eb ms": 1e3 * t_eb,
                     "x eb": _ratio(t_eb, t_numba), "x np": _ratio(t_numpy, t_numba)})
        # ensemble-boxes keeps every box whose final score is > thresh (it never drops boxes
        # early, so dropped boxes still decay others): the kept sets may differ slightly
        same = set(idx.tolist()) == set(np.asarray(eb_soft).tolist())
        checks.append((f"soft_nms N={n}: same kept set as ensemble-boxes (informational; {len(idx)} vs {len(eb_soft)})", same))

        # box_iou N x N (small sizes only; the large one is separate below)
        if n <= 1000:
            rows.append(_iou_row(f"box_iou {n}x{n}", b, b, repeat, tv_rows.get(f"box_iou_f64_{n}")))
            checks.append((f"box_iou {n}x{n}: numba == numpy == broadcasting",
                           np.array_equal(box_iou(b, b), box_iou(b, b, backend="numpy"))
                           and np.array_equal(box_iou(b, b), numpy_broadcast_iou(b, b))))

    rows.append(_iou_row(f"box_iou {iou_size}x{iou_size} (A x B)", iou_a, iou_b, repeat,
                         tv_rows.get(f"box_iou_f64_{iou_size}x{iou_size}")))
    checks.append((f"box_iou {iou_size}x{iou_size}: numba == broadcasting",
                   np.array_equal(box_iou(iou_a, iou_b), numpy_broadcast_iou(iou_a, iou_b))))

    # confidence filtering of a YOLO head's class scores (sigmoid outputs: most near 0)
    head = 1.0 / (1.0 + np.exp(-np.random.default_rng(3).normal(-7.0, 2.0, 8400 * 80)))
    t_numba = median_time(lambda: filter_by_confidence(head, 0.001, max_detections=300, backend="numba"), repeat)
    t_numpy = median_time(lambda: filter_by_confidence(head, 0.001, max_detections=300, backend="numpy"), repeat)
    n_cand = int((head >= 0.001).sum())
    rows.append({"op": f"filter_by_conf ({n_cand} >= 0.001) top 300", "N": head.shape[0],
                 "numba ms": 1e3 * t_numba, "numpy ms": 1e3 * t_numpy, "x np": _ratio(t_numpy, t_numba)})
    checks.append(("filter_by_confidence 672k top 300: numba == numpy",
                   np.array_equal(filter_by_confidence(head, 0.001, max_detections=300, backend="numba"),
                                  filter_by_confidence(head, 0.001, max_detections=300, backend="numpy"))))

    print()
    print_table(rows, ["op", "N", "numba ms", "numpy ms", "np-bcast ms", "tv f64 ms", "tv f32 ms", "eb ms",
                       "x tv", "x eb", "x np"])
    print()
    for label, ok in checks:
        print(f"{'OK  ' if ok else 'DIFF'} {label}")


def _iou_row(op, a, b, repeat, tv_row):
    t_numba = median_time(lambda: box_iou(a, b, backend="numba"), repeat)
    t_numpy = median_time(lambda: box_iou(a, b, backend="numpy"), max(1, min(repeat, 3)))
    t_bcast = median_time(lambda: numpy_broadcast_iou(a, b), max(1, min(repeat, 3)))
    t_tv = tv_row and tv_row["seconds"]
    return {"op": op, "N": len(a), "numba ms": 1e3 * t_numba, "numpy ms": 1e3 * t_numpy,
            "np-bcast ms": 1e3 * t_bcast, "tv f64 ms": t_tv and 1e3 * t_tv,
            "x tv": _ratio(t_tv, t_numba), "x np": _ratio(t_bcast, t_numba)}


if __name__ == "__main__":
    main()
