/*
 * test_train_parity.c - training against PyTorch autograd
 * (test/fixtures/gen_train_fixtures.py, float64 reference): for a tiny
 * sparse model and a tiny dense one, the InfoNCE loss of one batch, the
 * gradient of every parameter, and the losses of 10 optimizer steps
 * (clipping, AdamW, warm-up + cosine schedule, logit scale clamp).  Also
 * checks that the trainer's forward pass gives the encoders' embeddings.
 * The sparse_flops variant adds the FLOPS penalty (ramped over the steps)
 * and the logit scale's own learning rate and schedule.
 */
#include <cblas.h>

#include "unit.h"
#include "model.h"
#include "safetensors.h"
#include "train_model.h"
#include "train_optim.h"

#define FIX "test/fixtures/train/"

static int	nb, lens[16];
static const int32_t *ids[16];
static int32_t idbuf[256];
static float *images;
static float recipe[6];

static void
check_variant(const char *name)
{
	char		path[256], err[512];
	sc_model   *m;
	st_file    *ex;
	sc_trainer *t;
	sc_batch_stats st;
	sc_param_info *list;
	size_t		np, i;
	float	   *img_out, *txt_out, *enc, *want;
	const st_tensor *tl;
	int			D, step, bad = 0;
	double		maxrel = 0.0;
	sc_workspace ws = {0};
	sc_train_opts opts = {.sparsity = SC_SPARSITY_RELU};
	float		extras[4] = {0.0f, 0.0f, 0.0f, 0.0f};	/* flops, start, ramp, logit rate multiple */

	snprintf(path, sizeof path, FIX "%s.safetensors", name);
	m = sc_model_load(path, SC_LOAD_COPY, err, sizeof err);
	CHECK(m != NULL, "%s: %s", name, err);
	snprintf(path, sizeof path, FIX "%s.expected.safetensors", name);
	ex = st_open(path, err, sizeof err);
	CHECK(ex != NULL, "%s: %s", name, err);
	if (!m || !ex)
		return;
	t = sc_trainer_new(m, nb, err, sizeof err);
	CHECK(t != NULL, "%s: trainer: %s", name, err);
	if (!t)
		return;
	D = sc_model_output_dim(m);
	img_out = malloc(sizeof(float) * nb * D);
	txt_out = malloc(sizeof(float) * nb * D);
	enc = malloc(sizeof(float) * nb * D);
	/* the FLOPS penalty and the logit scale's own group, where the fixture has them */
	tl = st_find(ex, "recipe_extras");
	if (tl && tl->numel == 4)
		st_to_float(tl, extras);
	opts.flops = extras[0];
	CHECK(sc_trainer_batch(t, images, ids, lens, nb, &opts, &st, img_out, txt_out, err, sizeof err) == 0,
		  "%s: batch: %s", name, err);

	/* the trainer's forward pass is the encoders' */
	sc_encode_images(m, &ws, images, nb, enc, NULL, NULL, err, sizeof err);
	for (i = 0; i < (size_t) nb * D; i++)
		bad += fabsf(enc[i] - img_out[i]) > 1e-5f;
	CHECK(bad == 0, "%s: %d image embedding values differ from sc_encode_images", name, bad);
	bad = 0;
	sc_encode_texts(m, &ws, ids, lens, nb, enc, NULL, NULL, err, sizeof err);
	for (i = 0; i < (size_t) nb * D; i++)
		bad += fabsf(enc[i] - txt_out[i]) > 1e-5f;
	CHECK(bad == 0, "%s: %d text embedding values differ from sc_encode_texts", name, bad);

	tl = st_find(ex, "loss");
	CHECK(tl != NULL, "%s: expected loss", name);
	if (tl)
	{
		float		l;

		st_to_float(tl, &l);
		CHECK_NEAR(st.loss, l, 1e-5 * (1 + fabs(l)), "loss");
		printf("%s: loss %.7f (torch %.7f)\n", name, st.loss, l);
	}

	/* every parameter gradient */
	np = sc_param_list(m, NULL, 0);
	list = malloc(np * sizeof(sc_param_info));
	sc_param_list(m, list, np);
	for (i = 0; i < np; i++)
	{
		char		gname[128];
		const st_tensor *g;
		const float *mine = sc_trainer_grads(t) + (*list[i].slot - m->owned);
		double		dn = 0.0, rn = 0.0, maxabs = 0.0, mx = 0.0;
		size_t		k;

		snprintf(gname, sizeof gname, "grad.%s", list[i].name);
		g = st_find(ex, gname);
		CHECK(g != NULL && (size_t) g->numel == list[i].numel, "%s: %s present", name, gname);
		if (!g || (size_t) g->numel != list[i].numel)
			continue;
		want = malloc(sizeof(float) * list[i].numel);
		st_to_float(g, want);
		for (k = 0; k < list[i].numel; k++)
		{
			double		d = fabs((double) mine[k] - want[k]);

			dn += d * d;
			rn += (double) want[k] * want[k];
			if (d > maxabs)
				maxabs = d;
			if (fabs(want[k]) > mx)
				mx = fabs(want[k]);
		}
		/* float32 against float64: relative error of the whole tensor, and of each element */
		CHECK(sqrt(dn) <= 1e-4 * sqrt(rn) + 1e-7 && maxabs <= 1e-4 * mx + 1e-7,
			  "%s: %s: relative error %.3g, max abs diff %.3g (max |g| %.3g)",
			  name, gname, rn > 0 ? sqrt(dn / rn) : sqrt(dn), maxabs, mx);
		if (rn > 0 && sqrt(dn / rn) > maxrel)
			maxrel = sqrt(dn / rn);
		free(want);
	}
	printf("%s: %zu parameter gradients, largest relative error %.3g\n", name, np, maxrel);

	/*
	 * The trainer's threads (each runs the blocks on its share of the batch,
	 * with its own weight gradients, added up at the end) change nothing but
	 * the order of float additions.
	 */
	{
		float	   *g1 = malloc(sizeof(float) * m->owned_count);
		size_t		k;
		int			diff = 0;

		memcpy(g1, sc_trainer_grads(t), sizeof(float) * m->owned_count);
		sc_trainer_set_threads(t, 3);
		sc_trainer_batch(t, images, ids, lens, nb, &opts, &st, NULL, NULL, err, sizeof err);
		for (k = 0; k < m->owned_count; k++)
			diff += fabsf(g1[k] - sc_trainer_grads(t)[k]) > 1e-5f * (1.0f + fabsf(g1[k]));
		CHECK(diff == 0, "%s: %d gradients differ with 3 threads", name, diff);
		sc_trainer_set_threads(t, 1);
		openblas_set_num_threads(1);
		free(g1);
	}

	/* ten optimizer steps along the recipe */
	tl = st_find(ex, "step_losses");
	CHECK(tl != NULL && tl->numel == (int64_t) recipe[0], "%s: step_losses", name);
	if (tl && tl->numel == (int64_t) recipe[0])
	{
		float		sl[64];
		double		worst = 0.0;
		long		steps = (long) recipe[0], warm = (long) recipe[2];

		st_to_float(tl, sl);
		for (step = 0; step < steps; step++)
		{
			double		lr = sc_lr_at(recipe[1], step, warm, steps);
			double		logit_lr = extras[3] > 0 ? extras[3] * sc_lr_const_at(recipe[1], step, warm) : lr;

			opts.flops = (float) sc_ramp_weight(extras[0], step, steps, extras[1], extras[2]);
			sc_trainer_batch(t, images, ids, lens, nb, &opts, &st, NULL, NULL, err, sizeof err);
			sc_trainer_update(t, (float) lr, (float) logit_lr, recipe[3], recipe[4], recipe[5]);
			if (fabs(st.loss - sl[step]) > worst)
				worst = fabs(st.loss - sl[step]);
			CHECK(fabs(st.loss - sl[step]) <= 2e-4 * (1 + fabs(sl[step])),
				  "%s: step %d loss %.6f, torch %.6f", name, step, st.loss, sl[step]);
		}
		printf("%s: %ld steps, largest loss difference %.3g\n", name, steps, worst);
		tl = st_find(ex, "final_logit_scale");
		if (tl)
		{
			float		ls;

			st_to_float(tl, &ls);
			CHECK_NEAR(m->p.logit_scale[0], ls, 1e-4, "final logit scale");
			CHECK(m->p.logit_scale[0] <= logf(recipe[5]) + 1e-6f, "logit scale clamped to ln(cap)");
		}
	}
	free(list);
	free(img_out);
	free(txt_out);
	free(enc);
	sc_workspace_free(&ws);
	sc_trainer_free(t);
	st_close(ex);
	sc_model_free(m);
}

