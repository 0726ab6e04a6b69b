/* Packed-bit kernels. See mpc/bits.h for the contract.
 *
 * Pack and unpack move one bit per byte, so they go 32 bytes at a time with AVX2 (movemask
 * gathers the top bit of each byte; a byte shuffle plus a bit mask spreads them back) and fall
 * back to multiply tricks that handle 8 bytes per step elsewhere. The 64x64 transpose is the
 * classic recursive block swap: six steps that each exchange the off-diagonal quadrants of
 * every 2j x 2j sub-block, on AVX2 registers when available, else in plain C.
 */
#include "mpc/bits.h"
#include "mpc/compiler.h"

#include <string.h>

#ifdef __AVX2__
#include <immintrin.h>
#endif

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "bits.c assumes a little-endian host (the uint64 <-> byte views of the packed layout)"
#endif


#define LOW_BITS 0x0101010101010101ULL

/* ----------------------------------------------------------------------- pack / unpack */

/* Low bits of the 64 bytes at p -> one word, byte j -> bit j. */
static inline uint64_t pack64(const uint8_t *p)
{
#ifdef __AVX2__
    /* A 16-bit left shift by 7 lifts bit 0 of both bytes of each pair into that byte's top
     * bit (the bits that cross into the upper byte land below its top bit, so they are
     * ignored); movemask then collects the 32 top bits in order. */
    __m256i v0 = _mm256_slli_epi16(_mm256_loadu_si256((const __m256i *)p), 7);
    __m256i v1 = _mm256_slli_epi16(_mm256_loadu_si256((const __m256i *)(p + 32)), 7);
    uint64_t lo = (uint32_t)_mm256_movemask_epi8(v0);
    uint64_t hi = (uint32_t)_mm256_movemask_epi8(v1);
    return lo | hi << 32;
#else
    /* Multiplying by sum_k 2^(56-7k) sends bit 8k (byte k's low bit) to bit 56 + k; every
     * other partial product lands above bit 63 or below bit 56 without overlapping another,
     * so there are no carries into the top byte. */
    uint64_t w = 0;
    for (unsigned k = 0; k < 8; k++) {
        uint64_t x;
        memcpy(&x, p + 8 * k, 8);
        w |= (((x & LOW_BITS) * 0x0102040810204080ULL) >> 56) << (8 * k);
    }
    return w;
#endif
}

/* One word -> 64 bytes of 0/1 at p, bit j -> byte j. */
static inline void unpack64(uint8_t *p, uint64_t w)
{
#ifdef __AVX2__
    /* Broadcast 32 bits, give byte k of each 16-byte lane a copy of source byte k / 8 (lane 1
     * sees bytes 2..3 because the shuffle is per lane and the indices restart there), keep bit
     * k % 8, then clamp the surviving power of two to 1. */
    const __m256i spread = _mm256_setr_epi8(0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1,
                                            2, 2, 2, 2, 2, 2, 2, 2, 3, 3, 3, 3, 3, 3, 3, 3);
    const __m256i select = _mm256_set1_epi64x((long long)0x8040201008040201ULL);
    const __m256i one = _mm256_set1_epi8(1);
    for (unsigned h = 0; h < 2; h++) {
        __m256i v = _mm256_set1_epi32((int)(uint32_t)(w >> (32 * h)));
        v = _mm256_and_si256(_mm256_shuffle_epi8(v, spread), select);
        _mm256_storeu_si256((__m256i *)(p + 32 * h), _mm256_min_epu8(v, one));
    }
#else
    /* Replicate the byte into all 8 lanes, keep bit k in lane k, then turn each nonzero lane
     * (at most 0x80) into 1: adding 0x7F sets the lane's top bit without carrying out. */
    for (unsigned k = 0; k < 8; k++) {
        uint64_t x = ((w >> (8 * k)) & 0xFF) * LOW_BITS;
        x = (((x & 0x8040201008040201ULL) + 0x7F7F7F7F7F7F7F7FULL) >> 7) & LOW_BITS;
        memcpy(p + 8 * k, &x, 8);
    }
#endif
}

void mpc_bits_pack(uint64_t *restrict out, const uint8_t *restrict bits, size_t rows, size_t n)
{
    size_t full = n / 64, rest = n % 64, words = full + (rest != 0);
    for (size_t r = 0; r < rows; r++) {
        const uint8_t *src = bits + r * n;
        uint64_t *dst = out + r * words;
        for (size_t w = 0; w < full; w++)
            dst[w] = pack64(src + 64 * w);
        if (rest) {
            /* A zeroed staging block keeps the padding bits 0 and the reads in bounds. */
            uint8_t tail[64] = {0};
            memcpy(tail, src + 64 * full, rest);
            dst[full] = pack64(tail);
        }
    }
}

