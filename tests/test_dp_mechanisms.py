"""mpc.dp.mechanisms against plaintext: the exact query plus noise of the stated law, the grid,
the accountant charged first, and over-budget queries refused before any byte is sent."""

from __future__ import annotations

import numpy as np
import pytest
from test_dp_samplers import assert_law, gaussian_pmf, laplace_pmf

import mpc
from mpc.dp import ZCDP, Accountant, PrivacyBudgetExceeded, PureDP
from mpc.dp import mechanisms as M
from mpc.testing import run_local

BIG = 1e12  # budgets that never bind


def _same(out):
    for o in out[1:]:
        for a, b in zip(o if isinstance(o, tuple) else (o,), out[0] if isinstance(out[0], tuple) else (out[0],),
                        strict=True):
            np.testing.assert_array_equal(a, b)
    return out[0]


@pytest.mark.parametrize("parties", [2, 3])
def test_laplace_mechanism_noise_law_on_an_integer_query(parties):
    """Int64 query 0 on n = 2^13 coordinates with L1 sensitivity n and epsilon n/2: the noise
    on every coordinate is DLap(n / (n/2)) = DLap(2)."""
    n = 1 << 13

    def main(party):
        x = party.input(np.zeros(n, dtype=np.int64), owner=0, dtype=mpc.Int64()) if party.pid == 0 else \
            party.input(owner=0, shape=(n,), dtype=mpc.Int64())
        acct = Accountant(BIG)
        return M.laplace_mechanism(party, x, sensitivity=n, epsilon=n / 2, accountant=acct)
    assert_law(lambda: _same(run_local(main, parties)), lambda s: laplace_pmf(2.0, s))


def test_gaussian_mechanism_noise_law_and_charge():
    n = 1 << 13

    def main(party):
        x = mpc.stack(party.input(np.full(n, 5, dtype=np.int64), dtype=mpc.Int64())).sum(axis=0)  # 10
        acct = Accountant(BIG, 1e-6)
        # L2 sensitivity sqrt(n) -> sigma = sqrt(n) / sqrt(2 rho) = 3 with rho = n / 18
        out = M.gaussian_mechanism(party, x, sensitivity=np.sqrt(n), rho=n / 18, accountant=acct)
        return out, acct.events
    (out, events), _ = run_local(main, 2)
    assert_law(lambda: run_local(main, 2)[0][0] - 10, lambda s: gaussian_pmf(3.0, s), out - 10)
    ((event, count),) = events.items()
    assert isinstance(event, ZCDP) and count == 1 and event.rho == pytest.approx(n / 18, rel=1e-9)


def test_fixed_queries_are_released_on_the_grid_and_near_the_value():
    def main(party):
        x = mpc.stack(party.input(np.array([1.2345, -3.5, 100.0])))  # (2, 3)
        acct = Accountant(BIG, 1e-6)
        a = M.laplace_mechanism(party, x.sum(axis=0), sensitivity=1, epsilon=1e4, accountant=acct, granularity=8)
        b = M.noisy_sum(party, x, lower=-2, upper=50, epsilon=1e4, accountant=acct)
        c = M.noisy_mean(party, x.reshape(-1), lower=-2, upper=50, rho=1e8, accountant=acct, granularity=10)
        return a, b, c
    a, b, c = _same(run_local(main, 2))
    want = 2 * np.array([1.2345, -3.5, 100.0])
    assert np.all(a * 256 == np.round(a * 256))  # multiples of 2^-8
    np.testing.assert_allclose(a, want, atol=2 * 2**-8 + 1e-3)
    # default grid: sensitivity 52 over 3 coordinates -> 2^-1 (52 * 2 >= 32 * 3): within 2 grid units
    np.testing.assert_allclose(b, 2 * np.array([1.2345, -2.0, 50.0]), atol=1.0)
    assert np.all(b * 2 == np.round(b * 2))
    assert np.ndim(c) == 0 and c == pytest.approx(2 * (1.2345 - 2 + 50) / 6, abs=0.05)


