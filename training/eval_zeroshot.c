/*
 * eval_zeroshot.c - sparseclip-eval's encoders and zero-shot sets: the
 * held-out emoji style, CIFAR-10 test, the ImageNet sample, Fashion-MNIST
 * test (see eval.c and doc/training.md).
 */
#include <cblas.h>
#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "eval.h"
#include "eval_report.h"
#include "image.h"

void
die(const char *what, const char *err)
{
	fprintf(stderr, "sparseclip-eval: %s: %s\n", what, err);
	exit(1);
}

/* Encode texts into out [n, D]. */
void
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
float *
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
void
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
void
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
void
encode_images(ctx *c, const float *in, int n, float *out)
{
	char		err[512];

	if (n > 0 && sc_encode_images(c->m, &c->ws, in, n, out, NULL, NULL, err, sizeof err) < 0)
		die("encode images", err);
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

/* Images of a data set through a model's own preprocessing, in batches: out [nimages, output dim]. */
void
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

/* zero-shot on the held-out style: class names from val_classes.tsv */
void
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

void
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

void
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

void
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

/*
 * Fashion-MNIST comes from a Debian package: install it on first use (as
 * root, apt-get's output on stderr so the table stays clean).
 */
void
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
