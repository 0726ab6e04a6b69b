"""Matrix triples over Z_2^64 from packed Paillier encryption, 2 parties (N parties pairwise).

A matrix triple for ``(m, k) x (k, n)`` is additive shares of ``A`` (m x k), ``B`` (k x n) and
``C = A @ B mod 2^64``. Each party draws its own shares ``A_i, B_i`` uniformly; then

    C = A_0 B_0 + A_1 B_1 + (A_0 B_1 + A_1 B_0)

where the first two terms are local products and each cross term ``A_i B_j`` is turned into
additive shares by one Paillier exchange in which party j encrypts its ``B_j`` once under its own
key and party i evaluates ``Enc(A_i B_j + R)`` (the matrix-triple idea of SecureML, Mohassel-Zhang
S&P 2017, section IV-B, with packing as in Rathee et al. / the "Paillier with packing" line of
work; the packing bound is proved in :mod:`mpc.crypto.paillier`).

Protocol, per party, both directions at once (so a pair finishes in two message rounds):

1. Both parties take the same exponent split ``h`` in {1, 2, 4} (:func:`exponent_split`: the
   one of least predicted cost for the shape, a pure function of it): the evaluator will cut its
   64-bit ``A`` into h pieces of ``e = 64 / h`` bits, ``A = sum_t 2^(t e) A_t``, and since
   ``A B = sum_t A_t (2^(t e) B mod 2^64) mod 2^64`` the key holder encrypts the h plaintext
   matrices ``B_t = 2^(t e) B mod 2^64`` (still 64-bit values). A slot then sums ``h k``
   products of a 64-bit plaintext and an e-bit exponent: ``value_bits = 64 + e + ceil(log2(h
   k))`` instead of ``128 + ceil(log2 k)``, so more slots fit (:func:`split_layout`: 11, 14, 15
   at k = 256 for h = 1, 2, 4) at the price of h k bases with e-bit exponents. Each party has a
   Paillier key (its own, 2048 bits by default) and that layout: ``s`` slots per plaintext. It
   splits every row ``l`` of each ``B_t`` (k x n) into ``G = ceil(n / s)`` groups of s columns,
   packs each group into one plaintext and encrypts it with the CRT fast path: ``h k G``
   ciphertexts, ordered (t, l, g). It sends ``KEY`` = header || n || ciphertexts (message 1).
2. It receives the peer's message 1 and validates it (header, sizes, key size, every ciphertext
   in ``Z*_{n'^2}``; else ProtocolError).
3. Evaluator side: for every group g and row i it computes ``prod_(t, l) Enc(B'_t[l, g])^(A_t[i,
   l])``, which is ``Enc`` of the packed ``sum_(t, l) A_t[i, l] * B'_t[l, j]`` (= ``(A_own B')[i,
   j] mod 2^64`` plus a multiple of 2^64) for the s columns j of g (Straus multi-exponentiation
   with one window table per ciphertext, shared by the m rows),
   multiplies in ``Enc(pack(R[i, g]))`` with a fresh randomiser (uniform masks of
   ``value_bits + sigma`` bits per slot), and sends the ``m * G`` results (message 2). Its share
   of the cross term is ``-R mod 2^64``.
4. Key-holder side: it receives the peer's message 2 (validated), decrypts with CRT, unpacks; its
   share of the cross term is ``slot mod 2^64``: slot = ``A' B_own + R`` exactly (no slot overflow,
   no wrap modulo n: the bound of :mod:`mpc.crypto.paillier`), so the two shares sum to
   ``A' B_own mod 2^64``.
5. ``C_own = A_own @ B_own + (cross shares of both directions)``.

Cost per party for (m, k, n), 2048-bit keys, sigma = 40, split h: ``s = floor(2047 / (105 + e +
ceil(log2(h k))))`` slots, ``G = ceil(n / s)``. Sent: ``(h k + m) * G`` ciphertexts of 512 bytes
plus 256 + 40 bytes of key and headers (256^3 takes h = 2: 14 slots, 19 groups, 7.5 MB per
party, the same received; h = 1 would be 11 slots, 24 groups, 6.3 MB). Work: ``h k G``
half-size encryptions, ``G * (h k (2^w - 1) + m (w (W - 1) + h k W))`` multiplications modulo
n^2 with the Straus window ``w`` = :func:`best_window(m, e)` and ``W = ceil(e / w)`` windows (for
256^3, h = 2, w = 8, W = 4: ``19 (512 * 255 + 256 (24 + 2048))`` = 12.6 million, the dominant term;
h = 1 needs 14.5 million), ``m * G`` randomisers ``r^n mod n^2`` (from a pool: P = 276 powers and
``P + 1`` multiplications each, :func:`~mpc.crypto.paillier.powers_of_random`) and ``m * G`` CRT
decryptions (4,864 at 256^3 instead of 6,144). Rounds: 2. :func:`paillier_matrix_cost`
evaluates this with unit times measured on the machine (:func:`calibrate`);
:func:`paillier_cheaper` compares it with the OT path's :func:`ot_matrix_cost` for
``ot_matrix="auto"``. Measured at 256^3 with the IFMA kernel (``python -m bench paillier``, 2
processes over a pipe, nothing else running): 25.3-25.5 s wall and 25.0-25.4 s of CPU per party
(3 runs) and 83-84 MB peak memory; under a load average of about 4.5, 26.9-28.3 s of CPU where
the unsplit protocol with the previous kernel took 34.4-36.7 s and 100 MB (0.79 of it). The
phases of one party (CPU, each timed alone): evaluation 17.2 s (0.90 s per group), decryption 3.5 s, randomisers
2.9 s, encryption of B (9,728 half-size CRT encryptions) 1.2 s, validation 0.04 s, packing and
bytes under 0.1 s; the key (one per party, 2048 bits, made before) takes 0.05 s.

N > 2 parties (:func:`matrix_triple_shares_multi`): ``C = sum_i A_i B_i + sum_{i<j} (A_i B_j +
A_j B_i)``; every pair runs the exchange above once (each party reuses its key for every peer)
and adds its cross shares to its local product. Pairs are processed in ascending peer order, and
every exchange sends before it receives, so no schedule deadlocks. Cost per party: (N-1) times
the 2-party cost.

Security model: semi-honest, dishonest majority (each cross term is hidden from the key holder by
the statistical mask R, 2^-sigma, and from the evaluator by IND-CPA of Paillier under the DCR
assumption). The exponent split changes neither: the key holder sends h times as many
ciphertexts (IND-CPA), and each slot's mask still has sigma bits more than the slot's bound
``value_bits`` for that split. Not secure against a malicious party: it could send a malformed key or wrong
products (an authenticated variant needs the MAC checks of SPDZ2k on the result). The messages
are bytes with a fixed header (below); nothing from the peer is unpickled.

Messages (big-endian): header ``magic "TPMT" | type u8 | bits u16 | rows u32 | cols u32 |
k u32 | sigma u16 | count u32`` then, for type 1, the key's n (``bits/8`` bytes) and ``count``
ciphertexts; for type 2, ``count`` ciphertexts. ``rows, cols`` are (k, n) in type 1 and (m, n)
in type 2.

The link is anything with ``send(bytes)`` and ``recv(timeout) -> bytes`` raising PeerTimeout
(:class:`Link`); :func:`queue_link_pair` gives an in-process pair for tests and benchmarks, and
:class:`ChannelLink` runs it over a party :class:`~mpc.net.channel.Channel` (uint8 frames on tags
of its own, counted in the channel section ``"offline"``). :class:`PaillierMatrixHook` is the
``matrix_triple_2pc(channel, peer, A, B)`` callable a preprocessing source can call for the cross
terms (one key per party, made at the first call).
"""

