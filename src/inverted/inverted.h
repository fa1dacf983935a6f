/*
 * inverted.h - the `inverted` index access method: page layout and the
 * interfaces between its phases (build, insert, scan, vacuum, cost, check).
 *
 * The index is a log-structured set of immutable "segments" plus an
 * append-only "pending list" of recent documents:
 *
 *   block 0        metapage: the segment list and the pending-list head/tail
 *   segment        consecutive pages holding one byte stream: header, doc
 *                  table, dimension directory, range descriptors, postings
 *   pending pages  a chain of pages holding whole documents, appended by
 *                  INSERT and folded into a new segment by VACUUM or when the
 *                  list grows past sparseclip.inverted_pending_limit
 *
 * Inside a segment, documents are numbered 0..ndocs-1 and grouped in ranges
 * of INV_RANGE_DOCS consecutive numbers.  For every dimension the postings
 * are cut at range boundaries, and each (dimension, range) piece has a
 * descriptor holding the largest positive and largest negative weight in it:
 * summed over the query's terms they bound every score in the range, which
 * is what lets the scan skip ranges without losing exactness (see
 * doc/inverted-design.md).
 *
 * Every page has the standard page header and an InvPageOpaque special area;
 * payload bytes live between the header and the special area, and pd_lower
 * always covers them so that GenericXLog logs them.
 */
#ifndef SPARSECLIP_INVERTED_H
#define SPARSECLIP_INVERTED_H

#include "postgres.h"

#include <float.h>
#include <math.h>

#include "access/amapi.h"
#include "access/genam.h"
#include "access/generic_xlog.h"
#include "access/transam.h"
#include "storage/bufmgr.h"
#include "storage/itemptr.h"
#include "utils/relcache.h"

#include "svec.h"

#define INV_MAGIC			0x53564958	/* "SVIX" */
#define INV_VERSION			8
#define INV_METAPAGE_BLKNO	0

#define INV_RANGE_SHIFT		10
#define INV_RANGE_DOCS		(1 << INV_RANGE_SHIFT)

#define INV_MAX_SEGMENTS	200

/* Payload bytes per page: header (24) + payload + special (8) = 8192. */
#define INV_PAGE_DATA_OFFSET	MAXALIGN(SizeOfPageHeaderData)
#define INV_PAGE_PAYLOAD	8160

/* Page types stored in the special area */
#define INV_PAGE_META		1
#define INV_PAGE_SEGMENT	2
#define INV_PAGE_PENDING	3
#define INV_PAGE_DELETED	4

typedef struct InvPageOpaque
{
	BlockNumber next;			/* pending page: the next one, or Invalid;
								 * segment page: the segment's first block */
	uint16		type;
	uint16		unused;
} InvPageOpaque;

/*
 * The special area is where inv_init_page puts it, at the end of the page;
 * pd_special is not read, so that a corrupt page header cannot send a
 * reader outside the page (or to a misaligned address).
 */
#define INV_PAGE_SPECIAL_OFFSET	(BLCKSZ - MAXALIGN(sizeof(InvPageOpaque)))
#define InvPageGetOpaque(page) ((InvPageOpaque *) ((char *) (page) + INV_PAGE_SPECIAL_OFFSET))
#define InvPagePayload(page) ((char *) (page) + INV_PAGE_DATA_OFFSET)

/*
 * Index-wide flags.  A cosine index stores each weight divided by its
 * document's norm (w/|d|, inv_stored_weight, since version 7), so that its
 * scores need no norms: acc is already the cosine times |q|.
 */
#define INV_FLAG_COSINE		0x0001

/* metapage dim when no document has been seen, or documents disagree */
#define INV_DIM_NONE		(-1)
#define INV_DIM_MIXED		(-2)

/* the dimension of a set of documents with dimension have, plus one of dim */
static inline int32
inv_combine_dim(int32 have, int32 dim)
{
	if (dim == INV_DIM_NONE || have == dim)
		return have;
	if (have == INV_DIM_NONE)
		return dim;
	return INV_DIM_MIXED;
}

