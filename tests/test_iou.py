"""box_iou, generalized_box_iou, distance_box_iou, complete_box_iou.

reference == kernel on hypothesis input; shapely as the IoU oracle; a scalar,
pair-by-pair transcription of torchvision's GIoU / DIoU / CIoU formulas as the
oracle for the variants; degenerate cases; one bad-input table.
"""

import math

import numpy as np
import pytest
import shapely
from hypothesis import example, given
from hypothesis import strategies as st
from numpy.testing import assert_allclose, assert_array_equal

from detmetrics import box_iou, complete_box_iou, convert_boxes, distance_box_iou, generalized_box_iou
from detmetrics.iou import (
    _CIOU,
    _DIOU,
    _GIOU,
    _aspect_angle,
    _box_iou_kernel,
    _box_iou_reference,
    _box_iou_variant_kernel,
    _box_iou_variant_reference,
)
from detmetrics.strategies import box_pairs

from _support import ArrayLike

FORMATS = ("xyxy", "xywh", "cxcywh")
BACKENDS = ("numba", "numpy")
VARIANTS = {"giou": generalized_box_iou, "diou": distance_box_iou, "ciou": complete_box_iou}
CIOU_SCALE = 4.0 / math.pi**2


def _xyxy(b, box_format):
    return convert_boxes(b, box_format, "xyxy")


# ---------------------------------------------------------------------------
# reference == kernel
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("box_format", FORMATS)
@given(data=st.data())
def test_box_iou_backends_agree_exactly(box_format, data):
    b1, b2 = data.draw(box_pairs(box_format=box_format))
    fast = box_iou(b1, b2, box_format=box_format, backend="numba")
    slow = box_iou(b1, b2, box_format=box_format, backend="numpy")
    assert fast.dtype == slow.dtype == np.float64
    assert fast.shape == slow.shape == (len(b1), len(b2))
    assert_array_equal(fast, slow)
    # the formats describe the same boxes: same IoU as in xyxy (grid data converts exactly)
    assert_array_equal(slow, box_iou(_xyxy(b1, box_format), _xyxy(b2, box_format), backend="numpy"))


@given(box_pairs(grid=3, max_side=2))
@example((np.array([[0.0, 0.0, 0.0, 0.0]]), np.array([[0.0, 0.0, 0.0, 0.0]])))
def test_private_pair_agrees(pair):
    b1, b2 = pair
    out = np.empty((len(b1), len(b2)))
    _box_iou_kernel(b1, b2, out)
    assert_array_equal(out, _box_iou_reference(b1, b2))


@pytest.mark.parametrize("name", VARIANTS)
@pytest.mark.parametrize("box_format", FORMATS)
@given(data=st.data(), eps=st.sampled_from([0.0, 1e-7, 0.5]))
def test_variants_backends_agree(name, box_format, data, eps):
    b1, b2 = data.draw(box_pairs(box_format=box_format, max_size=12))
    kwargs = {} if name == "giou" else {"eps": eps}
    fn = VARIANTS[name]
    fast = fn(b1, b2, box_format=box_format, backend="numba", **kwargs)
    slow = fn(b1, b2, box_format=box_format, backend="numpy", **kwargs)
    assert fast.shape == slow.shape == (len(b1), len(b2)) and fast.dtype == np.float64
    assert np.isfinite(fast).all()
    assert_allclose(fast, slow, rtol=0, atol=1e-9)


def test_variant_private_pair_on_degenerate_boxes():
    # points, lines, identical boxes: every guarded division is exercised
    b = np.array([[0, 0, 0, 0], [0, 0, 2, 0], [0, 0, 0, 2], [0, 0, 2, 2], [1, 1, 1, 1]], dtype=np.float64)
    a = _aspect_angle(b)
    assert a.tolist() == [0.0, math.pi / 2, 0.0, math.pi / 4, 0.0]
    for variant in (_GIOU, _DIOU, _CIOU):
        for eps in (0.0, 1e-7):
            out = np.empty((5, 5))
            _box_iou_variant_kernel(b, b, variant, eps, a, a, CIOU_SCALE, out)
            ref = _box_iou_variant_reference(b, b, variant, eps, a, a, CIOU_SCALE)
            assert np.isfinite(ref).all()
            assert_allclose(out, ref, rtol=0, atol=1e-9)


# ---------------------------------------------------------------------------
# oracles
# ---------------------------------------------------------------------------


def _shapely_iou(b1, b2):
    p1 = shapely.box(b1[:, 0], b1[:, 1], b1[:, 2], b1[:, 3])
    p2 = shapely.box(b2[:, 0], b2[:, 1], b2[:, 2], b2[:, 3])
    inter = shapely.area(shapely.intersection(p1[:, None], p2[None, :]))
    union = shapely.area(shapely.union(p1[:, None], p2[None, :]))
    return np.divide(inter, union, out=np.zeros_like(inter), where=union > 0)


@pytest.mark.parametrize("backend", BACKENDS)
@given(box_pairs(max_size=12))
def test_box_iou_equals_shapely(backend, pair):
    b1, b2 = pair
    assert_allclose(box_iou(b1, b2, backend=backend), _shapely_iou(b1, b2), rtol=0, atol=1e-9)


