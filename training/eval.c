/*
 * eval.c - sparseclip-eval: one table of what a trained model does, and the
 * same figures as JSON or TSV (--json, --tsv) for scripts.
 *
 * usage: sparseclip-eval MODEL [--val val.tsv] [--classes val_classes.tsv]
 *                        [--judge DENSE_MODEL] [--shared DIR] [--fashion DIR]
 *                        [--limit N] [--max-templates N] [--json FILE]
 *                        [--tsv FILE] [--threads N] [--batch N] ...
 *
 *  - zero-shot top-1/top-5: the held-out emoji style (val_classes.tsv:
 *    image<TAB>class name), CIFAR-10 test and the ImageNet sample
 *    (DIR/cifar10-test, DIR/imagenet-sample, templates and class names from
 *    DIR/clip/zeroshot_prompts.json; class embedding = mean of the
 *    normalised template embeddings), Fashion-MNIST test (Debian's
 *    dataset-fashion-mnist, installed on first use when run as root); all
 *    at full size unless --limit; each skipped with a message when absent;
 *  - text-to-image and image-to-text recall@1/5/10 on the validation set;
 *  - over the validation embeddings (eval_metrics.c): image and text L0,
 *    never-active dimensions (image, text, both), clarity under the judge
 *    beside its random-group baseline, modality (image share of each
 *    dimension's activation mass; multimodal dimensions).
 */
#include <cblas.h>
#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "blas_tune.h"
#include "bpe.h"
#include "data.h"
#include "eval_metrics.h"
#include "eval_report.h"
#include "image.h"
#include "json.h"
#include "model.h"

typedef struct ctx
{
	sc_model   *m;
	ClipTokenizer *tok;
	sc_workspace ws;
	int			D, batch;
} ctx;

static void
die(const char *what, const char *err)
{
	fprintf(stderr, "sparseclip-eval: %s: %s\n", what, err);
	exit(1);
}

/* Encode texts into out [n, D]. */
static void
encode_texts(ctx *c, char **texts, int n, float *out)
{
	int			L = c->m->cfg.context_length, i, b0;
	int32_t    *ids = malloc(sizeof(int32_t) * (size_t) c->batch * L);
	const int32_t **pp = malloc(sizeof(*pp) * c->batch);
	int		   *lens = malloc(sizeof(int) * c->batch);
	char		err[512];

	for (b0 = 0; b0 < n; b0 += c->batch)
	{
		int			nb = n - b0 < c->batch ? n - b0 : c->batch;

		for (i = 0; i < nb; i++)
		{
			if (clip_tokenizer_encode(c->tok, texts[b0 + i], strlen(texts[b0 + i]), L,
									  ids + (size_t) i * L, &lens[i], NULL, err, sizeof err) < 0)
				die("tokenize", err);
			pp[i] = ids + (size_t) i * L;
		}
		if (sc_encode_texts(c->m, &c->ws, pp, lens, nb, out + (size_t) b0 * c->D, NULL, NULL,
							err, sizeof err) < 0)
			die("encode texts", err);
	}
	free(ids);
	free(pp);
	free(lens);
}

/* Class embeddings [nc, D]: mean over templates of normalised embeddings, renormalised. */
static float *
class_embeddings(ctx *c, char **classes, int nc, char **templates, int nt)
{
	float	   *cls = calloc((size_t) nc * c->D, sizeof(float));
	float	   *tmp = malloc(sizeof(float) * (size_t) nt * c->D);
	char	  **texts = malloc(sizeof(char *) * nt);
	int			k, t, j;

	for (k = 0; k < nc; k++)
	{
		for (t = 0; t < nt; t++)
		{
			const char *p = strstr(templates[t], "{}");
			size_t		n = strlen(templates[t]) + strlen(classes[k]) + 1;

			texts[t] = malloc(n);
			if (p)
				snprintf(texts[t], n, "%.*s%s%s", (int) (p - templates[t]), templates[t], classes[k], p + 2);
			else
				snprintf(texts[t], n, "%s", classes[k]);
		}
		encode_texts(c, texts, nt, tmp);
		for (t = 0; t < nt; t++)
		{
			for (j = 0; j < c->D; j++)
				cls[(size_t) k * c->D + j] += tmp[(size_t) t * c->D + j] / nt;
			free(texts[t]);
		}
		{
			double		ss = 0.0;

			for (j = 0; j < c->D; j++)
				ss += (double) cls[(size_t) k * c->D + j] * cls[(size_t) k * c->D + j];
			if (ss > 0)
				for (j = 0; j < c->D; j++)
					cls[(size_t) k * c->D + j] /= (float) sqrt(ss);
		}
	}
	free(tmp);
	free(texts);
	return cls;
}

