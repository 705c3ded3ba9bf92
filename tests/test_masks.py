"""detmetrics.masks: COCO RLE against pycocotools.mask, reference == kernel, bad input.

pycocotools is the oracle (``encode`` bytes, ``decode``, ``area``, ``toBbox``,
``frPyObjects`` + ``merge`` for polygons and boxes, ``merge``, ``iou``) on
hypothesis masks: empty, full, one pixel, rectangles touching the borders,
noise, 1x1 up to 1000x1000 (few examples there), non-square.
"""

import contextlib
import io

import numpy as np
import pytest
from hypothesis import assume, example, given, settings
from hypothesis import strategies as st
from numpy.testing import assert_array_equal
from pycocotools import mask as coco_mask

from detmetrics import masks as dm
from detmetrics._backend import HAVE_NUMBA

BACKENDS = ("numba", "numpy")
needs_numba = pytest.mark.skipif(not HAVE_NUMBA, reason="numba is not importable: no kernel to compare")


# ---------------------------------------------------------------------------
# strategies
# ---------------------------------------------------------------------------


@st.composite
def mask_stacks(draw, max_n=4, max_side=24, sizes=None):
    """``(N, H, W)`` bool masks: empty, full, single pixels, border-touching rectangles, noise."""
    if sizes is None:
        h = draw(st.integers(1, max_side))
        w = draw(st.integers(1, max_side))
    else:
        h, w = draw(st.sampled_from(sizes))
    n = draw(st.integers(0, max_n))
    out = np.zeros((n, h, w), dtype=bool)
    for i in range(n):
        kind = draw(st.sampled_from(["empty", "full", "pixel", "rects", "noise"]))
        if kind == "full":
            out[i] = True
        elif kind == "pixel":
            out[i, draw(st.integers(0, h - 1)), draw(st.integers(0, w - 1))] = True
        elif kind == "rects":
            for _ in range(draw(st.integers(1, 3))):
                y0, y1 = sorted(draw(st.tuples(st.integers(0, h), st.integers(0, h))))
                x0, x1 = sorted(draw(st.tuples(st.integers(0, w), st.integers(0, w))))
                out[i, y0:y1, x0:x1] = draw(st.booleans()) or not out[i, y0:y1, x0:x1].any()
        elif kind == "noise":
            rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
            out[i] = rng.random((h, w)) < draw(st.sampled_from([0.1, 0.5, 0.9]))
    return out


@st.composite
def polygon_sets(draw, max_side=30):
    """``(polygons, h, w)``: instances of 1-3 parts, points on a half-pixel grid, on and outside the borders."""
    h = draw(st.integers(1, max_side))
    w = draw(st.integers(1, max_side))
    coord = st.integers(-6, 2 * max(h, w) + 6).map(lambda v: v / 2.0)
    fine = st.floats(-3.0, max(h, w) + 3.0, allow_nan=False).map(lambda v: round(v, 3))
    instances = []
    for _ in range(draw(st.integers(1, 3))):
        parts = []
        for _ in range(draw(st.integers(1, 3))):
            k = draw(st.integers(3, 8))
            values = draw(st.lists(st.one_of(coord, fine), min_size=2 * k, max_size=2 * k))
            parts.append(values)
        instances.append(parts)
    return instances, h, w


def coco_encode(masks):
    return coco_mask.encode(np.asfortranarray(masks.transpose(1, 2, 0).astype(np.uint8)))


def as_lists(rles):
    """The same RLEs with uncompressed (list) counts, the form of COCO crowd annotations."""
    _, offsets, _, _ = dm._as_rles(rles, "rles", "numpy")
    counts = dm._as_rles(rles, "rles", "numpy")[0]
    return [{"size": r["size"], "counts": counts[offsets[i] : offsets[i + 1]].tolist()} for i, r in enumerate(rles)]


