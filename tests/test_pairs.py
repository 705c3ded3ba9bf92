"""The registry of reference/kernel pairs: every Numba kernel against its NumPy reference.

Each ``Pair`` names a kernel, its NumPy reference, a hypothesis strategy of
inputs, a runner (``run(args, backend) -> tuple of arrays``, going through the
same dispatch users reach) and an exactness level:

* ``"exact"``: the kernel repeats the reference's operations in the same
  order, so outputs are bit-identical;
* ``"close"``: a float reduction or a transcendental differs in order or
  implementation; outputs agree to ``atol=1e-9`` (DESIGN.md), integer outputs
  (indices, offsets) still exactly.

``HELPERS`` lists the small ``@kernel`` functions that only other kernels call
(they are covered through the kernel named next to them).
``test_every_kernel_is_registered`` fails when a ``@kernel`` in the package is
in neither table: a new kernel must come with its pair.  Without numba the
pair tests are skipped, visibly, with the reason; the completeness test runs
regardless (it reads the sources).
"""

from __future__ import annotations

import ast
import importlib
import pathlib
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from numpy.testing import assert_allclose, assert_array_equal
from test_columns import annotation_columns_run, annotation_dicts, dict_columns_run, result_dicts
from test_errors import breakdown_scenes, classify_run, tide_ap_inputs, tide_ap_run
from test_io import _columns_or_none, results_json
from test_keypoints import pose_cases
from test_masks import mask_stacks, polygon_sets

import detmetrics
from detmetrics import (
    batched_nms,
    box_iou,
    complete_box_iou,
    confusion_matrix,
    distance_box_iou,
    filter_by_confidence,
    generalized_box_iou,
    polygon_iou,
    rotated_iou,
    soft_nms,
)
from detmetrics import keypoints as kp
from detmetrics import masks as dm
from detmetrics.ap import _accumulate, _trapezoid_ap
from detmetrics.matching import _group, _iou_blocks, _match_groups, _match_groups_voc
from detmetrics.rotated import _iou_blocks_oriented
from detmetrics.strategies import box_pairs, nms_inputs, quads, rotated_boxes

from _support import requires_numba
from test_ap import accumulate_inputs
from test_confusion import images
from test_matching import grouped, match_inputs
from test_voc_matching import voc_match_inputs


@dataclass(frozen=True)
class Pair:
    kernel: str                 # "module:function"
    reference: str              # "module:function"
    strategy: st.SearchStrategy
    run: Callable
    exactness: str = "exact"


# ------------------------------------------------------------------------ strategies


@st.composite
def _iou_variant_inputs(draw):
    b1, b2 = draw(box_pairs(max_size=12))
    return b1, b2, draw(st.sampled_from(["giou", "diou", "ciou"])), draw(st.sampled_from([0.0, 1e-7, 0.5]))


@st.composite
def _groups_of(draw, boxes_strategy):
    det, gt = draw(boxes_strategy), draw(boxes_strategy)
    n_groups = draw(st.integers(1, 4))
    cuts_d = sorted(draw(st.lists(st.integers(0, len(det)), min_size=n_groups - 1, max_size=n_groups - 1)))
    cuts_g = sorted(draw(st.lists(st.integers(0, len(gt)), min_size=n_groups - 1, max_size=n_groups - 1)))
    crowd = np.array(draw(st.lists(st.sampled_from([0, 1]), min_size=len(gt), max_size=len(gt))), dtype=np.uint8)
    return (det, gt, crowd, np.array([0, *cuts_d, len(det)], dtype=np.int64),
            np.array([0, *cuts_g, len(gt)], dtype=np.int64))


