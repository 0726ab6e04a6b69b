/* Fused Beaver steps; see mpc/beaver.h for the contract. */
#include "mpc/beaver.h"
#include "mpc/compiler.h"

#include <string.h>

#include "mpc/matmul.h"

#ifdef __AVX2__
#include <immintrin.h>
#endif

void mpc_beaver_mask_u64(uint64_t *d, uint64_t *e, const uint64_t *x, const uint64_t *a,
                         const uint64_t *y, const uint64_t *b, size_t nd, size_t ne)
{
    /* Plain C: a subtraction vectorises by itself and the loop is bound by memory traffic. */
    size_t both = nd < ne ? nd : ne;
    for (size_t i = 0; i < both; i++) {
        d[i] = x[i] - a[i];
        e[i] = y[i] - b[i];
    }
    for (size_t i = both; i < nd; i++)
        d[i] = x[i] - a[i];
    for (size_t i = both; i < ne; i++)
        e[i] = y[i] - b[i];
}

/* The opened masks arrive in two parts, own + rest (the peers' sum), or already summed
 * (rest == 0). `rest` is loop-invariant: the branch is predicted every time and costs nothing
 * measurable next to the memory traffic, so one loop serves both forms. */
static inline uint64_t opened1(const uint64_t *p, const uint64_t *p2, size_t i, int rest)
{
    return rest ? p[i] + p2[i] : p[i];
}

#ifdef __AVX2__
static inline __m256i load4(const uint64_t *p, size_t i)
{
    return _mm256_loadu_si256((const __m256i *)(p + i));
}

static inline __m256i load_opened(const uint64_t *p, const uint64_t *p2, size_t i, int rest)
{
    return rest ? _mm256_add_epi64(load4(p, i), load4(p2, i)) : load4(p, i);
}

/* AVX2 has no 64-bit multiply. With u = d, v = b (+ e) and s = e, t = a:
 *   u*v + s*t = ul*vl + sl*tl + ((ul*vh + uh*vl + sl*th + sh*tl) mod 2^32) << 32.
 * The four cross products come from two vpmulld against half-swapped v and t, summed in 32-bit
 * lanes, so the shift-and-fold runs once per element rather than once per product. d and e are
 * the full opened masks (own + rest), so the first party's d*e uses them too. */
static inline __m256i combine4(const uint64_t *c, const uint64_t *d, const uint64_t *e,
                               const uint64_t *a, const uint64_t *b, const uint64_t *d2,
                               const uint64_t *e2, size_t i, int first, int rest)
{
    const __m256i hi = _mm256_set1_epi64x(~0xFFFFFFFFLL);
    const __m256i vc = load4(c, i);
    const __m256i vd = load_opened(d, d2, i, rest);
    const __m256i ve = load_opened(e, e2, i, rest);
    const __m256i va = load4(a, i);
    __m256i vb = load4(b, i);
    if (first)
        vb = _mm256_add_epi64(vb, ve);
    __m256i lo = _mm256_add_epi64(_mm256_mul_epu32(vd, vb), _mm256_mul_epu32(ve, va));
    __m256i x = _mm256_add_epi32(_mm256_mullo_epi32(vd, _mm256_shuffle_epi32(vb, 0xB1)),
                                 _mm256_mullo_epi32(ve, _mm256_shuffle_epi32(va, 0xB1)));
    x = _mm256_add_epi64(_mm256_slli_epi64(x, 32), _mm256_and_si256(x, hi));
    return _mm256_add_epi64(vc, _mm256_add_epi64(lo, x));
}

/* From MPC_STREAM_MIN elements on (compiler.h) z is written with non-temporal stores: measured
 * ~15-20% faster at 10^6 elements. */
#endif

static inline uint64_t combine1(const uint64_t *c, const uint64_t *d, const uint64_t *e,
                                const uint64_t *a, const uint64_t *b, const uint64_t *d2,
                                const uint64_t *e2, size_t i, int first, int rest)
{
    uint64_t dd = opened1(d, d2, i, rest), ee = opened1(e, e2, i, rest);
    return c[i] + dd * (first ? b[i] + ee : b[i]) + ee * a[i];
}

