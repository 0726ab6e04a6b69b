/* uint64 matrix products mod 2^64, row-major, C-contiguous operands.
 *
 * NumPy's integer `@` has no BLAS behind it, so this is the kernel that matters most for
 * secret-shared linear algebra. Each call picks its code at run time from what the CPU has
 * (AVX-512F+DQ, else AVX2, else portable C; see matmul.c), so one build serves every x86-64 CPU
 * and none needs -mavx512 on the command line. Every path gives the same bits.
 *
 * No kernel allocates: packing buffers are fixed-size stack arrays (at most about 72 KiB at the
 * deepest call), so callers on small thread stacks must allow for that.
 */
#ifndef MPC_MATMUL_H
#define MPC_MATMUL_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Instruction sets of the product kernels. MPC_MATMUL_AUTO is the widest this CPU supports. */
enum {
    MPC_MATMUL_AUTO = 0,
    MPC_MATMUL_PORTABLE = 1, /* plain C, built for the baseline of the target (x86-64: SSE2) */
    MPC_MATMUL_AVX2 = 2,
    MPC_MATMUL_AVX512 = 3, /* AVX-512F and AVX-512DQ (vpmullq) */
};

/* 1 when this build and this CPU (and OS) can run `isa`, else 0; AUTO and PORTABLE always can. */
int mpc_matmul_isa_supported(int isa);

/* The instruction set AUTO resolves to on this CPU (never AUTO itself). */
int mpc_matmul_isa_best(void);

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

/* The same products on a chosen instruction set (tests and benchmarks force each path with
 * these): c = a @ (b + b2) when `acc` is 0, c += a @ (b + b2) when it is 1 (b2 may be NULL), once
 * per batch entry (batch 1 for a single product). Returns 0, or -1 without touching c when `isa`
 * is unknown or not supported here. */
int mpc_matmul_isa_u64(uint64_t *c, const uint64_t *a, const uint64_t *b, const uint64_t *b2,
                       size_t batch, size_t m, size_t k, size_t n, int acc, int isa);

#ifdef __cplusplus
}
#endif

#endif /* MPC_MATMUL_H */
