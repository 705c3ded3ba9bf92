"""Reports (detmetrics.report, the CLI's outputs) and the rough edges a new user hit (issue: files and reports)."""

import csv
import json
import shutil
import subprocess
import sys

import numpy as np
import pytest

from detmetrics import mean_ap, report
from detmetrics.cli import main
from detmetrics.evaluate import evaluate_files
from detmetrics.io import read_coco_gt, read_yolo_dataset, sample_path, write_yolo_labels


@pytest.fixture(scope="module")
def sample():
    result, gt = evaluate_files(sample_path("yolo"), sample_path("yolo") / "predictions")
    return result, gt


def test_table_rows_are_the_result_numbers(sample):
    result, gt = sample
    rows = report.per_class_table(result, ground_truth=gt)
    best = result.best_f1()
    assert rows[0]["class"] == "all" and rows[0]["mAP50-95"] == pytest.approx(result.map, abs=1e-15)
    assert rows[0]["conf"] == best["all"]["score_threshold"] and rows[0]["images"] == len(gt)
    for row in rows[1:]:
        stats = result.per_class[row["category_id"]]
        assert row["class"] == gt.class_names[row["category_id"]]
        assert row["instances"] == stats["n_gt"] and row["dets"] == stats["n_det"]
        n_images = sum(row["category_id"] in r["labels"].tolist() for r in gt.records)
        assert row["images"] == n_images
        if stats["n_gt"] == 0:  # bicycle: predicted, never labelled
            assert row["mAP50"] is None and row["P"] is None and row["conf"] is None
        else:
            assert row["mAP50"] == stats["ap50"] and row["F1"] == best[row["category_id"]]["f1"]


def test_dash_means_no_ground_truth_and_na_means_not_evaluated():
    preds = [{"boxes": [[0, 0, 10, 10]], "scores": [0.9], "labels": [2]}]
    gts = [{"boxes": [[0, 0, 10, 10]], "labels": [1]}]
    text = report.format_class_table(mean_ap(preds, gts, iou_thresholds=[0.5]), {1: "a", 2: "b"})
    line_b = next(line for line in text.splitlines() if line.startswith("b "))
    assert line_b.split()[1:8] == ["0", "-", "-", "-", "-", "n/a", "-"]
    assert "'-': no ground truth" in text and "'n/a': not evaluated" in text
    full = report.format_class_table(mean_ap(preds, gts), {1: "a", 2: "b"})
    assert "n/a" not in full and "'n/a'" not in full


def test_per_class_carries_names(sample):
    result, _ = sample
    assert result.per_class[0]["name"] == "person"
    assert result.category_names == {0: "person", 1: "car", 2: "dog", 3: "bicycle"}


def test_to_pandas(sample):
    pd = pytest.importorskip("pandas", reason="pandas is optional: to_pandas is tested where it is installed")
    result, gt = sample
    frame = result.to_pandas(ground_truth=gt)
    assert list(frame.columns) == list(report.COLUMNS)
    assert frame.loc[0, "class"] == "all" and frame.loc[0, "mAP50-95"] == pytest.approx(result.map, abs=1e-15)
    assert pd.isna(frame.loc[frame["class"] == "bicycle", "mAP50"]).all()


def test_csv_and_json(tmp_path, sample):
    result, gt = sample
    report.write_csv(result, tmp_path / "t.csv", ground_truth=gt)
    rows = list(csv.DictReader(open(tmp_path / "t.csv")))
    table = report.per_class_table(result, ground_truth=gt)
    assert [r["class"] for r in rows] == [r["class"] for r in table]
    assert float(rows[0]["mAP50-95"]) == table[0]["mAP50-95"]  # repr round-trips exactly
    assert rows[-1]["mAP50"] == ""  # undefined
    data = report.result_json(result, ground_truth=gt, curves=True)
    json.dumps(data, allow_nan=False)  # strict JSON: no NaN
    assert data["per_class_table"][0]["conf"] == table[0]["conf"]
    assert np.array(data["precision"]).shape == result.precision.shape
    assert data["pr_curves"]["all"]["f1"] == pytest.approx(result.pr_curve(None)["f1"].tolist(), abs=0)
    assert "precision" not in report.result_json(result)


