"""The cleartext debug engine: same results as semi2k (and NumPy), overflow reported exactly when
a value leaves its range, semi2k's costs in party.stats(), values readable, mpcrun --emulate.

Every agreement test runs the same program on the same inputs under semi2k and under cleartext
(2 and 3 parties), with the cleartext overflow policy "raise", so a false alarm on in-range values
fails the test; every overflow test asserts a report on one side of the boundary and none on the
other.
"""

import subprocess
import sys
import textwrap
import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import mpc
import mpc.functions as F
from mpc.engines import cleartext_overflow as ov
from mpc.engines.base import EngineContext
from mpc.engines.cleartext import Cleartext, build
from mpc.errors import ConfigError, RangeError, RangeWarning
from mpc.net.channel import Channel
from mpc.prg import PRG
from mpc.tensor.secret_bits import reveal_bits, sum_bits
from mpc.tensor.secret_bits import where as bits_where
from mpc.testing import run_local

ULP = 2.0**-16


def q(a, f=16):
    return np.rint(np.asarray(a, dtype=np.float64) * 2.0**f) / 2.0**f


def share(p, value, dtype=None):
    """party 0's value (any shape) as a SecretTensor at every party."""
    value = np.asarray(value)
    return p.input(value if p.pid == 0 else None, owner=0, shape=value.shape, dtype=dtype)


def both(main, n, *args, **options):
    """Party 0's result under semi2k and under cleartext."""
    out = {}
    for engine in ("semi2k", "cleartext"):
        out[engine] = run_local(main, n, *args, engine=engine, timeout=120, **options)[0]
    return out["semi2k"], out["cleartext"]


def strict(p):
    if p.engine.name == "cleartext":
        p.engine.overflow = "raise"  # a false alarm on in-range values fails the test


# ----------------------------------------------------------------------------- agreement with semi2k

ELEMENTWISE = [
    ("add", lambda x, y: x + y, 0), ("sub", lambda x, y: x - y, 0), ("neg", lambda x, y: -x, 0),
    ("add_public", lambda x, y: x + 2.5, 0), ("rsub_public", lambda x, y: 2.5 - x, 0),
    ("mul", lambda x, y: x * y, 0), ("mul_public", lambda x, y: x * 3, 0),
    ("mul_public_frac", lambda x, y: x * 0.3, 2), ("square", lambda x, y: x.square(), 0),
    ("chain", lambda x, y: x * y * x, 2), ("trunc", lambda x, y: (x * y).truncate(), 1),
    ("div_int", lambda x, y: x / 3, 2), ("div_float", lambda x, y: x / 2.5, 2),
    ("lt", lambda x, y: x < y, 0), ("le", lambda x, y: x <= y, 0), ("gt", lambda x, y: x > y, 0),
    ("ge", lambda x, y: x >= y, 0), ("eq", lambda x, y: x.eq(y), 0), ("ne", lambda x, y: x != y, 0),
    ("lt_public", lambda x, y: x < 0.5, 0), ("abs", lambda x, y: abs(x), 0), ("relu", lambda x, y: x.relu(), 0),
    ("sign", lambda x, y: x.sign(), 0), ("clip", lambda x, y: x.clip(-1.5, 2.0), 0),
    ("maximum", lambda x, y: x.maximum(y), 0), ("minimum", lambda x, y: mpc.minimum(x, y), 0),
    ("where", lambda x, y: mpc.where(x < y, x, y), 0),
]
REDUCTIONS = [
    ("sum", lambda m, w: m.sum(axis=0), 0), ("mean", lambda m, w: m.mean(), 2), ("cumsum", lambda m, w: m.cumsum(1), 0),
    ("max", lambda m, w: m.max(axis=1), 0), ("min", lambda m, w: m.min(), 0), ("argmax", lambda m, w: m.argmax(1), 0),
    ("argmin", lambda m, w: m.argmin(0), 0), ("sort", lambda m, w: m.sort(axis=1), 0),
    ("matmul", lambda m, w: m @ w, 0), ("matmul_public", lambda m, w: m @ np.ones((m.shape[1], 2)), 0),
    ("chain_matmul", lambda m, w: (m @ w) @ w.T, 8), ("outer", lambda m, w: mpc.outer(m[0], w[:, 0]), 0),
    ("stack", lambda m, w: mpc.stack([m, m * 2]).sum(0), 0), ("concat", lambda m, w: mpc.concatenate([m, m], 1), 0),
    ("index", lambda m, w: m[::-1, 1:].T.reshape(-1), 0),
    ("conv2d", lambda m, w: m.reshape(1, 1, *m.shape).conv2d(np.ones((1, 1, 2, 2)), padding=1), 0),
    ("avg_pool", lambda m, w: m.reshape(1, 1, *m.shape).avg_pool2d(2, 1), 2),
]
FUNCTIONS = {  # name: (function, domain sampler, tolerance(reference) on the revealed value)
    "sigmoid": (F.sigmoid, (-12, 12), lambda r: 1e-3),
    "tanh": (F.tanh, (-8, 8), lambda r: 1e-3),
    "exp": (F.exp, (-8, 8), lambda r: 1e-3 * np.abs(r) + 2e-9),
    "log": (F.log, (0.01, 1000), lambda r: 1e-3 * np.abs(r) + 1e-6),
    "reciprocal": (F.reciprocal, (0.05, 500), lambda r: 1e-3 * np.abs(r)),
    "sqrt": (F.sqrt, (0.05, 500), lambda r: 1e-3 * np.abs(r)),
    "rsqrt": (F.rsqrt, (0.05, 500), lambda r: 1e-3 * np.abs(r)),
}
REFERENCE = {"sigmoid": lambda v: 1 / (1 + np.exp(-v)), "tanh": np.tanh, "exp": np.exp, "log": np.log,
             "reciprocal": lambda v: 1 / v, "sqrt": np.sqrt, "rsqrt": lambda v: 1 / np.sqrt(v)}


