"""The PASCAL VOC, DOTA, CVAT and LabelMe readers, on files written the way the tools write them.

Each format's example is the documented layout of the tool (the VOC2007
devkit's ``Annotations/000001.xml``, DOTA's ``labelTxt`` with its header lines,
a CVAT for images 1.1 export, a LabelMe 5 file), written by the test.  The
boxes are known to the test, so ``detmetrics eval`` on the files is compared
with ``mean_ap`` on boxes the test builds itself, not with what the reader
returns.
"""

import json
import warnings

import numpy as np
import pytest

from detmetrics import mean_ap
from detmetrics.cli import main
from detmetrics.io import (
    detect_format,
    load_ground_truth,
    load_predictions,
    read_cvat,
    read_dota,
    read_dota_results,
    read_labelme,
    read_voc,
)

# ----------------------------------------------------------------------------------------------
# writers of tool-shaped files


def voc_xml(filename, size, objects, folder="VOC2007"):
    """An annotation file as the VOC2007 devkit ships it (tabs, <source>, <owner>, <segmented>)."""
    out = [
        "<annotation>",
        f"\t<folder>{folder}</folder>",
        f"\t<filename>{filename}</filename>",
        "\t<source>",
        "\t\t<database>The VOC2007 Database</database>",
        "\t\t<annotation>PASCAL VOC2007</annotation>",
        "\t\t<image>flickr</image>",
        "\t\t<flickrid>341012865</flickrid>",
        "\t</source>",
        "\t<owner>",
        "\t\t<flickrid>Fried Camels</flickrid>",
        "\t\t<name>Jinky the Fruit Bat</name>",
        "\t</owner>",
        "\t<size>",
        f"\t\t<width>{size[0]}</width>",
        f"\t\t<height>{size[1]}</height>",
        "\t\t<depth>3</depth>",
        "\t</size>",
        "\t<segmented>0</segmented>",
    ]
    for name, (x1, y1, x2, y2), difficult, truncated in objects:
        out += [
            "\t<object>",
            f"\t\t<name>{name}</name>",
            "\t\t<pose>Left</pose>",
            f"\t\t<truncated>{truncated}</truncated>",
            f"\t\t<difficult>{difficult}</difficult>",
            "\t\t<bndbox>",
            f"\t\t\t<xmin>{x1}</xmin>",
            f"\t\t\t<ymin>{y1}</ymin>",
            f"\t\t\t<xmax>{x2}</xmax>",
            f"\t\t\t<ymax>{y2}</ymax>",
            "\t\t</bndbox>",
            "\t</object>",
        ]
    return "\n".join(out + ["</annotation>"]) + "\n"


#: (image stem, size, objects (name, xyxy, difficult, truncated)); the first is VOC2007's 000001.xml
VOC_IMAGES = [
    ("000001", (353, 500), [("dog", (48, 240, 195, 371), 0, 1), ("person", (8, 12, 352, 498), 0, 1)]),
    ("000002", (335, 500), [("train", (139, 200, 207, 301), 0, 0)]),
    ("000004", (500, 406), [("car", (13, 311, 84, 362), 0, 0), ("car", (362, 330, 500, 389), 1, 0),
                            ("car", (235, 328, 334, 375), 0, 1), ("car", (175, 327, 252, 364), 1, 0)]),
    ("000006", (500, 375), [("pottedplant", (187, 135, 282, 242), 0, 0), ("chair", (154, 209, 369, 375), 0, 0),
                            ("chair", (255, 207, 366, 375), 1, 1)]),
    ("000008", (500, 333), []),
]


def make_voc(root, images=VOC_IMAGES, splits=None):
    (root / "Annotations").mkdir(parents=True)
    for stem, size, objects in images:
        (root / "Annotations" / f"{stem}.xml").write_text(voc_xml(f"{stem}.jpg", size, objects))
    for split, stems in (splits or {}).items():
        (root / "ImageSets" / "Main").mkdir(parents=True, exist_ok=True)
        (root / "ImageSets" / "Main" / f"{split}.txt").write_text("".join(f"{s}\n" for s in stems))
    return root


def detections_for(objects, label_of, seed):
    """Deterministic xywh detections near each object (and sometimes a far one), with scores and labels."""
    rng = np.random.default_rng(seed)
    boxes, scores, labels = [], [], []
    for name, box, *_ in objects:
        box = np.asarray(box, dtype=np.float64)
        copies = [box + rng.uniform(-6, 6, size=4)] + ([box + 40.0] if rng.uniform() < 0.5 else [])
        for b in copies:
            b = np.array([min(b[0], b[2]), min(b[1], b[3]), max(b[0], b[2]), max(b[1], b[3])])
            boxes.append(xyxy_to_xywh(b))
            scores.append(float(rng.uniform(0.05, 1.0)))
            labels.append(label_of[name])
    return {"boxes": np.array(boxes, dtype=np.float64).reshape(-1, 4), "scores": np.array(scores),
            "labels": np.array(labels, dtype=np.int64)}


def xyxy_to_xywh(b):
    return [b[0], b[1], b[2] - b[0], b[3] - b[1]]


def cli_map(capsys, *args):
    """Run ``detmetrics eval`` in-process; return the --json result."""
    capsys.readouterr()
    out = args[-1]
    status = main(["eval", *map(str, args[:-1]), "--json", str(out)])
    captured = capsys.readouterr()
    assert status == 0, captured.err
    return json.loads(out.read_text())