typedef struct InvSegRef
{
	BlockNumber start;			/* first page of the segment */
	BlockNumber npages;			/* number of consecutive pages */
	uint32		ndocs;			/* documents (including dead ones) */
	uint32		ndead;			/* documents marked dead by VACUUM */
	int32		dim;			/* dimension of its live non-NULL documents,
								 * INV_DIM_NONE or INV_DIM_MIXED */
} InvSegRef;

/*
 * A run of free pages: pages of merged-away segments and pending lists.
 * They keep their contents until reused, and are reused only once safexid
 * (the next transaction id when they were freed) is older than every
 * snapshot, a hot standby's included (see page.c).  A run whose safexid is
 * invalid is reserved by the merge in progress (InvReserve), which writes
 * its new segment there without holding the metapage.
 */
typedef struct InvFreeExtent
{
	BlockNumber start;
	BlockNumber npages;
	FullTransactionId safexid;
} InvFreeExtent;

#define INV_MAX_FREE		240

typedef struct InvMetaPageData
{
	uint32		magic;
	uint32		version;
	uint32		flags;
	int32		dim;
	BlockNumber pend_head;		/* first pending page, or Invalid */
	BlockNumber pend_tail;		/* page where the next record goes */
	uint32		pend_tail_used; /* payload bytes used in pend_tail */
	uint32		pend_count;		/* complete records in the list */
	uint64		pend_bytes;		/* payload bytes of complete records */
	uint32		nsegments;
	uint32		nfree;			/* entries of free[] */
	InvSegRef	segs[INV_MAX_SEGMENTS];
	uint64		leaked;			/* pages dropped from a full free list */
	InvFreeExtent free[INV_MAX_FREE];
	uint32		pend_head_off;	/* where the first record starts in pend_head:
								 * a merge detaches the records it folded,
								 * which may end inside a page (version 7) */
} InvMetaPageData;

#define InvFreeIsReserved(e)	(!FullTransactionIdIsValid((e)->safexid))

#define InvPageGetMeta(page) ((InvMetaPageData *) InvPagePayload(page))

/*
 * Segment stream: header at byte 0, then the segment's extents (the runs of
 * blocks its pages occupy, in stream order; the first starts at the
 * segment's first block); the doc table starts on page 1.
 */
typedef struct InvExtent
{
	BlockNumber start;
	BlockNumber npages;
} InvExtent;

#define INV_MAX_EXTENTS		900
typedef struct InvSegHeader
{
	uint32		magic;
	uint32		flags;			/* INV_FLAG_COSINE: bounds are over w/|d| */
	uint32		ndocs;
	uint32		nranges;
	uint32		ndims;
	int32		dim;			/* dimension of its non-NULL documents, or
								 * INV_DIM_NONE / INV_DIM_MIXED */
	uint64		ndesc;
	uint64		npostings;		/* postings in all pieces */
	uint64		doc_off;		/* InvDoc[ndocs] */
	uint64		norm_off;		/* float4 |d|[ndocs], rounded up */
	uint64		dims_off;		/* int32 dim[ndocs] when dim is MIXED, else 0 */
	uint64		dead_off;		/* dead bitmap: bit d of byte d / 8 set once
								 * document d is dead (INV_DEAD_BYTES) */
	uint64		dir_off;		/* InvDimEntry[ndims], sorted by dim */
	uint64		desc_off;		/* InvRangeDesc[ndesc] */
	uint64		data_off;		/* posting bytes */
	uint64		total_bytes;
	double		maxnorm;		/* largest |d| in the segment */
	uint32		nextents;		/* InvExtent[nextents] follow the header */
	uint32		unused;
} InvSegHeader;

/*
 * The dead bitmap mirrors the doc table's INV_DOC_DEAD flags (VACUUM sets
 * both in one WAL record), so that a scan learns which documents are dead
 * from ndocs / 8 bytes rather than 16 bytes a document; whole 8-byte words.
 */
#define INV_DEAD_BYTES(ndocs)	((((uint64) (ndocs) + 63) / 64) * 8)

/* Doc flags */
#define INV_DOC_DEAD		0x0001
#define INV_DOC_NULL		0x0002

