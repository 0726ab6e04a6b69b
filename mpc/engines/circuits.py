"""Boolean circuits over bit bundles, vectorised over every element at once.

A *bundle* is an array whose first axis is the bit index, least significant bit first: for the
GMW engine, a ``(width, W)`` uint64 array of bit planes (plane i packs bit i of every element,
see :class:`mpc.tensor.secret_bits.SecretBits`), so one gate on a plane is 64 * W gates run
word-parallel. Every function takes ``ops``, the gate backend, which provides
``xor(a, b)``, ``invert(a)``, ``and_many([(a, b), ...])`` (all pairs in ONE round) and
``zero_bits(k, like)``. :class:`mpc.engines.gmw.GMWEngine` is one backend; the Bristol circuit
builder (:class:`mpc.engines.bristol.CircuitBuilder`) is another, where a bundle is an array of
wire ids, so the circuits shipped as Bristol files are exactly the ones evaluated here.

Each function batches all ANDs of one layer into one ``and_many`` call: its round count is its
AND depth. :func:`add`, :func:`lt` and :func:`csa_reduce` are also generators of their AND
layers (:func:`add_layers`, :func:`lt_layers`, :func:`csa_layers_of`: each yields a layer's
pairs and is sent their ANDs, :func:`drive` runs them on a backend), so a GMW engine can run their layers in lockstep with
independent protocols (:mod:`mpc.engines.steps`). Costs below are per element for width w (``*_cost`` functions give exact numbers):

- :func:`add` (mod 2^w): Sklansky parallel-prefix adder (Sklansky, "Conditional-sum addition
  logic", IRE Trans. Electronic Computers, 1960; Ladner-Fischer, JACM 1980). Depth
  1 + ceil(log2(w-1)) (7 for w = 64); about w-1 + (w/2) log2 w + (P terms still needed) ANDs,
  373 for w = 64 (Kogge-Stone would need 631 at the same depth). A public carry-in of 1 is
  free (folded into the generate bit of position 0), so :func:`sub` costs the same as add.
- :func:`lt` (unsigned, or signed by flipping both sign bits): comparison tree on
  (less-than, equal) pairs; depth 1 + ceil(log2 w) (7 for 64), 3w - 2 - ceil(log2 w) ANDs
  (184 for 64): cheaper than the borrow of a subtraction.
- :func:`eq`: XNOR then a log-depth AND tree: depth ceil(log2 w), w - 1 ANDs.
- :func:`mux`: b ^ (s & (a ^ b)): depth 1, w ANDs.
- :func:`csa_sum` of N addends: layers of 3:2 compressors (carry-save adders, Wallace, IEEE
  Trans. Electronic Computers 1964), each compressor one AND per bit for the majority
  ``maj(x, y, z) = ((x ^ z) & (y ^ z)) ^ z``, all compressors of a layer in one round; then one
  adder. Depth: (layers to reach 2 addends, about log_{3/2}(N/2)) + adder depth. The layers
  alone are :func:`csa_reduce`.

Security: whatever the backend provides (GMW: semi-honest). The circuits are data-oblivious:
the gate sequence depends on widths and counts only, never on values.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import Protocol

import numpy as np

from mpc.errors import ShareTypeError

__all__ = [
    "BitOps", "Layer", "LiveLanes", "live_gates",
    "add", "add_layers", "add_from", "add_from_layers", "sub", "neg", "lt", "lt_layers", "le", "eq", "mux",
    "csa_reduce", "csa_layers_of", "csa_sum",
    "drive",
    "adder_cost", "lt_cost", "eq_cost", "csa_layers",
]


class BitOps(Protocol):
    """What a circuit needs from its backend (see the module docstring)."""

    def xor(self, a, b): ...

    def invert(self, a): ...

    def and_many(self, pairs): ...

    def zero_bits(self, k: int, like): ...


class LiveLanes:
    """A boolean engine whose every AND layer says its live lanes (``and_many``'s ``lanes`` hint):
    for circuits on bit planes over n elements whose padding lanes reveal nothing of the live
    ones (:meth:`mpc.engines.authbits.AuthBits.and_many`), so a triple source that offers it
    makes gates for the n live lanes only. Everything else is the engine's own."""

    def __init__(self, engine, n: int) -> None:
        self.engine, self.n = engine, int(n)

    def __getattr__(self, name: str):
        return getattr(self.engine, name)

    def and_many(self, pairs, **kw):
        return self.engine.and_many(pairs, lanes=self.n, **kw)

    def and_(self, x, y):
        return self.and_many([(x, y)])[0]


def live_gates(engine, n: int):
    """``engine`` for AND layers on bit planes over n elements: :class:`LiveLanes` when the last
    word has padding lanes, else the engine itself (every lane is live)."""
    return engine if int(n) % 64 == 0 else LiveLanes(engine, n)


def _width(x, y=None, what: str = "operands") -> int:
    w = int(x.shape[0])
    if w < 1:
        raise ShareTypeError(f"{what}: expected at least one bit, got width {w}")
    if y is not None and tuple(y.shape) != tuple(x.shape):
        raise ShareTypeError(f"{what}: bundle shapes differ: {tuple(x.shape)} and {tuple(y.shape)}")
    return w


# ----------------------------------------------------------------------------- adder


@functools.cache
def _sklansky_plan(m: int) -> tuple[tuple[np.ndarray, np.ndarray, np.ndarray], ...]:
    """The levels of a Sklansky prefix network over positions 0..m-1.

    At level k (span s = 2^k) every position i with bit k set absorbs the group ending at
    j = (i with its low k+1 bits cleared) + s - 1, the top of the lower half of its 2s-block:
    (G, P)[i] = (G[i] ^ (P[i] & G[j]), P[i] & P[j]). After all levels G[i] is the carry out of
    positions 0..i. P[i] is only updated where a later level still reads it (backward liveness),
    which saves about a third of the ANDs. Returns (targets, sources, p_needed) per level.
    """
    levels = []
    s = 1
    while s < m:
        t = np.array([i for i in range(m) if i & s], dtype=np.int64)
        levels.append((t, (t & ~(2 * s - 1)) + s - 1))
        s *= 2
    needed: set[int] = set()  # positions whose P is read after the current level
    plan = []
    for t, src in reversed(levels):
        p_needed = np.array([int(i) in needed for i in t], dtype=bool)
        plan.append((t, src, p_needed))
        needed |= set(t.tolist()) | set(src[p_needed].tolist())
    for arrays in plan:
        for a in arrays:
            a.flags.writeable = False
    return tuple(reversed(plan))


def add(ops: BitOps, x, y, carry_in: bool = False):
    """x + y (+ 1 if ``carry_in``) mod 2^w, bundles of equal width; Sklansky prefix adder.

    1. p = x ^ y; g = x & y for positions 0..w-2 (one round); a public carry-in of 1 turns
       g_0 into g_0 ^ p_0 = x_0 | y_0 (free, since g and p are never both 1).
    2. Prefix levels of :func:`_sklansky_plan` (one round each) give the carries G.
    3. s_0 = p_0 (^ 1 with carry-in), s_i = p_i ^ G_{i-1}.
    """
    return drive(ops, add_layers(ops, x, y, carry_in))


def add_layers(ops: BitOps, x, y, carry_in: bool = False):
    """:func:`add` as a generator of its AND layers (see :func:`drive`), so that an A2B can run in
    lockstep with independent protocols (:meth:`mpc.engines.convert.Converter.a2b_steps`)."""
    w = _width(x, y, "add")
    p = ops.xor(x, y)
    if w == 1:
        return ops.invert(p) if carry_in else p
    (g,) = yield [(x[: w - 1], y[: w - 1])]
    return (yield from add_from_layers(ops, p, g, carry_in))


def add_from(ops: BitOps, p, g, carry_in: bool = False):
    """Steps 2-3 of :func:`add` from the propagate bits p (w) and generate bits g (the first w-1):
    the sum's bits. (With one operand public, p and g are linear in the other: no AND round.)"""
    return drive(ops, add_from_layers(ops, p, g, carry_in))


class Layer(list):
    """One AND layer's pairs, and ``light``: per pair, whether the outputs are only ever ANDed
    again (never XORed into a result, never read bit by bit). A backend with light words
    (:class:`~mpc.engines.authbits.AuthBits`: bits and folded MAC, no per-bit MACs) then skips
    the outputs' bit MACs and takes light triples; every other backend ignores it."""

    light: list[bool] | bool = False


def add_from_layers(ops: BitOps, p, g, carry_in: bool = False):
    """:func:`add_from` as a generator of its AND layers (see :func:`drive`). The prefix P terms
    only ever meet ANDs: on a backend with light words (``ops.lighten``) they are kept light and
    their layers' second pairs say so (:class:`Layer`); the carries G reach the sum, so stay full."""
    m = p.shape[0] - 1
    if carry_in:
        g = np.concatenate([ops.xor(g[:1], p[:1]), g[1:]])
    G = np.array(g, copy=True)
    lighten = getattr(ops, "lighten", None)
    P = lighten(p[:m]) if lighten is not None else np.array(p[:m], copy=True)
    for t, src, p_needed in _sklansky_plan(m):
        pairs = Layer([(P[t], G[src])])
        if p_needed.any():
            pairs.append((P[t[p_needed]], P[src[p_needed]]))
        if lighten is not None:  # the P pair's outputs stay light (other backends see no flags)
            pairs.light = [False, True][: len(pairs)]
        res = yield pairs
        G[t] = ops.xor(G[t], res[0])
        if p_needed.any():
            P[t[p_needed]] = res[1]
    s0 = ops.invert(p[:1]) if carry_in else p[:1]
    return np.concatenate([s0, ops.xor(p[1:], G)])


def sub(ops: BitOps, x, y):
    """x - y mod 2^w = x + ~y + 1: same depth and AND count as :func:`add`."""
    _width(x, y, "sub")
    return add(ops, x, ops.invert(y), carry_in=True)


def neg(ops: BitOps, x):
    """-x mod 2^w = 0 - x."""
    return sub(ops, ops.zero_bits(x.shape[0], x), x)


def adder_cost(width: int, carry_in: bool = False) -> dict[str, int]:
    """Exact rounds (= AND depth) and ANDs per element of :func:`add` at ``width`` bits."""
    if width <= 1:
        return {"rounds": 0, "ands": 0}
    m = width - 1
    plan = _sklansky_plan(m)
    ands = m + sum(len(t) + int(pn.sum()) for t, _, pn in plan)
    return {"rounds": 1 + len(plan), "ands": ands}


# ----------------------------------------------------------------------------- comparisons


def _flip_sign(ops: BitOps, x):
    return np.concatenate([x[:-1], ops.invert(x[-1:])])


def lt(ops: BitOps, x, y, signed: bool = False):
    """The 1-bit bundle [x < y], unsigned or two's-complement signed.

    1. Signed: flip both sign bits (x <_s y iff x ^ 2^(w-1) <_u y ^ 2^(w-1)); free.
    2. Leaves, one round: l_i = ~x_i & y_i (x_i < y_i), e_i = ~(x_i ^ y_i) (free).
    3. Tree, one round per level, pairing groups (low L, high H) from the least significant end:
       l = l_H ^ (e_H & l_L) (the two terms are exclusive), e = e_H & e_L. The group holding bit 0
       never needs its e (it is never a high half), which saves one AND per level.
    """
    return drive(ops, lt_layers(ops, x, y, signed))


def lt_layers(ops: BitOps, x, y, signed: bool = False):
    """:func:`lt` as a generator of its AND layers: it yields each layer's list of pairs and is
    sent their ANDs (see :func:`drive`); a GMW engine can run the layers in lockstep with other
    protocols (:meth:`mpc.engines.convert.Converter.msb_steps`)."""
    _width(x, y, "lt")
    if signed:
        x, y = _flip_sign(ops, x), _flip_sign(ops, y)
    e = ops.invert(ops.xor(x, y))
    (less,) = yield [(ops.invert(x), y)]
    while less.shape[0] > 1:
        k = less.shape[0]
        h = k // 2
        lo, hi = slice(0, 2 * h, 2), slice(1, 2 * h, 2)
        pairs = [(e[hi], less[lo])]
        if h > 1:
            pairs.append((e[hi][1:], e[lo][1:]))
        res = yield pairs
        new_l = ops.xor(less[hi], res[0])
        # row 0 of e is a placeholder: the lowest group's e is never read
        new_e = np.concatenate([e[1:2], res[1]]) if h > 1 else e[1:2]
        if k % 2:
            new_l = np.concatenate([new_l, less[k - 1 :]])
            new_e = np.concatenate([new_e, e[k - 1 :]])
        less, e = new_l, new_e
    return less


def drive(ops: BitOps, layers):
    """Run a generator of AND layers (:func:`lt_layers`, :func:`csa_layers_of`) on ``ops``, one
    ``and_many`` call per layer (a :class:`Layer`'s light flags passed where ``ops`` has light
    words); its return value."""
    try:
        pairs = next(layers)
        while True:
            light = getattr(pairs, "light", False)
            pairs = layers.send(ops.and_many(pairs, light=light) if light else ops.and_many(pairs))
    except StopIteration as stop:
        return stop.value


def le(ops: BitOps, x, y, signed: bool = False):
    """[x <= y] = NOT [y < x]."""
    return ops.invert(lt(ops, y, x, signed=signed))


def lt_cost(width: int) -> dict[str, int]:
    """Exact rounds and ANDs per element of :func:`lt` at ``width`` bits."""
    rounds, ands, k = 1, width, width
    while k > 1:
        h = k // 2
        ands += h + (h - 1)
        rounds += 1
        k = k - h
    return {"rounds": rounds, "ands": ands}


def eq(ops: BitOps, x, y):
    """The 1-bit bundle [x == y]: XNOR of every bit, then an AND tree (one round per level)."""
    _width(x, y, "eq")
    e = ops.invert(ops.xor(x, y))
    while e.shape[0] > 1:
        h = e.shape[0] // 2
        (r,) = ops.and_many([(e[0 : 2 * h : 2], e[1 : 2 * h : 2])])
        e = np.concatenate([r, e[2 * h :]])
    return e


def eq_cost(width: int) -> dict[str, int]:
    """Exact rounds and ANDs per element of :func:`eq` at ``width`` bits."""
    rounds, k = 0, width
    while k > 1:
        k -= k // 2
        rounds += 1
    return {"rounds": rounds, "ands": width - 1}


# ----------------------------------------------------------------------------- selection, sums


def mux(ops: BitOps, s, a, b):
    """Elementwise ``a if s else b`` for a 1-bit bundle s: b ^ (s & (a ^ b)). One round, w ANDs."""
    w = _width(a, b, "mux")
    if s.shape[0] != 1 or tuple(s.shape[1:]) != tuple(a.shape[1:]):
        raise ShareTypeError(f"mux: the selector must be one bit per element, got shape {tuple(s.shape)}")
    d = ops.xor(a, b)
    (r,) = ops.and_many([(np.repeat(s, w, axis=0), d)])
    return ops.xor(b, r)


def csa_layers(count: int) -> int:
    """Number of 3:2 compressor layers :func:`csa_sum` runs to reduce ``count`` addends to two."""
    layers = 0
    while count > 2:
        count = 2 * (count // 3) + count % 3
        layers += 1
    return layers


def csa_reduce(ops: BitOps, addends: Sequence) -> list:
    """Carry-save layers until at most two bundles of the same sum mod 2^w remain.

    Each layer groups the bundles in threes; each (x, y, z) becomes s = x ^ y ^ z and
    c = maj(x, y, z) << 1 (the top bit of the majority falls off, so w-1 ANDs). All compressors
    of a layer share one round (:func:`csa_layers` rounds in all). Bundles are not validated.
    """
    return drive(ops, csa_layers_of(ops, addends))


def csa_layers_of(ops: BitOps, addends: Sequence):
    """:func:`csa_reduce` as a generator of its AND layers (see :func:`drive`)."""
    xs = list(addends)
    while len(xs) > 2:
        w = int(xs[0].shape[0])
        t = len(xs) // 3
        groups = [xs[3 * i : 3 * i + 3] for i in range(t)]
        pairs = [(ops.xor(x[: w - 1], z[: w - 1]), ops.xor(y[: w - 1], z[: w - 1])) for x, y, z in groups]
        res = yield pairs
        nxt = []
        for (x, y, z), r in zip(groups, res, strict=True):
            nxt.append(ops.xor(ops.xor(x, y), z))
            # maj(x, y, z) = ((x ^ z) & (y ^ z)) ^ z, shifted up one bit (the top carry falls off)
            nxt.append(np.concatenate([ops.zero_bits(1, x), ops.xor(r, z[: w - 1])]))
        xs = nxt + xs[3 * t :]
    return xs


def csa_sum(ops: BitOps, addends: Sequence):
    """The sum mod 2^w of N >= 1 bundles of equal width: carry-save layers, then one adder.

    1. :func:`csa_reduce`: carry-save layers down to two addends, one round each.
    2. Add the last two with :func:`add`.
    """
    xs = list(addends)
    if not xs:
        raise ShareTypeError("csa_sum: expected at least one addend")
    w = _width(xs[0], what="csa_sum")
    for x in xs[1:]:
        _width(xs[0], x, "csa_sum")
    if w == 1:  # addition mod 2 is XOR
        acc = xs[0]
        for x in xs[1:]:
            acc = ops.xor(acc, x)
        return acc
    xs = csa_reduce(ops, xs)
    if len(xs) == 1:
        return xs[0]
    return add(ops, xs[0], xs[1])
