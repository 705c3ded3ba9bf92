"""``protocol=`` presets and their switches, each against an implementation written here from the
protocol's own definition (py-faster-rcnn's ``voc_eval`` / ``voc_ap``, the DOTA devkit's task-1
``voc_eval`` without the +1, ultralytics 8.4's ``match_predictions`` / ``ap_per_class`` /
``compute_ap`` as its source states them), hand-worked cases, and the real ultralytics when
``DETMETRICS_TORCH_PYTHON`` names an interpreter that has it."""

from __future__ import annotations

import json
import os
import pathlib
import subprocess

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from detmetrics import Evaluator, evaluate_coco, mean_ap

BACKENDS = ["numpy", "numba"]


# ------------------------------------------------------------------------ data


def scene(seed: int, n_images: int = 4, n_classes: int = 3, crowd: bool = False, difficult: bool = False,
          integer: bool = False):
    """Random images: ground truths and jittered / spurious detections with distinct scores."""
    rng = np.random.default_rng(seed)
    preds, gts = [], []
    scores = rng.permutation(4000)[: 40 * n_images] / 4000.0 + 1e-4
    s = 0
    for _ in range(n_images):
        n_g = int(rng.integers(0, 6))
        xy = rng.uniform(0, 80, (n_g, 2))
        wh = rng.uniform(4, 40, (n_g, 2))
        g = np.hstack([xy, xy + wh])
        g_lab = rng.integers(0, n_classes, n_g)
        boxes, labels = [], []
        for b, lab in zip(g, g_lab):
            for _ in range(int(rng.integers(0, 3))):
                boxes.append(b + rng.normal(0, 3, 4))
                labels.append(lab if rng.random() < 0.8 else rng.integers(0, n_classes))
        for _ in range(int(rng.integers(0, 4))):
            p = rng.uniform(0, 80, 2)
            boxes.append(np.hstack([p, p + rng.uniform(4, 30, 2)]))
            labels.append(rng.integers(0, n_classes))
        d = np.array(boxes, dtype=np.float64).reshape(-1, 4)
        d[:, 2:] = np.maximum(d[:, 2:], d[:, :2] + 1.0)
        if integer:
            d, g = np.round(d), np.round(g)
        else:  # float32-representable, as ultralytics holds them
            d, g = d.astype(np.float32).astype(np.float64), g.astype(np.float32).astype(np.float64)
        n_d = d.shape[0]
        preds.append({"boxes": d, "scores": scores[s:s + n_d].astype(np.float32).astype(np.float64),
                      "labels": np.array(labels, dtype=np.int64)})
        s += n_d
        gt = {"boxes": g, "labels": g_lab}
        if crowd:
            gt["iscrowd"] = (rng.random(n_g) < 0.25).astype(int)
        if difficult:
            gt["difficult"] = (rng.random(n_g) < 0.25).astype(int)
        gts.append(gt)
    return preds, gts


# ------------------------------------------------------------------------ independent implementations


def _iou_xyxy(a, b, plus=0.0):
    iw = np.maximum(np.minimum(a[:, None, 2], b[None, :, 2]) - np.maximum(a[:, None, 0], b[None, :, 0]) + plus, 0)
    ih = np.maximum(np.minimum(a[:, None, 3], b[None, :, 3]) - np.maximum(a[:, None, 1], b[None, :, 1]) + plus, 0)
    inter = iw * ih
    area_a = (a[:, 2] - a[:, 0] + plus) * (a[:, 3] - a[:, 1] + plus)
    area_b = (b[:, 2] - b[:, 0] + plus) * (b[:, 3] - b[:, 1] + plus)
    return inter / (area_a[:, None] + area_b[None, :] - inter)


def voc_ap(rec, prec, use_07):
    """py-faster-rcnn's ``voc_ap``."""
    if use_07:
        ap = 0.0
        for t in np.arange(0.0, 1.1, 0.1):
            p = 0 if np.sum(rec >= t) == 0 else np.max(prec[rec >= t])
            ap += p / 11.0
        return ap
    mrec = np.concatenate(([0.0], rec, [1.0]))
    mpre = np.concatenate(([0.0], prec, [0.0]))
    for i in range(mpre.size - 1, 0, -1):
        mpre[i - 1] = max(mpre[i - 1], mpre[i])
    i = np.where(mrec[1:] != mrec[:-1])[0]
    return np.sum((mrec[i + 1] - mrec[i]) * mpre[i + 1])


