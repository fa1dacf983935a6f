/*
 * segment.c - collecting documents in memory and writing them as a segment.
 *
 * Build, pending-list merges and segment compaction all go through the same
 * path: documents (tid, flags, norm) and their postings (dim, docno, weight)
 * are gathered in an InvAccum, postings are sorted by (dim, docno) with a
 * stable radix sort on dim (they arrive in docno order), and the sorted list
 * is written out in three passes: directory, range descriptors, postings.
 */
#include "postgres.h"

#include <math.h>

#include "miscadmin.h"
#include "utils/memutils.h"
#include "utils/rel.h"

#include "inverted.h"

void
inv_accum_init(InvAccum *acc, uint32 flags)
{
	acc->flags = flags;
	acc->maxdocs = 1024;
	acc->ndocs = 0;
	acc->docs = MemoryContextAllocHuge(CurrentMemoryContext, sizeof(InvDoc) * acc->maxdocs);
	acc->dims = MemoryContextAllocHuge(CurrentMemoryContext, sizeof(int32) * acc->maxdocs);
	acc->maxpost = 16384;
	acc->npost = 0;
	acc->post = MemoryContextAllocHuge(CurrentMemoryContext, sizeof(InvPosting) * acc->maxpost);
}

void
inv_accum_free(InvAccum *acc)
{
	if (acc->docs)
		pfree(acc->docs);
	if (acc->post)
		pfree(acc->post);
	if (acc->dims)
		pfree(acc->dims);
	acc->dims = NULL;
	acc->docs = NULL;
	acc->post = NULL;
}

static void
inv_accum_reserve(InvAccum *acc, uint64 nposts)
{
	if (acc->ndocs >= acc->maxdocs)
	{
		if (acc->maxdocs >= PG_UINT32_MAX / 2)
			ereport(ERROR,
					(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
					 errmsg("too many documents for one inverted index segment")));
		acc->maxdocs *= 2;
		acc->docs = repalloc_huge(acc->docs, sizeof(InvDoc) * acc->maxdocs);
		acc->dims = repalloc_huge(acc->dims, sizeof(int32) * acc->maxdocs);
	}
	if (acc->npost + nposts > acc->maxpost)
	{
		while (acc->npost + nposts > acc->maxpost)
			acc->maxpost *= 2;
		acc->post = repalloc_huge(acc->post, sizeof(InvPosting) * acc->maxpost);
	}
}

void
inv_accum_add_doc(InvAccum *acc, ItemPointer tid, uint16 flags, double norm2,
				  int32 dim, int32 nnz, const int32 *indices, const float4 *values)
{
	InvDoc	   *doc;
	uint32		docno;
	int32		i;

	inv_accum_reserve(acc, (uint64) Max(nnz, 0));
	docno = acc->ndocs++;
	doc = &acc->docs[docno];
	memset(doc, 0, sizeof(InvDoc));
	doc->tid = *tid;
	doc->flags = flags;
	doc->norm2 = norm2;
	acc->dims[docno] = (flags & INV_DOC_NULL) ? INV_DIM_NONE : dim;
	for (i = 0; i < nnz; i++)
	{
		InvPosting *p = &acc->post[acc->npost++];

		p->dim = indices[i];
		p->docno = docno;
		p->w = inv_stored_weight(acc->flags, values[i], norm2);
	}
}

/*
 * Stable LSD radix sort of postings by dim (non-negative int32).  Passes
 * whose byte is the same for every posting are skipped, so 16,384 dims cost
 * two passes.  It needs a second array of the same size while it runs.
 */
void
inv_sort_postings(InvPosting *post, uint64 n)
{
	InvPosting *tmp;

	if (n < 2)
		return;
	tmp = MemoryContextAllocHuge(CurrentMemoryContext, sizeof(InvPosting) * n);
	inv_sort_postings_with(post, n, tmp);
	pfree(tmp);
}

