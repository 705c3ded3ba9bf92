"""detmetrics.matching: IoU blocks, grouping and the greedy matching kernel.

Reference == kernel (exactly: same arithmetic, same integer decisions) on
hypothesis-drawn groups; the IoU blocks against pycocotools' own ``maskUtils.iou``
(bit for bit); matching semantics on hand-built cases.
"""

import numpy as np
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st
from numpy.testing import assert_array_equal

from detmetrics.matching import (
    _always_ignored,
    _bbox_iou_reference,
    _effective_thresholds,
    _group,
    _ignored_ground_truths,
    _iou_blocks,
    _match_groups,
    _match_groups_loop,
    _match_groups_reference,
)

from _support import BACKENDS, backend_params, requires_numba

COCO_AREAS = np.array([[0.0, 1e10], [0.0, 32.0**2], [32.0**2, 96.0**2], [96.0**2, 1e10]])
COCO_T = _effective_thresholds(np.linspace(0.5, 0.95, 10))


def xywh_boxes(max_size=8):
    side = st.sampled_from([0.0, 0.5, 1.0, 2.0, 3.0, 4.0, 5.0, 8.0, 10.0])
    coord = st.sampled_from([0.0, 0.5, 1.0, 2.0, 3.0, 5.0])
    box = st.tuples(coord, coord, side, side)
    return st.lists(box, max_size=max_size).map(lambda b: np.array(b, dtype=np.float64).reshape(-1, 4))


@st.composite
def grouped(draw, max_groups=4):
    """Groups of (dets, gts, crowd) as flat arrays plus offsets."""
    n_groups = draw(st.integers(0, max_groups))
    dets, gts, crowd, d_off, g_off = [], [], [], [0], [0]
    for _ in range(n_groups):
        d = draw(xywh_boxes())
        g = draw(xywh_boxes(6))
        c = np.array([draw(st.integers(0, 3)) == 0 for _ in range(len(g))], dtype=np.uint8)
        dets.append(d)
        gts.append(g)
        crowd.append(c)
        d_off.append(d_off[-1] + len(d))
        g_off.append(g_off[-1] + len(g))
    cat = lambda xs, shape: np.concatenate(xs) if xs else np.zeros(shape)
    return (np.ascontiguousarray(cat(dets, (0, 4))), np.ascontiguousarray(cat(gts, (0, 4))),
            np.ascontiguousarray(cat(crowd, (0,)), dtype=np.uint8),
            np.array(d_off, dtype=np.int64), np.array(g_off, dtype=np.int64))


@pytest.mark.parametrize("backend", backend_params())
@settings(deadline=None)
@given(grouped())
def test_iou_blocks_equal_pycocotools(backend, data):
    from pycocotools import mask as mask_utils

    det, gt, crowd, d_off, g_off = data
    out, off = _iou_blocks(det, gt, crowd, d_off, g_off, backend)
    for g in range(len(d_off) - 1):
        d, t = det[d_off[g]:d_off[g + 1]], gt[g_off[g]:g_off[g + 1]]
        block = out[off[g]:off[g + 1]].reshape(len(d), len(t))
        if len(d) and len(t):
            expected = np.asarray(mask_utils.iou(d.tolist(), t.tolist(), crowd[g_off[g]:g_off[g + 1]].tolist()))
            assert_array_equal(block, expected)


def test_iou_blocks_crowd_uses_detection_area():
    det = np.array([[0.0, 0.0, 10.0, 10.0]])
    gt = np.array([[0.0, 0.0, 100.0, 100.0], [0.0, 0.0, 100.0, 100.0]])
    out, _ = _iou_blocks(det, gt, np.array([1, 0], np.uint8), np.array([0, 1]), np.array([0, 2]), "numpy")
    assert out.tolist() == [1.0, 0.01]


