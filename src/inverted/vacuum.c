/*
 * vacuum.c - VACUUM for `inverted`, and folding the pending list into
 * segments.
 *
 * Every structural change happens under a cleanup lock on the metapage:
 * scans keep the metapage pinned from their first tuple to the end, so once
 * VACUUM holds the cleanup lock no scan can still be holding TIDs it read
 * before, and no page it might read can be freed under it.
 */
#include "postgres.h"

#include "access/generic_xlog.h"
#include "commands/vacuum.h"
#include "miscadmin.h"
#include "storage/bufmgr.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/snapmgr.h"

#include "inverted.h"

#define INV_DOCS_PER_PAGE	(INV_PAGE_PAYLOAD / sizeof(InvDoc))

/*
 * Rewrite segments a..b-1 (and the pending list, with pending) as one new
 * segment in their place, dropping the documents the callback reports dead
 * and those already marked.  The new segment's pages come from recyclable
 * free runs first; the pages it replaces go to the free list, all in the
 * metapage's switch record.  The caller holds a cleanup lock on metabuf.
 */
static void
inv_rewrite(Relation index, Buffer metabuf, int a, int b, bool pending,
			IndexBulkDeleteCallback callback, void *cb_state, double *ndeleted)
{
	MemoryContext tmp = AllocSetContextCreate(CurrentMemoryContext, "inverted merge",
											  ALLOCSET_DEFAULT_SIZES);
	MemoryContext old = MemoryContextSwitchTo(tmp);
	InvMetaPageData meta;
	InvAccum	acc;
	int			i;
	InvSegRef	ref;
	bool		have_ref = false;
	GenericXLogState *state;
	Page		page;
	InvMetaPageData *m;
	FullTransactionId safexid;

	memcpy(&meta, InvPageGetMeta(BufferGetPage(metabuf)), sizeof(meta));
	inv_accum_init(&acc, meta.flags);
	for (i = a; i < b; i++)
		inv_accum_add_segment(&acc, index, &meta.segs[i], callback, cb_state, ndeleted);
	if (pending)
	{
		InvPendReader pr;
		InvPendRecord rec;
		int32	   *ind;
		float4	   *val;

		inv_pend_reader_init(&pr, index, &meta);
		while (inv_pend_next(&pr, &rec, &ind, &val))
		{
			CHECK_FOR_INTERRUPTS();
			if (callback && callback(&rec.tid, cb_state))
			{
				if (ndeleted)
					(*ndeleted)++;
			}
			else
				inv_accum_add_doc(&acc, &rec.tid, rec.flags, rec.norm2, rec.dim, rec.nnz, ind, val);
			if (ind)
				pfree(ind);
			if (val)
				pfree(val);
		}
	}

	/* the new segment's pages come from meta's free runs first */
	if (acc.ndocs > 0)
	{
		ref = inv_segment_write(index, &acc, &meta);
		have_ref = true;
	}
	inv_accum_free(&acc);

	/*
	 * What the new segment replaces is free from now on, for reuse once no
	 * snapshot of this moment remains (see page.c).
	 */
	safexid = ReadNextFullTransactionId();
	for (i = a; i < b; i++)
		inv_free_segment(index, &meta, &meta.segs[i], safexid);
	if (pending)
		inv_pending_free_pages(index, &meta, meta.pend_head, safexid);

	/* switch the metapage over in one WAL record, with the free list */
	state = GenericXLogStart(index);
	page = GenericXLogRegisterBuffer(state, metabuf, 0);
	m = InvPageGetMeta(page);
	m->nfree = meta.nfree;
	memcpy(m->free, meta.free, sizeof(InvFreeExtent) * meta.nfree);
	m->leaked = meta.leaked;
	{
		int			n = a;

		if (have_ref)
			m->segs[n++] = ref;
		for (i = b; i < (int) meta.nsegments; i++)
			m->segs[n++] = meta.segs[i];
		m->nsegments = n;
	}
	if (pending)
	{
		m->pend_head = InvalidBlockNumber;
		m->pend_tail = InvalidBlockNumber;
		m->pend_tail_used = 0;
		m->pend_count = 0;
		m->pend_bytes = 0;
	}
	/* with an empty pending list the segments say which dimensions remain */
	if (m->pend_count == 0)
		m->dim = inv_meta_segments_dim(m);
	GenericXLogFinish(state);

	MemoryContextSwitchTo(old);
	MemoryContextDelete(tmp);
}

/* live documents of the index */
static uint64
inv_live_docs(const InvMetaPageData *meta)
{
	uint64		live = meta->pend_count;
	uint32		i;

	for (i = 0; i < meta->nsegments; i++)
		live += meta->segs[i].ndocs - meta->segs[i].ndead;
	return live;
}

/*
 * Fold the pending list, together with the trailing segments that are not
 * much larger (like a binary counter: each document is rewritten O(log n)
 * times), into one new segment, which stays under the segment cap (many
 * segments when many: more than 24 segments fold whatever fits the cap).
 * Documents the callback reports dead are dropped.  The caller holds a
 * cleanup lock on metabuf.
 */
