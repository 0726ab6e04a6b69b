"""Lockstep (mpc.engines.steps): independent protocols share their rounds, results unchanged.

Against NumPy on random inputs, 2 and 3 parties: a truncation, a truncating product, an AND layer
and an MSB circuit run in lockstep take max(rounds) rounds and give what each gives alone; relu of
a pending product folds its truncation into the comparison (8 rounds, scale f) under semi2k and the
cleartext engine (same costs), and keeps it pending under spdz2k (no lockstep there).
"""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from mpc.engines import steps
from mpc.errors import ProtocolError
from mpc.testing import run_local

F = 16


def _ring(a):
    return np.asarray(a, dtype=np.int64).view(np.uint64)


def test_lockstep_of_plain_generators_and_missing_exchange():
    def now(v):
        return v
        yield

    def one_round():
        parts = yield np.arange(3, dtype=np.uint64)
        return [p.sum() for p in parts]

    assert steps.lockstep([now(1), now(2)], None) == [1, 2]
    with pytest.raises(ProtocolError):
        steps.lockstep([now(1), one_round()], None)
    seen = []

    def fake(payload):
        seen.append(payload.copy())
        return [payload, payload + np.uint64(1)]

    assert steps.lockstep([one_round(), now(5), one_round()], fake) == [[3, 6], 5, [3, 6]]
    assert len(seen) == 1 and seen[0].size == 6  # both payloads in one message


def _shared(p, n, x, y, wx, wy):
    """The engine, its converter, x (party 0) and y (party n-1) as ring shares, and the 3 words
    wx (party 0) and wy (party 1) as XOR shares."""
    eng, conv = p.engine, p.engine.converter
    m = len(x)
    sx = eng.input(_ring(x) if p.pid == 0 else None, 0, (m,))
    sy = eng.input(_ring(y) if p.pid == n - 1 else None, n - 1, (m,))
    bx = conv.boolean.input(wx if p.pid == 0 else None, 0, (3,))
    by = conv.boolean.input(wy if p.pid == 1 else None, 1, (3,))
    return eng, conv, sx, sy, bx, by


@settings(max_examples=8, deadline=None)
@given(st.sampled_from([2, 3]), st.data())
def test_lockstep_matches_numpy_in_max_rounds(n, data):
    m = data.draw(st.integers(1, 40))
    big = st.integers(-(2**40), 2**40)
    x = data.draw(hnp.arrays(np.int64, m, elements=big))
    y = data.draw(hnp.arrays(np.int64, m, elements=st.integers(-(2**20), 2**20)))
    k = data.draw(st.integers(1, 20))
    wx = data.draw(hnp.arrays(np.uint64, 3, elements=st.integers(0, 2**64 - 1)))
    wy = data.draw(hnp.arrays(np.uint64, 3, elements=st.integers(0, 2**64 - 1)))

    def main(p):
        eng, conv, sx, sy, bx, by = _shared(p, n, x, y, wx, wy)
        with p.section("lockstep"):
            (t,), z, (a,), (b,) = steps.lockstep(
                [steps.steps(eng, "truncate_many", [sx], k), steps.steps(eng, "mul_truncating", sx, k, sy, 0),
                 steps.steps(conv.boolean, "and_many", [(bx, by)]), steps.steps(conv, "msb", [sx])],
                eng.round_exchange)
        (ab,) = conv.b2a([b])
        opened = eng.open([t, z, ab])
        return [o.view(np.int64) for o in opened], conv.boolean.reveal(a), p.stats()["sections"]["lockstep"]

    (t, z, neg), a, st_ = run_local(main, n)[0]
    floor = x >> k
    assert set(np.unique(t - floor)) <= {0, 1}
    prod_lo, prod_hi = floor * y, (floor + 1) * y
    assert np.all((z == prod_lo) | (z == prod_hi))
    np.testing.assert_array_equal(neg, (x < 0).astype(np.int64))
    np.testing.assert_array_equal(a, wx & wy)
    assert st_["rounds"] == 7 + (n - 2)  # the MSB circuit's rounds: the others ride along


@pytest.mark.parametrize("engine, n", [("semi2k", 2), ("semi2k", 3), ("cleartext", 2), ("spdz2k", 2), ("spdz2k", 3),
                                       ("masked2k", 2), ("masked2k", 3)])
