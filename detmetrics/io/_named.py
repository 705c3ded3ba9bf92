"""Shared pieces of the readers whose classes are names (PASCAL VOC, DOTA, CVAT, LabelMe).

These formats name each object's class in the file; ``DetectionData`` labels
are integers.  ``resolve_classes`` turns the names into labels ``1..K``, the
position (1-based) of the name in the class list: the ``classes=`` argument
when given, else the format's standard list when every name belongs to it
(PASCAL VOC's 20 classes, DOTA v1.0 / v1.5 / v2.0 in ultralytics' order), else
the names found, sorted.  Labels are thus category ids as in a COCO file: the
COCO writer keeps them and a YOLO class index is ``label - 1``.
"""

from __future__ import annotations

import math
import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ._common import DetectionData, empty_record, polygon_area, ultralytics_image_id

#: PASCAL VOC's 20 classes, in the devkit's (alphabetical) order
VOC_CLASSES = (
    "aeroplane", "bicycle", "bird", "boat", "bottle", "bus", "car", "cat", "chair", "cow", "diningtable", "dog",
    "horse", "motorbike", "person", "pottedplant", "sheep", "sofa", "train", "tvmonitor",
)

#: DOTA v1.0's 15 classes in the order of ultralytics' DOTAv1.yaml (the index of its YOLO-OBB conversion)
DOTA_V1_CLASSES = (
    "plane", "ship", "storage-tank", "baseball-diamond", "tennis-court", "basketball-court", "ground-track-field",
    "harbor", "bridge", "large-vehicle", "small-vehicle", "helicopter", "roundabout", "soccer-ball-field",
    "swimming-pool",
)
#: DOTA v1.5 adds container-crane; v2.0 adds airport and helipad (each list extends the previous one)
DOTA_V15_CLASSES = DOTA_V1_CLASSES + ("container-crane",)
DOTA_V2_CLASSES = DOTA_V15_CLASSES + ("airport", "helipad")

MAX_XML_BYTES = 1 << 30


@dataclass
class Image:
    """One image as a reader collects it, before the class names are turned into labels."""

    file_name: str
    where: str                      # the file (and element) the image came from, for messages
    width: float | None = None
    height: float | None = None
    boxes: list = field(default_factory=list)       # xywh rows or (4, 2) quads
    names: list = field(default_factory=list)       # class name per box
    places: list = field(default_factory=list)      # "file:line" or "file: object[3]" per box
    difficult: list = field(default_factory=list)
    extras: dict = field(default_factory=dict)      # attribute name -> list of ints per box


def resolve_classes(names_seen, classes, known: tuple = (), *, what: str = "the files") -> dict:
    """Class table ``{label: name}`` with labels ``1..K`` (see the module docstring).

    ``names_seen`` is an iterable of ``(name, place)``; a name that is not in
    an explicit ``classes`` list is an error naming its place.
    """
    seen: dict[str, str] = {}
    for name, place in names_seen:
        seen.setdefault(name, place)
    if classes is not None:
        table = _class_list(classes)
        index = {name: label for label, name in table.items()}
        for name, place in seen.items():
            if name not in index:
                raise ValueError(f"{place}: class {name!r} is not in classes ({_preview(table.values())})")
        return table
    for standard in known:
        if set(seen) <= set(standard):
            return {i + 1: name for i, name in enumerate(standard)}
    return {i + 1: name for i, name in enumerate(sorted(seen))}


def class_file(paths, *, labelmap: bool = False):
    """The class list of the first existing file of ``paths``, or None.

    ``labelmap=True``: a ``labelmap.txt`` as CVAT and Datumaro write next to
    VOC annotations (``name:color:parts:actions`` lines, ``#`` comments, the
    ``background`` entry left out); else one class name per line.
    """
    for path in paths:
        if not path.is_file():
            continue
        names = []
        for lineno, raw in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
            line = raw.strip()
            if not line or (labelmap and line.startswith("#")):
                continue
            name = line.split(":", 1)[0].strip() if labelmap else line
            if labelmap and name == "background":
                continue
            if name in names:
                raise ValueError(f"{path}:{lineno}: class {name!r} is listed twice")
            names.append(name)
        if not names:
            raise ValueError(f"{path} lists no classes")
        return names
    return None