from __future__ import annotations

import queue
import struct
import time
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Protocol

import numpy as np
from gmpy2 import mpz

from mpc._core import get_kernels
from mpc.crypto.paillier import (
    DEFAULT_BITS,
    DEFAULT_SIGMA,
    POOL_DIGIT_BITS,
    PrivateKey,
    PublicKey,
    SlotLayout,
    best_window,
    ciphertexts_from_bytes,
    ciphertexts_to_bytes,
    generate_keypair,
    montgomery_kernel,
    multi_scalar_products,
    multiexp,
    pool_pays,
    pool_size,
)
from mpc.errors import ConfigError, InputError, PeerTimeout, ProtocolError
from mpc.net.channel import Channel
from mpc.prg import PRG

__all__ = [
    "Calibration",
    "ChannelLink",
    "Link",
    "PaillierMatrixHook",
    "QueueLink",
    "calibrate",
    "cross_term_shares",
    "matrix_triple",
    "matrix_triple_shares",
    "matrix_triple_shares_multi",
    "ot_matrix_cost",
    "paillier_cheaper",
    "paillier_matrix_cost",
    "queue_link_pair",
]

MAGIC = b"TPMT"
_HEADER = struct.Struct(">4sBHIIIHI")
TYPE_KEY, TYPE_RESULT = 1, 2
_MASK64 = (1 << 64) - 1


