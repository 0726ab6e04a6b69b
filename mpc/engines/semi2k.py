"""semi2k: semi-honest additive secret sharing over Z_2^64 for N >= 2 parties.

Security model: passive (semi-honest) adversary corrupting any n-1 of the n parties (dishonest
majority), with preprocessing from a trusted, non-colluding dealer (or an equivalent
OT/HE-based generator). Shares are ``uint64`` arrays; party i holds x_i, sum_i x_i = x mod 2^64.
The engine knows nothing of dtypes or fixed point: the tensor layer tracks scales.

Operations and their cost (n parties; "elements" are ring elements of 8 bytes sent by each
party, per element of the result unless stated; the channel adds a header of 32 + 8 bytes per dimension per message, 40 for a 1-d array):

- add/sub/neg, public add (party 0 adds the constant), multiplication by public values, matrix
  products with a public matrix: local, 0 rounds, 0 bytes.
- input (:meth:`Semi2k.input`): 0 rounds, 0 bytes. The owner's peers take their shares from
  the pairwise PRG they share with the owner; the owner's share is the value minus those.
  (This is the owner splitting its value and sending shares, with the messages replaced by a
  common PRG seed; Cramer, Damgard and Ishai, TCC 2005.)
- open (:meth:`Semi2k.open`), several arrays at once: 1 round; n-1 elements to everyone, or 1
  element to the receiving party. Output shares are first re-randomised with a PRSS sharing of
  zero so that the opened shares are uniform given the value (no share history leaks).
- mul (Beaver, CRYPTO 1991): 1 round, 2(n-1) elements, one triple.
  1. open d = x - a and e = y - b (one exchange); 2. z_i = c_i + d*b_i + e*a_i (+ d*e at party 0).
- square: 1 round, n-1 elements, one square pair (a, a^2): z_i = c_i + 2d*a_i (+ d^2 at party 0).
- matmul (m,k)@(k,n), optionally batched (Mohassel and Zhang, SecureML, S&P 2017): 1 round,
  (n-1)(mk + kn) elements in total per party, one matrix triple; same steps as mul with @.
- truncation by k bits (:meth:`Semi2k.truncate_many`; :meth:`Semi2k.divide_many` generalises it
  to any public divisor d): 1 round, n-1 elements, one truncation
  triple (r, r >> k, msb(r)), r uniform in Z_2^64. For x with |x| < 2^62 (two's complement):
  1. x' = x + 2^62 (party 0 adds the public constant), so 0 <= x' < 2^63;
  2. open c = x' + r mod 2^64;
  3. w = msb(r) * (1 - msb(c)) is exactly the wrap bit of x' + r: if msb(r) = 0 then
     x' + r < 2^64; if msb(r) = 1 then x' + r >= 2^63, and it wrapped iff c = x' + r - 2^64 <
     2^63, i.e. iff msb(c) = 0 (without a wrap c >= r >= 2^63). w is linear in [msb(r)] since
     c is public;
  4. y = (c >> k) - [r >> k] + w * 2^(64-k) - 2^(62-k), computed locally.
  Correctness: x' = c - r + w*2^64 as integers, so floor(x'/2^k) = (c >> k) - (r >> k) + w*2^(64-k)
  - beta with beta = [c mod 2^k < r mod 2^k] in {0, 1}. Hence y = floor(x / 2^k) + beta: the
  result is floor(x/2^k) or floor(x/2^k) + 1, an error below one unit in the last place, with
  probability 1 (no wrap-around can occur, since step 3 is exact for every r given |x| < 2^62).
  Compare the local truncation of SecureML/CrypTen, which is off by 2^(64-k) with probability
  about |x|/2^64 per element. Privacy: c is x' plus a uniform r, hence uniform. The masked-open
  truncation follows Catrina and Saxena ("Secure computation with fixed-point numbers", FC 2010);
  shifting x to be non-negative and correcting the wrap from msb(r) as in Escudero, Ghosh,
  Keller, Rachuri and Scholl ("Improved primitives for MPC over mixed arithmetic-binary
  circuits", CRYPTO 2020), here with a dealer-provided msb(r) so that no statistical gap is needed.

- truncating product (:meth:`Semi2k.mul_truncating`, :meth:`Semi2k.square_truncating`): the
  product of floor(x / 2^k1) and floor(y / 2^k2) (k2 = 0: y as is) in ONE round of 2(n-1)
  elements, the same as a plain product: the truncation's opening *is* the product's opening.
  With a ``tmul`` tuple (r1, r2 uniform; A_j = r_j >> k_j, M_j = msb(r_j); cross products):
  1. open c1 = x + r1 (+ 2^62 at party 0) and c2 = y + r2 (+ 2^62 if k2 > 0), one exchange;
  2. by the truncation argument above, floor(x / 2^k1) (+ at most one ulp, the same value
     truncate would give) = P1 - L1 with the public P1 = (c1 >> k1) - 2^(62-k1) and the shared
     L1 = A1 - T1 * M1, T1 = (1 - msb(c1)) * 2^(64-k1) public. So the truncated operand is
     masked by L1, a value the dealer's tuple is built around, although the public T1 is only
     known after the opening: L1 is linear in the shared A1 and M1 with public coefficients.
     Likewise y = P2 - L2 (P2 = c2, L2 = r2 when k2 = 0);
  3. z = P1*P2 - P1*L2 - P2*L1 + L1*L2, where L1*L2 = A1A2 - T2*A1M2 - T1*M1A2 + T1*T2*M1M2 is
     linear in the tuple's products (T1*T2 = 2^(128-k1-k2) = 0 mod 2^64 when k1 + k2 <= 64, so
     that product is only in the tuple otherwise). Local.
  The square of floor(x / 2^k) uses a ``tsquare`` tuple (r; A, M, A^2, A*M) and one opened
  element: z = P^2 - 2P*L + L^2 with L^2 = A^2 - 2T*AM + T^2*M (M^2 = M for a bit).
  Compared with truncating first: 1 round instead of 2, 2(n-1) elements instead of 3(n-1) (n-1
  for the square instead of 2(n-1)); the dealer sends 4 to 7 corrections per element instead of
  3. Privacy: c1, c2 are one-time padded by the uniform r1, r2. The result is exactly
  mul(truncate(x), truncate(y)) for the same rounding of each truncation. This is the
  "truncation folded into the multiplication round" of ABY3 (Mohassel and Rindal, CCS 2018) and
  of the masked sharings of ABY2.0 (Patra, Schneider, Suresh and Yalame, USENIX Security 2021),
  here for additive sharing with a dealer: the truncation pair's mask doubles as the Beaver
  mask of the truncated operand.

Every opening of one step goes into a single ``Channel.exchange`` (one round). The one-round
protocols are written as step generators (``mul_steps``, ``mul_truncating_steps``,
``divide_steps``, ``truncate_steps``; :mod:`mpc.engines.steps`), and the plain methods run them;
a lockstep (:meth:`Semi2k.round_exchange`) merges the openings of independent protocols, also the
GMW side's AND layers, into one message per round: the rounds of the longest, the bytes of all.

Local work is bound by memory traffic, not arithmetic (a pass over 10^6 elements streams 8 MB
per array, and a fresh result array costs its page faults too), so the hot paths fuse the
opening into the step that uses it: mul and the truncation/division finish never store the
opened sum, but pass the kernel this party's masked values as sent plus the peers' (for two
parties the received buffer as is). :meth:`Semi2k.open` and ``_open_internal`` still return the
opened values for the callers that need them.
"""

