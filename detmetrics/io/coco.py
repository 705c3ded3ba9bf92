"""COCO JSON: ground-truth files, results files (including ultralytics' ``predictions.json``) and writers.

Reading follows pycocotools: images are evaluated in increasing image-id
order, a results entry keeps its position in the file (which breaks score
ties inside an image, as pycocotools' stable sort does), ``bbox`` is
``[x, y, w, h]`` in pixels, a ground truth's ``area`` field decides its area
range (``w * h`` when the field is missing).  Boxes are kept in xywh so that
IoUs match pycocotools bit for bit.

Every problem raises ``ValueError`` naming the file and the entry, e.g.
``results.json: [17]: bbox must be 4 finite numbers``; nothing is skipped.
"""

from __future__ import annotations

import math
import warnings
from pathlib import Path
from typing import TypeGuard

import numpy as np

from ._common import DetectionData, empty_record, fspath, ultralytics_image_id

__all__ = [
    "read_coco_gt",
    "read_coco_results",
    "write_coco_gt",
    "write_coco_results",
    "CATEGORY_ID_MODES",
]

#: how the ``category_id`` of a results file maps onto the ground truth's labels
CATEGORY_ID_MODES = ("auto", "ids", "index0", "index1", "coco91")

#: COCO's 91-id category of each of the 80 YOLO COCO classes (ultralytics' coco80_to_coco91_class)
COCO80_TO_COCO91 = (
    list(range(1, 12)) + list(range(13, 26)) + [27, 28] + list(range(31, 45)) + list(range(46, 66))
    + [67, 70] + list(range(72, 83)) + list(range(84, 91))
)


# ----------------------------------------------------------------------------------------------
# loading


def _load_json(source, what: str):
    """(decoded object, display name) for a path or an already decoded object: the package's one decoder."""
    if not isinstance(source, (dict, list)):
        source = Path(fspath(source))  # only paths (and loaded objects) are readers' input
    from ._coco_decode import decode_json  # msgspec is imported only when JSON is read

    return decode_json(source, what)


def _number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _numbers(value, n: int) -> TypeGuard[list | tuple]:
    return isinstance(value, (list, tuple)) and len(value) == n and all(_number(v) for v in value)


def _image_id_ok(value) -> bool:
    """An id as COCO files hold them: a string, or an integer that fits int64 (not a float, not a bool)."""
    return isinstance(value, str) or _int64(value)


