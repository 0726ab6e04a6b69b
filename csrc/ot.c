/* OT-extension kernels. See mpc/ot.h for the contract.
 *
 * The 128 x m bit-matrix transpose gathers 64 words of one row block and one column block,
 * transposes that 64x64 block (mpc_bits_transpose64, csrc/bits.c) and scatters the 64 result
 * words into the (m, 2) column layout: no NumPy copies around the kernel. The Gilboa loops fuse
 * what NumPy would do in five passes (hash words, correction, trimming, weighted sum).
 */
#include "mpc/ot.h"
#include "mpc/bits.h"
#include "mpc/compiler.h"

#include <string.h>

/* GROUP consecutive column blocks at a time: each row read is then 8 whole cache lines rather
 * than one word (the rows are w words apart); 64 measured about 2x faster than 8 here (32 KiB
 * of blocks on the stack). */
#define GROUP 64

void mpc_ot_transpose128(uint64_t *out, const uint64_t *rows, size_t w)
{
    uint64_t blk[GROUP][64];
    for (size_t b0 = 0; b0 < w; b0 += GROUP) {
        size_t gsz = w - b0 < GROUP ? w - b0 : GROUP;
        for (size_t h = 0; h < 2; h++) {
            for (size_t i = 0; i < 64; i++) {
                const uint64_t *r = rows + (64 * h + i) * w + b0;
                for (size_t g = 0; g < gsz; g++)
                    blk[g][i] = r[g];
            }
            for (size_t g = 0; g < gsz; g++) {
                mpc_bits_transpose64(blk[g], blk[g], 1);
                uint64_t *o = out + 2 * 64 * (b0 + g) + h;
                for (size_t j = 0; j < 64; j++)
                    o[2 * j] = blk[g][j];
            }
        }
    }
}

void mpc_ot_tweak(uint64_t *out, const uint64_t *px, uint64_t start, size_t m, size_t blocks)
{
    for (size_t j = 0; j < m; j++)
        for (size_t l = 0; l < blocks; l++) {
            out[2 * (j * blocks + l)] = px[2 * j] ^ (start + j);
            out[2 * (j * blocks + l) + 1] = px[2 * j + 1] ^ (uint64_t)l;
        }
}

void mpc_ot_hash_finish(uint64_t *out, const uint64_t *y, const uint64_t *px, size_t m, size_t blocks)
{
    for (size_t j = 0; j < m; j++)
        for (size_t l = 0; l < blocks; l++) {
            out[2 * (j * blocks + l)] = y[2 * (j * blocks + l)] ^ px[2 * j];
            out[2 * (j * blocks + l) + 1] = y[2 * (j * blocks + l) + 1] ^ px[2 * j + 1];
        }
}

/* Byte width of the correction of OT k. */
static inline size_t width_of(size_t k) { return (64 - k + 7) / 8; }

/* Offset of group nb (width in bytes) in a trimmed buffer of n elements of nbits OTs, and the
 * first OT k0 and count of OTs of that group. */
static size_t group_of(size_t nb, size_t n, size_t nbits, size_t *k0, size_t *cnt)
{
    size_t off = 0;
    for (size_t g = 8; g > nb; g--) {
        size_t lo = 64 - 8 * g, hi = 64 - 8 * (g - 1);
        if (hi > nbits) hi = nbits;
        if (lo < hi) off += n * (hi - lo) * g;
    }
    size_t lo = 64 - 8 * nb, hi = 64 - 8 * (nb - 1);
    if (hi > nbits) hi = nbits;
    *k0 = lo;
    *cnt = lo < hi ? hi - lo : 0;
    return off;
}

size_t mpc_ot_trimmed_bytes(size_t n, size_t nbits)
{
    size_t total = 0;
    for (size_t k = 0; k < nbits; k++)
        total += width_of(k);
    return total * n;
}

void mpc_ot_gilboa_send(uint8_t *d, uint64_t *share, const uint64_t *h0, const uint64_t *h1, const uint64_t *x,
                        size_t n, size_t nbits, size_t stride)
{
    size_t offs[9], k0s[9], cnts[9];
    for (size_t nb = 1; nb <= 8; nb++)
        offs[nb] = group_of(nb, n, nbits, &k0s[nb], &cnts[nb]);
    for (size_t e = 0; e < n; e++) {
        uint64_t acc = 0, xe = x[e];
        for (size_t k = 0; k < nbits; k++) {
            size_t j = e * nbits + k;
            uint64_t s = h0[j * stride], dk = h1[j * stride] - s - xe;
            acc += s << k;
            size_t nb = width_of(k);
            uint8_t *dst = d + offs[nb] + (e * cnts[nb] + (k - k0s[nb])) * nb;
            memcpy(dst, &dk, nb); /* little-endian: the low nb bytes */
        }
        share[e] = (uint64_t)0 - acc;
    }
}

