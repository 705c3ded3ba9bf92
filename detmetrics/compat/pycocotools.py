"""pycocotools' ``COCO`` / ``COCOeval`` API, computed by detmetrics (change one import line).

    from detmetrics.compat.pycocotools import COCO, COCOeval    # instead of pycocotools.coco / .cocoeval

    coco_gt = COCO("instances_val2017.json")
    coco_dt = coco_gt.loadRes("detections.json")    # a path, a list of dicts or an (N, 7) array
    ev = COCOeval(coco_gt, coco_dt, "bbox")
    ev.params.imgIds = coco_gt.getImgIds()[:100]    # params are edited in place, as in pycocotools
    ev.evaluate(); ev.accumulate(); ev.summarize()  # prints pycocotools' 12 lines
    ev.stats, ev.eval["precision"]

What is the same as pycocotools
-------------------------------
``COCO(path)`` or ``COCO()`` + ``.dataset = {...}`` + ``createIndex()``; the
index attributes ``anns``, ``imgs``, ``cats``, ``imgToAnns``, ``catToImgs``
and the calls ``getAnnIds``, ``getCatIds``, ``getImgIds``, ``loadAnns``,
``loadCats``, ``loadImgs``, ``loadRes``, ``loadNumpyAnnotations``, ``annToRLE``,
``annToMask``.
``COCOeval(cocoGt, cocoDt, iouType)``, ``params`` (``imgIds``, ``catIds``,
``iouThrs``, ``recThrs``, ``maxDets``, ``areaRng``, ``areaRngLbl``,
``useCats``), ``evaluate()``, ``accumulate()``, ``summarize()`` (the same
printed lines), ``stats``, ``eval`` (``params``, ``counts``, ``date``,
``precision``, ``recall``, ``scores``), ``evalImgs``, ``ious``.  The numbers
equal pycocotools' to 1e-12 (``tests/test_compat.py`` checks them against
pycocotools on adversarial datasets).  ``summarize()`` follows pycocotools
exactly, including that ``stats[0]`` is read at ``maxDets=100``
(cocodataset/cocoapi#558: -1 when 100 is not among ``maxDets``), because
scripts compare against pycocotools; ``detmetrics.evaluate_coco`` uses the
largest ``max_detections`` instead.

What is computed lazily
-----------------------
* ``evaluate()`` runs detmetrics' matching and accumulation at once (so
  ``accumulate()`` only lays the arrays out); the per-image records
  ``evalImgs`` and the IoU matrices ``ious`` are built in Python only when
  first read, from the parameters ``evaluate()`` ran with (they cost what they
  cost in pycocotools);
* ``COCO``'s Python index (``anns``, ``imgToAnns``, ...) is built on first
  use; ``evaluate()`` reads flat arrays decoded straight from the JSON;
* ``loadRes`` does not write ``segmentation`` / ``area`` / ``id`` /
  ``iscrowd`` into the result dicts until the results' ``dataset`` or index is
  first read (pycocotools writes them at once); an ``(N, 7)`` array becomes
  dicts only then.

Differences (all raise instead of producing a number)
-----------------------------------------------------
* ``iouType="segm"`` and ``"keypoints"`` are computed by ``detmetrics.evaluate_coco``'s
  mask and OKS evaluation, but their ``evalImgs`` / ``ious`` are not built
  (``NotImplementedError``), and ``useCats=0`` with keypoints is refused
  (pycocotools' ``computeOks`` ignores ``useCats`` and then matches nothing);
* a ground-truth annotation on an image or of a category the file does not
  list is a ``ValueError`` (pycocotools leaves it out silently); ``imgIds`` /
  ``catIds`` naming ids the ground truth does not list are a ``ValueError``;
* an empty results list is valid (pycocotools fails on it);
* a ground truth without ``area`` gets ``w * h`` (pycocotools raises), and a
  detection's area is always ``w * h`` (what ``loadRes`` writes);
* ``accumulate(p)`` with a different ``p`` re-runs the evaluation with ``p``.
"""

from __future__ import annotations

import copy
import datetime
import itertools
import os
import time
from collections import defaultdict

import numpy as np

from . import _pycocotools_mask as mask
from . import protocol_keyword_error

__all__ = ["COCO", "COCOeval", "Params", "mask"]

_IOU_TYPES = ("segm", "bbox", "keypoints")


def _is_array_like(obj) -> bool:
    return hasattr(obj, "__iter__") and hasattr(obj, "__len__")


def _as_list(obj) -> list:
    return list(obj) if _is_array_like(obj) else [obj]


def _now() -> float:
    return time.time()


