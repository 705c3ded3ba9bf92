"""detmetrics._lookup: the lookup-table paths of positions and isin equal searchsorted and np.isin."""

import numpy as np
from hypothesis import example, given, settings
from hypothesis import strategies as st
from numpy.testing import assert_array_equal

from detmetrics._lookup import isin, positions

ids = st.integers(-2**63, 2**63 - 1) | st.integers(-20, 20) | st.integers(2**63 - 30, 2**63 - 1)


def _by_search(universe, wanted):
    pos = np.searchsorted(universe, wanted)
    clip = np.minimum(pos, max(universe.shape[0] - 1, 0))
    if universe.shape[0] == 0:
        return np.full(wanted.shape[0], -1, dtype=np.int64)
    return np.where((pos < universe.shape[0]) & (universe[clip] == wanted), pos, -1).astype(np.int64)


@settings(max_examples=300, deadline=None)
@given(universe=st.lists(ids, max_size=15, unique=True), wanted=st.lists(ids, max_size=30),
       picks=st.lists(st.integers(0, 14), max_size=20))
@example(universe=[-2**63, 2**63 - 1], wanted=[0, -2**63], picks=[])
@example(universe=[1, 2, 5, 9], wanted=[0, 10, 3, -(2**63)], picks=[0, 3, 2])
@example(universe=[1, 2, 5, 9], wanted=[2, 9, 3, 1], picks=[])  # every id in [1, 9]: the one-gather path, 3 absent
def test_positions_equal_searchsorted(universe, wanted, picks):
    uni = np.array(sorted(universe), dtype=np.int64)
    extra = [uni[p % uni.shape[0]] for p in picks] if uni.shape[0] else []
    want = np.array(list(wanted) + extra, dtype=np.int64)
    out = positions(uni, want)
    assert out.dtype == np.int64
    assert_array_equal(out, _by_search(uni, want))


def test_positions_float_ids_use_searchsorted():
    uni = np.array([1.0, 2.5, 4.0])
    assert positions(uni, np.array([2.5, 3.0, 1.0])).tolist() == [1, -1, 0]


@given(st.lists(st.integers(-3, 40), max_size=30), st.lists(st.integers(-3, 40), max_size=60),
       st.sampled_from([np.int64, np.int32, np.uint8]))
def test_isin_equals_numpy(universe, values, dtype):
    uni = np.array(sorted(set(universe)), dtype=np.int64)
    vals = np.array(values, dtype=np.int64)
    if dtype is np.uint8:
        vals = np.abs(vals).astype(np.uint8)
    else:
        vals = vals.astype(dtype)
    assert isin(vals, uni).tolist() == np.isin(vals, uni).tolist()


def test_isin_far_ids_take_numpy_path():
    uni = np.array([2, 10**12])
    assert isin(np.array([2, 3, 10**12]), uni).tolist() == [True, False, True]
