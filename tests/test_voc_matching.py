"""matching="voc" (the PASCAL VOC / DOTA devkits' rule) and the ``difficult`` flag.

* reference == kernel on hypothesis-drawn IoU blocks (with crowds, difficult
  ground truths, area ranges, IoUs on the thresholds);
* an independent oracle: a plain-Python ``voc_eval`` written here from the
  devkits' description (per class over all images by decreasing score; a
  detection looks at its best-overlapping ground truth only; ``iou > t``;
  difficult ones neither count nor score; a taken one makes a false positive),
  with its own 11-point and all-point AP, against ``mean_ap(matching="voc")``;
* ``difficult`` == a ground truth outside every area range, in both rules;
* hand-built cases where the two rules differ.
"""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from numpy.testing import assert_allclose, assert_array_equal

from detmetrics import Evaluator, box_iou, mean_ap, rotated_iou
from detmetrics.matching import (
    _always_ignored,
    _ignored_ground_truths,
    _match_groups_voc_loop,
    _match_groups_voc_reference,
)
from detmetrics.strategies import detection_datasets

from _support import BACKENDS
from test_matching import match_inputs
from test_postprocess import _iou as plain_iou


@st.composite
def voc_match_inputs(draw):
    """test_matching's random IoU blocks (values on and around the thresholds), plus difficult flags."""
    args = draw(match_inputs())
    iou, iou_off, d_off, g_off, det_area, gt_area, crowd, _, areas, thresholds = args
    difficult = np.array([draw(st.integers(0, 4)) == 0 for _ in range(len(gt_area))], dtype=np.uint8)
    return (iou, iou_off, d_off, g_off, det_area, gt_area, crowd, areas, thresholds), difficult


# ---------------------------------------------------------------------------------------
# independent oracle: the devkits' voc_eval, written out in plain Python


def voc_eval(predictions, ground_truths, label, threshold, overlap=plain_iou):
    """(recall, precision) of one class, the devkits' way, or None without positives."""
    gts = {}
    n_pos = 0
    for i, g in enumerate(ground_truths):
        rows = [k for k, lab in enumerate(g["labels"]) if lab == label]
        difficult = [bool(g.get("difficult", [0] * len(g["labels"]))[k]) for k in rows]
        gts[i] = {"boxes": [g["boxes"][k] for k in rows], "difficult": difficult, "taken": [False] * len(rows)}
        n_pos += difficult.count(False)
    dets = [(s, i, b) for i, p in enumerate(predictions)
            for b, s, lab in zip(p["boxes"], p["scores"], p["labels"]) if lab == label]
    dets.sort(key=lambda d: -d[0])
    tp, fp = [], []
    for _, i, box in dets:
        r = gts[i]
        best, j_best = -np.inf, -1
        for j, g in enumerate(r["boxes"]):
            o = overlap(box, g)
            if o > best:
                best, j_best = o, j
        if best > threshold:
            if r["difficult"][j_best]:
                continue  # neither TP nor FP
            if not r["taken"][j_best]:
                r["taken"][j_best] = True
                tp.append(1.0), fp.append(0.0)
            else:
                tp.append(0.0), fp.append(1.0)
        else:
            tp.append(0.0), fp.append(1.0)
    if n_pos == 0:
        return None
    tp, fp = np.cumsum(tp), np.cumsum(fp)
    return tp / n_pos, tp / np.maximum(tp + fp, np.finfo(np.float64).eps)


def ap_11_point(rec, prec):
    ap = 0.0
    for t in np.arange(0.0, 1.1, 0.1):
        ap += (np.max(prec[rec >= t]) if np.sum(rec >= t) else 0.0) / 11.0
    return ap


def ap_all_point(rec, prec):
    mrec = np.concatenate(([0.0], rec, [1.0]))
    mpre = np.concatenate(([0.0], prec, [0.0]))
    for i in range(len(mpre) - 1, 0, -1):
        mpre[i - 1] = max(mpre[i - 1], mpre[i])
    i = np.where(mrec[1:] != mrec[:-1])[0]
    return float(np.sum((mrec[i + 1] - mrec[i]) * mpre[i + 1]))


