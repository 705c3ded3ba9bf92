"""The bad-input table of every public function: one garbage value at a time in every argument.

Each public function has a valid call below.  The test replaces one argument at a time by each value of
``GARBAGE`` and requires a ``ValueError`` or ``TypeError`` whose message names that argument (or, for
a value inside a per-image dict, the dict) -- never another exception type, a numba typing error, a
crash, or a silent success.  A completeness test fails when a public function has no entry here, so
the next function added is covered too.
"""

import inspect
import math

import numpy as np
import pytest

import detmetrics as dm
import detmetrics.io as dio
import detmetrics.keypoints as dk
import detmetrics.masks as dmask

BOX = [[0.0, 0.0, 10.0, 10.0], [1.0, 1.0, 9.0, 12.0]]
ROT = [[5.0, 5.0, 10.0, 10.0, 0.0], [6.0, 5.0, 8.0, 10.0, 0.3]]
QUAD = [[[0, 0], [10, 0], [10, 10], [0, 10]], [[1, 1], [9, 1], [9, 9], [1, 9]]]
PRED = [{"boxes": BOX, "scores": [0.9, 0.8], "labels": [1, 2]}]
GT = [{"boxes": BOX, "labels": [1, 2]}]
MASKS = np.zeros((2, 6, 5), dtype=bool)
MASKS[0, 1:3, 1:4] = True
MASKS[1, 2:5, 0:2] = True
KP = np.array([[[1.0, 1.0, 2], [3.0, 3.0, 2]]])
SIGMAS = [0.5, 0.5]


def _rles():
    return dmask.encode(MASKS)


def _gt_data():
    return dio.read_coco_gt({"images": [{"id": 1, "width": 20, "height": 20}], "categories": [{"id": 1}],
                             "annotations": [{"id": 1, "image_id": 1, "category_id": 1, "bbox": [0, 0, 5, 5]}]})


