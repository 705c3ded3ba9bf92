"""detmetrics.keypoints.oks against pycocotools' COCOeval.computeOks, reference == kernel, bad input.

The oracle is driven the way COCOeval drives it: a COCO ground truth built in
memory, ``loadRes`` on keypoint results, ``params.kpt_oks_sigmas`` set, then
``computeOks(imgId, catId)`` -- which sorts detections by score and keeps
``maxDets[-1]``, so the detections handed to ``oks`` are sorted and cut alike.
"""

import contextlib
import io

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from numpy.testing import assert_array_equal
from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval

from detmetrics.keypoints import COCO_SIGMAS, _oks_blocks, _oks_fast, _oks_reference, oks

BACKENDS = ("numba", "numpy")


@st.composite
def pose_cases(draw, k_values=(1, 2, 5, 8, 9, 17, 33)):
    k = draw(st.sampled_from(k_values))
    sigmas = (
        None
        if k == 17 and draw(st.booleans())
        else draw(st.lists(st.sampled_from([0.025, 0.05, 0.079, 0.107, 0.5]), min_size=k, max_size=k))
    )
    coord = st.integers(0, 40).map(float)
    n_gt = draw(st.integers(0, 4))
    gts = []
    for _ in range(n_gt):
        hidden = draw(st.booleans())  # a ground truth without any labelled keypoint
        kp = [[draw(coord), draw(coord), 0 if hidden else draw(st.sampled_from([0, 1, 2]))] for _ in range(k)]
        x, y = draw(coord), draw(coord)
        box = [x, y, float(draw(st.integers(0, 20))), float(draw(st.integers(0, 20)))]
        area = float(draw(st.sampled_from([0, 1, 37, 400, 1e4])))
        gts.append((kp, box, area))
    n_dt = draw(st.integers(0, 6))
    dts = [
        (
            [[draw(coord) + draw(st.sampled_from([0, 0.5, -0.25])), draw(coord), 1.0] for _ in range(k)],
            draw(st.sampled_from([0.3, 0.6, 0.9])),
        )
        for _ in range(n_dt)
    ]
    return k, sigmas, gts, dts


def compute_oks_oracle(k, sigmas, gts, dts):
    """pycocotools on one image, one category; returns (matrix, detections in computeOks' order)."""
    gt = COCO()
    gt.dataset = {
        "images": [{"id": 1, "width": 100, "height": 100}],
        "categories": [{"id": 1, "name": "thing", "keypoints": [str(i) for i in range(k)], "skeleton": []}],
        "annotations": [
            {
                "id": i + 1,
                "image_id": 1,
                "category_id": 1,
                "keypoints": np.ravel(kp).tolist(),
                "bbox": box,
                "area": area,
                "iscrowd": 0,
                "num_keypoints": int(sum(p[2] > 0 for p in kp)),
            }
            for i, (kp, box, area) in enumerate(gts)
        ],
    }
    with contextlib.redirect_stdout(io.StringIO()):
        gt.createIndex()
        results = [{"image_id": 1, "category_id": 1, "keypoints": np.ravel(kp).tolist(), "score": s} for kp, s in dts]
        dt = gt.loadRes(results) if results else COCO()
        if not results:
            dt.dataset = {"images": gt.dataset["images"], "categories": gt.dataset["categories"], "annotations": []}
            dt.createIndex()
        ev = COCOeval(gt, dt, "keypoints")
    ev.params.kpt_oks_sigmas = np.array(COCO_SIGMAS if sigmas is None else sigmas, dtype=np.float64)
    ev.params.imgIds = [1]
    ev._prepare()
    return ev.computeOks(1, 1), ev.params.maxDets[-1]


def sorted_dts(dts, max_dets):
    order = np.argsort([-s for _, s in dts], kind="stable")[:max_dets]
    return [dts[i][0] for i in order]


@pytest.mark.parametrize("backend", BACKENDS)
@given(pose_cases())
def test_oks_equals_compute_oks(backend, case):
    k, sigmas, gts, dts = case
    ref, max_dets = compute_oks_oracle(k, sigmas, gts, dts)
    dt_kp = np.array(sorted_dts(dts, max_dets), dtype=np.float64).reshape(-1, k, 3)
    gt_kp = np.array([g[0] for g in gts], dtype=np.float64).reshape(-1, k, 3)
    out = oks(
        dt_kp, gt_kp, [g[2] for g in gts], np.array([g[1] for g in gts]).reshape(-1, 4), sigmas=sigmas, backend=backend
    )
    assert out.shape == (dt_kp.shape[0], gt_kp.shape[0]) and out.dtype == np.float64
    if len(gts) and len(dts):
        assert_array_equal(out, ref)  # bit for bit
    else:
        assert ref == []


@given(pose_cases(k_values=(1, 3, 8, 16, 17, 129, 300)))
@settings(max_examples=30)
def test_reference_equals_kernel(case):
    k, sigmas, gts, dts = case
    s = np.array(COCO_SIGMAS if sigmas is None else sigmas, dtype=np.float64)
    d = np.array([kp for kp, _ in dts], dtype=np.float64).reshape(-1, k, 3)
    g = np.array([x[0] for x in gts], dtype=np.float64).reshape(-1, k, 3)
    areas = np.array([x[2] for x in gts], dtype=np.float64)
    boxes = np.array([x[1] for x in gts], dtype=np.float64).reshape(-1, 4)
    assert_array_equal(_oks_fast(d, g, areas, boxes, s), _oks_reference(d, g, areas, boxes, s))


