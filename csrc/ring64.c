/* Z_2^64 elementwise kernels. See mpc/ring64.h for the contract.
 *
 * Every kernel here is memory-bound at the sizes that matter (one pass, no reuse), so the aim
 * is loops the compiler turns into full-width SIMD with no runtime alias checks and no
 * scalar fallback: the MPC_IVDEP pragma states that iterations are independent, which holds
 * even for the in-place case out == a (element i is read before it is written, and no other
 * element is touched).
 */
#include "mpc/ring64.h"
#include "mpc/compiler.h"


void mpc_ring64_add(uint64_t *out, const uint64_t *a, const uint64_t *b, uint64_t c, size_t n)
{
    /* The extra add of c (0 for most callers) is free: the loop is bound by memory traffic. */
    MPC_IVDEP
    for (size_t i = 0; i < n; i++)
        out[i] = a[i] + b[i] + c;
}

void mpc_ring64_sub(uint64_t *out, const uint64_t *a, const uint64_t *b, size_t n)
{
    MPC_IVDEP
    for (size_t i = 0; i < n; i++)
        out[i] = a[i] - b[i];
}

void mpc_ring64_mul(uint64_t *out, const uint64_t *a, const uint64_t *b, size_t n)
{
    /* AVX2 has no 64x64 low multiply; the compiler composes it from 32x32 products, which is
     * still faster than the memory it streams. */
    MPC_IVDEP
    for (size_t i = 0; i < n; i++)
        out[i] = a[i] * b[i];
}

void mpc_ring64_neg(uint64_t *out, const uint64_t *a, size_t n)
{
    MPC_IVDEP
    for (size_t i = 0; i < n; i++)
        out[i] = (uint64_t)0 - a[i];
}

void mpc_ring64_mul_public(uint64_t *out, const uint64_t *a, uint64_t c, size_t n)
{
    MPC_IVDEP
    for (size_t i = 0; i < n; i++)
        out[i] = a[i] * c;
}

void mpc_ring64_sar(uint64_t *out, const uint64_t *a, unsigned k, size_t n)
{
    /* Right shift of a negative signed value is implementation-defined in C, and AVX2 has no
     * 64-bit arithmetic shift anyway: flip negative values to their complement, shift
     * logically, flip back. For x < 0 that is ~(~x >> k), the floor of x / 2^k. */
    MPC_IVDEP
    for (size_t i = 0; i < n; i++) {
        uint64_t sign = (uint64_t)0 - (a[i] >> 63); /* all ones when negative */
        out[i] = ((a[i] ^ sign) >> k) ^ sign;
    }
}

/* One loop body for every form of the truncation finish. Inlined with constant `rest` and
 * `pow2`, each combination becomes its own loop: the power-of-two ones vectorise (shifts, adds
 * and masks only), and none tests a flag per element. `first` stays a runtime loop-invariant
 * flag (the compiler unswitches it): it spares the non-first parties the divisions. */
static inline __attribute__((always_inline)) void
trunc_finish_span(uint64_t *out, const uint64_t *c, const uint64_t *c2, const uint64_t *r_high,
                  const uint64_t *r_msb, uint64_t d, int first, size_t n, int rest, int pow2)
{
    /* floor((2^64 - 1) / d) is floor(2^64 / d) unless d divides 2^64, i.e. is a power of two */
    const unsigned k = pow2 ? (unsigned)__builtin_ctzll(d) : 0;
    const uint64_t q = UINT64_MAX / d + (pow2 ? 1 : 0);
    const uint64_t offset = ((uint64_t)1 << 62) / d;
    MPC_IVDEP
    for (size_t i = 0; i < n; i++) {
        uint64_t cc = rest ? c[i] + c2[i] : c[i];
        uint64_t keep = (cc >> 63) - 1; /* all ones when msb(C) = 0: the mask form of 1 - msb(C) */
        /* r_msb * 2^(64-k) as a shift (k >= 1): exact mod 2^64 for any share of the bit */
        uint64_t y = (keep & (pow2 ? r_msb[i] << (64 - k) : r_msb[i] * q)) - r_high[i];
        if (first)
            y += (pow2 ? cc >> k : cc / d) - offset;
        out[i] = y;
    }
}

void mpc_ring64_trunc_finish(uint64_t *out, const uint64_t *c, const uint64_t *c2,
                             const uint64_t *r_high, const uint64_t *r_msb, uint64_t d, int first,
                             size_t n)
{
    const int pow2 = (d & (d - 1)) == 0;
    if (pow2 && c2)
        trunc_finish_span(out, c, c2, r_high, r_msb, d, first, n, 1, 1);
    else if (pow2)
        trunc_finish_span(out, c, c2, r_high, r_msb, d, first, n, 0, 1);
    else if (c2)
        trunc_finish_span(out, c, c2, r_high, r_msb, d, first, n, 1, 0);
    else
        trunc_finish_span(out, c, c2, r_high, r_msb, d, first, n, 0, 0);
}

