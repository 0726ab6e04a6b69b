"""spdz2k: actively secure additive sharing with MACs over Z_2^(k+s), k = s = 64, N >= 2 parties.

Cramer, Damgard, Escudero, Scholl, Xing, "SPDZ2k: Efficient MPC mod 2^k for Dishonest Majority",
CRYPTO 2018. Security model: malicious (active) adversary corrupting any n-1 of the n parties,
security with abort: a deviation that would change any value mod 2^64 makes every honest party
raise :class:`~mpc.errors.CheatingDetected` before any affected value is revealed, except with
probability at most 2^(-s + log2(s + 1)) per check (~2^-58; :mod:`mpc.engines.mac_check`), and
2^-63 for the bits of the boolean side. Not
protected: fairness (a cheater may see an output the others then refuse) and denial of service
(any party can make the run abort). Preprocessing: authenticated material from the trusted
dealer (which knows the MAC key: it is trusted with everything it makes, as for semi2k;
:mod:`mpc.preprocessing.authenticated`), or, dealer-free, from the parties' own OT offline phase
(``preprocessing="ot"``, :mod:`mpc.preprocessing.ot_spdz`: MAC keys nobody knows, triples,
squares, matrix material with MASCOT's combine and SPDZ2k's sacrifice, and from authenticated
random bits every other kind: truncation, division (any public d) and truncating-product tuples,
daBits, edaBits and AND triples; so every operation runs with either source).

Shares (:mod:`mpc.sharing.authenticated`): a value x in Z_2^64 is shared as x' in Z_2^128 with
x' = x mod 2^64 (the upper bits carry no meaning), together with MAC shares m_i, sum m_i =
alpha x' mod 2^128; one 32-byte :data:`~mpc.sharing.authenticated.AUTH` record per element.
Opened values are reduced mod 2^64 before they leave the engine, so the encodings and the
tensor layer are those of semi2k.

Operations and costs (n parties; "elements" are Z_2^128 elements of 16 bytes sent by each party
to each peer, per element of the result; every opening is recorded for the next MAC check):
- add/sub/neg, public add (party 0 adds c to its value share, every party adds alpha_i c to its
  MAC share), public multiplication and public matrix products (value and MAC alike): local,
  0 rounds, 0 bytes.
- input by party j: an ``input`` mask [r] whose value r the owner received from the dealer; the
  owner sends e = x - r (uniform) to every peer, and [x] = [r] + e. 1 round, 1 element from the
  owner. That every party received the same e is verified by the MAC check (a broadcast
  consistency check). Same cost as semi2k's dealer-free input plus the round.
- mul (Beaver, as semi2k): open d = x - a and e = y - b (one exchange, 2 elements), then
  z = c + d b + e a + d e (d e added by party 0 to its value, alpha_i d e to every MAC share),
  with d and e taken mod 2^64: public coefficients keep z authenticated, and z = x y mod 2^64,
  all a value means (as for matmul below; 11 word multiplications per element instead of 17).
  So the message is planar, the low words of d and e, then their high words: the combine reads
  the low words of each party's part only (8 bytes of each per element, not 16), and the MAC
  check reads both planes. 1 round, 2(n-1) elements per party: twice semi2k's bytes. square:
  (a, a^2), 1 element, the same way.
- matmul (m,k)@(k,n), optionally batched: 1 round, (n-1)(mk + kn) elements, one matrix triple.
  Local work: two products mod 2^128, D (k, 2n) and (2m, k) E (value and MAC columns or rows
  side by side: 4mkn multiply-adds), with D and E as their low 64 bits (public coefficients:
  the result stays authenticated and right mod 2^64, see ``_matmul_combine``), in one kernel
  call (``auth_matmul_combine``: the operands packed straight from the records, the products
  accumulated straight into the result's records, no Z_2^128 temporaries). Each 64 x 128-bit
  product is exact: uint64 products for its low word, the high halves' product and the cross
  words (on the AVX-512 Winograd kernel when the CPU has it) and one float64 product from which
  the high word is recovered exactly within a proven error bound: 12mkn uint64 and 8mkn float64
  multiply-adds in all, against 2mkn for semi2k (formerly 28mkn uint64 limb products; 1.3-1.4x
  faster at 256^3, ``bench/kernels``). The MAC check's share of a product is linear: the opened
  D and E are recorded in full (mk + kn elements). A public matrix times shares is local: a
  Z_2^128 product of the public words with value and MAC columns side by side, or, for at most
  :data:`LINCOMB_ROWS` rows of 64-bit weights (the function library's weighted sums of onehot
  rows), weighted sums of the shares' rows (``auth_lincomb``), which reads each share once.
- truncation and division by a public d (:meth:`Spdz2k.divide_many`): semi2k's exact protocol
  (floor(x/d) plus at most one ulp for powers of two, two otherwise; never a wrap for
  |x| < 2^62), computed on the low 64 bits of the opened c = x + 2^62 + r: an authenticated
  (r, r64 >> k (or floor(r64/d)), msb(r64)) (the dealer's, or the OT source's ``trunc`` and
  ``div`` tuples, the same items) with r uniform in Z_2^128 and r64 its
  low word, so c is uniform and the rest is linear in the tuple. 1 round, 1 element. Local work:
  one fused masking pass (``auth_add_split``: the value shares of x + r + 2^62 into the buffer
  sent, the MAC shares into the check's record) and one fused finish (``auth_lincomb``:
  (1 - msb(c)) floor(2^64/d) [msb(r)] - [r >> k] + public, value and MAC in one pass).
- truncating products (:meth:`Spdz2k.mul_truncating`, :meth:`Spdz2k.square_truncating`): the
  product of floor(x / 2^k1) and floor(y / 2^k2) in ONE round of 2 elements, as semi2k's
  (:mod:`mpc.engines.semi2k`, the truncation's opening is the product's), from the dealer's
  authenticated ``tmul`` tuple (r1, r2 uniform in Z_2^128; A_j = r_j64 >> k_j, M_j = msb(r_j64)
  and their cross products A1A2, M1A2, A1M2, M1M2 computed mod 2^64 and authenticated as
  Z_2^128 values): open c1 = x + 2^62 + r1 and c2 = y + r2 (+ 2^62), then with the public
  P_j = (c_j64 >> k_j) - 2^(62-k_j), T_j = (1 - msb(c_j64)) 2^(64-k_j),
  z = P1 P2 - P1 [A2] + P1 T2 [M2] - P2 [A1] + P2 T1 [M1] + [A1A2] - T2 [A1M2] - T1 [M1A2]
  + T1 T2 [M1M2] (k2 = 0: P2 = c2 and [A2] = [r2], no M2 terms), in one pass
  (``auth_tmul_finish``: the P_j, T_j made from the opened low words in registers, then
  ``auth_lincomb``'s sum of those terms).
  Every coefficient is a public 64-bit integer and every term authenticated, so z is an
  authenticated sharing whose value is right mod 2^64 (its upper 64 bits carry no meaning, as
  for every SPDZ2k value) and the MAC relation holds mod 2^128; the one opening (c1, c2) is
  recorded for the MAC check, so a cheater changes an opened value (caught by the check) or its
  own share of the result (caught when the result is opened). Squares likewise from a
  ``tsquare`` tuple (1 element): z = P^2 - 2P [A] + [AA] - 2T [AM] + (2PT + T^2) [M]
  (``auth_tsquare_finish``, one pass). The
  dealer and the dealer-free OT source both make them (:mod:`mpc.preprocessing.ot_spdz_div`:
  the products by Beaver, exact mod 2^128, right mod 2^64 as the engine needs); a source that
  made none (:func:`folds_truncation`) would get the truncations first and the product after:
  2 rounds, ``trunc`` only.
- lockstep (:mod:`mpc.engines.steps`): the one-round protocols are step generators
  (``mul_steps``, ``mul_truncating_steps``, ``divide_steps``, ``truncate_steps``; the bits'
  :meth:`~mpc.engines.authbits.AuthBits.and_steps` and the converter's ``msb_steps``), the plain
  methods run them, and :meth:`Spdz2k.round_exchange` merges the openings of independent
  protocols into one message per round (the rounds of the longest, the bytes of all): sigmoid
  and tanh take 8 rounds as under semi2k (formerly 18), exp 13 (27), softmax of 10 logits 31
  (51; the converter's ``msb_planes_steps``, ``a2b_steps``, ``b2a_steps``), ReLU of a product
  truncates in the MSB circuit's rounds. The MAC check is unchanged: every opening of a protocol run in lockstep is
  recorded as when it runs alone, and the one deferred check covers them all.
- open (reveal) to everyone: first the MAC check of everything opened so far (3 rounds, none
  when nothing is pending; :meth:`MacCheck.output`): no share of an output is sent before
  the openings it was computed from are verified, else a cheater that tampered with one of them
  could make the output any function of another party's input and see it before the check fails.
  Then [x + 2^64 u] is opened with the 2^64 u of a ``rand`` item (dealt as shares of its own, u
  uniform: the upper 64 bits of x', which could tell how products overflowed, stay hidden), then
  the MAC check of that opening (3 rounds, :mod:`mpc.engines.mac_check`), then the low 64 bits
  are returned: 7 rounds (4 when nothing was pending), 1 element. Open to party j only: the
  check, then [x - r] with an ``input`` mask of j's is opened to everyone and checked, and j
  adds r: 7 rounds (4).
- A MAC check also runs when more than :data:`CHECK_EVERY` opened elements are pending (memory),
  and at the end of the session (:meth:`Spdz2k.finish`).

Boolean side: ``engine.bits`` is an actively secure boolean engine (XOR-shared bits with GF(2^64)
MACs, :mod:`mpc.engines.authbits`) and ``engine.converter`` the bit protocols over both
(:mod:`mpc.engines.spdz2k_convert`: MSB, zero test, A2B by edaBits, B2A and bit times value by
authenticated daBits), so comparisons, ReLU, max/argmax, sort, clip and every function of
:mod:`mpc.functions` run with active security too. The party's GMW engine (``party.gmw``, for
SecretBits) stays semi-honest and is never used by this engine. One MAC check covers the ring
and the bit openings (:mod:`mpc.engines.mac_check`): every reveal runs it before any value
leaves, whichever side the value comes from.
"""