# ---------------------------------------------------------------------------
# against pycocotools
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("backend", BACKENDS)
@given(masks=mask_stacks())
@example(masks=np.zeros((1, 1, 1), dtype=bool))
@example(masks=np.ones((2, 1, 1), dtype=bool))
@example(masks=np.ones((1, 3, 7), dtype=bool))
def test_encode_decode_area_bbox_match_pycocotools(backend, masks):
    assume(masks.shape[0] > 0)  # the empty stack: test_encode_empty_stack_gives_empty_list
    ours = dm.encode(masks, backend=backend)
    ref = coco_encode(masks)
    assert [r["counts"] for r in ours] == [r["counts"] for r in ref]  # byte for byte
    assert [r["size"] for r in ours] == [list(r["size"]) for r in ref]
    assert all(type(r["counts"]) is bytes for r in ours)
    assert_array_equal(dm.decode(ours, backend=backend), masks)
    assert_array_equal(dm.decode(ref, backend=backend), coco_mask.decode(ref).transpose(2, 0, 1).astype(bool))
    assert_array_equal(dm.area(ref, backend=backend), coco_mask.area(ref))
    assert_array_equal(dm.to_bbox(ref, backend=backend), coco_mask.toBbox(ref))
    # str and list counts describe the same masks
    as_str = [{"size": r["size"], "counts": r["counts"].decode()} for r in ref]
    assert_array_equal(dm.area(as_str, backend=backend), coco_mask.area(ref))
    assert_array_equal(dm.decode(as_lists(ref), backend=backend), masks)


def test_encode_empty_stack_gives_empty_list():
    assert dm.encode(np.zeros((0, 4, 5), dtype=bool)) == []


@pytest.mark.parametrize("backend", BACKENDS)
@settings(max_examples=6)
@given(masks=mask_stacks(max_n=1, sizes=[(1, 1000), (1000, 1), (480, 640), (1000, 1000), (37, 999)]))
def test_large_masks_match_pycocotools(backend, masks):
    ours = dm.encode(masks, backend=backend)
    ref = coco_encode(masks) if masks.shape[0] else []
    assert [r["counts"] for r in ours] == [r["counts"] for r in ref]
    if masks.shape[0]:
        assert_array_equal(dm.decode(ours, backend=backend), masks)
        assert_array_equal(dm.to_bbox(ours, backend=backend), coco_mask.toBbox(ref))
        assert_array_equal(
            dm.iou(ours, ours[::-1], [0] * len(ours), backend=backend), coco_mask.iou(ref, ref[::-1], [0] * len(ref))
        )


@pytest.mark.parametrize("backend", BACKENDS)
@given(data=st.data())
def test_iou_matches_pycocotools_with_crowds(backend, data):
    dets = data.draw(mask_stacks(max_n=4))
    h, w = dets.shape[1:]
    gts = data.draw(mask_stacks(max_n=4, sizes=[(h, w)]))
    crowd = data.draw(st.lists(st.booleans(), min_size=gts.shape[0], max_size=gts.shape[0]))
    ours = dm.iou(dm.encode(dets), dm.encode(gts), crowd, backend=backend)
    assert ours.shape == (dets.shape[0], gts.shape[0]) and ours.dtype == np.float64
    if dets.shape[0] and gts.shape[0]:
        ref = coco_mask.iou(coco_encode(dets), coco_encode(gts), np.array(crowd, dtype=np.uint8))
        assert_array_equal(ours, ref)  # same integers, same division: exact
    # masks, list counts and compressed counts give the same matrix
    assert_array_equal(dm.iou(dets, gts, crowd, backend=backend), ours)
    assert_array_equal(dm.iou(as_lists(dm.encode(dets)), gts, crowd, backend=backend), ours)


@pytest.mark.parametrize("backend", BACKENDS)
@given(masks=mask_stacks(max_n=4), intersect=st.booleans())
def test_merge_matches_pycocotools(backend, masks, intersect):
    if masks.shape[0] == 0:
        masks = np.zeros((1,) + masks.shape[1:], dtype=bool)
    ref = coco_encode(masks)
    assert dm.merge(ref, intersect, backend=backend) == coco_mask.merge(ref, int(intersect))