/*
 * An LSD radix sort of post[0..n), stable, by the uint32 at byte keyoff of
 * each posting (its dim or its docno), bits bits a pass; passes stop once
 * maxkey has no higher bits, and a pass whose digit all postings share is
 * skipped.  tmp holds n more postings; the result ends in post.
 */
void
inv_radix_postings(InvPosting *post, InvPosting *tmp, uint64 n, size_t keyoff, int bits, uint32 maxkey)
{
	InvPosting *src = post;
	InvPosting *dst = tmp;
	uint32		mask = (1U << bits) - 1;
	uint64		count[1 << 11];
	int			shift;

	Assert(bits <= 11);
	if (n < 2)
		return;
#define INV_KEY(p) (*(const uint32 *) ((const char *) (p) + keyoff))
	for (shift = 0; shift < 32 && (maxkey >> shift) != 0; shift += bits)
	{
		uint64		pos;
		uint64		i;
		uint32		b;
		bool		trivial = false;
		InvPosting *swap;

		memset(count, 0, sizeof(uint64) * (mask + 1));
		for (i = 0; i < n; i++)
			count[(INV_KEY(&src[i]) >> shift) & mask]++;
		pos = 0;
		for (b = 0; b <= mask; b++)
		{
			uint64		c = count[b];

			trivial |= (c == n);
			count[b] = pos;
			pos += c;
		}
		if (trivial)
			continue;
		for (i = 0; i < n; i++)
		{
			if ((i & 0xFFFFF) == 0)
				CHECK_FOR_INTERRUPTS();
			dst[count[(INV_KEY(&src[i]) >> shift) & mask]++] = src[i];
		}
		swap = src;
		src = dst;
		dst = swap;
	}
#undef INV_KEY
	if (src != post)
		memcpy(post, src, sizeof(InvPosting) * n);
}

/* By dim, with the caller's second array of at least n postings. */
void
inv_sort_postings_with(InvPosting *post, uint64 n, InvPosting *tmp)
{
	inv_radix_postings(post, tmp, n, offsetof(InvPosting, dim), 8, PG_UINT32_MAX);
}

/* ---- pieces of a sorted accumulator ---- */

void
inv_piece_iter_init(InvPieceIter *it, const InvAccum *acc, uint64 npost, uint32 range_base)
{
	it->acc = acc;
	it->pos = 0;
	it->npost = npost;
	it->range_base = range_base;
	it->bounds = true;
	it->data = true;
}

/* The next piece (the postings of one dim in one range), in (dim, range) order. */
bool
inv_piece_iter_next(InvPieceIter *it, InvPiece *piece)
{
	const InvAccum *acc = it->acc;
	uint64		j = it->pos;
	uint32		n = 0;
	uint32		range;

	if (j >= it->npost)
		return false;
	piece->dim = acc->post[j].dim;
	range = acc->post[j].docno >> INV_RANGE_SHIFT;
	piece->range = range + it->range_base;
	piece->maxpos = 0;
	piece->maxneg = 0;
	while (j < it->npost && acc->post[j].dim == piece->dim &&
		   (acc->post[j].docno >> INV_RANGE_SHIFT) == range)
	{
		const InvPosting *p = &acc->post[j];

		if (it->bounds)
		{
			double		bw = inv_bound_weight(p->w);

			piece->maxpos = Max(piece->maxpos, bw);
			piece->maxneg = Max(piece->maxneg, -bw);
		}
		if (it->data)
		{
			piece->offs[n] = (InvOffset) (p->docno & (INV_RANGE_DOCS - 1));
			piece->ws[n] = inv_bf16_encode(p->w);
		}
		n++;
		j++;
	}
	piece->count = n;
	it->pos = j;
	return true;
}

/* The dim of the next piece; false at the end. */
bool
inv_piece_iter_peek(const InvPieceIter *it, int32 *dim)
{
	if (it->pos >= it->npost)
		return false;
	*dim = it->acc->post[it->pos].dim;
	return true;
}

