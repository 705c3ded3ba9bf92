"""The drop-in layers against the libraries they replace.

``detmetrics.compat.pycocotools``: ``COCO`` / ``COCOeval`` driven exactly as
a pycocotools script drives them, on every adversarial dataset of
``coco_generator`` and with edited ``params`` (subsets of images and
categories, ``useCats=0``, custom thresholds, ``maxDets``, area ranges), must
give pycocotools' ``stats``, ``eval`` arrays (1e-12) and printed lines; the
three ``loadRes`` forms, the index calls, ``evalImgs`` / ``ious`` and
``mask`` likewise.

``detmetrics.compat.torchmetrics.MeanAveragePrecision`` is checked against
pycocotools here, and against ``torchmetrics.detection.MeanAveragePrecision``
itself when ``DETMETRICS_TORCH_PYTHON`` names an interpreter with torch and
torchmetrics (``tests/_torchmetrics_oracle.py`` runs there; skipped visibly
otherwise).
"""

from __future__ import annotations

import contextlib
import copy
import io
import json
import os
import pickle
import subprocess
import sys
from pathlib import Path

import numpy as np
import pycocotools.mask as coco_mask
import pytest
from pycocotools.coco import COCO as RefCOCO
from pycocotools.cocoeval import COCOeval as RefCOCOeval

from detmetrics import evaluate_coco
from detmetrics.compat import pycocotools as compat
from detmetrics.compat.pycocotools import COCO, COCOeval, mask
from detmetrics.compat.torchmetrics import MeanAveragePrecision, _torch_linspace_float32

from _support import ArrayLike
from coco_generator import adversarial_datasets, make_coco_dataset, quirk_datasets, to_mean_ap

ATOL = 1e-12
HERE = Path(__file__).resolve().parent
DATASETS = {name: (gt, res) for name, gt, res in adversarial_datasets()}
NAMES = sorted(DATASETS)


def _every_other(values, start=0):
    return sorted(values)[start::2]


# name -> edit(params, coco_gt): params changed in place before evaluate(), as scripts do
EDITS = {
    "default": None,
    "image_subset": lambda p, g: setattr(p, "imgIds", _every_other(g.getImgIds())),
    "category_subset": lambda p, g: setattr(p, "catIds", _every_other(g.getCatIds(), 1)),
    "both_subsets": lambda p, g: (setattr(p, "imgIds", _every_other(g.getImgIds(), 1)),
                                  setattr(p, "catIds", _every_other(g.getCatIds()))),
    "use_cats_0": lambda p, g: setattr(p, "useCats", 0),
    "use_cats_0_reordered_subset": lambda p, g: (setattr(p, "useCats", 0),
                                                 setattr(p, "catIds", sorted(g.getCatIds())[::-1][:3])),
    "rec_thrs_11": lambda p, g: setattr(p, "recThrs", np.linspace(0.0, 1.0, 11)),
    "iou_thrs": lambda p, g: setattr(p, "iouThrs", np.array([0.3, 0.5, 0.75, 1.0])),
    "max_dets_1_5_20": lambda p, g: setattr(p, "maxDets", [1, 5, 20]),   # stats[0] is -1 (cocoapi#558)
    "max_dets_unsorted": lambda p, g: setattr(p, "maxDets", [100, 1, 150]),
    "area_custom": lambda p, g: (setattr(p, "areaRng", [[0, 1e10], [0, 24.0**2], [24.0**2, 64.0**2], [64.0**2, 1e10]]),
                                 setattr(p, "areaRngLbl", ["all", "small", "medium", "large"])),
    "area_without_all": lambda p, g: (setattr(p, "areaRng", [[0, 32.0**2], [32.0**2, 1e10]]),
                                      setattr(p, "areaRngLbl", ["small", "large"])),
}


def _load(module_coco, gt, res):
    coco_gt = module_coco()
    coco_gt.dataset = copy.deepcopy(gt)
    coco_gt.createIndex()
    if res:
        coco_dt = coco_gt.loadRes(copy.deepcopy(res))
    else:  # pycocotools' loadRes cannot load an empty list; a results COCO built by hand (torchmetrics' way)
        coco_dt = module_coco()
        coco_dt.dataset = {"images": list(gt["images"]), "categories": copy.deepcopy(gt["categories"]),
                           "annotations": []}
        coco_dt.createIndex()
    return coco_gt, coco_dt


def run(module, gt, res, edit=None, *, summarize=True):
    """(COCOeval after evaluate/accumulate[/summarize], printed ' Average ...' lines)."""
    module_coco, module_eval = module
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        coco_gt, coco_dt = _load(module_coco, gt, res)
        ev = module_eval(coco_gt, coco_dt, "bbox")
        if edit is not None:
            edit(ev.params, coco_gt)
        ev.evaluate()
        ev.accumulate()
        if summarize:
            ev.summarize()
    return ev, [line for line in out.getvalue().splitlines() if line.startswith(" Average")]


REF = (RefCOCO, RefCOCOeval)
OURS = (COCO, COCOeval)


def assert_same_eval(ours, ref):
    assert ours.eval["counts"] == ref.eval["counts"]
    for key in ("precision", "recall", "scores"):
        assert ours.eval[key].shape == ref.eval[key].shape, key
        np.testing.assert_allclose(ours.eval[key], ref.eval[key], rtol=0, atol=ATOL, err_msg=key)


# ------------------------------------------------------------------------------------------
# COCOeval on the adversarial datasets


@pytest.mark.parametrize("edit", sorted(EDITS))
@pytest.mark.parametrize("name", NAMES)
def test_cocoeval_equals_pycocotools(name, edit):
    gt, res = DATASETS[name]
    ref, ref_lines = run(REF, gt, res, EDITS[edit])
    ours, our_lines = run(OURS, gt, res, EDITS[edit])
    assert_same_eval(ours, ref)
    np.testing.assert_allclose(ours.stats, ref.stats, rtol=0, atol=ATOL)
    assert our_lines == ref_lines
    assert len(our_lines) == 12
    # params after evaluate / accumulate, as pycocotools leaves them
    assert [int(i) if not isinstance(i, str) else i for i in ours.params.imgIds] == \
           [int(i) if not isinstance(i, str) else i for i in ref.params.imgIds]
    assert list(ours.params.catIds) == list(ref.params.catIds)
    assert list(ours.params.maxDets) == list(ref.params.maxDets)


