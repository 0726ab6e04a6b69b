"""daBits, edaBits, bit-injection triples, authenticated AND triples and binary input masks for
spdz2k without a dealer (``preprocessing="ot"``): the material of spdz2k's bit protocols
(:mod:`mpc.engines.spdz2k_convert`, :mod:`mpc.engines.authbits`).

Used by :class:`~mpc.preprocessing.ot_spdz.SpdzOTPreprocessing` after a batch's triples and MACs
passed their checks. References: Rotaru, Wood, "MArBled circuits", INDOCRYPT 2019 (daBits: each
party inputs a bit both ways, XOR in both worlds, check consistency); Escudero, Ghosh, Keller,
Rachuri, Scholl, "Improved primitives for MPC over mixed arithmetic-binary circuits", CRYPTO 2020
(edaBits; here the simple construction from 64 daBits); Damgard, Escudero, Frederiksen, Keller,
Scholl, Volgushev, S&P 2019 (bits over Z_2^k); Cramer et al., SPDZ2k, CRYPTO 2018.

Choice of the random-bit method: the XOR method (every party inputs authenticated random bits,
XORed in with Beaver products x + y - 2xy, then a bit check), not the square-root trick: the
square root needs the ring to be two bits wider than the values (Z_2^(k+2+s)), and spdz2k's
ring here is fixed at Z_2^128 with k = s = 64. (:mod:`mpc.preprocessing.ot_spdz_bits`.)

Protocol (party i of n, one batch; P random bits in the pool, the last C = 40 of them sacrificed):

1. Arithmetic side: every party's own random bits b_i (0/1) are authenticated in Z_2^128 (the
   batch's COPE, input-checked) and XORed in by :func:`~mpc.preprocessing.ot_spdz_bits.xor_bits`
   (n - 1 Beaver products per bit, then the check b (1 - b) = 0: n triples per bit).
1b. The AND gates' products (``bit_triple`` items and an edaBit's pair products, below): [ab]
   of two daBits' arithmetic halves by Beaver with a sacrificed triple (one round: open a - x,
   b - y; the openings join step 4's MAC check), and each party's *parity bit* p_i = its share of
   [ab] mod 2: since the parity of a sum is the XOR of the summands' parities, XOR_i p_i = ab.
2. Binary side: every party authenticates the same own bits b_i under Delta
   (:class:`~mpc.preprocessing.ot_bit_vole.BitVole`, one round), together with its bits of the
   binary input masks it owns, its parity bits p_i and 64 mask bits; the XOR of the origins' bits
   is a XOR sharing with MAC shares the XOR of the origins' MAC shares (local). So every daBit, and
   every product [ab] with the p_i as its binary twin, has an arithmetic and a binary half.
3. A public coin (2 rounds) gives the binary input check's chi (GF(2^64) per bit) and C random
   subsets S_j of the twins: the first P - C daBits and the products. One round opens: every
   origin's y_i (binary input check); for every check j, the binary X_j = XOR_{l in S_j} b_l ^ d_j
   and the arithmetic C_j = sum_{l in S_j} [b_l] + [d_j] + 2 [m_j], d_j the j-th sacrificed daBit
   and m_j uniform (the sum of the parties' uniform elements of the batch's authenticated vector):
   C_j reveals only its parity, which is d_j-masked. Every party checks C_j = X_j mod 2 for all j.
4. The binary MAC check of the y_i and X_j (:func:`bit_mac_check`: coin, commit, open) and the
   arithmetic MAC check of the C_j and of step 1b's openings (coin, commit, open); CheatingDetected
   on every honest party after the last message.

Why the consistency check suffices: after step 1 every arithmetic bit is a bit, and after step
4's MAC check every product [ab] is the product of two such bits (a changed opening fails it); a
cheater that inputs a bit (b_i or p_i) in the binary world other than its arithmetic twin's makes
a vector of inconsistencies e != 0 among the twins, fixed before the coin. Then <S_j, e> is a
uniform bit for each j, independent of the sacrificed d_j's own inconsistency, so each check
fails with probability 1/2: all C pass with probability 2^-40. An arithmetic bit that is a bit
and agrees in parity with its binary twin is equal to it. A party's p_i shows nothing (it is its
own input, authenticated under the others' keys, and masked in X_j).

Items from the pool (after the checks):

- ``dabit`` (count,): the bits (BAUTH words) and the same bits as AUTH ring elements.
- ``edabit`` (count,): 64 daBits per element and an authenticated 2^64 u (the sum of the
  parties' uniform u_i): r = sum_t 2^t b_t + 2^64 u (AUTH), the planes of r mod 2^64 (BAUTH).
  With params (count, 1), also the 31 pair products q_t = b_2t AND b_2t+1 (BAUTH planes, what
  spdz2k's MSB reads, :mod:`mpc.engines.spdz2k_convert`): each made as an AND triple's c below,
  with the edaBit's own daBits b_2t, b_2t+1 as a and b.
- ``bitmul`` (count,): a daBit r and a triple (x, y, z): open eps = r - y (masked by the uniform
  y); a = x, r a = z + eps x (local).
- ``bit_triple`` (ring 1, nwords): 64 AND triples per word from two daBits a, b and one triple
  each: c is the binary twin of [ab] (step 1b: the parties' parity bits, checked in step 3).
  Correct since a and b are consistent daBits, the product uses a sacrificed triple and the
  twin is checked; private since the openings are masked by uniform triple values (a former
  construction took c from the parity of an opened e' = [ab] + [d] + 2 [m], masked by a third
  daBit d: 7 triples a gate for two parties instead of 5, and 5 more rounds). The
  item is a, b, c (BAUTH) and their heads (light words, ``authenticated.triple_heads``). With
  params (nwords, period, tail) (:func:`~mpc.preprocessing.base.live_lanes`) only the live
  lanes' gates are made, the others are zero triples (bits and MAC shares 0, a valid sharing of
  0 AND 0 = 0): a comparison of m < 64 elements pays for m gates per word instead of 64.
- ``input`` (ring 1, (owner, *shape)): the owner's own authenticated bits (the other parties'
  contributions to these slots are ignored), their words at the owner.

Cost per item, two parties (n parties: n triples per daBit), on top of the batch's fixed C = 40
sacrificed daBits: a daBit 2 authenticated triples + 8 bytes of binary COPE; an edaBit 64
daBits (128 triples), and with its pair products 31 triples more (and 31 parity bits); a
bit-injection triple 1 daBit + 1 triple; an AND triple 2 daBits + 1 triple + 1 parity bit (2n + 1
triples, 5 for two parties: about 54 KB; a word of 64 AND triples about 3.4 MB: the price of a
check that reuses the checked arithmetic products; a TinyOT-style bucketing check over the binary
COPE is the known faster alternative); a binary input mask bit 8 bytes. Rounds: the batch's,
n + 5 for the bits, 1 for the products (AND triples, pair products, bit-injection triples), then
2 + 1 + 4 + 4 for the consistency check and the MAC checks.

Security model: malicious adversary corrupting up to n-1 parties, security with abort, no
trusted party; the assumptions of :mod:`mpc.preprocessing.ot_spdz`.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Sequence

import numpy as np

from mpc.preprocessing.authenticated import triple_heads
from mpc.preprocessing.base import EDABIT_PAIRS, Request, live_count, live_lanes
from mpc.preprocessing.dabits import unpack_bits
from mpc.preprocessing.ot_bit_vole import combine, gf_dot
from mpc.preprocessing.ot_spdz_bits import open_recorded
from mpc.prg import PRG
from mpc.sharing import auth_bits
from mpc.sharing.authenticated import pack, sum128
from mpc.sharing.packing import POW2, nwords

__all__ = ["CHECKS", "MIXED", "GatePool", "Mixed", "ands_of", "binary_inputs", "bit_mac_check", "bits_of", "extra_triples",
           "live_triple", "mixed_kind", "pooled"]

CHECKS = 40  # sacrificed daBits per batch: a cheater passes the consistency check with probability 2^-40
MIXED = ("dabit", "edabit", "bitmul", "bit_triple", "binput")


def mixed_kind(req: Request) -> str | None:
    """The name this module uses for a request it serves (``binput``: a ring-1 input mask), or None."""
    if req.ring == 1:
        return "bit_triple" if req.kind == "bit_triple" else "binput"
    return req.kind if req.kind in MIXED else None


def ands_of(req: Request) -> int:
    """Authenticated AND gates one request's item is made with (each a Beaver product of two
    daBits and its checked parity twin: the bit_triple construction of the module docstring): an AND triple
    word's 64, an edaBit's 31 pair products (with params (count, 1))."""
    kind, p = mixed_kind(req), req.params
    if kind == "bit_triple":
        return live_count(req)  # 64 a word, or only the live lanes' (zero triples elsewhere)
    return EDABIT_PAIRS * p[0] if kind == "edabit" and len(p) > 1 else 0


def bits_of(req: Request) -> int:
    """daBits one request uses."""
    kind, p = mixed_kind(req), req.params
    if kind in ("dabit", "bitmul"):
        return p[0]
    if kind == "edabit":
        return 64 * p[0]  # r's bits (the pair products multiply them)
    if kind == "bit_triple":
        return 2 * ands_of(req)  # a, then b
    return 0


def extra_triples(req: Request) -> int:
    """Authenticated triples one request uses besides its daBits'."""
    return req.params[0] if mixed_kind(req) == "bitmul" else ands_of(req)


