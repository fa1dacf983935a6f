/*
 * test_layers_backward.c - every backward kernel against central finite
 * differences of its forward kernel.  Each case defines a scalar loss
 * L = sum(out * R) for a fixed random R, so that dout = R; the analytic
 * gradient of every input and parameter must match (L(x+h) - L(x-h)) / 2h
 * element by element.  Also: backward kernels accumulate rather than
 * overwrite, and the all-zero row of the L2 normalisation passes nothing.
 */
#include "unit.h"
#include "layers.h"
#include "layers_backward.h"

#define MAXN 4096

static unsigned long long rng_state = 12345;

static float
urand(void)
{
	rng_state = rng_state * 6364136223846793005ULL + 1442695040888963407ULL;
	return (float) ((rng_state >> 40) / 16777216.0) * 2.0f - 1.0f;
}

static void
fill(float *x, int n, float scale)
{
	int			i;

	for (i = 0; i < n; i++)
		x[i] = urand() * scale;
}

/* the case under test: its inputs and forward */
typedef double (*loss_fn) (void);

static float R[MAXN];			/* dout */
static float out[MAXN];

static double
dot_out(int n)
{
	double		s = 0.0;
	int			i;

	for (i = 0; i < n; i++)
		s += (double) out[i] * R[i];
	return s;
}

/* compare analytic gradient g of input x (n elements) with finite differences */
static void
check_grad(const char *what, float *x, const float *g, int n, loss_fn loss, float h)
{
	int			i, bad = 0;
	double		maxerr = 0.0, gnorm = 0.0;

	for (i = 0; i < n; i++)
	{
		float		keep = x[i];
		double		lp, lm, num, err;

		x[i] = keep + h;
		lp = loss();
		x[i] = keep - h;
		lm = loss();
		x[i] = keep;
		num = (lp - lm) / (2.0 * h);
		err = fabs(num - g[i]);
		if (err > maxerr)
			maxerr = err;
		gnorm += (double) g[i] * g[i];
		if (err > 2e-3 + 2e-2 * fabs(num))
		{
			if (bad < 3)
				fprintf(stderr, "  %s[%d]: analytic %.6g numeric %.6g\n", what, i, g[i], num);
			bad++;
		}
	}
	CHECK(bad == 0, "%s: %d of %d gradients off (max err %.3g)", what, bad, n, maxerr);
	CHECK(gnorm > 0.0, "%s: gradient is not all zero", what);
	printf("%-28s n=%-5d max abs err %.2e\n", what, n, maxerr);
}

/* ---- layernorm ---- */
enum { LN_N = 5, LN_C = 12 };
static float ln_x[LN_N * LN_C], ln_w[LN_C], ln_b[LN_C];

static double
ln_loss(void)
{
	sc_layernorm_forward(out, NULL, NULL, ln_x, ln_w, ln_b, LN_N, LN_C);
	return dot_out(LN_N * LN_C);
}

static void
test_layernorm(void)
{
	float		mean[LN_N], rstd[LN_N];
	float		dx[LN_N * LN_C] = {0}, dw[LN_C] = {0}, db[LN_C] = {0};

	fill(ln_x, LN_N * LN_C, 2.0f);
	fill(ln_w, LN_C, 1.0f);
	fill(ln_b, LN_C, 1.0f);
	fill(R, LN_N * LN_C, 1.0f);
	sc_layernorm_forward(out, mean, rstd, ln_x, ln_w, ln_b, LN_N, LN_C);
	sc_layernorm_backward(dx, dw, db, R, ln_x, ln_w, mean, rstd, LN_N, LN_C);
	check_grad("layernorm dinp", ln_x, dx, LN_N * LN_C, ln_loss, 1e-2f);
	check_grad("layernorm dweight", ln_w, dw, LN_C, ln_loss, 1e-2f);
	check_grad("layernorm dbias", ln_b, db, LN_C, ln_loss, 1e-2f);
}

/* ---- matmul ---- */
enum { MM_N = 6, MM_C = 7, MM_OC = 5 };
static float mm_x[MM_N * MM_C], mm_w[MM_OC * MM_C], mm_b[MM_OC];

static double
mm_loss(void)
{
	sc_matmul_forward(out, mm_x, mm_w, mm_b, MM_N, MM_C, MM_OC);
	return dot_out(MM_N * MM_OC);
}

