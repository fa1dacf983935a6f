/*
 * model.c - Sparse-CLIP model: config, parameter list, loading, random
 * init and saving.  The encoders are in model_encode.c.  See model.h and
 * doc/model-format.md.
 */
#include "errmsg.h"
#include "model.h"
#include "json.h"
#include "layers.h"

#include <cblas.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---------- config ---------- */

static const float clip_mean[3] = {0.48145466f, 0.4578275f, 0.40821073f};
static const float clip_std[3] = {0.26862954f, 0.26130258f, 0.27577711f};

const char *const sc_model_descriptive_keys[] = {
	"sparseclip.model_name",
	"sparseclip.model_version",
	"sparseclip.trained",
	"sparseclip.card",
	"sparseclip.license",
	"sparseclip.description",
	"sparseclip.image_alpha",
	NULL
};

clip_alpha_mode
sc_model_image_alpha(const sc_model *m)
{
	const char *v = m->file ? st_metadata(m->file, "sparseclip.image_alpha") : NULL;

	return v && strcmp(v, "white") == 0 ? CLIP_ALPHA_WHITE : CLIP_ALPHA_DROP;
}

int
sc_config_preset(const char *name, sc_config *cfg)
{
	memset(cfg, 0, sizeof *cfg);
	memcpy(cfg->image_mean, clip_mean, sizeof clip_mean);
	memcpy(cfg->image_std, clip_std, sizeof clip_std);
	if (strcmp(name, "tiny") == 0)
	{
		cfg->image_size = 64;
		cfg->patch_size = 8;
		cfg->vision_width = 256;
		cfg->vision_layers = 6;
		cfg->vision_heads = 4;
		cfg->context_length = 32;
		cfg->vocab_size = 16384;
		cfg->text_width = 256;
		cfg->text_layers = 6;
		cfg->text_heads = 4;
		cfg->embed_dim = 256;
		cfg->sparse_dim = 8192;
		cfg->activation = SC_GELU;
		return 0;
	}
	if (strcmp(name, "ViT-B/32") == 0)
	{
		cfg->image_size = 224;
		cfg->patch_size = 32;
		cfg->vision_width = 768;
		cfg->vision_layers = 12;
		cfg->vision_heads = 12;
		cfg->context_length = 77;
		cfg->vocab_size = 49408;
		cfg->text_width = 512;
		cfg->text_layers = 12;
		cfg->text_heads = 8;
		cfg->embed_dim = 512;
		cfg->sparse_dim = 16384;
		cfg->activation = SC_QUICK_GELU;
		return 0;
	}
	return -1;
}

int
sc_config_check(const sc_config *c, char *err, size_t errlen)
{
	const int	big = 1 << 20;
	int			i;

#define POS(f) do { if (c->f < 1 || c->f > big) { \
	sc_seterr(err, errlen, "model config: %s must be between 1 and %d, not %d", #f, big, c->f); \
	return -1; } } while (0)
	POS(image_size);
	POS(patch_size);
	POS(vision_width);
	POS(vision_layers);
	POS(vision_heads);
	POS(context_length);
	POS(vocab_size);
	POS(text_width);
	POS(text_layers);
	POS(text_heads);
	POS(embed_dim);
#undef POS
	if (c->sparse_dim < 0 || c->sparse_dim > big)
	{
		sc_seterr(err, errlen, "model config: sparse_dim must be between 0 and %d, not %d", big, c->sparse_dim);
		return -1;
	}
	if (c->sparse_topk < 0 || (c->sparse_topk > 0 && c->sparse_topk >= c->sparse_dim))
	{
		sc_seterr(err, errlen, "model config: sparse_topk must be 0 or between 1 and sparse_dim - 1 (%d), not %d",
				  c->sparse_dim - 1, c->sparse_topk);
		return -1;
	}
	/* bounds that keep every row count and activation size within int */
	if ((c->image_size / c->patch_size) > 64 || c->context_length > 4096 ||
		c->vision_width > 16384 || c->text_width > 16384 || c->embed_dim > 65536 ||
		c->vision_layers > 1024 || c->text_layers > 1024)
	{
		sc_seterr(err, errlen, "model config: sizes beyond the supported range (at most 64x64 patches, "
			   "context 4096, width 16384, embed_dim 65536, 1024 layers)");
		return -1;
	}
	if (c->image_size % c->patch_size != 0)
	{
		sc_seterr(err, errlen, "model config: image_size %d is not a multiple of patch_size %d",
			   c->image_size, c->patch_size);
		return -1;
	}
	if (c->vision_width % c->vision_heads != 0 || c->text_width % c->text_heads != 0)
	{
		sc_seterr(err, errlen, "model config: widths must be multiples of the head counts");
		return -1;
	}
	if (c->activation != SC_GELU && c->activation != SC_QUICK_GELU)
	{
		sc_seterr(err, errlen, "model config: unknown activation");
		return -1;
	}
	for (i = 0; i < 3; i++)
		if (!(c->image_std[i] > 0.0f) || !isfinite(c->image_mean[i]) || !isfinite(c->image_std[i]))
		{
			sc_seterr(err, errlen, "model config: image_std must be positive and image_mean finite");
			return -1;
		}
	return 0;
}