def _devkit_map(preds, gts, key, overlaps, thresh, use_07):
    """The devkits' ``voc_eval`` loop on geometry ``key`` ("boxes" / "quads"), mean over classes: per
    class, detections in decreasing confidence (stable), each against its image's ground truths of that
    class; ``overlaps(det, gt_geometry) -> (ovmax, jmax)``; ``ovmax > thresh``: the best ground truth
    taken once (true positive), again (false positive), or difficult (neither); else a false positive."""
    classes = sorted({int(c) for g in gts for c in g["labels"]})
    aps = {}
    for c in classes:
        recs, npos = [], 0
        for g in gts:
            m = np.asarray(g["labels"]) == c
            diff = np.asarray(g.get("difficult", np.zeros(len(g["labels"]))), bool)[m]
            geometry = np.asarray(g[key], float)
            recs.append({"geometry": geometry.reshape(-1, 4)[m] if key == "boxes" else geometry[m],
                         "difficult": diff, "det": [False] * int(m.sum())})
            npos += int((~diff).sum())
        img, conf, dets = [], [], []
        for i, p in enumerate(preds):
            m = np.asarray(p["labels"]) == c
            img += [i] * int(m.sum())
            conf += list(np.asarray(p["scores"])[m])
            geometry = np.asarray(p[key], float)
            dets += list(geometry.reshape(-1, 4)[m] if key == "boxes" else geometry[m])
        order = np.argsort(-np.array(conf), kind="stable")
        tp, fp = np.zeros(len(order)), np.zeros(len(order))
        for d, k in enumerate(order):
            r = recs[img[k]]
            ovmax, jmax = overlaps(dets[k], r["geometry"]) if len(r["geometry"]) else (-np.inf, -1)
            if ovmax > thresh:
                if not r["difficult"][jmax]:
                    if not r["det"][jmax]:
                        tp[d] = 1.0
                        r["det"][jmax] = True
                    else:
                        fp[d] = 1.0
            else:
                fp[d] = 1.0
        if npos == 0:
            continue
        tp, fp = np.cumsum(tp), np.cumsum(fp)
        aps[c] = voc_ap(tp / npos, tp / np.maximum(tp + fp, np.finfo(np.float64).eps), use_07) if len(order) \
            else 0.0
    return aps


def voc_eval_map(preds, gts, thresh=0.5, use_07=False, plus=1.0):
    """py-faster-rcnn's ``voc_eval`` (``plus=1``) / the DOTA devkit's (``plus=0``), mean over classes."""
    def overlaps(box, gt_boxes):
        ov = _iou_xyxy(np.asarray(box)[None], gt_boxes, plus)[0]
        return np.max(ov), int(np.argmax(ov))

    return _devkit_map(preds, gts, "boxes", overlaps, thresh, use_07)


def ultralytics_reference(preds, gts, budget=300):
    """ultralytics 8.4 as its source states it: per image the top ``budget`` detections, in decreasing
    confidence each takes its best unclaimed same-class target (``np.argmax``: the first of equal IoUs)
    with ``iou >= t``; per class AP by ``compute_ap`` (sentinels, envelope, ``np.interp`` at 101
    points, trapezoid).  Crowd and difficult ground truths are not ground truths at all."""
    thresholds = np.linspace(0.5, 0.95, 10)
    tps, confs, pcls, tcls = [], [], [], []
    for p, g in zip(preds, gts):
        keep = np.ones(len(g["labels"]), bool)
        for flag in ("iscrowd", "difficult"):
            if flag in g:
                keep &= np.asarray(g[flag]) == 0
        gb, gl = np.asarray(g["boxes"], float).reshape(-1, 4)[keep], np.asarray(g["labels"])[keep]
        order = np.argsort(-np.asarray(p["scores"]), kind="stable")[:budget]
        pb, pl, pc = np.asarray(p["boxes"], float).reshape(-1, 4)[order], np.asarray(p["labels"])[order], \
            np.asarray(p["scores"])[order]
        correct = np.zeros((len(order), 10), bool)
        if len(gl) and len(order):
            iou = _iou_xyxy(gb, pb) * (gl[:, None] == pl[None, :])
            claimed = np.zeros((len(gl), 10), bool)
            for j in range(len(order)):
                for t, thr in enumerate(thresholds):
                    avail = np.where(claimed[:, t], 0.0, iou[:, j])
                    k = int(np.argmax(avail))
                    if avail[k] >= thr:
                        correct[j, t] = True
                        claimed[k, t] = True
        tps.append(correct)
        confs.append(pc)
        pcls.append(pl)
        tcls.append(gl)
    tp, conf, pred_cls, target_cls = (np.concatenate(tps), np.concatenate(confs), np.concatenate(pcls),
                                      np.concatenate(tcls))
    i = np.argsort(-conf, kind="stable")
    tp, conf, pred_cls = tp[i], conf[i], pred_cls[i]
    out = {}
    x = np.linspace(0, 1, 101)
    for c in np.unique(target_cls):
        n_l = int((target_cls == c).sum())
        m = pred_cls == c
        ap = np.zeros(10)
        if m.any():
            tpc = tp[m].cumsum(0)
            fpc = (1 - tp[m]).cumsum(0)
            for t in range(10):
                rec, prec = tpc[:, t] / n_l, tpc[:, t] / (tpc[:, t] + fpc[:, t])
                mrec = np.concatenate(([0.0], rec, [rec[-1]], [1.0]))
                mpre = np.concatenate(([1.0], prec, [0.0], [0.0]))
                mpre = np.flip(np.maximum.accumulate(np.flip(mpre)))
                ap[t] = np.trapezoid(np.interp(x, mrec, mpre), x)
        out[int(c)] = ap
    return out


def per_class_ap(result, t=None):
    """``{category: AP}`` (threshold index ``t``, or the mean over thresholds) from an EvaluationResult."""
    ap = result.ap[:, :, 0, -1]
    values = ap[t] if t is not None else ap.mean(axis=0)
    return {int(c): float(v) for c, v in zip(result.category_ids, values) if ap[0, list(result.category_ids).index(c)] > -1}


# ------------------------------------------------------------------------ presets vs references


