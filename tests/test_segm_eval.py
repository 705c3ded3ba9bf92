"""``iou_type="segm"`` / ``"keypoints"`` evaluation against pycocotools' COCOeval.

On generated datasets (``instance_generator``: multi-part polygons, crowd
uncompressed RLEs, areas differing from the mask area, ties, empty images,
> 100 (> 20) detections per image, categories without ground truth or
results, keypoint ground truths without visible keypoints) the stats (12 for
segm, 10 for keypoints) and the full ``precision`` / ``recall`` / ``scores``
arrays must equal ``COCOeval(iouType="segm" | "keypoints")`` within 1e-12, on
both backends, through ``evaluate_coco`` (dicts and files), ``mean_ap``
(RLE, bool masks and polygons give the same numbers) and ``Evaluator``.
"""

import copy
import json

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from instance_generator import (
    _uncompressed,
    make_keypoints_dataset,
    make_segm_dataset,
    to_keypoints_mean_ap,
    to_segm_mean_ap,
)

from detmetrics import Evaluator, evaluate_coco, mean_ap
from detmetrics.masks import encode

from _support import backend_params, pycocotools_eval

ATOL = 1e-12

SEGM = {
    "segm_0": lambda: make_segm_dataset(0),
    "segm_1": lambda: make_segm_dataset(1, n_images=18),
    "segm_crowdy": lambda: make_segm_dataset(2, crowd_rate=0.5),
    "segm_with_bbox": lambda: make_segm_dataset(3, with_bbox=True),  # loadRes: area = w * h of the bbox
}
KPTS = {
    "kpts_0": lambda: make_keypoints_dataset(0),
    "kpts_1": lambda: make_keypoints_dataset(1, n_images=20),
    "kpts_no_bbox": lambda: make_keypoints_dataset(2, with_bbox=False),  # loadRes: area of the keypoints' extent
}
_CACHE: dict = {}


def data(name):
    if name not in _CACHE:
        _CACHE[name] = (SEGM | KPTS)[name]()
    return _CACHE[name]


def oracle(name, sigmas=None):
    key = (name, sigmas)
    if key not in _CACHE:
        gt, res = data(name)
        ev, text = pycocotools_eval(gt, res, iou_type="segm" if name in SEGM else "keypoints", sigmas=sigmas)
        _CACHE[key] = (np.asarray(ev.stats), ev.eval, text)
    return _CACHE[key]


def assert_equal_to_oracle(result, name):
    stats, ev, text = oracle(name)
    np.testing.assert_allclose(result.stats, stats, rtol=0, atol=ATOL)
    for field in ("precision", "recall", "scores"):
        np.testing.assert_allclose(getattr(result, field), ev[field], rtol=0, atol=ATOL, err_msg=field)
    return text


@pytest.mark.parametrize("backend", backend_params())
@pytest.mark.parametrize("name", sorted(SEGM) + sorted(KPTS))
def test_evaluate_coco_equals_cocoeval(name, backend):
    gt, res = data(name)
    iou_type = "segm" if name in SEGM else "keypoints"
    result = evaluate_coco(copy.deepcopy(gt), copy.deepcopy(res), iou_type=iou_type, backend=backend)
    text = assert_equal_to_oracle(result, name)
    assert result.summary().splitlines() == text.strip().splitlines()[-len(result.stats):]
    assert len(result.stats) == (12 if iou_type == "segm" else 10)
    assert result.stats[0] > 0.0  # the data are not degenerate


def test_evaluate_coco_from_files(tmp_path):
    for name in ("segm_0", "kpts_0"):
        gt, res = data(name)
        (tmp_path / "gt.json").write_text(json.dumps(gt))
        (tmp_path / "res.json").write_text(json.dumps(res))
        result = evaluate_coco(tmp_path / "gt.json", str(tmp_path / "res.json"),
                               iou_type="segm" if name in SEGM else "keypoints")
        assert_equal_to_oracle(result, name)


def test_result_bbox_decides_area_as_load_res():
    # the same masks with and without a bbox: pycocotools' numbers differ (the area ranges see w * h)
    gt, res = data("segm_with_bbox")
    bare = [{k: v for k, v in r.items() if k != "bbox"} for r in res]
    ev_bare, _ = pycocotools_eval(gt, bare, iou_type="segm")
    with_box = evaluate_coco(gt, res, iou_type="segm")
    without = evaluate_coco(gt, bare, iou_type="segm")
    np.testing.assert_allclose(without.stats, ev_bare.stats, rtol=0, atol=ATOL)
    assert not np.allclose(with_box.stats, without.stats)


