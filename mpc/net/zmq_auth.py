"""CURVE keys and the ZAP handler of a ZeroMQ channel (:mod:`mpc.net.zmq_channel`).

Security
    With :class:`CurveKeys` every link runs CurveZMQ: a Curve25519 key exchange with perfect
    forward secrecy, then XSalsa20-Poly1305 authenticated encryption of every frame. The
    listening side is a CURVE server with its secret key; a ZAP handler thread
    (:class:`PeerKeyAuthenticator`) admits only the public keys of the higher parties and tags
    each connection with the party id its key belongs to (the ZeroMQ ``User-Id``); the channel
    checks every message's authenticated id against the routing id it claims
    (:meth:`mpc.net.zmq_links.Links.sender`), so no party can speak for another. The connecting
    side pins the listener's public key (``curve_serverkey``), so it cannot be fooled by an
    impostor. Secret keys never appear in a message or a repr.

    Without keys the links are plaintext and unauthenticated (loopback and benchmarks only):
    anyone who can reach a listening port can connect. Connections that do not belong to a
    party of the session are then dropped by the channel (as ZAP refuses them under CURVE), so
    a stray local process cannot abort a session; it can still impersonate a party it knows
    the routing id of, which is what CURVE prevents.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import zmq
from zmq.auth.thread import ThreadAuthenticator
from zmq.utils import z85

from mpc.config.addresses import check_key
from mpc.errors import ConfigError

ZAP_DOMAIN = "tessera"


@dataclass(frozen=True)
class CurveKeys:
    """This party's CURVE key pair and its peers' public keys (Z85, 40 bytes each).

    ``zmq.curve_keypair()`` makes a pair. ``peers`` maps every other party id to its public key.
    """

    public: bytes
    secret: bytes = field(repr=False)
    peers: Mapping[int, bytes] = field(default_factory=dict)

    def __post_init__(self) -> None:
        public = check_key(self.public, "curve.public")
        secret = check_key(self.secret, "curve.secret")
        if zmq.curve_public(secret) != public:
            raise ConfigError("curve: the public key does not belong to the secret key")
        peers = {int(p): check_key(k, f"curve.peers[{p}]") for p, k in dict(self.peers).items()}
        if len({public, *peers.values()}) != len(peers) + 1:
            raise ConfigError("curve.peers: every party needs a public key of its own (two keys are equal)")
        object.__setattr__(self, "public", public)
        object.__setattr__(self, "secret", secret)
        object.__setattr__(self, "peers", peers)


class PeerKeyAuthenticator(ThreadAuthenticator):
    """ZAP handler admitting only the listed public keys; a connection's User-Id is its party id."""

    def __init__(self, context: zmq.Context, allowed: Mapping[int, bytes]) -> None:
        super().__init__(context)
        self._party_of = {key: pid for pid, key in allowed.items()}

    def callback(self, domain: str, key: bytes) -> bool:  # credentials provider, runs in the ZAP thread
        return key in self._party_of

    def curve_user_id(self, client_public_key: bytes) -> str:
        return str(self._party_of[z85.encode(client_public_key)])