def test_max_dets_without_100_follows_pycocotools():
    """stats[0] is read at maxDets=100 in pycocotools' summarize (cocoapi#558): -1 here too."""
    gt, res = DATASETS["seed0_img40_cat8"]
    ours, _ = run(OURS, gt, res, EDITS["max_dets_1_5_20"])
    assert ours.stats[0] == -1.0
    assert ours.stats[1] > 0


@pytest.mark.parametrize("quirk", [q[0] for q in quirk_datasets()])
def test_quirk_inputs_equal_pycocotools(quirk):
    name, gt, res, options = next(q for q in quirk_datasets() if q[0] == quirk)

    def edit(p, g):
        if "iou_thresholds" in options:
            p.iouThrs = np.asarray(options["iou_thresholds"], dtype=np.float64)
        if "area_ranges" in options:
            p.areaRng = [list(v) for v in options["area_ranges"].values()]
            p.areaRngLbl = list(options["area_ranges"])

    ref, ref_lines = run(REF, gt, res, edit)
    ours, our_lines = run(OURS, gt, res, edit)
    assert_same_eval(ours, ref)
    np.testing.assert_allclose(ours.stats, ref.stats, rtol=0, atol=ATOL)
    assert our_lines == ref_lines


# ------------------------------------------------------------------------------------------
# iouType "segm" and "keypoints" (detmetrics.evaluate_coco's mask and OKS evaluation behind them)


def _instance_datasets():
    from instance_generator import make_keypoints_dataset, make_segm_dataset

    return {
        "segm_0": ("segm", make_segm_dataset(0)),
        "segm_with_bbox": ("segm", make_segm_dataset(3, with_bbox=True)),  # loadRes: area = w * h
        "kpts_0": ("keypoints", make_keypoints_dataset(0)),
        "kpts_no_bbox": ("keypoints", make_keypoints_dataset(2, with_bbox=False)),
    }


INSTANCE_EDITS = {
    "default": None,
    "use_cats_0": lambda p, g: setattr(p, "useCats", 0),
    "category_subset": lambda p, g: setattr(p, "catIds", _every_other(g.getCatIds(), 1)),
    "both_subsets": lambda p, g: (setattr(p, "catIds", _every_other(g.getCatIds())),
                                  setattr(p, "imgIds", _every_other(g.getImgIds(), 1))),
    "max_dets": lambda p, g: setattr(p, "maxDets", [1, 10, 50] if len(p.maxDets) == 3 else [5]),
}


def _run_typed(module, gt, res, iou_type, edit):
    module_coco, module_eval = module
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        coco_gt, coco_dt = _load(module_coco, gt, res)
        ev = module_eval(coco_gt, coco_dt, iou_type)
        if edit is not None:
            edit(ev.params, coco_gt)
        ev.evaluate()
        ev.accumulate()
        ev.summarize()
    return ev, [line for line in out.getvalue().splitlines() if line.startswith(" Average")]


@pytest.mark.parametrize("edit", sorted(INSTANCE_EDITS))
@pytest.mark.parametrize("name", ["segm_0", "segm_with_bbox", "kpts_0", "kpts_no_bbox"])
def test_segm_and_keypoints_equal_pycocotools(name, edit):
    iou_type, (gt, res) = _instance_datasets()[name]
    if iou_type == "keypoints" and edit == "use_cats_0":
        ours = COCOeval(*_quiet(_load, COCO, gt, res), iou_type)
        ours.params.useCats = 0
        with pytest.raises(ValueError, match="computeOks ignores useCats"):
            _quiet(ours.evaluate)
        return
    ref, ref_lines = _run_typed(REF, gt, res, iou_type, INSTANCE_EDITS[edit])
    ours, our_lines = _run_typed(OURS, gt, res, iou_type, INSTANCE_EDITS[edit])
    assert_same_eval(ours, ref)
    np.testing.assert_allclose(ours.stats, ref.stats, rtol=0, atol=ATOL)
    assert our_lines == ref_lines and len(our_lines) == (12 if iou_type == "segm" else 10)
    with pytest.raises(NotImplementedError, match="evalImgs and ious"):
        ours.evalImgs
    # the results' dataset gets loadRes' fields (area, bbox, id) as in pycocotools
    ref_dt, our_dt = ref.cocoDt.dataset["annotations"], ours.cocoDt.dataset["annotations"]
    assert [a["id"] for a in our_dt] == [a["id"] for a in ref_dt]
    np.testing.assert_allclose([a["area"] for a in our_dt], [a["area"] for a in ref_dt], rtol=0, atol=0)
    np.testing.assert_allclose([list(a["bbox"]) for a in our_dt], [list(a["bbox"]) for a in ref_dt], rtol=0, atol=0)


# ------------------------------------------------------------------------------------------
# loadRes forms, COCO(path), the index calls


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    gt, res = make_coco_dataset(7, n_images=30)
    folder = tmp_path_factory.mktemp("compat")
    (folder / "gt.json").write_text(json.dumps(gt))
    (folder / "res.json").write_text(json.dumps(res))
    return folder / "gt.json", folder / "res.json", gt, res


def _quiet(fn, *args):
    with contextlib.redirect_stdout(io.StringIO()):
        return fn(*args)


def _stats_of(module, gt_path, res_form):
    module_coco, module_eval = module
    with contextlib.redirect_stdout(io.StringIO()) as out:
        coco_gt = module_coco(str(gt_path))
        coco_dt = coco_gt.loadRes(res_form)
        ev = module_eval(coco_gt, coco_dt, "bbox")
        ev.evaluate()
        ev.accumulate()
        ev.summarize()
    return ev, out.getvalue()


def _as_array(res):
    return np.array([[r["image_id"], *r["bbox"], r["score"], r["category_id"]] for r in res], dtype=np.float64)


