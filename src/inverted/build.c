/*
 * build.c - CREATE INDEX / REINDEX for `inverted`: one heap scan into memory,
 * then one segment written behind the metapage.
 */
#include "postgres.h"

#include "access/genam.h"
#include "access/generic_xlog.h"
#include "access/tableam.h"
#include "catalog/index.h"
#include "commands/progress.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "storage/bufmgr.h"
#include "storage/smgr.h"
#include "utils/memutils.h"
#include "utils/rel.h"

#include "inverted.h"

typedef struct InvBuildState
{
	InvAccum	acc;
	int32		dim;
	double		indtuples;
	MemoryContext tmpctx;
} InvBuildState;

static void
inv_build_callback(Relation index, ItemPointer tid, Datum *values, bool *isnull,
				   bool tupleIsAlive, void *state)
{
	InvBuildState *bs = (InvBuildState *) state;
	MemoryContext old = MemoryContextSwitchTo(bs->tmpctx);

	if (isnull[0])
	{
		MemoryContextSwitchTo(old);
		inv_accum_add_doc(&bs->acc, tid, INV_DOC_NULL, 0, INV_DIM_NONE, 0, NULL, NULL);
	}
	else
	{
		SVec	   *v = DatumGetSVec(values[0]);
		float4	   *vals = SVEC_VALUES(v);
		double		n2 = svec_norm2(v);

		bs->dim = inv_combine_dim(bs->dim, v->dim);
		MemoryContextSwitchTo(old);
		inv_accum_add_doc(&bs->acc, tid, 0, n2, v->dim, v->nnz, v->indices, vals);
	}
	MemoryContextReset(bs->tmpctx);
	bs->indtuples += 1;
	if (((uint64) bs->indtuples & 1023) == 0)
		pgstat_progress_update_param(PROGRESS_CREATEIDX_TUPLES_DONE, (int64) bs->indtuples);
}

IndexBuildResult *
invbuild(Relation heap, Relation index, IndexInfo *indexInfo)
{
	IndexBuildResult *result;
	InvBuildState bs;
	Buffer		metabuf;
	GenericXLogState *state;
	Page		page;
	double		reltuples;
	uint32		flags;
	bool		reused;

	if (RelationGetNumberOfBlocks(index) != 0)
		elog(ERROR, "index \"%s\" already contains data", RelationGetRelationName(index));
	flags = inv_index_flags(index);

	/* metapage first, so that it is block 0 */
	metabuf = inv_new_buffer(index, NULL, &reused);
	Assert(BufferGetBlockNumber(metabuf) == INV_METAPAGE_BLKNO);
	state = GenericXLogStart(index);
	page = GenericXLogRegisterBuffer(state, metabuf, GENERIC_XLOG_FULL_IMAGE);
	inv_fill_metapage(index, page);
	GenericXLogFinish(state);
	LockBuffer(metabuf, BUFFER_LOCK_UNLOCK);

	memset(&bs, 0, sizeof(bs));
	inv_accum_init(&bs.acc, flags);
	bs.dim = INV_DIM_NONE;
	bs.tmpctx = AllocSetContextCreate(CurrentMemoryContext, "inverted build tuple",
									  ALLOCSET_DEFAULT_SIZES);

	pgstat_progress_update_param(PROGRESS_CREATEIDX_SUBPHASE, INV_BUILD_PHASE_LOAD);
	reltuples = table_index_build_scan(heap, index, indexInfo, true, true,
									   inv_build_callback, (void *) &bs, NULL);
	pgstat_progress_update_param(PROGRESS_CREATEIDX_TUPLES_TOTAL, (int64) bs.indtuples);

	if (bs.acc.ndocs > 0)
	{
		/*
		 * One segment: a scan pays per segment (each has its own directory,
		 * descriptors and pruning bar), so a fresh build is one; merges and
		 * compaction keep later segments to an eighth of the index.
		 */
		InvSegRef	ref;

		pgstat_progress_update_param(PROGRESS_CREATEIDX_SUBPHASE, INV_BUILD_PHASE_WRITE);
		ref = inv_segment_write(index, &bs.acc, NULL);

		LockBuffer(metabuf, BUFFER_LOCK_EXCLUSIVE);
		state = GenericXLogStart(index);
		page = GenericXLogRegisterBuffer(state, metabuf, 0);
		InvPageGetMeta(page)->segs[0] = ref;
		InvPageGetMeta(page)->nsegments = 1;
		InvPageGetMeta(page)->dim = ref.dim;
		GenericXLogFinish(state);
		LockBuffer(metabuf, BUFFER_LOCK_UNLOCK);
	}
	ReleaseBuffer(metabuf);
	inv_accum_free(&bs.acc);
	MemoryContextDelete(bs.tmpctx);

	result = (IndexBuildResult *) palloc(sizeof(IndexBuildResult));
	result->heap_tuples = reltuples;
	result->index_tuples = bs.indtuples;
	return result;
}

/* The init fork of an unlogged index: just the metapage. */
void
invbuildempty(Relation index)
{
	Page		metapage = (Page) palloc(BLCKSZ);

	inv_fill_metapage(index, metapage);
	PageSetChecksumInplace(metapage, INV_METAPAGE_BLKNO);
	smgrwrite(RelationGetSmgr(index), INIT_FORKNUM, INV_METAPAGE_BLKNO,
			  (char *) metapage, true);
	log_newpage(&(RelationGetSmgr(index))->smgr_rnode.node, INIT_FORKNUM,
				INV_METAPAGE_BLKNO, metapage, true);
	smgrimmedsync(RelationGetSmgr(index), INIT_FORKNUM);
}

char *
invbuildphasename(int64 phasenum)
{
	switch (phasenum)
	{
		case PROGRESS_CREATEIDX_SUBPHASE_INITIALIZE:
			return "initializing";
		case INV_BUILD_PHASE_LOAD:
			return "loading tuples";
		case INV_BUILD_PHASE_SORT:
			return "sorting postings";
		case INV_BUILD_PHASE_WRITE:
			return "writing segment";
		default:
			return NULL;
	}
}