@st.composite
def voc_datasets(draw):
    """detection_datasets without crowds, distinct scores, random difficult flags."""
    predictions, ground_truths = draw(detection_datasets(max_images=5, crowd=False))
    n = sum(len(p["scores"]) for p in predictions)
    order = draw(st.permutations(list(range(n))))
    scores = (np.asarray(order, dtype=np.float64) + 1.0) / (n + 1.0)
    k = 0
    for p in predictions:
        m = len(p["scores"])
        p["scores"] = scores[k:k + m]
        k += m
    for g in ground_truths:
        g.pop("iscrowd", None)
        g.pop("area", None)
        g["difficult"] = np.array([draw(st.integers(0, 3)) == 0 for _ in range(len(g["labels"]))], dtype=np.uint8)
    return predictions, ground_truths


@pytest.mark.parametrize("backend", BACKENDS)
@settings(deadline=None, max_examples=40)
@given(voc_datasets(), st.sampled_from([0.5, 0.3, 0.7]))
def test_matches_the_devkit_oracle(backend, data, threshold):
    predictions, ground_truths = data
    for interpolation, summarize in (("voc", ap_all_point), ("voc11", ap_11_point)):
        result = mean_ap(predictions, ground_truths, iou_thresholds=[threshold], max_detections=(1000,),
                         interpolation=interpolation, matching="voc", backend=backend)
        for k, label in enumerate(result.category_ids):
            curve = voc_eval(predictions, ground_truths, label, threshold)
            ap = result.ap[0, k, list(result.area_ranges).index("all"), -1]
            if curve is None:
                assert ap == -1
            else:
                assert_allclose(ap, summarize(*curve), rtol=0, atol=1e-12)


def _tilt(boxes):
    """xyxy -> rotated (cx, cy, w, h, 0)."""
    b = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    return np.column_stack([(b[:, 0] + b[:, 2]) / 2, (b[:, 1] + b[:, 3]) / 2, b[:, 2] - b[:, 0], b[:, 3] - b[:, 1],
                            np.zeros(len(b))])


@settings(deadline=None, max_examples=20)
@given(voc_datasets())
def test_rotated_matches_the_devkit_oracle(data):
    """DOTA style: rotated boxes, polygon IoU, 11-point AP at 0.5."""
    predictions, ground_truths = data
    rng = np.random.default_rng(len(predictions))
    for records in (predictions, ground_truths):
        for r in records:
            rb = _tilt(r["boxes"])
            rb[:, 4] = rng.choice([0.0, 0.3, np.pi / 2], size=len(rb))
            r["boxes"] = rb
    result = mean_ap(predictions, ground_truths, iou_thresholds=[0.5], max_detections=(1000,),
                     interpolation="voc11", matching="voc")

    def overlap(a, b):
        return float(rotated_iou(np.asarray(a)[None], np.asarray(b)[None])[0, 0])

    for k, label in enumerate(result.category_ids):
        curve = voc_eval(predictions, ground_truths, label, 0.5, overlap)
        expected = -1 if curve is None else ap_11_point(*curve)
        assert_allclose(result.ap[0, k, 0, -1], expected, rtol=0, atol=1e-12)


# ---------------------------------------------------------------------------------------
# difficult, hand cases, options


@pytest.mark.parametrize("matching", ["coco", "voc"])
@settings(deadline=None, max_examples=30)
@given(voc_datasets())
def test_difficult_is_a_ground_truth_outside_every_area_range(matching, data):
    predictions, ground_truths = data
    moved = []
    for g in ground_truths:
        b = np.asarray(g["boxes"], dtype=np.float64).reshape(-1, 4)
        area = (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])
        moved.append({"boxes": g["boxes"], "labels": g["labels"],
                      "area": np.where(g["difficult"] != 0, 2e10, area)})
    kw = dict(area_ranges={"all": (0.0, 1e10)}, matching=matching)
    a = mean_ap(predictions, ground_truths, **kw)
    b = mean_ap(predictions, moved, **kw)
    assert_array_equal(a.stats, b.stats)
    assert_array_equal(a.precision, b.precision)


# one image, one class; the detection at 0.8 overlaps both objects, the first more
TWO_OBJECTS = [{"boxes": [[0, 0, 10, 10], [0, 0, 10, 10], [0, 2, 10, 12]], "scores": [0.9, 0.8, 0.7],
                "labels": [0, 0, 0]}]
