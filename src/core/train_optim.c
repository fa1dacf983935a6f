/*
 * train_optim.c - AdamW, learning rate schedule, gradient clipping; see
 * train_optim.h.
 */
#include "train_optim.h"

#include <math.h>

/* vectorized clones of the update loop, as for the layer kernels */
#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__)
#define SC_OPT_LOOP __attribute__((optimize("O3"), target_clones("avx512f", "avx2", "default")))
#else
#define SC_OPT_LOOP
#endif

SC_OPT_LOOP void
sc_adamw_update(float *param, const float *grad, float *m, float *v, size_t n,
				const sc_adamw *opt, float lr, float wd, long t)
{
	float		b1 = opt->beta1, b2 = opt->beta2, eps = opt->eps;
	/* bias corrections as torch computes them (in double, then used as floats) */
	double		bc1 = 1.0 - pow(b1, (double) t);
	double		bc2 = 1.0 - pow(b2, (double) t);
	float		step_size = (float) (lr / bc1);
	float		bc2_sqrt = (float) sqrt(bc2);
	float		decay = 1.0f - lr * wd;
	size_t		i;

	for (i = 0; i < n; i++)
	{
		float		g = grad[i];
		float		mi = b1 * m[i] + (1.0f - b1) * g;
		float		vi = b2 * v[i] + (1.0f - b2) * g * g;

		m[i] = mi;
		v[i] = vi;
		param[i] = param[i] * decay - step_size * mi / (sqrtf(vi) / bc2_sqrt + eps);
	}
}

double
sc_lr_at(double base_lr, long step, long warmup, long total)
{
	long		e, es;

	if (step < warmup)
		return base_lr * (double) (step + 1) / (double) warmup;
	e = step - warmup;
	es = total - warmup;
	if (es <= 0)
		return base_lr;
	return 0.5 * (1.0 + cos(M_PI * (double) e / (double) es)) * base_lr;
}

double
sc_lr_const_at(double base_lr, long step, long warmup)
{
	if (step < warmup)
		return base_lr * (double) (step + 1) / (double) warmup;
	return base_lr;
}

double
sc_ramp_weight(double max_weight, long step, long total, double start_frac, double ramp_frac)
{
	double		s0 = start_frac * (double) total, s1 = ramp_frac * (double) total, x;

	if ((double) step < s0)
		return 0.0;
	if (s1 <= s0 || (double) step >= s1)
		return max_weight;
	x = ((double) step - s0) / (s1 - s0);
	return max_weight * x * x;
}

double
sc_clip_grad_norm(float *grad, size_t n, double max_norm)
{
	double		ss = 0.0, norm;
	size_t		i;

	for (i = 0; i < n; i++)
		ss += (double) grad[i] * grad[i];
	norm = sqrt(ss);
	if (max_norm > 0.0 && norm > max_norm)
	{
		float		c = (float) (max_norm / (norm + 1e-6));

		for (i = 0; i < n; i++)
			grad[i] *= c;
	}
	return norm;
}
