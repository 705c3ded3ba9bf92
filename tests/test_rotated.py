"""Rotated boxes and convex quads: shapely oracle, degenerate pairs, invariants, reference == kernel."""

import math

import numpy as np
import pytest
import shapely
from hypothesis import example, given
from hypothesis import strategies as st
from numpy.testing import assert_allclose, assert_array_equal

from detmetrics import (
    corners_to_rotated,
    normalize_rotated,
    polygon_iou,
    rotated_iou,
    rotated_to_corners,
    rotated_to_degrees,
    rotated_to_radians,
)
from detmetrics.iou import box_iou
from detmetrics.rotated import _iou_blocks_oriented, _oriented_area, as_quads, as_rotated_boxes
from detmetrics.strategies import quads, rotated_boxes

PI = math.pi
BACKENDS = ["numba", "numpy"]


# ---------------------------------------------------------------------------------------
# oracle: shapely polygons built from independently computed corners


def corners(boxes):
    """c + R(angle) @ (+-w/2, +-h/2), written out independently of detmetrics."""
    b = np.asarray(boxes, dtype=np.float64).reshape(-1, 5)
    out = np.empty((b.shape[0], 4, 2))
    for k, (sx, sy) in enumerate([(-1, -1), (1, -1), (1, 1), (-1, 1)]):
        dx, dy = sx * b[:, 2] / 2, sy * b[:, 3] / 2
        out[:, k, 0] = b[:, 0] + np.cos(b[:, 4]) * dx - np.sin(b[:, 4]) * dy
        out[:, k, 1] = b[:, 1] + np.sin(b[:, 4]) * dx + np.cos(b[:, 4]) * dy
    return out


def _shifted_polygons(c1, c2):
    """shapely polygons of both sets, translated together next to the origin.

    IoU is translation invariant; GEOS computes crossing points in absolute
    coordinates, so far from the origin (1e7 + 5-pixel boxes) it loses ~1e-9 of
    relative accuracy; the common shift (exact for nearby coordinates) avoids that.
    """
    c1 = np.asarray(c1, dtype=np.float64).reshape(-1, 4, 2)
    c2 = np.asarray(c2, dtype=np.float64).reshape(-1, 4, 2)
    both = np.concatenate([c1, c2])
    origin = both.reshape(-1, 2).min(axis=0) if both.size else np.zeros(2)
    return shapely.polygons(c1 - origin), shapely.polygons(c2 - origin)


def shapely_iou(c1, c2):
    p1, p2 = _shifted_polygons(c1, c2)
    inter = shapely.area(shapely.intersection(p1[:, None], p2[None, :]))
    union = shapely.area(p1)[:, None] + shapely.area(p2)[None, :] - inter
    iou = np.divide(inter, union, out=np.zeros_like(inter), where=union > 0)
    # GEOS's overlay of two identical slivers (w = 1e-9) returns an intersection slightly
    # larger than the polygon (IoU 1 + 8e-8); IoU is in [0, 1] by definition
    return np.clip(iou, 0.0, 1.0)


def shapely_intersection(c1, c2):
    p1, p2 = _shifted_polygons(c1, c2)
    return shapely.area(shapely.intersection(p1[:, None], p2[None, :]))


def rotate_frame(boxes, phi, shift=(0.0, 0.0), scale=1.0):
    """Apply the same similarity transform (rotation about the origin, scale, shift) to boxes."""
    b = np.array(boxes, dtype=np.float64).reshape(-1, 5)
    c, s = math.cos(phi), math.sin(phi)
    x, y = b[:, 0].copy(), b[:, 1].copy()
    b[:, 0] = scale * (c * x - s * y) + shift[0]
    b[:, 1] = scale * (s * x + c * y) + shift[1]
    b[:, 2:4] *= scale
    b[:, 4] += phi
    return b


# ---------------------------------------------------------------------------------------
# degenerate pairs: shapely agreement within 1e-9, exact values where the docs promise them

