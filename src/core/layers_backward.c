/*
 * layers_backward.c - backward passes of the transformer kernels; see
 * layers_backward.h.  All of them accumulate (+=) into their outputs.
 */
#include "layers_backward.h"

#include <cblas.h>
#include <math.h>
#include <string.h>

/*
 * As in layers.c: elementwise loops are branch-free, and gcc is asked to
 * vectorize them (the build uses -O2) in AVX-512 and AVX2 clones picked at
 * load time; reductions may reorder their float sums into vector lanes.
 */
#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__)
#define SC_BWD_LOOP __attribute__((optimize("O3"), target_clones("avx512f", "avx2", "default")))
#define SC_BWD_SUM __attribute__((optimize("O3", "associative-math", "no-signed-zeros", "no-trapping-math"), \
								  target_clones("avx512f", "avx2", "default")))
#else
#define SC_BWD_LOOP
#define SC_BWD_SUM
#endif

SC_BWD_SUM void
sc_layernorm_backward(float *dinp, float *dweight, float *dbias, const float *dout,
					  const float *inp, const float *weight, const float *mean,
					  const float *rstd, int N, int C)
{
	int			i, j;

	for (i = 0; i < N; i++)
	{
		const float *x = inp + (size_t) i * C;
		const float *dy = dout + (size_t) i * C;
		float		m = mean[i], s = rstd[i];
		float		dnorm_mean = 0.0f, dnorm_norm_mean = 0.0f;

		/* two reductions first: the mean of dnorm and of dnorm * norm */
		for (j = 0; j < C; j++)
		{
			float		norm = (x[j] - m) * s;
			float		dn = weight[j] * dy[j];

			dnorm_mean += dn;
			dnorm_norm_mean += dn * norm;
		}
		dnorm_mean /= (float) C;
		dnorm_norm_mean /= (float) C;
		for (j = 0; j < C; j++)
		{
			float		norm = (x[j] - m) * s;
			float		dn = weight[j] * dy[j];

			if (dbias)
				dbias[j] += dy[j];
			if (dweight)
				dweight[j] += norm * dy[j];
			if (dinp)
				dinp[(size_t) i * C + j] += s * (dn - dnorm_mean - norm * dnorm_norm_mean);
		}
	}
}

/* dbias[OC] += column sums of dout[N, OC] */
SC_BWD_LOOP static void
bias_backward(float *dbias, const float *dout, int N, int OC)
{
	int			i, j;

	for (i = 0; i < N; i++)
	{
		const float *r = dout + (size_t) i * OC;

		for (j = 0; j < OC; j++)
			dbias[j] += r[j];
	}
}

void
sc_matmul_backward(float *dinp, float *dweight, float *dbias, const float *dout,
				   const float *inp, const float *weight, int N, int C, int OC)
{
	if (dinp)
		cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, N, C, OC,
					1.0f, dout, OC, weight, C, 1.0f, dinp, C);
	if (dweight)
		cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, OC, C, N,
					1.0f, dout, OC, inp, C, 1.0f, dweight, C);
	if (dbias)
		bias_backward(dbias, dout, N, OC);
}

void
sc_attention_backward(float *dqkv, float *scratch, const float *dout,
					  const float *qkv, const float *att, int T, int C, int NH)
{
	int			hs = C / NH;
	float		scale = 1.0f / sqrtf((float) hs);
	int			h, i, j;

	for (h = 0; h < NH; h++)
	{
		const float *q = qkv + h * hs;
		const float *k = qkv + C + h * hs;
		const float *v = qkv + 2 * C + h * hs;
		const float *a = att + (size_t) h * T * T;
		const float *dy = dout + h * hs;
		float	   *dq = dqkv + h * hs;
		float	   *dk = dqkv + C + h * hs;
		float	   *dv = dqkv + 2 * C + h * hs;

		/* dA = dY V^T, dV += A^T dY */
		cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, T, T, hs,
					1.0f, dy, C, v, 3 * C, 0.0f, scratch, T);
		cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, T, hs, T,
					1.0f, a, T, dy, C, 1.0f, dv, 3 * C);
		/* softmax backward row by row; masked entries have A = 0 and get 0 */
		for (i = 0; i < T; i++)
		{
			const float *ar = a + (size_t) i * T;
			float	   *dr = scratch + (size_t) i * T;
			float		dot = 0.0f;

			for (j = 0; j < T; j++)
				dot += ar[j] * dr[j];
			for (j = 0; j < T; j++)
				dr[j] = ar[j] * (dr[j] - dot);
		}
		/* scores = scale Q K^T: dQ += scale dS K, dK += scale dS^T Q */
		cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, T, hs, T,
					scale, scratch, T, k, 3 * C, 1.0f, dq, 3 * C);
		cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, T, hs, T,
					scale, scratch, T, q, 3 * C, 1.0f, dk, 3 * C);
	}
}

