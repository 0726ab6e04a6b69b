"""Comparisons and selections on SecretTensors: lt..ne, sign, abs, relu, where, min/max, argmax,
sort, clip.

Every function takes SecretTensors (any operand may also be a public value where NumPy would
accept one, at least one must be secret) and returns a SecretTensor. The boolean side is reached
through the tensor's engine: ``x.engine.converter`` must be a :class:`mpc.engines.convert.Converter`
built over the same party's semi2k and GMW engines (the runtime attaches it, with daBits from
the party's preprocessing; see :func:`converter_of`). The same functions are the SecretTensor
operators and methods (``x < y``, ``abs(x)``, ``x.relu()``, ``x.max(axis)``, ``x.sort()``...)
and ``mpc.where``, ``mpc.minimum``, ``mpc.maximum``.

Result types: comparison results and masks are SecretTensors of the operands' dtype holding 0
or 1 (Int64: the integers 0/1; Fixed(f): the values 0.0/1.0, i.e. ring elements 0 or 2^f at
scale f), so they combine with the operands directly (``x * (x < y)``). ``argmax``/``argmin``
return the index in the same dtype.

Protocols and cost (2 parties, per element; n parties add the carry-save and B2A rounds of
:mod:`mpc.engines.convert`: 3 parties with daBits, ``lt`` 9 rounds and ``relu`` 10; without,
10 and 11):
- ``lt(x, y)`` = msb(x - y): MSB circuit (7 rounds, 181 ANDs) + B2A (1 round): 8 rounds,
  ~61 bytes per element per party. ``gt``, ``le``, ``ge`` likewise (``le`` = NOT gt: the NOT
  is free on the XOR share before B2A).
- ``eq``/``ne`` = zero test of x - y: 6 rounds, 63 ANDs, + B2A: 7 rounds, ~32 bytes.
- ``relu``, ``abs``, ``minimum``, ``maximum``, ``clip``: MSB(s) of differences (7 rounds) +
  one fused bit-times-value product (1 round): 8 rounds. No truncation: the product of a
  value with a bit keeps the value's scale.
- ``sign`` = msb(-x) - msb(x) (both in one circuit) + B2A: 8 rounds.
- ``where(c, a, b)`` = b + c * (a - b): one product (the result of a Fixed c is at scale 2f,
  deferred truncation as for any product; |a - b| < 2^(62-2f)).
- ``max``/``min``/``argmax``/``argmin`` along an axis of length m: a tree of pairwise
  comparisons of ADJACENT groups (so ties resolve to the first index), ceil(log2 m) levels of
  8 rounds; argmax carries the index through the same bit products (same round).
- ``sort``: Batcher's odd-even merge sort network (Batcher, "Sorting networks and their
  applications", AFIPS 1968) on the next power of two 2^k >= m, comparators touching the
  padding dropped (padding would hold +infinity, which never moves): k(k+1)/2 layers of
  compare-exchange, each layer 8 rounds.

Range: order comparisons are msb(x - y), exact when |x - y| < 2^63 in the ring (always for
Fixed values in their range |v| < 2^(62-f); for Int64 operands, when x - y does not overflow
int64). Equality is exact for every value. Security: semi-honest (the engines').
"""

from __future__ import annotations

import builtins
import functools

import numpy as np

from mpc.engines.convert import Converter
from mpc.errors import ConfigError, ShareTypeError
from mpc.tensor.encoding import to_numpy
from mpc.tensor.functions import concatenate, stack
from mpc.tensor.secret_tensor import SecretTensor

__all__ = [
    "converter_of", "lt", "le", "gt", "ge", "eq", "ne", "sign", "abs", "relu", "where", "minimum", "maximum",
    "max", "min", "argmax", "argmin", "sort", "clip",
]

_ONE = np.uint64(1)


def converter_of(x: SecretTensor) -> Converter:
    """The Converter attached to ``x.engine`` (``engine.converter``); ConfigError if there is none."""
    conv = getattr(x.engine, "converter", None)
    if not isinstance(conv, Converter):
        raise ConfigError("comparisons need a boolean engine: the arithmetic engine has no Converter attached "
                          "(engine.converter = Converter(semi2k, gmw)); use a Party that builds one")
    return conv


