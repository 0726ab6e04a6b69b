"""AES-128-CTR pseudo-random generator: the only source of secret randomness in Tessera.

Seeds are 16 bytes from :func:`os.urandom` (:func:`new_seed`). A :class:`PRG` expands its seed
with AES-128 in counter mode (OpenSSL through ``cryptography``) into a stream, and hands it out as
uint64 arrays or bytes. Two parties holding the same seed draw identical streams in the same
order: that is how pairwise and common masks are made without communication (pseudo-random
secret sharing). :meth:`PRG.derive` gives independent sub-streams for named purposes
(SHA-256 of seed and label, truncated to a fresh AES key).

Security: AES-CTR is a PRF-based PRG; the stream is indistinguishable from uniform as long as
fewer than 2^64 blocks are drawn per key. Never replace it with a non-cryptographic generator.
"""

from __future__ import annotations

import hashlib
import math
import os

import numpy as np
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

SEED_BYTES = 16
_BLOCK = 16


def new_seed() -> bytes:
    """A fresh uniformly random seed from the operating system."""
    return os.urandom(SEED_BYTES)


# What AES-CTR encrypts into the keystream: one small block of zeros used over and over, so it
# stays in cache; a fresh zero array as large as each draw cost a page fault per 4 KiB on top of
# the output's own (a spdz2k dealer batch draws hundreds of MB: 0.4-5 GB/s against 5-8).
_ZEROS = np.zeros(1 << 18, dtype=np.uint8)
_ZEROS.flags.writeable = False


def _keystream(enc, nbytes: int) -> np.ndarray:
    """The next ``nbytes`` of an AES-CTR encryptor's keystream (the encryption of zeros)."""
    out = np.empty(nbytes + _BLOCK - 1, dtype=np.uint8)  # update_into's room for a partial block
    pos = 0
    while pos < nbytes:
        k = min(_ZEROS.size, nbytes - pos)
        if enc.update_into(_ZEROS[:k], out[pos : pos + k + _BLOCK - 1]) != k:  # CTR returns what it was given
            raise RuntimeError("AES-CTR returned a short block")
        pos += k
    return out[:nbytes]


class PRG:
    """A deterministic stream keyed by a 16-byte seed; successive draws continue the stream."""

    __slots__ = ("_enc", "_seed")

    def __init__(self, seed: bytes) -> None:
        if not isinstance(seed, (bytes, bytearray)) or len(seed) != SEED_BYTES:
            raise ValueError(f"seed: expected {SEED_BYTES} bytes")
        self._seed = bytes(seed)
        self._enc = Cipher(algorithms.AES(self._seed), modes.CTR(bytes(_BLOCK))).encryptor()

    def __repr__(self) -> str:  # never show the seed
        return "PRG(<seed hidden>)"

    @classmethod
    def fresh(cls) -> PRG:
        return cls(new_seed())

    def derive(self, label: str | bytes) -> PRG:
        """An independent generator for ``label``; equal seeds and labels give equal streams."""
        label = label.encode() if isinstance(label, str) else bytes(label)
        return PRG(hashlib.sha256(b"tessera-prg-derive\0" + self._seed + label).digest()[:SEED_BYTES])

    def _fill(self, nbytes: int) -> np.ndarray:
        return _keystream(self._enc, nbytes)

    def window(self, start: int, count: int) -> np.ndarray:
        """Words ``start .. start + count - 1`` (uint64) of this seed's keystream, by random access:
        the counter block is set directly, and the stream of :meth:`uint64` is not advanced. Use a
        generator for windows or for draws, never both (they read the same keystream)."""
        if start < 0 or count < 0 or start + count > 1 << 64:
            raise ValueError(f"window: expected 0 <= start and start + count <= 2^64, got {start}, {count}")
        skip = start % 2  # two words per AES block
        nonce = (start // 2).to_bytes(_BLOCK, "big")
        enc = Cipher(algorithms.AES(self._seed), modes.CTR(nonce)).encryptor()
        return _keystream(enc, 8 * (count + skip))[8 * skip :].view(np.uint64)

    def random_bytes(self, n: int) -> bytes:
        return self._fill(int(n)).tobytes()

    def uint64(self, shape: int | tuple[int, ...]) -> np.ndarray:
        """Uniform uint64 array of ``shape`` (uniform over Z_2^64)."""
        shape = (shape,) if isinstance(shape, (int, np.integer)) else tuple(shape)
        count = math.prod(shape)
        if count < 0 or any(s < 0 for s in shape):
            raise ValueError(f"shape: negative dimension in {shape}")
        return self._fill(8 * count).view(np.uint64).reshape(shape)

    def below(self, bound: int, shape: int | tuple[int, ...]) -> np.ndarray:
        """Uniform integers in [0, bound) for 1 <= bound <= 2^64, by rejection (no modulo bias)."""
        if not 1 <= bound <= 1 << 64:
            raise ValueError(f"bound: expected 1 <= bound <= 2^64, got {bound}")
        shape = (shape,) if isinstance(shape, (int, np.integer)) else tuple(shape)
        count = math.prod(shape)
        if bound == 1 << 64:
            return self.uint64(shape)
        if bound & (bound - 1) == 0:
            return self.uint64(shape) & np.uint64(bound - 1)
        limit = np.uint64(((1 << 64) // bound) * bound - 1)  # accept x <= limit: whole multiples of bound
        out = np.empty(count, dtype=np.uint64)
        filled = 0
        while filled < count:
            draw = self.uint64(max(2 * (count - filled), 16))
            keep = draw[draw <= limit][: count - filled]
            out[filled : filled + keep.size] = keep % np.uint64(bound)
            filled += keep.size
        return out.reshape(shape)
