"""``python -m mpc selfcheck``: every compiled kernel against the NumPy reference, bit for bit.

This is the quick "is this build sound on this machine" check (``make demo``): compiler flags
such as ``-march=native`` or a miscompiled SIMD path show up here as mismatches long before they
turn into wrong protocol outputs. For each kernel of :data:`mpc._core._ref.KERNELS` it draws
``--cases`` random valid argument sets (shapes from empty to a few hundred elements, values
mixed with edge values 0, 1, 2^63 - 1, 2^63, 2^64 - 1), calls both backends, and compares the
outputs' dtype, shape and bytes; kernels with ``out=`` are also called with a fresh ``out`` and
with ``out`` aliasing their first input. It also checks that no kernel writes to its inputs.

The test data is public; it comes from the project's PRG seeded from ``--seed`` (random by
default, printed) so a failure can be replayed. A kernel without an argument generator counts
as a failure, so a new kernel cannot slip past the check.
"""

from __future__ import annotations

import argparse
import hashlib
import inspect
import math
import os
import sys
from collections.abc import Callable, Sequence

import numpy as np

from mpc._core import _checks, _ref, get_kernels
from mpc.errors import KernelError
from mpc.prg import PRG

EDGES = np.array([0, 1, 2**63 - 1, 2**63, 2**64 - 1], dtype=np.uint64)
SHAPES = [(), (0,), (1,), (7,), (64,), (3, 5), (2, 3, 4), (129,)]


