/* uint64 matrix products mod 2^64; see mpc/matmul.h for the contract.
 *
 * Three code paths, chosen per call from what the CPU has (mpc_matmul_isa_best), all giving the
 * same bits, each compiled for its own instruction set by a per-function target attribute
 * (mpc/compiler.h), so the build needs no -mavx512 and the extension runs on any x86-64 CPU:
 *
 * AVX-512 (F + DQ). vpmullq gives the low 64 bits of eight 64x64 products at once.
 * - From Z_WINO_M rows on, Winograd's inner-product algorithm (S. Winograd, "A new algorithm for
 *   inner product", IEEE Trans. Computers C-17(7), 1968) halves the multiplies. In any
 *   commutative ring, so exactly in Z_2^64 with wrap-around,
 *       sum_j (a[2j] + b[2j+1]) * (a[2j+1] + b[2j])
 *         = sum_p a[p] b[p] + sum_j a[2j] a[2j+1] + sum_j b[2j] b[2j+1],
 *   and the two correction sums depend on the row of A only (xi) or the column of B only (eta),
 *   so they cost O(mk + kn) against the mkn/2 products of the main loop. Per pair of k and 8
 *   columns that is 2 adds, 1 multiply and 1 accumulate, against 2 multiplies and 2 accumulates:
 *   on Zen 4 about 0.3 ns per 8 multiply-adds against 0.4 (vpmullq zmm issues once a cycle and
 *   shares the vector pipes with the adds). An odd k gets a zero partner, which changes nothing.
 *   Blocking (GotoBLAS-style, single-threaded): for each NC-column and KC-deep block, B (+ B2) is
 *   packed into NR-column micro-panels of row pairs, with eta; each MR-row strip of A is packed
 *   transposed (8 x 8 register transposes), with xi; then the MR x NR register tile (6 x 32: 24
 *   zmm accumulators) runs over every micro-panel. Edges are zero-padded in the packed buffers
 *   and written back with masked stores; a narrow last panel runs a tile of fewer vectors.
 * - Below Z_WINO_M rows the packed B block and its correction sums serve too few row strips to
 *   pay for themselves (measured: m x 512 x 512 and 32 x 288 x 4608 are faster plain up to
 *   m = 20): a plain tile (up to 6 x 32, one vpmullq + vpaddq per 8 products) reads A and B in
 *   place, KP rows of B at a time, so the B chunk stays in L1 across the row strips and B is read
 *   from memory once, in long row runs. A vector-matrix product (m = 1, as in mpc.functions)
 *   streams B once.
 *
 * AVX2. No 64-bit multiply. With x = xh*2^32 + xl and y = yh*2^32 + yl the low 64 bits of x*y are
 *     xl*yl + ((xl*yh + xh*yl) mod 2^32) * 2^32,
 * and both parts stay exact when summed over k with wrap-around: the xl*yl products are summed
 * in 64-bit lanes (vpmuludq), the cross products in 32-bit lanes (vpmulld), and only at the end
 * of the k-loop are the two 32-bit cross sums of each lane added and shifted into place: two
 * multiplies per 4 multiply-adds. vpmulld multiplies 32-bit lanes pairwise, so to get xl*yh and
 * xh*yl in one instruction B is packed twice, as (yl, yh) and with its halves swapped, and A is
 * broadcast unchanged. Blocking as above (register tile 6 x 4, A read in place); row edges use
 * the tile instantiated for fewer rows, column edges go through a small tile buffer.
 *
 * Portable. One 64-bit multiply per product in an i-p-j loop, built for the target's baseline.
 */
#include "mpc/matmul.h"
#include "mpc/compiler.h"

#include <string.h>

#if MPC_X86_DISPATCH
#if defined(__GNUC__) && !defined(__clang__)
/* This file's baseline is x86-64 whatever -march the build uses (-march=native by default), and
 * the intrinsics headers included next are then defined for their own instruction sets only: the
 * AVX2 path contains no AVX-512 and the portable path no AVX, exactly as they run on CPUs without
 * those, and only MPC_TARGET_AVX512 functions use AVX-512. (Clang has no such pragma; there the
 * narrower paths may use what -march allows, which changes their encoding, not their results.) */
#pragma GCC target("arch=x86-64")
#endif
#include <immintrin.h>
#endif

/* ----------------------------------------------------------------------------- portable */

