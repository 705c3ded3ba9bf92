"""The command line, run as users run it: ``python -m detmetrics ...`` in a subprocess."""

import json
import os
import shutil
import subprocess
import sys

import numpy as np
import pytest

from detmetrics.io import sample_path

ENV = {**os.environ, "PYTHONWARNINGS": "ignore::DeprecationWarning"}


def run(*args, cwd=None):
    proc = subprocess.run([sys.executable, "-m", "detmetrics", *map(str, args)], capture_output=True, text=True,
                          cwd=cwd, env=ENV, timeout=300)
    return proc


def assert_bad_input(proc, match):
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    errors = [line for line in lines if line.startswith("detmetrics: error:")]
    assert len(errors) == 1, proc.stderr
    assert "Traceback" not in proc.stderr
    assert match in errors[0], errors[0]


@pytest.fixture(scope="module")
def demo():
    return run("demo")


def test_demo_prints_coco_table_and_per_class_table(demo):
    assert demo.returncode == 0, demo.stderr
    out = demo.stdout
    assert "Average Precision  (AP) @[ IoU=0.50:0.95 | area=   all | maxDets=100 ]" in out
    assert "Average Recall     (AR) @[ IoU=0.50:0.95 | area= large | maxDets=100 ]" in out
    for name in ("person", "car", "dog", "bicycle", "all"):
        assert any(line.split()[0] == name for line in out.splitlines() if line.strip()), name
    header = next(line for line in out.splitlines() if line.startswith("class"))
    # ultralytics' columns first (Images, Instances, P, R, mAP50, mAP50-95), so it lies beside `yolo val`
    assert header.split() == ["class", "images", "instances", "P", "R", "mAP50", "mAP50-95", "AP75", "F1", "conf",
                              "dets"]


def test_eval_matches_demo_and_api(tmp_path, demo):
    proc = run("eval", sample_path("yolo"), sample_path("yolo") / "predictions", "--json", tmp_path / "r.json")
    assert proc.returncode == 0, proc.stderr
    table = lambda text: text[text.index("Average Precision"):text.index("(P, R, F1")]
    assert table(proc.stdout) == table(demo.stdout)
    data = json.loads((tmp_path / "r.json").read_text())
    assert len(data["stats"]) == 12
    assert data["class_names"] == {"0": "person", "1": "car", "2": "dog", "3": "bicycle"}
    from detmetrics.io import evaluate_files

    result, _ = evaluate_files(sample_path("yolo"), sample_path("yolo") / "predictions")
    np.testing.assert_allclose(data["stats"], result.stats, rtol=0, atol=1e-12)
    assert data["map"] == pytest.approx(result.map, abs=1e-12)
    assert data["map50"] == pytest.approx(result.map50, abs=1e-12)


def test_eval_coco_pair_equals_yolo_folder(tmp_path):
    proc = run("eval", sample_path("coco-gt"), sample_path("coco-results"), "--json", tmp_path / "c.json")
    assert proc.returncode == 0, proc.stderr
    yolo = run("eval", sample_path("yolo") / "data.yaml", sample_path("yolo") / "predictions",
               "--json", tmp_path / "y.json")
    assert yolo.returncode == 0, yolo.stderr
    a, b = json.loads((tmp_path / "c.json").read_text()), json.loads((tmp_path / "y.json").read_text())
    assert a["stats"] == b["stats"]


def test_eval_options_and_obb(tmp_path):
    root = sample_path("yolo-obb")
    proc = run("eval", root, root / "predictions", "--sizes", root / "val_sizes.txt", "--iou-thresholds", "0.5",
               "--interpolation", "voc", "--max-dets", "1", "10", "300", "--backend", "numpy",
               "--json", tmp_path / "o.json")
    assert proc.returncode == 0, proc.stderr
    assert "YOLO-OBB" in proc.stdout and "plane" in proc.stdout
    data = json.loads((tmp_path / "o.json").read_text())
    assert data["interpolation"] == "voc"
    proc = run("eval", sample_path("yolo"), sample_path("yolo") / "predictions", "--iou-thresholds", "0.5:0.95:0.05",
               "--quiet")
    assert proc.returncode == 0 and "class" not in proc.stdout.split("Average Recall")[-1]


def test_plots_are_valid_png(tmp_path):
    proc = run("demo", "--plot", tmp_path / "plots")
    assert proc.returncode == 0, proc.stderr
    files = sorted(p.name for p in (tmp_path / "plots").iterdir())
    assert files == sorted(["pr_curve.png", "pr_curve_50_95.png", "f1_curve.png", "p_curve.png", "r_curve.png",
                            "confusion_matrix.png", "confusion_matrix_normalized.png"])
    for name in files:
        data = (tmp_path / "plots" / name).read_bytes()
        assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 5000, name


