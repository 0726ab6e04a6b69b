"""Bristol Fashion boolean circuits: parse, build, write, and evaluate layer by layer.

The format: "Bristol Fashion", the successor of the Bristol circuit format of Tillich and Smart,
as described on the Bristol Fashion MPC circuits page (Archer, Arribas Abril, Goldfeder, Maene,
Mertens, Sijacic, Smart) and read by SCALE-MAMBA and MP-SPDZ:

    line 1   ngates nwires
    line 2   niv  n_1 ... n_niv        (input values and their bit counts)
    line 3   nov  m_1 ... m_nov        (output values and their bit counts)
    then ngates gate lines, in topological order:
             2 1 a b out XOR  |  2 1 a b out AND  |  1 1 a out INV  |  1 1 a out EQW (copy)
             1 1 c out EQ     (c is the constant 0 or 1, not a wire)
             2k k a_1..a_k b_1..b_k out_1..out_k MAND   (out_i = a_i AND b_i)

Wires 0..n_1-1 carry input value 1, the next n_2 input value 2, and so on; the last
m_1 + ... + m_nov wires are the outputs, value by value. Within a value, bits are least
significant first (wire 0 of ``adder64`` is bit 0 of the first summand): the value is the
integer sum of wire_i * 2^i, at any width. As bytes, values are big-endian
(:mod:`mpc.engines.bitplanes`): for ``aes128`` the key ``bytes.fromhex("000102...0f")`` is the
integer ``0x000102...0f``, its byte 0 on wires 120..127. Blank lines are ignored. Every wire is
written at most once and read only after it is written.

Evaluation (:func:`evaluate`) on any gate backend of :mod:`mpc.engines.circuits` (GMW shares,
spdz2k's authenticated bits, or :class:`PlainBits` for cleartext): every wire holds a bundle
row (for GMW, one row of a ``(bits, W)`` plane array, i.e. that bit of all elements at once),
in a storage slot it shares with wires whose lives do not overlap (:func:`_slots`: AES-128 on
740 slots for 36,648 wires). Gates are scheduled by AND depth: round r first runs the linear
gates (XOR/INV/EQ/EQW) whose inputs are at AND depth r, vectorised by sub-level, then ALL
AND/MAND gates whose inputs are at depth <= r in one ``and_many`` call. Cost under GMW: rounds = the circuit's AND depth; per element, 16 bytes per
peer per 64 AND gates, i.e. 2 bits per AND per peer. Security: that of the backend.

:class:`CircuitBuilder` is a backend that records gates instead of computing, so the circuit
functions of :mod:`mpc.engines.circuits` can be written out as Bristol files
(``mpc/engines/circuits_data/generate.py``).
"""

from __future__ import annotations

import functools
import pathlib
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from mpc._core import get_kernels
from mpc.engines import bitplanes
from mpc.errors import InputError, MPCError, ShareTypeError

__all__ = [
    "BristolFormatError", "Gate", "Circuit", "parse_bristol", "load_bristol", "load_shipped", "SHIPPED",
    "evaluate", "evaluate_clear", "PlainBits", "CircuitBuilder",
]

DATA_DIR = pathlib.Path(__file__).resolve().parent / "circuits_data"
# the circuits shipped in circuits_data (written by circuits_data/generate.py)
SHIPPED = ("adder64", "lt64", "aes128")
_LINEAR = ("XOR", "INV", "EQ", "EQW")
_ARITY = {"XOR": (2, 1), "AND": (2, 1), "INV": (1, 1), "EQW": (1, 1), "EQ": (1, 1)}


class BristolFormatError(MPCError, ValueError):
    """A malformed Bristol Fashion file; the message names the line and the problem."""


@dataclass(frozen=True)
class Gate:
    op: str
    ins: tuple[int, ...]  # for EQ: the constant (0 or 1)
    outs: tuple[int, ...]
    line: int = 0


