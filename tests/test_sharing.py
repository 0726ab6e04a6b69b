"""mpc.sharing: additive shares over Z_2^64 and PRSS sharings without communication."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mpc.prg import PRG, new_seed
from mpc.sharing import random_sharing, reconstruct, split, zero_sharing


@settings(max_examples=25, deadline=None)
@given(st.lists(st.integers(0, 2**64 - 1), max_size=20), st.integers(1, 5))
def test_split_reconstruct(values, n):
    v = np.array(values, dtype=np.uint64)
    shares = split(v, n, PRG.fresh())
    assert len(shares) == n
    np.testing.assert_array_equal(reconstruct(shares), v)


def test_split_rejects_non_ring_input():
    with pytest.raises(TypeError):
        split(np.arange(3), 2, PRG.fresh())
    with pytest.raises(ValueError):
        reconstruct([np.zeros(2, np.uint64), np.zeros(3, np.uint64)])


@pytest.mark.parametrize("n", [2, 3, 5])
def test_zero_sharing_sums_to_zero_and_is_random(n):
    seeds = {(i, j): new_seed() for i in range(n) for j in range(i + 1, n)}
    prgs = [{j: PRG(seeds[min(i, j), max(i, j)]) for j in range(n) if j != i} for i in range(n)]
    for _ in range(3):  # the streams stay aligned across calls
        shares = [zero_sharing(i, prgs[i], (4, 3)) for i in range(n)]
        np.testing.assert_array_equal(reconstruct(shares), np.zeros((4, 3), np.uint64))
        assert all(s.any() for s in shares)


def test_random_sharing_is_private_stream():
    a, b = random_sharing(PRG.fresh(), (8,)), random_sharing(PRG.fresh(), (8,))
    assert a.shape == (8,) and not np.array_equal(a, b)