void mpc_bits_unpack(uint8_t *restrict out, const uint64_t *restrict words, size_t rows, size_t nwords,
                     size_t n)
{
    size_t full = n / 64, rest = n % 64;
    for (size_t r = 0; r < rows; r++) {
        const uint64_t *src = words + r * nwords;
        uint8_t *dst = out + r * n;
        for (size_t w = 0; w < full; w++)
            unpack64(dst + 64 * w, src[w]);
        if (rest) {
            uint8_t tail[64];
            unpack64(tail, src[full]);
            memcpy(dst + 64 * full, tail, rest);
        }
    }
}

/* ----------------------------------------------------------------------- word logic */

void mpc_bits_and(uint64_t *out, const uint64_t *a, const uint64_t *b, size_t n)
{
    MPC_IVDEP /* out may equal a or b: iterations stay independent */
    for (size_t i = 0; i < n; i++)
        out[i] = a[i] & b[i];
}

void mpc_bits_xor(uint64_t *out, const uint64_t *a, const uint64_t *b, size_t n)
{
    MPC_IVDEP
    for (size_t i = 0; i < n; i++)
        out[i] = a[i] ^ b[i];
}

void mpc_bits_not(uint64_t *out, const uint64_t *a, size_t n)
{
    MPC_IVDEP
    for (size_t i = 0; i < n; i++)
        out[i] = ~a[i];
}

void mpc_bits_gmw_and_combine(uint64_t *restrict out, const uint64_t *restrict c, const uint64_t *restrict d,
                              const uint64_t *restrict e, const uint64_t *restrict a,
                              const uint64_t *restrict b, int first, size_t n)
{
    /* A mask instead of a branch keeps one straight-line loop; the extra AND is free next to
     * the six memory streams. */
    uint64_t de = first ? ~(uint64_t)0 : 0;
    for (size_t i = 0; i < n; i++)
        out[i] = c[i] ^ (d[i] & b[i]) ^ (e[i] & a[i]) ^ (d[i] & e[i] & de);
}

/* ----------------------------------------------------------------------- transpose */

/* The block swap: step j exchanges bit c + j of row r with bit c of row r + j, for every r
 * and c with bit j clear, i.e. it swaps bit j of the row index with bit j of the column index.
 * Steps j = 32, 16, ..., 1 swap all six index bits, which is the transpose. Per pair of rows
 * (lo = row r, hi = row r + j, m = the columns with bit j clear):
 *     t = ((lo >> j) ^ hi) & m;  hi ^= t;  lo ^= t << j;
 */
#ifdef __AVX2__
/* One step on four row pairs at once. */
static inline void swap_vec(__m256i *lo, __m256i *hi, int j, __m256i m)
{
    __m256i t = _mm256_and_si256(_mm256_xor_si256(_mm256_srli_epi64(*lo, j), *hi), m);
    *hi = _mm256_xor_si256(*hi, t);
    *lo = _mm256_xor_si256(*lo, _mm256_slli_epi64(t, j));
}

/* In place: afterwards bit j of x[i] is the old bit i of x[j]. The block lives in 16 registers
 * of 4 rows: for j >= 4 a step pairs whole registers v[q] and v[q + j/4]; for j = 2 and 1 the
 * partner rows sit in the same pair of registers, so they are regrouped first (128-bit halves
 * for j = 2, even/odd words for j = 1; each regrouping is its own inverse). Measured on Zen 3:
 * 53 ns a block, against 70 ns for the compiler's vectorisation of the scalar loops below. */
static inline void transpose_block(uint64_t x[64])
{
    __m256i v[16];
    for (int q = 0; q < 16; q++)
        v[q] = _mm256_loadu_si256((const __m256i *)(x + 4 * q));
    const __m256i m32 = _mm256_set1_epi64x(0x00000000FFFFFFFFLL);
    const __m256i m16 = _mm256_set1_epi64x(0x0000FFFF0000FFFFLL);
    const __m256i m8 = _mm256_set1_epi64x(0x00FF00FF00FF00FFLL);
    const __m256i m4 = _mm256_set1_epi64x(0x0F0F0F0F0F0F0F0FLL);
    const __m256i m2 = _mm256_set1_epi64x(0x3333333333333333LL);
    const __m256i m1 = _mm256_set1_epi64x(0x5555555555555555LL);
    for (int q = 0; q < 8; q++)
        swap_vec(&v[q], &v[q + 8], 32, m32);
    for (int q = 0; q < 16; q += 8)
        for (int r = 0; r < 4; r++)
            swap_vec(&v[q + r], &v[q + r + 4], 16, m16);
    for (int q = 0; q < 16; q += 4)
        for (int r = 0; r < 2; r++)
            swap_vec(&v[q + r], &v[q + r + 2], 8, m8);
    for (int q = 0; q < 16; q += 2)
        swap_vec(&v[q], &v[q + 1], 4, m4);
    for (int q = 0; q < 16; q += 2) {
        /* rows 0,1,4,5 against rows 2,3,6,7 of this register pair */
        __m256i lo = _mm256_permute2x128_si256(v[q], v[q + 1], 0x20);
        __m256i hi = _mm256_permute2x128_si256(v[q], v[q + 1], 0x31);
        swap_vec(&lo, &hi, 2, m2);
        v[q] = _mm256_permute2x128_si256(lo, hi, 0x20);
        v[q + 1] = _mm256_permute2x128_si256(lo, hi, 0x31);
        /* rows 0,4,2,6 against rows 1,5,3,7 */
        lo = _mm256_unpacklo_epi64(v[q], v[q + 1]);
        hi = _mm256_unpackhi_epi64(v[q], v[q + 1]);
        swap_vec(&lo, &hi, 1, m1);
        v[q] = _mm256_unpacklo_epi64(lo, hi);
        v[q + 1] = _mm256_unpackhi_epi64(lo, hi);
    }
    for (int q = 0; q < 16; q++)
        _mm256_storeu_si256((__m256i *)(x + 4 * q), v[q]);
}
#else
static inline void swap_step(uint64_t *x, unsigned j, uint64_t m)
{
    for (unsigned base = 0; base < 64; base += 2 * j)
        for (unsigned i = 0; i < j; i++) {
            uint64_t lo = x[base + i], hi = x[base + j + i];
            uint64_t t = ((lo >> j) ^ hi) & m;
            x[base + i] = lo ^ (t << j);
            x[base + j + i] = hi ^ t;
        }
}