def numpy_elementwise(name, x, y):
    ops = {"add": x + y, "sub": x - y, "neg": -x, "add_public": x + 2.5, "rsub_public": 2.5 - x, "mul": x * y,
           "mul_public": x * 3, "mul_public_frac": x * q(0.3), "square": x * x, "chain": x * y * x, "trunc": x * y,
           "div_int": x / 3, "div_float": x / 2.5, "lt": x < y, "le": x <= y, "gt": x > y, "ge": x >= y,
           "eq": x == y, "ne": x != y, "lt_public": x < 0.5, "abs": np.abs(x), "relu": np.maximum(x, 0),
           "sign": np.sign(x), "clip": np.clip(x, -1.5, 2.0), "maximum": np.maximum(x, y),
           "minimum": np.minimum(x, y), "where": np.where(x < y, x, y)}
    return ops[name]


def numpy_reduction(name, m, w):
    pad = np.pad(m, 1)
    ops = {"sum": m.sum(0), "mean": m.mean(), "cumsum": m.cumsum(1), "max": m.max(1), "min": m.min(),
           "argmax": m.argmax(1), "argmin": m.argmin(0), "sort": np.sort(m, 1), "matmul": m @ w,
           "matmul_public": m @ np.ones((m.shape[1], 2)), "chain_matmul": (m @ w) @ w.T,
           "outer": np.outer(m[0], w[:, 0]), "stack": 3 * m, "concat": np.concatenate([m, m], 1),
           "index": m[::-1, 1:].T.reshape(-1),
           "conv2d": (pad[:-1, :-1] + pad[1:, :-1] + pad[:-1, 1:] + pad[1:, 1:]).reshape(1, 1, *pad[1:, 1:].shape),
           "avg_pool": ((m[:-1, :-1] + m[1:, :-1] + m[:-1, 1:] + m[1:, 1:]) / 4).reshape(1, 1, m.shape[0] - 1, -1)}
    return ops[name]


values = st.floats(-50, 50, allow_nan=False).map(lambda v: float(q(v)))
edge = st.sampled_from([0.0, -0.0, ULP, -ULP, 1.0, -1.0, 49.5, -49.5])


@st.composite
def battery(draw):
    k = draw(st.integers(1, 5))
    elem = st.one_of(values, edge)
    x = np.array(draw(st.lists(elem, min_size=k, max_size=k)))
    y = np.array(draw(st.lists(elem, min_size=k, max_size=k)))
    r, c = draw(st.integers(2, 4)), draw(st.integers(2, 4))
    m = np.array(draw(st.lists(elem, min_size=r * c, max_size=r * c))).reshape(r, c)
    w = np.array(draw(st.lists(st.floats(-4, 4).map(lambda v: float(q(v))), min_size=c * 2, max_size=c * 2)))
    fn_inputs = {name: np.array(draw(st.lists(st.floats(*dom).map(lambda v: float(q(v))), min_size=3, max_size=3)))
                 for name, (_, dom, _) in FUNCTIONS.items()}
    soft = np.array(draw(st.lists(st.floats(-10, 10).map(lambda v: float(q(v))), min_size=6, max_size=6)))
    return x, y, m, w.reshape(c, 2), fn_inputs, soft.reshape(2, 3)


