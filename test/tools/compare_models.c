/*
 * compare_models - checks that model file B is model file A in another
 * dtype (what sparseclip-convert makes): the same tensors and shapes, the
 * same metadata byte for byte, weights within the dtype's rounding, and
 * embeddings close to A's on fixed texts and images.  Prints the figures.
 *
 *   compare_models A B [--min-cosine X] [--expect-meta KEY=VALUE]...
 *                      [--image FILE]... [--rounding f16|bf16]
 *
 * --expect-meta: B must hold KEY=VALUE (A's value of KEY is not compared).
 * --image: a JPEG, PNG or WebP file to encode too; besides these, 4
 * deterministic pseudo-random pixel tensors are always encoded.
 * --rounding: judge B's weights by that dtype's rounding even where B is
 * F32 (a file converted to F16 and back).
 * Exit status 0 when everything holds, 1 when something differs.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bpe.h"
#include "image.h"
#include "model.h"
#include "safetensors.h"

static const char *const texts[] = {
	"a photo of a cat", "a red car parked on the street", "two dogs playing in the snow",
	"an apple", "a smiling face", "a blue sky with white clouds", "a drawing of a house",
	"a bowl of soup", "a person riding a bicycle", "a green tree", "music", "a rocket",
};
#define NTEXTS (sizeof(texts) / sizeof(texts[0]))
#define NRANDOM 4

static unsigned char *
slurp(const char *path, size_t *len)
{
	FILE	   *f = fopen(path, "rb");
	unsigned char *b;
	long		n;

	if (!f)
		return NULL;
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	fseek(f, 0, SEEK_SET);
	b = malloc((size_t) n + 1);
	if (b && fread(b, 1, (size_t) n, f) != (size_t) n)
	{
		free(b);
		b = NULL;
	}
	fclose(f);
	*len = (size_t) n;
	return b;
}

static double
cosine(const float *a, const float *b, int n, int *nnz_a, int *nnz_b, int *both)
{
	double		ab = 0, aa = 0, bb = 0;

	*nnz_a = *nnz_b = *both = 0;
	for (int i = 0; i < n; i++)
	{
		ab += (double) a[i] * b[i];
		aa += (double) a[i] * a[i];
		bb += (double) b[i] * b[i];
		*nnz_a += a[i] != 0;
		*nnz_b += b[i] != 0;
		*both += a[i] != 0 && b[i] != 0;
	}
	return aa > 0 && bb > 0 ? ab / sqrt(aa * bb) : (aa == bb ? 1.0 : 0.0);
}

/* Metadata: A's keys all in B with the same bytes, and B has no others. */
static int
compare_metadata(const st_file *a, const st_file *b, char **ekeys, char **evals, int nexpect)
{
	int			bad = 0;
	size_t		same = 0;

	for (size_t i = 0; i < a->nmeta; i++)
	{
		const char *k = a->meta_keys[i];
		const char *vb = st_metadata(b, k);
		int			expected = 0;

		for (int e = 0; e < nexpect; e++)
			expected |= strcmp(ekeys[e], k) == 0;
		if (expected)
			continue;
		if (!vb)
		{
			printf("metadata: %s missing in B\n", k);
			bad = 1;
		}
		else if (strcmp(vb, a->meta_values[i]) != 0)
		{
			printf("metadata: %s differs (%zu vs %zu bytes)\n", k, strlen(a->meta_values[i]), strlen(vb));
			bad = 1;
		}
		else
			same++;
	}
	for (size_t i = 0; i < b->nmeta; i++)
	{
		int			expected = 0;

		for (int e = 0; e < nexpect; e++)
			expected |= strcmp(ekeys[e], b->meta_keys[i]) == 0;
		if (!expected && !st_metadata(a, b->meta_keys[i]))
		{
			printf("metadata: %s only in B\n", b->meta_keys[i]);
			bad = 1;
		}
	}
	for (int e = 0; e < nexpect; e++)
	{
		const char *vb = st_metadata(b, ekeys[e]);

		if (!vb || strcmp(vb, evals[e]) != 0)
		{
			printf("metadata: %s is %s%s%s in B, expected \"%s\"\n", ekeys[e], vb ? "\"" : "",
				   vb ? vb : "missing", vb ? "\"" : "", evals[e]);
			bad = 1;
		}
	}
	printf("metadata: %zu keys of A identical in B, %d expected keys checked%s\n", same, nexpect,
		   bad ? ", DIFFERENCES" : "");
	return bad;
}