/* Add the pieces of the next dim (which must be dim) to a directory entry. */
void
inv_piece_iter_dim(InvPieceIter *it, int32 dim, InvPiece *piece, InvDimEntry *e,
				   uint64 *nbytes, uint64 *npost)
{
	int32		d;

	while (inv_piece_iter_peek(it, &d) && d == dim)
	{
		inv_piece_iter_next(it, piece);
		e->ndesc++;
		/* both maxima are rounded up, which commutes with max */
		e->maxpos = Max(e->maxpos, inv_round_up(piece->maxpos));
		e->maxneg = Max(e->maxneg, inv_round_up(piece->maxneg));
		*nbytes += inv_piece_bytes(inv_piece_format(piece->count), piece->count);
		*npost += piece->count;
	}
}

void
inv_piece_desc(const InvPiece *piece, InvRangeDesc *d)
{
	memset(d, 0, sizeof(*d));
	d->range = piece->range;
	d->count = (uint16) piece->count;
	d->format = inv_piece_format(piece->count);
	d->maxpos = inv_round_up(piece->maxpos);
	d->maxneg = inv_round_up(piece->maxneg);
}

/* A piece's postings as stored: offsets or bitmap, then the weights. */
void
inv_piece_emit(const InvPiece *piece, InvSinkFn sink, void *arg)
{
	if (inv_piece_format(piece->count) == INV_PIECE_BITMAP)
	{
		uint8		bitmap[INV_BITMAP_BYTES];
		uint32		k;

		memset(bitmap, 0, sizeof(bitmap));
		for (k = 0; k < piece->count; k++)
			bitmap[piece->offs[k] >> 3] |= (uint8) (1 << (piece->offs[k] & 7));
		sink(arg, bitmap, sizeof(bitmap));
	}
	else
		sink(arg, piece->offs, sizeof(InvOffset) * piece->count);
	sink(arg, piece->ws, sizeof(uint16) * piece->count);
}

/* ---- an accumulator as a segment source ---- */

typedef struct InvAccumSource
{
	InvSegSource src;
	InvAccum   *acc;
	uint64		docpos;
	InvPieceIter it;
	InvPiece	piece;
} InvAccumSource;

static void
inv_accum_docs_rewind(InvSegSource *src)
{
	((InvAccumSource *) src)->docpos = 0;
}

static uint32
inv_accum_docs_next(InvSegSource *src, InvDoc *docs, int32 *dims, uint32 max)
{
	InvAccumSource *as = (InvAccumSource *) src;
	uint32		n = (uint32) Min((uint64) max, as->acc->ndocs - as->docpos);

	memcpy(docs, &as->acc->docs[as->docpos], sizeof(InvDoc) * n);
	memcpy(dims, &as->acc->dims[as->docpos], sizeof(int32) * n);
	as->docpos += n;
	return n;
}

static void
inv_accum_dims_rewind(InvSegSource *src)
{
	InvAccumSource *as = (InvAccumSource *) src;

	inv_piece_iter_init(&as->it, as->acc, as->acc->npost, 0);
	as->it.data = false;
}

static bool
inv_accum_dim_next(InvSegSource *src, InvDimEntry *e, uint64 *nbytes, uint64 *npost)
{
	InvAccumSource *as = (InvAccumSource *) src;
	int32		dim;

	if (!inv_piece_iter_peek(&as->it, &dim))
		return false;
	e->dim = dim;
	inv_piece_iter_dim(&as->it, dim, &as->piece, e, nbytes, npost);
	return true;
}

static void
inv_accum_write_descs(InvSegSource *src, InvSinkFn sink, void *arg)
{
	InvAccumSource *as = (InvAccumSource *) src;
	uint64		i;

	inv_piece_iter_init(&as->it, as->acc, as->acc->npost, 0);
	as->it.data = false;
	for (i = 0; inv_piece_iter_next(&as->it, &as->piece); i++)
	{
		InvRangeDesc d;

		if ((i & 0xFFFF) == 0)
			CHECK_FOR_INTERRUPTS();
		inv_piece_desc(&as->piece, &d);
		sink(arg, &d, sizeof(d));
	}
}

