/*
 * train_flops.c - the FLOPS weight controller (train_flops.h says why it is
 * a controller and not a schedule).
 */
#include <math.h>

#include "train_flops.h"


/* the L0 target at step: geometric from l0_start at step0 to the final target at --flops-ramp */
double
flops_ctl_target(const flops_ctl *c, const args *a, long step, long total, int D)
{
	double		goal = a->flops_target * D, s1 = a->flops_ramp * (double) total, x;

	if (c->step0 < 0)
		return 0.0;
	if (s1 <= (double) c->step0 || (double) step >= s1)
		return goal;
	x = ((double) step - (double) c->step0) / (s1 - (double) c->step0);
	return c->l0_start * pow(goal / c->l0_start, x);
}

/*
 * After the batch of step: start the controller if due, then adjust the
 * weight; returns the target.  The gain is scaled by lr / peak lr: L0 moves
 * only as fast as the optimiser moves the weights, so this keeps the loop's
 * gain the same along the schedule instead of winding the weight up while
 * the cosine's tail can no longer follow it.
 */
double
flops_ctl_update(flops_ctl *c, const args *a, long step, long total, int D, double l0, double lr)
{
	double		tgt, f;

	if (c->step0 < 0)
	{
		c->step0 = step;
		/* already below the goal (or all dead): the target is the goal throughout */
		c->l0_start = fmax(l0, a->flops_target * D);
	}
	tgt = flops_ctl_target(c, a, step, total, D);
	f = pow(fmax(l0, 0.5) / tgt, a->flops_gain * lr / a->lr);
	f = fmin(fmax(f, 1.0 / SC_FLOPS_CTL_MAX_STEP), SC_FLOPS_CTL_MAX_STEP);
	c->weight = fmin(fmax(c->weight * f, SC_FLOPS_CTL_MIN_W), SC_FLOPS_CTL_MAX_W);
	return tgt;
}
