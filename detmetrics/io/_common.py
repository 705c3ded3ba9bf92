"""The container the readers return, and helpers shared by the COCO and YOLO readers."""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass, field
from typing import Any

import numpy as np

__all__ = ["DetectionData"]

#: image extensions ultralytics accepts (compared lower-case)
IMAGE_SUFFIXES = (".bmp", ".dng", ".jpeg", ".jpg", ".mpo", ".png", ".tif", ".tiff", ".webp", ".pfm", ".heic")


@dataclass
class DetectionData:
    """Per-image detection data read from files, in the form ``detmetrics.mean_ap`` takes.

    Attributes
    ----------
    records : list of dict
        One dict per image, in evaluation order.  Ground truths hold
        ``"boxes"``, ``"labels"``, ``"iscrowd"`` and ``"area"``; predictions
        hold ``"boxes"``, ``"scores"`` and ``"labels"``.  Axis-aligned boxes
        are ``(N, 4)`` float64 **pixels in COCO's xywh** (top-left corner,
        width, height) -- the format in which pycocotools computes IoU, so
        that a file read here and the same file read by pycocotools give
        bit-identical IoUs.  Oriented boxes (YOLO-OBB) are ``(N, 4, 2)``
        corner arrays in pixels.
    image_ids : list of int or str
        One id per record.  COCO files keep their ids; YOLO folders use
        ultralytics' ids: the file stem, as an int when it is numeric.
    file_names : list of str
        The image file name of each record (``""`` when unknown).
    class_names : dict of int to str
        Label value -> class name.  YOLO labels are class indices ``0..nc-1``;
        COCO labels are the file's category ids.
    image_sizes : ndarray of shape (n_images, 2), float64, or None
        ``(width, height)`` of each image in pixels.
    box_format : {"xywh", "quad"}
        ``"xywh"`` for axis-aligned boxes, ``"quad"`` for ``(N, 4, 2)`` corners.
    kind : {"ground_truth", "predictions"}
    source : {"coco", "yolo", "voc", "dota", "cvat", "labelme"}
        The file family the data came from.  It decides the category ids
        the COCO writers use (YOLO class ``i`` is written as category ``i + 1``;
        the labels of the other families are category ids already).  The
        formats that name classes (VOC, DOTA, CVAT, LabelMe) use labels
        ``1..K``, the position of the name in ``class_names``.
    extras : dict of str to list of ndarray
        Per-object attributes read from the files that ``mean_ap`` does not
        use, one uint8 array per image: ``"truncated"`` (VOC), ``"occluded"``
        (CVAT).  The ``"difficult"`` flag of VOC and DOTA is in the records,
        where ``mean_ap`` reads it.
    task : {"detect", "obb", "segment", "pose"}
        What the records hold besides boxes: segment records add ``"masks"``
        (per object a list of pixel polygons, or RLE dicts read from a
        ``predictions.json``) and ``"image_size"`` ``(h, w)``; pose records
        add ``"keypoints"`` ``(N, K, 3)`` pixels.  ``records_for(iou_type)``
        gives the records ``mean_ap(iou_type=...)`` reads.
    kpt_shape : tuple of (K, 2 or 3), or None
        A YOLO-pose dataset's ``kpt_shape`` (``data.yaml``).

    Examples
    --------
    >>> import numpy as np
    >>> from detmetrics.io import DetectionData
    >>> data = DetectionData(
    ...     records=[{"boxes": np.zeros((0, 4)), "labels": np.zeros(0, np.int64),
    ...               "iscrowd": np.zeros(0, np.uint8), "area": np.zeros(0)}],
    ...     image_ids=[1], file_names=["a.jpg"], class_names={0: "cat"})
    >>> len(data), data.n_objects, data.obb
    (1, 0, False)
    """

    records: list
    image_ids: list
    file_names: list
    class_names: dict
    image_sizes: np.ndarray | None = None
    box_format: str = "xywh"
    kind: str = "ground_truth"
    source: str = "coco"
    names_inferred: bool = field(default=False, repr=False)
    extras: dict = field(default_factory=dict, repr=False)
    task: str = "detect"
    kpt_shape: tuple | None = None

    def __post_init__(self):
        if self.box_format == "quad" and self.task == "detect":
            self.task = "obb"

    def aligned_predictions(self, records: list, **fields) -> "DetectionData":
        """Predictions for this ground truth's images (one record each, in its order).

        They share its image ids, file names, class names, image sizes, box
        format and source (their labels are in its ids); ``fields`` override.
        """
        base: dict[str, Any] = dict(
            records=records, image_ids=list(self.image_ids), file_names=list(self.file_names),
            class_names=dict(self.class_names), image_sizes=self.image_sizes, box_format=self.box_format,
            kind="predictions", source=self.source,
        )
        return DetectionData(**{**base, **fields})

    def __len__(self) -> int:
        return len(self.records)

    @property
    def obb(self) -> bool:
        """True when the boxes are oriented ``(N, 4, 2)`` quadrilaterals."""
        return self.box_format == "quad"

    @property
    def n_objects(self) -> int:
        """Total number of boxes over all images."""
        return int(sum(len(r["labels"]) for r in self.records))

    def mean_ap_kwargs(self, iou_type: str = "bbox") -> dict[str, Any]:
        """Keyword arguments that tell ``detmetrics.mean_ap`` how to read ``records``.

        ``box_format`` for axis-aligned boxes and ``category_ids``: every class
        of the dataset, in id order, so the result's category axis is the
        dataset's (as in pycocotools), including classes with no boxes at all.
        For ``iou_type="keypoints"`` with ``K != 17`` keypoints, ``sigmas`` are
        ultralytics' ``1 / K`` each (its rule for datasets other than COCO's).
        """
        kwargs: dict[str, Any] = {} if self.obb else {"box_format": "xywh"}
        if self.class_names:
            kwargs["category_ids"] = sorted(self.class_names)
        if iou_type != "bbox":
            kwargs["iou_type"] = iou_type
        if iou_type == "keypoints" and self.kpt_shape is not None and int(self.kpt_shape[0]) != 17:
            k = int(self.kpt_shape[0])
            kwargs["sigmas"] = [1.0 / k] * k
        return kwargs

    def records_for(self, iou_type: str = "bbox") -> list:
        """``records`` with the keys ``mean_ap(iou_type=...)`` reads (boxes; masks; keypoints).

        Segment records hold both polygons (``"masks"``) and their enclosing
        boxes, pose records keypoints and boxes: ``"bbox"`` scores the boxes
        (a YOLO-seg folder scored as detection uses each polygon's enclosing
        box, as ultralytics' loader does).
        """
        need = {"bbox": None, "segm": "masks", "keypoints": "keypoints"}
        if iou_type not in need:
            raise ValueError(f"iou_type must be one of {sorted(need)}; got {iou_type!r}")
        key = need[iou_type]
        if key is not None and self.records and not all(key in r for r in self.records):
            task = {"masks": "segment", "keypoints": "pose"}[key]
            raise ValueError(f"iou_type={iou_type!r} needs {task} data, but the {self.kind.replace('_', ' ')} "
                             f"holds {self.task} data (no {key!r})")
        drop = {"bbox": ("masks", "image_size", "keypoints"), "segm": ("keypoints",),
                "keypoints": ("masks", "image_size")}[iou_type]
        return [{k: v for k, v in r.items() if k not in drop} for r in self.records]


