/*
 * scan_walk.c - reading a segment's postings into its accumulators: each
 * query term's pieces, straight from the locked pages through a cursor per
 * term, in blocks of ranges (inv_walk_terms), or the pieces one range still
 * lacks (inv_complete_range).  While a block is in cache the walk also
 * takes what a pruning checkpoint needs (range maxima, best partial scores).
 * With sparseclip.inverted_scan_threads = 2 the walk is a pipeline: the
 * backend finds each block's pieces in the pages and adds some of its
 * ranges, the helper thread (scan_helper.c) adds the rest a few blocks
 * behind, from pages the backend keeps pinned for it.
 *
 * Apart from the kernels (scan_kernels.c), which it calls per piece, and
 * from the pruning decisions (scan_prune.c), which only read what it leaves.
 */
#include "postgres.h"

#include <unistd.h>

#include "miscadmin.h"
#include "utils/rel.h"

#include "scan.h"

/*
 * Add q * w of a piece's postings (its bytes at p) into the accumulators of
 * its range (base).  False, touching nothing, for a bitmap that does not
 * hold count documents (checked only with check).  Plain C: the helper
 * thread runs it too.
 */
static inline bool
inv_apply_piece(float4 *base, uint16 format, uint32 c, const char *p, float4 q, bool check)
{
	if (format == INV_PIECE_BITMAP)
		return inv_add_bitmap(base, p, c, q, check);
	inv_add_offsets(base, p, c, q);
	return true;
}

static void
inv_bad_bitmap(InvSegScan *ss)
{
	ereport(ERROR,
			(errcode(ERRCODE_INDEX_CORRUPTED),
			 errmsg("inverted index \"%s\": bad posting bitmap",
					RelationGetRelationName(ss->r.index))));
}

/* Add q * w of a piece's postings (its bytes at p) into the accumulators. */
static inline void
inv_add_piece_bytes(InvSegScan *ss, const InvRangeDesc *desc, const char *p, float4 q, bool check)
{
	if (!inv_apply_piece(ss->acc + ((uint32) desc->range << INV_RANGE_SHIFT),
						 desc->format, desc->count, p, q, check))
		inv_bad_bitmap(ss);
}

/*
 * A term's position in the pages while it is walked: the page its reader
 * has locked, as the range of stream offsets it holds, so that pieces inside
 * it are found without a call.
 */
typedef struct InvCursor
{
	InvReader	r;
	const char *page;			/* payload of the locked page, or NULL */
	uint64		lo;				/* stream offset of page[0] */
} InvCursor;

/* the most a bitmap kernel can read from a piece's start: a full bitmap's weights */
#define INV_PIECE_READ_MAX	(INV_BITMAP_BYTES + INV_RANGE_DOCS * sizeof(uint16))

/* whether range r of the block starting at r0 is the helper's */
static inline bool
inv_helper_owns(uint32 mask, uint32 r0, uint32 r)
{
	return (mask >> (r - r0)) & 1;
}

/*
 * A block's mask for a share of k of its INV_BLOCK_RANGES ranges: its last
 * k.  (Ranges spread evenly over the block, so that ranges pruned later
 * would cost both threads alike, were slower: 1.09x the backend alone on
 * 1M-row text queries.)
 */
static inline uint32
inv_helper_spread(uint32 k)
{
	StaticAssertStmt(INV_BLOCK_RANGES == 32, "a block's mask is 32 bits");
	if (k == 0)
		return 0;
	if (k >= INV_BLOCK_RANGES)
		return PG_UINT32_MAX;
	return (((uint32) 1 << k) - 1) << (INV_BLOCK_RANGES - k);
}

/* a piece the helper thread adds: where, its bytes in a pinned page, q */
typedef struct InvPieceJob
{
	float4	   *base;
	const char *p;				/* NULL: copied, at copies + off */
	float4		q;
	uint16		count;
	uint8		format;
	bool		check;
	uint32		off;
} InvPieceJob;