def _class_list(classes) -> dict:
    if isinstance(classes, dict):
        table = {}
        for label, name in classes.items():
            if not isinstance(label, (int, np.integer)) or isinstance(label, bool):
                raise TypeError(f"classes keys must be integer labels; got {label!r}")
            if not isinstance(name, str):
                raise TypeError(f"classes[{label}] must be a class name (str); got {type(name).__name__}")
            table[int(label)] = name
        values = list(table.values())
    elif isinstance(classes, (list, tuple)):
        if not all(isinstance(n, str) for n in classes):
            raise TypeError("classes must be a list of class names (str) or a dict {label: name}")
        values = list(classes)
        table = {i + 1: n for i, n in enumerate(values)}
    else:
        raise TypeError(f"classes must be a list of class names or a dict {{label: name}}; got {type(classes).__name__}")
    if len(set(values)) != len(values):
        dup = next(n for n in values if values.count(n) > 1)
        raise ValueError(f"classes names {dup!r} twice")
    if not table:
        raise ValueError("classes is empty")
    return dict(sorted(table.items()))


def _preview(values) -> str:
    values = list(values)
    text = ", ".join(repr(v) for v in values[:8])
    return text + (", ..." if len(values) > 8 else "")


def assemble(images: list, class_names: dict, *, obb: bool, source: str, sizes=None) -> DetectionData:
    """``DetectionData`` of the collected images, in file-name order; ``sizes`` overrides the files' sizes."""
    widths_heights = None
    if sizes is not None:
        by_stem = _stem_index(sizes)
        widths_heights = np.array([_size_from_table(sizes, by_stem, im) for im in images],
                                  dtype=np.float64).reshape(-1, 2)
    elif images and all(im.width and im.height for im in images):
        widths_heights = np.array([[im.width, im.height] for im in images], dtype=np.float64)
    order = sorted(range(len(images)), key=lambda i: images[i].file_name)
    images = [images[i] for i in order]
    if widths_heights is not None:
        widths_heights = widths_heights[order]
    stems: dict[str, str] = {}
    for im in images:
        stem = Path(im.file_name).stem
        if stem in stems:
            raise ValueError(f"{im.where}: image {im.file_name!r} has the stem of {stems[stem]!r}; "
                             "image ids (file stems) must be unique")
        stems[stem] = im.file_name
    label_of = {name: label for label, name in class_names.items()}
    extra_keys = sorted({key for im in images for key in im.extras})
    records = []
    extras: dict[str, list] = {key: [] for key in extra_keys}
    for im in images:
        n = len(im.boxes)
        if n == 0:
            record = empty_record("ground_truth", obb)
            record["difficult"] = np.zeros(0, np.uint8)
        else:
            boxes: np.ndarray
            if obb and isinstance(im.boxes, np.ndarray) and im.boxes.ndim == 3:
                boxes = np.ascontiguousarray(im.boxes, dtype=np.float64)
                area = polygon_area(boxes)
            elif obb:
                boxes = np.array([_as_quad(b) for b in im.boxes], dtype=np.float64).reshape(-1, 4, 2)
                area = polygon_area(boxes)
            else:
                boxes = np.array(im.boxes, dtype=np.float64).reshape(-1, 4)
                area = boxes[:, 2] * boxes[:, 3]
            record = {
                "boxes": boxes,
                "labels": np.array([label_of[name] for name in im.names], dtype=np.int64),
                "iscrowd": np.zeros(n, np.uint8),
                "area": area,
                "difficult": np.array(im.difficult, dtype=np.uint8),
            }
        records.append(record)
        for key in extra_keys:
            extras[key].append(np.array(im.extras.get(key, [0] * n), dtype=np.uint8).reshape(n))
    return DetectionData(
        records=records,
        image_ids=[ultralytics_image_id(Path(im.file_name).stem) for im in images],
        file_names=[im.file_name for im in images],
        class_names=dict(class_names),
        image_sizes=widths_heights,
        box_format="quad" if obb else "xywh",
        kind="ground_truth",
        source=source,
        extras=extras,
    )