@given(box_pairs(max_size=6, box_format="xywh", grid=1000, max_side=400))
def test_box_iou_equals_shapely_large_coordinates(pair):
    b1, b2 = (_xyxy(b, "xywh") + 0.25 for b in pair)
    assert_allclose(box_iou(b1, b2), _shapely_iou(b1, b2), rtol=0, atol=1e-9)


def _torchvision_pair(a, b, kind, eps):
    """One pair, transcribed from torchvision.ops' box_iou / GIoU / DIoU / CIoU formulas.

    Degenerate denominators follow detmetrics' documented rule (the term is 0;
    torchvision gives NaN there).  ``atan2(w, h)`` is ``atan(w / h)`` extended to ``h == 0``.
    """
    ax1, ay1, ax2, ay2 = a
    bx1, by1, bx2, by2 = b
    inter = max(0.0, min(ax2, bx2) - max(ax1, bx1)) * max(0.0, min(ay2, by2) - max(ay1, by1))
    union = (ax2 - ax1) * (ay2 - ay1) + (bx2 - bx1) * (by2 - by1) - inter
    iou = inter / union if union > 0 else 0.0
    cw = max(ax2, bx2) - min(ax1, bx1)
    ch = max(ay2, by2) - min(ay1, by1)
    if kind == "iou":
        return iou
    if kind == "giou":
        c_area = cw * ch
        return iou - (c_area - union) / c_area if c_area > 0 else iou
    diag = cw**2 + ch**2 + eps
    centre = ((ax1 + ax2) / 2 - (bx1 + bx2) / 2) ** 2 + ((ay1 + ay2) / 2 - (by1 + by2) / 2) ** 2
    diou = iou - centre / diag if diag > 0 else iou
    if kind == "diou":
        return diou
    v = (4 / math.pi**2) * (math.atan2(ax2 - ax1, ay2 - ay1) - math.atan2(bx2 - bx1, by2 - by1)) ** 2
    denom = 1 - iou + v + eps
    alpha = v / denom if denom > 0 else 0.0
    return diou - alpha * v


@pytest.mark.parametrize("kind", ["iou", "giou", "diou", "ciou"])
@pytest.mark.parametrize("eps", [0.0, 1e-7])
@given(pair=box_pairs(max_size=8))
def test_equals_torchvision_formulas(kind, eps, pair):
    b1, b2 = pair
    expected = np.array([[_torchvision_pair(a, b, kind, eps) for b in b2] for a in b1]).reshape(len(b1), len(b2))
    if kind == "iou":
        got = box_iou(b1, b2)
    elif kind == "giou":
        got = generalized_box_iou(b1, b2)
    else:
        got = VARIANTS[kind](b1, b2, eps=eps)
    assert_allclose(got, expected, rtol=0, atol=1e-9)


def test_hand_values():
    a = [[0, 0, 2, 2]]
    # inter 2, union 6 -> 1/3; touching -> 0; contained [0,0,2,1] -> 1/2
    assert box_iou(a, [[1, 0, 3, 2], [2, 0, 4, 2], [0, 0, 2, 1]]).tolist() == [[1 / 3, 0.0, 0.5]]
    # GIoU, disjoint [4,0,6,2]: iou 0, enclosing 6*2 = 12, union 8 -> -(12 - 8)/12 = -1/3
    assert generalized_box_iou(a, [[4, 0, 6, 2]]).tolist() == [[-(12 - 8) / 12]]
    # DIoU eps=0, [2,0,4,2]: iou 0, centre distance^2 = 4, diagonal^2 = 4^2 + 2^2 = 20 -> -0.2
    assert distance_box_iou(a, [[2, 0, 4, 2]], eps=0).tolist() == [[-4 / 20]]
    # CIoU eps=0, [0,0,4,2] (contains a): iou 4/8 = 0.5, centres (1,1) vs (2,1): d^2 = 1,
    # diagonal^2 = 16 + 4 = 20; v = 4/pi^2 (atan(1) - atan(2))^2, alpha = v / (0.5 + v)
    v = 4 / math.pi**2 * (math.atan(1.0) - math.atan(2.0)) ** 2
    expected = 0.5 - 1 / 20 - v / (0.5 + v) * v
    assert_allclose(complete_box_iou(a, [[0, 0, 4, 2]], eps=0), [[expected]], rtol=0, atol=1e-15)