@pytest.mark.parametrize("form", ["path", "list", "array"])
def test_load_res_forms_equal_pycocotools(files, form):
    gt_path, res_path, _, res = files
    make = {"path": lambda: str(res_path), "list": lambda: copy.deepcopy(res), "array": lambda: _as_array(res)}[form]
    ref, ref_text = _stats_of(REF, gt_path, make())
    ours, our_text = _stats_of(OURS, gt_path, make())
    assert_same_eval(ours, ref)
    np.testing.assert_allclose(ours.stats, ref.stats, rtol=0, atol=ATOL)
    ref_lines = [x for x in ref_text.splitlines() if x.startswith(" Average")]
    assert [x for x in our_text.splitlines() if x.startswith(" Average")] == ref_lines
    # the progress lines are pycocotools' too (timings aside)
    strip = [x.split(" (t=")[0].split("(t=")[0] for x in our_text.splitlines()]
    assert strip == [x.split(" (t=")[0].split("(t=")[0] for x in ref_text.splitlines()]


def test_load_res_dataset_and_index_as_pycocotools(files):
    gt_path, _, _, res = files
    ref_gt = _quiet(RefCOCO, str(gt_path))
    our_gt = _quiet(COCO, str(gt_path))
    for form in (lambda: copy.deepcopy(res), lambda: _as_array(res)):
        ref_dt = _quiet(ref_gt.loadRes, form())
        our_dt = _quiet(our_gt.loadRes, form())
        assert our_dt.dataset["annotations"] == ref_dt.dataset["annotations"]
        assert our_dt.dataset["categories"] == ref_dt.dataset["categories"]
        assert our_dt.anns == ref_dt.anns
        img = sorted(ref_gt.getImgIds())[3]
        assert our_dt.getAnnIds(imgIds=[img]) == ref_dt.getAnnIds(imgIds=[img])


def test_index_calls_equal_pycocotools(files):
    gt_path, _, gt, _ = files
    ref = _quiet(RefCOCO, str(gt_path))
    ours = _quiet(COCO, str(gt_path))
    assert ours.dataset == ref.dataset
    cats = ref.getCatIds()
    imgs = ref.getImgIds()
    assert ours.getCatIds() == cats
    assert sorted(ours.getImgIds()) == sorted(imgs)
    assert ours.getAnnIds() == ref.getAnnIds()
    for kwargs in ({"imgIds": imgs[:5]}, {"imgIds": imgs[0]}, {"catIds": cats[:2]}, {"catIds": cats[1]},
                   {"imgIds": imgs[:9], "catIds": cats[:3]}, {"areaRng": [0, 1024]}, {"iscrowd": 0},
                   {"iscrowd": 1}, {"imgIds": imgs[:9], "areaRng": [100, 1e5], "iscrowd": 0}):
        assert ours.getAnnIds(**kwargs) == ref.getAnnIds(**kwargs), kwargs
    for kwargs in ({"catIds": cats[:1]}, {"catIds": cats[:2]}, {"imgIds": imgs[:4]}, {"imgIds": imgs[:6], "catIds": cats[0]}):
        assert sorted(ours.getImgIds(**kwargs)) == sorted(ref.getImgIds(**kwargs)), kwargs
    names = [c["name"] for c in gt["categories"]][:2]
    assert ours.getCatIds(catNms=names) == ref.getCatIds(catNms=names)
    assert ours.getCatIds(catIds=cats[:3]) == ref.getCatIds(catIds=cats[:3])
    ann_ids = ref.getAnnIds()[:7]
    assert ours.loadAnns(ann_ids) == ref.loadAnns(ann_ids)
    assert ours.loadAnns(ann_ids[0]) == ref.loadAnns(ann_ids[0])
    assert ours.loadImgs(imgs[:3]) == ref.loadImgs(imgs[:3])
    assert ours.loadCats(cats[0]) == ref.loadCats(cats[0])
    assert ours.imgs == ref.imgs and ours.cats == ref.cats and ours.anns == ref.anns
    assert dict(ours.imgToAnns) == dict(ref.imgToAnns)
    assert dict(ours.catToImgs) == dict(ref.catToImgs)


def test_dataset_edited_then_create_index_is_reread(files):
    gt_path, _, gt, res = files
    ours = _quiet(COCO, str(gt_path))
    ref = _quiet(RefCOCO, str(gt_path))
    for coco in (ours, ref):
        coco.dataset["annotations"] = coco.dataset["annotations"][::2]
        _quiet(coco.createIndex)
    ev_ours = COCOeval(ours, _quiet(ours.loadRes, copy.deepcopy(res)), "bbox")
    ev_ref = RefCOCOeval(ref, _quiet(ref.loadRes, copy.deepcopy(res)), "bbox")
    for ev in (ev_ours, ev_ref):
        _quiet(ev.evaluate)
        _quiet(ev.accumulate)
    assert_same_eval(ev_ours, ev_ref)


# ------------------------------------------------------------------------------------------
# evalImgs and ious (built lazily)


def _hand_case():
    gt = {
        "images": [{"id": 1}, {"id": 2}, {"id": 5}],
        "categories": [{"id": 1, "name": "a"}, {"id": 2, "name": "b"}],
        "annotations": [
            {"id": 10, "image_id": 1, "category_id": 1, "bbox": [0, 0, 10, 10], "area": 100, "iscrowd": 0},
            {"id": 11, "image_id": 1, "category_id": 1, "bbox": [20, 20, 40, 40], "area": 1600, "iscrowd": 0},
            {"id": 12, "image_id": 1, "category_id": 1, "bbox": [0, 0, 100, 100], "area": 10000, "iscrowd": 1},
            {"id": 13, "image_id": 2, "category_id": 2, "bbox": [5, 5, 10, 10], "area": 100, "iscrowd": 0},
            {"id": 14, "image_id": 2, "category_id": 1, "bbox": [5, 5, 10, 10], "area": 100, "iscrowd": 0},
        ],
    }
    res = [
        {"image_id": 1, "category_id": 1, "bbox": [0, 0, 10, 9], "score": 0.9},     # IoU 0.9 with 10
        {"image_id": 1, "category_id": 1, "bbox": [0, 0, 10, 10], "score": 0.9},    # tie, exact match
        {"image_id": 1, "category_id": 1, "bbox": [50, 50, 20, 20], "score": 0.8},  # inside the crowd
        {"image_id": 1, "category_id": 1, "bbox": [21, 21, 40, 40], "score": 0.3},
        {"image_id": 2, "category_id": 2, "bbox": [5, 5, 10, 10], "score": 0.7},
        {"image_id": 2, "category_id": 1, "bbox": [200, 200, 5, 5], "score": 0.6},  # a false positive
        {"image_id": 5, "category_id": 2, "bbox": [0, 0, 1, 1], "score": 0.1},      # image without ground truth
    ]
    return gt, res