static void acc_portable(uint64_t *c, const uint64_t *a, const uint64_t *b, const uint64_t *b2,
                         size_t m, size_t k, size_t n)
{
    /* i-p-j order: the inner loop streams one row of B and one row of C. */
    for (size_t i = 0; i < m; i++) {
        uint64_t *restrict ci = c + i * n;
        for (size_t p = 0; p < k; p++) {
            const uint64_t aip = a[i * k + p];
            const uint64_t *restrict bp = b + p * n;
            if (b2) {
                const uint64_t *restrict b2p = b2 + p * n;
                for (size_t j = 0; j < n; j++)
                    ci[j] += aip * (bp[j] + b2p[j]);
            } else {
                for (size_t j = 0; j < n; j++)
                    ci[j] += aip * bp[j];
            }
        }
    }
}

#if MPC_X86_DISPATCH

/* ----------------------------------------------------------------------------- AVX2 */

enum {
    Y_MR = 6,   /* rows per register tile: 6 rows x 2 accumulators + B pair + broadcast + temp = 16 ymm */
    Y_NR = 4,   /* columns per register tile: one ymm of uint64 */
    Y_KC = 256, /* k-slice: an A strip (MR x KC) is 12 KiB, stays in L1 across the micro-panels */
    Y_NC = 16,  /* column slice: packed B is KC x NC x 2 words = 64 KiB (stack), lives in L2 */
    Y_KC_SHORT = 8, /* k-slice when m <= MR: see acc_avx2 */
};

/* Pack B[0:kc, 0:nc] (+ B2) into micro-panels of NR columns: for each p, NR words as they are and
 * NR words with their 32-bit halves swapped. Columns past nc are zero, so edge tiles need no
 * special kernel. */
MPC_TARGET_AVX2
static void y_pack_b(uint64_t *restrict bp, const uint64_t *restrict b, const uint64_t *restrict b2,
                     size_t ldb, size_t kc, size_t nc)
{
    for (size_t jr = 0; jr < nc; jr += Y_NR) {
        size_t nr = nc - jr < Y_NR ? nc - jr : Y_NR;
        for (size_t p = 0; p < kc; p++) {
            const uint64_t *src = b + p * ldb + jr;
            __m256i v;
            if (nr == Y_NR) {
                v = _mm256_loadu_si256((const __m256i *)src);
                if (b2)
                    v = _mm256_add_epi64(v, _mm256_loadu_si256((const __m256i *)(b2 + p * ldb + jr)));
            } else {
                uint64_t t[Y_NR] = {0};
                for (size_t j = 0; j < nr; j++)
                    t[j] = src[j] + (b2 ? b2[p * ldb + jr + j] : 0);
                v = _mm256_loadu_si256((const __m256i *)t);
            }
            _mm256_store_si256((__m256i *)bp, v);
            _mm256_store_si256((__m256i *)(bp + Y_NR), _mm256_shuffle_epi32(v, 0xB1));
            bp += 2 * Y_NR;
        }
    }
}

/* c[0:mr, 0:NR] += A[0:mr, 0:kc] @ packed micro-panel, A row r at a + r*lda. mr is a constant
 * in every instantiation below, so the row guards vanish and a short strip (m % MR, or m < MR
 * as in a vector-matrix product) costs mr/MR of a full one instead of a full one. */
