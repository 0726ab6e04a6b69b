"""The preprocessing interface: correlated randomness consumed once by the online phase.

Material kinds (all additive shares over Z_2^64, one per party):

- ``triple``: Beaver triples (a, b, c = a*b) of a given shape (Beaver, CRYPTO 1991);
- ``square``: square pairs (a, c = a^2);
- ``matmul``: matrix triples (A (m,k), B (k,n), C = A@B), optionally batched with a leading
  axis (Mohassel and Zhang, "SecureML", IEEE S&P 2017);
- ``trunc``: truncation triples (r, r >> f, msb(r)) with r uniform over Z_2^64 and ``>>`` the
  logical shift, for truncation that never wraps (see :mod:`mpc.engines.semi2k`);
- ``div``: division triples (r, floor(r / d), msb(r)), the same for a public divisor d >= 2;
- ``tmul``: truncating-product tuples for floor(x / 2^k1) * floor(y / 2^k2) in the one round of
  the product (k2 = 0: y is not truncated): masks r1, r2 uniform, A_j = r_j >> k_j and
  M_j = msb(r_j) for each truncated operand (A2 = r2 when k2 = 0), and the products A1*A2,
  M1*A2, plus A1*M2 and (when k1 + k2 > 64) M1*M2 when both are truncated
  (:meth:`mpc.engines.semi2k.Semi2k.mul_truncating`);
- ``tsquare``: the same for the square of floor(x / 2^k): r; A = r >> k, M = msb(r), A*A, A*M.

Authenticated kinds (SPDZ2k, ring 128 with MACs; :mod:`mpc.preprocessing.authenticated`): each
kind above in Z_2^128 with a MAC share per value share (arrays of the
:data:`~mpc.sharing.authenticated.AUTH` record dtype), and two kinds of their own:

- ``rand``: an authenticated 2^64 u, u uniform in Z_2^64 (the mask of the upper 64 bits of a
  revealed value; dealt as shares of its own, so that every bit of every share of it is used);
- ``input``: params (owner, *shape), an authenticated random mask r that the owner also gets in
  the clear (one more array in its item), for inputs and outputs to one party.

Authenticated boolean kinds (spdz2k's boolean side; :mod:`mpc.sharing.auth_bits`: XOR-shared
bits with GF(2^64) MACs, packed in :data:`~mpc.sharing.auth_bits.BAUTH` words; the arithmetic
halves are AUTH records):

- ``bit_triple`` with ``ring=1, auth=True``: authenticated AND triples, ``nwords`` words: a,
  b, c as BAUTH words and their heads (their bits and folded MACs as LAUTH words,
  :class:`AuthBitTriple`). Params (nwords,), or (nwords, period, tail) to say which lanes the
  caller uses (:func:`live_lanes`: all 64 of every word but the last of each ``period``, whose
  first ``tail``): a source that offers it (``offers_live_lanes``, the dealer-free one) makes
  only those gates and leaves the others zero triples (a = b = c = 0, MACs 0), so a bit circuit
  on m < 64 elements pays for m gates per word, not 64. Only for circuits whose other lanes hold
  public values (padding), since a zero triple's opening d = x ^ a shows x
  (:mod:`mpc.engines.spdz2k_convert`);
- ``light_triple`` (authenticated only, ``ring=1``): the same AND triples with c as a LAUTH word
  (its bits and folded MAC: all that a *light* AND reads of it, one whose output is only ever
  XORed, masked and opened, never selected bit by bit; :meth:`~mpc.engines.authbits.AuthBits.
  and_many`), so the dealer sends party n-1 16 bytes for c's word instead of 520, and every party
  holds 16 (c's fold relation XOR_i f_i = Delta c, c read as an element of GF(2^64), is the fold
  of the 64 MAC relations). Asked only of a source that ``offers_light_triples`` (the dealer's);
  params as ``bit_triple``'s;
- ``input`` with ``ring=1, auth=True``: params (owner, *shape), authenticated random bit words
  whose value the owner also gets (binary inputs and private reveals);
- ``dabit`` and ``bitmul`` with ``ring=128, auth=True``: daBits and bit-injection triples with
  both halves authenticated (the bit words BAUTH, the ring elements AUTH);
- ``edabit`` (authenticated only, ``ring=128``): params (count,), edaBits (Escudero, Ghosh,
  Keller, Rachuri, Scholl, CRYPTO 2020): r uniform in Z_2^128 (AUTH, ``(count,)``) and the bits
  of r mod 2^64 as bit planes (BAUTH, ``(64, ceil(count/64))``, plane j = bit j of every r).
  With params (count, 1), the item also holds the products of the low 62 planes in pairs,
  q_t = plane_2t AND plane_2t+1 for t < :data:`EDABIT_PAIRS` (BAUTH, ``(31, ceil(count/64))``):
  with them the first level of spdz2k's MSB comparison tree is linear (no AND gate online,
  :meth:`mpc.engines.authbits.AuthBits.lt_pairs_light`).

Masked kinds (the masked2k engine, :mod:`mpc.engines.masked2k`; Z_2^64, unauthenticated). A
*mask tag* t >= 1 names one element of every party's mask window: party i's share of the mask
lambda(t) is word t of its own keystream ``PRG(k_i).derive("masks")`` read by random access
(:meth:`Preprocessing.mask_shares`), so the dealer, which holds every k_i, knows lambda(t) =
sum_i of them, and a party knows only its own share. A tag whose bits 52..57 hold o + 1
(:func:`owned_tag`; the counter part stays below 2^52, :data:`MAX_FRESH`) names the mask of an
input of party o, held by o alone: lambda(t) is word t of o's keystream and every other
party's share is 0 (:func:`tag_owner`). A request's operand runs stay inside one such block, and
an output tag (``tz``) names no owner. A request names the tags of its operands by
their first tag (an operand's tags are consecutive in row-major order):

- ``mtriple``: params (tx, ty, tz, *shape): the output's mask share lambda_z (the window at tz,
  drawn by the party itself) and a share of lambda_x * lambda_y (derived). An operand's tag may
  carry a shift k in its bits 58..63 (:data:`TAG_BITS`): its mask is then the truncated mask
  A - T M of a fresh one, with A = lambda >> k, M = msb(lambda) and T public (the party computes
  it from the operand's delta), so the item holds the products of the factors instead, A y and
  M y for lambda_y (:func:`mtriple_products`), which the parties combine with T;
- ``msquare``: params (tx, tz, *shape): lambda_z and a share of lambda_x^2;
- ``mmatmul``: params (tx, rx, cx, ty, ry, cy, tz, m, k, n): lambda_z (m, n) and a share of
  Lambda_x @ Lambda_y for Lambda_x (m, k) whose element (i, j) has tag tx + i rx + j cx (row and
  column strides >= 1: a row-major matrix has (k, 1), its transpose (1, m)), and Lambda_y (k, n)
  likewise;
- ``mtrunc``: params (tx, f, *shape): shares of lambda_x >> f and of msb(lambda_x) (both derived);
- ``mhtriple``: params (ty, *shape): a product with ONE masked operand y: a uniform a (base) and a
  share of a * lambda_y (derived);
- ``mhmatmul``: params (side, t, r, c, m, k, n): a matrix product with one masked operand, the
  left one X (m, k) (side 0: a uniform b (k, n) and a share of Lambda_X @ b) or the right one
  Y (k, n) (side 1: a uniform a (m, k) and a share of a @ Lambda_Y), tags strided as in mmatmul.

``ring`` names the bit length of the sharing ring: 1 for GF(2) (authenticated bits only), 64 for
Z_2^64, 128 for Z_2^128 (authenticated only; a mixed kind names its arithmetic ring).

Boolean kinds (XOR shares, combined with XOR rather than added):

- ``bit_triple``: AND triples for the GMW engine, ``nwords`` packed words (a, b, c = a AND b),
  64 triples per word (:mod:`mpc.preprocessing.bit_triples`);
- ``dabit``: daBits, ``count`` random bits shared both ways: packed XOR words and additive
  ring elements 0/1 (:mod:`mpc.preprocessing.dabits`).

Every :class:`Preprocessing` is also a :class:`~mpc.preprocessing.bit_triples.BitTripleSource`
and a :class:`~mpc.preprocessing.dabits.DaBitSource`: ``bit_triples`` and ``dabits`` go through
the same :meth:`Preprocessing.take` as everything else, so recording, dry runs and prefetching
cover the boolean side too.

A request is a :class:`Request` ``(kind, params, ring, auth)``: a *plan* is a list of requests.
``ring`` is the bit length of the sharing ring (64: Z_2^64; 128: Z_2^128, authenticated only)
and ``auth`` whether the shares carry MACs (SPDZ2k). How a source produces an item (a dealer's seeds and corrections, OT, HE) is the source's
business and stays out of this interface. Every item is single use: :meth:`Preprocessing.take` removes it from the source and advances a consumed
counter; material is drawn from streams that only move forward, so the same randomness can
never be handed out twice.
"""

