/* Montgomery multi-exponentiation, portable and AVX-512 IFMA (see mpc/montgomery.h). */
#include <string.h>

#include "mpc/compiler.h"
#include "mpc/montgomery.h"

#if MPC_X86_DISPATCH
#include <immintrin.h>
#define MPC_TARGET_IFMA __attribute__((target("avx512f,avx512ifma")))
#endif

typedef unsigned __int128 u128;

/* Fully unroll a loop over at most 16 vectors (the accumulator then stays in registers). */
#if defined(__clang__)
#define MPC_UNROLL16 _Pragma("unroll")
#elif defined(__GNUC__)
#define MPC_UNROLL16 _Pragma("GCC unroll 16")
#else
#define MPC_UNROLL16
#endif

#define M52 ((((uint64_t)1) << 52) - 1)
#define MAX_NV 16 /* IFMA: up to 16 vectors of 8 digits (6656 bits) */
#define MAX_WORDS (MPC_MONT_MAX_LIMBS + 8)

/* ------------------------------------------------------------------------------------------ */
/* a job's context: the modulus in the internal format of the chosen multiplication */

typedef struct {
    int ifma;        /* 1: radix 2^52 digits in 8-word vectors; 0: 64-bit words */
    size_t limbs;    /* words of N at the boundary */
    size_t words;    /* words of a number inside (limbs, or 8 * nv) */
    size_t nv;       /* IFMA vectors */
    uint64_t k0;     /* -N^(-1) mod 2^64 (portable) or mod 2^52 (IFMA) */
    uint64_t *n;     /* N, internal format (words) */
    uint64_t *r2;    /* R^2 mod N, internal format */
    uint64_t *unit;  /* the plain number 1, internal format (for leaving Montgomery form) */
    uint64_t *one_m; /* R mod N = 1 in Montgomery form */
} ctx_t;

static int g_isa_forced = MPC_MONT_AUTO; /* only written by mpc_mont_set_isa (tests, benchmarks) */

int mpc_mont_isa_supported(int isa) {
    if (isa == MPC_MONT_PORTABLE) return 1;
#if MPC_X86_DISPATCH
    if (isa == MPC_MONT_IFMA) return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512ifma");
#endif
    return 0;
}

int mpc_mont_set_isa(int isa) {
    if (isa != MPC_MONT_AUTO && !mpc_mont_isa_supported(isa)) return -1;
    g_isa_forced = isa;
    return 0;
}

int mpc_mont_isa(void) {
    if (g_isa_forced != MPC_MONT_AUTO) return g_isa_forced;
    return mpc_mont_isa_supported(MPC_MONT_IFMA) ? MPC_MONT_IFMA : MPC_MONT_PORTABLE;
}

static uint64_t n0inv64(uint64_t n0) {
    uint64_t x = n0; /* Newton's iteration doubles the correct low bits (n0 * n0 = 1 mod 8) */
    for (int i = 0; i < 6; i++) x *= 2 - n0 * x;
    return (uint64_t)0 - x;
}

static size_t bit_length(const uint64_t *x, size_t limbs) {
    for (size_t j = limbs; j-- > 0;)
        if (x[j]) return 64 * j + 64 - (size_t)__builtin_clzll(x[j]);
    return 0;
}

/* ------------------------------------------------------------------------------------------ */
/* portable: CIOS with 64-bit words */

/* t (limbs + 1 words, t < 2N) -> out, subtracting N once when t >= N. */
static MPC_ALWAYS_INLINE void final_sub64(uint64_t *out, const uint64_t *t, const uint64_t *n, size_t limbs) {
    int ge = t[limbs] != 0;
    if (!ge) {
        ge = 1;
        for (size_t j = limbs; j-- > 0;) {
            if (t[j] != n[j]) {
                ge = t[j] > n[j];
                break;
            }
        }
    }
    if (ge) {
        uint64_t borrow = 0;
        for (size_t j = 0; j < limbs; j++) {
            u128 d = (u128)t[j] - n[j] - borrow;
            out[j] = (uint64_t)d;
            borrow = (uint64_t)(d >> 64) & 1;
        }
    } else {
        memcpy(out, t, limbs * sizeof(uint64_t));
    }
}

