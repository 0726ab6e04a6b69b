"""Pairwise OT between every pair of parties, over the party channel: the transport of ``ot``.

:class:`OTLinks` owns, for each peer p, two OT-extension instances: one where this party is the
extension sender towards p and one where it is the receiver, each seeded by 128 base OTs
(:mod:`mpc.crypto.base_ot`) made lazily, at the first request, for all ordered pairs at once
(1.5 round trips, about 0.3 s of exponentiations per ordered pair; SoftSpoken adds one message
of 4 KB per ordered pair, its GGM level sums). The extension is SoftSpoken with ``k`` bits per
base-OT block (:mod:`mpc.crypto.ot_soft`, default k = 2: 8 bytes of extension matrix per OT)
or, with ``extension="iknp"``, IKNP (:mod:`mpc.crypto.ot_ext`, 16 bytes per OT); both end in
the same correlation, the same KOS15 check and the same hashing.

On top it offers the two products every ``ot`` material kind is built from, each two round
trips for all pairs together (every party first sends its extension matrices to the peers it
receives from, answers the peers it sends to with a challenge, answers the challenges with the
KOS check, then the verified senders send their corrections):

- :meth:`OTLinks.ring_products` -- Gilboa's multiplication (Gilboa, "Two party RSA key
  generation", CRYPTO 1999) over Z_2^64 from correlated OT: the receiver holds y, the sender
  a vector x (w ring elements per y, w > 1 for matrix products); OT number k (k < nbits) has
  choice bit k of y and correlation x, so sum_k 2^k (s_k + y_k x) = s + x y. The k-th
  correlation only matters mod 2^(64-k), so its message d_k is sent trimmed to
  ceil((64-k)/8) bytes (the byte-granular version of "the k-th OT trimmed to 64-k bits":
  288 bytes instead of 260 for the 64 OTs of one 64-bit product, no bit packing pass).
  Cost per product of 64-bit values: 64 OTs = 64 x 128/k bits of extension matrix R -> S
  (SoftSpoken k = 2: 512 bytes; IKNP 1,024), and 288 w bytes of corrections S -> R.
- :meth:`OTLinks.bit_products` -- the same over GF(2): XOR shares of a_i AND b_j from one
  correlated OT per bit (choice a_i, correlation b_j, a 1-bit message): 128/k bits + 1 bit
  (k = 2: 8 bytes + 1 bit).

For the authenticated (spdz2k) material, :class:`WideProducts` adds random OTs with chosen
choice bits (the seeds of the MAC key's vector OLE, :mod:`mpc.preprocessing.ot_vole`) and
Gilboa products over Z_2^128 (128 OTs per product, weight-major: the OTs of weight 2^k are
contiguous; corrections trimmed to the ceil((128 - k) / 8) bytes that survive the weight; only
the low word of the OTs of weight 2^64 and above hashed), same rounds as above.

Tags: offline messages carry tags from a counter of their own, ``OFFLINE_TAGS + k``, disjoint
from the online operation counter, and every message is counted in the channel section
``"offline"`` (reported by ``party.stats()["offline"]``).

Security: the one of the OT extension (semi-honest parties; KOS15 check against a receiver
that cheats in the extension: :class:`~mpc.errors.CheatingDetected`); a malformed message
(wrong shape, not a group element) is a :class:`~mpc.errors.ProtocolError`.
"""

from __future__ import annotations

import types

import numpy as np

from mpc._core._ref import ot_trim_groups
from mpc.config.session import OT_EXTENSIONS
from mpc.crypto import base_ot, ot_ext, ot_soft
from mpc.errors import ConfigError, ProtocolError
from mpc.net.channel import Channel
from mpc.prg import PRG

OFFLINE_TAGS = 1 << 62
SECTION = "offline"
EXTENSIONS = OT_EXTENSIONS  # the OT extension: SoftSpoken with k bits per block, or IKNP
DEFAULT_EXTENSION = OT_EXTENSIONS[0]
_SHIFTS = np.arange(64, dtype=np.uint64)