from __future__ import annotations

import contextlib
import math
from abc import ABC, abstractmethod
from collections.abc import Iterable, Iterator, Sequence
from typing import NamedTuple

import numpy as np

from mpc.errors import ConfigError
from mpc.preprocessing.bit_triples import BitTriple, BitTripleSource
from mpc.preprocessing.dabits import BitMulTriple, DaBits, DaBitSource
from mpc.sharing.packing import nwords

# the order is the wire code of a kind (mpc.preprocessing.protocol): new kinds go at the end
KINDS = ("triple", "square", "matmul", "trunc", "div", "bit_triple", "dabit", "bitmul", "tmul", "tsquare",
         "rand", "input", "edabit", "mtriple", "msquare", "mmatmul", "mtrunc", "mhtriple", "mhmatmul", "light_triple")
MASK_KINDS = ("mtriple", "msquare", "mmatmul", "mtrunc", "mhtriple", "mhmatmul")  # masked2k: the dealer's masks
TAG_BITS = 58
MAX_TAG = 1 << TAG_BITS  # fresh mask tags (masked2k) are below this; bits 58.. carry a truncation
OWNER_BIT = 52  # bits 52..57 of a tag: 0, or owner + 1 for the mask of an input held by its owner alone
MAX_FRESH = 1 << OWNER_BIT  # the tag counter's values lie in [1, MAX_FRESH)
MAX_OWNER = (1 << (TAG_BITS - OWNER_BIT)) - 2  # the largest owner an input mask tag can name


