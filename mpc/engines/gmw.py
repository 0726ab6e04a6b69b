"""GMW: N-party boolean computation on XOR-shared packed bits, with Beaver triples for AND.

Goldreich, Micali, Wigderson, "How to play any mental game", STOC 1987; AND gates from
precomputed multiplication triples as in Beaver, "Efficient multiparty protocols using circuit
randomization", CRYPTO 1991, over GF(2).

Sharing: a secret bit string x is held as words x_0, ..., x_{n-1} (one ndarray of uint64 per
party, any shape, 64 bits per word) with x = x_0 XOR ... XOR x_{n-1}. The engine works on raw
words; which bits mean what (packed elements, bit planes) is the caller's business
(:class:`mpc.tensor.secret_bits.SecretBits` stores bit planes).

Operations and cost (n parties; W = words of the operand; bytes exclude the frame header: 32 + 8 per dimension, 40 for a 1-d array)
- XOR of two shares, AND with a public mask: local, 0 rounds, 0 bytes.
- NOT and XOR with a public value: party 0 applies it, others keep their share. 0 rounds.
- AND (:meth:`GMWEngine.and_many`: any number of gates, in ONE round):
    1. take W triple words (a_i, b_i, c_i) from the bit triple source;
    2. each party sends d_i = x_i ^ a_i and e_i = y_i ^ b_i to every peer, in one message;
    3. everyone computes d = XOR d_j, e = XOR e_j (the masked, now public, x ^ a and y ^ b);
    4. z_i = c_i ^ (d & b_i) ^ (e & a_i), and party 0 also XORs d & e (``gmw_and_combine``).
  Correct because XOR_i z_i = c ^ d&b ^ e&a ^ d&e = (d ^ a) & (e ^ b) = x & y.
  Cost: 1 round; 16 bytes (2 words) per word per peer sent and received; W triple words.
  :meth:`GMWEngine.and_steps` is the same as a step generator (:mod:`mpc.engines.steps`), so a
  lockstep can put the layer in one message with independent arithmetic openings.
- Input by an owner (:meth:`GMWEngine.input`):
    with pairwise PRGs: peer j's share is the next W words of the stream it shares with the
    owner; the owner's share is x XOR those. 0 rounds, 0 bytes (pseudo-random secret sharing).
    without: the owner draws a fresh random share r_j per peer, sends it, keeps x ^ XOR r_j.
    1 round, 8 bytes per word per peer from the owner.
- Reveal to all: every party sends its share to every peer, 1 round, 8 bytes per word per peer.
  Reveal to one party: the others send to it, 1 round, 8 bytes per word from each other party.

Security: semi-honest, any number of corrupted parties up to n-1 (dishonest majority). d and e
are one-time-pad encryptions of x and y under the triple's uniformly random a, b, so the
transcript of AND is simulatable; privacy of inputs rests on the secrecy of the pairwise seeds
(or of the owner's fresh randomness). Not secure against active adversaries: a party may flip
bits of d_i, e_i or of its share undetected (MACed bits are future work).
"""

from __future__ import annotations

import types
from collections.abc import Mapping, Sequence

import numpy as np

from mpc.engines import steps
from mpc.errors import ProtocolError, ShareTypeError
from mpc.net.channel import Channel
from mpc.preprocessing.bit_triples import BitTripleSource
from mpc.prg import PRG, SEED_BYTES
from mpc.sharing.dims import dims
from mpc.sharing.packing import lane_masks

__all__ = ["GMWEngine"]


