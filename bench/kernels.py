"""Local kernel benchmarks: the compiled core against the best NumPy can do on one machine.

    python bench/kernels.py [--quick]

Prints one JSON line per measurement (DESIGN.md section 8). ``seconds`` is the median of several
timed repeats (``min_seconds`` the fastest) after a warm-up call, so output buffers are already
faulted in; the contenders of a group are timed round-robin, so their ratio holds up on a shared
machine whose load drifts during the run. ``ratio`` is how
many times faster than the NumPy baseline of the same group (``ratio_to`` names it); for the
elementwise ring ops it is instead the speed as a fraction of ``np.copyto`` on the same bytes
(1.0 = memory speed).

Groups:
- matmul: uint64 n x n @ n x n for n = 128, 256, 512: the compiled kernel (``c``: the instruction
  set it picks on this CPU, named in ``isa``; ``c-avx512``, ``c-avx2``, ``c-portable``: each path
  this CPU has, forced) vs torch's int64 ``@`` on one thread (``torch.set_num_threads(1)``; the
  compiled kernel is single-threaded too; ``vs_torch`` > 1 means faster than torch) vs NumPy's
  integer ``@`` (no BLAS) vs float64 ``@`` (BLAS: one thread unless ``OPENBLAS_NUM_THREADS`` is set).
- beaver_combine: the fused c + d*b + e*a (+ d*e) vs NumPy in-place ops with preallocated out=.
- beaver_combine_open: the opening fused into the combine, as Semi2k.mul runs it for two parties
  (own masked d|e and the peer's, one 2n buffer each): ``beaver_combine(..., d2, e2)`` vs the
  former ``add`` of the two buffers (a fresh 2n array) followed by the combine.
- trunc_finish: the fused truncation finish (opening sum included) vs the former ``add`` plus
  seven NumPy/kernel passes of Semi2k.divide_many; both allocate their results fresh, as the
  engine does.
- matmul_auth: spdz2k's matrix Beaver combine (``auth_matmul_combine``: records c + d @ (b + e)
  + a @ e, value and MAC mod 2^128, n x n x n) beside the same combine composed of four
  ``matmul128`` products and elementwise Z_2^128 passes (``c-composed``: what the fusion saves)
  and semi2k's uint64 combine of the same size (``semi2k``: the ratio #14's W2 target is about).
  The float64 product runs on NumPy's BLAS (``blas_threads``: one unless set, as mpcrun gives
  each of N parties on one host its share of the cores). Against a former method that no longer
  exists in the tree (the limb products): ``bench/ab.py`` times the kernels of two builds.
- bauth: spdz2k's authenticated bit-word kernels (light and full AND, AND/XOR with public words,
  a comparison's leaves and its first level from pair products, the fold) on each instruction
  set this CPU has (AVX-512, AVX2, portable), 10^5 words, beside the time to merely read the
  light AND's bytes (its memory bound).
- ring add / mul: elementwise Z_2^64 kernels of mpc._core._ring (out=) vs np.copyto.
- aead_seal / aead_open / aead_roundtrip: AES-256-GCM records of mpc.crypto.aead for 16 KiB,
  1 MiB and 16 MiB payloads, into preallocated buffers or fresh ones (bench/aead.py).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

# One BLAS thread, like every other contender here (and like mpcrun's parties on a shared host):
# set before NumPy loads OpenBLAS, which reads it once.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import numpy as np  # noqa: E402

if __package__ in (None, ""):  # run as a script: make the repository importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.aead import run as bench_aead  # noqa: E402
from mpc._core import _matmul, get_kernels  # noqa: E402

U64 = np.uint64


def time_group(fns: dict[str, Callable[[], object]], repeats: int, few: tuple[str, ...] = ()) -> dict:
    """Median and minimum wall time of each function, timed round-robin after one warm-up call each.

    Interleaving the contenders makes their ratio robust to load that drifts during the run (the
    machine may be shared); functions named in ``few`` are timed only 3 times (slow baselines).
    """
    for fn in fns.values():
        fn()
    times: dict[str, list[float]] = {name: [] for name in fns}
    for r in range(repeats):
        for name, fn in fns.items():
            if name in few and r >= 3:
                continue
            t0 = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - t0)
    return {name: (statistics.median(ts), min(ts)) for name, ts in times.items()}


def emit(op: str, backend: str, shape: tuple[int, ...], seconds: float | None, **extra: object) -> None:
    """One JSON line; ``n`` is the side of a square product, else the element count; seconds None = not run."""
    n = shape[0] if op.startswith("matmul") else int(np.prod(shape))
    record = {
        "op": op,
        "engine": "kernel",
        "backend": backend,
        "parties": 1,
        "n": n,
        "shape": list(shape),
        "seconds": seconds,
        "bytes": 0,
        "rounds": 0,
        "phase": "local",
        **extra,
    }
    print(json.dumps(record), flush=True)


def random_u64(rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
    return rng.integers(0, 2**64, size=shape, dtype=U64)


def _torch_int64_matmul(a: np.ndarray, b: np.ndarray) -> tuple[Callable[[], object] | None, str | None]:
    """torch's int64 ``@`` on one thread over the same bits (int64 wraps like uint64), checked equal
    to ours; (None, reason) when torch is not installed (it is an extra: ``.[torch]``)."""
    try:
        import torch
    except ImportError as exc:
        return None, f"torch not installed: {exc}"
    ta, tb = torch.from_numpy(a.view(np.int64)), torch.from_numpy(b.view(np.int64))
    assert np.array_equal((ta @ tb).numpy().view(U64), _matmul.matmul(a, b))
    return (lambda: ta @ tb), None


def bench_matmul(rng: np.random.Generator, size: int, repeats: int) -> None:
    """One group per size: the compiled kernel (automatic choice, and each instruction set this
    CPU has, forced) beside torch's int64 matmul on one thread, NumPy's uint64 ``@`` and float64
    BLAS. ``vs_torch`` is torch's time over ours from the medians (> 1: we are faster),
    ``vs_torch_best`` the same from the fastest repeats."""
    m = k = n = size
    a, b = random_u64(rng, (m, k)), random_u64(rng, (k, n))
    fa, fb = a.astype(np.float64), b.astype(np.float64)
    want = a @ b
    assert np.array_equal(_matmul.matmul(a, b), want)
    fns: dict[str, Callable[[], object]] = {"numpy": lambda: a @ b, "c": lambda: _matmul.matmul(a, b)}
    for isa in _matmul.matmul_isas():
        assert np.array_equal(_matmul.matmul_with(isa, a, b), want)
        fns[f"c-{isa}"] = lambda isa=isa: _matmul.matmul_with(isa, a, b)
    torch_fn, torch_missing = _torch_int64_matmul(a, b)
    threads_before = None
    if torch_fn is not None:
        import torch

        threads_before = torch.get_num_threads()
        torch.set_num_threads(1)
        fns["torch"] = torch_fn
    try:
        # NumPy's uint64 @ (~0.4 s a call at 512) and the portable C path run 3 times only
        t = time_group(fns, repeats, few=("numpy", "c-portable"))
    finally:
        if threads_before is not None:
            torch.set_num_threads(threads_before)
    # float64 BLAS apart: its worker threads keep spinning after a call and would slow whichever
    # contender came next in the round-robin
    t.update(time_group({"f64": lambda: fa @ fb}, repeats))
    shape = (m, k, n)
    macs = m * k * n
    t_numpy = t["numpy"][0]
    t_torch = t["torch"] if "torch" in t else None

    def line(backend: str, key: str, **extra: object) -> None:
        # key order matters: bench/render.py shows the first four extra fields as columns
        med, best = t[key]
        vs = {"vs_torch": t_torch[0] / med, "vs_torch_best": t_torch[1] / best} if t_torch else {}
        emit("matmul", backend, shape, med, min_seconds=best, **vs, gmacs=macs / med / 1e9, ratio=t_numpy / med,
             ratio_to="numpy-uint64", **extra)

    line("numpy-uint64", "numpy")
    line("c", "c", isa=_matmul.matmul_isa(), threads=1)
    for isa in _matmul.matmul_isas():
        line(f"c-{isa}", f"c-{isa}", isa=isa, threads=1)
    if t_torch:
        line("torch-int64", "torch", threads=1, torch_version=__import__("torch").__version__)
    else:
        emit("matmul", "torch-int64", shape, None, error=torch_missing)
    line("numpy-float64-blas", "f64")


def bench_beaver_combine(rng: np.random.Generator, size: int, repeats: int) -> None:
    c, d, e, a, b = (random_u64(rng, (size,)) for _ in range(5))
    z = np.ones(size, dtype=U64)  # preallocated and faulted in: NumPy's best case
    tmp = np.ones(size, dtype=U64)

    def numpy_combine(first: bool) -> np.ndarray:
        if first:  # d*b + d*e = d*(b + e)
            np.add(b, e, out=tmp)
            np.multiply(d, tmp, out=z)
        else:
            np.multiply(d, b, out=z)
        np.multiply(e, a, out=tmp)
        np.add(z, tmp, out=z)
        np.add(z, c, out=z)
        return z

    for first in (False, True):
        assert np.array_equal(_matmul.beaver_combine(c, d, e, a, b, first), numpy_combine(first).copy())
        t = time_group(
            {
                "numpy": lambda first=first: numpy_combine(first),
                "c": lambda first=first: _matmul.beaver_combine(c, d, e, a, b, first),
            },
            repeats,
        )
        (t_np, min_np), (t_c, min_c) = t["numpy"], t["c"]
        common = {"first": first, "ratio_to": "numpy-inplace"}
        emit("beaver_combine", "numpy-inplace", (size,), t_np, min_seconds=min_np, ratio=1.0, **common)
        emit("beaver_combine", "c", (size,), t_c, min_seconds=min_c, ratio=t_np / t_c, **common)


def bench_combine_open(rng: np.random.Generator, size: int, repeats: int) -> None:
    kern = get_kernels("c")
    c, a, b = (random_u64(rng, (size,)) for _ in range(3))
    own, peer = random_u64(rng, (2 * size,)), random_u64(rng, (2 * size,))  # d|e as sent, as received

    def separate(first: bool) -> np.ndarray:
        opened = kern.add(own, peer)
        return kern.beaver_combine(c, opened[:size], opened[size:], a, b, first)

    def fused(first: bool) -> np.ndarray:
        return kern.beaver_combine(c, own[:size], own[size:], a, b, first, peer[:size], peer[size:])

    for first in (False, True):
        assert np.array_equal(fused(first), separate(first))
        t = time_group({"c-add+combine": lambda f=first: separate(f), "c-fused": lambda f=first: fused(f)}, repeats)
        (t_sep, min_sep), (t_fused, min_fused) = t["c-add+combine"], t["c-fused"]
        common = {"first": first, "ratio_to": "c-add+combine"}
        emit("beaver_combine_open", "c-add+combine", (size,), t_sep, min_seconds=min_sep, ratio=1.0, **common)
        emit("beaver_combine_open", "c-fused", (size,), t_fused, min_seconds=min_fused, ratio=t_sep / t_fused,
             **common)


def bench_trunc_finish(rng: np.random.Generator, size: int, repeats: int, k: int = 16) -> None:
    kern = get_kernels("c")
    own, peer, r_high = (random_u64(rng, (size,)) for _ in range(3))
    r_msb = random_u64(rng, (size,)) >> U64(63)
    weight, shift, offset = U64(1 << (64 - k)), U64(k), U64(1 << (62 - k))

    def separate(first: bool) -> np.ndarray:  # the former Semi2k.divide_many, power-of-two path
        opened = kern.add(own, peer)
        y = np.invert(opened)
        np.right_shift(y, U64(63), out=y)
        np.multiply(y, weight, out=y)
        kern.mul(r_msb, y, out=y)
        kern.sub(y, r_high, out=y)
        if first:
            q = np.right_shift(opened, shift)
            np.subtract(q, offset, out=q)
            kern.add(y, q, out=y)
        return y

    def fused(first: bool) -> np.ndarray:
        return kern.trunc_finish(own, r_high, r_msb, 1 << k, first, peer)

    for first in (False, True):
        assert np.array_equal(fused(first), separate(first))
        t = time_group({"c-add+numpy": lambda f=first: separate(f), "c-fused": lambda f=first: fused(f)}, repeats)
        (t_sep, min_sep), (t_fused, min_fused) = t["c-add+numpy"], t["c-fused"]
        common = {"first": first, "k": k, "ratio_to": "c-add+numpy"}
        emit("trunc_finish", "c-add+numpy", (size,), t_sep, min_seconds=min_sep, ratio=1.0, **common)
        emit("trunc_finish", "c-fused", (size,), t_fused, min_seconds=min_fused, ratio=t_sep / t_fused, **common)


def bench_auth_matmul(rng: np.random.Generator, size: int, repeats: int) -> None:
    kern = get_kernels("c")
    c, a, b = (random_u64(rng, (size, size, 4)) for _ in range(3))
    d, e = random_u64(rng, (size, size)), random_u64(rng, (size, size))
    alpha = int(random_u64(rng, (1,))[0])

    def composed() -> np.ndarray:  # four matmul128 products and elementwise passes, unfused
        e128 = np.stack([e, np.zeros_like(e)], axis=-1)
        bv = kern.add128(b[..., :2], e128)
        bm = kern.add128(b[..., 2:], kern.mul128_64(e128, np.full(e.shape, alpha, dtype=U64)))
        v = kern.add128(c[..., :2], kern.add128(kern.matmul128(d, bv), kern.matmul128(a[..., :2], e)))
        m = kern.add128(c[..., 2:], kern.add128(kern.matmul128(d, bm), kern.matmul128(a[..., 2:], e)))
        return np.concatenate([v, m], axis=-1)

    assert np.array_equal(kern.auth_matmul_combine(c, a, b, d, e, alpha, True), composed())
    cs, as_, bs = c[..., 0].copy(), a[..., 0].copy(), b[..., 0].copy()
    t = time_group({"c": lambda: kern.auth_matmul_combine(c, a, b, d, e, alpha, True), "c-composed": composed,
                    "semi2k": lambda: kern.beaver_matmul_combine(cs, d, e, as_, bs, True)}, repeats)
    (t_c, min_c), (t_l, min_l), (t_s, min_s) = t["c"], t["c-composed"], t["semi2k"]
    threads = os.environ.get("OPENBLAS_NUM_THREADS", "unset")
    common = {"ratio_to": "c-composed", "blas_threads": threads}
    emit("matmul_auth", "c", (size,), t_c, min_seconds=min_c, ratio=t_l / t_c, vs_semi2k=t_c / t_s, **common)
    emit("matmul_auth", "c-composed", (size,), t_l, min_seconds=min_l, ratio=1.0, vs_semi2k=t_l / t_s, **common)
    emit("matmul_auth", "semi2k", (size,), t_s, min_seconds=min_s, ratio=t_l / t_s, **common)


def bench_bauth(rng: np.random.Generator, size: int, repeats: int) -> None:
    """spdz2k's authenticated bit-word kernels (528-byte records, mpc._core._gf2k) on each
    instruction set this CPU has, forced, for ``size`` words: the light AND (what a comparison
    circuit runs; it reads the 64 MACs of two triple records, and c's bits and fold from the
    triple's heads), the full AND, AND and XOR with public words, a comparison's two light leaves
    in one pass (``bauth_and_xor_public_light``), its first tree level from the edaBits' pair
    products (``bauth_lt_pairs_light``: a "word" is a pair's, three records read), and the fold;
    beside NumPy's XOR-reduce of the two records the light AND reads
    (``read-2-records``: about the memory bound of that kernel). ``ns_per_word``
    per line, ``ratio`` the portable path's time over this one's."""
    from mpc._core import _gf2k

    k = get_kernels("c")
    c, a, b = (random_u64(rng, (size, 66)) for _ in range(3))
    d, e = random_u64(rng, (size,)), random_u64(rng, (size,))
    macs = np.ascontiguousarray(a[:, 2:])
    c_heads = np.ascontiguousarray(c[:, :2])  # a light AND reads c's bits and fold from the triple's heads
    pair_r, pair_q, pair_c = np.stack([a, b]), c[None], np.stack([d, e])  # one pair of planes and its products
    kernels = {"bauth_and_light": lambda: k.bauth_and_light(c_heads, a, b, d, e, 12345, True),
               "bauth_and": lambda: k.bauth_and(c, a, b, d, e, 12345, True),
               "bauth_and_public_light": lambda: k.bauth_and_public_light(a, d),
               "bauth_and_xor_public_light": lambda: k.bauth_and_xor_public_light(a, d, 12345, True),
               "bauth_xor_public": lambda: k.bauth_xor_public(a, d, 12345, True),
               "bauth_lt_pairs_light": lambda: k.bauth_lt_pairs_light(pair_r, pair_q, pair_c, 12345, True),
               "gf64_fold": lambda: k.gf64_fold(macs)}
    isas = _gf2k.gf2k_isas()

    def on(isa: str, fn: Callable[[], object]) -> Callable[[], object]:
        def run() -> object:
            _gf2k.set_gf2k_isa(isa)
            return fn()
        return run

    previous = _gf2k.set_gf2k_isa("auto")
    try:
        for op, fn in kernels.items():
            _gf2k.set_gf2k_isa("portable")
            want = fn()
            for isa in isas:  # every path bit for bit the portable one's, before it is timed
                _gf2k.set_gf2k_isa(isa)
                got = fn()  # an array, or a tuple of arrays (the leaves kernel)
                assert all(map(np.array_equal, got, want)) if isinstance(want, tuple) else np.array_equal(got, want)
            fns = {isa: on(isa, fn) for isa in isas}
            if op == "bauth_and_light":
                fns["read-2-records"] = lambda: np.bitwise_xor.reduce(a, axis=None) ^ np.bitwise_xor.reduce(b, axis=None)
            t = time_group(fns, repeats)
            for name, (med, best) in t.items():
                backend = name if name.startswith("read") else f"c-{name}"
                emit(op, backend, (size,), med, min_seconds=best, ns_per_word=med / size * 1e9,
                     ratio=t["portable"][0] / med, ratio_to="c-portable")
    finally:
        _gf2k.set_gf2k_isa(previous)


def bench_ring(rng: np.random.Generator, size: int, repeats: int) -> None:
    a, b = random_u64(rng, (size,)), random_u64(rng, (size,))
    out = np.ones(size, dtype=U64)  # faulted in once, reused by every contender
    try:
        ring = get_kernels("c")
    except Exception as exc:  # the ring extension is another helper's and may not be built yet
        ring = None
        for name in ("add", "mul"):
            emit(name, "c", (size,), None, error=str(exc))
    fns: dict[str, Callable[[], object]] = {"copyto": lambda: np.copyto(out, a)}
    for name, ufunc in (("add", np.add), ("mul", np.multiply)):
        fns[f"numpy-{name}"] = lambda ufunc=ufunc: ufunc(a, b, out=out)
        if ring is not None:
            kernel = getattr(ring, name)
            assert np.array_equal(kernel(a, b, out=out), ufunc(a, b))
            fns[f"c-{name}"] = lambda kernel=kernel: kernel(a, b, out=out)
    t = time_group(fns, repeats)
    t_copy, min_copy = t["copyto"]
    common = {"ratio_to": "numpy-copyto"}
    emit("copyto", "numpy", (size,), t_copy, min_seconds=min_copy, ratio=1.0, **common)
    for name in ("add", "mul"):
        t_np, min_np = t[f"numpy-{name}"]
        emit(name, "numpy-inplace", (size,), t_np, min_seconds=min_np, ratio=t_copy / t_np, **common)
        if f"c-{name}" in t:
            t_c, min_c = t[f"c-{name}"]
            emit(
                name, "c", (size,), t_c, min_seconds=min_c, ratio=t_copy / t_c, vs_numpy=t_np / t_c, **common
            )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer repeats (same sizes)")
    args = parser.parse_args(argv)
    repeats = 3 if args.quick else 9
    rng = np.random.default_rng(2024)  # benchmark data, not secrets
    for size in (128, 256, 512):  # more repeats: the ratio to torch is the figure issue 18 asks for
        bench_matmul(rng, size, 3 if args.quick else 21)
    for size in (128, 256):
        bench_auth_matmul(rng, size, repeats)
    bench_beaver_combine(rng, 10**6, repeats)
    bench_combine_open(rng, 10**6, repeats)
    bench_trunc_finish(rng, 10**6, repeats)
    bench_bauth(rng, 10**5, repeats)
    bench_ring(rng, 10**7, repeats)
    bench_aead(3 if args.quick else 15)


if __name__ == "__main__":
    main()
