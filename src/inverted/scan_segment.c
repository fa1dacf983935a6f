/*
 * scan_segment.c - a segment's share of a scan's set-up: reading its header,
 * finding the query's terms in its dimension
 * directory, checking their range descriptors, the error bound of its
 * float scores, and the order of its walk: all terms at once, or, when
 * pruning applies, in decreasing impact with checkpoints between.
 *
 * Apart from the walk itself (scan_walk.c) and the bounds (scan_prune.c):
 * this file decides what is walked, those do it.
 */
#include "postgres.h"

#include <math.h>

#include "miscadmin.h"
#include "utils/memutils.h"
#include "utils/rel.h"

#include "scan.h"

/*
 * Find dim in the dimension directory.  Its dimensions are distinct and
 * ascending, so entry i holds a dimension of at least i: dim sits at or
 * below entry min(dim, ndims - 1), and only as far below as dimensions
 * under it are missing (for a 16k-dimension model, few).  So gallop down
 * from there (1, 2, 4, ... entries), then bisect what is left: a few
 * reads instead of a bisection's fourteen, per term and segment.
 */
static bool
inv_find_dim(InvReader *r, const InvSegHeader *hdr, int32 dim, InvDimEntry *e)
{
	int64		hi = (int64) hdr->ndims - 1;
	int64		lo = 0;
	int64		p,
				gap = 1;

	if (hi < 0 || dim < 0)
		return false;
	p = hi = Min((int64) dim, hi);
	for (;;)
	{
		inv_read(r, hdr->dir_off + (uint64) p * sizeof(InvDimEntry), e, sizeof(InvDimEntry));
		if (e->dim == dim)
			return true;
		if (e->dim < dim)
		{
			lo = p + 1;
			break;
		}
		hi = p - 1;
		if (p == 0)
			return false;
		p = Max(p - gap, 0);
		gap *= 2;
	}
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

static int
inv_term_impact_cmp(const void *a, const void *b)
{
	return inv_desc_cmp(((const InvTerm *) a)->impact, ((const InvTerm *) b)->impact);
}

static int
inv_term_order_cmp(const void *a, const void *b)
{
	return inv_desc_cmp(((const InvTerm *) a)->order, ((const InvTerm *) b)->order);
}

/* fractions of the query's postings after which the pruned walk checkpoints */
static const double inv_checkpoints[] = {0.3, 0.55};

/*
 * Score the documents of a segment term at a time: each term's postings are
 * read in docno order, straight from the pages, and added into a float
 * accumulator per document (in blocks of ranges, inv_walk_terms); cosine
 * segments store w / |d|, so their scores need no norms.  When
 * every contribution is non-negative (the Sparse-CLIP case) the terms go in
 * decreasing order of their largest contribution per posting, and
 * checkpoints stop walking the ranges of documents that can no longer reach
 * the first batch (inv_checkpoint).
 */
void
inv_prepare_segment(InvScanOpaque *so, Relation index, InvSegScan *ss, const InvSegRef *ref)
{
	InvSegHeader *hdr = &ss->hdr;
	int32		nq = so->qnull ? 0 : so->query->nnz;
	const int32 *qi = so->qnull ? NULL : so->query->indices;
	const float4 *qv = so->qnull ? NULL : SVEC_VALUES(so->query);
	InvTerm    *terms = palloc(sizeof(InvTerm) * Max(nq, 1));
	int			nterms = 0;
	double		absbound = 0;
	bool		nonneg = true;
	uint64		total = 0;
	int32		t;
	char	   *descmem;

	inv_choose_kernels();

	inv_reader_init(&ss->r, index, ref->start, ref->npages);
	inv_segment_read_header(&ss->r, hdr);
	/* whole ranges: bitmap pieces write all INV_RANGE_DOCS lanes */
	ss->acc = inv_scan_buffer(CurrentMemoryContext,
							  sizeof(float4) * ((size_t) Max(hdr->nranges, 1) << INV_RANGE_SHIFT));
	ss->rest_lo = NULL;
	ss->dead = NULL;
	if (ref->ndead > 0)
	{
		ss->dead = palloc(INV_DEAD_BYTES(hdr->ndocs));
		inv_read(&ss->r, hdr->dead_off, ss->dead, INV_DEAD_BYTES(hdr->ndocs));
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
		absbound += fabs((double) qv[t]) * Max((double) term->e.maxpos, (double) term->e.maxneg);
		if (!(qv[t] > 0) || term->e.maxneg != 0)
			nonneg = false;
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

	/*
	 * Every term's range descriptors, checked once, in one array the backend
	 * keeps between scans (at 10M rows a text query's are 6 MB: allocated
	 * afresh, their pages were faulted in again by every query).
	 */
	{
		Size		bytes = 0;

		for (t = 0; t < nterms; t++)
			bytes += sizeof(InvRangeDesc) * terms[t].e.ndesc + sizeof(uint64) * (terms[t].e.ndesc + 1);
		descmem = inv_scan_buffer(CurrentMemoryContext, Max(bytes, 1));
	}
	for (t = 0; t < nterms; t++)
	{
		InvTerm    *term = &terms[t];
		uint64		end = hdr->total_bytes;
		uint32		x;
		uint32		prev = 0;

		CHECK_FOR_INTERRUPTS();
		/* the uint64 offsets first: they keep their alignment */
		term->pos = (uint64 *) descmem;
		descmem += sizeof(uint64) * (term->e.ndesc + 1);
		term->descs = (InvRangeDesc *) descmem;
		descmem += sizeof(InvRangeDesc) * term->e.ndesc;
		inv_read(&ss->r, hdr->desc_off + term->e.first_desc * sizeof(InvRangeDesc),
				 term->descs, sizeof(InvRangeDesc) * term->e.ndesc);
		term->pos[0] = hdr->data_off + term->e.data_off;
		term->npost = 0;
		for (x = 0; x < term->e.ndesc; x++)
		{
			const InvRangeDesc *d = &term->descs[x];

			if (d->range >= hdr->nranges || d->count == 0 || d->count > INV_RANGE_DOCS ||
				d->format != inv_piece_format(d->count) ||
				(x > 0 && d->range <= prev))
				ereport(ERROR,
						(errcode(ERRCODE_INDEX_CORRUPTED),
						 errmsg("inverted index \"%s\": bad range descriptor",
								RelationGetRelationName(index))));
			prev = d->range;
			term->pos[x + 1] = term->pos[x] + inv_piece_bytes(d->format, d->count);
			term->npost += d->count;
		}
		if (term->pos[term->e.ndesc] > end)
			ereport(ERROR,
					(errcode(ERRCODE_INDEX_CORRUPTED),
					 errmsg("inverted index \"%s\": postings run past their segment",
							RelationGetRelationName(index))));
		term->order = term->npost > 0 ? term->impact / (double) term->npost : 0;
		total += term->npost;
	}

	/*
	 * The scores sum stored (bfloat16) weights in float.  Rounding: each of
	 * the nterms products and sums errs by at most 2^-24 of sum |q_t w'_t|,
	 * which is at most (1 + REL) |q| |d| (+ the absolute term); the keys
	 * subtract twice that.  Storing: sum |q_t (w'_t - w_t)| is at most
	 * REL sum |q_t w_t| <= REL |q| |d|, plus ABS sum |q_t|.
	 */
	{
		double		ferr = (nterms + 4) * 2 * 1.2e-7;
		double		qabs = 0;

		for (t = 0; t < nterms; t++)
			qabs += fabs((double) terms[t].q);
		so->err = Max(so->err, ferr * (1 + INV_BF16_REL) + INV_BF16_REL);
		so->abserr = Max(so->abserr, (1 + ferr) * INV_BF16_ABS * qabs);
		ss->slack = (ferr * (1 + INV_BF16_REL) + INV_BF16_REL) * so->qnorm * hdr->maxnorm +
			(1 + ferr) * INV_BF16_ABS * qabs;
		/* cosine: over |d|, the largest error of acc / n (see inv_cos_gap) */
		if (so->cosine)
			ss->slack = inv_cos_gap(so);
	}

	ss->terms = terms;
	ss->nterms = nterms;
	/* the helper thread zeroes its share of the accumulators as it walks */
	ss->helper_mask = NULL;
	ss->zeroed = false;
	if (nterms > 0 && hdr->nranges > INV_BLOCK_RANGES && inv_helper_available())
		ss->helper_mask = palloc(sizeof(uint32) * (((hdr->nranges - 1) / INV_BLOCK_RANGES) + 1));
	else
	{
		memset(ss->acc, 0, sizeof(float4) * ((size_t) hdr->nranges << INV_RANGE_SHIFT));
		ss->zeroed = true;
	}
	ss->walked = NULL;
	ss->ub = NULL;
	ss->nincomplete = 0;
	ss->top = NULL;
	ss->topdoc = NULL;
	ss->ntop = 0;
	if (inv_prune && so->exact && !so->overflow && !so->qnull && so->qnorm2 > 0 &&
		nterms > 1 && hdr->nranges > 1)
	{
		int			from = 0;
		int			cp;
		uint64		walked = 0;
		float4	   *mr = palloc(sizeof(float4) * hdr->nranges);

		ss->walked = MemoryContextAllocHuge(CurrentMemoryContext, sizeof(uint32) * hdr->nranges);
		ss->ub = MemoryContextAllocHuge(CurrentMemoryContext, sizeof(double) * hdr->nranges);
		memset(ss->walked, 0xFF, sizeof(uint32) * hdr->nranges);
		/* mixed signs: a partial score is no lower bound by itself */
		if (!nonneg)
			ss->rest_lo = palloc(sizeof(double) * hdr->nranges);
		ss->topcap = (uint32) Max(so->batchsize, 1);
		ss->top = palloc(sizeof(float4) * ss->topcap);
		ss->topdoc = palloc(sizeof(uint32) * ss->topcap);
		/*
		 * Terms that add most per posting first: they raise the partial
		 * scores fastest for what they cost.
		 */
		qsort(terms, nterms, sizeof(InvTerm), inv_term_order_cmp);
		for (cp = 0; cp < (int) lengthof(inv_checkpoints); cp++)
		{
			int			to = from;

			while (to < nterms && walked < inv_checkpoints[cp] * total)
				walked += terms[to++].npost;
			if (to == from || to == nterms)
				continue;
			ss->ntop = 0;
			if (ss->rest_lo != NULL)
			{
				double	   *hi = palloc(sizeof(double) * hdr->nranges);

				inv_rest_bounds(ss, to, hi, ss->rest_lo);
				pfree(hi);
			}
			inv_walk_terms(ss, from, to, NULL, mr);
			inv_checkpoint(so, ss, to, mr);
			from = to;
		}
		inv_walk_terms(ss, from, nterms, NULL, NULL);
	}
	else
		inv_walk_terms(ss, 0, nterms, NULL, NULL);
	if (ss->walked != NULL)
	{
		elog(DEBUG1, "inverted scan: %u of %u ranges left incomplete", ss->nincomplete, hdr->nranges);
		/* what the incomplete ranges saved, for benchmarks (reordering) */
		if (message_level_is_interesting(DEBUG2))
		{
			uint64		all = 0,
						skipped = 0;
			uint32		x;

			for (t = 0; t < nterms; t++)
				for (x = 0; x < terms[t].e.ndesc; x++)
				{
					all += terms[t].descs[x].count;
					if (ss->walked[terms[t].descs[x].range] <= (uint32) t)
						skipped += terms[t].descs[x].count;
				}
			elog(DEBUG2, "inverted scan: " UINT64_FORMAT " of " UINT64_FORMAT " postings skipped",
				 skipped, all);
			/*
			 * And what a walk range by range, best bound first, would
			 * have to score: the ranges whose bound over all terms
			 * reaches the bar.
			 */
			if (so->theta > 0)
			{
				double	   *hi = palloc(sizeof(double) * hdr->nranges);
				uint32		reach = 0;

				inv_rest_bounds(ss, 0, hi, NULL);
				for (x = 0; x < hdr->nranges; x++)
					if (hi[x] + ss->slack >= so->theta)
						reach++;
				pfree(hi);
				elog(DEBUG2, "inverted scan: %u of %u ranges could reach the bar", reach, hdr->nranges);
			}
		}
	}
}
