"""AES-256-GCM records for encrypted channels, keyed per direction by an X25519 exchange.

The ZeroMQ links are CURVE-authenticated, but CURVE moves ~200 MB/s on the project's runner while
AES-256-GCM from ``cryptography`` runs at 2-3 GB/s (issue 18), so after the set-up every message
goes as records of this module. This module is the record layer; the channel
(:mod:`mpc.net.zmq_records`) lays messages out in records and carries the set-up messages.

Set-up, once per pair of parties, over the authenticated link:

1. Each party makes an ephemeral X25519 key pair (:class:`KeyExchange`, secret from
   :func:`os.urandom`) and sends its 32-byte public key to the peer over the CURVE link, which
   authenticates it.
2. Each computes the shared secret X25519(own secret, peer public), equal on both ends, and
   rejects an all-zero one (a small-order peer key) and a reflection of its own public key.
3. Each derives one 32-byte key per direction with HKDF-SHA256: salt = label || session id,
   info = label || sender id || receiver id || sender's public key || receiver's public key.
   Everything is ordered by the direction, not by who computes it, so both ends agree which key
   is which: the key of i -> j seals only on i and opens only on j. The ephemeral secret is then
   dropped, so records stay private after the session even if a long-term CURVE key leaks.

A record of one direction (each direction is an independent stream)::

    counter (8 bytes, big-endian) || AES-256-GCM ciphertext (len(payload) bytes) || tag (16 bytes)

with nonce = sender id (2 bytes) || receiver id (2 bytes) || counter (8 bytes), the counter
starting at 0 and growing by one per record (the deterministic construction of NIST SP 800-38D,
8.2.1: never reused under a key). The receiver expects exactly the next counter and uses its own
expected value in the nonce, so a replayed, dropped or reordered record fails before decryption;
the counter is on the wire only to name the failure. The caller's wire header (session, sender,
tag, dtype, shape) is the associated data, so a record moved under another header fails too.

Failures. A record that does not open (shorter than the overhead, an unexpected counter, a bad
tag: modified, truncated, under another header, sealed with another key or for the other
direction) raises ProtocolError, and the opener then refuses every later record: the stream is
broken and the session must abort. Messages name counters, lengths and party ids, never key
material or plaintext; the output buffer is zeroed on failure (OpenSSL writes the plaintext
before it checks the tag).

Limits per key (per direction). At most :data:`MAX_RECORDS` = 2^32 records and
:data:`MAX_BLOCKS` = 2^36 AES blocks counting one extra block per record (about 1 TiB). With
deterministic nonces GCM has no nonce birthday bound; what limits a key is AES's PRP-PRF
distance, an advantage of about (blocks + records)^2 / 2^129, which is 2^-57 at 2^36: the margin
of RFC 8446 section 5.5 and of the CFRG's AEAD usage-limits draft. Past either limit the sealer
raises ProtocolError (make a new exchange). One record carries at most
:data:`MAX_RECORD_PAYLOAD` bytes (``cryptography`` hands OpenSSL at most 2^31 - 1 bytes per
call); the caller splits larger payloads.

Cost: one AES-GCM pass over the payload at each end (AES-NI and carry-less multiply), 24 bytes
per record, no extra round. With ``out=`` buffers and ``cryptography`` >= 46
(``encrypt_into``/``decrypt_into``) nothing is copied; older versions copy once per record.
``cryptography`` 51 refuses an output that overlaps the input, even exactly in place
(ValueError): :data:`IN_PLACE` says whether the installed version takes it, and an overlapping
``out=`` it does not take is filled with one copy (the callers open in place only where it is
taken, :mod:`mpc.net.zmq_records`).

Security model: the exchange is as authentic as the link it runs over (CURVE with the keys of the
hosts file); given that, records are confidential and authentic (IND-CCA, INT-CTXT under the
usual AES-GCM assumptions) and the counters detect replay, reordering and loss. References:
NIST SP 800-38D (GCM), RFC 7748 (X25519), RFC 5869 (HKDF), RFC 8446 section 5.5 (limits).
"""

from __future__ import annotations

import os
import struct

import numpy as np
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from mpc.errors import ConfigError, ProtocolError

__all__ = [
    "KEY_BYTES",
    "MAX_BLOCKS",
    "MAX_RECORDS",
    "MAX_RECORD_PAYLOAD",
    "OVERHEAD",
    "PUBLIC_KEY_BYTES",
    "KeyExchange",
    "RecordOpener",
    "RecordSealer",
    "payload_size",
    "record_size",
]