@pytest.mark.parametrize("backend", BACKENDS)
def test_degenerate_boxes_are_zero_not_nan(backend):
    point = [[1, 1, 1, 1]]
    line = [[0, 1, 3, 1]]
    box = [[0, 0, 2, 2]]
    # IoU of two zero-area boxes is 0 (union 0); a point inside a box: inter 0 -> 0
    assert box_iou(point, point, backend=backend).tolist() == [[0.0]]
    assert box_iou(line, line + point, backend=backend).tolist() == [[0.0, 0.0]]
    assert box_iou(point, box, backend=backend).tolist() == [[0.0]]
    # GIoU with zero enclosing area: penalty 0 -> IoU (0)
    assert generalized_box_iou(point, point, backend=backend).tolist() == [[0.0]]
    assert generalized_box_iou(line, line, backend=backend).tolist() == [[0.0]]
    # DIoU / CIoU with eps=0 of a point with itself: diagonal 0 -> distance term 0
    assert distance_box_iou(point, point, eps=0, backend=backend).tolist() == [[0.0]]
    assert complete_box_iou(point, point, eps=0, backend=backend).tolist() == [[0.0]]
    for fn in VARIANTS.values():
        assert np.isfinite(fn(point + line + box, point + line + box, backend=backend)).all()


# ---------------------------------------------------------------------------
# shapes, dtypes, array-likes
# ---------------------------------------------------------------------------

ALL = [box_iou, generalized_box_iou, distance_box_iou, complete_box_iou]




@pytest.mark.parametrize("fn", ALL)
@pytest.mark.parametrize("backend", BACKENDS)
def test_empty_inputs(fn, backend):
    one = [[0, 0, 1, 1]]
    assert fn([], one, backend=backend).shape == (0, 1)
    assert fn(one, np.empty((0, 4)), backend=backend).shape == (1, 0)
    out = fn(np.empty((0, 4), dtype=np.float32), [], backend=backend, box_format="cxcywh")
    assert out.shape == (0, 0) and out.dtype == np.float64


@pytest.mark.parametrize("fn", ALL)
@pytest.mark.parametrize("backend", BACKENDS)
def test_dtypes_and_array_likes(fn, backend):
    b = [[0, 0, 2, 2], [1, 0, 3, 2]]
    expected = fn(np.array(b, dtype=np.float64), np.array(b, dtype=np.float64), backend=backend)
    for x in (np.array(b, dtype=np.float32), np.array(b, dtype=np.int16), ArrayLike(b), ArrayLike(np.array(b, np.float32))):
        got = fn(x, x, backend=backend)
        assert got.dtype == np.float64
        assert_array_equal(got, expected)


BAD = []
for _fn in ALL:
    _n = _fn.__name__
    BAD += [
        (lambda f=_fn: f([[0, 0, 1]], [[0, 0, 1, 1]]), ValueError, r"boxes1 must have shape \(N, 4\) for box_format='xyxy'; got shape \(1, 3\)"),
        (lambda f=_fn: f([[0, 0, 1, 1]], [0, 0, 1, 1]), ValueError, r"boxes2 must have shape \(N, 4\).*\(4,\)"),
        (lambda f=_fn: f([[0, 0, 1, 1]], [[0, 0, np.nan, 1]]), ValueError, "boxes2 contains NaN or infinite values"),
        (lambda f=_fn: f([[0, 0, np.inf, 1]], [[0, 0, 1, 1]]), ValueError, "boxes1 contains NaN or infinite"),
        (lambda f=_fn: f([[2, 0, 1, 1]], [[0, 0, 1, 1]]), ValueError, "boxes1 has x2 < x1 at row 0"),
        (lambda f=_fn: f([[0, 0, 1, 1]], [[0, 0, 1, -1]], box_format="xywh"), ValueError, "boxes2 has a negative width or height"),
        (lambda f=_fn: f([[0, 0, -1, 1]], [[0, 0, 1, 1]], box_format="cxcywh"), ValueError, "boxes1 has a negative width or height"),
        (lambda f=_fn: f([["a", 0, 1, 1]], [[0, 0, 1, 1]]), TypeError, "boxes1 must be numeric"),
        (lambda f=_fn: f(np.array([[0, 0, 1, 1]], dtype=object), [[0, 0, 1, None]]), ValueError, "boxes2 contains NaN"),
        (lambda f=_fn: f([[0, 0, 1, 1]], [[0, 0, 1, 1]], box_format="ltrb"), ValueError, "box_format must be one of 'xyxy', 'xywh', 'cxcywh'; got 'ltrb'"),
        (lambda f=_fn: f([[0, 0, 1, 1]], [[0, 0, 1, 1]], backend="cuda"), ValueError, "backend must be one of 'auto', 'numba', 'numpy'; got 'cuda'"),
        (lambda f=_fn: f([[0, 0, 1, 1]], [[0, 0, 1, 1]], backend=None), ValueError, "backend must be one of"),
    ]
for _fn in (distance_box_iou, complete_box_iou):
    BAD += [
        (lambda f=_fn: f([[0, 0, 1, 1]], [[0, 0, 1, 1]], eps=-1e-7), ValueError, "eps must be finite and >= 0; got -1e-07"),
        (lambda f=_fn: f([[0, 0, 1, 1]], [[0, 0, 1, 1]], eps=np.nan), ValueError, "eps must not be NaN"),
        (lambda f=_fn: f([[0, 0, 1, 1]], [[0, 0, 1, 1]], eps="small"), TypeError, "eps must be a real number"),
    ]


@pytest.mark.parametrize("call, exception, match", BAD)
def test_bad_input(call, exception, match):
    with pytest.raises(exception, match=match):
        call()
