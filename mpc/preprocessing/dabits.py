"""daBits: random bits shared both ways, [r]_B (XOR, packed) and [r]_A (additive over Z_2^64),
and bit-injection triples: a daBit r together with a uniform [a] and [r*a].

Rotaru and Wood, "MArBled circuits: mixing arithmetic and boolean circuits with active
security", INDOCRYPT 2019. A daBit lets a XOR-shared bit b become an arithmetic share in one
round for any number of parties (:meth:`mpc.engines.convert.Converter.b2a`): open c = b XOR r
(1 bit per element to each peer), then [b]_A = c + [r]_A - 2c[r]_A locally.

Interface
    :class:`DaBitSource` has one method, ``dabits(count) -> (bits, arith)``: ``bits`` is this
    party's XOR share of ``count`` random bits packed 64 per word (``(ceil(count/64),)`` uint64,
    element j at bit j % 64 of word j // 64, the SecretBits layout); ``arith`` is its additive
    share of the same bits as ring elements 0/1 (``(count,)`` uint64). Never handed out twice.

Seed-compressed generation (what a dealer runs; party i shares a 16-byte seed with the dealer,
expanded with AES-CTR in a stream dedicated to daBits, e.g. ``seed_prg.derive("dabits")``):
    1. Every party i draws its bit words r_i from its stream, then parties i < n-1 also draw
       their arithmetic shares s_i (:func:`expand_dabit_share`; order: bits, then shares).
    2. The dealer draws the same from its copies of the streams (:func:`dealer_dabits`),
       computes r = XOR_i r_i bit by bit and the correction s_{n-1} = r - sum_{i<n-1} s_i.
    3. Only the correction travels: 8 bytes per daBit, to party n-1.
    Bit-injection triples (``bit_mul_triples(count) -> BitMulTriple(words, a, r, ra)``): a daBit
(``words``, ``r``) plus additive shares of a uniform ring element ``a`` and of the product
``r * a``. They turn "XOR-shared bit times arithmetic value" into one round for any n
(:meth:`mpc.engines.convert.Converter.bit_mul`): open c = b XOR r and d = x - a together, then
b*x = c*d + c*[a] + (1 - 2c)(d*[r] + [ra]) locally -- a Beaver product (Beaver, CRYPTO 1991)
whose first factor is injected from the boolean side through the daBit (Rotaru-Wood). Seed
compression as for daBits, in the same stream: every party draws its bit words, then (parties
i < n-1 only) its share of r, then its share of a, then (i < n-1) its share of r*a
(:func:`expand_bitmul_share`); the dealer sends party n-1 two corrections per element, for r and
for r*a (:func:`dealer_bitmul`): 16 bytes, the same as one Beaver triple.

Security: the dealer is trusted (it knows every share); against any coalition of parties
    that excludes the dealer the other parties' shares are pseudo-random (semi-honest).

:class:`LocalDaBits` runs the same generation in each party's thread from one seed that all
parties know: INSECURE by construction, for tests and examples only (as LocalBitTriples).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from typing import NamedTuple

import numpy as np

from mpc.errors import ConfigError
from mpc.preprocessing.local_source import LocalSource
from mpc.prg import PRG
from mpc.sharing.packing import nwords

__all__ = [
    "BitMulTriple",
    "DaBitSource",
    "LocalDaBits",
    "dealer_bitmul",
    "dealer_dabits",
    "expand_bitmul_share",
    "expand_dabit_share",
    "unpack_bits",
]

DaBits = tuple[np.ndarray, np.ndarray]


class BitMulTriple(NamedTuple):
    """One party's shares of ``count`` bit-injection triples (see the module docstring)."""

    words: np.ndarray  # (ceil(count/64),) packed XOR shares of the bits r
    a: np.ndarray  # (count,) additive shares of uniform ring elements a
    r: np.ndarray  # (count,) additive shares of the same bits r, as ring elements 0/1
    ra: np.ndarray  # (count,) additive shares of r * a


def _check_count(count: object) -> int:
    if isinstance(count, bool) or not isinstance(count, (int, np.integer)) or int(count) < 0:
        raise ValueError(f"count: expected a non-negative integer, got {count!r}")
    return int(count)


def unpack_bits(words: np.ndarray, count: int) -> np.ndarray:
    """Packed words -> (count,) uint64 array of 0/1 (element j = bit j % 64 of word j // 64)."""
    if count == 0:
        return np.zeros(0, dtype=np.uint64)
    bytes_le = words.astype("<u8").view(np.uint8)
    return np.unpackbits(bytes_le, bitorder="little")[:count].astype(np.uint64)