/* Width of the column strip summed at a time when the kept inner axis is long: 2048
 * accumulators (16 KiB) stay in L1 while every row of the slab is added into them, and each
 * row segment read is long enough for the hardware prefetcher to stream. */
#define SUM_STRIP 2048
/* Up to this inner length, groups of whole rows are summed into a local accumulator of this
 * many lanes (2 KiB) and folded at the end: the slab is then read as one sequential stream.
 * (Measured on Zen 3: adding short rows straight into `out`, or several rows per pass, ran
 * 1.3-1.5x slower for inner lengths 64-256.) */
#define SUM_LANES 256

/* One output: the sum of len contiguous words (a plain reduction the compiler vectorises). */
static uint64_t sum_contiguous(const uint64_t *restrict a, size_t len)
{
    uint64_t s = 0;
    for (size_t j = 0; j < len; j++)
        s += a[j];
    return s;
}

/* out[0:inner] = sum over len rows of a (row stride inner), for 1 < inner <= SUM_LANES and
 * len >= 2 * (SUM_LANES / inner), so the lane set-up and fold are paid for. */
static void sum_narrow(uint64_t *restrict out, const uint64_t *restrict a, size_t len, size_t inner)
{
    /* g consecutive rows form one contiguous run of w = g * inner words; accumulating runs
     * lane by lane keeps lane t congruent to column t % inner, so the fold below is exact. */
    size_t g = SUM_LANES / inner, w = g * inner, j = 0;
    uint64_t acc[SUM_LANES] = {0};
    for (; j + g <= len; j += g) {
        const uint64_t *run = a + j * inner;
        for (size_t t = 0; t < w; t++)
            acc[t] += run[t];
    }
    for (size_t i = 0; i < inner; i++)
        out[i] = acc[i];
    for (size_t r = 1; r < g; r++)
        for (size_t i = 0; i < inner; i++)
            out[i] += acc[r * inner + i];
    for (; j < len; j++)
        for (size_t i = 0; i < inner; i++)
            out[i] += a[j * inner + i];
}

/* out[0:inner] = sum over len rows of a (row stride inner), strip-mined so the accumulators
 * stay in L1, four rows per pass to cut the accumulator loads and stores by four. */
static void sum_rows(uint64_t *restrict out, const uint64_t *restrict a, size_t len, size_t inner)
{
    for (size_t i0 = 0; i0 < inner; i0 += SUM_STRIP) {
        size_t m = inner - i0 < SUM_STRIP ? inner - i0 : SUM_STRIP;
        uint64_t *restrict acc = out + i0;
        const uint64_t *restrict col = a + i0;
        size_t j = 0;
        for (size_t i = 0; i < m; i++)
            acc[i] = 0;
        for (; j + 4 <= len; j += 4) {
            const uint64_t *r0 = col + j * inner, *r1 = r0 + inner, *r2 = r1 + inner, *r3 = r2 + inner;
            for (size_t i = 0; i < m; i++)
                acc[i] += (r0[i] + r1[i]) + (r2[i] + r3[i]);
        }
        for (; j < len; j++) {
            const uint64_t *r0 = col + j * inner;
            for (size_t i = 0; i < m; i++)
                acc[i] += r0[i];
        }
    }
}

void mpc_ring64_sum(uint64_t *restrict out, const uint64_t *restrict a, size_t outer, size_t len,
                    size_t inner)
{
    if (inner == 1) {
        for (size_t o = 0; o < outer; o++)
            out[o] = sum_contiguous(a + o * len, len);
        return;
    }
    int narrow = inner <= SUM_LANES && len >= 2 * (SUM_LANES / inner);
    for (size_t o = 0; o < outer; o++) {
        const uint64_t *slab = a + o * len * inner;
        if (narrow)
            sum_narrow(out + o * inner, slab, len, inner);
        else
            sum_rows(out + o * inner, slab, len, inner);
    }
}

/* ---- masked2k records (see ring64.h) ---- */

uint64_t mpc_masked_tags(const uint64_t *x, size_t n)
{
    if (n == 0 || x[2] == 0 || x[2] + (n - 1) < x[2]) /* no tags, or a run that would pass 2^64 */
        return 0;
    uint64_t t0 = x[2];
    for (size_t i = 1; i < n; i++)
        if (x[3 * i + 2] != t0 + i)
            return 0;
    return t0;
}

