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

/* The groups' byte offsets, first OTs and counts (index: byte width 1..8) and the buffer end. */
struct trim_layout { size_t off[9], k0[9], cnt[9]; };

static void trim_layout(struct trim_layout *t, size_t n, size_t nbits)
{
    for (size_t nb = 1; nb <= 8; nb++)
        t->off[nb] = group_of(nb, n, nbits, &t->k0[nb], &t->cnt[nb]);
}

/* Element e's entries of each group are contiguous (element-major inside a group); entries are
 * read and written as whole words where the 8 bytes stay inside the buffer (reads: masked) or,
 * for writes, inside the group, whose later entries are written after (so the spill is
 * overwritten): no variable-length copy per OT. */
/* One element's OTs: h0, h1 (or ht) hold the first words of its nbits hashes at stride. */
static inline uint64_t gilboa_send_elem(uint8_t *d, const uint64_t *h0, const uint64_t *h1, size_t stride, uint64_t xe,
                                        size_t e, size_t n, size_t nbits, const struct trim_layout *t)
{
    uint64_t acc = 0;
    for (size_t nb = 8; nb >= 1; nb--) {
        size_t cnt = t->cnt[nb], k0 = t->k0[nb];
        if (!cnt)
            continue;
        uint8_t *p = d + t->off[nb] + e * cnt * nb, *gend = d + t->off[nb] + n * cnt * nb;
        for (size_t i = 0; i < cnt; i++) {
            size_t k = k0 + i;
            uint64_t s = h0[k * stride], dk = h1[k * stride] - s - xe;
            acc += s << k;
            if (p + 8 <= gend)
                memcpy(p, &dk, 8);
            else
                memcpy(p, &dk, nb); /* little-endian: the low nb bytes */
            p += nb;
        }
    }
    return (uint64_t)0 - acc;
}

static inline uint64_t gilboa_recv_elem(const uint64_t *ht, size_t stride, const uint8_t *d, const uint8_t *end,
                                        uint64_t ye, size_t e, const struct trim_layout *t)
{
    uint64_t acc = 0;
    for (size_t nb = 8; nb >= 1; nb--) {
        size_t cnt = t->cnt[nb], k0 = t->k0[nb];
        if (!cnt)
            continue;
        uint64_t mask = nb == 8 ? ~(uint64_t)0 : ((uint64_t)1 << (8 * nb)) - 1;
        const uint8_t *p = d + t->off[nb] + e * cnt * nb;
        for (size_t i = 0; i < cnt; i++) {
            size_t k = k0 + i;
            uint64_t dk = 0;
            if (p + 8 <= end) {
                memcpy(&dk, p, 8);
                dk &= mask;
            } else {
                memcpy(&dk, p, nb);
            }
            uint64_t c = (ye >> k) & 1;
            acc += (ht[k * stride] - (dk & ((uint64_t)0 - c))) << k;
            p += nb;
        }
    }
    return acc;
}

/* Element e's entries of each group are contiguous (element-major inside a group); entries are
 * read and written as whole words where the 8 bytes stay inside the buffer (reads: masked) or,
 * for writes, inside the group, whose later entries are written after (so the spill is
 * overwritten): no variable-length copy per OT. */
void mpc_ot_gilboa_send(uint8_t *d, uint64_t *share, const uint64_t *h0, const uint64_t *h1, const uint64_t *x,
                        size_t n, size_t nbits, size_t stride)
{
    struct trim_layout t;
    trim_layout(&t, n, nbits);
    for (size_t e = 0; e < n; e++)
        share[e] = gilboa_send_elem(d, h0 + e * nbits * stride, h1 + e * nbits * stride, stride, x[e], e, n, nbits, &t);
}

