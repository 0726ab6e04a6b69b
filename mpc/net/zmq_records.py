"""The encrypted bulk path of a CURVE channel: large payloads as AES-256-GCM records.

Why
    CurveZMQ encrypts every frame with XSalsa20-Poly1305 inside ZeroMQ's I/O thread: about
    200 MB/s on the project's 2-core runner (a 16 MiB message 68-86 ms one way), while
    AES-256-GCM from ``cryptography`` (AES-NI, carry-less multiply) seals and opens 16 MiB in
    about 1.6 ms each (issue 18). So on an encrypted channel headers and small payloads stay on
    the CURVE link, and payloads of at least ``aead_min_bytes`` (default
    :data:`AEAD_MIN_BYTES`) travel as records of :mod:`mpc.crypto.aead` on a path without CURVE.
    A record must never travel through the CURVE socket (it would be encrypted twice).

Routes of a payload of at least ``aead_min_bytes`` on an encrypted link (decided per message)
    1. To a same-host peer with a shared-memory ring (:mod:`mpc.net.shm_ring`, ``shm=True``),
       payloads of at least ``shm_ring.MIN_BYTES``: into the ring; the CURVE link carries the
       header and the 16-byte ring reference. A *sealed* ring gets the record, sealed straight
       into it (the seal replaces the ring's copy in, the open its copy out); an unsealed one
       the payload itself, on hosts where sealing would protect nothing (no ptrace restriction:
       every process of the user can read the parties' memory; see shm_ring's security model).
    2. Otherwise (another host, no ring, or a ring without room), the *bulk link*: one plaintext
       ZeroMQ connection per pair of parties that carries nothing but records, one ZeroMQ frame
       each (a payload over :data:`CHUNK_BYTES` as several records, in order). The CURVE link
       carries the header with an empty body, which says "the record follows on the bulk link".
       The record is sent first, so it is usually there when the header is read.
    3. A peer without a bulk link (its channel listens on a non-TCP endpoint): inline on CURVE.
    Every payload therefore has exactly one header on the CURVE link, in send order: the order,
    the tags, the deadlines and every check of :mod:`mpc.net.zmq_channel` stay as they are, and
    the k-th record of a direction is the k-th header that points at one. The byte counters
    count the payload, whichever way it went.

Set-up (:func:`setup`, on every encrypted channel right after its handshake, before the
shared-memory offers; tag 0 on the CURVE link, excluded from the counters)
    1. A party with higher peers binds a plaintext ROUTER on the host of its own listening
       address, on a port the operating system picks (``tcp://host:*``), or on the hosts file's
       ``bulk_port`` for that party (for firewalls that open given ports only).
    2. Each party sends every peer, over the CURVE link (authenticated by the hosts file's keys),
       ``X25519 public key (32 bytes) || bulk port (u16, big-endian)``, the port 0 to higher
       peers (they do not connect to it) and from a party without a bulk listener.
    3. Each derives its per-direction keys with each peer
       (:meth:`mpc.crypto.aead.KeyExchange.records`: HKDF-SHA256 over the X25519 secret, the
       session id, both ids and both public keys).
    4. Each connects a DEALER to every lower peer's bulk port, at the host it reaches that
       peer's CURVE link on, and sends a *hello*: the first record of its direction, an empty
       payload bound to the associated data :data:`HELLO`.
    5. Each listener waits for every higher peer's hello (at most ``connect_timeout``) and opens
       it: the peer holds the key of its direction (key confirmation), and from then on records
       to that peer leave by the connection the hello came on. A hello that does not open raises
       ``ProtocolError``; one that does not come, ``PeerTimeout`` naming the port (a firewall
       between the hosts must let it through, as it does the party's own port).
    Cost: one all-to-all round on the CURVE link, one TCP connection and one hello per pair.

Security: what an attacker sees and can do
    The keys come from an X25519 exchange whose public values travel over the CURVE link, which
    authenticates both ends by their hosts-file keys: no one else can substitute a public key,
    so only the two parties hold the keys of their pair's two directions. The X25519 secrets are
    ephemeral (made from :func:`os.urandom` at set-up, dropped after the derivation), so records
    stay private even if a CURVE key leaks later. Someone on the network, or another user of the
    host (the bulk port accepts plain TCP connections from anyone who can reach it), sees record
    lengths, timing, the 8-byte counters and ciphertext: what CURVE also shows (sizes and timing)
    plus the counters. What they can do is drop or delay:

    - a modified, truncated, extended, replayed, reordered or injected record, one sealed with
      another key or moved to another message (the header received on the CURVE link is the
      associated data) does not open: ``ProtocolError``, and the session aborts (as it would on
      a broken connection); nothing unauthenticated is ever handed to the caller;
    - a dropped or delayed record is a ``PeerTimeout`` at the receive's deadline, or at once when
      the peer's bulk connection closes;
    - a connection to the bulk port under an id that is not a party's is dropped (and counted,
      ``dropped``), as on the plaintext links. One that takes a party's id before the party
      connects (ZeroMQ then refuses the party's own connection) has no key to seal a hello or a
      record with: the set-up fails (``ProtocolError`` or ``PeerTimeout``); after the set-up
      ZeroMQ refuses a second connection under a taken id.

    A shared-memory ring is a 0600 file of the parties' user (:mod:`mpc.net.shm_ring`): another
    user cannot open it. A process of the same user can: in a sealed ring, a record it alters
    does not open either; an unsealed ring is used only where that process could read and
    write the parties' memory anyway (or where the user asked for it, ``--shm on``). A malicious *party* can seal anything into its own direction, as it
    can send any payload; the receiver opens each record once into its own array.

Cost
    Per record: one AES-GCM pass at each end (about 0.1 ns a byte here), 24 bytes (counter and
    tag), one ZeroMQ frame on the bulk link; the header goes on the CURVE link as before (a
    single frame with an empty body). Rounds: none. Memory: a sealed record is a fresh buffer
    the size of the payload, freed once ZeroMQ has sent it.
"""

