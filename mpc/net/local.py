"""In-process channels: parties as threads of one process, for tests and examples.

A :class:`LocalHub` holds one FIFO queue per ordered pair of parties; ``LocalHub.channels()``
returns one :class:`LocalChannel` per party. Frames go through the same header encoding and
checks as over ZeroMQ, without copying the payload (senders must not modify what they sent).

A party whose thread fails calls :meth:`LocalHub.fail`; peers waiting on it then raise
``PeerTimeout`` at once instead of waiting for the deadline, as a dead process would be
reported, so a failing test never hangs.
"""

from __future__ import annotations

import queue
import threading
import time

import numpy as np

from mpc.errors import PeerTimeout
from mpc.net.channel import Channel, deadline_left

_POLL = 0.05  # seconds between checks for a failed peer while waiting


class LocalHub:
    """The shared medium of one in-process session."""

    def __init__(self, n: int, session: int = 1, timeout: float = 60.0) -> None:
        self.n = n
        self.session = session
        self.timeout = timeout
        self._queues = {(s, d): queue.SimpleQueue() for s in range(n) for d in range(n) if s != d}
        self._failed: dict[int, str] = {}
        self._lock = threading.Lock()

    def channels(self) -> list[LocalChannel]:
        return [LocalChannel(self, pid) for pid in range(self.n)]

    def fail(self, pid: int, reason: str) -> None:
        with self._lock:
            self._failed.setdefault(pid, reason)

    def failure(self, pid: int) -> str | None:
        return self._failed.get(pid)


class LocalChannel(Channel):
    def __init__(self, hub: LocalHub, pid: int) -> None:
        super().__init__(pid, hub.n, hub.session, hub.timeout)
        self._hub = hub

    def _transmit(self, to: int, header: bytes, payload: np.ndarray) -> None:
        self._hub._queues[(self.pid, to)].put((header, payload))

    def _receive(self, frm: int, timeout: float, small: bool = False) -> tuple[bytes, object]:
        q = self._hub._queues[(frm, self.pid)]
        deadline = time.monotonic() + timeout
        while True:
            try:
                return q.get(timeout=min(_POLL, deadline_left(deadline)) or 1e-6)
            except queue.Empty:
                pass
            reason = self._hub.failure(frm)
            if reason is not None:
                raise PeerTimeout(f"party {self.pid}: party {frm} stopped ({reason})", peer=frm)
            if deadline_left(deadline) == 0:
                raise PeerTimeout(f"party {self.pid}: no message from party {frm} within {timeout:g} s", peer=frm)
