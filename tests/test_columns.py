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