@pytest.mark.parametrize("backend", BACKENDS)
@given(st.lists(pose_cases(k_values=(5,)).filter(lambda c: c[1] is not None), min_size=1, max_size=4))
def test_oks_blocks_equal_per_group_oks(backend, groups):
    sig = np.array([0.025, 0.05, 0.079, 0.107, 0.5])
    d_parts, g_parts, a_parts, b_parts, d_n, g_n = [], [], [], [], [], []
    for _, _, gts, dts in groups:
        d_parts.append(np.array([kp for kp, _ in dts], dtype=np.float64).reshape(-1, 5, 3))
        g_parts.append(np.array([x[0] for x in gts], dtype=np.float64).reshape(-1, 5, 3))
        a_parts.append(np.array([x[2] for x in gts], dtype=np.float64))
        b_parts.append(np.array([x[1] for x in gts], dtype=np.float64).reshape(-1, 4))
        d_n.append(len(dts))
        g_n.append(len(gts))
    det_offsets = np.concatenate([[0], np.cumsum(d_n)]).astype(np.int64)
    gt_offsets = np.concatenate([[0], np.cumsum(g_n)]).astype(np.int64)
    flat, offsets = _oks_blocks(
        np.concatenate(d_parts),
        np.concatenate(g_parts),
        np.concatenate(a_parts),
        np.concatenate(b_parts),
        sig,
        det_offsets,
        gt_offsets,
        backend,
    )
    for i in range(len(groups)):
        block = flat[offsets[i] : offsets[i + 1]].reshape(d_n[i], g_n[i])
        assert_array_equal(block, oks(d_parts[i], g_parts[i], a_parts[i], b_parts[i], sigmas=sig, backend="numpy"))


@pytest.mark.parametrize("backend", BACKENDS)
def test_input_forms_agree(backend):
    rng = np.random.default_rng(3)
    g = np.concatenate([rng.integers(0, 50, (3, 4, 2)), rng.integers(0, 3, (3, 4, 1))], axis=2).astype(float)
    g[0, :, 2] = 0  # no labelled keypoint
    d = rng.integers(0, 50, (5, 4, 3)).astype(float)
    xywh = np.array([[1.0, 2.0, 10.0, 20.0], [0.0, 0.0, 0.0, 0.0], [5.0, 5.0, 8.0, 4.0]])
    xyxy = xywh.copy()
    xyxy[:, 2:] += xyxy[:, :2]
    sig = [0.1, 0.2, 0.3, 0.4]
    ref = oks(d, g, [50.0, 0.0, 900.0], xywh, sigmas=sig, backend=backend)
    assert_array_equal(
        oks(d.reshape(5, 12), g.reshape(3, 12), [50.0, 0.0, 900.0], xywh, sigmas=sig, backend=backend), ref
    )
    assert_array_equal(
        oks(d[:, :, :2], g, [50.0, 0.0, 900.0], xyxy, sigmas=sig, box_format="xyxy", backend=backend), ref
    )
    assert oks(d, g[:0], [], np.zeros((0, 4)), sigmas=sig, backend=backend).shape == (5, 0)
    assert oks([], g, [50.0, 0.0, 900.0], xywh, sigmas=sig, backend=backend).shape == (0, 3)
    assert np.all(oks(g, g, [50.0, 1.0, 900.0], xywh, sigmas=sig, backend=backend).diagonal()[1:] == 1.0)


KP = np.zeros((1, 17, 3))
KP4 = np.ones((2, 4, 3))
BOX = [[0.0, 0.0, 1.0, 1.0]]
BAD = [
    (lambda: oks(KP4, KP4[:1], [1.0], BOX), ValueError, r"sigmas=None means COCO's 17 .* K=4"),
    (lambda: oks(KP4, KP4[:1], [1.0], BOX, sigmas=[0.1, 0.1]), ValueError, r"sigmas has 2 values but .* K=4"),
    (lambda: oks(KP4, KP4[:1], [1.0], BOX, sigmas=[0.1, 0.1, 0.0, 0.1]), ValueError, r"sigmas must be finite and > 0"),
    (lambda: oks(np.ones((2, 5, 3)), KP4[:1], [1.0], BOX, sigmas=[0.1] * 4), ValueError, r"has 5 keypoints .* has 4"),
    (lambda: oks(KP, KP[:, :, :2], [1.0], BOX), ValueError, r"gt_keypoints must have shape \(N, K, 3\)"),
    (lambda: oks(np.ones((1, 17, 4)), KP, [1.0], BOX), ValueError, r"dt_keypoints must have shape"),
    (lambda: oks(np.ones((1, 10)), KP, [1.0], BOX), ValueError, r"dt_keypoints must have shape"),
    (lambda: oks(KP, KP, [1.0, 2.0], BOX), ValueError, r"gt_areas has length 2 but gt_keypoints has 1"),
    (lambda: oks(KP, KP, [-1.0], BOX), ValueError, r"gt_areas must be finite and >= 0"),
    (lambda: oks(KP, KP, [1.0], BOX * 2), ValueError, r"gt_boxes has 2 rows but gt_keypoints has 1"),
    (lambda: oks(KP, KP, [1.0], [[0.0, 0.0, -1.0, 1.0]]), ValueError, r"gt_boxes has a negative width"),
    (lambda: oks(KP, KP, [1.0], BOX, box_format="ltrb"), ValueError, r"box_format must be one of"),
    (lambda: oks(np.full((1, 17, 3), np.nan), KP, [1.0], BOX), ValueError, r"dt_keypoints contains NaN"),
    (lambda: oks("kp", KP, [1.0], BOX), TypeError, r"dt_keypoints must be an array-like"),
    (lambda: oks(KP, KP, [1.0], BOX, backend="cuda"), ValueError, r"backend must be one of"),
]


@pytest.mark.parametrize("call, exc, match", BAD)
def test_bad_input(call, exc, match):
    with pytest.raises(exc, match=match):
        call()
