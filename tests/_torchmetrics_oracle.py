"""torchmetrics' ``MeanAveragePrecision`` on given batches; runs in the interpreter that has torch.

    python tests/_torchmetrics_oracle.py CASES.json

``CASES.json`` is ``{"cases": [{"name", "options", "batches"}]}``; a batch
is ``[preds, target]``, lists of per-image dicts of nested lists, with
``"boxes"`` as float32 values (so the float32 tensors built here hold exactly
the numbers the test feeds detmetrics).  Prints one line of JSON:
``{"torchmetrics": version, "results": {name: {key: value or list}}}``, and
``{"linspace": ...}`` with torch's own default thresholds.  Only torch,
torchmetrics and the standard library are imported here, never detmetrics.
"""

from __future__ import annotations

import json
import sys
import warnings


def _tensors(item):
    import torch

    out = {}
    for key, value in item.items():
        if key in ("labels", "iscrowd"):
            out[key] = torch.tensor(value, dtype=torch.int64)
        else:
            out[key] = torch.tensor(value, dtype=torch.float32).reshape(-1, 4) if key == "boxes" else \
                torch.tensor(value, dtype=torch.float32)
    return out


def _plain(value):
    if hasattr(value, "tolist"):
        return value.tolist()
    return value


def main(path):
    # imported here: pytest --doctest-modules imports this file in the interpreter without torch
    import torch
    import torchmetrics
    from torchmetrics.detection import MeanAveragePrecision

    with open(path) as fh:
        cases = json.load(fh)["cases"]
    results = {}
    warnings.simplefilter("ignore")
    for case in cases:
        metric = MeanAveragePrecision(**case["options"])
        for preds, target in case["batches"]:
            metric.update([_tensors(p) for p in preds], [_tensors(t) for t in target])
        out = metric.compute()
        out.pop("ious", None)
        results[case["name"]] = {k: _plain(v) for k, v in out.items()}
    linspace = {"iou": torch.linspace(0.5, 0.95, 10).tolist(), "rec": torch.linspace(0.0, 1.0, 101).tolist()}
    print(json.dumps({"torchmetrics": torchmetrics.__version__, "torch": torch.__version__, "results": results,
                      "linspace": linspace}))


if __name__ == "__main__":
    main(sys.argv[1])
