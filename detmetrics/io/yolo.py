"""YOLO txt folders: detect (``class cx cy w h``) and OBB (``class x1 y1 ... x4 y4``) labels and predictions.

The conventions are ultralytics' own:

* a dataset is a folder with ``images/`` and ``labels/`` (optionally one
  sub-folder per split, ``images/val`` / ``labels/val``) or a ``data.yaml``
  whose ``path``, ``val`` and ``names`` entries say where the split's images
  are and what the classes are called; the label file of
  ``.../images/val/a.jpg`` is ``.../labels/val/a.txt``;
* images are taken in file-name order, which is also the evaluation order
  (it decides how equal scores in different images are ranked);
* an image without a label file has no objects, an image without a
  prediction file has no detections;
* coordinates are normalized by the image width and height; class ids are
  indices into ``names`` (an id outside ``names`` is an error);
* prediction lines carry a trailing confidence (``save_conf=True``); a
  prediction line without one is malformed.

Image sizes (needed to turn normalized coordinates into pixels, and pixel
areas into COCO's small / medium / large) come from the image headers
(Pillow, or a built-in PNG header reader) or from a sizes file: one
``<file name> <width> <height>`` line per image, ``#`` starts a comment.

Every malformed line raises ``ValueError`` naming the file and the line number.
"""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Literal

import numpy as np

from ._common import (
    IMAGE_SUFFIXES,
    DetectionData,
    empty_record,
    fspath,
    is_convex,
    polygon_area,
    progress_iter,
    ultralytics_image_id,
)

__all__ = [
    "read_yolo_dataset",
    "read_yolo_predictions",
    "write_yolo_labels",
    "write_yolo_predictions",
    "write_data_yaml",
    "read_sizes_file",
    "read_image_size",
]

MAX_CLASS_ID = 2**53      # class ids are read as float64 text: beyond this they are not exact integers
MAX_YAML_ALIASES = 100    # a dataset yaml needs none; bounds "billion laughs" expansion


# ----------------------------------------------------------------------------------------------
# dataset layout


def read_yolo_dataset(path, *, split: str = "val", sizes=None, obb=None, progress=None, task=None) -> DetectionData:
    """Read the ground truth of a YOLO dataset (detect, OBB, segment or pose).

    Parameters
    ----------
    path : str or Path
        A ``data.yaml`` file, a folder holding one (``data.yaml`` is
        preferred when there are several), or a folder with ``images/`` and
        ``labels/`` (``images/<split>`` and ``labels/<split>`` when those
        exist).
    split : str, default="val"
        The yaml entry (or sub-folder) to read.
    sizes : str, Path or dict, optional
        Image sizes: a sizes file (``<file name> <width> <height>`` lines) or
        a dict ``{file name or stem: (width, height)}``.  When given, the
        images are not opened; when the images folder does not exist, the
        sizes file also lists the images.  Without it the sizes are read
        from the image headers.
    obb : bool, optional
        Force detect (False) or OBB (True) labels; by default decided by the
        number of fields of the first label line (5: detect, 9: OBB).
    progress : bool, optional
        Show a progress bar (tqdm) while reading; by default only for 500
        or more files on a terminal.
    task : {"detect", "obb", "segment", "pose"}, optional
        The label layout.  By default: ``"pose"`` when ``data.yaml`` has a
        ``kpt_shape``; otherwise from the number of fields of the lines (all
        5: detect, all 9: OBB, anything else longer: segment polygons
        ``class x1 y1 ... xn yn``).  A segment dataset whose every polygon has
        4 points looks like OBB: pass ``task="segment"``.

    Returns
    -------
    DetectionData
        ``kind="ground_truth"``, ``source="yolo"``; labels are class indices,
        boxes pixels (xywh, or ``(N, 4, 2)`` corners for OBB), ``area`` the
        box or polygon area in pixels, ``iscrowd`` all zero.  Segment records
        add ``"masks"`` (per object a one-part polygon in pixels) and
        ``"image_size"`` ``(h, w)``, their boxes being the polygons' enclosing
        boxes and their ``area`` the mask's (as COCO's, for box evaluation too);
        pose records add ``"keypoints"`` ``(N, K, 3)`` in pixels
        (visibility ``v`` from the file, or, for ``kpt_shape [K, 2]``, 0 where a
        coordinate is negative and 1 elsewhere, as ultralytics' loader).

    Raises
    ------
    ValueError
        A missing folder or split, a malformed line (naming file and line), a
        class id outside ``names``, coordinates outside ``[0, 1]``, a label
        file without an image, an image without a size.

    Examples
    --------
    >>> from detmetrics.io import read_yolo_dataset, sample_path
    >>> gt = read_yolo_dataset(sample_path("yolo"))
    >>> len(gt), gt.class_names[0], gt.obb
    (12, 'person', False)
    """
    if task is not None and task not in TASKS:
        raise ValueError(f"task must be one of {', '.join(repr(t) for t in TASKS)}; got {task!r}")
    layout = _resolve_layout(path, split)
    if task == "pose" and layout.get("kpt_shape") is None:
        raise ValueError("task='pose' needs 'kpt_shape' in data.yaml (the number of keypoints)")
    size_table = None if sizes is None else _size_table(sizes)
    image_paths = _list_images(layout, size_table)
    _check_unique_stems(image_paths)
    if layout["orphan_check"]:
        _check_orphan_labels(layout, image_paths)

    label_paths = [_label_path(p) for p in image_paths]
    texts = [_read_text(lp, "label file") if _label_file(lp) else None
             for lp in progress_iter(label_paths, desc="reading labels", progress=progress)]
    if all(text is None for text in texts):
        folder = os.path.dirname(label_paths[0])
        raise ValueError(
            f"no label file found for any of the {len(label_paths)} images (looked in {folder}; ultralytics "
            "reads the labels of images/<split>/x.jpg from labels/<split>/x.txt)"
        )
    if task in (None, "detect") and not obb and layout.get("kpt_shape") is None:
        fast = _read_detect_dataset(layout, image_paths, texts, size_table, progress)
        if fast is not None:
            return fast
    raw = [None if text is None else _read_rows(lp, text) for lp, text in zip(label_paths, texts)]
    task = _decide_task(raw, task, obb, layout.get("kpt_shape"))
    if all(item is None for item in raw):
        folder = os.path.dirname(label_paths[0])
        raise ValueError(
            f"no label file found for any of the {len(label_paths)} images (looked in {folder}; ultralytics "
            "reads the labels of images/<split>/x.jpg from labels/<split>/x.txt)"
        )
    if task in ("segment", "pose"):
        return _read_instances_dataset(layout, image_paths, label_paths, raw, task, size_table, progress)
    obb = task == "obb"
    parsed = [None if r is None else _as_table(lp, *r, kind="ground_truth", obb=obb)
              for lp, r in zip(label_paths, raw)]

    names = layout["names"]
    names_inferred = names is None
    if names_inferred:
        top = max((int(p[0].max()) for p in parsed if p is not None and len(p[0])), default=-1)
        names = {i: str(i) for i in range(top + 1)}
    widths_heights = np.array(
        [_image_size(p, size_table) for p in progress_iter(image_paths, desc="reading image sizes", progress=progress)],
        dtype=np.float64,
    ).reshape(-1, 2)

    records = []
    for i, (label_path, item) in enumerate(zip(label_paths, parsed)):
        if item is None:
            records.append(empty_record("ground_truth", obb))
            continue
        labels, coords, _, lines = item
        _check_fields(label_path, lines, coords, kind="ground_truth", obb=obb)
        _check_classes(label_path, lines, labels, names)
        _check_normalized(label_path, lines, coords)
        width, height = widths_heights[i]
        if obb:
            boxes = _quads_to_pixels(coords, width, height)
            _check_convex(label_path, lines, boxes)
            area = polygon_area(boxes)
        else:
            boxes = _cxcywh_to_pixels(coords, width, height)
            area = boxes[:, 2] * boxes[:, 3]
        records.append({"boxes": boxes, "labels": labels, "iscrowd": np.zeros(len(labels), np.uint8), "area": area})

    return _yolo_ground_truth(records, image_paths, names, widths_heights, names_inferred,
                              "quad" if obb else "xywh")


