"""SecretTensor on semi2k and spdz2k against NumPy: 2 and 3 parties, Int64 and Fixed, hypothesis inputs.

One run_local per example computes every operation at once; results are compared with NumPy on
the decoded inputs (so encoding rounding is not counted). Products are exact at scale 2f; each
truncation adds at most one unit in the last place (2^-f).
"""

import numpy as np
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import mpc
from mpc.testing import run_local

F = 16
ULP = 2.0**-F
FIXED = mpc.Fixed(F)
INT = mpc.Int64()

shapes = hnp.array_shapes(min_dims=1, max_dims=2, min_side=1, max_side=4)
parties = st.sampled_from([2, 3])
ENGINES = ["semi2k", "spdz2k", "masked2k"]  # every arithmetic engine: each test below runs under each
engines = st.sampled_from(ENGINES)


def fixed_values(shape):
    return hnp.arrays(np.float64, shape, elements=st.floats(-1024, 1024, allow_nan=False, width=32))


def int_values(shape):
    return hnp.arrays(np.int64, shape, elements=st.integers(-(2**63), 2**63 - 1))


def q(a):
    """Plaintext value after Fixed(16) encoding."""
    return np.rint(np.asarray(a, dtype=np.float64) * 2.0**F) / 2.0**F


def share_pair(p, x, y, dtype):
    """x owned by party 0, y by the last party."""
    last = p.n - 1
    sx = p.input(x if p.pid == 0 else None, owner=0, dtype=dtype, shape=np.shape(x))
    sy = p.input(y if p.pid == last else None, owner=last, dtype=dtype, shape=np.shape(y))
    return sx, sy


@given(parties, engines, st.data())
def test_fixed_ops_match_numpy(n, engine, data):
    shape = data.draw(shapes)
    x = data.draw(fixed_values(shape))
    y = data.draw(fixed_values(shape))
    c = data.draw(st.floats(-8, 8, allow_nan=False, width=32))
    col = data.draw(fixed_values((shape[-1],)))

    def main(p):
        sx, sy = share_pair(p, x, y, FIXED)
        out = {
            "add": sx + sy, "sub": sx - sy, "neg": -sx, "mul": sx * sy, "sq": sx.square(),
            "radd": 3 + sx, "rsub": 2.5 - sx, "pmul": sx * c, "rmul": col * sx, "isub": sx - col,
            "intmul": 3 * sx, "bcast": sx * sy[..., :1], "matmul": sx @ sy.T, "rmatmul": x @ sy.T,
            "mul3": (sx * sy) * sx, "trunc": (sx * sy).truncate(), "mix": sx * sy + sx,
            "sum0": sx.sum(axis=0), "sum": sx.sum(), "mean": sx.mean(), "mean1": sx.mean(axis=-1),
            "cumsum": sx.cumsum(axis=0), "div": sx / 3, "divf": sx / 2.5, "pow": sx ** 2,
        }
        return dict(zip(out, p.reveal(*out.values()), strict=True))

    got = run_local(main, n, engine=engine)
    qx, qy, qc, qcol = q(x), q(y), q(c), q(col)
    want = {
        "add": qx + qy, "sub": qx - qy, "neg": -qx, "mul": qx * qy, "sq": qx * qx,
        "radd": 3 + qx, "rsub": 2.5 - qx, "pmul": qx * qc, "rmul": qcol * qx, "isub": qx - qcol,
        "intmul": 3 * qx, "bcast": qx * qy[..., :1], "matmul": qx @ qy.T, "rmatmul": qx @ qy.T,
        "mul3": qx * qy * qx, "trunc": qx * qy, "mix": qx * qy + qx,
        "sum0": qx.sum(axis=0), "sum": qx.sum(), "mean": qx.mean(), "mean1": qx.mean(axis=-1),
        "cumsum": qx.cumsum(axis=0), "div": qx / 3, "divf": qx / 2.5, "pow": qx * qx,
    }
    exact = {"add", "sub", "neg", "mul", "sq", "radd", "rsub", "pmul", "rmul", "isub", "intmul", "bcast",
             "matmul", "rmatmul", "sum0", "sum", "cumsum", "pow"}
    for k, w in want.items():
        for r in got:  # every party learns the same values
            assert np.shape(r[k]) == np.shape(w), k
            if k in exact:
                np.testing.assert_array_equal(r[k], w, err_msg=k)
            elif k == "mul3":  # one truncation of x*y (<= 1 ulp) times |x| <= 1024
                np.testing.assert_allclose(r[k], w, rtol=0, atol=1024 * ULP * 1.01, err_msg=k)
            elif k == "divf":  # reciprocal encoded with f bits
                np.testing.assert_allclose(r[k], w, rtol=0, atol=1024 * ULP + 1e-12, err_msg=k)
            else:
                np.testing.assert_allclose(r[k], w, rtol=0, atol=2 * ULP, err_msg=k)


