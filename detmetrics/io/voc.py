"""PASCAL VOC XML: one ``<annotation>`` file per image (the devkit's ``Annotations/*.xml``).

What is read, per file: ``<filename>``, ``<size>`` (``<width>``, ``<height>``;
missing or 0 means unknown) and each ``<object>``'s ``<name>``,
``<difficult>`` (default 0), ``<truncated>`` (default 0) and ``<bndbox>``
(``xmin``, ``ymin``, ``xmax``, ``ymax``).  ``<pose>``, ``<part>`` and the
other elements are not used.

Coordinates are read **as given**, in pixels: the box is
``[xmin, ymin, xmax - xmin, ymax - ymin]`` in COCO's xywh.  The devkit writes
1-based pixel indices and scores with a ``+1`` in widths and heights; neither
is applied here (no shift, no ``+1``): shifting both ground truth and
detections by one pixel changes no IoU, and the ``+1`` is a scoring switch
of the protocol, not of the file.  (ultralytics' VOC-to-YOLO script
subtracts 1 from the centre, so its labels are one pixel up and left of
these boxes.)

``difficult`` goes to the records' ``"difficult"`` key, which ``mean_ap``
treats as VOC does (neither a true nor a false positive); ``truncated`` is
kept in ``DetectionData.extras``.  Every problem raises ``ValueError``
naming the file and the element, e.g.
``Annotations/0007.xml: object[2] (dog): bndbox/xmax 12 < xmin 40``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ._common import DetectionData, fspath
from ._named import (
    VOC_CLASSES,
    Image,
    assemble,
    check_unique_stems,
    class_file,
    flag,
    number,
    parse_xml,
    resolve_classes,
)

__all__ = ["read_voc", "write_voc", "write_voc_results"]


def read_voc(path, *, split: str | None = None, classes=None, sizes=None) -> DetectionData:
    """Read PASCAL VOC XML annotations as ground truth.

    Parameters
    ----------
    path : str or Path
        One ``.xml`` file, a folder of them, or a VOC year folder holding
        ``Annotations/`` (``VOCdevkit/VOC2007``).
    split : str, optional
        With a year folder: read the images listed in
        ``ImageSets/Main/<split>.txt`` (which must exist).  Default: every
        file in ``Annotations/``.
    classes : list of str or dict of int to str, optional
        The class list (labels are 1-based positions in it); a name found in a
        file that is not in it is an error.  Default: the ``labelmap.txt``
        next to ``Annotations/`` when there is one (as CVAT and Datumaro
        export it, and ``write_voc`` writes it), else VOC's 20 classes when
        every name is one of them, else the names found, sorted.
    sizes : str, Path or dict, optional
        Image sizes (a sizes file or ``{file name: (width, height)}``),
        replacing the files' ``<size>``.

    Returns
    -------
    DetectionData
        ``source="voc"``, one record per file in file-name order, boxes xywh
        pixels, ``"difficult"`` flags in the records, ``extras["truncated"]``.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> from detmetrics.io import read_voc
    >>> xml = ("<annotation><filename>000005.jpg</filename><size><width>500</width><height>375</height>"
    ...        "<depth>3</depth></size><object><name>chair</name><pose>Rear</pose><truncated>0</truncated>"
    ...        "<difficult>1</difficult><bndbox><xmin>263</xmin><ymin>211</ymin><xmax>324</xmax>"
    ...        "<ymax>339</ymax></bndbox></object></annotation>")
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     _ = (pathlib.Path(tmp) / "000005.xml").write_text(xml)
    ...     gt = read_voc(tmp)
    >>> gt.image_ids, gt.records[0]["boxes"].tolist(), gt.records[0]["difficult"].tolist()
    ([5], [[263.0, 211.0, 61.0, 128.0]], [1])
    >>> gt.class_names[gt.records[0]["labels"][0]]
    'chair'
    """
    files = voc_files(path, split)
    images = [read_voc_file(f) for f in files]
    names = ((name, place) for im in images for name, place in zip(im.names, im.places))
    if classes is None:
        folder = files[0].parent
        candidates = [folder / "labelmap.txt"] + ([folder.parent / "labelmap.txt"] if folder.name == "Annotations" else [])
        classes = class_file(candidates, labelmap=True)
    class_names = resolve_classes(names, classes, (VOC_CLASSES,))
    size_table = None if sizes is None else _size_table(sizes)
    return assemble(images, class_names, obb=False, source="voc", sizes=size_table)


def _size_table(sizes) -> dict:
    from .yolo import _size_table as table

    return table(sizes)


def voc_files(path, split: str | None) -> list:
    """The annotation files of ``path`` (see ``read_voc``)."""
    p = Path(fspath(path))
    if not p.exists():
        raise ValueError(f"ground truth {fspath(path)!r} does not exist")
    if p.is_file():
        if split is not None:
            raise ValueError(f"split={split!r} needs a VOC folder with ImageSets/Main; got the file {p}")
        return [p]
    folder = p / "Annotations" if (p / "Annotations").is_dir() else p
    if split is not None:
        listing = p / "ImageSets" / "Main" / f"{split}.txt"
        if not listing.is_file():
            raise ValueError(f"split {split!r} needs {listing}, which does not exist")
        files = []
        for lineno, line in enumerate(listing.read_text(encoding="utf-8").splitlines(), start=1):
            stem = line.split()[0] if line.split() else ""
            if not stem:
                continue
            file = folder / f"{stem}.xml"
            if not file.is_file():
                raise ValueError(f"{listing}:{lineno}: image {stem!r} has no annotation file {file}")
            files.append(file)
        if not files:
            raise ValueError(f"{listing} lists no images")
        return files
    files = sorted(q for q in folder.glob("*.xml") if q.is_file())
    if not files:
        raise ValueError(f"no .xml annotation files in {folder}")
    return files


def read_voc_file(path: Path) -> Image:
    """One annotation file as an ``Image`` (names not yet labels)."""
    root = parse_xml(path)
    if root.tag != "annotation":
        raise ValueError(f"{path}: not a PASCAL VOC annotation (root element <{root.tag}>, expected <annotation>)")
    file_name = (root.findtext("filename") or "").strip() or path.stem
    image = Image(file_name=file_name, where=str(path))
    size = root.find("size")
    if size is not None:
        width, height = size.findtext("width"), size.findtext("height")
        if width is not None and height is not None:
            w = number(width, f"{path}: size/width")
            h = number(height, f"{path}: size/height")
            if w < 0 or h < 0:
                raise ValueError(f"{path}: size must be >= 0; got {width} x {height}")
            image.width, image.height = (w, h) if w > 0 and h > 0 else (None, None)
    truncated = []
    for i, obj in enumerate(root.findall("object")):
        where = f"{path}: object[{i}]"
        name = (obj.findtext("name") or "").strip()
        if not name:
            raise ValueError(f"{where} has no <name>")
        where = f"{where} ({name})"
        box = obj.find("bndbox")
        if box is None:
            raise ValueError(f"{where} has no <bndbox>")
        values = {}
        for key in ("xmin", "ymin", "xmax", "ymax"):
            text = box.findtext(key)
            if text is None:
                raise ValueError(f"{where}: bndbox has no <{key}>")
            values[key] = number(text.strip(), f"{where}: bndbox/{key}")
        for lo, hi in (("xmin", "xmax"), ("ymin", "ymax")):
            if values[hi] < values[lo]:
                raise ValueError(f"{where}: bndbox/{hi} {values[hi]:g} < {lo} {values[lo]:g}")
        image.boxes.append([values["xmin"], values["ymin"], values["xmax"] - values["xmin"],
                            values["ymax"] - values["ymin"]])
        image.names.append(name)
        image.places.append(where)
        image.difficult.append(flag(_text(obj, "difficult"), f"{where}: difficult"))
        truncated.append(flag(_text(obj, "truncated"), f"{where}: truncated"))
    image.extras["truncated"] = truncated
    return image


def _text(element, tag):
    text = element.findtext(tag)
    return None if text is None or not text.strip() else text.strip()


# ----------------------------------------------------------------------------------------------
# writer


def write_voc(data: DetectionData, folder) -> list:
    """Write ground truths as PASCAL VOC XML files, ``<folder>/Annotations/<image stem>.xml``.

    The class list goes to ``<folder>/labelmap.txt`` (CVAT / Datumaro's
    ``name:color:parts:actions`` lines, without colours), which ``read_voc``
    reads back so that the labels keep their order.

    Boxes are written as ``xmin = x``, ``xmax = x + w`` (no shift; see the
    module docstring), as integers when they are whole numbers, else with
    Python's shortest round-trip float text.  ``difficult`` and ``truncated``
    come from the records and ``extras`` (0 when absent).  Oriented boxes are
    written as their enclosing axis-aligned box.  ``<size>`` is written when
    the data has image sizes.  Returns the paths written.
    """
    if data.kind != "ground_truth":
        raise ValueError(f"write_voc needs ground truths; got data of kind {data.kind!r}")
    check_unique_stems(data, "VOC annotation")
    root = Path(fspath(folder))
    out = root / "Annotations"
    from xml.sax.saxutils import escape  # here: it imports urllib (~30 ms) on every `import detmetrics.io`

    out.mkdir(parents=True, exist_ok=True)
    truncated = data.extras.get("truncated")
    labelmap = root / "labelmap.txt"
    labelmap.write_text("# label:color_rgb:parts:actions\n" + "".join(
        f"{data.class_names[k]}:::\n" for k in sorted(data.class_names)), encoding="utf-8")
    written = [labelmap]
    for k, (record, file_name) in enumerate(zip(data.records, data.file_names)):
        name = file_name or str(data.image_ids[k])
        lines = ["<annotation>", f"\t<filename>{escape(name)}</filename>"]
        if data.image_sizes is not None:
            width, height = data.image_sizes[k]
            lines.append(f"\t<size><width>{_num(width)}</width><height>{_num(height)}</height>"
                         "<depth>3</depth></size>")
        boxes = np.asarray(record["boxes"], dtype=np.float64)
        if data.obb:
            quads = boxes.reshape(-1, 4, 2)
            lo, hi = quads.min(axis=1), quads.max(axis=1)
        else:
            boxes = boxes.reshape(-1, 4)
            lo, hi = boxes[:, :2], boxes[:, :2] + boxes[:, 2:]
        labels = np.asarray(record["labels"]).tolist()
        difficult = np.asarray(record.get("difficult", np.zeros(len(labels)))).tolist()
        trunc = truncated[k].tolist() if truncated is not None else [0] * len(labels)
        for j, label in enumerate(labels):
            cls = data.class_names.get(int(label), str(label))
            lines += [
                "\t<object>",
                f"\t\t<name>{escape(cls)}</name>",
                "\t\t<pose>Unspecified</pose>",
                f"\t\t<truncated>{int(trunc[j])}</truncated>",
                f"\t\t<difficult>{int(difficult[j])}</difficult>",
                f"\t\t<bndbox><xmin>{_num(lo[j, 0])}</xmin><ymin>{_num(lo[j, 1])}</ymin>"
                f"<xmax>{_num(hi[j, 0])}</xmax><ymax>{_num(hi[j, 1])}</ymax></bndbox>",
                "\t</object>",
            ]
        lines.append("</annotation>")
        path = out / (Path(name).stem + ".xml")
        path.write_text("\n".join(lines) + "\n", encoding="utf-8")
        written.append(path)
    return written


def _num(value) -> str:
    value = float(value)
    return str(int(value)) if value.is_integer() and abs(value) < 2**53 else repr(value)


def write_voc_results(data: DetectionData, folder, *, prefix: str = "comp4_det_test_") -> list:
    """Write predictions as the VOC devkit's result files, ``<folder>/<prefix><class>.txt``.

    Lines are ``image_id score xmin ymin xmax ymax`` (the image's file stem,
    coordinates as in ``write_voc``); one file per class that has
    detections.  Oriented boxes are written as their enclosing box.
    ``read_dota_results`` (and ``load_predictions``) read them back.
    Returns the paths written.
    """
    if data.kind != "predictions":
        raise ValueError(f"write_voc_results needs predictions; got data of kind {data.kind!r}")
    if not isinstance(prefix, str) or not prefix.startswith("comp") or not prefix.endswith("_"):
        raise ValueError(f"prefix must look like 'comp4_det_test_' (read back by its pattern); got {prefix!r}")
    out = Path(fspath(folder))
    out.mkdir(parents=True, exist_ok=True)
    lines: dict[int, list] = {}
    for k, (record, file_name) in enumerate(zip(data.records, data.file_names)):
        stem = Path(file_name or str(data.image_ids[k])).stem
        boxes = np.asarray(record["boxes"], dtype=np.float64)
        if data.obb:
            quads = boxes.reshape(-1, 4, 2)
            lo, hi = quads.min(axis=1), quads.max(axis=1)
        else:
            boxes = boxes.reshape(-1, 4)
            lo, hi = boxes[:, :2], boxes[:, :2] + boxes[:, 2:]
        scores = np.asarray(record["scores"], dtype=np.float64).tolist()
        for j, label in enumerate(np.asarray(record["labels"]).tolist()):
            lines.setdefault(int(label), []).append(
                f"{stem} {scores[j]!r} {_num(lo[j, 0])} {_num(lo[j, 1])} {_num(hi[j, 0])} {_num(hi[j, 1])}\n")
    written = []
    for label in sorted(lines):
        name = data.class_names.get(label, str(label))
        if not name or any(c.isspace() for c in name) or "/" in name:
            raise ValueError(f"class name {name!r} cannot be part of a result file name")
        path = out / f"{prefix}{name}.txt"
        path.write_text("".join(lines[label]), encoding="utf-8")
        written.append(path)
    return written
