/* Offline-phase kernels of the dealer-free spdz2k material: see mpc/spdz_offline.h. */
#include "mpc/spdz_offline.h"

#include <string.h>

void mpc_spdz_weighted128(uint64_t *out, const uint64_t *v, size_t a, size_t nbits, size_t w) {
    for (size_t i = 0; i < a; i++) {
        uint64_t *o = out + 2 * i * w;
        const uint64_t *vi = v + 2 * i * nbits * w;
        if (nbits == 0) {
            memset(o, 0, 2 * w * sizeof(uint64_t));
            continue;
        }
        memcpy(o, vi, 2 * w * sizeof(uint64_t));
        size_t low = nbits < 64 ? nbits : 64;
        for (size_t k = 1; k < low; k++) {
            const uint64_t *vk = vi + 2 * k * w;
            for (size_t j = 0; j < w; j++) {
                uint64_t lo = vk[2 * j], hi = vk[2 * j + 1];
                uint64_t slo = lo << k, shi = (hi << k) | (lo >> (64 - k));
                uint64_t nlo = o[2 * j] + slo;
                o[2 * j + 1] += shi + (nlo < slo);
                o[2 * j] = nlo;
            }
        }
        for (size_t k = 64; k < nbits; k++) { /* only the low word counts, in the high word */
            const uint64_t *vk = vi + 2 * k * w;
            for (size_t j = 0; j < w; j++) o[2 * j + 1] += vk[2 * j] << (k - 64);
        }
    }
}

static size_t group(size_t nb, size_t nbits, size_t *k0, size_t *k1) {
    size_t lo = 128 > 8 * nb ? 128 - 8 * nb : 0;
    size_t hi = 128 - 8 * (nb - 1);
    *k0 = lo;
    *k1 = hi < nbits ? hi : nbits;
    return *k0 < *k1;
}

size_t mpc_spdz_trimmed128_bytes(size_t a, size_t nbits, size_t w) {
    size_t total = 0, k0, k1;
    for (size_t nb = 16; nb >= 1; nb--)
        if (group(nb, nbits, &k0, &k1)) total += (k1 - k0) * nb;
    return total * a * w;
}

void mpc_spdz_untrim128(uint64_t *out, const uint8_t *raw, size_t a, size_t nbits, size_t w) {
    uint8_t *o = (uint8_t *)out;
    size_t k0, k1;
    memset(o, 0, a * nbits * w * 16);
    for (size_t nb = 16; nb >= 1; nb--) {
        if (!group(nb, nbits, &k0, &k1)) continue;
        for (size_t i = 0; i < a; i++)
            for (size_t k = k0; k < k1; k++) {
                uint8_t *row = o + ((i * nbits + k) * w) * 16;
                for (size_t j = 0; j < w; j++) {
                    memcpy(row + 16 * j, raw, nb);
                    raw += nb;
                }
            }
    }
}