/* out = a b R^(-1) mod N; out may be a or b. */
static void mul64(uint64_t *out, const uint64_t *a, const uint64_t *b, const uint64_t *n, uint64_t n0inv,
                  size_t limbs) {
    uint64_t t[MPC_MONT_MAX_LIMBS + 2];
    memset(t, 0, (limbs + 2) * sizeof(uint64_t));
    for (size_t i = 0; i < limbs; i++) {
        uint64_t bi = b[i], c = 0;
        for (size_t j = 0; j < limbs; j++) {
            u128 s = (u128)a[j] * bi + t[j] + c;
            t[j] = (uint64_t)s;
            c = (uint64_t)(s >> 64);
        }
        u128 s = (u128)t[limbs] + c;
        t[limbs] = (uint64_t)s;
        t[limbs + 1] = (uint64_t)(s >> 64);
        uint64_t q = t[0] * n0inv;
        s = (u128)q * n[0] + t[0];
        c = (uint64_t)(s >> 64);
        for (size_t j = 1; j < limbs; j++) {
            s = (u128)q * n[j] + t[j] + c;
            t[j - 1] = (uint64_t)s;
            c = (uint64_t)(s >> 64);
        }
        s = (u128)t[limbs] + c;
        t[limbs - 1] = (uint64_t)s;
        t[limbs] = t[limbs + 1] + (uint64_t)(s >> 64);
    }
    final_sub64(out, t, n, limbs);
}

/* ------------------------------------------------------------------------------------------ */
/* AVX-512 IFMA: radix 2^52 */

#if MPC_X86_DISPATCH
/* acc (NV vectors of unnormalised digits, value < 2N) -> out: normalised digits, reduced below N. */
static MPC_TARGET_IFMA MPC_ALWAYS_INLINE void norm_reduce52(uint64_t *out, const __m512i *acc, const uint64_t *n,
                                                            const int NV) {
    uint64_t t[8 * MAX_NV];
    MPC_UNROLL16
    for (int v = 0; v < NV; v++) _mm512_storeu_si512((void *)(t + 8 * v), acc[v]);
    uint64_t c = 0;
    for (int j = 0; j < 8 * NV; j++) {
        uint64_t s = t[j] + c;
        t[j] = s & M52;
        c = s >> 52;
    }
    int ge = c != 0;
    if (!ge) {
        ge = 1;
        for (int j = 8 * NV; j-- > 0;) {
            if (t[j] != n[j]) {
                ge = t[j] > n[j];
                break;
            }
        }
    }
    if (ge) {
        uint64_t borrow = 0;
        for (int j = 0; j < 8 * NV; j++) {
            uint64_t d = t[j] - n[j] - borrow;
            out[j] = d & M52;
            borrow = d >> 63;
        }
    } else {
        memcpy(out, t, 8 * (size_t)NV * sizeof(uint64_t));
    }
}

/* out = a b R^(-1) mod N with R = 2^(416 NV); a, b < N in normalised digits (< 2^52); out may be
 * a or b. Each step i adds lo(a b_i) and lo(N y), y = (acc_0 k0) mod 2^52 making digit 0
 * divisible by 2^52, shifts the accumulator down one digit (carrying digit 0's high part), then
 * adds hi(a b_i) and hi(N y), which belong one digit up. A lane gains < 2^54 per step and lives
 * at most 8 NV <= 128 steps: < 2^61, no overflow; the result (< 2N) is normalised and reduced. */
