/* uint64 matrix products mod 2^64, row-major, C-contiguous operands.
 *
 * NumPy's integer `@` has no BLAS behind it, so this is the kernel that matters most for
 * secret-shared linear algebra. The AVX2 path computes each 64x64->64 product from 32-bit halves
 * (see matmul.c); without AVX2 a portable scalar loop gives the same bits.
 *
 * No kernel allocates: packing buffers are fixed-size stack arrays (about 65 KiB at the deepest
 * call), so callers on small thread stacks must allow for that.
 */
#ifndef MPC_MATMUL_H
#define MPC_MATMUL_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* c = a @ b mod 2^64 with a (m, k), b (k, n), c (m, n). c must not alias a or b.
 * k == 0 gives zeros; a and b are not read then (they may be NULL). */
void mpc_matmul_u64(uint64_t *c, const uint64_t *a, const uint64_t *b, size_t m, size_t k, size_t n);

/* c += a @ (b + b2) mod 2^64, shapes as above; b2 may be NULL (then c += a @ b). The sum b + b2
 * is formed while packing, so it costs no extra pass and no (k, n) temporary: the Beaver matrix
 * combine uses it for d @ (b + e). c must not alias a, b or b2. */
void mpc_matmul_acc_u64(uint64_t *c, const uint64_t *a, const uint64_t *b, const uint64_t *b2,
                        size_t m, size_t k, size_t n);

/* c[i] = a[i] @ b[i] for i < batch: a (batch, m, k), b (batch, k, n), c (batch, m, n). */
void mpc_matmul_batched_u64(uint64_t *c, const uint64_t *a, const uint64_t *b, size_t batch,
                            size_t m, size_t k, size_t n);

#ifdef __cplusplus
}
#endif

#endif /* MPC_MATMUL_H */