def read_yolo_predictions(path, ground_truth: DetectionData, *, progress=None, task=None) -> DetectionData:
    """Read a folder of YOLO prediction txt files, aligned with ``ground_truth``'s images.

    Parameters
    ----------
    path : str or Path
        A folder of ``<image stem>.txt`` files (``yolo predict save_txt=True
        save_conf=True`` writes them to ``runs/.../labels``; a folder holding
        a ``labels/`` sub-folder is accepted too).  Lines are
        ``class cx cy w h conf`` (detect) or ``class x1 y1 ... x4 y4 conf``
        (OBB), normalized.
    ground_truth : DetectionData
        Gives the images (a prediction file must belong to one of them), their
        sizes, the class names and detect vs OBB.  Against a COCO ground truth
        (which needs ``width`` and ``height`` for its images), class index ``i``
        is the ``i``-th category in increasing id order.
    progress : bool, optional
        Show a progress bar; see ``read_yolo_dataset``.
    task : {"detect", "obb", "segment", "pose"}, optional
        Default: the ground truth's, except that box lines (``class cx cy w
        h conf``) against a segment or pose dataset are read as detect.
        Segment lines are ``class x1 y1 ... xn yn conf`` (``save_txt`` of a
        ``-seg`` model), pose lines ``class cx cy w h px py [pv] ... conf``.

    Returns
    -------
    DetectionData
        ``kind="predictions"``, one record per ground-truth image (empty
        when the image has no prediction file).

    Examples
    --------
    >>> from detmetrics.io import read_yolo_dataset, read_yolo_predictions, sample_path
    >>> gt = read_yolo_dataset(sample_path("yolo"))
    >>> pred = read_yolo_predictions(sample_path("yolo") / "predictions", gt)
    >>> len(pred) == len(gt), pred.kind
    (True, 'predictions')
    """
    if not isinstance(ground_truth, DetectionData):
        raise TypeError(f"ground_truth must be a DetectionData (from read_yolo_dataset or read_coco_gt); "
                        f"got {type(ground_truth).__name__}")
    folder = Path(fspath(path))
    if not folder.is_dir():
        raise ValueError(f"prediction folder {fspath(path)!r} does not exist or is not a folder")
    if not any(folder.glob("*.txt")) and (folder / "labels").is_dir():
        folder = folder / "labels"
    if ground_truth.image_sizes is None:
        raise ValueError("ground_truth has no image sizes; YOLO predictions are normalized by the image size")
    stems = {Path(name).stem: i for i, name in enumerate(ground_truth.file_names)}
    files = prediction_files(folder)
    names = dict(ground_truth.class_names)
    task = _prediction_task(files, ground_truth, task)
    if task in ("segment", "pose"):
        return _read_instance_predictions(files, ground_truth, task, stems, names, progress)
    obb = task == "obb"
    if obb != ground_truth.obb:
        raise ValueError(f"task {task!r} predictions cannot be scored against {ground_truth.task!r} ground truth")
    fast = None if obb else _read_detect_predictions(files, ground_truth, stems, names, progress)
    records = fast if fast is not None else [empty_record("predictions", obb) for _ in ground_truth.records]
    for file in progress_iter(files if fast is None else [], desc="reading predictions", progress=progress):
        index = stems.get(file.stem)
        if index is None:
            raise ValueError(f"prediction file {file} has no image {file.stem!r} in the ground truth")
        labels, coords, conf, lines = _read_txt(file, kind="predictions", obb=obb)
        _check_fields(file, lines, coords, kind="predictions", obb=obb)
        if ground_truth.names_inferred and len(labels) and labels.max() >= len(names) and labels.min() >= 0:
            names.update({i: str(i) for i in range(len(names), int(labels.max()) + 1)})
        _check_classes(file, lines, labels, names)
        if ground_truth.source != "yolo":  # class index -> the COCO file's category id
            labels = np.array(sorted(names), dtype=np.int64)[labels]
        _check_finite(file, lines, coords, conf)
        bad = np.flatnonzero((conf < 0) | (conf > 1))
        if bad.size:
            _fail(file, lines[bad[0]], f"confidence must be in [0, 1]; got {conf[bad[0]]!r}")
        width, height = ground_truth.image_sizes[index]
        if obb:
            boxes = _quads_to_pixels(coords, width, height)
            _check_convex(file, lines, boxes)
        else:
            bad = np.flatnonzero((coords[:, 2] < 0) | (coords[:, 3] < 0))
            if bad.size:
                _fail(file, lines[bad[0]], "width and height must be >= 0")
            boxes = _cxcywh_to_pixels(coords, width, height)
        records[index] = {"boxes": boxes, "scores": conf, "labels": labels}
    return ground_truth.aligned_predictions(
        records,
        class_names=names,
        names_inferred=ground_truth.names_inferred,
    )


def _prediction_task(files, ground_truth: DetectionData, task) -> str:
    if task is not None:
        if task not in TASKS:
            raise ValueError(f"task must be one of {', '.join(repr(t) for t in TASKS)}; got {task!r}")
        if task in ("segment", "pose") and ground_truth.task != task:
            raise ValueError(f"task={task!r} needs {task} ground truth; the ground truth holds {ground_truth.task!r} "
                             "labels")
        return task
    if ground_truth.task not in ("segment", "pose"):
        return ground_truth.task
    for file in files:  # box lines (class cx cy w h conf) against a segment / pose dataset: detect
        rows, _ = _read_rows(file)
        if rows:
            return "detect" if len(rows[0]) == 6 else ground_truth.task
    return ground_truth.task


