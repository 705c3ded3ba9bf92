"""error_breakdown: TIDE's error types and dAP, held equal to the tidecv package on the same boxes."""

from __future__ import annotations

import json
import pathlib
import subprocess
import sys

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from detmetrics import error_breakdown
from detmetrics.errors import ERROR_TYPES, SPECIAL_TYPES, ErrorBreakdown

from _support import backend_params, requires_numba
from coco_generator import box_with_iou

TIDE_NAMES = {"cls": "Cls", "loc": "Loc", "both": "Both", "dupe": "Dupe", "bkg": "Bkg", "miss": "Miss"}
SPECIAL_NAMES = {"false_pos": "FalsePos", "false_neg": "FalseNeg"}


# ------------------------------------------------------------------ the oracle


class TidecvOracle:
    """``tests/_tidecv_oracle.py`` in a child process (tidecv imports pyplot, seaborn and pandas)."""

    def __init__(self):
        script = pathlib.Path(__file__).with_name("_tidecv_oracle.py")
        self.proc = subprocess.Popen([sys.executable, str(script)], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     text=True)
        self.hello = json.loads(self.proc.stdout.readline())

    def ask(self, request: dict) -> dict:
        self.proc.stdin.write(json.dumps(request) + "\n")
        self.proc.stdin.flush()
        return json.loads(self.proc.stdout.readline())

    def run(self, preds, gts, *, fg_iou=0.5, bg_iou=0.1, max_dets=100) -> dict:
        def plain(record):
            return {k: np.asarray(v).tolist() for k, v in record.items()}

        return self.ask({"images": [[plain(p), plain(g)] for p, g in zip(preds, gts)], "fg_iou": fg_iou,
                         "bg_iou": bg_iou, "max_dets": max_dets})

    def close(self):
        self.proc.stdin.close()
        self.proc.wait(timeout=60)


@pytest.fixture(scope="module")
def tidecv():
    oracle = TidecvOracle()
    try:
        if "missing" in oracle.hello:
            pytest.skip(f"no TIDE oracle: {oracle.hello['missing']} (pip install tidecv)")
        yield oracle
    finally:
        oracle.close()


def assert_matches_tidecv(tidecv, preds, gts, backend, **kw):
    """error_breakdown equals tidecv: counts (overall, per class) exactly, AP / dAP / special (overall, per
    class) to 1e-6 points.  Returns ``(ours, theirs)``; ``theirs`` is None where tidecv divided by zero."""
    fg_iou, bg_iou, max_dets = kw.get("fg_iou", 0.5), kw.get("bg_iou", 0.1), kw.get("max_dets", 100)
    ours = error_breakdown(preds, gts, fg_iou=fg_iou, bg_iou=bg_iou, max_detections=max_dets, box_format="xywh",
                           backend=backend)
    theirs = tidecv.run(preds, gts, fg_iou=fg_iou, bg_iou=bg_iou, max_dets=max_dets)
    if "error" in theirs:  # tidecv's mean over no class (a fix that leaves nothing): ours is 0
        assert theirs["error"] == "ZeroDivisionError"
        assert np.isfinite([ours.ap, *ours.dap.values(), *ours.special.values()]).all()
        return ours, None
    assert_same(ours, theirs)
    return ours, theirs


def assert_same(ours, theirs):
    assert ours.counts == theirs["counts"]
    assert 100 * ours.ap == pytest.approx(theirs["ap"], abs=1e-6, rel=0)
    assert 100 * ours.fixed_ap == pytest.approx(theirs["fixed_all"], abs=1e-6, rel=0)
    for name in ERROR_TYPES:
        assert 100 * ours.dap[name] == pytest.approx(theirs["main"][TIDE_NAMES[name]], abs=1e-6, rel=0), name
    for name in SPECIAL_TYPES:
        assert 100 * ours.special[name] == pytest.approx(theirs["special"][SPECIAL_NAMES[name]], abs=1e-6,
                                                         rel=0), name
    # per class: errors by class, and tidecv's class AP objects before and after each fix
    assert {str(k): v["counts"] for k, v in ours.per_class.items() if sum(v["counts"].values())} == \
        theirs["class_counts"]
    for label, row in ours.per_class.items():
        their = theirs["per_class"][str(label)]
        assert 100 * row["ap"] == pytest.approx(their["ap"], abs=1e-6, rel=0)
        for name, fixed in their["fixed"].items():
            gain = max(fixed - their["ap"], 0.0)
            assert 100 * row["dap"][name] == pytest.approx(gain, abs=1e-6, rel=0), (label, name)