/* 16 bytes: a whole number of them fill INV_PAGE_PAYLOAD, so none spans pages. */
typedef struct InvDoc
{
	ItemPointerData tid;
	uint16		flags;
	double		norm2;			/* squared L2 norm, as svec_norm2 computes it */
} InvDoc;

typedef struct InvDimEntry
{
	int32		dim;
	uint32		ndesc;
	uint64		first_desc;		/* index into the descriptor array */
	uint64		data_off;		/* relative to the segment's data_off */
	float4		maxpos;			/* over the whole dimension */
	float4		maxneg;
} InvDimEntry;

/*
 * One (dimension, range) piece.  Its postings are stored in one of two
 * formats: sparse pieces as count uint16 offsets inside the range followed by
 * count weights; dense ones (INV_BITMAP_MIN_COUNT postings or more) as a
 * bitmap of the range's documents followed by the count weights in document
 * order, which a scan adds sixteen documents at a time.  Weights are stored
 * as bfloat16 (inv_bf16_encode): half the bytes of float4, the bytes being
 * what a scan waits for.  A stored weight is within INV_BF16_REL of the true
 * one (or INV_BF16_ABS, for weights too small for a float's normal range),
 * and the bounds in descriptors and the directory cover the true weights,
 * so keys stay lower bounds and scans exact (see doc/inverted-design.md).
 */
typedef struct InvRangeDesc
{
	uint32		range;
	uint16		count;
	uint16		format;			/* INV_PIECE_OFFSETS or INV_PIECE_BITMAP */
	float4		maxpos;			/* max(0, largest weight), rounded up */
	float4		maxneg;			/* max(0, -smallest weight), rounded up */
} InvRangeDesc;

#define INV_PIECE_OFFSETS		0
#define INV_PIECE_BITMAP		1
#define INV_BITMAP_BYTES		(INV_RANGE_DOCS / 8)
#define INV_BITMAP_MIN_COUNT	64
/* the largest piece, in bytes */
#define INV_PIECE_MAX_BYTES		(INV_BITMAP_BYTES + INV_RANGE_DOCS * 4)

/*
 * bfloat16 weights.  Rounding to nearest errs by at most 2^-8 of |w|;
 * weights beyond bfloat16's largest finite value are stored as that value,
 * which errs by at most 1/255 of |w|; float subnormals round to the nearest
 * bfloat16 subnormal, or to the smallest one rather than to zero (a stored
 * weight is never zero), within 2^-133.
 */
#define INV_BF16_REL			(1.0 / 255)
#define INV_BF16_ABS			9.2e-41		/* >= 2^-133 = 9.18e-41 */

static inline uint16
inv_bf16_encode(float4 w)
{
	uint32		u;
	uint32		h;

	memcpy(&u, &w, sizeof(u));
	h = (u + 0x7FFF + ((u >> 16) & 1)) >> 16;
	/* rounded up to infinity: the largest finite value (w is finite) */
	if ((h & 0x7F80) == 0x7F80)
		h = u >> 16;
	if ((h & 0x7FFF) == 0 && (u & 0x7FFFFFFF) != 0)
		h = ((u >> 16) & 0x8000) | 1;
	return (uint16) h;
}

static inline float4
inv_bf16_decode(uint16 h)
{
	uint32		u = (uint32) h << 16;
	float4		w;

	memcpy(&w, &u, sizeof(w));
	return w;
}

/* |w| is at most this for a stored weight h */
static inline double
inv_bf16_bound(uint16 h)
{
	return fabs((double) inv_bf16_decode(h)) / (1 - INV_BF16_REL) + INV_BF16_ABS;
}

/* a posting's document number inside its range */
typedef uint16 InvOffset;

static inline uint16
inv_piece_format(uint32 count)
{
	return count >= INV_BITMAP_MIN_COUNT ? INV_PIECE_BITMAP : INV_PIECE_OFFSETS;
}

