/*
 * scan.c - exact, incremental ORDER BY emb <#>/<=> q scans for `inverted`.
 *
 * On the first tuple the scan scores the documents of every segment term at
 * a time: each query term's pieces (straight from the pages, in docno
 * order) add q_t * w into a float accumulator per document, the ranges taken
 * in blocks so that their accumulators stay in cache, dense pieces sixteen
 * documents at a time.  With non-negative data the terms go in order of
 * what they add per posting, and checkpoints leave incomplete the ranges
 * that cannot reach the first batch (pruning).  The pending list is scored
 * exactly, document by document.  From the float score and the document's
 * norm each document gets a key that is a proven lower bound on its true
 * distance (float rounding plus the bfloat16 storage error).
 *
 * Rows are returned in the total order (key, tid), NaN distances after
 * numbers and NULL vectors last, in batches: each batch is the next
 * `batchsize` keys after the last one returned (a bounded max-heap over one
 * pass of the accumulators, after completing the incomplete ranges that
 * could reach it); batches grow, so any LIMIT, or none, and any filter
 * above the scan work without a cap.  xs_recheckorderby is set: the
 * executor recomputes each returned row's distance with the operator itself
 * and uses its reorder queue, which makes the final order exactly the
 * sequential scan's.  See doc/inverted-design.md.
 */
#include "postgres.h"

#include <float.h>
#include <math.h>

#include "access/relscan.h"
#include "miscadmin.h"
#include "port/pg_bitutils.h"
#include "storage/bufmgr.h"
#include "utils/float.h"
#include "utils/memutils.h"
#include "utils/rel.h"

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

typedef struct InvSegScan
{
	InvReader	r;
	InvSegHeader hdr;
	float4	   *acc;			/* per document: score, summed term by term */
	float4	   *norms;			/* cosine, per document: |d| rounded up, 0 for
								 * NULL/zero; padded to whole ranges */
	double		nmin;			/* cosine: a lower bound on every non-zero |d| */
	bool		scaled;			/* cosine: complete ranges hold acc / |d| */
	struct InvTerm *terms;		/* the query terms found in the segment */
	int			nterms;
	double		slack;			/* error bound of any partial score, in the
								 * units pruning compares (cosine: / |d|) */
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
	/* at a checkpoint: the first batch's size best partial scores */
	float4	   *top;
	uint32		ntop;
	uint32		topcap;
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

static int
inv_key_cmp(const InvKey *a, const InvKey *b)
{
	if (a->cls != b->cls)
		return a->cls < b->cls ? -1 : 1;
	if (a->cls == KEY_NUM && a->dist != b->dist)
		return a->dist < b->dist ? -1 : 1;
	return ItemPointerCompare((ItemPointer) &a->tid, (ItemPointer) &b->tid);
}

/*
 * The operators' distances from a dot product and squared norms; must
 * match svec_negative_inner_product and svec_cosine_distance.
 */
double
inv_distance(bool cosine, double dot, double qnorm2, double dnorm2)
{
	double		norms = dnorm2 * qnorm2;
	double		sim;

	if (!cosine)
		return 0.0 - dot;
	if (norms == 0.0)
		return get_float8_nan();
	sim = dot / sqrt(norms);
	if (sim > 1)
		sim = 1;
	else if (sim < -1)
		sim = -1;
	return 1 - sim;
}

static void
inv_make_key(InvScanOpaque *so, InvKey *k, ItemPointer tid, uint16 flags, double dot, double dnorm2)
{
	k->tid = *tid;
	if ((flags & INV_DOC_NULL) || so->qnull)
	{
		k->cls = KEY_NULL;
		k->dist = 0;
		return;
	}
	k->dist = inv_distance(so->cosine, dot, so->qnorm2, dnorm2);
	k->cls = isnan(k->dist) ? KEY_NAN : KEY_NUM;

	/*
	 * The sum above is the operator's, term for term; the margin keeps the
	 * key a lower bound should the operator ever sum in another order.
	 */
	if (k->cls == KEY_NUM)
	{
		double		margin = (so->query->nnz + 8) * 2.3e-16;

		k->dist -= so->cosine ? margin : margin * so->qnorm * sqrt(dnorm2);
	}
}

static float4 inv_float_below(double x);

/* ---------------------------------------------------------------- heap */

static void
inv_heap_sift_down(InvKey *h, int n, int i)
{
	for (;;)
	{
		int			l = 2 * i + 1,
					r = l + 1,
					m = i;
		InvKey		t;

		if (l < n && inv_key_cmp(&h[l], &h[m]) > 0)
			m = l;
		if (r < n && inv_key_cmp(&h[r], &h[m]) > 0)
			m = r;
		if (m == i)
			return;
		t = h[i];
		h[i] = h[m];
		h[m] = t;
		i = m;
	}
}

static inline void
inv_offer(InvScanOpaque *so, const InvKey *k)
{
	if (so->have_last && inv_key_cmp(k, &so->last) <= 0)
		return;
	if (so->hn < so->hcap)
	{
		int			i = so->hn++;

		so->heap[i] = *k;
		while (i > 0)
		{
			int			p = (i - 1) / 2;
			InvKey		t;

			if (inv_key_cmp(&so->heap[p], &so->heap[i]) >= 0)
				break;
			t = so->heap[p];
			so->heap[p] = so->heap[i];
			so->heap[i] = t;
			i = p;
		}
	}
	else if (inv_key_cmp(k, &so->heap[0]) < 0)
	{
		so->heap[0] = *k;
		inv_heap_sift_down(so->heap, so->hn, 0);
	}
}

static int
inv_key_qsort_cmp(const void *a, const void *b)
{
	return inv_key_cmp((const InvKey *) a, (const InvKey *) b);
}

/* ---------------------------------------------------------------- prepare */

/* Binary search of the dimension directory. */
static bool
inv_find_dim(InvReader *r, const InvSegHeader *hdr, int32 dim, InvDimEntry *e)
{
	int64		lo = 0,
				hi = (int64) hdr->ndims - 1;

	while (lo <= hi)
	{
		int64		mid = (lo + hi) / 2;

		inv_read(r, hdr->dir_off + (uint64) mid * sizeof(InvDimEntry), e, sizeof(InvDimEntry));
		if (e->dim == dim)
			return true;
		if (e->dim < dim)
			lo = mid + 1;
		else
			hi = mid - 1;
	}
	return false;
}

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

/* qsort comparators, largest first */
static inline int
inv_desc_cmp(double x, double y)
{
	return (x > y) ? -1 : (x < y) ? 1 : 0;
}

static int
inv_term_impact_cmp(const void *a, const void *b)
{
	return inv_desc_cmp(((const InvTerm *) a)->impact, ((const InvTerm *) b)->impact);
}

static int
inv_term_order_cmp(const void *a, const void *b)
{
	return inv_desc_cmp(((const InvTerm *) a)->order, ((const InvTerm *) b)->order);
}


/* ranges per block of the blocked walk: 128 kB of accumulators, in L2 */
#define INV_BLOCK_RANGES	32
/* incomplete ranges to complete one by one; more go in one blocked walk */
#define INV_BULK_COMPLETE	16

/* terms walked side by side, each with a pinned page */
#define INV_MAX_CURSORS		64

/*
 * Bitmap pieces: add q * w to the documents whose bits are set, the weights
 * being stored in document order.  The portable version visits set bits;
 * with AVX-512 sixteen documents go at once, the weights expanded into the
 * lanes of the set bits (the others add q * 0).
 */
typedef bool (*InvBitmapAddFn) (float4 *base, const char *p, uint32 count, float4 q, bool check);

/*
 * With check, a kernel first makes sure that the bitmap holds count
 * documents (false if not, touching nothing): a corrupt bitmap must not make
 * it read weights past the piece when that could be the end of mapped
 * memory.  Pieces that lie far enough from the end of their page (or were
 * copied) cannot be read past it, and skip the check.
 */

/* Add the next weights at ws to base[b] for each set bit b of m; returns where they end. */
static inline const char *
inv_add_bits(float4 *base, uint64 m, const char *ws, float4 q)
{
	while (m)
	{
		int			b = __builtin_ctzll(m);
		uint16		h;

		memcpy(&h, ws, sizeof(h));
		ws += sizeof(h);
		base[b] += q * inv_bf16_decode(h);
		m &= m - 1;
	}
	return ws;
}

static bool
inv_add_bitmap_plain(float4 *base, const char *p, uint32 count, float4 q, bool check)
{
	const char *ws = p + INV_BITMAP_BYTES;
	uint32		n = 0;
	int			word;

	if (check)
	{
		for (word = 0; word < INV_BITMAP_BYTES; word++)
			n += pg_number_of_ones[((const uint8 *) p)[word]];
		if (n != count)
			return false;
	}

	for (word = 0; word < INV_BITMAP_BYTES / 8; word++)
	{
		uint64		m = 0;
		int			i;

		/* bit b of byte k is document 8k + b, whatever the byte order */
		for (i = 0; i < 8; i++)
			m |= (uint64) ((const uint8 *) p)[8 * word + i] << (8 * i);
		ws = inv_add_bits(base + 64 * word, m, ws, q);
	}
	return true;
}

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>

__attribute__((target("avx512f,avx512bw,avx512vl,avx512vbmi2")))
static bool
inv_add_bitmap_avx512(float4 *base, const char *p, uint32 count, float4 q, bool check)
{
	const uint16 *ws = (const uint16 *) (p + INV_BITMAP_BYTES);
	__m512		vq = _mm512_set1_ps(q);
	uint32		n = 0;
	int			g;

	if (check)
	{
		for (g = 0; g < INV_BITMAP_BYTES / 8; g++)
		{
			uint64		m8;

			memcpy(&m8, p + 8 * g, sizeof(m8));
			n += (uint32) __builtin_popcountll(m8);
		}
		if (n != count)
			return false;
	}
	for (g = 0; g < INV_RANGE_DOCS / 16; g++)
	{
		uint16		m;
		__m512		w,
					a;

		memcpy(&m, p + 2 * g, sizeof(m));	/* little-endian: docs 16g.. */
		/*
		 * reads only the popcount(m) weights it needs; a bfloat16 is the
		 * top half of a float
		 */
		w = _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(
									_mm256_maskz_expandloadu_epi16((__mmask16) m, ws)), 16));
		ws += __builtin_popcount(m);
		a = _mm512_loadu_ps(base + 16 * g);
		_mm512_storeu_ps(base + 16 * g, _mm512_fmadd_ps(vq, w, a));
	}
	return true;
}

