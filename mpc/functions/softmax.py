"""softmax and log_softmax: an all-pairs maximum, exp of non-positive values in lockstep, and a
polynomial of the sum.

softmax(x, axis) = e / S with e = exp(x - max(x)) and S = sum(e) (so e in [0, 1], S in [1, m]),
for m entries along ``axis`` (R = the other entries: rows), x at scale f or 2f (a pending
truncation is done in the rounds of step 1). All rows at once; 2 parties, semi2k:

1. Maximum (12 rounds for m = 10): one MSB circuit over the m(m-1)/2 differences x_i - x_j (i < j)
   of every row (7 rounds), with x's pending truncation in lockstep; b_ij = [x_i < x_j]. Entry i
   is THE maximum iff it beats every j: strictly for j < i (b_ji), weakly for j > i (NOT b_ij), so
   ties go to the first index and exactly one entry is selected. The m-1 bits of each entry are
   ANDed in a tree (ceil(log2(m-1)) rounds, 4 for m = 10) and max = sum_i sel_i x_i by one
   bit-times-value round. d = x - max <= 0, exactly 0 at the selected entry.
2. exp(d) (12 rounds, :func:`_exp_nonpositive`): t = d log2(e) at scale q = f + min(26, 56 - f)
   (local); the A2B of t (7 rounds) in lockstep with the MSB of d - lo, lo = -24 ln 2 (below it
   exp(d) < 2^-24, returned as 0, under the output's resolution 2^-f for f <= 24): u = [d < lo].
   Then, in lockstep: (a) the 7 bits k = floor(t) (bits q..q+6) converted to arithmetic (1 round),
   r = t - k 2^q in [0, 1) and 2^r by a degree-4 Chebyshev polynomial (relative error 3.5e-6;
   2 product levels with r's truncation to scale 28 folded into the first, 1 batched truncation,
   the result left at scale 56 with its truncation pending); (b) the one-hot of k over the 7 bits
   and NOT u (3 AND rounds) and the B2A of its 26 rows k = -25..0 (1 round). Then one truncating
   product 2^r * 2^(k + 25) (1 round): e at scale 47 (2^r to 2^-22 relative). Where u = 1 every
   row is 0 and e = 0 exactly, whatever the (wrapped) t, r, k hold there.
3. 1/S for S in [1, m] (6 rounds, m <= 16): a degree-24 Chebyshev polynomial of
   v = (S - (m+1)/2) g / 2^9, g = floor(2^9 / ((m-1)/2)), so |v| <= 1 (5 product levels, S's
   truncation folded into the first, 1 batched truncation; the result left at scale 56):
   relative error 1.6e-7 at m = 10, 6e-6 at m = 16. For m > 16 the general
   :func:`~mpc.functions.roots.reciprocal` (23 rounds) of S instead.
4. e * (1/S): one truncating product (1 round) that takes both to scale f: the result at 2f.

Cost (m = 10, dealer material with daBits, measured on 640 rows): 2 parties 31 rounds (formerly
85: a comparison tree of 4 x 8 rounds, exp 27, reciprocal 25, the product 1) and 5.7 KB sent per
row per party (formerly 5.9 KB: the 45 pairwise MSB circuits cost more than the tree's 9
comparisons, exp and the reciprocal less); 3 parties 33 rounds (formerly 92), 13.4 KB (13.0). More than 16
entries: the comparison tree (ceil(log2 m) x 8 rounds) and the general reciprocal (23 rounds)
instead of steps 1 and 3.
Accuracy (tests/test_softmax.py, against NumPy on the quantised inputs, any logits in the Fixed
range, f = 16): absolute error <= 3e-5, measured 2.1e-5 (the final product's truncations to
2^-f dominate; exp 3.5e-6 relative, 1/S 2e-7, entries below exp(-16.6) = 6e-8 dropped from S).

log_softmax(x, axis) = d - log(S): steps 1-2, then log(S) for S in [1, m] by a degree-24
Chebyshev polynomial in v as in step 3 (absolute error 2e-8 at m = 10; m > 16: the general
:func:`~mpc.functions.exp_log.log`), brought to scale 2f by one truncation: 31 rounds for m = 10
(formerly 86). d is exact, so the error is that of log(S): absolute <= 1e-5 (measured 3.6e-6,
exp's relative error) for every entry, however small its softmax.

spdz2k runs the same lockstep (its step versions of MSB, A2B, B2A and the truncations): 31
rounds for m = 10, 2 parties, as semi2k (51 when its parts ran one after the other; formerly 90).
Without lockstep the parts run one after the other, with the same results.

Security: that of the engines (semi-honest for semi2k with GMW; malicious with abort for
spdz2k); every opening is masked by its own fresh material, and the lockstep only merges
messages. Which entry is the maximum is never opened: the selection bits stay shared. Method:
softmax shifted by the maximum as in plaintext practice; exp by the bits of the integer part and
a polynomial of the fraction (Aly and Smart, "Benchmarking privacy preserving scientific
operations", ACNS 2019); the all-pairs maximum trades m(m-1)/2 comparisons (all in one circuit)
and an AND tree for the depth of a comparison tree.
"""

