"""In-process channels: parties as threads of one process, for tests and examples.

A :class:`LocalHub` holds one FIFO queue per ordered pair of parties; ``LocalHub.channels()``
returns one :class:`LocalChannel` per party. Frames go through the same header encoding and
checks as over ZeroMQ, without copying the payload (senders must not modify what they sent).

A party leaves the session in one of two ways, and its peers learn it at once, as they would
learn that a process died (:mod:`mpc.net.zmq_links`): its thread fails and calls
:meth:`LocalHub.fail`, or it closes its channel (it finished, or gave up). A receive from a
party that has left returns whatever that party sent before leaving and then raises
``PeerTimeout`` naming it, instead of waiting out the deadline; so a failing test never hangs,
and neither does a party that stopped early while the others still expect messages.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Sequence

import numpy as np

from mpc.errors import PeerTimeout
from mpc.net.channel import Channel, deadline_left

_POLL = 0.05  # seconds between checks for a departed peer while waiting


class LocalHub:
    """The shared medium of one in-process session (``names``: as :class:`Channel` takes them)."""

    def __init__(
        self, n: int, session: int = 1, timeout: float = 60.0, names: Sequence[str] | None = None
    ) -> None:
        self.n = n
        self.session = session
        self.timeout = timeout
        self.names = names
        self._queues = {(s, d): queue.SimpleQueue() for s in range(n) for d in range(n) if s != d}
        self._left: dict[int, str] = {}  # pid -> how it left: "stopped (reason)" or "has disconnected"
        self._lock = threading.Lock()

    def channels(self) -> list[LocalChannel]:
        return [LocalChannel(self, pid) for pid in range(self.n)]

    def fail(self, pid: int, reason: str) -> None:
        """Party ``pid`` failed (``reason``: what it raised); its peers stop waiting for it."""
        with self._lock:
            self._left.setdefault(pid, f"stopped ({reason})")

    def leave(self, pid: int) -> None:
        """Party ``pid`` closed its channel; its peers stop waiting once its messages are read."""
        with self._lock:
            self._left.setdefault(pid, "has disconnected")

    def departure(self, pid: int) -> str | None:
        """How party ``pid`` left (``"stopped (reason)"`` or ``"has disconnected"``), or None."""
        return self._left.get(pid)


class LocalChannel(Channel):
    def __init__(self, hub: LocalHub, pid: int) -> None:
        super().__init__(pid, hub.n, hub.session, hub.timeout, names=hub.names)
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
            how = self._hub.departure(frm)
            if how is not None:
                try:  # it may have sent its last message just before it left
                    return q.get_nowait()
                except queue.Empty:
                    raise PeerTimeout(f"{self.names[self.pid]}: {self.names[frm]} {how}", peer=frm) from None
            if deadline_left(deadline) == 0:
                raise PeerTimeout(
                    f"{self.names[self.pid]}: no message from {self.names[frm]} within {timeout:g} s", peer=frm
                )

    def close(self) -> None:
        """Leave the session (idempotent): peers waiting on this party stop waiting."""
        self._hub.leave(self.pid)
