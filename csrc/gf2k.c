/* GF(2^64) and authenticated bit-word kernels. See mpc/gf2k.h for the contract.
 *
 * The reduction uses X^64 = X^4 + X^3 + X + 1 twice: folding the high word in overflows by at
 * most 4 bits (X^3 + X^2 + ... from the X^4 term), and folding those in overflows by none.
 * A fold is a product by the fixed powers X^j, i.e. shifts: the 127-bit sum is accumulated in
 * two words and reduced once. The dot product accumulates unreduced 128-bit products (XOR is
 * linear) and reduces once.
 */
#include "mpc/gf2k.h"
#include "mpc/compiler.h"

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <immintrin.h>
#define MPC_HAVE_PCLMUL_PATH 1
#endif

static inline uint64_t reduce(uint64_t lo, uint64_t hi)
{
    uint64_t t = hi ^ (hi >> 60) ^ (hi >> 61) ^ (hi >> 63);
    return lo ^ t ^ (t << 1) ^ (t << 3) ^ (t << 4);
}

/* Portable carry-less product, 4 bits of b at a time from a table of a * (0..15). */
static inline void clmul_portable(uint64_t a, uint64_t b, uint64_t *lo, uint64_t *hi)
{
    uint64_t tl[16], th[16];
    tl[0] = 0;
    th[0] = 0;
    tl[1] = a;
    th[1] = 0;
    for (int j = 2; j < 16; j += 2) {
        tl[j] = tl[j / 2] << 1;
        th[j] = (th[j / 2] << 1) | (tl[j / 2] >> 63);
        tl[j + 1] = tl[j] ^ a;
        th[j + 1] = th[j];
    }
    uint64_t l = 0, h = 0;
    for (int i = 60; i >= 0; i -= 4) {
        h = (h << 4) | (l >> 60);
        l <<= 4;
        unsigned nib = (unsigned)(b >> i) & 15u;
        l ^= tl[nib];
        h ^= th[nib];
    }
    *lo = l;
    *hi = h;
}

static inline uint64_t mul_portable(uint64_t a, uint64_t b)
{
    uint64_t lo, hi;
    clmul_portable(a, b, &lo, &hi);
    return reduce(lo, hi);
}

#ifdef MPC_HAVE_PCLMUL_PATH
static int have_pclmul(void)
{
    __builtin_cpu_init();
    return __builtin_cpu_supports("pclmul");
}

__attribute__((target("pclmul,sse2"))) static inline uint64_t mul_clmul(uint64_t a, uint64_t b)
{
    __m128i p = _mm_clmulepi64_si128(_mm_cvtsi64_si128((long long)a), _mm_cvtsi64_si128((long long)b), 0x00);
    uint64_t lo = (uint64_t)_mm_cvtsi128_si64(p);
    uint64_t hi = (uint64_t)_mm_cvtsi128_si64(_mm_unpackhi_epi64(p, p));
    return reduce(lo, hi);
}

__attribute__((target("pclmul,sse2"))) static void mul_many_clmul(uint64_t *out, const uint64_t *a,
                                                                  const uint64_t *b, size_t n)
{
    for (size_t i = 0; i < n; i++)
        out[i] = mul_clmul(a[i], b[i]);
}

__attribute__((target("pclmul,sse2"))) static uint64_t dot_clmul(const uint64_t *a, const uint64_t *b, size_t n)
{
    __m128i acc0 = _mm_setzero_si128(), acc1 = _mm_setzero_si128();
    size_t i = 0;
    for (; i + 2 <= n; i += 2) { /* two independent chains hide the multiplier's latency */
        acc0 = _mm_xor_si128(acc0, _mm_clmulepi64_si128(_mm_cvtsi64_si128((long long)a[i]),
                                                        _mm_cvtsi64_si128((long long)b[i]), 0x00));
        acc1 = _mm_xor_si128(acc1, _mm_clmulepi64_si128(_mm_cvtsi64_si128((long long)a[i + 1]),
                                                        _mm_cvtsi64_si128((long long)b[i + 1]), 0x00));
    }
    if (i < n)
        acc0 = _mm_xor_si128(acc0, _mm_clmulepi64_si128(_mm_cvtsi64_si128((long long)a[i]),
                                                        _mm_cvtsi64_si128((long long)b[i]), 0x00));
    acc0 = _mm_xor_si128(acc0, acc1);
    uint64_t lo = (uint64_t)_mm_cvtsi128_si64(acc0);
    uint64_t hi = (uint64_t)_mm_cvtsi128_si64(_mm_unpackhi_epi64(acc0, acc0));
    return reduce(lo, hi);
}
#endif

void mpc_gf64_mul(uint64_t *out, const uint64_t *a, const uint64_t *b, size_t n)
{
#ifdef MPC_HAVE_PCLMUL_PATH
    if (have_pclmul()) {
        mul_many_clmul(out, a, b, n);
        return;
    }
#endif
    for (size_t i = 0; i < n; i++)
        out[i] = mul_portable(a[i], b[i]);
}

uint64_t mpc_gf64_dot(const uint64_t *a, const uint64_t *b, size_t n)
{
#ifdef MPC_HAVE_PCLMUL_PATH
    if (have_pclmul())
        return dot_clmul(a, b, n);
#endif
    uint64_t lo = 0, hi = 0;
    for (size_t i = 0; i < n; i++) {
        uint64_t l, h;
        clmul_portable(a[i], b[i], &l, &h);
        lo ^= l;
        hi ^= h;
    }
    return reduce(lo, hi);
}

