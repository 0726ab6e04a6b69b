"""mpc.dp.subsample: secret Bernoulli(q) bits for Poisson sampling, 2 and 3 parties.

The frequency of the revealed bits (revealed by the test only) is checked against q with a
binomial bound: |count - n q| <= 5 sqrt(n q (1 - q)) (two-sided alpha ~ 6e-7 per rate); the
same bits are checked to fail that bound for a rate 0.05 away (the test has power). The
transcript does not depend on the bits: bytes and rounds per call are the same for every call.
"""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest

from mpc.dp import subsample
from mpc.errors import ConfigError
from mpc.testing import run_local

N = 20_000
RATES = (0.15, Fraction(3, 8), Fraction(64, 426), Fraction(1, 1000), 1)


def _within(count: int, n: int, q: float, k: float = 5.0) -> bool:
    return abs(count - n * q) <= k * np.sqrt(n * q * (1 - q)) + 1e-9


@pytest.mark.parametrize("parties", [2, 3])
def test_bernoulli_mask_frequency_and_transcript(parties):
    def main(p):
        out = []
        for rate in RATES:
            before = p.stats()["total"]
            mask = subsample.bernoulli_mask(p, rate, N)
            after = p.stats()["total"]
            cost = (after["bytes_sent"] - before["bytes_sent"], after["rounds"] - before["rounds"])
            out.append((p.reveal(mask), cost, mask.shape, type(mask.dtype).__name__))
        again = subsample.bernoulli_mask(p, RATES[0], N)
        return out, p.reveal(again)
    results = run_local(main, parties, timeout=120)
    (out, again) = results[0]
    for other, other_again in results[1:]:
        for (v, _, _, _), (w, _, _, _) in zip(out, other, strict=True):
            np.testing.assert_array_equal(v, w)  # one sharing, the same bits for every party
        np.testing.assert_array_equal(again, other_again)
    for rate, (bits, _, shape, dtype) in zip(RATES, out, strict=True):
        q = float(subsample.sampled_rate(rate))
        assert shape == (N,) and dtype == "Int64"
        assert set(np.unique(bits).tolist()) <= {0, 1}
        assert _within(int(bits.sum()), N, q), (rate, bits.sum())
        if 0 < q < 1:
            assert not _within(int(bits.sum()), N, q + 0.05)  # power: a rate 0.05 higher is rejected
    # two draws at the same rate are independent: the correlation is within 5 / sqrt(N)
    first = out[0][0].astype(float)
    assert abs(np.corrcoef(first, again.astype(float))[0, 1]) < 5 / np.sqrt(N)
    # the transcript's size does not depend on the bits: every party, the same per call with
    # the same number of random bits (k = 64 for every rate here but 0.15, 3/8 and q = 1)
    costs = {rate: [r[0][i][1] for r in results] for i, rate in enumerate(RATES)}
    assert costs[1] == [(0, 0)] * parties  # q = 1: every record, nothing drawn, nothing sent
    for rate in RATES[:-1]:
        assert costs[rate][0][1] > 0 and len({c[1] for c in costs[rate]}) == 1


def test_bernoulli_mask_transcript_is_the_same_whatever_the_bits():
    """Five calls at one rate draw different bits and send exactly the same bytes in the same
    rounds: nothing about who is sampled, nor how many, shapes the transcript."""
    def main(p):
        seen = []
        for _ in range(5):
            before = p.stats()["total"]
            mask = subsample.bernoulli_mask(p, Fraction(1, 4), 300)
            after = p.stats()["total"]
            seen.append((after["bytes_sent"] - before["bytes_sent"], after["rounds"] - before["rounds"],
                         after["messages_sent"] - before["messages_sent"]))
            seen[-1] += (int(p.reveal(mask).sum()),)
        return seen
    for seen in run_local(main, 2):
        assert len({s[:3] for s in seen}) == 1
        assert len({s[3] for s in seen}) > 1  # the batch sizes differed


def test_dyadic_rates():
    assert subsample.dyadic_rate(0.5) == (1, 1)
    assert subsample.dyadic_rate(Fraction(3, 8)) == (3, 3)
    m, k = subsample.dyadic_rate(0.15)  # a float is its exact dyadic value
    assert Fraction(m, 1 << k) == Fraction(0.15)
    m, k = subsample.dyadic_rate(Fraction(1, 3))  # rounded down to 2^-64
    assert k == 64 and m == (1 << 64) // 3
    assert 0 < Fraction(1, 3) - subsample.sampled_rate(Fraction(1, 3)) < Fraction(1, 1 << 64)
    assert subsample.dyadic_rate(1) == (1, 0)
    for bad in (0, -0.1, 1.5, float("nan"), "x", 2.0**-70):
        with pytest.raises(ConfigError, match="sample_rate"):
            subsample.dyadic_rate(bad)