def _secret(*args: object, what: str) -> SecretTensor:
    for a in args:
        if isinstance(a, SecretTensor):
            return a
    raise ShareTypeError(f"{what}: at least one operand must be a SecretTensor")


def _diff(x: object, y: object, what: str) -> SecretTensor:
    """x - y as a SecretTensor (either may be public)."""
    if isinstance(x, SecretTensor):
        return x - y
    return (-y) + x  # type: ignore[operator]


def _shares(t: SecretTensor) -> np.ndarray:
    return np.ascontiguousarray(t.share, dtype=np.uint64).reshape(t.shape)  # (keeps 0-d shapes)


def _flip(conv: Converter, bit: np.ndarray) -> np.ndarray:
    """XOR share of NOT b: party 0 flips its share. Local."""
    return np.bitwise_xor(bit, _ONE, out=np.empty_like(bit)) if conv.pid == 0 else bit  # an array also when 0-d


def _bit_tensor(ref: SecretTensor, arith_bit: np.ndarray) -> SecretTensor:
    """A 0/1 ring array as a tensor of ref's dtype: 1.0 is 2^f at scale f for Fixed."""
    f = ref.dtype.frac_bits
    share = ref.engine.mul_public(arith_bit, 1 << f) if f else arith_bit
    return SecretTensor(ref.engine, share, ref.dtype, f)


def _compare(x: object, y: object, kind: str) -> SecretTensor:
    ref = _secret(x, y, what=kind)
    conv = converter_of(ref)
    if kind in ("eq", "ne"):
        (bit,) = conv.eqz([_shares(_diff(x, y, kind))])
        if kind == "ne":
            bit = _flip(conv, bit)
    else:
        d = _diff(x, y, kind) if kind in ("lt", "ge") else _diff(y, x, kind)
        (bit,) = conv.msb([_shares(d)])
        if kind in ("le", "ge"):
            bit = _flip(conv, bit)
    (arith,) = conv.b2a([bit])
    return _bit_tensor(ref, arith)


def lt(x: object, y: object) -> SecretTensor:
    """[x < y] elementwise (broadcasting); 8 rounds for 2 parties."""
    return _compare(x, y, "lt")


def le(x: object, y: object) -> SecretTensor:
    """[x <= y] = NOT [y < x]."""
    return _compare(x, y, "le")


def gt(x: object, y: object) -> SecretTensor:
    """[x > y] = [y < x]."""
    return _compare(x, y, "gt")


def ge(x: object, y: object) -> SecretTensor:
    """[x >= y] = NOT [x < y]."""
    return _compare(x, y, "ge")


def eq(x: object, y: object) -> SecretTensor:
    """[x == y]: zero test of x - y (exact for all values); 7 rounds for 2 parties."""
    return _compare(x, y, "eq")


def ne(x: object, y: object) -> SecretTensor:
    """[x != y] = NOT [x == y]."""
    return _compare(x, y, "ne")


def sign(x: SecretTensor) -> SecretTensor:
    """-1, 0 or 1 (NumPy's sign) as msb(-x) - msb(x): one MSB circuit on both, one B2A."""
    conv = converter_of(x)
    s = _shares(x)
    m_neg, m_pos = conv.msb([conv.arith.neg(s), s])
    a_neg, a_pos = conv.b2a([m_neg, m_pos])
    return _bit_tensor(x, conv.arith.sub(a_neg, a_pos))


def _select_diff(conv: Converter, bits: list[np.ndarray], values: list[SecretTensor]) -> list[SecretTensor]:
    """b * v for each pair, one fused round; results keep the values' scales."""
    prods, _ = conv.bit_mul([(b, _shares(v)) for b, v in zip(bits, values, strict=True)])
    return [SecretTensor(v.engine, p, v.dtype, v.scale) for p, v in zip(prods, values, strict=True)]


def relu(x: SecretTensor) -> SecretTensor:
    """max(x, 0) = x - msb(x) * x: 8 rounds for 2 parties, no truncation."""
    conv = converter_of(x)
    s = _shares(x)
    (m,) = conv.msb([s])
    (mx,) = _select_diff(conv, [m], [x])
    return x - mx


