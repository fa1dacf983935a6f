/*
 * build.c - CREATE INDEX / REINDEX for `inverted`: the heap's documents are
 * accumulated in memory and written as one segment behind the metapage.
 * When they do not fit in maintenance_work_mem they are spilled as sorted
 * runs and merged into that one segment (build_runs.c); with
 * max_parallel_maintenance_workers, workers and the leader spool their
 * share of the heap and the leader merges everyone's runs
 * (build_parallel.c).
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

#include "build.h"

void
inv_build_callback(Relation index, ItemPointer tid, Datum *values, bool *isnull,
				   bool tupleIsAlive, void *state)
{
	InvSpool   *sp = (InvSpool *) state;

	if (isnull[0])
		inv_spool_add(sp, tid, INV_DOC_NULL, 0, INV_DIM_NONE, 0, NULL, NULL);
	else
	{
		MemoryContext old = MemoryContextSwitchTo(sp->tmpctx);
		SVec	   *v = DatumGetSVec(values[0]);
		double		n2 = svec_norm2(v);

		MemoryContextSwitchTo(old);
		inv_spool_add(sp, tid, 0, n2, v->dim, v->nnz, v->indices, SVEC_VALUES(v));
		MemoryContextReset(sp->tmpctx);
	}
	sp->indtuples += 1;
	if (++sp->unreported == 256)
	{
		uint64		done = (uint64) sp->indtuples;

		if (sp->tuples_done)
			done = pg_atomic_add_fetch_u64(sp->tuples_done, sp->unreported);
		sp->unreported = 0;
		if (sp->progress)
			pgstat_progress_update_param(PROGRESS_CREATEIDX_TUPLES_DONE, (int64) done);
	}
	else if (sp->progress && sp->tuples_done)
	{
		/* the leader: everyone's tuples, however slowly its own come */
		pgstat_progress_update_param(PROGRESS_CREATEIDX_TUPLES_DONE,
									 (int64) (pg_atomic_read_u64(sp->tuples_done) + sp->unreported));
	}
}

IndexBuildResult *
invbuild(Relation heap, Relation index, IndexInfo *indexInfo)
{
	IndexBuildResult *result;
	InvParallelBuild *pb;
	InvSegSource *src = NULL;
	InvSpool	sp;
	Buffer		metabuf;
	GenericXLogState *state;
	Page		page;
	double		reltuples;
	double		indtuples;
	uint32		flags;
	bool		reused;
	bool		have = false;
	InvSegRef	ref;

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

	pgstat_progress_update_param(PROGRESS_CREATEIDX_SUBPHASE, INV_BUILD_PHASE_LOAD);
	pb = inv_parallel_begin(heap, index, indexInfo, flags);
	if (pb != NULL)
	{
		inv_parallel_scan(pb, &reltuples, &indtuples);
		pgstat_progress_update_param(PROGRESS_CREATEIDX_TUPLES_TOTAL, (int64) indtuples);
		src = inv_parallel_runs(pb);
		if (src->ndocs > 0)
		{
			pgstat_progress_update_param(PROGRESS_CREATEIDX_SUBPHASE, INV_BUILD_PHASE_MERGE);
			ref = inv_segment_write_source(index, src, NULL);
			have = true;
		}
		inv_runs_close(src);
		/* the runs' files go with the parallel context */
		inv_parallel_end(pb);
	}
	else
	{
		Size		budget = inv_build_budget(1);

		inv_spool_init(&sp, flags, budget, NULL, 0);
		sp.reorder = inv_reorder_enabled(index);
		sp.hint = inv_build_hint(heap, 1);
		sp.progress = true;
		reltuples = table_index_build_scan(heap, index, indexInfo, true, true,
										   inv_build_callback, (void *) &sp, NULL);
		indtuples = sp.indtuples;
		pgstat_progress_update_param(PROGRESS_CREATEIDX_TUPLES_TOTAL, (int64) indtuples);
		pgstat_progress_update_param(PROGRESS_CREATEIDX_TUPLES_DONE, (int64) indtuples);
		if (sp.nruns == 0)
		{
			/* everything fit: one segment straight from memory */
			ereport(DEBUG1,
					(errmsg("inverted build: %.0f documents in memory, at most %zu kB",
							indtuples, sp.peak / 1024)));
			if (sp.acc.ndocs > 0)
			{
				pgstat_progress_update_param(PROGRESS_CREATEIDX_SUBPHASE, INV_BUILD_PHASE_WRITE);
				ref = inv_segment_write(index, &sp.acc, NULL);
				have = true;
			}
		}
		else
		{
			src = inv_runs_open_local(&sp, budget);
			ereport(DEBUG1,
					(errmsg("inverted build: %.0f documents in %u sorted runs, at most %zu kB in memory",
							indtuples, inv_runs_count(src), sp.peak / 1024)));
			pgstat_progress_update_param(PROGRESS_CREATEIDX_SUBPHASE, INV_BUILD_PHASE_MERGE);
			ref = inv_segment_write_source(index, src, NULL);
			have = true;
			inv_runs_close(src);
		}
		inv_spool_free(&sp);
	}

	if (have)
	{
		/*
		 * One segment: a scan pays per segment (each has its own directory,
		 * descriptors and pruning bar), so a fresh build is one, whatever
		 * the number of runs or workers; later ones come from size-tiered
		 * merges (vacuum.c), O(log n) of them.
		 */
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

	result = (IndexBuildResult *) palloc(sizeof(IndexBuildResult));
	result->heap_tuples = reltuples;
	result->index_tuples = indtuples;
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
		case INV_BUILD_PHASE_RUN:
			return "writing sorted run";
		case INV_BUILD_PHASE_MERGE:
			return "merging runs into segment";
		default:
			return NULL;
	}
}
