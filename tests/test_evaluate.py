"""detmetrics.evaluate: mean_ap / evaluate_coco / EvaluationResult.

A small pycocotools comparison of our own (the full oracle suite is
tests/test_coco_oracle.py), backends agree, invariants, hand-computed VOC
cases, the F1 helpers, and one bad-input table.
"""

import json
import pickle

import numpy as np
import pytest
from hypothesis import assume, example, given, settings
from hypothesis import strategies as st
from numpy.testing import assert_allclose

from detmetrics import EvaluationResult, evaluate_coco, mean_ap
from detmetrics.strategies import detection_datasets

from _support import BACKENDS, pycocotools_eval


def _coco_json(predictions, ground_truths):
    """Per-image dicts (xywh) -> COCO JSON form, image i has id i + 1."""
    images = [{"id": i + 1} for i in range(len(ground_truths))]
    labels = sorted({int(x) for g in ground_truths for x in g["labels"]} | {int(x) for p in predictions for x in p["labels"]})
    anns, results = [], []
    for i, (p, g) in enumerate(zip(predictions, ground_truths)):
        for b, lab, crowd, area in zip(np.asarray(g["boxes"]).reshape(-1, 4), g["labels"], g["iscrowd"], g["area"]):
            anns.append({"id": len(anns) + 1, "image_id": i + 1, "category_id": int(lab), "bbox": [float(v) for v in b],
                         "iscrowd": int(crowd), "area": float(area)})
        for b, s, lab in zip(np.asarray(p["boxes"]).reshape(-1, 4), p["scores"], p["labels"]):
            results.append({"image_id": i + 1, "category_id": int(lab), "bbox": [float(v) for v in b], "score": float(s)})
    return {"images": images, "categories": [{"id": c, "name": str(c)} for c in labels], "annotations": anns}, results


def _pycocotools(gt, results):
    return pycocotools_eval(gt, results)


datasets = detection_datasets(labels=(3, 7, 11), max_images=5, max_side=40, box_format="xywh")


@settings(deadline=None, max_examples=25)
@given(datasets)
def test_mean_ap_equals_pycocotools(data):
    predictions, ground_truths = data
    gt, results = _coco_json(predictions, ground_truths)
    assume(results and gt["categories"])
    ev, _ = _pycocotools(gt, results)
    for backend in BACKENDS:
        for r in (mean_ap(predictions, ground_truths, box_format="xywh", backend=backend),
                  evaluate_coco(gt, results, backend=backend)):
            assert r.category_ids == sorted(c["id"] for c in gt["categories"])
            assert_allclose(r.stats, ev.stats, rtol=0, atol=1e-12)
            assert_allclose(r.precision, ev.eval["precision"], rtol=0, atol=1e-12)
            assert_allclose(r.recall, ev.eval["recall"], rtol=0, atol=1e-12)
            assert_allclose(r.scores, ev.eval["scores"], rtol=0, atol=1e-12)


def test_summary_lines_equal_pycocotools():
    predictions = [{"boxes": [[0, 0, 10, 10], [50, 50, 100, 100]], "scores": [0.9, 0.4], "labels": [1, 2]},
                   {"boxes": [[0, 0, 40, 40]], "scores": [0.7], "labels": [1]}]
    ground_truths = [{"boxes": [[0, 0, 10, 10], [50, 50, 100, 100]], "labels": [1, 2], "iscrowd": [0, 0],
                      "area": [100.0, 10000.0]},
                     {"boxes": [[0, 0, 40, 50]], "labels": [1], "iscrowd": [0], "area": [2000.0]}]
    gt, results = _coco_json(predictions, ground_truths)
    _, text = _pycocotools(gt, results)
    expected = [line for line in text.splitlines() if line.startswith(" Average")]
    r = mean_ap(predictions, ground_truths, box_format="xywh")
    assert r.summary().splitlines() == expected


@settings(deadline=None, max_examples=30)
@given(detection_datasets(max_images=5), st.randoms(use_true_random=False))
def test_backends_agree(data, rnd):
    predictions, ground_truths = data
    interpolation = rnd.choice(["coco", "voc11", "voc"])
    results = [mean_ap(predictions, ground_truths, interpolation=interpolation, backend=b) for b in BACKENDS]
    for r in results[1:]:
        assert r.category_ids == results[0].category_ids
        for name in ("stats", "precision", "recall", "scores", "ap"):
            assert_allclose(getattr(r, name), getattr(results[0], name), rtol=0, atol=1e-9)


