"""The ZeroMQ transport: one TCP connection per pair of parties, optionally CURVE-encrypted.

:class:`ZmqChannel` is a :class:`~mpc.net.channel.Channel` over ZeroMQ sockets. Its parts, one
module per job:

- :mod:`mpc.net.zmq_links`: the sockets (a ROUTER for the higher parties, a DEALER per lower
  party), their monitors, which connection is which party, disconnects, stray connections;
- :mod:`mpc.net.zmq_handshake`: hello/welcome with every peer before any data;
- :mod:`mpc.net.zmq_auth`: CURVE keys and the ZAP handler (the security model);
- :mod:`mpc.net.zmq_frames`: the frame layout of a message, and the polling read;
- :mod:`mpc.net.shm_ring`: payloads to same-host peers through shared memory;
- :mod:`mpc.net.zmq_records`: on encrypted channels, every message after the set-up as AES-GCM
  records on a bulk link (its layout, set-up and security argument).

Receiving
    Messages from other peers that arrive while waiting for one peer are buffered per peer;
    those on a peer's own DEALER simply stay in ZeroMQ's queue. Every receive has a deadline.
    A small message expected while answers have been coming back fast is first polled for
    ``spin_us`` (:func:`mpc.net.zmq_frames.read`); otherwise the receive blocks in slices of
    at most :data:`WAIT_SLICE`, and between slices it checks whether the peer has left: a peer
    whose connection closed gives ``PeerTimeout`` ("has disconnected") once what it sent before
    is read, instead of at the deadline. Any frame count other than 1 or 2 from a party on a
    plaintext or CURVE link, a record that does not open, or a malformed header raises
    ``ProtocolError``; a message from a connection that is not a party of the session is dropped.

Same-host payloads (``shm=True``, :mod:`mpc.net.shm_ring`)
    Right after the handshake every channel exchanges shared-memory offers with each peer (tag
    0, even with ``shm=False``, so the two settings pair up). To a peer whose link stays on this
    host (a loopback or ipc address, see :func:`same_host`) that accepted the offer, a payload
    of at least 64 KiB (``shm_ring.MIN_BYTES``) is copied into a ring and the second frame is a 16-byte reference instead
    (``[header, ref]``); the receiver copies it out. Headers, order, deadlines and every check
    are the same as inline. A ring without room sends the payload inline: a send never waits.
    The byte counters count the payload either way. On an encrypted channel the header goes as
    a record on the bulk link, a ring without room sends the payload's record there too, and a
    *sealed* ring carries the payload's AES-GCM record instead of the payload: by default when
    the host restricts ptrace, where another process of the user could read an unsealed ring
    but not the parties' memory (``shm_sealed``; the argument is in :mod:`mpc.net.shm_ring`'s
    security model).

Encrypted channels (``curve=``, :mod:`mpc.net.zmq_records`)
    After the handshake (before the shared-memory offers) every encrypted channel agrees on
    AES-GCM keys with each peer over the CURVE link and opens a plaintext *bulk link* to it.
    From then on every message to that peer goes on the bulk link as records, header included
    (CURVE, at ~200 MB/s in ZeroMQ's I/O thread, cost W5 and W6 1.15-1.43x at ff67147 on the
    messages of a few KiB to 128 KiB that stayed on it); its receives read that link, with the
    same deadlines, departures and checks. With ``records=False`` (or a peer that says so, or
    one listening on a non-TCP endpoint) the pair keeps every message on CURVE. A record that
    does not open is a ``ProtocolError``; a message that does not come, a ``PeerTimeout``.

Cost
    Per message: one ZeroMQ multipart message, a header of 32 + 8 * ndim bytes (40 for a 1-d
    array) plus ZMTP framing (2-9 bytes per frame), and a few microseconds of Python in this
    module on top of the Channel base class. Encrypted: one record per message under 64 KiB,
    from there the header's and about eight of 64 KiB to 1 MiB for the payload
    (:mod:`mpc.net.zmq_records`), 24 bytes and an AES-GCM pass at each end each; on CURVE,
    about 33 more bytes per frame and, on each side, one encryption or decryption pass plus a
    copy (libsodium); ``bench/net.py`` measures both. Rounds: none beyond the protocol's.
    Setup: the handshake's round trip, then (when encrypted) one round of key offers and a
    hello per bulk link, then one round of shared-memory offers and one of answers. Memory:
    received messages wait in ZeroMQ's queues until read; the queues are unbounded, so a
    flooding peer can exhaust memory (with CURVE, only the session's parties can connect at
    all).

A channel belongs to the thread that created it (ZeroMQ sockets are not thread-safe).
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Sequence

import numpy as np
import zmq

from mpc.config.addresses import is_loopback
from mpc.errors import ConfigError, PeerTimeout, ProtocolError
from mpc.net import shm_ring, wire, zmq_records
from mpc.net.channel import Channel, deadline_left
from mpc.net.zmq_auth import CurveKeys
from mpc.net.zmq_frames import ZERO_COPY_MIN, read, split
from mpc.net.zmq_handshake import CTRL_MAGIC, WELCOME, answer_hello, check_control, handshake, plural
from mpc.net.zmq_links import Links

__all__ = ["CurveKeys", "ZmqChannel", "same_host"]

_SNDMORE = zmq.SNDMORE
_RCVTIMEO = zmq.RCVTIMEO
_RCVTIMEO_SLACK_MS = 100
WAIT_SLICE = 0.25
"""Seconds a blocked receive waits before it checks whether its peer has left (the longest a
departed peer goes unnoticed). Most waits end in the first slice; the receive timeout socket
option then keeps its value from message to message (setting it costs latency)."""
# Default wait, in microseconds, a receive of a small message polls before it blocks
# (ZmqChannel(spin_us=...), MPC_SPIN_US), while the previous wait was short. Measured on 2
# cores over loopback: a small message's round trip 0.25 -> 0.20 ms (raw pyzmq 0.18), W6
# (2,500 small rounds) 14% faster, W4 and W5 unchanged; the price is up to this much CPU.
SPIN_US = 100.0
_SPIN_WHEN = 4.0  # poll while the previous wait was at most this many times the polling budget


def same_host(endpoint: str | None) -> bool:
    """Whether a link to ``endpoint`` stays on this host: a loopback TCP address or ipc/inproc."""
    if not endpoint:
        return False
    scheme, _, rest = endpoint.partition("://")
    if scheme in ("ipc", "inproc"):
        return True
    return scheme == "tcp" and is_loopback(rest.rsplit(":", 1)[0].strip("[]"))


class ZmqChannel(Channel):
    """A :class:`Channel` over ZeroMQ TCP sockets (see the module docstring).

    ``endpoints[i]`` is where party ``i`` listens (the last party's may be None); ``names``
    says how messages name each party (default ``party i``). With ``curve``, messages go as
    AES-GCM records on bulk links (``records=False``: every message on CURVE) and the bulk
    links of the higher parties connect to ``bulk_port`` on this party's host (None: a port
    the OS picks);
    ``shm_sealed`` says whether this party wants its rings sealed (None: when
    :func:`mpc.net.shm_ring.ptrace_restricted`; a ring is sealed if either end wants it).
    """

    def __init__(
        self,
        pid: int,
        n: int,
        session: int,
        endpoints: Sequence[str | None],
        *,
        timeout: float = 60.0,
        connect_timeout: float | None = None,
        curve: CurveKeys | None = None,
        context: zmq.Context | None = None,
        spin_us: float = SPIN_US,
        shm: bool = False,
        shm_sealed: bool | None = None,
        names: Sequence[str] | None = None,
        records: bool = True,
        bulk_port: int | None = None,
    ) -> None:
        super().__init__(pid, n, session, timeout, names=names)
        if isinstance(spin_us, bool) or not isinstance(spin_us, (int, float)) or not 0 <= spin_us <= 1e6:
            raise ConfigError(f"spin_us: expected microseconds in [0, 1e6], got {spin_us!r}")
        self._spin = float(spin_us) * 1e-6
        if not isinstance(records, bool):
            raise ConfigError(f"records: expected True or False, got {records!r}")
        if bulk_port is not None and (
            isinstance(bulk_port, bool) or not isinstance(bulk_port, int) or not 1 <= bulk_port <= 65535
        ):
            raise ConfigError(f"bulk_port: expected a port number (1..65535) or None, got {bulk_port!r}")
        if shm_sealed is not None and not isinstance(shm_sealed, bool):
            raise ConfigError(f"shm_sealed: expected True, False or None (the host decides), got {shm_sealed!r}")
        self._last_wait = 0.0  # how long the previous receive waited for its message (seconds)
        connect_timeout = self.timeout if connect_timeout is None else float(connect_timeout)
        if not connect_timeout > 0:
            raise ConfigError(f"connect_timeout: expected a positive number of seconds, got {connect_timeout!r}")
        endpoints = self._check_endpoints(endpoints)
        if curve is not None:
            if not isinstance(curve, CurveKeys):
                raise ConfigError(f"curve: expected CurveKeys, got {type(curve).__name__}")
            missing = [p for p in self.peers if p not in curve.peers]
            if missing:
                raise ConfigError(f"curve.peers: no public key for {plural([self.names[p] for p in missing])}")
        self._closed = False
        self._pending: dict[int, deque] = {p: deque() for p in self.peers}
        self._rcvtimeo: dict[zmq.Socket, int] = {}
        self._rings_out: dict[int, shm_ring.Outgoing] = {}
        self._rings_in: dict[int, shm_ring.Incoming] = {}
        self._records: zmq_records.Records | None = None
        self._links = Links(pid, n, endpoints, self.names, curve, context)
        try:
            self._links.open()
            handshake(self._links, session, self._pending, time.monotonic() + connect_timeout, connect_timeout)
            if curve is not None:  # from now on, messages to linked peers go as records
                self._records = zmq_records.setup(self, endpoints, connect_timeout, bulk_port, records)
                for j, messages in self._records.early().items():
                    for frames in messages:
                        message = self._accept(frames, j, True, self._records.links)
                        if message is not None:
                            self._pending[j].append(message[1:])
            wanted = set()
            if shm and shm_ring.available():
                wanted = {p for p in self.peers if same_host(endpoints[min(p, pid)])}
            seal = None  # a plaintext channel's rings carry the payloads
            if self._records is not None:
                seal = shm_ring.ptrace_restricted() if shm_sealed is None else shm_sealed
            self._rings_out, self._rings_in = shm_ring.negotiate(self, wanted, seal)
            # the offers are set-up traffic: neither the counters nor the polling heuristic
            # (how long the last receive waited) carry them into the session
            self.reset_stats()
            if self._records is not None:
                self._records.sent = 0
            self._last_wait = 0.0
        except BaseException:
            self.close()
            raise

    def _check_endpoints(self, endpoints: Sequence[str | None]) -> list[str | None]:
        if isinstance(endpoints, (str, bytes)) or not isinstance(endpoints, Sequence):
            raise ConfigError("endpoints: expected a sequence with one address per party")
        if len(endpoints) != self.n:
            raise ConfigError(f"endpoints: expected {self.n} addresses (one per party), got {len(endpoints)}")
        needed = set(range(self.pid)) | ({self.pid} if self.pid < self.n - 1 else set())
        for i in sorted(needed):
            ep = endpoints[i]
            if not isinstance(ep, str) or "://" not in ep:
                role = "listens" if i == self.pid else "is reached"
                raise ConfigError(
                    f"endpoints[{i}]: {self.names[i]} {role} at an address like 'tcp://host:port', got {ep!r}"
                )
        return list(endpoints)

    # ------------------------------------------------------------------ transport

    @property
    def shm_peers(self) -> list[int]:
        """The peers this party sends large payloads to through a shared-memory ring."""
        return sorted(self._rings_out)

    @property
    def shm_sent(self) -> int:
        """How many payloads went through the shared-memory rings so far."""
        return sum(ring.sent for ring in self._rings_out.values())

    @property
    def sealed_rings(self) -> list[int]:
        """The peers whose shared-memory ring from this party carries AES-GCM records."""
        return sorted(p for p, ring in self._rings_out.items() if ring.sealed)

    @property
    def bulk_peers(self) -> list[int]:
        """The peers this party has an encrypted bulk link with (empty on plaintext links)."""
        return [] if self._records is None else sorted(self._records.linked)

    @property
    def bulk_sent(self) -> int:
        """How many payloads went as AES-GCM records on the bulk links so far."""
        return 0 if self._records is None else self._records.sent

    @property
    def dropped(self) -> int:
        """Messages dropped because their connection is not a party of this session."""
        return self._links.dropped + (0 if self._records is None else self._records.links.dropped)

    def _transmit(self, to: int, header: bytes, payload: np.ndarray) -> None:
        if self._closed:
            raise ProtocolError(f"{self.names[self.pid]}: send to {self.names[to]} on a closed channel")
        nbytes = payload.nbytes
        ring = self._rings_out.get(to) if nbytes >= shm_ring.MIN_BYTES else None
        records = self._records
        if records is not None and to in records.linked:
            records.transmit(to, header, payload, ring)  # every message as records (zmq_records)
            return
        # a plaintext channel's ring (an encrypted channel's carry records, so only on bulk links);
        # None: no room yet, so inline
        ref = None if ring is None or records is not None else ring.put(payload)
        links = self._links
        try:
            if to < self.pid:
                sock = links.dealers[to]
            else:
                sock = links.router
                sock.send(links.identities[to], _SNDMORE)
            if ref is not None:
                sock.send(header, _SNDMORE)
                sock.send(ref)
            elif nbytes < ZERO_COPY_MIN:
                # one frame: a copy is cheaper than a second send call and zero-copy bookkeeping
                sock.send(header + payload.tobytes())
            else:
                # zero-copy: ZeroMQ reads the array itself (callers must not modify it after sending)
                sock.send(header, _SNDMORE)
                sock.send(payload.data, copy=False)
        except zmq.ZMQError as e:
            if e.errno == zmq.EHOSTUNREACH:
                raise PeerTimeout(f"{self.names[self.pid]}: {self.names[to]} has disconnected", peer=to) from None
            raise ProtocolError(f"{self.names[self.pid]}: cannot send to {self.names[to]}: {e.strerror}") from None

    def _link(self, peer: int) -> Links:
        """The sockets messages from and to ``peer`` travel on: its bulk link when it has one."""
        records = self._records
        return records.links if records is not None and peer in records.linked else self._links

    def _receive(self, frm: int, timeout: float, small: bool = False) -> tuple[bytes, object]:
        deadline = time.monotonic() + timeout
        pending = self._pending[frm]
        if pending:
            return self._payload(frm, *pending.popleft())
        if self._closed:
            raise ProtocolError(f"{self.names[self.pid]}: receive from {self.names[frm]} on a closed channel")
        links = self._link(frm)
        via_router = frm > self.pid
        sock = links.router if via_router else links.dealers[frm]
        # poll first only for small messages (latency-bound rounds) and while answers have been
        # coming back fast: a large message, or a peer busy computing, would only lose the CPU
        # this takes (measured: W6 28% faster, W5 not slower)
        spin = self._spin if small and self._last_wait <= _SPIN_WHEN * self._spin else 0.0
        started = time.perf_counter()
        while True:
            ms = min(int(1000 * min(deadline_left(deadline), WAIT_SLICE)), 2**31 - 1)
            # RCVTIMEO is reset only when it is longer than what is left or much shorter; a wait
            # cut short just goes round again
            if not ms - _RCVTIMEO_SLACK_MS <= self._rcvtimeo.get(sock, -1) <= ms:
                sock.setsockopt(_RCVTIMEO, ms)
                self._rcvtimeo[sock] = ms
            try:
                frames = read(sock, 0, spin)
            except zmq.Again:
                spin = 0.0
                if frm in links.update_gone():
                    return self._departed(frm, via_router, links)
                if deadline_left(deadline) > 0:
                    continue
                raise PeerTimeout(
                    f"{self.names[self.pid]}: no message from {self.names[frm]} within {timeout:g} s", peer=frm
                ) from None
            except zmq.ZMQError as e:
                raise ProtocolError(
                    f"{self.names[self.pid]}: cannot receive from {self.names[frm]}: {e.strerror}"
                ) from None
            message = self._accept(frames, frm, via_router, links)
            if message is None:
                continue
            j, head, body = message
            if j == frm:
                self._last_wait = time.perf_counter() - started
                return self._payload(frm, head, body)
            self._pending[j].append((head, body))

    def _accept(
        self, frames: list[zmq.Frame], frm: int, via_router: bool, links: Links
    ) -> tuple[int, bytes, object] | None:
        """(sender, header, payload) of a message just read on ``links``; None for a message that
        is not data: one from a stranger (dropped) or a late duplicate of the handshake (answered
        or checked), or a record of a large payload that is not the last. A bulk link's message is
        opened here, in the order it came (zmq_records)."""
        if via_router:
            j = links.sender(frames)
            if j is None:
                return None
            frames = frames[1:]
        else:
            j = frm
            links.check_dealer_frames(frm, frames)
        if links is not self._links:
            try:
                message = self._records.decode(j, frames, self._rings_in.get(j))
            except ProtocolError as e:
                if j == frm:
                    raise
                return j, None, e  # raised when a receive from j comes to it, not on another peer's
            return None if message is None else (j, *message)  # None: more of its records to come

        head, body = split(frames)
        if head[:3] == CTRL_MAGIC:
            if via_router:
                answer_hello(links, self.session, j, head)
                links.joined(j, frames)  # it reconnected: this is its connection now
            else:
                check_control(links, self.session, j, head, WELCOME)
            return None
        return j, head, body

    def _departed(self, frm: int, via_router: bool, links: Links) -> tuple[bytes, object]:
        """``frm`` has left: what it sent before leaving may still be queued, else PeerTimeout."""
        sock = links.router if via_router else links.dealers[frm]
        while True:
            try:
                frames = read(sock, zmq.NOBLOCK)
            except zmq.Again:
                break
            message = self._accept(frames, frm, via_router, links)
            if message is not None:
                self._pending[message[0]].append(message[1:])
        if self._pending[frm]:
            return self._payload(frm, *self._pending[frm].popleft())
        raise PeerTimeout(f"{self.names[self.pid]}: {self.names[frm]} has disconnected", peer=frm)

    def _payload(self, frm: int, head: bytes, body) -> tuple[bytes, object]:
        """(header, payload) with a shared-memory reference replaced by the bytes it points at.

        A reference is the only 16-byte body a header declaring another size can come with (an
        inline payload has exactly the declared size), so the two never get confused, whatever
        threshold the sender used (``shm_ring.MIN_BYTES``); anything else is left for the wire
        checks. An encrypted channel's rings are read when a message on
        a bulk link is opened (zmq_records); a message that did not open is its ProtocolError."""
        if head is None:
            raise body
        if self._records is not None or len(body) != shm_ring.REF_BYTES or frm not in self._rings_in:
            return head, body
        declared = wire.declared_nbytes(head)
        if declared != shm_ring.REF_BYTES:
            return head, self._rings_in[frm].take(body, declared)
        return head, body

    def close(self) -> None:
        """Close the rings and sockets (waiting at most 1 s to flush), stop the ZAP thread; idempotent."""
        if getattr(self, "_closed", True):
            return
        self._closed = True
        for ring in (*self._rings_out.values(), *self._rings_in.values()):
            ring.close()
        self._rings_out, self._rings_in = {}, {}
        if self._records is not None:
            self._records.close()
        self._links.close()
