"""``preprocessing="ot"`` under ``engine="spdz2k"``: authenticated material without a dealer.

Cramer, Damgard, Escudero, Scholl, Xing, "SPDZ2k: Efficient MPC mod 2^k for Dishonest Majority",
CRYPTO 2018, section 5 (authentication by OT with the MAC key as the choice bits, the input check,
the triple sacrifice over Z_2^(k+s)); the structure of Keller, Orsini, Scholl, "MASCOT: Faster
Malicious Arithmetic Secure Computation with Oblivious Transfer", CCS 2016 (multiply,
combine, authenticate, sacrifice). k = s = 64: values in Z_2^128, MAC key shares alpha_i in Z_2^64.

Kinds made here (``Request(kind, params, 128, True)``; the items are those of the dealer,
:mod:`mpc.preprocessing.authenticated`): every authenticated kind. ``triple``, ``square``,
``matmul``, ``rand``, ``input``, ``trunc`` (from authenticated random bits,
:mod:`mpc.preprocessing.ot_spdz_bits`), ``div`` (division tuples for any public d, by rejection
sampling on authenticated bits), ``tmul`` and ``tsquare`` (truncating-product tuples: truncation
parts from the bits and Beaver products; both :mod:`mpc.preprocessing.ot_spdz_div`), and the
material of the bit protocols (:mod:`mpc.preprocessing.ot_spdz_mixed`, binary MACs by
:mod:`mpc.preprocessing.ot_bit_vole`): ``dabit``, ``edabit``, ``bitmul``, and with ring 1
``bit_triple`` (AND triples with GF(2^64) MACs) and ``input`` (binary input masks).
Unauthenticated requests (the party's semi-honest GMW engine) go to :class:`~mpc.preprocessing.
ot_source.OTPreprocessing`, which this class extends. A kind outside :data:`DEALER_FREE` (none
today) raises :class:`~mpc.errors.ConfigError` naming the kind before any message of the batch.

Protocol, one batch (every pair at once; party i of n):

1. Draw (this party's additive shares, uniform in Z_2^128, from an ``os.urandom`` seed): for
   every triple b_i and tau = 3 values a_{i,1..3}; a ``rand`` item u_i in Z_2^64; an ``input``
   item r in Z_2^128 at the owner (0 at the others); a matrix item A_i, B_i; a ``trunc`` item 64
   random bits per element and u_i; a ``tmul``/``tsquare`` item 64 bits and u_i per truncated
   mask (with k2 = 0 also r2 in Z_2^128); a ``div`` item L + l bits per candidate and u_i per
   tuple. Squares, matrix items and the bits are made from triples (step 7), so the batch needs
   T triples: one per triple or square element, m k n per matrix product, n per random bit, one
   per product of a ``tmul``/``tsquare`` element and one per AND gate of a ``div`` candidate.
2. Multiply (Gilboa over Z_2^128, :class:`~mpc.preprocessing.ot_link.WideProducts`): for every
   ordered pair (i, j), correlation b_i against the 128 choice bits of each a_{j,l}; with the
   local products, shares of c_l = a_l b.
3. Combine (MASCOT): a public coin (commit, then open: 2 rounds) gives r, r^ in (Z_2^128)^3 per
   triple (r_0 odd, r^_0 even, r^_1 odd: over Z_2^128 that keeps (a, a^) uniform, see
   ``_triples``); a = sum r_l a_l, c = sum r_l c_l, a^ = sum r^_l a_l, c^ = sum r^_l c_l. A
   cheating OT sender can probe bits of an honest party's a_l by selective failure (a wrong
   correction on one OT is harmless exactly when the choice bit is 0); the combination hashes
   whatever it learnt away (MASCOT section 5, leftover hash lemma).
4. Authenticate (:class:`~mpc.preprocessing.ot_vole.Vole`): a, b, c, a^, c^ of every triple, the
   items' other values, and one extra uniform mask element per party get MAC shares by COPE with
   every peer's alpha_j (one round per 8192 elements).
5. Commit to two coin seeds (one round), open the first (one round): coefficients chi in Z_2^64
   and the sacrifice's r in Z_2^128 per triple.
6. One round of openings: the input check (SPDZ2k: every party i broadcasts y_i = sum chi_l
   x_{i,l} + x_{i,mask} over its own authenticated vector, uniform thanks to the mask), the
   sacrifice's rho = r a - a^ (uniform: a^ masks it), and the conversions' epsilon (a square:
   e = a - b; a matrix item: A[i, l] - a and B[l, c] - b per triple). Then one round: sigma =
   r c - c^ - rho b, which must be 0 mod 2^128. Then open the second coin (one round): odd
   coefficients e_j; every party commits (one round) to Z_i = sum e_j m_{j,i} - alpha_i Y over
   all openings (each y_i with its origin's MAC shares, the others with the full MAC shares),
   Y = sum e_j o_j, and its verdict (sigma = 0, every coin opening matched its commitment), and
   opens it (one round) with a hash of the commitments it saw. Every party checks the
   commitments, that all Y and commitment hashes agree, all verdicts are clean and
   sum_i Z_i = 0 mod 2^128, and otherwise raises :class:`~mpc.errors.CheatingDetected`: after
   the last message, so a cheater that is consistent towards the honest parties makes every one
   of them raise, and none hangs.
7. Items: a triple is (a, b, c); a square (a, c + e a) (= a^2); a matrix triple (A, B, C) with
   C[i, c] = sum_l (c + eps b + delta a + eps delta), eps delta a public constant (party 0's
   value, alpha_i eps delta in every MAC); a truncation tuple from the bits, made after the
   batch's check by :func:`~mpc.preprocessing.ot_spdz_bits.xor_bits` (its own openings and MAC
   check); ``div``, ``tmul`` and ``tsquare`` items from the bits and the batch's remaining triples
   by :func:`~mpc.preprocessing.ot_spdz_div.derive` (Beaver products, the division circuit, its
   accept bits opened, one more MAC check over all of it). Items are handed out only after their
   batch passed.

Why: a wrong product (c = a b + e, e != 0 mod 2^64, by a bad correction or a changed share)
makes sigma = r e - e^ nonzero except with probability 2^-64 (r uniform, drawn after e and e^
are fixed, and e's 2-adic valuation below 64: the SPDZ2k sacrifice over Z_2^(k+s)); a bad COPE
correction (a sender using another x in some OT, or towards some peer) makes the MACs of its
vector inconsistent and fails the input check except with probability about 2^-(s - log2 s)
(SPDZ2k section 5; as there, a cheater can probe single bits of an honest alpha_j at the price
of being caught with probability 1/2 each); openings are bound by commit-then-open.

Security model and assumptions: malicious adversary corrupting up to n-1 parties, security with
abort; no trusted party. Assumptions: those of the OT (CDH in the RFC 3526 group, random oracle;
correlation robustness of fixed-key AES for the extension, with the KOS15 check), AES-CTR as a
PRG, SHA-256 as a random oracle for the commitments.

Cost per authenticated triple, each party, per peer (two parties: the whole): 3 x 128 OTs of
extension matrix (3,072 bytes with SoftSpoken k = 2; 6,144 with IKNP), 3 x 1,088 bytes of trimmed
Gilboa corrections, 5 authenticated elements x 800 bytes of COPE corrections, and 2 x 16 bytes of
openings: 10,368 bytes, plus per batch about 1.7 KB per 8,192 Gilboa products (the extension's
check and the frame headers) and 0.7 KB for the coins and checks (counted: 10,369 per triple in a
batch of 65,536; docs/preprocessing.md); a square the same plus 16 bytes; an m x k x n matrix
triple m k n triples plus (m k + k n) authenticated elements and 2 m k n openings (quadratic: for
small matrices only); a truncation tuple 64 n triples (about 1.38 MB for two parties); a ``tmul``
tuple 128 n + 3 or 4 triples (k2 > 0), a ``tsquare`` 64 n + 2; a ``div`` tuple
(n (L + l) + G) / p triples, G the division circuit's AND gates and p = 2^(64 - L - l) the
acceptance (d = 3, two parties: about 700 triples, 10.2 MB measured). Rounds per batch: 4 per 8,192 Gilboa products (3 per
triple) + 2 (combining coin) + 1 per 8,192 elements (COPE) + 7 (checks); the set-up adds the
base OTs and 64 random OTs per ordered pair (3 round trips); a batch with truncation tuples n + 5
more; with tmul/tsquare 1 + 4 more; with division tuples 9 per ``div`` request (the circuit's 8
AND layers and the accept bits) + 4 more (:mod:`mpc.preprocessing.ot_spdz_div`).
"""

