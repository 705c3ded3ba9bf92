"""Reading ground truth: the VOC, DOTA, CVAT, LabelMe and YOLO readers against the COCO JSON reader.

Data (fixed seed): N images (default 2000; ``--quick`` 300) of 640 x 480 with
0-12 axis-aligned boxes each (about 6 on average) in 5 classes.  The same
boxes are written as one COCO JSON (``write_coco_gt``), a VOC ``Annotations/``
folder (``write_voc``), a DOTA ``labelTxt/`` folder (``write_dota``), a YOLO
folder with a sizes file (``convert(..., to="yolo")``), one CVAT for images
XML and one LabelMe JSON per image (written here as those tools write them).

Before timing, every reader's boxes and class names are checked equal to the
COCO reader's (to 1e-9 px: YOLO's normalized text rounds).  Timed: the
median of ``--repeat`` full reads (``load_ground_truth``, format detection
included); ``x coco`` = the reader's time / the COCO JSON reader's time (one
file per image costs a file open each: that is the price of the layout).

Run:  python benchmarks/bench_readers.py [--quick] [--repeat 3] [--images N]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import warnings
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from detmetrics.io import DetectionData, convert, load_ground_truth, write_coco_gt, write_dota, write_voc

from _common import median_time, print_table

CLASSES = ("bus", "cone", "rider", "sign", "truck")


def make_data(n_images: int, seed: int = 0) -> DetectionData:
    rng = np.random.default_rng(seed)
    records = []
    for _ in range(n_images):
        n = int(rng.integers(0, 13))
        xy = (rng.uniform(0, 1, size=(n, 2)) * [500, 340]).round(2)
        wh = rng.uniform(4, 140, size=(n, 2)).round(2)
        boxes = np.column_stack([xy, np.minimum(wh, np.array([640, 480]) - xy)])
        records.append({"boxes": boxes, "labels": rng.integers(1, 6, size=n).astype(np.int64),
                        "iscrowd": np.zeros(n, np.uint8), "area": boxes[:, 2] * boxes[:, 3],
                        "difficult": np.zeros(n, np.uint8)})
    return DetectionData(records=records, image_ids=list(range(1, n_images + 1)),
                         file_names=[f"{k:06d}.jpg" for k in range(1, n_images + 1)],
                         class_names={i + 1: c for i, c in enumerate(CLASSES)},
                         image_sizes=np.tile([640.0, 480.0], (n_images, 1)), source="voc")


def write_cvat(data: DetectionData, path: Path) -> None:
    out = ['<?xml version="1.0" encoding="utf-8"?>', "<annotations>", "  <version>1.1</version>", "  <meta><task>",
           "    <labels>"] + [f"      <label><name>{c}</name><type>rectangle</type></label>" for c in CLASSES]
    out += ["    </labels>", "  </task></meta>"]
    for k, (name, record) in enumerate(zip(data.file_names, data.records)):
        out.append(f'  <image id="{k}" name="{name}" width="640" height="480">')
        for (x, y, w, h), label in zip(record["boxes"].tolist(), record["labels"].tolist()):
            out.append(f'    <box label="{data.class_names[label]}" source="manual" occluded="0" xtl="{x!r}" '
                       f'ytl="{y!r}" xbr="{x + w!r}" ybr="{y + h!r}" z_order="0"></box>')
        out.append("  </image>")
    path.write_text("\n".join(out + ["</annotations>"]) + "\n")


def write_labelme(data: DetectionData, folder: Path) -> None:
    folder.mkdir()
    for name, record in zip(data.file_names, data.records):
        shapes = [{"label": data.class_names[label], "points": [[x, y], [x + w, y + h]], "group_id": None,
                   "description": "", "shape_type": "rectangle", "flags": {}, "mask": None}
                  for (x, y, w, h), label in zip(record["boxes"].tolist(), record["labels"].tolist())]
        doc = {"version": "5.4.1", "flags": {}, "shapes": shapes, "imagePath": name, "imageData": None,
               "imageHeight": 480, "imageWidth": 640}
        (folder / (Path(name).stem + ".json")).write_text(json.dumps(doc, indent=2))


def same(a: DetectionData, b: DetectionData) -> None:
    """Boxes (as corners) and class names per image, by file stem, to 1e-9 px."""
    def table(d):
        out = {}
        for name, r in zip(d.file_names, d.records):
            b = np.asarray(r["boxes"], dtype=np.float64)
            if d.obb:
                lo, hi = b.min(axis=1), b.max(axis=1)
                b = np.column_stack([lo, hi - lo]) if len(b) else np.zeros((0, 4))
            out[Path(name).stem] = (b, [d.class_names[int(c)] for c in r["labels"]])
        return out

    ta, tb = table(a), table(b)
    assert ta.keys() == tb.keys()
    for key in ta:
        assert ta[key][1] == tb[key][1], key
        np.testing.assert_allclose(ta[key][0], tb[key][0], rtol=0, atol=1e-9)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--images", type=int)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    n = args.images or (300 if args.quick else 2000)
    data = make_data(n)
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        write_coco_gt(data, root / "coco.json")
        write_voc(data, root / "voc")
        write_dota(data, root / "dota")
        (root / "dota" / "sizes.txt").write_text("".join(f"{name} 640 480\n" for name in data.file_names))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            convert(root / "coco.json", root / "yolo", to="yolo")
        write_cvat(data, root / "cvat.xml")
        write_labelme(data, root / "labelme")
        sources = {
            "COCO JSON": (root / "coco.json", {}),
            "PASCAL VOC XML": (root / "voc", {}),
            "DOTA txt": (root / "dota", {"sizes": root / "dota" / "sizes.txt"}),
            "YOLO txt (sizes file)": (root / "yolo", {"sizes": root / "yolo" / "sizes.txt"}),
            "CVAT for images XML": (root / "cvat.xml", {}),
            "LabelMe JSON": (root / "labelme", {}),
        }
        reference = load_ground_truth(root / "coco.json")
        for path, kwargs in sources.values():
            same(reference, load_ground_truth(path, **kwargs))
        times = {name: median_time(lambda p=path, k=kwargs: load_ground_truth(p, **k), repeat=args.repeat)
                 for name, (path, kwargs) in sources.items()}
    base = times["COCO JSON"]
    rows = [{"reader": name, "images": n, "objects": reference.n_objects, "ms": t * 1e3, "x coco": t / base}
            for name, t in times.items()]
    print(f"reading {n} images, {reference.n_objects} boxes (median of {args.repeat}); contents checked equal")
    print_table(rows, ["reader", "images", "objects", "ms", "x coco"])


if __name__ == "__main__":
    main()
