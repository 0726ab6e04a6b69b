/* Fused Beaver-multiplication steps on flat uint64 arrays, mod 2^64.
 *
 * A party holding shares x, y and a triple (a, b, c = a*b) opens d = x - a and e = y - b, then
 * its share of x*y is c + d*b + e*a, plus d*e on exactly one ("first") party. Fusing each step
 * into one pass reads every operand once instead of once per NumPy temporary.
 *
 * Outputs must not overlap inputs (the Python wrappers always allocate them).
 */
#ifndef MPC_BEAVER_H
#define MPC_BEAVER_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* d[i] = x[i] - a[i] for i < nd and e[i] = y[i] - b[i] for i < ne, in one pass. The pairs may
 * differ in length (the matrix variant masks an (m, k) and a (k, n) operand). */
void mpc_beaver_mask_u64(uint64_t *d, uint64_t *e, const uint64_t *x, const uint64_t *a,
                         const uint64_t *y, const uint64_t *b, size_t nd, size_t ne);

/* z[i] = c[i] + D*b[i] + E*a[i], plus D*E when first != 0, where the opened masks are
 * D = d[i] + d2[i] and E = e[i] + e2[i] when d2 and e2 are given, else D = d[i] and E = e[i].
 * d2 and e2 are both NULL or both non-NULL.
 *
 * The two-part form exists because the opened masks arrive as this party's own masked values
 * and the peers' (for two parties: the one received buffer): summing them here, in registers,
 * saves the separate opening pass that would read 2 x 16 bytes and write 16 bytes per element
 * (plus a fresh, page-faulted array) only for this kernel to read the sum back.
 * The first party computes D*(b + E) + E*a, so every variant costs two 64-bit multiplies per
 * element; one pass reads 5 (or 7) arrays and writes z. */
void mpc_beaver_combine_u64(uint64_t *z, const uint64_t *c, const uint64_t *d, const uint64_t *e,
                            const uint64_t *a, const uint64_t *b, const uint64_t *d2,
                            const uint64_t *e2, size_t n, int first);

/* z = c + d@b + a@e, plus d@e when first != 0, with d and a (m, k), e and b (k, n), c and z
 * (m, n). The first party computes d@(b + e) + a@e: two matrix products either way, the sum
 * b + e formed while packing. k == 0 gives z = c (d, e, a, b are not read). */
void mpc_beaver_matmul_combine_u64(uint64_t *z, const uint64_t *c, const uint64_t *d,
                                   const uint64_t *e, const uint64_t *a, const uint64_t *b,
                                   size_t m, size_t k, size_t n, int first);

/* The truncating product (mpc.engines.semi2k.Semi2k.mul_truncating): one party's share of
 * floor(x / 2^k1) * floor(y / 2^k2) after the opening of C1 = x + 2^62 + r1 and C2 = y + r2
 * (+ 2^62 when k2 > 0). The opened values are c1 + c1r and c2 + c2r (c1r, c2r both NULL: c1 and
 * c2 are already the opened values). With P_j = (C_j >> k_j) - 2^(62-k_j),
 * T_j = (1 - msb(C_j)) * 2^(64-k_j), L1 = a1 - T1*m1 and L2 = a2 - T2*m2 (k2 > 0) or P2 = C2,
 * L2 = a2 (k2 == 0):
 *   z = a1a2 - T1*m1a2 - T2*a1m2 + T1*T2*m1m2 - P1*L2 - P2*L1, plus P1*P2 when first != 0.
 * m2 and a1m2 are read only when k2 > 0, m1m2 only when k2 > 0 and k1 + k2 > 64 (otherwise
 * T1*T2 = 0 mod 2^64). 1 <= k1 <= 62, 0 <= k2 <= 62. Every T*X is a mask and a shift.
 * One pass reads 8 to 12 arrays and writes z: the truncation finish and the Beaver combine of
 * the separate protocol (two passes and a round apart) in one. */
void mpc_beaver_tmul_finish_u64(uint64_t *z, const uint64_t *c1, const uint64_t *c2,
                                const uint64_t *c1r, const uint64_t *c2r, const uint64_t *a1,
                                const uint64_t *m1, const uint64_t *a2, const uint64_t *m2,
                                const uint64_t *a1a2, const uint64_t *m1a2, const uint64_t *a1m2,
                                const uint64_t *m1m2, unsigned k1, unsigned k2, int first,
                                size_t n);

/* The truncating square: one party's share of floor(x / 2^k)^2 from C = c + cr (or c) =
 * x + 2^62 + r and shares a = r >> k, m = msb(r), aa = a^2, am = a*m: with P, T as above,
 *   z = aa - 2T*am - 2P*(a - T*m) + T^2*m, plus P^2 when first != 0 (T^2 = 0 unless k > 32).
 * 1 <= k <= 62. One pass reads 5 or 6 arrays and writes z. */
void mpc_beaver_tsquare_finish_u64(uint64_t *z, const uint64_t *c, const uint64_t *cr,
                                   const uint64_t *a, const uint64_t *m, const uint64_t *aa,
                                   const uint64_t *am, unsigned k, int first, size_t n);

#ifdef __cplusplus
}
#endif

#endif /* MPC_BEAVER_H */
