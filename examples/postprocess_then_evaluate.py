"""Post-process raw detections (confidence filter + class-aware NMS or soft-NMS), then evaluate.

    python examples/postprocess_then_evaluate.py

Raw detector output usually holds many overlapping boxes per object.  This
example takes the bundled sample's predictions, adds shifted duplicates of
every box (as a detector without NMS would produce), and compares mAP
before post-processing, after greedy class-aware NMS and after soft-NMS.
The same is available on folders from the command line:

    detmetrics nms PRED_DIR OUT_DIR --conf 0.001 --iou 0.7
"""

import numpy as np

from detmetrics import batched_nms, convert_boxes, filter_by_confidence, mean_ap, soft_nms
from detmetrics.io import load_ground_truth, load_predictions, sample_path

gt = load_ground_truth(sample_path("yolo"))
pred = load_predictions(sample_path("yolo") / "predictions", gt)
rng = np.random.default_rng(0)


def with_duplicates(record):
    """Every box twice more, shifted by a few pixels, with lower scores."""
    boxes, scores, labels = record["boxes"], record["scores"], record["labels"]
    copies = [boxes] + [boxes + rng.normal(0, 2, boxes.shape) * [1, 1, 0, 0] for _ in range(2)]
    return {
        "boxes": convert_boxes(np.concatenate(copies), "xywh", "xyxy"),
        "scores": np.concatenate([scores, scores * 0.9, scores * 0.8]),
        "labels": np.concatenate([labels] * 3),
    }


raw = [with_duplicates(r) for r in pred.records]
gts = [{**g, "boxes": convert_boxes(g["boxes"], "xywh", "xyxy")} for g in gt.records]


def greedy(record, conf=0.001, iou=0.6):
    keep = filter_by_confidence(record["scores"], conf)
    boxes, scores, labels = record["boxes"][keep], record["scores"][keep], record["labels"][keep]
    k = batched_nms(boxes, scores, labels, iou)  # boxes of different classes never suppress each other
    return {"boxes": boxes[k], "scores": scores[k], "labels": labels[k]}


def soft(record, sigma=0.5):
    out = {"boxes": [], "scores": [], "labels": []}
    for label in np.unique(record["labels"]):  # class-aware: one soft-NMS per class
        rows = np.flatnonzero(record["labels"] == label)
        k, new_scores = soft_nms(record["boxes"][rows], record["scores"][rows], method="gaussian", sigma=sigma)
        out["boxes"].append(record["boxes"][rows][k])
        out["scores"].append(new_scores)
        out["labels"].append(record["labels"][rows][k])
    if not out["boxes"]:
        return {"boxes": np.zeros((0, 4)), "scores": np.zeros(0), "labels": np.zeros(0, np.int64)}
    return {key: np.concatenate(value) for key, value in out.items()}


for name, records in (("raw (3x duplicates)", raw), ("class-aware NMS", [greedy(r) for r in raw]),
                      ("soft-NMS (gaussian)", [soft(r) for r in raw])):
    result = mean_ap(records, gts)
    n = sum(len(r["scores"]) for r in records)
    print(f"{name:<22} {n:>4} detections   mAP {result.map:.3f}   mAP50 {result.map50:.3f}")