def trim(d: np.ndarray, nbits: int) -> np.ndarray:
    """Corrections ``(N, nbits, w)`` uint64 -> the bytes that matter (see the module docstring)."""
    b = d.view(np.uint8).reshape(*d.shape, 8)
    parts = [b[:, k0:k1, :, :nb].reshape(-1) for k0, k1, nb in ot_trim_groups(nbits)]
    return np.concatenate(parts) if parts else np.zeros(0, dtype=np.uint8)


def trimmed_bytes(n: int, nbits: int, w: int) -> int:
    return sum((k1 - k0) * nb for k0, k1, nb in ot_trim_groups(nbits)) * n * w


def untrim(raw: np.ndarray, n: int, nbits: int, w: int) -> np.ndarray:
    """The inverse of :func:`trim`, with zero high bytes (they are multiplied away by 2^k)."""
    out = np.zeros((n, nbits, w, 8), dtype=np.uint8)
    pos = 0
    for k0, k1, nb in ot_trim_groups(nbits):
        size = n * (k1 - k0) * w * nb
        out[:, k0:k1, :, :nb] = raw[pos : pos + size].reshape(n, k1 - k0, w, nb)
        pos += size
    return out.view(np.uint64).reshape(n, nbits, w)


def bits_of(y: np.ndarray, nbits: int) -> np.ndarray:
    """(N,) uint64 -> (N * nbits,) uint8 choice bits, element-major (bit k of y_e at e*nbits + k)."""
    y = np.ascontiguousarray(y, dtype=np.uint64).reshape(-1)
    if nbits == 64:
        return np.unpackbits(y.view(np.uint8), bitorder="little")
    return ((y[:, None] >> _SHIFTS[:nbits]) & np.uint64(1)).astype(np.uint8).reshape(-1)


