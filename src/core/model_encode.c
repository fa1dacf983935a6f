/*
 * model_encode.c - the batched image and text encoders of a loaded model:
 * both towers forward over chunks of rows in a reusable workspace, then
 * the projection, ReLU and L2 normalisation of the sparse head.
 *
 * Apart from model.c (what a model is: config, parameters, file I/O)
 * because this is what runs per query and per row; see model.h.
 */
#include "errmsg.h"
#include "model.h"
#include "layers.h"

#include <cblas.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

void
sc_workspace_free(sc_workspace *ws)
{
	free(ws->buf);
	ws->buf = NULL;
	ws->cap = 0;
}

static int
ws_reserve(sc_workspace *ws, size_t bytes)
{
	if (ws->cap >= bytes)
		return 0;
	/* no realloc: the old contents are scratch, no need to copy them */
	free(ws->buf);
	ws->buf = malloc(bytes);
	ws->cap = ws->buf ? bytes : 0;
	return ws->buf ? 0 : -1;
}

/* Activation buffers for one chunk of R rows of width C. */
typedef struct acts
{
	float	   *x;				/* [R, C] residual stream */
	float	   *ln;				/* [R, C] */
	float	   *qkv;			/* [R, 3C] */
	float	   *ao;				/* [R, C] attention output */
	float	   *hid;			/* [R, 4C] MLP hidden */
	float	   *att;			/* [NH, T, T] for the longest sequence */
} acts;

static size_t
acts_floats(size_t R, size_t C, size_t NH, size_t T)
{
	return R * C * 10 + NH * T * T;
}

static void
acts_carve(acts *a, float *base, size_t R, size_t C)
{
	a->x = base;
	a->ln = a->x + R * C;
	a->qkv = a->ln + R * C;
	a->ao = a->qkv + R * 3 * C;
	a->hid = a->ao + R * C;
	a->att = a->hid + R * 4 * C;
}

static int
progress_says_stop(sc_progress_fn progress, void *arg, char *err, size_t errlen)
{
	if (progress && progress(arg) != 0)
	{
		sc_seterr(err, errlen, "cancelled");
		return 1;
	}
	return 0;
}

/*
 * Run a tower's blocks over R rows made of nseq sequences (start row and
 * length each; uniform length T when starts is NULL).
 */
static int
run_blocks(const sc_block *blocks, int L, const acts *a, int R, int C, int NH, int act,
		   int nseq, const int *starts, const int *lens, int T, int causal,
		   sc_progress_fn progress, void *arg, char *err, size_t errlen)
{
	int			l, s;

	for (l = 0; l < L; l++)
	{
		const sc_block *b = &blocks[l];

		if (progress_says_stop(progress, arg, err, errlen))
			return -1;
		sc_layernorm_forward(a->ln, NULL, NULL, a->x, b->ln_1_w, b->ln_1_b, R, C);
		sc_matmul_forward(a->qkv, a->ln, b->in_proj_w, b->in_proj_b, R, C, 3 * C);
		for (s = 0; s < nseq; s++)
		{
			int			st = starts ? starts[s] : s * T;
			int			len = starts ? lens[s] : T;

			sc_attention_forward(a->ao + (size_t) st * C, a->att, a->qkv + (size_t) st * 3 * C,
								 len, C, NH, causal);
		}
		sc_matmul_forward(a->ln, a->ao, b->out_proj_w, b->out_proj_b, R, C, C);
		sc_residual_forward(a->x, a->x, a->ln, R * C);
		sc_layernorm_forward(a->ln, NULL, NULL, a->x, b->ln_2_w, b->ln_2_b, R, C);
		sc_matmul_forward(a->hid, a->ln, b->c_fc_w, b->c_fc_b, R, C, 4 * C);
		if (act == SC_GELU)
			sc_gelu_forward(a->hid, a->hid, R * 4 * C);
		else
			sc_quick_gelu_forward(a->hid, a->hid, R * 4 * C);
		sc_matmul_forward(a->ln, a->hid, b->c_proj_w, b->c_proj_b, R, 4 * C, C);
		sc_residual_forward(a->x, a->x, a->ln, R * C);
	}
	return 0;
}

/*
 * Head: pooled [nb, C] (already final-layer-normed) -> out [nb, D]:
 * y = pooled @ proj; sparse: z = ReLU(y @ W^T), its topk largest kept when
 * the config says so (TopK head); then L2 normalisation.
 * y goes through scratch (nb * E floats).
 */
