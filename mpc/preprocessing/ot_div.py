"""Division triples (r, floor(r / d), msb(r)) without a dealer, for a public d that is not a
power of two: rejection sampling with public accept bits, on OT daBits and AND triples.

floor(r / d) is not linear in the bits of r, so r is built from its quotient instead: r = q d + s.
Write 2^64 = Q d + R and 2^63 = Q' d + R' (0 <= R, R' < d), L = bitlen(Q), l = bitlen(d - 1).

1. Draw K candidates, each with L daBits q_0..q_{L-1} and l daBits s_0..s_{l-1}
   (:meth:`~mpc.preprocessing.ot_source.OTPreprocessing.random_bits`: XOR and additive shares):
   q uniform in [0, 2^L), s uniform in [0, 2^l).
2. On the XOR shares, with GMW AND gates from OT AND triples (one round per gate layer, all
   candidates and all comparisons of a layer in one exchange), compare with public constants by
   log-depth trees: [s < d], [q < Q], [q = Q], [s < R], [q < Q'], [q = Q'], [s < R'] (the circuit
   of :mod:`mpc.preprocessing.div_circuit`, shared with spdz2k's authenticated division tuples).
3. accept = [s < d] AND ([q < Q] XOR [q = Q] AND [s < R]) is opened (public). An accepted (q, s)
   is uniform over {(q, s): s < d, q d + s < 2^64}, i.e. r = q d + s is uniform over Z_2^64;
   the accept bit is independent of the accepted value, so opening it reveals nothing.
4. For the accepted: r = sum 2^t d q_t + sum 2^t s_t and floor(r / d) = q = sum 2^t q_t from the
   additive halves (linear); msb(r) = NOT([q < Q'] XOR [q = Q'] AND [s < R']) is XOR-shared and
   becomes additive through one more daBit rho: open c = msb XOR rho, then [msb] = c + [rho] - 2c[rho].

Cost per accepted triple (at least 1/4 of the candidates are accepted; about 1/2 for small d):
L + l + 1 daBits and ``div_circuit.and_gates`` AND gates per candidate (about 4L + 6l: 222 for
d = 3; their AND triples made in one batch); rounds: the daBits and AND triples (2 (n - 1) + 2),
``div_circuit.and_layers`` gate layers (ceil(log2 max(L, l)) + 2 = 8; the carry chains of before
took L + l + 2, 67 for d = 3), one opening of the accept bits and one of the masked msb.
Measured (two parties in one process, d = 3, 16,384 triples): about 6.0 KB per triple per party
and 66 rounds (6.8 KB and 133 with the chains).
Security: that of the daBits and AND triples (semi-honest); the only values opened are the
accept bits (independent of the kept values) and msb XOR rho (uniform).
"""

from __future__ import annotations

import numpy as np

from mpc.crypto import ot_ext
from mpc.preprocessing import div_circuit as circuit
from mpc.preprocessing.ot_link import SECTION

_ONES = np.uint64(0xFFFFFFFFFFFFFFFF)


class _Gates:
    """GMW AND gates on packed XOR-shared words, from the source's OT AND triples."""

    def __init__(self, src) -> None:
        self.src = src
        self.ch = src.channel
        self.first = src.pid == 0
        self._pool: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None
        self._used = 0

    def reserve(self, nw: int) -> None:
        """Make the AND triples of the next ``nw`` words of gates at once (one OT batch rather
        than one per gate layer)."""
        self._pool = self.src.and_triples(nw)
        self._used = 0

    def _triples(self, nw: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        if self._pool is None or self._used + nw > len(self._pool[0]):
            return self.src.and_triples(nw)
        lo, self._used = self._used, self._used + nw
        a, b, c = self._pool
        return a[lo : lo + nw], b[lo : lo + nw], c[lo : lo + nw]

    def xor_open(self, words: np.ndarray) -> np.ndarray:
        """XOR of every party's ``words``: one exchange on an offline tag."""
        tag = self.src.links.tag()
        with self.ch.section(SECTION):
            for p in self.ch.peers:
                self.ch.send(p, words, tag)
            out = words.copy()
            for p in self.ch.peers:
                out ^= self.ch.recv(p, tag, dtype=np.uint64, shape=words.shape)
        return out

    def and_(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        """Shares of x AND y (equal-length word arrays): one round."""
        a, b, c = self._triples(len(x))
        de = self.xor_open(np.concatenate([x ^ a, y ^ b]))
        d, e = de[: len(x)], de[len(x) :]
        z = c ^ (d & b) ^ (e & a)
        if self.first:
            z ^= d & e
        return z

    def not_(self, x: np.ndarray) -> np.ndarray:
        return x ^ _ONES if self.first else x.copy()

    def const(self, bit: int, nw: int) -> np.ndarray:
        return np.full(nw, _ONES if bit and self.first else 0, dtype=np.uint64)

    def xor_disjoint(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        return x ^ y


def _planes(bits: np.ndarray, count: int, width: int) -> list[np.ndarray]:
    """(count * width,) own bits, candidate-major -> ``width`` packed planes over the candidates."""
    b = bits.reshape(count, width)
    nw = -(-count // 64)
    return [ot_ext.pack_choices(b[:, t], nw) for t in range(width)]


def division_triples(src, d: int, count: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """This party's additive shares of ``count`` triples (r, floor(r / d), msb(r)) (see above)."""
    c = circuit.constants(d)
    big_l, small_l = c.big_l, c.small_l
    g = _Gates(src)
    out_r, out_q, out_m = [], [], []
    got = 0
    while got < count:
        k = max(64, -(-(count - got) * 5 // 2) + 64)  # expected acceptance >= 1/4; usually ~1/2
        nw = -(-k // 64)
        qb, qa = src.random_bits(k * big_l)
        sb, sa = src.random_bits(k * small_l)
        g.reserve(nw * circuit.and_gates(c))  # every gate of the circuit
        accept_sh, msb_sh = circuit.accept_and_msb(g, _planes(qb, k, big_l), _planes(sb, k, small_l), c, d, nw)
        accept_words = g.xor_open(accept_sh)
        accept = np.unpackbits(accept_words.view(np.uint8), bitorder="little")[:k].astype(bool)
        idx = np.flatnonzero(accept)[: count - got]
        # msb, XOR-shared -> additive with a daBit (only for the kept ones)
        rho_b, rho_a = src.random_bits(len(idx))
        msb_bits = np.unpackbits(msb_sh.view(np.uint8), bitorder="little")[:k][idx]
        masked = g.xor_open(ot_ext.pack_choices(msb_bits ^ rho_b, -(-len(idx) // 64)))
        e = np.unpackbits(masked.view(np.uint8), bitorder="little")[: len(idx)].astype(np.uint64)
        m_share = rho_a - ((e * rho_a) << np.uint64(1))
        if g.first:
            m_share += e
        w_q = np.uint64(1) << np.arange(big_l, dtype=np.uint64)
        w_s = np.uint64(1) << np.arange(small_l, dtype=np.uint64)
        q_sh = (qa.reshape(k, big_l)[idx] * w_q).sum(axis=1, dtype=np.uint64)
        s_sh = (sa.reshape(k, small_l)[idx] * w_s).sum(axis=1, dtype=np.uint64)
        out_r.append(q_sh * np.uint64(d) + s_sh)
        out_q.append(q_sh)
        out_m.append(m_share)
        got += len(idx)
    return np.concatenate(out_r), np.concatenate(out_q), np.concatenate(out_m)
