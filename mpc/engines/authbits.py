"""spdz2k's boolean engine: XOR-shared packed bits with GF(2^64) MACs, actively secure with abort.

The binary SPDZ-style scheme (Frederiksen, Keller, Orsini, Scholl, "A unified approach to MPC
with preprocessing using OT", ASIACRYPT 2015; Keller, Orsini, Scholl, "MASCOT", CCS 2016, binary
case; Damgard, Pastro, Smart, Zakarias, CRYPTO 2012, for the MAC check): every bit b is XOR-
shared with MAC shares m_i, XOR_i m_i = b Delta, Delta = XOR_i Delta_i the binary MAC key
(:mod:`mpc.sharing.auth_bits`). A share is an array of :data:`~mpc.sharing.auth_bits.BAUTH`
records, one per packed word of 64 bits (bits, folded MAC, 64 MAC shares: 528 bytes), so bit
planes keep the ``(rows, W)`` layout of GMW and every structural NumPy operation of the circuits
(:mod:`mpc.engines.circuits`) and functions works on them. Implements
:class:`~mpc.engines.base.BooleanEngine`; built by the spdz2k engine
(:mod:`mpc.engines.spdz2k`), whose MAC check (:mod:`mpc.engines.mac_check`) covers every bit
this engine opens.

Operations and cost (n parties; W = words of the operand; bytes exclude frame headers):
- XOR of two shares: local (bits and MACs alike). NOT and XOR with public words c: party 0 flips
  its bits, every party XORs Delta_i into the MAC of every bit set in c (and c * Delta_i into
  the folded MAC). AND with public words: every party clears the bits and MACs where c is 0.
  0 rounds, 0 bytes.
- Light words (:data:`~mpc.sharing.auth_bits.LAUTH`: bits and folded MAC, 16 bytes): an AND reads
  nothing else of its inputs, so a circuit may keep values whose single bits are never used
  again light (``and_many(..., light=True)``, ``and_public_light``, ``xor_public_light``): the
  protocol and its messages are the same; only the 64 MACs per output word are not computed.
- AND (:meth:`AuthBits.and_many`, any number of gates in ONE round), Beaver over GF(2) with an
  authenticated bit triple (a, b, c = a AND b):
    1. each party sends the words d_i = x_i ^ a_i and e_i = y_i ^ b_i (bits only, as GMW);
    2. d = XOR d_j, e = XOR e_j; the opened words and this party's folded MACs of them
       (f_x ^ f_a, f_y ^ f_b: MACs are linear) are recorded for the next MAC check;
    3. z_i = c_i ^ d&b_i ^ e&a_i (^ d&e at party 0), and for every bit j the MAC
       m_z = m_c ^ d_j m_b ^ e_j m_a ^ d_j e_j Delta_i, then the fold of m_z (``bauth_and``).
  Correct because XOR_i m_z,i = (c ^ d b ^ e a ^ d e) Delta = (x AND y) Delta. A light output
  (``bauth_and_light``) is the bits and f_c ^ fold(d m_b) ^ fold(e m_a) ^ (d & e) Delta_i (the
  fold is linear), read from the triple's bits, c's fold and a's and b's 64 MACs.
  :meth:`AuthBits.and_steps` is the same as a step generator (:mod:`mpc.engines.steps`): a
  lockstep puts the layer in one message with independent openings (the converter's MSB circuit
  with a truncation or a polynomial's products), recorded for the MAC check all the same.
  The light outputs of a layer take their triples from a request of their own, for *light
  triples* where the source serves them (``bit_triples(..., light=True)``; the dealer's: c as its
  bits and folded MAC only, since a light output reads nothing else of c), the full outputs from
  another; the message carries the light pairs first (every party orders them alike).
  Cost: 1 round, 16 bytes per word to each peer (as GMW); 3 authenticated triple words and their
  heads (1632 bytes of material per 64 gates, 25.5 bytes per AND gate held by each party; a light
  triple 1120 bytes, 17.5 a gate, and 1040 bytes of dealer corrections instead of 1544). Local
  work per word: the masking reads the heads, a's and b's bits and folded MACs laid out
  contiguously offline (``bauth_mask``: the masked words straight into the buffer
  sent, their folds into the check's record, one pass per operand; from the records it read one
  cache line of each: about 10 ns a word against 2.6 on Zen 4, 2 x 10^5 words out of cache;
  3.9 -> 0.8 ms of spdz2k's W3, ``x < y`` on 10^5); the 64 MACs of a and b are read (1 KiB),
  and c's bits and fold from its heads (a light output) or, for a full output, c's MACs read and
  those of z written (1 KiB more): memory traffic, not arithmetic, is the cost, about 65 times
  GMW's per gate; hence the light words. The kernels (``bauth_*`` in :mod:`mpc._core`) select
  the MACs with the public bits (as AVX-512 mask registers, or on AVX2 as lane masks made by
  moving each bit to a lane's sign) and fold them with vector shifts, on the widest of AVX-512,
  AVX2 and portable C the CPU has. A light AND word takes ~65 ns on AVX2 on a Zen 2 against
  ~108 ns portable, as long as NumPy takes to XOR-reduce the 1 KiB it reads: the memory bound
  (``bench/kernels.py``, group bauth; bench/README.md, suite kernels).
- Input by an owner: an authenticated bit mask r whose value the owner got from the dealer
  (``bit_input_masks``); the owner sends e = x ^ r to every peer, [x] = [r] ^ e. 1 round,
  8 bytes per word from the owner; that every peer received the same e is part of the MAC check.
- Reveal (to everyone): first the MAC check of everything opened so far (3 rounds, none when
  nothing is pending: no share of an output leaves before the openings it was computed from are
  verified, :meth:`~mpc.engines.mac_check.MacCheck.output`), then each party sends its
  bits (8 bytes per word to each peer), the opened words are recorded, and their MAC check (3
  rounds) runs before the words are returned: 7 rounds (4). To one party: the check, then the
  words masked by an input mask of that party are opened and checked, and that party removes the
  mask: 7 rounds (4).

Security: malicious adversary corrupting up to n-1 parties, security with abort. A party that
lies about d_i, e_i or an opened share changes an opened word, which the MAC check detects
except with probability 2^-63 per check (:mod:`mpc.engines.mac_check`); the triples and masks
come from the trusted dealer (:mod:`mpc.preprocessing.authenticated`), which knows Delta. The
openings d, e are one-time padded by the triple's uniform a, b, as in GMW. Not protected:
fairness and denial of service (any party can make the run abort).
"""