from __future__ import annotations

import struct
import time
from collections import deque

import numpy as np
import zmq

from mpc.crypto.aead import (
    COUNTER_BYTES,
    IN_PLACE,
    KeyExchange,
    RecordOpener,
    RecordSealer,
    payload_size,
    record_size,
)
from mpc.errors import PeerTimeout, ProtocolError
from mpc.net.channel import Channel, deadline_left
from mpc.net.zmq_frames import ZERO_COPY_MIN, identity, read
from mpc.net.zmq_handshake import plural
from mpc.net.zmq_links import Links

__all__ = ["AEAD_MIN_BYTES", "CHUNK_BYTES", "HELLO", "Records", "setup"]

AEAD_MIN_BYTES = 1 << 17
"""Payloads of at least this many bytes go as AES-GCM records on an encrypted link; smaller ones
stay on CURVE, where one message costs less than a header plus a record on two sockets.
Measured on 2 cores over loopback TCP (two processes exchanging one payload each way, median of
5 interleaved runs, load 5-6): CURVE/records 0.75-0.98 at 64 KiB, 0.87-1.19 at 96 KiB,
1.14-1.52 at 128 KiB, 1.8-2.3 at 256 KiB, 2.3-2.8 at 1 MiB."""
CHUNK_BYTES = 1 << 30
"""Payload bytes per record on the bulk link (a record carries at most about 2 GiB)."""
HELLO = b"tessera bulk hello"  # the associated data of the hello record (set-up step 4)
OFFER = struct.Struct(">32sH")  # set-up step 2: X25519 public key, bulk port
WAIT_SLICE = 0.25  # seconds a wait for a record blocks before it checks whether the peer left
SPARE_BUFFERS = 2  # record buffers kept per peer for reuse (one in flight, one free, usually)
_SNDMORE = zmq.SNDMORE


class _Done:
    """The tracker of a record ZeroMQ copied: its buffer is free at once."""

    done = True


_DONE = _Done()


def bulk_bind_address(endpoint: str | None, port: int | None = None) -> str | None:
    """Where the bulk ROUTER binds: the host of the party's own TCP endpoint, on ``port`` (None:
    any free port)."""
    if not endpoint or not endpoint.startswith("tcp://"):
        return None
    return endpoint.rsplit(":", 1)[0] + (":*" if port is None else f":{port}")


