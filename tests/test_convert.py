"""``detmetrics.io.convert`` / ``detmetrics convert``: a round trip for every pair of formats.

Each source is written by the test the way its tool writes it (a COCO JSON with ``supercategory``, an
ultralytics label folder with ``%g`` numbers, DOTA ``labelTxt`` with its header lines, VOC2007 devkit XML).
For every ordered pair (A, B): read A -> convert to B -> read B gives the same images, boxes, class names
(and ``difficult`` flags and image sizes where both formats hold them), and B -> A gives A's numbers back.
"""

import json
import warnings
from pathlib import Path

import numpy as np
import pytest
from test_readers import cli_error, voc_xml

from detmetrics.cli import main
from detmetrics.io import (
    convert,
    detect_format,
    load_ground_truth,
    load_predictions,
    read_coco_gt,
    read_dota,
    read_voc,
    read_yolo_dataset,
    sample_path,
)
from detmetrics.io.convert import COCO80_NAMES

CLASSES = ("cone", "sign", "truck")  # sorted, and in none of the VOC / DOTA standard lists
#: (file name, (width, height), objects (class, xyxy, difficult))
IMAGES = [
    ("a01.jpg", (640, 480), [("cone", (10, 20, 110, 220), 0), ("truck", (300, 100, 500, 400), 1)]),
    ("a02.jpg", (800, 600), [("sign", (0, 0, 800, 600), 0), ("cone", (5, 5, 15, 25), 0),
                             ("sign", (100.5, 100.25, 150.75, 120.5), 0)]),
    ("a03.jpg", (320, 240), []),
]
FORMATS = ("coco", "yolo", "yolo-obb", "dota", "voc")
HOLDS_DIFFICULT = {"dota", "voc"}
HOLDS_SIZES = {"coco", "yolo", "yolo-obb", "voc"}  # DOTA: in the sizes.txt written next to it


def corners(box):
    x1, y1, x2, y2 = box
    return [(x1, y1), (x2, y1), (x2, y2), (x1, y2)]


def write_source(fmt, root: Path) -> Path:
    """The canonical dataset written as ``fmt``'s tool writes it; returns the path to read."""
    root.mkdir(parents=True)
    if fmt == "coco":
        coco = {"info": {"description": "test"}, "licenses": [], "images": [], "annotations": [],
                "categories": [{"id": i + 1, "name": n, "supercategory": "none"} for i, n in enumerate(CLASSES)]}
        for k, (name, (w, h), objects) in enumerate(IMAGES):
            coco["images"].append({"id": k + 1, "file_name": name, "width": w, "height": h})
            for cls, (x1, y1, x2, y2), _ in objects:
                coco["annotations"].append({"id": len(coco["annotations"]) + 1, "image_id": k + 1,
                                            "category_id": CLASSES.index(cls) + 1, "bbox": [x1, y1, x2 - x1, y2 - y1],
                                            "area": (x2 - x1) * (y2 - y1), "iscrowd": 0, "segmentation": []})
        (root / "instances.json").write_text(json.dumps(coco))
        return root / "instances.json"
    if fmt in ("yolo", "yolo-obb"):
        (root / "labels" / "val").mkdir(parents=True)
        (root / "data.yaml").write_text("path: .\nval: images/val\nnames:\n" +
                                        "".join(f"  {i}: {n}\n" for i, n in enumerate(CLASSES)))
        (root / "sizes.txt").write_text("".join(f"{n} {w} {h}\n" for n, (w, h), _ in IMAGES))
        for name, (w, h), objects in IMAGES:
            lines = []
            for cls, (x1, y1, x2, y2), _ in objects:
                if fmt == "yolo":
                    values = ((x1 + x2) / 2 / w, (y1 + y2) / 2 / h, (x2 - x1) / w, (y2 - y1) / h)
                else:
                    values = [v for x, y in corners((x1, y1, x2, y2)) for v in (x / w, y / h)]
                lines.append(("%g " * (len(values) + 1)).rstrip() % (CLASSES.index(cls), *values))  # ultralytics
            (root / "labels" / "val" / (Path(name).stem + ".txt")).write_text("".join(f"{line}\n" for line in lines))
        return root
    if fmt == "dota":
        (root / "labelTxt").mkdir()
        (root / "sizes.txt").write_text("".join(f"{n} {w} {h}\n" for n, (w, h), _ in IMAGES))
        for name, _, objects in IMAGES:
            lines = ["imagesource:GoogleEarth", "gsd:0.1"]
            for cls, box, difficult in objects:
                lines.append(" ".join(f"{v:g}" for xy in corners(box) for v in xy) + f" {cls} {difficult}")
            (root / "labelTxt" / (Path(name).stem + ".txt")).write_text("\n".join(lines) + "\n")
        return root
    (root / "Annotations").mkdir()
    for name, size, objects in IMAGES:
        objs = [(cls, box, difficult, 0) for cls, box, difficult in objects]
        (root / "Annotations" / (Path(name).stem + ".xml")).write_text(voc_xml(name, size, objs))
    return root