@st.composite
def match_inputs(draw):
    """Random IoU blocks (values at and around thresholds), areas, crowds, zero ids."""
    n_groups = draw(st.integers(0, 4))
    values = st.sampled_from([0.0, 0.3, 0.5, 0.55, 0.7, 0.75, 0.9, 0.95, 1.0, 0.5 - 1e-12, 1 - 1e-10])
    areas = st.sampled_from([0.0, 10.0, 32.0**2, 32.0**2 + 1, 50.0**2, 96.0**2, 200.0**2])
    d_off, g_off, blocks = [0], [0], []
    for _ in range(n_groups):
        nd, ng = draw(st.integers(0, 6)), draw(st.integers(0, 5))
        d_off.append(d_off[-1] + nd)
        g_off.append(g_off[-1] + ng)
        blocks.append(np.array([draw(values) for _ in range(nd * ng)], dtype=np.float64))
    n_det, n_gt = d_off[-1], g_off[-1]
    d_off, g_off = np.array(d_off, np.int64), np.array(g_off, np.int64)
    iou = np.concatenate(blocks) if blocks else np.zeros(0)
    iou_off = np.zeros(n_groups + 1, np.int64)
    np.cumsum(np.diff(d_off) * np.diff(g_off), out=iou_off[1:])
    det_area = np.array([draw(areas) for _ in range(n_det)], dtype=np.float64)
    gt_area = np.array([draw(areas) for _ in range(n_gt)], dtype=np.float64)
    crowd = np.array([draw(st.integers(0, 3)) == 0 for _ in range(n_gt)], dtype=np.uint8)
    zero = np.array([draw(st.integers(0, 7)) == 0 for _ in range(n_gt)], dtype=np.uint8)
    thresholds = draw(st.sampled_from([COCO_T, _effective_thresholds([0.5]), _effective_thresholds([0.0, 1.0])]))
    return iou, iou_off, d_off, g_off, det_area, gt_area, crowd, zero, COCO_AREAS, thresholds


def _one_group(ious, crowd=None, det_area=None, gt_area=None, thresholds=(0.5,), zero=None):
    ious = np.asarray(ious, dtype=np.float64)
    nd, ng = ious.shape
    crowd = np.zeros(ng, np.uint8) if crowd is None else np.asarray(crowd, np.uint8)
    zero = np.zeros(ng, np.uint8) if zero is None else np.asarray(zero, np.uint8)
    det_area = np.full(nd, 100.0) if det_area is None else np.asarray(det_area, float)
    gt_area = np.full(ng, 100.0) if gt_area is None else np.asarray(gt_area, float)
    out = []
    for backend in BACKENDS:
        code, gig = _match_groups(ious.ravel(), np.array([0, nd * ng]), np.array([0, nd]), np.array([0, ng]),
                                  det_area, gt_area, crowd, zero, np.array([[0.0, 1e10]]),
                                  _effective_thresholds(thresholds), backend)
        out.append(code[:, 0, 0].tolist())
    assert all(o == out[0] for o in out)
    return out[0]


@pytest.mark.parametrize("ious, kwargs, expected", [
    # the higher-scored detection takes the ground truth, the second is a false positive
    ([[0.9], [0.8]], {}, [1, 2]),
    # the best IoU wins; among equal IoUs the last candidate wins (``>=`` replaces)
    ([[0.6, 0.6]], {}, [1]),
    # exactly at the threshold matches; just below does not
    ([[0.5]], {}, [1]),
    ([[0.5 - 1e-12]], {}, [2]),
    # threshold 1.0 is capped at 1 - 1e-10
    ([[1.0]], {"thresholds": (1.0,)}, [1]),
    # a crowd matches many detections, which are ignored
    ([[0.7], [0.7]], {"crowd": [1]}, [0, 0]),
    # a non-ignored ground truth is preferred over a crowd, even with a lower IoU
    ([[0.6, 0.9]], {"crowd": [0, 1]}, [1]),
    # an unmatched detection outside the area range is ignored
    ([[0.1]], {"det_area": [1e11]}, [0]),
    # a match with annotation id 0 counts as no match (pycocotools)
    ([[0.9]], {"zero": [1]}, [2]),
])
@requires_numba
def test_matching_semantics(ious, kwargs, expected):
    assert _one_group(ious, **kwargs) == expected


