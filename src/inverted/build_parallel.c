/*
 * build_parallel.c - CREATE INDEX with max_parallel_maintenance_workers, as
 * nbtree does it (PostgreSQL 15 has no amcanbuildparallel for other access
 * methods, so, like pgvector's HNSW build, the access method runs its own
 * parallel context).  Workers and the leader each take blocks of one
 * parallel heap scan into a spool of their share of maintenance_work_mem,
 * writing sorted runs into a shared file set; the leader then merges
 * everyone's runs into the one segment (build_runs.c), writing every index
 * page itself: workers write no pages and no WAL.
 */
#include "postgres.h"

#include <dlfcn.h>

#include "access/parallel.h"
#include "access/relscan.h"
#include "access/table.h"
#include "access/tableam.h"
#include "access/xact.h"
#include "catalog/index.h"
#include "commands/progress.h"
#include "miscadmin.h"
#include "optimizer/optimizer.h"
#include "pgstat.h"
#include "storage/condition_variable.h"
#include "storage/spin.h"
#include "tcop/tcopprot.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/snapmgr.h"

#include "build.h"

#define INV_KEY_SHARED		UINT64CONST(0x5356495800000001)
#define INV_KEY_QUERY		UINT64CONST(0x5356495800000002)

typedef struct InvBuildShared
{
	Oid			heaprelid;
	Oid			indexrelid;
	bool		isconcurrent;
	uint32		flags;
	Size		budget;			/* each participant's share of maintenance_work_mem */
	int			nparticipants;	/* that the budget was divided by */
	ConditionVariable donecv;
	slock_t		mutex;
	int			ndone;			/* participants finished */
	int			nextid;			/* participant numbers, the leader's 0 */
	double		reltuples;
	double		indtuples;
	pg_atomic_uint64 tuples_done;
	SharedFileSet fileset;
	/* ParallelTableScanDescData follows */
} InvBuildShared;

#define ParallelTableScanFromShared(shared) \
	((ParallelTableScanDesc) ((char *) (shared) + BUFFERALIGN(sizeof(InvBuildShared))))

struct InvParallelBuild
{
	ParallelContext *pcxt;
	InvBuildShared *shared;
	Snapshot	snapshot;
	Relation	heap;
	Relation	index;
	int			nparticipants;	/* launched workers and the leader */
};

PGDLLEXPORT void inv_parallel_build_main(dsm_segment *seg, shm_toc *toc);

/*
 * How many workers: plan_create_index_workers decides whether it is safe
 * (parallel-safe expressions, not a temporary table) and how many the table
 * is worth, with the parallel_workers storage parameter if set.  Unlike
 * nbtree's sorts, a spool with little memory still works (it writes more
 * runs), so the workers are not capped at 32 MB of maintenance_work_mem
 * each: only at 1 MB each, PostgreSQL's smallest maintenance_work_mem.
 */
static int
inv_parallel_workers(Relation heap, Relation index)
{
	int			save = maintenance_work_mem;
	int			n;

	if (max_parallel_maintenance_workers == 0)
		return 0;
	PG_TRY();
	{
		maintenance_work_mem = MAX_KILOBYTES;
		n = plan_create_index_workers(RelationGetRelid(heap), RelationGetRelid(index));
	}
	PG_FINALLY();
	{
		maintenance_work_mem = save;
	}
	PG_END_TRY();
	while (n > 0 && maintenance_work_mem / (n + 1) < 1024)
		n--;
	return n;
}

/* The path of this library, which workers load to find their entry point. */
static const char *
inv_library_path(void)
{
	Dl_info		info;

	if (dladdr((void *) inv_parallel_build_main, &info) == 0 || info.dli_fname == NULL)
		return "sparseclip";
	return info.dli_fname;
}

