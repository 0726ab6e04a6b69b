/* Compiler hints shared by the C kernels (no declarations of kernels here). */
#ifndef MPC_COMPILER_H
#define MPC_COMPILER_H

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

#endif /* MPC_COMPILER_H */
