/*
 * train_state.c - sparseclip-train's state file (train_state.h).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"
#include "safetensors.h"
#include "train_state.h"

char *
train_args_json(const args *a, long total)
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
			 "\"head_tied\":%d,\"aux\":%.9g,\"aux_k\":%d,\"aux_window\":%ld}",
			 total, a->batch, a->lr, a->warmup, a->wd, a->logit_cap, a->clip, a->seed,
			 (int) a->sparsity, a->topk, a->l1, a->augment, a->logit_init, a->logit_lr_mult,
			 a->logit_cosine, a->flops, a->flops_start, a->flops_ramp, a->multi_positive,
			 a->dead_every, a->patch_dropout, a->patch_dropout_off, a->log_every,
			 a->val_every, (long) a->checkpoint_every, a->flops_target, a->flops_gain, a->align,
			 a->head_tied, a->aux, a->aux_k, a->aux_window);
	return s;
}

/* a 1-D F32 tensor to write */
static void
vec_tensor(st_write_tensor *w, const char *name, const float *data, int64_t n)
{
	w->name = name;
	w->data = data;
	w->ndim = 1;
	w->shape[0] = n;
}

int
train_save_state(const char *path, sc_model *m, sc_trainer *t, const char *bpe, const args *a,
		   long total, const long reinit[2], const flops_ctl *fc, char *err, size_t errlen)
{
	float	   *am, *av, *fi, *ft, *di, *dt;
	long	   *stepp;
	st_write_tensor wt[7];
	const char *keys[7], *vals[7];
	char		stepbuf[32], reinitbuf[64], fcbuf[128];
	char	   *cfg = sc_config_to_json(&m->cfg), *aj = train_args_json(a, total), *bj = batch_opts_json(&a->bo);
	int			rc, nt = 3;

	sc_trainer_adam_state(t, &am, &av, &stepp);
	sc_trainer_fire_counts(t, &fi, &ft);
	sc_trainer_aux_dead(t, &di, &dt);
	memset(wt, 0, sizeof wt);
	if (fi)
	{
		/* the dead-dimension window in progress, so that a resumed run continues it */
		vec_tensor(&wt[3], "fire_image", fi, m->cfg.sparse_dim);
		vec_tensor(&wt[4], "fire_text", ft, m->cfg.sparse_dim);
		nt = 5;
		if (a->aux > 0.0)
		{
			/* AuxK's dead sets of the window before */
			vec_tensor(&wt[5], "aux_dead_image", di, m->cfg.sparse_dim);
			vec_tensor(&wt[6], "aux_dead_text", dt, m->cfg.sparse_dim);
			nt = 7;
		}
	}
	vec_tensor(&wt[0], "params", m->owned, (int64_t) m->owned_count);
	vec_tensor(&wt[1], "adam_m", am, (int64_t) m->owned_count);
	vec_tensor(&wt[2], "adam_v", av, (int64_t) m->owned_count);
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
void
train_print_overrides(const char *stored, const char *now)
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
sc_model *
train_load_state(const char *path, args *a, long *total, long *step, char **bpe, float **am_out,
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

		const st_tensor *di = st_find(f, "aux_dead_image"), *dt = st_find(f, "aux_dead_text");

		*fire_out = NULL;
		if (fi && ft && fi->numel == cfg.sparse_dim && ft->numel == cfg.sparse_dim &&
			fi->dtype == ST_F32 && ft->dtype == ST_F32 &&
			(*fire_out = calloc(4 * (size_t) cfg.sparse_dim, sizeof(float))) != NULL)
		{
			st_to_float(fi, *fire_out);
			st_to_float(ft, *fire_out + cfg.sparse_dim);
			if (di && dt && di->numel == cfg.sparse_dim && dt->numel == cfg.sparse_dim &&
				di->dtype == ST_F32 && dt->dtype == ST_F32)
			{
				st_to_float(di, *fire_out + 2 * (size_t) cfg.sparse_dim);
				st_to_float(dt, *fire_out + 3 * (size_t) cfg.sparse_dim);
			}
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
	/* states from before AuxK: none */
	a->aux = 0.0;
	a->aux_k = 0;
	a->aux_window = 100;
	GET("aux", aux, double);
	GET("aux_k", aux_k, int);
	GET("aux_window", aux_window, long);
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
