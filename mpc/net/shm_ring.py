"""Same-host payloads through shared memory: one ring per ordered pair of parties.

Why
    Two parties on one host still pay for TCP over loopback: every byte is copied into the
    kernel and out again, plus the TCP stack and ZeroMQ's I/O thread around it. On 2 cores a
    10^6-element product layer (16 MB each way) spent about half of its time there: 16-22 ms
    a step over loopback TCP against 11-12 ms with this ring, the two copies included (see
    bench/README.md). The ring carries only the payload bytes; every header, the ordering, the
    deadlines and the checks stay on the ZeroMQ link, so a dead or silent party is still a
    ``PeerTimeout`` and a malformed message still a ``ProtocolError``.

Layout
    A ring is one file in ``/dev/shm`` (tmpfs), created by the sending party with mode 0600,
    ``O_EXCL`` and a random name, mapped by the sender and by the one receiving party, and
    unlinked as soon as both have it mapped (so a crash afterwards leaves nothing behind; what
    a crash during set-up leaves, ``mpcrun -n`` removes at the end of the run)::

        [0, 8)              consumed: bytes of the stream the receiver is done with (u64),
                            written by the receiver only
        [4096, 4096 + cap)  the payload ring: the stream of payloads, each contiguous

    Positions are absolute byte counts of the stream; a payload sits at ``pos % cap`` and never
    straddles the end (the sender skips to the next lap instead). When the receiver has read
    everything, the next payload starts a new lap too, so rounds reuse the same pages.

Protocol (per message of at least :data:`MIN_BYTES` to a peer with a ring)
    1. The sender reads ``consumed``; if the payload fits between its write position and
       ``oldest + cap``, where ``oldest`` is where the first payload the receiver has not
       consumed starts (the sender keeps the spans it wrote; the tail of a lap skipped for a new
       one holds no data, so it is not counted), it copies the payload into the ring at ``pos``
       and sends the usual header followed by a 16-byte reference frame ``pos (u64) | nbytes
       (u64)`` over ZeroMQ. If it does not fit, the payload goes inline over ZeroMQ as always: a
       send never waits.
    2. The receiver, handed the reference in stream order, checks it (``pos`` not behind its
       own position, ``nbytes`` equal to the header's, the span inside the ring; else
       ``ProtocolError``), copies the bytes out into a fresh array, then stores
       ``pos + nbytes`` into ``consumed``. The array it returns is its own: the ring span can
       be reused at once, and the caller may keep the array as long as it likes.

    Memory ordering: the payload is written before the ZeroMQ send that announces it and read
    after the receive (both pass through a lock and a system call), and ``consumed`` is stored
    after the copy out. x86-64 keeps a store behind earlier loads and stores (TSO), which is
    all the counter needs; the ring is therefore only offered on x86-64 (elsewhere the links
    stay on TCP, see :func:`available`).

Setup (:func:`negotiate`, run by the channel right after its handshake; every party takes part
whether or not it wants rings, so a party with rings off still pairs with one that has them on)
    1. Each party sends every peer an offer: the name of its ring for that peer after one byte
       that says whether it wants the ring sealed (``s``) or not (``p``), or ``-`` when it has
       none (rings off, another host, no ``/dev/shm``, not x86-64).
    2. Each party maps the offered rings it accepts (a regular file of the right size owned by
       this user; its own rings must be on too) and answers each peer 0 (declined), 1 (mapped)
       or 2 (mapped, and it wants the ring sealed).
    3. A sender uses its ring to a peer only after that peer answered 1 or 2; then it unlinks
       the file. On an encrypted channel the ring is *sealed* (carries AES-GCM records) when
       either end wants it, so both ends agree; on a plaintext channel it never is.
    Cost: two small all-to-all exchanges under tag 0 (never used by operations) at setup.

Security model
    The parties share the host and the user. Another user cannot open a 0600 file (the receiver
    also checks the owner), and then the link simply stays on TCP. A malicious peer can write
    anything into its own ring: that is the same as sending those bytes, and the receiver copies
    the bytes out once, so it sees one fixed message (which is why payloads are not handed out
    as views of the ring: spdz2k checks MACs on opened values after using them). It could also
    truncate the file under the receiver's mapping, which kills the receiver with SIGBUS: no
    more than the signal a process of the same user can send it anyway.

    What else can reach a ring is another process of the same user: the file while it is
    offered, or later through ``/proc/<pid>/fd`` of the sender (which keeps it open), a
    permission Linux grants to any process of the user. Whether that process could read the
    payloads anyway depends on the host:
    - without a ptrace restriction (no Yama, or Yama's ``ptrace_scope`` 0: Debian's default
      kernels, most containers) it can read every party's memory through ``/proc/<pid>/mem``,
      shares, keys and plaintext included, so sealing the ring protects nothing; the ring
      carries the payloads, as on a plaintext channel (the same-user argument);
    - with ``ptrace_scope`` >= 1 (Ubuntu's default, hardened hosts) it cannot read the parties'
      memory, and the ring would be the one place it could read payloads: there the rings of an
      encrypted channel carry AES-GCM records (``put(payload, sealer, header)``,
      ``take(ref, nbytes, opener, header)``: sealed straight into the ring and opened straight
      out of it, in place of the two copies), so such a process can neither read a payload nor
      alter one undetected (:mod:`mpc.net.zmq_records`).
    The channel's ``shm_sealed`` (``--shm sealed`` / ``--shm on`` of mpcrun) forces either
    choice; the default follows :func:`ptrace_restricted`. The price of sealing is an AES-GCM
    pass at each end instead of a copy, about 3 GB/s a core without VAES: bench/README.md's
    ``encrypted sealed`` lines beside the ``encrypted`` ones.

Cost
    Per message: one copy in (sender) and one copy out (receiver), a 16-byte reference on the
    ZeroMQ link, no system call for the payload (one ``posix_fallocate`` while the stream first
    reaches new pages). Memory: up to ``capacity`` bytes of tmpfs per ordered pair, reserved
    only as the stream reaches them (a run of small messages reserves none); when tmpfs is full
    the payload goes inline. Payloads larger than ``capacity/2`` always go inline.
"""