@pytest.mark.parametrize("backend", BACKENDS)
@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 2**31), integer=st.booleans())
def test_voc_presets_equal_voc_eval(backend, seed, integer):
    preds, gts = scene(seed, difficult=True, integer=integer)
    for protocol, use_07, plus in (("voc07", True, 1.0), ("voc12", False, 1.0), ("dota", False, 0.0)):
        r = mean_ap(preds, gts, protocol=protocol, iou_thresholds=[0.5], backend=backend)
        ref = voc_eval_map(preds, gts, use_07=use_07, plus=plus)
        ours = per_class_ap(r, 0)
        assert set(ours) == set(ref), protocol
        for c in ref:
            assert ours[c] == pytest.approx(ref[c], abs=1e-12), (protocol, c)
        if ref:
            assert r.map50 == pytest.approx(np.mean(list(ref.values())), abs=1e-12)


@pytest.mark.parametrize("backend", BACKENDS)
@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 2**31), integer=st.booleans(), budget=st.sampled_from([300, 3]))
def test_ultralytics_preset_equals_its_definition(backend, seed, integer, budget):
    preds, gts = scene(seed, crowd=True, difficult=True, integer=integer)
    r = mean_ap(preds, gts, protocol="ultralytics", image_budget=budget, backend=backend)
    ref = ultralytics_reference(preds, gts, budget)
    ours = {int(c): r.ap[:, k, 0, -1] for k, c in enumerate(r.category_ids) if r.ap[0, k, 0, -1] > -1}
    assert set(ours) == set(ref)
    for c in ref:
        np.testing.assert_allclose(ours[c], ref[c], atol=1e-12, rtol=0)
    if ref:
        assert r.map50 == pytest.approx(np.mean([v[0] for v in ref.values()]), abs=1e-12)
        assert r.map == pytest.approx(np.mean([v.mean() for v in ref.values()]), abs=1e-12)


def test_coco_default_unchanged():
    preds, gts = scene(7, crowd=True)
    a = mean_ap(preds, gts)
    b = mean_ap(preds, gts, protocol="coco", iou_test=">=", box_plus_one=False, crowd="ignore",
                matching="coco", interpolation="coco", image_budget=0)
    assert a.map == b.map and np.array_equal(a.precision, b.precision)


def dota_task1_map(preds, gts, thresh=0.5, use_07=False):
    """The DOTA devkit's ``dota_evaluation_task1.py`` ``voc_eval`` on corner quads, mean over classes:
    candidates are the ground truths whose enclosing boxes overlap with the +1 (``iw = ixmax - ixmin +
    1``), their overlap the polygon IoU (shapely here, ``polyiou`` there), the best one taken once, a
    difficult one neither true nor false positive."""
    from shapely.geometry import Polygon

    def overlaps(q, g):
        ixmin = np.maximum(g[:, :, 0].min(1), q[:, 0].min())
        iymin = np.maximum(g[:, :, 1].min(1), q[:, 1].min())
        ixmax = np.minimum(g[:, :, 0].max(1), q[:, 0].max())
        iymax = np.minimum(g[:, :, 1].max(1), q[:, 1].max())
        inters = np.maximum(ixmax - ixmin + 1, 0) * np.maximum(iymax - iymin + 1, 0)
        keep = np.flatnonzero(inters > 0)
        if not keep.size:
            return -np.inf, -1
        ov = []
        for j in keep:
            a, b = Polygon(q), Polygon(g[j])
            inter = a.intersection(b).area
            ov.append(inter / (a.area + b.area - inter))
        return float(np.max(ov)), int(keep[int(np.argmax(ov))])

    return _devkit_map(preds, gts, "quads", overlaps, thresh, use_07)


def oriented_scene(seed, n_images=4, n_classes=2):
    """Rotated ground truths (some difficult) and jittered / spurious rotated detections, as corner quads."""
    from detmetrics import rotated_to_corners

    rng = np.random.default_rng(seed)
    preds, gts = [], []
    scores = rng.permutation(1000)[: 30 * n_images] / 1000.0 + 1e-3
    s = 0
    for _ in range(n_images):
        n = int(rng.integers(0, 5))
        g = np.column_stack([rng.uniform(20, 80, (n, 2)), rng.uniform(4, 30, (n, 2)), rng.uniform(-1.5, 1.5, n)])
        d = np.vstack([np.repeat(g, 2, axis=0) + rng.normal(0, [2, 2, 2, 2, 0.15], (2 * n, 5)),
                       np.column_stack([rng.uniform(20, 80, (2, 2)), rng.uniform(4, 30, (2, 2)),
                                        rng.uniform(-1.5, 1.5, 2)])])
        d[:, 2:4] = np.abs(d[:, 2:4]) + 1
        labels = rng.integers(0, n_classes, n)
        d_labels = np.concatenate([np.repeat(labels, 2), rng.integers(0, n_classes, 2)])
        flip = rng.random(d_labels.shape[0]) < 0.15
        d_labels[flip] = rng.integers(0, n_classes, int(flip.sum()))
        preds.append({"quads": rotated_to_corners(d), "scores": scores[s:s + len(d)], "labels": d_labels})
        s += len(d)
        gts.append({"quads": rotated_to_corners(g) if n else np.zeros((0, 4, 2)), "labels": labels,
                    "difficult": (rng.random(n) < 0.25).astype(int)})
    return preds, gts


