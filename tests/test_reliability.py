"""Regression tests for the defects a fuzzing pass found (labels beyond int64, bool flags, the Evaluator)."""

import json
import pickle

import numpy as np
import pytest
from numpy.testing import assert_allclose

from detmetrics import Evaluator, batched_nms, mean_ap

BOX = [[0, 0, 10, 10]]


@pytest.mark.parametrize("labels", [
    [1e19],                                      # a whole float beyond int64
    np.array([2**63], dtype=np.uint64),          # uint64 beyond int64
    [2**70],                                     # a Python int beyond int64
    [-(2**63) - 1],
])
def test_labels_beyond_int64_are_named_errors(labels):
    # used to wrap or merge: two different huge labels gave mAP 1.0
    with pytest.raises(ValueError, match=r"labels'?\]? must hold integers in \[-2\*\*63, 2\*\*63\)"):
        mean_ap([{"boxes": BOX, "scores": [0.9], "labels": labels}], [{"boxes": BOX, "labels": [1]}])
    with pytest.raises(ValueError, match=r"labels must hold integers in \[-2\*\*63, 2\*\*63\)"):
        batched_nms(BOX * 1, [0.9], labels)


def test_labels_at_the_int64_edges_are_accepted():
    labels = np.array([2**63 - 1, -(2**63)], dtype=np.int64)
    assert batched_nms(BOX * 2, [0.9, 0.8], labels).tolist() == [0, 1]
    assert batched_nms(BOX * 2, [0.9, 0.8], np.array([2**63 - 1, 0], dtype=np.uint64)).tolist() == [0, 1]


def test_bool_flags_are_accepted():
    pred = [{"boxes": BOX * 2, "scores": [0.9, 0.8], "labels": [1, 1]}]
    as_int = mean_ap(pred, [{"boxes": BOX * 2, "labels": [1, 1], "iscrowd": [0, 1], "difficult": [1, 0]}])
    for flags in ([False, True], np.array([False, True])):
        got = mean_ap(pred, [{"boxes": BOX * 2, "labels": [1, 1], "iscrowd": flags, "difficult": flags[::-1]}])
        assert_allclose(got.stats, as_int.stats, rtol=0, atol=0)


def _dataset(n, seed=0):
    rng = np.random.default_rng(seed)
    preds, gts = [], []
    for _ in range(n):
        b = rng.integers(0, 50, (6, 2)).astype(float)
        b = np.hstack([b, b + rng.integers(1, 20, (6, 2))])
        preds.append({"boxes": b, "scores": rng.choice([0.3, 0.5, 0.9], 6), "labels": rng.integers(0, 3, 6)})
        gts.append({"boxes": b[:3] + rng.integers(0, 3, (3, 4)) * [0, 0, 1, 1], "labels": rng.integers(0, 3, 3)})
    return preds, gts


@pytest.mark.parametrize("image_ids", [False, True])
def test_one_image_updates_equal_mean_ap(image_ids, monkeypatch):
    # updates are matched in batches: a small batch size makes every path run (flush on size,
    # on merge, on pickling, on compute)
    monkeypatch.setattr(Evaluator, "_BATCH_IMAGES", 7)
    preds, gts = _dataset(40)
    a, b = Evaluator(), Evaluator()
    for i in range(25):
        a.update(preds[i:i + 1], gts[i:i + 1], image_ids=[i] if image_ids else None)
    for i in range(25, 40):
        b.update(preds[i:i + 1], gts[i:i + 1], image_ids=[i] if image_ids else None)
    b = pickle.loads(pickle.dumps(b))
    a.merge(b)
    assert a.n_images == 40
    expected = mean_ap(preds, gts)
    assert_allclose(a.compute().stats, expected.stats, rtol=0, atol=1e-12)
    assert_allclose(a.compute().precision, expected.precision, rtol=0, atol=1e-12)


def test_duplicate_image_ids_across_pending_updates():
    e = Evaluator()
    preds, gts = _dataset(2)
    e.update(preds[:1], gts[:1], image_ids=[5])
    with pytest.raises(ValueError, match="image id 5 was already evaluated"):
        e.update(preds[1:], gts[1:], image_ids=[5])
    other = Evaluator()
    other.update(preds[1:], gts[1:], image_ids=[5])
    with pytest.raises(ValueError, match="image id 5 was already evaluated"):
        e.merge(other)



# ---------------------------------------------------------------- float64 edges, bounds, meaningless input
from detmetrics import (  # noqa: E402
    average_precision,
    confusion_matrix,
    convert_boxes,
    evaluate_coco,
    filter_by_confidence,
    generalized_box_iou,
    nms,
    rotated_iou,
)

FOUR = np.array([[0, 0, 10, 10], [1, 1, 10, 10], [20, 20, 30, 30], [21, 21, 30, 30]], dtype=np.float64)
SCALE_ERROR = r"outside the range float64 IoU can handle .* rescale the boxes"


