"""detmetrics.dask: sharded evaluation on Dask equals mean_ap on all the images by image_id, exactly."""

import json
import os
import random

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from numpy.testing import assert_allclose

dask = pytest.importorskip("dask", reason="detmetrics.dask needs the dask extra (dask[distributed])")
db = pytest.importorskip("dask.bag", reason="detmetrics.dask needs dask.bag")

from detmetrics import Evaluator, mean_ap  # noqa: E402
from detmetrics import dask as ddm  # noqa: E402
from detmetrics.strategies import detection_datasets  # noqa: E402

from _support import backend_params  # noqa: E402
from coco_generator import has_zero_annotation_id, make_coco_dataset, run_pycocotools, to_mean_ap  # noqa: E402

FIELDS = ("stats", "precision", "recall", "scores", "ap")


@pytest.fixture(autouse=True)
def _sync_scheduler():
    with dask.config.set(scheduler="sync"):
        yield


def assert_same(r, expected):
    assert r.category_ids == expected.category_ids
    for name in FIELDS:
        assert_allclose(getattr(r, name), getattr(expected, name), rtol=0, atol=1e-12, err_msg=name)


def bag_of(records, sizes):
    """A bag whose partitions hold ``sizes[i]`` consecutive records (0 = an empty partition)."""
    assert sum(sizes) == len(records)
    parts, start = [], 0
    for size in sizes:
        parts.append(dask.delayed(list(records[start:start + size])))
        start += size
    return db.from_delayed(parts)


def random_sizes(n, rnd):
    sizes = []
    left = n
    while left:
        size = rnd.choice([0, 1, rnd.randint(1, left)])
        size = min(size, left)
        sizes.append(size)
        left -= size
    sizes.insert(rnd.randint(0, len(sizes)), 0)  # always one empty partition somewhere
    return sizes


def keyed(predictions, ground_truths, rnd):
    """Records with unique non-contiguous ids, shuffled; and the mean_ap of the images by id."""
    ids = rnd.sample(range(10_000), len(predictions))
    records = list(zip(ids, predictions, ground_truths))
    by_id = sorted(records, key=lambda r: r[0])
    rnd.shuffle(records)
    return records, [r[1] for r in by_id], [r[2] for r in by_id]


@settings(deadline=None, max_examples=25)
@given(detection_datasets(max_images=10), st.randoms(use_true_random=False),
       st.sampled_from(["coco", "voc11", "voc"]), st.sampled_from(["coco", "voc"]))
@pytest.mark.parametrize("backend", backend_params())
def test_random_shardings_equal_mean_ap(backend, data, rnd, interpolation, matching):
    records, preds, gts = keyed(*data, rnd)
    options = dict(backend=backend, interpolation=interpolation, matching=matching)
    expected = mean_ap(preds, gts, **options)
    bag = bag_of(records, random_sizes(len(records), rnd))
    assert_same(ddm.mean_ap(bag, split_every=rnd.choice([2, 3, None]), **options), expected)


def _dataset(seed, n_images=30, labels=(0, 1, 2, 3)):
    rng = np.random.default_rng(seed)
    preds, gts = [], []
    for _ in range(n_images):
        n_gt, n_det = rng.integers(0, 6), rng.integers(0, 12)
        g = rng.integers(0, 80, (n_gt, 2)).astype(float)
        g = np.hstack([g, g + rng.integers(1, 40, (n_gt, 2))])
        d = rng.integers(0, 80, (n_det, 2)).astype(float)
        d = np.hstack([d, d + rng.integers(1, 40, (n_det, 2))])
        if n_gt and n_det:
            k = min(n_gt, n_det)
            shift = rng.integers(-3, 4, (k, 2))
            d[:k] = g[:k] + np.hstack([shift, shift + rng.integers(0, 4, (k, 2))])
        preds.append({"boxes": d, "scores": rng.choice([0.3, 0.5, 0.9], n_det), "labels": rng.choice(labels, n_det)})
        gts.append({"boxes": g, "labels": rng.choice(labels, n_gt), "iscrowd": rng.random(n_gt) < 0.1})
    return preds, gts