from __future__ import annotations

import types
from collections.abc import Sequence

import numpy as np

from mpc._core._checks import AUTH_LINCOMB_TERMS
from mpc.engines import steps
from mpc.engines.authbits import AuthBits
from mpc.engines.base import BooleanEngine, EngineContext
from mpc.engines.mac_check import MacCheck
from mpc.engines.spdz2k_convert import Spdz2kConverter
from mpc.errors import ShareTypeError
from mpc.net.channel import Channel
from mpc.preprocessing import ot_spdz
from mpc.preprocessing.base import Preprocessing
from mpc.sharing.authenticated import AUTH, cumsum128, from_pairs, lift64, low64, pairs, sum128
from mpc.sharing.flat import concat_flat, split_flat

__all__ = ["CHECK_EVERY", "Spdz2k", "build"]

TRUNC_BOUND_BITS = 62
# public_matmul with at most this many rows of 64-bit weights sums weighted rows (auth_lincomb)
# instead of a Z_2^128 matrix product: the weighted sums of onehot rows in the function library are
# (1, k) @ (k, N), where matmul128's float path pays its splits for one output row (k = 64,
# N = 10^5: 30 ms against 130 ms on this VM; the two meet near 16 rows)
LINCOMB_ROWS = 8
CHECK_EVERY = 1 << 22  # opened elements (32 or 48 bytes each kept, see mac_check) before a MAC check is forced