def _assert_same_records(ours, ref):
    assert len(ours.evalImgs) == len(ref.evalImgs)
    for a, b in zip(ours.evalImgs, ref.evalImgs):
        assert (a is None) == (b is None)
        if a is None:
            continue
        assert set(a) == set(b)
        for key in b:
            if isinstance(b[key], (np.ndarray, list)):
                np.testing.assert_array_equal(np.asarray(a[key]), np.asarray(b[key]), err_msg=key)
            else:
                assert a[key] == b[key], key
    assert set(ours.ious) == set(ref.ious)
    for key in ref.ious:
        np.testing.assert_array_equal(np.asarray(ours.ious[key]), np.asarray(ref.ious[key]))


@pytest.mark.parametrize("use_cats", [1, 0])
def test_eval_imgs_hand_case(use_cats):
    gt, res = _hand_case()

    def edit(p, g):
        p.useCats = use_cats

    ref, _ = run(REF, gt, res, edit, summarize=False)
    ours, _ = run(OURS, gt, res, edit, summarize=False)
    assert ours._eval_imgs is None  # not built until read
    _assert_same_records(ours, ref)
    first = next(r for r in ours.evalImgs if r is not None)
    if use_cats:
        # image 1, category 1, area "all": the score tie keeps result order, so the first detection takes
        # gt 10 (IoU 0.9) and the exact copy of gt 10, finding it taken, falls to the crowd (IoU 1 by det area)
        assert first["image_id"] == 1 and first["category_id"] == 1
        assert first["dtIds"] == [1, 2, 3, 4] and first["gtIds"] == [10, 11, 12]
        assert first["dtMatches"][0].tolist() == [10.0, 12.0, 12.0, 11.0]
        assert first["dtIgnore"][0].tolist() == [False, True, True, False]
    assert_same_eval(ours, ref)


@pytest.mark.parametrize("name", ["crowd_many", "equal_iou_candidates", "ties_over_100", "seed3_img12_cat5"])
def test_eval_imgs_generated(name):
    gt, res = DATASETS[name]
    ref, _ = run(REF, gt, res, summarize=False)
    ours, _ = run(OURS, gt, res, summarize=False)
    _assert_same_records(ours, ref)


# ------------------------------------------------------------------------------------------
# evaluate_coco's new keywords (the native API behind the compat class)


@pytest.mark.parametrize("name", ["seed0_img40_cat8", "crowd_many", "ann_id_zero", "seed2_img60_cat10"])
def test_evaluate_coco_subsets_and_pooled(name):
    gt, res = DATASETS[name]
    imgs = _every_other([i["id"] for i in gt["images"]])
    cats = _every_other([c["id"] for c in gt["categories"]], 1)
    cases = [
        (dict(image_ids=imgs), lambda p, g: setattr(p, "imgIds", imgs)),
        (dict(category_ids=cats), lambda p, g: setattr(p, "catIds", cats)),
        (dict(use_categories=False), lambda p, g: setattr(p, "useCats", 0)),
        (dict(image_ids=imgs, category_ids=cats[::-1], use_categories=False),
         lambda p, g: (setattr(p, "imgIds", imgs), setattr(p, "catIds", cats[::-1]), setattr(p, "useCats", 0))),
        (dict(recall_thresholds=np.linspace(0, 1, 21)), lambda p, g: setattr(p, "recThrs", np.linspace(0, 1, 21))),
    ]
    for kwargs, edit in cases:
        ref, _ = run(REF, gt, res, edit)
        result = evaluate_coco(copy.deepcopy(gt), copy.deepcopy(res), **kwargs)
        for key in ("precision", "recall", "scores"):
            np.testing.assert_allclose(getattr(result, key), ref.eval[key], rtol=0, atol=ATOL, err_msg=str(kwargs))
        np.testing.assert_allclose(result.stats, ref.stats, rtol=0, atol=ATOL)
        if kwargs.get("use_categories") is False:
            assert result.category_ids == [-1]


def test_evaluate_coco_bad_subsets():
    gt, res = DATASETS["seed0_img40_cat8"]
    with pytest.raises(ValueError, match=r"image_ids\[1\] = 123456 is not an image of the ground truth"):
        evaluate_coco(gt, res, image_ids=[gt["images"][0]["id"], 123456])
    with pytest.raises(ValueError, match="category_ids.* is not a category of the ground truth"):
        evaluate_coco(gt, res, category_ids=[987654])
    cat = gt["categories"][0]["id"]
    with pytest.raises(ValueError, match="duplicate"):
        evaluate_coco(gt, res, category_ids=[cat, cat], use_categories=False)
    with pytest.raises(TypeError, match="use_categories must be a bool"):
        evaluate_coco(gt, res, use_categories="no")
    with pytest.raises(ValueError, match="recall_thresholds must be sorted"):
        evaluate_coco(gt, res, recall_thresholds=[0.5, 0.1])
    with pytest.raises(ValueError, match=r"recall_thresholds must be in \[0, 1\]"):
        evaluate_coco(gt, res, recall_thresholds=[0.5, 1.5])


# ------------------------------------------------------------------------------------------
# errors and unsupported types


