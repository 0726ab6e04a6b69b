"""Bit (AND) triples for the GMW engine: XOR-shared packed words (a, b, c) with c = a AND b.

A bit triple word holds 64 independent triples, one per bit position: party i holds words
(a_i, b_i, c_i) and XOR_i a_i AND XOR_i b_i == XOR_i c_i bitwise. The GMW engine spends one
triple bit per AND gate (Beaver, "Efficient multiparty protocols using circuit randomization",
CRYPTO 1991, adapted to GF(2) as in Goldreich-Micali-Wigderson, STOC 1987).

Interface
    :class:`BitTripleSource` has one method, ``bit_triples(nwords) -> (a, b, c)``: three
    ``(nwords,)`` uint64 arrays, this party's shares, never handed out twice. The trusted dealer
    serves the same method; the GMW engine depends on nothing else.

Seed-compressed generation (what a dealer runs)
    Party i shares a 16-byte seed with the dealer and expands it with AES-CTR
    (:class:`mpc.prg.PRG`, dedicated to bit triples, e.g. ``seed_prg.derive("bit-triples")``).
    1. Every party i draws a_i, b_i from its stream, and parties i < n-1 also draw c_i
       (:func:`expand_bit_triple_share`, in that order: a, b, then c).
    2. The dealer draws the same words from its copies of the streams
       (:func:`dealer_bit_triples`), computes a = XOR a_i, b = XOR b_i and the correction
       c_{n-1} = (a AND b) XOR c_0 XOR ... XOR c_{n-2}.
    3. Only the correction travels: the dealer sends c_{n-1} to party n-1.
    Cost: 8 bytes per triple word (64 triples) sent to one party; nothing to the others.
    Security: the dealer is trusted (it knows every share); against any coalition of parties
    that excludes the dealer, the shares of the other parties are pseudo-random (semi-honest).

:class:`LocalBitTriples` runs the same generation inside each party's thread from one seed that
all parties know. It is INSECURE by construction (every party could recompute every share) and
exists only for tests and examples.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence

import numpy as np

from mpc.errors import ConfigError
from mpc.preprocessing.local_source import LocalSource
from mpc.prg import PRG

__all__ = ["BitTripleSource", "LocalBitTriples", "dealer_bit_triples", "expand_bit_triple_share"]

BitTriple = tuple[np.ndarray, np.ndarray, np.ndarray]


def _check_nwords(nwords: object) -> int:
    if isinstance(nwords, bool) or not isinstance(nwords, (int, np.integer)) or int(nwords) < 0:
        raise ValueError(f"nwords: expected a non-negative integer, got {nwords!r}")
    return int(nwords)


class BitTripleSource(ABC):
    """Where a GMW engine gets its AND triples. Material is single use."""

    @abstractmethod
    def bit_triples(self, nwords: int) -> BitTriple:
        """This party's shares (a, b, c) of ``nwords`` fresh triple words, each of shape (nwords,).

        Raises :class:`~mpc.errors.PreprocessingExhausted` when the source has run dry.
        """


def expand_bit_triple_share(prg: PRG, nwords: int, last: bool) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """Step 1 of the seeded generation: a party's (a_i, b_i, c_i) from its stream.

    The last party (``last=True``) draws no c: its c is the dealer's correction, and it returns
    ``None`` in that slot. The draw order (a, b, then c) is part of the protocol.
    """
    nwords = _check_nwords(nwords)
    a = prg.uint64(nwords)
    b = prg.uint64(nwords)
    c = None if last else prg.uint64(nwords)
    return a, b, c


def dealer_bit_triples(party_prgs: Sequence[PRG], nwords: int) -> np.ndarray:
    """Steps 2-3 of the seeded generation: the dealer's correction for the last party.

    ``party_prgs[i]`` is the dealer's copy of party i's stream (same seed, same position). Every
    stream is advanced exactly as :func:`expand_bit_triple_share` advances it on the party side.
    Returns c_{n-1}, the ``(nwords,)`` uint64 array to send to party n-1 (and to no one else).
    """
    n = len(party_prgs)
    if n < 2:
        raise ConfigError(f"party_prgs: bit triples need at least 2 parties, got {n}")
    nwords = _check_nwords(nwords)
    a = np.zeros(nwords, dtype=np.uint64)
    b = np.zeros(nwords, dtype=np.uint64)
    c_others = np.zeros(nwords, dtype=np.uint64)
    for i, prg in enumerate(party_prgs):
        a_i, b_i, c_i = expand_bit_triple_share(prg, nwords, last=i == n - 1)
        a ^= a_i
        b ^= b_i
        if c_i is not None:
            c_others ^= c_i
    return (a & b) ^ c_others


class LocalBitTriples(LocalSource, BitTripleSource):
    """INSECURE in-process bit triples for tests: every party derives from one shared seed.

    Construct one per party with the same ``seed`` (e.g. ``party.common_prg.random_bytes(16)``)
    and that party's ``pid``; calls must happen in the same order on every party (they do when
    the parties run the same protocol). Each party's stream is the one a dealer would share with
    it, so the material matches :func:`dealer_bit_triples` exactly. The last party replays the
    dealer, which costs it n expansions per call: fine for tests, which is all this is for.

    ``budget_words`` (optional) caps the total words served; past it,
    :class:`~mpc.errors.PreprocessingExhausted` is raised (to test exhaustion handling).
    """

    def __init__(self, seed: bytes, pid: int, n: int, *, budget_words: int | None = None) -> None:
        super().__init__(seed, pid, n, "bit-triples", "bit triples", budget_words)
        self.words_served = 0

    def __repr__(self) -> str:
        return f"LocalBitTriples(pid={self.pid}, n={self.n}, words_served={self.words_served}, insecure)"

    def bit_triples(self, nwords: int) -> BitTriple:
        nwords = _check_nwords(nwords)
        self._spend(nwords, "bit triple words")
        a, b, c = expand_bit_triple_share(self._own, nwords, last=self._last)
        if self._dealer is not None:
            c = dealer_bit_triples(self._dealer, nwords)
        self.words_served += nwords
        return a, b, c