def test_box_results_without_segmentation_score_their_box():
    gt, res = data("segm_0")
    boxes = []
    for r in res[:40]:
        from detmetrics.masks import to_bbox

        boxes.append({"image_id": r["image_id"], "category_id": r["category_id"], "score": r["score"],
                      "bbox": to_bbox({"size": r["segmentation"]["size"],
                                       "counts": r["segmentation"]["counts"]}).tolist()})
    ev, _ = pycocotools_eval(gt, boxes, iou_type="segm")
    result = evaluate_coco(gt, boxes, iou_type="segm")
    np.testing.assert_allclose(result.stats, ev.stats, rtol=0, atol=ATOL)
    np.testing.assert_allclose(result.precision, ev.eval["precision"], rtol=0, atol=ATOL)


def test_custom_sigmas_and_k():
    gt, res = make_keypoints_dataset(5, k=5)
    sigmas = (0.05, 0.1, 0.079, 0.5, 0.025)
    ev, _ = pycocotools_eval(gt, res, iou_type="keypoints", sigmas=sigmas)
    for backend in ("numba", "numpy"):
        result = evaluate_coco(gt, res, iou_type="keypoints", sigmas=sigmas, backend=backend)
        np.testing.assert_allclose(result.stats, ev.stats, rtol=0, atol=ATOL)
        np.testing.assert_allclose(result.precision, ev.eval["precision"], rtol=0, atol=ATOL)
    preds, gts = to_keypoints_mean_ap(gt, res, k=5)
    r = mean_ap(preds, gts, iou_type="keypoints", box_format="xywh", sigmas=sigmas, category_ids=[1, 3])
    np.testing.assert_allclose(r.stats, ev.stats, rtol=0, atol=ATOL)
    with pytest.raises(ValueError, match="sigmas"):
        evaluate_coco(gt, res, iou_type="keypoints")


@pytest.mark.parametrize("backend", backend_params())
@pytest.mark.parametrize("form", ["rle", "masks"])
@pytest.mark.parametrize("name", sorted(n for n in SEGM if n != "segm_with_bbox"))
def test_mean_ap_segm_equals_cocoeval(name, form, backend):
    gt, res = data(name)
    preds, gts = to_segm_mean_ap(gt, res, form)
    result = mean_ap(preds, gts, iou_type="segm", backend=backend, category_ids=[c["id"] for c in gt["categories"]])
    assert_equal_to_oracle(result, name)


def test_mean_ap_polygons_equal_rle():
    from detmetrics.masks import from_polygons, merge

    rng = np.random.default_rng(7)
    preds, gts, preds_rle, gts_rle = [], [], [], []
    for _ in range(6):
        h, w = 30, 41
        polys = [[np.round(rng.uniform(0, 40, 8), 1).tolist(), np.round(rng.uniform(0, 30, 6), 1).tolist()]
                 for _ in range(3)]
        dpolys = [[np.round(np.array(p[0]) + rng.normal(0, 1, 8), 1).tolist()] for p in polys]
        scores = rng.choice([0.9, 0.5, 0.5], 3).tolist()
        gts.append({"masks": polys, "labels": [1, 1, 2], "image_size": (h, w)})
        preds.append({"masks": dpolys, "scores": scores, "labels": [1, 2, 2], "image_size": (h, w)})
        gts_rle.append({"masks": [merge(from_polygons(p, h, w)) for p in polys], "labels": [1, 1, 2]})
        preds_rle.append({"masks": [merge(from_polygons(p, h, w)) for p in dpolys], "scores": scores,
                          "labels": [1, 2, 2]})
    a = mean_ap(preds, gts, iou_type="segm")
    b = mean_ap(preds_rle, gts_rle, iou_type="segm")
    np.testing.assert_array_equal(a.stats, b.stats)
    np.testing.assert_array_equal(a.precision, b.precision)
    assert a.stats[0] > 0


