"""A progress bar of a few lines of our own (no tqdm dependency): redrawn in place on a terminal,
silent until the closing summary line when the stream is not a terminal (a log file, a pipe, or
``mpcrun``'s relay of a party's output), so logs get one line per phase and no carriage returns.

Used by :meth:`mpc.runtime.party.Party.preprocess` (``progress=True``) and :func:`mpc.nn.fit`.
Nothing secret is ever shown: counts, seconds and byte totals only.
"""

from __future__ import annotations

import resource
import sys
import time
from typing import TextIO

__all__ = ["ProgressBar", "peak_rss_bytes"]

WIDTH = 20


def peak_rss_bytes() -> int:
    """This process's peak resident set size so far (Linux reports KiB; macOS bytes)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return int(peak) if sys.platform == "darwin" else int(peak) * 1024


class ProgressBar:
    """``update(done, prefix)`` redraws ``prefix [####....] done/total`` on a terminal;
    ``finish(line)`` ends with ``line`` (always written)."""

    @classmethod
    def at(cls, progress: bool | str, pid: int, total: int, stream: TextIO | None = None) -> ProgressBar | None:
        """The bar ``progress`` asks for at this party: True at party 0 only, "all" at every
        party, False nowhere (None)."""
        return cls(total, stream) if progress == "all" or (progress is True and pid == 0) else None

    def __init__(self, total: int, stream: TextIO | None = None) -> None:
        self.stream = stream or sys.stderr
        self.total = max(1, int(total))
        self.tty = bool(getattr(self.stream, "isatty", lambda: False)())
        self.t0 = time.monotonic()

    def elapsed(self) -> float:
        return time.monotonic() - self.t0

    def update(self, done: int, prefix: str) -> None:
        if self.tty:
            filled = min(WIDTH, WIDTH * done // self.total)
            self.stream.write(f"\r{prefix} [{'#' * filled}{'.' * (WIDTH - filled)}] {done}/{self.total}")
            self.stream.flush()

    def finish(self, line: str) -> None:
        self.stream.write(("\r" if self.tty else "") + line + "\n")
        self.stream.flush()
