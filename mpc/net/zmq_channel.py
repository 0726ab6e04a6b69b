"""The ZeroMQ transport: one TCP connection per pair of parties, optionally CURVE-encrypted.

Topology
    ``endpoints[i]`` is where party ``i`` listens. For each pair ``i < j`` there is exactly one
    connection: party ``i`` listens and party ``j`` connects. Party ``i`` therefore owns

    - one ROUTER socket bound to ``endpoints[i]``, shared by all higher parties ``j > i``; each
      of them connects with the routing id ``b"P" + j`` (2 bytes, big-endian), so the ROUTER
      knows the sender of every message and addresses replies to one peer;
    - one DEALER socket per lower party ``k < i``, connected to ``endpoints[k]``.

    Party ``n - 1`` binds nothing and its endpoint may be ``None`` (a dealer link "dealer = 0,
    party = 1" works without the party listening). Each connection is one TCP stream, so
    messages between two parties arrive in the order they were sent. Messages from other peers
    that arrive while waiting for one peer are buffered per peer; those on a peer's own DEALER
    simply stay in ZeroMQ's queue. Queues are unbounded (HWM 0): a send never blocks on the
    receiver, and a receive never waits longer than its deadline.

Handshake (in the constructor, bounded by ``connect_timeout``)
    1. Every party binds its ROUTER (when it has higher peers) and connects a DEALER to each
       lower peer. ZeroMQ retries refused connections every 100 ms, so a peer that starts
       minutes later is still reached.
    2. Party ``j`` sends ``HELLO(version, session, j, n)`` on each DEALER; it is queued until
       the TCP (and CURVE) handshake with the listener completes, and sent again if the
       connection is re-established before an answer arrives.
    3. The listener checks the routing id, the claimed party id, ``n`` and the session id, and
       answers ``WELCOME(version, session, i, n)``; the connecting side checks the same fields.
       A different session id or party count raises ``ProtocolError`` on both sides.
    4. The constructor returns when every lower peer has welcomed this party and every higher
       peer has said hello; otherwise ``PeerTimeout`` names the missing parties.

    Control messages are ``[b"TSC" | version | kind | session u64 | pid u16 | n u16, b""]``
    (17 + 0 bytes), distinct from data headers (``b"TSR"``, see :mod:`mpc.net.wire`). A
    duplicate hello or welcome arriving later is answered or dropped.

Frames
    A data message is one ZeroMQ frame ``header || payload`` when the payload is under 64 KiB,
    else two frames ``[header, payload]`` with the payload sent zero-copy (ZeroMQ reads the
    array itself). The ROUTER side prepends the routing id. One frame for small messages
    matters: each ``send`` call costs microseconds, and latency-bound protocols send many small
    messages. The receiver splits a single frame at ``32 + 8 * ndim`` (byte 15 of the header).
    Any other frame count, or a message from an unknown routing id, raises ``ProtocolError``.
    Every payload is received zero-copy: the array a receive returns is a read-only view of the
    ZeroMQ frame.

Same-host payloads (``shm=True``, :mod:`mpc.net.shm_ring`)
    Right after the handshake every channel exchanges shared-memory offers with each peer (tag
    0, even with ``shm=False``, so the two settings pair up). To a peer whose link stays on this
    host (a loopback or ipc address, see :func:`same_host`) that accepted the offer, a payload
    of at least 1 MiB is copied into a ring and the second frame is a 16-byte reference instead
    (``[header, ref]``); the receiver copies it out. Headers, order, deadlines and every check
    are the same as inline. A ring without room sends the payload inline: a send never waits.
    The byte counters count the payload either way.

Security
    Without ``curve`` the links are plaintext and unauthenticated: for loopback and benchmarks
    only. With ``curve`` (:class:`CurveKeys`) every link runs CurveZMQ: a Curve25519 key
    exchange with perfect forward secrecy, then XSalsa20-Poly1305 authenticated encryption of
    every frame. The listening side is a CURVE server with its secret key; a ZAP handler
    thread admits only the public keys of the higher parties (``curve.peers``) and tags each
    connection with the party id its key belongs to; every message's authenticated id is
    checked against the routing id it claims, so no party can speak for another. The
    connecting side pins the listener's public key (``curve_serverkey``), so it cannot be
    fooled by an impostor. A refused key, or CURVE on one side only, gives ``ConfigError`` on
    the connecting side at once; a wrong server key gives ``ConfigError`` after three failed
    handshakes; the listener keeps waiting for the right party and reports the refused attempts
    in its ``PeerTimeout``. Secret keys never appear in a message or repr.

Cost
    Per message: one ZeroMQ multipart message, 32 + 8 * ndim header bytes plus ZMTP framing
    (2-9 bytes per frame), and a few microseconds of Python in this module on top of the
    Channel base class. With CURVE, about 33 more bytes per frame and, on each side, one
    encryption or decryption pass plus a copy (libsodium); ``bench/net.py --curve`` measures
    it. Rounds: none beyond the protocol's. Setup: one hello/welcome round trip per pair after
    the TCP (and the 4-message CURVE) handshake. Memory: received messages wait in ZeroMQ's
    queues until read; the queues are unbounded, so a flooding peer can exhaust memory (with
    CURVE, only the session's parties can connect at all).

A channel belongs to the thread that created it (ZeroMQ sockets are not thread-safe).
"""

