"""Truncation accuracy: 10^7 fixed-point products of values in [-2^10, 2^10], 2 and 3 parties,
semi2k and spdz2k.

Requirement: no truncated product is off by more than 2^-(f-2) from the exact product of the
encoded inputs (CrypTen's local truncation is off by about 1.0 on ~3 per 10^6 elements). The
semi2k truncation is exact up to one unit in the last place, with no wrap-around at all; so is
spdz2k's (the same method on authenticated shares: ``Spdz2k.divide_steps``), which runs here too.
Uses the compiled kernels when they are built (``get_kernels()`` picks them up).
"""

import numpy as np
import pytest

import mpc
from mpc.testing import run_local

F = 16
TOTAL = 10**7
BATCH = 2_500_000


@pytest.mark.parametrize("n", [2, 3])
@pytest.mark.parametrize("engine", ["semi2k", "spdz2k"])
def test_ten_million_truncated_products(n, engine):
    def main(p):
        gen = np.random.default_rng(1234 + p.pid)  # test data only; owners draw their own inputs
        worst, count = 0.0, 0
        for _ in range(TOTAL // BATCH):
            xv = gen.uniform(-1024, 1024, BATCH) if p.pid == 0 else None
            yv = gen.uniform(-1024, 1024, BATCH) if p.pid == n - 1 else None
            x = p.input(xv, owner=0, shape=(BATCH,), dtype=mpc.Fixed(F))
            y = p.input(yv, owner=n - 1, shape=(BATCH,), dtype=mpc.Fixed(F))
            z = p.reveal((x * y).truncate(), to=0)
            if p.pid == 0:
                # the exact product of the encoded inputs, recomputed at party 0 from the values
                # party n-1 shares with it below (test-only plaintext check)
                xs = np.rint(xv * 2.0**F)
                other = p.channel.recv(n - 1, p.channel.next_tag())
                ys = np.rint(other * 2.0**F)
                exact = (xs * ys) / 2.0 ** (2 * F)  # |xs*ys| < 2^52: exact in float64
                err = np.abs(z - exact)
                worst = max(worst, float(err.max()))
                count += int(np.count_nonzero(err > 2.0 ** -(F - 2)))
            elif p.pid == n - 1:
                p.channel.send(0, yv, p.channel.next_tag())
            else:
                p.channel.next_tag()
        return worst, count

    worst, bad = run_local(main, n, engine=engine, timeout=120)[0]
    assert bad == 0
    assert worst <= 2.0**-F  # one unit in the last place at most
