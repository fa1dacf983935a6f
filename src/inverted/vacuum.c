/*
 * vacuum.c - VACUUM for `inverted`, and folding the pending list into
 * segments (merges).
 *
 * Merges are serialised by the merge lock (inv_merge_lock) and run without
 * the metapage's buffer lock, but for a short switch at the end: inserts
 * and scans go on meanwhile.  VACUUM marks dead documents under a cleanup
 * lock on the metapage: scans keep it pinned from their first tuple to the
 * end, so once VACUUM holds it no scan can still be holding TIDs it read
 * before.  Truncating the relation needs the cleanup lock too.
 */
#include "postgres.h"

#include <math.h>

#include "access/generic_xlog.h"
#include "commands/vacuum.h"
#include "miscadmin.h"
#include "storage/bufmgr.h"
#include "storage/lmgr.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/snapmgr.h"

#include "inverted.h"

#define INV_DOCS_PER_PAGE	(INV_PAGE_PAYLOAD / sizeof(InvDoc))

/*
 * Merges (folding the pending list, merging tiers, compaction, moving a
 * segment down) read what they rewrite and write the new segment without
 * holding the metapage's buffer lock, so inserts and new scans go on
 * meanwhile; only the switch to the new segment list locks it exclusively,
 * briefly.  Merges are serialised by a heavyweight lock on the index's
 * block 0, as GIN serialises its pending-list cleanup: an insert that finds
 * a merge running leaves the folding to it or a later insert; VACUUM waits.
 * Only the holder changes the segment list, so what a merge read at its
 * start is still the list it switches from.
 */
bool
inv_merge_lock(Relation index, Buffer metabuf, bool wait)
{
	if (wait)
		LockPage(index, INV_METAPAGE_BLKNO, ExclusiveLock);
	else if (!ConditionalLockPage(index, INV_METAPAGE_BLKNO, ExclusiveLock))
		return false;
	inv_reserve_reclaim(index, metabuf);
	return true;
}

void
inv_merge_unlock(Relation index)
{
	UnlockPage(index, INV_METAPAGE_BLKNO, ExclusiveLock);
}

/*
 * For tests (sparseclip.inverted_merge_gate): a merge whose segment is
 * written waits here, before its switch, while another session holds the
 * advisory lock of that key, so that a test can insert and scan while a
 * merge is in progress, without timing anything.
 */
void
inv_merge_gate(void)
{
	LOCKTAG		tag;
	int64		key = inv_merge_gate_key;

	if (key == 0)
		return;
	SET_LOCKTAG_ADVISORY(tag, MyDatabaseId, (uint32) (key >> 32), (uint32) key, 1);
	(void) LockAcquire(&tag, ShareLock, false, false);
	LockRelease(&tag, ShareLock, false);
}

/* live documents of a segment */
static inline uint64
inv_seg_live(const InvSegRef *s)
{
	return s->ndocs - s->ndead;
}

/* pages a rewrite of a segment needs: its live part */
static double
inv_seg_need(const InvSegRef *s)
{
	return s->ndocs > 0 ? (double) s->npages * inv_seg_live(s) / s->ndocs + 1 : 0;
}

/* The extents of the segments sel[] says, read before the switch. */
static InvExtent *
inv_selected_extents(Relation index, const InvMetaPageData *meta, const bool *sel, uint32 *n)
{
	uint32		cap = 64;
	InvExtent  *ext = palloc(sizeof(InvExtent) * cap);
	uint32		i,
				j;

	*n = 0;
	for (i = 0; i < meta->nsegments; i++)
	{
		InvReader	r;
		InvSegHeader hdr;

		if (!sel[i])
			continue;
		inv_reader_init(&r, index, meta->segs[i].start, meta->segs[i].npages);
		inv_segment_read_header(&r, &hdr);
		for (j = 0; j < r.map->n; j++)
		{
			if (*n == cap)
			{
				cap *= 2;
				ext = repalloc(ext, sizeof(InvExtent) * cap);
			}
			ext[*n].start = r.map->start[j];
			ext[*n].npages = r.map->base[j + 1] - r.map->base[j];
			(*n)++;
		}
		inv_reader_end(&r);
	}
	return ext;
}