from __future__ import annotations

import mmap
import os
import platform
import secrets
import stat
import struct
from collections import deque

import numpy as np

from mpc.crypto.aead import RecordOpener, RecordSealer, record_size
from mpc.errors import ProtocolError

SHM_DIR = "/dev/shm"
CONTROL_BYTES = 4096
CAPACITY = 64 << 20  # bytes of payload ring per ordered pair
MIN_BYTES = 1 << 16
"""The smallest payload that takes the ring (64 KiB, zmq_frames' zero-copy threshold). Smaller
ones stay inline, where one message through the kernel is cheap. Down to here the ring is as
fast as loopback TCP on a plaintext link, and on an encrypted one it spares the payload's ~8
records over TCP: 512 KiB exchanged by 2 parties took 0.27-0.32 ms instead of 1.15-1.20 ms
(unsealed; 0.36-0.41 ms instead of 1.09-1.14 ms sealed), 256 KiB 0.19-0.22 instead of 0.62-0.72
ms, on the Zen 4 VM at cbf848a (two parties exchanging one payload in a loop, encrypted
default). It was 1 MiB before, which left W2's 512 KiB masked opening on the records' path."""
REF = struct.Struct("<QQ")  # the reference frame: stream position, payload bytes
REF_BYTES = REF.size
_PREFIX = "tessera-"
YAMA_PTRACE_SCOPE = "/proc/sys/kernel/yama/ptrace_scope"


def ptrace_restricted(path: str = YAMA_PTRACE_SCOPE) -> bool:
    """Whether this host keeps a process from reading the memory of another process of the same
    user (Yama's ``ptrace_scope`` >= 1: only a parent may attach, or nobody). No Yama (no such
    file, as on Debian's default kernels) means no restriction; a value that cannot be read or
    parsed counts as restricted, the cautious answer. What it decides: see ``sealed`` in
    :func:`negotiate`."""
    try:
        with open(path, encoding="ascii") as f:
            return int(f.read().strip()) >= 1
    except FileNotFoundError:
        return False
    except (OSError, ValueError):
        return True


def available() -> bool:
    """Whether this host can carry rings: Linux tmpfs at /dev/shm on x86-64 (see the docstring)."""
    return platform.machine().lower() in ("x86_64", "amd64") and os.path.isdir(SHM_DIR)


def _map(fd: int, size: int) -> mmap.mmap:
    return mmap.mmap(fd, size, mmap.MAP_SHARED, mmap.PROT_READ | mmap.PROT_WRITE)


class _Mapped:
    """A mapped ring file: the consumed counter and the payload bytes as numpy views."""

    def __init__(self, mm: mmap.mmap, capacity: int) -> None:
        self._mm = mm
        self.capacity = capacity
        self.consumed = np.frombuffer(mm, dtype=np.uint64, count=1, offset=0)
        self.ring = np.frombuffer(mm, dtype=np.uint8, count=capacity, offset=CONTROL_BYTES)
        self.sealed = False  # carries AES-GCM records instead of payloads (set by negotiate)

    def close(self) -> None:
        self.consumed = self.ring = None
        try:
            self._mm.close()
        except BufferError:  # an array still views the map: it goes with the last reference
            pass