class COCO:
    """pycocotools' ``COCO``: a COCO JSON dataset (ground truth or results) and its index.

    Parameters
    ----------
    annotation_file : path, optional
        A COCO JSON file; without it, set ``dataset`` and call ``createIndex()``.
    """

    def __init__(self, annotation_file=None):
        self._dataset: dict = {}
        self._raw: bytes | None = None        # the file's bytes, while ``dataset`` is unedited
        self._res_array: np.ndarray | None = None  # loadRes' (N, 7) array until dicts are needed
        self._res_list: list | None = None     # loadRes' result dicts, fields not yet written
        self._res_raw: bytes | None = None     # loadRes' results file, not yet decoded to dicts
        self._index: dict | None = None
        self._gt_columns: dict = {}            # iou_type -> CocoGroundTruth
        self._res_columns: dict = {}           # (id(gt COCO), iou_type) -> (gt COCO, CocoResults)
        if annotation_file is not None:
            print("loading annotations into memory...")
            tic = _now()
            from ..io._coco_decode import _read, decode_json

            raw, _, _ = _read(annotation_file, "annotation_file", allow=())
            dataset, _ = decode_json(raw, str(annotation_file))
            if not isinstance(dataset, dict):
                raise ValueError(f"annotation file {os.fspath(annotation_file)!r} must hold a JSON object; "
                                 f"got {type(dataset).__name__}")
            print(f"Done (t={_now() - tic:0.2f}s)")
            self._dataset = dataset
            self._raw = raw
            self._announce_index()

    # ---------------------------------------------------------------- dataset and index
    @property
    def dataset(self) -> dict:
        if self._res_raw is not None:
            from ..io._coco_decode import decode_json

            decoded, _ = decode_json(self._res_raw, "resFile")
            if not isinstance(decoded, list):
                raise ValueError(f"results must be a JSON list of objects; got {type(decoded).__name__}")
            self._res_list, self._res_raw = decoded, None
        if self._res_array is not None:
            self._res_list = _numpy_annotations(self._res_array)
            self._res_array = None
        if self._res_list is not None:
            _fill_result_fields(self._res_list)
            self._dataset["annotations"] = self._res_list
            self._res_list = None
        return self._dataset

    @dataset.setter
    def dataset(self, value: dict) -> None:
        self._dataset = value
        self._raw = None
        self._res_array = self._res_list = self._res_raw = None
        self._index = None
        self._gt_columns, self._res_columns = {}, {}

    def createIndex(self) -> None:
        """Re-read ``dataset`` (the Python index is built on first use)."""
        if self._res_array is None and self._res_list is None and self._res_raw is None:
            # an explicit createIndex: ``dataset`` may have been edited, the decoded columns are stale
            self._raw = None
            self._gt_columns, self._res_columns = {}, {}
        self._announce_index()

    def _announce_index(self) -> None:
        print("creating index...")
        self._index = None
        print("index created!")

    def _built_index(self) -> dict:
        if self._index is None:
            data = self.dataset
            anns, cats, imgs = {}, {}, {}
            img_to_anns, cat_to_imgs = defaultdict(list), defaultdict(list)
            for ann in data.get("annotations", []):
                img_to_anns[ann["image_id"]].append(ann)
                anns[ann["id"]] = ann
            for img in data.get("images", []):
                imgs[img["id"]] = img
            for cat in data.get("categories", []):
                cats[cat["id"]] = cat
            if "annotations" in data and "categories" in data:
                for ann in data["annotations"]:
                    cat_to_imgs[ann["category_id"]].append(ann["image_id"])
            self._index = {"anns": anns, "cats": cats, "imgs": imgs, "imgToAnns": img_to_anns,
                           "catToImgs": cat_to_imgs}
        return self._index

    anns = property(lambda self: self._built_index()["anns"])
    cats = property(lambda self: self._built_index()["cats"])
    imgs = property(lambda self: self._built_index()["imgs"])
    imgToAnns = property(lambda self: self._built_index()["imgToAnns"])
    catToImgs = property(lambda self: self._built_index()["catToImgs"])

    def info(self) -> None:
        """Print the ``info`` section, as pycocotools does."""
        for key, value in self.dataset.get("info", {}).items():
            print(f"{key}: {value}")

    def getAnnIds(self, imgIds=(), catIds=(), areaRng=(), iscrowd=None) -> list:
        """Ids of the annotations on ``imgIds``, of ``catIds``, with area strictly inside ``areaRng``."""
        img_ids, cat_ids, area_rng = _as_list(imgIds), _as_list(catIds), list(areaRng)
        if not img_ids and not cat_ids and not area_rng:
            anns = self.dataset.get("annotations", [])
        else:
            if img_ids:
                index = self.imgToAnns
                anns = list(itertools.chain.from_iterable(index[i] for i in img_ids if i in index))
            else:
                anns = self.dataset.get("annotations", [])
            if cat_ids:
                wanted = set(cat_ids)
                anns = [a for a in anns if a["category_id"] in wanted]
            if area_rng:
                anns = [a for a in anns if area_rng[0] < a["area"] < area_rng[1]]
        if iscrowd is not None:
            return [a["id"] for a in anns if a["iscrowd"] == iscrowd]
        return [a["id"] for a in anns]

    def getCatIds(self, catNms=(), supNms=(), catIds=()) -> list:
        """Ids of the categories named ``catNms``, of supercategory ``supNms``, among ``catIds``."""
        names, supers, ids = _as_list(catNms), _as_list(supNms), _as_list(catIds)
        cats = self.dataset.get("categories", [])
        if names:
            cats = [c for c in cats if c["name"] in names]
        if supers:
            cats = [c for c in cats if c["supercategory"] in supers]
        if ids:
            cats = [c for c in cats if c["id"] in ids]
        return [c["id"] for c in cats]

    def getImgIds(self, imgIds=(), catIds=()) -> list:
        """Ids of the images among ``imgIds`` holding an annotation of every category in ``catIds``."""
        img_ids, cat_ids = _as_list(imgIds), _as_list(catIds)
        if not img_ids and not cat_ids:
            return list(self.imgs.keys())
        ids = set(img_ids)
        for i, cat in enumerate(cat_ids):
            if i == 0 and not ids:
                ids = set(self.catToImgs[cat])
            else:
                ids &= set(self.catToImgs[cat])
        return list(ids)

    def _load(self, table: dict, ids) -> list:
        if _is_array_like(ids):
            return [table[i] for i in ids]
        if isinstance(ids, int):
            return [table[ids]]
        return []

    def loadAnns(self, ids=()) -> list:
        return self._load(self.anns, ids)

    def loadCats(self, ids=()) -> list:
        return self._load(self.cats, ids)

    def loadImgs(self, ids=()) -> list:
        return self._load(self.imgs, ids)

    def annToRLE(self, ann) -> dict:
        """The annotation's ``segmentation`` as one compressed RLE (polygons rasterised and merged)."""
        img = self.imgs[ann["image_id"]]
        h, w = img["height"], img["width"]
        segm = ann["segmentation"]
        if isinstance(segm, list):
            return mask.merge(mask.frPyObjects(segm, h, w))
        if isinstance(segm.get("counts"), list):
            return mask.frPyObjects(segm, h, w)
        return segm

    def annToMask(self, ann) -> np.ndarray:
        """The annotation's ``segmentation`` as an ``(H, W)`` uint8 mask."""
        return mask.decode(self.annToRLE(ann))

    # ---------------------------------------------------------------- results
    def loadRes(self, resFile) -> "COCO":
        """Results as a ``COCO`` over this ground truth's images and categories.

        ``resFile`` is a path to a COCO results JSON, a list of result dicts
        (``image_id``, ``category_id``, ``bbox``, ``score``) or an ``(N, 7)``
        array ``[image_id, x, y, w, h, score, category_id]``.  Validated (and
        decoded to arrays) here; an ``image_id`` that is not an image of this
        ground truth is a ``ValueError``.  Box results are decoded here;
        ``segmentation`` / ``keypoints`` results (the first result decides, as
        in pycocotools) when ``evaluate()`` first needs them.
        """
        from ..io._coco_decode import load_results

        res = COCO()
        res._dataset["images"] = list(self.dataset.get("images", []))
        res._dataset["categories"] = copy.deepcopy(self.dataset.get("categories", []))
        print("Loading and preparing results...")
        tic = _now()
        gt_columns = self._ground_truth_columns()
        if isinstance(resFile, np.ndarray):
            array = _as_result_array(resFile)
            _announce_array(array)  # pycocotools converts here; the dicts are built on first use
            res._res_array = array
            res._res_columns = {(id(self), "bbox"): (self, _results_from_array(array, gt_columns))}
        else:
            if isinstance(resFile, (str, os.PathLike)):
                from ..io._coco_decode import _read

                source, _, _ = _read(resFile, "resFile", allow=())
            elif isinstance(resFile, list):
                source = resFile
                for i, ann in enumerate(resFile[:1]):
                    if not isinstance(ann, dict) or not any(k in ann for k in ("bbox", "segmentation", "keypoints")):
                        raise NotImplementedError(
                            f"resFile[{i}] has no 'bbox', 'segmentation' or 'keypoints': caption results are "
                            "not supported by detmetrics.compat")
            else:
                raise TypeError(f"resFile must be a path, a list of result dicts or an (N, 7) array; "
                                f"got {type(resFile).__name__}")
            if _is_box_results(source):
                res._res_columns = {(id(self), "bbox"): (self, load_results(source, gt_columns))}
            else:
                # segmentation / keypoint results: decoded now, while they are as given (loadRes' later
                # fields, a box for each, would make them read as box results)
                if not isinstance(source, list):
                    from ..io._coco_decode import decode_json

                    source = decode_json(source, os.fspath(resFile))[0]
                kind = "segm" if "segmentation" in source[0] else "keypoints"
                from .._backend import resolve_backend

                columns = load_results(source, self._ground_truth_columns(kind), resolve_backend("auto"))
                res._res_columns = {(id(self), kind): (self, columns)}
            if isinstance(source, list):
                res._res_list = source
            else:
                res._res_raw = source
        print(f"DONE (t={_now() - tic:0.2f}s)")
        res._announce_index()
        return res

    @staticmethod
    def loadNumpyAnnotations(data) -> list:
        """``(N, 7)`` ``[image_id, x, y, w, h, score, category_id]`` rows as result dicts (pycocotools)."""
        array = _as_result_array(data)
        _announce_array(array)
        return _numpy_annotations(array)

    # ---------------------------------------------------------------- decoded columns (evaluation)
    def _ground_truth_columns(self, iou_type: str = "bbox", backend: str = "auto"):
        """This dataset as ``detmetrics.io._coco_decode.CocoGroundTruth`` (decoded once per index and type)."""
        if iou_type not in self._gt_columns:
            from .._backend import resolve_backend
            from ..io._coco_decode import load_ground_truth

            source = self._raw if self._raw is not None else self.dataset
            self._gt_columns[iou_type] = load_ground_truth(source, iou_type, resolve_backend(backend))
        return self._gt_columns[iou_type]

    def _results_columns(self, gt: "COCO", iou_type: str = "bbox", backend: str = "auto"):
        """These detections as ``CocoResults`` against the ground truth ``gt``."""
        key = (id(gt), iou_type)
        if key in self._res_columns and self._res_columns[key][0] is gt:
            return self._res_columns[key][1]
        from .._backend import resolve_backend
        from ..io._coco_decode import load_results

        gt_columns = gt._ground_truth_columns(iou_type, backend)
        if self._res_array is not None:
            if iou_type != "bbox":
                raise ValueError(f"an (N, 7) results array holds boxes; it cannot be evaluated with "
                                 f"iouType={iou_type!r}")
            columns = _results_from_array(self._res_array, gt_columns)
        elif self._res_raw is not None:
            columns = load_results(self._res_raw, gt_columns, resolve_backend(backend))
        else:
            columns = load_results(self.dataset.get("annotations", []), gt_columns, resolve_backend(backend))
        self._res_columns[key] = (gt, columns)
        return columns


