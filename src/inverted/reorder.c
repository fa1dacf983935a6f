/*
 * reorder.c - numbering a segment's documents so that similar ones share
 * ranges, before the segment is written (the index option `reorder`).
 *
 * A (dimension, range) piece's bound is the largest weight of that dimension
 * among the range's 1,024 documents, and the scan leaves a range incomplete
 * when its best partial score plus the remaining terms' bounds cannot reach
 * the bar.  In insertion order every range mixes everything, so the bounds
 * are close to the dimensions' global maxima and few ranges are left.
 * Documents that share their dominant dimensions are put side by side
 * instead, as Seismic clusters on dominant dimensions (recursive graph
 * bisection, as BMP and PISA reorder, skipped fewer postings here: see
 * doc/inverted-design.md, "Document order").
 *
 * A document's sketch is its INV_SKETCH heaviest dimensions (by |w|),
 * ranked by |w| * sqrt(df), df being how many sketches hold the dimension:
 * the remaining terms whose bounds decide are the frequent dimensions (they
 * have the most postings, so the scan walks them last), and grouping by
 * them lowers those bounds in most ranges.  Documents are sorted by sketch:
 * dominant dimension, then the next, and so on.  The work and memory are
 * proportional to documents (a sketch each) plus one pass over the
 * postings, then one buffer of the postings' size to put them in the new
 * order, freed before inv_segment_write's radix sort allocates its own.
 *
 * Nothing else changes: a document's TID, flags, norm and dimension travel
 * with it, so no map is kept; NULL and zero vectors (no postings) go last,
 * in their previous order.
 */
#include "postgres.h"

#include <math.h>

#include "access/reloptions.h"
#include "miscadmin.h"
#include "utils/memutils.h"
#include "utils/rel.h"

#include "inverted.h"
#include "sketch.h"

/* dimensions per sketch: 3 to 12 skipped about as much, 32 less (tdocs) */
#define INV_SKETCH		8
StaticAssertDecl(INV_REORDER_DOC_BYTES >= INV_SKETCH * 16 + 1,
				 "INV_REORDER_DOC_BYTES covers the sketches: dims, weights, a count, two sort arrays");

/* ---- the reloption ---- */

typedef struct InvOptions
{
	int32		vl_len_;		/* varlena header */
	bool		reorder;
} InvOptions;

static relopt_kind inv_relopt_kind;

/* Called from _PG_init (through inv_define_gucs). */
void
inv_init_reloptions(void)
{
	inv_relopt_kind = add_reloption_kind();
	add_bool_reloption(inv_relopt_kind, "reorder",
					   "Number each new segment's documents so that similar ones share ranges.",
					   true, ShareUpdateExclusiveLock);
}

bytea *
invoptions(Datum reloptions, bool validate)
{
	static const relopt_parse_elt tab[] = {
		{"reorder", RELOPT_TYPE_BOOL, offsetof(InvOptions, reorder)},
	};

	return (bytea *) build_reloptions(reloptions, validate, inv_relopt_kind,
									  sizeof(InvOptions), tab, lengthof(tab));
}

bool
inv_reorder_enabled(Relation index)
{
	InvOptions *o = (InvOptions *) index->rd_options;

	return o == NULL || o->reorder;
}

/* ---- sketches ---- */

typedef struct InvSketches
{
	int32	   *dim;			/* [doc * INV_SKETCH + i]: dense ids, first ranked first */
	float4	   *w;				/* their |w|, then their rank */
	uint8	   *cnt;			/* entries of each document */
} InvSketches;

/* LSD radix sort of uint32, tmp of the same size. */
static void
inv_radix_u32(uint32 *a, uint32 *tmp, uint64 n)
{
	uint32	   *src = a,
			   *dst = tmp,
			   *sw;
	int			shift;

	for (shift = 0; shift < 32; shift += 8)
	{
		uint64		count[256];
		uint64		pos = 0,
					i;
		int			b;

		memset(count, 0, sizeof(count));
		for (i = 0; i < n; i++)
			count[(src[i] >> shift) & 0xFF]++;
		if (count[(src[0] >> shift) & 0xFF] == n)
			continue;
		for (b = 0; b < 256; b++)
		{
			uint64		c = count[b];

			count[b] = pos;
			pos += c;
		}
		CHECK_FOR_INTERRUPTS();
		for (i = 0; i < n; i++)
			dst[count[(src[i] >> shift) & 0xFF]++] = src[i];
		sw = src;
		src = dst;
		dst = sw;
	}
	if (src != a)
		memcpy(a, src, sizeof(uint32) * n);
}

