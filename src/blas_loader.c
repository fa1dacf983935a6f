/*
 * blas_loader.c - OpenBLAS for the extension, opened on first use rather
 * than linked.
 *
 * OpenBLAS's pthread build starts a thread per core from its library
 * constructor, and those threads spin a while before they sleep: linked
 * into sparseclip.so, that happened in every backend that merely loaded the
 * library (an svec's input function, an index scan), for no BLAS call at
 * all.  Here the library is opened by the first caller that needs it
 * (encoding, on the backend's main thread: sparseclip_apply_threads), with
 * OPENBLAS_NUM_THREADS set to 1 unless the server's environment sets it, so
 * that no thread starts before sparseclip.threads asks for it.  The entry
 * points the extension's code calls forward to it; the trainer, the unit
 * tests and the fuzzers link OpenBLAS directly and never see this file.
 */
#include "postgres.h"

#include <dlfcn.h>
#include <stdlib.h>

/*
 * Hidden: the extension's own calls bind here, while libraries loaded later
 * into the backend that bring their own BLAS never see these.
 */
#pragma GCC visibility push(hidden)
#include <cblas.h>
extern void gotoblas_dynamic_init(void);
extern void gotoblas_dynamic_quit(void);
#pragma GCC visibility pop

#include "settings.h"

static void *blas_lib = NULL;
static __typeof__(cblas_sgemm) *p_sgemm = NULL;
static __typeof__(openblas_get_num_threads) *p_get_threads = NULL;
static __typeof__(openblas_set_num_threads) *p_set_threads = NULL;
static __typeof__(openblas_get_corename) *p_corename = NULL;
static void (*p_dynamic_init) (void) = NULL;
static void (*p_dynamic_quit) (void) = NULL;

/* The library name the link used to record (Debian: libopenblas0-pthread). */
#define BLAS_LIBRARY "libopenblas.so.0"

void
sparseclip_blas_load(void)
{
	void	   *lib;

	if (blas_lib != NULL)
		return;
	if (getenv("OPENBLAS_NUM_THREADS") == NULL && getenv("OMP_NUM_THREADS") == NULL)
		setenv("OPENBLAS_NUM_THREADS", "1", 0);
	lib = dlopen(BLAS_LIBRARY, RTLD_NOW | RTLD_LOCAL);
	if (lib == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("sparseclip cannot load OpenBLAS (%s): %s", BLAS_LIBRARY, dlerror()),
				 errhint("Install the Debian package libopenblas0-pthread.")));
	p_sgemm = dlsym(lib, "cblas_sgemm");
	p_get_threads = dlsym(lib, "openblas_get_num_threads");
	p_set_threads = dlsym(lib, "openblas_set_num_threads");
	p_corename = dlsym(lib, "openblas_get_corename");
	p_dynamic_init = dlsym(lib, "gotoblas_dynamic_init");
	p_dynamic_quit = dlsym(lib, "gotoblas_dynamic_quit");
	if (p_sgemm == NULL || p_get_threads == NULL || p_set_threads == NULL || p_corename == NULL)
	{
		dlclose(lib);
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("sparseclip: %s lacks the OpenBLAS functions it needs", BLAS_LIBRARY)));
	}
	blas_lib = lib;
}

bool
sparseclip_blas_loaded(void)
{
	return blas_lib != NULL;
}

/*
 * The forwarders.  Encoding opens the library first (sparseclip_apply_threads);
 * anything else that reaches one (model_info's kernel name) opens it here:
 * the extension calls BLAS only from the backend's main thread.
 */
static void
blas_check(void)
{
	if (blas_lib == NULL)
		sparseclip_apply_threads();
}

void
cblas_sgemm(OPENBLAS_CONST enum CBLAS_ORDER Order, OPENBLAS_CONST enum CBLAS_TRANSPOSE TransA,
			OPENBLAS_CONST enum CBLAS_TRANSPOSE TransB, OPENBLAS_CONST blasint M,
			OPENBLAS_CONST blasint N, OPENBLAS_CONST blasint K, OPENBLAS_CONST float alpha,
			OPENBLAS_CONST float *A, OPENBLAS_CONST blasint lda, OPENBLAS_CONST float *B,
			OPENBLAS_CONST blasint ldb, OPENBLAS_CONST float beta, float *C,
			OPENBLAS_CONST blasint ldc)
{
	blas_check();
	p_sgemm(Order, TransA, TransB, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
}

int
openblas_get_num_threads(void)
{
	blas_check();
	return p_get_threads();
}

void
openblas_set_num_threads(int num_threads)
{
	blas_check();
	p_set_threads(num_threads);
}

char *
openblas_get_corename(void)
{
	blas_check();
	return p_corename();
}

/* blas_tune.c's weak references: this OpenBLAS's, or nothing to switch */
void
gotoblas_dynamic_init(void)
{
	blas_check();
	if (p_dynamic_init)
		p_dynamic_init();
}

void
gotoblas_dynamic_quit(void)
{
	blas_check();
	if (p_dynamic_quit)
		p_dynamic_quit();
}
