/* OT-extension kernels (mpc/crypto/ot_ext.py, mpc/preprocessing/ot_link.py).
 *
 * A 128-bit block is two uint64 words, low word first. Hash outputs are (m, blocks, 2) words:
 * row j, output block l; the kernels that read hash outputs take the word of OT j at h[j * stride]
 * (stride 2 * blocks for full outputs, 1 for the first words alone). Gilboa products: n elements
 * of nbits OTs each (OT e*nbits + k is bit k of element e), one 64-bit correlation per element.
 * Trimmed corrections: the OT k correction keeps ceil((64 - k) / 8) low bytes, laid out group by
 * group (byte widths 8, 7, ..., 1; a group holds the OTs with that width), element-major inside a
 * group: see mpc_ot_trimmed_bytes.
 *
 * Aliasing: mpc_ot_hash_finish allows out == y; otherwise no output may overlap an input.
 */
#ifndef MPC_OT_H
#define MPC_OT_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* rows is (128, w): out is (64 w, 2), out[j][h] bit i = bit j % 64 of rows[64 h + i][j / 64]. */
void mpc_ot_transpose128(uint64_t *out, const uint64_t *rows, size_t w);
/* out (m, blocks, 2) = px[j] ^ (start + j, l): the tweaked inputs of the second AES call. */
void mpc_ot_tweak(uint64_t *out, const uint64_t *px, uint64_t start, size_t m, size_t blocks);
/* out (m, blocks, 2) = y ^ px[j]: the hash's final XOR (out may equal y). */
void mpc_ot_hash_finish(uint64_t *out, const uint64_t *y, const uint64_t *px, size_t m, size_t blocks);
/* Bytes of the trimmed corrections of n elements of nbits OTs. */
size_t mpc_ot_trimmed_bytes(size_t n, size_t nbits);
/* Sender: d_k = h1 - h0 - x[e] (trimmed into d), share[e] = -sum_k 2^k h0 (first words). */
void mpc_ot_gilboa_send(uint8_t *d, uint64_t *share, const uint64_t *h0, const uint64_t *h1, const uint64_t *x,
                        size_t n, size_t nbits, size_t stride);
/* Receiver: share[e] = sum_k 2^k (ht - c_k d_k), c_k bit k of y[e], d_k untrimmed (high bytes 0). */
void mpc_ot_gilboa_recv(uint64_t *share, const uint64_t *ht, const uint8_t *d, const uint64_t *y, size_t n,
                        size_t nbits, size_t stride);
/* out (m / 64,) words: bit j % 64 of word j / 64 = bit 0 of h[j * stride]; m a multiple of 64. */
void mpc_ot_lsb_pack(uint64_t *out, const uint64_t *h, size_t m, size_t stride);
/* out[j] = first word of H(start + j, x[j] ^ delta) (delta NULL: x[j]) for x (m, 2), with
 * H(j, x) = AES_k(AES_k(x) ^ (j, 0)) ^ AES_k(x) and k the 16-byte key: the hash of
 * mpc/crypto/ot_ext.py fused into one pass. Returns -1 (nothing written) without AES-NI. */
int mpc_ot_hash_words(uint64_t *out, const uint64_t *x, const uint64_t *delta, uint64_t start, size_t m,
                      const uint8_t key[16]);
/* out (m / 64,) words = mpc_ot_lsb_pack of mpc_ot_hash_words(x, delta, start, key), m a multiple
 * of 64, in one pass (the 1-bit OTs of AND triples). Returns -1 (nothing written) without AES-NI. */
int mpc_ot_hash_lsb(uint64_t *out, const uint64_t *x, const uint64_t *delta, uint64_t start, size_t m,
                    const uint8_t key[16]);
/* mpc_ot_gilboa_send / _recv with their hashes fused in (AES-NI): h0[j] = first word of
 * H(start + j, q[j]), h1[j] the same of q[j] ^ delta, ht[j] of t[j] (as mpc_ot_hash_words), for
 * the n * nbits OTs; same outputs as hashing first. Return -1 (nothing written) without AES-NI. */
int mpc_ot_gilboa_send_hash(uint8_t *d, uint64_t *share, const uint64_t *q, const uint64_t *delta, uint64_t start,
                            const uint8_t key[16], const uint64_t *x, size_t n, size_t nbits);
int mpc_ot_gilboa_recv_hash(uint64_t *share, const uint64_t *t, uint64_t start, const uint8_t key[16],
                            const uint8_t *d, const uint64_t *y, size_t n, size_t nbits);
/* SoftSpoken's small-field VOLE sums (mpc/crypto/ot_soft.py). nb blocks of k rows each (the last
 * has nrows - (nb - 1) k), block b owning the 2^kb leaf rows leaves[b * 2^k + x] (w words each,
 * x < 2^kb). With y = x ^ offs[b] and c = corr[b] (corr[0] when ncorr == 1):
 *   rows[b k + i] = XOR_x (bit i of y) leaves[b 2^k + x]  ^  (bit i of offs[b]) c,   i < kb;
 *   sums[b]       = XOR_x leaves[b 2^k + x]  ^  c.
 * rows (nrows, w), sums (nb, w); no output may overlap an input. */
void mpc_ot_soft_sums(uint64_t *rows, uint64_t *sums, const uint64_t *leaves, const uint8_t *offs,
                      const uint64_t *corr, size_t ncorr, size_t nb, size_t k, size_t nrows, size_t w);
/* SoftSpoken's step 1/2 fused, nrows = 128: the leaf rows (slot s = b 2^k + x: words pos ..
 * pos + w - 1 of the AES-CTR stream under keys[s], OpenSSL's CTR from IV 0; zero where
 * present[s] == 0), the sums of mpc_ot_soft_sums (sums may be NULL) and the transpose of rows
 * into cols (64 w, 2) as mpc_ot_transpose128, in chunks of 64 columns held in cache. scratch:
 * mpc_ot_soft_scratch(nb, k) words, 16-byte aligned. Returns -1 (nothing written) without AES-NI. */
int mpc_ot_soft_extend(uint64_t *cols, uint64_t *sums, uint64_t *scratch, const uint8_t *keys,
                       const uint8_t *present, uint64_t pos, const uint8_t *offs, const uint64_t *corr,
                       size_t ncorr, size_t nb, size_t k, size_t w);
/* The KOS15 check's sums for x (m, 2) and the packed choice bits r (NULL: none, out[0] = 0),
 * chi_j = word j of the AES-CTR stream under seed (OpenSSL's CTR from IV 0): out = (XOR of chi_j
 * over r_j = 1, sum_j chi_j x_j[0], sum_j chi_j x_j[1]) in GF(2^64) (mpc/gf2k.h's polynomial).
 * Returns -1 (nothing written) without AES-NI and PCLMULQDQ. */
int mpc_ot_kos_sums(uint64_t out[3], const uint64_t *x, const uint64_t *r, const uint8_t seed[16], size_t m);
static inline size_t mpc_ot_soft_scratch(size_t nb, size_t k) { return (22 + 64) * (nb << k) + 128 * 64; }

#ifdef __cplusplus
}
#endif

#endif /* MPC_OT_H */