from __future__ import annotations

import types
from collections.abc import Mapping, Sequence

import numpy as np

from mpc.engines import steps
from mpc.engines.base import BooleanEngine, EngineContext
from mpc.engines.convert import Converter
from mpc.errors import ShareTypeError
from mpc.net.channel import Channel
from mpc.preprocessing.base import Preprocessing
from mpc.prg import PRG
from mpc.sharing.additive import zero_sharing
from mpc.sharing.flat import concat_flat, split_flat

TRUNC_BOUND_BITS = 62  # truncation is exact (up to one ulp) for |x| < 2^62


def check_input_value(value: np.ndarray | None, shape: tuple[int, ...]) -> None:
    """An input owner's value must be a uint64 ring array of the announced shape."""
    if value is None or value.shape != tuple(shape) or value.dtype != np.uint64:
        raise ShareTypeError(f"input: the owner must pass a uint64 ring array of shape {tuple(shape)}")


class Semi2k:
    """The semi2k engine of one party; see the module docstring for protocols and costs."""

    name = "semi2k"
    share_dtype = np.dtype(np.uint64)
    trunc_bound_bits = TRUNC_BOUND_BITS

    def __init__(
        self,
        channel: Channel,
        preprocessing: Preprocessing,
        *,
        pair_prgs: Mapping[int, PRG],
        kernels: types.SimpleNamespace,
        boolean: BooleanEngine | None = None,
    ) -> None:
        """``boolean``: the party's GMW engine over the same channel; with it the engine has its
        boolean side, ``converter`` (comparisons, functions), with daBits from ``preprocessing``."""
        self.channel = channel
        self.pid = channel.pid
        self.n = channel.n
        self.preprocessing = preprocessing
        self.kernels = kernels
        # separate streams per purpose, so the use of one never shifts another
        self._input_prgs = {j: p.derive("semi2k/input") for j, p in pair_prgs.items()}
        self._zero_prgs = {j: p.derive("semi2k/zero") for j, p in pair_prgs.items()}
        self.converter = Converter(self, boolean, dabits=preprocessing) if boolean is not None else None

    def __repr__(self) -> str:
        return f"Semi2k(pid={self.pid}, n={self.n})"

    # ------------------------------------------------------------------ local (linear) operations

    # Kernels return at least 1-d arrays; ``.reshape(x.shape)`` restores 0-d shapes (a view).

    def add(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        return self.kernels.add(x, y).reshape(x.shape)

    def sub(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        return self.kernels.sub(x, y).reshape(x.shape)

    def neg(self, x: np.ndarray) -> np.ndarray:
        return self.kernels.neg(x).reshape(x.shape)

    def add_public(self, x: np.ndarray, c: np.ndarray) -> np.ndarray:
        """Share of x + c for a public ring array ``c`` of x's shape (party 0 adds it)."""
        return self.kernels.add(x, c).reshape(x.shape) if self.pid == 0 else x

    def sub_public(self, x: np.ndarray, c: np.ndarray) -> np.ndarray:
        """Share of x - c for a public ring array ``c`` of x's shape (party 0 subtracts it)."""
        return self.kernels.sub(x, c).reshape(x.shape) if self.pid == 0 else x

    def public_sub(self, c: np.ndarray, x: np.ndarray) -> np.ndarray:
        """Share of c - x for a public ring array ``c`` of x's shape."""
        return (self.kernels.sub(c, x) if self.pid == 0 else self.kernels.neg(x)).reshape(x.shape)

    def mul_public(self, x: np.ndarray, c: np.ndarray | int) -> np.ndarray:
        """Share of x * c for a public ring array of x's shape, or a public integer."""
        if isinstance(c, np.ndarray):
            return self.kernels.mul(x, c).reshape(x.shape)
        return self.kernels.mul_public(x, int(c)).reshape(x.shape)

    def public_share(self, c: np.ndarray) -> np.ndarray:
        """A sharing of the public value c: c at party 0, zero elsewhere."""
        return np.array(c, dtype=np.uint64, copy=True) if self.pid == 0 else np.zeros(c.shape, dtype=np.uint64)

    def zeros(self, shape: Sequence[int]) -> np.ndarray:
        """A sharing of zeros (every party holds zeros)."""
        return np.zeros(tuple(shape), dtype=np.uint64)

    def matmul_public(self, x: np.ndarray, c: np.ndarray) -> np.ndarray:
        """Share of x @ c for a public ring matrix c: (m,k)@(k,n) or batched (B,m,k)@(B,k,n). Local."""
        return self.kernels.matmul(x, c) if x.ndim == 2 else self.kernels.matmul_batched(x, c)

    def public_matmul(self, c: np.ndarray, x: np.ndarray) -> np.ndarray:
        """Share of c @ x for a public ring matrix c (2-d or batched 3-d). Local."""
        return self.kernels.matmul(c, x) if c.ndim == 2 else self.kernels.matmul_batched(c, x)

    def sum(self, x: np.ndarray, axis: tuple[int, ...], keepdims: bool = False) -> np.ndarray:
        """Share of the sum over ``axis`` (mod 2^64, as shares add). Local."""
        return np.asarray(np.sum(x, axis=axis, dtype=np.uint64, keepdims=keepdims))

    def cumsum(self, x: np.ndarray, axis: int) -> np.ndarray:
        """Share of the cumulative sum along ``axis``. Local."""
        return np.cumsum(x, axis=axis, dtype=np.uint64)

    def finish(self) -> None:
        """Nothing to check at the end of a semi-honest session."""

    # ------------------------------------------------------------------ input and output

    def input(self, value: np.ndarray | None, owner: int, shape: tuple[int, ...]) -> np.ndarray:
        """This party's share of the owner's ``value`` (a ring array; ``None`` at non-owners). 0 bytes."""
        if self.pid != owner:
            return self._input_prgs[owner].uint64(shape)
        check_input_value(value, shape)
        share = np.array(value, dtype=np.uint64, copy=True)
        for j in sorted(self._input_prgs):
            share -= self._input_prgs[j].uint64(shape)
        return share

    def open(self, shares: Sequence[np.ndarray], to: int | None = None) -> list[np.ndarray] | None:
        """Open several shared arrays in one round; ``None`` at the parties other than ``to``."""
        flat = concat_flat(shares)
        flat = self.kernels.add(flat, zero_sharing(self.pid, self._zero_prgs, flat.shape))
        tag = self.channel.next_tag()
        if to is None:
            total = self._sum(self.channel.exchange(flat, tag))
        elif to == self.pid:
            total = self._sum([flat] + [self.channel.recv(p, tag, dtype=np.uint64, shape=flat.shape)
                                        for p in self.channel.peers])
        else:
            self.channel.send(to, flat, tag)
            return None
        return split_flat(total, [a.shape for a in shares])

    # ------------------------------------------------------------------ multiplications

    def mul(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        """Share of x * y (elementwise, equal shapes): Beaver, 1 round.

        Local cost, two passes over the operands: the masking (into the buffer that is sent) and
        the combine, which takes the opened d and e in two parts, own + peers' (the received
        buffer itself for two parties; n - 2 adds for n parties), so the opening's sum is never
        stored: that saved a pass of 32 bytes read and 16 written per element, into a fresh array.
        """
        return steps.run(self.channel.exchange, self.mul_steps(x, y))

    def mul_steps(self, x: np.ndarray, y: np.ndarray) -> steps.Steps[np.ndarray]:
        """:meth:`mul` as a step generator (:mod:`mpc.engines.steps`)."""
        a, b, c = self.preprocessing.triples(x.shape)
        k, n = self.kernels, x.size
        # d = x - a and e = y - b go straight into the one buffer that is exchanged (no concatenate)
        masked = np.empty(2 * n, dtype=np.uint64)
        k.sub(x.reshape(-1), a.reshape(-1), out=masked[:n])
        k.sub(y.reshape(-1), b.reshape(-1), out=masked[n:])
        rest = self._peers_sum((yield masked))
        d2, e2 = (None, None) if rest is None else (rest[:n], rest[n:])
        z = k.beaver_combine(c.reshape(-1), masked[:n], masked[n:], a.reshape(-1), b.reshape(-1), self.pid == 0,
                             d2, e2)
        return z.reshape(x.shape)

    def square(self, x: np.ndarray) -> np.ndarray:
        """Share of x * x from a square pair (a, a^2): 1 round, n-1 elements."""
        a, c = self.preprocessing.square_pairs(x.shape)
        (d,) = self._open_internal([self.kernels.sub(x, a)])
        z = self.kernels.add(c, self.kernels.mul_public(self.kernels.mul(d, a), 2))
        return (self.kernels.add(z, self.kernels.mul(d, d)) if self.pid == 0 else z).reshape(x.shape)

    def mul_truncating(self, x: np.ndarray, kx: int, y: np.ndarray, ky: int) -> np.ndarray:
        """Share of floor(x / 2^kx) * floor(y / 2^ky) (elementwise, equal shapes; a shift of 0
        leaves that operand as is), each floor exact up to one ulp as in :meth:`truncate_many`:
        1 round, 2(n-1) elements (see the module docstring). |x|, |y| < 2^62 where truncated."""
        return steps.run(self.channel.exchange, self.mul_truncating_steps(x, kx, y, ky))

    def mul_truncating_steps(self, x: np.ndarray, kx: int, y: np.ndarray, ky: int) -> steps.Steps[np.ndarray]:
        """:meth:`mul_truncating` as a step generator (:mod:`mpc.engines.steps`)."""
        if not kx and not ky:
            return (yield from self.mul_steps(x, y))
        if not kx:  # the product commutes: the truncated operand goes first
            x, kx, y, ky = y, ky, x, kx
        t = self.preprocessing.trunc_products(x.shape, kx, ky)
        kern, n, first = self.kernels, x.size, self.pid == 0
        offset = 1 << TRUNC_BOUND_BITS if first else 0
        masked = np.empty(2 * n, dtype=np.uint64)
        kern.add(x.reshape(-1), t.r1.reshape(-1), out=masked[:n], c=offset)
        kern.add(y.reshape(-1), t.r2.reshape(-1), out=masked[n:], c=offset if ky else 0)
        rest = self._peers_sum((yield masked))
        c1r, c2r = (None, None) if rest is None else (rest[:n], rest[n:])
        flat = [None if a is None else a.reshape(-1) for a in t[2:]]
        z = kern.tmul_finish(masked[:n], masked[n:], *flat, kx, ky, first, c1r, c2r)
        return z.reshape(x.shape)

    def square_truncating(self, x: np.ndarray, k: int) -> np.ndarray:
        """Share of floor(x / 2^k)^2 for |x| < 2^62 (floor exact up to one ulp): 1 round, n-1
        elements, one ``tsquare`` tuple (see the module docstring)."""
        t = self.preprocessing.trunc_squares(x.shape, k)
        first = self.pid == 0
        masked = self.kernels.add(x.reshape(-1), t.r.reshape(-1), c=1 << TRUNC_BOUND_BITS if first else 0)
        rest = self._peers_sum(self.channel.exchange(masked))
        z = self.kernels.tsquare_finish(masked, *(a.reshape(-1) for a in t[1:]), k, first, rest)
        return z.reshape(x.shape)

    def matmul(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        """Share of x @ y for (m,k)@(k,n), or batched (B,m,k)@(B,k,n): 1 round."""
        batched = x.ndim == 3
        m, k, n = x.shape[-2], x.shape[-1], y.shape[-1]
        a, b, c = self.preprocessing.matmul_triples(m, k, n, batch=x.shape[0] if batched else None)
        kern, nd = self.kernels, x.size
        # d = x - a and e = y - b go straight into the one buffer that is exchanged (as in mul),
        # and the opening's sum is one pass into a fresh array (no concatenate, no split copies)
        masked = np.empty(nd + y.size, dtype=np.uint64)
        kern.sub(x.reshape(-1), a.reshape(-1), out=masked[:nd])
        kern.sub(y.reshape(-1), b.reshape(-1), out=masked[nd:])
        opened = self._sum(self.channel.exchange(masked))
        d, e = opened[:nd].reshape(x.shape), opened[nd:].reshape(y.shape)
        if not batched:
            return self.kernels.beaver_matmul_combine(c, d, e, a, b, self.pid == 0)
        # as in the 2-D kernel, the first party folds d@b + d@e into d@(b + e): two products, not three
        kern, mm = self.kernels, self.kernels.matmul_batched
        return kern.add(c, kern.add(mm(d, kern.add(b, e) if self.pid == 0 else b), mm(a, e)))

    def truncate_many(self, xs: Sequence[np.ndarray], k: int) -> list[np.ndarray]:
        """Shares of floor(x / 2^k) or that +1, for each x with |x| < 2^62: 1 round in all."""
        return self.divide_many(xs, 1 << k)

    def truncate_steps(self, xs: Sequence[np.ndarray], k: int) -> steps.Steps[list[np.ndarray]]:
        """:meth:`truncate_many` as a step generator (:mod:`mpc.engines.steps`)."""
        return (yield from self.divide_steps(xs, 1 << k))

    def round_exchange(self, payload: np.ndarray) -> list[np.ndarray]:
        """The exchange a lockstep of this engine's (and its GMW side's) step generators uses:
        one all-to-all message on the channel (:func:`mpc.engines.steps.lockstep`)."""
        return self.channel.exchange(payload)

    def divide_many(self, xs: Sequence[np.ndarray], d: int) -> list[np.ndarray]:
        """Shares of x / d for a public integer 2 <= d <= 2^62 and each x with |x| < 2^62: 1 round.

        The truncation protocol of the module docstring with 2^k replaced by d (powers of two
        use truncation triples, others division triples (r, floor(r/d), msb(r))). Write
        c = qc*d + rc, r = qr*d + rr, 2^64 = Q*d + R; then x' = (qc - qr + w*Q)*d + (rc - rr + w*R)
        with rc - rr + w*R in (-d, 2d), so y = qc - [qr] + w*Q is floor(x'/d) + {-1, 0, 1}
        ({0, +1} when d = 2^k, as R = 0). Subtracting floor(2^62/d) (exactly 2^(62-k) for 2^k)
        leaves an error below 2 units in the last place for any d, below 1 for a power of two,
        and never a wrap for |x| < 2^62.

        Local cost, two passes per x: the masking x + r (+ 2^62 on party 0, the constant folded
        into the add) written straight into the send buffer, and the fused finish
        (``trunc_finish``), which reads the own masked share and the peers' (the received buffer
        itself for two parties; n - 2 adds for n) and never stores the opened c. Formerly: 2
        masking passes, a concatenate, the opening's sum into a fresh array and ~7 NumPy passes.
        """
        return steps.run(self.channel.exchange, self.divide_steps(xs, d))

    def divide_steps(self, xs: Sequence[np.ndarray], d: int) -> steps.Steps[list[np.ndarray]]:
        """:meth:`divide_many` as a step generator (:mod:`mpc.engines.steps`)."""
        if not xs:
            return []  # nothing to open: no round
        if d & (d - 1) == 0:
            triples = [self.preprocessing.trunc_triples(x.shape, d.bit_length() - 1) for x in xs]
        else:
            triples = [self.preprocessing.div_triples(x.shape, d) for x in xs]
        kern, first = self.kernels, self.pid == 0
        # Each x + r (+ 2^62 on party 0) is written in one pass straight into the buffer that is
        # exchanged: the same bytes _open_internal would send, without its concatenate and sum.
        bounds = np.cumsum([0, *(x.size for x in xs)]).tolist()
        spans = list(zip(bounds[:-1], bounds[1:], strict=True))
        masked = np.empty(bounds[-1], dtype=np.uint64)
        offset = 1 << TRUNC_BOUND_BITS if first else 0
        for x, t, (lo, hi) in zip(xs, triples, spans, strict=True):
            kern.add(x.reshape(-1), t.r.reshape(-1), out=masked[lo:hi], c=offset)
        rest = self._peers_sum((yield masked))
        out = []
        for x, t, (lo, hi) in zip(xs, triples, spans, strict=True):
            # one pass per x: the opened c = own + peers' is summed in registers, never stored
            c2 = None if rest is None else rest[lo:hi]
            y = kern.trunc_finish(masked[lo:hi], t.r_high.reshape(-1), t.r_msb.reshape(-1), d, first, c2)
            out.append(y.reshape(x.shape))
        return out

    # ------------------------------------------------------------------ helpers

    def _open_internal(self, arrays: Sequence[np.ndarray]) -> list[np.ndarray]:
        """Open masked values (uniformly random by construction) to everyone: one exchange."""
        flat = concat_flat(arrays)
        return split_flat(self._sum(self.channel.exchange(flat)), [a.shape for a in arrays])

    def _peers_sum(self, parts: Sequence[np.ndarray]) -> np.ndarray | None:
        """The sum of the peers' entries of an exchange (``parts`` indexed by party), or None
        with no peers: the received array itself for two parties (no pass), n - 2 adds for n."""
        peers = [p for i, p in enumerate(parts) if i != self.pid]
        return self._sum(peers, fresh=False) if peers else None

    def _sum(self, parts: Sequence[np.ndarray], fresh: bool = True) -> np.ndarray:
        """Sum of the arrays mod 2^64 (one pass for two). A single array comes back as a copy,
        or itself when ``fresh`` is False (the caller only reads it)."""
        if len(parts) == 1:
            return np.array(parts[0], dtype=np.uint64, copy=True) if fresh else parts[0]
        total = self.kernels.add(parts[0], parts[1])
        for p in parts[2:]:
            self.kernels.add(total, p, out=total)
        return total


def build(ctx: EngineContext) -> Semi2k:
    """The runtime's builder (:mod:`mpc.runtime.engines`): semi2k with its GMW side."""
    return Semi2k(ctx.channel, ctx.preprocessing, pair_prgs=ctx.pair_prgs, kernels=ctx.kernels, boolean=ctx.boolean)