# ------------------------------------------------------------------ scenes


def _xywh(box):
    return [float(v) for v in box]


def hand_scene():
    """One error of each type, each in its own image, and the true positives that make them errors."""
    gts, preds = [], []

    def image(gt_boxes, gt_labels, det_boxes, det_scores, det_labels):
        gts.append({"boxes": np.array(gt_boxes, dtype=float).reshape(-1, 4), "labels": gt_labels})
        preds.append({"boxes": np.array(det_boxes, dtype=float).reshape(-1, 4), "scores": det_scores,
                      "labels": det_labels})

    # 0 cls: a class-1 box exactly on a class-0 ground truth
    image([[0, 0, 10, 10]], [0], [[0, 0, 10, 10]], [0.9], [1])
    # 1 loc: right class, IoU 1/3 (in [0.1, 0.5])
    image([[0, 0, 10, 10]], [0], [[5, 0, 10, 10]], [0.8], [0])
    # 2 dupe: a second, lower scored box on a matched ground truth
    image([[0, 0, 10, 10]], [1], [[0, 0, 10, 10], [0, 0, 10, 9]], [0.95, 0.7], [1, 1])
    # 3 bkg: far from every ground truth
    image([[0, 0, 10, 10]], [1], [[0, 0, 10, 10], [50, 50, 10, 10]], [0.96, 0.6], [1, 1])
    # 4 both: wrong class and IoU 1/3
    image([[0, 0, 10, 10]], [0], [[0, 0, 10, 10], [0, 5, 10, 10]], [0.97, 0.5], [0, 1])
    # 5 miss: a ground truth nothing covers
    image([[0, 0, 10, 10], [40, 40, 10, 10]], [1, 1], [[0, 0, 10, 10]], [0.98], [1])
    return preds, gts


@pytest.mark.parametrize("backend", backend_params())
def test_hand_scene_types_each_error(tidecv, backend):
    preds, gts = hand_scene()
    from detmetrics import errors as de

    ours, theirs = assert_matches_tidecv(tidecv, preds, gts, backend)
    assert ours.counts == {"cls": 1, "loc": 1, "both": 1, "dupe": 1, "bkg": 1, "miss": 1}
    # the type of each error, detection by detection (the kernel's own output)
    types = _types_by_detection(preds, gts, backend)
    assert types == {(0, 0): "cls", (1, 0): "loc", (2, 1): "dupe", (3, 1): "bkg", (4, 1): "both"}
    # fixing every error at once gives AP 1, in tidecv too
    assert ours.ap < 1 and all(ours.dap[name] > 0 for name in ("cls", "loc", "miss"))
    assert ours.fixed_ap == 1.0 and theirs["fixed_all"] == 100.0
    assert de.ERROR_TYPES == tuple(TIDE_NAMES)


def _types_by_detection(preds, gts, backend):
    """``(image, detection) -> type`` for the errors of a scene (the classification stage's own output)."""
    from detmetrics import errors as de
    from detmetrics._inputs import flatten

    flat = flatten(preds, gts, "xywh")
    *_, classified = de._classify_flat(flat, 0.5, 0.1, 100, backend)
    error = classified[1]
    order = np.lexsort((-flat.det_score, flat.det_img))  # the stage's order (stable)
    image = flat.det_img[order]
    local = np.arange(order.shape[0]) - np.searchsorted(image, image)
    return {(int(image[k]), int(local[k])): ERROR_TYPES[int(error[k]) - 1] for k in range(order.shape[0]) if error[k]}


# ------------------------------------------------------------------ strategies (also used by tests/test_pairs.py)