TWO_GT = [{"boxes": [[0, 0, 10, 10], [0, 1, 10, 11]], "labels": [0, 0]}]


def test_rules_differ_when_the_best_object_is_taken():
    iou = box_iou([[0, 0, 10, 10]], TWO_GT[0]["boxes"])[0]
    assert iou[0] > iou[1] > 0.5
    kw = dict(iou_thresholds=[0.5], interpolation="voc")
    coco = mean_ap(TWO_OBJECTS, TWO_GT, **kw)
    voc = mean_ap(TWO_OBJECTS, TWO_GT, matching="voc", **kw)
    # COCO: 0.9 -> object 0, 0.8 -> object 1 (still free): AP 1
    assert_allclose(coco.map, 1.0, atol=1e-12)
    # VOC: 0.8 looks only at object 0 (taken): FP; 0.7 -> object 1 (IoU 9/11 > 2/3 with object 0):
    # TP, TP at ranks 1 and 3 -> precision 1, 1/2, 2/3; all-point AP = 0.5 * 1 + 0.5 * 2/3
    assert_allclose(voc.map, 0.5 + 0.5 * 2 / 3, atol=1e-12)
    assert voc.matching == "voc" and voc.to_dict()["matching"] == "voc"


def test_threshold_is_strict_under_voc():
    pred = [{"boxes": [[0, 0, 10, 10]], "scores": [0.9], "labels": [1]}]
    gt = [{"boxes": [[0, 0, 10, 5]], "labels": [1]}]  # IoU exactly 0.5
    assert_allclose(mean_ap(pred, gt, iou_thresholds=[0.5]).map, 1.0, atol=1e-12)
    assert mean_ap(pred, gt, iou_thresholds=[0.5], matching="voc").map == 0.0


def test_difficult_detection_is_neither_tp_nor_fp():
    pred = [{"boxes": [[0, 0, 10, 10], [20, 20, 30, 30]], "scores": [0.9, 0.8], "labels": [1, 1]}]
    gt = [{"boxes": [[0, 0, 10, 10], [20, 20, 30, 30]], "labels": [1, 1], "difficult": [1, 0]}]
    for matching in ("coco", "voc"):
        r = mean_ap(pred, gt, iou_thresholds=[0.5], interpolation="voc", matching=matching)
        assert_allclose(r.map, 1.0, atol=1e-12)  # one positive, found by the only counted detection
        assert r.per_class[1]["n_gt"] == 1


def test_evaluator_and_bad_input():
    ev = Evaluator(matching="voc", iou_thresholds=[0.5], interpolation="voc")
    ev.update(TWO_OBJECTS, TWO_GT)
    assert_allclose(ev.compute().map, 0.5 + 0.5 * 2 / 3, atol=1e-12)
    with pytest.raises(ValueError, match="different matching: 'voc' vs 'coco'"):
        Evaluator(matching="voc").merge(Evaluator())
    with pytest.raises(ValueError, match="matching must be one of"):
        mean_ap(TWO_OBJECTS, TWO_GT, matching="dota")
    with pytest.raises(ValueError, match=r"ground_truths\[0\]\['difficult'\] must have one value per box"):
        mean_ap(TWO_OBJECTS, [{**TWO_GT[0], "difficult": [1]}])
    with pytest.raises(ValueError, match=r"\['difficult'\] contains NaN"):
        mean_ap(TWO_OBJECTS, [{**TWO_GT[0], "difficult": [np.nan, 0]}])


@settings(deadline=None, max_examples=300)
@given(voc_match_inputs())
def test_vectorised_voc_matching_equals_the_devkit_loop(args):
    # the devkits' loop (per group, area range, threshold and detection) is the specification
    (iou, iou_off, d_off, g_off, det_area, gt_area, crowd, areas, thresholds), difficult = args
    ignored = _ignored_ground_truths(gt_area, _always_ignored(crowd, difficult), areas)
    out = []
    for fn in (_match_groups_voc_reference, _match_groups_voc_loop):
        code = np.full((det_area.shape[0], areas.shape[0], thresholds.shape[0]), 9, np.uint8)
        fn(iou, iou_off, d_off, g_off, det_area, areas, thresholds, code, ignored)
        out.append(code)
    assert_array_equal(out[0], out[1])
    assert not np.any(out[0] == 9)
