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
#include "storage/indexfsm.h"
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

/*
 * A new pinned and exclusively locked buffer: a recycled page from the free
 * space map when there is one, else a new page at the end of the relation.
 * meta, when given, is the current metapage (its holder has it locked).
 */
static bool
inv_page_reusable(Page page, BlockNumber blkno, const InvMetaPageData *meta)
{
	uint32		i;

	if (PageIsNew(page) || InvPageGetOpaque(page)->type == INV_PAGE_DELETED)
		return true;
	/* pages of a dropped segment are free once no live segment covers them */
	if (meta == NULL || InvPageGetOpaque(page)->type != INV_PAGE_SEGMENT)
		return false;
	for (i = 0; i < meta->nsegments; i++)
		if (blkno >= meta->segs[i].start &&
			blkno < meta->segs[i].start + meta->segs[i].npages)
			return false;
	return true;
}

Buffer
inv_new_buffer(Relation index, const InvMetaPageData *meta)
{
	Buffer		buffer;
	bool		needLock;

	for (;;)
	{
		BlockNumber blkno = GetFreeIndexPage(index);
		Page		page;

		if (blkno == InvalidBlockNumber)
			break;
		buffer = ReadBuffer(index, blkno);
		if (ConditionalLockBuffer(buffer))
		{
			page = BufferGetPage(buffer);
			if (inv_page_reusable(page, blkno, meta))
				return buffer;
			LockBuffer(buffer, BUFFER_LOCK_UNLOCK);
		}
		ReleaseBuffer(buffer);
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

/* Mark a page deleted (WAL-logged) and hand it to the free space map. */
void
inv_free_page(Relation index, BlockNumber blkno)
{
	Buffer		buffer = ReadBuffer(index, blkno);
	GenericXLogState *state;
	Page		page;

	LockBuffer(buffer, BUFFER_LOCK_EXCLUSIVE);
	state = GenericXLogStart(index);
	page = GenericXLogRegisterBuffer(state, buffer, GENERIC_XLOG_FULL_IMAGE);
	inv_init_page(page, INV_PAGE_DELETED);
	GenericXLogFinish(state);
	UnlockReleaseBuffer(buffer);
	RecordFreeIndexPage(index, blkno);
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
 * An index this code cannot read: not an inverted index, or one written in
 * another on-disk format (an older build).  Every path that reads segments
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
}

/* ---------------------------------------------------------------- reader */

/*
 * Segment pages carry their segment's first block in the special area.  On
 * the primary a scan's metapage pin keeps its segments alive, but WAL replay
 * on a hot standby takes no cleanup locks: a merge replayed under a running
 * standby query can free and reuse the pages it reads.  Then the query stops
 * with an error instead of reading someone else's page.
 */
static void
inv_check_segment_page(InvReader *r, Page page)
{
	InvPageOpaque *opaque = InvPageGetOpaque(page);

	if (opaque->type != INV_PAGE_SEGMENT || opaque->next != r->start)
		ereport(ERROR,
				(errcode(ERRCODE_T_R_SERIALIZATION_FAILURE),
				 errmsg("inverted index \"%s\" changed under the scan: a segment was merged away",
						RelationGetRelationName(r->index)),
				 errdetail("On a hot standby, the replay of a merge or VACUUM can remove pages a query still reads."),
				 errhint("Run the query again.")));
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
}

/*
 * Share-lock page rel of the segment (pinning it first if the reader holds
 * another), checking that it is still one of the segment's pages.
 */
static Page
inv_reader_lock(InvReader *r, BlockNumber rel)
{
	if (rel >= r->npages)
		ereport(ERROR,
				(errcode(ERRCODE_INDEX_CORRUPTED),
				 errmsg("inverted index \"%s\": segment read past its end",
						RelationGetRelationName(r->index))));
	if (r->cur == r->start + rel && r->locked)
		return BufferGetPage(r->buf);
	inv_reader_unlock(r);
	if (r->cur != r->start + rel)
	{
		if (BufferIsValid(r->buf))
			ReleaseBuffer(r->buf);
		r->cur = r->start + rel;
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

/* ---------------------------------------------------------------- writer */

/*
 * Segments are laid out on consecutive pages, so the writer holds the
 * relation extension lock from begin to end: nobody else can extend the
 * relation in between.  (Pending pages come from the free space map first,
 * and wait for the lock otherwise.)
 */
void
inv_writer_begin(InvWriter *w, Relation index)
{
	w->index = index;
	w->start = InvalidBlockNumber;
	w->npages = 0;
	w->page = palloc0(INV_PAGE_PAYLOAD);
	w->used = 0;
	w->written = 0;
	w->locked = !RELATION_IS_LOCAL(index);
	if (w->locked)
		LockRelationForExtension(index, ExclusiveLock);
}

static void
inv_writer_flush(InvWriter *w)
{
	Buffer		buffer;
	GenericXLogState *state;
	Page		page;
	BlockNumber blkno;

	CHECK_FOR_INTERRUPTS();
	buffer = ReadBuffer(w->index, P_NEW);
	LockBuffer(buffer, BUFFER_LOCK_EXCLUSIVE);
	blkno = BufferGetBlockNumber(buffer);
	if (w->npages == 0)
		w->start = blkno;
	else if (blkno != w->start + w->npages)
		elog(ERROR, "inverted index \"%s\": segment pages are not consecutive",
			 RelationGetRelationName(w->index));

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
	if (w->locked)
		UnlockRelationForExtension(w->index, ExclusiveLock);
	w->locked = false;
	pfree(w->page);
	w->page = NULL;
}
