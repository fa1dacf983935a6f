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
 *
 * It also models a scan of another design, range at a time with block-max
 * MaxScore inside each range (as BMP does; range_at_a_time below), which
 * learns its bar as it goes: ranges by decreasing bound ("rat_") or, after
 * the SEEDS (default 8) of the largest bounds, in document order
 * ("sweep_"); postings read, lookups (a candidate document looking a
 * non-essential term up), ranges visited and pieces touched.  And the
 * bytes each design reads, as shares of the query terms' pieces
 * ("*_bytes": bitmaps, offsets, and a cache line per weight looked up).
 * The real scan built from this model (doc/inverted-design.md, "Range by
 * range") read half the postings of today's and was slower: the model
 * counts work, not its cost per item.
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

/* something numbered (a query term, a range) with a key to sort it by */
typedef struct
{
	long		id;
	double		key;
} Ranked;

/* largest key first */
static int
cmp_ranked(const void *a, const void *b)
{
	double		x = ((const Ranked *) a)->key,
				y = ((const Ranked *) b)->key;

	return (x < y) - (x > y);
}

#define NSIZES 4
static const int sizes[NSIZES] = {1024, 256, 64, 16};

#define NB 12					/* range-at-a-time figures per size */

/* the sweep's seeds: ranges taken by bound before the rest in order (SEEDS) */
static long sweep_seed = 8;

/*
 * A piece of c postings in a range of R documents, as the index stores it:
 * a bitmap and bfloat16 weights from R / 16 postings on (64 of 1,024), else
 * uint16 offsets and weights.  The part a lookup searches (the bitmap or the
 * offsets), and the whole.
 */
static long
piece_index_bytes(int R, int c)
{
	if (c == 0)
		return 0;
	return c >= R / 16 ? R / 8 : 2L * c;
}

static long
piece_bytes(int R, int c)
{
	return piece_index_bytes(R, c) + 2L * c;
}

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
 * KNOWN_BAR=1: the checkpoints compare against the exact bar theta instead
 * of the k-th best partial score so far (and ranges whose whole bound
 * misses it are dropped before the first term): what a scan that seeds its
 * bar with exact scores early (completing a few promising ranges) could
 * read at best, with the same few checks.
 */
static int	known_bar = 0;

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
	const Ranked *ord;
	long		ndocs;
	int			R;
	long		nr;
	int			k;
	long		total;			/* the query terms' postings */
	const float *rmax;			/* [range][rank]: the term's largest weight there */
	const int  *cnt;			/* [range][rank]: the term's postings there */
	const double *bound;		/* [range]: sum of q * the range maxima */
	long		bytes;			/* set by a walk: the bytes of the pieces it read */
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
	w->bytes = 0;
	for (long g = 0; g < w->nr; g++)
	{
		w->rest[g] = w->bound[g];
		w->alive[g] = !(ideal || known_bar) || w->bound[g] >= theta;
	}
	for (int r = 0; r < q->n; r++)
	{
		int			d = q->dim[w->ord[r].id];
		float		qw = q->w[w->ord[r].id];
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
				w->bytes += piece_bytes(w->R, w->cnt[g * q->n + r]);
		for (long g = 0; g < w->nr; g++)
			if (w->alive[g])
				w->rest[g] -= (double) qw * w->rmax[g * q->n + r];
		if (!ideal)
		{
			if (!(cp < ncps && done >= cps[cp] * w->total))
				continue;
			if (!known_bar)
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

/* the first posting of dimension d at or after document doc */
static long
first_at(const Post *p, int d, uint32_t doc)
{
	long		lo = p->start[d],
				hi = p->start[d + 1];

	while (lo < hi)
	{
		long		m = lo + (hi - lo) / 2;

		if (p->doc[m] < doc)
			lo = m + 1;
		else
			hi = m;
	}
	return lo;
}

/* a min-heap of the k best complete scores: h[0] is the bar */
static void
heap_offer(float *h, int *n, int k, float v)
{
	int			i;

	if (*n < k)
	{
		i = (*n)++;
		while (i > 0 && h[(i - 1) / 2] > v)
		{
			h[i] = h[(i - 1) / 2];
			i = (i - 1) / 2;
		}
		h[i] = v;
		return;
	}
	if (v <= h[0])
		return;
	i = 0;
	for (;;)
	{
		int			c = 2 * i + 1;

		if (c >= k)
			break;
		if (c + 1 < k && h[c + 1] < h[c])
			c++;
		if (h[c] >= v)
			break;
		h[i] = h[c];
		i = c;
	}
	h[i] = v;
}

/*
 * Range at a time (block-max MaxScore, as BMP does with its blocks): ranges
 * in decreasing order of their bound (sum of q * range maxima), stopping
 * when the bound falls below the bar, the k-th best complete score so far.
 * Inside a range the terms keep the scan's order; the longest tail of terms
 * whose range maxima together stay below the bar is non-essential: only
 * the essential terms' postings are read, and a document whose partial
 * score plus the tail's maxima reaches the bar looks the tail's terms up
 * one by one (a bit test and a popcount in a dense piece), dropping out as
 * soon as its bound falls below.  Nothing is known in advance: the bar is
 * learnt as ranges complete.  Counts postings read, lookups, ranges
 * visited; checks that the bar it ends with is theta.
 */
static void
range_at_a_time(Walk *w, float theta_true, long seed, long *read, long *lookups, long *visited, long *pieces)
{
	const Vec  *q = w->q;
	int			n = q->n,
				hn = 0;
	Ranked	   *ro = xmalloc(sizeof(Ranked) * w->nr);
	long	   *order = xmalloc(sizeof(long) * w->nr);
	long		norder = 0;
	double	   *suf = xmalloc(sizeof(double) * (n + 1));
	float	   *heap = xmalloc(sizeof(float) * w->k);
	long	   *pos = xmalloc(sizeof(long) * n),
			   *end = xmalloc(sizeof(long) * n),
			   *line = xmalloc(sizeof(long) * n);	/* the weight line a lookup last read */
	float		theta = 0;
	unsigned char *seen = calloc(w->nr, 1),
			   *used = xmalloc(n);

	if (!seen)
		die("out of memory");
	*read = *lookups = *visited = *pieces = 0;
	w->bytes = 0;
	/* the visiting order: by bound, or the seeds by bound and then the rest in order */
	for (long g = 0; g < w->nr; g++)
		ro[g] = (Ranked) {g, w->bound[g]};
	qsort(ro, w->nr, sizeof(Ranked), cmp_ranked);
	for (long i = 0; i < w->nr && (seed < 0 || i < seed); i++)
	{
		order[norder++] = ro[i].id;
		seen[ro[i].id] = 1;
	}
	for (long g = 0; g < w->nr && seed >= 0; g++)
		if (!seen[g])
			order[norder++] = g;
	for (long i = 0; i < norder; i++)
	{
		long		g = order[i],
					lo,
					hi;
		double		bar = hn == w->k ? theta * (1 - 1e-6) : -1;
		int			s;

		if (w->bound[g] < bar)
		{
			/* by bound, no range after this one can reach the bar either */
			if (seed < 0)
				break;
			continue;
		}
		lo = g * w->R;
		hi = lo + w->R < w->ndocs ? lo + w->R : w->ndocs;
		(*visited)++;
		memset(used, 0, n);
		for (int r = 0; r < n; r++)
			line[r] = -1;
		suf[n] = 0;
		for (int r = n - 1; r >= 0; r--)
			suf[r] = suf[r + 1] + (double) q->w[w->ord[r].id] * w->rmax[g * n + r];
		for (s = n; s > 0 && suf[s - 1] < bar; s--)
			;
		for (int r = 0; r < n; r++)
		{
			int			d = q->dim[w->ord[r].id];

			pos[r] = first_at(w->p, d, (uint32_t) lo);
			end[r] = first_at(w->p, d, (uint32_t) hi);
		}
		memset(w->acc + lo, 0, sizeof(float) * (hi - lo));
		for (int r = 0; r < s; r++)
		{
			float		qw = q->w[w->ord[r].id];

			for (long j = pos[r]; j < end[r]; j++)
				w->acc[w->p->doc[j]] += qw * w->p->w[j];
			*read += end[r] - pos[r];
			*pieces += end[r] > pos[r];
			w->bytes += piece_bytes(w->R, (int) (end[r] - pos[r]));
		}
		for (long doc = lo; doc < hi; doc++)
		{
			float		a = w->acc[doc];
			int			r;

			if (a == 0 && s == n)
				continue;
			for (r = s; r < n; r++)
			{
				int			d = q->dim[w->ord[r].id];
				long		j;

				bar = hn == w->k ? theta * (1 - 1e-6) : -1;
				if (a + suf[r] < bar)
					break;
				(*lookups)++;
				if (!used[r] && end[r] > pos[r])
				{
					int			c = (int) (end[r] - pos[r]);

					used[r] = 1;
					(*pieces)++;
					/* a bitmap, or the offsets, to find documents in */
					w->bytes += piece_index_bytes(w->R, c);
				}
				j = first_at(w->p, d, (uint32_t) doc);
				if (j < end[r] && w->p->doc[j] == (uint32_t) doc)
				{
					a += q->w[w->ord[r].id] * w->p->w[j];
					/* and the cache line of its weight */
					if ((j - pos[r]) / 32 != line[r])
					{
						line[r] = (j - pos[r]) / 32;
						w->bytes += 64;
					}
				}
			}
			if (r == n)
			{
				heap_offer(heap, &hn, w->k, a);
				if (hn == w->k)
					theta = heap[0];
			}
		}
	}
	if (hn < w->k || fabsf(theta - theta_true) > 1e-5f * theta_true)
		die("range at a time ended with a bar other than theta: a bug here");
	free(ro);
	free(order);
	free(suf);
	free(heap);
	free(pos);
	free(end);
	free(seen);
	free(used);
	free(line);
}

static void
oracle(const Post *p, long ndocs, const Vec *q, int k, float *acc,
	   double *walk_frac, double *static_frac, double *real_frac, double *bmp, double *theta_out)
{
	long		total = 0;
	float	   *top;
	float		theta;
	Ranked    *ord = xmalloc(sizeof(Ranked) * q->n);

	/* exact scores, and theta */
	memset(acc, 0, sizeof(float) * ndocs);
	for (int j = 0; j < q->n; j++)
	{
		int			d = q->dim[j];

		for (long i = p->start[d]; i < p->start[d + 1]; i++)
			acc[p->doc[i]] += q->w[j] * p->w[i];
		total += p->start[d + 1] - p->start[d];
		ord[j].id = j;
		ord[j].key = p->start[d + 1] > p->start[d] ?
			(double) q->w[j] * p->maxw[d] / (double) (p->start[d + 1] - p->start[d]) : 0;
	}
	top = xmalloc(sizeof(float) * ndocs);
	theta = kth_largest(acc, ndocs, k, top);
	*theta_out = theta;
	qsort(ord, q->n, sizeof(Ranked), cmp_ranked);

	for (int s = 0; s < NSIZES; s++)
	{
		int			R = sizes[s];
		long		nr = (ndocs + R - 1) / R;
		float	   *rmax = calloc((size_t) nr * q->n, sizeof(float));	/* [range][rank] */
		int		   *cnt = calloc((size_t) nr * q->n, sizeof(int));
		double	   *bound = xmalloc(sizeof(double) * nr);
		long		allbytes = 0,
					allpieces = 0;
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
			qrest[r] = qrest[r + 1] + (double) q->w[ord[r].id] * q->w[ord[r].id];
		for (int r = 0; r <= q->n; r++)
			qrest[r] = sqrt(qrest[r]) * (1 + 1e-9);

		if (!rmax || !best)
			die("out of memory");
		for (int r = 0; r < q->n; r++)
		{
			int			d = q->dim[ord[r].id];

			for (long i = p->start[d]; i < p->start[d + 1]; i++)
			{
				float	   *m = &rmax[(p->doc[i] / R) * q->n + r];

				cnt[(p->doc[i] / R) * q->n + r]++;

				if (p->w[i] > *m)
					*m = p->w[i];
			}
		}
		for (long g = 0; g < nr; g++)
		{
			double		b = 0;

			for (int r = 0; r < q->n; r++)
				b += (double) q->w[ord[r].id] * rmax[g * q->n + r];
			bound[g] = b;
			alive[g] = b >= theta;
		}
		/* static: every posting of a range whose bound reaches theta */
		for (int r = 0; r < q->n; r++)
		{
			int			d = q->dim[ord[r].id];

			for (long i = p->start[d]; i < p->start[d + 1]; i++)
				stat += alive[p->doc[i] / R];
		}
		w = (Walk) {.p = p, .q = q, .ord = ord, .ndocs = ndocs, .R = R, .nr = nr, .k = k, .total = total,
			.rmax = rmax, .cnt = cnt, .bound = bound, .maxnorm = maxnorm, .qrest = qrest, .acc = acc, .best = best, .tmp = top,
			.alive = alive, .rest = rest};
		/* the ideal walk (a check after every term), then the scan's own way */
		read = walk(&w, 1, theta);
		walk_frac[s] = total ? (double) read / total : 0;
		{
			long		rd = walk(&w, 0, theta);

			for (long x = 0; x < nr * q->n; x++)
			{
				allbytes += piece_bytes(R, cnt[x]);
				allpieces += cnt[x] > 0;
			}
			bmp[s * NB + 9] = allbytes ? (double) w.bytes / allbytes : 0;

			real_frac[s] = total ? (double) rd / total : 0;
			/* the ideal walk reads a subset of both: a check of the tool */
			if (rd < read || stat < read)
				die("the ideal walk read more than a real one: a bug here");
		}
		static_frac[s] = total ? (double) stat / total : 0;
		{
			long		rd,
						lk,
						vis,
						pc;

			range_at_a_time(&w, theta, -1, &rd, &lk, &vis, &pc);
			bmp[s * NB] = total ? (double) rd / total : 0;
			bmp[s * NB + 1] = total ? (double) lk / total : 0;
			bmp[s * NB + 2] = (double) vis / nr;
			bmp[s * NB + 3] = (double) pc;
			bmp[s * NB + 10] = allbytes ? (double) w.bytes / allbytes : 0;
			range_at_a_time(&w, theta, sweep_seed, &rd, &lk, &vis, &pc);
			bmp[s * NB + 4] = total ? (double) rd / total : 0;
			bmp[s * NB + 5] = total ? (double) lk / total : 0;
			bmp[s * NB + 6] = (double) vis / nr;
			bmp[s * NB + 7] = (double) pc;
			bmp[s * NB + 11] = allbytes ? (double) w.bytes / allbytes : 0;
		}
		/* all the query terms' pieces, for comparison */
		bmp[s * NB + 8] = (double) allpieces;
		free(rmax);
		free(cnt);
		free(bound);
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
	known_bar = getenv("KNOWN_BAR") && strcmp(getenv("KNOWN_BAR"), "1") == 0;
	if (getenv("SEEDS") && (sweep_seed = atol(getenv("SEEDS"))) < 0)
		die("SEEDS must be 0 or more");
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
	printf("%s\n", known_bar ? " against the exact bar (KNOWN_BAR=1)" : "");
	printf("order\trange\tideal_walk_mean\tideal_walk_p50\tstatic_mean\tstatic_p50\tcheckpoints_mean\tcheckpoints_p50\trat_read_mean\trat_lookups_mean\trat_ranges_mean\trat_pieces_mean\tsweep_read_mean\tsweep_lookups_mean\tsweep_ranges_mean\tsweep_pieces_mean\tall_pieces_mean\tcheckpoints_bytes_mean\trat_bytes_mean\tsweep_bytes_mean\n");
	for (int o = 0; o < 2; o++)
	{
		double	   *wf = xmalloc(sizeof(double) * qs.n * NSIZES),
				   *sf = xmalloc(sizeof(double) * qs.n * NSIZES),
				   *cf = xmalloc(sizeof(double) * qs.n * NSIZES),
				   *bf = xmalloc(sizeof(double) * qs.n * NSIZES * NB);

		for (long i = 0; i < qs.n; i++)
		{
			double		theta;

			oracle(&post[o], docs.n, &qs.v[i], k, acc, wf + i * NSIZES, sf + i * NSIZES, cf + i * NSIZES, bf + i * NSIZES * NB, &theta);
		}
		for (int s = 0; s < NSIZES; s++)
		{
			double		wm = 0,
						sm = 0,
						cm = 0,
						bm[NB] = {0};
			float	   *wv = xmalloc(sizeof(float) * qs.n),
					   *sv = xmalloc(sizeof(float) * qs.n),
					   *cv = xmalloc(sizeof(float) * qs.n);

			for (long i = 0; i < qs.n; i++)
			{
				wm += wv[i] = (float) wf[i * NSIZES + s];
				sm += sv[i] = (float) sf[i * NSIZES + s];
				cm += cv[i] = (float) cf[i * NSIZES + s];
				for (int c = 0; c < NB; c++)
					bm[c] += bf[(i * NSIZES + s) * NB + c];
			}
			qsort(wv, qs.n, sizeof(float), cmp_desc);
			qsort(sv, qs.n, sizeof(float), cmp_desc);
			qsort(cv, qs.n, sizeof(float), cmp_desc);
			printf("%s\t%d\t%.4f\t%.4f\t%.4f\t%.4f\t%.4f\t%.4f\t%.4f\t%.4f\t%.4f\t%.0f\t%.4f\t%.4f\t%.4f\t%.0f\t%.0f\t%.4f\t%.4f\t%.4f\n", oname[o], sizes[s], wm / qs.n, wv[qs.n / 2],
				   sm / qs.n, sv[qs.n / 2], cm / qs.n, cv[qs.n / 2], bm[0] / qs.n, bm[1] / qs.n, bm[2] / qs.n,
				   bm[3] / qs.n, bm[4] / qs.n, bm[5] / qs.n, bm[6] / qs.n, bm[7] / qs.n, bm[8] / qs.n,
				   bm[9] / qs.n, bm[10] / qs.n, bm[11] / qs.n);
			free(wv);
			free(sv);
			free(cv);
		}
		free(wf);
		free(sf);
		free(cf);
		free(bf);
	}
	return 0;
}