MPC_TARGET_AVX2
static MPC_ALWAYS_INLINE void y_tile(const int mr, uint64_t *restrict c, size_t ldc,
                                     const uint64_t *restrict a, size_t lda,
                                     const uint64_t *restrict bp, size_t kc)
{
    const uint64_t *a0 = a;
    const uint64_t *a1 = mr > 1 ? a + lda : a, *a2 = mr > 2 ? a + 2 * lda : a;
    const uint64_t *a3 = mr > 3 ? a + 3 * lda : a, *a4 = mr > 4 ? a + 4 * lda : a;
    const uint64_t *a5 = mr > 5 ? a + 5 * lda : a;
    __m256i l0 = _mm256_setzero_si256(), l1 = l0, l2 = l0, l3 = l0, l4 = l0, l5 = l0;
    __m256i x0 = l0, x1 = l0, x2 = l0, x3 = l0, x4 = l0, x5 = l0;

    for (size_t p = 0; p < kc; p++) {
        const __m256i bv = _mm256_load_si256((const __m256i *)bp);
        const __m256i bs = _mm256_load_si256((const __m256i *)(bp + Y_NR));
        bp += 2 * Y_NR;
        /* One asm block per row: GCC 12 hoists all six broadcasts when given intrinsics, runs out
         * of the 16 ymm registers and spills three accumulators to the stack (~1.6x slower). The
         * block pins the order broadcast -> 2 multiplies -> 2 adds with two temporaries. */
        __m256i av, t;
#define MPC_STEP(A, L, X)                                                                            \
    __asm__("vpbroadcastq %[a], %[av]\n\t"                                                           \
            "vpmuludq %[bv], %[av], %[t]\n\t"                                                        \
            "vpmulld %[bs], %[av], %[av]\n\t"                                                        \
            "vpaddq %[t], %[l], %[l]\n\t"                                                            \
            "vpaddd %[av], %[x], %[x]"                                                               \
            : [l] "+x"(L), [x] "+x"(X), [av] "=&x"(av), [t] "=&x"(t)                                 \
            : [a] "m"((A)[p]), [bv] "x"(bv), [bs] "x"(bs));
        MPC_STEP(a0, l0, x0)
        if (mr > 1) { MPC_STEP(a1, l1, x1) }
        if (mr > 2) { MPC_STEP(a2, l2, x2) }
        if (mr > 3) { MPC_STEP(a3, l3, x3) }
        if (mr > 4) { MPC_STEP(a4, l4, x4) }
        if (mr > 5) { MPC_STEP(a5, l5, x5) }
#undef MPC_STEP
    }

    /* lane = lo + ((x_low32 + x_high32) << 32): (x << 32) + (x & 0xFFFFFFFF00000000). */
    const __m256i hi = _mm256_set1_epi64x(~0xFFFFFFFFLL);
#define MPC_OUT(R, L, X)                                                                             \
    if (mr > (R)) {                                                                                  \
        __m256i *cp = (__m256i *)(c + (R) * ldc);                                                    \
        __m256i s = _mm256_add_epi64(_mm256_slli_epi64(X, 32), _mm256_and_si256(X, hi));             \
        _mm256_storeu_si256(cp, _mm256_add_epi64(_mm256_loadu_si256(cp), _mm256_add_epi64(L, s)));   \
    }
    MPC_OUT(0, l0, x0)
    MPC_OUT(1, l1, x1)
    MPC_OUT(2, l2, x2)
    MPC_OUT(3, l3, x3)
    MPC_OUT(4, l4, x4)
    MPC_OUT(5, l5, x5)
#undef MPC_OUT
}

/* One instantiation per strip height; the 6-row one does nearly all the work. */
MPC_TARGET_AVX2
static void y_tile_rows(size_t mr, uint64_t *restrict c, size_t ldc, const uint64_t *restrict a,
                        size_t lda, const uint64_t *restrict bp, size_t kc)
{
    switch (mr) {
    case 6: y_tile(6, c, ldc, a, lda, bp, kc); break;
    case 5: y_tile(5, c, ldc, a, lda, bp, kc); break;
    case 4: y_tile(4, c, ldc, a, lda, bp, kc); break;
    case 3: y_tile(3, c, ldc, a, lda, bp, kc); break;
    case 2: y_tile(2, c, ldc, a, lda, bp, kc); break;
    default: y_tile(1, c, ldc, a, lda, bp, kc); break;
    }
}

/* c[0:mr, 0:nc] += A strip @ B[0:kc, 0:nc] for a packed column slice (bbuf). */
MPC_TARGET_AVX2
static void y_strip(uint64_t *restrict c, size_t ldc, const uint64_t *restrict a, size_t lda,
                    const uint64_t *restrict bbuf, size_t mr, size_t kc, size_t nc)
{
    for (size_t jr = 0; jr < nc; jr += Y_NR) {
        size_t nr = nc - jr < Y_NR ? nc - jr : Y_NR;
        const uint64_t *bp = bbuf + (jr / Y_NR) * kc * 2 * Y_NR;
        if (nr == Y_NR) {
            y_tile_rows(mr, c + jr, ldc, a, lda, bp, kc);
        } else { /* the last columns: through a tile, B is zero-padded to NR */
            uint64_t tile[Y_MR * Y_NR] = {0};
            y_tile_rows(mr, tile, Y_NR, a, lda, bp, kc);
            for (size_t r = 0; r < mr; r++)
                for (size_t j = 0; j < nr; j++)
                    c[r * ldc + jr + j] += tile[r * Y_NR + j];
        }
    }
}