@pytest.mark.parametrize("backend", BACKENDS)
@given(data=st.data())
def test_noncanonical_counts_match_pycocotools(backend, data):
    # zero-length runs inside the counts (pycocotools keeps some of them through merge)
    n_runs = data.draw(st.integers(1, 8))
    runs = [data.draw(st.lists(st.integers(0, 3), min_size=n_runs, max_size=n_runs)) for _ in range(2)]
    # pycocotools' rleMerge writes into h * w + 1 slots: keep the inputs' run counts below that
    total = max(sum(runs[0]), sum(runs[1])) + 2 * n_runs + 4
    runs = [r + [total - sum(r)] for r in runs]
    h = data.draw(st.sampled_from([d for d in range(1, total + 1) if total % d == 0]))
    w = total // h
    ucs = [{"size": [h, w], "counts": r} for r in runs]
    ref = coco_mask.frPyObjects(ucs, h, w)
    assert [r["counts"] for r in dm._to_dicts(*dm._as_rles(ucs, "u", "numpy")[:3], backend)] == [
        r["counts"] for r in ref
    ]
    for intersect in (False, True):
        assert dm.merge(ucs, intersect, backend=backend) == coco_mask.merge(ref, int(intersect))
    assert_array_equal(dm.area(ucs, backend=backend), coco_mask.area(ref))
    assert_array_equal(dm.to_bbox(ucs, backend=backend), coco_mask.toBbox(ref))
    # pycocotools' rleIou stops at the first pair of zero-length runs (it can report 0 for equal masks):
    # the IoU here is the masks' true IoU, pycocotools' on the canonical encoding of the same masks
    canonical = coco_encode(dm.decode(ucs))
    assert_array_equal(dm.iou(ucs, ucs, [0, 1], backend=backend), coco_mask.iou(canonical, canonical, [0, 1]))


@pytest.mark.parametrize("backend", BACKENDS)
def test_to_bbox_keeps_pycocotools_wraparound(backend):
    rle = {"size": [5, 1], "counts": [5, 0]}  # two counts, no foreground pixel
    ref = coco_mask.toBbox(coco_mask.frPyObjects(rle, 5, 1))
    assert_array_equal(dm.to_bbox(rle, backend=backend), ref)
    assert dm.to_bbox(rle, backend=backend).tolist() == [1.0, 5.0, 0.0, 2.0**32 - 4]


@pytest.mark.parametrize("backend", BACKENDS)
@given(polygon_sets())
@example(([[[0, 0, 0, 0, 3, 3, 3, 3, 0, 3]]], 4, 4))  # repeated points
@example(([[[-10, -10, 50, -10, 50, 50, -10, 50]]], 7, 5))  # beyond every border
@example(([[[0.5, 0.5, 2.5, 0.5, 2.5, 2.5]], [[1, 1, 1, 1, 1, 1]]], 3, 3))  # a triangle, a point
def test_from_polygons_matches_frpyobjects_and_merge(backend, case):
    polygons, h, w = case
    ours = dm.from_polygons(polygons, h, w, backend=backend)
    ref = [coco_mask.merge(coco_mask.frPyObjects(parts, h, w)) for parts in polygons]
    assert ours == ref


@pytest.mark.parametrize("backend", BACKENDS)
@given(
    boxes=st.lists(
        st.tuples(st.integers(-8, 40), st.integers(-8, 40), st.integers(0, 40), st.integers(0, 40)),
        min_size=1,
        max_size=5,
    ).map(lambda b: np.array(b, dtype=np.float64) / 2.0),
    size=st.tuples(st.integers(1, 25), st.integers(1, 25)),
)
def test_from_boxes_matches_frpyobjects(backend, boxes, size):
    h, w = size
    assert dm.from_boxes(boxes, h, w, backend=backend) == coco_mask.frPyObjects(boxes, h, w)
    xyxy = boxes.copy()
    xyxy[:, 2:] += xyxy[:, :2]
    assert dm.from_boxes(xyxy, h, w, box_format="xyxy", backend=backend) == coco_mask.frPyObjects(boxes, h, w)


