/* OT-extension kernels. See mpc/ot.h for the contract.
 *
 * The 128 x m bit-matrix transpose gathers 64 words of one row block and one column block,
 * transposes that 64x64 block (mpc_bits_transpose64, csrc/bits.c) and scatters the 64 result
 * words into the (m, 2) column layout: no NumPy copies around the kernel. The Gilboa loops fuse
 * what NumPy would do in five passes (hash words, correction, trimming, weighted sum).
 */
#include "mpc/ot.h"
#include "mpc/bits.h"

#include <string.h>

/* GROUP consecutive column blocks at a time: each row read is then one whole cache line
 * rather than one word of it (the rows are w words apart). */
#define GROUP 8

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
                        size_t n, size_t nbits, size_t blocks)
{
    size_t offs[9], k0s[9], cnts[9];
    for (size_t nb = 1; nb <= 8; nb++)
        offs[nb] = group_of(nb, n, nbits, &k0s[nb], &cnts[nb]);
    size_t stride = 2 * blocks;
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
                        size_t nbits, size_t blocks)
{
    size_t offs[9], k0s[9], cnts[9];
    for (size_t nb = 1; nb <= 8; nb++)
        offs[nb] = group_of(nb, n, nbits, &k0s[nb], &cnts[nb]);
    size_t stride = 2 * blocks;
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

void mpc_ot_lsb_pack(uint64_t *out, const uint64_t *h, size_t m, size_t blocks)
{
    size_t stride = 2 * blocks;
    for (size_t wd = 0; wd < m / 64; wd++) {
        uint64_t v = 0;
        for (size_t j = 0; j < 64; j++)
            v |= (h[(64 * wd + j) * stride] & 1) << j;
        out[wd] = v;
    }
}
