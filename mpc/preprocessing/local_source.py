"""The common part of the INSECURE in-process material sources of the tests.

:class:`~mpc.preprocessing.bit_triples.LocalBitTriples` and
:class:`~mpc.preprocessing.dabits.LocalDaBits` derive every party's stream from one seed that all
parties know (so any party could recompute the others' shares: tests and examples only). Each
party's stream is the one a dealer would share with it, so the material matches what the
dealer functions compute; the last party replays the dealer. An optional budget caps what is
served, to test exhaustion handling.
"""

from __future__ import annotations

from mpc.errors import ConfigError, PreprocessingExhausted
from mpc.prg import PRG, SEED_BYTES


class LocalSource:
    """Seed and budget checks, the party's own stream and (last party) every party's stream."""

    def __init__(self, seed: bytes, pid: int, n: int, stream: str, what: str, budget: int | None) -> None:
        if not isinstance(seed, (bytes, bytearray)) or len(seed) != SEED_BYTES:
            raise ConfigError(f"seed: expected {SEED_BYTES} bytes")
        if not isinstance(n, int) or n < 2:
            raise ConfigError(f"n: {what} need at least 2 parties, got {n!r}")
        if not isinstance(pid, int) or not 0 <= pid < n:
            raise ConfigError(f"pid: expected a party id in [0, {n}), got {pid!r}")
        if budget is not None and (isinstance(budget, bool) or not isinstance(budget, int) or budget < 0):
            raise ConfigError(f"budget: expected a non-negative integer or None, got {budget!r}")
        root = PRG(bytes(seed))
        self.pid, self.n = pid, n
        self._last = pid == n - 1
        self._own = root.derive(f"{stream}/party-{pid}")
        self._dealer = [root.derive(f"{stream}/party-{p}") for p in range(n)] if self._last else None
        self._left = budget

    def _spend(self, count: int, what: str) -> None:
        """Take ``count`` from the budget, or raise PreprocessingExhausted (nothing taken)."""
        if self._left is not None:
            if count > self._left:
                raise PreprocessingExhausted(f"{what}: {count} requested, {self._left} left of the local budget")
            self._left -= count
