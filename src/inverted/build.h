/*
 * build.h - the parts of CREATE INDEX shared by build.c (the callback and
 * the serial build), build_runs.c (sorted runs in temporary files and their
 * merge into one segment) and build_parallel.c (workers).
 */
#ifndef SPARSECLIP_INVERTED_BUILD_H
#define SPARSECLIP_INVERTED_BUILD_H

#include "nodes/execnodes.h"
#include "port/atomics.h"
#include "storage/buffile.h"
#include "storage/sharedfileset.h"

#include "inverted.h"

/* What an accumulated posting costs while a run is sorted: it and its copy. */
#define INV_SPOOL_POST_BYTES	(2 * sizeof(InvPosting))
/* a document: its doc-table entry and dimension, and its sketch while a run is reordered */
#define INV_SPOOL_DOC_BYTES		(sizeof(InvDoc) + sizeof(int32) + INV_REORDER_DOC_BYTES)

typedef struct InvRunInfo
{
	uint32		ndocs;			/* a multiple of INV_RANGE_DOCS */
	uint32		ndims;
	uint64		npost;
} InvRunInfo;

/*
 * One participant's documents: accumulated in memory up to its budget, then
 * written out as a run of whole ranges (see build_runs.c); the last
 * documents, less than a range, are its tail.  fileset NULL: private
 * temporary files (a serial build); else files named after the participant
 * in the build's shared file set.
 */
typedef struct InvSpool
{
	InvAccum	acc;
	uint32		flags;
	Size		budget;
	uint64		hint;			/* postings expected, to size the first growth */
	SharedFileSet *fileset;
	int			participant;
	uint32		nruns;
	uint32		maxruns;
	InvRunInfo *runs;
	BufFile   **runfiles;		/* private files only: 3 a run */
	BufFile    *docfile;
	InvPosting *sortbuf;		/* the sort's second array, kept between runs */
	uint64		sortcap;
	double		indtuples;
	uint64		unreported;		/* tuples not yet added to *tuples_done */
	pg_atomic_uint64 *tuples_done;	/* parallel: every participant's count */
	bool		progress;		/* report progress (the leader) */
	bool		reorder;		/* number each run's documents (index option reorder) */
	Size		peak;			/* most bytes accounted at once */
	MemoryContext tmpctx;
} InvSpool;

extern Size inv_build_budget(int participants);
extern uint64 inv_build_hint(Relation heap, int participants);
extern void inv_spool_init(InvSpool *sp, uint32 flags, Size budget,
						   SharedFileSet *fileset, int participant);
extern void inv_spool_add(InvSpool *sp, ItemPointer tid, uint16 flags, double norm2,
						  int32 dim, int32 nnz, const int32 *indices, const float4 *values);
extern void inv_spool_flush(InvSpool *sp);
extern void inv_spool_finish_shared(InvSpool *sp);
extern Size inv_spool_bytes(uint64 npost, uint64 ndocs);
extern void inv_spool_free(InvSpool *sp);

/* the callback of table_index_build_scan; state is an InvSpool */
extern void inv_build_callback(Relation index, ItemPointer tid, Datum *values, bool *isnull,
							   bool tupleIsAlive, void *state);

/* The runs of a private spool, or of every participant of a parallel build. */
extern InvSegSource *inv_runs_open_local(InvSpool *sp, Size budget);
extern InvSegSource *inv_runs_open_shared(SharedFileSet *fileset, int nparticipants,
										  uint32 flags, Size budget);
extern uint32 inv_runs_count(InvSegSource *src);
extern void inv_runs_close(InvSegSource *src);

/* build_parallel.c: the documents of the heap, spooled by workers and the leader */
typedef struct InvParallelBuild InvParallelBuild;
extern InvParallelBuild *inv_parallel_begin(Relation heap, Relation index, IndexInfo *indexInfo,
											uint32 flags);
extern void inv_parallel_scan(InvParallelBuild *pb, double *reltuples, double *indtuples);
extern InvSegSource *inv_parallel_runs(InvParallelBuild *pb);
extern void inv_parallel_end(InvParallelBuild *pb);

#endif