def _read_instance_predictions(files, ground_truth, task, stems, names, progress) -> DetectionData:
    records: list = [None] * len(ground_truth.records)
    for file in progress_iter(files, desc="reading predictions", progress=progress):
        index = stems.get(file.stem)
        if index is None:
            raise ValueError(f"prediction file {file} has no image {file.stem!r} in the ground truth")
        rows, lines = _read_rows(file)
        width, height = ground_truth.image_sizes[index]
        record = _instance_record(file, rows, lines, task, width, height, ground_truth.kpt_shape, names,
                                  kind="predictions")
        if ground_truth.source != "yolo":
            record["labels"] = np.array(sorted(names), dtype=np.int64)[record["labels"]]
        records[index] = record
    for index, record in enumerate(records):
        if record is None:
            width, height = ground_truth.image_sizes[index]
            records[index] = _instance_record("", [], [], task, width, height, ground_truth.kpt_shape, names,
                                              kind="predictions")
    return ground_truth.aligned_predictions(
        records,
        class_names=names,
        box_format="xywh",
        names_inferred=ground_truth.names_inferred,
        task=task,
        kpt_shape=ground_truth.kpt_shape,
    )


# ----------------------------------------------------------------------------------------------
# writers


def write_yolo_labels(data: DetectionData, folder, *, data_yaml="auto") -> list:
    """Write ground truths (or predictions without their scores) as YOLO label files and a ``data.yaml``.

    One ``<image stem>.txt`` per image, empty for an image without objects.
    The YOLO class index of a label is its position among the data's classes
    in increasing id order (``sorted(data.class_names)``): COCO category ids
    1, 2, 3, ... become classes 0, 1, 2, ..., and YOLO data keeps its indices.
    Coordinates are normalized by ``data.image_sizes`` and written with
    Python's shortest round-trip float formatting.

    Parameters
    ----------
    data : DetectionData
    folder : str or Path
        Where the txt files go (``<root>/labels/<split>`` in ultralytics' layout).
    data_yaml : "auto", path or None
        Where to write the ``data.yaml`` naming the classes (index -> name, in
        the order above): ``"auto"`` puts it in ``<root>`` when ``folder`` is
        ``<root>/labels/<split>`` (with ``path: .`` and ``<split>:
        images/<split>``), else in ``folder``; ``None`` writes none.

    Returns
    -------
    list of Path
        The label files written (the yaml is not in the list).

    Examples
    --------
    >>> import tempfile
    >>> from detmetrics.io import read_yolo_dataset, write_yolo_labels, sample_path
    >>> gt = read_yolo_dataset(sample_path("yolo"))
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     len(write_yolo_labels(gt, tmp))
    12
    """
    written = _write_txt(data, folder, with_scores=False, skip_empty=False)
    if data_yaml is not None:
        write_data_yaml(data, folder if data_yaml == "auto" else None, path=None if data_yaml == "auto" else data_yaml)
    return written


def write_data_yaml(data: DetectionData, folder=None, *, path=None) -> Path:
    """Write an ultralytics ``data.yaml`` naming ``data``'s classes by YOLO index (see ``write_yolo_labels``).

    With ``folder`` = ``<root>/labels/<split>`` the file is ``<root>/data.yaml``
    holding ``path: .`` and ``<split>: images/<split>``; with another
    ``folder`` it is ``folder/data.yaml``; ``path`` names the file directly.
    Written without pyyaml (names are JSON-quoted, which YAML reads as is).
    """
    import json

    lines = []
    if path is None:
        labels = Path(fspath(folder))
        if labels.parent.name == "labels":
            root, split = labels.parent.parent, labels.name
            lines += ["path: .", f"{split}: {json.dumps('images/' + split)}"]
        elif labels.name == "labels":
            root = labels.parent
            lines += ["path: .", f"val: {json.dumps('images')}"]
        else:
            root = labels
        path = root / "data.yaml"
    path = Path(fspath(path))
    names = [data.class_names[c] for c in sorted(data.class_names)]
    lines.append(f"nc: {len(names)}")
    lines.append("names:")
    lines += [f"  {i}: {json.dumps(str(name))}" for i, name in enumerate(names)]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def write_yolo_predictions(data: DetectionData, folder) -> list:
    """Write predictions as YOLO txt files with a trailing confidence.

    Like ``yolo predict save_txt=True save_conf=True``: one file per image
    that has detections (an image without a file has none).  Returns the
    paths written.
    """
    if data.kind != "predictions":
        raise ValueError(f"write_yolo_predictions needs predictions; got data of kind {data.kind!r}")
    return _write_txt(data, folder, with_scores=True, skip_empty=True)


def _write_txt(data: DetectionData, folder, *, with_scores: bool, skip_empty: bool) -> list:
    if data.image_sizes is None:
        raise ValueError("data has no image sizes; YOLO files are normalized by the image size")
    out = Path(fspath(folder))
    out.mkdir(parents=True, exist_ok=True)
    ids = np.array(sorted(data.class_names), dtype=np.int64)
    written = []
    for record, file_name, (width, height) in zip(data.records, data.file_names, data.image_sizes):
        labels = np.asarray(record["labels"], dtype=np.int64)
        if skip_empty and len(labels) == 0:
            continue
        index = np.searchsorted(ids, labels)  # class id -> YOLO class index (position in sorted ids)
        unknown = (index >= len(ids)) | (ids[np.minimum(index, max(len(ids) - 1, 0))] != labels) if len(ids) else \
            np.ones(len(labels), bool)
        if np.any(unknown):
            raise ValueError(f"{file_name}: label {int(labels[np.flatnonzero(unknown)[0]])} is not one of the "
                             f"data's classes ({_short(ids.tolist())}); YOLO needs a class index for it")
        labels = index
        boxes = np.asarray(record["boxes"], dtype=np.float64)
        if data.obb:
            coords = (boxes.reshape(-1, 4, 2) / np.array([width, height])).reshape(-1, 8)
        else:
            coords = np.column_stack(
                [
                    (boxes[:, 0] + boxes[:, 2] / 2.0) / width,
                    (boxes[:, 1] + boxes[:, 3] / 2.0) / height,
                    boxes[:, 2] / width,
                    boxes[:, 3] / height,
                ]
            ) if len(boxes) else np.zeros((0, 4))
        lines = []
        for j, label in enumerate(labels.tolist()):
            fields = [str(int(label))] + [repr(float(v)) for v in coords[j]]
            if with_scores:
                fields.append(repr(float(record["scores"][j])))
            lines.append(" ".join(fields))
        path = out / (Path(file_name).stem + ".txt")
        path.write_text("".join(line + "\n" for line in lines))
        written.append(path)
    return written


