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

typedef struct args
{
	const char *data, *val, *preset, *config, *out, *resume, *bpe, *wordnet, *log;
	long		steps, epochs, stop_at;
	int			batch, warmup, threads, dense, topk, seed, log_every, val_every, augment;
	long		checkpoint_every;
	double		lr, wd, logit_cap, clip, l1;
	sc_sparsity sparsity;
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
		  "  --seed N                 initialisation and sampling seed (default 1)\n"
		  "  --no-augment             no image augmentation (crops nor any --aug-* option)\n"
		  "  --bpe merges.txt         tokenizer merges (default: learn them from the captions\n"
		  "                           and --wordnet FILE, default wordnet.txt beside --data)\n"
		  "  --out model.safetensors  model file (default model.safetensors); state in OUT.state\n"
		  "  --log file.csv           training curve (default OUT.csv)\n"
		  "  --checkpoint-every N     numbered model files OUT.stepN.safetensors + state\n"
		  "  --resume STATE           continue from a state file (its hyper-parameters win)\n"
		  "  --threads N              OpenBLAS threads (default 1)\n"
		  "  --stop-at N              stop after step N, state saved (to split a run)\n"
		  "  --log-every N --val-every N\n", stderr);
	batch_opts_usage(stderr);
}

static int
parse_args(int argc, char **argv, args *a)
{
	int			i;

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
	a->clip = 1.0;
	a->augment = 1;
	a->sparsity = SC_SPARSITY_RELU;
	batch_opts_default(&a->bo);
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
		NUM("--lr", lr, strtod);
		NUM("--wd", wd, strtod);
		NUM("--logit-cap", logit_cap, strtod);
		NUM("--clip", clip, strtod);
		NUM("--l1", l1, strtod);
		if (strcmp(o, "--dense") == 0)
		{
			a->dense = 1;
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

static char *
slurp(const char *path)
{
	FILE	   *f = fopen(path, "rb");
	char	   *s;
	long		n;

	if (!f)
		return NULL;
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	fseek(f, 0, SEEK_SET);
	s = malloc((size_t) n + 1);
	if (s && fread(s, 1, (size_t) n, f) != (size_t) n)
	{
		free(s);
		s = NULL;
	}
	if (s)
		s[n] = 0;
	fclose(f);
	return s;
}

/* Learn BPE merges from the training captions and a general English text. */
static char *
learn_bpe(const dataset *d, const char *wordnet, int vocab, char *err, size_t errlen)
{
	bpe_trainer *bt = bpe_trainer_new();
	char	   *wn = wordnet ? slurp(wordnet) : NULL, *merges;
	int			i;

	if (!bt)
	{
		snprintf(err, errlen, "out of memory");
		return NULL;
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
		printf("BPE: learning %d merges from %d captions and %s\n", vocab - 514, d->ncaps, wordnet);
	}
	else
		printf("BPE: learning %d merges from %d captions (no general text found)\n", vocab - 514, d->ncaps);
	merges = bpe_trainer_merges(bt, vocab - 514, err, errlen);
	free(wn);
	bpe_trainer_free(bt);
	return merges;
fail:
	free(wn);
	bpe_trainer_free(bt);
	return NULL;
}

/* ---------- state file ---------- */

static char *
args_json(const args *a, long total)
{
	char	   *s = malloc(1024);

	if (!s)
		return NULL;
	snprintf(s, 1024,
			 "{\"total_steps\":%ld,\"batch\":%d,\"lr\":%.9g,\"warmup\":%d,\"wd\":%.9g,"
			 "\"logit_cap\":%.9g,\"clip\":%.9g,\"seed\":%d,\"sparsity\":%d,\"topk\":%d,"
			 "\"l1\":%.9g,\"augment\":%d}",
			 total, a->batch, a->lr, a->warmup, a->wd, a->logit_cap, a->clip, a->seed,
			 (int) a->sparsity, a->topk, a->l1, a->augment);
	return s;
}

static int
save_state(const char *path, sc_model *m, sc_trainer *t, const char *bpe, const args *a,
		   long total, char *err, size_t errlen)
{
	float	   *am, *av;
	long	   *stepp;
	st_write_tensor wt[3];
	const char *keys[5], *vals[5];
	char		stepbuf[32];
	char	   *cfg = sc_config_to_json(&m->cfg), *aj = args_json(a, total), *bj = batch_opts_json(&a->bo);
	int			rc, i;

	sc_trainer_adam_state(t, &am, &av, &stepp);
	memset(wt, 0, sizeof wt);
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
	keys[4] = "train.batch";
	vals[4] = bj;
	rc = (cfg && aj && bj) ? st_write(path, wt, 3, keys, vals, 5, err, errlen) : -1;
	free(cfg);
	free(aj);
	free(bj);
	return rc;
}

static int
json_num(const char *json, const char *key, double *out)
{
	const char *p = strstr(json, key);

	if (!p)
		return -1;
	p += strlen(key);
	if (*p != '"' || p[1] != ':')
		return -1;
	*out = strtod(p + 2, NULL);
	return 0;
}

/* Load a state file: model, moments, step, tokenizer and hyper-parameters. */
static sc_model *
load_state(const char *path, args *a, long *total, long *step, char **bpe, float **am_out,
		   float **av_out, char *err, size_t errlen)
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
	char	   *text = slurp(path), *p, tmp[1200];
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

static void
stem_of(const char *out, char *stem, size_t n)
{
	size_t		l = strlen(out);

	snprintf(stem, n, "%s", out);
	if (l > 12 && strcmp(out + l - 12, ".safetensors") == 0 && l - 12 < n)
		stem[l - 12] = '\0';
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
	float	   *am = NULL, *av = NULL, *images, *ie = NULL, *te = NULL, *scratch;
	sampler		smp;
	FILE	   *logf_;
	int			S, B, have_val = 0;
	double		t0, tlast, pairs_since = 0;
	sc_train_opts opts;
	sc_workspace ws = {0};
	const int32_t **ids;
	int		   *lens;
	batch_ctx  *bc;
	long	   *groups;			/* equal: the same thing shown (for a multi-positive loss) */

	if (parse_args(argc, argv, &a) < 0)
		return 2;
	{
		char		msg[256];

		/* OpenBLAS's generic fallback kernels are ~3x slower where the CPU is misreported */
		if (sc_blas_tune(msg, sizeof msg) > 0)
			printf("OpenBLAS: %s\n", msg);
	}
	openblas_set_num_threads(a.threads);
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
		m = load_state(a.resume, &a, &total, &step, &bpe, &am, &av, err, sizeof err);
		if (!m)
		{
			fprintf(stderr, "sparseclip-train: resume: %s\n", err);
			return 1;
		}
		cfg = m->cfg;
		printf("resumed from %s at step %ld of %ld\n", a.resume, step, total);
	}
	else
	{
		if (a.config)
		{
			char	   *j = slurp(a.config);

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
			bpe = slurp(a.bpe);
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
	opts.sparsity = a.sparsity;
	opts.topk = a.topk;
	opts.l1 = (float) a.l1;
	S = cfg.image_size;
	images = malloc(sizeof(float) * (size_t) B * 3 * S * S);
	ids = malloc(sizeof(*ids) * B);
	lens = malloc(sizeof(int) * B);
	groups = malloc(sizeof(long) * B);
	scratch = malloc(sizeof(float) * 2 * (size_t) B * B);
	ie = malloc(sizeof(float) * (size_t) B * sc_model_output_dim(m));
	te = malloc(sizeof(float) * (size_t) B * sc_model_output_dim(m));
	smp.n = d.nimages;
	smp.epoch = -1;
	smp.perm = malloc(sizeof(int) * d.nimages);
	smp.seed = (uint64_t) a.seed;
	if (!images || !ids || !lens || !groups || !scratch || !ie || !te || !smp.perm)
	{
		fprintf(stderr, "sparseclip-train: out of memory\n");
		return 1;
	}
	if (step > 0)
		trim_log(logpath, step);
	logf_ = fopen(logpath, step > 0 ? "a" : "w");
	if (!logf_)
	{
		fprintf(stderr, "sparseclip-train: cannot write %s\n", logpath);
		return 1;
	}
	if (step == 0)
		fprintf(logf_, "step,epoch,loss,contrastive,batch_acc,logit_scale,lr,grad_norm,pairs_per_s,"
				"image_l0,text_l0,val_loss,val_acc,elapsed_s\n");
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	printf("model: %s, %zu parameters, sparse_dim %d; %ld steps of %d pairs (%.2f epochs), %d thread(s)\n",
		   a.config ? a.config : a.preset, m->owned_count, cfg.sparse_dim, total, B,
		   (double) total * B / d.nimages, a.threads);
	printf("%8s %7s %8s %7s %9s %8s %8s %8s\n", "step", "loss", "scale", "lr", "pairs/s", "img L0", "txt L0", "val");
	fflush(stdout);

	start_step = step;
	t0 = tlast = now_s();
	while (step < total && !stop_requested && !(a.stop_at > 0 && step >= a.stop_at))
	{
		const int  *batch = sampler_batch(&smp, step, B);
		long		per = d.nimages / B;
		sc_batch_stats st;
		double		lr = sc_lr_at(a.lr, step, a.warmup, total), gn;

		if (batch_fill(bc, (uint64_t) a.seed, step, batch, B, S, cfg.image_mean, cfg.image_std,
					   images, ids, lens, groups, err, sizeof err) < 0)
		{
			fprintf(stderr, "sparseclip-train: %s\n", err);
			return 1;
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
		gn = sc_trainer_update(t, (float) lr, (float) a.wd, a.clip, (float) a.logit_cap);
		step++;
		pairs_since += B;
		if (step % a.log_every == 0 || step == total || (have_val && step % a.val_every == 0))
		{
			double		now = now_s(), vl = NAN, va = NAN;
			double		pps = pairs_since / (now - tlast);

			if (have_val && (step % a.val_every == 0 || step == total))
				vl = val_loss(m, &vd, B, images, ie, te, scratch, &ws, &va, err, sizeof err);
			printf("%8ld %7.4f %8.3f %7.2g %9.1f %8.1f %8.1f %8.4f\n", step, st.loss,
				   exp(m->p.logit_scale[0]), lr, pps, st.image_l0, st.text_l0, vl);
			fprintf(logf_, "%ld,%.4f,%.6f,%.6f,%.4f,%.5f,%.6g,%.5g,%.2f,%.2f,%.2f,%.6f,%.4f,%.1f\n",
					step, (double) step / per, st.loss, st.contrastive, st.accuracy,
					exp(m->p.logit_scale[0]), lr, gn, pps, st.image_l0, st.text_l0, vl, va, now - t0);
			fflush(logf_);
			fflush(stdout);
			tlast = now_s();
			pairs_since = 0;
		}
		if (a.checkpoint_every > 0 && step % a.checkpoint_every == 0 && step < total)
		{
			snprintf(path, sizeof path, "%s.step%06ld.safetensors", stem, step);
			if (sc_model_save(m, path, bpe, NULL, err, sizeof err) < 0 ||
				save_state(statepath, m, t, bpe, &a, total, err, sizeof err) < 0)
				fprintf(stderr, "sparseclip-train: checkpoint: %s\n", err);
			else
				printf("checkpoint: %s and %s\n", path, statepath);
		}
	}
	if (save_state(statepath, m, t, bpe, &a, total, err, sizeof err) < 0)
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
	free(groups);
	free(scratch);
	free(ie);
	free(te);
	free(smp.perm);
	return 0;
}