/*
 * exp(x) for x in [-87, 88] (clamped outside): 2^n times a degree-5
 * polynomial on the reduced argument, branch-free so that the activation
 * loops vectorize (libm's expf and erff calls do not); relative error
 * about 2e-7.
 */
static inline float
exp_approx(float x)
{
	const float shift = 12582912.0f;	/* 1.5 * 2^23: adding it rounds to an integer */
	float		n, r, p;
	union
	{
		float		f;
		int			i;
	}			u;

	x = x < -87.0f ? -87.0f : (x > 88.0f ? 88.0f : x);
	n = (x * 1.44269504088896341f + shift) - shift;
	r = x - n * 0.693359375f;
	r = r + n * 2.12194440e-4f;
	p = 1.9875691500e-4f;
	p = p * r + 1.3981999507e-3f;
	p = p * r + 8.3334519073e-3f;
	p = p * r + 4.1665795894e-2f;
	p = p * r + 1.6666665459e-1f;
	p = p * r + 5.0000001201e-1f;
	p = p * r * r + r + 1.0f;
	u.i = ((int) n + 127) << 23;
	return p * u.f;
}

SC_BWD_LOOP void
sc_gelu_backward(float *dinp, const float *inp, const float *dout, int N)
{
	int			i;

	/*
	 * d/dx x Phi(x) = Phi(x) + x phi(x), with erf by the same Abramowitz &
	 * Stegun 7.1.26 formula as the forward kernel (error ~1e-7)
	 */
	for (i = 0; i < N; i++)
	{
		float		x = inp[i];
		float		z = x * 0.70710678118654752f;
		float		az = fabsf(z);
		float		t = 1.0f / (1.0f + 0.3275911f * az);
		float		poly = t * (0.254829592f + t * (-0.284496736f + t * (1.421413741f +
													 t * (-1.453152027f + t * 1.061405429f))));
		float		g = exp_approx(-az * az);	/* exp(-x^2 / 2) */
		float		e = 1.0f - poly * g;
		float		cdf = 0.5f * (1.0f + (z < 0.0f ? -e : e));
		float		pdf = 0.39894228040143268f * g;

		dinp[i] += (cdf + x * pdf) * dout[i];
	}
}

SC_BWD_LOOP void
sc_quick_gelu_backward(float *dinp, const float *inp, const float *dout, int N)
{
	int			i;

	for (i = 0; i < N; i++)
	{
		float		x = inp[i];
		float		s = 1.0f / (1.0f + exp_approx(-1.702f * x));

		dinp[i] += (s + 1.702f * x * s * (1.0f - s)) * dout[i];
	}
}

SC_BWD_LOOP void
sc_residual_backward(float *da, float *db, const float *dout, int N)
{
	int			i;

	if (da)
		for (i = 0; i < N; i++)
			da[i] += dout[i];
	if (db)
		for (i = 0; i < N; i++)
			db[i] += dout[i];
}

SC_BWD_LOOP void
sc_relu_backward(float *dinp, const float *out, const float *dout, int N)
{
	int			i;

	for (i = 0; i < N; i++)
		dinp[i] += out[i] > 0.0f ? dout[i] : 0.0f;
}

void
sc_l2norm_backward(float *dinp, const float *inp, const float *dout, int N, int C)
{
	int			i, j;

	for (i = 0; i < N; i++)
	{
		const float *x = inp + (size_t) i * C;
		const float *dy = dout + (size_t) i * C;
		float	   *dx = dinp + (size_t) i * C;
		double		ss = 0.0, xdy = 0.0;
		float		inv, c;

		for (j = 0; j < C; j++)
		{
			ss += (double) x[j] * x[j];
			xdy += (double) x[j] * dy[j];
		}
		if (ss == 0.0)
			continue;
		inv = (float) (1.0 / sqrt(ss));
		/* y = x inv, so y (y . dy) = x (x . dy) inv^2 */
		c = (float) (xdy / ss);
		for (j = 0; j < C; j++)
			dx[j] += inv * (dy[j] - x[j] * c);
	}
}

void
sc_im2patch_backward(float *dimage, const float *dpatches, int S, int P)
{
	int			G = S / P;
	int			gy, gx, c, py, px;

	for (gy = 0; gy < G; gy++)
		for (gx = 0; gx < G; gx++)
		{
			const float *row = dpatches + ((size_t) gy * G + gx) * 3 * P * P;

			for (c = 0; c < 3; c++)
				for (py = 0; py < P; py++)
				{
					float	   *d = dimage + ((size_t) c * S + gy * P + py) * S + gx * P;
					const float *s = row + (c * P + py) * P;

					for (px = 0; px < P; px++)
						d[px] += s[px];
				}
		}
}