def _distinct_scores(predictions):
    out, k = [], 0
    for p in predictions:
        n = len(p["scores"])
        out.append({**p, "scores": 1.0 - (np.arange(n) + k) / 1000.0})
        k += n
    return out


@settings(deadline=None, max_examples=30)
@given(detection_datasets(max_images=5), st.randoms(use_true_random=False))
def test_permutations_with_distinct_scores(data, rnd):
    predictions, ground_truths = data
    predictions = _distinct_scores(predictions)
    base = mean_ap(predictions, ground_truths)
    perm = list(range(len(predictions)))
    rnd.shuffle(perm)
    shuffled_p = []
    for i in perm:  # permute images, and the detections inside each image
        p = predictions[i]
        order = list(range(len(p["scores"])))
        rnd.shuffle(order)
        shuffled_p.append({k: np.asarray(v)[order] for k, v in p.items()})
    r = mean_ap(shuffled_p, [ground_truths[i] for i in perm])
    assert_allclose(r.stats, base.stats, rtol=0, atol=1e-12)
    assert_allclose(r.precision, base.precision, rtol=0, atol=1e-12)


@settings(deadline=None, max_examples=30)
@given(detection_datasets(max_images=5, crowd=False))
def test_perfect_and_missing_detections(data):
    _, ground_truths = data
    # zero-area boxes have IoU 0 even with themselves (pycocotools): leave them out
    keep = [(np.asarray(g["boxes"])[:, 2] > np.asarray(g["boxes"])[:, 0])
            & (np.asarray(g["boxes"])[:, 3] > np.asarray(g["boxes"])[:, 1]) for g in ground_truths]
    ground_truths = [{k: np.asarray(v)[m] for k, v in g.items()} for g, m in zip(ground_truths, keep)]
    perfect = [{"boxes": g["boxes"], "scores": np.ones(len(g["labels"])), "labels": g["labels"]} for g in ground_truths]
    nothing = [{"boxes": np.zeros((0, 4)), "scores": [], "labels": []} for _ in ground_truths]
    has_gt = any(len(g["labels"]) for g in ground_truths)
    r = mean_ap(perfect, ground_truths)
    r0 = mean_ap(nothing, ground_truths)
    if has_gt:
        # every category with ground truth: AP 1 at every threshold (up to pycocotools' eps)
        assert r.map == pytest.approx(1.0, abs=1e-12)
        assert r0.map == 0.0 and r0.mar_100 == 0.0
    else:
        assert r.map == -1.0 and r0.map == -1.0


def test_voc_modes_hand_computed():
    # one image, 3 ground truths; detections TP, FP, TP, FP, TP by decreasing score (IoU 1 or 0)
    gts = [{"boxes": [[0, 0, 10, 10], [20, 0, 30, 10], [40, 0, 50, 10]], "labels": [0, 0, 0]}]
    preds = [{"boxes": [[0, 0, 10, 10], [100, 100, 110, 110], [20, 0, 30, 10], [200, 0, 210, 10], [40, 0, 50, 10]],
              "scores": [0.9, 0.8, 0.7, 0.6, 0.5], "labels": [0] * 5}]
    voc = mean_ap(preds, gts, iou_thresholds=[0.5], interpolation="voc")
    voc11 = mean_ap(preds, gts, iou_thresholds=[0.5], interpolation="voc11")
    assert voc.map == pytest.approx((1 + 2 / 3 + 3 / 5) / 3, abs=1e-12)
    assert voc11.map == pytest.approx((4 * 1.0 + 3 * (2 / 3) + 4 * 0.6) / 11, abs=1e-12)
    assert voc11.precision.shape[1] == 11 and voc.precision.shape[1] == 101
    assert voc.per_class[0]["ap"] == pytest.approx(voc.map)


def test_max_detections_headline_uses_largest():
    gts = [{"boxes": [[0, 0, 10, 10], [20, 0, 30, 10]], "labels": [0, 0]}]
    preds = [{"boxes": [[0, 0, 10, 10], [20, 0, 30, 10]], "scores": [0.9, 0.8], "labels": [0, 0]}]
    r = mean_ap(preds, gts, max_detections=(1, 2))
    assert r.map == pytest.approx(1.0, abs=1e-12)  # pycocotools' stats[0] would be -1 (maxDets=100 hard-coded)
    assert r.mar_1 == 0.5 and r.mar_2 == 1.0  # recall fields are named by the budget actually used
    assert r.stat_names[6:9] == ("mar_1", "mar_2", "mar_2") and r.stats[7] == r.stats[8] == 1.0
    assert "maxDets=  2" in r.summary().splitlines()[0]


