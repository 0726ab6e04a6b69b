"""The Channel interface every transport implements, with the checks and counters they share.

A channel connects party ``pid`` to the ``n - 1`` others of one session. Messages are numpy
arrays framed by :mod:`mpc.net.wire`. Every message carries a *tag*: the value of an operation
counter that all parties advance identically (:meth:`Channel.next_tag`), so a receiver knows
exactly which message it expects next from each peer. A frame with the wrong session, sender,
tag, dtype or shape raises :class:`~mpc.errors.ProtocolError`; a receive that outlives the
deadline raises :class:`~mpc.errors.PeerTimeout` naming the peer, and so does a receive from a
peer that has left (its process died, or it closed its channel) once the messages it sent
before leaving are read. Nothing waits forever.

Transports implement two methods: ``_transmit(to, header, payload)`` and
``_receive(frm, timeout) -> (header_bytes, payload)``; per peer they must deliver in FIFO order.
Messages name the parties by ``names`` (``party 0``, ...; a dealer link names its ends
``dealer`` and the party it serves).

Counters: bytes and messages sent/received, and *rounds*: the number of distinct tags on which
this party sent or received anything (an all-to-all exchange is one round). They are kept in
total and per labelled section (``with channel.section("matmul"):``; sections nest and a
message counts in every open section).

Ownership: ``send`` may hand the array to the transport without copying; callers must not
modify an array after sending it. Received arrays are read-only views of the frame.
"""

from __future__ import annotations

import contextlib
import math
import time
from abc import ABC, abstractmethod
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass

import numpy as np

from mpc.errors import ConfigError, ProtocolError
from mpc.net import wire

SMALL_BYTES = 1 << 16  # a message below this is latency-bound (the wire's one-frame size too)


@dataclass
class Counters:
    bytes_sent: int = 0
    bytes_received: int = 0
    messages_sent: int = 0
    messages_received: int = 0
    rounds: int = 0


