"""masked2k on raw ring shares against NumPy: the masked products, squares, matrix products and
truncations (and their semi2k fallbacks), 2, 3 and 4 parties, edge values, costs, the dealer's
masked material, dry runs and the mask tags."""

import types

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mpc.engines.masked2k import MASKED
from mpc.errors import ConfigError, ProtocolError
from mpc.preprocessing import protocol
from mpc.preprocessing.base import MAX_TAG, Request, normalize
from mpc.preprocessing.material import DealerCore, Streams, expand_own, mask_window
from mpc.testing import run_local

LIMIT = 2**62
EDGES = [0, 1, -1, 2**63 - 1, -(2**63), 2**62, -(2**62) + 1, 12345678901234567]
ring_ints = st.integers(-(2**63), 2**63 - 1)


def ring(values):
    return np.array([v % 2**64 for v in values], dtype=np.uint64)


def signed(u):
    return [int(v) for v in np.asarray(u, dtype=np.uint64).view(np.int64).ravel()]


def wrap(v):
    """v mod 2^64 as a signed 64-bit integer."""
    v %= 2**64
    return v - 2**64 if v >= 2**63 else v


def _kinds(p):
    return p.preprocessing.recording()


def count_kernels(engine, *names: str) -> dict[str, int]:
    """Calls of the named kernels by ``engine`` from now on (the counts, updated in place)."""
    counts = dict.fromkeys(names, 0)
    real = engine.kernels

    def counted(name):
        def call(*args, **kw):
            counts[name] += 1
            return getattr(real, name)(*args, **kw)
        return call

    spy = {name: getattr(real, name) for name in dir(real) if not name.startswith("_")}
    engine.kernels = types.SimpleNamespace(**{**spy, **{name: counted(name) for name in names}})
    return counts


@settings(max_examples=25, deadline=None)
@given(st.sampled_from([2, 3]), st.lists(st.tuples(ring_ints, ring_ints), min_size=1, max_size=12))
def test_masked_products_match_numpy_mod_2_64(n, pairs):
    """x*y, x*x and x*y + x on tagged inputs (one masked round each), edge values included;
    the requests are the masked kinds, and each product opens one element per peer."""
    xs = [a for a, _ in pairs] + EDGES
    ys = [b for _, b in pairs] + EDGES[::-1]

    def main(p):
        e = p.engine
        x = e.input(ring(xs) if p.pid == 0 else None, 0, (len(xs),))
        y = e.input(ring(ys) if p.pid == p.n - 1 else None, p.n - 1, (len(ys),))
        with p.preprocessing.recording() as log:
            before = p.stats()["total"]["bytes_sent"]
            z, s = e.mul(x, y), e.square(x)
            sent = p.stats()["total"]["bytes_sent"] - before
            zz = e.mul(z, x)  # a product's output is tagged too: masked again
        return [r.kind for r in log], sent, e.open([z, s, zz, e.add(z, x)])

    out = run_local(main, n, engine="masked2k")
    kinds, sent, (z, s, zz, zx) = out[0]
    assert kinds == ["mtriple", "msquare", "mtriple"]
    payload = 8 * len(xs) * 2 * (n - 1)  # two products, one element to each peer
    for _, sent_i, _ in out:
        assert payload <= sent_i <= payload + 2 * 64 * (n - 1)  # plus the frame headers
    for i, (a, b) in enumerate(zip(xs, ys, strict=True)):
        assert signed(z)[i] == wrap(a * b)
        assert signed(s)[i] == wrap(a * a)
        assert signed(zz)[i] == wrap(a * b * a)
        assert signed(zx)[i] == wrap(a * b + a)