static const char *const int_keys[] = {
	"image_size", "patch_size", "vision_width", "vision_layers", "vision_heads",
	"context_length", "vocab_size", "text_width", "text_layers", "text_heads",
	"embed_dim", "sparse_dim"
};

static int *
int_field(sc_config *c, int i)
{
	int		   *f[] = {&c->image_size, &c->patch_size, &c->vision_width, &c->vision_layers,
		&c->vision_heads, &c->context_length, &c->vocab_size, &c->text_width,
	&c->text_layers, &c->text_heads, &c->embed_dim, &c->sparse_dim};

	return f[i];
}

#define N_INT_KEYS ((int) (sizeof int_keys / sizeof int_keys[0]))

int
sc_config_from_json(const char *text, sc_config *cfg, char *err, size_t errlen)
{
	char		jerr[200];
	json_value *v = json_parse(text, strlen(text), jerr, sizeof jerr);
	const json_value *x;
	size_t		i;
	int			k;

	memset(cfg, 0, sizeof *cfg);
	if (!v)
	{
		sc_seterr(err, errlen, "model config: %s", jerr);
		return -1;
	}
	if (v->type != JSON_OBJECT)
	{
		sc_seterr(err, errlen, "model config: not a JSON object");
		goto bad;
	}
	for (i = 0; i < v->n; i++)
	{
		const char *key = v->keys[i];
		int			known = strcmp(key, "activation") == 0 || strcmp(key, "image_mean") == 0 ||
			strcmp(key, "image_std") == 0 || strcmp(key, "sparse_topk") == 0;

		for (k = 0; k < N_INT_KEYS && !known; k++)
			known = strcmp(key, int_keys[k]) == 0;
		if (!known)
		{
			sc_seterr(err, errlen, "model config: unknown key \"%s\"", key);
			goto bad;
		}
	}
	for (k = 0; k < N_INT_KEYS; k++)
	{
		int64_t		n;

		x = json_get(v, int_keys[k]);
		if (!x)
		{
			sc_seterr(err, errlen, "model config: missing key \"%s\"", int_keys[k]);
			goto bad;
		}
		if (json_get_int64(x, &n) < 0 || n < 0 || n > (1 << 30))
		{
			sc_seterr(err, errlen, "model config: \"%s\" must be a non-negative integer", int_keys[k]);
			goto bad;
		}
		*int_field(cfg, k) = (int) n;
	}
	/* optional: files from before the TopK head was recorded, and ReLU heads, omit it */
	x = json_get(v, "sparse_topk");
	if (x)
	{
		int64_t		n;

		if (json_get_int64(x, &n) < 0 || n < 0 || n > (1 << 30))
		{
			sc_seterr(err, errlen, "model config: \"sparse_topk\" must be a non-negative integer");
			goto bad;
		}
		cfg->sparse_topk = (int) n;
	}
	x = json_get(v, "activation");
	if (!x || x->type != JSON_STRING)
	{
		sc_seterr(err, errlen, "model config: \"activation\" must be a string");
		goto bad;
	}
	if (strcmp(x->str, "gelu") == 0)
		cfg->activation = SC_GELU;
	else if (strcmp(x->str, "quick_gelu") == 0)
		cfg->activation = SC_QUICK_GELU;
	else
	{
		sc_seterr(err, errlen, "model config: activation \"%s\" is not \"gelu\" or \"quick_gelu\"", x->str);
		goto bad;
	}
	for (k = 0; k < 2; k++)
	{
		const char *key = k ? "image_std" : "image_mean";
		float	   *dst = k ? cfg->image_std : cfg->image_mean;
		int			j;

		x = json_get(v, key);
		if (!x || x->type != JSON_ARRAY || x->n != 3)
		{
			sc_seterr(err, errlen, "model config: \"%s\" must be an array of 3 numbers", key);
			goto bad;
		}
		for (j = 0; j < 3; j++)
		{
			double		d;

			if (json_get_number(x->items[j], &d) < 0)
			{
				sc_seterr(err, errlen, "model config: \"%s\" must be an array of 3 numbers", key);
				goto bad;
			}
			dst[j] = (float) d;
		}
	}
	json_free(v);
	return sc_config_check(cfg, err, errlen);
bad:
	json_free(v);
	return -1;
}