/*
 * Each document's INV_SKETCH heaviest dimensions, renumbered densely (in
 * dimension order: dimensions go up to SVEC_MAX_DIM) and ranked by
 * |w| * sqrt(df).
 */
static void
inv_build_sketches(InvSketches *sk, const InvAccum *acc)
{
	uint32		ndocs = acc->ndocs;
	uint64		i,
				nent = 0,
				e;
	uint32	   *vals,
			   *tmp,
			   *df;
	uint32		nu = 0;

	sk->dim = MemoryContextAllocHuge(CurrentMemoryContext, sizeof(int32) * (Size) ndocs * INV_SKETCH);
	sk->w = MemoryContextAllocHuge(CurrentMemoryContext, sizeof(float4) * (Size) ndocs * INV_SKETCH);
	sk->cnt = MemoryContextAllocHuge(CurrentMemoryContext, ndocs);
	memset(sk->cnt, 0, ndocs);
	for (i = 0; i < acc->npost; i++)
	{
		const InvPosting *p = &acc->post[i];
		Size		o = (Size) p->docno * INV_SKETCH;

		if ((i & 0xFFFFF) == 0)
			CHECK_FOR_INTERRUPTS();
		inv_sketch_insert(sk->dim + o, sk->w + o, &sk->cnt[p->docno], INV_SKETCH, p->dim, fabsf(p->w));
	}

	/* dense ids: the sorted distinct dimensions of all sketches */
	for (i = 0; i < ndocs; i++)
		nent += sk->cnt[i];
	vals = MemoryContextAllocHuge(CurrentMemoryContext, sizeof(uint32) * Max(nent, 1));
	tmp = MemoryContextAllocHuge(CurrentMemoryContext, sizeof(uint32) * Max(nent, 1));
	e = 0;
	for (i = 0; i < ndocs; i++)
	{
		int			j;

		for (j = 0; j < sk->cnt[i]; j++)
			vals[e++] = (uint32) sk->dim[i * INV_SKETCH + j];
	}
	if (nent > 0)
	{
		inv_radix_u32(vals, tmp, nent);
		for (i = 0; i < nent; i++)
			if (nu == 0 || vals[i] != vals[nu - 1])
				vals[nu++] = vals[i];
	}
	df = MemoryContextAllocHuge(CurrentMemoryContext, sizeof(uint32) * Max(nu, 1));
	memset(df, 0, sizeof(uint32) * Max(nu, 1));
	/*
	 * A dimension's dense id: from a table over the dimensions where it fits
	 * in tmp (any 16k-dimension model's segment of more than 2k documents),
	 * else by binary search, whose unpredictable branches took a quarter of
	 * the reordering.
	 */
	if (nu > 0 && (uint64) vals[nu - 1] < nent)
		for (i = 0; i < nu; i++)
			tmp[vals[i]] = (uint32) i;
	for (i = 0; i < ndocs; i++)
	{
		int			j;

		if ((i & 0xFFFF) == 0)
			CHECK_FOR_INTERRUPTS();
		for (j = 0; j < sk->cnt[i]; j++)
		{
			uint32		v = (uint32) sk->dim[i * INV_SKETCH + j];
			uint32		lo = 0,
						hi = nu - 1;

			if ((uint64) vals[nu - 1] < nent)
				lo = tmp[v];
			else
				while (lo < hi)
				{
					uint32		mid = lo + (hi - lo) / 2;

					if (vals[mid] < v)
						lo = mid + 1;
					else
						hi = mid;
				}
			sk->dim[i * INV_SKETCH + j] = (int32) lo;
			df[lo]++;
		}
	}
	pfree(tmp);
	pfree(vals);

	/* rank by |w| * sqrt(df) */
	for (i = 0; i < ndocs; i++)
	{
		int32		s[INV_SKETCH];
		float4		sw[INV_SKETCH];
		uint8		c = 0;
		int			j;

		for (j = 0; j < sk->cnt[i]; j++)
		{
			int32		x = sk->dim[i * INV_SKETCH + j];

			inv_sketch_insert(s, sw, &c, INV_SKETCH, x, sk->w[i * INV_SKETCH + j] * sqrtf((float4) df[x]));
		}
		memcpy(sk->dim + i * INV_SKETCH, s, sizeof(int32) * c);
	}
	pfree(df);
	pfree(sk->w);
	sk->w = NULL;
}