# function -> (valid positional args, valid keyword args, arguments that are not data-checked)
CALLS = {
    dm.average_precision: (([0.5, 1.0], [1.0, 0.5]), {}),
    dm.batched_nms: ((BOX, [0.9, 0.8], [1, 2]), {"iou_threshold": 0.5}),
    dm.box_area: ((BOX,), {}),
    dm.box_iou: ((BOX, BOX), {}),
    dm.complete_box_iou: ((BOX, BOX), {"eps": 1e-7}),
    dm.confusion_matrix: ((PRED, GT), {"num_classes": 3, "conf_threshold": 0.25, "iou_threshold": 0.45}),
    dm.convert_boxes: ((BOX, "xyxy", "xywh"), {}),
    dm.corners_to_rotated: ((QUAD,), {}),
    dm.distance_box_iou: ((BOX, BOX), {"eps": 1e-7}),
    dm.evaluate_coco: (
        ({"images": [{"id": 1}], "categories": [{"id": 1}],
          "annotations": [{"id": 1, "image_id": 1, "category_id": 1, "bbox": [0, 0, 5, 5], "area": 25}]},
         [{"image_id": 1, "category_id": 1, "bbox": [0, 0, 5, 5], "score": 0.5}]),
        {"iou_thresholds": [0.5], "max_detections": (1, 10, 100)}),
    dm.evaluate_columns: (
        ({"image_id": [1, 1], "boxes": BOX, "scores": [0.9, 0.8], "labels": [1, 2]},
         {"image_id": [1, 1], "boxes": BOX, "labels": [1, 2]}),
        {"box_format": "xyxy", "image_ids": [1], "category_ids": [1, 2], "category_names": {1: "a"},
         "iou_thresholds": [0.5]}),
    dm.filter_by_confidence: (([0.9, 0.1], 0.5), {"max_detections": 10}),
    dm.generalized_box_iou: ((BOX, BOX), {}),
    dm.mean_ap: ((PRED, GT), {"iou_thresholds": [0.5, 0.75], "max_detections": (1, 10, 100),
                              "interpolation": "coco", "matching": "coco", "category_ids": [1, 2],
                              "iou_type": "bbox", "protocol": "coco", "iou_test": ">=", "box_plus_one": False,
                              "crowd": "ignore", "difficult": "ignore", "image_budget": 300}),
    dm.explain_gap: ((PRED, GT), {"from_protocol": "ultralytics", "to_protocol": "coco"}),
    dm.error_breakdown: ((PRED, GT), {"fg_iou": 0.5, "bg_iou": 0.1, "max_detections": 100, "box_format": "xyxy"}),
    dm.error_breakdown_coco: (
        ({"images": [{"id": 1}], "categories": [{"id": 1}],
          "annotations": [{"id": 1, "image_id": 1, "category_id": 1, "bbox": [0, 0, 5, 5]}]},
         [{"image_id": 1, "category_id": 1, "bbox": [0, 0, 5, 5], "score": 0.5}]),
        {"fg_iou": 0.5, "bg_iou": 0.1, "max_detections": 100}),
    dm.nms: ((BOX, [0.9, 0.8]), {"iou_threshold": 0.5}),
    dm.normalize_rotated: ((ROT,), {}),
    dm.polygon_iou: ((QUAD, QUAD), {}),
    dm.rotated_iou: ((ROT, ROT), {}),
    dm.rotated_to_corners: ((ROT,), {}),
    dm.rotated_to_degrees: ((ROT,), {}),
    dm.rotated_to_radians: ((ROT,), {}),
    dm.soft_nms: ((BOX, [0.9, 0.8]), {"sigma": 0.5, "iou_threshold": 0.3, "score_threshold": 0.001}),
    dmask.area: ((_rles,), {}),
    dmask.batched_nms: ((MASKS, [0.9, 0.8], [1, 1]), {"iou_threshold": 0.5}),
    dmask.decode: ((_rles,), {}),
    dmask.encode: ((MASKS,), {}),
    dmask.from_boxes: (([[0, 0, 2, 2]], 6, 5), {}),
    dmask.from_polygons: (([[[0, 0, 4, 0, 4, 4]]], 6, 5), {}),
    dmask.iou: ((_rles, _rles), {"iscrowd": [0, 0]}),
    dmask.merge: ((_rles,), {}),
    dmask.nms: ((MASKS, [0.9, 0.8]), {"iou_threshold": 0.5}),
    dmask.to_bbox: ((_rles,), {}),
    dk.oks: ((KP, KP, [10.0], [[0, 0, 4, 4]]), {"sigmas": SIGMAS}),
    dio.read_coco_gt: (({"images": [{"id": 1}], "categories": [{"id": 1}], "annotations": []},), {}),
    dio.read_coco_results: (([{"image_id": 1, "category_id": 1, "bbox": [0, 0, 1, 1], "score": 0.5}], _gt_data),
                            {}),
    dio.sample_path: (("yolo",), {}),
}

# called with files and folders: their bad input is the files' content (tests/test_cli_fuzz.py,
# tests/test_io.py); here only the path and type checks
FILE_FUNCTIONS = {
    dio.write_coco_gt, dio.write_coco_results, dio.read_yolo_dataset, dio.read_yolo_predictions,
    dio.write_yolo_labels, dio.write_yolo_predictions, dio.read_sizes_file, dio.read_image_size,
    dio.load_ground_truth, dio.load_predictions, dio.evaluate_files, dm.evaluate_files, dio.write_data_yaml,
    # PASCAL VOC, DOTA, CVAT, LabelMe and conversion: tests/test_readers.py, tests/test_convert.py
    dio.read_voc, dio.write_voc, dio.read_dota, dio.read_dota_results, dio.write_dota, dio.write_dota_results,
    dio.read_cvat, dio.read_labelme, dio.detect_format, dio.convert, dio.convert_predictions, dio.write_voc_results,
}

GARBAGE = [
    None,
    "x",
    object(),
    {"a": 1},
    math.nan,
    -1,
    2**70,
    [[1, 2], [3]],
    np.zeros((2, 3, 4, 5)),
    np.array([1 + 2j]),
    np.array(["a", "b"]),
]