def tag_shift(t: int) -> int:
    """k of a tag whose mask is a fresh mask truncated by k bits (0: the fresh mask itself)."""
    return int(t) >> TAG_BITS


def tag_owner(t: int) -> int | None:
    """The party whose window alone holds the mask of tag t (an input's mask, held by its owner:
    every other party's share is 0), or None for a mask shared by every party's window."""
    o = (int(t) >> OWNER_BIT) & ((1 << (TAG_BITS - OWNER_BIT)) - 1)
    return o - 1 if o else None


def owned_tag(t: int, owner: int) -> int:
    """The tag of counter value t for a mask held by ``owner`` alone (:func:`tag_owner`)."""
    if not 0 <= owner <= MAX_OWNER:
        raise ConfigError(f"masked2k: input owner {owner} beyond the {MAX_OWNER + 1} parties mask tags can name")
    if not 1 <= t < MAX_FRESH:
        raise ConfigError(f"mask tag: counter {t} outside [1, 2^52)")
    return int(t) | (owner + 1) << OWNER_BIT


def tag_block_fits(t: int, size: int) -> bool:
    """Whether tags t .. t + size - 1 are fresh (no shift bits) and lie in one owner's block:
    1 <= counter and the last below MAX_FRESH."""
    low = int(t) & (MAX_FRESH - 1)
    return int(t) < MAX_TAG and low >= 1 and low + size <= MAX_FRESH


def mask_factors(t: int) -> int:
    """How many dealer factors a tag's mask has: 1 (lambda) or 2 (lambda >> k and msb(lambda))."""
    return 2 if tag_shift(t) else 1


def mtriple_products(tx: int, ty: int) -> list[tuple[int, int]]:
    """The factor pairs (i of x, j of y) of an ``mtriple`` item's mask products, in stream order:
    every pair but (M_x, M_y) when kx + ky <= 64 (its coefficient T_x T_y is 0 mod 2^64)."""
    fx, fy = mask_factors(tx), mask_factors(ty)
    pairs = [(i, j) for i in range(fx) for j in range(fy)]
    if fx == fy == 2 and tag_shift(tx) + tag_shift(ty) <= 64:
        pairs.remove((1, 1))
    return pairs
BOOLEAN_KINDS = ("bit_triple", "dabit", "bitmul")  # XOR-shared (in part): combined with XOR, not addition
AUTH_KINDS = ("triple", "square", "matmul", "trunc", "div", "tmul", "tsquare", "rand", "input",
              "dabit", "bitmul", "edabit")  # authenticated over Z_2^128 (mixed kinds: their ring half)
BIT_AUTH_KINDS = ("bit_triple", "input", "light_triple")  # authenticated over GF(2) (ring=1)
AUTH_ONLY_KINDS = ("rand", "input", "edabit", "light_triple")
AND_TRIPLE_KINDS = ("bit_triple", "light_triple")  # authenticated AND triples (ring 1): c full, or light
# Bound on the ring elements of one request: rejects absurd sizes (a malformed or hostile request)
# before anything is allocated.
MAX_ELEMENTS = 1 << 30


EDABIT_PAIRS = 31  # pair products of an edaBit's planes 0..61: the MSB compares the low 63 bits
RINGS = (1, 64, 128)  # bit lengths of the sharing rings a request may name (1 and 128: authenticated only)


class Request(NamedTuple):
    """One item of material. ``params``: triple/square -> shape; matmul -> (batch, m, k, n) with
    batch 0 for a plain matrix product; trunc -> (f, *shape); div -> (d, *shape);
    tmul -> (k1, k2, *shape); tsquare -> (k, *shape);
    bit_triple -> (nwords,) (or (nwords, period, tail) with ring 1: :func:`live_lanes`; so
    light_triple); dabit
    and bitmul -> (count,); edabit -> (count,) or (count, 1) (with
    the pair products); rand -> shape;
    input -> (owner, *shape).
    ``ring``: shares in Z_2^ring; ``auth``: shares with MACs (see the module docstring)."""

    kind: str
    params: tuple[int, ...]
    ring: int = 64
    auth: bool = False


class Triple(NamedTuple):
    a: np.ndarray
    b: np.ndarray
    c: np.ndarray


class AuthBitTriple(NamedTuple):
    """An authenticated AND triple item: a, b, c as BAUTH words, and their bits and folded MACs
    again as contiguous LAUTH words (``la``, ``lb``: what the AND's masking reads; ``lc``: all a
    light AND reads of c; :func:`mpc.preprocessing.authenticated.triple_heads`)."""

    a: np.ndarray
    b: np.ndarray
    c: np.ndarray
    la: np.ndarray
    lb: np.ndarray
    lc: np.ndarray


class SquarePair(NamedTuple):
    a: np.ndarray
    c: np.ndarray