void
inv_merge_pending(Relation index, Buffer metabuf, bool all_segments,
				  IndexBulkDeleteCallback callback, void *cb_state, double *ndeleted)
{
	InvMetaPageData *meta = InvPageGetMeta(BufferGetPage(metabuf));
	uint64		cap = inv_segment_cap(inv_live_docs(meta));
	uint64		live = meta->pend_count;
	int			first = meta->nsegments;

	while (first > 0)
	{
		InvSegRef  *s = &meta->segs[first - 1];
		uint64		slive = s->ndocs - s->ndead;

		if ((!all_segments && slive > 2 * live + INV_RANGE_DOCS) ||
			(live + slive > cap && !(live == 0 && first == (int) meta->nsegments)))
			break;
		live += slive;
		first--;
	}
	if (first == (int) meta->nsegments && meta->pend_count == 0)
		return;
	inv_rewrite(index, metabuf, first, meta->nsegments, true, callback, cb_state, ndeleted);
}

/*
 * Compaction: rewrite, one by one, the segments of which more than a fifth
 * are dead documents (whose postings scans still walk), the most dead first.
 * A rewrite needs new pages for the live part while the old ones wait for
 * the transaction horizon, so VACUUM rewrites only what fits in the
 * recyclable free pages plus what keeps the index within 1.4 times its live
 * pages (a segment more than half dead whatever it costs), and an insert
 * that has just folded the pending list rewrites at most one segment, only
 * into recyclable pages: between inserts transaction ids advance, so what
 * one step frees the next can use.  Segments are capped at an eighth of the
 * index (inv_segment_cap), so each step is small.
 */
void
inv_compact(Relation index, Buffer metabuf, bool insert, IndexBulkDeleteCallback callback,
			void *cb_state, double *ndeleted)
{
	bool		tried[INV_MAX_SEGMENTS];

	memset(tried, 0, sizeof(tried));
	for (;;)
	{
		InvMetaPageData *meta = InvPageGetMeta(BufferGetPage(metabuf));
		int			best = -1;
		double		bestfrac = 0.2;
		double		livepages = 0;
		double		recyclable = 0;
		double		need;
		double		budget;
		uint32		i;

		CHECK_FOR_INTERRUPTS();
		for (i = 0; i < meta->nsegments; i++)
		{
			const InvSegRef *sr = &meta->segs[i];
			double		frac = sr->ndocs > 0 ? (double) sr->ndead / sr->ndocs : 0;

			livepages += sr->ndocs > 0 ? sr->npages * (1 - frac) : 0;
			if (!tried[i] && frac > bestfrac)
			{
				best = i;
				bestfrac = frac;
			}
		}
		if (best < 0)
			return;
		for (i = 0; i < meta->nfree; i++)
			if (GlobalVisCheckRemovableFullXid(NULL, meta->free[i].safexid))
				recyclable += meta->free[i].npages;
		need = meta->segs[best].npages * (1 - bestfrac) + 1;
		budget = recyclable;
		if (!insert)
			budget += Max(0.0, 1.4 * livepages - (double) RelationGetNumberOfBlocks(index));
		tried[best] = true;
		if (need > budget && (insert || bestfrac <= 0.5))
			continue;
		elog(DEBUG1, "inverted: compacting a segment of %u documents, %u dead", meta->segs[best].ndocs,
			 meta->segs[best].ndead);
		inv_rewrite(index, metabuf, best, best + 1, false, callback, cb_state, ndeleted);
		/* an insert does one step; indexes shift when a segment vanishes */
		if (insert || need > budget)
			return;
		memset(tried, 0, sizeof(tried));
	}
}

