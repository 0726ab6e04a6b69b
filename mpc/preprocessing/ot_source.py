"""``preprocessing="ot"``: the parties make their own material, no dealer (semi2k and gmw).

Every kind the dealer serves for the unauthenticated engines is built from three primitives of
:class:`~mpc.preprocessing.ot_link.OTLinks` (pairwise OT extension between every pair):

- *products* [x*y] of additively shared x, y over Z_2^64: x*y = sum_i x_i y_i + sum_{i != j}
  x_i y_j, each cross term x_i y_j by Gilboa's OT multiplication between parties i (sender) and
  j (receiver), all pairs in two round trips (:meth:`OTPreprocessing.products`); squares need
  only the pairs i < j, with correlation 2 x_i (half the OTs);
- *daBits* (random bits r = XOR_i r_i, party i's bit r_i drawn by itself, with additive shares
  of r as ring elements): the arithmetic sharing is folded in n - 1 steps, acc <- acc XOR r_i =
  acc + r_i - 2 acc r_i, where acc r_i costs one 1-bit correlated OT per element with each
  other party (2 (n - 1) round trips in all, 2 for two parties);
- *AND triples*: XOR shares a_i, b_i drawn locally and c = XOR_{i,j} a_i b_j, the cross terms by
  one 1-bit correlated OT each (:meth:`~mpc.preprocessing.ot_link.OTLinks.bit_products`).

Kinds (``mpc.preprocessing.base``):
  triple -- a_i, b_i local, c = product;  square -- a_i local, c = square;
  matmul -- A_i, B_i local, C = sum A_i B_j, the cross products by Gilboa with vector
  correlations (the receiver's bits of B_j[l, c] select the sender's column A_i[:, l]: k n 64 OTs
  carrying m ring elements each) -- or by ``matrix_triple_2pc`` when given (the hook for the
  Paillier matrix triples, see :class:`OTPreprocessing`);
  trunc -- r = sum_t 2^t b_t from 64 daBits' ring halves, r >> f = sum_{t >= f} 2^(t-f) b_t and
  msb(r) = b_63: linear, no product;
  tmul, tsquare -- r1, r2 (or r) as for trunc, the shifted parts and top bits linear in the
  bits, and the listed products (a1*a2, m1*a2, a1*m2, m1*m2; a*a, a*m) by Gilboa;
  bit_triple -- AND triples; dabit -- daBits; bitmul -- a daBit r, a_i local, and [r*a];
  div (a public d that is not a power of two; floor(r/d) is not linear in the bits of r) --
  r = q d + s by rejection sampling with public accept bits (:mod:`mpc.preprocessing.ot_div`).
  Authenticated material (engine spdz2k) is :class:`~mpc.preprocessing.ot_spdz.SpdzOTPreprocessing`,
  which extends this class; here an authenticated request is a ConfigError.

Batches: every primitive runs in chunks of at most ``batch`` products (64 ``batch`` daBits or
AND-triple bits: the same number of OTs), bounded memory, two round trips per chunk for all
pairs together (extension matrix; challenge; check; corrections), and :meth:`prefetch` (``party.preprocess(plan)``) makes the
whole plan at once, grouped by primitive, into a store the online phase then takes from with no
offline traffic. A request with nothing in store is made on demand.

Cost (two parties, per element, each party; the bench ``offline`` suite measures it): a Z_2^64
triple 2 x 64 OTs, i.e. 512 bytes of extension matrix (SoftSpoken, k = 2: 8 bytes per OT; IKNP
1,024) + 288 bytes of trimmed corrections sent per party, 800 bytes (plus 40 bytes of challenge
and check per batch); a square half that; an AND triple 8 bytes + 1 bit; a daBit 8 bytes
(receiver or sender); a truncation triple 64 daBits; a division triple about 12 KB with IKNP,
less with SoftSpoken (:mod:`mpc.preprocessing.ot_div`). For n parties each party pairs with
n - 1 others: cost x (n - 1).

Security: semi-honest parties, dishonest majority -- no trusted party; the assumptions are
those of the OT (CDH in the RFC 3526 group for the base OTs, in the random-oracle model;
correlation robustness of fixed-key AES; AES-CTR as a PRG). A party that cheats in the OT
extension's consistency check is caught (CheatingDetected); otherwise a malicious party can
make the material wrong (as it can in the online phase of semi2k).
"""

from __future__ import annotations

import math
import types
from collections import deque
from collections.abc import Callable, Sequence

import numpy as np

from mpc.crypto import ot_ext
from mpc.errors import ConfigError
from mpc.net.channel import Channel
from mpc.preprocessing.base import Preprocessing, Request, component_shapes, tmul_components
from mpc.preprocessing.ot_div import division_triples
from mpc.preprocessing.ot_link import OTLinks
from mpc.prg import PRG
from mpc.sharing.packing import POW2, nwords