class TruncTriple(NamedTuple):
    r: np.ndarray  # share of r, uniform in Z_2^64
    r_high: np.ndarray  # share of r >> f (logical shift), or of floor(r / d) for a division triple
    r_msb: np.ndarray  # share of the top bit of r, as a ring element 0/1


class TruncProduct(NamedTuple):
    """Shares of one ``tmul`` item; the components a case does not use are None."""

    r1: np.ndarray  # mask of x (uniform)
    r2: np.ndarray  # mask of y (uniform)
    a1: np.ndarray  # r1 >> k1
    m1: np.ndarray  # msb(r1), 0/1
    a2: np.ndarray  # r2 >> k2, or r2 itself when k2 = 0
    m2: np.ndarray | None  # msb(r2) (k2 > 0)
    a1a2: np.ndarray
    m1a2: np.ndarray
    a1m2: np.ndarray | None  # (k2 > 0)
    m1m2: np.ndarray | None  # (k2 > 0 and k1 + k2 > 64; else its coefficient is 0 mod 2^64)


class TruncSquare(NamedTuple):
    """Shares of one ``tsquare`` item."""

    r: np.ndarray
    a: np.ndarray  # r >> k
    m: np.ndarray  # msb(r)
    aa: np.ndarray  # (r >> k)^2
    am: np.ndarray  # (r >> k) * msb(r)


def tmul_components(k1: int, k2: int) -> tuple[str, ...]:
    """The component names of a ``tmul`` item, base (r1, r2) first, then derived, in stream order."""
    names = ["r1", "r2", "a1", "m1"]
    if k2:
        names += ["a2", "m2"]
    names += ["a1a2", "m1a2"]
    if k2:
        names.append("a1m2")
        if k1 + k2 > 64:
            names.append("m1m2")
    return tuple(names)


def _shape(shape: object, what: str) -> tuple[int, ...]:
    if isinstance(shape, (int, np.integer)):
        shape = (int(shape),)
    try:
        dims = tuple(int(d) for d in shape)  # type: ignore[union-attr]
    except TypeError:
        raise ConfigError(f"{what}: expected a shape (tuple of ints), got {shape!r}") from None
    if any(d < 0 for d in dims):
        raise ConfigError(f"{what}: negative dimension in shape {dims}")
    return dims


def triple_request(shape) -> Request:
    return Request("triple", _shape(shape, "triples(shape)"))


def square_request(shape) -> Request:
    return Request("square", _shape(shape, "square_pairs(shape)"))


def matmul_request(m: int, k: int, n: int, batch: int | None = None) -> Request:
    dims = _shape((m, k, n), "matmul_triples(m, k, n)")
    b = 0 if batch is None else _shape((batch,), "matmul_triples(batch)")[0]
    return Request("matmul", (b, *dims))


def trunc_request(shape, f: int) -> Request:
    if isinstance(f, bool) or not isinstance(f, (int, np.integer)) or not 1 <= int(f) <= 62:
        raise ConfigError(f"trunc_triples(f): expected a shift in [1, 62], got {f!r}")
    return Request("trunc", (int(f), *_shape(shape, "trunc_triples(shape)")))


def div_request(shape, d: int) -> Request:
    if isinstance(d, bool) or not isinstance(d, (int, np.integer)) or not 2 <= int(d) <= 1 << 62:
        raise ConfigError(f"div_triples(d): expected a divisor in [2, 2^62], got {d!r}")
    return Request("div", (int(d), *_shape(shape, "div_triples(shape)")))


def _shift(k: object, what: str, low: int) -> int:
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or not low <= int(k) <= 62:
        raise ConfigError(f"{what}: expected a shift in [{low}, 62], got {k!r}")
    return int(k)


def tmul_request(shape, k1: int, k2: int) -> Request:
    k1, k2 = _shift(k1, "trunc_products(k1)", 1), _shift(k2, "trunc_products(k2)", 0)
    return Request("tmul", (k1, k2, *_shape(shape, "trunc_products(shape)")))


def tsquare_request(shape, k: int) -> Request:
    return Request("tsquare", (_shift(k, "trunc_squares(k)", 1), *_shape(shape, "trunc_squares(shape)")))


def _auth(req: Request, auth: bool) -> Request:
    """The request itself, or its authenticated Z_2^128 twin."""
    return req._replace(ring=128, auth=True) if auth else req


def bit_triple_request(nwords: int) -> Request:
    return Request("bit_triple", _count(nwords, "bit_triples(nwords)"))


def live_lanes(req: Request) -> np.ndarray:
    """The lanes a ``bit_triple`` request's gates are made for, as indices into its 64 * nwords
    lanes (word-major): every lane, or with params (nwords, period, tail) every lane of every
    word but the last of each run of ``period`` words, and that word's first ``tail`` lanes (a
    bit circuit's planes of W = period words over m elements, m = 64 (W - 1) + tail)."""
    nw = req.params[0]
    lanes = np.arange(64 * nw, dtype=np.int64)
    if len(req.params) == 1:
        return lanes
    period, tail = req.params[1:]
    word, lane = np.divmod(lanes, 64)
    return lanes[(word % period != period - 1) | (lane < tail)]