static inline uint32
inv_piece_bytes(uint16 format, uint32 count)
{
	return (format == INV_PIECE_BITMAP ? INV_BITMAP_BYTES : count * (uint32) sizeof(InvOffset)) +
		count * (uint32) sizeof(uint16);
}

/* Pending record header, followed by int32 indices[nnz], float4 values[nnz]. */
typedef struct InvPendRecord
{
	ItemPointerData tid;
	uint16		flags;
	int32		dim;
	int32		nnz;
	double		norm2;
} InvPendRecord;

/* ---- page.c: buffers, metapage, segment byte streams ---- */
extern Buffer inv_new_buffer(Relation index, InvMetaPageData *meta, bool *reused);
extern void inv_free_extent(Relation index, InvMetaPageData *meta, BlockNumber start,
							BlockNumber npages, FullTransactionId safexid);
extern void inv_log_reuse(Relation index, BlockNumber blkno, FullTransactionId safexid);
extern bool inv_free_recyclable(const InvFreeExtent *e);

/*
 * Free runs reserved for a merge's new segment (see page.c): taken out of
 * reach of inserts' pending pages while the merge writes without holding
 * the metapage, given to the segment (or back) in the switch record.
 */
typedef struct InvReserve
{
	Buffer		metabuf;
	uint32		n;
	InvExtent	run[INV_MAX_FREE];	/* reserved, in the order they are used */
	uint32		next;			/* the writer's position: run[next] */
	BlockNumber taken;			/* pages of run[next] used */
} InvReserve;

extern void inv_reserve_init(InvReserve *res, Buffer metabuf);
extern BlockNumber inv_reserve(Relation index, InvReserve *res, InvMetaPageData *meta,
							   BlockNumber want, BlockNumber below);
extern void inv_reserve_more(Relation index, InvReserve *res, BlockNumber want);
extern void inv_reserve_settle(Relation index, InvReserve *res, InvMetaPageData *meta);
extern void inv_reserve_reclaim(Relation index, Buffer metabuf);
extern bool inv_merge_lock(Relation index, Buffer metabuf, bool wait);
extern void inv_merge_unlock(Relation index);
extern void inv_merge_gate(void);
extern void inv_meta_copy(Buffer metabuf, InvMetaPageData *meta);
extern void inv_init_page(Page page, uint16 type);
extern void inv_fill_metapage(Relation index, Page page);
extern void inv_read_meta(Relation index, InvMetaPageData *meta);
extern void inv_check_meta(Relation index, const InvMetaPageData *meta);
extern uint32 inv_index_flags(Relation index);

/* Where a segment's pages lie: extent i holds pages base[i] .. base[i+1]-1. */
typedef struct InvSegMap
{
	uint32		n;
	BlockNumber *start;
	BlockNumber *base;			/* n + 1 entries */
} InvSegMap;

typedef struct InvReader
{
	Relation	index;
	BlockNumber start;
	BlockNumber npages;
	const InvSegMap *map;		/* NULL until the header is read: page 0 only */
	uint32		ext;			/* extent of the last lookup */
	Buffer		buf;
	BlockNumber cur;
	bool		locked;			/* buf is share-locked (after inv_peek) */
} InvReader;

extern void inv_reader_init(InvReader *r, Relation index, BlockNumber start, BlockNumber npages);
extern BlockNumber inv_reader_blkno(InvReader *r, BlockNumber rel);
extern void inv_segment_load_map(InvReader *r, const InvSegHeader *hdr);
extern void inv_read(InvReader *r, uint64 off, void *dst, size_t len);
extern const char *inv_peek(InvReader *r, uint64 off, size_t len);
extern void inv_reader_unlock(InvReader *r);
extern void inv_reader_end(InvReader *r);

typedef struct InvWriter
{
	Relation	index;
	BlockNumber start;
	BlockNumber npages;			/* pages written so far */
	BlockNumber total;			/* pages the segment takes */
	uint32		nextents;
	InvExtent	ext[INV_MAX_EXTENTS];	/* reused runs, then the new pages */
	char	   *page;			/* image of the page being filled */
	uint32		used;
	uint64		written;
	bool		locked;			/* holding the relation extension lock */
} InvWriter;

