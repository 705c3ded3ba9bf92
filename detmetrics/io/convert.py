"""Convert ground-truth datasets between COCO JSON, YOLO (detect and OBB), DOTA txt and PASCAL VOC XML.

``convert(src, dst, to=...)`` reads ``src`` with ``load_ground_truth`` (any
format it reads: COCO, YOLO, VOC, DOTA, CVAT, LabelMe) and writes it as
``to``.  It is lossless where the target can hold the data, and says what it
cannot hold: every loss is in the returned report's ``notes`` and in one
``UserWarning``.

Classes: a YOLO class index is the position of the class in the source's
sorted labels (COCO: sorted category ids), and the names are written to
``data.yaml``; a COCO category id is a YOLO index + 1, except for COCO's own
80 classes (YOLO names equal to ultralytics' ``coco.yaml``), which get COCO's
91-id numbering; VOC and DOTA files hold the class names themselves.

What each target cannot hold:

* COCO: ``difficult`` flags (the objects are written as ordinary ones, or
  left out with ``difficult="drop"``); oriented boxes become their enclosing
  ``bbox`` (the polygon is kept as ``segmentation``, the polygon area as
  ``area``).
* YOLO: crowd regions (left out, as ultralytics' COCO converter does),
  ``difficult`` flags, COCO ``area`` values other than the box area; YOLO
  detect also loses orientation (enclosing box).  Image sizes are kept in
  ``sizes.txt`` next to ``data.yaml`` (pass it as ``sizes=`` / ``--sizes``
  when the images are not copied into ``images/<split>``).
* DOTA: crowd regions (left out), image sizes (kept in ``sizes.txt``), COCO
  ``area`` values; whitespace in class names becomes ``-``.
* VOC: crowd regions (left out), orientation (enclosing box), COCO
  ``area`` values.

Masks and keypoints (YOLO-seg / pose, COCO instance files) are not
converted: their boxes are, with a note.
"""

from __future__ import annotations

import dataclasses
import warnings
from pathlib import Path

import numpy as np

from ._common import DetectionData, fspath
from ._named import check_unique_stems

__all__ = ["convert", "convert_predictions", "ConversionReport", "TARGETS", "COCO80_NAMES"]

#: the ``to=`` values
TARGETS = ("coco", "yolo", "yolo-obb", "dota", "voc")

#: ultralytics' coco.yaml names: YOLO data with exactly these 80 classes gets COCO's 91 category ids
COCO80_NAMES = (
    "person", "bicycle", "car", "motorcycle", "airplane", "bus", "train", "truck", "boat", "traffic light",
    "fire hydrant", "stop sign", "parking meter", "bench", "bird", "cat", "dog", "horse", "sheep", "cow",
    "elephant", "bear", "zebra", "giraffe", "backpack", "umbrella", "handbag", "tie", "suitcase", "frisbee",
    "skis", "snowboard", "sports ball", "kite", "baseball bat", "baseball glove", "skateboard", "surfboard",
    "tennis racket", "bottle", "wine glass", "cup", "fork", "knife", "spoon", "bowl", "banana", "apple",
    "sandwich", "orange", "broccoli", "carrot", "hot dog", "pizza", "donut", "cake", "chair", "couch",
    "potted plant", "bed", "dining table", "toilet", "tv", "laptop", "mouse", "remote", "keyboard", "cell phone",
    "microwave", "oven", "toaster", "sink", "refrigerator", "book", "clock", "vase", "scissors", "teddy bear",
    "hair drier", "toothbrush",
)

DIFFICULT_MODES = ("keep", "drop")


@dataclasses.dataclass
class ConversionReport:
    """What ``convert`` did.

    Attributes
    ----------
    source_format, target : str
        The format read and the format written.
    n_images, n_objects : int
        Images written and objects written (after crowd regions or dropped
        difficult objects are left out).
    written : list of Path
        Every file written.
    notes : list of str
        What the target could not hold, and how it was written instead.
    """

    source_format: str
    target: str
    n_images: int
    n_objects: int
    written: list
    notes: list


