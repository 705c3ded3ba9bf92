"""Hypothesis strategies for detection evaluation data.

Per-image detections and ground truths in the dict form ``mean_ap`` takes
(torchmetrics' convention), lists of them, and whole COCO datasets in JSON
form (a ground-truth dict and a results list, as ``evaluate_coco`` and
pycocotools take them).

Boxes sit on a coarse integer grid with sides that include the COCO area
range boundaries (32 and 96) and zero, ground-truth ``area`` fields are
sometimes exactly ``32**2`` / ``96**2`` or differ from ``w * h``, crowds occur,
scores come mostly from a small set (ties within and across images), and
detections are often small perturbations of ground truths, so that matches at
every IoU threshold, duplicate detections and equal-IoU candidates are common.
COCO datasets get non-contiguous, shuffled image / category / annotation ids,
images without annotations and categories without ground truth.
"""

from __future__ import annotations

import numpy as np
from hypothesis import strategies as st

__all__ = ["detections", "ground_truths", "detection_datasets", "coco_datasets"]

_SIDES = (16, 31, 32, 33, 48, 64, 95, 96, 97, 128)
_AREAS = (1024.0, 9216.0, 0.0)
_SCORES = (1.0, 0.9, 0.75, 0.5, 0.25, 0.1, 0.001)
_FORMATS = ("xyxy", "xywh", "cxcywh")


def _sides(max_side):
    small = st.integers(0, max_side)
    if max_side < 16:
        return small
    return st.one_of(small, st.sampled_from(_SIDES))


def _scores():
    return st.one_of(
        st.sampled_from(_SCORES),
        st.integers(0, 1000).map(lambda k: k / 1000),
    )


@st.composite
def _xywh(draw, grid, max_side):
    return [
        float(draw(st.integers(0, grid))),
        float(draw(st.integers(0, grid))),
        float(draw(_sides(max_side))),
        float(draw(_sides(max_side))),
    ]


def _perturb(draw, box):
    """A detection near ``box`` (xywh): identical, shifted, grown or shrunk on the grid."""
    x, y, w, h = box
    if draw(st.integers(0, 3)) == 0:
        return list(box)  # a perfect detection
    dx, dy = draw(st.integers(-2, 2)), draw(st.integers(-2, 2))
    dw, dh = draw(st.integers(-2, 2)), draw(st.integers(-2, 2))
    return [x + dx, y + dy, max(w + dw, 0.0), max(h + dh, 0.0)]


def _to_format(xywh, box_format):
    """(N, 4) xywh -> ``box_format``; exact on the integer grid except cxcywh halves."""
    b = np.asarray(xywh, dtype=np.float64).reshape(-1, 4)
    if box_format == "xywh":
        return b
    if box_format == "xyxy":
        return np.column_stack([b[:, 0], b[:, 1], b[:, 0] + b[:, 2], b[:, 1] + b[:, 3]])
    return np.column_stack([b[:, 0] + b[:, 2] / 2, b[:, 1] + b[:, 3] / 2, b[:, 2], b[:, 3]])


def _check_format(box_format):
    if box_format not in _FORMATS:
        raise ValueError(f"box_format must be one of {_FORMATS}; got {box_format!r}")


def _gt_area(draw, w, h):
    kind = draw(st.integers(0, 9))
    if kind < 7:
        return w * h
    if kind < 9:
        return draw(st.sampled_from(_AREAS))
    return float(draw(st.integers(0, 200 * 200)))  # e.g. a polygon area != w * h