def _and_operands(req: Request, boff: int) -> tuple[np.ndarray, np.ndarray]:
    """Pool positions of the (a, b) daBits of an item's AND gates (:func:`ands_of`): an AND
    triple word's a and b in two runs; an edaBit's pair product t of element j, gate 31 j + t,
    multiplies r_j's bits 2t and 2t + 1."""
    size = ands_of(req)
    if mixed_kind(req) == "bit_triple":
        run = boff + np.arange(size)
        return run, run + size
    j, t = np.divmod(np.arange(size), EDABIT_PAIRS)
    a = boff + 64 * j + 2 * t
    return a, a + 1


def binary_inputs(req: Request) -> int:
    """Binary-only authenticated bits one request uses (a ring-1 input mask: 64 per word)."""
    return 64 * math.prod(req.params[1:]) if mixed_kind(req) == "binput" else 0


def _words(b: bytes) -> np.ndarray:
    return np.frombuffer(b, dtype=np.uint64).copy()


def bit_mac_check(src, o: np.ndarray, m: np.ndarray, coin: PRG, bad: list[str]) -> None:
    """The binary MAC check of openings ``o`` (GF(2^64) elements; bits are 0/1) with this party's
    MAC shares ``m`` (module docstring of :mod:`mpc.preprocessing.ot_bit_vole`): commit to
    (Z_i, Y, verdict) (one round), open (one round); failures are appended to ``bad`` (the
    caller's arithmetic MAC check then shares every party's verdict and raises)."""
    k = src.kernels
    e = coin.derive("bit-e").uint64(len(o))
    big_y = gf_dot(k, e, o)
    z = gf_dot(k, e, m) ^ k.gf64_mul(np.array([src.bit_mac_key_share()], dtype=np.uint64),
                                     np.array([big_y], dtype=np.uint64))[0]
    payload = np.array([z, big_y, len(bad)], dtype=np.uint64)
    number, nonce, digest = src.commits.commit(payload.tobytes())
    their_commit = src._exchange(_words(digest))
    seen_all = hashlib.sha256(b"".join(their_commit.get(i, _words(digest)).tobytes() for i in range(src.n))).digest()
    msgs = src._exchange(np.concatenate([_words(nonce), payload, _words(seen_all)]))
    total = int(z)
    for p, msg in msgs.items():
        theirs = msg[2:5]
        if src.commits.digest(p, number, msg[:2].tobytes(), theirs.tobytes()) != their_commit[p].tobytes():
            bad.append(f"party {p}'s binary check values do not match its commitment")
        if msg[5:].tobytes() != seen_all:
            bad.append(f"party {p} saw different commitments")
        if int(theirs[1]) != int(big_y):
            bad.append("the parties opened different bits")
        if theirs[2]:
            bad.append(f"party {p} reported a failed check")
        total ^= int(theirs[0])
    if total:
        bad.append("the binary MACs do not match the authenticated bits")