@pytest.mark.parametrize("backend", BACKENDS)
@settings(max_examples=15, deadline=None)
@given(seed=st.integers(0, 2**31))
def test_dota_preset_equals_the_task1_script_on_oriented_boxes(backend, seed):
    preds, gts = oriented_scene(seed)
    as_input = ([{"boxes": p["quads"], "scores": p["scores"], "labels": p["labels"]} for p in preds],
                [{"boxes": g["quads"], "labels": g["labels"], "difficult": g["difficult"]} for g in gts])
    for interpolation, use_07 in ((None, False), ("voc11", True)):  # the preset's all-point, the script's 11
        r = mean_ap(*as_input, protocol="dota", iou_thresholds=[0.5], interpolation=interpolation, backend=backend)
        ref = dota_task1_map(preds, gts, use_07=use_07)
        ours = per_class_ap(r, 0)
        assert set(ours) == set(ref)
        for c in ref:
            assert ours[c] == pytest.approx(ref[c], abs=1e-9), (interpolation, c)


# ------------------------------------------------------------------------ hand cases


def _one(box, gt, iscrowd=0, **kw):
    preds = [{"boxes": [box], "scores": [0.9], "labels": [0]}]
    gts = [{"boxes": gt, "labels": [0] * len(gt), "iscrowd": [iscrowd] + [0] * (len(gt) - 1)}]
    return mean_ap(preds, gts, iou_thresholds=[0.5], **kw)


def test_crowd_is_false_positive_under_ultralytics_and_ignored_under_coco():
    preds = [{"boxes": [[0, 0, 10, 10], [50, 50, 60, 60]], "scores": [0.9, 0.95], "labels": [0, 0]}]
    gts = [{"boxes": [[0, 0, 10, 10], [48, 48, 62, 62]], "labels": [0, 0], "iscrowd": [0, 1]}]
    coco = mean_ap(preds, gts, iou_thresholds=[0.5])
    ultra = mean_ap(preds, gts, protocol="ultralytics", iou_thresholds=[0.5])
    assert coco.map == pytest.approx(1.0)  # the detection on the crowd is ignored
    # the higher-scored detection on the crowd is a false positive: P = 0 then 1/2 at recall 1
    assert ultra.map == pytest.approx(0.5 * 0.99 + 0.01 * 0.25)
    assert mean_ap(preds, gts, protocol="ultralytics", crowd="ignore", iou_thresholds=[0.5]).map == \
        pytest.approx(0.995)


def test_iou_exactly_half_under_both_tests():
    # [0, 0, 10, 10] against [0, 0, 20, 10]: IoU 100 / 200 = 0.5 exactly
    for kw, expected in (({}, 1.0), ({"iou_test": ">"}, 0.0), ({"protocol": "dota"}, 0.0),
                         ({"protocol": "dota", "iou_test": ">="}, 1.0)):
        assert _one([0, 0, 10, 10], [[0, 0, 20, 10]], **kw).map == pytest.approx(expected, abs=1e-12), kw


def test_plus_one_pixel_changes_a_match():
    # continuous: 10 / 20.5 = 0.488 < 0.5; +1 pixel: 11 / 21.5 = 0.512 > 0.5
    det, gt = [0, 0, 10, 10], [[0, 0, 10, 20.5]]
    assert _one(det, gt, protocol="voc12").map == pytest.approx(1.0)
    assert _one(det, gt, protocol="voc12", box_plus_one=False).map == 0.0
    assert _one(det, gt, protocol="dota").map == 0.0
    assert _one(det, gt, protocol="dota", box_plus_one=True).map == pytest.approx(1.0)


def test_equal_ious_go_to_the_first_ground_truth_under_ultralytics():
    # the first detection overlaps both objects equally (IoU 80 / 120); COCO gives it the last one, so the
    # second detection (exactly on the first object) still finds its object; ultralytics' np.argmax gives it
    # the first, and the second detection's only other candidate has IoU 60 / 140 < 0.5: a false positive
    preds = [{"boxes": [[0, 0, 10, 10], [-2, 0, 8, 10]], "scores": [0.9, 0.8], "labels": [0, 0]}]
    gts = [{"boxes": [[-2, 0, 8, 10], [2, 0, 12, 10]], "labels": [0, 0]}]
    kw = dict(iou_thresholds=[0.5])
    assert mean_ap(preds, gts, **kw).map == pytest.approx(1.0)
    assert mean_ap(preds, gts, matching="ultralytics", **kw).map == pytest.approx(51 / 101)  # recall 1/2
    ultra = mean_ap(preds, gts, protocol="ultralytics")
    assert ultra.map50 == pytest.approx(ultralytics_reference(preds, gts)[0][0], abs=1e-12)
    assert ultra.map50 < mean_ap(preds, gts, protocol="ultralytics", matching="coco").map50 == pytest.approx(0.995)


def test_image_budget_cuts_across_classes():
    preds = [{"boxes": [[0, 0, 10, 10], [20, 20, 30, 30]], "scores": [0.5, 0.9], "labels": [0, 1]}]
    gts = [{"boxes": [[0, 0, 10, 10], [20, 20, 30, 30]], "labels": [0, 1]}]
    assert mean_ap(preds, gts, protocol="ultralytics", image_budget=1).map == pytest.approx(0.995 / 2)
    assert mean_ap(preds, gts, protocol="ultralytics").map == pytest.approx(0.995)


