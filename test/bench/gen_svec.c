/*
 * gen_svec - writes random svec text lines for benchmarks.
 *
 *   gen_svec ROWS DIMS NNZ [SEED]
 *
 * Each line holds one vector of about NNZ distinct dimensions drawn with a
 * Zipf-like popularity (rank r has weight 1/(r+10)), non-negative weights,
 * L2-normalised, in svec text format.  Deterministic for a given seed.
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static uint64_t rng_state;

static uint64_t
rng_next(void)
{
	/* xorshift64*: fast and good enough for synthetic data. */
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return rng_state * 2685821657736338717ULL;
}

static double
rng_uniform(void)
{
	return (rng_next() >> 11) * (1.0 / 9007199254740992.0);
}

static int
cmp_int(const void *a, const void *b)
{
	int			x = *(const int *) a,
				y = *(const int *) b;

	return (x > y) - (x < y);
}

int
main(int argc, char **argv)
{
	long		rows;
	int			dims, nnz;
	double	   *cdf;
	int		   *perm, *idx;
	float	   *val;
	unsigned char *seen;

	if (argc < 4)
	{
		fprintf(stderr, "usage: gen_svec ROWS DIMS NNZ [SEED]\n");
		return 2;
	}
	rows = atol(argv[1]);
	dims = atoi(argv[2]);
	nnz = atoi(argv[3]);
	rng_state = argc > 4 ? strtoull(argv[4], NULL, 10) * 2 + 1 : 88172645463325252ULL;
	if (dims < 1 || nnz < 1 || nnz > dims)
	{
		fprintf(stderr, "gen_svec: need 1 <= NNZ <= DIMS\n");
		return 2;
	}

	/* Popularity by rank, ranks mapped to dimensions by a fixed permutation. */
	cdf = malloc(sizeof(double) * dims);
	perm = malloc(sizeof(int) * dims);
	idx = malloc(sizeof(int) * (2 * nnz + 1));
	val = malloc(sizeof(float) * (2 * nnz + 1));
	seen = calloc(dims, 1);
	for (int i = 0; i < dims; i++)
	{
		cdf[i] = (i ? cdf[i - 1] : 0) + 1.0 / (i + 10.0);
		perm[i] = i;
	}
	for (int i = dims - 1; i > 0; i--)
	{
		int			j = (int) (rng_next() % (uint64_t) (i + 1));
		int			t = perm[i];

		perm[i] = perm[j];
		perm[j] = t;
	}

	for (long r = 0; r < rows; r++)
	{
		int			n = 0;
		double		norm = 0;
		/* About NNZ entries: uniform in [NNZ/2, 3*NNZ/2]. */
		int			want = nnz / 2 + (int) (rng_next() % (uint64_t) (nnz + 1));

		if (want > dims)
			want = dims;
		if (want < 1)
			want = 1;
		while (n < want)
		{
			double		u = rng_uniform() * cdf[dims - 1];
			int			lo = 0, hi = dims - 1;

			while (lo < hi)
			{
				int			mid = (lo + hi) / 2;

				if (cdf[mid] < u)
					lo = mid + 1;
				else
					hi = mid;
			}
			if (seen[perm[lo]])
				continue;
			seen[perm[lo]] = 1;
			idx[n++] = perm[lo];
		}
		qsort(idx, n, sizeof(int), cmp_int);
		for (int i = 0; i < n; i++)
		{
			/* Heavy-tailed positive weights, like ReLU activations. */
			val[i] = (float) (-log(1.0 - rng_uniform()) + 0.01);
			norm += (double) val[i] * val[i];
			seen[idx[i]] = 0;
		}
		norm = sqrt(norm);
		putchar('{');
		for (int i = 0; i < n; i++)
			printf(i ? ",%d:%.6g" : "%d:%.6g", idx[i] + 1, val[i] / norm);
		printf("}/%d\n", dims);
	}
	free(cdf);
	free(perm);
	free(idx);
	free(val);
	free(seen);
	return 0;
}