/*
 * AVX2: eight documents at a time.  A byte of the bitmap selects, from a
 * table, the byte shuffle that moves the next popcount weights into the
 * lanes of its set bits (zero elsewhere).  The shuffle reads 16 bytes, so
 * the last groups, whose read could pass the piece's end, go bit by bit.
 */
static uint8 inv_expand8[256][16];

static void
inv_init_expand8(void)
{
	int			m,
				i;

	for (m = 0; m < 256; m++)
	{
		int			k = 0;

		for (i = 0; i < 8; i++)
		{
			if (m & (1 << i))
			{
				inv_expand8[m][2 * i] = (uint8) (2 * k);
				inv_expand8[m][2 * i + 1] = (uint8) (2 * k + 1);
				k++;
			}
			else
				inv_expand8[m][2 * i] = inv_expand8[m][2 * i + 1] = 0x80;
		}
	}
}

__attribute__((target("avx2")))
static bool
inv_add_bitmap_avx2(float4 *base, const char *p, uint32 count, float4 q, bool check)
{
	const uint8 *bm = (const uint8 *) p;
	const char *ws = p + INV_BITMAP_BYTES;
	const char *end = ws;
	__m256		vq = _mm256_set1_ps(q);
	int			g;

	for (g = 0; g < INV_BITMAP_BYTES; g++)
		end += 2 * __builtin_popcount(bm[g]);
	/* the tail loop needs the end anyway: always checked */
	(void) check;
	if (end != ws + 2 * (size_t) count)
		return false;
	for (g = 0; g < INV_BITMAP_BYTES; g++)
	{
		uint32		m = bm[g];
		__m128i		h;
		__m256		w,
					a;

		if (ws + 16 > end)
			break;
		h = _mm_shuffle_epi8(_mm_loadu_si128((const __m128i *) ws),
							 _mm_loadu_si128((const __m128i *) inv_expand8[m]));
		w = _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(h), 16));
		a = _mm256_loadu_ps(base + 8 * g);
		_mm256_storeu_ps(base + 8 * g, _mm256_add_ps(a, _mm256_mul_ps(vq, w)));
		ws += 2 * __builtin_popcount(m);
	}
	for (; g < INV_BITMAP_BYTES; g++)
		ws = inv_add_bits(base + 8 * g, bm[g], ws, q);
	return true;
}
#endif

/* lane-wise max (C has no vector ?:) */
static inline InvV4F
inv_v4_max(InvV4F a, InvV4F b)
{
	InvV4I		m = a > b;

	return (InvV4F) (((InvV4I) a & m) | ((InvV4I) b & ~m));
}

/* The largest score in range r (the accumulators are padded to whole ranges). */
typedef float4 (*InvRangeMaxFn) (const float4 *a);

static float4
inv_range_max_plain(const float4 *a)
{
	InvV4F		v0 = {0, 0, 0, 0},
				v1 = v0,
				v2 = v0,
				v3 = v0;
	int			i;

	for (i = 0; i < INV_RANGE_DOCS; i += 16)
	{
		InvV4F		x0,
					x1,
					x2,
					x3;

		memcpy(&x0, a + i, sizeof(x0));
		memcpy(&x1, a + i + 4, sizeof(x1));
		memcpy(&x2, a + i + 8, sizeof(x2));
		memcpy(&x3, a + i + 12, sizeof(x3));
		v0 = inv_v4_max(v0, x0);
		v1 = inv_v4_max(v1, x1);
		v2 = inv_v4_max(v2, x2);
		v3 = inv_v4_max(v3, x3);
	}
	v0 = inv_v4_max(inv_v4_max(v0, v1), inv_v4_max(v2, v3));
	return Max(Max(v0[0], v0[1]), Max(v0[2], v0[3]));
}

#if defined(__x86_64__) && defined(__GNUC__)
__attribute__((target("avx512f")))
static float4
inv_range_max_avx512(const float4 *a)
{
	__m512		v0 = _mm512_setzero_ps(),
				v1 = v0,
				v2 = v0,
				v3 = v0;
	int			i;

	for (i = 0; i < INV_RANGE_DOCS; i += 64)
	{
		v0 = _mm512_max_ps(v0, _mm512_loadu_ps(a + i));
		v1 = _mm512_max_ps(v1, _mm512_loadu_ps(a + i + 16));
		v2 = _mm512_max_ps(v2, _mm512_loadu_ps(a + i + 32));
		v3 = _mm512_max_ps(v3, _mm512_loadu_ps(a + i + 48));
	}
	return _mm512_reduce_max_ps(_mm512_max_ps(_mm512_max_ps(v0, v1), _mm512_max_ps(v2, v3)));
}