void mpc_ot_gilboa_recv(uint64_t *share, const uint64_t *ht, const uint8_t *d, const uint64_t *y, size_t n,
                        size_t nbits, size_t stride)
{
    size_t offs[9], k0s[9], cnts[9];
    for (size_t nb = 1; nb <= 8; nb++)
        offs[nb] = group_of(nb, n, nbits, &k0s[nb], &cnts[nb]);
    for (size_t e = 0; e < n; e++) {
        uint64_t acc = 0, ye = y[e];
        for (size_t k = 0; k < nbits; k++) {
            size_t j = e * nbits + k;
            size_t nb = width_of(k);
            uint64_t dk = 0;
            memcpy(&dk, d + offs[nb] + (e * cnts[nb] + (k - k0s[nb])) * nb, nb);
            uint64_t c = (ye >> k) & 1;
            acc += (ht[j * stride] - (dk & ((uint64_t)0 - c))) << k;
        }
        share[e] = acc;
    }
}

void mpc_ot_lsb_pack(uint64_t *out, const uint64_t *h, size_t m, size_t stride)
{
    for (size_t wd = 0; wd < m / 64; wd++) {
        uint64_t v = 0;
        for (size_t j = 0; j < 64; j++)
            v |= (h[(64 * wd + j) * stride] & 1) << j;
        out[wd] = v;
    }
}

/* ----------------------------------------------------------------------- fused AES-NI hashing
 *
 * H(j, x) = pi(pi(x) ^ (j, 0)) ^ pi(x), pi = AES-128 under a fixed public key, only the first
 * 64-bit word of the output kept (what one Gilboa OT or one bit OT uses). 8 blocks in flight per
 * step to fill the AES pipeline. Without AES-NI the kernels return -1 and the caller takes the
 * OpenSSL path (mpc/crypto/ot_ext.py), which computes the same values.
 */
#if MPC_X86_DISPATCH
#include <immintrin.h>

#define AESNI __attribute__((target("aes,sse2")))

static int have_aesni(void)
{
    __builtin_cpu_init();
    return __builtin_cpu_supports("aes");
}

AESNI static __m128i expand_step(__m128i key, __m128i gen)
{
    gen = _mm_shuffle_epi32(gen, 0xff);
    key = _mm_xor_si128(key, _mm_slli_si128(key, 4));
    key = _mm_xor_si128(key, _mm_slli_si128(key, 4));
    key = _mm_xor_si128(key, _mm_slli_si128(key, 4));
    return _mm_xor_si128(key, gen);
}

AESNI static void expand_key(__m128i rk[11], const uint8_t key[16])
{
    rk[0] = _mm_loadu_si128((const __m128i *)key);
    rk[1] = expand_step(rk[0], _mm_aeskeygenassist_si128(rk[0], 0x01));
    rk[2] = expand_step(rk[1], _mm_aeskeygenassist_si128(rk[1], 0x02));
    rk[3] = expand_step(rk[2], _mm_aeskeygenassist_si128(rk[2], 0x04));
    rk[4] = expand_step(rk[3], _mm_aeskeygenassist_si128(rk[3], 0x08));
    rk[5] = expand_step(rk[4], _mm_aeskeygenassist_si128(rk[4], 0x10));
    rk[6] = expand_step(rk[5], _mm_aeskeygenassist_si128(rk[5], 0x20));
    rk[7] = expand_step(rk[6], _mm_aeskeygenassist_si128(rk[6], 0x40));
    rk[8] = expand_step(rk[7], _mm_aeskeygenassist_si128(rk[7], 0x80));
    rk[9] = expand_step(rk[8], _mm_aeskeygenassist_si128(rk[8], 0x1b));
    rk[10] = expand_step(rk[9], _mm_aeskeygenassist_si128(rk[9], 0x36));
}

#define LANES 8

/* b[i] <- AES(b[i]) for LANES blocks */
AESNI static MPC_ALWAYS_INLINE void aes8(__m128i b[LANES], const __m128i rk[11])
{
    for (int i = 0; i < LANES; i++)
        b[i] = _mm_xor_si128(b[i], rk[0]);
    for (int r = 1; r < 10; r++)
        for (int i = 0; i < LANES; i++)
            b[i] = _mm_aesenc_si128(b[i], rk[r]);
    for (int i = 0; i < LANES; i++)
        b[i] = _mm_aesenclast_si128(b[i], rk[10]);
}