def _is_box_results(source) -> bool:
    """Whether pycocotools' ``loadRes`` reads these results as boxes (its first entry has a ``bbox``)."""
    if isinstance(source, list):
        return not source or (isinstance(source[0], dict) and bool(source[0].get("bbox")))
    head = bytes(source[:4096])
    first = head.find(b"{")
    end = head.find(b"}", first)
    return first < 0 or (b'"bbox"' in head[first:end] if end > 0 else b'"bbox"' in head)


def _announce_array(array: np.ndarray) -> None:
    print("Converting ndarray to lists...")
    print(array.shape)
    for i in range(0, array.shape[0], 1_000_000):
        print(f"{i}/{array.shape[0]}")


def _numpy_annotations(array: np.ndarray) -> list:
    return [{"image_id": int(r[0]), "bbox": [r[1], r[2], r[3], r[4]], "score": r[5], "category_id": int(r[6])}
            for r in array]


def _fill_result_fields(anns: list) -> None:
    """What pycocotools' ``loadRes`` writes into result dicts: area, id, iscrowd and a box or polygon."""
    if anns and not anns[0].get("bbox"):
        for i, ann in enumerate(anns):
            if "segmentation" in anns[0]:
                ann["area"] = float(mask.area(ann["segmentation"]))
                if "bbox" not in ann:
                    ann["bbox"] = mask.toBbox(ann["segmentation"])
            else:
                xs, ys = ann["keypoints"][0::3], ann["keypoints"][1::3]
                x0, x1, y0, y1 = min(xs), max(xs), min(ys), max(ys)
                ann["area"] = (x1 - x0) * (y1 - y0)
                ann["bbox"] = [x0, y0, x1 - x0, y1 - y0]
            ann["id"] = i + 1
            ann["iscrowd"] = 0
        return
    for i, ann in enumerate(anns):
        x, y, w, h = ann["bbox"]
        if "segmentation" not in ann:
            ann["segmentation"] = [[x, y, x, y + h, x + w, y + h, x + w, y]]
        ann["area"] = w * h
        ann["id"] = i + 1
        ann["iscrowd"] = 0