def test_compat_errors(files):
    gt_path, _, gt, res = files
    coco_gt = _quiet(COCO, str(gt_path))
    coco_dt = _quiet(coco_gt.loadRes, copy.deepcopy(res))
    assert COCOeval(coco_gt, coco_dt).params.iouType == "segm"  # pycocotools' default iouType
    with pytest.raises(ValueError, match="iouType must be one of"):
        COCOeval(coco_gt, coco_dt, "box")
    with pytest.raises(TypeError, match="cocoGt must be a detmetrics.compat.pycocotools.COCO"):
        COCOeval(_quiet(RefCOCO, str(gt_path)), coco_dt, "bbox")
    ev = COCOeval(coco_gt, coco_dt, "bbox")
    with pytest.raises(RuntimeError, match="evaluate"):
        _quiet(ev.accumulate)
    with pytest.raises(RuntimeError, match="accumulate"):
        ev.summarize()
    ev.params.maxDets = [1, 100]
    _quiet(ev.evaluate)
    _quiet(ev.accumulate)
    with pytest.raises(ValueError, match=r"maxDets\[0\], \[1\] and \[2\]"):
        ev.summarize()
    ev = COCOeval(coco_gt, coco_dt, "bbox")
    ev.params.imgIds = [10**9]
    with pytest.raises(ValueError, match="is not an image of the ground truth"):
        _quiet(ev.evaluate)
    with pytest.raises(ValueError, match=r"shape \(N, 7\)"):
        _quiet(coco_gt.loadRes, np.zeros((3, 6)))
    bad = copy.deepcopy(res)
    bad[2]["image_id"] = 10**9
    with pytest.raises(ValueError, match=r"\[2\]\.image_id 1000000000 is not an image of the ground truth"):
        _quiet(coco_gt.loadRes, bad)
    with pytest.raises(NotImplementedError, match="caption results are not supported"):
        _quiet(coco_gt.loadRes, [{"image_id": 1, "category_id": 1, "caption": "a cat", "score": 0.5}])
    with pytest.raises(TypeError, match="resFile must be"):
        _quiet(coco_gt.loadRes, 42)


def test_empty_results_list_is_valid(files):
    gt_path, _, _, _ = files
    coco_gt = _quiet(COCO, str(gt_path))
    ev = COCOeval(coco_gt, _quiet(coco_gt.loadRes, []), "bbox")
    _quiet(ev.evaluate)
    _quiet(ev.accumulate)
    _quiet(ev.summarize)
    assert ev.stats[0] == 0.0


def test_accumulate_with_other_params_reruns(files):
    gt_path, _, _, res = files
    coco_gt = _quiet(COCO, str(gt_path))
    ev = COCOeval(coco_gt, _quiet(coco_gt.loadRes, copy.deepcopy(res)), "bbox")
    _quiet(ev.evaluate)
    p = copy.deepcopy(ev.params)
    p.iouThrs = np.array([0.5])
    _quiet(ev.accumulate, p)
    assert ev.eval["precision"].shape[0] == 1
    ref = RefCOCOeval(_quiet(RefCOCO, str(gt_path)), None, "bbox")
    assert ref.params.iouThrs.shape == (10,)


# ------------------------------------------------------------------------------------------
# mask


@pytest.mark.filterwarnings("ignore:__array__ implementation doesn't accept a copy keyword:DeprecationWarning")
def test_mask_equals_pycocotools():
    rng = np.random.default_rng(0)
    masks = (rng.random((3, 12, 9)) > 0.6).astype(np.uint8)
    fortran = np.asfortranarray(np.moveaxis(masks, 0, 2))
    ref = coco_mask.encode(fortran)
    ours = mask.encode(fortran)
    assert ours == ref
    assert mask.encode(fortran[:, :, 0]) == coco_mask.encode(np.asfortranarray(fortran[:, :, 0]))
    np.testing.assert_array_equal(mask.decode(ours), coco_mask.decode(ref))
    assert mask.decode(ours).shape == (12, 9, 3)
    np.testing.assert_array_equal(mask.decode(ours[0]), coco_mask.decode(ref[0]))
    np.testing.assert_array_equal(mask.area(ours), coco_mask.area(ref))
    assert mask.area(ours[1]) == coco_mask.area(ref[1])
    np.testing.assert_array_equal(mask.toBbox(ours), coco_mask.toBbox(ref))
    crowd = [0, 1, 0]
    np.testing.assert_allclose(mask.iou(ours, ours[::-1], crowd), coco_mask.iou(ref, ref[::-1], crowd), rtol=0, atol=0)
    assert mask.merge(ours) == coco_mask.merge(ref)
    assert mask.merge(ours, 1) == coco_mask.merge(ref, 1)
    polygons = [[1.0, 1.0, 8.0, 2.0, 6.5, 10.0, 2.0, 7.0], [0.0, 0.0, 5.0, 0.0, 5.0, 5.0]]
    assert mask.frPyObjects(polygons, 12, 9) == coco_mask.frPyObjects(polygons, 12, 9)
    boxes = np.array([[1.0, 2.0, 4.0, 5.0], [0.5, 0.5, 3.0, 3.0]])
    assert mask.frPyObjects(boxes, 12, 9) == coco_mask.frPyObjects(boxes, 12, 9)
    assert mask.frPyObjects(boxes.tolist(), 12, 9) == coco_mask.frPyObjects(boxes, 12, 9)  # pycocotools: arrays only
    uncompressed = [{"size": [12, 9], "counts": [5, 10, 20, 73]}]
    assert mask.frPyObjects(uncompressed, 12, 9) == coco_mask.frPyObjects(uncompressed, 12, 9)
    assert mask.frPyObjects(uncompressed[0], 12, 9) == coco_mask.frPyObjects(uncompressed[0], 12, 9)
    np.testing.assert_allclose(mask.iou(boxes, boxes[::-1], [0, 0]), coco_mask.iou(boxes, boxes[::-1], [0, 0]),
                               rtol=0, atol=0)
    assert mask.iou([], ours, crowd) == coco_mask.iou([], ref, crowd) == []
    assert compat.mask is mask