/* top-1 and top-5 hits of image embeddings against class embeddings */
static void
zero_shot(const float *img, const int *label, int n, const float *cls, int nc, int D,
		  double *top1, double *top5)
{
	float	   *s = malloc(sizeof(float) * (size_t) n * nc);
	int			i, k, h1 = 0, h5 = 0;

	cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, n, nc, D, 1.0f, img, D, cls, D, 0.0f, s, nc);
	for (i = 0; i < n; i++)
	{
		const float *r = s + (size_t) i * nc;
		int			above = 0;

		/* rank of the true class: how many score higher (ties count against) */
		for (k = 0; k < nc; k++)
			if (k != label[i] && r[k] >= r[label[i]])
				above++;
		h1 += above < 1;
		h5 += above < 5;
	}
	*top1 = 100.0 * h1 / n;
	*top5 = 100.0 * h5 / n;
	free(s);
}

/* a zero-shot row: printed, and recorded as KEY.top1, KEY.top5 (note under KEY.top1) */
static void
zs_row(const char *task, const char *key, double top1, double top5, const char *note)
{
	char		k[128];

	printf("| %-28s | %-22s | %8.2f | %8.2f | %s\n", task, "zero-shot top-1 / top-5", top1, top5,
		   note ? note : "");
	snprintf(k, sizeof k, "%s.top1", key);
	report_value(k, top1, note);
	snprintf(k, sizeof k, "%s.top5", key);
	report_value(k, top5, NULL);
}

/* Encode preprocessed images in batches: in [n, 3, S, S] -> out [n, D]. */
static void
encode_images(ctx *c, const float *in, int n, float *out)
{
	char		err[512];
	int			S = c->m->cfg.image_size;

	if (sc_encode_images(c->m, &c->ws, in, n, out, NULL, NULL, err, sizeof err) < 0)
		die("encode images", err);
	(void) S;
}

static int
load_jpeg_file(ctx *c, const char *path, float *out)
{
	FILE	   *f = fopen(path, "rb");
	unsigned char *buf;
	long		n;
	char		err[256];
	int			rc;

	if (!f)
		return -1;
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	fseek(f, 0, SEEK_SET);
	buf = malloc((size_t) n);
	if (!buf || fread(buf, 1, (size_t) n, f) != (size_t) n)
	{
		free(buf);
		fclose(f);
		return -1;
	}
	fclose(f);
	rc = clip_image_preprocess_jpeg(buf, (size_t) n, c->m->cfg.image_size, c->m->cfg.image_mean,
									c->m->cfg.image_std, 0, out, err, sizeof err);
	if (rc < 0)
		fprintf(stderr, "sparseclip-eval: %s: %s\n", path, err);
	free(buf);
	return rc;
}

/* zero-shot on a list of image files with labels */
static void
zero_shot_files(ctx *c, const char *task, const char *key, char **files, const int *labels, int n, char **classes,
				int nc, char **templates, int nt)
{
	int			S = c->m->cfg.image_size, i, b0, ok = 0;
	float	   *img = malloc(sizeof(float) * (size_t) c->batch * 3 * S * S);
	float	   *emb = malloc(sizeof(float) * (size_t) n * c->D);
	int		   *lab = malloc(sizeof(int) * n);
	float	   *cls = class_embeddings(c, classes, nc, templates, nt);
	double		t1, t5;
	char		note[128];

	for (b0 = 0; b0 < n; b0 += c->batch)
	{
		int			nb = 0;

		for (i = b0; i < n && i < b0 + c->batch; i++)
			if (load_jpeg_file(c, files[i], img + (size_t) nb * 3 * S * S) == 0)
			{
				lab[ok + nb] = labels[i];
				nb++;
			}
		encode_images(c, img, nb, emb + (size_t) ok * c->D);
		ok += nb;
	}
	zero_shot(emb, lab, ok, cls, nc, c->D, &t1, &t5);
	snprintf(note, sizeof note, "%d images, %d classes, %d templates", ok, nc, nt);
	zs_row(task, key, t1, t5, note);
	free(img);
	free(emb);
	free(lab);
	free(cls);
}

static char **
json_strings(const json_value *arr, int *n, int max)
{
	int			i, k = (int) json_len(arr);
	char	  **out;

	if (max > 0 && k > max)
		k = max;
	out = malloc(sizeof(char *) * (k > 0 ? k : 1));
	for (i = 0; i < k; i++)
	{
		const char *s;
		size_t		l;

		json_get_string(json_at(arr, i), &s, &l);
		out[i] = strdup(s);
	}
	*n = k;
	return out;
}

static int
cmpstr(const void *a, const void *b)
{
	return strcmp(*(char *const *) a, *(char *const *) b);
}

