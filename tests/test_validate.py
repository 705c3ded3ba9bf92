"""Input validation: user data in, contiguous float64 / int64 arrays out, named errors otherwise."""

import math

import numpy as np
import pytest
from hypothesis import example, given
from hypothesis import strategies as st
from numpy.testing import assert_array_equal

from detmetrics._validate import (
    as_array,
    as_boxes,
    as_labels,
    as_scores,
    check_box_format,
    check_choice,
    check_positive,
    check_same_length,
    check_threshold,
)
from detmetrics.strategies import boxes

from _support import ArrayLike

FORMATS = ("xyxy", "xywh", "cxcywh")




# ---------------------------------------------------------------------------
# good input
# ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "value",
    [
        [[0, 1, 2, 3]],
        ((0, 1, 2, 3),),
        np.array([[0, 1, 2, 3]], dtype=np.int32),
        np.array([[0, 1, 2, 3]], dtype=np.uint8),
        np.array([[0, 1, 2, 3]], dtype=np.float32),
        np.array([[0, 1, 2, 3]], dtype=np.float16),
        np.array([[0, 1, 2, 3]], dtype=object),
        ArrayLike([[0, 1, 2, 3]]),
        ArrayLike([[0, 1, 2, 3]], dtype=np.float32),
        np.array([[0, 9, 1, 9, 2, 9, 3, 9]], dtype=np.float64)[:, ::2],  # non-contiguous view
    ],
    ids=["list", "tuple", "int32", "uint8", "float32", "float16", "object", "__array__", "__array__f4", "strided"],
)
def test_as_boxes_accepts_array_likes(value):
    out = as_boxes(value)
    assert out.dtype == np.float64 and out.flags.c_contiguous
    assert out.tolist() == [[0.0, 1.0, 2.0, 3.0]]


@pytest.mark.parametrize("value", [[], (), np.empty((0, 4)), np.empty((0, 0)), np.empty(0, dtype=np.int64), ArrayLike(np.empty((0, 4)))])
@pytest.mark.parametrize("box_format", FORMATS)
def test_as_boxes_empty(value, box_format):
    out = as_boxes(value, box_format=box_format)
    assert out.shape == (0, 4) and out.dtype == np.float64


@given(boxes(max_size=10))
def test_as_boxes_xyxy_is_identity(b):
    out = as_boxes(b)
    assert_array_equal(out, b)
    assert out.dtype == np.float64 and out.flags.c_contiguous


@given(boxes(max_size=10, box_format="xywh"))
def test_as_boxes_converts_to_xyxy(b):
    out = as_boxes(b, box_format="xywh")
    assert_array_equal(out, np.column_stack([b[:, 0], b[:, 1], b[:, 0] + b[:, 2], b[:, 1] + b[:, 3]]))
    c = np.column_stack([b[:, 0] + b[:, 2] / 2, b[:, 1] + b[:, 3] / 2, b[:, 2], b[:, 3]])
    assert_array_equal(as_boxes(c, box_format="cxcywh"), out)  # grid data: halves are exact


def test_as_boxes_does_not_alias_for_other_formats():
    b = np.array([[1.0, 2.0, 3.0, 4.0]])
    out = as_boxes(b, box_format="xywh")
    out[0, 0] = 99.0
    assert b[0, 0] == 1.0


def test_as_scores_and_labels():
    assert as_scores([1, 2]).dtype == np.float64
    assert as_scores(ArrayLike([0.5], dtype=np.float32)).tolist() == [0.5]
    assert as_scores([]).shape == (0,)
    lab = as_labels([1.0, -3, np.int8(2)])
    assert lab.dtype == np.int64 and lab.tolist() == [1, -3, 2]
    assert as_labels(np.array([5], dtype=np.uint16)).tolist() == [5]
    assert as_labels([]).shape == (0,) and as_labels([]).dtype == np.int64


def test_as_array_ndim_and_dtype():
    assert as_array([1, 2], "x", ndim=1).dtype == np.float64
    assert as_array([1.0, 2.0], "x", dtype=np.int64).dtype == np.int64