static void
inv_accum_write_data(InvSegSource *src, InvSinkFn sink, void *arg)
{
	InvAccumSource *as = (InvAccumSource *) src;
	uint64		i;

	inv_piece_iter_init(&as->it, as->acc, as->acc->npost, 0);
	as->it.bounds = false;
	for (i = 0; inv_piece_iter_next(&as->it, &as->piece); i++)
	{
		if ((i & 0xFFFF) == 0)
			CHECK_FOR_INTERRUPTS();
		inv_piece_emit(&as->piece, sink, arg);
	}
}

static const InvSegSourceOps inv_accum_ops = {
	inv_accum_docs_rewind,
	inv_accum_docs_next,
	inv_accum_dims_rewind,
	inv_accum_dim_next,
	inv_accum_write_descs,
	inv_accum_write_data,
};

/*
 * Write the accumulated documents as a new segment and return its
 * reference.  The accumulator's postings are sorted in place.
 */
InvSegRef
inv_segment_write(Relation index, InvAccum *acc, InvReserve *res)
{
	InvAccumSource *as = palloc0(sizeof(InvAccumSource));
	InvSegRef	ref;

	/*
	 * builds that fit in memory, merges and compactions number their
	 * documents here (a build in runs, run by run: inv_spool_flush)
	 */
	if (inv_reorder_enabled(index))
		inv_reorder(acc, NULL);
	inv_sort_postings(acc->post, acc->npost);
	as->src.flags = acc->flags;
	as->src.ndocs = acc->ndocs;
	as->src.npost = acc->npost;
	as->src.ops = &inv_accum_ops;
	as->acc = acc;
	ref = inv_segment_write_source(index, &as->src, res);
	pfree(as);
	return ref;
}

#define INV_DOC_CHUNK 4096

static void
inv_writer_sink(void *arg, const void *data, size_t len)
{
	inv_write((InvWriter *) arg, data, len);
}

/*
 * Write the documents and postings of src as a new segment.  src gives its
 * documents in order (read four times), its dimension directory, then its
 * descriptors and posting bytes in directory order; only the directory is
 * held in memory, so a build that merges sorted runs from temporary files
 * (build_runs.c) writes a segment of any size this way.
 */