from __future__ import annotations

import struct
import time
from collections import deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import zmq
from zmq.auth.thread import ThreadAuthenticator
from zmq.utils import z85
from zmq.utils.monitor import parse_monitor_message

from mpc.config.addresses import is_loopback
from mpc.errors import ConfigError, PeerTimeout, ProtocolError
from mpc.net import shm_ring, wire
from mpc.net.channel import SMALL_BYTES, Channel, deadline_left

__all__ = ["CurveKeys", "ZmqChannel"]

_CTRL = struct.Struct("<3sBBQHH")  # magic, version, kind, session, pid, n
_CTRL_MAGIC = b"TSC"
_CTRL_VERSION = 2  # 2: the shared-memory offers follow the handshake (mpc.net.shm_ring)
_HELLO, _WELCOME = 1, 2
_LINGER_MS = 1000
_ZAP_DOMAIN = "tessera"
_HANDSHAKE_FAILURES = 3  # failed secure handshakes with one listener before giving up
_POLL_SLICE = 0.25  # seconds; the handshake loop re-checks its deadline at least this often
_MONITORED = (
    zmq.EVENT_HANDSHAKE_SUCCEEDED
    | zmq.EVENT_HANDSHAKE_FAILED_AUTH
    | zmq.EVENT_HANDSHAKE_FAILED_PROTOCOL
    | zmq.EVENT_HANDSHAKE_FAILED_NO_DETAIL
)


_SNDMORE = zmq.SNDMORE
_RCVTIMEO = zmq.RCVTIMEO
_ZERO_COPY_MIN = SMALL_BYTES  # below it, one frame header || payload (a copy is cheaper)
_MAX_MS = 2**31 - 1  # RCVTIMEO is a C int
_RCVTIMEO_SLACK_MS = 100
# Default wait, in microseconds, a receive of a small message polls before it blocks
# (ZmqChannel(spin_us=...), MPC_SPIN_US), while the previous wait was short. Measured on 2
# cores over loopback: a small message's round trip 0.25 -> 0.20 ms (raw pyzmq 0.18), W6
# (2,500 small rounds) 14% faster, W4 and W5 unchanged; the price is up to this much CPU.
SPIN_US = 100.0
_SPIN_WHEN = 4.0  # poll while the previous wait was at most this many times the polling budget


def _read(sock: zmq.Socket, flags: int = 0, spin: float = 0.0) -> list[zmq.Frame]:
    """All frames of the next message (the first receive waits up to the socket's RCVTIMEO).

    Frames, not bytes: payloads stay in ZeroMQ's buffers (zero-copy), and ``Frame.more`` is
    cheaper than asking the socket for RCVMORE. With ``spin`` > 0 (seconds), poll without
    blocking that long first: an answer that comes back within it is read without the thread
    going to sleep and waking up cold, which is most of a small message's round trip in Python.
    """
    first = None
    if spin > 0.0:
        end = time.perf_counter() + spin
        while time.perf_counter() < end:
            try:
                first = sock.recv(zmq.NOBLOCK, copy=False)
                break
            except zmq.Again:
                pass
    frames = [first if first is not None else sock.recv(flags, copy=False)]
    while frames[-1].more:
        frames.append(sock.recv(copy=False))
    return frames


