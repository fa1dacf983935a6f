/*
 * train_model.c - the trainer object: its buffers (one allocation carved
 * into both towers' saved activations, the heads and the scratch), the
 * gradient views, the AdamW step, re-initialisation of dead features and
 * the parallel loops; see train_model.h.
 *
 * One batch forward and backward is in train_step.c; what both share, the
 * trainer's state, is in train_state.h.
 */
#include "train_model.h"
#include "train_state.h"
#include "train_loss.h"
#include "train_optim.h"
#include "layers.h"
#include "layers_backward.h"
#include "errmsg.h"

#include <cblas.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void
tower_init(tower *t, int L, int C, int NH, int maxR, size_t att_cap)
{
	t->L = L;
	t->C = C;
	t->NH = NH;
	t->maxR = maxR;
	t->att_cap = att_cap;
}

static size_t
tower_floats(const tower *t)
{
	size_t		RC = (size_t) t->maxR * t->C, R = (size_t) t->maxR, L = (size_t) t->L;

	return (L + 1) * RC + L * (RC + 2 * R + 3 * RC + t->att_cap + RC + RC + RC + 2 * R + 8 * RC);
}

static float *
carve(float **p, size_t n)
{
	float	   *r = *p;

	*p += n;
	return r;
}

static void
tower_carve(tower *t, float **p)
{
	size_t		RC = (size_t) t->maxR * t->C, R = (size_t) t->maxR, L = (size_t) t->L;

	t->x = carve(p, (L + 1) * RC);
	t->ln1 = carve(p, L * RC);
	t->ln1_m = carve(p, L * R);
	t->ln1_r = carve(p, L * R);
	t->qkv = carve(p, L * 3 * RC);
	t->att = carve(p, L * t->att_cap);
	t->ao = carve(p, L * RC);
	t->xm = carve(p, L * RC);
	t->ln2 = carve(p, L * RC);
	t->ln2_m = carve(p, L * R);
	t->ln2_r = carve(p, L * R);
	t->fch = carve(p, L * 4 * RC);
	t->fcg = carve(p, L * 4 * RC);
}

static size_t
head_floats(int B, int C, int E, int D, int S)
{
	return (size_t) B * (C + 2 + C + E + S + D + D + S + E + C + 3 * S);
}

static void
head_carve(head *h, float **p, int B, int C, int E, int D, int S)
{
	h->pool_in = carve(p, (size_t) B * C);
	h->pool_m = carve(p, B);
	h->pool_r = carve(p, B);
	h->pooled = carve(p, (size_t) B * C);
	h->y = carve(p, (size_t) B * E);
	h->z = carve(p, (size_t) B * S);
	h->out = carve(p, (size_t) B * D);
	h->dout = carve(p, (size_t) B * D);
	h->dz = carve(p, (size_t) B * S);
	h->dy = carve(p, (size_t) B * E);
	h->dpooled = carve(p, (size_t) B * C);
	h->aux = carve(p, (size_t) B * S);
	h->auxout = carve(p, (size_t) B * S);
	h->auxd = carve(p, (size_t) B * S);
}

/*
 * Point a gradient view (params, blocks: vision then text) at buf, each
 * gradient at its parameter's offset.  -1 on OOM.
 */
static int
grad_view(sc_model *m, float *buf, sc_params *view, sc_block *blocks)
{
	const sc_config *c = &m->cfg;
	sc_model	gm;
	sc_param_info *pl, *gl;
	size_t		np = sc_param_list(m, NULL, 0), i;

	memset(&gm, 0, sizeof gm);
	gm.cfg = *c;
	gm.p.v_blocks = blocks;
	gm.p.t_blocks = blocks + c->vision_layers;
	pl = malloc(np * sizeof(sc_param_info));
	gl = malloc(np * sizeof(sc_param_info));
	if (!pl || !gl)
	{
		free(pl);
		free(gl);
		return -1;
	}
	sc_param_list(m, pl, np);
	sc_param_list(&gm, gl, np);
	for (i = 0; i < np; i++)
		*gl[i].slot = buf + (*pl[i].slot - m->owned);
	*view = gm.p;
	free(pl);
	free(gl);
	return 0;
}