@pytest.mark.parametrize("backend", backend_params())
def test_special_shardings(backend):
    preds, gts = _dataset(0)
    # one class per image so that "every image of one class" is a partition of its own
    for p, g, k in zip(preds, gts, range(len(preds))):
        p["labels"] = np.full(len(p["scores"]), k % 3)
        g["labels"] = np.full(len(g["boxes"]), k % 3)
    expected = mean_ap(preds, gts, backend=backend)
    records = list(enumerate(zip(preds, gts)))
    records = [(i, p, g) for i, (p, g) in records]
    one_each = db.from_sequence(records, npartitions=len(records))
    assert one_each.npartitions == len(records)
    assert_same(ddm.mean_ap(one_each, backend=backend), expected)
    by_class = sorted(records, key=lambda r: (r[0] % 3 != 1, -r[0]))  # class 1 first, reversed ids
    n1 = sum(1 for r in records if r[0] % 3 == 1)
    assert_same(ddm.mean_ap(bag_of(by_class, [0, n1, 0, len(records) - n1, 0]), backend=backend), expected)
    assert_same(ddm.mean_ap(bag_of([], [0, 0]), backend=backend), mean_ap([], [], backend=backend))


@pytest.mark.parametrize("options", [
    dict(iou_thresholds=[0.3, 0.5, 0.7]),
    dict(max_detections=(1, 3, 5)),
    dict(area_ranges={"all": (0, 1e10), "tiny": (0, 200), "big": (200, 1e10)}),
    dict(matching="voc", interpolation="voc", iou_thresholds=[0.5]),
    dict(category_ids=[0, 1, 2, 3, 9]),
    dict(box_format="xywh"),
])
def test_every_option(options):
    preds, gts = _dataset(1)
    rnd = random.Random(1)
    records, p, g = keyed(preds, gts, rnd)
    assert_same(ddm.mean_ap(bag_of(records, random_sizes(len(records), rnd)), **options), mean_ap(p, g, **options))


def test_rotated_and_quads_threads():
    from detmetrics.rotated import rotated_to_corners as obb_to_poly

    rng = np.random.default_rng(2)
    preds, gts = [], []
    for _ in range(12):
        g = np.column_stack([rng.uniform(20, 80, (4, 2)), rng.uniform(5, 30, (4, 2)), rng.uniform(-1.5, 1.5, 4)])
        d = np.vstack([g + rng.normal(0, 1.5, g.shape), g[:2] + 10])
        preds.append({"boxes": d, "scores": rng.random(6), "labels": rng.integers(0, 2, 6)})
        gts.append({"boxes": g, "labels": rng.integers(0, 2, 4)})
    records = [(i * 3, p, g) for i, (p, g) in enumerate(zip(preds, gts))]
    with dask.config.set(scheduler="threads"):
        assert_same(ddm.mean_ap(db.from_sequence(records[::-1], npartitions=4)), mean_ap(preds, gts))
        quads = [(i, {**p, "boxes": obb_to_poly(p["boxes"])}, {**g, "boxes": obb_to_poly(g["boxes"])})
                 for i, p, g in records]
        assert_same(ddm.mean_ap(db.from_sequence(quads, npartitions=3)),
                    mean_ap([r[1] for r in quads], [r[2] for r in quads]))


@pytest.mark.parametrize("backend", backend_params())
@pytest.mark.parametrize("seed", [0, 2])
def test_pycocotools_on_generated_coco(seed, backend):
    gt, results = make_coco_dataset(seed, n_images=30)
    assert not has_zero_annotation_id(gt)
    preds, gts, image_ids = to_mean_ap(gt, results)
    records = list(zip(image_ids, preds, gts))
    random.Random(seed).shuffle(records)
    r = ddm.mean_ap(bag_of(records, random_sizes(len(records), random.Random(seed))), box_format="xywh",
                    category_ids=sorted(c["id"] for c in gt["categories"]), backend=backend)
    stats, ev, _ = run_pycocotools(gt, results)
    assert_allclose(r.stats, stats, rtol=0, atol=1e-12)
    for name in ("precision", "recall", "scores"):
        assert_allclose(getattr(r, name), ev[name], rtol=0, atol=1e-12, err_msg=name)