from __future__ import annotations

import types
from collections.abc import Sequence

import numpy as np

from mpc.engines import steps
from mpc.engines.mac_check import MacCheck
from mpc.errors import ProtocolError, ShareTypeError
from mpc.net.channel import Channel
from mpc.preprocessing.base import Preprocessing
from mpc.sharing.auth_bits import BAUTH, LAUTH, from_words, lighten, pack_light, words
from mpc.sharing.dims import dims  # one validation of word-array shapes for every engine
from mpc.sharing.packing import POW2, lane_masks

__all__ = ["CHECK_EVERY_WORDS", "AuthBits"]

CHECK_EVERY_WORDS = 1 << 22  # opened words (16 bytes each kept) before a MAC check is forced
_ALL = np.uint64(0xFFFFFFFFFFFFFFFF)


class AuthBits:
    """The authenticated boolean engine of one party; see the module docstring."""

    name = "spdz2k-bits"
    share_dtype = BAUTH

    def __init__(self, channel: Channel, preprocessing: Preprocessing, kernels: types.SimpleNamespace,
                 mac: MacCheck, delta: int) -> None:
        self.channel = channel
        self.pid, self.n = channel.pid, channel.n
        self.preprocessing = preprocessing
        self.k = kernels
        self.mac = mac
        self.delta = int(delta) % (1 << 64)  # Delta_i

    def __repr__(self) -> str:
        return f"AuthBits(pid={self.pid}, n={self.n})"

    # ------------------------------------------------------------------ validation

    @staticmethod
    def _share(name: str, x: object, light_ok: bool = False) -> np.ndarray:
        if not isinstance(x, np.ndarray) or not (x.dtype == BAUTH or (light_ok and x.dtype == LAUTH)):
            got = x.dtype if isinstance(x, np.ndarray) else type(x).__name__
            raise ShareTypeError(f"{name}: expected authenticated bit words (BAUTH records), got {got}")
        return x

    def _pair(self, x: object, y: object, what: str, light_ok: bool = False) -> tuple[np.ndarray, np.ndarray]:
        x, y = self._share(f"{what} x", x, light_ok), self._share(f"{what} y", y, light_ok)
        if x.shape != y.shape:
            raise ShareTypeError(f"{what}: operand shapes differ: {x.shape} and {y.shape}")
        return x, y

    def _public_words(self, x: np.ndarray, c: object, what: str) -> np.ndarray:
        if not isinstance(c, np.ndarray) or c.dtype != np.uint64 or c.shape != x.shape:
            raise ShareTypeError(f"{what}: the public operand must be uint64 words of shape {x.shape}")
        return c

    # ------------------------------------------------------------------ local operations

    def xor(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        """Share of x ^ y (bits and MACs; two light words give a light word). Local. (NumPy's XOR
        reads strided operands, such as the circuits' every-other-plane slices, in place.)"""
        x, y = self._pair(x, y, "xor", light_ok=True)
        if x.dtype != y.dtype:
            raise ShareTypeError("xor: a light word (LAUTH) XORs only with light words")
        out = np.empty(x.shape, dtype=x.dtype)
        np.bitwise_xor(words(x), words(y), out=words(out))
        return out

    def xor_public(self, x: np.ndarray, c: np.ndarray) -> np.ndarray:
        """Share of x ^ c for public words c: party 0 flips bits, every MAC of a bit set in c
        takes Delta_i. Local."""
        x = self._share("xor_public x", x)
        c = self._public_words(x, c, "xor_public")
        return from_words(self.k.bauth_xor_public(words(x), c, self.delta, self.pid == 0)).reshape(x.shape)

    def invert(self, x: np.ndarray) -> np.ndarray:
        """Share of ~x (all 64 bits of every word). Local."""
        x = self._share("invert x", x)
        return self.xor_public(x, np.full(x.shape, _ALL, dtype=np.uint64))

    def and_public(self, x: np.ndarray, c: np.ndarray) -> np.ndarray:
        """Share of x & c for public words c: bits and MACs cleared where c is 0. Local."""
        x = self._share("and_public x", x)
        c = self._public_words(x, c, "and_public")
        return from_words(self.k.bauth_and_public(words(x), c)).reshape(x.shape)

    def and_public_light(self, x: np.ndarray, c: np.ndarray) -> np.ndarray:
        """:meth:`and_public` as a light word (bits and folded MAC, :data:`LAUTH`). Local."""
        x = self._share("and_public_light x", x)
        c = self._public_words(x, c, "and_public_light")
        return from_words(self.k.bauth_and_public_light(words(x), c)).reshape(x.shape)

    def and_xor_public_light(self, x: np.ndarray, c: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(:meth:`and_public_light`, :meth:`xor_public_light`) of (x, c) for full words x, as
        light words, from one pass over x's records (``bauth_and_xor_public_light``): a
        comparison's leaves. The XOR alone reads one cache line of every 528-byte record, as
        long as the AND's whole pass (2.8 against 2.6 ms on 63 x 1563 words on Zen 4). Local."""
        x = self._share("and_xor_public_light x", x)
        c = self._public_words(x, c, "and_xor_public_light")
        both = self.k.bauth_and_xor_public_light(words(x), c, self.delta, self.pid == 0)
        return tuple(from_words(o).reshape(x.shape) for o in both)

    def lt_pairs_light(self, r: np.ndarray, q: np.ndarray, c: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The first level of a comparison tree with public words c on secret planes r (2p, W),
        with no AND gate: given the pair products q_t = r_2t AND r_2t+1 (p, W) (preprocessed with
        the edaBits), the tree's L = l_h ^ e_h & l_l and E = e_h & e_l on its leaves l = r & c,
        e = r ^ c are linear in r and q:
        L = r_h & c_h ^ q & c_l ^ r_l & c_l & c_h, E = q ^ r_h & c_l ^ r_l & c_h ^ c_l & c_h.
        Light words (p, W) each, from one pass over the three records of a pair
        (``bauth_lt_pairs_light``). Local: it replaces the leaves' pass and the tree's first AND
        layer (2 gates a pair: one round, and 2 KiB of triple MACs read a word of each pair)."""
        r = self._share("lt_pairs_light r", r)
        q = self._share("lt_pairs_light q", q)
        if r.ndim != 2 or r.shape[0] % 2 or q.shape != (r.shape[0] // 2, r.shape[1]):
            raise ShareTypeError(f"lt_pairs_light: expected planes (2p, W) and their pair products (p, W), "
                                 f"got {r.shape} and {q.shape}")
        c = self._public_words(r, c, "lt_pairs_light")
        both = self.k.bauth_lt_pairs_light(words(r), words(q), c, self.delta, self.pid == 0)
        return tuple(from_words(o).reshape(q.shape) for o in both)

    def xor_public_light(self, x: np.ndarray, c: np.ndarray) -> np.ndarray:
        """:meth:`xor_public` as a light word: bits ^ c at party 0, fold ^ c * Delta_i. Local."""
        x = self._share("xor_public_light x", x, light_ok=True)
        c = self._public_words(x, c, "xor_public_light")
        fold = x["f"] ^ self.k.gf64_mul(np.ascontiguousarray(c), np.full(c.shape, self.delta, dtype=np.uint64))
        return pack_light(x["w"] ^ c if self.pid == 0 else x["w"], fold)

    def lighten(self, x: np.ndarray) -> np.ndarray:
        """The light words (bits and folded MAC) of full words x: all an AND reads of an operand,
        for values that only ever meet ANDs (:func:`mpc.engines.circuits.add_from_layers`'s P
        terms). Local."""
        return lighten(self._share("lighten x", x))

    def public(self, c: np.ndarray) -> np.ndarray:
        """A sharing of public words c. Local."""
        if not isinstance(c, np.ndarray) or c.dtype != np.uint64:
            raise ShareTypeError("public c: expected uint64 words")
        return self.xor_public(self.zeros(c.shape), c)

    def zeros(self, shape: int | Sequence[int]) -> np.ndarray:
        """A sharing of all-zero words (zero MACs). Local."""
        return np.zeros(dims(shape, "shape"), dtype=BAUTH)

    def zero_bits(self, k: int, like: np.ndarray) -> np.ndarray:
        """k zero bit planes shaped like the planes of ``like``. Local."""
        return np.zeros((int(k), *like.shape[1:]), dtype=BAUTH)

    def spread_lane0(self, planes: np.ndarray, n: int) -> np.ndarray:
        """Shares of element 0 of bit planes ``planes`` (k, W) repeated over n elements, (k,
        ceil(n / 64)), with MACs: lanes 0 .. n-1 take lane 0's bit share and its MAC share m_0
        (both linear), the padding lanes a sharing of 0 (bit 0, MAC 0: public, so an AND layer
        may say ``lanes=n``); a word's fold sum_j X^j m_j is m_0 times the polynomial of its live
        lanes, one GF(2^64) product. Local."""
        x = self._share("spread_lane0 planes", planes)
        if x.ndim != 2:
            raise ShareTypeError(f"spread_lane0: expected bit planes (k, W), got shape {x.shape}")
        live = lane_masks(n)  # (W,) the live lanes of each word
        first = x[:, 0]
        m0 = np.ascontiguousarray(first["m"][:, 0])
        out = np.zeros((x.shape[0], live.size), dtype=BAUTH)
        out["w"] = (np.uint64(0) - (first["w"] & np.uint64(1)))[:, None] & live[None, :]
        lane_on = (live[:, None] & POW2[None, :]) != 0  # (W, 64)
        out["m"] = np.where(lane_on[None, :, :], m0[:, None, None], np.uint64(0))
        out["f"] = self.k.gf64_mul(np.repeat(m0, live.size), np.tile(live, m0.size)).reshape(out.shape)
        return out

    # ------------------------------------------------------------------ AND

    def and_(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        """Share of x & y: one round."""
        return self.and_many([(x, y)])[0]

    def and_many(self, pairs: Sequence[tuple[np.ndarray, np.ndarray]],
                 light: bool | Sequence[bool] = False, lanes: int | None = None) -> list[np.ndarray]:
        """Shares of x & y for every pair, all in ONE round (see the module docstring). Operands
        may be light words (only their bits and folded MACs are read); ``light`` (one flag, or
        one per pair) returns light words (:data:`LAUTH`) for those pairs: the same protocol and
        messages, without computing and writing the 64 MACs of every output word. ``lanes`` = m:
        every operand is bit planes (rows, W) over m elements, W = ceil(m / 64), whose lanes from
        m on (the last word's padding) reveal nothing of the live lanes when opened: public
        values, the same at every party (a comparison's), or lane-wise functions of padding
        that no live lane reads (a Bristol circuit's: zero-padded inputs, which a cheating owner
        may fill with values of its own); a triple source that offers it then makes zero triples
        for those lanes (their d = x ^ 0 shows only the padding), so m < 64 elements cost m
        gates a word, not 64 (:func:`~mpc.preprocessing.base.live_lanes`)."""
        return steps.run(self.channel.exchange, self.and_steps(pairs, light, lanes))

    def and_steps(self, pairs: Sequence[tuple[np.ndarray, np.ndarray]],
                  light: bool | Sequence[bool] = False, lanes: int | None = None) -> steps.Steps[list[np.ndarray]]:
        """:meth:`and_many` as a step generator (:mod:`mpc.engines.steps`): it yields the masked
        (d_i, e_i) words once, so a lockstep can share the round with independent protocols
        (the opened words are recorded for the MAC check as in :meth:`and_many`)."""
        pairs = [self._pair(x, y, f"and_many pair {i}", light_ok=True) for i, (x, y) in enumerate(pairs)]
        flags = [bool(light)] * len(pairs) if isinstance(light, (bool, np.bool_)) else [bool(f) for f in light]
        if len(flags) != len(pairs):
            raise ShareTypeError(f"and_many: {len(flags)} light flags for {len(pairs)} pairs")
        total = int(sum(x.size for x, _ in pairs))
        if total == 0:
            return [np.zeros(x.shape, dtype=LAUTH if f else BAUTH) for (x, _), f in zip(pairs, flags, strict=True)]
        # light pairs first, then full ones: two triple requests, the light one asking for c's heads
        # only (a dealer then sends party n-1 16 bytes of c a word, not 520); the message carries
        # the pairs in that order (every party orders them alike)
        order = [i for i, f in enumerate(flags) if f] + [i for i, f in enumerate(flags) if not f]
        live = _live(pairs, lanes)
        groups = {}  # light or not -> (its triple, its first position in the processing order)
        pos = 0
        for is_light in (True, False):
            size = int(sum(pairs[i][0].size for i in order if flags[i] == is_light))
            if size:
                groups[is_light] = (self._triple(size, live, is_light), pos)
                pos += size
        k = self.k
        # only the bits and folded MACs of x and y are needed (d, e and their MACs): gathered as
        # (bits, fold) pairs, 16 bytes per record, never the 528-byte records themselves;
        # (2, total, 2): [x, y] x record x [bits, fold], straight from the (possibly strided) views
        fields = np.empty((2, total, 2), dtype=np.uint64)
        spans = {}
        start = 0
        for i in order:
            x, y = pairs[i]
            end = start + x.size
            for j, v in enumerate((x, y)):
                fields[j, start:end].reshape(*v.shape, 2)[...] = words(v)[..., :2]
            spans[i] = (start, end)
            start = end
        # d_i = x ^ a, e_i = y ^ b straight into the buffer sent, and their folded MACs: one pass
        # per operand and group over the triple's heads (a's and b's bits and folds, 16 contiguous
        # bytes a word, laid out offline: reading them from the 528-byte records took one cache
        # line a record, ~10 ns a word against 2.6); the records are read in full by the combine
        masked = np.empty(2 * total, dtype=np.uint64)
        folds = np.empty(2 * total, dtype=np.uint64)
        for t, g0 in groups.values():
            g1 = g0 + len(t.la)
            k.bauth_mask(fields[0, g0:g1], words(t.la), masked[g0:g1], folds[g0:g1])
            k.bauth_mask(fields[1, g0:g1], words(t.lb), masked[total + g0 : total + g1], folds[total + g0 : total + g1])
        opened = yield masked
        peers = self.channel.peers  # d, e = XOR of every party's part: one pass for two parties
        de = k.bxor(opened[self.pid], opened[peers[0]])
        for p in peers[1:]:
            k.bxor(de, opened[p], out=de)
        self.mac.record_bits(de, folds)
        out = [None] * len(pairs)
        for i in order:
            start, end = spans[i]
            if start == end:  # an empty pair (its group may have no triple)
                out[i] = np.zeros(pairs[i][0].shape, dtype=LAUTH if flags[i] else BAUTH)
                continue
            t, g0 = groups[flags[i]]
            o0, o1 = start - g0, end - g0
            # a light output reads only c's bits and fold: from its heads (contiguous)
            combine, cs = (k.bauth_and_light, words(t.lc)) if flags[i] else (k.bauth_and, words(t.c))
            z = combine(cs[o0:o1], words(t.a)[o0:o1], words(t.b)[o0:o1], de[start:end], de[total + start : total + end],
                        self.delta, self.pid == 0)
            out[i] = from_words(z).reshape(pairs[i][0].shape)
        self._maybe_check()
        return out

    def _triple(self, size: int, live: tuple[int, int] | None, light: bool):
        """An authenticated AND triple item of ``size`` words for one AND layer, checked: a, b as
        BAUTH words, c as BAUTH words (LAUTH for a ``light`` one from a source that serves them),
        and the heads (LAUTH) of all three."""
        triple = self.preprocessing.bit_triples(size, auth=True, live=live, light=light)
        if len(triple) != 6:
            raise ProtocolError(f"authenticated bit triple source returned {len(triple)} arrays: expected 6 "
                                "(a, b, c and their heads)")
        c_types = (BAUTH, LAUTH) if light else (BAUTH,)
        for name, t, dts in (("a", triple[0], (BAUTH,)), ("b", triple[1], (BAUTH,)), ("c", triple[2], c_types),
                             ("heads of a", triple[3], (LAUTH,)), ("heads of b", triple[4], (LAUTH,)),
                             ("heads of c", triple[5], (LAUTH,))):
            if not isinstance(t, np.ndarray) or t.dtype not in dts or t.shape != (size,):
                raise ProtocolError(f"authenticated bit triple source returned a malformed {name}: "
                                    f"expected ({size},) {'BAUTH records' if dts[0] == BAUTH else 'LAUTH words'}")
        return triple

    def _maybe_check(self) -> None:
        if self.mac.bits.pending > CHECK_EVERY_WORDS:
            self.mac.check("pending bit openings")

    # ------------------------------------------------------------------ input and output

    def _owner(self, owner: object, what: str) -> int:
        if isinstance(owner, bool) or not isinstance(owner, (int, np.integer)) or not 0 <= owner < self.n:
            raise ValueError(f"{what}: expected a party id in [0, {self.n}), got {owner!r}")
        return int(owner)

    def input(self, words_in: np.ndarray | None, owner: int, shape: int | Sequence[int]) -> np.ndarray:
        """This party's share of the words ``owner`` holds (others pass ``None``). 1 round."""
        shape = dims(shape, "shape")
        owner = self._owner(owner, "owner")
        mask, r = self.preprocessing.bit_input_masks(owner, shape)
        tag = self.channel.next_tag()
        if self.pid == owner:
            if not isinstance(words_in, np.ndarray) or words_in.dtype != np.uint64 or words_in.shape != shape:
                raise ShareTypeError(f"input: the owner must pass uint64 words of shape {shape}")
            e = self.k.bxor(words_in, r)  # uniform: r is
            for p in self.channel.peers:
                self.channel.send(p, e, tag)
        else:
            if words_in is not None:
                raise ShareTypeError(f"input: party {self.pid} is not the owner (party {owner}) and must pass None")
            e = self.channel.recv(owner, tag, dtype=np.uint64, shape=shape)
        self.mac.record_public_bits(e)
        return self.xor_public(mask, np.ascontiguousarray(e))

    def input_all(self, words_in: np.ndarray, shape: int | Sequence[int]) -> list[np.ndarray]:
        """Every party's words (all of ``shape``), shared with MACs: the list indexed by owner,
        in ONE round (each party broadcasts its masked words e = w ^ r to every peer; every e is
        recorded for the MAC check, which also confirms every party received the same). A party
        that sees the others' e first learns nothing from them (r is uniform and unknown to it),
        so what it inputs cannot depend on their words. 8 bytes per word to each peer."""
        shape = dims(shape, "shape")
        if not isinstance(words_in, np.ndarray) or words_in.dtype != np.uint64 or words_in.shape != shape:
            raise ShareTypeError(f"input_all: every party must pass uint64 words of shape {shape}")
        masks = [self.preprocessing.bit_input_masks(o, shape) for o in range(self.n)]  # every party alike
        sent = self.k.bxor(words_in, masks[self.pid][1])
        received = self.channel.exchange(sent)
        out = []
        for o in range(self.n):
            e = np.ascontiguousarray(received[o])
            self.mac.record_public_bits(e)
            out.append(self.xor_public(masks[o][0], e))
        return out

    def open_unchecked(self, flat: np.ndarray) -> np.ndarray:
        """Open the 1-d BAUTH array ``flat`` to everyone (one exchange) and record it for the MAC
        check; the opened words. The caller must not let them leave the computation before a check."""
        opened = self.channel.exchange(np.ascontiguousarray(flat["w"]))
        value = opened[self.pid].copy()
        for p in self.channel.peers:
            self.k.bxor(value, opened[p], out=value)
        self.mac.record_bits(value, flat["f"])
        return value

    def reveal(self, x: np.ndarray, to: int | None = None) -> np.ndarray | None:
        """Open x to every party (``to=None``) or to party ``to`` only (others get ``None``)."""
        return self.reveal_many([x], to=to)[0]

    def reveal_many(self, xs: Sequence[np.ndarray], to: int | None = None) -> list[np.ndarray | None]:
        """Open several shares, MAC-checked, in 7 rounds (4 when no opening is pending): the check
        of every earlier opening, the opening, its check (see the module docstring)."""
        xs = [self._share(f"reveal share {i}", x) for i, x in enumerate(xs)]
        if to is not None:
            to = self._owner(to, "to")
        total = int(sum(x.size for x in xs))
        if total == 0:
            return [np.zeros(x.shape, dtype=np.uint64) if to in (None, self.pid) else None for x in xs]
        flat = np.concatenate([x.reshape(-1) for x in xs])
        r = None
        with self.mac.output("reveal"):  # every earlier opening checked before any output share is sent
            if to is not None:  # open x ^ r for a mask r only `to` knows
                mask, r = self.preprocessing.bit_input_masks(to, (total,))
                flat = self.xor(flat, mask)
            value = self.open_unchecked(flat)
        if to is not None:
            if self.pid != to:
                return [None] * len(xs)
            value = self.k.bxor(value, r)
        out, start = [], 0
        for x in xs:
            out.append(value[start : start + x.size].reshape(x.shape))
            start += x.size
        return out


def _live(pairs: Sequence[tuple[np.ndarray, np.ndarray]], lanes: int | None) -> tuple[int, int] | None:
    """The (period, tail) of an AND layer on bit planes over ``lanes`` elements (see
    :meth:`AuthBits.and_many`), or None (every lane live)."""
    if lanes is None:
        return None
    w = -(-int(lanes) // 64)
    if isinstance(lanes, bool) or lanes < 1 or any(x.ndim < 1 or x.shape[-1] != w for x, _ in pairs):
        raise ShareTypeError(f"and_many: lanes={lanes!r} needs every operand to be bit planes of {w} words")
    return w, int(lanes) - 64 * (w - 1)