/*
 * One block's pieces for the helper, and the pages their bytes lie in:
 * pinned until the helper is done with them (a cursor that moves on hands
 * its page over here instead of releasing it).
 */
typedef struct InvJobList
{
	InvPieceJob *jobs;
	uint32		n;
	uint32		cap;
	Buffer	   *pins;
	uint32		npins;
	uint32		pincap;
	/* pieces that cross a page, copied (the list grows them while unread) */
	char	   *copies;
	uint32		ncopy;			/* bytes used */
	uint32		copycap;		/* bytes, past which INV_PIECE_MAX_BYTES more lie */
	/* the block: ranges [r0, r1); the helper's those of the mask's bits */
	uint32		r0;
	uint32		mask;
	uint32		r1;
	bool		zero;			/* zero the helper's accumulators first */
	float4	   *acc;
	const uint32 *walked;		/* with mr: the ranges to take maxima of */
	float4	   *mr;				/* a checkpoint follows: the range maxima */
	bool		bad;			/* set by the helper: a bitmap that lied */
	int			lag_us;			/* sparseclip.inverted_helper_lag, for tests */
	bool		inflight;		/* given to the helper, not finished */
	bool		local;			/* added by the backend, its pages still held */
	uint32		before;			/* calls to be done before it is finished */
} __attribute__((aligned(64))) InvJobList;

/*
 * The helper's side: zero its accumulators on the first walk, add every
 * piece of a list, and before a checkpoint take the maxima of its ranges
 * (no PostgreSQL calls).
 */
static void
inv_apply_jobs(void *arg)
{
	InvJobList *l = (InvJobList *) arg;
	const InvPieceJob *jobs = l->jobs;
	uint32		n = l->n;
	uint32		i;
	bool		bad = false;

	if (l->zero)
		for (i = l->r0; i < l->r1; i++)
			if (inv_helper_owns(l->mask, l->r0, i))
				memset(l->acc + ((size_t) i << INV_RANGE_SHIFT), 0, sizeof(float4) * INV_RANGE_DOCS);
	/* locals: the backend writes the other list, which may share lines */
	for (i = 0; i < n; i++)
	{
		const InvPieceJob *j = &jobs[i];
		const char *p = j->p != NULL ? j->p : l->copies + j->off;

		if (!inv_apply_piece(j->base, j->format, j->count, p, j->q, j->check))
			bad = true;
	}
	if (l->mr != NULL)
		for (i = l->r0; i < l->r1; i++)
			if (inv_helper_owns(l->mask, l->r0, i) && l->walked[i] == INV_RANGE_COMPLETE)
				l->mr[i] = inv_range_max_fn(l->acc + ((size_t) i << INV_RANGE_SHIFT));
	l->bad = bad;
}

/* The helper's call: a list, after the lag tests may ask for. */
static void
inv_helper_apply_jobs(void *arg)
{
	InvJobList *l = (InvJobList *) arg;

	if (l->lag_us > 0)
		usleep(l->lag_us);
	inv_apply_jobs(l);
}

/*
 * Before a cursor leaves its page while the helper may still read it: the
 * pin goes to the block's list, released once the helper is done.
 */
static void
inv_cursor_hand_over(InvCursor *c, InvJobList *l)
{
	inv_reader_unlock(&c->r);
	c->page = NULL;
	if (!BufferIsValid(c->r.buf))
		return;
	if (l->npins == l->pincap)
	{
		l->pincap *= 2;
		l->pins = repalloc(l->pins, sizeof(Buffer) * l->pincap);
	}
	l->pins[l->npins++] = c->r.buf;
	c->r.buf = InvalidBuffer;
	c->r.cur = InvalidBlockNumber;
}

/*
 * Add piece x of a term, read through cursor c; or, given a job list and a
 * range of the helper's (its bit in mask), leave the adding to it (a piece that
 * crosses a page goes to it as a copy).
 */