def test_relu_of_a_pending_product(engine, n):
    rng = np.random.default_rng(5)
    a = np.concatenate([rng.uniform(-30, 30, 200), [0.0, 2.0**-16, -(2.0**-16), 2.0**-8, -(2.0**-8)]])
    b = np.concatenate([rng.uniform(-3, 3, 200), [1.0, 1.0, 1.0, 2.0**-8, 2.0**-8]])

    def main(p):
        sa, sb = (p.input(v if p.pid == 0 else None, owner=0, shape=v.shape) for v in (a, b))
        w = p.input(np.ones((a.size, 3)) if p.pid == 0 else None, owner=0, shape=(a.size, 3))
        z = sa * sb
        with p.section("relu"):
            r = z.relu()
        with p.section("matmul"):
            h = r.reshape(1, -1) @ w
        st_ = p.stats()["sections"]
        return p.reveal(r, h), r.scale, st_["relu"]["rounds"], st_["matmul"]["rounds"]

    (r, h), scale, rr, rm = run_local(main, n, engine=engine, timeout=120)[0]
    qa, qb = (np.rint(v * 2.0**F) / 2.0**F for v in (a, b))
    want = np.maximum(qa * qb, 0)
    assert scale == F  # the truncation done in lockstep with the comparison
    assert np.abs(r - want).max() <= 2.0**-F
    np.testing.assert_allclose(h.reshape(-1), np.full(3, r.sum()), atol=a.size * 2.0**-F)
    # spdz2k's MSB circuit has no carry-save layer and its first AND level is linear in the edaBits'
    # pair products: 7 rounds for any n (semi2k: 8, and 9 for 3 parties)
    assert rr == (7 if engine == "spdz2k" else 8 + n - 2) and rm == 1


# ----------------------------------------------------------------------------- spdz2k

EDGE = [0, 1, -1, 2**62 - 1, -(2**62), 2**61, -(2**61) - 1]


def _wrap64(v: int) -> int:
    """An integer as the int64 it is mod 2^64."""
    v %= 1 << 64
    return v - (1 << 64) if v >> 63 else v


@settings(max_examples=6, deadline=None)
@given(st.sampled_from([2, 3]), st.data())
def test_spdz2k_steps_in_lockstep_match_numpy(n, data):
    """Under spdz2k: a truncation, a division, a plain product, truncating products (one or both
    operands, k1 + k2 above 64 too), a light and a full AND layer and an MSB circuit, all in one
    lockstep, each as NumPy (mod 2^64, up to the documented ulp), in the MSB circuit's 6 rounds
    for 2 and 3 parties; then a truncating square in 1 round."""
    m = data.draw(st.integers(1, 30))
    full = st.one_of(st.sampled_from(EDGE), st.integers(-(2**62), 2**62 - 1))
    x = data.draw(hnp.arrays(np.int64, m, elements=full))
    y = data.draw(hnp.arrays(np.int64, m, elements=full))
    k, k1, k2 = data.draw(st.integers(1, 62)), data.draw(st.integers(33, 62)), data.draw(st.integers(33, 62))
    d = data.draw(st.sampled_from([3, 10, 1000, 2**40 + 1]))
    wx = data.draw(hnp.arrays(np.uint64, 3, elements=st.integers(0, 2**64 - 1)))
    wy = data.draw(hnp.arrays(np.uint64, 3, elements=st.integers(0, 2**64 - 1)))

    def main(p):
        eng, conv, sx, sy, bx, by = _shared(p, n, x, y, wx, wy)
        with p.section("lockstep"):
            (t,), (q,), z, z1, z2, (a, al), (b,) = steps.lockstep(
                [steps.steps(eng, "truncate_many", [sx], k), steps.steps(eng, "divide_many", [sx], d),
                 steps.steps(eng, "mul", sx, sy), steps.steps(eng, "mul_truncating", sx, k, sy, 0),
                 steps.steps(eng, "mul_truncating", sx, k1, sy, k2),
                 conv.boolean.and_steps([(bx, by), (bx, by)], light=[False, True]), steps.steps(conv, "msb", [sx])],
                eng.round_exchange)
        with p.section("square"):
            sq = eng.square_truncating(sx, k)
        (ab,) = conv.b2a([b])
        opened = eng.open([t, q, z, z1, z2, sq, ab])
        got_bits = conv.boolean.reveal(a)
        light_bits = al["w"].copy()  # a light word's bits: XOR-shared like any other
        secs = p.stats()["sections"]
        return ([o.view(np.int64) for o in opened], got_bits, light_bits, secs["lockstep"]["rounds"],
                secs["square"]["rounds"])

    out = run_local(main, n, engine="spdz2k", timeout=120)
    (t, q, z, z1, z2, sq, neg), a, _, rounds, sq_rounds = out[0]
    light = np.bitwise_xor.reduce(np.stack([o[2] for o in out]), axis=0)
    np.testing.assert_array_equal(a, wx & wy)
    np.testing.assert_array_equal(light, wx & wy)
    np.testing.assert_array_equal(neg, (x < 0).astype(np.int64))
    for i in range(m):
        xi, yi = int(x[i]), int(y[i])
        assert int(t[i]) - (xi >> k) in (0, 1)
        assert abs(int(q[i]) * d - xi) < 2 * d
        assert int(z[i]) == _wrap64(xi * yi)
        assert int(z1[i]) in {_wrap64(((xi >> k) + e) * yi) for e in (0, 1)}
        assert int(z2[i]) in {_wrap64(((xi >> k1) + e1) * ((yi >> k2) + e2)) for e1 in (0, 1) for e2 in (0, 1)}
        assert int(sq[i]) in {_wrap64(((xi >> k) + e) ** 2) for e in (0, 1)}
    assert rounds == 6 and sq_rounds == 1  # the MSB circuit's rounds: the rest ride along; one for the square