char *
sc_config_to_json(const sc_config *cfg)
{
	char	   *s = NULL;
	size_t		len = 0;
	FILE	   *f = open_memstream(&s, &len);
	int			k;

	if (!f)
		return NULL;
	fputc('{', f);
	for (k = 0; k < N_INT_KEYS; k++)
		fprintf(f, "\"%s\": %d, ", int_keys[k], *int_field((sc_config *) cfg, k));
	if (cfg->sparse_topk > 0)
		fprintf(f, "\"sparse_topk\": %d, ", cfg->sparse_topk);
	fprintf(f, "\"activation\": \"%s\", ", cfg->activation == SC_GELU ? "gelu" : "quick_gelu");
	fprintf(f, "\"image_mean\": [%.9g, %.9g, %.9g], ", cfg->image_mean[0], cfg->image_mean[1], cfg->image_mean[2]);
	fprintf(f, "\"image_std\": [%.9g, %.9g, %.9g]}", cfg->image_std[0], cfg->image_std[1], cfg->image_std[2]);
	if (fclose(f) != 0)
	{
		free(s);
		return NULL;
	}
	return s;
}

/* ---------- parameter list ---------- */

static void
add_param(sc_param_info *out, size_t max, size_t *n, float **slot, const char *name, int ndim,
		  int64_t d0, int64_t d1, int64_t d2, int64_t d3)
{
	if (out && *n < max)
	{
		sc_param_info *p = &out[*n];
		int64_t		d[4] = {d0, d1, d2, d3};
		int			i;

		snprintf(p->name, sizeof p->name, "%s", name);
		p->ndim = ndim;
		p->numel = 1;
		for (i = 0; i < 4; i++)
		{
			p->shape[i] = i < ndim ? d[i] : 0;
			if (i < ndim)
				p->numel *= (size_t) d[i];
		}
		p->slot = slot;
	}
	(*n)++;
}

static void
add_blocks(sc_param_info *out, size_t max, size_t *n, sc_block *blocks, int layers, int W,
		   const char *prefix)
{
	char		nm[96];
	int			l;

	for (l = 0; l < layers; l++)
	{
		sc_block   *b = blocks ? &blocks[l] : NULL;

#define BP(field, suffix, ndim, d0, d1) do { \
	snprintf(nm, sizeof nm, "%stransformer.resblocks.%d.%s", prefix, l, suffix); \
	add_param(out, max, n, b ? &b->field : NULL, nm, ndim, d0, d1, 0, 0); } while (0)
		BP(ln_1_w, "ln_1.weight", 1, W, 0);
		BP(ln_1_b, "ln_1.bias", 1, W, 0);
		BP(in_proj_w, "attn.in_proj_weight", 2, 3 * W, W);
		BP(in_proj_b, "attn.in_proj_bias", 1, 3 * W, 0);
		BP(out_proj_w, "attn.out_proj.weight", 2, W, W);
		BP(out_proj_b, "attn.out_proj.bias", 1, W, 0);
		BP(ln_2_w, "ln_2.weight", 1, W, 0);
		BP(ln_2_b, "ln_2.bias", 1, W, 0);
		BP(c_fc_w, "mlp.c_fc.weight", 2, 4 * W, W);
		BP(c_fc_b, "mlp.c_fc.bias", 1, 4 * W, 0);
		BP(c_proj_w, "mlp.c_proj.weight", 2, W, 4 * W);
		BP(c_proj_b, "mlp.c_proj.bias", 1, W, 0);
#undef BP
	}
}

