/*
 * test_metrics.c - unit test of eval_metrics.c on designed embeddings:
 * L0 and never-active counts by hand, clarity 1 for groups of identical
 * images with a random baseline far below, clarity against a brute-force
 * pairwise computation, modality shares and cut-offs.  Run by
 * training/test.sh.
 */
#include <stdint.h>

#include "eval_metrics.h"
#include "unit.h"

static uint64_t rs = 12345;

static double
urand(void)
{
	rs ^= rs << 13;
	rs ^= rs >> 7;
	rs ^= rs << 17;
	return (double) (rs >> 11) / 9007199254740992.0;
}

static double
nrand(void)
{
	double		u = urand() + 1e-12, v = urand();

	return sqrt(-2.0 * log(u)) * cos(6.283185307179586 * v);
}

static void
test_sparsity(void)
{
	/* D = 5: image rows {1,0,2,0,0}, {0,0,3,0,0}; text rows {0,4,0,0,0}, {0,1,1,0,0}, {0,0,0,0,0} */
	float		img[] = {1, 0, 2, 0, 0, 0, 0, 3, 0, 0};
	float		txt[] = {0, 4, 0, 0, 0, 0, 1, 1, 0, 0, 0, 0, 0, 0, 0};
	sparsity_result r;

	metrics_sparsity(img, 2, txt, 3, 5, &r);
	CHECK_NEAR(r.image_l0, 1.5, 1e-12, "image L0");
	CHECK_NEAR(r.text_l0, 1.0, 1e-12, "text L0");
	CHECK(r.dead_image == 3, "dead image %d", r.dead_image);	/* 1, 3, 4 */
	CHECK(r.dead_text == 3, "dead text %d", r.dead_text);	/* 0, 3, 4 */
	CHECK(r.dead_both == 2, "dead both %d", r.dead_both);	/* 3, 4 */
}

/*
 * G groups of M identical images (judge: one random unit vector per group);
 * dimension g fires on group g only, dimension G + g on group g strongly and
 * on group g + 1 weakly (top M keeps group g), dimension 2G on one image
 * only (not counted), the rest never.
 */
static void
test_clarity_designed(void)
{
	enum
	{
		G = 8, M = 6, N = G * M, J = 32, D = 2 * G + 3, TOP = M
	};
	float		act[N * D], judge[N * J], e[G][J];
	double		per[D], base1, base2;
	clarity_result r;
	int			g, i, c;

	memset(act, 0, sizeof act);
	for (g = 0; g < G; g++)
		for (c = 0; c < J; c++)
			e[g][c] = (float) nrand();
	for (i = 0; i < N; i++)
	{
		g = i / M;
		for (c = 0; c < J; c++)
			judge[i * J + c] = e[g][c] * 3.0f;	/* not normalised: the metric must do it */
		act[i * D + g] = 0.5f + (float) urand();
		act[i * D + G + g] = 2.0f + (float) urand();
		act[i * D + G + (g + G - 1) % G] = 0.1f * (float) urand() + 0.01f;
	}
	act[5 * D + 2 * G] = 1.0f;
	CHECK(metrics_clarity(act, N, D, judge, J, TOP, 7, &r, per) == 0, "clarity runs");
	CHECK(r.dims == 2 * G, "dims counted %d", r.dims);
	CHECK_NEAR(r.clarity, 1.0, 1e-5, "identical groups give clarity 1");
	CHECK_NEAR(r.mean_group, M, 1e-12, "group size");
	CHECK(r.baseline < 0.6, "random baseline %.3f far below 1", r.baseline);
	CHECK(r.baseline > -1.0 && r.baseline < 1.0, "baseline %.3f in range", r.baseline);
	CHECK(isnan(per[2 * G]) && isnan(per[2 * G + 1]), "single-image and dead dims are NaN");
	CHECK_NEAR(per[G + 3], 1.0, 1e-5, "the top-M group of a mixed dimension is its strong group");
	base1 = r.baseline;
	metrics_clarity(act, N, D, judge, J, TOP, 7, &r, NULL);
	base2 = r.baseline;
	CHECK(base1 == base2, "baseline deterministic in the seed");
	/* with a larger cap the mixed dimensions take in the other group: clarity drops below 1 */
	metrics_clarity(act, N, D, judge, J, 2 * M, 7, &r, per);
	CHECK(per[G + 3] < 0.9 && per[3] > 1.0 - 1e-5, "mixed dimension %.3f < 1, pure one 1", per[G + 3]);
}

