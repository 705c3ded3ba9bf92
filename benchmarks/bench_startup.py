"""Start-up cost: fresh processes with an empty vs a warm Numba cache, against pycocotools.

Every figure comes from a fresh Python process (``subprocess``), timed from
the parent (interpreter start-up included) unless said otherwise; "cold"
runs get a new empty ``NUMBA_CACHE_DIR`` each, "warm" runs share one that a
first run filled.  Rows:

1. ``import detmetrics`` (inside the child).
2. The first call of each public primitive on a small input (200 boxes, one
   or two images), timed inside the child after the import, with
   ``backend="auto"`` (what users get) and ``backend="numba"`` (what the
   kernels cost when forced), cold and warm.
3. ``detmetrics demo`` (the bundled 12-image YOLO sample) cold and warm, and
   pycocotools scoring the same sample from its bundled COCO JSON files
   (``COCO`` + ``loadRes`` + ``evaluate/accumulate/summarize``), in
   alternating runs; medians of wall time and of child CPU time; ratios.
   The 12 stats of both are compared first.
4. ``--compile``: per-kernel compile times in one cold process running
   ``detmetrics warmup`` (numba's compile events; exclusive seconds, number
   of specialisations and the argument types that triggered them).
5. ``--coco-scale``: the first ``evaluate_coco`` of a fresh process on the
   5000-image / 400k-result files of ``gen_coco_scale.py`` against pycocotools
   on the same files: empty cache with ``backend="auto"`` (the NumPy
   references answer, nothing compiles), empty cache with
   ``backend="numba"`` (what compiling costs), and ``"auto"`` and
   ``"numba"`` with a warm cache (filled by a ``backend="numba"`` run; at
   this scale ``"auto"`` stays on the references, importing numba would not
   pay).

Targets (issue "fast from the first call") are printed with the measured
ratios; the machine is shared, so read ratios of one run, not seconds.

    python benchmarks/bench_startup.py                     # rows 1-3 (~2 min)
    python benchmarks/bench_startup.py --compile           # + row 4
    python benchmarks/bench_startup.py --coco-scale        # + row 5 (pycocotools ~40 s per run)
    python benchmarks/bench_startup.py --primitives none   # rows 1 and 3 only
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)

from _common import print_table  # noqa: E402

PYCOCO = """
import contextlib, io, json, sys
from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval
with contextlib.redirect_stdout(io.StringIO()):
    gt = COCO(sys.argv[1]); dt = gt.loadRes(sys.argv[2])
    e = COCOeval(gt, dt, "bbox"); e.evaluate(); e.accumulate(); e.summarize()
print(json.dumps([float(v) for v in e.stats]))
"""

EVALUATE_COCO = """
import json, sys, time
t0 = time.perf_counter()
from detmetrics import evaluate_coco
r = evaluate_coco(sys.argv[1], sys.argv[2], backend=sys.argv[3])
print(json.dumps({"stats": [float(v) for v in r.stats], "seconds": time.perf_counter() - t0,
                  "numba": "numba" in sys.modules}))
"""

DEMO_STATS = """
import json
from detmetrics.evaluate import evaluate_files
from detmetrics.io import sample_path
r, _ = evaluate_files(sample_path("yolo"), sample_path("yolo") / "predictions")
print(json.dumps([float(v) for v in r.stats]))
"""

FIRST_CALL = """
import json, sys, time
t0 = time.perf_counter()
import numpy as np
import detmetrics
t_import = time.perf_counter() - t0
name, backend = sys.argv[1], sys.argv[2]
rng = np.random.default_rng(0)
xy = rng.uniform(0, 600, (200, 2))
boxes = np.column_stack([xy, xy + rng.uniform(5, 80, (200, 2))])
scores = rng.random(200)
labels = rng.integers(0, 4, 200)
rotated = np.column_stack([xy, rng.uniform(5, 80, (200, 2)), rng.uniform(-1.5, 1.5, 200)])
pred = [{"boxes": boxes[:60], "scores": scores[:60], "labels": labels[:60]}]
gt = [{"boxes": boxes[10:50] + 2.0, "labels": labels[10:50]}]
calls = {
    "box_iou": lambda: detmetrics.box_iou(boxes, boxes, backend=backend),
    "generalized_box_iou": lambda: detmetrics.generalized_box_iou(boxes, boxes, backend=backend),
    "nms": lambda: detmetrics.nms(boxes, scores, 0.5, backend=backend),
    "batched_nms": lambda: detmetrics.batched_nms(boxes, scores, labels, 0.5, backend=backend),
    "soft_nms": lambda: detmetrics.soft_nms(boxes, scores, backend=backend),
    "filter_by_confidence": lambda: detmetrics.filter_by_confidence(scores, 0.3, backend=backend),
    "rotated_iou": lambda: detmetrics.rotated_iou(rotated[:50], rotated[:50], backend=backend),
    "mean_ap": lambda: detmetrics.mean_ap(pred, gt, backend=backend),
    "confusion_matrix": lambda: detmetrics.confusion_matrix(pred, gt, backend=backend),
}
t0 = time.perf_counter()
calls[name]()
t_first = time.perf_counter() - t0
t0 = time.perf_counter()
calls[name]()
t_second = time.perf_counter() - t0
print(json.dumps({"import": t_import, "first": t_first, "second": t_second, "numba": "numba" in sys.modules}))
"""

COMPILE_EVENTS = """
import collections, json, time
from numba.core import event

