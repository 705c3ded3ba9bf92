"""YOLO-style confusion matrix: reference == kernel, hand-checked cases, bad input."""

import numpy as np
import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from detmetrics.confusion import confusion_matrix


@st.composite
def images(draw, n_classes=3, max_images=4, max_boxes=6):
    """Per-image predictions / ground truths on a coarse grid (duplicates and IoU ties are common)."""

    def boxes(n):
        xy = draw(st.lists(st.tuples(st.integers(0, 6), st.integers(0, 6), st.integers(0, 4), st.integers(0, 4)),
                           min_size=n, max_size=n))
        return [[x, y, x + w, y + h] for x, y, w, h in xy]

    n_images = draw(st.integers(0, max_images))
    preds, gts = [], []
    for _ in range(n_images):
        n_det = draw(st.integers(0, max_boxes))
        n_gt = draw(st.integers(0, max_boxes))
        preds.append({
            "boxes": boxes(n_det),
            "scores": draw(st.lists(st.sampled_from([0.1, 0.25, 0.5, 0.9]), min_size=n_det, max_size=n_det)),
            "labels": draw(st.lists(st.integers(0, n_classes - 1), min_size=n_det, max_size=n_det)),
        })
        gts.append({"boxes": boxes(n_gt),
                    "labels": draw(st.lists(st.integers(0, n_classes - 1), min_size=n_gt, max_size=n_gt))})
    return preds, gts


@given(images(), st.sampled_from([0.0, 0.25, 0.5]), st.sampled_from([0.0, 0.3, 0.45, 0.5]))
@example(([{"boxes": [[0, 0, 2, 2], [0, 0, 2, 2]], "scores": [0.9, 0.9], "labels": [0, 1]}],
          [{"boxes": [[0, 0, 2, 2], [0, 0, 2, 2]], "labels": [1, 0]}]), 0.25, 0.45)
def test_reference_equals_kernel(data, conf, iou):
    preds, gts = data
    ref = confusion_matrix(preds, gts, num_classes=3, conf_threshold=conf, iou_threshold=iou, backend="numpy")
    ker = confusion_matrix(preds, gts, num_classes=3, conf_threshold=conf, iou_threshold=iou, backend="numba")
    np.testing.assert_array_equal(ref, ker)
    # column sums: every ground truth counted once; row sums: every kept detection once
    n_gt = np.bincount(np.concatenate([np.asarray(g["labels"], int) for g in gts] + [np.zeros(0, int)]), minlength=3)
    np.testing.assert_array_equal(ref[:, :3].sum(axis=0), n_gt)
    kept = [np.asarray(p["labels"], int)[np.asarray(p["scores"]) > conf] for p in preds]
    n_det = np.bincount(np.concatenate(kept + [np.zeros(0, int)]), minlength=3)
    np.testing.assert_array_equal(ref[:3].sum(axis=1), n_det)
    assert ref[3, 3] == 0


@pytest.mark.parametrize("backend", ["numpy", "numba"])
def test_hand_checked(backend):
    # image 1: a hit (cat/cat), a class confusion (dog predicted as cat), a miss (dog),
    #          a low-score detection that is dropped, a false alarm (dog)
    # image 2: no ground truth, one detection above the threshold -> false alarm (cat)
    gts = [{"boxes": [[0, 0, 10, 10], [20, 0, 30, 10], [40, 0, 50, 10]], "labels": [0, 1, 1]},
           {"boxes": np.zeros((0, 4)), "labels": []}]
    preds = [{"boxes": [[0, 0, 10, 10], [21, 0, 30, 10], [40, 0, 50, 10], [100, 100, 110, 110]],
              "scores": [0.9, 0.8, 0.2, 0.5], "labels": [0, 0, 1, 1]},
             {"boxes": [[0, 0, 5, 5], [1, 1, 2, 2]], "scores": [0.3, 0.25], "labels": [0, 1]}]
    m = confusion_matrix(preds, gts, num_classes=2, backend=backend)
    #            true: cat dog bg
    expected = [[1, 1, 1],   # predicted cat
                [0, 0, 1],   # predicted dog
                [0, 1, 0]]   # background (missed)
    assert m.tolist() == expected


@pytest.mark.parametrize("backend", ["numpy", "numba"])
def test_two_step_matching_as_ultralytics(backend):
    # det A overlaps gt1 (0.9-ish) and gt2; det B overlaps only gt1, less than A.
    # Step 1: each detection keeps its best gt: A->gt1, B->gt1.  Step 2: gt1 keeps A.
    # B is a false alarm and gt2 is missed, although B overlaps gt2 above the threshold
    # (a greedy one-to-one matching would pair B with gt2).
    gts = [{"boxes": [[0, 0, 10, 10], [0, 0, 10, 12]], "labels": [0, 1]}]
    preds = [{"boxes": [[0, 0, 10, 10.5], [0, 0, 10, 9]], "scores": [0.9, 0.8], "labels": [0, 0]}]
    m = confusion_matrix(preds, gts, num_classes=2, iou_threshold=0.5, backend=backend)
    assert m.tolist() == [[1, 0, 1], [0, 0, 0], [0, 1, 0]]
    # a case where ultralytics' two steps differ from greedy matching:
    # A: gt1 0.9 ; B: gt1 0.85 and gt2 0.6.  Step 1 sends both A and B to gt1, so B and gt2 stay unmatched.
    gts = [{"boxes": [[0, 0, 100, 100], [0, 40, 100, 140]], "labels": [0, 0]}]
    preds = [{"boxes": [[0, 0, 100, 90], [0, 5, 100, 115]], "scores": [0.9, 0.8], "labels": [0, 0]}]
    m = confusion_matrix(preds, gts, num_classes=1, iou_threshold=0.45, backend=backend)
    assert m.tolist() == [[1, 1], [1, 0]]


