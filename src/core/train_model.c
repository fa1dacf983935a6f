/*
 * train_model.c - both towers forward with saved activations, the loss, and
 * both towers backward; see train_model.h.
 *
 * Layout: each tower keeps, per block, the tensors its backward pass reads
 * (inputs of every layer norm and matmul, their statistics, attention
 * weights, the MLP pre-activation), stacked over the blocks.  Text rows are
 * packed: each caption runs only up to its end-of-text token (the causal
 * mask makes later tokens irrelevant, as in sc_encode_texts).
 */
#include "train_model.h"
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


/* Saved activations of one tower's blocks over R rows of width C. */
typedef struct tower
{
	int			L, C, NH, maxR;
	size_t		att_cap;		/* floats of attention weights per block */
	float	   *x;				/* [L+1][R, C]: input of each block, then the output */
	float	   *ln1, *ln1_m, *ln1_r;
	float	   *qkv;			/* [L][R, 3C] */
	float	   *att;			/* [L][att_cap] */
	float	   *ao;				/* [L][R, C] attention output before out_proj */
	float	   *xm;				/* [L][R, C] stream after the attention residual */
	float	   *ln2, *ln2_m, *ln2_r;
	float	   *fch;			/* [L][R, 4C] MLP pre-activation */
	float	   *fcg;			/* [L][R, 4C] MLP activation */
} tower;

/* Head activations of one tower over B rows. */
typedef struct head
{
	float	   *pool_in;		/* [B, C] final stream row that is pooled */
	float	   *pool_m, *pool_r;
	float	   *pooled;			/* [B, C] after the final layer norm */
	float	   *y;				/* [B, E] projection */
	float	   *z;				/* [B, S] sparse code before normalisation (sparse models) */
	float	   *out;			/* [B, D] normalised embedding */
	float	   *dout, *dz, *dy, *dpooled;
} head;

#define SC_MAX_THREADS 64

struct sc_trainer
{
	sc_model   *m;
	int			threads;		/* for the trainer's own parallel loops */
	/* threads 1.. accumulate their block gradients apart (laid out like grad) */
	float	   *part_grad[SC_MAX_THREADS];
	sc_block   *part_gblocks[SC_MAX_THREADS];	/* vision blocks, then text blocks */
	size_t		block_lo[2], block_hi[2];	/* extent of the vision and text blocks in grad */
	int			maxB;
	float	   *grad;			/* flat, m->owned_count */
	float	   *adam_m, *adam_v;	/* AdamW moments, flat */
	long		step;			/* optimizer steps done */
	size_t		nspans;			/* parameter tensors: offset, length, decayed or not */
	size_t	   *span_off, *span_n;
	char	   *span_decay;
	size_t		logit_off;
	sc_params	g;				/* gradient view, same layout as m->p */
	sc_block   *gblocks;
	tower		vis, txt;
	head		hv, ht;
	/* vision front */
	float	   *patches;		/* [B*G*G, 3PP] */
	float	   *emb;			/* [B*G*G, C] patch embeddings */
	float	   *xe;				/* [B*T, C] before ln_pre */
	float	   *pre_m, *pre_r;
	int		   *keep;			/* [B*G*G] kept patch indices per image, ascending (patch dropout) */
	int		   *pick;			/* [G*G] scratch for drawing them */
	char	   *picked;			/* [G*G] */
	/* text packing */
	int		   *starts, *eff, *tok;		/* per caption; tok: packed token ids */
	size_t	   *att_off;		/* per sequence offset into a block's attention weights */
	/* backward scratch, sized for the larger tower */
	float	   *dx, *dln, *dqkv, *dao, *dfcg, *dfch, *datt;	/* datt: one T*T per thread */
	size_t		att_stride;
	float	   *loss_scratch;	/* 2 B^2, and at least D for the FLOPS batch means */
	float	   *topk_scratch;	/* S */
	float	   *fire_img, *fire_txt;	/* S each: rows that had the dimension non-zero */
	int			lastB;			/* pairs in the last batch (their projections are in hv.y, ht.y) */
	void	   *mem;			/* one allocation holding all floats */
};

