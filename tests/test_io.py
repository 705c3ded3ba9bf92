"""detmetrics.io: COCO / YOLO readers and writers, round trips, errors, and the bundled sample."""

import filecmp
import json
import runpy
import shutil
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from detmetrics.io import (
    DetectionData,
    load_ground_truth,
    load_predictions,
    read_coco_gt,
    read_coco_results,
    read_image_size,
    read_sizes_file,
    read_yolo_dataset,
    read_yolo_predictions,
    sample_path,
    write_coco_gt,
    write_coco_results,
    write_yolo_labels,
    write_yolo_predictions,
)

from _support import requires_numba

ROOT = Path(__file__).resolve().parent.parent


# ----------------------------------------------------------------------------------------------
# helpers


def make_dataset(root: Path, labels: dict, sizes: dict, names=("a", "b", "c"), predictions=None, images=False):
    """Write a YOLO dataset: data.yaml, labels/val/*.txt, a sizes file (or PNG images), predictions/."""
    root.mkdir(parents=True, exist_ok=True)
    (root / "data.yaml").write_text("path: .\nval: images/val\nnames: [" + ", ".join(names) + "]\n")
    (root / "labels" / "val").mkdir(parents=True, exist_ok=True)
    for stem, text in labels.items():
        (root / "labels" / "val" / f"{stem}.txt").write_text(text)
    if images:
        from PIL import Image

        (root / "images" / "val").mkdir(parents=True, exist_ok=True)
        for name, (w, h) in sizes.items():
            Image.new("L", (int(w), int(h))).save(root / "images" / "val" / name)
    else:
        (root / "sizes.txt").write_text("".join(f"{n} {w} {h}\n" for n, (w, h) in sizes.items()))
    if predictions is not None:
        (root / "pred").mkdir(exist_ok=True)
        for stem, text in predictions.items():
            (root / "pred" / f"{stem}.txt").write_text(text)
    return root


def read(root: Path, **kw):
    sizes = root / "sizes.txt"
    return read_yolo_dataset(root, sizes=sizes if sizes.exists() else None, **kw)


# ----------------------------------------------------------------------------------------------
# hypothesis round trips

coord = st.integers(0, 1000).map(lambda v: v / 1000)


def _boxes(draw, n, width, height, obb):
    rows = []
    for _ in range(n):
        x1, x2 = sorted((draw(coord), draw(coord)))
        y1, y2 = sorted((draw(coord), draw(coord)))
        if obb:
            rows.append([[x1 * width, y1 * height], [x2 * width, y1 * height],
                         [x2 * width, y2 * height], [x1 * width, y2 * height]])
        else:
            rows.append([x1 * width, y1 * height, (x2 - x1) * width, (y2 - y1) * height])
    return np.array(rows, dtype=np.float64).reshape((-1, 4, 2) if obb else (-1, 4))


@st.composite
def gt_pred_pairs(draw, obb=False, max_images=4):
    """A ground truth and predictions (DetectionData, source "yolo") on the same images."""
    n_images = draw(st.integers(1, max_images))
    sizes = np.array([[draw(st.sampled_from([320, 640, 1000, 1333])), draw(st.sampled_from([240, 480, 750]))]
                      for _ in range(n_images)], dtype=np.float64)
    gts, preds = [], []
    for width, height in sizes:
        n = draw(st.integers(0, 5))
        boxes = _boxes(draw, n, width, height, obb)
        gts.append({"boxes": boxes, "labels": np.array(draw(st.lists(st.integers(0, 2), min_size=n, max_size=n)), np.int64),
                    "iscrowd": np.zeros(n, np.uint8), "area": np.zeros(n) if obb else boxes[:, 2] * boxes[:, 3]})
        n = draw(st.integers(0, 5))
        preds.append({"boxes": _boxes(draw, n, width, height, obb),
                      "labels": np.array(draw(st.lists(st.integers(0, 2), min_size=n, max_size=n)), np.int64),
                      "scores": np.array(draw(st.lists(st.sampled_from([0.0, 0.3, 0.5, 0.123456789, 1.0]),
                                                       min_size=n, max_size=n)), np.float64)})
    names = [f"img{i:03d}.jpg" for i in range(n_images)]
    common = dict(image_ids=[Path(n).stem for n in names], file_names=names, class_names={0: "a", 1: "b", 2: "c"},
                  image_sizes=sizes, box_format="quad" if obb else "xywh", source="yolo")
    return DetectionData(records=gts, kind="ground_truth", **common), DetectionData(records=preds, kind="predictions", **common)


def _write_sizes(tmp: Path, data: DetectionData) -> Path:
    path = tmp / "sizes.txt"
    path.write_text("".join(f"{n} {w:g} {h:g}\n" for n, (w, h) in zip(data.file_names, data.image_sizes)))
    return path