static void
eval_cifar(ctx *c, const char *shared, const json_value *prompts, int limit, int maxt)
{
	char		dir[1024];
	int			nc, nt, k, n = 0, cap = 0;
	char	  **classes, **templates, **files = NULL;
	int		   *labels = NULL;

	snprintf(dir, sizeof dir, "%s/cifar10-test", shared);
	if (!prompts || !json_get(prompts, "cifar10"))
	{
		printf("| %-28s | skipped: no %s/clip/zeroshot_prompts.json\n", "CIFAR-10 test", shared);
		return;
	}
	classes = json_strings(json_get(json_get(prompts, "cifar10"), "classes"), &nc, 0);
	templates = json_strings(json_get(json_get(prompts, "cifar10"), "templates"), &nt, maxt);
	for (k = 0; k < nc; k++)
	{
		char		cd[1200];
		DIR		   *dh;
		struct dirent *e;
		int			got = 0, first = n;

		snprintf(cd, sizeof cd, "%s/%s", dir, classes[k]);
		dh = opendir(cd);
		if (!dh)
		{
			printf("| %-28s | skipped: no %s\n", "CIFAR-10 test", cd);
			return;
		}
		while ((e = readdir(dh)))
		{
			if (e->d_name[0] == '.')
				continue;
			if (n == cap)
			{
				cap = cap ? cap * 2 : 1024;
				files = realloc(files, sizeof(char *) * cap);
				labels = realloc(labels, sizeof(int) * cap);
			}
			files[n] = malloc(strlen(cd) + strlen(e->d_name) + 2);
			sprintf(files[n], "%s/%s", cd, e->d_name);
			labels[n++] = k;
		}
		closedir(dh);
		qsort(files + first, n - first, sizeof(char *), cmpstr);
		/* the first `limit` files of each class, in name order */
		if (limit > 0 && n - first > limit)
		{
			for (got = first + limit; got < n; got++)
				free(files[got]);
			n = first + limit;
		}
	}
	zero_shot_files(c, "CIFAR-10 test", "cifar10", files, labels, n, classes, nc, templates, nt);
}

static void
eval_imagenet(ctx *c, const char *shared, const json_value *prompts, int maxt)
{
	const json_value *in = prompts ? json_get(prompts, "imagenet") : NULL;
	int			nc, nt, nf, i;
	char	  **classes, **templates, **files;
	int		   *labels;

	if (!in)
	{
		printf("| %-28s | skipped: no ImageNet prompts in %s/clip/zeroshot_prompts.json\n", "ImageNet sample", shared);
		return;
	}
	classes = json_strings(json_get(in, "classes"), &nc, 0);
	templates = json_strings(json_get(in, "templates"), &nt, maxt);
	files = json_strings(json_get(in, "files"), &nf, 0);
	labels = malloc(sizeof(int) * (nf > 0 ? nf : 1));
	for (i = 0; i < nf; i++)
	{
		char	   *p = malloc(strlen(shared) + strlen(files[i]) + 32);

		sprintf(p, "%s/imagenet-sample/%s", shared, files[i]);
		free(files[i]);
		files[i] = p;
		labels[i] = i;
	}
	if (nf == 0 || access(files[0], R_OK) != 0)
	{
		printf("| %-28s | skipped: no images in %s/imagenet-sample\n", "ImageNet sample", shared);
		return;
	}
	zero_shot_files(c, "ImageNet sample", "imagenet", files, labels, nf, classes, nc, templates, nt);
}

/* Fashion-MNIST test from Debian's dataset-fashion-mnist: gzip'd IDX files, read through gzip -dc */
static unsigned char *
read_idx(const char *dir, const char *name, long *len)
{
	char		p[1200], cmd[1300];
	FILE	   *g;
	unsigned char *buf = NULL;
	long		cap = 0, n = 0;
	size_t		r;

	snprintf(p, sizeof p, "%s/%s.gz", dir, name);
	if (access(p, R_OK) != 0 || strchr(p, '\'') != NULL)
		return NULL;
	snprintf(cmd, sizeof cmd, "gzip -dc '%s'", p);
	g = popen(cmd, "r");
	if (!g)
		return NULL;
	do
	{
		if (n + 65536 > cap)
		{
			cap = cap ? cap * 2 : 1 << 20;
			buf = realloc(buf, cap);
		}
		r = fread(buf + n, 1, 65536, g);
		n += (long) r;
	} while (r > 0);
	if (pclose(g) != 0)
	{
		free(buf);
		return NULL;
	}
	*len = n;
	return buf;
}