KEY_BYTES = 32  # AES-256
PUBLIC_KEY_BYTES = 32  # X25519
COUNTER_BYTES = 8
TAG_BYTES = 16
OVERHEAD = COUNTER_BYTES + TAG_BYTES
MAX_RECORDS = 2**32
MAX_BLOCKS = 2**36
MAX_RECORD_PAYLOAD = 2**31 - 1 - TAG_BYTES
MAX_PARTY = 0xFFFF  # party ids are u16 on the wire (0xFFFF is the dealer)
_BLOCK = 16
_LABEL = b"tessera aead v1"
_U64 = struct.Struct(">Q")
_PAIR = struct.Struct(">HH")


def record_size(payload_bytes: int) -> int:
    """Bytes of the record that carries ``payload_bytes`` bytes."""
    return payload_bytes + OVERHEAD


def payload_size(record_bytes: int) -> int:
    """Bytes of the payload in a record of ``record_bytes`` bytes (negative: not a record)."""
    return record_bytes - OVERHEAD


def _party(name: str, pid: object) -> int:
    if isinstance(pid, bool) or not isinstance(pid, int) or not 0 <= pid <= MAX_PARTY:
        raise ConfigError(f"{name}: expected a party id in [0, {MAX_PARTY}], got {pid!r}")
    return pid


def _direction(sender: object, receiver: object) -> tuple[int, int]:
    s, r = _party("sender", sender), _party("receiver", receiver)
    if s == r:
        raise ConfigError(f"sender, receiver: a direction joins two different parties, got {s} twice")
    return s, r


def _direction_key(shared: bytes, session: int, sender: int, receiver: int, sender_public: bytes,
                   receiver_public: bytes) -> bytes:
    """The AES key of the direction sender -> receiver (step 3 of the set-up)."""
    salt = _LABEL + _U64.pack(session)
    info = _LABEL + b" record key" + _PAIR.pack(sender, receiver) + sender_public + receiver_public
    return HKDF(algorithm=hashes.SHA256(), length=KEY_BYTES, salt=salt, info=info).derive(shared)


def _view(buf: object, name: str) -> memoryview:
    """A flat byte view of a C-contiguous buffer (bytes, bytearray, memoryview, NumPy array)."""
    try:
        view = memoryview(buf)
    except TypeError:
        raise ConfigError(f"{name}: expected a bytes-like buffer, got {type(buf).__name__}") from None
    if not view.c_contiguous:
        raise ConfigError(f"{name}: the buffer must be C-contiguous")
    if view.nbytes == 0:  # an empty N-d view cannot be cast; nothing to read or write anyway
        return memoryview(bytearray()) if not view.readonly else memoryview(b"")
    return view if view.ndim == 1 and view.format == "B" else view.cast("B")


def _overlap(a: memoryview, b: memoryview) -> bool:
    """Whether two flat byte views share memory (their address ranges meet)."""
    if not a.nbytes or not b.nbytes:
        return False
    return bool(np.may_share_memory(np.frombuffer(a, np.uint8), np.frombuffer(b, np.uint8)))


def _in_place_taken() -> bool:
    """Whether this ``cryptography``'s AESGCM decrypts exactly in place (output = input): 46 to
    50 do, 51 raises ValueError for any overlap, older ones have no ``decrypt_into``. Probed once,
    with a public all-zero key on zero bytes."""
    aead, nonce = AESGCM(bytes(32)), bytes(12)
    sealed = memoryview(bytearray(aead.encrypt(nonce, bytes(16), b"")))
    try:
        aead.decrypt_into(nonce, sealed, b"", sealed[:16])
    except (AttributeError, ValueError):
        return False
    return True


IN_PLACE = _in_place_taken()


def _out(out: object, nbytes: int) -> memoryview:
    """The first ``nbytes`` of a writable ``out`` buffer, or a fresh one."""
    if out is None:
        return memoryview(bytearray(nbytes))
    view = _view(out, "out")
    if view.readonly:
        raise ConfigError("out: the buffer is read-only")
    if view.nbytes < nbytes:
        raise ConfigError(f"out: needs {nbytes} bytes, got {view.nbytes}")
    return view[:nbytes]