/* fn(ctx, k, n) on the trainer's n threads at once (below) */
typedef void (*part_fn) (void *ctx, int part, int nparts);
static void run_parts(const sc_trainer *t, part_fn fn, void *ctx);

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
	return (size_t) B * (C + 2 + C + E + S + D + D + S + E + C);
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
		scratch_rc * (1 + 1 + 3 + 1 + 4 + 4) + mx_att * SC_MAX_THREADS + loss_n + (size_t) (S > E ? S : E) + 2 * (size_t) (S > 0 ? S : 1);
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
	t->topk_scratch = carve(&p, (size_t) (S > E ? S : E));	/* top-k rows; the mean projection */
	t->fire_img = carve(&p, (size_t) (S > 0 ? S : 1));
	t->fire_txt = carve(&p, (size_t) (S > 0 ? S : 1));
	memset(t->fire_img, 0, (size_t) (S > 0 ? S : 1) * sizeof(float));
	memset(t->fire_txt, 0, (size_t) (S > 0 ? S : 1) * sizeof(float));
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
	run_parts(t, update_part, &j);
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
	run_parts(t, update_part, &j);
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
			t->topk_scratch[k] = (float) (m / t->lastB);
			mn += (double) t->topk_scratch[k] * t->topk_scratch[k];
		}
		for (k = 0; k < E; k++)
			t->topk_scratch[k] = mn > 0.0 ? (float) (t->topk_scratch[k] / sqrt(mn)) : 0.0f;
	}
	for (j = 0; j < S; j++)
	{
		uint64_t	r;
		const float *yb;
		float	   *row = w + (size_t) j * E;
		size_t		off = (size_t) (row - t->m->owned);
		double		yn = 0.0, along = 0.0;
		const float *mu = t->topk_scratch;

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
static void
run_parts(const sc_trainer *t, part_fn fn, void *ctx)
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

/* ---------- blocks ---------- */

/*
 * nseq sequences: sequence s has rows starts[s] .. starts[s]+lens[s]-1 and
 * its attention weights at att_off[s] within a block's att.
 */
typedef struct seqs
{
	int			n;
	const int  *starts, *lens;
	const size_t *att_off;
	int			causal;
} seqs;

/*
 * The blocks forward over sequences lo..hi-1, whose rows r0 .. r0+nr-1 are
 * contiguous.  One call per thread: the threads split a tower's batch by
 * sequences and each runs the whole stack on its rows, with OpenBLAS on one
 * thread (data parallel: no hand-over between threads inside the stack).
 */
static void
blocks_forward(tower *tw, const sc_block *blocks, int r0, int nr, const seqs *sq, int lo, int hi,
			   int act)
{
	int			C = tw->C, l, s;
	size_t		RC = (size_t) tw->maxR * C, Rm = (size_t) tw->maxR;
	size_t		o = (size_t) r0 * C;

	for (l = 0; l < tw->L; l++)
	{
		const sc_block *b = &blocks[l];
		float	   *x = tw->x + l * RC, *xn = tw->x + (l + 1) * RC;
		float	   *ln1 = tw->ln1 + l * RC, *qkv = tw->qkv + l * 3 * RC;
		float	   *att = tw->att + l * tw->att_cap, *ao = tw->ao + l * RC;
		float	   *xm = tw->xm + l * RC, *ln2 = tw->ln2 + l * RC;
		float	   *fch = tw->fch + l * 4 * RC, *fcg = tw->fcg + l * 4 * RC;

		sc_layernorm_forward(ln1 + o, tw->ln1_m + l * Rm + r0, tw->ln1_r + l * Rm + r0, x + o,
							 b->ln_1_w, b->ln_1_b, nr, C);
		sc_matmul_forward(qkv + 3 * o, ln1 + o, b->in_proj_w, b->in_proj_b, nr, C, 3 * C);
		for (s = lo; s < hi; s++)
			sc_attention_forward(ao + (size_t) sq->starts[s] * C, att + sq->att_off[s],
								 qkv + (size_t) sq->starts[s] * 3 * C, sq->lens[s], C, tw->NH, sq->causal);
		/* out_proj output goes to xm, then the residual is added in place */
		sc_matmul_forward(xm + o, ao + o, b->out_proj_w, b->out_proj_b, nr, C, C);
		sc_residual_forward(xm + o, xm + o, x + o, nr * C);
		sc_layernorm_forward(ln2 + o, tw->ln2_m + l * Rm + r0, tw->ln2_r + l * Rm + r0, xm + o,
							 b->ln_2_w, b->ln_2_b, nr, C);
		sc_matmul_forward(fch + 4 * o, ln2 + o, b->c_fc_w, b->c_fc_b, nr, C, 4 * C);
		if (act == SC_GELU)
			sc_gelu_forward(fcg + 4 * o, fch + 4 * o, nr * 4 * C);
		else
			sc_quick_gelu_forward(fcg + 4 * o, fch + 4 * o, nr * 4 * C);
		sc_matmul_forward(xn + o, fcg + 4 * o, b->c_proj_w, b->c_proj_b, nr, 4 * C, C);
		sc_residual_forward(xn + o, xn + o, xm + o, nr * C);
	}
}

/*
 * The blocks backward over the same split; t->dx rows r0.. hold the
 * gradient of the tower output on entry and of its input on return.  The
 * weight gradients go to gblocks (this thread's own copy), the attention
 * scratch is part's.
 */
static void
blocks_backward(sc_trainer *t, tower *tw, const sc_block *blocks, sc_block *gblocks, int r0, int nr,
				const seqs *sq, int lo, int hi, int act, int part)
{
	int			C = tw->C, l, s;
	size_t		RC = (size_t) tw->maxR * C, Rm = (size_t) tw->maxR;
	size_t		o = (size_t) r0 * C, rc = (size_t) nr * C;
	float	   *dx = t->dx + o, *dln = t->dln + o, *dqkv = t->dqkv + 3 * o, *dao = t->dao + o;
	float	   *dfcg = t->dfcg + 4 * o, *dfch = t->dfch + 4 * o;
	float	   *scratch = t->datt + (size_t) part * t->att_stride;

	for (l = tw->L - 1; l >= 0; l--)
	{
		const sc_block *b = &blocks[l];
		sc_block   *gb = &gblocks[l];
		float	   *x = tw->x + l * RC + o;
		float	   *ln1 = tw->ln1 + l * RC + o, *qkv = tw->qkv + l * 3 * RC;
		float	   *att = tw->att + l * tw->att_cap, *ao = tw->ao + l * RC + o;
		float	   *xm = tw->xm + l * RC + o, *ln2 = tw->ln2 + l * RC + o;
		float	   *fch = tw->fch + l * 4 * RC + 4 * o, *fcg = tw->fcg + l * 4 * RC + 4 * o;

		/* MLP: dx stays as the residual branch's gradient, MLP adds to it */
		memset(dfcg, 0, 4 * rc * sizeof(float));
		sc_matmul_backward(dfcg, gb->c_proj_w, gb->c_proj_b, dx, fcg, b->c_proj_w, nr, 4 * C, C);
		memset(dfch, 0, 4 * rc * sizeof(float));
		if (act == SC_GELU)
			sc_gelu_backward(dfch, fch, dfcg, nr * 4 * C);
		else
			sc_quick_gelu_backward(dfch, fch, dfcg, nr * 4 * C);
		memset(dln, 0, rc * sizeof(float));
		sc_matmul_backward(dln, gb->c_fc_w, gb->c_fc_b, dfch, ln2, b->c_fc_w, nr, C, 4 * C);
		sc_layernorm_backward(dx, gb->ln_2_w, gb->ln_2_b, dln, xm, b->ln_2_w,
							  tw->ln2_m + l * Rm + r0, tw->ln2_r + l * Rm + r0, nr, C);
		/* attention */
		memset(dao, 0, rc * sizeof(float));
		sc_matmul_backward(dao, gb->out_proj_w, gb->out_proj_b, dx, ao, b->out_proj_w, nr, C, C);
		memset(dqkv, 0, 3 * rc * sizeof(float));
		for (s = lo; s < hi; s++)
			sc_attention_backward(t->dqkv + (size_t) sq->starts[s] * 3 * C, scratch,
								  t->dao + (size_t) sq->starts[s] * C,
								  qkv + (size_t) sq->starts[s] * 3 * C, att + sq->att_off[s],
								  sq->lens[s], C, tw->NH);
		memset(dln, 0, rc * sizeof(float));
		sc_matmul_backward(dln, gb->in_proj_w, gb->in_proj_b, dqkv, ln1, b->in_proj_w, nr, C, 3 * C);
		sc_layernorm_backward(dx, gb->ln_1_w, gb->ln_1_b, dln, x, b->ln_1_w,
							  tw->ln1_m + l * Rm + r0, tw->ln1_r + l * Rm + r0, nr, C);
	}
}

/* A tower's blocks, forward or backward, split over the trainer's threads. */
typedef struct tower_job
{
	sc_trainer *t;
	tower	   *tw;
	const sc_block *blocks;
	sc_block   *gblocks;		/* part 0's gradients (the trainer's own) */
	int			first_block;	/* index of the tower's first block in a part's gradient copy */
	const seqs *sq;
	int			R, act, backward;
} tower_job;

/* Sequences of part k of n: split where the rows are balanced. */
static void
split_seqs(const seqs *sq, int R, int k, int n, int *lo, int *hi)
{
	long		a = (long) R * k / n, b = (long) R * (k + 1) / n;
	int			s;

	for (s = 0; s < sq->n && sq->starts[s] < a; s++)
		;
	*lo = s;
	for (; s < sq->n && sq->starts[s] < b; s++)
		;
	*hi = k == n - 1 ? sq->n : s;
}

static void
tower_part(void *ctx, int k, int n)
{
	tower_job  *j = ctx;
	int			lo, hi, r0, nr;

	split_seqs(j->sq, j->R, k, n, &lo, &hi);
	if (lo >= hi)
		return;
	r0 = j->sq->starts[lo];
	nr = j->sq->starts[hi - 1] + j->sq->lens[hi - 1] - r0;
	if (!j->backward)
		blocks_forward(j->tw, j->blocks, r0, nr, j->sq, lo, hi, j->act);
	else
		blocks_backward(j->t, j->tw, j->blocks,
						k == 0 ? j->gblocks : j->t->part_gblocks[k] + j->first_block,
						r0, nr, j->sq, lo, hi, j->act, k);
}

static void
tower_run(sc_trainer *t, tower *tw, const sc_block *blocks, sc_block *gblocks, int first_block,
		  int R, const seqs *sq, int act, int backward)
{
	tower_job	j = {t, tw, blocks, gblocks, first_block, sq, R, act, backward};

	run_parts(t, tower_part, &j);
}

/* Fold the threads' block gradients into the trainer's, and clear them for the next batch. */
typedef struct fold_job
{
	sc_trainer *t;
	size_t		lo, hi;
} fold_job;

static void
fold_part(void *ctx, int k, int n)
{
	fold_job   *j = ctx;
	size_t		len = j->hi - j->lo;
	size_t		a = j->lo + len * k / n, b = j->lo + len * (k + 1) / n, i;
	int			q;

	for (q = 1; q < j->t->threads; q++)
	{
		float	   *pg = j->t->part_grad[q];

		for (i = a; i < b; i++)
		{
			j->t->grad[i] += pg[i];
			pg[i] = 0.0f;
		}
	}
}

static void
fold_grads(sc_trainer *t)
{
	fold_job	j;
	int			r;

	if (t->threads <= 1)
		return;
	for (r = 0; r < 2; r++)
	{
		j.t = t;
		j.lo = t->block_lo[r];
		j.hi = t->block_hi[r];
		run_parts(t, fold_part, &j);
	}
}

/* ---------- heads ---------- */

/* keep the k largest entries of each row of z (non-negative after ReLU) */
static void
topk_rows(float *z, float *scratch, int B, int S, int k)
{
	int			b, i;

	if (k >= S)
		return;
	for (b = 0; b < B; b++)
	{
		float	   *r = z + (size_t) b * S;
		int			lo = 0, hi = S - 1, want = k - 1;
		float		thr;
		int			kept = 0;

		memcpy(scratch, r, (size_t) S * sizeof(float));
		/* quickselect for the k-th largest */
		while (lo < hi)
		{
			float		pivot = scratch[(lo + hi) / 2];
			int			a = lo, c = hi;

			while (a <= c)
			{
				while (scratch[a] > pivot)
					a++;
				while (scratch[c] < pivot)
					c--;
				if (a <= c)
				{
					float		tmp = scratch[a];

					scratch[a] = scratch[c];
					scratch[c] = tmp;
					a++;
					c--;
				}
			}
			if (want <= c)
				hi = c;
			else if (want >= a)
				lo = a;
			else
				break;
		}
		thr = scratch[want];
		/* ties at the threshold: the lower dimensions win, exactly k survive */
		for (i = 0; i < S; i++)
		{
			if (r[i] > thr)
				kept++;
		}
		for (i = 0; i < S; i++)
		{
			if (r[i] > thr)
				continue;
			if (r[i] == thr && kept < k && thr > 0.0f)
			{
				kept++;
				continue;
			}
			r[i] = 0.0f;
		}
	}
}

/* pooled rows -> normalised embedding; returns the penalty added to the loss */
static double
head_forward(head *h, const float *proj, const float *sparse_w, int B, int C, int E, int S,
			 const sc_train_opts *o, float *topk_scratch, float *fire, double *l0)
{
	int			D = S > 0 ? S : E, i;
	double		pen = 0.0;
	size_t		nz = 0;

	cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, B, E, C,
				1.0f, h->pooled, C, proj, E, 0.0f, h->y, E);
	if (S > 0)
	{
		sc_matmul_forward(h->z, h->y, sparse_w, NULL, B, E, S);
		sc_relu_forward(h->z, h->z, B * S);
		if (o->sparsity == SC_SPARSITY_TOPK)
			topk_rows(h->z, topk_scratch, B, S, o->topk);
		if (o->sparsity == SC_SPARSITY_L1)
		{
			for (i = 0; i < B * S; i++)
				pen += h->z[i];
			pen *= o->l1 / B;
		}
		memcpy(h->out, h->z, (size_t) B * S * sizeof(float));
	}
	else
		memcpy(h->out, h->y, (size_t) B * E * sizeof(float));
	sc_l2norm_forward(h->out, B, D);
	for (i = 0; i < B * D; i++)
		nz += h->out[i] != 0.0f;
	*l0 = (double) nz / B;
	if (S > 0)
		for (i = 0; i < B * S; i++)
			fire[i % S] += h->out[i] != 0.0f;
	return pen;
}