static void
eval_fashion(ctx *c, const char *dir, int limit)
{
	static const char *names[] = {"T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal",
	"Shirt", "Sneaker", "Bag", "Ankle boot"};
	static const char *tmpl[] = {"a photo of a {}.", "a black and white photo of a {}.",
	"a low resolution photo of a {}.", "a photo of the {}."};
	long		li, ll;
	unsigned char *im = read_idx(dir, "t10k-images-idx3-ubyte", &li);
	unsigned char *lb = read_idx(dir, "t10k-labels-idx1-ubyte", &ll);
	int			n, i, S = c->m->cfg.image_size, b0, *labels;
	float	   *img, *emb, *cls;
	double		t1, t5;
	char		note[128], err[256];

	if (!im || !lb || li < 16 + 784 || ll < 8)
	{
		printf("| %-28s | skipped: no Fashion-MNIST test files in %s (Debian package dataset-fashion-mnist)\n",
			   "Fashion-MNIST test", dir);
		free(im);
		free(lb);
		return;
	}
	n = (int) ((li - 16) / 784);
	if (n > ll - 8)
		n = (int) (ll - 8);
	if (limit > 0 && n > limit * 10)
		n = limit * 10;
	labels = malloc(sizeof(int) * n);
	img = malloc(sizeof(float) * (size_t) c->batch * 3 * S * S);
	emb = malloc(sizeof(float) * (size_t) n * c->D);
	cls = class_embeddings(c, (char **) names, 10, (char **) tmpl, 4);
	for (b0 = 0; b0 < n; b0 += c->batch)
	{
		int			nb = n - b0 < c->batch ? n - b0 : c->batch;

		for (i = 0; i < nb; i++)
		{
			/* dark clothes on black: invert to dark on white, as photos and icons are */
			unsigned char px[784];
			int			k;

			for (k = 0; k < 784; k++)
				px[k] = 255 - im[16 + (size_t) (b0 + i) * 784 + k];
			if (clip_image_preprocess_pixels(px, 28, 28, 1, S, c->m->cfg.image_mean, c->m->cfg.image_std,
											 img + (size_t) i * 3 * S * S, err, sizeof err) < 0)
				die("fashion-mnist", err);
			labels[b0 + i] = lb[8 + b0 + i];
		}
		encode_images(c, img, nb, emb + (size_t) b0 * c->D);
	}
	zero_shot(emb, labels, n, cls, 10, c->D, &t1, &t5);
	snprintf(note, sizeof note, "%d images, 10 classes, 4 templates, inverted", n);
	zs_row("Fashion-MNIST test", "fashion_mnist", t1, t5, note);
	free(im);
	free(lb);
	free(labels);
	free(img);
	free(emb);
	free(cls);
}

/* Images of a data set through a model's own preprocessing, in batches: out [nimages, output dim]. */
static void
encode_dataset_images(sc_model *m, sc_workspace *ws, int batch, dataset *d, const char *what,
					  float *out)
{
	int			S = m->cfg.image_size, D = sc_model_output_dim(m), i, b0;
	float	   *img = malloc(sizeof(float) * (size_t) batch * 3 * S * S);
	char		err[512];

	for (b0 = 0; b0 < d->nimages; b0 += batch)
	{
		int			nb = d->nimages - b0 < batch ? d->nimages - b0 : batch;

		for (i = 0; i < nb; i++)
			if (dataset_image(d, b0 + i, S, m->cfg.image_mean, m->cfg.image_std, 0,
							  img + (size_t) i * 3 * S * S, err, sizeof err) < 0)
				die(what, err);
		if (sc_encode_images(m, ws, img, nb, out + (size_t) b0 * D, NULL, NULL, err, sizeof err) < 0)
			die("encode images", err);
	}
	free(img);
}

static void
recall_rows(const dataset *d, const float *ie, const float *te, int D)
{
	static const int ks[3] = {1, 5, 10};
	double		r_t2i[3] = {0}, r_i2t[3] = {0};
	float	   *s = malloc(sizeof(float) * (size_t) d->ncaps * d->nimages);
	int		   *img_of = malloc(sizeof(int) * d->ncaps);
	int			i, j, k;
	char		note[128];

	for (i = 0; i < d->nimages; i++)
		for (j = 0; j < d->cap_count[i]; j++)
			img_of[d->cap_first[i] + j] = i;
	cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, d->ncaps, d->nimages, D, 1.0f, te, D, ie, D,
				0.0f, s, d->nimages);
	/* text -> image: rank of the caption's image (ties count against) */
	for (j = 0; j < d->ncaps; j++)
	{
		const float *r = s + (size_t) j * d->nimages;
		float		mine = r[img_of[j]];
		int			above = 0;

		for (i = 0; i < d->nimages; i++)
			if (i != img_of[j] && r[i] >= mine)
				above++;
		for (k = 0; k < 3; k++)
			r_t2i[k] += above < ks[k];
	}
	/* image -> text: rank of the best of the image's captions */
	for (i = 0; i < d->nimages; i++)
	{
		float		best = -INFINITY;
		int			above = 0;

		for (j = 0; j < d->cap_count[i]; j++)
			if (s[(size_t) (d->cap_first[i] + j) * d->nimages + i] > best)
				best = s[(size_t) (d->cap_first[i] + j) * d->nimages + i];
		for (j = 0; j < d->ncaps; j++)
			if (img_of[j] != i && s[(size_t) j * d->nimages + i] >= best)
				above++;
		for (k = 0; k < 3; k++)
			r_i2t[k] += above < ks[k];
	}
	for (k = 0; k < 3; k++)
	{
		r_t2i[k] *= 100.0 / d->ncaps;
		r_i2t[k] *= 100.0 / d->nimages;
	}
	snprintf(note, sizeof note, "%d images, %d captions", d->nimages, d->ncaps);
	printf("| %-28s | %-22s | %8.2f | %8.2f | %s\n", "validation retrieval", "text->image R@1 / R@5",
		   r_t2i[0], r_t2i[1], note);
	printf("| %-28s | %-22s | %8.2f | %8s |\n", "validation retrieval", "text->image R@10", r_t2i[2], "");
	printf("| %-28s | %-22s | %8.2f | %8.2f |\n", "validation retrieval", "image->text R@1 / R@5",
		   r_i2t[0], r_i2t[1]);
	printf("| %-28s | %-22s | %8.2f | %8s |\n", "validation retrieval", "image->text R@10", r_i2t[2], "");
	report_value("val.images", d->nimages, NULL);
	report_value("val.captions", d->ncaps, NULL);
	report_value("val.t2i_r1", r_t2i[0], note);
	report_value("val.t2i_r5", r_t2i[1], NULL);
	report_value("val.t2i_r10", r_t2i[2], NULL);
	report_value("val.i2t_r1", r_i2t[0], NULL);
	report_value("val.i2t_r5", r_i2t[1], NULL);
	report_value("val.i2t_r10", r_i2t[2], NULL);
	free(s);
	free(img_of);
}