MPC_TARGET_AVX2
static void acc_avx2(uint64_t *c, const uint64_t *a, const uint64_t *b, const uint64_t *b2,
                     size_t m, size_t k, size_t n)
{
    _Alignas(32) uint64_t bbuf[Y_KC * 2 * Y_NC];

    /* The packed block is kcb x ncb with kcb * ncb = KC * NC. Many strips share a block, so for
     * large m it is tall (KC deep: good reuse of the C tile and the A strip). A single short strip
     * uses each packed element once, so its cost is in packing, and a flat block reads B in long
     * contiguous row runs from at most 8 rows at a time, which also stays clear of L1 set
     * conflicts when the row stride is a power of two (1 x 4096 @ 4096 x 4096: 12 ms against
     * 28 ms with the tall block). */
    const size_t kcb = m <= Y_MR ? Y_KC_SHORT : Y_KC, ncb = Y_KC * Y_NC / kcb;
    for (size_t pc = 0; pc < k; pc += kcb) {
        size_t kc = k - pc < kcb ? k - pc : kcb;
        for (size_t jc = 0; jc < n; jc += ncb) {
            size_t nc = n - jc < ncb ? n - jc : ncb;
            y_pack_b(bbuf, b + pc * n + jc, b2 ? b2 + pc * n + jc : NULL, n, kc, nc);
            for (size_t ic = 0; ic < m; ic += Y_MR) {
                size_t mr = m - ic < Y_MR ? m - ic : Y_MR;
                y_strip(c + ic * n + jc, n, a + ic * k + pc, k, bbuf, mr, kc, nc);
            }
        }
    }
}

/* ----------------------------------------------------------------------------- AVX-512 */

enum {
    Z_MR = 6,         /* rows per Winograd tile: 6 x 4 zmm accumulators */
    Z_NV = 4,         /* zmm vectors per tile row: */
    Z_NR = 8 * Z_NV,  /*   32 columns */
    Z_KC = 128,       /* k-block (even: whole pairs); with NC the packed B is 64 KiB (stack, L2) */
    Z_NC = 2 * Z_NR,  /* column block: 2 micro-panels share a packed A strip (4 would be ~5%
                         faster at 512^3, but need 128 KiB of stack) */
    Z_PR = 6,         /* rows per plain tile */
    Z_KP = 16,        /* plain tile: rows of B per pass (16 rows x 256 bytes stay in L1) */
    Z_WINO_M = 24,    /* Winograd from this many rows (see the top of the file) */
};

/* The lanes of vector v (8 columns from 8v) that fall inside a w-column strip. */
MPC_TARGET_AVX512
static inline __mmask8 z_lanes(size_t w, int v)
{
    size_t lo = 8 * (size_t)v;
    return w >= lo + 8 ? (__mmask8)0xFF : w <= lo ? (__mmask8)0 : (__mmask8)((1u << (w - lo)) - 1);
}

/* c[0:mr, 0:w] += A[0:mr, 0:kc] @ (B + B2)[0:kc, 0:w], A and B read in place (row strides lda,
 * ldb), w <= 8*nv. mr and nv are constants in every instantiation, so the tile lives in
 * registers; lanes past w are masked off in every load and store. */
MPC_TARGET_AVX512
static MPC_ALWAYS_INLINE void z_tile(const int mr, const int nv, uint64_t *restrict c, size_t ldc,
                                     const uint64_t *restrict a, size_t lda,
                                     const uint64_t *restrict b, const uint64_t *restrict b2,
                                     size_t ldb, size_t kc, size_t w)
{
    __mmask8 mk[Z_NV];
    __m512i acc[Z_PR][Z_NV];
    MPC_UNROLL
    for (int v = 0; v < nv; v++)
        mk[v] = z_lanes(w, v);
    MPC_UNROLL
    for (int r = 0; r < mr; r++)
        MPC_UNROLL
        for (int v = 0; v < nv; v++)
            acc[r][v] = _mm512_setzero_si512();
    for (size_t p = 0; p < kc; p++) {
        __m512i bv[Z_NV];
        MPC_UNROLL
        for (int v = 0; v < nv; v++) {
            bv[v] = _mm512_maskz_loadu_epi64(mk[v], b + p * ldb + 8 * v);
            if (b2)
                bv[v] = _mm512_add_epi64(bv[v], _mm512_maskz_loadu_epi64(mk[v], b2 + p * ldb + 8 * v));
        }
        MPC_UNROLL
        for (int r = 0; r < mr; r++) {
            const __m512i x = _mm512_set1_epi64((long long)a[r * lda + p]);
            MPC_UNROLL
            for (int v = 0; v < nv; v++)
                acc[r][v] = _mm512_add_epi64(acc[r][v], _mm512_mullo_epi64(x, bv[v]));
        }
    }
    MPC_UNROLL
    for (int r = 0; r < mr; r++)
        MPC_UNROLL
        for (int v = 0; v < nv; v++) {
            uint64_t *cp = c + r * ldc + 8 * v;
            _mm512_mask_storeu_epi64(cp, mk[v],
                                     _mm512_add_epi64(_mm512_maskz_loadu_epi64(mk[v], cp), acc[r][v]));
        }
}

