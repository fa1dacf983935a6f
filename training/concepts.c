/*
 * concepts.c - sparseclip-concepts: name every dimension of a Sparse-CLIP
 * model and write the names into the model file.
 *
 * usage: sparseclip-concepts MODEL --vocab FILE [--images TSV] [--classes TSV]
 *                            [--out DIR] [options]
 *
 * Every vocabulary entry is encoded with the text tower; for each dimension
 * the entries whose embeddings activate it most (the normalised embedding's
 * value there) are kept, best first: the first is the dimension's name, the
 * next --names - 1 its alternatives.  With --images, the gallery images
 * that activate each dimension most are kept too, for the report and the
 * gallery picture.  With --classes (image<TAB>class name, the held-out
 * style), the naming quality: for how many images the class name, a word of
 * it or a WordNet synonym is among the names of the image's top 5
 * concepts, against the same with the names shuffled across dimensions.
 *
 * The names go into MODEL (or --write-to PATH) as the metadata keys
 * sparseclip.concepts and sparseclip.concept_activations; the tensors are
 * copied byte for byte and the file is replaced atomically.  --no-write
 * leaves the model alone.  Reports in --out DIR: names.tsv, images.tsv,
 * gallery.txt and gallery.html (and gallery.png with --png, through
 * concepts_gallery.sh and ImageMagick), quality.txt.
 */
#include <cblas.h>
#include <errno.h>
#include <libgen.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "blas_tune.h"
#include "bpe.h"
#include "concepts.h"
#include "data.h"
#include "model.h"
#include "naming.h"

typedef struct opts
{
	const char *model, *vocab, *images, *classes, *out, *wordnet, *write_to, *templ;
	int			names, top_words, top_images, gallery, max_images, threads, batch, png, no_write;
	int			random_rounds, specific;
	uint64_t	seed;
} opts;

static double
now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static void
die(const char *what, const char *err)
{
	fprintf(stderr, "sparseclip-concepts: %s: %s\n", what, err);
	exit(1);
}

static void
usage(void)
{
	fprintf(stderr,
			"usage: sparseclip-concepts MODEL --vocab FILE [options]\n"
			"  --vocab FILE        one word or short phrase a line (training/concepts_vocab.sh makes one)\n"
			"  --images TSV        gallery: image_path<TAB>caption (paths relative to the file)\n"
			"  --max-images N      at most N gallery images, evenly spaced (default all)\n"
			"  --classes TSV       image_path<TAB>class name: the naming-quality measure\n"
			"  --wordnet DIR       WordNet data files for synonyms (default /usr/share/wordnet)\n"
			"  --out DIR           reports: names.tsv images.tsv gallery.html gallery.txt quality.txt\n"
			"  --png               also DIR/gallery.png (ImageMagick)\n"
			"  --names N           names kept per dimension: the name + N-1 alternatives (default 5)\n"
			"  --top-words N       words per dimension in names.tsv (default 10)\n"
			"  --top-images N      images per dimension (default 8)\n"
			"  --gallery N         dimensions in the gallery picture (default 24)\n"
			"  --template T        text encoded for a word, {} = the word (default {})\n"
			"  --score S           rank a dimension's words by their activation (default) or by\n"
			"                      specific: activation standardised over the word's own dimensions\n"
			"  --threads N         OpenBLAS threads (default 2)\n"
			"  --batch N           texts or images per forward pass (default 256)\n"
			"  --random-rounds N   shuffles averaged for the random-names baseline (default 20)\n"
			"  --seed N            gallery sample and shuffles (default 1)\n"
			"  --write-to PATH     write the named model there instead of over MODEL\n"
			"  --no-write          leave the model file alone\n");
	exit(2);
}

