"""Use detmetrics.Evaluator inside a training loop: per-batch updates, one compute per epoch.

    python examples/training_loop.py

A stand-in "model" turns each batch's ground truth into noisy detections that
get better every epoch.  ``Evaluator.update`` matches a batch at once and
keeps only a compact state; ``compute`` accumulates at the end of the epoch.
The state is mergeable, so shards evaluated elsewhere (data-parallel
workers, processes, a Dask cluster) combine to exactly the all-at-once result.
"""

import numpy as np

from detmetrics import Evaluator, mean_ap
from detmetrics.io import load_ground_truth, sample_path

gt = load_ground_truth(sample_path("yolo"))
kwargs = gt.mean_ap_kwargs()  # boxes are COCO xywh pixels
rng = np.random.default_rng(0)


def fake_model(batch_gts, noise):
    """Detections near the objects (noise shrinks as training goes on), plus a false positive."""
    out = []
    for g in batch_gts:
        boxes = g["boxes"] + rng.normal(0, noise, g["boxes"].shape) * np.tile(np.maximum(g["boxes"][:, 2:], 1), 2)
        boxes[:, 2:] = np.abs(boxes[:, 2:])
        scores = np.clip(1 - noise + rng.normal(0, 0.1, len(boxes)), 0.01, 1)
        fp = np.array([[10.0, 10.0, 50.0, 40.0]])
        out.append({"boxes": np.concatenate([boxes, fp]), "scores": np.concatenate([scores, [0.3]]),
                    "labels": np.concatenate([g["labels"], [0]])})
    return out


batch_size = 4
for epoch, noise in enumerate([0.3, 0.15, 0.05]):
    evaluator = Evaluator(**kwargs)
    all_preds = []
    for start in range(0, len(gt), batch_size):
        batch_gts = gt.records[start : start + batch_size]
        batch_preds = fake_model(batch_gts, noise)  # ... forward pass, loss, backward ...
        evaluator.update(batch_preds, batch_gts, image_ids=list(range(start, start + len(batch_gts))))
        all_preds += batch_preds
    result = evaluator.compute()
    print(f"epoch {epoch}: mAP {result.map:.3f}  mAP50 {result.map50:.3f}  mAR100 {result.mar_100:.3f}")

# Two shards (e.g. two GPUs) merged == everything at once.
half = len(gt) // 2
a, b = Evaluator(**kwargs), Evaluator(**kwargs)
a.update(all_preds[:half], gt.records[:half], image_ids=list(range(half)))
b.update(all_preds[half:], gt.records[half:], image_ids=list(range(half, len(gt))))
a.merge(b)
merged, direct = a.compute(), mean_ap(all_preds, gt.records, **kwargs)
print(f"merged shards: mAP {merged.map:.6f}, all at once: {direct.map:.6f}")
assert np.allclose(merged.stats, direct.stats, rtol=0, atol=1e-12)
