"""torchmetrics ``MeanAveragePrecision`` rows for bench_coco.py; runs in the interpreter that has torch.

    python benchmarks/_torchmetrics_rows.py DATA.npz BATCH [BACKEND]

``DATA.npz`` holds flat per-image arrays (``det_boxes`` float32 xyxy,
``det_scores``, ``det_labels``, ``det_offsets``; ``gt_boxes``, ``gt_labels``,
``gt_iscrowd``, ``gt_area``, ``gt_offsets``).  The images are fed to
``update`` in batches of ``BATCH`` (as a validation loop does), then
``compute`` runs once.  Prints one line of JSON: ``{"version", "backend",
"update_s", "compute_s", "stats": [12 numbers]}``.  Only torch, torchmetrics
and numpy are imported here, never detmetrics.
"""

from __future__ import annotations

import json
import sys
import time
import warnings

import numpy as np
import torch
import torchmetrics
from torchmetrics.detection import MeanAveragePrecision

KEYS = ["map", "map_50", "map_75", "map_small", "map_medium", "map_large", "mar_1", "mar_10", "mar_100",
        "mar_small", "mar_medium", "mar_large"]


def batches(data, batch):
    do, go = data["det_offsets"], data["gt_offsets"]
    n = do.shape[0] - 1
    for start in range(0, n, batch):
        preds, target = [], []
        for i in range(start, min(n, start + batch)):
            d, g = slice(do[i], do[i + 1]), slice(go[i], go[i + 1])
            preds.append({"boxes": torch.from_numpy(data["det_boxes"][d]), "scores": torch.from_numpy(data["det_scores"][d]),
                          "labels": torch.from_numpy(data["det_labels"][d])})
            target.append({"boxes": torch.from_numpy(data["gt_boxes"][g]), "labels": torch.from_numpy(data["gt_labels"][g]),
                           "iscrowd": torch.from_numpy(data["gt_iscrowd"][g]),
                           "area": torch.from_numpy(data["gt_area"][g])})
        yield preds, target


def main(path, batch, backend):
    data = dict(np.load(path))
    warnings.simplefilter("ignore")
    all_batches = list(batches(data, batch))  # tensors built before timing (a loop already has them)
    metric = MeanAveragePrecision(backend=backend)
    t0 = time.perf_counter()
    for preds, target in all_batches:
        metric.update(preds, target)
    t1 = time.perf_counter()
    out = metric.compute()
    t2 = time.perf_counter()
    print(json.dumps({"version": torchmetrics.__version__, "backend": backend, "update_s": t1 - t0,
                      "compute_s": t2 - t1, "stats": [float(out[k]) for k in KEYS]}))


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]), sys.argv[3] if len(sys.argv) > 3 else "pycocotools")