class GMWEngine:
    """The boolean engine: XOR sharing over packed uint64 words, for 2..N parties.

    Built by the runtime (never imports it): ``GMWEngine(channel, bit_triples, kernels)``.
    ``prg`` is this party's private randomness (fresh from the OS when omitted);
    ``pair_prgs`` maps each peer to the PRG seeded with the key shared with it, and enables
    communication-free input; construction draws a 16-byte sub-seed from each of them, so every
    party must build its engines at the same point of its program (the runtime does). All
    methods are called by all parties in the same order.
    """

    name = "gmw"
    share_dtype = np.dtype(np.uint64)  # a share is a word of 64 XOR-shared bits

    def __init__(
        self,
        channel: Channel,
        bit_triples: BitTripleSource,
        kernels: types.SimpleNamespace,
        *,
        prg: PRG | None = None,
        pair_prgs: Mapping[int, PRG] | None = None,
    ) -> None:
        if not isinstance(bit_triples, BitTripleSource):
            raise ShareTypeError(f"bit_triples: expected a BitTripleSource, got {type(bit_triples).__name__}")
        self.channel = channel
        self.pid = channel.pid
        self.n = channel.n
        self.triples = bit_triples
        self.k = kernels
        self._prg = prg if prg is not None else PRG.fresh()
        if pair_prgs is None:
            self._pair = None
        else:
            if set(pair_prgs) != set(channel.peers):
                raise ShareTypeError(f"pair_prgs: need one PRG per peer {channel.peers}, got keys {sorted(pair_prgs)}")
            # a fresh sub-seed drawn from each shared stream (both ends draw it at construction), so a
            # second engine over the same pairwise PRGs never reuses this one's masks
            self._pair = {j: PRG(pair_prgs[j].random_bytes(SEED_BYTES)) for j in sorted(pair_prgs)}

    def __repr__(self) -> str:
        return f"GMWEngine(pid={self.pid}, n={self.n})"

    # ------------------------------------------------------------------ validation

    @staticmethod
    def _words(name: str, x: object) -> np.ndarray:
        if not isinstance(x, np.ndarray) or x.dtype != np.uint64:
            got = x.dtype if isinstance(x, np.ndarray) else type(x).__name__
            raise ShareTypeError(f"{name}: expected a uint64 ndarray of shares, got {got}")
        return x

    def _pair_of(self, x: object, y: object, what: str) -> tuple[np.ndarray, np.ndarray]:
        x = self._words(f"{what} x", x)
        y = self._words(f"{what} y", y)
        if x.shape != y.shape:
            raise ShareTypeError(f"{what}: operand shapes differ: {x.shape} and {y.shape}")
        return x, y

    # ------------------------------------------------------------------ local operations

    def xor(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        """Share of x ^ y. Local."""
        x, y = self._pair_of(x, y, "xor")
        return self.k.bxor(x, y)

    def invert(self, x: np.ndarray) -> np.ndarray:
        """Share of ~x (all 64 bits of every word): party 0 flips its share. Local."""
        x = self._words("invert x", x)
        return self.k.bnot(x) if self.pid == 0 else x.copy()

    def xor_public(self, x: np.ndarray, c: np.ndarray) -> np.ndarray:
        """Share of x ^ c for public words c (same on every party): party 0 applies c. Local."""
        x, c = self._pair_of(x, c, "xor_public")
        return self.k.bxor(x, c) if self.pid == 0 else x.copy()

    def and_public(self, x: np.ndarray, c: np.ndarray) -> np.ndarray:
        """Share of x & c for public words c: every party masks its share. Local."""
        x, c = self._pair_of(x, c, "and_public")
        return self.k.band(x, c)

    def public(self, c: np.ndarray) -> np.ndarray:
        """A sharing of public words c: party 0 holds c, the others zeros. Local."""
        c = self._words("public c", c)
        return c.copy() if self.pid == 0 else np.zeros_like(c)

    def zeros(self, shape: int | Sequence[int]) -> np.ndarray:
        """A sharing of all-zero words. Local."""
        return np.zeros(dims(shape, "shape"), dtype=np.uint64)

    def zero_bits(self, k: int, like: np.ndarray) -> np.ndarray:
        """k zero bit planes shaped like the planes of ``like`` (circuits' constant 0). Local."""
        return np.zeros((int(k), *like.shape[1:]), dtype=np.uint64)

    def spread_lane0(self, planes: np.ndarray, n: int) -> np.ndarray:
        """Shares of element 0 of bit planes ``planes`` (k, W) repeated over n elements, (k,
        ceil(n / 64)): XOR sharing is linear, so each party spreads its own share bit of lane 0
        over lanes 0 .. n-1 (0 -> 0, 1 -> ones); the padding lanes hold 0, a public value (so an
        AND layer may say ``lanes=n``: the padding never carries element 0's bit). Local."""
        spread = np.uint64(0) - (planes[:, :1] & np.uint64(1))
        return spread & lane_masks(n)[None, :]

    # ------------------------------------------------------------------ AND

    def and_(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        """Share of x & y: one round (see the module docstring)."""
        return self.and_many([(x, y)])[0]

    def and_many(self, pairs: Sequence[tuple[np.ndarray, np.ndarray]], lanes: int | None = None) -> list[np.ndarray]:
        """Shares of x & y for every pair, all in ONE round and one message per peer.

        Cost: 1 round (0 if all operands are empty); 16 bytes per word per peer each way; as
        many triple words as operand words in total (``lanes``, the protocol's padding hint, is
        not used: a GMW triple word costs the same for any number of live lanes).
        """
        return steps.run(self.channel.exchange, self.and_steps(pairs))

    def and_steps(self, pairs: Sequence[tuple[np.ndarray, np.ndarray]]) -> steps.Steps[list[np.ndarray]]:
        """:meth:`and_many` as a step generator (:mod:`mpc.engines.steps`): it yields the masked
        (d, e) words once, so a lockstep can share the round with independent protocols."""
        pairs = [self._pair_of(x, y, f"and_many pair {i}") for i, (x, y) in enumerate(pairs)]
        sizes = [x.size for x, _ in pairs]
        total = int(sum(sizes))
        if total == 0:
            return [np.zeros(x.shape, dtype=np.uint64) for x, _ in pairs]
        a, b, c = self.triples.bit_triples(total)
        for name, t in (("a", a), ("b", b), ("c", c)):
            if not isinstance(t, np.ndarray) or t.dtype != np.uint64 or t.shape != (total,):
                raise ProtocolError(f"bit triple source returned a malformed {name}: expected ({total},) uint64")
        k = self.k
        # (d_i, e_i) written straight into the one frame sent (no concatenated copies of x and y)
        masked = np.empty(2 * total, dtype=np.uint64)
        start = 0
        for (x, y), size in zip(pairs, sizes, strict=True):
            end = start + size
            k.bxor(x.reshape(-1), a[start:end], out=masked[start:end])
            k.bxor(y.reshape(-1), b[start:end], out=masked[total + start : total + end])
            start = end
        opened = yield masked
        peers = self.channel.peers
        de = k.bxor(masked, opened[peers[0]])
        for p in peers[1:]:
            k.bxor(de, opened[p], out=de)
        z = k.gmw_and_combine(c, de[:total], de[total:], a, b, self.pid == 0)
        out, start = [], 0
        for (xi, _), size in zip(pairs, sizes, strict=True):
            out.append(z[start : start + size].reshape(xi.shape))
            start += size
        return out

    # ------------------------------------------------------------------ input and output

    def input(self, words: np.ndarray | None, owner: int, shape: int | Sequence[int]) -> np.ndarray:
        """This party's share of ``words``, which party ``owner`` holds (others pass ``None``).

        ``shape`` is public and the same on every party. Cost: see the module docstring.
        """
        shape = dims(shape, "shape")
        if isinstance(owner, bool) or not isinstance(owner, (int, np.integer)) or not 0 <= owner < self.n:
            raise ValueError(f"owner: expected a party id in [0, {self.n}), got {owner!r}")
        owner = int(owner)
        if self.pid == owner:
            words = self._words("input words", words)
            if words.shape != shape:
                raise ShareTypeError(f"input: words have shape {words.shape}, the declared shape is {shape}")
            share = words.copy()
            if self._pair is not None:
                for j in self.channel.peers:
                    self.k.bxor(share, self._pair[j].uint64(shape), out=share)
                return share
            tag = self.channel.next_tag()
            for j in self.channel.peers:
                r = self._prg.uint64(shape)
                self.channel.send(j, r, tag)
                self.k.bxor(share, r, out=share)
            return share
        if words is not None:
            raise ShareTypeError(f"input: party {self.pid} is not the owner (party {owner}) and must pass None")
        if self._pair is not None:
            return self._pair[owner].uint64(shape)
        tag = self.channel.next_tag()
        return self.channel.recv(owner, tag, dtype=np.uint64, shape=shape).copy()

    def input_all(self, words: np.ndarray, shape: int | Sequence[int]) -> list[np.ndarray]:
        """Every party's ``words`` (all of ``shape``), shared: the list indexed by owner. With
        pairwise PRGs no message (one :meth:`input` per owner); without, a round per owner."""
        return [self.input(words if o == self.pid else None, o, shape) for o in range(self.n)]

    def reveal(self, x: np.ndarray, to: int | None = None) -> np.ndarray | None:
        """Open x to every party (``to=None``) or to party ``to`` only (others get ``None``)."""
        return self.reveal_many([x], to=to)[0]

    def reveal_many(self, xs: Sequence[np.ndarray], to: int | None = None) -> list[np.ndarray | None]:
        """Open several shares in ONE round (one message per peer). See the module docstring."""
        xs = [self._words(f"reveal share {i}", x) for i, x in enumerate(xs)]
        if to is not None and (isinstance(to, bool) or not isinstance(to, (int, np.integer)) or not 0 <= to < self.n):
            raise ValueError(f"to: expected None or a party id in [0, {self.n}), got {to!r}")
        total = int(sum(x.size for x in xs))
        if total == 0:
            return [np.zeros(x.shape, dtype=np.uint64) if to in (None, self.pid) else None for x in xs]
        flat = np.concatenate([x.reshape(-1) for x in xs])
        tag = self.channel.next_tag()
        if to is None:
            opened = self.channel.exchange(flat, tag)
            peers = [opened[p] for p in self.channel.peers]
        elif self.pid == to:
            peers = [self.channel.recv(p, tag, dtype=np.uint64, shape=flat.shape) for p in self.channel.peers]
        else:
            self.channel.send(int(to), flat, tag)
            return [None] * len(xs)
        value = flat.copy()
        for share in peers:
            self.k.bxor(value, share, out=value)
        out, start = [], 0
        for x in xs:
            out.append(value[start : start + x.size].reshape(x.shape))
            start += x.size
        return out