DEFAULT_BATCH = 1 << 14
_U63 = np.uint64(63)

MatrixTriple2PC = Callable[[Channel, int, np.ndarray, np.ndarray], np.ndarray]


class OTPreprocessing(Preprocessing):
    """Dealer-free material for one party (see the module docstring).

    ``batch``: the largest number of elements one OT round trip handles (memory bound).
    ``matrix_triple_2pc``: the hook for a Paillier matrix-triple module (run for every pair):
    ``f(channel, peer, A, B) -> share``, this party's additive share of
    A_me @ B_peer + A_peer @ B_me for its local (m, k) A and (k, n) B (uint64, mod 2^64); it
    may use ``channel`` freely (both parties call it at the same point; offline tags are its own
    business, e.g. ``OTLinks.tag``). Called once per peer, peers in ascending order (``ot_matrix=
    "paillier"`` in ``mpc.run``/``mpcrun`` passes :class:`~mpc.preprocessing.paillier_matrix.
    PaillierMatrixHook`). Left None, the cross products come from Gilboa's OT multiplication
    with vector correlations (k n 64 OTs of m-element messages: about 16 k n + 288 k n m bytes
    per party and pair -- 4.8 GB for 256^3, hence the hook).
    ``matrix_choice``: with a hook, ``f(m, k, n) -> bool`` says per shape whether to use it
    (else Gilboa); it must give every party the same answer (``ot_matrix="auto"`` passes
    :func:`~mpc.preprocessing.paillier_matrix.paillier_cheaper`, a pure function of the shape).
    """

    def __init__(self, channel: Channel, kernels: types.SimpleNamespace, *, batch: int = DEFAULT_BATCH,
                 matrix_triple_2pc: MatrixTriple2PC | None = None,
                 matrix_choice: Callable[[int, int, int], bool] | None = None,
                 extension: str | None = None, k: int | None = None) -> None:
        super().__init__()
        if isinstance(batch, bool) or not isinstance(batch, int) or batch < 64:
            raise ConfigError(f"batch: expected an integer >= 64 (elements per OT round trip), got {batch!r}")
        self.channel = channel
        self.pid, self.n = channel.pid, channel.n
        self.peers = channel.peers
        self.kernels = kernels
        self.batch = batch
        self.matrix_triple_2pc = matrix_triple_2pc
        self.matrix_choice = matrix_choice
        self.links = OTLinks(channel, kernels, label=b"tessera-ot", k=k, extension=extension)
        self._prg = PRG.fresh()  # this party's own shares and bits: never leave it unmasked
        self._store: dict[Request, deque] = {}
        self.made = {"triple": 0, "square": 0, "dabit": 0, "bit_triple": 0, "matmul": 0}

    # ------------------------------------------------------------------ the primitives

    def products(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        """This party's share of x*y (elementwise) for its shares x, y ``(N,)``: two round trips
        per chunk of ``batch`` elements."""
        x, y = x.reshape(-1), y.reshape(-1)
        out = np.empty(len(x), dtype=np.uint64)
        for lo in range(0, len(x), self.batch):
            xs, ys = x[lo : lo + self.batch], y[lo : lo + self.batch]
            sent, recv = self.links.ring_products(xs[:, None], self.peers, ys, self.peers)
            acc = xs * ys
            for p in self.peers:
                acc += sent[p][:, 0] + recv[p][:, 0]
            out[lo : lo + len(xs)] = acc
        return out

    def squares(self, x: np.ndarray) -> np.ndarray:
        """This party's share of x^2: cross terms 2 x_i x_j once per pair (i sends to j > i)."""
        x = x.reshape(-1)
        out = np.empty(len(x), dtype=np.uint64)
        to = [p for p in self.peers if p > self.pid]
        frm = [p for p in self.peers if p < self.pid]
        for lo in range(0, len(x), self.batch):
            xs = x[lo : lo + self.batch]
            sent, recv = self.links.ring_products((xs + xs)[:, None], to, xs, frm)
            acc = xs * xs
            for part in (*sent.values(), *recv.values()):
                acc += part[:, 0]
            out[lo : lo + len(xs)] = acc
        return out

    def random_bits(self, count: int) -> tuple[np.ndarray, np.ndarray]:
        """daBits: this party's bits r_i ``(count,)`` uint8 and its ring shares of XOR_i r_i."""
        bits = np.empty(count, dtype=np.uint8)
        arith = np.empty(count, dtype=np.uint64)
        step = 64 * self.batch  # one OT per daBit and pair: as many OTs per round trip as a product batch
        for lo in range(0, count, step):
            m = min(step, count - lo)
            r = (self._prg.uint64(m) & np.uint64(1)).astype(np.uint8)
            acc = r.astype(np.uint64) if self.pid == 0 else np.zeros(m, dtype=np.uint64)
            for i in range(1, self.n):
                if self.pid == i:
                    _, recv = self.links.ring_products(None, [], r.astype(np.uint64), self.peers, nbits=1)
                    prod = acc * r
                    for p in self.peers:
                        prod += recv[p][:, 0]
                    acc = acc + r - (prod + prod)
                else:
                    sent, _ = self.links.ring_products(acc[:, None], [i], None, [], nbits=1)
                    acc = acc - (sent[i][:, 0] + sent[i][:, 0])
            bits[lo : lo + m], arith[lo : lo + m] = r, acc
        self.made["dabit"] += count
        return bits, arith

    def and_triples(self, nw: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """This party's XOR shares (a, b, c) of ``nw`` words of AND triples."""
        a, b = self._prg.uint64(nw), self._prg.uint64(nw)
        c = a & b
        step = self.batch  # words: 64 OTs each, as many OTs per round trip as a batch of products
        for lo in range(0, nw, step):
            sl = slice(lo, lo + step)
            sent, recv = self.links.bit_products(b[sl], self.peers, a[sl], self.peers)
            for p in self.peers:
                c[sl] ^= sent[p] ^ recv[p]
        self.made["bit_triple"] += nw
        return a, b, c

    def matmul_cross(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        """This party's share of sum_{i != j} A_i B_j for its (m, k) A and (k, n) B: the hook
        ``matrix_triple_2pc`` for every pair when given, else Gilboa with vector correlations
        (all pairs in two round trips per chunk)."""
        m, k = a.shape
        n = b.shape[1]
        if self.matrix_triple_2pc is not None and (self.matrix_choice is None or self.matrix_choice(m, k, n)):
            # pairwise: the pair {i, j}'s two shares sum to A_i B_j + A_j B_i. Every party visits
            # its peers in ascending order, a total order on pairs, so no pair waits in a cycle.
            out = np.zeros((a.shape[0], b.shape[1]), dtype=np.uint64)
            for p in sorted(self.peers):
                out += self.matrix_triple_2pc(self.channel, p, a, b)
            return out
        out = np.zeros((m, n), dtype=np.uint64)
        # the OT of B[l, c] (element l*n + c) carries the column A[:, l]: m ring elements
        x = np.repeat(np.ascontiguousarray(a.T), n, axis=0)  # (k*n, m)
        y = b.reshape(-1)
        rows = max(1, self.batch // max(1, m))
        for lo in range(0, k * n, rows):
            sent, recv = self.links.ring_products(x[lo : lo + rows], self.peers, y[lo : lo + rows], self.peers, w=m)
            idx = np.arange(lo, lo + min(rows, k * n - lo)) % n
            for p in self.peers:
                np.add.at(out.T, idx, sent[p] + recv[p])  # entry (l*n + c, i) adds to C[i, c]
        return out

    # ------------------------------------------------------------------ the kinds

    def _take(self, req: Request) -> tuple[np.ndarray, ...]:
        queue = self._store.get(req)
        if queue:
            item = queue.popleft()
            if not queue:
                del self._store[req]
            return item
        return self._generate([req])[0]

    def _prefetch(self, plan: Sequence[Request]) -> None:
        for req, item in zip(plan, self._generate(plan), strict=True):
            self._store.setdefault(req, deque()).append(item)

    def _generate(self, reqs: Sequence[Request]) -> list[tuple[np.ndarray, ...]]:
        """Items for ``reqs``, grouped by primitive: one daBit run, one product run, one
        square run and one AND-triple run for the whole list."""
        for r in reqs:
            if r.auth:
                raise ConfigError("preprocessing='ot' builds no authenticated (spdz2k) material yet: "
                                  "use engine='semi2k' or 'gmw' with it, or preprocessing='dealer' for spdz2k")
        # 1. bits: every daBit of the list in one run
        nbits = sum(_bits_needed(r) for r in reqs)
        bits, arith = self.random_bits(nbits) if nbits else (None, None)
        pos = 0
        muls: list[tuple[np.ndarray, np.ndarray]] = []
        sqs: list[np.ndarray] = []
        plans = []
        for r in reqs:
            need = _bits_needed(r)
            plans.append(self._base(r, None if bits is None else bits[pos : pos + need],
                                    None if arith is None else arith[pos : pos + need], muls, sqs))
            pos += need
        # 2. all products and squares of the list in one run each
        prod = self.products(np.concatenate([x.reshape(-1) for x, _ in muls]),
                             np.concatenate([y.reshape(-1) for _, y in muls])) if muls else None
        sq = self.squares(np.concatenate([x.reshape(-1) for x in sqs])) if sqs else None
        self.made["triple"] += 0 if prod is None else len(prod)
        self.made["square"] += 0 if sq is None else len(sq)
        cursor = {"mul": 0, "sq": 0}

        def take(which: str, shape) -> np.ndarray:
            size = math.prod(shape)
            src = prod if which == "mul" else sq
            lo = cursor[which]
            cursor[which] = lo + size
            return src[lo : lo + size].reshape(shape)

        return [finish(take) for finish in plans]

    def _base(self, req: Request, bits, arith, muls, sqs):
        """Draw the base of one item, register its products; return its finishing function."""
        kind, p = req.kind, req.params
        shapes = component_shapes(req)
        if kind == "triple":
            a, b = self._prg.uint64(p), self._prg.uint64(p)
            muls.append((a, b))
            return lambda take: (a, b, take("mul", p))
        if kind == "square":
            a = self._prg.uint64(p)
            sqs.append(a)
            return lambda take: (a, take("sq", p))
        if kind == "bit_triple":
            item = self.and_triples(p[0])
            return lambda take: item
        if kind == "dabit":
            words = ot_ext.pack_choices(bits, nwords(p[0])) if p[0] else np.zeros(0, dtype=np.uint64)
            return lambda take: (words, arith.copy())
        if kind == "bitmul":
            words = ot_ext.pack_choices(bits, nwords(p[0])) if p[0] else np.zeros(0, dtype=np.uint64)
            a = self._prg.uint64(p[0])
            r = arith.copy()
            muls.append((r, a))
            return lambda take: (words, a, r, take("mul", p))
        if kind == "matmul":
            item = self._matmul(p)
            return lambda take: item
        if kind == "div":
            shape = p[1:]
            size = math.prod(shape)
            r, q, m = division_triples(self, p[0], size) if size else (np.zeros(0, dtype=np.uint64),) * 3
            item = (r.reshape(shape), q.reshape(shape), m.reshape(shape))
            return lambda take: item
        if kind == "trunc":
            shape = p[1:]
            r, high, msb = _from_bits(arith, shape, p[0])
            return lambda take: (r, high, msb)
        if kind == "tsquare":
            shape = p[1:]
            r, a, m = _from_bits(arith, shape, p[0])
            sqs.append(a)
            muls.append((a, m))
            return lambda take: (r, a, m, take("sq", shape), take("mul", shape))
        if kind == "tmul":
            k1, k2, shape = p[0], p[1], p[2:]
            size = math.prod(shape)
            r1, a1, m1 = _from_bits(arith[: 64 * size], shape, k1)
            if k2:
                r2, a2, m2 = _from_bits(arith[64 * size :], shape, k2)
            else:
                r2 = self._prg.uint64(shape)
                a2, m2 = r2, None
            parts = {"r1": r1, "r2": r2, "a1": a1, "m1": m1, "a2": a2, "m2": m2}
            pairs = {"a1a2": (a1, a2), "m1a2": (m1, a2), "a1m2": (a1, m2), "m1m2": (m1, m2)}
            names = tmul_components(k1, k2)
            for name in names:
                if name in pairs:
                    muls.append(pairs[name])
            return lambda take: tuple(parts[nm] if nm in parts else take("mul", shape) for nm in names)
        raise ConfigError(f"preprocessing='ot' serves no {kind!r} material ({shapes})")

    def _matmul(self, p: tuple[int, ...]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        batch, m, k, n = p
        count = batch or 1
        a, b = self._prg.uint64((count, m, k)), self._prg.uint64((count, k, n))
        c = np.empty((count, m, n), dtype=np.uint64)
        for i in range(count):
            c[i] = self.kernels.matmul(a[i], b[i]) + self.matmul_cross(a[i], b[i])
        self.made["matmul"] += 1
        if not batch:
            return a[0], b[0], c[0]
        return a, b, c

    def close(self) -> None:
        self._store.clear()


def _bits_needed(req: Request) -> int:
    """daBits one item consumes (ring halves for r's bits, or whole daBits)."""
    kind, p = req.kind, req.params
    if kind in ("dabit", "bitmul"):
        return p[0]
    if kind in ("trunc", "tsquare"):
        return 64 * math.prod(p[1:])
    if kind == "tmul":
        size = math.prod(p[2:])
        return 64 * size * (2 if p[1] else 1)
    return 0


def _from_bits(arith: np.ndarray, shape, k: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """From shares of 64 random bits per element: shares of r, r >> k (logical) and msb(r)."""
    size = math.prod(shape)
    b = arith[: 64 * size].reshape(size, 64)
    r = (b * POW2).sum(axis=1, dtype=np.uint64)
    high = (b[:, k:] * POW2[: 64 - k]).sum(axis=1, dtype=np.uint64)
    return r.reshape(shape), high.reshape(shape), b[:, 63].copy().reshape(shape)
