"""The spdz2k engine beyond the shared SecretTensor tests (tests/test_secret_tensor.py runs every
arithmetic operation under it): costs, the MAC check's schedule, authenticated dealer material,
the offline phase, 4 parties, and that its boolean side is the authenticated one."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import mpc
from mpc._core import get_kernels
from mpc.engines import circuits, spdz2k
from mpc.engines.authbits import AuthBits
from mpc.engines.base import BooleanEngine
from mpc.preprocessing.seeded import InsecureLocalDealer
from mpc.prg import PRG
from mpc.sharing.auth_bits import LAUTH
from mpc.sharing.authenticated import pairs
from mpc.testing import run_local

HEADER = 32 + 8  # wire header of a 1-d frame; 128-bit arrays are 2-d: one more dimension word
HEADER2 = 32 + 16
HEADER3 = 32 + 24
M128 = 1 << 128


def ints(words: np.ndarray) -> list[int]:
    flat = np.asarray(words).reshape(-1, 2)
    return [int(lo) | int(hi) << 64 for lo, hi in flat]


def reconstruct(items):
    """Sum of the parties' AUTH shares: (values, MACs) as Python ints mod 2^128."""
    vals = [sum(v) % M128 for v in zip(*(ints(pairs(a)[..., 0, :]) for a in items), strict=True)]
    macs = [sum(m) % M128 for m in zip(*(ints(pairs(a)[..., 1, :]) for a in items), strict=True)]
    return vals, macs