def read_target(fmt, path: Path):
    sizes = path / "sizes.txt" if fmt in ("yolo", "yolo-obb", "dota") and (path / "sizes.txt").exists() else None
    if fmt == "coco":
        return read_coco_gt(path)
    if fmt in ("yolo", "yolo-obb"):
        return read_yolo_dataset(path, sizes=sizes)
    if fmt == "dota":
        return read_dota(path, sizes=sizes)
    return read_voc(path)


def target_path(fmt, root: Path) -> Path:
    return root / "out.json" if fmt == "coco" else root / "out"


def read_source(fmt, path: Path):
    return read_target(fmt, path)


def objects(data):
    """{stem: [(class name, (4, 2) corners)]} and {stem: difficult flags} and {stem: (w, h)}."""
    boxes, difficult, sizes = {}, {}, {}
    for k, (name, record) in enumerate(zip(data.file_names, data.records)):
        stem = Path(name).stem
        b = np.asarray(record["boxes"], dtype=np.float64)
        quads = b.reshape(-1, 4, 2) if data.obb else np.array([corners((x, y, x + w, y + h)) for x, y, w, h in b])
        boxes[stem] = [(data.class_names[int(c)], q.reshape(4, 2)) for c, q in zip(record["labels"], quads)]
        difficult[stem] = np.asarray(record.get("difficult", np.zeros(len(b)))).tolist()
        if data.image_sizes is not None:
            sizes[stem] = tuple(data.image_sizes[k].tolist())
    return boxes, difficult, sizes


def assert_same(a, b, *, difficult: bool, sizes: bool):
    boxes_a, diff_a, sizes_a = objects(a)
    boxes_b, diff_b, sizes_b = objects(b)
    assert sorted(boxes_a) == sorted(boxes_b)
    for stem in boxes_a:
        assert [n for n, _ in boxes_a[stem]] == [n for n, _ in boxes_b[stem]], stem
        for (_, qa), (_, qb) in zip(boxes_a[stem], boxes_b[stem]):
            np.testing.assert_allclose(qa, qb, rtol=1e-12, atol=1e-9)
        if difficult:
            assert diff_a[stem] == diff_b[stem], stem
    if sizes:
        assert sizes_a == sizes_b


def quiet_convert(*args, **kwargs):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        report = convert(*args, **kwargs)
    return report, [str(w.message) for w in caught]


PAIRS = [(a, b) for a in FORMATS for b in FORMATS if a != b]


@pytest.mark.parametrize("src_fmt, dst_fmt", PAIRS, ids=[f"{a}->{b}" for a, b in PAIRS])
def test_round_trip(tmp_path, src_fmt, dst_fmt):
    src = write_source(src_fmt, tmp_path / "src")
    sizes = tmp_path / "src" / "sizes.txt" if src_fmt in ("dota", "yolo", "yolo-obb") else None
    original = load_ground_truth(src, sizes=sizes)
    assert original.n_objects == 5 and len(original) == 3
    dst = target_path(dst_fmt, tmp_path / "b")
    report, messages = quiet_convert(src, dst, to=dst_fmt, sizes=sizes)
    assert report.n_images == 3 and report.n_objects == 5
    converted = read_target(dst_fmt, dst)
    assert detect_format(dst) == ("yolo" if dst_fmt == "yolo-obb" else dst_fmt)
    both_difficult = src_fmt in HOLDS_DIFFICULT and dst_fmt in HOLDS_DIFFICULT
    assert_same(original, converted, difficult=both_difficult, sizes=True)
    if src_fmt in HOLDS_DIFFICULT and dst_fmt not in HOLDS_DIFFICULT:  # the loss is said, not silent
        assert any("1 difficult objects written as ordinary objects" in m for m in messages), messages
    else:
        assert not any("difficult" in m for m in messages), messages
    # and back
    back_path = target_path(src_fmt, tmp_path / "c")
    quiet_convert(dst, back_path, to=src_fmt, sizes=dst / "sizes.txt" if dst_fmt in ("dota", "yolo", "yolo-obb") else None)
    back = read_target(src_fmt, back_path)
    assert_same(original, back, difficult=both_difficult, sizes=src_fmt in HOLDS_SIZES)
    if src_fmt in ("coco", "voc"):
        assert back.class_names == original.class_names