__attribute__((target("avx2")))
static float4
inv_range_max_avx2(const float4 *a)
{
	__m256		v0 = _mm256_setzero_ps(),
				v1 = v0,
				v2 = v0,
				v3 = v0;
	float4		out[8];
	int			i;

	for (i = 0; i < INV_RANGE_DOCS; i += 32)
	{
		v0 = _mm256_max_ps(v0, _mm256_loadu_ps(a + i));
		v1 = _mm256_max_ps(v1, _mm256_loadu_ps(a + i + 8));
		v2 = _mm256_max_ps(v2, _mm256_loadu_ps(a + i + 16));
		v3 = _mm256_max_ps(v3, _mm256_loadu_ps(a + i + 24));
	}
	_mm256_storeu_ps(out, _mm256_max_ps(_mm256_max_ps(v0, v1), _mm256_max_ps(v2, v3)));
	for (i = 1; i < 8; i++)
		out[0] = Max(out[0], out[i]);
	return out[0];
}
#endif

static InvRangeMaxFn inv_range_max_fn = NULL;

/*
 * Cosine: what pruning compares is a document's partial score over its norm,
 * acc / n in float (0 where n is 0: NULL and zero vectors have no postings).
 * The stored n is |d| rounded up to a float, so acc / n is within 2^-21 of
 * |acc / |d|| (INV_COS_REL): one rounding of n, one of the division.
 */
#define INV_COS_REL		(1.0 / (1 << 21))

static inline float4
inv_cos_val(float4 a, float4 n)
{
	return n > 0 ? a / n : 0;
}

static float4
inv_range_max_cos(const float4 *a, const float4 *n)
{
	InvV4F		v = {0, 0, 0, 0};
	int			i;

	for (i = 0; i < INV_RANGE_DOCS; i += 4)
	{
		InvV4F		x,
					nn;
		InvV4I		pos;

		memcpy(&x, a + i, sizeof(x));
		memcpy(&nn, n + i, sizeof(nn));
		pos = nn > 0;
		/* lanes of n = 0 divide to inf or NaN and are masked to 0 */
		x = (InvV4F) ((InvV4I) (x / nn) & pos);
		v = inv_v4_max(v, x);
	}
	return Max(Max(v[0], v[1]), Max(v[2], v[3]));
}

/* The largest value pruning compares in range r (at least 0). */
static inline float4
inv_range_max(const InvSegScan *ss, uint32 r)
{
	size_t		off = (size_t) r << INV_RANGE_SHIFT;

	if (ss->norms != NULL)
		return inv_range_max_cos(ss->acc + off, ss->norms + off);
	return inv_range_max_fn(ss->acc + off);
}

/* the value of document d that inv_range_max takes the largest of */
static inline float4
inv_doc_val(const InvSegScan *ss, uint32 d)
{
	return ss->norms != NULL ? inv_cos_val(ss->acc[d], ss->norms[d]) : ss->acc[d];
}

/*
 * Cosine, once range r is complete: its scores become acc / n, so that the
 * selection of rows works on one array the way it does for inner product.
 * NULL and zero vectors become NaN, which every filter lets through to
 * their doc-table entry (their distance sorts after all numbers).
 */
static void
inv_scale_range(InvSegScan *ss, uint32 r)
{
	float4	   *a = ss->acc + ((size_t) r << INV_RANGE_SHIFT);
	const float4 *n = ss->norms + ((size_t) r << INV_RANGE_SHIFT);
	const InvV4F nan4 = {NAN, NAN, NAN, NAN};
	int			i;

	for (i = 0; i < INV_RANGE_DOCS; i += 4)
	{
		InvV4F		x,
					nn;
		InvV4I		pos;

		memcpy(&x, a + i, sizeof(x));
		memcpy(&nn, n + i, sizeof(nn));
		pos = nn > 0;
		x = (InvV4F) (((InvV4I) (x / nn) & pos) | ((InvV4I) nan4 & ~pos));
		memcpy(a + i, &x, sizeof(x));
	}
}

static InvBitmapAddFn inv_add_bitmap = NULL;

/*
 * The kernels for this scan: the widest the CPU has, up to
 * sparseclip.inverted_simd (which also lets the tests run the narrower ones
 * on any machine).
 */
static void
inv_choose_kernels(void)
{
	static int	have_avx2 = -1,
				have_max = -1,
				have_expand = -1;

	if (have_max < 0)
	{
		have_avx2 = have_max = have_expand = 0;
#if defined(__x86_64__) && defined(__GNUC__)
		__builtin_cpu_init();
		have_avx2 = __builtin_cpu_supports("avx2") ? 1 : 0;
		have_max = __builtin_cpu_supports("avx512f") ? 1 : 0;
		have_expand = have_max && __builtin_cpu_supports("avx512bw") &&
			__builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512vbmi2");
		if (have_avx2)
			inv_init_expand8();
#endif
	}
	inv_add_bitmap = inv_add_bitmap_plain;
	inv_range_max_fn = inv_range_max_plain;
#if defined(__x86_64__) && defined(__GNUC__)
	if (inv_simd >= INV_SIMD_AVX2 && have_avx2)
	{
		inv_add_bitmap = inv_add_bitmap_avx2;
		inv_range_max_fn = inv_range_max_avx2;
	}
	if (inv_simd >= INV_SIMD_AVX512 && have_max)
		inv_range_max_fn = inv_range_max_avx512;
	if (inv_simd >= INV_SIMD_AVX512 && have_expand)
		inv_add_bitmap = inv_add_bitmap_avx512;
#endif
}

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

/* min-heap of floats: the cap largest values pushed, the smallest at h[0] */
static void
inv_fheap_push(float4 *h, uint32 *n, uint32 cap, float4 v)
{
	uint32		i;

	if (*n < cap)
	{
		i = (*n)++;
		while (i > 0 && h[(i - 1) / 2] > v)
		{
			h[i] = h[(i - 1) / 2];
			i = (i - 1) / 2;
		}
		h[i] = v;
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
		i = m;
	}
	h[i] = v;
}

/*
 * Walk terms [from, to) over every complete range, in blocks of
 * INV_BLOCK_RANGES ranges: in each block every term adds its pieces before
 * the next block starts, so the block's accumulators stay in cache instead
 * of every term sweeping all of them.  Each term reads through its own
 * reader, which keeps its page pinned between blocks.
 */
static void
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

						for (d = lo; d < hi; d++)
						{
							float4		v = inv_doc_val(ss, d);

							if (least != 0)
								v = inv_float_below((double) v + least);
							if (v > 0 && (ss->ntop < ss->topcap || v > ss->top[0]))
								inv_fheap_push(ss->top, &ss->ntop, ss->topcap, v);
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
static void
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
	if (ss->scaled)
		inv_scale_range(ss, r);
}

/* a range and a bound of its scores, sorted best first */
typedef struct InvRangeBound
{
	double		ub;
	uint32		range;
} InvRangeBound;

static int
inv_range_bound_cmp(const void *a, const void *b)
{
	return inv_desc_cmp(((const InvRangeBound *) a)->ub, ((const InvRangeBound *) b)->ub);
}

/*
 * Cosine: a bound G on |x - S / |d|| for a document's value x = acc / n and
 * its true (partial) score S over |d|: the float and storage error of acc
 * (so->err |q| |d| + so->abserr) over |d|, plus INV_COS_REL of |x|, which
 * is at most 2 |q| + 2 abserr / |d|.  The smallest |d| bounds the terms
 * over |d|.
 */