exclusive = collections.defaultdict(float)
count = collections.Counter()
types = collections.defaultdict(list)


class Timer(event.Listener):
    def __init__(self):
        self.stack = []

    def on_start(self, ev):
        self.stack.append([time.perf_counter(), 0.0])

    def on_end(self, ev):
        t0, nested = self.stack.pop()
        spent = time.perf_counter() - t0
        if self.stack:
            self.stack[-1][1] += spent
        func = ev.data["dispatcher"].py_func
        name = f"{func.__module__}:{func.__qualname__}"
        exclusive[name] += spent - nested
        count[name] += 1
        types[name].append(str(ev.data["args"]))


event.register("numba:compile", Timer())
from detmetrics._warmup import warmup
t0 = time.perf_counter()
warmup()
total = time.perf_counter() - t0
print(json.dumps({"total": total, "exclusive": exclusive, "count": count, "types": types}))
"""


def _env(cache_dir):
    env = dict(os.environ)
    # as an installed package: pip writes the .pyc files at install time (``main`` compiles them);
    # without them every process would compile detmetrics' sources (~0.1 s) and pycocotools' not
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env["PYTHONPATH"] = ROOT + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    env["NUMBA_CACHE_DIR"] = cache_dir
    return env


def _child(args, cache_dir, timeout=1800):
    """(wall seconds, child CPU seconds, stdout) of one fresh process."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    proc = subprocess.run([sys.executable, *args], capture_output=True, text=True, env=_env(cache_dir),
                          timeout=timeout, cwd=ROOT)
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode != 0:
        raise RuntimeError(f"{args[:2]} failed:\n{proc.stderr}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu, proc.stdout, proc.stderr


def _last_json(stdout):
    return json.loads(stdout.strip().splitlines()[-1])


class _Caches:
    """Fresh empty cache directories on demand, and one shared warm directory; all removed at the end."""

    def __init__(self):
        self.root = tempfile.mkdtemp(prefix="detmetrics_bench_startup_")
        self.warm = os.path.join(self.root, "warm")
        self._n = 0

    def empty(self):
        self._n += 1
        return os.path.join(self.root, f"cold{self._n}")

    def close(self):
        shutil.rmtree(self.root, ignore_errors=True)


def _primitives(caches, names, repeats):
    rows = []
    for name in names:
        row = {"primitive": name}
        for backend in ("auto", "numba"):
            cold = [_last_json(_child(["-c", FIRST_CALL, name, backend], caches.empty())[2]) for _ in range(repeats)]
            _child(["-c", FIRST_CALL, name, backend], caches.warm)  # fill the warm cache
            warm = [_last_json(_child(["-c", FIRST_CALL, name, backend], caches.warm)[2]) for _ in range(repeats)]
            row[f"{backend} cold s"] = float(np.median([r["first"] for r in cold]))
            row[f"{backend} warm s"] = float(np.median([r["first"] for r in warm]))
            if backend == "auto":
                row["auto numba?"] = "yes" if cold[0]["numba"] else "no"
                row["import s"] = float(np.median([r["import"] for r in cold]))
        rows.append(row)
    return rows


def _demo(caches, repeats):
    coco_gt = os.path.join(ROOT, "detmetrics", "data", "coco", "instances_val.json")
    coco_res = os.path.join(ROOT, "detmetrics", "data", "coco", "results.json")
    ref = _last_json(_child(["-c", PYCOCO, coco_gt, coco_res], caches.warm)[2])
    ours = _last_json(_child(["-c", DEMO_STATS], caches.warm)[2])
    diff = float(np.max(np.abs(np.array(ref) - np.array(ours))))
    _child(["-m", "detmetrics", "demo", "--backend", "numba"], caches.warm)  # warm cache: every demo kernel
    runs = {k: [] for k in ("pycocotools", "demo cold", "demo warm", "demo --backend numba cold",
                            "demo --backend numba warm")}
    notices = set()
    for _ in range(repeats):
        runs["pycocotools"].append(_child(["-c", PYCOCO, coco_gt, coco_res], caches.warm)[:2])
        runs["demo cold"].append(_child(["-m", "detmetrics", "demo"], caches.empty())[:2])
        runs["demo warm"].append(_child(["-m", "detmetrics", "demo"], caches.warm)[:2])
        wall, cpu, _, err = _child(["-m", "detmetrics", "demo", "--backend", "numba"], caches.empty())
        runs["demo --backend numba cold"].append((wall, cpu))
        notices.update(line for line in err.splitlines() if "compiling" in line)
        runs["demo --backend numba warm"].append(
            _child(["-m", "detmetrics", "demo", "--backend", "numba"], caches.warm)[:2])
    med = {k: (float(np.median([w for w, _ in v])), float(np.median([c for _, c in v]))) for k, v in runs.items()}
    return med, diff, sorted(notices)


def _compile_table(caches):
    wall, _, out, _ = _child(["-c", COMPILE_EVENTS], caches.empty())
    data = _last_json(out)
    rows = []
    for name, seconds in sorted(data["exclusive"].items(), key=lambda kv: -kv[1]):
        args = sorted(set(data["types"][name]))
        shown = args[0] if len(args) == 1 else f"{len(args)} signatures"
        rows.append({"function": name, "compile s": seconds, "specialisations": data["count"][name],
                     "argument types": shown[:90]})
    return rows, data["total"], wall


def _coco_scale(caches, coco_repeats, folder):
    from gen_coco_scale import write

    gt_path, res_path = os.path.join(folder, "gt.json"), os.path.join(folder, "results.json")
    if not (os.path.exists(gt_path) and os.path.exists(res_path)):
        write(folder, "full")
    rows = {}
    ref = None
    walls = []
    for _ in range(coco_repeats):
        wall, cpu, out, _ = _child(["-c", PYCOCO, gt_path, res_path], caches.warm)
        walls.append((wall, cpu))
        ref = _last_json(out)
    rows["pycocotools"] = (float(np.median([w for w, _ in walls])), float(np.median([c for _, c in walls])), 0.0, "")
    runs = (("detmetrics, empty cache", "auto", caches.empty()),
            ("detmetrics, empty cache, backend=numba (compiles)", "numba", caches.empty()),
            ("detmetrics, warm cache", "auto", caches.warm),
            ("detmetrics, warm cache, backend=numba", "numba", caches.warm))
    _child(["-c", EVALUATE_COCO, gt_path, res_path, "numba"], caches.warm)  # fill it ("auto" does not compile here)
    for label, backend, cache in runs:
        wall, cpu, out, _ = _child(["-c", EVALUATE_COCO, gt_path, res_path, backend], cache)
        got = _last_json(out)
        rows[label] = (wall, cpu, float(np.max(np.abs(np.array(got["stats"]) - np.array(ref)))),
                       "numba" if got["numba"] else "numpy")
    return rows


def _verdict(ok):
    return "met" if ok else "NOT met"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3, help="runs per demo / pycocotools row (median)")
    parser.add_argument("--primitive-repeats", type=int, default=1, help="cold/warm runs per primitive (median)")
    parser.add_argument("--primitives", nargs="*", default=None,
                        help="primitives to time (default: all; none: skip the table)")
    parser.add_argument("--compile", action="store_true", help="per-kernel compile times (a cold warmup)")
    parser.add_argument("--coco-scale", action="store_true", help="first-process evaluate_coco at COCO scale")
    parser.add_argument("--coco-repeats", type=int, default=1, help="pycocotools runs at COCO scale")
    parser.add_argument("--dir", default=None, help="COCO-scale data folder (default: gen_coco_scale's; "
                        "written when missing)")
    args = parser.parse_args(argv)
    all_names = ["box_iou", "generalized_box_iou", "nms", "batched_nms", "soft_nms", "filter_by_confidence",
                 "rotated_iou", "mean_ap", "confusion_matrix"]
    names = all_names if args.primitives is None else [n for n in args.primitives if n != "none"]
    unknown = sorted(set(names) - set(all_names))
    if unknown:
        parser.error(f"unknown primitive(s) {', '.join(unknown)}; choose from {', '.join(all_names)} or none")
    import compileall

    compileall.compile_dir(os.path.join(ROOT, "detmetrics"), quiet=1)
    caches = _Caches()
    targets = []
    try:
        t_import = [_last_json(_child(["-c", FIRST_CALL, "filter_by_confidence", "numpy"], caches.empty())[2])
                    ["import"] for _ in range(3)]
        print(f"import detmetrics (numpy included, fresh process): {np.median(t_import):.3f} s (median of 3)")

        med, diff, notices = _demo(caches, args.repeats)
        print(f"\nbundled sample (12 images): detmetrics demo vs pycocotools on the sample's COCO JSON; "
              f"max |d stats| = {diff:.1e}; medians of {args.repeats} alternating runs, fresh processes")
        ref_wall, ref_cpu = med["pycocotools"]
        rows = [{"command": k, "wall s": w, "cpu s": c, "x pycocotools (wall)": w / ref_wall,
                 "x pycocotools (cpu)": c / ref_cpu} for k, (w, c) in med.items()]
        print_table(rows, ["command", "wall s", "cpu s", "x pycocotools (wall)", "x pycocotools (cpu)"])
        if notices:
            print("stderr notice on a compiling run:", " | ".join(notices))
        cold_ratio = med["demo cold"][0] / ref_wall
        warm_ratio = med["demo warm"][0] / ref_wall
        targets.append(("demo, empty cache, within 1.5x pycocotools (wall)", f"{cold_ratio:.2f}x", cold_ratio <= 1.5))
        targets.append(("demo, warm cache, no slower than pycocotools (wall)", f"{warm_ratio:.2f}x", warm_ratio <= 1.0))

        if names:
            print(f"\nfirst call in a fresh process, small input (200 boxes / 1 image), seconds inside the process "
                  f"after the import; median of {args.primitive_repeats}")
            prim = _primitives(caches, names, args.primitive_repeats)
            print_table(prim, ["primitive", "import s", "auto cold s", "auto numba?", "auto warm s",
                               "numba cold s", "numba warm s"])
            for row in prim:
                if row["primitive"] in ("nms", "box_iou", "mean_ap"):
                    value = row["auto cold s"]
                    targets.append((f"first {row['primitive']}, small input, empty cache < 0.5 s", f"{value:.3f} s",
                                    value < 0.5))

        if args.compile:
            rows, total, wall = _compile_table(caches)
            print(f"\ncompilation, one fresh process with an empty cache running detmetrics warmup "
                  f"(every kernel): {total:.1f} s in warmup ({wall:.1f} s process); exclusive seconds per function")
            print_table(rows, ["function", "compile s", "specialisations", "argument types"])

        if args.coco_scale:
            from gen_coco_scale import DEFAULT_OUT

            rows = _coco_scale(caches, args.coco_repeats, args.dir or DEFAULT_OUT)
            ref_wall = rows["pycocotools"][0]
            print("\nCOCO scale (5000 images, 400k results), one fresh process each, from the JSON paths to the stats")
            table = [{"run": k, "answered by": b, "wall s": w, "cpu s": c, "pycocotools / this (wall)": ref_wall / w,
                      "max |d stats|": d} for k, (w, c, d, b) in rows.items()]
            print_table(table, ["run", "answered by", "wall s", "cpu s", "pycocotools / this (wall)",
                                "max |d stats|"])
            cold = ref_wall / rows["detmetrics, empty cache"][0]
            targets.append(("COCO scale, first process, empty cache, >= 20x pycocotools", f"{cold:.1f}x", cold >= 20))
            warm = ref_wall / rows["detmetrics, warm cache"][0]
            targets.append(("COCO scale, fresh process, warm cache, >= 20x pycocotools", f"{warm:.1f}x", warm >= 20))
    finally:
        caches.close()
    print("\ntargets")
    for name, value, ok in targets:
        print(f"  {name:<62} {value:>10}  {_verdict(ok)}")


if __name__ == "__main__":
    main()
