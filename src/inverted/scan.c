/*
 * scan.c - exact, incremental ORDER BY emb <#>/<=> q scans for `inverted`.
 *
 * Documents are returned in the total order (distance, tid), NaN distances
 * after numbers and NULL vectors last, in batches: each batch is the next
 * `batchsize` documents after the last one returned, and batch sizes double.
 * A batch is found with a bounded max-heap over all segments and the
 * pending list.  Inside a segment, ranges of INV_RANGE_DOCS documents are
 * visited in decreasing order of their score upper bound (the sum over query
 * terms of |q_t| times the largest same-signed weight of term t in the
 * range); as soon as a range's bound cannot beat the heap's worst entry, no
 * later range can either and the segment is done.  Skipped work is thus only
 * ever work that provably cannot change the answer.
 *
 * Scores are summed in double in ascending dimension order, exactly as
 * svec_dot does, so the distance handed to the executor equals the
 * operator's; xs_recheckorderby is still set, so the executor verifies it.
 */
#include "postgres.h"

#include <math.h>

#include "access/relscan.h"
#include "miscadmin.h"
#include "storage/bufmgr.h"
#include "utils/float.h"
#include "utils/memutils.h"
#include "utils/rel.h"

#include "inverted.h"

/* class of a key: ordinary distance, NaN distance, NULL vector */
#define KEY_NUM		0
#define KEY_NAN		1
#define KEY_NULL	2

typedef struct InvKey
{
	double		dist;
	ItemPointerData tid;
	uint8		cls;
} InvKey;

typedef struct InvHit
{
	double		qw;				/* query weight of the term */
	uint64		off;			/* stream offset of the piece's postings */
	uint32		count;
} InvHit;

typedef struct InvSegScan
{
	InvReader	r;
	InvSegHeader hdr;
	double	   *ub;				/* per range: upper bound on the raw score */
	uint32	   *order;			/* ranges by decreasing ub */
	uint32	   *hitstart;		/* per range: first hit (CSR), nranges + 1 */
	InvHit	   *hits;
} InvSegScan;

typedef struct InvScanOpaque
{
	MemoryContext ctx;
	bool		prepared;
	bool		done;
	bool		cosine;
	bool		qnull;
	SVec	   *query;
	double		qnorm2;
	bool		prune;
	Buffer		metabuf;
	InvMetaPageData meta;
	int			nseg;
	InvSegScan *segs;
	InvKey	   *pend;
	uint32		npend;
	/* batches */
	InvKey	   *heap;
	int			hn;
	int			hcap;
	InvKey	   *batch;
	int			nbatch;
	int			pos;
	int			batchsize;
	bool		have_last;
	InvKey		last;
} InvScanOpaque;

static int
inv_key_cmp(const InvKey *a, const InvKey *b)
{
	if (a->cls != b->cls)
		return a->cls < b->cls ? -1 : 1;
	if (a->cls == KEY_NUM && a->dist != b->dist)
		return a->dist < b->dist ? -1 : 1;
	return ItemPointerCompare((ItemPointer) &a->tid, (ItemPointer) &b->tid);
}

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
inv_make_key(InvScanOpaque *so, InvKey *k, ItemPointer tid, uint16 flags, double dot, double dnorm2)
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

/* ---------------------------------------------------------------- prepare */

static int
inv_ub_cmp(const void *a, const void *b, void *arg)
{
	const double *ub = (const double *) arg;
	double		x = ub[*(const uint32 *) a];
	double		y = ub[*(const uint32 *) b];

	if (x != y)
		return x > y ? -1 : 1;
	return (*(const uint32 *) a < *(const uint32 *) b) ? -1 : 1;
}

/* Binary search of the dimension directory. */
static bool
inv_find_dim(InvReader *r, const InvSegHeader *hdr, int32 dim, InvDimEntry *e)
{
	int64		lo = 0,
				hi = (int64) hdr->ndims - 1;

	while (lo <= hi)
	{
		int64		mid = (lo + hi) / 2;

		inv_read(r, hdr->dir_off + (uint64) mid * sizeof(InvDimEntry), e, sizeof(InvDimEntry));
		if (e->dim == dim)
			return true;
		if (e->dim < dim)
			lo = mid + 1;
		else
			hi = mid - 1;
	}
	return false;
}