static inline void
inv_add_piece(InvSegScan *ss, InvCursor *c, const InvTerm *term, uint32 x,
			  InvJobList *l, uint32 mask, uint32 r0)
{
	const InvRangeDesc *desc = &term->descs[x];
	uint64		off = term->pos[x];
	uint32		nbytes = (uint32) (term->pos[x + 1] - off);
	const char *p;
	char		piece[INV_PIECE_MAX_BYTES];
	bool		check;

	if (c->page != NULL && off >= c->lo && off + nbytes <= c->lo + INV_PAGE_PAYLOAD)
		p = c->page + (off - c->lo);
	else
	{
		/* the helper may still read the page the cursor holds */
		if (l != NULL && BufferIsValid(c->r.buf) &&
			(off % INV_PAGE_PAYLOAD + nbytes > INV_PAGE_PAYLOAD ||
			 inv_reader_blkno(&c->r, (BlockNumber) (off / INV_PAGE_PAYLOAD)) != c->r.cur))
			inv_cursor_hand_over(c, l);
		if (c->page != NULL && off >= c->lo && off < c->lo + INV_PAGE_PAYLOAD)
		{
			/*
			 * A piece from the locked page into the next: its head copied
			 * from this page, the rest from the next, which stays locked
			 * for the pieces after it.
			 */
			uint32		n1 = (uint32) (c->lo + INV_PAGE_PAYLOAD - off);
			const char *next;

			memcpy(piece, c->page + (off - c->lo), n1);
			next = inv_peek(&c->r, c->lo + INV_PAGE_PAYLOAD, nbytes - n1);
			Assert(next != NULL);
			memcpy(piece + n1, next, nbytes - n1);
			c->lo += INV_PAGE_PAYLOAD;
			c->page = next;
			p = piece;
		}
		else if ((p = inv_peek(&c->r, off, nbytes)) != NULL)
		{
			c->lo = off - off % INV_PAGE_PAYLOAD;
			c->page = p - (off - c->lo);
		}
		else
		{
			/* pieces that cross a page are copied */
			c->page = NULL;
			inv_read(&c->r, off, piece, nbytes);
			p = piece;
		}
	}
	/*
	 * A bitmap piece read in place: a corrupt bitmap could make the kernel
	 * read up to INV_PIECE_READ_MAX bytes from p.  Check its count only if
	 * that could leave the page (a copy has room for it).
	 */
	check = p != piece && (off - c->lo) + INV_PIECE_READ_MAX > BLCKSZ - INV_PAGE_DATA_OFFSET;
	if (l != NULL && inv_helper_owns(mask, r0, desc->range))
	{
		InvPieceJob *j = &l->jobs[l->n++];

		Assert(l->n <= l->cap);
		j->base = ss->acc + ((uint32) desc->range << INV_RANGE_SHIFT);
		j->p = p;
		if (p == piece)
		{
			/* slack of a whole piece past copycap: a kernel may read that far */
			if (l->ncopy + nbytes > l->copycap)
			{
				l->copycap = Max(l->copycap * 2, l->ncopy + nbytes);
				l->copies = repalloc(l->copies, l->copycap + INV_PIECE_MAX_BYTES);
			}
			memcpy(l->copies + l->ncopy, piece, nbytes);
			j->p = NULL;
			j->off = l->ncopy;
			l->ncopy += nbytes;
		}
		j->q = term->q;
		j->count = desc->count;
		j->format = (uint8) desc->format;
		j->check = check;
		return;
	}
	inv_add_piece_bytes(ss, desc, p, term->q, check);
}

static inline void
inv_cursor_unlock(InvCursor *c)
{
	inv_reader_unlock(&c->r);
	c->page = NULL;
}

/*
 * The largest of a[0..16) (the accumulators of whole ranges, so always
 * there to read).
 */