@dataclass(frozen=True)
class Circuit:
    """A parsed (validated) Bristol Fashion circuit."""

    nwires: int
    input_sizes: tuple[int, ...]
    output_sizes: tuple[int, ...]
    gates: tuple[Gate, ...]
    _cache: dict = field(default_factory=dict, compare=False, repr=False)

    @property
    def ngates(self) -> int:
        return len(self.gates)

    @property
    def and_count(self) -> int:
        return sum(len(g.outs) for g in self.gates if g.op in ("AND", "MAND"))

    @property
    def and_depth(self) -> int:
        return len(self.schedule()) - 1

    def schedule(self) -> list[tuple[list[tuple[str, np.ndarray, np.ndarray, np.ndarray]], tuple[np.ndarray, ...]]]:
        """Per round r: (linear groups, (and_left, and_right, and_out)); see the module docstring.

        A linear group is (op, in_a, in_b, out) index arrays of gates that can run together.
        The last entry has no ANDs (the linear gates after the deepest AND).
        """
        if "schedule" not in self._cache:
            self._cache["schedule"] = _schedule(self)
        return self._cache["schedule"]

    def slots(self) -> tuple[list, int, np.ndarray]:
        """The schedule on storage slots instead of wires, the number of slots, and the output
        wires' slots (see :func:`_slots`); cached."""
        if "slots" not in self._cache:
            self._cache["slots"] = _slots(self)
        return self._cache["slots"]

    def to_bristol(self) -> str:
        """The circuit as Bristol Fashion text."""
        lines = [
            f"{self.ngates} {self.nwires}",
            " ".join(map(str, (len(self.input_sizes), *self.input_sizes))),
            " ".join(map(str, (len(self.output_sizes), *self.output_sizes))),
            "",
        ]
        for g in self.gates:
            lines.append(" ".join(map(str, (len(g.ins), len(g.outs), *g.ins, *g.outs, g.op))))
        return "\n".join(lines) + "\n"


# ----------------------------------------------------------------------------- parsing


def _ints(tokens: list[str], lineno: int, what: str) -> list[int]:
    try:
        values = [int(t) for t in tokens]
    except ValueError:
        raise BristolFormatError(f"line {lineno}: {what}: expected integers, got {' '.join(tokens)!r}") from None
    if any(v < 0 for v in values):
        raise BristolFormatError(f"line {lineno}: {what}: negative number")
    return values


def _sizes(tokens: list[str], lineno: int, what: str) -> tuple[int, ...]:
    values = _ints(tokens, lineno, what)
    if not values or len(values) != values[0] + 1:
        raise BristolFormatError(f"line {lineno}: {what}: expected a count followed by that many bit counts")
    return tuple(values[1:])


def parse_bristol(text: str) -> Circuit:
    """Parse and validate Bristol Fashion text; raise :class:`BristolFormatError` with the line."""
    lines = [(i + 1, ln.split()) for i, ln in enumerate(text.splitlines())]
    lines = [(i, t) for i, t in lines if t]
    if len(lines) < 3:
        raise BristolFormatError(f"line {lines[-1][0] if lines else 1}: expected the 3 header lines")
    (l1, t1), (l2, t2), (l3, t3) = lines[:3]
    head = _ints(t1, l1, "header")
    if len(head) != 2:
        raise BristolFormatError(f"line {l1}: header: expected 'ngates nwires'")
    ngates, nwires = head
    inputs = _sizes(t2, l2, "inputs")
    outputs = _sizes(t3, l3, "outputs")
    nin, nout = sum(inputs), sum(outputs)
    if nin + nout > nwires:
        raise BristolFormatError(f"line {l3}: {nin} input and {nout} output wires do not fit in {nwires} wires")
    body = lines[3:]
    if len(body) != ngates:
        where = body[ngates][0] if len(body) > ngates else (body[-1][0] if body else l3)
        raise BristolFormatError(f"line {where}: the header announces {ngates} gates, the file has {len(body)}")
    written = np.zeros(nwires, dtype=bool)
    written[:nin] = True
    gates = []
    for lineno, tok in body:
        gates.append(_parse_gate(lineno, tok, nwires, nin, written))
    missing = np.flatnonzero(~written[nwires - nout :])
    if missing.size:
        raise BristolFormatError(f"line {body[-1][0] if body else l3}: output wire {nwires - nout + missing[0]} is never written")
    return Circuit(nwires, inputs, outputs, tuple(gates))


