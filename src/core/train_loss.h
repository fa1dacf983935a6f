/*
 * train_loss.h - CLIP's symmetric InfoNCE loss with a learnable
 * temperature, forward and backward.
 */
#ifndef SPARSECLIP_TRAIN_LOSS_H
#define SPARSECLIP_TRAIN_LOSS_H

#include <stdint.h>

/*
 * img, txt: [B, D] embeddings (normalised by the caller); logits =
 * exp(logit_scale) img txt^T; loss = (CE(logits, diag) + CE(logits^T,
 * diag)) / 2, averaged over the batch.  Adds the gradients into dimg, dtxt
 * (both [B, D]) and *dscale; scratch holds 2 B^2 floats.  *accuracy (may be
 * NULL) receives the fraction of rows and columns whose largest logit is
 * the diagonal one.  Returns the loss.
 */
extern double sc_clip_loss(const float *img, const float *txt, int B, int D, float logit_scale,
						   float *dimg, float *dtxt, float *dscale, float *scratch,
						   double *accuracy);

/*
 * The same with multi-positive targets (UniCL): group [B] (NULL = the
 * diagonal, as sc_clip_loss) puts pairs that show the same thing in one
 * group; rows i and j with group[i] == group[j] >= 0 are positives of each
 * other, a negative id is a group of its own.  The target of row i (and of
 * column i) is spread uniformly over its positives, so they are not pushed
 * apart: CE = -sum_{j in P(i)} log softmax_j / |P(i)|.  *accuracy counts a
 * row or column as right when its largest logit is any of its positives.
 */
extern double sc_clip_loss_groups(const float *img, const float *txt, int B, int D,
								  float logit_scale, const int *group, float *dimg, float *dtxt,
								  float *dscale, float *scratch, double *accuracy);

/*
 * Groups for sc_clip_loss_groups from what the batch's B pairs show: pairs
 * i and j are positives when they have the same image, the same key >= 0
 * (key may be NULL: a per-image "same thing" key, such as the same emoji
 * in another style), or identical caption token rows (ids/lens as for the
 * text encoder), closed transitively.  group[i] = the smallest index in
 * its group.  Returns the number of ordered positive pairs off the
 * diagonal.
 */
extern long sc_positive_groups(const int *image, const int *key, const int32_t *const *ids,
							   const int *lens, int B, int *group);

/*
 * The FLOPS sparsity penalty (Paria et al. 2020, SPLADE) of a batch of
 * embeddings u [B, D]: sum over dimensions of the squared batch mean,
 * F = sum_j (1/B sum_i u_ij)^2.  It is smallest when each dimension fires
 * for few rows, and for non-negative u it is about L0 / D when usage is
 * even.  Returns F; when du is not NULL adds weight * dF/du =
 * weight * 2 mean_j / B into it.  mean: D floats of scratch.
 */
extern double sc_flops_loss(const float *u, int B, int D, float weight, float *du, float *mean);

/*
 * Alignment of the batch's own pairs (Wang and Isola 2020): the mean over
 * rows of 1 - img_b . txt_b for normalised embeddings img, txt [B, D], the
 * own pair only (multi-positive groups do not enter).  Returns the mean
 * matched cosine (1 minus the penalty); when weight != 0 adds
 * weight * d(penalty)/d(img, txt) = -weight txt_b / B (and img_b / B) into
 * dimg and dtxt.  The contrastive loss stops pulling a pair together once
 * it outranks the batch; this keeps pulling, so that a sparsifier cannot
 * move the two sides of a concept onto different dimensions for free.
 */
extern double sc_align_loss(const float *img, const float *txt, int B, int D, float weight,
							float *dimg, float *dtxt);

#endif