def abs(x: SecretTensor) -> SecretTensor:  # noqa: A001 - NumPy's name
    """|x| = x - 2 msb(x) x: 8 rounds for 2 parties."""
    conv = converter_of(x)
    (m,) = conv.msb([_shares(x)])
    (mx,) = _select_diff(conv, [m], [x])
    return x - mx * 2


def where(cond: SecretTensor, a: object, b: object) -> SecretTensor:
    """``a`` where cond is 1, ``b`` where it is 0: b + cond * (a - b). cond must hold 0/1 (as the
    comparison functions return); one product (deferred truncation for Fixed), so for Fixed(f) the
    range of any product applies: |a - b| < 2^(62 - 2f) (2^30 at f = 16). Selections between
    larger values: :func:`minimum`/:func:`maximum`/:func:`clip`, which never truncate."""
    if not isinstance(cond, SecretTensor):
        raise ShareTypeError("where: cond must be a SecretTensor of 0/1 values")
    d = _diff(a, b, "where") if isinstance(a, SecretTensor) or isinstance(b, SecretTensor) else None
    if d is None:
        pa, pb = to_numpy(a, "where a"), to_numpy(b, "where b")
        return cond * (pa - pb) + pb
    return cond * d + b


def _minmax(x: object, y: object, take_max: bool) -> SecretTensor:
    ref = _secret(x, y, what="maximum" if take_max else "minimum")
    conv = converter_of(ref)
    d = _diff(x, y, "minmax")  # x - y
    (m,) = conv.msb([_shares(d)])  # [x < y]
    (md,) = _select_diff(conv, [m], [d])  # [x < y] (x - y)
    # min = y + [x<y](x-y); max = x - [x<y](x-y)
    return (-md + x) if take_max else (md + y)


def minimum(x: object, y: object) -> SecretTensor:
    """Elementwise minimum (NumPy broadcasting): 8 rounds for 2 parties."""
    return _minmax(x, y, False)


def maximum(x: object, y: object) -> SecretTensor:
    """Elementwise maximum (NumPy broadcasting): 8 rounds for 2 parties."""
    return _minmax(x, y, True)


def clip(x: SecretTensor, lo: object = None, hi: object = None) -> SecretTensor:
    """min(max(x, lo), hi) for public or secret bounds (``None``: unbounded on that side); both
    sides in one MSB circuit and one product round: 8 rounds for 2 parties. Requires lo <= hi."""
    if not isinstance(x, SecretTensor):
        raise ShareTypeError("clip: x must be a SecretTensor")
    conv = converter_of(x)
    diffs = []
    if lo is not None:
        diffs.append(x - lo)  # msb: x < lo, then x - (x - lo) = lo
    if hi is not None:
        diffs.append(_diff(hi, x, "clip"))  # msb: x > hi, then x + (hi - x) = hi
    if not diffs:
        return x
    bits = conv.msb([_shares(d) for d in diffs])
    prods = _select_diff(conv, bits, diffs)
    out = x - prods[0] if lo is not None else x + prods[0]
    return out + prods[1] if len(prods) == 2 else out


# ----------------------------------------------------------------------------- reductions


def _front(x: SecretTensor, axis: int | None) -> tuple[SecretTensor, int]:
    if not isinstance(x, SecretTensor):
        raise ShareTypeError("expected a SecretTensor")
    if axis is None:
        return x.reshape(-1), 0
    if x.ndim == 0:
        raise ValueError("axis given for a 0-d SecretTensor")
    ax = int(axis) % x.ndim if -x.ndim <= int(axis) < x.ndim else None
    if ax is None:
        raise ValueError(f"axis {axis!r} is out of range for shape {x.shape}")
    return x.transpose([ax, *[i for i in range(x.ndim) if i != ax]]), ax