@st.composite
def _grouping_inputs(draw):
    dets = draw(st.lists(st.tuples(st.integers(0, 5), st.sampled_from([0.1, 0.5, 0.5, 0.9])), max_size=80))
    gts = draw(st.lists(st.integers(0, 5), max_size=10))
    # 6 buckets as 1 category x 6 images, 2 x 3, 3 x 2 or 6 x 1
    n_cat, n_img = draw(st.sampled_from([(1, 6), (2, 3), (3, 2), (6, 1)]))
    det_key = np.array([d[0] for d in dets], dtype=np.int64)
    score = np.array([d[1] for d in dets], dtype=np.float64)
    gt_key = np.array(gts, dtype=np.int64)
    if draw(st.booleans()):  # rows in image order, as detectors write them (the kernel's fast path)
        by_img = np.argsort(det_key % n_img, kind="stable")
        det_key, score = det_key[by_img], score[by_img]
        gt_key = gt_key[np.argsort(gt_key % n_img, kind="stable")]
    n = len(dets)
    # the carried columns: areas and boxes as distinct numbers per row (a row moved wrongly shows);
    # no areas: the kernel multiplies the boxes' w * h
    area = np.arange(n, dtype=np.float64) * 1.5 if draw(st.booleans()) else None
    box = np.arange(4 * n, dtype=np.float64).reshape(n, 4) - 7.25
    return (det_key // n_img, det_key % n_img, score, gt_key // n_img, gt_key % n_img, n_cat, n_img,
            draw(st.integers(1, 4)), area, box)


@st.composite
def _filter_inputs(draw):
    n = draw(st.integers(0, 300))
    scores = np.array(draw(st.lists(st.sampled_from([0.0, 0.001, 0.1, 0.5, 0.5, 0.9, 1.0]), min_size=n, max_size=n)))
    return scores, draw(st.sampled_from([0.0, 0.001, 0.5])), draw(st.sampled_from([None, 0, 1, 5, 100]))


@st.composite
def _soft_inputs(draw, boxes_strategy):
    boxes = draw(boxes_strategy)
    n = len(boxes)
    scores = np.array(draw(st.lists(st.sampled_from([0.05, 0.3, 0.5, 0.5, 0.9]), min_size=n, max_size=n)))
    return (boxes, scores, draw(st.sampled_from(["gaussian", "linear"])), draw(st.sampled_from([0.1, 0.5, 2.0])),
            draw(st.sampled_from([0.0, 0.3, 0.5])), draw(st.sampled_from([0.0, 0.001, 0.3])))


@st.composite
def _oriented_nms_inputs(draw):
    boxes = draw(st.one_of(rotated_boxes(max_size=25), quads(max_size=25)))
    n = len(boxes)
    scores = np.array(draw(st.lists(st.sampled_from([0.3, 0.5, 0.5, 0.9]), min_size=n, max_size=n)))
    labels = np.array(draw(st.lists(st.integers(0, 2), min_size=n, max_size=n)), dtype=np.int64)
    return boxes, scores, labels, draw(st.sampled_from([0.0, 0.3, 0.5, 0.7]))


# ------------------------------------------------------------------------ runners


def _variant(args, backend):
    b1, b2, name, eps = args
    if name == "giou":
        return (generalized_box_iou(b1, b2, backend=backend),)
    fn = distance_box_iou if name == "diou" else complete_box_iou
    return (fn(b1, b2, eps=eps, backend=backend),)


def _soft(args, backend):
    boxes, scores, method, sigma, iou_threshold, score_threshold = args
    return soft_nms(boxes, scores, method=method, sigma=sigma, iou_threshold=iou_threshold,
                    score_threshold=score_threshold, backend=backend)


def _trapezoid(args, backend):
    cat_offsets, score, rank, code, n_gt, max_dets = args[:6]
    # each category's detections by decreasing score, as the accumulation hands them over
    order = np.concatenate([c0 + np.argsort(-score[c0:c1], kind="stable")
                            for c0, c1 in zip(cat_offsets[:-1], cat_offsets[1:])] or [np.zeros(0, np.int64)])
    return (_trapezoid_ap(cat_offsets, order.astype(np.int64), rank, code, n_gt, max_dets, backend),)


def _voc(args, backend):
    inputs, difficult = args
    return _match_groups_voc(*inputs, backend, gt_difficult=difficult)


@st.composite
def _mask_groups(draw):
    masks = draw(mask_stacks(max_n=6, max_side=16))
    n = len(masks)
    cuts = sorted(draw(st.lists(st.integers(0, n), min_size=1, max_size=3)))
    return masks, np.array([0, *cuts, n], dtype=np.int64)


def _rle_bytes(rles):
    """RLE dicts -> one uint8 array of their counts (a separator between), for array comparison."""
    return (np.frombuffer(b" ".join(r["counts"] for r in rles), dtype=np.uint8),)


