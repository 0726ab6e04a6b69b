/* Z_2^128 elementwise kernels on interleaved (lo, hi) words. See mpc/ring128.h.
 *
 * unsigned __int128 gives the compiler the carry chain (add/adc, sub/sbb) and the 64x64->128
 * multiply (mul/mulx) directly. Elements are assembled from two 64-bit loads rather than read
 * through an __int128 pointer, because NumPy only guarantees 8-byte alignment.
 */
#include "mpc/ring128.h"
#include "mpc/compiler.h"

__extension__ typedef unsigned __int128 u128; /* GCC/Clang extension; silences -pedantic */

static inline u128 load128(const uint64_t *p, size_t i)
{
    return ((u128)p[2 * i + 1] << 64) | p[2 * i];
}

static inline void store128(uint64_t *p, size_t i, u128 v)
{
    p[2 * i] = (uint64_t)v;
    p[2 * i + 1] = (uint64_t)(v >> 64);
}

/* store128 as non-temporal stores when `stream` (an output of MPC_STREAM_MIN elements or more,
 * compiler.h); the loops that call it test `stream` once per call, and the compiler hoists the
 * branch (their callers end with mpc_stream_fence when they streamed). */
static inline void put128(uint64_t *p, size_t i, u128 v, int stream)
{
    if (stream) {
        mpc_stream64(p + 2 * i, (uint64_t)v);
        mpc_stream64(p + 2 * i + 1, (uint64_t)(v >> 64));
    } else {
        store128(p, i, v);
    }
}

void mpc_ring128_add(uint64_t *out, const uint64_t *a, const uint64_t *b, size_t n)
{
    for (size_t i = 0; i < n; i++)
        store128(out, i, load128(a, i) + load128(b, i));
}

void mpc_ring128_sub(uint64_t *out, const uint64_t *a, const uint64_t *b, size_t n)
{
    for (size_t i = 0; i < n; i++)
        store128(out, i, load128(a, i) - load128(b, i));
}

void mpc_ring128_neg(uint64_t *out, const uint64_t *a, size_t n)
{
    for (size_t i = 0; i < n; i++)
        store128(out, i, (u128)0 - load128(a, i));
}

void mpc_ring128_mul(uint64_t *out, const uint64_t *a, const uint64_t *b, size_t n)
{
    /* Low 128 bits of (ah*2^64 + al)(bh*2^64 + bl) = al*bl + 2^64 (al*bh + ah*bl): one full
     * 64x64->128 product and two low products; ah*bh only affects bits >= 128. */
    for (size_t i = 0; i < n; i++) {
        uint64_t al = a[2 * i], ah = a[2 * i + 1], bl = b[2 * i], bh = b[2 * i + 1];
        u128 p = (u128)al * bl;
        uint64_t hi = (uint64_t)(p >> 64) + al * bh + ah * bl;
        out[2 * i] = (uint64_t)p;
        out[2 * i + 1] = hi;
    }
}

void mpc_ring128_mul64(uint64_t *out, const uint64_t *a, const uint64_t *b, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        uint64_t al = a[2 * i], ah = a[2 * i + 1], m = b[i];
        u128 p = (u128)al * m;
        uint64_t hi = (uint64_t)(p >> 64) + ah * m;
        out[2 * i] = (uint64_t)p;
        out[2 * i + 1] = hi;
    }
}

static inline u128 load_any(const uint64_t *p, size_t i, int wide)
{
    return wide ? load128(p, i) : (u128)p[i];
}

#define MM128_J 4 /* output columns kept in registers: 4 u128 accumulators */