@settings(deadline=None)
@given(st.lists(st.tuples(st.integers(0, 5), st.sampled_from([0.1, 0.5, 0.5, 0.9])), max_size=80),
       st.lists(st.integers(0, 5), max_size=10), st.integers(1, 4))
@example([(0, 0.5)] * 40 + [(1, 0.9)], [1], 3)
def test_group_orders_and_cuts(dets, gts, max_det):
    det_key = np.array([d[0] for d in dets], dtype=np.int64)
    score = np.array([d[1] for d in dets], dtype=np.float64)
    gt_key = np.array(gts, dtype=np.int64)
    # one category of 6 images: the bucket is the image
    ref = _group(0 * det_key, det_key, score, 0 * gt_key, gt_key, 1, 6, max_det, "numpy")[:5]  # == the kernel: test_pairs
    order, rank, gt_order, d_off, g_off = ref
    assert np.all(rank < max_det)
    # inside a group, decreasing scores and input order among ties
    for g in range(len(d_off) - 1):
        idx = order[d_off[g]:d_off[g + 1]]
        s = score[idx]
        assert np.all(np.diff(s) <= 0)
        for i in range(len(idx) - 1):
            if s[i] == s[i + 1]:
                assert idx[i] < idx[i + 1]


@requires_numba
@settings(deadline=None, max_examples=60)
@given(st.lists(st.sampled_from([0.0, 0.1, 0.5, 0.5, 0.9, 1.0]), max_size=300), st.data())
@example([0.5] * 70 + [0.9] * 3 + [0.1] * 40, None)
def test_sort_desc_kernels_are_stable_descending_sorts(scores, data):
    # the merge sorts the kernels use instead of np.argsort(kind="mergesort") (one copy per module)
    from detmetrics import confusion, matching, postprocess

    score = np.array(scores, dtype=np.float64)
    n = score.shape[0]
    lo, hi = (0, n) if data is None else sorted(data.draw(st.tuples(st.integers(0, n), st.integers(0, n))))
    expected = np.arange(n, dtype=np.int64)
    expected[lo:hi] = lo + np.argsort(-score[lo:hi], kind="stable")
    for sort in (matching._sort_desc_kernel, postprocess._sort_desc_kernel, confusion._sort_desc_kernel):
        idx = np.arange(n, dtype=np.int64)
        sort(idx, lo, hi, score, np.full(max(n, 1), -1, dtype=np.int64))
        assert_array_equal(idx, expected)


# ---------------------------------------------------------------------------------------------
# the whole-array NumPy references against the per-group loops they replace


@settings(deadline=None, max_examples=300)
@given(grouped(max_groups=6))
def test_iou_blocks_reference_equals_the_per_group_blocks(args):
    det, gt, crowd, d_off, g_off = args
    iou, off = _iou_blocks(det, gt, crowd, d_off, g_off, "numpy")
    for g in range(d_off.shape[0] - 1):
        block = _bbox_iou_reference(det[d_off[g]:d_off[g + 1]], gt[g_off[g]:g_off[g + 1]], crowd[g_off[g]:g_off[g + 1]])
        assert_array_equal(iou[off[g]:off[g + 1]], block.ravel())


@settings(deadline=None, max_examples=300)
@given(match_inputs(), st.booleans())
def test_vectorised_matching_equals_the_greedy_loop(args, with_difficult):
    # pycocotools' evaluateImg loop, written out per group, detection and threshold, is the
    # specification; the reference matches every group at once by detection rank
    iou, iou_off, d_off, g_off, det_area, gt_area, crowd, zero, areas, thresholds = args
    difficult = (np.arange(gt_area.shape[0]) % 3 == 1).astype(np.uint8) if with_difficult else None
    ignored = _ignored_ground_truths(gt_area, _always_ignored(crowd, difficult), areas)
    out = []
    for fn in (_match_groups_reference, _match_groups_loop):
        code = np.full((det_area.shape[0], areas.shape[0], thresholds.shape[0]), 9, np.uint8)
        fn(iou, iou_off, d_off, g_off, det_area, crowd, zero, areas, thresholds, code, ignored)
        out.append(code)
    assert_array_equal(out[0], out[1])
    assert not np.any(out[0] == 9)