def battery_main(p, x, y, m, w, fn_inputs, soft):
    strict(p)
    sx, sy, sm, sw = share(p, x), share(p, y), share(p, m), share(p, w)
    out = [fn(sx, sy) for _, fn, _ in ELEMENTWISE] + [fn(sm, sw) for _, fn, _ in REDUCTIONS]
    out += [fn(share(p, fn_inputs[name])) for name, (fn, _, _) in FUNCTIONS.items()]
    out += [F.softmax(share(p, soft)), F.log_softmax(share(p, soft), axis=0), F.divide(sx, share(p, fn_inputs["sqrt"][:1]))]
    ints = share(p, np.arange(-3, 3), dtype=mpc.Int64())
    out += [ints * ints - 7, (ints < 0), ints.sum(), ints * sx[:1]]
    x0, y0 = sx[0], sy[-1]  # 0-d tensors
    out += [x0 * y0 * x0, x0 < y0, x0 / 3, F.exp(x0 * 0.1)]
    return p.reveal(*out)


@pytest.mark.parametrize("n", [2, 3])
@settings(max_examples=3, deadline=None)
@given(case=battery())
def test_every_op_and_function_agrees_with_semi2k_and_numpy(n, case):
    x, y, m, w, fn_inputs, soft = case
    semi, clear = both(battery_main, n, x, y, m, w, fn_inputs, soft)
    refs = [numpy_elementwise(name, x, y) for name, _, _ in ELEMENTWISE]
    refs += [numpy_reduction(name, m, w) for name, _, _ in REDUCTIONS]
    ulps = [u for _, _, u in ELEMENTWISE] + [u for _, _, u in REDUCTIONS]
    scale = 1 + max(np.abs(x).max(), np.abs(y).max(), np.abs(m).max())
    for i, (ref, u) in enumerate(zip(refs, ulps, strict=False)):
        tol = u * ULP * scale * 4  # each truncation is off by less than one unit (times the other factor)
        for got in (semi[i], clear[i]):
            assert np.asarray(got).shape == np.asarray(ref).shape, i
            np.testing.assert_allclose(got, ref, atol=tol + 1e-12, rtol=0, err_msg=str(i))
        if u == 0:  # no truncation: the two engines agree bit for bit
            np.testing.assert_array_equal(semi[i], clear[i])
    base = len(refs)
    for j, (name, (_, _, tol)) in enumerate(FUNCTIONS.items()):
        ref = REFERENCE[name](fn_inputs[name])
        for got in (semi[base + j], clear[base + j]):
            assert np.all(np.abs(got - ref) <= tol(ref) + 1e-9), (name, got, ref)
    e = np.exp(soft - soft.max(-1, keepdims=True))
    es = np.exp(soft - soft.max(0, keepdims=True))
    rest = [e / e.sum(-1, keepdims=True), (soft - soft.max(0)) - np.log(es.sum(0)), x / fn_inputs["sqrt"][0]]
    for k, ref in enumerate(rest):
        for got in (semi[base + len(FUNCTIONS) + k], clear[base + len(FUNCTIONS) + k]):
            np.testing.assert_allclose(got, ref, atol=1e-3 * (1 + np.abs(ref).max()), rtol=1e-3)
    ints = np.arange(-3, 3)
    tail = [ints * ints - 7, (ints < 0).astype(np.int64), ints.sum(), ints * x[:1]]
    for k, ref in enumerate(tail):
        got_s, got_c = semi[-8 + k], clear[-8 + k]
        np.testing.assert_array_equal(got_s, got_c)
        np.testing.assert_allclose(got_c, ref, atol=1e-12)
    x0, y0 = x[0], y[-1]
    zero_d = [(x0 * y0 * x0, 4 * ULP * (1 + abs(x0))), (float(x0 < y0), 0), (x0 / 3, 2 * ULP),
              (np.exp(x0 * q(0.1)), 1e-3 * np.exp(x0 * q(0.1)) + 1e-3 * ULP * abs(x0))]
    for k, (ref, tol) in enumerate(zero_d):
        for got in (semi[-4 + k], clear[-4 + k]):
            assert np.ndim(got) == 0 and abs(got - ref) <= tol + 1e-12, (k, got, ref)