def test_partition_states_are_packed_evaluators():
    preds, gts = _dataset(3)
    records = [(i, p, g) for i, (p, g) in enumerate(zip(preds, gts))]
    states = ddm.partition_states(bag_of(records, [10, 0, 20])).compute()
    assert len(states) == 3 and [s.n_images for s in states] == [10, 0, 20]
    assert all(isinstance(s, Evaluator) and not s._pending for s in states)  # matched: no boxes kept
    total = states[2]
    total.merge(states[0]).merge(states[1])
    assert_same(total.compute(), mean_ap(preds, gts))


def test_compute_merged_by_category_groups_is_compute(monkeypatch):
    preds, gts = _dataset(7, n_images=40, labels=(0, 1, 2, 3, 5, 8))
    ev = Evaluator(iou_thresholds=[0.5, 0.7])
    for start in range(0, 40, 7):
        ev.update(preds[start:start + 7], gts[start:start + 7], image_ids=range(start, min(start + 7, 40)))
    expected = ev.compute()
    for rows, threads in ((1, 1), (1, 3), (13, 2), (60, 1)):
        monkeypatch.setattr(ddm, "_GROUP_ROWS", rows)
        got = ddm.compute_merged(ev, threads=threads)
        for name in (*FIELDS, "n_gt", "n_det"):
            np.testing.assert_array_equal(getattr(got, name), getattr(expected, name), err_msg=name)
        assert got.per_class == expected.per_class
        assert got.best_f1() == expected.best_f1()
        for category in (None, 3):
            for key, values in got.pr_curve(category).items():
                np.testing.assert_array_equal(values, expected.pr_curve(category)[key])
    monkeypatch.setattr(ddm, "_GROUP_ROWS", 5)  # the grouped path through mean_ap, on a tree too
    records = [(i, p, g) for i, (p, g) in enumerate(zip(preds, gts))]
    assert_same(ddm.mean_ap(db.from_sequence(records, npartitions=4), split_every=2), mean_ap(preds, gts))
    with pytest.raises(ValueError, match="split_every"):
        ddm.mean_ap(db.from_sequence(records), split_every=1)
    with pytest.raises(ValueError, match="threads"):
        ddm.compute_merged(ev, threads=0)


@pytest.mark.parametrize("options", [{"recall_thresholds": [0.0, 0.25, 0.5, 1.0]}, {"interpolation": "voc11"}])
def test_compute_merged_by_category_groups_keeps_the_recall_grid(monkeypatch, options):
    preds, gts = _dataset(5, n_images=20, labels=(0, 1, 2, 4))
    ev = Evaluator(**options)
    ev.update(preds, gts)
    expected = ev.compute()
    monkeypatch.setattr(ddm, "_GROUP_ROWS", 3)
    got = ddm.compute_merged(ev, threads=2)
    np.testing.assert_array_equal(got.recall_thresholds, expected.recall_thresholds)
    assert got.precision.shape == expected.precision.shape
    for name in (*FIELDS, "n_gt", "n_det"):
        np.testing.assert_array_equal(getattr(got, name), getattr(expected, name), err_msg=name)
    assert got.to_dict() == expected.to_dict()


def test_duplicate_image_ids():
    preds, gts = _dataset(4, n_images=6)
    records = [(i, p, g) for i, (p, g) in enumerate(zip(preds, gts))]
    twice_in_one = records + [(5, preds[0], gts[0])]
    with pytest.raises(ValueError, match="duplicate image_id 5 .twice in one partition"):
        ddm.mean_ap(db.from_sequence(twice_in_one, npartitions=1))
    with pytest.raises(ValueError, match="duplicate image_id 2 .in two partitions"):
        ddm.mean_ap(bag_of(records + [(2, preds[0], gts[0])], [3, 0, 4]))


GOOD_P = {"boxes": [[0, 0, 10, 10]], "scores": [0.5], "labels": [1]}
GOOD_G = {"boxes": [[0, 0, 10, 10]], "labels": [1]}


