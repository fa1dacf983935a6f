/*
 * build_runs.c - a build within maintenance_work_mem.
 *
 * Documents accumulate in memory until the next one would pass the
 * participant's budget; then the whole ranges among them (a multiple of
 * INV_RANGE_DOCS documents; the rest stay for the next run) become a "run":
 * their postings are sorted by dimension and encoded exactly as a segment
 * stores them, with ranges counted from the run's start, into three
 * temporary files (the run's dimension directory, its range descriptors,
 * its posting bytes), and the documents are appended to the participant's
 * document file.  What is left at the end, less than a range per
 * participant, is its "tail".
 *
 * The segment is then the runs one after the other, then the tails: as
 * every run holds whole ranges, a run's pieces are the segment's pieces
 * once its first range is added to theirs, so the merge copies each run's
 * descriptors and posting bytes dimension by dimension (run after run, so
 * in document order) and encodes only the tails' few postings.  Merging
 * costs about what writing the segment costs; a parallel build's workers do
 * the sorting and encoding.
 */
#include "postgres.h"

#include <math.h>

#include "commands/progress.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "utils/memutils.h"
#include "utils/rel.h"

#include "build.h"

/* A run's directory entry: one dim's pieces in the run. */
typedef struct InvRunDim
{
	int32		dim;
	uint32		ndesc;
	uint64		nbytes;
	uint64		npost;
	float4		maxpos;
	float4		maxneg;
} InvRunDim;

/* A participant's tail, in its file: this header, docs, dims, raw postings. */
typedef struct InvTailHeader
{
	uint32		ndocs;
	uint32		unused;
	uint64		npost;
} InvTailHeader;

#define INV_RUN_DIR		0
#define INV_RUN_DESC	1
#define INV_RUN_DATA	2
static const char *const inv_run_part[] = {"dir", "desc", "data"};

Size
inv_build_budget(int participants)
{
	return (Size) maintenance_work_mem * 1024 / Max(participants, 1);
}

/*
 * The postings a participant can expect: an svec takes 8 bytes a non-zero
 * in the heap.  The accumulator's first growth goes straight there (within
 * the budget), rather than doubling through sizes that the allocator keeps
 * mapped: a doubled array leaves as much again behind it.
 */
uint64
inv_build_hint(Relation heap, int participants)
{
	return (uint64) RelationGetNumberOfBlocks(heap) * BLCKSZ / 8 / Max(participants, 1);
}

Size
inv_spool_bytes(uint64 npost, uint64 ndocs)
{
	return (Size) (npost * INV_SPOOL_POST_BYTES + ndocs * INV_SPOOL_DOC_BYTES);
}

static void
inv_file_read(BufFile *file, void *dst, size_t len)
{
	if (BufFileRead(file, dst, len) != len)
		ereport(ERROR,
				(errcode_for_file_access(),
				 errmsg("could not read from an inverted index build's temporary file")));
}

static void
inv_file_seek(BufFile *file, uint64 off)
{
	if (BufFileSeek(file, 0, (off_t) off, SEEK_SET) != 0)
		ereport(ERROR,
				(errcode_for_file_access(),
				 errmsg("could not seek in an inverted index build's temporary file")));
}

static void
inv_file_sink(void *arg, const void *data, size_t len)
{
	BufFileWrite((BufFile *) arg, (void *) data, len);
}

/* Make room for npost more postings and ndocs more documents. */
static void
inv_accum_grow(InvAccum *acc, uint64 npost, uint64 ndocs, Size budget, uint64 hint)
{
	uint64		needpost = acc->npost + npost;
	uint64		needdocs = (uint64) acc->ndocs + ndocs;

	if (needpost > acc->maxpost)
	{
		uint64		cap = budget / INV_SPOOL_POST_BYTES;
		uint64		newmax = Max(needpost, Min(Max(acc->maxpost * 2, hint), cap));

		acc->post = repalloc_huge(acc->post, sizeof(InvPosting) * newmax);
		acc->maxpost = newmax;
	}
	if (needdocs > acc->maxdocs)
	{
		uint64		cap = budget / INV_SPOOL_DOC_BYTES;
		uint64		newmax = Max(needdocs, Min((uint64) acc->maxdocs * 2, cap));

		if (newmax >= PG_UINT32_MAX / 2)
			ereport(ERROR,
					(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
					 errmsg("too many documents for one inverted index segment")));
		acc->docs = repalloc_huge(acc->docs, sizeof(InvDoc) * newmax);
		acc->dims = repalloc_huge(acc->dims, sizeof(int32) * newmax);
		acc->maxdocs = (uint32) newmax;
	}
}