/* What every participant does: spool its blocks of the heap into runs. */
static void
inv_parallel_participate(InvBuildShared *shared, Relation heap, Relation index,
						 bool leader)
{
	InvSpool	sp;
	IndexInfo  *indexInfo;
	TableScanDesc scan;
	double		reltuples;
	int			id;

	SpinLockAcquire(&shared->mutex);
	id = shared->nextid++;
	SpinLockRelease(&shared->mutex);

	indexInfo = BuildIndexInfo(index);
	indexInfo->ii_Concurrent = shared->isconcurrent;
	inv_spool_init(&sp, shared->flags, shared->budget, &shared->fileset, id);
	sp.hint = inv_build_hint(heap, shared->nparticipants);
	sp.tuples_done = &shared->tuples_done;
	sp.progress = leader;
	sp.reorder = inv_reorder_enabled(index);
	scan = table_beginscan_parallel(heap, ParallelTableScanFromShared(shared));
	reltuples = table_index_build_scan(heap, index, indexInfo, true, leader,
									   inv_build_callback, (void *) &sp, scan);
	pg_atomic_add_fetch_u64(&shared->tuples_done, sp.unreported);
	inv_spool_finish_shared(&sp);
	ereport(DEBUG1,
			(errmsg("inverted build: participant %d (%s) spooled %.0f documents in %u sorted runs, at most %zu kB in memory",
					id, leader ? "leader" : "worker", sp.indtuples, sp.nruns, sp.peak / 1024)));
	inv_spool_free(&sp);

	SpinLockAcquire(&shared->mutex);
	shared->ndone++;
	shared->reltuples += reltuples;
	shared->indtuples += sp.indtuples;
	SpinLockRelease(&shared->mutex);
	ConditionVariableSignal(&shared->donecv);
}

void
inv_parallel_build_main(dsm_segment *seg, shm_toc *toc)
{
	InvBuildShared *shared;
	Relation	heap;
	Relation	index;
	LOCKMODE	heapmode;
	LOCKMODE	indexmode;

	debug_query_string = shm_toc_lookup(toc, INV_KEY_QUERY, true);
	pgstat_report_activity(STATE_RUNNING, debug_query_string);
	shared = shm_toc_lookup(toc, INV_KEY_SHARED, false);

	/* the lock modes index.c holds in the leader */
	if (!shared->isconcurrent)
	{
		heapmode = ShareLock;
		indexmode = AccessExclusiveLock;
	}
	else
	{
		heapmode = ShareUpdateExclusiveLock;
		indexmode = RowExclusiveLock;
	}
	heap = table_open(shared->heaprelid, heapmode);
	index = index_open(shared->indexrelid, indexmode);
	SharedFileSetAttach(&shared->fileset, seg);

	inv_parallel_participate(shared, heap, index, false);

	index_close(index, indexmode);
	table_close(heap, heapmode);
}

/*
 * Start workers for a build, or return NULL for a serial one (no workers
 * wanted, none could start, or no dynamic shared memory).
 */
