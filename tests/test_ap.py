"""detmetrics.ap: hand-computed AP, bad input; the accumulation strategy for the reference/kernel registry (test_pairs)."""

import numpy as np
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from detmetrics.ap import (
    _EPS,
    _accumulate,
    _accumulate_loop,
    _accumulate_reference,
    average_precision,
    recall_thresholds,
)

from _support import requires_numba


@st.composite
def category_order_inputs(draw):
    """(cat_offsets, scores) for the per-category stable order: scores with ties, -0.0 / 0.0,
    negatives, subnormals and huge values (every radix digit moves), and positions before the
    first category (a detection whose category is not evaluated)."""
    special = st.sampled_from([0.0, -0.0, 0.5, -0.5, 1e-310, -1e-310, 5e-324, 1e300, -1e300, 1.0, 0.9999999999999999])
    scores = draw(st.lists(special | st.floats(allow_nan=False, allow_infinity=False), max_size=60))
    n = len(scores)
    cuts = sorted(draw(st.lists(st.integers(0, n), max_size=5)))
    offsets = np.array(cuts + [n], dtype=np.int64)
    return offsets, np.array(scores, dtype=np.float64)


@st.composite
def accumulate_inputs(draw):
    n_cat = draw(st.integers(0, 3))
    n_area, n_thr = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    max_dets = draw(st.sampled_from([(1, 10, 100), (1,), (2, 3), (1, 2, 5)]))
    sizes = [draw(st.integers(0, 25)) for _ in range(n_cat)]
    cat_offsets = np.zeros(n_cat + 1, np.int64)
    np.cumsum(sizes, out=cat_offsets[1:])
    n = int(cat_offsets[-1])
    score = np.array([draw(st.sampled_from([0.1, 0.3, 0.5, 0.5, 0.9])) for _ in range(n)])
    # ranks: runs (images) of consecutive positions within a category
    rank = np.zeros(n, np.int64)
    for k in range(n_cat):
        r = 0
        for i in range(cat_offsets[k], cat_offsets[k + 1]):
            if draw(st.integers(0, 3)) == 0:
                r = 0
            rank[i] = r
            r += 1
    code = np.array([draw(st.integers(0, 2)) for _ in range(n * n_area * n_thr)], np.uint8).reshape(n, n_area, n_thr)
    n_gt = np.array([[draw(st.integers(0, 6)) for _ in range(n_area)] for _ in range(n_cat)], np.int64)
    n_gt = n_gt.reshape(n_cat, n_area)
    # real matching never gives more true positives than non-ignored ground truths
    for k in range(n_cat):
        block = code[cat_offsets[k]:cat_offsets[k + 1]]
        for a in range(n_area):
            if n_gt[k, a] > 0 and block.shape[0]:
                n_gt[k, a] = max(n_gt[k, a], int((block[:, a, :] == 1).sum(axis=0).max()))
    interpolation = draw(st.sampled_from(["coco", "voc11", "voc"]))
    return (cat_offsets, score, rank, code, n_gt, np.array(max_dets, np.int64), recall_thresholds(interpolation),
            interpolation, n_thr)


def _tp_fp_curve(flags, n_gt):
    tp = np.cumsum(np.array(flags) == 1)
    fp = np.cumsum(np.array(flags) == 0)
    return tp / n_gt, tp / (tp + fp)


def test_voc_hand_computed():
    # 3 ground truths; detections by decreasing score: TP FP TP FP TP
    recall, precision = _tp_fp_curve([1, 0, 1, 0, 1], 3)
    # envelope 1, 2/3, 2/3, 3/5, 3/5; recall steps 1/3 at ranks 1, 3, 5
    expected = (1 / 3) * 1 + (1 / 3) * (2 / 3) + (1 / 3) * (3 / 5)
    assert average_precision(recall, precision, interpolation="voc") == pytest.approx(expected, abs=1e-12)


def test_voc11_hand_computed():
    recall, precision = _tp_fp_curve([1, 0, 1, 0, 1], 3)
    # r = 0 .. 0.3: 1.0 (4 points); 0.4 .. 0.6: 2/3 (3 points); 0.7 .. 1.0: 3/5 (4 points)
    expected = (4 * 1.0 + 3 * (2 / 3) + 4 * 0.6) / 11
    assert average_precision(recall, precision, interpolation="voc11") == pytest.approx(expected, abs=1e-12)


def test_coco_hand_computed():
    recall, precision = _tp_fp_curve([1, 0, 1, 0, 1], 3)
    # 101 points: r <= 1/3: 34 points at 1.0; 1/3 < r <= 2/3: 33 at 2/3; above: 34 at 3/5
    r = recall_thresholds("coco")
    n1 = int(np.sum(r <= 1 / 3))
    n2 = int(np.sum((r > 1 / 3) & (r <= 2 / 3)))
    expected = (n1 * 1.0 + n2 * (2 / 3) + (101 - n1 - n2) * 0.6) / 101
    assert average_precision(recall, precision, interpolation="coco") == pytest.approx(expected, abs=1e-12)


