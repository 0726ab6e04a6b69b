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

/* out[i] = a[i] + b[i] mod 2^64 */
void mpc_ring64_add(uint64_t *out, const uint64_t *a, const uint64_t *b, size_t n);
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

#ifdef __cplusplus
}
#endif

#endif /* MPC_RING64_H */
