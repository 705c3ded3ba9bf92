"""Broken files and folders through the command line: exit 2 with one line naming the path, never exit 0 on
data that could not be read, never a traceback.

The table below is the systematic form of the defects a fuzzing pass found (a label file that is a
directory or a dangling link used to count as "no objects"; a missing labels folder gave exit 0 and -1
everywhere); the hypothesis test mutates label and prediction bytes at random.
"""

import os
import shutil

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from detmetrics.cli import main
from detmetrics.io import sample_path


def _sample(tmp_path):
    root = tmp_path / "ds"
    if root.exists():
        shutil.rmtree(root)
    shutil.copytree(sample_path("yolo"), root)
    return root


def _replace(path, make):
    path.unlink()
    make(path)


def _alias_bomb(root):
    lines = ['a0: &a0 ["x", "x", "x", "x", "x", "x", "x", "x", "x", "x"]']
    lines += [f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 10) + "]" for i in range(1, 12)]
    lines += ["path: .", "val: images/val", "names: {0: person, 1: car, 2: dog, 3: bicycle}"]
    (root / "data.yaml").write_text("\n".join(lines) + "\n")


# (id, corrupt(root), command: "eval" | "nms", what the one error line must contain)
BROKEN = [
    ("label is a directory", lambda r: _replace(r / "labels/val/img01.txt", os.mkdir), "eval",
     "labels/val/img01.txt is not a regular file"),
    ("label is a dangling link", lambda r: _replace(r / "labels/val/img01.txt", lambda p: os.symlink("gone", p)),
     "eval", "img01.txt is a broken symbolic link"),
    ("label is a link loop", lambda r: _replace(r / "labels/val/img01.txt", lambda p: os.symlink(p.name, p)),
     "eval", "img01.txt is a broken symbolic link"),
    ("labels folder missing", lambda r: shutil.rmtree(r / "labels"), "eval", "no label file found for any of the 12"),
    ("labels folder misnamed", lambda r: (r / "labels").rename(r / "lbl"), "eval", "no label file found"),
    ("label not UTF-8", lambda r: (r / "labels/val/img02.txt").write_bytes(b"\xff\xfe0 0.5"), "eval",
     "img02.txt is not UTF-8 text"),
    ("yaml not UTF-8", lambda r: (r / "data.yaml").write_bytes(b"names: [\xff]\n"), "eval",
     "data.yaml is not UTF-8 text"),
    ("yaml path is a number", lambda r: (r / "data.yaml").write_text("path: 5\nval: images/val\nnames: [a]\n"),
     "eval", "'path' must be a folder name"),
    ("yaml split is a number", lambda r: (r / "data.yaml").write_text("val: 7\nnames: [a]\n"), "eval",
     "'val' must be a folder or image-list name"),
    ("yaml alias bomb", _alias_bomb, "eval", "uses more than 100 YAML aliases"),
    ("yaml names nested", lambda r: (r / "data.yaml").write_text("val: images/val\nnames: [[a, b]]\n"), "eval",
     "class names must be strings"),
    ("class id beyond 2**53", lambda r: (r / "labels/val/img01.txt").write_text("1e20 0.5 0.5 0.1 0.1\n"), "eval",
     "img01.txt:1: the class id must be an integer in [0, 2**53)"),
    ("prediction is a directory", lambda r: _replace(r / "predictions/img01.txt", os.mkdir), "eval",
     "predictions/img01.txt is not a file"),
    ("prediction is a link loop", lambda r: _replace(r / "predictions/img01.txt", lambda p: os.symlink(p.name, p)),
     "eval", "img01.txt is a broken symbolic link"),
    ("sizes file not UTF-8", lambda r: (r / "sizes.txt").write_bytes(b"img01.png 6\xff40 480\n"), "eval-sizes",
     "sizes.txt is not UTF-8 text"),
    ("nms: prediction is a directory", lambda r: _replace(r / "predictions/img01.txt", os.mkdir), "nms",
     "img01.txt is not a file"),
    ("nms: class id 1e20", lambda r: (r / "predictions/img01.txt").write_text("1e20 0.5 0.5 0.1 0.1 0.9\n"), "nms",
     "img01.txt:1: the class id must be an integer"),
    ("nms: negative width", lambda r: (r / "predictions/img01.txt").write_text("0 0.5 0.5 -0.1 0.1 0.9\n"), "nms",
     "img01.txt:1: width and height must be >= 0"),
]


def _run(root, command, tmp_path, capsys):
    if command == "nms":
        argv = ["nms", str(root / "predictions"), str(tmp_path / "out")]
    elif command == "eval-sizes":
        argv = ["eval", str(root), str(root / "predictions"), "--sizes", str(root / "sizes.txt")]
    else:
        argv = ["eval", str(root), str(root / "predictions"), "--no-progress"]
    status = main(argv)
    return status, capsys.readouterr()


@pytest.mark.parametrize("name, corrupt, command, match", BROKEN, ids=[b[0] for b in BROKEN])
def test_broken_files_exit_2_with_one_line(tmp_path, capsys, name, corrupt, command, match):
    root = _sample(tmp_path)
    corrupt(root)
    status, captured = _run(root, command, tmp_path, capsys)
    errors = [line for line in captured.err.splitlines() if line.startswith("detmetrics: error:")]
    assert status == 2, captured.err
    assert len(errors) == 1 and match in errors[0], captured.err


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads files whatever their permissions")
def test_unreadable_label_file_is_named(tmp_path, capsys):
    root = _sample(tmp_path)
    (root / "labels/val/img01.txt").chmod(0)
    status, captured = _run(root, "eval", tmp_path, capsys)
    assert status == 2 and "cannot read label file" in captured.err and "img01.txt" in captured.err


def test_image_without_label_file_still_has_no_objects(tmp_path, capsys):
    # ultralytics' rule stays: a label file that is simply not there means a background image
    root = _sample(tmp_path)
    (root / "labels/val/img01.txt").unlink()
    status, captured = _run(root, "eval", tmp_path, capsys)
    assert status == 0, captured.err


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(which=st.sampled_from(["labels/val/img01.txt", "predictions/img02.txt", "data.yaml"]),
       data=st.data())
def test_mutated_files_never_trace_back(tmp_path, capsys, which, data):
    root = _sample(tmp_path)
    path = root / which
    raw = bytearray(path.read_bytes())
    for _ in range(data.draw(st.integers(1, 4), label="edits")):
        pos = data.draw(st.integers(0, max(len(raw) - 1, 0)), label="position")
        op = data.draw(st.sampled_from(["flip", "insert", "delete"]), label="op")
        byte = data.draw(st.sampled_from(list(b"0123456789.-e \n\t:,[]{}*&#") + [0xFF, 0x00]), label="byte")
        if op == "flip" and raw:
            raw[pos] = byte
        elif op == "insert":
            raw.insert(pos, byte)
        elif raw:
            del raw[pos]
    path.write_bytes(bytes(raw))
    status, captured = _run(root, "eval", tmp_path, capsys)
    assert status in (0, 2), captured.err
    assert "Traceback" not in captured.err
    if status == 2:
        errors = [line for line in captured.err.splitlines() if line.startswith("detmetrics: error:")]
        assert len(errors) == 1, captured.err