class KeyExchange:
    """One party's side of the set-up with one peer: an ephemeral X25519 key pair.

    Send :attr:`public` to the peer over the authenticated link, then call :meth:`records` with
    the peer's public key. The secret half never leaves this object and is dropped after use;
    a KeyExchange serves one pair of parties in one session.
    """

    __slots__ = ("_secret", "public")

    def __init__(self) -> None:
        self._secret: X25519PrivateKey | None = X25519PrivateKey.from_private_bytes(os.urandom(32))
        self.public: bytes = self._secret.public_key().public_bytes_raw()

    def records(self, peer_public: bytes, *, session: int, me: int, peer: int) -> tuple[RecordSealer, RecordOpener]:
        """(sealer for me -> peer, opener for peer -> me), keyed as the module docstring says.

        ``session`` is the run's 64-bit session id (the wire header's), ``me`` and ``peer`` the
        two party ids; the peer calls this with the roles swapped and gets the matching pair.
        A peer key that gives no shared secret raises ProtocolError.
        """
        if isinstance(session, bool) or not isinstance(session, int) or not 0 <= session < 2**64:
            raise ConfigError(f"session: expected a 64-bit unsigned session id, got {session!r}")
        me, peer = _direction(me, peer)
        if self._secret is None:
            raise ProtocolError("key exchange: this ephemeral key was used already; make a new KeyExchange")
        try:
            theirs = bytes(_view(peer_public, "peer_public"))
        except ConfigError:
            raise ProtocolError(f"key exchange: party {peer} sent a public key that is not bytes") from None
        if len(theirs) != PUBLIC_KEY_BYTES:
            raise ProtocolError(f"key exchange: party {peer} sent a {len(theirs)}-byte public key, "
                                f"expected {PUBLIC_KEY_BYTES}")
        if theirs == self.public:
            raise ProtocolError(f"key exchange: party {peer} sent this party's own public key back")
        try:
            shared = self._secret.exchange(X25519PublicKey.from_public_bytes(theirs))
        except ValueError:  # OpenSSL refuses the all-zero secret of a small-order point
            shared = bytes(KEY_BYTES)
        if not any(shared):
            raise ProtocolError(f"key exchange: party {peer}'s public key gives no shared secret (small order)")
        self._secret = None
        send = _direction_key(shared, session, me, peer, self.public, theirs)
        recv = _direction_key(shared, session, peer, me, theirs, self.public)
        return RecordSealer(send, sender=me, receiver=peer), RecordOpener(recv, sender=peer, receiver=me)


class _Direction:
    """State shared by both ends of one direction: the AEAD and the nonce prefix."""

    __slots__ = ("_aead", "_prefix", "_count", "sender", "receiver")

    def __init__(self, key: bytes, sender: int, receiver: int) -> None:
        self.sender, self.receiver = _direction(sender, receiver)
        try:
            key = bytes(_view(key, "key"))
        except ConfigError:
            raise ConfigError("key: expected 32 bytes") from None
        if len(key) != KEY_BYTES:
            raise ConfigError(f"key: expected {KEY_BYTES} bytes, got {len(key)}")
        self._aead = AESGCM(key)
        self._prefix = _PAIR.pack(self.sender, self.receiver)
        self._count = 0

    @property
    def records(self) -> int:
        """How many records this end has sealed or opened."""
        return self._count

    def __repr__(self) -> str:  # never the key
        return f"{type(self).__name__}({self.sender} -> {self.receiver}, {self._count} records)"


