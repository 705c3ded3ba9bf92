"""COCO bbox evaluation at COCO scale: pycocotools vs faster-coco-eval vs detmetrics.

All three run on the same files (written by ``gen_coco_scale.py`` when
missing) in one process run. Phases:

- load: reading ``gt.json`` and ``results.json`` into each library's own
  form (pycocotools / faster-coco-eval: ``COCO(gt)`` + ``loadRes``;
  detmetrics: its JSON loader into arrays);
- eval+acc: evaluation and accumulation from the loaded data (COCOeval's
  ``evaluate()`` + ``accumulate()`` + ``summarize()``; detmetrics from its
  loaded arrays);
- total: from file paths to the 12 stats (pycocotools / faster-coco-eval:
  load + eval+acc; detmetrics: ``evaluate_coco(gt_path, results_path)``
  timed end to end).

Medians over repeats; pycocotools takes ~30 s per run at full scale, so it
runs fewer times (``--coco-repeats``, default 1 at full scale), and so does
detmetrics' NumPy reference backend (``--numpy-repeats``). detmetrics'
numba backend is warmed up (compiled) first. The 12 stats of every library
are compared with pycocotools' (max abs diff printed), and detmetrics' peak
memory is measured in fresh subprocesses (peak RSS, ``VmHWM``; and, in a separate
run since its own bookkeeping inflates RSS, tracemalloc's peak of
Python/NumPy allocations -- Numba's kernel allocations are not traced).

The drop-in layers get rows of their own: ``detmetrics.compat.pycocotools``'
``COCO`` / ``loadRes`` / ``COCOeval`` driven exactly like the pycocotools row
(in the main table), and a second table for the torchmetrics-style metric:
the same data as per-image float32 xyxy arrays fed to ``update`` in batches
(``--metric-batch``, default 16 images), then ``compute`` once, for
``detmetrics.compat.torchmetrics.MeanAveragePrecision``, the native
``detmetrics.Evaluator`` and torchmetrics' ``MeanAveragePrecision`` with its
default backend (pycocotools), which runs in another interpreter
(``--torch-python``, default ``$DETMETRICS_TORCH_PYTHON``; skipped with a
note without one) through ``_torchmetrics_rows.py``.  The compat metric's
12 numbers are checked against torchmetrics' (same float32 thresholds).

A third table puts detmetrics' entry points side by side against the
anchors' evaluate+accumulate (the file row against their load+evaluate):
``evaluate_coco(gt_dict, results_list)`` on already-loaded JSON,
``evaluate_coco("gt.json", "results.json")`` end to end, and
``evaluate_columns`` on flat arrays (built from the same dicts, outside the
timing).  ``--scaling`` runs only detmetrics, at 5,000 and at 50,000 images
(4M results, generated once into ``<dir>/x10``, ~380 MB): CPU time
(``time.process_time``, robust on a loaded machine) of the three entry points
at both scales, their ratio (target <= 11x) and the peak RSS of a fresh
process evaluating from the files, with the bytes per result above the
baseline.

    python benchmarks/bench_coco.py                 # full scale (~2-3 min, + torchmetrics ~1-2 min)
    python benchmarks/bench_coco.py --scale small   # 500 images, quick
    nice -n 10 python benchmarks/bench_coco.py --scaling   # 5,000 vs 50,000 images (~3 min + generation)
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import subprocess
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from gen_coco_scale import DEFAULT_OUT, write


def _median_time(fn, repeats):
    """(median seconds, last return value) of ``repeats`` calls."""
    times, out = [], None
    for _ in range(repeats):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return float(np.median(times)), out


@contextlib.contextmanager
def _quiet():
    with contextlib.redirect_stdout(io.StringIO()):
        yield


# ---------------------------------------------------------------- pycocotools
def _pycocotools(gt_path, res_path, repeats):
    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval

    def load():
        with _quiet():
            gt = COCO(gt_path)
            return gt, gt.loadRes(res_path)

    def evaluate(loaded):
        with _quiet():
            ev = COCOeval(loaded[0], loaded[1], "bbox")
            ev.evaluate()
            ev.accumulate()
            ev.summarize()
        return np.asarray(ev.stats)

    return _phases(load, evaluate, repeats)


# ------------------------------------------------------------ faster-coco-eval
def _faster_coco_eval(gt_path, res_path, repeats):
    from faster_coco_eval import COCO, COCOeval_faster

    def load():
        with _quiet():
            gt = COCO(gt_path)
            return gt, gt.loadRes(res_path)

    def evaluate(loaded):
        with _quiet():
            ev = COCOeval_faster(loaded[0], loaded[1], iouType="bbox", print_function=lambda *a, **k: None)
            ev.evaluate()
            ev.accumulate()
            ev.summarize()
        return np.asarray(ev.stats[:12])

    return _phases(load, evaluate, repeats)


# ------------------------------------------------------------------ detmetrics
def _detmetrics(gt_path, res_path, repeats, backend):
    """detmetrics' phases: its JSON loader into arrays, then matching + accumulation.

    The split mirrors ``evaluate_coco``'s body with private helpers; if they
    change, eval+acc falls back to total - load.
    """
    from detmetrics import evaluate_coco
    from detmetrics.io._coco_decode import load_ground_truth, load_results

    def load():
        gt = load_ground_truth(gt_path, backend=backend)
        return gt, load_results(res_path, gt, backend=backend)

    def evaluate(loaded):
        from detmetrics._inputs import parse_options
        from detmetrics.evaluate import evaluate_loaded

        gt, res = loaded
        return evaluate_loaded(gt, res, parse_options("xywh", backend=backend))

    t_load, loaded = _median_time(load, repeats)
    t_total, result = _median_time(lambda: evaluate_coco(gt_path, res_path, backend=backend), repeats)
    try:
        t_eval, split = _median_time(lambda: evaluate(loaded), repeats)
        assert np.array_equal(np.asarray(split.stats), np.asarray(result.stats))
    except (ImportError, AttributeError, TypeError, KeyError, AssertionError):
        t_eval = t_total - t_load
    return t_load, t_eval, t_total, np.asarray(result.stats)


# ------------------------------------------------- detmetrics in memory and columnar
def _coco_columns(gt, res):
    """COCO dicts -> flat columns (what a Parquet file or a DataFrame holds), built outside the timing."""
    anns = gt["annotations"]
    dets = {"image_id": np.fromiter((r["image_id"] for r in res), np.int64, len(res)),
            "bbox": np.array([r["bbox"] for r in res], dtype=np.float64).reshape(-1, 4),
            "score": np.fromiter((r["score"] for r in res), np.float64, len(res)),
            "category_id": np.fromiter((r["category_id"] for r in res), np.int64, len(res))}
    gts = {"image_id": np.fromiter((a["image_id"] for a in anns), np.int64, len(anns)),
           "bbox": np.array([a["bbox"] for a in anns], dtype=np.float64).reshape(-1, 4),
           "category_id": np.fromiter((a["category_id"] for a in anns), np.int64, len(anns)),
           "iscrowd": np.fromiter((a.get("iscrowd", 0) for a in anns), np.int64, len(anns)),
           "area": np.fromiter((a["area"] for a in anns), np.float64, len(anns))}
    kw = dict(image_ids=[im["id"] for im in gt["images"]], category_ids=[c["id"] for c in gt["categories"]])
    return dets, gts, kw


def _warm_rows(gt_path, res_path, repeats, backend="numba"):
    """(in-memory seconds, columnar seconds, their stats): evaluate_coco on loaded JSON, evaluate_columns."""
    from detmetrics import evaluate_coco, evaluate_columns

    with open(gt_path) as f:
        gt = json.load(f)
    with open(res_path) as f:
        res = json.load(f)
    t_mem, r_mem = _median_time(lambda: evaluate_coco(gt, res, backend=backend), repeats)
    dets, gts, kw = _coco_columns(gt, res)
    t_col, r_col = _median_time(lambda: evaluate_columns(dets, gts, backend=backend, **kw), repeats)
    return t_mem, t_col, np.asarray(r_mem.stats), np.asarray(r_col.stats)


def _cpu_time(fn, repeats):
    """Smallest CPU time (``time.process_time``) of ``repeats`` calls: robust on a loaded machine."""
    best = float("inf")
    for _ in range(repeats):
        t0 = time.process_time()
        fn()
        best = min(best, time.process_time() - t0)
    return best


_PEAK_SNIPPET = """
import json, sys
from detmetrics import evaluate_coco
gt, res, small_gt, small_res = sys.argv[1:5]
evaluate_coco(small_gt, small_res, backend="numba")
with open("/proc/self/statm") as f:
    import resource
    base = int(f.read().split()[1]) * resource.getpagesize() / 2**20
