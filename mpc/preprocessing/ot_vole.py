"""MAC generation without a dealer: vector OLE with the MAC key, from OT (SPDZ2k / MASCOT).

Cramer, Damgard, Escudero, Scholl, Xing, "SPDZ2k: Efficient MPC mod 2^k for Dishonest Majority",
CRYPTO 2018, section 5 (authentication over Z_2^(k+s) from correlated OT with the MAC key share
as the choice bits); the correlated oblivious product evaluation (COPE) of Keller, Orsini, Scholl,
"MASCOT: Faster Malicious Arithmetic Secure Computation with Oblivious Transfer", CCS 2016,
section 4, carried over from GF(p) to Z_2^128 (k = s = 64).

Every party i holds its MAC key share alpha_i in Z_2^64 (:func:`mpc.preprocessing.authenticated.
mac_key_share`, from a fresh ``os.urandom`` seed: odd for party 0, even for the others, so that
alpha = sum alpha_i is odd; no one, no dealer, knows alpha).

Set-up, per ordered pair (sender i, receiver j): 64 random OTs (:class:`~mpc.preprocessing.ot_link.
WideProducts`, the KOS-checked extension) with j's choice bits the 64 bits a_k of alpha_j: i gets
seed pairs (s0_k, s1_k), j gets s_{a_k,k}. Each seed keys an AES-CTR stream (:class:`mpc.prg.PRG`).

Extend (one round, every pair at once), i authenticating its vector x in Z_2^128 (N elements):

1. i draws t0_k, t1_k in Z_2^128 (N each) from its streams k < 64 and sends j
   d_k = t0_k - t1_k + x, trimmed to the ceil((128 - k) / 8) low bytes that survive the weight 2^k.
2. j draws t_k = t_{a_k,k} and sets q_k = t_k + a_k d_k = t0_k + a_k x; j's share is
   sum_k 2^k q_k and i's is -sum_k 2^k t0_k: together alpha_j x mod 2^128.

Party i's MAC share of its own vector is then alpha_i x + sum_j (its sender shares), and party j's
share of i's vector is its receiver share: the shares of i's vector sum to alpha x. The MAC shares
of an additively shared value sum_i x_i are the sums over the origins i.

A sender that uses different x in different OTs k (or towards different receivers) gives MACs that
do not match any value; the SPDZ2k check of :mod:`mpc.preprocessing.ot_spdz` (a random
combination of each origin's vector, masked by one extra uniform element and opened by its
origin, then MAC-checked) catches it except with probability about 2^-(s - log s). A receiver
cannot cheat in the extend step (it sends nothing); its choice bits are fixed by the checked
random OTs.

Cost per authenticated element, per ordered pair: 800 bytes from sender to receiver (64
corrections of 9..16 bytes), 2 x 64 AES-CTR blocks at the sender, 64 at the receiver, and a
(N, 64) x (64, 1) product mod 2^128 on each side. Set-up: 64 OTs per ordered pair.

Commitments for the offline checks (:class:`Commitments`): SHA-256 over a domain label, the
session, the sender, a counter, a 16-byte nonce and the payload (binding; hiding in the random
oracle model), as in :mod:`mpc.engines.mac_check`, whose layer this one may not import.
"""

from __future__ import annotations

import hashlib
import secrets
import types

import numpy as np

from mpc.net.channel import Channel
from mpc.preprocessing.ot_link import (
    SECTION,
    OTLinks,
    WideProducts,
    trim128,
    trimmed128_bytes,
    untrim128,
    weighted128,
)
from mpc.prg import PRG

__all__ = ["Commitments", "CopeKeys", "Vole"]

KBITS = 64  # bits of a MAC key share (s)
CHUNK = 1 << 13  # elements per extend round (64 x 16 bytes of working memory per element and array)
_POW = (np.uint64(1) << np.arange(KBITS, dtype=np.uint64)).reshape(KBITS, 1)
_DOMAIN = b"tessera/ot-spdz2k/commit/v1\0"


def _seed(block: np.ndarray) -> bytes:
    return np.ascontiguousarray(block, dtype=np.uint64).tobytes()