class _Gen:
    """Random public test inputs, drawn from a seeded PRG so a failing case can be replayed."""

    def __init__(self, prg: PRG) -> None:
        self.prg = prg

    def dim(self, lo: int = 0, hi: int = 9) -> int:
        """An integer in [lo, hi)."""
        return lo + int(self.prg.below(hi - lo, ()))

    def flag(self) -> bool:
        return bool(self.dim(0, 2))

    def shape(self, min_ndim: int = 0) -> tuple[int, ...]:
        choices = [s for s in SHAPES if len(s) >= min_ndim]
        return choices[self.dim(0, len(choices))]

    def u64(self, shape: tuple[int, ...]) -> np.ndarray:
        a = self.prg.uint64(shape).copy()
        if a.size:
            flat = a.reshape(-1)
            k = self.dim(0, flat.size // 3 + 2)
            flat[self.prg.below(flat.size, k)] = EDGES[self.prg.below(len(EDGES), k)]
        return a

    def u8(self, shape: tuple[int, ...]) -> np.ndarray:
        return (self.prg.uint64(shape) & np.uint64(0xFF)).astype(np.uint8)

    def signed(self, bits: int) -> int:
        return int(self.prg.below(1 << bits, ())) - (1 << (bits - 1))


def _same(g: _Gen, k: int, min_ndim: int = 0, trailing: tuple[int, ...] = ()) -> tuple:
    s = (*g.shape(min_ndim), *trailing)
    return tuple(g.u64(s) for _ in range(k))


def _combine(g: _Gen) -> tuple:
    return (*_same(g, 5), g.flag())


def _beaver_combine(g: _Gen) -> tuple:
    """The combine with or without the rest parts d2, e2 of the opened masks."""
    s = g.shape()
    args = (*(g.u64(s) for _ in range(5)), g.flag())
    return (*args, g.u64(s), g.u64(s)) if g.flag() else args


def _trunc_finish(g: _Gen) -> tuple:
    """A power of two 2^k (k in [1, 62]) or any divisor up to 2^62, with or without c2."""
    d = 1 << g.dim(1, 63) if g.flag() else [3, 5, 7, 1000, 2**62 - 1][g.dim(0, 5)]
    s = g.shape()
    args = (g.u64(s), g.u64(s), g.u64(s), d, g.flag())
    return (*args, g.u64(s)) if g.flag() else args


def _masked(g: _Gen, s: tuple[int, ...]) -> np.ndarray:
    """masked2k records (*s, 3): random words, often with tags in a run (from 0, 1, a random or
    an edge start, up to ending exactly at 2^64 - 1, or one past it), sometimes broken once."""
    w = g.u64((*s, 3))
    size = math.prod(s)
    if size and g.flag():
        start = [0, 1, int(g.u64(())) >> 1, 2**64 - size, 2**64 - size + 1][g.dim(0, 5)]
        tags = [(start + i) % 2**64 for i in range(size)]
        if g.flag():
            tags[g.dim(0, size)] ^= 1 << g.dim(0, 64)
        w[..., 2] = np.array(tags, dtype=np.uint64).reshape(s)
    return w


def _masked_mul_share(g: _Gen) -> tuple:
    s = g.shape()
    x = _masked(g, s)
    return x, (x if g.flag() else _masked(g, s)), g.u64(s), g.u64(s), g.flag()


def _masked_finish(g: _Gen) -> tuple:
    s = g.shape()
    args = (g.u64(s), g.u64(s), [0, 1, int(g.u64(())), 2**64 - 1][g.dim(0, 4)])
    return (*args, g.u64(s)) if g.flag() else args


def _masked_trunc(g: _Gen) -> tuple:
    s = g.shape()
    return _masked(g, s), g.u64(s), g.u64(s), g.dim(1, 63)


def _masked_finish_trunc(g: _Gen) -> tuple:
    s = g.shape()
    t0 = [0, 1, (1 << 58) - 1, int(g.u64(())) >> 6, 2**64 - 1][g.dim(0, 5)]
    args = (g.u64(s), g.u64(s), g.u64(s), t0, g.dim(1, 63))
    return (*args, g.u64(s)) if g.flag() else args


def _tmul_finish(g: _Gen) -> tuple:
    """k1 in [1, 62], k2 in [0, 62], the optional components exactly where the contract asks."""
    k1, k2 = g.dim(1, 63), g.dim(0, 63) if g.flag() else 0
    s = g.shape()
    opt = lambda cond: g.u64(s) if cond else None  # noqa: E731
    args = (*(g.u64(s) for _ in range(5)), opt(k2), g.u64(s), g.u64(s), opt(k2), opt(k2 and k1 + k2 > 64),
            k1, k2, g.flag())
    return (*args, g.u64(s), g.u64(s)) if g.flag() else args


def _tsquare_finish(g: _Gen) -> tuple:
    s = g.shape()
    args = (*(g.u64(s) for _ in range(5)), g.dim(1, 63), g.flag())
    return (*args, g.u64(s)) if g.flag() else args


def _matmul_combine(g: _Gen) -> tuple:
    m, k, n = g.dim(), g.dim(), g.dim()
    return g.u64((m, n)), g.u64((m, k)), g.u64((k, n)), g.u64((m, k)), g.u64((k, n)), g.flag()


def _beaver_mask(g: _Gen) -> tuple:
    s1, s2 = g.shape(), g.shape()
    return g.u64(s1), g.u64(s1), g.u64(s2), g.u64(s2)


def _mul_public(g: _Gen) -> tuple:
    c = [0, 1, -1, 2**64 - 1, -(2**63), 2**70 + 3][g.dim(0, 6)] if g.flag() else g.signed(63)
    return g.u64(g.shape()), c


def _sum(g: _Gen) -> tuple:
    a = g.u64(g.shape(1))
    return a, g.dim(-a.ndim, a.ndim)


def _unpack(g: _Gen) -> tuple:
    words = g.u64((*g.shape(0)[:1], g.dim(1, 4)))
    return words, g.dim(0, 64 * words.shape[-1] + 1)


def _unbitslice(g: _Gen) -> tuple:
    k, w = g.dim(0, 65), g.dim(1, 4)
    return g.u64((k, w)), g.dim(0, 64 * w + 1)


def _matmul(g: _Gen) -> tuple:
    m, k, n = g.dim(), g.dim(), g.dim()
    return g.u64((m, k)), g.u64((k, n))


def _matmul_batched(g: _Gen) -> tuple:
    b, m, k, n = g.dim(0, 4), g.dim(), g.dim(), g.dim()
    return g.u64((b, m, k)), g.u64((b, k, n))


def _matmul128(g: _Gen) -> tuple:
    m, k, n = g.dim(), g.dim(), g.dim()
    wide = g.dim(0, 4)  # which operands are Z_2^128 (bit 0: a, bit 1: b)
    return g.u64((m, k, 2) if wide & 1 else (m, k)), g.u64((k, n, 2) if wide & 2 else (k, n))


def _bauth_and(g: _Gen) -> tuple:
    """Authenticated bit triples as (..., 66) records, opened words d, e, a MAC key share, first."""
    s = g.shape()
    return (*(g.u64((*s, 66)) for _ in range(3)), g.u64(s), g.u64(s), int(g.u64(())), g.flag())


def _bauth_public(g: _Gen, with_key: bool) -> tuple:
    s = g.shape()
    args = (g.u64((*s, 66)), g.u64(s))
    return (*args, int(g.u64(())), g.flag()) if with_key else args


def _bauth_lt_pairs(g: _Gen) -> tuple:
    pairs, w = g.dim(0, 4), g.dim(1, 70)
    return g.u64((2 * pairs, w, 66)), g.u64((pairs, w, 66)), g.u64((2 * pairs, w)), int(g.u64(())), g.flag()


def _auth(g: _Gen, records: int, wide: int, scalars: bool, rest: int = 0) -> tuple:
    """``records`` records, ``wide`` Z_2^128 arrays, then (``scalars``) a MAC key share and first,
    then ``rest`` optional Z_2^128 arrays (an opening's rest, as the combines take it: all or none)."""
    s = g.shape()
    out = [g.u64((*s, 4)) for _ in range(records)] + [g.u64((*s, 2)) for _ in range(wide)]
    if scalars:
        out += [int(g.u64(())), g.flag()]
    if rest:
        out += [g.u64((*s, 2)) for _ in range(rest)] if g.flag() else [None] * rest
    return tuple(out)


def _auth_add_split(g: _Gen) -> tuple:
    """Records x, a, a public constant c, a MAC key share, first."""
    s = g.shape()
    return g.u64((*s, 4)), g.u64((*s, 4)), int(g.u64(())), int(g.u64(())), g.flag()


def _auth_lincomb(g: _Gen) -> tuple:
    """1-3 records with a coefficient each (words of the element shape or an integer), party
    0's public words p or None, a MAC key share, first."""
    s, terms = g.shape(), g.dim(1, 4)
    xs = [g.u64((*s, 4)) for _ in range(terms)]
    coefs = [g.u64(s) if g.flag() else int(g.u64(())) for _ in range(terms)]
    return xs, coefs, g.u64(s) if g.flag() else None, int(g.u64(())), g.flag()


def _auth_div_finish(g: _Gen) -> tuple:
    """The opening's summands own, rest (Z_2^128 words), records r_msb, r_high, a divisor (a
    power of two half the time), a MAC key share, first."""
    s = g.shape()
    d = 1 << g.dim(1, 63) if g.flag() else int(g.u64(())) | 2
    return g.u64((*s, 2)), g.u64((*s, 2)), g.u64((*s, 4)), g.u64((*s, 4)), d, int(g.u64(())), g.flag()


def _auth_tmul_finish(g: _Gen) -> tuple:
    """The opening's summands own, rest ((2, *shape, 2) words), a ``tmul`` tuple's records with
    the optional ones exactly where the contract asks, k1 in [1, 62], k2 in [0, 62], a MAC key
    share, first."""
    k1, k2 = g.dim(1, 63), g.dim(0, 63) if g.flag() else 0
    s = g.shape()
    rec = lambda cond=True: g.u64((*s, 4)) if cond else None  # noqa: E731
    return (g.u64((2, *s, 2)), g.u64((2, *s, 2)), rec(), rec(), rec(), rec(k2), rec(), rec(), rec(k2),
            rec(k2 and k1 + k2 > 64), k1, k2, int(g.u64(())), g.flag())


def _auth_tsquare_finish(g: _Gen) -> tuple:
    """The opening's summands own, rest, a ``tsquare`` tuple's records, k in [1, 62], a MAC key share, first."""
    s = g.shape()
    return (g.u64((*s, 2)), g.u64((*s, 2)), *(g.u64((*s, 4)) for _ in range(4)), g.dim(1, 63), int(g.u64(())),
            g.flag())


def _auth_matmul_combine(g: _Gen) -> tuple:
    """Records c (m, n), a (m, k), b (k, n), the opened words d (m, k), e (k, n), a MAC key share, first."""
    m, k, n = g.dim(), g.dim(), g.dim()
    return (g.u64((m, n, 4)), g.u64((m, k, 4)), g.u64((k, n, 4)), g.u64((m, k)), g.u64((k, n)), int(g.u64(())),
            g.flag())


def _ot_hash_finish(g: _Gen) -> tuple:
    m, blocks = g.dim(0, 9), g.dim(1, 4)
    return g.u64((m, blocks, 2)), g.u64((m, 2))


def _ot_gilboa_send(g: _Gen) -> tuple:
    n, nbits, blocks = g.dim(0, 5), g.dim(1, 65), g.dim(1, 3)
    return g.u64((n * nbits, blocks, 2)), g.u64((n * nbits, blocks, 2)), g.u64((n,)), nbits


def _ot_gilboa_recv(g: _Gen) -> tuple:
    n, nbits, blocks = g.dim(0, 5), g.dim(1, 65), g.dim(1, 3)
    size = n * sum((64 - k + 7) // 8 for k in range(nbits))
    return g.u64((n * nbits, blocks, 2)), g.u8((size,)), g.u64((n,)), nbits


def _spdz_untrim128(g: _Gen) -> tuple:
    a, nbits, w = g.dim(0, 3), g.dim(0, 129), g.dim(0, 4)
    return g.u8((_checks.spdz_trimmed128_bytes(a, nbits, w),)), a, nbits, w


def _soft_offs(g: _Gen, nb: int, k: int, nrows: int) -> np.ndarray:
    """SoftSpoken's per-block punctured indices: below 2^k, the last block below 2^(its rows)."""
    offs = g.u8((nb,))
    last = nrows - (nb - 1) * k
    offs[:-1] &= (1 << k) - 1
    offs[-1:] &= (1 << last) - 1
    return offs


def _ot_soft_sums(g: _Gen) -> tuple:
    k, nrows, w = g.dim(1, 5), g.dim(1, 20), g.dim(1, 4)
    nb = -(-nrows // k)
    return g.u64((nb << k, w)), _soft_offs(g, nb, k, nrows), g.u64((1 if g.flag() else nb, w)), k, nrows


def _ot_soft_extend(g: _Gen) -> tuple:
    k, w = g.dim(1, 5), g.dim(1, 3)
    nb = -(-128 // k)
    present = g.u8((nb << k,)) & np.uint8(1)
    return (g.u8((nb << k, 16)), present, g.dim(0, 1000), _soft_offs(g, nb, k, 128),
            g.u64((1 if g.flag() else nb, w)), k)


def _ot_kos_sums(g: _Gen) -> tuple:
    m = g.dim(0, 200)
    return g.u64((m, 2)), g.u64((-(-m // 64),)) if g.flag() else None, g.u8((16,))


def _ot_gilboa_send_hash(g: _Gen) -> tuple:
    n, nbits = g.dim(0, 5), g.dim(1, 65)
    return g.u64((n * nbits, 2)), g.u64((2,)), int(g.u64((1,))[0]), g.u8((16,)), g.u64((n,)), nbits


def _ot_gilboa_recv_hash(g: _Gen) -> tuple:
    n, nbits = g.dim(0, 5), g.dim(1, 65)
    size = n * sum((64 - k + 7) // 8 for k in range(nbits))
    return g.u64((n * nbits, 2)), int(g.u64((1,))[0]), g.u8((16,)), g.u8((size,)), g.u64((n,)), nbits


GENERATORS: dict[str, Callable[[_Gen], tuple]] = {
    "spdz_weighted128": lambda g: (g.u64((g.dim(0, 3), g.dim(0, 129), g.dim(0, 5), 2)),),
    "spdz_untrim128": _spdz_untrim128,
    "add": lambda g: _same(g, 2),
    "sub": lambda g: _same(g, 2),
    "mul": lambda g: _same(g, 2),
    "neg": lambda g: _same(g, 1),
    "mul_public": _mul_public,
    "sum": _sum,
    "sar": lambda g: (g.u64(g.shape()), g.dim(0, 64)),
    "trunc_finish": _trunc_finish,
    "masked_tags": lambda g: (_masked(g, g.shape()),),
    "masked_mul_share": _masked_mul_share,
    "masked_finish": _masked_finish,
    "masked_trunc": _masked_trunc,
    "masked_finish_trunc": _masked_finish_trunc,
    "tmul_finish": _tmul_finish,
    "tsquare_finish": _tsquare_finish,
    "add128": lambda g: _same(g, 2, trailing=(2,)),
    "sub128": lambda g: _same(g, 2, trailing=(2,)),
    "neg128": lambda g: _same(g, 1, trailing=(2,)),
    "mul128": lambda g: _same(g, 2, trailing=(2,)),
    "mul128_64": lambda g: (lambda s: (g.u64((*s, 2)), g.u64(s)))(g.shape()),
    "matmul128": _matmul128,
    "auth_sub_split": lambda g: _auth(g, 2, 0, False),
    "auth_sub_split_planar": lambda g: _auth(g, 2, 0, False),
    "auth_beaver_combine": lambda g: _auth(g, 3, 2, True, rest=2),
    "auth_square_combine": lambda g: _auth(g, 2, 1, True, rest=1),
    "auth_add_public": lambda g: _auth(g, 1, 1, True),
    "auth_add_split": _auth_add_split,
    "auth_lincomb": _auth_lincomb,
    "auth_div_finish": _auth_div_finish,
    "auth_tmul_finish": _auth_tmul_finish,
    "auth_tsquare_finish": _auth_tsquare_finish,
    "auth_matmul_combine": _auth_matmul_combine,
    "dot128_64": lambda g: (lambda n: (g.u64((n, 2)), g.u64((n,))))(g.dim(0, 40)),
    "dot128_64_planar": lambda g: _same(g, 3),
    "matmul": _matmul,
    "matmul_batched": _matmul_batched,
    "beaver_mask": _beaver_mask,
    "beaver_combine": _beaver_combine,
    "beaver_matmul_combine": _matmul_combine,
    "pack_bits": lambda g: (g.u8((*g.shape(0)[:1], g.dim(1, 200))),),
    "unpack_bits": _unpack,
    "band": lambda g: _same(g, 2),
    "bxor": lambda g: _same(g, 2),
    "bnot": lambda g: _same(g, 1),
    "transpose64": lambda g: (g.u64((*g.shape(0)[:1], 64)),),
    "bitslice": lambda g: (g.u64((g.dim(0, 300),)),),
    "unbitslice": _unbitslice,
    "gmw_and_combine": _combine,
    "gf64_mul": lambda g: _same(g, 2),
    "gf64_fold": lambda g: (g.u64((*g.shape(), 64)),),
    "bit_macs_xor": lambda g: (lambda s: (g.u64(s), int(g.u64((1,))[0]), g.u64((*s, 64))))(g.shape()),
    "gf64_dot": lambda g: _same(g, 2),
    "bauth_and": _bauth_and,
    "bauth_xor_public": lambda g: _bauth_public(g, True),
    "bauth_and_public": lambda g: _bauth_public(g, False),
    "bauth_and_light": _bauth_and,
    "bauth_and_public_light": lambda g: _bauth_public(g, False),
    "bauth_and_xor_public_light": lambda g: _bauth_public(g, True),
    "bauth_lt_pairs_light": _bauth_lt_pairs,
    "bauth_mask": lambda g: (lambda s: (g.u64((*s, 2)), g.u64((*s, 66))))(g.shape()),
    "ot_transpose128": lambda g: (g.u64((128, g.dim(0, 5))),),
    "ot_tweak": lambda g: (g.u64((g.dim(0, 9), 2)), int(g.u64((1,))[0]), g.dim(1, 4)),
    "ot_hash_finish": _ot_hash_finish,
    "ot_gilboa_send": _ot_gilboa_send,
    "ot_gilboa_recv": _ot_gilboa_recv,
    "ot_lsb_pack": lambda g: (g.u64((64 * g.dim(0, 3), g.dim(1, 3), 2)),),
    "ot_hash_words": lambda g: (g.u64((g.dim(0, 20), 2)), g.u64((2,)) if g.flag() else None, int(g.u64((1,))[0]),
                                g.u8((16,))),
    "ot_soft_sums": _ot_soft_sums,
    "ot_soft_extend": _ot_soft_extend,
    "ot_kos_sums": _ot_kos_sums,
    "ot_gilboa_send_hash": _ot_gilboa_send_hash,
    "ot_gilboa_recv_hash": _ot_gilboa_recv_hash,
    "ot_hash_lsb": lambda g: (g.u64((64 * g.dim(0, 3), 2)), g.u64((2,)) if g.flag() else None, int(g.u64((1,))[0]),
                              g.u8((16,))),
}


def _outputs(result: object) -> list[np.ndarray]:
    """A kernel's outputs as arrays (a flag or a count compares as a 0-d array)."""
    out = list(result) if isinstance(result, tuple) else [result]
    return [r if isinstance(r, np.ndarray) else np.asarray(r, dtype=bool if isinstance(r, bool) else np.uint64)
            for r in out]


def _call(fn: Callable, args: tuple, out_mode: str | None) -> tuple[list[np.ndarray] | None, str | None]:
    """Call ``fn`` on copies of ``args``; returns (outputs, error) and checks inputs stay unchanged."""
    copies = tuple(a.copy() if isinstance(a, np.ndarray) else a for a in args)
    kwargs = {}
    if out_mode == "fresh":
        kwargs["out"] = np.full_like(copies[0], 0xA5)
    elif out_mode == "alias":
        kwargs["out"] = copies[0]
    try:
        with np.errstate(all="ignore"):  # wrap-around is the point of ring arithmetic
            result = _outputs(fn(*copies, **kwargs))
    except Exception as exc:  # compared between the backends below
        return None, f"{type(exc).__name__}: {exc}"
    for i, (a, c) in enumerate(zip(args, copies, strict=True)):
        if isinstance(a, np.ndarray) and not (out_mode == "alias" and i == 0) and a.tobytes() != c.tobytes():
            return result, f"argument {i} was modified"
    if out_mode is not None and result[0] is not kwargs["out"]:
        return result, "did not return its out= array"
    return result, None


def _describe(args: tuple) -> str:
    return ", ".join(f"{a.dtype}{list(a.shape)}" if isinstance(a, np.ndarray) else repr(a) for a in args)


def check_kernel(name: str, compiled: Callable, cases: int, prg: PRG) -> list[str]:
    """Problems found for one kernel (empty when compiled == reference on every case)."""
    reference = getattr(_ref, name)
    gen = GENERATORS.get(name)
    if gen is None:
        return [f"no argument generator for kernel {name!r}: add one to mpc/launch/selfcheck.py"]
    has_out = "out" in inspect.signature(reference).parameters
    g = _Gen(prg)
    problems = []
    for case in range(cases):
        args = gen(g)
        modes = [None, "fresh", "alias"] if has_out else [None]
        for mode in modes:
            if mode == "alias" and (not isinstance(args[0], np.ndarray) or args[0].dtype != np.uint64):
                continue
            want, want_err = _call(reference, args, mode)
            got, got_err = _call(compiled, args, mode)
            where = f"{name} case {case} ({_describe(args)}{', out=' + mode if mode else ''})"
            if want_err != got_err:
                problems.append(f"{where}: reference -> {want_err or 'ok'}, compiled -> {got_err or 'ok'}")
            elif want is not None and got is not None:
                for k, (w, c) in enumerate(zip(want, got, strict=False)):
                    if not isinstance(c, np.ndarray) or (w.dtype, w.shape) != (c.dtype, c.shape):
                        problems.append(
                            f"{where}: output {k} is {_describe((c,))}, expected {_describe((w,))}"
                        )
                    elif w.tobytes() != c.tobytes():
                        bad = int(np.count_nonzero(w.reshape(-1) != c.reshape(-1)))
                        problems.append(f"{where}: output {k} differs in {bad} of {w.size} elements")
                if len(want) != len(got):
                    problems.append(f"{where}: {len(got)} outputs, expected {len(want)}")
            if len(problems) >= 5:
                return problems
    return problems


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m mpc selfcheck", description="Check every compiled kernel against the NumPy reference."
    )
    parser.add_argument("--cases", type=int, default=25, help="random cases per kernel (default 25)")
    parser.add_argument("--seed", type=int, default=None, help="seed of the test inputs (default: random)")
    parser.add_argument(
        "--backend",
        default="c",
        choices=("c", "ref", "auto"),
        help="backend to check against the reference (default c; ref checks the checker)",
    )
    args = parser.parse_args(argv)
    seed = args.seed if args.seed is not None else int.from_bytes(os.urandom(4), "little")
    try:
        kernels = get_kernels(args.backend)
    except KernelError as exc:
        print(f"selfcheck: {exc}", file=sys.stderr)
        return 1
    print(
        f"selfcheck: {len(_ref.KERNELS)} kernels, backend {kernels.backend!r} vs reference, "
        f"{args.cases} cases each, seed {seed}"
    )
    failed = 0
    root = PRG(hashlib.sha256(b"tessera-selfcheck\0" + (seed % 2**64).to_bytes(8, "little")).digest()[:16])
    width = max(map(len, _ref.KERNELS))
    for name in _ref.KERNELS:
        prg = root.derive(name)
        problems = check_kernel(name, getattr(kernels, name), args.cases, prg)
        print(f"  {name:<{width}} {'ok' if not problems else 'MISMATCH'}")
        for p in problems:
            print(f"      {p}")
        failed += bool(problems)
    if failed:
        print(
            f"selfcheck: FAILED: {failed} of {len(_ref.KERNELS)} kernels differ "
            f"(reproduce with --seed {seed})"
        )
        return 1
    print(f"selfcheck: OK: every kernel matches the reference bit for bit ({kernels.backend})")
    return 0