def cli_error(capsys, *args):
    capsys.readouterr()
    status = main([str(a) for a in args])
    err = capsys.readouterr().err.strip().splitlines()
    assert status == 2
    errors = [line for line in err if line.startswith("detmetrics: error:")]
    assert len(errors) == 1, err
    return errors[0]


# ----------------------------------------------------------------------------------------------
# PASCAL VOC


def test_voc_reads_devkit_files(tmp_path):
    gt = read_voc(make_voc(tmp_path / "VOC2007"))
    assert detect_format(tmp_path / "VOC2007") == "voc"
    assert gt.source == "voc" and not gt.obb and len(gt) == 5
    assert gt.image_ids == [1, 2, 4, 6, 8]
    assert gt.file_names[0] == "000001.jpg"
    assert gt.class_names[1] == "aeroplane" and gt.class_names[20] == "tvmonitor"  # VOC's 20 classes
    np.testing.assert_array_equal(gt.image_sizes[0], [353, 500])
    rec = gt.records[0]
    np.testing.assert_array_equal(rec["boxes"], [[48, 240, 147, 131], [8, 12, 344, 486]])  # as given, xywh
    assert [gt.class_names[c] for c in rec["labels"]] == ["dog", "person"]
    np.testing.assert_array_equal(gt.records[2]["difficult"], [0, 1, 0, 1])
    np.testing.assert_array_equal(gt.extras["truncated"][0], [1, 1])
    assert gt.records[4]["boxes"].shape == (0, 4) and gt.records[4]["difficult"].shape == (0,)
    np.testing.assert_array_equal(rec["area"], [147 * 131, 344 * 486])


def test_voc_labelmap_from_cvat_export_gives_the_class_order(tmp_path):
    root = make_voc(tmp_path / "VOC2007")
    (root / "labelmap.txt").write_text("# label:color_rgb:parts:actions\nbackground:0,0,0::\ntrain:128,0,0::\n"
                                       "dog:0,128,0::\nperson:128,128,0::\ncar:0,0,128::\npottedplant:128,0,128::\n"
                                       "chair:0,128,128::\nsheep:128,128,128::\n")
    gt = read_voc(root)
    assert list(gt.class_names.values()) == ["train", "dog", "person", "car", "pottedplant", "chair", "sheep"]
    (root / "labelmap.txt").write_text("train:::\ndog:::\n")
    with pytest.raises(ValueError, match=r"000001\.xml: object\[1\] \(person\): class 'person' is not in classes"):
        read_voc(root)


def test_readers_name_bad_arguments(tmp_path):
    for reader in (read_voc, read_dota, read_cvat, read_labelme, load_ground_truth):
        with pytest.raises(TypeError, match="path"):
            reader(object())
        with pytest.raises(ValueError, match="does not exist"):
            reader("/nonexistent/ground/truth")
    (tmp_path / "a.xml").write_text(voc_xml("a.jpg", (10, 10), [("dog", (1, 1, 5, 5), 0, 0)]))
    for bad in ("abc", 3, [1, 2], {"a": "b"}, ["a", "a"], []):
        with pytest.raises((TypeError, ValueError), match="classes"):
            read_voc(tmp_path, classes=bad)
    with pytest.raises(ValueError, match="polygons must be"):
        read_labelme(".", polygons="hull")
    with pytest.raises(TypeError, match="ground_truth must be a DetectionData"):
        read_dota_results(".", {"records": []})


def test_voc_split_and_single_file_and_classes(tmp_path):
    root = make_voc(tmp_path / "VOC2007", splits={"val": ["000004", "000001"]})
    gt = load_ground_truth(root, split="val")
    assert gt.image_ids == [1, 4]
    assert len(load_ground_truth(root)) == 5  # no split: every annotation
    with pytest.raises(ValueError, match="test.txt"):
        read_voc(root, split="test")
    one = load_ground_truth(root / "Annotations" / "000002.xml")
    assert one.image_ids == [2]
    custom = read_voc(root, classes=["dog", "person", "train", "car", "pottedplant", "chair"])
    assert custom.class_names == {1: "dog", 2: "person", 3: "train", 4: "car", 5: "pottedplant", 6: "chair"}
    with pytest.raises(ValueError, match=r"000006\.xml: object\[0\] \(pottedplant\).*not in classes"):
        read_voc(root, classes=["dog", "person", "train", "car"])
    # names outside VOC's 20: the names found, sorted
    other = make_voc(tmp_path / "other", images=[("a", (10, 10), [("zebra", (1, 1, 5, 5), 0, 0),
                                                                   ("ant", (2, 2, 4, 4), 0, 0)])])
    assert read_voc(other).class_names == {1: "ant", 2: "zebra"}