def test_single_mask_and_single_dict_give_single_results():
    m = np.zeros((3, 4), dtype=bool)
    m[1:, 1:3] = True
    rle = dm.encode(m)
    assert rle == coco_mask.encode(np.asfortranarray(m.astype(np.uint8)))
    assert dm.decode(rle).shape == (3, 4)
    assert dm.area(rle) == 4 and isinstance(dm.area(rle), int)
    assert dm.to_bbox(rle).tolist() == [1.0, 1.0, 2.0, 2.0]


# ---------------------------------------------------------------------------
# reference == kernel
# ---------------------------------------------------------------------------


@needs_numba
@given(masks=mask_stacks(), data=st.data())
def test_reference_equals_kernel(masks, data):
    n, h, w = masks.shape
    m = np.ascontiguousarray(masks, dtype=np.uint8)
    mt = np.ascontiguousarray(masks.transpose(0, 2, 1), dtype=np.uint8)  # column-major masks
    c_ref, o_ref = dm._encode_reference(m, False)
    for arr, xfirst in ((m, False), (mt, True)):
        c_k, o_k = dm._encode_kernel(arr, xfirst)
        assert_array_equal(c_ref, c_k)
        assert_array_equal(o_ref, o_k)
        assert_array_equal(dm._encode_reference(arr, xfirst)[0], c_ref)
    cm = mt.reshape(n, h * w)
    s_ref, so_ref = dm._to_strings_reference(c_ref, o_ref)
    s_k, so_k = dm._to_strings_kernel(c_ref, o_ref)
    assert_array_equal(s_ref, s_k)
    assert_array_equal(so_ref, so_k)
    joined = np.frombuffer(b" ".join(s_ref[so_ref[i] : so_ref[i + 1]].tobytes() for i in range(n)), np.uint8)
    pixels = np.full(n, h * w, dtype=np.int64)
    back_ref = dm._from_strings_reference(joined, n, pixels)
    back_k = dm._from_strings_kernel(joined, n, pixels)
    for a, b in zip(back_ref, back_k):
        assert_array_equal(a, b)
    assert_array_equal(back_ref[0], c_ref)
    out = np.zeros_like(cm)
    dm._decode_kernel(c_ref, o_ref, out)
    assert_array_equal(out, dm._decode_reference(c_ref, o_ref, cm.shape[1]))
    area = np.empty(masks.shape[0], dtype=np.int64)
    dm._area_kernel(c_ref, o_ref, area)
    assert_array_equal(area, dm._area_reference(c_ref, o_ref))
    sizes = np.tile(np.array(masks.shape[1:], dtype=np.int64), (masks.shape[0], 1))
    b_ref, b_k = np.empty((masks.shape[0], 4)), np.empty((masks.shape[0], 4))
    dm._to_bbox_reference(c_ref, o_ref, sizes, b_ref)
    dm._to_bbox_kernel(c_ref, o_ref, sizes, b_k)
    assert_array_equal(b_ref, b_k)
    rows = np.arange(masks.shape[0], dtype=np.int64)
    iv_ref = dm._intervals_reference(c_ref, o_ref, sizes, rows)
    iv_k = dm._intervals_kernel(c_ref, o_ref, sizes, rows)
    for a, b in zip(iv_ref, iv_k):
        assert_array_equal(a, b)
    crowd = np.array(
        data.draw(st.lists(st.integers(0, 1), min_size=masks.shape[0], max_size=masks.shape[0])), dtype=np.uint8
    )
    i_ref, i_k = np.empty((masks.shape[0],) * 2), np.empty((masks.shape[0],) * 2)
    dm._iou_reference(iv_ref, iv_ref, crowd, i_ref)
    dm._iou_kernel(*iv_k, *iv_k, crowd, h, i_k)
    assert_array_equal(i_ref, i_k)
    if masks.shape[0] >= 2:
        for intersect in (False, True):
            a, b = c_ref[o_ref[0] : o_ref[1]], c_ref[o_ref[1] : o_ref[2]]
            assert_array_equal(dm._merge_two_reference(a, b, intersect), dm._merge_two_kernel(a, b, intersect))
    scores = np.array(
        data.draw(st.lists(st.sampled_from([0.1, 0.5, 0.9]), min_size=masks.shape[0], max_size=masks.shape[0])),
        dtype=np.float64,
    )
    labels = np.array(
        data.draw(st.lists(st.integers(0, 1), min_size=masks.shape[0], max_size=masks.shape[0])), dtype=np.int64
    )
    thr = data.draw(st.sampled_from([0.0, 0.3, 0.5, 1.0]))
    order = np.argsort(-scores, kind="stable").astype(np.int64)
    keep = np.empty(masks.shape[0], dtype=np.int64)
    k = dm._nms_kernel(*iv_k, order, labels, thr, h, keep)
    assert_array_equal(keep[:k], dm._nms_reference(iv_ref, order, labels, thr))