def test_custom_area_ranges_get_all():
    gts = [{"boxes": [[0, 0, 10, 10]], "labels": [0]}]
    preds = [{"boxes": [[0, 0, 10, 10]], "scores": [0.9], "labels": [0]}]
    r = mean_ap(preds, gts, area_ranges={"tiny": (0, 50), "big": (50, 1e10)})
    assert list(r.area_ranges) == ["all", "tiny", "big"]
    assert r.precision.shape[3] == 3
    assert r.map_small == -1.0  # no range named "small"


def test_rotated_boxes_axis_aligned_equal_xywh():
    gts = [{"boxes": [[5, 5, 10, 10, 0], [30, 30, 20, 10, 0]], "labels": [0, 1]}]
    preds = [{"boxes": [[6, 5, 10, 10, 0], [30, 31, 20, 10, 0], [80, 80, 4, 4, 0]], "scores": [0.9, 0.8, 0.3],
              "labels": [0, 1, 1]}]
    rot = mean_ap(preds, gts)
    aa = mean_ap([{**preds[0], "boxes": np.asarray(preds[0]["boxes"])[:, :4]}],
                 [{**gts[0], "boxes": np.asarray(gts[0]["boxes"])[:, :4]}], box_format="cxcywh")
    assert_allclose(rot.stats, aa.stats, atol=1e-9)


def test_result_helpers():
    gts = [{"boxes": [[0, 0, 10, 10], [20, 0, 30, 10]], "labels": [1, 1]},
           {"boxes": [[0, 0, 10, 10]], "labels": [2]}]
    preds = [{"boxes": [[0, 0, 10, 10], [50, 50, 60, 60], [20, 0, 30, 10]], "scores": [0.9, 0.8, 0.3],
              "labels": [1, 1, 1]},
             {"boxes": [[0, 0, 10, 10], [40, 40, 50, 50]], "scores": [0.6, 0.95], "labels": [2, 3]}]
    r = mean_ap(preds, gts)
    assert r.category_ids == [1, 2, 3]
    assert r.per_class[3]["ap"] == -1.0 and r.per_class[3]["n_gt"] == 0 and r.per_class[3]["n_det"] == 1
    assert r.per_class[1]["n_gt"] == 2 and r.per_class[1]["n_det"] == 3
    curve = r.pr_curve(1)
    assert curve["scores"].tolist() == [0.9, 0.8, 0.3]
    assert curve["precision"].tolist() == [1.0, 0.5, 2 / 3]
    assert curve["recall"].tolist() == [0.5, 0.5, 1.0]
    best = r.best_f1()
    assert best[1]["score_threshold"] == 0.3 and best[1]["f1"] == pytest.approx(0.8)
    assert best[2] == {"score_threshold": 0.6, "precision": 1.0, "recall": 1.0, "f1": 1.0}
    assert 3 not in best  # no ground truth
    pooled = r.pr_curve(None)
    assert pooled["scores"].tolist() == [0.95, 0.9, 0.8, 0.6, 0.3]
    assert pooled["recall"][-1] == 1.0
    prf = r.precision_recall_f1(0.5)
    assert prf[1]["precision"] == 0.5 and prf[1]["recall"] == 0.5
    assert prf["all"]["precision"] == 0.5 and prf["all"]["recall"] == pytest.approx(2 / 3)
    d = r.to_dict()
    json.dumps(d)
    assert d["stats"] == r.stats.tolist() and d["map"] == r.map and set(d["per_class"]) == {"1", "2", "3"}
    assert pickle.loads(pickle.dumps(r)).map == r.map
    assert isinstance(r, EvaluationResult)
    with pytest.raises(ValueError, match="iou_threshold must be one of"):
        r.pr_curve(1, iou_threshold=0.42)
    with pytest.raises(ValueError, match="category_id 9"):
        r.pr_curve(9)