def test_voc_eval_equals_mean_ap_with_difficult(tmp_path, capsys):
    root = make_voc(tmp_path / "VOC2007")
    label_of = {name: i + 1 for i, name in enumerate(read_voc(root).class_names.values())}
    preds, gts, results = [], [], []
    for k, (stem, _, objects) in enumerate(VOC_IMAGES):
        pred = detections_for(objects, label_of, seed=k)
        preds.append(pred)
        gts.append({"boxes": np.array([xyxy_to_xywh(o[1]) for o in objects], dtype=float).reshape(-1, 4),
                    "labels": np.array([label_of[o[0]] for o in objects], dtype=np.int64),
                    "difficult": np.array([o[2] for o in objects], dtype=np.uint8)})
        results += [{"image_id": stem, "category_id": int(c), "bbox": [float(v) for v in b], "score": float(s)}
                    for b, s, c in zip(pred["boxes"], pred["scores"], pred["labels"])]
    (tmp_path / "results.json").write_text(json.dumps(results))
    data = cli_map(capsys, root, tmp_path / "results.json", tmp_path / "out.json")
    expected = mean_ap(preds, gts, box_format="xywh", category_ids=list(range(1, 21)))
    np.testing.assert_array_equal(data["stats"], expected.stats)
    # the difficult flags reached mean_ap: without them the numbers differ
    plain = mean_ap(preds, [{k: v for k, v in g.items() if k != "difficult"} for g in gts], box_format="xywh",
                    category_ids=list(range(1, 21)))
    assert plain.stats[0] != expected.stats[0]

    # the same detections as VOC devkit result files (comp4_det_test_<class>.txt: image score xmin ymin xmax ymax)
    res = tmp_path / "results"
    res.mkdir()
    name_of = {v: k for k, v in label_of.items()}
    lines: dict = {}
    for (stem, _, _), pred in zip(VOC_IMAGES, preds):
        for (x, y, w, h), score, label in zip(pred["boxes"].tolist(), pred["scores"].tolist(), pred["labels"]):
            lines.setdefault(name_of[int(label)], []).append(f"{stem} {score!r} {x!r} {y!r} {x + w!r} {y + h!r}\n")
    for name, text in lines.items():
        (res / f"comp4_det_test_{name}.txt").write_text("".join(text))
    data2 = cli_map(capsys, root, res, tmp_path / "out2.json")
    np.testing.assert_allclose(data2["stats"], expected.stats, rtol=0, atol=1e-12)


@pytest.mark.parametrize("interpolation", ["voc11", "voc"])
def test_voc_files_scored_as_the_devkit_scores_them(tmp_path, capsys, interpolation):
    """VOC XML + comp4 result files through the CLI == the devkit's voc_eval (tests/test_voc_matching.py)
    on the boxes the test wrote, class by class, difficult objects included."""
    from test_voc_matching import ap_11_point, ap_all_point, voc_eval

    root = make_voc(tmp_path / "VOC2007")
    label_of = {name: i + 1 for i, name in enumerate(read_voc(root).class_names.values())}
    preds, gts, lines = [], [], {}
    for k, (stem, _, objects) in enumerate(VOC_IMAGES):
        pred = detections_for(objects, label_of, seed=10 + k)
        pred["scores"] = (np.arange(len(pred["scores"])) + 1.0 + 10 * k) / 100.0  # distinct: the devkit's sort is unstable
        preds.append({"boxes": [[x, y, x + w, y + h] for x, y, w, h in pred["boxes"].tolist()],
                      "scores": pred["scores"].tolist(), "labels": pred["labels"].tolist()})
        gts.append({"boxes": [list(o[1]) for o in objects], "labels": [label_of[o[0]] for o in objects],
                    "difficult": [o[2] for o in objects]})
        for box, score, label in zip(preds[-1]["boxes"], preds[-1]["scores"], preds[-1]["labels"]):
            name = next(n for n, v in label_of.items() if v == label)
            lines.setdefault(name, []).append(f"{stem} {score!r} " + " ".join(repr(v) for v in box) + "\n")
    res = tmp_path / "results"
    res.mkdir()
    for name, text in lines.items():
        (res / f"comp4_det_test_{name}.txt").write_text("".join(text))
    data = cli_map(capsys, root, res, "--iou-thresholds", "0.5", "--interpolation", interpolation,
                   "--matching", "voc", "--max-dets", "100000", tmp_path / "out.json")
    integrate = ap_11_point if interpolation == "voc11" else ap_all_point
    checked = 0
    for label in sorted({lab for g in gts for lab in g["labels"]}):
        curve = voc_eval(preds, gts, label, 0.5)
        got = data["per_class"][str(label)]["ap"]
        if curve is None:  # only difficult objects: no AP
            assert got == -1
            continue
        assert got == pytest.approx(integrate(*curve), abs=1e-12), label
        checked += 1
    assert checked >= 4


