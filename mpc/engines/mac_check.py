"""The SPDZ2k MAC check: batched over every value opened since the last check, with a random
linear combination from a jointly generated seed and commit-then-open of the check values.

Cramer, Damgard, Escudero, Scholl, Xing, "SPDZ2k: Efficient MPC mod 2^k for Dishonest Majority",
CRYPTO 2018 (the check, Pi_MACCheck, and its bound); coin tossing by commitments as in SPDZ
(Damgard, Pastro, Smart, Zakarias, CRYPTO 2012).

State: every opening of an authenticated value records the opened value x~_j in Z_2^128 (the sum
of all value shares, the same at every honest party) and this party's MAC share m_j; every
broadcast of a public value by one party (an input's masked value) records the value received.

Protocol (:meth:`MacCheck.check`), party i of n, N recorded openings, 3 rounds:
0. (At set-up, and in round 3 of each check, for the next one:) commit to a fresh 16-byte seed
   share sigma_i, drawn from this party's private PRG.
1. Open sigma_i (with the commitment's nonce); check every opening against its commitment.
   chi_1..chi_N are drawn from PRG(XOR of all sigma), each odd and uniform otherwise in Z_2^64.
   y = sum chi_j x~_j, z_i = sum chi_j m_j,i - alpha_i y, and p = sum chi'_j b_j over the
   broadcast values b_j (chi' from the same seed), all mod 2^128.
2. Commit to (z_i, y, p) (SHA-256 over a domain label, the session, the sender, the check
   number, a 16-byte nonce and the payload: binding, and hiding in the random-oracle model).
3. Open (z_i, y, p), with a hash of all the commitments received in round 2 and the commitment
   to the next seed share. Every party then checks: each opening matches its commitment; all y
   agree (every party opened the same values), all p agree (every broadcast was the same to
   everyone), all commitment hashes agree (no one committed differently to different parties),
   and sum_i z_i = 0 mod 2^128. Any failure raises :class:`~mpc.errors.CheatingDetected`,
   naming the check and what failed (never a value).

Why it works: if the adversary adds errors e_j to opened values and d_j to MAC relations,
sum_i z_i = sum_j chi_j (d_j - alpha e_j). With alpha uniform in Z_2^64 (up to its fixed parity)
and hidden, and the chi_j chosen after the errors are fixed, the sum is zero with probability at
most 2^(-s + log2(s + 1)), s = 64 (the SPDZ2k bound; one bit less for alpha's fixed parity).
Errors confined to the upper 64 bits of an opened value change nothing mod 2^64, where every
SPDZ2k value lives; still, alpha and every chi_j being odd makes a single error of any kind
(value or MAC, any offset) fail the check with certainty, not just with high probability.
Openings are compared through y (one value per party: a mismatch of views shows as different
y except with probability 2^-64), not by hashing every opened byte.

Cost per check: 3 rounds; each party sends 32 + 32 + 128 bytes to every peer (the channel checks
every message's shape); the local work
is two passes over the recorded values and MAC shares (16 bytes each per opened element).
Memory: the recorded values and MAC shares, 32 bytes per opened element, until the check.
"""

from __future__ import annotations

import hashlib
import secrets
import types

import numpy as np

from mpc.errors import CheatingDetected
from mpc.net.channel import Channel
from mpc.prg import PRG, SEED_BYTES
from mpc.sharing.authenticated import ring128

__all__ = ["MacCheck"]

_NONCE = 16
_DOMAIN = b"tessera/spdz2k/mac-check/v1\0"


def _words(b: bytes) -> np.ndarray:
    return np.frombuffer(b, dtype=np.uint64).copy()


def _int(w: np.ndarray) -> int:
    return int(w[0]) | int(w[1]) << 64