InvSegRef
inv_segment_write_source(Relation index, InvSegSource *src, InvReserve *res)
{
	InvSegHeader hdr;
	InvWriter	w;
	InvSegRef	ref;
	InvDoc	   *docs = palloc(sizeof(InvDoc) * INV_DOC_CHUNK);
	int32	   *dims = palloc(sizeof(int32) * INV_DOC_CHUNK);
	InvDimEntry *dir = NULL;
	uint64		ndims = 0,
				maxdir = 0,
				ndesc = 0,
				databytes = 0,
				npost = 0,
				i;
	uint32		n;
	int32		segdim = INV_DIM_NONE;
	double		maxnorm = 0;

	/* documents: the segment's dimension and largest norm */
	src->ops->docs_rewind(src);
	while ((n = src->ops->docs_next(src, docs, dims, INV_DOC_CHUNK)) > 0)
		for (i = 0; i < n; i++)
		{
			segdim = inv_combine_dim(segdim, dims[i]);
			maxnorm = Max(maxnorm, (double) inv_round_up(sqrt(docs[i].norm2)));
		}

	/* pass 1: the dimension directory, and the sizes */
	src->ops->dims_rewind(src);
	for (;;)
	{
		InvDimEntry *e;
		uint64		nbytes = 0;

		if ((ndims & 0xFF) == 0)
			CHECK_FOR_INTERRUPTS();
		if (ndims == maxdir)
		{
			maxdir = Max(maxdir * 2, 1024);
			dir = dir ? repalloc_huge(dir, sizeof(InvDimEntry) * maxdir)
				: MemoryContextAllocHuge(CurrentMemoryContext, sizeof(InvDimEntry) * maxdir);
		}
		e = &dir[ndims];
		memset(e, 0, sizeof(*e));
		if (!src->ops->dim_next(src, e, &nbytes, &npost))
			break;
		if (ndims > 0 && e->dim <= dir[ndims - 1].dim)
			elog(ERROR, "inverted segment source gave dims out of order");
		e->first_desc = ndesc;
		e->data_off = databytes;
		ndesc += e->ndesc;
		databytes += nbytes;
		ndims++;
	}
	if (npost != src->npost)
		elog(ERROR, "inverted segment source gave " UINT64_FORMAT " postings, not " UINT64_FORMAT,
			 npost, src->npost);

	memset(&hdr, 0, sizeof(hdr));
	hdr.magic = INV_MAGIC;
	hdr.flags = src->flags;
	hdr.ndocs = src->ndocs;
	hdr.nranges = (src->ndocs + INV_RANGE_DOCS - 1) / INV_RANGE_DOCS;
	hdr.ndims = (uint32) ndims;
	hdr.dim = segdim;
	hdr.ndesc = ndesc;
	hdr.npostings = npost;
	hdr.doc_off = INV_PAGE_PAYLOAD;
	hdr.norm_off = hdr.doc_off + (uint64) src->ndocs * sizeof(InvDoc);
	/* documents of several dimensions: each one's, so merges can tell which remain */
	hdr.dims_off = (segdim == INV_DIM_MIXED) ? hdr.norm_off + (uint64) src->ndocs * sizeof(float4) : 0;
	hdr.dead_off = hdr.norm_off + (uint64) src->ndocs * sizeof(float4) +
		(segdim == INV_DIM_MIXED ? (uint64) src->ndocs * sizeof(int32) : 0);
	hdr.dir_off = hdr.dead_off + INV_DEAD_BYTES(src->ndocs);
	hdr.desc_off = hdr.dir_off + ndims * sizeof(InvDimEntry);
	hdr.data_off = hdr.desc_off + ndesc * sizeof(InvRangeDesc);
	hdr.total_bytes = hdr.data_off + databytes;
	hdr.maxnorm = maxnorm;

	inv_writer_begin(&w, index,
					 (BlockNumber) ((hdr.total_bytes + INV_PAGE_PAYLOAD - 1) / INV_PAGE_PAYLOAD), res);
	hdr.nextents = w.nextents;
	inv_write(&w, &hdr, sizeof(hdr));
	inv_write(&w, w.ext, sizeof(InvExtent) * w.nextents);
	inv_write_pad_to(&w, hdr.doc_off);
	src->ops->docs_rewind(src);
	while ((n = src->ops->docs_next(src, docs, dims, INV_DOC_CHUNK)) > 0)
		inv_write(&w, docs, sizeof(InvDoc) * n);
	src->ops->docs_rewind(src);
	while ((n = src->ops->docs_next(src, docs, dims, INV_DOC_CHUNK)) > 0)
		for (i = 0; i < n; i++)
		{
			float4		nrm = inv_round_up(sqrt(docs[i].norm2));

			inv_write(&w, &nrm, sizeof(nrm));
		}
	if (segdim == INV_DIM_MIXED)
	{
		src->ops->docs_rewind(src);
		while ((n = src->ops->docs_next(src, docs, dims, INV_DOC_CHUNK)) > 0)
			inv_write(&w, dims, sizeof(int32) * n);
	}
	/* the dead bitmap: a new segment's documents are all alive */
	inv_write_pad_to(&w, hdr.dir_off);
	for (i = 0; i < ndims; i += 4096)
		inv_write(&w, &dir[i], sizeof(InvDimEntry) * Min((uint64) 4096, ndims - i));
	/* pass 2: range descriptors; pass 3: postings */
	src->ops->write_descs(src, inv_writer_sink, &w);
	if (w.written != hdr.data_off)
		elog(ERROR, "inverted segment source gave descriptors other than its directory's");
	src->ops->write_data(src, inv_writer_sink, &w);
	if (w.written != hdr.total_bytes)
		elog(ERROR, "inverted segment source gave postings other than its directory's");
	inv_writer_end(&w);

	ref.start = w.start;
	ref.npages = w.total;
	ref.ndocs = src->ndocs;
	ref.ndead = 0;
	ref.dim = segdim;
	if (dir)
		pfree(dir);
	pfree(docs);
	pfree(dims);
	return ref;
}

