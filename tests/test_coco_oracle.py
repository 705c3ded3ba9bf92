"""pycocotools' COCOeval (bbox) as the oracle for ``evaluate_coco`` and ``mean_ap``.

On every adversarial dataset of ``coco_generator`` (score ties, crowds,
empty images, classes without ground truth or without detections, > 100
detections per image, area-range boundaries, IoUs exactly at thresholds,
shuffled non-contiguous ids) and on hypothesis-drawn datasets, all 12 stats
and the full ``precision [T,R,K,A,M]``, ``recall [T,K,A,M]`` and
``scores [T,R,K,A,M]`` arrays must equal COCOeval's within 1e-12, on both
backends, from loaded dicts, from JSON files, and through ``mean_ap``.

Custom ``max_detections``: pycocotools' ``summarize()`` computes stats[0]
with maxDets=100 hard-coded (cocoapi#558): -1 when 100 is not in
``maxDets``, the 100 column when 100 is not the largest. detmetrics uses the
largest ``max_detections``, so stats[0] is
compared against the mean that COCOeval's own ``precision`` array gives at
the largest ``maxDets``.
"""

import copy
import json

import numpy as np
import pytest
from hypothesis import given, settings

from detmetrics import evaluate_coco, mean_ap
from detmetrics.strategies import coco_datasets

from coco_generator import adversarial_datasets, has_zero_annotation_id, quirk_datasets, run_pycocotools, to_mean_ap

ATOL = 1e-12
BACKENDS = ("numba", "numpy")
DATASETS = {name: (gt, results) for name, gt, results in adversarial_datasets()}
NAMES = sorted(DATASETS)
# mean_ap has no annotation ids, so pycocotools' id-0 rule (a match with annotation id 0 counts
# as none) is evaluate_coco's alone
MEAN_AP_NAMES = [n for n in NAMES if not has_zero_annotation_id(DATASETS[n][0])]

# name -> (keyword arguments of detmetrics, stats indices pycocotools gets right or None = all)
CUSTOM = {
    "iou_0.3_1.0": (dict(iou_thresholds=(0.3, 0.5, 0.75, 1.0)), None),
    "iou_without_50_75": (dict(iou_thresholds=(0.1, 0.55, 0.9)), [0, 3, 4, 5, 6, 7, 8, 9, 10, 11]),
    "maxdets_1_5_20": (dict(max_detections=(1, 5, 20)), None),
    "maxdets_10_100_150": (dict(max_detections=(10, 100, 150)), None),
    "area_custom": (dict(area_ranges={"all": (0.0, 1e10), "small": (0.0, 24.0**2), "medium": (24.0**2, 64.0**2),
                                      "large": (64.0**2, 1e10)}), None),
    "area_coco_bounds_as_dict": (dict(area_ranges={"all": (0.0, 1e5**2), "small": (0.0, 32.0**2),
                                                   "medium": (32.0**2, 96.0**2), "large": (96.0**2, 1e5**2)}), None),
}

_ORACLE = {}


def oracle(name, custom=None):
    """pycocotools' (stats, eval) for a dataset and a CUSTOM key, computed once."""
    key = (name, custom)
    if key not in _ORACLE:
        gt, results = DATASETS[name]
        kwargs = CUSTOM[custom][0] if custom else {}
        stats, ev, _ = run_pycocotools(
            gt, results,
            iou_thresholds=kwargs.get("iou_thresholds"),
            max_detections=kwargs.get("max_detections"),
            area_ranges=kwargs.get("area_ranges"),
        )
        _ORACLE[key] = (stats, ev)
    return _ORACLE[key]


def expected_stats(stats, ev, max_detections=None):
    """COCOeval's stats with stats[0] taken at the largest maxDets (cocoapi#558 fixed)."""
    stats = stats.copy()
    if max_detections is not None and max(max_detections) != 100:
        s = ev["precision"][:, :, :, 0, -1]
        stats[0] = np.mean(s[s > -1]) if (s > -1).any() else -1.0
    return stats


def assert_matches(result, stats, ev, *, stats_index=None, cat_index=None, what=""):
    """All stats (or ``stats_index``) and the eval arrays within ATOL; ``cat_index`` selects K."""
    index = list(range(12)) if stats_index is None else list(stats_index)
    got_stats = np.asarray(result.stats, dtype=np.float64)
    assert got_stats.shape == (12,), what
    np.testing.assert_allclose(got_stats[index], stats[index], rtol=0, atol=ATOL, err_msg=f"{what}: stats")
    for key, axis in (("precision", 2), ("recall", 1), ("scores", 2)):
        want = ev[key]
        if cat_index is not None:
            want = np.take(want, cat_index, axis=axis)
        got = np.asarray(getattr(result, key))
        assert got.shape == want.shape, f"{what}: {key} shape {got.shape} != {want.shape}"
        np.testing.assert_allclose(got, want, rtol=0, atol=ATOL, err_msg=f"{what}: {key}")


