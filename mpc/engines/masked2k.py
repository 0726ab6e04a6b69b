"""masked2k: semi-honest masked (Delta) sharing over Z_2^64, for fewer online bytes per product.

Security model: as :mod:`mpc.engines.semi2k` (passive adversary corrupting any n-1 of n parties,
trusted non-colluding dealer, which here also knows every mask). Follows the sharing of ABY2.0
(Patra, Schneider, Suresh and Yalame, "ABY2.0: Improved Mixed-Protocol Secure Two-Party
Computation", USENIX Security 2021), with the masks chosen by the dealer's seeds so that no
circuit has to be known in advance.

Sharing. A share is a record (delta, lam, tag) (:data:`MASKED`): x = delta - sum_i lam_i mod 2^64,
where delta is public (equal at every party) and lam_i is party i's additive share of the mask
lambda. ``tag`` says where lambda comes from:

- tag t >= 1: lambda is the dealer-known mask t: lam_i is word t of party i's mask keystream
  (:meth:`mpc.preprocessing.base.Preprocessing.mask_shares`), so the dealer can serve products
  of masks (:data:`mpc.preprocessing.base.MASK_KINDS`). Tags are handed out by a counter that
  every party advances identically; the masks of a product's output are always fresh tags.
- tag t | (o + 1) << 52: the mask of an input of party o, held by o alone: lam_o is word t of
  o's keystream and every other party's lam_i is 0 (ABY2.0's input, where the owner picks
  lambda). The dealer knows it as well.
- tag t | k << 58: lambda is the fresh mask t truncated by k bits (below).
- tag 0: lambda is not known to the dealer (after additions, scalings, or a protocol run on
  additive shares). Every additive share z_i is such a record: (0, -z_i, 0).

Operations and their cost (n parties; bytes are 8-byte ring elements sent by each party per
element of the result):

- linear operations: local, on delta and lam alike. Adding a public value keeps the tag.
- input: the owner sends delta = x + lambda to every peer, lambda its own window at fresh tags
  naming it (above): 1 round, n-1 elements sent by the owner, none by the others (semi2k: no
  round). ABY2.0 pays the same at input.
- mul of two tagged operands (operand tags consecutive in row-major order):
  1. each party i computes s_i = [i = 0] dx dy - dx lam_y,i - dy lam_x,i + g_i + lam_z,i, where
     g is a dealer sharing of lambda_x lambda_y (``mtriple``, 8 bytes per element from the
     dealer to party n-1, offline) and lambda_z a fresh mask;
  2. open delta_z = sum_i s_i = (dx - lambda_x)(dy - lambda_y) + lambda_z = xy + lambda_z.
  1 round, n-1 elements: half of Beaver's 2(n-1). square and the 2-d matrix product (m,k)@(k,n)
  are the same with lambda_x^2 (``msquare``) and Lambda_x @ Lambda_y (``mmatmul``; m*n
  elements opened, against Beaver's m*k + k*n). A matrix operand's tags may be strided
  (t + i r + j c): a row-major matrix, its transpose (``W.T``), or a block of either. A party
  skips the terms its zero shares of another party's input masks make 0: with a weight matrix
  input by one party and a batch by another, each owner makes one local matrix product
  (party 0 computes (Dx - Lx) @ Dy = x @ Dy when Ly_0 = 0) and any third party none, against two
  in general and Beaver's two.
- product with ONE tagged operand y (the other's mask unknown to the dealer): a Beaver triple
  whose second factor is y's own mask, (a, a lambda_y) (``mhtriple``; ``mhmatmul`` for matrices,
  either side): open d = x - a only, then z_i = dy x_i - d lam_y,i - (a lambda_y)_i. 1 round,
  the untagged operand's elements only (a layer's activations against a masked weight matrix:
  m*k opened, against Beaver's m*k + k*n). The output is a tag-0 record.
- truncation of a tagged x by k bits: local, 0 rounds, 0 bytes. With c = delta + 2^62 (the
  public masked value of x' = x + 2^62) and the dealer's shares of A = lambda >> k and
  M = msb(lambda) (``mtrunc``, 16 bytes per element to party n-1 offline), semi2k's
  truncation formula gives floor(x / 2^k) (+ at most one ulp, for |x| < 2^62) as the record
  (delta' = (c >> k) - 2^(62-k), lam' = A - T M, T = (1 - msb(c)) 2^(64-k)). The output's mask
  A - T M is still the dealer's: A and M derive from lambda, and T is public (msb(c) is a bit of
  delta' + 2^(62-k)). Its tag is the fresh tag with k in bits 58..63 (``TAG_BITS``), so an
  elementwise product with it is masked too: the dealer's ``mtriple`` then holds the factor
  products (A lambda_y and M lambda_y; for two truncated operands A A', A M', M A' and, when
  k + k' > 64, M M'), and each party combines its shares with the public T's. So a
  fixed-point product with its truncation is one round of n-1 elements (semi2k: 2 rounds,
  3(n-1) elements), and a chain of fixed-point products (a pending truncation is done this way
  before the next product) is one such round per product (semi2k: 2(n-1) elements each).
  A matrix product cannot use a truncated mask (T varies inside the sum); there the operand
  counts as untagged.
  The tensor layer asks for its products deferred (:class:`~mpc.engines.base.Deferred`): a
  product truncated before anything else reads it, as in ``(x * y).truncate()`` or
  ``x * y * z`` (:meth:`Masked2k._truncate_masked`), has its
  records written once, truncated, by the finishing pass (``masked_finish_trunc``), the same
  bits as the finish and the truncation apart, in one memory pass instead of two.
- everything else (two untagged operands, batched matrix products, division, comparisons and
  every function): the record's additive share
  x_i = [i = 0] delta - lam_i (local) through :class:`~mpc.engines.semi2k.Semi2k`'s protocol,
  at semi2k's cost; the result comes back as a tag-0 record.

Privacy: every opened delta is the value plus a fresh mask no n-1 parties know (each party's
window is known only to it and the dealer); the fallback is semi2k's protocol. The dealer knows
every mask, as semi2k's dealer knows every triple.
"""

