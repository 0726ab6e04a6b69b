/* Offline-phase kernels of the dealer-free spdz2k material (mpc/preprocessing/ot_vole.py and the
 * wide Gilboa products of mpc/preprocessing/ot_link.py): Z_2^128 values as (lo, hi) uint64 pairs.
 *
 * mpc_spdz_weighted128: out[i, j] = sum_k 2^k v[i, k, j] mod 2^128 for v of shape (a, nbits, w, 2)
 *   (the weighting of Gilboa and COPE outputs); out (a, w, 2). nbits <= 128.
 * mpc_spdz_untrim128: the trimmed corrections raw (the bytes that matter mod 2^128 after the
 *   weight 2^k: OTs k of one group keep nb = ceil((128 - k) / 8) bytes; groups by nb from 16 down,
 *   k0 = max(0, 128 - 8 nb), k1 = min(nbits, 128 - 8 (nb - 1)); raw holds each group as
 *   (a, k1 - k0, w, nb) bytes, one group after the other) -> (a, nbits, w, 2) words, the bytes
 *   not sent set to zero.
 * No allocation; out must not overlap the input.
 */
#ifndef MPC_SPDZ_OFFLINE_H
#define MPC_SPDZ_OFFLINE_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

void mpc_spdz_weighted128(uint64_t *out, const uint64_t *v, size_t a, size_t nbits, size_t w);
void mpc_spdz_untrim128(uint64_t *out, const uint8_t *raw, size_t a, size_t nbits, size_t w);
size_t mpc_spdz_trimmed128_bytes(size_t a, size_t nbits, size_t w);

#ifdef __cplusplus
}
#endif

#endif
