/*
 * scan.c - exact, incremental ORDER BY emb <#>/<=> q scans for `inverted`.
 *
 * On the first tuple the scan scores the documents of every segment term at
 * a time: each query term's pieces (straight from the pages, in docno
 * order) add q_t * w into a float accumulator per document, the ranges taken
 * in blocks so that their accumulators stay in cache, dense pieces sixteen
 * documents at a time.  With non-negative data the terms go in order of
 * what they add per posting, and checkpoints leave incomplete the ranges
 * that cannot reach the first batch (pruning).  The pending list is scored
 * exactly, document by document.  From the float score and the document's
 * norm each document gets a key that is a proven lower bound on its true
 * distance (float rounding plus the bfloat16 storage error).
 *
 * Rows are returned in the total order (key, tid), NaN distances after
 * numbers and NULL vectors last, in batches: each batch is the next
 * `batchsize` keys after the last one returned (a bounded max-heap over one
 * pass of the accumulators, after completing the incomplete ranges that
 * could reach it); batches grow, so any LIMIT, or none, and any filter
 * above the scan work without a cap.  xs_recheckorderby is set: the
 * executor recomputes each returned row's distance with the operator itself
 * and uses its reorder queue, which makes the final order exactly the
 * sequential scan's.  See doc/inverted-design.md.
 *
 * This file holds the access method's entry points, the query's set-up and
 * the pending list; the rest is split by job (scan.h lists the files).
 */
#include "postgres.h"

#include <math.h>

#include "access/relscan.h"
#include "miscadmin.h"
#include "storage/bufmgr.h"
#include "utils/float.h"
#include "utils/memutils.h"

#include "scan.h"

/*
 * The operators' distances from a dot product and squared norms; must
 * match svec_negative_inner_product and svec_cosine_distance.
 */
double
inv_distance(bool cosine, double dot, double qnorm2, double dnorm2)
{
	double		norms = dnorm2 * qnorm2;
	double		sim;

	if (!cosine)
		return 0.0 - dot;
	if (norms == 0.0)
		return get_float8_nan();
	sim = dot / sqrt(norms);
	if (sim > 1)
		sim = 1;
	else if (sim < -1)
		sim = -1;
	return 1 - sim;
}

static void
inv_make_key(InvScanOpaque *so, InvKey *k, ItemPointer tid, uint16 flags, double dot, double dnorm2,
			 bool shared)
{
	k->tid = *tid;
	if ((flags & INV_DOC_NULL) || so->qnull)
	{
		k->cls = KEY_NULL;
		k->dist = 0;
		return;
	}
	k->dist = inv_distance(so->cosine, dot, so->qnorm2, dnorm2);
	k->cls = isnan(k->dist) ? KEY_NAN : KEY_NUM;

	/*
	 * The sum above is the operator's, term for term; the margin keeps the
	 * key a lower bound should the operator ever sum in another order.  A
	 * document that shares no dimension with the query needs none: its key
	 * is its distance, so the executor returns it without fetching further
	 * rows first (see inv_doc_without_terms).
	 */
	if (k->cls == KEY_NUM && shared)
	{
		double		margin = (so->query->nnz + 8) * 2.3e-16;

		k->dist -= so->cosine ? margin : margin * so->qnorm * sqrt(dnorm2);
	}
}

/* ---------------------------------------------------------------- prepare */

/*
 * Exact dot product of the query with a pending document, as svec_dot sums
 * it; *shared says whether they share a dimension.
 */
static double
inv_dot_sorted(const SVec *q, int32 nnz, const int32 *ind, const float4 *val, bool *shared)
{
	const float4 *qv = SVEC_VALUES(q);
	int32		i = 0,
				j = 0;
	double		s = 0;

	while (i < q->nnz && j < nnz)
	{
		if (q->indices[i] == ind[j])
		{
			*shared = true;
			s += (double) qv[i] * (double) val[j];
			i++;
			j++;
		}
		else if (q->indices[i] < ind[j])
			i++;
		else
			j++;
	}
	return s;
}

