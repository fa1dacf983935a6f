/*
 * train_flops.h - the FLOPS weight controller of sparseclip-train
 * (--flops-target): steers the sparsity penalty's weight to an L0 target.
 */
#ifndef SC_TRAIN_FLOPS_H
#define SC_TRAIN_FLOPS_H

#include "train_args.h"

/*
 * L0 answers the FLOPS weight very nonlinearly (a fixed ramp holds L0 at
 * half of sparse_dim, then drops it tenfold in a hundred steps), so the
 * weight is steered to an L0 target instead of scheduled.  One weight for
 * both sides, driven by the larger of the two L0s: the goal is "each side
 * at most the target", which the larger one binds, and a shared weight keeps
 * the loss symmetric, so it does not itself push images and texts onto
 * different dimensions.  The control is integral in log space,
 * w *= (L0 / target)^gain: equal steps for "twice too many" and "half too
 * few", and w stays positive.  Its state is in the state file.
 */
#define SC_FLOPS_CTL_MAX_STEP 1.05	/* per-step factor bound: 10x in ~47 steps */
#define SC_FLOPS_CTL_MIN_W 1e-6
#define SC_FLOPS_CTL_MAX_W 1e6

typedef struct flops_ctl
{
	long		step0;			/* step the controller started (-1: not yet) */
	double		l0_start;		/* L0 measured then, where the target's descent begins */
	double		weight;			/* the weight for the next step */
} flops_ctl;

/* the L0 target at step: geometric from l0_start at step0 to the final target at --flops-ramp */
double		flops_ctl_target(const flops_ctl *c, const args *a, long step, long total, int D);
/* after the batch of step: start the controller if due, adjust the weight; returns the target */
double		flops_ctl_update(flops_ctl *c, const args *a, long step, long total, int D, double l0, double lr);

#endif