/* h->dout set; fills h->dpooled and the head's parameter gradients */
static void
head_backward(head *h, const float *proj, const float *sparse_w, float *gproj, float *gsparse,
			  int B, int C, int E, int S, const sc_train_opts *o)
{
	int			i;

	memset(h->dy, 0, (size_t) B * E * sizeof(float));
	if (S > 0)
	{
		memset(h->dz, 0, (size_t) B * S * sizeof(float));
		sc_l2norm_backward(h->dz, h->z, h->dout, B, S);
		if (o->sparsity == SC_SPARSITY_L1)
		{
			float		g = o->l1 / B;

			for (i = 0; i < B * S; i++)
				h->dz[i] += g;
		}
		/* through the ReLU (and top-k): dz becomes the pre-activation gradient */
		for (i = 0; i < B * S; i++)
			if (!(h->z[i] > 0.0f))
				h->dz[i] = 0.0f;
		sc_matmul_backward(h->dy, gsparse, NULL, h->dz, h->y, sparse_w, B, E, S);
	}
	else
		sc_l2norm_backward(h->dy, h->y, h->dout, B, E);
	/* y = pooled @ proj, proj [C, E] */
	cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, C, E, B,
				1.0f, h->pooled, C, h->dy, E, 1.0f, gproj, E);
	cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, B, C, E,
				1.0f, h->dy, E, proj, E, 0.0f, h->dpooled, C);
}