/* random data: the heap's top-k and the |sum|^2 identity against sort + all pairs */
static void
test_clarity_bruteforce(void)
{
	enum
	{
		N = 40, D = 12, J = 7, TOP = 5
	};
	float		act[N * D], judge[N * J];
	double		per[D], mean = 0.0;
	int			i, j, c, counted = 0;
	clarity_result r;

	for (i = 0; i < N * D; i++)
		act[i] = urand() < 0.3 ? (float) urand() : 0.0f;
	for (i = 0; i < N * J; i++)
		judge[i] = (float) nrand();
	metrics_clarity(act, N, D, judge, J, TOP, 1, &r, per);
	for (j = 0; j < D; j++)
	{
		int			idx[N], k = 0, a, b, pairs = 0;
		double		s = 0.0;

		/* the TOP largest positive activations by selection */
		for (a = 0; a < TOP; a++)
		{
			int			best = -1;

			for (i = 0; i < N; i++)
			{
				int			used = 0;

				for (b = 0; b < k; b++)
					used |= idx[b] == i;
				if (!used && act[i * D + j] > 0 && (best < 0 || act[i * D + j] > act[best * D + j]))
					best = i;
			}
			if (best >= 0)
				idx[k++] = best;
		}
		if (k < 2)
		{
			CHECK(isnan(per[j]), "dim %d NaN", j);
			continue;
		}
		for (a = 0; a < k; a++)
			for (b = a + 1; b < k; b++)
			{
				double		dot = 0, na = 0, nb = 0;

				for (c = 0; c < J; c++)
				{
					dot += (double) judge[idx[a] * J + c] * judge[idx[b] * J + c];
					na += (double) judge[idx[a] * J + c] * judge[idx[a] * J + c];
					nb += (double) judge[idx[b] * J + c] * judge[idx[b] * J + c];
				}
				s += dot / sqrt(na * nb);
				pairs++;
			}
		CHECK_NEAR(per[j], s / pairs, 1e-5, "clarity of one dimension vs brute force");
		mean += s / pairs;
		counted++;
	}
	CHECK(r.dims == counted, "dims %d vs %d", r.dims, counted);
	CHECK_NEAR(r.clarity, mean / counted, 1e-5, "mean clarity vs brute force");
}

static void
test_modality(void)
{
	/* D = 5; 2 images, 4 texts (means, not sums, decide):
	 * dim 0 images only; dim 1 texts only; dim 2 equal means (share 0.5);
	 * dim 3 image mean 0.95, text mean 0.05 (share 0.95 > 0.9); dim 4 dead */
	float		img[] = {1, 0, 1, 1.9f, 0, 1, 0, 1, 0, 0};
	float		txt[] = {0, 1, 1, 0.2f, 0, 0, 1, 1, 0, 0, 0, 1, 1, 0, 0, 0, 1, 1, 0, 0};
	double		share[5];
	modality_result r;

	CHECK(metrics_modality(img, 2, txt, 4, 5, 0.1, 0.9, &r, share) == 0, "modality runs");
	CHECK(r.active == 4, "active %d", r.active);
	CHECK(r.multimodal == 1 && r.image_only == 2 && r.text_only == 1,
		  "multi %d image %d text %d", r.multimodal, r.image_only, r.text_only);
	CHECK_NEAR(share[0], 1.0, 1e-12, "image-only share");
	CHECK_NEAR(share[1], 0.0, 1e-12, "text-only share");
	CHECK_NEAR(share[2], 0.5, 1e-12, "balanced share");
	CHECK_NEAR(share[3], 0.95, 1e-6, "mostly-image share");
	CHECK(isnan(share[4]), "dead dimension has no share");
	/* mass: dims 0..3 have 1, 1, 2, 1 (means); multimodal dim 2 holds 2 of 5 */
	CHECK_NEAR(r.multimodal_mass, 0.4, 1e-6, "multimodal mass share");
}

/* against a direct two-pass computation on random cosines, and by hand on a 2 x 3 case */
static void
test_similarity(void)
{
	enum
	{
		NT = 37, NI = 11
	};
	float		s[NT * NI], hand[] = {0.9f, 0.1f, 0.3f, 0.2f, 0.8f, 0.0f};
	int			img_of[NT], hand_of[] = {0, 1};
	double		pos = 0, neg = 0, var = 0;
	int			i, j, n = 0;
	similarity_result r;

	for (j = 0; j < NT; j++)
	{
		img_of[j] = j % NI;
		for (i = 0; i < NI; i++)
			s[j * NI + i] = (float) (i == img_of[j] ? 0.6 + 0.2 * urand() : 0.3 * urand());
	}
	for (j = 0; j < NT; j++)
		for (i = 0; i < NI; i++)
			if (i == img_of[j])
				pos += s[j * NI + i];
			else
				neg += s[j * NI + i], n++;
	pos /= NT;
	neg /= n;
	for (j = 0; j < NT; j++)
		for (i = 0; i < NI; i++)
			if (i != img_of[j])
				var += (s[j * NI + i] - neg) * (s[j * NI + i] - neg);
	var /= n - 1;
	metrics_similarity(s, img_of, NT, NI, &r);
	CHECK_NEAR(r.matched, pos, 1e-9, "matched mean");
	CHECK_NEAR(r.other, neg, 1e-9, "other mean");
	CHECK_NEAR(r.other_sd, sqrt(var), 1e-7, "other sd");
	CHECK_NEAR(r.separation, (pos - neg) / sqrt(var), 1e-5, "separation");
	CHECK(r.matched > 0.6 && r.other < 0.3, "matched %g other %g", r.matched, r.other);

	/* captions 0 -> image 0, 1 -> image 1: matched 0.9, 0.8; others 0.1, 0.3, 0.2, 0.0 */
	metrics_similarity(hand, hand_of, 2, 3, &r);
	CHECK_NEAR(r.matched, 0.85, 1e-6, "hand matched");
	CHECK_NEAR(r.other, 0.15, 1e-6, "hand other");
	CHECK_NEAR(r.other_sd, sqrt(0.05 / 3), 1e-6, "hand sd");
}

