/*
 * test_train_loss.c - the pure training math beside the layers:
 * InfoNCE loss gradients (embeddings and logit scale) against finite
 * differences; the sparse head's top-k and L1 variants through the whole
 * trainer against finite differences of the batch loss; AdamW, the
 * learning-rate schedule, gradient clipping and the logit-scale clamp
 * against values worked out by hand.
 */
#include "unit.h"
#include "model.h"
#include "train_loss.h"
#include "train_model.h"
#include "train_optim.h"

static unsigned long long rs = 99;

static float
urand(void)
{
	rs = rs * 6364136223846793005ULL + 1442695040888963407ULL;
	return (float) ((rs >> 40) / 16777216.0) * 2.0f - 1.0f;
}

enum { B = 5, D = 7 };

static void
test_infonce(void)
{
	float		img[B * D], txt[B * D], dimg[B * D] = {0}, dtxt[B * D] = {0}, ds = 0.0f;
	float		scratch[2 * B * B];
	float		scale = 1.3f, h = 1e-3f;
	double		loss, acc;
	int			i, bad = 0;

	for (i = 0; i < B * D; i++)
	{
		img[i] = urand();
		txt[i] = urand();
	}
	loss = sc_clip_loss(img, txt, B, D, scale, dimg, dtxt, &ds, scratch, &acc);
	CHECK(loss > 0.0 && isfinite(loss), "loss is positive and finite: %g", loss);
	CHECK(acc >= 0.0 && acc <= 1.0, "accuracy within [0,1]");
	for (i = 0; i < 2 * B * D; i++)
	{
		float	   *x = i < B * D ? &img[i] : &txt[i - B * D];
		float		g = i < B * D ? dimg[i] : dtxt[i - B * D];
		float		keep = *x;
		double		lp, lm, num;

		*x = keep + h;
		lp = sc_clip_loss(img, txt, B, D, scale, NULL, NULL, NULL, scratch, NULL);
		*x = keep - h;
		lm = sc_clip_loss(img, txt, B, D, scale, NULL, NULL, NULL, scratch, NULL);
		*x = keep;
		num = (lp - lm) / (2 * h);
		if (fabs(num - g) > 1e-3 + 1e-2 * fabs(num))
			bad++;
	}
	CHECK(bad == 0, "InfoNCE embedding gradients: %d off", bad);
	{
		double		lp = sc_clip_loss(img, txt, B, D, scale + h, NULL, NULL, NULL, scratch, NULL);
		double		lm = sc_clip_loss(img, txt, B, D, scale - h, NULL, NULL, NULL, scratch, NULL);

		CHECK_NEAR(ds, (lp - lm) / (2 * h), 1e-3, "InfoNCE logit-scale gradient");
	}
	/* identical, orthogonal pairs with a large scale: near-zero loss, all correct */
	memset(img, 0, sizeof img);
	for (i = 0; i < B; i++)
		img[i * D + i] = 1.0f;
	loss = sc_clip_loss(img, img, B, D, logf(100.0f), NULL, NULL, NULL, scratch, &acc);
	CHECK(loss < 1e-3, "perfectly matched batch has loss %g", loss);
	CHECK(acc == 1.0, "perfectly matched batch has accuracy %g", acc);
	/* all-zero embeddings (an all-zero sparse code): loss ln B, finite */
	memset(img, 0, sizeof img);
	loss = sc_clip_loss(img, img, B, D, scale, NULL, NULL, NULL, scratch, NULL);
	CHECK_NEAR(loss, log((double) B), 1e-6, "zero embeddings give ln B");
}