#define Z_TILE_CASE(R, V)                                                                            \
    case (R) * 8 + (V): z_tile(R, V, c, ldc, a, lda, b, b2, ldb, kc, w); break;
#define Z_TILE_ROWS(R) Z_TILE_CASE(R, 1) Z_TILE_CASE(R, 2) Z_TILE_CASE(R, 3) Z_TILE_CASE(R, 4)

/* z_tile instantiated for mr in 1..6 and nv in 1..4. */
MPC_TARGET_AVX512
static void z_tile_any(size_t mr, size_t nv, uint64_t *restrict c, size_t ldc,
                       const uint64_t *restrict a, size_t lda, const uint64_t *restrict b,
                       const uint64_t *restrict b2, size_t ldb, size_t kc, size_t w)
{
    switch (mr * 8 + nv) {
        Z_TILE_ROWS(1) Z_TILE_ROWS(2) Z_TILE_ROWS(3) Z_TILE_ROWS(4) Z_TILE_ROWS(5) Z_TILE_ROWS(6)
    default: break; /* unreachable: the caller passes 1 <= mr <= Z_PR, 1 <= nv <= Z_NV */
    }
}
#undef Z_TILE_ROWS
#undef Z_TILE_CASE

MPC_TARGET_AVX512
static void z_plain(uint64_t *c, const uint64_t *a, const uint64_t *b, const uint64_t *b2, size_t m,
                    size_t k, size_t n)
{
    for (size_t pc = 0; pc < k; pc += Z_KP) {
        size_t kc = k - pc < Z_KP ? k - pc : Z_KP;
        for (size_t jc = 0; jc < n; jc += Z_NR) {
            size_t w = n - jc < Z_NR ? n - jc : Z_NR;
            const uint64_t *bj = b + pc * n + jc, *b2j = b2 ? b2 + pc * n + jc : NULL;
            for (size_t ic = 0; ic < m; ic += Z_PR) {
                size_t mr = m - ic < Z_PR ? m - ic : Z_PR;
                z_tile_any(mr, (w + 7) / 8, c + ic * n + jc, n, a + ic * k + pc, k, bj, b2j, n, kc, w);
            }
        }
    }
}

/* Pack A[0:mr, 0:kc] (row stride lda) transposed: ap[p*MR + r] = A[r][p], so pair j holds
 * A[.][2j] then A[.][2j+1], MR words each. Rows past mr, and the partner of an odd last column,
 * are zero. Each 8-column block of the strip is one 8 x 8 transpose in registers (rows 6 and 7
 * zero) whose columns are stored 8 words wide in increasing order, each store's last 2 words
 * overwritten by the next (ap has 8 words of slack). xi[r] = sum_j A[r][2j] * A[r][2j+1], the
 * row correction of Winograd's identity. */