/* ---------- patch dropout ---------- */

static uint64_t
mix64(uint64_t x)
{
	x += 0x9E3779B97F4A7C15ULL;
	x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ULL;
	x = (x ^ (x >> 27)) * 0x94D049BB133111EBULL;
	return x ^ (x >> 31);
}

/*
 * The K of GG patches each image keeps, ascending, into t->keep[b*K ..]:
 * a partial Fisher-Yates shuffle drawn from (seed, b).  All of them, in
 * order, when K == GG.
 */
static void
choose_patches(sc_trainer *t, int B, int GG, int K, uint64_t seed)
{
	int			b, k, n;

	for (b = 0; b < B; b++)
	{
		int		   *kb = t->keep + (size_t) b * K;

		if (K >= GG)
		{
			for (k = 0; k < GG; k++)
				kb[k] = k;
			continue;
		}
		{
			uint64_t	r = mix64(seed ^ mix64((uint64_t) b + 1));

			for (k = 0; k < GG; k++)
			{
				t->pick[k] = k;
				t->picked[k] = 0;
			}
			for (k = 0; k < K; k++)
			{
				int			j, tmp;

				r = mix64(r);
				j = k + (int) (r % (uint64_t) (GG - k));
				tmp = t->pick[k];
				t->pick[k] = t->pick[j];
				t->pick[j] = tmp;
				t->picked[t->pick[k]] = 1;
			}
			for (k = 0, n = 0; k < GG; k++)
				if (t->picked[k])
					kb[n++] = k;
		}
	}
}

