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
#if MPC_X86_DISPATCH && !defined(MPC_HAVE_PCLMUL_PATH)
#error "the AVX-512 paths use the PCLMUL helpers"
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

/* ---- The first level of a comparison tree from pair products (mpc_bauth_lt_pairs_light) ----
 * One word of one pair: the bits and folded MACs of L and E from the records of the pair's low and
 * high bits (pl, ph), their product (pq) and the public words kl, kh; the ISA forms compute the two
 * folds (of the MACs selected by kh, kl, kl & kh for L and by kl, kh for E), this writes the rest. */
typedef void (*lt_pair_word_fn)(uint64_t *pL, uint64_t *pE, const uint64_t *pl, const uint64_t *ph,
                                const uint64_t *pq, uint64_t kl, uint64_t kh, uint64_t delta, int first);

static inline void lt_pair_finish(uint64_t *pL, uint64_t *pE, const uint64_t *pl, const uint64_t *ph,
                                  const uint64_t *pq, uint64_t kl, uint64_t kh, uint64_t fold_l, uint64_t fold_e,
                                  uint64_t kc_delta, int first)
{
    const uint64_t kc = kl & kh;
    pL[0] = (kh & ph[0]) ^ (kl & pq[0]) ^ (kc & pl[0]);
    pL[1] = fold_l;
    pE[0] = pq[0] ^ (kl & ph[0]) ^ (kh & pl[0]) ^ (first ? kc : 0);
    pE[1] = pq[1] ^ fold_e ^ kc_delta;
}

/* Rows 2t and 2t + 1 of r (and of c) are pair t's low and high bits, row t of q their product. */
static void lt_pairs_drive(lt_pair_word_fn word, uint64_t *l_out, uint64_t *e_out, const uint64_t *r,
                           const uint64_t *q, const uint64_t *c, uint64_t delta, int first, size_t pairs, size_t w)
{
    for (size_t t = 0; t < pairs; t++) {
        const uint64_t *rl = r + MPC_BAUTH_WORDS * w * (2 * t), *rh = rl + MPC_BAUTH_WORDS * w;
        const uint64_t *cl = c + w * (2 * t), *ch = cl + w, *qt = q + MPC_BAUTH_WORDS * w * t;
        for (size_t i = 0; i < w; i++)
            word(l_out + 2 * (w * t + i), e_out + 2 * (w * t + i), rl + MPC_BAUTH_WORDS * i, rh + MPC_BAUTH_WORDS * i,
                 qt + MPC_BAUTH_WORDS * i, cl[i], ch[i], delta, first);
    }
}

/* ---- AVX-512 paths of the bit-word kernels ----
 *
 * A word's 64 MAC shares are 8 zmm vectors; the bits of a public word (d, e, c) select lanes
 * directly as mask registers (bits 8v..8v+7 of d are the mask of vector v), so the selections
 * m_j & -(d_j) are masked loads. The fold sum_j X^j m_j is accumulated as two vectors of 8 lanes
 * (lane l of vector v carries j = 8v + l: m << j into lo, m >> (64 - j) into hi, a variable shift
 * of 64 giving 0 for j = 0), XORed across lanes and reduced once. Same results as the portable
 * loops, bit for bit (tests/test_spdz2k_kernels.py runs both). */
#if MPC_X86_DISPATCH
#define MPC_TARGET_GF2K_Z __attribute__((target("avx512f,avx512dq,pclmul")))

MPC_TARGET_GF2K_Z static inline uint64_t z_hxor(__m512i v)
{
    __m256i x = _mm256_xor_si256(_mm512_castsi512_si256(v), _mm512_extracti64x4_epi64(v, 1));
    __m128i y = _mm_xor_si128(_mm256_castsi256_si128(x), _mm256_extracti128_si256(x, 1));
    return (uint64_t)_mm_cvtsi128_si64(y) ^ (uint64_t)_mm_extract_epi64(y, 1);
}