@pytest.mark.parametrize("call", [
    lambda: nms(FOUR * 1e200, [0.9, 0.8, 0.7, 0.6]),           # used to keep [0, 1, 2, 3]
    lambda: generalized_box_iou(FOUR * 1e160, FOUR * 1e160),   # used to give NaN
    lambda: convert_boxes([[-1.7e308, 0, 1.7e308, 1]], "xyxy", "xywh"),  # used to give a width of inf
    lambda: nms(FOUR * 1e-160, [0.9, 0.8, 0.7, 0.6]),          # areas underflow to 0
    lambda: rotated_iou([[0, 0, 1e-160, 1e-160, 0]], [[0, 0, 1, 1, 0]]),
    lambda: mean_ap([{"boxes": FOUR * 1e160, "scores": [0.9] * 4, "labels": [1] * 4}],
                    [{"boxes": FOUR * 1e160, "labels": [1] * 4}]),  # used to give 0.0
])
def test_float64_edges_are_named_errors(call):
    with pytest.raises(ValueError, match=SCALE_ERROR):
        call()


@pytest.mark.parametrize("scale", [1e-140, 1e-3, 1e3, 1e140])
def test_iou_is_scale_invariant_inside_the_limits(scale):
    assert nms(FOUR * scale, [0.9, 0.8, 0.7, 0.6]).tolist() == [0, 2]


@pytest.mark.parametrize("call, match", [
    (lambda: mean_ap([{"boxes": BOX, "scores": [0.9], "labels": [1]}], [{"boxes": BOX, "labels": [1]}],
                     max_detections=2**63), r"max_detections must hold integers <= 2\*\*62"),
    (lambda: mean_ap([{"boxes": BOX, "scores": [0.9], "labels": [1]}], [{"boxes": BOX, "labels": [1]}],
                     max_detections=(1, 10, 2**70)), r"max_detections must hold integers <= 2\*\*62"),
    (lambda: filter_by_confidence([0.5], 0.1, max_detections=10**30), r"max_detections must be <= 2\*\*62"),
    (lambda: confusion_matrix([{"boxes": BOX, "scores": [0.5], "labels": [10**9]}], [{"boxes": BOX, "labels": [1]}]),
     "a confusion matrix takes class indices below 4096"),
    (lambda: confusion_matrix([{"boxes": BOX, "scores": [0.5], "labels": [1]}], [{"boxes": BOX, "labels": [1]}],
                              num_classes=10**5), r"num_classes must be <= 4096"),
    (lambda: average_precision([0.5, 0.5, 1], [5, 2.5, 10 / 3]), r"precision must be in \[0, 1\]; got 5.0"),
    (lambda: average_precision([0.5, 1.0], [-0.5, 1.0]), r"precision must be in \[0, 1\]"),
    (lambda: average_precision([0.5, 1.5], [1.0, 1.0]), r"recall must be in \[0, 1\]"),
    (lambda: rotated_iou(np.zeros((3, 0)), [[0, 0, 1, 1, 0]]), r"must have shape \(N, 5\)"),
])
def test_bounds_and_meaningless_input(call, match):
    with pytest.raises(ValueError, match=match):
        call()


def test_ragged_boxes_are_named_in_our_words():
    with pytest.raises(ValueError, match=r"predictions\[0\]\['boxes'\] could not be read as a rectangular numeric "
                                         r"array \(its rows have different lengths\)$"):
        confusion_matrix([{"boxes": [[0, 0, 1, 1], [0, 0, 1]], "scores": [0.5, 0.5], "labels": [0, 0]}],
                         [{"boxes": BOX, "labels": [0]}])


def test_filter_by_confidence_accepts_the_largest_budget():
    assert filter_by_confidence([0.5, 0.9], 0.1, max_detections=2**62).tolist() == [1, 0]


def test_curve_queries_name_bad_thresholds():
    r = mean_ap([{"boxes": BOX, "scores": [0.9], "labels": [1]}], [{"boxes": BOX, "labels": [1]}])
    with pytest.raises(ValueError, match="score_threshold must not be NaN"):
        r.precision_recall_f1(float("nan"))
    with pytest.raises(TypeError, match="iou_threshold must be a real number; got 'x'"):
        r.best_f1(iou_threshold="x")


# ---------------------------------------------------------------- COCO data in memory
COCO_GT = {"images": [{"id": 1}, {"id": 2}], "categories": [{"id": 3, "name": "cat"}],
           "annotations": [{"id": 1, "image_id": 1, "category_id": 3, "bbox": [0, 0, 10, 10], "area": 100, "iscrowd": 0},
                           {"id": 2, "image_id": 2, "category_id": 3, "bbox": [5, 5, 10, 10], "area": 100, "iscrowd": 0}]}
COCO_RES = [{"image_id": 1, "category_id": 3, "bbox": [0, 0, 10, 10], "score": 0.9},
            {"image_id": 2, "category_id": 3, "bbox": [6, 5, 10, 10], "score": 0.8}]