@pytest.mark.parametrize("obb", [False, True])
@given(data=st.data())
def test_yolo_round_trip(tmp_path_factory, obb, data):
    gt, pred = data.draw(gt_pred_pairs(obb=obb))
    tmp = tmp_path_factory.mktemp("rt")
    (tmp / "data.yaml").write_text("path: .\nval: images/val\nnames: [a, b, c]\n")
    write_yolo_labels(gt, tmp / "labels" / "val")
    write_yolo_predictions(pred, tmp / "pred")
    back = read_yolo_dataset(tmp, sizes=_write_sizes(tmp, gt), obb=obb)
    back_pred = read_yolo_predictions(tmp / "pred", back)
    assert back.image_ids == gt.image_ids and back.file_names == gt.file_names and back.obb == obb
    np.testing.assert_array_equal(back.image_sizes, gt.image_sizes)
    for a, b in zip(gt.records + pred.records, back.records + back_pred.records):
        np.testing.assert_array_equal(a["labels"], b["labels"])
        np.testing.assert_allclose(b["boxes"], a["boxes"], rtol=0, atol=1e-9)
        if "scores" in a:
            np.testing.assert_array_equal(a["scores"], b["scores"])
    if not obb:
        auto = read_yolo_dataset(tmp, sizes=tmp / "sizes.txt")  # detect is also what auto-detection finds
        assert not auto.obb


@given(gt_pred_pairs())
def test_coco_round_trip_is_exact(tmp_path_factory, pair):
    gt, pred = pair
    tmp = tmp_path_factory.mktemp("coco")
    write_coco_gt(gt, tmp / "gt.json")
    write_coco_results(pred, tmp / "res.json")
    back = read_coco_gt(tmp / "gt.json")
    back_pred = read_coco_results(tmp / "res.json", back, category_ids="ids")
    assert back.class_names == {1: "a", 2: "b", 3: "c"} and back.file_names == gt.file_names
    for a, b in zip(gt.records + pred.records, back.records + back_pred.records):
        np.testing.assert_array_equal(a["boxes"], b["boxes"])  # exact: floats are written with repr
        np.testing.assert_array_equal(a["labels"] + 1, b["labels"])
        for key in ("area", "scores"):
            if key in a:
                np.testing.assert_array_equal(a[key], b[key])


# ----------------------------------------------------------------------------------------------
# conventions


def test_sample_is_read_in_file_name_order_with_missing_files():
    gt = read_yolo_dataset(sample_path("yolo"))
    assert gt.file_names == sorted(gt.file_names) and len(gt) == 12
    assert gt.image_ids[0] == "img01" and gt.class_names == {0: "person", 1: "car", 2: "dog", 3: "bicycle"}
    # img05 has no label file, img12 an empty one: no objects
    assert len(gt.records[4]["labels"]) == 0 and len(gt.records[11]["labels"]) == 0
    pred = read_yolo_predictions(sample_path("yolo") / "predictions", gt)
    # img03 and img09 have no prediction file: no detections
    assert len(pred.records[2]["labels"]) == 0 and len(pred.records[8]["labels"]) == 0
    assert gt.image_sizes[3].tolist() == [1280.0, 720.0]
    # area is the pixel area of the box, as COCO area ranges need
    r = gt.records[0]
    np.testing.assert_allclose(r["area"], r["boxes"][:, 2] * r["boxes"][:, 3])


def test_folder_layout_without_yaml_and_classes_txt(tmp_path):
    root = tmp_path / "ds"
    (root / "labels").mkdir(parents=True)
    (root / "images").mkdir()
    from PIL import Image

    Image.new("L", (100, 50)).save(root / "images" / "b.png")
    Image.new("L", (10, 10)).save(root / "images" / "a.jpg")
    (root / "labels" / "b.txt").write_text("1 0.5 0.5 0.2 0.2\n\n")
    gt = read_yolo_dataset(root)
    assert gt.file_names == ["a.jpg", "b.png"] and gt.class_names == {0: "0", 1: "1"} and gt.names_inferred
    np.testing.assert_allclose(gt.records[1]["boxes"], [[40, 20, 20, 10]])
    (root / "classes.txt").write_text("cat\ndog\n")
    assert read_yolo_dataset(root).class_names == {0: "cat", 1: "dog"}


def test_yaml_with_image_list_and_numeric_stems(tmp_path):
    root = make_dataset(tmp_path / "ds", {"10": "0 0.5 0.5 1 1\n", "2": "0 0.5 0.5 0.5 0.5\n"},
                        {"2.png": (10, 10), "10.png": (20, 20)}, images=True)
    (root / "val.txt").write_text("./images/val/2.png\n./images/val/10.png\n")
    (root / "data.yaml").write_text("path: .\nval: val.txt\nnames: {0: a}\n")
    gt = read_yolo_dataset(root)
    assert gt.image_ids == [10, 2]  # file-name order; ultralytics' ids (int stems)
    pred = read_coco_results([{"image_id": 2, "category_id": 1, "bbox": [0, 0, 5, 5], "score": 0.5},
                              {"image_id": "10", "category_id": 1, "bbox": [0, 0, 5, 5], "score": 0.4}], gt)
    assert [len(r["labels"]) for r in pred.records] == [1, 1]
    assert pred.records[1]["labels"].tolist() == [0]  # 1-based (ultralytics) -> class 0, with a warning


