/*
 * inverted_oracle.c - how much of a query's postings an exact scan that
 * prunes by range maxima must read at best, whatever its engineering.
 *
 *   inverted_oracle DOCS QUERIES [K]
 *
 * DOCS and QUERIES are inverted_gen output ("id<TAB>{d:w,...}/DIM"; pipe it
 * in with <(...)).  For every query the exact top-K (default 10) gives the
 * bar theta, which a real scan only learns as it goes.  Knowing theta from
 * the start, the best that the `inverted` index's kind of walk can do is:
 * walk the terms in its order (largest q * max w per posting first), and
 * after every term drop each range whose best partial score plus the
 * remaining terms' range maxima stays below theta (the real scan checks
 * twice, at 30 and 55 % of the postings, with a bar that rises as it
 * goes).  The program counts the postings that ideal walk reads, and the
 * postings of ranges whose bound over all terms reaches theta (what a scan
 * that decides per range, before reading, must read), for ranges of 1,024
 * documents (the index's) and finer ones, in insertion order and in the
 * order of the index option `reorder` (src/inverted/reorder.c: documents
 * sorted by their 8 heaviest dimensions ranked by |w| * sqrt(df)).
 *
 * Scanning time is about proportional to the postings read (doc/
 * inverted-design.md), so the fractions bound what pruning can gain: a
 * floor under any exact scan of this design on the data given.
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../src/inverted/sketch.h"

#define SKETCH 8

typedef struct
{
	int			n;
	int32_t    *dim;
	float	   *w;
} Vec;

typedef struct
{
	long		n;
	Vec		   *v;
} Set;

static void
die(const char *m)
{
	fprintf(stderr, "inverted_oracle: %s\n", m);
	exit(2);
}

static void *
xmalloc(size_t n)
{
	void	   *p = malloc(n ? n : 1);

	if (!p)
		die("out of memory");
	return p;
}

/* one line "id\t{d:w,...}/DIM" */
static int
parse_line(char *s, Vec *v, int *maxdim)
{
	char	   *p = strchr(s, '{');
	int			cap = 16;

	if (!p)
		return 0;
	p++;
	v->n = 0;
	v->dim = xmalloc(sizeof(int32_t) * cap);
	v->w = xmalloc(sizeof(float) * cap);
	while (*p && *p != '}')
	{
		char	   *e;
		long		d = strtol(p, &e, 10);

		if (e == p || *e != ':')
			die("bad vector");
		p = e + 1;
		if (v->n == cap)
		{
			cap *= 2;
			v->dim = realloc(v->dim, sizeof(int32_t) * cap);
			v->w = realloc(v->w, sizeof(float) * cap);
			if (!v->dim || !v->w)
				die("out of memory");
		}
		v->dim[v->n] = (int32_t) d;
		v->w[v->n] = strtof(p, &e);
		if (e == p)
			die("bad weight");
		if (d > *maxdim)
			*maxdim = (int) d;
		v->n++;
		p = e;
		if (*p == ',')
			p++;
	}
	return 1;
}

static Set
read_set(const char *path, int *maxdim)
{
	FILE	   *f = fopen(path, "r");
	Set			s = {0, NULL};
	long		cap = 1024;
	char	   *line = NULL;
	size_t		lcap = 0;

	if (!f)
		die("cannot open an input");
	s.v = xmalloc(sizeof(Vec) * cap);
	while (getline(&line, &lcap, f) > 0)
	{
		if (s.n == cap)
		{
			cap *= 2;
			s.v = realloc(s.v, sizeof(Vec) * cap);
			if (!s.v)
				die("out of memory");
		}
		if (parse_line(line, &s.v[s.n], maxdim))
			s.n++;
	}
	free(line);
	fclose(f);
	return s;
}

/* ---- the reorder option's order ---- */

static int32_t *sk_dim;
static uint8_t *sk_cnt;

static int
sketch_cmp(const void *a, const void *b)
{
	long		x = *(const long *) a,
				y = *(const long *) b;
	int			cx = sk_cnt[x],
				cy = sk_cnt[y],
				j;

	if ((cx == 0) != (cy == 0))
		return cx == 0 ? 1 : -1;
	for (j = 0; j < (cx < cy ? cx : cy); j++)
		if (sk_dim[x * SKETCH + j] != sk_dim[y * SKETCH + j])
			return sk_dim[x * SKETCH + j] < sk_dim[y * SKETCH + j] ? -1 : 1;
	if (cx != cy)
		return cx < cy ? -1 : 1;
	return (x > y) - (x < y);
}

