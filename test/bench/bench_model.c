/*
 * bench_model.c - throughput of the C model runtime with random weights.
 *
 *   bench_model PRESET THREADS [SECONDS]
 *
 * Prints one line per measurement, "name value", for test/bench/model.sh:
 *   blas_core NAME                         (OpenBLAS kernels, after sc_blas_tune)
 *   sgemm_gflops G                         (1024^3 sgemm, the machine's peak here)
 *   image_b1 / image_b32 ITEMS_PER_S GFLOPS  (best of 4 windows of SECONDS/4)
 *   text_b1 / text_b32 ITEMS_PER_S GFLOPS  (16-token texts)
 */
#include <cblas.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "blas_tune.h"
#include "model.h"

static double
now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* multiply-adds counted as 2 flops; the full attention square is counted */
static double
tower_flops(int T, int C, int L)
{
	return (double) L * (2.0 * T * C * 12 * C + 4.0 * T * T * C);
}

static double
image_flops(const sc_config *c)
{
	int			G = c->image_size / c->patch_size, T = G * G + 1;

	return 2.0 * G * G * 3 * c->patch_size * c->patch_size * c->vision_width +
		tower_flops(T, c->vision_width, c->vision_layers) +
		2.0 * c->vision_width * c->embed_dim + 2.0 * c->embed_dim * c->sparse_dim;
}

static double
text_flops(const sc_config *c, int T)
{
	return tower_flops(T, c->text_width, c->text_layers) +
		2.0 * c->text_width * c->embed_dim + 2.0 * c->embed_dim * c->sparse_dim;
}

static double
sgemm_gflops(double seconds)
{
	int			n = 1024, reps = 0, w;
	double		best = 0.0;
	float	   *a = malloc(sizeof(float) * n * n), *b = malloc(sizeof(float) * n * n),
			   *c = malloc(sizeof(float) * n * n);
	double		t0, t;
	int			i;

	for (i = 0; i < n * n; i++)
	{
		a[i] = (float) (i % 7) * 0.1f;
		b[i] = (float) (i % 5) * 0.1f;
	}
	cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, n, n, 1, a, n, b, n, 0, c, n);
	for (w = 0; w < 4; w++)
	{
		reps = 0;
		t0 = now();
		do
		{
			cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, n, n, 1, a, n, b, n, 0, c, n);
			reps++;
			t = now() - t0;
		} while (t < seconds / 4);
		if (2.0 * n * n * n * reps / t / 1e9 > best)
			best = 2.0 * n * n * n * reps / t / 1e9;
	}
	free(a);
	free(b);
	free(c);
	return best;
}

/*
 * Items per second, the best of 4 windows of seconds/4 each (at least one
 * call per window): other work on a shared machine only ever slows a
 * window down, so the best one is the steadiest estimate.
 */
static double
best_rate(const sc_model *m, sc_workspace *ws, const float *images, const int32_t **ids,
		  const int *lens, int b, float *out, double seconds)
{
	char		err[256];
	double		best = 0.0;
	int			w;

	/* warm-up call */
	if ((images ? sc_encode_images(m, ws, images, b, out, NULL, NULL, err, sizeof err)
		 : sc_encode_texts(m, ws, ids, lens, b, out, NULL, NULL, err, sizeof err)) < 0)
	{
		fprintf(stderr, "%s\n", err);
		exit(1);
	}
	for (w = 0; w < 4; w++)
	{
		int			reps = 0;
		double		t0 = now(), t;

		do
		{
			if (images)
				sc_encode_images(m, ws, images, b, out, NULL, NULL, err, sizeof err);
			else
				sc_encode_texts(m, ws, ids, lens, b, out, NULL, NULL, err, sizeof err);
			reps++;
			t = now() - t0;
		} while (t < seconds / 4);
		if (b * reps / t > best)
			best = b * reps / t;
	}
	return best;
}

int
main(int argc, char **argv)
{
	sc_config	cfg;
	sc_model   *m;
	sc_workspace ws = {0};
	char		err[256];
	int			threads, D, bi, i;
	double		seconds = argc > 3 ? atof(argv[3]) : 2.0;
	const int	batches[2] = {1, 32};
	float	   *images, *out;
	int32_t	   *tok;
	const int32_t **ids;
	int		   *lens;


	if (argc < 3 || sc_config_preset(argv[1], &cfg) < 0)
	{
		fprintf(stderr, "usage: bench_model tiny|ViT-B/32 THREADS [SECONDS]\n");
		return 2;
	}
	threads = atoi(argv[2]);
	/* the kernel choice the extension makes at load time (BENCH_NO_TUNE=1: OpenBLAS's own) */
	if (!getenv("BENCH_NO_TUNE") && sc_blas_tune(err, sizeof err) < 0)
		fprintf(stderr, "%s\n", err);
	printf("blas_core %s\n", sc_blas_core());
	openblas_set_num_threads(threads);
	m = sc_model_random(&cfg, 1, err, sizeof err);
	if (!m)
	{
		fprintf(stderr, "%s\n", err);
		return 1;
	}
	D = sc_model_output_dim(m);
	printf("sgemm_gflops %.1f\n", sgemm_gflops(seconds / 2));

	images = malloc(sizeof(float) * 32 * 3 * cfg.image_size * cfg.image_size);
	for (i = 0; i < 32 * 3 * cfg.image_size * cfg.image_size; i++)
		images[i] = (float) ((i * 2654435761u) % 1000) / 500.0f - 1.0f;
	out = malloc(sizeof(float) * 32 * D);
	tok = malloc(sizeof(int32_t) * 32 * 16);
	ids = malloc(sizeof(int32_t *) * 32);
	lens = malloc(sizeof(int) * 32);
	for (i = 0; i < 32; i++)
	{
		int			t;

		tok[i * 16] = cfg.vocab_size - 2;
		for (t = 1; t < 15; t++)
			tok[i * 16 + t] = (int32_t) ((i * 131 + t * 977) % (cfg.vocab_size - 2));
		tok[i * 16 + 15] = cfg.vocab_size - 1;
		ids[i] = tok + i * 16;
		lens[i] = 16;
	}

	for (bi = 0; bi < 2; bi++)
	{
		int			b = batches[bi];
		double		r = best_rate(m, &ws, images, NULL, NULL, b, out, seconds);

		printf("image_b%d %.2f %.1f\n", b, r, image_flops(&cfg) * r / 1e9);
	}
	for (bi = 0; bi < 2; bi++)
	{
		int			b = batches[bi];
		double		r = best_rate(m, &ws, NULL, ids, lens, b, out, seconds);

		printf("text_b%d %.2f %.1f\n", b, r, text_flops(&cfg, 16) * r / 1e9);
	}
	sc_workspace_free(&ws);
	sc_model_free(m);
	free(images);
	free(out);
	free(tok);
	free(ids);
	free(lens);
	return 0;
}
