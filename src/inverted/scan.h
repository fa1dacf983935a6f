/*
 * scan.h - what the files of the `inverted` index scan share: the scan's
 * state, its keys, and the small inline helpers more than one file needs.
 *
 * The scan is split by job (see scan.c for how it works as a whole):
 *
 *   scan.c          the access method's entry points, the query's set-up and
 *                   the pending list
 *   scan_segment.c  one segment's set-up: its query terms, their checks and
 *                   error bounds, and the order of the (pruned) walk
 *   scan_walk.c     reading postings from the pages into the accumulators
 *   scan_kernels.c  the scoring kernels (portable, AVX2, AVX-512) and the
 *                   choice among them
 *   scan_prune.c    pruning: what terms not yet walked can add, checkpoints
 *   scan_batch.c    the keys, the bounded heap and the batches of rows
 *   scan_buffers.c  the score arrays a backend keeps between scans
 *   scan_helper.c   the helper thread that adds postings beside the walk
 *
 * Not an interface for the rest of the index: inverted.h is that.
 */
#ifndef SPARSECLIP_INVERTED_SCAN_H
#define SPARSECLIP_INVERTED_SCAN_H

#include "postgres.h"

#include <math.h>

#include "inverted.h"

/* GCC vector extensions: SSE on x86-64, NEON on ARM, plain code elsewhere */
typedef float4 InvV4F __attribute__((vector_size(16)));
typedef int32 InvV4I __attribute__((vector_size(16)));

/* class of a key: ordinary distance, NaN distance, NULL vector */
#define KEY_NUM		0
#define KEY_NAN		1
#define KEY_NULL	2

typedef struct InvKey
{
	double		dist;
	ItemPointerData tid;
	uint8		cls;
} InvKey;

typedef struct InvTerm
{
	float4		q;
	double		impact;			/* largest |contribution| to any document */
	double		order;			/* walk order, largest first */
	InvDimEntry e;
	InvRangeDesc *descs;		/* the term's (dimension, range) pieces */
	uint64	   *pos;			/* stream offset of each piece; ndesc + 1 */
	uint64		npost;
	uint32		cur;			/* blocked walk: the next piece */
} InvTerm;

typedef struct InvSegScan
{
	InvReader	r;
	InvSegHeader hdr;
	float4	   *acc;			/* per document: score, summed term by term
								 * (cosine: of w / |d|, as stored) */
	struct InvTerm *terms;		/* the query terms found in the segment */
	int			nterms;
	double		slack;			/* error bound of any partial score */
	double	   *rest_lo;		/* mixed signs, per range: the least the terms
								 * after the next checkpoint can add; else NULL */
	/*
	 * Pruned walks: per range, INV_RANGE_COMPLETE once every term has been
	 * added, else the number of terms added (the first nterms in order), and
	 * then ub holds an upper bound on the scores in the range.  NULL when
	 * every range is complete.
	 */
	uint32	   *walked;
	double	   *ub;
	uint32		nincomplete;
	/*
	 * at a checkpoint: the best partial scores of live documents (a
	 * min-heap) and their documents, the first batch's size of them
	 */
	float4	   *top;
	uint32	   *topdoc;
	uint32		ntop;
	uint32		topcap;
	/* the dead bitmap (INV_DEAD_BYTES), when the segment has dead documents */
	uint8	   *dead;
	/*
	 * With the helper thread: per block of INV_BLOCK_RANGES ranges, a bit
	 * for each range the helper adds; the backend adds the others.  Fixed by
	 * the first walk, which also zeroes the accumulators, each thread its
	 * own, so that each accumulator stays in the cache of one core.  NULL
	 * without the helper.
	 */
	uint32	   *helper_mask;
	bool		zeroed;
} InvSegScan;

#define INV_RANGE_COMPLETE	PG_UINT32_MAX