def test_eval_on_converted_dataset_equals_eval_on_source(tmp_path, capsys):
    """The bundled YOLO sample converted to VOC and to COCO scores the same against the same predictions."""
    src, pred = sample_path("yolo"), sample_path("yolo") / "predictions"
    stats = {}
    for fmt, dst in (("yolo", src), ("voc", tmp_path / "voc"), ("coco", tmp_path / "gt.json")):
        if fmt != "yolo":
            capsys.readouterr()
            assert main(["convert", str(src), str(dst), "--to", fmt]) == 0
            out = capsys.readouterr().out
            assert "12 images, 41 objects" in out
        assert main(["eval", str(dst), str(pred), "--json", str(tmp_path / f"{fmt}.json")]) == 0
        stats[fmt] = json.loads((tmp_path / f"{fmt}.json").read_text())["stats"]
    # the class order survives VOC (labelmap.txt), although these names are all VOC classes
    assert read_voc(tmp_path / "voc").class_names == {1: "person", 2: "car", 3: "dog", 4: "bicycle"}
    np.testing.assert_allclose(stats["voc"], stats["yolo"], rtol=0, atol=1e-12)
    np.testing.assert_allclose(stats["coco"], stats["yolo"], rtol=0, atol=1e-12)


def test_yolo_class_index_is_the_position_of_the_sorted_category_id(tmp_path):
    coco = {"images": [{"id": 1, "file_name": "x.jpg", "width": 100, "height": 100}],
            "annotations": [{"id": 1, "image_id": 1, "category_id": 7, "bbox": [0, 0, 10, 10]},
                            {"id": 2, "image_id": 1, "category_id": 3, "bbox": [20, 20, 10, 10]}],
            "categories": [{"id": 7, "name": "seven"}, {"id": 3, "name": "three"}, {"id": 5, "name": "five"}]}
    (tmp_path / "c.json").write_text(json.dumps(coco))
    convert(tmp_path / "c.json", tmp_path / "y", to="yolo")
    assert (tmp_path / "y" / "labels" / "val" / "x.txt").read_text().split("\n")[0].split()[0] == "2"  # id 7 -> 2
    gt = read_yolo_dataset(tmp_path / "y", sizes=tmp_path / "y" / "sizes.txt")
    assert gt.class_names == {0: "three", 1: "five", 2: "seven"}
    np.testing.assert_array_equal(gt.records[0]["labels"], [2, 0])


def test_coco80_uses_the_91_id_table_both_ways(tmp_path):
    from detmetrics.io.coco import COCO80_TO_COCO91

    root = tmp_path / "yolo"
    (root / "labels" / "val").mkdir(parents=True)
    (root / "data.yaml").write_text("path: .\nval: images/val\nnames:\n" +
                                    "".join(f"  {i}: {n}\n" for i, n in enumerate(COCO80_NAMES)))
    (root / "sizes.txt").write_text("000000000139.jpg 640 426\n")
    (root / "labels" / "val" / "000000000139.txt").write_text("0 0.5 0.5 0.2 0.2\n79 0.1 0.1 0.1 0.1\n"
                                                              "11 0.7 0.7 0.1 0.1\n")
    report, messages = quiet_convert(root, tmp_path / "coco.json", to="coco", sizes=root / "sizes.txt")
    coco = json.loads((tmp_path / "coco.json").read_text())
    assert [a["category_id"] for a in coco["annotations"]] == [1, 90, 13]  # person, toothbrush, stop sign
    assert [c["id"] for c in coco["categories"]] == list(COCO80_TO_COCO91)
    assert any("COCO's 91-id" in m for m in messages)
    convert(tmp_path / "coco.json", tmp_path / "back", to="yolo")
    assert (tmp_path / "back" / "labels" / "val" / "000000000139.txt").read_text().split()[::5] == ["0", "79", "11"]
    # another class list keeps index + 1
    (root / "data.yaml").write_text("path: .\nval: images/val\nnames: [a, b]\n")
    (root / "labels" / "val" / "000000000139.txt").write_text("1 0.5 0.5 0.2 0.2\n")
    convert(root, tmp_path / "ab.json", to="coco", sizes=root / "sizes.txt")
    assert json.loads((tmp_path / "ab.json").read_text())["annotations"][0]["category_id"] == 2