@given(parties, engines, st.data())
def test_int64_ops_wrap_like_numpy(n, engine, data):
    shape = data.draw(shapes)
    x = data.draw(int_values(shape))
    y = data.draw(int_values(shape))
    k = data.draw(st.integers(-(2**63), 2**63 - 1))

    def main(p):
        sx, sy = share_pair(p, x, y, INT)
        out = {"add": sx + sy, "sub": sx - sy, "mul": sx * sy, "neg": -sx, "pmul": sx * k, "padd": sx + k,
               "rsub": k - sx, "matmul": sx @ sy.T, "sum": sx.sum(axis=-1), "cumsum": sx.cumsum(), "sq": sx * sx}
        return dict(zip(out, p.reveal(*out.values()), strict=True))

    got = run_local(main, n, engine=engine)
    with np.errstate(over="ignore"):
        kk = np.int64(k)
        want = {"add": x + y, "sub": x - y, "mul": x * y, "neg": -x, "pmul": x * kk, "padd": x + kk, "rsub": kk - x,
                "matmul": (x.view(np.uint64) @ y.T.view(np.uint64)).view(np.int64),
                "sum": x.sum(axis=-1), "cumsum": x.cumsum(), "sq": x * x}
    for key, w in want.items():
        for r in got:
            np.testing.assert_array_equal(r[key], w, err_msg=key)


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("n", [2, 3])
def test_edge_values(n, engine):
    big = 2.0 ** (63 - F) - 1  # the largest Fixed magnitude the encoding takes
    ints = np.array([0, -1, 2**63 - 1, -(2**63), 12345], dtype=np.int64)
    fx = np.array([0.0, -0.0, -1.5, big, -big, ULP, -ULP])

    def main(p):
        a = p.input(ints if p.pid == 0 else None, owner=0, dtype=INT, shape=ints.shape)
        b = p.input(fx if p.pid == 1 else None, owner=1, shape=fx.shape)
        e = p.input(np.zeros((0, 3)) if p.pid == 0 else None, owner=0, shape=(0, 3))
        return p.reveal(a + a, a * a, -a, b, b - b, a[2:4] + 1, e.sum(axis=0), e.sum(axis=1), e @ np.ones((3, 2)),
                        e.T @ e)

    r = run_local(main, n, engine=engine)[0]
    with np.errstate(over="ignore"):
        np.testing.assert_array_equal(r[0], ints + ints)
        np.testing.assert_array_equal(r[1], ints * ints)
        np.testing.assert_array_equal(r[2], -ints)
        np.testing.assert_array_equal(r[5], ints[2:4] + 1)  # 2^63 - 1 + 1 wraps to -2^63
    np.testing.assert_array_equal(r[3], fx)
    np.testing.assert_array_equal(r[4], np.zeros_like(fx))
    assert r[6].shape == (3,) and not r[6].any() and r[7].shape == (0,) and r[8].shape == (0, 2)
    np.testing.assert_array_equal(r[9], np.zeros((3, 3)))


