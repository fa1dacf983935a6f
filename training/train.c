/*
 * train.c - sparseclip-train: trains Sparse-CLIP (or the dense CLIP
 * baseline) from scratch on an image-caption TSV, on CPUs.
 *
 * Usage: sparseclip-train --data train.tsv [options]; --help lists them.
 * Writes the model file (--out, loadable by the extension), a CSV log of
 * the training curve, numbered model files every --checkpoint-every steps,
 * and a resumable state file (OUT.state: parameters, AdamW moments, step,
 * hyper-parameters, tokenizer), rewritten atomically at each checkpoint,
 * at the end, and on SIGINT/SIGTERM.
 */
#define _GNU_SOURCE				/* memmem */
#include <cblas.h>
#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "batch.h"
#include "blas_tune.h"
#include "bpe.h"
#include "bpe_train.h"
#include "data.h"
#include "json.h"
#include "model.h"
#include "safetensors.h"
#include "train_loss.h"
#include "train_model.h"
#include "train_optim.h"

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
	double		patch_dropout, patch_dropout_off;
	sc_sparsity sparsity;
	/* given on the command line (on resume these override the stored run) */
	int			steps_given, epochs_given, model_given;
	batch_opts	bo;				/* augmentation, composites, caption augmentation (batch.h) */
} args;

static volatile sig_atomic_t stop_requested;

static void
on_signal(int sig)
{
	(void) sig;
	stop_requested = 1;
}

static void
usage(void)
{
	fputs("usage: sparseclip-train --data train.tsv [options]\n"
		  "  --val val.tsv            validation pairs (loss logged every --val-every steps)\n"
		  "  --preset tiny|ViT-B/32   model size (default tiny)\n"
		  "  --config model.json      model config (the model file's config keys) instead\n"
		  "  --dense                  dense CLIP baseline: no sparse head\n"
		  "  --sparsity relu|topk|l1  sparse head variant (default relu); --topk K, --l1 COEF\n"
		  "  --steps N | --epochs N   length of training (default 1 epoch)\n"
		  "  --batch N                pairs per step (default 128)\n"
		  "  --lr X --warmup N        peak learning rate (default 5e-4), warm-up steps (default 500)\n"
		  "  --wd X                   weight decay on matrices (default 0.2)\n"
		  "  --clip X                 gradient-norm clip (default 1.0; 0 = off)\n"
		  "  --logit-cap X            logit scale cap (default 50)\n"
		  "  --logit-init S           initial logit scale (exp; default 1/0.07 = 14.29; 30 suits\n"
		  "                           the sparse head, whose cosines lie in [0, 1])\n"
		  "  --logit-lr-mult X        the logit scale's learning rate = X * --lr (default 1)\n"
		  "  --logit-schedule constant|cosine\n"
		  "                           the logit scale's schedule: warm-up then constant (default),\n"
		  "                           or the cosine decay of the other parameters\n"
		  "  --flops LAMBDA           FLOPS sparsity penalty on the normalised embeddings, image\n"
		  "                           and text each: LAMBDA * sum_j (batch mean of u_j)^2 (default 0)\n"
		  "  --flops-start FRAC       no penalty before this fraction of the steps (default 0.25)\n"
		  "  --flops-ramp FRAC        quadratic ramp from --flops-start to full LAMBDA at this\n"
		  "                           fraction, then held (default 0.6)\n"
		  "  --flops-target SHARE     instead of the ramp, steer the FLOPS weight to an L0 target:\n"
		  "                           SHARE of sparse_dim (0 < SHARE < 1, e.g. 0.015). From\n"
		  "                           --flops-start to --flops-ramp the target falls geometrically\n"
		  "                           from the L0 measured at the start to SHARE, then holds; each\n"
		  "                           step the weight is multiplied by (L0 / target)^(GAIN lr /\n"
		  "                           peak lr), L0 the larger of the batch's image and text L0,\n"
		  "                           the factor kept in [1/1.05, 1.05]; --flops is the first\n"
		  "                           weight (default 1)\n"
		  "  --flops-gain GAIN        the controller's gain (default 0.05)\n"
		  "  --align W                alignment penalty W * mean (1 - cos) of each pair's own\n"
		  "                           image and caption embeddings, all steps (default 0; the\n"
		  "                           log's pos_cos column is that cosine whatever W)\n"
		  "  --tied-head-init         the text tower's sparse head starts as a copy of the image\n"
		  "                           tower's (then both train apart), so the towers' first\n"
		  "                           gradients point at each other through one shared frame,\n"
		  "                           as a dense model's do; a fresh run's choice only\n"
		  "  --multi-positive         pairs of the batch that show the same thing (the same image,\n"
		  "                           identical captions) are positives of each other, not\n"
		  "                           negatives (UniCL targets); --no-multi-positive switches\n"
		  "                           it off on resume\n"
		  "  --dead-every N           every N steps, re-initialise the head rows of dimensions\n"
		  "                           that never fired in those N steps (default 0 = never)\n"
		  "  --patch-dropout P        drop this share of each image's patch tokens in training\n"
		  "                           (FLIP; the class token stays; default 0)\n"
		  "  --patch-dropout-off FRAC no patch dropout in this last share of the steps (default 0.1)\n"
		  "  --seed N                 initialisation and sampling seed (default 1)\n"
		  "  --no-augment             no image augmentation (crops nor any --aug-* option)\n"
		  "  --bpe merges.txt         tokenizer merges (default: learn them from the captions\n"
		  "                           and --wordnet FILE, default wordnet.txt beside --data,\n"
		  "                           else the glosses of the installed WordNet, " SC_WORDNET_DIR ")\n"
		  "  --wordnet FILE|DIR       general English text, one text per line, or a WordNet\n"
		  "                           dictionary directory (data.noun, data.verb, ...)\n"
		  "  --out model.safetensors  model file (default model.safetensors); state in OUT.state\n"
		  "  --log file.csv           training curve (default OUT.csv)\n"
		  "  --checkpoint-every N     numbered model files OUT.stepN.safetensors + state\n"
		  "  --resume STATE           continue from a state file (and write where it wrote: OUT is\n"
		  "                           STATE less .state unless --out): its hyper-parameters, except\n"
		  "                           those given on the command line (a larger --steps\n"
		  "                           extends the schedule)\n"
		  "  --threads N              OpenBLAS threads (default 1)\n"
		  "  --stop-at N              stop after step N, state saved (to split a run)\n"
		  "  --log-every N --val-every N\n", stderr);
	batch_opts_usage(stderr);
}

static void
default_args(args *a)
{
	memset(a, 0, sizeof *a);
	a->preset = "tiny";
	a->out = "model.safetensors";
	a->batch = 128;
	a->warmup = 500;
	a->threads = 1;
	a->seed = 1;
	a->log_every = 10;
	a->val_every = 500;
	a->lr = 5e-4;
	a->wd = 0.2;
	a->logit_cap = 50.0;
	a->logit_init = 1.0 / 0.07;
	a->logit_lr_mult = 1.0;
	a->flops_start = 0.25;
	a->flops_ramp = 0.6;
	a->flops_gain = 0.05;
	a->patch_dropout_off = 0.1;
	a->clip = 1.0;
	a->augment = 1;
	a->sparsity = SC_SPARSITY_RELU;
	batch_opts_default(&a->bo);
}