@pytest.mark.parametrize("backend", backend_params())
@pytest.mark.parametrize("name", sorted(KPTS))
def test_mean_ap_keypoints_equals_cocoeval(name, backend):
    gt, res = data(name)
    preds, gts = to_keypoints_mean_ap(gt, res)
    result = mean_ap(preds, gts, iou_type="keypoints", box_format="xywh", backend=backend, category_ids=[1, 3])
    assert_equal_to_oracle(result, name)
    assert result.stat_names[5] == "mar" and result.mar == result.stats[5]
    assert set(result.to_dict()) >= {"map", "mar50", "mar_large", "iou_type"}


@pytest.mark.parametrize("iou_type,name", [("segm", "segm_1"), ("keypoints", "kpts_1")])
def test_evaluator_shards_equal_mean_ap(iou_type, name):
    gt, res = data(name)
    if iou_type == "segm":
        preds, gts = to_segm_mean_ap(gt, res)
        opts = dict(iou_type="segm")
    else:
        preds, gts = to_keypoints_mean_ap(gt, res)
        opts = dict(iou_type="keypoints", box_format="xywh")
    cats = [c["id"] for c in gt["categories"]]
    whole = mean_ap(preds, gts, category_ids=cats, **opts)
    a, b = Evaluator(category_ids=cats, **opts), Evaluator(category_ids=cats, **opts)
    half = len(preds) // 2
    for i in range(half):
        a.update(preds[i:i + 1], gts[i:i + 1], image_ids=[i])
    b.update(preds[half:], gts[half:], image_ids=list(range(half, len(preds))))
    merged = b.merge(a).compute()
    np.testing.assert_array_equal(merged.stats, whole.stats)
    np.testing.assert_array_equal(merged.precision, whole.precision)
    assert merged.iou_type == iou_type
    other = Evaluator(category_ids=cats, box_format=opts.get("box_format", "xyxy"), max_detections=whole.max_detections)
    with pytest.raises(ValueError, match="different (iou_type|area_ranges)"):
        a.merge(other)


def _mask(h=4, w=5, fill=((1, 1),)):
    m = np.zeros((1, h, w), bool)
    for y, x in fill:
        m[0, y, x] = True
    return m


_P = {"scores": [0.5], "labels": [1]}
_KP = np.ones((1, 17, 3))
BAD = [
    ("mask shape vs image_size", dict(iou_type="segm"),
     [{"masks": _mask(), **_P, "image_size": (4, 6)}], [{"masks": _mask(), "labels": [1]}], ValueError, "image_size"),
    ("masks of two sizes in one image", dict(iou_type="segm"),
     [{"masks": _mask(), **_P}], [{"masks": _mask(5, 5), "labels": [1]}], ValueError, "must all have its size"),
    ("rle counts do not add up", dict(iou_type="segm"),
     [{"masks": [{"size": [4, 5], "counts": [3, 2]}], **_P}], [{"masks": _mask(), "labels": [1]}], ValueError,
     "add up"),
    ("garbage compressed counts", dict(iou_type="segm"),
     [{"masks": [{"size": [4, 5], "counts": b"\x01\x02"}], **_P}], [{"masks": _mask(), "labels": [1]}], ValueError,
     "compressed RLE"),
    ("odd polygon", dict(iou_type="segm"),
     [{"masks": [[[0, 0, 3, 0, 3, 3, 1]]], **_P, "image_size": (4, 5)}], [{"masks": _mask(), "labels": [1]}],
     ValueError, "even number"),
    ("polygons need image_size", dict(iou_type="segm"),
     [{"masks": [[[0, 0, 3, 0, 3, 3]]], **_P}], [{"masks": _mask(), "labels": [1]}], ValueError, "image_size"),
    ("masks as a dict", dict(iou_type="segm"),
     [{"masks": {"size": [4, 5], "counts": [20]}, **_P}], [{"masks": _mask(), "labels": [1]}], TypeError, "masks"),
    ("non-binary masks", dict(iou_type="segm"),
     [{"masks": _mask().astype(float) * 0.7, **_P}], [{"masks": _mask(), "labels": [1]}], ValueError, "0 and 1"),
    ("masks / scores length", dict(iou_type="segm"),
     [{"masks": _mask(), "scores": [0.5, 0.4], "labels": [1]}], [{"masks": _mask(), "labels": [1]}], ValueError,
     "same length"),
    ("segm needs masks", dict(iou_type="segm"),
     [{"boxes": [[0, 0, 1, 1]], **_P}], [{"masks": _mask(), "labels": [1]}], ValueError, "missing key"),
    ("keypoint shape", dict(iou_type="keypoints"),
     [{"keypoints": np.ones((1, 17, 4)), **_P}], [{"keypoints": _KP, "boxes": [[0, 0, 2, 2]], "labels": [1]}],
     ValueError, "shape"),
    ("keypoints K without sigmas", dict(iou_type="keypoints"),
     [{"keypoints": np.ones((1, 5, 3)), **_P}], [{"keypoints": np.ones((1, 5, 3)), "boxes": [[0, 0, 2, 2]],
                                                  "labels": [1]}], ValueError, "sigmas"),
    ("keypoints K vs sigmas", dict(iou_type="keypoints", sigmas=[0.1, 0.1]),
     [{"keypoints": np.ones((1, 3, 3)), **_P}], [{"keypoints": np.ones((1, 3, 3)), "boxes": [[0, 0, 2, 2]],
                                                  "labels": [1]}], ValueError, "K=3"),
    ("keypoint ground truths need boxes", dict(iou_type="keypoints"),
     [{"keypoints": _KP, **_P}], [{"keypoints": _KP, "labels": [1]}], ValueError, "boxes"),
    ("NaN keypoints", dict(iou_type="keypoints"),
     [{"keypoints": np.full((1, 17, 3), np.nan), **_P}], [{"keypoints": _KP, "boxes": [[0, 0, 2, 2]],
                                                           "labels": [1]}], ValueError, "NaN"),
    ("sigmas without keypoints", dict(sigmas=[0.1]),
     [{"boxes": [[0, 0, 1, 1]], **_P}], [{"boxes": [[0, 0, 1, 1]], "labels": [1]}], ValueError, "sigmas"),
    ("unknown iou_type", dict(iou_type="mask"),
     [{"boxes": [[0, 0, 1, 1]], **_P}], [{"boxes": [[0, 0, 1, 1]], "labels": [1]}], ValueError, "iou_type"),
]


