"""Generate the small sample datasets bundled in detmetrics/data (deterministic, no downloads).

    python examples/make_sample.py            # rewrites detmetrics/data
    python examples/make_sample.py OUT_DIR    # writes elsewhere (the tests compare the two)

It writes

* ``yolo/``: a YOLO detect dataset in ultralytics' layout -- ``data.yaml``
  (``path: .``, ``val: images/val``, 4 class names), ``images/val/*.png``
  (tiny blank PNGs: only their size matters), ``labels/val/*.txt``
  (``class cx cy w h``; one image has no label file, one an empty one) and
  ``predictions/*.txt`` (``class cx cy w h conf``, as ``yolo predict
  save_txt=True save_conf=True`` writes them; some images have no file);
* ``yolo-obb/``: the same for oriented boxes (``class x1 y1 ... x4 y4``),
  without images but with a sizes file ``val_sizes.txt``;
* ``coco/instances_val.json`` and ``coco/results.json``: the ``yolo/``
  sample converted with :func:`detmetrics.io.write_coco_gt` /
  :func:`~detmetrics.io.write_coco_results` (class ``i`` -> category ``i + 1``);
* ``coco/instances_val_crowd.json``: ``instances_val.json`` with three crowd
  regions (``iscrowd: 1``) over false positives of the predictions, the
  ground truth of ``detmetrics explain-gap``'s example in docs/protocols.md.

The detections are noisy copies of the ground truth plus false positives,
with scores on a coarse grid (so ties occur) and a class ("bicycle") that is
predicted but never labelled.
"""

from __future__ import annotations

import math
import random
import struct
import sys
import zlib
from pathlib import Path

CLASSES = ["person", "car", "dog", "bicycle"]
OBB_CLASSES = ["plane", "ship"]
SIZES = [
    (640, 480), (640, 480), (480, 640), (1280, 720), (640, 427), (500, 375),
    (640, 640), (800, 600), (640, 480), (1024, 768), (320, 240), (640, 360),
]