@needs_numba
@given(polygon_sets())
def test_polygon_reference_equals_kernel(case):
    polygons, h, w = case
    parts = [np.asarray(p, dtype=np.float64).reshape(-1, 2) for inst in polygons for p in inst]
    point_offsets = np.concatenate([[0], np.cumsum([p.shape[0] for p in parts])]).astype(np.int64)
    part_offsets = np.concatenate([[0], np.cumsum([len(inst) for inst in polygons])]).astype(np.int64)
    xy = np.ascontiguousarray(np.concatenate(parts))
    hs = np.full(len(polygons), h, dtype=np.int64)
    ws = np.full(len(polygons), w, dtype=np.int64)
    ref = dm._polygons_reference(xy, point_offsets, part_offsets, hs, ws)
    fast = dm._polygons_kernel(xy, point_offsets, part_offsets, hs, ws)
    assert_array_equal(ref[0], fast[0])
    assert_array_equal(ref[1], fast[1])


# ---------------------------------------------------------------------------
# NMS and the evaluator's blocks
# ---------------------------------------------------------------------------


def _greedy(iou, scores, labels, thr):
    keep, suppressed = [], np.zeros(len(scores), dtype=bool)
    for i in np.argsort(-np.asarray(scores), kind="stable"):
        if not suppressed[i]:
            keep.append(int(i))
            suppressed |= (iou[i] > thr) & (np.asarray(labels) == labels[i])
    return keep


@pytest.mark.parametrize("backend", BACKENDS)
@given(masks=mask_stacks(max_n=6), data=st.data())
def test_nms_is_greedy_on_pycocotools_iou(backend, masks, data):
    n = masks.shape[0]
    scores = data.draw(st.lists(st.sampled_from([0.2, 0.5, 0.7]), min_size=n, max_size=n))
    labels = data.draw(st.lists(st.integers(0, 2), min_size=n, max_size=n))
    thr = data.draw(st.sampled_from([0.0, 0.25, 0.5, 0.9, 1.0]))
    rles = dm.encode(masks)
    full = coco_mask.iou(coco_encode(masks), coco_encode(masks), [0] * n) if n else np.zeros((0, 0))
    keep = dm.nms(masks, scores, thr, backend=backend)
    assert keep.dtype == np.int64
    assert keep.tolist() == _greedy(full, scores, [0] * n, thr)
    assert_array_equal(dm.nms(rles, scores, thr, backend=backend), keep)
    batched = dm.batched_nms(rles, scores, labels, thr, backend=backend)
    assert batched.tolist() == _greedy(full, scores, labels, thr)