size_t
sc_param_list(sc_model *m, sc_param_info *out, size_t max)
{
	const sc_config *c = &m->cfg;
	sc_params  *p = &m->p;
	size_t		n = 0;
	int			G = c->image_size / c->patch_size;
	int			VW = c->vision_width, TW = c->text_width, E = c->embed_dim;

	add_param(out, max, &n, &p->v_conv1, "visual.conv1.weight", 4, VW, 3, c->patch_size, c->patch_size);
	add_param(out, max, &n, &p->v_class_embedding, "visual.class_embedding", 1, VW, 0, 0, 0);
	add_param(out, max, &n, &p->v_positional_embedding, "visual.positional_embedding", 2, G * G + 1, VW, 0, 0);
	add_param(out, max, &n, &p->v_ln_pre_w, "visual.ln_pre.weight", 1, VW, 0, 0, 0);
	add_param(out, max, &n, &p->v_ln_pre_b, "visual.ln_pre.bias", 1, VW, 0, 0, 0);
	add_blocks(out, max, &n, p->v_blocks, c->vision_layers, VW, "visual.");
	add_param(out, max, &n, &p->v_ln_post_w, "visual.ln_post.weight", 1, VW, 0, 0, 0);
	add_param(out, max, &n, &p->v_ln_post_b, "visual.ln_post.bias", 1, VW, 0, 0, 0);
	add_param(out, max, &n, &p->v_proj, "visual.proj", 2, VW, E, 0, 0);
	add_param(out, max, &n, &p->token_embedding, "token_embedding.weight", 2, c->vocab_size, TW, 0, 0);
	add_param(out, max, &n, &p->positional_embedding, "positional_embedding", 2, c->context_length, TW, 0, 0);
	add_blocks(out, max, &n, p->t_blocks, c->text_layers, TW, "");
	add_param(out, max, &n, &p->ln_final_w, "ln_final.weight", 1, TW, 0, 0, 0);
	add_param(out, max, &n, &p->ln_final_b, "ln_final.bias", 1, TW, 0, 0, 0);
	add_param(out, max, &n, &p->text_projection, "text_projection", 2, TW, E, 0, 0);
	add_param(out, max, &n, &p->logit_scale, "logit_scale", 0, 0, 0, 0, 0);
	if (c->sparse_dim > 0)
	{
		add_param(out, max, &n, &p->sparse_visual, "sparse.visual.weight", 2, c->sparse_dim, E, 0, 0);
		add_param(out, max, &n, &p->sparse_text, "sparse.text.weight", 2, c->sparse_dim, E, 0, 0);
	}
	return n;
}

/* A model with its block arrays allocated and no weights yet. */
static sc_model *
model_new(const sc_config *cfg)
{
	sc_model   *m = calloc(1, sizeof(sc_model));

	if (!m)
		return NULL;
	m->cfg = *cfg;
	m->blocks = calloc((size_t) cfg->vision_layers + cfg->text_layers, sizeof(sc_block));
	if (!m->blocks)
	{
		free(m);
		return NULL;
	}
	m->p.v_blocks = m->blocks;
	m->p.t_blocks = m->blocks + cfg->vision_layers;
	return m;
}

/* The parameter list, malloc'd; NULL when out of memory. */
static sc_param_info *
param_list_alloc(sc_model *m, size_t *n)
{
	sc_param_info *list;

	*n = sc_param_list(m, NULL, 0);
	list = malloc(*n * sizeof(sc_param_info));
	if (list)
		sc_param_list(m, list, *n);
	return list;
}

void
sc_model_free(sc_model *m)
{
	if (!m)
		return;
	st_close(m->file);
	free(m->owned);
	free(m->bpe);
	free(m->concepts);
	free(m->blocks);
	free(m);
}

int
sc_model_output_dim(const sc_model *m)
{
	return m->cfg.sparse_dim > 0 ? m->cfg.sparse_dim : m->cfg.embed_dim;
}

/* ---------- loading ---------- */

static char *
strdup_or_null(const char *s)
{
	char	   *d;

	if (!s)
		return NULL;
	d = malloc(strlen(s) + 1);
	if (d)
		strcpy(d, s);
	return d;
}