MPC_TARGET_AVX512
static void z_pack_a(uint64_t *restrict ap, uint64_t *restrict xi, const uint64_t *restrict a,
                     size_t lda, size_t mr, size_t kc)
{
    const size_t kk = kc + (kc & 1); /* columns written: an odd kc gets a zero partner */
    const __m512i zero = _mm512_setzero_si512();
    for (size_t p0 = 0; p0 < kk; p0 += 8) {
        const size_t w = kc - p0 < 8 ? kc - p0 : 8;
        const __mmask8 mk = (__mmask8)(w == 8 ? 0xFF : (1u << w) - 1);
        __m512i x[Z_MR];
        MPC_UNROLL
        for (int r = 0; r < Z_MR; r++)
            x[r] = (size_t)r < mr ? _mm512_maskz_loadu_epi64(mk, a + (size_t)r * lda + p0) : zero;
        /* pairs of rows interleaved: t0 = (x0[0], x1[0], x0[2], x1[2], ...), t1 the odd columns */
        const __m512i t0 = _mm512_unpacklo_epi64(x[0], x[1]), t1 = _mm512_unpackhi_epi64(x[0], x[1]);
        const __m512i t2 = _mm512_unpacklo_epi64(x[2], x[3]), t3 = _mm512_unpackhi_epi64(x[2], x[3]);
        const __m512i t4 = _mm512_unpacklo_epi64(x[4], x[5]), t5 = _mm512_unpackhi_epi64(x[4], x[5]);
        /* 128-bit lanes regrouped: s0 = (col 0 of rows 0-1, col 4 of rows 0-1, col 0 of rows 2-3,
         * col 4 of rows 2-3), and likewise for columns 2/6 (s1), 1/5 (s2), 3/7 (s3), rows 4-5 */
        const __m512i s0 = _mm512_shuffle_i64x2(t0, t2, 0x88), s1 = _mm512_shuffle_i64x2(t0, t2, 0xDD);
        const __m512i s2 = _mm512_shuffle_i64x2(t1, t3, 0x88), s3 = _mm512_shuffle_i64x2(t1, t3, 0xDD);
        const __m512i s4 = _mm512_shuffle_i64x2(t4, zero, 0x88), s5 = _mm512_shuffle_i64x2(t4, zero, 0xDD);
        const __m512i s6 = _mm512_shuffle_i64x2(t5, zero, 0x88), s7 = _mm512_shuffle_i64x2(t5, zero, 0xDD);
        __m512i col[8];
        col[0] = _mm512_shuffle_i64x2(s0, s4, 0x88);
        col[4] = _mm512_shuffle_i64x2(s0, s4, 0xDD);
        col[2] = _mm512_shuffle_i64x2(s1, s5, 0x88);
        col[6] = _mm512_shuffle_i64x2(s1, s5, 0xDD);
        col[1] = _mm512_shuffle_i64x2(s2, s6, 0x88);
        col[5] = _mm512_shuffle_i64x2(s2, s6, 0xDD);
        col[3] = _mm512_shuffle_i64x2(s3, s7, 0x88);
        col[7] = _mm512_shuffle_i64x2(s3, s7, 0xDD);
        const size_t nq = kk - p0 < 8 ? kk - p0 : 8;
        MPC_UNROLL
        for (int q = 0; q < 8; q++)
            if ((size_t)q < nq)
                _mm512_storeu_si512(ap + (p0 + (size_t)q) * Z_MR, col[q]);
    }
    const __mmask8 rows = (__mmask8)((1u << Z_MR) - 1);
    __m512i s = zero;
    for (size_t p = 0; p < kk; p += 2)
        s = _mm512_add_epi64(s, _mm512_mullo_epi64(_mm512_loadu_si512(ap + p * Z_MR),
                                                   _mm512_loadu_si512(ap + (p + 1) * Z_MR)));
    _mm512_mask_storeu_epi64(xi, rows, s);
}

/* Pack (B + B2)[0:kc, 0:nc] (row stride ldb) into micro-panels of NR columns, panel q at
 * bp + q*kp*2NR; for pair j a panel holds row 2j+1, then row 2j (NR words each), the order the
 * tile adds them to A's pair. Columns past nc, and the partner of an odd last row, are zero.
 * eta[col] = sum_j B'[2j][col] * B'[2j+1][col], the column correction. */
MPC_TARGET_AVX512
static void z_pack_b(uint64_t *restrict bp, uint64_t *restrict eta, const uint64_t *restrict b,
                     const uint64_t *restrict b2, size_t ldb, size_t kc, size_t nc)
{
    const size_t kp = (kc + 1) / 2;
    for (size_t q = 0; q * Z_NR < nc; q++) {
        const size_t c0 = q * Z_NR, w = nc - c0 < Z_NR ? nc - c0 : Z_NR;
        const int nv = (int)((w + 7) / 8);
        uint64_t *dst = bp + q * kp * 2 * Z_NR;
        for (int v = 0; v < nv; v++) {
            const __mmask8 mk = z_lanes(w, v);
            const size_t col = c0 + 8 * (size_t)v;
            __m512i e = _mm512_setzero_si512();
            for (size_t j = 0; j < kp; j++) {
                const size_t p = 2 * j;
                __m512i x0 = _mm512_maskz_loadu_epi64(mk, b + p * ldb + col);
                __m512i x1 = _mm512_setzero_si512();
                if (b2)
                    x0 = _mm512_add_epi64(x0, _mm512_maskz_loadu_epi64(mk, b2 + p * ldb + col));
                if (p + 1 < kc) {
                    x1 = _mm512_maskz_loadu_epi64(mk, b + (p + 1) * ldb + col);
                    if (b2)
                        x1 = _mm512_add_epi64(x1, _mm512_maskz_loadu_epi64(mk, b2 + (p + 1) * ldb + col));
                }
                _mm512_store_si512(dst + j * 2 * Z_NR + 8 * v, x1);
                _mm512_store_si512(dst + j * 2 * Z_NR + Z_NR + 8 * v, x0);
                e = _mm512_add_epi64(e, _mm512_mullo_epi64(x0, x1));
            }
            _mm512_store_si512(eta + col, e);
        }
    }
}