static inline float4
inv_max16(const float4 *a)
{
	InvV4F		x0,
				x1,
				x2,
				x3;

	memcpy(&x0, a, sizeof(x0));
	memcpy(&x1, a + 4, sizeof(x1));
	memcpy(&x2, a + 8, sizeof(x2));
	memcpy(&x3, a + 12, sizeof(x3));
	x0 = inv_v4_max(inv_v4_max(x0, x1), inv_v4_max(x2, x3));
	return Max(Max(x0[0], x0[1]), Max(x0[2], x0[3]));
}

/*
 * min-heap of floats with a document each: the cap largest values pushed,
 * the smallest at h[0]
 */
static void
inv_fheap_push(float4 *h, uint32 *doc, uint32 *n, uint32 cap, float4 v, uint32 d)
{
	uint32		i;

	if (*n < cap)
	{
		i = (*n)++;
		while (i > 0 && h[(i - 1) / 2] > v)
		{
			h[i] = h[(i - 1) / 2];
			doc[i] = doc[(i - 1) / 2];
			i = (i - 1) / 2;
		}
		h[i] = v;
		doc[i] = d;
		return;
	}
	if (!(v > h[0]))
		return;
	i = 0;
	for (;;)
	{
		uint32		l = 2 * i + 1,
					m = l;

		if (l >= *n)
			break;
		if (l + 1 < *n && h[l + 1] < h[l])
			m = l + 1;
		if (!(h[m] < v))
			break;
		h[i] = h[m];
		doc[i] = doc[m];
		i = m;
	}
	h[i] = v;
	doc[i] = d;
}

/*
 * A checkpoint follows: while block [r0, r1) is in cache, take its range
 * maxima (of the ranges the mask leaves to the backend: the helper took
 * the others') and keep
 * the best partial scores (a range whose best cannot enter them is not
 * looked at further).
 */
static void
inv_block_checkpoint(InvSegScan *ss, uint32 r0, uint32 r1, uint32 mask, float4 *mr)
{
	uint32		r;

	r1 = Min(r1, ss->hdr.nranges);
	for (r = r0; r < r1; r++)
	{
		double		least;

		if (ss->walked[r] != INV_RANGE_COMPLETE)
			continue;
		if (!inv_helper_owns(mask, r0, r))
			mr[r] = inv_range_max(ss, r);
		/*
		 * A witness's value is a lower bound on its final score: its
		 * partial one plus the least the terms not yet walked can add (0
		 * unless signs are mixed).  Only positive ones are kept: the bar
		 * must be positive.
		 */
		least = ss->rest_lo != NULL ? ss->rest_lo[r] : 0;
		if (ss->top != NULL && (double) mr[r] + least > 0 &&
			(ss->ntop < ss->topcap || (double) mr[r] + least > ss->top[0]))
		{
			uint32		lo = r << INV_RANGE_SHIFT,
						hi = Min(lo + INV_RANGE_DOCS, ss->hdr.ndocs),
						d;

			for (d = lo; d < hi; d += 16)
			{
				uint32		x,
							e = Min(d + 16, hi);

				/* 16 documents at once, once the heap is full */
				if (least == 0 && ss->ntop == ss->topcap &&
					!(inv_max16(ss->acc + d) > ss->top[0]))
					continue;
				for (x = d; x < e; x++)
				{
					float4		v = inv_doc_val(ss, x);

					if (least != 0)
						v = inv_float_below((double) v + least);
					if (v > 0 && (ss->ntop < ss->topcap || v > ss->top[0]) &&
						!inv_doc_dead(ss, x))
						inv_fheap_push(ss->top, ss->topdoc, &ss->ntop, ss->topcap, v, x);
				}
			}
		}
	}
}

/*
 * With the helper, the first walk of a segment gives the ranges of each
 * block from INV_BLOCK_RANGES - share on to it, the others the backend adds
 * itself while it finds the pieces; later walks keep that split.  The share
 * follows who waited last (kept between scans: a backend's queries are
 * alike).
 */
static uint32 inv_helper_share = INV_BLOCK_RANGES / 2;