def _as_result_array(data) -> np.ndarray:
    array = np.asarray(data)
    if array.ndim != 2 or array.shape[1] != 7:
        raise ValueError(f"results array must have shape (N, 7) [image_id, x, y, w, h, score, category_id]; "
                         f"got shape {array.shape}")
    if array.dtype.kind not in "iuf":
        raise TypeError(f"results array must be numeric; got dtype {array.dtype}")
    return array


def _results_from_array(array: np.ndarray, gt):
    """``CocoResults`` of an ``(N, 7)`` array (pycocotools' ``int()`` on ids, truncation toward zero)."""
    from ..io._coco_decode import CocoResults, _check_boxes

    values = np.asarray(array, dtype=np.float64)
    if not np.all(np.isfinite(values)):
        row = int(np.flatnonzero(~np.isfinite(values).all(axis=1))[0])
        raise ValueError(f"results array row {row} contains NaN or infinite values ({values[row].tolist()})")
    image = np.trunc(values[:, 0]).astype(np.int64)
    category = np.trunc(values[:, 6]).astype(np.int64)
    if not all(isinstance(i, int) for i in gt.image_ids):
        raise ValueError("an (N, 7) results array needs integer image ids in the ground truth")
    keys = np.asarray(gt.image_ids, dtype=np.int64)
    pos = np.searchsorted(keys, image)
    clipped = np.minimum(pos, max(keys.shape[0] - 1, 0))
    found = (pos < keys.shape[0]) & (keys[clipped] == image) if keys.shape[0] else np.zeros(image.shape, bool)
    if not found.all():
        row = int(np.flatnonzero(~found)[0])
        raise ValueError(f"results array row {row}: image_id {int(image[row])} is not an image of the ground truth")
    boxes = np.ascontiguousarray(values[:, 1:5])
    _check_boxes(boxes, "results array")
    keep = np.isin(category, np.asarray(gt.category_ids, dtype=np.int64))
    return CocoResults(image_index=np.ascontiguousarray(pos[keep], dtype=np.int64),
                       category=np.ascontiguousarray(category[keep]), boxes=np.ascontiguousarray(boxes[keep]),
                       scores=np.ascontiguousarray(values[keep, 5]))