/* c[0:mr, 0:w] += (the Winograd sums of a packed A strip and micro-panel) - xi[r] - eta[col]:
 * the product of the strip and the panel's columns over this k-block. The tile is always MR
 * rows (A's padding rows are zero) by nv vectors; only rows < mr and lanes < w are stored. */
MPC_TARGET_AVX512
static MPC_ALWAYS_INLINE void z_wino(const int nv, uint64_t *restrict c, size_t ldc,
                                     const uint64_t *restrict ap, const uint64_t *restrict bp,
                                     const uint64_t *restrict xi, const uint64_t *restrict eta,
                                     size_t kp, size_t mr, size_t w)
{
    __m512i acc[Z_MR][Z_NV];
    MPC_UNROLL
    for (int r = 0; r < Z_MR; r++)
        MPC_UNROLL
        for (int v = 0; v < nv; v++)
            acc[r][v] = _mm512_setzero_si512();
    for (size_t j = 0; j < kp; j++) {
        __m512i b1[Z_NV], b0[Z_NV];
        MPC_UNROLL
        for (int v = 0; v < nv; v++) {
            b1[v] = _mm512_load_si512(bp + 8 * v);
            b0[v] = _mm512_load_si512(bp + Z_NR + 8 * v);
        }
        MPC_UNROLL
        for (int r = 0; r < Z_MR; r++) {
            const __m512i x0 = _mm512_set1_epi64((long long)ap[r]);
            const __m512i x1 = _mm512_set1_epi64((long long)ap[Z_MR + r]);
            MPC_UNROLL
            for (int v = 0; v < nv; v++)
                acc[r][v] = _mm512_add_epi64(
                    acc[r][v], _mm512_mullo_epi64(_mm512_add_epi64(x0, b1[v]), _mm512_add_epi64(x1, b0[v])));
        }
        ap += 2 * Z_MR;
        bp += 2 * Z_NR;
    }
    MPC_UNROLL
    for (int v = 0; v < nv; v++) {
        const __mmask8 mk = z_lanes(w, v);
        const __m512i ev = _mm512_load_si512(eta + 8 * v);
        MPC_UNROLL
        for (int r = 0; r < Z_MR; r++) { /* constant bounds keep acc[][] in registers */
            if ((size_t)r >= mr)
                break;
            uint64_t *cp = c + (size_t)r * ldc + 8 * v;
            __m512i s = _mm512_sub_epi64(acc[r][v], _mm512_add_epi64(ev, _mm512_set1_epi64((long long)xi[r])));
            _mm512_mask_storeu_epi64(cp, mk, _mm512_add_epi64(_mm512_maskz_loadu_epi64(mk, cp), s));
        }
    }
}

MPC_TARGET_AVX512
static void z_winograd(uint64_t *c, const uint64_t *a, const uint64_t *b, const uint64_t *b2,
                       size_t m, size_t k, size_t n)
{
    _Alignas(64) uint64_t bbuf[Z_KC * Z_NC]; /* KC/2 pairs x 2 rows x NC columns */
    _Alignas(64) uint64_t abuf[Z_KC * Z_MR + 8]; /* + slack: see z_pack_a */
    _Alignas(64) uint64_t eta[Z_NC];
    _Alignas(64) uint64_t xi[8];
    for (size_t jc = 0; jc < n; jc += Z_NC) {
        const size_t nc = n - jc < Z_NC ? n - jc : Z_NC;
        for (size_t pc = 0; pc < k; pc += Z_KC) {
            const size_t kc = k - pc < Z_KC ? k - pc : Z_KC, kp = (kc + 1) / 2;
            z_pack_b(bbuf, eta, b + pc * n + jc, b2 ? b2 + pc * n + jc : NULL, n, kc, nc);
            for (size_t ic = 0; ic < m; ic += Z_MR) {
                const size_t mr = m - ic < Z_MR ? m - ic : Z_MR;
                z_pack_a(abuf, xi, a + ic * k + pc, k, mr, kc);
                for (size_t q = 0; q * Z_NR < nc; q++) {
                    const size_t w = nc - q * Z_NR < Z_NR ? nc - q * Z_NR : Z_NR;
                    uint64_t *ct = c + ic * n + jc + q * Z_NR;
                    const uint64_t *bq = bbuf + q * kp * 2 * Z_NR, *eq = eta + q * Z_NR;
                    switch ((w + 7) / 8) {
                    case 4: z_wino(4, ct, n, abuf, bq, xi, eq, kp, mr, w); break;
                    case 3: z_wino(3, ct, n, abuf, bq, xi, eq, kp, mr, w); break;
                    case 2: z_wino(2, ct, n, abuf, bq, xi, eq, kp, mr, w); break;
                    default: z_wino(1, ct, n, abuf, bq, xi, eq, kp, mr, w); break;
                    }
                }
            }
        }
    }
}