@pytest.mark.parametrize(
    "text, match",
    [
        ("<annotation><object><name>dog</name></object></annotation>", r"object\[0\] \(dog\) has no <bndbox>"),
        ("<annotation><object><bndbox/></object></annotation>", r"object\[0\] has no <name>"),
        ("<annotation><object><name>dog</name><bndbox><xmin>5</xmin><ymin>1</ymin><xmax>2</xmax><ymax>9</ymax>"
         "</bndbox></object></annotation>", r"object\[0\] \(dog\): bndbox/xmax 2 < xmin 5"),
        ("<annotation><object><name>dog</name><bndbox><xmin>a</xmin><ymin>1</ymin><xmax>2</xmax><ymax>9</ymax>"
         "</bndbox></object></annotation>", r"bndbox/xmin must be a number; got 'a'"),
        ("<annotation><object><name>dog</name><bndbox><xmin>1</xmin><ymin>1</ymin><ymax>9</ymax>"
         "</bndbox></object></annotation>", r"bndbox has no <xmax>"),
        ("<annotation><object><name>dog</name><difficult>2</difficult><bndbox><xmin>1</xmin><ymin>1</ymin>"
         "<xmax>2</xmax><ymax>9</ymax></bndbox></object></annotation>", r"object\[0\] \(dog\): difficult must be 0 or 1"),
        ("<annotation>\n<object>\n<name>dog</name>\n</annotation>", r"a\.xml:4: not well-formed XML"),
        ("<!DOCTYPE lol [<!ENTITY a 'aaaa'>]><annotation/>", r"DTD"),
        ("<annotations/>", r"root element <annotations>"),
        ("<annotation><size><width>x</width><height>3</height></size></annotation>", r"size/width must be a number"),
    ],
)
def test_voc_malformed_files_name_file_and_element(tmp_path, capsys, text, match):
    folder = tmp_path / "Annotations"
    folder.mkdir()
    (folder / "a.xml").write_text(text)
    with pytest.raises(ValueError, match=match) as info:
        read_voc(tmp_path, classes=None)
    assert "a.xml" in str(info.value)
    if "root element" not in match:  # (a CVAT root is detected as CVAT by eval)
        (tmp_path / "r.json").write_text("[]")
        line = cli_error(capsys, "eval", tmp_path, tmp_path / "r.json")
        assert "a.xml" in line


# ----------------------------------------------------------------------------------------------
# DOTA

DOTA_LABELS = {
    "P0000": ("imagesource:GoogleEarth\ngsd:0.146343590398\n"
              "2753 2408 2861 2385 2888 2468 2805 2502 plane 0\n"
              "3445 3391 3484 3409 3478 3422 3437 3402 large-vehicle 0\n"
              "3185 4158 3195 4161 3175 4204 3164 4199 small-vehicle 1\n"),
    "P0001": ("imagesource:GoogleEarth\ngsd:null\n"
              "100.5 100.5 180.0 100.5 180.0 160.0 100.5 160.0 harbor 0\n"
              "300 300 340 310 330 350 290 340 ship\n"),  # a 9-field line: not difficult (the devkit's rule)
    "P0002": "imagesource:GoogleEarth\ngsd:0.1\n",  # an image without objects
}


def make_dota(root, labels=DOTA_LABELS):
    (root / "labelTxt").mkdir(parents=True)
    for stem, text in labels.items():
        (root / "labelTxt" / f"{stem}.txt").write_text(text)
    return root


def test_dota_reads_label_files(tmp_path):
    root = make_dota(tmp_path / "val")
    assert detect_format(root) == "dota" and detect_format(root / "labelTxt") == "dota"
    gt = read_dota(root)
    assert gt.obb and gt.source == "dota" and gt.image_sizes is None
    assert gt.image_ids == ["P0000", "P0001", "P0002"]
    assert list(gt.class_names.values())[:3] == ["plane", "ship", "storage-tank"]  # DOTA v1.0, ultralytics' order
    assert len(gt.class_names) == 15
    np.testing.assert_array_equal(gt.records[0]["boxes"][0], [[2753, 2408], [2861, 2385], [2888, 2468], [2805, 2502]])
    np.testing.assert_array_equal(gt.records[0]["difficult"], [0, 0, 1])
    np.testing.assert_array_equal(gt.records[1]["difficult"], [0, 0])
    assert gt.records[2]["boxes"].shape == (0, 4, 2)
    assert gt.records[1]["area"][0] == pytest.approx(79.5 * 59.5)
    # container-crane makes it DOTA v1.5
    v15 = make_dota(tmp_path / "v15", {"a": "1 1 5 1 5 5 1 5 container-crane 0\n"})
    assert len(read_dota(v15).class_names) == 16


def test_dota_sizes_from_images_folder(tmp_path):
    from PIL import Image

    root = make_dota(tmp_path / "val")
    (root / "images").mkdir()
    for stem, size in (("P0000", (4000, 4500)), ("P0001", (800, 600)), ("P0002", (300, 200))):
        Image.new("L", size).save(root / "images" / f"{stem}.png")
    gt = read_dota(root)
    assert gt.file_names == ["P0000.png", "P0001.png", "P0002.png"]
    np.testing.assert_array_equal(gt.image_sizes, [[4000, 4500], [800, 600], [300, 200]])
    (root / "images" / "P0002.png").unlink()
    with pytest.raises(ValueError, match=r"P0002\.txt: no image P0002\.\*"):
        read_dota(root)