@pytest.mark.parametrize("case", BAD, ids=[c[0] for c in BAD])
def test_bad_input(case):
    _, opts, preds, gts, exc, match = case
    with pytest.raises(exc, match=match):
        mean_ap(preds, gts, **opts)


def _coco_segm():
    gt = {"images": [{"id": 1, "height": 4, "width": 5}], "categories": [{"id": 1}],
          "annotations": [{"id": 1, "image_id": 1, "category_id": 1, "bbox": [0, 0, 2, 2], "area": 4,
                           "segmentation": [[0, 0, 2, 0, 2, 2, 0, 2]]}]}
    res = [{"image_id": 1, "category_id": 1, "score": 0.5, "segmentation": encode(_mask()[0])}]
    res[0]["segmentation"]["counts"] = res[0]["segmentation"]["counts"].decode()
    return gt, res


BAD_COCO = [
    ("result without segmentation", "segm", lambda gt, res: (gt, res + [{"image_id": 1, "category_id": 1,
                                                                         "score": 0.1}]), "segmentation"),
    ("box branch needs bbox everywhere", "segm",
     lambda gt, res: (gt, [dict(res[0], bbox=[0, 0, 1, 1])] + res), "bbox"),
    ("gt polygon without image size", "segm",
     lambda gt, res: ({**gt, "images": [{"id": 1}]}, res), "image size"),
    ("gt rle size mismatch", "segm",
     lambda gt, res: ({**gt, "annotations": [dict(gt["annotations"][0], segmentation={"size": [4, 5],
                                                                                     "counts": [19]})]}, res),
     "add up"),
    ("rle of another size", "segm",
     lambda gt, res: (gt, [dict(res[0], segmentation={"size": [2, 2], "counts": [4]})]), "different sizes"),
    ("keypoints not a multiple of 3", "keypoints",
     lambda gt, res: ({**gt, "annotations": [dict(gt["annotations"][0], keypoints=[1, 1])]},
                      [dict(res[0], keypoints=[1, 1, 1])]), "3 numbers per keypoint"),
]


@pytest.mark.parametrize("case", BAD_COCO, ids=[c[0] for c in BAD_COCO])
def test_bad_coco_input(case):
    _, iou_type, edit, match = case
    gt, res = edit(*_coco_segm())
    with pytest.raises(ValueError, match=match):
        evaluate_coco(gt, res, iou_type=iou_type, sigmas=[0.1] if iou_type == "keypoints" else None)