def test_oriented_boxes_match_axis_aligned_quads():
    gts = [{"boxes": [[0, 0, 10, 10], [20, 0, 30, 10]], "labels": [0, 1]}]
    preds = [{"boxes": [[1, 0, 10, 10], [20, 0, 30, 10]], "scores": [0.9, 0.8], "labels": [0, 0]}]

    def quads(b):
        return [[[x1, y1], [x2, y1], [x2, y2], [x1, y2]] for x1, y1, x2, y2 in b]

    q_gts = [{"boxes": quads(g["boxes"]), "labels": g["labels"]} for g in gts]
    q_preds = [{**p, "boxes": quads(p["boxes"])} for p in preds]
    expected = confusion_matrix(preds, gts, num_classes=2)
    np.testing.assert_array_equal(confusion_matrix(q_preds, q_gts, num_classes=2), expected)
    rotated = [{"boxes": [[5, 5, 10, 10, 0.0], [25, 5, 10, 10, 0.0]], "labels": [0, 1]}]
    rpred = [{"boxes": [[5.5, 5, 9, 10, 0.0], [25, 5, 10, 10, 0.0]], "scores": [0.9, 0.8], "labels": [0, 0]}]
    np.testing.assert_array_equal(confusion_matrix(rpred, rotated, num_classes=2), expected)


def test_box_format_and_empty():
    assert confusion_matrix([], [], num_classes=2).tolist() == [[0] * 3] * 3
    gts = [{"boxes": [[5, 5, 10, 10]], "labels": [0]}]  # cxcywh
    preds = [{"boxes": [[0, 0, 10, 10]], "scores": [0.9], "labels": [0]}]  # xyxy
    assert confusion_matrix(preds, [{"boxes": [[0, 0, 10, 10]], "labels": [0]}])[0, 0] == 1
    cx = [{"boxes": [[5, 5, 10, 10]], "scores": [0.9], "labels": [0]}]
    assert confusion_matrix(cx, gts, box_format="cxcywh").tolist() == [[1, 0], [0, 0]]


GOOD_P = [{"boxes": [[0, 0, 1, 1]], "scores": [0.9], "labels": [0]}]
GOOD_G = [{"boxes": [[0, 0, 1, 1]], "labels": [0]}]

BAD_INPUT = [
    (lambda: confusion_matrix(GOOD_P, GOOD_G + GOOD_G), ValueError, "predictions has 1 images"),
    (lambda: confusion_matrix(GOOD_P, GOOD_G, conf_threshold=2), ValueError, "conf_threshold must be in"),
    (lambda: confusion_matrix(GOOD_P, GOOD_G, iou_threshold=-0.1), ValueError, "iou_threshold must be in"),
    (lambda: confusion_matrix(GOOD_P, GOOD_G, num_classes=0), ValueError, r"label 0 outside \[0, 0\)"),
    (lambda: confusion_matrix(GOOD_P, GOOD_G, num_classes=-1), ValueError, "num_classes must be"),
    (lambda: confusion_matrix(GOOD_P, GOOD_G, backend="gpu"), ValueError, "backend must be"),
    (lambda: confusion_matrix(GOOD_P, GOOD_G, box_format="xy"), ValueError, "box_format must be"),
    (lambda: confusion_matrix([{"boxes": [[0, 0, 1, 1]], "labels": [0]}], GOOD_G), ValueError, "has no 'scores'"),
    (lambda: confusion_matrix(GOOD_P, [{"labels": [0]}]), ValueError, "has no 'boxes'"),
    (lambda: confusion_matrix([{**GOOD_P[0], "scores": [0.1, 0.2]}], GOOD_G), ValueError, "scores'\\] has length 2"),
    (lambda: confusion_matrix([{**GOOD_P[0], "boxes": [[1, 0, 0, 1]]}], GOOD_G), ValueError, "x2 < x1"),
    (lambda: confusion_matrix(GOOD_P, [{"boxes": [[0, 0, 1, np.nan]], "labels": [0]}]), ValueError, "NaN"),
    (lambda: confusion_matrix([{**GOOD_P[0], "labels": [-1]}], GOOD_G), ValueError, "label -1 outside"),
    (lambda: confusion_matrix(GOOD_P[0], GOOD_G), TypeError, "lists with one dict per image"),
    (lambda: confusion_matrix(["x"], GOOD_G), TypeError, "must be dicts"),
]


@pytest.mark.parametrize("call, exception, match", BAD_INPUT)
def test_bad_input(call, exception, match):
    with pytest.raises(exception, match=match):
        call()