def png_bytes(width: int, height: int) -> bytes:
    """A blank 8-bit grayscale PNG of the given size (a few hundred bytes)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    raw = b"".join(b"\x00" + b"\x80" * width for _ in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(raw, 9)) + chunk(b"IEND", b"")


def fmt(value: float) -> str:
    return f"{value:.6g}"


def clip01(value: float) -> float:
    return min(max(value, 0.0), 1.0)


def make_detect(root: Path, rng: random.Random) -> None:
    (root / "images" / "val").mkdir(parents=True, exist_ok=True)
    (root / "labels" / "val").mkdir(parents=True, exist_ok=True)
    (root / "predictions").mkdir(parents=True, exist_ok=True)
    names = "\n".join(f"  {i}: {n}" for i, n in enumerate(CLASSES))
    (root / "data.yaml").write_text(
        "# detmetrics sample: 12 images, YOLO detect layout (ultralytics)\n"
        f"path: .\ntrain: images/val\nval: images/val\nnames:\n{names}\n"
    )
    for k, (width, height) in enumerate(SIZES):
        stem = f"img{k + 1:02d}"
        (root / "images" / "val" / f"{stem}.png").write_bytes(png_bytes(width, height))
        n_objects = [3, 5, 2, 8, 0, 4, 1, 6, 3, 7, 2, 0][k]
        objects = []
        for _ in range(n_objects):
            cls = rng.choice([0, 0, 0, 1, 1, 2])
            side = rng.choice([16, 24, 40, 64, 96, 128, 200, 320])  # pixels: small, medium, large
            w = min(side * (0.6 + 0.8 * rng.random()), width * 0.9) / width
            h = min(side * (0.6 + 0.8 * rng.random()), height * 0.9) / height
            cx = w / 2 + rng.random() * (1 - w)
            cy = h / 2 + rng.random() * (1 - h)
            objects.append((cls, cx, cy, w, h))
        if k != 4:  # img05 has no label file at all (no objects); img12 has an empty one
            lines = [f"{c} {fmt(cx)} {fmt(cy)} {fmt(w)} {fmt(h)}" for c, cx, cy, w, h in objects]
            (root / "labels" / "val" / f"{stem}.txt").write_text("".join(line + "\n" for line in lines))
        predictions = []
        for cls, cx, cy, w, h in objects:
            if rng.random() < 0.15:
                continue  # missed
            if rng.random() < 0.1:
                cls = rng.choice([c for c in range(3) if c != cls])  # wrong class
            jitter = 0.25 if rng.random() < 0.25 else 0.06
            pcx = clip01(cx + w * jitter * (2 * rng.random() - 1))
            pcy = clip01(cy + h * jitter * (2 * rng.random() - 1))
            pw = w * (1 + jitter * (2 * rng.random() - 1))
            ph = h * (1 + jitter * (2 * rng.random() - 1))
            conf = round(0.4 + 0.6 * rng.random(), 2)
            predictions.append((cls, pcx, pcy, pw, ph, conf))
            if rng.random() < 0.15:  # a duplicate with a lower score
                predictions.append((cls, clip01(pcx + 0.01), pcy, pw, ph, round(conf * 0.5, 2)))
        for _ in range(rng.choice([0, 1, 1, 2, 3])):  # false positives
            w, h = 0.05 + 0.2 * rng.random(), 0.05 + 0.2 * rng.random()
            cls = rng.choice([0, 1, 2, 3])
            predictions.append((cls, w / 2 + rng.random() * (1 - w), h / 2 + rng.random() * (1 - h), w, h,
                                round(0.05 + 0.5 * rng.random(), 2)))
        if predictions and k not in (2, 8):  # img03 and img09: no prediction file (no detections)
            predictions.sort(key=lambda p: -p[5])
            lines = [f"{c} {fmt(cx)} {fmt(cy)} {fmt(w)} {fmt(h)} {fmt(s)}" for c, cx, cy, w, h, s in predictions]
            (root / "predictions" / f"{stem}.txt").write_text("".join(line + "\n" for line in lines))


def corners(cx, cy, w, h, angle):
    c, s = math.cos(angle), math.sin(angle)
    return [(cx + c * dx - s * dy, cy + s * dx + c * dy) for dx, dy in ((w / 2, h / 2), (-w / 2, h / 2), (-w / 2, -h / 2), (w / 2, -h / 2))]


def make_obb(root: Path, rng: random.Random) -> None:
    (root / "labels" / "val").mkdir(parents=True, exist_ok=True)
    (root / "predictions").mkdir(parents=True, exist_ok=True)
    names = "\n".join(f"  {i}: {n}" for i, n in enumerate(OBB_CLASSES))
    (root / "data.yaml").write_text(
        "# detmetrics sample: 6 images, YOLO-OBB layout; no images, sizes in val_sizes.txt\n"
        f"path: .\ntrain: images/val\nval: images/val\nnames:\n{names}\n"
    )
    sizes = [(1024, 1024), (800, 800), (1024, 768), (640, 640), (1024, 1024), (512, 512)]
    (root / "val_sizes.txt").write_text(
        "# file name, width, height\n" + "".join(f"tile{k + 1}.png {w} {h}\n" for k, (w, h) in enumerate(sizes))
    )
    for k, (width, height) in enumerate(sizes):
        stem = f"tile{k + 1}"
        labels, predictions = [], []
        for _ in range([4, 6, 3, 0, 5, 2][k]):
            cls = rng.choice([0, 0, 1])
            w, h = 20 + 150 * rng.random(), 10 + 60 * rng.random()
            angle = math.pi * rng.random()
            margin = (w + h) / 2
            cx = margin + rng.random() * (width - 2 * margin)
            cy = margin + rng.random() * (height - 2 * margin)
            labels.append((cls, corners(cx, cy, w, h, angle)))
            if rng.random() < 0.85:
                da = 0.15 * (2 * rng.random() - 1)
                pts = corners(cx + 0.05 * w * (2 * rng.random() - 1), cy + 0.05 * h * (2 * rng.random() - 1),
                              w * (0.9 + 0.2 * rng.random()), h * (0.9 + 0.2 * rng.random()), angle + da)
                predictions.append((cls, pts, round(0.3 + 0.7 * rng.random(), 2)))
        if rng.random() < 0.7:
            w, h = 30 + 80 * rng.random(), 15 + 30 * rng.random()
            pts = corners(width / 2, height / 2, w, h, math.pi * rng.random())
            predictions.append((rng.choice([0, 1]), pts, round(0.05 + 0.4 * rng.random(), 2)))

        def line(cls, pts, conf=None):
            coords = " ".join(f"{fmt(x / width)} {fmt(y / height)}" for x, y in pts)
            return f"{cls} {coords}" + ("" if conf is None else f" {fmt(conf)}")

        (root / "labels" / "val" / f"{stem}.txt").write_text("".join(line(c, p) + "\n" for c, p in labels))
        if predictions:
            predictions.sort(key=lambda p: -p[2])
            (root / "predictions" / f"{stem}.txt").write_text("".join(line(c, p, s) + "\n" for c, p, s in predictions))


def make_coco(root: Path) -> None:
    from detmetrics.io import read_yolo_dataset, read_yolo_predictions, write_coco_gt, write_coco_results

    (root / "coco").mkdir(parents=True, exist_ok=True)
    gt = read_yolo_dataset(root / "yolo")
    pred = read_yolo_predictions(root / "yolo" / "predictions", gt)
    write_coco_gt(gt, root / "coco" / "instances_val.json")
    write_coco_results(pred, root / "coco" / "results.json")
    make_coco_crowd(root)


#: (image id, category id, xywh box): crowd regions over false positives of the sample's predictions
CROWDS = [(2, 1, [160, 360, 200, 110]), (4, 1, [1200, 500, 80, 220]), (6, 2, [90, 140, 280, 200])]


def make_coco_crowd(root: Path) -> None:
    import json

    gt = json.loads((root / "coco" / "instances_val.json").read_text())
    next_id = max(a["id"] for a in gt["annotations"]) + 1
    for k, (image_id, category_id, box) in enumerate(CROWDS):
        gt["annotations"].append({"id": next_id + k, "image_id": image_id, "category_id": category_id, "bbox": box,
                                  "area": float(box[2] * box[3]), "iscrowd": 1})
    (root / "coco" / "instances_val_crowd.json").write_text(json.dumps(gt, separators=(",", ":")))


def main(out=None) -> Path:
    root = Path(out) if out else Path(__file__).resolve().parent.parent / "detmetrics" / "data"
    make_detect(root / "yolo", random.Random(20240601))
    make_obb(root / "yolo-obb", random.Random(7))
    make_coco(root)
    return root


if __name__ == "__main__":
    print(f"sample written to {main(sys.argv[1] if len(sys.argv) > 1 else None)}")
