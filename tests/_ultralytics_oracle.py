"""Run by the torch interpreter (``DETMETRICS_TORCH_PYTHON``): ultralytics' own functions on JSON boxes.

stdin: ``[{"pred": [[x1, y1, x2, y2, conf, cls], ...], "gt": [[cls, x1, y1, x2, y2], ...]}, ...]``
(predictions already cut to ultralytics' per-image budget); stdout: JSON with ultralytics'
``ap_per_class`` outputs (per-class AP at the ten thresholds, the classes, P/R at its max-mean-F1
confidence, and F1 there) and its version.
"""

import json
import sys
import types


def main():
    # imported here: pytest collects this file in the interpreter without torch
    import numpy as np
    import torch
    import ultralytics
    from ultralytics.engine.validator import BaseValidator
    from ultralytics.utils.metrics import ap_per_class, box_iou

    images = json.load(sys.stdin)
    holder = types.SimpleNamespace(iouv=torch.linspace(0.5, 0.95, 10))
    tps, confs, pcls, tcls = [], [], [], []
    for image in images:
        pred = torch.tensor(image["pred"], dtype=torch.float32).reshape(-1, 6)
        gt = torch.tensor(image["gt"], dtype=torch.float32).reshape(-1, 5)
        pred = pred[torch.argsort(-pred[:, 4], stable=True)]  # NMS output order: decreasing confidence
        if gt.shape[0] == 0 or pred.shape[0] == 0:
            tp = np.zeros((pred.shape[0], 10), dtype=bool)
        else:
            iou = box_iou(gt[:, 1:], pred[:, :4])
            tp = BaseValidator.match_predictions(holder, pred[:, 5], gt[:, 0], iou).cpu().numpy()
        tps.append(tp)
        confs.append(pred[:, 4].numpy())
        pcls.append(pred[:, 5].numpy())
        tcls.append(gt[:, 0].numpy())
    out = ap_per_class(np.concatenate(tps, 0), np.concatenate(confs), np.concatenate(pcls), np.concatenate(tcls))
    tp, fp, p, r, f1, ap, classes = out[:7]
    json.dump({"version": ultralytics.__version__, "ap": ap.tolist(), "classes": classes.tolist(),
               "p": p.tolist(), "r": r.tolist(), "f1": f1.tolist()}, sys.stdout)


if __name__ == "__main__":
    main()