evaluate_coco(gt, res, backend="numba")
with open("/proc/self/status") as f:
    hwm = next(int(line.split()[1]) for line in f if line.startswith("VmHWM:")) / 1024
print(base, hwm)
"""


def _scaling(args, small_gt, small_res):
    """detmetrics at 5,000 and 50,000 images: CPU-time ratios (files / in memory / columnar), peak RSS.

    Both scales are loaded first and then timed in alternation, round after round.  A shared
    machine's speed drifts by 30% and more over the minutes a run takes, so each round brackets
    its one 50,000-image call between 5,000-image calls (two before, two after) and takes the
    ratio to their mean: one ratio per round, measured within seconds, and the median over the
    rounds is the figure.  (The mean, not the fastest of the four: a 3 s call averages the
    machine's noise over its length, a 0.2 s call may fall into a quiet moment, so the fastest
    small call biases the ratio up.)  Timing one scale after the other put the drift into the
    ratio (the same code gave 9.4x and 12.1x from files in two runs); the ratio of the fastest
    time per scale over the whole run is printed too.
    """
    from detmetrics import evaluate_coco, evaluate_columns

    loaded = {}
    for scale in ("full", "x10"):
        folder = DEFAULT_OUT if scale == "full" else os.path.join(DEFAULT_OUT, "x10")
        gt_path, res_path = _ensure_data(folder, scale)
        with open(gt_path) as f:
            gt = json.load(f)
        with open(res_path) as f:
            res = json.load(f)
        dets, gts, kw = _coco_columns(gt, res)
        loaded[scale] = (gt_path, res_path, gt, res, dets, gts, kw)

    def calls(scale):
        gt_path, res_path, gt, res, dets, gts, kw = loaded[scale]
        return {"file": lambda: evaluate_coco(gt_path, res_path, backend="numba"),
                "mem": lambda: evaluate_coco(gt, res, backend="numba"),
                "col": lambda: evaluate_columns(dets, gts, backend="numba", **kw)}

    small, large = calls("full"), calls("x10")
    ratios: dict = {entry: [] for entry in small}
    best = {(scale, entry): float("inf") for scale in loaded for entry in small}
    for _ in range(args.scaling_repeats):
        for entry in small:
            around = [_cpu_time(small[entry], 1) for _ in range(2)]
            t_large = _cpu_time(large[entry], 1)
            around += [_cpu_time(small[entry], 1) for _ in range(2)]
            ratios[entry].append(t_large / float(np.mean(around)))
            best["full", entry] = min(best["full", entry], *around)
            best["x10", entry] = min(best["x10", entry], t_large)
    paths = {scale: v[:2] for scale, v in loaded.items()}
    loaded = None  # free them before the peak-memory subprocesses
    out = {}
    for scale, (gt_path, res_path) in paths.items():
        proc = subprocess.run([sys.executable, "-c", _PEAK_SNIPPET, gt_path, res_path, small_gt, small_res],
                              capture_output=True, text=True, check=True)
        base, hwm = (float(v) for v in proc.stdout.split())
        with open(res_path, "rb") as f:
            n_res = f.read().count(b'"score"')
        t_file, t_mem, t_col = best[scale, "file"], best[scale, "mem"], best[scale, "col"]
        out[scale] = (t_file, t_mem, t_col, base, hwm, n_res)
        print(f"{scale}: {n_res} results: fastest CPU s from files {t_file:.3f}, in memory {t_mem:.3f}, columnar "
              f"{t_col:.3f}; peak RSS {hwm:.0f} MB (before: {base:.0f} MB, "
              f"{(hwm - base) * 2**20 / n_res:.0f} bytes per result above it)")
    for entry, name in (("file", "from files"), ("mem", "in memory"), ("col", "columnar")):
        print(f"{name}: x10 / full per round " + " ".join(f"{r:.1f}" for r in ratios[entry]))
    fastest = {entry: best["x10", entry] / best["full", entry] for entry in ratios}
    print(f"x10 / full of the fastest time per scale: from files {fastest['file']:.1f}x, in memory "
          f"{fastest['mem']:.1f}x, columnar {fastest['col']:.1f}x")
    median = {entry: float(np.median(r)) for entry, r in ratios.items()}
    print(f"x10 / full CPU-time ratio, median of {args.scaling_repeats} rounds: from files {median['file']:.1f}x, "
          f"in memory {median['mem']:.1f}x, columnar {median['col']:.1f}x (target <= 11x); "
          f"peak RSS at x10 {out['x10'][4]:.0f} MB (target <= 1024 MB)")


# ------------------------------------------------------- detmetrics.compat.pycocotools
def _compat_cocoeval(gt_path, res_path, repeats):
    """The pycocotools script with the one import line changed."""
    from detmetrics.compat.pycocotools import COCO, COCOeval

    def load():
        with _quiet():
            gt = COCO(gt_path)
            return gt, gt.loadRes(res_path)

    def evaluate(loaded):
        with _quiet():
            ev = COCOeval(loaded[0], loaded[1], "bbox")
            ev.evaluate()
            ev.accumulate()
            ev.summarize()
        return np.asarray(ev.stats)

    return _phases(load, evaluate, repeats)


# ------------------------------------------------- the torchmetrics-style metric
_METRIC_KEYS = ["map", "map_50", "map_75", "map_small", "map_medium", "map_large", "mar_1", "mar_10", "mar_100",
                "mar_small", "mar_medium", "mar_large"]


def _metric_data(gt_path, res_path):
    """Flat per-image float32 xyxy arrays (what a validation loop holds), in image-id order."""
    from detmetrics.io._coco_decode import load_ground_truth, load_results

    gt = load_ground_truth(gt_path)
    res = load_results(res_path, gt)
    n = len(gt.image_ids)

    def xyxy(b):
        return np.column_stack([b[:, 0], b[:, 1], b[:, 0] + b[:, 2], b[:, 1] + b[:, 3]]).astype(np.float32)

    d_order = np.argsort(res.image_index, kind="stable")
    g_order = np.argsort(gt.image_index, kind="stable")
    return {
        "det_boxes": xyxy(res.boxes[d_order]), "det_scores": res.scores[d_order].astype(np.float32),
        "det_labels": res.category[d_order].astype(np.int64),
        "det_offsets": np.searchsorted(res.image_index[d_order], np.arange(n + 1)).astype(np.int64),
        "gt_boxes": xyxy(gt.boxes[g_order]), "gt_labels": gt.category[g_order].astype(np.int64),
        "gt_iscrowd": gt.iscrowd[g_order].astype(np.int64), "gt_area": gt.area[g_order].astype(np.float32),
        "gt_offsets": np.searchsorted(gt.image_index[g_order], np.arange(n + 1)).astype(np.int64),
    }


def _metric_batches(data, batch):
    do, go = data["det_offsets"], data["gt_offsets"]
    n = do.shape[0] - 1
    out = []
    for start in range(0, n, batch):
        preds, target = [], []
        for i in range(start, min(n, start + batch)):
            d, g = slice(do[i], do[i + 1]), slice(go[i], go[i + 1])
            preds.append({"boxes": data["det_boxes"][d], "scores": data["det_scores"][d],
                          "labels": data["det_labels"][d]})
            target.append({"boxes": data["gt_boxes"][g], "labels": data["gt_labels"][g],
                           "iscrowd": data["gt_iscrowd"][g], "area": data["gt_area"][g]})
        out.append((preds, target))
    return out


def _metric_rows(data, batch, repeats):
    """{name: (update s, compute s, 12 stats)} for the compat metric and the native Evaluator."""
    from detmetrics import Evaluator
    from detmetrics.compat.torchmetrics import MeanAveragePrecision

    batches = _metric_batches(data, batch)

    def compat():
        metric = MeanAveragePrecision()
        t0 = time.perf_counter()
        for preds, target in batches:
            metric.update(preds, target)
        t1 = time.perf_counter()
        out = metric.compute()
        return t1 - t0, time.perf_counter() - t1, np.array([float(out[k]) for k in _METRIC_KEYS])

    def native():
        ev = Evaluator(box_format="xyxy")
        t0 = time.perf_counter()
        for preds, target in batches:
            ev.update(preds, target)
        t1 = time.perf_counter()
        result = ev.compute()
        return t1 - t0, time.perf_counter() - t1, np.asarray(result.stats)

    rows = {}
    for name, fn in (("detmetrics compat metric", compat), ("detmetrics Evaluator", native)):
        runs = [fn() for _ in range(repeats)]
        rows[name] = (float(np.median([r[0] for r in runs])), float(np.median([r[1] for r in runs])), runs[-1][2])
    return rows


def _torchmetrics_row(python, data, batch):
    """torchmetrics' (update s, compute s, stats, version) in ``python``, or None with a printed note."""
    if not python:
        print("note: torchmetrics row skipped (give --torch-python PATH or set DETMETRICS_TORCH_PYTHON)")
        return None
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "metric_data.npz")
        np.savez(path, **data)
        proc = subprocess.run([python, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                                    "_torchmetrics_rows.py"), path, str(batch)],
                              capture_output=True, text=True)
    if proc.returncode != 0:
        print(f"note: torchmetrics row failed under {python}:\n{proc.stderr.strip()[-2000:]}")
        return None
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    return out["update_s"], out["compute_s"], np.asarray(out["stats"]), f"{out['version']} ({out['backend']})"