static MPC_TARGET_IFMA MPC_ALWAYS_INLINE void amm52(uint64_t *out, const uint64_t *a, const uint64_t *b,
                                                    const uint64_t *n, uint64_t k0, const int NV) {
    __m512i acc[MAX_NV], av[MAX_NV], nv[MAX_NV];
    const __m512i zero = _mm512_setzero_si512();
    MPC_UNROLL16
    for (int v = 0; v < NV; v++) {
        acc[v] = zero;
        av[v] = _mm512_loadu_si512((const void *)(a + 8 * v));
        nv[v] = _mm512_loadu_si512((const void *)(n + 8 * v));
    }
    const uint64_t n0 = n[0];
    for (int i = 0; i < 8 * NV; i++) {
        const __m512i bi = _mm512_set1_epi64((long long)b[i]);
        MPC_UNROLL16
        for (int v = 0; v < NV; v++) acc[v] = _mm512_madd52lo_epu64(acc[v], av[v], bi);
        const uint64_t a0 = (uint64_t)_mm_cvtsi128_si64(_mm512_castsi512_si128(acc[0]));
        const uint64_t y = (a0 * k0) & M52;
        const __m512i yv = _mm512_set1_epi64((long long)y);
        MPC_UNROLL16
        for (int v = 0; v < NV; v++) acc[v] = _mm512_madd52lo_epu64(acc[v], nv[v], yv);
        const uint64_t carry = (a0 + ((n0 * y) & M52)) >> 52;
        MPC_UNROLL16
        for (int v = 0; v < NV - 1; v++) acc[v] = _mm512_alignr_epi64(acc[v + 1], acc[v], 1);
        acc[NV - 1] = _mm512_alignr_epi64(zero, acc[NV - 1], 1);
        MPC_UNROLL16
        for (int v = 0; v < NV; v++) {
            acc[v] = _mm512_madd52hi_epu64(acc[v], av[v], bi);
            acc[v] = _mm512_madd52hi_epu64(acc[v], nv[v], yv);
        }
        acc[0] = _mm512_add_epi64(acc[0], _mm512_zextsi128_si512(_mm_cvtsi64_si128((long long)carry)));
    }
    norm_reduce52(out, acc, n, NV);
}

/* Two independent products with the same modulus, interleaved step by step: out1 = a1 b1 / R,
 * out2 = a2 b2 / R (each out may be its own a or b). For small NV one product is bound by the
 * latency of its serial chain (digit 0 -> y -> the next step), which the second one fills. */