# ---------------------------------------------------------------------------------------------
# hypothesis: small random masks, crowds, ties, both backends, against COCOeval



@st.composite
def segm_datasets(draw):
    h, w = draw(st.integers(3, 9)), draw(st.integers(3, 9))
    n_images = draw(st.integers(1, 3))
    images, anns, results = [], [], []
    for i in range(n_images):
        images.append({"id": i + 1, "height": h, "width": w})
        for _ in range(draw(st.integers(0, 3))):
            m = np.array(draw(st.lists(st.booleans(), min_size=h * w, max_size=h * w))).reshape(h, w)
            rle = encode(np.asfortranarray(m))
            crowd = draw(st.booleans()) and draw(st.booleans())
            counts = rle["counts"].decode() if not crowd else _uncompressed(m)["counts"]
            anns.append({"id": len(anns) + 1, "image_id": i + 1, "category_id": draw(st.sampled_from([1, 2])),
                         "segmentation": {"size": [h, w], "counts": counts}, "iscrowd": int(crowd),
                         "area": float(draw(st.sampled_from([m.sum(), 0, 1024, 2000]))), "bbox": [0, 0, 1, 1]})
        for _ in range(draw(st.integers(0, 4))):
            m = np.array(draw(st.lists(st.booleans(), min_size=h * w, max_size=h * w))).reshape(h, w)
            rle = encode(m)
            results.append({"image_id": i + 1, "category_id": draw(st.sampled_from([1, 2])),
                            "segmentation": {"size": [h, w], "counts": rle["counts"].decode()},
                            "score": draw(st.sampled_from([0.9, 0.5, 0.5, 0.1]))})
    return {"images": images, "annotations": anns, "categories": [{"id": 1}, {"id": 2}]}, results


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(segm_datasets())
def test_segm_hypothesis_equals_cocoeval(dataset):
    gt, res = dataset
    assume(res)  # COCO.loadRes cannot load an empty list (the empty case: test_evaluate_coco_empty_results)
    ev, _ = pycocotools_eval(gt, res, iou_type="segm")
    for backend in ("numba", "numpy"):
        result = evaluate_coco(gt, res, iou_type="segm", backend=backend)
        np.testing.assert_allclose(result.stats, ev.stats, rtol=0, atol=ATOL)
        for field in ("precision", "recall", "scores"):
            np.testing.assert_allclose(getattr(result, field), ev.eval[field], rtol=0, atol=ATOL)


def test_evaluate_coco_empty_results():
    gt, _ = data("segm_0")
    result = evaluate_coco(gt, [], iou_type="segm")
    assert result.map == 0.0
    gt, _ = data("kpts_0")
    assert evaluate_coco(gt, [], iou_type="keypoints").map == 0.0


@st.composite
def keypoint_datasets(draw):
    k = draw(st.sampled_from([1, 3, 17]))
    coord = st.integers(0, 30).map(float)
    images, anns, results = [], [], []
    for i in range(draw(st.integers(1, 3))):
        images.append({"id": i + 1, "height": 40, "width": 40})
        for _ in range(draw(st.integers(0, 3))):
            hidden = draw(st.booleans()) and draw(st.booleans())  # no labelled keypoint
            v = [0 if hidden else draw(st.sampled_from([0, 1, 2])) for _ in range(k)]
            kps = [c for j in range(k) for c in (draw(coord), draw(coord), v[j])]
            num = sum(x > 0 for x in v) if draw(st.booleans()) else draw(st.integers(0, k))
            anns.append({"id": len(anns) + 1, "image_id": i + 1, "category_id": 1, "keypoints": kps,
                         "num_keypoints": num, "iscrowd": int(draw(st.booleans()) and draw(st.booleans())),
                         "bbox": [draw(coord), draw(coord), draw(coord), draw(coord)],
                         "area": draw(st.sampled_from([0.0, 10.0, 500.0, 1024.0, 5000.0]))})
        for _ in range(draw(st.integers(0, 4))):
            kps = [c for _ in range(k) for c in (draw(coord), draw(coord), 1.0)]
            entry = {"image_id": i + 1, "category_id": 1, "keypoints": kps,
                     "score": draw(st.sampled_from([0.9, 0.5, 0.5, 0.1]))}
            results.append(entry)
    if results and draw(st.booleans()):  # loadRes: a bbox on the first result makes every area w * h
        for r in results:
            r["bbox"] = [draw(coord), draw(coord), draw(coord), draw(coord)]
    sigmas = None if k == 17 else [0.05, 0.5, 0.1][:k]
    return {"images": images, "annotations": anns, "categories": [{"id": 1}]}, results, sigmas


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(keypoint_datasets())
def test_keypoints_hypothesis_equals_cocoeval(dataset):
    gt, res, sigmas = dataset
    assume(res)
    ev, _ = pycocotools_eval(gt, res, iou_type="keypoints", sigmas=sigmas)
    for backend in ("numba", "numpy"):
        result = evaluate_coco(gt, res, iou_type="keypoints", sigmas=sigmas, backend=backend)
        np.testing.assert_allclose(result.stats, ev.stats, rtol=0, atol=ATOL)
        for field in ("precision", "recall", "scores"):
            np.testing.assert_allclose(getattr(result, field), ev.eval[field], rtol=0, atol=ATOL)