def _words_folds_macs(kernels, bits: np.ndarray, macs: np.ndarray, count: int) -> tuple[np.ndarray, ...]:
    """Bit words (``nwords(count)``), their folded MACs and MAC shares ``(nwords, 64)`` from bit
    shares (0/1) and their MAC shares, zero-padded."""
    nw = nwords(count)
    b = np.zeros(nw * 64, dtype=np.uint8)
    m = np.zeros(nw * 64, dtype=np.uint64)
    b[:count] = bits[:count]
    m[:count] = macs[:count]
    m = m.reshape(nw, 64)
    w = kernels.pack_bits(b.reshape(1, -1))[0] if nw else np.zeros(0, dtype=np.uint64)
    return w, kernels.gf64_fold(m) if nw else np.zeros(0, dtype=np.uint64), m


def _scatter(values: np.ndarray, lanes: np.ndarray, size: int) -> np.ndarray:
    """``values`` at positions ``lanes`` of a zero array of ``size``: a zero triple's bits and
    MAC shares (0 = 0 Delta) in the lanes a bit_triple request leaves dead."""
    out = np.zeros(size, dtype=values.dtype)
    out[lanes] = values
    return out


def live_triple(kernels, req: Request, gates: Sequence[tuple[np.ndarray, np.ndarray]]) -> tuple[np.ndarray, ...]:
    """A ``bit_triple`` item for ``req`` from its :func:`ands_of` gates, (bit shares, MAC shares)
    of a, b and c each: the gates in the live lanes (:func:`~mpc.preprocessing.base.live_lanes`),
    zero triples in the others; the records a, b, c and their heads."""
    size, full = ands_of(req), 64 * req.params[0]
    lanes = live_lanes(req) if size < full else None
    parts = []
    for v, m in gates:
        if lanes is not None:
            v, m = _scatter(v, lanes, full), _scatter(m, lanes, full)
        parts.append(_words_folds_macs(kernels, v, m, full))
    return (*(auth_bits.pack(*p) for p in parts), *triple_heads([p[0] for p in parts], [p[1] for p in parts]))