def _reduce(x: SecretTensor, axis: int | None, take_max: bool, want_index: bool) -> SecretTensor:
    """Tree reduction over axis 0 of the moved tensor; adjacent groups so ties keep the first index."""
    v, _ = _front(x, axis)
    if v.shape[0] == 0:
        raise ValueError("max/min/argmax/argmin of an empty axis")
    conv = converter_of(x)
    idx = None
    if want_index:
        f = x.dtype.frac_bits
        ranks = np.arange(v.shape[0], dtype=np.int64).reshape((-1,) + (1,) * (v.ndim - 1))
        enc = np.broadcast_to(ranks << f, v.shape).astype(np.int64).view(np.uint64)
        idx = SecretTensor(x.engine, x.engine.public_share(np.ascontiguousarray(enc)), x.dtype, f)
    while v.shape[0] > 1:
        m = v.shape[0]
        a, b = v[0 : m - 1 : 2], v[1:m:2]
        d = b - a
        # take b iff it is strictly better (ties keep a, the lower indices): max -> msb(a - b); min -> msb(b - a)
        (bit,) = conv.msb([_shares(-d if take_max else d)])
        vals = [d]
        if idx is not None:
            ia, ib = idx[0 : m - 1 : 2], idx[1:m:2]
            vals.append(ib - ia)
        prods = _select_diff(conv, [bit] * len(vals), vals)
        nv = a + prods[0]
        if idx is not None:
            ni = ia + prods[1]
        if m % 2:
            nv = concatenate([nv, v[m - 1 : m]], axis=0)
            if idx is not None:
                ni = concatenate([ni, idx[m - 1 : m]], axis=0)
        v = nv
        if idx is not None:
            idx = ni
    return (idx if want_index else v)[0]


def max(x: SecretTensor, axis: int | None = None) -> SecretTensor:  # noqa: A001 - NumPy's name
    """Maximum along ``axis`` (all elements when None): ceil(log2 m) levels of 8 rounds."""
    return _reduce(x, axis, True, False)


def min(x: SecretTensor, axis: int | None = None) -> SecretTensor:  # noqa: A001 - NumPy's name
    """Minimum along ``axis`` (all elements when None)."""
    return _reduce(x, axis, False, False)


def argmax(x: SecretTensor, axis: int | None = None) -> SecretTensor:
    """Index of the maximum along ``axis`` (flattened when None); ties give the first index.
    Same rounds as :func:`max` (the index rides in the same product round)."""
    return _reduce(x, axis, True, True)


def argmin(x: SecretTensor, axis: int | None = None) -> SecretTensor:
    """Index of the minimum along ``axis``; ties give the first index."""
    return _reduce(x, axis, False, True)


# ----------------------------------------------------------------------------- sorting


@functools.cache
def _batcher_layers(m: int) -> tuple[tuple[tuple[int, ...], tuple[int, ...]], ...]:
    """Comparator layers (lows, highs) of Batcher's odd-even merge sort for m wires (padded to a
    power of two; comparators touching wires >= m dropped). Each layer's comparators are disjoint."""
    size = 1
    while size < m:
        size *= 2
    comps: list[list[tuple[int, int]]] = []
    p = 1
    while p < size:
        k = p
        while k >= 1:
            layer = []
            for j in range(k % p, size - k, 2 * k):
                for i in range(builtins.min(k, size - j - k)):
                    a, b = i + j, i + j + k
                    if a // (2 * p) == b // (2 * p) and b < m:
                        layer.append((a, b))
            if layer:
                comps.append(layer)
            k //= 2
        p *= 2
    return tuple((tuple(a for a, _ in lay), tuple(b for _, b in lay)) for lay in comps)


def sort(x: SecretTensor, axis: int = -1) -> SecretTensor:
    """Ascending sort along ``axis`` with Batcher's odd-even merge sort (see the module docstring):
    for m = 2^k elements k(k+1)/2 layers of 8 rounds (m = 10: 10 layers, 80 rounds)."""
    if not isinstance(x, SecretTensor):
        raise ShareTypeError("sort: x must be a SecretTensor")
    if x.ndim == 0:
        raise ValueError("sort: cannot sort a 0-d SecretTensor")
    v, ax = _front(x, axis)
    conv = converter_of(x)
    rows = [v[i] for i in range(v.shape[0])]
    for lows, highs in _batcher_layers(v.shape[0]):
        a = stack([rows[i] for i in lows])
        b = stack([rows[j] for j in highs])
        d = b - a
        (bit,) = conv.msb([_shares(d)])  # b < a: swap
        (pd,) = _select_diff(conv, [bit], [d])
        lo, hi = a + pd, b - pd
        for t, (i, j) in enumerate(zip(lows, highs, strict=True)):
            rows[i], rows[j] = lo[t], hi[t]
    out = stack(rows)
    inv = np.argsort([ax, *[i for i in range(x.ndim) if i != ax]])
    return out.transpose(list(inv))