@pytest.mark.parametrize("parties", [2, 3])
def test_histogram_count_and_argmax_against_plaintext(parties):
    votes = [np.array([0, 1, 1, 3, 9, -1]), np.array([2, 2, 2, 0, 1, 1]), np.array([3, 3, 3, 3, 0, 2])][:parties]

    def main(party):
        v = mpc.concatenate(party.input(votes[party.pid], dtype=mpc.Int64()))
        acct = Accountant(BIG, 1e-6)
        h = M.noisy_histogram(party, v, bins=4, epsilon=1e5, accountant=acct)
        hg = M.noisy_histogram(party, v, bins=4, rho=1e6, accountant=acct, noise_kind="distributed",
                               honest_parties=1)
        c = M.noisy_count(party, v > 1, epsilon=1e5, accountant=acct)
        scores = mpc.stack(party.input(np.array([3.0, 7.0, 5.0]) + party.pid)).sum(axis=0)
        r = M.report_noisy_max(party, scores, sensitivity=1, epsilon=1e4, accountant=acct)
        e = M.exponential_mechanism(party, scores, sensitivity=1, epsilon=1e4, accountant=acct)
        return h, hg, c, r, e
    h, hg, c, r, e = _same(run_local(main, parties))
    allv = np.concatenate(votes)
    want = np.array([np.sum(allv == k) for k in range(4)])
    np.testing.assert_array_equal(h, want)  # noise scale 2e-5: zero with overwhelming probability
    assert np.abs(hg - want).max() <= 2
    assert c == np.sum(allv > 1)
    assert r == 1 and e == 1


def test_report_noisy_max_picks_by_the_noisy_law():
    """Two scores 1 apart, epsilon = 2 (noise scale 1): the larger wins with probability
    P(1 + Z1 > Z0) = 0.640 (ties go to index 0); of 40 runs, between 15 and 38 (two-sided
    binomial tail 1.8e-4): a noiseless argmax (40 wins) fails."""
    def main(party):
        acct = Accountant(BIG)
        wins = 0
        for _ in range(40):
            s = party.input(np.array([0, 1], dtype=np.int64) if party.pid == 0 else None, owner=0, shape=(2,),
                            dtype=mpc.Int64())
            wins += M.report_noisy_max(party, s, sensitivity=1, epsilon=2, accountant=acct)
        return wins
    wins = _same(run_local(main, 2))
    assert 15 <= wins <= 38


def test_over_budget_queries_send_nothing():
    def main(party):
        x = mpc.stack(party.input(np.array([1.0, 2.0, 3.0])))
        v = mpc.concatenate(party.input(np.array([0, 1, 2]), dtype=mpc.Int64()))
        acct = Accountant(1.0, 1e-6, method="basic")
        M.laplace_mechanism(party, x.sum(axis=0), sensitivity=1, epsilon=0.75, accountant=acct)
        mask = v > 0  # the user's own comparison: before the counters are read
        before = party.stats()["total"]
        refused = []
        for call in (
            lambda: M.laplace_mechanism(party, x.sum(axis=0), sensitivity=1, epsilon=0.5, accountant=acct),
            lambda: M.noisy_sum(party, x, lower=0, upper=2, epsilon=0.5, accountant=acct),
            lambda: M.noisy_mean(party, x.reshape(-1), lower=0, upper=2, epsilon=0.5, accountant=acct),
            lambda: M.noisy_histogram(party, v, bins=3, epsilon=0.5, accountant=acct),
            lambda: M.noisy_count(party, mask, epsilon=0.5, accountant=acct),
            lambda: M.report_noisy_max(party, x[0], sensitivity=1, epsilon=0.5, accountant=acct),
            lambda: M.exponential_mechanism(party, x[0], sensitivity=1, epsilon=0.5, accountant=acct),
            lambda: M.gaussian_mechanism(party, x[0], sensitivity=1, rho=0.1, accountant=acct),
        ):
            try:
                call()
            except PrivacyBudgetExceeded:
                refused.append(True)
        after = party.stats()["total"]
        return refused, before, after, acct.events
    (refused, before, after, events), _ = run_local(main, 2)
    assert len(refused) == 8
    assert after["bytes_sent"] == before["bytes_sent"] and after["rounds"] == before["rounds"]
    assert events == {PureDP(0.75): 1}


def test_mechanism_argument_errors():
    def main(party):
        x = mpc.stack(party.input(np.array([1.0, 2.0])))
        acct = Accountant(BIG, 1e-6)
        errs = []
        for call in (
            lambda: M.noisy_sum(party, x, lower=3, upper=1, epsilon=1, accountant=acct),
            lambda: M.noisy_sum(party, x, lower=0, upper=1, accountant=acct),
            lambda: M.laplace_mechanism(party, x, sensitivity=1, epsilon=1, accountant=None),
            lambda: M.gaussian_mechanism(party, x, sensitivity=1, rho=1, accountant=acct, noise_kind="distributed"),
            lambda: M.laplace_mechanism(party, x, sensitivity=1, epsilon=1, accountant=acct, granularity=17),
        ):
            try:
                call()
            except mpc.MPCError as exc:
                errs.append(type(exc).__name__)
        return errs, party.stats()["total"]["bytes_sent"]
    (errs, _), _ = run_local(main, 2)
    assert errs == ["ConfigError"] * 5
