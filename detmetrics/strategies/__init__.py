"""Hypothesis strategies for detection data (needs the ``hypothesis`` extra).

The same strategies drive detmetrics' own property tests; use them to
property-test your own detection code::

    from hypothesis import given
    from detmetrics.strategies import boxes

    @given(boxes(max_size=20))
    def test_my_iou_is_symmetric(b):
        ...

Coordinates are drawn on a coarse integer grid so that ties, touching edges,
duplicates and zero-area boxes occur often; scores come from a small set so
that score ties occur.
"""

try:
    import hypothesis  # noqa: F401
except ImportError as exc:  # pragma: no cover
    raise ImportError(
        "detmetrics.strategies needs hypothesis: pip install 'detmetrics[hypothesis]'"
    ) from exc

# Each family's strategies live in their own submodule and are re-exported here.
from ._boxes import SCORE_SET, box_pairs, boxes, labels, nms_inputs, scores
from ._coco import coco_datasets, detection_datasets, detections, ground_truths
from ._rotated import SPECIAL_ANGLES, quads, rotated_boxes

__all__ = [
    "boxes", "scores", "labels", "box_pairs", "nms_inputs", "SCORE_SET",
    "rotated_boxes", "quads", "SPECIAL_ANGLES",
    "detections", "ground_truths", "detection_datasets", "coco_datasets",
]
