"""Compiled matrix-product and Beaver kernels (mpc._core._matmul) against the NumPy reference.

The compiled module is imported directly, never skipped: `make test` builds first, so a missing
extension is a failure. Test data comes from numpy.random with hypothesis-drawn seeds (it is
test data, not secrets); special values (0, 1, 2^32 +- 1, 2^63, 2^64 - 1) are mixed in.
"""

from __future__ import annotations

import platform
import threading

import numpy as np
import pytest
from _kernel_helpers import rejection
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mpc._core import _matmul, _ref, get_kernels
from mpc.errors import KernelError

U64 = np.uint64
SPECIAL = np.array([0, 1, 2, 2**32 - 1, 2**32, 2**32 + 1, 2**63 - 1, 2**63, 2**64 - 2, 2**64 - 1], dtype=U64)
BACKENDS = pytest.mark.parametrize("mod", [_matmul, _ref], ids=["c", "ref"])
# These properties are cheap (the whole file runs in a few seconds), so they run well above the CI
# profile's example count; a larger profile ("thorough") still wins.
HYP = settings(
    max_examples=max(150, settings.default.max_examples),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)

# The blocking of each path (csrc/matmul.c), for the edge cases below. AVX2: register tile MR x NR,
# k-slice KC, column slice NC; when m <= MR the packed block is KC_SHORT x NC_SHORT instead.
MR, NR, KC, NC = 6, 4, 256, 16
KC_SHORT, NC_SHORT = 8, 256 * 16 // 8
# AVX-512: Winograd tile Z_MR x Z_NR (vectors of 8) from Z_WINO_M rows on, k-block Z_KC, column
# block Z_NC; below Z_WINO_M rows a plain tile of up to Z_PR rows, Z_KP rows of B per pass.
Z_MR, Z_NR, Z_KC, Z_NC, Z_WINO_M, Z_PR, Z_KP = 6, 32, 128, 64, 24, 6, 16

# Every instruction set this machine can run, each forced through matmul_with: the portable one
# always, AVX2 and AVX-512 where the CPU has them (matmul_isas() asks the CPU, and
# test_isas_match_the_cpu checks that answer against the kernel's own view on Linux).
ISAS_HERE = _matmul.matmul_isas()
EVERY_ISA = pytest.mark.parametrize("isa", ISAS_HERE)

seeds = st.integers(0, 2**32 - 1)
layouts = st.sampled_from(["c", "transposed", "step", "reversed"])


def rand_u64(rng: np.random.Generator, shape: tuple[int, ...], special: float = 0.2) -> np.ndarray:
    """Uniform uint64 values with a fraction of edge values."""
    x = np.array(rng.integers(0, 2**64, size=shape, dtype=U64), dtype=U64)
    mask = np.asarray(rng.random(shape) < special)
    x[mask] = rng.choice(SPECIAL, size=int(mask.sum()))
    return x


def layout(x: np.ndarray, how: str) -> np.ndarray:
    """The same values as x (2-d or more) in a non-contiguous memory layout."""
    if how == "transposed":
        y = np.ascontiguousarray(np.swapaxes(x, -1, -2))
        out = np.swapaxes(y, -1, -2)
    elif how == "step":
        y = np.zeros((*x.shape[:-1], 2 * x.shape[-1]), dtype=U64)
        y[..., ::2] = x
        out = y[..., ::2]
    elif how == "reversed":
        out = np.ascontiguousarray(x[..., ::-1])[..., ::-1]
    else:
        out = x
    assert np.array_equal(out, x)
    return out