from __future__ import annotations

import hashlib
import math
import types
from collections.abc import Sequence

import numpy as np

from mpc.errors import CheatingDetected, ConfigError
from mpc.net.channel import Channel
from mpc.preprocessing import authenticated as am
from mpc.preprocessing import ot_spdz_div as derived
from mpc.preprocessing import ot_spdz_mixed as mixed
from mpc.preprocessing.base import Request
from mpc.preprocessing.ot_bit_vole import BitVole
from mpc.preprocessing.ot_link import SECTION, WideProducts
from mpc.preprocessing.ot_source import DEFAULT_BATCH, MatrixTriple2PC, OTPreprocessing
from mpc.preprocessing.ot_spdz_bits import bit_count, open_recorded, share_sum, truncation_tuple, xor_bits
from mpc.preprocessing.ot_vole import Commitments, Vole
from mpc.prg import PRG
from mpc.sharing.authenticated import pack, sum128
from mpc.sharing.packing import nwords

__all__ = ["DEALER_FREE", "SpdzOTPreprocessing", "combine_coefficients"]

DEALER_FREE = ("triple", "square", "matmul", "rand", "input", "trunc", "div", "tmul", "tsquare", "dabit", "bitmul",
               "edabit", "bit_triple")
_DERIVED = ("div", "tmul", "tsquare")  # made after the bits (mpc.preprocessing.ot_spdz_div)
_NEEDED_BY = {"trunc": "fixed-point products and divisions by powers of two",
              "div": "divisions by public integers that are not powers of two",
              "tmul": "truncating products", "tsquare": "truncating squares"}


def unsupported(req: Request) -> str | None:
    """The reason an authenticated request cannot be made here, or None."""
    if req.ring == 1:
        return None  # AND triples and binary input masks (ot_spdz_mixed)
    if req.kind not in DEALER_FREE:
        used = _NEEDED_BY.get(req.kind, "this operation")
        return f"authenticated {req.kind!r} material (for {used}) is not yet dealer-free under spdz2k"
    return None


def _words(b: bytes) -> np.ndarray:
    return np.frombuffer(b, dtype=np.uint64).copy()


