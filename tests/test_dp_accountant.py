"""mpc.dp.rdp and mpc.dp.Accountant against dp-accounting (test-only oracle), numerical
integration and closed forms; budget enforcement."""

from __future__ import annotations

import math

import numpy as np
import pytest

from mpc.dp import rdp
from mpc.dp.accountant import ZCDP, Accountant, ApproxDP, PureDP, SampledGaussian
from mpc.errors import ConfigError, PrivacyBudgetExceeded

dpa = pytest.importorskip("dp_accounting", reason="dp-accounting is the dp-test extra (make test installs it)")
from dp_accounting.rdp import rdp_privacy_accountant as dpa_rdp  # noqa: E402
from scipy import integrate  # noqa: E402  (a dependency of dp-accounting)

INT_ORDERS = tuple(float(a) for a in range(2, 64)) + (128.0, 256.0)
GRID = [(q, s) for q in (1e-3, 0.01, 0.1, 0.5) for s in (0.5, 0.8, 1.1, 2.0, 5.0)]


@pytest.mark.parametrize("q, sigma", GRID)
def test_sampled_gaussian_rdp_matches_dp_accounting(q, sigma):
    """Integer orders, where both compute A_alpha exactly: within 1e-6 relative, and the
    epsilons after 1, 100 and 10000 steps at delta = 1e-5 as well."""
    mine = np.array(rdp.sampled_gaussian(q, sigma, INT_ORDERS))
    ref = dpa_rdp._compute_rdp_poisson_subsampled_gaussian(q, sigma, INT_ORDERS)
    np.testing.assert_allclose(mine, ref, rtol=1e-6)
    for steps in (1, 100, 10_000):
        acct = dpa_rdp.RdpAccountant(list(INT_ORDERS))
        acct.compose(dpa.PoissonSampledDpEvent(q, dpa.GaussianDpEvent(sigma)), steps)
        want = acct.get_epsilon(1e-5)
        got = rdp.to_epsilon(list(mine * steps), 1e-5, INT_ORDERS)[0]
        assert got == pytest.approx(want, rel=1e-6, abs=1e-12)


def _direct(q: float, s: float, a: float) -> float:
    """RDP by numerical integration of E_{N(0,s^2)}[((1-q) + q e^{(2z-1)/(2s^2)})^a], scaled."""
    def lf(z):
        x = (2 * z - 1) / (2 * s * s)
        inner = math.log1p(-q) + math.log1p(q / (1 - q) * math.exp(x)) if x < 700 else math.log(q) + x
        return -z * z / (2 * s * s) - math.log(s * math.sqrt(2 * math.pi)) + a * inner
    zs = np.linspace(-40 * s, 40 * s + a + 5, 4001)
    vals = [lf(z) for z in zs]
    peak = max(vals)
    v, _ = integrate.quad(lambda z: math.exp(lf(z) - peak), zs[0], zs[-1], limit=1000, epsabs=0, epsrel=1e-12,
                          points=[0.5 + s * s * math.log(1 / q - 1), zs[int(np.argmax(vals))]])
    return (math.log(v) + peak) / (a - 1)


@pytest.mark.parametrize("q, sigma, order", [(0.01, 1.0, 1.5), (0.01, 1.0, 2.5), (0.1, 2.0, 1.1), (0.1, 1.0, 7.3),
                                             (0.5, 4.0, 3.5), (0.9, 1.5, 1.7), (0.05, 0.8, 12.5)])
def test_fractional_orders_match_numerical_integration(q, sigma, order):
    """Fractional orders: dp-accounting 0.6 sums the series' absolute values (an upper bound),
    so the oracle here is the integral itself (RDP values > 1e-5, where quad is accurate)."""
    got = rdp.sampled_gaussian(q, sigma, [order])[0]
    assert got == pytest.approx(_direct(q, sigma, order), rel=1e-6)
    assert got <= dpa_rdp._compute_rdp_poisson_subsampled_gaussian(q, sigma, [order])[0] * (1 + 1e-9)


def test_slow_series_falls_back_to_a_valid_upper_bound(monkeypatch):
    q, s, a = 0.1, 1.0, 2.5
    exact = rdp.sampled_gaussian(q, s, [a])[0]
    monkeypatch.setattr(rdp, "_MAX_TERMS", 1)  # no convergence: the convexity bound
    bound = rdp.sampled_gaussian(q, s, [a])[0]
    lo, hi = rdp.sampled_gaussian(q, s, [2.0, 3.0])
    assert exact < bound <= max(lo, hi)


def test_gaussian_and_pure_closed_forms():
    assert rdp.sampled_gaussian(1.0, 2.0, [3.0]) == [3.0 / 8]
    assert rdp.sampled_gaussian(0.0, 2.0, [3.0]) == [0.0]
    assert rdp.pure(0.1, [2.0, 100.0]) == [pytest.approx(0.01), 0.1]