void
inv_spool_init(InvSpool *sp, uint32 flags, Size budget, SharedFileSet *fileset, int participant)
{
	memset(sp, 0, sizeof(*sp));
	inv_accum_init(&sp->acc, flags);
	sp->flags = flags;
	sp->budget = Max(budget, (Size) 64 * 1024);
	sp->fileset = fileset;
	sp->participant = participant;
	sp->tmpctx = AllocSetContextCreate(CurrentMemoryContext, "inverted build tuple",
									   ALLOCSET_DEFAULT_SIZES);
}

/*
 * Add a document.  When it would take the accumulator past the budget, the
 * whole ranges so far become a run first.  The arrays grow by doubling, but
 * no further than the budget allows, except that a run holds at least one
 * range (1,024 documents, however large).
 */
void
inv_spool_add(InvSpool *sp, ItemPointer tid, uint16 flags, double norm2,
			  int32 dim, int32 nnz, const int32 *indices, const float4 *values)
{
	InvAccum   *acc = &sp->acc;
	uint64		n = (uint64) Max(nnz, 0);

	if (acc->ndocs >= INV_RANGE_DOCS &&
		inv_spool_bytes(acc->npost + n, (uint64) acc->ndocs + 1) > sp->budget)
		inv_spool_flush(sp);
	inv_accum_grow(acc, n, 1, sp->budget, sp->hint);
	inv_accum_add_doc(acc, tid, flags, norm2, dim, nnz, indices, values);
	sp->peak = Max(sp->peak, inv_spool_bytes(acc->npost, acc->ndocs));
}

static BufFile *
inv_spool_create(InvSpool *sp, const char *what, uint32 run)
{
	char		name[MAXPGPATH];

	if (sp->fileset == NULL)
		return BufFileCreateTemp(false);
	snprintf(name, sizeof(name), "inv.%d.%s.%u", sp->participant, what, run);
	return BufFileCreateFileSet(&sp->fileset->fs, name);
}

/*
 * Write the whole ranges of the accumulator as a run: its postings sorted
 * and encoded, its documents appended to the document file; the rest of
 * the documents move to the front.
 */