R2 = math.sqrt(2.0)
DEGENERATE = [
    # name, box1, box2, exact expected IoU or None (shapely only)
    ("identical", (5, 5, 4, 2, 0.3), (5, 5, 4, 2, 0.3), 1.0),
    ("identical axis-aligned", (5, 5, 4, 2, 0.0), (5, 5, 4, 2, 0.0), 1.0),
    ("identical square 45deg", (0, 0, 2, 2, PI / 4), (0, 0, 2, 2, PI / 4), 1.0),
    ("rotated by pi (0)", (5, 5, 4, 2, 0.0), (5, 5, 4, 2, PI), 1.0),
    ("rotated by 2pi (0)", (5, 5, 4, 2, 0.0), (5, 5, 4, 2, 2 * PI), 1.0),
    ("rotated by -pi (0)", (5, 5, 4, 2, 0.0), (5, 5, 4, 2, -PI), 1.0),
    ("rotated by pi (0.3)", (5, 5, 4, 2, 0.3), (5, 5, 4, 2, 0.3 + PI), None),
    ("rotated by 2pi (0.3)", (5, 5, 4, 2, 0.3), (5, 5, 4, 2, 0.3 + 2 * PI), None),
    ("w/h swapped + pi/2", (5, 5, 4, 2, 0.3), (5, 5, 2, 4, 0.3 + PI / 2), None),
    ("square turned pi/2", (0, 0, 2, 2, 0.0), (0, 0, 2, 2, PI / 2), None),
    ("nested", (0, 0, 10, 10, 0.3), (1, 1, 2, 2, 1.1), None),
    ("nested axis-aligned", (0, 0, 10, 10, 0.0), (1, 1, 2, 2, 0.0), 0.04),
    ("same centre, crossed", (0, 0, 10, 2, 0.0), (0, 0, 10, 2, PI / 2), None),
    ("disjoint far", (0, 0, 2, 2, 0.3), (100, 100, 2, 2, 0.3), 0.0),
    ("disjoint, boxes overlap", (0, 0, 10, 1, PI / 4), (-R2, R2, 10, 1, PI / 4), 0.0),
    ("touching edge", (0, 0, 2, 2, 0.0), (2, 0, 2, 2, 0.0), 0.0),
    ("touching edge, tilted", (0, 0, 2, 2, 0.5), (2 * math.cos(0.5), 2 * math.sin(0.5), 2, 2, 0.5), None),
    ("touching corner", (0, 0, 2, 2, 0.0), (2, 2, 2, 2, 0.0), 0.0),
    ("corner on edge", (0, 0, 2, 2, 0.0), (1 + R2 / 2, 0, 1, 1, PI / 4), None),
    ("near-parallel edges", (0, 0, 10, 2, 0.0), (0, 0.5, 10, 2, 1e-9), None),
    ("near-parallel, near-touching", (0, 0, 10, 2, 0.0), (0, 2, 10, 2, 1e-12), None),
    ("near-parallel, shared edge", (0, 0, 10, 2, 1e-7), (0, 1, 10, 4, -1e-7), None),
    ("tiny", (0, 0, 2e-6, 1e-6, 0.3), (0.5e-6, 0, 2e-6, 1e-6, 0.5), None),
    ("tiny identical", (1e-6, 1e-6, 2e-6, 1e-6, 0.3), (1e-6, 1e-6, 2e-6, 1e-6, 0.3), 1.0),
    ("huge offsets", (1e6, 1e6, 30, 20, 0.3), (1e6 + 5, 1e6 + 3, 30, 20, 0.7), None),
    ("huge sizes", (0, 0, 1e6, 2e6, 0.3), (1e5, 0, 1e6, 1e6, 1.0), None),
    ("huge identical", (1e6, -1e6, 1e6, 2e6, 0.3), (1e6, -1e6, 1e6, 2e6, 0.3), 1.0),
    ("near-zero width", (0, 0, 1e-9, 4, 0.3), (0, 0, 2, 2, 0.0), None),
    ("near-zero width, identical", (0, 0, 1e-9, 4, 0.3), (0, 0, 1e-9, 4, 0.3), 1.0),
    ("zero width", (0, 0, 0, 4, 0.3), (0, 0, 2, 2, 0.0), 0.0),
    ("zero area identical", (0, 0, 0, 4, 0.3), (0, 0, 0, 4, 0.3), 0.0),
    ("point", (0, 0, 0, 0, 0.0), (0, 0, 0, 0, 0.0), 0.0),
    ("point inside", (0, 0, 0, 0, 0.0), (0, 0, 2, 2, 0.7), 0.0),
]


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("name, box1, box2, expected", DEGENERATE, ids=[d[0] for d in DEGENERATE])
def test_degenerate_pairs_match_shapely(name, box1, box2, expected, backend):
    got = rotated_iou([box1], [box2], backend=backend)
    back = rotated_iou([box2], [box1], backend=backend)
    assert_allclose(got, shapely_iou(corners([box1]), corners([box2])), rtol=0, atol=1e-9)
    assert 0.0 <= got[0, 0] <= 1.0
    assert got[0, 0] == back[0, 0]
    if expected is not None:
        assert got[0, 0] == expected


