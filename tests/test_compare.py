"""mpc.tensor.compare against NumPy: comparisons, sign/abs/relu, where, min/max, argmax, sort, clip.

2 and 3 parties, Fixed(16) and Int64, hypothesis inputs with ties, zeros, the extremes of the
Fixed range and values differing in the last bit. Every operation of one example runs in one
run_local, through the Party's own boolean side, with the in-process dealer
(preprocessing="local") and with the TrustedDealer thread ("dealer"), under both engines:
semi2k (GMW engine, Converter with daBits) and spdz2k (authenticated bits, edaBits and daBits,
every opening MAC-checked). The engines share the (parties, source) settings rather than
doubling them (:data:`SETUPS`): each engine runs 2 and 3 parties and both sources.
"""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import mpc
from mpc.errors import ConfigError, InputError, ShareTypeError
from mpc.tensor import compare as C
from mpc.testing import run_local

F = 16
ULP = 2.0**-F
FIXED = mpc.Fixed(F)
TOP = 2.0**(62 - F) - 1.0  # |x|, |y| < 2^(62-f): x - y cannot wrap (2^46 - ULP would round to 2^46)
SETUPS = pytest.mark.parametrize("n, pre, engine", [(2, "local", "semi2k"), (3, "dealer", "semi2k"),
                                                    (3, "local", "spdz2k"), (2, "dealer", "spdz2k")])
SOURCES = pytest.mark.parametrize("pre, engine", [("local", "semi2k"), ("dealer", "spdz2k")])
ENGINES = pytest.mark.parametrize("engine", ["semi2k", "spdz2k", "masked2k"])


def q(a):
    return np.rint(np.asarray(a, dtype=np.float64) * 2.0**F) / 2.0**F


special = st.sampled_from([0.0, ULP, -ULP, 1.0, -1.0, 1.0 + ULP, TOP, -TOP, 3.5, -3.5])
element = st.one_of(special, st.floats(-1000, 1000, allow_nan=False, width=32))


def draw_matrix(data, rows, cols, elements=element):
    """A (rows, cols) float array of drawn elements (not yet rounded to the Fixed grid)."""
    drawn = data.draw(st.lists(elements, min_size=rows * cols, max_size=rows * cols))
    return np.array(drawn).reshape(rows, cols)


def reveal_all(p, out):
    """The dict ``out`` of secret results, revealed: name -> value."""
    return dict(zip(out, p.reveal(*out.values()), strict=True))


def check_all(main, n, pre, engine, want):
    """Every party's revealed dict matches ``want`` exactly, name by name (as float64)."""
    for got in run_local(main, n, preprocessing=pre, engine=engine):
        for k, w in want.items():
            np.testing.assert_array_equal(got[k], np.asarray(w, dtype=np.float64), err_msg=k)