def test_scalar_checks_return_floats():
    assert check_threshold(np.float32(0.5), "t") == 0.5
    assert check_threshold(1, "t") == 1.0 and isinstance(check_threshold(1, "t"), float)
    assert check_threshold(-math.inf, "t", low=-math.inf, high=math.inf) == -math.inf
    assert check_positive(np.int64(3), "s") == 3.0
    assert check_positive(0, "s", allow_zero=True) == 0.0
    assert check_choice("linear", "method", ("gaussian", "linear")) == "linear"
    assert check_box_format("cxcywh") == "cxcywh"
    check_same_length("a", np.zeros(2), "b", np.zeros((2, 4)))


# ---------------------------------------------------------------------------
# bad input: one table
# ---------------------------------------------------------------------------

BAD = [
    # as_array / non-numeric
    (lambda: as_boxes(None), TypeError, "boxes must be an array-like of numbers; got None"),
    (lambda: as_boxes("0 0 1 1"), TypeError, "boxes must be an array-like of numbers; got str"),
    (lambda: as_boxes({"a": 1}), TypeError, "got dict"),
    (lambda: as_boxes([["a", "b", "c", "d"]]), TypeError, "boxes must be numeric; got dtype <U1"),
    (lambda: as_boxes([[0, 0, None, 1]]), ValueError, "boxes contains NaN"),  # None -> NaN in the float cast
    (lambda: as_boxes(np.array([[0, 0, "x", 1]], dtype=object)), TypeError, "dtype object"),
    (lambda: as_boxes(np.ones((1, 4), dtype=bool)), TypeError, "boxes must be numeric; got dtype bool"),
    (lambda: as_boxes(np.ones((1, 4), dtype=complex)), TypeError, "got dtype complex128"),
    (lambda: as_boxes([[0, 0, 1, 1], [0, 0, 1]]), ValueError, "boxes could not be read as a rectangular"),
    # shapes
    (lambda: as_boxes([0, 0, 1, 1]), ValueError, r"boxes must have shape \(N, 4\) for box_format='xyxy'; got shape \(4,\)"),
    (lambda: as_boxes(np.zeros((2, 5)), "boxes1"), ValueError, r"boxes1 must have shape \(N, 4\).*\(2, 5\)"),
    (lambda: as_boxes(np.zeros((2, 4, 1))), ValueError, r"got shape \(2, 4, 1\)"),
    (lambda: as_boxes(np.zeros((0, 5))), ValueError, r"got shape \(0, 5\)"),
    # regression: three rows of width 0 were accepted as "empty"
    (lambda: as_boxes([[], [], []]), ValueError, r"boxes must have shape \(N, 4\).*got shape \(3, 0\)"),
    (lambda: as_boxes(np.zeros((0, 4, 2))), ValueError, r"got shape \(0, 4, 2\)"),
    # values
    (lambda: as_boxes([[0, 0, np.nan, 1]]), ValueError, "boxes contains NaN or infinite values \\(first at row 0: "),
    (lambda: as_boxes([[0, 0, 1, 1], [0, -np.inf, 1, 1]]), ValueError, "first at row 1"),
    (lambda: as_boxes([[0, 0, 1, 1], [3, 0, 2, 1]]), ValueError, r"boxes has x2 < x1 at row 1 \(\[3.0, 0.0, 2.0, 1.0\]\)"),
    (lambda: as_boxes([[0, 3, 1, 2]]), ValueError, "boxes has y2 < y1 at row 0"),
    (lambda: as_boxes([[0, 0, -1, 1]], box_format="xywh"), ValueError, "boxes has a negative width or height at row 0"),
    (lambda: as_boxes([[0, 0, 1, -1]], box_format="cxcywh"), ValueError, "negative width or height"),
    (lambda: as_boxes([[0, 0, 1, 1]], box_format="yolo"), ValueError, "box_format must be one of 'xyxy', 'xywh', 'cxcywh'; got 'yolo'"),
    (lambda: as_boxes([[0, 0, 1, 1]], box_format=None), ValueError, "box_format must be one of"),
    # scores
    (lambda: as_scores([[0.5]]), ValueError, r"scores must be 1-dimensional; got shape \(1, 1\)"),
    # regression: a scalar became shape (1,) through np.ascontiguousarray
    (lambda: as_scores(0.5), ValueError, r"scores must be 1-dimensional; got shape \(\)"),
    (lambda: as_scores(ArrayLike(0.5)), ValueError, r"got shape \(\)"),
    (lambda: as_scores([0.5, np.nan]), ValueError, "scores contains NaN or infinite values \\(first at index 1\\)"),
    (lambda: as_scores([0.5, np.inf]), ValueError, "NaN or infinite"),
    (lambda: as_scores([0.5], length=2), ValueError, "scores has length 1 but boxes has 2 rows"),
    (lambda: as_scores(["high"]), TypeError, "scores must be numeric"),
    (lambda: as_scores([True, False]), TypeError, "scores must be numeric; got dtype bool"),
    # labels
    (lambda: as_labels([1.5]), ValueError, r"labels must hold integers; got .*1\.5.* at index 0"),
    (lambda: as_labels([1.0, np.nan]), ValueError, "labels contains NaN or infinite values"),
    (lambda: as_labels(["cat"]), TypeError, "labels must be numeric"),
    (lambda: as_labels([[1]]), ValueError, r"labels must be 1-dimensional; got shape \(1, 1\)"),
    (lambda: as_labels(3), ValueError, r"labels must be 1-dimensional; got shape \(\)"),
    (lambda: as_labels([1, 2], length=3, length_of="scores"), ValueError, "labels has length 2 but scores has 3 rows"),
    # scalars
    (lambda: check_threshold(1.5, "iou_threshold"), ValueError, r"iou_threshold must be in \[0, 1\]; got 1.5"),
    (lambda: check_threshold(-0.1, "iou_threshold"), ValueError, "must be in"),
    (lambda: check_threshold(np.nan, "t"), ValueError, "t must not be NaN"),
    (lambda: check_threshold("0.5", "t"), TypeError, "t must be a real number; got '0.5'"),
    (lambda: check_threshold(True, "t"), TypeError, "t must be a real number; got True"),
    (lambda: check_threshold(None, "t"), TypeError, "got None"),
    (lambda: check_positive(0, "sigma"), ValueError, "sigma must be finite and > 0; got 0.0"),
    (lambda: check_positive(-1, "sigma", allow_zero=True), ValueError, "sigma must be finite and >= 0; got -1.0"),
    (lambda: check_positive(math.inf, "sigma"), ValueError, "finite"),
    (lambda: check_choice("box", "method", ("gaussian", "linear")), ValueError, "method must be one of 'gaussian', 'linear'; got 'box'"),
    (lambda: check_choice(1, "method", ("gaussian",)), ValueError, "got 1"),
    (lambda: check_same_length("boxes", np.zeros((2, 4)), "scores", np.zeros(3)), ValueError, "boxes has 2 rows but scores has 3"),
]


@pytest.mark.parametrize("call, exception, match", BAD)
def test_bad_input(call, exception, match):
    with pytest.raises(exception, match=match):
        call()


@given(boxes(min_size=1, max_size=6, allow_zero_area=False))
@example(np.array([[0.0, 0.0, 1.0, 1.0]]))
def test_flipped_corners_are_rejected_at_their_row(b):
    bad = b.copy()
    row = len(b) - 1
    bad[row, [0, 2]] = bad[row, [2, 0]]
    with pytest.raises(ValueError, match=f"x2 < x1 at row {row}"):
        as_boxes(bad)


@given(st.lists(st.sampled_from([0.0, -0.0, 1.5, -2.0, 1e300, -1e300, np.inf, -np.inf, np.nan, 5e-324]),
                max_size=12), st.sampled_from([1e300, 2.0, np.inf]))
def test_within_equals_abs_max(values, limit):
    from detmetrics._validate import all_finite, within

    arr = np.array(values, dtype=np.float64).reshape(-1, 1)
    with np.errstate(invalid="ignore"):
        expected = bool(np.all(np.isfinite(arr)) and np.all(np.abs(arr) <= limit))
    assert within(arr, limit) == expected
    assert all_finite(arr) == bool(np.all(np.isfinite(arr)))