QUAD_CASES = [
    # name, quad1, quad2, exact expected IoU or None (shapely only)
    ("same, clockwise", [[0, 0], [4, 0], [4, 2], [0, 2]], [[0, 0], [0, 2], [4, 2], [4, 0]], 1.0),
    ("same, other start", [[0, 0], [4, 0], [4, 2], [0, 2]], [[4, 2], [0, 2], [0, 0], [4, 0]], 1.0),
    ("half", [[0, 0], [2, 0], [2, 2], [0, 2]], [[1, 0], [3, 0], [3, 2], [1, 2]], 1 / 3),
    ("diamond in square", [[0, 0], [2, 0], [2, 2], [0, 2]], [[1, 0], [2, 1], [1, 2], [0, 1]], 0.5),
    ("corner on edge", [[0, 0], [2, 0], [2, 2], [0, 2]], [[2, 1], [3, 0], [4, 1], [3, 2]], 0.0),
    ("touching edge", [[0, 0], [2, 0], [2, 2], [0, 2]], [[2, 0], [5, 0], [5, 2], [2, 2]], 0.0),
    ("triangle (repeated vertex)", [[0, 0], [0, 0], [2, 0], [0, 2]], [[0, 0], [2, 0], [2, 2], [0, 2]], 0.5),
    ("trapezoid vs kite", [[0, 0], [6, 0], [4, 3], [1, 3]], [[3, -1], [5, 1], [3, 4], [1, 1]], None),
    ("collinear (zero area)", [[0, 0], [1, 1], [2, 2], [1, 1]], [[0, 0], [2, 0], [2, 2], [0, 2]], 0.0),
    ("huge", [[1e6, 1e6], [1e6 + 7, 1e6 + 1], [1e6 + 6, 1e6 + 5], [1e6, 1e6 + 4]],
     [[1e6 + 2, 1e6 - 1], [1e6 + 9, 1e6 + 2], [1e6 + 5, 1e6 + 6], [1e6 + 1, 1e6 + 3]], None),
]


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("name, q1, q2, expected", QUAD_CASES, ids=[d[0] for d in QUAD_CASES])
def test_quad_cases_match_shapely(name, q1, q2, expected, backend):
    got = polygon_iou([q1], [q2], backend=backend)
    assert_allclose(got, shapely_iou([q1], [q2]), rtol=0, atol=1e-9)
    if expected is not None:
        assert got[0, 0] == expected


# ---------------------------------------------------------------------------------------
# property tests against shapely and between backends


@given(rotated_boxes(max_size=6), rotated_boxes(max_size=6))
@example(np.array([[5.0, 5.0, 4.0, 2.0, 0.3]]), np.array([[5.0, 5.0, 4.0, 2.0, 0.3 + PI]]))
def test_rotated_iou_matches_shapely(b1, b2):
    expected = shapely_iou(corners(b1), corners(b2))
    for backend in BACKENDS:
        got = rotated_iou(b1, b2, backend=backend)
        assert got.shape == (len(b1), len(b2)) and got.dtype == np.float64
        assert_allclose(got, expected, rtol=0, atol=1e-9)


