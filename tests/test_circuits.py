"""Boolean circuits and SecretBits against plaintext integers (cleartext backend and 2/3-party GMW),
at widths from 1 bit to 512 bits."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mpc._core import get_kernels
from mpc.engines import bitplanes, circuits
from mpc.engines.bristol import PlainBits
from mpc.engines.gmw import GMWEngine
from mpc.errors import ShareTypeError
from mpc.preprocessing.bit_triples import LocalBitTriples
from mpc.tensor.secret_bits import SecretBits, reveal_bits, sum_bits, where
from mpc.testing import run_local

K = get_kernels()
PLAIN = PlainBits()
WIDE = [65, 100, 127, 128, 129, 192, 256, 512]


def engine(party):
    """GMW on local bit triples, or the party's own authenticated bits when it runs spdz2k."""
    if party.engine_name == "spdz2k":
        return party.gmw
    seed = party.common_prg.derive("test/bit-triples").random_bytes(16)
    return GMWEngine(party.channel, LocalBitTriples(seed, party.pid, party.n), party.kernels, pair_prgs=party.pair_prgs)


# the boolean engines SecretBits run on: GMW (semi-honest) and spdz2k's authenticated bits; the
# party's arithmetic engine for each (spdz2k's SecretBits are its AuthBits, see engine() above)
BOOLEAN = pytest.mark.parametrize("arith", ["semi2k", "spdz2k"], ids=["gmw", "spdz2k-bits"])
# a reveal's extra rounds: spdz2k checks the MACs of every opened word first (3 rounds)
CHECK_ROUNDS = {"semi2k": 0, "spdz2k": 3}


def edges(w):
    top, m = 1 << (w - 1), (1 << w) - 1
    return sorted({v & m for v in (0, 1, 2, m, m - 1, top, top - 1, top + 1)})