def test_recall_fields_are_named_by_their_budget():
    preds = [{"boxes": [[0, 0, 10, 10]], "scores": [0.9], "labels": [1]}]
    gts = [{"boxes": [[0, 0, 10, 10]], "labels": [1]}]
    r = mean_ap(preds, gts, max_detections=(1, 10, 300))
    assert r.stat_names[6:9] == ("mar_1", "mar_10", "mar_300") and r.mar_300 == r.stats[8]
    with pytest.raises(AttributeError, match=r"mar_100 was not evaluated: max_detections=\(1, 10, 300\)"):
        r.mar_100
    assert "mar_300" in r.to_dict() and "mar_100" not in r.to_dict()
    assert mean_ap(preds, gts).mar_100 == pytest.approx(1.0)  # the COCO name where it is true


def test_f1_plot_legend_is_the_table(sample):
    pytest.importorskip("matplotlib", reason="the plot extra is optional")
    from detmetrics.plots import plot_metric_vs_confidence

    result, gt = sample
    fig = plot_metric_vs_confidence(result, "f1", gt.class_names)
    legend = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    row = report.per_class_table(result)[0]
    assert f"all classes {row['F1']:.2f} at {row['conf']:.3f}" in legend


def test_quiet_prints_only_the_summary(capsys):
    assert main(["demo", "--quiet"]) == 0
    out = capsys.readouterr().out.strip().splitlines()
    assert len(out) == 12 and all("Average" in line for line in out)


def test_plot_without_matplotlib_fails_before_evaluating(monkeypatch, capsys):
    import detmetrics.evaluate

    monkeypatch.setitem(sys.modules, "matplotlib", None)
    monkeypatch.setattr(detmetrics.evaluate, "evaluate_files", lambda *a, **k: pytest.fail("evaluated first"))
    assert main(["demo", "--plot", "figures"]) == 2
    assert "--plot needs matplotlib" in capsys.readouterr().err


def test_yolo_labels_from_coco_use_class_indices_and_write_names(tmp_path):
    gt = read_coco_gt(sample_path("coco-gt"))  # category ids 1..4
    root = tmp_path / "ds"
    write_yolo_labels(gt, root / "labels" / "val")
    first_label = min(int(line.split()[0]) for p in (root / "labels" / "val").glob("*.txt")
                      for line in p.read_text().splitlines())
    assert first_label == 0  # category 1 is class 0, not 1
    sizes = {name: tuple(size) for name, size in zip(gt.file_names, gt.image_sizes.tolist())}
    back = read_yolo_dataset(root, sizes=sizes)
    assert back.class_names == {i: gt.class_names[c] for i, c in enumerate(sorted(gt.class_names))}
    for a, b in zip(gt.records, back.records):
        np.testing.assert_allclose(a["boxes"], b["boxes"], rtol=0, atol=1e-9)
        assert (np.searchsorted(sorted(gt.class_names), a["labels"]) == b["labels"]).all()


def test_yolo_writer_rejects_labels_outside_the_classes(tmp_path):
    gt = read_coco_gt(sample_path("coco-gt"))
    gt.records[0] = {**gt.records[0], "labels": np.full(len(gt.records[0]["labels"]), 99)}
    with pytest.raises(ValueError, match="label 99 is not one of the data's classes"):
        write_yolo_labels(gt, tmp_path / "labels")


def _chromium():
    return shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")


def test_html_report_is_self_contained(tmp_path, sample):
    result, gt = sample
    path = report.write_html(result, tmp_path / "r.html", ground_truth=gt)
    page = path.read_text()
    assert "<table" in page and "person" in page and "Average Precision" in page
    assert "http://" not in page and "https://" not in page  # nothing fetched