@given(
    rotated_boxes(max_size=6, allow_zero_area=False),
    rotated_boxes(max_size=6, allow_zero_area=False),
    st.sampled_from([1e6, -1e6, 1e7, 3e7]),
    st.sampled_from([1.0, 0.5, 1e-3]),
)
def test_far_from_origin_matches_shapely(b1, b2, offset, scale):
    b1 = rotate_frame(b1, 0.0, (offset, -offset), scale)
    b2 = rotate_frame(b2, 0.0, (offset, -offset), scale)
    # the same corners for both (at 1e6 two corner formulas differ by an ulp, 1e-10,
    # which is 1e-7 of a 1e-3 box): this compares the IoU computation only
    expected = shapely_iou(rotated_to_corners(b1), rotated_to_corners(b2))
    for backend in BACKENDS:
        assert_allclose(rotated_iou(b1, b2, backend=backend), expected, rtol=0, atol=1e-9)


@given(quads(max_size=6), quads(max_size=6))
def test_polygon_iou_matches_shapely(q1, q2):
    expected = shapely_iou(q1, q2)
    for backend in BACKENDS:
        assert_allclose(polygon_iou(q1, q2, backend=backend), expected, rtol=0, atol=1e-9)


@given(rotated_boxes(max_size=10, grid=8), rotated_boxes(max_size=10, grid=8))
def test_reference_equals_kernel_rotated(b1, b2):
    assert_allclose(rotated_iou(b1, b2, backend="numba"), rotated_iou(b1, b2, backend="numpy"), rtol=0, atol=1e-9)


@given(quads(max_size=10, grid=8), quads(max_size=10, grid=8))
def test_reference_equals_kernel_quads(q1, q2):
    assert_allclose(polygon_iou(q1, q2, backend="numba"), polygon_iou(q1, q2, backend="numpy"), rtol=0, atol=1e-9)


@given(quads(min_size=1, max_size=6), quads(max_size=6), st.integers(0, 3), st.booleans())
def test_polygon_iou_invariant_to_vertex_order(q1, q2, shift, reverse):
    listed = np.roll(q1, shift, axis=1)
    if reverse:
        listed = listed[:, ::-1]
    for backend in BACKENDS:
        assert_array_equal(polygon_iou(listed, q2, backend=backend), polygon_iou(q1, q2, backend=backend))
        assert_array_equal(polygon_iou(listed.reshape(-1, 8), q2, backend=backend), polygon_iou(q1, q2, backend=backend))


# ---------------------------------------------------------------------------------------
# invariants


@given(rotated_boxes(max_size=8), rotated_boxes(max_size=8))
def test_symmetric_and_bounded(b1, b2):
    for backend in BACKENDS:
        iou = rotated_iou(b1, b2, backend=backend)
        assert_array_equal(iou, rotated_iou(b2, b1, backend=backend).T)
        assert np.all((iou >= 0.0) & (iou <= 1.0))


@given(rotated_boxes(min_size=1, max_size=8))
def test_self_iou_is_one_for_positive_area(b):
    iou = rotated_iou(b, b)
    positive = (b[:, 2] > 0) & (b[:, 3] > 0)
    assert_array_equal(np.diag(iou), np.where(positive, 1.0, 0.0))
    turned = b.copy()
    turned[:, 4] += PI
    assert_allclose(np.diag(rotated_iou(b, turned)), np.where(positive, 1.0, 0.0), rtol=0, atol=1e-9)


@given(
    rotated_boxes(max_size=6),
    rotated_boxes(max_size=6),
    st.floats(-PI, PI),
    st.tuples(st.integers(-1000, 1000), st.integers(-1000, 1000)),
    st.sampled_from([0.001, 0.5, 1.0, 3.0, 1000.0]),
)
def test_invariant_to_common_similarity(b1, b2, phi, shift, scale):
    expected = rotated_iou(b1, b2)
    moved = rotated_iou(rotate_frame(b1, phi, shift, scale), rotate_frame(b2, phi, shift, scale))
    assert_allclose(moved, expected, rtol=0, atol=1e-9)


