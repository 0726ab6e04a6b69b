"""spdz2k's bit protocols (:class:`~mpc.engines.base.MixedProtocols`): MSB, zero test, A2B, B2A,
bit times value, actively secure, over the spdz2k engine and its authenticated boolean engine.

semi2k's :class:`~mpc.engines.convert.Converter` feeds each party's arithmetic share bits into
GMW, which an active adversary could lie about. Here no share is ever input: every conversion
opens a *masked* value under an edaBit or daBit from the trusted dealer, and the MAC check
(:mod:`mpc.engines.mac_check`) covers every opening, ring and bit alike. Escudero, Ghosh,
Keller, Rachuri, Scholl, "Improved primitives for MPC over mixed arithmetic-binary circuits",
CRYPTO 2020 (edaBits); Rotaru, Wood, "MArBled circuits", INDOCRYPT 2019 (daBits); Damgard,
Escudero, Frederiksen, Keller, Scholl, Volgushev, "New primitives for actively-secure MPC over
rings with applications to private machine learning", S&P 2019 (SPDZ2k comparisons from bits).

Single secret bits are *unpacked* authenticated bits (:data:`~mpc.sharing.auth_bits.ABIT`
records, this party's bit share and MAC share, one per element, in the operand's shape); bit
planes are BAUTH words in the ``(width, W)`` layout, W = ceil(N / 64).

Protocols (n parties; per element and per party; "AND" = one authenticated AND gate of
:class:`~mpc.engines.authbits.AuthBits`: 2 bits to each peer, 1 round per layer; an opened ring
element is 16 bytes to each peer; every count below is the same for every n: there is no
carry-save reduction, since the masked value is public):

1. **Masked opening** (:meth:`Spdz2kConverter.open_masked`, the first round of steps 2-4): with
   an edaBit (r uniform in Z_2^128 as an AUTH share, the 64 bits of r64 = r mod 2^64 as BAUTH
   planes), open c = x + r (1 round, 16 bytes; the MAC check covers c; r's upper 64 bits hide
   those of x's Z_2^128 share). Then x = c64 - r64 mod 2^64 for the public c64 = c mod 2^64:
   the rest is a boolean circuit with one public operand, where every leaf (generate, propagate,
   less-than, equality) is *linear* in the secret bits (:meth:`~mpc.engines.authbits.AuthBits.
   xor_public`, ``and_public``): no AND round for the leaves.
2. **MSB** (:meth:`Spdz2kConverter.msb`): msb(c64 - r64) = c_63 ^ r_63 ^ [c' < r'] with c', r' the
   low 63 bits (the borrow into bit 63). The comparison tree of
   :func:`~mpc.engines.circuits.lt` on the linear leaves l_i = ~c_i & r_i,
   e_i = ~(c_i ^ r_i) (:meth:`Spdz2kConverter.lt_public`): its first level, L = l_h ^ e_h & l_l
   and E = e_h & e_l for the pairs of bits (2t, 2t + 1), is quadratic in r only through
   q_t = r_2t & r_2t+1, so the MSB takes edaBits that carry those 31 products (preprocessed:
   ``edabits(count, pairs=True)``, 252 more dealer bytes per element, or 31 AND gates made
   offline from daBits without a dealer) and computes that level locally, linear in r and q
   (:meth:`~mpc.engines.authbits.AuthBits.lt_pairs_light`: one pass over the three records of a
   pair). The tree above it: 5 rounds, 57 ANDs (from the leaves: 6 rounds, 118 ANDs). In all
   6 rounds, 16 + 14.25 bytes. The products are secret material like r itself, used only
   linearly: nothing new is opened, and a party that changes its share of r or q changes a value
   the next layer opens (caught by the MAC check) or, where every public coefficient of it is 0,
   nothing. Every intermediate value is a light word (bits and folded MAC,
   :data:`~mpc.sharing.auth_bits.LAUTH`) except the top group's chain (the only values whose bits
   reach the output): 52 of the 57 ANDs skip computing and writing their output's 64 MACs per
   word, which cut the local time of W3 by about 3, and a dealer serves their triples light
   (c's bits and folded MAC only: 410 fewer bytes of corrections per element, 19% of an MSB's).
3. **Zero test** (:meth:`Spdz2kConverter.eqz`): x = 0 iff c64 = r64, an AND tree over the 64
   linear bits ~(c_i ^ r_i) (as :func:`~mpc.engines.circuits.eq`'s; light but for its last
   AND): 6 rounds, 63 ANDs. In all 7 rounds, 16 + 15.75 bytes.
4. **A2B** (:meth:`Spdz2kConverter.a2b`): c64 - r64 = c64 + ~r64 + 1 by the Sklansky adder
   (:func:`~mpc.engines.circuits.add_from`) from the linear p_i = c_i ^ ~r_i, g_i = c_i & ~r_i
   (carry-in folded into g_0): 6 rounds, 310 ANDs. In all 7 rounds, 16 + 77.5 bytes. The prefix
   P terms only ever meet ANDs, so they are light words and their ANDs light (with a dealer's
   light triples; :class:`~mpc.engines.circuits.Layer`): A2B of 10^5 elements, 2 parties, 267-305
   -> 201-221 ms online and 1057-1134 -> 819-879 ms offline (plaintext loopback). The output
   planes are fresh sharings (the dealer's r bits and AND outputs), so ``masked_use`` changes
   nothing here: they may be opened.
5. **B2A** (:meth:`Spdz2kConverter.b2a`) with an authenticated daBit (r_B, [r]): open
   c = b ^ r_B (1 round, 1 bit), then [b] = c + [r] - 2c[r] (local).
6. **Bit times value** (:meth:`Spdz2kConverter.bit_mul`) with an authenticated bit-injection
   triple (daBit r plus [a], [r a]): open c = b ^ r_B and d = x - a in one message, then
   b x = c d + c[a] + (1 - 2c)(d[r] + [ra]) (local: one fused pass over the three records,
   ``auth_lincomb``). 1 round, 16 bytes + 1 bit. Extra bits to convert (``b2a=``) ride in the
   same message with their daBits.

Step versions (:mod:`mpc.engines.steps`): :meth:`Spdz2kConverter.msb_steps` yields the masked
opening and each AND layer of step 2, so a lockstep (sigmoid's polynomial, ReLU's pending
truncation) shares its 6 rounds; every opening is recorded for the MAC check as when run alone.
NOT of an unpacked bit: party 0 flips its bit share, every party XORs Delta_i into its MAC share.

Live lanes: steps 2-4 work on bit planes of ceil(m/64) words for m elements, and every gate is
lane-wise, so the lanes from m on only ever hold public values: c's are 0 (the bit slicing pads
with zeros) and so are r's and q's from a source whose edaBits are zero-padded (the dealer-free
one; the dealer's padding is random, and it makes every lane anyway). Their AND layers say so
(``lanes=m``, :meth:`~mpc.engines.authbits.AuthBits.and_many`); a source that offers it then
makes zero triples there, whose openings show only that public padding: a comparison of m < 64
elements pays for m AND gates a word, not 64 (:mod:`mpc.preprocessing.ot_spdz_mixed`).

Costs of the 10^5-element workloads (any n): ``x < y`` = MSB + B2A = 7 rounds, ~30.4 bytes per
element to each peer; ReLU = MSB + bit times value = 7 rounds, ~46.4 bytes. Revealing the result
adds spdz2k's reveal: the check of those openings (3 rounds), the opening, its check (3).

Ranges as semi2k's: :meth:`msb` reads x as a 64-bit two's-complement value (x < y as
msb(x - y) is exact when |x - y| < 2^63); :meth:`eqz` is exact for every x.

Security: malicious adversary with abort, dishonest majority (n-1 of n), trusted dealer, as the
spdz2k engine. Every opened value is padded by dealer randomness (an edaBit's r, uniform in
Z_2^128; a daBit's bit; a triple's a, uniform in Z_2^128); every opening and every AND gate's
opening is MAC-checked before any output leaves (2^-58 per ring check, 2^-63 per bit check:
:mod:`mpc.engines.mac_check`). A party that deviates anywhere changes an opened value or bit,
so the deviation is caught with those probabilities.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from mpc.engines import circuits, steps
from mpc.engines.authbits import AuthBits
from mpc.engines.base import ArithmeticEngine
from mpc.errors import ShareTypeError
from mpc.preprocessing.base import EDABIT_PAIRS, Preprocessing
from mpc.sharing.auth_bits import ABIT, BAUTH, from_words, lighten, words
from mpc.sharing.authenticated import AUTH, pairs
from mpc.sharing.flat import concat_flat, split_flat
from mpc.sharing.packing import nwords

__all__ = ["Spdz2kConverter"]

_ONE = np.uint64(1)
_ALL = np.uint64(0xFFFFFFFFFFFFFFFF)


def _flat(xs: Sequence[np.ndarray], dtype: np.dtype, what: str) -> tuple[np.ndarray, list[tuple[int, ...]]]:
    for x in xs:
        if not isinstance(x, np.ndarray) or x.dtype != dtype:
            kind = "authenticated ring shares (AUTH)" if dtype == AUTH else "authenticated bits (ABIT)"
            raise ShareTypeError(f"{what}: expected {kind}")
    return (concat_flat(xs) if xs else np.zeros(0, dtype=dtype)), [x.shape for x in xs]


def _cat(parts: Sequence[np.ndarray]) -> np.ndarray:
    """np.concatenate of authenticated words of one dtype along axis 0, done on their uint64
    words (NumPy copies structured records field by field: ~15 times slower)."""
    return from_words(np.concatenate([words(p) for p in parts]))


class Spdz2kConverter:
    """The bit protocols of one party's spdz2k engine; see the module docstring.

    ``arith`` is the :class:`~mpc.engines.spdz2k.Spdz2k` engine (its ``open_unchecked`` and MAC
    check), ``boolean`` its :class:`~mpc.engines.authbits.AuthBits`; ``preprocessing`` serves the
    authenticated edaBits, daBits and bit-injection triples.
    """

    def __init__(self, arith: ArithmeticEngine, boolean: AuthBits, preprocessing: Preprocessing) -> None:
        if not isinstance(boolean, AuthBits):
            raise ShareTypeError(f"boolean: expected an AuthBits engine, got {type(boolean).__name__}")
        if getattr(arith, "channel", None) is not boolean.channel:
            raise ShareTypeError("arith and boolean engines must share one channel")
        self.arith = arith
        self.boolean = boolean
        self.preprocessing = preprocessing
        self.mac = boolean.mac
        self.pid, self.n = boolean.pid, boolean.n
        self.k = boolean.k

    def __repr__(self) -> str:
        return f"Spdz2kConverter(pid={self.pid}, n={self.n})"

    # ------------------------------------------------------------------ masked opening (step 1)

    def open_masked(self, flat: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Step 1 for the flat AUTH array ``flat``: (c64, its bit planes (64, W) as public words,
        the edaBit's secret bit planes r64 (64, W) BAUTH). 1 round."""
        return steps.run(self._exchange(), self._open_masked_steps(flat))

    def _exchange(self) -> steps.Exchange:
        """The engine's round exchange (:meth:`~mpc.engines.spdz2k.Spdz2k.round_exchange`)."""
        return self.arith.round_exchange

    def _open_masked_steps(self, flat: np.ndarray, pairs: bool = False) -> steps.Steps[tuple[np.ndarray, ...]]:
        """:meth:`open_masked` as a step generator (its one opening yielded); with ``pairs``, the
        edaBits' pair products (31, W) are a fourth result."""
        m = flat.shape[0]
        r, planes, *q = self.preprocessing.edabits(m, pairs=pairs)
        if (r.shape != (m,) or r.dtype != AUTH or planes.shape != (64, nwords(m)) or planes.dtype != BAUTH
                or len(q) != pairs or any(x.shape != (EDABIT_PAIRS, nwords(m)) or x.dtype != BAUTH for x in q)):
            raise ShareTypeError(f"edaBit source returned malformed material for {m} edaBits")
        if not m:
            return np.zeros(0, dtype=np.uint64), np.zeros((64, 0), dtype=np.uint64), planes, *q
        opened = yield from self.arith.open_masked_steps(flat, r)
        c64 = np.ascontiguousarray(opened[:, 0])
        return c64, np.ascontiguousarray(self.k.bitslice(c64)), planes, *q

    # ------------------------------------------------------------------ MSB, zero test, A2B

    def lt_public(self, c: np.ndarray, r: np.ndarray, q: np.ndarray | None = None) -> np.ndarray:
        """The plane (1, W) of [c < r] (unsigned) for public bit planes c and secret planes r (w, W).

        The comparison tree of :func:`~mpc.engines.circuits.lt` (step 3) on the linear leaves
        l_i = ~c_i & r_i, e_i = ~(c_i ^ r_i), with every value kept light (bits and folded MAC:
        all the next AND reads) except the top group's l, the only one whose bits reach the
        output: its leaf and the one AND per level that feeds it carry their 64 MACs per word.
        Rounds ceil(log2 w), ANDs 2w - 2 - ceil(log2 w) (as the tree). With the pair products
        q_t = r_2t AND r_2t+1 (w odd, q (w // 2, W): an edaBit's, preprocessed), the first level
        is linear in r and q (:meth:`~mpc.engines.authbits.AuthBits.lt_pairs_light`): one round
        and w - 2 ANDs fewer."""
        return steps.run(self._exchange(), self._lt_public_steps(c, r, q))

    def _lt_public_steps(self, c: np.ndarray, r: np.ndarray, q: np.ndarray | None = None,
                         lanes: int | None = None) -> steps.Steps[np.ndarray]:
        """:meth:`lt_public` as a step generator: one yielded AND layer per level. ``lanes`` = m
        when the planes' lanes from m on are public padding (every AND layer says so:
        :meth:`~mpc.engines.authbits.AuthBits.and_many`)."""
        eng = self.boolean
        nc = ~c
        w = r.shape[0]
        top = eng.and_public(r[w - 1 : w], nc[w - 1 : w])  # less[-1] with its bits' MACs
        if q is None:
            less, e = eng.and_xor_public_light(r, nc)  # one pass over r's records
        else:  # level 1 from the pair products; the top bit (w odd) passes to level 2 alone
            if w % 2 == 0 or q.shape != (w // 2, r.shape[1]):
                raise ShareTypeError(f"lt_public: pair products for an odd width: expected {(w // 2, r.shape[1])}, "
                                     f"got {q.shape} for w = {w}")
            less, e = eng.lt_pairs_light(r[: w - 1], q, np.ascontiguousarray(nc[: w - 1]))
            # the top bit's leaves: its l is top's bits and fold (computed above), its e reads
            # only the record's first two words
            less, e = _cat([less, lighten(top)]), _cat([e, eng.xor_public_light(r[w - 1 :], nc[w - 1 :])])
        while less.shape[0] > 1:
            k = less.shape[0]
            h = k // 2
            lo, hi = slice(0, 2 * h, 2), slice(1, 2 * h, 2)
            full = 1 if k % 2 == 0 else 0  # the last pair forms the top group: its AND in full
            pairs = [(e[hi][: h - full], less[lo][: h - full]), (e[hi][h - full :], less[lo][h - full :])]
            if h > 1:  # e of every group but the lowest (whose e is never read)
                pairs.append((e[hi][1:], e[lo][1:]))
            res = yield from eng.and_steps(pairs, light=[True, False, True][: len(pairs)], lanes=lanes)
            new_l = eng.xor(less[hi], _cat([res[0], lighten(res[1])]))
            if full:
                top = eng.xor(top, res[1])
            new_e = _cat([e[1:2], res[2]]) if h > 1 else e[1:2]  # row 0: a placeholder
            if k % 2:
                new_l = _cat([new_l, less[k - 1 :]])
                new_e = _cat([new_e, e[k - 1 :]])
            less, e = new_l, new_e
        return top

    def msb_planes(self, xs: Sequence[np.ndarray]) -> tuple[np.ndarray, list[tuple[int, ...]]]:
        """One bit plane (1, W) of the sign bit of every element of the concatenation. Step 2."""
        return steps.run(self._exchange(), self._msb_plane_steps(xs))

    def _msb_plane_steps(self, xs: Sequence[np.ndarray]) -> steps.Steps[tuple[np.ndarray, list[tuple[int, ...]]]]:
        flat, shapes = _flat(xs, AUTH, "msb")
        _, c, r, q = yield from self._open_masked_steps(flat, pairs=True)
        eng = self.boolean
        # lanes from m on: c's are 0 (bitslice pads), r's and q's are public too (0 in a source
        # that offers live lanes: its edaBits are zero-padded), so the AND layers say lanes=m
        less = yield from self._lt_public_steps(c[:63], r[:63], q, lanes=flat.shape[0])
        return eng.xor(eng.xor_public(r[63:64], c[63:64]), less), shapes

    def msb_planes_steps(self, xs: Sequence[np.ndarray]) -> steps.Steps[tuple[np.ndarray, list[tuple[int, ...]]]]:
        """:meth:`msb_planes` as a step generator (:mod:`mpc.engines.steps`)."""
        return (yield from self._msb_plane_steps(xs))

    def msb(self, xs: Sequence[np.ndarray]) -> list[np.ndarray]:
        """Unpacked authenticated bits (shapes of ``xs``) of the sign bit of each x."""
        plane, shapes = self.msb_planes(xs)
        return self.unpack(plane, shapes)

    def msb_steps(self, xs: Sequence[np.ndarray]) -> steps.Steps[list[np.ndarray]]:
        """:meth:`msb` as a step generator (:mod:`mpc.engines.steps`): the masked opening and each
        AND layer of the comparison tree yield one exchange, so a lockstep can run independent
        protocols (a truncation, a polynomial's products) in the same 6 rounds."""
        plane, shapes = yield from self._msb_plane_steps(xs)
        return self.unpack(plane, shapes)

    def eqz(self, xs: Sequence[np.ndarray]) -> list[np.ndarray]:
        """Unpacked authenticated bits of [x == 0] for each x. Step 3."""
        flat, shapes = _flat(xs, AUTH, "eqz")
        _, c, r = self.open_masked(flat)
        eng = self.boolean
        e = eng.xor_public_light(r, ~c)  # the AND tree of :func:`~mpc.engines.circuits.eq`, light
        m = flat.shape[0]  # lanes from m on hold public padding (see _msb_plane_steps)
        while e.shape[0] > 2:  # until its last AND, the only one whose output bits are used
            h = e.shape[0] // 2
            (res,) = eng.and_many([(e[0 : 2 * h : 2], e[1 : 2 * h : 2])], light=True, lanes=m)
            e = _cat([res, e[2 * h :]])
        (bit,) = eng.and_many([(e[0:1], e[1:2])], lanes=m)
        return self.unpack(bit, shapes)

    def a2b(self, xs: Sequence[np.ndarray], masked_use: bool = False) -> tuple[np.ndarray, list[tuple[int, ...]]]:
        """Bit planes (64, W) of the concatenation of ``xs`` and the shapes. Step 4 (``masked_use``
        is accepted for the protocol's signature; the planes are fresh sharings either way)."""
        return steps.run(self._exchange(), self.a2b_steps(xs, masked_use))

    def a2b_steps(self, xs: Sequence[np.ndarray],
                  masked_use: bool = False) -> steps.Steps[tuple[np.ndarray, list[tuple[int, ...]]]]:
        """:meth:`a2b` as a step generator (:mod:`mpc.engines.steps`): the masked opening and each
        AND layer of the adder yield one exchange (same gates, same material)."""
        flat, shapes = _flat(xs, AUTH, "a2b")
        _, c, r = yield from self._open_masked_steps(flat)
        eng = self.boolean
        y = eng.invert(r)  # c - r = c + ~r + 1
        layers = circuits.add_from_layers(eng, eng.xor_public(y, c), eng.and_public(y[:63], c[:63]), carry_in=True)
        return (yield from self._gates(layers, flat.shape[0])), shapes

    def _gates(self, layers, lanes: int) -> steps.Steps:
        """A generator of AND layers (:mod:`mpc.engines.circuits`) as a step generator: each layer
        is one :meth:`~mpc.engines.authbits.AuthBits.and_steps` (one yielded exchange, with the
        layer's light flags), on planes whose lanes from ``lanes`` on are public padding (see
        :meth:`_msb_plane_steps`)."""
        try:
            pairs = next(layers)
            while True:  # a layer's light pairs (circuits.Layer: the adder's P terms) get light outputs
                pairs = layers.send((yield from self.boolean.and_steps(pairs, getattr(pairs, "light", False),
                                                                         lanes=lanes)))
        except StopIteration as stop:
            return stop.value

    def bit_not(self, bit: np.ndarray) -> np.ndarray:
        """NOT b for unpacked bits: party 0 flips its bit share, every MAC share takes Delta_i. Local."""
        _flat([bit], ABIT, "bit_not")
        out = np.array(bit, copy=True)
        if self.pid == 0:
            out["b"] ^= _ONE
        out["m"] ^= np.uint64(self.boolean.delta)
        return out

    # ------------------------------------------------------------------ packing helpers (local)

    def unpack(self, plane: np.ndarray, shapes: Sequence[tuple[int, ...]]) -> list[np.ndarray]:
        """A (1, W) plane -> unpacked bits of the given shapes. Local."""
        total = sum(math.prod(s) for s in shapes)
        return split_flat(self.unpack_planes(plane, total)[0], shapes)

    def unpack_planes(self, planes: np.ndarray, n_el: int) -> np.ndarray:
        """(k, W) planes -> (k, n_el) unpacked bits (bit j of word w is element 64 w + j). Local."""
        if planes.dtype != BAUTH:
            raise ShareTypeError("unpack_planes: expected authenticated bit planes (BAUTH)")
        rows = planes.shape[0]
        out = np.empty((rows, n_el), dtype=ABIT)
        if n_el:
            w = np.ascontiguousarray(planes["w"])
            out["b"] = self.k.unpack_bits(w, n_el)
            out["m"] = np.ascontiguousarray(planes["m"]).reshape(rows, -1)[:, :n_el]
        return out

    def _pack(self, flat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Unpacked bits (m,) -> (words, folded MACs), ``(ceil(m/64),)`` each; padding bits 0."""
        m = flat.shape[0]
        words = self.k.pack_bits(np.ascontiguousarray(flat["b"] & _ONE, dtype=np.uint8))
        macs = np.zeros((nwords(m) * 64,), dtype=np.uint64)
        macs[:m] = flat["m"]
        return words, self.k.gf64_fold(macs.reshape(-1, 64))

    # ------------------------------------------------------------------ B2A and bit injection

    def b2a(self, bits: Sequence[np.ndarray]) -> list[np.ndarray]:
        """Authenticated ring shares (AUTH) of the given unpacked bits. Step 5: 1 round."""
        return steps.run(self._exchange(), self.b2a_steps(bits))

    def b2a_steps(self, bits: Sequence[np.ndarray]) -> steps.Steps[list[np.ndarray]]:
        """:meth:`b2a` as a step generator (:mod:`mpc.engines.steps`): its one opening yielded."""
        flat, shapes = _flat(bits, ABIT, "b2a")
        _, conv = yield from self._bit_mul_steps(flat[:0], self.arith.zeros((0,)), flat)
        return split_flat(conv, shapes)

    def _inject(self, c: np.ndarray, r: np.ndarray) -> np.ndarray:
        """[b] = c + [r] - 2c[r] from the opened c = b ^ r (0/1 words) and [r]."""
        with np.errstate(over="ignore"):  # ring arithmetic mod 2^64
            return self.arith.lincomb([(r, np.uint64(0) - (c << _ONE) + _ONE)], c, c.shape)  # r (1 - 2c) + c

    def bit_mul(self, pairs_in: Sequence[tuple[np.ndarray, np.ndarray]],
                b2a: Sequence[np.ndarray] = ()) -> tuple[list[np.ndarray], list[np.ndarray]]:
        """Shares of b * x for each (unpacked bits b, AUTH shares x) of equal shape, and the B2A of
        the extra bits ``b2a``, all in one round (step 6). Returns (products, converted bits)."""
        bflat, bshapes = _flat([b for b, _ in pairs_in], ABIT, "bit_mul bits")
        xflat, xshapes = _flat([x for _, x in pairs_in], AUTH, "bit_mul values")
        if bshapes != xshapes:
            raise ShareTypeError(f"bit_mul: bit and value shapes differ: {bshapes} and {xshapes}")
        eflat, eshapes = _flat(b2a, ABIT, "bit_mul b2a")
        prod, ext = self._bit_mul_flat(bflat, xflat, eflat)
        return split_flat(prod, xshapes), split_flat(ext, eshapes)

    def _bit_mul_flat(self, bflat: np.ndarray, xflat: np.ndarray,
                      eflat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Steps 5-6 on flat arrays: one exchange of the masked bits (packed) and d = x - a."""
        return steps.run(self._exchange(), self._bit_mul_steps(bflat, xflat, eflat))

    def _bit_mul_steps(self, bflat: np.ndarray, xflat: np.ndarray,
                       eflat: np.ndarray) -> steps.Steps[tuple[np.ndarray, np.ndarray]]:
        """:meth:`_bit_mul_flat` as a step generator (its one exchange yielded)."""
        ar, k, pre = self.arith, self.k, self.preprocessing
        m, me = bflat.shape[0], eflat.shape[0]
        if m + me == 0:
            return ar.zeros((0,)), ar.zeros((0,))
        wb, we = nwords(m), nwords(me)
        t = pre.bit_mul_triples(m, auth=True) if m else None
        ew, er = pre.dabits(me, auth=True) if me else (None, None)
        if t is not None and (t.words.shape != (wb,) or t.words.dtype != BAUTH
                              or any(v.shape != (m,) or v.dtype != AUTH for v in t[1:])):
            raise ShareTypeError(f"daBit source returned malformed material for {m} bit-injection triples")
        if me and (ew.shape != (we,) or ew.dtype != BAUTH or er.shape != (me,) or er.dtype != AUTH):
            raise ShareTypeError(f"daBit source returned malformed material for {me} daBits")
        msg = np.empty(wb + we + 2 * m, dtype=np.uint64)
        folds = np.empty(wb + we, dtype=np.uint64)
        d_mac = None
        if m:
            bw, bf = self._pack(bflat)
            k.bxor(bw, np.ascontiguousarray(t.words["w"]), out=msg[:wb])
            folds[:wb] = bf ^ t.words["f"]
            # d = x - a: the value shares straight into the buffer sent, the MAC shares into
            # their own array for the check (one pass; no strided copies of either half)
            _, d_mac = k.auth_sub_split(pairs(xflat).reshape(m, 4), pairs(t.a).reshape(m, 4),
                                        msg[wb + we :].reshape(m, 2))
        if me:
            ewords, efold = self._pack(eflat)
            k.bxor(ewords, np.ascontiguousarray(ew["w"]), out=msg[wb : wb + we])
            folds[wb:] = efold ^ ew["f"]
        parts = yield msg
        nb = wb + we  # the packed bits open by XOR, the ring part d by addition mod 2^128
        mine = parts[self.pid]  # what was sent (never written to: it went to the peers)
        peers = self.arith.channel.peers
        bits = k.bxor(mine[:nb], parts[peers[0]][:nb])
        for p in peers[1:]:
            k.bxor(bits, parts[p][:nb], out=bits)
        self.mac.record_bits(bits, folds)
        if m:  # d recorded as its two summands: only its low words are read below
            own = mine[nb:].reshape(m, 2)
            rest = self.arith.record_parts(own, [parts[p][nb:].reshape(m, 2) for p in peers], d_mac)
        ext = self._inject(k.unbitslice(bits[wb:].reshape(1, -1), me), er) if me else ar.zeros((0,))
        if not m:
            return ar.zeros((0,)), ext
        c = k.unbitslice(bits[:wb].reshape(1, -1), m)
        # b x = c d + c [a] + (1 - 2c)(d [r] + [ra]): one fused pass over the triple's records
        with np.errstate(over="ignore"):  # ring arithmetic: wraps mod 2^64 by design
            d64 = own[:, 0] + rest[:, 0]  # d mod 2^64
            sgn = np.uint64(0) - (c << _ONE) + _ONE
            return ar.lincomb([(t.r, sgn * d64), (t.ra, sgn), (t.a, c)], c * d64, (m,)), ext
