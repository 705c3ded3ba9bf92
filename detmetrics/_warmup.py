"""Compile (or load from numba's cache) every kernel ahead of use: ``detmetrics warmup``.

A fresh environment compiles each kernel on its first call with
``backend="numba"`` (or an ``"auto"`` call large enough to pick numba); the
compiled code is cached on disk, so this is paid once per environment.
``warmup()`` pays it up front -- in a Docker image build, a CI cache step or
after ``pip install`` -- by running every primitive once on a tiny input with
``backend="numba"``, through the same validation and dispatch as users'
calls (so the cached specialisations are the ones users' calls need).
``uncompiled()`` lists the kernels still without a compiled version, which a
test holds empty: a new kernel must be reached by ``warmup``.
"""

from __future__ import annotations

import time

import numpy as np

from ._backend import all_kernels, load_numba

__all__ = ["warmup", "uncompiled"]


def _boxes_and_scores():
    boxes = np.array([[0, 0, 10, 10], [1, 1, 11, 11], [20, 20, 30, 30], [0, 0, 10, 5]], dtype=np.float64)
    scores = np.array([0.9, 0.8, 0.7, 0.6])
    labels = np.array([0, 0, 1, 1], dtype=np.int64)
    return boxes, scores, labels


def _primitives():
    from . import (
        batched_nms,
        box_iou,
        complete_box_iou,
        confusion_matrix,
        distance_box_iou,
        filter_by_confidence,
        generalized_box_iou,
        nms,
        polygon_iou,
        rotated_iou,
        rotated_to_corners,
        soft_nms,
    )

    boxes, scores, labels = _boxes_and_scores()
    rotated = np.array([[5, 5, 10, 10, 0.0], [6, 6, 10, 10, 0.3], [25, 25, 10, 10, 0.0], [5, 5, 10, 5, 1.0]])
    quads = rotated_to_corners(rotated)
    for fn in (box_iou, generalized_box_iou, distance_box_iou, complete_box_iou):
        fn(boxes, boxes, backend="numba")
    rotated_iou(rotated, rotated, backend="numba")
    polygon_iou(quads, quads, backend="numba")
    filter_by_confidence(scores, 0.5, backend="numba")
    for geometry in (boxes, rotated, quads):
        nms(geometry, scores, 0.5, backend="numba")
        batched_nms(geometry, scores, labels, 0.5, backend="numba")
        for method in ("gaussian", "linear"):
            soft_nms(geometry, scores, method=method, backend="numba")
    pred = [{"boxes": boxes, "scores": scores, "labels": labels}]
    gt = [{"boxes": boxes[:3], "labels": labels[:3]}]
    confusion_matrix(pred, gt, backend="numba")


