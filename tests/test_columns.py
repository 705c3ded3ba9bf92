"""The one-pass reader of in-memory COCO results and the columnar entry point ``evaluate_columns``.

Both must give exactly what the typed JSON path gives (which the oracle tests hold equal to
pycocotools), and every input the typed path rejects must still be rejected with its message.
"""

from __future__ import annotations

import copy

import msgspec
import numpy as np
import pytest

from detmetrics import evaluate_coco
from detmetrics.io._coco_decode import _result_dict_columns, load_ground_truth, load_results

from coco_generator import make_coco_dataset, run_pycocotools


def _same(a, b):
    assert np.array_equal(np.asarray(a.stats), np.asarray(b.stats))
    assert np.array_equal(a.precision, b.precision)
    assert np.array_equal(a.recall, b.recall)
    assert np.array_equal(a.scores, b.scores)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_dict_fast_path_equals_json_path(seed):
    gt, res = make_coco_dataset(seed)
    assert _result_dict_columns(res) is not None  # the fast path is taken
    from_json = evaluate_coco(msgspec.json.encode(gt), msgspec.json.encode(res), backend="numpy")
    _same(evaluate_coco(gt, res, backend="numpy"), from_json)


def test_dict_fast_path_reads_numpy_scalars():
    gt, res = make_coco_dataset(3)
    np_res = [{"image_id": np.int64(r["image_id"]), "category_id": np.int32(r["category_id"]),
               "bbox": [np.float32(v) for v in r["bbox"]], "score": np.float32(r["score"])} for r in res]
    assert _result_dict_columns(np_res) is not None
    plain = [{"image_id": r["image_id"], "category_id": r["category_id"], "bbox": [float(np.float32(v))
              for v in r["bbox"]], "score": float(np.float32(r["score"]))} for r in res]
    _same(evaluate_coco(gt, np_res, backend="numpy"), evaluate_coco(gt, plain, backend="numpy"))


@pytest.mark.parametrize("field, value, message", [
    ("image_id", 1.5, "Expected `int`"),
    ("image_id", "1", "Expected `int`"),
    ("image_id", True, "Expected `int`"),
    ("category_id", 2.0, "Expected `int`"),
    ("score", "0.5", "Expected `float`"),
    ("score", True, "Expected `float`"),
    ("score", None, "Expected `float`"),
    ("bbox", [0, 0, 1], "length 4"),
    ("bbox", [0, 0, 1, "2"], "Expected `float`"),
    ("bbox", {"x": 1}, "Expected `array`"),
    ("image_id", 2**63, "int"),
])
def test_dict_fast_path_rejects_what_the_typed_path_rejects(field, value, message):
    gt, res = make_coco_dataset(0, n_images=5)
    res = copy.deepcopy(res)
    res[1][field] = value
    assert _result_dict_columns(res) is None
    with pytest.raises(ValueError, match=message):
        load_results(res, load_ground_truth(gt))


def test_dict_fast_path_missing_field_and_unknown_image():
    gt, res = make_coco_dataset(0, n_images=5)
    missing = copy.deepcopy(res)
    del missing[2]["score"]
    with pytest.raises(ValueError, match="score"):
        load_results(missing, load_ground_truth(gt))
    unknown = copy.deepcopy(res)
    unknown[2]["image_id"] = 10**9
    with pytest.raises(ValueError, match=r"\[2\]\.image_id 1000000000 is not an image"):
        load_results(unknown, load_ground_truth(gt))
    nan = copy.deepcopy(res)
    nan[2]["score"] = float("nan")
    with pytest.raises(ValueError, match=r"\[2\]\.score must be finite"):
        load_results(nan, load_ground_truth(gt))


def test_dict_fast_path_matches_pycocotools():
    gt, res = make_coco_dataset(4)
    stats = run_pycocotools(*copy.deepcopy((gt, res)))[0]
    np.testing.assert_allclose(evaluate_coco(gt, res).stats, stats, rtol=0, atol=1e-12)