@settings(max_examples=15, deadline=None)
@given(st.sampled_from([2, 3]), st.integers(1, 5), st.integers(1, 6), st.integers(1, 5), st.data())
def test_masked_matmul_matches_numpy(n, m, k, cols, data):
    """(m,k)@(k,n) with both operands' masks the dealer's (one opening of m*n elements), also
    transposed; with one of them (the half-masked product, either side); with neither (Beaver);
    mod 2^64 exact."""
    a = data.draw(st.lists(ring_ints, min_size=m * k, max_size=m * k))
    b = data.draw(st.lists(ring_ints, min_size=k * cols, max_size=k * cols))

    def main(p):
        e = p.engine
        x = e.input(ring(a).reshape(m, k) if p.pid == 0 else None, 0, (m, k))
        y = e.input(ring(b).reshape(k, cols) if p.pid == 1 else None, 1, (k, cols))
        x2, y2 = e.add(x, x), e.add(y, y)  # untagged
        with p.preprocessing.recording() as log:
            before = p.stats()["total"]["bytes_sent"]
            z = e.matmul(x, y)
            sent = p.stats()["total"]["bytes_sent"] - before
            out = [z, e.matmul(x, y2), e.matmul(x2, y), e.matmul(x2, y2), e.matmul(y.T, x.T)]
        return [r.kind for r in log], sent, e.open(out)

    kinds, sent, (z, t, u, v, w) = run_local(main, n, engine="masked2k")[0]
    assert kinds[0] == "mmatmul" and \
        kinds[1:] == ["mhmatmul", "mhmatmul", "matmul", "mmatmul"]
    assert 8 * m * cols * (n - 1) <= sent <= 8 * m * cols * (n - 1) + 64 * (n - 1)
    want = [[sum(a[i * k + j] * b[j * cols + c] for j in range(k)) for c in range(cols)] for i in range(m)]
    flat = [wrap(v_) for row in want for v_ in row]
    assert signed(z) == flat
    assert signed(t) == signed(u) == [wrap(2 * v_) for row in want for v_ in row]
    assert signed(v) == [wrap(4 * v_) for row in want for v_ in row]
    assert signed(w) == [wrap(want[i][c]) for c in range(cols) for i in range(m)]


MATMULS = {  # per case and party: the matrix products a masked product costs (owners' zero masks skipped)
    2: {"x@y": [1, 1], "s@y.T": [1, 2], "x@x.T": [2, 0], "s@s.T": [2, 2], "u@y": [1, 2], "x@u": [2, 1]},
    3: {"x@y": [1, 0, 1], "s@y.T": [1, 1, 2], "x@x.T": [2, 0, 0], "s@s.T": [2, 2, 2], "u@y": [1, 1, 2],
        "x@u": [2, 1, 1]},
}
KINDS = {"u@y": "mhmatmul", "x@u": "mhmatmul"}  # an untagged operand: half-masked; the others mmatmul


@settings(max_examples=10, deadline=None)
@given(st.sampled_from([2, 3]), st.data())
def test_masked_matmuls_skip_the_zero_masks_of_other_parties_inputs(n, data):
    """A masked matrix product computes only the terms this party's mask shares make nonzero:
    with x input by party 0 and y by party n-1, x @ y costs one matrix product at each owner and
    none at a third party; products with shared (product output) masks cost two; a half-masked
    product (u untagged) costs one where the masked operand is another party's input. Exact
    mod 2^64."""
    m, k, c = 3, 4, 2
    a = np.array(data.draw(st.lists(ring_ints, min_size=m * k, max_size=m * k)), dtype=object).reshape(m, k)
    b = np.array(data.draw(st.lists(ring_ints, min_size=k * c, max_size=k * c)), dtype=object).reshape(k, c)

    def main(p):
        e = p.engine
        counted = {"n": 0}
        inner = e.kernels.matmul

        def matmul(*args, **kw):
            counted["n"] += 1
            return inner(*args, **kw)

        e.kernels = types.SimpleNamespace(**{**vars(e.kernels), "matmul": matmul})  # this party's only
        x = e.input(ring(a.ravel()).reshape(m, k) if p.pid == 0 else None, 0, (m, k))
        y = e.input(ring(b.ravel()).reshape(k, c) if p.pid == n - 1 else None, n - 1, (k, c))
        u = e.add(x, x)  # untagged (2x)
        calls, out = {}, {}
        for name, fn in [("x@y", lambda: e.matmul(x, y)), ("s@y.T", lambda: e.matmul(out["x@y"], y.T)),
                         ("x@x.T", lambda: e.matmul(x, x.T)), ("s@s.T", lambda: e.matmul(out["x@y"], out["x@y"].T)),
                         ("u@y", lambda: e.matmul(u, y)), ("x@u", lambda: e.matmul(x, u.T))]:
            counted["n"] = 0
            with p.preprocessing.recording() as log:
                out[name] = fn()
            calls[name] = counted["n"]
            assert [r.kind for r in log] == [KINDS.get(name, "mmatmul")]
        return calls, dict(zip(out, e.open(list(out.values())), strict=True))

    res = run_local(main, n, engine="masked2k")
    for name, want in MATMULS[n].items():
        assert [res[pid][0][name] for pid in range(n)] == want, name
    s_ = a.dot(b) % 2**64
    expect = {"x@y": s_, "s@y.T": s_.dot(b.T) % 2**64, "x@x.T": a.dot(a.T) % 2**64, "s@s.T": s_.dot(s_.T) % 2**64,
              "u@y": 2 * s_ % 2**64, "x@u": 2 * a.dot(a.T) % 2**64}
    for name, got in res[0][1].items():
        assert signed(got) == [wrap(int(v)) for v in expect[name].ravel()], name


