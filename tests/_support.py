"""Helpers shared by the test modules: the backend list, the numba skip, array-likes, pycocotools.

Kept in one place so that every test means the same thing by them:

* ``BACKENDS`` is always both backends; a test that needs the kernel and
  cannot have it is skipped visibly (``requires_numba``), never shrunk to
  the NumPy backend alone;
* ``ArrayLike`` stands in for a torch tensor (only ``__array__``);
* ``pycocotools_eval`` is the one runner of the oracle (on copies, prints
  silenced, from dicts or from file paths).
"""

from __future__ import annotations

import contextlib
import copy
import io

import numpy as np
import pytest

from detmetrics._backend import HAVE_NUMBA

BACKENDS = ("numba", "numpy")

requires_numba = pytest.mark.skipif(
    not HAVE_NUMBA, reason="numba is not importable: the Numba kernels cannot be compared with their references"
)


def backend_params():
    """``BACKENDS`` as pytest params, the numba one skipped visibly without numba."""
    return [pytest.param("numba", marks=requires_numba), "numpy"]


class ArrayLike:
    """A tiny stand-in for a torch tensor: only ``__array__``."""

    def __init__(self, data, dtype=None):
        self._data = np.asarray(data, dtype=dtype)

    def __array__(self, dtype=None, copy=None):
        return self._data if dtype is None else self._data.astype(dtype)


def pycocotools_eval(gt, results, *, iou_thresholds=None, max_detections=None, area_ranges=None, summarize=True,
                     iou_type="bbox", sigmas=None):
    """pycocotools' ``COCOeval`` (bbox unless ``iou_type``) after ``evaluate()``, ``accumulate()`` (and ``summarize()``).

    ``gt`` / ``results`` are a loaded dict / list (copied: pycocotools mutates
    them) or file paths.  An empty results list is loaded by hand
    (``COCO.loadRes`` cannot load it).  ``area_ranges`` is a dict
    ``name -> (lo, hi)`` as ``mean_ap`` takes it.  Returns ``(COCOeval, printed text)``.
    """
    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval

    with contextlib.redirect_stdout(io.StringIO()) as out:
        if isinstance(gt, dict):
            coco_gt = COCO()
            coco_gt.dataset = copy.deepcopy(gt)
            coco_gt.createIndex()
        else:
            coco_gt = COCO(str(gt))
        if isinstance(results, list) and not results:
            coco_dt = COCO()
            coco_dt.dataset = {"images": list(coco_gt.dataset["images"]),
                               "categories": copy.deepcopy(coco_gt.dataset["categories"]), "annotations": []}
            coco_dt.createIndex()
        else:
            coco_dt = coco_gt.loadRes(copy.deepcopy(results) if isinstance(results, list) else str(results))
        ev = COCOeval(coco_gt, coco_dt, iou_type)
        if sigmas is not None:
            ev.params.kpt_oks_sigmas = np.asarray(sigmas, dtype=np.float64)
        if iou_thresholds is not None:
            ev.params.iouThrs = np.asarray(iou_thresholds, dtype=np.float64)
        if max_detections is not None:
            ev.params.maxDets = list(max_detections)
        if area_ranges is not None:
            ev.params.areaRng = [list(v) for v in area_ranges.values()]
            ev.params.areaRngLbl = list(area_ranges)
        ev.evaluate()
        ev.accumulate()
        if summarize:
            ev.summarize()
    return ev, out.getvalue()
