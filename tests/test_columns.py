"""The one-pass reader of in-memory COCO results and the columnar entry point ``evaluate_columns``.

Both must give exactly what the typed JSON path gives (which the oracle tests hold equal to
pycocotools), and every input the typed path rejects must still be rejected with its message.
"""

from __future__ import annotations

import copy
import gc
import sys
import threading
from collections import OrderedDict

import msgspec
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from detmetrics import evaluate_coco
from detmetrics.io._coco_decode import load_ground_truth, load_results
from detmetrics.io._dict_columns import _result_dict_columns_reference as _result_dict_columns
from detmetrics.strategies import coco_datasets

from _support import requires_numba
from coco_generator import make_coco_dataset, run_pycocotools


def _same(a, b):
    assert np.array_equal(np.asarray(a.stats), np.asarray(b.stats))
    assert np.array_equal(a.precision, b.precision)
    assert np.array_equal(a.recall, b.recall)
    assert np.array_equal(a.scores, b.scores)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_dict_fast_path_equals_json_path(seed):
    gt, res = make_coco_dataset(seed)
    assert _result_dict_columns(res) is not None  # the fast path is taken
    from_json = evaluate_coco(msgspec.json.encode(gt), msgspec.json.encode(res), backend="numpy")
    _same(evaluate_coco(gt, res, backend="numpy"), from_json)


def test_dict_fast_path_reads_numpy_scalars():
    gt, res = make_coco_dataset(3)
    np_res = [{"image_id": np.int64(r["image_id"]), "category_id": np.int32(r["category_id"]),
               "bbox": [np.float32(v) for v in r["bbox"]], "score": np.float32(r["score"])} for r in res]
    assert _result_dict_columns(np_res) is not None
    plain = [{"image_id": r["image_id"], "category_id": r["category_id"], "bbox": [float(np.float32(v))
              for v in r["bbox"]], "score": float(np.float32(r["score"]))} for r in res]
    _same(evaluate_coco(gt, np_res, backend="numpy"), evaluate_coco(gt, plain, backend="numpy"))


@pytest.mark.parametrize("field, value, message", [
    ("image_id", 1.5, "Expected `int`"),
    ("image_id", "1", "Expected `int`"),
    ("image_id", True, "Expected `int`"),
    ("category_id", 2.0, "Expected `int`"),
    ("score", "0.5", "Expected `float`"),
    ("score", True, "Expected `float`"),
    ("score", None, "Expected `float`"),
    ("bbox", [0, 0, 1], "length 4"),
    ("bbox", [0, 0, 1, "2"], "Expected `float`"),
    ("bbox", {"x": 1}, "Expected `array`"),
    ("image_id", 2**63, "int"),
    ("score", 10**400, r"Number out of range - at `\$\[1\]\.score`"),  # was an OverflowError
])
def test_dict_fast_path_rejects_what_the_typed_path_rejects(field, value, message):
    gt, res = make_coco_dataset(0, n_images=5)
    res = copy.deepcopy(res)
    res[1][field] = value
    assert _result_dict_columns(res) is None
    with pytest.raises(ValueError, match=message):
        load_results(res, load_ground_truth(gt))


def test_numpy_scalars_do_not_hide_the_real_error():
    """A list with NumPy ids goes to the plain converter; its error names the entry that is wrong,
    not msgspec's complaint about the NumPy scalar it stopped at first."""
    gt, res = make_coco_dataset(0, n_images=5)
    res = [dict(r, image_id=np.int64(r["image_id"])) for r in res]
    res[2]["bbox"] = [0, 0, 1, 10**400]
    with pytest.raises(ValueError, match=r"Number out of range - at `\$\[2\]\.bbox\[3\]`"):
        load_results(res, load_ground_truth(gt))


def test_dict_fast_path_missing_field_and_unknown_image():
    gt, res = make_coco_dataset(0, n_images=5)
    missing = copy.deepcopy(res)
    del missing[2]["score"]
    with pytest.raises(ValueError, match="score"):
        load_results(missing, load_ground_truth(gt))
    unknown = copy.deepcopy(res)
    unknown[2]["image_id"] = 10**9
    with pytest.raises(ValueError, match=r"\[2\]\.image_id 1000000000 is not an image"):
        load_results(unknown, load_ground_truth(gt))
    nan = copy.deepcopy(res)
    nan[2]["score"] = float("nan")
    with pytest.raises(ValueError, match=r"\[2\]\.score must be finite"):
        load_results(nan, load_ground_truth(gt))