/*
 * Apply the command line over a (the defaults, or on resume the stored
 * run's settings), then check the result.
 */
static int
parse_args(int argc, char **argv, args *a)
{
	int			i;

	for (i = 1; i < argc; i++)
	{
		const char *o = argv[i];
		const char *v = i + 1 < argc ? argv[i + 1] : NULL;
		int			used = batch_opts_parse(&a->bo, argc, argv, i);

		if (used < 0)
			return -1;
		if (used > 0)
		{
			i += used - 1;
			continue;
		}

#define STR(name, field) if (strcmp(o, name) == 0) { if (!v) goto missing; a->field = v; i++; continue; }
#define NUM(name, field, conv) if (strcmp(o, name) == 0) { char *e; if (!v) goto missing; \
		errno = 0; a->field = conv(v, &e); if (*e || errno) { fprintf(stderr, "sparseclip-train: bad value for %s: %s\n", o, v); return -1; } i++; continue; }
#define LNG(s, e) strtol(s, e, 10)
		STR("--data", data);
		STR("--val", val);
		if (strcmp(o, "--preset") == 0 || strcmp(o, "--config") == 0)
			a->model_given = 1;
		if (strcmp(o, "--steps") == 0)
			a->steps_given = 1;
		if (strcmp(o, "--epochs") == 0)
			a->epochs_given = 1;
		STR("--preset", preset);
		STR("--config", config);
		STR("--out", out);
		STR("--resume", resume);
		STR("--bpe", bpe);
		STR("--wordnet", wordnet);
		STR("--log", log);
		NUM("--steps", steps, LNG);
		NUM("--epochs", epochs, LNG);
		NUM("--stop-at", stop_at, LNG);
		NUM("--batch", batch, (int) LNG);
		NUM("--warmup", warmup, (int) LNG);
		NUM("--threads", threads, (int) LNG);
		NUM("--topk", topk, (int) LNG);
		NUM("--seed", seed, (int) LNG);
		NUM("--log-every", log_every, (int) LNG);
		NUM("--val-every", val_every, (int) LNG);
		NUM("--checkpoint-every", checkpoint_every, LNG);
		NUM("--dead-every", dead_every, LNG);
		NUM("--lr", lr, strtod);
		NUM("--wd", wd, strtod);
		NUM("--logit-cap", logit_cap, strtod);
		NUM("--clip", clip, strtod);
		NUM("--l1", l1, strtod);
		NUM("--logit-init", logit_init, strtod);
		NUM("--logit-lr-mult", logit_lr_mult, strtod);
		NUM("--flops", flops, strtod);
		NUM("--flops-start", flops_start, strtod);
		NUM("--flops-ramp", flops_ramp, strtod);
		NUM("--flops-target", flops_target, strtod);
		NUM("--flops-gain", flops_gain, strtod);
		NUM("--align", align, strtod);
		NUM("--patch-dropout", patch_dropout, strtod);
		NUM("--patch-dropout-off", patch_dropout_off, strtod);
		if (strcmp(o, "--logit-schedule") == 0)
		{
			if (!v)
				goto missing;
			if (strcmp(v, "constant") == 0)
				a->logit_cosine = 0;
			else if (strcmp(v, "cosine") == 0)
				a->logit_cosine = 1;
			else
			{
				fprintf(stderr, "sparseclip-train: --logit-schedule must be constant or cosine\n");
				return -1;
			}
			i++;
			continue;
		}
		if (strcmp(o, "--dense") == 0)
		{
			a->dense = 1;
			continue;
		}
		if (strcmp(o, "--tied-head-init") == 0)
		{
			a->head_tied = 1;
			continue;
		}
		if (strcmp(o, "--multi-positive") == 0)
		{
			a->multi_positive = 1;
			continue;
		}
		if (strcmp(o, "--no-multi-positive") == 0)
		{
			a->multi_positive = 0;	/* a resumed run's stored choice, switched off */
			continue;
		}
		if (strcmp(o, "--no-augment") == 0)
		{
			a->augment = 0;
			continue;
		}
		if (strcmp(o, "--sparsity") == 0)
		{
			if (!v)
				goto missing;
			if (strcmp(v, "relu") == 0)
				a->sparsity = SC_SPARSITY_RELU;
			else if (strcmp(v, "topk") == 0)
				a->sparsity = SC_SPARSITY_TOPK;
			else if (strcmp(v, "l1") == 0)
				a->sparsity = SC_SPARSITY_L1;
			else
			{
				fprintf(stderr, "sparseclip-train: --sparsity must be relu, topk or l1\n");
				return -1;
			}
			i++;
			continue;
		}
		if (strcmp(o, "--help") == 0 || strcmp(o, "-h") == 0)
		{
			usage();
			exit(0);
		}
		fprintf(stderr, "sparseclip-train: unknown option %s\n", o);
		usage();
		return -1;
missing:
		fprintf(stderr, "sparseclip-train: %s needs a value\n", o);
		return -1;
	}
