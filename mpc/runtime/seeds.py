"""Seed agreement at connect: pairwise seeds and a common seed, with commit-then-reveal.

Protocol (two rounds, run once by every party when a Party starts):
1. Each party i draws a private 16-byte seed s_i and, for each peer j > i, a pairwise seed
   k_ij; it commits to s_i by broadcasting H(session || i || s_i) (SHA-256).
2. Each party sends s_i to all peers and k_ij to each peer j > i, then checks every received
   s_j against its commitment. The common seed is H(s_0 || ... || s_{n-1}).

Security: the pairwise seed k_ij is known to i and j only (the channel is authenticated and,
between hosts, encrypted). Because commitments are fixed before any s_j is revealed, no party
can bias the common seed as a function of the others' contributions; a wrong opening raises
CheatingDetected. Cost: 2 rounds, 16 + 32 bytes per peer plus 16 per higher peer.
"""

from __future__ import annotations

import hashlib
import hmac

import numpy as np

from mpc.errors import CheatingDetected
from mpc.net.channel import Channel
from mpc.prg import SEED_BYTES, new_seed


def _commit(session: int, pid: int, seed: bytes) -> np.ndarray:
    digest = hashlib.sha256(b"tessera-seed-commit\0" + session.to_bytes(8, "little") + bytes([pid % 256]) + seed)
    return np.frombuffer(digest.digest(), dtype=np.uint8)


def _u8(b: bytes) -> np.ndarray:
    return np.frombuffer(b, dtype=np.uint8)


def agree_seeds(channel: Channel) -> tuple[bytes, dict[int, bytes]]:
    """Run the seed agreement; returns (common seed, {peer: pairwise seed})."""
    me = channel.pid
    own = new_seed()
    commitments = channel.exchange(_commit(channel.session, me, own))
    pairwise_out = {j: new_seed() for j in channel.peers if j > me}
    tag = channel.next_tag()
    for j in channel.peers:
        payload = own + pairwise_out.get(j, b"")
        channel.send(j, _u8(payload), tag)
    pairwise: dict[int, bytes] = dict(pairwise_out)
    seeds = [b""] * channel.n
    seeds[me] = own
    for j in channel.peers:
        size = SEED_BYTES * (2 if j < me else 1)
        got = channel.recv(j, tag, dtype=np.uint8, shape=(size,)).tobytes()
        seeds[j] = got[:SEED_BYTES]
        if not hmac.compare_digest(_commit(channel.session, j, seeds[j]).tobytes(), commitments[j].tobytes()):
            raise CheatingDetected(f"party {me}: party {j} opened a seed that does not match its commitment")
        if j < me:
            pairwise[j] = got[SEED_BYTES:]
    common = hashlib.sha256(b"tessera-common-seed\0" + b"".join(seeds)).digest()[:SEED_BYTES]
    return common, pairwise