def test_dict_fast_path_matches_pycocotools():
    gt, res = make_coco_dataset(4)
    stats = run_pycocotools(*copy.deepcopy((gt, res)))[0]
    np.testing.assert_allclose(evaluate_coco(gt, res).stats, stats, rtol=0, atol=1e-12)


# ------------------------------------------------------------------ the compiled pass over the dicts

_INTS = st.one_of(st.integers(-5, 10**6), st.integers(-(2**63), 2**63 - 1))
_FLOATS = st.one_of(st.floats(allow_nan=True, allow_infinity=True), st.sampled_from([-0.0, 0.0, 1e308, 5e-324]),
                    st.integers(-(2**63), 2**63 - 1))
#: values the kernel hands to the reference (NumPy scalars) or that nobody reads (the rest)
_ODD = st.sampled_from([True, False, None, "1", 1.5, np.int64(3), np.int32(-2), np.uint64(2**64 - 1), np.uint8(7),
                        np.float32(0.1), np.float64(0.25), np.float16(0.5), np.int64(-(2**62)), np.float32(np.nan),
                        np.float64(-0.0), np.longlong(5), np.bool_(True), [1], 10**400, 2**63, -(2**63) - 1])


def _vary(draw, entry: dict) -> None:
    """A plain entry's other spellings: the bbox a tuple, a ``segmentation`` next to it (ignored)."""
    if draw(st.booleans()):
        entry["bbox"] = tuple(entry["bbox"])
    if draw(st.integers(0, 9)) == 0:
        entry["segmentation"] = [[0, 0, 1, 1]]


@st.composite
def result_dicts(draw):
    """Lists of COCO result dicts: plain ones (what the kernel reads), and about one in five changed in one
    place: a value only the reference reads (a NumPy scalar, a dict subclass, a bbox array) or one nobody
    does (a bool, a string, an id beyond int64, a missing key, a bbox of 3)."""
    items = []
    for _ in range(draw(st.integers(0, 12))):
        entry = {"image_id": draw(_INTS), "category_id": draw(_INTS), "score": draw(_FLOATS),
                 "bbox": [draw(_FLOATS) for _ in range(4)]}
        _vary(draw, entry)
        if draw(st.integers(0, 4)) == 0:
            change = draw(st.sampled_from(["image_id", "category_id", "score", "bbox", "coordinate", "missing",
                                           "length", "array", "mapping"]))
            if change in ("image_id", "category_id", "score"):
                entry[change] = draw(_ODD)
            elif change == "coordinate":
                entry["bbox"] = list(entry["bbox"])
                entry["bbox"][draw(st.integers(0, 3))] = draw(_ODD)
            elif change == "missing":
                del entry[draw(st.sampled_from(sorted(entry)))]
            elif change == "length":
                entry["bbox"] = list(entry["bbox"])[:draw(st.sampled_from([0, 3]))] + [1.0] * draw(st.integers(0, 1))
            elif change == "array":
                entry["bbox"] = np.array(entry["bbox"], dtype=object)
            else:
                entry = OrderedDict(entry)
        items.append(entry)
    return items


def _bits(out):
    """Columns as comparable arrays, floats by their bits (a -0.0 is not a 0.0, a NaN is its payload)."""
    if out is None:
        return (np.array([-1]),)
    image_id, category, score, boxes = out
    return image_id, category, score.view(np.int64), boxes.view(np.int64)


def dict_columns_run(args, backend):
    """The pair runner of ``_result_dict_columns_kernel``: ``result_dict_columns`` on either backend."""
    from detmetrics.io._dict_columns import result_dict_columns

    return _bits(result_dict_columns(args, backend))


def test_dict_kernel_layout_holds_here():
    """The kernel is used where the interpreter lays objects out as it reads them: this one does, so the
    pair test below compares the kernel and not the reference with itself."""
    from detmetrics.io._dict_columns import _layout_ok

    if sys.implementation.name != "cpython":
        pytest.skip("the compiled dict pass reads CPython objects only")
    assert _layout_ok()