@pytest.mark.parametrize("bad, exception, match", [
    ((42, {"boxes": [[0, 0, 10]], "scores": [0.5], "labels": [1]}, GOOD_G), ValueError, "image_id 42.*boxes"),
    ((42, {"boxes": [[0, 0, 10, 10]], "labels": [1]}, GOOD_G), (ValueError, TypeError), "image_id 42.*scores"),
    ((42, GOOD_P, {"boxes": [[0, 0, 10, 10]]}), (ValueError, TypeError), "image_id 42.*labels"),
    ((42, GOOD_P, {"boxes": [[0, 0, 10, 10]], "labels": [1, 2]}), ValueError, "image_id 42"),
    ((42, GOOD_P, [1, 2]), TypeError, "ground_truth of the record with image_id 42 must be a dict"),
    (("a", GOOD_P, GOOD_G), TypeError, "image_id .* must be an integer"),
    ((42, GOOD_P), TypeError, r"\(image_id, prediction, ground_truth\) tuple"),
])
def test_bad_records_name_the_image_id_at_compute_time(bad, exception, match):
    records = [(i, GOOD_P, GOOD_G) for i in range(5)] + [bad] + [(i, GOOD_P, GOOD_G) for i in range(50, 53)]
    states = ddm.partition_states(db.from_sequence(records, npartitions=2))  # lazy: nothing raised yet
    with pytest.raises(exception, match=match):
        states.compute()
    with pytest.raises(exception, match=match):
        ddm.mean_ap(db.from_sequence(records, npartitions=3))


def test_bad_arguments_fail_at_once():
    with pytest.raises(TypeError, match="records must be a dask.bag.Bag"):
        ddm.mean_ap([(0, GOOD_P, GOOD_G)])
    bag = db.from_sequence([(0, GOOD_P, GOOD_G)])
    with pytest.raises(TypeError, match="unexpected option"):
        ddm.mean_ap(bag, iou_threshold=0.5)
    with pytest.raises(ValueError, match="interpolation"):
        ddm.partition_states(bag, interpolation="bad")


# ---------------------------------------------------------------------------------------- dataframes


def long_tables(records):
    """COCO-style long tables (one row per box) of the records, rows in record order."""
    import pandas as pd

    g_rows, d_rows = [], []
    for image_id, p, g in records:
        for box, label, crowd in zip(np.asarray(g["boxes"]), g["labels"], g.get("iscrowd", np.zeros(len(g["labels"])))):
            g_rows.append(dict(image_id=image_id, category_id=int(label), x=box[0], y=box[1], w=box[2] - box[0],
                               h=box[3] - box[1], iscrowd=int(crowd)))
        for box, label, score in zip(np.asarray(p["boxes"]), p["labels"], p["scores"]):
            d_rows.append(dict(image_id=image_id, category_id=int(label), x=box[0], y=box[1], w=box[2] - box[0],
                               h=box[3] - box[1], score=float(score)))
    g_cols = ["image_id", "category_id", "x", "y", "w", "h", "iscrowd"]
    d_cols = ["image_id", "category_id", "x", "y", "w", "h", "score"]
    return pd.DataFrame(g_rows, columns=g_cols), pd.DataFrame(d_rows, columns=d_cols)


def test_dataframe_path_equals_bag_path(tmp_path):
    pytest.importorskip("pandas", reason="the dataframe path needs pandas")
    pytest.importorskip("pyarrow", reason="reading Parquet needs pyarrow")
    import dask.dataframe as dd

    preds, gts = _dataset(5, n_images=40)
    for p in preds:  # distinct scores: dask's set_index does not promise the row order inside an image
        p["scores"] = np.random.default_rng(len(p["scores"])).permutation(len(p["scores"])) / 100 + 0.01
    rnd = random.Random(5)
    ids = sorted(rnd.sample(range(1000), len(preds)))
    records = list(zip(ids, preds, gts))
    gt_table, det_table = long_tables(records)
    gt_table.to_parquet(tmp_path / "gt.parquet")
    det_table.to_parquet(tmp_path / "det.parquet")
    gt_frame = dd.read_parquet(tmp_path / "gt.parquet").set_index("image_id", npartitions=3)
    det_frame = dd.read_parquet(tmp_path / "det.parquet").set_index("image_id", npartitions=4)
    assert gt_frame.divisions != det_frame.divisions  # the union-of-divisions alignment is exercised
    got = ddm.evaluate_frames(gt_frame, det_frame)
    bag = db.from_sequence(records, npartitions=5)
    expected = ddm.mean_ap(bag, box_format="xyxy")
    assert_same(got, expected)
    assert_same(got, mean_ap(preds, gts))
    # the records built from the frames are the bag's records
    rebuilt = {r[0]: r for r in ddm.frame_records(gt_frame, det_frame).compute()}
    assert set(rebuilt) == {i for i, p, g in records if len(p["scores"]) or len(g["labels"])}


