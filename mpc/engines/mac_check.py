"""The SPDZ MAC checks: batched over every value and every bit opened since the last check, with a
random linear combination from a jointly generated seed and commit-then-open of the check values.

Cramer, Damgard, Escudero, Scholl, Xing, "SPDZ2k: Efficient MPC mod 2^k for Dishonest Majority",
CRYPTO 2018 (the check over Z_2^(k+s), Pi_MACCheck, and its bound); the binary check over
GF(2^64) as in the SPDZ-over-GF(2^k) line (Damgard, Pastro, Smart, Zakarias, CRYPTO 2012;
Frederiksen, Keller, Orsini, Scholl, ASIACRYPT 2015; Keller, Orsini, Scholl, "MASCOT", CCS 2016);
coin tossing by commitments as in SPDZ. One check covers both sides of the spdz2k engine: the
machinery (seeds, commitments, rounds, consistency) is :class:`MacCheck`, once; what is checked
is a *ledger* per sharing: :class:`RingLedger` (authenticated Z_2^128 values) and
:class:`BitLedger` (authenticated bits, :mod:`mpc.sharing.auth_bits`).

State: every opening of an authenticated value records the opened value x~_j in Z_2^128 (the sum
of all value shares, the same at every honest party) and this party's MAC share m_j; every
opening of an authenticated bit word records the opened word o_j and this party's *folded* MAC
share F_j = sum_b X^b m_{j,b} of its 64 bits (kept with the word, :mod:`mpc.sharing.auth_bits`);
every broadcast of a public value by one party (an input's masked value) records the value
received.

When: before any share of an output is sent (:meth:`MacCheck.before_output`: a reveal checks
every opening so far, then opens, then checks that opening before it returns anything), when the
ledger grows past the engine's limit, and at the end of the session. Checking only after the
output's opening is not enough: the output's shares would already have reached a cheater that
tampered with an earlier opening, and with it the output can be made a function of another
party's input (a cheater that inputs x = 0 and adds 1 to its share of the opened d of x * y
makes the product y). SPDZ's output stage checks every earlier opening first for this reason
(Damgard, Pastro, Smart, Zakarias, CRYPTO 2012).

Protocol (:meth:`MacCheck.check`), party i of n, 3 rounds:
0. (At set-up, and in round 3 of each check, for the next one:) commit to a fresh 16-byte seed
   share sigma_i, drawn from this party's private PRG.
1. Open sigma_i (with the commitment's nonce); check every opening against its commitment. All
   coefficients come from PRG(XOR of all sigma). Ring ledger: chi_1..chi_N odd and uniform
   otherwise in Z_2^64; y = sum chi_j x~_j, z_i = sum chi_j m_j,i - alpha_i y, and
   p = sum chi'_j b_j over the broadcast values b_j, all mod 2^128. Bit ledger: r_1..r_M uniform
   in GF(2^64); y = sum r_j o_j, z_i = sum r_j F_j,i + y Delta_i and p = sum r'_j e_j over the
   broadcast words, in GF(2^64) (sums are XORs).
2. Commit to the payload (z_i, y, p of both ledgers; SHA-256 over a domain label, the session,
   the sender, the check number, a 16-byte nonce and the payload: binding, and hiding in the
   random-oracle model).
3. Open the payload, with a hash of all the commitments received in round 2 and the commitment
   to the next seed share. Every party then checks: each opening matches its commitment; all y
   agree (every party opened the same values and bits), all p agree (every broadcast was the
   same to everyone), all commitment hashes agree (no one committed differently to different
   parties), sum_i z_i = 0 mod 2^128 (ring) and XOR_i z_i = 0 (bits). Any failure raises
   :class:`~mpc.errors.CheatingDetected`, naming the check and what failed (never a value).

Why it works (ring): if the adversary adds errors e_j to opened values and d_j to MAC relations,
sum_i z_i = sum_j chi_j (d_j - alpha e_j). With alpha uniform in Z_2^64 (up to its fixed parity)
and hidden, and the chi_j chosen after the errors are fixed, the sum is zero with probability at
most 2^(-s + log2(s + 1)), s = 64 (the SPDZ2k bound; one bit less for alpha's fixed parity).
Errors confined to the upper 64 bits of an opened value change nothing mod 2^64, where every
SPDZ2k value lives; still, alpha and every chi_j being odd makes a single error of any kind
(value or MAC, any offset) fail the check with certainty, not just with high probability.

Why openings carry all 128 bits (twice semi2k's bytes), not just the low 64: the upper half of
an opened sum is a uniform mask (each share's 2^64-multiple part), so sending it reveals nothing,
and the bound above needs the errors e_j fixed in Z_2^128 before the chi_j are drawn. Were only
the low words sent, and each party's upper part of y reported after the chi_j are known, an
adversary adding 2^63 to two opened values would pass whenever chi_1 + chi_2 is even (then
sum chi_j e_j = 0 mod 2^64, and it picks its reported upper part to cancel the rest): probability
1/2 per check, however large s. SPDZ2k's Pi_MACCheck opens the full k + s bits for this reason.

Why it works (bits): the coefficient of bit b of opened word j is r_j X^b, so the check is the
standard random linear combination of every opened bit's MAC relation m = b Delta, with the
coefficients of one word's 64 bits tied together by the fixed, linearly independent powers X^b
(which is what lets a word's 64 MACs be folded into F_j when the word is opened, before the r_j
exist). If the adversary flips the bits E_j (a word, read as a field element) of opened word j,
then XOR_i z_i = sum_j r_j (E_j Delta + D_j) for the folded MAC errors D_j it chose; the honest
parties' Delta_h is uniform and hidden, so once E = sum_j r_j E_j is nonzero (all but
probability 2^-64 over the r_j, drawn after the errors are fixed, when some E_j != 0) the
adversary must guess E Delta_h: probability 2^-64. In all, an undetected change of any opened
bit has probability at most 2^-63 per check (and a cheater's own MAC shares buy it nothing: its
z_i is anyway its choice).

Openings are compared through y (one value per party and ledger: a mismatch of views shows as
different y except with probability 2^-64), not by hashing every opened byte.

Cost per check: 3 rounds; each party sends 32 + 32 + (16 + 72 + 64) bytes to every peer (the
payload: 48 bytes of ring values, 24 of bit values; the channel checks every message's shape).
Local work: dot products with the chi_j over the recorded ring values and MAC shares (16 bytes
each per opened element and summand), array by array as recorded (no copy into one), and two
GF(2^64) dot products over the recorded bit words and folded MACs (8 bytes each per opened word
of 64 bits). An opening may be recorded as its summands (:meth:`MacCheck.record_sum`: the
engine's share sent and the peers' sum received, so no pass sums them; y is linear in them), or
as planar summands (:meth:`MacCheck.record_planar`: a Beaver opening sent as its low words, then
its high words, each party's part kept; y adds chi_j lo_j + 2^64 chi_j hi_j plane by plane).
Memory until the check: 32 bytes per opened ring element, 48 for one recorded as two summands
(or as planar summands with 2 parties; 16 more per further party, whose parts are kept apart),
16 per opened bit word.
"""

