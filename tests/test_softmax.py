"""softmax, log_softmax (mpc.functions.softmax) and exp against NumPy: random rows under hypothesis
with edge values (huge positive and negative logits, equal entries, whole rows equal, one entry),
2 and 3 parties, semi2k and spdz2k; a pending input (a product), another axis, more than 16
entries (the general path); the documented rounds (semi2k, 2 parties); and the Converter's step
versions they run in lockstep (a2b_steps, msb_planes_steps, b2a_steps) against NumPy.

References are NumPy in float64 on the quantised inputs. Bounds (f = 16): softmax absolute
error <= 5e-5 (documented 3e-5: the final product's two truncations to 2^-16); log_softmax
absolute error <= 5e-5 for every entry (documented 1e-5), however small its softmax; exp within
5e-6 relative plus 2 units of 2^-32, 0 below its clamp and exactly 2^28 above.
"""

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import mpc.functions as F
from mpc.engines import steps
from mpc.engines.convert import Converter
from mpc.engines.gmw import GMWEngine
from mpc.errors import InputError
from mpc.preprocessing.bit_triples import LocalBitTriples
from mpc.preprocessing.dabits import LocalDaBits
from mpc.testing import run_local

F16 = 16
SETTINGS = [(2, "local", "semi2k"), (3, "dealer", "semi2k"), (2, "dealer", "spdz2k"), (3, "local", "spdz2k"),
            (3, "dealer", "masked2k"), (2, "local", "masked2k")]
SETUPS = pytest.mark.parametrize("n, pre, engine", SETTINGS, ids=lambda v: str(v))


def q(a, f=F16):
    return np.rint(np.asarray(a, dtype=np.float64) * 2.0**f) / 2.0**f