@st.composite
def breakdown_scenes(draw, max_images=3, max_boxes=6):
    """Per-image dicts of xywh boxes on a coarse grid (ties, touching edges, duplicates, exact IoU 0.5 / 0.1),
    crowds, empty images and tied scores; with ``fg_iou``, ``bg_iou`` and ``max_detections``."""
    def boxes(n):
        coords = st.tuples(st.integers(0, 6), st.integers(0, 6), st.integers(1, 5), st.integers(1, 5))
        return st.lists(coords.map(lambda b: [float(v) for v in b]), min_size=n, max_size=n)

    n_images = draw(st.integers(1, max_images))
    preds, gts = [], []
    for _ in range(n_images):
        n_gt, n_det = draw(st.integers(0, max_boxes)), draw(st.integers(0, max_boxes))
        gts.append({"boxes": np.array(draw(boxes(n_gt))).reshape(-1, 4),
                    "labels": draw(st.lists(st.integers(0, 2), min_size=n_gt, max_size=n_gt)),
                    "iscrowd": np.array(draw(st.lists(st.sampled_from([0, 0, 0, 1]), min_size=n_gt, max_size=n_gt)),
                                        dtype=np.int64)})
        preds.append({"boxes": np.array(draw(boxes(n_det))).reshape(-1, 4),
                      "scores": draw(st.lists(st.sampled_from([0.2, 0.5, 0.5, 0.9]), min_size=n_det, max_size=n_det)),
                      "labels": draw(st.lists(st.integers(0, 2), min_size=n_det, max_size=n_det))})
    fg_iou = draw(st.sampled_from([0.5, 0.5, 1 / 3, 0.75]))
    bg_iou = draw(st.sampled_from([0.1, 0.0, 0.25]))
    return preds, gts, fg_iou, min(bg_iou, fg_iou), draw(st.sampled_from([100, 2]))


def classify_run(args, backend):
    """The classification stage (``_classify_kernel`` / ``_classify_reference``) on a drawn scene."""
    from detmetrics import errors as de
    from detmetrics._inputs import flatten

    preds, gts, fg_iou, bg_iou, cap = args
    *_, classified = de._classify_flat(flatten(preds, gts, "xywh"), fg_iou, bg_iou, cap, backend)
    return classified


@st.composite
def tide_ap_inputs(draw):
    """Groups of true-positive flags (by decreasing score) and their ground-truth counts (0 included)."""
    sizes = draw(st.lists(st.integers(0, 30), min_size=1, max_size=6))
    flags = [draw(st.lists(st.sampled_from([0, 1]), min_size=n, max_size=n)) for n in sizes]
    npos = [sum(f) + draw(st.integers(0, 4)) if draw(st.booleans()) or sum(f) else 0 for f in flags]
    offsets = np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64)
    return np.array(sum(flags, []), dtype=np.uint8), offsets, np.array(npos, dtype=np.int64)


def tide_ap_run(args, backend):
    from detmetrics import errors as de

    return (de._tide_ap(*args, backend),)


@settings(max_examples=60, deadline=None)
@given(breakdown_scenes())
def test_drawn_scenes_match_tidecv(tidecv, case):
    preds, gts, fg_iou, bg_iou, cap = case
    _, run = assert_matches_tidecv(tidecv, preds, gts, "numpy", fg_iou=fg_iou, bg_iou=bg_iou, max_dets=cap)
    assume(run is not None)  # tidecv divided by zero


@requires_numba
@settings(max_examples=60, deadline=None)
@given(breakdown_scenes())
def test_backends_agree_end_to_end(case):
    preds, gts, fg_iou, bg_iou, cap = case
    kw = dict(fg_iou=fg_iou, bg_iou=bg_iou, max_detections=cap, box_format="xywh")
    assert error_breakdown(preds, gts, backend="numba", **kw) == error_breakdown(preds, gts, backend="numpy", **kw)


