"""SoftSpoken OT extension: IKNP's correlation from small-field VOLE, 128/k bits per OT sent.

Roy, "SoftSpokenOT: Quieter OT extension from small-field silent VOLE in the Minicrypt model",
CRYPTO 2022 (the subspace VOLE for the repetition code; its section on malicious security for
the check). With k = 1 this is IKNP; :mod:`mpc.crypto.ot_ext` keeps IKNP itself for comparison.
The outputs are IKNP's (q_j = t_j XOR r_j Delta), so the KOS15 check, the hash and every OT
variant of :mod:`mpc.crypto.ot_ext` apply unchanged; only steps 0-2 differ.

Roles as in :mod:`mpc.crypto.ot_ext`: the extension receiver R is the base-OT sender (both
keys (k_i^0, k_i^1) of every i < 128), the extension sender S the base-OT receiver with choice
bits Delta. The 128 base OTs form nb = ceil(128 / k) blocks of k (the last one 128 - (nb - 1) k);
base OT b k + d is level d of block b, and the block's Delta_b = sum_d Delta_{bk+d} 2^d.

0. Setup, once per ordered pair: (2^k - 1)-out-of-2^k random OT per block by a GGM tree of depth
   k_b (punctured PRF from 1-of-2 OTs). R draws a root (``os.urandom``) and expands every node
   into two children with AES-CTR keyed by the node; the 2^k_b leaves s_x (x in {0,1}^k_b, bit d
   of x = the branch taken at level d) seed the rows. For level d, K_d^b is the XOR of the depth
   d + 1 nodes whose bit d is b; R sends e_d^b = K_d^(1-b) XOR P(k_{bk+d}^b) for b = 0, 1 (P: the
   first 16 bytes of AES-CTR under the key; 32 bytes per base OT, 4 KB once). S, holding
   k^{Delta_d}, learns K_d^(1 - Delta_d), the sum of the level's off-path side, and level by level
   every node off the path to x* = Delta_b: every leaf but s_{Delta_b}.
1. Per batch of m' OTs (m' as in IKNP, with the 192 random-choice padding OTs), both expand
   every leaf they know to a row G(s_x) of m' bits (AES-CTR, the stream continues across batches).
   R computes per block u_b = XOR_x G(s_x) and v_{b,i} = XOR_x x_i G(s_x) (i < k_b) and sends
   c_b = u_b XOR r (nb rows of m' bits: 128 / k bits per OT).
2. S computes w_{b,i} = XOR_x (x XOR Delta_b)_i G(s_x) XOR Delta_{b,i} c_b (the leaf x = Delta_b
   has coefficient 0: S never needs it) = v_{b,i} XOR Delta_{b,i} r. Rows (v) are R's t, rows
   (w) S's q: q_j = t_j XOR r_j Delta after the transpose, as in IKNP. Both sides run steps 1-2
   in one C kernel, ``ot_soft_extend``: per chunk of 4,096 OTs held in cache, the leaf rows by
   AES-NI in counter mode (OpenSSL's CTR from IV 0 at word offset pos, so the reference and a
   machine without AES-NI compute the same bytes), the sums (``ot_soft_sums``) and the 128 x m'
   transpose; nothing of size 2^k m' is ever in memory.
3. The KOS15 check and the hashing of :mod:`mpc.crypto.ot_ext`, unchanged.

Cost per OT: 128 / k bits R -> S (k = 2: 8 bytes, half of IKNP's 16); compute: R expands 2^k nb
leaf rows and S 2^k nb - nb (k = 2: 256 and 192 rows of m' bits, IKNP: 256 and 128), plus the
sums (2^k (1 + k / 2) row XORs per block). k = 2 costs about IKNP's computation for half its
traffic; each further step of k saves less traffic (128/k) for about 2^k / k times the rows.

Security: semi-honest as IKNP (the VOLE of the repetition code; correlation robustness of the
hash; AES-CTR as a PRG; CDH for the base OTs). Against a malicious R, the KOS check as in the
paper's malicious section: an R whose c_b encode different choice strings in different blocks,
or whose GGM messages are inconsistent (S then holds leaves that depend on the path, i.e. on
Delta_b), makes S's q deviate by an error that depends on Delta; the check catches it except
with probability about 2^-64 per batch, and what R learns from whether S aborted is a guess at
a few bits of Delta (the selective-failure leakage the paper accounts for, as in KOS15).
"""

