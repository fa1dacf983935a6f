/*
 * train_loss.c - symmetric InfoNCE; see train_loss.h.
 */
#include "train_loss.h"

#include <cblas.h>
#include <math.h>
#include <string.h>

/* i and j are positives of each other */
static inline int
same_group(const int *group, int i, int j)
{
	return i == j || (group && group[i] >= 0 && group[i] == group[j]);
}

double
sc_clip_loss(const float *img, const float *txt, int B, int D, float logit_scale,
			 float *dimg, float *dtxt, float *dscale, float *scratch, double *accuracy)
{
	return sc_clip_loss_groups(img, txt, B, D, logit_scale, NULL, dimg, dtxt, dscale, scratch,
							   accuracy);
}

double
sc_clip_loss_groups(const float *img, const float *txt, int B, int D, float logit_scale,
					const int *group, float *dimg, float *dtxt, float *dscale, float *scratch,
					double *accuracy)
{
	float	   *L = scratch;
	float	   *dL = scratch + (size_t) B * B;
	float		s = expf(logit_scale);
	double		loss = 0.0, ds = 0.0;
	int			i, j, hits = 0;
	float		w = 0.5f / (float) B;

	cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, B, B, D,
				s, img, D, txt, D, 0.0f, L, B);
	/* image -> text: softmax over each row */
	for (i = 0; i < B; i++)
	{
		const float *r = L + (size_t) i * B;
		float	   *d = dL + (size_t) i * B;
		double		sum = 0.0, tgt = 0.0;
		float		mx = r[0], y;
		int			best = 0, npos = 0;

		for (j = 1; j < B; j++)
			if (r[j] > mx)
			{
				mx = r[j];
				best = j;
			}
		hits += same_group(group, i, best);
		for (j = 0; j < B; j++)
		{
			d[j] = expf(r[j] - mx);
			sum += d[j];
			if (same_group(group, i, j))
			{
				npos++;
				tgt += r[j];
			}
		}
		loss += (log(sum) + mx - tgt / npos) * 0.5;
		y = w / (float) npos;
		for (j = 0; j < B; j++)
		{
			d[j] = w * (float) (d[j] / sum);
			if (same_group(group, i, j))
				d[j] -= y;
		}
	}
	/* text -> image: softmax over each column */
	for (j = 0; j < B; j++)
	{
		double		sum = 0.0, tgt = 0.0;
		float		mx = L[j], y;
		int			best = 0, npos = 0;

		for (i = 1; i < B; i++)
			if (L[(size_t) i * B + j] > mx)
			{
				mx = L[(size_t) i * B + j];
				best = i;
			}
		hits += same_group(group, j, best);
		for (i = 0; i < B; i++)
		{
			sum += exp((double) L[(size_t) i * B + j] - mx);
			if (same_group(group, j, i))
			{
				npos++;
				tgt += L[(size_t) i * B + j];
			}
		}
		loss += (log(sum) + mx - tgt / npos) * 0.5;
		y = w / (float) npos;
		for (i = 0; i < B; i++)
		{
			dL[(size_t) i * B + j] += w * (float) (exp((double) L[(size_t) i * B + j] - mx) / sum);
			if (same_group(group, j, i))
				dL[(size_t) i * B + j] -= y;
		}
	}
	/* logits are linear in s = exp(logit_scale): dlogit_scale = sum dL * L */
	for (i = 0; i < B * B; i++)
		ds += (double) dL[i] * L[i];
	if (dscale)
		*dscale += (float) ds;
	if (dimg)
		cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, B, D, B,
					s, dL, B, txt, D, 1.0f, dimg, D);
	if (dtxt)
		cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, B, D, B,
					s, dL, B, img, D, 1.0f, dtxt, D);
	if (accuracy)
		*accuracy = hits / (2.0 * B);
	return loss / B;
}

double
sc_flops_loss(const float *u, int B, int D, float weight, float *du, float *mean)
{
	double		f = 0.0;
	int			i, j;

	for (j = 0; j < D; j++)
		mean[j] = 0.0f;
	for (i = 0; i < B; i++)
	{
		const float *r = u + (size_t) i * D;

		for (j = 0; j < D; j++)
			mean[j] += r[j];
	}
	for (j = 0; j < D; j++)
	{
		mean[j] /= (float) B;
		f += (double) mean[j] * mean[j];
	}
	if (du && weight != 0.0f)
	{
		float		c = 2.0f * weight / (float) B;

		for (i = 0; i < B; i++)
		{
			float	   *d = du + (size_t) i * D;

			for (j = 0; j < D; j++)
				d[j] += c * mean[j];
		}
	}
	return f;
}

double
sc_align_loss(const float *img, const float *txt, int B, int D, float weight, float *dimg,
			  float *dtxt)
{
	double		cos = 0.0;
	float		c = -weight / (float) B;
	int			b, j;

	for (b = 0; b < B; b++)
	{
		const float *u = img + (size_t) b * D, *v = txt + (size_t) b * D;
		double		dot = 0.0;

		/* a plain loop: the extension links this file and provides only cblas_sgemm */
		for (j = 0; j < D; j++)
			dot += (double) u[j] * v[j];
		cos += dot;
		if (weight != 0.0f && dimg && dtxt)
		{
			float	   *du = dimg + (size_t) b * D, *dv = dtxt + (size_t) b * D;

			for (j = 0; j < D; j++)
			{
				du[j] += c * v[j];
				dv[j] += c * u[j];
			}
		}
	}
	return B > 0 ? cos / B : 0.0;
}

static int
uf_find(int *parent, int i)
{
	while (parent[i] != i)
	{
		parent[i] = parent[parent[i]];
		i = parent[i];
	}
	return i;
}

long
sc_positive_groups(const int *image, const int *key, const int32_t *const *ids, const int *lens,
				   int B, int *group)
{
	int			i, j;
	long		extra = 0;

	for (i = 0; i < B; i++)
		group[i] = i;
	for (i = 0; i < B; i++)
		for (j = i + 1; j < B; j++)
		{
			int			same = image[i] == image[j] ||
				(key && key[i] >= 0 && key[i] == key[j]) ||
				(lens[i] == lens[j] && memcmp(ids[i], ids[j], sizeof(int32_t) * lens[i]) == 0);

			if (same)
			{
				int			ri = uf_find(group, i), rj = uf_find(group, j);

				/* the root is the smaller index, so the final id is the group's first pair */
				if (ri != rj)
					group[ri > rj ? ri : rj] = ri < rj ? ri : rj;
			}
		}
	for (i = 0; i < B; i++)
		group[i] = uf_find(group, i);
	for (i = 0; i < B; i++)
		for (j = 0; j < B; j++)
			extra += j != i && group[j] == group[i];
	return extra;
}
