/*
 * eval_metrics.c - sparsity, clarity and modality over embeddings
 * (see eval_metrics.h and doc/training.md).
 */
#include "eval_metrics.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

void
metrics_sparsity(const float *img, int ni, const float *txt, int nt, int D, sparsity_result *r)
{
	char	   *on_i = calloc(D, 1), *on_t = calloc(D, 1);
	double		nz_i = 0, nz_t = 0;
	int			i, j;

	memset(r, 0, sizeof *r);
	if (!on_i || !on_t)
	{
		free(on_i);
		free(on_t);
		return;
	}
	for (i = 0; i < ni; i++)
		for (j = 0; j < D; j++)
		{
			float		v = img[(size_t) i * D + j];

			nz_i += v != 0.0f;
			on_i[j] |= v > 0.0f;
		}
	for (i = 0; i < nt; i++)
		for (j = 0; j < D; j++)
		{
			float		v = txt[(size_t) i * D + j];

			nz_t += v != 0.0f;
			on_t[j] |= v > 0.0f;
		}
	r->image_l0 = ni > 0 ? nz_i / ni : 0.0;
	r->text_l0 = nt > 0 ? nz_t / nt : 0.0;
	for (j = 0; j < D; j++)
	{
		r->dead_image += !on_i[j];
		r->dead_text += !on_t[j];
		r->dead_both += !on_i[j] && !on_t[j];
	}
	free(on_i);
	free(on_t);
}

static uint64_t
mix64(uint64_t x)
{
	x += 0x9e3779b97f4a7c15ULL;
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
	return x ^ (x >> 31);
}

/* mean pairwise cosine of k unit rows of v [*, J]: (|sum|^2 - k) / (k (k - 1)) */
static double
group_cosine(const float *v, int J, const int *idx, int k, double *sum)
{
	double		ss = 0.0;
	int			a, c;

	memset(sum, 0, sizeof(double) * J);
	for (a = 0; a < k; a++)
		for (c = 0; c < J; c++)
			sum[c] += v[(size_t) idx[a] * J + c];
	for (c = 0; c < J; c++)
		ss += sum[c] * sum[c];
	return (ss - k) / ((double) k * (k - 1));
}

/* min-heap of (value, index) on value, size k, for the top activations of one dimension */
static void
heap_sift_down(float *hv, int *hi, int n, int p)
{
	for (;;)
	{
		int			l = 2 * p + 1, r = l + 1, s = p;

		if (l < n && hv[l] < hv[s])
			s = l;
		if (r < n && hv[r] < hv[s])
			s = r;
		if (s == p)
			return;
		{
			float		tv = hv[p];
			int			ti = hi[p];

			hv[p] = hv[s];
			hi[p] = hi[s];
			hv[s] = tv;
			hi[s] = ti;
		}
		p = s;
	}
}

static void
heap_push(float *hv, int *hi, int *n, int cap, float v, int idx)
{
	int			p;

	if (*n == cap)
	{
		if (v <= hv[0])
			return;
		hv[0] = v;
		hi[0] = idx;
		heap_sift_down(hv, hi, cap, 0);
		return;
	}
	p = (*n)++;
	hv[p] = v;
	hi[p] = idx;
	while (p > 0 && hv[(p - 1) / 2] > hv[p])
	{
		int			q = (p - 1) / 2;
		float		tv = hv[p];
		int			ti = hi[p];

		hv[p] = hv[q];
		hi[p] = hi[q];
		hv[q] = tv;
		hi[q] = ti;
		p = q;
	}
}