/* blocks the backend may find ahead of the helper: lists in flight */
#define INV_WALK_DEPTH	3

/*
 * The helper is done with list l (busy: the backend had to wait for it):
 * check it, release its pages, empty it.
 */
static void
inv_finish_jobs(InvSegScan *ss, InvJobList *l, bool adapt, bool busy)
{
	uint32		i;

	/* the helper behind: give it less next time; keeping up: more */
	if (adapt)
	{
		if (busy && inv_helper_share > 1)
			inv_helper_share--;
		else if (!busy && inv_helper_share < INV_BLOCK_RANGES)
			inv_helper_share++;
	}
	for (i = 0; i < l->npins; i++)
		ReleaseBuffer(l->pins[i]);
	l->npins = 0;
	l->n = 0;
	l->ncopy = 0;
	l->inflight = false;
	l->local = false;
	if (l->bad)
		inv_bad_bitmap(ss);
}

/*
 * Walk terms [from, to) over every complete range, in blocks of
 * INV_BLOCK_RANGES ranges: in each block every term adds its pieces before
 * the next block starts, so the block's accumulators stay in cache instead
 * of every term sweeping all of them.  Each term reads through its own
 * reader, which keeps its page pinned between blocks.  Given job lists
 * (the helper thread), the helper adds its share of each block's pieces
 * while the backend finds those of the next blocks (up to INV_WALK_DEPTH
 * blocks ahead, which evens out blocks of unequal cost) and adds its own
 * share of them.
 */
