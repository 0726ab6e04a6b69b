"""Bristol Fashion: parser errors, a hand-written circuit, the shipped adder64/lt64 (cleartext and GMW)."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from mpc._core import get_kernels
from mpc.engines import bristol, circuits
from mpc.engines.bristol import BristolFormatError, evaluate, evaluate_clear, load_shipped, parse_bristol
from mpc.engines.circuits_data import generate
from mpc.engines.gmw import GMWEngine
from mpc.errors import ShareTypeError
from mpc.preprocessing.bit_triples import LocalBitTriples
from mpc.tensor.secret_bits import SecretBits
from mpc.testing import run_local

K = get_kernels()
M64 = 2**64 - 1
EDGES = [0, 1, 2, M64, M64 - 1, 2**63, 2**63 - 1, 2**63 + 1]

# a full adder plus one of every gate type: outputs sum (1 bit), carry (1 bit), [~a, 1] (2 bits)
FULL_ADDER = """9 13
3 1 1 1
3 1 1 2

2 1 0 1 3 XOR
4 2 0 3 1 2 4 5 MAND
2 1 4 5 6 XOR
1 1 0 7 INV
1 1 1 8 EQ

2 1 3 2 9 XOR
1 1 6 10 EQW
1 1 7 11 EQW
1 1 8 12 EQW
"""


def engine(party):
    seed = party.common_prg.derive("test/bit-triples").random_bytes(16)
    return GMWEngine(party.channel, LocalBitTriples(seed, party.pid, party.n), party.kernels, pair_prgs=party.pair_prgs)


# ----------------------------------------------------------------------------- parser


BAD = [
    ("", "line 1: expected the 3 header lines"),
    ("x 3\n2 1 1\n1 1\n", "line 1: header: expected integers"),
    ("1 3 4\n2 1 1\n1 1\n2 1 0 1 2 XOR", "line 1: header: expected 'ngates nwires'"),
    ("1 3\n3 1 1\n1 1\n2 1 0 1 2 XOR", "line 2: inputs: expected a count followed by that many"),
    ("1 3\n2 1 1\n1 1 1\n2 1 0 1 2 XOR", "line 3: outputs"),
    ("1 2\n2 1 1\n1 1\n2 1 0 1 2 XOR", "line 3: 2 input and 1 output wires do not fit in 2 wires"),
    ("2 3\n2 1 1\n1 1\n2 1 0 1 2 XOR", "line 4: the header announces 2 gates, the file has 1"),
    ("1 3\n2 1 1\n1 1\n2 1 0 1 2 XOR\n2 1 0 1 2 AND", "line 5: the header announces 1 gates, the file has 2"),
    ("1 3\n2 1 1\n1 1\n2 1 0 1 2 NAND", "line 4: unknown gate type 'NAND'"),
    ("1 3\n2 1 1\n1 1\n1 1 0 2 XOR", "line 4: XOR: expected 2 inputs and 1 output, got 1 and 1"),
    ("1 3\n2 1 1\n1 1\n2 1 0 1 XOR", "line 4: XOR: expected 2 input and 1 output wires, got 2 numbers"),
    ("1 3\n2 1 1\n1 1\n2 1 0 -1 2 AND", "line 4: AND: negative number"),
    ("1 4\n2 1 1\n1 1\n2 1 0 2 3 XOR", "line 4: XOR: wire 2 is read before it is written"),
    ("1 3\n2 1 1\n1 1\n2 1 0 9 2 XOR", "line 4: XOR: wire 9 is out of range"),
    ("1 3\n2 1 1\n1 1\n2 1 0 1 7 XOR", "line 4: XOR: wire 7 is out of range"),
    ("2 3\n2 1 1\n1 1\n2 1 0 1 2 XOR\n1 1 0 2 INV", "line 5: INV: output wire 2 is already written"),
    ("1 3\n2 1 1\n1 1\n1 1 0 1 INV", "line 4: INV: output wire 1 is an input wire"),
    ("1 3\n2 1 1\n1 1\n1 1 2 2 EQ", "line 4: EQ: the constant must be 0 or 1, got 2"),
    ("1 5\n2 1 1\n1 1\n3 1 0 1 0 2 MAND", "line 4: MAND: expected 2k inputs and k outputs, got 3 and 1"),
    ("1 4\n2 1 1\n1 1\n2 1 0 1 2 XOR", "line 4: output wire 3 is never written"),
    ("1 3\n2 1 1\n1 1\n\n\n2 1 0 1 1 XOR", "line 6: XOR: output wire 1 is an input wire"),
]


@pytest.mark.parametrize(("text", "message"), BAD)
def test_malformed_files_name_the_line(text, message):
    with pytest.raises(BristolFormatError) as info:
        parse_bristol(text)
    assert message in str(info.value)
    assert isinstance(info.value, ValueError)


def test_hand_written_circuit_in_cleartext_and_schedule():
    c = parse_bristol(FULL_ADDER)
    assert (c.ngates, c.nwires, c.input_sizes, c.output_sizes) == (9, 13, (1, 1, 1), (1, 1, 2))
    assert c.and_count == 2 and c.and_depth == 1
    a, b, cin = [np.array([(i >> k) & 1 for i in range(8)], dtype=np.uint64) for k in range(3)]
    s, carry, rest = evaluate_clear(c, [a, b, cin])
    np.testing.assert_array_equal(s, a ^ b ^ cin)
    np.testing.assert_array_equal(carry, (a + b + cin) >> np.uint64(1))
    np.testing.assert_array_equal(rest, (1 - a) | np.uint64(2))
    again = parse_bristol(c.to_bristol())  # writing and re-reading keeps every gate
    assert [(g.op, g.ins, g.outs) for g in again.gates] == [(g.op, g.ins, g.outs) for g in c.gates]


@pytest.mark.parametrize("n", [2, 3])
def test_hand_written_circuit_under_gmw(n):
    c = parse_bristol(FULL_ADDER)
    bits = [[(i >> k) & 1 for i in range(8)] for k in range(3)]

    def main(party):
        eng = engine(party)
        ins = [SecretBits.input(eng, bits[k] if party.pid == k % n else None, k % n, 8, width=1) for k in range(3)]
        with party.section("circuit"):
            outs = evaluate(c, eng, [x.planes for x in ins])
        rounds = party.stats()["sections"]["circuit"]["rounds"]
        return [SecretBits(eng, o, 8).reveal() for o in outs], rounds

    a, b, cin = (np.array(v, dtype=np.uint64) for v in bits)
    for (s, carry, rest), rounds in run_local(main, n):
        assert rounds == c.and_depth == 1
        np.testing.assert_array_equal(s, a ^ b ^ cin)
        np.testing.assert_array_equal(carry, (a + b + cin) >> np.uint64(1))
        np.testing.assert_array_equal(rest, (1 - a) | np.uint64(2))


def test_evaluate_checks_inputs():
    c = parse_bristol(FULL_ADDER)
    ops = bristol.PlainBits()
    one = np.zeros((1, 2), dtype=np.uint64)
    with pytest.raises(ShareTypeError, match="takes 3 input values, got 2"):
        evaluate(c, ops, [one, one])
    with pytest.raises(ShareTypeError, match=r"inputs\[2\]: expected a uint64 bundle of shape \(1, 2\)"):
        evaluate(c, ops, [one, one, np.zeros((2, 2), dtype=np.uint64)])


# ----------------------------------------------------------------------------- shipped circuits


def test_shipped_files_are_up_to_date_and_match_the_builder():
    assert generate.main(["--check"]) == 0
    adder, lt = load_shipped("adder64"), load_shipped("lt64")
    assert (adder.input_sizes, adder.output_sizes) == ((64, 64), (64,))
    assert (lt.input_sizes, lt.output_sizes) == ((64, 64), (1,))
    assert adder.and_depth == circuits.adder_cost(64)["rounds"] and adder.and_count == circuits.adder_cost(64)["ands"]
    assert lt.and_depth == circuits.lt_cost(64)["rounds"] and lt.and_count == circuits.lt_cost(64)["ands"]
    with pytest.raises(ValueError, match="name"):
        load_shipped("aes128")


@given(st.lists(st.tuples(st.integers(0, M64), st.integers(0, M64)), min_size=1, max_size=100))
def test_shipped_circuits_in_cleartext(pairs):
    xs = [p[0] for p in pairs] + EDGES + [e ^ 1 for e in EDGES]
    ys = [p[1] for p in pairs] + EDGES[::-1] + EDGES
    (s,) = evaluate_clear(load_shipped("adder64"), [xs, ys])
    (lt,) = evaluate_clear(load_shipped("lt64"), [xs, ys])
    assert [int(v) for v in s] == [(a + b) & M64 for a, b in zip(xs, ys, strict=True)]
    assert [int(v) for v in lt] == [int(a < b) for a, b in zip(xs, ys, strict=True)]


@pytest.mark.parametrize("n", [2, 3])
def test_shipped_circuits_under_gmw(n):
    rng = np.random.default_rng(n)
    rand = [int(v) for v in rng.integers(0, 2**64, size=90, dtype=np.uint64)]
    xs = [a for a in EDGES for _ in EDGES] + rand + rand + [v ^ 1 for v in rand]
    ys = [b for _ in EDGES for b in EDGES] + rand[::-1] + rand + rand
    count = len(xs)

    def main(party):
        eng = engine(party)
        x = SecretBits.input(eng, xs if party.pid == 0 else None, 0, count)
        y = SecretBits.input(eng, ys if party.pid == n - 1 else None, n - 1, count)
        rounds = {}
        outs = {}
        for name in ("adder64", "lt64"):
            with party.section(name):
                (o,) = evaluate(load_shipped(name), eng, [x.planes, y.planes])
            rounds[name] = party.stats()["sections"][name]["rounds"]
            outs[name] = SecretBits(eng, o, count).reveal()
        return outs, rounds

    for outs, rounds in run_local(main, n):
        assert rounds == {"adder64": 7, "lt64": 7}
        assert [int(v) for v in outs["adder64"]] == [(a + b) & M64 for a, b in zip(xs, ys, strict=True)]
        assert [int(v) for v in outs["lt64"]] == [int(a < b) for a, b in zip(xs, ys, strict=True)]


def test_builder_copies_outputs_that_are_inputs_or_repeated():
    b = bristol.CircuitBuilder()
    x = b.input(2)
    y = b.xor(x[:1], x[1:])
    c = b.build([x, np.concatenate([y, y]), b.zero_bits(1, x)])
    assert c.output_sizes == (2, 2, 1)
    (xo, yo, z) = evaluate_clear(c, [[0, 1, 2, 3]])
    assert list(xo) == [0, 1, 2, 3] and list(yo) == [0, 3, 3, 0] and list(z) == [0, 0, 0, 0]
    assert sum(g.op == "EQW" for g in c.gates) == 3  # two input wires and the repeated y