def test_evaluator_and_evaluate_coco_take_protocols(tmp_path):
    preds, gts = scene(11, crowd=True)
    ev = Evaluator(protocol="ultralytics")
    ev.update(preds, gts)
    assert ev.compute().map == pytest.approx(mean_ap(preds, gts, protocol="ultralytics").map, abs=1e-12)
    images = [{"id": i + 1, "width": 200, "height": 200} for i in range(len(gts))]
    anns, res = [], []
    for i, (p, g) in enumerate(zip(preds, gts)):
        for b, lab, c in zip(g["boxes"], g["labels"], g["iscrowd"]):
            anns.append({"id": len(anns) + 1, "image_id": i + 1, "category_id": int(lab) + 1, "iscrowd": int(c),
                         "bbox": [b[0], b[1], b[2] - b[0], b[3] - b[1]], "area": (b[2] - b[0]) * (b[3] - b[1])})
        for b, lab, s in zip(p["boxes"], p["labels"], p["scores"]):
            res.append({"image_id": i + 1, "category_id": int(lab) + 1, "score": float(s),
                        "bbox": [b[0], b[1], b[2] - b[0], b[3] - b[1]]})
    gt = {"images": images, "annotations": anns, "categories": [{"id": c} for c in (1, 2, 3)]}
    ours = evaluate_coco(gt, res, protocol="ultralytics")
    ref = ultralytics_reference(preds, gts)
    assert ours.map == pytest.approx(np.mean([v.mean() for v in ref.values()]), abs=1e-9)


def _coco_files(preds, gts):
    """The scene as a COCO ground truth dict (with iscrowd) and a results list; class c -> category c + 1."""
    images = [{"id": i + 1, "width": 200, "height": 200} for i in range(len(gts))]
    anns, res = [], []
    for i, (p, g) in enumerate(zip(preds, gts)):
        for b, lab, c in zip(g["boxes"], g["labels"], g["iscrowd"]):
            anns.append({"id": len(anns) + 1, "image_id": i + 1, "category_id": int(lab) + 1, "iscrowd": int(c),
                         "bbox": [b[0], b[1], b[2] - b[0], b[3] - b[1]], "area": (b[2] - b[0]) * (b[3] - b[1])})
        for b, lab, sc in zip(p["boxes"], p["labels"], p["scores"]):
            res.append({"image_id": i + 1, "category_id": int(lab) + 1, "score": float(sc),
                        "bbox": [b[0], b[1], b[2] - b[0], b[3] - b[1]]})
    return {"images": images, "annotations": anns, "categories": [{"id": c} for c in (1, 2, 3)]}, res


@pytest.mark.parametrize("options", [
    dict(protocol="coco"), dict(protocol="voc07"), dict(protocol="voc12"), dict(protocol="dota"),
    dict(protocol="ultralytics"), dict(protocol="ultralytics", image_budget=3, crowd="ignore"),
    dict(protocol="dota", iou_test=">=", box_plus_one=True),
], ids=lambda o: ",".join(f"{k}={v}" for k, v in o.items()))
def test_evaluate_coco_takes_every_preset(options):
    # COCO files (xywh, integer boxes so that the xyxy -> xywh round trip is exact) equal mean_ap on the dicts
    preds, gts = scene(9, n_images=6, crowd=True, integer=True)
    gt, res = _coco_files(preds, gts)
    ours = evaluate_coco(gt, res, **options)
    expected = mean_ap(preds, gts, category_ids=[0, 1, 2], **options)
    for name in ("stats", "precision", "recall", "ap"):
        np.testing.assert_allclose(getattr(ours, name), getattr(expected, name), rtol=0, atol=1e-12, err_msg=name)


@pytest.mark.parametrize("options", [
    dict(protocol="voc07"), dict(protocol="voc12"), dict(protocol="dota"), dict(protocol="ultralytics"),
    dict(protocol="ultralytics", image_budget=2), dict(protocol="coco", iou_test=">", box_plus_one=True),
    dict(protocol="dota", crowd="drop", difficult="count"),
], ids=lambda o: ",".join(f"{k}={v}" for k, v in o.items()))
def test_evaluator_merge_keeps_the_protocol(options):
    # shards updated and merged in a tree equal one mean_ap call with the same switches
    preds, gts = scene(5, n_images=9, crowd=True, difficult=True, integer=True)
    expected = mean_ap(preds, gts, **options)
    shards = []
    for lo, hi in ((0, 2), (2, 3), (3, 7), (7, 9)):
        ev = Evaluator(**options)
        ev.update(preds[lo:hi], gts[lo:hi], image_ids=list(range(lo, hi)))
        shards.append(ev)
    left, right = shards[0].merge(shards[1]), shards[2].merge(shards[3])
    got = left.merge(right).compute()
    assert got.category_ids == expected.category_ids
    for name in ("stats", "precision", "recall", "scores", "ap"):
        np.testing.assert_allclose(getattr(got, name), getattr(expected, name), rtol=0, atol=1e-12, err_msg=name)


@pytest.mark.parametrize("a, b, name", [
    (dict(protocol="ultralytics"), dict(protocol="ultralytics", image_budget=10), "image_budget"),
    (dict(protocol="coco"), dict(protocol="coco", iou_test=">"), "iou_test"),
    (dict(protocol="voc12"), dict(protocol="dota"), "box_plus_one"),
    (dict(protocol="coco"), dict(protocol="coco", crowd="drop"), "crowd"),
])
def test_evaluator_merge_refuses_other_switches(a, b, name):
    preds, gts = scene(2)
    x, y = Evaluator(**a), Evaluator(**b)
    x.update(preds[:2], gts[:2], image_ids=[0, 1])
    y.update(preds[2:], gts[2:], image_ids=[2, 3])
    with pytest.raises(ValueError, match=f"different {name}"):
        x.merge(y)