void
inv_segment_read_header(InvReader *r, InvSegHeader *hdr)
{
	inv_read(r, 0, hdr, sizeof(InvSegHeader));
	if (hdr->magic != INV_MAGIC ||
		hdr->nextents == 0 || hdr->nextents > INV_MAX_EXTENTS ||
		hdr->total_bytes > (uint64) r->npages * INV_PAGE_PAYLOAD ||
		hdr->nranges != (hdr->ndocs + INV_RANGE_DOCS - 1) / INV_RANGE_DOCS ||
		(hdr->dim == INV_DIM_MIXED) != (hdr->dims_off != 0) ||
		hdr->dead_off < hdr->doc_off || hdr->dead_off > hdr->total_bytes ||
		INV_DEAD_BYTES(hdr->ndocs) > hdr->total_bytes - hdr->dead_off)
		ereport(ERROR,
				(errcode(ERRCODE_INDEX_CORRUPTED),
				 errmsg("inverted index \"%s\": bad segment header at block %u",
						RelationGetRelationName(r->index), r->start)));
	if (r->map == NULL)
		inv_segment_load_map(r, hdr);
}

/*
 * Read the segment's extents (after its header, on its first page) into
 * r->map, checking that they add up to the segment and begin at its first
 * block.  Readers of the same segment may share the map.
 */
void
inv_segment_load_map(InvReader *r, const InvSegHeader *hdr)
{
	InvSegMap  *m = palloc(sizeof(InvSegMap));
	InvExtent  *ext = palloc(sizeof(InvExtent) * hdr->nextents);
	uint64		total = 0;
	uint32		i;

	inv_read(r, sizeof(InvSegHeader), ext, sizeof(InvExtent) * hdr->nextents);
	m->n = hdr->nextents;
	m->start = palloc(sizeof(BlockNumber) * m->n);
	m->base = palloc(sizeof(BlockNumber) * (m->n + 1));
	for (i = 0; i < m->n; i++)
	{
		m->start[i] = ext[i].start;
		m->base[i] = (BlockNumber) total;
		total += ext[i].npages;
		if (ext[i].npages == 0 || ext[i].start == INV_METAPAGE_BLKNO ||
			ext[i].start > MaxBlockNumber - ext[i].npages)
			total = PG_UINT64_MAX / 2;
	}
	m->base[m->n] = (BlockNumber) Min(total, (uint64) MaxBlockNumber);
	if (total != r->npages || m->start[0] != r->start)
		ereport(ERROR,
				(errcode(ERRCODE_INDEX_CORRUPTED),
				 errmsg("inverted index \"%s\": bad extents in the segment at block %u",
						RelationGetRelationName(r->index), r->start)));
	pfree(ext);
	r->map = m;
	r->ext = 0;
}

/* Call fn(arg, start, npages) for each extent of seg's pages, in map order. */
void
inv_segment_extents(Relation index, const InvSegRef *seg, InvExtentFn fn, void *arg)
{
	InvReader	r;
	InvSegHeader hdr;
	uint32		i;

	inv_reader_init(&r, index, seg->start, seg->npages);
	inv_segment_read_header(&r, &hdr);
	for (i = 0; i < r.map->n; i++)
		fn(arg, r.map->start[i], r.map->base[i + 1] - r.map->base[i]);
	inv_reader_end(&r);
}