from __future__ import annotations

import math
import types
from collections.abc import Mapping, Sequence

import numpy as np

from mpc.engines import steps
from mpc.engines.base import BooleanEngine, Deferred, EngineContext
from mpc.engines.semi2k import TRUNC_BOUND_BITS, Semi2k, check_input_value
from mpc.net.channel import Channel
from mpc.preprocessing.base import (
    MAX_FRESH,
    Preprocessing,
    mtriple_products,
    owned_tag,
    strided_span,
    tag_block_fits,
    tag_owner,
    tag_shift,
)
from mpc.prg import PRG

__all__ = ["MASKED", "Masked2k", "MaskedConverter", "build"]

MASKED = np.dtype([("delta", "<u8"), ("lam", "<u8"), ("tag", "<u8")])


def _words(x: np.ndarray) -> np.ndarray:
    """The record array x as C-contiguous uint64 words, (*shape, 3), for the kernels."""
    return np.ascontiguousarray(x).view(np.uint64).reshape(*x.shape, 3)


def _made(x: np.ndarray | Deferred) -> np.ndarray:
    """The records of x, a Deferred product finished (:meth:`~mpc.engines.base.Deferred.value`)."""
    return x.value() if isinstance(x, Deferred) else x


def _head(x: np.ndarray) -> int:
    """The first tag of x in row-major order (0 when x is empty): O(1). Whether the rest follow
    is checked by the kernel that uses the material, in its own pass."""
    return int(x["tag"].flat[0]) if x.size else 0


def _strided(x: np.ndarray) -> tuple[int, int, int] | None:
    """(t, r, c) when the 2-d record array x's tags are t + i r + j c with t >= 1 and strides
    r, c >= 1 spanning at most 4 times x's size (a row-major matrix of tagged elements, its
    transpose, or a block of either), else None."""
    if x.ndim != 2 or x.size == 0:
        return None
    tags = x["tag"]
    rows, cols = x.shape
    t = int(tags[0, 0])
    c = int(tags[0, 1]) - t if cols > 1 else 1
    r = int(tags[1, 0]) - t if rows > 1 else cols * c
    span = strided_span(t, r, c, rows, cols)
    if t == 0 or r < 1 or c < 1 or span > 4 * x.size or not tag_block_fits(t, span):
        return None
    want = (np.arange(rows, dtype=np.uint64)[:, None] * np.uint64(r)
            + np.arange(cols, dtype=np.uint64)[None, :] * np.uint64(c) + np.uint64(t))
    return (t, r, c) if np.array_equal(tags, want) else None


def _shift_coef(x: np.ndarray, k: int) -> np.ndarray:
    """T = (1 - msb(c)) 2^(64-k) of each element of a record array x truncated by k bits from
    c = delta + 2^62 (flat): x's delta is (c >> k) - 2^(62-k), so msb(c) is bit 63-k of
    delta + 2^(62-k)."""
    d = x["delta"].reshape(-1) + np.uint64(1 << (62 - k))
    return (((d >> np.uint64(63 - k)) & np.uint64(1)) ^ np.uint64(1)) << np.uint64(64 - k)