sc_trainer *
sc_trainer_new(sc_model *m, int max_batch, char *err, size_t errlen)
{
	const sc_config *c = &m->cfg;
	sc_trainer *t;
	sc_param_info *pl = NULL, *gl = NULL;
	sc_model	gm;
	size_t		np, i, total, scratch_rc, mx_att;
	int			G = c->image_size / c->patch_size, T = G * G + 1;
	int			Lc = c->context_length, S = c->sparse_dim, E = c->embed_dim;
	int			D = S > 0 ? S : E;
	int			B = max_batch;
	float	   *p;
	size_t		vR, tR, Tmax;
	size_t		loss_n = 2 * (size_t) B * B > (size_t) D ? 2 * (size_t) B * B : (size_t) D;

	if (!m->flat || !m->owned)
	{
		sc_seterr(err, errlen, "trainer: the model's parameters must be in one flat buffer");
		return NULL;
	}
	if (B < 2)
	{
		sc_seterr(err, errlen, "trainer: batch size must be at least 2, not %d", B);
		return NULL;
	}
	t = calloc(1, sizeof(sc_trainer));
	if (!t)
		goto oom;
	t->m = m;
	t->maxB = B;
	t->threads = 1;
	t->grad = calloc(m->owned_count, sizeof(float));
	t->adam_m = calloc(m->owned_count, sizeof(float));
	t->adam_v = calloc(m->owned_count, sizeof(float));
	t->gblocks = calloc((size_t) c->vision_layers + c->text_layers, sizeof(sc_block));
	if (!t->grad || !t->adam_m || !t->adam_v || !t->gblocks)
		goto oom;
	/* the gradient view: each gradient at its parameter's offset */
	memset(&gm, 0, sizeof gm);
	gm.cfg = *c;
	gm.p.v_blocks = t->gblocks;
	gm.p.t_blocks = t->gblocks + c->vision_layers;
	np = sc_param_list(m, NULL, 0);
	pl = malloc(np * sizeof(sc_param_info));
	gl = malloc(np * sizeof(sc_param_info));
	if (!pl || !gl)
		goto oom;
	sc_param_list(m, pl, np);
	sc_param_list(&gm, gl, np);
	t->span_off = malloc(np * sizeof(size_t));
	t->span_n = malloc(np * sizeof(size_t));
	t->span_decay = malloc(np);
	if (!t->span_off || !t->span_n || !t->span_decay)
		goto oom;
	t->nspans = np;
	t->block_lo[0] = t->block_lo[1] = m->owned_count;
	for (i = 0; i < np; i++)
	{
		size_t		off = (size_t) (*pl[i].slot - m->owned);
		int			r = strncmp(pl[i].name, "visual.", 7) == 0 ? 0 : 1;

		*gl[i].slot = t->grad + off;
		t->span_off[i] = off;
		t->span_n[i] = pl[i].numel;
		/* CLIP's split: matrices decay; gains, biases, 1-D embeddings and the scale do not */
		t->span_decay[i] = pl[i].ndim >= 2;
		if (strstr(pl[i].name, "transformer.resblocks.") != NULL)
		{
			if (off < t->block_lo[r])
				t->block_lo[r] = off;
			if (off + pl[i].numel > t->block_hi[r])
				t->block_hi[r] = off + pl[i].numel;
		}
	}
	t->logit_off = (size_t) (m->p.logit_scale - m->owned);
	t->g = gm.p;
	free(pl);
	free(gl);
	pl = gl = NULL;

	vR = (size_t) B * T;
	tR = (size_t) B * Lc;
	tower_init(&t->vis, c->vision_layers, c->vision_width, c->vision_heads, (int) vR,
			   (size_t) B * c->vision_heads * T * T);
	tower_init(&t->txt, c->text_layers, c->text_width, c->text_heads, (int) tR,
			   (size_t) B * c->text_heads * Lc * Lc);
	scratch_rc = vR * c->vision_width > tR * c->text_width ? vR * c->vision_width : tR * c->text_width;
	Tmax = (size_t) (T > Lc ? T : Lc);
	mx_att = Tmax * Tmax;
	total = tower_floats(&t->vis) + tower_floats(&t->txt) +
		head_floats(B, c->vision_width, E, D, S) + head_floats(B, c->text_width, E, D, S) +
		(size_t) B * G * G * 3 * c->patch_size * c->patch_size +
		(size_t) B * G * G * c->vision_width + vR * c->vision_width + 2 * vR +
		scratch_rc * (1 + 1 + 3 + 1 + 4 + 4) + mx_att * SC_MAX_THREADS + loss_n + (size_t) E + 4 * (size_t) (S > 0 ? S : 1);
	t->mem = malloc(total * sizeof(float));
	t->starts = malloc((size_t) B * 3 * sizeof(int));
	t->tok = malloc(tR * sizeof(int));
	t->att_off = malloc((size_t) B * sizeof(size_t));
	t->keep = malloc((size_t) B * G * G * sizeof(int));
	t->pick = malloc((size_t) G * G * sizeof(int));
	t->picked = malloc((size_t) G * G);
	if (!t->mem || !t->starts || !t->tok || !t->att_off || !t->keep || !t->pick || !t->picked)
		goto oom;
	t->eff = t->starts + B;
	p = t->mem;
	tower_carve(&t->vis, &p);
	tower_carve(&t->txt, &p);
	head_carve(&t->hv, &p, B, c->vision_width, E, D, S);
	head_carve(&t->ht, &p, B, c->text_width, E, D, S);
	t->patches = carve(&p, (size_t) B * G * G * 3 * c->patch_size * c->patch_size);
	t->emb = carve(&p, (size_t) B * G * G * c->vision_width);
	t->xe = carve(&p, vR * c->vision_width);
	t->pre_m = carve(&p, vR);
	t->pre_r = carve(&p, vR);
	t->dx = carve(&p, scratch_rc);
	t->dln = carve(&p, scratch_rc);
	t->dqkv = carve(&p, 3 * scratch_rc);
	t->dao = carve(&p, scratch_rc);
	t->dfcg = carve(&p, 4 * scratch_rc);
	t->dfch = carve(&p, 4 * scratch_rc);
	t->datt = carve(&p, mx_att * SC_MAX_THREADS);
	t->att_stride = mx_att;
	t->loss_scratch = carve(&p, loss_n);
	t->mean_y = carve(&p, (size_t) E);
	t->fire_img = carve(&p, (size_t) (S > 0 ? S : 1));
	t->fire_txt = carve(&p, (size_t) (S > 0 ? S : 1));
	memset(t->fire_img, 0, (size_t) (S > 0 ? S : 1) * sizeof(float));
	memset(t->fire_txt, 0, (size_t) (S > 0 ? S : 1) * sizeof(float));
	t->dead_img = carve(&p, (size_t) (S > 0 ? S : 1));
	t->dead_txt = carve(&p, (size_t) (S > 0 ? S : 1));
	memset(t->dead_img, 0, (size_t) (S > 0 ? S : 1) * sizeof(float));
	memset(t->dead_txt, 0, (size_t) (S > 0 ? S : 1) * sizeof(float));
	return t;

oom:
	free(pl);
	free(gl);
	sc_trainer_free(t);
	sc_seterr(err, errlen, "trainer: out of memory for batch %d", B);
	return NULL;
}