@given(rotated_boxes(max_size=8), rotated_boxes(max_size=8), st.sampled_from([0.0, PI, -PI, 2 * PI]))
def test_equals_box_iou_when_axis_aligned(b1, b2, angle):
    b1[:, 4] = 0.0
    b2[:, 4] = angle
    xyxy = lambda b: np.column_stack([b[:, 0] - b[:, 2] / 2, b[:, 1] - b[:, 3] / 2, b[:, 0] + b[:, 2] / 2, b[:, 1] + b[:, 3] / 2])
    assert_allclose(rotated_iou(b1, b2), box_iou(xyxy(b1), xyxy(b2)), rtol=0, atol=1e-12)


def test_empty_inputs():
    some = [[0, 0, 2, 2, 0.0]]
    for backend in BACKENDS:
        assert rotated_iou(np.empty((0, 5)), some, backend=backend).shape == (0, 1)
        assert rotated_iou(some, [], backend=backend).shape == (1, 0)
        assert polygon_iou([], np.empty((0, 4, 2)), backend=backend).shape == (0, 0)
        assert polygon_iou(np.empty((0, 8)), [[[0, 0], [1, 0], [1, 1], [0, 1]]], backend=backend).shape == (0, 1)
    assert rotated_to_corners(np.empty((0, 5))).shape == (0, 4, 2)
    assert corners_to_rotated(np.empty((0, 4, 2))).shape == (0, 5)
    assert normalize_rotated([]).shape == (0, 5)


def test_int_and_float32_inputs():
    b = np.array([[0, 0, 4, 2, 0]], dtype=np.int32)
    assert rotated_iou(b, b.astype(np.float32)).tolist() == [[1.0]]


# ---------------------------------------------------------------------------------------
# converters


@given(rotated_boxes(max_size=10))
def test_corners_follow_the_convention(b):
    got = rotated_to_corners(b)
    assert got.shape == (len(b), 4, 2)
    # the same point set as c + R(angle) @ (+-w/2, +-h/2)
    assert_allclose(np.sort(got.reshape(-1, 8), axis=1), np.sort(corners(b).reshape(-1, 8), axis=1), rtol=0, atol=1e-9)
    assert np.all(shapely.area(shapely.polygons(got)) >= -1e-12)  # counter-clockwise (or flat)


@given(rotated_boxes(max_size=10, allow_zero_area=False))
def test_corners_round_trip(b):
    back = corners_to_rotated(rotated_to_corners(b))
    assert_allclose(np.diag(rotated_iou(back, b)), 1.0, rtol=0, atol=1e-9)
    norm = normalize_rotated(b)
    assert_allclose(back[:, :4], norm[:, :4], rtol=0, atol=1e-9)
    rect = norm[:, 2] != norm[:, 3]  # a square's angle is only defined modulo pi/2
    d = np.abs(back[rect, 4] - norm[rect, 4])
    assert np.all(np.minimum(d, PI - d) < 1e-9)


@given(rotated_boxes(max_size=10))
def test_normalize(b):
    n = normalize_rotated(b)
    assert np.all(n[:, 2] >= n[:, 3])
    assert np.all((n[:, 4] >= -PI / 2) & (n[:, 4] < PI / 2))
    assert_allclose(normalize_rotated(n), n, rtol=0, atol=1e-12)
    assert_allclose(np.sort(rotated_to_corners(n).reshape(-1, 8), axis=1),
                    np.sort(rotated_to_corners(b).reshape(-1, 8), axis=1), rtol=0, atol=1e-9)


@given(rotated_boxes(max_size=10))
def test_degrees_round_trip(b):
    deg = rotated_to_degrees(b)
    assert_allclose(deg[:, 4], np.degrees(b[:, 4]), rtol=1e-15)
    assert_allclose(rotated_to_radians(deg), b, rtol=0, atol=1e-12)


@given(quads(min_size=1, max_size=5, allow_zero_area=False))
def test_corners_to_rotated_encloses_any_convex_quad(q):
    r = corners_to_rotated(q)
    # the rectangle contains the quad: every vertex within (w/2, h/2) along the rectangle's axes
    u = np.stack([np.cos(r[:, 4]), np.sin(r[:, 4])], axis=1)[:, None, :]
    v = np.stack([-np.sin(r[:, 4]), np.cos(r[:, 4])], axis=1)[:, None, :]
    rel = q - r[:, None, :2]
    tol = 1e-9 * (1 + np.abs(q).max())
    assert np.all(np.abs((rel * u).sum(-1)) <= r[:, 2:3] / 2 + tol)
    assert np.all(np.abs((rel * v).sum(-1)) <= r[:, 3:4] / 2 + tol)
    # and it has minimum area (shapely's rotating-calipers envelope as the oracle)
    envelope = shapely.area(shapely.oriented_envelope(shapely.polygons(q)))
    assert_allclose(r[:, 2] * r[:, 3], envelope, rtol=1e-9, atol=1e-9)