def _short(values: list) -> str:
    return ", ".join(str(v) for v in values[:10]) + (", ..." if len(values) > 10 else "")


# ----------------------------------------------------------------------------------------------
# image sizes


def read_sizes_file(path) -> dict:
    """Read a sizes file: ``<file name> <width> <height>`` per line, ``#`` comments.

    Returns ``{file name: (width, height)}`` in file order.  File names may
    contain spaces (the last two fields are the size).

    Examples
    --------
    >>> import tempfile, pathlib
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     p = pathlib.Path(tmp) / "sizes.txt"
    ...     _ = p.write_text("# name width height\\na.jpg 640 480\\n")
    ...     read_sizes_file(p)
    {'a.jpg': (640.0, 480.0)}
    """
    path = Path(fspath(path))
    if not path.is_file():
        raise ValueError(f"sizes file {fspath(path)!r} does not exist")
    table = {}
    for lineno, raw in enumerate(_read_text(path, "sizes file").splitlines(), start=1):
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        parts = line.rsplit(None, 2)
        if len(parts) != 3:
            raise ValueError(f"{path}:{lineno}: expected '<file name> <width> <height>'; got {raw.rstrip()!r}")
        name, w, h = parts
        try:
            size = (float(w), float(h))
        except ValueError:
            raise ValueError(f"{path}:{lineno}: width and height must be numbers; got {raw.rstrip()!r}") from None
        if not all(math.isfinite(v) and v > 0 for v in size):
            raise ValueError(f"{path}:{lineno}: width and height must be finite and > 0; got {raw.rstrip()!r}")
        if name in table:
            raise ValueError(f"{path}:{lineno}: {name!r} is listed twice")
        table[name] = size
    return table


def read_image_size(path) -> tuple:
    """``(width, height)`` of an image from its header, as displayed (EXIF rotation applied).

    Only headers are read, never pixels: PNG files directly (the ``IHDR``
    chunk, and the orientation from an ``eXIf`` chunk found by walking the
    chunk headers), other formats with Pillow (which parses the header and,
    for JPEG / WebP / TIFF, the EXIF block).  Without Pillow, non-PNG images
    raise ``ValueError``.
    """
    path = fspath(path)
    try:
        with open(path, "rb") as handle:
            head = handle.read(24)
            if head[:8] == _PNG_SIGNATURE and head[12:16] == b"IHDR":
                width, height = int.from_bytes(head[16:20], "big"), int.from_bytes(head[20:24], "big")
                orientation = _png_orientation(handle)
                return _oriented(float(width), float(height), orientation)
    except OSError as exc:
        raise ValueError(f"cannot read the size of image {path!r} ({exc.strerror or exc})") from None
    try:
        from PIL import Image
    except ImportError:
        raise ValueError(
            f"cannot read the size of image {path!r} without Pillow: pip install 'detmetrics[cli]' or pass a sizes file"
        ) from None
    try:
        with Image.open(path) as image:
            width, height = image.size
            try:
                orientation = image.getexif().get(0x0112) if image.format != "PNG" else None
            except Exception:
                orientation = None
    except OSError as exc:
        raise ValueError(f"cannot read the size of image {path!r} ({exc})") from None
    return _oriented(float(width), float(height), orientation)


_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def _oriented(width: float, height: float, orientation) -> tuple:
    if orientation in (5, 6, 7, 8):  # rotated by 90 degrees on display, as ultralytics' exif_size
        return height, width
    return width, height


def _png_orientation(handle):
    """EXIF orientation of a PNG from its ``eXIf`` chunk, reading chunk headers only (None when absent).

    The chunks before the image data are walked; the image data itself (often
    hundreds of ``IDAT`` chunks) is skipped by looking for an ``eXIf`` chunk,
    checked by its CRC, in the file's tail, where the chunks after the image
    data are (Pillow reads an ``eXIf`` there too once it has decoded the image).
    """
    import zlib

    handle.seek(8)
    while True:
        header = handle.read(8)
        if len(header) < 8:
            return None
        length, kind = int.from_bytes(header[:4], "big"), header[4:]
        if kind == b"eXIf":
            return _exif_orientation(handle.read(length))
        if kind in (b"IDAT", b"IEND"):
            break
        handle.seek(length + 4, 1)  # the data and its CRC
    if kind == b"IEND":
        return None
    size = handle.seek(0, 2)
    handle.seek(max(0, size - _PNG_TAIL))
    tail = handle.read()
    at = tail.rfind(b"eXIf")
    while at >= 4:
        length = int.from_bytes(tail[at - 4:at], "big")
        end = at + 4 + length
        if end + 4 <= len(tail) and zlib.crc32(tail[at:end]) == int.from_bytes(tail[end:end + 4], "big"):
            return _exif_orientation(tail[at + 4:end])
        at = tail.rfind(b"eXIf", 0, at)
    return None


_PNG_TAIL = 1 << 16


def _exif_orientation(data: bytes):
    """Tag 0x0112 of IFD0 of a TIFF-structured EXIF block (None when absent or malformed)."""
    if data[:6] == b"Exif\x00\x00":
        data = data[6:]
    if len(data) < 8 or data[:2] not in (b"II", b"MM"):
        return None
    order: Literal["little", "big"] = "little" if data[:2] == b"II" else "big"
    offset = int.from_bytes(data[4:8], order)
    if offset + 2 > len(data):
        return None
    count = int.from_bytes(data[offset:offset + 2], order)
    for i in range(count):
        entry = data[offset + 2 + 12 * i: offset + 14 + 12 * i]
        if len(entry) < 12:
            return None
        if int.from_bytes(entry[:2], order) == 0x0112:
            return int.from_bytes(entry[8:10], order)
    return None


def _size_table(sizes) -> dict:
    if isinstance(sizes, dict):
        table = {}
        for name, size in sizes.items():
            try:
                width, height = (float(v) for v in size)
            except (TypeError, ValueError):
                raise ValueError(f"sizes[{name!r}] must be (width, height); got {size!r}") from None
            if not (math.isfinite(width) and math.isfinite(height) and width > 0 and height > 0):
                raise ValueError(f"sizes[{name!r}] must be finite and > 0; got {size!r}")
            table[str(name)] = (width, height)
        return table
    return read_sizes_file(sizes)


def _image_size(path: str, size_table) -> tuple:
    if size_table is None:
        return read_image_size(path)
    name = Path(path).name
    size = size_table.get(name, size_table.get(Path(path).stem))
    if size is None:
        raise ValueError(f"the sizes file has no entry for image {name!r}")
    return size


# ----------------------------------------------------------------------------------------------
# layout resolution