@pytest.mark.filterwarnings("ignore:__array__ implementation doesn't accept a copy keyword:DeprecationWarning")
def test_ann_to_rle_and_mask_equal_pycocotools():
    gt = {"images": [{"id": 1, "height": 20, "width": 16}], "categories": [{"id": 1, "name": "a"}],
          "annotations": [
              {"id": 1, "image_id": 1, "category_id": 1, "bbox": [1, 1, 9, 9], "area": 40, "iscrowd": 0,
               "segmentation": [[1.0, 1.0, 10.0, 2.0, 8.5, 9.0, 2.0, 7.0], [11.0, 11.0, 15.0, 12.0, 13.0, 18.0]]},
              {"id": 2, "image_id": 1, "category_id": 1, "bbox": [0, 0, 4, 4], "area": 12, "iscrowd": 1,
               "segmentation": {"size": [20, 16], "counts": [3, 5, 12, 4, 296]}},
          ]}
    ref = RefCOCO()
    ours = COCO()
    for coco in (ref, ours):
        coco.dataset = copy.deepcopy(gt)
        _quiet(coco.createIndex)
    for ann_id in (1, 2):
        assert ours.annToRLE(ours.anns[ann_id]) == ref.annToRLE(ref.anns[ann_id])
        np.testing.assert_array_equal(ours.annToMask(ours.anns[ann_id]), ref.annToMask(ref.anns[ann_id]))
    compressed = ref.annToRLE(ref.anns[2])
    assert ours.annToRLE(dict(ours.anns[2], segmentation=compressed)) == compressed


# ------------------------------------------------------------------------------------------
# torchmetrics' MeanAveragePrecision


def _coco_area_gt(gt):
    """The ground truth with torchmetrics' area rule (an area that is not positive becomes w * h)."""
    gt = copy.deepcopy(gt)
    for a in gt["annotations"]:
        if not a["area"] > 0:
            a["area"] = a["bbox"][2] * a["bbox"][3]
    return gt


def _batches(preds, gts, n_batches=3):
    bounds = np.linspace(0, len(preds), n_batches + 1).astype(int)
    return [(preds[a:b], gts[a:b]) for a, b in zip(bounds[:-1], bounds[1:])]


TM_NAMES = ["seed0_img40_cat8", "seed1_img25_cat6", "crowd_many", "ties_over_100", "area_boundaries",
            "recall_grid", "cross_image_tie"]


@pytest.mark.parametrize("name", TM_NAMES)
def test_metric_equals_pycocotools(name):
    gt, res = DATASETS[name]
    gt = _coco_area_gt(gt)
    # torchmetrics' categories are the labels that occur (a listed category without boxes is not one)
    occurring = sorted({int(a["category_id"]) for a in gt["annotations"]} | {int(r["category_id"]) for r in res})
    ref, _ = run(REF, gt, res, lambda p, g: setattr(p, "catIds", occurring))
    preds, gts, _ = to_mean_ap(gt, res)
    metric = MeanAveragePrecision(box_format="xywh", threshold_dtype="float64", class_metrics=True,
                                  extended_summary=True)
    for p, t in _batches(preds, gts):
        metric.update(p, t)
    out = metric.compute()
    keys = ["map", "map_50", "map_75", "map_small", "map_medium", "map_large", "mar_1", "mar_10", "mar_100",
            "mar_small", "mar_medium", "mar_large"]
    np.testing.assert_array_equal([out[k] for k in keys], np.float32(ref.stats))
    for key in ("precision", "recall", "scores"):
        np.testing.assert_allclose(out[key], ref.eval[key], rtol=0, atol=ATOL)
    # per class: pycocotools with catIds = [class], as torchmetrics computes it
    classes = np.atleast_1d(out["classes"]).tolist()
    assert classes == occurring
    for k, cls in enumerate(classes):
        ref_k, _ = run(REF, gt, res, lambda p, g, c=cls: setattr(p, "catIds", [c]))
        assert np.atleast_1d(out["map_per_class"])[k] == np.float32(ref_k.stats[0])
        assert np.atleast_1d(out["mar_100_per_class"])[k] == np.float32(ref_k.stats[8])


def test_metric_merge_state_and_pickle():
    gt, res = DATASETS["seed2_img60_cat10"]
    preds, gts, _ = to_mean_ap(gt, res)
    whole = MeanAveragePrecision(box_format="xywh", class_metrics=True)
    whole.update(preds, gts)
    a = MeanAveragePrecision(box_format="xywh", class_metrics=True)
    b = MeanAveragePrecision(box_format="xywh", class_metrics=True)
    a.update(preds[:20], gts[:20])
    b.update(preds[20:], gts[20:])
    b = pickle.loads(pickle.dumps(b))  # states travel between processes
    a.merge_state(b)
    expected, merged = whole.compute(), a.compute()
    assert set(expected) == set(merged)
    for key in expected:
        np.testing.assert_array_equal(merged[key], expected[key], err_msg=key)
    with pytest.raises(ValueError, match="different average"):
        a.merge_state(MeanAveragePrecision(average="micro"))


class FakeTensor:
    """A stand-in for a CUDA tensor: must be detached and moved before ``__array__``."""

    def __init__(self, data, dtype=np.float32, device="cuda"):
        self._data = np.asarray(data, dtype=dtype)
        self.device = device

    def detach(self):
        return FakeTensor(self._data, self._data.dtype, self.device)

    def cpu(self):
        return FakeTensor(self._data, self._data.dtype, "cpu")

    def __array__(self, dtype=None, copy=None):
        if self.device != "cpu":
            raise TypeError("can't convert cuda tensor to numpy")
        return self._data if dtype is None else self._data.astype(dtype)


def test_metric_reads_tensors_and_array_likes():
    gt, res = DATASETS["seed0_img40_cat8"]
    preds, gts, _ = to_mean_ap(gt, res)
    plain = MeanAveragePrecision(box_format="xywh")
    plain.update(preds, gts)
    for wrap in (FakeTensor, ArrayLike):
        metric = MeanAveragePrecision(box_format="xywh")
        metric.update([{k: wrap(v, np.int64 if k == "labels" else np.float64) for k, v in p.items()} for p in preds],
                      [{k: wrap(v, np.float64 if k == "area" else np.int64 if k != "boxes" else np.float64)
                        for k, v in t.items()} for t in gts])
        assert metric.compute()["map"] == plain.compute()["map"]