def exact_matmul(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """(m, k) @ (k, n) mod 2^64 with Python integers, independent of NumPy's wrap-around."""
    m, k = a.shape
    n = b.shape[1]
    al, bl = a.tolist(), b.tolist()
    rows = [[sum(al[i][p] * bl[p][j] for p in range(k)) % 2**64 for j in range(n)] for i in range(m)]
    return np.array(rows, dtype=U64).reshape(m, n)


def check_result(got: np.ndarray, want: np.ndarray) -> None:
    assert got.dtype == U64
    assert got.flags.c_contiguous
    assert got.shape == want.shape
    assert np.array_equal(got, want)


# ----------------------------------------------------------------------------- wiring


def test_backend_switch_serves_this_module():
    kernels = get_kernels("c")
    assert kernels.backend == "c"
    for name in ("matmul", "matmul_batched", "beaver_mask", "beaver_combine", "beaver_matmul_combine",
                 "tmul_finish", "tsquare_finish"):
        assert getattr(kernels, name) is getattr(_matmul, name)


# ----------------------------------------------------------------------------- matmul


def test_matmul_known_answer():
    # Computed by hand: row 0, col 0 = (2^64-1)^2 + 2(2^63+5) + 2^63 * odd = 1 + 10 + 2^63;
    # row 0, col 1 = -2^32 + 6 + 2^63 * even. The other two entries from Python integers.
    a = np.array([[2**64 - 1, 2, 2**63], [2**32 + 1, 0xDEADBEEFCAFEBABE, 1]], dtype=U64)
    b = np.array([[2**64 - 1, 2**32], [2**63 + 5, 3], [0x0123456789ABCDEF, 2**64 - 2]], dtype=U64)
    want = np.array(
        [[0x800000000000000B, 0xFFFFFFFF00000006], [0x5A88001580A573A4, 0x9C093CD060FC3038]], dtype=U64
    )
    check_result(_matmul.matmul(a, b), want)
    check_result(_ref.matmul(a, b), want)
    for isa in ISAS_HERE:
        check_result(_matmul.matmul_with(isa, a, b), want)


# ----------------------------------------------------------------------------- instruction sets


def _cpu_flags() -> set[str] | None:
    """The CPU flags Linux reports, or None where there is no /proc/cpuinfo."""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("flags"):
                    return set(line.split(":", 1)[1].split())
    except OSError:
        return None
    return None


def test_isas_match_the_cpu():
    isas = _matmul.matmul_isas()
    assert isas[-1] == "portable"
    assert list(isas) == sorted(isas, key=_matmul.ISAS.index, reverse=True)  # widest first
    assert _matmul.matmul_isa() == isas[0]
    flags = _cpu_flags()
    if flags is not None and platform.machine() == "x86_64":
        assert ("avx2" in isas) == ("avx2" in flags)
        assert ("avx512" in isas) == ({"avx512f", "avx512dq"} <= flags)


@pytest.mark.parametrize("isa", ["sse2", "AVX512", "", None, 3])
def test_matmul_with_rejects_unknown_isa(isa):
    a = np.zeros((2, 2), dtype=U64)
    with pytest.raises(KernelError, match="isa"):
        _matmul.matmul_with(isa, a, a)


def test_matmul_with_rejects_isa_this_cpu_lacks():
    missing = [isa for isa in _matmul.ISAS if isa not in ISAS_HERE]
    a = np.zeros((2, 2), dtype=U64)
    for isa in missing:  # none on an AVX-512 machine; then the loop asserts nothing, by design
        with pytest.raises(KernelError, match="cannot run"):
            _matmul.matmul_with(isa, a, a)


@pytest.mark.parametrize(
    "a, b, c, b2, words",
    [
        (np.zeros((2, 3), dtype=U64), np.zeros((3, 2), dtype=U64), np.zeros((2, 3), dtype=U64), None, "c: expected"),
        (np.zeros((2, 3), dtype=U64), np.zeros((3, 2), dtype=U64), None, np.zeros((2, 3), dtype=U64), "b, b2"),
        (np.zeros((2, 3), dtype=U64), np.zeros((3, 2), dtype=U64), np.zeros((2, 2), dtype=np.int64), None, "dtype"),
        (np.zeros((2, 3), dtype=U64), np.zeros((3, 2), dtype=U64), None, np.zeros((3, 2), dtype=np.float64), "dtype"),
        (np.zeros((2, 3), dtype=U64), np.zeros((2, 3), dtype=U64), None, None, "align"),
    ],
)
def test_matmul_with_rejects_bad_operands(a, b, c, b2, words):
    with pytest.raises(KernelError, match=words):
        _matmul.matmul_with("portable", a, b, c, b2)


# ----------------------------------------------------------------------------- matmul


@EVERY_ISA
@pytest.mark.parametrize(
    "m, k, n", [(0, 0, 0), (0, 3, 4), (3, 0, 4), (3, 4, 0), (0, 0, 5), (5, 0, 0), (1, 1, 1), (20, 0, 3)]
)
def test_matmul_empty_and_tiny(isa, m, k, n):
    rng = np.random.default_rng(m * 100 + k * 10 + n)
    a, b = rand_u64(rng, (m, k)), rand_u64(rng, (k, n))
    got = _matmul.matmul_with(isa, a, b)
    check_result(got, _ref.matmul(a, b))
    check_result(got, exact_matmul(a, b))
    c = rand_u64(rng, (m, n))
    check_result(_matmul.matmul_with(isa, a, b, c, b), _ref.add(c, _ref.matmul(a, _ref.add(b, b))))


@HYP
@given(m=st.integers(1, 70), k=st.integers(1, 70), n=st.integers(1, 70), seed=seeds, la=layouts, lb=layouts)
def test_matmul_matches_reference(m, k, n, seed, la, lb):
    # the automatic choice: Winograd from 24 rows on, the plain tile below (with AVX-512)
    rng = np.random.default_rng(seed)
    a, b = rand_u64(rng, (m, k)), rand_u64(rng, (k, n))
    check_result(_matmul.matmul(layout(a, la), layout(b, lb)), _ref.matmul(a, b))


@EVERY_ISA
@HYP
@given(m=st.integers(1, 70), k=st.integers(1, 70), n=st.integers(1, 70), seed=seeds, la=layouts, lb=layouts)
def test_matmul_on_each_isa_matches_reference(isa, m, k, n, seed, la, lb):
    rng = np.random.default_rng(seed)
    a, b = rand_u64(rng, (m, k)), rand_u64(rng, (k, n))
    check_result(_matmul.matmul_with(isa, layout(a, la), layout(b, lb)), _ref.matmul(a, b))


@EVERY_ISA
@HYP
@given(m=st.integers(1, 40), k=st.integers(1, 40), n=st.integers(1, 40), seed=seeds, with_b2=st.booleans())
def test_matmul_accumulate_on_each_isa_matches_reference(isa, m, k, n, seed, with_b2):
    # c + a @ (b + b2): the form the Beaver matrix combine runs (b2 summed while packing)
    rng = np.random.default_rng(seed)
    a, b, c = rand_u64(rng, (m, k)), rand_u64(rng, (k, n)), rand_u64(rng, (m, n))
    b2 = rand_u64(rng, (k, n)) if with_b2 else None
    want = _ref.add(c, _ref.matmul(a, b if b2 is None else _ref.add(b, b2)))
    check_result(_matmul.matmul_with(isa, a, b, c, b2), want)


@EVERY_ISA
@HYP
@given(m=st.integers(1, 9), k=st.integers(1, 9), n=st.integers(1, 9), seed=seeds)
def test_matmul_matches_python_integers(isa, m, k, n, seed):
    rng = np.random.default_rng(seed)
    a, b = rand_u64(rng, (m, k), 0.5), rand_u64(rng, (k, n), 0.5)
    check_result(_matmul.matmul_with(isa, a, b), exact_matmul(a, b))


@EVERY_ISA
@HYP
@given(
    m=st.integers(Z_WINO_M, Z_WINO_M + 2 * Z_MR),
    k=st.integers(1, 12),
    n=st.integers(1, 12),
    seed=seeds,
)
def test_matmul_winograd_rows_match_python_integers(isa, m, k, n, seed):
    # enough rows for the Winograd tile, with half the entries edge values: the correction sums
    # xi and eta wrap around, and an odd k has a zero partner
    rng = np.random.default_rng(seed)
    a, b = rand_u64(rng, (m, k), 0.5), rand_u64(rng, (k, n), 0.5)
    check_result(_matmul.matmul_with(isa, a, b), exact_matmul(a, b))


BLOCK_EDGES = [
    # AVX2
    (MR - 1, KC - 1, NR - 1),
    (MR, KC, NR),
    (MR + 1, KC + 1, NR + 1),
    (2 * MR + 1, 2 * KC + 3, NC + 1),
    (3 * MR - 1, KC + 7, 2 * NC + NR - 1),
    (4 * MR, 3 * KC, 3 * NC),
    (1, 2 * KC + 1, 2 * NC + 3),
    (2 * MR + 5, 1, 1),
    (37, 600, 70),
    (1, KC_SHORT - 1, NC_SHORT + 1),
    (1, 2 * KC_SHORT + 1, 2 * NC_SHORT + 3),
    (MR, KC_SHORT, NC_SHORT),
    (MR - 1, 3 * KC_SHORT + 5, NC_SHORT - 1),
    (2, 300, 2),
    # AVX-512, Winograd: rows around the switch and the tile, k around the block (odd: a zero
    # partner), columns around a vector, a micro-panel and the column block
    (Z_WINO_M, 1, 1),
    (Z_WINO_M, 2, 8),
    (Z_WINO_M + 1, Z_KC, Z_NR),
    (Z_WINO_M + Z_MR - 1, Z_KC - 1, Z_NR - 1),
    (2 * Z_WINO_M + 1, Z_KC + 1, Z_NR + 1),
    (3 * Z_MR, 2 * Z_KC + 3, Z_NC + 9),
    (Z_WINO_M + 3, 3 * Z_KC, 2 * Z_NC - 1),
    (64, 64, 64),
    (50, 129, 7),
    (Z_WINO_M, 5, 2 * Z_NC + 17),
    # AVX-512, plain tile: rows below the switch, k around its pass, every lane count
    (Z_WINO_M - 1, Z_KP + 1, Z_NR + 1),
    (Z_PR, Z_KP, Z_NR),
    (Z_PR + 1, Z_KP - 1, 9),
    (1, 3 * Z_KP + 5, 3 * Z_NR - 1),
    (3, 7, 5),
    (2, 33, 15),
]


@EVERY_ISA
@pytest.mark.parametrize("m, k, n", BLOCK_EDGES)
def test_matmul_block_edges(isa, m, k, n):
    rng = np.random.default_rng(m * 1_000_000 + k * 1000 + n)
    a, b = rand_u64(rng, (m, k)), rand_u64(rng, (k, n))
    want = _ref.matmul(a, b)
    check_result(_matmul.matmul_with(isa, a, b), want)
    c, b2 = rand_u64(rng, (m, n)), rand_u64(rng, (k, n))
    check_result(_matmul.matmul_with(isa, a, b, c, b2), _ref.add(c, _ref.matmul(a, _ref.add(b, b2))))


@EVERY_ISA
@pytest.mark.parametrize("m", [MR + 1, Z_WINO_M + 1])
def test_matmul_all_ones_wraps(isa, m):
    # Every product is (2^64-1)^2 = 1 mod 2^64, so each entry is k mod 2^64: stresses the 64-bit
    # low-product and 32-bit cross accumulators (AVX2) and the Winograd sums, each pair
    # (-2)(-2) = 4 less the corrections xi = eta = 1 per pair, wrapping many times.
    k = 3 * KC + 5
    a = np.full((m, k), 2**64 - 1, dtype=U64)
    b = np.full((k, NR + 3), 2**64 - 1, dtype=U64)
    check_result(_matmul.matmul_with(isa, a, b), np.full((m, NR + 3), k, dtype=U64))
    a[:] = 2**32 + 2**31 + 7  # cross term k * 2 * (2^31+7) * 1 overflows 32 bits
    b[:] = 2**63 + 2**32 + 3
    check_result(_matmul.matmul_with(isa, a, b), _ref.matmul(a, b))


def test_matmul_readonly_inputs_and_fresh_output():
    rng = np.random.default_rng(7)
    a, b = rand_u64(rng, (9, 11)), rand_u64(rng, (11, 5))
    a.flags.writeable = False
    b.flags.writeable = False
    got = _matmul.matmul(a, b)
    assert got.flags.owndata and got.flags.writeable
    check_result(got, _ref.matmul(a, b))
    c = rand_u64(rng, (9, 5))
    c.flags.writeable = False
    got = _matmul.matmul_with("portable", a, b, c)
    assert got.flags.owndata and got is not c
    check_result(got, _ref.add(c, _ref.matmul(a, b)))


def test_matmul_runs_in_threads():
    rng = np.random.default_rng(11)
    pairs = [(rand_u64(rng, (60, 300)), rand_u64(rng, (300, 40))) for _ in range(4)]
    results: list[np.ndarray | None] = [None] * len(pairs)

    def work(i):
        results[i] = _matmul.matmul(*pairs[i])

    threads = [threading.Thread(target=work, args=(i,)) for i in range(len(pairs))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for (a, b), got in zip(pairs, results, strict=True):
        check_result(got, _ref.matmul(a, b))


@HYP
@given(
    batch=st.integers(0, 4),
    m=st.integers(0, 20),
    k=st.integers(0, 40),
    n=st.integers(0, 13),
    seed=seeds,
    la=layouts,
    lb=layouts,
    isa=st.sampled_from(("auto", *ISAS_HERE)),
)
def test_matmul_batched_matches_reference(batch, m, k, n, seed, la, lb, isa):
    rng = np.random.default_rng(seed)
    a, b = rand_u64(rng, (batch, m, k)), rand_u64(rng, (batch, k, n))
    if a.size and b.size:
        a, b = layout(a, la), layout(b, lb)
    got = _matmul.matmul_batched(a, b) if isa == "auto" else _matmul.matmul_with(isa, a, b)
    check_result(got, _ref.matmul_batched(a, b))


@EVERY_ISA
def test_matmul_batched_block_edges(isa):
    rng = np.random.default_rng(3)
    for m, k, n in ((MR + 1, KC + 1, NC + 1), (Z_WINO_M + 1, Z_KC + 1, Z_NR + 1)):
        a, b = rand_u64(rng, (3, m, k)), rand_u64(rng, (3, k, n))
        got = _matmul.matmul_with(isa, a, b)
        check_result(got, _ref.matmul_batched(a, b))
        for i in range(3):
            check_result(got[i], _matmul.matmul(a[i], b[i]))
        c, b2 = rand_u64(rng, (3, m, n)), rand_u64(rng, (3, k, n))
        check_result(_matmul.matmul_with(isa, a, b, c, b2), _ref.add(c, _ref.matmul_batched(a, _ref.add(b, b2))))


# ----------------------------------------------------------------------------- rejected inputs

BAD_MATMUL = [
    (np.zeros((2, 3), dtype=np.int64), np.zeros((3, 2), dtype=U64), "dtype"),
    (np.zeros((2, 3), dtype=U64), np.zeros((3, 2), dtype=np.float64), "dtype"),
    (np.zeros((2, 3), dtype=np.uint32), np.zeros((3, 2), dtype=U64), "dtype"),
    (np.zeros((2, 3), dtype=np.dtype(">u8")), np.zeros((3, 2), dtype=U64), "dtype"),
    ([[1, 2]], np.zeros((2, 1), dtype=U64), "numpy"),
    (np.zeros((2, 3), dtype=U64), np.zeros((4, 2), dtype=U64), "align"),
    (np.zeros(3, dtype=U64), np.zeros((3, 2), dtype=U64), "2-d"),
    (np.zeros((1, 2, 3), dtype=U64), np.zeros((1, 3, 2), dtype=U64), "2-d"),
]


@BACKENDS
@pytest.mark.parametrize("a, b, words", BAD_MATMUL)
def test_matmul_rejects(mod, a, b, words):
    with pytest.raises(KernelError, match=words):
        mod.matmul(a, b)


@pytest.mark.parametrize(
    "a, b",
    [
        (np.zeros((2, 2, 3), dtype=U64), np.zeros((3, 3, 2), dtype=U64)),
        (np.zeros((2, 2, 3), dtype=U64), np.zeros((2, 4, 2), dtype=U64)),
        (np.zeros((2, 3), dtype=U64), np.zeros((3, 2), dtype=U64)),
        (np.zeros((2, 2, 3), dtype=np.int64), np.zeros((2, 3, 2), dtype=U64)),
    ],
)
def test_matmul_batched_rejects_same_as_reference(a, b):
    assert rejection(_matmul.matmul_batched, a, b) == rejection(_ref.matmul_batched, a, b)


def _beaver_bad_cases():
    z23, z32, z22 = (np.zeros(s, dtype=U64) for s in ((2, 3), (3, 2), (2, 2)))
    return [
        ("beaver_mask", (z23, z23, z32, np.zeros((3, 3), dtype=U64))),
        ("beaver_mask", (z23, z32, z32, z32)),
        ("beaver_mask", (z23.astype(np.int64), z23, z32, z32)),
        ("beaver_combine", (z23, z23, z23, z23, z32, True)),
        ("beaver_combine", (z23, z23, z23, z23, z23.astype(np.float64), False)),
        ("beaver_combine", (z23, z23, [0, 0], z23, z23, False)),
        ("beaver_combine", (z23, z23, z23, z23, z23, True, z23, None)),  # one rest part only
        ("beaver_combine", (z23, z23, z23, z23, z23, True, None, z23)),
        ("beaver_combine", (z23, z23, z23, z23, z23, False, z23, z32)),  # e2 wrong shape
        ("beaver_combine", (z23, z23, z23, z23, z23, False, z32, z23)),  # d2 wrong shape
        ("beaver_combine", (z23, z23, z23, z23, z23, True, z23.astype(np.int64), z23)),
        ("beaver_combine", (z23, z23, z23, z23, z23, True, z23, z23.astype(np.uint32))),
        ("beaver_combine", (z23, z23, z23, z23, z23, True, [[0] * 3] * 2, z23)),
        ("beaver_matmul_combine", (z23, z22, z32, z22, z32, True)),  # c wrong shape
        ("beaver_matmul_combine", (z22, z23, z32, z22, z32, False)),  # d, a differ
        ("beaver_matmul_combine", (z22, z23, z23, z23, z23, False)),  # d, e do not align
        ("beaver_matmul_combine", (z22, z23, z32, z23, z32.astype(np.uint32), False)),
    ]


@pytest.mark.parametrize("name, args", _beaver_bad_cases())
def test_beaver_rejects_same_as_reference(name, args):
    assert rejection(getattr(_matmul, name), *args) == rejection(getattr(_ref, name), *args)


# ----------------------------------------------------------------------------- Beaver kernels

shapes = st.sampled_from([(0,), (1,), (3,), (4,), (5,), (17,), (64,), (1001,), (3, 5), (2, 0), (4, 4, 3), ()])


@HYP
@given(sx=shapes, sy=shapes, seed=seeds, la=layouts)
def test_beaver_mask_matches_reference(sx, sy, seed, la):
    rng = np.random.default_rng(seed)
    x, a, y, b = rand_u64(rng, sx), rand_u64(rng, sx), rand_u64(rng, sy), rand_u64(rng, sy)
    if x.ndim >= 2 and x.size:
        x = layout(x, la)
    d, e = _matmul.beaver_mask(x, a, y, b)
    wd, we = _ref.beaver_mask(x, a, y, b)
    check_result(d, wd)
    check_result(e, we)


# 0-d operands make the reference compute on NumPy scalars, which warn on (intended) wrap-around.
@HYP
@given(shape=shapes, seed=seeds, first=st.booleans(), la=layouts)
def test_beaver_combine_matches_reference(shape, seed, first, la):
    rng = np.random.default_rng(seed)
    c, d, e, a, b = (rand_u64(rng, shape) for _ in range(5))
    if len(shape) >= 2 and c.size:
        d, a = layout(d, la), layout(a, la)
    check_result(_matmul.beaver_combine(c, d, e, a, b, first), _ref.beaver_combine(c, d, e, a, b, first))


@pytest.mark.parametrize("first", [True, False, 1, 0])
def test_beaver_combine_special_values(first):
    # every (d, e, a, b) combination of edge values, at a length that also exercises the tail
    g = np.array(np.meshgrid(SPECIAL, SPECIAL, SPECIAL, SPECIAL, indexing="ij")).reshape(4, -1)
    d, e, a, b = (np.ascontiguousarray(v) for v in g)
    c = np.roll(d, 3)
    got = _matmul.beaver_combine(c, d, e, a, b, first)
    check_result(got, _ref.beaver_combine(c, d, e, a, b, first))
    want = [
        (ci + di * bi + ei * ai + (di * ei if first else 0)) % 2**64
        for ci, di, ei, ai, bi in zip(*(v.tolist() for v in (c, d, e, a, b)), strict=True)
    ]
    assert got.tolist() == want


@pytest.mark.parametrize("first", [True, False])
def test_beaver_combine_large_streaming_path(first):
    # from 2^19 elements the C kernel switches to aligned non-temporal stores (prologue + tail)
    rng = np.random.default_rng(17)
    n = (1 << 19) + 7
    c, d, e, a, b = (rand_u64(rng, (n,), 0.01) for _ in range(5))
    check_result(_matmul.beaver_combine(c, d, e, a, b, first), _ref.beaver_combine(c, d, e, a, b, first))
    # an odd offset for the inputs, so loads and the output alignment differ
    args = [v[1:] for v in (c, d, e, a, b)]
    check_result(_matmul.beaver_combine(*args, first), _ref.beaver_combine(*args, first))


# the AVX2 loop does 4 lanes at a time: every tail length, and short inputs with no full lane
tail_shapes = st.one_of(shapes, st.integers(0, 40).map(lambda n: (n,)))


@HYP
@given(shape=tail_shapes, seed=seeds, first=st.booleans(), la=layouts, lb=layouts)
def test_beaver_combine_rest_parts_match_reference(shape, seed, first, la, lb):
    # the opened masks in two parts (own masked values + the peers' sum), as Semi2k.mul passes them
    rng = np.random.default_rng(seed)
    c, d, e, a, b, d2, e2 = (rand_u64(rng, shape) for _ in range(7))
    if len(shape) >= 2 and c.size:
        d2, e = layout(d2, la), layout(e, lb)
    got = _matmul.beaver_combine(c, d, e, a, b, first, d2, e2)
    check_result(got, _ref.beaver_combine(c, d, e, a, b, first, d2, e2))
    # ... which is the one-part combine of the sums, the first party's d*e included
    check_result(got, _ref.beaver_combine(c, _ref.add(d, d2), _ref.add(e, e2), a, b, first))
    check_result(_matmul.beaver_combine(c, d, e, a, b, first, None, None), _ref.beaver_combine(c, d, e, a, b, first))


@pytest.mark.parametrize("first", [True, False])
@pytest.mark.parametrize("n", [(1 << 19) - 5, 1 << 19, (1 << 19) + 3])
def test_beaver_combine_rest_parts_streaming_path(first, n):
    # both sides of the streaming threshold, with inputs at odd offsets (misaligned loads, and an
    # output whose alignment prologue differs) and a strided rest part (copied by the checks)
    rng = np.random.default_rng(n)
    c, d, e, a, b, d2 = (rand_u64(rng, (n + 1,), 0.01) for _ in range(6))
    e2 = np.zeros(2 * (n + 1), dtype=U64)
    e2[::2] = rand_u64(rng, (n + 1,), 0.01)
    args = [v[1:] for v in (c, d, e, a, b)]
    rest = [d2[1:], e2[2::2]]
    want = _ref.beaver_combine(*args, first, *rest)
    check_result(_matmul.beaver_combine(*args, first, *rest), want)
    check_result(want, _ref.beaver_combine(args[0], args[1] + rest[0], args[2] + rest[1], *args[3:], first))


@HYP
@given(
    m=st.integers(0, 20),
    k=st.integers(0, 40),
    n=st.integers(0, 20),
    seed=seeds,
    first=st.booleans(),
    la=layouts,
    lb=layouts,
)
def test_beaver_matmul_combine_matches_reference(m, k, n, seed, first, la, lb):
    rng = np.random.default_rng(seed)
    c = rand_u64(rng, (m, n))
    d, a = rand_u64(rng, (m, k)), rand_u64(rng, (m, k))
    e, b = rand_u64(rng, (k, n)), rand_u64(rng, (k, n))
    if d.size and e.size:
        d, e = layout(d, la), layout(e, lb)
    got = _matmul.beaver_matmul_combine(c, d, e, a, b, first)
    check_result(got, _ref.beaver_matmul_combine(c, d, e, a, b, first))


@pytest.mark.parametrize("first", [True, False])
@pytest.mark.parametrize("m, k, n", [(2 * MR + 1, KC + 9, NC + NR + 1), (Z_WINO_M + 1, Z_KC + 9, Z_NR + 3)])
def test_beaver_matmul_combine_block_edges(first, m, k, n):
    rng = np.random.default_rng(5)
    c = rand_u64(rng, (m, n))
    d, a = rand_u64(rng, (m, k)), rand_u64(rng, (m, k))
    e, b = rand_u64(rng, (k, n)), rand_u64(rng, (k, n))
    got = _matmul.beaver_matmul_combine(c, d, e, a, b, first)
    check_result(got, _ref.beaver_matmul_combine(c, d, e, a, b, first))


# ----------------------------------------------------------------------------- reconstruction


def split(rng: np.random.Generator, x: np.ndarray, parties: int) -> list[np.ndarray]:
    """Additive shares of x mod 2^64."""
    shares = [rand_u64(rng, x.shape) for _ in range(parties - 1)]
    last = x.copy()
    for s in shares:
        last -= s
    return [*shares, last]


def total(shares: list[np.ndarray]) -> np.ndarray:
    out = np.zeros_like(shares[0])
    for s in shares:
        out += s
    return out


@HYP
@given(parties=st.sampled_from([2, 3]), size=st.integers(0, 300), seed=seeds)
def test_beaver_combine_reconstructs_product(parties, size, seed):
    rng = np.random.default_rng(seed)
    x, y, a, b = (rand_u64(rng, (size,)) for _ in range(4))
    xs, ys, as_, bs, cs = (split(rng, v, parties) for v in (x, y, a, b, a * b))
    opened = [_matmul.beaver_mask(xs[i], as_[i], ys[i], bs[i]) for i in range(parties)]
    d = total([o[0] for o in opened])
    e = total([o[1] for o in opened])
    z = [_matmul.beaver_combine(cs[i], d, e, as_[i], bs[i], i == 0) for i in range(parties)]
    assert np.array_equal(total(z), x * y)


@HYP
@given(parties=st.sampled_from([2, 3, 4]), size=st.integers(0, 300), seed=seeds)
def test_beaver_combine_rest_parts_reconstruct_product(parties, size, seed):
    # the engine's form: each party passes its own masked values and the sum of the others'
    rng = np.random.default_rng(seed)
    x, y, a, b = (rand_u64(rng, (size,)) for _ in range(4))
    xs, ys, as_, bs, cs = (split(rng, v, parties) for v in (x, y, a, b, a * b))
    opened = [_matmul.beaver_mask(xs[i], as_[i], ys[i], bs[i]) for i in range(parties)]
    z = []
    for i in range(parties):
        d2 = total([o[0] for j, o in enumerate(opened) if j != i])
        e2 = total([o[1] for j, o in enumerate(opened) if j != i])
        z.append(_matmul.beaver_combine(cs[i], opened[i][0], opened[i][1], as_[i], bs[i], i == 0, d2, e2))
    assert np.array_equal(total(z), x * y)


@HYP
@given(
    parties=st.sampled_from([2, 3]),
    m=st.integers(1, 12),
    k=st.integers(1, 30),
    n=st.integers(1, 12),
    seed=seeds,
)
def test_beaver_matmul_combine_reconstructs_product(parties, m, k, n, seed):
    rng = np.random.default_rng(seed)
    x, a = rand_u64(rng, (m, k)), rand_u64(rng, (m, k))
    y, b = rand_u64(rng, (k, n)), rand_u64(rng, (k, n))
    xs, ys, as_, bs, cs = (split(rng, v, parties) for v in (x, y, a, b, _ref.matmul(a, b)))
    opened = [_matmul.beaver_mask(xs[i], as_[i], ys[i], bs[i]) for i in range(parties)]
    d = total([o[0] for o in opened])
    e = total([o[1] for o in opened])
    z = [_matmul.beaver_matmul_combine(cs[i], d, e, as_[i], bs[i], i == 0) for i in range(parties)]
    assert np.array_equal(total(z), exact_matmul(x, y))


# ----------------------------------------------------------------------------- truncating product / square finish


def _tmul_args(rng, shape, k1, k2, rest):
    """Random tmul_finish arguments: the optional components present exactly when the contract
    asks for them."""
    c1, c2, a1, m1, a2, a1a2, m1a2 = (rand_u64(rng, shape) for _ in range(7))
    m2 = a1m2 = m1m2 = None
    if k2:
        m2, a1m2 = rand_u64(rng, shape), rand_u64(rng, shape)
        if k1 + k2 > 64:
            m1m2 = rand_u64(rng, shape)
    rests = (rand_u64(rng, shape), rand_u64(rng, shape)) if rest else (None, None)
    return (c1, c2, a1, m1, a2, m2, a1a2, m1a2, a1m2, m1m2), rests


def _tmul_ints(args, rests, k1, k2, first):
    """The tmul_finish contract in Python integers (mpc/beaver.h)."""
    M = 2**64
    c1, c2, a1, m1, a2, m2, a1a2, m1a2, a1m2, m1m2 = (None if a is None else a.reshape(-1).tolist() for a in args)
    r1, r2 = (None if r is None else r.reshape(-1).tolist() for r in rests)
    out = []
    for i in range(len(c1)):
        C1 = (c1[i] + (r1[i] if r1 else 0)) % M
        C2 = (c2[i] + (r2[i] if r2 else 0)) % M
        P1, T1 = (C1 >> k1) - 2 ** (62 - k1), (1 - (C1 >> 63)) * 2 ** (64 - k1)
        L1 = a1[i] - T1 * m1[i]
        z = a1a2[i] - T1 * m1a2[i]
        if k2:
            P2, T2 = (C2 >> k2) - 2 ** (62 - k2), (1 - (C2 >> 63)) * 2 ** (64 - k2)
            L2 = a2[i] - T2 * m2[i]
            z -= T2 * a1m2[i]
            if m1m2 is not None:
                z += T1 * T2 * m1m2[i]
        else:
            P2, L2 = C2, a2[i]
        z -= P1 * L2 + P2 * L1
        if first:
            z += P1 * P2
        out.append(z % M)
    return out


@HYP
@given(shape=shapes, seed=seeds, k1=st.integers(1, 62), k2=st.integers(0, 62), first=st.booleans(),
       rest=st.booleans())
def test_tmul_finish_matches_reference_and_python_ints(shape, seed, k1, k2, first, rest):
    rng = np.random.default_rng(seed)
    args, rests = _tmul_args(rng, shape, k1, k2, rest)
    got = _matmul.tmul_finish(*args, k1, k2, first, *rests)
    check_result(got, _ref.tmul_finish(*args, k1, k2, first, *rests))
    if got.size <= 64:
        assert got.reshape(-1).tolist() == _tmul_ints(args, rests, k1, k2, first)


@HYP
@given(shape=shapes, seed=seeds, k=st.integers(1, 62), first=st.booleans(), rest=st.booleans())
def test_tsquare_finish_matches_reference_and_python_ints(shape, seed, k, first, rest):
    rng = np.random.default_rng(seed)
    c, a, m, aa, am = (rand_u64(rng, shape) for _ in range(5))
    cr = rand_u64(rng, shape) if rest else None
    got = _matmul.tsquare_finish(c, a, m, aa, am, k, first, cr)
    check_result(got, _ref.tsquare_finish(c, a, m, aa, am, k, first, cr))
    if got.size <= 64:
        M = 2**64
        want = []
        for ci, ai, mi, aai, ami, cri in zip(*(v.reshape(-1).tolist() for v in (c, a, m, aa, am)),
                                              (cr.reshape(-1).tolist() if rest else [0] * c.size), strict=True):
            C = (ci + cri) % M
            P, T = (C >> k) - 2 ** (62 - k), (1 - (C >> 63)) * 2 ** (64 - k)
            z = aai - 2 * T * ami - 2 * P * (ai - T * mi) + T * T * mi + (P * P if first else 0)
            want.append(z % M)
        assert got.reshape(-1).tolist() == want


def _tfinish_bad_cases():
    z, z3 = np.zeros(4, dtype=U64), np.zeros(3, dtype=U64)
    seven = (z, z, z, z, z, None, z, z, None, None)  # k2 = 0: no m2, a1m2, m1m2
    return [
        ("tmul_finish", (*seven, 0, 0, True)),  # k1 must be >= 1
        ("tmul_finish", (*seven, 63, 0, True)),
        ("tmul_finish", (*seven, 16, 63, True)),
        ("tmul_finish", (*seven, 16, 16, True)),  # k2 > 0 needs m2 and a1m2
        ("tmul_finish", (z, z, z, z, z, z, z, z, z, None, 16, 0, True)),  # k2 = 0 takes no m2
        ("tmul_finish", (z, z, z, z, z, z, z, z, z, None, 40, 30, True)),  # k1 + k2 > 64 needs m1m2
        ("tmul_finish", (z, z, z, z, z, z, z, z, z, z, 16, 16, True)),  # ... and only then
        ("tmul_finish", (*seven, 16, 0, True, z, None)),  # one rest part only
        ("tmul_finish", (z3, z, z, z, z, None, z, z, None, None, 16, 0, False)),  # shapes differ
        ("tmul_finish", (z.astype(np.int64), z, z, z, z, None, z, z, None, None, 16, 0, False)),
        ("tsquare_finish", (z, z, z, z, z, 0, True)),
        ("tsquare_finish", (z, z, z, z, z3, 16, True)),
        ("tsquare_finish", (z, z, z, z, z, 16, True, z3)),
    ]


@pytest.mark.parametrize("name, args", _tfinish_bad_cases())
def test_truncating_finish_rejects_same_as_reference(name, args):
    assert rejection(getattr(_matmul, name), *args) == rejection(getattr(_ref, name), *args)