/* order[i]: the document numbered i */
static long *
reorder(const Set *docs, int ndim)
{
	long		n = docs->n,
				i;
	long	   *order = xmalloc(sizeof(long) * n);
	float	   *sw = xmalloc(sizeof(float) * n * SKETCH);
	long	   *df = calloc(ndim + 1, sizeof(long));

	sk_dim = xmalloc(sizeof(int32_t) * n * SKETCH);
	sk_cnt = calloc(n, 1);
	if (!df || !sk_cnt)
		die("out of memory");
	for (i = 0; i < n; i++)
	{
		const Vec  *v = &docs->v[i];
		int			j;

		for (j = 0; j < v->n; j++)
			inv_sketch_insert(sk_dim + i * SKETCH, sw + i * SKETCH, &sk_cnt[i], SKETCH, v->dim[j], fabsf(v->w[j]));
		for (j = 0; j < sk_cnt[i]; j++)
			df[sk_dim[i * SKETCH + j]]++;
	}
	for (i = 0; i < n; i++)
	{
		int32_t		s[SKETCH];
		float		r[SKETCH];
		uint8_t		c = 0;
		int			j;

		for (j = 0; j < sk_cnt[i]; j++)
		{
			int32_t		d = sk_dim[i * SKETCH + j];

			inv_sketch_insert(s, r, &c, SKETCH, d, sw[i * SKETCH + j] * sqrtf((float) df[d]));
		}
		memcpy(sk_dim + i * SKETCH, s, sizeof(int32_t) * c);
		order[i] = i;
	}
	qsort(order, n, sizeof(long), sketch_cmp);
	free(sw);
	free(df);
	free(sk_dim);
	free(sk_cnt);
	return order;
}

/* ---- postings in one order ---- */

typedef struct
{
	long	   *start;			/* [ndim + 2] */
	uint32_t   *doc;
	float	   *w;
	float	   *maxw;			/* [ndim + 1] */
	float	   *norm;			/* [doc]: |d| */
} Post;

static Post
build_postings(const Set *docs, const long *order, int ndim)
{
	Post		p;
	long		n = docs->n,
				i,
				total = 0;
	long	   *fill;

	p.start = calloc(ndim + 2, sizeof(long));
	p.maxw = calloc(ndim + 1, sizeof(float));
	if (!p.start || !p.maxw)
		die("out of memory");
	for (i = 0; i < n; i++)
		for (int j = 0; j < docs->v[i].n; j++)
			p.start[docs->v[i].dim[j] + 1]++;
	for (int d = 0; d <= ndim; d++)
		p.start[d + 1] += p.start[d];
	total = p.start[ndim + 1];
	p.doc = xmalloc(sizeof(uint32_t) * total);
	p.w = xmalloc(sizeof(float) * total);
	fill = xmalloc(sizeof(long) * (ndim + 1));
	p.norm = xmalloc(sizeof(float) * n);
	memcpy(fill, p.start, sizeof(long) * (ndim + 1));
	/* in the new numbering, so each list comes out sorted */
	for (i = 0; i < n; i++)
	{
		const Vec  *v = &docs->v[order ? order[i] : i];
		double		n2 = 0;

		for (int j = 0; j < v->n; j++)
			n2 += (double) v->w[j] * v->w[j];
		p.norm[i] = (float) sqrt(n2);
		for (int j = 0; j < v->n; j++)
		{
			long		k = fill[v->dim[j]]++;

			p.doc[k] = (uint32_t) i;
			p.w[k] = v->w[j];
			if (v->w[j] > p.maxw[v->dim[j]])
				p.maxw[v->dim[j]] = v->w[j];
		}
	}
	free(fill);
	return p;
}

static int
cmp_desc(const void *a, const void *b)
{
	float		x = *(const float *) a,
				y = *(const float *) b;

	return (x < y) - (x > y);
}

typedef struct
{
	int			t;
	double		key;
} TermOrd;

