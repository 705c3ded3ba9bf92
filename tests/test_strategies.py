"""The public COCO / per-image strategies build valid data that pycocotools accepts."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from detmetrics.strategies import coco_datasets, detection_datasets, detections, ground_truths

from coco_generator import run_pycocotools

FORMATS = ("xyxy", "xywh", "cxcywh")


def _xywh(boxes, box_format):
    b = np.asarray(boxes, dtype=np.float64)
    if box_format == "xyxy":
        return np.column_stack([b[:, 0], b[:, 1], b[:, 2] - b[:, 0], b[:, 3] - b[:, 1]])
    if box_format == "cxcywh":
        return np.column_stack([b[:, 0] - b[:, 2] / 2, b[:, 1] - b[:, 3] / 2, b[:, 2], b[:, 3]])
    return b


def _check_boxes(boxes, n, box_format):
    assert boxes.dtype == np.float64 and boxes.shape == (n, 4)
    assert np.isfinite(boxes).all()
    xywh = _xywh(boxes, box_format)
    assert (xywh[:, 2:] >= 0).all()


def _check_predictions(d, box_format, labels=None):
    n = len(d["scores"])
    _check_boxes(d["boxes"], n, box_format)
    assert d["scores"].dtype == np.float64 and d["scores"].shape == (n,)
    assert ((d["scores"] >= 0) & (d["scores"] <= 1)).all()
    assert d["labels"].dtype == np.int64 and d["labels"].shape == (n,)
    if labels is not None:
        assert set(d["labels"].tolist()) <= set(labels)


def _check_targets(g, box_format, labels=None):
    n = len(g["labels"])
    _check_boxes(g["boxes"], n, box_format)
    assert g["labels"].dtype == np.int64
    assert g["iscrowd"].dtype == np.int64 and g["iscrowd"].shape == (n,)
    assert set(g["iscrowd"].tolist()) <= {0, 1}
    assert g["area"].dtype == np.float64 and g["area"].shape == (n,)
    assert (g["area"] >= 0).all()
    if labels is not None:
        assert set(g["labels"].tolist()) <= set(labels)


@pytest.mark.parametrize("box_format", FORMATS)
@settings(max_examples=30)
@given(data=st.data())
def test_detections_and_ground_truths_are_valid(box_format, data):
    d = data.draw(detections(labels=(3, 7), max_size=15, box_format=box_format, max_side=100))
    _check_predictions(d, box_format, labels=(3, 7))
    g = data.draw(ground_truths(labels=(3, 7), max_size=15, box_format=box_format, max_side=100))
    _check_targets(g, box_format, labels=(3, 7))


@given(ground_truths(crowd=False, max_size=10))
def test_ground_truths_without_crowds(g):
    assert not g["iscrowd"].any()


@pytest.mark.parametrize("box_format", FORMATS)
@settings(max_examples=30)
@given(data=st.data())
def test_detection_datasets_are_valid(box_format, data):
    predictions, targets = data.draw(detection_datasets(labels=(0, 5), max_images=5, box_format=box_format))
    assert len(predictions) == len(targets) <= 5
    for d, g in zip(predictions, targets):
        _check_predictions(d, box_format, labels=(0, 5))
        _check_targets(g, box_format, labels=(0, 5))


@given(coco_datasets(max_images=6, max_categories=4))
def test_coco_datasets_are_accepted_by_pycocotools(data):
    gt, results = data
    image_ids = [img["id"] for img in gt["images"]]
    cat_ids = [c["id"] for c in gt["categories"]]
    ann_ids = [a["id"] for a in gt["annotations"]]
    for ids in (image_ids, cat_ids, ann_ids):
        assert len(set(ids)) == len(ids)
        assert all(isinstance(i, int) and i >= 1 for i in ids)
    for a in gt["annotations"]:
        assert a["image_id"] in image_ids and a["category_id"] in cat_ids
        assert len(a["bbox"]) == 4 and a["bbox"][2] >= 0 and a["bbox"][3] >= 0
        assert a["iscrowd"] in (0, 1) and a["area"] >= 0
    for r in results:
        assert r["image_id"] in image_ids and r["category_id"] in cat_ids
        assert len(r["bbox"]) == 4 and 0 <= r["score"] <= 1
    stats, ev, _ = run_pycocotools(gt, results)
    assert stats.shape == (12,)
    assert ev["precision"].shape == (10, 101, len(cat_ids), 4, 3)


def test_coco_datasets_reach_the_interesting_cases():
    """Over a batch of examples the strategy produces crowds, ties, empty images, ..."""
    seen = set()

    @settings(max_examples=80, database=None, derandomize=True)
    @given(coco_datasets())
    def collect(data):
        gt, results = data
        anns = gt["annotations"]
        if any(a["iscrowd"] for a in anns):
            seen.add("crowd")
        if any(a["area"] != a["bbox"][2] * a["bbox"][3] for a in anns):
            seen.add("area != w*h")
        if any(a["area"] in (1024.0, 9216.0) for a in anns):
            seen.add("area at boundary")
        with_gt = {a["image_id"] for a in anns}
        if any(img["id"] not in with_gt for img in gt["images"]):
            seen.add("image without gt")
        if any(r["image_id"] not in with_gt for r in results):
            seen.add("detections on image without gt")
        if len({c["id"] for c in gt["categories"]} - {a["category_id"] for a in anns}) > 0:
            seen.add("category without gt")
        scores = [r["score"] for r in results]
        if len(set(scores)) < len(scores):
            seen.add("score tie")
        if any(r["bbox"][2] * r["bbox"][3] == 0 for r in results):
            seen.add("zero-area detection")
        if any(r["bbox"] == a["bbox"] for r in results for a in anns):
            seen.add("exact match")

    collect()
    assert seen == {"crowd", "area != w*h", "area at boundary", "image without gt",
                    "detections on image without gt", "category without gt", "score tie",
                    "zero-area detection", "exact match"}
