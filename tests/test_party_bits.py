"""The Party's boolean side: engine="gmw" parties and spdz2k's authenticated bits, input_bits, reveal
of SecretBits, and dry runs / prefetching that cover AND triples and daBits (zero dealer traffic
online)."""

import numpy as np
import pytest

import mpc
from mpc.errors import ConfigError, ShareTypeError
from mpc.tensor.secret_bits import SecretBits, sum_bits, where
from mpc.testing import run_local

PARTIES = pytest.mark.parametrize("n", [2, 3])
SOURCES = pytest.mark.parametrize("pre", ["local", "dealer"])
# the engines whose parties have SecretBits: GMW (semi-honest) and spdz2k's authenticated bits
BOOLEAN = pytest.mark.parametrize("engine", ["gmw", "spdz2k"])
W = 16
MASK = (1 << W) - 1


@PARTIES
@pytest.mark.parametrize("pre", ["local", "dealer", "ot"])  # ot: dealer-free, on the live lanes (7 of 64)
@BOOLEAN
def test_boolean_party(n, pre, engine):
    a = np.array([0, 1, 65535, 1234, 40000, 7, 300], dtype=np.uint64)
    b = np.array([0, 65535, 1, 1234, 39999, 9, 3], dtype=np.uint64)
    mine = [np.array([p, 10 * p + 1], dtype=np.uint64) for p in range(n)]

    def main(p):
        if engine == "gmw":
            assert p.engine is p.gmw and "gmw" in repr(p)
            with pytest.raises(ConfigError, match="input_bits"):
                p.input(1.0)
        else:
            assert p.gmw is p.engine.converter.boolean and "spdz2k" in repr(p)
        sa = p.input_bits(a if p.pid == 0 else None, owner=0, n=a.size, width=W)
        sb = p.input_bits(b if p.pid == n - 1 else None, owner=n - 1, n=b.size, width=W)
        each = p.input_bits(mine[p.pid], width=W)  # every party contributes
        lt = sa < sb
        out = p.reveal(sa + sb, sa & sb, sa ^ sb, lt, sa.eq(sb), where(lt, sa, sb), *each)
        one = p.reveal(sa - sb, to=n - 1)
        return out, one

    results = run_local(main, n, engine=engine, preprocessing=pre)
    for pid, (out, one) in enumerate(results):
        add, band, bxor, lt, eq, mn, *each = out
        np.testing.assert_array_equal(add, (a + b) & MASK)
        np.testing.assert_array_equal(band, a & b)
        np.testing.assert_array_equal(bxor, a ^ b)
        np.testing.assert_array_equal(lt, (a < b).astype(np.uint64))
        np.testing.assert_array_equal(eq, (a == b).astype(np.uint64))
        np.testing.assert_array_equal(mn, np.minimum(a, b))
        for got, want in zip(each, mine, strict=True):
            np.testing.assert_array_equal(got, want)
        if pid == n - 1:
            np.testing.assert_array_equal(one, (a - b) & MASK)
        else:
            assert one is None


@BOOLEAN
def test_boolean_party_dry_run_and_prefetch(engine):
    def compute(b):
        return (b + b).lt(5)

    def main(p):
        b = p.input_bits([1, 2, 3] if p.pid == 0 else None, owner=0, n=3, width=8)
        plan = p.dry_run(compute, b)
        p.preprocess(plan)
        before = p.stats()["dealer"]["messages_sent"]
        r = compute(b)
        return {r.kind for r in plan}, p.stats()["dealer"]["messages_sent"] - before, p.reveal(r)

    for kinds, online, r in run_local(main, 3, engine=engine, preprocessing="dealer"):
        # spdz2k: light triples for the adder's P terms (only ever ANDed), full ones elsewhere
        assert kinds == ({"bit_triple"} if engine == "gmw" else {"bit_triple", "light_triple"})
        assert online == 0 and r.tolist() == [1, 1, 0]