def _cat_ids(gt):
    return sorted(c["id"] for c in gt["categories"])


def _check_evaluate_coco(gt, results, stats, ev, backend, tmp_path=None, stats_index=None, what="", **kwargs):
    gt_copy, results_copy = copy.deepcopy(gt), copy.deepcopy(results)
    result = evaluate_coco(gt_copy, results_copy, backend=backend, **kwargs)
    assert list(result.category_ids) == _cat_ids(gt), what
    assert_matches(result, stats, ev, stats_index=stats_index, what=f"{what} evaluate_coco(dicts)")
    assert gt_copy == gt and results_copy == results, f"{what}: evaluate_coco modified its input"
    if tmp_path is not None:
        gt_path, res_path = tmp_path / "gt.json", tmp_path / "results.json"
        gt_path.write_text(json.dumps(gt))
        res_path.write_text(json.dumps(results))
        result = evaluate_coco(str(gt_path), res_path, backend=backend, **kwargs)
        assert_matches(result, stats, ev, stats_index=stats_index, what=f"{what} evaluate_coco(files)")


def _check_mean_ap(gt, results, stats, ev, backend, stats_index=None, what="", **kwargs):
    predictions, ground_truths, _ = to_mean_ap(gt, results)
    result = mean_ap(predictions, ground_truths, box_format="xywh", backend=backend, **kwargs)
    all_ids = _cat_ids(gt)
    ids = [int(c) for c in result.category_ids]
    with_gt = {a["category_id"] for a in gt["annotations"]}
    assert with_gt <= set(ids) <= set(all_ids), what
    # categories mean_ap cannot know about (no gt, no detection) are all -1 in pycocotools
    missing = [k for k, c in enumerate(all_ids) if c not in ids]
    assert (ev["precision"][:, :, missing] == -1).all(), what
    cat_index = [all_ids.index(c) for c in ids]
    assert_matches(result, stats, ev, stats_index=stats_index, cat_index=cat_index, what=f"{what} mean_ap")


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("name", NAMES)
def test_evaluate_coco_matches_pycocotools(name, backend, tmp_path):
    gt, results = DATASETS[name]
    stats, ev = oracle(name)
    _check_evaluate_coco(gt, results, stats, ev, backend, tmp_path, what=f"{name}/{backend}")


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("name", MEAN_AP_NAMES)
def test_mean_ap_matches_pycocotools(name, backend):
    gt, results = DATASETS[name]
    stats, ev = oracle(name)
    _check_mean_ap(gt, results, stats, ev, backend, what=f"{name}/{backend}")


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("custom", sorted(CUSTOM))
def test_custom_parameters_match_pycocotools(custom, backend):
    kwargs, stats_index = CUSTOM[custom]
    for name in NAMES:
        gt, results = DATASETS[name]
        stats, ev = oracle(name, custom)
        stats = expected_stats(stats, ev, kwargs.get("max_detections"))
        what = f"{name}/{custom}/{backend}"
        _check_evaluate_coco(gt, results, stats, ev, backend, stats_index=stats_index, what=what, **kwargs)
        if name in MEAN_AP_NAMES:
            _check_mean_ap(gt, results, stats, ev, backend, stats_index=stats_index, what=what, **kwargs)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("max_detections", [(1, 10, 50, 120), (7,), (3, 300)])
def test_more_area_ranges_and_max_detections_arrays(max_detections, backend):
    """Five area ranges and 1, 2 or 4 maxDets: the eval arrays (summarize() assumes 4 and 3)."""
    kwargs = dict(
        area_ranges={"all": (0.0, 1e10), "tiny": (0.0, 8.0**2), "small": (8.0**2, 32.0**2),
                     "medium": (32.0**2, 96.0**2), "large": (96.0**2, 1e10)},
        max_detections=max_detections,
    )
    for name in ("seed0_img40_cat8", "area_boundaries", "ties_over_100"):
        gt, results = DATASETS[name]
        _, ev, _ = run_pycocotools(gt, results, max_detections=kwargs["max_detections"],
                                   area_ranges=kwargs["area_ranges"])
        result = evaluate_coco(copy.deepcopy(gt), copy.deepcopy(results), backend=backend, **kwargs)
        for key in ("precision", "recall", "scores"):
            np.testing.assert_allclose(np.asarray(getattr(result, key)), ev[key], rtol=0, atol=ATOL,
                                       err_msg=f"{name}/{backend}: {key}")


