"""YOLO-seg / YOLO-pose folders, their prediction txt files and predictions.json, against pycocotools.

Each folder is written the way ultralytics writes it (normalised polygons /
boxes + keypoints, ``kpt_shape`` in ``data.yaml``, ``save_txt`` +
``save_conf`` predictions, ``predictions.json`` with RLE ``segmentation`` or
``keypoints`` and a ``bbox``), then scored by ``detmetrics.evaluate_files``
(and ``detmetrics eval``) and by pycocotools' ``COCOeval`` on the equivalent
COCO JSON (pixel polygons, RLE results, areas as ``COCO.loadRes`` sets them).
"""

import json

import numpy as np
import pytest
from pycocotools import mask as coco_mask

from detmetrics import evaluate_files
from detmetrics.cli import main
from detmetrics.io import load_ground_truth, load_predictions, read_yolo_dataset

from _support import pycocotools_eval

ATOL = 1e-12
W, H = 64, 48
SCORES = (0.9, 0.75, 0.5, 0.5, 0.3, 0.1)


def _fmt(values):
    return " ".join(repr(float(v)) for v in values)


def _polygon(rng, cx, cy, r):
    n = int(rng.integers(3, 9))
    ang = np.sort(rng.uniform(0, 2 * np.pi, n))
    rad = r * rng.uniform(0.5, 1.0, n)
    xs = np.clip(cx + rad * np.cos(ang), 0, W) / W
    ys = np.clip(cy + rad * np.sin(ang), 0, H) / H
    return np.round(np.stack([xs, ys], 1), 4)


def _write_dataset(root, yaml_extra=""):
    (root / "labels" / "val").mkdir(parents=True)
    (root / "predictions").mkdir()
    (root / "data.yaml").write_text("path: .\nval: images/val\nnames: ['a', 'b', 'c']\n" + yaml_extra)


def make_seg_folder(root, seed=0, n_images=10):
    """A YOLO-seg folder, prediction txt files and the equivalent COCO gt / results."""
    rng = np.random.default_rng(seed)
    _write_dataset(root)
    images, anns, results, sizes = [], [], [], {}
    for i in range(n_images):
        name = f"{i + 1:03d}.jpg"
        sizes[name] = (W, H)
        images.append({"id": i + 1, "height": H, "width": W, "file_name": name})
        label_lines, pred_lines, objects = [], [], []
        for _ in range(int(rng.integers(0, 5))):
            cls = int(rng.integers(0, 3))
            poly = _polygon(rng, rng.uniform(0, W), rng.uniform(0, H), rng.uniform(4, 20))
            label_lines.append(f"{cls} {_fmt(poly.ravel())}")
            xy = (poly * np.array([W, H])).ravel().tolist()
            rle = coco_mask.merge(coco_mask.frPyObjects([xy], H, W))
            pts = np.array(xy).reshape(-1, 2)
            anns.append({"id": len(anns) + 1, "image_id": i + 1, "category_id": cls, "segmentation": [xy],
                         "area": float(coco_mask.area(rle)), "iscrowd": 0,
                         "bbox": [pts[:, 0].min(), pts[:, 1].min(), np.ptp(pts[:, 0]), np.ptp(pts[:, 1])]})
            objects.append((cls, poly))
        for _ in range(int(rng.integers(0, 7)) if i % 4 else 0):
            if objects and rng.random() < 0.7:
                cls, poly = objects[int(rng.integers(len(objects)))]
                poly = np.clip(poly + rng.normal(0, 0.02, poly.shape), 0, 1).round(4)
                cls = cls if rng.random() < 0.8 else int(rng.integers(0, 3))
            else:
                cls = int(rng.integers(0, 3))
                poly = _polygon(rng, rng.uniform(0, W), rng.uniform(0, H), rng.uniform(3, 15))
            score = float(rng.choice(SCORES))
            pred_lines.append(f"{cls} {_fmt(poly.ravel())} {score!r}")
            xy = (poly * np.array([W, H])).ravel().tolist()
            rle = coco_mask.merge(coco_mask.frPyObjects([xy], H, W))
            results.append({"image_id": i + 1, "category_id": cls, "score": score,
                            "segmentation": {"size": rle["size"], "counts": rle["counts"].decode()}})
        if label_lines:
            (root / "labels" / "val" / f"{i + 1:03d}.txt").write_text("\n".join(label_lines) + "\n")
        if pred_lines:
            (root / "predictions" / f"{i + 1:03d}.txt").write_text("\n".join(pred_lines) + "\n")
    categories = [{"id": c, "name": n} for c, n in enumerate("abc")]
    return sizes, {"images": images, "annotations": anns, "categories": categories}, results