extern void inv_writer_begin(InvWriter *w, Relation index, BlockNumber npages, InvReserve *res);
extern void inv_write(InvWriter *w, const void *src, size_t len);
extern void inv_write_pad_to(InvWriter *w, uint64 off);
extern void inv_writer_end(InvWriter *w);

/* ---- pending.c: the pending list ---- */
extern void inv_pending_append(Relation index, Buffer metabuf, const InvPendRecord *hdr,
							   const int32 *indices, const float4 *values);

typedef struct InvPendReader
{
	Relation	index;
	BlockNumber blk;
	uint32		off;
	uint32		remaining;
	BlockNumber steps;			/* pages moved on to */
	BlockNumber maxsteps;		/* the index's size, once needed */
} InvPendReader;

extern void inv_pend_reader_init(InvPendReader *r, Relation index, const InvMetaPageData *meta);
/* Returns false at the end; the indices and values are palloc'd (NULL when nnz == 0). */
extern bool inv_pend_next(InvPendReader *r, InvPendRecord *hdr, int32 **indices, float4 **values);
extern void inv_pending_free_pages(Relation index, InvMetaPageData *meta, BlockNumber head,
								   FullTransactionId safexid);
extern void inv_pending_free_until(Relation index, InvMetaPageData *meta, BlockNumber head,
								   BlockNumber stop, FullTransactionId safexid);

/* ---- segment.c: building segments in memory and writing them ---- */
typedef struct InvPosting
{
	int32		dim;
	uint32		docno;
	float4		w;
} InvPosting;

typedef struct InvAccum
{
	uint32		flags;
	InvDoc	   *docs;
	int32	   *dims;			/* per document (INV_DIM_NONE for NULL) */
	uint32		ndocs;
	uint32		maxdocs;
	InvPosting *post;
	uint64		npost;
	uint64		maxpost;
} InvAccum;

extern void inv_accum_init(InvAccum *acc, uint32 flags);
extern void inv_accum_add_doc(InvAccum *acc, ItemPointer tid, uint16 flags, double norm2,
							  int32 dim, int32 nnz, const int32 *indices, const float4 *values);
extern void inv_accum_add_segment(InvAccum *acc, Relation index, const InvSegRef *seg,
								  IndexBulkDeleteCallback callback, void *cb_state,
								  double *ndeleted);
extern void inv_accum_free(InvAccum *acc);
extern void inv_sort_postings(InvPosting *post, uint64 n);
extern void inv_sort_postings_with(InvPosting *post, uint64 n, InvPosting *tmp);
extern void inv_radix_postings(InvPosting *post, InvPosting *tmp, uint64 n, size_t keyoff, int bits,
							   uint32 maxkey);

/* Round a bound up to the next float4 so it stays an upper bound. */
static inline float4
inv_round_up(double x)
{
	float4		f = (float4) x;

	if ((double) f < x)
		f = nextafterf(f, INFINITY);
	return f;
}

/*
 * The weight a segment stores for w of a document of squared norm norm2:
 * w, or w/|d| for cosine.  The division and then inv_bf16_encode err by at
 * most 2^-24 + 2^-8 of |w/|d||, within INV_BF16_REL; a quotient too small
 * for a float keeps its sign as the smallest one, so that no stored weight
 * is zero.
 */
static inline float4
inv_stored_weight(uint32 flags, float4 w, double norm2)
{
	float4		f;

	if (!(flags & INV_FLAG_COSINE) || !(norm2 > 0))
		return w;
	f = (float4) ((double) w / sqrt(norm2));
	if (f == 0 && w != 0)
		f = copysign(FLT_TRUE_MIN, w);
	return f;
}

/*
 * The bound on a weight given the stored one (w as inv_stored_weight gives
 * it): the largest value the true weight can have, so that the bounds hold
 * for the true weights, and also after a merge, which only sees stored ones.
 */