void mpc_beaver_combine_u64(uint64_t *z, const uint64_t *c, const uint64_t *d, const uint64_t *e,
                            const uint64_t *a, const uint64_t *b, const uint64_t *d2,
                            const uint64_t *e2, size_t n, int first)
{
    size_t i = 0;
    const int rest = d2 != NULL;
    first = first != 0;
#ifdef __AVX2__
    if (n >= MPC_STREAM_MIN) {
        for (; i < n && ((uintptr_t)(z + i) & 31) != 0; i++) /* streaming stores need alignment */
            z[i] = combine1(c, d, e, a, b, d2, e2, i, first, rest);
        for (; i + 4 <= n; i += 4)
            _mm256_stream_si256((__m256i *)(z + i), combine4(c, d, e, a, b, d2, e2, i, first, rest));
        _mm_sfence(); /* order the weakly-ordered stores before z is handed back */
    } else {
        for (; i + 4 <= n; i += 4)
            _mm256_storeu_si256((__m256i *)(z + i), combine4(c, d, e, a, b, d2, e2, i, first, rest));
    }
#endif
    for (; i < n; i++)
        z[i] = combine1(c, d, e, a, b, d2, e2, i, first, rest);
}

void mpc_beaver_matmul_combine_u64(uint64_t *z, const uint64_t *c, const uint64_t *d,
                                   const uint64_t *e, const uint64_t *a, const uint64_t *b,
                                   size_t m, size_t k, size_t n, int first)
{
    if (m == 0 || n == 0)
        return;
    memcpy(z, c, m * n * sizeof *z);
    if (k == 0)
        return;
    mpc_matmul_acc_u64(z, d, b, first ? e : NULL, m, k, n);
    mpc_matmul_acc_u64(z, a, e, NULL, m, k, n);
}

/* T * x for T = (1 - msb(C)) * 2^s: `keep` is all ones when msb(C) = 0 (the mask form of
 * 1 - msb(C)), and the product by 2^s a shift, exact mod 2^64 for any share x. */
static inline uint64_t masked_shift(uint64_t keep, uint64_t x, unsigned s)
{
    return keep & (x << s);
}

void mpc_beaver_tmul_finish_u64(uint64_t *z, const uint64_t *c1, const uint64_t *c2,
                                const uint64_t *c1r, const uint64_t *c2r, const uint64_t *a1,
                                const uint64_t *m1, const uint64_t *a2, const uint64_t *m2,
                                const uint64_t *a1a2, const uint64_t *m1a2, const uint64_t *a1m2,
                                const uint64_t *m1m2, unsigned k1, unsigned k2, int first,
                                size_t n)
{
    /* loop-invariant flags: predicted every time, next to 8-12 streamed arrays they cost nothing */
    const int rest = c1r != NULL, both = k2 > 0, cross = both && k1 + k2 > 64;
    const unsigned s1 = 64 - k1, s2 = both ? 64 - k2 : 0, s12 = cross ? 128 - k1 - k2 : 0;
    const uint64_t off1 = (uint64_t)1 << (62 - k1), off2 = both ? (uint64_t)1 << (62 - k2) : 0;
    for (size_t i = 0; i < n; i++) {
        uint64_t cc1 = rest ? c1[i] + c1r[i] : c1[i];
        uint64_t cc2 = rest ? c2[i] + c2r[i] : c2[i];
        uint64_t keep1 = (cc1 >> 63) - 1;
        uint64_t p1 = (cc1 >> k1) - off1;
        uint64_t l1 = a1[i] - masked_shift(keep1, m1[i], s1);
        uint64_t acc = a1a2[i] - masked_shift(keep1, m1a2[i], s1);
        uint64_t p2, l2;
        if (both) {
            uint64_t keep2 = (cc2 >> 63) - 1;
            p2 = (cc2 >> k2) - off2;
            l2 = a2[i] - masked_shift(keep2, m2[i], s2);
            acc -= masked_shift(keep2, a1m2[i], s2);
            if (cross)
                acc += masked_shift(keep1 & keep2, m1m2[i], s12);
        } else {
            p2 = cc2;
            l2 = a2[i];
        }
        acc -= p1 * l2 + p2 * l1;
        if (first)
            acc += p1 * p2;
        z[i] = acc;
    }
}

void mpc_beaver_tsquare_finish_u64(uint64_t *z, const uint64_t *c, const uint64_t *cr,
                                   const uint64_t *a, const uint64_t *m, const uint64_t *aa,
                                   const uint64_t *am, unsigned k, int first, size_t n)
{
    const int rest = cr != NULL, tt = k > 32;
    const unsigned s = 64 - k, s2 = tt ? 128 - 2 * k : 0;
    const uint64_t off = (uint64_t)1 << (62 - k);
    for (size_t i = 0; i < n; i++) {
        uint64_t cc = rest ? c[i] + cr[i] : c[i];
        uint64_t keep = (cc >> 63) - 1;
        uint64_t p = (cc >> k) - off;
        uint64_t l = a[i] - masked_shift(keep, m[i], s);
        uint64_t acc = aa[i] - 2 * masked_shift(keep, am[i], s) - 2 * p * l;
        if (tt)
            acc += masked_shift(keep, m[i], s2);
        if (first)
            acc += p * p;
        z[i] = acc;
    }
}