/* Mark the documents the callback reports dead in one segment. */
static void
inv_segment_mark_dead(Relation index, Buffer metabuf, int segno,
					  IndexBulkDeleteCallback callback, void *cb_state, double *ndeleted)
{
	InvMetaPageData *meta = InvPageGetMeta(BufferGetPage(metabuf));
	InvSegRef	seg = meta->segs[segno];
	uint32		ndocs = seg.ndocs;
	uint32		first;
	uint32		newdead = 0;
	int32		livedim = seg.dim;
	uint64		live_vectors = 0;

	InvReader	sr;
	InvSegHeader shdr;

	/* the doc table's pages, through the segment's extents */
	inv_reader_init(&sr, index, seg.start, seg.npages);
	inv_segment_read_header(&sr, &shdr);
	inv_reader_unlock(&sr);
	for (first = 0; first < ndocs; first += INV_DOCS_PER_PAGE)
	{
		BlockNumber blk = inv_reader_blkno(&sr, 1 + first / INV_DOCS_PER_PAGE);
		uint32		n = Min(ndocs - first, (uint32) INV_DOCS_PER_PAGE);
		Buffer		buffer;
		Page		page;
		InvDoc	   *docs;
		uint32		i;
		bool		any = false;

		vacuum_delay_point();
		buffer = ReadBuffer(index, blk);
		LockBuffer(buffer, BUFFER_LOCK_SHARE);
		page = BufferGetPage(buffer);
		docs = (InvDoc *) InvPagePayload(page);
		for (i = 0; i < n; i++)
		{
			if (docs[i].flags & INV_DOC_DEAD)
				continue;
			if (callback(&docs[i].tid, cb_state))
				any = true;
			else if (!(docs[i].flags & INV_DOC_NULL))
				live_vectors++;
		}
		LockBuffer(buffer, BUFFER_LOCK_UNLOCK);
		if (any)
		{
			GenericXLogState *state;

			LockBuffer(buffer, BUFFER_LOCK_EXCLUSIVE);
			state = GenericXLogStart(index);
			page = GenericXLogRegisterBuffer(state, buffer, 0);
			docs = (InvDoc *) InvPagePayload(page);
			for (i = 0; i < n; i++)
				if (!(docs[i].flags & INV_DOC_DEAD) && callback(&docs[i].tid, cb_state))
				{
					docs[i].flags |= INV_DOC_DEAD;
					newdead++;
				}
			GenericXLogFinish(state);
			LockBuffer(buffer, BUFFER_LOCK_UNLOCK);
		}
		ReleaseBuffer(buffer);
	}

	/* which dimensions remain? */
	if (live_vectors == 0)
		livedim = INV_DIM_NONE;
	else if (newdead > 0 && seg.dim == INV_DIM_MIXED)
		livedim = inv_segment_live_dim(&sr, &shdr);
	inv_reader_end(&sr);

	if (newdead > 0 || livedim != seg.dim)
	{
		GenericXLogState *state = GenericXLogStart(index);
		Page		mp = GenericXLogRegisterBuffer(state, metabuf, 0);

		InvPageGetMeta(mp)->segs[segno].ndead += newdead;
		InvPageGetMeta(mp)->segs[segno].dim = livedim;
		GenericXLogFinish(state);
		*ndeleted += newdead;
	}
}

IndexBulkDeleteResult *
invbulkdelete(IndexVacuumInfo *info, IndexBulkDeleteResult *stats,
			  IndexBulkDeleteCallback callback, void *callback_state)
{
	Relation	index = info->index;
	Buffer		metabuf;
	uint32		i;
	double		ndeleted = 0;

	if (stats == NULL)
		stats = (IndexBulkDeleteResult *) palloc0(sizeof(IndexBulkDeleteResult));

	metabuf = ReadBuffer(index, INV_METAPAGE_BLKNO);
	LockBufferForCleanup(metabuf);
	inv_check_meta(index, InvPageGetMeta(BufferGetPage(metabuf)));

	for (i = 0; i < InvPageGetMeta(BufferGetPage(metabuf))->nsegments; i++)
		inv_segment_mark_dead(index, metabuf, i, callback, callback_state, &ndeleted);

	inv_merge_pending(index, metabuf, InvPageGetMeta(BufferGetPage(metabuf))->nsegments > 24,
					  callback, callback_state, &ndeleted);
	inv_compact(index, metabuf, false, callback, callback_state, &ndeleted);

	/*
	 * The index-wide dimension follows the documents that remain (with an
	 * empty pending list the segments hold them all; a merge sets it too).
	 */
	{
		InvMetaPageData *m = InvPageGetMeta(BufferGetPage(metabuf));

		if (m->pend_count == 0 && m->dim != inv_meta_segments_dim(m))
		{
			GenericXLogState *state = GenericXLogStart(index);
			Page		mp = GenericXLogRegisterBuffer(state, metabuf, 0);

			InvPageGetMeta(mp)->dim = inv_meta_segments_dim(InvPageGetMeta(mp));
			GenericXLogFinish(state);
		}
	}

	LockBuffer(metabuf, BUFFER_LOCK_UNLOCK);
	ReleaseBuffer(metabuf);

	stats->tuples_removed += ndeleted;
	return stats;
}

IndexBulkDeleteResult *
invvacuumcleanup(IndexVacuumInfo *info, IndexBulkDeleteResult *stats)
{
	Relation	index = info->index;
	InvMetaPageData meta;
	uint32		i;
	double		live = 0;

	if (info->analyze_only)
		return stats;

	if (stats == NULL)
	{
		Buffer		metabuf;

		stats = (IndexBulkDeleteResult *) palloc0(sizeof(IndexBulkDeleteResult));
		/* no bulk delete ran: still fold the pending list so scans stay fast */
		metabuf = ReadBuffer(index, INV_METAPAGE_BLKNO);
		LockBufferForCleanup(metabuf);
		inv_check_meta(index, InvPageGetMeta(BufferGetPage(metabuf)));
		inv_merge_pending(index, metabuf, InvPageGetMeta(BufferGetPage(metabuf))->nsegments > 24,
						  NULL, NULL, NULL);
		inv_compact(index, metabuf, false, NULL, NULL, NULL);
		LockBuffer(metabuf, BUFFER_LOCK_UNLOCK);
		ReleaseBuffer(metabuf);
	}

	inv_read_meta(index, &meta);
	for (i = 0; i < meta.nsegments; i++)
		live += meta.segs[i].ndocs - meta.segs[i].ndead;
	live += meta.pend_count;

	stats->num_pages = RelationGetNumberOfBlocks(index);
	stats->num_index_tuples = live;
	stats->estimated_count = false;
	return stats;
}
