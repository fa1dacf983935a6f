/*
 * train_state.h - the trainer's state (sc_trainer: saved activations of both
 * towers, gradients, optimizer moments, scratch) and its parallel loops,
 * shared by train_model.c (the trainer object, the optimizer step) and
 * train_step.c (one batch forward and backward).  Private to those two:
 * train_model.h is the interface.
 *
 * Layout: each tower keeps, per block, the tensors its backward pass reads
 * (inputs of every layer norm and matmul, their statistics, attention
 * weights, the MLP pre-activation), stacked over the blocks.
 */
#ifndef SPARSECLIP_TRAIN_STATE_H
#define SPARSECLIP_TRAIN_STATE_H

#include <stddef.h>

#include "train_model.h"

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
	/* AuxK (sparse models): the dead dimensions' top entries, normalised, gradient */
	float	   *aux, *auxout, *auxd;	/* [B, S] each */
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
	float	   *mean_y;		/* E: the batch's mean projection (dead rows) */
	float	   *fire_img, *fire_txt;	/* S each: rows that had the dimension non-zero */
	float	   *dead_img, *dead_txt;	/* S each: 1 for the dimensions AuxK trains (dead in the
										 * last window, sc_trainer_aux_window), else 0 */
	int			lastB;			/* pairs in the last batch (their projections are in hv.y, ht.y) */
	void	   *mem;			/* one allocation holding all floats */
};

/* fn(ctx, k, n) on the trainer's n threads at once (train_model.c) */
typedef void (*part_fn) (void *ctx, int part, int nparts);
extern void sc_run_parts(const sc_trainer *t, part_fn fn, void *ctx);

#endif							/* SPARSECLIP_TRAIN_STATE_H */