def test_dataframe_rotated_and_quad_columns():
    pd = pytest.importorskip("pandas", reason="the dataframe path needs pandas")
    import dask.dataframe as dd

    from detmetrics.rotated import rotated_to_corners

    rng = np.random.default_rng(8)
    g_rows, d_rows, preds, gts = [], [], [], []
    for image_id in range(10):
        g = np.column_stack([rng.uniform(20, 80, (3, 2)), rng.uniform(5, 30, (3, 2)), rng.uniform(-1.5, 1.5, 3)])
        d = g + rng.normal(0, 1.5, g.shape)
        scores, labels, g_labels = rng.permutation(3) / 10 + 0.05, rng.integers(0, 2, 3), rng.integers(0, 2, 3)
        preds.append({"boxes": d, "scores": scores, "labels": labels})
        gts.append({"boxes": g, "labels": g_labels})
        g_rows += [(image_id, int(k), *b) for b, k in zip(g, g_labels)]
        d_rows += [(image_id, int(k), float(c), *b) for b, k, c in zip(d, labels, scores)]
    rot = ["cx", "cy", "w", "h", "angle"]
    gt = dd.from_pandas(pd.DataFrame(g_rows, columns=["image_id", "category_id", *rot]).set_index("image_id"),
                        npartitions=2, sort=True)
    det = dd.from_pandas(pd.DataFrame(d_rows, columns=["image_id", "category_id", "score", *rot])
                         .set_index("image_id"), npartitions=3, sort=True)
    assert_same(ddm.evaluate_frames(gt, det, box_columns=rot), mean_ap(preds, gts))
    quad = [f"{a}{i}" for i in range(1, 5) for a in "xy"]

    def as_quads(frame):
        corners = rotated_to_corners(frame[rot].to_numpy()).reshape(-1, 8)
        return frame.drop(columns=rot).assign(**{c: corners[:, j] for j, c in enumerate(quad)})

    gt_q = gt.map_partitions(as_quads)
    det_q = det.map_partitions(as_quads)
    quads = [({**p, "boxes": rotated_to_corners(p["boxes"])}, {**g, "boxes": rotated_to_corners(g["boxes"])})
             for p, g in zip(preds, gts)]
    assert_same(ddm.evaluate_frames(gt_q, det_q, box_columns=quad),
                mean_ap([q[0] for q in quads], [q[1] for q in quads]))


def test_dataframe_errors():
    pd = pytest.importorskip("pandas", reason="the dataframe path needs pandas")
    import dask.dataframe as dd

    gt_table, det_table = long_tables([(1, GOOD_P, {**GOOD_G, "boxes": np.array(GOOD_G["boxes"])})])
    det_table["boxes"] = 0
    gt = dd.from_pandas(gt_table.set_index("image_id"), npartitions=1)
    det = dd.from_pandas(det_table.set_index("image_id"), npartitions=1)
    with pytest.raises(TypeError, match="ground_truth must be a dask.dataframe.DataFrame"):
        ddm.evaluate_frames(gt_table, det)
    with pytest.raises(ValueError, match="detections must be indexed by image_id"):
        ddm.evaluate_frames(gt, dd.from_pandas(det_table, npartitions=1))
    with pytest.raises(ValueError, match="known divisions"):
        ddm.evaluate_frames(gt, det.clear_divisions())
    with pytest.raises(ValueError, match=r"detections has no column\(s\) \['score'\]"):
        ddm.evaluate_frames(gt, det.drop(columns="score"))
    with pytest.raises(ValueError, match="box_columns"):
        ddm.evaluate_frames(gt, det, box_columns=("x", "y"))
    assert isinstance(pd.DataFrame, type)


# ---------------------------------------------------------------------------------------- processes