class Params:
    """pycocotools' ``Params``: the evaluation parameters, edited in place."""

    def __init__(self, iouType="segm"):
        if iouType not in _IOU_TYPES:
            raise ValueError(f"iouType must be one of {list(_IOU_TYPES)}; got {iouType!r}")
        self.imgIds: list = []
        self.catIds: list = []
        self.iouThrs = np.linspace(0.5, 0.95, int(np.round((0.95 - 0.5) / 0.05)) + 1, endpoint=True)
        self.recThrs = np.linspace(0.0, 1.00, int(np.round((1.00 - 0.0) / 0.01)) + 1, endpoint=True)
        if iouType == "keypoints":
            self.maxDets = [20]
            self.areaRng = [[0 ** 2, 1e5 ** 2], [32 ** 2, 96 ** 2], [96 ** 2, 1e5 ** 2]]
            self.areaRngLbl = ["all", "medium", "large"]
            self.kpt_oks_sigmas = np.array([.26, .25, .25, .35, .35, .79, .79, .72, .72, .62, .62, 1.07, 1.07,
                                            .87, .87, .89, .89]) / 10.0
        else:
            self.maxDets = [1, 10, 100]
            self.areaRng = [[0 ** 2, 1e5 ** 2], [0 ** 2, 32 ** 2], [32 ** 2, 96 ** 2], [96 ** 2, 1e5 ** 2]]
            self.areaRngLbl = ["all", "small", "medium", "large"]
        self.useCats = 1
        self.iouType = iouType
        self.useSegm = None