class CopeKeys:
    """The key side shared by the COPE instances (arithmetic :class:`Vole`, binary
    :class:`~mpc.preprocessing.ot_bit_vole.BitVole`): a 64-bit key's bits as OT choices, and the
    64 random OTs per ordered pair whose seeds expand every later correlation."""

    def __init__(self, links: OTLinks, key: int) -> None:
        self.links = links
        self.channel: Channel = links.channel
        self.kernels: types.SimpleNamespace = links.kernels
        self.peers = list(self.channel.peers)
        self.key = int(key) % (1 << KBITS)
        self._bits = np.array([(self.key >> b) & 1 for b in range(KBITS)], dtype=np.uint8)
        self._send: dict[int, list[tuple[PRG, PRG]]] = {}
        self._recv: dict[int, list[PRG]] = {}

    def setup(self) -> None:
        """The 64 random OTs per ordered pair (idempotent)."""
        if self._send or not self.peers:
            return
        sent, received = WideProducts(self.links).random_ots(self._bits, self.peers, self.peers, KBITS)
        for p in self.peers:
            m0, m1 = sent[p]
            self._send[p] = [(PRG(_seed(m0[k])), PRG(_seed(m1[k]))) for k in range(KBITS)]
            self._recv[p] = [PRG(_seed(received[p][k])) for k in range(KBITS)]


class Vole(CopeKeys):
    """One party's COPE instances with every peer (see the module docstring)."""

    def __init__(self, links: OTLinks, alpha: int) -> None:
        super().__init__(links, alpha)
        self.alpha = self.key
        self.elements = 0  # elements authenticated by this party

    def send_corrections(self, d: np.ndarray, p: int, tag: int) -> None:
        """Send the trimmed corrections ``d`` ``(1, 64, N, 2)`` to peer p (one place to tamper in tests)."""
        self.channel.send(p, trim128(d), tag)

    def authenticate(self, x: np.ndarray) -> tuple[np.ndarray, dict[int, np.ndarray]]:
        """MAC shares for this party's vector ``x`` ``(N, 2)`` and the peers' (one round).

        Returns (own, theirs): ``own`` this party's share of alpha * x (alpha_i x plus its
        sender shares), ``theirs[p]`` its share of alpha * x_p for peer p's vector (the same N)."""
        self.setup()
        x = np.ascontiguousarray(x, dtype=np.uint64)
        if len(x) <= CHUNK:
            return self._authenticate(x)
        own = np.empty_like(x)
        theirs = {p: np.empty_like(x) for p in self.peers}
        for lo in range(0, len(x), CHUNK):
            o, t = self._authenticate(x[lo : lo + CHUNK])
            own[lo : lo + CHUNK] = o
            for p in self.peers:
                theirs[p][lo : lo + CHUNK] = t[p]
        return own, theirs

    def _authenticate(self, x: np.ndarray) -> tuple[np.ndarray, dict[int, np.ndarray]]:
        k = self.kernels
        ch = self.channel
        n_el = len(x)
        with ch.section(SECTION):
            tag = self.links.tag()
            own = k.mul128_64(x, np.full(n_el, self.alpha, dtype=np.uint64))
            for p in self.peers:
                t0 = np.stack([g0.uint64((n_el, 2)) for g0, _ in self._send[p]])  # (64, N, 2)
                t1 = np.stack([g1.uint64((n_el, 2)) for _, g1 in self._send[p]])
                d = k.sub128(t0, t1, out=t1)
                for b in range(KBITS):
                    k.add128(d[b], x, out=d[b])
                self.send_corrections(d.reshape(1, KBITS, n_el, 2), p, tag)
                k.sub128(own, weighted128(t0.reshape(1, KBITS, n_el, 2), k)[0], out=own)
            theirs = {}
            for p in self.peers:
                raw = ch.recv(p, tag, dtype=np.uint8, shape=(trimmed128_bytes(1, KBITS, n_el),))
                d = untrim128(raw, 1, KBITS, n_el, k)[0]  # (64, N, 2)
                t = np.stack([g.uint64((n_el, 2)) for g in self._recv[p]])
                d *= self._bits.astype(np.uint64)[:, None, None]
                theirs[p] = weighted128(k.add128(t, d).reshape(1, KBITS, n_el, 2), k)[0]
        self.elements += n_el
        return own, theirs


class Commitments:
    """Hash commitments and coin tossing for the offline checks of one party."""

    def __init__(self, channel: Channel, label: bytes) -> None:
        self.channel = channel
        self.label = bytes(label)
        self.count = 0

    def digest(self, sender: int, number: int, nonce: bytes, payload: bytes) -> bytes:
        head = _DOMAIN + self.label + b"\0" + int(self.channel.session).to_bytes(8, "little")
        head += int(sender).to_bytes(4, "little") + int(number).to_bytes(8, "little")
        return hashlib.sha256(head + nonce + payload).digest()

    def commit(self, payload: bytes) -> tuple[int, bytes, bytes]:
        """(number, nonce, commitment) for this party's ``payload``."""
        self.count += 1
        nonce = secrets.token_bytes(16)
        return self.count, nonce, self.digest(self.channel.pid, self.count, nonce, payload)
