"""OT extension: IKNP with the KOS15 consistency check; random, correlated and chosen-message OT.

Ishai, Kilian, Nissim and Petrank, "Extending oblivious transfers efficiently", CRYPTO 2003;
the consistency check of Keller, Orsini and Scholl, "Actively secure OT extension with optimal
overhead", CRYPTO 2015 (KOS15). kappa = 128 base OTs (:mod:`mpc.crypto.base_ot`) per ordered
pair, made once; then any number of extension batches.

Roles. The extension *sender* S plays the base-OT receiver with a random choice string
Delta in {0,1}^128 and learns k_i^{Delta_i}; the extension *receiver* R plays the base-OT
sender and knows both seeds (k_i^0, k_i^1) of every i < 128.

One batch of m OTs (R has choice bits r_1..r_m), with m' = ceil64(m) + 192 (the 192 extra OTs
have random choices and are dropped: they mask the check, KOS15 section 4):

1. R expands the rows t_i = G(k_i^0) and G(k_i^1) (AES-CTR, m' bits each) and sends
   u_i = t_i XOR G(k_i^1) XOR r for i < 128 (128 m' bits). Column j of the row matrix (t_i)
   is R's 128-bit t_j (a bit-matrix transpose, :func:`transpose_rows`).
2. S computes the rows q_i = G(k_i^{Delta_i}) XOR Delta_i u_i = t_i XOR Delta_i r, so column
   j is q_j = t_j XOR r_j Delta: a correlated OT with global correlation Delta.
3. KOS check: after u has arrived, S sends a fresh 16-byte seed (``os.urandom``), expanded
   to chi_1..chi_m' in GF(2^64). R answers x = sum_j chi_j r_j and t = sum_j chi_j t_j (t_j as
   two GF(2^64) halves): 3 words. S accepts iff sum_j chi_j q_j == t + x Delta (both halves;
   Delta as two GF(2^64) scalars of the vector space GF(2^64)^2 = {0,1}^128), and only then
   uses q. An R that used different choice strings in different rows u_i fails except with
   probability about 2^-64 (the combination is over GF(2^64), not the paper's GF(2^128);
   the challenge is interactive, so there is nothing to grind: a statistical bound, for
   one more message per batch). A Fiat-Shamir challenge (a hash of u) would save that message
   but cost a SHA-256 pass over u, a third of R's time here. Failure raises
   :class:`~mpc.errors.CheatingDetected`. The check is there so that a receiver cannot learn
   bits of Delta (and with them the other party's OT messages) by cheating, even under the
   semi-honest engines.
4. Outputs hashed with a tweakable correlation-robust hash (:func:`cr_hash`; where only 64 bits
   of an output are used, the fused AES-NI kernel of :func:`rot_send_words` computes them):
   random OT: S gets (H(j, q_j), H(j, q_j XOR Delta)), R gets H(j, t_j) = the r_j-th of them;
   correlated OT (:func:`cot_send`/:func:`cot_receive`): S's message 0 is its output s_j, and it
   sends d_j = H(j, q_j XOR Delta) - s_j - x_j so R outputs H(j, t_j) - r_j d_j = s_j + r_j x_j;
   chosen-message OT (:func:`chosen_send`/:func:`chosen_receive`): S sends
   y_b = x_b XOR H(j, q_j XOR b Delta) and R outputs y_{r_j} XOR H(j, t_j).

Hash. H(j, x) = pi(pi(x) XOR (j, l)) XOR pi(x) for output block l, with pi AES-128 under a
fixed public key: the tweakable circular correlation-robust hash of Guo, Katz, Wang and Yu,
"Efficient and secure multiparty computation from fixed-key block ciphers", IEEE S&P 2020
(section 7), which is what IKNP needs in the random-permutation model. AES runs in ECB
batches through ``cryptography`` (OpenSSL, AES-NI): one call per batch, never per OT.

Cost per OT: 16 bytes R -> S (the column of u), plus 16 + 24 bytes per batch for the check; the
correlated variant adds the width of d_j S -> R. Compute: 4 AES blocks at S and 2 at R per
128-bit output block, two 128 x m' bit transposes (C kernel ``transpose64``) and two GF(2^64)
inner products of length m' (C kernel ``gf64_dot``, PCLMULQDQ).

Security: semi-honest S and R, plus the KOS check against a malicious R (the property the
tests exercise); CDH for the base OTs, correlation robustness of H, AES-CTR as the PRG.
The module does no I/O: :mod:`mpc.preprocessing.ot_link` moves the arrays.
"""