def test_dota_eval_equals_mean_ap(tmp_path, capsys):
    root = make_dota(tmp_path / "val")
    gt = read_dota(root)
    index = {name: label for label, name in gt.class_names.items()}
    gts, preds, files = [], [], {}
    for k, (stem, text) in enumerate(DOTA_LABELS.items()):
        rows = [line.split() for line in text.splitlines() if line and ":" not in line]
        quads = np.array([[float(v) for v in r[:8]] for r in rows]).reshape(-1, 4, 2)
        labels = np.array([index[r[8]] for r in rows], dtype=np.int64)
        difficult = np.array([int(r[9]) if len(r) > 9 else 0 for r in rows])
        gts.append({"boxes": quads, "labels": labels, "difficult": difficult})
        rng = np.random.default_rng(k)
        det = quads + rng.uniform(-3, 3, size=(len(quads), 1, 2))  # translated copies stay convex
        scores = rng.uniform(0.1, 1, size=len(quads))
        preds.append({"boxes": det, "scores": scores, "labels": labels})
        for q, s, c in zip(det, scores.tolist(), labels):
            files.setdefault(gt.class_names[int(c)], []).append(
                f"{stem} {s!r} " + " ".join(repr(float(v)) for v in q.reshape(8)) + "\n")
    res = tmp_path / "task1"
    res.mkdir()
    for name, lines in files.items():
        (res / f"Task1_{name}.txt").write_text("".join(lines))
    opts = ["--iou-thresholds", "0.5", "--interpolation", "voc", "--matching", "voc"]
    data = cli_map(capsys, root, res, *opts, tmp_path / "out.json")
    expected = mean_ap(preds, gts, iou_thresholds=[0.5], interpolation="voc", matching="voc",
                       category_ids=list(range(1, 16)))
    np.testing.assert_array_equal(data["stats"], expected.stats)
    pred = read_dota_results(res, gt)
    assert pred.n_objects == sum(len(p["scores"]) for p in preds)
    (res / "Task1_plane.txt").write_text("P0001.png 0.5 100.5 100.5 180.0 100.5 180.0 160.0 100.5 160.0\n")
    assert read_dota_results(res / "Task1_plane.txt", gt).records[1]["scores"].tolist() == [0.5]


@pytest.mark.parametrize(
    "text, match",
    [
        ("1 1 5 1 5 5 1 5\n", r"a\.txt:1: expected 'x1 y1 x2 y2 x3 y3 x4 y4 class difficult'"),
        ("gsd:0.1\n1 1 5 1 5 x 1 5 plane 0\n", r"a\.txt:2: coordinates must be numbers"),
        ("1 1 5 1 5 5 1 5 plane 2\n", r"a\.txt:1: difficult must be 0 or 1"),
        ("1 1 5 5 5 1 1 5 plane 0\n", r"a\.txt:1: the 4 corners do not form a convex quadrilateral"),
        ("1 1 5 1 5 5 1 nan plane 0\n", r"a\.txt:1: coordinates must be finite"),
    ],
)
def test_dota_malformed_label_lines(tmp_path, capsys, text, match):
    root = make_dota(tmp_path / "val", {"a": text})
    with pytest.raises(ValueError, match=match):
        read_dota(root)
    (tmp_path / "r.json").write_text("[]")
    assert "a.txt" in cli_error(capsys, "eval", root, tmp_path / "r.json")


@pytest.mark.parametrize(
    "name, text, match",
    [
        ("Task1_plane.txt", "P0009 0.5 1 1 5 1 5 5 1 5\n", r"Task1_plane\.txt:1: image 'P0009' is not an image"),
        ("Task1_plane.txt", "P0000 0.5 1 1 5 1 5 5\n", r"Task1_plane\.txt:1: expected 'image_id score x1"),
        ("Task1_plane.txt", "P0000 high 1 1 5 1 5 5 1 5\n", r"Task1_plane\.txt:1: coordinates must be numbers"),
        ("Task1_tank.txt", "P0000 0.5 1 1 5 1 5 5 1 5\n", r"Task1_tank\.txt: class 'tank'"),
        ("Task2_plane.txt", "P0000 0.5 5 1 1 5\n", r"Task2_plane\.txt:1: xmax < xmin"),
    ],
)
def test_dota_malformed_result_files(tmp_path, capsys, name, text, match):
    root = make_dota(tmp_path / "val")
    res = tmp_path / "res"
    res.mkdir()
    (res / name).write_text(text)
    with pytest.raises(ValueError, match=match):
        read_dota_results(res, read_dota(root))
    assert name in cli_error(capsys, "eval", root, res)


def test_result_folder_with_other_files_is_an_error(tmp_path):
    root = make_dota(tmp_path / "val")
    res = tmp_path / "res"
    res.mkdir()
    (res / "Task1_plane.txt").write_text("P0000 0.5 1 1 5 1 5 5 1 5\n")
    (res / "notes.txt").write_text("hello\n")
    with pytest.raises(ValueError, match=r"notes\.txt is not a per-class result file"):
        load_predictions(res, read_dota(root))


# ----------------------------------------------------------------------------------------------
# CVAT for images 1.1

CVAT_XML = """<?xml version="1.0" encoding="utf-8"?>
<annotations>
  <version>1.1</version>
  <meta>
    <task>
      <id>7</id>
      <name>street</name>
      <size>3</size>
      <mode>annotation</mode>
      <labels>
        <label>
          <name>car</name>
          <color>#fa3253</color>
          <type>rectangle</type>
          <attributes>
          </attributes>
        </label>
        <label>
          <name>person</name>
          <color>#33ddff</color>
          <type>any</type>
          <attributes>
          </attributes>
        </label>
        <label>
          <name>bicycle</name>
          <color>#34d1b7</color>
          <type>any</type>
          <attributes>
          </attributes>
        </label>
      </labels>
    </task>
    <dumped>2024-05-02 10:11:12.345678+00:00</dumped>
  </meta>
  <image id="0" name="frame_000000.png" width="640" height="480">
    <box label="car" source="manual" occluded="0" xtl="10.00" ytl="20.00" xbr="110.50" ybr="80.25" z_order="0">
    </box>
    <box label="person" source="manual" occluded="1" xtl="300.10" ytl="100.00" xbr="340.00" ybr="220.00" z_order="1">
    </box>
    <polygon label="car" source="manual" occluded="0" points="1.00,2.00;30.00,4.00;20.00,40.00" z_order="0">
    </polygon>
  </image>
  <image id="1" name="frame_000001.png" width="640" height="480">
  </image>
  <image id="2" name="frame_000002.png" width="640" height="480">
    <box label="car" source="manual" occluded="0" xtl="50.00" ytl="60.00" xbr="150.00" ybr="100.00" z_order="0">
    </box>
  </image>
</annotations>
"""