void
sc_trainer_free(sc_trainer *t)
{
	if (!t)
		return;
	free(t->grad);
	free(t->adam_m);
	free(t->adam_v);
	free(t->span_off);
	free(t->span_n);
	free(t->span_decay);
	free(t->gblocks);
	for (int k = 1; k < SC_MAX_THREADS; k++)
	{
		free(t->part_grad[k]);
		free(t->part_gblocks[k]);
	}
	free(t->mem);
	free(t->starts);
	free(t->tok);
	free(t->att_off);
	free(t->keep);
	free(t->pick);
	free(t->picked);
	free(t);
}

float *
sc_trainer_grads(sc_trainer *t)
{
	return t->grad;
}

void
sc_trainer_adam_state(sc_trainer *t, float **m, float **v, long **step)
{
	*m = t->adam_m;
	*v = t->adam_v;
	*step = &t->step;
}

/*
 * The optimizer step in parallel.  The flat buffer is cut into a fixed
 * number of chunks, so that the gradient norm (partial sums per chunk,
 * added in chunk order) does not depend on the number of threads.
 */
#define SC_UPDATE_CHUNKS 64

typedef struct update_job
{
	sc_trainer *t;
	int			phase;			/* 0: squares per chunk; 1: clip and AdamW */
	double		ss[SC_UPDATE_CHUNKS];
	float		clip, lr, logit_lr, wd;
} update_job;