void mpc_ot_gilboa_recv(uint64_t *share, const uint64_t *ht, const uint8_t *d, const uint64_t *y, size_t n,
                        size_t nbits, size_t stride)
{
    struct trim_layout t;
    trim_layout(&t, n, nbits);
    const uint8_t *end = d + mpc_ot_trimmed_bytes(n, nbits);
    for (size_t e = 0; e < n; e++)
        share[e] = gilboa_recv_elem(ht + e * nbits * stride, stride, d, end, y[e], e, &t);
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

/* The hashes and the Gilboa steps fused: elements in chunks of about HASH_CHUNK OTs, hashed into
 * a stack buffer and consumed at once (no (m,) hash arrays in memory). */
#define HASH_CHUNK 512
AESNI static void gilboa_send_hash(uint8_t *d, uint64_t *share, const uint64_t *q, const uint64_t *delta,
                                   uint64_t start, const __m128i rk[11], const uint64_t *x, size_t n, size_t nbits)
{
    struct trim_layout t;
    trim_layout(&t, n, nbits);
    uint64_t h0[HASH_CHUNK], h1[HASH_CHUNK];
    size_t per = HASH_CHUNK / nbits;
    for (size_t e0 = 0; e0 < n; e0 += per) {
        size_t ne = n - e0 < per ? n - e0 : per, m = ne * nbits;
        hash_words(h0, q + 2 * e0 * nbits, NULL, start + e0 * nbits, m, rk);
        hash_words(h1, q + 2 * e0 * nbits, delta, start + e0 * nbits, m, rk);
        for (size_t e = e0; e < e0 + ne; e++)
            share[e] = gilboa_send_elem(d, h0 + (e - e0) * nbits, h1 + (e - e0) * nbits, 1, x[e], e, n, nbits, &t);
    }
}

AESNI static void gilboa_recv_hash(uint64_t *share, const uint64_t *tt, uint64_t start, const __m128i rk[11],
                                   const uint8_t *d, const uint64_t *y, size_t n, size_t nbits)
{
    struct trim_layout t;
    trim_layout(&t, n, nbits);
    const uint8_t *end = d + mpc_ot_trimmed_bytes(n, nbits);
    uint64_t ht[HASH_CHUNK];
    size_t per = HASH_CHUNK / nbits;
    for (size_t e0 = 0; e0 < n; e0 += per) {
        size_t ne = n - e0 < per ? n - e0 : per;
        hash_words(ht, tt + 2 * e0 * nbits, NULL, start + e0 * nbits, ne * nbits, rk);
        for (size_t e = e0; e < e0 + ne; e++)
            share[e] = gilboa_recv_elem(ht + (e - e0) * nbits, 1, d, end, y[e], e, &t);
    }
}

AESNI static void hash_lsb(uint64_t *out, const uint64_t *x, const uint64_t *delta, uint64_t start, size_t m,
                           const __m128i rk[11])
{
    uint64_t h[HASH_CHUNK];
    for (size_t j0 = 0; j0 < m; j0 += HASH_CHUNK) {
        size_t n = m - j0 < HASH_CHUNK ? m - j0 : HASH_CHUNK;
        hash_words(h, x + 2 * j0, delta, start + j0, n, rk);
        mpc_ot_lsb_pack(out + j0 / 64, h, n, 1);
    }
}

int mpc_ot_hash_lsb(uint64_t *out, const uint64_t *x, const uint64_t *delta, uint64_t start, size_t m,
                    const uint8_t key[16])
{
    if (!have_aesni())
        return -1;
    __m128i rk[11];
    expand_key(rk, key);
    hash_lsb(out, x, delta, start, m, rk);
    return 0;
}

int mpc_ot_gilboa_send_hash(uint8_t *d, uint64_t *share, const uint64_t *q, const uint64_t *delta, uint64_t start,
                            const uint8_t key[16], const uint64_t *x, size_t n, size_t nbits)
{
    if (!have_aesni())
        return -1;
    __m128i rk[11];
    expand_key(rk, key);
    gilboa_send_hash(d, share, q, delta, start, rk, x, n, nbits);
    return 0;
}

int mpc_ot_gilboa_recv_hash(uint64_t *share, const uint64_t *t, uint64_t start, const uint8_t key[16],
                            const uint8_t *d, const uint64_t *y, size_t n, size_t nbits)
{
    if (!have_aesni())
        return -1;
    __m128i rk[11];
    expand_key(rk, key);
    gilboa_recv_hash(share, t, start, rk, d, y, n, nbits);
    return 0;
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
/* SoftSpoken's leaf rows: words p0 .. p0 + n - 1 of the AES-CTR stream under one leaf key (block
 * i = AES_key(i as a 128-bit big-endian counter), OpenSSL's CTR mode from IV 0), into out. */
#define SOFT_G 64 /* columns (words) per chunk of the fused extension */
AESNI static void ctr_words(uint64_t *out, const __m128i rk[11], uint64_t p0, size_t n)
{
    __m128i tmp[SOFT_G / 2 + LANES];
    uint64_t blo = p0 >> 1, nblk = ((p0 + n - 1) >> 1) - blo + 1;
    for (uint64_t b = 0; b < nblk; b += LANES) {
        __m128i x[LANES];
        for (int i = 0; i < LANES; i++)
            x[i] = _mm_set_epi64x((long long)__builtin_bswap64(blo + b + (uint64_t)i), 0);
        aes8(x, rk);
        for (int i = 0; i < LANES; i++)
            _mm_storeu_si128(tmp + b + i, x[i]);
    }
    memcpy(out, (const uint64_t *)tmp + (p0 & 1), 8 * n);
}

static void soft_sums_cols(uint64_t *rows, size_t rs, uint64_t *sums, size_t ss, const uint64_t *leaves, size_t ls,
                           const uint8_t *offs, const uint64_t *corr, size_t cs, size_t ncorr, size_t nb, size_t k,
                           size_t nrows, size_t n);

AESNI static void soft_extend(uint64_t *cols, uint64_t *sums, uint64_t *scratch, const uint8_t *keys,
                              const uint8_t *present, uint64_t pos, const uint8_t *offs, const uint64_t *corr,
                              size_t ncorr, size_t nb, size_t k, size_t w)
{
    size_t per = (size_t)1 << k, nslots = nb * per;
    __m128i *rks = (__m128i *)scratch; /* 11 round keys per slot (16-byte aligned: numpy's buffer) */
    uint64_t *leaves = scratch + 22 * nslots, *rows = leaves + SOFT_G * nslots;
    for (size_t s = 0; s < nslots; s++)
        if (present[s])
            expand_key(rks + 11 * s, keys + 16 * s);
    for (size_t j0 = 0; j0 < w; j0 += SOFT_G) {
        size_t n = w - j0 < SOFT_G ? w - j0 : SOFT_G;
        for (size_t b = 0; b < nb; b++) {
            size_t kb = 128 - b * k < k ? 128 - b * k : k;
            for (size_t x = 0; x < ((size_t)1 << kb); x++) {
                size_t s = b * per + x;
                if (present[s])
                    ctr_words(leaves + s * n, rks + 11 * s, pos + j0, n);
                else
                    memset(leaves + s * n, 0, 8 * n);
            }
        }
        soft_sums_cols(rows, n, sums ? sums + j0 : NULL, w, leaves, n, offs, corr + j0, w, ncorr, nb, k, 128, n);
        mpc_ot_transpose128(cols + 128 * j0, rows, n);
    }
}

int mpc_ot_soft_extend(uint64_t *cols, uint64_t *sums, uint64_t *scratch, const uint8_t *keys,
                       const uint8_t *present, uint64_t pos, const uint8_t *offs, const uint64_t *corr,
                       size_t ncorr, size_t nb, size_t k, size_t w)
{
    if (!have_aesni())
        return -1;
    soft_extend(cols, sums, scratch, keys, present, pos, offs, corr, ncorr, nb, k, w);
    return 0;
}
/* The KOS15 check's sums with the challenge chi_j = word j of AES-CTR under seed (as
 * ctr_words): out = (sum_{r_j = 1} chi_j, sum chi_j x_j[0], sum chi_j x_j[1]) over GF(2^64),
 * products accumulated unreduced (4 PCLMULQDQ per two OTs) and reduced once. */
static inline uint64_t gf64_reduce(uint64_t lo, uint64_t hi)
{
    uint64_t t = hi ^ (hi >> 60) ^ (hi >> 61) ^ (hi >> 63);
    return lo ^ t ^ (t << 1) ^ (t << 3) ^ (t << 4);
}

__attribute__((target("aes,pclmul,sse2"))) static void kos_sums(uint64_t out[3], const uint64_t *x,
                                                                 const uint64_t *r, const __m128i rk[11], size_t m)
{
    __m128i alo = _mm_setzero_si128(), ahi = _mm_setzero_si128(), ar = _mm_setzero_si128();
    for (size_t j0 = 0; j0 < m; j0 += 2 * LANES) {
        __m128i c[LANES];
        for (int i = 0; i < LANES; i++)
            c[i] = _mm_set_epi64x((long long)__builtin_bswap64(j0 / 2 + (uint64_t)i), 0);
        aes8(c, rk);
        for (int i = 0; i < LANES; i++) {
            size_t j = j0 + 2 * (size_t)i;
            if (j >= m)
                break;
            __m128i t0 = _mm_loadu_si128((const __m128i *)(x + 2 * j));
            alo = _mm_xor_si128(alo, _mm_clmulepi64_si128(c[i], t0, 0x00));
            ahi = _mm_xor_si128(ahi, _mm_clmulepi64_si128(c[i], t0, 0x10));
            uint64_t b0 = r ? (r[j / 64] >> (j % 64)) & 1 : 0, b1 = 0;
            if (j + 1 < m) {
                __m128i t1 = _mm_loadu_si128((const __m128i *)(x + 2 * j + 2));
                alo = _mm_xor_si128(alo, _mm_clmulepi64_si128(c[i], t1, 0x01));
                ahi = _mm_xor_si128(ahi, _mm_clmulepi64_si128(c[i], t1, 0x11));
                b1 = r ? (r[(j + 1) / 64] >> ((j + 1) % 64)) & 1 : 0;
            } else {
                c[i] = _mm_and_si128(c[i], _mm_set_epi64x(0, -1));
            }
            ar = _mm_xor_si128(ar, _mm_and_si128(c[i], _mm_set_epi64x(-(long long)b1, -(long long)b0)));
        }
    }
    uint64_t rl = (uint64_t)_mm_cvtsi128_si64(ar), rh = (uint64_t)_mm_cvtsi128_si64(_mm_unpackhi_epi64(ar, ar));
    out[0] = rl ^ rh;
    out[1] = gf64_reduce((uint64_t)_mm_cvtsi128_si64(alo), (uint64_t)_mm_cvtsi128_si64(_mm_unpackhi_epi64(alo, alo)));
    out[2] = gf64_reduce((uint64_t)_mm_cvtsi128_si64(ahi), (uint64_t)_mm_cvtsi128_si64(_mm_unpackhi_epi64(ahi, ahi)));
}

int mpc_ot_kos_sums(uint64_t out[3], const uint64_t *x, const uint64_t *r, const uint8_t seed[16], size_t m)
{
    __builtin_cpu_init();
    if (!have_aesni() || !__builtin_cpu_supports("pclmul"))
        return -1;
    __m128i rk[11];
    expand_key(rk, seed);
    kos_sums(out, x, r, rk, m);
    return 0;
}
#else
int mpc_ot_hash_lsb(uint64_t *out, const uint64_t *x, const uint64_t *delta, uint64_t start, size_t m,
                    const uint8_t key[16])
{
    (void)out; (void)x; (void)delta; (void)start; (void)m; (void)key;
    return -1;
}

int mpc_ot_gilboa_send_hash(uint8_t *d, uint64_t *share, const uint64_t *q, const uint64_t *delta, uint64_t start,
                            const uint8_t key[16], const uint64_t *x, size_t n, size_t nbits)
{
    (void)d; (void)share; (void)q; (void)delta; (void)start; (void)key; (void)x; (void)n; (void)nbits;
    return -1;
}

int mpc_ot_gilboa_recv_hash(uint64_t *share, const uint64_t *t, uint64_t start, const uint8_t key[16],
                            const uint8_t *d, const uint64_t *y, size_t n, size_t nbits)
{
    (void)share; (void)t; (void)start; (void)key; (void)d; (void)y; (void)n; (void)nbits;
    return -1;
}

int mpc_ot_kos_sums(uint64_t out[3], const uint64_t *x, const uint64_t *r, const uint8_t seed[16], size_t m)
{
    (void)out; (void)x; (void)r; (void)seed; (void)m;
    return -1;
}

int mpc_ot_soft_extend(uint64_t *cols, uint64_t *sums, uint64_t *scratch, const uint8_t *keys,
                       const uint8_t *present, uint64_t pos, const uint8_t *offs, const uint64_t *corr,
                       size_t ncorr, size_t nb, size_t k, size_t w)
{
    (void)cols; (void)sums; (void)scratch; (void)keys; (void)present; (void)pos; (void)offs; (void)corr;
    (void)ncorr; (void)nb; (void)k; (void)w;
    return -1;
}

int mpc_ot_hash_words(uint64_t *out, const uint64_t *x, const uint64_t *delta, uint64_t start, size_t m,
                      const uint8_t key[16])
{
    (void)out; (void)x; (void)delta; (void)start; (void)m; (void)key;
    return -1;
}
#endif


/* ----------------------------------------------------------------------- SoftSpoken VOLE sums
 *
 * soft_sums_cols: n columns of rows (row stride rs), sums (stride ss), leaves (stride ls), corr
 * (stride cs); mpc_ot_soft_sums runs it on chunks of SOFT_CHUNK columns, so that the k + 1
 * outputs of a chunk stay in L1 while the 2^k leaf rows stream through once each. */
#define SOFT_CHUNK 256

static void soft_sums_cols(uint64_t *rows, size_t rs, uint64_t *sums, size_t ss, const uint64_t *leaves, size_t ls,
                           const uint8_t *offs, const uint64_t *corr, size_t cs, size_t ncorr, size_t nb, size_t k,
                           size_t nrows, size_t n)
{
    size_t per = (size_t)1 << k;
    for (size_t b = 0; b < nb; b++) {
        size_t r0 = b * k, kb = nrows - r0 < k ? nrows - r0 : k, nl = (size_t)1 << kb;
        const uint64_t *lb = leaves + b * per * ls, *cb = corr + (ncorr == 1 ? 0 : b) * cs;
        unsigned off = offs[b];
        uint64_t *s = sums ? sums + b * ss : NULL;
        if (s)
            memcpy(s, cb, 8 * n);
        for (size_t i = 0; i < kb; i++) {
            uint64_t *o = rows + (r0 + i) * rs;
            if ((off >> i) & 1)
                memcpy(o, cb, 8 * n);
            else
                memset(o, 0, 8 * n);
        }
        for (size_t x = 0; x < nl; x++) {
            const uint64_t *l = lb + x * ls;
            size_t y = x ^ off;
            if (s)
                for (size_t j = 0; j < n; j++)
                    s[j] ^= l[j];
            for (size_t i = 0; i < kb; i++) {
                if (!((y >> i) & 1))
                    continue;
                uint64_t *o = rows + (r0 + i) * rs;
                for (size_t j = 0; j < n; j++)
                    o[j] ^= l[j];
            }
        }
    }
}

void mpc_ot_soft_sums(uint64_t *rows, uint64_t *sums, const uint64_t *leaves, const uint8_t *offs,
                      const uint64_t *corr, size_t ncorr, size_t nb, size_t k, size_t nrows, size_t w)
{
    for (size_t j0 = 0; j0 < w; j0 += SOFT_CHUNK) {
        size_t n = w - j0 < SOFT_CHUNK ? w - j0 : SOFT_CHUNK;
        soft_sums_cols(rows + j0, w, sums + j0, w, leaves + j0, w, offs, corr + j0, w, ncorr, nb, k, nrows, n);
    }
}