static MPC_TARGET_IFMA MPC_ALWAYS_INLINE void amm52x2(uint64_t *out1, const uint64_t *a1, const uint64_t *b1,
                                                      uint64_t *out2, const uint64_t *a2, const uint64_t *b2,
                                                      const uint64_t *n, uint64_t k0, const int NV) {
    __m512i acc1[MAX_NV], acc2[MAX_NV];
    const __m512i zero = _mm512_setzero_si512();
    MPC_UNROLL16
    for (int v = 0; v < NV; v++) acc1[v] = acc2[v] = zero;
    const uint64_t n0 = n[0];
    for (int i = 0; i < 8 * NV; i++) {
        const __m512i bi1 = _mm512_set1_epi64((long long)b1[i]), bi2 = _mm512_set1_epi64((long long)b2[i]);
        MPC_UNROLL16
        for (int v = 0; v < NV; v++) {
            acc1[v] = _mm512_madd52lo_epu64(acc1[v], _mm512_loadu_si512((const void *)(a1 + 8 * v)), bi1);
            acc2[v] = _mm512_madd52lo_epu64(acc2[v], _mm512_loadu_si512((const void *)(a2 + 8 * v)), bi2);
        }
        const uint64_t x0 = (uint64_t)_mm_cvtsi128_si64(_mm512_castsi512_si128(acc1[0]));
        const uint64_t z0 = (uint64_t)_mm_cvtsi128_si64(_mm512_castsi512_si128(acc2[0]));
        const uint64_t y1 = (x0 * k0) & M52, y2 = (z0 * k0) & M52;
        const __m512i yv1 = _mm512_set1_epi64((long long)y1), yv2 = _mm512_set1_epi64((long long)y2);
        MPC_UNROLL16
        for (int v = 0; v < NV; v++) {
            const __m512i nn = _mm512_loadu_si512((const void *)(n + 8 * v));
            acc1[v] = _mm512_madd52lo_epu64(acc1[v], nn, yv1);
            acc2[v] = _mm512_madd52lo_epu64(acc2[v], nn, yv2);
        }
        const uint64_t c1 = (x0 + ((n0 * y1) & M52)) >> 52, c2 = (z0 + ((n0 * y2) & M52)) >> 52;
        MPC_UNROLL16
        for (int v = 0; v < NV - 1; v++) {
            acc1[v] = _mm512_alignr_epi64(acc1[v + 1], acc1[v], 1);
            acc2[v] = _mm512_alignr_epi64(acc2[v + 1], acc2[v], 1);
        }
        acc1[NV - 1] = _mm512_alignr_epi64(zero, acc1[NV - 1], 1);
        acc2[NV - 1] = _mm512_alignr_epi64(zero, acc2[NV - 1], 1);
        MPC_UNROLL16
        for (int v = 0; v < NV; v++) {
            const __m512i nn = _mm512_loadu_si512((const void *)(n + 8 * v));
            acc1[v] = _mm512_madd52hi_epu64(acc1[v], _mm512_loadu_si512((const void *)(a1 + 8 * v)), bi1);
            acc1[v] = _mm512_madd52hi_epu64(acc1[v], nn, yv1);
            acc2[v] = _mm512_madd52hi_epu64(acc2[v], _mm512_loadu_si512((const void *)(a2 + 8 * v)), bi2);
            acc2[v] = _mm512_madd52hi_epu64(acc2[v], nn, yv2);
        }
        acc1[0] = _mm512_add_epi64(acc1[0], _mm512_zextsi128_si512(_mm_cvtsi64_si128((long long)c1)));
        acc2[0] = _mm512_add_epi64(acc2[0], _mm512_zextsi128_si512(_mm_cvtsi64_si128((long long)c2)));
    }
    norm_reduce52(out1, acc1, n, NV);
    norm_reduce52(out2, acc2, n, NV);
}

#define AMM2_CASE(k) \
    case k: amm52x2(out1, a1, b1, out2, a2, b2, n, k0, k); break;

static MPC_TARGET_IFMA void mul52x2(uint64_t *out1, const uint64_t *a1, const uint64_t *b1, uint64_t *out2,
                                    const uint64_t *a2, const uint64_t *b2, const uint64_t *n, uint64_t k0,
                                    size_t nvec) {
    switch (nvec) {
        AMM2_CASE(1) AMM2_CASE(2) AMM2_CASE(3) AMM2_CASE(4) AMM2_CASE(5) AMM2_CASE(6) AMM2_CASE(7) AMM2_CASE(8)
        default: break;
    }
}

#define AMM_CASE(k) \
    case k: amm52(out, a, b, n, k0, k); break;

static MPC_TARGET_IFMA void mul52(uint64_t *out, const uint64_t *a, const uint64_t *b, const uint64_t *n,
                                  uint64_t k0, size_t nvec) {
    switch (nvec) {
        AMM_CASE(1) AMM_CASE(2) AMM_CASE(3) AMM_CASE(4) AMM_CASE(5) AMM_CASE(6) AMM_CASE(7) AMM_CASE(8)
        AMM_CASE(9) AMM_CASE(10) AMM_CASE(11) AMM_CASE(12) AMM_CASE(13) AMM_CASE(14) AMM_CASE(15)
        AMM_CASE(16)
        default: break;
    }
}
#endif

/* ------------------------------------------------------------------------------------------ */
/* dispatch and format conversion */

static MPC_ALWAYS_INLINE void cmul(const ctx_t *c, uint64_t *out, const uint64_t *a, const uint64_t *b) {
#if MPC_X86_DISPATCH
    if (c->ifma) {
        mul52(out, a, b, c->n, c->k0, c->nv);
        return;
    }
#endif
    mul64(out, a, b, c->n, c->k0, c->limbs);
}