static void
parse_args(int argc, char **argv, opts *o)
{
	int			i;

	memset(o, 0, sizeof *o);
	o->wordnet = "/usr/share/wordnet";
	o->templ = "{}";
	o->names = 5;
	o->top_words = 10;
	o->top_images = 8;
	o->gallery = 24;
	o->threads = 2;
	o->batch = 256;
	o->random_rounds = 20;
	o->seed = 1;
	for (i = 1; i < argc; i++)
	{
		const char *a = argv[i];
		const char *v = i + 1 < argc ? argv[i + 1] : NULL;

		if (a[0] != '-' && !o->model)
			o->model = a;
		else if (strcmp(a, "--png") == 0)
			o->png = 1;
		else if (strcmp(a, "--no-write") == 0)
			o->no_write = 1;
		else if (!v)
		{
			fprintf(stderr, "sparseclip-concepts: %s needs a value\n", a);
			usage();
		}
		else if (strcmp(a, "--vocab") == 0)
			o->vocab = argv[++i];
		else if (strcmp(a, "--images") == 0)
			o->images = argv[++i];
		else if (strcmp(a, "--classes") == 0)
			o->classes = argv[++i];
		else if (strcmp(a, "--out") == 0)
			o->out = argv[++i];
		else if (strcmp(a, "--wordnet") == 0)
			o->wordnet = argv[++i];
		else if (strcmp(a, "--write-to") == 0)
			o->write_to = argv[++i];
		else if (strcmp(a, "--template") == 0)
			o->templ = argv[++i];
		else if (strcmp(a, "--names") == 0)
			o->names = atoi(argv[++i]);
		else if (strcmp(a, "--top-words") == 0)
			o->top_words = atoi(argv[++i]);
		else if (strcmp(a, "--top-images") == 0)
			o->top_images = atoi(argv[++i]);
		else if (strcmp(a, "--gallery") == 0)
			o->gallery = atoi(argv[++i]);
		else if (strcmp(a, "--max-images") == 0)
			o->max_images = atoi(argv[++i]);
		else if (strcmp(a, "--threads") == 0)
			o->threads = atoi(argv[++i]);
		else if (strcmp(a, "--batch") == 0)
			o->batch = atoi(argv[++i]);
		else if (strcmp(a, "--score") == 0)
		{
			const char *sc = argv[++i];

			if (strcmp(sc, "specific") == 0)
				o->specific = 1;
			else if (strcmp(sc, "activation") == 0)
				o->specific = 0;
			else
			{
				fprintf(stderr, "sparseclip-concepts: --score is activation or specific\n");
				usage();
			}
		}
		else if (strcmp(a, "--random-rounds") == 0)
			o->random_rounds = atoi(argv[++i]);
		else if (strcmp(a, "--seed") == 0)
			o->seed = strtoull(argv[++i], NULL, 10);
		else
		{
			fprintf(stderr, "sparseclip-concepts: unknown option %s\n", a);
			usage();
		}
	}
	if (!o->model || !o->vocab)
		usage();
	if (o->names < 1 || o->names > 32 || o->top_words < 1 || o->top_images < 1 || o->gallery < 0 ||
		o->threads < 1 || o->batch < 1 || o->max_images < 0 || o->random_rounds < 1)
	{
		fprintf(stderr, "sparseclip-concepts: a count option is out of range\n");
		usage();
	}
	if (o->top_words < o->names)
		o->top_words = o->names;
	if (!strstr(o->templ, "{}"))
	{
		fprintf(stderr, "sparseclip-concepts: --template must contain {}\n");
		exit(2);
	}
	if (o->png && !o->out)
	{
		fprintf(stderr, "sparseclip-concepts: --png needs --out\n");
		exit(2);
	}
}