def _message(frames: list[zmq.Frame]) -> tuple[bytes, memoryview]:
    """(header, payload) of a message's 1 or 2 frames (routing id already removed).

    One frame is ``header || payload``, split at 32 + 8 * ndim (ndim is byte 15 of a header);
    a control message is always two frames, so its short head never reaches the split.
    """
    if len(frames) == 2:
        return frames[0].bytes, frames[1].buffer
    buf = frames[0].buffer
    if len(buf) < wire.HEADER_BYTES:
        raise ProtocolError(f"truncated frame: {len(buf)} bytes, need at least {wire.HEADER_BYTES}")
    cut = wire.HEADER_BYTES + 8 * buf[15]
    return bytes(buf[:cut]), buf[cut:]


def same_host(endpoint: str | None) -> bool:
    """Whether a link to ``endpoint`` stays on this host: a loopback TCP address or ipc/inproc."""
    if not endpoint:
        return False
    scheme, _, rest = endpoint.partition("://")
    if scheme in ("ipc", "inproc"):
        return True
    return scheme == "tcp" and is_loopback(rest.rsplit(":", 1)[0].strip("[]"))


def _identity(pid: int) -> bytes:
    return b"P" + pid.to_bytes(2, "big")


def _control(kind: int, session: int, pid: int, n: int) -> bytes:
    return _CTRL.pack(_CTRL_MAGIC, _CTRL_VERSION, kind, session, pid, n)


def _plural(ids: Sequence[int]) -> str:
    return f"party {ids[0]}" if len(ids) == 1 else "parties " + ", ".join(map(str, ids))


def _check_key(value: object, what: str) -> bytes:
    if isinstance(value, str):
        value = value.encode("ascii", "replace")
    if not isinstance(value, bytes) or len(value) != 40:
        raise ConfigError(f"{what}: expected a 40-character Z85-encoded CURVE key")
    try:
        z85.decode(value)
    except (ValueError, KeyError, TypeError):
        raise ConfigError(f"{what}: not a valid Z85-encoded CURVE key") from None
    return value


@dataclass(frozen=True)
class CurveKeys:
    """This party's CURVE key pair and its peers' public keys (Z85, 40 bytes each).

    ``zmq.curve_keypair()`` makes a pair. ``peers`` maps every other party id to its public key.
    """

    public: bytes
    secret: bytes = field(repr=False)
    peers: Mapping[int, bytes] = field(default_factory=dict)

    def __post_init__(self) -> None:
        public = _check_key(self.public, "curve.public")
        secret = _check_key(self.secret, "curve.secret")
        if zmq.curve_public(secret) != public:
            raise ConfigError("curve: the public key does not belong to the secret key")
        peers = {int(p): _check_key(k, f"curve.peers[{p}]") for p, k in dict(self.peers).items()}
        if len({public, *peers.values()}) != len(peers) + 1:
            raise ConfigError("curve.peers: every party needs a public key of its own (two keys are equal)")
        object.__setattr__(self, "public", public)
        object.__setattr__(self, "secret", secret)
        object.__setattr__(self, "peers", peers)


class _PeerKeyAuthenticator(ThreadAuthenticator):
    """ZAP handler admitting only the listed public keys; a connection's User-Id is its party id."""

    def __init__(self, context: zmq.Context, allowed: Mapping[int, bytes]) -> None:
        super().__init__(context)
        self._party_of = {key: pid for pid, key in allowed.items()}

    def callback(self, domain: str, key: bytes) -> bool:  # credentials provider, runs in the ZAP thread
        return key in self._party_of

    def curve_user_id(self, client_public_key: bytes) -> str:
        return str(self._party_of[z85.encode(client_public_key)])