def scene(rng, *, n_images=8, n_classes=3, crowds=True, grid=4.0):
    """A seeded scene with every kind of error: jittered copies (loc / tp), relabelled copies (cls),
    duplicates, background boxes, crowds, empty images, tied scores, exact IoU boundaries."""
    preds, gts = [], []
    scores = [0.1, 0.3, 0.5, 0.5, 0.7, 0.9]
    for _ in range(n_images):
        n_gt = int(rng.integers(0, 6))
        boxes, labels, crowd = [], [], []
        for _ in range(n_gt):
            x, y = grid * rng.integers(0, 25, 2)
            w, h = grid * rng.integers(1, 8, 2)
            boxes.append([x, y, w, h])
            labels.append(int(rng.integers(0, n_classes)))
            crowd.append(int(crowds and rng.random() < 0.15))
        dets, dscores, dlabels = [], [], []
        for g, lab in zip(boxes, labels):
            for _ in range(int(rng.integers(0, 3))):  # 0-2 detections per ground truth
                kind = rng.random()
                if kind < 0.15:  # exact boundary of fg / bg IoU
                    t = float(rng.choice([0.5, 0.1]))
                    box = box_with_iou(g, t, below=bool(rng.random() < 0.5))
                    if box is None:
                        continue
                    d = _xywh(box)
                else:
                    j = rng.integers(-2, 3, 4) * (grid / 2 if kind < 0.6 else grid * 1.5)
                    d = [g[0] + j[0], g[1] + j[1], max(grid / 2, g[2] + j[2]), max(grid / 2, g[3] + j[3])]
                dets.append(d)
                dlabels.append(lab if rng.random() < 0.75 else int(rng.integers(0, n_classes)))
                dscores.append(float(rng.choice(scores)))
        for _ in range(int(rng.integers(0, 3))):  # background
            x, y = grid * rng.integers(0, 30, 2)
            dets.append([x, y, grid * 2, grid * 2])
            dlabels.append(int(rng.integers(0, n_classes)))
            dscores.append(float(rng.choice(scores)))
        gts.append({"boxes": np.array(boxes, dtype=float).reshape(-1, 4), "labels": labels,
                    "iscrowd": np.array(crowd, dtype=np.int64)})
        preds.append({"boxes": np.array(dets, dtype=float).reshape(-1, 4), "scores": dscores, "labels": dlabels})
    return preds, gts


@pytest.mark.parametrize("seed", range(12))
@pytest.mark.parametrize("backend", backend_params())
def test_generated_scenes_match_tidecv(tidecv, seed, backend):
    rng = np.random.default_rng(seed)
    preds, gts = scene(rng, crowds=seed % 3 != 0)
    kw = {"max_dets": 100 if seed % 4 else 5}
    ours, theirs = assert_matches_tidecv(tidecv, preds, gts, backend, **kw)
    assert theirs is not None and sum(ours.counts.values()) > 0


@pytest.mark.parametrize("fg_iou, bg_iou", [(0.5, 0.1), (0.75, 0.1), (0.5, 0.0), (0.3, 0.3)])
def test_thresholds_match_tidecv(tidecv, fg_iou, bg_iou):
    for seed in range(3):
        preds, gts = scene(np.random.default_rng(100 + seed))
        assert_matches_tidecv(tidecv, preds, gts, "numpy", fg_iou=fg_iou, bg_iou=bg_iou)


@settings(max_examples=40, deadline=None)
@given(st.integers(0, 2**32 - 1), st.integers(1, 5), st.integers(1, 4))
def test_random_scenes_match_tidecv(tidecv, seed, n_images, n_classes):
    preds, gts = scene(np.random.default_rng(seed), n_images=n_images, n_classes=n_classes, grid=2.0)
    _, run = assert_matches_tidecv(tidecv, preds, gts, "numpy")
    assume(run is not None)  # tidecv divided by zero


def test_result_shape_and_table():
    preds, gts = hand_scene()
    result = error_breakdown(preds, gts, box_format="xywh", backend="numpy")
    assert isinstance(result, ErrorBreakdown)
    data = result.to_dict()
    assert set(data) == {"ap", "counts", "dap", "special", "per_class", "fixed_ap", "fg_iou", "bg_iou",
                         "max_detections"}
    assert set(data["per_class"]) == {"0", "1"}
    text = str(result)
    for name in ERROR_TYPES + SPECIAL_TYPES:
        assert name in text
    assert f"{100 * result.ap:.2f}" in text


