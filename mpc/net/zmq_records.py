"""The bulk links of a CURVE channel: after the set-up, every message as AES-256-GCM records.

Why
    CurveZMQ encrypts every frame with XSalsa20-Poly1305 inside ZeroMQ's I/O thread: about
    200 MB/s on the project's 2-core runner (a 16 MiB message 68-86 ms one way), while
    AES-256-GCM from ``cryptography`` (AES-NI, carry-less multiply) seals and opens 16 MiB in
    a few milliseconds (issue 18). Sending only large payloads as records, with their headers on
    CURVE, left the messages between a few KiB and the threshold on CURVE, where a training loop
    sends most of its bytes (W6: 8-64 KiB): the encrypted default cost W5 and W6 1.15-1.43x at
    ff67147. So once the set-up is done, an encrypted channel sends *every* message to a peer
    as records on a link without CURVE, the peer's *bulk link*; the CURVE link carries the
    set-up.

Messages on a bulk link (a ROUTER prepends the routing id, as on every link)
    - payload under :data:`~mpc.net.zmq_frames.ZERO_COPY_MIN` (64 KiB): one ZeroMQ message, the
      record of ``header || payload`` (associated data :data:`HEAD`);
    - larger: the payload's records, about :data:`PIECES` of them (:func:`chunk_size`), bound
      to the header (associated data: the header): the first in a ZeroMQ message with the
      record of ``header`` (associated data :data:`HEAD`), the others a ZeroMQ message each.
      So the sender seals a record while ZeroMQ's I/O thread sends the one before, and the
      receiver opens a record while the next is arriving: the AES passes overlap the transfer,
      as CURVE's encryption in the I/O thread did, instead of adding to it (one multipart
      message would reach the receiver only whole). On a ROUTER another peer's messages may
      come between them;
    - a payload of at least ``shm_ring.MIN_BYTES`` to a same-host peer with a shared-memory ring
      (:mod:`mpc.net.shm_ring`) that has room: one ZeroMQ message, the header's record and the
      16-byte ring reference as it is. A *sealed* ring gets the payload's record, bound to the
      header, sealed straight into it after the header's record; an unsealed one the payload
      itself, on hosts where sealing would protect nothing (no ptrace restriction: every process
      of the user can read the parties' memory; see shm_ring's security model). The reference
      is not sealed: it only says where to look, and :meth:`~mpc.net.shm_ring.Incoming.take`
      checks it against the stream position and the declared size (a sealed ring's record also
      against its counter).
    Every record is opened as soon as its ZeroMQ message is read (a ring's payload with its
    header's), into the payload's buffer, so the records of a direction are opened in the order
    they were sealed even when messages from several peers interleave; the message is handed
    on once its last record has opened. A peer without a bulk link (its channel
    listens on a non-TCP endpoint) gets every message on CURVE, as a plaintext channel sends
    them. The byte counters count the header and payload, whichever way they went.

Set-up (:func:`setup`, on every encrypted channel right after its handshake, before the
shared-memory offers; tag 0 on the CURVE link, excluded from the counters)
    1. A party with higher peers binds a plaintext ROUTER on the host of its own listening
       address, on a port the operating system picks (``tcp://host:*``), or on the hosts file's
       ``bulk_port`` for that party (for firewalls that open given ports only).
    2. Each party sends every peer, over the CURVE link (authenticated by the hosts file's keys),
       ``X25519 public key (32 bytes) || bulk port (u16, big-endian)``, the port 0 to higher
       peers (they do not connect to it) and from a party without a record listener.
    3. Each derives its per-direction keys with each peer
       (:meth:`mpc.crypto.aead.KeyExchange.records`: HKDF-SHA256 over the X25519 secret, the
       session id, both ids and both public keys).
    4. Each connects a DEALER to every lower peer's bulk port, at the host it reaches that
       peer's CURVE link on, and sends a *hello*: the first record of its direction, an empty
       payload bound to the associated data :data:`HELLO`.
    5. Each listener waits for every higher peer's hello (at most ``connect_timeout``) and opens
       it: the peer holds the key of its direction (key confirmation), and from then on messages
       to that peer leave by the connection the hello came on. A hello that does not open raises
       ``ProtocolError``; one that does not come, ``PeerTimeout`` naming the port (a firewall
       between the hosts must let it through, as it does the party's own port). Messages a
       faster peer sent on its bulk link meanwhile are handed to the channel
       (:meth:`Records.early`).
    Cost: one all-to-all round on the CURVE link, one TCP connection and one hello per pair.

Security: what an attacker sees and can do
    The keys come from an X25519 exchange whose public values travel over the CURVE link, which
    authenticates both ends by their hosts-file keys: no one else can substitute a public key,
    so only the two parties hold the keys of their pair's two directions. The X25519 secrets are
    ephemeral (made from :func:`os.urandom` at set-up, dropped after the derivation), so records
    stay private even if a CURVE key leaks later. Someone on the network, or another user of the
    host (the bulk port accepts plain TCP connections from anyone who can reach it), sees frame
    lengths, timing, the 8-byte counters and ciphertext (and a ring reference: a stream position
    and a size): what CURVE also shows (sizes and timing) plus the counters. Headers (tags,
    shapes, dtypes) are inside the records. What they can do is drop or delay:

    - a modified, truncated, extended, replayed, reordered or injected record, one sealed with
      another key or moved to another message (a payload's record is bound to its header) does
      not open: ``ProtocolError``, and the session aborts (as it would on a broken connection);
      nothing unauthenticated is ever handed to the caller;
    - a dropped or delayed message is a ``PeerTimeout`` at the receive's deadline, or at once
      when the peer's connection closes;
    - a connection to the bulk port under an id that is not a party's is dropped (and counted,
      ``dropped``), as on the plaintext links. One that takes a party's id before the party
      connects (ZeroMQ then refuses the party's own connection) has no key to seal a hello or a
      record with: the set-up fails (``ProtocolError`` or ``PeerTimeout``); after the set-up
      ZeroMQ refuses a second connection under a taken id.

    A shared-memory ring is a 0600 file of the parties' user (:mod:`mpc.net.shm_ring`): another
    user cannot open it. A process of the same user can: in a sealed ring, a record it alters
    does not open either; an unsealed ring is used only where that process could read and
    write the parties' memory anyway (or where the user asked for it, ``--shm on``). A malicious
    *party* can seal anything into its own direction, as it can send any payload; the receiver
    opens each record once into its own buffer, and the channel's wire checks come after.

Cost
    Per message: one record under 64 KiB, from there 1 + :func:`chunks` (about 9); each an
    AES-GCM pass at each end (about 0.4 ns a byte here, overlapping the transfer but for the
    first and the last record), 2-5 us of Python at each end and 24 bytes (counter and tag).
    Rounds: none. Memory: a large payload's records are sealed into one buffer the size of the
    payload (reused once ZeroMQ has sent them); the receiver opens a payload of one record in
    place, in its frame, and one of several into a fresh buffer (from the heap that mpcrun keeps,
    :mod:`mpc.launch.allocator`).
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
    OVERHEAD,
    KeyExchange,
    RecordOpener,
    RecordSealer,
    payload_size,
    record_size,
)
from mpc.errors import PeerTimeout, ProtocolError
from mpc.net import shm_ring, wire
from mpc.net.channel import Channel, deadline_left
from mpc.net.zmq_frames import ZERO_COPY_MIN, cut_header, identity, read
from mpc.net.zmq_handshake import plural
from mpc.net.zmq_links import Links

__all__ = ["CHUNK_BYTES", "HEAD", "HELLO", "Records", "setup"]

CHUNK_BYTES = 1 << 20
"""The most payload bytes in one record of a large payload."""
CHUNK_MIN = 1 << 16
"""The fewest payload bytes in one record of a large payload (but the last)."""
PIECES = 8
"""A large payload is cut into about this many records, each its own ZeroMQ message (but the
first, which travels with the header's record), within CHUNK_MIN and CHUNK_BYTES: so sealing
and opening overlap the transfer but for about one eighth of the payload at each end (an AES
pass takes about 0.4 ns a byte here, the transfer 0.6 ns over loopback TCP and 8 ns at
1 Gbit/s), and the Python per record (about 10 us at both ends) stays a few percent of it."""
HELLO = b"tessera bulk hello"  # the associated data of the hello record (set-up step 4)
HEAD = b"tessera record header"  # the associated data of a message's first record (its header)
OFFER = struct.Struct(">32sH?")  # set-up step 2: X25519 public key, bulk port, records wanted
WAIT_SLICE = 0.25  # seconds a wait for a record blocks before it checks whether the peer left
SPARE_BUFFERS = 2  # record buffers kept per peer for reuse (one in flight, one free, usually)
_SNDMORE = zmq.SNDMORE


class _Done:
    """The tracker of a frame ZeroMQ copied: its buffer is free at once."""

    done = True


_DONE = _Done()


def bulk_bind_address(endpoint: str | None, port: int | None = None) -> str | None:
    """Where the bulk ROUTER binds: the host of the party's own TCP endpoint, on ``port`` (None:
    any free port)."""
    if not endpoint or not endpoint.startswith("tcp://"):
        return None
    return endpoint.rsplit(":", 1)[0] + (":*" if port is None else f":{port}")


def chunk_size(nbytes: int) -> int:
    """Payload bytes per record of a large payload of ``nbytes`` bytes (the last one: the rest)."""
    return min(CHUNK_BYTES, max(CHUNK_MIN, -(-nbytes // PIECES)))


def chunks(nbytes: int) -> int:
    """How many records carry a large payload of ``nbytes`` bytes on the bulk link."""
    return max(1, -(-nbytes // chunk_size(nbytes)))


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
        self.sent = 0  # messages sent on the bulk links
        self.spare: dict[int, list] = {p: [] for p in range(n) if p != pid}  # [(buffer, [trackers])]
        # peer -> (header, declared bytes, payload buffer or None, bytes opened so far)
        self.partial: dict[int, tuple] = {}

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

    def await_hellos(self, deadline: float, connect_timeout: float, wanted: set[int]) -> None:
        """Set-up step 5 (listener side), for the higher peers in ``wanted``."""
        missing = [j for j in range(self.pid + 1, self.n) if j in wanted] if self.port else []
        for j in missing:
            try:
                frames = self._hello(j, deadline)
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

    # ------------------------------------------------------------------ messages

    def transmit(self, to: int, header: bytes, payload: np.ndarray, ring: shm_ring.Outgoing | None) -> None:
        """Send one message to ``to`` as records (module docstring); ``ring``: the peer's
        shared-memory ring when the payload is large enough for it."""
        sealer = self.sealers[to]
        if payload.nbytes < ZERO_COPY_MIN:
            self._send(to, sealer.seal_bytes(HEAD, header + payload.tobytes()))
        else:
            head = sealer.seal_bytes(HEAD, header)  # before the ring's record: the receiver opens it first
            ref = None if ring is None else ring.put(payload, sealer if ring.sealed else None, header)
            if ref is not None:
                self._send(to, head, ref)
            else:
                self._send_payload(to, head, header, payload)
        self.sent += 1

    def _send_payload(self, to: int, head: bytes, header: bytes, payload: np.ndarray) -> None:
        """A large payload's records, bound to its header: the first with the header's record,
        then one ZeroMQ message each. ZeroMQ's I/O thread sends each while the next is sealed,
        and the receiver opens each while the next arrives, so the AES passes overlap the
        transfer instead of adding to it (module docstring)."""
        sealer, spare = self.sealers[to], self.spare[to]
        flat = payload.reshape(-1).view(np.uint8)
        step = chunk_size(flat.size)
        total = flat.size + chunks(flat.size) * OVERHEAD
        # a buffer ZeroMQ has let go of, when one is large enough: fresh pages cost more than the
        # seal (each is faulted in and zeroed on first write) where the heap hands them back to
        # the kernel, as glibc does for large blocks unless mpcrun tuned it
        free = next((i for i, (buf, sent) in enumerate(spare)
                     if buf.size >= total and all(t.done for t in sent)), None)
        base = np.empty(total, dtype=np.uint8) if free is None else spare.pop(free)[0]
        trackers, at = [], 0
        for start in range(0, flat.size, step):
            part = flat[start : start + step]
            record = sealer.seal(header, part, out=base[at : at + record_size(part.size)])
            at += len(record)
            trackers.append(self._send(to, head, record) if start == 0 else self._send(to, record))
        spare.append((base, trackers))
        del spare[:-SPARE_BUFFERS]

    def _send(self, to: int, *frames):
        """Send one message of ``frames`` to ``to`` on its bulk link: records (the last may be a
        ring reference); a tracker that says when ZeroMQ is done with the last frame's buffer
        (zero-copy from 64 KiB: ZeroMQ reads the buffer itself, which nobody writes to until
        then)."""
        links = self.links
        try:
            if to < self.pid:
                sock = links.dealers[to]
            else:
                sock = links.router
                sock.send(identity(to), _SNDMORE)
            for frame in frames[:-1]:
                sock.send(frame, _SNDMORE)
            last = frames[-1]
            if len(last) < ZERO_COPY_MIN:
                sock.send(last)
                return _DONE
            return sock.send(last, copy=False, track=True)
        except zmq.ZMQError as e:
            if e.errno == zmq.EHOSTUNREACH:
                raise PeerTimeout(f"{self.me}: {self.names[to]} has disconnected", peer=to) from None
            raise ProtocolError(f"{self.me}: cannot send to {self.names[to]}: {e.strerror}") from None

    def decode(self, frm: int, frames: list[zmq.Frame], ring: shm_ring.Incoming | None) -> tuple[bytes, object] | None:
        """(header, payload) of the message that a message read from ``frm``'s bulk link
        (routing id removed) completes, its records opened and its ring payload taken (module
        docstring); None while a large payload's records are still to come. ``ring``: the
        peer's shared-memory ring, if any."""
        if frm in self.broken:
            raise ProtocolError(f"{self.me}: the records from {self.names[frm]} failed before; no later one "
                                "is accepted")
        try:
            return self._decode(frm, frames, ring)
        except ProtocolError as e:  # named as the channel names the two ends (e.g. the dealer)
            self.broken.add(frm)
            raise ProtocolError(f"{self.me} receiving from {self.names[frm]}: {e}") from None

    def _decode(self, frm: int, frames: list[zmq.Frame], ring: shm_ring.Incoming | None) -> tuple[bytes, object] | None:
        opener = self.openers[frm]
        partial = self.partial.pop(frm, None)
        if partial is None:  # a new message: its header's record first
            header, rest = cut_header(opener.open_bytes(HEAD, frames[0].buffer))
            if len(frames) == 1:
                return header, rest  # header || payload in one record
            if len(rest) or len(frames) != 2:
                raise ProtocolError(f"a header record with {len(rest)} bytes after its header in a message of "
                                    f"{len(frames)} frames (expected none, and one more frame)")
            declared = wire.declared_nbytes(header)
            if len(frames[1]) == shm_ring.REF_BYTES and ring is not None:
                # only a sealed ring needs the opener; its record comes right after the header's
                return header, ring.take(frames[1].buffer, declared, opener if ring.sealed else None, header)
            partial, record = (header, declared, None, 0), frames[1]  # the payload's first record
        elif len(frames) != 1:
            raise ProtocolError(f"a message of {len(frames)} frames where a payload's record was due")
        else:
            record = frames[0]
        return self._open_part(frm, partial, record)

    def _open_part(self, frm: int, partial: tuple, record: zmq.Frame) -> tuple[bytes, object] | None:
        """Open the next record of a large payload into it; (header, payload) once it is whole."""
        header, declared, out, at = partial
        want = min(chunk_size(declared), declared - at)
        frame = record.buffer
        if payload_size(len(frame)) != want:
            raise ProtocolError(f"a record of {len(frame)} bytes where the one of payload bytes {at}-{at + want} "
                                f"of {declared} was due (truncated, extended or out of step)")
        opener = self.openers[frm]
        if want == declared and not frame.readonly and IN_PLACE:
            # a payload in one record is opened in place, into the frame ZeroMQ received it in
            # (private to this process: the bulk links are TCP): no buffer to allocate and fault
            # in, and the payload is a view of its frame, as on a plaintext link
            return header, opener.open(header, frame, out=frame[COUNTER_BYTES : COUNTER_BYTES + declared])
        if out is None:
            try:
                out = np.empty(declared, dtype=np.uint8)
            except (MemoryError, ValueError):
                raise ProtocolError(f"a header that declares {declared} bytes, more than this party can hold") from None
        opener.open(header, frame, out=out[at : at + want])
        if at + want < declared:
            self.partial[frm] = (header, declared, out, at + want)
            return None
        return header, out.data

    def early(self) -> dict[int, list[list[zmq.Frame]]]:
        """The messages peers sent on their bulk links while this party still waited for a
        hello (set-up step 5), with their routing ids, oldest first; handed over once."""
        out = {p: list(q) for p, q in self.pending.items() if q}
        for q in self.pending.values():
            q.clear()
        return out

    def _hello(self, frm: int, deadline: float) -> list[zmq.Frame]:
        """The frames of ``frm``'s hello, the first message on its connection to this party's
        ROUTER; other peers' messages read meanwhile are kept, each peer's in order."""
        pending, links = self.pending[frm], self.links
        while not pending:
            try:
                frames = read(links.router, zmq.NOBLOCK)
            except zmq.Again:
                left = deadline_left(deadline)
                if left == 0:
                    raise PeerTimeout(f"{self.me}: no hello from {self.names[frm]} within the deadline",
                                      peer=frm) from None
                links.router.poll(max(1, int(1000 * min(left, WAIT_SLICE))))
                continue
            except zmq.ZMQError as e:
                raise ProtocolError(f"{self.me}: cannot receive from {self.names[frm]}: {e.strerror}") from None
            j = links.sender(frames)
            if j is not None:  # else not a party of this session: dropped and counted
                self.pending[j].append(frames)
        frames = pending.popleft()
        if len(frames) != 2:
            raise ProtocolError(f"{self.me}: malformed bulk hello from {self.names[frm]} "
                                f"({len(frames) - 1} frames, expected one record)")
        return frames

    def close(self) -> None:
        self.links.close()


