/*
 * pending.c - the pending list: recent documents appended by INSERT.
 *
 * Records are a byte stream over a chain of pages and may span pages, so a
 * vector of any size fits.  The metapage says where the last complete record
 * ends (pend_tail, pend_tail_used) and how many there are; it is updated in
 * the same WAL record as the last page of a new record, so after a crash a
 * half-written record is simply overwritten by the next insert.
 */
#include "postgres.h"

#include "access/generic_xlog.h"
#include "miscadmin.h"
#include "storage/bufmgr.h"
#include "utils/rel.h"

#include "inverted.h"

/*
 * A fresh pending page, linked from prev (when valid) in one WAL record,
 * with the metapage when the page comes from its free list.
 */
static BlockNumber
inv_pending_new_page(Relation index, Buffer metabuf, Buffer prevbuf)
{
	InvMetaPageData meta;
	bool		reused;
	Buffer		buffer;
	GenericXLogState *state;
	Page		page;
	BlockNumber blkno;

	memcpy(&meta, InvPageGetMeta(BufferGetPage(metabuf)), sizeof(meta));
	buffer = inv_new_buffer(index, &meta, &reused);
	state = GenericXLogStart(index);
	page = GenericXLogRegisterBuffer(state, buffer, GENERIC_XLOG_FULL_IMAGE);
	blkno = BufferGetBlockNumber(buffer);
	if (reused)
	{
		Page		mp = GenericXLogRegisterBuffer(state, metabuf, 0);

		memcpy(InvPageGetMeta(mp), &meta, sizeof(meta));
	}

	inv_init_page(page, INV_PAGE_PENDING);
	((PageHeader) page)->pd_lower = INV_PAGE_DATA_OFFSET;
	if (BufferIsValid(prevbuf))
	{
		Page		prev = GenericXLogRegisterBuffer(state, prevbuf, 0);

		InvPageGetOpaque(prev)->next = blkno;
	}
	GenericXLogFinish(state);
	UnlockReleaseBuffer(buffer);
	return blkno;
}

/*
 * Append one record.  The caller holds metabuf exclusively locked, which
 * serialises appends.
 */
void
inv_pending_append(Relation index, Buffer metabuf, const InvPendRecord *hdr,
				   const int32 *indices, const float4 *values)
{
	InvMetaPageData *meta = InvPageGetMeta(BufferGetPage(metabuf));
	size_t		sizes[3];
	const char *parts[3];
	int			part = 0;
	size_t		partoff = 0;
	size_t		total;
	BlockNumber blk = meta->pend_tail;
	uint32		used = meta->pend_tail_used;

	parts[0] = (const char *) hdr;
	sizes[0] = sizeof(InvPendRecord);
	parts[1] = (const char *) indices;
	sizes[1] = sizeof(int32) * (size_t) Max(hdr->nnz, 0);
	parts[2] = (const char *) values;
	sizes[2] = sizeof(float4) * (size_t) Max(hdr->nnz, 0);
	total = sizes[0] + sizes[1] + sizes[2];

	if (blk == InvalidBlockNumber)
	{
		/* empty list: the first page is reachable only once meta says so */
		blk = inv_pending_new_page(index, metabuf, InvalidBuffer);
		used = 0;
		meta = InvPageGetMeta(BufferGetPage(metabuf));
		if (meta->pend_head == InvalidBlockNumber)
		{
			GenericXLogState *state = GenericXLogStart(index);
			Page		mp = GenericXLogRegisterBuffer(state, metabuf, 0);

			InvPageGetMeta(mp)->pend_head = blk;
			InvPageGetMeta(mp)->pend_head_off = 0;
			InvPageGetMeta(mp)->pend_tail = blk;
			InvPageGetMeta(mp)->pend_tail_used = 0;
			GenericXLogFinish(state);
		}
	}

	for (;;)
	{
		Buffer		buffer = ReadBuffer(index, blk);
		GenericXLogState *state;
		Page		page;
		size_t		room;
		bool		last;
		size_t		left;

		CHECK_FOR_INTERRUPTS();
		LockBuffer(buffer, BUFFER_LOCK_EXCLUSIVE);

		/* how much of the record is left to write */
		left = total;
		{
			int			i;

			for (i = 0; i < part; i++)
				left -= sizes[i];
			left -= partoff;
		}
		room = INV_PAGE_PAYLOAD - used;
		last = (left <= room);

		state = GenericXLogStart(index);
		page = GenericXLogRegisterBuffer(state, buffer, 0);
		{
			size_t		n = Min(left, room);
			char	   *dst = InvPagePayload(page) + used;

			while (n > 0)
			{
				size_t		c = Min(n, sizes[part] - partoff);

				if (c > 0)
					memcpy(dst, parts[part] + partoff, c);
				dst += c;
				n -= c;
				partoff += c;
				used += c;
				if (partoff == sizes[part] && part < 2)
				{
					part++;
					partoff = 0;
				}
			}
			if (INV_PAGE_DATA_OFFSET + used > ((PageHeader) page)->pd_lower)
				((PageHeader) page)->pd_lower = INV_PAGE_DATA_OFFSET + used;
		}
		if (last)
		{
			Page		mp = GenericXLogRegisterBuffer(state, metabuf, 0);
			InvMetaPageData *m = InvPageGetMeta(mp);

			m->pend_tail = blk;
			m->pend_tail_used = used;
			m->pend_count++;
			m->pend_bytes += total;
			GenericXLogFinish(state);
			UnlockReleaseBuffer(buffer);
			return;
		}
		GenericXLogFinish(state);

		/* continue on the next page, reusing one left by a crashed append */
		{
			BlockNumber next = InvPageGetOpaque(BufferGetPage(buffer))->next;

			if (next == InvalidBlockNumber)
				next = inv_pending_new_page(index, metabuf, buffer);
			UnlockReleaseBuffer(buffer);
			blk = next;
			used = 0;
		}
	}
}