/* The fold's shift counts: lane l of vector v shifts left by 8v + l and right by 64 - (8v + l). */
#define Z_FOLD_SETUP                                                                               \
    const __m512i z_iota = _mm512_set_epi64(7, 6, 5, 4, 3, 2, 1, 0);                               \
    const __m512i z_64 = _mm512_set1_epi64(64);
#define Z_SHL(v) _mm512_add_epi64(z_iota, _mm512_set1_epi64(8 * (v)))
#define Z_FOLD_INTO(lo_, hi_, m, v)                                                                \
    do {                                                                                           \
        const __m512i z_s = Z_SHL(v);                                                              \
        lo_ = _mm512_xor_si512(lo_, _mm512_sllv_epi64((m), z_s));                                  \
        hi_ = _mm512_xor_si512(hi_, _mm512_srlv_epi64((m), _mm512_sub_epi64(z_64, z_s)));          \
    } while (0)
#define Z_FOLD_STEP(m, v) Z_FOLD_INTO(lo, hi, m, v)

MPC_TARGET_GF2K_Z static void z_fold(uint64_t *out, const uint64_t *m, size_t n)
{
    Z_FOLD_SETUP
    for (size_t i = 0; i < n; i++) {
        const uint64_t *pm = m + 64 * i;
        __m512i lo = _mm512_setzero_si512(), hi = lo;
        MPC_UNROLL
        for (int v = 0; v < 8; v++) {
            __m512i x = _mm512_loadu_si512((const void *)(pm + 8 * v));
            Z_FOLD_STEP(x, v);
        }
        out[i] = reduce(z_hxor(lo), z_hxor(hi));
    }
}

MPC_TARGET_GF2K_Z static void z_and(uint64_t *out, const uint64_t *c, size_t cs, const uint64_t *a, const uint64_t *b,
                                    const uint64_t *d, const uint64_t *e, uint64_t delta, int first, size_t n,
                                    int light)
{
    Z_FOLD_SETUP
    const __m512i dv = _mm512_set1_epi64((long long)delta);
    for (size_t i = 0; i < n; i++) {
        const uint64_t *pc = c + cs * i, *pa = a + MPC_BAUTH_WORDS * i, *pb = b + MPC_BAUTH_WORDS * i;
        uint64_t dd = d[i], ee = e[i], de = dd & ee;
        uint64_t bits = pc[0] ^ (dd & pb[0]) ^ (ee & pa[0]) ^ (first ? de : 0);
        __m512i lo = _mm512_setzero_si512(), hi = lo;
        uint64_t *po = out + (light ? 2 : MPC_BAUTH_WORDS) * i;
        MPC_UNROLL
        for (int v = 0; v < 8; v++) {
            __mmask8 kd = (__mmask8)(dd >> (8 * v)), ke = (__mmask8)(ee >> (8 * v));
            __m512i m = _mm512_xor_si512(_mm512_maskz_loadu_epi64(kd, pb + 2 + 8 * v),
                                         _mm512_maskz_loadu_epi64(ke, pa + 2 + 8 * v));
            if (!light) {
                m = _mm512_xor_si512(m, _mm512_loadu_si512((const void *)(pc + 2 + 8 * v)));
                m = _mm512_mask_xor_epi64(m, (__mmask8)(kd & ke), m, dv);
                _mm512_storeu_si512((void *)(po + 2 + 8 * v), m);
            }
            Z_FOLD_STEP(m, v);
        }
        uint64_t f = reduce(z_hxor(lo), z_hxor(hi)); /* the fold of the MACs computed here */
        po[0] = bits;
        po[1] = light ? pc[1] ^ f ^ mul_clmul(de, delta) : f;
    }
}

