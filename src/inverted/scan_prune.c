/*
 * scan_prune.c - the bounds that let an exact scan skip work: what the terms
 * not yet walked can add to each range, the error bound of a cosine value,
 * and the checkpoints of the pruned walk, which leave incomplete the ranges
 * that cannot reach the first batch.
 *
 * Apart because pruning is where a scan could lose exactness: every bound
 * here must hold for any data, and they are easier to check side by side.
 */
#include "postgres.h"

#include <math.h>

#include "utils/float.h"

#include "scan.h"

int
inv_range_bound_cmp(const void *a, const void *b)
{
	return inv_desc_cmp(((const InvRangeBound *) a)->ub, ((const InvRangeBound *) b)->ub);
}

/*
 * Cosine: a bound on |acc - S| for a document's true (partial) score S =
 * q . d / |d|: the segment stores w / |d|, so acc is an inner product with
 * a unit vector, whose float and storage error is so->err |q| + so->abserr.
 */
double
inv_cos_gap(const InvScanOpaque *so)
{
	return (so->err * so->qnorm + so->abserr) * (1 + 1e-9);
}

/*
 * What the terms from j on can add to each range: at most hi[r], at least
 * lo[r] (<= 0; NULL when every contribution is non-negative).  For cosine
 * the bounds are over w / |d|, so they add to acc / |d|.
 */
void
inv_rest_bounds(const InvSegScan *ss, int j, double *hi, double *lo)
{
	int			i;

	memset(hi, 0, sizeof(double) * ss->hdr.nranges);
	if (lo != NULL)
		memset(lo, 0, sizeof(double) * ss->hdr.nranges);
	for (i = j; i < ss->nterms; i++)
	{
		const InvTerm *t = &ss->terms[i];
		double		q = fabs((double) t->q);
		uint32		x;

		for (x = 0; x < t->e.ndesc; x++)
		{
			const InvRangeDesc *d = &t->descs[x];
			double		up = t->q > 0 ? d->maxpos : d->maxneg;
			double		down = t->q > 0 ? d->maxneg : d->maxpos;

			hi[d->range] += q * up;
			if (lo != NULL)
				lo[d->range] -= q * down;
		}
	}
	/* the double sums err by far less than 1e-12 of themselves */
	for (i = 0; i < (int) ss->hdr.nranges; i++)
	{
		hi[i] *= 1 + 1e-12;
		if (lo != NULL)
			lo[i] *= 1 + 1e-12;
	}
}

/*
 * A checkpoint of the pruned walk, before term j.  A document's partial
 * score so far plus the least the terms j.. can add (rest_lo; 0 when all
 * contributions are non-negative) is a lower bound on its score, so the
 * batch-th best such value of distinct live documents (ss->top, which
 * skips the dead ones: their postings stay until a merge), less the error
 * bound of partial scores, is a lower bound theta on the score the first
 * batch ends at.  A range whose best partial score (mr)
 * plus what terms j.. can still add to any of its documents stays below
 * theta cannot reach the first batch: it is left incomplete, with that
 * upper bound, and later batches complete it if they come near.  For
 * cosine all of this is over acc / |d| (scores of w / |d|).
 */
void
inv_checkpoint(InvScanOpaque *so, InvSegScan *ss, int j, float4 *mr)
{
	uint32		nr = ss->hdr.nranges;
	double	   *rest;
	uint32		need = (uint32) Max(so->batchsize, 1);
	double		theta;
	uint32		r;

	/* the bar of earlier segments holds here too */
	theta = ss->ntop == need ? Max(ss->top[0] - ss->slack, so->theta) : so->theta;
	if (!(theta > 0))
		return;
	so->theta = theta;

	/* what the terms not yet walked can add to each range */
	rest = palloc(sizeof(double) * nr);
	inv_rest_bounds(ss, j, rest, NULL);
	for (r = 0; r < nr; r++)
	{
		double		ub;

		if (ss->walked[r] != INV_RANGE_COMPLETE)
			continue;
		ub = (double) mr[r] + ss->slack + rest[r];
		if (ub < theta)
		{
			ss->walked[r] = (uint32) j;
			ss->ub[r] = ub;
			ss->nincomplete++;
		}
	}
	pfree(rest);
}