int
metrics_clarity(const float *act, int n, int D, const float *judge, int J, int top,
				uint64_t seed, clarity_result *r, double *per_dim)
{
	float	   *hv = malloc(sizeof(float) * (size_t) D * top);
	int		   *hi = malloc(sizeof(int) * (size_t) D * top);
	int		   *hn = calloc(D, sizeof(int));
	float	   *v = malloc(sizeof(float) * (size_t) n * J);
	int		   *perm = malloc(sizeof(int) * (n > 0 ? n : 1));
	double	   *sum = malloc(sizeof(double) * (J > 0 ? J : 1));
	double		cs = 0.0, bs = 0.0, gs = 0.0;
	uint64_t	rng = seed;
	int			i, j, c;

	memset(r, 0, sizeof *r);
	if (!hv || !hi || !hn || !v || !perm || !sum || top < 2)
	{
		free(hv);
		free(hi);
		free(hn);
		free(v);
		free(perm);
		free(sum);
		return -1;
	}
	/* judge embeddings, L2-normalised (an all-zero one stays zero: cosine 0) */
	for (i = 0; i < n; i++)
	{
		double		ss = 0.0;

		for (c = 0; c < J; c++)
			ss += (double) judge[(size_t) i * J + c] * judge[(size_t) i * J + c];
		for (c = 0; c < J; c++)
			v[(size_t) i * J + c] = ss > 0 ? (float) (judge[(size_t) i * J + c] / sqrt(ss)) : 0.0f;
		perm[i] = i;
	}
	/* row by row (contiguous), each active entry offered to its dimension's heap */
	for (i = 0; i < n; i++)
		for (j = 0; j < D; j++)
		{
			float		a = act[(size_t) i * D + j];

			if (a > 0.0f)
				heap_push(hv + (size_t) j * top, hi + (size_t) j * top, &hn[j], top, a, i);
		}
	for (j = 0; j < D; j++)
	{
		int			k = hn[j], t;
		double		cj;

		if (per_dim)
			per_dim[j] = NAN;
		if (k < 2)
			continue;
		cj = group_cosine(v, J, hi + (size_t) j * top, k, sum);
		if (per_dim)
			per_dim[j] = cj;
		cs += cj;
		gs += k;
		/* random group of the same size: a partial Fisher-Yates shuffle */
		for (t = 0; t < k; t++)
		{
			int			u,
						w;

			rng = mix64(rng);
			u = t + (int) (rng % (uint64_t) (n - t));
			w = perm[t];
			perm[t] = perm[u];
			perm[u] = w;
		}
		bs += group_cosine(v, J, perm, k, sum);
		r->dims++;
	}
	if (r->dims > 0)
	{
		r->clarity = cs / r->dims;
		r->baseline = bs / r->dims;
		r->mean_group = gs / r->dims;
	}
	else
		r->clarity = r->baseline = NAN;
	free(hv);
	free(hi);
	free(hn);
	free(v);
	free(perm);
	free(sum);
	return 0;
}

int
metrics_modality(const float *img, int ni, const float *txt, int nt, int D, double lo, double hi,
				 modality_result *r, double *share)
{
	double	   *mi = calloc(D, sizeof(double)), *mt = calloc(D, sizeof(double));
	double		total = 0.0, multi = 0.0;
	int			i, j;

	memset(r, 0, sizeof *r);
	if (!mi || !mt)
	{
		free(mi);
		free(mt);
		return -1;
	}
	for (i = 0; i < ni; i++)
		for (j = 0; j < D; j++)
			if (img[(size_t) i * D + j] > 0.0f)
				mi[j] += img[(size_t) i * D + j];
	for (i = 0; i < nt; i++)
		for (j = 0; j < D; j++)
			if (txt[(size_t) i * D + j] > 0.0f)
				mt[j] += txt[(size_t) i * D + j];
	for (j = 0; j < D; j++)
	{
		double		a = ni > 0 ? mi[j] / ni : 0.0, b = nt > 0 ? mt[j] / nt : 0.0, s;

		if (share)
			share[j] = NAN;
		if (a + b <= 0.0)
			continue;
		s = a / (a + b);
		if (share)
			share[j] = s;
		r->active++;
		total += a + b;
		if (s < lo)
			r->text_only++;
		else if (s > hi)
			r->image_only++;
		else
		{
			r->multimodal++;
			multi += a + b;
		}
	}
	r->multimodal_mass = total > 0 ? multi / total : NAN;
	free(mi);
	free(mt);
	return 0;
}

