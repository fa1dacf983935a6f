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

typedef struct InvSegScan
{
	InvReader	r;
	InvSegHeader hdr;
	float4	   *acc;			/* per document: score, summed term by term */
	float4	   *norms;			/* per document: |d| rounded up, 0 for NULL/zero */
} InvSegScan;

typedef struct InvScanOpaque
{
	MemoryContext ctx;
	bool		prepared;
	bool		done;
	bool		cosine;
	bool		qnull;
	bool		exact;			/* all query terms used: keys are lower bounds */
	SVec	   *query;
	double		qnorm2;
	double		qnorm;
	double		err;			/* relative error bound of the float scores */
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

typedef struct InvTerm
{
	float4		q;
	double		impact;			/* largest |contribution| to any document */
	InvDimEntry e;
} InvTerm;

static int
inv_term_impact_cmp(const void *a, const void *b)
{
	double		x = ((const InvTerm *) a)->impact;
	double		y = ((const InvTerm *) b)->impact;

	return (x > y) ? -1 : (x < y) ? 1 : 0;
}

/*
 * Score every document of a segment: term at a time, each term's postings
 * read in one go and added into a float accumulator per document.
 */
static void
inv_prepare_segment(InvScanOpaque *so, Relation index, InvSegScan *ss, const InvSegRef *ref)
{
	InvSegHeader *hdr = &ss->hdr;
	int32		nq = so->qnull ? 0 : so->query->nnz;
	const int32 *qi = so->qnull ? NULL : so->query->indices;
	const float4 *qv = so->qnull ? NULL : SVEC_VALUES(so->query);
	InvTerm    *terms = palloc(sizeof(InvTerm) * Max(nq, 1));
	int			nterms = 0;
	InvRangeDesc *descs = NULL;
	uint64		descs_cap = 0;
	char	   *data = NULL;
	uint64		data_cap = 0;
	int32		t;

	inv_reader_init(&ss->r, index, ref->start, ref->npages);
	inv_segment_read_header(&ss->r, hdr);
	ss->acc = MemoryContextAllocHuge(CurrentMemoryContext, sizeof(float4) * Max(hdr->ndocs, 1));
	memset(ss->acc, 0, sizeof(float4) * hdr->ndocs);
	ss->norms = MemoryContextAllocHuge(CurrentMemoryContext, sizeof(float4) * Max(hdr->ndocs, 1));
	inv_read(&ss->r, hdr->norm_off, ss->norms, sizeof(float4) * hdr->ndocs);

	for (t = 0; t < nq; t++)
	{
		InvTerm    *term = &terms[nterms];

		CHECK_FOR_INTERRUPTS();
		if (!inv_find_dim(&ss->r, hdr, qi[t], &term->e))
			continue;
		if (term->e.first_desc + term->e.ndesc > hdr->ndesc)
			ereport(ERROR,
					(errcode(ERRCODE_INDEX_CORRUPTED),
					 errmsg("inverted index \"%s\": bad directory entry",
							RelationGetRelationName(index))));
		term->q = qv[t];
		term->impact = fabs((double) qv[t]) *
			(qv[t] > 0 ? (double) term->e.maxpos : (double) term->e.maxneg);
		nterms++;
	}

	/* approximate setting: only the terms that can contribute most */
	if (inv_query_terms > 0 && nterms > inv_query_terms)
	{
		qsort(terms, nterms, sizeof(InvTerm), inv_term_impact_cmp);
		nterms = inv_query_terms;
		so->exact = false;
	}

	for (t = 0; t < nterms; t++)
	{
		InvTerm    *term = &terms[t];
		uint64		npost = 0;
		uint32		x;
		const char *p;
		float4		q = term->q;
		float4	   *acc = ss->acc;

		CHECK_FOR_INTERRUPTS();
		if (term->e.ndesc > descs_cap)
		{
			descs_cap = Max(term->e.ndesc, 2 * descs_cap);
			if (descs)
				pfree(descs);
			descs = MemoryContextAllocHuge(CurrentMemoryContext, sizeof(InvRangeDesc) * descs_cap);
		}
		inv_read(&ss->r, hdr->desc_off + term->e.first_desc * sizeof(InvRangeDesc),
				 descs, sizeof(InvRangeDesc) * term->e.ndesc);
		for (x = 0; x < term->e.ndesc; x++)
		{
			if (descs[x].range >= hdr->nranges || descs[x].count == 0 ||
				descs[x].count > INV_RANGE_DOCS ||
				((uint64) descs[x].range << INV_RANGE_SHIFT) + INV_RANGE_DOCS > (uint64) hdr->nranges * INV_RANGE_DOCS)
				ereport(ERROR,
						(errcode(ERRCODE_INDEX_CORRUPTED),
						 errmsg("inverted index \"%s\": bad range descriptor",
								RelationGetRelationName(index))));
			npost += descs[x].count;
		}
		if (npost * INV_POSTING_BYTES > data_cap)
		{
			data_cap = Max(npost * INV_POSTING_BYTES, 2 * data_cap);
			if (data)
				pfree(data);
			data = MemoryContextAllocHuge(CurrentMemoryContext, data_cap);
		}
		inv_read(&ss->r, hdr->data_off + term->e.data_off, data, npost * INV_POSTING_BYTES);

		p = data;
		for (x = 0; x < term->e.ndesc; x++)
		{
			uint32		c = descs[x].count;
			float4	   *base = acc + ((uint32) descs[x].range << INV_RANGE_SHIFT);
			const uint8 *offs = (const uint8 *) p;
			const char *ws = p + c;
			uint32		i;

			for (i = 0; i < c; i++)
			{
				float4		w;

				memcpy(&w, ws + 4 * i, sizeof(w));
				base[offs[i]] += q * w;
			}
			p += (uint64) c * INV_POSTING_BYTES;
		}
	}

	/*
	 * Float rounding: each of the nterms products and sums errs by at most
	 * 2^-24 of sum |q_t w_t| <= |q| |d|; the keys subtract twice that.
	 */
	so->err = Max(so->err, (nterms + 4) * 2 * 1.2e-7);

	if (descs)
		pfree(descs);
	if (data)
		pfree(data);
	pfree(terms);
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
	so->qnorm = sqrt(so->qnorm2);
	so->exact = true;
	so->err = 0;

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

/*
 * A lower bound on document d's distance from its float score: the key the
 * batches order by.  Documents with no norm (NULL or zero vectors) and dead
 * ones need their doc-table entry, which the caller reads.
 */
static inline double
inv_seg_lower_bound(InvScanOpaque *so, InvSegScan *ss, uint32 d)
{
	double		a = ss->acc[d];
	double		n = ss->norms[d];

	if (isnan(a) || isinf(a))
		return -get_float8_infinity();
	if (so->cosine)
		return 1.0 - a / (so->qnorm * n) - so->err;
	return 0.0 - a - so->err * so->qnorm * n;
}

static void
inv_offer_segment_doc(InvScanOpaque *so, InvSegScan *ss, uint32 d, double lb)
{
	InvDoc		doc;
	InvKey		k;

	inv_read(&ss->r, ss->hdr.doc_off + (uint64) d * sizeof(InvDoc), &doc, sizeof(doc));
	if (doc.flags & INV_DOC_DEAD)
		return;
	k.tid = doc.tid;
	k.dist = lb;
	k.cls = KEY_NUM;
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
	inv_offer(so, &k);
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
		uint32		nd = ss->hdr.ndocs;

		for (i = 0; i < nd; i++)
		{
			double		lb;

			if ((i & 0xFFFF) == 0)
				CHECK_FOR_INTERRUPTS();
			if (ss->norms[i] == 0 || so->qnull || (so->cosine && so->qnorm2 == 0))
			{
				/* NULL, zero or dead: the doc table decides */
				inv_offer_segment_doc(so, ss, i, 0);
				continue;
			}
			lb = inv_seg_lower_bound(so, ss, i);
			/* cheap rejections before touching the doc table */
			if (so->have_last && so->last.cls == KEY_NUM && lb < so->last.dist)
				continue;
			if (so->hn == so->hcap && so->heap[0].cls == KEY_NUM && lb > so->heap[0].dist)
				continue;
			inv_offer_segment_doc(so, ss, i, lb);
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