@requires_numba
def test_dict_kernel_reads_plain_results_whole_and_hands_over_the_rest():
    from detmetrics.io._dict_columns import _KEYS, _result_dict_columns_kernel, _type_ids, result_dict_columns

    _, res = make_coco_dataset(1)
    n = len(res)
    out = [np.empty(n, np.int64), np.empty(n, np.int64), np.empty(n), np.empty((n, 4))]
    keys = np.array([id(k) for k in _KEYS], dtype=np.int64)
    types = _type_ids()
    assert types[5:].all()  # NumPy's scalars are read here too (their layout holds)
    assert _result_dict_columns_kernel(id(res), 0, n, keys, types, *out) == n
    assert np.array_equal(out[0], [r["image_id"] for r in res])
    assert np.array_equal(out[3], [r["bbox"] for r in res])
    # NumPy scalars of the four types the kernel reads: read whole, the same numbers as the reference
    scalars = [{"image_id": np.int64(r["image_id"]), "category_id": np.int32(r["category_id"]),
                "score": np.float32(r["score"]), "bbox": [np.float64(r["bbox"][0]), np.float32(r["bbox"][1]),
                                                         np.int64(round(r["bbox"][2])), np.int32(round(r["bbox"][3]))]}
               for r in res]
    assert _result_dict_columns_kernel(id(scalars), 0, n, keys, types, *out) == n
    for a, b in zip(_bits(result_dict_columns(scalars, "numba")), _bits(result_dict_columns(scalars, "numpy"))):
        assert np.array_equal(a, b)
    mixed = copy.deepcopy(res)
    mixed[n // 2]["score"] = np.float16(mixed[n // 2]["score"])  # not read by the kernel: the reference from there
    assert _result_dict_columns_kernel(id(mixed), 0, n, keys, types, *out) == n // 2
    for a, b in zip(_bits(result_dict_columns(mixed, "numba")), _bits(result_dict_columns(mixed, "numpy"))):
        assert np.array_equal(a, b)
    # a slice of the list: entry start + i into row i, the count read from start
    part = [np.empty(n - 3, np.int64), np.empty(n - 3, np.int64), np.empty(n - 3), np.empty((n - 3, 4))]
    assert _result_dict_columns_kernel(id(res), 2, n - 1, keys, types, *part) == n - 3
    for a, b in zip(part, result_dict_columns(res[2:n - 1], "numpy")):
        assert np.array_equal(a, b)
    assert _result_dict_columns_kernel(id(mixed), n // 2 - 1, n, keys, types, *out) == 1


@requires_numba
def test_dict_kernel_leaves_reference_counts_alone():
    from detmetrics.io._dict_columns import result_dict_columns

    _, res = make_coco_dataset(2, n_images=20)
    watched = [res, res[0], res[0]["bbox"], res[0]["bbox"][0], res[-1], res[-1]["score"]]
    before = [sys.getrefcount(o) for o in watched]
    for _ in range(3):
        assert result_dict_columns(res, "numba") is not None
    res[-1]["score"] = "bad"
    assert result_dict_columns(res, "numba") is None
    res[-1]["score"] = watched[-1]
    gc.collect()
    assert [sys.getrefcount(o) for o in watched] == before


class _Collider:
    """A key whose hash is the hash of ``"score"`` and whose ``__eq__`` empties the results list."""

    def __init__(self, victim):
        self.victim = victim
        self.armed = False

    def __hash__(self):
        return hash("score")

    def __eq__(self, other):
        if self.armed:
            self.victim.clear()
        return False


@requires_numba
def test_dict_kernel_survives_a_key_that_mutates_the_list():
    """A lookup may run Python code (``__eq__`` of a colliding key): the kernel holds the dict and checks
    the list's length, so emptying the list under it ends the pass instead of crashing."""
    from detmetrics.io._dict_columns import result_dict_columns

    items = [{"image_id": 1, "category_id": 1, "score": 0.5, "bbox": [0, 0, 1, 1]} for _ in range(50)]
    odd = {"image_id": 1, "category_id": 1, "bbox": [0, 0, 1, 1]}
    collider = _Collider(items)
    odd[collider] = 0
    odd["score"] = 0.5
    items.insert(3, odd)
    collider.armed = True
    assert result_dict_columns(items, "numba") is None  # the typed path then reads what is left
    assert items == []


@requires_numba
def test_dict_kernel_from_threads():
    """The kernel takes the GIL it reads Python objects under: threads calling it at once agree."""
    from detmetrics.io._dict_columns import result_dict_columns

    _, res = make_coco_dataset(3)
    expected = _bits(result_dict_columns(res, "numpy"))
    results: list = []

    def work():
        for _ in range(5):
            results.append(_bits(result_dict_columns(res, "numba")))

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(results) == 20
    for got in results:
        assert all(np.array_equal(a, b) for a, b in zip(got, expected))


@requires_numba
@settings(deadline=None, max_examples=150)
@given(result_dicts())
def test_dict_kernel_equals_reference_and_typed_path(items):
    """Beyond the pair test: whenever both give None, the typed decoder rejects the list too."""
    from detmetrics.io._coco_decode import _check_id_types, _decode, _ResultIntId
    from detmetrics.io._dict_columns import result_dict_columns

    fast = result_dict_columns(items, "numba")
    for a, b in zip(_bits(fast), _bits(result_dict_columns(items, "numpy"))):
        assert a.dtype == b.dtype and np.array_equal(a, b)
    if fast is None:  # load_results' typed path for a list: the decode, then the id types
        with pytest.raises(ValueError):
            _check_id_types(_decode(items, list[_ResultIntId], "results"), True, "results", "$[{}].image_id")


# ------------------------------------------------------------------ evaluate_columns


def _columns(gt, res):
    """COCO JSON form -> (detection columns, ground-truth columns) as flat arrays (xywh)."""
    dets = {"image_id": np.array([r["image_id"] for r in res], dtype=np.int64),
            "bbox": np.array([r["bbox"] for r in res], dtype=np.float64).reshape(-1, 4),
            "score": np.array([r["score"] for r in res], dtype=np.float64),
            "category_id": np.array([r["category_id"] for r in res], dtype=np.int64)}
    anns = gt["annotations"]
    gts = {"image_id": np.array([a["image_id"] for a in anns], dtype=np.int64),
           "bbox": np.array([a["bbox"] for a in anns], dtype=np.float64).reshape(-1, 4),
           "category_id": np.array([a["category_id"] for a in anns], dtype=np.int64),
           "iscrowd": np.array([int(a.get("iscrowd", 0)) for a in anns]),
           "area": np.array([a["area"] for a in anns], dtype=np.float64)}
    return dets, gts


def _coco_kwargs(gt):
    return dict(image_ids=[im["id"] for im in gt["images"]], category_ids=[c["id"] for c in gt["categories"]])


@pytest.mark.parametrize("seed", [0, 1, 5])
@pytest.mark.parametrize("backend", ["numba", "numpy"])
def test_evaluate_columns_equals_evaluate_coco(seed, backend):
    from detmetrics import evaluate_columns

    gt, res = make_coco_dataset(seed)
    if any(a["id"] == 0 for a in gt["annotations"]):  # columns carry no annotation id
        for a in gt["annotations"]:
            a["id"] += 1
    dets, gts = _columns(gt, res)
    _same(evaluate_columns(dets, gts, backend=backend, **_coco_kwargs(gt)), evaluate_coco(gt, res, backend=backend))


def test_evaluate_columns_matches_pycocotools():
    from detmetrics import evaluate_columns

    gt, res = make_coco_dataset(7)
    for a in gt["annotations"]:
        a["id"] += 1
    stats = run_pycocotools(*copy.deepcopy((gt, res)))[0]
    dets, gts = _columns(gt, res)
    np.testing.assert_allclose(evaluate_columns(dets, gts, **_coco_kwargs(gt)).stats, stats, rtol=0, atol=1e-12)


def test_evaluate_columns_xyxy_equals_mean_ap():
    from detmetrics import evaluate_columns, mean_ap

    from coco_generator import to_mean_ap

    gt, res = make_coco_dataset(2)
    for a in gt["annotations"]:
        a["id"] += 1
    preds, gts_list, ids = to_mean_ap(gt, res)
    dets = {"image_id": np.concatenate([np.full(len(p["scores"]), i) for p, i in zip(preds, ids)]),
            "boxes": np.concatenate([p["boxes"] for p in preds]), "scores": np.concatenate([p["scores"] for p in preds]),
            "labels": np.concatenate([p["labels"] for p in preds])}
    gts = {"image_id": np.concatenate([np.full(len(g["labels"]), i) for g, i in zip(gts_list, ids)]),
           "boxes": np.concatenate([g["boxes"] for g in gts_list]),
           "labels": np.concatenate([g["labels"] for g in gts_list]),
           "iscrowd": np.concatenate([g["iscrowd"] for g in gts_list]),
           "area": np.concatenate([g["area"] for g in gts_list])}
    # boxes given as xywh and named "boxes": the format must then be said
    _same(evaluate_columns(dets, gts, box_format="xywh"), mean_ap(preds, gts_list, box_format="xywh"))
    for table in (dets, gts):
        b = table["boxes"]
        table["boxes"] = np.concatenate([b[:, :2], b[:, :2] + b[:, 2:]], axis=1)
    _same(evaluate_columns(dets, gts), mean_ap([dict(p, boxes=np.concatenate(
        [p["boxes"][:, :2], p["boxes"][:, :2] + p["boxes"][:, 2:]], axis=1)) for p in preds], [dict(g, boxes=np.concatenate(
            [g["boxes"][:, :2], g["boxes"][:, :2] + g["boxes"][:, 2:]], axis=1)) for g in gts_list]))


def test_evaluate_columns_pandas_and_pyarrow():
    pd = pytest.importorskip("pandas")
    pa = pytest.importorskip("pyarrow")
    from detmetrics import evaluate_columns

    gt, res = make_coco_dataset(3)
    for a in gt["annotations"]:
        a["id"] += 1
    expected = evaluate_coco(gt, res)
    kw = _coco_kwargs(gt)
    frame_d = pd.DataFrame(res)  # COCO's columns, bbox a column of lists
    frame_g = pd.DataFrame(gt["annotations"])
    _same(evaluate_columns(frame_d, frame_g, **kw), expected)
    _same(evaluate_columns(pa.Table.from_pandas(frame_d), pa.Table.from_pandas(frame_g), **kw), expected)
    dets, gts = _columns(gt, res)
    fixed = {k: (pa.FixedSizeListArray.from_arrays(pa.array(v.reshape(-1)), 4) if v.ndim == 2 else pa.array(v))
             for k, v in dets.items()}
    _same(evaluate_columns(pa.table(fixed), pa.Table.from_pandas(frame_g), **kw), expected)


def test_evaluate_columns_string_ids_and_empty():
    from detmetrics import evaluate_columns

    gts = {"image_id": ["b", "a"], "boxes": [[0, 0, 10, 10], [0, 0, 5, 5]], "labels": [1, 1]}
    dets = {"image_id": ["a"], "boxes": [[0, 0, 5, 5]], "scores": [0.5], "labels": [1]}
    r = evaluate_columns(dets, gts)
    assert 0 < r.map < 1
    empty = {"image_id": np.zeros(0, np.int64), "boxes": np.zeros((0, 4)), "scores": np.zeros(0),
             "labels": np.zeros(0, np.int64)}
    assert evaluate_columns(empty, {"image_id": [1], "boxes": [[0, 0, 1, 1]], "labels": [1]}).map == 0.0


@pytest.mark.parametrize("change, message", [
    (lambda d, g: d.update(scores=[0.5, float("nan")]), r"scores.*\[1\] must be finite"),
    (lambda d, g: d.update(boxes=[[0, 0, 1, 1], [5, 5, 4, 4]]), "boxes"),
    (lambda d, g: d.update(labels=[1]), "labels has 1 rows but detections image_id has 2"),
    (lambda d, g: d.pop("scores"), "detections has no 'scores' or 'score' column"),
    (lambda d, g: d.update(image_id=[1, 7]), "row 1 has image_id 7, which is not in image_ids"),
    (lambda d, g: g.update(labels=[9]), "row 0 has label 9, which is not in category_ids"),
    (lambda d, g: d.update(labels=[1.5, 1]), "labels"),
])
def test_evaluate_columns_bad_input(change, message):
    from detmetrics import evaluate_columns

    dets = {"image_id": [1, 1], "boxes": [[0, 0, 1, 1], [2, 2, 3, 3]], "scores": [0.5, 0.4], "labels": [1, 1]}
    gts = {"image_id": [1], "boxes": [[0, 0, 1, 1]], "labels": [1]}
    change(dets, gts)
    with pytest.raises((ValueError, TypeError), match=message):
        evaluate_columns(dets, gts, image_ids=[1], category_ids=[1])


def test_evaluate_columns_ignores_detections_of_unlisted_categories():
    from detmetrics import evaluate_columns

    gts = {"image_id": [1], "boxes": [[0, 0, 10, 10]], "labels": [1]}
    dets = {"image_id": [1, 1], "boxes": [[0, 0, 10, 10], [0, 0, 10, 10]], "scores": [0.5, 0.9], "labels": [1, 2]}
    r = evaluate_columns(dets, gts, category_ids=[1])
    assert list(r.category_ids) == [1] and r.map > 0.99


# ------------------------------------------------------------------ the compiled pass over annotation dicts


@st.composite
def annotation_dicts(draw):
    """Lists of COCO annotation dicts: plain ones (area and id sometimes None or absent, iscrowd an int, a
    bool or absent), and about one in five changed in one place to a value the kernel does not read (the
    typed path does or names it: a string id, a NumPy scalar, a float iscrowd, a bbox of 3, a missing key)."""
    items = []
    for _ in range(draw(st.integers(0, 10))):
        entry = {"image_id": draw(_INTS), "category_id": draw(_INTS), "bbox": [draw(_FLOATS) for _ in range(4)]}
        for key, values in (("area", st.one_of(_FLOATS, st.none())), ("iscrowd", st.one_of(st.booleans(), _INTS)),
                            ("id", st.one_of(_INTS, st.none()))):
            if draw(st.booleans()):
                entry[key] = draw(values)
        _vary(draw, entry)
        if draw(st.integers(0, 4)) == 0:
            change = draw(st.sampled_from(["image_id", "category_id", "area", "iscrowd", "id", "coordinate",
                                           "missing", "length", "mapping"]))
            if change in ("image_id", "category_id", "area", "iscrowd", "id"):
                entry[change] = draw(_ODD)
            elif change == "coordinate":
                entry["bbox"] = list(entry["bbox"])
                entry["bbox"][draw(st.integers(0, 3))] = draw(_ODD)
            elif change == "missing":
                del entry[draw(st.sampled_from(["image_id", "category_id", "bbox"]))]
            elif change == "length":
                entry["bbox"] = list(entry["bbox"])[:3]
            else:
                entry = OrderedDict(entry)
        items.append(entry)
    return items


def annotation_columns_run(args, backend):
    """The pair runner of ``_annotation_dict_columns_kernel``: ``annotation_dict_columns`` on numba, its
    reference on NumPy (``annotation_dict_columns`` leaves NumPy to the typed path)."""
    from detmetrics.io._dict_columns import _annotation_dict_columns_reference, annotation_dict_columns

    out = annotation_dict_columns(args, "numba") if backend == "numba" else _annotation_dict_columns_reference(args)
    if out is None:
        return (np.array([-1]),)
    return tuple(c.view(np.int64) if c.dtype == np.float64 else c for c in out)  # floats by their bits


@requires_numba
def test_annotation_kernel_reads_plain_annotations_and_refuses_the_rest():
    from detmetrics.io._dict_columns import _annotation_dict_columns_reference, annotation_dict_columns

    gt, _ = make_coco_dataset(1)
    anns = copy.deepcopy(gt["annotations"])
    anns[0].pop("area", None)
    anns[1]["area"] = None
    anns[2]["iscrowd"] = True
    anns[3].pop("iscrowd", None)
    anns[4]["id"] = None
    got = annotation_dict_columns(anns, "numba")
    assert got is not None
    image_id, category, boxes, area, missing, iscrowd, ann_id, has_id = got
    assert missing[:2].tolist() == [True, True] and np.isnan(area[:2]).all() and not missing[2:].any()
    assert iscrowd[2] == 1 and iscrowd[3] == 0 and not has_id[4] and has_id[5:].all()
    assert np.array_equal(boxes, [a["bbox"] for a in anns]) and np.array_equal(image_id, [a["image_id"] for a in anns])
    for change in ({"image_id": "7"}, {"iscrowd": 1.0}, {"id": "a"}, {"area": np.float32(2)}, {"bbox": [1, 2, 3]}):
        odd = copy.deepcopy(anns)
        odd[-1].update(change)
        assert annotation_dict_columns(odd, "numba") is None, change
        assert _annotation_dict_columns_reference(odd) is None, change
    assert annotation_dict_columns(anns, "numpy") is None  # the typed path reads them there


def _typed_ground_truth(gt, backend):
    """``load_ground_truth`` through the typed structs only (the compiled annotation pass turned off)."""
    from unittest import mock

    from detmetrics.io import _coco_decode

    with mock.patch.object(_coco_decode, "_ground_truth_dict_columns", lambda *args: None):
        return load_ground_truth(gt, "bbox", backend)


def _assert_same_ground_truth(a, b):
    import dataclasses

    for field in dataclasses.fields(a):
        x, y = getattr(a, field.name), getattr(b, field.name)
        if isinstance(x, np.ndarray):
            assert x.dtype == y.dtype and x.shape == y.shape, field.name
            assert np.array_equal(x.view(np.int64) if x.dtype == np.float64 else x,
                                  y.view(np.int64) if y.dtype == np.float64 else y), field.name
        else:
            assert x == y and type(x) is type(y), field.name


@requires_numba
@settings(deadline=None, max_examples=40)
@given(coco_datasets(min_images=1, max_images=6, max_gt_per_image=6), st.integers(0, 6))
def test_annotation_pass_gives_the_typed_ground_truth(data, variant):
    """A loaded ground truth read by the compiled annotation pass is the typed path's, field by field
    (areas and ids absent or None, iscrowd a bool, an id 0; and, where the pass refuses, the typed
    path's columns or its error)."""
    gt, _ = data
    gt = copy.deepcopy(gt)
    anns = gt["annotations"]
    if anns:
        first = anns[0]
        if variant == 1:
            first.pop("area", None)
        elif variant == 2:
            first["area"] = None
            first["iscrowd"] = True
        elif variant == 3:
            first["id"] = 0
        elif variant == 4:
            first["id"] = None
            anns[-1].pop("id", None)
        elif variant == 5:
            first["image_id"] = np.int64(first["image_id"])  # the typed path reads NumPy scalars
        elif variant == 6 and len(anns) > 1:
            anns[-1]["id"] = first["id"]  # a duplicate id: the typed path's error
    try:
        expected = _typed_ground_truth(gt, "numba")
    except ValueError as err:
        with pytest.raises(ValueError) as got:
            load_ground_truth(gt, "bbox", "numba")
        assert str(got.value) == str(err)
        return
    _assert_same_ground_truth(load_ground_truth(gt, "bbox", "numba"), expected)
    if variant <= 4 and len(anns) >= 2:  # what was compared is the compiled pass
        from detmetrics.io._coco_decode import _ground_truth_dict_columns

        assert _ground_truth_dict_columns(gt, "numba") is not None


@requires_numba
@pytest.mark.parametrize("change", ["nan box", "negative height", "nan area", "unknown image", "unknown category",
                                    "duplicate id", "string image ids", "no images"])
def test_annotation_pass_leaves_every_error_to_the_typed_path(change):
    gt, _ = make_coco_dataset(2)
    gt = copy.deepcopy(gt)
    last = gt["annotations"][-1]
    if change == "nan box":
        last["bbox"] = [0.0, float("nan"), 1.0, 1.0]
    elif change == "negative height":
        last["bbox"] = [0.0, 0.0, 1.0, -1.0]
    elif change == "nan area":
        last["area"] = float("nan")
    elif change == "unknown image":
        last["image_id"] = 10**9
    elif change == "unknown category":
        last["category_id"] = 10**6
    elif change == "duplicate id":
        last["id"] = gt["annotations"][0]["id"]
    elif change == "string image ids":
        last["image_id"] = str(last["image_id"])
    else:
        del gt["images"]
    with pytest.raises(ValueError) as typed:
        _typed_ground_truth(gt, "numba")
    with pytest.raises(ValueError) as got:
        load_ground_truth(gt, "bbox", "numba")
    assert str(got.value) == str(typed.value)
