/* Modular multi-exponentiation by Montgomery multiplication, for the Paillier matrix triples
 * (mpc/crypto/paillier.py: products prod_l c_l^(e_il) mod n^2 and fixed-exponent powers r^n).
 *
 * Numbers cross this boundary as little-endian arrays of `limbs` uint64 words in normal form
 * (0 <= x < N); the modulus N is odd, N > 1, at most MPC_MONT_MAX_LIMBS words. Inside, each job
 * converts to Montgomery form once (bases, tables, results), multiplies there, and converts back,
 * so every output is bit-identical to the plain modular result (tests/test_paillier_mont.py).
 *
 * Two multiplications, chosen at run time (mpc_mont_set_isa forces one):
 * - portable: CIOS with 64-bit words and unsigned __int128 (Koc, Acar, Kaliski, "Analyzing and
 *   comparing Montgomery multiplication algorithms", IEEE Micro 1996), R = 2^(64 limbs);
 * - AVX-512 IFMA: word-by-word Montgomery in radix 2^52, eight digits per 512-bit vector, the
 *   low and high halves of each 52 x 52-bit product from VPMADD52LUQ/HUQ added to the
 *   accumulator before and after the one-digit shift (Gueron and Krasnov, "Software
 *   implementation of modular exponentiation, using advanced vector instructions
 *   architectures", WAIFI 2012; Drucker and Gueron, "Fast modular squaring with AVX512IFMA",
 *   ITNG 2019), R = 2^(52 * 8 * ceil(digits / 8)).
 * Both reduce fully (result < N) after every product.
 *
 * No allocation: callers pass scratch of the size mpc_mont_*_scratch returns (in uint64 words).
 * Outputs must not overlap inputs. Functions return 0, or -1 on bad sizes (modulus even, zero
 * or too long, window outside 1..12, exp_bits outside 1..64, scratch too small).
 */
#ifndef MPC_MONTGOMERY_H
#define MPC_MONTGOMERY_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define MPC_MONT_MAX_LIMBS 128

#define MPC_MONT_AUTO 0
#define MPC_MONT_PORTABLE 1
#define MPC_MONT_IFMA 2

/* Force an implementation (MPC_MONT_AUTO: the best this CPU runs); -1 if this CPU cannot run it. */
int mpc_mont_set_isa(int isa);
/* The implementation in use (MPC_MONT_PORTABLE or MPC_MONT_IFMA), and whether one can run. */
int mpc_mont_isa(void);
int mpc_mont_isa_supported(int isa);

/* Scratch words for mpc_mont_multiexp with up to `chunk` bases per table chunk (and m rows of
 * ceil(exp_bits / w) windows), and for mpc_mont_powmod. */
size_t mpc_mont_multiexp_scratch(size_t limbs, size_t m, size_t chunk, unsigned w, unsigned exp_bits);
size_t mpc_mont_powmod_scratch(size_t limbs);

/* out[i] = prod_{l < k} x_l^(e[i * e_stride + l]) mod N for rows i < m (Straus: one window table
 * of 2^w powers per base, shared by the m rows; tables for as many bases at a time as the
 * scratch holds; one partial product per row and window across the chunks, squared once at the
 * end). Exponents must be < 2^exp_bits; e holds uint64 words (e_bytes = 8) or, for
 * exp_bits <= 8, bytes (e_bytes = 1). */
int mpc_mont_multiexp(uint64_t *out, uint64_t *scratch, size_t scratch_words, const uint64_t *x,
                      const void *e, int e_bytes, size_t e_stride, const uint64_t *n, size_t limbs, size_t k,
                      size_t m, unsigned w, unsigned exp_bits);

/* out[i] = x_i^exp mod N for count numbers (one exponent of exp_limbs words; fixed windows). */
int mpc_mont_powmod(uint64_t *out, uint64_t *scratch, size_t scratch_words, const uint64_t *x,
                    const uint64_t *exp, size_t exp_limbs, const uint64_t *n, size_t limbs, size_t count);

/* out = a b mod N (one product, through Montgomery form: for tests). */
int mpc_mont_mulmod(uint64_t *out, uint64_t *scratch, size_t scratch_words, const uint64_t *a,
                    const uint64_t *b, const uint64_t *n, size_t limbs);

#ifdef __cplusplus
}
#endif

#endif /* MPC_MONTGOMERY_H */