static int
cmp_term(const void *a, const void *b)
{
	double		x = ((const TermOrd *) a)->key,
				y = ((const TermOrd *) b)->key;

	return (x < y) - (x > y);
}

#define NSIZES 4
static const int sizes[NSIZES] = {1024, 256, 64, 16};

/* the scan's checkpoints, as shares of the postings (CHECKPOINTS="0.3,0.55") */
static double cps[32] = {0.30, 0.55};

/*
 * CS=1: also bound what the remaining terms add to a document by
 * Cauchy-Schwarz, |q_rest| |d| (the range's largest |d|), and take the
 * smaller of the two bounds.
 */
static int	use_cs = 0;
static int	ncps = 2;

/*
 * One query over one order: the postings the ideal walk reads and those of
 * ranges whose whole bound reaches theta, for each range size.
 */
/* the k-th largest of n values (a copy is partially sorted) */
static float
kth_largest(const float *v, long n, int k, float *tmp)
{
	long		lo = 0,
				hi = n - 1,
				want = k - 1 < n ? k - 1 : n - 1;

	memcpy(tmp, v, sizeof(float) * n);
	while (lo < hi)
	{
		float		pivot = tmp[lo + (hi - lo) / 2];
		long		i = lo,
					j = hi;

		while (i <= j)
		{
			while (tmp[i] > pivot)
				i++;
			while (tmp[j] < pivot)
				j--;
			if (i <= j)
			{
				float		t = tmp[i];

				tmp[i++] = tmp[j];
				tmp[j--] = t;
			}
		}
		if (want <= j)
			hi = j;
		else if (want >= i)
			lo = i;
		else
			break;
	}
	return tmp[want];
}

/* one query over one order and range size, for walk() */
typedef struct
{
	const Post *p;
	const Vec  *q;
	const TermOrd *ord;
	long		ndocs;
	int			R;
	long		nr;
	int			k;
	long		total;			/* the query terms' postings */
	const float *rmax;			/* [range][rank]: the term's largest weight there */
	const float *maxnorm;		/* [range]: the largest |d| */
	const double *qrest;		/* [rank]: |q| of the terms from that rank on */
	float	   *acc,
			   *best,
			   *tmp;
	unsigned char *alive;
	double	   *rest;
} Walk;

/* what the terms from rank r on can add to range g */
static double
bound(const Walk *w, long g, int r)
{
	double		cs = w->qrest[r] * w->maxnorm[g];

	return use_cs && cs < w->rest[g] ? cs : w->rest[g];
}

/*
 * Walk the terms in order, reading the postings of ranges still alive.
 * ideal: knowing theta, drop ranges after every term (and those whose whole
 * bound misses it before the first); else drop them only at the
 * checkpoints, against the k-th best partial score then.  Returns the
 * postings read.
 */
static long
walk(Walk *w, int ideal, float theta)
{
	const Vec  *q = w->q;
	long		done = 0,
				rd = 0;
	int			cp = 0;

	memset(w->acc, 0, sizeof(float) * w->ndocs);
	memset(w->best, 0, sizeof(float) * w->nr);
	for (long g = 0; g < w->nr; g++)
	{
		double		b = 0;

		for (int r = 0; r < q->n; r++)
			b += (double) q->w[w->ord[r].t] * w->rmax[g * q->n + r];
		w->rest[g] = b;
		w->alive[g] = !ideal || b >= theta;
	}
	for (int r = 0; r < q->n; r++)
	{
		int			d = q->dim[w->ord[r].t];
		float		qw = q->w[w->ord[r].t];
		float		bar = theta;

		for (long i = w->p->start[d]; i < w->p->start[d + 1]; i++)
		{
			uint32_t	doc = w->p->doc[i];
			long		g = doc / w->R;

			if (!w->alive[g])
				continue;
			rd++;
			w->acc[doc] += qw * w->p->w[i];
			if (w->acc[doc] > w->best[g])
				w->best[g] = w->acc[doc];
		}
		done += w->p->start[d + 1] - w->p->start[d];
		for (long g = 0; g < w->nr; g++)
			if (w->alive[g])
				w->rest[g] -= (double) qw * w->rmax[g * q->n + r];
		if (!ideal)
		{
			if (!(cp < ncps && done >= cps[cp] * w->total))
				continue;
			bar = kth_largest(w->acc, w->ndocs, w->k, w->tmp);
			while (cp < ncps && done >= cps[cp] * w->total)
				cp++;
		}
		for (long g = 0; g < w->nr; g++)
			if (w->alive[g] && w->best[g] + bound(w, g, r + 1) < bar * (1 - 1e-6))
				w->alive[g] = 0;
	}
	return rd;
}