static double
inv_cos_gap(const InvScanOpaque *so, const InvSegScan *ss)
{
	double		q = so->qnorm;
	double		a = so->abserr;

	if (!(ss->nmin > 0))
		return get_float8_infinity();
	return (so->err * q + a / ss->nmin + INV_COS_REL * (2 * q + 2 * a / ss->nmin)) * (1 + 1e-9);
}

/*
 * What the terms from j on can add to each range: at most hi[r], at least
 * lo[r] (<= 0; NULL when every contribution is non-negative).  For cosine
 * the bounds are over w / |d|, so they add to acc / |d|.
 */
static void
inv_rest_bounds(const InvSegScan *ss, int j, double *hi, double *lo)
{
	int			i;

	memset(hi, 0, sizeof(double) * ss->hdr.nranges);
	if (lo != NULL)
		memset(lo, 0, sizeof(double) * ss->hdr.nranges);
	for (i = j; i < ss->nterms; i++)
	{
		const InvTerm *t = &ss->terms[i];
		double		q = fabs((double) t->q);
		uint32		x;

		for (x = 0; x < t->e.ndesc; x++)
		{
			const InvRangeDesc *d = &t->descs[x];
			double		up = t->q > 0 ? d->maxpos : d->maxneg;
			double		down = t->q > 0 ? d->maxneg : d->maxpos;

			hi[d->range] += q * up;
			if (lo != NULL)
				lo[d->range] -= q * down;
		}
	}
	/* the double sums err by far less than 1e-12 of themselves */
	for (i = 0; i < (int) ss->hdr.nranges; i++)
	{
		hi[i] *= 1 + 1e-12;
		if (lo != NULL)
			lo[i] *= 1 + 1e-12;
	}
}

/*
 * A checkpoint of the pruned walk, before term j.  A document's partial
 * score so far plus the least the terms j.. can add (rest_lo; 0 when all
 * contributions are non-negative) is a lower bound on its score, so the
 * batch-th best such value of distinct live documents (ss->top; or, when
 * the segment has dead documents, of the best live document of each range),
 * less the error bound of partial scores, is a lower bound theta on the
 * score the first batch ends at.  A range whose best partial score (mr)
 * plus what terms j.. can still add to any of its documents stays below
 * theta cannot reach the first batch: it is left incomplete, with that
 * upper bound, and later batches complete it if they come near.  For
 * cosine all of this is over acc / |d| (scores of w / |d|).
 */
static void
inv_checkpoint(InvScanOpaque *so, InvSegScan *ss, const InvSegRef *ref, int j, float4 *mr)
{
	uint32		nr = ss->hdr.nranges;
	double	   *rest;
	uint32		need = (uint32) Max(so->batchsize, 1);
	uint32		nalive = 0;
	double		theta = 0;
	bool		have = false;
	uint32		r;

	for (r = 0; r < nr; r++)
		if (ss->walked[r] == INV_RANGE_COMPLETE)
			nalive++;
	if (nalive < need)
		;						/* too few ranges to witness: only an earlier segment's bar */
	else if (ss->top != NULL)
	{
		/* the batch-th best lower bound of any (live) document */
		have = ss->ntop == need;
		theta = have ? ss->top[0] : 0;
	}
	else
	{
		/*
		 * Dead documents keep their postings until a merge: then only the
		 * best document of each range is a witness, and only if alive.
		 */
		InvRangeBound *top = palloc(sizeof(InvRangeBound) * nalive);
		uint32		n = 0,
					found = 0,
					k;

		for (r = 0; r < nr; r++)
			if (ss->walked[r] == INV_RANGE_COMPLETE)
			{
				top[n].ub = (double) mr[r] + (ss->rest_lo != NULL ? ss->rest_lo[r] : 0);
				top[n++].range = r;
			}
		qsort(top, n, sizeof(InvRangeBound), inv_range_bound_cmp);
		for (k = 0; k < n && found < need; k++)
		{
			uint32		d = top[k].range << INV_RANGE_SHIFT;
			uint32		end = Min(d + INV_RANGE_DOCS, ss->hdr.ndocs);
			float4		m = mr[top[k].range];
			InvDoc		doc;

			if (!(top[k].ub > 0))
				break;
			while (d < end && inv_doc_val(ss, d) != m)
				d++;
			if (d >= end)
				continue;
			inv_read(&ss->r, ss->hdr.doc_off + (uint64) d * sizeof(InvDoc), &doc, sizeof(doc));
			if (doc.flags & INV_DOC_DEAD)
				continue;
			found++;
			theta = inv_float_below(top[k].ub);
		}
		have = (found == need);
		pfree(top);
	}
	/* the bar of earlier segments holds here too */
	theta = have ? Max(theta - ss->slack, so->theta) : so->theta;
	if (!(theta > 0))
		return;
	so->theta = theta;

	/* what the terms not yet walked can add to each range */
	rest = palloc(sizeof(double) * nr);
	inv_rest_bounds(ss, j, rest, NULL);
	for (r = 0; r < nr; r++)
	{
		double		ub;

		if (ss->walked[r] != INV_RANGE_COMPLETE)
			continue;
		ub = (double) mr[r] + ss->slack + rest[r];
		if (ub < theta)
		{
			ss->walked[r] = (uint32) j;
			ss->ub[r] = ub;
			ss->nincomplete++;
		}
	}
	pfree(rest);
}

/* fractions of the query's postings after which the pruned walk checkpoints */
static const double inv_checkpoints[] = {0.3, 0.55};

/*
 * Score the documents of a segment term at a time: each term's postings are
 * read in docno order, straight from the pages, and added into a float
 * accumulator per document (in blocks of ranges, inv_walk_terms).  When
 * every contribution is non-negative (the Sparse-CLIP case) the terms go in
 * decreasing order of their largest contribution per posting, and
 * checkpoints stop walking the ranges of documents that can no longer reach
 * the first batch (inv_checkpoint).
 */
