/*
 * scan.c - exact, incremental ORDER BY emb <#>/<=> q scans for `inverted`.
 *
 * On the first tuple the scan scores every document of every segment term
 * at a time: for each query term it walks that term's whole posting list
 * (straight from the pages, in docno order) and adds q_t * w into a float
 * accumulator per document.  The pending list is scored exactly, document by
 * document.  From the float score and the document's norm each document gets
 * a key that is a proven lower bound on its true distance (the float
 * rounding error is at most (terms + 4) * 2^-23 * |q| |d|).
 *
 * Rows are returned in the total order (key, tid), NaN distances after
 * numbers and NULL vectors last, in batches: each batch is the next
 * `batchsize` keys after the last one returned (a bounded max-heap over one
 * pass of the accumulators), and batch sizes double, so any LIMIT, or none,
 * and any filter above the scan work without a cap.  xs_recheckorderby is
 * set: the executor recomputes each returned row's distance with the
 * operator itself and uses its reorder queue, which makes the final order
 * exactly the sequential scan's.
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
	bool		overflow;		/* some float score might be infinite */
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

	/*
	 * The sum above is the operator's, term for term; the margin keeps the
	 * key a lower bound should the operator ever sum in another order.
	 */
	if (k->cls == KEY_NUM)
	{
		double		margin = (so->query->nnz + 8) * 2.3e-16;

		k->dist -= so->cosine ? margin : margin * so->qnorm * sqrt(dnorm2);
	}
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

#ifndef INV_PREFETCH_LINES
#define INV_PREFETCH_LINES 8
#endif

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
	char		piece[INV_RANGE_DOCS * INV_POSTING_BYTES];
	double		absbound = 0;
	int32		t;

	inv_reader_init(&ss->r, index, ref->start, ref->npages);
	inv_segment_read_header(&ss->r, hdr);
	ss->acc = MemoryContextAllocHuge(CurrentMemoryContext, sizeof(float4) * Max(hdr->ndocs, 1));
	memset(ss->acc, 0, sizeof(float4) * hdr->ndocs);
	/* cosine keys need every norm; inner-product keys only the candidates' */
	ss->norms = NULL;
	if (so->cosine)
	{
		ss->norms = MemoryContextAllocHuge(CurrentMemoryContext, sizeof(float4) * Max(hdr->ndocs, 1));
		inv_read(&ss->r, hdr->norm_off, ss->norms, sizeof(float4) * hdr->ndocs);
	}

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
		/* far below FLT_MAX: no product or sum can overflow a float */
		absbound += fabs((double) qv[t]) * Max((double) term->e.maxpos, (double) term->e.maxneg) *
			(so->cosine ? hdr->maxnorm : 1.0);
		nterms++;
	}

	if (!(absbound < 1e30))
		so->overflow = true;

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
		uint64		off;
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
		(void) npost;

		/* postings straight from the pages; pieces that cross a page are copied */
		off = hdr->data_off + term->e.data_off;
		for (x = 0; x < term->e.ndesc; x++)
		{
			uint32		c = descs[x].count;
			float4	   *base = acc + ((uint32) descs[x].range << INV_RANGE_SHIFT);
			const char *p = inv_peek(&ss->r, off, (size_t) c * INV_POSTING_BYTES);
			const uint8 *offs;
			const char *ws;
			uint32		i;

			if (p == NULL)
			{
				inv_read(&ss->r, off, piece, (size_t) c * INV_POSTING_BYTES);
				p = piece;
			}
			else
			{
				/* the next piece follows in the page (prefetches never fault) */
				const char *next = p + (size_t) c * INV_POSTING_BYTES;
				int			l;

				for (l = 0; l < INV_PREFETCH_LINES; l++)
					__builtin_prefetch(next + 64 * l);
			}
			offs = (const uint8 *) p;
			ws = p + c;
			/*
			 * Four postings at a time, all loaded before any accumulator is
			 * written: the byte loads would otherwise have to wait for the
			 * stores they might alias.  A piece's documents are distinct.
			 */
			for (i = 0; i + 4 <= c; i += 4)
			{
				float4		w[4];
				uint32		o0 = offs[i],
							o1 = offs[i + 1],
							o2 = offs[i + 2],
							o3 = offs[i + 3];

				memcpy(w, ws + 4 * i, sizeof(w));
				base[o0] += q * w[0];
				base[o1] += q * w[1];
				base[o2] += q * w[2];
				base[o3] += q * w[3];
			}
			for (; i < c; i++)
			{
				float4		w;

				memcpy(&w, ws + 4 * i, sizeof(w));
				base[offs[i]] += q * w;
			}
			off += (uint64) c * INV_POSTING_BYTES;
		}
		inv_reader_unlock(&ss->r);
	}

	/*
	 * Float rounding: each of the nterms products and sums errs by at most
	 * 2^-24 of sum |q_t w_t| <= |q| |d|; the keys subtract twice that.
	 */
	so->err = Max(so->err, (nterms + 4) * 2 * 1.2e-7);

	if (descs)
		pfree(descs);
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
	so->overflow = false;

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
	else if (so->cosine)
		k.dist = 1.0 - a / (so->qnorm * n) - so->err;
	else
		k.dist = 0.0 - a - so->err * so->qnorm * n;
	inv_offer(so, &k);
}