def test_crowd_and_difficult_losses_are_reported(tmp_path):
    coco = {"images": [{"id": 1, "file_name": "x.jpg", "width": 100, "height": 100}],
            "annotations": [{"id": 1, "image_id": 1, "category_id": 1, "bbox": [0, 0, 10, 10], "iscrowd": 1},
                            {"id": 2, "image_id": 1, "category_id": 1, "bbox": [20, 20, 10, 10], "area": 50.0}],
            "categories": [{"id": 1, "name": "a"}]}
    (tmp_path / "c.json").write_text(json.dumps(coco))
    with pytest.warns(UserWarning, match=r"1 crowd regions left out \(voc has no crowd flag\).*1 objects have a "
                                         r"COCO 'area' other than their box area"):
        report = convert(tmp_path / "c.json", tmp_path / "voc", to="voc")
    assert report.n_objects == 1 and len(report.notes) == 2
    src = write_source("voc", tmp_path / "vocsrc")
    report, messages = quiet_convert(src, tmp_path / "drop.json", to="coco", difficult="drop")
    assert report.n_objects == 4 and any("1 difficult objects left out" in m for m in messages)
    assert len(json.loads((tmp_path / "drop.json").read_text())["annotations"]) == 4


def test_rotated_boxes(tmp_path):
    root = tmp_path / "dota"
    (root / "labelTxt").mkdir(parents=True)
    (root / "labelTxt" / "P1.txt").write_text("100 50 150 100 100 150 50 100 ship 1\n10 10 30 10 30 20 10 20 ship 0\n")
    sizes = {"P1.png": (200, 200)}
    report, messages = quiet_convert(root, tmp_path / "obb", to="yolo-obb", sizes=sizes)
    obb = read_yolo_dataset(tmp_path / "obb", sizes=tmp_path / "obb" / "sizes.txt")
    original = read_dota(root, sizes=sizes)
    assert_same(original, obb, difficult=False, sizes=True)
    report, messages = quiet_convert(root, tmp_path / "voc", to="voc", sizes=sizes)
    assert any("enclosing axis-aligned" in m for m in messages)
    np.testing.assert_array_equal(read_voc(tmp_path / "voc").records[0]["boxes"][0], [50, 50, 100, 100])
    report, messages = quiet_convert(root, tmp_path / "o.json", to="coco", sizes=sizes)
    ann = json.loads((tmp_path / "o.json").read_text())["annotations"][0]
    assert ann["segmentation"] == [[100, 50, 150, 100, 100, 150, 50, 100]] and ann["area"] == 5000


def test_dota_target_renames_class_names_with_spaces(tmp_path):
    report, messages = quiet_convert(sample_path("coco-gt"), tmp_path / "d", to="dota")
    assert not messages  # the sample's names have no spaces
    coco = json.loads(sample_path("coco-gt").read_text())
    coco["categories"][0]["name"] = "traffic light"
    (tmp_path / "c.json").write_text(json.dumps(coco))
    report, messages = quiet_convert(tmp_path / "c.json", tmp_path / "d2", to="dota")
    assert any("'traffic light' -> 'traffic-light'" in m for m in messages)
    assert "traffic-light" in read_dota(tmp_path / "d2").class_names.values()