from __future__ import annotations

import math

import numpy as np

from mpc.engines import compare as cmp
from mpc.engines import steps
from mpc.errors import InputError
from mpc.functions import _fixed as fx
from mpc.functions.exp_log import decode_steps, log, pow2_fraction_steps
from mpc.functions.roots import reciprocal
from mpc.tensor.secret_tensor import SecretTensor

__all__ = ["softmax", "log_softmax"]

LOG2E = 1.0 / math.log(2.0)
UNDERFLOW_BITS = 24  # exp(d) < 2^-24 (d < -24 ln 2) is returned as 0
KMIN = -(UNDERFLOW_BITS + 1)  # the smallest floor(d log2 e) kept (rounding of the constant)
E_SCALE = 47  # scale of exp's output inside softmax: 2^r to 47 + KMIN = 22 bits
GAMMA = 9  # v = (S - c) g / 2^GAMMA at scale E_SCALE + GAMMA = 2P (S's truncation pending)
ALL_PAIRS_MAX_M = 16  # all-pairs maximum up to 16 entries (120 comparisons); above, the tree
POLY_MAX_M = 16  # the polynomial of S up to 16 entries; above, the general reciprocal / log
S_DEGREE = 24


def _s_map(m: int) -> tuple[float, float]:
    """(centre, half-width covered) of the map S = c + v 2^GAMMA / g, g = floor(2^GAMMA / ((m-1)/2))."""
    m = max(m, 2)  # one entry: S = 1, any interval around it
    c = (m + 1) / 2.0
    g = _s_gain(m)
    return c, (1 << GAMMA) / g


