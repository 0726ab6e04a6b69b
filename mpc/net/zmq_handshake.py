"""The handshake of a ZeroMQ channel: who is at the other end of each link, before any data.

Steps (bounded by ``connect_timeout``)
    1. Every party binds its ROUTER (when it has higher peers) and connects a DEALER to each
       lower peer (:class:`~mpc.net.zmq_links.Links`). ZeroMQ retries refused connections
       every 100 ms, so a peer that starts minutes later is still reached.
    2. Party ``j`` sends ``HELLO(version, session, j, n)`` on each DEALER; it is queued until
       the TCP (and CURVE) handshake with the listener completes, and sent again if the
       connection is re-established before an answer arrives.
    3. The listener checks the routing id, the claimed party id, ``n`` and the session id, and
       answers ``WELCOME(version, session, i, n)``; the connecting side checks the same fields.
       A different session id or party count raises ``ProtocolError`` on both sides.
    4. :func:`handshake` returns when every lower peer has welcomed this party and every higher
       peer has said hello; otherwise ``PeerTimeout`` names the missing parties.

    Control messages are ``[b"TSC" | version | kind | session u64 | pid u16 | n u16, b""]``
    (17 + 0 bytes), distinct from data headers (``b"TSR"``, see :mod:`mpc.net.wire`). A
    duplicate hello or welcome arriving later is answered or dropped.

Failures
    A refused CURVE key, or CURVE on one side only, gives ``ConfigError`` on the connecting
    side at once; a wrong server key gives ``ConfigError`` after three failed handshakes; the
    listener keeps waiting for the right party and reports the refused attempts in its
    ``PeerTimeout``. Messages from connections that are not parties of the session are dropped
    (:mod:`mpc.net.zmq_links`).

Cost: one hello/welcome round trip per pair after the TCP (and the 4-message CURVE) handshake.
"""

from __future__ import annotations

import struct
from collections import deque
from collections.abc import Sequence

import zmq

from mpc.errors import ConfigError, PeerTimeout, ProtocolError
from mpc.net.channel import deadline_left
from mpc.net.zmq_frames import identity, read, split
from mpc.net.zmq_links import Links

CTRL = struct.Struct("<3sBBQHH")  # magic, version, kind, session, pid, n
CTRL_MAGIC = b"TSC"
CTRL_VERSION = 5  # 2: the shared-memory offers follow the handshake (mpc.net.shm_ring); 3: encrypted
# channels set up their record keys and bulk links first (mpc.net.zmq_records); 4: and then send
# every message as records on the bulk links (the key offers say whether a party wants that);
# 5: a large payload's records each a ZeroMQ message of its own
HELLO, WELCOME = 1, 2
HANDSHAKE_FAILURES = 3  # failed secure handshakes with one listener before giving up
POLL_SLICE = 0.25  # seconds; the handshake loop re-checks its deadline at least this often


def control(kind: int, session: int, pid: int, n: int) -> bytes:
    return CTRL.pack(CTRL_MAGIC, CTRL_VERSION, kind, session, pid, n)


def plural(names: Sequence[str]) -> str:
    """``party 2`` or ``parties 1, 2`` (names as the channel gives them)."""
    if len(names) == 1:
        return names[0]
    if all(name.startswith("party ") for name in names):
        return "parties " + ", ".join(name[len("party ") :] for name in names)
    return ", ".join(names)


def check_control(links: Links, session: int, peer: int, head: bytes, kind: int) -> None:
    """Check a hello or welcome from ``peer`` (module docstring, step 3)."""
    who = f"{links.me}: {links.names[peer]}"
    if len(head) != CTRL.size:
        raise ProtocolError(f"{who} sent a malformed handshake message ({len(head)} bytes)")
    _, version, got_kind, got_session, pid, n = CTRL.unpack(head)
    if version != CTRL_VERSION:
        raise ProtocolError(f"{who} speaks handshake version {version} (this build speaks {CTRL_VERSION})")
    if got_kind != kind:
        raise ProtocolError(f"{who} sent handshake message kind {got_kind}, expected {kind}")
    if got_session != session:
        raise ProtocolError(
            f"{who} belongs to another session (the parties were given different session ids, or a "
            "process of another run is listening at that address)"
        )
    if pid != peer:
        raise ProtocolError(f"{who} announces itself as party {pid}")
    if n != links.n:
        raise ProtocolError(f"{who} was started with n = {n} parties, this party with n = {links.n}")


def answer_hello(links: Links, session: int, j: int, head: bytes) -> None:
    """Answer a hello from ``j`` (even a duplicate: the first answer may have been lost), then check it."""
    if len(head) == CTRL.size and CTRL.unpack(head)[2] == HELLO:
        try:
            links.router.send_multipart([identity(j), control(WELCOME, session, links.pid, links.n), b""])
        except zmq.ZMQError:
            pass  # the peer is gone already; it says hello again when it reconnects
    check_control(links, session, j, head, HELLO)