class Outgoing(_Mapped):
    """The sending end: created fresh (``O_EXCL``, 0600) under a random name."""

    def __init__(self, session: int, sender: int, receiver: int, capacity: int = CAPACITY) -> None:
        name = f"{_PREFIX}{session:016x}-{sender}-{receiver}-{secrets.token_hex(8)}"
        path = os.path.join(SHM_DIR, name)
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
        try:
            # sparse beyond the control page: ring pages are reserved as the stream first reaches
            # them (put), so a run of small messages costs no memory
            os.posix_fallocate(fd, 0, CONTROL_BYTES)
            os.ftruncate(fd, CONTROL_BYTES + capacity)
            mm = _map(fd, CONTROL_BYTES + capacity)
        except BaseException:
            os.close(fd)
            os.unlink(path)
            raise
        super().__init__(mm, capacity)
        self._fd = fd  # kept to reserve ring pages (posix_fallocate) as the stream grows
        self._reserved = 0  # ring bytes [0, _reserved) are backed by tmpfs pages
        self.name = name
        self.path = path
        self._write = 0  # absolute stream position of the next payload
        self._spans: deque[tuple[int, int]] = deque()  # (start, end) of the payloads not known read
        self.sent = 0  # payloads that went through the ring

    def unlink(self) -> None:
        """Remove the file (the mappings stay valid); idempotent."""
        if self.path is not None:
            try:
                os.unlink(self.path)
            except FileNotFoundError:
                pass
            self.path = None

    def put(self, payload: np.ndarray, sealer: RecordSealer | None = None, header: bytes = b"") -> bytes | None:
        """Copy a C-contiguous payload into the ring and return its reference frame, or None
        when the receiver has not freed enough room (the caller sends it another way).

        With a ``sealer`` the ring gets the payload's AES-GCM record bound to ``header``
        instead (:mod:`mpc.crypto.aead`: sealed straight into the ring, no extra copy), and the
        record's counter is spent only when it goes in."""
        nbytes = payload.nbytes if sealer is None else record_size(payload.nbytes)
        if nbytes > self.capacity // 2:
            return None
        pos, consumed = self._write, int(self.consumed[0])
        spans = self._spans
        while spans and spans[0][1] <= consumed:  # payloads the receiver is done with
            spans.popleft()
        empty = not spans  # the receiver has read everything: the whole ring is free
        at = pos % self.capacity
        if at and (empty or at + nbytes > self.capacity):
            # Start the next lap when the receiver has read everything (the usual case: one
            # exchange per round), so every round writes the same, already mapped pages: a
            # stream that kept moving on would fault in fresh pages on both ends for a whole
            # lap (measured: a 16 MB exchange 2-3x slower); and never straddle the end.
            pos += self.capacity - at
            at = 0
        # Unread bytes start where the oldest unread payload does, not at ``consumed``: when the
        # previous payload started a new lap, the skipped tail of the lap before holds nothing.
        # (Counting it refused the truncation's 8 MB after a 16 MB product whenever the peer had
        # not yet read the product's payload: it then went over TCP instead.)
        if not empty and pos + nbytes - spans[0][0] > self.capacity:  # would overwrite unread bytes
            return None
        if at + nbytes > self._reserved:
            # A write to a page tmpfs cannot supply would kill this process with SIGBUS (a full
            # /dev/shm, e.g. a container's 64 MB); reserving first turns that into ENOSPC, and
            # the payload goes inline instead.
            try:
                os.posix_fallocate(self._fd, CONTROL_BYTES + self._reserved, at + nbytes - self._reserved)
            except OSError:
                return None
            self._reserved = at + nbytes
        span = self.ring[at : at + nbytes]
        if sealer is None:
            np.copyto(span, payload.reshape(-1).view(np.uint8))
        else:
            sealer.seal(header, payload, out=span)
        self._write = pos + nbytes
        spans.append((pos, pos + nbytes))
        self.sent += 1
        return REF.pack(pos, nbytes)

    def close(self) -> None:
        self.unlink()
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
        super().close()