class OTLinks:
    """This party's OT-extension instances with every peer (set up at first use)."""

    def __init__(self, channel: Channel, kernels: types.SimpleNamespace, label: bytes = b"",
                 k: int | None = None, extension: str | None = None) -> None:
        """``k`` (SoftSpoken's bits per block) and ``extension`` default to
        :data:`mpc.crypto.ot_soft.DEFAULT_K` and :data:`DEFAULT_EXTENSION`."""
        k = ot_soft.DEFAULT_K if k is None else k
        extension = DEFAULT_EXTENSION if extension is None else extension
        if extension not in EXTENSIONS:
            raise ConfigError(f"extension: expected one of {', '.join(EXTENSIONS)}, got {extension!r}")
        self.extension = extension
        self.k = ot_soft.check_k(k)
        self.channel = channel
        self.pid, self.n = channel.pid, channel.n
        self.kernels = kernels
        self.label = bytes(label)
        self._tag = 0
        self.senders: dict[int, ot_ext.ExtSender] = {}
        self.receivers: dict[int, ot_ext.ExtReceiver] = {}
        self.ots = 0  # OTs extended by this party (as receiver and as sender)

    def tag(self) -> int:
        self._tag += 1
        return OFFLINE_TAGS + self._tag

    def _labels(self, sender: int, receiver: int) -> bytes:
        return self.label + b"/%d->%d" % (sender, receiver)

    def setup(self) -> None:
        """Base OTs for every ordered pair (idempotent). Towards each peer p this party is the
        base-OT sender for the extension where it receives, and the base-OT receiver (choices
        Delta) for the extension where it sends."""
        if self.senders or self.receivers:
            return
        ch = self.channel
        with ch.section(SECTION):
            t1, t2 = self.tag(), self.tag()
            base_senders = {}
            for p in ch.peers:  # step 1 as base sender (p will be the extension sender)
                base_senders[p] = base_ot.BaseOTSender(self._labels(p, self.pid))
                ch.send(p, base_senders[p].first_message(), t1)
            deltas = {}
            for p in ch.peers:  # step 2 as base receiver, choices = this party's Delta towards p
                first = ch.recv(p, t1, dtype=np.uint8, shape=(base_ot.ELEMENT_BYTES,))
                delta = np.frombuffer(PRG.fresh().random_bytes(ot_ext.KAPPA), dtype=np.uint8) & 1
                msg, keys = base_ot.receive(self._labels(self.pid, p), first, delta)
                ch.send(p, msg, t2)
                deltas[p] = (delta, keys)
            soft = self.extension == "softspoken"
            t3 = self.tag() if soft else 0
            for p in ch.peers:  # step 3
                msg = ch.recv(p, t2, dtype=np.uint8, shape=(ot_ext.KAPPA, base_ot.ELEMENT_BYTES))
                pairs = base_senders[p].keys(msg)
                if soft:  # step 4 (SoftSpoken): the GGM level sums, masked by the base OT keys
                    self.receivers[p] = ot_soft.SoftReceiver(pairs, self._labels(p, self.pid), self.k, self.kernels)
                    ch.send(p, self.receivers[p].setup_message, t3)
                else:
                    self.receivers[p] = ot_ext.ExtReceiver(pairs, self._labels(p, self.pid), self.kernels)
            for p, (delta, keys) in deltas.items():
                if soft:
                    ggm = ch.recv(p, t3, dtype=np.uint8, shape=(ot_ext.KAPPA, 2, 16))
                    self.senders[p] = ot_soft.SoftSender(delta, keys, ggm, self._labels(self.pid, p), self.k,
                                                         self.kernels)
                else:
                    self.senders[p] = ot_ext.ExtSender(delta, keys, self._labels(self.pid, p), self.kernels)

    # ------------------------------------------------------------------ the two products

    def _extend_to(self, peers, choices: np.ndarray | None, tag: int, packed: np.ndarray | None = None) -> dict:
        """Receiver side, step 1: extend with ``choices`` (bits, or ``packed`` words) towards each
        of ``peers`` and send u."""
        out = {}
        for p in peers:
            u, t, start = self.receivers[p].extend(choices, packed)
            self.channel.send(p, u, tag)
            out[p] = (t, start)
            self.ots += len(t)
        return out

    def _challenge(self, peers, m: int, tag_u: int, tag_seed: int) -> None:
        """Sender side, step 2: each peer's u in, a fresh challenge seed out."""
        w = ot_ext._padded(m) // 64
        for p in peers:
            u = self.channel.recv(p, tag_u, dtype=np.uint64, shape=(self.senders[p].rows, w))
            self.channel.send(p, self.senders[p].extend(u, m), tag_seed)
            self.ots += m

    def _answer(self, peers, tag_seed: int, tag_check: int) -> None:
        """Receiver side, step 3: the check for each peer's challenge."""
        for p in peers:
            seed = self.channel.recv(p, tag_seed, dtype=np.uint8, shape=(16,))
            self.channel.send(p, self.receivers[p].answer(seed), tag_check)

    def _verified(self, p: int, tag_check: int) -> tuple[np.ndarray, int]:
        """Sender side: the peer's check, verified: (q, first tweak), or CheatingDetected."""
        check = self.channel.recv(p, tag_check, dtype=np.uint64, shape=(3,))
        return self.senders[p].verify(check)

    def _extension(self, to, frm, choices, m_to: int, packed: np.ndarray | None = None) -> tuple[dict, list[int]]:
        """Steps 1-3 of an extension with every peer at once (u, challenge, check per pair);
        returns the receiver's pending state and the tags [check, outputs]. The choices as bits
        ``choices`` or as ``packed`` words (64 per word, low bit first)."""
        tag_u, tag_seed, tag_check, tag_d = self.tag(), self.tag(), self.tag(), self.tag()
        pending = self._extend_to(frm, choices, tag_u, packed) if frm else {}
        self._challenge(to, m_to, tag_u, tag_seed)
        self._answer(frm, tag_seed, tag_check)
        return pending, [tag_check, tag_d]

    def ring_products(self, x: np.ndarray | None, to: list[int], y: np.ndarray | None, frm: list[int],
                      nbits: int = 64, w: int = 1) -> tuple[dict[int, np.ndarray], dict[int, np.ndarray]]:
        """Gilboa products with several peers in two round trips (see the module docstring).

        ``x`` ``(N, w)`` uint64: this party's sender input towards each peer of ``to``; ``y``
        ``(N,)`` uint64: its receiver input from each peer of ``frm`` (only its low ``nbits``
        bits count; the sender of that pair must use the same N, ``w`` and ``nbits``). Returns
        ``(sent, received)``: per peer, this party's ``(N, w)`` additive share of x_me * y_p
        (sent) and of x_p * y_me (received); the two shares of a pair sum to the product."""
        self.setup()
        ch = self.channel
        with ch.section(SECTION):
            packed = None
            if frm and nbits == 64 and w == 1:  # the choices of element e are the bits of y_e: y packed
                choices, packed = None, np.ascontiguousarray(y, dtype=np.uint64).reshape(-1)
            else:
                choices = bits_of(y, nbits) if frm else None
            if to and x.shape != (len(x), w):
                raise ProtocolError(f"ring_products: x must be (N, {w}), got {x.shape}")
            pending, (tag_check, tag_d) = self._extension(to, frm, choices, len(x) * nbits if to else 0, packed)
            sent = {}
            if to:
                n_el = len(x)
                weights = (np.uint64(1) << _SHIFTS[:nbits])[None, :, None]
                for p in to:
                    q, start = self._verified(p, tag_check)
                    if w == 1:  # the fused C path: hashes and corrections in one pass (ot_gilboa_send_hash)
                        d, share = self.kernels.ot_gilboa_send_hash(q, self.senders[p].delta, start, ot_ext.HASH_KEY,
                                                                    np.ascontiguousarray(x[:, 0]), nbits)
                        ch.send(p, d, tag_d)
                        sent[p] = share[:, None]
                        continue
                    s, d = ot_ext.cot_send(q, self.senders[p].delta, start,
                                           np.repeat(x, nbits, axis=0) if nbits > 1 else x)
                    ch.send(p, trim(d.reshape(n_el, nbits, w), nbits), tag_d)
                    sent[p] = -(s.reshape(n_el, nbits, w) * weights).sum(axis=1, dtype=np.uint64)
            received = {}
            for p in frm:
                t, start = pending[p]
                n_el = len(y)
                raw = ch.recv(p, tag_d, dtype=np.uint8, shape=(trimmed_bytes(n_el, nbits, w),))
                if w == 1:
                    received[p] = self.kernels.ot_gilboa_recv_hash(t, start, ot_ext.HASH_KEY, raw, y, nbits)[:, None]
                    continue
                d = untrim(raw, n_el, nbits, w).reshape(n_el * nbits, w)
                v = ot_ext.cot_receive(t, start, choices, d).reshape(n_el, nbits, w)
                weights = (np.uint64(1) << _SHIFTS[:nbits])[None, :, None]
                received[p] = (v * weights).sum(axis=1, dtype=np.uint64)
            return sent, received

    def bit_products(self, b: np.ndarray | None, to: list[int], a: np.ndarray | None, frm: list[int]
                     ) -> tuple[dict[int, np.ndarray], dict[int, np.ndarray]]:
        """GF(2) products in two round trips: ``b`` (packed words) is this party's correlation
        towards ``to``, ``a`` (packed words, same count) its choices from ``frm``. Returns per
        peer this party's XOR share (packed words) of b_me AND a_p (sent) / b_p AND a_me."""
        self.setup()
        ch = self.channel
        with ch.section(SECTION):
            words = len(a) if a is not None else len(b)
            m = 64 * words
            packed = np.ascontiguousarray(a, dtype=np.uint64) if frm else None
            pending, (tag_check, tag_d) = self._extension(to, frm, None, m, packed)
            sent = {}
            for p in to:
                q, start = self._verified(p, tag_check)
                s = self.kernels.ot_hash_lsb(q, None, start, ot_ext.HASH_KEY)  # bit 0 of each hash, packed
                d = s ^ self.kernels.ot_hash_lsb(q, self.senders[p].delta, start, ot_ext.HASH_KEY) ^ b
                ch.send(p, d, tag_d)
                sent[p] = s
            received = {}
            for p in frm:
                t, start = pending[p]
                d = ch.recv(p, tag_d, dtype=np.uint64, shape=(words,))
                received[p] = self.kernels.ot_hash_lsb(t, None, start, ot_ext.HASH_KEY) ^ (d & a)
            return sent, received


