"""Bristol Fashion: parser errors, a hand-written circuit, the shipped adder64/lt64 (cleartext and GMW),
and the public API ``mpc.bristol`` (load, evaluate on SecretBits of any width, evaluate_clear, bit
and byte order). AES-128 has its own file, tests/test_aes.py."""

import functools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import mpc
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
    with pytest.raises(ShareTypeError, match=r"inputs\[2\]: expected a bundle of shape \(1, 2\) of the backend's "
                                             r"words \(uint64\), got \(dtype\('uint64'\), \(2, 2\)\)"):
        evaluate(c, ops, [one, one, np.zeros((2, 2), dtype=np.uint64)])
    with pytest.raises(ShareTypeError, match=r"inputs\[0\]: expected a bundle .* got \(dtype\('int64'\)"):
        evaluate(c, ops, [one.astype(np.int64), one, one])


@st.composite
def random_circuits(draw):
    """A random valid Bristol text (every gate writes the next wire from any earlier ones: dead
    wires, fan-out, constants, copies, AND depth up to ~the gate count) and its input values."""
    nin = draw(st.integers(1, 6))
    ngates = draw(st.integers(1, 60))
    nout = draw(st.integers(1, min(ngates, 8)))
    lines, wire = [], nin
    for _ in range(ngates):
        op = draw(st.sampled_from(["XOR", "AND", "INV", "EQW", "EQ"]))
        a, b = draw(st.integers(0, wire - 1)), draw(st.integers(0, wire - 1))
        if op in ("XOR", "AND"):
            lines.append(f"2 1 {a} {b} {wire} {op}")
        elif op == "EQ":
            lines.append(f"1 1 {a % 2} {wire} EQ")
        else:
            lines.append(f"1 1 {a} {wire} {op}")
        wire += 1
    text = f"{ngates} {wire}\n1 {nin}\n1 {nout}\n\n" + "\n".join(lines) + "\n"
    values = draw(st.lists(st.integers(0, 2**64 - 1), min_size=nin, max_size=nin))
    return text, values


def naive_bristol(text, values):
    """Gate by gate over every wire, no schedule and no slots: the reference for evaluate()."""
    tok = [ln.split() for ln in text.splitlines() if ln.strip()]
    nwires, nout = int(tok[0][1]), int(tok[2][1])
    wires = list(values) + [None] * (nwires - len(values))
    m = 2**64 - 1
    for g in tok[3:]:
        op = g[-1]
        if op == "XOR":
            wires[int(g[4])] = wires[int(g[2])] ^ wires[int(g[3])]
        elif op == "AND":
            wires[int(g[4])] = wires[int(g[2])] & wires[int(g[3])]
        elif op == "INV":
            wires[int(g[3])] = wires[int(g[2])] ^ m
        elif op == "EQW":
            wires[int(g[3])] = wires[int(g[2])]
        else:  # EQ: a constant bit, in every element
            wires[int(g[3])] = m * int(g[2])
    return wires[nwires - nout :]


@settings(max_examples=60, deadline=None)
@given(case=random_circuits())
def test_slots_give_the_values_of_a_naive_evaluation(case):
    """Wires on reused storage slots (liveness, Circuit.slots) compute what a wire-by-wire
    evaluation does, and never take more slots than wires."""
    text, values = case
    c = parse_bristol(text)
    # one input value of nin bits over 64 elements: each wire one word (bit plane) of the values
    (out,) = evaluate(c, bristol.PlainBits(), [np.array(values, dtype=np.uint64).reshape(-1, 1)])
    assert [int(v) for v in out[:, 0]] == naive_bristol(text, values)
    assert c.slots()[1] <= c.nwires


def test_shipped_circuits_hold_few_live_wires():
    """AES-128's 36,648 wires need 740 slots: 50x less memory per word of 64 blocks."""
    assert [load_shipped(name).slots()[1] for name in ("aes128", "adder64", "lt64")] == [740, 227, 191]


@pytest.mark.parametrize("kind", ["gmw", "spdz2k"])
def test_a_broadcast_element_leaves_the_padding_lanes_zero(kind):
    """spread_lane0 puts element 0 in lanes 0 .. n-1 only: the padding lanes of its planes are a
    sharing of 0 (public), never a copy of the secret element, so the evaluator's AND layers may
    say lanes=n (opened raw here, padding included: 70 elements, so the second word has 58 padding
    lanes)."""
    def main(party):
        eng = party.gmw
        k = party.input_bits([0b1011] if party.pid == 0 else None, owner=0, n=1, width=4)
        planes = eng.spread_lane0(k.planes, 70)
        return [int(w) for w in eng.reveal_many([planes])[0].reshape(-1)]

    for words in run_local(main, 2, engine=kind):
        ones, low6 = 2**64 - 1, 2**6 - 1  # plane t holds bit t of 0b1011 in the 70 live lanes
        assert words == [ones, low6, ones, low6, 0, 0, ones, low6]