def test_nms_command(tmp_path):
    src = sample_path("yolo") / "predictions"
    out = tmp_path / "nms"
    proc = run("nms", src, out, "--conf", "0.3", "--iou", "0.5")
    assert proc.returncode == 0, proc.stderr
    assert sorted(p.name for p in out.iterdir()) == sorted(p.name for p in src.iterdir())
    for file in out.iterdir():
        for line in file.read_text().splitlines():
            assert float(line.split()[-1]) >= 0.3
    proc = run("eval", sample_path("yolo"), out)
    assert proc.returncode == 0, proc.stderr
    for extra in (["--soft", "gaussian"], ["--class-agnostic"], ["--soft", "linear", "--class-agnostic"]):
        proc = run("nms", src, tmp_path / "x", *extra)
        assert proc.returncode == 0, (extra, proc.stderr)
    obb = run("nms", sample_path("yolo-obb") / "predictions", tmp_path / "obb", "--iou", "0.1")
    assert obb.returncode == 0, obb.stderr


@pytest.mark.parametrize("command", [[], ["eval"], ["demo"], ["nms"]])
def test_help_everywhere(command):
    proc = run(*command, "--help")
    assert proc.returncode == 0 and "usage: detmetrics" in proc.stdout


def _copy_sample(tmp_path):
    root = tmp_path / "ds"
    shutil.copytree(sample_path("yolo"), root)
    return root


BAD = [
    ("bad line", lambda r: (r / "labels/val/img01.txt").write_text("0 0.5 0.5 0.1\n"), "img01.txt:1: expected"),
    ("unknown class", lambda r: (r / "labels/val/img02.txt").write_text("9 0.5 0.5 0.1 0.1\n"),
     "img02.txt:1: class id 9 is outside names"),
    ("missing conf", lambda r: (r / "predictions/img01.txt").write_text("0 0.5 0.5 0.1 0.1\n"),
     "img01.txt:1: a prediction line needs a trailing confidence"),
    ("prediction for unknown image", lambda r: (r / "predictions/zzz.txt").write_text("0 0.5 0.5 0.1 0.1 0.5\n"),
     "has no image 'zzz'"),
    ("size mismatch", lambda r: (r / "images/val/img03.png").unlink(), "label file"),
]


@pytest.mark.parametrize("name, corrupt, match", BAD, ids=[b[0] for b in BAD])
def test_bad_input_exits_2_with_one_line(tmp_path, name, corrupt, match):
    root = _copy_sample(tmp_path)
    corrupt(root)
    assert_bad_input(run("eval", root, root / "predictions"), match)


def test_bad_arguments(tmp_path):
    assert_bad_input(run("eval", tmp_path / "missing", tmp_path), "does not exist")
    assert_bad_input(run("eval", sample_path("yolo"), tmp_path / "nope"), "does not exist")
    gt = json.loads(sample_path("coco-gt").read_text())
    for image in gt["images"]:
        del image["width"], image["height"]
    (tmp_path / "gt_no_sizes.json").write_text(json.dumps(gt))
    assert_bad_input(run("eval", tmp_path / "gt_no_sizes.json", sample_path("yolo") / "predictions"), "image sizes")
    assert_bad_input(run("demo", "--iou-thresholds", "a:b:c"), "--iou-thresholds")
    assert_bad_input(run("demo", "--max-dets", "0"), "--max-dets")
    assert_bad_input(run("nms", tmp_path / "none", tmp_path / "out"), "does not exist")
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "a.txt").write_text("0 0.5 0.5 0.1 0.1 nan\n")
    assert_bad_input(run("nms", tmp_path / "bad", tmp_path / "out"), "a.txt:1:")
    proc = run("eval", sample_path("yolo"))  # argparse usage error: exit 2 as well
    # argparse's errors are one line too, not the whole usage block
    assert proc.returncode == 2 and "usage:" not in proc.stderr and len(proc.stderr.strip().splitlines()) == 1
    assert "required: PRED" in proc.stderr and "--help" in proc.stderr


def test_ambiguous_category_ids_warn_on_one_line(tmp_path):
    gt = sample_path("yolo")
    results = [{"image_id": "img01", "category_id": 1, "bbox": [10, 10, 50, 50], "score": 0.9}]
    (tmp_path / "p.json").write_text(json.dumps(results))
    proc = run("eval", gt, tmp_path / "p.json")
    assert proc.returncode == 0, proc.stderr
    warnings = [line for line in proc.stderr.splitlines() if line.startswith("detmetrics: warning:")]
    assert len(warnings) == 1 and "assuming 'index1'" in warnings[0]
    quiet = run("eval", gt, tmp_path / "p.json", "--category-ids", "index1")
    assert "warning" not in quiet.stderr


def test_console_script_entry_point():
    from detmetrics.cli import main

    assert main(["demo", "--quiet"]) == 0
    assert main(["eval", "/nonexistent/x.json", "/nonexistent/y.json"]) == 2


def test_demo_imports_neither_numba_nor_pillow_nor_msgspec():
    # the bundled sample is small: the NumPy references answer it, PNG sizes come from the file
    # headers, and JSON readers are not needed, so a first run pays none of these imports
    code = (
        "import contextlib, io, json, sys\n"
        "from detmetrics.cli import main\n"
        "with contextlib.redirect_stdout(io.StringIO()):\n"
        "    status = main(['demo'])\n"
        "heavy = ('numba', 'PIL', 'msgspec', 'tqdm', 'matplotlib', 'pandas', 'pycocotools')\n"
        "print(json.dumps({'status': status, 'imported': [m for m in heavy if m in sys.modules]}))\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    assert out == {"status": 0, "imported": []}