def test_image_size_from_headers(tmp_path, monkeypatch):
    from PIL import Image

    Image.new("RGB", (30, 20)).save(tmp_path / "a.png")
    assert read_image_size(tmp_path / "a.png") == (30.0, 20.0)
    exif = Image.Exif()
    exif[0x0112] = 6  # rotated 90 degrees on display
    Image.new("RGB", (30, 20)).save(tmp_path / "b.jpg", exif=exif)
    assert read_image_size(tmp_path / "b.jpg") == (20.0, 30.0)
    monkeypatch.setitem(sys.modules, "PIL", None)  # without Pillow: PNG headers only
    assert read_image_size(tmp_path / "a.png") == (30.0, 20.0)
    with pytest.raises(ValueError, match="without Pillow"):
        read_image_size(tmp_path / "b.jpg")


def test_sizes_file(tmp_path):
    p = tmp_path / "s.txt"
    p.write_text("# comment\nmy image.jpg 640 480  # trailing\n\nb.png 10 20\n")
    assert read_sizes_file(p) == {"my image.jpg": (640.0, 480.0), "b.png": (10.0, 20.0)}


def test_sample_generator_is_deterministic(tmp_path):
    runpy.run_path(str(ROOT / "examples" / "make_sample.py"), run_name="make_sample")["main"](tmp_path)
    bundled = ROOT / "detmetrics" / "data"
    for path in sorted(tmp_path.rglob("*")):
        if path.is_file():
            assert filecmp.cmp(path, bundled / path.relative_to(tmp_path), shallow=False), path
    files = [p for p in bundled.rglob("*") if p.is_file() and "__pycache__" not in p.parts]
    assert len(files) == len([p for p in tmp_path.rglob("*") if p.is_file()])
    assert sum(p.stat().st_size for p in files) < 200_000


def test_coco_pair_matches_yolo_sample():
    gt = read_yolo_dataset(sample_path("yolo"))
    pred = read_yolo_predictions(sample_path("yolo") / "predictions", gt)
    cgt = read_coco_gt(sample_path("coco-gt"))
    cpred = read_coco_results(sample_path("coco-results"), cgt)
    assert [f for f in cgt.file_names] == gt.file_names
    for a, b in zip(gt.records + pred.records, cgt.records + cpred.records):
        np.testing.assert_array_equal(a["boxes"], b["boxes"])
        np.testing.assert_array_equal(a["labels"] + 1, b["labels"])


# ----------------------------------------------------------------------------------------------
# category ids of results files


def _gt_yolo(tmp_path, n_classes=3):
    names = [f"c{i}" for i in range(n_classes)]
    return read(make_dataset(tmp_path / "ds", {"a": "0 0.5 0.5 0.5 0.5\n"}, {"a.jpg": (100, 100)}, names=names))


def _res(*cats, image_id="a"):
    return [{"image_id": image_id, "category_id": c, "bbox": [0, 0, 1, 1], "score": 0.5} for c in cats]


def test_category_ids_yolo_auto(tmp_path):
    gt = _gt_yolo(tmp_path)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert read_coco_results(_res(3, 1), gt).records[0]["labels"].tolist() == [2, 0]  # only 1-based fits
        assert read_coco_results(_res(0, 2), gt).records[0]["labels"].tolist() == [0, 2]  # only 0-based fits
    with pytest.warns(UserWarning, match="fit several mappings.*assuming 'index1'"):
        assert read_coco_results(_res(1, 2), gt).records[0]["labels"].tolist() == [0, 1]
    assert read_coco_results(_res(1, 2), gt, category_ids="index0").records[0]["labels"].tolist() == [1, 2]
    with pytest.raises(ValueError, match=r"category ids \[0, 3\] match none"):
        read_coco_results(_res(0, 3), gt)
    with pytest.raises(ValueError, match="do not fit category_ids='index1'"):
        read_coco_results(_res(0), gt, category_ids="index1")


def test_category_ids_coco91(tmp_path):
    gt = _gt_yolo(tmp_path, n_classes=80)
    labels = read_coco_results(_res(1, 90, 27), gt).records[0]["labels"].tolist()
    assert labels == [0, 79, 24]


def test_category_ids_coco_gt():
    gt = read_coco_gt({"images": [{"id": 1, "file_name": "x.jpg"}], "annotations": [],
                       "categories": [{"id": 5, "name": "a"}, {"id": 9, "name": "b"}]})
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert read_coco_results(_res(9, 5, image_id=1), gt).records[0]["labels"].tolist() == [9, 5]
    with pytest.warns(UserWarning, match="fit several"):
        assert read_coco_results(_res(1, image_id=1), gt).records[0]["labels"].tolist() == [5]
    with pytest.warns(UserWarning, match="mapping them as 'index0'"):
        assert read_coco_results(_res(0, image_id=1), gt).records[0]["labels"].tolist() == [5]