def ref_softmax(x, axis=-1):
    e = np.exp(x - x.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


def ref_log_softmax(x, axis=-1):
    d = x - x.max(axis=axis, keepdims=True)
    return d - np.log(np.exp(d).sum(axis=axis, keepdims=True))


def check(x, sm, lsm, axis=-1):
    want = ref_softmax(x, axis)
    assert np.abs(sm - want).max() <= 5e-5
    assert np.abs(lsm - ref_log_softmax(x, axis)).max() <= 5e-5  # every entry: d is exact


def secure(x, n, pre, engine, axis=-1):
    def main(p):
        sx = p.input(x if p.pid == 0 else None, owner=0, shape=x.shape)
        return p.reveal(F.softmax(sx, axis=axis), F.log_softmax(sx, axis=axis))

    return run_local(main, n, timeout=300, preprocessing=pre, engine=engine)[0]


EDGE = st.sampled_from([0.0, 1e6, -1e6, 3e4, -3e4, 16.6, -16.6, 2.0**-16, -(2.0**-16), 7.25])
VALUE = st.one_of(st.floats(-40, 40, allow_nan=False, width=32), EDGE)


@st.composite
def rows(draw):
    m = draw(st.integers(1, 12))
    r = draw(st.integers(1, 5))
    x = np.array(draw(st.lists(VALUE, min_size=r * m, max_size=r * m)), dtype=np.float64).reshape(r, m)
    if draw(st.booleans()) and m > 1:  # ties: copy one entry of every row onto another
        i, j = draw(st.integers(0, m - 1)), draw(st.integers(0, m - 1))
        x[:, j] = x[:, i]
    if draw(st.booleans()):
        x[0] = x[0, 0]  # a whole row equal
    return q(x)


@SETUPS
@settings(max_examples=6, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(x=rows())
def test_softmax_log_softmax_hypothesis(n, pre, engine, x):
    sm, lsm = secure(x, n, pre, engine)
    check(x, sm, lsm)


def test_dense_rows_and_edges():
    """40 random rows of 10 logits in [-20, 20], ties, far-apart entries and extreme values."""
    rng = np.random.default_rng(5)
    x = rng.uniform(-20, 20, (40, 10))
    x[0] = 3.0
    x[1, :5] = 7.5
    x[2] = [-1e6, 1e6] * 5
    x[3, 0] = 40.0
    x[4] = np.linspace(-30, 0, 10)
    x = q(x)
    sm, lsm = secure(x, 2, "local", "semi2k")
    check(x, sm, lsm)
    assert np.abs(sm.sum(axis=-1) - 1).max() <= 2e-4


@pytest.mark.parametrize("n, pre, engine", [(2, "local", "semi2k"), (2, "dealer", "spdz2k")])
def test_pending_input_other_axis_and_many_entries(n, pre, engine):
    """A product as input (scale 2f), softmax along axis 0 and with 20 entries (the comparison
    tree and the general reciprocal / log)."""
    rng = np.random.default_rng(9)
    a = q(rng.uniform(-5, 5, (20, 3)))
    b = q(rng.uniform(-3, 3, (20, 3)))

    def main(p):
        sa, sb = (p.input(v if p.pid == 0 else None, owner=0, shape=v.shape) for v in (a, b))
        z = sa * sb
        return p.reveal(F.softmax(z, axis=0), F.log_softmax(z, axis=0), F.softmax(z.T), F.log_softmax(z[:4], 1))

    s0, l0, st_, l4 = run_local(main, n, timeout=300, preprocessing=pre, engine=engine)[0]
    z = a * b
    check(z, s0, l0, axis=0)
    np.testing.assert_allclose(st_, ref_softmax(z.T), atol=5e-5, rtol=0)
    np.testing.assert_allclose(l4, ref_log_softmax(z[:4], 1), atol=5e-5, rtol=0)


def test_documented_rounds():
    """semi2k, 2 parties, 10 entries: 31 rounds for softmax and log_softmax, from a scale-f input
    and from a pending product alike (the truncation rides in the comparisons' rounds)."""
    rng = np.random.default_rng(3)
    x = q(rng.uniform(-8, 8, (64, 10)))

    def main(p):
        sx = p.input(x if p.pid == 0 else None, owner=0, shape=x.shape)
        one = p.input(np.ones(x.shape) if p.pid == 0 else None, owner=0, shape=x.shape)
        z = sx * one
        got = {}
        for name, fn, arg in (("softmax", F.softmax, sx), ("log_softmax", F.log_softmax, sx),
                              ("softmax pending", F.softmax, z)):
            with p.section(name):
                got[name] = fn(arg)
        stats = p.stats()["sections"]
        return p.reveal(*got.values()), {k: stats[k]["rounds"] for k in got}

    (sm, lsm, smp), rounds = run_local(main, 2, preprocessing="local", engine="semi2k")[0]
    assert rounds == {"softmax": 31, "log_softmax": 31, "softmax pending": 31}
    check(x, sm, lsm)
    assert np.abs(smp - ref_softmax(x)).max() <= 5e-5


def test_rejects_bad_axis_and_0d():
    def main(p):
        sx = p.input(np.zeros(3) if p.pid == 0 else None, owner=0, shape=(3,))
        errs = []
        for call in (lambda: F.softmax(sx, axis=1), lambda: F.log_softmax(sx.sum())):
            try:
                call()
            except InputError as e:
                errs.append(str(e))
        return errs

    errs = run_local(main, 2)[0]
    assert len(errs) == 2 and "axis 1" in errs[0] and "1-d" in errs[1]


# ----------------------------------------------------------------------------- exp (the same pipeline)

EXP_EDGE = st.sampled_from([0.0, 1e6, -1e6, 19.4, 19.5, 30.0, -22.18, -22.19, -23.0, -40.0, 2.0**-16, -(2.0**-16)])
EXP_VALUE = st.one_of(st.floats(-25, 21, allow_nan=False, width=32), EXP_EDGE)


def check_exp(x, got, f=F16):
    lo, hi = F.exp_log.exp_bounds(f)
    want = np.exp(np.minimum(x, hi))
    unit = 2.0 ** -(2 * f)
    inside = (x >= lo) & (x < hi)
    assert (np.abs(got[inside] - want[inside]) <= 5e-6 * want[inside] + 2 * unit).all()
    assert (np.abs(got[x < lo]) <= unit).all()  # exp(x) 2^(2f) < 1/4 there
    assert (got[x >= hi] == 2.0 ** (60 - 2 * f)).all()  # saturated exactly


@SETUPS
@settings(max_examples=6, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(pts=st.lists(EXP_VALUE, min_size=1, max_size=70))
def test_exp_hypothesis(n, pre, engine, pts):
    x = q(np.array(pts))

    def main(p):
        sx = p.input(x if p.pid == 0 else None, owner=0, shape=x.shape)
        return p.reveal(F.exp(sx))

    check_exp(x, run_local(main, n, timeout=300, preprocessing=pre, engine=engine)[0])


@pytest.mark.parametrize("n, pre, engine", [(2, "local", "semi2k"), (3, "dealer", "spdz2k")])
def test_exp_of_a_pending_product(n, pre, engine):
    """exp of an untruncated product (scale 2f): the truncation is not needed at f = 16 (t is
    formed at scale 2f + 24); 13 rounds for semi2k with 2 parties, as for a scale-f input."""
    rng = np.random.default_rng(11)
    a = q(np.concatenate([rng.uniform(-4, 4, 300), [5.0, -5.0, 0.0]]))
    b = q(np.concatenate([rng.uniform(-5, 5, 300), [4.0, 4.5, 3.0]]))

    def main(p):
        sa, sb = (p.input(v if p.pid == 0 else None, owner=0, shape=v.shape) for v in (a, b))
        z = sa * sb
        with p.section("exp"):
            e = F.exp(z)
        return p.reveal(e), p.stats()["sections"]["exp"]["rounds"]

    got, rounds = run_local(main, n, timeout=300, preprocessing=pre, engine=engine)[0]
    check_exp(a * b, got)
    if n == 2 and engine == "semi2k":
        assert rounds == 13


# ----------------------------------------------------------------------------- the step versions they use


def _converter(party, dabits: bool):
    seed = party.common_prg.derive("test/softmax-bit-triples").random_bytes(16)
    gmw = GMWEngine(party.channel, LocalBitTriples(seed, party.pid, party.n), party.kernels,
                    prg=party.prg, pair_prgs=party.pair_prgs)
    if not dabits:
        return Converter(party.engine, gmw)
    seed = party.common_prg.derive("test/softmax-dabits").random_bytes(16)
    return Converter(party.engine, gmw, dabits=LocalDaBits(seed, party.pid, party.n))


RING_WORDS = st.lists(st.one_of(st.sampled_from([0, 1, 2**63, 2**63 - 1, 2**64 - 1, 2**62, 2**64 - 2**62]),
                                st.integers(0, 2**64 - 1)), min_size=1, max_size=150)


@pytest.mark.parametrize("n", [2, 3])
@pytest.mark.parametrize("dabits", [False, True])
@settings(max_examples=4, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(words=RING_WORDS)
def test_converter_step_versions_in_lockstep(n, dabits, words):
    """Converter.a2b_steps, msb_planes_steps and b2a_steps, run together in one lockstep, give the
    bits, signs and bit values NumPy gives, in max (not sum) of their rounds."""
    x = np.array(words, dtype=np.uint64)
    bits = (x & np.uint64(1)).astype(np.uint64)

    def main(p):
        conv = _converter(p, dabits)
        sx = p.engine.input(x if p.pid == 0 else None, 0, x.shape)
        sb = p.engine.input(bits if p.pid == 0 else None, 0, bits.shape)
        # bit shares for b2a: the low bit of an A2B'd value is a valid XOR sharing of bits
        planes0, _ = conv.a2b([sb])
        xor_bits = conv.unpack_planes(planes0[:1], x.size)[0]
        before = p.stats()["total"]["rounds"]
        (planes, _), (sign, _), (arith,) = steps.lockstep(
            [conv.a2b_steps([sx]), conv.msb_planes_steps([sx]), conv.b2a_steps([xor_bits])], p.engine.round_exchange)
        rounds = p.stats()["total"]["rounds"] - before
        got = [conv.boolean.reveal(planes), conv.boolean.reveal(sign), p.engine.open([arith])[0]]
        return got, rounds

    (planes, sign, arith), rounds = run_local(main, n, timeout=120)[0]
    want = [(x >> np.uint64(i)) & np.uint64(1) for i in range(64)]
    for i in range(64):
        got_i = np.unpackbits(planes[i].view(np.uint8), bitorder="little")[: x.size]
        np.testing.assert_array_equal(got_i, want[i].astype(np.uint8))
    np.testing.assert_array_equal(np.unpackbits(sign[0].view(np.uint8), bitorder="little")[: x.size],
                                  want[63].astype(np.uint8))
    np.testing.assert_array_equal(arith, bits)
    assert rounds == 7 + (n - 2)  # the A2B's (and MSB's) rounds; the B2A rides in the first


def test_cleartext_engine_same_values_no_overflow_reported():
    """Under the cleartext engine (overflow reports raised) the meaningless values that an exact 0
    multiplies away (t, r and 2^r far outside exp's clamp) are not reported, and the results match
    NumPy: softmax, log_softmax and exp of extreme logits."""
    rng = np.random.default_rng(13)
    x = rng.uniform(-20, 20, (30, 10))
    x[0] = [-1e6, 1e6] * 5
    x[1, 0] = 5000.0
    x = q(x)

    def main(p):
        p.engine.overflow = "raise"
        sx = p.input(x if p.pid == 0 else None, owner=0, shape=x.shape)
        return p.reveal(F.softmax(sx), F.log_softmax(sx), F.exp(sx))

    sm, lsm, e = run_local(main, 2, engine="cleartext")[0]
    check(x, sm, lsm)
    check_exp(x.reshape(-1), e.reshape(-1))