/* sum_j X^j m[j]: the shifted words accumulate in (lo, hi); (m >> 1) >> (63 - j) is the part of
 * m << j above bit 63, written so that j = 0 shifts by less than 64. */
static inline uint64_t fold64(const uint64_t *m)
{
    uint64_t lo = 0, hi = 0;
    MPC_IVDEP
    for (unsigned j = 0; j < 64; j++) {
        lo ^= m[j] << j;
        hi ^= (m[j] >> 1) >> (63 - j);
    }
    return reduce(lo, hi);
}

void mpc_gf64_fold(uint64_t *out, const uint64_t *m, size_t n)
{
    for (size_t i = 0; i < n; i++)
        out[i] = fold64(m + 64 * i);
}

void mpc_bauth_and(uint64_t *out, const uint64_t *c, const uint64_t *a, const uint64_t *b, const uint64_t *d,
                   const uint64_t *e, uint64_t delta, int first, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        const uint64_t *pc = c + MPC_BAUTH_WORDS * i, *pa = a + MPC_BAUTH_WORDS * i, *pb = b + MPC_BAUTH_WORDS * i;
        uint64_t *po = out + MPC_BAUTH_WORDS * i;
        uint64_t dd = d[i], ee = e[i];
        po[0] = pc[0] ^ (dd & pb[0]) ^ (ee & pa[0]) ^ (first ? (dd & ee) : 0);
        uint64_t lo = 0, hi = 0;
        for (unsigned j = 0; j < 64; j++) {
            uint64_t sd = 0 - ((dd >> j) & 1), se = 0 - ((ee >> j) & 1);
            uint64_t m = pc[2 + j] ^ (sd & pb[2 + j]) ^ (se & pa[2 + j]) ^ (sd & se & delta);
            po[2 + j] = m;
            lo ^= m << j;
            hi ^= (m >> 1) >> (63 - j);
        }
        po[1] = reduce(lo, hi);
    }
}

void mpc_bauth_and_light(uint64_t *out, const uint64_t *c, const uint64_t *a, const uint64_t *b, const uint64_t *d,
                         const uint64_t *e, uint64_t delta, int first, size_t n)
{
#ifdef MPC_HAVE_PCLMUL_PATH
    int fast = have_pclmul();
#endif
    for (size_t i = 0; i < n; i++) {
        const uint64_t *pc = c + MPC_BAUTH_WORDS * i, *pa = a + MPC_BAUTH_WORDS * i, *pb = b + MPC_BAUTH_WORDS * i;
        uint64_t dd = d[i], ee = e[i], de = dd & ee;
        out[2 * i] = pc[0] ^ (dd & pb[0]) ^ (ee & pa[0]) ^ (first ? de : 0);
        uint64_t lo = 0, hi = 0;
        MPC_IVDEP
        for (unsigned j = 0; j < 64; j++) {
            uint64_t m = ((0 - ((dd >> j) & 1)) & pb[2 + j]) ^ ((0 - ((ee >> j) & 1)) & pa[2 + j]);
            lo ^= m << j;
            hi ^= (m >> 1) >> (63 - j);
        }
#ifdef MPC_HAVE_PCLMUL_PATH
        uint64_t dd_delta = fast ? mul_clmul(de, delta) : mul_portable(de, delta);
#else
        uint64_t dd_delta = mul_portable(de, delta);
#endif
        out[2 * i + 1] = pc[1] ^ reduce(lo, hi) ^ dd_delta;
    }
}

void mpc_bauth_and_public_light(uint64_t *out, const uint64_t *x, const uint64_t *c, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        const uint64_t *px = x + MPC_BAUTH_WORDS * i;
        uint64_t cc = c[i];
        out[2 * i] = px[0] & cc;
        uint64_t lo = 0, hi = 0;
        MPC_IVDEP
        for (unsigned j = 0; j < 64; j++) {
            uint64_t m = px[2 + j] & (0 - ((cc >> j) & 1));
            lo ^= m << j;
            hi ^= (m >> 1) >> (63 - j);
        }
        out[2 * i + 1] = reduce(lo, hi);
    }
}

void mpc_bauth_xor_public(uint64_t *out, const uint64_t *x, const uint64_t *c, uint64_t delta, int first, size_t n)
{
#ifdef MPC_HAVE_PCLMUL_PATH
    int fast = have_pclmul();
#endif
    for (size_t i = 0; i < n; i++) {
        const uint64_t *px = x + MPC_BAUTH_WORDS * i;
        uint64_t *po = out + MPC_BAUTH_WORDS * i;
        uint64_t cc = c[i];
        po[0] = px[0] ^ (first ? cc : 0);
#ifdef MPC_HAVE_PCLMUL_PATH
        po[1] = px[1] ^ (fast ? mul_clmul(cc, delta) : mul_portable(cc, delta));
#else
        po[1] = px[1] ^ mul_portable(cc, delta);
#endif
        MPC_IVDEP
        for (unsigned j = 0; j < 64; j++)
            po[2 + j] = px[2 + j] ^ ((0 - ((cc >> j) & 1)) & delta);
    }
}

void mpc_bauth_and_public(uint64_t *out, const uint64_t *x, const uint64_t *c, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        const uint64_t *px = x + MPC_BAUTH_WORDS * i;
        uint64_t *po = out + MPC_BAUTH_WORDS * i;
        uint64_t cc = c[i];
        po[0] = px[0] & cc;
        MPC_IVDEP
        for (unsigned j = 0; j < 64; j++)
            po[2 + j] = px[2 + j] & (0 - ((cc >> j) & 1));
        po[1] = fold64(po + 2);
    }
}