class RecordSealer(_Direction):
    """The sending end of one direction: seals payloads into records, counter by counter.

    One thread at a time: the counter is not locked (the channel owns one sealer per peer)."""

    __slots__ = ("_blocks",)

    def __init__(self, key: bytes, *, sender: int, receiver: int) -> None:
        super().__init__(key, sender, receiver)
        self._blocks = 0

    def seal(self, header: bytes, payload: object, out: object = None) -> memoryview:
        """The record of ``payload`` (any C-contiguous buffer) bound to ``header``.

        Written into ``out`` (a writable buffer of at least ``record_size(len(payload))`` bytes;
        the returned view is its first that many) or into a fresh buffer. Raises ProtocolError
        when the key has reached its limits (module docstring): make a new exchange.
        """
        data = _view(payload, "payload")
        aad = _view(header, "header")
        n = data.nbytes
        if n > MAX_RECORD_PAYLOAD:
            raise ConfigError(f"payload: {n} bytes is more than one record carries ({MAX_RECORD_PAYLOAD}); split it")
        buf = _out(out, n + OVERHEAD)
        ctr = self._spend(n)
        buf[:COUNTER_BYTES] = ctr
        body = buf[COUNTER_BYTES:]
        encrypt_into = getattr(self._aead, "encrypt_into", None)
        if encrypt_into is not None and (IN_PLACE or not _overlap(data, body)):
            encrypt_into(self._prefix + ctr, data, aad, body)
        else:  # cryptography < 46, or an overlap this version refuses: one copy
            body[:] = self._aead.encrypt(self._prefix + ctr, data, aad)
        return buf

    def seal_bytes(self, header: bytes, payload: bytes) -> bytes:
        """:meth:`seal` for a small payload given as bytes, returning bytes: the same record with
        less Python per call (no views or output buffer), for the many small messages of a
        round-bound protocol (about 2 us against 4 us for 48 bytes here)."""
        if len(payload) > MAX_RECORD_PAYLOAD:
            raise ConfigError(f"payload: {len(payload)} bytes is more than one record carries ({MAX_RECORD_PAYLOAD})")
        ctr = self._spend(len(payload))
        return ctr + self._aead.encrypt(self._prefix + ctr, payload, header)

    def _spend(self, n: int) -> bytes:
        """The counter of the next record, of ``n`` payload bytes, spent before encrypting so that
        no failure can lead to its reuse; ProtocolError past the key's limits."""
        count, blocks = self._count, self._blocks + -(-n // _BLOCK) + 1
        if count >= MAX_RECORDS or blocks > MAX_BLOCKS:
            raise ProtocolError(f"records {self.sender} -> {self.receiver}: the key has sealed {count} records "
                                f"({self._blocks} blocks), its limit; the session must make a new key exchange")
        self._count, self._blocks = count + 1, blocks
        return _U64.pack(count)


class RecordOpener(_Direction):
    """The receiving end of one direction: opens records in order, once each.

    One thread at a time, like :class:`RecordSealer`."""

    __slots__ = ("_failed",)

    def __init__(self, key: bytes, *, sender: int, receiver: int) -> None:
        super().__init__(key, sender, receiver)
        self._failed = False

    def open(self, header: bytes, record: object, out: object = None) -> memoryview:
        """The payload of the next record of this direction, which must be bound to ``header``.

        Written into ``out`` (a writable buffer of at least ``payload_size(len(record))`` bytes;
        the returned view is its first that many) or into a fresh buffer. Any record that does
        not open raises ProtocolError, as does every record after it.
        """
        rec = _view(record, "record")
        aad = _view(header, "header")
        n = rec.nbytes - OVERHEAD
        buf = _out(out, max(n, 0))
        nonce = self._start(rec)
        body = rec[COUNTER_BYTES:]
        try:
            decrypt_into = getattr(self._aead, "decrypt_into", None)
            if decrypt_into is not None and (IN_PLACE or not _overlap(body, buf)):
                decrypt_into(nonce, body, aad, buf)
            else:  # cryptography < 46, or an overlap this version refuses: one copy
                buf[:] = self._aead.decrypt(nonce, body, aad)
        except InvalidTag:
            buf[:] = bytes(n)  # OpenSSL wrote unauthenticated plaintext there
            raise self._unauthentic(n) from None
        self._count += 1
        self._failed = False
        return buf

    def open_bytes(self, header: bytes, record: object) -> bytes:
        """:meth:`open` for a small record, returning its payload as bytes: the same checks with
        less Python per call (no views or output buffer). ``record``: bytes or a flat byte
        buffer (a ZeroMQ frame's)."""
        nonce = self._start(record)
        try:
            payload = self._aead.decrypt(nonce, record[COUNTER_BYTES:], header)
        except InvalidTag:
            raise self._unauthentic(len(record) - OVERHEAD) from None
        self._count += 1
        self._failed = False
        return payload

    def _unauthentic(self, n: int) -> ProtocolError:
        return ProtocolError(
            f"record {self._count} from party {self.sender} to party {self.receiver} ({n} payload bytes) failed "
            "authentication: modified, truncated, bound to another header, or sealed with another key"
        )

    def _start(self, rec) -> bytes:
        """The nonce of the next record, after the checks that need no decryption (length,
        counter, limits); from here until it opens, the stream counts as failed."""
        if self._failed:
            raise ProtocolError(f"records {self.sender} -> {self.receiver}: the stream failed before; "
                                "no later record is accepted")
        self._failed = True  # until this record has opened
        want, size = self._count, len(rec)
        if size < OVERHEAD:
            raise ProtocolError(f"record {want} from party {self.sender}: {size} bytes, shorter than "
                                f"the {OVERHEAD}-byte overhead (truncated)")
        if size - OVERHEAD > MAX_RECORD_PAYLOAD:
            raise ProtocolError(f"record {want} from party {self.sender}: {size - OVERHEAD} payload bytes, more "
                                f"than a record carries ({MAX_RECORD_PAYLOAD})")
        got = _U64.unpack_from(rec)[0]
        if got != want:
            raise ProtocolError(f"record from party {self.sender} to party {self.receiver}: counter {got}, "
                                f"expected {want} (replayed, reordered or lost)")
        if want >= MAX_RECORDS:
            raise ProtocolError(f"records {self.sender} -> {self.receiver}: past the key's limit of {MAX_RECORDS}")
        return self._prefix + _U64.pack(want)