class ZmqChannel(Channel):
    """A :class:`Channel` over ZeroMQ TCP sockets (see the module docstring for the protocol)."""

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
    ) -> None:
        super().__init__(pid, n, session, timeout)
        if isinstance(spin_us, bool) or not isinstance(spin_us, (int, float)) or not 0 <= spin_us <= 1e6:
            raise ConfigError(f"spin_us: expected microseconds in [0, 1e6], got {spin_us!r}")
        self._spin = float(spin_us) * 1e-6
        self._last_wait = 0.0  # how long the previous receive waited for its message (seconds)
        connect_timeout = self.timeout if connect_timeout is None else float(connect_timeout)
        if not connect_timeout > 0:
            raise ConfigError(
                f"connect_timeout: expected a positive number of seconds, got {connect_timeout!r}"
            )
        self._endpoints = self._check_endpoints(endpoints)
        if curve is not None:
            if not isinstance(curve, CurveKeys):
                raise ConfigError(f"curve: expected CurveKeys, got {type(curve).__name__}")
            missing = [p for p in self.peers if p not in curve.peers]
            if missing:
                raise ConfigError(f"curve.peers: no public key for {_plural(missing)}")
        self._curve = curve
        self._closed = False
        self._own_context = context is None
        self._ctx = zmq.Context() if context is None else context
        self._router: zmq.Socket | None = None
        self._dealers: dict[int, zmq.Socket] = {}
        self._monitors: dict[zmq.Socket, zmq.Socket] = {}  # monitored socket -> its monitor socket
        self._auth: _PeerKeyAuthenticator | None = None
        self._party_of_identity = {_identity(j): j for j in range(pid + 1, n)}
        self._identities = {j: _identity(j) for j in range(pid + 1, n)}
        self._pending: dict[int, deque] = {p: deque() for p in self.peers}
        self._rcvtimeo: dict[zmq.Socket, int] = {}
        self._refused = 0  # listener: handshakes refused (unknown CURVE key)
        self._failed_in = 0  # listener: other failed handshakes
        self._rings_out: dict[int, shm_ring.Outgoing] = {}
        self._rings_in: dict[int, shm_ring.Incoming] = {}
        try:
            self._open_sockets()
            self._handshake(time.monotonic() + connect_timeout, connect_timeout)
            wanted = set()
            if shm and shm_ring.available():
                wanted = {p for p in self.peers if same_host(self._endpoints[min(p, pid)])}
            self._rings_out, self._rings_in = shm_ring.negotiate(self, wanted)
            # the offers are set-up traffic: neither the counters nor the polling heuristic
            # (how long the last receive waited) carry them into the session
            self.reset_stats()
            self._last_wait = 0.0
        except BaseException:
            self.close()
            raise
        self._stop_monitors()

    # ------------------------------------------------------------------ setup

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
                    f"endpoints[{i}]: party {i} {role} at an address like 'tcp://host:port', got {ep!r}"
                )
        return list(endpoints)

    def _socket(self, kind: int) -> zmq.Socket:
        sock = self._ctx.socket(kind)
        sock.linger = _LINGER_MS
        sock.sndhwm = 0
        sock.rcvhwm = 0
        sock.ipv6 = True
        return sock

    def _monitor(self, sock: zmq.Socket) -> None:
        self._monitors[sock] = sock.get_monitor_socket(_MONITORED)

    def _open_sockets(self) -> None:
        curve = self._curve
        if self.pid < self.n - 1:
            endpoint = self._endpoints[self.pid]
            router = self._router = self._socket(zmq.ROUTER)
            router.router_mandatory = True
            if curve is not None:
                self._auth = _PeerKeyAuthenticator(
                    self._ctx, {j: curve.peers[j] for j in range(self.pid + 1, self.n)}
                )
                try:
                    self._auth.start()
                except zmq.ZMQError:
                    self._auth.stop()
                    self._auth = None
                    raise ConfigError(
                        "context: this zmq context already has a ZAP authenticator; with curve, give each "
                        "ZmqChannel its own context (or none)"
                    ) from None
                self._auth.configure_curve_callback(_ZAP_DOMAIN, self._auth)
                router.curve_server = True
                router.curve_secretkey = curve.secret
                router.curve_publickey = curve.public
                router.zap_domain = _ZAP_DOMAIN.encode()
            self._monitor(router)
            try:
                router.bind(endpoint)
            except zmq.ZMQError as e:
                reason = "address already in use" if e.errno == zmq.EADDRINUSE else e.strerror
                raise ConfigError(f"party {self.pid} cannot listen on {endpoint}: {reason}") from None
        for k in range(self.pid):
            dealer = self._dealers[k] = self._socket(zmq.DEALER)
            dealer.routing_id = _identity(self.pid)
            if curve is not None:
                dealer.curve_secretkey = curve.secret
                dealer.curve_publickey = curve.public
                dealer.curve_serverkey = curve.peers[k]
            self._monitor(dealer)
            try:
                dealer.connect(self._endpoints[k])
            except zmq.ZMQError as e:
                raise ConfigError(
                    f"party {self.pid} cannot connect to party {k} at {self._endpoints[k]}: {e.strerror}"
                ) from None

    def _stop_monitors(self) -> None:
        for sock, mon in self._monitors.items():
            try:
                sock.disable_monitor()  # before closing the monitor socket, or libzmq may block
            except zmq.ZMQError:
                pass
            mon.close(linger=0)
        self._monitors = {}

    # ------------------------------------------------------------------ handshake

    def _handshake(self, deadline: float, connect_timeout: float) -> None:
        hello = _control(_HELLO, self.session, self.pid, self.n)
        need_hello = set(range(self.pid + 1, self.n))
        need_welcome = set(range(self.pid))
        unsent = set(need_welcome)
        succeeded = dict.fromkeys(need_welcome, 0)
        failed = dict.fromkeys(need_welcome, 0)
        dealer_peer = {sock: k for k, sock in self._dealers.items()}
        monitor_of = {mon: sock for sock, mon in self._monitors.items()}
        poller = zmq.Poller()
        for sock in (*self._dealers.values(), *self._monitors.values()):
            poller.register(sock, zmq.POLLIN)
        if self._router is not None:
            poller.register(self._router, zmq.POLLIN)
        while need_hello or need_welcome:
            for k in sorted(unsent):
                try:
                    self._dealers[k].send_multipart([hello, b""], flags=zmq.NOBLOCK)
                    unsent.discard(k)
                except zmq.Again:
                    pass
            left = deadline_left(deadline)
            if left == 0:
                raise self._connect_timeout(sorted(need_hello | need_welcome), connect_timeout, failed)
            for sock, _ in poller.poll(max(1, int(1000 * min(left, _POLL_SLICE)))):
                if sock is self._router:
                    self._handshake_router(need_hello)
                elif sock in dealer_peer:
                    k = dealer_peer[sock]
                    frames = _read(sock, zmq.NOBLOCK)
                    self._dealer_frames(k, frames)
                    if frames[0].bytes[:3] != _CTRL_MAGIC:
                        raise ProtocolError(
                            f"party {self.pid}: party {k} sent data before its handshake answer"
                        )
                    self._check_control(k, frames[0].bytes, _WELCOME)
                    need_welcome.discard(k)
                    poller.unregister(sock)  # later data stays queued in ZeroMQ until received
                else:
                    self._handshake_event(
                        monitor_of[sock], dealer_peer, need_welcome, unsent, succeeded, failed
                    )

    def _handshake_router(self, need_hello: set[int]) -> None:
        while True:
            try:
                frames = _read(self._router, zmq.NOBLOCK)
            except zmq.Again:
                return
            j = self._router_sender(frames)
            head, body = _message(frames[1:])
            if head[:3] == _CTRL_MAGIC:
                self._router_control(j, head)
                need_hello.discard(j)
            elif j in need_hello:
                raise ProtocolError(f"party {self.pid}: party {j} sent data before its hello")
            else:
                self._pending[j].append((head, body))

    def _handshake_event(self, sock, dealer_peer, need_welcome, unsent, succeeded, failed) -> None:
        mon = self._monitors[sock]
        while True:
            try:
                event = parse_monitor_message(mon.recv_multipart(flags=zmq.NOBLOCK))["event"]
            except zmq.Again:
                return
            if sock is self._router:
                if event == zmq.EVENT_HANDSHAKE_FAILED_AUTH:
                    self._refused += 1
                elif event != zmq.EVENT_HANDSHAKE_SUCCEEDED:
                    self._failed_in += 1
                continue
            k = dealer_peer[sock]
            where = f"party {k} at {self._endpoints[k]}"
            if event == zmq.EVENT_HANDSHAKE_SUCCEEDED:
                succeeded[k] += 1
                if succeeded[k] > 1 and k in need_welcome:
                    unsent.add(k)  # reconnected before the answer came: the hello may be lost
            elif event == zmq.EVENT_HANDSHAKE_FAILED_AUTH:
                raise ConfigError(
                    f"party {self.pid}: {where} refused this party's CURVE key (authentication failed); "
                    f"the public key it has for party {self.pid} does not match this party's key"
                )
            else:
                # A protocol failure (e.g. CURVE on one side only) is final: libzmq does not retry
                # it. A failure without detail (e.g. a wrong server key) is retried; give up after
                # a few, since a listener with the wrong key stays wrong.
                failed[k] += 1
                if event == zmq.EVENT_HANDSHAKE_FAILED_PROTOCOL or failed[k] >= _HANDSHAKE_FAILURES:
                    raise ConfigError(f"party {self.pid}: {self._handshake_failure(k)}")

    def _handshake_failure(self, k: int) -> str:
        where = f"party {k} at {self._endpoints[k]}"
        if self._curve is not None:
            why = (
                f"the CURVE server key configured for party {k} is wrong, party {k} runs without CURVE, "
                "or the listener is not a Tessera party"
            )
        else:
            why = f"party {k} requires CURVE encryption, or the listener is not a Tessera party"
        return f"the secure handshake with {where} failed: {why}"

    def _connect_timeout(self, missing: list[int], seconds: float, failed: dict[int, int]) -> PeerTimeout:
        msg = f"party {self.pid}: {_plural(missing)} did not connect within {seconds:g} s"
        notes = []
        if self._refused:
            notes.append(
                f"{self._refused} connection(s) to {self._endpoints[self.pid]} were refused because their "
                "CURVE key is not a peer's key"
            )
        if self._failed_in:
            notes.append(f"{self._failed_in} incoming connection(s) failed the ZeroMQ handshake")
        notes += [self._handshake_failure(k) for k in missing if failed.get(k)]
        if notes:
            msg += " (" + "; ".join(notes) + ")"
        return PeerTimeout(msg, peer=missing[0])

    def _router_sender(self, frames: list[zmq.Frame]) -> int:
        if len(frames) not in (2, 3):
            raise ProtocolError(
                f"party {self.pid}: malformed message with {len(frames) - 1} frames "
                "(expected header and payload)"
            )
        j = self._party_of_identity.get(frames[0].bytes)
        if j is None:
            raise ProtocolError(
                f"party {self.pid}: message from an unknown connection (not a party of this session)"
            )
        if self._curve is not None and frames[-1].get("User-Id") != str(j):
            raise ProtocolError(
                f"party {self.pid}: a connection claims to be party {j} but holds another key"
            )
        return j

    def _check_control(self, peer: int, head: bytes, kind: int) -> None:
        who = f"party {self.pid}: party {peer}"
        if len(head) != _CTRL.size:
            raise ProtocolError(f"{who} sent a malformed handshake message ({len(head)} bytes)")
        _, version, got_kind, session, pid, n = _CTRL.unpack(head)
        if version != _CTRL_VERSION:
            raise ProtocolError(
                f"{who} speaks handshake version {version} (this build speaks {_CTRL_VERSION})"
            )
        if got_kind != kind:
            raise ProtocolError(f"{who} sent handshake message kind {got_kind}, expected {kind}")
        if session != self.session:
            raise ProtocolError(
                f"{who} belongs to another session (the parties were given different session ids)"
            )
        if pid != peer:
            raise ProtocolError(f"{who} announces itself as party {pid}")
        if n != self.n:
            raise ProtocolError(f"{who} was started with n = {n} parties, this party with n = {self.n}")

    def _router_control(self, j: int, head: bytes) -> None:
        """Answer a hello (even a duplicate: the first answer may have been lost), then check it."""
        if len(head) == _CTRL.size and _CTRL.unpack(head)[2] == _HELLO:
            try:
                self._router.send_multipart(
                    [_identity(j), _control(_WELCOME, self.session, self.pid, self.n), b""]
                )
            except zmq.ZMQError:
                pass  # the peer is gone already; it says hello again when it reconnects
        self._check_control(j, head, _HELLO)

    # ------------------------------------------------------------------ transport

    @property
    def shm_peers(self) -> list[int]:
        """The peers this party sends large payloads to through a shared-memory ring."""
        return sorted(self._rings_out)

    @property
    def shm_sent(self) -> int:
        """How many payloads went through the shared-memory rings so far."""
        return sum(ring.sent for ring in self._rings_out.values())

    def _transmit(self, to: int, header: bytes, payload: np.ndarray) -> None:
        if self._closed:
            raise ProtocolError(f"party {self.pid}: send to party {to} on a closed channel")
        ring = self._rings_out.get(to) if payload.nbytes >= shm_ring.MIN_BYTES else None
        ref = None if ring is None else ring.put(payload)  # None: no room yet, so inline
        try:
            if to < self.pid:
                sock = self._dealers[to]
            else:
                sock = self._router
                sock.send(self._identities[to], _SNDMORE)
            if ref is not None:
                sock.send(header, _SNDMORE)
                sock.send(ref)
            elif payload.nbytes < _ZERO_COPY_MIN:
                # one frame: a copy is cheaper than a second send call and zero-copy bookkeeping
                sock.send(header + payload.tobytes())
            else:
                # zero-copy: ZeroMQ reads the array itself (callers must not modify it after sending)
                sock.send(header, _SNDMORE)
                sock.send(payload.data, copy=False)
        except zmq.ZMQError as e:
            if e.errno == zmq.EHOSTUNREACH:
                raise PeerTimeout(f"party {self.pid}: party {to} has disconnected", peer=to) from None
            raise ProtocolError(f"party {self.pid}: cannot send to party {to}: {e.strerror}") from None

    def _receive(self, frm: int, timeout: float, small: bool = False) -> tuple[bytes, object]:
        pending = self._pending[frm]
        if pending:
            return self._payload(frm, *pending.popleft())
        if self._closed:
            raise ProtocolError(f"party {self.pid}: receive from party {frm} on a closed channel")
        deadline = time.monotonic() + timeout
        via_router = frm > self.pid
        sock = self._router if via_router else self._dealers[frm]
        while True:
            ms = min(int(1000 * deadline_left(deadline)), _MAX_MS)
            # RCVTIMEO is reset only when it is longer than what is left or much shorter (a
            # socket option per message costs latency); a wait cut short just goes round again
            if not ms - _RCVTIMEO_SLACK_MS <= self._rcvtimeo.get(sock, -1) <= ms:
                sock.setsockopt(_RCVTIMEO, ms)
                self._rcvtimeo[sock] = ms
            try:
                # poll first only for small messages (latency-bound rounds) and while answers
                # have been coming back fast: a large message, or a peer busy computing, would
                # only lose the CPU this takes (measured: W6 28% faster, W5 not slower)
                spin = self._spin if small and self._last_wait <= _SPIN_WHEN * self._spin else 0.0
                started = time.perf_counter()
                frames = _read(sock, 0, spin)
                self._last_wait = time.perf_counter() - started
            except zmq.Again:
                if deadline_left(deadline) > 0:
                    continue
                raise PeerTimeout(
                    f"party {self.pid}: no message from party {frm} within {timeout:g} s", peer=frm
                ) from None
            except zmq.ZMQError as e:
                raise ProtocolError(
                    f"party {self.pid}: cannot receive from party {frm}: {e.strerror}"
                ) from None
            j = self._router_sender(frames) if via_router else self._dealer_frames(frm, frames)
            head, body = _message(frames[1:] if via_router else frames)
            if head[:3] == _CTRL_MAGIC:  # a late duplicate of the handshake
                if via_router:
                    self._router_control(j, head)
                else:
                    self._check_control(j, head, _WELCOME)
                continue
            if j == frm:
                return self._payload(frm, head, body)
            self._pending[j].append((head, body))

    def _payload(self, frm: int, head: bytes, body) -> tuple[bytes, object]:
        """(header, payload) with a shared-memory reference replaced by the bytes it points at.

        A reference is the only 16-byte body a header of at least MIN_BYTES can come with (an
        inline payload has exactly the declared size), so the two never get confused; anything
        else is left for the wire checks."""
        if len(body) == shm_ring.REF_BYTES and frm in self._rings_in:
            declared = wire.declared_nbytes(head)
            if declared >= shm_ring.MIN_BYTES:
                return head, self._rings_in[frm].take(body, declared)
        return head, body

    def _dealer_frames(self, k: int, frames: list[zmq.Frame]) -> int:
        if len(frames) not in (1, 2):
            raise ProtocolError(
                f"party {self.pid}: malformed message from party {k} with {len(frames)} frames "
                "(expected header and payload)"
            )
        return k

    def close(self) -> None:
        """Close the sockets (waiting at most 1 s to flush), stop the ZAP thread; idempotent."""
        if getattr(self, "_closed", True):
            return
        self._closed = True
        self._stop_monitors()
        for ring in (*self._rings_out.values(), *self._rings_in.values()):
            ring.close()
        self._rings_out, self._rings_in = {}, {}
        for sock in (self._router, *self._dealers.values()):
            if sock is not None:
                sock.close(linger=_LINGER_MS)
        self._router = None
        self._dealers = {}
        if self._auth is not None:
            self._auth.stop()
            self._auth = None
        if self._own_context:
            self._ctx.term()