def live_count(req: Request) -> int:
    """``len(live_lanes(req))``, without making the lanes."""
    nw = req.params[0]
    if len(req.params) == 1:
        return 64 * nw
    period, tail = req.params[1:]
    return nw // period * (64 * (period - 1) + tail)


def dabit_request(count: int) -> Request:
    return Request("dabit", _count(count, "dabits(count)"))


def bitmul_request(count: int) -> Request:
    return Request("bitmul", _count(count, "bit_mul_triples(count)"))


def _count(value: object, what: str) -> tuple[int]:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or int(value) < 0:
        raise ConfigError(f"{what}: expected a non-negative integer, got {value!r}")
    return (int(value),)


def normalize(req: object) -> Request:
    """Validate a plan entry: a Request, or a ``(kind, params)`` pair (Z_2^64, unauthenticated)."""
    if not isinstance(req, tuple) or len(req) not in (2, 4):
        raise ConfigError(f"plan: expected (kind, params) entries, got {req!r}")
    kind, params, ring, auth = req if len(req) == 4 else (*req, 64, False)
    if ring not in RINGS or isinstance(ring, bool) or not isinstance(auth, bool):
        raise ConfigError(f"plan: ring must be one of {RINGS} (bits) and auth a bool, got {ring!r}, {auth!r}")
    allowed = AUTH_KINDS if ring == 128 else BIT_AUTH_KINDS if ring == 1 else ()
    if auth != (ring != 64) or (auth and kind not in allowed) or (not auth and kind in AUTH_ONLY_KINDS):
        raise ConfigError(f"plan: no {kind!r} material with ring={ring}, auth={auth} (authenticated material "
                          f"is Z_2^128: {', '.join(AUTH_KINDS)}; or GF(2): {', '.join(BIT_AUTH_KINDS)})")
    if kind not in KINDS:
        raise ConfigError(f"plan: unknown material kind {kind!r}; expected one of {', '.join(KINDS)}")
    params = _shape(params, f"plan entry {kind!r}")
    if kind == "matmul" and len(params) != 4:
        raise ConfigError(f"plan: matmul params are (batch, m, k, n), got {params}")
    if kind == "trunc" and (not params or not 1 <= params[0] <= 62):
        raise ConfigError(f"plan: trunc params are (f, *shape) with f in [1, 62], got {params}")
    if kind == "div" and (not params or not 2 <= params[0] <= 1 << 62):
        raise ConfigError(f"plan: div params are (d, *shape) with d in [2, 2^62], got {params}")
    if kind == "tmul" and (len(params) < 2 or not 1 <= params[0] <= 62 or not 0 <= params[1] <= 62):
        raise ConfigError(f"plan: tmul params are (k1, k2, *shape) with k1 in [1, 62] and k2 in [0, 62], got {params}")
    if kind == "tsquare" and (not params or not 1 <= params[0] <= 62):
        raise ConfigError(f"plan: tsquare params are (k, *shape) with k in [1, 62], got {params}")
    if kind == "input" and not params:
        raise ConfigError(f"plan: input params are (owner, *shape), got {params}")
    if kind in AND_TRIPLE_KINDS and ring == 1 and len(params) == 3:
        nw, period, tail = params
        if not (period >= 1 and nw % period == 0 and 1 <= tail < 64):
            raise ConfigError(f"plan: {kind} params (nwords, period, tail) need nwords a multiple of "
                              f"period >= 1 and 1 <= tail < 64, got {params}")
    elif (kind in BOOLEAN_KINDS or kind == "light_triple") and len(params) != 1:
        raise ConfigError(f"plan: {kind} params are a single count, got {params}")
    if kind == "edabit" and not (len(params) == 1 or (len(params) == 2 and params[1] == 1)):
        raise ConfigError(f"plan: edabit params are (count,) or (count, 1) (with the pair products), got {params}")
    if kind in MASK_KINDS:
        _check_masks(kind, params)
    req = Request(kind, params, int(ring), bool(auth))
    if sum(math.prod(s) for s in component_shapes(req)) > MAX_ELEMENTS:
        raise ConfigError(f"plan: request {kind}{params} is larger than {MAX_ELEMENTS} ring elements")
    return req


_MASK_TAGS = {"mtriple": 3, "msquare": 2, "mmatmul": 3, "mtrunc": 1, "mhtriple": 1}  # leading tag params


def strided_span(t: int, r: int, c: int, rows: int, cols: int) -> int:
    """One past the last tag of a (rows, cols) block with tags t + i r + j c, less t."""
    return (rows - 1) * r + (cols - 1) * c + 1 if rows and cols else 0


def _check_strided(kind: str, t: int, r: int, c: int, rows: int, cols: int) -> None:
    span = strided_span(t, r, c, rows, cols)
    if r < 1 or c < 1 or not tag_block_fits(t, span) or span > MAX_ELEMENTS:
        raise ConfigError(f"plan: {kind} mask tags must lie in one block [1, 2^52) (owner bits apart) with strides "
                          f">= 1 and a span of at most {MAX_ELEMENTS}, got tag {t}, strides ({r}, {c}) for ({rows}, {cols})")


