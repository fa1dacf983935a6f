/*
 * page.c - buffers, the metapage, and segment byte streams for `inverted`.
 *
 * A segment is written once, front to back, into consecutive new pages while
 * holding the relation extension lock, so a byte offset maps to a page by
 * division.  Every page written goes through GenericXLog as a full image.
 */
#include "postgres.h"

#include "access/generic_xlog.h"
#include "miscadmin.h"
#include "storage/bufmgr.h"
#include "storage/smgr.h"
#include "access/nbtxlog.h"
#include "access/xloginsert.h"
#include "utils/snapmgr.h"
#include "storage/lmgr.h"
#include "utils/memutils.h"
#include "utils/rel.h"

#include "inverted.h"

void
inv_init_page(Page page, uint16 type)
{
	InvPageOpaque *opaque;

	PageInit(page, BLCKSZ, sizeof(InvPageOpaque));
	opaque = InvPageGetOpaque(page);
	opaque->next = InvalidBlockNumber;
	opaque->type = type;
	opaque->unused = 0;
}

/* ------------------------------------------------------------ free pages */

/*
 * Space reuse, the way nbtree recycles deleted pages.  Pages that a merge
 * or VACUUM no longer references (old segments, folded pending lists) go
 * to the metapage's free list in the same WAL record as the switch, with
 * safexid, the next transaction id at that moment (read under the
 * switch's exclusive lock); their contents stay as they were.  Scans that
 * copied the metapage before the switch may still read them (merges do not
 * wait for scans), and so may a hot standby's queries: a run is reused only
 * once safexid is older than every snapshot that may still exist
 * (GlobalVisCheckRemovableFullXid, which counts the standby's with
 * hot_standby_feedback; such a scan's snapshot is older than the switch,
 * so its xmin is at most safexid), and reusing one first
 * logs a recovery-conflict record for safexid, so that replay on a standby
 * waits for (or, past max_standby_streaming_delay, cancels) the queries
 * that could still read the old pages, as for nbtree's reused pages.
 */
bool
inv_free_recyclable(const InvFreeExtent *e)
{
	return !InvFreeIsReserved(e) && GlobalVisCheckRemovableFullXid(NULL, e->safexid);
}

/*
 * The recovery conflict of reusing pages freed at safexid.  There is no
 * custom WAL resource manager (it would need shared_preload_libraries):
 * this is nbtree's own record for it, XLOG_BTREE_REUSE_PAGE, whose replay
 * only resolves the conflict (it touches no page), named with our relation.
 */
void
inv_log_reuse(Relation index, BlockNumber blkno, FullTransactionId safexid)
{
	xl_btree_reuse_page xlrec;

	if (!XLogStandbyInfoActive() || !RelationNeedsWAL(index))
		return;
	xlrec.node = index->rd_node;
	xlrec.block = blkno;
	xlrec.latestRemovedFullXid = safexid;
	XLogBeginInsert();
	XLogRegisterData((char *) &xlrec, SizeOfBtreeReusePage);
	XLogInsert(RM_BTREE_ID, XLOG_BTREE_REUSE_PAGE);
}

/*
 * Add npages free pages from start to meta's free list (an image the caller
 * WAL-logs): merged into an adjacent run when there is one (keeping the
 * later safexid), else a new entry; when the list is full the smallest run
 * is dropped (counted in meta->leaked; REINDEX gets it back).
 */
void
inv_free_extent(Relation index, InvMetaPageData *meta, BlockNumber start,
				BlockNumber npages, FullTransactionId safexid)
{
	uint32		i;
	uint32		smallest = 0;

	if (npages == 0)
		return;
	for (i = 0; i < meta->nfree; i++)
	{
		InvFreeExtent *e = &meta->free[i];

		/* a merge's reserved runs stay as they are */
		if (InvFreeIsReserved(e))
			continue;
		if (e->start + e->npages == start || start + npages == e->start)
		{
			e->start = Min(e->start, start);
			e->npages += npages;
			if (FullTransactionIdPrecedes(e->safexid, safexid))
				e->safexid = safexid;
			return;
		}
		if (InvFreeIsReserved(&meta->free[smallest]) || e->npages < meta->free[smallest].npages)
			smallest = i;
	}
	if (meta->nfree < INV_MAX_FREE)
	{
		meta->free[meta->nfree].start = start;
		meta->free[meta->nfree].npages = npages;
		meta->free[meta->nfree].safexid = safexid;
		meta->nfree++;
		return;
	}
	if (meta->free[smallest].npages < npages && !InvFreeIsReserved(&meta->free[smallest]))
	{
		meta->leaked += meta->free[smallest].npages;
		meta->free[smallest].start = start;
		meta->free[smallest].npages = npages;
		meta->free[smallest].safexid = safexid;
	}
	else
		meta->leaked += npages;
}

