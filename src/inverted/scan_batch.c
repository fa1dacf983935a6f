/*
 * scan_batch.c - the rows a scan returns, batch by batch: the keys (a lower
 * bound on each row's distance) in their total order, the bounded max-heap
 * of a batch, the pass over the accumulators that offers only the documents
 * whose scores can fall in the batch, and the completion of the ranges a
 * pruned walk left incomplete when they might.
 *
 * Apart from the scoring (scan_walk.c, scan_kernels.c): scoring happens
 * once per scan, batches are taken as many times as the executor asks.
 */
#include "postgres.h"

#include <float.h>
#include <math.h>

#include "miscadmin.h"
#include "utils/float.h"
#include "utils/memutils.h"

#include "scan.h"

/* the total order of rows: class of key, then distance, then tid */
static int
inv_key_cmp(const InvKey *a, const InvKey *b)
{
	if (a->cls != b->cls)
		return a->cls < b->cls ? -1 : 1;
	if (a->cls == KEY_NUM && a->dist != b->dist)
		return a->dist < b->dist ? -1 : 1;
	return ItemPointerCompare((ItemPointer) &a->tid, (ItemPointer) &b->tid);
}

/* ---------------------------------------------------------------- heap */

static void
inv_heap_sift_down(InvKey *h, int n, int i)
{
	for (;;)
	{
		int			l = 2 * i + 1,
					r = l + 1,
					m = i;
		InvKey		t;

		if (l < n && inv_key_cmp(&h[l], &h[m]) > 0)
			m = l;
		if (r < n && inv_key_cmp(&h[r], &h[m]) > 0)
			m = r;
		if (m == i)
			return;
		t = h[i];
		h[i] = h[m];
		h[m] = t;
		i = m;
	}
}

static inline void
inv_offer(InvScanOpaque *so, const InvKey *k)
{
	if (so->have_last && inv_key_cmp(k, &so->last) <= 0)
		return;
	if (so->hn < so->hcap)
	{
		int			i = so->hn++;

		so->heap[i] = *k;
		while (i > 0)
		{
			int			p = (i - 1) / 2;
			InvKey		t;

			if (inv_key_cmp(&so->heap[p], &so->heap[i]) >= 0)
				break;
			t = so->heap[p];
			so->heap[p] = so->heap[i];
			so->heap[i] = t;
			i = p;
		}
	}
	else if (inv_key_cmp(k, &so->heap[0]) < 0)
	{
		so->heap[0] = *k;
		inv_heap_sift_down(so->heap, so->hn, 0);
	}
}

static int
inv_key_qsort_cmp(const void *a, const void *b)
{
	return inv_key_cmp((const InvKey *) a, (const InvKey *) b);
}

/* ---------------------------------------------------------------- batches */

/*
 * Offer segment document d: its doc-table entry says whether it is dead,
 * NULL or a zero vector, and gives its norm for the error bound of its key,
 * a lower bound on its distance.
 */
static void
inv_offer_segment_doc(InvScanOpaque *so, InvSegScan *ss, uint32 d)
{
	InvDoc		doc;
	InvKey		k;
	double		a = ss->acc[d];
	double		n;

	if (inv_doc_dead(ss, d))
		return;
	inv_read(&ss->r, ss->hdr.doc_off + (uint64) d * sizeof(InvDoc), &doc, sizeof(doc));
	if (doc.flags & INV_DOC_DEAD)
		return;
	k.tid = doc.tid;
	k.cls = KEY_NUM;
	n = sqrt(doc.norm2);
	if ((doc.flags & INV_DOC_NULL) || so->qnull)
	{
		k.cls = KEY_NULL;
		k.dist = 0;
	}
	else if (so->cosine && (doc.norm2 == 0 || so->qnorm2 == 0))
	{
		k.cls = KEY_NAN;
		k.dist = 0;
	}
	else if (isnan(a) || isinf(a))
		k.dist = -get_float8_infinity();
	else if (a == 0 && so->exact && inv_doc_without_terms(ss, d))
	{
		/* no shared dimension: the operator's own result, exactly */
		k.dist = so->cosine ? 1.0 : 0.0;
	}
	else if (so->cosine)
	{
		/* scores of w / |d|: as an inner product with a unit vector */
		k.dist = 1.0 - a / so->qnorm - so->err - so->abserr / so->qnorm;
	}
	else
		k.dist = 0.0 - a - so->err * so->qnorm * n - so->abserr;
	inv_offer(so, &k);
}

#define INV_SKIP_CHUNK	16

/*
 * The first i' >= i with amin <= acc[i'] <= amax (or NaN), or nd.  Almost
 * every score lies outside, so whole chunks are tested at once, four lanes
 * at a time, against float bounds that are at least as wide; only a chunk
 * with a possible hit is looked at closely.
 */