static inline double
inv_bound_weight(float4 w)
{
	return copysign(inv_bf16_bound(inv_bf16_encode(w)), (double) w);
}
extern InvSegRef inv_segment_write(Relation index, InvAccum *acc, InvReserve *res);
typedef void (*InvExtentFn) (void *arg, BlockNumber start, BlockNumber npages);
extern void inv_segment_extents(Relation index, const InvSegRef *seg, InvExtentFn fn, void *arg);
extern void inv_free_segment(Relation index, InvMetaPageData *meta, const InvSegRef *seg,
							 FullTransactionId safexid);
extern void inv_segment_read_header(InvReader *r, InvSegHeader *hdr);
extern int32 inv_segment_doc_dim(InvReader *r, const InvSegHeader *hdr, uint32 d, uint16 flags);
extern int32 inv_segment_live_dim(InvReader *r, const InvSegHeader *hdr);
extern int32 inv_meta_segments_dim(const InvMetaPageData *meta);
extern bool inv_piece_read(InvReader *r, uint64 off, const InvRangeDesc *desc,
						   InvOffset *offs, float4 *ws);

/* ---- reorder.c: numbering a segment's documents so that similar ones share ranges ---- */
/*
 * scratch: NULL, or room for acc's postings (a build's sort array); the
 * arrays keep their capacity.  Besides that, it takes up to
 * INV_REORDER_DOC_BYTES a document while it runs (the sketches).
 */
extern void inv_reorder(InvAccum *acc, InvPosting *scratch);
#define INV_REORDER_DOC_BYTES	(8 * 16 + 1)
extern bool inv_reorder_enabled(Relation index);
extern void inv_init_reloptions(void);

/* A piece: the postings of one dim in one range, as a segment stores them. */
typedef struct InvPiece
{
	int32		dim;
	uint32		range;
	uint32		count;
	double		maxpos;			/* bounds over the piece's weights, as */
	double		maxneg;			/* inv_bound_weight gives them */
	InvOffset	offs[INV_RANGE_DOCS];
	uint16		ws[INV_RANGE_DOCS]; /* bfloat16 */
} InvPiece;

/* The pieces of the first npost postings of a sorted accumulator. */
typedef struct InvPieceIter
{
	const InvAccum *acc;
	uint64		pos;
	uint64		npost;
	uint32		range_base;		/* added to every range */
	bool		bounds;			/* fill maxpos/maxneg (default true) */
	bool		data;			/* fill offs/ws (default true) */
} InvPieceIter;

/* Where encoded bytes go: the segment writer, or a build's temporary file. */
typedef void (*InvSinkFn) (void *arg, const void *data, size_t len);

extern void inv_piece_iter_init(InvPieceIter *it, const InvAccum *acc, uint64 npost,
								uint32 range_base);
extern bool inv_piece_iter_next(InvPieceIter *it, InvPiece *piece);
extern bool inv_piece_iter_peek(const InvPieceIter *it, int32 *dim);
extern void inv_piece_iter_dim(InvPieceIter *it, int32 dim, InvPiece *piece, InvDimEntry *e,
							   uint64 *nbytes, uint64 *npost);
extern void inv_piece_desc(const InvPiece *piece, InvRangeDesc *d);
extern void inv_piece_emit(const InvPiece *piece, InvSinkFn sink, void *arg);

/*
 * What a segment is written from (inv_segment_write_source): its documents
 * in order; its dimension directory, dim by dim (dim, ndesc and the maxima
 * filled in; the posting bytes and count added to *nbytes and *npost); then
 * all its descriptors and all its posting bytes, in directory order.  Each
 * may be asked for more than once.  An InvAccum is one (encoding its pieces
 * as it goes); a build's sorted runs another (build_runs.c: copying pieces
 * that the runs hold encoded already).
 */
typedef struct InvSegSource InvSegSource;
typedef struct InvSegSourceOps
{
	void		(*docs_rewind) (InvSegSource *src);
	/* up to max documents and their dimensions; 0 at the end */
	uint32		(*docs_next) (InvSegSource *src, InvDoc *docs, int32 *dims, uint32 max);
	void		(*dims_rewind) (InvSegSource *src);
	bool		(*dim_next) (InvSegSource *src, InvDimEntry *e, uint64 *nbytes, uint64 *npost);
	void		(*write_descs) (InvSegSource *src, InvSinkFn sink, void *arg);
	void		(*write_data) (InvSegSource *src, InvSinkFn sink, void *arg);
} InvSegSourceOps;
struct InvSegSource
{
	const InvSegSourceOps *ops;
	uint32		flags;
	uint32		ndocs;
	uint64		npost;
};