@given(parties, engines, st.data())
def test_shape_ops_indexing_and_joins(n, engine, data):
    shape = data.draw(hnp.array_shapes(min_dims=2, max_dims=3, min_side=1, max_side=4))
    x = data.draw(fixed_values(shape))
    idx = data.draw(st.integers(0, shape[0] - 1))
    pub = data.draw(st.floats(-5, 5, allow_nan=False, width=32))

    def main(p):
        sx = p.input(x if p.pid == 0 else None, owner=0, shape=x.shape)
        before = p.stats()["total"]["bytes_sent"]
        t = sx.reshape(-1).reshape(sx.shape)
        u = sx[...]
        u[idx] = sx[0] * 2
        v = sx[...]
        v[:, 0] = pub
        out = [sx.T, sx.transpose(), t, sx[idx], sx[[0, idx]], sx[sx.shape[0] - 1, ..., ::-1], u, v,
               mpc.stack([sx, sx], axis=1), mpc.concatenate([sx, sx[:1]], axis=0), mpc.stack([sx, x]),
               sx.flatten(), sx.sum(axis=(0, 1))]
        sent = p.stats()["total"]["bytes_sent"] - before
        return sent, p.reveal(*out)

    got = run_local(main, n, engine=engine)
    qx, qp = q(x), q(pub)
    u = qx.copy()
    u[idx] = qx[0] * 2
    v = qx.copy()
    v[:, 0] = qp
    want = [qx.T, qx.transpose(), qx, qx[idx], qx[[0, idx]], qx[-1, ..., ::-1], u, v, np.stack([qx, qx], axis=1),
            np.concatenate([qx, qx[:1]]), np.stack([qx, qx]), qx.ravel(), qx.sum(axis=(0, 1))]
    for sent, res in got:
        assert sent == 0  # indexing, reshapes, joins and linear ops send nothing
        for a, w in zip(res, want, strict=True):
            np.testing.assert_array_equal(a, w)


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("n", [2, 3])
def test_linear_ops_send_nothing(n, engine):
    x = np.arange(12.0).reshape(3, 4)

    def main(p):
        a = p.input(x if p.pid == 0 else None, owner=0, shape=x.shape)
        b = p.input(x if p.pid == 1 else None, owner=1, shape=x.shape)
        ab = a * b  # untruncated scale-2f product: linear ops on it stay local too
        with p.section("linear"):
            r = (a + b) - 2 * a + 1.5 - x
            r = -r + a * 3 + x * b + a @ np.ones((4, 2)) @ np.ones((2, 4)) + ab
            r = r.sum(axis=0) + a.cumsum(axis=1)[0] + a.T.reshape(4, 3).sum(axis=1)
            r = mpc.concatenate([r, a[1], b[:, 0]]) + mpc.stack([a, b]).sum(axis=0)[0, 0]
            r = repr(r) and r
        return p.stats()["sections"]["linear"]

    for s in run_local(main, n, engine=engine):
        assert s["bytes_sent"] == 0 and s["messages_sent"] == 0 and s["rounds"] == 0


@pytest.mark.parametrize("n", [2, 3])
def test_rounds_and_bytes_of_products(n):
    def main(p):
        a = p.input(np.ones((4, 5)) if p.pid == 0 else None, owner=0, shape=(4, 5))
        b = p.input(np.ones((5, 6)) if p.pid == 1 else None, owner=1, shape=(5, 6))
        c = p.input(np.ones((4, 5)) if p.pid == 1 else None, owner=1, shape=(4, 5))
        stats = {}
        for name, fn in [("mul", lambda: a * c), ("matmul", lambda: a @ b), ("square", lambda: a.square()),
                         ("trunc", lambda: (a * c).truncate()), ("reveal", lambda: p.reveal(a))]:
            with p.section(name):
                fn()
            stats[name] = p.stats()["sections"][name]
        return stats

    header = 32 + 8  # wire header of a 1-d frame
    for s in run_local(main, n):
        assert s["mul"]["rounds"] == 1 and s["mul"]["bytes_sent"] == (n - 1) * (2 * 20 * 8 + header)
        assert s["matmul"]["rounds"] == 1 and s["matmul"]["bytes_sent"] == (n - 1) * ((20 + 30) * 8 + header)
        assert s["square"]["rounds"] == 1 and s["square"]["bytes_sent"] == (n - 1) * (20 * 8 + header)
        assert s["trunc"]["rounds"] == 2  # the product, then the truncation
        assert s["reveal"]["rounds"] == 1