#undef STR
#undef NUM
	if (!a->data)
	{
		fprintf(stderr, "sparseclip-train: --data is required\n");
		usage();
		return -1;
	}
	if (a->batch < 2 || a->threads < 1 || a->warmup < 0 || !(a->lr > 0) || a->logit_cap <= 1.0 ||
		a->steps < 0 || a->epochs < 0 || a->log_every < 1 || a->val_every < 1)
	{
		fprintf(stderr, "sparseclip-train: need --batch >= 2, --threads >= 1, --lr > 0, --logit-cap > 1, "
				"non-negative --steps/--epochs/--warmup\n");
		return -1;
	}
	if (a->head_tied && a->dense)
	{
		fprintf(stderr, "sparseclip-train: --tied-head-init needs a sparse head (not --dense)\n");
		return -1;
	}
	if (!(a->logit_init >= 1.0 && a->logit_init <= a->logit_cap) || !(a->logit_lr_mult >= 0.0))
	{
		fprintf(stderr, "sparseclip-train: need 1 <= --logit-init <= --logit-cap, --logit-lr-mult >= 0\n");
		return -1;
	}
	if (!(a->flops >= 0.0) || !(a->flops_start >= 0.0 && a->flops_start <= 1.0) ||
		!(a->flops_ramp >= 0.0 && a->flops_ramp <= 1.0))
	{
		fprintf(stderr, "sparseclip-train: need --flops >= 0, --flops-start and --flops-ramp in [0, 1]\n");
		return -1;
	}
	if (!(a->patch_dropout >= 0.0 && a->patch_dropout < 1.0) ||
		!(a->patch_dropout_off >= 0.0 && a->patch_dropout_off <= 1.0))
	{
		fprintf(stderr, "sparseclip-train: need 0 <= --patch-dropout < 1, --patch-dropout-off in [0, 1]\n");
		return -1;
	}
	if (a->dead_every < 0 || (a->dead_every > 0 && a->dense))
	{
		fprintf(stderr, "sparseclip-train: --dead-every needs N >= 0 and a sparse head\n");
		return -1;
	}
	if ((a->flops > 0.0 || a->flops_target > 0.0) && a->dense)
	{
		fprintf(stderr, "sparseclip-train: --flops and --flops-target need a sparse head, not --dense\n");
		return -1;
	}
	if (!(a->align >= 0.0 && a->align <= 1000.0))
	{
		fprintf(stderr, "sparseclip-train: need 0 <= --align <= 1000\n");
		return -1;
	}
	if (!(a->flops_target >= 0.0 && a->flops_target < 1.0) || !(a->flops_gain > 0.0 && a->flops_gain <= 1.0))
	{
		fprintf(stderr, "sparseclip-train: need --flops-target a share of sparse_dim in (0, 1) "
				"(e.g. 0.015; 0 = off) and 0 < --flops-gain <= 1\n");
		return -1;
	}
	if (a->flops_target > 0.0 && a->flops_ramp < a->flops_start)
	{
		fprintf(stderr, "sparseclip-train: --flops-target needs --flops-ramp >= --flops-start\n");
		return -1;
	}
	if (batch_opts_check(&a->bo) < 0)
		return -1;
	if (a->sparsity == SC_SPARSITY_TOPK && a->topk < 1)
	{
		fprintf(stderr, "sparseclip-train: --sparsity topk needs --topk K (K >= 1)\n");
		return -1;
	}
	if (a->sparsity == SC_SPARSITY_L1 && !(a->l1 > 0))
	{
		fprintf(stderr, "sparseclip-train: --sparsity l1 needs --l1 COEF (> 0)\n");
		return -1;
	}
	return 0;
}

/*
 * The glosses of a WordNet dictionary directory (data.noun, data.verb,
 * data.adj, data.adv: "offset ... | gloss" lines after a licence header
 * indented by two spaces), one per line; NULL when none of the files reads.
 */
static char *
wordnet_glosses(const char *dir)
{
	static const char *const pos[] = {"noun", "verb", "adj", "adv"};
	size_t		len = 0, cap = 0;
	char	   *out = NULL;
	int			k, any = 0;

	for (k = 0; k < 4; k++)
	{
		char		path[1200], *text, *p;

		snprintf(path, sizeof path, "%s/data.%s", dir, pos[k]);
		text = data_slurp(path, NULL);
		if (!text)
			continue;
		any = 1;
		for (p = text; *p;)
		{
			char	   *e = strchr(p, '\n');
			size_t		n = e ? (size_t) (e - p) : strlen(p);
			char	   *bar = p[0] != ' ' ? memmem(p, n, " | ", 3) : NULL;

			if (bar)
			{
				char	   *g = bar + 3;
				size_t		gn = (size_t) (p + n - g);

				while (gn > 0 && (g[gn - 1] == ' ' || g[gn - 1] == '\r'))
					gn--;
				if (len + gn + 2 > cap)
				{
					char	   *grown;

					cap = (len + gn + 2) * 2 + (1 << 20);
					grown = realloc(out, cap);
					if (!grown)
					{
						free(out);
						free(text);
						return NULL;
					}
					out = grown;
				}
				memcpy(out + len, g, gn);
				len += gn;
				out[len++] = '\n';
			}
			p += n + (e ? 1 : 0);
		}
		free(text);
	}
	if (!any)
		return NULL;
	if (!out)
		out = calloc(1, 1);
	else
		out[len] = '\0';
	return out;
}

static int
is_dir(const char *p)
{
	struct stat st;

	return stat(p, &st) == 0 && S_ISDIR(st.st_mode);
}

/*
 * Learn BPE merges from the training captions and a general English text:
 * the wordnet file (one text per line) or WordNet dictionary directory.
 */