static void
sparsity_rows(const dataset *d, const float *ie, const float *te, int D)
{
	sparsity_result r;
	char		note[128];

	metrics_sparsity(ie, d->nimages, te, d->ncaps, D, &r);
	snprintf(note, sizeof note, "of %d dimensions; %d images, %d captions", D, d->nimages, d->ncaps);
	printf("| %-28s | %-22s | %8.1f | %7.2f%% | %s\n", "sparsity (validation)", "image L0 (abs, %)",
		   r.image_l0, 100.0 * r.image_l0 / D, note);
	printf("| %-28s | %-22s | %8.1f | %7.2f%% |\n", "sparsity (validation)", "text L0 (abs, %)",
		   r.text_l0, 100.0 * r.text_l0 / D);
	printf("| %-28s | %-22s | %8d | %7.2f%% | never > 0 on any image\n", "sparsity (validation)",
		   "never-active, images", r.dead_image, 100.0 * r.dead_image / D);
	printf("| %-28s | %-22s | %8d | %7.2f%% | never > 0 on any caption\n", "sparsity (validation)",
		   "never-active, texts", r.dead_text, 100.0 * r.dead_text / D);
	printf("| %-28s | %-22s | %8d | %7.2f%% | on neither\n", "sparsity (validation)",
		   "never-active, both", r.dead_both, 100.0 * r.dead_both / D);
	report_value("sparsity.image_l0", r.image_l0, note);
	report_value("sparsity.image_l0_pct", 100.0 * r.image_l0 / D, NULL);
	report_value("sparsity.text_l0", r.text_l0, NULL);
	report_value("sparsity.text_l0_pct", 100.0 * r.text_l0 / D, NULL);
	report_value("sparsity.dead_image", r.dead_image, NULL);
	report_value("sparsity.dead_image_pct", 100.0 * r.dead_image / D, NULL);
	report_value("sparsity.dead_text", r.dead_text, NULL);
	report_value("sparsity.dead_text_pct", 100.0 * r.dead_text / D, NULL);
	report_value("sparsity.dead", r.dead_both, "never active on images nor on texts");
	report_value("sparsity.dead_pct", 100.0 * r.dead_both / D, NULL);
}

static void
modality_rows(const dataset *d, const float *ie, const float *te, int D, double lo)
{
	modality_result r;
	char		note[160];
	double		a;

	if (metrics_modality(ie, d->nimages, te, d->ncaps, D, lo, 1.0 - lo, &r, NULL) < 0)
		die("modality", "out of memory");
	a = r.active > 0 ? 100.0 / r.active : NAN;
	snprintf(note, sizeof note, "of %d dimensions with mass; image share of mean activation in [%.2g, %.2g]",
			 r.active, lo, 1.0 - lo);
	printf("| %-28s | %-22s | %8d | %7.2f%% | %s\n", "modality (validation)", "multimodal dims",
		   r.multimodal, r.multimodal * a, note);
	printf("| %-28s | %-22s | %8d | %7.2f%% | image share > %.2g\n", "modality (validation)",
		   "image-only dims", r.image_only, r.image_only * a, 1.0 - lo);
	printf("| %-28s | %-22s | %8d | %7.2f%% | image share < %.2g\n", "modality (validation)",
		   "text-only dims", r.text_only, r.text_only * a, lo);
	printf("| %-28s | %-22s | %8s | %7.2f%% | share of all activation mass\n", "modality (validation)",
		   "multimodal mass", "", 100.0 * r.multimodal_mass);
	report_value("modality.cut_low", lo, "a dimension is multimodal when its image share is in [cut_low, cut_high]");
	report_value("modality.cut_high", 1.0 - lo, NULL);
	report_value("modality.active", r.active, NULL);
	report_value("modality.multimodal", r.multimodal, NULL);
	report_value("modality.multimodal_pct", r.multimodal * a, "of dimensions with mass");
	report_value("modality.image_only_pct", r.image_only * a, NULL);
	report_value("modality.text_only_pct", r.text_only * a, NULL);
	report_value("modality.multimodal_mass_pct", 100.0 * r.multimodal_mass, NULL);
}