from __future__ import annotations

import contextlib
import hashlib
import secrets
import types
from collections.abc import Iterator

import numpy as np

from mpc.errors import CheatingDetected
from mpc.net.channel import Channel
from mpc.prg import PRG, SEED_BYTES
from mpc.sharing.authenticated import ring128

__all__ = ["BitLedger", "MacCheck", "RingLedger"]

_NONCE = 16
_DOMAIN = b"tessera/spdz2k/mac-check/v2\0"


def _words(b: bytes) -> np.ndarray:
    return np.frombuffer(b, dtype=np.uint64).copy()


def _int(w: np.ndarray) -> int:
    return int(w[0]) | int(w[1]) << 64


class _Planar:
    """Ring rows recorded as planar summands: row i is sum_j (lo_j[i] + 2^64 hi_j[i]) mod 2^128 (a
    Beaver opening sent as its low words, then its high words: the combine reads only the low
    ones, :meth:`~mpc.engines.spdz2k.Spdz2k.mul`)."""

    __slots__ = ("lo", "hi")

    def __init__(self, lo: tuple[np.ndarray, ...], hi: tuple[np.ndarray, ...]) -> None:
        self.lo, self.hi = lo, hi


class _Records:
    """Arrays of one kind of record kept until the next check (rows of ``width`` words)."""

    def __init__(self, width: int) -> None:
        self.width = width
        self.parts: list[np.ndarray] = []
        # kept as entries are added: the engines ask after every opening whether a check is due,
        # and summing the entries' rows each time cost O(openings^2) between checks (a W6
        # epoch under spdz2k records thousands of openings before its one reveal)
        self.rows = 0

    def add(self, arr: np.ndarray) -> None:
        if arr.size:  # contiguous: a strided view (a record field) would keep its whole parent alive
            part = np.ascontiguousarray(arr, dtype=np.uint64).reshape(-1, self.width)
            self.parts.append(part)
            self.rows += part.shape[0]

    def add_sum(self, arrs: tuple[np.ndarray, ...]) -> None:
        """Rows that are the sums (mod 2^128) of same-shaped arrays, kept as the arrays: an opening
        recorded as this party's share sent and the peers' sum received, with no pass summing
        them (only :meth:`take_parts` reads such an entry)."""
        if arrs[0].size:
            parts = tuple(np.ascontiguousarray(a, dtype=np.uint64).reshape(-1, self.width) for a in arrs)
            self.parts.append(parts)
            self.rows += parts[0].shape[0]

    def add_planar(self, los: tuple[np.ndarray, ...], his: tuple[np.ndarray, ...]) -> None:
        """Ring rows kept as planar summands (:class:`_Planar`; only :meth:`take_parts` reads
        such an entry)."""
        if los[0].size:
            def flat(a: np.ndarray) -> np.ndarray:
                return np.ascontiguousarray(a, dtype=np.uint64).reshape(-1)
            self.parts.append(_Planar(tuple(map(flat, los)), tuple(map(flat, his))))
            self.rows += los[0].size

    def take(self) -> np.ndarray:
        out = np.concatenate(self.parts) if self.parts else np.zeros((0, self.width), dtype=np.uint64)
        self.parts, self.rows = [], 0
        return out.reshape(-1) if self.width == 1 else out

    def take_parts(self) -> list[tuple[np.ndarray, ...] | _Planar]:
        """The recorded entries, not copied into one array: each a tuple of (rows, width) arrays
        whose sum the rows are (one array for an entry of :meth:`add`), or a :class:`_Planar`."""
        out = [p if isinstance(p, (tuple, _Planar)) else (p,) for p in self.parts]
        self.parts, self.rows = [], 0
        return out