static char *
learn_bpe(const dataset *d, const char *wordnet, int vocab, char *err, size_t errlen)
{
	bpe_trainer *bt = bpe_trainer_new();
	char	   *wn = NULL, *merges;
	int			i;

	if (!bt)
	{
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	if (wordnet)
	{
		wn = is_dir(wordnet) ? wordnet_glosses(wordnet) : data_slurp(wordnet, NULL);
		if (!wn)
		{
			snprintf(err, errlen, "cannot read the general text %.900s", wordnet);
			bpe_trainer_free(bt);
			return NULL;
		}
	}
	for (i = 0; i < d->ncaps; i++)
		if (bpe_trainer_add(bt, d->captions[i], strlen(d->captions[i]), 1, err, errlen) < 0)
			goto fail;
	if (wn)
	{
		char	   *p = wn;

		while (*p)
		{
			char	   *e = strchr(p, '\n');
			size_t		n = e ? (size_t) (e - p) : strlen(p);

			if (bpe_trainer_add(bt, p, n, 1, err, errlen) < 0)
				goto fail;
			p += n + (e ? 1 : 0);
		}
		printf("BPE: learning %d merges from %d captions and %s%s\n", vocab - 514, d->ncaps,
			   is_dir(wordnet) ? "the WordNet glosses in " : "", wordnet);
	}
	else
		printf("BPE: learning %d merges from %d captions (no general text found)\n", vocab - 514, d->ncaps);
	merges = bpe_trainer_merges(bt, vocab - 514, err, errlen);
	if (!merges && !wn)
	{
		size_t		l = strlen(err);

		snprintf(err + l, errlen - l, "; give a general English text with --wordnet, or install "
				 "WordNet (Debian wordnet-base) for its glosses in " SC_WORDNET_DIR);
	}
	free(wn);
	bpe_trainer_free(bt);
	return merges;
fail:
	free(wn);
	bpe_trainer_free(bt);
	return NULL;
}

/* ---------- FLOPS weight controller (--flops-target) ---------- */

/*
 * L0 answers the FLOPS weight very nonlinearly (a fixed ramp holds L0 at
 * half of sparse_dim, then drops it tenfold in a hundred steps), so the
 * weight is steered to an L0 target instead of scheduled.  One weight for
 * both sides, driven by the larger of the two L0s: the goal is "each side
 * at most the target", which the larger one binds, and a shared weight keeps
 * the loss symmetric, so it does not itself push images and texts onto
 * different dimensions.  The control is integral in log space,
 * w *= (L0 / target)^gain: equal steps for "twice too many" and "half too
 * few", and w stays positive.  Its state is in the state file.
 */
#define SC_FLOPS_CTL_MAX_STEP 1.05	/* per-step factor bound: 10x in ~47 steps */
#define SC_FLOPS_CTL_MIN_W 1e-6
#define SC_FLOPS_CTL_MAX_W 1e6

typedef struct flops_ctl
{
	long		step0;			/* step the controller started (-1: not yet) */
	double		l0_start;		/* L0 measured then, where the target's descent begins */
	double		weight;			/* the weight for the next step */
} flops_ctl;

/* the L0 target at step: geometric from l0_start at step0 to the final target at --flops-ramp */
static double
flops_ctl_target(const flops_ctl *c, const args *a, long step, long total, int D)
{
	double		goal = a->flops_target * D, s1 = a->flops_ramp * (double) total, x;

	if (c->step0 < 0)
		return 0.0;
	if (s1 <= (double) c->step0 || (double) step >= s1)
		return goal;
	x = ((double) step - (double) c->step0) / (s1 - (double) c->step0);
	return c->l0_start * pow(goal / c->l0_start, x);
}

/*
 * After the batch of step: start the controller if due, then adjust the
 * weight; returns the target.  The gain is scaled by lr / peak lr: L0 moves
 * only as fast as the optimiser moves the weights, so this keeps the loop's
 * gain the same along the schedule instead of winding the weight up while
 * the cosine's tail can no longer follow it.
 */
static double
flops_ctl_update(flops_ctl *c, const args *a, long step, long total, int D, double l0, double lr)
{
	double		tgt, f;

	if (c->step0 < 0)
	{
		c->step0 = step;
		/* already below the goal (or all dead): the target is the goal throughout */
		c->l0_start = fmax(l0, a->flops_target * D);
	}
	tgt = flops_ctl_target(c, a, step, total, D);
	f = pow(fmax(l0, 0.5) / tgt, a->flops_gain * lr / a->lr);
	f = fmin(fmax(f, 1.0 / SC_FLOPS_CTL_MAX_STEP), SC_FLOPS_CTL_MAX_STEP);
	c->weight = fmin(fmax(c->weight * f, SC_FLOPS_CTL_MIN_W), SC_FLOPS_CTL_MAX_W);
	return tgt;
}

/* ---------- state file ---------- */

static char *
args_json(const args *a, long total)
{
	char	   *s = malloc(4096);

	if (!s)
		return NULL;
	snprintf(s, 4096,
			 "{\"total_steps\":%ld,\"batch\":%d,\"lr\":%.9g,\"warmup\":%d,\"wd\":%.9g,"
			 "\"logit_cap\":%.9g,\"clip\":%.9g,\"seed\":%d,\"sparsity\":%d,\"topk\":%d,"
			 "\"l1\":%.9g,\"augment\":%d,\"logit_init\":%.9g,\"logit_lr_mult\":%.9g,"
			 "\"logit_cosine\":%d,\"flops\":%.9g,\"flops_start\":%.9g,\"flops_ramp\":%.9g,"
			 "\"multi_positive\":%d,\"dead_every\":%ld,\"patch_dropout\":%.9g,"
			 "\"patch_dropout_off\":%.9g,\"log_every\":%d,\"val_every\":%d,"
			 "\"checkpoint_every\":%ld,\"flops_target\":%.9g,\"flops_gain\":%.9g,\"align\":%.9g,"
			 "\"head_tied\":%d}",
			 total, a->batch, a->lr, a->warmup, a->wd, a->logit_cap, a->clip, a->seed,
			 (int) a->sparsity, a->topk, a->l1, a->augment, a->logit_init, a->logit_lr_mult,
			 a->logit_cosine, a->flops, a->flops_start, a->flops_ramp, a->multi_positive,
			 a->dead_every, a->patch_dropout, a->patch_dropout_off, a->log_every,
			 a->val_every, (long) a->checkpoint_every, a->flops_target, a->flops_gain, a->align,
			 a->head_tied);
	return s;
}

static int
save_state(const char *path, sc_model *m, sc_trainer *t, const char *bpe, const args *a,
		   long total, const long reinit[2], const flops_ctl *fc, char *err, size_t errlen)
{
	float	   *am, *av, *fi, *ft;
	long	   *stepp;
	st_write_tensor wt[5];
	const char *keys[7], *vals[7];
	char		stepbuf[32], reinitbuf[64], fcbuf[128];
	char	   *cfg = sc_config_to_json(&m->cfg), *aj = args_json(a, total), *bj = batch_opts_json(&a->bo);
	int			rc, i, nt = 3;

	sc_trainer_adam_state(t, &am, &av, &stepp);
	sc_trainer_fire_counts(t, &fi, &ft);
	memset(wt, 0, sizeof wt);
	if (fi)
	{
		/* the dead-dimension window in progress, so that a resumed run continues it */
		wt[3].name = "fire_image";
		wt[3].data = fi;
		wt[4].name = "fire_text";
		wt[4].data = ft;
		wt[3].ndim = wt[4].ndim = 1;
		wt[3].shape[0] = wt[4].shape[0] = m->cfg.sparse_dim;
		nt = 5;
	}
	wt[0].name = "params";
	wt[0].data = m->owned;
	wt[1].name = "adam_m";
	wt[1].data = am;
	wt[2].name = "adam_v";
	wt[2].data = av;
	for (i = 0; i < 3; i++)
	{
		wt[i].ndim = 1;
		wt[i].shape[0] = (int64_t) m->owned_count;
	}
	snprintf(stepbuf, sizeof stepbuf, "%ld", *stepp);
	keys[0] = "sparseclip.config";
	vals[0] = cfg;
	keys[1] = "sparseclip.bpe";
	vals[1] = bpe;
	keys[2] = "train.step";
	vals[2] = stepbuf;
	keys[3] = "train.args";
	vals[3] = aj;
	snprintf(reinitbuf, sizeof reinitbuf, "%ld %ld", reinit[0], reinit[1]);
	keys[4] = "train.reinit";
	vals[4] = reinitbuf;
	keys[5] = "train.batch";
	vals[5] = bj;
	/* exact (%.17g round-trips a double), so that a resumed run steers as a straight one */
	snprintf(fcbuf, sizeof fcbuf, "%ld %.17g %.17g", fc->step0, fc->l0_start, fc->weight);
	keys[6] = "train.flops_ctl";
	vals[6] = fcbuf;
	rc = (cfg && aj && bj) ? st_write(path, wt, nt, keys, vals, 7, err, errlen) : -1;
	free(cfg);
	free(aj);
	free(bj);
	return rc;
}

/* the number stored under "key" in a flat JSON object of numbers */
static int
json_num(const char *json, const char *key, double *out)
{
	char		pat[64];
	const char *p;

	snprintf(pat, sizeof pat, "\"%s\":", key);
	p = strstr(json, pat);
	if (!p)
		return -1;
	*out = strtod(p + strlen(pat), NULL);
	return 0;
}

/* On resume: say which stored hyper-parameters the command line changed. */
static void
print_overrides(const char *stored, const char *now)
{
	const char *p = now;

	while ((p = strchr(p, '"')) != NULL)
	{
		const char *e = strchr(p + 1, '"');
		char		key[64];
		double		was, is;

		if (!e || e - p - 1 >= (long) sizeof key)
			break;
		snprintf(key, sizeof key, "%.*s", (int) (e - p - 1), p + 1);
		if (json_num(now, key, &is) == 0)
		{
			if (json_num(stored, key, &was) < 0)
				printf("resume: %s %.9g (not in the state; from the command line or the default)\n", key, is);
			else if (was != is)
				printf("resume: %s %.9g -> %.9g (from the command line)\n", key, was, is);
		}
		p = strchr(e, ',');
		if (!p)
			break;
	}
}

/* Load a state file: model, moments, step, tokenizer and hyper-parameters. */
static sc_model *
load_state(const char *path, args *a, long *total, long *step, char **bpe, float **am_out,
		   float **av_out, float **fire_out, long reinit[2], flops_ctl *fc, char *err, size_t errlen)
{
	st_file    *f = st_open(path, err, errlen);
	const char *cfgj, *aj, *st, *b;
	sc_config	cfg;
	sc_model   *m;
	const st_tensor *tp, *tm, *tv;
	double		v;

	if (!f)
		return NULL;
	cfgj = st_metadata(f, "sparseclip.config");
	aj = st_metadata(f, "train.args");
	st = st_metadata(f, "train.step");
	b = st_metadata(f, "sparseclip.bpe");
	if (!cfgj || !aj || !st || !b || sc_config_from_json(cfgj, &cfg, err, errlen) < 0)
	{
		if (!cfgj || !aj || !st || !b)
			snprintf(err, errlen, "%s: not a sparseclip-train state file", path);
		st_close(f);
		return NULL;
	}
	m = sc_model_random(&cfg, 1, err, errlen);
	tp = st_find(f, "params");
	tm = st_find(f, "adam_m");
	tv = st_find(f, "adam_v");
	if (!m || !tp || !tm || !tv || (size_t) tp->numel != m->owned_count ||
		tm->numel != tp->numel || tv->numel != tp->numel || tp->dtype != ST_F32)
	{
		if (m)
			snprintf(err, errlen, "%s: state tensors do not match the config", path);
		sc_model_free(m);
		st_close(f);
		return NULL;
	}
	st_to_float(tp, m->owned);
	*am_out = malloc(m->owned_count * sizeof(float));
	*av_out = malloc(m->owned_count * sizeof(float));
	if (!*am_out || !*av_out)
	{
		snprintf(err, errlen, "out of memory");
		sc_model_free(m);
		st_close(f);
		return NULL;
	}
	st_to_float(tm, *am_out);
	st_to_float(tv, *av_out);
	{
		const st_tensor *fi = st_find(f, "fire_image"), *ft = st_find(f, "fire_text");
		const char *ri = st_metadata(f, "train.reinit");

		*fire_out = NULL;
		if (fi && ft && fi->numel == cfg.sparse_dim && ft->numel == cfg.sparse_dim &&
			fi->dtype == ST_F32 && ft->dtype == ST_F32 &&
			(*fire_out = malloc(2 * sizeof(float) * (size_t) cfg.sparse_dim)) != NULL)
		{
			st_to_float(fi, *fire_out);
			st_to_float(ft, *fire_out + cfg.sparse_dim);
		}
		if (ri)
			sscanf(ri, "%ld %ld", &reinit[0], &reinit[1]);
		ri = st_metadata(f, "train.flops_ctl");
		if (ri)
			sscanf(ri, "%ld %lf %lf", &fc->step0, &fc->l0_start, &fc->weight);
	}
	*step = strtol(st, NULL, 10);
	*bpe = strdup(b);
#define GET(k, field, type) if (json_num(aj, k, &v) == 0) a->field = (type) v
	GET("total_steps", steps, long);
	GET("batch", batch, int);
	GET("lr", lr, double);
	GET("warmup", warmup, int);
	GET("wd", wd, double);
	GET("logit_cap", logit_cap, double);
	GET("clip", clip, double);
	GET("seed", seed, int);
	GET("sparsity", sparsity, sc_sparsity);
	GET("topk", topk, int);
	GET("l1", l1, double);
	GET("augment", augment, int);
	GET("logit_init", logit_init, double);
	GET("logit_lr_mult", logit_lr_mult, double);
	/* state files from before the logit scale had its own schedule: it followed the cosine */
	a->logit_cosine = 1;
	GET("logit_cosine", logit_cosine, int);
	GET("flops", flops, double);
	GET("flops_start", flops_start, double);
	GET("flops_ramp", flops_ramp, double);
	GET("flops_target", flops_target, double);
	GET("flops_gain", flops_gain, double);
	GET("align", align, double);
	GET("multi_positive", multi_positive, int);
	a->head_tied = 0;			/* states from before the option: independent heads */
	GET("head_tied", head_tied, int);
	GET("dead_every", dead_every, long);
	GET("patch_dropout", patch_dropout, double);
	GET("patch_dropout_off", patch_dropout_off, double);
	/* the run's bookkeeping too, so that a bare --resume logs and checkpoints as before */
	GET("log_every", log_every, int);
	GET("val_every", val_every, int);
	GET("checkpoint_every", checkpoint_every, long);
#undef GET
	batch_opts_from_json(&a->bo, st_metadata(f, "train.batch"));
	*total = a->steps;
	a->dense = cfg.sparse_dim == 0;
	st_close(f);
	return m;
}

/* ---------- sampling ---------- */

typedef struct sampler
{
	int			n;				/* images */
	long		epoch;			/* epoch the permutation is for */
	int		   *perm;
	uint64_t	seed;
} sampler;

/* the images of step s: a fresh permutation per epoch, drawn from (seed, epoch) */
static const int *
sampler_batch(sampler *s, long step, int B)
{
	long		per = s->n / B;
	long		epoch = step / per;
	int			i;

	if (epoch != s->epoch)
	{
		uint64_t	r = data_mix(s->seed * 1000003ULL + (uint64_t) epoch);

		for (i = 0; i < s->n; i++)
			s->perm[i] = i;
		for (i = s->n - 1; i > 0; i--)
		{
			int			j, tmp;

			r = data_mix(r);
			j = (int) (r % (uint64_t) (i + 1));
			tmp = s->perm[i];
			s->perm[i] = s->perm[j];
			s->perm[j] = tmp;
		}
		s->epoch = epoch;
	}
	return s->perm + (step % per) * B;
}

/* ---------- multi-positive groups ---------- */

/*
 * The pairs of a step, for sc_positive_groups: image, and key, a per-image
 * group key for "shows the same thing" beyond the image itself (for
 * example the same emoji in another style): equal keys >= 0 make pairs
 * positives of each other; -1 = none.
 */
typedef struct batch_pairs
{
	int		   *image, *key;
} batch_pairs;

/* ---------- validation loss (forward only) ---------- */

static double
val_loss(const sc_model *m, const dataset *v, int B, float *images, float *ie, float *te,
		 float *scratch, sc_workspace *ws, double *acc_out, char *err, size_t errlen)
{
	const sc_config *c = &m->cfg;
	int			S = c->image_size, D = sc_model_output_dim(m);
	int			nb = v->nimages / B, b, i;
	double		sum = 0.0, acc = 0.0, a;
	const int32_t *ids[4096];
	int			lens[4096];

	if (nb > 8)
		nb = 8;					/* a fixed, small slice: the same pairs every time */
	if (nb == 0)
		return NAN;
	for (b = 0; b < nb; b++)
	{
		for (i = 0; i < B; i++)
		{
			int			im = b * B + i, cap = v->cap_first[im];

			if (dataset_image(v, im, S, c->image_mean, c->image_std, 0,
							  images + (size_t) i * 3 * S * S, err, errlen) < 0)
				return NAN;
			ids[i] = v->tokens + (size_t) cap * v->context;
			lens[i] = v->ntok[cap];
		}
		if (sc_encode_images(m, ws, images, B, ie, NULL, NULL, err, errlen) < 0 ||
			sc_encode_texts(m, ws, ids, lens, B, te, NULL, NULL, err, errlen) < 0)
			return NAN;
		sum += sc_clip_loss(ie, te, B, D, m->p.logit_scale[0], NULL, NULL, NULL, scratch, &a);
		acc += a;
	}
	*acc_out = acc / nb;
	return sum / nb;
}

static double
now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec * 1e-9;
}

