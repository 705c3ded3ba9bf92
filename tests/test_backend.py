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
