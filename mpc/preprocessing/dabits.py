"""daBits: random bits shared both ways, [r]_B (XOR, packed) and [r]_A (additive over Z_2^64).

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
    Security: the dealer is trusted (it knows every share); against any coalition of parties
    that excludes the dealer the other parties' shares are pseudo-random (semi-honest).

:class:`LocalDaBits` runs the same generation in each party's thread from one seed that all
parties know: INSECURE by construction, for tests and examples only (as LocalBitTriples).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence

import numpy as np

from mpc.errors import ConfigError, PreprocessingExhausted
from mpc.prg import PRG, SEED_BYTES

__all__ = ["DaBitSource", "LocalDaBits", "dealer_dabits", "expand_dabit_share", "unpack_bits"]

DaBits = tuple[np.ndarray, np.ndarray]


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
    """Where a Converter gets its daBits. Material is single use."""

    @abstractmethod
    def dabits(self, count: int) -> DaBits:
        """This party's shares (packed bit words, ring elements) of ``count`` fresh daBits.

        Raises :class:`~mpc.errors.PreprocessingExhausted` when the source has run dry.
        """


def expand_dabit_share(prg: PRG, count: int, last: bool) -> tuple[np.ndarray, np.ndarray | None]:
    """Step 1: a party's (bit words r_i, arithmetic shares s_i); ``None`` for the last party's s."""
    count = _check_count(count)
    words = prg.uint64(-(-count // 64))
    if count % 64:
        words[-1] &= np.uint64((1 << (count % 64)) - 1)  # padding bits are zero in every share
    return words, None if last else prg.uint64(count)


def dealer_dabits(party_prgs: Sequence[PRG], count: int) -> np.ndarray:
    """Steps 2-3: party n-1's arithmetic shares (the correction), advancing every stream."""
    n = len(party_prgs)
    if n < 2:
        raise ConfigError(f"party_prgs: daBits need at least 2 parties, got {n}")
    count = _check_count(count)
    bits = np.zeros(-(-count // 64), dtype=np.uint64)
    others = np.zeros(count, dtype=np.uint64)
    for i, prg in enumerate(party_prgs):
        r_i, s_i = expand_dabit_share(prg, count, last=i == n - 1)
        bits ^= r_i
        if s_i is not None:
            others += s_i
    return unpack_bits(bits, count) - others


class LocalDaBits(DaBitSource):
    """INSECURE in-process daBits for tests: every party derives from one shared seed.

    Construct one per party with the same ``seed`` and that party's ``pid``; calls must happen
    in the same order on every party. The last party replays the dealer. ``budget`` (optional)
    caps the daBits served (then PreprocessingExhausted).
    """

    def __init__(self, seed: bytes, pid: int, n: int, *, budget: int | None = None) -> None:
        if not isinstance(seed, (bytes, bytearray)) or len(seed) != SEED_BYTES:
            raise ConfigError(f"seed: expected {SEED_BYTES} bytes")
        if not isinstance(n, int) or n < 2:
            raise ConfigError(f"n: daBits need at least 2 parties, got {n!r}")
        if not isinstance(pid, int) or not 0 <= pid < n:
            raise ConfigError(f"pid: expected a party id in [0, {n}), got {pid!r}")
        root = PRG(bytes(seed))
        self.pid, self.n = pid, n
        self._last = pid == n - 1
        self._own = root.derive(f"dabits/party-{pid}")
        self._dealer = [root.derive(f"dabits/party-{p}") for p in range(n)] if self._last else None
        self._left = budget
        self.served = 0

    def __repr__(self) -> str:
        return f"LocalDaBits(pid={self.pid}, n={self.n}, served={self.served}, insecure)"

    def dabits(self, count: int) -> DaBits:
        count = _check_count(count)
        if self._left is not None:
            if count > self._left:
                raise PreprocessingExhausted(f"daBits: {count} requested, {self._left} left of the local budget")
            self._left -= count
        words, arith = expand_dabit_share(self._own, count, last=self._last)
        if self._dealer is not None:
            arith = dealer_dabits(self._dealer, count)
        self.served += count
        return words, arith