@example(b'[{"image_id": 1, "category_id": 1, "bbox": [0, 0, 1, 1], "score": 0.5}]')
@settings(deadline=None, max_examples=5)
@given(st.just(b"[]"))
def test_evaluate_coco_from_files(tmp_path_factory, raw):
    d = tmp_path_factory.mktemp("coco")
    gt = {"images": [{"id": 1}], "categories": [{"id": 1, "name": "a"}],
          "annotations": [{"id": 1, "image_id": 1, "category_id": 1, "bbox": [0, 0, 1, 1], "iscrowd": 0}]}
    (d / "gt.json").write_text(json.dumps(gt))
    (d / "res.json").write_bytes(raw)
    r = evaluate_coco(d / "gt.json", str(d / "res.json"))
    assert r.map == (0.0 if raw == b"[]" else pytest.approx(1.0, abs=1e-12))
    assert r.category_names == {1: "a"}


GT = {"images": [{"id": 1}], "categories": [{"id": 1}],
      "annotations": [{"id": 1, "image_id": 1, "category_id": 1, "bbox": [0, 0, 1, 1]}]}
RES = {"image_id": 1, "category_id": 1, "bbox": [0, 0, 1, 1], "score": 0.5}
P = {"boxes": [[0, 0, 1, 1]], "scores": [0.5], "labels": [1]}
G = {"boxes": [[0, 0, 1, 1]], "labels": [1]}


@pytest.mark.parametrize("call, exception, match", [
    # evaluate_coco
    (lambda: evaluate_coco(GT, [{**RES, "image_id": 99}]), ValueError, r"\[0\].image_id 99 is not an image"),
    (lambda: evaluate_coco(GT, [{k: v for k, v in RES.items() if k != "score"}]), ValueError, "score"),
    (lambda: evaluate_coco(GT, [{**RES, "bbox": [0, 0, 1]}]), ValueError, "bbox"),
    (lambda: evaluate_coco(GT, [{**RES, "bbox": [0, "a", 1, 1]}]), ValueError, "bbox"),
    (lambda: evaluate_coco(GT, [{**RES, "bbox": [0, float("nan"), 1, 1]}]), ValueError, "NaN"),
    (lambda: evaluate_coco(GT, [{**RES, "bbox": [0, 0, -1, 1]}]), ValueError, "negative width"),
    (lambda: evaluate_coco(GT, [{**RES, "score": float("nan")}]), ValueError, "score must be finite"),
    (lambda: evaluate_coco(GT, b'[{"image_id": 1,'), ValueError, "results is not valid JSON"),
    (lambda: evaluate_coco({"annotations": []}, []), ValueError, "images"),
    (lambda: evaluate_coco("/nonexistent/gt.json", []), ValueError, "does not exist"),
    (lambda: evaluate_coco(42, []), TypeError, "ground_truth must be a path"),
    (lambda: evaluate_coco({**GT, "annotations": GT["annotations"] * 2}, []), ValueError, "duplicate annotation id 1"),
    # mean_ap
    (lambda: mean_ap([P], []), ValueError, "predictions has 1 images but ground_truths has 0"),
    (lambda: mean_ap([{"boxes": [[0, 0, 1, 1]], "labels": [1]}], [G]), ValueError, r"missing key\(s\) \['scores'\]"),
    (lambda: mean_ap([{**P, "masks": 1}], [G]), ValueError, r"unexpected key\(s\) \['masks'\]"),
    (lambda: mean_ap([P], [{**G, "iscrowed": [0]}]), ValueError, "unexpected key"),
    (lambda: mean_ap([{**P, "scores": [0.5, 0.4]}], [G]), ValueError, "same length"),
    (lambda: mean_ap([P], [{**G, "labels": [1, 2]}]), ValueError, "1 boxes but 2 labels"),
    (lambda: mean_ap([{**P, "boxes": [[0, 0, 1]]}], [G]), ValueError, r"predictions\[0\]\['boxes'\] must have shape"),
    (lambda: mean_ap([{**P, "boxes": [[0, "x", 1, 1]]}], [G]), TypeError, "must be numeric"),
    (lambda: mean_ap([{**P, "boxes": [[0, np.nan, 1, 1]]}], [G]), ValueError, "NaN"),
    (lambda: mean_ap([{**P, "boxes": [[2, 0, 1, 1]]}], [G]), ValueError, r"x2 < x1"),
    (lambda: mean_ap([{**P, "scores": [np.inf]}], [G]), ValueError, "scores"),
    (lambda: mean_ap([{**P, "labels": [1.5]}], [G]), ValueError, "integers"),
    (lambda: mean_ap([P], [{**G, "area": [1.0, 2.0]}]), ValueError, "one value per box"),
    (lambda: mean_ap([P], [{**G, "area": [np.nan]}]), ValueError, r"\['area'\] contains NaN"),
    (lambda: mean_ap([P], [{**G, "iscrowd": [np.inf]}]), ValueError, r"\['iscrowd'\] contains NaN"),
    (lambda: mean_ap([P], [{**G, "iscrowd": ["a"]}]), TypeError, "must be numeric"),
    (lambda: mean_ap([P], [{**G, "iscrowd": [2]}]), ValueError, r"\['iscrowd'\] must hold bool or 0/1 flags; got 2"),
    (lambda: mean_ap([P], [{**G, "difficult": [0.5]}]), ValueError, r"\['difficult'\] must hold bool or 0/1"),
    (lambda: mean_ap([{**P, "boxes": [[0, 0, 1, 1, 0]]}], [G]), ValueError, "kind"),
    (lambda: mean_ap(P, G), TypeError, "list of per-image dicts"),
    (lambda: mean_ap([P], ["x"]), TypeError, "must be a dict"),
    # options
    (lambda: mean_ap([P], [G], iou_thresholds=[0.5, 1.5]), ValueError, r"iou_thresholds must be in \[0, 1\]"),
    (lambda: mean_ap([P], [G], iou_thresholds=[]), ValueError, "must not be empty"),
    (lambda: mean_ap([P], [G], max_detections=(10, 1)), ValueError, "strictly increasing"),
    (lambda: mean_ap([P], [G], max_detections=(0, 1)), ValueError, "positive integers"),
    (lambda: mean_ap([P], [G], area_ranges="voc"), ValueError, "area_ranges must be 'coco'"),
    (lambda: mean_ap([P], [G], area_ranges={"a": (5, 1)}), ValueError, "lo <= hi"),
    (lambda: mean_ap([P], [G], interpolation="11point"), ValueError, "interpolation must be one of"),
    (lambda: mean_ap([P], [G], box_format="xyxz"), ValueError, "box_format must be one of"),
    (lambda: mean_ap([P], [G], backend="cuda"), ValueError, "backend must be one of"),
])
def test_bad_input(call, exception, match):
    with pytest.raises(exception, match=match):
        call()