/* multi-positive InfoNCE: gradients against finite differences, values by hand */
static void
test_multi_positive(void)
{
	static const int group[B] = {4, 7, 4, -1, 7};	/* {0, 2}, {1, 4}, {3} */
	static const int unique[B] = {0, 1, 2, -1, 3};
	float		img[B * D], txt[B * D], dimg[B * D] = {0}, dtxt[B * D] = {0}, ds = 0.0f;
	float		scratch[2 * B * B];
	float		scale = 1.7f, h = 1e-3f;
	double		loss, plain, acc, want = 0.0;
	int			i, j, bad = 0;

	for (i = 0; i < B * D; i++)
	{
		img[i] = urand();
		txt[i] = urand();
	}
	loss = sc_clip_loss_groups(img, txt, B, D, scale, group, dimg, dtxt, &ds, scratch, &acc);
	for (i = 0; i < 2 * B * D; i++)
	{
		float	   *x = i < B * D ? &img[i] : &txt[i - B * D];
		float		g = i < B * D ? dimg[i] : dtxt[i - B * D];
		float		keep = *x;
		double		lp, lm, num;

		*x = keep + h;
		lp = sc_clip_loss_groups(img, txt, B, D, scale, group, NULL, NULL, NULL, scratch, NULL);
		*x = keep - h;
		lm = sc_clip_loss_groups(img, txt, B, D, scale, group, NULL, NULL, NULL, scratch, NULL);
		*x = keep;
		num = (lp - lm) / (2 * h);
		if (fabs(num - g) > 1e-3 + 1e-2 * fabs(num))
			bad++;
	}
	CHECK(bad == 0, "multi-positive embedding gradients: %d off", bad);
	{
		double		lp = sc_clip_loss_groups(img, txt, B, D, scale + h, group, NULL, NULL, NULL, scratch, NULL);
		double		lm = sc_clip_loss_groups(img, txt, B, D, scale - h, group, NULL, NULL, NULL, scratch, NULL);

		CHECK_NEAR(ds, (lp - lm) / (2 * h), 1e-3, "multi-positive logit-scale gradient");
	}
	/* the value by its definition: -mean over positives of the log-softmax, rows and columns */
	{
		float		s = expf(scale);

		for (i = 0; i < B; i++)
		{
			double		lr[B], lc[B], zr = 0.0, zc = 0.0, tr = 0.0, tc = 0.0;
			int			np = 0;

			for (j = 0; j < B; j++)
			{
				int			k;

				lr[j] = lc[j] = 0.0;
				for (k = 0; k < D; k++)
				{
					lr[j] += (double) s * img[i * D + k] * txt[j * D + k];
					lc[j] += (double) s * img[j * D + k] * txt[i * D + k];
				}
				zr += exp(lr[j]);
				zc += exp(lc[j]);
			}
			for (j = 0; j < B; j++)
				if (j == i || (group[i] >= 0 && group[i] == group[j]))
				{
					np++;
					tr += lr[j] - log(zr);
					tc += lc[j] - log(zc);
				}
			want += -(tr + tc) / np / 2.0;
		}
		want /= B;
		CHECK_NEAR(loss, want, 1e-5, "multi-positive loss by its definition");
	}
	/* groups of one are the plain loss; a negative id is a group of its own */
	plain = sc_clip_loss(img, txt, B, D, scale, NULL, NULL, NULL, scratch, NULL);
	CHECK(sc_clip_loss_groups(img, txt, B, D, scale, unique, NULL, NULL, NULL, scratch, NULL) == plain,
		  "singleton groups give the plain loss");
	/* two identical captions of different images: the plain loss pushes them apart, groups do not */
	memset(img, 0, sizeof img);
	memset(txt, 0, sizeof txt);
	for (i = 0; i < B; i++)
	{
		int			c = group[i] == 4 ? 0 : (group[i] == 7 ? 1 : 2);

		img[i * D + c] = 1.0f;	/* images of a group look alike */
		txt[i * D + c] = 1.0f;	/* and have the same caption */
	}
	plain = sc_clip_loss(img, txt, B, D, logf(50.0f), NULL, NULL, NULL, scratch, &acc);
	CHECK(acc < 1.0, "plain accuracy on duplicates below 1 (%g)", acc);
	/* groups from the batch: same image, same key, identical captions, transitively */
	{
		static const int image[7] = {10, 11, 10, 12, 13, 14, 15};
		static const int key[7] = {-1, -1, -1, 5, -1, 5, -1};
		static const int32_t c0[3] = {1, 2, 3}, c1[3] = {1, 2, 4}, c2[2] = {1, 2};
		const int32_t *ids[7] = {c0, c1, c1, c0, c2, c1, c2};
		int			lens[7] = {3, 3, 3, 3, 2, 3, 2}, grp[7];
		long		extra = sc_positive_groups(image, key, ids, lens, 7, grp);

		/* 0-2 image, 2-1 caption c1, 0-3 caption c0, 3-5 key, 5 c1; 4-6 caption c2 */
		CHECK(grp[0] == 0 && grp[1] == 0 && grp[2] == 0 && grp[3] == 0 && grp[5] == 0,
			  "one group through image, caption and key links (%d %d %d %d %d)",
			  grp[0], grp[1], grp[2], grp[3], grp[5]);
		CHECK(grp[4] == 4 && grp[6] == 4, "identical short captions: their own group (%d %d)", grp[4], grp[6]);
		CHECK(extra == 5 * 4 + 2 * 1, "extra positives %ld", extra);
		lens[6] = 1;			/* a prefix is not the same caption */
		sc_positive_groups(image, NULL, ids, lens, 7, grp);
		CHECK(grp[6] == 6 && grp[4] == 4, "different lengths differ");
		CHECK(grp[5] == 0, "without keys, 5 still joins through caption c1");
	}
	loss = sc_clip_loss_groups(img, txt, B, D, logf(50.0f), group, NULL, NULL, NULL, scratch, &acc);
	/* at its minimum, the entropy of the targets: ln 2 for each of the four rows in pairs */
	CHECK_NEAR(loss, 4.0 * log(2.0) / B, 1e-5, "grouped loss on duplicates at its minimum");
	CHECK(acc == 1.0, "grouped accuracy counts any positive (%g)", acc);
	(void) plain;
}