def _mask_blocks(args, backend):
    masks, offsets = args
    flat = dm._as_rles(dm.encode(masks), "masks", "numpy")[:3]
    crowd = (np.arange(len(masks)) % 3 == 0).astype(np.uint8)
    return dm._mask_iou_blocks(*flat, *flat, crowd, offsets, offsets, backend)


def _mask_nms(masks, backend):
    n = len(masks)
    scores = np.resize(np.array([0.5, 0.9, 0.2]), n)
    return (dm.batched_nms(masks, scores, np.arange(n) % 2, 0.3, backend=backend),)


def _oks(case, backend):
    k, sigmas, gts, dts = case
    d = np.array([p for p, _ in dts], dtype=np.float64).reshape(-1, k, 3)
    g = np.array([x[0] for x in gts], dtype=np.float64).reshape(-1, k, 3)
    return (kp.oks(d, g, [x[2] for x in gts], np.array([x[1] for x in gts]).reshape(-1, 4), sigmas=sigmas,
                   backend=backend),)


def _oks_blocks(case, backend):
    k, sigmas, gts, dts = case
    s = np.asarray(kp.COCO_SIGMAS if sigmas is None else sigmas, dtype=np.float64)
    d = np.array([p for p, _ in dts], dtype=np.float64).reshape(-1, k, 3)
    g = np.array([x[0] for x in gts], dtype=np.float64).reshape(-1, k, 3)
    areas = np.array([x[2] for x in gts], dtype=np.float64)
    boxes = np.array([x[1] for x in gts], dtype=np.float64).reshape(-1, 4)
    half_d, half_g = len(d) // 2, len(g) // 2
    return kp._oks_blocks(d, g, areas, boxes, s, np.array([0, half_d, len(d)]), np.array([0, half_g, len(g)]),
                          backend)


def _results_scan(args, backend):
    out = _columns_or_none(args[0], backend)  # the kernel, its msgspec fallback, or the typed decoder
    return (np.array([-1]),) if out is None else out


@st.composite
def _keep_inputs(draw):
    """A block's kept detections in category segments, and where each category's part of the state begins."""
    n_cat = draw(st.integers(1, 5))
    sizes = draw(st.lists(st.integers(0, 6), min_size=n_cat, max_size=n_cat))
    segments = np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64)
    n = int(segments[-1])
    n_rows = draw(st.integers(1, 13))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    room = [s + draw(st.integers(0, 3)) for s in sizes]
    start = np.concatenate([[0], np.cumsum(room)[:-1]]).astype(np.int64)
    total = int(sum(room))
    return (segments, rng.random(n), rng.integers(0, 100, n), rng.integers(0, 3, (n, n_rows)).astype(np.uint8), start,
            total)