def test_ultralytics_operating_point_hand_case():
    # one true positive per class, at 0.9 and 0.8: both curves are 1 below 0.8 (np.interp holds the
    # last value), so the smoothed mean-F1 maximum sits there with P = R = 1
    preds = [{"boxes": [[0, 0, 10, 10], [20, 20, 30, 30]], "scores": [0.9, 0.8], "labels": [0, 1]}]
    gts = [{"boxes": [[0, 0, 10, 10], [20, 20, 30, 30]], "labels": [0, 1]}]
    point = mean_ap(preds, gts, protocol="ultralytics").ultralytics_operating_point()
    assert point["confidence"] <= 0.8
    assert point["precision"] == {0: 1.0, 1: 1.0}
    assert point["recall"] == {0: pytest.approx(1.0), 1: pytest.approx(1.0)}
    # a false positive at 0.4 under class 0 interpolates precision linearly between 0.9 and 0.4
    preds[0]["boxes"].append([50, 50, 60, 60])
    preds[0]["scores"].append(0.4)
    preds[0]["labels"].append(0)
    point = mean_ap(preds, gts, protocol="ultralytics").ultralytics_operating_point()
    c = point["confidence"]
    assert 0.4 < c < 0.9
    assert point["precision"][0] == pytest.approx(1.0 - 0.5 * (0.9 - c) / 0.5)


@pytest.mark.parametrize("kw", [{"protocol": "yolo"}, {"iou_test": "=>"}, {"crowd": "keep"}, {"box_plus_one": 1},
                                {"image_budget": -1}, {"matching": "hungarian"}])
def test_bad_switches_raise(kw):
    preds, gts = scene(1)
    with pytest.raises((ValueError, TypeError), match=next(iter(kw))):
        mean_ap(preds, gts, **kw)


# ------------------------------------------------------------------------ masks and keypoints


def _rectangle_scene(seed, size=128):
    """``scene`` on integer boxes clipped to a ``size`` x ``size`` image, and the same scene as masks
    (each box filled): mask IoU, crowd overlap and areas are then the boxes' exactly."""
    preds, gts = scene(seed, n_images=5, crowd=True, difficult=True, integer=True)

    def masks(boxes):
        boxes = np.clip(np.asarray(boxes, dtype=np.float64).reshape(-1, 4), 0, size)
        boxes[:, 2:] = np.maximum(boxes[:, 2:], boxes[:, :2] + 1)
        out = np.zeros((boxes.shape[0], size + 1, size + 1), dtype=bool)
        for m, (x1, y1, x2, y2) in zip(out, boxes.astype(int)):
            m[y1:y2, x1:x2] = True
        return boxes, out

    box_p, box_g, mask_p, mask_g = [], [], [], []
    for p, g in zip(preds, gts):
        pb, pm = masks(p["boxes"])
        gb, gm = masks(g["boxes"])
        box_p.append({**p, "boxes": pb})
        box_g.append({**g, "boxes": gb})
        mask_p.append({"masks": pm, "scores": p["scores"], "labels": p["labels"]})
        mask_g.append({"masks": gm, "labels": g["labels"], "iscrowd": g["iscrowd"], "difficult": g["difficult"]})
    return box_p, box_g, mask_p, mask_g


@pytest.mark.parametrize("options", [
    dict(protocol="ultralytics"), dict(protocol="ultralytics", image_budget=2), dict(protocol="dota"),
    dict(protocol="coco", iou_test=">"), dict(protocol="coco", crowd="drop", difficult="count"),
    dict(protocol="voc12", box_plus_one=False), dict(protocol="voc07", box_plus_one=False),
], ids=lambda o: ",".join(f"{k}={v}" for k, v in o.items()))
@pytest.mark.parametrize("backend", BACKENDS)
def test_segm_switches_equal_the_same_boxes(options, backend):
    # filled rectangles: every switch but box_plus_one must give the boxes' numbers exactly
    for seed in range(4):
        box_p, box_g, mask_p, mask_g = _rectangle_scene(seed)
        boxes = mean_ap(box_p, box_g, backend=backend, **options)
        masks = mean_ap(mask_p, mask_g, iou_type="segm", backend=backend, **options)
        for name in ("stats", "precision", "recall", "ap"):
            np.testing.assert_allclose(getattr(masks, name), getattr(boxes, name), rtol=0, atol=1e-12,
                                       err_msg=f"{name} seed={seed}")


@pytest.mark.parametrize("protocol", ["voc07", "voc12"])
def test_plus_one_pixel_on_masks_and_keypoints_raises_naming_the_switch(protocol):
    _, _, mask_p, mask_g = _rectangle_scene(0)
    with pytest.raises(ValueError, match="box_plus_one=True .* axis-aligned boxes only; got masks"):
        mean_ap(mask_p, mask_g, iou_type="segm", protocol=protocol)
    kp = np.ones((1, 17, 3))
    with pytest.raises(ValueError, match="box_plus_one=True .* got keypoints"):
        mean_ap([{"keypoints": kp, "scores": [0.5], "labels": [0]}],
                [{"keypoints": kp, "boxes": [[0, 0, 2, 2]], "labels": [0]}], iou_type="keypoints",
                box_format="xywh", protocol=protocol)