def chunks(nbytes: int) -> int:
    """How many records carry a payload of ``nbytes`` bytes on the bulk link."""
    return max(1, -(-nbytes // CHUNK_BYTES))


class Records:
    """One party's record keys with each peer and its bulk links (module docstring)."""

    def __init__(
        self, pid: int, n: int, endpoints: list[str | None], names: tuple[str, ...], port: int | None = None
    ) -> None:
        self.pid, self.n, self.names = pid, n, names
        self.main_endpoints = endpoints
        bind = bulk_bind_address(endpoints[pid], port) if pid < n - 1 else None
        # its own context: no ZAP handler on these plaintext sockets, and an I/O thread of their own
        self.links = Links(pid, n, [bind if i == pid else None for i in range(n)], names, None, None)
        self.sealers: dict[int, RecordSealer] = {}
        self.openers: dict[int, RecordOpener] = {}
        self.linked: set[int] = set()  # peers with a bulk link
        self.broken: set[int] = set()  # peers whose record stream failed: nothing more is accepted
        self.pending: dict[int, deque] = {p: deque() for p in range(n) if p != pid}
        self.port = 0  # this party's bulk port (0: none)
        self.sent = 0  # payloads sent on the bulk links
        self.spare: dict[int, list] = {p: [] for p in range(n) if p != pid}  # [(buffer, tracker)]

    @property
    def me(self) -> str:
        return self.names[self.pid]

    def bind(self) -> None:
        """Set-up step 1."""
        if self.links.endpoints[self.pid] is None:
            return
        self.links.bind()
        bound = self.links.router.last_endpoint.decode()
        self.port = int(bound.rsplit(":", 1)[1])

    def connect(self, ports: dict[int, int]) -> None:
        """Set-up step 4: a DEALER and a hello to every lower peer that offered a bulk port."""
        lower = []
        for k, port in ports.items():
            main = self.main_endpoints[k]
            if k < self.pid and port and main and main.startswith("tcp://"):
                self.links.endpoints[k] = f"{main.rsplit(':', 1)[0]}:{port}"
                lower.append(k)
        self.links.connect(lower)
        for k in lower:
            self.links.joined(k)  # from now on a closed connection means the peer has left
            self.linked.add(k)
            self.links.dealers[k].send(self.sealers[k].seal(HELLO, b""), copy=True)

    def await_hellos(self, deadline: float, connect_timeout: float) -> None:
        """Set-up step 5 (listener side)."""
        missing = list(range(self.pid + 1, self.n)) if self.port else []
        for j in missing:
            try:
                frames = self._next(j, deadline, hello=True)
            except PeerTimeout:
                left = [p for p in missing if p not in self.linked]
                raise PeerTimeout(
                    f"{self.me}: {plural([self.names[p] for p in left])} did not open the encrypted bulk link to "
                    f"port {self.port} within {connect_timeout:g} s (a firewall between the hosts must let "
                    "that port through too)",
                    peer=left[0],
                ) from None
            try:
                got = self.openers[j].open(HELLO, frames[-1].buffer)
            except ProtocolError as e:  # not the party's key: a stranger under its id, or a broken set-up
                raise ProtocolError(f"{self.me}: the bulk hello of {self.names[j]} does not open: {e}") from None
            if got.nbytes:
                raise ProtocolError(f"{self.me}: {self.names[j]}'s bulk hello carries {got.nbytes} bytes")
            self.links.joined(j, frames)
            self.linked.add(j)

    # ------------------------------------------------------------------ records

    def send(self, to: int, header: bytes, payload: np.ndarray) -> None:
        """Seal ``payload`` (C-contiguous) bound to ``header`` and send it on the bulk link."""
        sealer, spare = self.sealers[to], self.spare[to]
        flat = payload.reshape(-1).view(np.uint8)
        for start in range(0, max(flat.size, 1), CHUNK_BYTES):
            part = flat[start : start + CHUNK_BYTES]
            size = record_size(part.size)
            # a buffer ZeroMQ has let go of, when one is large enough: fresh pages cost more than
            # the seal (each is faulted in and zeroed on first write) where the heap hands them
            # back to the kernel, as glibc does for large blocks unless mpcrun tuned it
            free = next((i for i, (buf, tracker) in enumerate(spare) if buf.size >= size and tracker.done), None)
            base = np.empty(size, dtype=np.uint8) if free is None else spare.pop(free)[0]
            record = base[:size]
            sealer.seal(header, part, out=record)
            tracker = self.put(to, record)
            if tracker is not None:
                spare.append((base, tracker))
                del spare[:-SPARE_BUFFERS]
        self.sent += 1

    def put(self, to: int, record: np.ndarray) -> zmq.MessageTracker | None:
        """Send one record to ``to`` on its bulk link; a tracker that says when ZeroMQ is done
        with the buffer (zero-copy from 64 KiB: ZeroMQ reads the buffer itself, which nobody
        writes to until then)."""
        links = self.links
        copy = record.nbytes < ZERO_COPY_MIN
        try:
            if to < self.pid:
                sock = links.dealers[to]
            else:
                sock = links.router
                sock.send(identity(to), _SNDMORE)
            if copy:
                sock.send(record)
                return _DONE
            return sock.send(record, copy=False, track=True)
        except zmq.ZMQError as e:
            if e.errno == zmq.EHOSTUNREACH:
                raise PeerTimeout(f"{self.me}: {self.names[to]} has disconnected", peer=to) from None
            raise ProtocolError(f"{self.me}: cannot send to {self.names[to]}: {e.strerror}") from None

    def receive(self, frm: int, header: bytes, declared: int, deadline: float) -> memoryview:
        """The payload of the record(s) that ``header`` (received on the CURVE link, declaring
        ``declared`` payload bytes) points at, opened (a payload in one record: in place)."""
        if frm not in self.linked:
            raise ProtocolError(f"{self.me}: {self.names[frm]} points at its bulk link, but it has none")
        if frm in self.broken:
            raise ProtocolError(f"{self.me}: the records from {self.names[frm]} failed before; no later one "
                                "is accepted")
        count = chunks(declared)
        records = [self._next(frm, deadline)[-1] for _ in range(count)]
        sizes = [payload_size(len(r)) for r in records]
        expected = [min(CHUNK_BYTES, declared - i * CHUNK_BYTES) for i in range(count)]
        if sizes != expected:  # checked before allocating what the header claims
            self.broken.add(frm)
            raise ProtocolError(
                f"{self.me}: a record from {self.names[frm]} carries {sum(sizes)} bytes, its header "
                f"declares {declared} (truncated, extended or out of step)"
            )
        opener = self.openers[frm]
        try:
            frame = records[0].buffer
            if count == 1 and not frame.readonly and IN_PLACE:
                # opened in place, into the frame ZeroMQ received it in (private to this process:
                # the bulk links are TCP): no buffer to allocate and fault in, and the payload is a
                # view of its frame, as on a plaintext link
                return opener.open(header, frame, out=frame[COUNTER_BYTES : COUNTER_BYTES + declared])
            out, at = np.empty(declared, dtype=np.uint8), 0
            for record, size in zip(records, sizes, strict=True):
                opener.open(header, record.buffer, out=out[at : at + size])
                at += size
            return out.data
        except ProtocolError as e:  # named as the channel names the two ends (e.g. the dealer)
            raise ProtocolError(f"{self.me} receiving from {self.names[frm]}: {e}") from None

    def _next(self, frm: int, deadline: float, hello: bool = False) -> list[zmq.Frame]:
        """The frames of the next bulk message from ``frm`` (others are kept for later)."""
        pending = self.pending[frm]
        if pending:
            return pending.popleft()
        links = self.links
        via_router = frm > self.pid
        sock = links.router if via_router else links.dealers[frm]
        gone = False
        while True:
            try:
                frames = read(sock, zmq.NOBLOCK)
            except zmq.Again:
                if gone:  # what it sent before leaving is queued before its departure is reported
                    raise PeerTimeout(f"{self.me}: {self.names[frm]} has disconnected", peer=frm) from None
                gone = not hello and frm in links.update_gone()
                left = deadline_left(deadline)
                if left == 0:
                    raise PeerTimeout(
                        f"{self.me}: no message from {self.names[frm]} within the deadline (its record on the "
                        "bulk link did not arrive)",
                        peer=frm,
                    ) from None
                if not gone:
                    sock.poll(max(1, int(1000 * min(left, WAIT_SLICE))))
                continue
            except zmq.ZMQError as e:
                raise ProtocolError(f"{self.me}: cannot receive from {self.names[frm]}: {e.strerror}") from None
            if via_router:
                j = links.sender(frames)
                if j is None:
                    continue  # not a party of this session: dropped and counted
                if len(frames) != 2:
                    raise ProtocolError(f"{self.me}: malformed bulk message from {self.names[j]} "
                                        f"({len(frames) - 1} frames, expected one record)")
                if j != frm:
                    self.pending[j].append(frames)
                    continue
            elif len(frames) != 1:
                raise ProtocolError(f"{self.me}: malformed bulk message from {self.names[frm]} "
                                    f"({len(frames)} frames, expected one record)")
            return frames

    def close(self) -> None:
        self.links.close()


def setup(
    channel: Channel, endpoints: list[str | None], connect_timeout: float, port: int | None = None
) -> Records:
    """Set-up steps 1-5 of the module docstring over ``channel`` (tag 0); every party of an
    encrypted session calls it. The bulk ROUTER binds ``port`` (None: one the OS picks). The
    offers are received with the channel's deadline (the peers are connected already), the hellos
    within ``connect_timeout`` (a new connection each)."""
    records = Records(channel.pid, channel.n, endpoints, channel.names, port)
    try:
        records.bind()
        exchanges = {p: KeyExchange() for p in channel.peers}
        for p in channel.peers:
            offer = OFFER.pack(exchanges[p].public, records.port if p > channel.pid else 0)
            channel.send(p, np.frombuffer(offer, dtype=np.uint8), tag=0)
        ports = {}
        for p in channel.peers:
            got = channel.recv(p, 0, dtype=np.uint8)
            if got.nbytes != OFFER.size:
                raise ProtocolError(f"{records.me}: {channel.names[p]} sent a malformed record key offer "
                                    f"({got.nbytes} bytes, expected {OFFER.size})")
            public, ports[p] = OFFER.unpack(got.tobytes())
            sealer, opener = exchanges[p].records(public, session=channel.session, me=channel.pid, peer=p)
            records.sealers[p], records.openers[p] = sealer, opener
        records.connect(ports)
        records.await_hellos(time.monotonic() + connect_timeout, connect_timeout)
    except BaseException:
        records.close()
        raise
    return records