static uint32
inv_skip_outside(const float4 *acc, uint32 i, uint32 nd, double amin, double amax)
{
	float4		fmin = inv_float_below(amin);
	float4		fmax = inv_float_above(amax);
	InvV4F		vmin = {fmin, fmin, fmin, fmin};
	InvV4F		vmax = {fmax, fmax, fmax, fmax};

	for (;;)
	{
		while (i + INV_SKIP_CHUNK <= nd)
		{
			InvV4F		a,
						b,
						c,
						d;
			InvV4I		out;

			memcpy(&a, acc + i, sizeof(a));
			memcpy(&b, acc + i + 4, sizeof(b));
			memcpy(&c, acc + i + 8, sizeof(c));
			memcpy(&d, acc + i + 12, sizeof(d));
			/* a lane is -1 when its score is outside (NaN is never outside) */
			out = ((a < vmin) | (a > vmax)) & ((b < vmin) | (b > vmax)) &
				((c < vmin) | (c > vmax)) & ((d < vmin) | (d > vmax));
			if ((out[0] & out[1] & out[2] & out[3]) != -1)
				break;
			i += INV_SKIP_CHUNK;
		}
		if (i + INV_SKIP_CHUNK <= nd)
		{
			uint32		end = i + INV_SKIP_CHUNK;

			for (; i < end; i++)
				if (!((double) acc[i] < amin || (double) acc[i] > amax))
					return i;
			continue;			/* only the wider float bounds matched */
		}
		for (; i < nd; i++)
			if (!((double) acc[i] < amin || (double) acc[i] > amax))
				return i;
		return nd;
	}
}

/*
 * The score (inner product: acc; cosine: acc / |d|) at which a key is dist,
 * for a document whose key has no error: the key lies within inv_gap below.
 * The cosine conversion rounds: a relative 1e-9 of |q| widens every
 * comparison.
 */
static inline double
inv_to_score(const InvScanOpaque *so, double dist)
{
	return so->cosine ? so->qnorm * (1.0 - dist) : 0.0 - dist;
}

/*
 * The largest score a document not yet returned can have, given the last
 * key returned (a number).
 */
static inline double
inv_score_max(const InvScanOpaque *so)
{
	return inv_to_score(so, so->last.dist) + (so->cosine ? 1e-9 * so->qnorm : 0);
}

static inline double
inv_gap(const InvScanOpaque *so, const InvSegScan *ss)
{
	if (so->cosine)
		return inv_cos_gap(so) + 1e-9 * so->qnorm;
	return so->err * so->qnorm * ss->hdr.maxnorm + so->abserr;
}

/*
 * Offer documents lo..hi-1 of a segment whose scores are inner products,
 * or (cosine) scaled ones, in two passes over the same documents: pass 0
 * those scoring at least FLT_MIN (and NaN), pass 1 the rest.  Most
 * documents of a query of rare terms score 0; offered in docno order with
 * the others, they filled the batch's heap before enough positive scores
 * had come to raise its bar above 0 (plus the error slack), and every one
 * of them was offered, a doc-table read each: a one-term top-10 at 1M rows
 * took three times as long.  After pass 0 the bar is usually above every
 * score pass 1 could offer, and pass 1 is skipped.
 */
#define INV_OFFER_SPLIT ((double) FLT_MIN)

static void
inv_offer_docs(InvScanOpaque *so, InvSegScan *ss, uint32 lo, uint32 hi, int pass)
{
	const float4 *acc = ss->acc;
	double		slack = inv_gap(so, ss);
	double		amin;
	double		amax = get_float8_infinity();
	uint32		i = lo;

	if (so->have_last && so->last.cls == KEY_NUM)
		amax = inv_score_max(so);
	if (pass == 1)
	{
		/* below the split: the largest float under FLT_MIN (a denormal) */
		amax = Min(amax, (double) nextafterf(FLT_MIN, 0.0f));
		if (so->hn == so->hcap && so->heap[0].cls == KEY_NUM &&
			inv_to_score(so, so->heap[0].dist) - slack > amax)
			return;
	}
	while (i < hi)
	{
		if (so->hn == so->hcap && so->heap[0].cls == KEY_NUM)
			amin = inv_to_score(so, so->heap[0].dist) - slack;
		else
			amin = -get_float8_infinity();
		if (pass == 0)
			amin = Max(amin, INV_OFFER_SPLIT);
		i = inv_skip_outside(acc, i, hi, amin, amax);
		if (i < hi)
		{
			/* NaN is never outside: pass 0 offered it */
			if (pass == 0 || !isnan(acc[i]))
				inv_offer_segment_doc(so, ss, i);
			i++;
		}
		if ((i & 0xFFFF) == 0)
			CHECK_FOR_INTERRUPTS();
	}
}