@st.composite
def detections(draw, *, labels=(0, 1, 2), min_size=0, max_size=20, grid=40, max_side=12, box_format="xyxy"):
    """One image's detections: ``{"boxes": (N, 4), "scores": (N,), "labels": (N,)}``.

    Parameters
    ----------
    labels : sequence of int
        Labels are drawn from these.
    min_size, max_size : int
        Bounds on the number of detections ``N``.
    grid : int
        Box corners ``x, y`` are integers in ``[0, grid]``.
    max_side : int
        Sides are integers in ``[0, max_side]``, plus (when ``max_side >= 16``)
        sides at the COCO area boundaries (31, 32, 33, 95, 96, 97, ...).
    box_format : {"xyxy", "xywh", "cxcywh"}
        Format of ``boxes``.

    Examples
    --------
    >>> from hypothesis import given, settings
    >>> from detmetrics.strategies import detections
    >>> @settings(max_examples=10, deadline=None)
    ... @given(detections(max_size=5))
    ... def test(d):
    ...     assert d["boxes"].shape == (len(d["scores"]), 4)
    >>> test()
    """
    _check_format(box_format)
    n = draw(st.integers(min_size, max_size))
    boxes = [draw(_xywh(grid, max_side)) for _ in range(n)]
    return {
        "boxes": _to_format(boxes, box_format),
        "scores": np.array([draw(_scores()) for _ in range(n)], dtype=np.float64),
        "labels": np.array([draw(st.sampled_from(labels)) for _ in range(n)], dtype=np.int64),
    }


@st.composite
def ground_truths(draw, *, labels=(0, 1, 2), min_size=0, max_size=10, grid=40, max_side=12,
                  crowd=True, box_format="xyxy"):
    """One image's ground truths: ``{"boxes", "labels", "iscrowd", "area"}``.

    ``iscrowd`` (int64, 0/1; all 0 when ``crowd`` is false) and ``area``
    (float64; usually ``w * h``, sometimes exactly 32**2 / 96**2 / 0 or another
    value, as COCO's polygon areas) follow the COCO annotation fields. Other
    parameters as in ``detections``.

    Examples
    --------
    >>> from hypothesis import given, settings
    >>> from detmetrics.strategies import ground_truths
    >>> @settings(max_examples=10, deadline=None)
    ... @given(ground_truths(max_size=5))
    ... def test(g):
    ...     assert set(g["iscrowd"].tolist()) <= {0, 1}
    >>> test()
    """
    _check_format(box_format)
    n = draw(st.integers(min_size, max_size))
    boxes = [draw(_xywh(grid, max_side)) for _ in range(n)]
    return {
        "boxes": _to_format(boxes, box_format),
        "labels": np.array([draw(st.sampled_from(labels)) for _ in range(n)], dtype=np.int64),
        "iscrowd": np.array([int(crowd and draw(st.integers(0, 5)) == 0) for _ in range(n)], dtype=np.int64),
        "area": np.array([_gt_area(draw, b[2], b[3]) for b in boxes], dtype=np.float64),
    }


@st.composite
def _image(draw, labels, max_gt, max_det, grid, max_side, crowd):
    """One image as xywh lists: ground truths and detections derived from them."""
    gts = []
    for _ in range(draw(st.integers(0, max_gt))):
        box = draw(_xywh(grid, max_side))
        gts.append({
            "bbox": box,
            "label": draw(st.sampled_from(labels)),
            "iscrowd": int(crowd and draw(st.integers(0, 5)) == 0),
            "area": _gt_area(draw, box[2], box[3]),
        })
    dets = []
    for _ in range(draw(st.integers(0, max_det))):
        if gts and draw(st.integers(0, 3)) > 0:
            g = gts[draw(st.integers(0, len(gts) - 1))]
            label = g["label"] if draw(st.integers(0, 5)) > 0 else draw(st.sampled_from(labels))
            box = _perturb(draw, g["bbox"])
        else:
            label, box = draw(st.sampled_from(labels)), draw(_xywh(grid, max_side))
        dets.append({"bbox": box, "label": label, "score": draw(_scores())})
    return gts, dets