/* clarity of the model's dimensions under the judge's image tower, and its random-group baseline */
static void
clarity_rows(ctx *c, dataset *d, const float *ie, const char *judge_path, int top, uint64_t seed)
{
	char		err[1024], note[1200];
	sc_model   *j = sc_model_load(judge_path, 0, err, sizeof err);
	sc_workspace jws;
	clarity_result r;
	float	   *je;
	int			J;

	if (!j)
		die(judge_path, err);
	memset(&jws, 0, sizeof jws);
	J = sc_model_output_dim(j);
	je = malloc(sizeof(float) * (size_t) d->nimages * J);
	if (!je)
		die("clarity", "out of memory");
	encode_dataset_images(j, &jws, c->batch, d, "judge", je);
	if (metrics_clarity(ie, d->nimages, c->D, je, J, top, seed, &r, NULL) < 0)
		die("clarity", "out of memory");
	snprintf(note, sizeof note, "judge: image tower of %s (%s, %d dims); top %d images per dimension",
			 judge_path, j->cfg.sparse_dim ? "SPARSE, not a dense baseline" : "dense", J, top);
	printf("| %-28s | %-22s | %8.4f | %8.4f | %s\n", "clarity (validation images)", "model / random groups",
		   r.clarity, r.baseline, note);
	printf("| %-28s | %-22s | %8d | %8.1f | dimensions with >= 2 active images; mean group size\n",
		   "clarity (validation images)", "dims counted, group", r.dims, r.mean_group);
	report_string("clarity.judge", judge_path);
	report_value("clarity.judge_dense", j->cfg.sparse_dim == 0, NULL);
	report_value("clarity.top", top, "images per dimension: the top activating, at most");
	report_value("clarity.mean", r.clarity, note);
	report_value("clarity.baseline", r.baseline, "random groups of the same sizes");
	report_value("clarity.dims", r.dims, "dimensions with at least two active images");
	report_value("clarity.mean_group", r.mean_group, NULL);
	free(je);
	sc_workspace_free(&jws);
	sc_model_free(j);
}

/* zero-shot on the held-out style: class names from val_classes.tsv */
static void
eval_heldout(ctx *c, const char *classes_tsv)
{
	static const char *tmpl[] = {"{}", "an emoji of {}.", "an icon of {}."};
	dataset		cd;
	char	  **names;
	char		err[512], note[128];
	int			nn = 0, *lab, i, j;
	float	   *cls, *emb;
	double		t1, t5;

	if (dataset_load(&cd, classes_tsv, err, sizeof err) < 0)
	{
		printf("| %-28s | skipped: %s\n", "held-out emoji style", err);
		return;
	}
	emb = malloc(sizeof(float) * (size_t) cd.nimages * c->D);
	lab = malloc(sizeof(int) * cd.nimages);
	names = malloc(sizeof(char *) * cd.nimages);
	for (i = 0; i < cd.nimages; i++)
	{
		const char *nm = cd.captions[cd.cap_first[i]];

		for (j = 0; j < nn; j++)
			if (strcmp(names[j], nm) == 0)
				break;
		if (j == nn)
			names[nn++] = (char *) nm;
		lab[i] = j;
	}
	encode_dataset_images(c->m, &c->ws, c->batch, &cd, classes_tsv, emb);
	cls = class_embeddings(c, names, nn, (char **) tmpl, 3);
	zero_shot(emb, lab, cd.nimages, cls, nn, c->D, &t1, &t5);
	snprintf(note, sizeof note, "%d images, %d classes, 3 templates", cd.nimages, nn);
	zs_row("held-out emoji style", "heldout", t1, t5, note);
	free(cls);
	free(emb);
	free(lab);
	free(names);
	dataset_free(&cd);
}

typedef struct val_opts
{
	const char *judge;			/* dense model for clarity, or NULL */
	int			clarity_top;
	double		modality_lo;
	uint64_t	seed;
} val_opts;

/* everything measured on the paired validation set */
static void
eval_val(ctx *c, const char *val, const val_opts *o)
{
	dataset		d;
	char		err[512];
	float	   *ie, *te;

	if (dataset_load(&d, val, err, sizeof err) < 0)
	{
		printf("| %-28s | skipped: %s\n", "validation set", err);
		return;
	}
	ie = malloc(sizeof(float) * (size_t) d.nimages * c->D);
	te = malloc(sizeof(float) * (size_t) d.ncaps * c->D);
	if (!ie || !te)
		die(val, "out of memory");
	encode_dataset_images(c->m, &c->ws, c->batch, &d, val, ie);
	encode_texts(c, d.captions, d.ncaps, te);
	recall_rows(&d, ie, te, c->D);
	sparsity_rows(&d, ie, te, c->D);
	modality_rows(&d, ie, te, c->D, o->modality_lo);
	if (o->judge)
		clarity_rows(c, &d, ie, o->judge, o->clarity_top, o->seed);
	else
		printf("| %-28s | skipped: no --judge DENSE_MODEL given\n", "clarity (validation images)");
	free(ie);
	free(te);
	dataset_free(&d);
}

#define FASHION_DIR "/usr/share/datasets/fashion-mnist"

/*
 * Fashion-MNIST comes from a Debian package: install it on first use (as
 * root, apt-get's output on stderr so the table stays clean).
 */
