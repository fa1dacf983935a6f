/*
 * train_loss.h - CLIP's symmetric InfoNCE loss with a learnable
 * temperature, forward and backward.
 */
#ifndef SPARSECLIP_TRAIN_LOSS_H
#define SPARSECLIP_TRAIN_LOSS_H

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
 * The FLOPS sparsity penalty (Paria et al. 2020, SPLADE) of a batch of
 * embeddings u [B, D]: sum over dimensions of the squared batch mean,
 * F = sum_j (1/B sum_i u_ij)^2.  It is smallest when each dimension fires
 * for few rows, and for non-negative u it is about L0 / D when usage is
 * even.  Returns F; when du is not NULL adds weight * dF/du =
 * weight * 2 mean_j / B into it.  mean: D floats of scratch.
 */
extern double sc_flops_loss(const float *u, int B, int D, float weight, float *du, float *mean);

#endif
