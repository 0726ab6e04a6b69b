"""Fixed-point and integer encodings: exact round trips, range checks, no silent wrap."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from mpc.dtypes import Fixed, Int64


@given(st.integers(0, 30), st.lists(st.floats(-1e6, 1e6, allow_nan=False), max_size=20))
def test_fixed_round_trip_within_half_ulp(f, xs):
    d = Fixed(f)
    x = np.array(xs, dtype=np.float64)
    assert np.all(np.abs(d.decode(d.encode(x)) - x) <= 0.5 / 2**f + 1e-9 * np.abs(x))


@pytest.mark.parametrize("f", [0, 16, 40])
def test_fixed_range_edges(f):
    d = Fixed(f)
    lo = -(2.0 ** (63 - f))
    assert d.decode(d.encode(lo)) == lo
    assert d.encode(-(2 ** (63 - f))).view(np.int64) == -(2**63)  # exact integer path at the edge
    top = 2 ** (63 - f) - 1
    assert int(d.encode(top).view(np.int64)) == top << f
    for bad in (2.0 ** (63 - f), -(2.0 ** (63 - f)) * 1.001, 2 ** (63 - f)):
        with pytest.raises(ValueError, match=r"\[-2\^"):
            d.encode(np.array([0.0, bad]) if isinstance(bad, float) else bad)
    with pytest.raises(ValueError, match="NaN"):
        d.encode([1.0, np.nan])


def test_fixed_rejects_bad_precision():
    for f in (-1, 41, 1.5, True):
        with pytest.raises(ValueError, match="fractional bits"):
            Fixed(f)
    assert Fixed() == Fixed(16) and Fixed(16) != Fixed(12) and str(Fixed()) == "Fixed(f=16)"


@given(st.lists(st.integers(-(2**63), 2**63 - 1), max_size=20))
def test_int64_round_trip_and_twos_complement(xs):
    d = Int64()
    enc = d.encode(np.array(xs, dtype=object)) if xs else d.encode(np.array([], dtype=np.int64))
    assert enc.dtype == np.uint64
    assert [int(v) for v in d.decode(enc)] == xs
    assert all(int(u) == x % 2**64 for u, x in zip(enc, xs, strict=True))


def test_int64_rejects_out_of_range_and_fractions():
    d = Int64()
    with pytest.raises(ValueError, match="2\\^63"):
        d.encode(np.array([2**63], dtype=object))
    with pytest.raises(ValueError, match="integers only"):
        d.encode([1.5])
    with pytest.raises(ValueError, match="2\\^63"):
        d.encode(np.array([2**63], dtype=np.uint64).astype(np.float64))