def _int64(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and -(2**63) <= value < 2**63


def read_coco_gt(source) -> DetectionData:
    """Read a COCO ground-truth JSON (``images``, ``annotations``, ``categories``).

    Parameters
    ----------
    source : str, Path or dict
        A file path or the decoded JSON.

    Returns
    -------
    DetectionData
        ``kind="ground_truth"``, ``source="coco"``; one record per image in
        increasing id order; labels are category ids; boxes COCO xywh pixels;
        ``iscrowd`` and ``area`` from the annotations (``area`` defaults to
        ``w * h``).

    Raises
    ------
    ValueError
        Not JSON, missing sections, duplicate ids, an annotation whose image
        or category is unknown, a bbox that is not 4 finite numbers with
        ``w, h >= 0``.

    Examples
    --------
    >>> from detmetrics.io import read_coco_gt
    >>> gt = read_coco_gt({
    ...     "images": [{"id": 2, "file_name": "b.jpg"}, {"id": 1, "file_name": "a.jpg"}],
    ...     "annotations": [{"id": 1, "image_id": 2, "category_id": 3, "bbox": [0, 0, 10, 20]}],
    ...     "categories": [{"id": 3, "name": "dog"}]})
    >>> gt.image_ids, gt.records[1]["boxes"].tolist(), gt.records[1]["area"].tolist()
    ([1, 2], [[0.0, 0.0, 10.0, 20.0]], [200.0])
    """
    data, name = _load_json(source, "ground truth")
    if not isinstance(data, dict):
        raise ValueError(f"{name}: a COCO ground truth must be an object with 'images' and 'categories'; "
                         f"got {type(data).__name__} (is it a results file?)")
    for key in ("images", "categories"):
        if not isinstance(data.get(key), list):
            raise ValueError(f"{name}: '{key}' must be a list")
    annotations = data.get("annotations", [])
    if not isinstance(annotations, list):
        raise ValueError(f"{name}: 'annotations' must be a list")

    images = data["images"]
    for i, image in enumerate(images):
        if not isinstance(image, dict) or not _image_id_ok(image.get("id")):
            raise ValueError(f"{name}: images[{i}] needs a string or integer (int64) 'id'; got {image!r}"[:300])
    ids = [image["id"] for image in images]
    if len({type(x) for x in ids}) > 1:
        raise ValueError(f"{name}: image ids mix integers and strings")
    if len(set(ids)) != len(ids):
        dup = next(x for x in ids if ids.count(x) > 1)
        raise ValueError(f"{name}: image id {dup!r} appears twice")
    order = sorted(range(len(images)), key=lambda i: ids[i])
    images = [images[i] for i in order]
    index_of = {image["id"]: i for i, image in enumerate(images)}

    class_names = {}
    for i, category in enumerate(data["categories"]):
        if not isinstance(category, dict) or not _int64(category.get("id")):
            raise ValueError(f"{name}: categories[{i}] needs an integer 'id' (int64); got {category!r}"[:300])
        if category["id"] in class_names:
            raise ValueError(f"{name}: category id {category['id']} appears twice")
        class_names[category["id"]] = str(category.get("name", category["id"]))
    class_names = dict(sorted(class_names.items()))

    per_image: list[list] = [[] for _ in images]
    for i, ann in enumerate(annotations):
        where = f"{name}: annotations[{i}]"
        if not isinstance(ann, dict):
            raise ValueError(f"{where} must be an object; got {ann!r}"[:300])
        image_id = ann.get("image_id")
        index = index_of.get(image_id) if _image_id_ok(image_id) else None  # 1.0 and True hash like 1
        if index is None:
            raise ValueError(f"{where}: image_id {ann.get('image_id')!r} is not in 'images'")
        category = ann.get("category_id")
        if not _int64(category) or category not in class_names:
            raise ValueError(f"{where}: category_id {category!r} is not in 'categories'")
        bbox = ann.get("bbox")
        if not _numbers(bbox, 4) or bbox[2] < 0 or bbox[3] < 0:
            raise ValueError(f"{where}: bbox must be [x, y, w, h], 4 finite numbers with w, h >= 0; got {bbox!r}")
        area = ann.get("area", bbox[2] * bbox[3])
        if not _number(area):
            raise ValueError(f"{where}: area must be a finite number; got {area!r}")
        crowd = ann.get("iscrowd", 0)
        if crowd not in (0, 1) or isinstance(crowd, float) and crowd not in (0.0, 1.0):
            raise ValueError(f"{where}: iscrowd must be 0 or 1; got {crowd!r}")
        per_image[index].append((bbox, category, int(crowd), area))

    records = []
    for anns in per_image:
        if not anns:
            records.append(empty_record("ground_truth", False))
            continue
        records.append(
            {
                "boxes": np.array([a[0] for a in anns], dtype=np.float64),
                "labels": np.array([a[1] for a in anns], dtype=np.int64),
                "iscrowd": np.array([a[2] for a in anns], dtype=np.uint8),
                "area": np.array([a[3] for a in anns], dtype=np.float64),
            }
        )
    sizes = None
    if images and all(_number(im.get("width")) and _number(im.get("height")) for im in images):
        sizes = np.array([[im["width"], im["height"]] for im in images], dtype=np.float64)
    return DetectionData(
        records=records,
        image_ids=[image["id"] for image in images],
        file_names=[str(image.get("file_name", "")) for image in images],
        class_names=class_names,
        image_sizes=sizes,
        box_format="xywh",
        kind="ground_truth",
        source="coco",
    )


def read_coco_results(source, ground_truth: DetectionData, *, category_ids: str = "auto", task=None) -> DetectionData:
    """Read a COCO results JSON aligned with ``ground_truth`` (a COCO file or a YOLO folder).

    Parameters
    ----------
    source : str, Path or list
        A results file (a list of ``{"image_id", "category_id", "bbox",
        "score"}``; ultralytics' OBB ``predictions.json`` entries carry
        ``"poly"`` (8 numbers) or ``"rbox"`` instead of ``"bbox"``), or the
        decoded list.
    ground_truth : DetectionData
        The images and classes to align with.
    category_ids : {"auto", "ids", "index0", "index1", "coco91"}, default="auto"
        How ``category_id`` maps onto the ground truth's labels: ``"ids"``
        the labels themselves (COCO category ids; YOLO class indices),
        ``"index0"`` / ``"index1"`` the 0- / 1-based position in the sorted
        classes, ``"coco91"`` COCO's 91 ids of the 80 YOLO COCO classes.
        ``"auto"`` uses ``"ids"`` when every id is a ground-truth label of a
        COCO file; for a YOLO folder (and as a fallback) it picks the one
        mapping that fits and **warns** when more than one fits
        (ultralytics wrote 0-based ids for non-COCO datasets in some
        releases and 1-based ids in others; ``"index1"`` is then assumed).
    task : {"detect", "obb", "segment", "pose"}, optional
        ``"segment"``: every result's ``segmentation`` (RLE, as ultralytics'
        ``predictions.json`` of a ``-seg`` model, or polygons) goes to the
        record's ``"masks"``; ``"pose"``: ``keypoints`` (flat ``[x1, y1, v1,
        ...]``) to ``"keypoints"``.  Default: the ground truth's task when the
        first result has that field, else detect.  ``COCO.loadRes``' rule
        gives segment records an ``"area"``: the box's ``w * h`` (the results
        carry a ``bbox``).

    Notes
    -----
    ``image_id`` may be the ground truth's id or, as in ultralytics'
    ``predictions.json``, the image file stem (an int when numeric).  A
    result for an image that is not in the ground truth is an error, as in
    pycocotools' ``loadRes``.

    Examples
    --------
    >>> from detmetrics.io import read_coco_gt, read_coco_results
    >>> gt = read_coco_gt({"images": [{"id": 7, "file_name": "x.jpg"}], "annotations": [],
    ...                    "categories": [{"id": 1, "name": "a"}, {"id": 2, "name": "b"}]})
    >>> pred = read_coco_results([{"image_id": "x", "category_id": 2, "bbox": [1, 2, 3, 4], "score": 0.5}], gt)
    >>> pred.records[0]["labels"].tolist(), pred.records[0]["boxes"].tolist()
    ([2], [[1.0, 2.0, 3.0, 4.0]])
    """
    if not isinstance(ground_truth, DetectionData):
        raise TypeError(f"ground_truth must be a DetectionData (from read_coco_gt or read_yolo_dataset); "
                        f"got {type(ground_truth).__name__}")
    if category_ids not in CATEGORY_ID_MODES:
        options = ", ".join(repr(m) for m in CATEGORY_ID_MODES)
        raise ValueError(f"category_ids must be one of {options}; got {category_ids!r}")
    data, name = _load_json(source, "results")
    if isinstance(data, dict) and isinstance(data.get("annotations"), list):
        data = data["annotations"]
    if not isinstance(data, list):
        raise ValueError(f"{name}: a COCO results file must be a list of detections; got {type(data).__name__}")
    obb = ground_truth.obb
    lookup = _image_lookup(ground_truth)
    field_of = {"segment": "segmentation", "pose": "keypoints"}
    if task is None:
        task = ground_truth.task
        if task in field_of and not (data and isinstance(data[0], dict) and field_of[task] in data[0]):
            task = "detect"
    if task in field_of and ground_truth.task != task:
        raise ValueError(f"{name}: task {task!r} needs {task} ground truth; the ground truth holds "
                         f"{ground_truth.task!r} data")
    extra: list = []

    image_index, categories, boxes, scores = [], [], [], []
    for i, det in enumerate(data):
        where = f"{name}: [{i}]"
        if not isinstance(det, dict):
            raise ValueError(f"{where} must be an object; got {det!r}"[:300])
        index = _find_image(lookup, det.get("image_id"))
        if index is None:
            raise ValueError(f"{where}: image_id {det.get('image_id')!r} is not an image of the ground truth")
        category = det.get("category_id")
        if not _int64(category):
            raise ValueError(f"{where}: category_id must be an integer (int64); got {category!r}")
        score = det.get("score")
        if not _number(score):
            raise ValueError(f"{where}: score must be a finite number; got {score!r}")
        boxes.append(_read_box(det, where, obb))
        if task in field_of:
            value = det.get(field_of[task])
            if value is None:
                raise ValueError(f"{where}: a {task} result needs '{field_of[task]}'")
            if task == "pose" and (not isinstance(value, list) or len(value) % 3 or not value
                                   or not all(_number(v) for v in value)):
                raise ValueError(f"{where}: keypoints must be [x1, y1, v1, ...], 3 finite numbers per keypoint")
            extra.append(value)
        image_index.append(index)
        categories.append(category)
        scores.append(score)

    labels = _map_categories(np.array(categories, dtype=np.int64), ground_truth, category_ids, name)
    image_array = np.array(image_index, dtype=np.int64)
    score_array = np.array(scores, dtype=np.float64)
    box_array = np.array(boxes, dtype=np.float64).reshape((-1, 4, 2) if obb else (-1, 4))
    records = [empty_record("predictions", obb) for _ in ground_truth.records]
    if len(image_array):
        order = np.argsort(image_array, kind="stable")  # group by image, keep file order inside
        bounds = np.searchsorted(image_array[order], np.arange(len(records) + 1))
        for k in range(len(records)):
            rows = order[bounds[k] : bounds[k + 1]]
            if rows.size:
                records[k] = {"boxes": box_array[rows], "scores": score_array[rows], "labels": labels[rows]}
    if task in field_of:
        k_pts = ground_truth.kpt_shape[0] if ground_truth.kpt_shape is not None else None
        for k, record in enumerate(records):
            rows = order[bounds[k] : bounds[k + 1]] if len(image_array) else np.zeros(0, np.int64)
            if task == "segment":
                record["masks"] = [extra[r] for r in rows.tolist()]
                if ground_truth.image_sizes is None:
                    raise ValueError(f"{name}: segment results need the ground truth's image sizes")
                width, height = ground_truth.image_sizes[k]
                record["image_size"] = (int(height), int(width))
                record["area"] = record["boxes"][:, 2] * record["boxes"][:, 3]  # loadRes: the bbox's w * h
            else:
                kp = np.array([extra[r] for r in rows.tolist()], dtype=np.float64)
                if kp.size and k_pts is not None and kp.shape[1] != 3 * k_pts:
                    raise ValueError(f"{name}: results have {kp.shape[1] // 3} keypoints but the dataset's "
                                     f"kpt_shape has {k_pts}")
                record["keypoints"] = kp.reshape(len(rows), -1 if kp.size else (k_pts or 0), 3)
    return ground_truth.aligned_predictions(
        records,
        task=task if task in field_of else ground_truth.task if ground_truth.task not in field_of else "detect",
        kpt_shape=ground_truth.kpt_shape,
    )


def _read_box(det: dict, where: str, obb: bool):
    if not obb:
        bbox = det.get("bbox")
        if not _numbers(bbox, 4) or bbox[2] < 0 or bbox[3] < 0:
            raise ValueError(f"{where}: bbox must be [x, y, w, h], 4 finite numbers with w, h >= 0; got {bbox!r}")
        return bbox
    poly = det.get("poly")
    if poly is not None:
        flat = [v for point in poly for v in point] if poly and isinstance(poly[0], (list, tuple)) else poly
        if not _numbers(flat, 8):
            raise ValueError(f"{where}: poly must be 8 finite numbers (4 corners); got {poly!r}")
        return flat
    rbox = det.get("rbox")
    if rbox is not None:
        if not _numbers(rbox, 5) or rbox[2] < 0 or rbox[3] < 0:
            raise ValueError(f"{where}: rbox must be [cx, cy, w, h, angle] with w, h >= 0; got {rbox!r}")
        cx, cy, w, h, angle = rbox
        c, s = math.cos(angle), math.sin(angle)
        corners = []
        for dx, dy in ((w / 2, h / 2), (-w / 2, h / 2), (-w / 2, -h / 2), (w / 2, -h / 2)):
            corners += [cx + c * dx - s * dy, cy + s * dx + c * dy]
        return corners
    raise ValueError(f"{where}: an oriented detection needs 'poly' (8 numbers) or 'rbox'")


def _image_lookup(gt: DetectionData) -> dict:
    exact = {image_id: i for i, image_id in enumerate(gt.image_ids)}
    stems: dict = {}
    for i, file_name in enumerate(gt.file_names):
        if file_name:
            stem = Path(file_name).stem
            for key in {stem, ultralytics_image_id(stem)}:
                stems.setdefault(key, i)
    return {"exact": exact, "stems": stems}


def _find_image(lookup: dict, image_id):
    if not _image_id_ok(image_id):
        return None
    index = lookup["exact"].get(image_id)
    if index is None and isinstance(image_id, str):
        index = lookup["stems"].get(image_id)  # ultralytics writes the file stem
    return index


def _map_categories(categories: np.ndarray, gt: DetectionData, mode: str, name: str) -> np.ndarray:
    labels = np.array(sorted(gt.class_names), dtype=np.int64)
    present = np.unique(categories)
    n = len(labels)
    candidates = {
        "ids": (lambda c: c, lambda: bool(np.isin(present, labels).all())),
        "index0": (lambda c: labels[c], lambda: bool(((present >= 0) & (present < n)).all())),
        "index1": (lambda c: labels[c - 1], lambda: bool(((present >= 1) & (present <= n)).all())),
        "coco91": (_coco91_to_label(labels), lambda: n == 80 and bool(np.isin(present, COCO80_TO_COCO91).all())),
    }
    if mode != "auto":
        convert, fits = candidates[mode]
        if not fits():
            raise ValueError(f"{name}: category ids {_ids(present)} do not fit category_ids={mode!r} "
                             f"for {n} ground-truth classes")
        return convert(categories).astype(np.int64)
    if len(categories) == 0:
        return categories
    if gt.source != "yolo" and candidates["ids"][1]():
        return categories
    order = ("ids", "index1", "index0", "coco91") if gt.source != "yolo" else ("index1", "index0", "coco91")
    fitting = [m for m in order if candidates[m][1]()]
    if gt.source == "yolo" and "coco91" in fitting and present.max() > n:
        fitting = ["coco91"]
    if not fitting:
        raise ValueError(
            f"{name}: category ids {_ids(present)} match none of the ground truth's {n} classes "
            f"(labels {_ids(labels)}) as ids, 0-based or 1-based class indices"
        )
    if len(fitting) > 1:
        warnings.warn(
            f"{name}: the results' category ids {_ids(present)} fit several mappings onto the ground truth's "
            f"classes ({', '.join(fitting)}); assuming {fitting[0]!r}. Pass category_ids= "
            "(CLI: --category-ids) to choose.",
            UserWarning,
            stacklevel=3,
        )
    elif gt.source != "yolo":
        warnings.warn(
            f"{name}: category ids are not the ground truth's category ids; mapping them as {fitting[0]!r}",
            UserWarning,
            stacklevel=3,
        )
    return candidates[fitting[0]][0](categories).astype(np.int64)


def _coco91_to_label(labels: np.ndarray):
    table = {cid: i for i, cid in enumerate(COCO80_TO_COCO91)}

    def convert(categories):
        return labels[np.array([table[int(c)] for c in categories], dtype=np.int64)]

    return convert


def _ids(values) -> str:
    values = [int(v) for v in values]
    text = ", ".join(str(v) for v in values[:12])
    return "[" + text + (", ..." if len(values) > 12 else "") + "]"


# ----------------------------------------------------------------------------------------------
# writers


def coco_image_ids(data: DetectionData) -> list:
    """The integer image ids the COCO writers use: the data's own when they are increasing ints, else 1..N."""
    ids = data.image_ids
    if all(isinstance(x, (int, np.integer)) and not isinstance(x, bool) for x in ids) and all(
        a < b for a, b in zip(ids, ids[1:])
    ):
        return [int(x) for x in ids]
    return list(range(1, len(ids) + 1))


def _category_offset(data: DetectionData) -> int:
    return 1 if data.source == "yolo" else 0


def write_coco_gt(data: DetectionData, path=None) -> dict:
    """Write ground truths as a COCO JSON that pycocotools can load; return the dict.

    YOLO class ``i`` becomes category ``i + 1`` (ultralytics' map for
    non-COCO datasets); image ids are the data's own when they are
    increasing integers, else ``1..N`` in the data's order, so that
    pycocotools (which sorts by id) evaluates the images in the same order.
    Oriented boxes are written with their polygon as ``segmentation``,
    the polygon ``area`` and the enclosing axis-aligned ``bbox``.  Segment
    records (YOLO-seg) are written with their polygons as ``segmentation``
    and their mask ``area``; pose records with ``keypoints`` and
    ``num_keypoints`` (the keypoints with ``v > 0``).

    Examples
    --------
    >>> from detmetrics.io import read_yolo_dataset, write_coco_gt, sample_path
    >>> coco = write_coco_gt(read_yolo_dataset(sample_path("yolo")))
    >>> sorted(coco), coco["categories"][0]
    (['annotations', 'categories', 'images'], {'id': 1, 'name': 'person'})
    """
    if data.kind != "ground_truth":
        raise ValueError(f"write_coco_gt needs ground truths; got data of kind {data.kind!r}")
    offset = _category_offset(data)
    ids = coco_image_ids(data)
    images = []
    for k, image_id in enumerate(ids):
        entry = {"id": image_id, "file_name": data.file_names[k] or str(data.image_ids[k])}
        if data.image_sizes is not None:
            width, height = data.image_sizes[k]
            entry["width"] = int(width) if float(width).is_integer() else float(width)
            entry["height"] = int(height) if float(height).is_integer() else float(height)
        images.append(entry)
    annotations: list[dict] = []
    for k, record in enumerate(data.records):
        boxes, segmentation = _coco_boxes(record["boxes"], data.obb)
        labels = np.asarray(record["labels"]).tolist()
        crowd = np.asarray(record.get("iscrowd", np.zeros(len(labels)))).tolist()
        area = np.asarray(record["area"], dtype=np.float64).tolist() if "area" in record else (boxes[:, 2] * boxes[:, 3]).tolist()
        for j, box in enumerate(boxes.tolist()):
            ann = {
                "id": len(annotations) + 1,
                "image_id": ids[k],
                "category_id": int(labels[j]) + offset,
                "bbox": box,
                "area": area[j],
                "iscrowd": int(crowd[j]),
            }
            if segmentation is not None:
                ann["segmentation"] = [segmentation[j].tolist()]
            if "masks" in record:
                ann["segmentation"] = _json_segmentation(record["masks"][j])
            if "keypoints" in record:
                kp = np.asarray(record["keypoints"][j], dtype=np.float64)
                ann["keypoints"] = kp.reshape(-1).tolist()
                ann["num_keypoints"] = int((kp[:, 2] > 0).sum())
            annotations.append(ann)
    categories = [{"id": int(label) + offset, "name": name} for label, name in sorted(data.class_names.items())]
    coco = {"images": images, "annotations": annotations, "categories": categories}
    if path is not None:
        _dump(coco, path)
    return coco


def _coco_boxes(boxes, obb: bool):
    """COCO ``bbox`` rows (xywh) of a record's boxes; for oriented quads the
    enclosing axis-aligned box plus the ``(N, 8)`` corner rows (else ``None``)."""
    boxes = np.asarray(boxes, dtype=np.float64)
    if not obb:
        return boxes, None
    quads = boxes.reshape(-1, 4, 2)
    lo, hi = quads.min(axis=1), quads.max(axis=1)
    enclosing = np.column_stack([lo, hi - lo]) if len(quads) else np.zeros((0, 4))
    return enclosing, quads.reshape(-1, 8)


def write_coco_results(data: DetectionData, path=None) -> list:
    """Write predictions as a COCO results list (``image_id``, ``category_id``, ``bbox``, ``score``).

    Ids follow ``write_coco_gt`` for the ground truth the predictions
    were read with, so the pair scores with pycocotools.  Oriented boxes add
    ``"poly"`` (8 numbers) next to the enclosing ``bbox``; segment records a
    compressed-RLE ``segmentation`` and pose records ``keypoints``, next to
    the ``bbox`` as ultralytics writes them (so ``COCO.loadRes`` takes each
    result's area from its box).  Returns the list.
    """
    if data.kind != "predictions":
        raise ValueError(f"write_coco_results needs predictions; got data of kind {data.kind!r}")
    offset = _category_offset(data)
    ids = coco_image_ids(data)
    results = []
    for k, record in enumerate(data.records):
        boxes, polys = _coco_boxes(record["boxes"], data.obb)
        polys = None if polys is None else polys.tolist()
        labels = np.asarray(record["labels"]).tolist()
        scores = np.asarray(record["scores"], dtype=np.float64).tolist()
        rles = _compressed(record) if "masks" in record else None
        for j, box in enumerate(boxes.tolist()):
            entry = {"image_id": ids[k], "category_id": int(labels[j]) + offset, "bbox": box, "score": scores[j]}
            if polys is not None:
                entry["poly"] = polys[j]
            if rles is not None:
                entry["segmentation"] = rles[j]
            if "keypoints" in record:
                entry["keypoints"] = np.asarray(record["keypoints"][j], dtype=np.float64).reshape(-1).tolist()
            results.append(entry)
    if path is not None:
        _dump(results, path)
    return results


def _json_segmentation(segm):
    """A record's mask (pixel polygons or an RLE dict) as COCO JSON writes it (text counts)."""
    if isinstance(segm, dict):
        counts = segm["counts"]
        counts = counts.decode("ascii") if isinstance(counts, (bytes, bytearray)) else counts
        return {"size": [int(v) for v in segm["size"]], "counts": counts if isinstance(counts, str) else
                [int(c) for c in counts]}
    return [np.asarray(part, dtype=np.float64).reshape(-1).tolist() for part in segm]


def _compressed(record) -> list:
    """A segment record's masks as compressed RLEs, pycocotools' results format (rasterised at ``image_size``)."""
    from .._inputs import _mask_backend
    from ..masks import _segmentations_flat, _to_dicts

    masks = list(record["masks"])
    if not masks:
        return []
    h, w = record["image_size"]
    backend = _mask_backend("auto", [record])
    counts, offsets, sizes = _segmentations_flat(masks, [h] * len(masks), [w] * len(masks), backend, "masks")
    return [{"size": d["size"], "counts": d["counts"].decode("ascii")} for d in _to_dicts(counts, offsets, sizes,
                                                                                        backend)]


def _dump(obj, path) -> None:
    import msgspec

    Path(fspath(path)).write_bytes(msgspec.json.encode(obj))