void
inv_pend_reader_init(InvPendReader *r, Relation index, const InvMetaPageData *meta)
{
	r->index = index;
	r->blk = meta->pend_head;
	r->off = meta->pend_head_off;
	r->remaining = meta->pend_count;
	r->steps = 0;
	r->maxsteps = InvalidBlockNumber;
}

static void
inv_pend_read_bytes(InvPendReader *r, void *dst, size_t len)
{
	char	   *out = (char *) dst;

	while (len > 0)
	{
		Buffer		buffer;
		Page		page;
		size_t		n;

		if (r->off >= INV_PAGE_PAYLOAD)
		{
			/* a corrupt chain that loops must not keep a scan reading it */
			if (r->maxsteps == InvalidBlockNumber)
				r->maxsteps = RelationGetNumberOfBlocks(r->index);
			if (++r->steps >= r->maxsteps)
				ereport(ERROR,
						(errcode(ERRCODE_INDEX_CORRUPTED),
						 errmsg("inverted index \"%s\": the pending list loops",
								RelationGetRelationName(r->index))));
			buffer = ReadBuffer(r->index, r->blk);
			LockBuffer(buffer, BUFFER_LOCK_SHARE);
			r->blk = InvPageGetOpaque(BufferGetPage(buffer))->next;
			UnlockReleaseBuffer(buffer);
			r->off = 0;
		}
		if (r->blk == InvalidBlockNumber)
			ereport(ERROR,
					(errcode(ERRCODE_INDEX_CORRUPTED),
					 errmsg("inverted index \"%s\": pending list ends early",
							RelationGetRelationName(r->index))));
		buffer = ReadBuffer(r->index, r->blk);
		LockBuffer(buffer, BUFFER_LOCK_SHARE);
		page = BufferGetPage(buffer);
		if (InvPageGetOpaque(page)->type != INV_PAGE_PENDING)
			ereport(ERROR,
					(errcode(ERRCODE_INDEX_CORRUPTED),
					 errmsg("inverted index \"%s\" changed under the scan: block %u left the pending list",
							RelationGetRelationName(r->index), r->blk),
					 errdetail("A page the scan still needed was reused, which the transaction horizon and recovery conflicts should prevent."),
					 errhint("REINDEX the index if this repeats.")));
		n = Min(len, (size_t) (INV_PAGE_PAYLOAD - r->off));
		memcpy(out, InvPagePayload(page) + r->off, n);
		UnlockReleaseBuffer(buffer);
		out += n;
		len -= n;
		r->off += n;
	}
}

bool
inv_pend_next(InvPendReader *r, InvPendRecord *hdr, int32 **indices, float4 **values)
{
	if (r->remaining == 0)
		return false;
	r->remaining--;
	inv_pend_read_bytes(r, hdr, sizeof(InvPendRecord));
	if (hdr->nnz < 0 || hdr->nnz > SVEC_MAX_NNZ)
		ereport(ERROR,
				(errcode(ERRCODE_INDEX_CORRUPTED),
				 errmsg("inverted index \"%s\": bad pending record",
						RelationGetRelationName(r->index))));
	*indices = NULL;
	*values = NULL;
	if (hdr->nnz > 0)
	{
		*indices = palloc(sizeof(int32) * hdr->nnz);
		*values = palloc(sizeof(float4) * hdr->nnz);
		inv_pend_read_bytes(r, *indices, sizeof(int32) * hdr->nnz);
		inv_pend_read_bytes(r, *values, sizeof(float4) * hdr->nnz);
	}
	return true;
}

/*
 * Hand every page of a pending chain (which the caller is detaching) to
 * meta's free list, consecutive blocks as one run.  The pages keep their
 * contents until reused.
 */
void
inv_pending_free_pages(Relation index, InvMetaPageData *meta, BlockNumber head,
					   FullTransactionId safexid)
{
	inv_pending_free_until(index, meta, head, InvalidBlockNumber, safexid);
}

/*
 * The same for the pages from head up to stop (not included), which must
 * be on the chain; InvalidBlockNumber for every page to the end.
 */
void
inv_pending_free_until(Relation index, InvMetaPageData *meta, BlockNumber head,
					   BlockNumber stop, FullTransactionId safexid)
{
	BlockNumber runstart = InvalidBlockNumber;
	BlockNumber runlen = 0;
	BlockNumber nblocks = RelationGetNumberOfBlocks(index);
	BlockNumber seen = 0;

	while (head != stop)
	{
		Buffer		buffer;
		BlockNumber next;

		CHECK_FOR_INTERRUPTS();
		/* a corrupt chain must not loop forever */
		if (head == INV_METAPAGE_BLKNO || head >= nblocks || ++seen > nblocks)
			ereport(ERROR,
					(errcode(ERRCODE_INDEX_CORRUPTED),
					 errmsg("inverted index \"%s\": bad pending list",
							RelationGetRelationName(index))));
		buffer = ReadBuffer(index, head);
		LockBuffer(buffer, BUFFER_LOCK_SHARE);
		next = InvPageGetOpaque(BufferGetPage(buffer))->next;
		UnlockReleaseBuffer(buffer);
		if (runlen > 0 && head == runstart + runlen)
			runlen++;
		else
		{
			inv_free_extent(index, meta, runstart, runlen, safexid);
			runstart = head;
			runlen = 1;
		}
		head = next;
	}
	inv_free_extent(index, meta, runstart, runlen, safexid);
}