@pytest.mark.parametrize("backend", BACKENDS)
def test_per_class_ap_matches_pycocotools(backend):
    for name in ("seed0_img40_cat8", "seed2_img60_cat10", "crowd_many"):
        gt, results = DATASETS[name]
        _, ev = oracle(name)
        result = evaluate_coco(copy.deepcopy(gt), copy.deepcopy(results), backend=backend)
        precision = ev["precision"]
        for k, cat in enumerate(_cat_ids(gt)):
            p = precision[:, :, k, 0, -1]
            if (p == -1).all():
                continue
            row = result.per_class[cat]
            np.testing.assert_allclose(row["ap"], np.mean(p), rtol=0, atol=ATOL, err_msg=f"{name} {cat} ap")
            np.testing.assert_allclose(row["ap50"], np.mean(p[0]), rtol=0, atol=ATOL, err_msg=f"{name} {cat} ap50")


QUIRKS = {name: (gt, results, options) for name, gt, results, options in quirk_datasets()}


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("name", sorted(QUIRKS))
def test_pycocotools_quirks(name, backend):
    """Extra fields, unlisted ids, string ids, unsorted thresholds, ...: evaluate_coco agrees."""
    gt, results, options = QUIRKS[name]
    stats, ev, _ = run_pycocotools(gt, results, **options)
    _check_evaluate_coco(gt, results, stats, ev, backend, what=f"{name}/{backend}", **options)


@settings(max_examples=25)
@given(coco_datasets(max_images=6, max_categories=4, max_gt_per_image=6, max_dets_per_image=12))
def test_hypothesis_datasets_match_pycocotools(data):
    gt, results = data
    stats, ev, _ = run_pycocotools(gt, results)
    for backend in BACKENDS:
        _check_evaluate_coco(gt, results, stats, ev, backend, what=backend)
        _check_mean_ap(gt, results, stats, ev, backend, what=backend)


@settings(max_examples=20)
@given(coco_datasets(max_images=5, max_categories=3, max_gt_per_image=8, max_dets_per_image=25, grid=120,
                     max_side=100))
def test_hypothesis_datasets_with_all_area_ranges_match_pycocotools(data):
    """Larger boxes (sides at 31/32/33, 95/96/97, ...), so every area range is populated."""
    gt, results = data
    stats, ev, _ = run_pycocotools(gt, results)
    for backend in BACKENDS:
        _check_evaluate_coco(gt, results, stats, ev, backend, what=backend)
        _check_mean_ap(gt, results, stats, ev, backend, what=backend)


def _convert(boxes, box_format):
    b = np.asarray(boxes, dtype=np.float64)
    if box_format == "xyxy":
        return np.column_stack([b[:, 0], b[:, 1], b[:, 0] + b[:, 2], b[:, 1] + b[:, 3]])
    return np.column_stack([b[:, 0] + b[:, 2] / 2, b[:, 1] + b[:, 3] / 2, b[:, 2], b[:, 3]])


@pytest.mark.parametrize("box_format", ["xyxy", "cxcywh"])
@settings(max_examples=15)
@given(data=coco_datasets(max_images=5, max_categories=3, max_dets_per_image=15, crowd=False, grid=120,
                          max_side=100))
def test_mean_ap_box_formats_and_default_fields(box_format, data):
    """Integer-grid boxes (exact conversions) in xyxy / cxcywh; ground truths without the
    optional "area" / "iscrowd" keys mean area = w * h and no crowd."""
    gt, results = data
    for a in gt["annotations"]:
        a["area"] = a["bbox"][2] * a["bbox"][3]
    stats, ev, _ = run_pycocotools(gt, results)
    predictions, ground_truths, _ = to_mean_ap(gt, results)
    for p in predictions:
        p["boxes"] = _convert(p["boxes"], box_format)
    for g in ground_truths:
        g["boxes"] = _convert(g["boxes"], box_format)
        del g["area"], g["iscrowd"]
    all_ids = _cat_ids(gt)
    for backend in BACKENDS:
        result = mean_ap(predictions, ground_truths, box_format=box_format, backend=backend)
        cat_index = [all_ids.index(int(c)) for c in result.category_ids]
        assert_matches(result, stats, ev, cat_index=cat_index, what=f"{box_format}/{backend}")
