/*
 * test_layers.c - the forward kernels against naive double-precision
 * versions: matmul (both the sgemm and the small-row paths, every tail),
 * layer norm, GELU and QuickGELU, softmax attention with and without the
 * causal mask, fast exp, L2 normalisation, the TopK head, patch extraction.
 */
#include "unit.h"
#include "layers.h"

#include <cblas.h>

static unsigned rng_state = 12345;

static float
frand(void)
{
	rng_state = rng_state * 1103515245u + 12345u;
	return (float) ((rng_state >> 8) & 0xFFFF) / 32768.0f - 1.0f;
}

static float *
rand_array(size_t n)
{
	float	   *a = malloc(n * sizeof(float));
	size_t		i;

	for (i = 0; i < n; i++)
		a[i] = frand();
	return a;
}

static double
check_matmul(int N, int C, int OC, int with_bias)
{
	float	   *x = rand_array((size_t) N * C), *w = rand_array((size_t) OC * C), *b = rand_array(OC);
	float	   *o = malloc(sizeof(float) * N * OC);
	double		worst = 0.0;
	int			i, j, k;

	sc_matmul_forward(o, x, w, with_bias ? b : NULL, N, C, OC);
	for (i = 0; i < N; i++)
		for (j = 0; j < OC; j++)
		{
			double		s = with_bias ? b[j] : 0.0;

			for (k = 0; k < C; k++)
				s += (double) x[i * C + k] * w[j * C + k];
			worst = fmax(worst, fabs(s - o[i * OC + j]));
		}
	free(x);
	free(w);
	free(b);
	free(o);
	return worst;
}