@pytest.mark.parametrize("n", [2, 3])
def test_product_chains_cost_one_round_per_layer(n):
    """A pending truncation feeding an elementwise product or a square is folded into that
    product's round: (a*c)*a, (a*c)*(c*a) and (a*c)^2 cost exactly one round more than their
    operands and exactly the bytes of a plain product (a square: half), where truncating first
    cost one round and (n-1) elements more per pending operand."""
    def main(p):
        a = p.input(np.full((4, 5), 1.5) if p.pid == 0 else None, owner=0, shape=(4, 5))
        c = p.input(np.full((4, 5), -2.25) if p.pid == 1 else None, owner=1, shape=(4, 5))
        stats, out = {}, {}
        for name, fn in [("chain", lambda: (a * c) * a), ("both", lambda: (a * c) * (c * a)),
                         ("square", lambda: (a * c).square()), ("deep", lambda: ((a * c) * a) * c)]:
            with p.section(name):
                out[name] = fn()
            stats[name] = p.stats()["sections"][name]
        return stats, p.reveal(*out.values())

    header = 32 + 8
    mul_bytes = (n - 1) * (2 * 20 * 8 + header)
    for s, vals in run_local(main, n):
        assert s["chain"]["rounds"] == 2 and s["chain"]["bytes_sent"] == 2 * mul_bytes
        # two products (one after the other: 2 rounds), then their product with both pending
        assert s["both"]["rounds"] == 3 and s["both"]["bytes_sent"] == 3 * mul_bytes
        assert s["square"]["rounds"] == 2 and s["square"]["bytes_sent"] == mul_bytes + (n - 1) * (20 * 8 + header)
        assert s["deep"]["rounds"] == 3 and s["deep"]["bytes_sent"] == 3 * mul_bytes
        want = {"chain": -2.25 * 1.5 * 1.5, "both": (1.5 * -2.25) ** 2, "square": (1.5 * -2.25) ** 2,
                "deep": 1.5 * -2.25 * 1.5 * -2.25}
        for got, (name, w) in zip(vals, want.items(), strict=True):
            np.testing.assert_allclose(got, np.full((4, 5), w), atol=8 * ULP, err_msg=name)