def test_stdlib_json_fallback_without_msgspec(monkeypatch, tmp_path):
    from detmetrics.io import _coco_decode

    gt = {"images": [{"id": 2}, {"id": 1}], "categories": [{"id": 1, "name": "a"}],
          "annotations": [{"id": 1, "image_id": 1, "category_id": 1, "bbox": [0, 0, 10, 10], "area": 100},
                          {"id": 2, "image_id": 2, "category_id": 1, "bbox": [0, 0, 10, 10], "iscrowd": 0}]}
    res = [{"image_id": 1, "category_id": 1, "bbox": [0, 0, 10, 10], "score": 0.9},
           {"image_id": 2, "category_id": 1, "bbox": [5, 5, 10, 10], "score": 0.8}]
    expected = evaluate_coco(gt, res)
    (tmp_path / "gt.json").write_text(json.dumps(gt))
    (tmp_path / "res.json").write_text(json.dumps(res))
    monkeypatch.setattr(_coco_decode, "HAVE_MSGSPEC", False)
    for r in (evaluate_coco(gt, res), evaluate_coco(tmp_path / "gt.json", tmp_path / "res.json")):
        assert_allclose(r.stats, expected.stats, rtol=0, atol=0)
    with pytest.raises(ValueError, match="score"):
        evaluate_coco(gt, [{k: v for k, v in res[0].items() if k != "score"}])
    with pytest.raises(ValueError, match="length 4"):
        evaluate_coco(gt, [{**res[0], "bbox": [0, 0, 1]}])
    with pytest.raises(ValueError, match="not valid JSON"):
        evaluate_coco(gt, b"[{")


@settings(deadline=None, max_examples=20)
@given(detection_datasets(max_images=4, box_format="xywh"))
def test_box_formats_agree(data):
    from detmetrics import convert_boxes

    predictions, ground_truths = data
    base = mean_ap(predictions, ground_truths, box_format="xywh")
    for fmt in ("xyxy", "cxcywh"):
        conv = lambda d: {**d, "boxes": convert_boxes(np.asarray(d["boxes"]).reshape(-1, 4), "xywh", fmt)}
        r = mean_ap([conv(p) for p in predictions], [conv(g) for g in ground_truths], box_format=fmt)
        # coordinates on a grid of halves: the conversions are exact, so are the IoUs
        assert_allclose(r.stats, base.stats, rtol=0, atol=1e-12)