def test_empty_input():
    result = error_breakdown([{"boxes": [], "scores": [], "labels": []}], [{"boxes": [], "labels": []}])
    assert result.ap == 0.0 and sum(result.counts.values()) == 0 and result.per_class == {}


@pytest.mark.parametrize("kwargs, match", [
    ({"fg_iou": 0.0}, "fg_iou"), ({"fg_iou": 1.5}, "fg_iou"), ({"bg_iou": 0.6}, "bg_iou"),
    ({"bg_iou": -0.1}, "bg_iou"), ({"max_detections": 0}, "max_detections"), ({"max_detections": 1.5}, "max_detections"),
    ({"backend": "gpu"}, "backend"), ({"box_format": "xy"}, "box_format"),
])
def test_bad_options(kwargs, match):
    preds, gts = hand_scene()
    with pytest.raises((ValueError, TypeError), match=match):
        error_breakdown(preds, gts, **kwargs)


def test_rotated_boxes_are_refused():
    preds = [{"boxes": [[5, 5, 10, 10, 0.3]], "scores": [0.9], "labels": [0]}]
    gts = [{"boxes": [[5, 5, 10, 10, 0.0]], "labels": [0]}]
    with pytest.raises(ValueError, match="axis-aligned"):
        error_breakdown(preds, gts)


# ------------------------------------------------------------------ the bundled sample, the CLI, the plot


def _sample():
    from detmetrics.io import load_ground_truth, load_predictions, sample_path

    gt = load_ground_truth(sample_path("yolo"))
    pred = load_predictions(sample_path("yolo") / "predictions", gt)
    assert gt.mean_ap_kwargs("bbox").get("box_format") == "xywh"
    return pred.records_for("bbox"), gt.records_for("bbox")


@pytest.mark.parametrize("backend", backend_params())
def test_bundled_sample_matches_tidecv(tidecv, backend):
    preds, gts = _sample()
    ours, run = assert_matches_tidecv(tidecv, preds, gts, backend)
    assert run is not None and sum(ours.counts.values()) > 0


def test_cli_errors_prints_the_table_and_writes_json_and_plot(tmp_path, capsys):
    pytest.importorskip("matplotlib", reason="--plot needs matplotlib")
    import json

    from detmetrics.cli import main
    from detmetrics.io import sample_path

    out_json, out_png = tmp_path / "errors.json", tmp_path / "errors.png"
    status = main(["errors", str(sample_path("yolo")), str(sample_path("yolo") / "predictions"), "--json",
                   str(out_json), "--plot", str(out_png), "--backend", "numpy"])
    assert status == 0
    printed = capsys.readouterr().out
    preds, gts = _sample()
    ours = error_breakdown(preds, gts, box_format="xywh", backend="numpy")
    assert ours.table() in printed and "person" in printed
    data = json.loads(out_json.read_text())
    assert data["counts"] == ours.counts and data["ap"] == ours.ap
    assert data["class_names"]["0"] == "person"
    assert out_png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.mark.parametrize("argv, message", [
    (["--fg-iou", "1.5"], "--fg-iou"), (["--bg-iou", "-1"], "--bg-iou"), (["--fg-iou", "0.3", "--bg-iou", "0.4"],
                                                                          "bg_iou"),
    (["--max-dets", "0"], "--max-dets"),
])
def test_cli_errors_bad_flags_exit_2(argv, message, capsys):
    from detmetrics.cli import main
    from detmetrics.io import sample_path

    status = main(["errors", str(sample_path("yolo")), str(sample_path("yolo") / "predictions"), *argv])
    err = capsys.readouterr().err
    assert status == 2 and message in err and "Traceback" not in err and len(err.strip().splitlines()) == 1


def test_cli_errors_missing_file_exits_2(tmp_path, capsys):
    from detmetrics.cli import main

    assert main(["errors", str(tmp_path / "nope.json"), str(tmp_path / "nope2.json")]) == 2
    assert "detmetrics: error:" in capsys.readouterr().err