/* out[j] = first word of H(start + j, x[j] ^ (flip ? delta : 0)), j < m */
AESNI static void hash_words(uint64_t *out, const uint64_t *x, const uint64_t *delta, uint64_t start, size_t m,
                             const __m128i rk[11])
{
    __m128i d = delta ? _mm_set_epi64x((long long)delta[1], (long long)delta[0]) : _mm_setzero_si128();
    size_t j = 0;
    for (; j + LANES <= m; j += LANES) {
        __m128i p[LANES], t[LANES];
        for (int i = 0; i < LANES; i++)
            p[i] = _mm_xor_si128(_mm_loadu_si128((const __m128i *)(x + 2 * (j + i))), d);
        aes8(p, rk);
        for (int i = 0; i < LANES; i++)
            t[i] = _mm_xor_si128(p[i], _mm_set_epi64x(0, (long long)(start + j + i)));
        aes8(t, rk);
        for (int i = 0; i < LANES; i++)
            out[j + i] = (uint64_t)_mm_cvtsi128_si64(_mm_xor_si128(t[i], p[i]));
    }
    for (; j < m; j++) { /* the tail, one block at a time through a full lane set */
        __m128i p[LANES], t[LANES];
        for (int i = 0; i < LANES; i++)
            p[i] = _mm_xor_si128(_mm_loadu_si128((const __m128i *)(x + 2 * j)), d);
        aes8(p, rk);
        for (int i = 0; i < LANES; i++)
            t[i] = _mm_xor_si128(p[i], _mm_set_epi64x(0, (long long)(start + j)));
        aes8(t, rk);
        out[j] = (uint64_t)_mm_cvtsi128_si64(_mm_xor_si128(t[0], p[0]));
    }
}

int mpc_ot_hash_words(uint64_t *out, const uint64_t *x, const uint64_t *delta, uint64_t start, size_t m,
                      const uint8_t key[16])
{
    if (!have_aesni())
        return -1;
    __m128i rk[11];
    expand_key(rk, key);
    hash_words(out, x, delta, start, m, rk);
    return 0;
}
#else
int mpc_ot_hash_words(uint64_t *out, const uint64_t *x, const uint64_t *delta, uint64_t start, size_t m,
                      const uint8_t key[16])
{
    (void)out; (void)x; (void)delta; (void)start; (void)m; (void)key;
    return -1;
}
#endif

/* ----------------------------------------------------------------------- SoftSpoken VOLE sums
 *
 * Columns in chunks of SOFT_CHUNK words: the k + 1 outputs of a chunk stay in L1 while the 2^k
 * leaf rows stream through once each. */
#define SOFT_CHUNK 256

void mpc_ot_soft_sums(uint64_t *rows, uint64_t *sums, const uint64_t *leaves, const uint8_t *offs,
                      const uint64_t *corr, size_t ncorr, size_t nb, size_t k, size_t nrows, size_t w)
{
    size_t per = (size_t)1 << k;
    for (size_t b = 0; b < nb; b++) {
        size_t r0 = b * k, kb = nrows - r0 < k ? nrows - r0 : k, nl = (size_t)1 << kb;
        const uint64_t *lb = leaves + b * per * w, *cb = corr + (ncorr == 1 ? 0 : b) * w;
        unsigned off = offs[b];
        for (size_t j0 = 0; j0 < w; j0 += SOFT_CHUNK) {
            size_t n = w - j0 < SOFT_CHUNK ? w - j0 : SOFT_CHUNK;
            uint64_t *s = sums + b * w + j0;
            memcpy(s, cb + j0, 8 * n);
            for (size_t i = 0; i < kb; i++) {
                uint64_t *o = rows + (r0 + i) * w + j0;
                if ((off >> i) & 1)
                    memcpy(o, cb + j0, 8 * n);
                else
                    memset(o, 0, 8 * n);
            }
            for (size_t x = 0; x < nl; x++) {
                const uint64_t *l = lb + x * w + j0;
                size_t y = x ^ off;
                for (size_t j = 0; j < n; j++)
                    s[j] ^= l[j];
                for (size_t i = 0; i < kb; i++) {
                    if (!((y >> i) & 1))
                        continue;
                    uint64_t *o = rows + (r0 + i) * w + j0;
                    for (size_t j = 0; j < n; j++)
                        o[j] ^= l[j];
                }
            }
        }
    }
}
