"""DOTA v1.0 / v1.5 / v2.0 txt: ground-truth label files and task-1 (oriented) result files.

Ground truth, one ``<image stem>.txt`` per image (the dataset's ``labelTxt/``)::

    imagesource:GoogleEarth
    gsd:0.146343590398
    2753 2408 2861 2385 2888 2468 2805 2502 plane 0
    x1 y1 x2 y2 x3 y3 x4 y4 class difficult

The optional ``imagesource:`` / ``gsd:`` header lines are skipped (their
values are not used); every other non-empty line is 4 corners in pixels, the
class name and the ``difficult`` flag (0 or 1; a line without it, as the
devkit allows, is not difficult).  Corners must form a convex quadrilateral
(any order around it); the area used for COCO's area ranges is the polygon
area.  ``difficult`` goes to the records' ``"difficult"`` key.

Results, one file per class as the DOTA evaluation server takes them:
``Task1_<class>.txt`` with lines ``image_id score x1 y1 x2 y2 x3 y3 x4 y4``.
Files with 4 coordinates (``image_id score xmin ymin xmax ymax``) are read
too: DOTA's ``Task2_<class>.txt`` and PASCAL VOC's ``comp4_det_test_<class>.txt``.

Image sizes are not in DOTA files: they are read from the image headers
when an ``images/`` folder sits next to ``labelTxt/``, or from ``sizes=``.
Without an ``images/`` folder an image's file name is ``<stem>.png`` (DOTA's
images are PNG files).
Every malformed line raises ``ValueError`` naming the file and the line.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from ._common import IMAGE_SUFFIXES, DetectionData, empty_record, fspath, is_convex
from ._named import (
    DOTA_V1_CLASSES,
    DOTA_V2_CLASSES,
    DOTA_V15_CLASSES,
    Image,
    assemble,
    check_unique_stems,
    class_file,
    resolve_classes,
)

__all__ = ["read_dota", "read_dota_results", "write_dota", "write_dota_results"]

_HEADER = re.compile(r"^'?(imagesource|gsd)'?\s*:", re.IGNORECASE)
_RESULT_FILE = re.compile(r"^(?:Task[12]_(?P<dota>.+)|comp\d+_det_[^_]+_(?P<voc>.+))$")


def read_dota(path, *, classes=None, sizes=None) -> DetectionData:
    """Read DOTA ground-truth label files.

    Parameters
    ----------
    path : str or Path
        One label ``.txt`` file, a folder of them, or a folder holding
        ``labelTxt/`` (and optionally ``images/``).
    classes : list of str or dict of int to str, optional
        The class list (labels are 1-based positions in it).  Default: a
        ``classes.txt`` (one name per line, as ``write_dota`` writes it) next
        to ``labelTxt/`` or in the folder, else the smallest of DOTA v1.0 /
        v1.5 / v2.0's lists (ultralytics' order) holding every name found,
        else the names found, sorted.
    sizes : str, Path or dict, optional
        Image sizes (a sizes file or ``{file name or stem: (width, height)}``);
        by default read from ``images/`` next to ``labelTxt/`` when it
        exists, else unknown (``image_sizes`` is None).

    Returns
    -------
    DetectionData
        ``source="dota"``, ``box_format="quad"``: ``(N, 4, 2)`` corners in
        pixels, ``"difficult"`` flags in the records, in file-name order.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> from detmetrics.io import read_dota
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     _ = (pathlib.Path(tmp) / "P0003.txt").write_text(
    ...         "imagesource:GoogleEarth\\ngsd:0.14\\n10 10 50 10 50 30 10 30 small-vehicle 1\\n")
    ...     gt = read_dota(tmp)
    >>> gt.records[0]["boxes"].shape, gt.records[0]["difficult"].tolist(), gt.class_names[11]
    ((1, 4, 2), [1], 'small-vehicle')
    """
    files, image_dir = dota_files(path)
    images = [read_dota_file(f) for f in files]
    names = ((name, place) for im in images for name, place in zip(im.names, im.places))
    if classes is None:
        folder = files[0].parent
        classes = class_file([folder / "classes.txt", folder.parent / "classes.txt"] if folder.name == "labelTxt"
                             else [folder / "classes.txt"])
    class_names = resolve_classes(names, classes, (DOTA_V1_CLASSES, DOTA_V15_CLASSES, DOTA_V2_CLASSES))
    size_table = None
    if sizes is not None:
        from .yolo import _size_table

        size_table = _size_table(sizes)
    elif image_dir is not None:
        size_table = _sizes_from_images(images, image_dir)
    return assemble(images, class_names, obb=True, source="dota", sizes=size_table)


def dota_files(path):
    """(label files, images folder or None) of ``path`` (see ``read_dota``)."""
    p = Path(fspath(path))
    if not p.exists():
        raise ValueError(f"ground truth {fspath(path)!r} does not exist")
    if p.is_file():
        return [p], None
    folder = p / "labelTxt" if (p / "labelTxt").is_dir() else p
    files = sorted(q for q in folder.glob("*.txt") if q.is_file() and q.name != "classes.txt")
    if not files:
        raise ValueError(f"no .txt label files in {folder}")
    image_dir = folder.parent / "images"
    return files, image_dir if image_dir.is_dir() else None


def _sizes_from_images(images: list, image_dir: Path) -> dict:
    from .yolo import read_image_size

    by_stem: dict = {}
    for q in image_dir.iterdir():
        if q.suffix.lower() in IMAGE_SUFFIXES:
            by_stem.setdefault(q.stem, q)
    table = {}
    for im in images:
        stem = Path(im.file_name).stem
        image = by_stem.get(stem)
        if image is None:
            raise ValueError(f"{im.where}: no image {stem}.* in {image_dir} (pass sizes= to give the size)")
        im.file_name = image.name
        table[image.name] = read_image_size(str(image))
    return table


def read_dota_file(path: Path) -> Image:
    """One label file as an ``Image`` (file name: the stem + ``.png``)."""
    from .yolo import _read_text

    image = Image(file_name=path.stem + ".png", where=str(path))
    rows, texts = [], []
    for lineno, raw in enumerate(_read_text(path, "label file").splitlines(), start=1):
        text = raw.strip()
        if not text or _HEADER.match(text):
            continue
        where = f"{path}:{lineno}"
        fields = text.split()
        if len(fields) not in (9, 10):
            raise ValueError(f"{where}: expected 'x1 y1 x2 y2 x3 y3 x4 y4 class difficult' (10 fields); "
                             f"got {len(fields)} fields in {text!r}")
        try:
            rows.append([float(v) for v in fields[:8]])
        except ValueError:
            raise ValueError(f"{where}: coordinates must be numbers; got {text!r}") from None
        difficult = fields[9] if len(fields) == 10 else "0"
        if difficult not in ("0", "1"):
            raise ValueError(f"{where}: difficult must be 0 or 1; got {difficult!r} in {text!r}")
        image.names.append(fields[8])
        image.places.append(where)
        image.difficult.append(int(difficult))
        texts.append(text)
    quads = np.array(rows, dtype=np.float64).reshape(-1, 4, 2)
    bad = np.flatnonzero(~np.all(np.isfinite(quads), axis=(1, 2)))
    if bad.size:
        raise ValueError(f"{image.places[bad[0]]}: coordinates must be finite; got {texts[bad[0]]!r}")
    bad = np.flatnonzero(~convex(quads))
    if bad.size:
        raise ValueError(f"{image.places[bad[0]]}: the 4 corners do not form a convex quadrilateral; "
                         f"got {texts[bad[0]]!r}")
    image.boxes = quads  # type: ignore[assignment]  # an (N, 4, 2) array: assemble takes it as is
    return image


def convex(quads: np.ndarray) -> np.ndarray:
    """``is_convex`` of each ``(4, 2)`` quad of ``(N, 4, 2)``, vectorized: the corners turn one way."""
    a = quads
    b = np.roll(quads, -1, axis=1)
    c = np.roll(quads, -2, axis=1)
    cross = (b[..., 0] - a[..., 0]) * (c[..., 1] - b[..., 1]) - (b[..., 1] - a[..., 1]) * (c[..., 0] - b[..., 0])
    return ~((cross > 0).any(axis=1) & (cross < 0).any(axis=1))


def _coords(fields, where: str, text: str) -> np.ndarray:
    try:
        values = np.array([float(v) for v in fields], dtype=np.float64)
    except ValueError:
        raise ValueError(f"{where}: coordinates must be numbers; got {text!r}") from None
    if not np.all(np.isfinite(values)):
        raise ValueError(f"{where}: coordinates must be finite; got {text!r}")
    return values


# ----------------------------------------------------------------------------------------------
# results


def read_dota_results(path, ground_truth: DetectionData) -> DetectionData:
    """Read per-class result files (``Task1_<class>.txt`` ...) aligned with ``ground_truth``.

    Parameters
    ----------
    path : str or Path
        A folder of result files (every ``.txt`` in it must be one: named
        ``Task1_<class>.txt``, ``Task2_<class>.txt`` or
        ``comp<N>_det_<set>_<class>.txt``) or one such file.
    ground_truth : DetectionData
        Gives the images (``image_id`` is the image's file stem), the classes
        (by name) and the box kind: against oriented ground truth 4-coordinate
        lines become axis-aligned quads; against axis-aligned ground truth
        only 4-coordinate lines are valid.

    Returns
    -------
    DetectionData
        ``kind="predictions"``, one record per ground-truth image; inside an
        image, detections keep the order of the files (sorted by name) and
        their lines.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> from detmetrics.io import read_dota, read_dota_results
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     root = pathlib.Path(tmp)
    ...     _ = (root / "P0001.txt").write_text("10 10 50 10 50 30 10 30 plane 0\\n")
    ...     (root / "res").mkdir()
    ...     _ = (root / "res" / "Task1_plane.txt").write_text("P0001 0.9 11 10 50 10 50 30 11 30\\n")
    ...     gt = read_dota(root / "P0001.txt")
    ...     pred = read_dota_results(root / "res", gt)
    >>> pred.records[0]["scores"].tolist(), pred.records[0]["boxes"].shape
    ([0.9], (1, 4, 2))
    """
    if not isinstance(ground_truth, DetectionData):
        raise TypeError(f"ground_truth must be a DetectionData; got {type(ground_truth).__name__}")
    files = result_files(path)
    label_of = {name: label for label, name in ground_truth.class_names.items()}
    stems: dict[str, int] = {}
    for i, name in enumerate(ground_truth.file_names):
        stems.setdefault(Path(name).stem if Path(name).suffix.lower() in IMAGE_SUFFIXES else name, i)
    for i, image_id in enumerate(ground_truth.image_ids):
        stems.setdefault(str(image_id), i)
    obb = ground_truth.obb
    per_image: list[list] = [[] for _ in ground_truth.records]
    from .yolo import _read_text

    for file, cls in files:
        label = label_of.get(cls)
        if label is None:
            raise ValueError(f"{file}: class {cls!r} (from the file name) is not a ground-truth class "
                             f"({', '.join(sorted(label_of))[:200]})")
        for lineno, raw in enumerate(_read_text(file, "result file").splitlines(), start=1):
            text = raw.strip()
            if not text:
                continue
            where = f"{file}:{lineno}"
            fields = text.split()
            if len(fields) not in (6, 10) or (len(fields) == 10 and not obb):
                layout = "image_id score x1 y1 x2 y2 x3 y3 x4 y4" if obb else "image_id score xmin ymin xmax ymax"
                hint = "" if obb or len(fields) != 10 else " (oriented results need oriented ground truth)"
                raise ValueError(f"{where}: expected '{layout}'; got {len(fields)} fields in {text!r}{hint}")
            index = stems.get(fields[0])
            if index is None and Path(fields[0]).suffix.lower() in IMAGE_SUFFIXES:
                index = stems.get(Path(fields[0]).stem)  # an image file name instead of its stem
            if index is None:
                raise ValueError(f"{where}: image {fields[0]!r} is not an image of the ground truth")
            values = _coords(fields[1:], where, text)
            score, coords = values[0], values[1:]
            if len(coords) == 4:
                x1, y1, x2, y2 = coords
                if x2 < x1 or y2 < y1:
                    raise ValueError(f"{where}: xmax < xmin or ymax < ymin; got {text!r}")
                box = np.array([[x1, y1], [x2, y1], [x2, y2], [x1, y2]]) if obb else np.array([x1, y1, x2 - x1, y2 - y1])
            else:
                box = coords.reshape(4, 2)
                if not is_convex(box):
                    raise ValueError(f"{where}: the 4 corners do not form a convex quadrilateral; got {text!r}")
            per_image[index].append((box, score, label))
    records = []
    for dets in per_image:
        if not dets:
            records.append(empty_record("predictions", obb))
            continue
        records.append({
            "boxes": np.array([d[0] for d in dets], dtype=np.float64).reshape((-1, 4, 2) if obb else (-1, 4)),
            "scores": np.array([d[1] for d in dets], dtype=np.float64),
            "labels": np.array([d[2] for d in dets], dtype=np.int64),
        })
    return ground_truth.aligned_predictions(records)


def result_class(file: Path) -> str | None:
    """The class named by a result file's name, or None when it is not a result file name."""
    match = _RESULT_FILE.match(file.stem)
    return None if match is None else (match.group("dota") or match.group("voc"))


def result_files(path) -> list:
    """``[(file, class name)]`` of a result folder or file, sorted by file name."""
    p = Path(fspath(path))
    if not p.exists():
        raise ValueError(f"predictions {fspath(path)!r} do not exist")
    candidates = [p] if p.is_file() else sorted(q for q in p.glob("*.txt"))
    files = []
    for q in candidates:
        cls = result_class(q)
        if cls is None:
            raise ValueError(f"{q} is not a per-class result file (expected Task1_<class>.txt, Task2_<class>.txt "
                             "or comp4_det_test_<class>.txt)")
        if not q.is_file():
            raise ValueError(f"result file {q} is not a regular file")
        files.append((q, cls))
    if not files:
        raise ValueError(f"no result files in {p}")
    return files


def is_result_folder(path: Path) -> bool:
    """True when ``path`` is a result file or a folder whose ``.txt`` files are per-class result files."""
    if path.is_file():
        return path.suffix.lower() == ".txt" and result_class(path) is not None
    if not path.is_dir():
        return False
    txt = list(path.glob("*.txt"))
    return bool(txt) and any(result_class(q) is not None for q in txt)


# ----------------------------------------------------------------------------------------------
# writers


def write_dota(data: DetectionData, folder) -> list:
    """Write ground truths as DOTA label files, ``<folder>/labelTxt/<image stem>.txt``.

    Lines are ``x1 y1 x2 y2 x3 y3 x4 y4 class difficult`` (Python's
    shortest round-trip float text; whole numbers without ``.0``);
    axis-aligned boxes become their 4 corners (clockwise on screen from the
    top-left); ``difficult`` comes from the records (0 when absent).  No
    header lines are written.  Class names must not contain whitespace (the
    format separates fields by spaces).  The class list goes to
    ``<folder>/classes.txt`` (one name per line), which ``read_dota`` reads
    back so that the labels keep their order.  Returns the paths written.
    """
    if data.kind != "ground_truth":
        raise ValueError(f"write_dota needs ground truths; got data of kind {data.kind!r}")
    check_unique_stems(data, "DOTA label")
    _check_names(data.class_names)
    root = Path(fspath(folder))
    out = root / "labelTxt"
    out.mkdir(parents=True, exist_ok=True)
    classes = root / "classes.txt"
    classes.write_text("".join(f"{data.class_names[k]}\n" for k in sorted(data.class_names)), encoding="utf-8")
    written = [classes]
    for k, (record, file_name) in enumerate(zip(data.records, data.file_names)):
        quads = _quads(record["boxes"], data.obb)
        labels = np.asarray(record["labels"]).tolist()
        difficult = np.asarray(record.get("difficult", np.zeros(len(labels)))).tolist()
        lines = []
        for j, label in enumerate(labels):
            coords = " ".join(_num(v) for v in quads[j].reshape(8))
            lines.append(f"{coords} {data.class_names.get(int(label), str(label))} {int(difficult[j])}\n")
        path = out / (Path(file_name or str(data.image_ids[k])).stem + ".txt")
        path.write_text("".join(lines), encoding="utf-8")
        written.append(path)
    return written


def write_dota_results(data: DetectionData, folder) -> list:
    """Write predictions as DOTA task-1 result files, ``<folder>/Task1_<class>.txt``.

    Lines are ``image_id score x1 y1 ... x4 y4`` with the image's file stem
    as ``image_id``; one file per class that has detections.  Returns the
    paths written.
    """
    if data.kind != "predictions":
        raise ValueError(f"write_dota_results needs predictions; got data of kind {data.kind!r}")
    _check_names(data.class_names)
    out = Path(fspath(folder))
    out.mkdir(parents=True, exist_ok=True)
    lines: dict[int, list] = {}
    for k, (record, file_name) in enumerate(zip(data.records, data.file_names)):
        stem = Path(file_name or str(data.image_ids[k])).stem
        quads = _quads(record["boxes"], data.obb)
        scores = np.asarray(record["scores"], dtype=np.float64).tolist()
        for j, label in enumerate(np.asarray(record["labels"]).tolist()):
            coords = " ".join(_num(v) for v in quads[j].reshape(8))
            lines.setdefault(int(label), []).append(f"{stem} {scores[j]!r} {coords}\n")
    written = []
    for label in sorted(lines):
        path = out / f"Task1_{data.class_names.get(label, str(label))}.txt"
        path.write_text("".join(lines[label]), encoding="utf-8")
        written.append(path)
    return written


def _check_names(class_names: dict) -> None:
    for name in class_names.values():
        if not name or any(c.isspace() for c in name):
            raise ValueError(f"class name {name!r} cannot be written to DOTA files (fields are separated by "
                             "whitespace); rename the class (convert(..., space='-') does it)")


def _quads(boxes, obb: bool) -> np.ndarray:
    boxes = np.asarray(boxes, dtype=np.float64)
    if obb:
        return boxes.reshape(-1, 4, 2)
    boxes = boxes.reshape(-1, 4)
    x, y, w, h = boxes.T
    return np.stack([np.column_stack([x, y]), np.column_stack([x + w, y]), np.column_stack([x + w, y + h]),
                     np.column_stack([x, y + h])], axis=1)


def _num(value) -> str:
    value = float(value)
    return str(int(value)) if value.is_integer() and abs(value) < 2**53 else repr(value)