typedef struct InvScanOpaque
{
	MemoryContext ctx;
	bool		prepared;
	bool		done;
	bool		cosine;
	bool		qnull;
	bool		exact;			/* all query terms used: keys are lower bounds */
	SVec	   *query;
	double		qnorm2;
	double		qnorm;
	double		err;			/* relative error bound of the scores, times |q||d| */
	double		abserr;			/* and an absolute one (bfloat16 subnormals) */
	bool		overflow;		/* some float score might be infinite */
	double		theta;			/* a lower bound on the first batch's last score */
	Buffer		metabuf;
	InvMetaPageData meta;
	int			nseg;
	InvSegScan *segs;
	InvKey	   *pend;
	uint32		npend;
	/* batches */
	InvKey	   *heap;
	int			hn;
	int			hcap;
	InvKey	   *batch;
	int			nbatch;
	int			pos;
	int			batchsize;
	bool		have_last;
	InvKey		last;
} InvScanOpaque;

/* a range and a bound of its scores, sorted best first */
typedef struct InvRangeBound
{
	double		ub;
	uint32		range;
} InvRangeBound;

/* ranges per block of the blocked walk: 128 kB of accumulators, in L2 */
#define INV_BLOCK_RANGES	32
/* incomplete ranges to complete one by one; more go in one blocked walk */
#define INV_BULK_COMPLETE	16

/* terms walked side by side, each with a pinned page */
#define INV_MAX_CURSORS		64

/* ---------------------------------------------------------------- kernels (scan_kernels.c) */

/*
 * Bitmap pieces: add q * w to the documents whose bits are set, the weights
 * being stored in document order.  The portable version visits set bits;
 * with AVX-512 sixteen documents go at once, the weights expanded into the
 * lanes of the set bits (the others add q * 0).
 *
 * With check, a kernel first makes sure that the bitmap holds count
 * documents (false if not, touching nothing): a corrupt bitmap must not make
 * it read weights past the piece when that could be the end of mapped
 * memory.  Pieces that lie far enough from the end of their page (or were
 * copied) cannot be read past it, and skip the check.
 */
typedef bool (*InvBitmapAddFn) (float4 *base, const char *p, uint32 count, float4 q, bool check);

/* The largest score in range r (the accumulators are padded to whole ranges). */
typedef float4 (*InvRangeMaxFn) (const float4 *a);

/*
 * The kernels chosen by inv_choose_kernels, for the scan being prepared.
 * Hidden: read per piece, directly rather than through the GOT, as when
 * they were static.
 */
extern __attribute__((visibility("hidden"))) InvBitmapAddFn inv_add_bitmap;
extern __attribute__((visibility("hidden"))) InvRangeMaxFn inv_range_max_fn;

extern void inv_choose_kernels(void);

/*
 * The portable kernels below are inline here because the walk inlines them
 * (per range and per document); the others are called through pointers.
 */

/* lane-wise max (C has no vector ?:) */
static inline InvV4F
inv_v4_max(InvV4F a, InvV4F b)
{
	InvV4I		m = a > b;

	return (InvV4F) (((InvV4I) a & m) | ((InvV4I) b & ~m));
}

/*
 * Add q * w of an offset-list piece (count offsets inside the range, then
 * count weights, at p) into its range's accumulators (base).  Four
 * postings at a time, all loaded before any accumulator is written: the
 * loads would otherwise have to wait for the stores they might alias.  A
 * piece's documents are distinct.  The mask keeps a corrupt offset inside
 * the range's accumulators.  (A last group run whole, its extra lanes
 * adding 0, was 0.66-0.83x in a benchmark of pieces alone and the same
 * speed in the index: see doc/inverted-design.md.)
 */