static void
ensure_fashion(const char *dir)
{
	char		p[1200];

	snprintf(p, sizeof p, "%s/t10k-images-idx3-ubyte.gz", dir);
	if (access(p, R_OK) == 0 || strcmp(dir, FASHION_DIR) != 0)
		return;
	if (geteuid() != 0)
	{
		fprintf(stderr, "sparseclip-eval: Fashion-MNIST absent; as root, apt-get install dataset-fashion-mnist\n");
		return;
	}
	fprintf(stderr, "sparseclip-eval: installing Debian package dataset-fashion-mnist\n");
	if (system("export DEBIAN_FRONTEND=noninteractive; "
			   "{ apt-get install -y -q --no-install-recommends dataset-fashion-mnist || "
			   "{ apt-get update -q && apt-get install -y -q --no-install-recommends dataset-fashion-mnist; }; } >&2") != 0)
		fprintf(stderr, "sparseclip-eval: apt-get install dataset-fashion-mnist failed\n");
}

static const char usage[] =
"usage: sparseclip-eval MODEL [options]\n"
"  --val val.tsv          paired validation set: retrieval, L0, never-active\n"
"                         dimensions, modality, clarity\n"
"  --classes FILE.tsv     held-out style for zero-shot (image<TAB>class name)\n"
"  --judge MODEL          dense baseline whose image tower judges clarity\n"
"                         (without it clarity is skipped)\n"
"  --clarity-top K        images per dimension for clarity: the K most\n"
"                         activating (default 16)\n"
"  --modality-cut X       multimodal = image share in [X, 1-X] (default 0.1)\n"
"  --shared DIR           CIFAR-10 test, ImageNet sample, prompts (default ../shared/data)\n"
"  --fashion DIR          Fashion-MNIST IDX files (default " FASHION_DIR ",\n"
"                         installed from Debian on first use when run as root)\n"
"  --no-install           do not install Fashion-MNIST\n"
"  --limit N              quick run: N images per class of CIFAR-10 and\n"
"                         Fashion-MNIST (default: all 10,000 of each)\n"
"  --max-templates N      the first N prompt templates of CIFAR-10 and ImageNet\n"
"  --skip LIST            comma-separated: cifar10, imagenet, fashion\n"
"  --json FILE, --tsv FILE  the figures under stable keys, for scripts\n"
"  --seed N               random groups of the clarity baseline (default 1)\n"
"  --threads N --batch N  OpenBLAS threads (default 1), encoding batch (256)\n";

/* a whole number in [lo, hi], or exit with a message */
static long
num_arg(const char *opt, const char *v, long lo, long hi)
{
	char	   *end;
	long		x = strtol(v, &end, 10);

	if (*v == '\0' || *end != '\0' || x < lo || x > hi)
	{
		fprintf(stderr, "sparseclip-eval: %s wants a whole number in [%ld, %ld], not \"%s\"\n", opt, lo, hi, v);
		exit(2);
	}
	return x;
}

static int
skipped(const char *list, const char *name)
{
	const char *p = list;
	size_t		n = strlen(name);

	while (p && *p)
	{
		if (strncmp(p, name, n) == 0 && (p[n] == ',' || p[n] == '\0'))
			return 1;
		p = strchr(p, ',');
		if (p)
			p++;
	}
	return 0;
}