/* N_k by sorting each row, against the heap; a circulant case with no hubs; one planted hub */
static int
cmp_desc_idx(const void *a, const void *b)
{
	const float *x = *(const float *const *) a, *y = *(const float *const *) b;

	return *x < *y ? 1 : *x > *y ? -1 : 0;
}

static void
test_hubness(void)
{
	enum
	{
		NT = 50, NI = 100, K = 5
	};
	static float s[NI * NI];	/* NT <= NI */
	const float *ord[NI];
	int			count[NI] = {0}, i, j, never = 0, best = 0;
	double		m = 0, m2 = 0, m3 = 0, pop[NI] = {0}, pm = 0, pv = 0, all = 0, all2 = 0;
	hubness_result r;

	for (j = 0; j < NT; j++)
		for (i = 0; i < NI; i++)
			s[j * NI + i] = (float) urand() + (i == 7 ? 2.0f : 0.0f);	/* image 7: a hub */
	for (j = 0; j < NT; j++)
	{
		for (i = 0; i < NI; i++)
			ord[i] = s + j * NI + i;
		qsort(ord, NI, sizeof ord[0], cmp_desc_idx);
		for (i = 0; i < K; i++)
			count[ord[i] - (s + j * NI)]++;
		for (i = 0; i < NI; i++)
		{
			pop[i] += s[j * NI + i] / NT;
			all += s[j * NI + i];
			all2 += (double) s[j * NI + i] * s[j * NI + i];
		}
	}
	for (i = 0; i < NI; i++)
	{
		m += count[i] / (double) NI;
		never += count[i] == 0;
		best = count[i] > best ? count[i] : best;
		pm += pop[i] / NI;
	}
	for (i = 0; i < NI; i++)
	{
		m2 += (count[i] - m) * (count[i] - m) / NI;
		m3 += (count[i] - m) * (count[i] - m) * (count[i] - m) / NI;
		pv += (pop[i] - pm) * (pop[i] - pm) / NI;
	}
	CHECK(metrics_hubness(s, NT, NI, K, &r) == 0, "hubness runs");
	CHECK_NEAR(m, (double) K * NT / NI, 1e-9, "mean N_k is k nt / ni");
	CHECK(count[7] == NT && best == NT, "the planted hub is in every list");
	CHECK_NEAR(r.skew, m3 / pow(m2, 1.5), 1e-9, "N_k skewness");
	CHECK(r.skew > 3.0, "a hub skews N_k (%g)", r.skew);
	CHECK_NEAR(r.never_pct, 100.0 * never / NI, 1e-9, "anti-hubs");
	CHECK_NEAR(r.top1pct_share, 100.0 * NT / (NT * K), 1e-9, "the top 1 %% (one image) holds a fifth");
	CHECK_NEAR(r.image_var_share, pv / (all2 / (NT * NI) - (all / (NT * NI)) * (all / (NT * NI))), 1e-6,
			   "image variance share");

	/* circulant: caption j ranks images j, j+1, j+2 first, each image found exactly 3 times */
	for (j = 0; j < NI; j++)
		for (i = 0; i < NI; i++)
			s[j * NI + i] = 1.0f - 0.01f * ((i - j + NI) % NI);
	CHECK(metrics_hubness(s, NI, NI, 3, &r) == 0, "circulant runs");
	CHECK_NEAR(r.skew, 0.0, 1e-12, "no hubs: skew 0");
	CHECK_NEAR(r.never_pct, 0.0, 1e-12, "no anti-hubs");
	CHECK_NEAR(r.top1pct_share, 100.0 * 3 / (NI * 3), 1e-9, "top image holds its even share");
	CHECK_NEAR(r.image_var_share, 0.0, 1e-9, "every image the same mean");
}

int
main(void)
{
	test_sparsity();
	test_clarity_designed();
	test_clarity_bruteforce();
	test_modality();
	test_similarity();
	test_hubness();
	return unit_done("test_metrics");
}