def test_results_keep_file_order_and_stems():
    gt = read_coco_gt({"images": [{"id": 3, "file_name": "dir/000000000003.jpg"}, {"id": 1, "file_name": "b.jpg"}],
                       "annotations": [], "categories": [{"id": 1, "name": "a"}]})
    res = _res(1, 1, image_id=3) + _res(1, image_id="b") + _res(1, image_id="000000000003")
    res[0]["score"] = 0.1
    pred = read_coco_results(res, gt)
    assert pred.records[1]["scores"].tolist() == [0.1, 0.5, 0.5]
    assert len(pred.records[0]["scores"]) == 1


# ----------------------------------------------------------------------------------------------
# errors: every malformed input names the file (and the line)


def _ds(tmp_path, labels=None, preds=None, names=("a", "b", "c"), sizes=None):
    labels = {"a": "0 0.5 0.5 0.2 0.2\n"} if labels is None else labels
    sizes = {"a.jpg": (100, 100)} if sizes is None else sizes
    return make_dataset(tmp_path / "ds", labels, sizes, names=names, predictions=preds)


def _read_pred(root):
    return read_yolo_predictions(root / "pred", read(root))


BAD_FILES = [
    ({"labels": {"a": "0 0.5 0.5 0.2\n"}}, read, r"a\.txt:1: expected 'class cx cy w h' \(5 fields\)"),
    ({"labels": {"a": "0 0.5 0.5 0.2 0.2\n0 0.5 x 0.2 0.2\n"}}, read, r"a\.txt:2: fields must be numbers"),
    ({"labels": {"a": "0 0.5 0.5 0.2 0.2\n\n0 0.5 0.5 0.2\n"}}, read, r"a\.txt:3: has 4 fields but line 1 has 5"),
    ({"labels": {"a": "0 0.5 0.5 0.2 0.2 0.9\n"}}, read, r"a\.txt:1: a label line has no confidence"),
    ({"labels": {"a": "0 0.5 0.5 0.2 0.2\n5 0.5 0.5 0.2 0.2\n"}}, read, r"a\.txt:2: class id 5 is outside names"),
    ({"labels": {"a": "1.5 0.5 0.5 0.2 0.2\n"}}, read, r"a\.txt:1: the class id must be an integer in \[0, 2\*\*53\)"),
    ({"labels": {"a": "0 0.5 0.5 1.2 0.2\n"}}, read, r"a\.txt:1: coordinates must be normalized"),
    ({"labels": {"a": "0 0.5 0.5 nan 0.2\n"}}, read, r"a\.txt:1: coordinates must be normalized"),
    # a polygon line makes the dataset a segment one: a box line there is a malformed polygon
    ({"labels": {"a": "0 0.5 0.5 0.2 0.2\n0 " + "0.1 " * 12 + "\n"}}, read, r"a\.txt:1: a segment line"),
    ({"labels": {"a": "0 0.1 0.1 0.9 0.9 0.9 0.1 0.1 0.9\n"}}, read, r"a\.txt:1: the 4 corners do not form a convex"),
    ({"labels": {"a": "0 0.5 0.5 0.2 0.2\n", "zz": ""}}, read, r"label file .*zz\.txt has no image"),
    ({"sizes": {"b.jpg": (10, 10)}}, read, r"label file .*a\.txt has no image"),
    ({"preds": {"a": "0 0.5 0.5 0.2 0.2\n"}}, _read_pred, r"a\.txt:1: a prediction line needs a trailing confidence"),
    ({"preds": {"a": "0 0.5 0.5 0.2 0.2 0.9\n7 0.5 0.5 0.2 0.2 0.9\n"}}, _read_pred, r"a\.txt:2: class id 7 is outside"),
    ({"preds": {"a": "0 0.5 0.5 0.2 0.2 1.5\n"}}, _read_pred, r"a\.txt:1: confidence must be in \[0, 1\]"),
    ({"preds": {"a": "0 0.5 0.5 -0.2 0.2 0.5\n"}}, _read_pred, r"a\.txt:1: width and height must be >= 0"),
    ({"preds": {"a": "0 0.5 0.5 inf 0.2 0.5\n"}}, _read_pred, r"a\.txt:1: coordinates and confidence must be finite"),
    ({"preds": {"q": "0 0.5 0.5 0.2 0.2 0.5\n"}}, _read_pred, r"prediction file .*q\.txt has no image 'q'"),
]


@pytest.mark.parametrize("spec, reader, match", BAD_FILES)
def test_bad_files(tmp_path, spec, reader, match):
    root = _ds(tmp_path, **spec)
    with pytest.raises(ValueError, match=match):
        reader(root)