static void
inv_prepare_segment(InvScanOpaque *so, Relation index, InvSegScan *ss, const InvSegRef *ref)
{
	InvSegHeader *hdr = &ss->hdr;
	int32		nq = so->qnull ? 0 : so->query->nnz;
	const int32 *qi = so->qnull ? NULL : so->query->indices;
	const float4 *qv = so->qnull ? NULL : SVEC_VALUES(so->query);
	InvTerm    *terms = palloc(sizeof(InvTerm) * Max(nq, 1));
	int			nterms = 0;
	double		absbound = 0;
	bool		nonneg = true;
	uint64		total = 0;
	int32		t;

	inv_choose_kernels();

	inv_reader_init(&ss->r, index, ref->start, ref->npages);
	inv_segment_read_header(&ss->r, hdr);
	/* whole ranges: bitmap pieces write all INV_RANGE_DOCS lanes */
	ss->acc = MemoryContextAllocHuge(CurrentMemoryContext,
									 sizeof(float4) * ((size_t) Max(hdr->nranges, 1) << INV_RANGE_SHIFT));
	memset(ss->acc, 0, sizeof(float4) * ((size_t) hdr->nranges << INV_RANGE_SHIFT));
	/* cosine keys need every norm; inner-product keys only the candidates' */
	ss->norms = NULL;
	ss->nmin = 0;
	ss->scaled = false;
	ss->rest_lo = NULL;
	if (so->cosine)
	{
		size_t		padded = (size_t) Max(hdr->nranges, 1) << INV_RANGE_SHIFT;
		float4		nmin = FLT_MAX;
		uint32		d;

		ss->norms = MemoryContextAllocHuge(CurrentMemoryContext, sizeof(float4) * padded);
		memset(ss->norms + hdr->ndocs, 0, sizeof(float4) * (padded - hdr->ndocs));
		inv_read(&ss->r, hdr->norm_off, ss->norms, sizeof(float4) * hdr->ndocs);
		for (d = 0; d < hdr->ndocs; d++)
		{
			float4		n = ss->norms[d];

			/* a corrupt norm must not reach the divisions */
			if (!(n >= 0 && n <= FLT_MAX))
				ereport(ERROR,
						(errcode(ERRCODE_INDEX_CORRUPTED),
						 errmsg("inverted index \"%s\": bad norm",
								RelationGetRelationName(index))));
			if (n > 0 && n < nmin)
				nmin = n;
		}
		/* the stored norm is |d| rounded up to a float */
		ss->nmin = nmin < FLT_MAX ? (double) nmin / (1 + 1.0 / (1 << 22)) : 0;
	}

	for (t = 0; t < nq; t++)
	{
		InvTerm    *term = &terms[nterms];

		CHECK_FOR_INTERRUPTS();
		if (!inv_find_dim(&ss->r, hdr, qi[t], &term->e))
			continue;
		if (term->e.first_desc + term->e.ndesc > hdr->ndesc)
			ereport(ERROR,
					(errcode(ERRCODE_INDEX_CORRUPTED),
					 errmsg("inverted index \"%s\": bad directory entry",
							RelationGetRelationName(index))));
		term->q = qv[t];
		term->impact = fabs((double) qv[t]) *
			(qv[t] > 0 ? (double) term->e.maxpos : (double) term->e.maxneg);
		/* far below FLT_MAX: no product or sum can overflow a float */
		absbound += fabs((double) qv[t]) * Max((double) term->e.maxpos, (double) term->e.maxneg) *
			(so->cosine ? hdr->maxnorm : 1.0);
		if (!(qv[t] > 0) || term->e.maxneg != 0)
			nonneg = false;
		nterms++;
	}

	if (!(absbound < 1e30))
		so->overflow = true;

	/* approximate setting: only the terms that can contribute most */
	if (inv_query_terms > 0 && nterms > inv_query_terms)
	{
		qsort(terms, nterms, sizeof(InvTerm), inv_term_impact_cmp);
		nterms = inv_query_terms;
		so->exact = false;
	}

	/* every term's range descriptors, checked once */
	for (t = 0; t < nterms; t++)
	{
		InvTerm    *term = &terms[t];
		uint64		end = hdr->total_bytes;
		uint32		x;
		uint32		prev = 0;

		CHECK_FOR_INTERRUPTS();
		term->descs = MemoryContextAllocHuge(CurrentMemoryContext,
											 sizeof(InvRangeDesc) * Max(term->e.ndesc, 1));
		term->pos = MemoryContextAllocHuge(CurrentMemoryContext,
										   sizeof(uint64) * (term->e.ndesc + 1));
		inv_read(&ss->r, hdr->desc_off + term->e.first_desc * sizeof(InvRangeDesc),
				 term->descs, sizeof(InvRangeDesc) * term->e.ndesc);
		term->pos[0] = hdr->data_off + term->e.data_off;
		term->npost = 0;
		for (x = 0; x < term->e.ndesc; x++)
		{
			const InvRangeDesc *d = &term->descs[x];

			if (d->range >= hdr->nranges || d->count == 0 || d->count > INV_RANGE_DOCS ||
				d->format != inv_piece_format(d->count) ||
				(x > 0 && d->range <= prev))
				ereport(ERROR,
						(errcode(ERRCODE_INDEX_CORRUPTED),
						 errmsg("inverted index \"%s\": bad range descriptor",
								RelationGetRelationName(index))));
			prev = d->range;
			term->pos[x + 1] = term->pos[x] + inv_piece_bytes(d->format, d->count);
			term->npost += d->count;
		}
		if (term->pos[term->e.ndesc] > end)
			ereport(ERROR,
					(errcode(ERRCODE_INDEX_CORRUPTED),
					 errmsg("inverted index \"%s\": postings run past their segment",
							RelationGetRelationName(index))));
		term->order = term->npost > 0 ? term->impact / (double) term->npost : 0;
		total += term->npost;
	}

	/*
	 * The scores sum stored (bfloat16) weights in float.  Rounding: each of
	 * the nterms products and sums errs by at most 2^-24 of sum |q_t w'_t|,
	 * which is at most (1 + REL) |q| |d| (+ the absolute term); the keys
	 * subtract twice that.  Storing: sum |q_t (w'_t - w_t)| is at most
	 * REL sum |q_t w_t| <= REL |q| |d|, plus ABS sum |q_t|.
	 */
	{
		double		ferr = (nterms + 4) * 2 * 1.2e-7;
		double		qabs = 0;

		for (t = 0; t < nterms; t++)
			qabs += fabs((double) terms[t].q);
		so->err = Max(so->err, ferr * (1 + INV_BF16_REL) + INV_BF16_REL);
		so->abserr = Max(so->abserr, (1 + ferr) * INV_BF16_ABS * qabs);
		ss->slack = (ferr * (1 + INV_BF16_REL) + INV_BF16_REL) * so->qnorm * hdr->maxnorm +
			(1 + ferr) * INV_BF16_ABS * qabs;
		/* cosine: over |d|, the largest error of acc / n (see inv_cos_gap) */
		if (so->cosine)
			ss->slack = inv_cos_gap(so, ss);
	}

	ss->terms = terms;
	ss->nterms = nterms;
	ss->walked = NULL;
	ss->ub = NULL;
	ss->nincomplete = 0;
	ss->top = NULL;
	ss->ntop = 0;
	if (inv_prune && so->exact && !so->overflow && !so->qnull && so->qnorm2 > 0 &&
		(!so->cosine || ss->nmin > 0) && nterms > 1 && hdr->nranges > 1)
	{
		int			from = 0;
		int			cp;
		uint64		walked = 0;
		float4	   *mr = palloc(sizeof(float4) * hdr->nranges);

		ss->walked = MemoryContextAllocHuge(CurrentMemoryContext, sizeof(uint32) * hdr->nranges);
		ss->ub = MemoryContextAllocHuge(CurrentMemoryContext, sizeof(double) * hdr->nranges);
		memset(ss->walked, 0xFF, sizeof(uint32) * hdr->nranges);
		/* mixed signs: a partial score is no lower bound by itself */
		if (!nonneg)
			ss->rest_lo = palloc(sizeof(double) * hdr->nranges);
		if (ref->ndead == 0)
		{
			ss->topcap = (uint32) Max(so->batchsize, 1);
			ss->top = palloc(sizeof(float4) * ss->topcap);
		}
		/*
		 * Terms that add most per posting first: they raise the partial
		 * scores fastest for what they cost.
		 */
		qsort(terms, nterms, sizeof(InvTerm), inv_term_order_cmp);
		for (cp = 0; cp < (int) lengthof(inv_checkpoints); cp++)
		{
			int			to = from;

			while (to < nterms && walked < inv_checkpoints[cp] * total)
				walked += terms[to++].npost;
			if (to == from || to == nterms)
				continue;
			ss->ntop = 0;
			if (ss->rest_lo != NULL)
			{
				double	   *hi = palloc(sizeof(double) * hdr->nranges);

				inv_rest_bounds(ss, to, hi, ss->rest_lo);
				pfree(hi);
			}
			inv_walk_terms(ss, from, to, NULL, mr);
			inv_checkpoint(so, ss, ref, to, mr);
			from = to;
		}
		inv_walk_terms(ss, from, nterms, NULL, NULL);
	}
	else
		inv_walk_terms(ss, 0, nterms, NULL, NULL);
	if (ss->walked != NULL)
		elog(DEBUG1, "inverted scan: %u of %u ranges left incomplete", ss->nincomplete, hdr->nranges);

	/* cosine: complete ranges now hold acc / |d| (incomplete ones once completed) */
	if (so->cosine && !so->overflow && !so->qnull && so->qnorm2 > 0)
	{
		uint32		r;

		for (r = 0; r < hdr->nranges; r++)
			if (ss->walked == NULL || ss->walked[r] == INV_RANGE_COMPLETE)
				inv_scale_range(ss, r);
		ss->scaled = true;
	}
}