def test_cvat_reads_boxes_and_meta_labels(tmp_path):
    (tmp_path / "annotations.xml").write_text(CVAT_XML)
    assert detect_format(tmp_path / "annotations.xml") == "cvat" and detect_format(tmp_path) == "cvat"
    with pytest.warns(UserWarning, match=r"only <box> elements are read; left out 1 <polygon>"):
        gt = read_cvat(tmp_path / "annotations.xml")
    assert gt.class_names == {1: "car", 2: "person", 3: "bicycle"}  # the meta labels, in their order
    assert gt.image_ids == ["frame_000000", "frame_000001", "frame_000002"]
    np.testing.assert_allclose(gt.records[0]["boxes"], [[10, 20, 100.5, 60.25], [300.1, 100, 39.9, 120]])
    np.testing.assert_array_equal(gt.records[0]["labels"], [1, 2])
    np.testing.assert_array_equal(gt.extras["occluded"][0], [0, 1])
    np.testing.assert_array_equal(gt.image_sizes[2], [640, 480])
    assert gt.records[1]["boxes"].shape == (0, 4)


def test_cvat_rotation_gives_quads(tmp_path):
    xml = CVAT_XML.replace('xtl="50.00" ytl="60.00" xbr="150.00" ybr="100.00"',
                           'xtl="50.00" ytl="60.00" xbr="150.00" ybr="100.00" rotation="90.0"')
    (tmp_path / "a.xml").write_text(xml)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        gt = read_cvat(tmp_path / "a.xml")
    assert gt.obb
    # rotated 90 degrees clockwise on screen about (100, 80): the top-left corner goes to the top-right
    np.testing.assert_allclose(gt.records[2]["boxes"][0], [[120, 30], [120, 130], [80, 130], [80, 30]], atol=1e-9)
    np.testing.assert_allclose(gt.records[0]["boxes"][0], [[10, 20], [110.5, 20], [110.5, 80.25], [10, 80.25]])
    assert gt.records[2]["area"][0] == pytest.approx(100 * 40)


def test_cvat_eval_equals_mean_ap(tmp_path, capsys):
    (tmp_path / "annotations.xml").write_text(CVAT_XML)
    gts = [
        {"boxes": np.array([[10, 20, 100.5, 60.25], [300.1, 100, 39.9, 120]]), "labels": np.array([1, 2])},
        {"boxes": np.zeros((0, 4)), "labels": np.zeros(0, np.int64)},
        {"boxes": np.array([[50.0, 60, 100, 40]]), "labels": np.array([1])},
    ]
    preds = [
        {"boxes": np.array([[12, 18, 98, 60], [300, 100, 40, 100]]), "scores": np.array([0.9, 0.6]),
         "labels": np.array([1, 2])},
        {"boxes": np.array([[5, 5, 20, 20]]), "scores": np.array([0.7]), "labels": np.array([1])},
        {"boxes": np.array([[40.0, 60, 100, 40]]), "scores": np.array([0.8]), "labels": np.array([1])},
    ]
    results = [{"image_id": f"frame_00000{k}", "category_id": int(c), "bbox": [float(v) for v in b], "score": float(s)}
               for k, p in enumerate(preds) for b, s, c in zip(p["boxes"], p["scores"], p["labels"])]
    (tmp_path / "r.json").write_text(json.dumps(results))
    data = cli_map(capsys, tmp_path / "annotations.xml", tmp_path / "r.json", tmp_path / "out.json")
    expected = mean_ap(preds, gts, box_format="xywh", category_ids=[1, 2, 3])
    np.testing.assert_array_equal(data["stats"], expected.stats)


@pytest.mark.parametrize(
    "old, new, match",
    [
        ('xtl="10.00" ', "", r"image\[0\] \(frame_000000\.png\): box\[0\] \(car\) has no 'xtl' attribute"),
        ('xbr="110.50"', 'xbr="1.50"', r"box\[0\] \(car\): xbr < xtl"),
        ('label="person"', 'label="dog"', r"box\[1\] \(dog\): class 'dog' is not in classes"),
        ('occluded="1"', 'occluded="yes"', r"box\[1\] \(person\): occluded must be 0 or 1"),
        ('ytl="20.00"', 'ytl="2O"', r"box\[0\] \(car\): ytl must be a number"),
        ('<image id="1" name="frame_000001.png"', '<image id="1"', r"image\[1\] has no 'name' attribute"),
        ("</annotations>", '<track id="0" label="car"></track></annotations>', r"CVAT for video"),
        ("  </image>\n</annotations>", "", r"not well-formed XML"),
    ],
)
def test_cvat_malformed(tmp_path, capsys, old, new, match):
    assert old in CVAT_XML
    (tmp_path / "annotations.xml").write_text(CVAT_XML.replace(old, new, 1))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises(ValueError, match=match):
            read_cvat(tmp_path / "annotations.xml")
    (tmp_path / "r.json").write_text("[]")
    assert "annotations.xml" in cli_error(capsys, "eval", tmp_path / "annotations.xml", tmp_path / "r.json")