# ---------------------------------------------------------------------- wide (Z_2^128) variants
# Used by the authenticated (spdz2k) material, :mod:`mpc.preprocessing.ot_spdz`.

def trim128(d: np.ndarray) -> np.ndarray:
    """Z_2^128 corrections ``(A, K, W, 2)`` uint64, the one of weight 2^k at [:, k] -> the bytes
    that matter mod 2^128 after the weighting: ceil((128 - k) / 8) per element."""
    b = np.ascontiguousarray(d).view(np.uint8).reshape(*d.shape[:3], 16)
    parts = [b[:, k0:k1, :, :nb].reshape(-1) for k0, k1, nb in ot_trim_groups(d.shape[1], 128)]
    return np.concatenate(parts) if parts else np.zeros(0, dtype=np.uint8)


def trimmed128_bytes(a: int, nbits: int, w: int) -> int:
    return sum((k1 - k0) * nb for k0, k1, nb in ot_trim_groups(nbits, 128)) * a * w


def untrim128(raw: np.ndarray, a: int, nbits: int, w: int, kernels: types.SimpleNamespace) -> np.ndarray:
    """The inverse of :func:`trim128` (the kernel ``spdz_untrim128``). The bytes not sent are
    zero: they only carry bits >= 128 - k of a weight-2^k value, which the weighting multiplies by
    2^k, so they vanish mod 2^128 whatever they hold (a borrow or carry only moves bits upward)."""
    return kernels.spdz_untrim128(raw, a, nbits, w)