/* FLOPS: value by hand, gradient against finite differences */
static void
test_flops(void)
{
	float		u[B * D], du[B * D], mean[D];
	float		h = 1e-3f, w = 0.7f;
	double		f, want = 0.0;
	int			i, j, bad = 0;

	for (i = 0; i < B * D; i++)
		u[i] = urand() > 0.3f ? 0.0f : (urand() + 1.0f) * 0.5f;	/* sparse, non-negative */
	for (j = 0; j < D; j++)
	{
		double		m = 0.0;

		for (i = 0; i < B; i++)
			m += u[i * D + j];
		want += (m / B) * (m / B);
	}
	for (i = 0; i < B * D; i++)
		du[i] = 0.25f;			/* the gradient is added to what is there */
	f = sc_flops_loss(u, B, D, w, du, mean);
	CHECK_NEAR(f, want, 1e-6, "FLOPS = sum of squared batch means");
	for (i = 0; i < B * D; i++)
	{
		float		keep = u[i];
		double		fp, fm, num;

		u[i] = keep + h;
		fp = sc_flops_loss(u, B, D, w, NULL, mean);
		u[i] = keep - h;
		fm = sc_flops_loss(u, B, D, w, NULL, mean);
		u[i] = keep;
		num = w * (fp - fm) / (2 * h) + 0.25;
		if (fabs(num - du[i]) > 1e-4 + 1e-3 * fabs(num))
			bad++;
	}
	CHECK(bad == 0, "FLOPS gradient against finite differences: %d off", bad);
	/* one row active per dimension is cheaper than all rows on the same one */
	memset(u, 0, sizeof u);
	for (i = 0; i < B; i++)
		u[i * D + i] = 1.0f;
	f = sc_flops_loss(u, B, D, 0.0f, NULL, mean);
	CHECK_NEAR(f, (double) B / ((double) B * B), 1e-6, "FLOPS of spread one-hot rows is 1/B");
	for (i = 0; i < B; i++)
	{
		u[i * D + i] = 0.0f;
		u[i * D] = 1.0f;
	}
	f = sc_flops_loss(u, B, D, 0.0f, NULL, mean);
	CHECK_NEAR(f, 1.0, 1e-6, "FLOPS of rows all on one dimension is 1");
	/* the late ramp */
	CHECK(sc_ramp_weight(3.0, 24, 100, 0.25, 0.6) == 0.0, "no penalty before the start");
	CHECK(sc_ramp_weight(3.0, 25, 100, 0.25, 0.6) == 0.0, "ramp starts at 0");
	CHECK_NEAR(sc_ramp_weight(3.0, 85, 200, 0.25, 0.6), 3.0 * 0.25, 1e-9, "quadratic: a quarter half-way");
	CHECK_NEAR(sc_ramp_weight(3.0, 60, 100, 0.25, 0.6), 3.0, 1e-12, "full at the end of the ramp");
	CHECK_NEAR(sc_ramp_weight(3.0, 99, 100, 0.25, 0.6), 3.0, 1e-12, "then held");
	CHECK_NEAR(sc_ramp_weight(3.0, 30, 100, 0.3, 0.3), 3.0, 1e-12, "no ramp: a step at the start");
	CHECK(sc_ramp_weight(3.0, 29, 100, 0.3, 0.3) == 0.0, "no ramp: zero before");
}

/* the whole trainer on a small random sparse model, one head variant */
/* alignment: value by hand, gradient against finite differences, added to what is there */
static void
test_align_loss(void)
{
	enum
	{
		B = 5, D = 7
	};
	float		u[B * D], v[B * D], du[B * D], dv[B * D];
	float		h = 1e-3f, w = 1.7f;
	double		c, want = 0.0;
	int			i, j, bad = 0;

	for (i = 0; i < B * D; i++)
	{
		u[i] = urand() > 0.4f ? 0.0f : urand();
		v[i] = urand() > 0.4f ? 0.0f : urand();
	}
	for (i = 0; i < B; i++)
		for (j = 0; j < D; j++)
			want += (double) u[i * D + j] * v[i * D + j];
	want /= B;
	for (i = 0; i < B * D; i++)
		du[i] = dv[i] = -0.5f;
	c = sc_align_loss(u, v, B, D, w, du, dv);
	CHECK_NEAR(c, want, 1e-6, "alignment returns the mean cosine of the own pairs");
	for (i = 0; i < B * D; i++)
	{
		float	   *sides[2] = {u, v}, *grads[2] = {du, dv};
		int			k;

		for (k = 0; k < 2; k++)
		{
			float		keep = sides[k][i];
			double		fp, fm, num;

			sides[k][i] = keep + h;
			fp = w * (1.0 - sc_align_loss(u, v, B, D, 0.0f, NULL, NULL));
			sides[k][i] = keep - h;
			fm = w * (1.0 - sc_align_loss(u, v, B, D, 0.0f, NULL, NULL));
			sides[k][i] = keep;
			num = (fp - fm) / (2 * h) - 0.5;
			if (fabs(num - grads[k][i]) > 1e-4 + 1e-3 * fabs(num))
				bad++;
		}
	}
	CHECK(bad == 0, "alignment gradient against finite differences: %d off", bad);
	/* identical sides: cosine 1 for unit rows */
	memset(u, 0, sizeof u);
	for (i = 0; i < B; i++)
		u[i * D + i % D] = 1.0f;
	CHECK_NEAR(sc_align_loss(u, u, B, D, 0.0f, NULL, NULL), 1.0, 1e-9, "unit rows align with themselves");
}