def _coco(**changes):
    base = {"images": [{"id": 1, "file_name": "a.jpg"}],
            "annotations": [{"id": 1, "image_id": 1, "category_id": 1, "bbox": [0, 0, 2, 2], "area": 4, "iscrowd": 0}],
            "categories": [{"id": 1, "name": "a"}]}
    for key, value in changes.items():
        if key == "ann":
            base["annotations"][0].update(value)
        else:
            base[key] = value
    return base


GT = read_coco_gt(_coco())

BAD_INPUT = [
    (lambda p: read_yolo_dataset(p / "nope"), ValueError, "does not exist"),
    (lambda p: read_yolo_dataset(p), ValueError, "is not a YOLO dataset"),
    (lambda p: read_yolo_predictions(p / "nope", GT), ValueError, "prediction folder .* does not exist"),
    (lambda p: read_coco_gt(p / "nope.json"), ValueError, "does not exist"),
    (lambda p: (p / "x.json").write_text("{oops") and read_coco_gt(p / "x.json"), ValueError, "not valid JSON"),
    (lambda p: read_coco_gt([]), ValueError, "is it a results file"),
    (lambda p: read_coco_gt(_coco(ann={"bbox": [0, 0, -1, 2]})), ValueError, r"annotations\[0\]: bbox must be"),
    (lambda p: read_coco_gt(_coco(ann={"image_id": 9})), ValueError, r"annotations\[0\]: image_id 9 is not"),
    (lambda p: read_coco_gt(_coco(ann={"category_id": 4})), ValueError, "category_id 4 is not in 'categories'"),
    (lambda p: read_coco_gt(_coco(ann={"iscrowd": 2})), ValueError, "iscrowd must be 0 or 1"),
    (lambda p: read_coco_gt(_coco(images=[{"id": 1}, {"id": 1}])), ValueError, "image id 1 appears twice"),
    (lambda p: read_coco_gt(_coco(images=[{"file_name": "x"}])), ValueError, r"images\[0\] needs"),
    (lambda p: read_coco_results(_res(1, image_id=5), GT), ValueError, r"\[0\]: image_id 5 is not an image"),
    (lambda p: read_coco_results([{**_res(1, image_id=1)[0], "score": None}], GT), ValueError, "score must be"),
    (lambda p: read_coco_results([{**_res(1, image_id=1)[0], "bbox": [1, 2]}], GT), ValueError, "bbox must be"),
    (lambda p: read_coco_results({"x": 1}, GT), ValueError, "must be a list of detections"),
    (lambda p: read_coco_results(_res(1, image_id=1), GT, category_ids="x"), ValueError, "category_ids must be"),
    (lambda p: read_sizes_file(p / "none.txt"), ValueError, "sizes file .* does not exist"),
    (lambda p: (p / "s.txt").write_text("a.jpg 10\n") and read_sizes_file(p / "s.txt"), ValueError, r"s\.txt:1: expected"),
    (lambda p: (p / "s.txt").write_text("a.jpg 10 x\n") and read_sizes_file(p / "s.txt"), ValueError, r"s\.txt:1: width"),
    (lambda p: (p / "s.txt").write_text("a 1 1\na 0 1\n") and read_sizes_file(p / "s.txt"), ValueError, r"s\.txt:2: width"),
    (lambda p: write_yolo_predictions(GT, p), ValueError, "needs predictions"),
    (lambda p: write_coco_results(GT), ValueError, "needs predictions"),
    (lambda p: load_predictions(p, GT), ValueError, "need image sizes"),
]


@pytest.mark.parametrize("call, exception, match", BAD_INPUT)
def test_bad_input(tmp_path, call, exception, match):
    with pytest.raises(exception, match=match):
        call(tmp_path)


def test_yaml_errors(tmp_path):
    root = _ds(tmp_path)
    (root / "data.yaml").write_text("path: .\nval: images/val\n")
    with pytest.raises(ValueError, match="has no 'names' entry"):
        read(root)
    (root / "data.yaml").write_text("path: .\nnames: [a]\n")
    with pytest.raises(ValueError, match="has no 'val' split"):
        read(root)
    (root / "data.yaml").write_text("path: .\nval: images/val\nnames: {0: a, 2: b}\n")
    with pytest.raises(ValueError, match="keys must be 0..1"):
        read(root)
    (root / "data.yaml").write_text("path: .\nval: images/val\nnames: [a]\n")
    (root / "sizes.txt").write_text("b.jpg 1 1\n")
    with pytest.raises(ValueError, match="has no image"):
        read(root)
    (root / "sizes.txt").unlink()
    with pytest.raises(ValueError, match="image folder .* does not exist"):
        read(root)