def convert(src, dst, *, to: str, format: str = "auto", split: str | None = None, sizes=None, classes=None,
            difficult: str = "keep", overwrite: bool = False) -> ConversionReport:
    """Convert a ground-truth dataset to another format.

    Parameters
    ----------
    src : str or Path
        Anything ``load_ground_truth`` reads.
    dst : str or Path
        ``to="coco"``: the ``.json`` file to write.  Otherwise a folder:
        YOLO writes ``data.yaml``, ``labels/<split>/*.txt`` and ``sizes.txt``;
        DOTA ``labelTxt/*.txt`` (and ``sizes.txt`` when the sizes are known);
        VOC ``Annotations/*.xml``.  Images are not copied.
    to : {"coco", "yolo", "yolo-obb", "dota", "voc"}
    format, split, sizes, classes
        How to read ``src`` (see ``load_ground_truth``); ``split`` is also
        the split folder YOLO writes (default ``"val"``).
    difficult : {"keep", "drop"}, default="keep"
        For targets without a ``difficult`` flag (COCO, YOLO): write difficult
        objects as ordinary objects, or leave them out (as ultralytics' VOC
        script does).  Either way a note says how many there were.
    overwrite : bool, default=False
        Write into a target that already holds files (files of the same name
        are replaced, others are left).  By default that is an error.

    Returns
    -------
    ConversionReport

    Raises
    ------
    ValueError
        Unreadable source, unknown ``to``, a YOLO target without image sizes,
        a non-empty target without ``overwrite=True``.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> from detmetrics.io import convert, read_voc, sample_path
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     report = convert(sample_path("coco-gt"), pathlib.Path(tmp) / "voc", to="voc")
    ...     back = read_voc(pathlib.Path(tmp) / "voc")
    >>> report.n_images, report.n_objects, back.n_objects
    (12, 41, 41)
    """
    from . import load_ground_truth

    if to not in TARGETS:
        raise ValueError(f"to must be one of {', '.join(TARGETS)}; got {to!r}")
    if difficult not in DIFFICULT_MODES:
        raise ValueError(f"difficult must be 'keep' or 'drop'; got {difficult!r}")
    if not isinstance(overwrite, bool):
        raise TypeError(f"overwrite must be True or False; got {overwrite!r}")
    out = Path(fspath(dst))
    data = load_ground_truth(src, format=format, split=split, sizes=sizes, classes=classes)
    source_format = data.source
    notes: list[str] = []
    keeps_difficult = to in ("dota", "voc")
    keeps_crowd = to == "coco"
    data = _filter(data, drop_crowd=not keeps_crowd, drop_difficult=difficult == "drop" and not keeps_difficult,
                   notes=notes, target=to)
    if not keeps_difficult and difficult == "keep":
        n = _count(data, "difficult")
        if n:
            notes.append(f"{n} difficult objects written as ordinary objects ({to} has no difficult flag; "
                         "difficult='drop' leaves them out)")
    if to != "coco" and source_format == "coco":
        n = _area_changes(data)
        if n:
            notes.append(f"{n} objects have a COCO 'area' other than their box area; {to} keeps only the box")
    if data.task in ("segment", "pose"):
        what = "masks" if data.task == "segment" else "keypoints"
        notes.append(f"{what} not written: convert writes boxes only (the boxes are written)")
    if data.obb and to in ("yolo", "voc"):
        notes.append(f"oriented boxes written as their enclosing axis-aligned boxes ({to} has no orientation)")
    if data.obb and to == "coco":
        notes.append("oriented boxes written as their enclosing 'bbox' (polygon in 'segmentation', polygon area "
                     "in 'area'); the COCO reader scores the bbox")
    lost = [key for key in sorted(data.extras) if not (key == "truncated" and to == "voc")
            and any(np.count_nonzero(v) for v in data.extras[key])]
    if lost:
        notes.append(f"per-object {', '.join(lost)} flags not written ({to} has no such field)")

    if to == "coco":
        written = _write_coco(data, out, overwrite, notes)
    elif to in ("yolo", "yolo-obb"):
        written = _write_yolo(data, out, obb=to == "yolo-obb", split=split or "val", overwrite=overwrite, notes=notes)
    elif to == "dota":
        written = _write_dota(data, out, overwrite, notes)
    else:
        from .voc import write_voc

        _check_target(out / "Annotations", overwrite)
        written = write_voc(data, out)
    if notes:
        warnings.warn(f"convert {source_format} -> {to}: " + "; ".join(notes), UserWarning, stacklevel=2)
    return ConversionReport(source_format=source_format, target=to, n_images=len(data), n_objects=data.n_objects,
                            written=written, notes=notes)


