/*
 * insert.c - INSERT/UPDATE for `inverted`: append the document to the
 * pending list; fold the list into a segment once it is long.
 */
#include "postgres.h"

#include "access/generic_xlog.h"
#include "nodes/execnodes.h"
#include "miscadmin.h"
#include "storage/bufmgr.h"
#include "utils/memutils.h"
#include "utils/rel.h"

#include "inverted.h"

bool
invinsert(Relation index, Datum *values, bool *isnull, ItemPointer ht_ctid,
		  Relation heapRel, IndexUniqueCheck checkUnique, bool indexUnchanged,
		  IndexInfo *indexInfo)
{
	MemoryContext tmp = AllocSetContextCreate(CurrentMemoryContext, "inverted insert",
											  ALLOCSET_DEFAULT_SIZES);
	MemoryContext old = MemoryContextSwitchTo(tmp);
	InvPendRecord hdr;
	SVec	   *v = NULL;
	Buffer		metabuf;
	InvMetaPageData *meta;
	bool		merge = false;

	memset(&hdr, 0, sizeof(hdr));
	hdr.tid = *ht_ctid;
	if (isnull[0])
	{
		hdr.flags = INV_DOC_NULL;
		hdr.dim = 0;
		hdr.nnz = 0;
	}
	else
	{
		v = DatumGetSVec(values[0]);
		hdr.dim = v->dim;
		hdr.nnz = v->nnz;
		hdr.norm2 = svec_norm2(v);
	}

	metabuf = ReadBuffer(index, INV_METAPAGE_BLKNO);
	LockBuffer(metabuf, BUFFER_LOCK_EXCLUSIVE);
	meta = InvPageGetMeta(BufferGetPage(metabuf));
	inv_check_meta(index, meta);

	/* keep the index-wide dimension up to date before the record lands */
	if (v != NULL && inv_combine_dim(meta->dim, v->dim) != meta->dim)
	{
		GenericXLogState *state = GenericXLogStart(index);
		Page		mp = GenericXLogRegisterBuffer(state, metabuf, 0);

		InvPageGetMeta(mp)->dim = inv_combine_dim(meta->dim, v->dim);
		GenericXLogFinish(state);
	}

	inv_pending_append(index, metabuf, &hdr,
					   v ? v->indices : NULL, v ? SVEC_VALUES(v) : NULL);

	meta = InvPageGetMeta(BufferGetPage(metabuf));
	if (inv_pending_limit > 0 && meta->pend_count >= (uint32) inv_pending_limit &&
		meta->nsegments < INV_MAX_SEGMENTS - 1)
		merge = true;
	LockBuffer(metabuf, BUFFER_LOCK_UNLOCK);

	/*
	 * Fold the pending list into a segment, unless a merge is running (then
	 * it, a later insert or VACUUM does it).  Other inserts and scans go on
	 * meanwhile; this one waits for the merge it does.
	 */
	if (merge && inv_merge_lock(index, metabuf, false))
	{
		InvMetaPageData now;

		/* the merge that held the lock may just have folded the list */
		inv_meta_copy(metabuf, &now);
		if (now.pend_count >= (uint32) inv_pending_limit)
		{
			inv_merge_pending(index, metabuf, NULL, NULL, NULL);
			inv_maintain(index, metabuf, true, NULL, NULL, NULL);
		}
		inv_merge_unlock(index);
	}
	ReleaseBuffer(metabuf);

	MemoryContextSwitchTo(old);
	MemoryContextDelete(tmp);
	return false;
}
