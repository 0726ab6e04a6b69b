/* Compiler hints shared by the C kernels (no declarations of kernels here). */
#ifndef MPC_COMPILER_H
#define MPC_COMPILER_H

#include <stddef.h>
#include <stdint.h>

/* The elementwise loops allow out == input, so `restrict` would be a lie; this pragma tells the
 * compiler the iterations are independent, so it vectorises without runtime alias checks. */
#if defined(__clang__)
#define MPC_IVDEP _Pragma("clang loop vectorize(assume_safety)")
#elif defined(__GNUC__)
#define MPC_IVDEP _Pragma("GCC ivdep")
#else
#define MPC_IVDEP
#endif

/* Fully unroll the next loop (a constant trip count of at most 8): a register tile indexed by
 * its loop counters stays in registers only when the loops over it vanish, which -O3 does by
 * itself and -O2 does not. */
#if defined(__clang__)
#define MPC_UNROLL _Pragma("unroll")
#define MPC_UNROLL16 _Pragma("unroll")
#elif defined(__GNUC__)
#define MPC_UNROLL _Pragma("GCC unroll 8")
#define MPC_UNROLL16 _Pragma("GCC unroll 16") /* the same for a trip count of 16 */
#else
#define MPC_UNROLL
#define MPC_UNROLL16
#endif

#if defined(__GNUC__) || defined(__clang__)
#define MPC_ALWAYS_INLINE inline __attribute__((always_inline))
#else
#define MPC_ALWAYS_INLINE inline
#endif

/* Run-time CPU dispatch (GCC and Clang on x86-64). A function marked MPC_TARGET_* may use that
 * instruction set whatever -march the file is built with, so a baseline build (as for a wheel)
 * still has the wide paths; callers check the CPU with __builtin_cpu_supports (which also checks
 * that the OS saves the registers) before calling one. Static helpers called from a marked
 * function carry the same mark, or the intrinsics in them cannot be inlined. The marks add to
 * the command line's ISA: a file that must keep AVX-512 out of its other paths under
 * -march=native resets its own baseline first (see matmul.c). */
#if (defined(__GNUC__) || defined(__clang__)) && defined(__x86_64__)
#define MPC_X86_DISPATCH 1
#define MPC_TARGET_AVX2 __attribute__((target("avx2")))
#define MPC_TARGET_AVX512 __attribute__((target("avx512f,avx512dq")))
#else
#define MPC_X86_DISPATCH 0
#endif

/* Non-temporal ("streaming") stores for outputs too large to stay in cache: from MPC_STREAM_MIN
 * elements the operands of an elementwise kernel (5 to 8 arrays, 16 MiB and more) cannot all
 * stay in cache, and a plain store first reads the line it writes (read-for-ownership) and
 * evicts an input; a streaming store does neither. Below it, the output is better left in
 * cache for whatever reads it next. mpc_stream64 is one 8-byte store (movnti; a plain store
 * where there is none), mpc_stream_fence orders the streamed stores before the output is handed
 * back. Measured on the Zen 4 VM: auth_beaver_combine of 10^6 products 12.1-13.5 ms plain,
 * 10.4-11.4 ms streamed. */
#define MPC_STREAM_MIN ((size_t)1 << 19)
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
/* the builtins behind _mm_stream_si64 and _mm_sfence (SSE2, in every x86-64), without including
 * immintrin.h here: matmul.c sets its own target options before it includes that */
static inline void mpc_stream64(uint64_t *p, uint64_t v)
{
    __builtin_ia32_movnti64((long long *)p, (long long)v);
}
static inline void mpc_stream_fence(void)
{
    __builtin_ia32_sfence();
}
#else
static inline void mpc_stream64(uint64_t *p, uint64_t v)
{
    *p = v;
}
static inline void mpc_stream_fence(void)
{
}
#endif

#endif /* MPC_COMPILER_H */
