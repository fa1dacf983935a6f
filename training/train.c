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
#include "model.h"
#include "train_loss.h"
#include "train_model.h"
#include "train_optim.h"
#include "train_args.h"
#include "train_flops.h"
#include "train_state.h"

static volatile sig_atomic_t stop_requested;

static void
on_signal(int sig)
{
	(void) sig;
	stop_requested = 1;
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
	double		aux_stored = 0.0;	/* the AuxK weight of the state resumed from */
	int			aux_dead[2] = {0, 0};	/* dead dimensions of the last AuxK window */
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

	train_default_args(&a);
	if (train_parse_args(argc, argv, &a) < 0)
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
		char	   *sj, *nj, *bsj, *bnj;
		double		init;
		int			tied;

		m = train_load_state(a.resume, &a, &total, &step, &bpe, &am, &av, &fire, reinit, &fc, err, sizeof err);
		if (!m)
		{
			fprintf(stderr, "sparseclip-train: resume: %s\n", err);
			return 1;
		}
		cfg = m->cfg;
		/* the stored run's settings, then whatever the command line gives */
		sj = train_args_json(&a, total);
		bsj = batch_opts_json(&a.bo);
		init = a.logit_init;
		tied = a.head_tied;
		aux_stored = a.aux;
		if (train_parse_args(argc, argv, &a) < 0)
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
		nj = train_args_json(&a, total);
		if (sj && nj)
			train_print_overrides(sj, nj);
		/* the batch options too (augmentation, captions, composites) */
		bnj = batch_opts_json(&a.bo);
		if (bsj && bnj)
			train_print_overrides(bsj, bnj);
		free(sj);
		free(nj);
		free(bsj);
		free(bnj);
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
	/* the model file records a TopK head, so that every encoder keeps the same k */
	cfg.sparse_topk = a.sparsity == SC_SPARSITY_TOPK && a.topk < cfg.sparse_dim ? a.topk : 0;
	m->cfg.sparse_topk = cfg.sparse_topk;
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
		sc_trainer_aux_dead(t, &fi, &ft);
		memcpy(fi, fire + 2 * (size_t) cfg.sparse_dim, sizeof(float) * cfg.sparse_dim);
		memcpy(ft, fire + 3 * (size_t) cfg.sparse_dim, sizeof(float) * cfg.sparse_dim);
		for (i = 0; i < cfg.sparse_dim; i++)
		{
			aux_dead[0] += fi[i] > 0.0f;
			aux_dead[1] += ft[i] > 0.0f;
		}
		free(fire);
	}
	if (a.aux > 0.0 && a.sparsity != SC_SPARSITY_TOPK)
	{
		fprintf(stderr, "sparseclip-train: --aux W needs 0 < W <= 100 and --sparsity topk\n");
		return 2;
	}
	if (a.aux > 0.0 && a.aux_k >= cfg.sparse_dim)
	{
		fprintf(stderr, "sparseclip-train: --aux-k %d must be below sparse_dim %d\n", a.aux_k, cfg.sparse_dim);
		return 2;
	}
	if (a.aux > 0.0 && aux_stored == 0.0 && step > 0)
	{
		/* AuxK joins a run: its first window counts from here, not from the run's start */
		float	   *fi, *ft;

		sc_trainer_fire_counts(t, &fi, &ft);
		memset(fi, 0, sizeof(float) * cfg.sparse_dim);
		memset(ft, 0, sizeof(float) * cfg.sparse_dim);
		printf("AuxK: the first window of firing counts starts at step %ld\n", step);
	}
	opts.sparsity = a.sparsity;
	opts.topk = a.topk;
	opts.l1 = (float) a.l1;
	opts.align = (float) a.align;
	opts.aux = (float) a.aux;
	opts.aux_k = a.aux_k;
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
				"extra_positives,reinit_image,reinit_text,patch_dropout,flops_target,pos_cos,aux_loss,"
				"aux_dead_image,aux_dead_text\n");
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
		if (a.aux > 0.0 && step % a.aux_window == 0)
		{
			sc_trainer_aux_window(t, &aux_dead[0], &aux_dead[1]);
			printf("step %ld: AuxK: %d image and %d text dimensions did not fire in the last window\n",
				   step, aux_dead[0], aux_dead[1]);
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
					"%.6g,%.6g,%.6g,%.4f,%ld,%ld,%.4g,%.2f,%.4f,%.5f,%d,%d\n",
					step, (double) step / per, st.loss, st.contrastive, st.accuracy,
					exp(m->p.logit_scale[0]), lr, gn, pps, st.image_l0, st.text_l0, vl, va, now - t0,
					logit_lr, st.flops_image, st.flops_text, flops_w, extra_pos, reinit[0], reinit[1],
					(double) opts.patch_dropout, flops_tgt, st.pos_cos, st.aux, aux_dead[0], aux_dead[1]);
			fflush(logf_);
			fflush(stdout);
			tlast = now_s();
			pairs_since = 0;
		}
		if (a.checkpoint_every > 0 && step % a.checkpoint_every == 0 && step < total)
		{
			snprintf(path, sizeof path, "%s.step%06ld.safetensors", stem, step);
			if (sc_model_save(m, path, bpe, NULL, err, sizeof err) < 0 ||
				train_save_state(statepath, m, t, bpe, &a, total, reinit, &fc, err, sizeof err) < 0)
				fprintf(stderr, "sparseclip-train: checkpoint: %s\n", err);
			else
				printf("checkpoint: %s and %s\n", path, statepath);
		}
	}
	if (train_save_state(statepath, m, t, bpe, &a, total, reinit, &fc, err, sizeof err) < 0)
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