def pooled(req: Request) -> bool:
    """Whether an authenticated AND-triple request asked on demand is served from the
    :class:`GatePool`: those with live lanes (a bit circuit on m elements, m not a multiple of
    64) of at most :attr:`GatePool.MAX` gates (small circuits, whose layers come one request at
    a time; larger ones are made exactly, as is a prefetched plan)."""
    return req.auth and mixed_kind(req) == "bit_triple" and len(req.params) == 3 and ands_of(req) <= GatePool.MAX


class GatePool:
    """Authenticated AND gates made ahead of the requests they serve. A circuit on m elements
    asks for its AND layers one by one, on demand (a comparison: 6 layers whose sizes halve), and
    a batch costs a latency of its own (about 40 ms for two parties on loopback, the time of some
    200 gates; seconds on a wide-area link). So a batch that must make gates for pooled requests
    (:func:`pooled`) makes twice what they lack, and at least :attr:`AHEAD`: the layers that
    follow take theirs from here (a comparison's 5 later layers hold as many gates as its first,
    so it takes 1 batch instead of 6); what a program leaves unused is at most its last
    shortfall plus :attr:`AHEAD`. Only requests asked on demand of at most :attr:`MAX` gates
    (:func:`pooled`): a prefetched plan is made exactly, in one batch. Every gate was checked with
    its batch before it got here, and each is handed out once."""

    AHEAD = 256
    MAX = 4096  # gates of a pooled request: a layer of a circuit on up to about 128 elements

    @classmethod
    def ahead(cls, short: int) -> int:
        """Gates a batch makes when the pool lacks ``short``."""
        return max(2 * short, cls.AHEAD)

    def __init__(self) -> None:
        self._gates: list[tuple[np.ndarray, np.ndarray]] = []  # a, b, c: (bit shares, MAC shares)
        self.count = 0

    def add(self, item: tuple[np.ndarray, ...]) -> None:
        """The 64 gates of every word of a full ``bit_triple`` item (its records a, b, c), after
        those left."""
        new = [(unpack_bits(t["w"], 64 * len(t)), np.ascontiguousarray(t["m"]).reshape(-1)) for t in item[:3]]
        if self.count:
            new = [(np.concatenate([v0, v]), np.concatenate([m0, m])) for (v0, m0), (v, m) in zip(self._gates, new, strict=True)]
        self._gates, self.count = new, len(new[0][0])

    def take(self, count: int) -> list[tuple[np.ndarray, np.ndarray]]:
        """The next ``count`` gates (a, b, c), never handed out again."""
        if not 0 <= count <= self.count:
            raise AssertionError(f"gate pool: {count} gates asked, {self.count} left")
        out = [(v[:count], m[:count]) for v, m in self._gates]
        self._gates = [(v[count:], m[count:]) for v, m in self._gates]
        self.count -= count
        return out