static void
test_matmul(void)
{
	float		dx[MM_N * MM_C] = {0}, dw[MM_OC * MM_C] = {0}, db[MM_OC] = {0};

	fill(mm_x, MM_N * MM_C, 1.0f);
	fill(mm_w, MM_OC * MM_C, 1.0f);
	fill(mm_b, MM_OC, 1.0f);
	fill(R, MM_N * MM_OC, 1.0f);
	sc_matmul_backward(dx, dw, db, R, mm_x, mm_w, MM_N, MM_C, MM_OC);
	check_grad("matmul dinp", mm_x, dx, MM_N * MM_C, mm_loss, 1e-2f);
	check_grad("matmul dweight", mm_w, dw, MM_OC * MM_C, mm_loss, 1e-2f);
	check_grad("matmul dbias", mm_b, db, MM_OC, mm_loss, 1e-2f);
}

/* ---- attention ---- */
enum { AT_T = 5, AT_C = 8, AT_NH = 2 };
static float at_qkv[AT_T * 3 * AT_C];
static int	at_causal;

static double
at_loss(void)
{
	float		att[AT_NH * AT_T * AT_T];

	sc_attention_forward(out, att, at_qkv, AT_T, AT_C, AT_NH, at_causal);
	return dot_out(AT_T * AT_C);
}

static void
test_attention(int causal)
{
	float		att[AT_NH * AT_T * AT_T], scratch[AT_T * AT_T];
	float		dqkv[AT_T * 3 * AT_C] = {0};

	at_causal = causal;
	fill(at_qkv, AT_T * 3 * AT_C, 1.5f);
	fill(R, AT_T * AT_C, 1.0f);
	sc_attention_forward(out, att, at_qkv, AT_T, AT_C, AT_NH, causal);
	sc_attention_backward(dqkv, scratch, R, at_qkv, att, AT_T, AT_C, AT_NH);
	check_grad(causal ? "attention (causal) dqkv" : "attention dqkv", at_qkv, dqkv,
			   AT_T * 3 * AT_C, at_loss, 1e-2f);
}

/* ---- activations ---- */
enum { ACT_N = 64 };
static float act_x[ACT_N];
static int	act_quick;

static double
act_loss(void)
{
	if (act_quick)
		sc_quick_gelu_forward(out, act_x, ACT_N);
	else
		sc_gelu_forward(out, act_x, ACT_N);
	return dot_out(ACT_N);
}

static void
test_activation(int quick)
{
	float		dx[ACT_N] = {0};

	act_quick = quick;
	fill(act_x, ACT_N, 4.0f);
	fill(R, ACT_N, 1.0f);
	if (quick)
		sc_quick_gelu_backward(dx, act_x, R, ACT_N);
	else
		sc_gelu_backward(dx, act_x, R, ACT_N);
	check_grad(quick ? "quick_gelu dinp" : "gelu dinp", act_x, dx, ACT_N, act_loss, 1e-3f);
}

/* ---- residual ---- */
static float res_a[ACT_N], res_b[ACT_N];

static double
res_loss(void)
{
	sc_residual_forward(out, res_a, res_b, ACT_N);
	return dot_out(ACT_N);
}

static void
test_residual(void)
{
	float		da[ACT_N] = {0}, db[ACT_N] = {0};

	fill(res_a, ACT_N, 1.0f);
	fill(res_b, ACT_N, 1.0f);
	fill(R, ACT_N, 1.0f);
	sc_residual_backward(da, db, R, ACT_N);
	check_grad("residual da", res_a, da, ACT_N, res_loss, 1e-2f);
	check_grad("residual db", res_b, db, ACT_N, res_loss, 1e-2f);
}

/* ---- ReLU then L2 normalisation: the sparse head's tail ---- */
enum { H_N = 4, H_C = 16 };
static float h_x[H_N * H_C];

static double
head_loss(void)
{
	sc_relu_forward(out, h_x, H_N * H_C);
	sc_l2norm_forward(out, H_N, H_C);
	return dot_out(H_N * H_C);
}