@settings(max_examples=15, deadline=None)
@given(st.sampled_from([2, 3]), st.lists(st.tuples(ring_ints, ring_ints), min_size=1, max_size=10))
def test_half_masked_products_match_numpy(n, pairs):
    """x * y with one operand's masks the dealer's (an mhtriple: one opening of one element
    per peer), either side, and a broadcast operand (no run: Beaver)."""
    xs, ys = [a for a, _ in pairs], [b for _, b in pairs]

    def main(p):
        e = p.engine
        x = e.input(ring(xs) if p.pid == 0 else None, 0, (len(xs),))
        y = e.input(ring(ys) if p.pid == p.n - 1 else None, p.n - 1, (len(ys),))
        x2 = e.add(x, x)
        with p.preprocessing.recording() as log:
            before = p.stats()["total"]["bytes_sent"]
            hz = e.mul(x2, y)
            sent = p.stats()["total"]["bytes_sent"] - before
            out = [hz, e.mul(y, x2), e.mul(e.add(y, y), np.broadcast_to(x2[:1], x2.shape))]
        return [r.kind for r in log], sent, e.open(out)

    kinds, sent, (h1, h2, bz) = run_local(main, n, engine="masked2k")[0]
    assert kinds == ["mhtriple", "mhtriple", "triple"]
    assert 8 * len(xs) * (n - 1) <= sent <= 8 * len(xs) * (n - 1) + 64 * (n - 1)
    assert signed(h1) == signed(h2) == [wrap(2 * a * b) for a, b in pairs]
    assert signed(bz) == [wrap(4 * b * xs[0]) for b in ys]


@settings(max_examples=25, deadline=None)
@given(st.sampled_from([2, 3]), st.lists(st.integers(-LIMIT + 1, LIMIT - 1), min_size=1, max_size=20),
       st.integers(1, 62))
def test_truncation_of_a_tagged_value_is_local_and_exact_to_one_ulp(n, xs, k):
    """floor(x / 2^k) or one more, for |x| < 2^62 at the bound, with no message; an untagged
    value goes through semi2k's truncation (one round), with the same bound."""
    xs = [*xs, LIMIT - 1, -LIMIT + 1, 0, -1, 1]

    def main(p):
        e = p.engine
        x = e.input(ring(xs) if p.pid == 0 else None, 0, (len(xs),))
        before = p.stats()["total"]["bytes_sent"]
        (t,) = e.truncate_many([x], k)
        sent = p.stats()["total"]["bytes_sent"] - before
        u, v = e.truncate_many([e.add(x, e.zeros(x.shape)), x], k)  # untagged, tagged
        return sent, e.open([t, u, v])

    out = run_local(main, n, engine="masked2k")
    for sent, _ in out:
        assert sent == 0
    t, u, v = out[0][1]
    for x, tv, uv, vv in zip(xs, signed(t), signed(u), signed(v), strict=True):
        assert tv - (x >> k) in (0, 1)
        assert uv - (x >> k) in (0, 1)
        assert vv == tv  # the same material-free formula on the same tags and masks


def test_fixed_point_product_with_its_truncation_is_one_round_of_one_element():
    """W1's shape: (x * y).truncate() on Fixed(16) costs one round and 8 bytes per element to the
    peer (semi2k: two rounds, 24 bytes), and matches NumPy."""
    import mpc

    rng = np.random.default_rng(3)
    a, b = rng.uniform(-1000, 1000, 500), rng.uniform(-1000, 1000, 500)

    def main(p):
        x = p.input(a if p.pid == 0 else None, owner=0, shape=a.shape)
        y = p.input(b if p.pid == 1 else None, owner=1, shape=b.shape)
        with p.section("w1"):
            z = (x * y).truncate()
        st_ = p.stats()["sections"]["w1"]
        return st_["rounds"], st_["bytes_sent"], p.reveal(z)

    for engine, rounds, per in (("masked2k", 1, 8), ("semi2k", 2, 24)):
        r, sent, z = run_local(main, 2, engine=engine)[0]
        assert r == rounds
        assert per * a.size <= sent <= per * a.size + 200
        assert np.abs(z - np.rint(a * 2**16) * np.rint(b * 2**16) / 2**32).max() <= 2 * 2**-16
    assert isinstance(mpc.Fixed(16), mpc.Fixed)


@settings(max_examples=20, deadline=None)
@given(st.sampled_from([2, 3]), st.lists(st.tuples(ring_ints, ring_ints), min_size=1, max_size=12),
       st.integers(1, 62), st.sampled_from(["mul", "square"]))