def test_published_conversions():
    """Closed forms from the papers: Bun-Steinke rho -> (rho + 2 sqrt(rho ln 1/delta), delta);
    Kairouz-Oh-Viswanath / DRV advanced composition of 100 x (0.1, 0)-DP at delta' = 1e-6:
    sqrt(200 ln 1e6) 0.1 + 10 (e^0.1 - 1) = 6.30823; basic: 10."""
    a = Accountant(100, 1e-6, method="zcdp")
    a.charge(ZCDP(0.5))
    assert a.spent()[0] == pytest.approx(0.5 + 2 * math.sqrt(0.5 * math.log(1e6)))
    b = Accountant(100, 1e-6, method="advanced")
    b.charge(PureDP(0.1), count=100)
    assert b.spent()[0] == pytest.approx(6.30823, abs=1e-5)
    c = Accountant(100, 1e-6, method="basic")
    c.charge(PureDP(0.1), count=100)
    assert c.spent()[0] == pytest.approx(10.0)
    d = Accountant(100, 1e-6)  # best of all: advanced beats basic; zCDP/RDP beat both here
    d.charge(PureDP(0.1), count=100)
    assert d.spent()[0] <= 6.30823


def test_dp_sgd_epsilon_matches_dp_accounting_end_to_end():
    """A DP-SGD schedule (q = 256/60000, sigma = 1.1, 60 epochs) charged step by step in the
    accountant's default orders: epsilon at delta = 1e-5 equals dp-accounting's on the same
    integer orders or is below it (the fractional orders can only help), within 1e-6."""
    q, sigma, steps = 256 / 60000, 1.1, 60 * 60000 // 256
    acct = Accountant(10.0, 1e-5, method="rdp")
    acct.charge(SampledGaussian(q, sigma), count=steps)
    ref = dpa_rdp.RdpAccountant(list(INT_ORDERS))
    ref.compose(dpa.PoissonSampledDpEvent(q, dpa.GaussianDpEvent(sigma)), steps)
    int_only = Accountant(10.0, 1e-5, method="rdp", orders=INT_ORDERS)
    int_only.charge(SampledGaussian(q, sigma), count=steps)
    assert int_only.spent()[0] == pytest.approx(ref.get_epsilon(1e-5), rel=1e-6)
    assert acct.spent()[0] <= int_only.spent()[0] * (1 + 1e-9)
    assert 1.0 < acct.spent()[0] < 4.0


def test_over_budget_charge_raises_and_records_nothing():
    acct = Accountant(1.0, 0.0)
    acct.charge(PureDP(0.4))
    acct.charge(PureDP(0.4))
    with pytest.raises(PrivacyBudgetExceeded, match="over the budget"):
        acct.charge(PureDP(0.4))
    assert acct.spent() == (pytest.approx(0.8), 0.0)
    assert acct.events == {PureDP(0.4): 2}
    assert acct.remaining() == pytest.approx(0.2)
    acct.charge(PureDP(0.2))  # exactly to the budget is allowed
    with pytest.raises(PrivacyBudgetExceeded):
        acct.charge(ZCDP(1e-9))  # delta = 0: any zCDP event is unaffordable


def test_approximate_events_use_up_delta():
    acct = Accountant(10.0, 1e-5)
    acct.charge(ApproxDP(1.0, 6e-6))
    with pytest.raises(PrivacyBudgetExceeded):
        acct.charge(ApproxDP(1.0, 6e-6))  # deltas alone exceed 1e-5
    assert acct.epsilon_if(ZCDP(0.01)) < 10


def test_best_is_the_minimum_of_the_methods():
    events = [(PureDP(0.05), 50), (ZCDP(0.02), 3), (ApproxDP(0.1, 1e-7), 5)]
    values = {}
    for m in ("best", "zcdp", "rdp"):
        a = Accountant(1e9, 1e-5, method=m)
        for ev, c in events:
            a.charge(ev, count=c)
        values[m] = a.spent()[0]
    assert values["best"] == min(values["zcdp"], values["rdp"])
    for m in ("basic", "advanced"):  # zCDP events have no (advanced) composition epsilon
        a = Accountant(1e9, 1e-5, method=m)
        a.charge(PureDP(0.05), count=50)
        with pytest.raises(PrivacyBudgetExceeded, match="inf"):
            a.charge(ZCDP(0.02))


@pytest.mark.parametrize("bad", [-1, float("nan"), float("inf"), "x", True])
def test_bad_arguments(bad):
    with pytest.raises(ConfigError):
        Accountant(bad, 1e-5)
    with pytest.raises(ConfigError):
        PureDP(bad)
    with pytest.raises(ConfigError):
        Accountant(1.0).charge(PureDP(0.1), count=0)
    with pytest.raises(ConfigError, match="method"):
        Accountant(1.0, method="magic")