# (function, argument): garbage values that are valid there
NONE_IS_DEFAULT = (None,)
HUGE_IS_FINE = (2**70,)  # a finite positive number (no bound applies)
VALID = {
    ("mean_ap", "iou_thresholds"): NONE_IS_DEFAULT,
    ("mean_ap", "max_detections"): NONE_IS_DEFAULT,  # the protocol's own budget
    ("evaluate_coco", "max_detections"): NONE_IS_DEFAULT,
    ("mean_ap", "category_ids"): NONE_IS_DEFAULT,
    ("evaluate_coco", "iou_thresholds"): NONE_IS_DEFAULT,
    ("mean_ap", "sigmas"): NONE_IS_DEFAULT,  # COCO's 17
    # None: the protocol's own switch
    **{("mean_ap", k): NONE_IS_DEFAULT for k in ("interpolation", "matching", "iou_test", "box_plus_one", "crowd",
                                               "difficult", "image_budget")},
    ("evaluate_coco", "sigmas"): NONE_IS_DEFAULT,
    ("evaluate_columns", "box_format"): NONE_IS_DEFAULT,
    ("evaluate_columns", "image_ids"): NONE_IS_DEFAULT,
    ("evaluate_columns", "category_ids"): NONE_IS_DEFAULT,
    ("evaluate_columns", "category_names"): NONE_IS_DEFAULT,
    ("evaluate_columns", "iou_thresholds"): NONE_IS_DEFAULT,
    ("confusion_matrix", "num_classes"): NONE_IS_DEFAULT,
    ("filter_by_confidence", "max_detections"): NONE_IS_DEFAULT,
    ("error_breakdown", "max_detections"): (None, 2**70),  # every detection
    ("error_breakdown_coco", "max_detections"): (None, 2**70),
    ("filter_by_confidence", "min_score"): (-1, 2**70),  # scores are any real numbers, not only [0, 1]
    ("iou", "iscrowd"): NONE_IS_DEFAULT,
    ("soft_nms", "sigma"): HUGE_IS_FINE,
    ("soft_nms", "score_threshold"): HUGE_IS_FINE,
    ("complete_box_iou", "eps"): HUGE_IS_FINE,
    ("distance_box_iou", "eps"): HUGE_IS_FINE,
}


def _public_functions():
    for module in (dm, dio, dmask, dk):
        for name in module.__all__:
            obj = getattr(module, name)
            if inspect.isfunction(obj):
                yield obj


def test_every_public_function_has_a_bad_input_row():
    missing = [f"{f.__module__}.{f.__name__}" for f in _public_functions() if f not in CALLS and f not in FILE_FUNCTIONS]
    assert not missing, f"add a valid call for {missing} to CALLS"


def _materialise(value):
    return value() if callable(value) and getattr(value, "__name__", "").startswith("_") else value


def _cases():
    for func, (args, kwargs) in CALLS.items():
        names = list(inspect.signature(func).parameters)
        for i in range(len(args)):
            for j, garbage in enumerate(GARBAGE):
                yield pytest.param(func, args, kwargs, i, garbage, id=f"{func.__module__}.{func.__name__}-{names[i]}-{j}")
        for key in kwargs:
            for j, garbage in enumerate(GARBAGE):
                yield pytest.param(func, args, kwargs, key, garbage, id=f"{func.__module__}.{func.__name__}-{key}-{j}")


def test_valid_calls_are_valid():
    for func, (args, kwargs) in CALLS.items():
        func(*[_materialise(a) for a in args], **kwargs)


@pytest.mark.parametrize("func, args, kwargs, where, garbage", list(_cases()))
def test_one_bad_argument_is_a_named_error(func, args, kwargs, where, garbage):
    args = [_materialise(a) for a in args]
    kwargs = dict(kwargs)
    names = list(inspect.signature(func).parameters)
    if isinstance(where, int):
        args[where] = garbage
        name = names[where]
    else:
        kwargs[where] = garbage
        name = where
    try:
        func(*args, **kwargs)
    except (ValueError, TypeError) as exc:
        message = str(exc)
        assert type(exc).__module__ in ("builtins",), f"{type(exc).__module__}.{type(exc).__name__}: {message}"
        assert "Traceback" not in message and message, message
        assert name in message or _names_container(name, message), f"{name!r} not named in: {message}"
        return
    if any(garbage is v or (type(garbage) is type(v) and garbage == v) for v in VALID.get((func.__name__, name), ())):
        return
    pytest.fail(f"{func.__name__}({name}={garbage!r:.60}) was accepted")


