"""Conversions between arithmetic shares (semi2k, Z_2^64) and boolean shares (GMW, XOR).

This is the only module that sees both engines. :class:`Converter` wraps one party's
:class:`~mpc.engines.semi2k.Semi2k` and :class:`~mpc.engines.gmw.GMWEngine` and works on raw
shares: arithmetic shares are ``uint64`` arrays; boolean shares are either bit planes
(``(width, W)`` words, the :class:`~mpc.tensor.secret_bits.SecretBits` layout, W = ceil(N/64))
or, for single bits, *unpacked* ``uint64`` arrays of 0/1 (this party's XOR share of one bit per
element, the shape of the arithmetic operand). No preprocessing beyond Beaver triples (for the
arithmetic side) and AND triples (for the boolean side) is needed; daBits and bit-injection
triples (:mod:`mpc.preprocessing.dabits`), when given, make B2A and bit times value one round
for any number of parties.

Protocols (n parties; costs per element and per party; "AND" = one GMW AND gate = 2 bits sent
to each peer; a Beaver product = 2 ring elements = 16 bytes to each peer):

1. **Shares as boolean addends** (:meth:`Converter.addends`). x = x_0 + ... + x_{n-1} mod 2^64,
   party j knows x_j, so each party inputs the bits of its own share into GMW: 0 rounds,
   0 bytes. For a plain A2B, whose output planes the caller may open, by pseudo-random secret
   sharing from the pairwise PRGs; for MSB, zero tests and internal decompositions, whose
   outputs only feed AND gates and B2A (both mask every opening with fresh triple randomness),
   trivially: party j holds its bits, the others zeros (no PRG work).
2. **Carry-save reduction** (:meth:`Converter.reduce_to_two`). While more than two addends
   remain, 3:2 compressors (s = a^b^c, carry = maj(a,b,c) << 1; Wallace 1964) in one round
   per layer, 63 ANDs per compressor. 0 layers for n = 2, 1 for n = 3.
3. **A2B** (:meth:`Converter.a2b`): steps 1-2 and a Sklansky adder (:func:`circuits.add`).
   2 parties: 7 rounds, 373 ANDs (~93 bytes).
4. **MSB** (:meth:`Converter.msb`), the sign of a two's-complement value: with two addends
   a + b, msb = a_63 ^ b_63 ^ c_63, where the carry into bit 63 is [a_low + b_low >= 2^63]
   = [~a_low < b_low] (63-bit values), computed by the comparison tree :func:`circuits.lt`,
   a carry-out-only circuit with half the ANDs of an adder. 2 parties: 7 rounds, 181 ANDs
   (~45 bytes); 3 parties: 8 rounds. :meth:`Converter.msb_steps` is the same as a step
   generator (:mod:`mpc.engines.steps`): independent arithmetic protocols (a truncation, a
   polynomial) can ride in its rounds.
5. **Zero test** (:meth:`Converter.eqz`). 2 parties: x = 0 iff x_0 = -x_1, so party 1 inputs
   -x_1 and the XNOR/AND tree :func:`circuits.eq` decides: 6 rounds, 63 ANDs. n parties:
   reduce x_0..x_{n-2} to (a, b) (step 2) and c = -x_{n-1}; a + b = c iff
   a ^ b ^ ~c = ~(maj(a, b, ~c) << 1) (the carry-save form of a + b + ~c = -1): 1 more round.
6. **B2A of bits** (:meth:`Converter.b2a`). b = u_0 ^ ... ^ u_{n-1}, party j knows u_j.
   With daBits (a :class:`~mpc.preprocessing.dabits.DaBitSource` given to the Converter): open
   c = b ^ r_B, then [b] = c + [r_A] - 2c[r_A]: 1 round for any n, 1 bit per element to each
   peer online, one daBit (8 bytes from the dealer to party n-1) offline. Without: u_j as a
   trivially shared ring element (0 rounds); x ^ y = x + y - 2xy pairwise in a tree:
   ceil(log2 n) rounds of Beaver products (2 parties: 1 round, 16 bytes).
7. **Bit times value** (:meth:`Converter.bit_mul`, the multiplexer/bit injection).
   With bit-injection triples (the Converter's material source offers them; the dealer does):
   a daBit r plus [a] and [r*a] (:mod:`mpc.preprocessing.dabits`). Open c = b ^ r_B and
   d = x - a in one message; then, as b = c + r - 2cr and x = d + a,
   b*x = c*d + c*[a] + (1 - 2c)(d*[r] + [r*a]) locally. Any n: 1 round, 1 ring element plus
   1 bit per element to each peer (8.125 bytes); offline 16 bytes from the dealer to party n-1.
   Extra bits to convert (``b2a=``) ride in the same message with their daBits.
   Without them (Beaver triples only), 2 parties: b = u_0 ^ u_1 and x = x_0 + x_1,
   b*x = u_0 x_0 + u_1 x_1 + u_0 * (x_1 (1 - 2u_1)) + u_1 * (x_0 (1 - 2u_0));
   the last two terms are products of a value party 0 knows with one party 1 knows: both in one
   Beaver round (32 bytes); n > 2: B2A (step 6) then one product (2 rounds).

Costs of the 10^5-element workloads (2 parties, dealer material): ``x < y`` = MSB + B2A =
8 rounds, ~46.6 bytes per element per party; ReLU = MSB + bit times value = 8 rounds,
~54.6 bytes (3 parties: 9 rounds each).

Ranges: :meth:`msb` reads x as a 64-bit two's-complement value; a comparison x < y computed as
msb(x - y) is exact when |x - y| < 2^63. :meth:`eqz` is exact for every x.

Security: semi-honest, dishonest majority (any n-1 parties), as the two engines: every opened
value is one-time padded by a Beaver or AND triple or by a daBit; a trivially shared input is
never opened except under such a pad, and every output share handed back is a fresh sharing
(an AND/Beaver output or a daBit-masked value). References: Rotaru, Wood, "MArBled circuits",
INDOCRYPT 2019 (daBits); Demmler, Schneider, Zohner, "ABY", NDSS 2015 (A2B by inputting
shares into a boolean adder, B2A of bits); Goldreich-Micali-Wigderson, STOC 1987; Beaver,
CRYPTO 1991.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from mpc.engines import circuits, steps
from mpc.engines.base import ArithmeticEngine
from mpc.engines.gmw import GMWEngine
from mpc.errors import ShareTypeError
from mpc.preprocessing.dabits import DaBitSource
from mpc.sharing.flat import concat_flat, split_flat
from mpc.sharing.packing import nwords

__all__ = ["Converter", "nwords"]

_ONE = np.uint64(1)


def _flat(xs: Sequence[np.ndarray], what: str) -> tuple[np.ndarray, list[tuple[int, ...]]]:
    for x in xs:
        if not isinstance(x, np.ndarray) or x.dtype != np.uint64:
            raise ShareTypeError(f"{what}: expected uint64 share arrays")
    return (concat_flat(xs) if xs else np.zeros(0, dtype=np.uint64)), [x.shape for x in xs]


class Converter:
    """A2B, B2A, MSB and zero tests for one party, over its arithmetic and boolean engines.

    ``arith`` and ``boolean`` must run over the same channel (same party, same session). All
    parties call the methods in the same order with the same shapes. See the module docstring.
    """

    def __init__(self, arith: ArithmeticEngine, boolean: GMWEngine, dabits: DaBitSource | None = None) -> None:
        if not isinstance(boolean, GMWEngine):
            raise ShareTypeError(f"boolean: expected a GMWEngine, got {type(boolean).__name__}")
        if dabits is not None and not isinstance(dabits, DaBitSource):
            raise ShareTypeError(f"dabits: expected a DaBitSource or None, got {type(dabits).__name__}")
        if getattr(arith, "channel", None) is not boolean.channel:
            raise ShareTypeError("arith and boolean engines must share one channel")
        self.arith = arith
        self.boolean = boolean
        self.dabits = dabits
        self.pid = boolean.pid
        self.n = boolean.n
        self.k = boolean.k

    def __repr__(self) -> str:
        return f"Converter(pid={self.pid}, n={self.n})"

    # ------------------------------------------------------------------ boolean addends

    def addends(self, flat: np.ndarray, negate_last: bool = False, trivial: bool = False) -> list[np.ndarray]:
        """Bit planes (64, W) of every party's share of ``flat`` (1-d), as GMW sharings. 0 rounds.

        With ``negate_last`` the last party inputs the negation of its share (for zero tests).
        ``trivial``: party j's planes are its own XOR share and everyone else holds zeros (no PRG
        draw at all). Only for circuits whose every output bit passes through an AND gate (MSB,
        zero test): AND outputs are freshly masked by the triples, so no output share carries an
        input share in the clear (a plain a2b would: bit 0 of a sum is a XOR of the inputs).
        """
        n_el = flat.shape[0]
        shape = (64, nwords(n_el))
        own = flat
        if negate_last and self.pid == self.n - 1:
            own = self.k.neg(flat) if n_el else flat
        planes = np.ascontiguousarray(self.k.bitslice(own)) if n_el else np.zeros(shape, dtype=np.uint64)
        if trivial:
            return [planes if j == self.pid else np.zeros(shape, dtype=np.uint64) for j in range(self.n)]
        return [self.boolean.input(planes if j == self.pid else None, j, shape) for j in range(self.n)]

    def reduce_to_two(self, addends: list[np.ndarray]) -> list[np.ndarray]:
        """Carry-save layers (one round each) until at most two addends remain (same sum mod 2^w)."""
        return circuits.csa_reduce(self.boolean, addends)

    def _two(self, flat: np.ndarray, trivial: bool = False) -> tuple[np.ndarray, np.ndarray | None]:
        xs = self.reduce_to_two(self.addends(flat, trivial=trivial))
        return xs[0], (xs[1] if len(xs) > 1 else None)

    # ------------------------------------------------------------------ A2B

    def a2b(self, xs: Sequence[np.ndarray], masked_use: bool = False) -> tuple[np.ndarray, list[tuple[int, ...]]]:
        """Bit decomposition of all ``xs`` at once: bit planes (64, W) of the concatenation
        (element order: xs[0] flattened, then xs[1], ...) and the shapes. Steps 1-3.

        ``masked_use=True`` (internal callers) promises that the planes are only ever consumed by
        AND gates and B2A, never opened as they are: the inputs are then shared trivially (no PRG
        draw; see :meth:`addends`)."""
        flat, shapes = _flat(xs, "a2b")
        a, b = self._two(flat, trivial=masked_use)
        return (a if b is None else circuits.add(self.boolean, a, b)), shapes

    def a2b_steps(self, xs: Sequence[np.ndarray],
                  masked_use: bool = False) -> steps.Steps[tuple[np.ndarray, list[tuple[int, ...]]]]:
        """:meth:`a2b` as a step generator (:mod:`mpc.engines.steps`): each AND layer of the
        carry-save layers and of the adder yields one exchange (same gates, same material)."""
        flat, shapes = _flat(xs, "a2b")
        eng = self.boolean
        two = yield from self._gates(circuits.csa_layers_of(eng, self.addends(flat, trivial=masked_use)))
        if len(two) == 1:
            return two[0], shapes
        return (yield from self._gates(circuits.add_layers(eng, two[0], two[1]))), shapes

    # ------------------------------------------------------------------ MSB and zero test

    def msb_planes(self, xs: Sequence[np.ndarray]) -> tuple[np.ndarray, list[tuple[int, ...]]]:
        """One bit plane (1, W): the sign bit of every element of the concatenation. Step 4."""
        return steps.run(self._exchange(), self._msb_plane_steps(xs))

    def msb_planes_steps(self, xs: Sequence[np.ndarray]) -> steps.Steps[tuple[np.ndarray, list[tuple[int, ...]]]]:
        """:meth:`msb_planes` as a step generator (:mod:`mpc.engines.steps`)."""
        return (yield from self._msb_plane_steps(xs))

    def _exchange(self) -> steps.Exchange:
        """The engine's round exchange (:meth:`Semi2k.round_exchange`; the channel's otherwise)."""
        return getattr(self.arith, "round_exchange", None) or self.arith.channel.exchange

    def _msb_plane_steps(self, xs: Sequence[np.ndarray]) -> steps.Steps[tuple[np.ndarray, list[tuple[int, ...]]]]:
        flat, shapes = _flat(xs, "msb")
        eng = self.boolean
        two = yield from self._gates(circuits.csa_layers_of(eng, self.addends(flat, trivial=True)))
        a, b = two[0], (two[1] if len(two) > 1 else None)
        if b is None:
            return a[63:64], shapes
        carry = yield from self._gates(circuits.lt_layers(eng, eng.invert(a[:63]), b[:63]))
        return eng.xor(eng.xor(a[63:64], b[63:64]), carry), shapes

    def _gates(self, layers) -> steps.Steps:
        """A generator of AND layers (:func:`circuits.lt_layers`) as a step generator: each layer
        is one :meth:`GMWEngine.and_steps` (one yielded exchange)."""
        try:
            pairs = next(layers)
            while True:
                pairs = layers.send((yield from steps.steps(self.boolean, "and_many", pairs)))
        except StopIteration as stop:
            return stop.value

    def msb(self, xs: Sequence[np.ndarray]) -> list[np.ndarray]:
        """XOR shares (0/1 per element, shapes of ``xs``) of the sign bit of each x."""
        plane, shapes = self.msb_planes(xs)
        return self.unpack(plane, shapes)

    def msb_steps(self, xs: Sequence[np.ndarray]) -> steps.Steps[list[np.ndarray]]:
        """:meth:`msb` as a step generator (:mod:`mpc.engines.steps`): each AND layer of the
        circuit yields one exchange, so a lockstep can run independent protocols (a truncation,
        a polynomial) in the same rounds."""
        plane, shapes = yield from self._msb_plane_steps(xs)
        return self.unpack(plane, shapes)

    def eqz(self, xs: Sequence[np.ndarray]) -> list[np.ndarray]:
        """XOR shares (0/1 per element) of [x == 0] for each x. Step 5."""
        flat, shapes = _flat(xs, "eqz")
        eng = self.boolean
        adds = self.addends(flat, negate_last=True, trivial=True)
        c = adds[-1]
        rest = self.reduce_to_two(adds[:-1])
        if len(rest) == 1:
            bit = circuits.eq(eng, rest[0], c)
        else:
            a, b = rest
            nc = eng.invert(c)
            (r,) = eng.and_many([(eng.xor(a[:63], nc[:63]), eng.xor(b[:63], nc[:63]))])
            maj_shift = np.concatenate([eng.zero_bits(1, a), eng.xor(r, nc[:63])])
            bit = circuits.eq(eng, eng.xor(eng.xor(a, b), nc), eng.invert(maj_shift))
        return self.unpack(bit, shapes)

    def bit_not(self, bit: np.ndarray) -> np.ndarray:
        """XOR share of NOT b for unpacked bit shares: party 0 flips its share. Local."""
        if self.pid != 0:
            return bit
        return np.bitwise_xor(bit, _ONE, out=np.empty_like(bit))  # an array also when 0-d

    # ------------------------------------------------------------------ packing helpers (local)

    def unpack(self, plane: np.ndarray, shapes: Sequence[tuple[int, ...]]) -> list[np.ndarray]:
        """A (1, W) plane of XOR shares -> unpacked 0/1 share arrays of the given shapes. Local."""
        total = sum(math.prod(s) for s in shapes)
        flat = self.k.unbitslice(plane, total) if total else np.zeros(0, dtype=np.uint64)
        return split_flat(np.ascontiguousarray(flat, dtype=np.uint64), shapes)

    def unpack_planes(self, planes: np.ndarray, n_el: int) -> np.ndarray:
        """(k, W) planes -> (k, n_el) unpacked 0/1 XOR shares. Local."""
        out = np.zeros((planes.shape[0], n_el), dtype=np.uint64)
        if n_el:
            for i in range(planes.shape[0]):
                out[i] = self.k.unbitslice(planes[i : i + 1], n_el)
        return out

    # ------------------------------------------------------------------ B2A and bit injection

    def _inputs(self, flat: np.ndarray) -> list[np.ndarray]:
        """Every party's private ring array as a trivial arithmetic sharing (the owner holds the
        value, the others zero): local. Used only as Beaver operands, whose openings are masked by
        the triple and whose outputs are fresh sharings, so no input is ever exposed."""
        return [flat if j == self.pid else np.zeros(flat.shape, dtype=np.uint64) for j in range(self.n)]

    def b2a(self, bits: Sequence[np.ndarray]) -> list[np.ndarray]:
        """Arithmetic shares of the bits whose XOR shares (0/1 arrays) are given. Step 6."""
        flat, shapes = _flat(bits, "b2a")
        return split_flat(self._b2a_flat(flat), shapes)

    def b2a_steps(self, bits: Sequence[np.ndarray]) -> steps.Steps[list[np.ndarray]]:
        """:meth:`b2a` as a step generator (:mod:`mpc.engines.steps`): the daBit opening (or the
        Beaver products of the tree) yields its one exchange per round; same material, same result."""
        flat, shapes = _flat(bits, "b2a")
        m = flat.shape[0]
        if self.dabits is None:
            return split_flat((yield from self._b2a_tree_steps(flat)), shapes)
        if m == 0:
            return split_flat(np.zeros(0, dtype=np.uint64), shapes)
        words, r_a = self.dabits.dabits(m)
        if words.shape != (nwords(m),) or r_a.shape != (m,):
            raise ShareTypeError(f"daBit source returned malformed material for {m} daBits")
        masked = self.k.bxor(self._packed(flat), words)
        parts = yield masked
        c = masked.copy()
        for j, part in enumerate(parts):
            if j != self.pid:
                self.k.bxor(c, part, out=c)
        return split_flat(self._inject(self.k.unbitslice(c.reshape(1, -1), m), r_a), shapes)

    def _b2a_flat(self, flat: np.ndarray) -> np.ndarray:
        if self.dabits is not None:
            return self._b2a_dabits(flat)
        return steps.run(getattr(self.arith, "round_exchange", None), self._b2a_tree_steps(flat))

    def _b2a_tree_steps(self, flat: np.ndarray) -> steps.Steps[np.ndarray]:
        """Step 6 without daBits: each party's bits as arithmetic inputs, XORed pairwise up a tree
        (a ^ b = a + b - 2ab: one product layer per level, ceil(log2 n) rounds)."""
        eng = self.arith
        m = flat.shape[0]
        level = self._inputs(flat & _ONE)
        while len(level) > 1:
            h = len(level) // 2
            xs = np.concatenate([level[2 * i] for i in range(h)])
            ys = np.concatenate([level[2 * i + 1] for i in range(h)])
            prod = (yield from steps.steps(eng, "mul", xs, ys)) if xs.size else xs
            level = [eng.sub(eng.add(level[2 * i], level[2 * i + 1]), eng.mul_public(prod[i * m : (i + 1) * m], 2))
                     for i in range(h)] + level[2 * h :]
        return level[0]

    def _b2a_dabits(self, flat: np.ndarray) -> np.ndarray:
        """Step 6 with daBits (r_B, r_A), any n: open c = b ^ r_B (1 round, 1 bit per element to
        each peer); [b]_A = c + [r_A] - 2c[r_A] (Rotaru-Wood, INDOCRYPT 2019)."""
        m = flat.shape[0]
        if m == 0:
            return np.zeros(0, dtype=np.uint64)
        words, r_a = self.dabits.dabits(m)
        if words.shape != (nwords(m),) or r_a.shape != (m,):
            raise ShareTypeError(f"daBit source returned malformed material for {m} daBits")
        c = self.boolean.reveal(self.k.bxor(self._packed(flat), words))
        return self._inject(self.k.unbitslice(c.reshape(1, -1), m), r_a)

    def _packed(self, flat: np.ndarray) -> np.ndarray:
        """Unpacked 0/1 XOR shares -> packed words (the layout daBits and openings use)."""
        return self.k.pack_bits(np.ascontiguousarray(flat & _ONE, dtype=np.uint8))

    def _inject(self, c: np.ndarray, r_a: np.ndarray) -> np.ndarray:
        """[b]_A from the opened c = b XOR r (0/1 ring elements) and [r]_A: c + r - 2cr."""
        eng = self.arith
        out = eng.sub(r_a, eng.mul_public(self.k.mul(r_a, c), 2))  # r (1 - 2c)
        return eng.add_public(out, c)

    def bit_mul(self, pairs: Sequence[tuple[np.ndarray, np.ndarray]],
                b2a: Sequence[np.ndarray] = ()) -> tuple[list[np.ndarray], list[np.ndarray]]:
        """Arithmetic shares of b * x for each (bit XOR shares b, arithmetic shares x) of equal
        shape, and the B2A of the extra bits ``b2a``, all in one round for 2 parties (step 7).

        Returns (products, converted bits).
        """
        bflat, bshapes = _flat([b for b, _ in pairs], "bit_mul bits")
        xflat, xshapes = _flat([x for _, x in pairs], "bit_mul values")
        if bshapes != xshapes:
            raise ShareTypeError(f"bit_mul: bit and value shapes differ: {bshapes} and {xshapes}")
        eflat, eshapes = _flat(b2a, "bit_mul b2a")
        if self.dabits is not None and self.dabits.offers_bit_mul:
            prod, ext = self._bit_mul_injected(bflat, xflat, eflat)
            return split_flat(prod, xshapes), split_flat(ext, eshapes)
        if self.n != 2:
            conv = self._b2a_flat(np.concatenate([bflat, eflat]))
            m = bflat.shape[0]
            prod = self.arith.mul(conv[:m], xflat) if m else conv[:0]
            return split_flat(prod, xshapes), split_flat(conv[m:], eshapes)
        eng, k = self.arith, self.k
        m, me = bflat.shape[0], eflat.shape[0]
        u = bflat & _ONE
        # q = x_own * (1 - 2u_own) = -x_own where u_own = 1: this party's factor of its cross term
        q = np.where(u.astype(bool), k.neg(xflat), xflat) if m else xflat
        ue = eflat & _ONE
        # cross products: u_0 * q_1, u_1 * q_0 and (B2A) ue_0 * ue_1, all operands trivially shared
        # (the owner holds the value, the other party zero): Beaver masks every opening
        left = np.zeros(2 * m + me, dtype=np.uint64)
        right = np.zeros(2 * m + me, dtype=np.uint64)
        if self.pid == 0:
            left[:m], right[m : 2 * m], left[2 * m :] = u, q, ue
        else:
            left[m : 2 * m], right[:m], right[2 * m :] = u, q, ue
        prod = eng.mul(left, right) if left.size else left
        out = eng.add(eng.add(prod[:m], prod[m : 2 * m]), np.where(u.astype(bool), xflat, np.uint64(0)))
        ext = eng.sub(ue, eng.mul_public(prod[2 * m :], 2))  # ue_0 + ue_1 - 2 ue_0 ue_1
        return split_flat(out, xshapes), split_flat(ext, eshapes)

    def _bit_mul_injected(self, bflat: np.ndarray, xflat: np.ndarray,
                          eflat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Step 7 with bit-injection triples (r_B, [r], [a], [ra]), any n, one round: open
        c = b ^ r_B (packed bits), d = x - a and, for the extra bits, their daBit openings, all in
        one message; then b*x = c*d + c*[a] + (1 - 2c)(d*[r] + [ra]) and [e] = c_e + (1-2c_e)[r_e]."""
        k, m, me = self.k, bflat.shape[0], eflat.shape[0]
        wb, we = nwords(m), nwords(me)
        t = self.dabits.bit_mul_triples(m) if m else None
        ew, er = self.dabits.dabits(me) if me else (None, None)
        if t is not None and (t.words.shape != (wb,) or any(v.shape != (m,) for v in t[1:])):
            raise ShareTypeError(f"daBit source returned malformed material for {m} bit-injection triples")
        if me and (ew.shape != (we,) or er.shape != (me,)):
            raise ShareTypeError(f"daBit source returned malformed material for {me} daBits")
        if m + me == 0:
            return np.zeros(0, dtype=np.uint64), np.zeros(0, dtype=np.uint64)
        msg = np.empty(wb + we + m, dtype=np.uint64)
        if m:
            k.bxor(self._packed(bflat), t.words, out=msg[:wb])
            k.sub(xflat, t.a, out=msg[wb + we :])
        if me:
            k.bxor(self._packed(eflat), ew, out=msg[wb : wb + we])
        parts = self.arith.channel.exchange(msg)
        peers = parts[: self.pid] + parts[self.pid + 1 :]
        nb = wb + we  # the packed bits open by XOR, the ring part d by addition
        bits, d = k.bxor(msg[:nb], peers[0][:nb]), k.add(msg[nb:], peers[0][nb:])
        for peer in peers[1:]:
            k.bxor(bits, peer[:nb], out=bits)
            k.add(d, peer[nb:], out=d)
        ext = self._inject(k.unbitslice(bits[wb:].reshape(1, -1), me), er) if me else eflat[:0]
        if not m:
            return xflat[:0], ext
        c = k.unbitslice(bits[:wb].reshape(1, -1), m)
        u = k.add(k.mul(d, t.r), t.ra)  # d*[r] + [ra]
        out = k.add(u, k.mul(c, k.sub(t.a, k.mul_public(u, 2))))  # (1 - 2c) u + c [a]
        if self.pid == 0:
            k.add(out, k.mul(c, d), out=out)  # the public c*d, once
        return out, ext