/* In place: afterwards bit j of x[i] is the old bit i of x[j]. */
static inline void transpose_block(uint64_t x[64])
{
    swap_step(x, 32, 0x00000000FFFFFFFFULL);
    swap_step(x, 16, 0x0000FFFF0000FFFFULL);
    swap_step(x, 8, 0x00FF00FF00FF00FFULL);
    swap_step(x, 4, 0x0F0F0F0F0F0F0F0FULL);
    swap_step(x, 2, 0x3333333333333333ULL);
    swap_step(x, 1, 0x5555555555555555ULL);
}
#endif

void mpc_bits_transpose64(uint64_t *out, const uint64_t *a, size_t blocks)
{
    uint64_t x[64];
    for (size_t blk = 0; blk < blocks; blk++) {
        memcpy(x, a + 64 * blk, sizeof x);
        transpose_block(x);
        memcpy(out + 64 * blk, x, sizeof x);
    }
}

/* bitslice/unbitslice move data between 64-word blocks and planes of stride w words. Handling
 * SLICE_GROUP = 8 consecutive blocks together makes each plane access one whole 64-byte cache
 * line instead of one word. That matters because for w a multiple of 512 the 64 planes of a
 * block all map to the same L1 set: one block at a time measured 4x slower than the transposes
 * alone, eight at a time 1.4x. */
#define SLICE_GROUP 8

void mpc_bits_bitslice(uint64_t *restrict planes, const uint64_t *restrict values, size_t n)
{
    size_t w = (n + 63) / 64;
    uint64_t x[SLICE_GROUP][64];
    for (size_t b0 = 0; b0 < w; b0 += SLICE_GROUP) {
        size_t gsz = w - b0 < SLICE_GROUP ? w - b0 : SLICE_GROUP;
        for (size_t g = 0; g < gsz; g++) {
            size_t first = 64 * (b0 + g), m = n - first < 64 ? n - first : 64;
            memcpy(x[g], values + first, m * sizeof(uint64_t));
            memset(x[g] + m, 0, (64 - m) * sizeof(uint64_t)); /* values past n read as 0 */
            transpose_block(x[g]);
        }
        for (size_t i = 0; i < 64; i++)
            for (size_t g = 0; g < gsz; g++)
                planes[i * w + b0 + g] = x[g][i];
    }
}

void mpc_bits_unbitslice(uint64_t *restrict values, const uint64_t *restrict planes, size_t k, size_t w,
                         size_t n)
{
    /* Only blocks that hold one of the n outputs are transposed; n <= 64 w. */
    size_t blocks = (n + 63) / 64;
    uint64_t x[SLICE_GROUP][64];
    for (size_t b0 = 0; b0 < blocks; b0 += SLICE_GROUP) {
        size_t gsz = blocks - b0 < SLICE_GROUP ? blocks - b0 : SLICE_GROUP;
        for (size_t j = 0; j < k; j++)
            for (size_t g = 0; g < gsz; g++)
                x[g][j] = planes[j * w + b0 + g];
        for (size_t g = 0; g < gsz; g++) {
            size_t first = 64 * (b0 + g), m = n - first < 64 ? n - first : 64;
            memset(x[g] + k, 0, (64 - k) * sizeof(uint64_t)); /* planes k..63 read as 0 */
            transpose_block(x[g]);
            memcpy(values + first, x[g], m * sizeof(uint64_t));
        }
    }
}