MPC_TARGET_GF2K_Z static void z_and_public(uint64_t *out, const uint64_t *x, const uint64_t *c, size_t n, int light)
{
    Z_FOLD_SETUP
    for (size_t i = 0; i < n; i++) {
        const uint64_t *px = x + MPC_BAUTH_WORDS * i;
        uint64_t *po = out + (light ? 2 : MPC_BAUTH_WORDS) * i;
        uint64_t cc = c[i];
        __m512i lo = _mm512_setzero_si512(), hi = lo;
        MPC_UNROLL
        for (int v = 0; v < 8; v++) {
            __m512i m = _mm512_maskz_loadu_epi64((__mmask8)(cc >> (8 * v)), px + 2 + 8 * v);
            if (!light)
                _mm512_storeu_si512((void *)(po + 2 + 8 * v), m);
            Z_FOLD_STEP(m, v);
        }
        po[0] = px[0] & cc;
        po[1] = reduce(z_hxor(lo), z_hxor(hi));
    }
}

MPC_TARGET_GF2K_Z static void z_xor_public(uint64_t *out, const uint64_t *x, const uint64_t *c, uint64_t delta,
                                           int first, size_t n)
{
    const __m512i dv = _mm512_set1_epi64((long long)delta);
    for (size_t i = 0; i < n; i++) {
        const uint64_t *px = x + MPC_BAUTH_WORDS * i;
        uint64_t *po = out + MPC_BAUTH_WORDS * i;
        uint64_t cc = c[i];
        po[0] = px[0] ^ (first ? cc : 0);
        po[1] = px[1] ^ mul_clmul(cc, delta);
        MPC_UNROLL
        for (int v = 0; v < 8; v++) {
            __m512i m = _mm512_loadu_si512((const void *)(px + 2 + 8 * v));
            _mm512_storeu_si512((void *)(po + 2 + 8 * v), _mm512_mask_xor_epi64(m, (__mmask8)(cc >> (8 * v)), m, dv));
        }
    }
}
/* Each of the three records' 8 MAC vectors is loaded once and selected twice by mask registers. */
MPC_TARGET_GF2K_Z static void z_lt_pair_word(uint64_t *pL, uint64_t *pE, const uint64_t *pl, const uint64_t *ph,
                                             const uint64_t *pq, uint64_t kl, uint64_t kh, uint64_t delta, int first)
{
    Z_FOLD_SETUP
    const uint64_t kc = kl & kh;
    __m512i llo = _mm512_setzero_si512(), lhi = llo, elo = llo, ehi = llo;
    MPC_UNROLL
    for (int v = 0; v < 8; v++) {
        const __mmask8 ml = (__mmask8)(kl >> (8 * v)), mh = (__mmask8)(kh >> (8 * v)), mc = (__mmask8)(kc >> (8 * v));
        const __m512i xl = _mm512_loadu_si512((const void *)(pl + 2 + 8 * v));
        const __m512i xh = _mm512_loadu_si512((const void *)(ph + 2 + 8 * v));
        const __m512i xq = _mm512_loadu_si512((const void *)(pq + 2 + 8 * v));
        const __m512i to_l = _mm512_xor_si512(
            _mm512_xor_si512(_mm512_maskz_mov_epi64(mh, xh), _mm512_maskz_mov_epi64(ml, xq)),
            _mm512_maskz_mov_epi64(mc, xl));
        const __m512i to_e = _mm512_xor_si512(_mm512_maskz_mov_epi64(ml, xh), _mm512_maskz_mov_epi64(mh, xl));
        Z_FOLD_INTO(llo, lhi, to_l, v);
        Z_FOLD_INTO(elo, ehi, to_e, v);
    }
    lt_pair_finish(pL, pE, pl, ph, pq, kl, kh, reduce(z_hxor(llo), z_hxor(lhi)), reduce(z_hxor(elo), z_hxor(ehi)),
                   mul_clmul(kc, delta), first);
}
/* Delta where bit j of the word is set, XORed onto the 64 words of m: mask registers select. */
MPC_TARGET_GF2K_Z static void z_bit_macs_xor(uint64_t *out, const uint64_t *w, uint64_t delta, const uint64_t *m,
                                             size_t n)
{
    const __m512i dv = _mm512_set1_epi64((long long)delta);
    for (size_t i = 0; i < n; i++) {
        const uint64_t word = w[i], *pm = m + 64 * i;
        uint64_t *po = out + 64 * i;
        MPC_UNROLL
        for (int v = 0; v < 8; v++) {
            const __m512i x = _mm512_loadu_si512((const void *)(pm + 8 * v));
            _mm512_storeu_si512((void *)(po + 8 * v), _mm512_mask_xor_epi64(x, (__mmask8)(word >> (8 * v)), x, dv));
        }
    }
}
#undef Z_FOLD_STEP
#undef Z_SHL
#undef Z_FOLD_SETUP