@SETUPS
@settings(max_examples=4, deadline=None)
@given(data=st.data())
def test_fixed_comparisons_and_selections(n, pre, engine, data):
    rows, cols = data.draw(st.integers(1, 4)), data.draw(st.integers(1, 6))
    x = draw_matrix(data, rows, cols)
    y = draw_matrix(data, rows, cols)
    y[0, 0] = x[0, 0]  # a tie
    y.flat[-1] = x.flat[-1] + ULP  # a last-bit difference
    x, y = q(x), q(y)
    small_x = np.clip(x, -1e6, 1e6)  # for differences with public constants
    small_y = np.clip(y, -1e3, 1e3)  # products (where, masks) need |value| < 2^(62-2f)

    def main(p):
        sx = p.input(x if p.pid == 0 else None, owner=0, shape=x.shape, dtype=FIXED)
        sy = p.input(y if p.pid == n - 1 else None, owner=n - 1, shape=y.shape, dtype=FIXED)
        ss = p.input(small_x if p.pid == 0 else None, owner=0, shape=x.shape, dtype=FIXED)
        sm = p.input(small_y if p.pid == 0 else None, owner=0, shape=x.shape, dtype=FIXED)
        out = {
            "lt": C.lt(sx, sy), "le": C.le(sx, sy), "gt": C.gt(sx, sy), "ge": C.ge(sx, sy),
            "eq": C.eq(sx, sy), "ne": C.ne(sx, sy), "lt_pub": C.lt(ss, 0.5), "gt_rpub": C.gt(1.0, ss),
            "sign": C.sign(sx), "abs": C.abs(sx), "relu": C.relu(sx),
            "min": C.minimum(sx, sy), "max": C.maximum(sx, sy), "max_pub": C.maximum(ss, -2.0),
            "where": C.where(C.lt(sx, sy), sm, 1.5), "clip": C.clip(ss, -1.0, 2.5),
            "clip_lo": C.clip(ss, lo=0.0), "prod_mask": sm * C.ge(sx, sy),
        }
        return reveal_all(p, out)

    want = {
        "lt": x < y, "le": x <= y, "gt": x > y, "ge": x >= y, "eq": x == y, "ne": x != y,
        "lt_pub": small_x < 0.5, "gt_rpub": 1.0 > small_x, "sign": np.sign(x), "abs": np.abs(x),
        "relu": np.maximum(x, 0), "min": np.minimum(x, y), "max": np.maximum(x, y),
        "max_pub": np.maximum(small_x, -2.0), "where": np.where(x < y, small_y, 1.5),
        "clip": np.clip(small_x, -1.0, 2.5), "clip_lo": np.maximum(small_x, 0.0), "prod_mask": small_y * (x >= y),
    }
    check_all(main, n, pre, engine, want)


@SETUPS
@settings(max_examples=3, deadline=None)
@given(data=st.data())
def test_reductions_argmax_sort(n, pre, engine, data):
    rows, cols = data.draw(st.integers(1, 3)), data.draw(st.integers(1, 9))
    pool = st.sampled_from([0.0, 1.0, -1.0, 2.5, ULP, -7.25])  # many ties
    x = q(draw_matrix(data, rows, cols, st.one_of(pool, element)))

    def main(p):
        sx = p.input(x if p.pid == 0 else None, owner=0, shape=x.shape, dtype=FIXED)
        out = {
            "max1": C.max(sx, axis=1), "min0": C.min(sx, axis=0), "max": C.max(sx), "min": C.min(sx, axis=-1),
            "argmax1": C.argmax(sx, axis=1), "argmin0": C.argmin(sx, axis=0), "argmax": C.argmax(sx),
            "sort": C.sort(sx), "sort0": C.sort(sx, axis=0),
        }
        return reveal_all(p, out)

    want = {
        "max1": x.max(1), "min0": x.min(0), "max": x.max(), "min": x.min(-1), "argmax1": x.argmax(1),
        "argmin0": x.argmin(0), "argmax": x.argmax(), "sort": np.sort(x), "sort0": np.sort(x, axis=0),
    }
    check_all(main, n, pre, engine, want)


@SETUPS
def test_int64_comparisons(n, pre, engine):
    x = np.array([0, -1, 5, -(2**62), 2**62 - 1, 7, 2**40, -(2**40) - 1], dtype=np.int64)
    y = np.array([0, 0, 5, -(2**62) + 1, 2**62 - 2, -7, 2**40 + 1, -(2**40)], dtype=np.int64)

    def main(p):
        sx = p.input(x if p.pid == 0 else None, owner=0, shape=x.shape, dtype=mpc.Int64())
        sy = p.input(y if p.pid == 1 else None, owner=1, shape=y.shape, dtype=mpc.Int64())
        return p.reveal(C.lt(sx, sy), C.eq(sx, sy), C.maximum(sx, sy), C.relu(sx), C.argmax(sx))

    lt, eq, mx, relu, am = run_local(main, n, preprocessing=pre, engine=engine)[0]
    np.testing.assert_array_equal(lt, x < y)
    np.testing.assert_array_equal(eq, x == y)
    np.testing.assert_array_equal(mx, np.maximum(x, y))
    np.testing.assert_array_equal(relu, np.maximum(x, 0))
    assert am == x.argmax() and lt.dtype == np.int64