static void
run_head(float *out, float *y, const float *pooled, const float *proj, const float *sparse_w,
		 int nb, int C, int E, int S, int topk)
{
	cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, nb, E, C,
				1.0f, pooled, C, proj, E, 0.0f, y, E);
	if (sparse_w)
	{
		int			i;

		sc_matmul_forward(out, y, sparse_w, NULL, nb, E, S);
		for (i = 0; i < nb; i++)
			sc_relu_forward(out + (size_t) i * S, out + (size_t) i * S, S);
		if (topk > 0)
			sc_topk_forward(out, nb, S, topk);
		sc_l2norm_forward(out, nb, S);
	}
	else
	{
		memcpy(out, y, (size_t) nb * E * sizeof(float));
		sc_l2norm_forward(out, nb, E);
	}
}

/*
 * Rows per chunk.  The progress hook runs between layers of a chunk, so a
 * chunk's layer must stay short for query cancel: a layer costs about
 * 24 * rows * C^2 flops, and 2e8 / C^2 rows (about 340 at ViT-B's 768,
 * 3,000 at the tiny preset's 256) is ~100 ms on one core while still wide
 * enough for sgemm to run near its peak.
 */
static int
chunk_rows(int C, int T)
{
	int			r = (int) (200000000.0 / ((double) C * C));

	return r < T ? T : r;
}

int
sc_encode_images(const sc_model *m, sc_workspace *ws, const float *images, int n,
				 float *out, sc_progress_fn progress, void *progress_arg,
				 char *err, size_t errlen)
{
	const sc_config *c = &m->cfg;
	const sc_params *p = &m->p;
	int			S = c->image_size, P = c->patch_size, G = S / P, T = G * G + 1;
	int			C = c->vision_width, E = c->embed_dim, D = sc_model_output_dim(m);
	int			per = chunk_rows(C, T) / T;
	int			nb0 = n < per ? n : per;
	size_t		img = (size_t) 3 * S * S;
	size_t		need;
	acts		a;
	float	   *patches, *pooled, *y;
	int			b0;

	if (n < 0)
	{
		sc_seterr(err, errlen, "encode images: negative count");
		return -1;
	}
	if (n == 0)
		return 0;
	need = acts_floats((size_t) nb0 * T, C, c->vision_heads, T) + (size_t) G * G * 3 * P * P +
		(size_t) nb0 * C + (size_t) nb0 * E;
	if (ws_reserve(ws, need * sizeof(float)) < 0)
	{
		sc_seterr(err, errlen, "encode images: out of memory (%zu bytes of workspace)", need * sizeof(float));
		return -1;
	}
	acts_carve(&a, ws->buf, (size_t) nb0 * T, C);
	patches = a.att + (size_t) c->vision_heads * T * T;
	pooled = patches + (size_t) G * G * 3 * P * P;
	y = pooled + (size_t) nb0 * C;

	for (b0 = 0; b0 < n; b0 += nb0)
	{
		int			nb = n - b0 < nb0 ? n - b0 : nb0;
		int			R = nb * T, b;

		if (progress_says_stop(progress, progress_arg, err, errlen))
			return -1;
		for (b = 0; b < nb; b++)
		{
			float	   *xb = a.x + (size_t) b * T * C;

			sc_im2patch_forward(patches, images + (size_t) (b0 + b) * img, S, P);
			sc_matmul_forward(xb + C, patches, p->v_conv1, NULL, G * G, 3 * P * P, C);
			memcpy(xb, p->v_class_embedding, (size_t) C * sizeof(float));
			sc_residual_forward(xb, xb, p->v_positional_embedding, T * C);
		}
		sc_layernorm_forward(a.x, NULL, NULL, a.x, p->v_ln_pre_w, p->v_ln_pre_b, R, C);
		if (run_blocks(p->v_blocks, c->vision_layers, &a, R, C, c->vision_heads, c->activation,
					   nb, NULL, NULL, T, 0, progress, progress_arg, err, errlen) < 0)
			return -1;
		for (b = 0; b < nb; b++)
			sc_layernorm_forward(pooled + (size_t) b * C, NULL, NULL, a.x + (size_t) b * T * C,
								 p->v_ln_post_w, p->v_ln_post_b, 1, C);
		run_head(out + (size_t) b0 * D, y, pooled, p->v_proj, p->sparse_visual, nb, C, E, D, c->sparse_topk);
	}
	return 0;
}