/* Can a document scoring at most ub (before float error) enter the batch? */
static inline bool
inv_may_enter(InvScanOpaque *so, double ub, double slack)
{
	return so->hn < so->hcap || so->heap[0].cls != KEY_NUM ||
		ub + 2 * slack >= inv_to_score(so, so->heap[0].dist);
}

/*
 * Complete the incomplete ranges whose bound reaches the batch, best bound
 * first (each one completed can raise the bar for the rest), and offer
 * their documents.  Ranges left incomplete cannot hold a row of this batch.
 */
static void
inv_complete_needed(InvScanOpaque *so, InvSegScan *ss)
{
	double		slack = inv_gap(so, ss);
	InvRangeBound *cand = palloc(sizeof(InvRangeBound) * ss->nincomplete);
	uint32		n = 0,
				r,
				k;
	int			pass;

	for (r = 0; r < ss->hdr.nranges; r++)
		if (ss->walked[r] != INV_RANGE_COMPLETE && inv_may_enter(so, ss->ub[r], slack))
		{
			cand[n].ub = ss->ub[r];
			cand[n++].range = r;
		}
	if (n > 0)
		elog(DEBUG1, "inverted scan: completing %u ranges%s", n, n > INV_BULK_COMPLETE ? " at once" : "");
	if (n > INV_BULK_COMPLETE)
	{
		/*
		 * Many ranges: one blocked walk of the terms they lack beats a
		 * binary search per term and range.
		 */
		bool	   *sel = palloc0(sizeof(bool) * ss->hdr.nranges);
		uint32		jmin = (uint32) ss->nterms;

		for (k = 0; k < n; k++)
		{
			sel[cand[k].range] = true;
			jmin = Min(jmin, ss->walked[cand[k].range]);
		}
		inv_walk_terms(ss, (int) jmin, ss->nterms, sel, NULL);
		for (k = 0; k < n; k++)
		{
			r = cand[k].range;
			ss->walked[r] = INV_RANGE_COMPLETE;
			ss->nincomplete--;
		}
		/* offered in docno order: the heap does not care */
		for (pass = 0; pass < 2; pass++)
			for (r = 0; r < ss->hdr.nranges; r++)
				if (sel[r])
					inv_offer_docs(so, ss, r << INV_RANGE_SHIFT,
								   Min((r + 1) << INV_RANGE_SHIFT, ss->hdr.ndocs), pass);
		pfree(sel);
		pfree(cand);
		return;
	}
	qsort(cand, n, sizeof(InvRangeBound), inv_range_bound_cmp);
	for (k = 0; k < n; k++)
	{
		CHECK_FOR_INTERRUPTS();
		if (!inv_may_enter(so, cand[k].ub, slack))
			break;
		r = cand[k].range;
		inv_complete_range(ss, r);
		for (pass = 0; pass < 2; pass++)
			inv_offer_docs(so, ss, r << INV_RANGE_SHIFT,
						   Min((r + 1) << INV_RANGE_SHIFT, ss->hdr.ndocs), pass);
	}
	pfree(cand);
}

/* Can the pass over the scores skip documents by their float scores? */
static inline bool
inv_can_filter(const InvScanOpaque *so)
{
	return !so->qnull && !(so->cosine && so->qnorm2 == 0) && !so->overflow &&
		(!so->cosine || !so->have_last || so->last.cls == KEY_NUM);
}

/* One pass of inv_offer_docs over the complete ranges of a segment. */
static void
inv_offer_complete(InvScanOpaque *so, InvSegScan *ss, int pass)
{
	uint32		nr = ss->hdr.nranges;
	uint32		nd = ss->hdr.ndocs;
	uint32		r = 0;

	if (ss->walked == NULL || ss->nincomplete == 0)
	{
		inv_offer_docs(so, ss, 0, nd, pass);
		return;
	}
	while (r < nr)
	{
		uint32		r1;

		for (; r < nr && ss->walked[r] != INV_RANGE_COMPLETE; r++)
			;
		for (r1 = r; r1 < nr && ss->walked[r1] == INV_RANGE_COMPLETE; r1++)
			;
		if (r < r1)
			inv_offer_docs(so, ss, r << INV_RANGE_SHIFT, Min(r1 << INV_RANGE_SHIFT, nd), pass);
		r = r1;
	}
}

/*
 * The next batch: the batchsize smallest keys after the last one returned.
 * A scan over the float scores rejects most documents before their doc-table
 * entry is read, with bounds that hold for any norm up to the segment's
 * largest.
 */