def test_metric_float32_box_conversion_and_micro():
    gt, res = DATASETS["seed1_img25_cat6"]
    preds, gts, _ = to_mean_ap(gt, res)

    def fmt(boxes, box_format):
        x, y, w, h = boxes.T
        out = {"xyxy": [x, y, x + w, y + h], "cxcywh": [x + w / 2, y + h / 2, w, h]}[box_format]
        return np.stack(out, axis=1).reshape(-1, 4).astype(np.float32)

    for box_format in ("xyxy", "cxcywh"):
        metric = MeanAveragePrecision(box_format=box_format)
        metric.update([dict(p, boxes=fmt(p["boxes"], box_format)) for p in preds],
                      [dict(t, boxes=fmt(t["boxes"], box_format)) for t in gts])
        out = metric.compute()
        assert -1 <= out["map"] <= 1
    micro = MeanAveragePrecision(box_format="xywh", average="micro", threshold_dtype="float64")
    micro.update(preds, gts)
    pooled = copy.deepcopy(_coco_area_gt(gt))
    for a in pooled["annotations"]:
        a["category_id"] = 0
    pooled["categories"] = [{"id": 0, "name": "0"}]
    pooled_res = [dict(r, category_id=0) for r in res]
    ref, _ = run(REF, pooled, pooled_res)
    assert micro.compute()["map"] == np.float32(ref.stats[0])


def test_metric_defaults_and_errors():
    metric = MeanAveragePrecision()
    out = metric.compute()  # nothing seen: every number is -1, as torchmetrics
    assert out["map"] == -1 and out["mar_100"] == -1 and out["classes"].size == 0
    assert sorted(out) == sorted(["map", "map_50", "map_75", "map_small", "map_medium", "map_large", "mar_1",
                                  "mar_10", "mar_100", "mar_small", "mar_medium", "mar_large", "map_per_class",
                                  "mar_100_per_class", "classes"])
    # torch.linspace's float32 values (checked against torch itself in the oracle test)
    assert metric.iou_thresholds[1] == 0.550000011920929
    assert metric.rec_thresholds[5] == 0.04999999701976776
    assert MeanAveragePrecision(threshold_dtype="float64").iou_thresholds[1] == np.linspace(0.5, 0.95, 10)[1]
    with pytest.raises(NotImplementedError, match="iou_type='segm' is not implemented"):
        MeanAveragePrecision(iou_type="segm")
    with pytest.raises(ValueError, match="box_format"):
        MeanAveragePrecision(box_format="xy")
    with pytest.raises(ValueError, match="3 integers"):
        MeanAveragePrecision(max_detection_thresholds=[1, 10])
    with pytest.raises(ValueError, match="threshold_dtype"):
        MeanAveragePrecision(threshold_dtype="float16")
    with pytest.raises(TypeError, match="unexpected keyword"):
        MeanAveragePrecision(bogus=1)
    MeanAveragePrecision(dist_sync_on_step=False, sync_on_compute=True)  # torchmetrics Metric keywords
    with pytest.raises(ValueError, match="same length"):
        metric.update([{}], [])
    with pytest.raises(ValueError, match=r"preds\[0\] is missing key\(s\) \['scores'\]"):
        metric.update([{"boxes": np.zeros((0, 4)), "labels": np.zeros(0, int)}],
                      [{"boxes": np.zeros((0, 4)), "labels": np.zeros(0, int)}])
    with pytest.raises(ValueError, match=r"target\[0\]\['boxes'\] must have shape \(N, 4\)"):
        metric.update([{"boxes": np.zeros((0, 4)), "scores": np.zeros(0), "labels": np.zeros(0, int)}],
                      [{"boxes": np.zeros((2, 3)), "labels": np.zeros(2, int)}])


def test_metric_forward_returns_the_batch_value():
    gt, res = DATASETS["seed0_img40_cat8"]
    preds, gts, _ = to_mean_ap(gt, res)
    metric = MeanAveragePrecision(box_format="xywh")
    first = metric(preds[:10], gts[:10])
    alone = MeanAveragePrecision(box_format="xywh")
    alone.update(preds[:10], gts[:10])
    assert first["map"] == alone.compute()["map"]
    metric.update(preds[10:], gts[10:])
    whole = MeanAveragePrecision(box_format="xywh")
    whole.update(preds, gts)
    assert metric.compute()["map"] == whole.compute()["map"]


def test_torch_linspace_emulation_known_values():
    values = _torch_linspace_float32(0.0, 1.0, 101)
    assert values[53] == 0.5300000309944153 and values[50] == 0.5 and values[100] == 1.0


# ------------------------------------------------------------------------------------------
# against torchmetrics itself (another interpreter)


def _tm_cases():
    """Cases for _torchmetrics_oracle.py: (name, options, batches as nested lists with float32 boxes)."""
    options_list = {
        "default": {},
        "class_metrics": {"class_metrics": True},
        "micro": {"average": "micro", "class_metrics": True},
        "cxcywh": {"box_format": "cxcywh"},
        "xywh": {"box_format": "xywh"},
        "max_det_1_10_50": {"max_detection_thresholds": [1, 10, 50]},
        "iou_list": {"iou_thresholds": [0.5, 0.75]},
        "rec_list": {"rec_thresholds": [0.0, 0.25, 0.5, 0.75, 1.0]},
        "extended": {"extended_summary": True},
    }
    cases = []
    for name in ["seed0_img40_cat8", "seed1_img25_cat6", "crowd_many", "ties_over_100", "area_boundaries"]:
        gt, res = DATASETS[name]
        preds, gts, _ = to_mean_ap(gt, res)
        for opt_name, options in options_list.items():
            box_format = options.get("box_format", "xyxy")
            batches = []
            for p_batch, t_batch in _batches(preds, gts):
                batch = []
                for items, is_pred in ((p_batch, True), (t_batch, False)):
                    converted = []
                    for item in items:
                        x, y, w, h = item["boxes"].T
                        boxes = {"xyxy": [x, y, x + w, y + h], "xywh": [x, y, w, h],
                                 "cxcywh": [x + w / 2, y + h / 2, w, h]}[box_format]
                        out = {"boxes": np.stack(boxes, axis=1).astype(np.float32).reshape(-1, 4).tolist(),
                               "labels": item["labels"].tolist()}
                        if is_pred:
                            out["scores"] = item["scores"].astype(np.float32).tolist()
                        else:
                            out["iscrowd"] = item["iscrowd"].tolist()
                            out["area"] = item["area"].astype(np.float32).tolist()
                        converted.append(out)
                    batch.append(converted)
                batches.append(batch)
            cases.append({"name": f"{name}/{opt_name}", "options": options, "batches": batches})
    return cases