static void
shape_str(char *buf, size_t len, int ndim, const int64_t *shape)
{
	size_t		used = 0;
	int			i;

	used += (size_t) snprintf(buf, len, "[");
	for (i = 0; i < ndim && used < len; i++)
		used += (size_t) snprintf(buf + used, len - used, "%s%lld", i ? ", " : "", (long long) shape[i]);
	if (used < len)
		snprintf(buf + used, len - used, "]");
}

/* Build a model over an opened file, which it takes over (closed on error). */
static sc_model *
model_from_file(st_file *f, const char *path, int flags, char *err, size_t errlen)
{
	const char *cfgjson, *bpe;
	sc_config	cfg;
	sc_model   *m = NULL;
	sc_param_info *list = NULL;
	size_t		n, i, need = 0, used = 0;
	char		cerr[256];

	cfgjson = st_metadata(f, "sparseclip.config");
	if (!cfgjson)
	{
		sc_seterr(err, errlen, "model file \"%s\": no \"sparseclip.config\" in __metadata__", path);
		goto bad;
	}
	if (sc_config_from_json(cfgjson, &cfg, cerr, sizeof cerr) < 0)
	{
		sc_seterr(err, errlen, "model file \"%s\": %s", path, cerr);
		goto bad;
	}
	bpe = st_metadata(f, "sparseclip.bpe");
	if (!bpe)
	{
		sc_seterr(err, errlen, "model file \"%s\": no \"sparseclip.bpe\" in __metadata__", path);
		goto bad;
	}
	m = model_new(&cfg);
	if (!m || !(list = param_list_alloc(m, &n)))
		goto oom;
	m->file = f;
	/* every tensor of the file must be one the config expects */
	for (i = 0; i < f->ntensors; i++)
	{
		size_t		j;

		for (j = 0; j < n; j++)
			if (strcmp(f->tensors[i].name, list[j].name) == 0)
				break;
		if (j == n)
		{
			sc_seterr(err, errlen, "model file \"%s\": unexpected tensor \"%s\" (not part of the configured model%s)",
				   path, f->tensors[i].name,
				   strncmp(f->tensors[i].name, "sparse.", 7) == 0 ? ": sparse_dim is 0" : "");
			goto bad;
		}
	}
	/* every expected tensor present, with the configured shape */
	for (i = 0; i < n; i++)
	{
		const st_tensor *t = st_find(f, list[i].name);
		int			d, same;

		if (!t)
		{
			sc_seterr(err, errlen, "model file \"%s\": missing tensor \"%s\"", path, list[i].name);
			goto bad;
		}
		if (t->dtype != ST_F32 && t->dtype != ST_F16 && t->dtype != ST_BF16)
		{
			sc_seterr(err, errlen, "model file \"%s\": tensor \"%s\" has dtype %s; F32, F16 or BF16 expected",
				   path, list[i].name, st_dtype_name(t->dtype));
			goto bad;
		}
		same = t->ndim == list[i].ndim;
		for (d = 0; same && d < t->ndim; d++)
			same = t->shape[d] == list[i].shape[d];
		if (!same)
		{
			char		got[128], want[128];

			shape_str(got, sizeof got, t->ndim, t->shape);
			shape_str(want, sizeof want, list[i].ndim, list[i].shape);
			sc_seterr(err, errlen, "model file \"%s\": tensor \"%s\" has shape %s but the config implies %s",
				   path, list[i].name, got, want);
			goto bad;
		}
		if ((flags & SC_LOAD_COPY) || t->dtype != ST_F32 || ((uintptr_t) t->data % sizeof(float)) != 0)
			need += list[i].numel;
	}
	if (need > 0)
	{
		m->owned = malloc(need * sizeof(float));
		if (!m->owned)
			goto oom;
		m->owned_count = need;
	}
	m->flat = (flags & SC_LOAD_COPY) != 0;
	for (i = 0; i < n; i++)
	{
		const st_tensor *t = st_find(f, list[i].name);

		if ((flags & SC_LOAD_COPY) || t->dtype != ST_F32 || ((uintptr_t) t->data % sizeof(float)) != 0)
		{
			st_to_float(t, m->owned + used);
			*list[i].slot = m->owned + used;
			used += list[i].numel;
		}
		else
			*list[i].slot = (float *) t->data;	/* read-only mapping: never written */
	}
	/* a corrupt file can hold NaN or infinite weights: refuse them here */
	for (i = 0; i < n; i++)
		if (sc_count_nonfinite(*list[i].slot, list[i].numel) > 0)
		{
			sc_seterr(err, errlen, "model file \"%s\": tensor \"%s\" holds %zu infinite or NaN values",
				   path, list[i].name, sc_count_nonfinite(*list[i].slot, list[i].numel));
			goto bad;
		}
	m->bpe = strdup_or_null(bpe);
	if (!m->bpe)
		goto oom;
	if (st_metadata(f, "sparseclip.concepts"))
	{
		m->concepts = strdup_or_null(st_metadata(f, "sparseclip.concepts"));
		if (!m->concepts)
			goto oom;
	}
	if (flags & SC_LOAD_COPY)
	{
		/* nothing points into the mapping any more */
		st_close(f);
		m->file = NULL;
	}
	free(list);
	return m;
oom:
	sc_seterr(err, errlen, "model file \"%s\": out of memory", path);
bad:
	free(list);
	if (m)
		sc_model_free(m);
	else
		st_close(f);
	return NULL;
}

