/*
 * build_runs.c - a build within maintenance_work_mem: documents accumulate
 * in memory until the next one would pass the participant's budget; then
 * their postings are sorted by dimension and written to a temporary file as
 * a "run", and the documents to the participant's document file.  At the
 * end the runs are merged into one segment: documents are numbered in run
 * order (a run's documents follow the previous run's), so for each
 * dimension the merged postings are the runs' postings of that dimension,
 * run after run, already in document order; no comparison between runs is
 * needed beyond finding the next dimension.  The segment writer reads the
 * merge three times (inv_segment_write_source), which is cheaper than
 * holding its descriptors.
 */
#include "postgres.h"

#include <math.h>

#include "commands/progress.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "utils/memutils.h"

#include "build.h"

/* A posting of a run: its weight and its bound (inv_bound_weight, rounded away from 0). */
typedef struct InvRunPost
{
	int32		dim;
	uint32		docno;
	float4		w;
	float4		bw;
} InvRunPost;

Size
inv_build_budget(int participants)
{
	return (Size) maintenance_work_mem * 1024 / Max(participants, 1);
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

static Size
inv_spool_bytes(uint64 npost, uint64 ndocs)
{
	return (Size) (npost * INV_SPOOL_POST_BYTES + ndocs * INV_SPOOL_DOC_BYTES);
}

/*
 * Add a document.  When it would take the accumulator past the budget, the
 * documents so far become a run first; the arrays grow by doubling, but no
 * further than the budget allows (a single document larger than the budget
 * makes a run of its own).
 */
void
inv_spool_add(InvSpool *sp, ItemPointer tid, uint16 flags, double norm2,
			  int32 dim, int32 nnz, const int32 *indices, const float4 *values)
{
	InvAccum   *acc = &sp->acc;
	uint64		needpost = acc->npost + (uint64) Max(nnz, 0);
	uint64		needdocs = (uint64) acc->ndocs + 1;

	if (acc->ndocs > 0 && inv_spool_bytes(needpost, needdocs) > sp->budget)
	{
		inv_spool_flush(sp);
		needpost = (uint64) Max(nnz, 0);
		needdocs = 1;
	}
	if (needpost > acc->maxpost)
	{
		uint64		cap = sp->budget / INV_SPOOL_POST_BYTES;
		uint64		newmax = Max(needpost, Min(acc->maxpost * 2, cap));

		acc->post = repalloc_huge(acc->post, sizeof(InvPosting) * newmax);
		acc->maxpost = newmax;
	}
	if (needdocs > acc->maxdocs)
	{
		uint64		cap = sp->budget / INV_SPOOL_DOC_BYTES;
		uint64		newmax = Max(needdocs, Min((uint64) acc->maxdocs * 2, cap));

		if (newmax >= PG_UINT32_MAX / 2)
			ereport(ERROR,
					(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
					 errmsg("too many documents for one inverted index segment")));
		acc->docs = repalloc_huge(acc->docs, sizeof(InvDoc) * newmax);
		acc->dims = repalloc_huge(acc->dims, sizeof(int32) * newmax);
		acc->maxdocs = (uint32) newmax;
	}
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

/* Sort the accumulated postings and write them and the documents as a run. */
void
inv_spool_flush(InvSpool *sp)
{
	InvAccum   *acc = &sp->acc;
	BufFile    *f;
	InvRunPost	chunk[1024];
	uint64		i;
	int			n = 0;

	if (acc->ndocs == 0)
		return;
	pgstat_progress_update_param(PROGRESS_CREATEIDX_SUBPHASE, INV_BUILD_PHASE_SORT);
	inv_sort_postings(acc->post, acc->npost);
	pgstat_progress_update_param(PROGRESS_CREATEIDX_SUBPHASE, INV_BUILD_PHASE_RUN);

	if (sp->nruns == sp->maxruns)
	{
		sp->maxruns = Max(sp->maxruns * 2, 16);
		sp->runs = sp->runs ? repalloc(sp->runs, sizeof(InvRunInfo) * sp->maxruns)
			: palloc(sizeof(InvRunInfo) * sp->maxruns);
		if (sp->fileset == NULL)
			sp->runfiles = sp->runfiles ? repalloc(sp->runfiles, sizeof(BufFile *) * sp->maxruns)
				: palloc(sizeof(BufFile *) * sp->maxruns);
	}
	f = inv_spool_create(sp, "run", sp->nruns);
	for (i = 0; i < acc->npost; i++)
	{
		const InvPosting *p = &acc->post[i];
		InvRunPost *r = &chunk[n++];
		double		bw = inv_bound_weight(sp->flags, p->w, acc->docs[p->docno].norm2);

		r->dim = p->dim;
		r->docno = p->docno;
		r->w = p->w;
		r->bw = bw >= 0 ? inv_round_up(bw) : -inv_round_up(-bw);
		if (n == lengthof(chunk))
		{
			CHECK_FOR_INTERRUPTS();
			BufFileWrite(f, chunk, sizeof(InvRunPost) * n);
			n = 0;
		}
	}
	if (n > 0)
		BufFileWrite(f, chunk, sizeof(InvRunPost) * n);
	if (sp->fileset == NULL)
		sp->runfiles[sp->nruns] = f;
	else
		BufFileClose(f);

	/* documents: the doc-table entries, then their dimensions */
	if (sp->docfile == NULL)
		sp->docfile = inv_spool_create(sp, "docs", 0);
	BufFileWrite(sp->docfile, acc->docs, sizeof(InvDoc) * acc->ndocs);
	BufFileWrite(sp->docfile, acc->dims, sizeof(int32) * acc->ndocs);

	sp->runs[sp->nruns].ndocs = acc->ndocs;
	sp->runs[sp->nruns].unused = 0;
	sp->runs[sp->nruns].npost = acc->npost;
	sp->nruns++;
	acc->ndocs = 0;
	acc->npost = 0;
	pgstat_progress_update_param(PROGRESS_CREATEIDX_SUBPHASE, INV_BUILD_PHASE_LOAD);
}

/*
 * A parallel participant's last run, and the list of its runs (a file the
 * leader reads), so that the leader can open them all once the
 * participant's files are closed.
 */
void
inv_spool_finish_shared(InvSpool *sp)
{
	BufFile    *f;

	Assert(sp->fileset != NULL);
	inv_spool_flush(sp);
	if (sp->docfile)
		BufFileClose(sp->docfile);
	sp->docfile = NULL;
	f = inv_spool_create(sp, "list", 0);
	BufFileWrite(f, &sp->nruns, sizeof(uint32));
	if (sp->nruns > 0)
		BufFileWrite(f, sp->runs, sizeof(InvRunInfo) * sp->nruns);
	BufFileClose(f);
}

void
inv_spool_free(InvSpool *sp)
{
	inv_accum_free(&sp->acc);
	MemoryContextDelete(sp->tmpctx);
}

/* ---------------------------------------------------------- the merge */

typedef struct InvRunCursor
{
	BufFile    *file;
	uint64		npost;
	uint64		left;			/* postings not yet read from the file */
	InvRunPost *buf;
	uint32		cap;
	uint32		nbuf;
	uint32		pos;
	uint32		base;			/* the run's first document number */
} InvRunCursor;

typedef struct InvRunDocFile
{
	BufFile    *file;
	uint64		off;			/* the run's documents in it */
	uint32		ndocs;
} InvRunDocFile;

typedef struct InvRunSource
{
	InvSegSource src;
	uint32		nruns;
	InvRunCursor *runs;
	InvRunDocFile *docs;		/* per run */
	BufFile   **docfiles;		/* to close: one per participant */
	int			ndocfiles;
	bool		own_runfiles;	/* close the run files at the end */
	/* merge state */
	int32		dim;			/* the dimension being merged */
	uint32		cur;			/* the run being read; nruns: find the next dim */
	bool		have;			/* la holds the next posting */
	InvRunPost	la;
	/* document state */
	uint32		docrun;
	uint32		docpos;
} InvRunSource;

static inline bool
inv_cursor_fill(InvRunCursor *c)
{
	uint32		n;

	if (c->left == 0)
		return false;
	n = (uint32) Min((uint64) c->cap, c->left);
	inv_file_read(c->file, c->buf, sizeof(InvRunPost) * n);
	c->left -= n;
	c->nbuf = n;
	c->pos = 0;
	return true;
}

static inline InvRunPost *
inv_cursor_head(InvRunCursor *c)
{
	if (c->pos == c->nbuf && !inv_cursor_fill(c))
		return NULL;
	return &c->buf[c->pos];
}

/* The next posting of the merge, its document number made global. */
static inline bool
inv_runs_next_posting(InvRunSource *rs, InvRunPost *out)
{
	for (;;)
	{
		if (rs->cur < rs->nruns)
		{
			InvRunCursor *c = &rs->runs[rs->cur];
			InvRunPost *h = inv_cursor_head(c);

			if (h != NULL && h->dim == rs->dim)
			{
				*out = *h;
				out->docno += c->base;
				c->pos++;
				return true;
			}
			rs->cur++;
		}
		else
		{
			bool		found = false;
			int32		next = 0;
			uint32		r;

			for (r = 0; r < rs->nruns; r++)
			{
				InvRunPost *h = inv_cursor_head(&rs->runs[r]);

				if (h != NULL && (!found || h->dim < next))
				{
					next = h->dim;
					found = true;
				}
			}
			if (!found)
				return false;
			if (rs->have && next <= rs->dim)
				elog(ERROR, "inverted index build: a run is out of order");
			rs->dim = next;
			rs->cur = 0;
		}
	}
}

static void
inv_runs_pieces_rewind(InvSegSource *src)
{
	InvRunSource *rs = (InvRunSource *) src;
	uint32		r;

	for (r = 0; r < rs->nruns; r++)
	{
		InvRunCursor *c = &rs->runs[r];

		inv_file_seek(c->file, 0);
		c->left = c->npost;
		c->nbuf = 0;
		c->pos = 0;
	}
	rs->cur = rs->nruns;
	rs->dim = -1;
	rs->have = false;
	rs->have = inv_runs_next_posting(rs, &rs->la);
}

static bool
inv_runs_piece_next(InvSegSource *src, InvPiece *piece)
{
	InvRunSource *rs = (InvRunSource *) src;
	uint32		n = 0;

	if (!rs->have)
		return false;
	piece->dim = rs->la.dim;
	piece->range = rs->la.docno >> INV_RANGE_SHIFT;
	piece->maxpos = 0;
	piece->maxneg = 0;
	do
	{
		if (n > 0 && rs->la.docno <= (piece->range << INV_RANGE_SHIFT) + piece->offs[n - 1])
			elog(ERROR, "inverted index build: postings out of order");
		piece->maxpos = Max(piece->maxpos, (double) rs->la.bw);
		piece->maxneg = Max(piece->maxneg, -(double) rs->la.bw);
		piece->offs[n] = (InvOffset) (rs->la.docno & (INV_RANGE_DOCS - 1));
		piece->ws[n] = inv_bf16_encode(rs->la.w);
		n++;
		rs->have = inv_runs_next_posting(rs, &rs->la);
	} while (rs->have && rs->la.dim == piece->dim &&
			 (rs->la.docno >> INV_RANGE_SHIFT) == piece->range);
	piece->count = n;
	return true;
}

static void
inv_runs_docs_rewind(InvSegSource *src)
{
	InvRunSource *rs = (InvRunSource *) src;

	rs->docrun = 0;
	rs->docpos = 0;
}

static uint32
inv_runs_docs_next(InvSegSource *src, InvDoc *docs, int32 *dims, uint32 max)
{
	InvRunSource *rs = (InvRunSource *) src;
	InvRunDocFile *d;
	uint32		n;

	CHECK_FOR_INTERRUPTS();
	while (rs->docrun < rs->nruns && rs->docpos == rs->docs[rs->docrun].ndocs)
	{
		rs->docrun++;
		rs->docpos = 0;
	}
	if (rs->docrun == rs->nruns)
		return 0;
	d = &rs->docs[rs->docrun];
	n = Min(max, d->ndocs - rs->docpos);
	inv_file_seek(d->file, d->off + (uint64) rs->docpos * sizeof(InvDoc));
	inv_file_read(d->file, docs, sizeof(InvDoc) * n);
	inv_file_seek(d->file, d->off + (uint64) d->ndocs * sizeof(InvDoc) +
				  (uint64) rs->docpos * sizeof(int32));
	inv_file_read(d->file, dims, sizeof(int32) * n);
	rs->docpos += n;
	return n;
}

/*
 * A source over nruns runs: run r's postings in files[r], its documents in
 * docfiles[docfile_of[r]] after those of the runs before it in that file.
 * Each run gets a read buffer of its share of the budget (at least 1,024
 * postings).
 */
static InvRunSource *
inv_runs_make(uint32 flags, uint32 nruns, const InvRunInfo *info, BufFile **files,
			  BufFile **docfiles, const int *docfile_of, int ndocfiles, Size budget)
{
	InvRunSource *rs = palloc0(sizeof(InvRunSource));
	uint64		ndocs = 0;
	uint64		npost = 0;
	uint64		docoff = 0;
	uint32		cap;
	uint32		r;

	cap = (uint32) Max((Size) 1024, Min(budget / 2 / Max(nruns, 1) / sizeof(InvRunPost), (Size) 8192));
	rs->nruns = nruns;
	rs->runs = palloc0(sizeof(InvRunCursor) * Max(nruns, 1));
	rs->docs = palloc0(sizeof(InvRunDocFile) * Max(nruns, 1));
	rs->docfiles = docfiles;
	rs->ndocfiles = ndocfiles;
	for (r = 0; r < nruns; r++)
	{
		InvRunCursor *c = &rs->runs[r];

		if (r > 0 && docfile_of[r] != docfile_of[r - 1])
			docoff = 0;
		if (ndocs + info[r].ndocs >= PG_UINT32_MAX / 2)
			ereport(ERROR,
					(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
					 errmsg("too many documents for one inverted index segment")));
		c->file = files[r];
		c->npost = info[r].npost;
		c->cap = cap;
		c->buf = MemoryContextAllocHuge(CurrentMemoryContext, sizeof(InvRunPost) * cap);
		c->base = (uint32) ndocs;
		rs->docs[r].file = docfiles[docfile_of[r]];
		rs->docs[r].off = docoff;
		rs->docs[r].ndocs = info[r].ndocs;
		docoff += (uint64) info[r].ndocs * (sizeof(InvDoc) + sizeof(int32));
		ndocs += info[r].ndocs;
		npost += info[r].npost;
	}
	rs->src.flags = flags;
	rs->src.ndocs = (uint32) ndocs;
	rs->src.npost = npost;
	rs->src.docs_rewind = inv_runs_docs_rewind;
	rs->src.docs_next = inv_runs_docs_next;
	rs->src.pieces_rewind = inv_runs_pieces_rewind;
	rs->src.piece_next = inv_runs_piece_next;
	return rs;
}

/* The runs of a serial build's spool (its last documents flushed first). */
InvSegSource *
inv_runs_open_local(InvSpool *sp, Size budget)
{
	InvRunSource *rs;
	int		   *docfile_of;
	BufFile   **docfiles = palloc(sizeof(BufFile *));

	inv_spool_flush(sp);
	inv_accum_free(&sp->acc);	/* the merge's buffers take its place */
	docfile_of = palloc0(sizeof(int) * Max(sp->nruns, 1));
	docfiles[0] = sp->docfile;
	rs = inv_runs_make(sp->flags, sp->nruns, sp->runs, sp->runfiles, docfiles,
					   docfile_of, 1, budget);
	rs->own_runfiles = true;	/* the spool's files: closing deletes them */
	return &rs->src;
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
	uint32		nruns = 0;
	uint32		maxruns = 0;
	int			p;

	for (p = 0; p < nparticipants; p++)
	{
		char		name[MAXPGPATH];
		BufFile    *list;
		uint32		n;
		uint32		r;

		snprintf(name, sizeof(name), "inv.%d.list.0", p);
		list = BufFileOpenFileSet(&fileset->fs, name, O_RDONLY, false);
		inv_file_read(list, &n, sizeof(n));
		if (nruns + n > maxruns)
		{
			maxruns = Max(maxruns * 2, nruns + n);
			info = info ? repalloc(info, sizeof(InvRunInfo) * maxruns) : palloc(sizeof(InvRunInfo) * maxruns);
			files = files ? repalloc(files, sizeof(BufFile *) * maxruns) : palloc(sizeof(BufFile *) * maxruns);
			docfile_of = docfile_of ? repalloc(docfile_of, sizeof(int) * maxruns) : palloc(sizeof(int) * maxruns);
		}
		if (n > 0)
			inv_file_read(list, &info[nruns], sizeof(InvRunInfo) * n);
		BufFileClose(list);
		for (r = 0; r < n; r++)
		{
			snprintf(name, sizeof(name), "inv.%d.run.%u", p, r);
			files[nruns + r] = BufFileOpenFileSet(&fileset->fs, name, O_RDONLY, false);
			docfile_of[nruns + r] = p;
		}
		if (n > 0)
		{
			snprintf(name, sizeof(name), "inv.%d.docs.0", p);
			docfiles[p] = BufFileOpenFileSet(&fileset->fs, name, O_RDONLY, false);
		}
		nruns += n;
	}
	rs = inv_runs_make(flags, nruns, info, files, docfiles, docfile_of, nparticipants, budget);
	rs->own_runfiles = true;
	return &rs->src;
}

uint32
inv_runs_count(InvSegSource *src)
{
	return ((InvRunSource *) src)->nruns;
}

void
inv_runs_close(InvSegSource *src)
{
	InvRunSource *rs = (InvRunSource *) src;
	uint32		r;
	int			p;

	for (r = 0; r < rs->nruns; r++)
	{
		if (rs->own_runfiles)
			BufFileClose(rs->runs[r].file);
		pfree(rs->runs[r].buf);
	}
	if (rs->own_runfiles)
		for (p = 0; p < rs->ndocfiles; p++)
			if (rs->docfiles[p])
				BufFileClose(rs->docfiles[p]);
}