from __future__ import annotations

import hashlib
import os

import numpy as np
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from mpc._core import get_kernels
from mpc.errors import CheatingDetected, ProtocolError

KAPPA = 128
PAD = 192  # extra OTs with random choices per batch (KOS15: kappa + s), multiple of 64
_HASH_KEY = hashlib.sha256(b"tessera-ot-fixed-key").digest()[:16]  # public, fixed
MAX_OTS = 1 << 26


class _Stream:
    """AES-128-CTR keystream from a 16-byte key (the base-OT outputs; the PRG G of IKNP). The
    same construction as :class:`mpc.prg.PRG`, which this layer may not import."""

    __slots__ = ("_enc",)

    def __init__(self, key: bytes) -> None:
        self._enc = Cipher(algorithms.AES(bytes(key)), modes.CTR(bytes(16))).encryptor()

    def uint64(self, count: int) -> np.ndarray:
        out = np.empty(8 * count + 15, dtype=np.uint8)
        if count:
            self._enc.update_into(np.zeros(8 * count, dtype=np.uint8), out)
        return out[: 8 * count].view(np.uint64)

    def fill(self, buf: np.ndarray, offset: int, zeros: np.ndarray) -> None:
        """Write len(zeros) keystream bytes into the uint8 ``buf`` at ``offset`` (``buf`` has
        15 bytes of slack past the last row: OpenSSL's update_into wants block - 1 spare bytes)."""
        self._enc.update_into(zeros, buf[offset:])


def _rows(streams: list, w: int, zeros: np.ndarray) -> np.ndarray:
    """(len(streams), w) words: row i = the next 8 w keystream bytes of streams[i], written in
    place (row by row, so each row's slack lands on the next row before it is written)."""
    buf = np.empty(len(streams) * 8 * w + 15, dtype=np.uint8)
    if w:
        for i, g in enumerate(streams):
            g.fill(buf, 8 * w * i, zeros)
    return buf[: len(streams) * 8 * w].view(np.uint64).reshape(len(streams), w)


def _aes(x: np.ndarray) -> np.ndarray:
    """pi(x) on 128-bit blocks: ``(..., 2)`` uint64 -> same shape (fixed-key AES-128, ECB)."""
    x = np.ascontiguousarray(x, dtype=np.uint64)
    out = np.empty(x.nbytes + 15, dtype=np.uint8)
    if x.nbytes:
        enc = Cipher(algorithms.AES(_HASH_KEY), modes.ECB()).encryptor()
        enc.update_into(x.view(np.uint8).reshape(-1), out)
    return out[: x.nbytes].view(np.uint64).reshape(x.shape)


def cr_hash(x: np.ndarray, start: int, blocks: int = 1, kernels=None) -> np.ndarray:
    """H(j, x_j) for rows x ``(m, 2)`` uint64 and tweaks j = start .. start + m - 1:
    ``(m, blocks, 2)`` uint64 (``blocks`` 128-bit output blocks per row; see the docstring)."""
    k = kernels or get_kernels()
    px = _aes(x)
    out = _aes(k.ot_tweak(px, start, blocks))
    return k.ot_hash_finish(out, px, out=out)


def transpose_rows(rows: np.ndarray, kernels=None) -> np.ndarray:
    """The 128 x (64 W) bit matrix ``rows`` ``(128, W)`` uint64 -> its columns ``(64 W, 2)``:
    out[j] = the 128 bits of column j (bit i of out[j, h] = bit j of row 64 h + i); C kernel
    ``ot_transpose128`` (64x64 block transposes, gathered and scattered in place)."""
    return (kernels or get_kernels()).ot_transpose128(rows)