@pytest.mark.parametrize("n", [2, 3, 4])
def test_authenticated_dealer_material_is_consistent(n):
    """Every authenticated kind: values as their definitions, every MAC alpha * value."""
    k = get_kernels()
    common_seed = PRG.fresh().random_bytes(16)
    srcs = [InsecureLocalDealer(i, n, PRG(common_seed), k) for i in range(n)]
    alpha = sum(s.mac_key_share() for s in srcs)
    assert alpha % 2 == 1  # odd: see mpc.preprocessing.authenticated
    items = {
        "triple": [s.triples((3, 2), auth=True) for s in srcs],
        "square": [s.square_pairs((4,), auth=True) for s in srcs],
        "matmul": [s.matmul_triples(2, 3, 2, auth=True) for s in srcs],
        "trunc": [s.trunc_triples((5,), 16, auth=True) for s in srcs],
        "div": [s.div_triples((5,), 7, auth=True) for s in srcs],
        "rand": [(s.random_high((6,)),) for s in srcs],
        "input": [s.input_masks(1, (3,)) for s in srcs],
    }
    for kind, per_party in items.items():
        comps = [reconstruct([it[j] for it in per_party]) for j in range(len(per_party[0]))
                 if per_party[0][j] is not None and per_party[0][j].dtype.names]
        for vals, macs in comps:
            assert macs == [alpha * v % M128 for v in vals], kind
        v = [c[0] for c in comps]
        if kind == "triple":
            assert v[2] == [a * b % M128 for a, b in zip(v[0], v[1], strict=True)]
        if kind == "square":
            assert v[1] == [a * a % M128 for a in v[0]]
        if kind == "matmul":
            a, b = np.array(v[0], dtype=object).reshape(2, 3), np.array(v[1], dtype=object).reshape(3, 2)
            assert v[2] == [x % M128 for x in (a @ b).reshape(-1)]
        if kind in ("trunc", "div"):
            d = 1 << 16 if kind == "trunc" else 7
            low = [r % (1 << 64) for r in v[0]]
            assert v[1] == [r // d for r in low] and v[2] == [r >> 63 for r in low]
        if kind == "rand":
            assert all(x % (1 << 64) == 0 for x in v[0])
        if kind == "input":
            assert ints(per_party[1][1]) == v[0]  # the owner holds the mask's value
            assert all(it[1] is None for i, it in enumerate(per_party) if i != 1)


def open_bits(items, delta):
    """XOR of the parties' BAUTH shares, after checking every MAC (Delta * bit) and fold."""
    k = get_kernels("ref")
    w = np.bitwise_xor.reduce(np.stack([x["w"] for x in items]), axis=0)
    m = np.bitwise_xor.reduce(np.stack([x["m"] for x in items]), axis=0)
    bits = (w[..., None] >> np.arange(64, dtype=np.uint64)) & np.uint64(1)
    assert np.array_equal(m, bits * np.uint64(delta))
    for x in items:
        assert np.array_equal(x["f"], k.gf64_fold(np.ascontiguousarray(x["m"])))
    return w


@pytest.mark.parametrize("n", [2, 3])
def test_authenticated_bit_material_is_consistent(n):
    """AND triples, input masks, daBits, bit-injection triples and edaBits: values as their
    definitions, every bit MAC Delta * bit, every ring MAC alpha * value."""
    k = get_kernels()
    common_seed = PRG.fresh().random_bytes(16)
    srcs = [InsecureLocalDealer(i, n, PRG(common_seed), k) for i in range(n)]
    alpha = sum(s.mac_key_share() for s in srcs)
    delta = 0
    for s in srcs:
        delta ^= s.bit_mac_key_share()

    def ring(items):
        vals, macs = reconstruct(items)
        assert macs == [alpha * v % M128 for v in vals]
        return vals

    t = [s.bit_triples(5, auth=True) for s in srcs]
    a, b, c = (open_bits([x[j] for x in t], delta) for j in range(3))
    np.testing.assert_array_equal(c, a & b)
    # light triples (a dealer's): c is its bits and folded MAC only, and its head lc is c itself;
    # the folds' XOR is Delta c (c read as an element of GF(2^64)), as the fold of c's bit MACs
    t = [s.bit_triples(5, auth=True, light=True) for s in srcs]
    a, b = (open_bits([x[j] for x in t], delta) for j in range(2))
    assert all(x.c.dtype == LAUTH and x.lc is x.c for x in t)
    c = np.bitwise_xor.reduce(np.stack([x.c["w"] for x in t]), axis=0)
    np.testing.assert_array_equal(c, a & b)
    fold = np.bitwise_xor.reduce(np.stack([x.c["f"] for x in t]), axis=0)
    np.testing.assert_array_equal(fold, k.gf64_mul(c, np.full(c.shape, delta, dtype=np.uint64)))
    for j, name in ((0, "la"), (1, "lb")):
        for x in t:
            np.testing.assert_array_equal(getattr(x, name)["w"], x[j]["w"])
            np.testing.assert_array_equal(getattr(x, name)["f"], x[j]["f"])
    d = [s.dabits(70, auth=True) for s in srcs]
    bits = k.unpack_bits(open_bits([x[0] for x in d], delta), 70).tolist()
    assert ring([x[1] for x in d]) == bits and 0 < sum(bits) < 70
    bm = [s.bit_mul_triples(70, auth=True) for s in srcs]
    bits = k.unpack_bits(open_bits([x.words for x in bm], delta), 70).tolist()
    av, rv, rav = (ring([getattr(x, f) for x in bm]) for f in ("a", "r", "ra"))
    assert rv == bits and rav == [x * y % M128 for x, y in zip(rv, av, strict=True)]
    e = [s.edabits(100) for s in srcs]
    r, planes = ring([x[0] for x in e]), open_bits([x[1] for x in e], delta)
    assert planes.shape == (64, 2) and k.unbitslice(planes, 100).tolist() == [v % (1 << 64) for v in r]
    e = [s.edabits(100, pairs=True) for s in srcs]  # and the products of planes 2t, 2t + 1 (t < 31)
    r, planes, pairs = ring([x[0] for x in e]), open_bits([x[1] for x in e], delta), open_bits([x[2] for x in e], delta)
    assert k.unbitslice(planes, 100).tolist() == [v % (1 << 64) for v in r]
    assert pairs.shape == (31, 2) and np.array_equal(pairs, planes[0:62:2] & planes[1:62:2])
    im = [s.bit_input_masks(1, (3,)) for s in srcs]
    np.testing.assert_array_equal(im[1][1], open_bits([x[0] for x in im], delta))
    assert all(x[1] is None for i, x in enumerate(im) if i != 1)


@pytest.mark.parametrize("n", [2, 3])
def test_costs_of_products_inputs_and_reveals(n):
    def main(p):
        stats = {}
        with p.section("input"):
            a = p.input(np.ones((4, 5)) if p.pid == 0 else None, owner=0, shape=(4, 5), check=False)
        b = p.input(np.ones((5, 6)) if p.pid == 1 else None, owner=1, shape=(5, 6))
        c = p.input(np.ones((4, 5)) if p.pid == 1 else None, owner=1, shape=(4, 5))
        stats["input"] = p.stats()["sections"]["input"]
        for name, fn in [("mul", lambda: a * c), ("matmul", lambda: a @ b), ("square", lambda: a.square()),
                         ("trunc", lambda: (a * c).truncate()), ("reveal", lambda: p.reveal(a)),
                         ("reveal again", lambda: p.reveal(c)),
                         ("linear", lambda: (a + c) * 3 - a.sum() + (a @ np.ones((5, 2))).sum())]:
            with p.section(name):
                fn()
            stats[name] = p.stats()["sections"][name]
        return stats

    check = 3 * HEADER + 4 * 8 + 4 * 8 + 19 * 8  # the MAC check's three small messages (ring and bit ledgers)
    for pid, s in enumerate(run_local(main, n, engine="spdz2k")):
        owner_bytes = (n - 1) * (20 * 16 + HEADER3)  # 16 bytes per element to each peer
        assert s["input"]["rounds"] == 1 and s["input"]["bytes_sent"] == (owner_bytes if pid == 0 else 0)
        assert s["mul"]["rounds"] == 1 and s["mul"]["bytes_sent"] == (n - 1) * (2 * 20 * 16 + HEADER2)
        assert s["matmul"]["rounds"] == 1 and s["matmul"]["bytes_sent"] == (n - 1) * ((20 + 30) * 16 + HEADER2)
        assert s["square"]["rounds"] == 1 and s["square"]["bytes_sent"] == (n - 1) * (20 * 16 + HEADER2)
        assert s["trunc"]["rounds"] == 2
        # the MAC check of every opening so far (3 rounds), then the opening, then its check (3)
        assert s["reveal"]["rounds"] == 7
        assert s["reveal"]["bytes_sent"] == (n - 1) * (20 * 16 + HEADER2 + 2 * check)
        # right after a reveal nothing is pending: the opening and its check only
        assert s["reveal again"]["rounds"] == 4
        assert s["reveal again"]["bytes_sent"] == (n - 1) * (20 * 16 + HEADER2 + check)
        assert s["linear"]["rounds"] == 0 and s["linear"]["bytes_sent"] == 0


def test_mac_check_runs_when_too_much_is_pending_and_at_the_end(monkeypatch):
    monkeypatch.setattr(spdz2k, "CHECK_EVERY", 50)

    def main(p):
        a = p.input(np.arange(40.0) if p.pid == 0 else None, owner=0, shape=(40,))
        with p.section("products"):
            b = a * (a + 1)  # 80 opened elements > 50: a check follows the opening (1 + 3 rounds)
            c = b * 2
        with p.section("next"):
            d = c * b  # truncations folded into the product's opening (80 opened: a check), 1 + 3 rounds
        return p.stats()["sections"], p.engine.mac.checks, p.engine.mac.pending, d.shape

    for sections, checks, pending, shape in run_local(main, 2, engine="spdz2k"):
        assert sections["products"]["rounds"] == 4 and sections["next"]["rounds"] == 4
        assert checks == 2 and pending == 0 and shape == (40,)

    def ending(p):
        a = p.input(np.arange(4.0) if p.pid == 0 else None, owner=0, shape=(4,))
        a * (a - 1)  # opened, never revealed: the session's end checks it
        return p.engine.mac

    for mac in run_local(ending, 2, engine="spdz2k"):
        assert mac.checks == 1 and mac.pending == 0 and mac.opened == 8


@pytest.mark.parametrize("n", [2, 3])
def test_dry_run_and_offline_phase_then_no_dealer_traffic(n):
    x = np.arange(6.0).reshape(2, 3)

    def compute(a):  # ring material, and the boolean side's (edaBits, bit triples, daBits)
        return (a * a).truncate() @ a.T, a / 3, a.square().sum(), a < 2.5, a.relu().max(axis=1), a.eq(4)

    def main(p):
        a = p.input(x if p.pid == 0 else None, owner=0, shape=x.shape)
        plan = p.dry_run(compute, a)
        p.preprocess(plan)
        before = p.stats()["dealer"]["messages_sent"]
        with p.recording() as used:
            out = compute(a)
        after = p.stats()["dealer"]["messages_sent"]
        return {r.auth for r in plan}, used == plan, after - before, p.reveal(*out)

    for auth, same, online, out in run_local(main, n, engine="spdz2k", preprocessing="dealer"):
        assert auth == {True} and same and online == 0
        np.testing.assert_allclose(out[0], (x * x) @ x.T, atol=1e-3)
        np.testing.assert_allclose(out[1], x / 3, atol=1e-4)
        assert out[2] == (x * x).sum()
        np.testing.assert_array_equal(out[3], x < 2.5)
        np.testing.assert_array_equal(out[4], x.max(axis=1))
        np.testing.assert_array_equal(out[5], x == 4)


@settings(max_examples=6)
@given(values=st.lists(st.floats(-1e4, 1e4, allow_nan=False, width=32), min_size=1, max_size=8))
def test_four_parties(values):
    x = np.array(values)

    def main(p):
        parts = p.input(x * (p.pid + 1))  # every party contributes
        total = mpc.stack(parts).sum(axis=0)
        return p.reveal(total, (parts[0] * parts[3]).truncate(), parts[2] / 5, parts[1] < 0, (-parts[3]).relu(),
                        parts[0].max(), to=None)

    qx = [np.rint(x * (i + 1) * 2**16) / 2**16 for i in range(4)]
    for tot, prod, div, neg, relu, mx in run_local(main, 4, engine="spdz2k"):
        np.testing.assert_array_equal(tot, sum(qx))
        np.testing.assert_allclose(prod, qx[0] * qx[3], atol=2**-16)
        np.testing.assert_allclose(div, qx[2] / 5, atol=2 * 2**-16)
        np.testing.assert_array_equal(neg, qx[1] < 0)
        np.testing.assert_array_equal(relu, np.maximum(-qx[3], 0))
        assert mx == qx[0].max()


def test_comparisons_run_on_the_authenticated_boolean_side():
    """Once refused (there was no actively secure boolean side), comparisons, ReLU, max and the
    functions now run on the authenticated boolean engine, from authenticated material only: no
    semi-honest GMW triple or daBit is ever requested, and the party's GMW engine is not used."""
    x = np.array([-1.5, 0.0, 2.25])

    def main(p):
        a = p.input(x if p.pid == 0 else None, owner=0, shape=(3,))
        with p.recording() as plan:
            out = p.reveal(a < 1, a.relu(), a.max(), mpc.functions.exp(a))
        return out, plan, p.engine.converter.boolean

    for (lt, relu, mx, ex), plan, boolean in run_local(main, 2, engine="spdz2k"):
        np.testing.assert_array_equal(lt, x < 1)
        np.testing.assert_array_equal(relu, np.maximum(x, 0))
        assert mx == 2.25
        np.testing.assert_allclose(ex, np.exp(x), rtol=1e-3)
        assert plan and all(r.auth for r in plan)
        assert {r.kind for r in plan} >= {"edabit", "bit_triple", "dabit", "bitmul"}
        assert isinstance(boolean, AuthBits)


word = st.integers(0, (1 << 64) - 1)


@settings(max_examples=8, deadline=None)
@given(n=st.sampled_from([2, 3]), xs=st.lists(st.tuples(word, word, word), min_size=1, max_size=70))
def test_authenticated_boolean_engine_against_plaintext(n, xs):
    """AuthBits: every BooleanEngine operation, a circuit (an adder, a comparison) on its planes,
    input and reveal to all and to one party, against NumPy on the words; reveals are MAC-checked."""
    x, y, c = (np.array(col, dtype=np.uint64) for col in zip(*xs, strict=True))
    m = x.size

    def main(p):
        eng = p.engine.bits
        assert isinstance(eng, BooleanEngine)
        sx = eng.input(x if p.pid == 0 else None, 0, x.shape)
        sy = eng.input(y if p.pid == n - 1 else None, n - 1, y.shape)
        (both,) = eng.and_many([(sx, sy)])
        out = [eng.xor(sx, sy), eng.invert(sx), eng.xor_public(sx, c), eng.and_public(sy, c), eng.public(c),
               both, eng.xor(eng.zeros(x.shape), sx)]
        px, py = (p.kernels.bitslice(v) for v in (x, y))
        planes = [eng.input(v if p.pid == 0 else None, 0, v.shape) for v in (px, py)]
        add = circuits.add(eng, *planes)
        less = circuits.lt(eng, *planes)
        checks = p.engine.mac.checks
        opened = eng.reveal_many(out + [add, less])
        private = eng.reveal(sx, to=1)
        return opened, private, p.engine.mac.checks - checks

    with np.errstate(over="ignore"):
        want_sum = x + y
    for pid, (opened, private, checks) in enumerate(run_local(main, n, engine="spdz2k")):
        xor, inv, xpub, apub, pub, both, same, add, less = opened
        np.testing.assert_array_equal(xor, x ^ y)
        np.testing.assert_array_equal(inv, ~x)
        np.testing.assert_array_equal(xpub, x ^ c)
        np.testing.assert_array_equal(apub, y & c)
        np.testing.assert_array_equal(pub, c)
        np.testing.assert_array_equal(both, x & y)
        np.testing.assert_array_equal(same, x)
        k = get_kernels()
        np.testing.assert_array_equal(k.unbitslice(add, m), want_sum)
        np.testing.assert_array_equal(k.unbitslice(less, m), (x < y).astype(np.uint64))
        assert (private is None) == (pid != 1)
        if pid == 1:
            np.testing.assert_array_equal(private, x)
        # the first reveal: the check of the circuits' openings before any word leaves, then its
        # own; the second only its own (nothing else is pending by then)
        assert checks == 3


@settings(max_examples=8, deadline=None)
@given(n=st.sampled_from([2, 3]), xs=st.lists(st.tuples(*[st.one_of(st.sampled_from([0, 1, 2**63, 2**64 - 1]), word)] * 2),
                                               min_size=1, max_size=70))
def test_light_public_operations_against_plaintext(n, xs):
    """AuthBits' light operations with public words (the comparison tree's leaves): and_public_light
    and xor_public_light of full records (a contiguous block of planes, as the comparison passes
    them) and xor_public_light of light words, opened and MAC-checked: the check passes only if
    every folded MAC the operations made is right."""
    x, c = (np.array(col, dtype=np.uint64) for col in zip(*xs, strict=True))
    planes = np.stack([x, ~x, x ^ c])  # several rows: a block of planes

    def main(p):
        eng = p.engine.bits
        sx = eng.input(planes if p.pid == 0 else None, 0, planes.shape)[:2]  # a contiguous slice
        cc = np.stack([c, c])
        light_and = eng.and_public_light(sx, cc)
        outs = [light_and, eng.xor_public_light(sx, cc), eng.xor_public_light(light_and, cc)]
        opened = [eng.open_unchecked(o.reshape(-1)).reshape(o.shape) for o in outs]
        p.engine.mac.check("light operations")  # raises CheatingDetected on a wrong folded MAC
        return opened

    two = planes[:2]
    for land, lxor, both in run_local(main, n, engine="spdz2k"):
        np.testing.assert_array_equal(land, two & c)
        np.testing.assert_array_equal(lxor, two ^ c)
        np.testing.assert_array_equal(both, (two & c) ^ c)


def ring_matrix(shape):
    """uint64 arrays over the whole ring, the edge words (0, 1, 2^63, 2^64 - 1) often."""
    from hypothesis.extra import numpy as hnp

    word = st.one_of(st.sampled_from([0, 1, 2**63, 2**64 - 1]), st.integers(0, 2**64 - 1))
    return hnp.arrays(np.uint64, shape, elements=word)


def matmul_mod64(x, y):
    """x @ y mod 2^64 (batched over leading axes) with uint64 products and sums, which wrap."""
    with np.errstate(over="ignore"):
        want = np.zeros((*x.shape[:-1], y.shape[-1]), dtype=np.uint64)
        for j in range(x.shape[-1]):
            want += x[..., :, j : j + 1] * y[..., j : j + 1, :]
    return want


@settings(max_examples=8, deadline=None)
@given(st.sampled_from([2, 3]), st.booleans(), st.data())
def test_matmul_mod_2_64_any_values(n, batched, data):
    """The authenticated matrix product (its combine uses the opened D, E mod 2^64) equals NumPy's
    uint64 product mod 2^64 on values of the whole ring (wrap-around, largest words), plain and
    batched, and its result opens MAC-checked."""
    m, k, q = data.draw(st.integers(1, 5)), data.draw(st.integers(1, 6)), data.draw(st.integers(1, 5))
    lead = (data.draw(st.integers(1, 3)),) if batched else ()
    x, y = data.draw(ring_matrix((*lead, m, k))), data.draw(ring_matrix((*lead, k, q)))

    def main(p):
        eng = p.engine
        sx = eng.input(x if p.pid == 0 else None, 0, x.shape)
        sy = eng.input(y if p.pid == n - 1 else None, n - 1, y.shape)
        (z,) = eng.open([eng.matmul(sx, sy)])
        return z

    want = matmul_mod64(x, y)
    for got in run_local(main, n, engine="spdz2k"):
        np.testing.assert_array_equal(got, want)


@settings(max_examples=10, deadline=None)
@given(st.sampled_from([2, 3]), st.booleans(), st.data())
def test_public_matmul_mod_2_64_any_values(n, batched, data):
    """A public matrix times a shared one (local): equal to NumPy's uint64 product mod 2^64 on
    values of the whole ring, for row counts on both sides of LINCOMB_ROWS (weighted sums of rows
    up to it, the Z_2^128 product above) and inner sizes across several auth_lincomb calls; the
    result opens MAC-checked (a wrong MAC share raises CheatingDetected)."""
    from mpc.engines.spdz2k import LINCOMB_ROWS

    m = data.draw(st.sampled_from([1, 2, LINCOMB_ROWS, LINCOMB_ROWS + 1]))
    k, q = data.draw(st.sampled_from([1, 15, 16, 17, 31, 40])), data.draw(st.integers(1, 4))
    lead = (data.draw(st.integers(1, 2)),) if batched else ()
    c, y = data.draw(ring_matrix((*lead, m, k))), data.draw(ring_matrix((*lead, k, q)))

    def main(p):
        eng = p.engine
        sy = eng.input(y if p.pid == n - 1 else None, n - 1, y.shape)
        (z,) = eng.open([eng.public_matmul(c, sy)])
        return z

    want = matmul_mod64(c, y)
    for got in run_local(main, n, engine="spdz2k"):
        np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize("pre", ["dealer", "ot"])
def test_truncating_product_rounds_by_source(pre):
    """A product of two pending products: one round from an authenticated tmul tuple, the
    dealer's or the dealer-free OT source's (mpc.preprocessing.ot_spdz_div); the same values."""
    x = np.array([1.5, -2.25, 0.0, 3.0, -100.5])
    y = np.array([2.0, 4.0, -1.0, -0.5, 0.25])

    def main(p):
        a = p.input(x if p.pid == 0 else None, owner=0, shape=x.shape)
        b = p.input(y if p.pid == 1 else None, owner=1, shape=y.shape)
        u, v = a * b, b * a
        with p.recording() as plan:  # the material first (OT's offline rounds stay out of the count)
            u * v
        p.preprocess(plan)
        with p.section("tmul"):
            w = u * v
        return p.reveal(w), p.stats()["sections"]["tmul"]["rounds"], p.engine.folds_truncation

    for got, r, folded in run_local(main, 2, engine="spdz2k", preprocessing=pre, timeout=120):
        assert r == 1 and folded
        want = (x * y) ** 2
        assert np.all(np.abs(got - want) <= 2.0**-12 * (1 + want))


@settings(max_examples=20, deadline=None)
@given(sizes=st.lists(st.tuples(st.integers(0, 7), st.sampled_from(["one", "sum", "public"])), max_size=30))
def test_ledgers_count_what_they_record_and_start_again_after_a_payload(sizes):
    """``pending`` (asked after every opening) is the number of opened rows recorded since the last
    payload, whatever mix of plain, summed and broadcast entries, and is 0 once a payload took them."""
    from mpc.engines.mac_check import BitLedger, RingLedger

    k = get_kernels()
    ring, bits = RingLedger(12345, k), BitLedger(6789, k)
    want = want_bits = 0
    for rows, kind in sizes:
        vals, macs = np.ones((rows, 2), dtype=np.uint64), np.ones((rows, 2), dtype=np.uint64)
        if kind == "one":
            ring.record(vals, macs)
        elif kind == "sum":
            ring.record_sum((vals, vals), macs)
        else:
            ring.record_public(vals)  # a broadcast is checked for consistency, not counted as opened
        want += rows if kind != "public" else 0
        bits.record(np.ones(rows, dtype=np.uint64), np.ones(rows, dtype=np.uint64))
        want_bits += rows
        assert ring.pending == want and bits.pending == want_bits
    ring.payload(PRG(bytes(16)))
    bits.payload(PRG(bytes(16)))
    assert ring.pending == 0 and bits.pending == 0