def _load_yaml(path: Path) -> dict:
    try:
        import yaml
    except ImportError:
        raise ValueError(f"reading {path} needs pyyaml: pip install 'detmetrics[cli]'") from None
    text = _read_text(path, "yaml file")
    try:
        config = yaml.load(text, Loader=_bounded_loader(yaml))  # a SafeLoader subclass
    except yaml.YAMLError as exc:
        raise ValueError(f"{path} is not valid YAML ({exc})".replace("\n", " ")) from None
    except _TooManyAliases:
        raise ValueError(f"{path} uses more than {MAX_YAML_ALIASES} YAML aliases; a dataset yaml needs none "
                         "(refused: alias expansion can blow up)") from None
    if not isinstance(config, dict):
        raise ValueError(f"{path} must hold a mapping with 'path', 'val' and 'names'; got {type(config).__name__}")
    return config


class _TooManyAliases(Exception):
    pass


def _bounded_loader(yaml):
    """yaml's SafeLoader counting alias nodes: a 1 KB "billion laughs" file must not expand to gigabytes."""

    class BoundedLoader(yaml.SafeLoader):
        def compose_node(self, parent, index):
            if self.check_event(yaml.AliasEvent):
                self._aliases = getattr(self, "_aliases", 0) + 1
                if self._aliases > MAX_YAML_ALIASES:
                    raise _TooManyAliases
            return super().compose_node(parent, index)

    return BoundedLoader


def _parse_names(names, where: str) -> dict:
    values = names if isinstance(names, list) else list(names.values()) if isinstance(names, dict) else []
    bad = next((v for v in values if not isinstance(v, (str, int, float)) or isinstance(v, bool)), None)
    if bad is not None:
        raise ValueError(f"{where}: class names must be strings; got {type(bad).__name__} {str(bad)[:60]!r}")
    if isinstance(names, list):
        return {i: str(n) for i, n in enumerate(names)}
    if isinstance(names, dict):
        try:
            table = {int(k): str(v) for k, v in names.items()}
        except (TypeError, ValueError):
            raise ValueError(f"{where}: 'names' keys must be class indices; got {list(names)[:5]!r}") from None
        if sorted(table) != list(range(len(table))):
            raise ValueError(f"{where}: 'names' keys must be 0..{len(table) - 1}; got {sorted(table)[:10]!r}")
        return dict(sorted(table.items()))
    raise ValueError(f"{where}: 'names' must be a list or a mapping of class index to name; got {names!r}")


def _resolve_layout(path, split: str) -> dict:
    p = Path(fspath(path))
    if not p.exists():
        raise ValueError(f"ground truth {fspath(path)!r} does not exist")
    if p.is_file():
        if p.suffix.lower() in (".yaml", ".yml"):
            return _layout_from_yaml(p, split)
        raise ValueError(f"ground truth {fspath(path)!r} is neither a folder, a data.yaml nor a COCO .json file")
    yamls = sorted(q for q in p.iterdir() if q.suffix.lower() in (".yaml", ".yml") and q.is_file())
    preferred = [q for q in yamls if q.stem == "data"]
    if preferred or len(yamls) == 1:
        return _layout_from_yaml((preferred or yamls)[0], split)
    if len(yamls) > 1:
        raise ValueError(f"{p} holds several yaml files ({', '.join(q.name for q in yamls)}); pass the data yaml itself")
    labels = p / "labels"
    if not labels.is_dir():
        raise ValueError(f"{p} is not a YOLO dataset: it has no data.yaml and no labels/ folder")
    if (labels / split).is_dir():
        image_dir, label_dir = p / "images" / split, labels / split
    else:
        image_dir, label_dir = p / "images", labels
    names = None
    classes = p / "classes.txt"
    if classes.is_file():
        text = _read_text(classes, "class list")
        names = {i: line.strip() for i, line in enumerate(text.splitlines()) if line.strip()}
    return {"sources": [image_dir], "label_dir": label_dir, "names": names, "orphan_check": True}


def _layout_from_yaml(path: Path, split: str) -> dict:
    config = _load_yaml(path)
    if "names" not in config:
        raise ValueError(f"{path} has no 'names' entry")
    names = _parse_names(config["names"], str(path))
    root_entry = config.get("path") or "."
    if not isinstance(root_entry, str):
        raise ValueError(f"{path}: 'path' must be a folder name (a string); got {root_entry!r}")
    root = Path(root_entry)
    if not root.is_absolute():
        root = (path.parent / root).resolve()
    entry = config.get(split)
    if not entry:
        raise ValueError(f"{path} has no {split!r} split")
    entries = entry if isinstance(entry, list) else [entry]
    if not all(isinstance(e, str) and e for e in entries):
        raise ValueError(f"{path}: {split!r} must be a folder or image-list name, or a list of them; got {entry!r}")
    sources = [root / str(e) for e in entries]
    single_dir = len(sources) == 1 and sources[0].suffix.lower() != ".txt"
    label_dir = Path(_label_path(str(sources[0] / "x.jpg"))).parent if single_dir else None
    kpt_shape = config.get("kpt_shape")
    if kpt_shape is not None:
        ok = isinstance(kpt_shape, (list, tuple)) and len(kpt_shape) == 2 and all(
            isinstance(v, int) and not isinstance(v, bool) for v in kpt_shape)
        if not ok or kpt_shape[0] < 1 or kpt_shape[1] not in (2, 3):
            raise ValueError(f"{path}: 'kpt_shape' must be [K, 2] or [K, 3] with K >= 1; got {kpt_shape!r}")
        kpt_shape = (int(kpt_shape[0]), int(kpt_shape[1]))
    return {"sources": sources, "label_dir": label_dir, "names": names, "orphan_check": single_dir,
            "kpt_shape": kpt_shape}


def _list_images(layout: dict, size_table) -> list:
    images = []
    for source in layout["sources"]:
        if source.suffix.lower() == ".txt":
            if not source.is_file():
                raise ValueError(f"image list {source} does not exist")
            for line in _read_text(source, "image list").splitlines():
                line = line.strip()
                if not line:
                    continue
                image = Path(line)
                if line.startswith("./"):
                    image = source.parent / line[2:]
                elif not image.is_absolute():
                    image = source.parent / image
                images.append(os.path.normpath(image))
        elif source.is_dir():
            images.extend(_walk_images(str(source)))
        elif size_table is not None:
            # no images on disk: the sizes file lists them
            images.extend(str(source / name) for name in size_table)
        else:
            raise ValueError(f"image folder {source} does not exist (pass a sizes file to evaluate without images)")
    if not images:
        where = ", ".join(str(s) for s in layout["sources"])
        raise ValueError(f"no images found in {where}")
    return sorted(images)


def _yolo_ground_truth(records, image_paths, names, widths_heights, names_inferred, box_format, **extra):
    """The ``DetectionData`` of a YOLO dataset's labels (one record per image, in ``image_paths`` order)."""
    return DetectionData(
        records=records,
        image_ids=[ultralytics_image_id(_stem(p)) for p in image_paths],
        file_names=[os.path.basename(p) for p in image_paths],
        class_names=dict(names),
        image_sizes=widths_heights,
        box_format=box_format,
        kind="ground_truth",
        source="yolo",
        names_inferred=names_inferred,
        **extra,
    )