def test_dealer_free_circuits_on_few_elements_make_gates_for_the_live_lanes_only():
    """Under spdz2k with preprocessing="ot" (the only source that offers live lanes), a circuit
    on 3 elements asks its AND triples as (words, 1, 3): 3 gates a word instead of 64 (adder64:
    1.28 GB -> 61 MB offline per party, 6.1 -> 0.5 s; AES-128 on one block about 4 s)."""
    xs = [0, 5, 2**64 - 1]

    def main(party):
        adder = mpc.bristol.load("adder64")
        x = party.input_bits(xs if party.pid == 0 else None, owner=0, n=3)
        f = lambda x: mpc.bristol.evaluate(adder, x, 7)  # noqa: E731
        plan = party.dry_run(f, x)
        party.preprocess(plan)
        (s,) = f(x)
        return [r.params[1:] for r in plan], party.reveal(s).tolist()

    for params, s in run_local(main, 2, engine="spdz2k", preprocessing="ot", timeout=120):
        assert params and all(p == (1, 3) for p in params)
        assert s == [7, 12, 6]


# ----------------------------------------------------------------------------- shipped circuits


def test_shipped_files_are_up_to_date_and_match_the_builder():
    assert generate.main(["--check"]) == 0
    adder, lt = load_shipped("adder64"), load_shipped("lt64")
    assert (adder.input_sizes, adder.output_sizes) == ((64, 64), (64,))
    assert (lt.input_sizes, lt.output_sizes) == ((64, 64), (1,))
    assert adder.and_depth == circuits.adder_cost(64)["rounds"] and adder.and_count == circuits.adder_cost(64)["ands"]
    assert lt.and_depth == circuits.lt_cost(64)["rounds"] and lt.and_count == circuits.lt_cost(64)["ands"]
    with pytest.raises(ValueError, match="name"):
        load_shipped("aes256")


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


# ----------------------------------------------------------------------------- public API: mpc.bristol


@functools.cache
def wide_circuit(w):
    """Built here: inputs x, y of w bits; outputs x + y mod 2^w, [x < y], x ^ y, and bits 8..w-1 of x."""
    b = bristol.CircuitBuilder()
    x, y = b.input(w), b.input(w)
    return b.build([circuits.add(b, x, y), circuits.lt(b, x, y), b.xor(x, y), x[8:]])


def wide_oracle(w, xs, ys):
    m = (1 << w) - 1
    return [[(a + b) & m for a, b in zip(xs, ys, strict=True)], [int(a < b) for a, b in zip(xs, ys, strict=True)],
            [a ^ b for a, b in zip(xs, ys, strict=True)], [a >> 8 for a in xs]]


def test_load_by_name_and_path_and_its_errors(tmp_path):
    assert mpc.bristol.load("adder64") is load_shipped("adder64")
    assert mpc.bristol.SHIPPED == ("adder64", "lt64", "aes128")
    path = tmp_path / "full_adder.txt"
    path.write_text(FULL_ADDER)
    for source in (path, str(path)):
        c = mpc.bristol.load(source)
        assert (c.input_sizes, c.output_sizes, c.and_count) == ((1, 1, 1), (1, 1, 2), 2)
    assert mpc.bristol.parse(FULL_ADDER).gates == c.gates
    with pytest.raises(FileNotFoundError, match="shipped circuits: adder64, lt64, aes128"):
        mpc.bristol.load("aes-128")
    (tmp_path / "bad.txt").write_text(FULL_ADDER.replace("MAND", "NAND"))
    with pytest.raises(mpc.bristol.BristolFormatError, match="bad.txt: line 6: unknown gate type 'NAND'"):
        mpc.bristol.load(tmp_path / "bad.txt")
    with pytest.raises(TypeError, match="source"):
        mpc.bristol.load(42)