class Link(Protocol):
    """A reliable, ordered byte link to one peer."""

    def send(self, data: bytes) -> None:
        """Queue ``data`` for the peer without waiting for the peer to read it (both parties
        send their first message before receiving: a send that blocks would deadlock)."""
        ...

    def recv(self, timeout: float) -> bytes:
        """The next message; PeerTimeout after ``timeout`` seconds."""
        ...


class QueueLink:
    """One end of an in-process link (two queues); see :func:`queue_link_pair`."""

    def __init__(self, inbox: queue.Queue, outbox: queue.Queue, name: str = "peer") -> None:
        self._in, self._out, self._name = inbox, outbox, name
        self.sent = 0
        self.received = 0

    def send(self, data: bytes) -> None:
        data = bytes(data)
        self.sent += len(data)
        self._out.put(data)

    def recv(self, timeout: float) -> bytes:
        try:
            data = self._in.get(timeout=timeout)
        except queue.Empty:
            raise PeerTimeout(f"paillier matrix: no message from {self._name} within {timeout:.0f} s") from None
        self.received += len(data)
        return data


def queue_link_pair() -> tuple[QueueLink, QueueLink]:
    a, b = queue.Queue(), queue.Queue()
    return QueueLink(a, b, "party 1"), QueueLink(b, a, "party 0")


# Tags of this module's offline messages: above the OT links' ``1 << 62`` counter range and far
# from the online operation counter; both ends advance their own counter identically.
PAILLIER_TAGS = (1 << 62) | (1 << 56)
SECTION = "offline"


class ChannelLink:
    """A :class:`Link` to ``peer`` over a party channel: each message one uint8 frame whose tag
    comes from ``tags`` (a per-pair counter both ends advance alike: message i of the exchange has
    the same tag at both ends), counted in the section ``"offline"``. The channel checks session,
    sender and tag; its own deadline applies when ``recv`` is given none."""

    def __init__(self, channel: Channel, peer: int, first_tag: int = PAILLIER_TAGS) -> None:
        self.channel, self.peer = channel, peer
        self._send_tag = self._recv_tag = first_tag

    def send(self, data: bytes) -> None:
        self._send_tag += 1
        with self.channel.section(SECTION):
            self.channel.send(self.peer, np.frombuffer(bytes(data), dtype=np.uint8), self._send_tag)

    def recv(self, timeout: float) -> bytes:
        self._recv_tag += 1
        with self.channel.section(SECTION):
            arr = self.channel.recv(self.peer, self._recv_tag, dtype=np.uint8, timeout=timeout)
        if arr.ndim != 1:
            raise ProtocolError(f"paillier matrix: expected a 1-d byte frame, got shape {arr.shape}")
        return arr.tobytes()

    @property
    def next_tag(self) -> int:
        return max(self._send_tag, self._recv_tag)


