"""Read and write detection files: COCO JSON, YOLO txt folders (detect and OBB),
PASCAL VOC XML, DOTA txt, CVAT for images XML and LabelMe JSON.

The readers return a ``DetectionData``: the per-image dicts that
``detmetrics.mean_ap`` takes, plus image ids, file names, class names and
image sizes.  ``load_ground_truth`` and ``load_predictions`` detect
the format from the path and the files' contents (``detect_format`` says
which); ``detmetrics.io.convert`` writes any of them as another.  The readers know nothing of the evaluator: ``detmetrics.evaluate_files``
reads a pair with them and runs ``mean_ap`` (``detmetrics.io.evaluate_files``
is kept as an alias of it).

>>> from detmetrics.io import load_ground_truth, load_predictions, sample_path
>>> gt = load_ground_truth(sample_path("yolo"))
>>> pred = load_predictions(sample_path("yolo") / "predictions", gt)
>>> len(gt), gt.n_objects, pred.n_objects
(12, 41, 43)
"""

from __future__ import annotations

from pathlib import Path

from ._common import DetectionData, fspath
from .coco import CATEGORY_ID_MODES, read_coco_gt, read_coco_results, write_coco_gt, write_coco_results
from .convert import convert, convert_predictions
from .cvat import read_cvat
from .dota import read_dota, read_dota_results, write_dota, write_dota_results
from .labelme import read_labelme
from .voc import read_voc, write_voc, write_voc_results
from .yolo import (
    read_image_size,
    read_sizes_file,
    read_yolo_dataset,
    read_yolo_predictions,
    write_data_yaml,
    write_yolo_labels,
    write_yolo_predictions,
)

__all__ = [
    "DetectionData",
    "CATEGORY_ID_MODES",
    "read_coco_gt",
    "read_coco_results",
    "write_coco_gt",
    "write_coco_results",
    "read_yolo_dataset",
    "read_yolo_predictions",
    "write_yolo_labels",
    "write_yolo_predictions",
    "write_data_yaml",
    "read_sizes_file",
    "read_image_size",
    "read_voc",
    "write_voc",
    "write_voc_results",
    "read_dota",
    "read_dota_results",
    "write_dota",
    "write_dota_results",
    "read_cvat",
    "read_labelme",
    "FORMATS",
    "detect_format",
    "convert",
    "convert_predictions",
    "load_ground_truth",
    "load_predictions",
    "evaluate_files",
    "sample_path",
]


def sample_path(name: str = "yolo") -> Path:
    """Path of a bundled sample: ``"yolo"`` (dataset folder with ``predictions/``),
    ``"yolo-obb"`` (the same for oriented boxes), ``"coco-gt"`` / ``"coco-results"``
    (the COCO JSON pair of the ``"yolo"`` sample), ``"coco-gt-crowd"`` (``"coco-gt"``
    with three crowd regions added, for ``detmetrics explain-gap``).

    >>> sample_path("yolo").name
    'yolo'
    """
    root = Path(__file__).resolve().parent.parent / "data"
    paths = {
        "yolo": root / "yolo",
        "yolo-obb": root / "yolo-obb",
        "coco-gt": root / "coco" / "instances_val.json",
        "coco-gt-crowd": root / "coco" / "instances_val_crowd.json",
        "coco-results": root / "coco" / "results.json",
    }
    if not isinstance(name, str) or name not in paths:
        raise ValueError(f"name must be one of {', '.join(repr(k) for k in paths)}; got {name!r}")
    return paths[name]


#: the ground-truth formats ``load_ground_truth`` reads (``format=`` values besides ``"auto"``)
FORMATS = ("coco", "yolo", "voc", "dota", "cvat", "labelme")