def test_plot_error_breakdown(tmp_path):
    pytest.importorskip("matplotlib", reason="the plot needs matplotlib")
    from detmetrics.plots import plot_error_breakdown

    preds, gts = hand_scene()
    fig = plot_error_breakdown(error_breakdown(preds, gts, box_format="xywh"), path=tmp_path / "e.png")
    assert (tmp_path / "e.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    labels = [t.get_text() for t in fig.axes[0].get_yticklabels()]
    assert labels == [f"{t} (1)" for t in ERROR_TYPES]
    with pytest.raises(TypeError, match="breakdown"):
        plot_error_breakdown({"dap": {}})


def _continuous_scene(rng, n_images=6, n_classes=3):
    """Real-valued boxes (no IoU ties), no crowds, every detected class has a ground truth."""
    preds, gts = [], []
    for _ in range(n_images):
        n = int(rng.integers(0, 6))
        g = np.c_[rng.uniform(0, 100, (n, 2)), rng.uniform(5, 30, (n, 2))]
        labels = rng.integers(0, n_classes, n)
        d = np.repeat(g, 2, axis=0) + rng.normal(0, 3, (2 * n, 4))
        d[:, 2:] = np.abs(d[:, 2:]) + 1
        dl = np.where(rng.random(2 * n) < 0.8, np.repeat(labels, 2), rng.integers(0, n_classes, 2 * n))
        gts.append({"boxes": g, "labels": labels})
        preds.append({"boxes": d, "scores": rng.random(2 * n), "labels": dl})
    present = np.unique(np.concatenate([g["labels"] for g in gts]))
    for p in preds:
        keep = np.isin(p["labels"], present)
        p["boxes"], p["scores"], p["labels"] = p["boxes"][keep], p["scores"][keep], p["labels"][keep]
    return preds, gts


def test_tide_ap_is_coco_ap50_off_the_grid_differences():
    """TIDE's class AP equals COCO's AP50 (``mean_ap``) unless a recall lands on a point where the grids differ."""
    from detmetrics import mean_ap

    grid = np.arange(101) / 100
    differing = set(grid[np.linspace(0, 1, 101) != grid].tolist())
    assert len(differing) == 10
    compared = 0
    for seed in range(40):
        preds, gts = _continuous_scene(np.random.default_rng(seed))
        coco = mean_ap(preds, gts, box_format="xywh", iou_thresholds=[0.5], backend="numpy")
        ours = error_breakdown(preds, gts, box_format="xywh", backend="numpy")
        for label, row in ours.per_class.items():
            npos = sum(int(np.count_nonzero(np.asarray(g["labels"]) == label)) for g in gts)
            if any(k / npos in differing for k in range(1, npos + 1)):
                continue
            assert row["ap"] == pytest.approx(coco.per_class[label]["ap50"], abs=1e-12, rel=0)
            compared += 1
    assert compared > 80


def test_bundled_sample_tide_ap_and_coco_map50():
    """The sample's detection-only class counts 0 in TIDE's mean and is left out of COCO's."""
    from detmetrics import mean_ap

    preds, gts = _sample()
    coco = mean_ap(preds, gts, box_format="xywh", backend="numpy")
    ours = error_breakdown(preds, gts, box_format="xywh", backend="numpy")
    with_gt = [c for c, row in coco.per_class.items() if row["n_gt"] > 0]
    assert len(with_gt) == len(ours.per_class) - 1
    for c in with_gt:
        assert ours.per_class[c]["ap"] == pytest.approx(coco.per_class[c]["ap50"], abs=1e-12, rel=0)
    assert ours.ap == pytest.approx(coco.map50 * len(with_gt) / len(ours.per_class), abs=1e-12, rel=0)


# ------------------------------------------------------------------ COCO JSON, against tidecv's own COCO readers


def _coco_files(tmp_path, seed):
    """A scene written as COCO JSON, image ids shuffled in the file (tidecv walks the file's order)."""
    import json

    rng = np.random.default_rng(seed)
    preds, gts = scene(rng, n_images=10)
    ids = [int(i) for i in rng.permutation(np.arange(1, 11)) * 7]
    images = [{"id": i, "file_name": f"{i}.jpg", "width": 200, "height": 200} for i in ids]
    categories = [{"id": c, "name": f"c{c}"} for c in range(1, 4)]
    anns, results = [], []
    for image_id, p, g in zip(ids, preds, gts):
        for box, label, crowd in zip(g["boxes"].tolist(), g["labels"], g["iscrowd"].tolist()):
            x, y, w, h = box
            anns.append({"id": len(anns) + 1, "image_id": image_id, "category_id": label + 1, "bbox": box,
                         "area": w * h, "iscrowd": crowd,
                         "segmentation": [[x, y, x + w, y, x + w, y + h, x, y + h]]})
        for box, score, label in zip(p["boxes"].tolist(), p["scores"], p["labels"]):
            results.append({"image_id": image_id, "category_id": label + 1, "bbox": box, "score": score})
    gt_path, res_path = tmp_path / f"gt{seed}.json", tmp_path / f"res{seed}.json"
    gt_path.write_text(json.dumps({"images": images, "annotations": anns, "categories": categories}))
    res_path.write_text(json.dumps(results))
    return gt_path, res_path


@pytest.mark.parametrize("seed", range(4))
def test_coco_files_match_tidecv_coco_readers(tidecv, tmp_path, seed):
    from detmetrics import error_breakdown_coco

    gt_path, res_path = _coco_files(tmp_path, seed)
    theirs = tidecv.ask({"coco": [str(gt_path), str(res_path)]})
    for source in (str(gt_path), json_of(gt_path)):
        ours = error_breakdown_coco(source, str(res_path), backend="numpy")
        assert_same(ours, theirs)
        assert set(ours.per_class) <= {1, 2, 3}


def json_of(path):
    import json

    return json.loads(path.read_text())


def test_coco_bad_sources_name_the_argument(tmp_path):
    from detmetrics import error_breakdown_coco

    gt_path, res_path = _coco_files(tmp_path, 0)
    with pytest.raises(ValueError, match="ground_truth"):
        error_breakdown_coco({"images": "x"}, str(res_path))
    with pytest.raises(ValueError, match="results"):
        error_breakdown_coco(str(gt_path), [{"image_id": 12345, "category_id": 1, "bbox": [0, 0, 1, 1],
                                             "score": 0.5}])


def test_cli_on_coco_files_equals_error_breakdown_coco(tmp_path, capsys):
    import json

    from detmetrics import error_breakdown_coco
    from detmetrics.cli import main

    gt_path, res_path = _coco_files(tmp_path, 2)
    out = tmp_path / "e.json"
    assert main(["errors", str(gt_path), str(res_path), "--json", str(out), "--backend", "numpy"]) == 0
    ours = error_breakdown_coco(str(gt_path), str(res_path), backend="numpy")
    assert ours.table() in capsys.readouterr().out
    data = json.loads(out.read_text())
    assert data["ap"] == ours.ap and data["dap"] == ours.dap and data["counts"] == ours.counts


@settings(max_examples=40, deadline=None)
@given(breakdown_scenes(), st.integers(-20, 20), st.integers(-20, 20), st.integers(1, 50))
def test_shift_and_relabel_leave_the_breakdown_unchanged(case, dx, dy, relabel):
    """Integer shifts keep every IoU (grid boxes, exact arithmetic); renaming classes keeps every number."""
    preds, gts, fg_iou, bg_iou, cap = case

    def moved(records):
        out = []
        for r in records:
            r = dict(r)
            r["boxes"] = np.asarray(r["boxes"], dtype=float).reshape(-1, 4) + [dx, dy, 0, 0]
            r["labels"] = [int(v) * 3 + relabel for v in r["labels"]]
            out.append(r)
        return out

    kw = dict(fg_iou=fg_iou, bg_iou=bg_iou, max_detections=cap, box_format="xywh", backend="numpy")
    a, b = error_breakdown(preds, gts, **kw), error_breakdown(moved(preds), moved(gts), **kw)
    assert (a.ap, a.counts, a.dap, a.special, a.fixed_ap) == (b.ap, b.counts, b.dap, b.special, b.fixed_ap)
    assert [v for v in a.per_class.values()] == [v for v in b.per_class.values()]