# ----------------------------------------------------------------------------------------------
# helpers


def _count(data: DetectionData, key: str) -> int:
    return int(sum(int(np.count_nonzero(r[key])) for r in data.records if key in r))


def _area_changes(data: DetectionData) -> int:
    n = 0
    for r in data.records:
        if "area" in r and len(r["labels"]) and not data.obb:
            boxes = np.asarray(r["boxes"], dtype=np.float64).reshape(-1, 4)
            n += int(np.count_nonzero(~np.isclose(np.asarray(r["area"]), boxes[:, 2] * boxes[:, 3], rtol=1e-9)))
    return n


def _filter(data: DetectionData, *, drop_crowd: bool, drop_difficult: bool, notes: list, target: str) -> DetectionData:
    """``data`` without crowd regions and/or difficult objects (a note for each kind left out)."""
    n_crowd = _count(data, "iscrowd") if drop_crowd else 0
    n_difficult = _count(data, "difficult") if drop_difficult else 0
    if not n_crowd and not n_difficult:
        return data
    records: list[dict] = []
    extras: dict[str, list] = {key: [] for key in data.extras}
    for k, record in enumerate(data.records):
        n = len(record["labels"])
        keep = np.ones(n, dtype=bool)
        if drop_crowd and "iscrowd" in record:
            keep &= np.asarray(record["iscrowd"]) == 0
        if drop_difficult and "difficult" in record:
            keep &= np.asarray(record["difficult"]) == 0
        records.append({key: np.asarray(value)[keep] for key, value in record.items()})
        for key in extras:
            extras[key].append(np.asarray(data.extras[key][k])[keep])
    if n_crowd:
        notes.append(f"{n_crowd} crowd regions left out ({target} has no crowd flag)")
    if n_difficult:
        notes.append(f"{n_difficult} difficult objects left out (difficult='drop')")
    return dataclasses.replace(data, records=records, extras=extras)


def _check_target(path: Path, overwrite: bool) -> None:
    if overwrite or not path.exists():
        return
    if path.is_file() or any(path.iterdir()):
        raise ValueError(f"{path} already exists and is not empty; pass overwrite=True (CLI --overwrite) to write "
                         "into it")


def _labels_as(data: DetectionData, mapping: dict, source: str) -> DetectionData:
    """A copy with every label replaced by ``mapping[label]`` and class names re-keyed."""
    records = []
    for record in data.records:
        labels = np.asarray(record["labels"], dtype=np.int64)
        new = dict(record)
        new["labels"] = np.array([mapping[int(v)] for v in labels], dtype=np.int64)
        records.append(new)
    names = {mapping[label]: name for label, name in data.class_names.items()}
    return dataclasses.replace(data, records=records, class_names=dict(sorted(names.items())), source=source)


def _write_sizes(data: DetectionData, path: Path) -> Path:
    lines = ["# file name  width  height\n"]
    assert data.image_sizes is not None
    for name, (width, height) in zip(data.file_names, data.image_sizes.tolist()):
        lines.append(f"{name} {_num(width)} {_num(height)}\n")
    path.write_text("".join(lines), encoding="utf-8")
    return path


