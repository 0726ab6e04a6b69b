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

#ifdef __cplusplus
}
#endif

#endif /* MPC_BEAVER_H */