def _ours(case):
    metric = MeanAveragePrecision(**case["options"])
    for preds, target in case["batches"]:
        metric.update(
            [{"boxes": np.asarray(p["boxes"], np.float32).reshape(-1, 4), "scores": np.asarray(p["scores"], np.float32),
              "labels": np.asarray(p["labels"], np.int64)} for p in preds],
            [{"boxes": np.asarray(t["boxes"], np.float32).reshape(-1, 4), "labels": np.asarray(t["labels"], np.int64),
              "iscrowd": np.asarray(t["iscrowd"], np.int64), "area": np.asarray(t["area"], np.float32)}
             for t in target])
    return metric.compute()


def test_metric_equals_torchmetrics():
    python = os.environ.get("DETMETRICS_TORCH_PYTHON")
    if not python:
        pytest.skip("torchmetrics oracle not configured: set DETMETRICS_TORCH_PYTHON to an interpreter with "
                    "torch + torchmetrics (e.g. /work/torch-venv/bin/python)")
    cases = _tm_cases()
    path = Path(os.environ.get("TMPDIR", "/tmp")) / f"detmetrics_tm_cases_{os.getpid()}.json"
    path.write_text(json.dumps({"cases": cases}))
    try:
        proc = subprocess.run([python, str(HERE / "_torchmetrics_oracle.py"), str(path)], capture_output=True,
                              text=True, timeout=1800)
    finally:
        path.unlink()
    assert proc.returncode == 0, proc.stderr[-3000:]
    oracle = json.loads(proc.stdout.strip().splitlines()[-1])
    assert MeanAveragePrecision().iou_thresholds == oracle["linspace"]["iou"]
    assert MeanAveragePrecision().rec_thresholds == oracle["linspace"]["rec"]
    worst, n_values = 0.0, 0
    for case in cases:
        expected = oracle["results"][case["name"]]
        ours = _ours(case)
        ours.pop("ious", None)
        assert sorted(ours) == sorted(expected), case["name"]
        for key, value in expected.items():
            mine = np.asarray(ours[key], dtype=np.float64)
            theirs = np.asarray(value, dtype=np.float64)
            assert mine.shape == theirs.shape, (case["name"], key)
            np.testing.assert_allclose(mine, theirs, rtol=0, atol=ATOL, err_msg=f"{case['name']} {key}")
            worst = max(worst, float(np.abs(mine - theirs).max()) if mine.size else 0.0)
            n_values += mine.size
    print(f"torchmetrics {oracle['torchmetrics']} (torch {oracle['torch']}): {len(cases)} cases, "
          f"{n_values} values, max abs diff {worst:.3g}", file=sys.stderr)


# ------------------------------------------------------------------------------------------
# docs/compat.md's script: run as printed, with either import line


def test_docs_script_prints_what_the_page_shows():
    import re

    page = (HERE.parent / "docs" / "compat.md").read_text()
    script, shown = re.findall(r"```python\n(.*?)```\n\nIt prints.*?```text\n(.*?)```", page, flags=re.S)[0]
    shown_lines = [x for x in shown.splitlines() if not x.startswith(("Done (t=", "DONE (t="))]
    sample = HERE.parent / "detmetrics" / "data" / "coco"
    pycocotools_script = script.replace("from detmetrics.compat.pycocotools import COCO, COCOeval",
                                        "from pycocotools.coco import COCO\nfrom pycocotools.cocoeval import COCOeval")
    for text in (script, pycocotools_script):
        proc = subprocess.run([sys.executable, "-c", text], capture_output=True, text=True, cwd=sample,
                              env={**os.environ, "PYTHONPATH": str(HERE.parent)}, timeout=300)
        assert proc.returncode == 0, proc.stderr[-2000:]
        printed = [x for x in proc.stdout.splitlines() if not x.startswith(("Done (t=", "DONE (t="))]
        assert printed == shown_lines


def test_evaluator_recall_thresholds_option():
    from detmetrics import Evaluator

    gt, res = DATASETS["seed3_img12_cat5"]
    preds, gts, _ = to_mean_ap(gt, res)
    ev = Evaluator(box_format="xywh", recall_thresholds=[0.0, 0.5, 1.0])
    ev.update(preds, gts)
    ref, _ = run(REF, gt, res, lambda p, g: (setattr(p, "recThrs", np.array([0.0, 0.5, 1.0])),
                                              setattr(p, "catIds", sorted({int(v) for x in preds + gts
                                                                           for v in x["labels"]}))))
    np.testing.assert_allclose(ev.compute().precision, ref.eval["precision"], rtol=0, atol=ATOL)
    with pytest.raises(ValueError, match="different recall_thresholds"):
        ev.merge(Evaluator(box_format="xywh"))


@pytest.mark.parametrize("keyword, value", [("protocol", "voc07"), ("iou_test", ">"), ("box_plus_one", True),
                                            ("crowd", "drop"), ("difficult", "drop"), ("image_budget", 300),
                                            ("matching", "voc"), ("interpolation", "voc")])
def test_drop_ins_refuse_protocol_keywords(keyword, value):
    # the drop-ins compute COCO's numbers as the packages they replace: a preset or switch given to them is
    # refused, naming it and pointing at the API that takes it (never silently ignored)
    with pytest.raises(TypeError, match=f"MeanAveragePrecision got {keyword}: .*protocol="):
        MeanAveragePrecision(**{keyword: value})
    with pytest.raises(TypeError, match=f"COCOeval got {keyword}: .*detmetrics.evaluate_coco"):
        COCOeval(None, None, "bbox", **{keyword: value})
    with pytest.raises(TypeError, match="unexpected keyword argument"):
        COCOeval(None, None, "bbox", useCats=0)