void mpc_ring128_matmul(uint64_t *c, const uint64_t *a, const uint64_t *b, size_t m, size_t k, size_t n,
                        int a_wide, int b_wide)
{
    /* Blocks of MM128_J columns: the block's k x J panel of b is packed contiguous (16 KB for
     * k = 256: it stays in L1 across every row of a), then each row of c accumulates its J
     * entries in registers over p. A 128-bit product mod 2^128 is one 64x64->128 multiply and
     * two low multiplies (al*bh + ah*bl only reach bits >= 64). */
    uint64_t panel[2 * MM128_J * 256];
    for (size_t j0 = 0; j0 < n; j0 += MM128_J) {
        size_t jn = n - j0 < MM128_J ? n - j0 : MM128_J;
        for (size_t p0 = 0; p0 < k; p0 += 256) {
            size_t pn = k - p0 < 256 ? k - p0 : 256;
            for (size_t p = 0; p < pn; p++)
                for (size_t jj = 0; jj < MM128_J; jj++)
                    store128(panel, p * MM128_J + jj, jj < jn ? load_any(b, (p0 + p) * n + j0 + jj, b_wide) : 0);
            for (size_t i = 0; i < m; i++) {
                u128 acc[MM128_J];
                if (p0 == 0) {
                    for (size_t jj = 0; jj < MM128_J; jj++)
                        acc[jj] = 0;
                } else {
                    for (size_t jj = 0; jj < jn; jj++)
                        acc[jj] = load128(c, i * n + j0 + jj);
                    for (size_t jj = jn; jj < MM128_J; jj++)
                        acc[jj] = 0;
                }
                for (size_t p = 0; p < pn; p++) {
                    u128 x = load_any(a, i * k + p0 + p, a_wide);
                    uint64_t xl = (uint64_t)x, xh = (uint64_t)(x >> 64);
                    const uint64_t *row = panel + 2 * p * MM128_J;
                    for (size_t jj = 0; jj < MM128_J; jj++) {
                        uint64_t bl = row[2 * jj], bh = row[2 * jj + 1];
                        acc[jj] += (u128)xl * bl + ((u128)(xl * bh + xh * bl) << 64);
                    }
                }
                for (size_t jj = 0; jj < jn; jj++)
                    store128(c, i * n + j0 + jj, acc[jj]);
            }
        }
    }
}

/* ---- SPDZ2k authenticated records: 4 words each, value (lo, hi) then MAC (lo, hi) ---- */

void mpc_auth_sub_split(uint64_t *lo, uint64_t *hi, uint64_t *mac, const uint64_t *x, const uint64_t *a, size_t vs,
                        size_t n)
{
    const int stream = n >= MPC_STREAM_MIN; /* the values are sent and mac kept for the MAC check: neither is read next */
    for (size_t i = 0; i < n; i++) {
        u128 v = load128(x, 2 * i) - load128(a, 2 * i);
        if (stream) {
            mpc_stream64(lo + vs * i, (uint64_t)v);
            mpc_stream64(hi + vs * i, (uint64_t)(v >> 64));
        } else {
            lo[vs * i] = (uint64_t)v;
            hi[vs * i] = (uint64_t)(v >> 64);
        }
        put128(mac, i, load128(x, 2 * i + 1) - load128(a, 2 * i + 1), stream);
    }
    if (stream)
        mpc_stream_fence();
}

/* The opened D and E enter as their low 64 bits (d, e): public coefficients, so z stays an
 * authenticated sharing (each MAC term is the coefficient times an authenticated share, and
 * alpha d e for the public d e), and since D = d mod 2^64, z = x y mod 2^64, all a SPDZ2k value
 * means (its upper 64 bits carry none). A 64 x 128-bit product is 2 multiplications, a
 * 128 x 128-bit one 3, and d e is one 64 x 64 -> 128: 11 in all per element instead of 17. */
static inline void auth_beaver_one(uint64_t *z, const uint64_t *c, const uint64_t *a, const uint64_t *b,
                                   uint64_t di, uint64_t ei, uint64_t alpha, int first, size_t i, int stream)
{
    u128 de = (u128)di * ei;
    u128 v = load128(c, 2 * i) + (u128)di * load128(b, 2 * i) + (u128)ei * load128(a, 2 * i);
    u128 m = load128(c, 2 * i + 1) + (u128)di * load128(b, 2 * i + 1) + (u128)ei * load128(a, 2 * i + 1) +
             (u128)alpha * de;
    put128(z, 2 * i, first ? v + de : v, stream);
    put128(z, 2 * i + 1, m, stream);
}

void mpc_auth_beaver_combine(uint64_t *z, const uint64_t *c, const uint64_t *a, const uint64_t *b,
                             const uint64_t *d, const uint64_t *e, const uint64_t *d2, const uint64_t *e2,
                             uint64_t alpha, int first, size_t ds, size_t n)
{
    const int stream = n >= MPC_STREAM_MIN;
    if (d2) {
        for (size_t i = 0; i < n; i++)
            auth_beaver_one(z, c, a, b, d[ds * i] + d2[ds * i], e[ds * i] + e2[ds * i], alpha, first, i, stream);
    } else {
        for (size_t i = 0; i < n; i++)
            auth_beaver_one(z, c, a, b, d[ds * i], e[ds * i], alpha, first, i, stream);
    }
    if (stream)
        mpc_stream_fence();
}