def handshake(
    links: Links, session: int, pending: dict[int, deque], deadline: float, connect_timeout: float
) -> None:
    """Steps 2-4 of the module docstring. Data a higher peer sends right after its hello is
    kept in ``pending[peer]``; a lower peer's data waits in its DEALER's queue."""
    pid, n = links.pid, links.n
    hello = control(HELLO, session, pid, n)
    need_hello = set(range(pid + 1, n))
    need_welcome = set(range(pid))
    unsent = set(need_welcome)
    succeeded = dict.fromkeys(need_welcome, 0)
    failed = dict.fromkeys(need_welcome, 0)
    dealer_peer = {sock: k for k, sock in links.dealers.items()}
    monitor_of = {mon: sock for sock, mon in links.monitors.items()}
    poller = zmq.Poller()
    for sock in (*links.dealers.values(), *links.monitors.values()):
        poller.register(sock, zmq.POLLIN)
    if links.router is not None:
        poller.register(links.router, zmq.POLLIN)
    while need_hello or need_welcome:
        for k in sorted(unsent):
            try:
                links.dealers[k].send_multipart([hello, b""], flags=zmq.NOBLOCK)
                unsent.discard(k)
            except zmq.Again:
                pass
        left = deadline_left(deadline)
        if left == 0:
            raise _connect_timeout(links, sorted(need_hello | need_welcome), connect_timeout, failed)
        ready = dict(poller.poll(max(1, int(1000 * min(left, POLL_SLICE)))))
        # socket events first: a disconnect reported now happened before any hello that is
        # ready, so it cannot be taken for the connection that hello came on
        for mon in [m for m in ready if m in monitor_of]:
            sock = monitor_of[mon]
            for event in links.events(sock):
                if sock is links.router:
                    _listener_event(links, event)
                else:
                    _connecting_event(links, dealer_peer[sock], event, need_welcome, unsent, succeeded, failed)
        if links.router is not None and links.router in ready:
            _hellos(links, session, need_hello, pending)
        for sock in [s for s in ready if s in dealer_peer]:
            k = dealer_peer[sock]
            frames = read(sock, zmq.NOBLOCK)
            links.check_dealer_frames(k, frames)
            if frames[0].bytes[:3] != CTRL_MAGIC:
                raise ProtocolError(f"{links.me}: {links.names[k]} sent data before its handshake answer")
            check_control(links, session, k, frames[0].bytes, WELCOME)
            links.joined(k)
            need_welcome.discard(k)
            poller.unregister(sock)  # later data stays queued in ZeroMQ until received


def _hellos(links: Links, session: int, need_hello: set[int], pending: dict[int, deque]) -> None:
    while True:
        try:
            frames = read(links.router, zmq.NOBLOCK)
        except zmq.Again:
            return
        j = links.sender(frames)
        if j is None:
            continue  # not a party of this session: dropped
        head, body = split(frames[1:])
        if head[:3] == CTRL_MAGIC:
            answer_hello(links, session, j, head)
            links.joined(j, frames)
            need_hello.discard(j)
        elif j in need_hello:
            raise ProtocolError(f"{links.me}: {links.names[j]} sent data before its hello")
        else:
            pending[j].append((head, body))


def _listener_event(links: Links, event: int) -> None:
    if event == zmq.EVENT_HANDSHAKE_FAILED_AUTH:
        links.refused += 1
    elif event != zmq.EVENT_HANDSHAKE_SUCCEEDED:
        links.failed_in += 1


def _connecting_event(links, k, event, need_welcome, unsent, succeeded, failed) -> None:
    where = f"{links.names[k]} at {links.endpoints[k]}"
    if event == zmq.EVENT_HANDSHAKE_SUCCEEDED:
        succeeded[k] += 1
        if succeeded[k] > 1 and k in need_welcome:
            unsent.add(k)  # reconnected before the answer came: the hello may be lost
    elif event == zmq.EVENT_HANDSHAKE_FAILED_AUTH:
        raise ConfigError(
            f"{links.me}: {where} refused this party's CURVE key (authentication failed); "
            f"the public key it has for {links.me} does not match this party's key"
        )
    else:
        # A protocol failure (e.g. CURVE on one side only) is final: libzmq does not retry it.
        # A failure without detail (e.g. a wrong server key) is retried; give up after a few,
        # since a listener with the wrong key stays wrong.
        failed[k] += 1
        if event == zmq.EVENT_HANDSHAKE_FAILED_PROTOCOL or failed[k] >= HANDSHAKE_FAILURES:
            raise ConfigError(f"{links.me}: {_failure(links, k)}")


def _failure(links: Links, k: int) -> str:
    them = links.names[k]
    if links.curve is not None:
        why = (
            f"the CURVE server key configured for {them} is wrong, {them} runs without CURVE, "
            "or the listener is not a Tessera party"
        )
    else:
        why = f"{them} requires CURVE encryption, or the listener is not a Tessera party"
    return f"the secure handshake with {them} at {links.endpoints[k]} failed: {why}"


def _connect_timeout(links: Links, missing: list[int], seconds: float, failed: dict[int, int]) -> PeerTimeout:
    msg = f"{links.me}: {plural([links.names[p] for p in missing])} did not connect within {seconds:g} s"
    notes = []
    if links.refused:
        notes.append(
            f"{links.refused} connection(s) to {links.endpoints[links.pid]} were refused because their "
            "CURVE key is not a peer's key"
        )
    if links.failed_in:
        notes.append(f"{links.failed_in} incoming connection(s) failed the ZeroMQ handshake")
    if links.dropped:
        notes.append(f"{links.dropped} message(s) from connections that are not parties of this session were dropped")
    notes += [_failure(links, k) for k in missing if failed.get(k)]
    if notes:
        msg += " (" + "; ".join(notes) + ")"
    return PeerTimeout(msg, peer=missing[0])