static void
update_part(void *ctx, int k, int n)
{
	update_job *j = ctx;
	sc_trainer *t = j->t;
	size_t		N = t->m->owned_count, q, i;
	int			c0 = SC_UPDATE_CHUNKS * k / n, c1 = SC_UPDATE_CHUNKS * (k + 1) / n, c;
	size_t		a = N * c0 / SC_UPDATE_CHUNKS, b = N * c1 / SC_UPDATE_CHUNKS;
	sc_adamw	hp = {0.9f, 0.98f, 1e-6f};

	if (j->phase == 0)
	{
		for (c = c0; c < c1; c++)
		{
			double		ss = 0.0;

			for (i = N * c / SC_UPDATE_CHUNKS; i < N * (c + 1) / SC_UPDATE_CHUNKS; i++)
				ss += (double) t->grad[i] * t->grad[i];
			j->ss[c] = ss;
		}
		return;
	}
	if (j->clip != 1.0f)
		for (i = a; i < b; i++)
			t->grad[i] *= j->clip;
	for (q = 0; q < t->nspans; q++)
	{
		size_t		lo = t->span_off[q], hi = lo + t->span_n[q];
		int			is_scale = lo == t->logit_off;

		lo = lo > a ? lo : a;
		hi = hi < b ? hi : b;
		if (lo >= hi)
			continue;
		sc_adamw_update(t->m->owned + lo, t->grad + lo, t->adam_m + lo, t->adam_v + lo, hi - lo, &hp,
						is_scale ? j->logit_lr : j->lr,
						t->span_decay[q] && !is_scale ? j->wd : 0.0f, t->step);
	}
}

double
sc_trainer_update(sc_trainer *t, float lr, float logit_lr, float wd, double max_norm, float logit_cap)
{
	update_job	j;
	float	   *ls = t->m->owned + t->logit_off;
	double		ss = 0.0, norm;
	int			c;

	j.t = t;
	j.phase = 0;
	sc_run_parts(t, update_part, &j);
	for (c = 0; c < SC_UPDATE_CHUNKS; c++)
		ss += j.ss[c];
	norm = sqrt(ss);
	/* torch.nn.utils.clip_grad_norm_ */
	j.clip = max_norm > 0.0 && norm > max_norm ? (float) (max_norm / (norm + 1e-6)) : 1.0f;
	j.lr = lr;
	j.logit_lr = logit_lr;
	j.wd = wd;
	j.phase = 1;
	t->step++;
	sc_run_parts(t, update_part, &j);
	if (logit_cap > 0.0f && *ls > logf(logit_cap))
		*ls = logf(logit_cap);
	if (*ls < 0.0f)
		*ls = 0.0f;
	return norm;
}

