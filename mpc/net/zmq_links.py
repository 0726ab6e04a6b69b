"""The sockets of one party's ZeroMQ channel, and which connection belongs to which party.

Topology
    ``endpoints[i]`` is where party ``i`` listens. For each pair ``i < j`` there is exactly one
    connection: party ``i`` listens and party ``j`` connects. Party ``i`` therefore owns

    - one ROUTER socket bound to ``endpoints[i]``, shared by all higher parties ``j > i``; each
      of them connects with the routing id :func:`~mpc.net.zmq_frames.identity` ``(j)``, so the
      ROUTER knows the sender of every message and addresses replies to one peer;
    - one DEALER socket per lower party ``k < i``, connected to ``endpoints[k]``.

    Party ``n - 1`` binds nothing and its endpoint may be ``None`` (a dealer link "dealer = 0,
    party = 1" works without the party listening). Each connection is one TCP stream, so
    messages between two parties arrive in the order they were sent. Queues are unbounded
    (HWM 0): a send never blocks on the receiver. With CURVE, the ROUTER is a CURVE server
    behind the ZAP handler of :mod:`mpc.net.zmq_auth`, and each DEALER pins its listener's key.

Monitors
    Every socket has a ZeroMQ monitor, read only by the thread that owns the channel, when it
    waits: during the handshake for the outcome of each secure handshake
    (:mod:`mpc.net.zmq_handshake`), afterwards for disconnects. A party whose connection closes
    after it joined is *gone*: a receive from it returns what it sent before it left and then
    raises ``PeerTimeout`` at once, instead of waiting out the deadline (a dead process, or a
    dealer whose last party has left). On a DEALER a disconnect names its one peer. On the
    ROUTER, ZeroMQ reports the file descriptor of the connection that closed; each higher
    party's descriptor is taken from its hello (``zmq.SRCFD``), so only a party's own
    connection marks it gone, never a stray connection that comes and goes.

Unknown connections
    A message on the ROUTER from a routing id that is not a higher party of this session is
    dropped and counted (with CURVE such a peer cannot even connect: ZAP refuses its key), so
    a stray local process cannot abort a plaintext session.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import zmq
from zmq.utils.monitor import parse_monitor_message

from mpc.errors import ConfigError, ProtocolError
from mpc.net.zmq_auth import ZAP_DOMAIN, CurveKeys, PeerKeyAuthenticator
from mpc.net.zmq_frames import identity

LINGER_MS = 1000  # how long close() waits to flush what was sent
MONITORED = (
    zmq.EVENT_HANDSHAKE_SUCCEEDED
    | zmq.EVENT_HANDSHAKE_FAILED_AUTH
    | zmq.EVENT_HANDSHAKE_FAILED_PROTOCOL
    | zmq.EVENT_HANDSHAKE_FAILED_NO_DETAIL
    | zmq.EVENT_DISCONNECTED
)


class Links:
    """The ROUTER and DEALER sockets of party ``pid`` (module docstring); ``names[p]`` is how
    messages name party ``p``."""

    def __init__(
        self,
        pid: int,
        n: int,
        endpoints: Sequence[str | None],
        names: Sequence[str],
        curve: CurveKeys | None,
        context: zmq.Context | None,
    ) -> None:
        self.pid, self.n = pid, n
        self.endpoints = list(endpoints)
        self.names = tuple(names)
        self.curve = curve
        self.own_context = context is None
        self.ctx = zmq.Context() if context is None else context
        self.router: zmq.Socket | None = None
        self.dealers: dict[int, zmq.Socket] = {}
        self.monitors: dict[zmq.Socket, zmq.Socket] = {}  # monitored socket -> its monitor
        self.auth: PeerKeyAuthenticator | None = None
        self.identities = {j: identity(j) for j in range(pid + 1, n)}
        self.party_of_identity = {ident: j for j, ident in self.identities.items()}
        self.refused = 0  # listener: handshakes refused (unknown CURVE key)
        self.failed_in = 0  # listener: other failed handshakes
        self.dropped = 0  # messages from connections that are not a party of this session
        self.gone: set[int] = set()  # peers whose connection closed after they joined
        self._joined: set[int] = set()  # lower peers that welcomed this party
        self._fd_of: dict[int, int] = {}  # higher peer -> descriptor of its connection

    @property
    def me(self) -> str:
        return self.names[self.pid]

    # ------------------------------------------------------------------ open and close

    def _socket(self, kind: int) -> zmq.Socket:
        sock = self.ctx.socket(kind)
        sock.linger = LINGER_MS
        sock.sndhwm = 0
        sock.rcvhwm = 0
        sock.ipv6 = True
        self.monitors[sock] = sock.get_monitor_socket(MONITORED)
        return sock

    def open(self) -> None:
        """Bind the ROUTER (unless this is the last party) and connect a DEALER to each lower party."""
        self.bind()
        self.connect(range(self.pid))

    def bind(self) -> None:
        """Bind the ROUTER at ``endpoints[pid]``, unless this is the last party."""
        curve = self.curve
        if self.pid < self.n - 1:
            endpoint = self.endpoints[self.pid]
            router = self.router = self._socket(zmq.ROUTER)
            router.router_mandatory = True
            if curve is not None:
                self.auth = PeerKeyAuthenticator(self.ctx, {j: curve.peers[j] for j in self.identities})
                try:
                    self.auth.start()
                except zmq.ZMQError:
                    self.auth.stop()
                    self.auth = None
                    raise ConfigError(
                        "context: this zmq context already has a ZAP authenticator; with curve, give each "
                        "ZmqChannel its own context (or none)"
                    ) from None
                self.auth.configure_curve_callback(ZAP_DOMAIN, self.auth)
                router.curve_server = True
                router.curve_secretkey = curve.secret
                router.curve_publickey = curve.public
                router.zap_domain = ZAP_DOMAIN.encode()
            try:
                router.bind(endpoint)
            except zmq.ZMQError as e:
                if e.errno == zmq.EADDRINUSE:
                    raise ConfigError(
                        f"{self.me} cannot listen on {endpoint}: address already in use (another process "
                        "holds that port, e.g. a party or dealer of an earlier run still running: stop it "
                        "or pick another port)"
                    ) from None
                if e.errno == zmq.EADDRNOTAVAIL:
                    raise ConfigError(
                        f"{self.me} cannot listen on {endpoint}: that address is not one of this host's "
                        "interfaces (check its address in the hosts file)"
                    ) from None
                raise ConfigError(f"{self.me} cannot listen on {endpoint}: {e.strerror}") from None

    def connect(self, lower: Iterable[int]) -> None:
        """Connect a DEALER to each of the ``lower`` parties, at ``endpoints[k]``."""
        curve = self.curve
        for k in lower:
            dealer = self.dealers[k] = self._socket(zmq.DEALER)
            dealer.routing_id = identity(self.pid)
            if curve is not None:
                dealer.curve_secretkey = curve.secret
                dealer.curve_publickey = curve.public
                dealer.curve_serverkey = curve.peers[k]
            try:
                dealer.connect(self.endpoints[k])
            except zmq.ZMQError as e:
                raise ConfigError(
                    f"{self.me} cannot connect to {self.names[k]} at {self.endpoints[k]}: {e.strerror}"
                ) from None

    def close(self) -> None:
        """Close every socket (waiting at most LINGER_MS to flush), stop the ZAP thread."""
        for sock, mon in self.monitors.items():
            try:
                sock.disable_monitor()  # before closing the monitor socket, or libzmq may block
            except zmq.ZMQError:
                pass
            mon.close(linger=0)
        self.monitors = {}
        for sock in (self.router, *self.dealers.values()):
            if sock is not None:
                sock.close(linger=LINGER_MS)
        self.router = None
        self.dealers = {}
        if self.auth is not None:
            self.auth.stop()
            self.auth = None
        if self.own_context:
            self.ctx.term()

    # ------------------------------------------------------------------ who is who

    def sender(self, frames: list[zmq.Frame]) -> int | None:
        """The party that sent a message read from the ROUTER; None (dropped) for an unknown
        connection. ProtocolError for a party's malformed message or a borrowed identity."""
        j = self.party_of_identity.get(frames[0].bytes)
        if j is None:
            self.dropped += 1
            return None
        if len(frames) not in (2, 3):
            raise ProtocolError(
                f"{self.me}: malformed message with {len(frames) - 1} frames from {self.names[j]} "
                "(expected header and payload)"
            )
        if self.curve is not None and frames[-1].get("User-Id") != str(j):
            raise ProtocolError(f"{self.me}: a connection claims to be {self.names[j]} but holds another key")
        return j

    def check_dealer_frames(self, k: int, frames: list[zmq.Frame]) -> None:
        if len(frames) not in (1, 2):
            raise ProtocolError(
                f"{self.me}: malformed message from {self.names[k]} with {len(frames)} frames "
                "(expected header and payload)"
            )

    def joined(self, peer: int, frames: list[zmq.Frame] | None = None) -> None:
        """``peer`` completed its part of the handshake (its hello on the ROUTER, given as
        ``frames``, or its welcome on a DEALER); from now on its disconnect makes it gone."""
        if frames is not None:
            try:
                self._fd_of[peer] = frames[1].get(zmq.SRCFD)
            except zmq.ZMQError:  # a libzmq without it (deprecated): such a peer times out instead
                self._fd_of.pop(peer, None)
        else:
            self._joined.add(peer)
        self.gone.discard(peer)  # a hello again after a reconnect

    # ------------------------------------------------------------------ monitor events

    def events(self, sock: zmq.Socket) -> list[int]:
        """The pending handshake events of ``sock``, oldest first; disconnects are recorded."""
        mon = self.monitors.get(sock)
        out: list[int] = []
        while mon is not None:
            try:
                message = parse_monitor_message(mon.recv_multipart(flags=zmq.NOBLOCK))
            except zmq.Again:
                break
            event = int(message["event"])
            if event == zmq.EVENT_DISCONNECTED:
                self._disconnected(sock, int(message["value"]))
            else:
                out.append(event)
        return out

    def _disconnected(self, sock: zmq.Socket, fd: int) -> None:
        if sock is self.router:
            self.gone.update(j for j, f in self._fd_of.items() if f == fd)
            return
        for k, dealer in self.dealers.items():
            if dealer is sock and k in self._joined:
                self.gone.add(k)

    def update_gone(self) -> set[int]:
        """Read every socket's pending events (after the handshake: only disconnects matter)."""
        for sock in list(self.monitors):
            self.events(sock)
        return self.gone
