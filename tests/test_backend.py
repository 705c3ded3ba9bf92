"""Backends: resolve_backend, numba's on-disk cache under a spawn process pool, life without numba, a light import."""

import functools
import json
import multiprocessing
import subprocess
import sys
import textwrap

import numpy as np
import pytest
from numpy.testing import assert_array_equal

from detmetrics import batched_nms, box_iou, nms, soft_nms
from detmetrics._backend import BACKENDS, HAVE_NUMBA, resolve_backend

from _support import requires_numba


def _run(code):
    """Run ``code`` in a fresh interpreter; return its stdout parsed as JSON."""
    proc = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout.strip().splitlines()[-1])


def test_resolve_backend():
    assert BACKENDS == ("auto", "numba", "numpy")
    assert HAVE_NUMBA  # the test environment has numba: the kernels are what gets tested
    assert resolve_backend("auto") == "numba"
    assert resolve_backend("numba") == "numba"
    assert resolve_backend("numpy") == "numpy"


@pytest.mark.parametrize("bad", ["Numba", "cpu", "", None, 1, ("numba",)])
def test_unknown_backend(bad):
    with pytest.raises(ValueError, match="backend must be one of 'auto', 'numba', 'numpy'; got"):
        resolve_backend(bad)
    with pytest.raises(ValueError, match="backend must be one of"):
        nms([[0, 0, 1, 1]], [0.5], backend=bad)


def _clusters(seed, n):
    rng = np.random.default_rng(seed)
    xy = rng.uniform(0, 100, (n, 2))
    wh = rng.uniform(1, 20, (n, 2))
    return np.column_stack([xy, xy + wh]), rng.random(n), rng.integers(0, 3, n)


def test_kernels_in_a_spawn_pool():
    # cache=True kernels loaded (or compiled) by fresh spawned processes, several at once
    boxes, scores, labels = _clusters(0, 300)
    jobs = [(boxes[: 100 + 50 * k], scores[: 100 + 50 * k]) for k in range(4)]
    ctx = multiprocessing.get_context("spawn")
    with ctx.Pool(2) as pool:
        kept = pool.starmap(functools.partial(nms, iou_threshold=0.3, backend="numba"), jobs)
        soft = pool.starmap(functools.partial(soft_nms, backend="numba"), jobs)
        ious = pool.starmap(functools.partial(box_iou, backend="numba"), [(b, b) for b, _ in jobs])
        batched = pool.starmap(functools.partial(batched_nms, backend="numba"), [(boxes, scores, labels)] * 2)
    for (b, s), k, (si, ss), iou in zip(jobs, kept, soft, ious):
        assert_array_equal(k, nms(b, s, 0.3, backend="numpy"))
        ri, rs = soft_nms(b, s, backend="numpy")
        assert_array_equal(si, ri)
        assert_array_equal(ss, rs)
        assert_array_equal(iou, box_iou(b, b, backend="numpy"))
    for k in batched:
        assert_array_equal(k, batched_nms(boxes, scores, labels, backend="numpy"))


BLOCK_NUMBA = """
import importlib.abc, sys

class BlockNumba(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name == "numba" or name.startswith("numba."):
            raise ImportError("numba is blocked for this test")
        return None

sys.meta_path.insert(0, BlockNumba())
"""


def test_without_numba_auto_warns_once_and_falls_back():
    out = _run(
        BLOCK_NUMBA
        + """
import json, warnings
import numpy as np
import detmetrics
from detmetrics._backend import HAVE_NUMBA

boxes = [[0, 0, 10, 10], [1, 1, 10, 10], [20, 20, 30, 30]]
scores = [0.9, 0.8, 0.7]
result = {"have_numba": HAVE_NUMBA}
with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    result["nms"] = detmetrics.nms(boxes, scores).tolist()
    result["batched"] = detmetrics.batched_nms(boxes, scores, [0, 1, 0]).tolist()
    result["soft"] = detmetrics.soft_nms(boxes, scores)[0].tolist()
    result["iou"] = detmetrics.box_iou(boxes, boxes).tolist()
    result["giou"] = detmetrics.generalized_box_iou(boxes, boxes).shape[0]
    result["numpy_nms"] = detmetrics.nms(boxes, scores, backend="numpy").tolist()
result["warnings"] = [str(w.message) for w in caught if issubclass(w.category, RuntimeWarning)]
try:
    detmetrics.nms(boxes, scores, backend="numba")
    result["numba_error"] = None
except ImportError as exc:
    result["numba_error"] = str(exc)
result["numba_imported"] = "numba" in sys.modules
print(json.dumps(result))
"""
    )
    assert out["have_numba"] is False and out["numba_imported"] is False
    assert out["nms"] == out["numpy_nms"] == [0, 2]
    assert out["batched"] == [0, 1, 2]
    assert out["soft"] == [0, 2, 1]
    assert out["iou"][0][0] == 1.0 and out["giou"] == 3
    assert len(out["warnings"]) == 1, out["warnings"]
    assert "numba is not importable" in out["warnings"][0] and "NumPy reference" in out["warnings"][0]
    assert out["numba_error"] is not None
    assert "backend='numba' was requested but numba cannot be imported" in out["numba_error"]
    assert "backend='numpy'" in out["numba_error"]