@given(parties, engines, st.data())
def test_truncation_folded_into_products_matches_numpy(n, engine, data):
    """Chains of elementwise products and squares (both operands pending, one, broadcasting;
    edge values 0, +-32, +-one ulp) against float64 on the encoded inputs. Each truncation is
    floor or floor + 1 ulp, so T(a)*b is off from a*b by less than |b| ulp (checked per element,
    plus one ulp of slack for the decoding)."""
    shape = data.draw(shapes)
    vals = hnp.arrays(np.float64, shape, elements=st.floats(-32, 32, allow_nan=False, width=32))
    x, y, w = (data.draw(vals) for _ in range(3))
    edges = np.array([0.0, 32.0, -32.0, ULP, -ULP, 1.0])
    x.reshape(-1)[: min(x.size, 6)] = edges[: min(x.size, 6)]

    def main(p):
        sx, sy = share_pair(p, x, y, FIXED)
        sw = p.input(w if p.pid == 0 else None, owner=0, dtype=FIXED, shape=w.shape)
        xy, wx = sx * sy, sw * sx  # pending: scale 2f
        return p.reveal(xy * sw, sw * xy, xy * wx, xy.square(), xy * sw[..., :1])

    qx, qy, qw = q(x), q(y), q(w)
    xy, wx, w1 = qx * qy, qw * qx, qw[..., :1]
    want = [(xy * qw, abs(qw)), (xy * qw, abs(qw)), (xy * wx, abs(xy) + abs(wx) + ULP),
            (xy * xy, 2 * abs(xy) + ULP), (xy * w1, abs(w1) + 0 * xy)]
    for got, (exp, factor) in zip(run_local(main, n, engine=engine)[0], want, strict=True):
        assert np.all(np.abs(got - exp) <= ULP * (factor + 1)), (got, exp)


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("n", [2, 3])
def test_conv2d_and_avg_pool_match_numpy(n, engine):
    gen = np.random.default_rng(5)
    x = np.round(gen.uniform(-4, 4, (2, 3, 6, 5)), 3)
    w = np.round(gen.uniform(-1, 1, (4, 3, 3, 2)), 3)

    def ref_conv(x, w, stride, pad):
        xp = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
        o, _, kh, kw = w.shape
        oh = (xp.shape[2] - kh) // stride + 1
        ow = (xp.shape[3] - kw) // stride + 1
        out = np.zeros((x.shape[0], o, oh, ow))
        for i in range(oh):
            for j in range(ow):
                patch = xp[:, :, i * stride : i * stride + kh, j * stride : j * stride + kw]
                out[:, :, i, j] = np.einsum("nchw,ochw->no", patch, w)
        return out

    def main(p):
        sx = p.input(x if p.pid == 0 else None, owner=0, shape=x.shape)
        sw = p.input(w if p.pid == p.n - 1 else None, owner=p.n - 1, shape=w.shape)
        return p.reveal(mpc.conv2d(sx, sw), sx.conv2d(sw, stride=2, padding=1), mpc.conv2d(x, sw), sx.conv2d(w),
                        sx.avg_pool2d(2), mpc.avg_pool2d(sx, (3, 2), stride=1, padding=1))

    r = run_local(main, n, engine=engine)[0]
    qx, qw = q(x), q(w)
    np.testing.assert_allclose(r[0], ref_conv(qx, qw, 1, 0), atol=1e-9)
    np.testing.assert_allclose(r[1], ref_conv(qx, qw, 2, 1), atol=1e-9)
    np.testing.assert_allclose(r[2], ref_conv(qx, qw, 1, 0), atol=1e-9)
    np.testing.assert_allclose(r[3], ref_conv(qx, qw, 1, 0), atol=1e-9)
    ones = np.ones((1, 1, 2, 2))
    pool = ref_conv(qx.reshape(6, 1, 6, 5), ones, 2, 0).reshape(2, 3, 3, 2) / 4
    np.testing.assert_allclose(r[4], pool, atol=2 * ULP)
    pool2 = ref_conv(qx.reshape(6, 1, 6, 5), np.ones((1, 1, 3, 2)), 1, 1).reshape(2, 3, 6, 6) / 6
    np.testing.assert_allclose(r[5], pool2, atol=2 * ULP)


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("n", [2, 3])
def test_dot_outer_and_vector_matmul(n, engine):
    a = np.array([1.5, -2.0, 3.25])
    b = np.array([0.5, 4.0, -1.0])
    m = np.arange(6.0).reshape(3, 2)

    def main(p):
        sa, sb = share_pair(p, a, b, FIXED)
        sm = p.input(m if p.pid == 0 else None, owner=0, shape=m.shape)
        st3 = mpc.stack([sm, sm])  # (2, 3, 2): batched products
        return p.reveal(sa.dot(sb), mpc.dot(sa, sb), mpc.outer(sa, sb), sa.outer(b), sa @ sm, sm.T @ sa,
                        st3.transpose(0, 2, 1) @ st3, st3 @ sm.T, mpc.dot(a, sb), mpc.outer(a, sb))

    r = run_local(main, n, engine=engine)[0]
    want = [a @ b, a @ b, np.outer(a, b), np.outer(a, b), a @ m, m.T @ a,
            np.stack([m, m]).transpose(0, 2, 1) @ np.stack([m, m]), np.stack([m, m]) @ m.T, a @ b, np.outer(a, b)]
    for got, w in zip(r, want, strict=True):
        np.testing.assert_allclose(got, w, atol=1e-9)