# ----------------------------------------------------------------------------------------------
# LabelMe


def labelme_doc(image, shapes, size=(640, 480)):
    """A file as LabelMe 5 saves it (key order included)."""
    return json.dumps({
        "version": "5.4.1",
        "flags": {},
        "shapes": [{"label": label, "points": points, "group_id": None, "description": "", "shape_type": kind,
                    "flags": {}, "mask": None} for label, kind, points in shapes],
        "imagePath": image,
        "imageData": None,
        "imageHeight": size[1],
        "imageWidth": size[0],
    }, indent=2)


def make_labelme(folder):
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "img_001.json").write_text(labelme_doc("img_001.jpg", [
        ("cat", "rectangle", [[120.0, 200.5], [30.0, 80.5]]),   # drawn bottom-right to top-left
        ("dog", "rectangle", [[300, 100], [400, 180]]),
    ]))
    (folder / "img_002.json").write_text(labelme_doc("..\\images\\img_002.jpg", [
        ("dog", "rectangle", [[10, 10], [60, 90]]),
    ], size=(320, 240)))
    return folder


def test_labelme_reads_rectangles(tmp_path):
    folder = make_labelme(tmp_path / "ann")
    assert detect_format(folder) == "labelme" and detect_format(folder / "img_001.json") == "labelme"
    gt = read_labelme(folder)
    assert gt.source == "labelme" and gt.class_names == {1: "cat", 2: "dog"}
    assert gt.file_names == ["img_001.jpg", "img_002.jpg"]  # a Windows imagePath gives its file name
    np.testing.assert_array_equal(gt.records[0]["boxes"], [[30, 80.5, 90, 120], [300, 100, 100, 80]])
    np.testing.assert_array_equal(gt.image_sizes, [[640, 480], [320, 240]])


def test_labelme_with_image_data_first_is_detected(tmp_path):
    doc = json.loads(labelme_doc("x.jpg", [("cat", "rectangle", [[1, 2], [3, 4]])]))
    doc = {"imageData": "A" * 200_000, **doc}  # an older key order, a large inline image
    (tmp_path / "x.json").write_text(json.dumps(doc))
    assert detect_format(tmp_path / "x.json") == "labelme"
    assert load_ground_truth(tmp_path).n_objects == 1


def test_labelme_polygons_are_an_option_not_a_silent_box(tmp_path, capsys):
    folder = make_labelme(tmp_path / "ann")
    (folder / "img_003.json").write_text(labelme_doc("img_003.jpg", [
        ("cat", "polygon", [[10, 10], [50, 12], [40, 70]]),
        ("cat", "point", [[5, 5]]),
    ]))
    with pytest.raises(ValueError, match=r"img_003\.json: shapes\[0\] \(cat\): shape_type 'polygon' is not a box"):
        read_labelme(folder)
    (tmp_path / "r.json").write_text("[]")
    assert "img_003.json: shapes[0]" in cli_error(capsys, "eval", folder, tmp_path / "r.json")
    with pytest.raises(ValueError, match=r"shapes\[1\] \(cat\): shape_type 'point' is not a box"):
        read_labelme(folder, polygons="box")
    gt = read_labelme(folder, polygons="box", other_shapes="skip")
    np.testing.assert_array_equal(gt.records[2]["boxes"], [[10, 10, 40, 60]])


def test_labelme_eval_equals_mean_ap(tmp_path, capsys):
    folder = make_labelme(tmp_path / "ann")
    gts = [{"boxes": np.array([[30, 80.5, 90, 120], [300, 100, 100, 80]]), "labels": np.array([1, 2])},
           {"boxes": np.array([[10.0, 10, 50, 80]]), "labels": np.array([2])}]
    preds = [{"boxes": np.array([[32, 80, 90, 118], [0, 0, 50, 50]]), "scores": np.array([0.8, 0.9]),
              "labels": np.array([1, 2])},
             {"boxes": np.array([[12.0, 10, 50, 80]]), "scores": np.array([0.4]), "labels": np.array([2])}]
    # predictions as YOLO txt files (normalized cx cy w h, class index = label - 1)
    pred_dir = tmp_path / "pred"
    pred_dir.mkdir()
    for stem, (w, h), p in zip(("img_001", "img_002"), ((640, 480), (320, 240)), preds):
        lines = [f"{int(c) - 1} {(b[0] + b[2] / 2) / w!r} {(b[1] + b[3] / 2) / h!r} {b[2] / w!r} {b[3] / h!r} {s!r}\n"
                 for b, s, c in zip(p["boxes"].tolist(), p["scores"].tolist(), p["labels"])]
        (pred_dir / f"{stem}.txt").write_text("".join(lines))
    data = cli_map(capsys, folder, pred_dir, tmp_path / "out.json")
    expected = mean_ap(preds, gts, box_format="xywh", category_ids=[1, 2])
    np.testing.assert_allclose(data["stats"], expected.stats, rtol=0, atol=1e-12)