static void
inv_remove_free(InvMetaPageData *meta, uint32 i)
{
	meta->free[i] = meta->free[meta->nfree - 1];
	meta->nfree--;
}

/*
 * The recyclable run of meta that lies lowest in the relation (meta->nfree
 * if none, or meta is NULL).  New pages go as low as they can, so that the
 * end of the relation empties and VACUUM can truncate it (inv_truncate).
 */
static uint32
inv_lowest_recyclable(const InvMetaPageData *meta)
{
	uint32		best = meta ? meta->nfree : 0;
	uint32		i;

	for (i = 0; meta != NULL && i < meta->nfree; i++)
		if ((best == meta->nfree || meta->free[i].start < meta->free[best].start) &&
			inv_free_recyclable(&meta->free[i]))
			best = i;
	return best;
}

/* a page to (re)write from scratch: exclusively locked, its old bytes not read */
static Buffer
inv_zeroed_buffer(Relation index, BlockNumber blkno)
{
	return ReadBufferExtended(index, MAIN_FORKNUM, blkno, RBM_ZERO_AND_LOCK, NULL);
}

/*
 * A new pinned and exclusively locked buffer: a page of a recyclable free
 * run when meta (the caller's image of the metapage, which it WAL-logs with
 * the new page) has one, else a new page at the end of the relation.
 * *reused says which.
 */
Buffer
inv_new_buffer(Relation index, InvMetaPageData *meta, bool *reused)
{
	Buffer		buffer;
	bool		needLock;
	uint32		i;

	*reused = false;
	i = inv_lowest_recyclable(meta);
	if (meta != NULL && i < meta->nfree)
	{
		InvFreeExtent *e = &meta->free[i];
		BlockNumber blkno = e->start;

		inv_log_reuse(index, blkno, e->safexid);
		e->start++;
		e->npages--;
		if (e->npages == 0)
			inv_remove_free(meta, i);
		*reused = true;
		return inv_zeroed_buffer(index, blkno);
	}

	needLock = !RELATION_IS_LOCAL(index);
	if (needLock)
		LockRelationForExtension(index, ExclusiveLock);
	buffer = ReadBuffer(index, P_NEW);
	LockBuffer(buffer, BUFFER_LOCK_EXCLUSIVE);
	if (needLock)
		UnlockRelationForExtension(index, ExclusiveLock);
	return buffer;
}

void
inv_fill_metapage(Relation index, Page page)
{
	InvMetaPageData *meta;

	StaticAssertStmt(sizeof(InvMetaPageData) <= INV_PAGE_PAYLOAD, "metapage too large");
	StaticAssertStmt(INV_PAGE_DATA_OFFSET + INV_PAGE_PAYLOAD == INV_PAGE_SPECIAL_OFFSET,
					 "the payload ends where the special area begins");
	StaticAssertStmt(sizeof(InvSegHeader) + INV_MAX_EXTENTS * sizeof(InvExtent) <= INV_PAGE_PAYLOAD,
					 "segment header and extents exceed a page");
	inv_init_page(page, INV_PAGE_META);
	meta = InvPageGetMeta(page);
	memset(meta, 0, sizeof(InvMetaPageData));
	meta->magic = INV_MAGIC;
	meta->version = INV_VERSION;
	meta->flags = inv_index_flags(index);
	meta->dim = INV_DIM_NONE;
	meta->pend_head = InvalidBlockNumber;
	meta->pend_tail = InvalidBlockNumber;
	((PageHeader) page)->pd_lower = INV_PAGE_DATA_OFFSET + sizeof(InvMetaPageData);
}