static void
test_head_variant(sc_sparsity kind, float flops, float align, const int *group, float aux,
				  const char *what)
{
	sc_config	c;
	sc_model   *m;
	sc_trainer *t;
	char		err[256];
	enum { NB = 4 };
	float		images[NB * 3 * 16 * 16];
	int32_t		tok[NB][6];
	const int32_t *ids[NB];
	int			lens[NB] = {3, 6, 4, 5};
	sc_train_opts o = {.sparsity = kind, .topk = 5, .l1 = 0.05f, .flops = flops, .align = align,
	.group = group, .aux = aux, .aux_k = 3};
	sc_batch_stats st;
	int			i, k, bad = 0, checked = 0, nx, dead_checked = 0;
	float	   *params[2];
	float	   *xs[40 + 2 * 8];

	sc_config_preset("tiny", &c);
	c.image_size = 16;
	c.patch_size = 8;
	c.vision_width = c.text_width = 16;
	c.vision_layers = c.text_layers = 1;
	c.vision_heads = c.text_heads = 2;
	c.context_length = 6;
	c.vocab_size = 30;
	c.embed_dim = 8;
	c.sparse_dim = 24;
	m = sc_model_random(&c, 7, err, sizeof err);
	CHECK(m != NULL, "random model: %s", err);
	if (!m)
		return;
	t = sc_trainer_new(m, NB, err, sizeof err);
	for (i = 0; i < NB * 3 * 16 * 16; i++)
		images[i] = urand();
	for (i = 0; i < NB; i++)
	{
		for (k = 0; k < 6; k++)
			tok[i][k] = (int32_t) ((urand() + 1.0f) * 13.0f);
		tok[i][lens[i] - 1] = 29;	/* end of text: the largest id */
		ids[i] = tok[i];
	}
	CHECK(sc_trainer_batch(t, images, ids, lens, NB, &o, &st, NULL, NULL, err, sizeof err) == 0,
		  "%s batch: %s", what, err);
	CHECK(st.aux == 0.0, "%s: no AuxK loss before a window has ended (%g)", what, st.aux);
	if (aux > 0.0f)
	{
		int			ni, nt;
		float	   *di, *dt, *fi, *ft;

		/* 4 rows of top-5 fire at most 20 of 24 dimensions: some are dead */
		sc_trainer_aux_window(t, &ni, &nt);
		sc_trainer_aux_dead(t, &di, &dt);
		sc_trainer_fire_counts(t, &fi, &ft);
		CHECK(ni >= 4 && nt >= 4, "%s: dead after one batch: %d image, %d text", what, ni, nt);
		{
			int			j;
			float		sum = 0.0f;

			for (j = 0; j < c.sparse_dim; j++)
				sum += di[j];
			CHECK(sum == (float) ni, "%s: the image dead set has %d entries (%g)", what, ni, sum);
		}
		CHECK(fi[0] == 0.0f && ft[23] == 0.0f, "%s: a window resets the firing counts", what);
		CHECK(sc_trainer_batch(t, images, ids, lens, NB, &o, &st, NULL, NULL, err, sizeof err) == 0,
			  "%s batch: %s", what, err);
		CHECK(st.aux > 0.0 && isfinite(st.aux), "%s: AuxK loss %g", what, st.aux);
		CHECK(fabs(st.loss - st.contrastive - aux * st.aux) < 1e-6, "%s: the penalty is weight * AuxK loss", what);
		/* a dead image row gets a gradient from AuxK alone (TopK gives it none) */
		{
			int			j, E8 = c.embed_dim, got = 0;
			const float *gs = sc_trainer_grads(t) + (m->p.sparse_visual - m->owned);

			for (j = 0; j < c.sparse_dim; j++)
				if (di[j] > 0.0f)
				{
					int			e;

					for (e = 0; e < E8; e++)
						got += gs[j * E8 + e] != 0.0f;
				}
			CHECK(got > 0, "%s: dead image rows have %d non-zero gradients", what, got);
		}
	}
	if (kind == SC_SPARSITY_TOPK)
		CHECK(st.image_l0 <= 5.0 && st.text_l0 <= 5.0, "top-5 keeps at most 5 (%g, %g)",
			  st.image_l0, st.text_l0);
	if (kind == SC_SPARSITY_L1)
		CHECK(st.loss > st.contrastive, "L1 penalty adds to the loss");
	CHECK(st.flops_image > 0.0 && st.flops_text > 0.0, "%s: FLOPS of both sides reported", what);
	CHECK(st.pos_cos > 0.0 && st.pos_cos <= 1.0 + 1e-6, "%s: own pairs' cosine %g reported", what,
		  st.pos_cos);
	if (kind == SC_SPARSITY_RELU)
		CHECK_NEAR(st.loss - st.contrastive,
				   flops * (st.flops_image + st.flops_text) + align * (1.0 - st.pos_cos), 1e-6,
				   "penalties = FLOPS weight * (image + text) + align weight * (1 - own cosine)");
	/*
	 * finite differences on the sparse weights and the projections, and
	 * with AuxK on the rows of two dead image dimensions (only AuxK moves
	 * them)
	 */
	params[0] = m->p.sparse_visual;
	params[1] = m->p.text_projection;
	nx = 0;
	for (k = 0; k < 2; k++)
		for (i = 0; i < 60; i += 3)
			xs[nx++] = params[k] + i;
	if (aux > 0.0f)
	{
		float	   *di, *dt;
		int			j, rows = 0;

		sc_trainer_aux_dead(t, &di, &dt);
		for (j = 0; j < c.sparse_dim && rows < 2; j++)
			if (di[j] > 0.0f)
			{
				for (k = 0; k < c.embed_dim; k++)
					xs[nx++] = m->p.sparse_visual + (size_t) j * c.embed_dim + k;
				rows++;
			}
	}
	for (i = 0; i < nx; i++)
		{
			float	   *x = xs[i];
			float		keep = *x, h = 2e-3f;
			float		g = sc_trainer_grads(t)[x - m->owned];
			sc_batch_stats sp, sm;
			double		num;

			*x = keep + h;
			sc_trainer_batch(t, images, ids, lens, NB, &o, &sp, NULL, NULL, err, sizeof err);
			*x = keep - h;
			sc_trainer_batch(t, images, ids, lens, NB, &o, &sm, NULL, NULL, err, sizeof err);
			*x = keep;
			num = (sp.loss - sm.loss) / (2 * h);
			sc_trainer_batch(t, images, ids, lens, NB, &o, &st, NULL, NULL, err, sizeof err);
			g = sc_trainer_grads(t)[x - m->owned];
			/*
			 * A top-k boundary crossing makes the loss jump (two dimensions
			 * trade places): skip where the support changes or the second
			 * difference shows a step rather than a curve.
			 */
			if (fabs(sp.image_l0 - sm.image_l0) > 0 || fabs(sp.text_l0 - sm.text_l0) > 0 ||
				sp.aux_l0 != sm.aux_l0 ||
				fabs(sp.loss + sm.loss - 2 * st.loss) > 0.2 * fabs(sp.loss - sm.loss) + 1e-4)
				continue;
			checked++;
			if (fabs(num - g) > 2e-3 + 2e-2 * fabs(num))
			{
				if (bad < 3)
					fprintf(stderr, "  %s parameter %d: analytic %g numeric %g\n", what, i, g, num);
				bad++;
			}
			if (i >= 40 && g != 0.0f)
				dead_checked++;
		}
	if (aux > 0.0f)
		CHECK(dead_checked >= 8, "%s: %d non-zero gradients of dead rows checked", what, dead_checked);
	CHECK(checked >= 20, "%s: %d gradients checked", what, checked);
	CHECK(bad == 0, "%s: %d gradients off", what, bad);
	printf("%s head: %d gradients checked against finite differences\n", what, checked);
	sc_trainer_free(t);
	sc_model_free(m);
}