/* ---- AVX2 paths (CPUs without AVX-512, e.g. AMD Zen 2) ----
 *
 * The same computation on 16 vectors of 4 lanes per word (lane l of vector v carries bit
 * j = 4v + l). AVX2 has no mask registers, so a public word's bit j becomes a lane mask by moving
 * it to the sign bit (a variable left shift by 63 - j) and comparing with zero. The light AND
 * reads a's and b's 64 MACs (1 KiB per word), so it runs at the memory bound: ~65 ns per word
 * on a Zen 2, what NumPy takes to XOR-reduce those bytes, against ~108 ns for the portable loop
 * as the compiler vectorises it under -march=native (bench/kernels.py, group bauth). Same
 * results as the portable loops, bit for bit (tests/test_spdz2k_kernels.py runs every path this
 * CPU has). */
#define MPC_TARGET_GF2K_Y __attribute__((target("avx2,pclmul")))

MPC_TARGET_GF2K_Y static inline uint64_t y_hxor(__m256i v)
{
    __m128i y = _mm_xor_si128(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
    return (uint64_t)_mm_cvtsi128_si64(y) ^ (uint64_t)_mm_extract_epi64(y, 1);
}

/* Lane l of vector v carries bit j = 4v + l: Y_J gives those positions (constants once the loop
 * over v is unrolled); a public word's bit j is moved to the sign by a left shift of 63 - j, and
 * the fold shifts right by 64 - j (64 gives 0 for j = 0). */
#define Y_J(v) _mm256_set_epi64x(4 * (v) + 3, 4 * (v) + 2, 4 * (v) + 1, 4 * (v))
/* all ones in lane l where bit 4v + l of the broadcast word w is set */
#define Y_SELECT(w, j)                                                                             \
    _mm256_cmpgt_epi64(_mm256_setzero_si256(), _mm256_sllv_epi64((w), _mm256_sub_epi64(_mm256_set1_epi64x(63), (j))))
#define Y_FOLD_INTO(lo_, hi_, m, j)                                                                \
    do {                                                                                           \
        lo_ = _mm256_xor_si256(lo_, _mm256_sllv_epi64((m), (j)));                                  \
        hi_ = _mm256_xor_si256(hi_, _mm256_srlv_epi64((m), _mm256_sub_epi64(_mm256_set1_epi64x(64), (j)))); \
    } while (0)
#define Y_FOLD_STEP(m, j) Y_FOLD_INTO(lo, hi, m, j)
#define Y_LOAD(p) _mm256_loadu_si256((const void *)(p))
#define Y_STORE(p, x) _mm256_storeu_si256((void *)(p), (x))

MPC_TARGET_GF2K_Y static void y_fold(uint64_t *out, const uint64_t *m, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        const uint64_t *pm = m + 64 * i;
        __m256i lo = _mm256_setzero_si256(), hi = lo;
        MPC_UNROLL16
        for (int v = 0; v < 16; v++) {
            const __m256i j = Y_J(v);
            Y_FOLD_STEP(Y_LOAD(pm + 4 * v), j);
        }
        out[i] = reduce(y_hxor(lo), y_hxor(hi));
    }
}

