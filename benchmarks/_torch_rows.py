"""torchvision rows for bench_postprocess.py; runs in the interpreter that has torch.

    python benchmarks/_torch_rows.py BOXES.npz REPEAT

``BOXES.npz`` holds, per size ``N``, ``boxes_N`` (float64 xyxy), ``scores_N``
and ``labels_N``, plus ``iou_a`` / ``iou_b`` for the large box_iou.  Prints one
line of JSON: ``{"version": ..., "threads": ..., "rows": {key: {"seconds":
median, "keep": [...]}}}``, keys like ``nms_f64_5000``.  Kept indices are in
torchvision's order (decreasing score).  Only torch / torchvision / numpy are
imported here, never detmetrics.
"""

from __future__ import annotations

import json
import sys
import time

import numpy as np
import torch
import torchvision
from torchvision.ops import batched_nms, box_iou, nms


def _median(fn, repeat):
    fn()  # warm-up
    times = []
    for _ in range(max(1, repeat)):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return float(np.median(times))


def main(path, repeat):
    data = np.load(path)
    rows = {}
    sizes = sorted(int(k.split("_")[1]) for k in data.files if k.startswith("boxes_"))
    with torch.inference_mode():
        for n in sizes:
            b64 = torch.from_numpy(data[f"boxes_{n}"])
            s64 = torch.from_numpy(data[f"scores_{n}"])
            lab = torch.from_numpy(data[f"labels_{n}"])
            b32, s32 = b64.float(), s64.float()
            for name, fn in [
                (f"nms_f64_{n}", lambda: nms(b64, s64, 0.5)),
                (f"nms_f32_{n}", lambda: nms(b32, s32, 0.5)),
                (f"batched_nms_f64_{n}", lambda: batched_nms(b64, s64, lab, 0.5)),
            ]:
                rows[name] = {"seconds": _median(fn, repeat), "keep": fn().tolist()}
            if n <= 1000:
                rows[f"box_iou_f64_{n}"] = {"seconds": _median(lambda: box_iou(b64, b64), repeat)}
        if "iou_a" in data.files:
            a, b = torch.from_numpy(data["iou_a"]), torch.from_numpy(data["iou_b"])
            rows[f"box_iou_f64_{len(a)}x{len(b)}"] = {"seconds": _median(lambda: box_iou(a, b), repeat)}
    print(json.dumps({"version": torchvision.__version__, "threads": torch.get_num_threads(), "rows": rows}))


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]) if len(sys.argv) > 2 else 5)