@st.composite
def detection_datasets(draw, *, labels=(0, 1, 2), min_images=0, max_images=6, max_gt_per_image=6,
                       max_dets_per_image=10, grid=40, max_side=12, crowd=True, box_format="xyxy"):
    """``(predictions, ground_truths)``: two equally long lists of per-image dicts.

    The per-image dict form of ``detections`` and ``ground_truths``,
    ready for ``mean_ap(predictions, ground_truths)``; most detections are
    small perturbations of a ground truth of the same image (usually with its
    label), the rest are drawn anywhere.

    Examples
    --------
    >>> from hypothesis import given, settings
    >>> from detmetrics.strategies import detection_datasets
    >>> @settings(max_examples=10, deadline=None)
    ... @given(detection_datasets(max_images=3))
    ... def test(data):
    ...     predictions, ground_truths = data
    ...     assert len(predictions) == len(ground_truths)
    >>> test()
    """
    _check_format(box_format)
    predictions, targets = [], []
    for _ in range(draw(st.integers(min_images, max_images))):
        gts, dets = draw(_image(labels, max_gt_per_image, max_dets_per_image, grid, max_side, crowd))
        predictions.append({
            "boxes": _to_format([d["bbox"] for d in dets], box_format),
            "scores": np.array([d["score"] for d in dets], dtype=np.float64),
            "labels": np.array([d["label"] for d in dets], dtype=np.int64),
        })
        targets.append({
            "boxes": _to_format([g["bbox"] for g in gts], box_format),
            "labels": np.array([g["label"] for g in gts], dtype=np.int64),
            "iscrowd": np.array([g["iscrowd"] for g in gts], dtype=np.int64),
            "area": np.array([g["area"] for g in gts], dtype=np.float64),
        })
    return predictions, targets


@st.composite
def coco_datasets(draw, *, min_images=1, max_images=6, max_categories=4, max_gt_per_image=6,
                  max_dets_per_image=10, grid=40, max_side=12, crowd=True):
    """A COCO detection dataset in JSON form: ``(ground_truth, results)``.

    ``ground_truth`` is a dict with ``images``, ``categories`` and
    ``annotations`` (``id``, ``image_id``, ``category_id``, ``bbox`` xywh,
    ``area``, ``iscrowd``); ``results`` a list of ``{"image_id",
    "category_id", "bbox", "score"}``, every ``image_id`` one of the images and
    every ``category_id`` one of the categories -- data that pycocotools'
    ``COCO.loadRes`` and ``COCOeval`` accept. Image, category and annotation
    ids are distinct positive integers, non-contiguous and listed in shuffled
    order; some images have no annotations and some categories no ground
    truth. The results list may be empty (``COCO.loadRes`` cannot load an
    empty list; ``evaluate_coco`` can).

    Examples
    --------
    >>> from hypothesis import given, settings
    >>> from detmetrics.strategies import coco_datasets
    >>> @settings(max_examples=10, deadline=None)
    ... @given(coco_datasets(max_images=3))
    ... def test(data):
    ...     gt, results = data
    ...     image_ids = {img["id"] for img in gt["images"]}
    ...     assert all(r["image_id"] in image_ids for r in results)
    >>> test()
    """
    ids = st.integers(1, 10**6)
    image_ids = draw(st.lists(ids, min_size=min_images, max_size=max_images, unique=True))
    cat_ids = draw(st.lists(st.integers(1, 1000), min_size=1, max_size=max_categories, unique=True))
    annotations, results = [], []
    for image_id in image_ids:
        gts, dets = draw(_image(cat_ids, max_gt_per_image, max_dets_per_image, grid, max_side, crowd))
        for g in gts:
            annotations.append({"image_id": image_id, "category_id": g["label"], "bbox": g["bbox"],
                                "area": g["area"], "iscrowd": g["iscrowd"]})
        for d in dets:
            results.append({"image_id": image_id, "category_id": d["label"], "bbox": d["bbox"],
                            "score": d["score"]})
    ann_ids = draw(st.lists(st.integers(1, 10**9), min_size=len(annotations), max_size=len(annotations),
                            unique=True))
    for ann, ann_id in zip(annotations, ann_ids):
        ann["id"] = ann_id
    annotations = draw(st.permutations(annotations))
    results = draw(st.permutations(results))
    images = draw(st.permutations([{"id": i, "width": 640, "height": 480, "file_name": f"{i}.jpg"}
                                   for i in image_ids]))
    categories = draw(st.permutations([{"id": c, "name": f"class_{c}"} for c in cat_ids]))
    return {"images": images, "categories": categories, "annotations": annotations}, results