def _to_bauth(kernels, bits: np.ndarray, macs: np.ndarray, count: int) -> np.ndarray:
    """BAUTH words (``nwords(count)``) from bit shares (0/1) and their MAC shares, zero-padded."""
    return auth_bits.pack(*_words_folds_macs(kernels, bits, macs, count))


def _planes(kernels, bits: np.ndarray, macs: np.ndarray, count: int, width: int) -> np.ndarray:
    """Bit planes (width, ``nwords(count)``) BAUTH from element-major bit shares and MAC shares
    (count * width: element j's bit t at j * width + t)."""
    if not count:
        return np.zeros((width, 0), dtype=auth_bits.BAUTH)
    b, m = bits.reshape(count, width), macs.reshape(count, width)
    return np.stack([_to_bauth(kernels, b[:, t], m[:, t], count) for t in range(width)])


class Mixed:
    """One batch's mixed material (see the module docstring). ``pool``: the arithmetic (values,
    MACs) of the batch's P random bits (the last CHECKS sacrificed), ``raw`` this party's own bits
    of them (0/1), ``inputs`` its bits of the binary input masks (zeros where it is not the
    owner), ``chk_m`` the (values, MACs) of CHECKS uniform elements, ``x0`` the first of the
    batch's extra triples."""

    def __init__(self, src, pool, raw: np.ndarray, inputs: np.ndarray, chk_m, x0: int) -> None:
        self.src, self.k = src, src.kernels
        self.pool, self.raw, self.inputs, self.chk_m, self.x0 = pool, raw, inputs, chk_m, x0
        self.pmac = np.zeros(0, dtype=np.uint64)
        self.in_macs: dict[int, np.ndarray] = {}
        # the AND gates' products [ab] (values, MACs), this party's parity bits of its shares of
        # them (its binary input) and their binary MAC shares; the openings made for them
        self.twin_v = self.twin_m = np.zeros((0, 2), dtype=np.uint64)
        self.twin_bits = np.zeros(0, dtype=np.uint8)
        self.tmac = np.zeros(0, dtype=np.uint64)
        self.opened: list[np.ndarray] = []
        self.open_macs: list[np.ndarray] = []

    # ------------------------------------------------------------------ steps 2-4

    def authenticate_and_check(self) -> None:
        src, k = self.src, self.k
        n_pool, n_in, n_tw = len(self.raw), len(self.inputs), len(self.twin_bits)
        mask = src._prg.uint64(1)[0]
        mask_bits = ((mask >> np.arange(64, dtype=np.uint64)) & np.uint64(1)).astype(np.uint8)
        vec = np.concatenate([self.raw.astype(np.uint8), self.inputs.astype(np.uint8), self.twin_bits, mask_bits])
        own, theirs = src.bitvole.authenticate(vec)
        self.pmac = combine(own[:n_pool], {p: t[:n_pool] for p, t in theirs.items()})
        self.in_macs = {src.pid: own[n_pool : n_pool + n_in], **{p: t[n_pool : n_pool + n_in] for p, t in theirs.items()}}
        tw = slice(n_pool + n_in, n_pool + n_in + n_tw)
        self.tmac = combine(own[tw], {p: t[tw] for p, t in theirs.items()})
        coin = src._coin()
        chi = coin.derive("bit-chi").uint64(len(vec))
        chi[-64:] = POW2  # X^t
        bad: list[str] = []
        macs_of = {src.pid: own, **theirs}
        y = gf_dot(k, chi, vec.astype(np.uint64))
        if not n_pool:  # binary input masks only: the input check alone
            got = src._exchange(np.array([y], dtype=np.uint64))
            ys = {src.pid: y, **{p: msg[0] for p, msg in got.items()}}
            o = np.array([ys[i] for i in range(src.n)], dtype=np.uint64)
            m = np.array([gf_dot(k, chi, macs_of[i]) for i in range(src.n)], dtype=np.uint64)
            bit_mac_check(src, o, m, src._coin(), bad)
            src._mac_check(np.zeros((1, 2), np.uint64), np.zeros((1, 2), np.uint64), src._coin(), bad)  # shares the verdicts
            return
        # the checked twins: the daBits but the CHECKS sacrificed at the pool's end, then the AND
        # gates' products [ab] against the XOR of the parties' parity bits of their shares
        main = n_pool - CHECKS
        av, am = self.pool
        tv, tm = np.concatenate([av[:main], self.twin_v]), np.concatenate([am[:main], self.twin_m])
        tb = np.concatenate([self.raw[:main].astype(np.uint64), self.twin_bits.astype(np.uint64)])
        tmacs = np.concatenate([self.pmac[:main], self.tmac])
        count = main + n_tw
        subsets = np.unpackbits(np.frombuffer(coin.derive("subsets").random_bytes(CHECKS * (-(-count // 8))),
                                              dtype=np.uint8).reshape(CHECKS, -1), axis=1, count=count)
        # openings: the arithmetic C_j, this party's y, its shares of the binary X_j
        sel = subsets.astype(np.uint64)
        cv = np.stack([k.dot128_64(tv, sel[j]) for j in range(CHECKS)])
        cm = np.stack([k.dot128_64(tm, sel[j]) for j in range(CHECKS)])
        mv, mm = self.chk_m
        for out, src_bits, m in ((cv, av, mv), (cm, am, mm)):
            k.add128(out, src_bits[main:], out=out)
            k.add128(out, k.add128(m, m), out=out)
        xs = (sel @ tb + self.raw[main:]) & np.uint64(1)
        pm = self.pmac
        xm = np.array([np.bitwise_xor.reduce(tmacs[subsets[j].astype(bool)], initial=np.uint64(0)) ^ pm[main + j]
                       for j in range(CHECKS)], dtype=np.uint64)
        got = src._exchange(np.concatenate([cv.reshape(-1), np.array([y], dtype=np.uint64), xs]))
        c_tot, x_tot = cv.copy(), xs.copy()
        ys = {src.pid: y}
        for p, msg in got.items():
            k.add128(c_tot, np.ascontiguousarray(msg[: 2 * CHECKS].reshape(CHECKS, 2)), out=c_tot)
            ys[p] = msg[2 * CHECKS]
            x_tot ^= msg[2 * CHECKS + 1 :]
        if not np.array_equal(c_tot[:, 0] & np.uint64(1), x_tot):
            bad.append("a daBit's or an AND gate's arithmetic and binary halves differ")
        o = np.concatenate([np.array([ys[i] for i in range(src.n)], dtype=np.uint64), x_tot])
        m = np.concatenate([np.array([gf_dot(k, chi, macs_of[i]) for i in range(src.n)], dtype=np.uint64), xm])
        bit_mac_check(src, o, m, src._coin(), bad)
        # one arithmetic MAC check: the C_j and the products' Beaver openings (Mixed.products)
        src._mac_check(np.concatenate([c_tot, *self.opened]), np.concatenate([cm, *self.open_macs]), src._coin(), bad)

    # ------------------------------------------------------------------ products (bit_triple, bitmul)

    def _triples(self, offsets: list[tuple[int, int]]):
        """(av, am, bv, bm, cv, cm) of the extra triples at (offset, count) pairs, concatenated."""
        parts = {name: [self.src.triple_part(name, self.x0 + o, c) for o, c in offsets] for name in ("a", "b", "c")}
        out = []
        for name in ("a", "b", "c"):
            out += [np.concatenate([v for v, _ in parts[name]]), np.concatenate([m for _, m in parts[name]])]
        return out

    def _beaver_finish(self, eps, dlt, t):
        """[x y] from the opened eps = x - a, delta = y - b and the triple t = (av, am, bv, bm, cv, cm)."""
        k, src = self.k, self.src
        av, am, bv, bm, cv, cm = t
        ed = k.mul128(eps, dlt)
        zv = k.add128(cv, k.add128(k.mul128(eps, bv), k.mul128(dlt, av)))
        if src.pid == 0:
            k.add128(zv, ed, out=zv)
        zm = k.add128(cm, k.add128(k.mul128(eps, bm), k.mul128(dlt, am)))
        k.add128(zm, k.mul128_64(ed, np.full(len(ed), src.mac_key_share(), dtype=np.uint64)), out=zm)
        return zv, zm

    def products(self, items) -> dict[int, tuple]:
        """Step 0 of the bit_triple and bitmul items, before the binary side is authenticated:
        one round of Beaver openings (recorded for :meth:`authenticate_and_check`'s MAC check).
        An AND gate's product [ab] is kept with this party's parity bit of its share, the bit it
        inputs on the binary side (the parity of a sum is the XOR of the summands' parities).
        Returns per item (by position) bitmul: its (x, r, z); bit_triple and an edaBit with pair
        products: (start, count) of its gates among the products."""
        k = self.k
        av_pool, am_pool = self.pool
        ands = [(i, it) for i, it in enumerate(items) if ands_of(it.req)]
        muls = [(i, it) for i, it in enumerate(items) if mixed_kind(it.req) == "bitmul"]
        if not ands and not muls:
            return {}
        sizes = [ands_of(it.req) for _, it in ands]
        t1 = self._triples([(it.xoff, s) for (_, it), s in zip(ands, sizes, strict=True)]) if ands else None
        tm = self._triples([(it.xoff, it.req.params[0]) for _, it in muls]) if muls else None
        where = [_and_operands(it.req, it.boff) for _, it in ands]

        def pick(part: int) -> tuple[np.ndarray, np.ndarray]:  # the a (0) or b (1) daBits of every AND item
            at = np.concatenate([w[part] for w in where])
            return av_pool[at], am_pool[at]

        empty = np.zeros((0, 2), dtype=np.uint64)
        (a_v, a_m), (b_v, b_m) = (pick(j) for j in range(2)) if ands else ((empty, empty),) * 2
        r_v = np.concatenate([av_pool[it.boff : it.boff + it.req.params[0]] for _, it in muls]) if muls else empty
        r_m = np.concatenate([am_pool[it.boff : it.boff + it.req.params[0]] for _, it in muls]) if muls else empty
        na = len(a_v)
        # one round: a - x1, b - y1 (AND items); r - y (bitmul items)
        sh_v = [k.sub128(a_v, t1[0]), k.sub128(b_v, t1[2])] if ands else []
        sh_m = [k.sub128(a_m, t1[1]), k.sub128(b_m, t1[3])] if ands else []
        if muls:
            sh_v.append(k.sub128(r_v, tm[2]))
            sh_m.append(k.sub128(r_m, tm[3]))
        o1 = open_recorded(self.src, np.concatenate(sh_v), np.concatenate(sh_m), self.opened, self.open_macs)
        out: dict[int, tuple] = {}
        if muls:
            eps = o1[2 * na :]
            pos = 0
            for i, it in muls:
                c = it.req.params[0]
                e = eps[pos : pos + c]
                xv, xm = tm[0][pos : pos + c], tm[1][pos : pos + c]
                zv, zm = tm[4][pos : pos + c], tm[5][pos : pos + c]
                out[i] = ((xv, xm), (r_v[pos : pos + c], r_m[pos : pos + c]),
                          (k.add128(zv, k.mul128(e, xv)), k.add128(zm, k.mul128(e, xm))))
                pos += c
        if ands:
            self.twin_v, self.twin_m = self._beaver_finish(o1[:na], o1[na : 2 * na], t1)
            self.twin_bits = self.src.parity_bits((self.twin_v[:, 0] & np.uint64(1)).astype(np.uint8))
            pos = 0
            for (i, _), size in zip(ands, sizes, strict=True):
                out[i] = (pos, size)
                pos += size
        return out

    # ------------------------------------------------------------------ items

    def binary(self, start: int, count: int) -> tuple[np.ndarray, np.ndarray]:
        """This party's (bit shares, MAC shares) of pool bits start .. start + count - 1."""
        return self.raw[start : start + count].astype(np.uint64), self.pmac[start : start + count]

    def _and_output(self, it, result: tuple) -> tuple[np.ndarray, np.ndarray]:
        """The binary outputs (bit shares, MAC shares) of an item's AND gates: this party's parity
        bits of its shares of the products [ab] (XOR: ab), checked against them with the daBits."""
        start, size = result
        return self.twin_bits[start : start + size].astype(np.uint64), self.tmac[start : start + size]

    def assemble(self, it, results: dict[int, tuple], index: int) -> tuple[np.ndarray, ...]:
        k, src = self.k, self.src
        kind, p = mixed_kind(it.req), it.req.params
        av, am = self.pool
        if kind == "binput":
            owner, shape = p[0], tuple(p[1:])
            size = math.prod(shape)
            lo, hi = it.ioff, it.ioff + 64 * size
            bits = self.inputs[lo:hi] if owner == src.pid else np.zeros(hi - lo, dtype=np.uint8)
            item = _to_bauth(k, bits, self.in_macs[owner][lo:hi], 64 * size).reshape(shape)
            if owner == src.pid:
                return item, np.ascontiguousarray(item["w"]).copy()
            return (item,)
        count = p[0]
        if kind == "dabit":
            bits, macs = self.binary(it.boff, count)
            sl = slice(it.boff, it.boff + count)
            return _to_bauth(k, bits, macs, count), pack(av[sl], am[sl])
        if kind == "bitmul":
            bits, macs = self.binary(it.boff, count)
            (xv, xm), (rv, rm), (zv, zm) = results[index]
            return _to_bauth(k, bits, macs, count), pack(xv, xm), pack(rv, rm), pack(zv, zm)
        if kind == "edabit":
            sl = slice(it.boff, it.boff + 64 * count)
            out = []
            for b, u in ((av[sl], src._values[it.slots["u"]]), (am[sl], src._macs[it.slots["u"]])):
                w = np.ascontiguousarray(np.broadcast_to(POW2, (count, 64)))
                r = sum128(k.mul128_64(b.reshape(count, 64, 2), w), 1) if count else np.zeros((0, 2), np.uint64)
                k.add128(r, np.stack([np.zeros(count, np.uint64), u[:, 0]], axis=1), out=r)
                out.append(r)
            bits, macs = self.binary(it.boff, 64 * count)
            planes = _planes(k, bits, macs, count, 64)
            if len(p) == 1:
                return pack(out[0], out[1]), planes
            return pack(out[0], out[1]), planes, _planes(k, *self._and_output(it, results[index]), count, EDABIT_PAIRS)
        # bit_triple: a, b from the pool, c the binary twin of their product
        size = ands_of(it.req)
        gates = [self.binary(it.boff, size), self.binary(it.boff + size, size), self._and_output(it, results[index])]
        return live_triple(k, it.req, gates)