/* D's low 64 bits, as in auth_beaver_one */
static inline void auth_square_one(uint64_t *z, const uint64_t *c, const uint64_t *a, uint64_t di, uint64_t alpha,
                                   int first, size_t i, int stream)
{
    uint64_t twice = di + di;
    u128 dd = (u128)di * di;
    u128 v = load128(c, 2 * i) + (u128)twice * load128(a, 2 * i);
    u128 m = load128(c, 2 * i + 1) + (u128)twice * load128(a, 2 * i + 1) + (u128)alpha * dd;
    put128(z, 2 * i, first ? v + dd : v, stream);
    put128(z, 2 * i + 1, m, stream);
}

void mpc_auth_square_combine(uint64_t *z, const uint64_t *c, const uint64_t *a, const uint64_t *d, const uint64_t *d2,
                             uint64_t alpha, int first, size_t ds, size_t n)
{
    const int stream = n >= MPC_STREAM_MIN;
    if (d2) {
        for (size_t i = 0; i < n; i++)
            auth_square_one(z, c, a, d[ds * i] + d2[ds * i], alpha, first, i, stream);
    } else {
        for (size_t i = 0; i < n; i++)
            auth_square_one(z, c, a, d[ds * i], alpha, first, i, stream);
    }
    if (stream)
        mpc_stream_fence();
}

void mpc_auth_add_public(uint64_t *z, const uint64_t *x, const uint64_t *p, uint64_t alpha, int first, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        u128 pi = load128(p, i), v = load128(x, 2 * i);
        store128(z, 2 * i, first ? v + pi : v);
        store128(z, 2 * i + 1, load128(x, 2 * i + 1) + (u128)alpha * pi);
    }
}

void mpc_auth_add_split(uint64_t *val, uint64_t *mac, const uint64_t *x, const uint64_t *a, uint64_t c,
                        uint64_t alpha, int first, size_t n)
{
    u128 cv = first ? (u128)c : 0, cm = (u128)alpha * c;
    for (size_t i = 0; i < n; i++) {
        store128(val, i, load128(x, 2 * i) + load128(a, 2 * i) + cv);
        store128(mac, i, load128(x, 2 * i + 1) + load128(a, 2 * i + 1) + cm);
    }
}

void mpc_auth_lincomb(uint64_t *z, const uint64_t *const *x, const uint64_t *const *coef, const uint64_t *scalar,
                      size_t terms, const uint64_t *p, uint64_t alpha, int first, size_t n)
{
    /* One pass: every term's record is read once, the sums stay in registers. */
    for (size_t i = 0; i < n; i++) {
        u128 v = 0, m = 0;
        for (size_t t = 0; t < terms; t++) {
            uint64_t c = coef[t] ? coef[t][i] : scalar[t];
            v += (u128)c * load128(x[t], 2 * i);
            m += (u128)c * load128(x[t], 2 * i + 1);
        }
        if (p) {
            if (first)
                v += p[i];
            m += (u128)alpha * p[i];
        }
        store128(z, 2 * i, v);
        store128(z, 2 * i + 1, m);
    }
}

void mpc_auth_div_finish(uint64_t *z, const uint64_t *own, const uint64_t *rest, const uint64_t *r_msb,
                         const uint64_t *r_high, uint64_t d, int shift, uint64_t q, uint64_t low, uint64_t alpha,
                         int first, size_t n)
{
    /* mpc_auth_lincomb of [(r_msb, coef_i), (r_high, 2^64 - 1)] and p_i, with coef_i and p_i made
     * here from the opened low word c_i = own_i + rest_i: one pass instead of NumPy's six. */
    const u128 minus_one = (u128)UINT64_MAX;
    for (size_t i = 0; i < n; i++) {
        const uint64_t c = own[2 * i] + rest[2 * i];
        const uint64_t coef = ((~c) >> 63) * q;
        const uint64_t p = (shift >= 0 ? c >> shift : c / d) - low;
        u128 v = (u128)coef * load128(r_msb, 2 * i) + minus_one * load128(r_high, 2 * i);
        u128 m = (u128)coef * load128(r_msb, 2 * i + 1) + minus_one * load128(r_high, 2 * i + 1);
        if (first)
            v += p;
        m += (u128)alpha * p;
        store128(z, 2 * i, v);
        store128(z, 2 * i + 1, m);
    }
}

/* The public part of spdz2k's truncation from the low word c of an opened x + 2^62 + r:
 * P = (c >> k) - 2^(62-k) and T = (1 - msb(c)) 2^(64-k), so floor(x / 2^k) = P - ([r >> k] -
 * T [msb(r)]) up to one ulp (1 <= k <= 62; mpc/engines/spdz2k.py's module docstring). */
