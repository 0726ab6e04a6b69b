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

#endif /* MPC_COMPILER_H */