InvParallelBuild *
inv_parallel_begin(Relation heap, Relation index, IndexInfo *indexInfo, uint32 flags)
{
	InvParallelBuild *pb;
	ParallelContext *pcxt;
	InvBuildShared *shared;
	Snapshot	snapshot;
	Size		est;
	int			request;
	int			querylen = 0;

	if (heap == NULL || !IsNormalProcessingMode() || IsInParallelMode())
		return NULL;
	request = inv_parallel_workers(heap, index);
	if (request <= 0)
		return NULL;

	EnterParallelMode();
	pcxt = CreateParallelContext(inv_library_path(), "inv_parallel_build_main", request);

	/* as nbtree: every tuple for a plain build, an MVCC snapshot for CONCURRENTLY */
	if (!indexInfo->ii_Concurrent)
		snapshot = SnapshotAny;
	else
		snapshot = RegisterSnapshot(GetTransactionSnapshot());

	est = add_size(BUFFERALIGN(sizeof(InvBuildShared)), table_parallelscan_estimate(heap, snapshot));
	shm_toc_estimate_chunk(&pcxt->estimator, est);
	shm_toc_estimate_keys(&pcxt->estimator, 1);
	if (debug_query_string)
	{
		querylen = strlen(debug_query_string);
		shm_toc_estimate_chunk(&pcxt->estimator, querylen + 1);
		shm_toc_estimate_keys(&pcxt->estimator, 1);
	}
	InitializeParallelDSM(pcxt);
	if (pcxt->seg == NULL)
	{
		if (IsMVCCSnapshot(snapshot))
			UnregisterSnapshot(snapshot);
		DestroyParallelContext(pcxt);
		ExitParallelMode();
		return NULL;
	}

	shared = (InvBuildShared *) shm_toc_allocate(pcxt->toc, est);
	memset(shared, 0, sizeof(InvBuildShared));
	shared->heaprelid = RelationGetRelid(heap);
	shared->indexrelid = RelationGetRelid(index);
	shared->isconcurrent = indexInfo->ii_Concurrent;
	shared->flags = flags;
	/* divided as nbtree divides it: the requested workers and the leader */
	shared->nparticipants = request + 1;
	shared->budget = inv_build_budget(request + 1);
	ConditionVariableInit(&shared->donecv);
	SpinLockInit(&shared->mutex);
	pg_atomic_init_u64(&shared->tuples_done, 0);
	SharedFileSetInit(&shared->fileset, pcxt->seg);
	table_parallelscan_initialize(heap, ParallelTableScanFromShared(shared), snapshot);
	shm_toc_insert(pcxt->toc, INV_KEY_SHARED, shared);
	if (debug_query_string)
	{
		char	   *q = shm_toc_allocate(pcxt->toc, querylen + 1);

		memcpy(q, debug_query_string, querylen + 1);
		shm_toc_insert(pcxt->toc, INV_KEY_QUERY, q);
	}

	LaunchParallelWorkers(pcxt);
	pb = palloc0(sizeof(InvParallelBuild));
	pb->pcxt = pcxt;
	pb->shared = shared;
	pb->snapshot = snapshot;
	pb->heap = heap;
	pb->index = index;
	pb->nparticipants = pcxt->nworkers_launched + 1;
	if (pcxt->nworkers_launched == 0)
	{
		inv_parallel_end(pb);
		return NULL;
	}
	ereport(DEBUG1,
			(errmsg("inverted build: %d parallel workers, %zu kB of maintenance_work_mem each with the leader",
					pcxt->nworkers_launched, shared->budget / 1024)));
	return pb;
}

/*
 * The leader's share of the scan, then wait for the workers, reporting
 * everyone's tuples as they come.
 */
void
inv_parallel_scan(InvParallelBuild *pb, double *reltuples, double *indtuples)
{
	InvBuildShared *shared = pb->shared;

	inv_parallel_participate(shared, pb->heap, pb->index, true);
	/* a worker that failed to start must not leave us waiting */
	WaitForParallelWorkersToAttach(pb->pcxt);
	for (;;)
	{
		int			done;

		SpinLockAcquire(&shared->mutex);
		done = shared->ndone;
		SpinLockRelease(&shared->mutex);
		pgstat_progress_update_param(PROGRESS_CREATEIDX_TUPLES_DONE,
									 (int64) pg_atomic_read_u64(&shared->tuples_done));
		if (done == pb->nparticipants)
			break;
		ConditionVariableTimedSleep(&shared->donecv, 100L, WAIT_EVENT_PARALLEL_CREATE_INDEX_SCAN);
	}
	ConditionVariableCancelSleep();
	*reltuples = shared->reltuples;
	*indtuples = shared->indtuples;
}

/* Everyone's runs, to merge: open while the parallel context lasts. */
InvSegSource *
inv_parallel_runs(InvParallelBuild *pb)
{
	InvSegSource *src;

	src = inv_runs_open_shared(&pb->shared->fileset, pb->nparticipants, pb->shared->flags,
							   inv_build_budget(1));
	ereport(DEBUG1,
			(errmsg("inverted build: merging %u sorted runs of %d participants into one segment",
					inv_runs_count(src), pb->nparticipants)));
	return src;
}

void
inv_parallel_end(InvParallelBuild *pb)
{
	WaitForParallelWorkersToFinish(pb->pcxt);
	if (IsMVCCSnapshot(pb->snapshot))
		UnregisterSnapshot(pb->snapshot);
	DestroyParallelContext(pb->pcxt);
	ExitParallelMode();
}