static inline void trunc_public(uint64_t c, int k, uint64_t *p, uint64_t *t)
{
    *p = (c >> k) - ((uint64_t)1 << (62 - k));
    *t = ((~c) >> 63) << (64 - k);
}

/* v += c x.value, m += c x.mac for a record x and a 64-bit coefficient c: one auth_lincomb term */
#define LINCOMB_TERM(x, c)                                  \
    do {                                                    \
        const uint64_t c_ = (c);                            \
        v += (u128)c_ * load128((x), 2 * i);                \
        m += (u128)c_ * load128((x), 2 * i + 1);            \
    } while (0)

void mpc_auth_tmul_finish(uint64_t *z, const uint64_t *own, const uint64_t *rest, const uint64_t *a1,
                          const uint64_t *m1, const uint64_t *a2, const uint64_t *m2, const uint64_t *a1a2,
                          const uint64_t *m1a2, const uint64_t *a1m2, const uint64_t *m1m2, int k1, int k2,
                          uint64_t alpha, int first, size_t n)
{
    /* mpc_auth_lincomb of the tmul terms with their coefficients made here from the opened low
     * words (c1 the first n elements of own + rest, c2 the next n): one pass instead of NumPy's
     * fifteen and a lincomb's (mpc/engines/spdz2k.py, Spdz2k.mul_truncating_steps). */
    for (size_t i = 0; i < n; i++) {
        const uint64_t c1 = own[2 * i] + rest[2 * i], c2 = own[2 * (n + i)] + rest[2 * (n + i)];
        uint64_t p1, t1, p2 = c2, t2 = 0;
        trunc_public(c1, k1, &p1, &t1);
        if (k2)
            trunc_public(c2, k2, &p2, &t2);
        u128 v = load128(a1a2, 2 * i), m = load128(a1a2, 2 * i + 1);
        LINCOMB_TERM(a1, 0 - p2);
        LINCOMB_TERM(m1, p2 * t1);
        LINCOMB_TERM(a2, 0 - p1);
        LINCOMB_TERM(m1a2, 0 - t1);
        if (k2) {
            LINCOMB_TERM(m2, p1 * t2);
            LINCOMB_TERM(a1m2, 0 - t2);
            if (m1m2)
                LINCOMB_TERM(m1m2, t1 * t2);
        }
        const uint64_t p = p1 * p2;
        if (first)
            v += p;
        m += (u128)alpha * p;
        store128(z, 2 * i, v);
        store128(z, 2 * i + 1, m);
    }
}

void mpc_auth_tsquare_finish(uint64_t *z, const uint64_t *own, const uint64_t *rest, const uint64_t *a,
                             const uint64_t *mm, const uint64_t *aa, const uint64_t *am, int k, uint64_t alpha,
                             int first, size_t n)
{
    /* the tsquare terms aa - 2P a - 2T am + (2PT + T^2) m + P^2 likewise (Spdz2k.square_truncating) */
    for (size_t i = 0; i < n; i++) {
        uint64_t p, t;
        trunc_public(own[2 * i] + rest[2 * i], k, &p, &t);
        u128 v = load128(aa, 2 * i), m = load128(aa, 2 * i + 1);
        LINCOMB_TERM(a, 0 - 2 * p);
        LINCOMB_TERM(am, 0 - 2 * t);
        LINCOMB_TERM(mm, 2 * p * t + t * t);
        if (first)
            v += p * p;
        m += (u128)alpha * (p * p);
        store128(z, 2 * i, v);
        store128(z, 2 * i + 1, m);
    }
}

#undef LINCOMB_TERM

void mpc_ring128_dot64(uint64_t *out, const uint64_t *lo, const uint64_t *hi, const uint64_t *chi, size_t vs, size_t n)
{
    u128 acc = 0;
    for (size_t i = 0; i < n; i++)
        acc += (u128)chi[i] * (((u128)hi[vs * i] << 64) | lo[vs * i]);
    store128(out, 0, acc);
}

/* ---- Z_2^128 matrix products from uint64 and float64 products (see mpc/ring128.h) ---- */

#define LO32(w) ((w) & 0xFFFFFFFFu)

/* [y0 ; y1 + y0 2^-32] of one word into rows p and kc + p of fr (row width w), and y1. The
 * sum is rounded once (y0 2^-32 is exact): an error of at most 2^-21, as y1 + y0 2^-32 < 2^32. */