int
main(void)
{
	int			N, OC, i, j;
	double		worst;

	/* matmul: small-row path (N <= 24, C % 16 == 0) with every N and OC tail, and sgemm */
	worst = 0.0;
	for (N = 1; N <= 30; N++)
		for (OC = 1; OC <= 9; OC++)
		{
			worst = fmax(worst, check_matmul(N, 48, OC, N % 2));
			worst = fmax(worst, check_matmul(N, 20, OC, 1));
		}
	worst = fmax(worst, check_matmul(17, 256, 96, 1));
	worst = fmax(worst, check_matmul(65, 64, 200, 1));
	CHECK(worst < 1e-4, "matmul max error %g", worst);
	openblas_set_num_threads(2);
	CHECK(check_matmul(5, 32, 13, 1) < 1e-4 && check_matmul(100, 32, 13, 1) < 1e-4, "matmul, 2 threads");
	openblas_set_num_threads(1);

	/* layer norm, including a large offset (two-pass variance) */
	{
		int			n = 3, c = 40;
		float	   *x = rand_array((size_t) n * c), *g = rand_array(c), *b = rand_array(c);
		float	   *o = malloc(sizeof(float) * n * c), mean[3], rstd[3];

		for (j = 0; j < c; j++)
			x[2 * c + j] += 1000.0f;
		sc_layernorm_forward(o, mean, rstd, x, g, b, n, c);
		worst = 0.0;
		for (i = 0; i < n; i++)
		{
			double		m = 0, v = 0;

			for (j = 0; j < c; j++)
				m += x[i * c + j];
			m /= c;
			for (j = 0; j < c; j++)
				v += (x[i * c + j] - m) * (x[i * c + j] - m);
			v /= c;
			for (j = 0; j < c; j++)
				worst = fmax(worst, fabs((x[i * c + j] - m) / sqrt(v + 1e-5) * g[j] + b[j] - o[i * c + j]));
			CHECK_NEAR(mean[i], m, 1e-3, "mean");
			CHECK_NEAR(rstd[i], 1.0 / sqrt(v + 1e-5), 1e-3, "rstd");
		}
		CHECK(worst < 2e-3, "layernorm max error %g", worst);
		free(x);
		free(g);
		free(b);
		free(o);
	}

	/* activations over a wide range, and fast exp */
	{
		int			n = 4001;
		float	   *x = malloc(sizeof(float) * n), *g = malloc(sizeof(float) * n), *q = malloc(sizeof(float) * n);
		double		wg = 0, wq = 0, we = 0;

		for (i = 0; i < n; i++)
			x[i] = -20.0f + 40.0f * i / (n - 1);
		sc_gelu_forward(g, x, n);
		sc_quick_gelu_forward(q, x, n);
		for (i = 0; i < n; i++)
		{
			double		xv = x[i];

			wg = fmax(wg, fabs(0.5 * xv * (1 + erf(xv / sqrt(2.0))) - g[i]));
			wq = fmax(wq, fabs(xv / (1 + exp(-1.702 * xv)) - q[i]));
			if (xv <= 0)
				we = fmax(we, fabs(exp(xv) - sc_fast_exp_neg(x[i])) / exp(xv));
		}
		CHECK(wg < 3e-6, "gelu max error %g", wg);
		CHECK(wq < 3e-6, "quick_gelu max error %g", wq);
		CHECK(we < 1e-6, "fast exp max relative error %g", we);
		CHECK(sc_fast_exp_neg(-100.0f) == 0.0f && sc_fast_exp_neg(0.0f) == 1.0f, "exp edges");
		CHECK(isnan(sc_fast_exp_neg(NAN)), "exp of NaN is NaN");
		x[0] = NAN;
		x[1] = INFINITY;
		sc_gelu_forward(g, x, 2);
		CHECK(isnan(g[0]), "gelu of NaN is NaN");
		CHECK(sc_count_nonfinite(x, n) == 2 && sc_count_nonfinite(x + 2, n - 2) == 0, "count non-finite");
		x[0] = -20.0f;
		sc_relu_forward(g, x, n);
		CHECK(g[0] == 0.0f && g[n - 1] == 20.0f, "relu");
		free(x);
		free(g);
		free(q);
	}

	/* attention against the naive formula, causal and not */
	{
		int			T = 7, W = 12, NH = 3, hs = 4, causal;
		float	   *qkv = rand_array((size_t) T * 3 * W);
		float	   *o = malloc(sizeof(float) * T * W), *att = malloc(sizeof(float) * NH * T * T);

		for (causal = 0; causal < 2; causal++)
		{
			int			h, t, u, d;

			worst = 0.0;
			sc_attention_forward(o, att, qkv, T, W, NH, causal);
			for (h = 0; h < NH; h++)
				for (t = 0; t < T; t++)
				{
					double		sc[7], mx = -1e30, sum = 0;
					int			n = causal ? t + 1 : T;

					for (u = 0; u < n; u++)
					{
						double		s = 0;

						for (d = 0; d < hs; d++)
							s += (double) qkv[t * 3 * W + h * hs + d] * qkv[u * 3 * W + W + h * hs + d];
						sc[u] = s / sqrt((double) hs);
						mx = fmax(mx, sc[u]);
					}
					for (u = 0; u < n; u++)
						sum += (sc[u] = exp(sc[u] - mx));
					for (d = 0; d < hs; d++)
					{
						double		acc = 0;

						for (u = 0; u < n; u++)
							acc += sc[u] / sum * qkv[u * 3 * W + 2 * W + h * hs + d];
						worst = fmax(worst, fabs(acc - o[t * W + h * hs + d]));
					}
					for (u = n; u < T; u++)
						CHECK(att[(h * T + t) * T + u] == 0.0f, "masked weight is zero");
				}
			CHECK(worst < 1e-5, "attention (causal %d) max error %g", causal, worst);
		}
		free(qkv);
		free(o);
		free(att);
	}

	/* L2 normalisation: unit rows, zero rows stay zero */
	{
		float		x[8] = {3, 4, 0, 0, 0, 0, 0, 0};

		sc_l2norm_forward(x, 2, 4);
		CHECK_NEAR(x[0], 0.6, 1e-7, "3/5");
		CHECK_NEAR(x[1], 0.8, 1e-7, "4/5");
		CHECK(x[4] == 0.0f && x[7] == 0.0f && !isnan(x[5]), "zero row stays zero");
	}

	/* TopK: the k largest of each row against a sort, ties to the lower columns */
	{
		enum
		{
			R = 40, C = 97
		};
		float	   *t = malloc(sizeof(float) * R * C), *orig = malloc(sizeof(float) * R * C);
		int			r, k, bad = 0;

		for (r = 0; r < R; r++)
			for (j = 0; j < C; j++)
			{
				float		v = frand();

				/* few distinct values in some rows (ties), zeros from the ReLU */
				if (r % 4 == 1)
					v = (float) ((int) (v * 4.0f)) / 4.0f;
				orig[r * C + j] = v > 0.0f ? v : 0.0f;
			}
		for (k = 1; k <= C; k += (k < 8 ? 1 : 13))
		{
			memcpy(t, orig, sizeof(float) * R * C);
			sc_topk_forward(t, R, C, k);
			for (r = 0; r < R; r++)
			{
				const float *o = orig + r * C, *x = t + r * C;
				int			pos = 0, kept = 0;

				for (j = 0; j < C; j++)
					pos += o[j] > 0.0f;
				for (j = 0; j < C; j++)
				{
					int			above = 0, tie_before = 0, m, want;

					/* kept iff fewer than k entries outrank it (larger, or equal and earlier) */
					for (m = 0; m < C; m++)
					{
						above += o[m] > o[j];
						tie_before += m < j && o[m] == o[j];
					}
					want = o[j] > 0.0f && above + tie_before < k;
					if (x[j] != (want ? o[j] : 0.0f))
						bad++;
					kept += x[j] != 0.0f;
				}
				if (kept != (pos < k ? pos : k))
					bad++;
			}
		}
		CHECK(bad == 0, "topk against a sort: %d wrong entries or counts", bad);
		memcpy(t, orig, sizeof(float) * C);
		sc_topk_forward(t, 1, C, C);
		CHECK(memcmp(t, orig, sizeof(float) * C) == 0, "topk with k = C keeps the row");
		for (j = 0; j < C; j++)
			t[j] = 0.5f;
		sc_topk_forward(t, 1, C, 3);
		CHECK(t[0] == 0.5f && t[1] == 0.5f && t[2] == 0.5f && t[3] == 0.0f && t[C - 1] == 0.0f,
			  "topk of equal values keeps the first k");
		free(t);
		free(orig);
	}

	/* patches: row (gy, gx), column (c, py, px) */
	{
		int			S = 8, P = 4, G = 2;
		float		img[3 * 8 * 8], pt[4 * 48];

		for (i = 0; i < 3 * S * S; i++)
			img[i] = (float) i;
		sc_im2patch_forward(pt, img, S, P);
		/* patch (1, 0), channel 2, py 3, px 1 -> pixel (c 2, y 7, x 1) */
		CHECK(pt[(1 * G + 0) * 48 + (2 * P + 3) * P + 1] == img[(2 * S + 7) * S + 1], "patch layout");
	}
	return unit_done("test_layers");
}