def bits128(y: np.ndarray) -> np.ndarray:
    """Z_2^128 elements ``(N, 2)`` -> ``(N * 128,)`` uint8 bits, element-major, low bit first."""
    return np.unpackbits(np.ascontiguousarray(y, dtype=np.uint64).view(np.uint8), bitorder="little")


def weighted128(v: np.ndarray, kernels: types.SimpleNamespace) -> np.ndarray:
    """sum_k 2^k v[:, k] mod 2^128 for ``(A, K, W, 2)`` Z_2^128 words: ``(A, W, 2)`` (the kernel
    ``spdz_weighted128``, csrc/spdz_offline.c: one pass; from 2^64 on only the low word counts
    and lands in the high word). ``v`` is left as it was."""
    return kernels.spdz_weighted128(np.ascontiguousarray(v))


def hash128(x: np.ndarray, delta: np.ndarray | None, start: int, n_el: int, w: int,
            kernels: types.SimpleNamespace) -> np.ndarray:
    """The Z_2^128 OT messages of a weight-major Gilboa batch, ``(1, 128, n_el * w, 2)``: w values
    per OT (:func:`mpc.crypto.ot_ext.hash_words`); the OTs of weight 2^k, k >= 64, only matter
    mod 2^(128 - k), so only their low words are hashed (the high words are set to 0): 3/4 of
    the hashing."""
    half = 64 * n_el
    out = np.empty((128 * n_el, w, 2), dtype=np.uint64)
    out[:half] = ot_ext.hash_words(x[:half], delta, start, 2 * w, kernels).reshape(half, w, 2)
    out[half:, :, 0] = ot_ext.hash_words(x[half:], delta, start + half, w, kernels, stride=2)
    out[half:, :, 1] = 0
    return out.reshape(1, 128, n_el * w, 2)