def test_deferred_products_truncate_in_their_finishing_pass(n, pairs, k, op):
    """A product asked for deferred (the tensor layer's way) is the same value as the product
    made at once, and truncated before first use it is floor(xy / 2^k) or one more for
    |xy| < 2^62 (edge values at that bound), made by the fused pass alone (no separate finish
    or truncation pass), with no message; once finished, truncating it takes the usual path."""
    edge = [(2**31 - 1, 2**31 - 1), (-(2**31), 2**31 - 1), (1, LIMIT - 1), (-1, LIMIT - 1), (0, -(2**63)),
            (2**32, 2**32), (-(2**31), -(2**31))]
    pairs = [*pairs, *edge]
    xs, ys = [a for a, _ in pairs], [b for _, b in pairs]
    if op == "square":
        ys = xs

    def main(p):
        e = p.engine
        calls = count_kernels(e, "masked_finish", "masked_trunc")
        x = e.input(ring(xs) if p.pid == 0 else None, 0, (len(xs),))
        y = e.input(ring(ys) if p.pid == p.n - 1 else None, p.n - 1, (len(ys),)) if op == "mul" else x
        prod = (lambda: e.mul_truncating(x, 0, y, 0, defer=True)) if op == "mul" else (lambda: e.square(x, defer=True))
        d1, d2 = prod(), prod()
        before = (dict(calls), p.stats()["total"]["bytes_sent"])
        t1 = d1.truncated(k)
        after = (dict(calls), p.stats()["total"]["bytes_sent"])
        z2 = d2.value()
        (t2,) = e.truncate_many([z2], k) if d2.truncated(k) is None else (None,)
        return before, after, e.open([t1, z2, t2])

    out = run_local(main, n, engine="masked2k")
    for before, after, _ in out:
        assert before == after  # no finish, no truncation pass, no byte: the fused kernel alone
    t1, z2, t2 = (signed(v) for v in out[0][2])
    for x, y, a, z, b in zip(xs, ys, t1, z2, t2, strict=True):
        assert z == wrap(x * y)
        if abs(wrap(x * y)) < LIMIT:
            assert a - (wrap(x * y) >> k) in (0, 1)
            assert b - (wrap(x * y) >> k) in (0, 1)


def test_a_fixed_point_product_truncated_next_is_finished_truncated():
    """SecretTensor: (x * y).truncate() under masked2k runs the fused pass (no masked_finish, no
    masked_trunc) and matches NumPy to one ulp; a product read first (added to) is finished as
    before, and its truncation then takes the separate pass."""
    rng = np.random.default_rng(7)
    a, b = rng.uniform(-30000, 30000, 300), rng.uniform(-30000, 30000, 300)

    def main(p):
        e = p.engine
        counts = count_kernels(e, "masked_finish", "masked_trunc", "masked_finish_trunc")
        x = p.input(a if p.pid == 0 else None, owner=0, shape=a.shape)
        y = p.input(b if p.pid == 1 else None, owner=1, shape=b.shape)
        counts.update(dict.fromkeys(counts, 0))  # the inputs' records are made by masked_finish too
        z = (x * y).truncate()
        fused = dict(counts)
        w = (x * y + 0.0).truncate()
        return fused, dict(counts), p.reveal(z), p.reveal(w)

    for fused, total, z, w in run_local(main, 2, engine="masked2k"):
        assert fused == {"masked_finish": 0, "masked_trunc": 0, "masked_finish_trunc": 1}
        assert total == {"masked_finish": 1, "masked_trunc": 1, "masked_finish_trunc": 1}
        want = np.rint(a * 2**16) * np.rint(b * 2**16) / 2**32
        assert np.abs(z - want).max() <= 2**-16
        assert np.abs(w - want).max() <= 2**-16


@pytest.mark.parametrize("n", [2, 3])
def test_a_deferred_product_feeding_the_next_product_is_truncated_in_its_finishing_pass(n):
    """x * y * z and (x * y) ** 2 under masked2k: the pending truncation of the deferred x * y is
    made by the fused pass (no masked_finish, no masked_trunc), and the results match NumPy; with
    an operand whose mask the dealer does not know (x + x), the deferred product is finished and
    semi2k's truncating product runs as before."""
    rng = np.random.default_rng(11 + n)
    a, b, c = (rng.uniform(-100, 100, 200) for _ in range(3))

    def main(p):
        e = p.engine
        x = p.input(a if p.pid == 0 else None, owner=0, shape=a.shape)
        y = p.input(b if p.pid == 1 else None, owner=1, shape=b.shape)
        z = p.input(c if p.pid == p.n - 1 else None, owner=p.n - 1, shape=c.shape)
        counts = count_kernels(e, "masked_finish", "masked_trunc", "masked_finish_trunc")
        chain = (x * y * z).truncate()
        sq = ((x * y) ** 2).truncate()
        fused = dict(counts)
        mixed = ((x * y) * (x + x)).truncate()
        return fused, p.reveal(chain), p.reveal(sq), p.reveal(mixed)

    for fused, chain, sq, mixed in run_local(main, n, engine="masked2k"):
        assert fused == {"masked_finish": 0, "masked_trunc": 0, "masked_finish_trunc": 4}
        ae, be, ce = (np.rint(v * 2**16) / 2**16 for v in (a, b, c))  # the encoded inputs
        ab = ae * be
        # each truncation is floor or one more ulp (2^-16), times the other factor's size
        for got, want, other in ((chain, ab * ce, np.abs(ce)), (sq, ab * ab, 2 * np.abs(ab)),
                                 (mixed, ab * 2 * ae, 2 * np.abs(ae))):
            err = np.abs(got - want) / (2**-16 * (other + 2))
            assert err.max() <= 1, f"{err.max()}"