# ------------------------------------------------------------------ evaluate_columns


def _columns(gt, res):
    """COCO JSON form -> (detection columns, ground-truth columns) as flat arrays (xywh)."""
    dets = {"image_id": np.array([r["image_id"] for r in res], dtype=np.int64),
            "bbox": np.array([r["bbox"] for r in res], dtype=np.float64).reshape(-1, 4),
            "score": np.array([r["score"] for r in res], dtype=np.float64),
            "category_id": np.array([r["category_id"] for r in res], dtype=np.int64)}
    anns = gt["annotations"]
    gts = {"image_id": np.array([a["image_id"] for a in anns], dtype=np.int64),
           "bbox": np.array([a["bbox"] for a in anns], dtype=np.float64).reshape(-1, 4),
           "category_id": np.array([a["category_id"] for a in anns], dtype=np.int64),
           "iscrowd": np.array([int(a.get("iscrowd", 0)) for a in anns]),
           "area": np.array([a["area"] for a in anns], dtype=np.float64)}
    return dets, gts


def _coco_kwargs(gt):
    return dict(image_ids=[im["id"] for im in gt["images"]], category_ids=[c["id"] for c in gt["categories"]])


@pytest.mark.parametrize("seed", [0, 1, 5])
@pytest.mark.parametrize("backend", ["numba", "numpy"])
def test_evaluate_columns_equals_evaluate_coco(seed, backend):
    from detmetrics import evaluate_columns

    gt, res = make_coco_dataset(seed)
    if any(a["id"] == 0 for a in gt["annotations"]):  # columns carry no annotation id
        for a in gt["annotations"]:
            a["id"] += 1
    dets, gts = _columns(gt, res)
    _same(evaluate_columns(dets, gts, backend=backend, **_coco_kwargs(gt)), evaluate_coco(gt, res, backend=backend))


def test_evaluate_columns_matches_pycocotools():
    from detmetrics import evaluate_columns

    gt, res = make_coco_dataset(7)
    for a in gt["annotations"]:
        a["id"] += 1
    stats = run_pycocotools(*copy.deepcopy((gt, res)))[0]
    dets, gts = _columns(gt, res)
    np.testing.assert_allclose(evaluate_columns(dets, gts, **_coco_kwargs(gt)).stats, stats, rtol=0, atol=1e-12)


def test_evaluate_columns_xyxy_equals_mean_ap():
    from detmetrics import evaluate_columns, mean_ap

    from coco_generator import to_mean_ap

    gt, res = make_coco_dataset(2)
    for a in gt["annotations"]:
        a["id"] += 1
    preds, gts_list, ids = to_mean_ap(gt, res)
    dets = {"image_id": np.concatenate([np.full(len(p["scores"]), i) for p, i in zip(preds, ids)]),
            "boxes": np.concatenate([p["boxes"] for p in preds]), "scores": np.concatenate([p["scores"] for p in preds]),
            "labels": np.concatenate([p["labels"] for p in preds])}
    gts = {"image_id": np.concatenate([np.full(len(g["labels"]), i) for g, i in zip(gts_list, ids)]),
           "boxes": np.concatenate([g["boxes"] for g in gts_list]),
           "labels": np.concatenate([g["labels"] for g in gts_list]),
           "iscrowd": np.concatenate([g["iscrowd"] for g in gts_list]),
           "area": np.concatenate([g["area"] for g in gts_list])}
    # boxes given as xywh and named "boxes": the format must then be said
    _same(evaluate_columns(dets, gts, box_format="xywh"), mean_ap(preds, gts_list, box_format="xywh"))
    for table in (dets, gts):
        b = table["boxes"]
        table["boxes"] = np.concatenate([b[:, :2], b[:, :2] + b[:, 2:]], axis=1)
    _same(evaluate_columns(dets, gts), mean_ap([dict(p, boxes=np.concatenate(
        [p["boxes"][:, :2], p["boxes"][:, :2] + p["boxes"][:, 2:]], axis=1)) for p in preds], [dict(g, boxes=np.concatenate(
            [g["boxes"][:, :2], g["boxes"][:, :2] + g["boxes"][:, 2:]], axis=1)) for g in gts_list]))