def test_near_identical_rectangles_where_geos_overlay_fails():
    # corners_to_rotated(q) reproduces q up to rounding; GEOS 3.14's overlay returns an EMPTY
    # intersection for this pair (found by hypothesis), clipping gives IoU 1 as it should
    q = [[[24.397114317029974, -0.3480762113533147], [16.602885682970026, -4.848076211353316],
          [13.602885682970026, 0.3480762113533147], [21.397114317029974, 4.848076211353316]]]
    again = rotated_to_corners(corners_to_rotated(q))
    for backend in BACKENDS:
        assert_allclose(polygon_iou(q, again, backend=backend), [[1.0]], rtol=0, atol=1e-12)


def test_converter_examples():
    assert corners_to_rotated([[[0, 0], [4, 0], [4, 2], [0, 2]]]).tolist() == [[2.0, 1.0, 4.0, 2.0, 0.0]]
    assert rotated_to_corners([[2, 1, 4, 2, 0]]).tolist() == [[[0.0, 0.0], [4.0, 0.0], [4.0, 2.0], [0.0, 2.0]]]
    assert corners_to_rotated([[[0, 0], [0, 0], [0, 0], [0, 0]]]).tolist() == [[0.0, 0.0, 0.0, 0.0, 0.0]]


# ---------------------------------------------------------------------------------------
# evaluation hooks


@given(rotated_boxes(max_size=12), rotated_boxes(max_size=12), st.data())
def test_iou_blocks_oriented(det, gt, data):
    n_groups = data.draw(st.integers(1, 4))
    cuts_d = sorted(data.draw(st.lists(st.integers(0, len(det)), min_size=n_groups - 1, max_size=n_groups - 1)))
    cuts_g = sorted(data.draw(st.lists(st.integers(0, len(gt)), min_size=n_groups - 1, max_size=n_groups - 1)))
    det_offsets = np.array([0, *cuts_d, len(det)], dtype=np.int64)
    gt_offsets = np.array([0, *cuts_g, len(gt)], dtype=np.int64)
    crowd = np.array(data.draw(st.lists(st.sampled_from([0, 1]), min_size=len(gt), max_size=len(gt))), dtype=np.uint8)
    results = [_iou_blocks_oriented(det, gt, crowd, det_offsets, gt_offsets, b) for b in BACKENDS]
    assert_array_equal(results[0][1], results[1][1])
    assert_allclose(results[0][0], results[1][0], rtol=0, atol=1e-9)
    flat, offsets = results[0]
    det_area = shapely.area(shapely.polygons(corners(det)))
    for g in range(n_groups):
        d = slice(det_offsets[g], det_offsets[g + 1])
        t = slice(gt_offsets[g], gt_offsets[g + 1])
        block = flat[offsets[g] : offsets[g + 1]].reshape(d.stop - d.start, t.stop - t.start)
        iou = shapely_iou(corners(det[d]), corners(gt[t]))
        inter = shapely_intersection(corners(det[d]), corners(gt[t]))
        a = det_area[d][:, None]
        crowd_value = np.divide(inter, a, out=np.zeros_like(inter), where=a > 0)
        assert_allclose(block, np.where(crowd[t][None, :] == 1, crowd_value, iou), rtol=0, atol=1e-9)


def test_oriented_area():
    assert _oriented_area(as_rotated_boxes([[0, 0, 4, 2, 0.3], [1, 1, 0, 5, 1]])).tolist() == [8.0, 0.0]
    assert _oriented_area(as_quads([[[0, 0], [0, 2], [4, 2], [4, 0]]])).tolist() == [8.0]