/* The cosine operator class is the one with the norm support function (2). */
uint32
inv_index_flags(Relation index)
{
	return OidIsValid(index_getprocid(index, 1, 2)) ? INV_FLAG_COSINE : 0;
}

void
inv_read_meta(Relation index, InvMetaPageData *meta)
{
	Buffer		buffer = ReadBuffer(index, INV_METAPAGE_BLKNO);
	Page		page;

	LockBuffer(buffer, BUFFER_LOCK_SHARE);
	page = BufferGetPage(buffer);
	memcpy(meta, InvPageGetMeta(page), sizeof(InvMetaPageData));
	UnlockReleaseBuffer(buffer);
	inv_check_meta(index, meta);
}

/*
 * An index this code cannot read: not an inverted index, one written in
 * another on-disk format (an older build), or a metapage whose counts
 * overrun its arrays.  Every path that reads segments
 * or writes to the index checks this first, so an old index is never merged
 * with the wrong reader.
 */
void
inv_check_meta(Relation index, const InvMetaPageData *meta)
{
	if (meta->magic != INV_MAGIC)
		ereport(ERROR,
				(errcode(ERRCODE_INDEX_CORRUPTED),
				 errmsg("index \"%s\" is not an inverted index",
						RelationGetRelationName(index))));
	if (meta->version != INV_VERSION)
		ereport(ERROR,
				(errcode(ERRCODE_INDEX_CORRUPTED),
				 errmsg("index \"%s\" has version %u, expected %u; REINDEX it",
						RelationGetRelationName(index), meta->version, INV_VERSION)));
	/* counts that index the metapage's own arrays, or a page */
	if (meta->nsegments > INV_MAX_SEGMENTS || meta->nfree > INV_MAX_FREE ||
		meta->pend_head_off >= INV_PAGE_PAYLOAD)
		ereport(ERROR,
				(errcode(ERRCODE_INDEX_CORRUPTED),
				 errmsg("inverted index \"%s\": bad metapage (%u segments, %u free runs, pending list at offset %u)",
						RelationGetRelationName(index), meta->nsegments, meta->nfree,
						meta->pend_head_off)));
}

/* ---------------------------------------------------------------- reader */

/*
 * Segment pages carry their segment's first block in the special area.
 * Freed pages keep their contents until reused, and reuse waits for the
 * horizon (on the primary and, with hot_standby_feedback, a standby) or
 * resolves a recovery conflict first (see "free pages" above).  Should a scan still meet a reused page, it stops with an error
 * instead of reading someone else's page.
 */
static void
inv_check_segment_page(InvReader *r, Page page)
{
	InvPageOpaque *opaque = InvPageGetOpaque(page);

	if (opaque->type != INV_PAGE_SEGMENT || opaque->next != r->start)
		ereport(ERROR,
				(errcode(ERRCODE_INDEX_CORRUPTED),
				 errmsg("inverted index \"%s\" changed under the scan: a segment was merged away",
						RelationGetRelationName(r->index)),
				 errdetail("A page the scan still needed was reused, which the transaction horizon and recovery conflicts should prevent."),
				 errhint("REINDEX the index if this repeats.")));
}

/*
 * Where each segment page sat in shared buffers when this backend last read
 * it, by block number.  A scan visits thousands of pages; ReadRecentBuffer
 * pins a remembered buffer after checking its tag (relation, fork, block),
 * without the buffer-mapping lookup that ReadBuffer does (a hash probe and
 * a partition lock), which was a sixth of a text query's time.  The tag
 * check makes any entry safe to try: one left by another index, or by a
 * page since evicted, is only a miss.
 */
static Buffer *inv_recent = NULL;
static BlockNumber inv_recent_size = 0;

/* 4 bytes a page: indexes up to 8 GB */
#define INV_RECENT_MAX_PAGES	(1u << 20)