@pytest.mark.parametrize("backend", BACKENDS)
@given(data=st.data())
def test_mask_iou_blocks_equal_per_group_iou(backend, data):
    n_groups = data.draw(st.integers(1, 4))
    det_parts, gt_parts, crowd_parts, det_n, gt_n = [], [], [], [], []
    for _ in range(n_groups):
        d = data.draw(mask_stacks(max_n=3, max_side=12))
        g = data.draw(mask_stacks(max_n=3, sizes=[d.shape[1:]]))
        det_parts.append(d)
        gt_parts.append(g)
        crowd_parts.append(np.array(data.draw(st.lists(st.booleans(), min_size=len(g), max_size=len(g)))))
        det_n.append(len(d))
        gt_n.append(len(g))
    det_rles = [r for d in det_parts for r in dm.encode(d)]
    gt_rles = [r for g in gt_parts for r in dm.encode(g)]
    det_flat = dm._as_rles(det_rles, "det", "numpy")
    gt_flat = dm._as_rles(gt_rles, "gt", "numpy")
    det_offsets = np.concatenate([[0], np.cumsum(det_n)]).astype(np.int64)
    gt_offsets = np.concatenate([[0], np.cumsum(gt_n)]).astype(np.int64)
    crowd = np.concatenate(crowd_parts).astype(np.uint8)
    iou_flat, iou_offsets = dm._mask_iou_blocks(*det_flat[:3], *gt_flat[:3], crowd, det_offsets, gt_offsets, backend)
    for g in range(n_groups):
        block = iou_flat[iou_offsets[g] : iou_offsets[g + 1]].reshape(det_n[g], gt_n[g])
        assert_array_equal(block, dm.iou(det_parts[g], gt_parts[g], crowd_parts[g], backend="numpy"))


def test_mask_iou_blocks_reject_mixed_sizes():
    det = dm._as_rles(dm.encode(np.ones((1, 2, 3), dtype=bool)), "d", "numpy")
    gt = dm._as_rles(dm.encode(np.ones((1, 3, 2), dtype=bool)), "g", "numpy")
    with pytest.raises(ValueError, match="different sizes"):
        dm._mask_iou_blocks(*det[:3], *gt[:3], np.zeros(1, np.uint8), np.array([0, 1]), np.array([0, 1]), "numpy")


# ---------------------------------------------------------------------------
# bad input
# ---------------------------------------------------------------------------