def random_ints(w, count, seed):
    """``count`` pseudo-random w-bit values (test data, not secrets), from 64-bit limbs."""
    rng = np.random.default_rng(seed)
    limbs = rng.integers(0, 2**64, size=(count, -(-w // 64)), dtype=np.uint64)
    return [sum(int(v) << (64 * j) for j, v in enumerate(row)) % (1 << w) for row in limbs]


def edge_pairs(w, count, seed):
    """Every edge against every edge, equal values, last-bit neighbours, then random values."""
    e = edges(w)
    xs = [a for a in e for _ in e]
    ys = [b for _ in e for b in e]
    r = random_ints(w, count, seed)
    xs += r + r + [v ^ 1 for v in r]
    ys += r[::-1] + r + r
    return xs, ys


def signed(v, w):
    return v - (1 << w) if v >= 1 << (w - 1) else v


def planes(values, w):
    return bitplanes.encode(K, "values", list(values), w, fit=False)[0]


def ints(bundle, n):
    return [int(v) for v in bitplanes.decode(K, np.ascontiguousarray(bundle), n)]


widths = st.one_of(st.integers(1, 64), st.sampled_from(WIDE), st.integers(65, 520))

def width_and_pairs(w, max_size):
    """(w, pairs of w-bit values), the values edges or uniform in [0, 2^w)."""
    value = st.one_of(st.sampled_from(edges(w)), st.integers(0, (1 << w) - 1))
    return st.tuples(st.just(w), st.lists(st.tuples(value, value), min_size=1, max_size=max_size))


values_and_width = widths.flatmap(lambda w: width_and_pairs(w, 90))
wide_values = st.sampled_from(WIDE).flatmap(lambda w: width_and_pairs(w, 70))


# ----------------------------------------------------------------------------- cleartext backend


@given(values_and_width)
def test_circuits_match_integers_in_cleartext(case):
    w, pairs = case
    xs, ys = [p[0] for p in pairs], [p[1] for p in pairs]
    n, m = len(xs), (1 << w) - 1
    x, y = planes(xs, w), planes(ys, w)
    assert ints(circuits.add(PLAIN, x, y), n) == [(a + b) & m for a, b in zip(xs, ys, strict=True)]
    assert ints(circuits.add(PLAIN, x, y, carry_in=True), n) == [(a + b + 1) & m for a, b in zip(xs, ys, strict=True)]
    assert ints(circuits.sub(PLAIN, x, y), n) == [(a - b) & m for a, b in zip(xs, ys, strict=True)]
    assert ints(circuits.neg(PLAIN, x), n) == [(-a) & m for a in xs]
    assert ints(circuits.lt(PLAIN, x, y), n) == [int(a < b) for a, b in zip(xs, ys, strict=True)]
    assert ints(circuits.lt(PLAIN, x, y, signed=True), n) == [
        int(signed(a, w) < signed(b, w)) for a, b in zip(xs, ys, strict=True)
    ]
    assert ints(circuits.le(PLAIN, x, y), n) == [int(a <= b) for a, b in zip(xs, ys, strict=True)]
    assert ints(circuits.eq(PLAIN, x, y), n) == [int(a == b) for a, b in zip(xs, ys, strict=True)]
    s = circuits.lt(PLAIN, x, y)
    assert ints(circuits.mux(PLAIN, s, x, y), n) == [min(a, b) for a, b in zip(xs, ys, strict=True)]


@given(widths, st.integers(1, 12), st.integers(0, 2**32))
def test_carry_save_sum_in_cleartext(w, count, seed):
    vals = [random_ints(w, 20, seed + i) for i in range(count)]
    vals[0][:3] = [(1 << w) - 1, 0, 1 << (w - 1)]
    got = ints(circuits.csa_sum(PLAIN, [planes(v, w) for v in vals]), 20)
    assert got == [sum(col) % (1 << w) for col in zip(*vals, strict=True)]


def test_costs_are_the_documented_ones():
    assert circuits.adder_cost(64) == {"rounds": 7, "ands": 373}
    assert circuits.lt_cost(64) == {"rounds": 7, "ands": 184}
    assert circuits.eq_cost(64) == {"rounds": 6, "ands": 63}
    assert circuits.adder_cost(1) == {"rounds": 0, "ands": 0}
    assert [circuits.csa_layers(k) for k in (1, 2, 3, 4, 6, 9, 10)] == [0, 0, 1, 2, 3, 4, 5]


class CountingOps(PlainBits):
    """Counts rounds (and_many calls) and AND gates on bit planes of one word."""

    def __init__(self):
        self.rounds = 0
        self.ands = 0

    def and_many(self, pairs):
        pairs = list(pairs)
        self.rounds += 1
        self.ands += sum(a.shape[0] for a, _ in pairs)
        return super().and_many(pairs)


@pytest.mark.parametrize("w", [1, 2, 3, 7, 8, 31, 33, 64, 65, 128, 256])
def test_cost_functions_count_what_the_circuits_do(w):
    x = planes([3], w)
    for fn, cost in ((circuits.add, circuits.adder_cost), (circuits.lt, circuits.lt_cost), (circuits.eq, circuits.eq_cost)):
        ops = CountingOps()
        fn(ops, x, x)
        assert {"rounds": ops.rounds, "ands": ops.ands} == cost(w)


def test_circuit_argument_errors():
    with pytest.raises(ShareTypeError, match="shapes differ"):
        circuits.add(PLAIN, planes([1], 8), planes([1], 9))
    with pytest.raises(ShareTypeError, match="selector"):
        circuits.mux(PLAIN, planes([1], 2), planes([1], 8), planes([1], 8))
    with pytest.raises(ShareTypeError, match="at least one"):
        circuits.csa_sum(PLAIN, [])


# ----------------------------------------------------------------------------- SecretBits under GMW and spdz2k


@pytest.mark.parametrize("n", [2, 3])
@pytest.mark.parametrize("w", [64, 13, 128, 200])
@BOOLEAN
def test_secret_bits_ops_match_plaintext(n, w, arith):
    xs, ys = edge_pairs(w, 40, seed=w + n)
    count, m = len(xs), (1 << w) - 1
    pub = [(7 * i + 3) & m for i in range(count)]

    def main(party):
        eng = engine(party)
        x = SecretBits.input(eng, xs if party.pid == 0 else None, 0, count, width=w)
        y = SecretBits.input(eng, ys if party.pid == n - 1 else None, n - 1, count, width=w)
        outs = [
            x + y, x - y, -x, x ^ y, x & y, x | y, ~x, x << 3, x >> 5, x.sar(5),
            x + 5, 5 - x, x ^ pub, x & pub, x | pub,
            x.lt(y), x.lt(y, signed=True), x <= y, x > y, x >= y, x.le(y, signed=True), x.eq(y), x.ne(y),
            where(x < y, x, y), x.bit(w - 1), x.bits(1, w), SecretBits.concat_bits([x.bit(0), y.bits(1, w)]),
            x.eq(pub), x < 3,
        ]
        with party.section("reveal"):
            got = reveal_bits(*outs)
        return got, party.stats()["sections"]["reveal"]["rounds"]

    sx = [signed(a, w) for a in xs]
    sy = [signed(b, w) for b in ys]
    pairs = list(zip(xs, ys, strict=True))
    want = [
        [(a + b) & m for a, b in pairs], [(a - b) & m for a, b in pairs], [(-a) & m for a in xs],
        [a ^ b for a, b in pairs], [a & b for a, b in pairs], [a | b for a, b in pairs], [~a & m for a in xs],
        [(a << 3) & m for a in xs], [a >> 5 for a in xs], [(s >> 5) & m for s in sx],
        [(a + 5) & m for a in xs], [(5 - a) & m for a in xs],
        [a ^ p for a, p in zip(xs, pub, strict=True)], [a & p for a, p in zip(xs, pub, strict=True)],
        [a | p for a, p in zip(xs, pub, strict=True)],
        [int(a < b) for a, b in pairs], [int(a < b) for a, b in zip(sx, sy, strict=True)],
        [int(a <= b) for a, b in pairs], [int(a > b) for a, b in pairs], [int(a >= b) for a, b in pairs],
        [int(a <= b) for a, b in zip(sx, sy, strict=True)], [int(a == b) for a, b in pairs],
        [int(a != b) for a, b in pairs], [min(a, b) for a, b in pairs], [a >> (w - 1) for a in xs],
        [a >> 1 for a in xs], [(a & 1) | (b & ~1 & m) for a, b in pairs],
        [int(a == p) for a, p in zip(xs, pub, strict=True)], [int(a < 3) for a in xs],
    ]
    for got, rounds in run_local(main, n, engine=arith):
        # spdz2k: the check of the circuits' openings before any output share, the opening, its check
        assert rounds == 1 + 2 * CHECK_ROUNDS[arith]
        for i, (g, wv) in enumerate(zip(got, want, strict=True)):
            assert [int(v) for v in g] == wv, f"output {i}"


@pytest.mark.parametrize("n", [2, 3])
@BOOLEAN
def test_rounds_equal_and_depth(n, arith):
    count = 100

    def main(party):
        eng = engine(party)
        x = SecretBits.input(eng, list(range(count)) if party.pid == 0 else None, 0, count)
        y = SecretBits.input(eng, list(range(count)) if party.pid == 1 else None, 1, count)
        rounds = {}
        for name, fn in (("add", lambda: x + y), ("lt", lambda: x < y), ("eq", lambda: x.eq(y)),
                         ("mux", lambda: where(x.bit(0), x, y)), ("and", lambda: x & y), ("xor", lambda: x ^ y)):
            with party.section(name):
                fn()
            s = party.stats()["sections"][name]
            rounds[name] = (s["rounds"], s["bytes_sent"])
        return rounds

    header = 40
    words = 2  # ceil(100 / 64)
    for r in run_local(main, n, engine=arith):
        assert r["add"][0] == circuits.adder_cost(64)["rounds"] == 7
        assert r["lt"][0] == circuits.lt_cost(64)["rounds"] == 7
        assert r["eq"][0] == 6 and r["mux"][0] == 1 and r["and"][0] == 1
        assert r["xor"] == (0, 0)
        # every AND gate of a plane costs 2 words per word per peer: bytes follow the AND count
        assert r["add"][1] == (n - 1) * (7 * header + 16 * words * circuits.adder_cost(64)["ands"])
        assert r["lt"][1] == (n - 1) * (7 * header + 16 * words * circuits.lt_cost(64)["ands"])


@pytest.mark.parametrize("n", [2, 3])
@BOOLEAN
def test_sum_of_many_addends(n, arith):
    k, count, w = 7, 70, 64
    rng = np.random.default_rng(n)
    vals = [rng.integers(0, 2**64, size=count, dtype=np.uint64) for _ in range(k)]
    vals[0][:2] = [2**64 - 1, 2**63]
    vals[1][:2] = [2**64 - 1, 2**63]

    def main(party):
        eng = engine(party)
        xs = [SecretBits.input(eng, v if party.pid == i % n else None, i % n, count, width=w) for i, v in enumerate(vals)]
        with party.section("sum"):
            total = sum_bits(xs)
        rounds = party.stats()["sections"]["sum"]["rounds"]
        return total.reveal(), rounds

    want = np.zeros(count, dtype=np.uint64)
    for v in vals:
        want += v
    for got, rounds in run_local(main, n, engine=arith):
        np.testing.assert_array_equal(got, want)
        assert rounds == circuits.csa_layers(k) + circuits.adder_cost(w)["rounds"]


def test_secret_bits_validation_and_repr():
    def main(party):
        eng = engine(party)
        x = SecretBits.input(eng, [1, 2, 300] if party.pid == 0 else None, 0, 3, width=9)
        y = SecretBits.zeros(eng, 3, width=8)
        z = SecretBits.zeros(eng, 4, width=9)
        with pytest.raises(ShareTypeError, match="widths differ: 9 and 8"):
            x + y
        with pytest.raises(ShareTypeError, match="element counts differ: 3 and 4"):
            x ^ z
        with pytest.raises(ValueError, match="width"):
            SecretBits.zeros(eng, 3, width=0)
        wide = SecretBits.concat_bits([x] * 8)  # 72 bits: any width is allowed
        with pytest.raises(ShareTypeError, match="integer values"):
            x ^ np.array([1.5, 2.0, 3.0])
        if party.pid == 0:
            with pytest.raises(ValueError, match="do not fit in 4 bits") as info:
                SecretBits.input(eng, [3, 99, 5], 0, 3, width=4)
            assert "99" not in str(info.value)  # secrets never appear in messages
        assert repr(x) == f"SecretBits(n=3, width=9, party={party.pid})"
        assert repr(wide) == f"SecretBits(n=3, width=72, party={party.pid})"
        return x.reveal(to=1), party.stats()["total"]["rounds"], wide.reveal()

    (r0, rounds0, w0), (r1, _, w1) = run_local(main, 2)
    assert r0 is None and list(r1) == [1, 2, 300] and rounds0 == 1
    want = [sum(v << (9 * i) for i in range(8)) for v in (1, 2, 300)]
    assert w0.dtype == object and list(w0) == list(w1) == want


@pytest.mark.parametrize("n", [2, 3])
def test_padding_bits_never_leak(n):
    # ~x sets the padding bits of party 0's share; opened words must still be the n values only
    def main(party):
        eng = engine(party)
        x = SecretBits.input(eng, [0] * 5 if party.pid == 0 else None, 0, 5, width=3)
        y = ~x
        return eng.reveal(y._masked_planes()), y.reveal()

    for words_open, vals in run_local(main, n):
        assert (words_open == np.uint64(0b11111)).all()
        assert list(vals) == [7] * 5


@pytest.mark.parametrize("n", [2, 3])
@pytest.mark.parametrize("kind", ["gmw", "spdz2k"])
@settings(max_examples=8)
@given(case=wide_values)
def test_wide_secret_bits_through_the_party_match_python_ints(n, kind, case):
    """Widths beyond 64 bits: values in and out as Python ints, adders, comparisons, where, sums."""
    w, pairs = case
    xs, ys = [p[0] for p in pairs], [p[1] for p in pairs]
    count, m = len(xs), (1 << w) - 1

    def main(party):
        x = party.input_bits(xs if party.pid == 0 else None, owner=0, n=count, width=w)
        y = party.input_bits(ys if party.pid == n - 1 else None, owner=n - 1, n=count, width=w)
        return party.reveal(x + y, x - y, -x, x.lt(y), x.lt(y, signed=True), x.ge(y), x.eq(y),
                            where(x > y, x, y), sum_bits([x, y, x]), x ^ y, x >> (w - 3))

    pairs = list(zip(xs, ys, strict=True))
    want = [
        [(a + b) & m for a, b in pairs], [(a - b) & m for a, b in pairs], [(-a) & m for a in xs],
        [int(a < b) for a, b in pairs], [int(signed(a, w) < signed(b, w)) for a, b in pairs],
        [int(a >= b) for a, b in pairs], [int(a == b) for a, b in pairs], [max(a, b) for a, b in pairs],
        [(2 * a + b) & m for a, b in pairs], [a ^ b for a, b in pairs], [a >> (w - 3) for a in xs],
    ]
    for got in run_local(main, n, engine=kind):
        for i, (g, wv) in enumerate(zip(got, want, strict=True)):
            assert [int(v) for v in g] == wv, f"output {i}"
        assert got[0].dtype == object and got[3].dtype == np.uint64  # w > 64 bits: Python ints; 1 bit: uint64