# masked kinds whose first component is the output's mask lambda_z, read from each party's window
# (not drawn from its stream): kind -> the index of tz in the params. An output's mask is shared by
# every party (never an owner's alone).
WINDOW_AT = {"mtriple": 2, "msquare": 1, "mmatmul": 6}


def _check_masks(kind: str, params: tuple[int, ...]) -> None:
    """A masked request's tags name existing windows (each run inside one owner block, see
    :func:`tag_block_fits`; an output tag names no owner); mtrunc's f."""
    if kind in WINDOW_AT and len(params) > WINDOW_AT[kind] and tag_owner(params[WINDOW_AT[kind]]) is not None:
        raise ConfigError(f"plan: {kind}'s output mask tag must name no owner, got {params[WINDOW_AT[kind]]}")
    if kind == "mmatmul":
        if len(params) != 10:
            raise ConfigError(f"plan: mmatmul params are (tx, rx, cx, ty, ry, cy, tz, m, k, n), got {params}")
        m, k, n = params[7:]
        _check_strided(kind, *params[0:3], m, k)
        _check_strided(kind, *params[3:6], k, n)
        _check_strided(kind, params[6], n, 1, m, n)
        return
    if kind == "mhmatmul":
        if len(params) != 7 or params[0] not in (0, 1):
            raise ConfigError(f"plan: mhmatmul params are (side 0|1, t, r, c, m, k, n), got {params}")
        m, k, n = params[4:]
        _check_strided(kind, *params[1:4], *((m, k) if params[0] == 0 else (k, n)))
        return
    ntags = _MASK_TAGS[kind]
    if kind == "mtriple" and len(params) >= 3:  # operands may be truncated masks (shift in the top bits)
        for t in params[:2]:
            if not 1 <= tag_shift(t) <= 62 and tag_shift(t):
                raise ConfigError(f"plan: mtriple operand tag with a shift outside [1, 62]: {t}")
        params = (params[0] & (MAX_TAG - 1), params[1] & (MAX_TAG - 1), *params[2:])
    if kind == "mtrunc":
        if len(params) < 2 or not 1 <= params[1] <= 62:
            raise ConfigError(f"plan: mtrunc params are (tx, f, *shape) with f in [1, 62], got {params}")
        sizes = [math.prod(params[2:])]
    else:
        if len(params) < ntags:
            names = "tx, tz" if kind == "msquare" else "tx, ty, tz"
            raise ConfigError(f"plan: {kind} params are ({names}, *shape), got {params}")
        sizes = [math.prod(params[ntags:])] * ntags
    for t, size in zip(params[:ntags], sizes, strict=True):
        if not tag_block_fits(t, size):
            raise ConfigError(f"plan: {kind} mask tags must lie in one block [1, 2^52) (owner bits apart), got {t} "
                              f"for {size} elements")


def component_shapes(req: Request) -> list[tuple[int, ...]]:
    """Shapes of the arrays of one item, in stream order (for triple: a, b, c; for dabit: the
    packed bit words, then the ring elements)."""
    p = req.params
    if req.kind in AND_TRIPLE_KINDS:
        return [p[:1]] * 3
    if req.kind == "triple":
        return [p, p, p]
    if req.kind == "dabit":
        return [(nwords(p[0]),), p]
    if req.kind == "bitmul":  # bit words and a (base), r and r*a (derived)
        return [(nwords(p[0]),), p, p, p]
    if req.kind == "square":
        return [p, p]
    if req.kind == "matmul":
        lead = (p[0],) if p[0] else ()
        return [(*lead, p[1], p[2]), (*lead, p[2], p[3]), (*lead, p[1], p[3])]
    if req.kind == "tmul":
        return [p[2:]] * len(tmul_components(p[0], p[1]))
    if req.kind == "tsquare":
        return [p[1:]] * 5
    if req.kind == "rand":
        return [p]
    if req.kind == "input":
        return [p[1:]]
    if req.kind == "edabit":  # r (ring elements), the bit planes of r mod 2^64, [their pair products]
        return [p[:1], (64, nwords(p[0]))] + ([(EDABIT_PAIRS, nwords(p[0]))] if len(p) > 1 else [])
    if req.kind == "mmatmul":
        return [(p[7], p[9])] * 2
    if req.kind == "mhmatmul":  # the uniform operand, then its product with the masks
        m, k, n = p[4:]
        return [(k, n) if p[0] == 0 else (m, k), (m, n)]
    if req.kind == "mtriple":
        return [p[3:]] * (1 + len(mtriple_products(p[0], p[1])))
    if req.kind in ("msquare", "mhtriple"):
        return [p[_MASK_TAGS[req.kind]:]] * 2
    if req.kind == "mtrunc":
        return [p[2:]] * 2
    return [p[1:], p[1:], p[1:]]  # trunc, div


