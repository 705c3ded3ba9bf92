"""Evaluate a YOLO export (labels + predictions txt folders) and check it with pycocotools.

    python examples/evaluate_yolo_export.py                       # the bundled sample
    python examples/evaluate_yolo_export.py DATA_YAML PRED_DIR    # your own export

PRED_DIR is what ``yolo predict save_txt=True save_conf=True`` writes
(``runs/detect/predict/labels``).  The script prints the COCO summary and the
per-class table, then converts both sides to COCO JSON so that any COCO tool
(pycocotools here, when installed) can score the very same boxes.
"""

import sys
import tempfile
from pathlib import Path

from detmetrics import mean_ap
from detmetrics.cli import format_class_table
from detmetrics.io import (
    load_ground_truth,
    load_predictions,
    sample_path,
    write_coco_gt,
    write_coco_results,
)

gt_path = sys.argv[1] if len(sys.argv) > 1 else sample_path("yolo")
pred_path = sys.argv[2] if len(sys.argv) > 2 else sample_path("yolo") / "predictions"

gt = load_ground_truth(gt_path)  # data.yaml 'val' split, image sizes from the image headers
pred = load_predictions(pred_path, gt)  # one record per image, empty where no txt file
print(f"{len(gt)} images, {gt.n_objects} objects, {pred.n_objects} detections, classes {gt.class_names}")

result = mean_ap(pred.records, gt.records, **gt.mean_ap_kwargs())  # boxes are COCO xywh pixels
print(result.summary())
print(format_class_table(result, gt.class_names))

# The same boxes as COCO JSON: pycocotools must agree to the last digit.
with tempfile.TemporaryDirectory() as tmp:
    gt_json, res_json = Path(tmp) / "gt.json", Path(tmp) / "results.json"
    write_coco_gt(gt, gt_json)
    write_coco_results(pred, res_json)
    try:
        from pycocotools.coco import COCO
        from pycocotools.cocoeval import COCOeval
    except ImportError:
        print("pycocotools not installed; skipping the cross-check")
    else:
        import contextlib
        import io

        with contextlib.redirect_stdout(io.StringIO()):  # pycocotools prints progress
            coco_gt = COCO(str(gt_json))
            coco_dt = coco_gt.loadRes(str(res_json))
            evaluator = COCOeval(coco_gt, coco_dt, "bbox")
            evaluator.evaluate()
            evaluator.accumulate()
            evaluator.summarize()
        largest = max(abs(a - b) for a, b in zip(evaluator.stats, result.stats))
        print(f"pycocotools agrees: largest difference over the 12 stats = {largest:.1e}")
        assert largest < 1e-12