@pytest.mark.parametrize("engine", ["semi2k", "spdz2k"])
def test_input_bits_checks_before_any_message(engine):
    def main(p):
        before = p.stats()["total"]["bytes_sent"]
        with pytest.raises(ValueError, match="fit in 4 bits"):
            p.input_bits([16], width=4)  # every party contributes: every party fails locally
        with pytest.raises(ValueError, match="width"):
            p.input_bits([1], owner=0, n=1, width=0)
        with pytest.raises(ValueError, match="exactly 16 bytes"):
            p.input_bits(bytes(15), owner=p.pid, width=128)
        with pytest.raises(ValueError, match="fit in 128 bits"):
            p.input_bits([1 << 128], owner=p.pid, width=128)
        with pytest.raises(ValueError, match="fit in 12 bits"):
            p.input_bits(b"\x10\x00", owner=p.pid, width=12)  # 2 bytes, but bit 12 is set
        with pytest.raises(ShareTypeError, match="one kind"):
            p.input_bits([1, b"\x01"], owner=p.pid, width=8)
        with pytest.raises(ShareTypeError, match="got str"):
            p.input_bits("0x01", owner=p.pid, width=8)
        with pytest.raises(ValueError, match="n="):
            p.input_bits(owner=1 - p.pid)
        with pytest.raises(ValueError, match="n=3 does not match"):
            p.input_bits([1, 2], owner=p.pid, n=3)
        with pytest.raises(ConfigError, match="owner"):
            p.input_bits([1], owner=5)
        sent = p.stats()["total"]["bytes_sent"] - before
        with pytest.raises(ValueError, match="disagree"):  # one agreement round, then every party fails
            p.input_bits([1, 2] if p.pid == 0 else None, owner=0, n=2, width=8 + p.pid)
        x = p.input_bits(-1, owner=0, n=1, width=8)  # one value; negatives are two's complement
        return sent, p.reveal(x)

    for sent, x in run_local(main, 2, engine=engine):
        assert sent == 0 and x.tolist() == [255]


@SOURCES
@pytest.mark.parametrize("engine", ["semi2k", "spdz2k"])
def test_party_reveals_tensors_and_bits_together(pre, engine):
    def main(p):
        t = p.input(np.array([1.5, -2.0]) if p.pid == 0 else None, owner=0, shape=(2,))
        b = p.input_bits([5, 6, 7] if p.pid == 1 else None, owner=1, n=3, width=3)
        t2, b1 = t * 2, b + 1
        with p.section("mixed"):
            both = p.reveal(t2, b1)
        to0 = p.reveal(b, t, to=0)
        with pytest.raises(ShareTypeError, match="SecretBits"):
            p.reveal(np.ones(2))
        return both, to0, p.stats()["sections"]["mixed"]["rounds"]

    for pid, (both, to0, rounds) in enumerate(run_local(main, 2, engine=engine, preprocessing=pre)):
        np.testing.assert_array_equal(both[0], [3.0, -4.0])
        np.testing.assert_array_equal(both[1], [6, 7, 0])
        # one opening per kind; under spdz2k first the check of every earlier opening (3 rounds),
        # then one MAC check of both openings (3 rounds), not one each
        assert rounds == (2 if engine == "semi2k" else 8)
        if pid == 0:
            assert to0[0].tolist() == [5, 6, 7] and to0[1].tolist() == [1.5, -2.0]
        else:
            assert to0 == (None, None)


@PARTIES
@pytest.mark.parametrize("engine", ["semi2k", "spdz2k"])
def test_dry_run_plans_comparisons_and_bits_then_no_dealer_traffic_online(n, engine):
    x = np.array([[3.0, -1.0, 2.5, 0.25], [-4.0, 8.0, 8.0, 1.0]])

    def compute(sx, sb):
        return sx.max(axis=1), ((sx < 0.5) * sx), (sx * sx).truncate(), sx.relu().sum(), sb + sb, sb.lt(3)

    def main(p):
        sx = p.input(x if p.pid == 0 else None, owner=0, shape=x.shape)
        sb = p.input_bits([1, 2, 3, 4, 5] if p.pid == 0 else None, owner=0, n=5, width=8)
        plan = p.dry_run(compute, sx, sb)
        kinds = {r.kind for r in plan}
        p.preprocess(plan)
        before = p.stats()["dealer"]["messages_sent"]
        with p.recording() as used:
            out = compute(sx, sb)
        after = p.stats()["dealer"]["messages_sent"]
        pending = p.preprocessing.pending
        return kinds, used == plan, after - before, pending, p.reveal(*out)

    for kinds, same, online, pending, out in run_local(main, n, engine=engine, preprocessing="dealer"):
        assert {"bit_triple", "dabit", "triple", "trunc"} <= kinds
        assert same and online == 0 and pending == 0
        mx, masked, sq, relu, dbl, lt = out
        np.testing.assert_array_equal(sq, x * x)
        np.testing.assert_array_equal(mx, x.max(axis=1))
        np.testing.assert_array_equal(masked, (x < 0.5) * x)
        assert relu == np.maximum(x, 0).sum()
        assert dbl.tolist() == [2, 4, 6, 8, 10] and lt.tolist() == [1, 1, 0, 0, 0]


def test_design_snippet_mean_and_max():
    """DESIGN.md section 1, verbatim apart from reading the salary."""
    salaries = [51000.5, 72000.25, 39000.0]

    def main(party: mpc.Party):
        salary = salaries[party.pid]
        s = mpc.stack(party.input(salary))
        mean, top = party.reveal(s.mean(), s.max())
        return mean, top

    for mean, top in run_local(main, 3, preprocessing="dealer"):
        assert mean == pytest.approx(np.mean(salaries), abs=2 * 2.0**-16) and top == max(salaries)