def test_dota_task1_predictions_score_like_coco_results(tmp_path, capsys):
    """The sample converted to DOTA, with its predictions as Task1 files, scores like the YOLO-OBB pair."""
    from detmetrics.io import read_yolo_predictions, write_dota_results

    gt = read_yolo_dataset(sample_path("yolo-obb"), sizes=sample_path("yolo-obb") / "val_sizes.txt")
    pred = read_yolo_predictions(sample_path("yolo-obb") / "predictions", gt)
    quiet_convert(sample_path("yolo-obb"), tmp_path / "dota", to="dota", sizes=sample_path("yolo-obb") / "val_sizes.txt")
    write_dota_results(pred, tmp_path / "task1")
    dota_gt = read_dota(tmp_path / "dota", sizes=tmp_path / "dota" / "sizes.txt")
    dota_pred = load_predictions(tmp_path / "task1", dota_gt)
    assert dota_pred.n_objects == pred.n_objects
    from detmetrics import mean_ap

    a = mean_ap(pred.records, gt.records, **gt.mean_ap_kwargs())
    b = mean_ap(dota_pred.records, dota_gt.records, **dota_gt.mean_ap_kwargs())
    np.testing.assert_allclose(b.stats, a.stats, rtol=0, atol=1e-12)


# ----------------------------------------------------------------------------------------------
# bad input


def test_bad_input_is_a_named_error(tmp_path):
    src = write_source("voc", tmp_path / "voc")
    with pytest.raises(ValueError, match="to must be one of"):
        convert(src, tmp_path / "x", to="kitti")
    with pytest.raises(ValueError, match="writes one .json file"):
        convert(src, tmp_path / "x", to="coco")
    with pytest.raises(ValueError, match="difficult must be"):
        convert(src, tmp_path / "x", to="yolo", difficult="maybe")
    with pytest.raises(TypeError, match="overwrite must be"):
        convert(src, tmp_path / "x", to="yolo", overwrite="yes")
    with pytest.raises(TypeError):
        convert(object(), tmp_path / "x", to="yolo")
    dota = write_source("dota", tmp_path / "dota")
    with pytest.raises(ValueError, match="the source has none: pass sizes="):
        convert(dota, tmp_path / "y", to="yolo")
    quiet_convert(src, tmp_path / "y2", to="yolo")
    with pytest.raises(ValueError, match="already exists and is not empty; pass overwrite=True"):
        quiet_convert(src, tmp_path / "y2", to="yolo")
    quiet_convert(src, tmp_path / "y2", to="yolo", overwrite=True)


def test_images_sharing_a_stem_are_refused_by_the_per_image_writers(tmp_path):
    from detmetrics.io import write_dota, write_voc

    coco = {"images": [{"id": 1, "file_name": "a/x.jpg", "width": 10, "height": 10},
                       {"id": 2, "file_name": "b/x.jpg", "width": 10, "height": 10}],
            "annotations": [], "categories": [{"id": 1, "name": "a"}]}
    gt = read_coco_gt(coco)
    for write in (write_voc, write_dota):
        with pytest.raises(ValueError, match=r"'a/x\.jpg' and 'b/x\.jpg' share the stem 'x'"):
            write(gt, tmp_path / write.__name__)
    (tmp_path / "c.json").write_text(json.dumps(coco))
    with pytest.raises(ValueError, match="share the stem"):
        convert(tmp_path / "c.json", tmp_path / "y", to="yolo")


@pytest.mark.parametrize(
    "args, match",
    [
        (["convert", "{tmp}/missing", "{tmp}/out", "--to", "voc"], "does not exist"),
        (["convert", "{voc}", "{tmp}/out", "--to", "kitti"], "invalid choice: 'kitti'"),
        (["convert", "{voc}", "{tmp}/out"], "the following arguments are required: --to"),
        (["convert", "{voc}", "{tmp}/out", "--to", "coco"], "writes one .json file"),
        (["convert", "{dota}", "{tmp}/out", "--to", "yolo"], "pass sizes="),
        (["convert", "{bad}", "{tmp}/out", "--to", "yolo"], "bndbox/xmax"),
    ],
)
def test_cli_convert_bad_input_exit_2_one_line(tmp_path, capsys, args, match):
    voc = write_source("voc", tmp_path / "voc")
    dota = write_source("dota", tmp_path / "dota")
    bad = tmp_path / "bad"
    (bad / "Annotations").mkdir(parents=True)
    (bad / "Annotations" / "a.xml").write_text(voc_xml("a.jpg", (10, 10), [("x", (5, 1, 2, 3), 0, 0)]))
    filled = [a.format(tmp=tmp_path, voc=voc, dota=dota, bad=bad) for a in args]
    try:
        line = cli_error(capsys, *filled)
    except SystemExit as exc:  # argparse errors exit through parser.exit
        assert exc.code == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1, err
        line = err[0]
    assert match in line, line