MPC_TARGET_AVX512
static void acc_avx512(uint64_t *c, const uint64_t *a, const uint64_t *b, const uint64_t *b2,
                       size_t m, size_t k, size_t n)
{
    if (m >= Z_WINO_M)
        z_winograd(c, a, b, b2, m, k, n);
    else
        z_plain(c, a, b, b2, m, k, n);
}

#endif /* MPC_X86_DISPATCH */

/* ----------------------------------------------------------------------------- dispatch */

int mpc_matmul_isa_supported(int isa)
{
    switch (isa) {
    case MPC_MATMUL_AUTO:
    case MPC_MATMUL_PORTABLE:
        return 1;
#if MPC_X86_DISPATCH
    case MPC_MATMUL_AVX2:
        __builtin_cpu_init(); /* idempotent; needed only before constructors have run */
        return __builtin_cpu_supports("avx2") ? 1 : 0;
    case MPC_MATMUL_AVX512:
        __builtin_cpu_init();
        return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512dq") ? 1 : 0;
#endif
    default:
        return 0;
    }
}

int mpc_matmul_isa_best(void)
{
    if (mpc_matmul_isa_supported(MPC_MATMUL_AVX512))
        return MPC_MATMUL_AVX512;
    if (mpc_matmul_isa_supported(MPC_MATMUL_AVX2))
        return MPC_MATMUL_AVX2;
    return MPC_MATMUL_PORTABLE;
}

/* c += a @ (b + b2) on a resolved, supported isa; k >= 1 (a, b not NULL). */
static void acc_on(int isa, uint64_t *c, const uint64_t *a, const uint64_t *b, const uint64_t *b2,
                   size_t m, size_t k, size_t n)
{
    switch (isa) {
#if MPC_X86_DISPATCH
    case MPC_MATMUL_AVX512:
        acc_avx512(c, a, b, b2, m, k, n);
        break;
    case MPC_MATMUL_AVX2:
        acc_avx2(c, a, b, b2, m, k, n);
        break;
#endif
    default:
        acc_portable(c, a, b, b2, m, k, n);
        break;
    }
}

int mpc_matmul_isa_u64(uint64_t *c, const uint64_t *a, const uint64_t *b, const uint64_t *b2,
                       size_t batch, size_t m, size_t k, size_t n, int acc, int isa)
{
    if (!mpc_matmul_isa_supported(isa))
        return -1;
    if (isa == MPC_MATMUL_AUTO)
        isa = mpc_matmul_isa_best();
    if (batch == 0 || m == 0 || n == 0)
        return 0;
    if (!acc)
        memset(c, 0, batch * m * n * sizeof *c);
    if (k == 0) /* a and b may be NULL: no pointer arithmetic on them */
        return 0;
    for (size_t i = 0; i < batch; i++)
        acc_on(isa, c + i * m * n, a + i * m * k, b + i * k * n, b2 ? b2 + i * k * n : NULL, m, k, n);
    return 0;
}

void mpc_matmul_u64(uint64_t *c, const uint64_t *a, const uint64_t *b, size_t m, size_t k, size_t n)
{
    (void)mpc_matmul_isa_u64(c, a, b, NULL, 1, m, k, n, 0, MPC_MATMUL_AUTO);
}

void mpc_matmul_acc_u64(uint64_t *c, const uint64_t *a, const uint64_t *b, const uint64_t *b2,
                        size_t m, size_t k, size_t n)
{
    (void)mpc_matmul_isa_u64(c, a, b, b2, 1, m, k, n, 1, MPC_MATMUL_AUTO);
}

void mpc_matmul_batched_u64(uint64_t *c, const uint64_t *a, const uint64_t *b, size_t batch,
                            size_t m, size_t k, size_t n)
{
    (void)mpc_matmul_isa_u64(c, a, b, NULL, batch, m, k, n, 0, MPC_MATMUL_AUTO);
}