class DaBitSource(ABC):
    """Where a Converter gets its daBits (and, where ``offers_bit_mul``, bit-injection triples).
    Material is single use."""

    offers_bit_mul = False  # True where bit_mul_triples() is implemented

    @abstractmethod
    def dabits(self, count: int) -> DaBits:
        """This party's shares (packed bit words, ring elements) of ``count`` fresh daBits.

        Raises :class:`~mpc.errors.PreprocessingExhausted` when the source has run dry.
        """

    def bit_mul_triples(self, count: int) -> BitMulTriple:
        """This party's shares of ``count`` fresh bit-injection triples (where offered)."""
        raise NotImplementedError(f"{type(self).__name__} offers no bit-injection triples")


def expand_dabit_share(prg: PRG, count: int, last: bool) -> tuple[np.ndarray, np.ndarray | None]:
    """Step 1: a party's (bit words r_i, arithmetic shares s_i); ``None`` for the last party's s."""
    count = _check_count(count)
    words = prg.uint64(nwords(count))
    if count % 64:
        words[-1] &= np.uint64((1 << (count % 64)) - 1)  # padding bits are zero in every share
    return words, None if last else prg.uint64(count)


def _dealer_sums(party_prgs: Sequence[PRG], count: int, expand, what: str) -> tuple[np.ndarray, list[np.ndarray]]:
    """Expand every party's shares with ``expand(prg, count, last)`` (advancing its stream):
    the bits (XOR of the words, unpacked) and, per further component, the sum of the shares the
    parties draw of it (the last party draws fewer: its are the corrections)."""
    n = len(party_prgs)
    if n < 2:
        raise ConfigError(f"party_prgs: {what} need at least 2 parties, got {n}")
    count = _check_count(count)
    bits = np.zeros(-(-count // 64), dtype=np.uint64)
    sums: list[np.ndarray] = []
    for i, prg in enumerate(party_prgs):
        words, *rest = expand(prg, count, i == n - 1)
        bits ^= words
        for j, v in enumerate(v for v in rest if v is not None):
            if j == len(sums):
                sums.append(v)  # fresh from the PRG: summed into in place
            else:
                sums[j] += v
    return unpack_bits(bits, count), sums


def dealer_dabits(party_prgs: Sequence[PRG], count: int) -> np.ndarray:
    """Steps 2-3: party n-1's arithmetic shares (the correction), advancing every stream."""
    bits, sums = _dealer_sums(party_prgs, count, expand_dabit_share, "daBits")
    return bits - sums[0]


def expand_bitmul_share(prg: PRG, count: int, last: bool) -> list[np.ndarray]:
    """A party's bit-injection triple shares in stream order: [words, a] for the last party,
    [words, a, r, ra] for the others (the order of the dealer's components)."""
    words, r = expand_dabit_share(prg, count, last)
    a = prg.uint64(count)
    return [words, a] if last else [words, a, r, prg.uint64(count)]


def dealer_bitmul(party_prgs: Sequence[PRG], count: int) -> tuple[np.ndarray, np.ndarray]:
    """Party n-1's shares of r and r*a (the corrections), advancing every stream."""
    r, (a, r_rest, ra_rest) = _dealer_sums(party_prgs, count, expand_bitmul_share, "bit-injection triples")
    return r - r_rest, r * a - ra_rest


class LocalDaBits(LocalSource, DaBitSource):
    """INSECURE in-process daBits for tests: every party derives from one shared seed.

    Construct one per party with the same ``seed`` and that party's ``pid``; calls must happen
    in the same order on every party. The last party replays the dealer. ``budget`` (optional)
    caps the daBits served (then PreprocessingExhausted).
    """

    def __init__(self, seed: bytes, pid: int, n: int, *, budget: int | None = None) -> None:
        super().__init__(seed, pid, n, "dabits", "daBits", budget)
        self.served = 0

    def __repr__(self) -> str:
        return f"LocalDaBits(pid={self.pid}, n={self.n}, served={self.served}, insecure)"

    def dabits(self, count: int) -> DaBits:
        count = _check_count(count)
        self._spend(count, "daBits")
        words, arith = expand_dabit_share(self._own, count, last=self._last)
        if self._dealer is not None:
            arith = dealer_dabits(self._dealer, count)
        self.served += count
        return words, arith

    offers_bit_mul = True

    def bit_mul_triples(self, count: int) -> BitMulTriple:
        count = _check_count(count)
        self._spend(count, "bit-injection triples")
        share = expand_bitmul_share(self._own, count, last=self._last)
        if self._dealer is not None:
            share += list(dealer_bitmul(self._dealer, count))
        self.served += count
        return BitMulTriple(*share)