sc_model *
sc_model_load(const char *path, int flags, char *err, size_t errlen)
{
	st_file    *f = st_open(path, err, errlen);

	return f ? model_from_file(f, path, flags, err, errlen) : NULL;
}

sc_model *
sc_model_load_memory(const void *buf, size_t len, int flags, char *err, size_t errlen)
{
	st_file    *f = st_open_memory(buf, len, err, errlen);

	return f ? model_from_file(f, "(memory)", flags, err, errlen) : NULL;
}

/* ---------- random init ---------- */

typedef struct rng
{
	uint64_t	s;
	int			have;
	double		spare;
} rng;

static uint64_t
splitmix64(uint64_t *s)
{
	uint64_t	z = (*s += 0x9E3779B97F4A7C15ULL);

	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
	z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
	return z ^ (z >> 31);
}

static double
rng_normal(rng *r)
{
	double		u1, u2, rad;

	if (r->have)
	{
		r->have = 0;
		return r->spare;
	}
	u1 = ((double) (splitmix64(&r->s) >> 11) + 1.0) * (1.0 / 9007199254740993.0);
	u2 = (double) (splitmix64(&r->s) >> 11) * (1.0 / 9007199254740992.0);
	rad = sqrt(-2.0 * log(u1));
	r->spare = rad * sin(2.0 * M_PI * u2);
	r->have = 1;
	return rad * cos(2.0 * M_PI * u2);
}

static void
fill_normal(rng *r, float *x, size_t n, double std)
{
	size_t		i;

	for (i = 0; i < n; i++)
		x[i] = (float) (rng_normal(r) * std);
}

static void
fill_const(float *x, size_t n, float v)
{
	size_t		i;

	for (i = 0; i < n; i++)
		x[i] = v;
}

/* open_clip's init_parameters for a transformer of width W and L layers */
static void
init_blocks(rng *r, sc_block *b, int L, int W)
{
	double		attn_std = pow(W, -0.5);
	double		proj_std = pow(W, -0.5) * pow(2.0 * L, -0.5);
	double		fc_std = pow(2.0 * W, -0.5);
	size_t		w = (size_t) W;
	int			l;

	for (l = 0; l < L; l++)
	{
		fill_const(b[l].ln_1_w, w, 1.0f);
		fill_const(b[l].ln_1_b, w, 0.0f);
		fill_normal(r, b[l].in_proj_w, 3 * w * w, attn_std);
		fill_const(b[l].in_proj_b, 3 * w, 0.0f);
		fill_normal(r, b[l].out_proj_w, w * w, proj_std);
		fill_const(b[l].out_proj_b, w, 0.0f);
		fill_const(b[l].ln_2_w, w, 1.0f);
		fill_const(b[l].ln_2_b, w, 0.0f);
		fill_normal(r, b[l].c_fc_w, 4 * w * w, fc_std);
		fill_const(b[l].c_fc_b, 4 * w, 0.0f);
		fill_normal(r, b[l].c_proj_w, 4 * w * w, proj_std);
		fill_const(b[l].c_proj_b, w, 0.0f);
	}
}