static void
oracle(const Post *p, long ndocs, const Vec *q, int k, float *acc,
	   double *walk_frac, double *static_frac, double *real_frac, double *theta_out)
{
	long		total = 0;
	float	   *top;
	float		theta;
	TermOrd    *ord = xmalloc(sizeof(TermOrd) * q->n);

	/* exact scores, and theta */
	memset(acc, 0, sizeof(float) * ndocs);
	for (int j = 0; j < q->n; j++)
	{
		int			d = q->dim[j];

		for (long i = p->start[d]; i < p->start[d + 1]; i++)
			acc[p->doc[i]] += q->w[j] * p->w[i];
		total += p->start[d + 1] - p->start[d];
		ord[j].t = j;
		ord[j].key = p->start[d + 1] > p->start[d] ?
			(double) q->w[j] * p->maxw[d] / (double) (p->start[d + 1] - p->start[d]) : 0;
	}
	top = xmalloc(sizeof(float) * ndocs);
	theta = kth_largest(acc, ndocs, k, top);
	*theta_out = theta;
	qsort(ord, q->n, sizeof(TermOrd), cmp_term);

	for (int s = 0; s < NSIZES; s++)
	{
		int			R = sizes[s];
		long		nr = (ndocs + R - 1) / R;
		float	   *rmax = calloc((size_t) nr * q->n, sizeof(float));	/* [range][rank] */
		double	   *rest = xmalloc(sizeof(double) * nr);
		float	   *best = calloc(nr, sizeof(float));
		unsigned char *alive = xmalloc(nr);
		float	   *maxnorm = calloc(nr, sizeof(float));
		double	   *qrest = xmalloc(sizeof(double) * (q->n + 1));	/* |q| of the terms from r on */
		long		read = 0,
					stat = 0;
		Walk		w;

		for (long i = 0; i < ndocs; i++)
			if (p->norm[i] > maxnorm[i / R])
				maxnorm[i / R] = p->norm[i];
		qrest[q->n] = 0;
		for (int r = q->n - 1; r >= 0; r--)
			qrest[r] = qrest[r + 1] + (double) q->w[ord[r].t] * q->w[ord[r].t];
		for (int r = 0; r <= q->n; r++)
			qrest[r] = sqrt(qrest[r]) * (1 + 1e-9);

		if (!rmax || !best)
			die("out of memory");
		for (int r = 0; r < q->n; r++)
		{
			int			d = q->dim[ord[r].t];

			for (long i = p->start[d]; i < p->start[d + 1]; i++)
			{
				float	   *m = &rmax[(p->doc[i] / R) * q->n + r];

				if (p->w[i] > *m)
					*m = p->w[i];
			}
		}
		for (long g = 0; g < nr; g++)
		{
			double		b = 0;

			for (int r = 0; r < q->n; r++)
				b += (double) q->w[ord[r].t] * rmax[g * q->n + r];
			rest[g] = b;
			alive[g] = b >= theta;
		}
		/* static: every posting of a range whose bound reaches theta */
		for (int r = 0; r < q->n; r++)
		{
			int			d = q->dim[ord[r].t];

			for (long i = p->start[d]; i < p->start[d + 1]; i++)
				stat += alive[p->doc[i] / R];
		}
		w = (Walk) {.p = p, .q = q, .ord = ord, .ndocs = ndocs, .R = R, .nr = nr, .k = k, .total = total,
			.rmax = rmax, .maxnorm = maxnorm, .qrest = qrest, .acc = acc, .best = best, .tmp = top,
			.alive = alive, .rest = rest};
		/* the ideal walk (a check after every term), then the scan's own way */
		read = walk(&w, 1, theta);
		walk_frac[s] = total ? (double) read / total : 0;
		{
			long		rd = walk(&w, 0, theta);

			real_frac[s] = total ? (double) rd / total : 0;
			/* the ideal walk reads a subset of both: a check of the tool */
			if (rd < read || stat < read)
				die("the ideal walk read more than a real one: a bug here");
		}
		static_frac[s] = total ? (double) stat / total : 0;
		free(rmax);
		free(rest);
		free(best);
		free(alive);
		free(maxnorm);
		free(qrest);
	}
	free(top);
	free(ord);
}