void
inv_spool_flush(InvSpool *sp)
{
	InvAccum   *acc = &sp->acc;
	uint32		k = acc->ndocs & ~(uint32) (INV_RANGE_DOCS - 1);
	uint64		m = acc->npost;
	uint64		i;
	BufFile    *f[3];
	InvPieceIter it;
	InvPiece   *piece;
	InvRunDim	rd;
	InvRunInfo *info;
	int32		dim;
	int			part;

	if (k == 0)
		return;
	pgstat_progress_update_param(PROGRESS_CREATEIDX_SUBPHASE, INV_BUILD_PHASE_SORT);
	/* the sort's array lives as long as the postings' (allocated once, as they are) */
	if (sp->sortcap < acc->maxpost)
	{
		if (sp->sortbuf)
			pfree(sp->sortbuf);
		sp->sortbuf = MemoryContextAllocHuge(CurrentMemoryContext, sizeof(InvPosting) * acc->maxpost);
		sp->sortcap = acc->maxpost;
	}
	/*
	 * similar documents together, among those in memory: the run takes the
	 * first whole ranges of that order, the rest wait for the next run
	 */
	if (sp->reorder)
		inv_reorder(acc, sp->sortbuf);
	/* postings are in document order: those of the run come first */
	while (m > 0 && acc->post[m - 1].docno >= k)
		m--;
	inv_sort_postings_with(acc->post, m, sp->sortbuf);
	pgstat_progress_update_param(PROGRESS_CREATEIDX_SUBPHASE, INV_BUILD_PHASE_RUN);

	if (sp->nruns == sp->maxruns)
	{
		sp->maxruns = Max(sp->maxruns * 2, 16);
		sp->runs = sp->runs ? repalloc(sp->runs, sizeof(InvRunInfo) * sp->maxruns)
			: palloc(sizeof(InvRunInfo) * sp->maxruns);
		if (sp->fileset == NULL)
			sp->runfiles = sp->runfiles ? repalloc(sp->runfiles, sizeof(BufFile *) * 3 * sp->maxruns)
				: palloc(sizeof(BufFile *) * 3 * sp->maxruns);
	}
	info = &sp->runs[sp->nruns];
	memset(info, 0, sizeof(*info));
	for (part = 0; part < 3; part++)
		f[part] = inv_spool_create(sp, inv_run_part[part], sp->nruns);

	/* pieces, with ranges counted from the run's start */
	piece = palloc(sizeof(InvPiece));
	inv_piece_iter_init(&it, acc, m, 0);
	memset(&rd, 0, sizeof(rd));
	for (i = 0; inv_piece_iter_peek(&it, &dim); i++)
	{
		InvRangeDesc d;

		if ((i & 0xFFFF) == 0)
			CHECK_FOR_INTERRUPTS();
		if (rd.ndesc > 0 && dim != rd.dim)
		{
			BufFileWrite(f[INV_RUN_DIR], &rd, sizeof(rd));
			info->ndims++;
			memset(&rd, 0, sizeof(rd));
		}
		inv_piece_iter_next(&it, piece);
		rd.dim = dim;
		rd.ndesc++;
		rd.nbytes += inv_piece_bytes(inv_piece_format(piece->count), piece->count);
		rd.npost += piece->count;
		rd.maxpos = Max(rd.maxpos, inv_round_up(piece->maxpos));
		rd.maxneg = Max(rd.maxneg, inv_round_up(piece->maxneg));
		inv_piece_desc(piece, &d);
		BufFileWrite(f[INV_RUN_DESC], &d, sizeof(d));
		inv_piece_emit(piece, inv_file_sink, f[INV_RUN_DATA]);
	}
	if (rd.ndesc > 0)
	{
		BufFileWrite(f[INV_RUN_DIR], &rd, sizeof(rd));
		info->ndims++;
	}
	pfree(piece);
	for (part = 0; part < 3; part++)
	{
		if (sp->fileset == NULL)
			sp->runfiles[3 * sp->nruns + part] = f[part];
		else
			BufFileClose(f[part]);
	}

	/* documents: the doc-table entries, then their dimensions */
	if (sp->docfile == NULL)
		sp->docfile = inv_spool_create(sp, "docs", 0);
	BufFileWrite(sp->docfile, acc->docs, sizeof(InvDoc) * k);
	BufFileWrite(sp->docfile, acc->dims, sizeof(int32) * k);
	info->ndocs = k;
	info->npost = m;
	sp->nruns++;

	/* the rest, renumbered from 0 */
	memmove(acc->post, acc->post + m, sizeof(InvPosting) * (acc->npost - m));
	acc->npost -= m;
	for (i = 0; i < acc->npost; i++)
		acc->post[i].docno -= k;
	memmove(acc->docs, acc->docs + k, sizeof(InvDoc) * (acc->ndocs - k));
	memmove(acc->dims, acc->dims + k, sizeof(int32) * (acc->ndocs - k));
	acc->ndocs -= k;
	pgstat_progress_update_param(PROGRESS_CREATEIDX_SUBPHASE, INV_BUILD_PHASE_LOAD);
}

/*
 * A parallel participant's end: its last whole ranges as a run, its tail,
 * and the list of its runs, for the leader to open once the participant's
 * files are closed.
 */