static inline void split_float_right(double *fr, uint64_t *y1, size_t w, size_t kc, size_t p, size_t q,
                                     uint64_t word)
{
    fr[p * w + q] = (double)LO32(word);
    fr[(kc + p) * w + q] = (double)(word >> 32) + (double)LO32(word) * 0x1p-32;
    y1[p * w + q] = word >> 32;
}

/* [x1 | x0] of one word into row r of fl (2 kc wide), and x1. Both halves are exact doubles. */
static inline void split_float_left(double *fl, uint64_t *x1, size_t kc, size_t r, size_t p, uint64_t word)
{
    fl[r * 2 * kc + p] = (double)(word >> 32);
    fl[r * 2 * kc + kc + p] = (double)LO32(word);
    x1[r * kc + p] = word >> 32;
}

void mpc_mm128f_left(uint64_t *xw, uint64_t *x1, double *fl, const uint64_t *a, size_t rows, size_t rdiv,
                     size_t rs, size_t rm, size_t ps, int wide, size_t k0, size_t kc)
{
    for (size_t r = 0; r < rows; r++) {
        const uint64_t *src = a + (r / rdiv) * rs + (r % rdiv) * rm + k0 * ps;
        for (size_t p = 0; p < kc; p++) {
            uint64_t lo = src[p * ps];
            xw[r * kc + p] = lo;
            if (wide)
                xw[(rows + r) * kc + p] = src[p * ps + 1];
            split_float_left(fl, x1, kc, r, p, lo);
        }
    }
}

void mpc_mm128f_right(uint64_t *ylo, uint64_t *yhi, uint64_t *y1, double *fr, const uint64_t *b, size_t n,
                      int wide, size_t k0, size_t kc)
{
    for (size_t p = 0; p < kc; p++)
        for (size_t j = 0; j < n; j++) {
            size_t at = (k0 + p) * n + j;
            uint64_t lo = wide ? b[2 * at] : b[at];
            if (wide) {
                ylo[p * n + j] = lo;
                yhi[p * n + j] = b[2 * at + 1];
            }
            split_float_right(fr, y1, n, kc, p, j, lo);
        }
}

void mpc_mm128f_right_auth(uint64_t *yw, uint64_t *y1, double *fr, const uint64_t *b, const uint64_t *e,
                           uint64_t alpha, int first, size_t n, size_t k0, size_t kc)
{
    const size_t w = 2 * n;
    for (size_t p = 0; p < kc; p++) {
        uint64_t *row = yw + p * 2 * w;
        for (size_t j = 0; j < n; j++) {
            size_t at = (k0 + p) * n + j;
            uint64_t ej = e[at];
            u128 v = load128(b, 2 * at) + (first ? (u128)ej : 0);
            u128 m = load128(b, 2 * at + 1) + (u128)alpha * ej;
            row[2 * j] = (uint64_t)v;
            row[2 * j + 1] = (uint64_t)m;
            row[w + 2 * j] = (uint64_t)(v >> 64);
            row[w + 2 * j + 1] = (uint64_t)(m >> 64);
            split_float_right(fr, y1, w, kc, p, 2 * j, (uint64_t)v);
            split_float_right(fr, y1, w, kc, p, 2 * j + 1, (uint64_t)m);
        }
    }
}

void mpc_mm128f_finish(uint64_t *acc, size_t rdiv, size_t rs, size_t rm, size_t cs, const uint64_t *lo, size_t ld,
                       const uint64_t *cross, size_t ldc, const uint64_t *cross2, size_t ldc2, const uint64_t *p11,
                       const double *fx, size_t rows, size_t cols)
{
    for (size_t r = 0; r < rows; r++) {
        uint64_t *dst = acc + (r / rdiv) * rs + (r % rdiv) * rm;
        const uint64_t *lr = lo + r * ld, *pr = p11 + r * cols;
        const uint64_t *cr = cross ? cross + r * ldc : NULL, *cr2 = cross2 ? cross2 + r * ldc2 : NULL;
        const double *xr = fx + r * cols;
        for (size_t c = 0; c < cols; c++) {
            /* (Q - S mod 2^64) / 2^64 is within 2^-4 of the integer h >= 0 (see mpc/ring128.h),
             * so truncating t + 1/2 rounds it to h */
            double t = xr[c] * 0x1p-32 - (double)lr[c] * 0x1p-64;
            uint64_t hi = pr[c] + (uint64_t)(t + 0.5) + (cr ? cr[c] : 0) + (cr2 ? cr2[c] : 0);
            u128 s = load128(dst + c * cs, 0) + (((u128)hi << 64) | lr[c]);
            store128(dst + c * cs, 0, s);
        }
    }
}