static void
inv_prepare(IndexScanDesc scan)
{
	InvScanOpaque *so = (InvScanOpaque *) scan->opaque;
	Relation	index = scan->indexRelation;
	MemoryContext old = MemoryContextSwitchTo(so->ctx);
	InvPendReader pr;
	InvPendRecord rec;
	int32	   *ind;
	float4	   *val;
	uint32		cap;
	int			i;

	/* the pin is held until the scan ends: VACUUM waits for it */
	if (!BufferIsValid(so->metabuf))
		so->metabuf = ReadBuffer(index, INV_METAPAGE_BLKNO);
	LockBuffer(so->metabuf, BUFFER_LOCK_SHARE);
	memcpy(&so->meta, InvPageGetMeta(BufferGetPage(so->metabuf)), sizeof(InvMetaPageData));
	LockBuffer(so->metabuf, BUFFER_LOCK_UNLOCK);
	inv_check_meta(index, &so->meta);
	so->cosine = (so->meta.flags & INV_FLAG_COSINE) != 0;

	/* the operator raises an error for mismatched dimensions, so do we */
	if (!so->qnull && so->meta.dim != INV_DIM_NONE)
	{
		if (so->meta.dim == INV_DIM_MIXED)
			ereport(ERROR,
					(errcode(ERRCODE_DATA_EXCEPTION),
					 errmsg("indexed svec values have different dimensions")));
		svec_check_same_dims(so->query, svec_alloc(so->meta.dim, 0));
	}
	if (!so->qnull)
		so->qnorm2 = svec_norm2(so->query);
	so->qnorm = sqrt(so->qnorm2);
	so->exact = true;
	so->err = 0;
	so->abserr = 0;
	so->overflow = false;
	so->theta = 0;
	so->batchsize = Max(inv_initial_batch, 1);

	so->nseg = so->meta.nsegments;
	so->segs = palloc0(sizeof(InvSegScan) * Max(so->nseg, 1));
	for (i = 0; i < so->nseg; i++)
		inv_prepare_segment(so, index, &so->segs[i], &so->meta.segs[i]);

	/* the pending list is small: score it once */
	cap = 64;
	so->pend = palloc(sizeof(InvKey) * cap);
	so->npend = 0;
	inv_pend_reader_init(&pr, index, &so->meta);
	while (inv_pend_next(&pr, &rec, &ind, &val))
	{
		double		dot = 0;
		bool		shared = false;

		CHECK_FOR_INTERRUPTS();
		if (!(rec.flags & INV_DOC_NULL) && !so->qnull)
		{
			if (rec.dim != so->query->dim)
				svec_check_same_dims(so->query, svec_alloc(rec.dim, 0));
			dot = inv_dot_sorted(so->query, rec.nnz, ind, val, &shared);
		}
		if (so->npend == cap)
		{
			cap *= 2;
			so->pend = repalloc_huge(so->pend, sizeof(InvKey) * cap);
		}
		inv_make_key(so, &so->pend[so->npend++], &rec.tid, rec.flags, dot, rec.norm2, shared);
		if (ind)
			pfree(ind);
		if (val)
			pfree(val);
	}

	so->prepared = true;
	MemoryContextSwitchTo(old);
}

/* ---------------------------------------------------------------- AM API */

IndexScanDesc
invbeginscan(Relation index, int nkeys, int norderbys)
{
	IndexScanDesc scan = RelationGetIndexScan(index, nkeys, norderbys);
	InvScanOpaque *so = palloc0(sizeof(InvScanOpaque));

	so->ctx = AllocSetContextCreate(CurrentMemoryContext, "inverted scan",
									ALLOCSET_DEFAULT_SIZES);
	so->metabuf = InvalidBuffer;
	scan->opaque = so;
	/* the AM owns the arrays the ORDER BY values are returned in */
	scan->xs_orderbyvals = palloc0(sizeof(Datum) * Max(norderbys, 1));
	scan->xs_orderbynulls = palloc(sizeof(bool) * Max(norderbys, 1));
	return scan;
}

void
invrescan(IndexScanDesc scan, ScanKey keys, int nkeys, ScanKey orderbys, int norderbys)
{
	InvScanOpaque *so = (InvScanOpaque *) scan->opaque;
	int			i;

	if (so->prepared)
		for (i = 0; i < so->nseg; i++)
			inv_reader_end(&so->segs[i].r);
	MemoryContextReset(so->ctx);
	so->prepared = false;
	so->done = false;
	so->segs = NULL;
	so->nseg = 0;
	so->pend = NULL;
	so->heap = NULL;
	so->batch = NULL;
	so->nbatch = 0;
	so->pos = 0;
	so->have_last = false;
	so->query = NULL;

	if (orderbys && scan->numberOfOrderBys > 0)
		memmove(scan->orderByData, orderbys, scan->numberOfOrderBys * sizeof(ScanKeyData));
	if (keys && scan->numberOfKeys > 0)
		memmove(scan->keyData, keys, scan->numberOfKeys * sizeof(ScanKeyData));

	so->qnull = true;
	if (scan->numberOfOrderBys > 0 && !(scan->orderByData[0].sk_flags & SK_ISNULL))
	{
		MemoryContext old = MemoryContextSwitchTo(so->ctx);

		so->query = (SVec *) PG_DETOAST_DATUM_COPY(scan->orderByData[0].sk_argument);
		so->qnull = false;
		MemoryContextSwitchTo(old);
	}
}

bool
invgettuple(IndexScanDesc scan, ScanDirection dir)
{
	InvScanOpaque *so = (InvScanOpaque *) scan->opaque;

	if (scan->numberOfOrderBys != 1)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("inverted index scans need exactly one ORDER BY distance")));
	if (!ScanDirectionIsForward(dir))
		elog(ERROR, "inverted index scans only go forward");

	if (!so->prepared)
		inv_prepare(scan);

	for (;;)
	{
		if (so->pos < so->nbatch)
		{
			InvKey	   *k = &so->batch[so->pos++];

			scan->xs_heaptid = k->tid;
			scan->xs_recheck = false;
			/* exact mode: lower bounds, the executor recomputes and reorders */
			scan->xs_recheckorderby = so->exact;
			if (k->cls == KEY_NULL)
			{
				scan->xs_orderbyvals[0] = (Datum) 0;
				scan->xs_orderbynulls[0] = true;
			}
			else
			{
				scan->xs_orderbyvals[0] = Float8GetDatum(k->dist);
				scan->xs_orderbynulls[0] = false;
			}
			so->last = *k;
			so->have_last = true;
			return true;
		}
		if (so->done)
			return false;
		inv_next_batch(so);
		if (so->nbatch == 0)
			return false;
	}
}

void
invendscan(IndexScanDesc scan)
{
	InvScanOpaque *so = (InvScanOpaque *) scan->opaque;
	int			i;

	if (so->prepared)
		for (i = 0; i < so->nseg; i++)
			inv_reader_end(&so->segs[i].r);
	if (BufferIsValid(so->metabuf))
		ReleaseBuffer(so->metabuf);
	MemoryContextDelete(so->ctx);
	pfree(so);
	scan->opaque = NULL;
}