def _print_metric_table(rows, tm):
    print()
    print("torchmetrics-style metric (update in batches, then compute once):")
    header = (f"{'library':<34} {'update s':>9} {'compute s':>10} {'total s':>9} {'x torchmetrics':>15} "
              f"{'max |d stats| vs tm':>20}")
    print(header)
    print("-" * len(header))
    if tm is not None:
        rows = {f"torchmetrics {tm[3]}": tm[:3], **rows}
    for name, (t_update, t_compute, stats) in rows.items():
        total = t_update + t_compute
        ratio = f"{(tm[0] + tm[1]) / total:14.1f}" if tm is not None else f"{'-':>14}"
        diff = f"{float(np.max(np.abs(stats - tm[2]))):20.2e}" if tm is not None else f"{'-':>20}"
        print(f"{name:<34} {t_update:9.3f} {t_compute:10.3f} {total:9.3f} {ratio:>15} {diff}")


def _phases(load, evaluate, repeats):
    t_load, loaded = _median_time(load, repeats)
    t_eval, stats = _median_time(lambda: evaluate(loaded), repeats)
    return t_load, t_eval, t_load + t_eval, stats


_MEMORY_SNIPPET = """
import resource, sys, tracemalloc
from detmetrics import evaluate_coco
gt, res, small_gt, small_res, traced = sys.argv[1:6]
evaluate_coco(small_gt, small_res, backend="numba")          # compile / load the cache
with open("/proc/self/statm") as f:                           # current RSS, in pages
    base = int(f.read().split()[1]) * resource.getpagesize() / 2**20
if traced == "1":                                             # tracemalloc's own traces inflate RSS
    tracemalloc.start()
evaluate_coco(gt, res, backend="numba")
peak = tracemalloc.get_traced_memory()[1] / 2**20 if traced == "1" else 0.0
# VmHWM, not ru_maxrss: on Linux ru_maxrss survives exec and may hold the parent's peak
with open("/proc/self/status") as f:
    hwm = next(int(line.split()[1]) for line in f if line.startswith("VmHWM:")) / 1024
print(base, hwm, peak)
"""


