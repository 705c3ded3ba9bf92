"""Read and write detection files: COCO JSON and YOLO txt folders (detect and OBB).

The readers return a ``DetectionData``: the per-image dicts that
``detmetrics.mean_ap`` takes, plus image ids, file names, class names and
image sizes.  ``load_ground_truth`` and ``load_predictions`` detect
the format from the path (a ``.json`` file is COCO, a folder or a ``.yaml`` is
YOLO).  The readers know nothing of the evaluator: ``detmetrics.evaluate_files``
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

from ._common import DetectionData
from .coco import CATEGORY_ID_MODES, read_coco_gt, read_coco_results, write_coco_gt, write_coco_results
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
    "load_ground_truth",
    "load_predictions",
    "evaluate_files",
    "sample_path",
]


def sample_path(name: str = "yolo") -> Path:
    """Path of a bundled sample: ``"yolo"`` (dataset folder with ``predictions/``),
    ``"yolo-obb"`` (the same for oriented boxes), ``"coco-gt"`` / ``"coco-results"``
    (the COCO JSON pair of the ``"yolo"`` sample).

    >>> sample_path("yolo").name
    'yolo'
    """
    root = Path(__file__).resolve().parent.parent / "data"
    paths = {
        "yolo": root / "yolo",
        "yolo-obb": root / "yolo-obb",
        "coco-gt": root / "coco" / "instances_val.json",
        "coco-results": root / "coco" / "results.json",
    }
    if not isinstance(name, str) or name not in paths:
        raise ValueError(f"name must be one of {', '.join(repr(k) for k in paths)}; got {name!r}")
    return paths[name]


def load_ground_truth(path, *, split: str = "val", sizes=None, obb=None, progress=None) -> DetectionData:
    """Read ground truth from a COCO ``.json`` file or a YOLO dataset (folder or ``data.yaml``).

    The YOLO options (``split``, ``sizes``, ``obb``, ``progress``) are those of
    ``read_yolo_dataset``; they are ignored for COCO files.
    """
    p = Path(path)
    if p.suffix.lower() == ".json":
        return read_coco_gt(p)
    return read_yolo_dataset(p, split=split, sizes=sizes, obb=obb, progress=progress)


def load_predictions(path, ground_truth: DetectionData, *, category_ids: str = "auto", progress=None) -> DetectionData:
    """Read predictions from a COCO results ``.json`` or a folder of YOLO txt files, aligned with ``ground_truth``."""
    p = Path(path)
    if p.suffix.lower() == ".json":
        return read_coco_results(p, ground_truth, category_ids=category_ids)
    if ground_truth.image_sizes is None:
        raise ValueError(
            "YOLO prediction txt files need image sizes; the COCO ground truth has no width/height for its images"
        )
    return read_yolo_predictions(p, ground_truth, progress=progress)


def __getattr__(name):
    # ``detmetrics.io.evaluate_files`` predates ``detmetrics.evaluate_files``; resolved lazily so
    # that importing the readers never imports the evaluator
    if name == "evaluate_files":
        from ..evaluate import evaluate_files

        return evaluate_files
    raise AttributeError(f"module 'detmetrics.io' has no attribute {name!r}")
