"""``explain_gap``: steps that add up, each switch moving mAP the way a hand case says, and the CLI."""

from __future__ import annotations

import itertools
import json
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from test_protocols import scene

from detmetrics import mean_ap
from detmetrics._inputs import PROTOCOLS
from detmetrics.cli import main
from detmetrics.diagnostics import explain_gap
from detmetrics.io import sample_path


@settings(max_examples=10, deadline=None)
@given(seed=st.integers(0, 2**31))
def test_steps_add_up_on_every_path(seed):
    preds, gts = scene(seed, crowd=True, difficult=True)
    for a, b in itertools.permutations(PROTOCOLS, 2):
        report = explain_gap(preds, gts, from_protocol=a, to_protocol=b)
        assert report.from_map == mean_ap(preds, gts, protocol=a).map
        assert report.to_map == mean_ap(preds, gts, protocol=b).map
        assert math.fsum(s.delta for s in report.steps) == pytest.approx(report.to_map - report.from_map,
                                                                         abs=1e-12)
        previous = report.from_map
        for step in report.steps:
            assert step.delta == step.map_after - previous
            previous = step.map_after


def test_crowd_step_moves_the_way_the_hand_case_says():
    preds = [{"boxes": [[0, 0, 10, 10], [50, 50, 60, 60]], "scores": [0.9, 0.95], "labels": [0, 0]}]
    gts = [{"boxes": [[0, 0, 10, 10], [48, 48, 62, 62]], "labels": [0, 0], "iscrowd": [0, 1]}]
    report = explain_gap(preds, gts, from_protocol="ultralytics", to_protocol="coco")
    crowd = next(s for s in report.steps if s.switch == "crowd")
    assert crowd.delta > 0  # the detection on the crowd stops being a false positive
    assert crowd.counts["crowd_ground_truths"] == 1
    assert crowd.counts["fp_before"] - crowd.counts["fp_after"] == 10  # one detection at ten thresholds
    interp = next(s for s in report.steps if s.switch == "interpolation")
    assert interp.map_after == pytest.approx(1.0) and interp.delta == pytest.approx(0.005)


def test_iou_test_step_on_an_exact_half():
    preds = [{"boxes": [[0, 0, 10, 10]], "scores": [0.9], "labels": [0]}]
    gts = [{"boxes": [[0, 0, 20, 10]], "labels": [0]}]  # IoU exactly 0.5
    report = explain_gap(preds, gts, from_protocol="dota", to_protocol="coco")
    step = next(s for s in report.steps if s.switch == "iou_test")
    assert step.delta == pytest.approx(0.1) and step.counts["changed"] == 1  # gained at t = 0.50 only


def test_image_budget_step_counts_cut_detections():
    # 305 detections in one image: ultralytics keeps 300 across classes, COCO 100 per class
    n = 305
    boxes = [[i, 0, i + 10, 10] for i in range(n)]
    preds = [{"boxes": boxes, "scores": 1.0 - np.arange(n) / 1000.0, "labels": np.arange(n) % 2}]
    gts = [{"boxes": boxes[::-1][:2], "labels": [0, 1]}]
    report = explain_gap(preds, gts, from_protocol="ultralytics", to_protocol="coco")
    steps = {s.switch: s for s in report.steps}
    assert steps["image_budget"].counts["detections_cut"] == 5
    assert steps["image_budget"].delta > 0  # the cut detections held the two true positives
    assert steps["max_detections"].counts["detections_cut"] == n - 200
    assert steps["max_detections"].delta < 0


def test_bad_protocol_names_the_argument():
    with pytest.raises(ValueError, match="from_protocol"):
        explain_gap([], [], from_protocol="yolo")


def test_cli_on_the_bundled_sample(tmp_path, capsys):
    s = sample_path("yolo")
    out = tmp_path / "gap.json"
    assert main(["explain-gap", str(s), str(s / "predictions"), "--json", str(out)]) == 0
    text = capsys.readouterr().out
    assert "interpolation" in text and "total" in text
    report = json.loads(out.read_text())
    assert math.fsum(st["delta"] for st in report["steps"]) == pytest.approx(
        report["to_map"] - report["from_map"], abs=1e-12)


def test_cli_on_coco_with_crowds(tmp_path, capsys):
    gt = json.loads(sample_path("coco-gt").read_text())
    res = json.loads(sample_path("coco-results").read_text())
    gt["annotations"][0]["iscrowd"] = 1
    (tmp_path / "gt.json").write_text(json.dumps(gt))
    (tmp_path / "res.json").write_text(json.dumps(res))
    assert main(["explain-gap", str(tmp_path / "gt.json"), str(tmp_path / "res.json")]) == 0
    text = capsys.readouterr().out
    assert "crowd_ground_truths=" in text
    assert main(["explain-gap", str(tmp_path / "gt.json"), str(tmp_path / "missing.json")]) == 2
    assert "error" in capsys.readouterr().err