def _keep_run(args, backend):
    from detmetrics._blocks import _keep

    segments, score, rank, rows, start, total = args
    fill = start.copy()
    width = -(-rows.shape[1] // 4) + 1
    out = (np.full(total, -1.0), np.full((total, width), 255, np.uint8))
    _keep(segments, score, rank, rows, fill, *out, backend=backend)
    return (fill, *out)


def _packed_accumulate(args, backend):
    from detmetrics.ap import pack_codes

    # the compact state of detmetrics._blocks: packed codes, then the rank byte (ranks below 256)
    args = list(args)
    assume(args[2].shape[0] == 0 or int(args[2].max()) < 256)
    args[3] = np.concatenate([pack_codes(args[3]), args[2].astype(np.uint8)[:, None]], axis=1)
    args[2] = None
    return _accumulate(*args, backend)


def _flatten_group(out):
    return (*out[:5], *out[5])


_MASK_PAIRS = [
    ("_encode_kernel", "_encode_reference", mask_stacks(), lambda a, b: _rle_bytes(dm.encode(a, backend=b))),
    ("_to_strings_kernel", "_to_strings_reference", mask_stacks(), lambda a, b: _rle_bytes(dm.encode(a, backend=b))),
    ("_from_strings_kernel", "_from_strings_reference", mask_stacks(),
     lambda a, b: (dm.area(dm.encode(a), backend=b),)),
    ("_decode_kernel", "_decode_reference", mask_stacks(), lambda a, b: (dm.decode(dm.encode(a), backend=b),)),
    ("_area_kernel", "_area_reference", mask_stacks(), lambda a, b: (dm.area(dm.encode(a), backend=b),)),
    ("_to_bbox_kernel", "_to_bbox_reference", mask_stacks(), lambda a, b: (dm.to_bbox(dm.encode(a), backend=b),)),
    ("_intervals_kernel", "_intervals_reference", mask_stacks(),
     lambda a, b: dm._intervals(*dm._as_rles(dm.encode(a), "m", "numpy")[:3], b, np.arange(len(a))[::-1])),
    ("_iou_kernel", "_iou_reference", mask_stacks(),
     lambda a, b: (dm.iou(a, a[::-1], np.arange(len(a)) % 2, backend=b),)),
    ("_mask_iou_blocks_kernel", "_mask_iou_blocks", _mask_groups(), _mask_blocks),
    ("_nms_kernel", "_nms_reference", mask_stacks(max_n=8), _mask_nms),
    ("_polygons_kernel", "_polygons_reference", polygon_sets(),
     lambda a, b: _rle_bytes(dm.from_polygons(*a, backend=b))),
    ("_merge_two_kernel", "_merge_two_reference", mask_stacks(),
     lambda a, b: _rle_bytes([dm.merge(dm.encode(a), i, backend=b) for i in (False, True)]) if len(a) else ()),
]

PAIRS = [
    Pair("_blocks:_keep_kernel", "_blocks:_keep_reference", _keep_inputs(), _keep_run),
    Pair("ap:_accumulate_category", "ap:_accumulate_reference", accumulate_inputs(), _packed_accumulate),
    *(Pair(f"masks:{k}", f"masks:{r}", strategy, run) for k, r, strategy, run in _MASK_PAIRS),
    Pair("keypoints:_oks_mean_kernel", "keypoints:_oks_reference", pose_cases(), _oks),
    Pair("keypoints:_oks_blocks_mean_kernel", "keypoints:_oks_blocks", pose_cases(), _oks_blocks),
    Pair("io._coco_decode:_results_scan_kernel", "io._coco_decode:_results_scan_reference", results_json(),
         _results_scan),
    Pair("io._dict_columns:_result_dict_columns_kernel", "io._dict_columns:_result_dict_columns_reference",
         result_dicts(), dict_columns_run),
    Pair("io._dict_columns:_annotation_dict_columns_kernel", "io._dict_columns:_annotation_dict_columns_reference",
         annotation_dicts(), annotation_columns_run),
    Pair("iou:_box_iou_kernel", "iou:_box_iou_reference", box_pairs(),
         lambda a, b: (box_iou(*a, backend=b),)),
    Pair("iou:_box_iou_variant_kernel", "iou:_box_iou_variant_reference", _iou_variant_inputs(), _variant, "close"),
    Pair("matching:_group_kernel", "matching:_group_reference", _grouping_inputs(),
         lambda a, b: _flatten_group(_group(*a[:8], b, *a[8:]))),
    Pair("matching:_iou_blocks_kernel", "matching:_iou_blocks_reference", grouped(),
         lambda a, b: _iou_blocks(*a, b)),
    Pair("matching:_match_groups_kernel", "matching:_match_groups_reference", match_inputs(),
         lambda a, b: _match_groups(*a, b)),
    Pair("matching:_match_groups_voc_kernel", "matching:_match_groups_voc_reference", voc_match_inputs(), _voc),
    Pair("ap:_accumulate_category", "ap:_accumulate_reference", accumulate_inputs(),
         lambda a, b: _accumulate(*a, b)),
    Pair("ap:_trapezoid_ap_kernel", "ap:_trapezoid_ap_reference", accumulate_inputs(), _trapezoid),
    Pair("errors:_classify_kernel", "errors:_classify_reference", breakdown_scenes(), classify_run),
    Pair("errors:_tide_ap_kernel", "errors:_tide_ap_reference", tide_ap_inputs(), tide_ap_run),
    Pair("confusion:_confusion_kernel", "confusion:_confusion_reference",
         st.tuples(images(), st.sampled_from([0.0, 0.25, 0.5]), st.sampled_from([0.0, 0.3, 0.45, 0.5])),
         lambda a, b: (confusion_matrix(*a[0], num_classes=3, conf_threshold=a[1], iou_threshold=a[2], backend=b),)),
    Pair("postprocess:_filter_by_confidence_kernel", "postprocess:_filter_by_confidence_reference", _filter_inputs(),
         lambda a, b: (filter_by_confidence(a[0], a[1], max_detections=a[2], backend=b),)),
    Pair("postprocess:_nms_kernel", "postprocess:_greedy_nms_reference",
         st.tuples(nms_inputs(), st.sampled_from([0.0, 0.3, 0.5, 0.7, 1.0])),
         lambda a, b: (batched_nms(*a[0], a[1], backend=b),)),
    Pair("postprocess:_soft_nms_kernel", "postprocess:_soft_nms_reference", _soft_inputs(box_pairs().map(lambda p: p[0])),
         _soft),
    Pair("rotated:_polygon_iou_kernel", "rotated:_polygon_iou_reference",
         st.one_of(st.tuples(st.just("rotated"), rotated_boxes(max_size=12), rotated_boxes(max_size=12)),
                   st.tuples(st.just("quad"), quads(max_size=12), quads(max_size=12))),
         lambda a, b: ((rotated_iou if a[0] == "rotated" else polygon_iou)(a[1], a[2], backend=b),), "close"),
    Pair("rotated:_nms_oriented_kernel", "postprocess:_greedy_nms_reference", _oriented_nms_inputs(),
         lambda a, b: (batched_nms(*a, backend=b),)),
    Pair("rotated:_soft_nms_oriented_kernel", "postprocess:_soft_nms_reference",
         _soft_inputs(st.one_of(rotated_boxes(max_size=15), quads(max_size=15))), _soft, "close"),
    Pair("rotated:_iou_blocks_oriented_kernel", "rotated:_iou_blocks_oriented", _groups_of(rotated_boxes(max_size=12)),
         lambda a, b: _iou_blocks_oriented(*a, b), "close"),
]

#: kernels only other kernels call -> the registered kernel that covers them
HELPERS = {
    "io._coco_decode:_skip_ws": "io._coco_decode:_results_scan_kernel",
    "io._coco_decode:_scan_number": "io._coco_decode:_results_scan_kernel",
    "io._coco_decode:_exact_double": "io._coco_decode:_results_scan_kernel",
    "io._coco_decode:_skip_scalar": "io._coco_decode:_results_scan_kernel",
    "io._coco_decode:_join_tokens_kernel": "io._coco_decode:_results_scan_kernel",
    "masks:_fill_intervals": "masks:_mask_iou_blocks_kernel",
    "masks:_scratch_size": "masks:_mask_iou_blocks_kernel",
    "iou:_inter_union": "iou:_box_iou_kernel",
    "ap:_radix_order_desc": "ap:_accumulate_category",
    "postprocess:_sort_desc_kernel": "postprocess:_filter_by_confidence_kernel",
    "confusion:_sort_desc_kernel": "confusion:_confusion_kernel",
    "matching:_sort_desc_kernel": "matching:_group_kernel",
    "matching:_image_order": "matching:_group_kernel",
    "io._dict_columns:_numpy_id": "io._dict_columns:_result_dict_columns_kernel",
    "io._dict_columns:_numpy_number": "io._dict_columns:_result_dict_columns_kernel",
    "io._dict_columns:_exact_int": "io._dict_columns:_annotation_dict_columns_kernel",
    "io._dict_columns:_exact_number": "io._dict_columns:_annotation_dict_columns_kernel",
    "postprocess:_running_max_by_segment": "postprocess:_nms_kernel",
    "postprocess:_first_reaching": "postprocess:_nms_kernel",
    "postprocess:_pair_iou": "postprocess:_nms_kernel",
    "postprocess:_sorted_copy": "postprocess:_nms_kernel",
    "postprocess:_heap_before": "postprocess:_soft_nms_kernel",
    "postprocess:_heap_sift_down": "postprocess:_soft_nms_kernel",
    "postprocess:_heap_pop": "postprocess:_soft_nms_kernel",
    "rotated:_side_kernel": "rotated:_polygon_iou_kernel",
    "rotated:_separated_kernel": "rotated:_polygon_iou_kernel",
    "rotated:_intersection_kernel": "rotated:_polygon_iou_kernel",
    "rotated:_iou_kernel": "rotated:_polygon_iou_kernel",
    "rotated:_bounds_overlap": "rotated:_polygon_iou_kernel",
    "masks:_column": "masks:_intervals_kernel",
    "masks:_lower_bound_end": "masks:_iou_kernel",
    "masks:_pair_inter": "masks:_iou_kernel",
    "masks:_poly_kernel": "masks:_polygons_kernel",
    "masks:_crossing": "masks:_polygons_kernel",
    "keypoints:_oks_terms_kernel": "keypoints:_oks_mean_kernel",
    "keypoints:_pairwise_sum": "keypoints:_oks_mean_kernel",
    "keypoints:_oks_blocks_terms_kernel": "keypoints:_oks_blocks_mean_kernel",
}


def _resolve(qualified: str):
    module, name = qualified.split(":")
    return getattr(importlib.import_module(f"detmetrics.{module}"), name)


def _package_kernels() -> set:
    """``module:function`` of every function decorated with ``kernel`` / ``parallel_kernel`` (source scan)."""
    root = pathlib.Path(detmetrics.__file__).parent
    found = set()
    for path in root.rglob("*.py"):
        module = ".".join(path.relative_to(root).with_suffix("").parts)
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.FunctionDef):
                for deco in node.decorator_list:
                    name = deco.id if isinstance(deco, ast.Name) else getattr(deco, "attr", None)
                    if name in ("kernel", "parallel_kernel"):
                        found.add(f"{module}:{node.name}")
    return found