def test_cli_convert_prints_losses_as_warnings(tmp_path, capsys):
    src = write_source("voc", tmp_path / "voc")
    capsys.readouterr()
    assert main(["convert", str(src), str(tmp_path / "y"), "--to", "yolo"]) == 0
    captured = capsys.readouterr()
    assert "3 images, 5 objects" in captured.out and "--sizes" in captured.out
    warning = [line for line in captured.err.splitlines() if line.startswith("detmetrics: warning:")]
    assert len(warning) == 1 and "1 difficult objects written as ordinary objects" in warning[0]


# ----------------------------------------------------------------------------------------------
# predictions

# (oriented: the COCO pair of a DOTA ground truth is axis-aligned, so COCO results are not an oriented format here)
PRED_FORMATS = {"axis": ("coco", "yolo", "voc"), "obb": ("yolo", "dota")}


def canonical_predictions(root: Path, kind: str):
    """Ground truth (VOC or DOTA, tool-written) and detections near its objects as a COCO results file
    (ultralytics' predictions.json style: image_id is the file stem) or DOTA Task1 files."""
    gt_fmt = "voc" if kind == "axis" else "dota"
    gt_path = write_source(gt_fmt, root / "gt")
    sizes = root / "gt" / "sizes.txt" if gt_fmt == "dota" else None
    rng = np.random.default_rng(3)
    results, task1 = [], {}
    for name, _, objects in IMAGES:
        for cls, (x1, y1, x2, y2), _ in objects:
            for _ in range(2):
                dx, dy = rng.uniform(-3, 3, size=2).round(3).tolist()
                score = round(float(rng.uniform(0.05, 1)), 6)
                box = [x1 + dx, y1 + dy, x2 - x1, y2 - y1]
                results.append({"image_id": Path(name).stem, "category_id": CLASSES.index(cls) + 1,
                                "bbox": box, "score": score})
                quad = [v for xy in corners((box[0], box[1], box[0] + box[2], box[1] + box[3])) for v in xy]
                task1.setdefault(cls, []).append(f"{Path(name).stem} {score!r} " + " ".join(map(repr, quad)) + "\n")
    if kind == "axis":
        (root / "pred.json").write_text(json.dumps(results))
        return gt_path, sizes, root / "pred.json", "coco"
    (root / "task1").mkdir()
    for cls, lines in task1.items():
        (root / "task1" / f"Task1_{cls}.txt").write_text("".join(lines))
    return gt_path, sizes, root / "task1", "dota"


def detection_sets(pred):
    """{stem: sorted [(class name, score, corners)]} of a predictions DetectionData."""
    out = {}
    for name, r in zip(pred.file_names, pred.records):
        b = np.asarray(r["boxes"], dtype=np.float64)
        quads = b.reshape(-1, 4, 2) if pred.obb else np.array([corners((x, y, x + w, y + h)) for x, y, w, h in b])
        rows = [(pred.class_names[int(c)], float(s), q.round(9).tolist()) for c, s, q in zip(r["labels"], r["scores"],
                                                                                             quads.reshape(-1, 4, 2))]
        out[Path(name).stem] = sorted(rows, key=lambda t: (t[0], t[1]))
    return out


def assert_same_detections(a, b):
    sa, sb = detection_sets(a), detection_sets(b)
    assert sa.keys() == sb.keys()
    for stem in sa:
        assert [t[:2] for t in sa[stem]] == [t[:2] for t in sb[stem]], stem
        for ta, tb in zip(sa[stem], sb[stem]):
            np.testing.assert_allclose(ta[2], tb[2], rtol=1e-12, atol=1e-9)


PRED_PAIRS = [(kind, a, b) for kind, fmts in PRED_FORMATS.items() for a in fmts for b in fmts if a != b]