class COCOeval:
    """pycocotools' ``COCOeval`` computed by detmetrics (bbox, segm, keypoints).

    Parameters
    ----------
    cocoGt, cocoDt : COCO, optional
        Ground truth and detections (``cocoGt.loadRes(...)``, or any ``COCO``
        whose annotations carry ``bbox`` and ``score``).
    iouType : {"segm", "bbox", "keypoints"}, default "segm" (pycocotools' default)
        ``"segm"`` and ``"keypoints"`` are ``detmetrics.evaluate_coco``'s mask
        and OKS evaluation (``params.kpt_oks_sigmas`` are the sigmas); their
        ``evalImgs`` / ``ious`` are not built (``NotImplementedError``).
    backend : {"auto", "numba", "numpy"}
        detmetrics' backend (not a pycocotools argument).

    Notes
    -----
    COCO's protocol only, as pycocotools: ``protocol=`` and its switches
    (``detmetrics.evaluate_coco`` takes them) raise ``TypeError`` here, and
    ``params`` has no field for them.
    """

    def __init__(self, cocoGt=None, cocoDt=None, iouType="segm", *, backend="auto", **kwargs):
        if kwargs:
            refused = protocol_keyword_error("COCOeval", kwargs)
            raise refused if refused is not None else TypeError(
                f"COCOeval got unexpected keyword argument(s) {sorted(kwargs)}")
        if iouType not in _IOU_TYPES:
            raise ValueError(f"iouType must be one of {list(_IOU_TYPES)}; got {iouType!r}")
        for name, value in (("cocoGt", cocoGt), ("cocoDt", cocoDt)):
            if value is not None and not isinstance(value, COCO):
                raise TypeError(f"{name} must be a detmetrics.compat.pycocotools.COCO; got {type(value).__name__} "
                                "(build both with this module's COCO)")
        self.cocoGt = cocoGt
        self.cocoDt = cocoDt
        self.backend = backend
        self.eval: dict = {}
        self.params = Params(iouType=iouType)
        self._paramsEval = None
        self.stats: np.ndarray | list = []
        self._result = None
        self._ious: dict | None = None
        self._eval_imgs: list | None = None
        if cocoGt is not None:
            self.params.imgIds = sorted(cocoGt.getImgIds())
            self.params.catIds = sorted(cocoGt.getCatIds())

    # ---------------------------------------------------------------- evaluate / accumulate / summarize
    def evaluate(self) -> None:
        """Match and accumulate with detmetrics under ``params`` (pycocotools' ``evaluate`` normalisation)."""
        tic = _now()
        print("Running per image evaluation...")
        p = self.params
        if p.useSegm is not None:
            p.iouType = "segm" if p.useSegm == 1 else "bbox"
            print(f"useSegm (deprecated) is not None. Running {p.iouType} evaluation")
        if p.iouType not in _IOU_TYPES:
            raise ValueError(f"params.iouType must be one of {list(_IOU_TYPES)}; got {p.iouType!r}")
        print(f"Evaluate annotation type *{p.iouType}*")
        if p.iouType == "keypoints" and not p.useCats:
            raise ValueError("useCats=0 with iouType='keypoints' is not supported: pycocotools' computeOks ignores "
                             "useCats and matches nothing then (every detection a false positive)")
        if self.cocoGt is None or self.cocoDt is None:
            raise ValueError("COCOeval needs cocoGt and cocoDt to evaluate")
        p.imgIds = list(np.unique(p.imgIds))
        if p.useCats:
            p.catIds = list(np.unique(p.catIds))
        p.maxDets = sorted(p.maxDets)
        self.params = p
        self._result, self._layout = self._compute(p)
        self._paramsEval = copy.deepcopy(p)
        self._ious = None
        self._eval_imgs = None
        print(f"DONE (t={_now() - tic:0.2f}s).")

    def _compute(self, p):
        """``(EvaluationResult, (area index, maxDets index))`` for the parameters ``p``."""
        from .._inputs import parse_options
        from ..evaluate import evaluate_loaded

        labels = list(p.areaRngLbl)
        ranges = [tuple(float(v) for v in r) for r in p.areaRng]
        names = [f"range{i}" for i in range(len(ranges))]
        if "all" in labels[:len(ranges)]:
            names[labels.index("all")] = "all"
        area_ranges = dict(zip(names, ranges))
        max_dets = sorted(set(int(m) for m in p.maxDets))
        sigmas = np.asarray(p.kpt_oks_sigmas, dtype=np.float64) if p.iouType == "keypoints" else None
        opts = parse_options("xywh", np.asarray(p.iouThrs, dtype=np.float64), tuple(max_dets), area_ranges,
                             "coco", self.backend, "coco", iou_type=p.iouType, sigmas=sigmas,
                             recall_thresholds=np.asarray(p.recThrs, dtype=np.float64))
        area_index = np.array([list(opts.area_ranges).index(n) for n in names], dtype=np.int64)
        max_index = np.array([max_dets.index(int(m)) for m in p.maxDets], dtype=np.int64)
        gt = self.cocoGt._ground_truth_columns(p.iouType, self.backend)
        res = self.cocoDt._results_columns(self.cocoGt, p.iouType, self.backend)
        image_ids = p.imgIds if len(p.imgIds) != len(gt.image_ids) or list(p.imgIds) != gt.image_ids else None
        category_ids = list(p.catIds)
        if p.useCats and len(category_ids) == len(gt.category_ids) and category_ids == gt.category_ids:
            category_ids = None  # every category: no selection pass
        result = evaluate_loaded(gt, res, opts, image_ids=image_ids, category_ids=category_ids,
                                 use_categories=bool(p.useCats))
        return result, (area_index, max_index)

    def accumulate(self, p=None) -> None:
        """Fill ``eval`` (``precision [T,R,K,A,M]``, ``recall [T,K,A,M]``, ``scores``) from ``evaluate()``."""
        print("Accumulating evaluation results...")
        tic = _now()
        if self._result is None:
            print("Please run evaluate() first")
            raise RuntimeError("accumulate() needs evaluate() first")
        if p is None:
            p = self.params
            result, (area_index, max_index) = self._result, self._layout
        else:
            result, (area_index, max_index) = self._compute(p)
        p.catIds = p.catIds if p.useCats == 1 else [-1]

        def layout(a: np.ndarray, recall: bool) -> np.ndarray:
            a = np.take(a, area_index, axis=2 if recall else 3)
            return np.ascontiguousarray(np.take(a, max_index, axis=3 if recall else 4))

        precision = layout(result.precision, False)
        self.eval = {
            "params": p,
            "counts": list(precision.shape),
            "date": datetime.datetime.now().strftime("%Y-%m-%d %H:%M:%S"),
            "precision": precision,
            "recall": layout(result.recall, True),
            "scores": layout(result.scores, False),
        }
        print(f"DONE (t={_now() - tic:0.2f}s).")

    def summarize(self) -> None:
        """Print pycocotools' 12 summary lines and set ``stats`` (stats[0] at ``maxDets=100``, cocoapi#558)."""
        if not self.eval:
            raise RuntimeError("Please run accumulate() first")
        p = self.params
        stats, lines = coco_summary(self.eval["precision"], self.eval["recall"], p.iouThrs, p.areaRngLbl, p.maxDets,
                                    p.iouType)
        for line in lines:
            print(line)
        self.stats = stats

    # ---------------------------------------------------------------- lazily built records
    @property
    def ious(self) -> dict:
        """``{(imgId, catId): (D, G) IoU}`` as pycocotools' ``computeIoU`` (built on first read)."""
        if self._ious is None:
            self._build_records()
        assert self._ious is not None
        return self._ious

    @property
    def evalImgs(self) -> list:
        """pycocotools' per-image records (``evaluateImg``), built on first read from ``evaluate()``'s params."""
        if self._eval_imgs is None:
            self._build_records()
        assert self._eval_imgs is not None
        return self._eval_imgs

    def _build_records(self) -> None:
        from ..matching import _bbox_iou_reference

        p = self._paramsEval
        if p is None:
            raise RuntimeError("evalImgs and ious need evaluate() first")
        if p.iouType != "bbox":
            raise NotImplementedError(f"evalImgs and ious are built for iouType='bbox' only in detmetrics.compat; "
                                      f"got {p.iouType!r} (stats and eval are computed)")
        use_cats = bool(p.useCats)
        img_ids, cat_ids = list(p.imgIds), list(p.catIds)
        gts: dict = defaultdict(list)
        dts: dict = defaultdict(list)
        wanted_imgs = set(img_ids)
        wanted_cats = set(cat_ids)
        for source, store in ((self.cocoGt, gts), (self.cocoDt, dts)):
            for ann in source.dataset.get("annotations", []):
                if ann["image_id"] in wanted_imgs and (not use_cats or ann["category_id"] in wanted_cats):
                    store[ann["image_id"], ann["category_id"]].append(ann)
        max_det = p.maxDets[-1]
        thresholds = np.asarray(p.iouThrs, dtype=np.float64)
        ious: dict = {}
        groups: dict = {}
        for img in img_ids:
            for cat in (cat_ids if use_cats else [-1]):
                gt = gts[img, cat] if use_cats else [g for c in cat_ids for g in gts[img, c]]
                dt = dts[img, cat] if use_cats else [d for c in cat_ids for d in dts[img, c]]
                order = np.argsort([-d["score"] for d in dt], kind="stable")
                dt = [dt[i] for i in order][:max_det]
                groups[img, cat] = (gt, dt)
                if not gt or not dt:
                    ious[img, cat] = []
                    continue
                d_box = np.array([d["bbox"] for d in dt], dtype=np.float64).reshape(-1, 4)
                g_box = np.array([g["bbox"] for g in gt], dtype=np.float64).reshape(-1, 4)
                crowd = np.array([int(g.get("iscrowd", 0)) for g in gt], dtype=np.int64)
                ious[img, cat] = _bbox_iou_reference(d_box, g_box, crowd)
        records = []
        for cat in (cat_ids if use_cats else [-1]):
            for area_range in p.areaRng:
                for img in img_ids:
                    gt, dt = groups[img, cat]
                    records.append(_evaluate_img(img, cat, area_range, max_det, gt, dt, ious[img, cat], thresholds))
        self._ious, self._eval_imgs = ious, records