/*
 * On resume, drop log rows past the resumed step (written after the state
 * was saved, by a run that was then killed), so the curve has no repeats.
 */
static void
trim_log(const char *path, long step)
{
	char	   *text = data_slurp(path, NULL), *p, tmp[1200];
	FILE	   *f;

	if (!text)
		return;
	snprintf(tmp, sizeof tmp, "%s.tmp", path);
	f = fopen(tmp, "w");
	if (!f)
	{
		free(text);
		return;
	}
	for (p = text; *p;)
	{
		char	   *e = strchr(p, '\n');
		size_t		n = e ? (size_t) (e - p + 1) : strlen(p);

		if (p == text || strtol(p, NULL, 10) <= step)
			fwrite(p, 1, n, f);
		p += n;
	}
	free(text);
	if (fclose(f) == 0)
		rename(tmp, path);
}

static int
file_exists(const char *p)
{
	struct stat st;

	return stat(p, &st) == 0;
}

static int
file_nonempty(const char *p)
{
	struct stat st;

	return stat(p, &st) == 0 && st.st_size > 0;
}

static void
stem_of(const char *out, char *stem, size_t n)
{
	size_t		l = strlen(out);

	snprintf(stem, n, "%s", out);
	if (l > 12 && strcmp(out + l - 12, ".safetensors") == 0 && l - 12 < n)
		stem[l - 12] = '\0';
}