MPC_TARGET_GF2K_Y static void y_and(uint64_t *out, const uint64_t *c, size_t cs, const uint64_t *a, const uint64_t *b,
                                    const uint64_t *d, const uint64_t *e, uint64_t delta, int first, size_t n,
                                    int light)
{
    const __m256i dv = _mm256_set1_epi64x((long long)delta);
    for (size_t i = 0; i < n; i++) {
        const uint64_t *pc = c + cs * i, *pa = a + MPC_BAUTH_WORDS * i, *pb = b + MPC_BAUTH_WORDS * i;
        uint64_t dd = d[i], ee = e[i], de = dd & ee;
        uint64_t bits = pc[0] ^ (dd & pb[0]) ^ (ee & pa[0]) ^ (first ? de : 0);
        const __m256i wd = _mm256_set1_epi64x((long long)dd), we = _mm256_set1_epi64x((long long)ee);
        __m256i lo = _mm256_setzero_si256(), hi = lo;
        uint64_t *po = out + (light ? 2 : MPC_BAUTH_WORDS) * i;
        MPC_UNROLL16
        for (int v = 0; v < 16; v++) {
            const __m256i j = Y_J(v), sd = Y_SELECT(wd, j), se = Y_SELECT(we, j);
            __m256i m = _mm256_xor_si256(_mm256_and_si256(sd, Y_LOAD(pb + 2 + 4 * v)),
                                         _mm256_and_si256(se, Y_LOAD(pa + 2 + 4 * v)));
            if (!light) {
                m = _mm256_xor_si256(m, Y_LOAD(pc + 2 + 4 * v));
                m = _mm256_xor_si256(m, _mm256_and_si256(_mm256_and_si256(sd, se), dv));
                Y_STORE(po + 2 + 4 * v, m);
            }
            Y_FOLD_STEP(m, j);
        }
        uint64_t f = reduce(y_hxor(lo), y_hxor(hi)); /* the fold of the MACs computed here */
        po[0] = bits;
        po[1] = light ? pc[1] ^ f ^ mul_clmul(de, delta) : f;
    }
}

MPC_TARGET_GF2K_Y static void y_and_public(uint64_t *out, const uint64_t *x, const uint64_t *c, size_t n, int light)
{
    for (size_t i = 0; i < n; i++) {
        const uint64_t *px = x + MPC_BAUTH_WORDS * i;
        uint64_t *po = out + (light ? 2 : MPC_BAUTH_WORDS) * i;
        uint64_t cc = c[i];
        const __m256i wc = _mm256_set1_epi64x((long long)cc);
        __m256i lo = _mm256_setzero_si256(), hi = lo;
        MPC_UNROLL16
        for (int v = 0; v < 16; v++) {
            const __m256i j = Y_J(v);
            __m256i m = _mm256_and_si256(Y_SELECT(wc, j), Y_LOAD(px + 2 + 4 * v));
            if (!light)
                Y_STORE(po + 2 + 4 * v, m);
            Y_FOLD_STEP(m, j);
        }
        po[0] = px[0] & cc;
        po[1] = reduce(y_hxor(lo), y_hxor(hi));
    }
}