static void
zero_grad_part(void *ctx, int k, int n)
{
	sc_trainer *t = ctx;
	size_t		N = t->m->owned_count, a = N * k / n, b = N * (k + 1) / n;

	memset(t->grad + a, 0, (b - a) * sizeof(float));
}

/* ---------- the batch ---------- */

int
sc_trainer_batch(sc_trainer *t, const float *images, const int32_t *const *ids,
				 const int *lens, int B, const sc_train_opts *opts,
				 sc_batch_stats *st, float *img_out, float *txt_out,
				 char *err, size_t errlen)
{
	sc_model   *m = t->m;
	const sc_config *c = &m->cfg;
	const sc_params *p = &m->p;
	sc_params  *g = &t->g;
	int			S = c->image_size, P = c->patch_size, G = S / P, T, GG = G * G, K = GG, k;
	int			PP = 3 * P * P;
	int			VC = c->vision_width, TC = c->text_width, E = c->embed_dim, SD = c->sparse_dim;
	int			D = SD > 0 ? SD : E, Lc = c->context_length;
	int			b, i, tt, R;
	size_t		img = (size_t) 3 * S * S;
	int			vstarts_buf[1];
	seqs		sq;
	double		pen = 0.0, acc = 0.0;
	sc_train_opts relu_opts = {SC_SPARSITY_RELU, 0, 0.0f, 0.0f, NULL, 0.0f, 0};
	const sc_train_opts *o = opts ? opts : &relu_opts;

	(void) vstarts_buf;
	if (B < 2 || B > t->maxB)
	{
		sc_seterr(err, errlen, "trainer: batch of %d pairs; 2 to %d allowed", B, t->maxB);
		return -1;
	}
	if (o->sparsity == SC_SPARSITY_TOPK && SD > 0 && o->topk < 1)
	{
		sc_seterr(err, errlen, "trainer: top-k needs k >= 1");
		return -1;
	}
	for (b = 0; b < B; b++)
	{
		int			best = 0;

		if (lens[b] < 1 || lens[b] > Lc)
		{
			sc_seterr(err, errlen, "trainer: caption %d has %d tokens; 1 to %d allowed", b, lens[b], Lc);
			return -1;
		}
		for (tt = 0; tt < lens[b]; tt++)
		{
			if (ids[b][tt] < 0 || ids[b][tt] >= c->vocab_size)
			{
				sc_seterr(err, errlen, "trainer: caption %d has token id %d outside 0..%d",
					   b, (int) ids[b][tt], c->vocab_size - 1);
				return -1;
			}
			if (ids[b][tt] > ids[b][best])
				best = tt;
		}
		t->eff[b] = best + 1;
	}
	run_parts(t, zero_grad_part, t);

	/* ---- vision forward ---- */
	/* patch dropout: each image keeps K of its GG patches (with their positions), T = K + 1 tokens */
	if (o->patch_dropout > 0.0f)
	{
		K = (int) ((float) GG * (1.0f - o->patch_dropout));
		K = K < 1 ? 1 : (K > GG ? GG : K);
	}
	T = K + 1;
	choose_patches(t, B, GG, K, o->dropout_seed);
	R = B * T;
	for (b = 0; b < B; b++)
		sc_im2patch_forward(t->patches + (size_t) b * GG * PP, images + (size_t) b * img, S, P);
	if (K < GG)
		/* gather the kept rows to the front; each moves down or stays, in order */
		for (b = 0; b < B; b++)
			for (k = 0; k < K; k++)
				memmove(t->patches + ((size_t) b * K + k) * PP,
						t->patches + ((size_t) b * GG + t->keep[b * K + k]) * PP, PP * sizeof(float));
	sc_matmul_forward(t->emb, t->patches, p->v_conv1, NULL, B * K, PP, VC);
	for (b = 0; b < B; b++)
	{
		float	   *xb = t->xe + (size_t) b * T * VC;

		sc_residual_forward(xb, p->v_class_embedding, p->v_positional_embedding, VC);
		for (k = 0; k < K; k++)
			sc_residual_forward(xb + (size_t) (k + 1) * VC, t->emb + ((size_t) b * K + k) * VC,
								p->v_positional_embedding + (size_t) (1 + t->keep[b * K + k]) * VC, VC);
	}
	sc_layernorm_forward(t->vis.x, t->pre_m, t->pre_r, t->xe, p->v_ln_pre_w, p->v_ln_pre_b, R, VC);
	for (b = 0; b < B; b++)
	{
		t->starts[2 * B + b] = b * T;	/* vision starts live after eff */
		t->att_off[b] = (size_t) b * c->vision_heads * T * T;
	}
	{
		int		   *vst = t->starts + 2 * B;
		int		   *vlen = t->starts;	/* reused below for text; fill with T now */

		for (b = 0; b < B; b++)
			vlen[b] = T;
		sq.n = B;
		sq.starts = vst;
		sq.lens = vlen;
		sq.att_off = t->att_off;
		sq.causal = 0;
		tower_run(t, &t->vis, p->v_blocks, NULL, 0, R, &sq, c->activation, 0);
		for (b = 0; b < B; b++)
			memcpy(t->hv.pool_in + (size_t) b * VC,
				   t->vis.x + (size_t) t->vis.L * t->vis.maxR * VC + (size_t) b * T * VC,
				   (size_t) VC * sizeof(float));
		sc_layernorm_forward(t->hv.pooled, t->hv.pool_m, t->hv.pool_r, t->hv.pool_in,
							 p->v_ln_post_w, p->v_ln_post_b, B, VC);
		pen += head_forward(&t->hv, p->v_proj, p->sparse_visual, B, VC, E, SD, o,
							t->topk_scratch, t->fire_img, &st->image_l0);
	}

	/* ---- text forward (packed rows) ---- */
	{
		int		   *tst = t->starts;	/* overwrite the vision lengths: vision is done */
		size_t		ao = 0;
		float	   *x0 = t->txt.x;

		R = 0;
		for (b = 0; b < B; b++)
		{
			tst[b] = R;
			t->att_off[b] = ao;
			ao += (size_t) c->text_heads * t->eff[b] * t->eff[b];
			for (tt = 0; tt < t->eff[b]; tt++)
			{
				t->tok[R + tt] = ids[b][tt];
				sc_residual_forward(x0 + (size_t) (R + tt) * TC,
									p->token_embedding + (size_t) ids[b][tt] * TC,
									p->positional_embedding + (size_t) tt * TC, TC);
			}
			R += t->eff[b];
		}
		sq.n = B;
		sq.starts = tst;
		sq.lens = t->eff;
		sq.att_off = t->att_off;
		sq.causal = 1;
		tower_run(t, &t->txt, p->t_blocks, NULL, 0, R, &sq, c->activation, 0);
		for (b = 0; b < B; b++)
			memcpy(t->ht.pool_in + (size_t) b * TC,
				   t->txt.x + (size_t) t->txt.L * t->txt.maxR * TC + (size_t) (tst[b] + t->eff[b] - 1) * TC,
				   (size_t) TC * sizeof(float));
		sc_layernorm_forward(t->ht.pooled, t->ht.pool_m, t->ht.pool_r, t->ht.pool_in,
							 p->ln_final_w, p->ln_final_b, B, TC);
		pen += head_forward(&t->ht, p->text_projection, p->sparse_text, B, TC, E, SD, o,
							t->topk_scratch, t->fire_txt, &st->text_l0);
		t->lastB = B;
	}

	/* ---- loss ---- */
	memset(t->hv.dout, 0, (size_t) B * D * sizeof(float));
	memset(t->ht.dout, 0, (size_t) B * D * sizeof(float));
	st->contrastive = sc_clip_loss_groups(t->hv.out, t->ht.out, B, D, p->logit_scale[0], o->group,
										  t->hv.dout, t->ht.dout, g->logit_scale, t->loss_scratch, &acc);
	/* FLOPS on each side's normalised embeddings, after the loss (its scratch is free) */
	st->flops_image = sc_flops_loss(t->hv.out, B, D, o->flops, t->hv.dout, t->loss_scratch);
	st->flops_text = sc_flops_loss(t->ht.out, B, D, o->flops, t->ht.dout, t->loss_scratch);
	pen += o->flops * (st->flops_image + st->flops_text);
	st->loss = st->contrastive + pen;
	st->accuracy = acc;
	if (img_out)
		memcpy(img_out, t->hv.out, (size_t) B * D * sizeof(float));
	if (txt_out)
		memcpy(txt_out, t->ht.out, (size_t) B * D * sizeof(float));

	/* ---- text backward (the text activations are the latest in the stream) ---- */
	{
		const int  *tst = t->starts;

		head_backward(&t->ht, p->text_projection, p->sparse_text, g->text_projection, g->sparse_text,
					  B, TC, E, SD, o);
		memset(t->dx, 0, (size_t) R * TC * sizeof(float));
		/* final layer norm of the pooled rows: gradient lands on those rows only */
		memset(t->dln, 0, (size_t) B * TC * sizeof(float));
		sc_layernorm_backward(t->dln, g->ln_final_w, g->ln_final_b, t->ht.dpooled, t->ht.pool_in,
							  p->ln_final_w, t->ht.pool_m, t->ht.pool_r, B, TC);
		for (b = 0; b < B; b++)
			sc_residual_backward(t->dx + (size_t) (tst[b] + t->eff[b] - 1) * TC, NULL,
								 t->dln + (size_t) b * TC, TC);
		sq.n = B;
		sq.starts = tst;
		sq.lens = t->eff;
		sq.att_off = t->att_off;
		sq.causal = 1;
		tower_run(t, &t->txt, p->t_blocks, g->t_blocks, c->vision_layers, R, &sq, c->activation, 1);
		for (b = 0; b < B; b++)
			for (tt = 0; tt < t->eff[b]; tt++)
			{
				const float *d = t->dx + (size_t) (tst[b] + tt) * TC;

				sc_residual_backward(g->token_embedding + (size_t) ids[b][tt] * TC,
									 g->positional_embedding + (size_t) tt * TC, d, TC);
			}
	}

	/* ---- vision backward ---- */
	{
		int		   *vst = t->starts + 2 * B;
		int		   *vlen = t->starts;

		R = B * T;
		for (b = 0; b < B; b++)
		{
			vlen[b] = T;
			t->att_off[b] = (size_t) b * c->vision_heads * T * T;
		}
		head_backward(&t->hv, p->v_proj, p->sparse_visual, g->v_proj, g->sparse_visual,
					  B, VC, E, SD, o);
		memset(t->dx, 0, (size_t) R * VC * sizeof(float));
		memset(t->dln, 0, (size_t) B * VC * sizeof(float));
		sc_layernorm_backward(t->dln, g->v_ln_post_w, g->v_ln_post_b, t->hv.dpooled, t->hv.pool_in,
							  p->v_ln_post_w, t->hv.pool_m, t->hv.pool_r, B, VC);
		for (b = 0; b < B; b++)
			sc_residual_backward(t->dx + (size_t) b * T * VC, NULL, t->dln + (size_t) b * VC, VC);
		sq.n = B;
		sq.starts = vst;
		sq.lens = vlen;
		sq.att_off = t->att_off;
		sq.causal = 0;
		tower_run(t, &t->vis, p->v_blocks, g->v_blocks, 0, R, &sq, c->activation, 1);
		/* ln_pre, then the embedding sums */
		memset(t->dln, 0, (size_t) R * VC * sizeof(float));
		sc_layernorm_backward(t->dln, g->v_ln_pre_w, g->v_ln_pre_b, t->dx, t->xe, p->v_ln_pre_w,
							  t->pre_m, t->pre_r, R, VC);
		for (b = 0; b < B; b++)
		{
			const float *d = t->dln + (size_t) b * T * VC;

			sc_residual_backward(g->v_class_embedding, g->v_positional_embedding, d, VC);
			for (k = 0; k < K; k++)
				sc_residual_backward(g->v_positional_embedding + (size_t) (1 + t->keep[b * K + k]) * VC,
									 NULL, d + (size_t) (k + 1) * VC, VC);
			/* patch rows gathered for one matmul backward over the batch */
			memcpy(t->emb + (size_t) b * K * VC, d + VC, (size_t) K * VC * sizeof(float));
		}
		sc_matmul_backward(NULL, g->v_conv1, NULL, t->emb, t->patches, p->v_conv1, B * K, PP, VC);
	}
	fold_grads(t);
	(void) i;
	return 0;
}