/* normal 64-bit words -> internal digits (not Montgomery form) */
/* Two products at once (interleaved when that pays: IFMA with at most 8 vectors). */
static MPC_ALWAYS_INLINE void cmul2(const ctx_t *c, uint64_t *o1, const uint64_t *a1, const uint64_t *b1, uint64_t *o2,
                                    const uint64_t *a2, const uint64_t *b2) {
#if MPC_X86_DISPATCH
    if (c->ifma && c->nv <= 8) {
        mul52x2(o1, a1, b1, o2, a2, b2, c->n, c->k0, c->nv);
        return;
    }
#endif
    cmul(c, o1, a1, b1);
    cmul(c, o2, a2, b2);
}

static void pack_in(const ctx_t *c, uint64_t *out, const uint64_t *x) {
    if (!c->ifma) {
        memcpy(out, x, c->limbs * sizeof(uint64_t));
        return;
    }
    for (size_t d = 0; d < c->words; d++) {
        size_t off = 52 * d, w = off / 64, sh = off % 64;
        uint64_t v = 0;
        if (w < c->limbs) {
            v = x[w] >> sh;
            if (sh > 12 && w + 1 < c->limbs) v |= x[w + 1] << (64 - sh);
        }
        out[d] = v & M52;
    }
}

/* internal digits (normalised) -> normal 64-bit words */
static void pack_out(const ctx_t *c, uint64_t *out, const uint64_t *t) {
    if (!c->ifma) {
        memcpy(out, t, c->limbs * sizeof(uint64_t));
        return;
    }
    memset(out, 0, c->limbs * sizeof(uint64_t));
    for (size_t d = 0; d < c->words; d++) {
        size_t off = 52 * d, w = off / 64, sh = off % 64;
        if (w >= c->limbs) break;
        out[w] |= t[d] << sh;
        if (sh > 12 && w + 1 < c->limbs) out[w + 1] |= t[d] >> (64 - sh);
    }
}

static size_t ctx_words(size_t limbs) {
    size_t digits = (64 * limbs + 51) / 52;
    size_t vec = 8 * ((digits + 7) / 8);
    return vec > limbs ? vec : limbs;
}

/* Sets up c over the first 4 * ctx_words(limbs) words of scratch; returns the words used, or 0. */
static size_t ctx_init(ctx_t *c, uint64_t *scratch, const uint64_t *n, size_t limbs) {
    if (limbs == 0 || limbs > MPC_MONT_MAX_LIMBS || !(n[0] & 1)) return 0;
    size_t nbits = bit_length(n, limbs);
    if (nbits < 2) return 0;
    size_t wmax = ctx_words(limbs);
    c->limbs = limbs;
    c->ifma = 0;
#if MPC_X86_DISPATCH
    size_t digits = (nbits + 51) / 52, nvec = (digits + 7) / 8;
    if (mpc_mont_isa() == MPC_MONT_IFMA && nvec <= MAX_NV) {
        c->ifma = 1;
        c->nv = nvec;
    }
#endif
    c->words = c->ifma ? 8 * c->nv : limbs;
    c->n = scratch;
    c->r2 = scratch + wmax;
    c->unit = scratch + 2 * wmax;
    c->one_m = scratch + 3 * wmax;
    uint64_t n0inv = n0inv64(n[0]);
    c->k0 = c->ifma ? (n0inv & M52) : n0inv;
    pack_in(c, c->n, n);
    /* R^2 mod N by doubling 1 modulo N, 2 log2(R) times (normal 64-bit words). */
    size_t rbits = c->ifma ? 52 * c->words : 64 * limbs;
    uint64_t x[MPC_MONT_MAX_LIMBS + 1];
    memset(x, 0, (limbs + 1) * sizeof(uint64_t));
    x[0] = 1;
    for (size_t it = 0; it < 2 * rbits; it++) {
        uint64_t top = 0;
        for (size_t j = 0; j < limbs; j++) {
            uint64_t v = x[j];
            x[j] = (v << 1) | top;
            top = v >> 63;
        }
        x[limbs] = top;
        final_sub64(x, x, n, limbs);
        x[limbs] = 0;
    }
    pack_in(c, c->r2, x);
    memset(x, 0, limbs * sizeof(uint64_t));
    x[0] = 1;
    pack_in(c, c->unit, x);
    cmul(c, c->one_m, c->r2, c->unit); /* R^2 R^(-1) = R */
    return 4 * wmax;
}