void
metrics_similarity(const float *s, const int *img_of, int nt, int ni, similarity_result *r)
{
	double		pos = 0.0, neg = 0.0, neg2 = 0.0, n_neg = 0.0;
	int			i, j;

	for (j = 0; j < nt; j++)
	{
		const float *row = s + (size_t) j * ni;
		double		rs = 0.0, rs2 = 0.0;

		for (i = 0; i < ni; i++)
		{
			rs += row[i];
			rs2 += (double) row[i] * row[i];
		}
		pos += row[img_of[j]];
		/* the own image out of the row's sums */
		rs -= row[img_of[j]];
		rs2 -= (double) row[img_of[j]] * row[img_of[j]];
		neg += rs;
		neg2 += rs2;
		n_neg += ni - 1;
	}
	r->matched = nt > 0 ? pos / nt : NAN;
	r->other = n_neg > 0 ? neg / n_neg : NAN;
	r->other_sd = n_neg > 1 ? sqrt(fmax(0.0, (neg2 - neg * neg / n_neg) / (n_neg - 1))) : NAN;
	r->separation = r->other_sd > 0 ? (r->matched - r->other) / r->other_sd : NAN;
}

int
metrics_hubness(const float *s, int nt, int ni, int k, hubness_result *r)
{
	int		   *count = calloc(ni > 0 ? ni : 1, sizeof(int));
	float	   *hv = malloc(sizeof(float) * (k > 0 ? k : 1));
	int		   *hi = malloc(sizeof(int) * (k > 0 ? k : 1));
	double	   *pop = calloc(ni > 0 ? ni : 1, sizeof(double));
	double		m = 0.0, m2 = 0.0, m3 = 0.0, all = 0.0, all2 = 0.0, pm = 0.0, pv = 0.0, n;
	int			i, j, top, never = 0;

	if (!count || !hv || !hi || !pop)
	{
		free(count), free(hv), free(hi), free(pop);
		return -1;
	}
	if (k > ni)
		k = ni;
	for (j = 0; j < nt; j++)
	{
		const float *row = s + (size_t) j * ni;
		int			nh = 0;

		for (i = 0; i < ni; i++)
		{
			heap_push(hv, hi, &nh, k, row[i], i);
			pop[i] += row[i];
			all += row[i];
			all2 += (double) row[i] * row[i];
		}
		for (i = 0; i < nh; i++)
			count[hi[i]]++;
	}
	/* N_k: its mean is k nt / ni, so its spread and skew say how unevenly images are found */
	for (i = 0; i < ni; i++)
		m += count[i];
	m /= ni;
	for (i = 0; i < ni; i++)
	{
		double		d = count[i] - m;

		m2 += d * d;
		m3 += d * d * d;
		never += count[i] == 0;
	}
	m2 /= ni;
	m3 /= ni;
	r->skew = m2 > 0 ? m3 / pow(m2, 1.5) : 0.0;
	r->never_pct = ni > 0 ? 100.0 * never / ni : NAN;
	/* the share of all top-k slots held by the 1 % of images found most often */
	top = (ni + 99) / 100;
	for (i = 0; i < top; i++)	/* partial selection sort: top is small */
	{
		int			b = i, t;

		for (j = i + 1; j < ni; j++)
			if (count[j] > count[b])
				b = j;
		t = count[i], count[i] = count[b], count[b] = t;
	}
	{
		double		held = 0.0;

		for (i = 0; i < top; i++)
			held += count[i];
		r->top1pct_share = nt > 0 && k > 0 ? 100.0 * held / ((double) nt * k) : NAN;
	}
	/* how much of the cosines' variance is each image's mean over all captions */
	n = (double) nt * ni;
	for (i = 0; i < ni; i++)
	{
		pop[i] /= nt;
		pm += pop[i];
	}
	pm /= ni;
	for (i = 0; i < ni; i++)
		pv += (pop[i] - pm) * (pop[i] - pm);
	pv /= ni;
	{
		double		var = n > 0 ? all2 / n - (all / n) * (all / n) : 0.0;

		r->image_var_share = var > 0 ? pv / var : NAN;
	}
	free(count), free(hv), free(hi), free(pop);
	return 0;
}