static Buffer
inv_read_segment_buffer(Relation index, BlockNumber blkno)
{
	Buffer		buf;

	/* temporary indexes live in local buffers: no mapping lock to save */
	if (RelationUsesLocalBuffers(index))
		return ReadBuffer(index, blkno);
	if (blkno >= inv_recent_size)
	{
		BlockNumber n = Max(blkno + 1, Max(inv_recent_size * 2, 1024));

		if (blkno >= INV_RECENT_MAX_PAGES)
			return ReadBuffer(index, blkno);
		n = Min(n, INV_RECENT_MAX_PAGES);
		if (inv_recent == NULL)
			inv_recent = MemoryContextAllocZero(TopMemoryContext, sizeof(Buffer) * n);
		else
		{
			inv_recent = repalloc(inv_recent, sizeof(Buffer) * n);
			memset(inv_recent + inv_recent_size, 0, sizeof(Buffer) * (n - inv_recent_size));
		}
		inv_recent_size = n;
	}
	if (inv_recent[blkno] != InvalidBuffer &&
		ReadRecentBuffer(index->rd_node, MAIN_FORKNUM, blkno, inv_recent[blkno]))
		return inv_recent[blkno];
	buf = ReadBuffer(index, blkno);
	inv_recent[blkno] = buf;
	return buf;
}

void
inv_reader_init(InvReader *r, Relation index, BlockNumber start, BlockNumber npages)
{
	r->index = index;
	r->start = start;
	r->npages = npages;
	r->buf = InvalidBuffer;
	r->cur = InvalidBlockNumber;
	r->locked = false;
	r->map = NULL;
	r->ext = 0;
}

/* The block of page rel of the segment (page 0 is its first block). */
BlockNumber
inv_reader_blkno(InvReader *r, BlockNumber rel)
{
	const InvSegMap *m = r->map;
	uint32		e = r->ext;

	if (m == NULL)
	{
		if (rel != 0)
			elog(ERROR, "inverted index \"%s\": segment read before its header",
				 RelationGetRelationName(r->index));
		return r->start;
	}
	if (!(e < m->n && rel >= m->base[e] && rel < m->base[e + 1]))
	{
		uint32		lo = 0,
					hi = m->n - 1;

		/* the extent whose base is the largest <= rel (rel < npages = base[n]) */
		while (lo < hi)
		{
			uint32		mid = (lo + hi + 1) / 2;

			if (m->base[mid] <= rel)
				lo = mid;
			else
				hi = mid - 1;
		}
		e = lo;
		r->ext = e;
	}
	return m->start[e] + (rel - m->base[e]);
}

/*
 * Share-lock page rel of the segment (pinning it first if the reader holds
 * another), checking that it is still one of the segment's pages.
 */
static Page
inv_reader_lock(InvReader *r, BlockNumber rel)
{
	BlockNumber blkno;

	if (rel >= r->npages)
		ereport(ERROR,
				(errcode(ERRCODE_INDEX_CORRUPTED),
				 errmsg("inverted index \"%s\": segment read past its end",
						RelationGetRelationName(r->index))));
	blkno = inv_reader_blkno(r, rel);
	/* a corrupt metapage's segment start: ReadBuffer would add a page */
	if (blkno == P_NEW)
		ereport(ERROR,
				(errcode(ERRCODE_INDEX_CORRUPTED),
				 errmsg("inverted index \"%s\": segment at an invalid block",
						RelationGetRelationName(r->index))));
	if (r->cur == blkno && r->locked)
		return BufferGetPage(r->buf);
	inv_reader_unlock(r);
	if (r->cur != blkno || !BufferIsValid(r->buf))
	{
		if (BufferIsValid(r->buf))
			ReleaseBuffer(r->buf);
		/* consistent should ReadBuffer fail */
		r->buf = InvalidBuffer;
		r->cur = blkno;
		r->buf = inv_read_segment_buffer(r->index, r->cur);
	}
	LockBuffer(r->buf, BUFFER_LOCK_SHARE);
	r->locked = true;
	inv_check_segment_page(r, BufferGetPage(r->buf));
	return BufferGetPage(r->buf);
}

/* Copy len bytes at stream offset off; the last page stays pinned. */
void
inv_read(InvReader *r, uint64 off, void *dst, size_t len)
{
	char	   *out = (char *) dst;

	while (len > 0)
	{
		BlockNumber rel = (BlockNumber) (off / INV_PAGE_PAYLOAD);
		uint32		inpage = (uint32) (off % INV_PAGE_PAYLOAD);
		size_t		n = Min(len, (size_t) (INV_PAGE_PAYLOAD - inpage));
		Page		page = inv_reader_lock(r, rel);

		memcpy(out, InvPagePayload(page) + inpage, n);
		inv_reader_unlock(r);
		out += n;
		off += n;
		len -= n;
	}
}