def _walk_images(folder: str) -> list:
    """Image files under ``folder``, recursively, as plain strings (no Path objects: 5,000 of them cost)."""
    found = []
    for root, _, names in os.walk(folder):
        for name in names:
            if os.path.splitext(name)[1].lower() in IMAGE_SUFFIXES:
                path = os.path.join(root, name)
                if os.path.isfile(path):
                    found.append(path)
    return found


def _stem(path: str) -> str:
    return os.path.splitext(os.path.basename(path))[0]


def _label_file(path: str) -> bool:
    """True when there is a label file to read, False when there is none (ultralytics: no objects).

    A path that exists but is not a readable regular file (a directory, a
    dangling symbolic link, a link loop) is an error, not "no objects".
    """
    if os.path.isfile(path):
        return True
    if not os.path.lexists(path):
        return False
    if os.path.islink(path):
        raise ValueError(f"label file {path} is a broken symbolic link (or a link loop)")
    raise ValueError(f"label path {path} is not a regular file")


def prediction_files(folder: Path) -> list:
    """The ``*.txt`` files of a prediction folder, sorted; an entry that is not a readable file is an error."""
    files = []
    with os.scandir(folder) as entries:
        names = sorted(e.name for e in entries if e.name.endswith(".txt"))
    for name in names:
        path = os.path.join(folder, name)
        if not os.path.isfile(path):
            broken = os.path.islink(path) and not os.path.exists(path)
            raise ValueError(f"prediction file {path} is {'a broken symbolic link (or a link loop)' if broken else 'not a file'}")
        files.append(Path(path))
    return files


def _read_text(path, what: str) -> str:
    try:
        with open(path, encoding="utf-8") as handle:
            return handle.read()
    except UnicodeDecodeError as exc:
        raise ValueError(f"{what} {fspath(path)} is not UTF-8 text (byte {exc.object[exc.start]:#04x} at offset "
                         f"{exc.start})") from None
    except OSError as exc:
        raise ValueError(f"cannot read {what} {fspath(path)} ({exc.strerror or exc})") from None


def _label_path(image_path: str) -> str:
    """ultralytics' img2label_paths: the last ``/images/`` becomes ``/labels/``, the suffix ``.txt``."""
    sa, sb = f"{os.sep}images{os.sep}", f"{os.sep}labels{os.sep}"
    return sb.join(image_path.rsplit(sa, 1)).rsplit(".", 1)[0] + ".txt"


def _check_unique_stems(image_paths: list) -> None:
    seen: dict = {}
    for path in image_paths:
        stem = _stem(path)
        if stem in seen:
            raise ValueError(f"images {seen[stem]} and {path} share the stem {stem!r}; their label files would collide")
        seen[stem] = path


def _check_orphan_labels(layout: dict, image_paths: list) -> None:
    label_dir = layout["label_dir"]
    if label_dir is None or not label_dir.is_dir():
        return
    stems = {_stem(p) for p in image_paths}
    with os.scandir(label_dir) as entries:
        orphans = sorted(e.name for e in entries if e.name.endswith(".txt") and e.name[:-4] not in stems)
    if orphans:
        label, stem = label_dir / orphans[0], orphans[0][:-4]
        raise ValueError(f"label file {label} has no image (no {stem}.* in the images folder or sizes file)")


# ----------------------------------------------------------------------------------------------
# parsing


def _read_rows(path, text=None):
    """The numeric fields of every non-empty line of a txt file, and ``(line number, text)`` of each."""
    rows, lines = [], []
    if text is None:
        text = _read_text(path, "label file")
    for lineno, raw in enumerate(text.splitlines(), start=1):
        text = raw.strip()
        if not text:
            continue
        try:
            rows.append([float(v) for v in text.split()])
        except ValueError:
            raise ValueError(f"{path}:{lineno}: fields must be numbers; got {text!r}") from None
        lines.append((lineno, text))
    return rows, lines


def _read_txt(path, *, kind: str, obb):
    """Parse one txt file: (labels int64, coords (n, 4 | 8), conf (n,) or None, line numbers)."""
    rows, lines = _read_rows(path)
    return _as_table(path, rows, lines, kind=kind, obb=obb)


def _as_table(path, rows, lines, *, kind: str, obb):
    """Rows of one width -> (labels int64, coords, conf (n,) or None, line numbers)."""
    widths = {len(r) for r in rows}
    if len(widths) > 1:
        first = len(rows[0])
        bad = next(i for i, r in enumerate(rows) if len(r) != first)
        _fail(path, lines[bad], f"has {len(rows[bad])} fields but line {lines[0][0]} has {first}")
    if not rows:
        return np.zeros(0, np.int64), np.zeros((0, 8 if obb else 4)), np.zeros(0), lines
    table = np.array(rows, dtype=np.float64)
    n_fields = table.shape[1]
    cls = table[:, 0]
    bad_class = np.flatnonzero(~np.isfinite(cls) | (cls != np.round(cls)) | (cls < 0) | (cls >= MAX_CLASS_ID))
    if bad_class.size:
        _fail(path, lines[bad_class[0]], "the class id must be an integer in [0, 2**53)")
    labels = cls.astype(np.int64)
    if kind == "predictions":
        return labels, table[:, 1 : n_fields - 1], table[:, n_fields - 1].copy(), lines
    return labels, table[:, 1:], None, lines


TASKS = ("detect", "obb", "segment", "pose")


# ----------------------------------------------------------------------------------------------
# the common case in one pass: detect files, well formed


def _batch_table(texts: list, width: int):
    """Every file's rows of ``width`` numbers parsed at once: ``(table (n, width), rows per file)`` or None.

    None when any file is not simply ``width`` numbers per non-empty line (a
    different width, a malformed number): the per-file parser then reads them
    and names the file and line of the problem.  Files that are None (absent)
    have 0 rows.
    """
    tokens: list = []
    counts = np.zeros(len(texts), dtype=np.int64)
    for i, text in enumerate(texts):
        if not text:
            continue
        parts = text.split()
        if not parts:
            continue
        if len(parts) % width:
            return None
        n = len(parts) // width
        if sum(1 for line in text.splitlines() if line.strip()) != n:
            return None  # lines of other widths that happen to add up
        counts[i] = n
        tokens += parts
    try:
        table = np.array(tokens, dtype=np.float64).reshape(-1, width)
    except ValueError:
        return None
    return table, counts


def _classes_ok(cls: np.ndarray, n_names: int | None) -> bool:
    ok = np.isfinite(cls) & (cls == np.round(cls)) & (cls >= 0) & (cls < MAX_CLASS_ID)
    if n_names is not None:
        ok &= cls < n_names
    return bool(ok.all())