def make_pose_folder(root, seed=0, n_images=10, k=17, dim=3):
    rng = np.random.default_rng(seed)
    _write_dataset(root, f"kpt_shape: [{k}, {dim}]\nflip_idx: {list(range(k))}\n")
    images, anns, results, sizes = [], [], [], {}
    for i in range(n_images):
        name = f"{i + 1:03d}.jpg"
        sizes[name] = (W, H)
        images.append({"id": i + 1, "height": H, "width": W, "file_name": name})
        label_lines, pred_lines, people = [], [], []
        for _ in range(int(rng.integers(0, 4))):
            cls = int(rng.integers(0, 3))
            w, h = rng.uniform(0.1, 0.6, 2).round(4)
            cx, cy = round(float(rng.uniform(w / 2, 1 - w / 2)), 4), round(float(rng.uniform(h / 2, 1 - h / 2)), 4)
            kx = rng.uniform(cx - w / 2, cx + w / 2, k).round(4)
            ky = rng.uniform(cy - h / 2, cy + h / 2, k).round(4)
            v = rng.choice([0, 1, 2], k) if rng.random() > 0.2 else np.zeros(k, int)
            if dim == 2:
                v = np.where(rng.random(k) < 0.3, 0, 1)
                kx, ky = np.where(v > 0, kx, -1.0), np.where(v > 0, ky, -1.0)
                fields = np.stack([kx, ky], 1)
            else:
                kx, ky = np.where(v > 0, kx, 0.0), np.where(v > 0, ky, 0.0)
                fields = np.stack([kx, ky, v], 1)
            label_lines.append(f"{cls} {_fmt([cx, cy, w, h])} {_fmt(fields.ravel())}")
            box = [(cx - w / 2) * W, (cy - h / 2) * H, w * W, h * H]
            kps = np.stack([kx * W, ky * H, v], 1).ravel().tolist()
            anns.append({"id": len(anns) + 1, "image_id": i + 1, "category_id": cls, "keypoints": kps,
                         "num_keypoints": int((v > 0).sum()), "bbox": box, "area": box[2] * box[3], "iscrowd": 0})
            people.append((cls, cx, cy, w, h, kx, ky))
        for _ in range(int(rng.integers(0, 6)) if i % 4 else 0):
            if people and rng.random() < 0.7:
                cls, cx, cy, w, h, kx, ky = people[int(rng.integers(len(people)))]
                kx = np.where(kx < 0, cx, kx) + rng.normal(0, 0.01, k)
                ky = np.where(ky < 0, cy, ky) + rng.normal(0, 0.01, k)
            else:
                cls = int(rng.integers(0, 3))
                cx, cy, w, h = 0.5, 0.5, 0.3, 0.3
                kx, ky = rng.uniform(0.3, 0.7, k), rng.uniform(0.3, 0.7, k)
            kx, ky = kx.round(4), ky.round(4)
            score = float(rng.choice(SCORES))
            conf = rng.uniform(0, 1, k).round(3)
            pred_lines.append(f"{cls} {_fmt([cx, cy, w, h])} {_fmt(np.stack([kx, ky, conf], 1).ravel())} {score!r}")
            box = [(cx - w / 2) * W, (cy - h / 2) * H, w * W, h * H]
            results.append({"image_id": i + 1, "category_id": cls, "score": score, "bbox": box,
                            "keypoints": np.stack([kx * W, ky * H, conf], 1).ravel().tolist()})
        if label_lines:
            (root / "labels" / "val" / f"{i + 1:03d}.txt").write_text("\n".join(label_lines) + "\n")
        if pred_lines:
            (root / "predictions" / f"{i + 1:03d}.txt").write_text("\n".join(pred_lines) + "\n")
    categories = [{"id": c, "name": n} for c, n in enumerate("abc")]
    return sizes, {"images": images, "annotations": anns, "categories": categories}, results


def _assert_equal(result, ev):
    np.testing.assert_allclose(result.stats, ev.stats, rtol=0, atol=ATOL)
    for field in ("precision", "recall", "scores"):
        np.testing.assert_allclose(getattr(result, field), ev.eval[field], rtol=0, atol=ATOL, err_msg=field)


@pytest.mark.parametrize("seed", [0, 1])
def test_yolo_seg_folder_equals_cocoeval(tmp_path, seed):
    sizes, gt, res = make_seg_folder(tmp_path, seed)
    ev, _ = pycocotools_eval(gt, res, iou_type="segm")
    data = read_yolo_dataset(tmp_path, sizes=sizes)
    assert data.task == "segment"
    pred = load_predictions(tmp_path / "predictions", data)
    assert pred.task == "segment"
    result, _ = evaluate_files(data, pred, iou_type="segm")
    _assert_equal(result, ev)
    assert result.stats[0] > 0


