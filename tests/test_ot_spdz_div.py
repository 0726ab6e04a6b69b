"""Dealer-free division tuples and truncating-product tuples under spdz2k
(``engine="spdz2k", preprocessing="ot"``: mpc.preprocessing.ot_spdz_div, mpc.preprocessing.div_circuit).

- Material, 2 and 3 parties: every reconstructed division tuple has q = r64 // d and
  msb = r64 >> 63 for d in 3, 5, 7, 10, 1000, 2^40 + 1, 2^62 - 1 (the largest divisor a request
  may name; 2^63 - 1 is out of a request's range) and 4 (a power of two: the engine takes trunc
  tuples for those, but the kind allows it), r uniform in Z_2^128 (its upper word too);
  every tmul / tsquare tuple has A = r64 >> k, M = msb(r64) and the products right mod 2^64 (k2 = 0, k1 + k2 > 64 and the square among them);
  every MAC satisfies sum m_i = alpha v mod 2^128 (tests/_tamper.py's ``opened``).
- A short batch (fewer accepted candidates than asked) is topped up by further batches.
- End to end against NumPy (hypothesis, few examples: the material is slow): Fixed-point division
  by public integers that are not powers of two, a public non-integral factor of a pending product
  (a division), mean over 3 elements, truncating products and squares of pending products (one
  round each, from tmul / tsquare tuples), 2 and 3 parties.
- Cheating: a party that adds an offset to its share of one opening of the new protocols (a
  product's Beaver opening, a gate's opening, an opened accept bit) makes every honest party raise
  CheatingDetected.
"""

import secrets

import numpy as np
import pytest
from _tamper import M128, all_caught, cheat_offline, opened, tamper_exchange
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from mpc.preprocessing import div_circuit
from mpc.preprocessing import ot_spdz_div as od
from mpc.preprocessing.base import Request
from mpc.testing import run_local

M64 = 1 << 64
DIVISORS = (3, 5, 7, 10, 1000, (1 << 40) + 1, (1 << 62) - 1, 4)  # a power of two too: d = 2^l
TMUL = ((16, 16), (40, 30), (20, 0))