GOOD = {"size": [2, 2], "counts": [1, 3]}
BAD = [
    (lambda: dm.encode(np.zeros((2, 2, 2, 2), dtype=bool)), ValueError, r"masks must have shape \(N, H, W\)"),
    (lambda: dm.encode(np.zeros(5, dtype=bool)), ValueError, r"masks must have shape"),
    (lambda: dm.encode(np.full((2, 2), 2)), ValueError, r"masks must hold only 0 and 1.*index \(0, 0\)"),
    (lambda: dm.encode(np.full((1, 2, 2), 0.5)), ValueError, r"masks must hold only 0 and 1"),
    (lambda: dm.encode(np.array([["a"]])), TypeError, r"masks must be a boolean or 0/1"),
    (lambda: dm.encode("mask"), TypeError, r"masks must be an array"),
    (lambda: dm.area([{"size": [2, 2], "counts": [1, 2]}]), ValueError, r"rles\[0\]\['counts'\] add up to 3 .* has 4"),
    (
        lambda: dm.area([GOOD, {"size": [2, 2], "counts": [1, -1, 4]}]),
        ValueError,
        r"rles\[1\]\['counts'\] must be non-neg",
    ),
    (lambda: dm.decode({"size": [2, 2], "counts": b"4 "}), ValueError, r"rles\['counts'\] is not a valid .*alphabet"),
    (
        lambda: dm.decode({"size": [2, 2], "counts": b"4o"}),
        ValueError,
        r"not a valid compressed RLE string: a value cut",
    ),
    (lambda: dm.decode({"size": [9, 9], "counts": b"O"}), ValueError, r"negative or out-of-range run"),
    (lambda: dm.decode({"size": [9, 9], "counts": "é"}), ValueError, r"non-ASCII"),
    (lambda: dm.decode({"size": [2, 2], "counts": b"5"}), ValueError, r"add up to 5 pixels"),
    (lambda: dm.decode({"size": [2], "counts": b"4"}), ValueError, r"rles\['size'\] must be \[height, width\]"),
    (lambda: dm.decode({"size": [2, -2], "counts": b"4"}), ValueError, r"two non-negative integers"),
    (lambda: dm.decode({"counts": b"4"}), ValueError, r"must have keys 'size' and 'counts'"),
    (lambda: dm.decode([GOOD, 3]), TypeError, r"rles\[1\] must be an RLE dict"),
    (lambda: dm.decode([GOOD, {"size": [1, 4], "counts": [4]}]), ValueError, r"rles must all have one size"),
    (lambda: dm.decode({"size": [2, 2], "counts": [[1, 3]]}), ValueError, r"1-D list of integers"),
    (lambda: dm.decode({"size": [2, 2], "counts": [1.5, 2.5]}), ValueError, r"must hold integers"),
    (lambda: dm.iou([GOOD], [{"size": [1, 4], "counts": [4]}]), ValueError, r"different sizes compared.*rles2\[0\]"),
    (lambda: dm.iou([GOOD], [GOOD], [0, 1]), ValueError, r"iscrowd has length 2 but rles2 has 1"),
    (lambda: dm.merge([GOOD, {"size": [4, 1], "counts": [4]}]), ValueError, r"rles must all have one size"),
    (lambda: dm.merge([]), ValueError, r"at least one RLE"),
    (lambda: dm.from_polygons([[[0, 0, 1, 1, 2]]], 4, 4), ValueError, r"polygons\[0\]\[0\] has an odd number"),
    (lambda: dm.from_polygons([[[0, 0, 1, 1]]], 4, 4), ValueError, r"has 2 points; .* at least 3.*from_boxes"),
    (lambda: dm.from_polygons([[[0, 0, 1, 1, 2, 2], [0, 0]]], 4, 4), ValueError, r"polygons\[0\]\[1\] has 1 points"),
    (lambda: dm.from_polygons([[[0, 0, 1, np.nan, 2, 2]]], 4, 4), ValueError, r"NaN, infinite or out-of-range"),
    (lambda: dm.from_polygons([[[0, 0, 1, 1e12, 2, 2]]], 4, 4), ValueError, r"out-of-range"),
    (lambda: dm.from_polygons([[]], 4, 4), ValueError, r"polygons\[0\] has no parts"),
    (lambda: dm.from_polygons([[["a", "b"]]], 4, 4), ValueError, r"flat list of numbers"),
    (lambda: dm.from_polygons([[[0, 0, 1, 1, 2, 2]]], 0, 4), ValueError, r"height must be a positive integer"),
    (lambda: dm.from_polygons([[[0, 0, 1, 1, 2, 2]]], 4, 2.5), ValueError, r"width must be a positive integer"),
    (lambda: dm.from_polygons("poly", 4, 4), TypeError, r"polygons must be a list"),
    (lambda: dm.from_boxes([[0, 0, -1, 1]], 4, 4), ValueError, r"boxes has a negative width"),
    (lambda: dm.from_boxes([[0, 0, 1]], 4, 4), ValueError, r"boxes must have shape \(N, 4\)"),
    (lambda: dm.nms(np.ones((2, 2, 2), bool), [0.5], 0.5), ValueError, r"scores has length 1 but masks has 2"),
    (lambda: dm.nms(np.ones((2, 2, 2), bool), [0.5, 0.4], 1.5), ValueError, r"iou_threshold must be in \[0, 1\]"),
    (lambda: dm.nms(np.ones((2, 2), bool), [0.5], 0.5), ValueError, r"got a single mask"),
    (lambda: dm.nms([GOOD, {"size": [4, 1], "counts": [4]}], [1, 2]), ValueError, r"masks must all have one size"),
    (lambda: dm.batched_nms(np.ones((2, 2, 2), bool), [1, 2], [0.5, 1]), ValueError, r"labels must hold integers"),
    (lambda: dm.encode(np.ones((1, 2, 2), bool), backend="gpu"), ValueError, r"backend must be one of"),
]