class Preprocessing(BitTripleSource, DaBitSource, ABC):
    """A source of single-use correlated randomness for one party (arithmetic and boolean).

    Subclasses implement :meth:`_take` for every kind of :data:`KINDS`."""

    def __init__(self) -> None:
        self.consumed = 0  # items handed out so far: each one exactly once
        self._recordings: list[list[Request]] = []

    # the typed accessors every engine uses; ``auth=True``: the authenticated (SPDZ2k) twin
    def triples(self, shape, auth: bool = False) -> Triple:
        return Triple(*self.take(_auth(triple_request(shape), auth)))

    def square_pairs(self, shape, auth: bool = False) -> SquarePair:
        return SquarePair(*self.take(_auth(square_request(shape), auth)))

    def matmul_triples(self, m: int, k: int, n: int, batch: int | None = None, auth: bool = False) -> Triple:
        return Triple(*self.take(_auth(matmul_request(m, k, n, batch), auth)))

    def trunc_triples(self, shape, f: int, auth: bool = False) -> TruncTriple:
        return TruncTriple(*self.take(_auth(trunc_request(shape, f), auth)))

    def div_triples(self, shape, d: int, auth: bool = False) -> TruncTriple:
        return TruncTriple(*self.take(_auth(div_request(shape, d), auth)))

    def trunc_products(self, shape, k1: int, k2: int, auth: bool = False) -> TruncProduct:
        """A ``tmul`` item for floor(x / 2^k1) * floor(y / 2^k2) of ``shape`` (k2 = 0: y as is)."""
        req = _auth(tmul_request(shape, k1, k2), auth)
        parts = dict(zip(tmul_components(k1, k2), self.take(req), strict=True))
        if not k2:
            parts["a2"] = parts["r2"]
        return TruncProduct(**{f: parts.get(f) for f in TruncProduct._fields})

    def trunc_squares(self, shape, k: int, auth: bool = False) -> TruncSquare:
        """A ``tsquare`` item for floor(x / 2^k)^2 of ``shape``."""
        return TruncSquare(*self.take(_auth(tsquare_request(shape, k), auth)))

    def random_high(self, shape) -> np.ndarray:
        """An authenticated 2^64 u of ``shape``, u uniform (a ``rand`` item)."""
        (mask,) = self.take(Request("rand", _shape(shape, "random_high(shape)"), 128, True))
        return mask

    def input_masks(self, owner: int, shape) -> tuple[np.ndarray, np.ndarray | None]:
        """An authenticated mask of ``shape`` for ``owner``, and its value (Z_2^128 words,
        ``(*shape, 2)``) at the owner, None elsewhere (an ``input`` item)."""
        item = self.take(Request("input", (int(owner), *_shape(shape, "input_masks(shape)")), 128, True))
        return item[0], (item[1] if len(item) > 1 else None)

    def mask_shares(self, start: int, shape) -> np.ndarray:
        """This party's shares of the masks with tags ``start .. start + size - 1`` (masked2k;
        see the module docstring): read by random access, not an item (nothing is consumed)."""
        raise ConfigError(f"{type(self).__name__} serves no masks (the masked2k engine needs the trusted dealer)")

    def mask_products(self, tx: int, ty: int, tz: int, shape) -> tuple[np.ndarray, ...]:
        """An ``mtriple`` item: (lambda_z share, then shares of the mask factors' products in
        :func:`mtriple_products` order: one, lambda_x * lambda_y, for two fresh masks)."""
        return self.take(Request("mtriple", (int(tx), int(ty), int(tz), *_shape(shape, "mask_products(shape)"))))

    def mask_squares(self, tx: int, tz: int, shape) -> tuple[np.ndarray, np.ndarray]:
        """An ``msquare`` item: (lambda_z share, share of lambda_x^2)."""
        lz, g = self.take(Request("msquare", (int(tx), int(tz), *_shape(shape, "mask_squares(shape)"))))
        return lz, g

    def mask_matmuls(self, x: tuple[int, int, int], y: tuple[int, int, int], tz: int, m: int, k: int,
                     n: int) -> tuple[np.ndarray, np.ndarray]:
        """An ``mmatmul`` item for operands with strided tags x = (tx, rx, cx), y = (ty, ry, cy):
        (Lambda_z share (m, n), share of Lambda_x @ Lambda_y)."""
        dims = _shape((m, k, n), "mask_matmuls(m, k, n)")
        lz, g = self.take(Request("mmatmul", (*map(int, x), *map(int, y), int(tz), *dims)))
        return lz, g

    def half_products(self, ty: int, shape) -> tuple[np.ndarray, np.ndarray]:
        """An ``mhtriple`` item: (a, share of a * lambda_y)."""
        a, c = self.take(Request("mhtriple", (int(ty), *_shape(shape, "half_products(shape)"))))
        return a, c

    def half_matmuls(self, side: int, tags: tuple[int, int, int], m: int, k: int, n: int
                     ) -> tuple[np.ndarray, np.ndarray]:
        """An ``mhmatmul`` item: side 0 (X masked): (b, share of Lambda_X @ b); side 1 (Y
        masked): (a, share of a @ Lambda_Y)."""
        dims = _shape((m, k, n), "half_matmuls(m, k, n)")
        u, c = self.take(Request("mhmatmul", (int(side), *map(int, tags), *dims)))
        return u, c

    def mask_truncs(self, tx: int, f: int, shape) -> tuple[np.ndarray, np.ndarray]:
        """An ``mtrunc`` item: shares of lambda_x >> f and msb(lambda_x)."""
        a, m = self.take(Request("mtrunc", (int(tx), _shift(f, "mask_truncs(f)", 1),
                                            *_shape(shape, "mask_truncs(shape)"))))
        return a, m

    def mac_key_share(self) -> int:
        """This party's share alpha_i of the SPDZ2k MAC key (sources of authenticated material)."""
        raise ConfigError(f"{type(self).__name__} serves no authenticated material (no MAC key)")

    # True where bit_triples(..., live=) makes only the live lanes' gates; such a source must
    # zero-pad its edaBits' planes (and pair products), which is what keeps the padding lanes of
    # spdz2k's bit circuits public (mpc.engines.spdz2k_convert)
    offers_live_lanes = False
    # True where bit_triples(..., light=True) serves ``light_triple`` items (c as a LAUTH word)
    offers_light_triples = False

    def bit_triples(self, nwords: int, auth: bool = False, live: tuple[int, int] | None = None,
                    light: bool = False) -> BitTriple | AuthBitTriple:
        """This party's XOR shares (a, b, c) of ``nwords`` AND-triple words, each ``(nwords,)``
        (``auth=True``: the ``ring=1`` twin, an :class:`AuthBitTriple` of authenticated BAUTH
        words and their heads). ``live`` = (period, tail) (with ``auth``): the caller uses only
        those lanes (:func:`live_lanes`), the others holding public values; a source that
        ``offers_live_lanes`` then makes zero triples there, any other ignores it. ``light``
        (with ``auth``): the caller reads only the heads of c (light ANDs); a source that
        ``offers_light_triples`` then serves c as LAUTH words (``light_triple``, c is lc), any
        other a full item."""
        req = bit_triple_request(nwords)
        if auth:
            if live is not None and self.offers_live_lanes and nwords and live[1] < 64:
                req = req._replace(params=(req.params[0], int(live[0]), int(live[1])))
            if light and self.offers_light_triples:
                req = req._replace(kind="light_triple")
            return AuthBitTriple(*self.take(req._replace(ring=1, auth=True)))
        a, b, c = self.take(req)
        return a, b, c

    def dabits(self, count: int, auth: bool = False) -> DaBits:
        """This party's shares of ``count`` daBits: packed XOR words and ring elements 0/1
        (``auth=True``: BAUTH words and AUTH ring elements)."""
        words, arith = self.take(_auth(dabit_request(count), auth))
        return words, arith

    offers_bit_mul = True

    def bit_mul_triples(self, count: int, auth: bool = False) -> BitMulTriple:
        """This party's shares of ``count`` bit-injection triples (daBit r, a, r*a)."""
        return BitMulTriple(*self.take(_auth(bitmul_request(count), auth)))

    def edabits(self, count: int, pairs: bool = False) -> tuple[np.ndarray, ...]:
        """This party's shares of ``count`` authenticated edaBits: r (AUTH, ``(count,)``) and the
        bit planes of r mod 2^64 (BAUTH, ``(64, ceil(count/64))``); with ``pairs``, also the pair
        products q_t = plane_2t AND plane_2t+1, t < 31 (BAUTH, ``(31, ceil(count/64))``)."""
        params = _count(count, "edabits(count)") + ((1,) if pairs else ())
        return self.take(Request("edabit", params, 128, True))

    def bit_input_masks(self, owner: int, shape) -> tuple[np.ndarray, np.ndarray | None]:
        """Authenticated random bit words of ``shape`` for ``owner`` (BAUTH), and their value
        (uint64 words) at the owner, None elsewhere (an ``input`` item of ring 1)."""
        item = self.take(Request("input", (int(owner), *_shape(shape, "bit_input_masks(shape)")), 1, True))
        return item[0], (item[1] if len(item) > 1 else None)

    def bit_mac_key_share(self) -> int:
        """This party's share Delta_i of the binary MAC key (sources of authenticated material)."""
        raise ConfigError(f"{type(self).__name__} serves no authenticated material (no binary MAC key)")

    def take(self, req: Request) -> tuple[np.ndarray, ...]:
        """Hand out one item of material (removed from the source: it is never handed out again)."""
        req = normalize(req)
        for log in self._recordings:
            log.append(req)
        item = self._take(req)
        self.consumed += 1
        return item

    @contextlib.contextmanager
    def recording(self) -> Iterator[list[Request]]:
        """Record the requests made inside the block: the plan of that part of the protocol."""
        log: list[Request] = []
        self._recordings.append(log)
        try:
            yield log
        finally:
            self._recordings.remove(log)

    def prefetch(self, plan: Iterable[object]) -> None:
        """Offline phase: obtain the material of ``plan`` now; the online phase then consumes it
        with no further preprocessing traffic. Default: nothing ahead (on-demand only)."""
        self._prefetch([normalize(r) for r in plan])

    def _prefetch(self, plan: Sequence[Request]) -> None:  # noqa: B027 - optional hook
        """Hook for sources that can fetch ahead."""

    @abstractmethod
    def _take(self, req: Request) -> tuple[np.ndarray, ...]:
        """One item, exactly once."""

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release resources (idempotent)."""