def _view(words: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """Kernel output words (*, 3) as a record array of ``shape`` (no copy)."""
    return words.reshape(-1, 3).view(MASKED).reshape(shape)


def _words_op(op, x: np.ndarray, *rest) -> np.ndarray:
    """The tag-0 records of a linear map ``op`` (a NumPy ufunc: add, subtract, negative,
    multiply) applied to delta and lam alike: one pass over the records' words (x's and those of
    ``rest``, words or public factors broadcast to them), then the tags cleared (the dealer cannot
    follow the new mask). Ring arithmetic: uint64 wraps mod 2^64. A handful of NumPy calls per
    operation, where field views and a record assembly took several times that: the functions'
    protocols make dozens of these on small arrays per step."""
    w = op(_words(x), *rest)
    w[..., 2] = 0
    return _view(w, x.shape)


def _records(delta: np.ndarray, lam: np.ndarray, tag: np.ndarray | int = 0) -> np.ndarray:
    out = np.empty(lam.shape, dtype=MASKED)
    out["delta"] = delta
    out["lam"] = lam
    out["tag"] = tag
    return out


class Masked2k:
    """The masked2k engine of one party; see the module docstring for protocols and costs."""

    name = "masked2k"
    share_dtype = MASKED
    defers_products = True  # mul_truncating, square and square_truncating take defer (Deferred)
    trunc_bound_bits = TRUNC_BOUND_BITS

    def __init__(self, channel: Channel, preprocessing: Preprocessing, *, pair_prgs: Mapping[int, PRG],
                 kernels: types.SimpleNamespace, boolean: BooleanEngine | None = None) -> None:
        self.channel = channel
        self.pid = channel.pid
        self.n = channel.n
        self.preprocessing = preprocessing
        self.kernels = kernels
        self.semi = Semi2k(channel, preprocessing, pair_prgs=pair_prgs, kernels=kernels, boolean=boolean)
        self._next_tag = 1  # every party hands out the same tags in the same order
        self.converter = MaskedConverter(self, self.semi.converter) if self.semi.converter is not None else None

    def __repr__(self) -> str:
        return f"Masked2k(pid={self.pid}, n={self.n})"

    # ------------------------------------------------------------------ records and tags

    def additive(self, x: np.ndarray) -> np.ndarray:
        """This party's additive (semi2k) share of the record array x: [pid = 0] delta - lam, one
        pass over the records' words (every fallback and comparison makes one)."""
        w = _words(x)
        out = np.empty(x.shape, dtype=np.uint64)  # an array also for 0-d x (a ufunc alone returns a scalar)
        if self.pid == 0:
            return np.subtract(w[..., 0], w[..., 1], out=out)
        return np.negative(w[..., 1], out=out)

    def from_additive(self, z: np.ndarray) -> np.ndarray:
        """The tag-0 record of an additive share z: (0, -z, 0), written in one pass."""
        w = np.zeros((*z.shape, 3), dtype=np.uint64)
        np.negative(z, out=w[..., 1])
        return _view(w, z.shape)

    def _fresh(self, count: int) -> int:
        """The first of ``count`` new tags (consecutive)."""
        start = self._next_tag
        if start + count > MAX_FRESH:
            raise OverflowError("masked2k: mask tags exhausted (2^52 per session)")
        self._next_tag += count
        return start

    def follow(self, other: Masked2k) -> None:
        """Continue from ``other``'s tag counter (a dry run's shadow engine: the same tags as the
        real run that follows it, hence the same material requests)."""
        self._next_tag = other._next_tag

    def shadow(self, x: np.ndarray) -> np.ndarray:
        """A dry run's stand-in for the record array x: zero values, x's tags."""
        return _records(0, np.zeros(x.shape, dtype=np.uint64), x["tag"])

    def _zero_masks(self, t: int) -> bool:
        """Whether this party's shares of the masks tagged t are all 0 (another party's input)."""
        return tag_owner(t) not in (None, self.pid)

    def first_tag(self, x: np.ndarray) -> int | None:
        """t when x's tags are t, t+1, ... in row-major order with fresh masks (1 <= t, no shift
        bits), else None (one pass)."""
        t = self.kernels.masked_tags(_words(x))
        return t if t and not tag_shift(t) else None

    def _fallback(self, name: str, *args) -> np.ndarray:
        """semi2k's ``name`` on the additive shares of the record arguments; a tag-0 record."""
        conv = [self.additive(a) if isinstance(a, np.ndarray) and a.dtype == MASKED else a for a in args]
        return self.from_additive(getattr(self.semi, name)(*conv))

    # ------------------------------------------------------------------ local (linear) operations

    def zeros(self, shape: Sequence[int]) -> np.ndarray:
        return np.zeros(tuple(shape), dtype=MASKED)

    def public_share(self, c: np.ndarray) -> np.ndarray:
        """The public value c: delta = c at every party, no mask."""
        c = np.asarray(c, dtype=np.uint64)
        return _records(c, np.zeros(c.shape, dtype=np.uint64))

    def _linear(self, fn, x: np.ndarray, *y: np.ndarray) -> np.ndarray:
        """A linear map (semi2k's ``fn``, which the kernels apply to any layout) of delta and of
        lam alike: the record of its result, tag 0 (the dealer cannot follow the new mask)."""
        return _records(fn(x["delta"], *(v["delta"] for v in y)), fn(x["lam"], *(v["lam"] for v in y)))

    def add(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        return _words_op(np.add, x, _words(y).reshape(*x.shape, 3))

    def sub(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        return _words_op(np.subtract, x, _words(y).reshape(*x.shape, 3))

    def neg(self, x: np.ndarray) -> np.ndarray:
        return _words_op(np.negative, x)

    def _public_op(self, op, x: np.ndarray, c: np.ndarray) -> np.ndarray:
        """x with delta replaced by op(delta, c) for a public ring array c of x's shape: the mask,
        and so the tag, unchanged (delta is public, so every party applies op)."""
        w = np.array(_words(x))  # a copy of x's words, changed in place
        op(w[..., 0], np.asarray(c, dtype=np.uint64).reshape(x.shape), out=w[..., 0])
        return _view(w, x.shape)

    def add_public(self, x: np.ndarray, c: np.ndarray) -> np.ndarray:
        """x + c: delta + c at every party (delta is public); the tag stays."""
        return self._public_op(np.add, x, c)

    def sub_public(self, x: np.ndarray, c: np.ndarray) -> np.ndarray:
        return self._public_op(np.subtract, x, c)

    def public_sub(self, c: np.ndarray, x: np.ndarray) -> np.ndarray:
        return self.add_public(self.neg(x), c)

    def mul_public(self, x: np.ndarray, c: np.ndarray | int) -> np.ndarray:
        """x * c for a public ring array c of x's shape or a public integer (mod 2^64): delta and
        lam alike, tag 0."""
        if isinstance(c, np.ndarray):
            return _words_op(np.multiply, x, np.asarray(c, dtype=np.uint64).reshape(*x.shape, 1))
        return _words_op(np.multiply, x, np.uint64(int(c) % (1 << 64)))

    def matmul_public(self, x: np.ndarray, c: np.ndarray) -> np.ndarray:
        return self._linear(lambda a: self.semi.matmul_public(a, c), x)

    def public_matmul(self, c: np.ndarray, x: np.ndarray) -> np.ndarray:
        return self._linear(lambda a: self.semi.public_matmul(c, a), x)

    def sum(self, x: np.ndarray, axis: tuple[int, ...], keepdims: bool = False) -> np.ndarray:
        return self._linear(lambda a: self.semi.sum(a, axis, keepdims), x)

    def cumsum(self, x: np.ndarray, axis: int) -> np.ndarray:
        return self._linear(lambda a: self.semi.cumsum(a, axis), x)

    def finish(self) -> None:
        """Nothing to check at the end of a semi-honest session."""

    # ------------------------------------------------------------------ input and output

    def input(self, value: np.ndarray | None, owner: int, shape: tuple[int, ...]) -> np.ndarray:
        """The owner's value x as a record with masks the owner holds alone (ABY2.0's input):
        fresh tags naming the owner (:func:`~mpc.preprocessing.base.owned_tag`), whose mask is
        the owner's window lambda (every other party's share is 0, and the dealer knows lambda);
        the owner sends delta = x + lambda to every peer. 1 round, n-1 elements sent by the
        owner, none by the others."""
        shape = tuple(shape)
        size = math.prod(shape)
        t0 = owned_tag(self._fresh(size), owner)
        tag = self.channel.next_tag()
        if self.pid == owner:
            check_input_value(value, shape)
            lam = self.preprocessing.mask_shares(t0, (size,))
            delta = self.kernels.add(value.reshape(-1), lam)  # uniform to the others: lambda is the owner's
            for p in self.channel.peers:
                self.channel.send(p, delta, tag)
        else:
            lam = np.zeros(size, dtype=np.uint64)
            delta = self.channel.recv(owner, tag, dtype=np.uint64, shape=(size,))
        return _view(self.kernels.masked_finish(delta, lam, t0), shape)

    def open(self, shares: Sequence[np.ndarray], to: int | None = None) -> list[np.ndarray] | None:
        """semi2k's opening of the additive shares (re-randomised): 1 round."""
        return self.semi.open([self.additive(s) for s in shares], to)

    # ------------------------------------------------------------------ multiplications

    def mul(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        """x * y: 1 round of n-1 elements for tagged operands (module docstring), else Beaver."""
        return steps.run(self.channel.exchange, self.mul_truncating_steps(x, 0, y, 0))

    def mul_truncating(self, x: np.ndarray, kx: int, y: np.ndarray, ky: int, defer: bool = False
                       ) -> np.ndarray | Deferred:
        """floor(x / 2^kx) * floor(y / 2^ky): the masked product when nothing is pending, else
        semi2k's truncating product (1 round, 2(n-1) elements). ``defer``: a masked product
        comes back as a :class:`~mpc.engines.base.Deferred` (:meth:`_product_steps`)."""
        return steps.run(self.channel.exchange, self.mul_truncating_steps(x, kx, y, ky, defer))

    def mul_truncating_steps(self, x: np.ndarray, kx: int, y: np.ndarray, ky: int, defer: bool = False
                             ) -> steps.Steps[np.ndarray | Deferred]:
        """:meth:`mul_truncating` as a step generator (:mod:`mpc.engines.steps`). A pending
        truncation of a masked operand is done locally first (its output keeps a truncated
        mask), so the product is still one masked opening of one element per peer. An operand
        may be a :class:`~mpc.engines.base.Deferred` product: truncated, it is truncated in its
        finishing pass (:meth:`_truncate_masked`); else it is finished here."""
        if (kx or ky) and self._maskable(x, kx) and self._maskable(y, ky):
            xt = self._truncate_masked(x, kx) if kx else x
            yt = self._truncate_masked(y, ky) if ky and xt is not None else y
            if xt is not None and yt is not None:
                x, kx, y, ky = xt, 0, yt, 0
        x, y = _made(x), _made(y)
        tx, ty = _head(x), _head(y)
        if not kx and not ky and tx and ty:
            tz = self._fresh(x.size)
            lz, *gs = self.preprocessing.mask_products(tx, ty, tz, x.shape)
            g = self._mask_product(x, y, tx, ty, gs)
            s, run = self.kernels.masked_mul_share(_words(x), _words(y), lz, g, self.pid == 0)
            if run:
                return (yield from self._product_steps(s, lz, tz, x.shape, defer))
            # not runs (a permuted or repeated view): the item is not the operands'; it stays
            # unused, alike at every party and in a dry run, and a product below does the work
        if not kx and not ky:  # (a zero first tag settles it without the kernel's pass)
            if ty and self.first_tag(y):
                return (yield from self._half_mul_steps(x, y))
            if tx and self.first_tag(x):
                return (yield from self._half_mul_steps(y, x))
        z = yield from self.semi.mul_truncating_steps(self.additive(x), kx, self.additive(y), ky)
        return self.from_additive(z)

    def _half_mul_steps(self, x: np.ndarray, y: np.ndarray) -> steps.Steps[np.ndarray]:
        """x * y where only y's mask is the dealer's (its tags a run): with an ``mhtriple``
        (a, c = a lambda_y), open d = x - a (1 round, n-1 elements), then locally
        z_i = dy x_i - d lam_y,i - c_i, since xy = x dy - (d + a) lambda_y. A tag-0 record."""
        k = self.kernels
        a, c = self.preprocessing.half_products(int(y["tag"].flat[0]), x.shape)
        xa = self.additive(x).reshape(-1)
        mine = k.sub(xa, a.reshape(-1))
        d = self.semi._sum((yield mine))
        z = k.sub(k.mul(y["delta"].reshape(-1), xa), k.add(k.mul(d, y["lam"].reshape(-1)), c.reshape(-1)))
        return self.from_additive(z.reshape(x.shape))

    def _mask_product(self, x: np.ndarray, y: np.ndarray, tx: int, ty: int, gs: list[np.ndarray]) -> np.ndarray:
        """This party's share of lambda_x lambda_y from an ``mtriple`` item's factor products:
        the product itself for fresh masks; for a truncated mask A - T M (T = (1 - msb(c))
        2^(64-k), public from the record's delta: :func:`_shift_coef`) the combination
        A_x A_y - T_y A_x M_y - T_x M_x A_y + T_x T_y M_x M_y of the products present."""
        if len(gs) == 1:
            return gs[0]
        k = self.kernels
        coef = {}
        if tag_shift(tx):
            coef["x"] = _shift_coef(x, tag_shift(tx))
        if tag_shift(ty):
            coef["y"] = _shift_coef(y, tag_shift(ty))
        g = np.array(gs[0].reshape(-1), copy=True)
        for (i, j), part in zip(mtriple_products(tx, ty)[1:], gs[1:], strict=True):
            p = part.reshape(-1)
            if i and j:
                k.add(g, k.mul(k.mul(coef["x"], coef["y"]), p), out=g)
            else:
                k.sub(g, k.mul(coef["x"] if i else coef["y"], p), out=g)
        return g.reshape(x.shape)

    @staticmethod
    def _maskable(x: np.ndarray | Deferred, k: int) -> bool:
        """Whether x truncated by k (0: as it is) can carry a dealer-known mask, judged by its
        first tag (O(1); the kernels check the rest): tagged, and fresh if it is to be truncated.
        A Deferred product always can: its tags are fresh."""
        if isinstance(x, Deferred):
            return True
        t = _head(x)
        return bool(t) and not (k and tag_shift(t))

    def _truncate_masked(self, x: np.ndarray | Deferred, k: int) -> np.ndarray | None:
        """floor(x / 2^k) locally when x's masks are fresh and run (an ``mtrunc`` item; the
        output carries the truncated masks' tags), else None (the item, if taken, stays unused).
        A Deferred product is truncated in its finishing pass (the same bits and item)."""
        if isinstance(x, Deferred):
            t = x.truncated(k)
            if t is not None:
                return t
            x = x.value()
        if not self._maskable(x, k):
            return None
        a, m = self.preprocessing.mask_truncs(_head(x), k, x.shape)
        words, run = self.kernels.masked_trunc(_words(x), a, m, k)
        return _view(words, x.shape) if run else None

    def _product_steps(self, s: np.ndarray, lz: np.ndarray, tz: int, shape: tuple[int, ...], defer: bool = False
                       ) -> steps.Steps[np.ndarray | Deferred]:
        """Open delta_z = sum_i s_i (one exchange of this party's summands s): the record of z
        with this party's mask shares lz and the tags tz, tz+1, ...

        ``defer``: a :class:`~mpc.engines.base.Deferred` holding s, the peers' sum and lz instead
        of the records. Truncated by k at once, it takes the ``mtrunc`` item of tz (as
        :meth:`_truncate_masked` of the records would) and writes the truncated records in the
        finishing pass (``masked_finish_trunc``): 32 bytes read and 24 written per element,
        against 48 and 48 for the finish and the truncation apart (W1 with its truncation,
        10^6 elements: one pass of about 3 ms instead of two of about 6)."""
        s, lz = s.reshape(-1), lz.reshape(-1)
        rest = self.semi._peers_sum((yield s))

        def finish() -> np.ndarray:
            return _view(self.kernels.masked_finish(s, lz, tz, rest), shape)

        def truncated(k: int) -> np.ndarray | None:
            a, m = self.preprocessing.mask_truncs(tz, k, shape)
            words, fresh = self.kernels.masked_finish_trunc(s, a.reshape(-1), m.reshape(-1), tz, k, rest)
            return _view(words, shape) if fresh else None

        return Deferred(shape, MASKED, finish, truncated) if defer else finish()

    def square(self, x: np.ndarray, defer: bool = False) -> np.ndarray | Deferred:
        """x * x: 1 round of n-1 elements for a tagged x, else semi2k's square pair. ``defer``:
        as :meth:`mul_truncating`'s."""
        tx = _head(x)
        if tag_shift(tx):  # a truncated mask: the general product, with x as both operands
            return self.mul_truncating(x, 0, x, 0, defer)
        if tx:
            tz = self._fresh(x.size)
            lz, g = self.preprocessing.mask_squares(tx, tz, x.shape)
            w = _words(x)
            s, run = self.kernels.masked_mul_share(w, w, lz, g, self.pid == 0)  # y = x: lz + g - 2 dx lx (+ dx^2)
            if run:
                return steps.run(self.channel.exchange, self._product_steps(s, lz, tz, x.shape, defer))
        return self._fallback("square", x)

    def square_truncating(self, x: np.ndarray | Deferred, k: int, defer: bool = False) -> np.ndarray | Deferred:
        """floor(x / 2^k)^2: the local truncation of a masked x, then its square (one masked
        opening); else semi2k's truncating square. ``defer``: as :meth:`mul_truncating`'s; x may
        be a Deferred product (:meth:`_truncate_masked`)."""
        xt = self._truncate_masked(x, k)
        return self.square(xt, defer) if xt is not None else self._fallback("square_truncating", _made(x), k)

    def matmul(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        """x @ y (2-d): both masks the dealer's (tags strided: row-major, transposed or a block
        of either), 1 round of (n-1) m n elements; one of them, 1 round of the other operand's
        elements (:meth:`_half_matmul`); else, and batched, semi2k's matrix triple."""
        sx, sy = (_strided(x), _strided(y)) if x.ndim == 2 else (None, None)
        if sx is None or sy is None:
            if sy is not None:
                return self._half_matmul(x, y, sy, 1)
            if sx is not None:
                return self._half_matmul(x, y, sx, 0)
            return self._fallback("matmul", x, y)
        (m, kk), n = x.shape, y.shape[1]
        k = self.kernels
        tz = self._fresh(m * n)
        lz, g = self.preprocessing.mask_matmuls(sx, sy, tz, m, kk, n)
        s = k.add(lz.reshape(-1), g.reshape(-1))
        for sign, prod in self._masked_matmul_terms(x, y, self._zero_masks(sx[0]), self._zero_masks(sy[0])):
            (k.add if sign > 0 else k.sub)(s, prod.reshape(-1), out=s)
        return steps.run(self.channel.exchange, self._product_steps(s, lz, tz, (m, n)))

    def _masked_matmul_terms(self, x: np.ndarray, y: np.ndarray, zero_x: bool, zero_y: bool
                             ) -> list[tuple[int, np.ndarray]]:
        """This party's part of [i = 0] Dx @ Dy - Dx @ Ly_i - Lx_i @ Dy as signed matrix
        products, skipping what is zero here: Lx_i or Ly_i when it holds no share of that
        operand's masks (zero_x, zero_y: another party's input). Party 0 folds its first two
        terms into Dx @ (Dy - Ly) or, when Ly_0 = 0, its first and third into (Dx - Lx) @ Dy.
        So with operands input by two parties
        (a weight matrix and a batch, W2) every party makes ONE matrix product, none when it owns
        neither (n >= 3), against two in general."""
        k = self.kernels
        dx, dy, lx, ly = x["delta"], y["delta"], x["lam"], y["lam"]

        def minus(a: np.ndarray, b: np.ndarray) -> np.ndarray:
            return k.sub(a.reshape(-1), b.reshape(-1)).reshape(a.shape)

        if self.pid == 0:
            if zero_y:
                return [(1, k.matmul(dx if zero_x else minus(dx, lx), dy))]
            terms = [(1, k.matmul(dx, minus(dy, ly)))]
            return terms if zero_x else terms + [(-1, k.matmul(lx, dy))]
        terms = [] if zero_y else [(-1, k.matmul(dx, ly))]
        return terms if zero_x else terms + [(-1, k.matmul(lx, dy))]

    def _half_matmul(self, x: np.ndarray, y: np.ndarray, tags: tuple[int, int, int], side: int) -> np.ndarray:
        """x @ y where only one operand's masks are the dealer's (side 1: y's, side 0: x's). With
        an ``mhmatmul`` item (side 1: a, c = a @ Lambda_y): open D = x - a (1 round, (n-1) m k
        elements, against Beaver's m k + k n), then z_i = x_i @ Delta_y - D @ Lambda_y,i - c_i,
        as x @ y = x @ Delta_y - (D + a) @ Lambda_y; side 0 mirrors it with E = y - b. Two
        matrix products per party, as Beaver's; one where this party's Lambda_y,i is 0 (another
        party's input: a weight matrix at every party but its owner). A tag-0 record (the
        output's mask is not the dealer's: the next product of it is half-masked again when its
        other operand is)."""
        (m, kk), n = x.shape, y.shape[1]
        k = self.kernels
        u, c = self.preprocessing.half_matmuls(side, tags, m, kk, n)
        plain, masked = (x, y) if side == 1 else (y, x)
        pa = self.additive(plain)
        (opened,) = self.semi._open_internal([k.sub(pa, u)])
        delta, lam = masked["delta"], masked["lam"]
        if self._zero_masks(tags[0]):  # this party's Lambda_y,i is 0
            rest = c
        else:
            rest = k.add(k.matmul(opened, lam) if side == 1 else k.matmul(lam, opened), c)
        return self.from_additive(k.sub(k.matmul(pa, delta) if side == 1 else k.matmul(delta, pa), rest))

    # ------------------------------------------------------------------ truncation and division

    def truncate_many(self, xs: Sequence[np.ndarray | Deferred], k: int) -> list[np.ndarray]:
        """floor(x / 2^k) (+ at most one ulp) for each x with |x| < 2^62: local for tagged x
        (module docstring), semi2k's one round for the others (all of them together)."""
        return steps.run(self.channel.exchange, self.truncate_steps(xs, k))

    def truncate_steps(self, xs: Sequence[np.ndarray | Deferred], k: int) -> steps.Steps[list[np.ndarray]]:
        """:meth:`truncate_many` as a step generator (:mod:`mpc.engines.steps`). An x may be a
        Deferred product (:meth:`_truncate_masked`)."""
        out: list[np.ndarray | None] = [None] * len(xs)
        rest = []
        for i, x in enumerate(xs):
            out[i] = self._truncate_masked(x, k)
            if out[i] is None:
                rest.append(i)
        if rest:
            done = yield from self.semi.truncate_steps([self.additive(_made(xs[i])) for i in rest], k)
            for i, z in zip(rest, done, strict=True):
                out[i] = self.from_additive(z)
        return out  # type: ignore[return-value]

    def divide_many(self, xs: Sequence[np.ndarray], d: int) -> list[np.ndarray]:
        """semi2k's division by a public d (1 round) on the additive shares."""
        return [self.from_additive(z) for z in self.semi.divide_many([self.additive(x) for x in xs], d)]

    def round_exchange(self, payload: np.ndarray) -> list[np.ndarray]:
        """The exchange of a lockstep (:func:`mpc.engines.steps.lockstep`): the channel's."""
        return self.channel.exchange(payload)


class MaskedConverter:
    """The bit protocols for masked2k: semi2k's :class:`~mpc.engines.convert.Converter` on the
    records' additive shares (local conversions both ways), so every comparison and function
    costs what it costs under semi2k. ``arith`` is the masked engine (callers pass records)."""

    def __init__(self, arith: Masked2k, inner) -> None:
        self.arith = arith
        self.inner = inner

    def __getattr__(self, name: str):  # boolean-side attributes and helpers (boolean, unpack_planes, ...)
        return getattr(self.inner, name)

    def _recs(self, zs: Sequence[np.ndarray]) -> list[np.ndarray]:
        return [self.arith.from_additive(z) for z in zs]

    def _on_additive(name: str):  # noqa: N805 - a method factory, run in the class body
        """The inner converter's ``name`` on the additive shares of the arithmetic operands
        ``xs`` (the *_steps versions return the inner generator itself)."""
        def call(self, xs: Sequence[np.ndarray], *rest, **options):
            return getattr(self.inner, name)([self.arith.additive(x) for x in xs], *rest, **options)
        call.__name__ = name
        return call

    msb = _on_additive("msb")
    msb_steps = _on_additive("msb_steps")
    msb_planes = _on_additive("msb_planes")
    msb_planes_steps = _on_additive("msb_planes_steps")
    eqz = _on_additive("eqz")
    a2b = _on_additive("a2b")
    a2b_steps = _on_additive("a2b_steps")
    del _on_additive

    def b2a(self, bits: Sequence[np.ndarray]) -> list[np.ndarray]:
        return self._recs(self.inner.b2a(bits))

    def b2a_steps(self, bits: Sequence[np.ndarray]):
        return self._recs((yield from self.inner.b2a_steps(bits)))

    def bit_mul(self, pairs: Sequence[tuple[np.ndarray, np.ndarray]],
                b2a: Sequence[np.ndarray] = ()) -> tuple[list[np.ndarray], list[np.ndarray]]:
        prod, ext = self.inner.bit_mul([(b, self.arith.additive(x)) for b, x in pairs], b2a)
        return self._recs(prod), self._recs(ext)


def build(ctx: EngineContext) -> Masked2k:
    """The runtime's builder (:mod:`mpc.runtime.engines`): masked2k with semi2k's GMW side."""
    return Masked2k(ctx.channel, ctx.preprocessing, pair_prgs=ctx.pair_prgs, kernels=ctx.kernels, boolean=ctx.boolean)