def test_yolo_seg_folder_as_detection_uses_enclosing_boxes(tmp_path):
    sizes, gt, res = make_seg_folder(tmp_path, 2)
    data = read_yolo_dataset(tmp_path, sizes=sizes)
    pred = load_predictions(tmp_path / "predictions", data)
    box_results = []
    for r in res:
        box_results.append({k: v for k, v in r.items() if k != "segmentation"})
    for entry, det in zip(box_results, _enclosing(pred)):
        entry["bbox"] = det
    ev, _ = pycocotools_eval(gt, box_results)  # bbox: the polygons' enclosing boxes (ultralytics' loader)
    result, _ = evaluate_files(data, pred)
    np.testing.assert_allclose(result.stats, ev.stats, rtol=0, atol=ATOL)


def _enclosing(pred):
    out = []
    for record in pred.records:
        out.extend(record["boxes"].tolist())
    return out


def test_predictions_json_with_rle_and_bbox(tmp_path):
    # ultralytics' predictions.json of a -seg model: image_id = stem, category_id = class + 1, RLE + bbox
    sizes, gt, res = make_seg_folder(tmp_path, 3)
    for r in res:
        rle = {"size": r["segmentation"]["size"], "counts": r["segmentation"]["counts"].encode()}
        r["bbox"] = [float(v) for v in coco_mask.toBbox(rle)]
    ev, _ = pycocotools_eval(gt, res, iou_type="segm")  # loadRes: the bbox's w * h is the area
    shifted = [dict(r, category_id=r["category_id"] + 1) for r in res]
    (tmp_path / "predictions.json").write_text(json.dumps(shifted))
    data = read_yolo_dataset(tmp_path, sizes=sizes)
    pred = load_predictions(tmp_path / "predictions.json", data, category_ids="index1")
    result, _ = evaluate_files(data, pred, iou_type="segm")
    _assert_equal(result, ev)


@pytest.mark.parametrize("k,dim", [(17, 3), (5, 2)])
def test_yolo_pose_folder_equals_cocoeval(tmp_path, k, dim):
    sizes, gt, res = make_pose_folder(tmp_path, 4, k=k, dim=dim)
    sigmas = None if k == 17 else np.ones(k) / k  # ultralytics' sigmas for a dataset other than COCO's
    ev, _ = pycocotools_eval(gt, res, iou_type="keypoints", sigmas=sigmas)
    data = read_yolo_dataset(tmp_path, sizes=sizes)
    assert data.task == "pose" and data.kpt_shape == (k, dim)
    pred = load_predictions(tmp_path / "predictions", data)
    result, _ = evaluate_files(data, pred, iou_type="keypoints")
    _assert_equal(result, ev)
    assert len(result.stats) == 10 and result.stats[0] > 0
    (tmp_path / "predictions.json").write_text(json.dumps([dict(r, category_id=r["category_id"] + 1) for r in res]))
    pred_json = load_predictions(tmp_path / "predictions.json", data, category_ids="index1")
    assert pred_json.task == "pose"
    _assert_equal(evaluate_files(data, pred_json, iou_type="keypoints")[0], ev)


def _lines(text):
    return [line.strip() for line in text.splitlines() if line.strip().startswith("Average")]


def _summary(out):
    return _lines(out)


def test_cli_picks_the_task(tmp_path, capsys):
    sizes, gt, res = make_seg_folder(tmp_path / "seg", 0)
    (tmp_path / "sizes.txt").write_text("".join(f"{n} {w} {h}\n" for n, (w, h) in sizes.items()))
    ev, text = pycocotools_eval(gt, res, iou_type="segm")
    assert main(["eval", str(tmp_path / "seg"), str(tmp_path / "seg" / "predictions"), "--sizes",
                 str(tmp_path / "sizes.txt"), "--json", str(tmp_path / "out.json")]) == 0
    out = capsys.readouterr().out
    assert "YOLO-seg" in out and "scoring masks" in out
    assert _summary(out) == _lines(text)
    np.testing.assert_allclose(json.loads((tmp_path / "out.json").read_text())["stats"], ev.stats, rtol=0, atol=ATOL)
    # COCO JSON pair: the results' segmentation decides; keypoints likewise
    (tmp_path / "gt.json").write_text(json.dumps(gt))
    (tmp_path / "res.json").write_text(json.dumps(res))
    assert main(["eval", str(tmp_path / "gt.json"), str(tmp_path / "res.json"), "--quiet"]) == 0
    out = capsys.readouterr().out
    assert _summary(out) == _lines(text)
    sizes, gt, res = make_pose_folder(tmp_path / "pose", 1)
    ev, text = pycocotools_eval(gt, res, iou_type="keypoints")
    (tmp_path / "kgt.json").write_text(json.dumps(gt))
    (tmp_path / "kres.json").write_text(json.dumps(res))
    assert main(["eval", str(tmp_path / "kgt.json"), str(tmp_path / "kres.json")]) == 0
    out = capsys.readouterr().out
    assert _summary(out) == _lines(text)
    assert main(["eval", str(tmp_path / "pose"), str(tmp_path / "pose" / "predictions"), "--sizes",
                 str(tmp_path / "sizes.txt"), "--task", "detect"]) == 0
    assert "scoring boxes" in capsys.readouterr().out


