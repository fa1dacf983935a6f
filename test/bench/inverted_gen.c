/*
 * inverted_gen.c - synthetic Sparse-CLIP-like vectors for the inverted index
 * benchmark, in COPY text format ("id<TAB>{d:w,...}/16384").
 *
 *   inverted_gen docs N SEED      documents: ~96 non-zeros
 *   inverted_gen text N SEED      text-like queries: ~24 non-zeros
 *   inverted_gen image N SEED     image-like queries: ~96 non-zeros
 *   inverted_gen tdocs N SEED     "topical" documents: ids in blocks of 4,096
 *                                 share one of 64 topics
 *   inverted_gen ttext N SEED     text-like queries, each on a random topic
 *   inverted_gen timage N SEED    image-like queries, each on a random topic
 *
 * Dimensions follow a Zipf-like popularity (p(rank r) ~ 1/(r + 10)) over a
 * fixed random permutation of the 16,384 dimensions, shared by documents and
 * queries; weights are exponential (ReLU outputs are mostly small with a long
 * tail), non-negative, and every vector is L2-normalised.  The non-zero
 * count varies by +-25% around its mean.  Topical vectors draw half their
 * dimensions from their topic's own popularity order (a random shift of the
 * shared one), so that, as when a table is filled album by album, the rows
 * a query ranks first sit together.
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DIMS 16384

static uint64_t rng_state;

static uint64_t
rng_next(void)
{
	/* splitmix64 */
	uint64_t	z = (rng_state += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static double
rng_unit(void)
{
	return ((rng_next() >> 11) + 0.5) * (1.0 / 9007199254740992.0);
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
	static double cdf[DIMS];
	static int	perm[DIMS];
	static int	dims[DIMS];
	static double w[DIMS];
	static unsigned char used[DIMS];
	long		n,
				i;
	int			mean;
	int			topical;
	double		total = 0;

	if (argc != 4 || (strcmp(argv[1], "docs") && strcmp(argv[1], "text") && strcmp(argv[1], "image") &&
					  strcmp(argv[1], "tdocs") && strcmp(argv[1], "ttext") && strcmp(argv[1], "timage")))
	{
		fprintf(stderr, "usage: %s docs|text|image|tdocs|ttext|timage N SEED\n", argv[0]);
		return 2;
	}
	n = atol(argv[2]);
	mean = (strcmp(argv[1], "text") == 0 || strcmp(argv[1], "ttext") == 0) ? 24 : 96;
	topical = argv[1][0] == 't' && argv[1][1] != 'e';

	/* the popularity order is the same for every kind and seed */
	rng_state = 12345;
	for (i = 0; i < DIMS; i++)
		perm[i] = (int) i;
	for (i = DIMS - 1; i > 0; i--)
	{
		long		j = (long) (rng_next() % (uint64_t) (i + 1));
		int			t = perm[i];

		perm[i] = perm[j];
		perm[j] = t;
	}
	for (i = 0; i < DIMS; i++)
	{
		total += 1.0 / (i + 10.0);
		cdf[i] = total;
	}

	rng_state = (uint64_t) atol(argv[3]) * 1000003ULL + (uint64_t) mean;
	for (i = 0; i < n; i++)
	{
		int			nnz = mean * 3 / 4 + (int) (rng_next() % (uint64_t) (mean / 2 + 1));
		int			k = 0;
		double		norm = 0;
		long		shift = 0;

		if (topical)
		{
			uint64_t	topic = argv[1][1] == 'd' ? (uint64_t) (i / 4096) % 64 : rng_next() % 64;

			shift = (long) ((topic + 1) * 2654435761ULL % DIMS);
		}

		while (k < nnz)
		{
			double		u = rng_unit() * total;
			int			lo = 0,
						hi = DIMS - 1;

			while (lo < hi)
			{
				int			mid = (lo + hi) / 2;

				if (cdf[mid] < u)
					lo = mid + 1;
				else
					hi = mid;
			}
			/* topical: half the draws follow the topic's own order */
			if (topical && rng_unit() < 0.5)
				lo = (int) ((lo + shift) % DIMS);
			if (used[perm[lo]])
				continue;
			used[perm[lo]] = 1;
			dims[k++] = perm[lo];
		}
		qsort(dims, nnz, sizeof(int), cmp_int);
		for (k = 0; k < nnz; k++)
		{
			w[k] = -log(rng_unit());
			norm += w[k] * w[k];
			used[dims[k]] = 0;
		}
		norm = sqrt(norm);
		printf("%ld\t{", i + 1);
		for (k = 0; k < nnz; k++)
			printf("%s%d:%.6g", k ? "," : "", dims[k] + 1, w[k] / norm);
		printf("}/%d\n", DIMS);
	}
	return 0;
}