def test_evaluator_with_masks_pickles():
    import pickle

    gt, res = data("segm_0")
    preds, gts = to_segm_mean_ap(gt, res)
    ev = Evaluator(iou_type="segm")
    ev.update(preds, gts)
    clone = pickle.loads(pickle.dumps(ev))
    np.testing.assert_array_equal(clone.compute().stats, mean_ap(preds, gts, iou_type="segm").stats)


def test_frpyobjects_quirks_in_ground_truth_polygons():
    # an odd last coordinate is dropped and a later part may have fewer than 3 points, as frPyObjects
    gt = {"images": [{"id": 1, "height": 20, "width": 30}], "categories": [{"id": 1}],
          "annotations": [
              {"id": 1, "image_id": 1, "category_id": 1, "bbox": [0, 0, 1, 1], "area": 50.0, "iscrowd": 0,
               "segmentation": [[2, 2, 12, 2, 12, 10, 2, 10, 7], [20, 3, 25, 3]]},
              {"id": 2, "image_id": 1, "category_id": 1, "bbox": [0, 0, 1, 1], "area": 30.0, "iscrowd": 0,
               "segmentation": [[15, 12, 28, 12, 28, 19, 15, 19], [1, 15, 5, 15, 3, 19]]}]}
    masks = [np.zeros((20, 30), bool), np.zeros((20, 30), bool)]
    masks[0][2:10, 2:12] = True
    masks[1][12:19, 15:28] = True
    res = []
    for i, m in enumerate(masks + [masks[0] | masks[1]]):
        rle = encode(m)
        res.append({"image_id": 1, "category_id": 1, "score": 0.9 - 0.1 * i,
                    "segmentation": {"size": rle["size"], "counts": rle["counts"].decode()}})
    ev, _ = pycocotools_eval(gt, res, iou_type="segm")
    result = evaluate_coco(gt, res, iou_type="segm")
    np.testing.assert_allclose(result.stats, ev.stats, rtol=0, atol=ATOL)
    np.testing.assert_allclose(result.precision, ev.eval["precision"], rtol=0, atol=ATOL)
    assert result.stats[0] > 0


def test_masks_as_lists_of_arrays_or_tensors():
    from _support import ArrayLike

    m = np.zeros((2, 8, 9), bool)
    m[0, 1:4, 1:5] = True
    m[1, 4:7, 3:8] = True
    ref = mean_ap([{"masks": m, "scores": [0.9, 0.8], "labels": [1, 1]}], [{"masks": m, "labels": [1, 1]}],
                  iou_type="segm")
    got = mean_ap([{"masks": ArrayLike(m), "scores": [0.9, 0.8], "labels": [1, 1]}],
                  [{"masks": [ArrayLike(m[0]), m[1]], "labels": [1, 1]}], iou_type="segm")
    np.testing.assert_array_equal(got.stats, ref.stats)
    with pytest.raises(ValueError, match="different shapes"):
        mean_ap([{"masks": m, "scores": [0.9, 0.8], "labels": [1, 1]}],
                [{"masks": [m[0], np.zeros((3, 3), bool)], "labels": [1, 1]}], iou_type="segm")
