/* GF(2^64) arithmetic and authenticated bit words (spdz2k's boolean side).
 *
 * GF(2^64) = GF(2)[X] / (X^64 + X^4 + X^3 + X + 1); an element is a uint64 whose bit i is the
 * coefficient of X^i. An authenticated bit word is a record of MPC_BAUTH_WORDS = 66 uint64
 * words: [0] this party's share of 64 bits, [1] its folded MAC f = sum_j X^j m_j, [2 + j] the
 * MAC share m_j of bit j (see mpc/sharing/auth_bits.py). n counts elements (GF elements, or
 * records for the mpc_bauth_* kernels; their d, e, c word arrays span n words).
 *
 * Carry-less products use PCLMULQDQ when the CPU has it (chosen at run time, compiled with a
 * target attribute), else a portable 4-bit window.
 *
 * Aliasing: mpc_gf64_mul allows out == a or out == b; the other kernels require out not to
 * overlap any input.
 */
#ifndef MPC_GF2K_H
#define MPC_GF2K_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define MPC_BAUTH_WORDS 66

/* Instruction sets of the bit-word kernels (fold, AND, AND/XOR with public words): AVX-512
 * (F, DQ, with PCLMULQDQ) when the CPU has it, else AVX2 (with PCLMULQDQ), else portable C;
 * set_isa forces one (returns -1 when this CPU cannot run it), isa says which one runs,
 * isa_supported whether one can. */
#define MPC_GF2K_AUTO 0
#define MPC_GF2K_PORTABLE 1
#define MPC_GF2K_AVX512 2
#define MPC_GF2K_AVX2 3
int mpc_gf2k_set_isa(int isa);
int mpc_gf2k_isa(void);
int mpc_gf2k_isa_supported(int isa);

/* out[i] = a[i] * b[i] in GF(2^64) */
void mpc_gf64_mul(uint64_t *out, const uint64_t *a, const uint64_t *b, size_t n);
/* m is (n, 64): out[i] = sum_j X^j m[64 i + j] in GF(2^64) (the folded MAC of word i) */
void mpc_gf64_fold(uint64_t *out, const uint64_t *m, size_t n);
/* sum_i a[i] * b[i] in GF(2^64) (one reduction at the end) */
uint64_t mpc_gf64_dot(const uint64_t *a, const uint64_t *b, size_t n);

/* out (n, 64) = m ^ Delta b: word j of row i is m[64 i + j], XORed with delta where bit j of w[i]
 * is set (out may be m itself). The dealer's MAC shares of party n-1 for bit words w: the MACs
 * Delta b of every bit, with the others' MAC shares XORed away in the same pass. */
void mpc_bit_macs_xor(uint64_t *out, const uint64_t *w, uint64_t delta, const uint64_t *m, size_t n);

/* Authenticated AND from a triple (records c, a, b) and the opened d = x ^ a, e = y ^ b: bits
 * c ^ d&b ^ e&a (^ d&e when first != 0), MAC of bit j m_c ^ d_j m_b ^ e_j m_a ^ d_j e_j delta,
 * and the fold of those MACs. */
void mpc_bauth_and(uint64_t *out, const uint64_t *c, const uint64_t *a, const uint64_t *b, const uint64_t *d,
                   const uint64_t *e, uint64_t delta, int first, size_t n);
/* mpc_bauth_and without the MACs of the bits: out is (n, 2), (bits, fold); of c only the bits and
 * the fold are read (the fold is linear: f_c ^ fold(d m_b) ^ fold(e m_a) ^ (d & e) * delta), from
 * records of cs words: MPC_BAUTH_WORDS, or 2 for c's light words (a triple's heads). */
void mpc_bauth_and_light(uint64_t *out, const uint64_t *c, size_t cs, const uint64_t *a, const uint64_t *b,
                         const uint64_t *d, const uint64_t *e, uint64_t delta, int first, size_t n);
/* x ^ c for public words c: bits ^ c when first != 0, MAC of bit j ^ c_j delta, fold ^ c * delta */
void mpc_bauth_xor_public(uint64_t *out, const uint64_t *x, const uint64_t *c, uint64_t delta, int first,
                          size_t n);
/* x & c for public words c: bits & c, MAC of bit j kept where c_j = 1 and zeroed elsewhere, fold
 * recomputed */
void mpc_bauth_and_public(uint64_t *out, const uint64_t *x, const uint64_t *c, size_t n);
/* mpc_bauth_and_public without the MACs of the bits: out is (n, 2), (bits, fold) */
void mpc_bauth_and_public_light(uint64_t *out, const uint64_t *x, const uint64_t *c, size_t n);
/* Both of mpc_bauth_and_public_light(and_out, x, c) and the light x ^ c (bits ^ c when first != 0,
 * fold ^ c * delta) into xor_out, each (n, 2), from one pass over the records x: the leaves of a
 * comparison with public words (l = x & c, e = x ^ c), reading each record once */
void mpc_bauth_and_xor_public_light(uint64_t *and_out, uint64_t *xor_out, const uint64_t *x, const uint64_t *c,
                                    uint64_t delta, int first, size_t n);
/* The first level of a comparison tree with public words, from pair products: for records x
 * (2 pairs, w) (row-major: row 2t is the low bit of pair t, row 2t+1 the high), their products
 * q = x_2t & x_2t+1 as records (pairs, w) and public words c (2 pairs, w), the light
 * l = x_h & c_h ^ q & c_l ^ x_l & c_l & c_h and e = q ^ x_h & c_l ^ x_l & c_h ^ c_l & c_h (the constant in
 * the bits when first != 0, its fold (c_l & c_h) * delta) into l_out and e_out, each (pairs, w, 2): the
 * tree's L = l_h ^ e_h & l_l and E = e_h & e_l on its leaves l = x & c, e = x ^ c, with no AND
 * gate (both are linear in x and q) */
void mpc_bauth_lt_pairs_light(uint64_t *l_out, uint64_t *e_out, const uint64_t *r, const uint64_t *q,
                              const uint64_t *c, uint64_t delta, int first, size_t pairs, size_t w);
/* w[i] = x[i].bits ^ a[i].bits and f[i] = x[i].fold ^ a[i].fold for (bits, fold) word pairs x
 * (2 words each) and a's records of `stride` words (MPC_BAUTH_WORDS for BAUTH records, of which
 * only the first 16 bytes are read; 2 for light words, such as a triple's heads): an AND's
 * masked operand to send, and the fold of its MAC (MACs are linear) */
void mpc_bauth_mask(uint64_t *w, uint64_t *f, const uint64_t *x, const uint64_t *a, size_t stride, size_t n);

#ifdef __cplusplus
}
#endif

#endif /* MPC_GF2K_H */