BAD = [
    ("odd polygon", "seg", "0 0.1 0.1 0.5 0.1 0.5 0.5 0.7\n", "at least 3 points"),
    ("two-point polygon", "seg", "0 0.1 0.1 0.5 0.1 0.5 0.5\n0 0.1 0.1 0.5 0.5\n", "at least 3 points"),
    ("polygon outside [0, 1]", "seg", "0 0.1 0.1 1.5 0.1 0.5 0.5\n", "normalized"),
    ("class outside names", "seg", "7 0.1 0.1 0.5 0.1 0.5 0.5\n", "outside names"),
    ("pose fields", "pose", "0 0.5 0.5 0.2 0.2 0.1 0.1\n", "a pose line"),
]


@pytest.mark.parametrize("case", BAD, ids=[c[0] for c in BAD])
def test_bad_label_lines(tmp_path, case):
    _, kind, line, match = case
    _write_dataset(tmp_path, "kpt_shape: [2, 3]\n" if kind == "pose" else "")
    (tmp_path / "labels" / "val" / "1.txt").write_text(line)
    with pytest.raises(ValueError, match=match) as info:
        read_yolo_dataset(tmp_path, sizes={"1.jpg": (W, H)})
    assert "1.txt:" in str(info.value)  # file and line named


def test_bad_kpt_shape_and_task(tmp_path):
    _write_dataset(tmp_path, "kpt_shape: [17, 4]\n")
    with pytest.raises(ValueError, match="kpt_shape"):
        read_yolo_dataset(tmp_path, sizes={"1.jpg": (W, H)})
    (tmp_path / "data.yaml").write_text("path: .\nval: images/val\nnames: ['a']\n")
    with pytest.raises(ValueError, match="task must be"):
        load_ground_truth(tmp_path / "data.yaml", sizes={"1.jpg": (W, H)}, task="mask")
    with pytest.raises(ValueError, match="kpt_shape"):
        load_ground_truth(tmp_path / "data.yaml", sizes={"1.jpg": (W, H)}, task="pose")


def test_write_coco_round_trip_segment_and_pose(tmp_path):
    from detmetrics.io import write_coco_gt, write_coco_results

    sizes, _, _ = make_seg_folder(tmp_path / "seg", 5, n_images=14)
    data = read_yolo_dataset(tmp_path / "seg", sizes=sizes)
    pred = load_predictions(tmp_path / "seg" / "predictions", data)
    coco_gt, coco_res = write_coco_gt(data), write_coco_results(pred)
    assert "segmentation" in coco_gt["annotations"][0] and "segmentation" in coco_res[0]
    # boxes: the written pair (mask areas for the ground truth, as COCO's) equals the folder scored as detection
    ev, _ = pycocotools_eval(coco_gt, coco_res)
    np.testing.assert_allclose(evaluate_files(data, pred)[0].stats, ev.stats, rtol=0, atol=ATOL)
    # masks: the written results (RLE + bbox: loadRes takes the box area) read back
    ev, _ = pycocotools_eval(coco_gt, coco_res, iou_type="segm")
    (tmp_path / "res.json").write_text(json.dumps(coco_res))
    back = load_predictions(tmp_path / "res.json", data, category_ids="index1")
    _assert_equal(evaluate_files(data, back, iou_type="segm")[0], ev)
    sizes, _, _ = make_pose_folder(tmp_path / "pose", 6)
    data = read_yolo_dataset(tmp_path / "pose", sizes=sizes)
    pred = load_predictions(tmp_path / "pose" / "predictions", data)
    coco_gt, coco_res = write_coco_gt(data), write_coco_results(pred)
    ev, _ = pycocotools_eval(coco_gt, coco_res, iou_type="keypoints")
    _assert_equal(evaluate_files(data, pred, iou_type="keypoints")[0], ev)
