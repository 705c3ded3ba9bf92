"""detmetrics: object-detection metrics and post-processing.

IoU (axis-aligned and rotated), confidence filtering, greedy / class-aware /
soft NMS, precision-recall curves, AP and COCO-exact mAP.  Every primitive has
a readable NumPy reference and a Numba fast path; choose with
``backend="auto" | "numba" | "numpy"``.

>>> from detmetrics import nms, mean_ap

The public names are imported lazily (on first attribute access), so
``import detmetrics`` does not import numba or compile anything.
"""

from __future__ import annotations

import importlib

from ._version import __version__

# public name -> submodule that defines it.  Keep sorted by module.
_EXPORTS = {
    # boxes
    "convert_boxes": "boxes",
    "box_area": "boxes",
    # iou
    "box_iou": "iou",
    "generalized_box_iou": "iou",
    "distance_box_iou": "iou",
    "complete_box_iou": "iou",
    # postprocess (the module is not called nms: it would shadow the function)
    "filter_by_confidence": "postprocess",
    "nms": "postprocess",
    "batched_nms": "postprocess",
    "soft_nms": "postprocess",
    # rotated
    "rotated_iou": "rotated",
    "polygon_iou": "rotated",
    "rotated_to_corners": "rotated",
    "corners_to_rotated": "rotated",
    "normalize_rotated": "rotated",
    "rotated_to_radians": "rotated",
    "rotated_to_degrees": "rotated",
    # ap
    "average_precision": "ap",
    # evaluate
    "mean_ap": "evaluate",
    "evaluate_coco": "evaluate",
    "evaluate_columns": "columns",
    "evaluate_files": "evaluate",
    "EvaluationResult": "evaluate",
    "Evaluator": "evaluate",
    # confusion
    "confusion_matrix": "confusion",
    # diagnostics
    "explain_gap": "diagnostics",
    # errors
    "error_breakdown": "errors",
    "error_breakdown_coco": "errors",
}

__all__ = sorted(_EXPORTS) + ["__version__"]


def __getattr__(name: str):
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'detmetrics' has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value  # cache: later lookups skip __getattr__
    return value


def __dir__():
    return sorted(set(globals()) | set(_EXPORTS))