/* Tensors: same names and shapes; B's values within its dtype's rounding of A's. */
static int
compare_tensors(const st_file *a, const st_file *b, int rounding)
{
	int			bad = 0;
	double		max_rel = 0, max_abs = 0;

	if (a->ntensors != b->ntensors)
	{
		printf("tensors: %zu in A, %zu in B\n", a->ntensors, b->ntensors);
		return 1;
	}
	for (size_t i = 0; i < a->ntensors; i++)
	{
		const st_tensor *ta = &a->tensors[i];
		const st_tensor *tb = st_find(b, ta->name);
		float	   *fa, *fb;
		/* half an ulp of the narrower dtype, relative; plus F16's subnormal step */
		double		rel, floor_abs;

		if (!tb || tb->ndim != ta->ndim || memcmp(tb->shape, ta->shape, sizeof(int64_t) * ta->ndim) != 0)
		{
			printf("tensors: %s missing in B or of another shape\n", ta->name);
			bad = 1;
			continue;
		}
		fa = malloc(sizeof(float) * (ta->numel ? ta->numel : 1));
		fb = malloc(sizeof(float) * (tb->numel ? tb->numel : 1));
		if (!fa || !fb || st_to_float(ta, fa) < 0 || st_to_float(tb, fb) < 0)
		{
			if (ta->nbytes != tb->nbytes || memcmp(ta->data, tb->data, ta->nbytes) != 0)
			{
				printf("tensors: non-float tensor %s differs\n", ta->name);
				bad = 1;
			}
			free(fa);
			free(fb);
			continue;
		}
		{
			st_dtype	r = rounding >= 0 ? (st_dtype) rounding : tb->dtype;

			rel = r == ST_F16 ? 1.0 / 2048 : r == ST_BF16 ? 1.0 / 256 : 1e-7;
			floor_abs = r == ST_F16 ? 1.0 / (1 << 25) : 0;
		}
		for (int64_t j = 0; j < ta->numel; j++)
		{
			double		d = fabs((double) fa[j] - fb[j]);
			double		tol = fabs(fa[j]) * rel * 1.0001 + floor_abs;

			if (d > max_abs)
				max_abs = d;
			if (fa[j] != 0 && d / fabs(fa[j]) > max_rel && fabs(fa[j]) > 6.2e-5)
				max_rel = d / fabs(fa[j]);
			if (d > tol || isnan(fa[j]) != isnan(fb[j]))
			{
				if (!bad)
					printf("tensors: %s[%lld] is %.9g in A, %.9g in B\n", ta->name, (long long) j, fa[j], fb[j]);
				bad = 1;
			}
		}
		free(fa);
		free(fb);
	}
	printf("tensors: %zu, max abs difference %.3g, max relative difference %.3g (normal range)%s\n",
		   a->ntensors, max_abs, max_rel, bad ? ", OUT OF TOLERANCE" : "");
	return bad;
}