def coco_summary(precision, recall, iou_thresholds, area_labels, max_dets, iou_type="bbox"):
    """``(stats (12,), printed lines)`` of pycocotools' bbox ``summarize()`` on ``eval`` arrays.

    As pycocotools: ``stats[0]`` is read at ``maxDets == 100`` (cocoapi#558; -1
    when 100 is not among ``max_dets``), the others at ``max_dets[2]`` (or
    ``[0]`` / ``[1]`` for ``stats[6:8]``); an area label or IoU threshold not
    evaluated gives -1.
    """
    max_dets = list(max_dets)
    if iou_type == "keypoints":  # pycocotools' _summarizeKps: 10 numbers at maxDets=20
        rows = [(ap, thr, area, 20) for ap in (1, 0) for thr, area in
                ((None, "all"), (0.5, "all"), (0.75, "all"), (None, "medium"), (None, "large"))]
        return _summary_rows(rows, precision, recall, np.asarray(iou_thresholds), area_labels, max_dets)
    if len(max_dets) < 3:
        raise ValueError(f"summarize() reads maxDets[0], [1] and [2], as pycocotools does; got maxDets {max_dets}")
    m = max_dets
    rows = [(1, None, "all", 100), (1, 0.5, "all", m[2]), (1, 0.75, "all", m[2]),
            (1, None, "small", m[2]), (1, None, "medium", m[2]), (1, None, "large", m[2]),
            (0, None, "all", m[0]), (0, None, "all", m[1]), (0, None, "all", m[2]),
            (0, None, "small", m[2]), (0, None, "medium", m[2]), (0, None, "large", m[2])]
    return _summary_rows(rows, precision, recall, np.asarray(iou_thresholds), area_labels, max_dets)