/* Exact dot product of the query with a pending document, as svec_dot sums it. */
static double
inv_dot_sorted(const SVec *q, int32 nnz, const int32 *ind, const float4 *val)
{
	const float4 *qv = SVEC_VALUES(q);
	int32		i = 0,
				j = 0;
	double		s = 0;

	while (i < q->nnz && j < nnz)
	{
		if (q->indices[i] == ind[j])
		{
			s += (double) qv[i] * (double) val[j];
			i++;
			j++;
		}
		else if (q->indices[i] < ind[j])
			i++;
		else
			j++;
	}
	return s;
}

static void
inv_prepare(IndexScanDesc scan)
{
	InvScanOpaque *so = (InvScanOpaque *) scan->opaque;
	Relation	index = scan->indexRelation;
	MemoryContext old = MemoryContextSwitchTo(so->ctx);
	InvPendReader pr;
	InvPendRecord rec;
	int32	   *ind;
	float4	   *val;
	uint32		cap;
	int			i;

	/* the pin is held until the scan ends: VACUUM waits for it */
	if (!BufferIsValid(so->metabuf))
		so->metabuf = ReadBuffer(index, INV_METAPAGE_BLKNO);
	LockBuffer(so->metabuf, BUFFER_LOCK_SHARE);
	memcpy(&so->meta, InvPageGetMeta(BufferGetPage(so->metabuf)), sizeof(InvMetaPageData));
	LockBuffer(so->metabuf, BUFFER_LOCK_UNLOCK);
	inv_check_meta(index, &so->meta);
	so->cosine = (so->meta.flags & INV_FLAG_COSINE) != 0;

	/* the operator raises an error for mismatched dimensions, so do we */
	if (!so->qnull && so->meta.dim != INV_DIM_NONE)
	{
		if (so->meta.dim == INV_DIM_MIXED)
			ereport(ERROR,
					(errcode(ERRCODE_DATA_EXCEPTION),
					 errmsg("indexed svec values have different dimensions")));
		svec_check_same_dims(so->query, svec_alloc(so->meta.dim, 0));
	}
	if (!so->qnull)
		so->qnorm2 = svec_norm2(so->query);
	so->qnorm = sqrt(so->qnorm2);
	so->exact = true;
	so->err = 0;
	so->abserr = 0;
	so->overflow = false;
	so->theta = 0;
	so->batchsize = Max(inv_initial_batch, 1);

	so->nseg = so->meta.nsegments;
	so->segs = palloc0(sizeof(InvSegScan) * Max(so->nseg, 1));
	for (i = 0; i < so->nseg; i++)
		inv_prepare_segment(so, index, &so->segs[i], &so->meta.segs[i]);

	/* the pending list is small: score it once */
	cap = 64;
	so->pend = palloc(sizeof(InvKey) * cap);
	so->npend = 0;
	inv_pend_reader_init(&pr, index, &so->meta);
	while (inv_pend_next(&pr, &rec, &ind, &val))
	{
		double		dot = 0;

		CHECK_FOR_INTERRUPTS();
		if (!(rec.flags & INV_DOC_NULL) && !so->qnull)
		{
			if (rec.dim != so->query->dim)
				svec_check_same_dims(so->query, svec_alloc(rec.dim, 0));
			dot = inv_dot_sorted(so->query, rec.nnz, ind, val);
		}
		if (so->npend == cap)
		{
			cap *= 2;
			so->pend = repalloc_huge(so->pend, sizeof(InvKey) * cap);
		}
		inv_make_key(so, &so->pend[so->npend++], &rec.tid, rec.flags, dot, rec.norm2);
		if (ind)
			pfree(ind);
		if (val)
			pfree(val);
	}

	so->prepared = true;
	MemoryContextSwitchTo(old);
}

/* ---------------------------------------------------------------- batches */

/*
 * Offer segment document d: its doc-table entry says whether it is dead,
 * NULL or a zero vector, and gives its norm for the error bound of its key,
 * a lower bound on its distance.
 */
static void
inv_offer_segment_doc(InvScanOpaque *so, InvSegScan *ss, uint32 d)
{
	InvDoc		doc;
	InvKey		k;
	double		a = ss->acc[d];
	double		n;

	inv_read(&ss->r, ss->hdr.doc_off + (uint64) d * sizeof(InvDoc), &doc, sizeof(doc));
	if (doc.flags & INV_DOC_DEAD)
		return;
	k.tid = doc.tid;
	k.cls = KEY_NUM;
	n = sqrt(doc.norm2);
	if ((doc.flags & INV_DOC_NULL) || so->qnull)
	{
		k.cls = KEY_NULL;
		k.dist = 0;
	}
	else if (so->cosine && (doc.norm2 == 0 || so->qnorm2 == 0))
	{
		k.cls = KEY_NAN;
		k.dist = 0;
	}
	else if (isnan(a) || isinf(a))
		k.dist = -get_float8_infinity();
	else if (so->cosine && ss->scaled)
		k.dist = 1.0 - (a + INV_COS_REL * fabs(a)) / so->qnorm - so->err -
			so->abserr / (so->qnorm * n);
	else if (so->cosine)
		k.dist = 1.0 - a / (so->qnorm * n) - so->err - so->abserr / (so->qnorm * n);
	else
		k.dist = 0.0 - a - so->err * so->qnorm * n - so->abserr;
	inv_offer(so, &k);
}

/* the largest float <= x and the smallest float >= x */
static float4
inv_float_below(double x)
{
	float4		f = (float4) x;

	return (double) f > x ? nextafterf(f, -INFINITY) : f;
}

static float4
inv_float_above(double x)
{
	float4		f = (float4) x;

	return (double) f < x ? nextafterf(f, INFINITY) : f;
}

#define INV_SKIP_CHUNK	16


/*
 * The first i' >= i with amin <= acc[i'] <= amax (or NaN), or nd.  Almost
 * every score lies outside, so whole chunks are tested at once, four lanes
 * at a time, against float bounds that are at least as wide; only a chunk
 * with a possible hit is looked at closely.
 */
static uint32
inv_skip_outside(const float4 *acc, uint32 i, uint32 nd, double amin, double amax)
{
	float4		fmin = inv_float_below(amin);
	float4		fmax = inv_float_above(amax);
	InvV4F		vmin = {fmin, fmin, fmin, fmin};
	InvV4F		vmax = {fmax, fmax, fmax, fmax};

	for (;;)
	{
		while (i + INV_SKIP_CHUNK <= nd)
		{
			InvV4F		a,
						b,
						c,
						d;
			InvV4I		out;

			memcpy(&a, acc + i, sizeof(a));
			memcpy(&b, acc + i + 4, sizeof(b));
			memcpy(&c, acc + i + 8, sizeof(c));
			memcpy(&d, acc + i + 12, sizeof(d));
			/* a lane is -1 when its score is outside (NaN is never outside) */
			out = ((a < vmin) | (a > vmax)) & ((b < vmin) | (b > vmax)) &
				((c < vmin) | (c > vmax)) & ((d < vmin) | (d > vmax));
			if ((out[0] & out[1] & out[2] & out[3]) != -1)
				break;
			i += INV_SKIP_CHUNK;
		}
		if (i + INV_SKIP_CHUNK <= nd)
		{
			uint32		end = i + INV_SKIP_CHUNK;

			for (; i < end; i++)
				if (!((double) acc[i] < amin || (double) acc[i] > amax))
					return i;
			continue;			/* only the wider float bounds matched */
		}
		for (; i < nd; i++)
			if (!((double) acc[i] < amin || (double) acc[i] > amax))
				return i;
		return nd;
	}
}