def test_yolo_predictions_against_coco_ground_truth(tmp_path):
    gt = read_coco_gt({"images": [{"id": 4, "file_name": "x/a.jpg", "width": 100, "height": 50}], "annotations": [],
                       "categories": [{"id": 3, "name": "a"}, {"id": 7, "name": "b"}]})
    (tmp_path / "a.txt").write_text("1 0.5 0.5 0.2 0.2 0.9\n")
    pred = load_predictions(tmp_path, gt)
    assert pred.records[0]["labels"].tolist() == [7]
    np.testing.assert_allclose(pred.records[0]["boxes"], [[40, 20, 20, 10]])


def test_load_dispatches_on_suffix(tmp_path):
    assert load_ground_truth(sample_path("coco-gt")).source == "coco"
    gt = load_ground_truth(sample_path("yolo") / "data.yaml")
    assert gt.source == "yolo"
    assert load_predictions(sample_path("coco-results"), load_ground_truth(sample_path("coco-gt"))).n_objects == 43
    with pytest.raises(ValueError, match="image_id 1 is not an image"):  # COCO ids vs YOLO stems
        load_predictions(sample_path("coco-results"), gt)
    json.loads(sample_path("coco-gt").read_text())  # valid JSON for any tool


# ----------------------------------------------------------------------------------------------
# evaluation: YOLO folder == its COCO conversion == pycocotools on that conversion (oracle)


def _pycocotools_stats(gt_json, res_json):
    from _support import pycocotools_eval

    return pycocotools_eval(gt_json, res_json)[0]


def _check_yolo_vs_coco(tmp, gt, pred):
    from detmetrics import mean_ap

    write_coco_gt(gt, tmp / "gt.json")
    write_coco_results(pred, tmp / "res.json")
    from_yolo = mean_ap(pred.records, gt.records, **gt.mean_ap_kwargs())
    cgt = read_coco_gt(tmp / "gt.json")
    from_coco = mean_ap(read_coco_results(tmp / "res.json", cgt, category_ids="ids").records, cgt.records,
                        **cgt.mean_ap_kwargs())
    np.testing.assert_array_equal(from_yolo.stats, from_coco.stats)
    np.testing.assert_array_equal(from_yolo.precision, from_coco.precision)
    np.testing.assert_array_equal(from_yolo.recall, from_coco.recall)
    ev = _pycocotools_stats(tmp / "gt.json", tmp / "res.json")
    np.testing.assert_allclose(from_yolo.stats, ev.stats, rtol=0, atol=1e-12)
    np.testing.assert_allclose(from_coco.precision, ev.eval["precision"], rtol=0, atol=1e-12)
    np.testing.assert_allclose(from_coco.recall, ev.eval["recall"], rtol=0, atol=1e-12)
    return from_yolo


def test_sample_yolo_equals_coco_equals_pycocotools(tmp_path):
    gt = read_yolo_dataset(sample_path("yolo"))
    pred = read_yolo_predictions(sample_path("yolo") / "predictions", gt)
    result = _check_yolo_vs_coco(tmp_path, gt, pred)
    assert 0 < result.map < 1
    # the bundled COCO pair is that conversion
    ev = _pycocotools_stats(sample_path("coco-gt"), sample_path("coco-results"))
    np.testing.assert_allclose(result.stats, ev.stats, rtol=0, atol=1e-12)


@given(gt_pred_pairs(max_images=5))
def test_generated_yolo_folders_vs_pycocotools(tmp_path_factory, pair):
    from hypothesis import assume

    gt, pred = pair
    assume(pred.n_objects > 0)  # pycocotools' loadRes cannot load an empty results list
    tmp = tmp_path_factory.mktemp("oracle")
    (tmp / "data.yaml").write_text("path: .\nval: images/val\nnames: [a, b, c]\n")
    write_yolo_labels(gt, tmp / "labels" / "val")
    write_yolo_predictions(pred, tmp / "pred")
    gt = read_yolo_dataset(tmp, sizes=_write_sizes(tmp, gt))  # the files, as a user would read them
    pred = read_yolo_predictions(tmp / "pred", gt)
    _check_yolo_vs_coco(tmp, gt, pred)


def test_batched_detect_reading_equals_the_per_file_path(tmp_path, monkeypatch):
    # well-formed detect folders are parsed in whole-array passes; the per-file parser (which names
    # the file and line of a problem) must give the same data, bit for bit
    import detmetrics.io.yolo as yolo_module

    root = tmp_path / "ds"
    shutil.copytree(sample_path("yolo"), root)
    (root / "labels" / "val" / "img05.txt").write_text("\n0 0.5 0.5 0.2 0.2\n\n1 0.25 0.5 0.1 0.3\n")  # blank lines
    (root / "predictions" / "img06.txt").write_text("")

    def read():
        gt = read_yolo_dataset(root)
        return gt, read_yolo_predictions(root / "predictions", gt)

    calls = []
    batch = yolo_module._batch_table
    monkeypatch.setattr(yolo_module, "_batch_table", lambda texts, width: calls.append(width) or batch(texts, width))
    fast = read()
    assert calls == [5, 6]  # both readers took the batched path
    monkeypatch.setattr(yolo_module, "_batch_table", lambda texts, width: None)
    slow = read()
    for a, b in zip(fast, slow):
        assert a.class_names == b.class_names and a.image_ids == b.image_ids
        np.testing.assert_array_equal(a.image_sizes, b.image_sizes)
        for ra, rb in zip(a.records, b.records):
            assert ra.keys() == rb.keys()
            for key in ra:
                np.testing.assert_array_equal(ra[key], rb[key])
                assert np.asarray(ra[key]).dtype == np.asarray(rb[key]).dtype


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    import zlib

    return len(data).to_bytes(4, "big") + kind + data + zlib.crc32(kind + data).to_bytes(4, "big")