void
inv_next_batch(InvScanOpaque *so)
{
	MemoryContext old = MemoryContextSwitchTo(so->ctx);
	int			s;
	uint32		i;

	if (so->heap == NULL || so->hcap < so->batchsize)
	{
		if (so->heap)
			pfree(so->heap);
		so->heap = MemoryContextAllocHuge(so->ctx, sizeof(InvKey) * so->batchsize);
	}
	so->hcap = so->batchsize;
	so->hn = 0;

	for (s = 0; s < so->nseg; s++)
	{
		InvSegScan *ss = &so->segs[s];
		uint32		nd = ss->hdr.ndocs;
		bool		filter = !so->qnull && !(so->cosine && so->qnorm2 == 0);
		double		slack = so->err * so->qnorm * ss->hdr.maxnorm + so->abserr;

		if (inv_can_filter(so))
		{
			/*
			 * Inner product, finite scores: the key lies in
			 * [-a - slack, -a], so a document can only matter when
			 * amin <= a <= amax.  A tight loop skips the rest.  Cosine,
			 * scaled scores: the same over a = acc / |d| (until the rows
			 * left are NaN or NULL ones).  Ranges a pruned walk left
			 * incomplete wait for the completions below.  The scores
			 * below FLT_MIN of every segment come after the others of
			 * all segments: a small segment with few positive scores
			 * would otherwise offer all its zeros.
			 */
			inv_offer_complete(so, ss, 0);
			continue;
		}

		for (i = 0; i < nd; i++)
		{
			double		a = ss->acc[i];
			double		hi,
						lo;

			if ((i & 0xFFFF) == 0)
				CHECK_FOR_INTERRUPTS();
			if (ss->walked != NULL && ss->walked[i >> INV_RANGE_SHIFT] != INV_RANGE_COMPLETE)
				continue;		/* completed below if it can reach the batch */
			/* for inner product a NULL vector also scores 0: let its entry decide */
			if (!filter || isnan(a) || isinf(a) || a == 0 || so->cosine)
			{
				inv_offer_segment_doc(so, ss, i);
				continue;
			}
			/* the key lies in [lo, hi] */
			hi = 0.0 - a;
			lo = hi - slack;
			if (so->have_last && so->last.cls == KEY_NUM && hi < so->last.dist)
				continue;
			if (so->hn == so->hcap && so->heap[0].cls == KEY_NUM && lo > so->heap[0].dist)
				continue;
			inv_offer_segment_doc(so, ss, i);
		}
	}
	if (inv_can_filter(so))
		for (s = 0; s < so->nseg; s++)
			inv_offer_complete(so, &so->segs[s], 1);
	for (i = 0; i < so->npend; i++)
		inv_offer(so, &so->pend[i]);

	for (s = 0; s < so->nseg; s++)
	{
		InvSegScan *ss = &so->segs[s];

		if (ss->walked != NULL && ss->nincomplete > 0)
			inv_complete_needed(so, ss);
	}

	/*
	 * NULL vectors (and, for cosine, zero ones) score 0 but sort after every
	 * number, so the amax test above wrongly passes over them once the last
	 * key returned scores below 0.  They can only enter a heap that numbers
	 * leave room in (and then no range is incomplete any more).
	 */
	if (!so->qnull && !so->overflow && !(so->cosine && so->qnorm2 == 0) &&
		so->have_last && so->last.cls == KEY_NUM && inv_score_max(so) < 0)
	{
		for (s = 0; s < so->nseg; s++)
		{
			InvSegScan *ss = &so->segs[s];

			if (so->hn == so->hcap && so->heap[0].cls == KEY_NUM)
				break;
			for (i = 0; i < ss->hdr.ndocs; i++)
				if (ss->acc[i] == 0 &&
					(ss->walked == NULL || ss->walked[i >> INV_RANGE_SHIFT] == INV_RANGE_COMPLETE))
					inv_offer_segment_doc(so, ss, i);
		}
	}

	if (so->batch)
		pfree(so->batch);
	so->batch = palloc(sizeof(InvKey) * Max(so->hn, 1));
	memcpy(so->batch, so->heap, sizeof(InvKey) * so->hn);
	qsort(so->batch, so->hn, sizeof(InvKey), inv_key_qsort_cmp);
	so->nbatch = so->hn;
	so->pos = 0;
	if (so->hn < so->hcap)
		so->done = true;		/* everything left fitted in this batch */
	/*
	 * The first batch is small (it is what LIMIT 10 needs, and a small one
	 * prunes more); a scan that wants more likely wants many more.
	 */
	if (so->batchsize < 128)
		so->batchsize = Max(so->batchsize * 2, 128);
	else if (so->batchsize < (1 << 26))
		so->batchsize *= 2;

	MemoryContextSwitchTo(old);
}