MPC_TARGET_GF2K_Y static void y_xor_public(uint64_t *out, const uint64_t *x, const uint64_t *c, uint64_t delta,
                                           int first, size_t n)
{
    const __m256i dv = _mm256_set1_epi64x((long long)delta);
    for (size_t i = 0; i < n; i++) {
        const uint64_t *px = x + MPC_BAUTH_WORDS * i;
        uint64_t *po = out + MPC_BAUTH_WORDS * i;
        uint64_t cc = c[i];
        const __m256i wc = _mm256_set1_epi64x((long long)cc);
        po[0] = px[0] ^ (first ? cc : 0);
        po[1] = px[1] ^ mul_clmul(cc, delta);
        MPC_UNROLL16
        for (int v = 0; v < 16; v++)
            Y_STORE(po + 2 + 4 * v,
                    _mm256_xor_si256(Y_LOAD(px + 2 + 4 * v), _mm256_and_si256(Y_SELECT(wc, Y_J(v)), dv)));
    }
}
MPC_TARGET_GF2K_Y static void y_lt_pair_word(uint64_t *pL, uint64_t *pE, const uint64_t *pl, const uint64_t *ph,
                                             const uint64_t *pq, uint64_t kl, uint64_t kh, uint64_t delta, int first)
{
    const __m256i wl = _mm256_set1_epi64x((long long)kl), wh = _mm256_set1_epi64x((long long)kh);
    __m256i llo = _mm256_setzero_si256(), lhi = llo, elo = llo, ehi = llo;
    MPC_UNROLL16
    for (int v = 0; v < 16; v++) {
        const __m256i j = Y_J(v), sl = Y_SELECT(wl, j), sh = Y_SELECT(wh, j);
        const __m256i xl = Y_LOAD(pl + 2 + 4 * v), xh = Y_LOAD(ph + 2 + 4 * v), xq = Y_LOAD(pq + 2 + 4 * v);
        const __m256i to_l = _mm256_xor_si256(_mm256_xor_si256(_mm256_and_si256(sh, xh), _mm256_and_si256(sl, xq)),
                                              _mm256_and_si256(_mm256_and_si256(sl, sh), xl));
        const __m256i to_e = _mm256_xor_si256(_mm256_and_si256(sl, xh), _mm256_and_si256(sh, xl));
        Y_FOLD_INTO(llo, lhi, to_l, j);
        Y_FOLD_INTO(elo, ehi, to_e, j);
    }
    lt_pair_finish(pL, pE, pl, ph, pq, kl, kh, reduce(y_hxor(llo), y_hxor(lhi)), reduce(y_hxor(elo), y_hxor(ehi)),
                   mul_clmul(kl & kh, delta), first);
}
MPC_TARGET_GF2K_Y static void y_bit_macs_xor(uint64_t *out, const uint64_t *w, uint64_t delta, const uint64_t *m,
                                             size_t n)
{
    const __m256i dv = _mm256_set1_epi64x((long long)delta);
    for (size_t i = 0; i < n; i++) {
        const __m256i word = _mm256_set1_epi64x((long long)w[i]);
        const uint64_t *pm = m + 64 * i;
        uint64_t *po = out + 64 * i;
        MPC_UNROLL16
        for (int v = 0; v < 16; v++)
            Y_STORE(po + 4 * v, _mm256_xor_si256(Y_LOAD(pm + 4 * v), _mm256_and_si256(Y_SELECT(word, Y_J(v)), dv)));
    }
}
#undef Y_STORE
#undef Y_LOAD
#undef Y_FOLD_STEP
#undef Y_SELECT
#undef Y_J

static int avx512_ok(void)
{
    static int known = -1; /* computed once; a race writes the same value */
    if (known < 0) {
        __builtin_cpu_init();
        known = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512dq") &&
                __builtin_cpu_supports("pclmul");
    }
    return known;
}

static int avx2_ok(void)
{
    static int known = -1;
    if (known < 0) {
        __builtin_cpu_init();
        known = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("pclmul");
    }
    return known;
}
#endif

static int g_forced = MPC_GF2K_AUTO;

int mpc_gf2k_isa_supported(int isa)
{
#if MPC_X86_DISPATCH
    if (isa == MPC_GF2K_AVX512)
        return avx512_ok();
    if (isa == MPC_GF2K_AVX2)
        return avx2_ok();
#endif
    return isa == MPC_GF2K_AUTO || isa == MPC_GF2K_PORTABLE;
}

int mpc_gf2k_set_isa(int isa)
{
    if (!mpc_gf2k_isa_supported(isa))
        return -1;
    g_forced = isa;
    return 0;
}

int mpc_gf2k_isa(void)
{
#if MPC_X86_DISPATCH
    /* a forced choice was checked by mpc_gf2k_set_isa; auto takes the widest this CPU has */
    if (g_forced == MPC_GF2K_AVX512 || (g_forced == MPC_GF2K_AUTO && avx512_ok()))
        return MPC_GF2K_AVX512;
    if (g_forced == MPC_GF2K_AVX2 || (g_forced == MPC_GF2K_AUTO && avx2_ok()))
        return MPC_GF2K_AVX2;
#endif
    return MPC_GF2K_PORTABLE;
}

