"""mpc.sharing: additive shares over Z_2^64 and PRSS sharings without communication."""

import numpy as np
import pytest

from mpc.prg import PRG, new_seed
from mpc.sharing import reconstruct, zero_sharing


def test_reconstruct_sums_and_checks_shapes():
    a, b = PRG.fresh().uint64((5,)), PRG.fresh().uint64((5,))
    np.testing.assert_array_equal(reconstruct([a, b]), a + b)
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