int
sc_encode_texts(const sc_model *m, sc_workspace *ws, const int32_t *const *ids,
				const int *lens, int n, float *out, sc_progress_fn progress,
				void *progress_arg, char *err, size_t errlen)
{
	const sc_config *c = &m->cfg;
	const sc_params *p = &m->p;
	int			L = c->context_length, C = c->text_width, E = c->embed_dim, D = sc_model_output_dim(m);
	int			maxrows = chunk_rows(C, L);
	int64_t		rows = 0;
	int			i, nb0;
	size_t		need;
	acts		a;
	float	   *pooled, *y;
	int		   *starts, *eff;
	int			b0;

	if (n < 0)
	{
		sc_seterr(err, errlen, "encode texts: negative count");
		return -1;
	}
	if (n == 0)
		return 0;
	for (i = 0; i < n; i++)
	{
		int			t;

		if (lens[i] < 1 || lens[i] > L)
		{
			sc_seterr(err, errlen, "encode texts: text %d has %d tokens; 1 to %d allowed", i, lens[i], L);
			return -1;
		}
		for (t = 0; t < lens[i]; t++)
			if (ids[i][t] < 0 || ids[i][t] >= c->vocab_size)
			{
				sc_seterr(err, errlen, "encode texts: text %d has token id %d outside the vocabulary (0 to %d)",
					   i, (int) ids[i][t], c->vocab_size - 1);
				return -1;
			}
		rows += lens[i];
	}
	/*
	 * A chunk never needs more rows than all the texts have: without this
	 * bound a narrow model reserved 2e8 / C^2 rows for a single text (2 GB
	 * at width 4).
	 */
	if (rows < maxrows)
		maxrows = (int) rows;
	/* rows: worst case a full chunk of maxrows, or one sequence of L */
	nb0 = maxrows;				/* bound on sequences per chunk (each has >= 1 row) */
	need = acts_floats((size_t) maxrows, C, c->text_heads, L) + (size_t) (n < nb0 ? n : nb0) * (C + E);
	need += 2 * (size_t) n;		/* starts and effective lengths (ints) */
	if (ws_reserve(ws, need * sizeof(float)) < 0)
	{
		sc_seterr(err, errlen, "encode texts: out of memory (%zu bytes of workspace)", need * sizeof(float));
		return -1;
	}
	acts_carve(&a, ws->buf, (size_t) maxrows, C);
	pooled = a.att + (size_t) c->text_heads * L * L;
	y = pooled + (size_t) (n < nb0 ? n : nb0) * C;
	starts = (int *) (y + (size_t) (n < nb0 ? n : nb0) * E);
	eff = starts + n;
	/* only tokens up to the end-of-text (largest id) matter: causal mask */
	for (i = 0; i < n; i++)
	{
		int			t, best = 0;

		for (t = 1; t < lens[i]; t++)
			if (ids[i][t] > ids[i][best])
				best = t;
		eff[i] = best + 1;
	}

	for (b0 = 0; b0 < n;)
	{
		int			nb = 0, R = 0, b;

		if (progress_says_stop(progress, progress_arg, err, errlen))
			return -1;
		while (b0 + nb < n && R + eff[b0 + nb] <= maxrows)
		{
			starts[b0 + nb] = R;
			R += eff[b0 + nb];
			nb++;
		}
		for (b = 0; b < nb; b++)
		{
			const int32_t *tok = ids[b0 + b];
			int			t;

			for (t = 0; t < eff[b0 + b]; t++)
			{
				float	   *row = a.x + (size_t) (starts[b0 + b] + t) * C;

				sc_residual_forward(row, p->token_embedding + (size_t) tok[t] * C,
									p->positional_embedding + (size_t) t * C, C);
			}
		}
		if (run_blocks(p->t_blocks, c->text_layers, &a, R, C, c->text_heads, c->activation,
					   nb, starts + b0, eff + b0, 0, 1, progress, progress_arg, err, errlen) < 0)
			return -1;
		for (b = 0; b < nb; b++)
			sc_layernorm_forward(pooled + (size_t) b * C, NULL, NULL,
								 a.x + (size_t) (starts[b0 + b] + eff[b0 + b] - 1) * C,
								 p->ln_final_w, p->ln_final_b, 1, C);
		run_head(out + (size_t) b0 * D, y, pooled, p->text_projection, p->sparse_text, nb, C, E, D, c->sparse_topk);
		b0 += nb;
	}
	return 0;
}