/* Run the AVX-512 (z_*) or AVX2 (y_*) form of a kernel when that is the chosen path. */
#if MPC_X86_DISPATCH
#define Z_DISPATCH(zcall, ycall)                                                                   \
    switch (mpc_gf2k_isa()) {                                                                      \
    case MPC_GF2K_AVX512:                                                                          \
        zcall;                                                                                     \
        return;                                                                                    \
    case MPC_GF2K_AVX2:                                                                            \
        ycall;                                                                                     \
        return;                                                                                    \
    default:                                                                                       \
        break;                                                                                     \
    }
#else
#define Z_DISPATCH(zcall, ycall)
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
    Z_DISPATCH(z_fold(out, m, n), y_fold(out, m, n))
    for (size_t i = 0; i < n; i++)
        out[i] = fold64(m + 64 * i);
}

void mpc_bit_macs_xor(uint64_t *out, const uint64_t *w, uint64_t delta, const uint64_t *m, size_t n)
{
    Z_DISPATCH(z_bit_macs_xor(out, w, delta, m, n), y_bit_macs_xor(out, w, delta, m, n))
    for (size_t i = 0; i < n; i++) {
        const uint64_t word = w[i], *pm = m + 64 * i;
        uint64_t *po = out + 64 * i;
        for (unsigned j = 0; j < 64; j++) /* element j is read before it is written: out may be m */
            po[j] = pm[j] ^ ((0 - ((word >> j) & 1)) & delta);
    }
}

