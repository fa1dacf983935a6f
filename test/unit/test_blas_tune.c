/*
 * test_blas_tune.c - switching OpenBLAS kernels at run time keeps sgemm
 * correct (against a naive product, before and after the switch).
 */
#include "unit.h"
#include "blas_tune.h"

#include <cblas.h>

static double
max_err(int M, int N, int K, const float *a, const float *b)
{
	float	   *c = malloc(sizeof(float) * M * N);
	double		worst = 0.0;
	int			i, j, k;

	cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, M, N, K, 1.0f, a, K, b, K, 0.0f, c, N);
	for (i = 0; i < M; i++)
		for (j = 0; j < N; j++)
		{
			double		s = 0.0;

			for (k = 0; k < K; k++)
				s += (double) a[i * K + k] * b[j * K + k];
			worst = fmax(worst, fabs(s - c[i * N + j]));
		}
	free(c);
	return worst;
}

int
main(void)
{
	int			M = 67, N = 300, K = 129, i, rc;
	float	   *a = malloc(sizeof(float) * M * K), *b = malloc(sizeof(float) * N * K);
	char		msg[256];
	const char *before = sc_blas_core();

	for (i = 0; i < M * K; i++)
		a[i] = (float) ((i * 37) % 101) / 50.0f - 1.0f;
	for (i = 0; i < N * K; i++)
		b[i] = (float) ((i * 53) % 97) / 48.0f - 1.0f;
	CHECK(max_err(M, N, K, a, b) < 1e-3, "sgemm before (%s)", before);
	rc = sc_blas_tune(msg, sizeof msg);
	printf("%s (rc %d)\n", msg, rc);
	CHECK(rc >= 0, "tune failed: %s", msg);
	if (rc == 1)
		CHECK(strcmp(sc_blas_core(), sc_blas_better_core()) == 0, "now %s", sc_blas_core());
	CHECK(max_err(M, N, K, a, b) < 1e-3, "sgemm after (%s)", sc_blas_core());
	/* a second call has nothing left to do */
	CHECK(sc_blas_tune(msg, sizeof msg) == 0, "second call: %s", msg);
	free(a);
	free(b);
	return unit_done("test_blas_tune");
}
