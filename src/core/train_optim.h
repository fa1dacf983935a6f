/*
 * train_optim.h - the optimizer side of training over flat buffers:
 * AdamW (torch.optim.AdamW semantics, decoupled weight decay), the learning
 * rate schedule (linear warm-up then cosine decay, open_clip's) and
 * gradient-norm clipping (torch.nn.utils.clip_grad_norm_).
 */
#ifndef SPARSECLIP_TRAIN_OPTIM_H
#define SPARSECLIP_TRAIN_OPTIM_H

#include <stddef.h>

typedef struct sc_adamw
{
	float		beta1, beta2, eps;
} sc_adamw;

/*
 * One AdamW step (step t >= 1) over n parameters: m, v are the moment
 * buffers (zero at the start), wd the weight decay for this stretch of
 * parameters (CLIP: 0.2 for matrices, 0 for 1-D tensors and the logit scale).
 */
extern void sc_adamw_update(float *param, const float *grad, float *m, float *v, size_t n,
							const sc_adamw *opt, float lr, float wd, long t);

/* Learning rate at step (0-based) of total: warm-up over warmup steps, then cosine to 0. */
extern double sc_lr_at(double base_lr, long step, long warmup, long total);

/*
 * Warm-up over warmup steps, then constant: the logit scale's own schedule
 * (it has to climb all run long; a cosine to 0 stalls it half-way).
 */
extern double sc_lr_const_at(double base_lr, long step, long warmup);

/*
 * A penalty weight that starts late: 0 before start_frac of total steps,
 * then a quadratic ramp to max_weight at ramp_frac, then held (SPLADE's
 * schedule; a step at start_frac when ramp_frac <= start_frac).
 */
extern double sc_ramp_weight(double max_weight, long step, long total, double start_frac,
							 double ramp_frac);

/*
 * Scale grad so that its L2 norm is at most max_norm (when max_norm > 0);
 * returns the norm before clipping.
 */
extern double sc_clip_grad_norm(float *grad, size_t n, double max_norm);

#endif