int
main(int argc, char **argv)
{
	const char *pa = NULL, *pb = NULL;
	double		min_cos = 0.99;
	char	  **ekeys = calloc((size_t) argc, sizeof(char *));
	char	  **evals = calloc((size_t) argc, sizeof(char *));
	const char **images = calloc((size_t) argc, sizeof(char *));
	int			nexpect = 0, nimages = 0, bad = 0, rounding = -1;
	char		err[512];
	st_file    *fa, *fb;
	sc_model   *ma, *mb;
	ClipTokenizer *tok;
	sc_workspace ws = {0};
	int			dim, n;
	float	   *ea, *eb, *pixels;
	double		worst = 1, sum = 0;
	size_t		npix;

	for (int i = 1; i < argc; i++)
	{
		if (strcmp(argv[i], "--min-cosine") == 0 && i + 1 < argc)
			min_cos = atof(argv[++i]);
		else if (strcmp(argv[i], "--expect-meta") == 0 && i + 1 < argc)
		{
			char	   *kv = argv[++i], *eq = strchr(kv, '=');

			if (!eq)
				return 2;
			*eq = '\0';
			ekeys[nexpect] = kv;
			evals[nexpect++] = eq + 1;
		}
		else if (strcmp(argv[i], "--rounding") == 0 && i + 1 < argc)
		{
			i++;
			rounding = strcmp(argv[i], "f16") == 0 ? ST_F16 : strcmp(argv[i], "bf16") == 0 ? ST_BF16 : -2;
			if (rounding == -2)
				return 2;
		}
		else if (strcmp(argv[i], "--image") == 0 && i + 1 < argc)
			images[nimages++] = argv[++i];
		else if (!pa)
			pa = argv[i];
		else if (!pb)
			pb = argv[i];
		else
			return 2;
	}
	if (!pb)
	{
		fprintf(stderr, "usage: compare_models A B [--min-cosine X] [--expect-meta KEY=VALUE]... [--image FILE]... [--rounding f16|bf16]\n");
		return 2;
	}
	if (!(fa = st_open(pa, err, sizeof err)) || !(fb = st_open(pb, err, sizeof err)))
	{
		fprintf(stderr, "compare_models: %s\n", err);
		return 1;
	}
	bad |= compare_metadata(fa, fb, ekeys, evals, nexpect);
	bad |= compare_tensors(fa, fb, rounding);
	if (!(ma = sc_model_load(pa, 0, err, sizeof err)) || !(mb = sc_model_load(pb, 0, err, sizeof err)))
	{
		fprintf(stderr, "compare_models: %s\n", err);
		return 1;
	}
	if (!ma->bpe || !(tok = clip_tokenizer_new(ma->bpe, strlen(ma->bpe), ma->cfg.vocab_size, err, sizeof err)))
	{
		fprintf(stderr, "compare_models: A has no usable tokenizer: %s\n", ma->bpe ? err : "no sparseclip.bpe");
		return 1;
	}
	dim = sc_model_output_dim(ma);
	if (dim != sc_model_output_dim(mb))
	{
		printf("output dimensions differ: %d, %d\n", dim, sc_model_output_dim(mb));
		return 1;
	}
	n = (int) NTEXTS + NRANDOM + nimages;
	ea = calloc((size_t) n * dim, sizeof(float));
	eb = calloc((size_t) n * dim, sizeof(float));
	npix = (size_t) 3 * ma->cfg.image_size * ma->cfg.image_size;
	pixels = malloc(sizeof(float) * npix * (NRANDOM + nimages));
	if (!ea || !eb || !pixels)
		return 1;
	for (size_t t = 0; t < NTEXTS; t++)
	{
		int32_t		ids[1024];
		const int32_t *idp = ids;
		int			len, trunc;

		if (ma->cfg.context_length > 1024 ||
			clip_tokenizer_encode(tok, texts[t], strlen(texts[t]), ma->cfg.context_length, ids, &len,
								  &trunc, err, sizeof err) != 0 ||
			sc_encode_texts(ma, &ws, &idp, &len, 1, ea + t * dim, NULL, NULL, err, sizeof err) != 0 ||
			sc_encode_texts(mb, &ws, &idp, &len, 1, eb + t * dim, NULL, NULL, err, sizeof err) != 0)
		{
			fprintf(stderr, "compare_models: text \"%s\": %s\n", texts[t], err);
			return 1;
		}
	}
	/* deterministic noise images (normalised pixels, mean 0 sd about 1) */
	{
		uint64_t	s = 42;

		for (size_t j = 0; j < npix * NRANDOM; j++)
		{
			s = s * 6364136223846793005ULL + 1442695040888963407ULL;
			pixels[j] = (float) ((double) (s >> 11) / 9007199254740992.0 * 3.4 - 1.7);
		}
	}
	for (int i = 0; i < nimages; i++)
	{
		size_t		len;
		unsigned char *data = slurp(images[i], &len);
		clip_preprocess_opts o = {ma->cfg.image_size, ma->cfg.image_mean, ma->cfg.image_std, 0,
		CLIP_ALPHA_DROP, NULL, NULL};

		if (!data || clip_image_preprocess(data, len, &o, pixels + (NRANDOM + i) * npix, err, sizeof err) != 0)
		{
			fprintf(stderr, "compare_models: image %s: %s\n", images[i], data ? err : "cannot read");
			return 1;
		}
		free(data);
	}
	if (sc_encode_images(ma, &ws, pixels, NRANDOM + nimages, ea + NTEXTS * dim, NULL, NULL, err, sizeof err) != 0 ||
		sc_encode_images(mb, &ws, pixels, NRANDOM + nimages, eb + NTEXTS * dim, NULL, NULL, err, sizeof err) != 0)
	{
		fprintf(stderr, "compare_models: images: %s\n", err);
		return 1;
	}
	{
		long		nnz_a = 0, nnz_b = 0, both = 0;

		for (int i = 0; i < n; i++)
		{
			int			na, nb, nboth;
			double		c = cosine(ea + (size_t) i * dim, eb + (size_t) i * dim, dim, &na, &nb, &nboth);

			nnz_a += na;
			nnz_b += nb;
			both += nboth;
			sum += c;
			if (c < worst)
				worst = c;
		}
		printf("embeddings: %zu texts, %d images (%d noise, %d files): cosine A/B min %.6f (1 - min = %.2e) mean %.6f; "
			   "active dims A %.1f, B %.1f per vector, %.1f%% shared\n",
			   NTEXTS, NRANDOM + nimages, NRANDOM, nimages, worst, 1 - worst, sum / n,
			   (double) nnz_a / n, (double) nnz_b / n,
			   100.0 * both / (nnz_a > nnz_b ? (nnz_a ? nnz_a : 1) : nnz_b));
	}
	if (worst < min_cos)
	{
		printf("embeddings: minimum cosine %.6f is below %.4f\n", worst, min_cos);
		bad = 1;
	}
	printf("%s\n", bad ? "DIFFERENT" : "OK");
	return bad;
}