@pytest.mark.parametrize(
    "doc, match",
    [
        ('{"shapes": [{"label": "cat", "shape_type": "rectangle", "points": [[1, 2]]}]}',
         r"shapes\[0\] \(cat\): a rectangle has 2 points"),
        ('{"shapes": [{"label": "", "shape_type": "rectangle", "points": [[1, 2], [3, 4]]}]}',
         r"shapes\[0\] needs a non-empty 'label'"),
        ('{"shapes": [{"label": "cat", "shape_type": "rectangle", "points": [[1, "x"], [3, 4]]}]}',
         r"shapes\[0\] \(cat\): points\[0\]\[1\] must be a number"),
        ('{"shapes": [{"label": "cat", "shape_type": "rectangle", "points": [1, 2]}]}',
         r"shapes\[0\] \(cat\): points\[0\] must be \[x, y\]"),
        ('{"shapes": "none"}', r"not a LabelMe file"),
        ('{"shapes": [}', r"not valid JSON"),
    ],
)
def test_labelme_malformed(tmp_path, capsys, doc, match):
    folder = tmp_path / "ann"
    folder.mkdir()
    (folder / "a.json").write_text(doc)
    with pytest.raises(ValueError, match=match):
        read_labelme(folder)
    (tmp_path / "r.json").write_text("[]")
    assert "a.json" in cli_error(capsys, "eval", folder, tmp_path / "r.json", "--format", "labelme")


# ----------------------------------------------------------------------------------------------
# format detection


def test_detection_of_each_format_and_ambiguity(tmp_path, capsys):
    from detmetrics.io import sample_path

    assert detect_format(sample_path("yolo")) == "yolo"
    assert detect_format(sample_path("coco-gt")) == "coco"
    voc = make_voc(tmp_path / "VOC2007")
    assert detect_format(voc / "Annotations") == "voc"
    dota = make_dota(tmp_path / "dota")
    assert detect_format(dota / "labelTxt" / "P0000.txt") == "dota"
    # a folder holding both a VOC Annotations/ folder and a YOLO labels/ folder
    (voc / "labels").mkdir()
    with pytest.raises(ValueError, match=r"several ground-truth formats \(yolo, voc\); pass format="):
        load_ground_truth(voc)
    assert len(load_ground_truth(voc, format="voc")) == 5
    (tmp_path / "r.json").write_text("[]")
    assert "--format" in cli_error(capsys, "eval", voc, tmp_path / "r.json")
    capsys.readouterr()
    assert main(["eval", str(voc), str(tmp_path / "r.json"), "--format", "voc"]) == 0
    assert "PASCAL VOC, 5 images" in capsys.readouterr().out
    with pytest.raises(ValueError, match="format must be"):
        load_ground_truth(voc, format="kitti")
    (tmp_path / "odd.xml").write_text("<root/>")
    with pytest.raises(ValueError, match=r"root element <root> is neither PASCAL VOC"):
        load_ground_truth(tmp_path / "odd.xml")


# ----------------------------------------------------------------------------------------------
# fuzzing: a mutated file is read or refused with a ValueError naming it, never another exception

from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

FUZZ_SOURCES = {
    "voc": ("a.xml", voc_xml("a.jpg", (353, 500), VOC_IMAGES[2][2]), read_voc),
    "dota": ("a.txt", DOTA_LABELS["P0000"] + DOTA_LABELS["P0001"], read_dota),
    "cvat": ("a.xml", CVAT_XML, read_cvat),
    "labelme": ("a.json", labelme_doc("a.jpg", [("cat", "rectangle", [[1, 2], [30, 40]]),
                                                ("dog", "rectangle", [[5, 5], [9, 9]])]), read_labelme),
}


@pytest.mark.parametrize("fmt", sorted(FUZZ_SOURCES))
@settings(suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_mutated_files_are_read_or_refused_by_name(tmp_path, fmt, data):
    name, text, reader = FUZZ_SOURCES[fmt]
    raw = bytearray(text.encode())
    for _ in range(data.draw(st.integers(1, 4))):
        at = data.draw(st.integers(0, len(raw)))
        action = data.draw(st.sampled_from(["delete", "insert", "replace", "truncate"]))
        chunk = data.draw(st.sampled_from([b"<", b">", b"/", b'"', b"-", b"1e999", b"nan", b" ", b"\n", b"\xff",
                                           b"9", b"x", b"{", b"]", b":", b"&amp;", b"<object>"]))
        if action == "delete":
            del raw[at:at + data.draw(st.integers(1, 20))]
        elif action == "insert":
            raw[at:at] = chunk
        elif action == "replace":
            raw[at:at + len(chunk)] = chunk
        else:
            del raw[at:]
    folder = tmp_path / fmt
    folder.mkdir(exist_ok=True)
    for old in folder.iterdir():
        old.unlink()
    (folder / name).write_bytes(bytes(raw))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            gt = reader(folder / name)
        except ValueError as exc:
            assert name in str(exc) or "classes" in str(exc), str(exc)
            return
    for record in gt.records:  # what was read is valid mean_ap input
        assert np.all(np.isfinite(record["boxes"]))
        assert len(record["labels"]) == len(record["boxes"]) == len(record["difficult"])