def empty_record(kind: str, obb: bool) -> dict:
    """An image without boxes, in the record layout of ``kind``."""
    boxes = np.zeros((0, 4, 2)) if obb else np.zeros((0, 4))
    if kind == "ground_truth":
        return {
            "boxes": boxes,
            "labels": np.zeros(0, dtype=np.int64),
            "iscrowd": np.zeros(0, dtype=np.uint8),
            "area": np.zeros(0),
        }
    return {"boxes": boxes, "scores": np.zeros(0), "labels": np.zeros(0, dtype=np.int64)}


def polygon_area(quads: np.ndarray) -> np.ndarray:
    """Shoelace area of ``(N, K, 2)`` polygons (absolute value, any vertex order)."""
    if quads.shape[0] == 0:
        return np.zeros(0)
    x = quads[:, :, 0]
    y = quads[:, :, 1]
    cross = x * np.roll(y, -1, axis=1) - np.roll(x, -1, axis=1) * y
    return np.abs(cross.sum(axis=1)) / 2.0


def is_convex(quad: np.ndarray) -> bool:
    """True when the corners of one ``(K, 2)`` polygon turn the same way (collinear allowed)."""
    signs = set()
    k = quad.shape[0]
    for i in range(k):
        a, b, c = quad[i], quad[(i + 1) % k], quad[(i + 2) % k]
        cross = (b[0] - a[0]) * (c[1] - b[1]) - (b[1] - a[1]) * (c[0] - b[0])
        if cross > 0:
            signs.add(1)
        elif cross < 0:
            signs.add(-1)
    return len(signs) <= 1


def ultralytics_image_id(stem: str):
    """ultralytics' ``image_id`` for an image: the file stem, an int when it is numeric."""
    return int(stem) if stem.isnumeric() else stem


def progress_iter(items, *, desc: str, progress):
    """Wrap ``items`` in a tqdm bar when asked to (``progress=None``: only for many files on a TTY)."""
    if progress is None:
        progress = len(items) >= 500 and hasattr(sys.stderr, "isatty") and sys.stderr.isatty()
    if not progress:
        return items
    try:
        from tqdm import tqdm
    except ImportError:  # the bar is a convenience; reading works without it
        return items
    return tqdm(items, desc=desc, unit="file", leave=False, file=sys.stderr)


def fspath(path) -> str:
    """``os.fspath`` with a clear TypeError for anything that is not a path."""
    try:
        return os.fspath(path)
    except TypeError:
        raise TypeError(f"source must be a file or folder path; got {type(path).__name__}") from None