def _parse_gate(lineno: int, tok: list[str], nwires: int, nin: int, written: np.ndarray) -> Gate:
    op = tok[-1]
    counts = _ints(tok[:2], lineno, "gate") if len(tok) >= 3 else []
    if len(counts) != 2:
        raise BristolFormatError(f"line {lineno}: gate: expected 'nin nout inputs... outputs... OP'")
    k_in, k_out = counts
    if op == "MAND":
        if k_out < 1 or k_in != 2 * k_out:
            raise BristolFormatError(f"line {lineno}: MAND: expected 2k inputs and k outputs, got {k_in} and {k_out}")
    elif op in _ARITY:
        if (k_in, k_out) != _ARITY[op]:
            raise BristolFormatError(f"line {lineno}: {op}: expected {_ARITY[op][0]} inputs and 1 output, got {k_in} and {k_out}")
    else:
        raise BristolFormatError(f"line {lineno}: unknown gate type {op!r}")
    if len(tok) != 3 + k_in + k_out:
        raise BristolFormatError(f"line {lineno}: {op}: expected {k_in} input and {k_out} output wires, got {len(tok) - 3} numbers")
    wires = _ints(tok[2:-1], lineno, op)
    ins, outs = tuple(wires[:k_in]), tuple(wires[k_in:])
    if op == "EQ":
        if ins[0] not in (0, 1):
            raise BristolFormatError(f"line {lineno}: EQ: the constant must be 0 or 1, got {ins[0]}")
    else:
        for w in ins:
            if w >= nwires:
                raise BristolFormatError(f"line {lineno}: {op}: wire {w} is out of range (nwires = {nwires})")
            if not written[w]:
                raise BristolFormatError(f"line {lineno}: {op}: wire {w} is read before it is written")
    for w in outs:
        if w >= nwires:
            raise BristolFormatError(f"line {lineno}: {op}: wire {w} is out of range (nwires = {nwires})")
        if written[w]:
            what = "an input wire" if w < nin else "already written"
            raise BristolFormatError(f"line {lineno}: {op}: output wire {w} is {what}")
        written[w] = True
    return Gate(op, ins, outs, lineno)


def load_bristol(path: str | pathlib.Path) -> Circuit:
    path = pathlib.Path(path)
    try:
        return parse_bristol(path.read_text())
    except BristolFormatError as exc:
        raise BristolFormatError(f"{path.name}: {exc}") from None


@functools.cache
def load_shipped(name: str) -> Circuit:
    """A circuit shipped with Tessera (one of :data:`SHIPPED`), from ``mpc/engines/circuits_data``."""
    if name not in SHIPPED:
        raise InputError(f"name: expected one of {', '.join(SHIPPED)}, got {name!r}")
    return load_bristol(DATA_DIR / f"{name}.txt")


# ----------------------------------------------------------------------------- scheduling