class MacCheck:
    """The pending openings of one party's spdz2k engine and the check over them."""

    def __init__(self, channel: Channel, alpha: int, kernels: types.SimpleNamespace, *, dry: bool = False) -> None:
        self.channel = channel
        self.pid, self.n = channel.pid, channel.n
        self.alpha = ring128(alpha)
        self.kernels = kernels
        self.dry = dry  # a dry run's shadow engine: its channel returns zeros, so nothing is checked
        self.checks = 0
        self.opened = 0  # openings checked so far (elements)
        self._vals: list[np.ndarray] = []  # opened values x~, (N, 2) words each
        self._macs: list[np.ndarray] = []  # this party's MAC shares of them
        self._public: list[np.ndarray] = []  # broadcast values received (input masks' openings)
        self._seed = self._nonce = b""
        self._their_commit: list[bytes] = []
        if not dry:
            self._commit_seed_share()

    @property
    def pending(self) -> int:
        """Opened elements not checked yet."""
        return sum(v.shape[0] for v in self._vals)

    def record(self, values: np.ndarray, macs: np.ndarray) -> None:
        """An opening: the opened values and this party's MAC shares, (..., 2) words each."""
        if not self.dry and values.size:
            self._vals.append(values.reshape(-1, 2))
            self._macs.append(macs.reshape(-1, 2))

    def record_public(self, values: np.ndarray) -> None:
        """A value one party broadcast (every party must have received the same)."""
        if not self.dry and values.size:
            self._public.append(values.reshape(-1, 2))

    # ------------------------------------------------------------------ the check

    def check(self, what: str = "") -> None:
        """Check every recorded opening (see the module docstring): 3 rounds; CheatingDetected on failure."""
        if self.dry or not (self._vals or self._public):
            return
        vals, macs, public = self._take()
        label = f"MAC check of {vals.shape[0]} opening(s){' (' + what + ')' if what else ''}"
        # round 1: open the seed shares committed to at the end of the previous check
        opened = self._exchange(np.concatenate([_words(self._nonce), _words(self._seed)]))
        seed = bytes(SEED_BYTES)
        for p, msg in enumerate(opened):
            nonce, share = msg[:2].tobytes(), msg[2:].tobytes()
            if p != self.pid and self._commitment(p, b"seed", nonce, share) != self._their_commit[p]:
                raise CheatingDetected(f"{label}: party {p} opened a seed share that does not match its commitment")
            seed = bytes(a ^ b for a, b in zip(seed, share, strict=True))
        prg = PRG(seed)
        y, z = self._combine(prg.derive("chi"), vals, macs)
        pub = self._combine_public(prg.derive("chi-public"), public)
        payload = np.concatenate([z, y, pub])
        # round 2: commit to (z_i, y, p)
        nonce = secrets.token_bytes(_NONCE)
        mine = self._commitment(self.pid, b"z", nonce, payload.tobytes())
        commits = [m.tobytes() for m in self._exchange(_words(mine))]
        digest = hashlib.sha256(b"".join(commits)).digest()
        # round 3: open, with the hash of the commitments seen and the next seed share's commitment
        self._seed, self._nonce = secrets.token_bytes(SEED_BYTES), secrets.token_bytes(_NONCE)
        nxt = self._commitment(self.pid, b"seed", self._nonce, self._seed, self.checks + 1)
        msgs = self._exchange(np.concatenate([_words(nonce), payload, _words(digest), _words(nxt)]))
        total = 0
        self._their_commit = []
        for p, msg in enumerate(msgs):
            their_nonce, their_payload = msg[:2].tobytes(), msg[2:8]
            if p != self.pid and self._commitment(p, b"z", their_nonce, their_payload.tobytes()) != commits[p]:
                raise CheatingDetected(f"{label}: party {p}'s check value does not match its commitment")
            if msg[8:12].tobytes() != digest:
                raise CheatingDetected(f"{label}: party {p} saw different commitments (a party equivocated)")
            if not np.array_equal(their_payload[2:4], y):
                raise CheatingDetected(f"{label}: the parties opened different values")
            if not np.array_equal(their_payload[4:6], pub):
                raise CheatingDetected(f"{label}: a broadcast input was not the same for every party")
            total += _int(their_payload[0:2])
            self._their_commit.append(msg[12:16].tobytes())
        self.checks += 1
        self.opened += vals.shape[0]
        if total % (1 << 128):
            raise CheatingDetected(f"{label}: the MACs do not match the opened values")

    # ------------------------------------------------------------------ helpers

    def _take(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        empty = np.zeros((0, 2), dtype=np.uint64)
        vals = np.concatenate(self._vals) if self._vals else empty
        macs = np.concatenate(self._macs) if self._macs else empty
        public = np.concatenate(self._public) if self._public else empty
        self._vals, self._macs, self._public = [], [], []
        return vals, macs, public

    @staticmethod
    def _chi(prg: PRG, count: int) -> np.ndarray:
        return prg.uint64(count) | np.uint64(1)  # odd: a single error can never cancel

    def _combine(self, prg: PRG, vals: np.ndarray, macs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(y, z_i) = (sum chi_j x~_j, sum chi_j m_j - alpha_i y) mod 2^128, as (2,) words."""
        k = self.kernels
        chi = self._chi(prg, vals.shape[0])
        y, m = k.dot128_64(vals, chi), k.dot128_64(macs, chi)
        z = k.sub128(m.reshape(1, 2), k.mul128(y.reshape(1, 2), self.alpha.reshape(1, 2)))
        return y, z.reshape(2)

    def _combine_public(self, prg: PRG, public: np.ndarray) -> np.ndarray:
        if not public.shape[0]:
            return np.zeros(2, dtype=np.uint64)
        return self.kernels.dot128_64(public, self._chi(prg, public.shape[0]))

    def _exchange(self, arr: np.ndarray) -> list[np.ndarray]:
        return self.channel.exchange(np.ascontiguousarray(arr, dtype=np.uint64))

    def _commitment(self, sender: int, kind: bytes, nonce: bytes, payload: bytes, check: int | None = None) -> bytes:
        number = self.checks if check is None else check
        head = _DOMAIN + kind + b"\0" + int(self.channel.session).to_bytes(8, "little")
        head += sender.to_bytes(4, "little") + number.to_bytes(8, "little")
        return hashlib.sha256(head + nonce + payload).digest()

    def _commit_seed_share(self) -> None:
        """Round 0 at set-up: commit to the first check's seed share (one exchange)."""
        self._seed, self._nonce = secrets.token_bytes(SEED_BYTES), secrets.token_bytes(_NONCE)
        mine = self._commitment(self.pid, b"seed", self._nonce, self._seed)
        self._their_commit = [m.tobytes() for m in self._exchange(_words(mine))]
