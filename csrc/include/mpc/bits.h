/* Packed-bit kernels for boolean (GMW) sharing.
 *
 * Packing is little-endian: bit j of word w holds element 64*w + j. Packed outputs have the
 * unused high bits of a row's last word cleared. Unpacked bits are one uint8 per element.
 *
 * Aliasing: the elementwise word kernels (and/xor/not) accept out equal to an input (in-place)
 * but no other overlap; every other kernel requires out not to overlap its inputs.
 */
#ifndef MPC_BITS_H
#define MPC_BITS_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* bits is (rows, n) uint8, out is (rows, words) uint64 with words = ceil(n / 64): bit j of
 * out[r, w] = bits[r, 64w + j] & 1 (only the low bit of each byte counts); padding bits 0. */
void mpc_bits_pack(uint64_t *out, const uint8_t *bits, size_t rows, size_t n);
/* words is (rows, nwords), out is (rows, n) with n <= 64 * nwords: out[r, i] = bit i of row r
 * (0 or 1). Bits past n are ignored. */
void mpc_bits_unpack(uint8_t *out, const uint64_t *words, size_t rows, size_t nwords, size_t n);

/* out[i] = a[i] & b[i] */
void mpc_bits_and(uint64_t *out, const uint64_t *a, const uint64_t *b, size_t n);
/* out[i] = a[i] ^ b[i] */
void mpc_bits_xor(uint64_t *out, const uint64_t *a, const uint64_t *b, size_t n);
/* out[i] = ~a[i] (all 64 bits) */
void mpc_bits_not(uint64_t *out, const uint64_t *a, size_t n);

/* a and out are (blocks, 64) words; each 64x64 block is transposed: bit j of out[b, i] = bit i
 * of a[b, j]. out may equal a (the block is transposed in a local copy). */
void mpc_bits_transpose64(uint64_t *out, const uint64_t *a, size_t blocks);

/* values is (n,); planes is (64, w) with w = ceil(n / 64): bit j of planes[i, b] = bit i of
 * values[64b + j], with values past n read as 0. */
void mpc_bits_bitslice(uint64_t *planes, const uint64_t *values, size_t n);
/* planes is (k, w) with k <= 64, values is (n,) with n <= 64 w: the inverse of bitslice,
 * planes k..63 read as 0. */
void mpc_bits_unbitslice(uint64_t *values, const uint64_t *planes, size_t k, size_t w, size_t n);

/* One party's share of x AND y from a bit triple (a, b, c) and opened d = x^a, e = y^b:
 * out[i] = c[i] ^ (d[i] & b[i]) ^ (e[i] & a[i]), further ^ (d[i] & e[i]) when first != 0. */
void mpc_bits_gmw_and_combine(uint64_t *out, const uint64_t *c, const uint64_t *d, const uint64_t *e,
                              const uint64_t *a, const uint64_t *b, int first, size_t n);

#ifdef __cplusplus
}
#endif

#endif /* MPC_BITS_H */