def _step(report, switch):
    return next(s for s in report.steps if s.switch == switch)


def test_crowd_step_counts_the_detection_on_the_crowd():
    preds = [{"boxes": [[0, 0, 10, 10], [50, 50, 60, 60]], "scores": [0.9, 0.95], "labels": [0, 0]}]
    gts = [{"boxes": [[0, 0, 10, 10], [48, 48, 62, 62]], "labels": [0, 0], "iscrowd": [0, 1]}]
    for a, b in (("ultralytics", "coco"), ("coco", "ultralytics")):
        step = _step(explain_gap(preds, gts, from_protocol=a, to_protocol=b), "crowd")
        assert step.counts["detections_on_crowd"] == 1
        assert step.counts["changed"] == 10 and step.counts["gained"] == step.counts["lost"] == 0


def test_difficult_step_moves_the_way_the_hand_case_says():
    # the higher-scored detection sits on a difficult object: ignored under COCO, a false positive once
    # ultralytics drops the object (COCO's 101 points: precision 1/2 at every recall point)
    preds = [{"boxes": [[0, 0, 10, 10], [50, 50, 60, 60]], "scores": [0.9, 0.95], "labels": [0, 0]}]
    gts = [{"boxes": [[0, 0, 10, 10], [50, 50, 60, 60]], "labels": [0, 0], "difficult": [0, 1]}]
    report = explain_gap(preds, gts, from_protocol="coco", to_protocol="ultralytics")
    assert report.from_map == pytest.approx(1.0)
    assert _step(report, "crowd").delta == 0.0 and _step(report, "crowd").counts["crowd_ground_truths"] == 0
    step = _step(report, "difficult")
    assert step.map_after == pytest.approx(0.5) and step.delta == pytest.approx(-0.5)
    assert step.counts["difficult_ground_truths"] == 1 and step.counts["detections_on_difficult"] == 1
    assert step.counts["fp_after"] - step.counts["fp_before"] == 10


def test_box_plus_one_step_on_a_small_box():
    # continuous 10 / 20.5 = 0.488, +1 pixel 11 / 21.5 = 0.512: matched at t = 0.50 only with the +1
    preds = [{"boxes": [[0, 0, 10, 10]], "scores": [0.9], "labels": [0]}]
    gts = [{"boxes": [[0, 0, 10, 20.5]], "labels": [0]}]
    report = explain_gap(preds, gts, from_protocol="voc12", to_protocol="dota")
    assert [s.switch for s in report.steps] == ["box_plus_one"]
    step = report.steps[0]
    assert report.from_map == pytest.approx(0.1) and step.map_after == 0.0
    assert step.counts["lost"] == 1 and step.counts["gained"] == 0


def test_matching_step_on_a_taken_ground_truth():
    # two overlapping objects (IoU 9/11 = 0.818); both detections' best object is the first: the devkit's rule
    # makes the second a false positive, COCO's gives it the other object at the 7 thresholds <= 0.818
    preds = [{"boxes": [[0, 0, 10, 10], [0, 0, 10, 10]], "scores": [0.9, 0.8], "labels": [0, 0]}]
    gts = [{"boxes": [[0, 0, 10, 10], [1, 0, 11, 10]], "labels": [0, 0]}]
    report = explain_gap(preds, gts, from_protocol="dota", to_protocol="coco")
    step = _step(report, "matching")
    assert step.counts["gained"] == 7 and step.counts["lost"] == 0
    # all-point AP: 1/2 (recall 1/2 at precision 1) -> 1 at each of the 7 thresholds
    assert step.delta == pytest.approx(0.5 * 7 / 10)


def test_iou_test_step_counts_pairs_at_the_threshold():
    preds = [{"boxes": [[0, 0, 10, 10], [30, 0, 40, 10]], "scores": [0.9, 0.8], "labels": [0, 0]}]
    gts = [{"boxes": [[0, 0, 20, 10], [30, 0, 40, 10]], "labels": [0, 0]}]  # IoU exactly 0.5, and 1
    step = _step(explain_gap(preds, gts, from_protocol="dota", to_protocol="coco"), "iou_test")
    assert step.counts["pairs_at_threshold"] == 1 and step.counts["gained"] == 1