def test_every_kernel_is_registered():
    registered = {p.kernel for p in PAIRS} | set(HELPERS)
    missing = sorted(_package_kernels() - registered)
    assert not missing, f"kernels without a registered reference pair (add them to PAIRS or HELPERS): {missing}"
    stale = sorted(registered - _package_kernels())
    assert not stale, f"registered kernels that no longer exist: {stale}"
    assert set(HELPERS.values()) <= {p.kernel for p in PAIRS}


def test_every_reference_exists():
    for pair in PAIRS:
        assert callable(_resolve(pair.kernel)) and callable(_resolve(pair.reference)), pair
        assert pair.exactness in ("exact", "close")


def _check(pair: Pair, args) -> None:
    fast = pair.run(args, "numba")
    slow = pair.run(args, "numpy")
    assert len(fast) == len(slow)
    for f, s in zip(fast, slow):
        f, s = np.asarray(f), np.asarray(s)
        assert f.shape == s.shape and f.dtype == s.dtype, (f.shape, s.shape, f.dtype, s.dtype)
        if pair.exactness == "exact" or f.dtype.kind in "iub":
            assert_array_equal(f, s)
        else:
            assert_allclose(f, s, rtol=0, atol=1e-9)


@requires_numba
@pytest.mark.parametrize("pair", PAIRS, ids=lambda p: p.kernel)
@settings(deadline=None, max_examples=40)
@given(data=st.data())
def test_kernel_equals_reference(pair, data):
    _check(pair, data.draw(pair.strategy, label="args"))


@pytest.mark.parametrize("backend", [pytest.param("numba", marks=requires_numba), "numpy"])
@given(args=_grouping_inputs(), labels=st.sampled_from([(1, 1), (0, 2), (5000, 3)]))
@settings(deadline=None)
def test_group_looks_labels_up_and_may_drop_the_order(backend, args, labels):
    # match() hands the grouping raw labels and their lookup table, and asks for no order (boxes):
    # the same groups, ranks and carried columns as from category positions
    from detmetrics._lookup import lookup_table

    det_cat, n_cat = args[0], args[5]
    start, stride = labels
    cats = start + stride * np.arange(n_cat, dtype=np.int64)
    det_labels = cats[det_cat]
    table = lookup_table(cats, det_labels)
    assert table is not None or det_labels.shape[0] == 0
    plain = _group(*args[:8], backend, *args[8:])
    looked = _group(det_labels, *args[1:8], backend, *args[8:], cat_table=table, want_order=False)
    assert looked[0] is None
    for a, b in zip(_flatten_group(plain)[1:], _flatten_group(looked)[1:]):
        assert_array_equal(a, b)