def test_unknown_engine_is_a_config_error():
    with pytest.raises(ConfigError, match="engine"):
        run_local(lambda p: None, 2, engine="spdz")
    assert isinstance(mpc.SecretBits, type) and mpc.SecretBits is SecretBits


KEY = bytes.fromhex("000102030405060708090a0b0c0d0e0f")
BIG = [0, 1, 2**128 - 1, 2**127, 0x0123456789ABCDEF_FEDCBA9876543210]


@PARTIES
@BOOLEAN
def test_input_bits_beyond_64_bits_as_ints_and_bytes(n, engine):
    """128/256-bit values in as Python ints, bytes (big-endian) and signed arrays; out as ints or bytes."""
    signed = np.array([-1, 5, -(2**63)], dtype=np.int64)
    mine = [bytes([p]) * 32 for p in range(n)]

    def main(p):
        a = p.input_bits(BIG if p.pid == 0 else None, owner=0, n=len(BIG), width=128)
        k = p.input_bits(KEY if p.pid == n - 1 else None, owner=n - 1, n=1, width=128)
        s = p.input_bits(signed if p.pid == 0 else None, owner=0, n=3, width=200)
        each = p.input_bits(mine[p.pid], width=256)  # every party contributes one 32-byte value
        ints = p.reveal(a, k, s, *each)
        as_bytes = k.reveal(as_bytes=True), a.reveal(to=n - 1, as_bytes=True)
        return ints, as_bytes

    for pid, (ints, (kb, ab)) in enumerate(run_local(main, n, engine=engine)):
        a, k, s, *each = ints
        assert a.dtype == object and list(a) == BIG
        assert list(k) == [int.from_bytes(KEY, "big")] == [0x000102030405060708090A0B0C0D0E0F]
        assert list(s) == [int(v) % 2**200 for v in signed]  # sign-extended to 200 bits
        assert [list(e) for e in each] == [[int.from_bytes(m, "big")] for m in mine]
        assert kb == [KEY]
        if pid == n - 1:
            assert ab == [v.to_bytes(16, "big") for v in BIG]
        else:
            assert ab is None


def test_dealer_free_secret_bits_on_few_elements_make_gates_for_the_live_lanes_only():
    """spdz2k with preprocessing="ot": SecretBits operations on 3 elements (an adder, a
    comparison, an AND, a multiplexer, a sum) ask for AND triples as (words, 1, 3), the live
    lanes only, and give the plaintext answers; a vector of 64 elements has no padding and asks
    for whole words."""
    a, b = [5, 2**16 - 1, 0], [7, 1, 0]

    def main(p):
        x = p.input_bits(a if p.pid == 0 else None, owner=0, n=3, width=16)
        y = p.input_bits(b if p.pid == 1 else None, owner=1, n=3, width=16)
        with p.recording() as used:
            outs = [x + y, x < y, x & y, where(x < y, x, y), sum_bits([x, y, x])]
        full = p.input_bits(list(range(64)) if p.pid == 0 else None, owner=0, n=64, width=8)
        with p.recording() as whole:
            full + full
        return [r.params for r in used if r.kind == "bit_triple"], [r.params for r in whole], p.reveal(*outs)

    for live, whole, (s, lt, band, mn, total) in run_local(main, 2, engine="spdz2k", preprocessing="ot", timeout=120):
        assert live and all(params[1:] == (1, 3) for params in live)
        assert whole and all(len(params) == 1 for params in whole)
        assert s.tolist() == [12, 0, 0] and lt.tolist() == [1, 0, 0] and band.tolist() == [5, 1, 0]
        assert mn.tolist() == [5, 1, 0] and total.tolist() == [17, (2 * (2**16 - 1) + 1) % 2**16, 0]


@pytest.mark.parametrize(("engine", "rounds"), [("gmw", 0), ("spdz2k", 1)])
def test_every_party_inputs_bits_in_one_call(engine, rounds):
    """party.input_bits(values) with every party contributing (BooleanEngine.input_all): no
    message under GMW (pairwise PRGs), one round under spdz2k (each party's masked words to every
    peer at once, not one round per party)."""
    mine = [[p, 2 * p + 1, 255 - p] for p in range(3)]

    def main(p):
        with p.section("in"):
            shares = p.input_bits(mine[p.pid], width=8, check=False)
        return p.stats()["sections"]["in"]["rounds"], [s.reveal().tolist() for s in shares]

    for got_rounds, values in run_local(main, 3, engine=engine):
        assert got_rounds == rounds and values == mine