@pytest.mark.skipif(_chromium() is None, reason="no chromium / chrome binary on PATH (CI installs Debian's chromium)")
def test_html_report_in_a_headless_browser(tmp_path):
    pytest.importorskip("matplotlib", reason="the figures need the plot extra")
    out = tmp_path / "r.html"
    assert main(["demo", "--quiet", "--html", str(out)]) == 0
    proc = subprocess.run(
        [_chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic",
         f"--user-data-dir={tmp_path / 'profile'}", "--enable-logging=stderr", "--v=0",
         "--virtual-time-budget=5000", "--dump-dom", out.as_uri()],
        capture_output=True, text=True, timeout=120,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    dom = proc.stdout
    assert 'data-report="ok"' in dom, dom[-2000:]  # the page's own check: figures decoded, table filled
    assert 'data-figures="5"' in dom
    console_errors = [line for line in proc.stderr.splitlines() if "CONSOLE" in line and "rror" in line]
    assert not console_errors and "Uncaught" not in proc.stderr, console_errors


def test_png_sizes_come_from_the_header_without_decoding(tmp_path, monkeypatch):
    Image = pytest.importorskip("PIL.Image", reason="writing the test images needs Pillow")
    from detmetrics.io import read_image_size

    pixels = np.zeros((30, 50, 3), dtype=np.uint8)
    exif = Image.Exif()
    exif[0x0112] = 6  # rotated 90 degrees on display
    Image.fromarray(pixels).save(tmp_path / "plain.png")
    Image.fromarray(pixels).save(tmp_path / "rotated.png", exif=exif.tobytes())
    Image.fromarray(pixels).save(tmp_path / "rotated.jpg", exif=exif.tobytes())
    # an eXIf chunk after the image data (legal; Pillow finds it once it has decoded the pixels)
    import struct
    import zlib

    raw = (tmp_path / "plain.png").read_bytes()
    data = exif.tobytes()
    data = data[6:] if data.startswith(b"Exif\x00\x00") else data
    chunk = struct.pack(">I", len(data)) + b"eXIf" + data + struct.pack(">I", zlib.crc32(b"eXIf" + data))
    iend = raw.rfind(b"IEND") - 4
    (tmp_path / "late.png").write_bytes(raw[:iend] + chunk + raw[iend:])
    expected = {}
    for name in ("plain.png", "rotated.png", "rotated.jpg", "late.png"):
        with Image.open(tmp_path / name) as im:  # Pillow's own reading, decoding included
            w, h = im.size
            expected[name] = (float(h), float(w)) if im.getexif().get(0x0112) in (5, 6, 7, 8) else (float(w), float(h))
    # PNG: never handed to Pillow (its getexif() decodes the whole image to find eXIf)
    monkeypatch.setattr(Image, "open", lambda *a, **k: pytest.fail("PNG decoded by Pillow"))
    assert read_image_size(tmp_path / "plain.png") == expected["plain.png"] == (50.0, 30.0)
    assert read_image_size(tmp_path / "rotated.png") == expected["rotated.png"] == (30.0, 50.0)
    assert read_image_size(tmp_path / "late.png") == expected["late.png"] == (30.0, 50.0)
    monkeypatch.undo()
    assert read_image_size(tmp_path / "rotated.jpg") == expected["rotated.jpg"] == (30.0, 50.0)


@pytest.mark.parametrize("protocol", ["ultralytics", "voc07", "dota"])
def test_cli_protocol_equals_the_api(protocol, tmp_path, capsys):
    # --protocol sets the preset; --interpolation / --matching given explicitly override it
    expected, _ = evaluate_files(sample_path("yolo"), sample_path("yolo") / "predictions", protocol=protocol)
    assert main(["eval", str(sample_path("yolo")), str(sample_path("yolo") / "predictions"), "--protocol", protocol,
                 "--quiet", "--json", str(tmp_path / "r.json")]) == 0
    assert "maxDets=all" in capsys.readouterr().out  # the presets keep every detection
    np.testing.assert_allclose(json.loads((tmp_path / "r.json").read_text())["stats"], expected.stats, rtol=0, atol=0)
    override, _ = evaluate_files(sample_path("yolo"), sample_path("yolo") / "predictions", protocol=protocol,
                                 interpolation="coco")
    assert main(["eval", str(sample_path("yolo")), str(sample_path("yolo") / "predictions"), "--protocol", protocol,
                 "--interpolation", "coco", "--quiet", "--json", str(tmp_path / "o.json")]) == 0
    np.testing.assert_allclose(json.loads((tmp_path / "o.json").read_text())["stats"], override.stats, rtol=0, atol=0)
