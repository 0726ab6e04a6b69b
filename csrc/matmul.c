/* uint64 matrix products mod 2^64.
 *
 * The low 64 bits of x*y, with x = xh*2^32 + xl and y = yh*2^32 + yl, are
 *     xl*yl + ((xl*yh + xh*yl) mod 2^32) * 2^32,
 * and both parts stay exact when summed over k with wrap-around: the xl*yl products are summed in
 * 64-bit lanes (vpmuludq), the cross products in 32-bit lanes (vpmulld), and only at the end of
 * the k-loop are the two 32-bit cross sums of each lane added and shifted into place. That is two
 * multiplies per 4 multiply-adds, against ~3 for a 64-bit emulation and 1 per MAC for scalar imul.
 *
 * vpmulld multiplies 32-bit lanes pairwise, so to get xl*yh and xh*yl in one instruction the two
 * halves of y are swapped: packing stores every B row twice, as (yl, yh) for vpmuludq and as
 * (yh, yl) for vpmulld, and a[i, p] is broadcast unchanged.
 *
 * Blocking (GotoBLAS-style, single-threaded): for each KC-slice of k and NC-slice of columns, B is
 * packed into a stack buffer of NC/NR micro-panels (KC x 2NR words, contiguous in p); then every
 * MR-row strip of A runs the MR x NR register kernel against each micro-panel. A is read in place
 * (MR row pointers, broadcasts need no layout); its strip is reused from L1 across the NC/NR
 * micro-panels. Column edges are zero-padded in the packed B and go through a small tile buffer;
 * row edges use the same kernel instantiated for fewer rows. There is no scalar tail.
 */
#include "mpc/matmul.h"

#include <string.h>

#ifdef __AVX2__
#include <immintrin.h>
#endif

#ifdef __AVX2__

enum {
    MR = 6,   /* rows per register tile: 6 rows x 2 accumulators + B pair + broadcast + temp = 16 ymm */
    NR = 4,   /* columns per register tile: one ymm of uint64 */
    KC = 256, /* k-slice: an A strip (MR x KC) is 12 KiB, stays in L1 across the micro-panels */
    NC = 16,  /* column slice: packed B is KC x NC x 2 words = 64 KiB (stack), lives in L2 */
    KC_SHORT = 8, /* k-slice when m <= MR: see mpc_matmul_acc_u64 */
};

/* Pack B[0:kc, 0:nc] (+ B2) into micro-panels of NR columns: for each p, NR words as they are and
 * NR words with their 32-bit halves swapped. Columns past nc are zero, so edge tiles need no
 * special kernel. */
static void pack_b(uint64_t *restrict bp, const uint64_t *restrict b, const uint64_t *restrict b2,
                   size_t ldb, size_t kc, size_t nc)
{
    for (size_t jr = 0; jr < nc; jr += NR) {
        size_t nr = nc - jr < NR ? nc - jr : NR;
        for (size_t p = 0; p < kc; p++) {
            const uint64_t *src = b + p * ldb + jr;
            __m256i v;
            if (nr == NR) {
                v = _mm256_loadu_si256((const __m256i *)src);
                if (b2)
                    v = _mm256_add_epi64(v, _mm256_loadu_si256((const __m256i *)(b2 + p * ldb + jr)));
            } else {
                uint64_t t[NR] = {0};
                for (size_t j = 0; j < nr; j++)
                    t[j] = src[j] + (b2 ? b2[p * ldb + jr + j] : 0);
                v = _mm256_loadu_si256((const __m256i *)t);
            }
            _mm256_store_si256((__m256i *)bp, v);
            _mm256_store_si256((__m256i *)(bp + NR), _mm256_shuffle_epi32(v, 0xB1));
            bp += 2 * NR;
        }
    }
}

#if defined(__GNUC__)
#define MPC_ALWAYS_INLINE inline __attribute__((always_inline))
#else
#define MPC_ALWAYS_INLINE inline
#endif

/* c[0:mr, 0:NR] += A[0:mr, 0:kc] @ packed micro-panel, A row r at a + r*lda. mr is a constant
 * in every instantiation below, so the row guards vanish and a short strip (m % MR, or m < MR
 * as in a vector-matrix product) costs mr/MR of a full one instead of a full one. */