@given(parties, engines, st.data())
def test_pending_product_times_public_scalar(n, engine, data):
    """(x * y) * c for a public non-integral scalar 0 < |c| < 1: the pending truncation and the
    scaling are one division (one round, result at scale f, within 2 ulps plus c's relative rounding
    2^-17), so a matrix product of it needs no truncation round; other non-integral scalars
    truncate first (one round) and keep the product at scale 2f; integers keep the scale, locally."""
    shape = data.draw(shapes)
    x = data.draw(hnp.arrays(np.float64, shape, elements=st.floats(-512, 512, allow_nan=False, width=32)))
    y = data.draw(hnp.arrays(np.float64, shape, elements=st.floats(-512, 512, allow_nan=False, width=32)))
    c = data.draw(st.sampled_from([1.0, -1.0, 0.5, -0.3, 1 / 128, 0.123456, 2.0**-20, 2.5, -7.25]))
    # m below is at scale 2f unless c divides: it must stay inside the ring's range there,
    # |m| < 2^(63 - 2f) (a 3x3 of 307s times 350 times -7.25 is not: 2.15e9 > 2^31)
    assume(np.abs(q(x)).sum() * np.abs(q(x) * q(y) * c).max() < 2.0 ** (62 - 2 * F))

    def main(p):
        sx, sy = share_pair(p, x, y, FIXED)
        with p.section("scale"):
            z = (sx * sy) * c
        with p.section("matmul"):
            m = z.reshape(-1) @ sx.reshape(-1)
        st_ = p.stats()["sections"]
        return p.reveal(z, m), z.scale, st_["scale"]["rounds"], st_["matmul"]["rounds"]

    (z, m), scale, r_scale, r_mm = run_local(main, n, engine=engine, timeout=60)[0]
    want = q(x) * q(y) * c
    divided, integral = 0 < abs(c) < 1, float(c).is_integer()
    assert scale == (F if divided else 2 * F)
    tol = (2 * ULP + np.abs(want) * 2.0**-17) if divided else (ULP * abs(c) + np.abs(q(x) * q(y)) * 2.0**-17)
    tol = tol if not integral else 0.0
    assert np.all(np.abs(z - want) <= tol + 1e-12)
    # masked2k truncates a masked product locally: scaling by a non-dividing scalar costs no round
    local_trunc = engine == "masked2k" and not divided
    assert r_scale == (1 if integral or local_trunc else 2) and r_mm == (1 if divided else 2)
    want_m = np.dot(z.reshape(-1), q(x).reshape(-1))
    assert abs(m - want_m) <= (1 + np.abs(q(x)).sum()) * ULP * (1 if divided else 2) + 1e-9


@given(parties, engines, st.data())
def test_integer_powers_match_numpy(n, engine, data):
    """x ** k by square and multiply: Int64 exactly (wrapping as int64), Fixed within the chain's
    truncation errors; k = 0 gives ones, an integral float exponent works; rounds as documented."""
    k = data.draw(st.integers(0, 9), label="k")
    xi = np.array(data.draw(st.lists(st.integers(-12, 12), min_size=1, max_size=6), label="xi"), dtype=np.int64)
    xw = np.array([3, -(2**40) - 7], dtype=np.int64)  # wraps mod 2^64 at k >= 2
    xf = q(np.array(data.draw(st.lists(st.floats(-2, 2, allow_nan=False, width=32), min_size=1, max_size=6),
                              label="xf")))

    def main(p):
        si = p.input(xi if p.pid == 0 else None, owner=0, shape=xi.shape, dtype=INT)
        sw = p.input(xw if p.pid == 0 else None, owner=0, shape=xw.shape, dtype=INT)
        sf = p.input(xf if p.pid == n - 1 else None, owner=n - 1, shape=xf.shape)
        with p.section("pow"):
            outs = [si ** k, sw ** k, sf ** k, sf ** float(k)]
        return p.reveal(*outs), p.stats()["sections"]["pow"]["rounds"]

    (pi, pw, pf, pff), rounds = run_local(main, n, engine=engine)[0]
    with np.errstate(over="ignore"):
        np.testing.assert_array_equal(pi, xi ** k)
        np.testing.assert_array_equal(pw, xw ** k)
    tol = k * 2**5 * ULP  # each truncation < 1 ulp, times the factors' magnitudes (< 2^4 at |x| <= 2)
    np.testing.assert_allclose(pf, xf ** k, rtol=0, atol=tol + ULP)
    np.testing.assert_allclose(pff, xf ** k, rtol=0, atol=tol + ULP)
    squarings = max(k.bit_length() - 1, 0)
    per = squarings + max(bin(k).count("1") - 1, 0)
    assert rounds == 4 * per  # the four powers, one after the other, each its own chain


def test_bad_exponents_are_rejected_before_sending():
    def main(p):
        x = p.input(np.ones(2) if p.pid == 0 else None, owner=0, shape=(2,))
        before = p.stats()["total"]["bytes_sent"]
        errs = []
        for e in (0.5, -1, 65, 2.5, "2", True, x):
            try:
                x ** e
                errs.append(None)
            except Exception as exc:  # noqa: BLE001 - the type and message are what is tested
                errs.append((type(exc).__name__, str(exc)))
        return errs, p.stats()["total"]["bytes_sent"] - before

    errs, sent = run_local(main, 2)[0]
    assert sent == 0 and all(e is not None and e[0] == "InputError" for e in errs), errs
    assert "sqrt" in errs[0][1] and "reciprocal" in errs[1][1]
