"""Rotated evaluation: mean_ap with (N, 5) rotated boxes and (N, 4, 2) quads (DOTA / YOLO-OBB).

The hand-worked case (one class, two images, three objects)::

    image 0: objects A, B        image 1: object C
    detections by score:
      0.9  A exactly              -> TP (IoU 1)
      0.8  B shifted by 5 along w -> FP (IoU 1/3 < 0.5)
      0.7  C turned by pi         -> TP (IoU 1, same rectangle)
      0.6  A again                -> FP (A is taken)
      0.5  B exactly              -> TP

    recall    1/3  1/3  2/3  2/3  1
    precision 1    1/2  2/3  1/2  3/5
    envelope  1    2/3  2/3  3/5  3/5

* all-point ("voc", VOC2010+ / DOTA task 1): 1/3*1 + 1/3*2/3 + 1/3*3/5 = 34/45
* 11-point ("voc11", VOC2007 / DOTA devkit default): (4*1 + 3*2/3 + 4*3/5) / 11 = 8.4/11
* 101-point ("coco"): (34*1 + 33*2/3 + 34*3/5) / 101 = 76.4/101
"""

import math

import numpy as np
import pytest

from detmetrics import mean_ap, rotated_iou, rotated_to_corners

A = (10.0, 10.0, 8.0, 4.0, 0.3)
B = (40.0, 40.0, 10.0, 6.0, -0.7)
C = (20.0, 20.0, 6.0, 6.0, math.pi / 4)
B_SHIFTED = (40.0 + 5 * math.cos(-0.7), 40.0 + 5 * math.sin(-0.7), 10.0, 6.0, -0.7)
C_TURNED = (20.0, 20.0, 6.0, 6.0, math.pi / 4 + math.pi)

EXPECTED = {"voc": 34 / 45, "voc11": 8.4 / 11, "coco": 76.4 / 101}


def dota_case(as_quads=False):
    def boxes(rows):
        arr = np.array(rows, dtype=np.float64)
        return rotated_to_corners(arr) if as_quads else arr

    ground_truths = [
        {"boxes": boxes([A, B]), "labels": np.array([1, 1])},
        {"boxes": boxes([C]), "labels": np.array([1])},
    ]
    predictions = [
        {"boxes": boxes([A, B_SHIFTED, A, B]), "scores": np.array([0.9, 0.8, 0.6, 0.5]), "labels": np.array([1, 1, 1, 1])},
        {"boxes": boxes([C_TURNED]), "scores": np.array([0.7]), "labels": np.array([1])},
    ]
    return predictions, ground_truths


def test_hand_case_ious():
    assert rotated_iou([A], [A]).tolist() == [[1.0]]
    assert rotated_iou([C], [C_TURNED])[0, 0] == pytest.approx(1.0, abs=1e-12)
    assert rotated_iou([B], [B_SHIFTED])[0, 0] == pytest.approx(1 / 3, abs=1e-12)


@pytest.mark.parametrize("as_quads", [False, True], ids=["rotated", "quads"])
@pytest.mark.parametrize("interpolation", ["voc", "voc11", "coco"])
@pytest.mark.parametrize("backend", ["numba", "numpy"])
def test_dota_style_ap(interpolation, as_quads, backend):
    predictions, ground_truths = dota_case(as_quads)
    result = mean_ap(predictions, ground_truths, iou_thresholds=[0.5], interpolation=interpolation, backend=backend)
    assert result.map == pytest.approx(EXPECTED[interpolation], abs=1e-12)
    assert result.per_class[1]["ap"] == pytest.approx(EXPECTED[interpolation], abs=1e-12)
    assert result.per_class[1]["n_gt"] == 3


def test_rotated_area_ranges_use_w_times_h():
    # areas w*h = 32, 60, 36: all "small" (< 32**2); nothing is medium or large
    predictions, ground_truths = dota_case()
    result = mean_ap(predictions, ground_truths, iou_thresholds=[0.5], interpolation="voc")
    assert result.map_small == pytest.approx(EXPECTED["voc"], abs=1e-12)
    assert result.map_medium == -1 and result.map_large == -1


def test_rotated_and_quads_agree_on_random_scenes():
    rng = np.random.default_rng(0)
    predictions, ground_truths = [], []
    for _ in range(6):
        gt = np.column_stack([rng.uniform(0, 200, (8, 2)), rng.uniform(5, 60, (8, 2)), rng.uniform(-3, 3, 8)])
        det = np.concatenate([gt + rng.normal(0, 2, gt.shape), gt[:3] + rng.normal(0, 8, (3, 5))])
        det[:, 2:4] = np.abs(det[:, 2:4])
        ground_truths.append({"boxes": gt, "labels": rng.integers(0, 3, len(gt))})
        predictions.append({"boxes": det, "scores": rng.uniform(0, 1, len(det)), "labels": rng.integers(0, 3, len(det))})
    as_quads = lambda items: [{**d, "boxes": rotated_to_corners(d["boxes"])} for d in items]
    rotated = mean_ap(predictions, ground_truths)
    quads = mean_ap(as_quads(predictions), as_quads(ground_truths), area_ranges="coco")
    # quads' areas are polygon areas (equal to w*h up to rounding): the same stats
    np.testing.assert_allclose(rotated.stats, quads.stats, rtol=0, atol=1e-12)