void
inv_spool_finish_shared(InvSpool *sp)
{
	InvAccum   *acc = &sp->acc;
	InvTailHeader th;
	BufFile    *f;

	Assert(sp->fileset != NULL);
	inv_spool_flush(sp);
	if (sp->docfile)
		BufFileClose(sp->docfile);
	sp->docfile = NULL;

	f = inv_spool_create(sp, "tail", 0);
	memset(&th, 0, sizeof(th));
	th.ndocs = acc->ndocs;
	th.npost = acc->npost;
	BufFileWrite(f, &th, sizeof(th));
	if (acc->ndocs > 0)
	{
		BufFileWrite(f, acc->docs, sizeof(InvDoc) * acc->ndocs);
		BufFileWrite(f, acc->dims, sizeof(int32) * acc->ndocs);
	}
	if (acc->npost > 0)
		BufFileWrite(f, acc->post, sizeof(InvPosting) * acc->npost);
	BufFileClose(f);

	f = inv_spool_create(sp, "list", 0);
	BufFileWrite(f, &sp->nruns, sizeof(uint32));
	if (sp->nruns > 0)
		BufFileWrite(f, sp->runs, sizeof(InvRunInfo) * sp->nruns);
	BufFileClose(f);
}

void
inv_spool_free(InvSpool *sp)
{
	if (sp->sortbuf)
		pfree(sp->sortbuf);
	inv_accum_free(&sp->acc);
	MemoryContextDelete(sp->tmpctx);
}

/* ---------------------------------------------------------- the merge */

typedef struct InvRunCursor
{
	BufFile    *f[3];
	uint32		ndims;
	uint32		dimsleft;		/* directory entries not yet read */
	bool		have;			/* head is the next entry */
	InvRunDim	head;
	uint32		range_base;		/* the run's first range in the segment */
	BufFile    *docfile;
	uint64		docoff;			/* its documents in docfile */
	uint32		ndocs;
} InvRunCursor;

typedef struct InvRunSource
{
	InvSegSource src;
	uint32		nruns;
	InvRunCursor *runs;
	BufFile   **docfiles;		/* one per participant, to close */
	int			ndocfiles;
	InvAccum	tail;			/* every participant's tail, sorted */
	uint32		tail_range;		/* its first range */
	InvPieceIter it;
	InvPiece	piece;
	char	   *buf;			/* for copying */
	uint32		docrun;			/* documents: run, or nruns for the tail */
	uint32		docpos;
} InvRunSource;

#define INV_COPY_BYTES 65536

static void
inv_run_next_dim(InvRunCursor *c)
{
	c->have = c->dimsleft > 0;
	if (c->have)
	{
		inv_file_read(c->f[INV_RUN_DIR], &c->head, sizeof(InvRunDim));
		c->dimsleft--;
	}
}

static void
inv_runs_rewind(InvRunSource *rs, int part)
{
	uint32		r;

	for (r = 0; r < rs->nruns; r++)
	{
		InvRunCursor *c = &rs->runs[r];

		inv_file_seek(c->f[INV_RUN_DIR], 0);
		if (part != INV_RUN_DIR)
			inv_file_seek(c->f[part], 0);
		c->dimsleft = c->ndims;
		inv_run_next_dim(c);
	}
	inv_piece_iter_init(&rs->it, &rs->tail, rs->tail.npost, rs->tail_range);
}

/* The smallest dim left in the runs or the tail; false when none is. */
static bool
inv_runs_min_dim(InvRunSource *rs, int32 *dim)
{
	bool		found;
	int32		d;
	uint32		r;

	CHECK_FOR_INTERRUPTS();
	found = inv_piece_iter_peek(&rs->it, &d);
	for (r = 0; r < rs->nruns; r++)
	{
		InvRunCursor *c = &rs->runs[r];

		if (c->have && (!found || c->head.dim < d))
		{
			d = c->head.dim;
			found = true;
		}
	}
	*dim = d;
	return found;
}

static void
inv_runs_dims_rewind(InvSegSource *src)
{
	inv_runs_rewind((InvRunSource *) src, INV_RUN_DIR);
}