static void
inv_walk_blocks(InvSegScan *ss, int from, int to, const bool *sel, float4 *mr, InvJobList *lists)
{
	uint32		nr = ss->hdr.nranges;
	int			g;

	for (g = from; g < to; g += INV_MAX_CURSORS)
	{
		int			gend = Min(to, g + INV_MAX_CURSORS);
		InvCursor  *cur = palloc(sizeof(InvCursor) * (gend - g));
		uint32		r0,
					nblock = 0;
		int			t;
		bool		takemax = mr != NULL && gend == to;
		/* the first walk zeroes the accumulators and splits the blocks */
		bool		first = !ss->zeroed;

		for (t = g; t < gend; t++)
		{
			inv_reader_init(&cur[t - g].r, ss->r.index, ss->r.start, ss->r.npages);
			cur[t - g].r.map = ss->r.map;
			cur[t - g].page = NULL;
			ss->terms[t].cur = 0;
		}
		for (r0 = 0; r0 < nr; r0 += INV_BLOCK_RANGES, nblock++)
		{
			uint32		r1 = Min(r0 + INV_BLOCK_RANGES, nr);
			InvJobList *l = lists != NULL ? &lists[nblock % INV_WALK_DEPTH] : NULL;
			uint32		mask = 0;

			CHECK_FOR_INTERRUPTS();
			if (l != NULL && l->inflight)
			{
				/*
				 * The list's block, INV_WALK_DEPTH back: the helper must be
				 * done with it (or, added here, with the calls before it)
				 */
				bool		local = l->local;
				bool		busy = inv_helper_wait(inv_helper_posted_count() - l->before);

				inv_finish_jobs(ss, l, first, busy);
				if (takemax && !local)
					inv_block_checkpoint(ss, l->r0, l->r1, l->mask, mr);
			}
			if (l != NULL)
			{
				if (first)
					ss->helper_mask[nblock] = inv_helper_spread(inv_helper_share);
				mask = ss->helper_mask[nblock];
				l->r0 = r0;
				l->mask = mask;
				l->r1 = r1;
				l->zero = first;
				l->acc = ss->acc;
				l->walked = ss->walked;
				l->mr = takemax ? mr : NULL;
				l->lag_us = inv_helper_lag;
				l->bad = false;
			}
			if (first)
			{
				uint32		r;

				for (r = r0; r < r1; r++)
					if (!inv_helper_owns(mask, r0, r))
						memset(ss->acc + ((size_t) r << INV_RANGE_SHIFT), 0, sizeof(float4) * INV_RANGE_DOCS);
			}
			for (t = g; t < gend; t++)
			{
				InvTerm    *term = &ss->terms[t];
				InvCursor  *c = &cur[t - g];
				uint32		x = term->cur;

				if (sel != NULL)
				{
					/* completing the selected ranges: the terms each one lacks */
					for (; x < term->e.ndesc && term->descs[x].range < r1; x++)
					{
						uint32		r = term->descs[x].range;

						if (sel[r] && ss->walked[r] <= (uint32) t)
							inv_add_piece(ss, c, term, x, l, mask, r0);
					}
				}
				else if (ss->nincomplete == 0)
				{
					for (; x < term->e.ndesc && term->descs[x].range < r1; x++)
						inv_add_piece(ss, c, term, x, l, mask, r0);
				}
				else
				{
					for (; x < term->e.ndesc && term->descs[x].range < r1; x++)
						if (ss->walked[term->descs[x].range] == INV_RANGE_COMPLETE)
							inv_add_piece(ss, c, term, x, l, mask, r0);
				}
				term->cur = x;
				inv_cursor_unlock(c);
			}
			if (l == NULL)
			{
				if (takemax)
					inv_block_checkpoint(ss, r0, r1, 0, mr);
				continue;
			}
			/*
			 * Later walks keep the first walk's split, which may not fit
			 * them: when the helper is that far behind, the backend adds
			 * the block's other pieces itself rather than wait.
			 */
			l->inflight = true;
			if (!first && inv_helper_pending() >= INV_WALK_DEPTH - 1)
			{
				/* its pages wait until the helper is done with older blocks */
				inv_apply_jobs(l);
				l->local = true;
				l->before = inv_helper_posted_count();
				if (takemax)
					inv_block_checkpoint(ss, r0, r1, l->mask, mr);
				continue;
			}
			inv_helper_run(inv_helper_apply_jobs, l);
			l->before = inv_helper_posted_count();
		}
		if (lists != NULL)
		{
			int			i;

			inv_helper_wait(0);
			for (i = 0; i < INV_WALK_DEPTH; i++)
				if (lists[i].inflight)
				{
					bool		local = lists[i].local;

					inv_finish_jobs(ss, &lists[i], false, false);
					if (takemax && !local)
						inv_block_checkpoint(ss, lists[i].r0, lists[i].r1, lists[i].mask, mr);
				}
		}
		ss->zeroed = true;
		for (t = g; t < gend; t++)
			inv_reader_end(&cur[t - g].r);
		pfree(cur);
	}
}

static void
inv_job_list_init(InvJobList *l, int nterms)
{
	l->cap = (uint32) Min(nterms, INV_MAX_CURSORS) * INV_BLOCK_RANGES;
	l->jobs = palloc(sizeof(InvPieceJob) * l->cap);
	l->n = 0;
	l->pincap = 64;
	l->pins = palloc(sizeof(Buffer) * l->pincap);
	l->npins = 0;
	l->copycap = 4 * INV_PIECE_MAX_BYTES;
	l->copies = palloc(l->copycap + INV_PIECE_MAX_BYTES);
	l->ncopy = 0;
	l->bad = false;
	l->inflight = false;
	l->local = false;
}

/*
 * Walk terms [from, to) (see inv_walk_blocks), with the helper thread when
 * the setting asks for it and the segment has more than one block.
 */
