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

#endif