/* the largest float <= x and the smallest float >= x */
static float4
inv_float_below(double x)
{
	float4		f = (float4) x;

	return (double) f > x ? nextafterf(f, -INFINITY) : f;
}

static float4
inv_float_above(double x)
{
	float4		f = (float4) x;

	return (double) f < x ? nextafterf(f, INFINITY) : f;
}

#define INV_SKIP_CHUNK	16

/* GCC vector extensions: SSE on x86-64, NEON on ARM, plain code elsewhere */
typedef float4 InvV4F __attribute__((vector_size(16)));
typedef int32 InvV4I __attribute__((vector_size(16)));

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
 * The next batch: the batchsize smallest keys after the last one returned.
 * A scan over the float scores rejects most documents before their doc-table
 * entry is read, with bounds that hold for any norm up to the segment's
 * largest.
 */
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
		bool		filter = !so->qnull && !(so->cosine && so->qnorm2 == 0);
		double		slack = so->err * so->qnorm * ss->hdr.maxnorm;

		if (!so->cosine && filter && !so->overflow)
		{
			/*
			 * Inner product, finite scores: the key lies in
			 * [-a - slack, -a], so a document can only matter when
			 * amin <= a <= amax.  A tight loop skips the rest.
			 */
			const float4 *acc = ss->acc;
			double		amin = -get_float8_infinity();
			double		amax = get_float8_infinity();

			if (so->have_last && so->last.cls == KEY_NUM)
				amax = -so->last.dist;
			i = 0;
			while (i < nd)
			{
				if (so->hn == so->hcap && so->heap[0].cls == KEY_NUM)
					amin = -so->heap[0].dist - slack;
				else
					amin = -get_float8_infinity();
				i = inv_skip_outside(acc, i, nd, amin, amax);
				if (i < nd)
					inv_offer_segment_doc(so, ss, i++);
				if ((i & 0xFFFF) == 0)
					CHECK_FOR_INTERRUPTS();
			}

			/*
			 * NULL vectors score 0 but sort after every number, so the amax
			 * test wrongly passes over them once the last key returned is
			 * positive.  They can only enter a heap that numbers leave room in.
			 */
			if (amax < 0 && (so->hn < so->hcap || so->heap[0].cls == KEY_NULL))
				for (i = 0; i < nd; i++)
					if (acc[i] == 0)
						inv_offer_segment_doc(so, ss, i);
			continue;
		}

		for (i = 0; i < nd; i++)
		{
			double		a = ss->acc[i];
			double		hi,
						lo;

			if ((i & 0xFFFF) == 0)
				CHECK_FOR_INTERRUPTS();
			/* for inner product a NULL vector also scores 0: let its entry decide */
			if (!filter || isnan(a) || isinf(a) || (!so->cosine && a == 0))
			{
				inv_offer_segment_doc(so, ss, i);
				continue;
			}
			/* the key lies in [lo, hi] */
			if (so->cosine)
			{
				double		n = ss->norms[i];

				if (n == 0)
				{
					inv_offer_segment_doc(so, ss, i);
					continue;
				}
				hi = 1.0 - a / (so->qnorm * n);
				lo = hi - 2 * so->err;
			}
			else
			{
				hi = 0.0 - a;
				lo = hi - slack;
			}
			if (so->have_last && so->last.cls == KEY_NUM && hi < so->last.dist)
				continue;
			if (so->hn == so->hcap && so->heap[0].cls == KEY_NUM && lo > so->heap[0].dist)
				continue;
			inv_offer_segment_doc(so, ss, i);
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