void mpc_bauth_and(uint64_t *out, const uint64_t *c, const uint64_t *a, const uint64_t *b, const uint64_t *d,
                   const uint64_t *e, uint64_t delta, int first, size_t n)
{
    const size_t cs = MPC_BAUTH_WORDS;
    Z_DISPATCH(z_and(out, c, cs, a, b, d, e, delta, first, n, 0), y_and(out, c, cs, a, b, d, e, delta, first, n, 0))
    for (size_t i = 0; i < n; i++) {
        const uint64_t *pc = c + cs * i, *pa = a + MPC_BAUTH_WORDS * i, *pb = b + MPC_BAUTH_WORDS * i;
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

void mpc_bauth_and_light(uint64_t *out, const uint64_t *c, size_t cs, const uint64_t *a, const uint64_t *b,
                         const uint64_t *d, const uint64_t *e, uint64_t delta, int first, size_t n)
{
    Z_DISPATCH(z_and(out, c, cs, a, b, d, e, delta, first, n, 1), y_and(out, c, cs, a, b, d, e, delta, first, n, 1))
#ifdef MPC_HAVE_PCLMUL_PATH
    int fast = have_pclmul();
#endif
    for (size_t i = 0; i < n; i++) {
        const uint64_t *pc = c + cs * i, *pa = a + MPC_BAUTH_WORDS * i, *pb = b + MPC_BAUTH_WORDS * i;
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
    Z_DISPATCH(z_and_public(out, x, c, n, 1), y_and_public(out, x, c, n, 1))
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

void mpc_bauth_and_xor_public_light(uint64_t *and_out, uint64_t *xor_out, const uint64_t *x, const uint64_t *c,
                                    uint64_t delta, int first, size_t n)
{
    /* Blocks of 64 records (33 KiB): the AND kernel streams a block's records in, and the XOR
     * reads their first words while they are still in cache, instead of a second pass over the
     * records that would take one cache line of every 528-byte record from memory (as long as
     * the AND's whole pass). */
    enum { BLOCK = 64 };
    uint64_t keys[BLOCK], cd[BLOCK];
    for (size_t i = 0; i < BLOCK; i++)
        keys[i] = delta;
    for (size_t i0 = 0; i0 < n; i0 += BLOCK) {
        const size_t m = n - i0 < BLOCK ? n - i0 : BLOCK;
        mpc_bauth_and_public_light(and_out + 2 * i0, x + MPC_BAUTH_WORDS * i0, c + i0, m);
        mpc_gf64_mul(cd, c + i0, keys, m); /* c * delta, a block at a time (the vector path) */
        for (size_t i = 0; i < m; i++) {
            const uint64_t *px = x + MPC_BAUTH_WORDS * (i0 + i);
            xor_out[2 * (i0 + i)] = px[0] ^ (first ? c[i0 + i] : 0);
            xor_out[2 * (i0 + i) + 1] = px[1] ^ cd[i];
        }
    }
}

static void lt_pair_word_portable(uint64_t *pL, uint64_t *pE, const uint64_t *pl, const uint64_t *ph,
                                  const uint64_t *pq, uint64_t kl, uint64_t kh, uint64_t delta, int first)
{
    uint64_t llo = 0, lhi = 0, elo = 0, ehi = 0, kc_delta;
    MPC_IVDEP
    for (unsigned j = 0; j < 64; j++) {
        const uint64_t sl = 0 - ((kl >> j) & 1), sh = 0 - ((kh >> j) & 1);
        const uint64_t to_l = (sh & ph[2 + j]) ^ (sl & pq[2 + j]) ^ (sl & sh & pl[2 + j]);
        const uint64_t to_e = (sl & ph[2 + j]) ^ (sh & pl[2 + j]);
        llo ^= to_l << j;
        lhi ^= (to_l >> 1) >> (63 - j);
        elo ^= to_e << j;
        ehi ^= (to_e >> 1) >> (63 - j);
    }
    const uint64_t kc = kl & kh;
    mpc_gf64_mul(&kc_delta, &kc, &delta, 1);
    lt_pair_finish(pL, pE, pl, ph, pq, kl, kh, reduce(llo, lhi), reduce(elo, ehi), kc_delta, first);
}

void mpc_bauth_lt_pairs_light(uint64_t *l_out, uint64_t *e_out, const uint64_t *r, const uint64_t *q,
                              const uint64_t *c, uint64_t delta, int first, size_t pairs, size_t w)
{
    lt_pair_word_fn word = lt_pair_word_portable;
#if MPC_X86_DISPATCH
    switch (mpc_gf2k_isa()) {
    case MPC_GF2K_AVX512:
        word = z_lt_pair_word;
        break;
    case MPC_GF2K_AVX2:
        word = y_lt_pair_word;
        break;
    default:
        break;
    }
#endif
    lt_pairs_drive(word, l_out, e_out, r, q, c, delta, first, pairs, w);
}

void mpc_bauth_xor_public(uint64_t *out, const uint64_t *x, const uint64_t *c, uint64_t delta, int first, size_t n)
{
    Z_DISPATCH(z_xor_public(out, x, c, delta, first, n), y_xor_public(out, x, c, delta, first, n))
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
    Z_DISPATCH(z_and_public(out, x, c, n, 0), y_and_public(out, x, c, n, 0))
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

void mpc_bauth_mask(uint64_t *w, uint64_t *f, const uint64_t *x, const uint64_t *a, size_t stride, size_t n)
{
    if (stride == 2) { /* light words: one sequential stream */
        for (size_t i = 0; i < n; i++) {
            w[i] = x[2 * i] ^ a[2 * i];
            f[i] = x[2 * i + 1] ^ a[2 * i + 1];
        }
        return;
    }
    /* Records 528 bytes apart: one cache line of each is read, so the loads are latency-bound;
     * prefetching a few records ahead keeps several misses in flight. (Still about 10 ns a record
     * on Zen 4 against 2.6 for light words, out of cache: hence the triples' heads,
     * mpc.engines.authbits.) */
    for (size_t i = 0; i < n; i++) {
        const uint64_t *pa = a + stride * i;
        __builtin_prefetch(pa + 8 * stride, 0, 0);
        w[i] = x[2 * i] ^ pa[0];
        f[i] = x[2 * i + 1] ^ pa[1];
    }
}