def test_category_ids_adds_empty_categories_and_rejects_unknown_labels():
    import numpy as np
    import pytest

    from detmetrics import mean_ap

    preds = [{"boxes": [[0, 0, 10, 10]], "scores": [0.9], "labels": [3]}]
    gts = [{"boxes": [[0, 0, 10, 10]], "labels": [3]}]
    plain = mean_ap(preds, gts)
    wide = mean_ap(preds, gts, category_ids=[7, 3, 1])
    assert wide.category_ids == [1, 3, 7]
    assert wide.precision.shape[2] == 3
    assert np.all(wide.precision[:, :, [0, 2]] == -1)
    np.testing.assert_array_equal(wide.precision[:, :, 1], plain.precision[:, :, 0])
    assert wide.stats.tolist() == plain.stats.tolist()
    with pytest.raises(ValueError, match="label 3, which is not in category_ids"):
        mean_ap(preds, gts, category_ids=[1, 2])
    with pytest.raises(TypeError, match="category_ids"):
        mean_ap(preds, gts, category_ids=5)


def test_hugepage_hint_is_restored_and_changes_no_number(monkeypatch):
    """Large evaluations run with NumPy's huge-page hint off (speed only): same numbers, hint restored."""
    from detmetrics import evaluate as ev

    setter = ev._hugepage_setter()
    if setter is None:
        pytest.skip("this NumPy has no _set_madvise_hugepage: the hint is left alone")
    gt = {"images": [{"id": 1}, {"id": 2}], "categories": [{"id": 1}],
          "annotations": [{"id": 1, "image_id": 1, "category_id": 1, "bbox": [0, 0, 10, 10], "area": 100},
                          {"id": 2, "image_id": 2, "category_id": 1, "bbox": [5, 5, 10, 20], "area": 200}]}
    res = [{"image_id": 1, "category_id": 1, "bbox": [0.5, 0, 10, 10], "score": 0.9},
           {"image_id": 2, "category_id": 1, "bbox": [5, 5, 10, 12], "score": 0.4}]
    before = setter(True)
    try:
        plain = evaluate_coco(gt, res, backend="numpy")
        seen = []
        real_match = ev.match_and_accumulate

        def spy(*args, **kwargs):
            seen.append(setter(False))  # the hint as the evaluation sees it (and keeps it off)
            return real_match(*args, **kwargs)

        monkeypatch.setattr(ev, "_NO_HUGEPAGE_ROWS", 1)
        monkeypatch.setattr(ev, "match_and_accumulate", spy)
        hinted = evaluate_coco(gt, res, backend="numpy")
        assert seen == [False]
        assert setter(True) is True  # restored after the call
        assert np.array_equal(plain.stats, hinted.stats)
    finally:
        setter(before)


# -------------------------------------------- ground truth read in chunks of annotations


def _many_annotations(n, rng):
    images = [{"id": i} for i in range(1, 400)]
    anns = []
    for k in range(n):
        ann = {"id": int(k * 3 + 1), "image_id": int(rng.integers(1, 400)), "category_id": int(rng.integers(1, 4)),
               "bbox": [float(v) for v in np.round(rng.uniform(0, 50, 4), 2)], "iscrowd": int(rng.random() < 0.05)}
        if rng.random() < 0.7:
            ann["area"] = float(np.round(rng.uniform(1, 2000), 3))
        anns.append(ann)
    return {"images": images, "categories": [{"id": c} for c in (1, 2, 3)], "annotations": anns}


def test_ground_truth_columns_across_chunks_equal_the_annotations():
    # more annotations than one round of field passes reads (_FIELD_CHUNK): every column, in order
    from detmetrics.io._coco_decode import _FIELD_CHUNK, load_ground_truth

    rng = np.random.default_rng(7)
    gt = _many_annotations(2 * _FIELD_CHUNK + 123, rng)
    anns = gt["annotations"]
    for source in (gt, json.dumps(gt).encode()):
        cols = load_ground_truth(source)
        assert cols.image_index.tolist() == [a["image_id"] - 1 for a in anns]
        assert cols.category.tolist() == [a["category_id"] for a in anns]
        assert cols.boxes.tolist() == [a["bbox"] for a in anns]
        assert cols.area.tolist() == [a.get("area", a["bbox"][2] * a["bbox"][3]) for a in anns]
        assert cols.iscrowd.tolist() == [a["iscrowd"] for a in anns]
        assert not cols.zero_id.any()