# ---------------------------------------------------------------------------------------
# bad input

GOOD_BOX = [[0, 0, 2, 2, 0.0]]
GOOD_QUAD = [[[0, 0], [1, 0], [1, 1], [0, 1]]]
NAN = float("nan")

BAD_INPUT = [
    (lambda: rotated_iou([[0, 0, 2, 2, NAN]], GOOD_BOX), ValueError, r"boxes1 contains NaN"),
    (lambda: rotated_iou(GOOD_BOX, [[0, 0, 2, 2, float("inf")]]), ValueError, r"boxes2 contains NaN or infinite"),
    (lambda: rotated_iou([[0, 0, -1, 2, 0]], GOOD_BOX), ValueError, r"boxes1 has a negative width or height at row 0"),
    (lambda: rotated_iou(GOOD_BOX, [[0, 0, 1, 1, 0], [0, 0, 2, -2, 0]]), ValueError, r"boxes2 .* at row 1"),
    (lambda: rotated_iou([[0, 0, 2, 2]], GOOD_BOX), ValueError, r"boxes1 must have shape \(N, 5\).*\(1, 4\)"),
    (lambda: rotated_iou([0, 0, 2, 2, 0], GOOD_BOX), ValueError, r"boxes1 must have shape \(N, 5\)"),
    (lambda: rotated_iou([["a", 0, 2, 2, 0]], GOOD_BOX), TypeError, r"boxes1 must be numeric"),
    (lambda: rotated_iou(None, GOOD_BOX), TypeError, r"boxes1"),
    (lambda: rotated_iou(GOOD_BOX, GOOD_BOX, backend="gpu"), ValueError, r"backend must be one of"),
    (lambda: polygon_iou([[[0, 0], [2, 0], [1, 0.5], [1, 2]]], GOOD_QUAD), ValueError,
     r"quads1 row 0 is not a convex quadrilateral"),
    (lambda: polygon_iou(GOOD_QUAD, [GOOD_QUAD[0], [[0, 0], [1, 1], [1, 0], [0, 1]]]), ValueError,
     r"quads2 row 1 is not a convex .*self-intersecting"),
    (lambda: polygon_iou([[[0, 0], [1, 0], [1, 1]]], GOOD_QUAD), ValueError, r"quads1 must have shape \(N, 4, 2\) or \(N, 8\)"),
    (lambda: polygon_iou(GOOD_QUAD, [[0, 0, 1, 0, 1, 1]]), ValueError, r"quads2 must have shape"),
    (lambda: polygon_iou([[[0, 0], [1, 0], [1, NAN], [0, 1]]], GOOD_QUAD), ValueError, r"quads1 contains NaN"),
    (lambda: polygon_iou("abc", GOOD_QUAD), TypeError, r"quads1"),
    (lambda: rotated_to_corners([[0, 0, 1, NAN, 0]]), ValueError, r"boxes contains NaN"),
    (lambda: corners_to_rotated([[[0, 0], [2, 0], [1, 0.5], [1, 2]]]), ValueError, r"quads row 0 is not a convex"),
    (lambda: normalize_rotated([[0, 0, 1, 1]]), ValueError, r"boxes must have shape \(N, 5\)"),
    (lambda: rotated_to_radians([[0, 0, -1, 1, 0]]), ValueError, r"negative width"),
]


@pytest.mark.parametrize("call, exception, match", BAD_INPUT)
def test_bad_input(call, exception, match):
    with pytest.raises(exception, match=match):
        call()


# ---------------------------------------------------------------------------------------
# the public strategies build valid data


@given(rotated_boxes(max_size=10), quads(max_size=10))
def test_strategies_build_valid_data(b, q):
    assert b.dtype == np.float64 and b.shape[1:] == (5,)
    assert_array_equal(as_rotated_boxes(b), b)
    assert as_quads(q).shape == q.shape


@given(rotated_boxes(min_size=1, max_size=10, allow_zero_area=False), quads(min_size=1, max_size=10, allow_zero_area=False))
def test_strategies_without_zero_area(b, q):
    assert np.all(b[:, 2:4] > 0)
    assert np.all(_oriented_area(as_quads(q)) > 0)