def test_evaluate_coco_accepts_numpy_scalars():
    # pycocotools accepts results built with numpy; msgspec's typed conversion alone did not
    expected = evaluate_coco(COCO_GT, COCO_RES)
    res = [{"image_id": np.int64(r["image_id"]), "category_id": np.int32(r["category_id"]),
            "bbox": [np.float64(v) for v in r["bbox"]], "score": np.float32(r["score"])} for r in COCO_RES]
    gt = {**COCO_GT, "annotations": [{**a, "area": np.float64(a["area"]), "image_id": np.int64(a["image_id"])}
                                     for a in COCO_GT["annotations"]]}
    got = evaluate_coco(gt, res)
    assert_allclose(got.stats, expected.stats, rtol=0, atol=1e-7)  # float32 scores: same order here
    with pytest.raises(ValueError, match=r"results: Expected `int`, got `array` - at `\$\[0\]\.image_id`"):
        evaluate_coco(COCO_GT, [{**COCO_RES[0], "image_id": [1]}])


@pytest.mark.parametrize("annotation, match", [
    ({"id": 9, "image_id": 7, "category_id": 3, "bbox": [0, 0, 1, 1]}, r"\[2\]\.image_id 7 is not in 'images'"),
    ({"id": 9, "image_id": 1, "category_id": 8, "bbox": [0, 0, 1, 1]}, r"\[2\]\.category_id 8 is not in 'categories'"),
    ({"id": 9, "image_id": 1, "category_id": 3, "bbox": [0, 0, 1, 1], "area": float("nan")}, r"\[2\]\.area must be finite"),
])
def test_evaluate_coco_rejects_what_it_used_to_drop(annotation, match):
    # one rule with detmetrics.io.read_coco_gt: nothing left out silently
    gt = {**COCO_GT, "annotations": COCO_GT["annotations"] + [annotation]}
    with pytest.raises(ValueError, match=match):
        evaluate_coco(gt, COCO_RES)


def test_unlisted_ground_truth_is_what_pycocotools_drops():
    # the documented difference: pycocotools evaluates as if the annotation were not there
    from _support import pycocotools_eval

    gt = {**COCO_GT, "annotations": COCO_GT["annotations"] + [
        {"id": 9, "image_id": 7, "category_id": 3, "bbox": [0, 0, 1, 1], "area": 1, "iscrowd": 0}]}
    ev, _ = pycocotools_eval(gt, COCO_RES)
    assert_allclose(ev.stats, evaluate_coco(COCO_GT, COCO_RES).stats, rtol=0, atol=1e-12)
    with pytest.raises(ValueError, match="is not in 'images'"):
        evaluate_coco(gt, COCO_RES)


# ---------------------------------------------------------------- COCO ids and JSON structure
from detmetrics.io import read_coco_gt, read_coco_results  # noqa: E402


def _gt(image_id=1, ann_image_id=None, category_id=3):
    return {"images": [{"id": image_id}], "categories": [{"id": category_id, "name": "cat"}],
            "annotations": [{"id": 1, "image_id": image_id if ann_image_id is None else ann_image_id,
                             "category_id": category_id, "bbox": [0, 0, 10, 10], "area": 100}]}


@pytest.mark.parametrize("gt", [_gt(image_id=2**63), _gt(category_id=2**63), _gt(image_id=-(2**63) - 1)])
@pytest.mark.parametrize("form", ["dict", "bytes"])
def test_ids_beyond_int64_are_named_errors(gt, form):
    source = gt if form == "dict" else json.dumps(gt).encode()
    with pytest.raises(ValueError, match=r"922337203685477580[78]|int64"):
        evaluate_coco(source, [])
    with pytest.raises(ValueError, match="int64"):
        read_coco_gt(gt)


def test_result_ids_beyond_int64_are_named_errors():
    res = [{"image_id": 1, "category_id": 2**64, "bbox": [0, 0, 1, 1], "score": 0.5}]
    with pytest.raises(ValueError, match=r"results: Expected `int` <= 9223372036854775807"):
        evaluate_coco(_gt(), res)
    with pytest.raises(ValueError, match=r"category_id must be an integer \(int64\)"):
        read_coco_results(res, read_coco_gt(_gt()))


@pytest.mark.parametrize("ann_image_id", [1.0, True, "1"])
def test_annotation_image_ids_match_by_value_and_type(ann_image_id):
    # one rule for the reader and evaluate_coco: 1.0, True and "1" are not the image with id 1
    with pytest.raises(ValueError, match="is not in 'images'"):
        read_coco_gt(_gt(ann_image_id=ann_image_id))
    with pytest.raises(ValueError):
        evaluate_coco(_gt(ann_image_id=ann_image_id), [])


def test_string_result_ids_do_not_match_integer_ids():
    gt = read_coco_gt(_gt())
    with pytest.raises(ValueError, match="is not an image of the ground truth"):
        read_coco_results([{"image_id": "01", "category_id": 3, "bbox": [0, 0, 1, 1], "score": 0.5}], gt)


@pytest.mark.parametrize("reader", [read_coco_gt, lambda p: evaluate_coco(p, []),
                                    lambda p: evaluate_coco(_gt(), p)])
def test_deeply_nested_json_is_a_named_error(tmp_path, reader):
    path = tmp_path / "deep.json"
    path.write_text("[" * 200_000 + "]" * 200_000)
    with pytest.raises(ValueError, match="nested too deeply|Expected `object`|Expected `array`|is not valid JSON"):
        reader(path)
