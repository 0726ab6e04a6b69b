/* Elementwise arithmetic in the ring Z_2^128 (SPDZ2k shares and MACs).
 *
 * An element is two uint64 words, interleaved: word 2i is the low half of element i, word
 * 2i+1 the high half (the (..., 2) layout of the Python side). n counts elements, so every
 * array argument spans 2n words, except the 64-bit multiplier of mpc_ring128_mul64 (n words).
 *
 * Aliasing: `out` may be the same pointer as an input (in-place) but must not otherwise overlap
 * one; each kernel reads both words of an element before writing either.
 */
#ifndef MPC_RING128_H
#define MPC_RING128_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* out[i] = a[i] + b[i] mod 2^128 */
void mpc_ring128_add(uint64_t *out, const uint64_t *a, const uint64_t *b, size_t n);
/* out[i] = a[i] - b[i] mod 2^128 */
void mpc_ring128_sub(uint64_t *out, const uint64_t *a, const uint64_t *b, size_t n);
/* out[i] = -a[i] mod 2^128 */
void mpc_ring128_neg(uint64_t *out, const uint64_t *a, size_t n);
/* out[i] = a[i] * b[i] mod 2^128 (low 128 bits of the 256-bit product) */
void mpc_ring128_mul(uint64_t *out, const uint64_t *a, const uint64_t *b, size_t n);
/* out[i] = a[i] * b[i] mod 2^128 with b[i] a 64-bit value (b spans n words, not 2n) */
void mpc_ring128_mul64(uint64_t *out, const uint64_t *a, const uint64_t *b, size_t n);

/* c (m, n) = a (m, k) @ b (k, n) mod 2^128. a and b are 128-bit (2 words per element) when
 * a_wide / b_wide is nonzero, else 64-bit values (1 word, zero-extended); c is always 128-bit and
 * must not overlap a or b. */
void mpc_ring128_matmul(uint64_t *c, const uint64_t *a, const uint64_t *b, size_t m, size_t k, size_t n,
                        int a_wide, int b_wide);

/* Z_2^128 matrix products from uint64 and float64 products (mpc._core._ring.matmul128 and the
 * spdz2k matrix Beaver combine, auth_matmul_combine). For 64-bit words x, y the full 128-bit sum
 * S = sum_p x_p y_p over a k-slice of at most MPC_MM128F_KC terms is S = 2^64 P11 + Q, with
 * P11 = sum x1 y1 (the words' high 32-bit halves: a uint64 product mod 2^64) and
 * 0 <= Q < 2^105. Q mod 2^64 = S mod 2^64 (the uint64 product of the words themselves), and a
 * float64 product gives Q / 2^32 = sum x1 y0 + x0 (y1 + y0 2^-32) to within 2^28: every term is
 * below 2^64 and there are 2 kc <= 256 of them, so the worst-case rounding bound of any order of
 * summation, gamma_256 2^72 (gamma_n = n u / (1 - n u), u = 2^-53: just over 2^27), plus 2^-21 x0
 * < 2^11 for each rounded y1 + y0 2^-32. So Q is known to within 2^60 < 2^63, and its high word is
 * recovered exactly by rounding (Q - S mod 2^64) / 2^64 to the nearest integer. The words' high halves (x = xl + 2^64 xh) add xl yh + xh yl mod 2^64: more
 * uint64 products (the cross words). Packing, one pass per operand and slice:
 * - mpc_mm128f_left: rows r < rows of a, element (r, k0 + p) at word
 *   (r / rdiv) rs + (r % rdiv) rm + (k0 + p) ps (its high word next, when wide): xw (rows, kc) the
 *   low words, then (wide) rows more of high words; x1 (rows, kc) the low words' high halves;
 *   fl (rows, 2 kc) = [x1 | x0] as float64.
 * - mpc_mm128f_right: b (k, n), 64-bit or (wide) 128-bit, rows [k0, k0 + kc): y1 (kc, n),
 *   fr (2 kc, n) = [y0 ; y1 + y0 2^-32] as float64 and (wide) ylo, yhi (kc, n) the low and the
 *   high words (unused, may be NULL, for a 64-bit b, whose rows are its low words).
 * - mpc_mm128f_right_auth: the spdz2k combine's B' = (b.v + [first] e, b.m + alpha e) for records
 *   b and 64-bit e (k, n), value and MAC as columns 2j, 2j + 1: yw (kc, 4n) = [low words | high
 *   words], y1 (kc, 2n), fr (2 kc, 2n).
 * mpc_mm128f_finish: for the (rows, cols) products lo (row stride ld), cross and cross2 (strides
 * ldc, ldc2; NULL for none), p11 and fx (contiguous), adds lo + 2^64 (p11 + h + cross + cross2)
 * mod 2^128 to the 128-bit element of row r, column c at word offset
 * (r / rdiv) rs + (r % rdiv) rm + c cs of acc. */
