"""Rotated IoU and rotated NMS: detmetrics (numba, numpy) against shapely 2.x on the same boxes.

Data: ``boxes2`` holds jittered copies of the first half of ``boxes1`` and, for
the other half, independent random boxes, all with random angles, in an image
whose size makes about 0.8% of all pairs overlap (the mix of issue 4).

Timed (median of ``--repeat`` runs after a warm-up, which also compiles numba):

* ``detmetrics numba`` / ``detmetrics numpy``: ``rotated_iou(boxes1, boxes2)``;
* ``shapely dense``: polygons from the corners, then the vectorised
  ``shapely.intersection`` of every pair (broadcast, in row blocks to bound memory);
* ``shapely STRtree``: polygons, an ``STRtree`` over ``boxes2``, ``query(..., "intersects")``,
  then ``shapely.intersection`` of the candidate pairs only.

All four IoU matrices are compared (max |difference| must be <= 1e-9).  Then
rotated NMS on 5000 detector-like boxes (500 objects x 10 candidates): both
backends and a greedy NMS on shapely (STRtree pairs), all keeping the same indices.

Run:  python benchmarks/bench_rotated.py [--sizes 1000 2000] [--repeat 5]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
try:  # shared helpers (helper NMS's module), if present
    from _common import median_time  # type: ignore
except Exception:  # pragma: no cover - local fallback
    median_time = None

import shapely

from detmetrics import batched_nms
from detmetrics.rotated import as_rotated_boxes, rotated_iou, rotated_to_corners

EXTENT = 1200.0  # image side: about 0.8% of pairs overlap with sides in [20, 80]


def _median(fn, repeat):
    fn()  # warm-up (numba compiles on first call)
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return float(np.median(times))


def make_boxes(n, seed=0, extent=EXTENT):
    rng = np.random.default_rng(seed)

    def random_boxes(k):
        return np.column_stack(
            [
                rng.uniform(0, extent, k),
                rng.uniform(0, extent, k),
                rng.uniform(20, 80, k),
                rng.uniform(20, 80, k),
                rng.uniform(-np.pi, np.pi, k),
            ]
        )

    boxes1 = random_boxes(n)
    boxes2 = random_boxes(n)
    half = n // 2
    jitter = np.column_stack([rng.normal(0, 4, (half, 2)), rng.normal(0, 3, (half, 2)), rng.normal(0, 0.1, half)])
    boxes2[:half] = boxes1[:half] + jitter
    boxes2[:, 2:4] = np.abs(boxes2[:, 2:4])
    return boxes1, boxes2


def shapely_dense(c1, c2, block=250):
    p1, p2 = shapely.polygons(c1), shapely.polygons(c2)
    a1, a2 = shapely.area(p1), shapely.area(p2)
    out = np.empty((len(p1), len(p2)))
    for start in range(0, len(p1), block):
        rows = slice(start, start + block)
        inter = shapely.area(shapely.intersection(p1[rows, None], p2[None, :]))
        union = a1[rows, None] + a2[None, :] - inter
        out[rows] = np.divide(inter, union, out=np.zeros_like(inter), where=union > 0)
    return out


def shapely_strtree(c1, c2):
    p1, p2 = shapely.polygons(c1), shapely.polygons(c2)
    a1, a2 = shapely.area(p1), shapely.area(p2)
    tree = shapely.STRtree(p2)
    i, j = tree.query(p1, predicate="intersects")
    inter = shapely.area(shapely.intersection(p1[i], p2[j]))
    union = a1[i] + a2[j] - inter
    out = np.zeros((len(p1), len(p2)))
    out[i, j] = np.divide(inter, union, out=np.zeros_like(inter), where=union > 0)
    return out


def bench_iou(n, repeat):
    boxes1, boxes2 = make_boxes(n)
    c1, c2 = rotated_to_corners(boxes1), rotated_to_corners(boxes2)
    slow = max(1, min(repeat, 3))
    runs = {
        "detmetrics numba": (lambda: rotated_iou(boxes1, boxes2, backend="numba"), repeat),
        "detmetrics numpy": (lambda: rotated_iou(boxes1, boxes2, backend="numpy"), slow),
        "shapely dense": (lambda: shapely_dense(c1, c2), slow),
        "shapely STRtree": (lambda: shapely_strtree(c1, c2), repeat),
    }
    results = {name: fn() for name, (fn, _) in runs.items()}
    reference = results["shapely dense"]
    overlap = float((reference > 0).mean())
    rows = []
    for name, (fn, reps) in runs.items():
        t = _median(fn, reps)
        diff = float(np.abs(results[name] - reference).max())
        rows.append((name, t, diff))
    return overlap, rows


def bench_nms(n, repeat):
    """Detector-like input: n // 10 objects, each with 10 jittered candidate boxes, random scores."""
    rng = np.random.default_rng(1)
    objects, _ = make_boxes(n // 10, seed=1, extent=4000.0)
    boxes = np.repeat(objects, 10, axis=0)
    boxes[:, :2] += rng.normal(0, 5, (len(boxes), 2))
    boxes[:, 2:4] = np.abs(boxes[:, 2:4] + rng.normal(0, 4, (len(boxes), 2)))
    boxes[:, 4] += rng.normal(0, 0.15, len(boxes))
    boxes = as_rotated_boxes(boxes)
    scores = rng.uniform(0, 1, len(boxes))
    labels = np.zeros(len(boxes), np.int64)
    corners = rotated_to_corners(boxes)
    keep = {b: batched_nms(boxes, scores, labels, 0.5, backend=b) for b in ("numba", "numpy")}
    keep["shapely"] = shapely_nms(corners, scores, 0.5)
    assert np.array_equal(keep["numba"], keep["numpy"]) and np.array_equal(keep["numba"], keep["shapely"])
    t_numba = _median(lambda: batched_nms(boxes, scores, labels, 0.5, backend="numba"), repeat)
    t_numpy = _median(lambda: batched_nms(boxes, scores, labels, 0.5, backend="numpy"), 1)
    t_shapely = _median(lambda: shapely_nms(corners, scores, 0.5), max(1, min(repeat, 3)))
    return len(keep["numba"]), t_numba, t_numpy, t_shapely


def shapely_nms(corners, scores, iou_threshold):
    """Greedy NMS on shapely: STRtree candidate pairs, their IoU, then the greedy pass."""
    polys = shapely.polygons(corners)
    area = shapely.area(polys)
    i, j = shapely.STRtree(polys).query(polys, predicate="intersects")
    pair = i < j
    i, j = i[pair], j[pair]
    inter = shapely.area(shapely.intersection(polys[i], polys[j]))
    union = area[i] + area[j] - inter
    iou = np.divide(inter, union, out=np.zeros_like(inter), where=union > 0)
    over = iou > iou_threshold
    neighbours = [[] for _ in range(len(polys))]
    for a, b in zip(i[over].tolist(), j[over].tolist()):
        neighbours[a].append(b)
        neighbours[b].append(a)
    suppressed = np.zeros(len(polys), dtype=bool)
    keep = []
    for k in np.argsort(-scores, kind="stable").tolist():
        if not suppressed[k]:
            keep.append(k)
            suppressed[neighbours[k]] = True
    return np.array(keep, dtype=np.int64)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 2000])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--nms-boxes", type=int, default=5000)
    args = parser.parse_args(argv)
    print(f"shapely {shapely.__version__} (GEOS {shapely.geos_version_string}), numpy {np.__version__}")
    ok = True
    for n in args.sizes:
        overlap, rows = bench_iou(n, args.repeat)
        times = dict((name, t) for name, t, _ in rows)
        print(f"\nrotated_iou {n}x{n}  ({100 * overlap:.2f}% of pairs overlap; max |diff| vs shapely dense)")
        print(f"{'method':<18} {'median s':>10} {'max |diff|':>11} {'vs numba':>9}")
        for name, t, diff in rows:
            ok &= diff <= 1e-9
            print(f"{name:<18} {t:>10.4f} {diff:>11.1e} {t / times['detmetrics numba']:>8.1f}x")
        print(
            f"numba speed-up: {times['shapely STRtree'] / times['detmetrics numba']:.1f}x vs shapely STRtree, "
            f"{times['shapely dense'] / times['detmetrics numba']:.1f}x vs shapely dense"
        )
    kept, t_numba, t_numpy, t_shapely = bench_nms(args.nms_boxes, args.repeat)
    print(f"\nrotated nms, {args.nms_boxes} boxes, iou_threshold=0.5 ({kept} kept, same indices for all)")
    print(f"{'method':<18} {'median s':>10} {'vs numba':>9}")
    print(f"{'detmetrics numba':<18} {t_numba:>10.4f} {1.0:>8.1f}x")
    print(f"{'detmetrics numpy':<18} {t_numpy:>10.4f} {t_numpy / t_numba:>8.1f}x")
    print(f"{'shapely STRtree':<18} {t_shapely:>10.4f} {t_shapely / t_numba:>8.1f}x")
    if not ok:
        print("\nMISMATCH: a result differs from shapely by more than 1e-9")
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