static bool
inv_runs_dim_next(InvSegSource *src, InvDimEntry *e, uint64 *nbytes, uint64 *npost)
{
	InvRunSource *rs = (InvRunSource *) src;
	int32		dim;
	uint32		r;

	if (!inv_runs_min_dim(rs, &dim))
		return false;
	e->dim = dim;
	for (r = 0; r < rs->nruns; r++)
	{
		InvRunCursor *c = &rs->runs[r];

		if (!c->have || c->head.dim != dim)
			continue;
		e->ndesc += c->head.ndesc;
		e->maxpos = Max(e->maxpos, c->head.maxpos);
		e->maxneg = Max(e->maxneg, c->head.maxneg);
		*nbytes += c->head.nbytes;
		*npost += c->head.npost;
		inv_run_next_dim(c);
	}
	inv_piece_iter_dim(&rs->it, dim, &rs->piece, e, nbytes, npost);
	return true;
}

/* Descriptors (part INV_RUN_DESC) or posting bytes (INV_RUN_DATA), dim by dim. */
static void
inv_runs_write(InvRunSource *rs, int part, InvSinkFn sink, void *arg)
{
	int32		dim;
	int32		d;

	inv_runs_rewind(rs, part);
	while (inv_runs_min_dim(rs, &dim))
	{
		uint32		r;

		for (r = 0; r < rs->nruns; r++)
		{
			InvRunCursor *c = &rs->runs[r];
			uint64		left;

			if (!c->have || c->head.dim != dim)
				continue;
			left = part == INV_RUN_DESC ? (uint64) c->head.ndesc * sizeof(InvRangeDesc)
				: c->head.nbytes;
			while (left > 0)
			{
				size_t		n = (size_t) Min(left, (uint64) INV_COPY_BYTES);

				inv_file_read(c->f[part], rs->buf, n);
				if (part == INV_RUN_DESC)
				{
					InvRangeDesc *desc = (InvRangeDesc *) rs->buf;
					size_t		j;

					for (j = 0; j < n / sizeof(InvRangeDesc); j++)
						desc[j].range += c->range_base;
				}
				sink(arg, rs->buf, n);
				left -= n;
			}
			inv_run_next_dim(c);
		}
		while (inv_piece_iter_peek(&rs->it, &d) && d == dim)
		{
			inv_piece_iter_next(&rs->it, &rs->piece);
			if (part == INV_RUN_DESC)
			{
				InvRangeDesc desc;

				inv_piece_desc(&rs->piece, &desc);
				sink(arg, &desc, sizeof(desc));
			}
			else
				inv_piece_emit(&rs->piece, sink, arg);
		}
	}
}

static void
inv_runs_write_descs(InvSegSource *src, InvSinkFn sink, void *arg)
{
	inv_runs_write((InvRunSource *) src, INV_RUN_DESC, sink, arg);
}

static void
inv_runs_write_data(InvSegSource *src, InvSinkFn sink, void *arg)
{
	inv_runs_write((InvRunSource *) src, INV_RUN_DATA, sink, arg);
}

static void
inv_runs_docs_rewind(InvSegSource *src)
{
	InvRunSource *rs = (InvRunSource *) src;

	rs->docrun = 0;
	rs->docpos = 0;
}

/* The runs' documents, in run order, then the tail's. */
static uint32
inv_runs_docs_next(InvSegSource *src, InvDoc *docs, int32 *dims, uint32 max)
{
	InvRunSource *rs = (InvRunSource *) src;
	InvRunCursor *c;
	uint32		n;

	CHECK_FOR_INTERRUPTS();
	while (rs->docrun < rs->nruns && rs->docpos == rs->runs[rs->docrun].ndocs)
	{
		rs->docrun++;
		rs->docpos = 0;
	}
	if (rs->docrun == rs->nruns)
	{
		n = Min(max, rs->tail.ndocs - rs->docpos);
		memcpy(docs, rs->tail.docs + rs->docpos, sizeof(InvDoc) * n);
		memcpy(dims, rs->tail.dims + rs->docpos, sizeof(int32) * n);
		rs->docpos += n;
		return n;
	}
	c = &rs->runs[rs->docrun];
	n = Min(max, c->ndocs - rs->docpos);
	inv_file_seek(c->docfile, c->docoff + (uint64) rs->docpos * sizeof(InvDoc));
	inv_file_read(c->docfile, docs, sizeof(InvDoc) * n);
	inv_file_seek(c->docfile, c->docoff + (uint64) c->ndocs * sizeof(InvDoc) +
				  (uint64) rs->docpos * sizeof(int32));
	inv_file_read(c->docfile, dims, sizeof(int32) * n);
	rs->docpos += n;
	return n;
}