def bits_main(p, a, b, w):
    strict(p)
    x = p.input_bits(a if p.pid == 0 else None, owner=0, n=len(a), width=w)
    y = p.input_bits(b if p.pid == 1 else None, owner=1, n=len(b), width=w)
    outs = [x + y, x - y, -x, x & y, x | y, x ^ y, ~x, x << 3, x >> 2, x.sar(1), x.lt(y), x.lt(y, signed=True),
            x.ge(y), x.eq(y), x.ne(y), bits_where(x.lt(y), x, y), sum_bits([x, y, x]), x & 5, x ^ 6, x + 1]
    return reveal_bits(*outs)


@pytest.mark.parametrize("n", [2, 3])
@settings(max_examples=4, deadline=None)
@given(data=st.data())
def test_secret_bits_agree_with_gmw_and_python(n, data):
    w = data.draw(st.sampled_from([1, 7, 32, 64]))
    k = data.draw(st.integers(1, 70))
    vals = st.integers(0, (1 << w) - 1)
    a = data.draw(st.lists(vals, min_size=k, max_size=k))
    b = data.draw(st.lists(vals, min_size=k, max_size=k))
    semi, clear = both(bits_main, n, a, b, w)
    mask = (1 << w) - 1

    def sgn(v):
        return v - (1 << w) if v >> (w - 1) else v

    expect = [[(u + v) & mask, (u - v) & mask, -u & mask, u & v, u | v, u ^ v, ~u & mask, (u << 3) & mask, u >> 2,
               (sgn(u) >> 1) & mask, int(u < v), int(sgn(u) < sgn(v)), int(u >= v), int(u == v), int(u != v),
               min(u, v) if u < v else v, (2 * u + v) & mask, u & 5 & mask, (u ^ 6) & mask, (u + 1) & mask]
              for u, v in zip(a, b, strict=True)]
    for i in range(len(expect[0])):
        np.testing.assert_array_equal(semi[i], clear[i])
        assert [int(v) for v in clear[i]] == [row[i] for row in expect], i


# ----------------------------------------------------------------------------- truncation law