@given(st.sampled_from([65, 128, 130, 256, 512]), st.lists(st.integers(0, 2**512 - 1), min_size=2, max_size=40))
def test_evaluate_clear_at_any_width(w, raw):
    m = (1 << w) - 1
    xs = [v & m for v in raw[: len(raw) // 2]] + [0, m, 1 << (w - 1)]
    ys = [(v >> 3) & m for v in raw[len(raw) // 2 : 2 * (len(raw) // 2)]] + [m, m, (1 << (w - 1)) - 1]
    c = wide_circuit(w)
    got = mpc.bristol.evaluate_clear(c, xs, ys)
    assert [[int(v) for v in g] for g in got] == wide_oracle(w, xs, ys)
    assert got[0].dtype == object and got[1].dtype == np.uint64
    as_bytes = mpc.bristol.evaluate_clear(c, [x.to_bytes(-(-w // 8), "big") for x in xs], ys, as_bytes=True)
    assert as_bytes[0] == [v.to_bytes(-(-w // 8), "big") for v in wide_oracle(w, xs, ys)[0]]


def test_wire_bit_and_byte_order():
    """Wire i of a value is bit i of the integer; bytes are big-endian: byte 0 sits on the top wires."""
    b = bristol.CircuitBuilder()
    x = b.input(128)
    c = b.build([x[120:128], x[0:8], x[0:1], x[127:128]])  # key byte 0, byte 15, bit 0, bit 127
    key = bytes.fromhex("80000000000000000000000000000003")
    for value in (key, int.from_bytes(key, "big"), 0x80000000000000000000000000000003):
        byte0, byte15, bit0, bit127 = mpc.bristol.evaluate_clear(c, value)
        assert (int(byte0[0]), int(byte15[0]), int(bit0[0]), int(bit127[0])) == (0x80, 0x03, 1, 1)
    assert mpc.bristol.evaluate_clear(c, key, as_bytes=True) == [[b"\x80"], [b"\x03"], [b"\x01"], [b"\x01"]]


@pytest.mark.parametrize("n", [2, 3])
@pytest.mark.parametrize("engine", ["gmw", "spdz2k"])
@settings(max_examples=6)
@given(w=st.sampled_from([65, 128, 256]), seed=st.integers(0, 2**32))
def test_evaluate_on_wide_secret_bits(n, engine, w, seed):
    rng = np.random.default_rng(seed)
    m = (1 << w) - 1
    rand = [int.from_bytes(rng.bytes(w // 8 + 1), "big") & m for _ in range(40)]
    xs = rand[:20] + [0, m, m, 1 << (w - 1)]
    ys = rand[20:] + [m, 0, m, (1 << (w - 1)) - 1]
    c = wide_circuit(w)

    def main(party):
        x = party.input_bits(xs if party.pid == 0 else None, owner=0, n=len(xs), width=w)
        y = party.input_bits(ys if party.pid == n - 1 else None, owner=n - 1, n=len(ys), width=w)
        with party.section("circuit"):
            outs = mpc.bristol.evaluate(c, x, y)
        rounds = party.stats()["sections"]["circuit"]["rounds"]
        return [o.width for o in outs], party.reveal(*outs), rounds

    for widths, got, rounds in run_local(main, n, engine=engine):
        assert widths == [w, 1, w, w - 8] and rounds == c.and_depth
        assert [[int(v) for v in g] for g in got] == wide_oracle(w, xs, ys)


@pytest.mark.parametrize("n", [2, 3])
@pytest.mark.parametrize("engine", ["gmw", "spdz2k"])
def test_evaluate_with_a_public_input_and_the_argument_errors(n, engine):
    adder = mpc.bristol.load("adder64")
    xs = [0, 5, 2**64 - 1]

    def main(party):
        x = party.input_bits(xs if party.pid == 0 else None, owner=0, n=3)
        (s,) = mpc.bristol.evaluate(adder, x, 7)  # a public operand: the same on every party
        (t,) = mpc.bristol.evaluate(adder, [1, 2, 3], x)
        narrow = party.input_bits([1, 2, 3] if party.pid == 0 else None, owner=0, n=3, width=8)
        short = party.input_bits([1] if party.pid == 0 else None, owner=0, n=1)
        with pytest.raises(ShareTypeError, match="takes 2 input values of sizes \\(64, 64\\), got 1"):
            mpc.bristol.evaluate(adder, x)
        with pytest.raises(ShareTypeError, match=r"inputs\[1\]: the circuit's input 1 has 64 bits, got width 8"):
            mpc.bristol.evaluate(adder, x, narrow)
        (u,) = mpc.bristol.evaluate(adder, x, short)  # one element broadcasts to all 3
        with pytest.raises(ShareTypeError, match=r"inputs\[1\]: element counts differ: 3 and 2"):
            mpc.bristol.evaluate(adder, x, party.input_bits([1, 2] if party.pid == 0 else None, owner=0, n=2))
        with pytest.raises(ShareTypeError, match="at least one input must be a SecretBits"):
            mpc.bristol.evaluate(adder, 1, 2)
        with pytest.raises(ShareTypeError, match="circuit: expected a Circuit"):
            mpc.bristol.evaluate("adder64", x, x)
        return party.reveal(s, t, u)

    for s, t, u in run_local(main, n, engine=engine):
        assert s.tolist() == [7, 12, 6] and t.tolist() == [1, 7, 2] and u.tolist() == [1, 6, 0]
    with pytest.raises(ShareTypeError, match="same number of elements"):
        mpc.bristol.evaluate_clear(load_shipped("adder64"), [1, 2], [3])
    with pytest.raises(ShareTypeError, match="takes 2 input values, got 3"):
        mpc.bristol.evaluate_clear(load_shipped("adder64"), 1, 2, 3)
