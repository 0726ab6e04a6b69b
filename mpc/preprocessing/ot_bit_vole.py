"""Binary MACs without a dealer: bits authenticated under the GF(2^64) key Delta, from OT.

spdz2k's boolean side (:mod:`mpc.sharing.auth_bits`) shares a bit b as b = XOR_i b_i with MAC
shares m_i, XOR_i m_i = b Delta, Delta = XOR_i Delta_i in GF(2^64). This module gives every
party MAC shares for its own bit vector under every peer's Delta_j: the correlated oblivious
product evaluation (COPE) of Keller, Orsini, Scholl, "MASCOT", CCS 2016, section 4, over GF(2)
bits and GF(2^64) keys (the binary case of the SPDZ-style MACs of Frederiksen, Keller, Orsini,
Scholl, ASIACRYPT 2015), with the checks of :mod:`mpc.preprocessing.ot_vole` carried over.

Set-up, per ordered pair (sender i, receiver j): 64 random OTs (the KOS-checked extension of
:class:`~mpc.preprocessing.ot_link.WideProducts`) with j's choice bits the 64 bits D_k of
Delta_j: i gets seed pairs (s0_k, s1_k), j gets s_{D_k,k}. Each seed keys an AES-CTR stream.

Extend (one round, every pair at once), i authenticating its bits x (N of them, packed in words):

1. i draws bit vectors t0_k, t1_k (N bits each) from its streams k < 64 and sends j the 64
   vectors d_k = t0_k ^ t1_k ^ x (8 bytes per bit).
2. j draws t_k = t_{D_k,k} and sets q_k = t_k ^ D_k d_k = t0_k ^ D_k x. For element e, the word
   Q_e with bit k = q_k[e] is T_e ^ x_e Delta_j, where T_e has bit k = t0_k[e]: j's share is Q_e
   and i's is T_e (XOR: x_e Delta_j). The bit transposes are the kernels' ``unbitslice``.

Party i's MAC share of its own bit x_e is then x_e Delta_i ^ XOR_j T_e^(j) and party j's is Q_e
from i: the shares XOR to x_e Delta. The MAC shares of a XOR-shared bit XOR_i b_i are the XOR of
the origins' MAC shares (:func:`combine`): random authenticated bits are free once each party
has authenticated its own.

Input check (the binary twin of SPDZ2k's, :func:`input_check_shares`): after the vectors are
fixed, a public coin gives chi_e in GF(2^64); origin i opens y_i = sum_e chi_e x_e + sum_t X^t r_t
over its own vector, masked by 64 extra random bits r_t of its own (y_i is then uniform), and y_i
is MAC-checked with i's MAC shares (:func:`bit_mac_check`). A sender that uses different x in
different OTs k (or towards different peers) leaves an error E_e = sum_k X^k D_k (x_e^(k) ^ x_e)
in j's MAC, which the check misses only if sum_e chi_e E_e = 0: probability 2^-64 for a fixed
error, plus the selective-failure probing of single bits of Delta_j at the price of being caught
with probability 1/2 each, as for the arithmetic COPE (SPDZ2k section 5; MASCOT section 4).

MAC check of openings (:func:`bit_mac_check`): opened GF(2^64) elements o_l (bits are 0/1
elements) with MAC shares m_{l,i}; coefficients e_l uniform in GF(2^64) from a fresh coin;
Z_i = sum_l e_l m_{l,i} + Delta_i sum_l e_l o_l; every party commits to Z_i, opens it, and all
check XOR_i Z_i = 0. An error E != 0 in the opened values passes with probability 2^-64 over
Delta (uniform, and hidden from every party but through the MACs).

Cost per authenticated bit, per ordered pair: 8 bytes from sender to receiver, 2 x 64 bits of
AES-CTR at the sender and 64 at the receiver, and a 64 x 64 bit transpose per 64 bits on each
side. Set-up: 64 random OTs per ordered pair. Security model: malicious, dishonest majority,
security with abort; assumptions those of the OT extension and AES-CTR as a PRG.
"""