def _schedule(circuit: Circuit):
    depth = np.zeros(circuit.nwires, dtype=np.int64)  # AND depth of each wire
    sub = np.zeros(circuit.nwires, dtype=np.int64)  # linear sub-level within its round
    linear: dict[int, dict[tuple[int, str], list[tuple[int, int, int]]]] = {}
    ands: dict[int, list[tuple[int, int, int]]] = {}
    for g in circuit.gates:
        if g.op == "EQ":
            depth[g.outs[0]], sub[g.outs[0]] = 0, 1
            linear.setdefault(0, {}).setdefault((1, "EQ"), []).append((g.ins[0], g.ins[0], g.outs[0]))
            continue
        r = int(depth[list(g.ins)].max())
        if g.op in ("AND", "MAND"):
            k = len(g.outs)
            for a, b, o in zip(g.ins[:k], g.ins[k:], g.outs, strict=True):
                ands.setdefault(r, []).append((a, b, o))
                depth[o], sub[o] = r + 1, 0
            continue
        # a linear gate runs after the linear gates of its round that it reads
        s = 1 + max((int(sub[w]) for w in g.ins if depth[w] == r), default=0)
        b = g.ins[1] if g.op == "XOR" else g.ins[0]
        linear.setdefault(r, {}).setdefault((s, g.op), []).append((g.ins[0], b, g.outs[0]))
        depth[g.outs[0]], sub[g.outs[0]] = r, s
    rounds = max([*ands.keys(), *linear.keys(), -1]) + 1
    rounds = max(rounds, max(ands.keys(), default=-1) + 2)
    out = []
    for r in range(rounds):
        groups = []
        for (_, op), items in sorted(linear.get(r, {}).items()):
            arr = np.array(items, dtype=np.int64).reshape(-1, 3)
            groups.append((op, arr[:, 0], arr[:, 1], arr[:, 2]))
        arr = np.array(ands.get(r, []), dtype=np.int64).reshape(-1, 3)
        out.append((groups, (arr[:, 0], arr[:, 1], arr[:, 2])))
    return out


def _slots(circuit: Circuit) -> tuple[list, int, np.ndarray]:
    """Wires mapped onto reusable storage slots (register allocation by liveness), so that the
    evaluator holds the live wires only: a wire's slot is free once the last step that reads it
    has run, and the next step's outputs take freed slots first. A step is one linear group or
    one round's AND layer; it reads all its inputs before it writes (NumPy's fancy indexing
    copies), so its outputs may take the slots its own last reads free. The input wires keep
    slots 0 .. (inputs - 1); the output wires are never freed. EQ gates' first two columns are
    constants, not wires. AES-128: 36,648 wires on 740 slots (asserted in the tests), which
    matters most for spdz2k's 528-byte authenticated words; in the clear, on 157 words, AES-128
    took 8.1 ms against 12.8 with every wire kept (fewer cache misses)."""
    schedule = circuit.schedule()
    nin, nout = sum(circuit.input_sizes), sum(circuit.output_sizes)
    steps = []  # (reads, writes) per step, in evaluation order
    for groups, (left, right, dest) in schedule:
        for op, a, b, o in groups:
            steps.append(((), o) if op == "EQ" else ((a, b), o))
        if dest.size:
            steps.append(((left, right), dest))
    last = np.full(circuit.nwires, -1, dtype=np.int64)  # the last step reading each wire
    for i, (reads, _) in enumerate(steps):
        for r in reads:
            last[r] = i
    last[circuit.nwires - nout :] = len(steps)  # outputs live to the end
    slot = np.full(circuit.nwires, -1, dtype=np.int64)
    slot[:nin] = np.arange(nin)
    free = sorted((int(w) for w in np.flatnonzero(last[:nin] < 0)), reverse=True)  # unread inputs
    count = nin
    dying = [[] for _ in range(len(steps) + 1)]
    for w in range(nin):
        if last[w] >= 0:
            dying[last[w]].append(w)
    for i, (_, writes) in enumerate(steps):
        free.extend(int(slot[w]) for w in dying[i])  # read for the last time here: reusable now
        unread = []
        for w in writes.tolist():
            if free:
                slot[w] = free.pop()
            else:
                slot[w], count = count, count + 1
            if last[w] < 0:  # never read and not an output: its slot is free after this step
                unread.append(int(slot[w]))
            else:
                dying[last[w]].append(w)
        free.extend(unread)
    mapped = []
    for groups, (left, right, dest) in schedule:
        mapped.append(([(op, a, b, slot[o]) if op == "EQ" else (op, slot[a], slot[b], slot[o])
                        for op, a, b, o in groups], (slot[left], slot[right], slot[dest])))
    return mapped, count, slot[circuit.nwires - nout :]