int
main(void)
{
	char		err[512];
	st_file    *in = st_open(FIX "inputs.safetensors", err, sizeof err);
	const st_tensor *ti, *tl, *td, *tr;
	int			i, off = 0;

	CHECK(in != NULL, "inputs: %s", err);
	if (!in)
		return unit_done("test_train_parity");
	ti = st_find(in, "images");
	tl = st_find(in, "text_lens");
	td = st_find(in, "text_ids");
	tr = st_find(in, "recipe");
	CHECK(ti && tl && td && tr && tl->numel <= 16 && td->numel <= 256 && tr->numel == 6, "input tensors");
	if (!(ti && tl && td && tr && tl->numel <= 16 && td->numel <= 256 && tr->numel == 6))
		return unit_done("test_train_parity");
	nb = (int) tl->numel;
	images = malloc(sizeof(float) * ti->numel);
	st_to_float(ti, images);
	st_to_float(tr, recipe);
	memcpy(idbuf, td->data, td->nbytes);
	for (i = 0; i < nb; i++)
	{
		int32_t		l;

		memcpy(&l, (const char *) tl->data + 4 * i, 4);
		lens[i] = l;
		ids[i] = idbuf + off;
		off += l;
	}
	check_variant("sparse");
	check_variant("dense");
	check_variant("sparse_flops");
	free(images);
	st_close(in);
	return unit_done("test_train_parity");
}