@SOURCES
def test_equality_is_exact_at_the_ring_extremes(pre, engine):
    x = np.array([-(2**63), 2**63 - 1, -(2**63), 0], dtype=np.int64)
    y = np.array([2**63 - 1, 2**63 - 1, -(2**63), -(2**63)], dtype=np.int64)

    def main(p):
        sx = p.input(x if p.pid == 0 else None, owner=0, shape=x.shape, dtype=mpc.Int64())
        sy = p.input(y if p.pid == 1 else None, owner=1, shape=y.shape, dtype=mpc.Int64())
        return p.reveal(C.eq(sx, sy), C.ne(sx, sy))

    eq, ne = run_local(main, 3, preprocessing=pre, engine=engine)[0]
    np.testing.assert_array_equal(eq, x == y)
    np.testing.assert_array_equal(ne, x != y)


@SETUPS
def test_w3_w4_rounds(n, pre, engine):
    size = 2000

    def main(p):
        g = np.linspace(-8, 8, size)
        x = p.input(g if p.pid == 0 else None, owner=0, shape=(size,))
        y = p.input(-g if p.pid == 1 else None, owner=1, shape=(size,))
        with p.section("w3"):
            C.lt(x, y)
        with p.section("w4"):
            C.relu(x)
        with p.section("sort"):
            C.sort(x[:10])
        return p.stats()["sections"]

    for s in run_local(main, n, preprocessing=pre, engine=engine):
        if engine == "spdz2k":  # mpc.engines.spdz2k_convert: the masked opening, 5 AND layers (the first
            # level is linear in the edaBits' pair products), B2A or bit times value; any n. Bytes to each
            # peer: the opened c (16) and 57 ANDs (14.25), then one bit (W3) or one bit and the opened
            # d = x - a (W4), all plus frame headers
            assert s["w3"]["rounds"] == 7 and s["w4"]["rounds"] == 7 and s["sort"]["rounds"] == 10 * 7
            assert s["w3"]["bytes_sent"] < (n - 1) * 31 * size and s["w4"]["bytes_sent"] < (n - 1) * 47 * size
            assert s["w4"]["bytes_sent"] - s["w3"]["bytes_sent"] == 16 * size * (n - 1)
            continue
        if n == 2:  # CrypTen 0.4.1: 8 rounds (W3), 9 rounds (W4)
            assert s["w3"]["rounds"] == 8 and s["w4"]["rounds"] == 8
            assert s["w3"]["bytes_sent"] < 48 * size and s["w4"]["bytes_sent"] < 56 * size
            assert s["sort"]["rounds"] == 10 * 8  # Batcher, 16 wires: 10 layers
        else:  # 3 parties: one carry-save layer, then B2A (or bit times value) in one round
            assert s["w3"]["rounds"] == 9 and s["w4"]["rounds"] == 9
        # W4 = W3's MSB, then bit times value where W3 has B2A: both open one bit per element
        # (a daBit or bit-injection mask), bit times value also one ring element d = x - a
        assert s["w4"]["bytes_sent"] - s["w3"]["bytes_sent"] == 8 * size * (n - 1)


@SOURCES
def test_zero_dim_and_empty_shapes(pre, engine):
    def main(p):
        s = p.input(2.5 if p.pid == 0 else None, owner=0, shape=())
        e = p.input(np.zeros((0, 3)) if p.pid == 0 else None, owner=0, shape=(0, 3))
        one = p.input(np.array([4.0]) if p.pid == 0 else None, owner=0, shape=(1,))
        return p.reveal(C.lt(s, 3), C.relu(s), C.sign(s), C.max(one), C.argmax(one), C.sort(one),
                        C.lt(e, 0), C.relu(e), C.maximum(s, one))

    lt, relu, sign, mx, am, srt, elt, erelu, mxb = run_local(main, 2, preprocessing=pre, engine=engine)[0]
    assert np.shape(lt) == () and lt == 1.0 and relu == 2.5 and sign == 1.0
    assert mx == 4.0 and am == 0.0 and srt.tolist() == [4.0]
    assert elt.shape == (0, 3) and erelu.shape == (0, 3) and mxb.tolist() == [4.0]