class WideProducts:
    """Gilboa products over Z_2^128 and random OTs with chosen choice bits, on :class:`OTLinks`."""

    def __init__(self, links: OTLinks) -> None:
        self.links = links

    def random_ots(self, choices: np.ndarray | None, to: list[int], frm: list[int], m_to: int
                   ) -> tuple[dict[int, tuple[np.ndarray, np.ndarray]], dict[int, np.ndarray]]:
        """Random OTs (the KOS-checked extension, hashed): per peer of ``to`` this party's
        message pairs (m0, m1) ``(m_to, 2)``; per peer of ``frm`` the messages m_{c_j}
        ``(len(choices), 2)`` for its ``choices``. Three round trips' worth of messages, all pairs."""
        lk = self.links
        lk.setup()
        with lk.channel.section(SECTION):
            pending, (tag_check, _) = lk._extension(to, frm, choices, m_to)
            sent = {}
            for p in to:
                q, start = lk._verified(p, tag_check)
                m0, m1 = ot_ext.rot_send(q, lk.senders[p].delta, start)
                sent[p] = (m0[:, 0, :].copy(), m1[:, 0, :].copy())
            received = {}
            for p in frm:
                t, start = pending[p]
                received[p] = ot_ext.rot_receive(t, start)[:, 0, :].copy()
            return sent, received

    def products(self, x: np.ndarray | None, to: list[int], y: np.ndarray | None, frm: list[int], w: int
                 ) -> tuple[dict[int, np.ndarray], dict[int, np.ndarray]]:
        """Gilboa over Z_2^128: ``x`` ``(N, w, 2)`` this party's correlations towards ``to``,
        ``y`` ``(N, 2)`` its receiver inputs from ``frm`` (every pair uses the same N and w; 128 OTs per element, choice bit k of y
        for weight 2^k). Returns per peer this party's ``(N, w, 2)`` share of x_me * y_p (sent)
        and of x_p * y_me (received). Cost per element and pair: 128 OTs (1 KB of extension
        matrix with SoftSpoken k = 2; 2 KB with IKNP), 1088 w bytes of trimmed corrections."""
        lk = self.links
        lk.setup()
        k = lk.kernels
        ch = lk.channel
        with ch.section(SECTION):
            n_el = len(x) if to else len(y)
            if to and x.shape != (n_el, w, 2):
                raise ProtocolError(f"products: x must be (N, {w}, 2), got {x.shape}")
            # OT number k N + e has choice bit k of y_e (weight-major: each weight's OTs contiguous)
            choices = np.ascontiguousarray(bits128(y).reshape(n_el, 128).T).reshape(-1) if frm else None
            pending, (tag_check, tag_d) = lk._extension(to, frm, choices, n_el * 128 if to else 0)
            sent = {}
            if to:
                xf = np.ascontiguousarray(x, dtype=np.uint64).reshape(n_el * w, 2)
                for p in to:
                    q, start = lk._verified(p, tag_check)
                    m0 = hash128(q, None, start, n_el, w, k)
                    d = hash128(q, lk.senders[p].delta, start, n_el, w, k)
                    k.sub128(d, m0, out=d)
                    for b in range(128):
                        k.sub128(d[0, b], xf, out=d[0, b])
                    ch.send(p, trim128(d), tag_d)
                    sent[p] = k.neg128(weighted128(m0, k)[0]).reshape(n_el, w, 2)
            received = {}
            for p in frm:
                t, start = pending[p]
                raw = ch.recv(p, tag_d, dtype=np.uint8, shape=(trimmed128_bytes(1, 128, n_el * w),))
                h = hash128(t, None, start, n_el, w, k)
                d = untrim128(raw, 1, 128, n_el * w, k)
                d.reshape(128, n_el, w * 2)[...] *= choices.reshape(128, n_el, 1).astype(np.uint64)
                received[p] = weighted128(k.sub128(h, d, out=h), k)[0].reshape(n_el, w, 2)
            return sent, received