static void to_mont(const ctx_t *c, uint64_t *out, const uint64_t *x) {
    uint64_t t[MAX_WORDS];
    pack_in(c, t, x);
    cmul(c, out, t, c->r2);
}

static void from_mont(const ctx_t *c, uint64_t *out, const uint64_t *x) {
    uint64_t t[MAX_WORDS];
    cmul(c, t, x, c->unit);
    pack_out(c, out, t);
}

/* ------------------------------------------------------------------------------------------ */
/* jobs */

static size_t multiexp_windows(unsigned w, unsigned exp_bits) { return (exp_bits + w - 1) / w; }

size_t mpc_mont_multiexp_scratch(size_t limbs, size_t m, size_t chunk, unsigned w, unsigned exp_bits) {
    size_t words = ctx_words(limbs);
    if (w < 1) w = 1;
    if (w > 16) w = 16;
    if (exp_bits < 1) exp_bits = 1;
    size_t parts = m * multiexp_windows(w, exp_bits);
    return words * (4 + 1 + parts + (chunk ? chunk : 1) * ((size_t)1 << w)) + (parts + 7) / 8;
}

size_t mpc_mont_powmod_scratch(size_t limbs) { return ctx_words(limbs) * (4 + 2 * (1 + 32)); }

static void window_table(const ctx_t *c, uint64_t *t, const uint64_t *base_m, unsigned w) {
    size_t size = (size_t)1 << w, words = c->words;
    memcpy(t, c->one_m, words * sizeof(uint64_t));
    if (size > 1) memcpy(t + words, base_m, words * sizeof(uint64_t));
    for (size_t d = 2; d < size; d++) cmul(c, t + d * words, t + (d - 1) * words, t + words);
}

/* p *= y, or p = y while p is still the empty product (*started == 0): a copy, not a multiplication. */
static MPC_ALWAYS_INLINE void part_mul(const ctx_t *c, uint64_t *p, uint8_t *started, const uint64_t *y) {
    if (*started) {
        cmul(c, p, p, y);
    } else {
        memcpy(p, y, c->words * sizeof(uint64_t));
        *started = 1;
    }
}

/* Straus with the windows kept apart: part[i][t] = prod_l T_l[digit t of e_il] over every chunk of
 * tables, then out[i] = prod_t part[i][t]^(2^(w t)) by squaring once per row at the end (not once
 * per chunk: with c chunks that saves (c - 1) w (nwin - 1) squarings per row for m nwin words of
 * partial products). A part whose digits were all zero so far is 1: copied, not multiplied. */