static void
test_relu_l2norm(void)
{
	float		z[H_N * H_C], dz[H_N * H_C] = {0}, dx[H_N * H_C] = {0};
	int			i;

	fill(h_x, H_N * H_C, 1.0f);
	/* keep entries away from the kink at 0, where differences are meaningless */
	for (i = 0; i < H_N * H_C; i++)
		if (fabsf(h_x[i]) < 0.05f)
			h_x[i] = 0.1f;
	/* the last row all negative: ReLU gives the zero vector */
	for (i = 0; i < H_C; i++)
		h_x[(H_N - 1) * H_C + i] = -0.2f - 0.05f * i;
	fill(R, H_N * H_C, 1.0f);
	sc_relu_forward(z, h_x, H_N * H_C);
	sc_l2norm_backward(dz, z, R, H_N, H_C);
	sc_relu_backward(dx, z, dz, H_N * H_C);
	check_grad("relu+l2norm dinp", h_x, dx, H_N * H_C, head_loss, 1e-3f);
	for (i = 0; i < H_C; i++)
		CHECK(dz[(H_N - 1) * H_C + i] == 0.0f && dx[(H_N - 1) * H_C + i] == 0.0f,
			  "all-zero row passes no gradient (dim %d)", i);
}

/* ---- L2 normalisation alone (the dense head) ---- */
static float l2_x[H_N * H_C];

static double
l2_loss(void)
{
	memcpy(out, l2_x, sizeof l2_x);
	sc_l2norm_forward(out, H_N, H_C);
	return dot_out(H_N * H_C);
}

static void
test_l2norm(void)
{
	float		dx[H_N * H_C] = {0};

	fill(l2_x, H_N * H_C, 1.0f);
	fill(R, H_N * H_C, 1.0f);
	sc_l2norm_backward(dx, l2_x, R, H_N, H_C);
	check_grad("l2norm dinp", l2_x, dx, H_N * H_C, l2_loss, 1e-3f);
}

/* ---- patch extraction ---- */
enum { P_S = 8, P_P = 4 };
static float p_img[3 * P_S * P_S];

static double
patch_loss(void)
{
	sc_im2patch_forward(out, p_img, P_S, P_P);
	return dot_out(3 * P_S * P_S);
}

static void
test_im2patch(void)
{
	float		dimg[3 * P_S * P_S] = {0};

	fill(p_img, 3 * P_S * P_S, 1.0f);
	fill(R, 3 * P_S * P_S, 1.0f);
	sc_im2patch_backward(dimg, R, P_S, P_P);
	check_grad("im2patch dimage", p_img, dimg, 3 * P_S * P_S, patch_loss, 1e-2f);
}

/* backward kernels add to what is there */
static void
test_accumulates(void)
{
	float		dx1[MM_N * MM_C] = {0}, dw1[MM_OC * MM_C] = {0}, db1[MM_OC] = {0};
	float		dx2[MM_N * MM_C] = {0}, dw2[MM_OC * MM_C] = {0}, db2[MM_OC] = {0};
	int			i, ok = 1;

	fill(R, MM_N * MM_OC, 1.0f);
	sc_matmul_backward(dx1, dw1, db1, R, mm_x, mm_w, MM_N, MM_C, MM_OC);
	sc_matmul_backward(dx2, dw2, db2, R, mm_x, mm_w, MM_N, MM_C, MM_OC);
	sc_matmul_backward(dx2, dw2, db2, R, mm_x, mm_w, MM_N, MM_C, MM_OC);
	for (i = 0; i < MM_N * MM_C; i++)
		ok &= fabsf(dx2[i] - 2.0f * dx1[i]) <= 1e-5f;
	for (i = 0; i < MM_OC * MM_C; i++)
		ok &= fabsf(dw2[i] - 2.0f * dw1[i]) <= 1e-5f;
	for (i = 0; i < MM_OC; i++)
		ok &= fabsf(db2[i] - 2.0f * db1[i]) <= 1e-5f;
	CHECK(ok, "two matmul backward calls give twice the gradient");
}

int
main(void)
{
	test_layernorm();
	test_matmul();
	test_attention(0);
	test_attention(1);
	test_activation(0);
	test_activation(1);
	test_residual();
	test_relu_l2norm();
	test_l2norm();
	test_im2patch();
	test_accumulates();
	return unit_done("test_layers_backward");
}