@pytest.mark.parametrize("pre", ["local", "dealer"])
def test_four_parties_and_the_trusted_dealer(pre):
    """4 parties, masked material from the dealer process (or the in-process dealer): product,
    square, matrix product and truncation against NumPy."""
    rng = np.random.default_rng(4)
    xs = [int(v) for v in rng.integers(-(2**40), 2**40, 12)]

    def main(p):
        e = p.engine
        x = e.input(ring(xs).reshape(3, 4) if p.pid == 2 else None, 2, (3, 4))
        y = e.input(ring(xs[::-1]).reshape(4, 3) if p.pid == 3 else None, 3, (4, 3))
        z = e.mul(x, x)
        (t,) = e.truncate_many([x], 5)
        return e.open([z, e.square(x), e.matmul(x, y), t])

    z, s, mm, t = run_local(main, 4, engine="masked2k", preprocessing=pre)[0]
    x = np.array(xs, dtype=object).reshape(3, 4)
    assert signed(z) == [wrap(v) for v in (x * x).ravel()]
    assert signed(s) == signed(z)
    assert signed(mm) == [wrap(v) for v in x.dot(np.array(xs[::-1], dtype=object).reshape(4, 3)).ravel()]
    assert all(tv - (v >> 5) in (0, 1) for tv, v in zip(signed(t), xs, strict=True))


def test_dry_run_plans_the_masked_requests_of_the_real_run():
    """The plan of a dry run names the same mask tags as the run that follows (the shadow engine
    continues from the party's counter and keeps the shadows' tags), so after preprocessing
    the online phase takes every item from the store."""
    import mpc

    a = np.arange(12.0).reshape(3, 4)

    def main(p):
        x = p.input(a if p.pid == 0 else None, owner=0, shape=a.shape)
        w = p.input(a.T if p.pid == 1 else None, owner=1, shape=(4, 3))

        def fn(u, v):
            return (u * u).truncate(), (u @ v).truncate(), (u + u) * u

        plan = p.dry_run(fn, x, w)
        p.preprocess(plan)
        with p.preprocessing.recording() as log:
            out = fn(x, w)
        return plan == log, [r.kind for r in plan], p.preprocessing.pending, p.reveal(*out)

    same, kinds, pending, (sq, mm, mix) = run_local(main, 2, engine="masked2k", preprocessing="dealer")[0]
    assert same and pending == 0
    assert kinds == ["msquare", "mtrunc", "mmatmul", "mtrunc", "mhtriple"]  # (u + u) * u: half-masked
    np.testing.assert_allclose(sq, a * a, atol=2**-15)
    np.testing.assert_allclose(mm, a @ a.T, atol=2**-14)
    np.testing.assert_allclose(mix, 2 * a * a, atol=2**-15)
    assert mpc.Fixed(16).f == 16


def test_tags_are_consecutive_fresh_and_only_kept_by_public_additions():
    def main(p):
        e = p.engine
        x = e.input(ring([5, 6, 7]) if p.pid == 0 else None, 0, (3,))
        y = e.input(ring([1, 2, 3]) if p.pid == 0 else None, 0, (3,))
        z = e.mul(x, y)
        return (e.first_tag(x), e.first_tag(y), e.first_tag(z),
                e.first_tag(e.add_public(x, ring([1, 1, 1]))), e.first_tag(e.add(x, y)),
                e.first_tag(e.mul_public(x, 3)), e.first_tag(x[::-1]), e.first_tag(x[1:]),
                x["delta"].tolist(), x.dtype)

    out = run_local(main, 2, engine="masked2k")
    tx, ty, tz, tpub, tsum, tscaled, trev, ttail, delta, dtype = out[0]
    assert (tx, ty, tz) == (1 | 1 << 52, 4 | 1 << 52, 7)  # inputs name their owner (party 0: 0 + 1)
    assert tpub == tx and tsum is None and tscaled is None and trev is None and ttail == tx + 1
    assert dtype == MASKED
    assert out[1][8] == delta  # delta is public: equal at every party
    assert delta != [5, 6, 7]  # ... and masked