def test_truncation_follows_semi2ks_law_and_is_reproducible():
    """Truncation by 2^k: floor(x / 2^k) or that + 1, the +1 with probability (x mod 2^k) / 2^k
    (stochastic rounding); division by other d: floor(x / d) + {0, 1, 2}. Both with semi2k's
    frequencies (measured side by side), and the same results on every cleartext run."""

    def main(p, xs, k, d):
        eng = p.engine
        x = eng.input(xs.view(np.uint64) if p.pid == 0 else None, 0, xs.shape)
        t, v = eng.open([eng.truncate_many([x], k)[0], eng.divide_many([x], d)[0]])
        return t.view(np.int64), v.view(np.int64)

    k, d, reps = 16, 1000, 4000
    base = [0, 1, -1, 5, (1 << 20) + (1 << 14), -(2**40) + 3, 2**61 + 12345, -(2**62), 2**62 - 1]
    xs = np.repeat(np.array(base, dtype=np.int64), reps)
    runs = [run_local(main, 2, xs, k, d, engine="cleartext")[0] for _ in range(2)]
    for a, b in zip(runs[0], runs[1], strict=True):
        np.testing.assert_array_equal(a, b)
    semi = run_local(main, 2, xs, k, d)[0]
    for (got, ref), div in zip(zip(runs[0], semi, strict=True), (1 << k, d), strict=True):
        floor = np.array([int(v) // div for v in xs], dtype=np.int64)
        for err, allowed in ((got - floor, {0, 1} if div == 1 << k else {0, 1, 2}), (ref - floor, None)):
            assert set(np.unique(err)) <= (allowed or {0, 1, 2})
        for i, v in enumerate(base):
            block = slice(i * reps, (i + 1) * reps)
            mean_c, mean_s = (got - floor)[block].mean(), (ref - floor)[block].mean()
            assert abs(mean_c - mean_s) < 0.06, (div, v, mean_c, mean_s)  # ~5 standard deviations
            if div == 1 << k:
                assert abs(mean_c - (v % div) / div) < 0.04, (v, mean_c)
                if v % div == 0:
                    assert not (got - floor)[block].any()  # multiples of 2^k never round up


# ----------------------------------------------------------------------------- costs


def cost_main(p, x, y, m):
    sx, sy, sm = share(p, x), share(p, y), share(p, m)
    with p.section("mul"):
        z = sx * sy
    with p.section("tmul"):
        z2 = z * sx
    with p.section("square"):
        sx.square()
    with p.section("matmul"):
        mm = (sm @ sm.T) @ sm
    with p.section("lt"):
        c = sx < sy
    with p.section("eq"):
        sx.eq(sy)
    with p.section("relu"):
        sx.relu()
    with p.section("max"):
        sm.max()
    with p.section("sigmoid"):
        F.sigmoid(sx)
    with p.section("exp"):
        F.exp(sx)
    with p.section("reveal"):
        p.reveal(z2, mm, c)
    with p.section("reveal_to"):
        p.reveal(z, to=1)
    with p.section("bits"):
        b = p.input_bits(list(range(7)) if p.pid == 0 else None, owner=0, n=7, width=16)
        (b + b).lt(b).reveal()
    return p.stats()


@pytest.mark.parametrize("n", [2, 3])
def test_costs_equal_semi2ks_measured_stats(n):
    """party.stats() under cleartext equals semi2k's with dealer material, section by section and in
    total, at every party (only the dealer link is semi2k's alone)."""
    x, y, m = np.linspace(-3, 3, 130), np.linspace(2, -1, 130), np.arange(12.0).reshape(3, 4) / 7
    stats = {}
    for engine, pre in (("semi2k", "dealer"), ("cleartext", "local")):
        stats[engine] = run_local(cost_main, n, x, y, m, engine=engine, preprocessing=pre, timeout=120)
    for pid in range(n):
        s, c = stats["semi2k"][pid], stats["cleartext"][pid]
        assert "dealer" not in c
        assert c["sections"] == s["sections"], pid
        assert c["total"] == s["total"], pid
    assert stats["cleartext"][0]["sections"]["mul"]["rounds"] == 1
    assert stats["cleartext"][0]["sections"]["lt"]["rounds"] == 8 + (n - 2)


# ----------------------------------------------------------------------------- debug_value


def test_debug_value_reads_values_without_communicating():
    def main(p):
        x = share(p, np.array([1.5, -2.25]))
        prod = x * x
        things = [x, prod, prod < 3, x.sum(), share(p, np.array(7), dtype=mpc.Int64()),
                  p.input_bits([5, 6, 7] if p.pid == 1 else None, owner=1, n=3, width=8) + 1]
        before = p.stats()
        values = [things[0].debug_value(), things[1].debug_value(), things[2].debug_value()]
        values += [mpc.debug_value(t) for t in things[3:]]
        return values, prod.scale, before, p.stats()

    for n in (2, 3):
        for values, scale, before, after in run_local(main, n, engine="cleartext"):
            np.testing.assert_array_equal(values[0], [1.5, -2.25])
            np.testing.assert_array_equal(values[1], [2.25, 5.0625])  # at scale 32, decoded exactly
            assert scale == 32
            np.testing.assert_array_equal(values[2], [1, 0])
            assert values[2].dtype == np.int64
            assert values[3] == -0.75 and values[4] == 7 and isinstance(values[4], np.int64)
            np.testing.assert_array_equal(values[5], [6, 7, 8])
            assert after == before  # debug_value sends nothing and charges nothing


def test_debug_value_is_refused_under_semi2k_and_for_other_objects():
    def main(p):
        x = share(p, np.array([1.0]))
        for thing in (x, p.input_bits([1] if p.pid == 0 else None, owner=0, n=1, width=4)):
            with pytest.raises(ConfigError, match="only under engine='cleartext'"):
                mpc.debug_value(thing)
        with pytest.raises(mpc.ShareTypeError):
            mpc.debug_value(np.array([1.0]))
        return True

    assert run_local(main, 2) == [True, True]


# ----------------------------------------------------------------------------- overflow


def record(main, n=2, *args):
    """Run under cleartext; return party 0's result and the RangeWarnings raised."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        res = run_local(main, n, *args, engine="cleartext")
    return res, [w for w in caught if issubclass(w.category, RangeWarning)]


def issue_examples(p):
    a = share(p, np.array(2.0**47 - 1))
    b = share(p, np.array(1e8))
    c = share(p, np.array(2.0**46))
    return p.reveal(a + a, b * b, c < -c)


def test_issue_examples_reveal_wrong_values_and_cleartext_reports_each():
    """Issue 13, item 5: (2^47-1) + (2^47-1) reveals -2.0 and 1e8 * 1e8 reveals 1.87e9 under
    semi2k, and 2^46 < -2^46 is true; cleartext computes the same wrong values and reports each."""
    semi = run_local(issue_examples, 2)[0]
    assert semi[0] == -2.0 and abs(semi[1] - 1.87e9) < 0.01e9 and semi[2] == 1
    (clear, _), caught = record(issue_examples)
    assert clear == semi
    texts = [str(w.message) for w in caught]
    assert len(texts) == 3, texts
    assert texts[0].startswith("cleartext: addition of shape ()") and "2^64.0" in texts[0]
    assert texts[1].startswith("cleartext: square of shape ()")
    assert texts[2].startswith("cleartext: subtraction") and "comparison" in texts[2]
    assert all(w.filename == __file__ for w in caught)  # the warning points at the user's line
    assert caught[0].lineno == issue_examples.__code__.co_firstlineno + 4


def test_in_range_neighbours_of_the_issue_examples_are_not_reported():
    def main(p):
        a, a2 = ring_share(p, 2**62), ring_share(p, 2**62 - 1)  # 2^46 and 2^46 - 2^-16
        b = share(p, np.array(32767.0))  # (32767 2^16)^2 < 2^62: fits, and truncates exactly
        c = share(p, np.array(2.0**45))
        return p.reveal(a + a2, (b * b).truncate(), c < -c, a < ring_share(p, -(2**62) + 1))

    (vals, _), caught = record(main)
    assert caught == []
    assert vals[0] == 2.0**47 - ULP and vals[1] == 32767.0**2 and vals[2] == 0 and vals[3] == 0


int64s = st.integers(-(2**63), 2**63 - 1)
near = st.one_of(int64s, st.integers(2**62 - 2**20, 2**62 + 2**20), st.integers(-(2**62) - 2**20, -(2**62) + 2**20),
                 st.integers(-(2**32), 2**32 - 1).map(lambda v: v * 2**31), st.integers(-5, 5))


def ring(vs):
    return np.array([v % (1 << 64) for v in vs], dtype=np.uint64)


def fits(v):
    return -(2**63) <= v < 2**63


@settings(max_examples=200, deadline=None)
@given(xs=st.lists(st.tuples(near, near), min_size=1, max_size=6))
def test_exact_range_tests_against_python_integers(xs):
    a, b = [x for x, _ in xs], [y for _, y in xs]
    ra, rb = ring(a), ring(b)
    np.testing.assert_array_equal(ov.add_wraps(ra, rb, ra + rb), [not fits(x + y) for x, y in xs])
    np.testing.assert_array_equal(ov.sub_wraps(ra, rb, ra - rb), [not fits(x - y) for x, y in xs])
    np.testing.assert_array_equal(ov.neg_wraps(ra), [not fits(-x) for x in a])
    np.testing.assert_array_equal(ov.product_wraps(ra, rb), [not fits(x * y) for x, y in xs])
    np.testing.assert_array_equal(ov.product_wraps(ra, b[0] % (1 << 64)), [not fits(x * b[0]) for x in a])
    np.testing.assert_array_equal(ov.sum_wraps(ring(a + b).reshape(2, -1), (0,)), [not fits(x + y) for x, y in xs])
    np.testing.assert_array_equal(ov.cumsum_wraps(ring(a), 0), [not fits(sum(a[: i + 1])) for i in range(len(a))])
    np.testing.assert_array_equal(ov.outside(ra, -(2**62), 2**62), [not -(2**62) <= x < 2**62 for x in a])
    col = [y >> 33 for y in b]  # the dot products of a column with the rows of a 1-row matrix
    np.testing.assert_array_equal(ov.matmul_wraps(ra.reshape(1, -1), ring(col).reshape(-1, 1)),
                                  [[not fits(sum(x * y for x, y in zip(a, col, strict=True)))]])


@settings(max_examples=40, deadline=None)
@given(x=st.integers(-(2**40), 2**40), y=st.integers(-(2**40), 2**40))
def test_matmul_test_is_exact_at_the_boundary(x, y):
    """Entries one unit either side of 2^63 (where float64 cannot tell) are decided exactly."""
    target = (1 << 63) + x
    a = np.array([[1 << 62, 1 << 62, 1]], dtype=object)
    rest = target - (1 << 63)  # = x: the third product makes the sum exactly target
    b = np.array([[1], [1], [rest]], dtype=object)
    got = ov.matmul_wraps(ring(a.ravel()).reshape(1, 3), ring(b.ravel()).reshape(3, 1))
    assert bool(got[0, 0]) == (not fits(target))
    bad = ov.matmul_wraps(ring([y, 1 << 62]).reshape(1, 2), ring([1, 2]).reshape(2, 1))
    assert bool(bad[0, 0]) == (not fits(y + (1 << 63)))


def ring_share(p, units, dtype=None):
    """party 0's value given exactly in ring units (a Fixed(16) value v is v 2^16 units; floats
    cannot hold 2^46 - 2^-16), at every party."""
    units = np.asarray(units, dtype=object)
    ring = np.array([int(u) % (1 << 64) for u in units.ravel()], dtype=np.uint64).reshape(units.shape)
    return mpc.SecretTensor(p.engine, p.engine.input(ring if p.pid == 0 else None, 0, units.shape),
                            dtype or mpc.Fixed(16))


BOUNDARY_CASES = [  # (report, op on a Fixed(16) tensor a, largest |a| inside and smallest outside, in ring units)
    ("addition", lambda a: a + a, 2**62 - 1, 2**62),  # 2 A < 2^63
    ("subtraction", lambda a: (-a) - a, 2**62, 2**62 + 1),  # -2 A >= -2^63
    ("product", lambda a: a * secret_like(a, 1.0), 2**47 - 1, 2**47),  # A 2^16 < 2^63
    ("sum", lambda a: mpc.stack([a, a]).sum(), 2**62 - 1, 2**62),
    ("matrix product", lambda a: a.reshape(1, 1) @ secret_like(a.reshape(1, 1), 1.0), 2**47 - 1, 2**47),
    ("truncation", lambda a: (a * secret_like(a, 1.0)).truncate(), 2**46 - 1, 2**46),  # A 2^16 < 2^62
    ("truncation", lambda a: (a * secret_like(a, 1.0)).truncate(), -(2**46), -(2**46) - 1),  # >= -2^62
    ("subtraction (also the x - y a comparison", lambda a: a < -a, 2**62 - 1, 2**62),
    ("product with a public value (also a change of scale)",  # a lifted to scale 32: A 2^16 < 2^63
     lambda a: a + secret_like(a, 0.0) * secret_like(a, 0.0), 2**47 - 1, 2**47),
    ("a function's normalisation", lambda a: F.reciprocal(a * secret_like(a, 1.0)), 2**44 - 1, 2**44),
    ("a function's normalisation", lambda a: F.sqrt(a * secret_like(a, 1.0)), -(2**44) + 1, -(2**44)),
]


def secret_like(a, v):
    """A SecretTensor of a's shape holding the public v."""
    return a * 0 + v


@pytest.mark.parametrize("case", BOUNDARY_CASES, ids=lambda c: c[0].split(" (")[0] if isinstance(c, str) else None)
def test_each_kind_of_overflow_is_reported_exactly_past_its_boundary(case):
    what, op, inside, outside = case

    def main(p, units):
        p.engine.overflow = "raise"
        op(ring_share(p, units))
        return "ok"

    assert run_local(main, 2, inside, engine="cleartext") == ["ok", "ok"]
    outcomes = run_local(main, 2, outside, engine="cleartext", return_exceptions=True)
    assert all(isinstance(e, RangeError) for e in outcomes), outcomes  # on every party
    assert str(outcomes[0]).startswith(f"cleartext: {what}"), str(outcomes[0])


def test_overflow_policies():
    def main(p, policy):
        p.engine.overflow = policy
        a = share(p, np.array(2.0**46))
        return p.reveal(a + a), repr(p.engine)

    results, caught = record(main, 3, "ignore")
    assert caught == [] and results[0][0] == -(2.0**47) and "ignore" in results[0][1]
    results, caught = record(main, 3, "warn")
    assert len(caught) == 1 and results[2][0] == -(2.0**47)  # from party 0 only, not one per party
    outcomes = run_local(main, 3, "raise", engine="cleartext", return_exceptions=True)
    assert all(isinstance(e, RangeError) and "addition of shape ()" in str(e) for e in outcomes)
    bad = run_local(main, 2, "loud", engine="cleartext", return_exceptions=True)
    assert isinstance(bad[0], ConfigError) and "overflow" in str(bad[0])


def test_saturating_functions_are_not_reported():
    """exp clamps and sigmoid/tanh saturate by design: no report for huge inputs."""

    def main(p):
        x = share(p, np.array([-1e6, -40.0, 40.0, 1e6]))
        return p.reveal(F.exp(x), F.sigmoid(x), F.tanh(x))

    (vals, _), caught = record(main)
    assert caught == []
    np.testing.assert_allclose(vals[1], [0, 0, 1, 1], atol=1e-4)


# ----------------------------------------------------------------------------- set-up


class _Socketless(Channel):
    def _transmit(self, to, header, payload):
        raise AssertionError("nothing may be sent")

    def _receive(self, frm, timeout, small=False):
        raise AssertionError("nothing may be received")


def test_cleartext_refuses_a_channel_between_processes_and_plans_nothing():
    prg = PRG.fresh()
    ctx = EngineContext(_Socketless(0, 2, 1), None, mpc.runtime.party.get_kernels(), prg, {1: prg}, prg)
    with pytest.raises(ConfigError, match="one process"):
        build(ctx)

    def main(p):
        assert isinstance(p.engine, Cleartext) and p.engine_name == "cleartext"
        x = share(p, np.array([1.0, 2.0]))
        return p.dry_run(lambda t: F.sigmoid(t * t) < 0.5, x)

    assert run_local(main, 2, engine="cleartext") == [[], []]  # no preprocessing material at all


def _mpcrun(*args, cwd):
    return subprocess.run([sys.executable, "-m", "mpc", "run", *args], capture_output=True, text=True, cwd=cwd,
                          timeout=120)


def test_mpcrun_emulate_runs_every_party_in_one_process(tmp_path):
    script = tmp_path / "prog.py"
    script.write_text(textwrap.dedent("""
        import os
        import sys
        import numpy as np
        import mpc

        def main(party):
            v = float(open(party.argv[0]).read())
            s = mpc.stack(party.input(np.array(v)))
            big = s * 1e7
            total = party.reveal((big * big).sum())
            sys.stdout.write(f"party {party.pid} of {party.n} in process {os.getpid()}: "
                             f"sum={s.sum().debug_value()} wrapped={total}\\n")  # one write: threads interleave

        if __name__ == "__main__":
            mpc.run(main, engine="semi2k", preprocessing="dealer")
    """))
    for i in range(3):
        (tmp_path / f"v{i}.txt").write_text(str(i + 1))
    out = _mpcrun("--emulate", "-n", "3", "--stats", "prog.py", "v{pid}.txt", cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    lines = sorted(line for line in out.stdout.splitlines() if line.startswith("party ") and "sum=" in line)
    assert [line.split(":")[0].split(" in process")[0] for line in lines] == [f"party {i} of 3" for i in range(3)]
    assert len({line.split("process ")[1].split(":")[0] for line in lines}) == 1  # one process
    assert all("sum=6.0" in line for line in lines)
    assert "RangeWarning" in out.stderr and "square of shape (3,)" in out.stderr
    table = [line for line in out.stdout.splitlines() if line[:7] in ("party 0", "party 1", "party 2")
             and "sum=" not in line]
    assert len(table) == 3 and len({tuple(row.split()[2:]) for row in table}) == 1  # same traffic per party
    refused = _mpcrun("--emulate", "-n", "3", "--engine", "semi2k", "prog.py", "v{pid}.txt", cwd=tmp_path)
    assert refused.returncode == 2 and "cleartext" in refused.stderr


def test_mpcrun_emulate_reports_a_failure_with_the_exit_code(tmp_path):
    script = tmp_path / "fail.py"
    script.write_text(textwrap.dedent("""
        import numpy as np
        import mpc

        def main(party):
            party.engine.overflow = "raise"
            x = party.input(np.array(2.0**46) if party.pid == 0 else None, owner=0, shape=())
            party.reveal(x + x)

        if __name__ == "__main__":
            mpc.run(main)
    """))
    out = _mpcrun("--emulate", "-n", "2", "fail.py", cwd=tmp_path)
    assert out.returncode == 1
    assert "emulation: RangeError: cleartext: addition of shape ()" in out.stderr
    assert "Traceback" not in out.stderr  # an expected error: one line, no traceback