@pytest.mark.parametrize("call, exc, match", BAD)
def test_bad_input(call, exc, match):
    with pytest.raises(exc, match=match):
        call()


# ---------------------------------------------------------------------------
# COCO segmentation fields, as COCO.annToRLE reads them (for the evaluator)
# ---------------------------------------------------------------------------


@st.composite
def segmentations(draw):
    h, w = draw(st.integers(1, 20)), draw(st.integers(1, 20))
    coord = st.integers(-4, 2 * max(h, w) + 4).map(lambda v: v / 2.0)
    kind = draw(st.sampled_from(["polygons", "uncompressed", "compressed"]))
    if kind == "polygons":  # odd lengths and short later parts included: pycocotools' rules
        first = draw(st.lists(coord, min_size=5, max_size=14))
        rest = draw(st.lists(st.lists(coord, min_size=0, max_size=9), max_size=2))
        segm = [first] + rest
    else:
        m = draw(mask_stacks(max_n=1, sizes=[(h, w)]))
        m = m if m.shape[0] else np.zeros((1, h, w), dtype=bool)
        rle = coco_encode(m)[0]
        segm = as_lists([rle])[0] if kind == "uncompressed" else {"size": rle["size"], "counts": rle["counts"].decode()}
    return segm, h, w


@pytest.mark.parametrize("backend", BACKENDS)
@given(st.lists(segmentations(), min_size=1, max_size=5))
def test_segmentations_follow_ann_to_rle(backend, cases):
    from pycocotools.coco import COCO

    coco = COCO()
    coco.dataset = {
        "images": [{"id": i, "height": h, "width": w} for i, (_, h, w) in enumerate(cases)],
        "annotations": [
            {"id": i + 1, "image_id": i, "category_id": 1, "segmentation": s} for i, (s, _, _) in enumerate(cases)
        ],
        "categories": [{"id": 1, "name": "thing"}],
    }
    with contextlib.redirect_stdout(io.StringIO()):
        coco.createIndex()
    expected = [coco.annToRLE(a) for a in coco.dataset["annotations"]]
    counts, offsets, sizes = dm._segmentations_flat(
        [s for s, _, _ in cases], [h for _, h, _ in cases], [w for _, _, w in cases], backend
    )
    ref_counts, ref_offsets, ref_sizes, _ = dm._as_rles(expected, "expected", "numpy")
    assert_array_equal(sizes, ref_sizes)
    assert_array_equal(offsets, ref_offsets)
    assert_array_equal(counts, ref_counts)


def test_segmentations_reject_what_pycocotools_cannot_read():
    with pytest.raises(ValueError, match=r"segmentation\[0\]: a first part of 2 numbers"):
        dm._segmentations_flat([[[1, 2]]], [4], [4], "numpy")
    with pytest.raises(ValueError, match=r"segmentation\[0\] must be polygons"):
        dm._segmentations_flat([[]], [4], [4], "numpy")
    with pytest.raises(ValueError, match=r"a first part of 4 numbers is not a polygon"):
        dm._segmentations_flat([[[0, 0, 1, 1], [0, 0, 1, 1, 2, 2]]], [4], [4], "numpy")
    with pytest.raises(ValueError, match=r"segmentation\[1\]\['counts'\] add up"):
        dm._segmentations_flat([[[0, 0, 1, 1, 2, 2]], {"size": [2, 2], "counts": [1]}], [4, 4], [4, 4], "numpy")
