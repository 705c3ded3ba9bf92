"""Box formats: convert_boxes and box_area."""

import itertools

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from numpy.testing import assert_array_equal

from detmetrics import box_area, convert_boxes
from detmetrics.boxes import _convert_reference
from detmetrics.strategies import boxes

FORMATS = ("xyxy", "xywh", "cxcywh")

# one box, [x1, y1, x2, y2] = [10, 20, 40, 60], written by hand in each format
HAND = {
    "xyxy": [10.0, 20.0, 40.0, 60.0],
    "xywh": [10.0, 20.0, 30.0, 40.0],
    "cxcywh": [25.0, 40.0, 30.0, 40.0],
}


@pytest.mark.parametrize("src, dst", list(itertools.product(FORMATS, FORMATS)))
def test_convert_hand_box(src, dst):
    out = convert_boxes([HAND[src]], src, dst)
    assert out.dtype == np.float64 and out.shape == (1, 4)
    assert out.tolist() == [HAND[dst]]


@pytest.mark.parametrize("src, dst", list(itertools.product(FORMATS, FORMATS)))
@given(data=st.data())
def test_round_trip_is_exact_on_the_grid(src, dst, data):
    # integer corners and sides: every conversion is exact (halves at worst)
    b = data.draw(boxes(max_size=12, box_format=src))
    there = convert_boxes(b, src, dst)
    back = convert_boxes(there, dst, src)
    assert_array_equal(back, b)
    assert_array_equal(convert_boxes(b, src, "xyxy"), _convert_reference(b, src, "xyxy"))


def test_convert_returns_a_copy_and_accepts_array_likes():
    b = np.array([[1, 2, 3, 4]], dtype=np.int32)
    out = convert_boxes(b, "xyxy", "xyxy")
    assert out.dtype == np.float64 and out.flags.c_contiguous
    out[0, 0] = 7
    assert b[0, 0] == 1
    assert convert_boxes(np.array([[1, 2, 3, 4]], dtype=np.float32), "xywh", "xyxy").tolist() == [[1.0, 2.0, 4.0, 6.0]]


@pytest.mark.parametrize("src, dst", list(itertools.product(FORMATS, FORMATS)))
def test_convert_empty(src, dst):
    for empty in ([], np.empty((0, 4)), np.empty((0, 4), dtype=np.float32)):
        out = convert_boxes(empty, src, dst)
        assert out.shape == (0, 4) and out.dtype == np.float64


@given(boxes(max_size=12))
def test_box_area_matches_definition_in_every_format(b):
    expected = (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])
    for fmt in FORMATS:
        area = box_area(convert_boxes(b, "xyxy", fmt), box_format=fmt)
        assert area.dtype == np.float64 and area.shape == (len(b),)
        assert_array_equal(area, expected)


def test_box_area_hand_and_empty():
    assert box_area([[0, 0, 10, 5], [2, 2, 2, 9], [1, 1, 1.5, 3]]).tolist() == [50.0, 0.0, 1.0]  # no +1 pixel
    assert box_area([[0, 0, 3, 2]], box_format="xywh").tolist() == [6.0]
    assert box_area([]).shape == (0,)


BAD = [
    (lambda: convert_boxes([[0, 0, 1, 1]], "yolo", "xyxy"), ValueError, "box_format must be one of 'xyxy', 'xywh', 'cxcywh'; got 'yolo'"),
    (lambda: convert_boxes([[0, 0, 1, 1]], "xyxy", "coco"), ValueError, "dst must be one of 'xyxy', 'xywh', 'cxcywh'; got 'coco'"),
    (lambda: convert_boxes([[0, 0, 1, 1]], "xyxy", None), ValueError, "dst must be one of"),
    (lambda: convert_boxes([[0, 0, 1]], "xyxy", "xywh"), ValueError, r"boxes must have shape \(N, 4\) for box_format='xyxy'; got shape \(1, 3\)"),
    (lambda: convert_boxes([[2, 0, 1, 1]], "xyxy", "xywh"), ValueError, "boxes has x2 < x1 at row 0"),
    (lambda: convert_boxes([[0, 0, -1, 1]], "xywh", "xyxy"), ValueError, "boxes has a negative width or height at row 0"),
    (lambda: convert_boxes([[0, 0, 1, -2]], "cxcywh", "xyxy"), ValueError, "negative width or height"),
    (lambda: convert_boxes([[0, 0, np.inf, 1]], "xywh", "xyxy"), ValueError, "boxes contains NaN or infinite values"),
    (lambda: convert_boxes([["a", 0, 1, 1]], "xyxy", "xywh"), TypeError, "boxes must be numeric"),
    (lambda: box_area([[0, 0, 1, 1]], box_format="xyxyxy"), ValueError, "box_format must be one of"),
    (lambda: box_area([[0, 1, 1, 0]]), ValueError, "boxes has y2 < y1 at row 0"),
    (lambda: box_area([[0, 0, 1, np.nan]]), ValueError, "NaN"),
]


@pytest.mark.parametrize("call, exception, match", BAD)
def test_bad_input(call, exception, match):
    with pytest.raises(exception, match=match):
        call()