static const InvSegSourceOps inv_runs_ops = {
	inv_runs_docs_rewind,
	inv_runs_docs_next,
	inv_runs_dims_rewind,
	inv_runs_dim_next,
	inv_runs_write_descs,
	inv_runs_write_data,
};

/*
 * A source over nruns runs (run r's files files[3r..3r+2], its documents
 * in docfiles[docfile_of[r]] after those of the runs before it in that
 * file), then the tail (its postings sorted here).
 */
static InvRunSource *
inv_runs_make(uint32 flags, uint32 nruns, const InvRunInfo *info, BufFile **files,
			  BufFile **docfiles, const int *docfile_of, int ndocfiles, InvAccum *tail)
{
	InvRunSource *rs = palloc0(sizeof(InvRunSource));
	uint64		ndocs = 0;
	uint64		npost = 0;
	uint64		docoff = 0;
	uint32		r;

	rs->nruns = nruns;
	rs->runs = palloc0(sizeof(InvRunCursor) * Max(nruns, 1));
	rs->docfiles = docfiles;
	rs->ndocfiles = ndocfiles;
	rs->buf = palloc(INV_COPY_BYTES);
	for (r = 0; r < nruns; r++)
	{
		InvRunCursor *c = &rs->runs[r];

		if (r > 0 && docfile_of[r] != docfile_of[r - 1])
			docoff = 0;
		c->f[0] = files[3 * r];
		c->f[1] = files[3 * r + 1];
		c->f[2] = files[3 * r + 2];
		c->ndims = info[r].ndims;
		c->range_base = (uint32) (ndocs >> INV_RANGE_SHIFT);
		c->docfile = docfiles[docfile_of[r]];
		c->docoff = docoff;
		c->ndocs = info[r].ndocs;
		docoff += (uint64) info[r].ndocs * (sizeof(InvDoc) + sizeof(int32));
		ndocs += info[r].ndocs;
		npost += info[r].npost;
		if (ndocs >= PG_UINT32_MAX / 2 || info[r].ndocs % INV_RANGE_DOCS != 0)
			ereport(ERROR,
					(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
					 errmsg("too many documents for one inverted index segment")));
	}
	rs->tail = *tail;
	rs->tail_range = (uint32) (ndocs >> INV_RANGE_SHIFT);
	inv_sort_postings(rs->tail.post, rs->tail.npost);
	ndocs += rs->tail.ndocs;
	npost += rs->tail.npost;
	if (ndocs >= PG_UINT32_MAX / 2)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("too many documents for one inverted index segment")));

	rs->src.flags = flags;
	rs->src.ndocs = (uint32) ndocs;
	rs->src.npost = npost;
	rs->src.ops = &inv_runs_ops;
	return rs;
}

/*
 * The runs of a serial build's spool, its last whole ranges written first;
 * the rest of its documents are the tail, taken over by the source.
 */
InvSegSource *
inv_runs_open_local(InvSpool *sp, Size budget)
{
	InvRunSource *rs;
	int		   *docfile_of;
	BufFile   **docfiles = palloc(sizeof(BufFile *));

	inv_spool_flush(sp);
	if (sp->sortbuf)
		pfree(sp->sortbuf);
	sp->sortbuf = NULL;
	sp->sortcap = 0;
	docfile_of = palloc0(sizeof(int) * Max(sp->nruns, 1));
	docfiles[0] = sp->docfile;
	rs = inv_runs_make(sp->flags, sp->nruns, sp->runs, sp->runfiles, docfiles,
					   docfile_of, 1, &sp->acc);
	/* the tail's arrays now belong to the source */
	sp->acc.post = NULL;
	sp->acc.docs = NULL;
	sp->acc.dims = NULL;
	return &rs->src;
}