int mpc_mont_multiexp(uint64_t *out, uint64_t *scratch, size_t scratch_words, const uint64_t *x,
                      const void *e, int e_bytes, size_t e_stride, const uint64_t *n, size_t limbs, size_t k,
                      size_t m, unsigned w, unsigned exp_bits) {
    if (w < 1 || w > 12 || exp_bits < 1 || exp_bits > 64 || limbs == 0 || limbs > MPC_MONT_MAX_LIMBS) return -1;
    if (!(e_bytes == 8 || (e_bytes == 1 && exp_bits <= 8))) return -1;
    const uint64_t *e64 = (const uint64_t *)e;
    const uint8_t *e8 = (const uint8_t *)e;
    if (scratch_words < mpc_mont_multiexp_scratch(limbs, m, 1, w, exp_bits)) return -1;
    ctx_t c;
    size_t used = ctx_init(&c, scratch, n, limbs);
    if (!used) return -1;
    size_t words = c.words, size = (size_t)1 << w, wmax = ctx_words(limbs);
    size_t nwin = multiexp_windows(w, exp_bits), parts = m * nwin;
    uint64_t *part = scratch + used, *acc = part + parts * wmax;
    uint8_t *started = (uint8_t *)(acc + wmax);
    uint64_t *tables = acc + wmax + (parts + 7) / 8;
    size_t chunk = (scratch_words - (size_t)(tables - scratch)) / (size * wmax);
    memset(started, 0, parts);
    uint64_t mask = ((uint64_t)1 << w) - 1;
    for (size_t lo = 0; lo < k; lo += chunk) {
        size_t hi = lo + chunk < k ? lo + chunk : k;
        for (size_t l = lo; l < hi; l++) {
            uint64_t *t = tables + (l - lo) * size * words;
            to_mont(&c, t + words, x + l * limbs); /* the table's entry 1 is the base itself */
            window_table(&c, t, t + words, w);
        }
#define EXP_DIGIT(row, l) (((e_bytes == 8 ? e64[(row) * e_stride + (l)] : (uint64_t)e8[(row) * e_stride + (l)]) >> shift) & mask)
#define TABLE_ENTRY(l, d) (tables + (((l) - lo) * size + (d)) * words)
        size_t i = 0;
        /* two rows at a time: their products with the tables run interleaved (cmul2) */
        for (; i + 1 < m; i += 2) {
            for (size_t t = 0; t < nwin; t++) {
                const unsigned shift = (unsigned)t * w;
                uint64_t *p1 = part + (i * nwin + t) * wmax, *p2 = part + ((i + 1) * nwin + t) * wmax;
                uint8_t *s1 = started + i * nwin + t, *s2 = started + (i + 1) * nwin + t;
                for (size_t l = lo; l < hi; l++) {
                    const uint64_t d1 = EXP_DIGIT(i, l), d2 = EXP_DIGIT(i + 1, l);
                    const uint64_t *y1 = TABLE_ENTRY(l, d1), *y2 = TABLE_ENTRY(l, d2);
                    if (d1 && *s1 && d2 && *s2) {
                        cmul2(&c, p1, p1, y1, p2, p2, y2);
                    } else {
                        if (d1) part_mul(&c, p1, s1, y1);
                        if (d2) part_mul(&c, p2, s2, y2);
                    }
                }
            }
        }
        for (; i < m; i++) {
            for (size_t t = 0; t < nwin; t++) {
                const unsigned shift = (unsigned)t * w;
                uint64_t *p = part + (i * nwin + t) * wmax;
                uint8_t *st = started + i * nwin + t;
                for (size_t l = lo; l < hi; l++) {
                    const uint64_t d = EXP_DIGIT(i, l);
                    if (d) part_mul(&c, p, st, TABLE_ENTRY(l, d));
                }
            }
        }
#undef EXP_DIGIT
#undef TABLE_ENTRY
    }
    for (size_t i = 0; i < m; i++) {
        uint8_t any = 0;
        for (size_t t = nwin; t-- > 0;) {
            if (any)
                for (unsigned s = 0; s < w; s++) cmul(&c, acc, acc, acc);
            if (started[i * nwin + t]) part_mul(&c, acc, &any, part + (i * nwin + t) * wmax);
        }
        if (!any) memcpy(acc, c.one_m, words * sizeof(uint64_t));
        from_mont(&c, out + i * limbs, acc);
    }
    return 0;
}

/* The W-bit digit t (from the bottom) of exp, of `bits` bits. */
static unsigned exp_digit(const uint64_t *exp, size_t bits, size_t t, int W) {
    unsigned d = 0;
    for (int b = W - 1; b >= 0; b--) {
        size_t pos = t * (size_t)W + (size_t)b;
        d = (d << 1) | (pos < bits ? (unsigned)((exp[pos / 64] >> (pos % 64)) & 1) : 0u);
    }
    return d;
}