/*
 * Pointer to len bytes at off inside one page, which stays share-locked (and
 * pinned) until the next inv_peek, inv_read or inv_reader_end; NULL when the
 * bytes cross a page boundary (then use inv_read).  Saves copying postings.
 */
const char *
inv_peek(InvReader *r, uint64 off, size_t len)
{
	BlockNumber rel = (BlockNumber) (off / INV_PAGE_PAYLOAD);
	uint32		inpage = (uint32) (off % INV_PAGE_PAYLOAD);

	if (inpage + len > INV_PAGE_PAYLOAD)
		return NULL;
	return InvPagePayload(inv_reader_lock(r, rel)) + inpage;
}

void
inv_reader_unlock(InvReader *r)
{
	if (r->locked)
		LockBuffer(r->buf, BUFFER_LOCK_UNLOCK);
	r->locked = false;
}

void
inv_reader_end(InvReader *r)
{
	inv_reader_unlock(r);
	if (BufferIsValid(r->buf))
		ReleaseBuffer(r->buf);
	r->buf = InvalidBuffer;
	r->cur = InvalidBlockNumber;
}

/* ----------------------------------------------- reserved for a merge */

/*
 * Runs still reserved when a merge takes the merge lock were reserved by a
 * merge that failed or crashed before its switch: they hold no segment
 * anyone can reach, and were recyclable when reserved, so they are free
 * (and recyclable) again.  The caller holds the merge lock.
 */
void
inv_reserve_reclaim(Relation index, Buffer metabuf)
{
	InvMetaPageData *meta;
	bool		stale = false;
	uint32		i;

	LockBuffer(metabuf, BUFFER_LOCK_EXCLUSIVE);
	meta = InvPageGetMeta(BufferGetPage(metabuf));
	inv_check_meta(index, meta);
	for (i = 0; i < meta->nfree; i++)
		stale |= InvFreeIsReserved(&meta->free[i]);
	if (stale)
	{
		GenericXLogState *state = GenericXLogStart(index);
		InvMetaPageData *m = InvPageGetMeta(GenericXLogRegisterBuffer(state, metabuf, 0));
		InvExtent	runs[INV_MAX_FREE];
		uint32		n = 0;

		for (i = m->nfree; i-- > 0;)
			if (InvFreeIsReserved(&m->free[i]))
			{
				runs[n].start = m->free[i].start;
				runs[n++].npages = m->free[i].npages;
				inv_remove_free(m, i);
			}
		for (i = 0; i < n; i++)
			inv_free_extent(index, m, runs[i].start, runs[i].npages, FirstNormalFullTransactionId);
		GenericXLogFinish(state);
		elog(DEBUG1, "inverted: %u runs a failed merge had reserved are free again", n);
	}
	LockBuffer(metabuf, BUFFER_LOCK_UNLOCK);
}

/* A copy of the metapage, consistent (inserts change it meanwhile). */
void
inv_meta_copy(Buffer metabuf, InvMetaPageData *meta)
{
	LockBuffer(metabuf, BUFFER_LOCK_SHARE);
	memcpy(meta, InvPageGetMeta(BufferGetPage(metabuf)), sizeof(InvMetaPageData));
	LockBuffer(metabuf, BUFFER_LOCK_UNLOCK);
}

void
inv_reserve_init(InvReserve *res, Buffer metabuf)
{
	res->metabuf = metabuf;
	res->n = 0;
	res->next = 0;
	res->taken = 0;
}

/*
 * Reserve recyclable free runs of meta (an image the caller WAL-logs, under
 * the metapage's exclusive lock), the lowest first and only below `below`,
 * until want pages are reserved; a run is split when the free list has
 * room, else reserved whole.  Reserved runs are marked by an invalid
 * safexid: inserts' pending pages and truncation leave them alone, and
 * the switch (inv_reserve_settle) takes them off the list, or the next
 * merge frees them again (inv_merge_lock).  Returns the pages reserved.
 */