static void
test_optim(void)
{
	sc_adamw	hp = {0.9f, 0.98f, 1e-6f};
	float		p[3] = {1.0f, -2.0f, 0.5f}, g[3] = {0.1f, -0.3f, 0.0f};
	float		m[3] = {0}, v[3] = {0};
	float		gr[4] = {3.0f, 4.0f, 0.0f, 0.0f};
	double		n;

	/* first step: m_hat = g, v_hat = g^2, so the update is lr * sign(g) (plus decay) */
	sc_adamw_update(p, g, m, v, 3, &hp, 0.01f, 0.2f, 1);
	CHECK_NEAR(p[0], 1.0 * (1 - 0.01 * 0.2) - 0.01 * 0.1 / (0.1 + 1e-6), 1e-6, "adamw step, g > 0");
	CHECK_NEAR(p[1], -2.0 * (1 - 0.01 * 0.2) + 0.01 * 0.3 / (0.3 + 1e-6), 1e-6, "adamw step, g < 0");
	CHECK_NEAR(p[2], 0.5 * (1 - 0.01 * 0.2), 1e-7, "adamw step, g = 0: decay only");
	CHECK_NEAR(m[0], 0.01, 1e-7, "first moment");
	CHECK_NEAR(v[1], 0.02 * 0.09, 1e-8, "second moment");

	CHECK_NEAR(sc_lr_at(1.0, 0, 10, 100), 0.1, 1e-12, "warm-up starts at lr/warmup");
	CHECK_NEAR(sc_lr_at(1.0, 9, 10, 100), 1.0, 1e-12, "warm-up ends at lr");
	CHECK_NEAR(sc_lr_at(1.0, 10, 10, 100), 1.0, 1e-12, "cosine starts at lr");
	CHECK_NEAR(sc_lr_at(1.0, 55, 10, 100), 0.5, 1e-12, "cosine halfway is lr/2");
	CHECK(sc_lr_at(1.0, 99, 10, 100) < 0.001, "cosine ends near 0");
	CHECK_NEAR(sc_lr_const_at(1.0, 0, 10), 0.1, 1e-12, "constant schedule warms up");
	CHECK_NEAR(sc_lr_const_at(1.0, 10, 10), 1.0, 1e-12, "constant schedule after warm-up");
	CHECK_NEAR(sc_lr_const_at(1.0, 99, 10), 1.0, 1e-12, "constant schedule does not decay");
	CHECK_NEAR(sc_lr_const_at(2.0, 5, 0), 2.0, 1e-12, "no warm-up");

	n = sc_clip_grad_norm(gr, 4, 1.0);
	CHECK_NEAR(n, 5.0, 1e-9, "norm before clipping");
	CHECK_NEAR(sqrt(gr[0] * gr[0] + gr[1] * gr[1]), 1.0, 1e-5, "clipped to norm 1");
	n = sc_clip_grad_norm(gr, 4, 10.0);
	CHECK_NEAR(gr[0], 0.6, 1e-5, "no clipping under the limit");
}