int
main(int argc, char **argv)
{
	int			maxdim = 0,
				k = 10;
	Set			docs,
				qs;
	long	   *order;
	Post		post[2];
	float	   *acc;
	const char *oname[2] = {"insertion", "reorder"};

	if (argc < 3 || argc > 4)
	{
		fprintf(stderr, "usage: inverted_oracle DOCS QUERIES [K]\n");
		return 2;
	}
	if (argc == 4 && (k = atoi(argv[3])) < 1)
		die("K must be positive");
	use_cs = getenv("CS") && strcmp(getenv("CS"), "1") == 0;
	if (getenv("CHECKPOINTS"))
	{
		char	   *e,
				   *p = getenv("CHECKPOINTS");

		for (ncps = 0; *p && ncps < 32; ncps++)
		{
			cps[ncps] = strtod(p, &e);
			if (e == p || cps[ncps] <= 0 || cps[ncps] >= 1 || (ncps > 0 && cps[ncps] <= cps[ncps - 1]))
				die("CHECKPOINTS: rising shares between 0 and 1, by commas");
			p = *e == ',' ? e + 1 : e;
		}
	}
	docs = read_set(argv[1], &maxdim);
	qs = read_set(argv[2], &maxdim);
	if (docs.n == 0 || qs.n == 0)
		die("no documents or no queries");
	order = reorder(&docs, maxdim);
	post[0] = build_postings(&docs, NULL, maxdim);
	post[1] = build_postings(&docs, order, maxdim);
	acc = xmalloc(sizeof(float) * docs.n);

	printf("# %ld documents, %ld queries, top-%d; the share of the query terms' postings read; checkpoints at",
		   docs.n, qs.n, k);
	for (int c = 0; c < ncps; c++)
		printf(" %.0f%%", cps[c] * 100);
	printf("\n");
	printf("order\trange\tideal_walk_mean\tideal_walk_p50\tstatic_mean\tstatic_p50\tcheckpoints_mean\tcheckpoints_p50\n");
	for (int o = 0; o < 2; o++)
	{
		double	   *wf = xmalloc(sizeof(double) * qs.n * NSIZES),
				   *sf = xmalloc(sizeof(double) * qs.n * NSIZES),
				   *cf = xmalloc(sizeof(double) * qs.n * NSIZES);

		for (long i = 0; i < qs.n; i++)
		{
			double		theta;

			oracle(&post[o], docs.n, &qs.v[i], k, acc, wf + i * NSIZES, sf + i * NSIZES, cf + i * NSIZES, &theta);
		}
		for (int s = 0; s < NSIZES; s++)
		{
			double		wm = 0,
						sm = 0,
						cm = 0;
			float	   *wv = xmalloc(sizeof(float) * qs.n),
					   *sv = xmalloc(sizeof(float) * qs.n),
					   *cv = xmalloc(sizeof(float) * qs.n);

			for (long i = 0; i < qs.n; i++)
			{
				wm += wv[i] = (float) wf[i * NSIZES + s];
				sm += sv[i] = (float) sf[i * NSIZES + s];
				cm += cv[i] = (float) cf[i * NSIZES + s];
			}
			qsort(wv, qs.n, sizeof(float), cmp_desc);
			qsort(sv, qs.n, sizeof(float), cmp_desc);
			qsort(cv, qs.n, sizeof(float), cmp_desc);
			printf("%s\t%d\t%.4f\t%.4f\t%.4f\t%.4f\t%.4f\t%.4f\n", oname[o], sizes[s], wm / qs.n, wv[qs.n / 2],
				   sm / qs.n, sv[qs.n / 2], cm / qs.n, cv[qs.n / 2]);
			free(wv);
			free(sv);
			free(cv);
		}
		free(wf);
		free(sf);
		free(cf);
	}
	return 0;
}