# ----------------------------------------------------------------------------- evaluation


class PlainBits:
    """A cleartext gate backend on uint64 bit planes (the plaintext oracle for circuits)."""

    def xor(self, a, b):
        return np.bitwise_xor(a, b)

    def invert(self, a):
        return np.invert(a)

    def and_many(self, pairs):
        return [np.bitwise_and(a, b) for a, b in pairs]

    def zero_bits(self, k, like):
        return np.zeros((int(k), *like.shape[1:]), dtype=np.uint64)


def evaluate(circuit: Circuit, ops, inputs: Sequence[np.ndarray]) -> list[np.ndarray]:
    """Evaluate on bundles: ``inputs[i]`` has ``input_sizes[i]`` rows; returns one bundle per output.
    (:mod:`mpc.bristol` passes the engine wrapped by :func:`~mpc.engines.circuits.live_gates`, so
    every AND layer tells the source its live lanes.)

    ``ops`` is a gate backend (:class:`~mpc.engines.gmw.GMWEngine`, :class:`PlainBits`, or
    spdz2k's :class:`~mpc.engines.authbits.AuthBits`, whose bundles are authenticated words:
    ``ops.share_dtype``, zeros a sharing of 0). Rounds under GMW and AuthBits =
    ``circuit.and_depth``; every round's ANDs go out in one message per peer.
    """
    if len(inputs) != len(circuit.input_sizes) or not inputs:
        raise ShareTypeError(f"inputs: the circuit takes {len(circuit.input_sizes)} input values, got {len(inputs)}")
    dtype = np.dtype(getattr(ops, "share_dtype", np.uint64))
    tail = tuple(inputs[0].shape[1:])
    for i, (x, size) in enumerate(zip(inputs, circuit.input_sizes, strict=True)):
        if not isinstance(x, np.ndarray) or x.dtype != dtype or tuple(x.shape) != (size, *tail):
            got = (x.dtype, x.shape) if isinstance(x, np.ndarray) else type(x).__name__
            raise ShareTypeError(f"inputs[{i}]: expected a bundle of shape {(size, *tail)} of the backend's "
                                 f"words ({dtype}), got {got}")
    schedule, nslots, out_slots = circuit.slots()  # the live wires only (see _slots)
    wires = np.zeros((nslots, *tail), dtype=dtype)
    wires[: sum(circuit.input_sizes)] = np.concatenate(list(inputs))
    one = zero = None
    for groups, (left, right, dest) in schedule:
        for op, a, b, o in groups:
            if op == "XOR":
                wires[o] = ops.xor(wires[a], wires[b])
            elif op == "INV":
                wires[o] = ops.invert(wires[a])
            elif op == "EQW":
                wires[o] = wires[a]
            else:  # EQ: a holds the constants
                if one is None:
                    zero = ops.zero_bits(1, wires)[0]
                    one = ops.invert(zero[None])[0]
                wires[o] = np.where((a == 1).reshape(-1, *([1] * len(tail))), one, zero)
        if dest.size:
            (wires[dest],) = ops.and_many([(wires[left], wires[right])])
    bundles, start = [], 0
    for size in circuit.output_sizes:
        bundles.append(wires[out_slots[start : start + size]])  # fancy indexing: a copy
        start += size
    return bundles