def _read_detect_dataset(layout, image_paths, texts, size_table, progress):
    """``read_yolo_dataset`` for detect labels in whole-array passes; None sends it to the per-file path."""
    batch = _batch_table(texts, 5)
    if batch is None:
        return None
    table, counts = batch
    names = layout["names"]
    cls, coords = table[:, 0], table[:, 1:]
    if not _classes_ok(cls, None if names is None else len(names)):
        return None
    if not bool(np.all(np.isfinite(coords) & (coords >= 0) & (coords <= 1))):
        return None
    labels = cls.astype(np.int64)
    names_inferred = names is None
    if names_inferred:
        names = {i: str(i) for i in range(int(labels.max()) + 1 if labels.size else 0)}
    widths_heights = np.array(
        [_image_size(p, size_table) for p in progress_iter(image_paths, desc="reading image sizes", progress=progress)],
        dtype=np.float64,
    ).reshape(-1, 2)
    boxes = _cxcywh_to_pixels(coords, *np.repeat(widths_heights, counts, axis=0).T)
    area = boxes[:, 2] * boxes[:, 3]
    bounds = np.concatenate(([0], np.cumsum(counts)))
    records = []
    for i, text in enumerate(texts):
        if text is None:
            records.append(empty_record("ground_truth", False))
            continue
        a, b = bounds[i], bounds[i + 1]
        records.append({"boxes": boxes[a:b], "labels": labels[a:b], "iscrowd": np.zeros(b - a, np.uint8),
                        "area": area[a:b]})
    return _yolo_ground_truth(records, image_paths, names, widths_heights, names_inferred, "xywh")


def _read_detect_predictions(files, ground_truth, stems, names, progress):
    """``read_yolo_predictions`` for detect files in whole-array passes; None sends it to the per-file path."""
    indices = [stems.get(f.stem) for f in files]
    if any(i is None for i in indices):
        return None  # the per-file path names the file without an image
    texts = [_read_text(f, "prediction file") for f in progress_iter(files, desc="reading predictions",
                                                                      progress=progress)]
    batch = _batch_table(texts, 6)
    if batch is None:
        return None
    table, counts = batch
    cls, coords, conf = table[:, 0], table[:, 1:5], table[:, 5]
    if not _classes_ok(cls, None):
        return None
    labels = cls.astype(np.int64)
    if ground_truth.names_inferred and labels.size and labels.max() >= len(names):
        names.update({i: str(i) for i in range(len(names), int(labels.max()) + 1)})
    if labels.size and labels.max() >= len(names):
        return None
    if not (bool(np.all(np.isfinite(coords))) and bool(np.all((conf >= 0) & (conf <= 1)))
            and bool(np.all(coords[:, 2:] >= 0))):
        return None
    if ground_truth.source != "yolo":  # class index -> the COCO file's category id
        labels = np.array(sorted(names), dtype=np.int64)[labels]
    rows_image = np.repeat(np.asarray(indices, dtype=np.int64), counts)
    scale = ground_truth.image_sizes[rows_image] if rows_image.size else np.zeros((0, 2))
    boxes = _cxcywh_to_pixels(coords, scale[:, 0], scale[:, 1])
    records = [empty_record("predictions", False) for _ in ground_truth.records]
    bounds = np.concatenate(([0], np.cumsum(counts)))
    for k, index in enumerate(indices):
        a, b = bounds[k], bounds[k + 1]
        records[index] = {"boxes": boxes[a:b], "scores": conf[a:b].copy(), "labels": labels[a:b]}
    return records


def _decide_task(raw: list, task, obb, kpt_shape) -> str:
    """The dataset's label layout (see ``read_yolo_dataset``'s ``task``)."""
    if task is not None:
        if task not in TASKS:
            raise ValueError(f"task must be one of {', '.join(repr(t) for t in TASKS)}; got {task!r}")
        if obb is not None and bool(obb) != (task == "obb"):
            raise ValueError(f"obb={obb!r} contradicts task={task!r}")
        if task == "pose" and kpt_shape is None:
            raise ValueError("task='pose' needs 'kpt_shape' in data.yaml (the number of keypoints)")
        return task
    if obb:
        return "obb"
    if kpt_shape is not None:
        return "pose"
    widths = {len(row) for item in raw if item is not None for row in item[0]}
    if not widths or widths == {5}:
        return "detect"
    if widths == {9} and obb is None:
        return "obb"
    if max(widths) > 6:
        return "segment"
    return "detect"  # the field check names the malformed line


def _read_instances_dataset(layout, image_paths, label_paths, raw, task, size_table, progress) -> DetectionData:
    """``read_yolo_dataset`` for segment (polygon) and pose (box + keypoints) labels."""
    names = layout["names"]
    names_inferred = names is None
    if names_inferred:
        top = max((int(row[0]) for item in raw if item is not None for row in item[0]), default=-1)
        names = {i: str(i) for i in range(top + 1)}
    widths_heights = np.array(
        [_image_size(p, size_table) for p in progress_iter(image_paths, desc="reading image sizes", progress=progress)],
        dtype=np.float64,
    ).reshape(-1, 2)
    kpt_shape = layout.get("kpt_shape")
    records = []
    for i, (label_path, item) in enumerate(zip(label_paths, raw)):
        width, height = widths_heights[i]
        rows, lines = item if item is not None else ([], [])
        records.append(_instance_record(label_path, rows, lines, task, width, height, kpt_shape, names,
                                        kind="ground_truth"))
    if task == "segment":
        _set_mask_areas(records)
    return _yolo_ground_truth(records, image_paths, names, widths_heights, names_inferred, "xywh", task=task,
                              kpt_shape=kpt_shape)


def _set_mask_areas(records: list) -> None:
    """A segment ground truth's ``area`` is its mask's (pixels of the rasterised polygon), as COCO's.

    COCO's annotation ``area`` is the segment area, and pycocotools uses it for the area ranges
    of box evaluation too: a YOLO-seg folder scored as detection then sees the same ranges as
    its COCO JSON (``write_coco_gt``).
    """
    from .._inputs import _mask_backend
    from ..masks import _area_flat, _segmentations_flat

    backend = _mask_backend("auto", records)
    polygons = [p for r in records for p in r["masks"]]
    if not polygons:
        return
    heights = [r["image_size"][0] for r in records for _ in r["masks"]]
    widths = [r["image_size"][1] for r in records for _ in r["masks"]]
    counts, offsets, _ = _segmentations_flat(polygons, heights, widths, backend, "masks")
    areas = _area_flat(counts, offsets, backend).astype(np.float64)
    start = 0
    for r in records:
        n = len(r["masks"])
        r["area"] = areas[start:start + n]
        start += n