BlockNumber
inv_reserve(Relation index, InvReserve *res, InvMetaPageData *meta, BlockNumber want,
			BlockNumber below)
{
	BlockNumber got = 0;
	FullTransactionId maxxid = InvalidFullTransactionId;
	BlockNumber first = InvalidBlockNumber;

	while (got < want && res->n < INV_MAX_FREE)
	{
		uint32		i = inv_lowest_recyclable(meta);
		InvFreeExtent *e;
		BlockNumber rstart;
		BlockNumber take;

		if (i == meta->nfree || meta->free[i].start >= below)
			break;
		e = &meta->free[i];
		rstart = e->start;
		take = Min(want - got, e->npages);
		if (below != InvalidBlockNumber)
			take = Min(take, below - e->start);
		if (!FullTransactionIdIsValid(maxxid) || FullTransactionIdPrecedes(maxxid, e->safexid))
			maxxid = e->safexid;
		if (take < e->npages && meta->nfree < INV_MAX_FREE)
		{
			InvFreeExtent *r = &meta->free[meta->nfree++];

			r->start = e->start;
			r->npages = take;
			r->safexid = InvalidFullTransactionId;
			e->start += take;
			e->npages -= take;
		}
		else
		{
			take = e->npages;
			e->safexid = InvalidFullTransactionId;
		}
		res->run[res->n].start = rstart;
		res->run[res->n].npages = take;
		if (first == InvalidBlockNumber)
			first = rstart;
		res->n++;
		got += take;
	}
	/* a hot standby's queries that may read these pages go first */
	if (got > 0)
		inv_log_reuse(index, first, maxxid);
	return got;
}

/* Reserve more runs, up to want pages, in a WAL record of their own. */
void
inv_reserve_more(Relation index, InvReserve *res, BlockNumber want)
{
	GenericXLogState *state;
	InvMetaPageData *m;

	LockBuffer(res->metabuf, BUFFER_LOCK_EXCLUSIVE);
	state = GenericXLogStart(index);
	m = InvPageGetMeta(GenericXLogRegisterBuffer(state, res->metabuf, 0));
	if (inv_reserve(index, res, m, want, InvalidBlockNumber) > 0)
		GenericXLogFinish(state);
	else
		GenericXLogAbort(state);
	LockBuffer(res->metabuf, BUFFER_LOCK_UNLOCK);
}

/*
 * The switch's part (meta is its image): the reserved runs leave the free
 * list, and what the new segment did not use of them goes back, recyclable
 * at once (it was when reserved, and no one has read it since).
 */
void
inv_reserve_settle(Relation index, InvReserve *res, InvMetaPageData *meta)
{
	uint32		i;

	for (i = meta->nfree; i-- > 0;)
		if (InvFreeIsReserved(&meta->free[i]))
			inv_remove_free(meta, i);
	for (i = res->next; i < res->n; i++)
	{
		BlockNumber skip = (i == res->next) ? res->taken : 0;

		inv_free_extent(index, meta, res->run[i].start + skip, res->run[i].npages - skip,
						FirstNormalFullTransactionId);
	}
	res->n = 0;
	res->next = 0;
	res->taken = 0;
}

/* ---------------------------------------------------------------- writer */

/*
 * A segment of npages pages: where they go is decided before the first is
 * written, since the first (the header) lists them.  A merge's reserved
 * runs (res) are used first, then more recyclable runs are reserved, the
 * lowest in the relation first; the rest are new pages at the end of the
 * relation, added at once under the relation extension lock.  A build
 * passes no res: its index has no free pages.
 */