def test_ground_truth_errors_name_rows_beyond_the_first_chunk():
    from detmetrics.io._coco_decode import _FIELD_CHUNK

    rng = np.random.default_rng(8)
    row = _FIELD_CHUNK + 5
    gt = _many_annotations(_FIELD_CHUNK + 50, rng)
    bad = json.loads(json.dumps(gt))
    bad["annotations"][row]["image_id"] = "3"
    with pytest.raises(ValueError, match=rf"annotations\[{row}\]\.image_id"):
        evaluate_coco(bad, [])
    bad = json.loads(json.dumps(gt))
    bad["annotations"][row]["area"] = float("nan")
    with pytest.raises(ValueError, match=rf"\[{row}\]\.area must be finite"):
        evaluate_coco(bad, [])
    bad = json.loads(json.dumps(gt))
    bad["annotations"][row + 3]["id"] = bad["annotations"][row]["id"]
    with pytest.raises(ValueError, match=f"duplicate annotation id {bad['annotations'][row]['id']}"):
        evaluate_coco(bad, [])


@pytest.mark.parametrize("ids, dup", [
    ([1, 2, 3], None), ([1, 2, 1], 1), (["a", "b", "a"], "a"), ([1, "1", 2], None), ([None, None, 4], None),
    ([None, 4, 4], 4), ([2**70, 2**70 + 1, 3], None), ([2**70, 5, 2**70], 2**70), ([3, 2, 3, 2], 3),
])
def test_duplicate_annotation_ids(ids, dup):
    from detmetrics.io._coco_decode import _duplicate_id

    assert _duplicate_id(ids) == dup


# -------------------------------------------- the detections' box areas, computed while grouping


@pytest.mark.parametrize("backend", BACKENDS)
def test_box_plus_one_ranges_by_the_given_boxes_area(backend):
    # an unmatched 10 x 10 detection, scored above the true positive, is a false positive of the
    # range [0, 100] by its given area (100), not ignored there by its widened one (11 x 11 = 121)
    preds = [{"boxes": [[50, 50, 60, 60], [0, 0, 10, 10]], "scores": [0.9, 0.8], "labels": [1, 1]}]
    gts = [{"boxes": [[0, 0, 10, 10]], "labels": [1], "area": [100.0]}]
    r = mean_ap(preds, gts, area_ranges={"small": (0.0, 100.0)}, box_plus_one=True, backend=backend)
    small = list(r.area_ranges).index("small")
    assert np.all(r.precision[0, :, 0, small, -1] == 0.5)  # FP then TP: precision 1/2 at every recall
    # one pixel less: given area 81 and 100 after widening, both inside: the same numbers
    preds9 = [{"boxes": [[50, 50, 59, 59], [0, 0, 10, 10]], "scores": [0.9, 0.8], "labels": [1, 1]}]
    r9 = mean_ap(preds9, gts, area_ranges={"small": (0.0, 100.0)}, box_plus_one=True, backend=backend)
    assert np.array_equal(r9.precision, r.precision)


def test_flat_data_areas_by_default_and_given_concatenate():
    from detmetrics._inputs import FlatData

    box = np.array([[0.0, 0.0, 2.0, 3.0], [1.0, 1.0, 4.0, 5.0]])
    z = np.zeros(0, np.int64)
    plain = FlatData.build("axis", 1, np.zeros(2, np.int64), np.ones(2, np.int64), np.ones(2), box, z, z,
                           np.zeros((0, 4)))
    given = FlatData.build("axis", 1, np.zeros(2, np.int64), np.ones(2, np.int64), np.ones(2), box, z, z,
                           np.zeros((0, 4)), det_area=np.array([7.0, 8.0]))
    assert plain.det_area is None and plain.det_areas().tolist() == [6.0, 20.0]
    assert FlatData.concat([plain, plain]).det_area is None
    assert FlatData.concat([plain, given]).det_area.tolist() == [6.0, 20.0, 7.0, 8.0]