static int
out_given(int argc, char **argv)
{
	for (int i = 1; i < argc; i++)
		if (strcmp(argv[i], "--out") == 0)
			return 1;
	return 0;
}

int
main(int argc, char **argv)
{
	args		a;
	char		err[1024], stem[1024], statepath[1100], logpath[1100], path[1200];
	dataset		d, vd;
	sc_config	cfg;
	sc_model   *m = NULL;
	sc_trainer *t;
	char	   *bpe = NULL;
	ClipTokenizer *tok;
	long		total, step = 0, start_step;
	float	   *am = NULL, *av = NULL, *fire = NULL, *images, *ie = NULL, *te = NULL, *scratch;
	long		reinit[2] = {0, 0};	/* head rows re-initialised so far, image and text */
	flops_ctl	fc = {-1, 0.0, 0.0};
	sampler		smp;
	FILE	   *logf_;
	int			S, B, have_val = 0, i, fresh_log;
	double		t0, tlast, pairs_since = 0;
	sc_train_opts opts = {0};
	sc_workspace ws = {0};
	const int32_t **ids;
	int		   *lens, *group;
	batch_pairs bp;
	batch_ctx  *bc;
	long	   *groups;			/* equal: the same thing shown (batch_fill); fed to the multi-positive groups */

	default_args(&a);
	if (parse_args(argc, argv, &a) < 0)
		return 2;
	{
		char		msg[256];

		/* OpenBLAS's generic fallback kernels are ~3x slower where the CPU is misreported */
		if (sc_blas_tune(msg, sizeof msg) > 0)
			printf("OpenBLAS: %s\n", msg);
	}
	openblas_set_num_threads(a.threads);
	if (a.resume && !out_given(argc, argv))
	{
		/* a resumed run writes where it wrote before: OUT is the state's path less ".state" */
		static char rout[1100];
		size_t		n = strlen(a.resume);

		snprintf(rout, sizeof rout, "%s", a.resume);
		if (n > 6 && n < sizeof rout && strcmp(rout + n - 6, ".state") == 0)
		{
			rout[n - 6] = '\0';
			a.out = rout;
		}
	}
	stem_of(a.out, stem, sizeof stem);
	snprintf(statepath, sizeof statepath, "%s.state", a.out);
	snprintf(logpath, sizeof logpath, "%s", a.log ? a.log : "");
	if (!a.log)
		snprintf(logpath, sizeof logpath, "%s.csv", stem);

	if (dataset_load(&d, a.data, err, sizeof err) < 0)
	{
		fprintf(stderr, "sparseclip-train: %s\n", err);
		return 1;
	}
	printf("data: %d images, %d captions from %s\n", d.nimages, d.ncaps, a.data);
	if (a.val)
	{
		if (dataset_load(&vd, a.val, err, sizeof err) < 0)
		{
			fprintf(stderr, "sparseclip-train: %s\n", err);
			return 1;
		}
		have_val = 1;
		printf("val: %d images, %d captions from %s\n", vd.nimages, vd.ncaps, a.val);
	}

	if (a.resume)
	{
		char	   *sj, *nj;
		double		init;
		int			tied;

		m = load_state(a.resume, &a, &total, &step, &bpe, &am, &av, &fire, reinit, &fc, err, sizeof err);
		if (!m)
		{
			fprintf(stderr, "sparseclip-train: resume: %s\n", err);
			return 1;
		}
		cfg = m->cfg;
		/* the stored run's settings, then whatever the command line gives */
		sj = args_json(&a, total);
		init = a.logit_init;
		tied = a.head_tied;
		if (parse_args(argc, argv, &a) < 0)
			return 2;
		if (a.head_tied != tied)
			printf("resume: --tied-head-init ignored: it sets how a fresh run starts\n");
		a.head_tied = tied;
		if (a.dense != (cfg.sparse_dim == 0))
		{
			fprintf(stderr, "sparseclip-train: resume: --dense does not match the state's model\n");
			return 2;
		}
		if (a.model_given)
			printf("resume: --preset/--config ignored: the model comes from the state\n");
		if (a.logit_init != init)
			printf("resume: --logit-init ignored: it sets the initial scale only (now %.4g)\n",
				   exp(m->p.logit_scale[0]));
		a.logit_init = init;
		if (a.steps_given)
			total = a.steps;
		else if (a.epochs_given)
			total = a.epochs * (long) (d.nimages / a.batch);
		nj = args_json(&a, total);
		if (sj && nj)
			print_overrides(sj, nj);
		free(sj);
		free(nj);
		printf("resumed from %s at step %ld of %ld\n", a.resume, step, total);
	}
	else
	{
		if (a.config)
		{
			char	   *j = data_slurp(a.config, NULL);

			if (!j || sc_config_from_json(j, &cfg, err, sizeof err) < 0)
			{
				fprintf(stderr, "sparseclip-train: %s: %s\n", a.config, j ? err : "cannot read");
				return 1;
			}
			free(j);
		}
		else if (sc_config_preset(a.preset, &cfg) < 0)
		{
			fprintf(stderr, "sparseclip-train: unknown preset %s\n", a.preset);
			return 1;
		}
		if (a.dense)
			cfg.sparse_dim = 0;
		if (a.bpe)
		{
			bpe = data_slurp(a.bpe, NULL);
			if (!bpe)
			{
				fprintf(stderr, "sparseclip-train: cannot read %s\n", a.bpe);
				return 1;
			}
		}
		else
		{
			char		wn[1100];
			const char *wp = a.wordnet;
			const char *sl = strrchr(a.data, '/');
			double		tb = now_s();

			if (!wp)
			{
				snprintf(wn, sizeof wn, "%.*swordnet.txt", sl ? (int) (sl - a.data + 1) : 0, a.data);
				wp = file_exists(wn) ? wn : NULL;
			}
			if (!wp && file_exists(SC_WORDNET_DIR "/data.noun"))
				wp = SC_WORDNET_DIR;	/* no text beside the data: the installed WordNet */
			bpe = learn_bpe(&d, wp, cfg.vocab_size, err, sizeof err);
			if (!bpe)
			{
				fprintf(stderr, "sparseclip-train: %s\n", err);
				return 1;
			}
			printf("BPE: done in %.1f s\n", now_s() - tb);
		}
		m = sc_model_random(&cfg, (uint64_t) a.seed, err, sizeof err);
		if (!m)
		{
			fprintf(stderr, "sparseclip-train: %s\n", err);
			return 1;
		}
		m->p.logit_scale[0] = (float) log(a.logit_init);
		if (a.head_tied && cfg.sparse_dim > 0)
		{
			memcpy(m->p.sparse_text, m->p.sparse_visual, sizeof(float) * (size_t) cfg.sparse_dim * cfg.embed_dim);
			printf("head: the text head starts as a copy of the image head (--tied-head-init)\n");
		}
		B = a.batch;
		total = a.steps > 0 ? a.steps : (a.epochs > 0 ? a.epochs : 1) * (long) (d.nimages / B);
	}
	B = a.batch;
	if (d.nimages < B)
	{
		fprintf(stderr, "sparseclip-train: %d images, fewer than one batch of %d\n", d.nimages, B);
		return 1;
	}
	tok = clip_tokenizer_new(bpe, strlen(bpe), cfg.vocab_size, err, sizeof err);
	if (!tok || dataset_tokenize(&d, tok, cfg.context_length, err, sizeof err) < 0 ||
		(have_val && dataset_tokenize(&vd, tok, cfg.context_length, err, sizeof err) < 0))
	{
		fprintf(stderr, "sparseclip-train: tokenizer: %s\n", err);
		return 1;
	}
	a.bo.augment = a.augment;
	bc = batch_new(&d, &a.bo, tok, cfg.context_length, B, err, sizeof err);
	if (!bc)
	{
		fprintf(stderr, "sparseclip-train: %s\n", err);
		return 1;
	}
	if (d.nmasks > 0 || a.bo.p_background > 0 || a.bo.p_silhouette > 0)
		printf("data: %d groups, %d alpha masks\n", d.ngroups, d.nmasks);
	t = sc_trainer_new(m, B, err, sizeof err);
	if (!t)
	{
		fprintf(stderr, "sparseclip-train: %s\n", err);
		return 1;
	}
	sc_trainer_set_threads(t, a.threads);
	if (am)
	{
		float	   *tm, *tv;
		long	   *tsp;

		sc_trainer_adam_state(t, &tm, &tv, &tsp);
		memcpy(tm, am, m->owned_count * sizeof(float));
		memcpy(tv, av, m->owned_count * sizeof(float));
		*tsp = step;
		free(am);
		free(av);
	}
	if (fire)
	{
		float	   *fi, *ft;

		sc_trainer_fire_counts(t, &fi, &ft);
		memcpy(fi, fire, sizeof(float) * cfg.sparse_dim);
		memcpy(ft, fire + cfg.sparse_dim, sizeof(float) * cfg.sparse_dim);
		free(fire);
	}
	opts.sparsity = a.sparsity;
	opts.topk = a.topk;
	opts.l1 = (float) a.l1;
	opts.align = (float) a.align;
	S = cfg.image_size;
	images = malloc(sizeof(float) * (size_t) B * 3 * S * S);
	ids = malloc(sizeof(*ids) * B);
	lens = malloc(sizeof(int) * B);
	bp.image = malloc(sizeof(int) * B);
	bp.key = malloc(sizeof(int) * B);
	group = malloc(sizeof(int) * B);
	groups = malloc(sizeof(long) * B);
	scratch = malloc(sizeof(float) * 2 * (size_t) B * B);
	ie = malloc(sizeof(float) * (size_t) B * sc_model_output_dim(m));
	te = malloc(sizeof(float) * (size_t) B * sc_model_output_dim(m));
	smp.n = d.nimages;
	smp.epoch = -1;
	smp.perm = malloc(sizeof(int) * d.nimages);
	smp.seed = (uint64_t) a.seed;
	if (!images || !ids || !lens || !bp.image || !bp.key || !group || !groups || !scratch || !ie ||
		!te || !smp.perm)
	{
		fprintf(stderr, "sparseclip-train: out of memory\n");
		return 1;
	}
	if (step > 0)
		trim_log(logpath, step);
	/* a run branched from another's state starts a log of its own: it needs the header too */
	fresh_log = step == 0 || !file_nonempty(logpath);
	logf_ = fopen(logpath, fresh_log ? "w" : "a");
	if (!logf_)
	{
		fprintf(stderr, "sparseclip-train: cannot write %s\n", logpath);
		return 1;
	}
	if (fresh_log)
		fprintf(logf_, "step,epoch,loss,contrastive,batch_acc,logit_scale,lr,grad_norm,pairs_per_s,"
				"image_l0,text_l0,val_loss,val_acc,elapsed_s,logit_lr,flops_image,flops_text,flops_weight,"
				"extra_positives,reinit_image,reinit_text,patch_dropout,flops_target,pos_cos\n");
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	printf("model: %s, %zu parameters, sparse_dim %d; %ld steps of %d pairs (%.2f epochs), %d thread(s)\n",
		   a.config ? a.config : a.preset, m->owned_count, cfg.sparse_dim, total, B,
		   (double) total * B / d.nimages, a.threads);
	printf("%8s %7s %8s %7s %9s %8s %8s %8s\n", "step", "loss", "scale", "lr", "pairs/s", "img L0", "txt L0", "val");
	fflush(stdout);

	/* --flops is the controller's first weight; a resumed controller keeps its own */
	if (fc.step0 < 0)
		fc.weight = a.flops > 0.0 ? a.flops : 1.0;
	else if (a.flops_target > 0.0)
		printf("resume: FLOPS controller at weight %.6g since step %ld (--flops does not reset it)\n",
			   fc.weight, fc.step0);
	start_step = step;
	t0 = tlast = now_s();
	while (step < total && !stop_requested && !(a.stop_at > 0 && step >= a.stop_at))
	{
		const int  *batch = sampler_batch(&smp, step, B);
		long		per = d.nimages / B;
		sc_batch_stats st;
		double		lr = sc_lr_at(a.lr, step, a.warmup, total), gn;
		double		logit_lr = a.logit_lr_mult * (a.logit_cosine ? lr : sc_lr_const_at(a.lr, step, a.warmup));
		double		flops_w = sc_ramp_weight(a.flops, step, total, a.flops_start, a.flops_ramp);
		int			ctl_on = a.flops_target > 0.0 && (fc.step0 >= 0 || (double) step >= a.flops_start * (double) total);
		double		flops_tgt = 0.0;
		double		extra_pos = 0.0;

		if (a.flops_target > 0.0)
			flops_w = ctl_on ? fc.weight : 0.0;

		if (batch_fill(bc, (uint64_t) a.seed, step, batch, B, S, cfg.image_mean, cfg.image_std,
					   images, ids, lens, groups, err, sizeof err) < 0)
		{
			fprintf(stderr, "sparseclip-train: %s\n", err);
			return 1;
		}
		for (i = 0; i < B; i++)
		{
			/* a composite (negative id) is its own thing: a unique image id, no key */
			bp.image[i] = groups[i] >= 0 ? batch[i] : -1 - i;
			bp.key[i] = groups[i] >= 0 ? (int) groups[i] : -1;
		}
		opts.flops = (float) flops_w;
		/* FLIP: drop patches except in the last stretch, which trains on whole images */
		opts.patch_dropout = (double) step < (1.0 - a.patch_dropout_off) * (double) total ?
			(float) a.patch_dropout : 0.0f;
		opts.dropout_seed = data_mix(((uint64_t) a.seed << 36) ^ (uint64_t) step ^ 0x5eedd5ULL);
		opts.group = NULL;
		if (a.multi_positive)
		{
			extra_pos = (double) sc_positive_groups(bp.image, bp.key, ids, lens, B, group) / B;
			opts.group = group;
		}
		if (sc_trainer_batch(t, images, ids, lens, B, &opts, &st, NULL, NULL, err, sizeof err) < 0)
		{
			fprintf(stderr, "sparseclip-train: %s\n", err);
			return 1;
		}
		if (!isfinite(st.loss))
		{
			fprintf(stderr, "sparseclip-train: loss is not finite at step %ld; stopping (state of the last checkpoint is kept)\n", step);
			return 1;
		}
		gn = sc_trainer_update(t, (float) lr, (float) logit_lr, (float) a.wd, a.clip, (float) a.logit_cap);
		if (ctl_on)
			flops_tgt = flops_ctl_update(&fc, &a, step, total, cfg.sparse_dim, fmax(st.image_l0, st.text_l0), lr);
		step++;
		pairs_since += B;
		if (a.dead_every > 0 && step % a.dead_every == 0)
		{
			int			ni, nt;

			sc_trainer_reinit_dead(t, data_mix(((uint64_t) a.seed << 32) ^ (uint64_t) step), &ni, &nt);
			reinit[0] += ni;
			reinit[1] += nt;
			printf("step %ld: re-initialised %d image and %d text dimensions that never fired in %ld steps\n",
				   step, ni, nt, a.dead_every);
		}
		if (step % a.log_every == 0 || step == total || (have_val && step % a.val_every == 0))
		{
			double		now = now_s(), vl = NAN, va = NAN;
			double		pps = pairs_since / (now - tlast);

			if (have_val && (step % a.val_every == 0 || step == total))
				vl = val_loss(m, &vd, B, images, ie, te, scratch, &ws, &va, err, sizeof err);
			printf("%8ld %7.4f %8.3f %7.2g %9.1f %8.1f %8.1f %8.4f\n", step, st.loss,
				   exp(m->p.logit_scale[0]), lr, pps, st.image_l0, st.text_l0, vl);
			fprintf(logf_, "%ld,%.4f,%.6f,%.6f,%.4f,%.5f,%.6g,%.5g,%.2f,%.2f,%.2f,%.6f,%.4f,%.1f,%.6g,"
					"%.6g,%.6g,%.6g,%.4f,%ld,%ld,%.4g,%.2f,%.4f\n",
					step, (double) step / per, st.loss, st.contrastive, st.accuracy,
					exp(m->p.logit_scale[0]), lr, gn, pps, st.image_l0, st.text_l0, vl, va, now - t0,
					logit_lr, st.flops_image, st.flops_text, flops_w, extra_pos, reinit[0], reinit[1],
					(double) opts.patch_dropout, flops_tgt, st.pos_cos);
			fflush(logf_);
			fflush(stdout);
			tlast = now_s();
			pairs_since = 0;
		}
		if (a.checkpoint_every > 0 && step % a.checkpoint_every == 0 && step < total)
		{
			snprintf(path, sizeof path, "%s.step%06ld.safetensors", stem, step);
			if (sc_model_save(m, path, bpe, NULL, err, sizeof err) < 0 ||
				save_state(statepath, m, t, bpe, &a, total, reinit, &fc, err, sizeof err) < 0)
				fprintf(stderr, "sparseclip-train: checkpoint: %s\n", err);
			else
				printf("checkpoint: %s and %s\n", path, statepath);
		}
	}
	if (save_state(statepath, m, t, bpe, &a, total, reinit, &fc, err, sizeof err) < 0)
		fprintf(stderr, "sparseclip-train: state: %s\n", err);
	if (step >= total)
	{
		if (sc_model_save(m, a.out, bpe, NULL, err, sizeof err) < 0)
		{
			fprintf(stderr, "sparseclip-train: %s\n", err);
			return 1;
		}
		printf("done: %ld steps in %.0f s; model %s, state %s, log %s\n", step - start_step,
			   now_s() - t0, a.out, statepath, logpath);
	}
	else
		printf("stopped at step %ld; resume with --resume %s\n", step, statepath);
	fclose(logf_);
	sc_workspace_free(&ws);
	sc_trainer_free(t);
	batch_free(bc);
	sc_model_free(m);
	clip_tokenizer_free(tok);
	free(bpe);
	dataset_free(&d);
	if (have_val)
		dataset_free(&vd);
	free(images);
	free(ids);
	free(lens);
	free(bp.image);
	free(bp.key);
	free(group);
	free(groups);
	free(scratch);
	free(ie);
	free(te);
	free(smp.perm);
	return 0;
}