@pytest.mark.parametrize(("n", "divisors", "tmul"), [(2, DIVISORS, TMUL), (3, (10, (1 << 62) - 1), TMUL[1:2])])
def test_material_is_correct_and_authenticated(n, divisors, tmul):
    def main(p):
        pre = p.preprocessing
        plan = [Request("div", (d, 1), 128, True) for d in divisors]
        plan += [Request("tmul", (k1, k2, 2, 2), 128, True) for k1, k2 in tmul]
        plan.append(Request("tsquare", (12, 3), 128, True))
        pre.prefetch(plan)  # one batch
        return (pre.mac_key_share(), [pre.div_triples((1,), d, auth=True) for d in divisors],
                [pre.trunc_products((2, 2), k1, k2, auth=True) for k1, k2 in tmul],
                pre.trunc_squares((3,), 12, auth=True))

    res = run_local(main, n, engine="spdz2k", preprocessing="ot", timeout=300)
    alpha = sum(r[0] for r in res) % M128
    uppers = set()
    for j, d in enumerate(divisors):
        r, q, m = (opened(res, lambda x, i=i, j=j: x[1][j][i], alpha) for i in range(3))
        r64 = r % M64
        assert (q == r64 // d).all() and (m == r64 >> 63).all(), d
        uppers |= {int(x) >> 64 for x in r}
    assert len(uppers) == len(divisors)  # the upper word is uniform too
    for j, (k1, k2) in enumerate(tmul):
        t = res[0][2][j]
        c = {f: opened(res, lambda x, f=f, j=j: getattr(x[2][j], f), alpha)
             for f in t._fields if getattr(t, f) is not None}
        r1, r2 = c["r1"] % M64, c["r2"] % M64
        a1, m1 = r1 >> k1, r1 >> 63
        a2 = r2 >> k2 if k2 else r2
        assert (c["a1"] == a1).all() and (c["m1"] == m1).all() and (c["a2"] % M64 == a2).all()
        assert ((c["a1a2"] - a1 * a2) % M64 == 0).all() and ((c["m1a2"] - m1 * a2) % M64 == 0).all()
        if k2:
            m2 = r2 >> 63
            assert (c["m2"] == m2).all() and ((c["a1m2"] - a1 * m2) % M64 == 0).all()
            assert ("m1m2" in c) == (k1 + k2 > 64)
            if "m1m2" in c:
                assert ((c["m1m2"] - m1 * m2) % M64 == 0).all()
    c = {f: opened(res, lambda x, f=f: getattr(x[3], f), alpha) for f in res[0][3]._fields}
    r = c["r"] % M64
    a, m = r >> 12, r >> 63
    assert (c["a"] == a).all() and (c["m"] == m).all()
    assert ((c["aa"] - a * a) % M64 == 0).all() and ((c["am"] - a * m) % M64 == 0).all()


def test_circuit_constants_and_acceptance():
    """The circuit's bit widths and acceptance (at least 1/4) for the divisors of the tests."""
    for d in DIVISORS:
        c = div_circuit.constants(d)
        assert c.q_big * d + c.r_big == M64 and c.q_half * d + c.r_half == M64 // 2
        assert 0.25 <= div_circuit.acceptance(c) <= 1.0 and (1 << c.small_l) >= d
        assert od.candidates(d, 100) * div_circuit.acceptance(c) > 100


def test_a_short_batch_is_topped_up(monkeypatch):
    """With one candidate per batch, a request for 3 tuples takes several batches (one per
    candidate, about half of them accepted for d = 3), and every tuple is still right."""
    monkeypatch.setattr(od, "candidates", lambda d, count: 1)

    def main(p):
        t = p.preprocessing.div_triples((3,), 3, auth=True)
        return p.preprocessing.mac_key_share(), t, p.preprocessing.made["auth_batches"]

    res = run_local(main, 2, engine="spdz2k", preprocessing="ot", timeout=120)
    alpha = sum(r[0] for r in res) % M128
    r, q, m = (opened(res, lambda x, i=i: x[1][i], alpha) for i in range(3))
    assert r.shape == (3,) and (q == (r % M64) // 3).all() and (m == (r % M64) >> 63).all()
    assert res[0][2] >= 3 and res[0][2] == res[1][2]


def test_empty_requests():
    def main(p):
        pre = p.preprocessing
        return ([a.shape for a in pre.div_triples((0, 3), 3, auth=True)],
                pre.trunc_products((2, 0), 16, 0, auth=True).a1a2.shape, pre.trunc_squares((0,), 5, auth=True).am.shape)

    assert run_local(main, 2, engine="spdz2k", preprocessing="ot") == [([(0, 3)] * 3, (2, 0), (0,))] * 2


# ---------------------------------------------------------------------- end to end

def _run(n: int, x: np.ndarray, y: np.ndarray, d: int):
    def ops(a, b):
        u, v = a * b, b * a  # pending truncations: u * v from a tmul tuple, u^2 from a tsquare
        return a / d, a / -d, u * 0.3, a.mean(), u * v, u.square(), u * b

    def main(p):
        a = p.input(x if p.pid == 0 else None, owner=0, shape=x.shape)
        b = p.input(y if p.pid == n - 1 else None, owner=n - 1, shape=y.shape)
        p.preprocess(p.dry_run(ops, a, b))  # the material of every op in one batch
        return p.reveal(*ops(a, b))

    out = run_local(main, n, engine="spdz2k", preprocessing="ot", timeout=300)
    # the reference takes the inputs as encoded (Fixed(16)): an input's rounding error times the
    # other operand (up to 2^-17 * 2^6) is not the protocol's and would exceed the tolerances
    x, y = np.rint(x * 2**16) / 2**16, np.rint(y * 2**16) / 2**16
    p = x * y
    want = [x / d, x / -d, p * 0.3, x.mean(), p * p, p * p, p * y]
    tol = [2.0**-14] * 4 + [2.0**-10, 2.0**-10, 2.0**-12]
    for got in out:
        for g, w, t in zip(got, want, tol, strict=True):
            assert np.all(np.abs(np.asarray(g) - w) <= t * (1 + np.abs(w))), (g, w)


def test_division_and_truncating_products_edge_values():
    x = np.array([0.0, -1.0, 2.0**10, -(2.0**10) + 2.0**-16])
    y = np.array([2.0**-16, -3.5, -0.75, 7.25])
    _run(2, x, y, 7)


def test_three_parties_divide_and_fold_truncations():
    x, y = np.array([-5.5, 2.0**10]), np.array([3.25, -(2.0**-8)])

    def main(p):
        a = p.input(x if p.pid == 0 else None, owner=0, shape=x.shape)
        b = p.input(y if p.pid == 2 else None, owner=2, shape=y.shape)
        u, v = a * b, b * a
        p.preprocess(p.dry_run(lambda a, u, v: (a / 3, u * v, u.square()), a, u, v))
        return p.reveal(a / 3, u * v, u.square())

    w = (x * y) ** 2
    for q, uv, uu in run_local(main, 3, engine="spdz2k", preprocessing="ot", timeout=300):
        assert np.all(np.abs(q - x / 3) <= 2.0**-14) and np.all(np.abs(uu - w) <= 2.0**-10 * (1 + w))
        assert np.all(np.abs(uv - w) <= 2.0**-10 * (1 + w))


fixed = st.floats(-(2.0**6), 2.0**6, allow_nan=False, allow_infinity=False)


@settings(max_examples=2, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(xs=st.lists(fixed, min_size=3, max_size=3), ys=st.lists(fixed, min_size=3, max_size=3),
       d=st.sampled_from([3, 10, 12345]))
@example(xs=[48.0, 0.0, 0.0], ys=[0.001, 0.0, 0.0], d=3)  # failed when the reference took 0.001 unencoded
def test_division_and_truncating_products_random(xs, ys, d):
    _run(2, np.array(xs), np.array(ys), d)


# ---------------------------------------------------------------------- cheating

def _tamper_opening(pick):
    """Add a random nonzero offset to one random element of the first exchange ``pick(arr)`` selects."""
    offset = 1 + secrets.randbelow(M128 - 1)
    return lambda pre: tamper_exchange(pre, pick, None, offset)


@pytest.mark.parametrize("what", ["tmul", "tsquare"])
def test_wrong_product_opening_is_caught(what):
    """The cheater changes its share of one eps/delta of the truncating products' Beaver round."""
    n = 2 + secrets.randbelow(2)
    cheater = secrets.randbelow(n)
    size = 6 if what == "tmul" else 2 * 5  # tmul (16, 16): 3 products x 2 elements; tsquare: 2 x 5
    take = ((lambda pre: pre.trunc_products((2,), 16, 16, auth=True)) if what == "tmul"
            else (lambda pre: pre.trunc_squares((5,), 12, auth=True)))
    # the products' opening: 2 x (products x elements) values, after the bits' own rounds
    all_caught(cheat_offline(n, cheater, _tamper_opening(lambda a: a.shape == (2 * size, 2)), take), cheater)


@pytest.mark.parametrize("which", ["gate", "accept"])
def test_wrong_division_opening_is_caught(which):
    """The cheater changes its share of one opening of the division circuit: a gate's Beaver
    opening (the layer with 8K values: the q chains) or an opened accept bit (K values; also an
    offset that keeps it a bit: offset 1 on a 0, or -1 on a 1, flips the decision)."""
    n = 2 + secrets.randbelow(2)
    cheater = secrets.randbelow(n)
    kk = od.candidates(3, 1)
    shape = (8 * kk, 2) if which == "gate" else (kk, 2)
    res = cheat_offline(n, cheater, _tamper_opening(lambda a: a.shape == shape),
                 lambda pre: pre.div_triples((1,), 3, auth=True))
    all_caught(res, cheater)


def test_flipping_an_accept_bit_is_caught():
    """Offset +1 on the first accept bit: a rejected candidate smuggled in (0 -> 1, still a bit:
    only the MAC check can see it) or a non-bit (1 -> 2)."""
    n, cheater = 2, 1
    kk = od.candidates(5, 1)

    def tamper(pre):
        tamper_exchange(pre, lambda arr: arr.shape == (kk, 2), 0, 1)

    all_caught(cheat_offline(n, cheater, tamper, lambda pre: pre.div_triples((1,), 5, auth=True)), cheater)