/* the logit scale is clamped to ln(cap) after a step, and not decayed */
static void
test_logit_clamp(void)
{
	sc_config	c;
	sc_model   *m;
	sc_trainer *t;
	char		err[256];

	sc_config_preset("tiny", &c);
	c.image_size = 16;
	c.vision_width = c.text_width = 16;
	c.vision_layers = c.text_layers = 1;
	c.vision_heads = c.text_heads = 2;
	c.context_length = 4;
	c.vocab_size = 10;
	c.embed_dim = 8;
	c.sparse_dim = 16;
	m = sc_model_random(&c, 3, err, sizeof err);
	t = sc_trainer_new(m, 2, err, sizeof err);
	m->p.logit_scale[0] = 5.0f;
	/* zero gradients: only decay could move it, and the scale is not decayed */
	sc_trainer_update(t, 0.1f, 0.1f, 0.2f, 1.0, 1000.0f);
	CHECK_NEAR(m->p.logit_scale[0], 5.0, 1e-6, "logit scale not decayed");
	sc_trainer_update(t, 0.1f, 0.1f, 0.2f, 1.0, 50.0f);
	CHECK_NEAR(m->p.logit_scale[0], log(50.0), 1e-6, "logit scale clamped to ln 50");
	sc_trainer_free(t);

	/*
	 * The scale is its own parameter group: with lr 0 and logit_lr 0.1 only
	 * it moves (Adam's first step: lr times the sign of the gradient), and
	 * with logit_lr 0 it stays while the matrices move and decay.
	 */
	t = sc_trainer_new(m, 2, err, sizeof err);
	{
		float	   *g = sc_trainer_grads(t);
		size_t		wi = (size_t) (m->p.sparse_visual - m->owned);
		float		w0 = m->p.sparse_visual[0], w1 = m->p.sparse_visual[1];

		m->p.logit_scale[0] = logf(30.0f);
		g[m->p.logit_scale - m->owned] = 0.5f;
		g[wi] = 0.25f;
		sc_trainer_update(t, 0.0f, 0.1f, 0.2f, 1.0, 50.0f);
		CHECK_NEAR(m->p.logit_scale[0], log(30.0) - 0.1, 1e-5, "logit scale moved by its own rate");
		CHECK(m->p.sparse_visual[0] == w0 && m->p.sparse_visual[1] == w1,
			  "matrices unchanged at lr 0 (neither moved nor decayed)");
		sc_trainer_update(t, 0.1f, 0.0f, 0.2f, 1.0, 50.0f);
		CHECK_NEAR(m->p.logit_scale[0], log(30.0) - 0.1, 1e-5, "logit scale still at logit_lr 0");
		CHECK(m->p.sparse_visual[0] < w0 * (1 - 0.02f) + 1e-6f && m->p.sparse_visual[0] != w0,
			  "matrix moved at lr 0.1");
		CHECK_NEAR(m->p.sparse_visual[1], w1 * (1 - 0.1 * 0.2), 1e-6, "matrix decayed at lr 0.1");
	}
	sc_trainer_free(t);
	sc_model_free(m);
}

/* dead dimensions: counted, re-initialised along a pair's projection, moments reset */
static void
test_dead_dims(void)
{
	sc_config	c;
	sc_model   *m;
	sc_trainer *t;
	char		err[256];
	enum { NB = 4, S = 24, E = 8 };
	float		images[NB * 3 * 16 * 16];
	int32_t		tok[NB][6];
	const int32_t *ids[NB];
	int			lens[NB] = {3, 6, 4, 5};
	sc_batch_stats st;
	float	   *fi, *ft, *am, *av, *before, fi0[S], ft0[S];
	long	   *stepp;
	int			i, k, ni, nt, want_i = 0, want_t = 0, untouched = 1, moments = 1, fired = 1;
	static const int dead_rows[3] = {2, 9, 17};

	sc_config_preset("tiny", &c);
	c.image_size = 16;
	c.patch_size = 8;
	c.vision_width = c.text_width = 16;
	c.vision_layers = c.text_layers = 1;
	c.vision_heads = c.text_heads = 2;
	c.context_length = 6;
	c.vocab_size = 30;
	c.embed_dim = E;
	c.sparse_dim = S;
	m = sc_model_random(&c, 11, err, sizeof err);
	t = sc_trainer_new(m, NB, err, sizeof err);
	for (i = 0; i < NB * 3 * 16 * 16; i++)
		images[i] = urand();
	for (i = 0; i < NB; i++)
	{
		for (k = 0; k < 6; k++)
			tok[i][k] = (int32_t) ((urand() + 1.0f) * 13.0f);
		tok[i][lens[i] - 1] = 29;
		ids[i] = tok[i];
	}
	/* rows of zeros never fire (ReLU(0) = 0) */
	for (i = 0; i < 3; i++)
		memset(m->p.sparse_visual + dead_rows[i] * E, 0, E * sizeof(float));
	memset(m->p.sparse_text + 5 * E, 0, E * sizeof(float));
	sc_trainer_batch(t, images, ids, lens, NB, NULL, &st, NULL, NULL, err, sizeof err);
	sc_trainer_batch(t, images, ids, lens, NB, NULL, &st, NULL, NULL, err, sizeof err);
	sc_trainer_fire_counts(t, &fi, &ft);
	for (i = 0; i < S; i++)
	{
		want_i += fi[i] == 0.0f;
		want_t += ft[i] == 0.0f;
		CHECK(fi[i] <= 2 * NB && ft[i] <= 2 * NB, "counts at most the rows seen");
	}
	CHECK(fi[2] == 0.0f && fi[9] == 0.0f && fi[17] == 0.0f && ft[5] == 0.0f, "zero rows never fire");
	{
		double		sum = 0.0;

		for (i = 0; i < S; i++)
			sum += fi[i];
		CHECK_NEAR(sum, 2 * NB * st.image_l0, 1e-6, "counts sum to rows times L0");
	}
	/* moments to see them reset */
	sc_trainer_update(t, 1e-3f, 1e-3f, 0.0f, 1.0, 50.0f);
	sc_trainer_adam_state(t, &am, &av, &stepp);
	before = malloc(m->owned_count * sizeof(float));
	memcpy(before, m->owned, m->owned_count * sizeof(float));
	memcpy(fi0, fi, sizeof fi0);
	memcpy(ft0, ft, sizeof ft0);
	/* a dead row's gradient is 0, so give every moment a value that a reset must clear */
	for (i = 0; i < (int) m->owned_count; i++)
		am[i] = av[i] = 0.5f;
	sc_trainer_reinit_dead(t, 42, &ni, &nt);
	CHECK(ni == want_i && nt == want_t && ni >= 3 && nt >= 1, "re-initialised %d/%d, want %d/%d", ni, nt,
		  want_i, want_t);
	for (i = 0; i < (int) m->owned_count; i++)
	{
		long		rv = (long) (m->owned + i - m->p.sparse_visual);
		long		rt = (long) (m->owned + i - m->p.sparse_text);
		int			dead = (rv >= 0 && rv < S * E && fi0[rv / E] == 0.0f) ||
			(rt >= 0 && rt < S * E && ft0[rt / E] == 0.0f);

		if (!dead && m->owned[i] != before[i])
			untouched = 0;
		if (dead ? (am[i] != 0.0f || av[i] != 0.0f) : (am[i] != 0.5f || av[i] != 0.5f))
			moments = 0;
	}
	CHECK(untouched, "only the rows of dimensions that never fired change");
	CHECK(moments, "moments of re-initialised rows zeroed, the others kept");
	for (i = 0; i < S; i++)
	{
		double		nv = 0.0, nw = 0.0;

		for (k = 0; k < E; k++)
		{
			nv += (double) m->p.sparse_visual[i * E + k] * m->p.sparse_visual[i * E + k];
			nw += (double) m->p.sparse_text[i * E + k] * m->p.sparse_text[i * E + k];
		}
		if (fi0[i] == 0.0f)
			CHECK(nv > 0.0, "dead image row %d re-initialised", i);
		if (ft0[i] == 0.0f)
			CHECK(nw > 0.0, "dead text row %d re-initialised", i);
	}
	sc_trainer_fire_counts(t, &fi, &ft);
	for (i = 0; i < S; i++)
		CHECK(fi[i] == 0.0f && ft[i] == 0.0f, "counts reset");
	/* the same batch again: every re-initialised dimension now fires (it points at one of these pairs) */
	sc_trainer_batch(t, images, ids, lens, NB, NULL, &st, NULL, NULL, err, sizeof err);
	sc_trainer_fire_counts(t, &fi, &ft);
	for (i = 0; i < 3; i++)
		fired &= fi[dead_rows[i]] > 0.0f;
	fired &= ft[5] > 0.0f;
	CHECK(fired, "re-initialised dimensions fire on the batch they were drawn from");
	free(before);
	sc_trainer_free(t);
	sc_model_free(m);
}