/*
 * Rewrite the segments sel[] says (and the pending list, with pending) as
 * one new segment, dropping the documents the callback reports dead and
 * those already marked.  The caller holds the merge lock (inv_merge_lock)
 * and a pin on metabuf, not its buffer lock: inserts and scans go on while
 * this reads and writes, and see the old segments and the whole pending
 * list until the switch.
 *
 * The pending list is folded as it is at the start: its first pend_count
 * records, which end where its tail was then (later records are appended
 * behind them); the switch detaches them, the list then starting at that
 * point, perhaps inside a page (pend_head_off).  The new segment's pages
 * are free runs reserved for it (want pages up front, only below `below`;
 * when that many are not there, nothing is done and false returned), then
 * more recyclable runs, then new pages at the end.  The switch, one WAL
 * record under the metapage's exclusive lock, puts the new segment in the
 * list (kept in order of live documents, largest first: a scan's bar, set
 * by the first segment, then prunes the smaller ones), and gives the pages
 * it replaces to the free list with the next transaction id as safexid:
 * scans that read the old list started before it, and hold a snapshot that
 * keeps those pages from reuse (page.c).
 */
static bool
inv_rewrite(Relation index, Buffer metabuf, const bool *sel, bool pending,
			BlockNumber want, BlockNumber below,
			IndexBulkDeleteCallback callback, void *cb_state, double *ndeleted)
{
	MemoryContext tmp = AllocSetContextCreate(CurrentMemoryContext, "inverted merge",
											  ALLOCSET_DEFAULT_SIZES);
	MemoryContext old = MemoryContextSwitchTo(tmp);
	InvMetaPageData *meta = palloc(sizeof(InvMetaPageData));
	InvReserve *res = palloc(sizeof(InvReserve));
	InvAccum	acc;
	uint32		i;
	InvSegRef	ref;
	bool		have_ref = false;
	GenericXLogState *state;
	Page		page;
	InvMetaPageData *m;
	FullTransactionId safexid;
	InvExtent  *oldext;
	uint32		noldext;

	/* the start: what is folded, and the pages reserved for the result */
	LockBuffer(metabuf, BUFFER_LOCK_EXCLUSIVE);
	memcpy(meta, InvPageGetMeta(BufferGetPage(metabuf)), sizeof(InvMetaPageData));
	inv_reserve_init(res, metabuf);
	if (want > 0)
	{
		BlockNumber got;

		state = GenericXLogStart(index);
		m = InvPageGetMeta(GenericXLogRegisterBuffer(state, metabuf, 0));
		got = inv_reserve(index, res, m, want, below);
		if (below != InvalidBlockNumber && got < want)
		{
			/* inserts took pages meanwhile: no room below any more */
			GenericXLogAbort(state);
			LockBuffer(metabuf, BUFFER_LOCK_UNLOCK);
			MemoryContextSwitchTo(old);
			MemoryContextDelete(tmp);
			return false;
		}
		if (got > 0)
			GenericXLogFinish(state);
		else
			GenericXLogAbort(state);
	}
	LockBuffer(metabuf, BUFFER_LOCK_UNLOCK);

	inv_accum_init(&acc, meta->flags);
	for (i = 0; i < meta->nsegments; i++)
		if (sel[i])
			inv_accum_add_segment(&acc, index, &meta->segs[i], callback, cb_state, ndeleted);
	if (pending)
	{
		InvPendReader pr;
		InvPendRecord rec;
		int32	   *ind;
		float4	   *val;

		inv_pend_reader_init(&pr, index, meta);
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

	if (acc.ndocs > 0)
	{
		ref = inv_segment_write(index, &acc, res);
		have_ref = true;
	}
	inv_accum_free(&acc);
	oldext = inv_selected_extents(index, meta, sel, &noldext);
	inv_merge_gate();

	/* the switch, in one WAL record with the free list */
	LockBuffer(metabuf, BUFFER_LOCK_EXCLUSIVE);
	/* no scan can read the old list from now on; those before hold older snapshots */
	safexid = ReadNextFullTransactionId();
	state = GenericXLogStart(index);
	page = GenericXLogRegisterBuffer(state, metabuf, 0);
	m = InvPageGetMeta(page);
	if (m->nsegments != meta->nsegments)
		elog(ERROR, "inverted index \"%s\": the segment list changed during a merge",
			 RelationGetRelationName(index));
	inv_reserve_settle(index, res, m);
	for (i = 0; i < noldext; i++)
		inv_free_extent(index, m, oldext[i].start, oldext[i].npages, safexid);
	{
		uint32		n = 0;

		for (i = 0; i < m->nsegments; i++)
			if (!sel[i])
				m->segs[n++] = m->segs[i];
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
	if (pending && m->pend_count == meta->pend_count)
	{
		/* nothing was appended meanwhile: the whole chain goes */
		inv_pending_free_pages(index, m, m->pend_head, safexid);
		m->pend_head = InvalidBlockNumber;
		m->pend_head_off = 0;
		m->pend_tail = InvalidBlockNumber;
		m->pend_tail_used = 0;
		m->pend_count = 0;
		m->pend_bytes = 0;
	}
	else if (pending)
	{
		/* the records appended meanwhile start where the tail was */
		BlockNumber head = meta->pend_tail;
		uint32		off = meta->pend_tail_used;

		if (head == InvalidBlockNumber || m->pend_count < meta->pend_count)
			ereport(ERROR,
					(errcode(ERRCODE_INDEX_CORRUPTED),
					 errmsg("inverted index \"%s\": bad pending list",
							RelationGetRelationName(index))));
		if (off >= INV_PAGE_PAYLOAD)
		{
			Buffer		buf = ReadBuffer(index, head);

			LockBuffer(buf, BUFFER_LOCK_SHARE);
			head = InvPageGetOpaque(BufferGetPage(buf))->next;
			UnlockReleaseBuffer(buf);
			off = 0;
		}
		inv_pending_free_until(index, m, meta->pend_head, head, safexid);
		m->pend_head = head;
		m->pend_head_off = off;
		m->pend_count -= meta->pend_count;
		m->pend_bytes -= meta->pend_bytes;
	}
	/* with an empty pending list the segments say which dimensions remain */
	if (m->pend_count == 0)
		m->dim = inv_meta_segments_dim(m);
	GenericXLogFinish(state);
	LockBuffer(metabuf, BUFFER_LOCK_UNLOCK);

	MemoryContextSwitchTo(old);
	MemoryContextDelete(tmp);
	return true;
}

/*
 * Size tiers: tier 0 holds segments of fewer than INV_TIER_BASE live
 * documents, tier t > 0 those of INV_TIER_BASE * 4^(t-1) up to 4 times
 * that.
 */
#define INV_TIER_BASE	32768

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
	InvMetaPageData *meta = palloc(sizeof(InvMetaPageData));

	for (;;)
	{
		int			count[33];
		bool		sel[INV_MAX_SEGMENTS];
		int			t = -1;
		uint32		largest = 0;
		uint32		i;

		CHECK_FOR_INTERRUPTS();
		inv_meta_copy(metabuf, meta);
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
			break;
		for (i = 0; i < meta->nsegments; i++)
			sel[i] = i != largest && inv_tier(inv_seg_live(&meta->segs[i])) <= t;
		elog(DEBUG1, "inverted: merging %d segments of tier %d and below", count[t], t);
		{
			double		need = 0;

			for (i = 0; i < meta->nsegments; i++)
				if (sel[i])
					need += inv_seg_need(&meta->segs[i]);
			inv_rewrite(index, metabuf, sel, false, (BlockNumber) need, InvalidBlockNumber,
						callback, cb_state, ndeleted);
		}
	}
	pfree(meta);
}

/*
 * Fold the pending list into a new segment, dropping the documents the
 * callback reports dead, then merge tiers.  The caller holds the merge
 * lock and a pin on metabuf.
 */
static void
inv_fold_pending(Relation index, Buffer metabuf, IndexBulkDeleteCallback callback,
				 void *cb_state, double *ndeleted)
{
	InvMetaPageData *meta = palloc(sizeof(InvMetaPageData));
	bool		sel[INV_MAX_SEGMENTS];

	inv_meta_copy(metabuf, meta);
	memset(sel, 0, sizeof(sel));
	if (meta->pend_count > 0 || meta->pend_head != InvalidBlockNumber)
		inv_rewrite(index, metabuf, sel, true, 0, InvalidBlockNumber, callback, cb_state, ndeleted);
	pfree(meta);
}

void
inv_merge_pending(Relation index, Buffer metabuf, IndexBulkDeleteCallback callback,
				  void *cb_state, double *ndeleted)
{
	inv_fold_pending(index, metabuf, callback, cb_state, ndeleted);
	inv_merge_tiers(index, metabuf, callback, cb_state, ndeleted);
}

static double
inv_recyclable_pages(const InvMetaPageData *meta, BlockNumber below)
{
	double		n = 0;
	uint32		i;

	for (i = 0; i < meta->nfree; i++)
		if (meta->free[i].start < below && inv_free_recyclable(&meta->free[i]))
			n += Min(meta->free[i].npages, below - meta->free[i].start);
	return n;
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
	InvMetaPageData *meta = palloc(sizeof(InvMetaPageData));
	bool		sel[INV_MAX_SEGMENTS];
	int			best = -1;
	double		bestfrac = 0.2;
	double		livepages = 0;
	double		need = 0;
	double		budget;
	uint32		i;

	inv_meta_copy(metabuf, meta);
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
	{
		pfree(meta);
		return false;
	}
	for (i = 0; i < meta->nsegments; i++)
	{
		sel[i] = inv_tier(inv_seg_live(&meta->segs[i])) <= inv_tier(inv_seg_live(&meta->segs[best]));
		if (sel[i])
			need += inv_seg_need(&meta->segs[i]);
	}
	budget = inv_recyclable_pages(meta, InvalidBlockNumber) +
		Max(0.0, 1.3 * livepages - (double) RelationGetNumberOfBlocks(index));
	if (need > budget && !insert && bestfrac <= 0.5)
	{
		pfree(meta);
		return false;
	}
	elog(DEBUG1, "inverted: compacting a segment of %u documents, %u dead", meta->segs[best].ndocs,
		 meta->segs[best].ndead);
	pfree(meta);
	inv_rewrite(index, metabuf, sel, false, (BlockNumber) need, InvalidBlockNumber,
				callback, cb_state, ndeleted);
	return true;
}

/* for inv_relocate: the extent that reaches furthest, as {start, end} */
static void
inv_top_extent(void *arg, BlockNumber start, BlockNumber npages)
{
	BlockNumber *b = arg;

	if (start + npages > b[1])
	{
		b[0] = start;
		b[1] = start + npages;
	}
}

/*
 * Relocation: when the segment that reaches furthest into the relation
 * fits in the recyclable free pages below the extent it reaches furthest
 * with, rewrite it there (dropping its dead documents), so that the end of
 * the relation empties for inv_truncate once the horizon passes.  (Below
 * that extent, not below its first block: a compaction's copy often begins
 * in reused runs low in the relation and ends in new pages at the end.)
 * The copy fits below the old one's last extent (exactly, or within a
 * margin when dead documents are dropped), so a segment only moves down
 * and this cannot go round in circles.  Returns whether it moved one.
 */
static bool
inv_relocate(Relation index, Buffer metabuf, IndexBulkDeleteCallback callback,
			 void *cb_state, double *ndeleted)
{
	InvMetaPageData *meta = palloc(sizeof(InvMetaPageData));
	bool		sel[INV_MAX_SEGMENTS];
	int			tail = -1;
	BlockNumber tail_lo = 0,
				tail_hi = 0;
	double		need;
	uint32		i;
	bool		moved;

	inv_meta_copy(metabuf, meta);
	for (i = 0; i < meta->nsegments; i++)
	{
		BlockNumber b[2] = {InvalidBlockNumber, 0};

		inv_segment_extents(index, &meta->segs[i], inv_top_extent, b);
		if (b[1] > tail_hi)
		{
			tail = i;
			tail_lo = b[0];
			tail_hi = b[1];
		}
	}
	/*
	 * Without dead documents the copy takes exactly as many pages; with
	 * some, the live part's pages are an estimate: keep a margin.
	 */
	if (tail < 0)
	{
		pfree(meta);
		return false;
	}
	need = meta->segs[tail].ndead == 0 ? meta->segs[tail].npages :
		inv_seg_need(&meta->segs[tail]) + 0.1 * meta->segs[tail].npages + 8;
	if (inv_recyclable_pages(meta, tail_lo) < need)
	{
		pfree(meta);
		return false;
	}
	memset(sel, 0, sizeof(sel));
	sel[tail] = true;
	elog(DEBUG1, "inverted: moving a segment of %u documents from blocks %u-%u down",
		 meta->segs[tail].ndocs, tail_lo, tail_hi - 1);
	/* the pages below are reserved first: inserts may take some meanwhile */
	moved = inv_rewrite(index, metabuf, sel, false, (BlockNumber) ceil(need), tail_lo,
						callback, cb_state, ndeleted);
	pfree(meta);
	return moved;
}

/*
 * Upkeep after the pending list is folded, the caller holding the merge
 * lock: give back the free pages at the end (when an insert can get the
 * cleanup lock at once; VACUUM waits for it), then one step:
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

	inv_truncate_locked(index, metabuf, !insert);
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
		inv_truncate_locked(index, metabuf, true);
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

			/*
			 * The dead bitmap's bytes for these documents (64 at most) lie
			 * on one or two pages, which may be the doc page itself: all
			 * change in one record.
			 */
			uint64		bit0 = shdr.dead_off * 8 + first;
			BlockNumber bblk[2];
			Buffer		bbuf[2] = {InvalidBuffer, InvalidBuffer};
			char	   *bpay[2] = {NULL, NULL};
			int			k;

			bblk[0] = inv_reader_blkno(&sr, (BlockNumber) (bit0 / 8 / INV_PAGE_PAYLOAD));
			bblk[1] = inv_reader_blkno(&sr, (BlockNumber) ((bit0 + n - 1) / 8 / INV_PAGE_PAYLOAD));
			LockBuffer(buffer, BUFFER_LOCK_EXCLUSIVE);
			for (k = 0; k < 2; k++)
				if (bblk[k] != blk && (k == 0 || bblk[1] != bblk[0]))
				{
					bbuf[k] = ReadBuffer(index, bblk[k]);
					LockBuffer(bbuf[k], BUFFER_LOCK_EXCLUSIVE);
				}
			state = GenericXLogStart(index);
			page = GenericXLogRegisterBuffer(state, buffer, 0);
			for (k = 0; k < 2; k++)
			{
				if (BufferIsValid(bbuf[k]))
					bpay[k] = InvPagePayload(GenericXLogRegisterBuffer(state, bbuf[k], 0));
				else if (bblk[k] == blk)
					bpay[k] = InvPagePayload(page);
				else
					bpay[k] = bpay[0];	/* both ends on one page */
			}
			docs = (InvDoc *) InvPagePayload(page);
			for (i = 0; i < n; i++)
				if (!(docs[i].flags & INV_DOC_DEAD) && callback(&docs[i].tid, cb_state))
				{
					uint64		byte = (bit0 + i) / 8;
					int			which = byte / INV_PAGE_PAYLOAD == (bit0 / 8) / INV_PAGE_PAYLOAD ? 0 : 1;

					docs[i].flags |= INV_DOC_DEAD;
					bpay[which][byte % INV_PAGE_PAYLOAD] |= (char) (1 << ((bit0 + i) % 8));
					newdead++;
				}
			GenericXLogFinish(state);
			for (k = 0; k < 2; k++)
				if (BufferIsValid(bbuf[k]))
					UnlockReleaseBuffer(bbuf[k]);
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
	inv_merge_lock(index, metabuf, true);

	/*
	 * The pending list goes into a segment first, dead documents with it,
	 * while inserts and scans go on; the marking below then covers every
	 * document the heap's dead TIDs can still name (an insert appended later
	 * names a live tuple).  The marking holds a cleanup lock on the
	 * metapage: scans that began before it (which may hold dead TIDs) have
	 * ended, and later ones see the marks, so no scan returns a TID that
	 * VACUUM lets the heap reuse.
	 */
	inv_fold_pending(index, metabuf, NULL, NULL, NULL);
	LockBufferForCleanup(metabuf);
	for (i = 0; i < InvPageGetMeta(BufferGetPage(metabuf))->nsegments; i++)
		inv_segment_mark_dead(index, metabuf, i, callback, callback_state, &ndeleted);
	LockBuffer(metabuf, BUFFER_LOCK_UNLOCK);

	/* everything dead is marked: what follows drops it without asking */
	inv_merge_tiers(index, metabuf, NULL, NULL, NULL);
	inv_maintain(index, metabuf, false, NULL, NULL, NULL);

	/*
	 * The index-wide dimension follows the documents that remain (with an
	 * empty pending list the segments hold them all; a merge sets it too).
	 */
	LockBuffer(metabuf, BUFFER_LOCK_EXCLUSIVE);
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
	inv_merge_unlock(index);
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
		inv_merge_lock(index, metabuf, true);
		inv_merge_pending(index, metabuf, NULL, NULL, NULL);
		inv_maintain(index, metabuf, false, NULL, NULL, NULL);
		inv_merge_unlock(index);
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
