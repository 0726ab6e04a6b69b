"""The one place where mpc.dp reaches below the public API (Party.input/input_bits/reveal,
SecretTensor and SecretBits operators).

Everything else in :mod:`mpc.dp` calls only the public API and these four functions, so an
engine-interface change (SecretTensor construction, ``engine.converter``, SecretBits' plane
layout) is absorbed here:

- :func:`shared_random_bits`: uniform bits no coalition of n-1 parties knows. Every party
  inputs private random bit planes from its own AES-CTR stream and the n sharings are XORed
  (local). Any n-1 parties know their own planes only; the missing party's planes are uniform
  and independent, so the XOR is uniform given their view. Cost: under GMW (pairwise-PRG
  sharing, no message) 0 rounds, 0 bytes; under spdz2k (authenticated bits,
  :meth:`~mpc.engines.authbits.AuthBits.input_all`) one round, 8 bytes per 64-element word and
  bit to each peer. Under spdz2k the parties who deviate cannot bias the bits either: each input
  is fixed by its owner's masked broadcast (recorded, so the MAC check confirms everyone got the
  same), and all a cheater sees before it sends its own is the honest parties' words masked by
  uniform masks it does not know, so an honest party's uniform planes still make the XOR
  uniform.
- :func:`bits_to_tensor`: the unsigned value of each element of a SecretBits as an Int64
  SecretTensor: B2A of every bit plane through the party's converter (daBits: 1 round, one
  opened bit per bit to each peer), then sum_i 2^i [b_i] (local).
- :func:`join_words` / :func:`split_words`: concatenate / split SecretBits along the element
  axis in whole 64-element words (so a level of a circuit over many groups runs in one
  call). Local.
- :func:`to_grid`: a Fixed tensor as Int64 integers in units of 2^-g: floor(x 2^g) or that + 1
  (the engine's exact truncation by scale - g bits: 1 round, n-1 elements; 0 rounds when
  scale = g). |x| 2^scale < 2^62 required.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from mpc.dtypes import Int64
from mpc.errors import ShareTypeError
from mpc.prg import PRG
from mpc.tensor.secret_bits import SecretBits
from mpc.tensor.secret_tensor import SecretTensor

__all__ = ["bits_to_tensor", "join_words", "shared_random_bits", "split_words", "to_grid"]


def shared_random_bits(party, n: int, width: int, prg: PRG | None = None) -> SecretBits:
    """n uniform values of ``width`` bits, XOR of one private contribution per party."""
    gmw = party.gmw
    words = -(-int(n) // 64)
    shape = (int(width), words)
    mine = (prg or PRG.fresh()).uint64(shape)
    shares = gmw.input_all(mine, shape)
    planes = shares[0]
    for share in shares[1:]:
        planes = gmw.xor(planes, share)
    return SecretBits(gmw, planes, int(n))


def bits_to_tensor(party, bits: SecretBits) -> SecretTensor:
    """Arithmetic sharing (Int64) of the unsigned value of every element of ``bits``."""
    eng = party.engine
    conv = eng.converter
    if conv is None:
        raise ShareTypeError("bits_to_tensor: the party's arithmetic engine has no converter")
    xor_bits = conv.unpack_planes(bits.planes, bits.n)  # (width, n) XOR shares of 0/1
    (arith,) = conv.b2a([np.ascontiguousarray(xor_bits)])
    total = eng.zeros((bits.n,))
    for i in range(bits.width):
        total = eng.add(total, eng.mul_public(arith[i], 1 << i))
    return SecretTensor(eng, total, Int64())


def _word_aligned(parts: Sequence[SecretBits], what: str) -> None:
    for p in parts[:-1]:
        if p.n % 64:
            raise ShareTypeError(f"{what}: every part but the last must hold a multiple of 64 elements, got {p.n}")


def join_words(parts: Sequence[SecretBits]) -> SecretBits:
    """The elements of ``parts`` one after the other (same width; all but the last part a
    multiple of 64 elements long)."""
    parts = list(parts)
    if not parts:
        raise ShareTypeError("join_words: expected at least one part")
    _word_aligned(parts, "join_words")
    if len({p.width for p in parts}) != 1 or len({id(p.engine) for p in parts}) != 1:
        raise ShareTypeError("join_words: parts differ in width or engine")
    return SecretBits(parts[0].engine, np.concatenate([p.planes for p in parts], axis=1), sum(p.n for p in parts))


def split_words(bits: SecretBits, count: int) -> list[SecretBits]:
    """``bits`` cut into ``count`` equal parts (its length must be count x a multiple of 64)."""
    if bits.n % count or (bits.n // count) % 64:
        raise ShareTypeError(f"split_words: {bits.n} elements do not split into {count} word-aligned parts")
    w = bits.nwords // count
    size = bits.n // count
    return [SecretBits(bits.engine, np.ascontiguousarray(bits.planes[:, i * w : (i + 1) * w]), size)
            for i in range(count)]


def to_grid(x: SecretTensor, g: int) -> SecretTensor:
    """Int64 sharing of floor(x * 2^g) (+ at most 1) for a Fixed or Int64 tensor ``x``."""
    k = x.scale - g
    share = x.share
    if k < 0:
        share = x.engine.mul_public(share, 1 << -k)
    elif k > 0:
        (share,) = x.engine.truncate_many([np.ascontiguousarray(share)], k)
    # (ascontiguousarray makes 0-d arrays 1-d: restore the shape)
    return SecretTensor(x.engine, np.asarray(share).reshape(x.shape), Int64())
