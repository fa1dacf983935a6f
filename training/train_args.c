/*
 * train_args.c - sparseclip-train's command line: --help, the defaults, and
 * the parsing and checking of the options (train_args.h).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "train_args.h"

void
train_usage(void)
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
		  "  --aux W                  AuxK, with --sparsity topk: add W times an InfoNCE loss on\n"
		  "                           each side's --aux-k largest ReLU outputs among its dead\n"
		  "                           dimensions (those that never fired in the last window), so\n"
		  "                           that dimensions TopK leaves out still learn (default 0)\n"
		  "  --aux-k K                dead dimensions per row in that loss (default 2 x --topk)\n"
		  "  --aux-window N           steps per window of firing counts (default 100)\n"
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

void
train_default_args(args *a)
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
	a->aux_window = 100;
	a->clip = 1.0;
	a->augment = 1;
	a->sparsity = SC_SPARSITY_RELU;
	batch_opts_default(&a->bo);
}

/*
 * Apply the command line over a (the defaults, or on resume the stored
 * run's settings), then check the result.
 */
int
train_parse_args(int argc, char **argv, args *a)
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
		NUM("--aux", aux, strtod);
		NUM("--aux-k", aux_k, (int) LNG);
		NUM("--aux-window", aux_window, LNG);
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
			train_usage();
			exit(0);
		}
		fprintf(stderr, "sparseclip-train: unknown option %s\n", o);
		train_usage();
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
		train_usage();
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
	if (a->aux != 0.0)
	{
		/* on resume the head is the state's: train.c checks it once loaded */
		if (!(a->aux > 0.0 && a->aux <= 100.0) || (a->sparsity != SC_SPARSITY_TOPK && !a->resume) || a->dense)
		{
			fprintf(stderr, "sparseclip-train: --aux W needs 0 < W <= 100 and --sparsity topk\n");
			return -1;
		}
		if (a->dead_every > 0)
		{
			fprintf(stderr, "sparseclip-train: --aux and --dead-every both handle dead dimensions: "
					"choose one\n");
			return -1;
		}
		if (a->aux_k == 0)
			a->aux_k = 2 * a->topk;
	}
	if (a->aux_k < 0 || a->aux_window < 1)
	{
		fprintf(stderr, "sparseclip-train: need --aux-k K >= 1 and --aux-window N >= 1\n");
		return -1;
	}
	if (a->sparsity == SC_SPARSITY_L1 && !(a->l1 > 0))
	{
		fprintf(stderr, "sparseclip-train: --sparsity l1 needs --l1 COEF (> 0)\n");
		return -1;
	}
	return 0;
}