void
inv_writer_begin(InvWriter *w, Relation index, BlockNumber npages, InvReserve *res)
{
	BlockNumber left = npages;
	BlockNumber reused;

	w->index = index;
	w->npages = 0;
	w->total = npages;
	w->nextents = 0;
	w->page = palloc0(INV_PAGE_PAYLOAD);
	w->used = 0;
	w->written = 0;
	w->locked = false;

	while (res != NULL && left > 0 && w->nextents < INV_MAX_EXTENTS - 1)
	{
		InvExtent  *run;
		BlockNumber take;

		if (res->next == res->n)
		{
			uint32		before = res->n;

			if (!BufferIsValid(res->metabuf))
				break;
			inv_reserve_more(index, res, left);
			if (res->n == before)
				break;
		}
		run = &res->run[res->next];
		take = Min(left, run->npages - res->taken);
		w->ext[w->nextents].start = run->start + res->taken;
		w->ext[w->nextents].npages = take;
		w->nextents++;
		res->taken += take;
		left -= take;
		if (res->taken == run->npages)
		{
			res->next++;
			res->taken = 0;
		}
	}
	reused = npages - left;
	elog(DEBUG1, "inverted: segment of %u pages, %u of them reused in %u runs",
		 npages, reused, w->nextents);

	if (left > 0)
	{
		bool		needLock = !RELATION_IS_LOCAL(index);
		BlockNumber first;
		PGAlignedBlock zero;

		if (needLock)
			LockRelationForExtension(index, ExclusiveLock);
		first = RelationGetNumberOfBlocks(index);
		if ((uint64) first + left >= MaxBlockNumber)
			ereport(ERROR,
					(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
					 errmsg("cannot extend index \"%s\" beyond %u blocks",
							RelationGetRelationName(index), MaxBlockNumber)));

		/*
		 * Writing the last new page extends the file with zeros up to it,
		 * as hash indexes add their bucket pages (_hash_alloc_buckets).
		 * Each page gets its contents and a full-page WAL record below,
		 * before anything refers to it; a crash before leaves unreferenced
		 * pages, as before.  (ReadBuffer(P_NEW) page by page wrote every
		 * page twice and took two fifths of a build's final phase.)
		 */
		memset(zero.data, 0, BLCKSZ);
		smgrextend(RelationGetSmgr(index), MAIN_FORKNUM, first + left - 1, zero.data, false);
		if (needLock)
			UnlockRelationForExtension(index, ExclusiveLock);
		w->ext[w->nextents].start = first;
		w->ext[w->nextents].npages = left;
		w->nextents++;
	}
	w->start = w->ext[0].start;
}

/* the block of page rel of the segment being written */
static BlockNumber
inv_writer_blkno(const InvWriter *w, BlockNumber rel)
{
	uint32		i;

	for (i = 0; i < w->nextents; i++)
	{
		if (rel < w->ext[i].npages)
			return w->ext[i].start + rel;
		rel -= w->ext[i].npages;
	}
	elog(ERROR, "inverted index \"%s\": segment written past its pages",
		 RelationGetRelationName(w->index));
	return InvalidBlockNumber;	/* keep the compiler quiet */
}

static void
inv_writer_flush(InvWriter *w)
{
	Buffer		buffer;
	GenericXLogState *state;
	Page		page;

	CHECK_FOR_INTERRUPTS();
	buffer = inv_zeroed_buffer(w->index, inv_writer_blkno(w, w->npages));
	state = GenericXLogStart(w->index);
	page = GenericXLogRegisterBuffer(state, buffer, GENERIC_XLOG_FULL_IMAGE);
	inv_init_page(page, INV_PAGE_SEGMENT);
	InvPageGetOpaque(page)->next = w->start;
	memcpy(InvPagePayload(page), w->page, w->used);
	((PageHeader) page)->pd_lower = INV_PAGE_DATA_OFFSET + w->used;
	GenericXLogFinish(state);
	UnlockReleaseBuffer(buffer);

	w->npages++;
	w->used = 0;
	memset(w->page, 0, INV_PAGE_PAYLOAD);
}

void
inv_write(InvWriter *w, const void *src, size_t len)
{
	const char *in = (const char *) src;

	while (len > 0)
	{
		size_t		n = Min(len, (size_t) (INV_PAGE_PAYLOAD - w->used));

		memcpy(w->page + w->used, in, n);
		w->used += n;
		w->written += n;
		in += n;
		len -= n;
		if (w->used == INV_PAGE_PAYLOAD)
			inv_writer_flush(w);
	}
}

void
inv_write_pad_to(InvWriter *w, uint64 off)
{
	static const char zeros[256] = {0};

	Assert(off >= w->written);
	while (w->written < off)
		inv_write(w, zeros, Min((uint64) sizeof(zeros), off - w->written));
}

void
inv_writer_end(InvWriter *w)
{
	if (w->used > 0 || w->npages == 0)
		inv_writer_flush(w);
	if (w->npages != w->total)
		elog(ERROR, "inverted index \"%s\": segment took %u pages, expected %u",
			 RelationGetRelationName(w->index), w->npages, w->total);
	pfree(w->page);
	w->page = NULL;
}
