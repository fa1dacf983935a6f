/*
 * train_args.h - the settings of a sparseclip-train run: the command line's
 * options, their defaults and checks (train_args.c); a state file stores
 * them (train_state.c), so that a resumed run keeps its own.
 */
#ifndef SC_TRAIN_ARGS_H
#define SC_TRAIN_ARGS_H

#include "batch.h"
#include "train_model.h"

/* where Debian's wordnet-base puts the dictionary: the fallback general text for BPE */
#define SC_WORDNET_DIR "/usr/share/wordnet"

typedef struct args
{
	const char *data, *val, *preset, *config, *out, *resume, *bpe, *wordnet, *log;
	long		steps, epochs, stop_at;
	int			batch, warmup, threads, dense, topk, seed, log_every, val_every, augment;
	long		checkpoint_every;
	double		lr, wd, logit_cap, clip, l1;
	double		logit_init, logit_lr_mult;
	double		flops, flops_start, flops_ramp;
	double		flops_target, flops_gain;	/* L0 controller: share of sparse_dim (0 = off), gain */
	double		align;			/* weight of the alignment penalty (0 = off) */
	int			logit_cosine;	/* the logit scale follows the cosine too (old runs) */
	int			multi_positive;
	int			head_tied;		/* the text head starts as a copy of the image head */
	long		dead_every;
	double		aux;			/* AuxK weight (0 = off), TopK heads only */
	int			aux_k;			/* dead dimensions per row in the AuxK loss */
	long		aux_window;		/* steps after which a dimension that never fired is dead */
	double		patch_dropout, patch_dropout_off;
	sc_sparsity sparsity;
	/* given on the command line (on resume these override the stored run) */
	int			steps_given, epochs_given, model_given;
	batch_opts	bo;				/* augmentation, composites, caption augmentation (batch.h) */
} args;

/* --help's text, on stderr */
void		train_usage(void);
/* the defaults of a fresh run */
void		train_default_args(args *a);
/*
 * Apply the command line over a (the defaults, or on resume the stored
 * run's settings), then check the result: 0, or -1 after a message.
 */
int			train_parse_args(int argc, char **argv, args *a);

#endif