@ENGINES
def test_missing_converter_is_a_config_error(engine):
    def main(p):
        x = p.input(np.zeros(3) if p.pid == 0 else None, owner=0, shape=(3,))
        p.engine.converter = None  # an arithmetic engine without its boolean side
        with pytest.raises(ConfigError, match="boolean engine"):
            C.lt(x, 0)
        with pytest.raises(ConfigError, match="boolean engine"):
            x.max()
        return True

    assert all(run_local(main, 2, engine=engine))


@SETUPS
@settings(max_examples=4, deadline=None)
@given(data=st.data())
def test_where_with_a_public_condition_is_local_and_exact(n, pre, engine, data):
    """mpc.where with a public cond (booleans or 0/1, broadcast as NumPy's where): exact, no
    byte sent, a secret on either side or both, edge values included; a cond of other values and
    an all-public call are rejected before anything is sent."""
    x, y = q(draw_matrix(data, 2, 3)), q(draw_matrix(data, 2, 3))
    cond = np.array(data.draw(st.lists(st.booleans(), min_size=3, max_size=3)))  # broadcast over rows

    def main(p):
        sx = p.input(x if p.pid == 0 else None, owner=0, shape=x.shape)
        sy = p.input(y if p.pid == n - 1 else None, owner=n - 1, shape=y.shape)
        before = p.stats()["total"]["bytes_sent"]
        out = {"both": mpc.where(cond, sx, sy), "ints": mpc.where(cond.astype(int), sx, sy),
               "pub_b": mpc.where(cond, sx, 2.5), "pub_a": mpc.where(cond[None, :], -1.0, sy)}
        with pytest.raises(InputError, match="booleans or 0/1"):
            mpc.where(np.array([0, 2, 1]), sx, sy)
        with pytest.raises(ShareTypeError, match="numpy.where"):
            mpc.where(cond, 1.0, 2.0)
        assert p.stats()["total"]["bytes_sent"] == before  # a public selection is local
        return reveal_all(p, out)

    want = {"both": np.where(cond, x, y), "ints": np.where(cond, x, y), "pub_b": np.where(cond, x, 2.5),
            "pub_a": np.where(cond[None, :], -1.0, y)}
    check_all(main, n, pre, engine, want)


