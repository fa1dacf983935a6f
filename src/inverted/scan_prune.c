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

/* Order ss->top (and topdoc with it) best first: a heap no longer. */
static void
inv_sort_top(InvSegScan *ss)
{
	uint32		i,
				j;

	/* insertion sort: at most a few dozen candidates */
	for (i = 1; i < ss->ntop; i++)
	{
		float4		v = ss->top[i];
		uint32		d = ss->topdoc[i];

		for (j = i; j > 0 && ss->top[j - 1] < v; j--)
		{
			ss->top[j] = ss->top[j - 1];
			ss->topdoc[j] = ss->topdoc[j - 1];
		}
		ss->top[j] = v;
		ss->topdoc[j] = d;
	}
}

/*
 * A checkpoint of the pruned walk, before term j.  A document's partial
 * score so far plus the least the terms j.. can add (rest_lo; 0 when all
 * contributions are non-negative) is a lower bound on its score, so the
 * batch-th best such value of distinct live documents (ss->top; when the
 * segment has dead documents, of the candidates there that are alive, or,
 * if too few are, of the best live document of each range),
 * less the error bound of partial scores, is a lower bound theta on the
 * score the first batch ends at.  A range whose best partial score (mr)
 * plus what terms j.. can still add to any of its documents stays below
 * theta cannot reach the first batch: it is left incomplete, with that
 * upper bound, and later batches complete it if they come near.  For
 * cosine all of this is over acc / |d| (scores of w / |d|).
 */
void
inv_checkpoint(InvScanOpaque *so, InvSegScan *ss, const InvSegRef *ref, int j, float4 *mr)
{
	uint32		nr = ss->hdr.nranges;
	double	   *rest;
	uint32		need = (uint32) Max(so->batchsize, 1);
	uint32		nalive = 0;
	double		theta = 0;
	bool		have = false;
	uint32		r;

	for (r = 0; r < nr; r++)
		if (ss->walked[r] == INV_RANGE_COMPLETE)
			nalive++;
	if (nalive < need)
		;						/* too few ranges to witness: only an earlier segment's bar */
	else if (ref->ndead == 0)
	{
		/* the batch-th best lower bound of any (live) document */
		have = ss->ntop == need;
		theta = have ? ss->top[0] : 0;
	}
	else
	{
		/*
		 * Dead documents keep their postings until a merge: the batch-th
		 * best of the candidates that are alive (their doc-table entries
		 * read, best first).
		 */
		uint32		k;
		uint32		found = 0;

		inv_sort_top(ss);
		for (k = 0; k < ss->ntop && found < need; k++)
		{
			InvDoc		doc;

			inv_read(&ss->r, ss->hdr.doc_off + (uint64) ss->topdoc[k] * sizeof(InvDoc), &doc, sizeof(doc));
			if (doc.flags & INV_DOC_DEAD)
				continue;
			if (++found == need)
				theta = ss->top[k];
		}
		have = (found == need);
	}
	if (!have && nalive >= need && ref->ndead > 0)
	{
		/*
		 * Dead documents keep their postings until a merge: then only the
		 * best document of each range is a witness, and only if alive.
		 */
		InvRangeBound *top = palloc(sizeof(InvRangeBound) * nalive);
		uint32		n = 0,
					found = 0,
					k;

		for (r = 0; r < nr; r++)
			if (ss->walked[r] == INV_RANGE_COMPLETE)
			{
				top[n].ub = (double) mr[r] + (ss->rest_lo != NULL ? ss->rest_lo[r] : 0);
				top[n++].range = r;
			}
		qsort(top, n, sizeof(InvRangeBound), inv_range_bound_cmp);
		for (k = 0; k < n && found < need; k++)
		{
			uint32		d = top[k].range << INV_RANGE_SHIFT;
			uint32		end = Min(d + INV_RANGE_DOCS, ss->hdr.ndocs);
			float4		m = mr[top[k].range];
			InvDoc		doc;

			if (!(top[k].ub > 0))
				break;
			while (d < end && inv_doc_val(ss, d) != m)
				d++;
			if (d >= end)
				continue;
			inv_read(&ss->r, ss->hdr.doc_off + (uint64) d * sizeof(InvDoc), &doc, sizeof(doc));
			if (doc.flags & INV_DOC_DEAD)
				continue;
			found++;
			theta = inv_float_below(top[k].ub);
		}
		have = (found == need);
		pfree(top);
	}
	/* the bar of earlier segments holds here too */
	theta = have ? Max(theta - ss->slack, so->theta) : so->theta;
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