def _evaluation():
    from . import mean_ap

    boxes, scores, labels = _boxes_and_scores()
    rotated = np.array([[5, 5, 10, 10, 0.0], [6, 6, 10, 10, 0.3], [25, 25, 10, 10, 0.0], [5, 5, 10, 5, 1.0]])
    many = np.tile(boxes, (12, 1)) + np.repeat(np.arange(12.0), 4)[:, None]  # > 32 per group: every sort path
    for geometry, fmt in ((boxes, "xyxy"), (rotated, "xyxy"), (many, "xyxy")):
        n = geometry.shape[0]
        s = np.linspace(0.9, 0.1, n)
        lab = np.arange(n, dtype=np.int64) % 2
        pred = [{"boxes": geometry, "scores": s, "labels": lab}]
        gt = [{"boxes": geometry[: max(1, n // 2)], "labels": lab[: max(1, n // 2)],
               "iscrowd": np.arange(max(1, n // 2)) % 3 == 2}]
        for matching in ("coco", "voc"):
            for interpolation in ("coco", "voc"):
                mean_ap(pred, gt, box_format=fmt, matching=matching, interpolation=interpolation, backend="numba")
        mean_ap(pred, gt, box_format=fmt, protocol="ultralytics", backend="numba")  # the trapezoid kernel
    from ._blocks import _keep

    # the compact state of an evaluation by blocks of images (above half a million detections)
    codes = np.array([[0, 1, 2, 1, 2], [2, 2, 0, 1, 0]], dtype=np.uint8)
    _keep(np.array([0, 1, 2]), np.array([0.9, 0.5]), np.array([0, 0]), codes, np.array([0, 1]),
          np.empty(2), np.empty((2, 3), np.uint8))
    from .errors import error_breakdown

    pred = [{"boxes": boxes, "scores": scores, "labels": labels}]
    gt = [{"boxes": boxes[:3], "labels": labels[:3], "iscrowd": [0, 0, 1]}]
    error_breakdown(pred, gt, backend="numba")  # the TIDE classification and AP kernels


def _masks():
    from . import masks

    stack = np.zeros((3, 6, 7), dtype=bool)
    stack[0, 1:4, 2:6] = True
    stack[1, 2:6, 0:3] = True
    stack[2] = True
    rles = masks.encode(stack, backend="numba")
    masks.decode(rles, backend="numba")
    masks.area(rles, backend="numba")
    masks.to_bbox(rles, backend="numba")
    masks.iou(rles, rles, [0, 1, 0], backend="numba")
    masks.merge(rles, backend="numba")
    masks.merge(rles, intersect=True, backend="numba")
    masks.from_polygons([[[1.0, 1.0, 5.0, 1.0, 5.0, 4.0]], [[0.0, 0.0, 6.0, 0.0, 3.0, 5.0]]], 6, 7, backend="numba")
    masks.from_boxes([[1, 1, 3, 2], [0, 0, 7, 6]], 6, 7, backend="numba")
    scores = np.array([0.9, 0.8, 0.7])
    masks.nms(rles, scores, 0.5, backend="numba")
    masks.batched_nms(rles, scores, [0, 1, 0], 0.5, backend="numba")
    # the segm evaluation's IoU blocks (two groups)
    flat = masks._as_rles(rles, "masks", "numba")[:3]
    offsets = np.array([0, 1, 3], dtype=np.int64)
    masks._mask_iou_blocks(*flat, *flat, np.array([0, 1, 0], np.uint8), offsets, offsets, "numba")


def _keypoints():
    from .keypoints import _oks_blocks, oks

    gt = np.array([[[10, 10, 2], [20, 10, 2], [5, 5, 0]]], dtype=np.float64)
    dt = np.array([[[10, 10, 1], [20, 10, 1], [5, 5, 1]], [[11, 10, 1], [20, 12, 1], [5, 5, 1]]], dtype=np.float64)
    oks(dt, gt, [100.0], [[5, 5, 20, 10]], sigmas=[0.1, 0.1, 0.1], backend="numba")
    oks(dt, np.zeros((1, 3, 3)), [100.0], [[5, 5, 20, 10]], sigmas=[0.1, 0.1, 0.1], backend="numba")
    # the keypoints evaluation's OKS blocks (a group with ground truth, one without)
    sigmas = np.array([0.1, 0.1, 0.1])
    for g in (gt, np.zeros((1, 3, 3))):
        _oks_blocks(dt, g, np.array([100.0]), np.array([[5.0, 5.0, 20.0, 10.0]]), sigmas,
                    np.array([0, 1, 2], dtype=np.int64), np.array([0, 1, 1], dtype=np.int64), "numba")


def _files():
    from .io._coco_decode import _scan_results
    from .io._dict_columns import annotation_dict_columns, result_dict_columns

    # a results file with a number the scan converts itself and one it hands to msgspec
    text = b'[{"image_id": 1, "category_id": 2, "bbox": [1.5, 2, 3.25, 4], "score": 0.98765432101234567}]'
    _scan_results(np.frombuffer(text, dtype=np.uint8), "numba")
    # the same results as Python dicts (evaluate_coco on a loaded list)
    result_dict_columns([{"image_id": 1, "category_id": 2, "bbox": [1.5, 2, 3.25, 4], "score": 0.5}], "numba")
    # and a loaded ground truth's annotations
    annotation_dict_columns([{"image_id": 1, "category_id": 2, "bbox": [1.5, 2, 3.25, 4], "area": 13.0, "iscrowd": 0,
                              "id": 1}], "numba")


_STEPS = (("primitives", _primitives), ("evaluation", _evaluation), ("masks", _masks), ("keypoints", _keypoints),
          ("files", _files))


def uncompiled() -> list:
    """``module:name`` of every kernel not reached in this process.

    A kernel is reached when it has a compiled (or cache-loaded) version, or
    when a reached kernel calls it: a helper compiled into its caller's
    cached code is not loaded on its own.
    """
    kernels = dict(all_kernels())
    reached = {name for name, k in kernels.items() if getattr(k, "signatures", ())}
    todo = list(reached)
    while todo:
        module = todo[-1].split(":")[0]
        calls = kernels[todo.pop()].py_func.__code__.co_names
        for callee in calls:
            key = f"{module}:{callee}"
            if key in kernels and key not in reached:
                reached.add(key)
                todo.append(key)
    return sorted(set(kernels) - reached)


def warmup(*, log=None) -> dict:
    """Compile (or load from the cache) every kernel; return a summary.

    Parameters
    ----------
    log : callable, optional
        Called with one line of text per step.

    Returns
    -------
    dict
        ``seconds`` (total), ``steps`` (name -> seconds), ``kernels`` (how
        many), ``compiled`` (compiled now: not in the cache before),
        ``loaded`` (read from the cache), ``uncompiled`` (kernels no step
        reached) and ``cache_dirs`` (where numba keeps them).

    Raises
    ------
    ImportError
        numba cannot be imported.
    """
    start = time.perf_counter()
    load_numba(required=True)
    steps = {}
    for name, step in _STEPS:
        t0 = time.perf_counter()
        step()
        steps[name] = time.perf_counter() - t0
        if log is not None:
            log(f"{name}: {steps[name]:.1f} s")
    compiled = loaded = 0
    dirs = set()
    for _, k in all_kernels():
        stats = getattr(k, "stats", None)
        if stats is None:
            continue
        compiled += sum(stats.cache_misses.values())
        loaded += sum(stats.cache_hits.values())
        if stats.cache_path:
            dirs.add(stats.cache_path)
    return {"seconds": time.perf_counter() - start, "steps": steps, "kernels": len(all_kernels()),
            "compiled": compiled, "loaded": loaded, "uncompiled": uncompiled(), "cache_dirs": sorted(dirs)}