/*
 * The score (inner product: acc; cosine: acc / |d|) at which a key is dist,
 * for a document whose key has no error: the key lies within inv_gap below.
 * The cosine conversion rounds: a relative 1e-9 of |q| widens every
 * comparison.
 */
static inline double
inv_to_score(const InvScanOpaque *so, double dist)
{
	return so->cosine ? so->qnorm * (1.0 - dist) : 0.0 - dist;
}

static inline double
inv_gap(const InvScanOpaque *so, const InvSegScan *ss)
{
	if (so->cosine)
		return inv_cos_gap(so, ss) + 1e-9 * so->qnorm;
	return so->err * so->qnorm * ss->hdr.maxnorm + so->abserr;
}

/*
 * Offer documents lo..hi-1 of a segment whose scores are inner products,
 * or (cosine) scaled ones.
 */
static void
inv_offer_docs(InvScanOpaque *so, InvSegScan *ss, uint32 lo, uint32 hi)
{
	const float4 *acc = ss->acc;
	double		slack = inv_gap(so, ss);
	double		amin;
	double		amax = get_float8_infinity();
	uint32		i = lo;

	if (so->have_last && so->last.cls == KEY_NUM)
		amax = inv_to_score(so, so->last.dist) + (so->cosine ? 1e-9 * so->qnorm : 0);
	while (i < hi)
	{
		if (so->hn == so->hcap && so->heap[0].cls == KEY_NUM)
			amin = inv_to_score(so, so->heap[0].dist) - slack;
		else
			amin = -get_float8_infinity();
		i = inv_skip_outside(acc, i, hi, amin, amax);
		if (i < hi)
			inv_offer_segment_doc(so, ss, i++);
		if ((i & 0xFFFF) == 0)
			CHECK_FOR_INTERRUPTS();
	}
}


/* Can a document scoring at most ub (before float error) enter the batch? */
static inline bool
inv_may_enter(InvScanOpaque *so, double ub, double slack)
{
	return so->hn < so->hcap || so->heap[0].cls != KEY_NUM ||
		ub + 2 * slack >= inv_to_score(so, so->heap[0].dist);
}

/*
 * Complete the incomplete ranges whose bound reaches the batch, best bound
 * first (each one completed can raise the bar for the rest), and offer
 * their documents.  Ranges left incomplete cannot hold a row of this batch.
 */
static void
inv_complete_needed(InvScanOpaque *so, InvSegScan *ss)
{
	double		slack = inv_gap(so, ss);
	InvRangeBound *cand = palloc(sizeof(InvRangeBound) * ss->nincomplete);
	uint32		n = 0,
				r,
				k;

	for (r = 0; r < ss->hdr.nranges; r++)
		if (ss->walked[r] != INV_RANGE_COMPLETE && inv_may_enter(so, ss->ub[r], slack))
		{
			cand[n].ub = ss->ub[r];
			cand[n++].range = r;
		}
	if (n > 0)
		elog(DEBUG1, "inverted scan: completing %u ranges%s", n, n > INV_BULK_COMPLETE ? " at once" : "");
	if (n > INV_BULK_COMPLETE)
	{
		/*
		 * Many ranges: one blocked walk of the terms they lack beats a
		 * binary search per term and range.
		 */
		bool	   *sel = palloc0(sizeof(bool) * ss->hdr.nranges);
		uint32		jmin = (uint32) ss->nterms;

		for (k = 0; k < n; k++)
		{
			sel[cand[k].range] = true;
			jmin = Min(jmin, ss->walked[cand[k].range]);
		}
		inv_walk_terms(ss, (int) jmin, ss->nterms, sel, NULL);
		for (k = 0; k < n; k++)
		{
			r = cand[k].range;
			ss->walked[r] = INV_RANGE_COMPLETE;
			ss->nincomplete--;
			if (ss->scaled)
				inv_scale_range(ss, r);
		}
		/* offered in docno order: the heap does not care */
		for (r = 0; r < ss->hdr.nranges; r++)
			if (sel[r])
				inv_offer_docs(so, ss, r << INV_RANGE_SHIFT,
							   Min((r + 1) << INV_RANGE_SHIFT, ss->hdr.ndocs));
		pfree(sel);
		pfree(cand);
		return;
	}
	qsort(cand, n, sizeof(InvRangeBound), inv_range_bound_cmp);
	for (k = 0; k < n; k++)
	{
		CHECK_FOR_INTERRUPTS();
		if (!inv_may_enter(so, cand[k].ub, slack))
			break;
		r = cand[k].range;
		inv_complete_range(ss, r);
		inv_offer_docs(so, ss, r << INV_RANGE_SHIFT,
					   Min((r + 1) << INV_RANGE_SHIFT, ss->hdr.ndocs));
	}
	pfree(cand);
}

/*
 * The next batch: the batchsize smallest keys after the last one returned.
 * A scan over the float scores rejects most documents before their doc-table
 * entry is read, with bounds that hold for any norm up to the segment's
 * largest.
 */