from __future__ import annotations

import types

import numpy as np

from mpc.preprocessing.ot_link import SECTION, OTLinks
from mpc.preprocessing.ot_vole import CopeKeys

__all__ = ["KBITS", "BitVole", "combine", "gf_dot"]

KBITS = 64  # bits of the binary MAC key Delta (GF(2^64))
_ALL = np.uint64(0xFFFFFFFFFFFFFFFF)


class BitVole(CopeKeys):
    """One party's binary COPE instances with every peer (see the module docstring)."""

    def __init__(self, links: OTLinks, delta: int) -> None:
        super().__init__(links, delta)
        self.delta = self.key
        self.bits = 0  # bits authenticated by this party

    def send_corrections(self, d: np.ndarray, p: int, tag: int) -> None:
        """Send the corrections ``d`` ``(64, W)`` to peer p (one place to tamper in tests)."""
        self.channel.send(p, d, tag)

    def authenticate(self, bits: np.ndarray) -> tuple[np.ndarray, dict[int, np.ndarray]]:
        """MAC shares (GF(2^64) words) for this party's bits ``bits`` ``(N,)`` (0/1) and for every
        peer's vector of the same length (one round).

        Returns (own, theirs): ``own`` ``(N,)`` this party's share of Delta * x (x Delta_i and its
        sender shares), ``theirs[p]`` ``(N,)`` its share of Delta * x_p for peer p's bits."""
        self.setup()
        k = self.kernels
        ch = self.channel
        n_el = int(np.shape(bits)[0])
        w = -(-n_el // 64)
        x = k.pack_bits(np.ascontiguousarray(bits, dtype=np.uint8)) if n_el else np.zeros(0, dtype=np.uint64)
        own = np.where(np.asarray(bits, dtype=np.uint64) & np.uint64(1), np.uint64(self.delta), np.uint64(0))
        theirs = {}
        with ch.section(SECTION):
            tag = self.links.tag()
            for p in self.peers:
                t0 = np.stack([g0.uint64(w) for g0, _ in self._send[p]]) if w else np.zeros((KBITS, 0), np.uint64)
                t1 = np.stack([g1.uint64(w) for _, g1 in self._send[p]]) if w else np.zeros((KBITS, 0), np.uint64)
                d = np.bitwise_xor(np.bitwise_xor(t0, t1), x[None, :])
                self.send_corrections(np.ascontiguousarray(d), p, tag)
                if n_el:
                    own ^= k.unbitslice(np.ascontiguousarray(t0), n_el)
            for p in self.peers:
                d = ch.recv(p, tag, dtype=np.uint64, shape=(KBITS, w))
                if not n_el:
                    theirs[p] = np.zeros(0, dtype=np.uint64)
                    continue
                t = np.stack([g.uint64(w) for g in self._recv[p]])
                sel = np.where(self._bits.astype(bool), _ALL, np.uint64(0))[:, None]
                theirs[p] = k.unbitslice(np.ascontiguousarray(t ^ (d & sel)), n_el)
        self.bits += n_el
        return own, theirs


def combine(own: np.ndarray, theirs: dict[int, np.ndarray]) -> np.ndarray:
    """This party's MAC shares of the XOR over every party of its authenticated bits (its bit
    share is its own bit): the XOR over the origins of its MAC shares of their bits."""
    mac = own.copy()
    for t in theirs.values():
        mac ^= t
    return mac


def gf_dot(kernels: types.SimpleNamespace, coef: np.ndarray, values: np.ndarray) -> np.uint64:
    """sum_l coef_l values_l in GF(2^64)."""
    if not len(values):
        return np.uint64(0)
    prod = kernels.gf64_mul(np.ascontiguousarray(coef, dtype=np.uint64), np.ascontiguousarray(values, dtype=np.uint64))
    return np.bitwise_xor.reduce(prod)