void
inv_walk_terms(InvSegScan *ss, int from, int to, const bool *sel, float4 *mr)
{
	InvJobList *lists;
	void	   *raw;

	if (to <= from || ss->helper_mask == NULL || !inv_helper_available())
	{
		/* a scan that began with the helper (the setting changed since) */
		if (!ss->zeroed)
		{
			memset(ss->acc, 0, sizeof(float4) * ((size_t) ss->hdr.nranges << INV_RANGE_SHIFT));
			ss->zeroed = true;
		}
		inv_walk_blocks(ss, from, to, sel, mr, NULL);
		return;
	}
	/* each list in its own cache lines: one thread writes one, the other reads the other */
	StaticAssertStmt(INV_WALK_DEPTH <= INV_HELPER_RING, "every list in flight is a pending call");
	raw = palloc(sizeof(InvJobList) * INV_WALK_DEPTH + 64);
	lists = (InvJobList *) TYPEALIGN(64, raw);
	for (int i = 0; i < INV_WALK_DEPTH; i++)
		inv_job_list_init(&lists[i], to - from);
	PG_TRY();
	{
		inv_walk_blocks(ss, from, to, sel, mr, lists);
	}
	PG_CATCH();
	{
		/*
		 * The helper may still be adding into the accumulators, from pages
		 * the abort is about to release: let it finish first.
		 */
		inv_helper_wait(0);
		PG_RE_THROW();
	}
	PG_END_TRY();
	for (int i = 0; i < INV_WALK_DEPTH; i++)
	{
		pfree(lists[i].jobs);
		pfree(lists[i].pins);
		pfree(lists[i].copies);
	}
	pfree(raw);
}

/* The piece of a term that covers range r, or -1. */
static int64
inv_find_piece(const InvTerm *term, uint32 r)
{
	int64		lo = 0,
				hi = (int64) term->e.ndesc - 1;

	/* a dimension present in every range: the piece is the range */
	if (hi >= (int64) r && term->descs[r].range == r)
		return r;
	while (lo <= hi)
	{
		int64		mid = (lo + hi) / 2;

		if (term->descs[mid].range == r)
			return mid;
		if (term->descs[mid].range < r)
			lo = mid + 1;
		else
			hi = mid - 1;
	}
	return -1;
}

/*
 * Whether no query term has a posting for document d: its score is then
 * exactly 0, not only within the float error of 0, and its key can be its
 * distance.  A key below the distance makes the executor fetch further rows
 * before it returns the row, so a query that fewer than LIMIT rows share any
 * dimension with would otherwise have fetched every row of the table.
 */
bool
inv_doc_without_terms(InvSegScan *ss, uint32 d)
{
	uint32		r = d >> INV_RANGE_SHIFT;
	uint32		in = d & (INV_RANGE_DOCS - 1);
	int			t;

	for (t = 0; t < ss->nterms; t++)
	{
		const InvTerm *term = &ss->terms[t];
		int64		x = inv_find_piece(term, r);
		const InvRangeDesc *desc;

		if (x < 0)
			continue;
		desc = &term->descs[x];
		if (desc->format == INV_PIECE_BITMAP)
		{
			uint8		byte;

			inv_read(&ss->r, term->pos[x] + (in >> 3), &byte, 1);
			if (byte & (1 << (in & 7)))
				return false;
		}
		else
		{
			InvOffset	offs[INV_BITMAP_MIN_COUNT];
			uint32		i;

			/* descriptors were checked: an offsets piece holds fewer */
			Assert(desc->count < INV_BITMAP_MIN_COUNT);
			inv_read(&ss->r, term->pos[x], offs, sizeof(InvOffset) * desc->count);
			for (i = 0; i < desc->count; i++)
				if (offs[i] == in)
					return false;
		}
	}
	return true;
}

/* Add the terms range r skipped so far; it is complete afterwards. */
void
inv_complete_range(InvSegScan *ss, uint32 r)
{
	uint32		j;

	InvCursor	c;

	c.r = ss->r;
	c.page = NULL;
	for (j = ss->walked[r]; j < (uint32) ss->nterms; j++)
	{
		int64		x = inv_find_piece(&ss->terms[j], r);

		if (x >= 0)
			inv_add_piece(ss, &c, &ss->terms[j], (uint32) x, NULL, 0, 0);
	}
	inv_cursor_unlock(&c);
	ss->r = c.r;
	ss->walked[r] = INV_RANGE_COMPLETE;
	ss->nincomplete--;
}