def _summary_rows(rows, precision, recall, thresholds, area_labels, max_dets):
    """``(stats, lines)`` of pycocotools' ``_summarize`` for each ``(ap, iouThr, areaRng, maxDets)`` row."""
    line = " {:<18} {} @[ IoU={:<9} | area={:>6s} | maxDets={:>3d} ] = {:0.3f}"
    stats, lines = np.zeros(len(rows)), []
    for i, (ap, iou_thr, area_label, max_det) in enumerate(rows):
        a_index = [j for j, label in enumerate(area_labels) if label == area_label]
        m_index = [j for j, value in enumerate(max_dets) if value == max_det]
        s = precision if ap == 1 else recall
        if iou_thr is not None:
            s = s[np.where(iou_thr == thresholds)[0]]
        s = s[:, :, :, a_index, m_index] if ap == 1 else s[:, :, a_index, m_index]
        valid = s[s > -1]
        stats[i] = -1.0 if valid.size == 0 else float(np.mean(valid))
        iou_text = f"{thresholds[0]:0.2f}:{thresholds[-1]:0.2f}" if iou_thr is None else f"{iou_thr:0.2f}"
        lines.append(line.format("Average Precision" if ap == 1 else "Average Recall", "(AP)" if ap == 1 else "(AR)",
                                 iou_text, area_label, max_det, stats[i]))
    return stats, lines


def _gt_area(ann) -> float:
    if "area" in ann:
        return float(ann["area"])
    _, _, w, h = ann["bbox"]
    return float(w) * float(h)


def _evaluate_img(img, cat, area_range, max_det, gt, dt, ious, thresholds):
    """One record of pycocotools' ``evaluateImg`` (greedy matching per threshold; None when empty)."""
    if not gt and not dt:
        return None
    lo, hi = area_range
    ignore = np.array([1 if (g.get("iscrowd", 0) or _gt_area(g) < lo or _gt_area(g) > hi) else 0 for g in gt],
                      dtype=np.int64)
    gt_order = np.argsort(ignore, kind="stable")
    gt = [gt[i] for i in gt_order]
    gt_ignore = ignore[gt_order]
    dt = dt[:max_det]
    crowd = [int(g.get("iscrowd", 0)) for g in gt]
    n_t, n_g, n_d = thresholds.shape[0], len(gt), len(dt)
    gt_matches = np.zeros((n_t, n_g))
    dt_matches = np.zeros((n_t, n_d))
    dt_ignore = np.zeros((n_t, n_d))
    block = np.asarray(ious)[:, gt_order] if len(ious) else ious
    if len(block):
        for t_i, t in enumerate(thresholds):
            for d_i, d in enumerate(dt):
                best, m = min(float(t), 1 - 1e-10), -1
                for g_i in range(n_g):
                    if gt_matches[t_i, g_i] > 0 and not crowd[g_i]:
                        continue
                    if m > -1 and gt_ignore[m] == 0 and gt_ignore[g_i] == 1:
                        break
                    if block[d_i, g_i] < best:
                        continue
                    best, m = block[d_i, g_i], g_i
                if m == -1:
                    continue
                dt_ignore[t_i, d_i] = gt_ignore[m]
                dt_matches[t_i, d_i] = gt[m]["id"]
                gt_matches[t_i, m] = d["id"]
    outside = np.array([_det_area(d) < lo or _det_area(d) > hi for d in dt], dtype=bool).reshape(1, n_d)
    dt_ignore = np.logical_or(dt_ignore, np.logical_and(dt_matches == 0, np.repeat(outside, n_t, 0)))
    return {
        "image_id": img, "category_id": cat, "aRng": area_range, "maxDet": max_det,
        "dtIds": [d["id"] for d in dt], "gtIds": [g["id"] for g in gt],
        "dtMatches": dt_matches, "gtMatches": gt_matches, "dtScores": [d["score"] for d in dt],
        "gtIgnore": gt_ignore, "dtIgnore": dt_ignore,
    }


def _det_area(ann) -> float:
    _, _, w, h = ann["bbox"]
    return float(w) * float(h)