def _pose(seed, n_images=4):
    rng = np.random.default_rng(seed)
    preds, gts = [], []
    for _ in range(n_images):
        n_g = int(rng.integers(1, 5))
        xy = rng.uniform(0, 60, (n_g, 1, 2))
        kp = np.concatenate([xy + rng.uniform(0, 30, (n_g, 17, 2)), np.full((n_g, 17, 1), 2.0)], axis=2)
        kp[rng.random(n_g) < 0.2] = 0.0  # a ground truth without keypoints: COCO ignores it
        lo, hi = kp[:, :, :2].min(axis=1), kp[:, :, :2].max(axis=1)
        det = np.repeat(kp, 2, axis=0)
        det[:, :, :2] += rng.normal(0, 2, det[:, :, :2].shape)
        det[:, :, 2] = 1.0
        preds.append({"keypoints": det, "scores": rng.permutation(2 * n_g) / 10 + 0.05,
                      "labels": np.zeros(2 * n_g, int)})
        gts.append({"keypoints": kp, "boxes": np.hstack([lo, hi - lo]), "labels": np.zeros(n_g, int),
                    "area": np.prod(hi - lo, axis=1) + 1.0, "iscrowd": (rng.random(n_g) < 0.25).astype(int),
                    "difficult": (rng.random(n_g) < 0.25).astype(int)})
    return preds, gts


def _without(gts, flag):
    """The ground truths without those flagged ``flag`` (what ``"drop"`` means)."""
    out = []
    for g in gts:
        keep = np.asarray(g[flag]) == 0
        out.append({k: np.asarray(v)[keep] for k, v in g.items()})
    return out


@pytest.mark.parametrize("backend", BACKENDS)
def test_keypoint_switches_follow_their_definitions(backend):
    kw = dict(iou_type="keypoints", box_format="xywh", backend=backend)
    hidden = 0
    for seed in range(4):
        preds, gts = _pose(seed)
        for flag, switch in (("iscrowd", "crowd"), ("difficult", "difficult")):
            # drop: the same as the flagged ground truths never given
            dropped = mean_ap(preds, gts, **{switch: "drop"}, **kw)
            rest = _without(gts, flag)
            np.testing.assert_allclose(dropped.precision, mean_ap(preds, rest, **kw).precision, rtol=0, atol=1e-12)
            # count: the same as the flag cleared
            cleared = [{**g, flag: np.zeros_like(g[flag])} for g in gts]
            np.testing.assert_allclose(mean_ap(preds, gts, **{switch: "count"}, **kw).precision,
                                       mean_ap(preds, cleared, **kw).precision, rtol=0, atol=1e-12)
        # a ground truth without keypoints stays ignored whatever difficult= says (COCO's rule, not a flag)
        hidden += sum(int(np.sum(np.asarray(g["keypoints"])[:, :, 2].max(axis=1) == 0)) for g in gts)
        base = [{k: v for k, v in g.items() if k != "difficult"} for g in gts]
        for rule in ("ignore", "drop", "count"):
            a = mean_ap(preds, base, difficult=rule, **kw)
            assert a.map == mean_ap(preds, base, **kw).map, rule
        # the per-image budget: the same as the detections cut beforehand
        cut = []
        for p in preds:
            top = np.argsort(-p["scores"], kind="stable")[:2]
            cut.append({k: np.asarray(v)[top] for k, v in p.items()})
        np.testing.assert_allclose(mean_ap(preds, gts, image_budget=2, **kw).precision,
                                   mean_ap(cut, gts, **kw).precision, rtol=0, atol=1e-12)
    assert hidden > 0  # the scenes hold ground truths without keypoints


def test_flags_are_bool_or_0_1_for_masks_and_keypoints_too():
    _, _, mask_p, mask_g = _rectangle_scene(0)
    mask_g[0] = {**mask_g[0], "iscrowd": np.full(len(mask_g[0]["labels"]), 2)}
    with pytest.raises(ValueError, match=r"ground_truths\[0\]\['iscrowd'\] must hold bool or 0/1 flags"):
        mean_ap(mask_p, mask_g, iou_type="segm")
    preds, gts = _pose(0)
    gts[1] = {**gts[1], "difficult": np.full(len(gts[1]["labels"]), 0.5)}
    with pytest.raises(ValueError, match=r"ground_truths\[1\]\['difficult'\] must hold bool or 0/1 flags"):
        mean_ap(preds, gts, iou_type="keypoints", box_format="xywh")


# ------------------------------------------------------------------------ the real ultralytics


def _torch_python():
    python = os.environ.get("DETMETRICS_TORCH_PYTHON")
    if not python:
        pytest.skip("DETMETRICS_TORCH_PYTHON is not set (an interpreter with ultralytics 8.4 installed)")
    return python


def _run_ultralytics(python, images):
    script = pathlib.Path(__file__).with_name("_ultralytics_oracle.py")
    run = subprocess.run([python, str(script)], input=json.dumps(images), capture_output=True, text=True,
                         timeout=300)
    assert run.returncode == 0, run.stderr[-2000:]
    return json.loads(run.stdout.strip().splitlines()[-1])