int mpc_masked_mul_share(uint64_t *restrict s, const uint64_t *x, const uint64_t *y, const uint64_t *lz,
                         const uint64_t *g, int first, size_t n)
{
    if (n == 0)
        return 0;
    const uint64_t tx = x[2], ty = y[2];
    /* OR of every tag's difference from its run (no branch); a run may not pass 2^64 */
    uint64_t bad = (tx == 0) | (ty == 0) | (tx + (n - 1) < tx) | (ty + (n - 1) < ty);
    for (size_t i = 0; i < n; i++) {
        uint64_t dx = x[3 * i], lx = x[3 * i + 1], dy = y[3 * i], ly = y[3 * i + 1];
        uint64_t v = lz[i] + g[i] - dx * ly - dy * lx;
        s[i] = first ? v + dx * dy : v;
        bad |= (x[3 * i + 2] ^ (tx + i)) | (y[3 * i + 2] ^ (ty + i));
    }
    return bad == 0;
}

/* One record's three words, streamed when `stream` (compiler.h, MPC_STREAM_MIN). */
static inline void put_record(uint64_t *restrict out, uint64_t delta, uint64_t lam, uint64_t tag, int stream)
{
    if (stream) {
        mpc_stream64(out, delta);
        mpc_stream64(out + 1, lam);
        mpc_stream64(out + 2, tag);
    } else {
        out[0] = delta;
        out[1] = lam;
        out[2] = tag;
    }
}

void mpc_masked_finish(uint64_t *restrict out, const uint64_t *s, const uint64_t *s2, const uint64_t *lz,
                       uint64_t t0, size_t n)
{
    const int stream = n >= MPC_STREAM_MIN;
    for (size_t i = 0; i < n; i++)
        put_record(out + 3 * i, s2 ? s[i] + s2[i] : s[i], lz[i], t0 + i, stream);
    if (stream)
        mpc_stream_fence();
}

/* One truncated record (mpc_masked_trunc's formula) from the opened delta and the mask shares. */
static inline void masked_trunc_one(uint64_t *restrict out, uint64_t delta, uint64_t a, uint64_t m, unsigned k,
                                    uint64_t tag, int stream)
{
    uint64_t c = delta + ((uint64_t)1 << 62);
    uint64_t coef = ((c >> 63) ^ 1) << (64 - k);
    put_record(out, (c >> k) - ((uint64_t)1 << (62 - k)), a - coef * m, tag | (uint64_t)k << 58, stream);
}

/* Whether tags t0 .. t0 + n - 1 are fresh: 1 <= t0 and t0 + n <= 2^58 (TAG_BITS). */
static inline uint64_t masked_not_fresh(uint64_t t0, size_t n)
{
    return (t0 == 0) | (t0 >> 58) | ((t0 + n - 1) >> 58);
}

int mpc_masked_trunc(uint64_t *restrict out, const uint64_t *x, const uint64_t *a, const uint64_t *m, unsigned k,
                     size_t n)
{
    /* semi2k's truncation finish with the opened c = delta + 2^62 and r = lambda (ring64.h) */
    if (n == 0)
        return 0;
    const uint64_t t0 = x[2];
    uint64_t bad = masked_not_fresh(t0, n);
    const int stream = n >= MPC_STREAM_MIN;
    for (size_t i = 0; i < n; i++) {
        bad |= x[3 * i + 2] ^ (t0 + i);
        masked_trunc_one(out + 3 * i, x[3 * i], a[i], m[i], k, t0 + i, stream);
    }
    if (stream)
        mpc_stream_fence();
    return bad == 0;
}

int mpc_masked_finish_trunc(uint64_t *restrict out, const uint64_t *s, const uint64_t *s2, const uint64_t *a,
                            const uint64_t *m, uint64_t t0, unsigned k, size_t n)
{
    /* mpc_masked_finish then mpc_masked_trunc without the untruncated records in between: the
     * pass reads 32 bytes per element (s, s2, a, m) and writes 24, against 48 read and 48
     * written by the two passes */
    if (n == 0)
        return 0;
    const int stream = n >= MPC_STREAM_MIN;
    if (s2)
        for (size_t i = 0; i < n; i++)
            masked_trunc_one(out + 3 * i, s[i] + s2[i], a[i], m[i], k, t0 + i, stream);
    else
        for (size_t i = 0; i < n; i++)
            masked_trunc_one(out + 3 * i, s[i], a[i], m[i], k, t0 + i, stream);
    if (stream)
        mpc_stream_fence();
    return masked_not_fresh(t0, n) == 0;
}