def _as_quad(box):
    box = np.asarray(box, dtype=np.float64)
    if box.shape == (4,):  # xywh -> corners, clockwise on screen from the top-left
        x, y, w, h = box
        return np.array([[x, y], [x + w, y], [x + w, y + h], [x, y + h]])
    return box.reshape(4, 2)


def _size_from_table(sizes: dict, by_stem: dict, im: Image):
    """The size of ``im`` from a sizes table: by file name, else by stem (then the table's name is kept)."""
    name = Path(im.file_name).name
    size = sizes.get(name)
    if size is None:
        stem = Path(name).stem
        matches = by_stem.get(stem, [])
        if len(matches) > 1:
            raise ValueError(f"the sizes file lists several images with the stem {stem!r}: {matches[:3]}")
        if not matches:
            raise ValueError(f"{im.where}: the sizes file has no entry for image {name!r}")
        size = sizes[matches[0]]
        if Path(matches[0]).suffix:  # a DOTA file name guessed as <stem>.png: the table knows better
            im.file_name = str(Path(im.file_name).with_name(Path(matches[0]).name))
    return size


def _stem_index(sizes: dict) -> dict:
    """Sizes-table keys by the names an image stem matches: the key itself and its stem."""
    index: dict[str, list] = {}
    for key in sizes:
        for name in {key, Path(key).stem}:
            index.setdefault(name, []).append(key)
    return index


def check_unique_stems(data: DetectionData, target: str) -> None:
    """Writers of one file per image: two images with the same stem would overwrite each other's file."""
    seen: dict[str, str] = {}
    for k, name in enumerate(data.file_names):
        stem = Path(name or str(data.image_ids[k])).stem
        if stem in seen:
            raise ValueError(f"images {seen[stem]!r} and {name!r} share the stem {stem!r}; their {target} files "
                             "would collide")
        seen[stem] = name


def number(text, where: str) -> float:
    """A finite float from XML / text, or a ValueError naming ``where``."""
    try:
        value = float(text)
    except (TypeError, ValueError):
        raise ValueError(f"{where} must be a number; got {text!r}") from None
    if not math.isfinite(value):
        raise ValueError(f"{where} must be finite; got {text!r}")
    return value


def flag(text, where: str, default: int = 0) -> int:
    """A 0/1 flag (``0``, ``1``, ``true``, ``false``; missing: ``default``)."""
    if text is None:
        return default
    value = str(text).strip().lower()
    if value in ("0", "false", "0.0"):
        return 0
    if value in ("1", "true", "1.0"):
        return 1
    raise ValueError(f"{where} must be 0 or 1; got {text!r}")


def parse_xml(path: Path) -> ET.Element:
    """The root element of an XML file; malformed XML or a DTD is a ValueError naming the file and line."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ValueError(f"cannot read {path} ({exc.strerror or exc})") from None
    if len(data) > MAX_XML_BYTES:
        raise ValueError(f"{path} is larger than {MAX_XML_BYTES} bytes")
    if b"<!DOCTYPE" in data or b"<!ENTITY" in data:
        # neither VOC nor CVAT files declare a DTD; entity expansion is how XML files blow up
        raise ValueError(f"{path}: XML with a DTD (<!DOCTYPE> / <!ENTITY>) is refused")
    try:
        return ET.fromstring(data)
    except ET.ParseError as exc:
        line, column = exc.position
        raise ValueError(f"{path}:{line}: not well-formed XML (column {column + 1})") from None
    except (LookupError, ValueError) as exc:  # an unknown or unsupported encoding declaration
        raise ValueError(f"{path}: cannot decode the XML ({exc})") from None


def xml_root_tag(path: Path) -> str | None:
    """The root tag of an XML file from its first 4 KB (for format detection), or None."""
    try:
        with open(path, "rb") as handle:
            head = handle.read(4096)
    except OSError:
        return None
    head = re.sub(rb"<\?.*?\?>|<!--.*?-->", b"", head, flags=re.S)
    match = re.search(rb"<([A-Za-z_][\w.:-]*)", head)
    return match.group(1).decode("ascii", "replace") if match else None