static inline void
inv_add_offsets(float4 *base, const char *p, uint32 count, float4 q)
{
	const char *ws = p + sizeof(InvOffset) * count;
	uint32		i;

	for (i = 0; i + 4 <= count; i += 4)
	{
		uint16		h[4];
		InvOffset	o[4];

		memcpy(o, p + sizeof(InvOffset) * i, sizeof(o));
		memcpy(h, ws + sizeof(uint16) * i, sizeof(h));
		base[o[0] & (INV_RANGE_DOCS - 1)] += q * inv_bf16_decode(h[0]);
		base[o[1] & (INV_RANGE_DOCS - 1)] += q * inv_bf16_decode(h[1]);
		base[o[2] & (INV_RANGE_DOCS - 1)] += q * inv_bf16_decode(h[2]);
		base[o[3] & (INV_RANGE_DOCS - 1)] += q * inv_bf16_decode(h[3]);
	}
	for (; i < count; i++)
	{
		uint16		h1;
		InvOffset	o1;

		memcpy(&o1, p + sizeof(InvOffset) * i, sizeof(o1));
		memcpy(&h1, ws + sizeof(uint16) * i, sizeof(h1));
		base[o1 & (INV_RANGE_DOCS - 1)] += q * inv_bf16_decode(h1);
	}
}

/* The largest value pruning compares in range r (at least 0). */
static inline float4
inv_range_max(const InvSegScan *ss, uint32 r)
{
	return inv_range_max_fn(ss->acc + ((size_t) r << INV_RANGE_SHIFT));
}

/* the value of document d that inv_range_max takes the largest of */
static inline float4
inv_doc_val(const InvSegScan *ss, uint32 d)
{
	return ss->acc[d];
}

/* whether document d of the segment is dead (its postings stay until a merge) */
static inline bool
inv_doc_dead(const InvSegScan *ss, uint32 d)
{
	return ss->dead != NULL && ((ss->dead[d >> 3] >> (d & 7)) & 1);
}

/* ---------------------------------------------------------------- small helpers */

/* qsort comparators, largest first */
static inline int
inv_desc_cmp(double x, double y)
{
	return (x > y) ? -1 : (x < y) ? 1 : 0;
}

/* the largest float <= x and the smallest float >= x */
static inline float4
inv_float_below(double x)
{
	float4		f = (float4) x;

	return (double) f > x ? nextafterf(f, -INFINITY) : f;
}

static inline float4
inv_float_above(double x)
{
	float4		f = (float4) x;

	return (double) f < x ? nextafterf(f, INFINITY) : f;
}

/* ---------------------------------------------------------------- between the files */

/* scan_segment.c */
extern void inv_prepare_segment(InvScanOpaque *so, Relation index, InvSegScan *ss, const InvSegRef *ref);

/* scan_walk.c */
extern void inv_walk_terms(InvSegScan *ss, int from, int to, const bool *sel, float4 *mr);
extern void inv_complete_range(InvSegScan *ss, uint32 r);
extern bool inv_doc_without_terms(InvSegScan *ss, uint32 d);

/* scan_prune.c */
extern int	inv_range_bound_cmp(const void *a, const void *b);
extern double inv_cos_gap(const InvScanOpaque *so);
extern void inv_rest_bounds(const InvSegScan *ss, int j, double *hi, double *lo);
extern void inv_checkpoint(InvScanOpaque *so, InvSegScan *ss, int j, float4 *mr);

/* scan_batch.c */
extern void inv_next_batch(InvScanOpaque *so);

/* scan_buffers.c */
extern void *inv_scan_buffer(MemoryContext ctx, Size size);

/* scan_helper.c: a helper thread per backend, for plain C work only */
typedef void (*InvHelperFn) (void *arg);
#define INV_HELPER_RING	4		/* calls that may be pending at once */
extern bool inv_helper_available(void);
extern uint32 inv_helper_pending(void);
extern uint32 inv_helper_posted_count(void);
extern void inv_helper_run(InvHelperFn fn, void *arg);
extern bool inv_helper_wait(uint32 n);

#endif							/* SPARSECLIP_INVERTED_SCAN_H */