class _Item:
    """One request's shares during a batch (value shares as (N, 2) Z_2^128 words)."""

    __slots__ = ("boff", "cand", "conv", "ioff", "parts", "poff", "req", "slots", "toff", "xoff")

    def __init__(self, req: Request) -> None:
        self.req = req
        self.parts: dict[str, np.ndarray] = {}
        self.slots: dict[str, slice] = {}  # position of each extra part in the authenticated vector
        self.toff = 0  # its first triple (squares and matrices are made from triples)
        self.conv = slice(0, 0)  # its openings among the conversions' (squares, matrices)
        self.boff = 0  # its first random bit (trunc, and the mixed kinds' daBits)
        self.xoff = 0  # its first extra triple (bitmul, bit_triple), after the bits' triples
        self.ioff = 0  # its first binary input bit (ring-1 input)
        self.poff = 0  # its first triple for the products and gates of div, tmul, tsquare
        self.cand = 0  # candidates of a div item (rejection sampling)


class SpdzOTPreprocessing(OTPreprocessing):
    """Dealer-free authenticated material for the spdz2k engine (see the module docstring)."""

    offers_live_lanes = True  # AND triples for the live lanes only (ot_spdz_mixed)

    def __init__(self, channel: Channel, kernels: types.SimpleNamespace, *, batch: int = DEFAULT_BATCH,
                 matrix_triple_2pc: MatrixTriple2PC | None = None, extension: str | None = None,
                 k: int | None = None) -> None:
        super().__init__(channel, kernels, batch=batch, matrix_triple_2pc=matrix_triple_2pc, extension=extension, k=k)
        root = PRG.fresh()  # the MAC key shares: os.urandom, known to this party only
        self._alpha = am.mac_key_share(root, self.pid)
        self._delta = am.bit_mac_key_share(root)
        self.vole = Vole(self.links, self._alpha)
        self.bitvole = BitVole(self.links, self._delta)
        self.wide = WideProducts(self.links)
        self.commits = Commitments(channel, b"ot-spdz2k")
        self.gates = mixed.GatePool()  # AND gates made ahead for live-lane requests on demand
        self.made.update({"auth_dabit": 0, "auth_edabit": 0, "auth_bitmul": 0, "auth_bit_triple": 0, "auth_and_gates": 0, "auth_pool_gates": 0, "auth_triple": 0, "auth_square": 0, "auth_matmul": 0, "auth_trunc": 0, "auth_div": 0, "auth_div_candidates": 0,
                          "auth_tmul": 0, "auth_tsquare": 0, "auth_elements": 0,
                          "auth_batches": 0})

    def mac_key_share(self) -> int:
        """alpha_i: drawn here, never sent; the engine's MAC check uses the same one."""
        return self._alpha

    def bit_mac_key_share(self) -> int:
        """Delta_i: drawn here, never sent (the binary MACs, :mod:`mpc.preprocessing.ot_bit_vole`)."""
        return self._delta

    # ------------------------------------------------------------------ batches

    def _generate(self, reqs: Sequence[Request]) -> list[tuple[np.ndarray, ...]]:
        for r in reqs:  # before any message
            why = unsupported(r) if r.auth else None
            if why is not None:
                raise ConfigError(f"preprocessing='ot' under engine='spdz2k': {why}; use preprocessing='dealer' "
                                  f"for this program (dealer-free under spdz2k: {', '.join(DEALER_FREE)})")
        plain = [r for r in reqs if not r.auth]
        auth = [r for r in reqs if r.auth]
        done_plain = iter(super()._generate(plain) if plain else [])
        done_auth = iter([self._complete(r, item) for group in self._groups(auth)
                          for r, item in zip(group, self._authenticated(group), strict=True)])
        return [next(done_auth) if r.auth else next(done_plain) for r in reqs]

    def _take(self, req: Request) -> tuple[np.ndarray, ...]:
        """One item: from the store when prefetched; an AND-triple request for live lanes asked on
        demand (:func:`~mpc.preprocessing.ot_spdz_mixed.pooled`) from the gate pool, which a batch
        of its own refills when short (:class:`~mpc.preprocessing.ot_spdz_mixed.GatePool`); any
        other on demand from a batch of its own."""
        need = mixed.ands_of(req)
        if req.auth and mixed.mixed_kind(req) == "bit_triple":  # AND triples: counted as handed out
            self.made["auth_bit_triple"] += req.params[0]
            self.made["auth_and_gates"] += need  # fewer than 64 a word with live lanes
        if not mixed.pooled(req) or self._store.get(req):
            return super()._take(req)
        if need > self.gates.count:
            top = Request("bit_triple", (nwords(self.gates.ahead(need - self.gates.count)),), 1, True)
            self.gates.add(self._authenticated([top])[0])
            self.made["auth_pool_gates"] += 64 * top.params[0]
        return mixed.live_triple(self.kernels, req, self.gates.take(need))

    def _complete(self, req: Request, item: tuple[np.ndarray, ...]) -> tuple[np.ndarray, ...]:
        """A division item in the request's shape: the accepted tuples of its batch, topped up by
        further batches in the (rare, :func:`~mpc.preprocessing.ot_spdz_div.candidates`) case of
        a shortfall."""
        if req.kind != "div":
            return item
        d, shape, size = req.params[0], derived.item_shape(req), derived.item_size(req)
        parts = [list(item)]
        have = len(item[0])
        while have < size:
            more = self._authenticated([Request("div", (d, size - have), 128, True)])[0]
            parts.append(list(more))
            have += len(more[0])
        return tuple(np.concatenate([p[i] for p in parts])[:size].reshape(shape) for i in range(3))

    def _draw_derived(self, it: _Item) -> tuple[int, int]:
        """Step 1 for a div, tmul or tsquare item (:mod:`mpc.preprocessing.ot_spdz_div`): its own
        random bits and the 64-bit u of its 2^64 u (and, for tmul with k2 = 0, its r2 shares);
        returns (bits, triples for its products or gates)."""
        kind, p, size = it.req.kind, it.req.params, derived.item_size(it.req)
        if kind == "div":
            it.cand = derived.candidates(p[0], size) if size else 0
            nb, npt, nu = it.cand * derived.div_bits(p[0]), it.cand * derived.div_triples(p[0], 0), size
        else:
            masks = 2 if kind == "tmul" and p[1] else 1
            nb, npt, nu = 64 * masks * size, len(derived.products_of(kind, p)) * size, masks * size
            if kind == "tmul" and not p[1]:
                it.parts["r2"] = self._draw((size,))
        it.parts.update(bits=self._draw_low(nb, bits=True), u=self._draw_low(nu))
        return nb, npt

    def _groups(self, reqs: Sequence[Request]) -> list[list[Request]]:
        """Consecutive requests in batches of at most 8 ``batch`` triples' worth (memory: about
        400 bytes per triple of a batch; a single larger request stays one batch)."""
        groups: list[list[Request]] = []
        size = limit = 8 * self.batch
        for r in reqs:
            cost = max(1, _triples_of(r))
            if size + cost > limit:
                groups.append([])
                size = 0
            groups[-1].append(r)
            size += cost
        return groups

    def _draw(self, shape) -> np.ndarray:
        return self._prg.uint64((*tuple(shape), 2))

    def _draw_low(self, count: int, bits: bool = False) -> np.ndarray:
        """``count`` Z_2^128 words (N, 2) whose low word is uniform (``bits``: a uniform bit) and
        high word 0: a ``rand``/``trunc`` u, or this party's own random bits."""
        out = np.zeros((count, 2), dtype=np.uint64)
        out[:, 0] = self._prg.uint64(count) & np.uint64(1) if bits else self._prg.uint64(count)
        return out

    def _authenticated(self, reqs: Sequence[Request]) -> list[tuple[np.ndarray, ...]]:
        k = self.kernels
        items = [_Item(r) for r in reqs]
        # 1. draws; every square and matrix item is made from triples (see _assemble)
        nt = nbits = nx = nin = npost = 0
        for it in items:
            kind, p = it.req.kind, it.req.params
            if kind in _DERIVED:
                nb, npt = self._draw_derived(it)
                it.boff, it.poff = nbits, npost
                nbits += nb
                npost += npt
                continue
            mk = mixed.mixed_kind(it.req)
            if mk is not None:
                if mk == "binput":
                    it.ioff = nin
                    count = mixed.binary_inputs(it.req)
                    nin += count
                    own = p[0] == self.pid
                    it.parts["in"] = (self._prg.uint64(count) & np.uint64(1)).astype(np.uint8) if own else \
                        np.zeros(count, dtype=np.uint8)
                    continue
                it.boff, it.xoff = nbits, nx
                nb = mixed.bits_of(it.req)
                nbits += nb
                nx += mixed.extra_triples(it.req)
                it.parts["bits"] = self._draw_low(nb, bits=True)
                if mk == "edabit":
                    it.parts["u"] = self._draw_low(p[0])
                continue
            size = math.prod(p[1:] if kind in ("input", "trunc") else p) if kind != "matmul" else 0
            it.toff = nt
            if kind in ("triple", "square"):
                nt += size
            elif kind == "matmul":
                batch, m, kk, n = p
                count = batch or 1
                it.parts.update(A=self._draw((count * m * kk,)), B=self._draw((count * kk * n,)))
                nt += count * m * kk * n
            elif kind in ("rand", "trunc"):
                it.parts["u"] = self._draw_low(size)
                if kind == "trunc":  # 64 own random bits per element (ot_spdz_bits), 2^64 u on top
                    it.boff = nbits
                    nbits += bit_count(p)
                    it.parts["bits"] = self._draw_low(bit_count(p), bits=True)
            else:  # input
                it.parts["r"] = self._draw((size,)) if p[0] == self.pid else np.zeros((size, 2), dtype=np.uint64)
        binary = any(mixed.mixed_kind(it.req) not in (None, "binput") for it in items)
        chk_bits = self._draw_low(mixed.CHECKS if binary else 0, bits=True)
        chk_m = self._draw((len(chk_bits),))
        nbits += len(chk_bits)  # the consistency check's sacrificed daBits, at the end of the pool
        bits_t0 = nt  # the bits' Beaver triples: n per bit (n - 1 XORs and the bit check)
        nt += self.n * nbits
        extra_t0 = nt  # the mixed kinds' own triples
        nt += nx
        for it in items:  # the products and gates of div, tmul, tsquare
            it.poff += nt
        nt += npost
        # 2. multiply and combine (MASCOT): tau receiver values a_l per triple against one b
        vec = []
        if nt:
            vec += list(self._triples(nt))
        # 3. authenticate everything, plus one mask element
        at = 5 * nt
        for it in items:
            for name in _EXTRA[mixed.mixed_kind(it.req) or it.req.kind]:
                if name not in it.parts:
                    continue
                part = it.parts[name]
                it.slots[name] = slice(at, at + len(part))
                at += len(part)
                vec.append(part)
        chk_slots = {}
        for name, part in (("bits", chk_bits), ("m", chk_m)):
            chk_slots[name] = slice(at, at + len(part))
            at += len(part)
            vec.append(part)
        vec.append(self._draw((1,)))
        values = np.ascontiguousarray(np.concatenate(vec))
        own, theirs = self.vole.authenticate(values)
        macs = own.copy()
        for p in self.peers:
            k.add128(macs, theirs[p], out=macs)
        self._nt, self._values, self._macs = nt, values, macs
        opened = self._check(items, nt, values, own, theirs, macs)
        bits = self._bits(items, bits_t0, values, own, theirs, chk_slots["bits"]) if nbits else None
        post = [it for it in items if it.req.kind in _DERIVED and len(it.parts["u"])]
        made = iter(derived.derive(self, post, bits, values, macs) if post else [])
        done = {id(it): next(made) for it in post}
        done.update({id(it): am.template(it.req, self.pid) for it in items  # empty items
                     if it.req.kind in _DERIVED and not len(it.parts["u"])})
        results: dict[int, tuple] = {}
        mix = None
        if binary or nin:
            raw = self.binary_bits(np.concatenate([it.parts["bits"][:, 0] for it in items if "bits" in it.parts]
                                                  + [chk_bits[:, 0]]).astype(np.uint8))
            ins = [it.parts["in"] for it in items if "in" in it.parts]
            mix = mixed.Mixed(self, bits if binary else (np.zeros((0, 2), np.uint64),) * 2,
                              raw if binary else np.zeros(0, np.uint8),
                              np.concatenate(ins) if ins else np.zeros(0, dtype=np.uint8),
                              (values[chk_slots["m"]], macs[chk_slots["m"]]), extra_t0)
            results = mix.products(items)  # Beaver openings recorded for the check's MAC check
            mix.authenticate_and_check()
        self.made["auth_elements"] += len(values)
        self.made["auth_batches"] += 1
        out = [done[id(it)] if id(it) in done else
               self._assemble(it, nt, values, own, theirs, macs, opened, bits) if mixed.mixed_kind(it.req) is None
               else self._mixed_item(mix, it, results, i) for i, it in enumerate(items)]
        for it in post:
            self.made[f"auth_{it.req.kind}"] += len(done[id(it)][0].reshape(-1))
            self.made["auth_div_candidates"] += it.cand
        self._values = self._macs = None
        return out

    def binary_bits(self, raw: np.ndarray) -> np.ndarray:
        """This party's own random bits as it inputs them on the binary side of its daBits: the
        same as on the arithmetic side (one place to tamper in tests)."""
        return raw

    def parity_bits(self, bits: np.ndarray) -> np.ndarray:
        """The parity bits of this party's shares of the AND gates' products, as it inputs them on
        the binary side (:meth:`~mpc.preprocessing.ot_spdz_mixed.Mixed.products`; one place to
        tamper in tests)."""
        return bits

    def _mixed_item(self, mix: mixed.Mixed, it: _Item, results: dict[int, tuple], index: int) -> tuple[np.ndarray, ...]:
        kind = mixed.mixed_kind(it.req)
        if kind not in ("binput", "bit_triple"):  # AND triples: counted as handed out (_take)
            self.made[f"auth_{kind}"] += it.req.params[0]
        return mix.assemble(it, results, index)

    def triple_part(self, name: str, t0: int, m: int) -> tuple[np.ndarray, np.ndarray]:
        """(values, MACs) of component ``name`` of the current batch's triples t0 .. t0 + m - 1."""
        sl = self._tslice(name, t0, m)
        return self._values[sl], self._macs[sl]

    def _bits(self, items: list[_Item], t0: int, values: np.ndarray, own: np.ndarray,
              theirs: dict[int, np.ndarray], checks: slice) -> tuple[np.ndarray, np.ndarray]:
        """The batch's authenticated random bits, (values, MACs), from every party's own bits
        (:func:`mpc.preprocessing.ot_spdz_bits.xor_bits`), in item order, the consistency
        check's sacrificed bits (``checks``) last."""
        slots = [it.slots["bits"] for it in items if "bits" in it.slots] + [checks]
        origins = []
        for i in range(self.n):
            mine = i == self.pid
            v = np.concatenate([values[sl] if mine else np.zeros_like(values[sl]) for sl in slots])
            m = np.concatenate([own[sl] if mine else theirs[i][sl] for sl in slots])
            origins.append((v, m))
        return xor_bits(self, origins, t0)

    def _triples(self, nt: int) -> tuple[np.ndarray, ...]:
        """Shares of nt triples (a, b, c) and their sacrifice companions (a^, c^ = a^ b), unauthenticated.

        MASCOT's multiply and combine (Keller, Orsini, Scholl, CCS 2016, section 5): each party
        draws b and tau values a_1..a_tau; Gilboa gives shares of c_l = a_l b (the a_l's bits are
        the choices: the values a cheating sender could probe by selective failure); a public
        coin then gives r, r^ in Z_2^128^tau per triple and a = sum r_l a_l, c = sum r_l c_l,
        a^ = sum r^_l a_l, c^ = sum r^_l c_l: whatever a cheater learnt of the a_l is hashed away."""
        k = self.kernels
        a_l, b = self._draw((nt, TAU)), self._draw((nt,))
        x = np.ascontiguousarray(np.repeat(b, TAU, axis=0)).reshape(nt * TAU, 1, 2)
        c_l = self._products(x, a_l.reshape(nt * TAU, 2)).reshape(nt, TAU, 2)
        r, rh = combine_coefficients(self._coin(), nt)
        out = []
        for coef in (r, rh):
            for src in (a_l, c_l):
                acc = k.mul128(np.ascontiguousarray(coef[:, 0]), np.ascontiguousarray(src[:, 0]))
                for t in range(1, TAU):
                    k.add128(acc, k.mul128(np.ascontiguousarray(coef[:, t]), np.ascontiguousarray(src[:, t])),
                             out=acc)
                out.append(acc)
        a, c, ah, ch = out
        return a, b, c, ah, ch

    def _products(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        """This party's shares of x[:, w] * y over Z_2^128 for its shares x ``(N, w, 2)``, y ``(N, 2)``."""
        k = self.kernels
        n_el = x.shape[0]
        out = np.empty_like(x)
        step = max(64, self.batch // 2)
        for lo in range(0, n_el, step):
            xs, yv = x[lo : lo + step], y[lo : lo + step]
            sent, recv = self.wide.products(xs, self.peers, yv, self.peers, x.shape[1])
            acc = k.mul128(xs, np.ascontiguousarray(np.broadcast_to(yv[:, None, :], xs.shape)))
            for p in self.peers:
                k.add128(acc, sent[p], out=acc)
                k.add128(acc, recv[p], out=acc)
            out[lo : lo + len(xs)] = acc
        return out

    # ------------------------------------------------------------------ the checks

    def _exchange(self, arr: np.ndarray) -> dict[int, np.ndarray]:
        """Send ``arr`` to every peer and receive each peer's array of the same shape (one round)."""
        ch = self.channel
        arr = np.ascontiguousarray(arr)
        with ch.section(SECTION):
            tag = self.links.tag()
            for p in self.peers:
                ch.send(p, arr, tag)
            return {p: ch.recv(p, tag, dtype=arr.dtype, shape=arr.shape) for p in self.peers}

    def _coin(self) -> PRG:
        """A fresh public coin: commit to a seed share (one round), open it (one round)."""
        bad: list[str] = []
        seed = PRG.fresh().random_bytes(16)
        commit = self.commits.commit(seed)
        seen = self._exchange(_words(commit[2]))
        coin = self._open_coin(seed, commit, seen, bad)
        if bad:  # before any value depends on it: every party sees its own openings
            raise CheatingDetected(f"preprocessing='ot' (spdz2k), offline coin: {bad[0]}")
        return coin

    def _check(self, items: list[_Item], nt: int, values: np.ndarray, own: np.ndarray,
               theirs: dict[int, np.ndarray], macs: np.ndarray) -> np.ndarray:
        """Steps 4-6 of the module docstring; CheatingDetected (on every honest party) on failure.
        Returns the opened values of the conversions (squares' and matrices' epsilon, delta)."""
        k = self.kernels
        bad: list[str] = []
        tv = {name: values[i * nt : (i + 1) * nt] for i, name in enumerate(_TRIPLE)}
        tm = {name: macs[i * nt : (i + 1) * nt] for i, name in enumerate(_TRIPLE)}
        # 4. two coins: commit to both, open the first
        seeds = [PRG.fresh().random_bytes(16) for _ in range(2)]
        commits = [self.commits.commit(s) for s in seeds]
        seen = self._exchange(np.concatenate([_words(c[2]) for c in commits]))
        coin1 = self._open_coin(seeds[0], commits[0], {p: v[:4] for p, v in seen.items()}, bad)
        chi = coin1.derive("chi").uint64(len(values)) | np.uint64(1)
        chi[-1] = 1  # the mask element
        r = coin1.derive("sacrifice").uint64((nt, 2))
        # 5. the input check (own vector), the sacrifice's rho and the conversions' openings: one round
        rho_v = k.sub128(k.mul128(r, tv["a"]), tv["ah"])
        rho_m = k.sub128(k.mul128(r, tm["a"]), tm["ah"])
        conv_v, conv_m = self._conversions(items, values, macs)
        y_own = k.dot128_64(values, chi)
        share = np.concatenate([y_own.reshape(1, 2), rho_v, conv_v])
        got = self._exchange(share)
        total = share_sum(self, share[1:], {p: got[p][1:] for p in self.peers})
        rho, conv = total[:nt], total[nt:]
        ys = {self.pid: y_own, **{p: got[p][0] for p in self.peers}}
        mac_of = {self.pid: k.dot128_64(own, chi), **{p: k.dot128_64(theirs[p], chi) for p in self.peers}}
        opened = [np.stack([ys[i] for i in range(self.n)]), rho, conv]  # each origin's y with its own MACs
        open_macs = [np.stack([mac_of[i] for i in range(self.n)]), rho_m, conv_m]
        if nt:  # sigma = r c - c^ - rho b
            sig_v = k.sub128(k.sub128(k.mul128(r, tv["c"]), tv["ch"]), k.mul128(rho, tv["b"]))
            sig_m = k.sub128(k.sub128(k.mul128(r, tm["c"]), tm["ch"]), k.mul128(rho, tm["b"]))
            if open_recorded(self, sig_v, sig_m, opened, open_macs).any():
                bad.append("a multiplication triple failed the sacrifice check")
        # 6. the second coin, then the MAC check of every opening, committed and opened
        coin2 = self._open_coin(seeds[1], commits[1], {p: v[4:] for p, v in seen.items()}, bad)
        self._mac_check(np.concatenate(opened), np.concatenate(open_macs), coin2, bad)
        return conv

    def _mac_check(self, o: np.ndarray, m: np.ndarray, coin: PRG, bad: list[str]) -> None:
        """The MAC check of openings ``o`` (Z_2^128 values) with this party's MAC shares ``m``,
        odd coefficients from ``coin``: commit to (Z_i, Y, verdict) (one round), open (one round),
        check; CheatingDetected when anything failed here or at any party (``bad``: the failures
        this party saw before)."""
        k = self.kernels
        e = coin.derive("e").uint64(len(o)) | np.uint64(1)
        big_y = k.dot128_64(o, e)
        z = k.sub128(k.dot128_64(m, e).reshape(1, 2), k.mul128_64(big_y.reshape(1, 2),
                                                                 np.array([self._alpha], dtype=np.uint64)))
        payload = np.concatenate([z.reshape(2), big_y, np.array([len(bad)], dtype=np.uint64)])
        number, nonce, digest = self.commits.commit(payload.tobytes())
        their_commit = self._exchange(_words(digest))
        seen_all = hashlib.sha256(b"".join(their_commit.get(i, _words(digest)).tobytes()
                                           for i in range(self.n))).digest()
        msgs = self._exchange(np.concatenate([_words(nonce), payload, _words(seen_all)]))
        total_z = int(z[0, 0]) | int(z[0, 1]) << 64
        for p, msg in msgs.items():
            their_payload = msg[2:7]
            if self.commits.digest(p, number, msg[:2].tobytes(), their_payload.tobytes()) != their_commit[p].tobytes():
                bad.append(f"party {p}'s check values do not match its commitment")
            if msg[7:].tobytes() != seen_all:
                bad.append(f"party {p} saw different commitments")
            if not np.array_equal(their_payload[2:4], big_y):
                bad.append("the parties opened different values")
            if their_payload[4]:
                bad.append(f"party {p} reported a failed check")
            total_z += int(their_payload[0]) | int(their_payload[1]) << 64
        if total_z % (1 << 128):
            bad.append("the MACs do not match the authenticated values")
        if bad:
            raise CheatingDetected(f"preprocessing='ot' (spdz2k), offline check: {bad[0]}")

    def _conversions(self, items: list[_Item], values: np.ndarray, macs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Shares (values, MACs) to open for the items made from triples: a square's
        epsilon = a - b; a matrix item's epsilon = A[i, l] - a and delta = B[l, c] - b per triple
        (t, i, l, c). Their positions (``it.conv``) index the opened array."""
        k = self.kernels
        vals, mac_parts, pos = [], [], 0
        for it in items:
            kind = it.req.kind
            if kind not in ("square", "matmul"):
                continue
            o = it.toff
            if kind == "square":
                size = math.prod(it.req.params)
                ta, tb = self._tslice("a", o, size), self._tslice("b", o, size)
                for src, acc in ((values, vals), (macs, mac_parts)):
                    acc.append(k.sub128(src[ta], src[tb]))
                it.conv = slice(pos, pos + size)
                pos += size
                continue
            batch, m, kk, n = it.req.params
            count = batch or 1
            size = count * m * kk * n
            ta, tb = self._tslice("a", o, size), self._tslice("b", o, size)
            for src, acc in ((values, vals), (macs, mac_parts)):
                big_a = src[it.slots["A"]].reshape(count, m, kk, 1, 2)
                big_b = src[it.slots["B"]].reshape(count, 1, kk, n, 2)
                eps = k.sub128(np.ascontiguousarray(np.broadcast_to(big_a, (count, m, kk, n, 2))),
                               src[ta].reshape(count, m, kk, n, 2))
                dlt = k.sub128(np.ascontiguousarray(np.broadcast_to(big_b, (count, m, kk, n, 2))),
                               src[tb].reshape(count, m, kk, n, 2))
                acc.append(np.concatenate([eps.reshape(-1, 2), dlt.reshape(-1, 2)]))
            it.conv = slice(pos, pos + 2 * size)
            pos += 2 * size
        empty = np.zeros((0, 2), dtype=np.uint64)
        return (np.concatenate(vals) if vals else empty), (np.concatenate(mac_parts) if mac_parts else empty)

    def _tslice(self, name: str, offset: int, size: int) -> slice:
        """Slice of the authenticated vector: component ``name`` of triples offset..offset+size."""
        base = _TRIPLE.index(name) * self._nt
        return slice(base + offset, base + offset + size)

    def _open_coin(self, seed: bytes, commit, theirs: dict[int, np.ndarray], bad: list[str]) -> PRG:
        """Open this party's committed seed share; the coin is the XOR of all (mismatches noted in ``bad``)."""
        number, nonce, _ = commit
        got = self._exchange(np.concatenate([_words(nonce), _words(seed)]))
        out = bytearray(seed)
        for p, msg in got.items():
            their_nonce, their_seed = msg[:2].tobytes(), msg[2:].tobytes()
            if self.commits.digest(p, number, their_nonce, their_seed) != theirs[p].tobytes():
                bad.append(f"party {p} opened a coin share that does not match its commitment")
            out = bytearray(a ^ b for a, b in zip(out, their_seed, strict=True))
        return PRG(bytes(out))

    # ------------------------------------------------------------------ items

    def _assemble(self, it: _Item, nt: int, values: np.ndarray, own: np.ndarray, theirs: dict[int, np.ndarray],
                  macs: np.ndarray, conv: np.ndarray, bits) -> tuple[np.ndarray, ...]:
        k = self.kernels
        kind, p = it.req.kind, it.req.params
        if kind == "trunc":
            nb = bit_count(p)
            self.made["auth_trunc"] += nb // 64
            sl, su = slice(it.boff, it.boff + nb), it.slots["u"]
            return truncation_tuple(k, (bits[0][sl], bits[1][sl]), (values[su], macs[su]), p[0], tuple(p[1:]))

        def comp(name: str, size: int) -> tuple[np.ndarray, np.ndarray]:
            sl = self._tslice(name, it.toff, size)
            return values[sl], macs[sl]

        if kind == "triple":
            size = math.prod(p)
            self.made["auth_triple"] += size
            return tuple(pack(*comp(name, size)).reshape(p) for name in ("a", "b", "c"))
        if kind == "square":  # (a, a^2) from a triple and the opened e = a - b: a^2 = c + e a
            size = math.prod(p)
            self.made["auth_square"] += size
            (av, am), (cv, cm) = comp("a", size), comp("c", size)
            e = conv[it.conv]
            return pack(av, am).reshape(p), pack(k.add128(cv, k.mul128(e, av)), k.add128(cm, k.mul128(e, am))).reshape(p)
        if kind == "matmul":
            return self._matrix(it, values, macs, conv)
        if kind == "rand":  # 2^64 u: value and MAC shares shifted up one word (multiplied by 2^64)
            sl = it.slots["u"]
            v, mm = np.zeros_like(values[sl]), np.zeros_like(macs[sl])
            v[:, 1], mm[:, 1] = values[sl][:, 0], macs[sl][:, 0]
            return (pack(v, mm).reshape(p),)
        # input: the owner's sharing only (the others' contributions to this slot are ignored)
        owner, shape = p[0], p[1:]
        sl = it.slots["r"]
        mac = own[sl] if owner == self.pid else theirs[owner][sl]
        val = values[sl] if owner == self.pid else np.zeros_like(values[sl])
        item = pack(val, mac).reshape(shape)
        if owner == self.pid:
            return item, values[sl].reshape(*shape, 2).copy()
        return (item,)

    def _matrix(self, it: _Item, values: np.ndarray, macs: np.ndarray, conv: np.ndarray) -> tuple[np.ndarray, ...]:
        """A matrix triple (A, B, C = A B) from m k n triples (a, b, c) indexed (t, i, l, c) and the
        opened eps = A[i, l] - a, delta = B[l, c] - b: A[i, l] B[l, c] = c + eps b + delta a + eps delta
        (eps delta: party 0's value, alpha_i eps delta in every MAC), summed over l."""
        k = self.kernels
        batch, m, kk, n = it.req.params
        count = batch or 1
        size = count * m * kk * n
        shape = (count, m, kk, n, 2)
        opened = conv[it.conv]
        eps, dlt = opened[:size].reshape(shape), opened[size:].reshape(shape)
        ed = k.mul128(eps, dlt)
        out = []
        for src, first in ((values, self.pid == 0), (macs, None)):
            a = src[self._tslice("a", it.toff, size)].reshape(shape)
            b = src[self._tslice("b", it.toff, size)].reshape(shape)
            c = src[self._tslice("c", it.toff, size)].reshape(shape)
            z = k.add128(c, k.add128(k.mul128(eps, b), k.mul128(dlt, a)))
            if first:
                k.add128(z, ed, out=z)
            elif first is None:
                k.add128(z, k.mul128_64(ed, np.full(shape[:-1], self._alpha, dtype=np.uint64)), out=z)
            out.append(sum128(z, 2))  # (count, m, n, 2): sum over l
        lead = (batch,) if batch else ()
        big_a = pack(values[it.slots["A"]], macs[it.slots["A"]]).reshape(*lead, m, kk)
        big_b = pack(values[it.slots["B"]], macs[it.slots["B"]]).reshape(*lead, kk, n)
        self.made["auth_matmul"] += 1
        return big_a, big_b, pack(out[0].reshape(-1, 2), out[1].reshape(-1, 2)).reshape(*lead, m, n)


TAU = 3  # values a_l combined per triple (MASCOT's tau)


def combine_coefficients(coin: PRG, nt: int) -> tuple[np.ndarray, np.ndarray]:
    """MASCOT's combining vectors r, r^ ``(nt, TAU, 2)`` in Z_2^128 from a public coin. Over
    Z_2^128 a random combination can lose uniformity (all r_l even: a = sum r_l a_l is even, and
    d = x - a would show x's parity; a^ = a mod 2 would show a's parity in rho): with r_0 odd,
    r^_0 even and r^_1 odd the minor r_0 r^_1 - r_1 r^_0 is odd, so (a, a^) is a bijective image
    of (a_0, a_1), uniform whenever an honest party's a_l are."""
    r, rh = coin.derive("r").uint64((nt, TAU, 2)), coin.derive("r^").uint64((nt, TAU, 2))
    r[:, 0, 0] |= np.uint64(1)
    rh[:, 0, 0] &= ~np.uint64(1)
    rh[:, 1, 0] |= np.uint64(1)
    return r, rh


def _triples_of(req: Request) -> int:
    """Triples one request consumes (its elements for rand and input)."""
    p = req.params
    if req.kind == "matmul":
        return (p[0] or 1) * p[1] * p[2] * p[3]
    if req.kind == "trunc":
        return 3 * bit_count(p)
    if req.kind == "div":  # about 3 triples per bit for three parties
        size = derived.item_size(req)
        return derived.candidates(p[0], size) * derived.div_triples(p[0], 3) if size else 0
    if req.kind in ("tmul", "tsquare"):
        return derived.item_size(req) * (3 * 128 + 4)
    if mixed.mixed_kind(req) is not None:
        return 3 * mixed.bits_of(req) + mixed.extra_triples(req) + mixed.binary_inputs(req) // 64
    return math.prod(p[1:] if req.kind == "input" else p)
_TRIPLE = ("a", "b", "c", "ah", "ch")  # the triples' components, in this order at the head of the vector
_EXTRA = {"triple": (), "square": (), "matmul": ("A", "B"), "rand": ("u",), "input": ("r",), "trunc": ("bits", "u"),
          "div": ("bits", "u"), "tmul": ("bits", "u", "r2"), "tsquare": ("bits", "u"),
          "dabit": ("bits",), "bitmul": ("bits",), "bit_triple": ("bits",), "edabit": ("bits", "u"), "binput": ()}