/*
 * Patch dropout: which patches count (probed by perturbing each one),
 * their positions (the positional rows that get gradients), gradients
 * against finite differences, determinism in the seed, p = 0 unchanged.
 */
static void
test_patch_dropout(void)
{
	sc_config	c;
	sc_model   *m;
	sc_trainer *t;
	char		err[256];
	enum { NB = 4, IS = 16, PS = 4, G = 4, GG = 16, K = 8 };
	float		images[NB * 3 * IS * IS];
	int32_t		tok[NB][6];
	const int32_t *ids[NB];
	int			lens[NB] = {3, 6, 4, 5};
	sc_train_opts o = {.sparsity = SC_SPARSITY_RELU, .patch_dropout = 0.5f, .dropout_seed = 77};
	sc_train_opts none = {.sparsity = SC_SPARSITY_RELU};
	sc_batch_stats st, st2;
	float	   *g0, *gn;
	char		used[NB][GG], any[GG];
	int			i, k, b, q, y, x, ch, nused_ok = 1, pos_ok = 1, bad = 0, checked = 0;
	double		base;

	sc_config_preset("tiny", &c);
	c.image_size = IS;
	c.patch_size = PS;
	c.vision_width = c.text_width = 16;
	c.vision_layers = c.text_layers = 1;
	c.vision_heads = c.text_heads = 2;
	c.context_length = 6;
	c.vocab_size = 30;
	c.embed_dim = 8;
	c.sparse_dim = 24;
	m = sc_model_random(&c, 5, err, sizeof err);
	t = sc_trainer_new(m, NB, err, sizeof err);
	for (i = 0; i < NB * 3 * IS * IS; i++)
		images[i] = urand();
	for (i = 0; i < NB; i++)
	{
		for (k = 0; k < 6; k++)
			tok[i][k] = (int32_t) ((urand() + 1.0f) * 13.0f);
		tok[i][lens[i] - 1] = 29;
		ids[i] = tok[i];
	}
	g0 = malloc(m->owned_count * sizeof(float));
	gn = malloc(m->owned_count * sizeof(float));

	/* p = 0 is no dropout, bit for bit */
	sc_trainer_batch(t, images, ids, lens, NB, &none, &st, NULL, NULL, err, sizeof err);
	memcpy(gn, sc_trainer_grads(t), m->owned_count * sizeof(float));
	{
		sc_train_opts z = o;

		z.patch_dropout = 0.0f;
		sc_trainer_batch(t, images, ids, lens, NB, &z, &st2, NULL, NULL, err, sizeof err);
	}
	CHECK(st.loss == st2.loss && memcmp(gn, sc_trainer_grads(t), m->owned_count * sizeof(float)) == 0,
		  "patch dropout 0 changes nothing");

	/* deterministic in the seed; another seed drops other patches */
	CHECK(sc_trainer_batch(t, images, ids, lens, NB, &o, &st, NULL, NULL, err, sizeof err) == 0,
		  "dropout batch: %s", err);
	base = st.loss;
	memcpy(g0, sc_trainer_grads(t), m->owned_count * sizeof(float));
	sc_trainer_batch(t, images, ids, lens, NB, &o, &st2, NULL, NULL, err, sizeof err);
	CHECK(st2.loss == base && memcmp(g0, sc_trainer_grads(t), m->owned_count * sizeof(float)) == 0,
		  "same seed, same loss and gradients");
	{
		sc_train_opts o2 = o;

		o2.dropout_seed = 78;
		sc_trainer_batch(t, images, ids, lens, NB, &o2, &st2, NULL, NULL, err, sizeof err);
		CHECK(st2.loss != base, "another seed, another loss");
	}

	/* probe: exactly K of the 16 patches of each image change the loss */
	memset(any, 0, sizeof any);
	for (b = 0; b < NB; b++)
	{
		int			n = 0;

		for (q = 0; q < GG; q++)
		{
			float	   *im = images + (size_t) b * 3 * IS * IS;

			for (ch = 0; ch < 3; ch++)
				for (y = 0; y < PS; y++)
					for (x = 0; x < PS; x++)
						im[ch * IS * IS + ((q / G) * PS + y) * IS + (q % G) * PS + x] += 0.5f;
			sc_trainer_batch(t, images, ids, lens, NB, &o, &st2, NULL, NULL, err, sizeof err);
			for (ch = 0; ch < 3; ch++)
				for (y = 0; y < PS; y++)
					for (x = 0; x < PS; x++)
						im[ch * IS * IS + ((q / G) * PS + y) * IS + (q % G) * PS + x] -= 0.5f;
			used[b][q] = st2.loss != base;
			any[q] |= used[b][q];
			n += used[b][q];
		}
		nused_ok &= n == K;
	}
	CHECK(nused_ok, "each image uses exactly %d of its %d patches", K, GG);
	/* the kept patches keep their positions: positional rows get gradient exactly where used */
	for (q = 0; q < GG; q++)
	{
		const float *gp = g0 + (m->p.v_positional_embedding - m->owned) + (size_t) (1 + q) * c.vision_width;
		int			nz = 0;

		for (k = 0; k < c.vision_width; k++)
			nz |= gp[k] != 0.0f;
		pos_ok &= nz == any[q];
	}
	CHECK(pos_ok, "positional rows with gradient = positions some image kept");

	/* gradients against finite differences, the selection held fixed by the seed */
	{
		float	   *params[4];
		int			np[4] = {40, 3 * c.vision_width, 16, 40};

		params[0] = m->p.v_conv1;
		params[1] = m->p.v_positional_embedding;
		params[2] = m->p.v_class_embedding;
		params[3] = m->p.v_blocks[0].in_proj_w;
		for (k = 0; k < 4; k++)
			for (i = 0; i < np[k]; i += 1 + k % 2)
			{
				float	   *px = params[k] + i;
				float		keep = *px, h = 2e-3f;
				float		gv = g0[px - m->owned];
				sc_batch_stats sp, sm;
				double		num;

				*px = keep + h;
				sc_trainer_batch(t, images, ids, lens, NB, &o, &sp, NULL, NULL, err, sizeof err);
				*px = keep - h;
				sc_trainer_batch(t, images, ids, lens, NB, &o, &sm, NULL, NULL, err, sizeof err);
				*px = keep;
				num = (sp.loss - sm.loss) / (2 * h);
				/* a ReLU of the head crossing zero makes the loss kinked: skip those */
				if (sp.image_l0 != sm.image_l0 || sp.text_l0 != sm.text_l0)
					continue;
				checked++;
				if (fabs(num - gv) > 2e-3 + 2e-2 * fabs(num))
				{
					if (bad < 3)
						fprintf(stderr, "  patch dropout param %d/%d: analytic %g numeric %g\n", k, i, gv, num);
					bad++;
				}
			}
	}
	CHECK(checked >= 60, "patch dropout: %d gradients checked", checked);
	CHECK(bad == 0, "patch dropout: %d of %d gradients off", bad, checked);
	printf("patch dropout: %d gradients checked against finite differences\n", checked);
	free(g0);
	free(gn);
	sc_trainer_free(t);
	sc_model_free(m);
}