def _rotated_scene(seed):
    rng = np.random.default_rng(seed)
    preds, gts = [], []
    for _ in range(4):
        n = int(rng.integers(1, 5))
        g = np.column_stack([rng.uniform(20, 80, (n, 2)), rng.uniform(5, 30, (n, 2)), rng.uniform(-1.5, 1.5, n)])
        d = np.repeat(g, 2, axis=0) + rng.normal(0, [2, 2, 2, 2, 0.1], (2 * n, 5))
        d[:, 2:4] = np.abs(d[:, 2:4]) + 1
        preds.append({"boxes": d, "scores": rng.permutation(2 * n) / 10 + 0.05, "labels": rng.integers(0, 2, 2 * n)})
        gts.append({"boxes": g, "labels": rng.integers(0, 2, n), "iscrowd": (rng.random(n) < 0.3).astype(int)})
    return preds, gts


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_rotated_paths_between_the_presets_without_plus_one(seed):
    preds, gts = _rotated_scene(seed)
    presets = ("coco", "dota", "ultralytics")
    for a, b in itertools.permutations(presets, 2):
        report = explain_gap(preds, gts, from_protocol=a, to_protocol=b)
        assert report.from_map == mean_ap(preds, gts, protocol=a).map
        assert report.to_map == mean_ap(preds, gts, protocol=b).map
        assert math.fsum(s.delta for s in report.steps) == pytest.approx(report.to_map - report.from_map,
                                                                         abs=1e-12)
    with pytest.raises(ValueError, match="axis-aligned boxes only \\(got 'rotated' data\\); use 'dota'"):
        explain_gap(preds, gts, from_protocol="voc12", to_protocol="dota")


def test_the_documented_example_explains_ultralytics_against_pycocotools(tmp_path, capsys):
    # docs/protocols.md's example: the bundled YOLO export against the COCO ground truth with crowds
    import contextlib
    import io

    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval

    from detmetrics.io import load_ground_truth, load_predictions

    gt_path = sample_path("coco-gt-crowd")
    gt = load_ground_truth(gt_path)
    pred = load_predictions(sample_path("yolo") / "predictions", gt)
    kwargs = gt.mean_ap_kwargs("bbox")
    records = pred.records_for("bbox"), gt.records_for("bbox")
    out = tmp_path / "gap.json"
    assert main(["explain-gap", str(gt_path), str(sample_path("yolo") / "predictions"), "--json", str(out)]) == 0
    report = json.loads(out.read_text())
    assert report["from_map"] == mean_ap(*records, protocol="ultralytics", **kwargs).map
    # COCO's end is pycocotools' own number on the same boxes (the results file is the export's predictions)
    with contextlib.redirect_stdout(io.StringIO()):
        coco_gt = COCO(str(gt_path))
        ev = COCOeval(coco_gt, coco_gt.loadRes(str(sample_path("coco-results"))), "bbox")
        ev.evaluate()
        ev.accumulate()
        ev.summarize()
    assert report["to_map"] == pytest.approx(ev.stats[0], abs=1e-12)
    steps = {s["switch"]: s for s in report["steps"]}
    assert steps["crowd"]["counts"]["crowd_ground_truths"] == 3
    assert steps["crowd"]["counts"]["detections_on_crowd"] == 4
    assert steps["crowd"]["delta"] > 0 and steps["interpolation"]["delta"] > 0
    moved = {name for name, s in steps.items() if s["delta"] != 0}
    assert moved == {"crowd", "interpolation"}
    assert "crowd_ground_truths=3" in capsys.readouterr().out


def test_masks_and_keypoints_walk_the_same_paths():
    from test_protocols import _pose, _rectangle_scene

    box_p, box_g, mask_p, mask_g = _rectangle_scene(1)
    pose_p, pose_g = _pose(1)
    for a, b in itertools.permutations(("coco", "dota", "ultralytics"), 2):
        boxes = explain_gap(box_p, box_g, from_protocol=a, to_protocol=b)
        masks = explain_gap(mask_p, mask_g, from_protocol=a, to_protocol=b, iou_type="segm")
        # filled rectangles: the masks' report is the boxes' (the exact-threshold count is for boxes only)
        assert [s.switch for s in masks.steps] == [s.switch for s in boxes.steps]
        assert masks.from_map == pytest.approx(boxes.from_map, abs=1e-12)
        for m, s in zip(masks.steps, boxes.steps):
            assert m.map_after == pytest.approx(s.map_after, abs=1e-12), (a, b, m.switch)
            assert m.counts == {k: v for k, v in s.counts.items() if k != "pairs_at_threshold"}
        pose = explain_gap(pose_p, pose_g, from_protocol=a, to_protocol=b, iou_type="keypoints", box_format="xywh")
        assert pose.from_map == mean_ap(pose_p, pose_g, protocol=a, iou_type="keypoints", box_format="xywh").map
        assert pose.to_map == mean_ap(pose_p, pose_g, protocol=b, iou_type="keypoints", box_format="xywh").map
    with pytest.raises(ValueError, match="axis-aligned boxes only \\(got 'mask' data\\)"):
        explain_gap(mask_p, mask_g, from_protocol="voc07", to_protocol="coco", iou_type="segm")