def _memory(gt_path, res_path, small_gt, small_res):
    """(RSS before, max RSS) of a fresh process, and tracemalloc's peak in another one (MB)."""
    def run(traced):
        out = subprocess.run([sys.executable, "-c", _MEMORY_SNIPPET, gt_path, res_path, small_gt, small_res, traced],
                             capture_output=True, text=True, check=True)
        return [float(v) for v in out.stdout.split()]

    base, rss, _ = run("0")
    traced = run("1")[2]
    return base, rss, traced


def _ensure_data(folder, scale):
    gt_path, res_path = os.path.join(folder, "gt.json"), os.path.join(folder, "results.json")
    if not (os.path.exists(gt_path) and os.path.exists(res_path)):
        write(folder, scale)
    return gt_path, res_path


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", choices=("full", "small"), default="full")
    parser.add_argument("--dir", default=None, help=f"data folder (default {DEFAULT_OUT}[/small])")
    parser.add_argument("--repeats", type=int, default=5, help="repeats for detmetrics (median)")
    parser.add_argument("--fce-repeats", type=int, default=3, help="repeats for faster-coco-eval")
    parser.add_argument("--numpy-repeats", type=int, default=None,
                        help="repeats for detmetrics' numpy backend (default 1 at full scale, 3 at small)")
    parser.add_argument("--coco-repeats", type=int, default=None,
                        help="repeats for pycocotools (default 1 at full scale, 3 at small)")
    parser.add_argument("--torch-python", default=os.environ.get("DETMETRICS_TORCH_PYTHON"),
                        help="interpreter with torch + torchmetrics (default $DETMETRICS_TORCH_PYTHON)")
    parser.add_argument("--metric-batch", type=int, default=16, help="images per update() in the metric table")
    parser.add_argument("--scaling", action="store_true",
                        help="only detmetrics at 5,000 and 50,000 images (generated once, ~400 MB): CPU-time "
                             "ratios and peak RSS; run it with nice -n 10")
    parser.add_argument("--scaling-repeats", type=int, default=5,
                        help="rounds with --scaling (each: one 50,000-image call per entry point between four 5,000-image calls)")
    parser.add_argument("--skip-metric", action="store_true", help="leave out the Evaluator / torchmetrics table")
    args = parser.parse_args(argv)
    folder = args.dir or (DEFAULT_OUT if args.scale == "full" else os.path.join(DEFAULT_OUT, "small"))
    coco_repeats = args.coco_repeats or (1 if args.scale == "full" else 3)
    numpy_repeats = args.numpy_repeats or (1 if args.scale == "full" else 3)
    small_gt, small_res = _ensure_data(os.path.join(DEFAULT_OUT, "small"), "small")
    if args.scaling:
        from detmetrics import evaluate_coco

        evaluate_coco(small_gt, small_res, backend="numba")  # compile / load the cache
        _scaling(args, small_gt, small_res)
        return
    gt_path, res_path = _ensure_data(folder, args.scale)

    with open(gt_path) as f:
        gt = json.load(f)
    with open(res_path) as f:
        n_results = len(json.load(f))
    print(f"data: {folder}: {len(gt['images'])} images, {len(gt['categories'])} categories, "
          f"{len(gt['annotations'])} ground truths, {n_results} results")

    # warm up numba (compile or load the cache) on the small files
    from detmetrics import evaluate_coco

    t0 = time.perf_counter()
    evaluate_coco(small_gt, small_res, backend="numba")
    print(f"detmetrics numba warm-up (first call, compile or cache load): {time.perf_counter() - t0:.1f} s")

    rows = {}
    rows["pycocotools"] = _pycocotools(gt_path, res_path, coco_repeats)
    rows["faster-coco-eval"] = _faster_coco_eval(gt_path, res_path, args.fce_repeats)
    rows["detmetrics (numba)"] = _detmetrics(gt_path, res_path, args.repeats, "numba")
    rows["detmetrics (numpy)"] = _detmetrics(gt_path, res_path, numpy_repeats, "numpy")
    rows["compat COCOeval"] = _compat_cocoeval(gt_path, res_path, args.repeats)
    t_mem, t_col, s_mem, s_col = _warm_rows(gt_path, res_path, args.repeats)

    ref = rows["pycocotools"]
    fce = rows["faster-coco-eval"]
    print()
    print(f"repeats (medians): pycocotools {coco_repeats}, faster-coco-eval {args.fce_repeats}, "
          f"detmetrics numba {args.repeats}, numpy {numpy_repeats}")
    header = (f"{'library':<20} {'load s':>8} {'eval+acc s':>11} {'total s':>9} "
              f"{'x pycoco (eval / total)':>24} {'x fce (eval / total)':>21} {'max |d stats|':>14}")
    print(header)
    print("-" * len(header))
    for name, (t_load, t_eval, t_total, stats) in rows.items():
        diff = float(np.max(np.abs(stats - ref[3])))
        vs_coco = f"{ref[1] / t_eval:7.1f} / {ref[2] / t_total:6.1f}"
        vs_fce = f"{fce[1] / t_eval:6.1f} / {fce[2] / t_total:6.1f}"
        print(f"{name:<20} {t_load:8.3f} {t_eval:11.3f} {t_total:9.3f} {vs_coco:>24} {vs_fce:>21} {diff:14.2e}")
    print()
    print("stats (pycocotools):", np.array2string(ref[3], precision=4, max_line_width=200))
    dm = rows["detmetrics (numba)"]
    print()
    print("detmetrics entry points (numba) against the anchors' evaluate+accumulate (total for the file row):")
    header = f"{'task':<48} {'detmetrics s':>12} {'x pycoco':>9} {'x fce':>7} {'max |d stats|':>14}"
    print(header)
    print("-" * len(header))
    for name, t, stats, coco, fce_t in (
            ("evaluate_coco(gt_dict, results_list)", t_mem, s_mem, ref[1], fce[1]),
            ('evaluate_coco("gt.json", "results.json")', dm[2], dm[3], ref[2], fce[2]),
            ("evaluate_columns(det_columns, gt_columns)", t_col, s_col, ref[1], fce[1])):
        diff = float(np.max(np.abs(stats - ref[3])))
        print(f"{name:<48} {t:12.3f} {coco / t:9.1f} {fce_t / t:7.1f} {diff:14.2e}")
    if args.skip_metric:
        return
    data = _metric_data(gt_path, res_path)
    metric_rows = _metric_rows(data, args.metric_batch, max(1, min(args.repeats, 3)))
    _print_metric_table(metric_rows, _torchmetrics_row(args.torch_python, data, args.metric_batch))
    base, rss, traced = _memory(gt_path, res_path, small_gt, small_res)
    print(f"detmetrics peak memory (numba, evaluate_coco from paths, fresh process): "
          f"peak RSS {rss:.0f} MB (RSS before the evaluation, after imports + JIT warm-up: {base:.0f} MB); "
          f"tracemalloc peak during the evaluation (separate run) {traced:.0f} MB")


if __name__ == "__main__":
    main()