def pack_choices(bits: np.ndarray, nwords: int) -> np.ndarray:
    """Bits (0/1, any integer dtype) -> ``(nwords,)`` packed words, little-endian bit order."""
    out = np.zeros(nwords * 64, dtype=np.uint8)
    out[: len(bits)] = np.asarray(bits, dtype=np.uint8) & 1
    return np.packbits(out, bitorder="little").view("<u8").astype(np.uint64)


def challenge(seed: np.ndarray, m_pad: int) -> np.ndarray:
    """chi_1..chi_m' in GF(2^64), expanded from S's 16-byte challenge seed."""
    return _Stream(np.asarray(seed, dtype=np.uint8).tobytes()).uint64(m_pad)


def _padded(m: int) -> int:
    if not 0 <= m <= MAX_OTS:
        raise ProtocolError(f"OT extension: batch of {m} OTs outside [0, {MAX_OTS}]")
    return -(-m // 64) * 64 + PAD


class ExtReceiver:
    """R's state for one ordered pair: both base seeds of every row (see the module docstring)."""

    rows = KAPPA  # rows of the matrix u sent per batch (SoftSpoken: ceil(128 / k))

    def __init__(self, seeds: list[tuple[bytes, bytes]], label: bytes, kernels=None) -> None:
        if len(seeds) != KAPPA:
            raise ProtocolError(f"OT extension: expected {KAPPA} base OT key pairs, got {len(seeds)}")
        self._g0 = [_Stream(k0) for k0, _ in seeds]
        self._g1 = [_Stream(k1) for _, k1 in seeds]
        self._pad = _Stream(os.urandom(16))  # the random choices of the padding OTs
        self.label = bytes(label)
        self.k = kernels or get_kernels()
        self.batches = 0
        self.index = 0  # OTs extended so far: the hash tweaks

    def extend(self, choices: np.ndarray) -> tuple[np.ndarray, np.ndarray, int]:
        """Step 1 for choice bits ``choices`` ``(m,)``: (u ``(128, W)`` to send, t ``(m, 2)``,
        first tweak). The batch then waits for S's challenge (:meth:`answer`)."""
        m = len(choices)
        m_pad = _padded(m)
        w = m_pad // 64
        r = pack_choices(choices, w)
        tail = -(-m // 64)
        r[tail:] = self._pad.uint64(w - tail)
        if m % 64:  # random choices in the unused top bits of the last real word
            r[tail - 1] |= self._pad.uint64(1)[0] & ~np.uint64((1 << (m % 64)) - 1)
        zeros = np.zeros(8 * w, dtype=np.uint8)
        t_rows = _rows(self._g0, w, zeros)
        u = _rows(self._g1, w, zeros)
        u ^= t_rows
        u ^= r[None, :]
        t = transpose_rows(t_rows, self.k)
        self._pending = (t, r, m_pad)
        start = self.index
        self.index += m_pad
        self.batches += 1
        return u, t[:m], start

    def answer(self, seed: np.ndarray) -> np.ndarray:
        """Step 3 of the last batch: the check (x, t) ``(3,)`` for S's challenge ``seed``."""
        t, r, _ = self._pending
        self._pending = None
        # x = sum of chi_j over r_j = 1 (r_j is 0 or 1 in GF(2^64)), and the two halves of t:
        # one fused pass (kernel ot_kos_sums: chi by AES-NI, products by PCLMULQDQ)
        return self.k.ot_kos_sums(t, r, np.asarray(seed, dtype=np.uint8))


class ExtSender:
    """S's state for one ordered pair: Delta and the seeds k_i^{Delta_i}."""

    rows = KAPPA

    def __init__(self, delta_bits: np.ndarray, seeds: list[bytes], label: bytes, kernels=None) -> None:
        if len(seeds) != KAPPA or len(delta_bits) != KAPPA:
            raise ProtocolError(f"OT extension: expected {KAPPA} base OT keys and choice bits")
        self._bits = np.asarray(delta_bits, dtype=bool)
        self.delta = pack_choices(self._bits, 2)  # (2,) words: bit i of Delta at word i // 64
        self._g = [_Stream(k) for k in seeds]
        self.label = bytes(label)
        self.k = kernels or get_kernels()
        self.batches = 0
        self.index = 0

    def extend(self, u: np.ndarray, m: int) -> np.ndarray:
        """Step 2: q from R's ``u``; returns the challenge seed ``(16,)`` uint8 to send to R (fresh
        from ``os.urandom``, drawn after u arrived). The outputs wait for :meth:`verify`."""
        m_pad = _padded(m)
        w = m_pad // 64
        u = np.asarray(u, dtype=np.uint64)
        if u.shape != (KAPPA, w):
            raise ProtocolError(f"OT extension: expected u of shape {(KAPPA, w)}, got {u.shape}")
        q_rows = _rows(self._g, w, np.zeros(8 * w, dtype=np.uint8))
        q_rows[self._bits] ^= u[self._bits]
        seed = np.frombuffer(os.urandom(16), dtype=np.uint8)
        self._pending = (transpose_rows(q_rows, self.k), seed, m, m_pad)
        return seed

    def verify(self, check: np.ndarray) -> tuple[np.ndarray, int]:
        """Step 3: (q ``(m, 2)``, first tweak) if R's check passes, else CheatingDetected."""
        q, seed, m, m_pad = self._pending
        self._pending = None
        check = np.asarray(check, dtype=np.uint64)
        if check.shape != (3,):
            raise ProtocolError("OT extension: expected a 3-word check")
        start = self.index
        self.index += m_pad
        self.batches += 1
        if not kos_verify(q, seed, check, self.delta, self.k):
            raise CheatingDetected("OT extension: the receiver failed the KOS consistency check")
        return q[:m], start


def kos_check(q: np.ndarray, chi: np.ndarray, check: np.ndarray, delta: np.ndarray, kernels=None) -> bool:
    """S's test of step 3: sum chi_j q_j == t + x Delta over GF(2^64)^2 (True: consistent)."""
    k = kernels or get_kernels()
    x, t_lo, t_hi = (np.array([v], dtype=np.uint64) for v in check)
    q_lo = k.gf64_dot(chi, np.ascontiguousarray(q[:, 0]))
    q_hi = k.gf64_dot(chi, np.ascontiguousarray(q[:, 1]))
    want_lo = t_lo ^ k.gf64_mul(x, delta[:1])
    want_hi = t_hi ^ k.gf64_mul(x, delta[1:])
    return bool(q_lo[0] == want_lo[0]) & bool(q_hi[0] == want_hi[0])


def kos_verify(q: np.ndarray, seed: np.ndarray, check: np.ndarray, delta: np.ndarray, kernels=None) -> bool:
    """:func:`kos_check` with chi expanded from the challenge ``seed`` (:func:`challenge`) inside
    the fused kernel ``ot_kos_sums``: no chi array, no copies of the halves of q."""
    k = kernels or get_kernels()
    _, q_lo, q_hi = k.ot_kos_sums(q, None, np.asarray(seed, dtype=np.uint8))
    x = np.array([check[0]], dtype=np.uint64)
    want_lo = check[1] ^ k.gf64_mul(x, delta[:1])[0]
    want_hi = check[2] ^ k.gf64_mul(x, delta[1:])[0]
    return bool(q_lo == want_lo) & bool(q_hi == want_hi)


# ---------------------------------------------------------------- the OT variants on top

def rot_send(q: np.ndarray, delta: np.ndarray, start: int, blocks: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """Random OT, S: (m0, m1), each ``(m, blocks, 2)`` uint64."""
    return cr_hash(q, start, blocks), cr_hash(q ^ delta, start, blocks)


def rot_send_words(q: np.ndarray, delta: np.ndarray, start: int, kernels=None) -> tuple[np.ndarray, np.ndarray]:
    """Random OT, S, the first 64-bit word of each message only: ``(m,)`` each, by the fused
    AES-NI kernel ``ot_hash_words`` (one pass, no temporaries; equal to ``rot_send(...)[b][:, 0, 0]``)."""
    k = kernels or get_kernels()
    key = np.frombuffer(_HASH_KEY, dtype=np.uint8)
    return k.ot_hash_words(q, None, start, key), k.ot_hash_words(q, delta, start, key)


def rot_receive_words(t: np.ndarray, start: int, kernels=None) -> np.ndarray:
    """Random OT, R, first words only: ``(m,)`` (see :func:`rot_send_words`)."""
    return (kernels or get_kernels()).ot_hash_words(t, None, start, np.frombuffer(_HASH_KEY, dtype=np.uint8))


WORD_TWEAK = 1 << 56  # tweak offset between the words of :func:`hash_words` (indices stay below it)


def hash_words(x: np.ndarray, delta: np.ndarray | None, start: int, words: int, kernels=None,
               stride: int = 1) -> np.ndarray:
    """``words`` independent 64-bit outputs per OT, ``(m, words)``: output l is word number
    l * ``stride`` of the message, the first word of H(start + j + l stride 2^56, x_j ^ delta) by
    the fused AES-NI kernel (distinct tweaks for every OT and word; :func:`rot_send_words` is
    word 0; stride 2 gives only the low words of 128-bit values). For the Z_2^128 messages of
    the spdz2k material."""
    k = kernels or get_kernels()
    key = np.frombuffer(_HASH_KEY, dtype=np.uint8)
    out = np.empty((len(x), words), dtype=np.uint64)
    for word in range(words):
        out[:, word] = k.ot_hash_words(x, delta, (start + word * stride * WORD_TWEAK) % (1 << 64), key)
    return out


def rot_receive(t: np.ndarray, start: int, blocks: int = 1) -> np.ndarray:
    """Random OT, R: m_{r_j} ``(m, blocks, 2)`` uint64."""
    return cr_hash(t, start, blocks)


def _words(h: np.ndarray, width: int) -> np.ndarray:
    return h.reshape(len(h), 2 * h.shape[1])[:, :width]


def cot_send(q: np.ndarray, delta: np.ndarray, start: int, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Correlated OT over Z_2^64, S with correlations ``x`` ``(m, w)`` uint64: (its output s,
    the message d to R), both ``(m, w)``; R will hold s + r_j x (see the module docstring)."""
    w = x.shape[1]
    m0, m1 = rot_send(q, delta, start, -(-w // 2))
    s = np.ascontiguousarray(_words(m0, w))
    d = _words(m1, w) - s - x
    return s, d


def cot_receive(t: np.ndarray, start: int, choices: np.ndarray, d: np.ndarray) -> np.ndarray:
    """Correlated OT, R: H(j, t_j) - r_j d_j = s_j + r_j x_j, ``(m, w)`` uint64."""
    w = d.shape[1]
    h = np.ascontiguousarray(_words(rot_receive(t, start, -(-w // 2)), w))
    c = np.asarray(choices, dtype=np.uint64).reshape(-1, 1)
    return h - c * d


def chosen_send(q: np.ndarray, delta: np.ndarray, start: int, x0: np.ndarray, x1: np.ndarray
                ) -> tuple[np.ndarray, np.ndarray]:
    """Chosen-message OT, S with messages ``x0``, ``x1`` ``(m, w)`` uint64: (y0, y1) to send."""
    w = x0.shape[1]
    m0, m1 = rot_send(q, delta, start, -(-w // 2))
    return x0 ^ _words(m0, w), x1 ^ _words(m1, w)


def chosen_receive(t: np.ndarray, start: int, choices: np.ndarray, y0: np.ndarray, y1: np.ndarray) -> np.ndarray:
    """Chosen-message OT, R: x_{r_j} ``(m, w)``."""
    w = y0.shape[1]
    h = _words(rot_receive(t, start, -(-w // 2)), w)
    c = np.asarray(choices, dtype=bool).reshape(-1, 1)
    return np.where(c, y1, y0) ^ h
