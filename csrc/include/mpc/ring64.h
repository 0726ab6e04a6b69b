/* Elementwise arithmetic in the ring Z_2^64 on flat uint64 arrays.
 *
 * Wrap-around is the ring reduction: unsigned overflow in C is defined modulo 2^64, so each
 * kernel is the plain C operator on uint64_t.
 *
 * Aliasing: `out` may be *the same pointer* as an input (in-place update, out= a in Python) but
 * must not otherwise overlap one. That is why the elementwise prototypes carry no `restrict`:
 * exact aliasing would break its promise; the loops are instead marked free of loop-carried
 * dependences, which stays true when out == a.
 */
#ifndef MPC_RING64_H
#define MPC_RING64_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* out[i] = a[i] + b[i] + c mod 2^64, c a public constant (0 for a plain sum). The constant lets a
 * masking step that also shifts by a public offset (x + r + 2^62 in truncation) stay one pass. */
void mpc_ring64_add(uint64_t *out, const uint64_t *a, const uint64_t *b, uint64_t c, size_t n);
/* out[i] = a[i] - b[i] mod 2^64 */
void mpc_ring64_sub(uint64_t *out, const uint64_t *a, const uint64_t *b, size_t n);
/* out[i] = a[i] * b[i] mod 2^64 */
void mpc_ring64_mul(uint64_t *out, const uint64_t *a, const uint64_t *b, size_t n);
/* out[i] = -a[i] mod 2^64 */
void mpc_ring64_neg(uint64_t *out, const uint64_t *a, size_t n);
/* out[i] = a[i] * c mod 2^64, c a public constant already reduced mod 2^64 */
void mpc_ring64_mul_public(uint64_t *out, const uint64_t *a, uint64_t c, size_t n);
/* a viewed as a C-contiguous (outer, len, inner) array; out (outer, inner) receives the sum
 * mod 2^64 over the middle axis. out must not overlap a. len == 0 gives zeros. */
void mpc_ring64_sum(uint64_t *out, const uint64_t *a, size_t outer, size_t len, size_t inner);
/* out[i] = (uint64_t)((int64_t)a[i] >> k), arithmetic (sign-filling) shift, k in [0, 63] */
void mpc_ring64_sar(uint64_t *out, const uint64_t *a, unsigned k, size_t n);

/* The local finish of the masked-opening truncation / division by a public d (protocol and proof
 * in mpc/engines/semi2k.py, Semi2k.divide_many), in one pass. With C = c[i] + c2[i] (or c[i] when
 * c2 is NULL) the opened value, Q = floor(2^64 / d) and msb the top bit:
 *   out[i] = (1 - msb(C)) * Q * r_msb[i] - r_high[i], plus floor(C / d) - floor(2^62 / d)
 * when first != 0. d is in [2, 2^62]; out must not overlap the inputs.
 *
 * c is this party's own masked share and c2 the peers' (the received buffer, for two parties),
 * so the opening's sum never goes through memory. For d = 2^k every product is a shift and the
 * loop vectorises: one pass reading 4 arrays (3 without c2), writing 1, where NumPy takes ~7
 * passes plus the opening's sum. Other d cost one scalar 64-bit division per element on the
 * first party. */
void mpc_ring64_trunc_finish(uint64_t *out, const uint64_t *c, const uint64_t *c2,
                             const uint64_t *r_high, const uint64_t *r_msb, uint64_t d, int first,
                             size_t n);

/* ---- masked2k records: 3 words each, (delta, lam, tag); x = delta - sum_i lam_i (protocols in
 * mpc/engines/masked2k.py). Record arrays are C-contiguous, n records of 3 words. */

/* t when the records' tags are t, t+1, ..., t+n-1 with t >= 1 (a run of dealer masks), else 0.
 * Stops at the first mismatch. */
uint64_t mpc_masked_tags(const uint64_t *x, size_t n);
/* This party's summand of the opened delta_z = xy + lambda_z of a masked product, one pass:
 *   s[i] = lz[i] + g[i] - dx ly - dy lx (+ dx dy when first != 0)
 * with (dx, lx) from record x[i], (dy, ly) from record y[i]; y == x gives the square's.
 * Returns 1 when both operands' tags are runs (x[i].tag = x[0].tag + i, the same for y, first
 * tags >= 1), else 0: the check rides in the same pass (the material named x[0].tag, y[0].tag
 * is then known to be the operands' and s is valid; else the caller discards s). */
int mpc_masked_mul_share(uint64_t *s, const uint64_t *x, const uint64_t *y, const uint64_t *lz,
                          const uint64_t *g, int first, size_t n);
/* The records of a masked product after its opening, one pass: (s[i] + s2[i], lz[i], t0 + i),
 * s this party's summand as sent and s2 the peers' sum (NULL: s alone is the opened value). */
void mpc_masked_finish(uint64_t *out, const uint64_t *s, const uint64_t *s2, const uint64_t *lz, uint64_t t0,
                       size_t n);
/* floor(x / 2^k) (+ at most one ulp, |x| < 2^62) of records x whose masks' shares of
 * lambda >> k and msb(lambda) are a[i], m[i]; local, one pass. With c = delta + 2^62:
 *   out[i] = ((c >> k) - 2^(62-k), a[i] - (1 - msb(c)) 2^(64-k) m[i], (t0 + i) | k << 58),
 * k in [1, 62], t0 = x[0].tag: the output's mask is the truncated mask of tag t0 + i, which the
 * dealer can rebuild (mpc/preprocessing/base.py, TAG_BITS). Returns 1 when x's tags are a run
 * of fresh tags (1 <= t0, t0 + n <= 2^58; checked in the pass), else 0 (then out is unusable). */
int mpc_masked_trunc(uint64_t *out, const uint64_t *x, const uint64_t *a, const uint64_t *m, unsigned k,
                      size_t n);
/* mpc_masked_finish then mpc_masked_trunc in one pass, without the untruncated records: out[i] is
 * the truncation by k of the record (s[i] + s2[i] (s2 NULL: s[i]), ., t0 + i), k in [1, 62]
 * (its mask shares a[i], m[i] as above). Returns 1 when t0 .. t0 + n - 1 are fresh tags
 * (1 <= t0, t0 + n <= 2^58), else 0 (then out is unusable). */
int mpc_masked_finish_trunc(uint64_t *out, const uint64_t *s, const uint64_t *s2, const uint64_t *a,
                            const uint64_t *m, uint64_t t0, unsigned k, size_t n);

#ifdef __cplusplus
}
#endif

#endif /* MPC_RING64_H */