/* The vocabulary: normalised, first occurrence kept, '#' lines skipped. */
static char **
read_vocab(const char *path, int *n_out)
{
	FILE	   *f = fopen(path, "r");
	char		line[1024], norm[SC_CONCEPT_NAME_MAX + 1];
	char	  **words = NULL;
	int			n = 0, cap = 0, dup = 0, bad = 0;
	strset		seen;

	if (!f)
		die(path, strerror(errno));
	strset_init(&seen);
	while (fgets(line, sizeof line, f))
	{
		size_t		len = strlen(line), i;
		int			ok = 1;

		if (len && line[len - 1] != '\n' && !feof(f))
		{
			int			ch;

			while ((ch = fgetc(f)) != EOF && ch != '\n')
				;
			bad++;
			continue;
		}
		if (line[0] == '#')
			continue;
		if (naming_normalise(line, norm, sizeof norm) == 0)
			continue;
		for (i = 0; norm[i]; i++)
			if ((unsigned char) norm[i] < 0x20)
				ok = 0;
		if (!ok || strlen(norm) >= SC_CONCEPT_NAME_MAX)
		{
			bad++;
			continue;
		}
		if (strset_add(&seen, norm) == 0)
		{
			dup++;
			continue;
		}
		if (n == cap)
		{
			cap = cap ? cap * 2 : 4096;
			words = realloc(words, sizeof(char *) * cap);
			if (!words)
				die(path, "out of memory");
		}
		words[n++] = strdup(norm);
	}
	fclose(f);
	strset_free(&seen);
	if (n == 0)
		die(path, "no words");
	fprintf(stderr, "vocabulary: %d entries from %s (%d duplicates, %d refused)\n", n, path, dup, bad);
	*n_out = n;
	return words;
}

typedef struct ctx
{
	sc_model   *m;
	ClipTokenizer *tok;
	sc_workspace ws;
	int			D;
} ctx;

/* Encode texts[0..n) (each through the template) into out [n, D]. */
static void
encode_words(ctx *c, char **words, int n, const char *templ, float *out, int *too_long)
{
	int			L = c->m->cfg.context_length, i;
	int32_t    *ids = malloc(sizeof(int32_t) * (size_t) n * L);
	const int32_t **pp = malloc(sizeof(*pp) * n);
	int		   *lens = malloc(sizeof(int) * n);
	const char *hole = strstr(templ, "{}");
	char		text[1024], err[512];

	if (!ids || !pp || !lens)
		die("encode", "out of memory");
	for (i = 0; i < n; i++)
	{
		int			trunc = 0;

		snprintf(text, sizeof text, "%.*s%s%s", (int) (hole - templ), templ, words[i], hole + 2);
		if (clip_tokenizer_encode(c->tok, text, strlen(text), L, ids + (size_t) i * L, &lens[i],
								  &trunc, err, sizeof err) < 0)
			die("tokenize", err);
		*too_long += trunc;
		pp[i] = ids + (size_t) i * L;
	}
	if (sc_encode_texts(c->m, &c->ws, pp, lens, n, out, NULL, NULL, err, sizeof err) < 0)
		die("encode texts", err);
	free(ids);
	free(pp);
	free(lens);
}

/* Encode images sel[0..n) of d into out [n, D]. */
static void
encode_gallery(ctx *c, const dataset *d, const int *sel, int n, float *pix, float *out, const char *what)
{
	int			S = c->m->cfg.image_size, i;
	char		err[512];

	for (i = 0; i < n; i++)
		if (dataset_image(d, sel[i], S, c->m->cfg.image_mean, c->m->cfg.image_std, 0,
						  pix + (size_t) i * 3 * S * S, err, sizeof err) < 0)
			die(what, err);
	if (sc_encode_images(c->m, &c->ws, pix, n, out, NULL, NULL, err, sizeof err) < 0)
		die("encode images", err);
}

/* path of a data set image, relative to the current directory */
static char *
image_path(const char *tsv, const char *rel)
{
	char	   *copy = strdup(tsv), *dir = dirname(copy), *p;

	if (rel[0] == '/')
		p = strdup(rel);
	else
	{
		p = malloc(strlen(dir) + strlen(rel) + 2);
		sprintf(p, "%s/%s", dir, rel);
	}
	free(copy);
	return p;
}

static void
html_escape(FILE *f, const char *s)
{
	for (; *s; s++)
		switch (*s)
		{
			case '<':
				fputs("&lt;", f);
				break;
			case '>':
				fputs("&gt;", f);
				break;
			case '&':
				fputs("&amp;", f);
				break;
			case '"':
				fputs("&quot;", f);
				break;
			default:
				fputc(*s, f);
		}
}