def test_import_is_light():
    out = _run(
        """
import json, sys
import detmetrics
heavy = ("numba", "matplotlib", "pycocotools", "shapely", "hypothesis", "torch")
first = sorted(m for m in heavy if m in sys.modules)
detmetrics.box_iou([[0, 0, 1, 1]], [[0, 0, 1, 1]])
detmetrics.nms([[0, 0, 1, 1]], [0.5])
small = sorted(m for m in heavy if m in sys.modules)
detmetrics.nms([[0, 0, 1, 1]], [0.5], backend="numba")
after = sorted(m for m in heavy if m in sys.modules)
print(json.dumps({"import": first, "small": small, "after_use": after}))
"""
    )
    assert out["import"] == []
    # small inputs under backend="auto" are answered by the NumPy reference: numba is not even imported
    assert out["small"] == []
    # the kernels need numba, never plotting, COCO or geometry libraries
    assert out["after_use"] == ["numba"]


# ---------------------------------------------------------------------------------------------
# backend="auto": which backend answers, and that it does not matter for the numbers


def test_auto_picks_the_reference_for_small_work_and_the_kernel_for_large():
    from detmetrics import _backend

    site = object()  # a fresh call site: nothing summed yet
    assert resolve_backend("auto", 10, site=site) == "numpy"
    assert resolve_backend("auto", _backend.AUTO_WORK, site=object()) == "numba"
    # the reference's work adds up per site: a process that keeps calling small moves to numba
    calls = [resolve_backend("auto", _backend.AUTO_WORK // 4, site=site) for _ in range(6)]
    assert calls[:3] == ["numpy"] * 3 and calls[-1] == "numba"
    assert resolve_backend("numpy", 10**12) == "numpy"
    assert resolve_backend("numba", 0, site=object()) == "numba"


def test_auto_takes_a_loaded_kernel_whatever_the_size():
    from detmetrics import _backend
    from detmetrics.postprocess import _nms_kernel

    nms([[0, 0, 1, 1], [0, 0, 1, 2]], [0.5, 0.4], backend="numba")  # loads (or compiles) the kernel
    kernel = vars(sys.modules["detmetrics.postprocess"])["_nms_kernel"]
    assert _backend.kernels_ready((kernel,))
    assert resolve_backend("auto", 1, (kernel,), site=object()) == "numba"
    assert _nms_kernel is kernel or isinstance(_nms_kernel, _backend.LazyKernel)


AUTO_SMALL = """
import json, sys
import numpy as np
import detmetrics
from detmetrics import _backend

rng = np.random.default_rng(0)
xy = rng.uniform(0, 100, (200, 2))
boxes = np.column_stack([xy, xy + rng.uniform(1, 20, (200, 2))])
scores = np.round(rng.random(200), 2)  # ties
labels = rng.integers(0, 3, 200)
pred = [{"boxes": boxes[:40], "scores": scores[:40], "labels": labels[:40]},
        {"boxes": boxes[40:60], "scores": scores[40:60], "labels": labels[40:60]}]
gt = [{"boxes": boxes[5:30] + 1, "labels": labels[5:30]}, {"boxes": boxes[45:50], "labels": labels[45:50]}]


def run(backend):
    return {
        "nms": detmetrics.nms(boxes, scores, 0.5, backend=backend).tolist(),
        "batched": detmetrics.batched_nms(boxes, scores, labels, 0.5, backend=backend).tolist(),
        "soft": [a.tolist() for a in detmetrics.soft_nms(boxes[:50], scores[:50], backend=backend)],
        "iou": detmetrics.box_iou(boxes[:20], boxes, backend=backend).tolist(),
        "giou": detmetrics.generalized_box_iou(boxes[:20], boxes, backend=backend).tolist(),
        "filter": detmetrics.filter_by_confidence(scores, 0.3, backend=backend).tolist(),
        "map": detmetrics.mean_ap(pred, gt, backend=backend).stats.tolist(),
        "confusion": detmetrics.confusion_matrix(pred, gt, backend=backend).tolist(),
    }


auto = run("auto")
numba_after_auto = "numba" in sys.modules
kernels = run("numba")
again = run("auto")  # the kernels are loaded now: auto takes them
print(json.dumps({"auto": auto, "numba": kernels, "again": again, "numba_after_auto": numba_after_auto,
                  "ready": _backend.kernels_ready([k for name, k in _backend.all_kernels()
                                                   if name == "detmetrics.postprocess:_nms_kernel"])}))
"""


def test_auto_on_small_inputs_answers_with_the_reference_without_importing_numba():
    out = _run(AUTO_SMALL)
    # the NumPy reference answered every small call: numba was not even imported ...
    assert out["numba_after_auto"] is False
    # ... and the numbers are the kernels' (bit for bit; the pair tests cover the rest)
    assert out["auto"] == out["numba"] == out["again"]
    assert out["ready"] is True


READ_ONLY = """
import json, sys
import numpy as np
import detmetrics
from detmetrics import _backend
from detmetrics.postprocess import _nms_kernel

assert detmetrics.__file__.startswith(sys.argv[1]), detmetrics.__file__
cached_before = _backend.kernels_cached((_nms_kernel,))
keep = detmetrics.nms([[0, 0, 10, 10], [1, 1, 10, 10], [20, 20, 30, 30]], [0.9, 0.8, 0.7], backend="numba")
kernel = vars(sys.modules["detmetrics.postprocess"])["_nms_kernel"]
stats = kernel.stats
print(json.dumps({"keep": keep.tolist(), "cache_path": stats.cache_path, "cached_before": cached_before,
                  "hits": sum(stats.cache_hits.values()), "misses": sum(stats.cache_misses.values())}))
"""


def test_fresh_process_with_a_read_only_package_compiles_and_caches(tmp_path):
    import os
    import shutil
    import stat

    import detmetrics

    site = tmp_path / "site"
    shutil.copytree(os.path.dirname(detmetrics.__file__), site / "detmetrics",
                    ignore=shutil.ignore_patterns("__pycache__", "*.nbi", "*.nbc"))
    if os.geteuid() == 0:
        # root ignores permission bits: block every __pycache__ with a file instead, which makes numba's
        # in-tree cache locator fail the same way (OSError) as a read-only site-packages does for a user
        for folder, _, _ in os.walk(site / "detmetrics"):
            open(os.path.join(folder, "__pycache__"), "w").close()
    for folder, dirs, files in os.walk(site):
        for name in files:
            os.chmod(os.path.join(folder, name), stat.S_IRUSR | stat.S_IRGRP | stat.S_IROTH)
        os.chmod(folder, stat.S_IRUSR | stat.S_IXUSR | stat.S_IRGRP | stat.S_IXGRP | stat.S_IROTH | stat.S_IXOTH)
    cache_home = tmp_path / "cache-home"
    env = {k: v for k, v in os.environ.items() if k not in ("NUMBA_CACHE_DIR", "PYTHONPATH")}
    env.update(PYTHONPATH=str(site), XDG_CACHE_HOME=str(cache_home), PYTHONDONTWRITEBYTECODE="1")
    runs = []
    try:
        for _ in range(2):
            proc = subprocess.run([sys.executable, "-c", READ_ONLY, str(site)], capture_output=True, text=True,
                                  timeout=600, env=env, cwd=tmp_path)
            assert proc.returncode == 0, proc.stderr
            runs.append(json.loads(proc.stdout.strip().splitlines()[-1]))
    finally:
        for folder, dirs, files in os.walk(site):
            os.chmod(folder, stat.S_IRWXU)
    first, second = runs
    assert first["keep"] == second["keep"] == [0, 2]
    # numba fell back to the user-wide cache directory, outside the read-only package ...
    assert first["cache_path"].startswith(str(cache_home)), first["cache_path"]
    assert not any(name.endswith((".nbi", ".nbc")) for _, _, files in os.walk(site) for name in files)
    # ... compiled in the first process and loaded the cache in the second
    assert first["misses"] >= 1 and first["hits"] == 0
    assert second["hits"] >= 1 and second["misses"] == 0
    # and kernels_cached (which "auto" asks before compiling) finds the user-wide cache too
    assert first["cached_before"] is False and second["cached_before"] is True


NOTICE = """
import json
from detmetrics import _backend, filter_by_confidence

calls = []
_backend.set_compile_notice(lambda: calls.append("notice"))
small = filter_by_confidence([0.2, 0.9, 0.5], 0.3).tolist()      # the reference: nothing compiled
before = list(calls)
first = filter_by_confidence([0.2, 0.9, 0.5], 0.3, backend="numba").tolist()   # compiles (empty cache)
second = filter_by_confidence([0.1, 0.7], 0.3, backend="numba").tolist()
print(json.dumps({"before": before, "after": calls, "small": small, "first": first, "second": second}))
"""


def test_compile_notice_fires_once_before_the_first_compilation(tmp_path):
    import os

    env = dict(os.environ, NUMBA_CACHE_DIR=str(tmp_path / "empty-cache"))
    proc = subprocess.run([sys.executable, "-c", NOTICE], capture_output=True, text=True, timeout=300, env=env)
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    assert out["before"] == [] and out["after"] == ["notice"]
    assert out["small"] == out["first"] == [1, 2] and out["second"] == [1]


def test_warmup_command_reaches_every_kernel():
    code = """
import contextlib, io, json, sys
from detmetrics.cli import main
from detmetrics._warmup import uncompiled
out = io.StringIO()
with contextlib.redirect_stdout(out):
    status = main(["warmup"])
print(json.dumps({"status": status, "out": out.getvalue(), "uncompiled": uncompiled()}))
"""
    out = _run(code)
    assert out["status"] == 0
    assert "kernels ready in" in out["out"] and "cache: " in out["out"]
    # every kernel has a compiled (or cached) version, or is called by one that has: a new kernel must be
    # reached by detmetrics._warmup
    assert out["uncompiled"] == []


def test_python_m_detmetrics_warmup_runs():
    proc = subprocess.run([sys.executable, "-m", "detmetrics", "warmup"], capture_output=True, text=True,
                          timeout=900)
    assert proc.returncode == 0, proc.stderr
    assert "kernels ready in" in proc.stdout
    assert proc.stderr.startswith("detmetrics: compiling (or loading from the cache) every kernel")


COLD_SCALE = """
import json, sys
import numpy as np
import detmetrics
from detmetrics import _backend, matching

_backend.AUTO_WORK = _backend.LOAD_WORK = 10   # every evaluation below is "big": only the cache decides
rng = np.random.default_rng(1)
pred, gt = [], []
for image in range(6):
    xy = rng.uniform(0, 200, (30, 2))
    boxes = np.column_stack([xy, xy + rng.uniform(5, 60, (30, 2))])
    labels = rng.integers(0, 3, 30)
    pred.append({"boxes": boxes, "scores": np.round(rng.random(30), 1), "labels": labels})
    gt.append({"boxes": boxes[::2] + rng.uniform(-3, 3, (15, 4)).clip(-2, 2), "labels": labels[::2],
               "iscrowd": np.arange(15) % 7 == 3})
kernels = (matching._group_kernel, matching._iou_blocks_kernel, matching._match_groups_kernel)
cached = _backend.kernels_cached(kernels)
auto = detmetrics.mean_ap(pred, gt).stats.tolist()
numba_after_auto = "numba" in sys.modules
forced = detmetrics.mean_ap(pred, gt, backend=sys.argv[1]).stats.tolist()
print(json.dumps({"cached": cached, "numba_after_auto": numba_after_auto, "auto": auto, "forced": forced,
                  "cached_after": _backend.kernels_cached(kernels)}))
"""


def test_auto_evaluates_with_the_reference_while_the_kernels_are_not_cached(tmp_path):
    # a fresh process, empty cache, work above AUTO_WORK: the evaluation answers with the NumPy
    # references without importing numba (no compilation on the critical path) ...
    import os

    env = dict(os.environ, NUMBA_CACHE_DIR=str(tmp_path / "cache"))
    runs = []
    for forced in ("numba", "numpy"):
        proc = subprocess.run([sys.executable, "-c", COLD_SCALE, forced], capture_output=True, text=True,
                              timeout=600, env=env)
        assert proc.returncode == 0, proc.stderr
        runs.append(json.loads(proc.stdout.strip().splitlines()[-1]))
    cold, warm = runs
    assert cold["cached"] is False and cold["numba_after_auto"] is False
    assert cold["cached_after"] is True  # backend="numba" compiled and cached them
    # ... and once they are in the cache, the next process's "auto" takes the kernels
    assert warm["cached"] is True and warm["numba_after_auto"] is True
    assert cold["auto"] == cold["forced"] == warm["auto"] == warm["forced"]


def test_auto_compiles_from_cold_work_on():
    from detmetrics import _backend

    lazy = _backend.LazyKernel(lambda x: x, {})  # a "kernel" never cached anywhere
    cold = _backend.COLD_WORK
    assert not _backend.kernels_cached((lazy,))
    assert resolve_backend("auto", _backend.AUTO_WORK, (lazy,), site=object(), cold_work=cold) == "numpy"
    assert resolve_backend("auto", cold, (lazy,), site=object(), cold_work=cold) == "numba"
    # only the sites that ask for it (the evaluation's): the others compile from AUTO_WORK on
    assert resolve_backend("auto", _backend.AUTO_WORK, (lazy,), site=object()) == "numba"
    # a cached kernel: numba is worth importing from LOAD_WORK on (it is imported in this process)
    _backend.kernels_cached, saved = (lambda kernels: True), _backend.kernels_cached
    try:
        assert resolve_backend("auto", _backend.AUTO_WORK, (lazy,), site=object(), cold_work=cold) == "numba"
    finally:
        _backend.kernels_cached = saved
    site = object()  # work adds up per site: a process that keeps evaluating compiles eventually
    calls = [resolve_backend("auto", cold // 3, (lazy,), site=site, cold_work=cold) for _ in range(4)]
    assert calls[:2] == ["numpy"] * 2 and calls[-1] == "numba"


LOAD_SCALE = """
import json, sys
from detmetrics import _backend, matching

kernels = (matching._group_kernel, matching._iou_blocks_kernel, matching._match_groups_kernel)
between = (_backend.AUTO_WORK + _backend.LOAD_WORK) // 2
print(json.dumps({"cached": _backend.kernels_cached(kernels),
                  "between": _backend.resolve_backend("auto", between, kernels, site=1, cold_work=_backend.COLD_WORK),
                  "numba_imported": "numba" in sys.modules,
                  "above": _backend.resolve_backend("auto", _backend.LOAD_WORK, kernels, site=2,
                                                    cold_work=_backend.COLD_WORK)}))
"""


def test_auto_imports_numba_for_cached_evaluation_kernels_from_load_work_on(tmp_path):
    # cached kernels, numba not imported: an evaluation below LOAD_WORK stays on NumPy (importing
    # numba would cost more than it saves); from LOAD_WORK on numba is imported and the kernels load
    import os

    env = dict(os.environ, NUMBA_CACHE_DIR=str(tmp_path / "cache"))
    proc = subprocess.run([sys.executable, "-c", COLD_SCALE, "numba"], capture_output=True, text=True,
                          timeout=600, env=env)  # fills the cache
    assert proc.returncode == 0, proc.stderr
    out = _run_env(LOAD_SCALE, env)
    assert out == {"cached": True, "between": "numpy", "numba_imported": False, "above": "numba"}


def _run_env(code, env):
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300, env=env)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout.strip().splitlines()[-1])


def test_prefetch_is_a_no_op_in_python():
    from detmetrics._backend import prefetch

    arr = np.arange(5.0)
    assert prefetch(arr, 3) is None
    assert_array_equal(arr, np.arange(5.0))


@requires_numba
@pytest.mark.parametrize("dtype", [np.uint8, np.int64, np.float64])
def test_prefetch_compiles_and_changes_nothing(dtype):
    # a gather through a permutation that prefetches ahead, as the accumulation does, equals np.take
    import numba

    from detmetrics._backend import load_numba, prefetch

    load_numba(required=True)

    @numba.njit(nogil=True)
    def gather(values, order, out):
        n = order.shape[0]
        for j in range(n):
            if j + 4 < n:
                prefetch(values, order[j + 4] * values.shape[1])
            for r in range(values.shape[1]):
                out[j, r] = values[order[j], r]

    rng = np.random.default_rng(3)
    values = rng.integers(0, 200, size=(1000, 5)).astype(dtype)
    order = rng.permutation(1000)
    out = np.empty_like(values)
    gather(values, order, out)
    assert_array_equal(out, values[order])