def _pixel_size(width: float, height: float, path) -> tuple:
    h, w = int(round(height)), int(round(width))
    if h < 1 or w < 1 or h != height or w != width:
        raise ValueError(f"{path}: masks need an integer image size; got {width} x {height}")
    return h, w


def _instance_record(path, rows, lines, task, width, height, kpt_shape, names, *, kind: str) -> dict:
    """One image's segment / pose lines (labels or predictions) -> a record with boxes and masks / keypoints."""
    pred = kind == "predictions"
    n = len(rows)
    labels = np.zeros(n, dtype=np.int64)
    scores = np.zeros(n)
    boxes = np.zeros((n, 4))
    polygons: list = []
    k = kpt_shape[0] if kpt_shape is not None else 0
    keypoints = np.zeros((n, k, 3))
    for j, (row, line) in enumerate(zip(rows, lines)):
        values = np.asarray(row, dtype=np.float64)
        cls = values[0]
        if not (math.isfinite(cls) and cls == round(cls) and 0 <= cls < MAX_CLASS_ID):
            _fail(path, line, "the class id must be an integer in [0, 2**53)")
        labels[j] = int(cls)
        if pred:
            scores[j] = values[-1]
            values = values[:-1]
            if not (math.isfinite(scores[j]) and 0 <= scores[j] <= 1):
                _fail(path, line, f"confidence must be in [0, 1]; got {scores[j]!r}")
        coords = values[1:]
        if not np.all(np.isfinite(coords)):
            _fail(path, line, "coordinates must be finite")
        if task == "segment":
            if coords.shape[0] % 2 or coords.shape[0] < 6:
                layout = "class x1 y1 x2 y2 x3 y3 ..." + (" conf" if pred else "")
                _fail(path, line, f"a segment line is '{layout}' (at least 3 points, x and y each)")
            if not pred and np.any((coords < 0) | (coords > 1)):
                _fail(path, line, "coordinates must be normalized to [0, 1]")
            xy = coords.reshape(-1, 2) * np.array([width, height])
            x0, y0 = xy.min(axis=0)
            x1, y1 = xy.max(axis=0)
            boxes[j] = (x0, y0, x1 - x0, y1 - y0)
            polygons.append([xy.ravel().tolist()])
        else:
            dims = (kpt_shape[1], 3, 2) if pred else (kpt_shape[1],)
            found = [d for d in dims if coords.shape[0] == 4 + k * d]
            if not found:
                layout = f"class cx cy w h + {k} x (px py{' v' if kpt_shape[1] == 3 else ''})" + (" conf" if pred else "")
                _fail(path, line, f"a pose line is '{layout}' ({5 + k * kpt_shape[1] + pred} fields, kpt_shape "
                                  f"{list(kpt_shape)})")
            box = coords[:4]
            if not pred and np.any((box < 0) | (box > 1)):
                _fail(path, line, "coordinates must be normalized to [0, 1]")
            if box[2] < 0 or box[3] < 0:
                _fail(path, line, "width and height must be >= 0")
            boxes[j] = _cxcywh_to_pixels(box[None], width, height)[0]
            dim = int(found[0])
            kp = coords[4:].reshape(k, dim)
            keypoints[j, :, 0] = kp[:, 0] * width
            keypoints[j, :, 1] = kp[:, 1] * height
            if dim == 3:
                keypoints[j, :, 2] = kp[:, 2]
            else:  # ultralytics: a keypoint is labelled unless a coordinate is negative
                keypoints[j, :, 2] = np.where((kp[:, 0] < 0) | (kp[:, 1] < 0), 0.0, 1.0)
    _check_classes(path, lines, labels, names)
    record: dict = {"boxes": boxes, "labels": labels}
    if pred:
        record["scores"] = scores
    else:
        record["iscrowd"] = np.zeros(n, np.uint8)
        record["area"] = boxes[:, 2] * boxes[:, 3]
    if task == "segment":
        record["masks"] = polygons
        record["image_size"] = _pixel_size(width, height, path)
    else:
        record["keypoints"] = keypoints
    return record


def _check_fields(path, lines, coords, *, kind: str, obb: bool) -> None:
    if not lines:
        return
    expected = 8 if obb else 4
    got = coords.shape[1]
    if got == expected:
        return
    layout = "class x1 y1 x2 y2 x3 y3 x4 y4" if obb else "class cx cy w h"
    if kind == "predictions":
        if got == expected - 1:
            _fail(path, lines[0], f"a prediction line needs a trailing confidence ('{layout} conf')")
        _fail(path, lines[0], f"expected '{layout} conf' ({expected + 2} fields)")
    if got == expected + 1:
        _fail(path, lines[0], f"a label line has no confidence; expected '{layout}' ({expected + 1} fields)")
    hint = " (polygon lines: read the dataset with task='segment')" if got > 9 else ""
    _fail(path, lines[0], f"expected '{layout}' ({expected + 1} fields){hint}")


def _check_classes(path, lines, labels, names: dict) -> None:
    bad = np.flatnonzero((labels < 0) | (labels >= len(names)))
    if bad.size:
        _fail(path, lines[bad[0]], f"class id {int(labels[bad[0]])} is outside names (0..{len(names) - 1})")


def _check_normalized(path, lines, coords) -> None:
    bad = np.flatnonzero(~np.all(np.isfinite(coords) & (coords >= 0) & (coords <= 1), axis=1))
    if bad.size:
        _fail(path, lines[bad[0]], "coordinates must be normalized to [0, 1]")


def _check_finite(path, lines, coords, conf) -> None:
    bad = np.flatnonzero(~(np.all(np.isfinite(coords), axis=1) & np.isfinite(conf)))
    if bad.size:
        _fail(path, lines[bad[0]], "coordinates and confidence must be finite")


def _check_convex(path, lines, quads) -> None:
    for i in range(quads.shape[0]):
        if not is_convex(quads[i]):
            _fail(path, lines[i], "the 4 corners do not form a convex quadrilateral")


def _fail(path, line, problem: str):
    lineno, text = line
    raise ValueError(f"{path}:{lineno}: {problem}; got {text!r}")


def _cxcywh_to_pixels(coords: np.ndarray, width, height) -> np.ndarray:
    """Normalized ``cx cy w h`` -> pixel COCO ``x y w h`` (``width``/``height`` one image's or one per row)."""
    if coords.shape[0] == 0:
        return np.zeros((0, 4))
    out = np.empty((coords.shape[0], 4))
    out[:, 0] = (coords[:, 0] - coords[:, 2] / 2.0) * width
    out[:, 1] = (coords[:, 1] - coords[:, 3] / 2.0) * height
    out[:, 2] = coords[:, 2] * width
    out[:, 3] = coords[:, 3] * height
    return out


def _quads_to_pixels(coords: np.ndarray, width: float, height: float) -> np.ndarray:
    return np.ascontiguousarray(coords.reshape(-1, 4, 2) * np.array([width, height]))
