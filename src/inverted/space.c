/*
 * space.c - giving the end of the relation back.
 *
 * A rewrite (merge, compaction) needs room for its new segment beside the
 * old ones, whose pages become reusable only once the transaction horizon
 * passes (page.c).  New pages are taken as low in the relation as they can
 * be, segments lying at the end are rewritten lower down when the free
 * pages below hold them (vacuum.c), and what is left free at the end is
 * truncated here, so that the index's size follows its live contents.
 */
#include "postgres.h"

#include "access/generic_xlog.h"
#include "access/xlog.h"
#include "catalog/storage.h"
#include "miscadmin.h"
#include "storage/bufmgr.h"
#include "utils/rel.h"
#include "utils/snapmgr.h"

#include "inverted.h"

static void
inv_bounds_extent(void *arg, BlockNumber start, BlockNumber npages)
{
	BlockNumber *b = arg;

	b[0] = Min(b[0], start);
	b[1] = Max(b[1], start + npages);
}

/* The lowest block and one past the highest of a segment's pages. */
void
inv_segment_bounds(Relation index, const InvSegRef *seg, BlockNumber *lo, BlockNumber *hi)
{
	BlockNumber b[2] = {InvalidBlockNumber, 0};

	inv_segment_extents(index, seg, inv_bounds_extent, b);
	*lo = b[0];
	*hi = b[1];
}

/*
 * One past the highest block the index still needs: the metapage, the
 * segments, every page reachable from the pending list's head (with any a
 * crashed append left behind its tail), and the free runs that are not yet
 * recyclable (a hot standby's query may still read them) or are reserved
 * by a merge.  Pages above are
 * recyclable free pages, or pages no one references (a merge that crashed
 * before its switch).
 */
static BlockNumber
inv_blocks_in_use(Relation index, const InvMetaPageData *meta, BlockNumber nblocks)
{
	BlockNumber top = INV_METAPAGE_BLKNO + 1;
	BlockNumber b = meta->pend_head;
	BlockNumber seen = 0;
	uint32		i;

	for (i = 0; i < meta->nsegments; i++)
	{
		BlockNumber lo,
					hi;

		inv_segment_bounds(index, &meta->segs[i], &lo, &hi);
		top = Max(top, hi);
	}
	for (i = 0; i < meta->nfree; i++)
		if (!inv_free_recyclable(&meta->free[i]))
			top = Max(top, meta->free[i].start + meta->free[i].npages);
	while (b != InvalidBlockNumber)
	{
		Buffer		buf;

		CHECK_FOR_INTERRUPTS();
		if (b == INV_METAPAGE_BLKNO || b >= nblocks || ++seen > nblocks)
			ereport(ERROR,
					(errcode(ERRCODE_INDEX_CORRUPTED),
					 errmsg("inverted index \"%s\": bad pending list",
							RelationGetRelationName(index))));
		top = Max(top, b + 1);
		buf = ReadBuffer(index, b);
		LockBuffer(buf, BUFFER_LOCK_SHARE);
		b = InvPageGetOpaque(BufferGetPage(buf))->next;
		UnlockReleaseBuffer(buf);
	}
	return top;
}

/*
 * Truncate the free pages at the end of the relation.  The caller holds a
 * cleanup lock on metabuf, so no scan or insert of this index is running
 * and none can be holding or extending those pages (and the merge lock, so
 * no merge is writing); they are recyclable,
 * so no snapshot that could still read them remains, and as for reuse a
 * hot standby first gets the recovery conflict of their safexid.  The free
 * list loses them in its own WAL record, flushed before the file shrinks: a
 * crash in between leaves unreferenced pages at the end, which the next
 * call truncates.  Returns the pages given back.
 */
BlockNumber
inv_truncate(Relation index, Buffer metabuf)
{
	InvMetaPageData *meta = InvPageGetMeta(BufferGetPage(metabuf));
	BlockNumber nblocks = RelationGetNumberOfBlocks(index);
	BlockNumber keep = inv_blocks_in_use(index, meta, nblocks);
	FullTransactionId maxxid = InvalidFullTransactionId;
	bool		changed = false;
	uint32		i;

	if (keep >= nblocks)
		return 0;
	for (i = 0; i < meta->nfree; i++)
		if (meta->free[i].start + meta->free[i].npages > keep)
		{
			changed = true;
			if (!FullTransactionIdIsValid(maxxid) ||
				FullTransactionIdPrecedes(maxxid, meta->free[i].safexid))
				maxxid = meta->free[i].safexid;
		}
	if (changed)
	{
		GenericXLogState *state = GenericXLogStart(index);
		InvMetaPageData *m = InvPageGetMeta(GenericXLogRegisterBuffer(state, metabuf, 0));
		uint32		n = 0;

		for (i = 0; i < m->nfree; i++)
		{
			InvFreeExtent e = m->free[i];

			if (e.start >= keep)
				continue;
			e.npages = Min(e.npages, keep - e.start);
			m->free[n++] = e;
		}
		m->nfree = n;
		GenericXLogFinish(state);
		inv_log_reuse(index, keep, maxxid);
	}
	/*
	 * The free list must not name pages past the end after a crash: make it
	 * durable before the file shrinks (RelationTruncate flushes its own
	 * record only when other forks go with it).
	 */
	if (RelationNeedsWAL(index))
		XLogFlush(PageGetLSN(BufferGetPage(metabuf)));
	elog(DEBUG1, "inverted: truncating the index from %u to %u pages", nblocks, keep);
	RelationTruncate(index, keep);
	return nblocks - keep;
}

/*
 * Truncate under a cleanup lock on metabuf, waiting for it (VACUUM) or
 * only if it is free at once (an insert's upkeep).  The caller holds the
 * merge lock, so no merge is extending the relation meanwhile.
 */
void
inv_truncate_locked(Relation index, Buffer metabuf, bool wait)
{
	if (wait)
		LockBufferForCleanup(metabuf);
	else if (!ConditionalLockBufferForCleanup(metabuf))
		return;
	inv_truncate(index, metabuf);
	LockBuffer(metabuf, BUFFER_LOCK_UNLOCK);
}
