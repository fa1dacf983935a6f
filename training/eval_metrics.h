/*
 * eval_metrics.h - the paper's sparsity and interpretability metrics over
 * embeddings already computed (no model, no I/O), for sparseclip-eval and
 * its unit test.  Formulas in doc/training.md ("Evaluation").
 *
 * An output dimension j is "active" on an embedding u when u_j > 0 (for a
 * sparse model: non-zero; for a dense one: its positive part).
 */
#ifndef SPARSECLIP_TRAINING_EVAL_METRICS_H
#define SPARSECLIP_TRAINING_EVAL_METRICS_H

#include <stdint.h>

typedef struct sparsity_result
{
	double		image_l0, text_l0;	/* mean number of non-zero entries per embedding */
	int			dead_image;		/* dimensions never active on any image */
	int			dead_text;		/* ... on any text */
	int			dead_both;		/* ... on neither */
} sparsity_result;

/*
 * L0 counts non-zero entries (a dense embedding has L0 = D); never-active
 * dimensions count entries > 0.  img [ni, D], txt [nt, D].
 */
extern void metrics_sparsity(const float *img, int ni, const float *txt, int nt, int D,
							 sparsity_result *r);

typedef struct clarity_result
{
	double		clarity;		/* mean over counted dimensions of the group's mean pairwise cosine */
	double		baseline;		/* the same for random groups of the same sizes */
	int			dims;			/* dimensions counted (at least two active images) */
	double		mean_group;		/* mean group size over counted dimensions */
} clarity_result;

/*
 * Clarity (Dreyer et al.): for each dimension j, the group G_j of the at
 * most `top` images with the largest act[i, j] > 0; clarity_j = mean over
 * pairs {a, b} of G_j of cos(judge_a, judge_b).  The result is the mean over
 * dimensions with |G_j| >= 2.  The baseline draws, for each such j, |G_j|
 * distinct images uniformly at random (deterministic in seed) and averages
 * the same figure.  act [n, D] (the evaluated model's image embeddings),
 * judge [n, J] (the judge's embeddings of the same images; normalised here).
 * per_dim (may be NULL) receives clarity_j, NAN where |G_j| < 2.
 * Returns 0, or -1 when out of memory.
 */
extern int	metrics_clarity(const float *act, int n, int D, const float *judge, int J, int top,
							uint64_t seed, clarity_result *r, double *per_dim);

typedef struct modality_result
{
	int			active;			/* dimensions with any mass */
	int			multimodal;		/* lo <= image share <= hi */
	int			image_only;		/* share > hi */
	int			text_only;		/* share < lo */
	double		multimodal_mass;	/* share of all activation mass in multimodal dimensions */
} modality_result;

/*
 * Modality: for each dimension j, I_j = mean over images of max(u_ij, 0),
 * T_j = mean over texts of max(u_tj, 0) (means, so that several captions per
 * image do not weigh texts more); image share s_j = I_j / (I_j + T_j) for
 * dimensions with I_j + T_j > 0.  share (may be NULL) receives s_j, NAN for
 * dimensions without mass.  Returns 0, or -1 when out of memory.
 */
extern int	metrics_modality(const float *img, int ni, const float *txt, int nt, int D, double lo,
							 double hi, modality_result *r, double *share);

typedef struct similarity_result
{
	double		matched;		/* mean cosine of a caption and its own image */
	double		other;			/* mean cosine of a caption and any other image */
	double		other_sd;		/* standard deviation of those */
	double		separation;		/* (matched - other) / other_sd */
} similarity_result;

/*
 * How far apart matched and unmatched pairs lie: s [nt, ni] holds the cosine
 * of every caption and image, img_of [nt] each caption's own image.  Every
 * caption counts once among the matched pairs and ni - 1 times among the
 * others.  A ReLU head keeps cosines in [0, 1] where a dense one has
 * [-1, 1]; the logit scale times (matched - other) is the span the
 * contrastive loss sees, so this tells a narrow span from a weak encoder.
 */
extern void metrics_similarity(const float *s, const int *img_of, int nt, int ni,
							   similarity_result *r);

typedef struct hubness_result
{
	double		skew;			/* skewness of N_k, the number of captions whose top k hold an image */
	double		never_pct;		/* images in no caption's top k (anti-hubs), % */
	double		top1pct_share;	/* % of all top-k slots held by the 1 % of images found most often */
	double		image_var_share;	/* variance of each image's mean cosine over all captions, as a
									 * share of the variance of all cosines */
} hubness_result;

/*
 * Hubness of text-to-image retrieval (Radovanovic et al., 2010): s [nt, ni]
 * the cosines of every caption and image.  N_k(i) counts the captions with
 * image i among their k highest (ties broken arbitrarily); its mean is k nt / ni, and
 * a right-skewed N_k means a few hub images crowd every caption's list.
 * Non-negative embeddings share a common direction (all cosines >= 0); when
 * that direction carries more of an image's cosine than its content does,
 * the image's mean over all captions (image_var_share) and the hubs grow.
 * Returns 0, or -1 when out of memory.
 */
extern int	metrics_hubness(const float *s, int nt, int ni, int k, hubness_result *r);

#endif