@pytest.mark.parametrize("n", [2, 3])
def test_inputs_are_masked_by_their_owner_alone(n):
    """ABY2.0's input: the mask of an input is the owner's window alone (every other party's
    share is 0), its tags name the owner, delta = x + lambda is sent by the owner only (n-1
    elements, 1 round), and the record opens to x."""
    xs = EDGES

    def main(p):
        e = p.engine
        before = p.stats()["total"]
        x = e.input(ring(xs) if p.pid == n - 1 else None, n - 1, (len(xs),))
        after = p.stats()["total"]
        window = p.preprocessing.mask_shares(int(x["tag"][0]), (len(xs),))
        return (x["tag"].tolist(), x["lam"].tolist(), window.tolist(), x["delta"].tolist(),
                after["bytes_sent"] - before["bytes_sent"], after["rounds"] - before["rounds"], e.open([x])[0])

    out = run_local(main, n, engine="masked2k")
    tags, lam, window, delta, sent, rounds, opened = out[n - 1]
    assert tags == [(t + 1) | n << 52 for t in range(len(xs))]  # owner n - 1: bits 52.. hold n
    assert lam == window and any(lam)
    assert signed(opened) == [wrap(v) for v in xs]
    assert [wrap(d - m) for d, m in zip(delta, lam, strict=True)] == [wrap(v) for v in xs]
    assert rounds == 1 and (n - 1) * 8 * len(xs) <= sent < (n - 1) * (8 * len(xs) + 200)
    for pid in range(n - 1):
        t, lam_i, window_i, delta_i, sent_i, _, _ = out[pid]
        assert t == tags and delta_i == delta and sent_i == 0
        assert lam_i == window_i == [0] * len(xs)  # the other parties hold no part of the mask


def test_inputs_of_equal_values_open_different_deltas():
    """Each input draws fresh masks: the same value twice gives unrelated public deltas."""
    def main(p):
        e = p.engine
        a = e.input(ring([42] * 8) if p.pid == 0 else None, 0, (8,))
        b = e.input(ring([42] * 8) if p.pid == 0 else None, 0, (8,))
        return a["delta"].tolist(), b["delta"].tolist()

    da, db = run_local(main, 3, engine="masked2k")[0]
    assert len(set(da)) == 8 and not set(da) & set(db)


# ----------------------------------------------------------------------------- material


def _seeds(n):
    return [bytes([i + 1]) * 16 for i in range(n)]