def evaluate_clear(circuit: Circuit, values: Sequence[object], as_bytes: bool = False) -> list:
    """Cleartext evaluation, any width: ``values[i]`` is input value i for n elements (one int or
    bytes for n = 1, or a sequence / integer array; the forms of :mod:`mpc.engines.bitplanes`),
    every input with the same n. Returns one array per output value: uint64 for outputs of at
    most 64 bits, Python ints (object dtype) above; with ``as_bytes`` one list of n big-endian
    ``bytes`` per output.
    """
    if len(values) != len(circuit.input_sizes):
        raise ShareTypeError(f"values: the circuit takes {len(circuit.input_sizes)} input values, got {len(values)}")
    k = get_kernels()
    planes, counts = [], []
    for i, (v, size) in enumerate(zip(values, circuit.input_sizes, strict=True)):
        p, count = bitplanes.encode(k, f"values[{i}]", v, size)
        planes.append(p)
        counts.append(count)
    if len(set(counts)) > 1:
        raise ShareTypeError(f"values: every input must have the same number of elements, got {counts}")
    n = counts[0] if counts else 0
    decode = bitplanes.decode_bytes if as_bytes else bitplanes.decode
    return [decode(k, p, n) for p in evaluate(circuit, PlainBits(), planes)]


# ----------------------------------------------------------------------------- building


class CircuitBuilder:
    """A gate backend that records a circuit: bundles are int64 arrays of wire ids.

    Use: ``a = b.input(64); c = b.input(64); out = circuits.add(b, a, c); circuit = b.build([out])``.
    Inputs must be declared before any gate.
    """

    def __init__(self) -> None:
        self._gates: list[tuple[str, tuple[int, ...], int]] = []
        self._nwires = 0
        self._inputs: list[int] = []
        self._zero: int | None = None

    def _new(self, op: str, ins: tuple[int, ...]) -> int:
        w = self._nwires
        self._nwires += 1
        self._gates.append((op, ins, w))
        return w

    def input(self, bits: int) -> np.ndarray:
        if self._gates:
            raise InputError("input: declare every input before the first gate")
        start = self._nwires
        self._nwires += bits
        self._inputs.append(bits)
        return np.arange(start, start + bits, dtype=np.int64)

    def xor(self, a, b):
        return np.array([self._new("XOR", (int(x), int(y))) for x, y in zip(a, b, strict=True)], dtype=np.int64)

    def invert(self, a):
        return np.array([self._new("INV", (int(x),)) for x in a], dtype=np.int64)

    def and_many(self, pairs):
        return [
            np.array([self._new("AND", (int(x), int(y))) for x, y in zip(a, b, strict=True)], dtype=np.int64)
            for a, b in pairs
        ]

    def zero_bits(self, k, like):
        if self._zero is None:
            self._zero = self._new("EQ", (0,))
        return np.full(int(k), self._zero, dtype=np.int64)

    def build(self, outputs: Sequence[np.ndarray]) -> Circuit:
        """Renumber so inputs come first and the outputs last (copying with EQW where needed),
        drop gates no output depends on, and return the validated circuit."""
        gates = list(self._gates)
        nwires = self._nwires
        nin = sum(self._inputs)
        outs: list[int] = []
        seen: set[int] = set()
        for w in (int(x) for bundle in outputs for x in bundle):
            if w < nin or w in seen:  # an output wire must be a fresh gate output
                gates.append(("EQW", (w,), nwires))
                w, nwires = nwires, nwires + 1
            seen.add(w)
            outs.append(w)
        live = set(outs)
        for op, ins, o in reversed(gates):
            if o in live and op != "EQ":
                live.update(ins)
        kept = [g for g in gates if g[2] in live]
        mapping = {w: w for w in range(nin)}
        inner = [o for _, _, o in kept if o not in seen]
        for i, w in enumerate(inner):
            mapping[w] = nin + i
        total = nin + len(inner) + len(outs)
        for i, w in enumerate(outs):
            mapping[w] = total - len(outs) + i
        text_gates = []
        for op, ins, o in kept:
            mapped_ins = ins if op == "EQ" else tuple(mapping[i] for i in ins)
            text_gates.append(Gate(op, mapped_ins, (mapping[o],)))
        sizes = tuple(len(b) for b in outputs)
        circuit = Circuit(total, tuple(self._inputs), sizes, tuple(text_gates))
        return parse_bristol(circuit.to_bristol())  # validates and numbers the lines