def setup(
    channel: Channel, endpoints: list[str | None], connect_timeout: float, port: int | None = None, want: bool = True
) -> Records:
    """Set-up steps 1-5 of the module docstring over ``channel`` (tag 0); every party of an
    encrypted session calls it. The bulk ROUTER binds ``port`` (None: one the OS picks). The
    offers are received with the channel's deadline (the peers are connected already), the hellos
    within ``connect_timeout`` (a new connection each). A pair of parties uses a bulk link only
    when both ``want`` it (each says so in its offer); otherwise its messages stay on CURVE."""
    records = Records(channel.pid, channel.n, endpoints, channel.names, port)
    try:
        if want:
            records.bind()
        exchanges = {p: KeyExchange() for p in channel.peers}
        for p in channel.peers:
            offer = OFFER.pack(exchanges[p].public, records.port if p > channel.pid else 0, want)
            channel.send(p, np.frombuffer(offer, dtype=np.uint8), tag=0)
        ports, wanted = {}, set()
        for p in channel.peers:
            got = channel.recv(p, 0, dtype=np.uint8)
            if got.nbytes != OFFER.size:
                raise ProtocolError(f"{records.me}: {channel.names[p]} sent a malformed record key offer "
                                    f"({got.nbytes} bytes, expected {OFFER.size})")
            public, ports[p], wants = OFFER.unpack(got.tobytes())
            if want and wants:
                wanted.add(p)
            sealer, opener = exchanges[p].records(public, session=channel.session, me=channel.pid, peer=p)
            records.sealers[p], records.openers[p] = sealer, opener
        records.connect({p: port for p, port in ports.items() if p in wanted})
        records.await_hellos(time.monotonic() + connect_timeout, connect_timeout, wanted)
    except BaseException:
        records.close()
        raise
    return records