#define MPC_MM128F_KC 128
void mpc_mm128f_left(uint64_t *xw, uint64_t *x1, double *fl, const uint64_t *a, size_t rows, size_t rdiv,
                     size_t rs, size_t rm, size_t ps, int wide, size_t k0, size_t kc);
void mpc_mm128f_right(uint64_t *ylo, uint64_t *yhi, uint64_t *y1, double *fr, const uint64_t *b, size_t n,
                      int wide, size_t k0, size_t kc);
void mpc_mm128f_right_auth(uint64_t *yw, uint64_t *y1, double *fr, const uint64_t *b, const uint64_t *e,
                           uint64_t alpha, int first, size_t n, size_t k0, size_t kc);
void mpc_mm128f_finish(uint64_t *acc, size_t rdiv, size_t rs, size_t rm, size_t cs, const uint64_t *lo, size_t ld,
                       const uint64_t *cross, size_t ldc, const uint64_t *cross2, size_t ldc2, const uint64_t *p11,
                       const double *fx, size_t rows, size_t cols);

/* SPDZ2k authenticated shares (mpc.sharing.authenticated): one record of 4 words per element,
 * value share (lo, hi) then MAC share (lo, hi). Opened values d, e and public values c are
 * 128-bit (2 words per element); alpha is this party's 64-bit MAC key share; `first` is nonzero
 * at party 0, which alone adds public values to its value share. */

/* x[i].v - a[i].v into lo[vs i] (low word) and hi[vs i] (high word), mac[i] = x[i].m - a[i].m: the
 * masked value to send, its MAC share. vs = 2, hi = lo + 1: interleaved (lo, hi) words; vs = 1:
 * planar, the low words of a message apart from its high words (a Beaver opening: its combine
 * reads the low words only) */
void mpc_auth_sub_split(uint64_t *lo, uint64_t *hi, uint64_t *mac, const uint64_t *x, const uint64_t *a, size_t vs,
                        size_t n);
/* z = c + D b + E a + D E: value (D E at party 0 only) and MAC (alpha D E at every party), with
 * D = d + d2 and E = e + e2 when d2 and e2 are given (both or neither NULL: the opening's sum of
 * this party's masked shares and the peers', formed in registers), else D = d and E = e; D and E
 * taken mod 2^64 (public coefficients: z is authenticated, and right mod 2^64, as a SPDZ2k value
 * needs to be), so only the words d[ds i] (and e, d2, e2 alike) are read: ds = 2 for Z_2^128
 * values (their low words), ds = 1 for arrays of low words (a planar opening's) */
void mpc_auth_beaver_combine(uint64_t *z, const uint64_t *c, const uint64_t *a, const uint64_t *b,
                             const uint64_t *d, const uint64_t *e, const uint64_t *d2, const uint64_t *e2,
                             uint64_t alpha, int first, size_t ds, size_t n);
/* z = c + 2 D a + D^2: the square of a pair (a, c = a^2), D = d + d2 when d2 is given (may be
 * NULL: D = d), taken mod 2^64 and read with the stride ds as above */
void mpc_auth_square_combine(uint64_t *z, const uint64_t *c, const uint64_t *a, const uint64_t *d, const uint64_t *d2,
                             uint64_t alpha, int first, size_t ds, size_t n);
/* z = x + p for public 128-bit p: value (party 0) and MAC (alpha p) */
void mpc_auth_add_public(uint64_t *z, const uint64_t *x, const uint64_t *p, uint64_t alpha, int first, size_t n);
/* val[i] = x[i].v + a[i].v (+ c at party 0), mac[i] = x[i].m + a[i].m + alpha c: the masked
 * x + r + c to send (a truncation's opening) and its MAC share, for a public 64-bit c */
