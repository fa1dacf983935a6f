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

/* live documents of a segment */
static inline uint64
inv_seg_live(const InvSegRef *s)
{
	return s->ndocs - s->ndead;
}

/*
 * Rewrite the segments sel[] says (and the pending list, with pending) as
 * one new segment, dropping the documents the callback reports dead and
 * those already marked.  The new segment's pages come from recyclable free
 * runs first, the lowest first; the pages it replaces go to the free list,
 * all in the metapage's switch record.  The segment list stays sorted by
 * live documents, largest first (a scan's bar, set by the first segment,
 * then prunes the smaller ones).  The caller holds a cleanup lock on
 * metabuf.
 */
static void
inv_rewrite(Relation index, Buffer metabuf, const bool *sel, bool pending,
			IndexBulkDeleteCallback callback, void *cb_state, double *ndeleted)
{
	MemoryContext tmp = AllocSetContextCreate(CurrentMemoryContext, "inverted merge",
											  ALLOCSET_DEFAULT_SIZES);
	MemoryContext old = MemoryContextSwitchTo(tmp);
	InvMetaPageData meta;
	InvAccum	acc;
	uint32		i;
	InvSegRef	ref;
	bool		have_ref = false;
	GenericXLogState *state;
	Page		page;
	InvMetaPageData *m;
	FullTransactionId safexid;

	memcpy(&meta, InvPageGetMeta(BufferGetPage(metabuf)), sizeof(meta));
	inv_accum_init(&acc, meta.flags);
	for (i = 0; i < meta.nsegments; i++)
		if (sel[i])
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
	for (i = 0; i < meta.nsegments; i++)
		if (sel[i])
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
		uint32		n = 0;

		for (i = 0; i < meta.nsegments; i++)
			if (!sel[i])
				m->segs[n++] = meta.segs[i];
		if (have_ref)
		{
			/* in order of live documents, largest first */
			uint32		at = n;

			while (at > 0 && inv_seg_live(&m->segs[at - 1]) < inv_seg_live(&ref))
			{
				m->segs[at] = m->segs[at - 1];
				at--;
			}
			m->segs[at] = ref;
			n++;
		}
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

/*
 * Size tiers: tier 0 holds segments of fewer than INV_TIER_BASE live
 * documents, tier t > 0 those of INV_TIER_BASE * 4^(t-1) up to 4 times
 * that.
 */
#define INV_TIER_BASE	4096

static int
inv_tier(uint64 live)
{
	int			t = 0;
	uint64		lim = INV_TIER_BASE;

	while (live >= lim && t < 32)
	{
		t++;
		lim *= 4;
	}
	return t;
}

/*
 * Size-tiered merging: while two segments other than the largest share a
 * tier, merge them, with every smaller segment, into one.  So there is at
 * most one segment per tier besides the largest, O(log n) in all, and a
 * document is rewritten a bounded number of times per tier it passes
 * through (each merge into tier t at least doubles what the tier's segment
 * held, or moves it up), O(log n) times in all.  The largest segment is
 * left to compaction (which takes every smaller tier with it): rewriting
 * it rewrites most of the index, which needs room for a second copy until
 * it is moved down (inv_relocate), so it happens when its dead documents
 * are worth it and at the start of the inserts that follow a VACUUM rather
 * than whenever the segments below reach its tier.
 */
static void
inv_merge_tiers(Relation index, Buffer metabuf, IndexBulkDeleteCallback callback,
				void *cb_state, double *ndeleted)
{
	for (;;)
	{
		InvMetaPageData *meta = InvPageGetMeta(BufferGetPage(metabuf));
		int			count[33];
		bool		sel[INV_MAX_SEGMENTS];
		int			t = -1;
		uint32		largest = 0;
		uint32		i;

		CHECK_FOR_INTERRUPTS();
		/* VACUUM's marks may have reordered them since the list was sorted */
		for (i = 1; i < meta->nsegments; i++)
			if (inv_seg_live(&meta->segs[i]) > inv_seg_live(&meta->segs[largest]))
				largest = i;
		memset(count, 0, sizeof(count));
		for (i = 0; i < meta->nsegments; i++)
			if (i != largest)
				count[inv_tier(inv_seg_live(&meta->segs[i]))]++;
		for (i = 0; i < lengthof(count); i++)
			if (count[i] >= 2)
			{
				t = i;
				break;
			}
		if (t < 0)
			return;
		for (i = 0; i < meta->nsegments; i++)
			sel[i] = i != largest && inv_tier(inv_seg_live(&meta->segs[i])) <= t;
		elog(DEBUG1, "inverted: merging %d segments of tier %d and below", count[t], t);
		inv_rewrite(index, metabuf, sel, false, callback, cb_state, ndeleted);
	}
}

/*
 * Fold the pending list into a new segment, dropping the documents the
 * callback reports dead, then merge tiers.  The caller holds a cleanup lock
 * on metabuf.
 */
void
inv_merge_pending(Relation index, Buffer metabuf, IndexBulkDeleteCallback callback,
				  void *cb_state, double *ndeleted)
{
	InvMetaPageData *meta = InvPageGetMeta(BufferGetPage(metabuf));
	bool		sel[INV_MAX_SEGMENTS];

	memset(sel, 0, sizeof(sel));
	if (meta->pend_count > 0 || meta->pend_head != InvalidBlockNumber)
		inv_rewrite(index, metabuf, sel, true, callback, cb_state, ndeleted);
	inv_merge_tiers(index, metabuf, callback, cb_state, ndeleted);
}

static double
inv_recyclable_pages(const InvMetaPageData *meta, BlockNumber below)
{
	double		n = 0;
	uint32		i;

	for (i = 0; i < meta->nfree; i++)
		if (meta->free[i].start < below &&
			GlobalVisCheckRemovableFullXid(NULL, meta->free[i].safexid))
			n += Min(meta->free[i].npages, below - meta->free[i].start);
	return n;
}

/* pages a rewrite of a segment needs: its live part */
static double
inv_seg_need(const InvSegRef *s)
{
	return s->ndocs > 0 ? (double) s->npages * inv_seg_live(s) / s->ndocs + 1 : 0;
}

/*
 * Compaction: rewrite the segment with the largest share of dead documents
 * (whose postings scans still walk and whose pages still count), once more
 * than a fifth are dead, together with every segment of its tier or below
 * (so that compacting also merges).  The rewrite needs room for the live
 * part while the old pages wait for the transaction horizon; it goes into
 * recyclable free pages when they hold it, else extends the relation, and
 * the pages it frees are reused or truncated later (inv_relocate,
 * inv_truncate).  VACUUM extends the relation only for a segment more than
 * half dead or while the index stays within 1.3 times its live pages; an
 * insert that has just folded the pending list (one step: between inserts
 * transaction ids advance, so what one step frees the next can reuse) for
 * any.  Returns whether it rewrote something.
 */
static bool
inv_compact(Relation index, Buffer metabuf, bool insert, IndexBulkDeleteCallback callback,
			void *cb_state, double *ndeleted)
{
	InvMetaPageData *meta = InvPageGetMeta(BufferGetPage(metabuf));
	bool		sel[INV_MAX_SEGMENTS];
	int			best = -1;
	double		bestfrac = 0.2;
	double		livepages = 0;
	double		need = 0;
	double		budget;
	uint32		i;

	for (i = 0; i < meta->nsegments; i++)
	{
		const InvSegRef *sr = &meta->segs[i];
		double		frac = sr->ndocs > 0 ? (double) sr->ndead / sr->ndocs : 0;

		livepages += inv_seg_need(sr);
		if (frac > bestfrac)
		{
			best = i;
			bestfrac = frac;
		}
	}
	if (best < 0)
		return false;
	for (i = 0; i < meta->nsegments; i++)
	{
		sel[i] = inv_tier(inv_seg_live(&meta->segs[i])) <= inv_tier(inv_seg_live(&meta->segs[best]));
		if (sel[i])
			need += inv_seg_need(&meta->segs[i]);
	}
	budget = inv_recyclable_pages(meta, InvalidBlockNumber) +
		Max(0.0, 1.3 * livepages - (double) RelationGetNumberOfBlocks(index));
	if (need > budget && !insert && bestfrac <= 0.5)
		return false;
	elog(DEBUG1, "inverted: compacting a segment of %u documents, %u dead", meta->segs[best].ndocs,
		 meta->segs[best].ndead);
	inv_rewrite(index, metabuf, sel, false, callback, cb_state, ndeleted);
	return true;
}

/*
 * Relocation: when the segment that reaches furthest into the relation
 * fits in the recyclable free pages below its first block, rewrite it
 * there (dropping its dead documents), so that the end of the relation
 * empties for inv_truncate once the horizon passes.  The copy fits below
 * the old one (exactly, or within a margin when dead documents are
 * dropped), so a segment only moves down and this cannot go round in
 * circles.  Returns whether it moved one.
 */
static bool
inv_relocate(Relation index, Buffer metabuf, IndexBulkDeleteCallback callback,
			 void *cb_state, double *ndeleted)
{
	InvMetaPageData *meta = InvPageGetMeta(BufferGetPage(metabuf));
	bool		sel[INV_MAX_SEGMENTS];
	int			tail = -1;
	BlockNumber tail_lo = 0,
				tail_hi = 0;
	double		need;
	uint32		i;

	for (i = 0; i < meta->nsegments; i++)
	{
		BlockNumber lo,
					hi;

		inv_segment_bounds(index, &meta->segs[i], &lo, &hi);
		if (hi > tail_hi)
		{
			tail = i;
			tail_lo = lo;
			tail_hi = hi;
		}
	}
	/*
	 * Without dead documents the copy takes exactly as many pages; with
	 * some, the live part's pages are an estimate: keep a margin.
	 */
	if (tail < 0)
		return false;
	need = meta->segs[tail].ndead == 0 ? meta->segs[tail].npages :
		inv_seg_need(&meta->segs[tail]) + 0.1 * meta->segs[tail].npages + 8;
	if (inv_recyclable_pages(meta, tail_lo) < need)
		return false;
	memset(sel, 0, sizeof(sel));
	sel[tail] = true;
	elog(DEBUG1, "inverted: moving a segment of %u documents from blocks %u-%u down",
		 meta->segs[tail].ndocs, tail_lo, tail_hi - 1);
	inv_rewrite(index, metabuf, sel, false, callback, cb_state, ndeleted);
	return true;
}

/*
 * Upkeep after the pending list is folded, the caller holding a cleanup
 * lock on metabuf: give back the free pages at the end, then one step:
 * move the last segment down if it can be, and compact if it is due (both:
 * moving down never starves compaction, which should start early in a run
 * of inserts so that the next steps can move its output down).  An insert
 * does one step; VACUUM repeats them while there is something to do, and
 * truncates again at the end (what its own rewrites freed waits for the
 * horizon, so for a later call).
 */
void
inv_maintain(Relation index, Buffer metabuf, bool insert, IndexBulkDeleteCallback callback,
			 void *cb_state, double *ndeleted)
{
	int			steps;

	inv_truncate(index, metabuf);
	for (steps = 0; steps < INV_MAX_SEGMENTS; steps++)
	{
		bool		moved,
					compacted;

		CHECK_FOR_INTERRUPTS();
		moved = inv_relocate(index, metabuf, callback, cb_state, ndeleted);
		compacted = inv_compact(index, metabuf, insert, callback, cb_state, ndeleted);
		if (compacted)
			inv_merge_tiers(index, metabuf, callback, cb_state, ndeleted);
		if (insert || !(moved || compacted))
			break;
	}
	if (!insert)
		inv_truncate(index, metabuf);
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

	inv_merge_pending(index, metabuf, callback, callback_state, &ndeleted);
	inv_maintain(index, metabuf, false, callback, callback_state, &ndeleted);

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
		inv_merge_pending(index, metabuf, NULL, NULL, NULL);
		inv_maintain(index, metabuf, false, NULL, NULL, NULL);
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