@SETUPS
def test_secret_tensor_operators_and_methods(n, pre, engine):
    """The SecretTensor operators/methods and mpc.where/minimum/maximum are the compare functions."""
    x = np.array([[1.5, -2.0, 0.0], [3.25, 3.25, -0.5]])
    y = np.array([[1.5, 2.0, -1.0], [0.0, 4.0, -0.5]])

    def main(p):
        sx = p.input(x if p.pid == 0 else None, owner=0, shape=x.shape)
        sy = p.input(y if p.pid == n - 1 else None, owner=n - 1, shape=y.shape)
        out = {
            "lt": sx < sy, "le": sx <= sy, "gt": sx > sy, "ge": sx >= sy, "rlt": 1.0 > sx, "arr": y < sx,
            "eq": sx.eq(sy), "ne": sx.ne(sy), "abs": abs(sx), "relu": sx.relu(), "sign": sx.sign(),
            "clip": sx.clip(-1.0, 2.0), "max": sx.max(), "max0": sx.max(axis=0), "min1": sx.min(axis=1),
            "argmax": sx.argmax(), "argmin1": sx.argmin(axis=1), "sort": sx.sort(), "sort0": sx.sort(axis=0),
            "maximum": sx.maximum(sy), "minimum": sx.minimum(0.5), "where": sx.where(sx < sy, sy),
            "mpc_where": mpc.where(sx < sy, sx, 0.0), "mpc_max": mpc.maximum(sx, sy), "mpc_min": mpc.minimum(sx, sy),
            "eq_op": sx == sy, "ne_op": sx != sy, "eq_rpub": 0.0 == sx,
        }
        with pytest.raises(TypeError, match="secret"):
            bool(sx == sy)  # elementwise ==: its truth value is secret
        assert {sx: 1}[sx] == 1 and sx in {sx}  # still hashable, by identity
        return reveal_all(p, out)

    want = {
        "lt": x < y, "le": x <= y, "gt": x > y, "ge": x >= y, "rlt": 1.0 > x, "arr": y < x, "eq": x == y,
        "ne": x != y, "abs": np.abs(x), "relu": np.maximum(x, 0), "sign": np.sign(x), "clip": np.clip(x, -1, 2),
        "max": x.max(), "max0": x.max(0), "min1": x.min(1), "argmax": x.argmax(), "argmin1": x.argmin(1),
        "sort": np.sort(x), "sort0": np.sort(x, axis=0), "maximum": np.maximum(x, y), "minimum": np.minimum(x, 0.5),
        "where": np.where(x < y, x, y), "mpc_where": np.where(x < y, x, 0.0), "mpc_max": np.maximum(x, y),
        "mpc_min": np.minimum(x, y), "eq_op": x == y, "ne_op": x != y, "eq_rpub": x == 0.0,
    }
    check_all(main, n, pre, engine, want)
    got = run_local(main, n, preprocessing=pre, engine=engine)[0]
    for k in ("lt", "le", "gt", "ge", "eq", "ne", "eq_op", "argmax", "argmin1"):
        assert got[k].dtype == np.int64, k  # comparisons and indices reveal as integers
    assert got["relu"].dtype == np.float64 and got["sign"].dtype == np.float64


@SETUPS
@settings(max_examples=3, deadline=None)
@given(data=st.data())
def test_clip_with_mask(n, pre, engine, data):
    """clip(lo, hi, with_mask=True): the clipped values and [lo < x < hi] (0 at the bounds
    themselves), two-sided, one-sided and with secret bounds, Fixed and Int64, against NumPy."""
    x = q(draw_matrix(data, 2, data.draw(st.integers(1, 6)), st.one_of(st.sampled_from([-1.0, 2.5, 0.0]), element)))
    x[0, 0], x[-1, -1] = -1.0, 2.5  # on both bounds
    ints = np.array([-3, 0, 4, 5, 9, -7], dtype=np.int64)

    def main(p):
        sx = p.input(x if p.pid == 0 else None, owner=0, shape=x.shape, dtype=FIXED)
        si = p.input(ints if p.pid == n - 1 else None, owner=n - 1, shape=ints.shape, dtype=mpc.Int64())
        lo = p.input(np.array(-1.0) if p.pid == n - 1 else None, owner=n - 1, shape=())
        out = {}
        out["y"], out["m"] = sx.clip(-1.0, 2.5, with_mask=True)
        out["y_lo"], out["m_lo"] = C.clip(sx, lo=-1.0, with_mask=True)
        out["y_hi"], out["m_hi"] = sx.clip(hi=2.5, with_mask=True)
        out["y_sec"], out["m_sec"] = sx.clip(lo, 2.5, with_mask=True)
        out["y_int"], out["m_int"] = si.clip(0, 5, with_mask=True)
        out["y_none"], out["m_none"] = sx.clip(with_mask=True)
        return reveal_all(p, out)

    want = {
        "y": np.clip(x, -1, 2.5), "m": (x > -1) & (x < 2.5), "y_lo": np.maximum(x, -1), "m_lo": x > -1,
        "y_hi": np.minimum(x, 2.5), "m_hi": x < 2.5, "y_sec": np.clip(x, -1, 2.5), "m_sec": (x > -1) & (x < 2.5),
        "y_int": np.clip(ints, 0, 5), "m_int": (ints > 0) & (ints < 5), "y_none": x, "m_none": np.ones(x.shape),
    }
    check_all(main, n, pre, engine, want)