def test_vectorised_matching_steps_through_a_crowded_group():
    # five detections on two ground truths of one group and a crowd: each step sees what the
    # earlier steps took; the crowd takes every detection left over
    iou = np.array([0.9, 0.6, 0.7,
                    0.8, 0.95, 0.7,
                    0.8, 0.6, 0.7,
                    0.5, 0.5, 0.7,
                    0.2, 0.2, 0.2])
    d_off, g_off = np.array([0, 5]), np.array([0, 3])
    crowd = np.array([0, 0, 1], np.uint8)
    areas = np.array([[0.0, 1e10]])
    thresholds = _effective_thresholds([0.5, 0.75])
    code, _ = _match_groups(iou, np.array([0, 15]), d_off, g_off, np.full(5, 100.0), np.full(3, 100.0), crowd,
                            np.zeros(3, np.uint8), areas, thresholds, "numpy")
    # t=0.5: det0 -> gt0, det1 -> gt1, det2 -> crowd (ignored), det3 -> crowd, det4 -> nothing (FP)
    # t=0.75: det0 -> gt0, det1 -> gt1, det2 -> nothing (FP), det3 -> nothing, det4 -> nothing
    assert code[:, 0, :].T.tolist() == [[1, 1, 0, 0, 2], [1, 1, 2, 2, 2]]



@pytest.mark.parametrize("backend", backend_params())
@given(seed=st.integers(0, 2**32 - 1), per_group=st.integers(4, 12), keep=st.sampled_from([(1,), (1, 3), (2, 5)]))
@settings(max_examples=25, deadline=None)
def test_max_detections_cut_equals_precut_input(backend, seed, per_group, keep):
    # Most detections cut by max_detections (the matching then gives the codes a buffer of their
    # own): the same numbers as evaluating only the detections that survive the cut.
    from detmetrics import evaluate_columns

    rng = np.random.default_rng(seed)
    n_img, n_cat = 3, 2
    img = np.repeat(np.arange(n_img * n_cat) // n_cat, per_group)
    lab = np.repeat(np.arange(n_img * n_cat) % n_cat, per_group)
    xy = rng.integers(0, 20, size=(img.shape[0], 2)).astype(np.float64)
    boxes = np.concatenate([xy, rng.integers(2, 12, size=(img.shape[0], 2))], axis=1)
    scores = rng.choice(np.linspace(0.05, 0.95, 7), size=img.shape[0])
    g_img = np.arange(n_img).repeat(2)
    g_lab = np.tile(np.arange(n_cat), n_img)
    g_box = np.concatenate([rng.integers(0, 20, size=(g_img.shape[0], 2)),
                            rng.integers(2, 12, size=(g_img.shape[0], 2))], axis=1).astype(np.float64)
    gts = {"image_id": g_img, "bbox": g_box, "category_id": g_lab}
    kw = dict(max_detections=keep, backend=backend, image_ids=list(range(n_img)), category_ids=[0, 1])
    full = evaluate_columns({"image_id": img, "bbox": boxes, "score": scores, "category_id": lab}, gts, **kw)
    # the survivors: per (image, category), the top max(keep) by score, ties in input order
    top = []
    for g in range(n_img * n_cat):
        rows = np.flatnonzero((img == g // n_cat) & (lab == g % n_cat))
        top.extend(rows[np.argsort(-scores[rows], kind="stable")[:max(keep)]].tolist())
    top = np.sort(np.array(top))
    cut = evaluate_columns({"image_id": img[top], "bbox": boxes[top], "score": scores[top], "category_id": lab[top]},
                           gts, **kw)
    assert_array_equal(np.asarray(full.precision), np.asarray(cut.precision))
    assert_array_equal(np.asarray(full.recall), np.asarray(cut.recall))
    assert_array_equal(np.asarray(full.stats), np.asarray(cut.stats))
