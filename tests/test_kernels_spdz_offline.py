"""The spdz2k offline kernels (csrc/spdz_offline.c): compiled == NumPy reference bit for bit, and
the reference against Python integers (the weighting) and against ot_link's trimming (untrim)."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mpc._core import _ref, get_kernels
from mpc._core._checks import spdz_trimmed128_bytes
from mpc.errors import KernelError
from mpc.preprocessing.ot_link import trim128

C = get_kernels("auto")
M128 = 1 << 128


def _u64(data, shape):
    n = int(np.prod(shape, dtype=np.int64))
    words = data.draw(st.lists(st.integers(0, (1 << 64) - 1) | st.sampled_from([0, (1 << 64) - 1]),
                               min_size=n, max_size=n))
    return np.array(words, dtype=np.uint64).reshape(shape)


@settings(max_examples=40, deadline=None)
@given(a=st.integers(0, 2), nbits=st.integers(0, 128), w=st.integers(0, 3), data=st.data())
def test_weighted128(a, nbits, w, data):
    v = _u64(data, (a, nbits, w, 2))
    got = C.spdz_weighted128(v)
    assert np.array_equal(got, _ref.spdz_weighted128(v))
    as_int = v[..., 0].astype(object) + (v[..., 1].astype(object) << 64)
    for i in range(a):
        for j in range(w):
            want = sum(int(as_int[i, k, j]) << k for k in range(nbits)) % M128
            assert int(got[i, j, 0]) + (int(got[i, j, 1]) << 64) == want


@settings(max_examples=40, deadline=None)
@given(a=st.integers(0, 2), nbits=st.integers(0, 128), w=st.integers(0, 3), data=st.data())
def test_untrim128_inverts_the_trimming(a, nbits, w, data):
    d = _u64(data, (a, nbits, w, 2))
    raw = trim128(d) if d.size else np.zeros(spdz_trimmed128_bytes(a, nbits, w), dtype=np.uint8)
    assert raw.size == spdz_trimmed128_bytes(a, nbits, w)
    got = C.spdz_untrim128(raw, a, nbits, w)
    assert np.array_equal(got, _ref.spdz_untrim128(raw, a, nbits, w))
    # what is kept is exactly what survives the weight 2^k: equal after the weighting
    assert np.array_equal(C.spdz_weighted128(got), C.spdz_weighted128(d))


@pytest.mark.parametrize("k", [C, _ref], ids=["compiled", "ref"])
def test_bad_arguments_are_kernel_errors(k):
    with pytest.raises(KernelError, match="v: expected"):
        k.spdz_weighted128(np.zeros((2, 129, 1, 2), dtype=np.uint64))
    with pytest.raises(KernelError, match="raw: expected"):
        k.spdz_untrim128(np.zeros(5, dtype=np.uint8), 1, 4, 1)
    with pytest.raises(KernelError, match="nbits"):
        k.spdz_untrim128(np.zeros(0, dtype=np.uint8), 1, 129, 0)