@pytest.mark.parametrize("kind, src_fmt, dst_fmt", PRED_PAIRS, ids=[f"{k}:{a}->{b}" for k, a, b in PRED_PAIRS])
def test_predictions_round_trip(tmp_path, kind, src_fmt, dst_fmt):
    from detmetrics.io import convert_predictions

    gt_path, sizes, pred_path, pred_fmt = canonical_predictions(tmp_path, kind)
    gt = load_ground_truth(gt_path, sizes=sizes)
    quiet_convert(gt_path, tmp_path / "gt.json", to="coco", sizes=sizes)
    coco_gt = read_coco_gt(tmp_path / "gt.json")  # COCO results are written with this file's image ids

    def read(fmt, path):
        return load_predictions(path, coco_gt if fmt == "coco" else gt)

    def write(src, fmt_src, dst, fmt):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return convert_predictions(src, dst, ground_truth=coco_gt if fmt_src == "coco" else gt, to=fmt)

    def target(fmt, name):
        return tmp_path / f"{name}.json" if fmt == "coco" else tmp_path / name

    original = read(pred_fmt, pred_path)
    assert original.n_objects == 10
    src = pred_path
    if src_fmt != pred_fmt:
        src = target(src_fmt, "a")
        write(pred_path, pred_fmt, src, src_fmt)
    a = read(src_fmt, src)
    assert_same_detections(original, a)
    report = write(src, src_fmt, target(dst_fmt, "b"), dst_fmt)
    assert report.n_objects == 10
    b = read(dst_fmt, target(dst_fmt, "b"))
    assert_same_detections(a, b)
    write(target(dst_fmt, "b"), dst_fmt, target(src_fmt, "c"), src_fmt)
    assert_same_detections(a, read(src_fmt, target(src_fmt, "c")))


def test_cli_convert_predictions(tmp_path, capsys):
    gt, pred = sample_path("yolo"), sample_path("yolo") / "predictions"
    capsys.readouterr()
    assert main(["convert", str(pred), str(tmp_path / "voc_results"), "--to", "voc", "--gt", str(gt)]) == 0
    assert "43 detections" in capsys.readouterr().out
    stats = []
    for p in (pred, tmp_path / "voc_results"):
        assert main(["eval", str(gt), str(p), "--json", str(tmp_path / "r.json")]) == 0
        stats.append(json.loads((tmp_path / "r.json").read_text())["stats"])
    np.testing.assert_allclose(stats[1], stats[0], rtol=0, atol=1e-12)
    line = cli_error(capsys, "convert", str(pred), str(tmp_path / "x.json"), "--to", "coco", "--gt",
                     str(tmp_path / "missing"))
    assert "does not exist" in line


def test_yolo_predictions_against_coco_ground_truth_keep_its_category_ids():
    """Regression: YOLO txt predictions read against a COCO ground truth hold its category ids, and were
    marked as YOLO data, so write_coco_results added 1 to them (category 4 came out as 5)."""
    from detmetrics.io import read_yolo_predictions, write_coco_results

    gt = read_coco_gt(sample_path("coco-gt"))
    pred = read_yolo_predictions(sample_path("yolo") / "predictions", gt)
    assert {d["category_id"] for d in write_coco_results(pred)} <= set(gt.class_names)


def test_segment_dataset_converts_its_boxes_and_says_so(tmp_path):
    root = tmp_path / "seg"
    (root / "labels" / "val").mkdir(parents=True)
    (root / "data.yaml").write_text("path: .\nval: images/val\nnames: [a, b]\n")
    (root / "sizes.txt").write_text("a.jpg 100 100\n")
    (root / "labels" / "val" / "a.txt").write_text("1 0.1 0.1 0.5 0.1 0.5 0.5 0.3 0.6 0.1 0.5\n")
    for to, dst in (("voc", tmp_path / "voc"), ("coco", tmp_path / "c.json")):
        report, messages = quiet_convert(root, dst, to=to, sizes=root / "sizes.txt")
        assert any("masks not written" in m for m in messages), messages
    np.testing.assert_array_equal(read_voc(tmp_path / "voc").records[0]["boxes"], [[10, 10, 40, 50]])


def test_yolo_segment_predictions_against_coco_ground_truth_keep_its_category_ids(tmp_path):
    """The same regression for segment predictions (read by their own path)."""
    from detmetrics.io import DetectionData, read_yolo_predictions, write_coco_results

    gt = DetectionData(records=[{"boxes": np.zeros((0, 4)), "labels": np.zeros(0, np.int64)}], image_ids=[7],
                       file_names=["a.jpg"], class_names={3: "x", 9: "y"}, image_sizes=np.array([[100.0, 100.0]]),
                       source="coco", task="segment")
    (tmp_path / "a.txt").write_text("1 0.1 0.1 0.5 0.1 0.5 0.5 0.9\n")
    pred = read_yolo_predictions(tmp_path, gt, task="segment")
    assert pred.records[0]["labels"].tolist() == [9]
    assert [d["category_id"] for d in write_coco_results(pred)] == [9]