/* Append a participant's tail (from its file) to acc. */
static void
inv_tail_load(InvAccum *acc, BufFile *f)
{
	InvTailHeader th;
	uint32		base = acc->ndocs;
	uint64		i;

	inv_file_read(f, &th, sizeof(th));
	if (th.ndocs >= INV_RANGE_DOCS)
		elog(ERROR, "inverted index build: a tail of %u documents", th.ndocs);
	inv_accum_grow(acc, th.npost, th.ndocs, (Size) MaxAllocHugeSize, 0);
	inv_file_read(f, acc->docs + acc->ndocs, sizeof(InvDoc) * th.ndocs);
	inv_file_read(f, acc->dims + acc->ndocs, sizeof(int32) * th.ndocs);
	inv_file_read(f, acc->post + acc->npost, sizeof(InvPosting) * th.npost);
	for (i = acc->npost; i < acc->npost + th.npost; i++)
		acc->post[i].docno += base;
	acc->ndocs += th.ndocs;
	acc->npost += th.npost;
}

/* The runs of every participant of a parallel build, in participant order. */
InvSegSource *
inv_runs_open_shared(SharedFileSet *fileset, int nparticipants, uint32 flags, Size budget)
{
	InvRunSource *rs;
	InvRunInfo *info = NULL;
	BufFile   **files = NULL;
	int		   *docfile_of = NULL;
	BufFile   **docfiles = palloc0(sizeof(BufFile *) * nparticipants);
	InvAccum	tail;
	uint32		nruns = 0;
	uint32		maxruns = 0;
	int			p;

	inv_accum_init(&tail, flags);
	for (p = 0; p < nparticipants; p++)
	{
		char		name[MAXPGPATH];
		BufFile    *f;
		uint32		n;
		uint32		r;
		int			part;

		snprintf(name, sizeof(name), "inv.%d.list.0", p);
		f = BufFileOpenFileSet(&fileset->fs, name, O_RDONLY, false);
		inv_file_read(f, &n, sizeof(n));
		if (nruns + n > maxruns)
		{
			maxruns = Max(maxruns * 2, nruns + n);
			info = info ? repalloc(info, sizeof(InvRunInfo) * maxruns) : palloc(sizeof(InvRunInfo) * maxruns);
			files = files ? repalloc(files, sizeof(BufFile *) * 3 * maxruns) : palloc(sizeof(BufFile *) * 3 * maxruns);
			docfile_of = docfile_of ? repalloc(docfile_of, sizeof(int) * maxruns) : palloc(sizeof(int) * maxruns);
		}
		if (n > 0)
			inv_file_read(f, &info[nruns], sizeof(InvRunInfo) * n);
		BufFileClose(f);
		for (r = 0; r < n; r++)
		{
			for (part = 0; part < 3; part++)
			{
				snprintf(name, sizeof(name), "inv.%d.%s.%u", p, inv_run_part[part], r);
				files[3 * (nruns + r) + part] = BufFileOpenFileSet(&fileset->fs, name, O_RDONLY, false);
			}
			docfile_of[nruns + r] = p;
		}
		if (n > 0)
		{
			snprintf(name, sizeof(name), "inv.%d.docs.0", p);
			docfiles[p] = BufFileOpenFileSet(&fileset->fs, name, O_RDONLY, false);
		}
		nruns += n;

		snprintf(name, sizeof(name), "inv.%d.tail.0", p);
		f = BufFileOpenFileSet(&fileset->fs, name, O_RDONLY, false);
		inv_tail_load(&tail, f);
		BufFileClose(f);
	}
	rs = inv_runs_make(flags, nruns, info, files, docfiles, docfile_of, nparticipants, &tail);
	return &rs->src;
}

uint32
inv_runs_count(InvSegSource *src)
{
	return ((InvRunSource *) src)->nruns;
}

/* Close (and so delete, for a serial build's) the runs' files. */
void
inv_runs_close(InvSegSource *src)
{
	InvRunSource *rs = (InvRunSource *) src;
	uint32		r;
	int			p;
	int			part;

	for (r = 0; r < rs->nruns; r++)
		for (part = 0; part < 3; part++)
			BufFileClose(rs->runs[r].f[part]);
	for (p = 0; p < rs->ndocfiles; p++)
		if (rs->docfiles[p])
			BufFileClose(rs->docfiles[p]);
	inv_accum_free(&rs->tail);
	pfree(rs->buf);
}