def folds_truncation(preprocessing: Preprocessing) -> bool:
    """Whether ``preprocessing`` serves authenticated ``tmul`` and ``tsquare`` tuples (truncating
    products in one round): the dealer and the local sources do, and the dealer-free OT source
    as its :data:`~mpc.preprocessing.ot_spdz.DEALER_FREE` lists them
    (:mod:`mpc.preprocessing.ot_spdz_div`). Otherwise the engine would truncate first and
    multiply after (2 rounds), with ``trunc`` material only."""
    if isinstance(preprocessing, ot_spdz.SpdzOTPreprocessing):
        return {"tmul", "tsquare"} <= set(ot_spdz.DEALER_FREE)
    return True


def _words(x: np.ndarray) -> np.ndarray:
    """AUTH records as (..., 4) uint64 words (value lo, hi, MAC lo, hi): the kernels' layout."""
    return pairs(x).reshape(*x.shape, 4)


def _records(w: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    return from_pairs(w.reshape(*shape, 2, 2))


class Spdz2k:
    """The spdz2k engine of one party; see the module docstring for protocols and costs."""

    name = "spdz2k"
    share_dtype = AUTH
    trunc_bound_bits = TRUNC_BOUND_BITS

    def __init__(self, channel: Channel, preprocessing: Preprocessing, *, kernels: types.SimpleNamespace,
                 boolean: BooleanEngine | None = None, dry: bool = False) -> None:
        self.channel = channel
        self.pid = channel.pid
        self.n = channel.n
        self.preprocessing = preprocessing
        self.kernels = kernels
        self.alpha = int(preprocessing.mac_key_share())  # alpha_i in [0, 2^64)
        delta = int(preprocessing.bit_mac_key_share())  # Delta_i in GF(2^64)
        self.mac = MacCheck(channel, self.alpha, kernels, delta=delta, dry=dry)
        self.bits = AuthBits(channel, preprocessing, kernels, self.mac, delta)
        self.converter = Spdz2kConverter(self, self.bits, preprocessing)
        self.folds_truncation = folds_truncation(preprocessing)

    def __repr__(self) -> str:
        return f"Spdz2k(pid={self.pid}, n={self.n})"

    # ------------------------------------------------------------------ local (linear) operations

    def _map2(self, fn, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        """fn on value and MAC shares alike (an elementwise Z_2^128 kernel on both)."""
        return from_pairs(fn(pairs(x), pairs(y))).reshape(x.shape)

    def add(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        return self._map2(self.kernels.add128, x, y)

    def sub(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        return self._map2(self.kernels.sub128, x, y)

    def neg(self, x: np.ndarray) -> np.ndarray:
        return from_pairs(self.kernels.neg128(pairs(x))).reshape(x.shape)

    def zeros(self, shape: Sequence[int]) -> np.ndarray:
        return np.zeros(tuple(shape), dtype=AUTH)

    def _add_public128(self, x: np.ndarray, c: np.ndarray) -> np.ndarray:
        """Share of x + c for a public Z_2^128 array c ((*x.shape, 2) words): party 0 adds c to
        its value share, every party alpha_i c to its MAC share."""
        z = self.kernels.auth_add_public(_words(x), np.ascontiguousarray(c, dtype=np.uint64), self.alpha,
                                         self.pid == 0)
        return _records(z, x.shape)

    def add_public(self, x: np.ndarray, c: np.ndarray) -> np.ndarray:
        """Share of x + c for a public uint64 ring array c of x's shape."""
        return self._add_public128(x, lift64(c))

    def sub_public(self, x: np.ndarray, c: np.ndarray) -> np.ndarray:
        return self._add_public128(x, self.kernels.neg128(lift64(c)))

    def public_sub(self, c: np.ndarray, x: np.ndarray) -> np.ndarray:
        return self.add_public(self.neg(x), c)

    def public_share(self, c: np.ndarray) -> np.ndarray:
        """A sharing of the public value c (party 0 holds c; every MAC share alpha_i c)."""
        return self.add_public(self.zeros(np.shape(c)), np.asarray(c, dtype=np.uint64))

    def mul_public(self, x: np.ndarray, c: np.ndarray | int) -> np.ndarray:
        """Share of x * c for a public ring array of x's shape, or a public integer (mod 2^64)."""
        if isinstance(c, np.ndarray):
            m = np.ascontiguousarray(np.broadcast_to(np.asarray(c, dtype=np.uint64)[..., None], (*x.shape, 2)))
        else:
            m = np.full((*x.shape, 2), int(c) % (1 << 64), dtype=np.uint64)
        return from_pairs(self.kernels.mul128_64(pairs(x), m)).reshape(x.shape)

    def _matmul_left(self, d: np.ndarray, x: np.ndarray) -> np.ndarray:
        """d @ x for a public 2-d d (uint64 (m,k), or Z_2^128 (m,k,2)) and shares x (k,n)."""
        k, n = x.shape
        if d.ndim == 2 and 0 < d.shape[0] <= LINCOMB_ROWS and k:  # few rows: weighted sums of x's rows
            return np.stack([self._weighted_rows(row, x) for row in d])
        both = pairs(x).reshape(k, 2 * n, 2)  # columns: value, MAC, value, MAC...
        return from_pairs(self.kernels.matmul128(d, both).reshape(d.shape[0], n, 2, 2))

    def _weighted_rows(self, w: np.ndarray, x: np.ndarray) -> np.ndarray:
        """sum_j w[j] x[j] for 64-bit public weights w (k,) and shares x (k, n): auth_lincomb over
        the rows, the running sum carried into the next call as its first term."""
        per = AUTH_LINCOMB_TERMS - 1
        acc = self.lincomb([(x[j], int(w[j])) for j in range(min(len(w), per + 1))], None, x.shape[1:])
        for s in range(per + 1, len(w), per):
            acc = self.lincomb([(acc, 1)] + [(x[j], int(w[j])) for j in range(s, min(len(w), s + per))], None,
                               x.shape[1:])
        return acc

    def _matmul_right(self, x: np.ndarray, d: np.ndarray) -> np.ndarray:
        """x @ d for shares x (m,k) and a public 2-d d (uint64 or Z_2^128)."""
        m, k = x.shape
        rows = np.ascontiguousarray(pairs(x).transpose(0, 2, 1, 3)).reshape(2 * m, k, 2)  # value row, MAC row
        prod = self.kernels.matmul128(rows, d)  # (2m, n, 2)
        return from_pairs(np.ascontiguousarray(prod.reshape(m, 2, d.shape[1], 2).transpose(0, 2, 1, 3)))

    def matmul_public(self, x: np.ndarray, c: np.ndarray) -> np.ndarray:
        """Share of x @ c for a public ring matrix c: 2-d, or batched 3-d. Local."""
        if x.ndim == 2:
            return self._matmul_right(x, c)
        return np.stack([self._matmul_right(x[i], c[i]) for i in range(x.shape[0])])

    def public_matmul(self, c: np.ndarray, x: np.ndarray) -> np.ndarray:
        """Share of c @ x for a public ring matrix c: 2-d, or batched 3-d. Local."""
        if c.ndim == 2:
            return self._matmul_left(c, x)
        return np.stack([self._matmul_left(c[i], x[i]) for i in range(c.shape[0])])

    def sum(self, x: np.ndarray, axis: tuple[int, ...], keepdims: bool = False) -> np.ndarray:
        return from_pairs(sum128(pairs(x), axis, keepdims))

    def cumsum(self, x: np.ndarray, axis: int) -> np.ndarray:
        return from_pairs(cumsum128(pairs(x), axis))

    # ------------------------------------------------------------------ openings

    def _open(self, x: np.ndarray) -> np.ndarray:
        """Open the flat AUTH array x to everyone (one exchange) and record it for the MAC check:
        the opened values, (N, 2) words."""
        w = pairs(x.reshape(-1))
        return self._open_split(np.ascontiguousarray(w[:, 0, :]), w[:, 1, :])

    def _open_split(self, values: np.ndarray, macs: np.ndarray) -> np.ndarray:
        """Open value shares (N, 2) whose MAC shares are ``macs``: one exchange, then recorded."""
        return steps.run(self.channel.exchange, self._open_steps(values, macs))

    def _open_steps(self, values: np.ndarray, macs: np.ndarray) -> steps.Steps[np.ndarray]:
        """:meth:`_open_split` as a step generator (:mod:`mpc.engines.steps`): it yields the value
        shares (N, 2) once and records the opening with ``macs`` for the next MAC check; the
        opened sum."""
        own, rest = yield from self._open_parts_steps(values, macs)
        return self.kernels.add128(own, rest)

    def _open_low(self, values: np.ndarray, macs: np.ndarray) -> np.ndarray:
        """Open value shares (N, 2) whose MAC shares are ``macs`` (one exchange, recorded): the
        opened values' low 64 bits (N,), the summands added in one pass over their low words."""
        return _low_sum(*steps.run(self.channel.exchange, self._open_parts_steps(values, macs)))

    def _open_parts_steps(self, values: np.ndarray, macs: np.ndarray
                          ) -> steps.Steps[tuple[np.ndarray, np.ndarray]]:
        """:meth:`_open_steps` without the summing pass: (this party's value shares as sent, the
        peers' sum as received (summed when there are several)), whose sum is the opened value;
        the opening is recorded as those two summands (:meth:`MacCheck.record_sum`), so a
        consumer that sums them in its own pass (the low words of a truncation's opening) reads
        each buffer once and no opened-values array is made (a Beaver opening goes planar
        instead, :meth:`_open_planar_steps`)."""
        parts = yield values
        m = values.shape[0]
        return values, self.record_parts(values, [parts[p].reshape(m, 2) for p in self.channel.peers], macs)

    def record_parts(self, values: np.ndarray, peer_parts: Sequence[np.ndarray], macs: np.ndarray) -> np.ndarray:
        """An opening received as the peers' parts of it: their sum (the peers' part itself for two
        parties: no pass), with this party's ``values`` recorded as its two summands for the next
        MAC check (and a check now if one is due). For openings that share a message with other
        data (the bit injection's d beside its bits, :mod:`mpc.engines.spdz2k_convert`)."""
        rest = peer_parts[0]
        if len(peer_parts) > 1:
            rest = self.kernels.add128(peer_parts[0], peer_parts[1])
            for p in peer_parts[2:]:
                self.kernels.add128(rest, p, out=rest)
        self.mac.record_sum((values, rest), macs)
        self.checkpoint()
        return rest

    def round_exchange(self, payload: np.ndarray) -> list[np.ndarray]:
        """The exchange a lockstep of this engine's (and its authenticated boolean side's) step
        generators uses: one all-to-all message on the channel (:func:`mpc.engines.steps.lockstep`).
        Every opening of a protocol run in lockstep is recorded for the MAC check as when it runs
        alone: the lockstep only frames the messages together."""
        return self.channel.exchange(payload)

    def _masked(self, pairs_: Sequence[tuple[np.ndarray, np.ndarray]],
                planar: bool = False) -> tuple[np.ndarray, np.ndarray]:
        """x - a for each (x, a), value shares into one buffer to send and MAC shares into another
        (one pass per pair: the Beaver masking). The buffer is (N, 2) words, or with ``planar``
        (2, N): the values' low words, then their high words (:meth:`_open_planar_steps`)."""
        total = sum(x.size for x, _ in pairs_)
        vals = np.empty((2, total) if planar else (total, 2), dtype=np.uint64)
        macs = np.empty((total, 2), dtype=np.uint64)
        pos = 0
        for x, a in pairs_:
            xs, as_, at = _words(x).reshape(-1, 4), _words(a).reshape(-1, 4), slice(pos, pos + x.size)
            if planar:
                self.kernels.auth_sub_split_planar(xs, as_, vals[0, at], vals[1, at], macs[at])
            else:
                self.kernels.auth_sub_split(xs, as_, vals[at], macs[at])
            pos += x.size
        return vals, macs

    def _open_planar_steps(self, vals: np.ndarray, macs: np.ndarray) -> steps.Steps[tuple[np.ndarray, np.ndarray]]:
        """Open value shares sent planar (``vals`` (2, N): low words, then high words) whose MAC
        shares are ``macs``: one yielded exchange, the opening recorded for the MAC check as its
        planar summands (this party's and each peer's, no pass over them); returns this party's
        low words as sent and the peers' low words summed (mod 2^64): all that a Beaver combine
        reads, since it takes the opened D mod 2^64, so it reads 8 bytes of each summand per
        element instead of 16 (W1 at 10^6: about 1.4 of 7.3 ms of the combine alone)."""
        parts = yield vals
        m = vals.shape[1]
        theirs = [parts[p].reshape(2, m) for p in self.channel.peers]
        self.mac.record_planar((vals[0], *(t[0] for t in theirs)), (vals[1], *(t[1] for t in theirs)), macs)
        self.checkpoint()
        rest = theirs[0][0]
        if len(theirs) > 1:  # a new array: the received ones stay as recorded
            rest = theirs[0][0] + theirs[1][0]
            for t in theirs[2:]:
                rest += t[0]
        return vals[0], rest

    def open_unchecked(self, x: np.ndarray) -> np.ndarray:
        """Open the flat AUTH array x (one exchange), recorded for the next MAC check: the opened
        Z_2^128 values. For the bit protocols (:mod:`mpc.engines.spdz2k_convert`), which open
        only values masked by fresh dealer randomness; nothing opened may leave before a check."""
        return self._open(x)

    def open_masked_steps(self, x: np.ndarray, r: np.ndarray) -> steps.Steps[np.ndarray]:
        """Open x + r for flat AUTH arrays x and r (a fresh mask) as a step generator: one
        yielded exchange of the value shares (one fused pass writes them and their MAC shares),
        recorded for the next MAC check; the opened Z_2^128 values (N, 2). For the bit
        protocols (:mod:`mpc.engines.spdz2k_convert`); nothing opened may leave before a check."""
        return (yield from self._open_steps(*self._mask_add([(x, r, 0)])))

    def checkpoint(self) -> None:
        """A MAC check now when more than :data:`CHECK_EVERY` opened elements are pending (memory)."""
        if self.mac.ring.pending > CHECK_EVERY:
            self.mac.check("pending openings")

    def input(self, value: np.ndarray | None, owner: int, shape: tuple[int, ...]) -> np.ndarray:
        """This party's share of the owner's ``value`` (a ring array; ``None`` at non-owners). 1 round."""
        shape = tuple(shape)
        mask, r = self.preprocessing.input_masks(owner, shape)
        tag = self.channel.next_tag()
        if self.pid == owner:
            if value is None or value.shape != shape or value.dtype != np.uint64:
                raise ShareTypeError(f"input: the owner must pass a uint64 ring array of shape {shape}")
            e = self.kernels.sub128(lift64(value), r)  # uniform: r is
            for p in self.channel.peers:
                self.channel.send(p, e, tag)
        else:
            e = self.channel.recv(owner, tag, dtype=np.uint64, shape=(*shape, 2))
        self.mac.record_public(e)
        return self._add_public128(mask, e)

    def open(self, shares: Sequence[np.ndarray], to: int | None = None) -> list[np.ndarray] | None:
        """Open several shared arrays, MAC-checked, in 7 rounds (4 when no opening is pending);
        ``None`` at the parties other than ``to``. In a :meth:`MacCheck.output` block: first the
        check of every opening so far (3 rounds: no share of an output is sent before the values
        it was computed from are verified), then the opening (1), then its check (3): nothing is
        returned before it passes."""
        flat = concat_flat(shares) if shares else self.zeros((0,))
        shapes = [s.shape for s in shares]
        k = self.kernels
        with self.mac.output("reveal"):
            if to is None:
                opened = self._open(self.add(flat, self.preprocessing.random_high(flat.shape)))
            else:
                mask, r = self.preprocessing.input_masks(to, flat.shape)
                opened = self._open(self.sub(flat, mask))
        if to is None:
            return split_flat(low64(opened), shapes)
        if self.pid != to:
            return None
        return split_flat(low64(k.add128(opened, r)), shapes)

    def finish(self) -> None:
        """The final MAC check of every opening not checked yet (3 rounds, none when there is none)."""
        self.mac.check("session end")

    # ------------------------------------------------------------------ multiplications

    def mul(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        """Share of x * y (elementwise, equal shapes): Beaver with an authenticated triple, 1 round.
        Local work: one masking pass per operand (value shares straight into the buffer sent, low
        words apart from high words, MAC shares into the check's record) and one fused combine
        (``auth_beaver_combine``, which sums the low words of the opening's summands, the shares
        sent and the peers' received, in the same pass: the opening is recorded for the check as
        those summands, no summed array is made; :meth:`_open_planar_steps`)."""
        return steps.run(self.channel.exchange, self.mul_steps(x, y))

    def mul_steps(self, x: np.ndarray, y: np.ndarray) -> steps.Steps[np.ndarray]:
        """:meth:`mul` as a step generator (:mod:`mpc.engines.steps`)."""
        a, b, c = self.preprocessing.triples(x.shape, auth=True)
        n = x.size
        own, rest = yield from self._open_planar_steps(*self._masked([(x, a), (y, b)], planar=True))
        z = self.kernels.auth_beaver_combine(_words(c).reshape(-1, 4), _words(a).reshape(-1, 4),
                                             _words(b).reshape(-1, 4), own[:n], own[n:], self.alpha,
                                             self.pid == 0, rest[:n], rest[n:])
        return _records(z, x.shape)

    def square(self, x: np.ndarray) -> np.ndarray:
        """Share of x * x from an authenticated square pair (a, a^2): 1 round, 1 element. The
        combine sums the opening's two summands in its pass, as :meth:`mul`'s does."""
        a, c = self.preprocessing.square_pairs(x.shape, auth=True)
        own, rest = steps.run(self.channel.exchange, self._open_planar_steps(*self._masked([(x, a)], planar=True)))
        z = self.kernels.auth_square_combine(_words(c).reshape(-1, 4), _words(a).reshape(-1, 4), own, self.alpha,
                                             self.pid == 0, rest)
        return _records(z, x.shape)

    def matmul(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        """Share of x @ y for (m,k)@(k,n), or batched (B,m,k)@(B,k,n): 1 round."""
        batched = x.ndim == 3
        m, kk, n = x.shape[-2], x.shape[-1], y.shape[-1]
        a, b, c = self.preprocessing.matmul_triples(m, kk, n, batch=x.shape[0] if batched else None, auth=True)
        opened = self._open_low(*self._masked([(x, a), (y, b)]))
        d, e = opened[: x.size].reshape(x.shape), opened[x.size :].reshape(y.shape)
        if not batched:
            return self._matmul_combine(a, b, c, d, e)
        return np.stack([self._matmul_combine(a[i], b[i], c[i], d[i], e[i]) for i in range(x.shape[0])])

    def _matmul_combine(self, a, b, c, d, e) -> np.ndarray:
        """Z = C + D B + A E + D E with D E folded into the first product, as semi2k does: the
        value share is C + D (B + [party 0] E) + A E and the MAC share C + D (B_m + alpha_i E) + A_m E,
        so D multiplies one (k, 2n) matrix and E one (2m, k): two products, not five, in one
        kernel call (``auth_matmul_combine``: the folded B and both products' operands packed
        straight from the records, the products accumulated straight into Z's records). D and E
        enter as their low 64 bits: any public coefficients give an authenticated result (the
        MAC relation holds mod 2^128 as for every linear function), and D, E mod 2^64 give
        X Y mod 2^64, all a SPDZ2k value means: ``d``, ``e`` are the opened D, E's low words
        (uint64 (m, k) and (k, n)). The opened D, E are recorded for the MAC check in full."""
        m, n = c.shape
        z = self.kernels.auth_matmul_combine(_words(c), _words(a), _words(b), d, e, self.alpha, self.pid == 0)
        return _records(z, (m, n))

    # ------------------------------------------------------------------ truncation and division

    def lincomb(self, terms: Sequence[tuple[np.ndarray, np.ndarray | int]], public: np.ndarray | None,
                 shape: tuple[int, ...]) -> np.ndarray:
        """sum_t coef_t [x_t] + public for AUTH shares x_t and public uint64 coefficients (arrays
        of the element count, or integers), all mod 2^64 in meaning: one fused pass
        (``auth_lincomb``). A coefficient c acts on the Z_2^128 share as c (0 <= c < 2^64), so the
        low 64 bits of the value are sum c_t x_t mod 2^64 and the MAC relation holds mod 2^128."""
        xs = [_words(x).reshape(-1, 4) for x, _ in terms]
        coefs = [c if isinstance(c, np.ndarray) else int(c) % (1 << 64) for _, c in terms]
        z = self.kernels.auth_lincomb(xs, coefs, public, self.alpha, self.pid == 0)
        return _records(z, shape)

    def _mask_add(self, items: Sequence[tuple[np.ndarray, np.ndarray, int]]) -> tuple[np.ndarray, np.ndarray]:
        """x + r (+ the public c) for each (x, r, c): value shares into one buffer to send and MAC
        shares into another, one pass per item (``auth_add_split``)."""
        total = sum(x.size for x, _, _ in items)
        vals = np.empty((total, 2), dtype=np.uint64)
        macs = np.empty((total, 2), dtype=np.uint64)
        pos = 0
        for x, r, c in items:
            self.kernels.auth_add_split(_words(x).reshape(-1, 4), _words(r).reshape(-1, 4), c, self.alpha,
                                        self.pid == 0, vals[pos : pos + x.size], macs[pos : pos + x.size])
            pos += x.size
        return vals, macs

    def divide_many(self, xs: Sequence[np.ndarray], d: int) -> list[np.ndarray]:
        """Shares of x / d for a public integer 2 <= d <= 2^62 and each |x| < 2^62: 1 round in all."""
        return steps.run(self.channel.exchange, self.divide_steps(xs, d))

    def _truncate_each_steps(self, items: Sequence[tuple[np.ndarray, int]]) -> steps.Steps[list[np.ndarray]]:
        """floor(x / 2^k) (up to one ulp) for each (x, k), in one opening."""
        return (yield from self._divide_steps([(x, 1 << k) for x, k in items]))

    def divide_steps(self, xs: Sequence[np.ndarray], d: int) -> steps.Steps[list[np.ndarray]]:
        """:meth:`divide_many` as a step generator (:mod:`mpc.engines.steps`): the masked
        x + 2^62 + r of every x in one yielded opening, then per x one fused pass
        y = (1 - msb(c)) floor(2^64 / d) [msb(r)] - [r >> k] + (c64 // d - 2^62 // d)."""
        return (yield from self._divide_steps([(x, int(d)) for x in xs]))

    def _divide_steps(self, items: Sequence[tuple[np.ndarray, int]]) -> steps.Steps[list[np.ndarray]]:
        """x / d for each (x, d), all in one opening (see :meth:`divide_steps`)."""
        if not items:
            return []  # nothing to open: no round
        tuples = [self.preprocessing.trunc_triples(x.shape, d.bit_length() - 1, auth=True) if d & (d - 1) == 0
                  else self.preprocessing.div_triples(x.shape, d, auth=True) for x, d in items]
        own, rest = yield from self._open_parts_steps(*self._mask_add([(x, t.r, 1 << TRUNC_BOUND_BITS)
                                                                       for (x, _), t in zip(items, tuples, strict=True)]))
        out, pos = [], 0
        for (x, d), t in zip(items, tuples, strict=True):
            span = slice(pos, pos + x.size)
            pos += x.size
            # one pass (auth_div_finish): c = the opened low words (own + rest), then the lincomb
            # (1 - msb(c)) floor(2^64 / d) [msb(r)] - [r >> k] + (c // d - floor(2^62 / d)), the
            # division a shift for a power of two (NumPy took six passes and a uint64 division)
            z = self.kernels.auth_div_finish(own[span], rest[span], _words(t.r_msb).reshape(-1, 4),
                                             _words(t.r_high).reshape(-1, 4), d, self.alpha, self.pid == 0)
            out.append(_records(z, x.shape))
        return out

    def truncate_many(self, xs: Sequence[np.ndarray], k: int) -> list[np.ndarray]:
        """Shares of floor(x / 2^k) or that + 1, for each |x| < 2^62: 1 round in all."""
        return self.divide_many(xs, 1 << k)

    def truncate_steps(self, xs: Sequence[np.ndarray], k: int) -> steps.Steps[list[np.ndarray]]:
        """:meth:`truncate_many` as a step generator (:mod:`mpc.engines.steps`)."""
        return (yield from self.divide_steps(xs, 1 << k))

    def mul_truncating(self, x: np.ndarray, kx: int, y: np.ndarray, ky: int) -> np.ndarray:
        """floor(x / 2^kx) * floor(y / 2^ky) (a shift of 0 leaves that operand as is), each floor
        exact up to one ulp as in :meth:`truncate_many`: 1 round, 2 elements, from an
        authenticated ``tmul`` tuple (see the module docstring). |x|, |y| < 2^62 where truncated."""
        return steps.run(self.channel.exchange, self.mul_truncating_steps(x, kx, y, ky))

    def mul_truncating_steps(self, x: np.ndarray, kx: int, y: np.ndarray, ky: int) -> steps.Steps[np.ndarray]:
        """:meth:`mul_truncating` as a step generator (:mod:`mpc.engines.steps`)."""
        if not kx and not ky:
            return (yield from self.mul_steps(x, y))
        if not self.folds_truncation:  # no tmul tuples from this source: truncate, then multiply
            todo = [v for v, s in ((x, kx), (y, ky)) if s]
            shifts = [s for s in (kx, ky) if s]
            if len(set(shifts)) == 1:
                done = iter((yield from self.truncate_steps(todo, shifts[0])))
            else:
                done = iter((yield from self._truncate_each_steps(list(zip(todo, shifts, strict=True)))))
            return (yield from self.mul_steps(next(done) if kx else x, next(done) if ky else y))
        if not kx:  # the product commutes: the truncated operand goes first
            x, kx, y, ky = y, ky, x, kx
        t = self.preprocessing.trunc_products(x.shape, kx, ky, auth=True)
        own, rest = yield from self._open_parts_steps(*self._mask_add([
            (x, t.r1, 1 << TRUNC_BOUND_BITS), (y, t.r2, (1 << TRUNC_BOUND_BITS) if ky else 0)]))
        # one pass (auth_tmul_finish): the public P_j, T_j of the opened low words, then the
        # lincomb a1a2 - P2 a1 + P2 T1 m1 - P1 a2 - T1 m1a2 (+ P1 T2 m2 - T2 a1m2 + T1 T2 m1m2)
        # + P1 P2 (NumPy took fifteen passes before the lincomb's)
        rec = lambda v: None if v is None else _words(v).reshape(-1, 4)  # noqa: E731
        z = self.kernels.auth_tmul_finish(own.reshape(2, -1, 2), rest.reshape(2, -1, 2), rec(t.a1), rec(t.m1),
                                          rec(t.a2), rec(t.m2), rec(t.a1a2), rec(t.m1a2), rec(t.a1m2),
                                          rec(t.m1m2), kx, ky, self.alpha, self.pid == 0)
        return _records(z, x.shape)

    def square_truncating(self, x: np.ndarray, k: int) -> np.ndarray:
        """floor(x / 2^k)^2 (the floor exact up to one ulp) for |x| < 2^62: 1 round, 1 element,
        from an authenticated ``tsquare`` tuple (see the module docstring)."""
        if not self.folds_truncation:  # no tsquare tuples from this source: truncate, then square
            return self.square(self.truncate_many([x], k)[0])
        t = self.preprocessing.trunc_squares(x.shape, k, auth=True)
        own, rest = steps.run(self.channel.exchange,
                              self._open_parts_steps(*self._mask_add([(x, t.r, 1 << TRUNC_BOUND_BITS)])))
        z = self.kernels.auth_tsquare_finish(own, rest, *(_words(v).reshape(-1, 4) for v in (t.a, t.m, t.aa, t.am)),
                                             k, self.alpha, self.pid == 0)  # one pass, as auth_tmul_finish
        return _records(z, x.shape)


def _low_sum(own: np.ndarray, rest: np.ndarray) -> np.ndarray:
    """The low 64 bits of an opening kept as two summands ((N, 2) words each): all a truncation's
    public part or a matrix combine's D, E need, in one pass over the two low words."""
    return np.add(own[:, 0], rest[:, 0])  # uint64 arrays wrap mod 2^64


def build(ctx: EngineContext) -> Spdz2k:
    """The runtime's builder (:mod:`mpc.runtime.engines`)."""
    return Spdz2k(ctx.channel, ctx.preprocessing, kernels=ctx.kernels, boolean=ctx.boolean, dry=ctx.dry)