def test_local_cluster_two_processes():
    distributed = pytest.importorskip("distributed", reason="the LocalCluster test needs dask[distributed]")
    preds, gts = _dataset(6, n_images=60)
    records = [(i, p, g) for i, (p, g) in enumerate(zip(preds, gts))]
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster, \
            distributed.Client(cluster) as client:
        assert ddm._active_client() is client  # the graphs below run on the two worker processes
        bag = db.from_sequence(records[::-1], npartitions=6)
        streamed = ddm.mean_ap(bag)  # each partition's state fetched as it completes
        tree = ddm.mean_ap(bag, split_every=2)  # merged on the workers
        with pytest.raises(ValueError, match="duplicate image_id 3"):
            ddm.mean_ap(db.from_sequence(records + records[3:4], npartitions=3))
        pids = client.run(os.getpid)
    assert len(set(pids.values())) == 2 and os.getpid() not in pids.values()
    expected = mean_ap(preds, gts)
    assert_same(streamed, expected)
    assert_same(tree, expected)


def test_cli_workers_2_equals_workers_1(tmp_path):
    from detmetrics.cli import main
    from detmetrics.io import sample_path

    gt, results = make_coco_dataset(1, n_images=25)
    (tmp_path / "gt.json").write_text(json.dumps(gt))
    (tmp_path / "res.json").write_text(json.dumps(results))
    for name, (g, p) in {"coco": (tmp_path / "gt.json", tmp_path / "res.json"),
                         "yolo": (sample_path("yolo"), sample_path("yolo") / "predictions")}.items():
        outs = []
        for workers in ("1", "2"):
            out = tmp_path / f"{name}_{workers}.json"
            assert main(["eval", str(g), str(p), "--workers", workers, "--json", str(out), "--quiet",
                         "--no-progress"]) == 0
            outs.append(json.loads(out.read_text()))
        assert outs[0] == outs[1]
    assert main(["eval", str(tmp_path / "gt.json"), str(tmp_path / "res.json"), "--workers", "0"]) == 2


# ---------------------------------------------------------------------------------------- protocols

PROTOCOL_OPTIONS = [
    dict(protocol="coco"), dict(protocol="voc07"), dict(protocol="voc12"), dict(protocol="dota"),
    dict(protocol="ultralytics"),
    # the switches on their own, each off its preset's default: they must survive the partition states' merge
    dict(protocol="ultralytics", image_budget=2), dict(protocol="coco", image_budget=3),
    dict(protocol="coco", iou_test=">"), dict(protocol="dota", iou_test=">="),
    dict(protocol="dota", box_plus_one=True), dict(protocol="voc12", box_plus_one=False),
    dict(protocol="coco", crowd="drop", difficult="count"), dict(protocol="ultralytics", crowd="ignore"),
    dict(protocol="ultralytics", matching="coco"), dict(protocol="voc07", interpolation="ultralytics"),
]


@pytest.mark.parametrize("options", PROTOCOL_OPTIONS, ids=lambda o: ",".join(f"{k}={v}" for k, v in o.items()))
def test_protocols_through_dask_equal_mean_ap(options):
    from test_protocols import scene

    for seed in (3, 4):
        preds, gts = scene(seed, n_images=9, crowd=True, difficult=True, integer=seed == 4)
        rnd = random.Random(seed)
        records, p, g = keyed(preds, gts, rnd)
        expected = mean_ap(p, g, **options)
        assert expected.map > 0  # the scene evaluates to something under every option set
        got = ddm.mean_ap(bag_of(records, random_sizes(len(records), rnd)), split_every=2, **options)
        assert_same(got, expected)
        if options.get("protocol") == "ultralytics":
            assert got.ultralytics_operating_point() == expected.ultralytics_operating_point()


def test_protocol_switches_through_evaluate_frames():
    pytest.importorskip("pandas", reason="the dataframe path needs pandas")
    import dask.dataframe as dd
    from test_protocols import scene

    preds, gts = scene(6, n_images=12, crowd=True, difficult=True)
    ids = list(range(0, 24, 2))
    records = list(zip(ids, preds, gts))
    gt_table, det_table = long_tables(records)
    gt_table["difficult"] = np.concatenate([np.asarray(g["difficult"]) for g in gts])
    gt_frame = dd.from_pandas(gt_table.set_index("image_id"), npartitions=3)
    det_frame = dd.from_pandas(det_table.set_index("image_id"), npartitions=2)
    kept = [(p, g) for p, g in zip(preds, gts) if len(p["scores"]) or len(g["labels"])]
    p, g = [k[0] for k in kept], [k[1] for k in kept]
    for options in PROTOCOL_OPTIONS:
        assert_same(ddm.evaluate_frames(gt_frame, det_frame, **options), mean_ap(p, g, **options))