def load_ground_truth(path, *, format: str = "auto", split: str | None = None, sizes=None, obb=None,
                      classes=None, progress=None, task=None) -> DetectionData:
    """Read ground truth from any supported format, detected from the path and its contents.

    Parameters
    ----------
    path : str or Path
        A COCO ``.json``; a YOLO dataset (folder or ``data.yaml``); PASCAL
        VOC XML (a file, a folder of them or a folder holding
        ``Annotations/``); DOTA label txt (a file, a folder of them or a
        folder holding ``labelTxt/``); a CVAT for images ``.xml``; LabelMe
        ``.json`` (a file or a folder of them).
    format : {"auto", "coco", "yolo", "voc", "dota", "cvat", "labelme"}, default="auto"
        ``"auto"`` uses ``detect_format``; name the format when detection
        calls the path ambiguous.
    split : str, optional
        YOLO: the yaml entry or sub-folder (default ``"val"``); VOC: the
        ``ImageSets/Main/<split>.txt`` list (default: every annotation).
    sizes : str, Path or dict, optional
        Image sizes (YOLO, VOC, DOTA): see ``read_yolo_dataset``.
    obb, progress, task
        YOLO options of ``read_yolo_dataset`` (the other formats hold boxes:
        ``task`` must then be None, ``"detect"`` or ``"obb"``).
    classes : list of str or dict, optional
        The class list of the formats that name classes (VOC, DOTA, CVAT,
        LabelMe): see ``read_voc``.
    """
    if format not in ("auto",) + FORMATS:
        raise ValueError(f"format must be 'auto' or one of {', '.join(FORMATS)}; got {format!r}")
    p = Path(fspath(path))
    kind = detect_format(p) if format == "auto" else format
    named = kind in ("voc", "dota", "cvat", "labelme")
    if classes is not None and not named:
        raise ValueError(f"classes= is for formats that name classes (VOC, DOTA, CVAT, LabelMe), not {kind}")
    if task not in (None, "detect", "obb") and kind not in ("coco", "yolo"):
        raise ValueError(f"task={task!r}: {kind} files hold boxes only (task 'detect' or 'obb')")
    if kind == "coco":
        return read_coco_gt(p)
    if kind == "voc":
        return read_voc(p, split=split, classes=classes, sizes=sizes)
    if kind == "dota":
        return read_dota(p, classes=classes, sizes=sizes)
    if kind == "cvat":
        return read_cvat(p, classes=classes)
    if kind == "labelme":
        return read_labelme(p, classes=classes)
    return read_yolo_dataset(p, split="val" if split is None else split, sizes=sizes, obb=obb, progress=progress,
                             task=task)


def detect_format(path) -> str:
    """The ground-truth format of ``path``, from its name and contents (see ``load_ground_truth``).

    A ``.json`` file is LabelMe when its first keys include ``"shapes"``,
    else COCO; a ``.xml`` file is VOC (root ``<annotation>``) or CVAT (root
    ``<annotations>``); a ``.txt`` file is DOTA; a ``.yaml`` is YOLO.  A
    folder is YOLO when it holds a ``.yaml`` or ``labels/``, VOC when it
    holds ``Annotations/``, DOTA when it holds ``labelTxt/``, else it is
    decided by the annotation files in it (``.xml``, ``.json`` or DOTA
    ``.txt``).  A folder matching more than one format is an error asking
    for ``format=`` (CLI ``--format``).
    """
    p = Path(fspath(path))
    if not p.exists():
        raise ValueError(f"ground truth {fspath(path)!r} does not exist")
    if p.is_file():
        suffix = p.suffix.lower()
        if suffix == ".json":
            return "labelme" if _json_kind(p) == "labelme" else "coco"
        if suffix == ".xml":
            return _xml_kind(p)
        if suffix == ".txt":
            return "dota"
        if suffix in (".yaml", ".yml"):
            return "yolo"
        raise ValueError(f"ground truth {p} is neither a .json (COCO, LabelMe), .xml (VOC, CVAT), .txt (DOTA) "
                         "nor a YOLO .yaml / folder")
    found = []
    if (p / "labels").is_dir() or any(q.suffix.lower() in (".yaml", ".yml") for q in p.iterdir() if q.is_file()):
        found.append("yolo")
    if (p / "Annotations").is_dir():
        found.append("voc")
    if (p / "labelTxt").is_dir():
        found.append("dota")
    if not found:
        xml = sorted(p.glob("*.xml"))
        if xml:
            found.append(_xml_kind(xml[0]))
        json_files = sorted(p.glob("*.json"))
        if json_files:
            found.append("labelme" if _json_kind(json_files[0]) == "labelme" else "coco")
        txt = sorted(p.glob("*.txt"))
        if txt and _looks_like_dota(txt):
            found.append("dota")
    if len(found) > 1:
        raise ValueError(f"{p} looks like several ground-truth formats ({', '.join(found)}); "
                         "pass format= (CLI: --format) to choose")
    if found == ["coco"]:
        raise ValueError(f"{p} is a folder of .json files that are not LabelMe files; pass the COCO .json itself")
    return found[0] if found else "yolo"  # the YOLO reader explains what a dataset folder needs