class Channel(ABC):
    """Tagged, deadline-bounded, counted messaging between the parties of one session."""

    def __init__(
        self, pid: int, n: int, session: int, timeout: float = 60.0, *, names: Sequence[str] | None = None
    ) -> None:
        """``names[p]`` is how messages name party ``p`` (default ``party p``; a dealer link, a
        2-party channel, names its ends ``dealer`` and the party it serves)."""
        if not isinstance(n, int) or n < 2:
            raise ConfigError(f"n: a session needs at least 2 parties, got {n!r}")
        if not isinstance(pid, int) or not 0 <= pid < n:
            raise ConfigError(f"pid: expected a party id in [0, {n}), got {pid!r}")
        if not 0 <= session < 2**64:
            raise ConfigError("session: expected a 64-bit unsigned session id")
        if not timeout > 0:
            raise ConfigError(f"timeout: expected a positive number of seconds, got {timeout!r}")
        if names is None:
            names = [f"party {p}" for p in range(n)]
        if isinstance(names, str) or len(names) != n or not all(isinstance(x, str) and x for x in names):
            raise ConfigError(f"names: expected one non-empty name per party ({n}), got {names!r}")
        self.pid = pid
        self.n = n
        self.names = tuple(names)
        self.session = session
        self.timeout = float(timeout)
        self._tag = 0
        self._round_tag = -1
        self._total = Counters()
        self._sections: dict[str, Counters] = {}
        self._open: list[Counters] = []

    # ------------------------------------------------------------------ transport (subclasses)

    @abstractmethod
    def _transmit(self, to: int, header: bytes, payload: np.ndarray) -> None:
        """Queue one frame for party ``to``; must not block on the receiver."""

    @abstractmethod
    def _receive(self, frm: int, timeout: float, small: bool = False) -> tuple[bytes, object]:
        """The next frame from ``frm`` as (header bytes, payload buffer); PeerTimeout after ``timeout``.

        ``small``: the caller expects a small message (a hint: latency matters more than CPU)."""

    def close(self) -> None:  # noqa: B027 - transports without resources need no override
        """Release transport resources (idempotent)."""

    def __enter__(self) -> Channel:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # ------------------------------------------------------------------ tags and counters

    @property
    def peers(self) -> list[int]:
        return [p for p in range(self.n) if p != self.pid]

    def next_tag(self) -> int:
        """Advance the operation counter; every party must call this at the same points."""
        self._tag += 1
        return self._tag

    @contextlib.contextmanager
    def section(self, label: str) -> Iterator[None]:
        """Count the traffic inside the block under ``label`` as well as in the total."""
        counters = self._sections.setdefault(label, Counters())
        self._open.append(counters)
        saved_round = self._round_tag
        self._round_tag = -1  # a section's first message starts a round of its own
        try:
            yield
        finally:
            self._open.remove(counters)
            self._round_tag = max(self._round_tag, saved_round)

    def stats(self) -> dict:
        """Bytes, messages and rounds: ``{"total": {...}, "sections": {label: {...}}}``."""
        return {"total": asdict(self._total), "sections": {k: asdict(v) for k, v in self._sections.items()}}

    def reset_stats(self) -> None:
        self._total = Counters()
        self._sections = {}
        self._open = []
        self._round_tag = -1

    def _count(self, tag: int, nbytes: int, sent: bool) -> None:
        new_round = tag != self._round_tag
        self._round_tag = tag
        for c in (self._total, *self._open):
            if sent:
                c.bytes_sent += nbytes
                c.messages_sent += 1
            else:
                c.bytes_received += nbytes
                c.messages_received += 1
            c.rounds += new_round

    # ------------------------------------------------------------------ point to point

    def _check_peer(self, p: int, what: str) -> None:
        if not isinstance(p, (int, np.integer)) or not 0 <= p < self.n or p == self.pid:
            raise ProtocolError(f"{what}: {p!r} is not a peer of {self.names[self.pid]} (n = {self.n})")

    def send(self, to: int, arr: np.ndarray, tag: int) -> None:
        """Send ``arr`` to party ``to`` under ``tag``."""
        self._check_peer(to, "send to")
        arr = np.asarray(arr, order="C")
        header = wire.encode_header(self.session, self.pid, tag, arr)
        self._transmit(int(to), header, arr)
        self._count(tag, len(header) + arr.nbytes, sent=True)

    def recv(
        self,
        frm: int,
        tag: int,
        *,
        dtype: np.dtype | type | None = None,
        shape: Sequence[int] | None = None,
        timeout: float | None = None,
    ) -> np.ndarray:
        """Receive the next frame from ``frm``; it must carry ``tag`` (and dtype/shape if given)."""
        self._check_peer(frm, "receive from")
        small = shape is not None and dtype is not None and math.prod(shape) * np.dtype(dtype).itemsize < SMALL_BYTES
        raw_header, payload = self._receive(int(frm), self.timeout if timeout is None else timeout, small)
        header = wire.decode_header(raw_header)
        if (
            header.session == self.session
            and header.sender == frm
            and header.tag == tag
            and (dtype is None or header.dtype is dtype or header.dtype == dtype)
            and (shape is None or header.shape == shape or header.shape == tuple(shape))
        ):  # the common case in one test; the slow path below names what is wrong
            arr = wire.decode_payload(header, payload)
            arr.flags.writeable = False
            self._count(tag, len(raw_header) + arr.nbytes, sent=False)
            return arr
        problem = None
        if header.session != self.session:
            problem = "frame belongs to another session"
        elif header.sender != frm:
            problem = f"frame claims sender {header.sender}"
        elif header.tag != tag:
            problem = f"expected tag {tag}, got tag {header.tag} (the parties are out of step)"
        elif dtype is not None and header.dtype != dtype:
            problem = f"expected dtype {np.dtype(dtype)}, got {header.dtype} (tag {tag})"
        elif shape is not None and header.shape != tuple(shape):
            problem = f"expected shape {tuple(shape)}, got {header.shape} (tag {tag})"
        raise ProtocolError(f"{self.names[self.pid]} receiving from {self.names[frm]}: {problem}")

    # ------------------------------------------------------------------ collectives

    def exchange(self, arr: np.ndarray, tag: int | None = None) -> list[np.ndarray]:
        """All-to-all: send ``arr`` to every peer, receive a same-shaped array from each.

        Returns a list indexed by party id (this party's entry is ``arr``). One round.
        """
        tag = self.next_tag() if tag is None else tag
        arr = np.asarray(arr, order="C")
        for p in self.peers:
            self.send(p, arr, tag)
        out: list[np.ndarray] = [arr] * self.n
        for p in self.peers:
            out[p] = self.recv(p, tag, dtype=arr.dtype, shape=arr.shape)
        return out


def deadline_left(deadline: float) -> float:
    """Seconds until ``deadline`` (a time.monotonic() value), never negative."""
    return max(0.0, deadline - time.monotonic())