@pytest.mark.parametrize("n", [2, 3])
def test_spdz2k_sigmoid_and_tanh_rounds(n):
    """sigmoid and tanh under spdz2k: the comparisons and the polynomial in lockstep, 7 rounds
    for 2 and 3 parties (formerly 18, then 8), for an input at scale f and a pending product alike;
    within 1e-4 of NumPy, saturated values included."""
    import mpc.functions as fn

    x = np.concatenate([np.linspace(-12, 12, 61), [0.0, 2.0**-16, -(2.0**-16), 9.99, -9.99, 40.0, -40.0]])

    def main(p):
        sx = p.input(x if p.pid == 0 else None, owner=0, shape=x.shape)
        one = p.input(np.ones_like(x) if p.pid == n - 1 else None, owner=n - 1, shape=x.shape)
        pending = sx * one  # scale 2f: its truncation folds into the polynomial and the comparisons
        rounds, outs = [], []
        for f, v in [(fn.sigmoid, sx), (fn.tanh, sx), (fn.sigmoid, pending)]:
            with p.section(f"s{len(outs)}"):
                outs.append(f(v))
            rounds.append(p.stats()["sections"][f"s{len(outs) - 1}"]["rounds"])
        return p.reveal(*outs), rounds

    (sg, th, sp), rounds = run_local(main, n, engine="spdz2k", timeout=120)[0]
    want = 1 / (1 + np.exp(-x))
    assert np.abs(sg - want).max() <= 1e-4 and np.abs(sp - want).max() <= 1e-4
    assert np.abs(th - np.tanh(x)).max() <= 1e-4
    assert rounds == [7, 7, 7]


def test_spdz2k_functions_take_semi2ks_rounds():
    """exp, softmax and log_softmax (A2B, MSB, B2A and truncations in lockstep) take no more
    rounds under spdz2k than under semi2k (2 parties; softmax's MSB one fewer), with results
    within 1e-4 of NumPy."""
    import mpc.functions as fn

    x = np.linspace(-6, 3, 40).reshape(4, 10)

    def main(p):
        sx = p.input(x if p.pid == 0 else None, owner=0, shape=x.shape)
        rounds, outs = {}, []
        for name, f in [("exp", fn.exp), ("softmax", fn.softmax), ("log_softmax", fn.log_softmax)]:
            with p.recording() as plan:  # the material first: only the online rounds are counted
                f(sx)
            p.preprocess(plan)
            with p.section(name):
                outs.append(f(sx))
            rounds[name] = p.stats()["sections"][name]["rounds"]
        return p.reveal(*outs), rounds

    (e, sm, lsm), want = run_local(main, 2, engine="semi2k", timeout=120)[0]
    (e2, sm2, lsm2), got = run_local(main, 2, engine="spdz2k", timeout=120)[0]
    assert got.keys() == want.keys() and all(got[k] <= want[k] for k in want), (got, want)
    soft = np.exp(x - x.max(axis=1, keepdims=True))
    soft /= soft.sum(axis=1, keepdims=True)
    for val in (e, e2):
        assert np.all(np.abs(val - np.exp(x)) <= 1e-4 * (1 + np.exp(x)))
    for val in (sm, sm2):
        assert np.abs(val - soft).max() <= 1e-4
    for val in (lsm, lsm2):
        assert np.abs(val - np.log(soft)).max() <= 1e-4
