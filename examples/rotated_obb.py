"""Evaluate oriented boxes (YOLO-OBB / DOTA): COCO-style and DOTA-style AP with exact polygon IoU.

    python examples/rotated_obb.py

The bundled ``yolo-obb`` sample has no images; its sizes come from a sizes
file.  Labels and predictions are 4 corners (``class x1 y1 ... x4 y4 [conf]``),
read as ``(N, 4, 2)`` pixel quadrilaterals; ``mean_ap`` then uses polygon IoU.
"""

import numpy as np

from detmetrics import mean_ap, polygon_iou
from detmetrics.io import read_yolo_dataset, read_yolo_predictions, sample_path

root = sample_path("yolo-obb")
gt = read_yolo_dataset(root, sizes=root / "val_sizes.txt")
pred = read_yolo_predictions(root / "predictions", gt)
print(f"OBB: {gt.obb}, {len(gt)} images, {gt.n_objects} objects, {pred.n_objects} detections")

first = next(i for i, r in enumerate(gt.records) if len(r["labels"]))
iou = polygon_iou(pred.records[first]["boxes"], gt.records[first]["boxes"])
print(f"polygon IoU of image {gt.file_names[first]}'s detections with its objects:\n{np.round(iou, 3)}")

coco_style = mean_ap(pred.records, gt.records)  # 101 points, IoU 0.50:0.95, polygon areas
print(coco_style.summary())

dota_style = mean_ap(pred.records, gt.records, iou_thresholds=[0.5], interpolation="voc")
print(f"DOTA-style mAP (all-point, IoU 0.5): {dota_style.map:.4f}")
for category, stats in sorted(dota_style.per_class.items()):
    print(f"  {gt.class_names[category]:<6} AP50 {stats['ap']:.4f}  ({stats['n_gt']} objects)")