int mpc_mont_powmod(uint64_t *out, uint64_t *scratch, size_t scratch_words, const uint64_t *x,
                    const uint64_t *exp, size_t exp_limbs, const uint64_t *n, size_t limbs, size_t count) {
    enum { W = 5 };
    if (limbs == 0 || limbs > MPC_MONT_MAX_LIMBS || scratch_words < mpc_mont_powmod_scratch(limbs)) return -1;
    ctx_t c;
    size_t used = ctx_init(&c, scratch, n, limbs);
    if (!used) return -1;
    size_t words = c.words, wmax = ctx_words(limbs), size = (size_t)1 << W;
    uint64_t *acc1 = scratch + used, *acc2 = acc1 + wmax, *tab1 = acc2 + wmax, *tab2 = tab1 + size * wmax;
    size_t bits = bit_length(exp, exp_limbs);
    size_t nwin = (bits + W - 1) / W;
    size_t i = 0;
    /* pairs of bases: the same exponent, so the same steps; two interleaved products each */
    for (; i + 1 < count; i += 2) {
        to_mont(&c, tab1 + words, x + i * limbs);
        to_mont(&c, tab2 + words, x + (i + 1) * limbs);
        memcpy(tab1, c.one_m, words * sizeof(uint64_t));
        memcpy(tab2, c.one_m, words * sizeof(uint64_t));
        for (size_t d = 2; d < size; d++)
            cmul2(&c, tab1 + d * words, tab1 + (d - 1) * words, tab1 + words, tab2 + d * words,
                  tab2 + (d - 1) * words, tab2 + words);
        memcpy(acc1, c.one_m, words * sizeof(uint64_t));
        memcpy(acc2, c.one_m, words * sizeof(uint64_t));
        int started = 0;
        for (size_t t = nwin; t-- > 0;) {
            if (started)
                for (int s = 0; s < W; s++) cmul2(&c, acc1, acc1, acc1, acc2, acc2, acc2);
            unsigned d = exp_digit(exp, bits, t, W);
            if (d) {
                if (started) {
                    cmul2(&c, acc1, acc1, tab1 + d * words, acc2, acc2, tab2 + d * words);
                } else {
                    memcpy(acc1, tab1 + d * words, words * sizeof(uint64_t));
                    memcpy(acc2, tab2 + d * words, words * sizeof(uint64_t));
                    started = 1;
                }
            }
        }
        from_mont(&c, out + i * limbs, acc1);
        from_mont(&c, out + (i + 1) * limbs, acc2);
    }
    for (; i < count; i++) {
        to_mont(&c, tab1 + words, x + i * limbs);
        window_table(&c, tab1, tab1 + words, W);
        memcpy(acc1, c.one_m, words * sizeof(uint64_t));
        int started = 0;
        for (size_t t = nwin; t-- > 0;) {
            if (started)
                for (int s = 0; s < W; s++) cmul(&c, acc1, acc1, acc1);
            unsigned d = exp_digit(exp, bits, t, W);
            if (d) {
                if (started) {
                    cmul(&c, acc1, acc1, tab1 + d * words);
                } else {
                    memcpy(acc1, tab1 + d * words, words * sizeof(uint64_t));
                    started = 1;
                }
            }
        }
        from_mont(&c, out + i * limbs, acc1);
    }
    return 0;
}

int mpc_mont_mulmod(uint64_t *out, uint64_t *scratch, size_t scratch_words, const uint64_t *a,
                    const uint64_t *b, const uint64_t *n, size_t limbs) {
    if (limbs == 0 || limbs > MPC_MONT_MAX_LIMBS || scratch_words < 6 * ctx_words(limbs)) return -1;
    ctx_t c;
    size_t used = ctx_init(&c, scratch, n, limbs);
    if (!used) return -1;
    uint64_t *am = scratch + used, *bm = am + ctx_words(limbs);
    to_mont(&c, am, a);
    to_mont(&c, bm, b);
    cmul(&c, am, am, bm);
    from_mont(&c, out, am);
    return 0;
}