@pytest.mark.parametrize("n", [2, 3])
def test_dealer_masked_items_sum_to_the_products_of_the_windows(n):
    """Each masked kind: the parties' shares (parties 0..n-2 expanded, party n-1's from the
    dealer's corrections) sum to the product of the masks read from every party's window."""
    from mpc._core import get_kernels

    k = get_kernels()
    seeds = _seeds(n)
    core = DealerCore(seeds, k)
    streams = [Streams(s) for s in seeds]

    def lam(t, shape):
        owner = (t >> 52) % 64 - 1  # an input's mask: its owner's window alone
        held = [streams[owner]] if owner >= 0 else streams
        return sum(mask_window(st_, t, shape).astype(object) for st_ in held) % 2**64

    reqs = [Request("mtriple", (3, 40, 90, 2, 3)), Request("msquare", (7, 100, 5)),
            Request("mmatmul", (11, 3, 1, 50, 1, 3, 200, 2, 3, 4)), Request("mtrunc", (13, 9, 6)),
            Request("mhtriple", (21, 2, 2)), Request("mhmatmul", (0, 30, 1, 2, 2, 3, 4)),
            Request("mhmatmul", (1, 40, 4, 1, 2, 3, 4)),
            Request("mtriple", (3 | 5 << 58, 40, 90, 2, 3)), Request("mtriple", (3 | 5 << 58, 40 | 9 << 58, 90, 2, 3)),
            Request("mtriple", (3 | 40 << 58, 40 | 30 << 58, 90, 2, 3)),
            # masks of inputs, held by their owners (bits 52..: owner + 1), also truncated
            Request("mtriple", (3 | 1 << 52, 40 | n << 52, 90, 2, 3)), Request("msquare", (7 | n << 52, 100, 5)),
            Request("mmatmul", (11 | 1 << 52, 3, 1, 50 | 2 << 52, 1, 3, 200, 2, 3, 4)),
            Request("mtrunc", (13 | 2 << 52, 9, 6)), Request("mhtriple", (21 | 1 << 52, 2, 2)),
            Request("mtriple", (3 | 1 << 52 | 5 << 58, 40 | 2 << 52, 90, 2, 3))]
    for req in reqs:
        own = [expand_own(req, st_, i == n - 1, i) for i, st_ in enumerate(streams)]
        corr = core.corrections(req)
        items = [o if i < n - 1 else o + corr for i, o in enumerate(own)]
        total = [sum(it[j].astype(object) for it in items) % 2**64 for j in range(len(items[0]))]
        p = req.params
        if req.kind == "mtriple":
            assert (total[0] == lam(p[2], (2, 3))).all()

            def factors(t):
                x, k = lam(t % 2**58, (2, 3)), t >> 58
                return [x] if not k else [x // 2**k, x // 2**63]  # lambda >> k, msb(lambda)

            fx, fy = factors(p[0]), factors(p[1])
            pairs = [(i, j) for i in range(len(fx)) for j in range(len(fy))]
            if len(fx) == len(fy) == 2 and (p[0] >> 58) + (p[1] >> 58) <= 64:
                pairs.remove((1, 1))  # its coefficient T_x T_y is 0 mod 2^64
            assert len(total) == 1 + len(pairs)
            for (i, j), got in zip(pairs, total[1:], strict=True):
                assert (got == fx[i] * fy[j] % 2**64).all()
        elif req.kind == "msquare":
            assert (total[0] == lam(p[1], (5,))).all()
            assert (total[1] == lam(p[0], (5,)) ** 2 % 2**64).all()
        elif req.kind == "mmatmul":  # X row-major at 11, Y stored transposed at 50 (strides (1, 3))
            assert (total[0] == lam(p[6], (2, 4))).all()
            assert (total[1] == lam(p[0], (2, 3)).dot(lam(p[3], (4, 3)).T) % 2**64).all()
        elif req.kind == "mhtriple":
            assert (total[1] == total[0] * lam(p[0], (2, 2)) % 2**64).all()
        elif req.kind == "mhmatmul" and p[1] == 30:  # X (2, 3) transposed at 30: strides (1, 2)
            assert (total[1] == lam(30, (3, 2)).T.dot(total[0]) % 2**64).all()
        elif req.kind == "mhmatmul":
            assert (total[1] == total[0].dot(lam(40, (3, 4))) % 2**64).all()
        else:
            x = lam(p[0], (6,))
            assert (total[0] == x // 2**9).all() and (total[1] == x // 2**63).all()


@pytest.mark.parametrize("req", [("mtriple", (0, 1, 2, 3)), ("mtriple", (1, 2)), ("msquare", (MAX_TAG - 2, 9, 4)),
                                 ("mmatmul", (1, 2, 3, 4, 5)), ("mtrunc", (1, 63, 4)), ("mtrunc", (1,)),
                                 ("mmatmul", (1, 0, 1, 9, 1, 1, 20, 2, 2, 2)), ("mhmatmul", (2, 1, 1, 1, 2, 2, 2)),
                                 ("mhtriple", (0, 3)), ("mtriple", (1 | 63 << 58, 2, 3, 4)),
                                 ("mtriple", (1, 2, 3 | 1 << 58, 4)), ("msquare", (1 | 1 << 58, 9, 4))])
def test_malformed_masked_requests_are_rejected(req):
    with pytest.raises(ConfigError):
        normalize(req)
    words = protocol.encode_batch([Request("triple", (1,))])
    words[2] = protocol._CODES[req[0]]
    words = np.concatenate([words[:3], [len(req[1]), *req[1]]]).astype(np.uint64)
    with pytest.raises(ProtocolError):
        protocol.decode(words)


def test_owned_mask_tags_are_checked():
    """An output mask is every party's (no owner bits); a run may not leave its owner's block;
    the dealer refuses a tag naming a party the session does not have."""
    from mpc._core import get_kernels

    for req in [("mtriple", (1, 2, 3 | 1 << 52, 4)), ("msquare", (1, 9 | 2 << 52, 4)),
                ("mmatmul", (1, 1, 1, 9, 1, 1, 20 | 1 << 52, 1, 1, 1)), ("mtrunc", ((1 << 52) - 2 | 1 << 52, 5, 4)),
                ("mtriple", (0 | 1 << 52, 2, 3, 4)), ("mhmatmul", (1, (1 << 52) - 2 | 1 << 52, 1, 1, 2, 2, 2))]:
        with pytest.raises(ConfigError):
            normalize(req)
    core = DealerCore(_seeds(2), get_kernels())
    with pytest.raises(ProtocolError, match="party 2 of a 2-party"):
        core.corrections(Request("msquare", (5 | 3 << 52, 9, 4)))


def test_masked_requests_round_trip_the_dealer_wire():
    reqs = [Request("mtriple", (1, 9, 17, 2, 4)), Request("mmatmul", (5, 1, 1, 6, 1, 1, 7, 1, 1, 1)),
            Request("mtrunc", (3, 16, 2)), Request("mhtriple", (4, 3)), Request("mhmatmul", (1, 8, 2, 1, 1, 2, 2))]
    assert protocol.decode(protocol.encode_batch(reqs)) == reqs


def test_the_ot_source_serves_no_masks():
    with pytest.raises(ConfigError, match="masked2k"):
        run_local(lambda p: p.input(np.zeros(2) if p.pid == 0 else None, owner=0, shape=(2,)), 2,
                  engine="masked2k", preprocessing="ot")


@settings(max_examples=20, deadline=None)
@given(st.sampled_from([2, 3]), st.lists(st.tuples(st.integers(-LIMIT + 1, LIMIT - 1), st.integers(-LIMIT + 1, LIMIT - 1)),
                                         min_size=1, max_size=10),
       st.integers(1, 62), st.integers(1, 62))
def test_products_of_truncated_masks_are_exact_in_the_ring(n, pairs, k1, k2):
    """A locally truncated masked value keeps a dealer-known (truncated) mask: its products with
    a fresh masked value, with another truncated one (k1 + k2 both below and above 64: three or
    four mask products) and its square are one masked opening each, and equal the ring product
    of the truncated values themselves."""
    xs = [a for a, _ in pairs] + [LIMIT - 1, -LIMIT + 1]
    ys = [b for _, b in pairs] + [-1, LIMIT - 1]

    def main(p):
        e = p.engine
        x = e.input(ring(xs) if p.pid == 0 else None, 0, (len(xs),))
        y = e.input(ring(ys) if p.pid == p.n - 1 else None, p.n - 1, (len(ys),))
        with p.preprocessing.recording() as log:
            (tx,), (ty,) = e.truncate_many([x], k1), e.truncate_many([y], k2)
            before = p.stats()["total"]["bytes_sent"]
            out = [e.mul(tx, y), e.mul(tx, ty), e.square(tx)]
            sent = p.stats()["total"]["bytes_sent"] - before
        return [(r.kind, r.params) for r in log], sent, e.open([tx, ty, *out])

    log, sent, (tx, ty, txy, txty, sq) = run_local(main, n, engine="masked2k")[0]
    assert [kind for kind, _ in log] == ["mtrunc", "mtrunc", "mtriple", "mtriple", "mtriple"]
    assert log[3][1][0] >> 58 == k1 and log[3][1][1] >> 58 == k2  # both operands' truncated tags
    assert 3 * 8 * len(xs) * (n - 1) <= sent <= 3 * (8 * len(xs) + 64) * (n - 1)  # one element each
    tx, ty = signed(tx), signed(ty)
    assert all(t - (v >> k1) in (0, 1) for t, v in zip(tx, xs, strict=True))
    assert signed(txy) == [wrap(a * b) for a, b in zip(tx, ys, strict=True)]
    assert signed(txty) == [wrap(a * b) for a, b in zip(tx, ty, strict=True)]
    assert signed(sq) == [wrap(a * a) for a in tx]


def test_fixed_point_chains_stay_masked():
    """x * y * z and (x * y)^2 on Fixed(16): each product's pending truncation is done locally
    on its masks, so every product is one masked opening (no Beaver triple, no tmul tuple)."""
    rng = np.random.default_rng(9)
    a, b, c = (rng.uniform(-20, 20, 50) for _ in range(3))

    def main(p):
        x, y, z = (p.input(v if p.pid == i % p.n else None, owner=i % p.n, shape=v.shape) for i, v in enumerate((a, b, c)))
        with p.preprocessing.recording() as log:
            out = [x * y * z, (x * y).square(), (x * y) * (y * z)]
        return sorted({r.kind for r in log}), p.reveal(*out)

    kinds, (xyz, sq, pq) = run_local(main, 2, engine="masked2k")[0]
    assert kinds == ["msquare", "mtriple", "mtrunc"] or kinds == ["mtriple", "mtrunc"]
    q = lambda v: np.rint(v * 2**16) / 2**16  # noqa: E731
    np.testing.assert_allclose(xyz, q(a) * q(b) * q(c), atol=40 * 2**-15)
    np.testing.assert_allclose(sq, (q(a) * q(b)) ** 2, atol=800 * 2**-15)
    np.testing.assert_allclose(pq, q(a) * q(b) * q(b) * q(c), atol=800 * 2**-15)
