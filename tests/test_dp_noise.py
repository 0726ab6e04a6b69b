"""mpc.dp.noise: the revealed joint and distributed noise has the stated law (2 and 3 parties;
semi2k, and a representative set under spdz2k).

Significance: the same chi-square and KS tests as tests/test_dp_samplers.py at alpha = 1e-4
each, on 2^14 samples (2 parties) or 2^12 (3 parties) instead of 10^6: MPC sampling is slower
in the test suite, and the tests' power is lower accordingly (they still reject a sigma 10%
off, checked below). The joint samplers' law is within total variation 2^-48 of the exact one
(2^-55 at sigma = 20) far below what any sample size here can see.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from test_dp_samplers import assert_law, assert_matches, gaussian_pmf, laplace_pmf

import mpc
from mpc.dp import noise
from mpc.errors import ConfigError
from mpc.testing import run_local


def _reveal(kind, param, n, parties=2, engine="semi2k", **kw):
    def main(party):
        if kind == "gaussian":
            x = noise.discrete_gaussian(party, param, (n,), **kw)
        elif kind == "laplace":
            x = noise.discrete_laplace(party, param, (n,), **kw)
        elif kind == "geometric":
            x = noise.geometric(party, param, (n,), **kw)
        elif kind == "binomial":
            x = noise.binomial(party, param, (n,), **kw)
        else:
            x = noise.distributed_discrete_gaussian(party, param, (n,), **kw)
        return party.reveal(x)
    out = run_local(main, parties, engine=engine)
    for o in out[1:]:
        np.testing.assert_array_equal(o, out[0])
    return out[0]


@pytest.mark.parametrize("sigma, parties", [(0.5, 2), (3, 2), (20, 2), (1.5, 3)])
def test_joint_discrete_gaussian_law(sigma, parties):
    n = 1 << 14 if parties == 2 else 1 << 12

    def draw():
        x = _reveal("gaussian", sigma, n, parties)
        assert x.dtype == np.int64 and x.shape == (n,)
        return x
    assert_law(draw, lambda s: gaussian_pmf(float(sigma), s))


def test_joint_sampler_test_has_power():
    x = _reveal("gaussian", 3, 1 << 14)
    with pytest.raises(AssertionError):
        assert_matches(x, lambda s: gaussian_pmf(3.3, s))


@pytest.mark.parametrize("scale, parties", [(0.5, 2), (2, 2), (1.25, 3)])
def test_joint_discrete_laplace_law(scale, parties):
    n = 1 << 14 if parties == 2 else 1 << 12
    assert_law(lambda: _reveal("laplace", scale, n, parties), lambda s: laplace_pmf(float(scale), s))


@pytest.mark.parametrize("coins, parties", [(16, 2), (10, 3), (2, 2)])
def test_binomial_law(coins, parties):
    n = 1 << 14 if parties == 2 else 1 << 12

    def pmf(s):
        k = s + coins // 2
        return np.array([math.comb(coins, int(v)) / 2**coins if 0 <= v <= coins else 0.0 for v in k])
    assert_law(lambda: _reveal("binomial", coins, n, parties), pmf)


@pytest.mark.parametrize("scale", [0.5, 3])
def test_joint_geometric_law(scale):
    """The one-sided noise of exponential_mechanism: P(k) = (1 - q) q^k, q = e^(-1/scale)."""
    q = math.exp(-1 / scale)
    assert_law(lambda: _reveal("geometric", scale, 1 << 14),
               lambda s: np.where(s >= 0, (1 - q) * q ** np.maximum(s, 0).astype(float), 0.0))


def test_bridge_word_alignment_is_checked():
    from mpc.dp import _bridge
    from mpc.errors import ShareTypeError

    def main(party):
        bits = _bridge.shared_random_bits(party, 100, 3)
        errors = 0
        for call in (lambda: _bridge.split_words(bits, 2), lambda: _bridge.join_words([bits, bits]),
                     lambda: _bridge.join_words([])):
            try:
                call()
            except ShareTypeError:
                errors += 1
        a = _bridge.shared_random_bits(party, 128, 3)
        joined = _bridge.join_words([a, bits])
        left, right = _bridge.split_words(_bridge.join_words([a, a ^ 5]), 2)
        va, vj, vl, vr, vb = party.reveal(a, joined, left, right, bits)
        return errors, vj.tolist() == va.tolist() + vb.tolist(), vl.tolist() == va.tolist(), (vr ^ 5).tolist() == va.tolist()
    out, _ = run_local(main, 2)
    assert out == (3, True, True, True)


@pytest.mark.parametrize("kind, param, parties", [("gaussian", 3, 2), ("gaussian", 1.5, 3), ("laplace", 2, 2),
                                                  ("binomial", 10, 3), ("geometric", 3, 2), ("distributed", 4, 2)])
def test_laws_under_spdz2k(kind, param, parties):
    """The samplers on spdz2k's authenticated shares and bits (actively secure: every opening
    MAC-checked) give the same laws: a representative set, 2 and 3 parties."""
    n = 1 << 14 if parties == 2 else 1 << 12
    kw = {"honest_parties": parties} if kind == "distributed" else {}
    if kind in ("gaussian", "distributed"):
        pmf = lambda s: gaussian_pmf(float(param), s)  # noqa: E731
    elif kind == "laplace":
        pmf = lambda s: laplace_pmf(float(param), s)  # noqa: E731
    elif kind == "binomial":
        pmf = lambda s: np.array([math.comb(param, int(v + param // 2)) / 2**param  # noqa: E731
                                  if 0 <= v + param // 2 <= param else 0.0 for v in s])
    else:
        q = math.exp(-1 / param)
        pmf = lambda s: np.where(s >= 0, (1 - q) * q ** np.maximum(s, 0).astype(float), 0.0)  # noqa: E731
    assert_law(lambda: _reveal(kind, param, n, parties, engine="spdz2k", **kw), pmf)


def test_distributed_gaussian_one_honest_party_has_n_times_the_variance():
    """honest_parties=1: every party adds a full N_Z(0, sigma^2); with 2 parties the sum is
    N_Z(0, 9) + N_Z(0, 9): variance 18 (within 5 standard errors)."""
    x = _reveal("distributed", 3, 1 << 14, honest_parties=1)
    assert abs(x.var() - 18) < 5 * 18 * math.sqrt(2 / x.size)


def test_distributed_gaussian_split_variance_is_the_target_law():
    """honest_parties=2 of 2: each adds N_Z(0, sigma^2 / 2), sigma = 4: the sum passes as
    N_Z(0, 16) (Kairouz-Liu-Steinke: the divergence is negligible at sigma^2/2 = 8)."""
    assert_law(lambda: _reveal("distributed", 4, 1 << 14, honest_parties=2), lambda s: gaussian_pmf(4.0, s))


def test_fixed_dtype_noise_at_a_granularity():
    def main(party):
        z = noise.discrete_gaussian(party, 3, (256,))
        f = noise.discrete_gaussian(party, 3, (256,), dtype=mpc.Fixed(16), granularity=4)
        return party.reveal(z, f)
    (z, f), _ = run_local(main, 2)
    assert np.all(f * 16 == np.round(f * 16))  # multiples of 2^-4 exactly
    assert np.abs(f).max() < 30 / 16 * 3 and np.abs(z).max() > 2


def test_bad_arguments_fail_before_any_message():
    def main(party):
        before = party.stats()["total"]["bytes_sent"]
        errors = []
        for call in (lambda: noise.binomial(party, 3, (4,)), lambda: noise.discrete_gaussian(party, -1, (4,)),
                     lambda: noise.discrete_laplace(party, 0, (4,)),
                     lambda: noise.distributed_discrete_gaussian(party, 3, (4,), honest_parties=3),
                     lambda: noise.distributed_discrete_gaussian(party, 1, (4,), honest_parties=2),
                     lambda: noise.discrete_gaussian(party, 3, (4,), dtype=mpc.Fixed(8), granularity=9)):
            try:
                call()
            except ConfigError as exc:
                errors.append(str(exc))
        return errors, party.stats()["total"]["bytes_sent"] - before
    (errors, sent), _ = run_local(main, 2)
    assert len(errors) == 6 and sent == 0
    assert "n_coins" in errors[0] and "sigma" in errors[1] and "honest_parties" in errors[3]


def test_tv_bounds_are_tiny():
    for kind, p in (("gaussian", 0.5), ("gaussian", 20), ("laplace", 0.5), ("laplace", 20), ("gaussian", 400)):
        assert noise.tv_bound(kind, p) < 2.0**-48
    assert noise.tv_bound("gaussian", 20) < 2.0**-55