class _Ledger:
    """What one sharing's openings leave for the next check: the opened values, this party's MAC
    shares of them, and the values one party broadcast (rows of ``width`` words)."""

    words = 0  # payload words

    def __init__(self, width: int) -> None:
        self._vals, self._macs, self._public = _Records(width), _Records(width), _Records(width)

    @property
    def pending(self) -> int:
        """Opened elements (ring) or words (bits) not checked yet."""
        return self._vals.rows

    @property
    def has_records(self) -> bool:
        return bool(self._vals.parts or self._public.parts)

    def record(self, values: np.ndarray, macs: np.ndarray) -> None:
        """An opening: the opened values and this party's (folded, for bits) MAC shares of them."""
        self._vals.add(values)
        self._macs.add(macs)

    def record_public(self, values: np.ndarray) -> None:
        """Values one party broadcast (every party must have received the same)."""
        self._public.add(values)

    def record_sum(self, values: tuple[np.ndarray, ...], macs: np.ndarray) -> None:
        """An opening whose opened values are the sum of ``values`` (mod 2^128; ring only), kept
        as they are: this party's shares sent and the peers' received need no summing pass."""
        self._vals.add_sum(values)
        self._macs.add(macs)

    def record_planar(self, los: tuple[np.ndarray, ...], his: tuple[np.ndarray, ...], macs: np.ndarray) -> None:
        """An opening whose opened values are sum_j lo_j + 2^64 hi_j (ring only; planar summands:
        this party's shares sent and each peer's received), kept as they are."""
        self._vals.add_planar(los, his)
        self._macs.add(macs)

    def _take(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        return self._vals.take(), self._macs.take(), self._public.take()


class RingLedger(_Ledger):
    """Openings of authenticated Z_2^128 values (SPDZ2k), (..., 2) words each: payload (z_i, y, p), 6 words."""

    words = 6

    def __init__(self, alpha: int, kernels: types.SimpleNamespace) -> None:
        super().__init__(2)
        self.alpha = ring128(alpha)
        self.kernels = kernels

    @staticmethod
    def _chi(prg: PRG, count: int) -> np.ndarray:
        return prg.uint64(count) | np.uint64(1)  # odd: a single error can never cancel

    def payload(self, prg: PRG) -> tuple[np.ndarray, int]:
        """(z_i, y, p) from the coefficients of ``prg`` (consumes the records), and the openings count."""
        k = self.kernels
        vals, macs = self._vals.take_parts(), self._macs.take_parts()  # row for row alike
        public = self._public.take()
        count = sum(mac.shape[0] for (mac,) in macs)
        zero = np.zeros(2, dtype=np.uint64)
        chi = self._chi(prg.derive("chi"), count)
        y, m, pos = zero.copy(), zero.copy(), 0
        for v, (mac,) in zip(vals, macs, strict=True):  # entry by entry: no copy of the records
            c = chi[pos : pos + mac.shape[0]]
            pos += mac.shape[0]
            summands = zip(v.lo, v.hi, strict=True) if isinstance(v, _Planar) else ((part, None) for part in v)
            for lo, hi in summands:  # an opening kept as its summands: y is linear in them
                k.add128(y, k.dot128_64(lo, c) if hi is None else k.dot128_64_planar(lo, hi, c), out=y)
            k.add128(m, k.dot128_64(mac, c), out=m)
        z = k.sub128(m.reshape(1, 2), k.mul128(y.reshape(1, 2), self.alpha.reshape(1, 2))).reshape(2)
        p = k.dot128_64(public, self._chi(prg.derive("chi-public"), public.shape[0])) if public.shape[0] else zero
        return np.concatenate([z, y, p]), count

    @staticmethod
    def verify(mine: np.ndarray, theirs: list[np.ndarray], label: str) -> None:
        """Every party's (z, y, p): y and p as this party's, and sum z = 0 mod 2^128."""
        for msg in theirs:
            if not np.array_equal(msg[2:4], mine[2:4]):
                raise CheatingDetected(f"{label}: the parties opened different values")
            if not np.array_equal(msg[4:6], mine[4:6]):
                raise CheatingDetected(f"{label}: a broadcast input was not the same for every party")
        if sum(_int(msg[0:2]) for msg in theirs) % (1 << 128):
            raise CheatingDetected(f"{label}: the MACs do not match the opened values")


class BitLedger(_Ledger):
    """Openings of authenticated bit words (GF(2^64) MACs; the folded MAC share of each opened
    word): payload (z_i, y, p), 3 words."""

    words = 3

    def __init__(self, delta: int, kernels: types.SimpleNamespace) -> None:
        super().__init__(1)
        self.delta = np.array([delta % (1 << 64)], dtype=np.uint64)
        self.kernels = kernels

    def payload(self, prg: PRG) -> tuple[np.ndarray, int]:
        """(z_i, y, p) from the coefficients of ``prg`` (consumes the records), and the words count."""
        k = self.kernels
        words, folds, public = self._take()
        r = prg.derive("r").uint64(words.shape[0])
        y = k.gf64_dot(r, words)
        z = k.gf64_dot(r, folds) ^ k.gf64_mul(y, self.delta)
        p = k.gf64_dot(prg.derive("r-public").uint64(public.shape[0]), public)
        return np.concatenate([z, y, p]), words.shape[0]

    @staticmethod
    def verify(mine: np.ndarray, theirs: list[np.ndarray], label: str) -> None:
        """Every party's (z, y, p): y and p as this party's, and XOR z = 0."""
        for msg in theirs:
            if msg[1] != mine[1]:
                raise CheatingDetected(f"{label}: the parties opened different bits")
            if msg[2] != mine[2]:
                raise CheatingDetected(f"{label}: a broadcast bit input was not the same for every party")
        if np.bitwise_xor.reduce(np.array([msg[0] for msg in theirs], dtype=np.uint64)):
            raise CheatingDetected(f"{label}: the binary MACs do not match the opened bits")


class MacCheck:
    """The pending openings of one party's spdz2k engine (ring and bits) and the check over them."""

    def __init__(self, channel: Channel, alpha: int, kernels: types.SimpleNamespace, *, delta: int = 0,
                 dry: bool = False) -> None:
        self.channel = channel
        self.pid, self.n = channel.pid, channel.n
        self.ring = RingLedger(alpha, kernels)
        self.bits = BitLedger(delta, kernels)
        self._ledgers = (self.ring, self.bits)
        self.dry = dry  # a dry run's shadow engine: its channel returns zeros, so nothing is checked
        self.checks = 0
        self._in_output = False  # inside output(): checks wait for its end
        self.opened = 0  # ring openings checked so far (elements)
        self.opened_bits = 0  # bit words checked so far
        self._seed = self._nonce = b""
        self._their_commit: list[bytes] = []
        if not dry:
            self._commit_seed_share()

    @property
    def pending(self) -> int:
        """Opened ring elements and bit words not checked yet."""
        return self.ring.pending + self.bits.pending

    def record(self, values: np.ndarray, macs: np.ndarray) -> None:
        """A ring opening (see :meth:`RingLedger.record`); nothing is kept in a dry run."""
        if not self.dry:
            self.ring.record(values, macs)

    def record_public(self, values: np.ndarray) -> None:
        if not self.dry:
            self.ring.record_public(values)

    def record_sum(self, values: tuple[np.ndarray, ...], macs: np.ndarray) -> None:
        """A ring opening kept as its summands (see :meth:`RingLedger.record_sum`)."""
        if not self.dry:
            self.ring.record_sum(values, macs)

    def record_planar(self, los: tuple[np.ndarray, ...], his: tuple[np.ndarray, ...], macs: np.ndarray) -> None:
        """A ring opening kept as planar summands (see :meth:`RingLedger.record_planar`)."""
        if not self.dry:
            self.ring.record_planar(los, his, macs)

    def record_bits(self, words: np.ndarray, folds: np.ndarray) -> None:
        """A bit opening (see :meth:`BitLedger.record`); nothing is kept in a dry run."""
        if not self.dry:
            self.bits.record(words, folds)

    def record_public_bits(self, words: np.ndarray) -> None:
        if not self.dry:
            self.bits.record_public(words)

    # ------------------------------------------------------------------ the check

    def before_output(self, what: str) -> None:
        """Check every opening recorded so far *before* any share of an output is sent (0 rounds
        when nothing is pending, else 3): an output opened first would reach a cheater even when
        the check that follows fails. Example: a cheater that inputs x = 0 and adds 1 to its share
        of the opened d of x * y makes the product y; were the product's shares then sent, it
        would learn the other party's y although the output x * y = 0 says nothing of it (SPDZ's
        output stage checks every earlier opening first for this reason: Damgard, Pastro, Smart,
        Zakarias, CRYPTO 2012, the online protocol's output step)."""
        self.check(f"before {what}")

    @contextlib.contextmanager
    def output(self, what: str) -> Iterator[None]:
        """A block that opens outputs (every reveal: ``Spdz2k.open``, ``AuthBits.reveal_many``):
        at its start :meth:`before_output`, the check of everything opened before it; inside,
        every check waits (the ledger-size one too); at its normal end ONE check of what it
        opened (labelled ``what``), before the caller hands out any value. A block nested in
        another joins it, so a reveal of several kinds at once (Party.reveal of SecretTensors and
        SecretBits) takes one check before and one after its openings. An exception inside skips
        the closing check (nothing is handed out)."""
        if self._in_output:
            yield
            return
        self.before_output(what)
        self._in_output = True
        try:
            yield
        finally:
            self._in_output = False
        self.check(what)

    def check(self, what: str = "") -> None:
        """Check every recorded opening (see the module docstring): 3 rounds; CheatingDetected on
        failure. Inside :meth:`output` it waits for the block's end."""
        if self._in_output:
            return
        if self.dry or not any(led.has_records for led in self._ledgers):
            return
        nring, nbits = self.ring.pending, self.bits.pending
        label = f"MAC check of {nring} opening(s)" + (f" and {nbits} bit word(s)" if nbits else "")
        label += f" ({what})" if what else ""
        # round 1: open the seed shares committed to at the end of the previous check
        opened = self._exchange(np.concatenate([_words(self._nonce), _words(self._seed)]))
        seed = bytes(SEED_BYTES)
        for p, msg in enumerate(opened):
            nonce, share = msg[:2].tobytes(), msg[2:].tobytes()
            if p != self.pid and self._commitment(p, b"seed", nonce, share) != self._their_commit[p]:
                raise CheatingDetected(f"{label}: party {p} opened a seed share that does not match its commitment")
            seed = bytes(a ^ b for a, b in zip(seed, share, strict=True))
        prg = PRG(seed)
        parts = [led.payload(prg.derive(type(led).__name__))[0] for led in self._ledgers]
        payload = np.concatenate(parts)
        size = payload.shape[0]
        # round 2: commit to the payload
        nonce = secrets.token_bytes(_NONCE)
        mine = self._commitment(self.pid, b"z", nonce, payload.tobytes())
        commits = [m.tobytes() for m in self._exchange(_words(mine))]
        digest = hashlib.sha256(b"".join(commits)).digest()
        # round 3: open, with the hash of the commitments seen and the next seed share's commitment
        self._seed, self._nonce = secrets.token_bytes(SEED_BYTES), secrets.token_bytes(_NONCE)
        nxt = self._commitment(self.pid, b"seed", self._nonce, self._seed, self.checks + 1)
        msgs = self._exchange(np.concatenate([_words(nonce), payload, _words(digest), _words(nxt)]))
        payloads = []
        self._their_commit = []
        for p, msg in enumerate(msgs):
            their_nonce, their_payload = msg[:2].tobytes(), msg[2 : 2 + size]
            if p != self.pid and self._commitment(p, b"z", their_nonce, their_payload.tobytes()) != commits[p]:
                raise CheatingDetected(f"{label}: party {p}'s check value does not match its commitment")
            if msg[2 + size : 6 + size].tobytes() != digest:
                raise CheatingDetected(f"{label}: party {p} saw different commitments (a party equivocated)")
            payloads.append(their_payload)
            self._their_commit.append(msg[6 + size :].tobytes())
        pos = 0
        for led, part in zip(self._ledgers, parts, strict=True):
            led.verify(part, [msg[pos : pos + led.words] for msg in payloads], label)
            pos += led.words
        self.checks += 1
        self.opened += nring
        self.opened_bits += nbits

    # ------------------------------------------------------------------ helpers

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