static void
inv_prepare_segment(InvScanOpaque *so, Relation index, InvSegScan *ss, const InvSegRef *ref)
{
	InvSegHeader *hdr = &ss->hdr;
	int32		nq = so->qnull ? 0 : so->query->nnz;
	const int32 *qi = so->qnull ? NULL : so->query->indices;
	const float4 *qv = so->qnull ? NULL : SVEC_VALUES(so->query);
	InvDimEntry *ents = palloc(sizeof(InvDimEntry) * Max(nq, 1));
	InvRangeDesc **descs = palloc(sizeof(InvRangeDesc *) * Max(nq, 1));
	bool	   *found = palloc0(sizeof(bool) * Max(nq, 1));
	uint64		nhits = 0;
	uint32		r;
	int32		t;

	inv_reader_init(&ss->r, index, ref->start, ref->npages);
	inv_segment_read_header(&ss->r, hdr);
	ss->ub = palloc0(sizeof(double) * Max(hdr->nranges, 1));
	ss->order = palloc(sizeof(uint32) * Max(hdr->nranges, 1));
	ss->hitstart = palloc0(sizeof(uint32) * (hdr->nranges + 1));

	for (t = 0; t < nq; t++)
	{
		CHECK_FOR_INTERRUPTS();
		if (qv[t] == 0 || !inv_find_dim(&ss->r, hdr, qi[t], &ents[t]))
			continue;
		if (ents[t].first_desc + ents[t].ndesc > hdr->ndesc)
			ereport(ERROR,
					(errcode(ERRCODE_INDEX_CORRUPTED),
					 errmsg("inverted index \"%s\": bad directory entry",
							RelationGetRelationName(index))));
		found[t] = true;
		descs[t] = palloc(sizeof(InvRangeDesc) * Max(ents[t].ndesc, 1));
		inv_read(&ss->r, hdr->desc_off + ents[t].first_desc * sizeof(InvRangeDesc),
				 descs[t], sizeof(InvRangeDesc) * ents[t].ndesc);
		nhits += ents[t].ndesc;
	}

	/* CSR of hits per range, filled in ascending query dimension order */
	for (t = 0; t < nq; t++)
	{
		uint32		x;

		if (!found[t])
			continue;
		for (x = 0; x < ents[t].ndesc; x++)
		{
			InvRangeDesc *d = &descs[t][x];
			double		q = qv[t];

			if (d->range >= hdr->nranges || d->count == 0 || d->count > INV_RANGE_DOCS)
				ereport(ERROR,
						(errcode(ERRCODE_INDEX_CORRUPTED),
						 errmsg("inverted index \"%s\": bad range descriptor",
								RelationGetRelationName(index))));
			ss->hitstart[d->range + 1]++;
			ss->ub[d->range] += fabs(q) * (q > 0 ? (double) d->maxpos : (double) d->maxneg);
		}
	}
	for (r = 0; r < hdr->nranges; r++)
		ss->hitstart[r + 1] += ss->hitstart[r];
	ss->hits = MemoryContextAllocHuge(CurrentMemoryContext, sizeof(InvHit) * Max(nhits, 1));
	{
		uint32	   *fill = palloc(sizeof(uint32) * Max(hdr->nranges, 1));

		memcpy(fill, ss->hitstart, sizeof(uint32) * hdr->nranges);
		for (t = 0; t < nq; t++)
		{
			uint64		off;
			uint32		x;

			if (!found[t])
				continue;
			off = hdr->data_off + ents[t].data_off;
			for (x = 0; x < ents[t].ndesc; x++)
			{
				InvRangeDesc *d = &descs[t][x];
				InvHit	   *h = &ss->hits[fill[d->range]++];

				h->qw = qv[t];
				h->off = off;
				h->count = d->count;
				off += (uint64) d->count * INV_POSTING_BYTES;
			}
			pfree(descs[t]);
		}
		pfree(fill);
	}

	for (r = 0; r < hdr->nranges; r++)
		ss->order[r] = r;
	qsort_arg(ss->order, hdr->nranges, sizeof(uint32), inv_ub_cmp, ss->ub);

	pfree(ents);
	pfree(descs);
	pfree(found);
}

