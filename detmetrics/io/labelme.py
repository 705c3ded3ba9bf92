"""LabelMe JSON: one file per image, as the LabelMe annotation tool saves it.

What is read: ``imagePath`` (the image's file name), ``imageWidth`` /
``imageHeight`` and the ``shapes``: each shape's ``label``, ``shape_type``
and ``points``.  A ``"rectangle"`` is its two opposite corners (in any
order: LabelMe keeps the order in which they were drawn).  Other shapes are
not boxes and are an error by default, naming the file and the shape:

* ``polygons="box"`` reads a ``"polygon"`` as the axis-aligned box
  enclosing its points (a shape without ``shape_type``, as old LabelMe
  versions write polygons, counts as a polygon);
* ``other_shapes="skip"`` leaves out ``circle``, ``line``, ``linestrip``,
  ``point``, ``points`` and ``mask`` shapes (polygons follow
  ``polygons=`` alone).

``group_id``, ``flags``, ``description`` and ``imageData`` are not used.
"""

from __future__ import annotations

from pathlib import Path

from ._common import DetectionData, fspath
from ._named import Image, assemble, number, resolve_classes

__all__ = ["read_labelme"]

POLYGON_MODES = ("error", "box")
OTHER_SHAPE_MODES = ("error", "skip")


def read_labelme(path, *, classes=None, polygons: str = "error", other_shapes: str = "error") -> DetectionData:
    """Read LabelMe JSON files as ground truth.

    Parameters
    ----------
    path : str or Path
        One LabelMe ``.json`` file or a folder of them (LabelMe saves them
        next to the images; every ``.json`` of the folder must be one).
    classes : list of str or dict of int to str, optional
        The class list (labels are 1-based positions in it).  Default: the
        labels found, sorted.
    polygons : {"error", "box"}, default="error"
        ``"box"``: read a polygon as the box enclosing it.
    other_shapes : {"error", "skip"}, default="error"
        ``"skip"``: leave out shapes that are neither rectangles nor (with
        ``polygons="box"``) polygons.

    Returns
    -------
    DetectionData
        ``source="labelme"``, one record per file in image-name order, boxes
        xywh pixels; image ids are the image file stems (ints when numeric).

    Examples
    --------
    >>> import json, tempfile, pathlib
    >>> from detmetrics.io import read_labelme
    >>> doc = {"version": "5.4.1", "flags": {}, "imagePath": "cat_01.jpg", "imageData": None,
    ...        "imageHeight": 480, "imageWidth": 640,
    ...        "shapes": [{"label": "cat", "points": [[120.0, 200.5], [30.0, 80.5]], "group_id": None,
    ...                    "description": "", "shape_type": "rectangle", "flags": {}, "mask": None}]}
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     _ = (pathlib.Path(tmp) / "cat_01.json").write_text(json.dumps(doc))
    ...     gt = read_labelme(tmp)
    >>> gt.image_ids, gt.records[0]["boxes"].tolist(), gt.class_names
    (['cat_01'], [[30.0, 80.5, 90.0, 120.0]], {1: 'cat'})
    """
    if polygons not in POLYGON_MODES:
        raise ValueError(f"polygons must be one of {POLYGON_MODES}; got {polygons!r}")
    if other_shapes not in OTHER_SHAPE_MODES:
        raise ValueError(f"other_shapes must be one of {OTHER_SHAPE_MODES}; got {other_shapes!r}")
    files = labelme_files(path)
    images = [_read_file(f, polygons, other_shapes) for f in files]
    names = ((name, place) for im in images for name, place in zip(im.names, im.places))
    class_names = resolve_classes(names, classes)
    return assemble(images, class_names, obb=False, source="labelme")


def labelme_files(path) -> list:
    """The LabelMe files of ``path`` (a file or a folder of ``.json`` files)."""
    p = Path(fspath(path))
    if not p.exists():
        raise ValueError(f"ground truth {fspath(path)!r} does not exist")
    if p.is_file():
        return [p]
    files = sorted(q for q in p.glob("*.json") if q.is_file())
    if not files:
        raise ValueError(f"no .json files in {p}")
    return files


def load_labelme_json(path: Path):
    from ._coco_decode import decode_json

    doc, _ = decode_json(path, "LabelMe file")
    return doc


def _read_file(path: Path, polygons: str, other_shapes: str) -> Image:
    doc = load_labelme_json(path)
    if not isinstance(doc, dict) or not isinstance(doc.get("shapes"), list):
        raise ValueError(f"{path}: not a LabelMe file (a JSON object with a 'shapes' list)")
    image_path = doc.get("imagePath")
    if image_path is not None and not isinstance(image_path, str):
        raise ValueError(f"{path}: imagePath must be a string; got {image_path!r}"[:300])
    file_name = Path(image_path.replace("\\", "/")).name if image_path else path.stem
    image = Image(file_name=file_name, where=str(path))
    width, height = doc.get("imageWidth"), doc.get("imageHeight")
    if width is not None and height is not None:
        image.width = number(width, f"{path}: imageWidth") if not isinstance(width, bool) else None
        image.height = number(height, f"{path}: imageHeight") if not isinstance(height, bool) else None
    for i, shape in enumerate(doc["shapes"]):
        where = f"{path}: shapes[{i}]"
        if not isinstance(shape, dict):
            raise ValueError(f"{where} must be an object; got {shape!r}"[:300])
        label = shape.get("label")
        if not isinstance(label, str) or not label.strip():
            raise ValueError(f"{where} needs a non-empty 'label'; got {label!r}"[:300])
        where = f"{where} ({label})"
        kind = shape.get("shape_type") or "polygon"
        points = _points(shape.get("points"), where)
        if kind == "rectangle":
            if len(points) != 2:
                raise ValueError(f"{where}: a rectangle has 2 points (opposite corners); got {len(points)}")
        elif kind == "polygon" and polygons == "box":
            if len(points) < 3:
                raise ValueError(f"{where}: a polygon needs at least 3 points; got {len(points)}")
        elif kind == "polygon":
            raise ValueError(f"{where}: shape_type 'polygon' is not a box; pass polygons='box' to read the "
                             "enclosing box")
        elif other_shapes == "skip":
            continue
        else:
            raise ValueError(f"{where}: shape_type {kind!r} is not a box (only rectangles are read; "
                             "other_shapes='skip' leaves such shapes out)")
        xs = [p[0] for p in points]
        ys = [p[1] for p in points]
        x0, y0 = min(xs), min(ys)
        image.boxes.append([x0, y0, max(xs) - x0, max(ys) - y0])
        image.names.append(label.strip())
        image.places.append(where)
        image.difficult.append(0)
    return image


def _points(points, where: str) -> list:
    if not isinstance(points, list):
        raise ValueError(f"{where}: points must be a list of [x, y]; got {points!r}"[:300])
    out = []
    for j, point in enumerate(points):
        if not isinstance(point, (list, tuple)) or len(point) != 2 or any(isinstance(v, bool) for v in point):
            raise ValueError(f"{where}: points[{j}] must be [x, y]; got {point!r}"[:300])
        out.append((number(point[0], f"{where}: points[{j}][0]"), number(point[1], f"{where}: points[{j}][1]")))
    return out