void mpc_auth_add_split(uint64_t *val, uint64_t *mac, const uint64_t *x, const uint64_t *a, uint64_t c,
                        uint64_t alpha, int first, size_t n);
/* z[i] = sum_t c_t[i] x_t[i] + p[i] for `terms` record arrays x_t and 64-bit public coefficients
 * c_t[i] = coef[t][i], or scalar[t] where coef[t] is NULL; p (64-bit, may be NULL) is added to
 * party 0's value and alpha p to every MAC: a linear function of authenticated shares */
void mpc_auth_lincomb(uint64_t *z, const uint64_t *const *x, const uint64_t *const *coef, const uint64_t *scalar,
                      size_t terms, const uint64_t *p, uint64_t alpha, int first, size_t n);
/* spdz2k's division by a public d (truncation: d = 2^shift, shift >= 0; else shift = -1), from the
 * opening of x + 2^62 + r kept as two summands own, rest ((n, 2) words; c = the low words' sum):
 * z = coef r_msb + (2^64 - 1) r_high + p (p in party 0's value when first, alpha p in every MAC)
 * with coef = (1 - msb(c)) q and p = c / d - low (q = floor(2^64 / d), low = floor(2^62 / d)),
 * exactly mpc_auth_lincomb's result for those terms */
void mpc_auth_div_finish(uint64_t *z, const uint64_t *own, const uint64_t *rest, const uint64_t *r_msb,
                         const uint64_t *r_high, uint64_t d, int shift, uint64_t q, uint64_t low, uint64_t alpha,
                         int first, size_t n);
/* spdz2k's truncating product floor(x / 2^k1) floor(y / 2^k2) (k2 = 0: y as is) from the
 * opening of x + 2^62 + r1 and y + r2 (+ 2^62 when k2 > 0) kept as two summands own, rest
 * ((2n, 2) words: x's n elements, then y's; c1, c2 the low words' sums) and a tmul tuple's records
 * (m2 and a1m2 read only when k2 > 0, m1m2 only when it is not NULL): z = a1a2 - P2 a1 + P2 T1 m1
 * - P1 a2 - T1 m1a2 (+ P1 T2 m2 - T2 a1m2 + T1 T2 m1m2 when k2 > 0) + P1 P2 (party 0's value when
 * first, alpha P1 P2 in every MAC), with P_j = (c_j >> k_j) - 2^(62-k_j) and T_j = (1 -
 * msb(c_j)) 2^(64-k_j), or P2 = c2 and T2 = 0 when k2 = 0: exactly mpc_auth_lincomb's result for
 * those terms and coefficients (each taken mod 2^64) */
void mpc_auth_tmul_finish(uint64_t *z, const uint64_t *own, const uint64_t *rest, const uint64_t *a1,
                          const uint64_t *m1, const uint64_t *a2, const uint64_t *m2, const uint64_t *a1a2,
                          const uint64_t *m1a2, const uint64_t *a1m2, const uint64_t *m1m2, int k1, int k2,
                          uint64_t alpha, int first, size_t n);
/* spdz2k's truncating square floor(x / 2^k)^2 from the opening of x + 2^62 + r as own, rest
 * ((n, 2) words) and a tsquare tuple's records (a = r >> k, m = msb(r), aa, am): z = aa - 2P a -
 * 2T am + (2PT + T^2) m + P^2 (P, T as above), mpc_auth_lincomb's result for those terms */
void mpc_auth_tsquare_finish(uint64_t *z, const uint64_t *own, const uint64_t *rest, const uint64_t *a,
                             const uint64_t *mm, const uint64_t *aa, const uint64_t *am, int k, uint64_t alpha,
                             int first, size_t n);
/* out = sum_i chi[i] v[i] mod 2^128 (chi 64-bit) for v[i] = lo[vs i] + 2^64 hi[vs i] (vs = 2 and
 * hi = lo + 1: interleaved words; vs = 1: planar): the MAC check's random combination */
void mpc_ring128_dot64(uint64_t *out, const uint64_t *lo, const uint64_t *hi, const uint64_t *chi, size_t vs, size_t n);

#ifdef __cplusplus
}
#endif

#endif /* MPC_RING128_H */