void
sc_trainer_fire_counts(sc_trainer *t, float **image, float **text)
{
	int			S = t->m->cfg.sparse_dim;

	*image = S > 0 ? t->fire_img : NULL;
	*text = S > 0 ? t->fire_txt : NULL;
}

/* one side of sc_trainer_reinit_dead */
static int
reinit_side(sc_trainer *t, float *w, float *fire, const float *y, uint64_t seed)
{
	int			S = t->m->cfg.sparse_dim, E = t->m->cfg.embed_dim, j, k, alive = 0, n = 0;
	double		norm_sum = 0.0, all_sum = 0.0, target;

	for (j = 0; j < S; j++)
	{
		double		ss = 0.0;

		for (k = 0; k < E; k++)
			ss += (double) w[(size_t) j * E + k] * w[(size_t) j * E + k];
		all_sum += sqrt(ss);
		if (fire[j] > 0.0f)
		{
			norm_sum += sqrt(ss);
			alive++;
		}
	}
	target = 0.2 * (alive > 0 ? norm_sum / alive : all_sum / S);
	/* the batch mean of the projections, unit length */
	{
		double		mn = 0.0;
		int			b;

		for (k = 0; k < E; k++)
		{
			double		m = 0.0;

			for (b = 0; b < t->lastB; b++)
				m += y[(size_t) b * E + k];
			t->mean_y[k] = (float) (m / t->lastB);
			mn += (double) t->mean_y[k] * t->mean_y[k];
		}
		for (k = 0; k < E; k++)
			t->mean_y[k] = mn > 0.0 ? (float) (t->mean_y[k] / sqrt(mn)) : 0.0f;
	}
	for (j = 0; j < S; j++)
	{
		uint64_t	r;
		const float *yb;
		float	   *row = w + (size_t) j * E;
		size_t		off = (size_t) (row - t->m->owned);
		double		yn = 0.0, along = 0.0;
		const float *mu = t->mean_y;

		if (fire[j] > 0.0f)
			continue;
		/* splitmix64 of (seed, dimension): which pair's projection to point at */
		r = seed + 0x9E3779B97F4A7C15ULL * (uint64_t) (j + 1);
		r = (r ^ (r >> 30)) * 0xBF58476D1CE4E5B9ULL;
		r = (r ^ (r >> 27)) * 0x94D049BB133111EBULL;
		r ^= r >> 31;
		yb = y + (size_t) (r % (uint64_t) t->lastB) * E;
		/*
		 * Point at the pair's projection less its part along the batch mean:
		 * the projections share a large common part early on, so a row along
		 * the pair itself would fire for nearly every input; orthogonal to
		 * the mean it fires for the inputs that lean the pair's way.
		 */
		for (k = 0; k < E; k++)
			along += (double) yb[k] * mu[k];
		for (k = 0; k < E; k++)
		{
			double		v = yb[k] - along * mu[k];

			yn += v * v;
		}
		if (!(yn > 1e-12 * (along * along + 1e-30)))
		{
			along = 0.0;		/* the pair is the mean (one pair): along the pair */
			yn = 0.0;
			for (k = 0; k < E; k++)
				yn += (double) yb[k] * yb[k];
		}
		if (!(yn > 0.0))
			continue;
		for (k = 0; k < E; k++)
			row[k] = (float) ((yb[k] - along * mu[k]) / sqrt(yn) * target);
		memset(t->adam_m + off, 0, (size_t) E * sizeof(float));
		memset(t->adam_v + off, 0, (size_t) E * sizeof(float));
		n++;
	}
	memset(fire, 0, (size_t) S * sizeof(float));
	return n;
}

void
sc_trainer_reinit_dead(sc_trainer *t, uint64_t seed, int *n_image, int *n_text)
{
	*n_image = *n_text = 0;
	if (t->m->cfg.sparse_dim <= 0 || t->lastB < 1)
		return;
	*n_image = reinit_side(t, t->m->p.sparse_visual, t->fire_img, t->hv.y, seed * 2);
	*n_text = reinit_side(t, t->m->p.sparse_text, t->fire_txt, t->ht.y, seed * 2 + 1);
}