typedef struct InvFreeArg
{
	Relation	index;
	InvMetaPageData *meta;
	FullTransactionId safexid;
} InvFreeArg;

static void
inv_free_one_extent(void *arg, BlockNumber start, BlockNumber npages)
{
	InvFreeArg *fa = arg;

	inv_free_extent(fa->index, fa->meta, start, npages, fa->safexid);
}

/* Hand a segment's pages to meta's free list. */
void
inv_free_segment(Relation index, InvMetaPageData *meta, const InvSegRef *seg,
				 FullTransactionId safexid)
{
	InvFreeArg	fa = {index, meta, safexid};

	inv_segment_extents(index, seg, inv_free_one_extent, &fa);
}

/*
 * Read the piece desc describes, at stream offset off, into ascending
 * offsets and their weights.  False when it is corrupt: a count or format
 * the descriptor cannot have, a bitmap that does not hold exactly count
 * documents, offsets out of order or outside the range.
 */
bool
inv_piece_read(InvReader *r, uint64 off, const InvRangeDesc *desc, InvOffset *offs, float4 *ws)
{
	char		piece[INV_PIECE_MAX_BYTES];
	const char *bytes = piece;
	uint32		n = desc->count;
	uint32		k = 0;

	if (n == 0 || n > INV_RANGE_DOCS || desc->format != inv_piece_format(n))
		return false;
	inv_read(r, off, piece, inv_piece_bytes(desc->format, n));
	if (desc->format == INV_PIECE_BITMAP)
	{
		const uint8 *bm = (const uint8 *) bytes;
		int			b;

		for (b = 0; b < INV_RANGE_DOCS; b++)
			if (bm[b >> 3] & (1 << (b & 7)))
			{
				if (k == n)
					return false;
				offs[k++] = (InvOffset) b;
			}
		if (k != n)
			return false;
		bytes += INV_BITMAP_BYTES;
	}
	else
	{
		memcpy(offs, bytes, sizeof(InvOffset) * n);
		for (k = 0; k < n; k++)
			if (offs[k] >= INV_RANGE_DOCS || (k > 0 && offs[k] <= offs[k - 1]))
				return false;
		bytes += sizeof(InvOffset) * n;
	}
	for (k = 0; k < n; k++)
	{
		uint16		h;

		memcpy(&h, bytes + sizeof(uint16) * k, sizeof(h));
		ws[k] = inv_bf16_decode(h);
	}
	return true;
}

/* The dimension of document d of a segment (INV_DIM_NONE for NULL). */
int32
inv_segment_doc_dim(InvReader *r, const InvSegHeader *hdr, uint32 d, uint16 flags)
{
	int32		dim;

	if (flags & INV_DOC_NULL)
		return INV_DIM_NONE;
	if (hdr->dim != INV_DIM_MIXED)
		return hdr->dim;
	inv_read(r, hdr->dims_off + (uint64) d * sizeof(int32), &dim, sizeof(dim));
	if (dim < 0)
		ereport(ERROR,
				(errcode(ERRCODE_INDEX_CORRUPTED),
				 errmsg("inverted index \"%s\": bad dimension of document %u",
						RelationGetRelationName(r->index), d)));
	return dim;
}

/*
 * The dimension of a segment's live (not dead) non-NULL documents: once
 * VACUUM has marked the last document of another dimension dead, scans
 * stop refusing queries of the remaining one.
 */