/* documents by sketch, those without postings last, then by number */
static const InvSketches *cmp_sk;

static int
inv_sketch_cmp(const void *a, const void *b)
{
	uint32		x = *(const uint32 *) a,
				y = *(const uint32 *) b;
	int			cx = cmp_sk->cnt[x],
				cy = cmp_sk->cnt[y];
	const int32 *sx = cmp_sk->dim + (Size) x * INV_SKETCH;
	const int32 *sy = cmp_sk->dim + (Size) y * INV_SKETCH;
	int			j;

	if ((cx == 0) != (cy == 0))
		return cx == 0 ? 1 : -1;
	for (j = 0; j < Min(cx, cy); j++)
		if (sx[j] != sy[j])
			return sx[j] < sy[j] ? -1 : 1;
	if (cx != cy)
		return cx < cy ? -1 : 1;
	return x < y ? -1 : (x > y);
}

/* ---- applying the order ---- */

static void
inv_apply_order(InvAccum *acc, const uint32 *order, InvPosting *scratch)
{
	uint32		n = acc->ndocs;
	uint32	   *newno = MemoryContextAllocHuge(CurrentMemoryContext, sizeof(uint32) * n);
	InvDoc	   *docs = MemoryContextAllocHuge(CurrentMemoryContext, sizeof(InvDoc) * n);
	int32	   *dims = MemoryContextAllocHuge(CurrentMemoryContext, sizeof(int32) * n);
	InvPosting *post = scratch;
	uint64		i;

	/* in place, so that the arrays keep their capacity (a build's spool reuses them) */
	for (i = 0; i < n; i++)
	{
		newno[order[i]] = (uint32) i;
		docs[i] = acc->docs[order[i]];
		dims[i] = acc->dims[order[i]];
	}
	memcpy(acc->docs, docs, sizeof(InvDoc) * n);
	memcpy(acc->dims, dims, sizeof(int32) * n);
	pfree(docs);
	pfree(dims);

	/*
	 * The postings, renumbered and put in document order, which the stable
	 * sort by dimension keeps inside each dimension: an LSD radix sort by
	 * the new number, 11 bits a pass.  (A counting sort by document, one
	 * pass of writes scattered over all the postings, missed the caches
	 * and the TLB at every posting: most of the reordering of a 1M-row
	 * build in memory.)
	 */
	for (i = 0; i < acc->npost; i++)
		acc->post[i].docno = newno[acc->post[i].docno];
	pfree(newno);
	if (post == NULL)
		post = MemoryContextAllocHuge(CurrentMemoryContext, sizeof(InvPosting) * Max(acc->npost, 1));
	inv_radix_postings(acc->post, post, acc->npost, offsetof(InvPosting, docno), 11, n - 1);
	if (post != scratch)
		pfree(post);
}

/*
 * Renumber acc's documents so that similar ones share ranges.  Nothing to
 * gain with one range.
 */
void
inv_reorder(InvAccum *acc, InvPosting *scratch)
{
	InvSketches sk;
	uint32		n = acc->ndocs;
	uint32	   *order;
	uint32		i;

	if (n <= INV_RANGE_DOCS)
		return;
	inv_build_sketches(&sk, acc);
	order = MemoryContextAllocHuge(CurrentMemoryContext, sizeof(uint32) * n);
	for (i = 0; i < n; i++)
		order[i] = i;
	cmp_sk = &sk;
	qsort(order, n, sizeof(uint32), inv_sketch_cmp);
	cmp_sk = NULL;
	pfree(sk.dim);
	pfree(sk.cnt);
	inv_apply_order(acc, order, scratch);
	pfree(order);
}
