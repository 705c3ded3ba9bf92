"""Reading a YOLO folder against reading the same data as COCO JSON (ground truth + predictions).

Generates ``--images`` images (PNG and JPEG variants of one dataset, ``--size`` pixels), their YOLO labels and
prediction txt files, and the equivalent COCO ground truth and results files; then times, in this process,
``load_ground_truth`` + ``load_predictions`` on each layout (the YOLO reads include every image header) and
checks that all three give the same boxes.  Printed: median seconds and the YOLO / COCO ratio (target <= 2x).

    python benchmarks/bench_io.py --images 5000
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

import numpy as np

sys.path.insert(0, os.path.dirname(__file__))
from _common import median_time


def _make(root: Path, n: int, size: tuple, seed: int = 0) -> None:
    from PIL import Image

    rng = np.random.default_rng(seed)
    w, h = size
    pixels = (rng.random((h, w, 3)) * 255).astype(np.uint8)
    image = Image.fromarray(pixels)
    for sub in ("png", "jpg"):
        (root / sub / "images" / "val").mkdir(parents=True)
        (root / sub / "labels" / "val").mkdir(parents=True)
        (root / sub / "predictions").mkdir(parents=True)
        (root / sub / "data.yaml").write_text("path: .\nval: images/val\nnames: {0: a, 1: b, 2: c}\n")
    for i in range(n):
        k, m = int(rng.integers(1, 20)), int(rng.integers(1, 8))
        lab = "".join(f"{rng.integers(0, 3)} {rng.uniform(.2, .8):.6f} {rng.uniform(.2, .8):.6f} "
                      f"{rng.uniform(.05, .3):.6f} {rng.uniform(.05, .3):.6f}\n" for _ in range(m))
        pred = "".join(f"{rng.integers(0, 3)} {rng.uniform(.2, .8):.6f} {rng.uniform(.2, .8):.6f} "
                       f"{rng.uniform(.05, .3):.6f} {rng.uniform(.05, .3):.6f} {rng.random():.5f}\n" for _ in range(k))
        for sub in ("png", "jpg"):
            d = root / sub
            image.save(d / "images" / "val" / f"im{i:06d}.{sub}")
            (d / "labels" / "val" / f"im{i:06d}.txt").write_text(lab)
            (d / "predictions" / f"im{i:06d}.txt").write_text(pred)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=2000)
    parser.add_argument("--size", type=int, nargs=2, default=(640, 480), metavar=("W", "H"))
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    from detmetrics.io import load_ground_truth, load_predictions, write_coco_gt, write_coco_results

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        _make(root, args.images, tuple(args.size))
        gt = load_ground_truth(root / "png", progress=False)
        pred = load_predictions(root / "png" / "predictions", gt, progress=False)
        write_coco_gt(gt, root / "gt.json")
        write_coco_results(pred, root / "res.json")

        def yolo(sub):
            g = load_ground_truth(root / sub, progress=False)
            return g, load_predictions(root / sub / "predictions", g, progress=False)

        def coco():
            g = load_ground_truth(root / "gt.json")
            return g, load_predictions(root / "res.json", g)

        for sub in ("png", "jpg"):
            g, p = yolo(sub)
            cg, cp = coco()
            for a, b in zip(p.records, cp.records):
                np.testing.assert_allclose(a["boxes"], b["boxes"], rtol=0, atol=1e-9)
            assert sum(len(r["labels"]) for r in g.records) == sum(len(r["labels"]) for r in cg.records)
        t_coco = median_time(coco, repeat=args.repeat)
        rows = [("COCO JSON", t_coco)] + [(f"YOLO folder ({sub.upper()})", median_time(lambda s=sub: yolo(s),
                                                                                     repeat=args.repeat))
                                          for sub in ("png", "jpg")]
    n_det = sum(len(r["labels"]) for r in pred.records)
    print(f"{args.images} images {args.size[0]}x{args.size[1]}, {gt.n_objects} ground truths, {n_det} detections "
          "(ground truth + predictions read, results checked equal)")
    print(f"{'layout':<22} {'median s':>9} {'x COCO':>7}")
    for name, t in rows:
        print(f"{name:<22} {t:>9.3f} {t / t_coco:>7.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