/* Exact dot product of the query with a pending document, as svec_dot sums it. */
static double
inv_dot_sorted(const SVec *q, int32 nnz, const int32 *ind, const float4 *val)
{
	const float4 *qv = SVEC_VALUES(q);
	int32		i = 0,
				j = 0;
	double		s = 0;

	while (i < q->nnz && j < nnz)
	{
		if (q->indices[i] == ind[j])
		{
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
	if (so->meta.magic != INV_MAGIC || so->meta.version != INV_VERSION)
		ereport(ERROR,
				(errcode(ERRCODE_INDEX_CORRUPTED),
				 errmsg("index \"%s\" is not a valid inverted index; REINDEX it",
						RelationGetRelationName(index))));
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
	/* with a NULL or zero query every distance is the same: nothing to prune */
	so->prune = !so->qnull && !(so->cosine && so->qnorm2 == 0);

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

		CHECK_FOR_INTERRUPTS();
		if (!(rec.flags & INV_DOC_NULL) && !so->qnull)
		{
			if (rec.dim != so->query->dim)
				svec_check_same_dims(so->query, svec_alloc(rec.dim, 0));
			dot = inv_dot_sorted(so->query, rec.nnz, ind, val);
		}
		if (so->npend == cap)
		{
			cap *= 2;
			so->pend = repalloc_huge(so->pend, sizeof(InvKey) * cap);
		}
		inv_make_key(so, &so->pend[so->npend++], &rec.tid, rec.flags, dot, rec.norm2);
		if (ind)
			pfree(ind);
		if (val)
			pfree(val);
	}

	so->batchsize = Max(inv_initial_batch, 1);
	so->prepared = true;
	MemoryContextSwitchTo(old);
}

/* ---------------------------------------------------------------- batches */

static void
inv_eval_range(InvScanOpaque *so, InvSegScan *ss, uint32 r)
{
	InvDoc		docs[INV_RANGE_DOCS];
	double		acc[INV_RANGE_DOCS];
	uint8		offs[INV_RANGE_DOCS];
	float4		ws[INV_RANGE_DOCS];
	uint32		first = r << INV_RANGE_SHIFT;
	uint32		n = Min((uint32) INV_RANGE_DOCS, ss->hdr.ndocs - first);
	uint32		h;
	uint32		i;

	inv_read(&ss->r, ss->hdr.doc_off + (uint64) first * sizeof(InvDoc), docs, sizeof(InvDoc) * n);
	memset(acc, 0, sizeof(double) * n);
	for (h = ss->hitstart[r]; h < ss->hitstart[r + 1]; h++)
	{
		InvHit	   *hit = &ss->hits[h];
		double		q = hit->qw;
		uint32		c = hit->count;

		inv_read(&ss->r, hit->off, offs, c);
		inv_read(&ss->r, hit->off + c, ws, sizeof(float4) * c);
		for (i = 0; i < c; i++)
			acc[offs[i]] += q * (double) ws[i];
	}
	for (i = 0; i < n; i++)
	{
		InvKey		k;

		if (docs[i].flags & INV_DOC_DEAD)
			continue;
		inv_make_key(so, &k, &docs[i].tid, docs[i].flags, acc[i], docs[i].norm2);
		inv_offer(so, &k);
	}
}

/* Smallest distance any document in a range with score bound ub can have. */
static double
inv_range_lower_bound(InvScanOpaque *so, double ub)
{
	ub *= inv_block_skip_factor;
	if (so->cosine)
		return 1 - ub / sqrt(so->qnorm2);
	return -ub;
}

static void
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

		for (i = 0; i < ss->hdr.nranges; i++)
		{
			uint32		r = ss->order[i];

			if ((i & 63) == 0)
				CHECK_FOR_INTERRUPTS();
			if (so->prune && so->hn == so->hcap && so->heap[0].cls == KEY_NUM)
			{
				double		lb = inv_range_lower_bound(so, ss->ub[r]);
				double		worst = so->heap[0].dist;

				/* slack covers rounding in the bound's own arithmetic */
				if (lb > worst + 1e-9 * (1 + fabs(worst)))
					break;
			}
			inv_eval_range(so, ss, r);
		}
	}
	for (i = 0; i < so->npend; i++)
		inv_offer(so, &so->pend[i]);

	if (so->batch)
		pfree(so->batch);
	so->batch = palloc(sizeof(InvKey) * Max(so->hn, 1));
	memcpy(so->batch, so->heap, sizeof(InvKey) * so->hn);
	qsort(so->batch, so->hn, sizeof(InvKey), inv_key_qsort_cmp);
	so->nbatch = so->hn;
	so->pos = 0;
	if (so->hn < so->hcap)
		so->done = true;		/* everything left fitted in this batch */
	if (so->batchsize < (1 << 26))
		so->batchsize *= 2;
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
			scan->xs_recheckorderby = true;
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
