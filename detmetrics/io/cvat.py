"""CVAT for images 1.1 XML (``annotations.xml`` of a CVAT export).

What is read: every ``<image name width height>`` and its ``<box label xtl
ytl xbr ybr occluded rotation>`` elements.  The class list is the file's
``<meta>`` ``<labels>`` (in their order) when it has one, else the box labels
found, sorted.  ``occluded`` is kept in ``DetectionData.extras``.

A ``rotation`` (degrees, clockwise on screen, about the box centre, as CVAT
draws it) turns the box into its 4 rotated corners: when any box of the file
is rotated, all boxes are read as ``(N, 4, 2)`` quads (the unrotated ones as
their 4 corners), else as axis-aligned xywh boxes.

Not read: ``<polygon>``, ``<polyline>``, ``<points>``, ``<mask>``,
``<ellipse>``, ``<cuboid>``, ``<skeleton>`` and ``<tag>`` elements (they are
not boxes; a warning says how many were left out) and the ``<attribute>``
values of boxes.  ``<track>`` elements (CVAT for video) are an error.
"""

from __future__ import annotations

import math
import warnings
from pathlib import Path

from ._common import DetectionData, fspath
from ._named import Image, assemble, number, parse_xml, resolve_classes

__all__ = ["read_cvat"]

_OTHER_SHAPES = ("polygon", "polyline", "points", "mask", "ellipse", "cuboid", "skeleton", "tag")


def read_cvat(path, *, classes=None) -> DetectionData:
    """Read a CVAT for images 1.1 XML file as ground truth.

    Parameters
    ----------
    path : str or Path
        The ``annotations.xml`` file (or a folder holding exactly one
        ``.xml`` file of this format).
    classes : list of str or dict of int to str, optional
        The class list (labels are 1-based positions in it).  Default: the
        file's ``<meta>`` labels in their order, else the names found, sorted.

    Returns
    -------
    DetectionData
        ``source="cvat"``, one record per ``<image>`` in name order; image
        ids are the name stems (an int when numeric), sizes from the
        ``width`` / ``height`` attributes.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> from detmetrics.io import read_cvat
    >>> xml = ('<annotations><version>1.1</version><meta><task><labels><label><name>car</name></label>'
    ...        '<label><name>bus</name></label></labels></task></meta>'
    ...        '<image id="0" name="frame_000.jpg" width="640" height="480">'
    ...        '<box label="bus" occluded="0" xtl="10.5" ytl="20" xbr="110.5" ybr="70" z_order="0"/>'
    ...        '</image></annotations>')
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     _ = (pathlib.Path(tmp) / "annotations.xml").write_text(xml)
    ...     gt = read_cvat(pathlib.Path(tmp) / "annotations.xml")
    >>> gt.class_names, gt.records[0]["boxes"].tolist(), gt.records[0]["labels"].tolist()
    ({1: 'car', 2: 'bus'}, [[10.5, 20.0, 100.0, 50.0]], [2])
    """
    file = cvat_file(path)
    root = parse_xml(file)
    if root.tag != "annotations":
        raise ValueError(f"{file}: not a CVAT for images XML (root element <{root.tag}>, expected <annotations>)")
    if root.find("track") is not None:
        raise ValueError(f"{file}: <track> elements are CVAT for video; export the task as 'CVAT for images 1.1'")
    meta_labels: list[str] = []
    meta = root.find("meta")
    if meta is not None:
        for label_element in meta.iter("label"):
            label_name = (label_element.findtext("name") or "").strip()
            if label_name and label_name not in meta_labels:
                meta_labels.append(label_name)
    images: list[Image] = []
    rotated = False
    skipped: dict[str, int] = {}
    for i, element in enumerate(root.findall("image")):
        where = f"{file}: image[{i}]"
        name = element.get("name")
        if not name:
            raise ValueError(f"{where} has no 'name' attribute")
        where = f"{where} ({name})"
        image = Image(file_name=name, where=where)
        width, height = element.get("width"), element.get("height")
        if width is not None and height is not None:
            image.width = number(width, f"{where}: width")
            image.height = number(height, f"{where}: height")
        occluded = []
        for j, box in enumerate(element.findall("box")):
            place = f"{where}: box[{j}]"
            label = box.get("label")
            if not label:
                raise ValueError(f"{place} has no 'label' attribute")
            place = f"{place} ({label})"
            coords = {}
            for key in ("xtl", "ytl", "xbr", "ybr"):
                if box.get(key) is None:
                    raise ValueError(f"{place} has no '{key}' attribute")
                coords[key] = number(box.get(key), f"{place}: {key}")
            if coords["xbr"] < coords["xtl"] or coords["ybr"] < coords["ytl"]:
                raise ValueError(f"{place}: xbr < xtl or ybr < ytl; got {coords}")
            angle = number(box.get("rotation", "0"), f"{place}: rotation")
            rotated = rotated or angle % 360 != 0
            image.boxes.append((coords["xtl"], coords["ytl"], coords["xbr"], coords["ybr"], angle))
            image.names.append(label)
            image.places.append(place)
            image.difficult.append(0)
            occluded.append(_occluded(box.get("occluded"), place))
        image.extras["occluded"] = occluded
        for tag in _OTHER_SHAPES:
            count = len(element.findall(tag))
            if count:
                skipped[tag] = skipped.get(tag, 0) + count
        images.append(image)
    if not images:
        raise ValueError(f"{file} has no <image> elements")
    for image in images:
        image.boxes = [_corners(*b) if rotated else [b[0], b[1], b[2] - b[0], b[3] - b[1]] for b in image.boxes]
    if skipped:
        what = ", ".join(f"{n} <{tag}>" for tag, n in skipped.items())
        warnings.warn(f"{file}: only <box> elements are read; left out {what}", UserWarning, stacklevel=2)
    names = ((name, place) for im in images for name, place in zip(im.names, im.places))
    if classes is None and meta_labels:
        classes = meta_labels
    class_names = resolve_classes(names, classes)
    return assemble(images, class_names, obb=rotated, source="cvat")


def _occluded(value, place: str) -> int:
    if value is None:
        return 0
    if value not in ("0", "1"):
        raise ValueError(f"{place}: occluded must be 0 or 1; got {value!r}")
    return int(value)


def _corners(xtl, ytl, xbr, ybr, angle):
    """The 4 corners of a CVAT box rotated by ``angle`` degrees (clockwise on screen) about its centre."""
    cx, cy = (xtl + xbr) / 2.0, (ytl + ybr) / 2.0
    c, s = math.cos(math.radians(angle)), math.sin(math.radians(angle))
    corners = []
    for x, y in ((xtl, ytl), (xbr, ytl), (xbr, ybr), (xtl, ybr)):
        corners.append([cx + c * (x - cx) - s * (y - cy), cy + s * (x - cx) + c * (y - cy)])
    return corners


def cvat_file(path) -> Path:
    """The XML file of ``path``: the file itself or the one ``.xml`` file of a folder."""
    p = Path(fspath(path))
    if not p.exists():
        raise ValueError(f"ground truth {fspath(path)!r} does not exist")
    if p.is_file():
        return p
    files = sorted(q for q in p.glob("*.xml") if q.is_file())
    if len(files) != 1:
        raise ValueError(f"{p} holds {len(files)} .xml files; pass the CVAT annotations.xml itself")
    return files[0]
