/*
 * scan_walk.c - reading a segment's postings into its accumulators: each
 * query term's pieces, straight from the locked pages through a cursor per
 * term, in blocks of ranges (inv_walk_terms), or the pieces one range still
 * lacks (inv_complete_range).  While a block is in cache the walk also
 * takes what a pruning checkpoint needs (range maxima, best partial scores).
 *
 * Apart from the kernels (scan_kernels.c), which it calls per piece, and
 * from the pruning decisions (scan_prune.c), which only read what it leaves.
 */
#include "postgres.h"

#include "miscadmin.h"
#include "utils/rel.h"

#include "scan.h"

/* Add q * w of a piece's postings (its bytes at p) into the accumulators. */
static inline void
inv_add_piece_bytes(InvSegScan *ss, const InvRangeDesc *desc, const char *p, float4 q, bool check)
{
	float4	   *base = ss->acc + ((uint32) desc->range << INV_RANGE_SHIFT);
	uint32		c = desc->count;

	if (desc->format == INV_PIECE_BITMAP)
	{
		if (!inv_add_bitmap(base, p, c, q, check))
			ereport(ERROR,
					(errcode(ERRCODE_INDEX_CORRUPTED),
					 errmsg("inverted index \"%s\": bad posting bitmap",
							RelationGetRelationName(ss->r.index))));
	}
	else
	{
		const char *offs = p;
		const char *ws = p + sizeof(InvOffset) * c;
		uint32		i;

		/*
		 * Four postings at a time, all loaded before any accumulator is
		 * written: the loads would otherwise have to wait for the stores
		 * they might alias.  A piece's documents are distinct.  The mask
		 * keeps a corrupt offset inside the range's accumulators.
		 */
		for (i = 0; i + 4 <= c; i += 4)
		{
			uint16		h[4];
			InvOffset	o[4];

			memcpy(o, offs + sizeof(InvOffset) * i, sizeof(o));
			memcpy(h, ws + sizeof(uint16) * i, sizeof(h));
			base[o[0] & (INV_RANGE_DOCS - 1)] += q * inv_bf16_decode(h[0]);
			base[o[1] & (INV_RANGE_DOCS - 1)] += q * inv_bf16_decode(h[1]);
			base[o[2] & (INV_RANGE_DOCS - 1)] += q * inv_bf16_decode(h[2]);
			base[o[3] & (INV_RANGE_DOCS - 1)] += q * inv_bf16_decode(h[3]);
		}
		for (; i < c; i++)
		{
			uint16		h1;
			InvOffset	o1;

			memcpy(&o1, offs + sizeof(InvOffset) * i, sizeof(o1));
			memcpy(&h1, ws + sizeof(uint16) * i, sizeof(h1));
			base[o1 & (INV_RANGE_DOCS - 1)] += q * inv_bf16_decode(h1);
		}
	}
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

/* Add piece x of a term, read through cursor c. */
static inline void
inv_add_piece(InvSegScan *ss, InvCursor *c, const InvTerm *term, uint32 x)
{
	const InvRangeDesc *desc = &term->descs[x];
	uint64		off = term->pos[x];
	uint32		nbytes = (uint32) (term->pos[x + 1] - off);
	const char *p;
	char		piece[INV_PIECE_MAX_BYTES];

	if (c->page != NULL && off >= c->lo && off + nbytes <= c->lo + INV_PAGE_PAYLOAD)
		p = c->page + (off - c->lo);
	else
	{
		p = inv_peek(&c->r, off, nbytes);
		if (p != NULL)
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
	inv_add_piece_bytes(ss, desc, p, term->q,
						p != piece && (off - c->lo) + INV_PIECE_READ_MAX > BLCKSZ - INV_PAGE_DATA_OFFSET);
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
 * Walk terms [from, to) over every complete range, in blocks of
 * INV_BLOCK_RANGES ranges: in each block every term adds its pieces before
 * the next block starts, so the block's accumulators stay in cache instead
 * of every term sweeping all of them.  Each term reads through its own
 * reader, which keeps its page pinned between blocks.
 */
void
inv_walk_terms(InvSegScan *ss, int from, int to, const bool *sel, float4 *mr)
{
	uint32		nr = ss->hdr.nranges;
	int			g;

	for (g = from; g < to; g += INV_MAX_CURSORS)
	{
		int			gend = Min(to, g + INV_MAX_CURSORS);
		InvCursor  *cur = palloc(sizeof(InvCursor) * (gend - g));
		uint32		r0;
		int			t;

		for (t = g; t < gend; t++)
		{
			inv_reader_init(&cur[t - g].r, ss->r.index, ss->r.start, ss->r.npages);
			cur[t - g].r.map = ss->r.map;
			cur[t - g].page = NULL;
			ss->terms[t].cur = 0;
		}
		for (r0 = 0; r0 < nr; r0 += INV_BLOCK_RANGES)
		{
			uint32		r1 = r0 + INV_BLOCK_RANGES;

			CHECK_FOR_INTERRUPTS();
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
							inv_add_piece(ss, c, term, x);
					}
				}
				else if (ss->nincomplete == 0)
				{
					for (; x < term->e.ndesc && term->descs[x].range < r1; x++)
						inv_add_piece(ss, c, term, x);
				}
				else
				{
					for (; x < term->e.ndesc && term->descs[x].range < r1; x++)
						if (ss->walked[term->descs[x].range] == INV_RANGE_COMPLETE)
							inv_add_piece(ss, c, term, x);
				}
				term->cur = x;
				inv_cursor_unlock(c);
			}
			/*
			 * A checkpoint follows: while the block is in cache, take its
			 * range maxima and keep the best partial scores (a range whose
			 * best cannot enter them is not looked at further).
			 */
			if (mr != NULL && gend == to)
			{
				uint32		r;

				for (r = r0; r < Min(r1, nr); r++)
				{
					double		least;

					if (ss->walked[r] != INV_RANGE_COMPLETE)
						continue;
					mr[r] = inv_range_max(ss, r);
					/*
					 * A witness's value is a lower bound on its final
					 * score: its partial one plus the least the terms not
					 * yet walked can add (0 unless signs are mixed).  Only
					 * positive ones are kept: the bar must be positive.
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
		}
		for (t = g; t < gend; t++)
			inv_reader_end(&cur[t - g].r);
		pfree(cur);
	}
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
			inv_add_piece(ss, &c, &ss->terms[j], (uint32) x);
	}
	inv_cursor_unlock(&c);
	ss->r = c.r;
	ss->walked[r] = INV_RANGE_COMPLETE;
	ss->nincomplete--;
}