def _json_kind(path: Path) -> str:
    """``"labelme"`` or ``"coco"``: which of their top-level keys comes first in the file."""
    import re

    pattern = re.compile(rb'"(shapes|imagePath|images|annotations|categories)"\s*:')
    try:
        with open(path, "rb") as handle:
            head = handle.read(1 << 16)
            match = pattern.search(head)
            if match is None:  # e.g. a LabelMe file whose imageData (base64) comes first
                match = pattern.search(head + handle.read())
    except OSError as exc:
        raise ValueError(f"cannot read {path} ({exc.strerror or exc})") from None
    return "labelme" if match and match.group(1) in (b"shapes", b"imagePath") else "coco"


def _xml_kind(path: Path) -> str:
    from ._named import xml_root_tag

    tag = xml_root_tag(path)
    if tag == "annotation":
        return "voc"
    if tag == "annotations":
        return "cvat"
    raise ValueError(f"{path}: an XML file with root element <{tag}> is neither PASCAL VOC (<annotation>) "
                     "nor CVAT for images (<annotations>)")


def _looks_like_dota(files) -> bool:
    """True when the first data line of the first non-empty file has a class name in field 9."""
    from .dota import _HEADER

    for file in [f for f in files if f.name not in ("classes.txt", "sizes.txt")][:20]:
        try:
            text = file.read_text(encoding="utf-8", errors="replace")
        except OSError:
            return False
        for line in text.splitlines():
            line = line.strip()
            if not line or _HEADER.match(line):
                continue
            fields = line.split()
            if len(fields) in (9, 10):
                try:
                    float(fields[8])
                except ValueError:
                    return True
            return False
    return False


def load_predictions(path, ground_truth: DetectionData, *, category_ids: str = "auto", progress=None,
                     task=None) -> DetectionData:
    """Read predictions aligned with ``ground_truth``.

    A COCO results ``.json`` (any ground truth), per-class result files
    (DOTA ``Task1_<class>.txt`` / ``Task2_<class>.txt``, VOC
    ``comp4_det_test_<class>.txt``: a folder or one file, see
    ``read_dota_results``) or a folder of YOLO txt files (a ground truth with
    image sizes).  ``task`` as ``read_yolo_predictions`` (for a ``.json``:
    ``"segment"`` / ``"pose"`` read ``segmentation`` / ``keypoints`` too, by
    default when the ground truth is a segment / pose dataset and the first
    result has them).
    """
    from .dota import is_result_folder

    p = Path(fspath(path))
    if p.suffix.lower() == ".json":
        return read_coco_results(p, ground_truth, category_ids=category_ids, task=task)
    if is_result_folder(p):
        return read_dota_results(p, ground_truth)
    if ground_truth.image_sizes is None:
        raise ValueError(
            "YOLO prediction txt files need image sizes; the ground truth has no width/height for its images"
            " (pass sizes=, CLI --sizes)"
        )
    return read_yolo_predictions(p, ground_truth, progress=progress, task=task)


def __getattr__(name):
    # ``detmetrics.io.evaluate_files`` predates ``detmetrics.evaluate_files``; resolved lazily so
    # that importing the readers never imports the evaluator
    if name == "evaluate_files":
        from ..evaluate import evaluate_files

        return evaluate_files
    raise AttributeError(f"module 'detmetrics.io' has no attribute {name!r}")
