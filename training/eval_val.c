/*
 * eval_val.c - sparseclip-eval on the paired validation set: recall both
 * ways, L0 and never-active dimensions, modality, clarity under a judge
 * (the formulas in eval_metrics.h and doc/training.md).
 */
#include <cblas.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "eval.h"
#include "eval_report.h"
#include "eval_metrics.h"

/* matched against unmatched cosines, and the span the loss sees at the model's logit scale */
static void
similarity_rows(const float *s, const int *img_of, int nt, int ni, double scale)
{
	similarity_result r;

	metrics_similarity(s, img_of, nt, ni, &r);
	printf("| %-28s | %-22s | %8.3f | %8.3f | mean cosine, a caption and its image / any other\n",
		   "validation similarity", "matched / other", r.matched, r.other);
	printf("| %-28s | %-22s | %8.2f | %8.2f | logit scale x (matched - other); (matched - other) / sd of other\n",
		   "validation similarity", "logit gap / separation", scale * (r.matched - r.other), r.separation);
	report_value("val.cos_matched", r.matched, "mean cosine of a caption and its own image");
	report_value("val.cos_other", r.other, "mean cosine of a caption and another image");
	report_value("val.cos_other_sd", r.other_sd, NULL);
	report_value("val.logit_gap", scale * (r.matched - r.other), "logit scale x (matched - other)");
	report_value("val.separation", r.separation, "(matched - other) / sd of other");
}

/* hub images: how unevenly captions find the images (eval_metrics.h) */
static void
hubness_rows(const float *s, int nt, int ni)
{
	hubness_result r;

	if (metrics_hubness(s, nt, ni, 10, &r) < 0)
		die("hubness", "out of memory");
	printf("| %-28s | %-22s | %8.2f | %7.2f%% | skewness of N10 (captions whose top 10 hold an image); top-1%% images' share of the lists\n",
		   "validation hubness", "N10 skew / top 1 %", r.skew, r.top1pct_share);
	printf("| %-28s | %-22s | %7.2f%% | %7.2f%% | images in no caption's top 10; variance of an image's mean cosine / of all cosines\n",
		   "validation hubness", "unfound / image var", r.never_pct, 100.0 * r.image_var_share);
	report_value("val.hub_skew", r.skew, "skewness of N10 over the images (text -> image)");
	report_value("val.hub_top1pct", r.top1pct_share, "% of all top-10 slots held by the 1 % of images found most");
	report_value("val.hub_never_pct", r.never_pct, "% of images in no caption's top 10");
	report_value("val.hub_image_var_pct", 100.0 * r.image_var_share,
				 "variance of each image's mean cosine over all captions, % of all cosines' variance");
}

/* R@1/5/10 both ways from the caption x image cosines s (ties count against) */
static void
recall_from(const dataset *d, const float *s, const int *img_of, double r_t2i[3], double r_i2t[3])
{
	static const int ks[3] = {1, 5, 10};
	int			i, j, k;

	for (k = 0; k < 3; k++)
		r_t2i[k] = r_i2t[k] = 0.0;
	/* text -> image: rank of the caption's image */
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
}

static int *
captions_image(const dataset *d)
{
	int		   *img_of = malloc(sizeof(int) * d->ncaps);
	int			i, j;

	if (!img_of)
		die("validation", "out of memory");
	for (i = 0; i < d->nimages; i++)
		for (j = 0; j < d->cap_count[i]; j++)
			img_of[d->cap_first[i] + j] = i;
	return img_of;
}

static void
recall_rows(const dataset *d, const float *ie, const float *te, int D, double scale)
{
	double		r_t2i[3], r_i2t[3];
	float	   *s = malloc(sizeof(float) * (size_t) d->ncaps * d->nimages);
	int		   *img_of = captions_image(d);
	char		note[128];

	if (!s)
		die("validation", "out of memory");
	cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, d->ncaps, d->nimages, D, 1.0f, te, D, ie, D,
				0.0f, s, d->nimages);
	recall_from(d, s, img_of, r_t2i, r_i2t);
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
	similarity_rows(s, img_of, d->ncaps, d->nimages, scale);
	hubness_rows(s, d->ncaps, d->nimages);
	free(s);
	free(img_of);
}

/*
 * A diagnostic, not a way to search: retrieval again after taking each
 * modality's mean embedding out of its embeddings (then renormalising).
 * What it gains is what the direction all embeddings share costs the
 * ranking.  Overwrites ie and te.
 */
static void
centred_rows(const dataset *d, float *ie, float *te, int D)
{
	double		r_t2i[3], r_i2t[3];
	double	   *mean = malloc(sizeof(double) * D);
	float	   *s = malloc(sizeof(float) * (size_t) d->ncaps * d->nimages);
	int		   *img_of = captions_image(d);
	float	   *sets[2] = {ie, te};
	int			counts[2] = {d->nimages, d->ncaps};
	int			m, i, j;

	if (!mean || !s)
		die("validation", "out of memory");
	for (m = 0; m < 2; m++)
	{
		float	   *e = sets[m];

		for (j = 0; j < D; j++)
			mean[j] = 0.0;
		for (i = 0; i < counts[m]; i++)
			for (j = 0; j < D; j++)
				mean[j] += e[(size_t) i * D + j];
		for (j = 0; j < D; j++)
			mean[j] /= counts[m] > 0 ? counts[m] : 1;
		for (i = 0; i < counts[m]; i++)
		{
			float	   *v = e + (size_t) i * D;
			double		nn = 0.0;

			for (j = 0; j < D; j++)
			{
				v[j] -= (float) mean[j];
				nn += (double) v[j] * v[j];
			}
			nn = nn > 0 ? 1.0 / sqrt(nn) : 0.0;
			for (j = 0; j < D; j++)
				v[j] *= (float) nn;
		}
	}
	cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, d->ncaps, d->nimages, D, 1.0f, te, D, ie, D,
				0.0f, s, d->nimages);
	recall_from(d, s, img_of, r_t2i, r_i2t);
	printf("| %-28s | %-22s | %8.2f | %8.2f | each modality's mean embedding taken out (a diagnostic)\n",
		   "validation, centred", "R@10 t->i / i->t", r_t2i[2], r_i2t[2]);
	report_value("val.centred_t2i_r10", r_t2i[2], "R@10 after taking out each modality's mean embedding");
	report_value("val.centred_i2t_r10", r_i2t[2], NULL);
	free(mean);
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

/* everything measured on the paired validation set */
void
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
	recall_rows(&d, ie, te, c->D, exp(c->m->p.logit_scale[0]));
	sparsity_rows(&d, ie, te, c->D);
	modality_rows(&d, ie, te, c->D, o->modality_lo);
	if (o->judge)
		clarity_rows(c, &d, ie, o->judge, o->clarity_top, o->seed);
	else
		printf("| %-28s | skipped: no --judge DENSE_MODEL given\n", "clarity (validation images)");
	centred_rows(&d, ie, te, c->D);	/* last: it overwrites the embeddings */
	free(ie);
	free(te);
	dataset_free(&d);
}