sc_model *
sc_model_random(const sc_config *cfg, uint64_t seed, char *err, size_t errlen)
{
	sc_model   *m;
	sc_param_info *list;
	size_t		n, i, total = 0, off = 0;
	rng			r = {seed, 0, 0.0};
	const sc_config *c = cfg;
	size_t		VW = (size_t) c->vision_width, TW = (size_t) c->text_width, E = (size_t) c->embed_dim;
	size_t		G = (size_t) (c->image_size / c->patch_size);
	double		vscale = pow((double) VW, -0.5);

	if (sc_config_check(cfg, err, errlen) < 0)
		return NULL;
	m = model_new(cfg);
	if (!m || !(list = param_list_alloc(m, &n)))
	{
		sc_model_free(m);
		sc_seterr(err, errlen, "random model: out of memory");
		return NULL;
	}
	for (i = 0; i < n; i++)
		total += list[i].numel;
	m->owned = malloc(total * sizeof(float));
	if (!m->owned)
	{
		free(list);
		sc_model_free(m);
		sc_seterr(err, errlen, "random model: out of memory (%zu parameters)", total);
		return NULL;
	}
	m->owned_count = total;
	m->flat = 1;
	for (i = 0; i < n; i++)
	{
		*list[i].slot = m->owned + off;
		off += list[i].numel;
	}
	free(list);

	fill_normal(&r, m->p.v_conv1, VW * 3 * c->patch_size * c->patch_size,
				pow(3.0 * c->patch_size * c->patch_size, -0.5));
	fill_normal(&r, m->p.v_class_embedding, VW, vscale);
	fill_normal(&r, m->p.v_positional_embedding, (G * G + 1) * VW, vscale);
	fill_const(m->p.v_ln_pre_w, VW, 1.0f);
	fill_const(m->p.v_ln_pre_b, VW, 0.0f);
	init_blocks(&r, m->p.v_blocks, c->vision_layers, c->vision_width);
	fill_const(m->p.v_ln_post_w, VW, 1.0f);
	fill_const(m->p.v_ln_post_b, VW, 0.0f);
	fill_normal(&r, m->p.v_proj, VW * E, vscale);
	fill_normal(&r, m->p.token_embedding, (size_t) c->vocab_size * TW, 0.02);
	fill_normal(&r, m->p.positional_embedding, (size_t) c->context_length * TW, 0.01);
	init_blocks(&r, m->p.t_blocks, c->text_layers, c->text_width);
	fill_const(m->p.ln_final_w, TW, 1.0f);
	fill_const(m->p.ln_final_b, TW, 0.0f);
	fill_normal(&r, m->p.text_projection, TW * E, pow((double) TW, -0.5));
	m->p.logit_scale[0] = (float) log(1.0 / 0.07);
	if (c->sparse_dim > 0)
	{
		fill_normal(&r, m->p.sparse_visual, (size_t) c->sparse_dim * E, pow((double) E, -0.5));
		fill_normal(&r, m->p.sparse_text, (size_t) c->sparse_dim * E, pow((double) E, -0.5));
	}
	return m;
}

int
sc_model_save(const sc_model *m, const char *path, const char *bpe, const char *concepts,
			  char *err, size_t errlen)
{
	sc_param_info *list;
	st_write_tensor *wt;
	size_t		n, i;
	const char *keys[3], *vals[3];
	size_t		nmeta = 0;
	char	   *cfgjson;
	int			rc, d;

	list = param_list_alloc((sc_model *) m, &n);
	wt = calloc(n, sizeof(st_write_tensor));
	cfgjson = sc_config_to_json(&m->cfg);
	if (!list || !wt || !cfgjson)
	{
		free(list);
		free(wt);
		free(cfgjson);
		sc_seterr(err, errlen, "saving model: out of memory");
		return -1;
	}
	for (i = 0; i < n; i++)
	{
		wt[i].name = list[i].name;
		wt[i].ndim = list[i].ndim;
		for (d = 0; d < list[i].ndim; d++)
			wt[i].shape[d] = list[i].shape[d];
		wt[i].data = *list[i].slot;
	}
	keys[nmeta] = "sparseclip.config";
	vals[nmeta++] = cfgjson;
	if (bpe)
	{
		keys[nmeta] = "sparseclip.bpe";
		vals[nmeta++] = bpe;
	}
	if (concepts)
	{
		keys[nmeta] = "sparseclip.concepts";
		vals[nmeta++] = concepts;
	}
	rc = st_write(path, wt, n, keys, vals, nmeta, err, errlen);
	free(list);
	free(wt);
	free(cfgjson);
	return rc;
}