def test_evaluate_columns_pandas_and_pyarrow():
    pd = pytest.importorskip("pandas")
    pa = pytest.importorskip("pyarrow")
    from detmetrics import evaluate_columns

    gt, res = make_coco_dataset(3)
    for a in gt["annotations"]:
        a["id"] += 1
    expected = evaluate_coco(gt, res)
    kw = _coco_kwargs(gt)
    frame_d = pd.DataFrame(res)  # COCO's columns, bbox a column of lists
    frame_g = pd.DataFrame(gt["annotations"])
    _same(evaluate_columns(frame_d, frame_g, **kw), expected)
    _same(evaluate_columns(pa.Table.from_pandas(frame_d), pa.Table.from_pandas(frame_g), **kw), expected)
    dets, gts = _columns(gt, res)
    fixed = {k: (pa.FixedSizeListArray.from_arrays(pa.array(v.reshape(-1)), 4) if v.ndim == 2 else pa.array(v))
             for k, v in dets.items()}
    _same(evaluate_columns(pa.table(fixed), pa.Table.from_pandas(frame_g), **kw), expected)


def test_evaluate_columns_string_ids_and_empty():
    from detmetrics import evaluate_columns

    gts = {"image_id": ["b", "a"], "boxes": [[0, 0, 10, 10], [0, 0, 5, 5]], "labels": [1, 1]}
    dets = {"image_id": ["a"], "boxes": [[0, 0, 5, 5]], "scores": [0.5], "labels": [1]}
    r = evaluate_columns(dets, gts)
    assert 0 < r.map < 1
    empty = {"image_id": np.zeros(0, np.int64), "boxes": np.zeros((0, 4)), "scores": np.zeros(0),
             "labels": np.zeros(0, np.int64)}
    assert evaluate_columns(empty, {"image_id": [1], "boxes": [[0, 0, 1, 1]], "labels": [1]}).map == 0.0


@pytest.mark.parametrize("change, message", [
    (lambda d, g: d.update(scores=[0.5, float("nan")]), r"scores.*\[1\] must be finite"),
    (lambda d, g: d.update(boxes=[[0, 0, 1, 1], [5, 5, 4, 4]]), "boxes"),
    (lambda d, g: d.update(labels=[1]), "labels has 1 rows but detections image_id has 2"),
    (lambda d, g: d.pop("scores"), "detections has no 'scores' or 'score' column"),
    (lambda d, g: d.update(image_id=[1, 7]), "row 1 has image_id 7, which is not in image_ids"),
    (lambda d, g: g.update(labels=[9]), "row 0 has label 9, which is not in category_ids"),
    (lambda d, g: d.update(labels=[1.5, 1]), "labels"),
])
def test_evaluate_columns_bad_input(change, message):
    from detmetrics import evaluate_columns

    dets = {"image_id": [1, 1], "boxes": [[0, 0, 1, 1], [2, 2, 3, 3]], "scores": [0.5, 0.4], "labels": [1, 1]}
    gts = {"image_id": [1], "boxes": [[0, 0, 1, 1]], "labels": [1]}
    change(dets, gts)
    with pytest.raises((ValueError, TypeError), match=message):
        evaluate_columns(dets, gts, image_ids=[1], category_ids=[1])


def test_evaluate_columns_ignores_detections_of_unlisted_categories():
    from detmetrics import evaluate_columns

    gts = {"image_id": [1], "boxes": [[0, 0, 10, 10]], "labels": [1]}
    dets = {"image_id": [1, 1], "boxes": [[0, 0, 10, 10], [0, 0, 10, 10]], "scores": [0.5, 0.9], "labels": [1, 2]}
    r = evaluate_columns(dets, gts, category_ids=[1])
    assert list(r.category_ids) == [1] and r.map > 0.99