extern InvSegRef inv_segment_write_source(Relation index, InvSegSource *src,
										  InvReserve *res);

/* ---- check.c: inverted_check's structural part (HTAB of its entries) ---- */
extern struct HTAB *inv_check_structure(Relation index, const InvMetaPageData *meta,
									   uint64 *nentries);

/* ---- shared helpers ---- */
extern double inv_distance(bool cosine, double dot, double qnorm2, double dnorm2);
extern void inv_define_gucs(void);

extern int	inv_query_terms;
extern int	inv_pending_limit;
extern int	inv_initial_batch;
extern bool inv_prune;
extern int	inv_scan_threads;
extern int	inv_helper_lag;
extern int	inv_scan_cache_kb;
extern void inv_scan_cache_assign(int newval, void *extra);
extern int	inv_simd;
extern int	inv_merge_gate_key;

/* sparseclip.inverted_simd: the widest scoring kernels a scan may use */
#define INV_SIMD_NONE		0
#define INV_SIMD_AVX2		1
#define INV_SIMD_AVX512		2

/* ---- AM callbacks ---- */
extern IndexBuildResult *invbuild(Relation heap, Relation index, struct IndexInfo *indexInfo);
extern void invbuildempty(Relation index);
extern bool invinsert(Relation index, Datum *values, bool *isnull, ItemPointer ht_ctid,
					  Relation heapRel, IndexUniqueCheck checkUnique, bool indexUnchanged,
					  struct IndexInfo *indexInfo);
extern IndexBulkDeleteResult *invbulkdelete(IndexVacuumInfo *info, IndexBulkDeleteResult *stats,
											IndexBulkDeleteCallback callback, void *callback_state);
extern IndexBulkDeleteResult *invvacuumcleanup(IndexVacuumInfo *info, IndexBulkDeleteResult *stats);
extern void invcostestimate(struct PlannerInfo *root, struct IndexPath *path, double loop_count,
							Cost *indexStartupCost, Cost *indexTotalCost,
							Selectivity *indexSelectivity, double *indexCorrelation,
							double *indexPages);
extern bytea *invoptions(Datum reloptions, bool validate);
extern bool invvalidate(Oid opclassoid);
extern char *invbuildphasename(int64 phasenum);
extern IndexScanDesc invbeginscan(Relation index, int nkeys, int norderbys);
extern void invrescan(IndexScanDesc scan, ScanKey keys, int nkeys, ScanKey orderbys, int norderbys);
extern bool invgettuple(IndexScanDesc scan, ScanDirection dir);
extern void invendscan(IndexScanDesc scan);

/* Fold the pending list into a segment and merge size tiers (vacuum.c). */
extern void inv_merge_pending(Relation index, Buffer metabuf, IndexBulkDeleteCallback callback,
							  void *cb_state, double *ndeleted);

/* Truncation, moving segments down, compaction (vacuum.c). */
extern void inv_maintain(Relation index, Buffer metabuf, bool insert,
						 IndexBulkDeleteCallback callback, void *cb_state, double *ndeleted);

/* ---- space.c: giving the end of the relation back ---- */
extern void inv_segment_bounds(Relation index, const InvSegRef *seg, BlockNumber *lo, BlockNumber *hi);
extern BlockNumber inv_truncate(Relation index, Buffer metabuf);
extern void inv_truncate_locked(Relation index, Buffer metabuf, bool wait);

/* Build subphases reported in pg_stat_progress_create_index */
#define INV_BUILD_PHASE_LOAD	2
#define INV_BUILD_PHASE_SORT	3
#define INV_BUILD_PHASE_WRITE	4
#define INV_BUILD_PHASE_RUN		5
#define INV_BUILD_PHASE_MERGE	6

#endif