int32
inv_segment_live_dim(InvReader *r, const InvSegHeader *hdr)
{
	int32		dim = INV_DIM_NONE;
	uint32		d;

	if (hdr->dim != INV_DIM_MIXED)
		return hdr->dim;
	for (d = 0; d < hdr->ndocs; d++)
	{
		InvDoc		doc;

		if ((d & 0xFFFF) == 0)
			CHECK_FOR_INTERRUPTS();
		inv_read(r, hdr->doc_off + (uint64) d * sizeof(InvDoc), &doc, sizeof(doc));
		if (!(doc.flags & INV_DOC_DEAD))
			dim = inv_combine_dim(dim, inv_segment_doc_dim(r, hdr, d, doc.flags));
	}
	return dim;
}

/* The index-wide dimension the segments alone give (the pending list aside). */
int32
inv_meta_segments_dim(const InvMetaPageData *meta)
{
	int32		dim = INV_DIM_NONE;
	uint32		i;

	for (i = 0; i < meta->nsegments; i++)
		dim = inv_combine_dim(dim, meta->segs[i].dim);
	return dim;
}

/*
 * Append a segment's live documents and their postings to acc, dropping
 * those already dead and those the callback says are dead now.
 */
void
inv_accum_add_segment(InvAccum *acc, Relation index, const InvSegRef *seg,
					  IndexBulkDeleteCallback callback, void *cb_state,
					  double *ndeleted)
{
	InvReader	r;
	InvSegHeader hdr;
	uint32	   *remap;
	uint32		d;
	uint32		k;
	InvDoc		doc;
	uint64		pdata;

	inv_reader_init(&r, index, seg->start, seg->npages);
	inv_segment_read_header(&r, &hdr);
	remap = MemoryContextAllocHuge(CurrentMemoryContext, sizeof(uint32) * Max(hdr.ndocs, 1));
	for (d = 0; d < hdr.ndocs; d++)
	{
		inv_read(&r, hdr.doc_off + (uint64) d * sizeof(InvDoc), &doc, sizeof(InvDoc));
		remap[d] = PG_UINT32_MAX;
		if (doc.flags & INV_DOC_DEAD)
			continue;
		if (callback && callback(&doc.tid, cb_state))
		{
			if (ndeleted)
				(*ndeleted)++;
			continue;
		}
		inv_accum_reserve(acc, 0);
		remap[d] = acc->ndocs;
		acc->dims[acc->ndocs] = inv_segment_doc_dim(&r, &hdr, d, doc.flags);
		acc->docs[acc->ndocs++] = doc;
	}

	/* postings: every dim's descriptors are consecutive, as is their data */
	pdata = hdr.data_off;
	for (k = 0; k < hdr.ndims; k++)
	{
		InvDimEntry e;
		uint32		x;

		CHECK_FOR_INTERRUPTS();
		inv_read(&r, hdr.dir_off + (uint64) k * sizeof(InvDimEntry), &e, sizeof(e));
		for (x = 0; x < e.ndesc; x++)
		{
			InvRangeDesc desc;
			InvOffset	offs[INV_RANGE_DOCS];
			float4		ws[INV_RANGE_DOCS];
			int			i;

			inv_read(&r, hdr.desc_off + (e.first_desc + x) * sizeof(InvRangeDesc),
					 &desc, sizeof(desc));
			if (!inv_piece_read(&r, pdata, &desc, offs, ws))
				ereport(ERROR,
						(errcode(ERRCODE_INDEX_CORRUPTED),
						 errmsg("inverted index \"%s\": bad postings for dim %d",
								RelationGetRelationName(index), e.dim)));
			pdata += inv_piece_bytes(desc.format, desc.count);
			inv_accum_reserve(acc, desc.count);
			/* reserve may grow docs too; that is harmless */
			for (i = 0; i < desc.count; i++)
			{
				uint32		old = (desc.range << INV_RANGE_SHIFT) | offs[i];
				InvPosting *p;

				if (old >= hdr.ndocs || remap[old] == PG_UINT32_MAX)
					continue;
				p = &acc->post[acc->npost++];
				p->dim = e.dim;
				p->docno = remap[old];
				p->w = ws[i];
			}
		}
	}
	inv_reader_end(&r);
	pfree(remap);
}