def test_png_sizes_from_the_header_equal_pillow(tmp_path):
    PIL = pytest.importorskip("PIL.Image", reason="Pillow is the oracle for image sizes")
    from detmetrics.io.yolo import read_image_size

    images = sorted((sample_path("yolo") / "images" / "val").glob("*.png"))
    assert images
    for path in images:
        with PIL.open(path) as image:
            assert read_image_size(path) == tuple(float(v) for v in image.size)
    # an eXIf chunk before the image data (orientation 6: rotated on display): width and height swap,
    # as Pillow's exif_transpose and ultralytics' exif_size do
    import zlib

    exif = b"MM\x00*\x00\x00\x00\x08\x00\x01\x01\x12\x00\x03\x00\x00\x00\x01\x00\x06\x00\x00\x00\x00\x00\x00"
    ihdr = (30).to_bytes(4, "big") + (20).to_bytes(4, "big") + bytes([8, 0, 0, 0, 0])
    raw = b"".join(b"\x00" + b"\x00" * 30 for _ in range(20))
    png = (b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", ihdr) + _png_chunk(b"eXIf", exif)
           + _png_chunk(b"IDAT", zlib.compress(raw)) + _png_chunk(b"IEND", b""))
    rotated = tmp_path / "rotated.png"
    rotated.write_bytes(png)
    plain = tmp_path / "plain.png"
    plain.write_bytes(png.replace(_png_chunk(b"eXIf", exif), b""))
    with PIL.open(rotated) as image:
        assert image.getexif().get(0x0112) == 6 and image.size == (30, 20)
    assert read_image_size(rotated) == (20.0, 30.0)
    assert read_image_size(plain) == (30.0, 20.0)


# ----------------------------------------------------------------------------------------------
# bbox results JSON scanned into columns (detmetrics.io._coco_decode._results_scan_kernel)

_NUMBER_TEXTS = st.one_of(
    st.floats(allow_nan=False, allow_infinity=False).map(repr),  # shortest reprs, up to 17 digits, 1e+16 forms
    st.floats(-1e4, 1e4, allow_nan=False).map(lambda v: f"{v:.2f}"),
    st.floats(0, 1, allow_nan=False).map(lambda v: f"{v:.17g}"),
    st.integers(-10**20, 10**20).map(str),
    st.builds(lambda m, e, c: f"{m}{c}{e}", st.integers(-10**16, 10**16), st.integers(-330, 330),
              st.sampled_from(["e", "E", "e+", "E-"])),
    st.sampled_from(["-0", "-0.0", "0", "0.0", "1e22", "1e23", "9007199254740993", "0.1", "5e-324", "1e-400",
                     "123456789012345.6", "1.7976931348623157e308", "1e400", "01", "1.", ".5", "1e", "-", "+1",
                     "0.10000000000000000555", "1.5e-23"]),
)
_ID_TEXTS = st.one_of(st.integers(1, 4).map(str), st.sampled_from(["1.0", "1e0", '"1"', "true", "null", "-0", "7",
                                                                   str(2**63), str(2**63 - 1), "04"]))
_EXTRA_FIELDS = st.sampled_from([
    ("file_name", '"img_1.jpg"'), ("file_name", '"a\\"},{\\"b"'), ("file_name", '"caf\\u00e9 \\n"'),
    ("file_name", '"caf\u00e9"'), ("id", "12"), ("area", "3.5"), ("flag", "true"), ("flag", "false"),
    ("flag", "null"), ("segmentation", '{"size": [4, 4], "counts": "02"}'), ("keypoints", "[1, 2, 2]"),
    ("bad", '"\\x"'), ("bad", "nul"),
])


