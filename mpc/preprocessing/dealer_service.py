"""The dealer process: ``serve(config)`` runs a :class:`TrustedDealer` over ZeroMQ links.

Topology. The dealer has one 2-party link per party (dealer = pid 0 of the link, the party =
pid 1). Because a ZeroMQ channel binds one address per listening side, the dealer listens for
party i on the port of ``config.dealer_endpoint`` plus i (:func:`link_endpoint`); party i
connects there (:func:`party_link`). Links carry the session id of the run, so a party of
another session is rejected by the wire checks.

Security: with CURVE keys configured, each link is encrypted and authenticated with the
dealer's key pair and the party's public key (from the hosts file).
"""

from __future__ import annotations

import threading

from mpc.errors import ConfigError, PeerTimeout
from mpc.net.channel import Channel
from mpc.preprocessing.dealer import TrustedDealer


def link_endpoint(dealer_endpoint: str, pid: int) -> str:
    """The address the dealer listens on for party ``pid``: the dealer's port plus ``pid``."""
    head, sep, port = dealer_endpoint.rpartition(":")
    if not sep or not port.isdigit():
        raise ConfigError(f"dealer_endpoint: expected tcp://host:port, got {dealer_endpoint!r}")
    p = int(port) + pid
    if p > 65535:
        raise ConfigError(f"dealer_endpoint: port {port} + party id {pid} is past 65535")
    return f"{head}:{p}"


def _link(config, pid: int, dealer_side: bool) -> Channel:
    from mpc.net import zmq_channel  # imported when a process actually connects, never at import

    if config.dealer_endpoint is None:
        raise ConfigError("dealer_endpoint: the session has no dealer address")
    curve = None
    if config.curve is not None:
        c = config.curve
        if c.dealer is None:
            raise ConfigError("curve.dealer: the session has a dealer but no dealer public key")
        peer_key = c.parties[pid] if dealer_side else c.dealer
        curve = zmq_channel.CurveKeys(public=c.public, secret=c.secret, peers={1 if dealer_side else 0: peer_key})
    return zmq_channel.ZmqChannel(
        0 if dealer_side else 1,
        2,
        config.session,
        [link_endpoint(config.dealer_endpoint, pid), None],
        timeout=config.timeout,
        connect_timeout=config.connect_timeout,
        curve=curve,
        shm=config.use_shm,  # the offline phase's corrections are the largest messages of a run
        shm_sealed=config.shm_sealed,
        names=("dealer", f"party {pid}"),  # how the link's messages name its two ends
    )


def party_link(config) -> Channel:
    """Party ``config.pid``'s end of its link to the dealer (pass it to ``Party(dealer=...)``).
    A dealer that does not answer the handshake gives ``PeerTimeout`` with ``peer == "dealer"``."""
    try:
        return _link(config, int(config.pid), dealer_side=False)
    except PeerTimeout:
        endpoint = link_endpoint(config.dealer_endpoint, int(config.pid))
        raise PeerTimeout(f"party {config.pid}: the dealer did not answer at {endpoint}", peer="dealer") from None


def serve(config, *, idle_timeout: float = 3600.0) -> None:
    """Run the dealer of the session described by ``config`` (a ``mpc.config.SessionConfig``)
    until the last party says BYE; ``PeerTimeout`` if a party is silent past the deadlines."""
    links: list[Channel | None] = [None] * config.n
    errors: list[BaseException] = []

    def open_link(pid: int) -> None:
        try:
            links[pid] = _link(config, pid, dealer_side=True)
        except BaseException as exc:  # noqa: BLE001 - re-raised below
            errors.append(exc)

    # in parallel: each link's handshake waits for its party, and the parties start in any order
    threads = [threading.Thread(target=open_link, args=(pid,), name=f"dealer-link-{pid}") for pid in range(config.n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        for link in links:
            if link is not None:
                link.close()
        raise errors[0]
    TrustedDealer(links, kernels=config.kernels, idle_timeout=idle_timeout).serve()  # type: ignore[arg-type]
