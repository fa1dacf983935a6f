/*
 * train_step.c - one training batch (sc_trainer_batch): both towers forward
 * with saved activations, the heads (and their sparsity), the loss, and
 * both towers backward, each tower's rows split over the trainer's threads;
 * see train_model.h.
 *
 * Text rows are packed: each caption runs only up to its end-of-text token
 * (the causal mask makes later tokens irrelevant, as in sc_encode_texts).
 *
 * Apart from train_model.c, which owns the trainer's state and the
 * optimizer: this file is the per-batch compute, llm.c style, one
 * forward/backward pair per stage.
 */
#include "train_model.h"
#include "train_state.h"
#include "train_loss.h"
#include "layers.h"
#include "layers_backward.h"
#include "errmsg.h"

#include <cblas.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

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

	sc_run_parts(t, tower_part, &j);
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
		sc_run_parts(t, fold_part, &j);
	}
}

/* ---------- heads ---------- */

static int
any_set(const float *mask, int n)
{
	int			j;

	for (j = 0; j < n; j++)
		if (mask[j] > 0.0f)
			return 1;
	return 0;
}

/* whether the batch trains AuxK: a TopK head with a weight */
static int
aux_on(const sc_train_opts *o, int S)
{
	return S > 0 && o->sparsity == SC_SPARSITY_TOPK && o->aux > 0.0f && o->aux_k > 0;
}

/*
 * pooled rows -> normalised embedding; returns the penalty added to the
 * loss.  With AuxK, h->aux gets each row's TopK outputs plus its aux_k
 * largest ReLU outputs among the dead dimensions (taken before TopK drops
 * them), and h->auxout those rows normalised.
 */
static double
head_forward(head *h, const float *proj, const float *sparse_w, int B, int C, int E, int S,
			 const sc_train_opts *o, float *fire, const float *dead, double *l0)
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
		if (aux_on(o, S))
		{
			for (i = 0; i < B * S; i++)
				h->aux[i] = dead[i % S] > 0.0f ? h->z[i] : 0.0f;
			sc_topk_forward(h->aux, B, S, o->aux_k);
		}
		if (o->sparsity == SC_SPARSITY_TOPK)
			sc_topk_forward(h->z, B, S, o->topk);
		if (aux_on(o, S))
		{
			/*
			 * with the row's own TopK outputs, normalised together: a dead
			 * dimension gains weight against the live ones where it helps
			 * tell the pairs apart (AuxK's residual, for a contrastive loss)
			 */
			for (i = 0; i < B * S; i++)
				if (h->z[i] > 0.0f)
					h->aux[i] = h->z[i];
			memcpy(h->auxout, h->aux, (size_t) B * S * sizeof(float));
			sc_l2norm_forward(h->auxout, B, S);
		}
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

/*
 * h->dout set (and h->auxd when aux_used); fills h->dpooled and the head's
 * parameter gradients
 */
static void
head_backward(head *h, const float *proj, const float *sparse_w, float *gproj, float *gsparse,
			  int B, int C, int E, int S, const sc_train_opts *o, int aux_used)
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
		if (aux_used)
		{
			/* through the aux rows' normalisation (auxout is free now), then their selection */
			memset(h->auxout, 0, (size_t) B * S * sizeof(float));
			sc_l2norm_backward(h->auxout, h->aux, h->auxd, B, S);
			for (i = 0; i < B * S; i++)
				if (h->aux[i] > 0.0f)
					h->dz[i] += o->aux * h->auxout[i];
		}
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
	int			aux_used;
	sc_train_opts relu_opts = {.sparsity = SC_SPARSITY_RELU};
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
	sc_run_parts(t, zero_grad_part, t);

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
							t->fire_img, t->dead_img, &st->image_l0);
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
							t->fire_txt, t->dead_txt, &st->text_l0);
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
	st->pos_cos = sc_align_loss(t->hv.out, t->ht.out, B, D, o->align, t->hv.dout, t->ht.dout);
	pen += o->align * (1.0 - st->pos_cos);
	/* AuxK: the dead dimensions' own InfoNCE, once both sides have some */
	st->aux = st->aux_l0 = 0.0;
	aux_used = 0;
	if (aux_on(o, SD) && any_set(t->dead_img, SD) && any_set(t->dead_txt, SD))
	{
		memset(t->hv.auxd, 0, (size_t) B * SD * sizeof(float));
		memset(t->ht.auxd, 0, (size_t) B * SD * sizeof(float));
		st->aux = sc_clip_loss_groups(t->hv.auxout, t->ht.auxout, B, SD, p->logit_scale[0], o->group,
									  t->hv.auxd, t->ht.auxd, NULL, t->loss_scratch, NULL);
		for (i = 0; i < B * SD; i++)
			st->aux_l0 += (t->hv.aux[i] > 0.0f) + (t->ht.aux[i] > 0.0f);
		st->aux_l0 /= B;
		pen += o->aux * st->aux;
		aux_used = 1;
	}
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
					  B, TC, E, SD, o, aux_used);
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
					  B, VC, E, SD, o, aux_used);
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