def _num(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else repr(float(value))


# ----------------------------------------------------------------------------------------------
# targets


def _write_coco(data: DetectionData, out: Path, overwrite: bool, notes: list) -> list:
    from .coco import write_coco_gt

    if out.suffix.lower() != ".json":
        raise ValueError(f"to='coco' writes one .json file; got {out}")
    _check_target(out, overwrite)
    data = _coco_ids(data, notes)
    out.parent.mkdir(parents=True, exist_ok=True)
    write_coco_gt(data, out)
    return [out]


def _coco_ids(data: DetectionData, notes: list) -> DetectionData:
    """YOLO data with COCO's 80 classes relabelled with COCO's 91 ids (source ``"coco"``); else ``data``."""
    from .coco import COCO80_TO_COCO91

    if data.source == "yolo" and tuple(data.class_names[i] for i in sorted(data.class_names)) == COCO80_NAMES:
        notes.append("the classes are COCO's 80: written with COCO's 91-id category ids")
        return _labels_as(data, {i: cid for i, cid in zip(sorted(data.class_names), COCO80_TO_COCO91)}, "coco")
    return data


def _write_yolo(data: DetectionData, out: Path, *, obb: bool, split: str, overwrite: bool, notes: list) -> list:
    from .yolo import write_yolo_labels

    if data.image_sizes is None:
        raise ValueError("YOLO labels are normalized by the image size and the source has none: pass sizes= "
                         "(CLI --sizes) with a sizes file ('<file name> <width> <height>' lines)")
    check_unique_stems(data, "YOLO label")
    label_dir = out / "labels" / split
    _check_target(label_dir, overwrite)
    index = {label: i for i, label in enumerate(sorted(data.class_names))}
    data = _labels_as(data, index, "yolo")
    data = dataclasses.replace(data, records=[_yolo_record(r, data.obb, obb) for r in data.records],
                               box_format="quad" if obb else "xywh", task="obb" if obb else "detect")
    written = write_yolo_labels(data, label_dir)  # and <out>/data.yaml naming the classes
    return list(written) + [out / "data.yaml", _write_sizes(data, out / "sizes.txt")]


def _yolo_record(record: dict, source_obb: bool, target_obb: bool) -> dict:
    """A record with only the keys YOLO holds, boxes in the target's kind."""
    boxes = np.asarray(record["boxes"], dtype=np.float64)
    if source_obb and not target_obb:
        quads = boxes.reshape(-1, 4, 2)
        lo, hi = quads.min(axis=1), quads.max(axis=1)
        boxes = np.column_stack([lo, hi - lo]) if len(quads) else np.zeros((0, 4))
    elif target_obb and not source_obb:
        from ._named import _as_quad

        boxes = np.array([_as_quad(b) for b in boxes.reshape(-1, 4)]).reshape(-1, 4, 2)
    return {"boxes": boxes, "labels": np.asarray(record["labels"], dtype=np.int64)}


def _write_dota(data: DetectionData, out: Path, overwrite: bool, notes: list) -> list:
    from .dota import write_dota

    _check_target(out / "labelTxt", overwrite)
    renamed = {label: "-".join(name.split()) or "-" for label, name in data.class_names.items()}
    if renamed != data.class_names:
        changed = [f"{data.class_names[k]!r} -> {v!r}" for k, v in renamed.items() if v != data.class_names[k]]
        notes.append(f"class names with whitespace renamed: {', '.join(changed[:5])}" + (", ..." if len(changed) > 5 else ""))
        data = dataclasses.replace(data, class_names=renamed)
    written = write_dota(data, out)
    if data.image_sizes is not None:
        written.append(_write_sizes(data, out / "sizes.txt"))
    return written


# ----------------------------------------------------------------------------------------------
# predictions


def convert_predictions(src, dst, *, ground_truth, to: str, format: str = "auto", split: str | None = None,
                        sizes=None, classes=None, category_ids: str = "auto", overwrite: bool = False
                        ) -> ConversionReport:
    """Convert predictions (read against their ground truth) to another format.

    Parameters
    ----------
    src : str or Path
        Anything ``load_predictions`` reads: a COCO results ``.json``, a
        folder of YOLO txt files, DOTA / VOC per-class result files.
    dst : str or Path
        ``to="coco"``: the results ``.json`` to write; otherwise a folder.
    ground_truth : str, Path or DetectionData
        The ground truth the predictions belong to (read with
        ``load_ground_truth`` and ``format``, ``split``, ``sizes``,
        ``classes``): it gives the images, their sizes and the classes.
    to : {"coco", "yolo", "yolo-obb", "dota", "voc"}
        ``"coco"``: a results list whose ``image_id`` and ``category_id`` are
        those ``convert(ground_truth, ..., to="coco")`` writes, so the two
        files make a pair pycocotools scores (oriented boxes add ``"poly"``);
        ``"yolo"``: ``<image stem>.txt`` files with a trailing confidence, in
        the boxes' own kind (``"yolo-obb"`` writes axis-aligned boxes as 4
        corners); ``"dota"``: ``Task1_<class>.txt`` (4 corners);
        ``"voc"``: ``comp4_det_test_<class>.txt`` (``xmin ymin xmax ymax``;
        oriented boxes become their enclosing box).
    category_ids : str, default="auto"
        How a COCO results file's ``category_id`` maps onto the classes (see
        ``read_coco_results``).
    overwrite : bool, default=False
        Write into a target that already holds files.

    Returns
    -------
    ConversionReport
        ``n_objects`` counts the detections written.
    """
    from . import DetectionData as _Data
    from . import load_ground_truth, load_predictions

    if to not in TARGETS:
        raise ValueError(f"to must be one of {', '.join(TARGETS)}; got {to!r}")
    if not isinstance(overwrite, bool):
        raise TypeError(f"overwrite must be True or False; got {overwrite!r}")
    gt = ground_truth if isinstance(ground_truth, _Data) else load_ground_truth(
        ground_truth, format=format, split=split, sizes=sizes, classes=classes)
    pred = load_predictions(src, gt, category_ids=category_ids)
    pred = dataclasses.replace(pred, source=gt.source)  # every reader returns labels in the ground truth's ids
    out = Path(fspath(dst))
    notes: list[str] = []
    if to == "coco":
        from .coco import write_coco_results

        if out.suffix.lower() != ".json":
            raise ValueError(f"to='coco' writes one .json file; got {out}")
        _check_target(out, overwrite)
        out.parent.mkdir(parents=True, exist_ok=True)
        write_coco_results(_coco_ids(pred, notes), out)
        written = [out]
    elif to in ("yolo", "yolo-obb"):
        from .yolo import write_yolo_predictions

        if pred.image_sizes is None:
            raise ValueError("YOLO predictions are normalized by the image size and the ground truth has none: "
                             "pass sizes= (CLI --sizes)")
        check_unique_stems(pred, "YOLO prediction")
        _check_target(out, overwrite)
        obb = pred.obb or to == "yolo-obb"
        data = dataclasses.replace(pred, records=[{**_yolo_record(r, pred.obb, obb), "scores": r["scores"]}
                                                  for r in pred.records], box_format="quad" if obb else "xywh",
                                   task="obb" if obb else "detect")
        written = write_yolo_predictions(data, out)
    elif to == "dota":
        from .dota import write_dota_results

        _check_target(out, overwrite)
        renamed = {label: "-".join(name.split()) or "-" for label, name in pred.class_names.items()}
        if renamed != pred.class_names:
            notes.append("class names with whitespace renamed (file names and DOTA fields cannot hold it)")
            pred = dataclasses.replace(pred, class_names=renamed)
        written = write_dota_results(pred, out)
    else:
        from .voc import write_voc_results

        _check_target(out, overwrite)
        if pred.obb:
            notes.append("oriented boxes written as their enclosing axis-aligned boxes (VOC results have no "
                         "orientation)")
        written = write_voc_results(pred, out)
    if notes:
        warnings.warn(f"convert predictions -> {to}: " + "; ".join(notes), UserWarning, stacklevel=2)
    return ConversionReport(source_format=_prediction_format(Path(fspath(src))), target=to, n_images=len(pred),
                            n_objects=pred.n_objects, written=written, notes=notes)


def _prediction_format(path: Path) -> str:
    from .dota import is_result_folder, result_files

    if path.suffix.lower() == ".json":
        return "coco"
    if is_result_folder(path):
        return "dota" if str(result_files(path)[0][0].name).startswith("Task") else "voc"
    return "yolo"