def _names_container(name, message):
    # per-image dicts are named by position ("predictions[0]['boxes']"); readers name the source
    aliases = {"rles": ("rles", "masks"), "rles1": ("rles1",), "rles2": ("rles2",), "source": ("ground truth", "results"),
               "ground_truth": ("ground_truth", "ground truth"), "src": ("src", "box_format"),
               "dst": ("dst", "box_format"), "polygons": ("polygons", "polygon"), "masks": ("masks",)}
    return any(a in message for a in aliases.get(name, ()))


# ---------------------------------------------------------------- methods of the result and the Evaluator
def _result():
    return dm.mean_ap(PRED, GT, backend="numpy")


# method name -> (valid positional args, valid keyword args)
METHODS = {
    "best_f1": ((), {"iou_threshold": 0.5}),
    "ultralytics_operating_point": ((), {"iou_threshold": 0.5}),
    "precision_recall_f1": ((0.5,), {"iou_threshold": 0.5}),
    "pr_curve": ((1,), {"iou_threshold": 0.5}),
    "per_class_table": ((), {"iou_threshold": 0.5, "conf": 0.5}),
    "to_pandas": ((), {"iou_threshold": 0.5, "conf": 0.5}),
}
METHOD_VALID = {("pr_curve", "category_id"): NONE_IS_DEFAULT,
                ("precision_recall_f1", "score_threshold"): (-1, 2**70),  # scores are any real numbers
                ("per_class_table", "conf"): (None, -1, 2**70), ("to_pandas", "conf"): (None, -1, 2**70)}


def test_every_public_result_method_has_a_row():
    public = {n for n, v in vars(dm.EvaluationResult).items() if inspect.isfunction(v) and not n.startswith("_")}
    assert public - set(METHODS) <= {"summary", "to_dict", "from_accumulation"}


@pytest.mark.parametrize("method", sorted(METHODS))
@pytest.mark.parametrize("garbage", GARBAGE, ids=range(len(GARBAGE)))
def test_result_methods_name_bad_arguments(method, garbage):
    result = _result()
    args, kwargs = METHODS[method]
    for where in list(range(len(args))) + list(kwargs):
        a, k = list(args), dict(kwargs)
        if isinstance(where, int):
            a[where] = garbage
            name = list(inspect.signature(getattr(dm.EvaluationResult, method)).parameters)[1 + where]
        else:
            k[where] = garbage
            name = where
        try:
            getattr(result, method)(*a, **k)
        except (ValueError, TypeError) as exc:
            assert name in str(exc), f"{name!r} not named in: {exc}"
            continue
        if any(garbage is v or (type(garbage) is type(v) and garbage == v) for v in METHOD_VALID.get((method, name), ())):
            continue
        pytest.fail(f"{method}({name}={garbage!r:.60}) was accepted")


@pytest.mark.parametrize("garbage", GARBAGE, ids=range(len(GARBAGE)))
def test_evaluator_update_names_bad_arguments(garbage):
    for where in ("predictions", "ground_truths", "image_ids"):
        e = dm.Evaluator(backend="numpy")
        call = {"predictions": PRED, "ground_truths": GT, "image_ids": [7]}
        call[where] = garbage
        try:
            e.update(**call)
            e.compute()
        except (ValueError, TypeError) as exc:
            assert where in str(exc) or where.rstrip("s") in str(exc), f"{where!r} not named in: {exc}"
            continue
        if where == "image_ids" and (garbage is None or garbage == -1):
            continue  # None: numbered by position; -1: the id of the one image
        pytest.fail(f"Evaluator.update({where}={garbage!r:.60}) was accepted")