from __future__ import annotations

import os

import numpy as np

from mpc._core import get_kernels
from mpc.crypto.ot_ext import KAPPA, ExtReceiver, ExtSender, _padded, _Stream
from mpc.errors import ProtocolError

DEFAULT_K = 2
MAX_K = 8


def check_k(k: object) -> int:
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or not 1 <= int(k) <= MAX_K:
        raise ProtocolError(f"SoftSpoken: k must be an integer in [1, {MAX_K}], got {k!r}")
    return int(k)


def blocks(k: int) -> list[int]:
    """Row counts k_b of the nb blocks of the 128 base OTs (all k but the last)."""
    nb = -(-KAPPA // k)
    return [min(k, KAPPA - b * k) for b in range(nb)]


def _children(node: bytes) -> tuple[bytes, bytes]:
    out = _Stream(node).uint64(4).tobytes()
    return out[:16], out[16:]


def _pad(key: bytes) -> bytes:
    return _Stream(key).uint64(2).tobytes()


def _xor(a: bytes, b: bytes) -> bytes:
    return (int.from_bytes(a, "little") ^ int.from_bytes(b, "little")).to_bytes(16, "little")


def ggm_tree(root: bytes, depth: int) -> list[list[bytes]]:
    """Levels 0..depth of the GGM tree: level d holds 2^d nodes, node p's children at p and
    p + 2^d (bit d of the index = the branch at level d)."""
    levels = [[root]]
    for d in range(depth):
        nxt = [b""] * (2 << d)
        for p, node in enumerate(levels[-1]):
            nxt[p], nxt[p + (1 << d)] = _children(node)
        levels.append(nxt)
    return levels


def level_sums(levels: list[list[bytes]]) -> list[tuple[bytes, bytes]]:
    """(K_d^0, K_d^1) for every level d: the XOR of the depth d + 1 nodes with bit d = 0 / 1."""
    out = []
    for d in range(len(levels) - 1):
        acc = [bytes(16), bytes(16)]
        for idx, node in enumerate(levels[d + 1]):
            acc[(idx >> d) & 1] = _xor(acc[(idx >> d) & 1], node)
        out.append((acc[0], acc[1]))
    return out


def punctured_leaves(sums: list[bytes], point: int, depth: int) -> list[bytes | None]:
    """S's leaves from the off-path level sums ``sums[d]`` = K_d^(1 - bit d of point): every
    leaf but ``point`` (None there)."""
    known: dict[int, bytes] = {}
    for d in range(depth):
        nxt: dict[int, bytes] = {}
        for p, node in known.items():
            nxt[p], nxt[p + (1 << d)] = _children(node)
        prefix = point & ((1 << d) - 1)
        side = 1 - ((point >> d) & 1)
        off = prefix + (side << d)
        acc = sums[d]
        for idx, node in nxt.items():
            if (idx >> d) & 1 == side:
                acc = _xor(acc, node)
        nxt[off] = acc
        known = nxt
    return [known.get(x) for x in range(1 << depth)]


def _slots(leaves: list) -> tuple[np.ndarray, np.ndarray]:
    """Leaf seeds by slot b 2^k + x -> (keys ``(slots, 16)`` uint8, present ``(slots,)`` uint8):
    the punctured leaf and the unused slots of a short last block are absent (zero rows)."""
    keys = np.zeros((len(leaves), 16), dtype=np.uint8)
    present = np.zeros(len(leaves), dtype=np.uint8)
    for s, leaf in enumerate(leaves):
        if leaf is not None:
            keys[s] = np.frombuffer(leaf, dtype=np.uint8)
            present[s] = 1
    return keys, present


class SoftReceiver(ExtReceiver):
    """R's state for one ordered pair: the GGM trees of every block (all leaves)."""

    def __init__(self, seeds: list[tuple[bytes, bytes]], label: bytes, k: int = DEFAULT_K, kernels=None) -> None:
        if len(seeds) != KAPPA:
            raise ProtocolError(f"OT extension: expected {KAPPA} base OT key pairs, got {len(seeds)}")
        self.kbits = check_k(k)
        self.sizes = blocks(self.kbits)
        self.rows = len(self.sizes)
        msg = np.empty((KAPPA, 2, 16), dtype=np.uint8)
        leaves: list = []
        for b, kb in enumerate(self.sizes):
            levels = ggm_tree(os.urandom(16), kb)
            for d, (s0, s1) in enumerate(level_sums(levels)):
                k0, k1 = seeds[b * self.kbits + d]
                msg[b * self.kbits + d, 0] = np.frombuffer(_xor(s1, _pad(k0)), dtype=np.uint8)
                msg[b * self.kbits + d, 1] = np.frombuffer(_xor(s0, _pad(k1)), dtype=np.uint8)
            leaves += levels[-1] + [None] * ((1 << self.kbits) - (1 << kb))
        self.setup_message = msg
        self._keys, self._present = _slots(leaves)
        self._zero_offs = np.zeros(self.rows, dtype=np.uint8)
        self._pos = 0  # words of every leaf's stream used so far
        self._pad = _Stream(os.urandom(16))
        self.label = bytes(label)
        self.k = kernels or get_kernels()
        self.batches = 0
        self.index = 0

    def extend(self, choices: np.ndarray | None, packed: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray, int]:
        """Step 1 for choice bits ``choices`` ``(m,)`` (or ``packed`` words): (c ``(nb, W)`` to
        send, t ``(m, 2)``, first tweak); then :meth:`answer` as in IKNP."""
        r, m, w = self._choice_words(choices, packed)
        m_pad = 64 * w
        t, c = self.k.ot_soft_extend(self._keys, self._present, self._pos, self._zero_offs, r[None, :], self.kbits)
        self._pos += w
        self._pending = (t, r, m_pad)
        start = self.index
        self.index += m_pad
        self.batches += 1
        return c, t[:m], start


class SoftSender(ExtSender):
    """S's state for one ordered pair: Delta and every leaf but s_{Delta_b} of each block."""

    def __init__(self, delta_bits: np.ndarray, seeds: list[bytes], setup_message: np.ndarray, label: bytes,
                 k: int = DEFAULT_K, kernels=None) -> None:
        super().__init__(delta_bits, seeds, label, kernels)
        self._g = None
        self.kbits = check_k(k)
        self.sizes = blocks(self.kbits)
        self.rows = len(self.sizes)
        msg = np.asarray(setup_message)
        if msg.dtype != np.uint8 or msg.shape != (KAPPA, 2, 16):
            raise ProtocolError(f"SoftSpoken: expected a ({KAPPA}, 2, 16) uint8 setup message, got {msg.shape}")
        bits = self._bits.astype(np.uint8)
        self._offs = np.zeros(self.rows, dtype=np.uint8)
        leaves: list = []
        for b, kb in enumerate(self.sizes):
            base = b * self.kbits
            point = sum(int(bits[base + d]) << d for d in range(kb))
            sums = [_xor(msg[base + d, bits[base + d]].tobytes(), _pad(seeds[base + d])) for d in range(kb)]
            leaves += punctured_leaves(sums, point, kb) + [None] * ((1 << self.kbits) - (1 << kb))
            self._offs[b] = point
        self._keys, self._present = _slots(leaves)
        self._pos = 0

    def extend(self, u: np.ndarray, m: int) -> np.ndarray:
        """Step 2: q from R's corrections ``u`` = (c_b) ``(nb, W)``; returns the challenge seed."""
        m_pad = _padded(m)
        w = m_pad // 64
        u = np.asarray(u, dtype=np.uint64)
        if u.shape != (self.rows, w):
            raise ProtocolError(f"OT extension: expected corrections of shape {(self.rows, w)}, got {u.shape}")
        q, _ = self.k.ot_soft_extend(self._keys, self._present, self._pos, self._offs, u, self.kbits)
        self._pos += w
        seed = np.frombuffer(os.urandom(16), dtype=np.uint8)
        self._pending = (q, seed, m, m_pad)
        return seed