static int
mark_dead(float *dead, float *fire, int S)
{
	int			j, n = 0;

	for (j = 0; j < S; j++)
	{
		dead[j] = fire[j] > 0.0f ? 0.0f : 1.0f;
		n += fire[j] <= 0.0f;
	}
	memset(fire, 0, (size_t) S * sizeof(float));
	return n;
}

void
sc_trainer_aux_window(sc_trainer *t, int *n_image, int *n_text)
{
	int			S = t->m->cfg.sparse_dim;

	*n_image = *n_text = 0;
	if (S <= 0)
		return;
	*n_image = mark_dead(t->dead_img, t->fire_img, S);
	*n_text = mark_dead(t->dead_txt, t->fire_txt, S);
}

void
sc_trainer_aux_dead(sc_trainer *t, float **image, float **text)
{
	int			S = t->m->cfg.sparse_dim;

	*image = S > 0 ? t->dead_img : NULL;
	*text = S > 0 ? t->dead_txt : NULL;
}

void
sc_trainer_set_threads(sc_trainer *t, int threads)
{
	const sc_config *c = &t->m->cfg;
	int			k, nb = c->vision_layers + c->text_layers;

	threads = threads < 1 ? 1 : (threads > SC_MAX_THREADS ? SC_MAX_THREADS : threads);
	/* each further thread its own block gradients (calloc: untouched pages cost nothing) */
	for (k = 1; k < threads; k++)
	{
		sc_params	view;

		if (t->part_grad[k])
			continue;
		t->part_grad[k] = calloc(t->m->owned_count, sizeof(float));
		t->part_gblocks[k] = calloc((size_t) nb, sizeof(sc_block));
		if (!t->part_grad[k] || !t->part_gblocks[k] ||
			grad_view(t->m, t->part_grad[k], &view, t->part_gblocks[k]) < 0)
		{
			free(t->part_grad[k]);
			free(t->part_gblocks[k]);
			t->part_grad[k] = NULL;
			t->part_gblocks[k] = NULL;
			break;				/* out of memory: as many threads as have buffers */
		}
	}
	t->threads = k < threads ? k : threads;
}

/* ---------- parallel loops ---------- */

typedef struct part_job
{
	part_fn		fn;
	void	   *ctx;
	int			part, nparts;
} part_job;

static void *
part_entry(void *arg)
{
	part_job   *j = arg;

	j->fn(j->ctx, j->part, j->nparts);
	return NULL;
}

/*
 * fn(ctx, k, n) for k = 0 .. n-1 at once, n = the trainer's threads, part 0
 * on the calling thread.  Meant for many small independent pieces (the
 * attention of each sequence, elementwise loops), which OpenBLAS's own
 * threads handle badly: OpenBLAS runs single-threaded inside, and gets the
 * trainer's thread count back afterwards.
 */
void
sc_run_parts(const sc_trainer *t, part_fn fn, void *ctx)
{
	int			n = t->threads, k;
	pthread_t	th[SC_MAX_THREADS];
	part_job	jobs[SC_MAX_THREADS];
	int			started[SC_MAX_THREADS];

	if (n <= 1)
	{
		fn(ctx, 0, 1);
		return;
	}
	openblas_set_num_threads(1);
	for (k = 1; k < n; k++)
	{
		jobs[k].fn = fn;
		jobs[k].ctx = ctx;
		jobs[k].part = k;
		jobs[k].nparts = n;
		started[k] = pthread_create(&th[k], NULL, part_entry, &jobs[k]) == 0;
		if (!started[k])
			fn(ctx, k, n);		/* no thread to be had: do it here */
	}
	fn(ctx, 0, n);
	for (k = 1; k < n; k++)
		if (started[k])
			pthread_join(th[k], NULL);
	openblas_set_num_threads(n);
}
