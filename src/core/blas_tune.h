/*
 * blas_tune.h - make OpenBLAS use the kernels the CPU can run.
 *
 * Debian's OpenBLAS (DYNAMIC_ARCH) picks its kernels from the CPU model;
 * virtual machines that report a generic "Intel Xeon Processor" get the
 * SSE3 "Prescott" kernels, about 3x slower at sgemm than the AVX-512 ones
 * the CPU supports.  OPENBLAS_CORETYPE fixes that but must be in the
 * environment before the library loads, which a PostgreSQL backend cannot
 * arrange; sc_blas_tune switches the kernels afterwards, through OpenBLAS's
 * own (exported) dynamic-arch init, when that is clearly right.
 */
#ifndef SPARSECLIP_BLAS_TUNE_H
#define SPARSECLIP_BLAS_TUNE_H

#include <stddef.h>

/*
 * The kernel set OpenBLAS should use on this CPU ("SkylakeX", "Haswell"),
 * or NULL when its own choice is as good as ours or unknown.
 */
extern const char *sc_blas_better_core(void);

/*
 * Switch OpenBLAS to sc_blas_better_core() when OpenBLAS chose a generic
 * fallback and OPENBLAS_CORETYPE is not set.  Call it once, before any
 * BLAS call is in flight (e.g. at module load).  Returns 1 when it
 * switched, 0 when nothing needed doing, -1 when it could not; msg
 * (may be NULL) says which.
 */
extern int sc_blas_tune(char *msg, size_t msglen);

/* The OpenBLAS kernel set in use ("SkylakeX", "Prescott", ...). */
extern const char *sc_blas_core(void);

#endif
