/*
 * train_step.c - training throughput of the C trainer: pairs per second
 * of full steps (both towers forward and backward, InfoNCE, AdamW) on a
 * random model of a preset, with random images and captions whose lengths
 * are given, as test/bench/train.sh runs it beside PyTorch.
 *
 * usage: train_step PRESET BATCH THREADS STEPS [dense] [pd=P]
 *        train_step core     (the OpenBLAS kernel set the trainer runs with)
 * pd=P: patch dropout P (a fresh draw of patches every step).
 * Caption lengths cycle through 6..20 tokens (start and end included).
 */
#include <cblas.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "blas_tune.h"
#include "model.h"
#include "train_model.h"

static double
now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec * 1e-9;
}

int
main(int argc, char **argv)
{
	sc_config	c;
	sc_model   *m;
	sc_trainer *t;
	char		err[256];
	int			B, threads, steps, i, s, S;
	sc_train_opts opts = {.sparsity = SC_SPARSITY_RELU};
	float	   *images;
	int32_t    *tok;
	const int32_t **ids;
	int		   *lens;
	sc_batch_stats st;
	double		t0, best = 0.0;
	unsigned long long r = 42;

	if (argc == 2 && strcmp(argv[1], "core") == 0)
	{
		sc_blas_tune(NULL, 0);
		printf("%s\n", sc_blas_core());
		return 0;
	}
	if (argc < 5 || sc_config_preset(argv[1], &c) < 0)
	{
		fprintf(stderr, "usage: train_step PRESET BATCH THREADS STEPS [dense]\n");
		return 2;
	}
	B = atoi(argv[2]);
	threads = atoi(argv[3]);
	steps = atoi(argv[4]);
	for (i = 5; i < argc; i++)
	{
		if (strcmp(argv[i], "dense") == 0)
			c.sparse_dim = 0;
		else if (strncmp(argv[i], "pd=", 3) == 0)
			opts.patch_dropout = (float) atof(argv[i] + 3);
		else
		{
			fprintf(stderr, "train_step: unknown mode %s\n", argv[i]);
			return 2;
		}
	}
	sc_blas_tune(NULL, 0);
	openblas_set_num_threads(threads);
	m = sc_model_random(&c, 1, err, sizeof err);
	t = m ? sc_trainer_new(m, B, err, sizeof err) : NULL;
	if (!t)
	{
		fprintf(stderr, "%s\n", err);
		return 1;
	}
	sc_trainer_set_threads(t, threads);
	S = c.image_size;
	images = malloc(sizeof(float) * (size_t) B * 3 * S * S);
	tok = malloc(sizeof(int32_t) * (size_t) B * c.context_length);
	ids = malloc(sizeof(*ids) * B);
	lens = malloc(sizeof(int) * B);
	for (i = 0; i < B * 3 * S * S; i++)
	{
		r = r * 6364136223846793005ULL + 1442695040888963407ULL;
		images[i] = (float) ((r >> 40) / 16777216.0) * 2.0f - 1.0f;
	}
	for (i = 0; i < B; i++)
	{
		int			k;

		lens[i] = 6 + i % 15;
		ids[i] = tok + (size_t) i * c.context_length;
		tok[i * c.context_length] = c.vocab_size - 2;
		for (k = 1; k < lens[i] - 1; k++)
			tok[i * c.context_length + k] = (int32_t) ((i * 131 + k * 7919) % (c.vocab_size - 2));
		tok[i * c.context_length + lens[i] - 1] = c.vocab_size - 1;
	}
	/* one warm-up step, then the best of the timed steps */
	for (s = 0; s <= steps; s++)
	{
		double		dt;

		t0 = now_s();
		opts.dropout_seed = (uint64_t) s + 1;
		sc_trainer_batch(t, images, ids, lens, B, &opts, &st, NULL, NULL, err, sizeof err);
		sc_trainer_update(t, 1e-4f, 1e-4f, 0.2f, 1.0, 50.0f);
		dt = now_s() - t0;
		if (s > 0 && B / dt > best)
			best = B / dt;
	}
	printf("%.2f\n", best);
	sc_trainer_free(t);
	sc_model_free(m);
	return 0;
}