@st.composite
def results_json(draw):
    """COCO bbox results as JSON text with the number spellings, separators and extra fields files have
    (and, now and then, the mistakes the typed decoder names)."""
    n = draw(st.integers(0, 6))
    sep = draw(st.sampled_from([(",", ":"), (", ", ": "), (" ,\n  ", " : "), ("\t,\r\n", ":\t")]))
    plain = draw(st.booleans())  # only ids 1..4, short decimals and known fields: the kernel reads all of it
    objs = []
    for _ in range(n):
        if plain:
            num = st.floats(0, 500, allow_nan=False).map(lambda v: f"{v:.2f}")
            fields = [("image_id", str(draw(st.integers(1, 4)))), ("category_id", str(draw(st.integers(1, 4)))),
                      ("bbox", "[" + sep[0].join(draw(num) for _ in range(4)) + "]"), ("score", draw(num))]
        else:
            width = draw(st.sampled_from([4, 4, 4, 3, 5]))
            fields = [("image_id", draw(_ID_TEXTS)), ("category_id", draw(_ID_TEXTS)),
                      ("bbox", "[" + sep[0].join(draw(_NUMBER_TEXTS) for _ in range(width)) + "]"),
                      ("score", draw(_NUMBER_TEXTS))]
            fields += draw(st.lists(_EXTRA_FIELDS, max_size=2))
            if draw(st.integers(0, 9)) == 0:
                fields.pop(draw(st.integers(0, len(fields) - 1)))
            if draw(st.integers(0, 9)) == 0:
                fields.append(fields[0])
            fields = draw(st.permutations(fields))
        objs.append("{" + sep[0].join(f'"{k}"{sep[1]}{v}' for k, v in fields) + "}")
    text = draw(st.sampled_from(["", " ", "\n"])) + "[" + sep[0].join(objs) + "]" + draw(st.sampled_from(["", "\n"]))
    return text.encode(), plain


def _columns_or_none(text, backend):
    from detmetrics.io._coco_decode import _results_scan_reference, _scan_results

    data = np.frombuffer(text, dtype=np.uint8)
    out = _scan_results(data, backend)
    return _results_scan_reference(data) if out is None else out  # load_results' order


@given(results_json())
def test_results_scan_equals_typed_decoder_and_json(case):
    text, plain = case
    from detmetrics.io._coco_decode import _results_scan_reference, _scan_results

    typed = _results_scan_reference(np.frombuffer(text, dtype=np.uint8))
    got = _columns_or_none(text, "numba")
    if typed is None:
        assert got is None
        return
    for a, b in zip(got, typed):  # bit for bit (a -0.0 is not a 0.0)
        assert a.dtype == b.dtype and a.shape == b.shape
        assert a.tobytes() == b.tobytes()
    if plain:  # the common file: the kernel itself reads it
        assert _scan_results(np.frombuffer(text, dtype=np.uint8), "numba") is not None
        # the oracle: Python's json (what pycocotools reads files with)
        items = json.loads(text)
        assert got[0].tolist() == [r["image_id"] for r in items]
        assert got[2].tolist() == [float(r["score"]) for r in items]
        assert got[3].tolist() == [[float(v) for v in r["bbox"]] for r in items]


@requires_numba
def test_results_scan_through_evaluate_coco(tmp_path):
    """evaluate_coco from a results file read by the kernel equals the typed path (and its errors)."""
    from detmetrics import evaluate_coco

    gt = {"images": [{"id": 1}, {"id": 2}], "categories": [{"id": 1}, {"id": 2}],
          "annotations": [{"id": 1, "image_id": 1, "category_id": 1, "bbox": [0, 0, 10, 10], "area": 100},
                          {"id": 2, "image_id": 2, "category_id": 2, "bbox": [5, 5, 10, 20], "area": 200}]}
    res = [{"image_id": 1, "category_id": 1, "bbox": [0.5, 0, 10, 10], "score": 0.98765432101234567,
            "file_name": "a.jpg"},
           {"image_id": 2, "category_id": 2, "bbox": [5, 5, 10, 19.5], "score": 0.5},
           {"image_id": 2, "category_id": 7, "bbox": [5, 5, 10, 19.5], "score": 0.25}]
    path = tmp_path / "res.json"
    path.write_text(json.dumps(res))
    a = evaluate_coco(gt, str(path), backend="numba")
    b = evaluate_coco(gt, str(path), backend="numpy")
    c = evaluate_coco(gt, res, backend="numpy")
    assert np.array_equal(a.stats, b.stats) and np.array_equal(a.stats, c.stats)
    assert np.array_equal(a.precision, c.precision)
    path.write_text(json.dumps(res[:1] + [{**res[1], "image_id": 5}]))
    for backend in ("numba", "numpy"):
        with pytest.raises(ValueError, match=r"results: \[1\]\.image_id 5 is not an image of the ground truth"):
            evaluate_coco(gt, str(path), backend=backend)
    path.write_text(json.dumps([{**res[1], "bbox": [0, 0, -1, 2]}]))
    for backend in ("numba", "numpy"):
        with pytest.raises(ValueError, match=r"results: \[0\]\.bbox has a negative width or height"):
            evaluate_coco(gt, str(path), backend=backend)
    path.write_text(json.dumps([{**res[1], "score": True}]))
    for backend in ("numba", "numpy"):
        with pytest.raises(ValueError, match=r"results: Expected `float`, got `bool` - at `\$\[0\]\.score`"):
            evaluate_coco(gt, str(path), backend=backend)