class PaillierMatrixHook:
    """``hook(channel, peer, A, B)`` -> this party's share of ``A_me B_peer + A_peer B_me``
    (uint64, mod 2^64): the cross terms of a 2-party matrix triple by :func:`cross_term_shares`
    over a :class:`ChannelLink`. One Paillier key per party (``bits``), made at the first call
    and reused; tags continue from call to call. Both parties call it at the same point."""

    def __init__(self, bits: int = DEFAULT_BITS, sigma: int = DEFAULT_SIGMA, workers: int = 1,
                 key: PrivateKey | None = None, timeout: float | None = None) -> None:
        self.bits, self.sigma, self.workers, self.timeout = bits, sigma, workers, timeout
        self._key = key
        self._tags: dict[int, int] = {}
        self.stats: dict = {}

    def __call__(self, channel: Channel, peer: int, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        a, b = _check_shapes(a, b)
        if self._key is None:
            self._key = generate_keypair(self.bits)
        link = ChannelLink(channel, peer, self._tags.get(peer, PAILLIER_TAGS))
        timeout = channel.timeout if self.timeout is None else self.timeout
        share = cross_term_shares(link, a, b, self._key, sigma=self.sigma, timeout=timeout,
                                  stats=self.stats, workers=self.workers)
        self._tags[peer] = link.next_tag
        return share


# ----------------------------------------------------------------------------------------------
# messages


def _header(kind: int, bits: int, rows: int, cols: int, k: int, sigma: int, count: int) -> bytes:
    return _HEADER.pack(MAGIC, kind, bits, rows, cols, k, sigma, count)


def _parse(data: bytes, kind: int, bits: int, rows: int, cols: int, k: int, sigma: int, count: int) -> memoryview:
    """The body after a header that must equal the expected one (else ProtocolError)."""
    if len(data) < _HEADER.size:
        raise ProtocolError(f"paillier matrix: message of {len(data)} bytes is shorter than its header")
    got = _HEADER.unpack_from(data)
    want = (MAGIC, kind, bits, rows, cols, k, sigma, count)
    if got != want:
        names = ("magic", "type", "bits", "rows", "cols", "k", "sigma", "count")
        diff = ", ".join(f"{nm} {g!r} != {w!r}" for nm, g, w in zip(names, got, want, strict=True) if g != w)
        raise ProtocolError(f"paillier matrix: unexpected header ({diff})")
    return memoryview(data)[_HEADER.size:]


# ----------------------------------------------------------------------------------------------
# the protocol


def _check_shapes(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    a = np.ascontiguousarray(a)
    b = np.ascontiguousarray(b)
    if a.dtype != np.uint64 or b.dtype != np.uint64:
        raise InputError(f"paillier matrix: shares must be uint64 (got {a.dtype}, {b.dtype})")
    if a.ndim != 2 or b.ndim != 2 or a.shape[1] != b.shape[0] or 0 in a.shape or 0 in b.shape:
        raise InputError(f"paillier matrix: shapes {a.shape} x {b.shape} do not form (m, k) x (k, n)")
    return a, b


SPLITS = (1, 2, 4)  # pieces the evaluator may cut its 64-bit exponents into (module doc, step 1)


def split_layout(bits: int, k: int, sigma: int = DEFAULT_SIGMA, split: int = 1) -> SlotLayout:
    """The slots for exponents cut into ``split`` pieces of ``64 / split`` bits: sums of
    ``split * k`` products of a 64-bit plaintext and a ``64 / split``-bit exponent."""
    if split not in SPLITS:
        raise InputError(f"paillier matrix: exponent split {split!r} not in {SPLITS}")
    return SlotLayout.for_inner_products(bits, split * k, 64, sigma, exp_bits=64 // split)


def exponent_split(m: int, k: int, n: int, bits: int = DEFAULT_BITS, sigma: int = DEFAULT_SIGMA) -> int:
    """The split of :data:`SPLITS` with the least :func:`paillier_matrix_cost` under the
    reference unit times (:data:`REFERENCE_CALIBRATION`, whatever ``bits``): a pure function of
    the shape, so both parties pick the same one without a message (a mismatch would show as a
    wrong ciphertext count in message 1: ProtocolError)."""
    cal = replace(REFERENCE_CALIBRATION, bits=bits)
    best, err = None, None
    for split in SPLITS:
        try:
            secs = paillier_matrix_cost(m, k, n, bits=bits, sigma=sigma, calibration=cal, split=split)["seconds"]
        except ConfigError as exc:  # no slot fits this split at this key size
            err = err or exc
            continue
        if best is None or secs < best[0]:
            best = (secs, split)
    if best is None:
        raise err
    return best[1]


def _exponent_pieces(a: np.ndarray, split: int) -> np.ndarray:
    """``[A_0 | A_1 | ...]`` (m x split k): ``A_t = (A >> (t e)) mod 2^e``, e = 64 / split, so
    ``A = sum_t 2^(t e) A_t``."""
    if split == 1:
        return a
    e = 64 // split
    low = np.uint64((1 << e) - 1)
    return np.ascontiguousarray(np.concatenate([(a >> np.uint64(t * e)) & low for t in range(split)], axis=1))


def _plaintext_pieces(b: np.ndarray, split: int) -> list[np.ndarray]:
    """``B_t = 2^(t e) B mod 2^64`` (k x n each): ``sum_t A_t B_t = A B mod 2^64``."""
    e = 64 // split
    return [b << np.uint64(t * e) for t in range(split)]


def _pack_columns(layout: SlotLayout, b: np.ndarray) -> list[mpz]:
    """Row-major (l, g): group g of row l packed into one plaintext."""
    k, n = b.shape
    s = layout.slots
    rows = b.tolist()
    return [layout.pack(row[g:g + s]) for row in rows for g in range(0, n, s)]


def _random_masks(count: int, bits: int, prg: PRG) -> list[int]:
    nbytes = (bits + 7) // 8
    raw = prg.random_bytes(count * nbytes)
    top = (1 << bits) - 1
    return [int.from_bytes(raw[i * nbytes:(i + 1) * nbytes], "little") & top for i in range(count)]


def cross_term_shares(
    link: Link, a_own: np.ndarray, b_own: np.ndarray, key: PrivateKey, *,
    sigma: int = DEFAULT_SIGMA, timeout: float = 600.0, prg: PRG | None = None, stats: dict | None = None,
    workers: int = 1,
) -> np.ndarray:
    """This party's additive share (m x n uint64) of ``A_own B_peer + A_peer B_own mod 2^64``.

    Both parties call it with their own shares (same shapes, same ``sigma``, keys of the same
    size); steps 1-4 of the module doc. ``stats`` (a dict) receives per-phase seconds and bytes.
    ``workers`` threads share the exponentiations (gmpy2 releases the GIL in them): on a host with
    that many free cores every phase but packing runs about that much faster."""
    a_own, b_own = _check_shapes(a_own, b_own)
    m, k = a_own.shape
    n = b_own.shape[1]
    pub = key.public
    bits = pub.bits
    split = exponent_split(m, k, n, bits, sigma)
    layout = split_layout(bits, k, sigma, split)
    s = layout.slots
    groups = -(-n // s)
    count1 = split * k * groups  # ciphertexts of message 1
    prg = prg or PRG.fresh()
    st = stats if stats is not None else {}
    clock = time.perf_counter

    # 1. encrypt the own B (its split pieces) once, packed, and send it with the key
    t0 = clock()
    plains = [x for piece in _plaintext_pieces(b_own, split) for x in _pack_columns(layout, piece)]
    cts_own = key.encrypt_many(plains, workers)
    del plains
    msg1 = ciphertexts_to_bytes(pub, cts_own, _header(TYPE_KEY, bits, k, n, k, sigma, count1) + pub.to_bytes())
    st["encrypt_s"] = clock() - t0
    link.send(msg1)
    sent = len(msg1)
    del msg1, cts_own  # memory: the link owns the message now

    # 2. the peer's key and encrypted B
    t0 = clock()
    body = _parse(link.recv(timeout), TYPE_KEY, bits, k, n, k, sigma, count1)
    received = len(body) + _HEADER.size
    kb = (bits + 7) // 8
    peer = PublicKey.from_bytes(bytes(body[:kb]), bits)
    if peer == pub:
        raise ProtocolError("paillier matrix: the peer sent this party's own public key")
    cts_peer = ciphertexts_from_bytes(peer, body[kb:], count1)
    st["wait_validate_s"] = clock() - t0

    # 3. evaluate Enc(A_own B_peer + R) and send it
    t0 = clock()
    out: list[mpz] = [mpz(0)] * (m * groups)
    exps, e = _exponent_pieces(a_own, split), 64 // split
    for g in range(groups):
        col = cts_peer[g::groups]  # ciphertexts (t, l, g) for t < split, l < k
        for i, c in enumerate(multi_scalar_products(peer, col, exps, e, best_window(m, e), workers=workers)):
            out[i * groups + g] = c
    st["evaluate_s"] = clock() - t0
    del cts_peer, body, exps
    t0 = clock()
    noise = peer.noise(m * groups, workers)
    n_peer, n2_peer = peer.n, peer.n2
    share = np.empty((m, n), dtype=np.uint64)
    for i in range(m):  # row i of the masks R, drawn row by row (memory)
        row = _random_masks(n, layout.mask_bits, prg)
        share[i] = [-r & _MASK64 for r in row]
        for gi, g in enumerate(range(0, n, s)):
            idx = i * groups + gi
            packed = layout.pack(row[g:g + s])
            out[idx] = out[idx] * (1 + packed * n_peer) % n2_peer * noise[idx] % n2_peer
            noise[idx] = None
    del noise
    msg2 = ciphertexts_to_bytes(peer, out, _header(TYPE_RESULT, bits, m, n, k, sigma, m * groups))
    del out
    st["mask_s"] = clock() - t0
    link.send(msg2)
    sent += len(msg2)
    del msg2

    # 4. decrypt the peer's evaluation of A_peer B_own + R'
    t0 = clock()
    data = link.recv(timeout)
    st["wait_s"] = clock() - t0
    t0 = clock()
    body = _parse(data, TYPE_RESULT, bits, m, n, k, sigma, m * groups)
    received += len(data)
    plains = key.decrypt_many(ciphertexts_from_bytes(pub, body, m * groups), workers)
    del body, data
    for i in range(m):
        vals = [int(x) & _MASK64 for gi, g in enumerate(range(0, n, s))
                for x in layout.unpack(plains[i * groups + gi], min(s, n - g))]
        share[i] += np.array(vals, dtype=np.uint64)
    st["decrypt_s"] = clock() - t0
    st["bytes_sent"] = st.get("bytes_sent", 0) + sent
    st["bytes_received"] = st.get("bytes_received", 0) + received
    st["rounds"] = st.get("rounds", 0) + 2
    return share


def matrix_triple_shares(
    link: Link, a_own: np.ndarray, b_own: np.ndarray, key: PrivateKey, **kw,
) -> np.ndarray:
    """This party's share of ``C = A B`` for ``A = A_0 + A_1``, ``B = B_0 + B_1`` (2 parties)."""
    a_own, b_own = _check_shapes(a_own, b_own)
    cross = cross_term_shares(link, a_own, b_own, key, **kw)
    return get_kernels().matmul(a_own, b_own) + cross


def matrix_triple_shares_multi(
    links: Mapping[int, Link], a_own: np.ndarray, b_own: np.ndarray, key: PrivateKey, **kw,
) -> np.ndarray:
    """N parties: this party's share of ``C = (sum A_i)(sum B_i)``, one exchange per peer
    (``links[j]`` is the link to party j), peers in ascending order (module doc)."""
    a_own, b_own = _check_shapes(a_own, b_own)
    c = get_kernels().matmul(a_own, b_own)
    for peer in sorted(links):
        c += cross_term_shares(links[peer], a_own, b_own, key, **kw)
    return c


def matrix_triple(
    links: Mapping[int, Link], m: int, k: int, n: int, *, key: PrivateKey | None = None,
    bits: int = DEFAULT_BITS, prg: PRG | None = None, **kw,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A fresh matrix triple share ``(A_i, B_i, C_i)`` for this party: ``A_i, B_i`` uniform from
    an AES-CTR PRG seeded by :func:`os.urandom`, ``C_i`` from :func:`matrix_triple_shares_multi`."""
    if min(m, k, n) < 1:
        raise InputError(f"matrix_triple: shape ({m}, {k}) x ({k}, {n}) has an empty dimension")
    prg = prg or PRG.fresh()
    key = key or generate_keypair(bits)
    a, b = prg.uint64((m, k)), prg.uint64((k, n))
    return a, b, matrix_triple_shares_multi(links, a, b, key, prg=prg.derive("masks"), **kw)


# ----------------------------------------------------------------------------------------------
# cost model


@dataclass(frozen=True)
class Calibration:
    """Unit times (seconds) measured on this machine for one key size."""

    bits: int
    mulmod: float  # one multiplication modulo n^2
    encrypt_own: float  # one key-holder (CRT) encryption, randomiser computed alone
    noise_public: float  # one r^n mod n^2
    decrypt: float  # one CRT decryption
    mulmod_half: float = 0.0  # one multiplication modulo p^2 (randomiser pools of the key holder)


def _best_of(fn, repeats: int = 3) -> float:
    """The least of ``repeats`` CPU-time measurements of ``fn()`` (one thread: what a party's
    own core spends; a shared machine adds wall time, and adds less CPU time, never removes it)."""
    best = float("inf")
    for _ in range(repeats):
        t0 = time.process_time()
        fn()
        best = min(best, time.process_time() - t0)
    return best


def _time_mulmod(mod, samples: int) -> float:
    """Seconds per multiplication modulo ``mod`` as :func:`multiexp` runs them (compiled Straus
    rows with 4-bit windows, two rows interleaved where the kernel does that, or gmpy2 products)."""
    prg = PRG.fresh()
    bases = [mpz(int.from_bytes(prg.random_bytes((mod.bit_length() + 7) // 8), "big")) % mod for _ in range(samples)]
    if montgomery_kernel() is None:
        def products() -> None:
            x = bases[0]
            for _ in range(8 * samples):
                for c in bases:
                    x = x * c % mod
        return _best_of(products) / (8 * samples * samples)
    rows = 4 * samples
    exps = prg.uint64((rows, samples))
    # tables 2^4 - 1 per base (with the conversion), per row 16 products per base and 4 x 15
    # squarings (the C kernel's counts: 16 first products are copies, 15 join the windows, one
    # converts back)
    return _best_of(lambda: multiexp(mod, bases, exps, 64, 4)) / (samples * 15 + rows * (4 * 15 + samples * 16))


def calibrate(bits: int = DEFAULT_BITS, samples: int = 8) -> Calibration:
    """Measure the unit costs (CPU time, best of 3 each) with a fresh key of ``bits`` bits."""
    key = generate_keypair(bits)
    pub = key.public
    cts = key.encrypt_many(range(1, samples + 1))
    mulmod = _time_mulmod(pub.n2, samples)
    mulmod_half = _time_mulmod(pub.n, samples)  # n has the size of p^2
    enc = _best_of(lambda: key.encrypt_many(range(samples))) / samples
    noise = _best_of(lambda: pub.noise(samples)) / samples
    dec = _best_of(lambda: key.decrypt_many(cts)) / samples
    return Calibration(bits, mulmod, enc, noise, dec, mulmod_half)


def _randomiser_counts(count: int, group_bits: int, exp_bits: int, sigma: int) -> tuple[int, int]:
    """(powers, multiplications) for ``count`` randomisers by
    :func:`~mpc.crypto.paillier.powers_of_random`: ``count`` powers, or a pool of P powers and
    ``P (2^8 - 2) + count (P + 1)`` multiplications."""
    pool = pool_size(group_bits, count, sigma)
    if count <= 0 or not pool_pays(count, exp_bits, pool):
        return max(count, 0), 0
    return pool, pool * ((1 << POOL_DIGIT_BITS) - 2) + count * (pool + 1)


def paillier_matrix_cost(
    m: int, k: int, n: int, *, bits: int = DEFAULT_BITS, sigma: int = DEFAULT_SIGMA,
    calibration: Calibration | None = None, workers: int = 1, split: int | None = None,
) -> dict:
    """Predicted cost per party of one 2-party matrix triple (the module doc's formulas).

    Returns ``bytes_sent`` (= bytes received), ``rounds``, operation counts and ``seconds``,
    the sum of the counts times the unit times of ``calibration`` (measured now if None), divided
    by ``workers`` (ideal scaling: each party has that many free cores). The seconds assume the
    two parties do not share a core."""
    if min(m, k, n) < 1:
        raise InputError(f"paillier_matrix_cost: shape ({m}, {k}) x ({k}, {n}) has an empty dimension")
    cal = calibration or calibrate(bits)
    if cal.bits != bits:
        raise InputError(f"paillier_matrix_cost: calibration for {cal.bits} bits, cost asked for {bits}")
    split = split or exponent_split(m, k, n, bits, sigma)
    layout = split_layout(bits, k, sigma, split)
    groups = -(-n // layout.slots)
    ct_bytes = (2 * bits + 7) // 8
    e, bases = 64 // split, split * k
    w = best_window(m, e)
    nwin = -(-e // w)
    # per group: the tables, then per row one product per base and window, the windows joined by
    # w (nwin - 1) squarings and nwin - 1 products, and the conversions in and out of Montgomery form
    mulmods = groups * (bases * ((1 << w) - 1) + m * (w * (nwin - 1) + bases * nwin + 1))
    sent = 2 * _HEADER.size + (bits + 7) // 8 + (bases + m) * groups * ct_bytes
    # randomisers (pools past the break-even count), the CRT recombination and the (1 + m n)
    # factors: an own encryption's two half-size powers cost about encrypt_own
    enc_powers, half_mulmods = _randomiser_counts(bases * groups, bits // 2, bits // 2, sigma)
    noise_powers, noise_mulmods = _randomiser_counts(m * groups, bits, bits, sigma)
    extra_mulmods = noise_mulmods + 2 * (bases + m) * groups
    seconds = (enc_powers * cal.encrypt_own + 2 * half_mulmods * cal.mulmod_half
               + (mulmods + extra_mulmods) * cal.mulmod + noise_powers * cal.noise_public
               + m * groups * cal.decrypt) / max(1, workers)
    return {
        "m": m, "k": k, "n": n, "bits": bits, "sigma": sigma, "split": split, "slots": layout.slots,
        "groups": groups, "window": w,
        "ciphertexts_sent": (bases + m) * groups, "bytes_sent": sent, "bytes_received": sent, "rounds": 2,
        "mulmods": mulmods, "extra_mulmods": extra_mulmods, "half_mulmods": 2 * half_mulmods,
        "noise_powers": noise_powers, "encryption_powers": enc_powers, "encryptions": bases * groups,
        "randomisers": m * groups, "decryptions": m * groups,
        "seconds": seconds, "seconds_per_op": {
            "mulmod": cal.mulmod, "encrypt_own": cal.encrypt_own, "noise_public": cal.noise_public,
            "decrypt": cal.decrypt,
        },
    }


# ----------------------------------------------------------------------------------------------
# Paillier or OT: the choice of ot_matrix="auto"

# Unit times of this machine (AMD EPYC, AVX-512 IFMA kernel, one core per party, CPU time of a
# quiet run of calibrate()); fixed so that every party, whatever its load, makes the same choice
# without a message.
REFERENCE_CALIBRATION = Calibration(
    bits=DEFAULT_BITS, mulmod=1.32e-6, encrypt_own=0.8e-3, noise_public=3.4e-3, decrypt=0.78e-3, mulmod_half=3.6e-7,
)
# Gilboa matrix triples with vector correlations over loopback: 13.5 s for the 302 MB per party
# of a 64 x 128 x 128 triple (docs/preprocessing.md), computation included.
OT_SECONDS_PER_BYTE = 13.5 / (16 * 128 * 128 + 288 * 128 * 128 * 64)


def ot_matrix_cost(m: int, k: int, n: int, *, seconds_per_byte: float = OT_SECONDS_PER_BYTE) -> dict:
    """Predicted cost per party and pair of the OT path (Gilboa with vector correlations,
    :meth:`~mpc.preprocessing.ot_source.OTPreprocessing.matmul_cross`): ``16 k n + 288 k n m``
    bytes sent (k n 64 OTs carrying m elements, trimmed), ``seconds_per_byte`` each."""
    if min(m, k, n) < 1:
        raise InputError(f"ot_matrix_cost: shape ({m}, {k}) x ({k}, {n}) has an empty dimension")
    sent = 16 * k * n + 288 * k * n * m
    return {"m": m, "k": k, "n": n, "bytes_sent": sent, "seconds": sent * seconds_per_byte}


def paillier_cheaper(m: int, k: int, n: int, *, calibration: Calibration = REFERENCE_CALIBRATION,
                     seconds_per_byte: float = OT_SECONDS_PER_BYTE) -> bool:
    """True when :func:`paillier_matrix_cost` predicts the (m, k) x (k, n) matrix triple cheaper
    than :func:`ot_matrix_cost` (both per party and pair, with the reference unit times: a pure
    function of the shape, so all parties agree). ``ot_matrix="auto"`` uses Paillier exactly
    then: from about 40^3 here (64^3: 1.9 s against 3.4 s; 256^3: 24 s against 216 s and
    4.8 GB). The key generation, once per party (0.1-1 s), is not counted."""
    paillier = paillier_matrix_cost(m, k, n, bits=calibration.bits, calibration=calibration)["seconds"]
    return paillier < ot_matrix_cost(m, k, n, seconds_per_byte=seconds_per_byte)["seconds"]