static void
inv_next_batch(InvScanOpaque *so)
{
	MemoryContext old = MemoryContextSwitchTo(so->ctx);
	int			s;
	uint32		i;

	if (so->heap == NULL || so->hcap < so->batchsize)
	{
		if (so->heap)
			pfree(so->heap);
		so->heap = MemoryContextAllocHuge(so->ctx, sizeof(InvKey) * so->batchsize);
	}
	so->hcap = so->batchsize;
	so->hn = 0;

	for (s = 0; s < so->nseg; s++)
	{
		InvSegScan *ss = &so->segs[s];
		uint32		nd = ss->hdr.ndocs;
		bool		filter = !so->qnull && !(so->cosine && so->qnorm2 == 0);
		double		slack = so->err * so->qnorm * ss->hdr.maxnorm + so->abserr;

		if (filter && !so->overflow &&
			(!so->cosine || (ss->scaled && (!so->have_last || so->last.cls == KEY_NUM))))
		{
			/*
			 * Inner product, finite scores: the key lies in
			 * [-a - slack, -a], so a document can only matter when
			 * amin <= a <= amax.  A tight loop skips the rest.  Cosine,
			 * scaled scores: the same over a = acc / |d| (until the rows
			 * left are NaN or NULL ones).  Ranges a pruned walk left
			 * incomplete wait for the second pass below.
			 */
			if (ss->walked == NULL || ss->nincomplete == 0)
				inv_offer_docs(so, ss, 0, nd);
			else
			{
				uint32		nr = ss->hdr.nranges;
				uint32		r = 0;

				while (r < nr)
				{
					uint32		r1;

					for (; r < nr && ss->walked[r] != INV_RANGE_COMPLETE; r++)
						;
					for (r1 = r; r1 < nr && ss->walked[r1] == INV_RANGE_COMPLETE; r1++)
						;
					if (r < r1)
						inv_offer_docs(so, ss, r << INV_RANGE_SHIFT,
									   Min(r1 << INV_RANGE_SHIFT, nd));
					r = r1;
				}
			}
			continue;
		}

		for (i = 0; i < nd; i++)
		{
			double		a = ss->acc[i];
			double		hi,
						lo;

			if ((i & 0xFFFF) == 0)
				CHECK_FOR_INTERRUPTS();
			if (ss->walked != NULL && ss->walked[i >> INV_RANGE_SHIFT] != INV_RANGE_COMPLETE)
				continue;		/* completed below if it can reach the batch */
			/* for inner product a NULL vector also scores 0: let its entry decide */
			if (!filter || isnan(a) || isinf(a) || (!so->cosine && a == 0) || ss->scaled)
			{
				inv_offer_segment_doc(so, ss, i);
				continue;
			}
			/* the key lies in [lo, hi] */
			if (so->cosine)
			{
				double		n = ss->norms[i];

				if (n == 0)
				{
					inv_offer_segment_doc(so, ss, i);
					continue;
				}
				hi = 1.0 - a / (so->qnorm * n);
				lo = hi - 2 * so->err - so->abserr / (so->qnorm * n);
			}
			else
			{
				hi = 0.0 - a;
				lo = hi - slack;
			}
			if (so->have_last && so->last.cls == KEY_NUM && hi < so->last.dist)
				continue;
			if (so->hn == so->hcap && so->heap[0].cls == KEY_NUM && lo > so->heap[0].dist)
				continue;
			inv_offer_segment_doc(so, ss, i);
		}
	}
	for (i = 0; i < so->npend; i++)
		inv_offer(so, &so->pend[i]);

	for (s = 0; s < so->nseg; s++)
	{
		InvSegScan *ss = &so->segs[s];

		if (ss->walked != NULL && ss->nincomplete > 0)
			inv_complete_needed(so, ss);
	}

	/*
	 * NULL vectors score 0 but sort after every number, so the amax test
	 * above wrongly passes over them once the last key returned is positive.
	 * They can only enter a heap that numbers leave room in (and then no
	 * range is incomplete any more).
	 */
	if (!so->cosine && !so->qnull && !so->overflow &&
		so->have_last && so->last.cls == KEY_NUM && so->last.dist > 0)
	{
		for (s = 0; s < so->nseg; s++)
		{
			InvSegScan *ss = &so->segs[s];

			if (so->hn == so->hcap && so->heap[0].cls != KEY_NULL)
				break;
			for (i = 0; i < ss->hdr.ndocs; i++)
				if (ss->acc[i] == 0 &&
					(ss->walked == NULL || ss->walked[i >> INV_RANGE_SHIFT] == INV_RANGE_COMPLETE))
					inv_offer_segment_doc(so, ss, i);
		}
	}

	if (so->batch)
		pfree(so->batch);
	so->batch = palloc(sizeof(InvKey) * Max(so->hn, 1));
	memcpy(so->batch, so->heap, sizeof(InvKey) * so->hn);
	qsort(so->batch, so->hn, sizeof(InvKey), inv_key_qsort_cmp);
	so->nbatch = so->hn;
	so->pos = 0;
	if (so->hn < so->hcap)
		so->done = true;		/* everything left fitted in this batch */
	/*
	 * The first batch is small (it is what LIMIT 10 needs, and a small one
	 * prunes more); a scan that wants more likely wants many more.
	 */
	if (so->batchsize < 128)
		so->batchsize = Max(so->batchsize * 2, 128);
	else if (so->batchsize < (1 << 26))
		so->batchsize *= 2;

	MemoryContextSwitchTo(old);
}

/* ---------------------------------------------------------------- AM API */

IndexScanDesc
invbeginscan(Relation index, int nkeys, int norderbys)
{
	IndexScanDesc scan = RelationGetIndexScan(index, nkeys, norderbys);
	InvScanOpaque *so = palloc0(sizeof(InvScanOpaque));

	so->ctx = AllocSetContextCreate(CurrentMemoryContext, "inverted scan",
									ALLOCSET_DEFAULT_SIZES);
	so->metabuf = InvalidBuffer;
	scan->opaque = so;
	/* the AM owns the arrays the ORDER BY values are returned in */
	scan->xs_orderbyvals = palloc0(sizeof(Datum) * Max(norderbys, 1));
	scan->xs_orderbynulls = palloc(sizeof(bool) * Max(norderbys, 1));
	return scan;
}

void
invrescan(IndexScanDesc scan, ScanKey keys, int nkeys, ScanKey orderbys, int norderbys)
{
	InvScanOpaque *so = (InvScanOpaque *) scan->opaque;
	int			i;

	if (so->prepared)
		for (i = 0; i < so->nseg; i++)
			inv_reader_end(&so->segs[i].r);
	MemoryContextReset(so->ctx);
	so->prepared = false;
	so->done = false;
	so->segs = NULL;
	so->nseg = 0;
	so->pend = NULL;
	so->heap = NULL;
	so->batch = NULL;
	so->nbatch = 0;
	so->pos = 0;
	so->have_last = false;
	so->query = NULL;

	if (orderbys && scan->numberOfOrderBys > 0)
		memmove(scan->orderByData, orderbys, scan->numberOfOrderBys * sizeof(ScanKeyData));
	if (keys && scan->numberOfKeys > 0)
		memmove(scan->keyData, keys, scan->numberOfKeys * sizeof(ScanKeyData));

	so->qnull = true;
	if (scan->numberOfOrderBys > 0 && !(scan->orderByData[0].sk_flags & SK_ISNULL))
	{
		MemoryContext old = MemoryContextSwitchTo(so->ctx);

		so->query = (SVec *) PG_DETOAST_DATUM_COPY(scan->orderByData[0].sk_argument);
		so->qnull = false;
		MemoryContextSwitchTo(old);
	}
}

bool
invgettuple(IndexScanDesc scan, ScanDirection dir)
{
	InvScanOpaque *so = (InvScanOpaque *) scan->opaque;

	if (scan->numberOfOrderBys != 1)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("inverted index scans need exactly one ORDER BY distance")));
	if (!ScanDirectionIsForward(dir))
		elog(ERROR, "inverted index scans only go forward");

	if (!so->prepared)
		inv_prepare(scan);

	for (;;)
	{
		if (so->pos < so->nbatch)
		{
			InvKey	   *k = &so->batch[so->pos++];

			scan->xs_heaptid = k->tid;
			scan->xs_recheck = false;
			/* exact mode: lower bounds, the executor recomputes and reorders */
			scan->xs_recheckorderby = so->exact;
			if (k->cls == KEY_NULL)
			{
				scan->xs_orderbyvals[0] = (Datum) 0;
				scan->xs_orderbynulls[0] = true;
			}
			else
			{
				scan->xs_orderbyvals[0] = Float8GetDatum(k->dist);
				scan->xs_orderbynulls[0] = false;
			}
			so->last = *k;
			so->have_last = true;
			return true;
		}
		if (so->done)
			return false;
		inv_next_batch(so);
		if (so->nbatch == 0)
			return false;
	}
}

void
invendscan(IndexScanDesc scan)
{
	InvScanOpaque *so = (InvScanOpaque *) scan->opaque;
	int			i;

	if (so->prepared)
		for (i = 0; i < so->nseg; i++)
			inv_reader_end(&so->segs[i].r);
	if (BufferIsValid(so->metabuf))
		ReleaseBuffer(so->metabuf);
	MemoryContextDelete(so->ctx);
	pfree(so);
	scan->opaque = NULL;
}