static FILE *
out_file(const opts *o, const char *name)
{
	char		p[2048];
	FILE	   *f;

	snprintf(p, sizeof p, "%s/%s", o->out, name);
	if (!(f = fopen(p, "w")))
		die(p, strerror(errno));
	return f;
}

/* The naming-quality measure on the held-out classes. */
static void
quality(ctx *c, const opts *o, const char *const *names, int K, FILE *rep)
{
	dataset		cd;
	char		err[512];
	wordnet    *wn = NULL;
	int			S = c->m->cfg.image_size, D = c->D, i, b0, r, j;
	int		   *top, *ntop, *perm, *named, nnamed = 0, *sel;
	float	   *pix, *emb;
	strset	   *strict, *words;
	long		hit[3] = {0}, rnd[3] = {0};
	static const char *label[3] = {"class name or synonym, names only",
		"class words or synonyms, names only",
	"class words or synonyms, names + alternatives"};
	double		t0 = now();

	if (dataset_load(&cd, o->classes, err, sizeof err) < 0)
		die(o->classes, err);
	wn = wordnet_load(o->wordnet, err, sizeof err);
	if (!wn)
		fprintf(stderr, "sparseclip-concepts: %s; the measure uses the class names alone\n", err);
	top = malloc(sizeof(int) * (size_t) cd.nimages * 5);
	ntop = malloc(sizeof(int) * cd.nimages);
	sel = malloc(sizeof(int) * o->batch);
	pix = malloc(sizeof(float) * (size_t) o->batch * 3 * S * S);
	emb = malloc(sizeof(float) * (size_t) o->batch * D);
	strict = calloc(cd.nimages, sizeof(strset));
	words = calloc(cd.nimages, sizeof(strset));
	perm = malloc(sizeof(int) * D);
	named = malloc(sizeof(int) * D);
	if (!top || !ntop || !sel || !pix || !emb || !strict || !words || !perm || !named)
		die("quality", "out of memory");
	for (b0 = 0; b0 < cd.nimages; b0 += o->batch)
	{
		int			nb = cd.nimages - b0 < o->batch ? cd.nimages - b0 : o->batch;

		for (i = 0; i < nb; i++)
			sel[i] = b0 + i;
		encode_gallery(c, &cd, sel, nb, pix, emb, o->classes);
		for (i = 0; i < nb; i++)
			ntop[b0 + i] = naming_top_dims(emb + (size_t) i * D, D, 5, top + (size_t) (b0 + i) * 5);
	}
	for (i = 0; i < cd.nimages; i++)
		naming_targets(wn, cd.captions[cd.cap_first[i]], &strict[i], &words[i]);
	for (i = 0; i < cd.nimages; i++)
	{
		hit[0] += naming_hit(names, K, 1, NULL, top + (size_t) i * 5, ntop[i], &strict[i]);
		hit[1] += naming_hit(names, K, 1, NULL, top + (size_t) i * 5, ntop[i], &words[i]);
		hit[2] += naming_hit(names, K, K, NULL, top + (size_t) i * 5, ntop[i], &words[i]);
	}
	/* random names: the same name lists, shuffled among the named dimensions */
	for (j = 0; j < D; j++)
		if (names[(size_t) j * K])
			named[nnamed++] = j;
	for (r = 0; r < o->random_rounds; r++)
	{
		int		   *p = malloc(sizeof(int) * (nnamed ? nnamed : 1));

		naming_permutation(p, nnamed, o->seed * 1000 + r + 1);
		for (j = 0; j < D; j++)
			perm[j] = j;
		for (j = 0; j < nnamed; j++)
			perm[named[j]] = named[p[j]];
		free(p);
		for (i = 0; i < cd.nimages; i++)
		{
			rnd[0] += naming_hit(names, K, 1, perm, top + (size_t) i * 5, ntop[i], &strict[i]);
			rnd[1] += naming_hit(names, K, 1, perm, top + (size_t) i * 5, ntop[i], &words[i]);
			rnd[2] += naming_hit(names, K, K, perm, top + (size_t) i * 5, ntop[i], &words[i]);
		}
	}
	for (j = 0; j < 2; j++)
	{
		FILE	   *f = j == 0 ? stdout : rep;

		if (!f)
			continue;
		fprintf(f, "naming quality on %s: %d images; a hit: among the names of the image's top 5 concepts\n",
				o->classes, cd.nimages);
		fprintf(f, "| %-46s | %8s | %12s | %6s |\n", "hit when a name is", "model", "random names", "ratio");
		for (i = 0; i < 3; i++)
		{
			double		a = 100.0 * hit[i] / cd.nimages;
			double		b = 100.0 * rnd[i] / ((double) cd.nimages * o->random_rounds);

			fprintf(f, "| %-46s | %7.2f%% | %11.2f%% | %6s |\n", label[i], a, b,
					b > 0 ? (snprintf(err, sizeof err, "%.1fx", a / b), err) : "inf");
		}
		fprintf(f, "(random: the dimensions' name lists shuffled among the %d named dimensions, mean of %d shuffles)\n",
				nnamed, o->random_rounds);
	}
	fprintf(stderr, "quality: %.1f s\n", now() - t0);
	for (i = 0; i < cd.nimages; i++)
	{
		strset_free(&strict[i]);
		strset_free(&words[i]);
	}
	free(strict);
	free(words);
	free(top);
	free(ntop);
	free(sel);
	free(pix);
	free(emb);
	free(perm);
	free(named);
	wordnet_free(wn);
	dataset_free(&cd);
}