static MPC_ALWAYS_INLINE void kernel_mx4(const int mr, uint64_t *restrict c, size_t ldc,
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
        const __m256i bs = _mm256_load_si256((const __m256i *)(bp + NR));
        bp += 2 * NR;
#if defined(__GNUC__)
        /* One asm block per row: GCC 12 hoists all six broadcasts when given intrinsics, runs out of
         * the 16 ymm registers and spills three accumulators to the stack (~1.6x slower). The
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
#else
        __m256i av;
#define MPC_STEP(A, L, X)                                                                            \
    av = _mm256_set1_epi64x((long long)(A)[p]);                                                      \
    L = _mm256_add_epi64(L, _mm256_mul_epu32(av, bv));                                               \
    X = _mm256_add_epi32(X, _mm256_mullo_epi32(av, bs));
#endif
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
static void kernel_packed(size_t mr, uint64_t *restrict c, size_t ldc, const uint64_t *restrict a,
                          size_t lda, const uint64_t *restrict bp, size_t kc)
{
    switch (mr) {
    case 6: kernel_mx4(6, c, ldc, a, lda, bp, kc); break;
    case 5: kernel_mx4(5, c, ldc, a, lda, bp, kc); break;
    case 4: kernel_mx4(4, c, ldc, a, lda, bp, kc); break;
    case 3: kernel_mx4(3, c, ldc, a, lda, bp, kc); break;
    case 2: kernel_mx4(2, c, ldc, a, lda, bp, kc); break;
    default: kernel_mx4(1, c, ldc, a, lda, bp, kc); break;
    }
}

/* c[0:mr, 0:nc] += A strip @ B[0:kc, 0:nc] for a packed column slice (bbuf). */
static void strip_packed(uint64_t *restrict c, size_t ldc, const uint64_t *restrict a, size_t lda,
                         const uint64_t *restrict bbuf, size_t mr, size_t kc, size_t nc)
{
    for (size_t jr = 0; jr < nc; jr += NR) {
        size_t nr = nc - jr < NR ? nc - jr : NR;
        const uint64_t *bp = bbuf + (jr / NR) * kc * 2 * NR;
        if (nr == NR) {
            kernel_packed(mr, c + jr, ldc, a, lda, bp, kc);
        } else { /* the last columns: through a tile, B is zero-padded to NR */
            uint64_t tile[MR * NR] = {0};
            kernel_packed(mr, tile, NR, a, lda, bp, kc);
            for (size_t r = 0; r < mr; r++)
                for (size_t j = 0; j < nr; j++)
                    c[r * ldc + jr + j] += tile[r * NR + j];
        }
    }
}

void mpc_matmul_acc_u64(uint64_t *c, const uint64_t *a, const uint64_t *b, const uint64_t *b2,
                        size_t m, size_t k, size_t n)
{
    if (m == 0 || n == 0 || k == 0)
        return;
    _Alignas(32) uint64_t bbuf[KC * 2 * NC];

    /* The packed block is kcb x ncb with kcb * ncb = KC * NC. Many strips share a block, so for
     * large m it is tall (KC deep: good reuse of the C tile and the A strip). A single short strip
     * uses each packed element once, so its cost is in packing, and a flat block reads B in long
     * contiguous row runs from at most 8 rows at a time, which also stays clear of L1 set
     * conflicts when the row stride is a power of two (1 x 4096 @ 4096 x 4096: 12 ms against
     * 28 ms with the tall block). */
    const size_t kcb = m <= MR ? KC_SHORT : KC, ncb = KC * NC / kcb;
    for (size_t pc = 0; pc < k; pc += kcb) {
        size_t kc = k - pc < kcb ? k - pc : kcb;
        for (size_t jc = 0; jc < n; jc += ncb) {
            size_t nc = n - jc < ncb ? n - jc : ncb;
            pack_b(bbuf, b + pc * n + jc, b2 ? b2 + pc * n + jc : NULL, n, kc, nc);
            for (size_t ic = 0; ic < m; ic += MR) {
                size_t mr = m - ic < MR ? m - ic : MR;
                strip_packed(c + ic * n + jc, n, a + ic * k + pc, k, bbuf, mr, kc, nc);
            }
        }
    }
}

#else /* portable path: same bits, one 64-bit multiply per MAC */

void mpc_matmul_acc_u64(uint64_t *c, const uint64_t *a, const uint64_t *b, const uint64_t *b2,
                        size_t m, size_t k, size_t n)
{
    if (m == 0 || n == 0 || k == 0)
        return;
    /* i-p-j order: the inner loop streams one row of B and one row of C, which vectorises. */
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

#endif

void mpc_matmul_u64(uint64_t *c, const uint64_t *a, const uint64_t *b, size_t m, size_t k, size_t n)
{
    if (m == 0 || n == 0)
        return;
    memset(c, 0, m * n * sizeof *c);
    mpc_matmul_acc_u64(c, a, b, NULL, m, k, n);
}

void mpc_matmul_batched_u64(uint64_t *c, const uint64_t *a, const uint64_t *b, size_t batch,
                            size_t m, size_t k, size_t n)
{
    if (batch == 0 || m == 0 || n == 0)
        return;
    if (k == 0) { /* a and b may be NULL: no pointer arithmetic on them */
        memset(c, 0, batch * m * n * sizeof *c);
        return;
    }
    for (size_t i = 0; i < batch; i++)
        mpc_matmul_u64(c + i * m * n, a + i * m * k, b + i * k * n, m, k, n);
}