def test_unreached_recall_scores_zero():
    # one of two ground truths found: recall stops at 0.5
    assert average_precision([0.5], [1.0], interpolation="voc11") == pytest.approx(6 / 11)
    assert average_precision([0.5], [1.0], interpolation="voc") == pytest.approx(0.5)


def test_accumulate_voc_modes_match_public_helper():
    # one category, one image: TP FP TP with 3 ground truths
    code = np.array([1, 2, 1], np.uint8).reshape(3, 1, 1)
    for interpolation in ("coco", "voc11", "voc"):
        out = _accumulate(np.array([0, 3]), np.array([0.9, 0.8, 0.7]), np.arange(3), code, np.array([[3]]),
                          np.array([100]), recall_thresholds(interpolation), interpolation, 1, "numpy")
        recall, precision = _tp_fp_curve([1, 0, 1], 3)
        expected = average_precision(recall, precision, interpolation=interpolation)
        assert out[3][0, 0, 0, 0] == pytest.approx(expected, abs=1e-12)


def test_no_ground_truth_is_minus_one():
    code = np.array([2], np.uint8).reshape(1, 1, 1)
    precision, recall, scores, ap, _ = _accumulate(np.array([0, 1]), np.array([0.5]), np.array([0]), code,
                                                   np.array([[0]]), np.array([100]), recall_thresholds(), "coco", 1,
                                                   "numpy")
    assert (precision == -1).all() and (recall == -1).all() and (scores == -1).all() and (ap == -1).all()


def test_recall_thresholds():
    assert recall_thresholds("coco").shape == (101,)
    assert recall_thresholds("voc").shape == (101,)
    assert recall_thresholds("voc11").tolist() == np.linspace(0, 1, 11).tolist()


@pytest.mark.parametrize("call, exception, match", [
    (lambda: average_precision([0.1, 0.2], [1.0]), ValueError, "recall has length 2 but precision has 1"),
    (lambda: average_precision([0.5, 0.2], [1.0, 1.0]), ValueError, "non-decreasing"),
    (lambda: average_precision([np.nan], [1.0]), ValueError, "finite"),
    (lambda: average_precision(["a"], [1.0]), TypeError, "recall must be numeric"),
    (lambda: average_precision([0.5], [1.0], interpolation="voc12"), ValueError, "interpolation must be one of"),
    (lambda: recall_thresholds("bad"), ValueError, "interpolation must be one of"),
])
def test_bad_input(call, exception, match):
    with pytest.raises(exception, match=match):
        call()


@settings(deadline=None, max_examples=300)
@given(accumulate_inputs())
def test_vectorised_accumulation_equals_the_loop(args):
    # the loop over (category, max_detections, area range, threshold) curves is the specification;
    # the reference handles every (area range, threshold) row of a category at once: bit-identical
    cat_offsets, score, rank, code, n_gt, max_dets, rec, interpolation, n_thr = args
    out = []
    for fn in (_accumulate_reference, _accumulate_loop):
        shape = (n_thr, rec.shape[0], n_gt.shape[0], n_gt.shape[1], max_dets.shape[0])
        arrays = [-np.ones(shape), -np.ones(shape[:1] + shape[2:]), -np.ones(shape), -np.ones(shape[:1] + shape[2:])]
        order = np.empty(score.shape[0], np.int64)
        fn(cat_offsets, score, rank, code, n_gt, max_dets, rec, interpolation == "voc", _EPS,
           arrays[0], arrays[1], arrays[2], arrays[3], order)
        out.append(arrays + [order])
    for fast, slow in zip(*out):
        np.testing.assert_array_equal(fast, slow)


@requires_numba
@settings(deadline=None, max_examples=300)
@given(category_order_inputs())
@example((np.array([0, 5], np.int64), np.array([0.0, -0.0, 0.5, -0.0, 0.0])))
def test_radix_order_is_a_stable_descending_sort(args):
    # the accumulation's radix sort against the stable argsort pycocotools' order comes from
    from detmetrics.ap import _radix_order_desc

    offsets, score = args
    order = np.arange(score.shape[0], dtype=np.int64)
    bits = score.view(np.int64)
    for k in range(offsets.shape[0] - 1):
        c0, c1 = int(offsets[k]), int(offsets[k + 1])
        if c1 > c0:
            _radix_order_desc(bits, c0, c1, order)
    expected = np.arange(score.shape[0], dtype=np.int64)
    for k in range(offsets.shape[0] - 1):
        c0, c1 = int(offsets[k]), int(offsets[k + 1])
        expected[c0:c1] = c0 + np.argsort(-score[c0:c1], kind="stable")
    np.testing.assert_array_equal(order, expected)