int
main(void)
{
	test_infonce();
	test_flops();
	test_align_loss();
	test_multi_positive();
	test_head_variant(SC_SPARSITY_RELU, 0.0f, 0.0f, NULL, 0.0f, "relu");
	test_head_variant(SC_SPARSITY_TOPK, 0.0f, 0.0f, NULL, 0.0f, "topk");
	test_head_variant(SC_SPARSITY_TOPK, 0.0f, 0.0f, NULL, 0.5f, "topk + AuxK 0.5");
	test_head_variant(SC_SPARSITY_L1, 0.0f, 0.0f, NULL, 0.0f, "l1");
	test_head_variant(SC_SPARSITY_RELU, 2.0f, 0.0f, NULL, 0.0f, "relu + FLOPS 2");
	test_head_variant(SC_SPARSITY_RELU, 2.0f, 3.0f, NULL, 0.0f, "relu + FLOPS 2 + align 3");
	test_head_variant(SC_SPARSITY_RELU, 0.0f, 3.0f, NULL, 0.0f, "relu + align 3");
	{
		static const int grp[4] = {3, -1, 3, 0};

		test_head_variant(SC_SPARSITY_RELU, 0.0f, 0.0f, grp, 0.0f, "relu + multi-positive");
	}
	test_optim();
	test_logit_clamp();
	test_dead_dims();
	test_patch_dropout();
	return unit_done("test_train_loss");
}