int
main(int argc, char **argv)
{
	opts		o;
	ctx			c;
	char		err[1024];
	char	  **words;
	int			nwords, D, K, i, d, b0, too_long = 0;
	topk	   *tw, *ti = NULL;
	float	   *emb, *pix = NULL, *wmu, *wsd;
	const char **names;
	float	   *acts;
	int		   *ids;
	float	   *vals;
	dataset		gd;
	int			ngallery = 0, *gsel = NULL;
	char	  **gpath = NULL;
	double		t0 = now(), t;
	int			named = 0;
	FILE	   *f;

	parse_args(argc, argv, &o);
	memset(&c, 0, sizeof c);
	memset(&gd, 0, sizeof gd);
	sc_blas_tune(NULL, 0);
	openblas_set_num_threads(o.threads);
	c.m = sc_model_load(o.model, 0, err, sizeof err);
	if (!c.m)
		die(o.model, err);
	if (c.m->cfg.sparse_dim <= 0)
		die(o.model, "a dense model has no concepts to name (sparse_dim is 0)");
	D = c.D = c.m->cfg.sparse_dim;
	c.tok = clip_tokenizer_new(c.m->bpe, strlen(c.m->bpe), c.m->cfg.vocab_size, err, sizeof err);
	if (!c.tok)
		die("tokenizer", err);
	if (o.out && mkdir(o.out, 0777) != 0 && errno != EEXIST)
		die(o.out, strerror(errno));
	words = read_vocab(o.vocab, &nwords);

	/* words */
	K = o.top_words;
	tw = topk_new(D, K);
	emb = malloc(sizeof(float) * (size_t) o.batch * D);
	wmu = calloc(nwords, sizeof(float));
	wsd = malloc(sizeof(float) * nwords);
	for (i = 0; i < nwords; i++)
		wsd[i] = 1.0f;
	if (!tw || !emb || !wmu || !wsd)
		die("words", "out of memory");
	t = now();
	for (b0 = 0; b0 < nwords; b0 += o.batch)
	{
		int			nb = nwords - b0 < o.batch ? nwords - b0 : o.batch;

		encode_words(&c, words + b0, nb, o.templ, emb, &too_long);
		if (o.specific)
			naming_specific(emb, nb, D, wmu + b0, wsd + b0);
		topk_add_rows(tw, emb, nb, b0);
		if ((b0 / o.batch) % 40 == 0)
			fprintf(stderr, "\rwords: %d / %d", b0 + nb, nwords);
	}
	fprintf(stderr, "\rwords: %d encoded in %.1f s (%d cut to the context)\n", nwords, now() - t, too_long);

	/* gallery images */
	if (o.images)
	{
		int			S = c.m->cfg.image_size;

		t = now();
		if (dataset_load(&gd, o.images, err, sizeof err) < 0)
			die(o.images, err);
		ngallery = o.max_images > 0 && o.max_images < gd.nimages ? o.max_images : gd.nimages;
		gsel = malloc(sizeof(int) * (ngallery ? ngallery : 1));
		gpath = malloc(sizeof(char *) * (ngallery ? ngallery : 1));
		/* evenly spaced over the file, so that every source of a mixed set shows */
		for (i = 0; i < ngallery; i++)
		{
			gsel[i] = (int) ((long) i * gd.nimages / ngallery);
			gpath[i] = image_path(o.images, gd.paths[gsel[i]]);
		}
		ti = topk_new(D, o.top_images);
		pix = malloc(sizeof(float) * (size_t) o.batch * 3 * S * S);
		if (!ti || !pix)
			die("images", "out of memory");
		for (b0 = 0; b0 < ngallery; b0 += o.batch)
		{
			int			nb = ngallery - b0 < o.batch ? ngallery - b0 : o.batch;

			encode_gallery(&c, &gd, gsel + b0, nb, pix, emb, o.images);
			topk_add_rows(ti, emb, nb, b0);
			fprintf(stderr, "\rimages: %d / %d", b0 + nb, ngallery);
		}
		fprintf(stderr, "\rimages: %d encoded in %.1f s\n", ngallery, now() - t);
	}

	/* names: the best word, then the next ones */
	names = calloc((size_t) D * o.names, sizeof(char *));
	acts = calloc((size_t) D * o.names, sizeof(float));
	ids = malloc(sizeof(int) * (K > o.top_images ? K : o.top_images));
	vals = malloc(sizeof(float) * (K > o.top_images ? K : o.top_images));
	if (!names || !acts || !ids || !vals)
		die("names", "out of memory");
	f = o.out ? out_file(&o, "names.tsv") : NULL;
	if (f)
		fprintf(f, "dim\trank\tword\tactivation\tscore\n");
	for (d = 0; d < D; d++)
	{
		int			n = topk_sorted(tw, d, ids, vals), r;

		named += n > 0;
		for (r = 0; r < n; r++)
		{
			/* the activation itself, whatever the ranking score */
			float		act = vals[r] * wsd[ids[r]] + wmu[ids[r]];

			if (r < o.names)
			{
				names[(size_t) d * o.names + r] = words[ids[r]];
				acts[(size_t) d * o.names + r] = act;
			}
			if (f)
				fprintf(f, "%d\t%d\t%s\t%.4f\t%.4f\n", d + 1, r + 1, words[ids[r]], act, vals[r]);
		}
	}
	if (f)
		fclose(f);
	printf("named %d of %d dimensions from %d words", named, D, nwords);
	if (o.images)
		printf(", %d gallery images", ngallery);
	printf(" in %.1f s\n", now() - t0);

	if (o.out && ti)
	{
		int		   *sample = malloc(sizeof(int) * D), ns = 0, *perm = malloc(sizeof(int) * D);
		FILE	   *g, *h;

		f = out_file(&o, "images.tsv");
		fprintf(f, "dim\trank\timage\tactivation\n");
		for (d = 0; d < D; d++)
		{
			int			n = topk_sorted(ti, d, ids, vals), r;

			for (r = 0; r < n; r++)
				fprintf(f, "%d\t%d\t%s\t%.4f\n", d + 1, r + 1, gpath[ids[r]], vals[r]);
		}
		fclose(f);
		/* the gallery: a random sample of the dimensions with a name and images */
		naming_permutation(perm, D, o.seed);
		for (i = 0; i < D && ns < o.gallery; i++)
			if (names[(size_t) perm[i] * o.names] && ti->count[perm[i]] > 0)
				sample[ns++] = perm[i];
		for (i = 1; i < ns; i++)
			for (d = i; d > 0 && sample[d - 1] > sample[d]; d--)
			{
				int			tmp = sample[d];

				sample[d] = sample[d - 1];
				sample[d - 1] = tmp;
			}
		g = out_file(&o, "gallery.txt");
		h = out_file(&o, "gallery.html");
		fprintf(h, "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>concepts of %s</title>\n"
				"<style>body{font-family:sans-serif} td{padding:2px} td.n{width:16em}</style></head><body>\n"
				"<h1>Concepts of ", o.model);
		html_escape(h, o.model);
		fprintf(h, "</h1>\n<p>%d dimensions sampled at random among the %d named ones; "
				"the name, its alternatives, and the gallery images that activate the dimension most.</p>\n<table>\n",
				ns, named);
		for (i = 0; i < ns; i++)
		{
			int			dd = sample[i], n = topk_sorted(ti, dd, ids, vals), r;

			fprintf(g, "%d\t%s", dd + 1, names[(size_t) dd * o.names]);
			fprintf(h, "<tr><td class=\"n\"><b>%d: ", dd + 1);
			html_escape(h, names[(size_t) dd * o.names]);
			fprintf(h, "</b><br><small>");
			for (r = 1; r < o.names && names[(size_t) dd * o.names + r]; r++)
			{
				fprintf(h, "%s", r > 1 ? ", " : "");
				html_escape(h, names[(size_t) dd * o.names + r]);
			}
			fprintf(h, "</small></td>");
			for (r = 0; r < n; r++)
			{
				char		rp[4096];

				fprintf(g, "\t%s", gpath[ids[r]]);
				fprintf(h, "<td><img src=\"file://");
				html_escape(h, realpath(gpath[ids[r]], rp) ? rp : gpath[ids[r]]);
				fprintf(h, "\" width=64 height=64 title=\"%.3f\"></td>", vals[r]);
			}
			fprintf(g, "\n");
			fprintf(h, "</tr>\n");
		}
		fprintf(h, "</table></body></html>\n");
		fclose(g);
		fclose(h);
		free(sample);
		free(perm);
		if (o.png)
		{
			char		self[4096], cmd[12288];
			ssize_t		n = readlink("/proc/self/exe", self, sizeof self - 1);

			if (n > 0)
			{
				self[n] = '\0';
				snprintf(cmd, sizeof cmd, "bash '%s/concepts_gallery.sh' '%s/gallery.txt' '%s/gallery.png'",
						 dirname(self), o.out, o.out);
				if (strchr(o.out, '\'') || system(cmd) != 0)
					fprintf(stderr, "sparseclip-concepts: the gallery picture failed: %s\n", cmd);
			}
		}
	}

	if (o.classes)
	{
		FILE	   *rep = o.out ? out_file(&o, "quality.txt") : NULL;

		quality(&c, &o, names, o.names, rep);
		if (rep)
			fclose(rep);
	}

	if (!o.no_write)
	{
		char	   *nj, *aj;
		const char *keys[2] = {"sparseclip.concepts", "sparseclip.concept_activations"};
		const char *vals2[2];
		const char *dest = o.write_to ? o.write_to : o.model;

		if (sc_concepts_json(names, acts, D, o.names, &nj, &aj, err, sizeof err) < 0)
			die("names", err);
		vals2[0] = nj;
		vals2[1] = aj;
		if (st_rewrite(c.m->file, dest, keys, vals2, 2, err, sizeof err) < 0)
			die(dest, err);
		printf("names written to %s (%zu + %zu bytes of metadata)\n", dest, strlen(nj), strlen(aj));
		free(nj);
		free(aj);
	}
	printf("total %.1f s\n", now() - t0);
	for (i = 0; i < nwords; i++)
		free(words[i]);
	free(words);
	for (i = 0; i < ngallery; i++)
		free(gpath[i]);
	free(gpath);
	free(gsel);
	free(names);
	free(acts);
	free(ids);
	free(vals);
	free(emb);
	free(wmu);
	free(wsd);
	free(pix);
	topk_free(tw);
	topk_free(ti);
	if (o.images)
		dataset_free(&gd);
	clip_tokenizer_free(c.tok);
	sc_workspace_free(&c.ws);
	sc_model_free(c.m);
	return 0;
}