class Incoming(_Mapped):
    """The receiving end: the peer's ring, opened by the name it offered."""

    def __init__(self, name: str, capacity: int = CAPACITY) -> None:
        if not name.startswith(_PREFIX) or "/" in name or name in (".", ".."):
            raise ProtocolError("shared-memory offer: not a ring name")
        fd = os.open(os.path.join(SHM_DIR, name), os.O_RDWR | os.O_NOFOLLOW)
        try:
            st = os.fstat(fd)
            if not stat.S_ISREG(st.st_mode) or st.st_uid != os.getuid() or st.st_size != CONTROL_BYTES + capacity:
                raise ProtocolError("shared-memory offer: the ring file is not this user's or has the wrong size")
            mm = _map(fd, CONTROL_BYTES + capacity)
        finally:
            os.close(fd)
        super().__init__(mm, capacity)
        self._read = 0  # the stream position this end has consumed up to

    def take(
        self, ref: bytes | memoryview, nbytes: int, opener: RecordOpener | None = None, header: bytes = b""
    ) -> memoryview:
        """The payload a reference frame points at, copied out (the ring span is freed at once).
        ``nbytes`` is what the message header declares. With an ``opener`` the span holds the
        payload's record bound to ``header``, opened (decrypted and checked) straight into the
        returned array; a record that does not open raises ProtocolError."""
        pos, size = REF.unpack(bytes(ref))
        at = pos % self.capacity
        want = nbytes if opener is None else record_size(nbytes)
        if size != want or pos < self._read or at + size > self.capacity or size > self.capacity // 2:
            raise ProtocolError(
                f"shared-memory reference out of order or out of range ({size} bytes at stream "
                f"position {pos}; header declares {nbytes} bytes, stream is at {self._read})"
            )
        if opener is None:
            out = self.ring[at : at + size].copy()
        else:
            out = np.empty(nbytes, dtype=np.uint8)
            opener.open(header, self.ring[at : at + size], out=out)
        self._read = pos + size
        self.consumed[0] = self._read  # after the copy: the sender may now reuse the span
        return out.data


_NONE = "-"
_MAX_NAME = 128


def remove_leftovers(session: int) -> int:
    """Unlink this user's ring files of ``session`` that are still in /dev/shm (a party that died
    between creating a ring and the end of set-up leaves its file); the number removed. The
    launcher calls it when a run ends."""
    if not os.path.isdir(SHM_DIR):
        return 0
    removed = 0
    prefix = f"{_PREFIX}{session:016x}-"
    for name in os.listdir(SHM_DIR):
        path = os.path.join(SHM_DIR, name)
        try:
            if name.startswith(prefix) and os.lstat(path).st_uid == os.getuid():
                os.unlink(path)
                removed += 1
        except FileNotFoundError:
            pass
    return removed


_SEAL = {True: b"s", False: b"p"}  # an offer's first byte: the sender wants its ring sealed, or not
DECLINED, ACCEPTED, ACCEPTED_SEALED = 0, 1, 2  # the answers of setup step 2


def negotiate(
    channel, wanted: set[int], seal: bool | None = None
) -> tuple[dict[int, Outgoing], dict[int, Incoming]]:
    """Setup steps 1-3 of the module docstring over ``channel`` (tag 0): the rings to and from
    each peer, for the peers in ``wanted`` whose side agrees. Every party must call it.

    ``seal``: on an encrypted channel, whether this party wants its rings (both directions) to
    carry AES-GCM records; None on a plaintext channel, whose rings carry the payloads. A ring
    is sealed when either end wants it (the offer's first byte says the sender's wish, the
    answer the receiver's), so both ends set the same ``sealed`` on their side of it."""
    out: dict[int, Outgoing] = {}
    inn: dict[int, Incoming] = {}
    want = bool(seal)

    def sealed(theirs: bool) -> bool:  # the same rule at both ends of a ring
        return seal is not None and (want or theirs)
    try:
        for p in channel.peers:
            if p in wanted:
                try:
                    out[p] = Outgoing(channel.session, channel.pid, p)
                except OSError:  # no room in /dev/shm, or a name clash: this link stays on TCP
                    pass
        for p in channel.peers:
            offer = _SEAL[want] + out[p].name.encode("ascii") if p in out else _NONE.encode()
            channel.send(p, np.frombuffer(offer, dtype=np.uint8), tag=0)
        for p in channel.peers:
            offer = bytes(channel.recv(p, 0, dtype=np.uint8))
            flag, name = offer[:1], offer[1:]
            if p in wanted and flag in _SEAL.values() and 0 < len(name) <= _MAX_NAME:
                try:
                    ring = Incoming(name.decode("ascii"))
                except (OSError, UnicodeDecodeError, ProtocolError):
                    continue  # another user's, another host's or a bogus ring: decline it
                ring.sealed = sealed(flag == _SEAL[True])
                inn[p] = ring
        for p in channel.peers:
            answer = DECLINED if p not in inn else ACCEPTED_SEALED if want else ACCEPTED
            channel.send(p, np.array([answer], dtype=np.uint8), tag=0)
        for p in channel.peers:
            (answer,) = channel.recv(p, 0, dtype=np.uint8, shape=(1,))
            if p not in out:
                continue
            if answer in (ACCEPTED, ACCEPTED_SEALED):
                out[p].sealed = sealed(answer == ACCEPTED_SEALED)
            else:
                out.pop(p).close()
    except BaseException:
        for ring in (*out.values(), *inn.values()):
            ring.close()
        raise
    for ring in out.values():
        ring.unlink()  # both ends have it mapped: nothing is left behind from here on
    return out, inn