int
main(int argc, char **argv)
{
	const char *model = NULL, *val = NULL, *classes = NULL, *shared = "../shared/data";
	const char *fashion = FASHION_DIR, *json_out = NULL, *tsv_out = NULL, *skip = "";
	int			limit = 0, maxt = 0, threads = 1, install = 1, i;
	val_opts	vo = {NULL, 16, 0.1, 1};
	ctx			c;
	char		err[1024];
	json_value *prompts = NULL;
	char		pp[1100];
	FILE	   *f;

	memset(&c, 0, sizeof c);
	c.batch = 256;
	for (i = 1; i < argc; i++)
	{
		const char *o = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;

		if (strcmp(o, "--help") == 0 || strcmp(o, "-h") == 0)
		{
			fputs(usage, stdout);
			return 0;
		}
		else if (strcmp(o, "--no-install") == 0)
			install = 0;
		else if (o[0] != '-' && !model)
			model = o;
		else if (o[0] != '-')
		{
			fprintf(stderr, "sparseclip-eval: one model only (\"%s\")\n%s", o, usage);
			return 2;
		}
		else if (!v)
		{
			fprintf(stderr, "sparseclip-eval: %s needs a value\n", o);
			return 2;
		}
		else if (strcmp(o, "--val") == 0)
			val = argv[++i];
		else if (strcmp(o, "--classes") == 0)
			classes = argv[++i];
		else if (strcmp(o, "--judge") == 0)
			vo.judge = argv[++i];
		else if (strcmp(o, "--clarity-top") == 0)
			vo.clarity_top = (int) num_arg(o, argv[++i], 2, 100000);
		else if (strcmp(o, "--modality-cut") == 0)
		{
			char	   *end;

			vo.modality_lo = strtod(argv[++i], &end);
			if (*end != '\0' || !(vo.modality_lo >= 0.0 && vo.modality_lo < 0.5))
			{
				fprintf(stderr, "sparseclip-eval: --modality-cut wants a number in [0, 0.5)\n");
				return 2;
			}
		}
		else if (strcmp(o, "--seed") == 0)
			vo.seed = (uint64_t) num_arg(o, argv[++i], 0, 1L << 62);
		else if (strcmp(o, "--shared") == 0)
			shared = argv[++i];
		else if (strcmp(o, "--fashion") == 0)
			fashion = argv[++i];
		else if (strcmp(o, "--limit") == 0)
			limit = (int) num_arg(o, argv[++i], 0, 1 << 30);
		else if (strcmp(o, "--max-templates") == 0)
			maxt = (int) num_arg(o, argv[++i], 0, 1 << 30);
		else if (strcmp(o, "--skip") == 0)
		{
			skip = argv[++i];
			for (const char *p = skip; *p;)
			{
				size_t		n = strcspn(p, ",");

				if (!((n == 7 && strncmp(p, "cifar10", n) == 0) || (n == 8 && strncmp(p, "imagenet", n) == 0) ||
					  (n == 7 && strncmp(p, "fashion", n) == 0)))
				{
					fprintf(stderr, "sparseclip-eval: --skip takes cifar10, imagenet, fashion, not \"%.*s\"\n", (int) n, p);
					return 2;
				}
				p += n + (p[n] == ',');
			}
		}
		else if (strcmp(o, "--json") == 0)
			json_out = argv[++i];
		else if (strcmp(o, "--tsv") == 0)
			tsv_out = argv[++i];
		else if (strcmp(o, "--threads") == 0)
			threads = (int) num_arg(o, argv[++i], 1, 1024);
		else if (strcmp(o, "--batch") == 0)
			c.batch = (int) num_arg(o, argv[++i], 1, 1 << 20);
		else
		{
			fprintf(stderr, "sparseclip-eval: unknown option %s\n%s", o, usage);
			return 2;
		}
	}
	if (!model)
	{
		fprintf(stderr, "sparseclip-eval: no model given\n%s", usage);
		return 2;
	}
	sc_blas_tune(NULL, 0);
	openblas_set_num_threads(threads);
	c.m = sc_model_load(model, 0, err, sizeof err);
	if (!c.m)
		die(model, err);
	c.D = sc_model_output_dim(c.m);
	c.tok = clip_tokenizer_new(c.m->bpe, strlen(c.m->bpe), c.m->cfg.vocab_size, err, sizeof err);
	if (!c.tok)
		die("tokenizer", err);
	snprintf(pp, sizeof pp, "%s/clip/zeroshot_prompts.json", shared);
	if ((f = fopen(pp, "rb")))
	{
		char	   *txt;
		long		n;

		fseek(f, 0, SEEK_END);
		n = ftell(f);
		fseek(f, 0, SEEK_SET);
		txt = malloc((size_t) n);
		if (fread(txt, 1, (size_t) n, f) == (size_t) n)
			prompts = json_parse(txt, (size_t) n, err, sizeof err);
		free(txt);
		fclose(f);
	}
	report_string("model", model);
	report_value("model.sparse_dim", c.m->cfg.sparse_dim, "0 for a dense model");
	report_value("model.output_dim", c.D, NULL);
	report_value("model.logit_scale", exp(c.m->p.logit_scale[0]), "exp of the learned logit scale");
	report_value("limit", limit, "images per class of CIFAR-10 and Fashion-MNIST; 0 = all");
	printf("model %s: %s, output dim %d, logit scale %.2f\n\n", model,
		   c.m->cfg.sparse_dim ? "sparse" : "dense", c.D, exp(c.m->p.logit_scale[0]));
	printf("| %-28s | %-22s | %8s | %8s | %s\n", "task", "metric", "value", "value", "notes");
	printf("|------------------------------|------------------------|----------|----------|------\n");
	fflush(stdout);
	if (val)
		eval_val(&c, val, &vo);
	else
		printf("| %-28s | skipped: no --val given\n", "validation set");
	if (classes)
		eval_heldout(&c, classes);
	else
		printf("| %-28s | skipped: no --classes given\n", "held-out emoji style");
	fflush(stdout);
	if (!skipped(skip, "cifar10"))
		eval_cifar(&c, shared, prompts, limit, maxt);
	fflush(stdout);
	if (!skipped(skip, "imagenet"))
		eval_imagenet(&c, shared, prompts, maxt);
	fflush(stdout);
	if (!skipped(skip, "fashion"))
	{
		if (install)
			ensure_fashion(fashion);
		eval_fashion(&c, fashion, limit);
	}
	if (json_out && report_write_json(json_out) < 0)
		die(json_out, "cannot write");
	if (tsv_out && report_write_tsv(tsv_out) < 0)
		die(tsv_out, "cannot write");
	json_free(prompts);
	clip_tokenizer_free(c.tok);
	sc_workspace_free(&c.ws);
	sc_model_free(c.m);
	return 0;
}
