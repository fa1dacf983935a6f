/*
 * train_model.h - forward and backward passes of both Sparse-CLIP towers
 * over a batch, for training.
 *
 * The forward pass is the encoders' (model.h), built from the same layer
 * kernels, but keeps every activation the backward pass needs; the loss is
 * the symmetric InfoNCE of train_loss.h.  Gradients go to one flat buffer
 * laid out like the model's flat parameter buffer (sc_param_list order),
 * llm.c style, so that the optimizer runs over plain arrays.
 */
#ifndef SPARSECLIP_TRAIN_MODEL_H
#define SPARSECLIP_TRAIN_MODEL_H

#include <stddef.h>
#include <stdint.h>

#include "model.h"

/* How the sparse head makes its code sparse (the paper's ablation). */
typedef enum sc_sparsity
{
	SC_SPARSITY_RELU = 0,		/* ReLU, then L2 normalisation (the paper's choice) */
	SC_SPARSITY_TOPK = 1,		/* ReLU keeping only the k largest per row */
	SC_SPARSITY_L1 = 2			/* ReLU plus an L1 penalty on the unnormalised code */
} sc_sparsity;

typedef struct sc_train_opts
{
	sc_sparsity sparsity;
	int			topk;			/* for SC_SPARSITY_TOPK */
	float		l1;				/* coefficient for SC_SPARSITY_L1 */
	float		flops;			/* weight of the FLOPS penalty on the normalised embeddings
								 * (image and text each; train_loss.h), 0 = off */
	float		align;			/* weight of the alignment penalty, mean 1 - cos of the own
								 * pairs (sc_align_loss), 0 = off */
	const int  *group;			/* [B] multi-positive groups of the batch's pairs
								 * (sc_clip_loss_groups), NULL = each pair its own */
	float		patch_dropout;	/* FLIP: share of each image's patch tokens dropped (the class
								 * token always stays); max(1, floor(n (1 - p))) are kept */
	uint64_t	dropout_seed;	/* which patches: a function of this seed and the row */
	/*
	 * AuxK, with SC_SPARSITY_TOPK: weight of an auxiliary InfoNCE loss on
	 * each row's TopK outputs together with its aux_k largest ReLU outputs
	 * among the side's dead dimensions (sc_trainer_aux_window),
	 * L2-normalised, at the same logit scale (no gradient to the scale);
	 * 0 = off.  A TopK head gives dimensions that lose every contest no
	 * gradient at all; this gives them one, towards what the pairs share,
	 * and weight against the live dimensions, so that they can win again.
	 */
	float		aux;
	int			aux_k;
} sc_train_opts;

typedef struct sc_batch_stats
{
	double		loss;			/* total loss (contrastive + penalties) */
	double		contrastive;	/* the InfoNCE part */
	double		image_l0, text_l0;	/* mean non-zero output dimensions per row */
	double		accuracy;		/* fraction of rows whose own pair has the top logit (both ways) */
	double		flops_image, flops_text;	/* FLOPS of each side's embeddings (unweighted,
											 * computed whatever the weight) */
	double		pos_cos;		/* mean cosine of the batch's own pairs (whatever --align) */
	double		aux;			/* the AuxK loss (unweighted; 0 when off or nothing is dead) */
	double		aux_l0;			/* mean non-zero entries of the aux rows (TopK's and the dead
								 * dimensions'), image and text summed */
} sc_batch_stats;

typedef struct sc_trainer sc_trainer;

/*
 * A trainer for model m (parameters in one flat buffer: sc_model_random,
 * or sc_model_load with SC_LOAD_COPY), sized for batches of up to
 * max_batch pairs.  NULL with a message on failure.
 */
extern sc_trainer *sc_trainer_new(sc_model *m, int max_batch, char *err, size_t errlen);
extern void sc_trainer_free(sc_trainer *t);

/*
 * Threads for the trainer's own parallel loops (attention per sequence,
 * activations); OpenBLAS's thread count should be set to the same number
 * (openblas_set_num_threads), since those loops hand it back afterwards.
 */
extern void sc_trainer_set_threads(sc_trainer *t, int threads);

/* The flat gradient buffer (same length and order as m->owned). */
extern float *sc_trainer_grads(sc_trainer *t);

/*
 * One batch: zero the gradients, run both towers forward, the loss, and
 * both towers backward.  images: [B, 3, S, S] preprocessed; texts as for
 * sc_encode_texts (features at the largest id).  Fills stats.  img_out and
 * txt_out (may be NULL) receive the normalised embeddings [B, output_dim].
 * Returns 0, or -1 with a message (bad sizes or token ids).
 */
extern int	sc_trainer_batch(sc_trainer *t, const float *images, const int32_t *const *ids,
							 const int *lens, int B, const sc_train_opts *opts,
							 sc_batch_stats *stats, float *img_out, float *txt_out,
							 char *err, size_t errlen);

/*
 * Optimizer step over the gradients of the last batch: clip their global
 * L2 norm to max_norm (when > 0), AdamW (betas 0.9/0.98, eps 1e-6; learning
 * rate lr, and logit_lr for the logit scale, its own parameter group;
 * weight decay wd on tensors of 2 or more dimensions, none on 1-D tensors
 * and never on the logit scale), then clamp the logit scale to
 * [0, ln(logit_cap)].  Returns the gradient norm before clipping.  The step
 * count and moments live in the trainer (sc_trainer_adam_state).
 */
extern double sc_trainer_update(sc_trainer *t, float lr, float logit_lr, float wd, double max_norm,
								float logit_cap);

/*
 * Firing counts of the sparse head's dimensions: for each of the
 * sparse_dim dimensions, how many rows of the batches since the last
 * sc_trainer_reinit_dead (or since the start) had it non-zero, images and
 * texts apart.  Counted by every sc_trainer_batch; floats (exact up to
 * 2^24), writable so that a checkpoint can restore them.  NULL for a dense
 * model.
 */
extern void sc_trainer_fire_counts(sc_trainer *t, float **image, float **text);

/*
 * Dead dimensions: re-initialise the head row (sparse.visual / sparse.text
 * weight row, embed_dim floats) of every dimension whose firing count on
 * that side is zero, and zero its AdamW moments, then reset all counts.
 * The new row points along the projection output of one pair of the last
 * batch (drawn from seed and the dimension), at a fifth of the mean norm of
 * the live rows, so that it fires again for inputs like that pair; a random
 * row would fire for about half of all inputs, against the sparsity.  The
 * numbers re-initialised go to *n_image, *n_text.  No-op for a dense model
 * or before any batch.
 */
extern void sc_trainer_reinit_dead(sc_trainer *t, uint64_t seed, int *n_image, int *n_text);

/*
 * AuxK (Gao et al. 2024, for TopK heads): end a window of batches.  The
 * dimensions whose firing count on a side is zero become that side's dead
 * set, which the auxiliary loss of the next batches trains (opts aux > 0);
 * then all counts are reset.  Their numbers go to *n_image, *n_text.
 * Until the first window ends the dead sets are empty.  No-op for a dense
 * model.
 */
extern void sc_trainer_aux_window(sc_trainer *t, int *n_image, int *n_text);

/* The dead sets (sparse_dim floats each, 1 = dead), writable for checkpoints; NULL when dense. */
extern void sc_trainer_aux_dead(sc_trainer *t, float **image, float **text);

/* AdamW moments (m->owned_count floats each) and the number of steps done, for checkpoints. */
extern void sc_trainer_adam_state(sc_trainer *t, float **m, float **v, long **step);

#endif