def test_ultralytics_float32_iou_is_the_documented_difference():
    # docs/protocols.md: ultralytics' IoU is float32 with + 1e-7 in the union.  On an IoU of exactly 0.5
    # (integer boxes) the epsilon is lost in float32 rounding and both match; an IoU just below 0.5 in
    # float64 (0.49999997) rounds to 0.5 in float32: ultralytics matches it at t = 0.50, detmetrics does not
    python = _torch_python()
    for det, gt, expected_theirs, expected_ours in (
            ([0, 0, 10, 10], [0, 0, 20, 10], 0.995, 0.995),
            ([0, 0, 84.5, 17.75], [0, 0, 112.5, 26.664445877075195], 0.995, 0.0)):
        theirs = _run_ultralytics(python, [{"pred": [det + [0.9, 0]], "gt": [[0] + gt]}])
        ours = mean_ap([{"boxes": [det], "scores": [0.9], "labels": [0]}], [{"boxes": [gt], "labels": [0]}],
                       protocol="ultralytics")
        assert theirs["ap"][0][0] == pytest.approx(expected_theirs, abs=1e-12)
        assert ours.map50 == pytest.approx(expected_ours, abs=1e-12)
        print(f"ultralytics {theirs['version']} IoU test on {det} vs {gt}: AP50 theirs {theirs['ap'][0][0]:.3f}, "
              f"detmetrics {ours.map50:.3f}")


def test_ultralytics_tie_rule_on_installed_ultralytics():
    # the equal-IoU hand case above, run by ultralytics itself: its first-of-equal-IoUs rule costs the match
    python = _torch_python()
    preds = [{"boxes": [[0, 0, 10, 10], [-2, 0, 8, 10]], "scores": [0.9, 0.8], "labels": [0, 0]}]
    gts = [{"boxes": [[-2, 0, 8, 10], [2, 0, 12, 10]], "labels": [0, 0]}]
    theirs = _run_ultralytics(python, [{"pred": [b + [s, c] for b, s, c in zip(preds[0]["boxes"], preds[0]["scores"],
                                                                              preds[0]["labels"])],
                                        "gt": [[c] + b for b, c in zip(gts[0]["boxes"], gts[0]["labels"])]}])
    ours = mean_ap(preds, gts, protocol="ultralytics")
    np.testing.assert_allclose(ours.ap[:, 0, 0, -1], theirs["ap"][0], atol=1e-12, rtol=0)
    assert ours.map50 < mean_ap(preds, gts, protocol="ultralytics", matching="coco").map50
    print(f"ultralytics {theirs['version']} equal-IoU case: AP50 theirs {theirs['ap'][0][0]:.4f}, "
          f"detmetrics {ours.map50:.4f}")


def test_ultralytics_preset_equals_installed_ultralytics():
    python = _torch_python()
    worst_ap = worst_pr = 0.0
    n_classes = 0
    for seed in range(12):
        # odd seeds on integer boxes: IoUs of exactly 0.5 and other ties on the thresholds
        preds, gts = scene(seed, n_images=6, crowd=True, integer=seed % 2 == 1)
        images = []
        for p, g in zip(preds, gts):
            keep = np.asarray(g["iscrowd"]) == 0  # ultralytics' COCO converter drops crowds
            images.append({"pred": [list(b) + [float(s), int(c)] for b, s, c in zip(p["boxes"], p["scores"],
                                                                                     p["labels"])],
                           "gt": [[int(c)] + list(b) for b, c in zip(np.asarray(g["boxes"])[keep],
                                                                     np.asarray(g["labels"])[keep])]})
        theirs = _run_ultralytics(python, images)
        assert theirs["version"].startswith("8.4")
        r = mean_ap(preds, gts, protocol="ultralytics")
        ours = {int(c): r.ap[:, k, 0, -1] for k, c in enumerate(r.category_ids) if r.ap[0, k, 0, -1] > -1}
        assert sorted(ours) == [int(c) for c in theirs["classes"]]
        ap = np.array(theirs["ap"])
        np.testing.assert_allclose(np.array([ours[int(c)] for c in theirs["classes"]]), ap, atol=1e-9, rtol=0)
        if ap.size:
            assert r.map50 == pytest.approx(ap[:, 0].mean(), abs=1e-9)
            assert r.map == pytest.approx(ap.mean(), abs=1e-9)
        point = r.ultralytics_operating_point()
        classes = [int(c) for c in theirs["classes"]]
        np.testing.assert_allclose([point["precision"][c] for c in classes], theirs["p"], atol=1e-9, rtol=0)
        np.testing.assert_allclose([point["recall"][c] for c in classes], theirs["r"], atol=1e-9, rtol=0)
        np.testing.assert_allclose([point["f1"][c] for c in classes], theirs["f1"], atol=1e-9, rtol=0)
        if ap.size:
            worst_ap = max(worst_ap, float(np.abs(np.array([ours[c] for c in classes]) - ap).max()))
            worst_pr = max(worst_pr, float(np.abs(np.array([point["precision"][c] for c in classes])
                                                  - theirs["p"]).max()),
                           float(np.abs(np.array([point["recall"][c] for c in classes]) - theirs["r"]).max()),
                           float(np.abs(np.array([point["f1"][c] for c in classes]) - theirs["f1"]).max()))
        n_classes += len(classes)
    print(f"ultralytics {theirs['version']}: 12 scenes (6 on integer boxes), {n_classes} class APs at 10 thresholds; "
          f"max |AP diff| {worst_ap:.1e}, max |P/R/F1 diff| at its max-mean-F1 confidence {worst_pr:.1e}")