def _s_gain(m: int) -> int:
    return max(1, int((1 << GAMMA) // ((max(m, 2) - 1) / 2.0)))


class _SFn:
    """A picklable, hashable f(S(v)) for cheb_coeffs' cache: 1/S or log S on [1, m]."""

    def __init__(self, m: int, kind: str) -> None:
        self.m, self.kind = m, kind

    def __hash__(self) -> int:
        return hash((self.m, self.kind))

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _SFn) and (other.m, other.kind) == (self.m, self.kind)

    def __call__(self, v: np.ndarray) -> np.ndarray:
        c, span = _s_map(self.m)
        s = c + np.asarray(v) * span
        return 1.0 / s if self.kind == "recip" else np.log(s)


def _rows(x: SecretTensor, axis: int, what: str) -> tuple[SecretTensor, list[int]]:
    """x (a Fixed tensor) with ``axis`` moved last, and the permutation that did it."""
    x = fx.fixed_input(x, what)
    if x.ndim == 0:
        raise InputError(f"{what}: expected at least a 1-d SecretTensor")
    if not -x.ndim <= axis < x.ndim:
        raise InputError(f"{what}: axis {axis} is out of range for shape {x.shape}")
    ax = axis % x.ndim
    perm = [i for i in range(x.ndim) if i != ax] + [ax]
    return x.transpose(perm), perm


def _back(x: SecretTensor, moved: SecretTensor, perm: list[int], flat: np.ndarray, scale: int) -> SecretTensor:
    out = SecretTensor(x.engine, flat.reshape(moved.shape), moved.dtype, scale)
    return out.transpose(list(np.argsort(perm)))


def _and_tree(eng, rows: np.ndarray, groups: int) -> np.ndarray:
    """AND of each group's rows: ``rows`` (groups * c, W) group-major -> (groups, W)."""
    c = rows.shape[0] // groups
    while c > 1:
        h = c // 2
        r3 = rows.reshape(groups, c, -1)
        left = np.ascontiguousarray(r3[:, 0 : 2 * h : 2]).reshape(groups * h, -1)
        right = np.ascontiguousarray(r3[:, 1 : 2 * h : 2]).reshape(groups * h, -1)
        (res,) = eng.and_many([(left, right)])
        res = res.reshape(groups, h, -1)
        if c % 2:
            res = np.concatenate([res, r3[:, c - 1 : c]], axis=1)
        c = res.shape[1]
        rows = res.reshape(groups * c, -1)
    return rows


def _row_max(conv, cols: list[np.ndarray], pending: int) -> tuple[np.ndarray, list[np.ndarray]]:
    """(max of each row at the base scale, the columns at the base scale): step 1."""
    ar, eng = conv.arith, conv.boolean
    m, n = len(cols), cols[0].shape[0]
    trunc = steps.steps(ar, "truncate_many", cols, pending) if pending else None
    if m == 1 or m > ALL_PAIRS_MAX_M:
        tcols = fx.together(conv, trunc)[0] if trunc else cols
        if m == 1:
            return tcols[0], tcols
        mx, _ = cmp.reduce(conv, np.stack(tcols), True)  # the comparison tree: m - 1 comparisons
        return np.ascontiguousarray(mx), tcols
    pad = (-n) % 64
    zero = ar.zeros((pad,)) if pad else None
    pairs = [(i, j) for i in range(m) for j in range(i + 1, m)]
    diffs = [ar.sub(cols[i], cols[j]) for i, j in pairs]
    diffs = [np.concatenate([d, zero]) for d in diffs] if pad else diffs
    gens = [steps.steps(conv, "msb_planes", diffs)] + ([trunc] if trunc else [])
    got = fx.together(conv, *gens)
    plane, _ = got[0]
    tcols = got[1] if trunc else cols
    words = (n + pad) // 64
    lt = plane.reshape(len(pairs), words)  # row p: [x_i < x_j] for pairs[p] = (i, j)
    index = {pr: p for p, pr in enumerate(pairs)}
    beats = []
    for i in range(m):
        for j in range(m):
            if j < i:
                beats.append(lt[index[(j, i)]][None])  # x_j < x_i: i beats j strictly
            elif j > i:
                beats.append(eng.invert(lt[index[(i, j)]][None]))  # NOT x_i < x_j
    sel = _and_tree(eng, np.concatenate(beats), m)  # (m, words): exactly one 1 per row
    bits = conv.unpack_planes(sel, n + pad)[:, :n]
    prods, _ = conv.bit_mul([(np.ascontiguousarray(bits[i]), tcols[i]) for i in range(m)])
    mx = prods[0]
    for p in prods[1:]:
        mx = ar.add(mx, p)
    return mx, tcols


def _exp_nonpositive(conv, d: np.ndarray, f: int) -> np.ndarray:
    """exp(d) at scale E_SCALE for flat shares d <= 0 at scale f (step 2; 0 below lo)."""
    ar = conv.arith
    n = d.shape[0]
    extra = min(26, 56 - f)
    q = f + extra
    with fx.unchecked(ar):
        t = ar.mul_public(d, fx.const(LOG2E, extra))  # d log2(e) at scale q (wraps where d << lo)
        low = fx.add_const(conv, d, -fx.const(-UNDERFLOW_BITS * math.log(2.0), f))
    (planes, _), (uplane, _) = fx.together(conv, steps.steps(conv, "a2b", [t], True),
                                          steps.steps(conv, "msb_planes", [low]))
    keep = conv.boolean.invert(uplane)  # [d >= lo]
    ks = list(range(KMIN, 1))
    kbits = planes[q : q + 7]
    with fx.unchecked(ar):  # r and its powers are meaningless (may wrap) where u = 1: multiplied by 0
        (h,), y = fx.together(conv, decode_steps(conv, kbits, keep, n, ks), pow2_fraction_steps(conv, t, kbits, q, n))
    dw = fx.weighted(conv, fx.ring([1 << (k - KMIN) for k in ks]), h)  # 2^(k - KMIN), 0 where u = 1
    # 2^r 2^k at E_SCALE: y at 2P truncated by s1 (folded into the product) times 2^(k - KMIN)
    s1 = 2 * fx.P - KMIN - E_SCALE
    with fx.unchecked(ar):
        return ar.mul_truncating(y, s1, dw, 0)


def _sum_poly(conv, s: np.ndarray, m: int, kind: str) -> np.ndarray:
    """1/S or log S at scale 2P (pending) for S = ``s`` in [1, m] at scale E_SCALE (step 3)."""
    c, _ = _s_map(m)
    u = fx.add_const(conv, s, -fx.const(c, E_SCALE))
    v = conv.arith.mul_public(u, _s_gain(m))  # v at scale E_SCALE + GAMMA = 2P: pending P
    coeffs = fx.cheb_coeffs(_SFn(m, kind), -1.0, 1.0, S_DEGREE)
    return fx.poly_eval(conv, v, coeffs, 2 * fx.P, pending=E_SCALE + GAMMA - fx.P)


def _shifted_exp(x: SecretTensor, axis: int, what: str):
    """Steps 1-2: (moved x, perm, columns d at scale f, e at E_SCALE (m, R), converter)."""
    moved, perm = _rows(x, axis, what)
    f = moved.dtype.f
    m = moved.shape[-1]
    conv = fx.context(moved)
    if moved.size == 0:
        return moved, perm, None, None, conv
    share = np.ascontiguousarray(moved.share).reshape(-1, m)
    cols = [np.ascontiguousarray(share[:, i]) for i in range(m)]
    mx, tcols = _row_max(conv, cols, moved.scale - f)  # a product's pending truncation, if any
    ar = conv.arith
    d = np.concatenate([ar.sub(c, mx) for c in tcols])  # (m R,) column-major, d <= 0
    e = _exp_nonpositive(conv, d, f)
    return moved, perm, d, e, conv


def _general(moved: SecretTensor, conv, s: np.ndarray, m: int) -> SecretTensor:
    """S (scale E_SCALE, in [1, m]) as a tensor for the general reciprocal / log (|S| 2^scale <
    2^60): as it is for m < 2^12, else truncated to scale f (one round)."""
    if m < 1 << 12:
        return SecretTensor(moved.engine, s, moved.dtype, E_SCALE)
    (t,) = conv.arith.truncate_many([s], E_SCALE - moved.dtype.f)
    return SecretTensor(moved.engine, t, moved.dtype, moved.dtype.f)


def _exp_and_sum(x: SecretTensor, axis: int, what: str):
    """Steps 1-3 shared by softmax and log_softmax: :func:`_shifted_exp` plus the row sums S of
    e (None with d when there is nothing to compute)."""
    moved, perm, d, e, conv = _shifted_exp(x, axis, what)
    s = None if d is None else _sum_rows(conv.arith, e, moved.shape[-1])
    return moved, perm, d, e, conv, s


def _sum_rows(ar, e: np.ndarray, m: int) -> np.ndarray:
    n = e.shape[0] // m
    s = e[:n]
    for i in range(1, m):
        s = ar.add(s, e[i * n : (i + 1) * n])
    return s


def _interleave(flat: np.ndarray, m: int) -> np.ndarray:
    """Column-major (m R,) -> row-major (R, m) flat."""
    return np.ascontiguousarray(flat.reshape(m, -1).T).reshape(-1)


def softmax(x: SecretTensor, axis: int = -1) -> SecretTensor:
    """exp(x - max) / sum(exp(x - max)) along ``axis`` (see the module docstring): 31 rounds for
    m = 10 entries (2 parties, semi2k), output scale 2f, absolute error <= 3e-5 at f = 16."""
    moved, perm, d, e, conv, s = _exp_and_sum(x, axis, "softmax")
    f, ar, m = moved.dtype.f, conv.arith, moved.shape[-1]
    if d is None:
        return _back(x, moved, perm, np.ascontiguousarray(moved.share).reshape(-1), 2 * f)
    if m <= POLY_MAX_M:
        inv, inv_scale = _sum_poly(conv, s, m, "recip"), 2 * fx.P
    else:
        ts = reciprocal(_general(moved, conv, s, m))
        inv, inv_scale = np.ascontiguousarray(ts.share).reshape(-1), ts.scale
    out = ar.mul_truncating(e, E_SCALE - f, np.concatenate([inv] * m), inv_scale - f)
    return _back(x, moved, perm, _interleave(out, m), 2 * f)


def log_softmax(x: SecretTensor, axis: int = -1) -> SecretTensor:
    """(x - max) - log(sum(exp(x - max))) along ``axis`` (see the module docstring): 31 rounds for
    m = 10 (2 parties, semi2k), output scale 2f."""
    moved, perm, d, e, conv, s = _exp_and_sum(x, axis, "log_softmax")
    f, ar, m = moved.dtype.f, conv.arith, moved.shape[-1]
    if d is None:
        return _back(x, moved, perm, np.ascontiguousarray(moved.share).reshape(-1), 2 * f)
    if m <= POLY_MAX_M:
        (lg,) = ar.truncate_many([_sum_poly(conv, s, m, "log")], 2 * fx.P - 2 * f)
    else:
        lg = np.ascontiguousarray(log(_general(moved, conv, s, m)).share).reshape(-1)
    out = ar.sub(ar.mul_public(d, 1 << f), np.concatenate([lg] * m))
    return _back(x, moved, perm, _interleave(out, m), 2 * f)
