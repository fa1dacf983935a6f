/*
 * scan_kernels.c - the scan's scoring kernels: adding a bitmap piece's
 * weights into the accumulators and the largest score in a range (both in
 * portable code, AVX2 and AVX-512, chosen at run time).
 *
 * Apart from the walk that calls them because they are what changes with
 * the CPU: each has a portable version that every machine runs and tests
 * (sparseclip.inverted_simd), and the wide ones need target attributes.
 * The walk reaches them through function pointers, per piece and per
 * range, so keeping them here costs no inlining; the one it inlines
 * (inv_v4_max) is in scan.h.
 */
#include "postgres.h"

#include <math.h>

#include "port/pg_bitutils.h"

#include "scan.h"

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

/*
 * AVX-512: sixteen documents at a time.  The group's next 16 weights are
 * moved into the lanes of its set bits by a permutation, not by an
 * expanding load: on the AMD EPYC of the development machine the expand
 * took about 200 ns a piece at any density, the permutation 100-125
 * (test/bench/inverted_kernels.sh; doc/inverted-design.md, "Bitmap pieces
 * without an expanding load").  Lane i of a group with mask m takes weight
 * popcount(m & ((1 << i) - 1)): with AVX512_VPOPCNTDQ those indexes are
 * counted in one instruction, else looked up per byte in inv_prefix8.
 *
 * The groups whose 16 weights could pass the piece's end (fewer than 16
 * postings from them on: found from the end before the loop, so that the
 * loop itself has no test) load only theirs.  The piece's bitmap is read
 * as 16-bit groups, little-endian like the bits of its bytes.
 */
#define INV_BITMAP_AVX512_GROUP(LANES, LOAD) \
	do { \
		uint32		m = bm[2 * g] | ((uint32) bm[2 * g + 1] << 8); \
		uint32		k = (uint32) __builtin_popcount(m); \
		__m256i		h = LOAD; \
		float4	   *b = base + 16 * g; \
		/* a bfloat16 is the top half of a float */ \
		__m512		w = _mm512_maskz_permutexvar_ps((__mmask16) m, LANES(m), \
													_mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(h), 16))); \
		\
		ws += k; \
		_mm512_storeu_ps(b, _mm512_fmadd_ps(vq, w, _mm512_loadu_ps(b))); \
	} while (0)

#define INV_BITMAP_AVX512_BODY(LANES) \
	const uint16 *ws = (const uint16 *) (p + INV_BITMAP_BYTES); \
	const uint8 *bm = (const uint8 *) p; \
	__m512		vq = _mm512_set1_ps(q); \
	uint32		suffix = 0; \
	int			g, \
				safe; \
	\
	if (check) \
	{ \
		uint32		n = 0; \
		\
		for (g = 0; g < INV_BITMAP_BYTES / 8; g++) \
		{ \
			uint64		m8; \
			\
			memcpy(&m8, p + 8 * g, sizeof(m8)); \
			n += (uint32) __builtin_popcountll(m8); \
		} \
		if (n != count) \
			return false; \
	} \
	/* groups before safe have at least 16 postings from them on */ \
	for (safe = INV_RANGE_DOCS / 16; safe > 0 && suffix < 16; safe--) \
		suffix += (uint32) __builtin_popcount(bm[2 * safe - 2] | (bm[2 * safe - 1] << 8)); \
	if (suffix >= 16) \
		safe++; \
	for (g = 0; g < safe; g++) \
		INV_BITMAP_AVX512_GROUP(LANES, _mm256_loadu_si256((const __m256i *) ws)); \
	for (; g < INV_RANGE_DOCS / 16; g++) \
		INV_BITMAP_AVX512_GROUP(LANES, _mm256_maskz_loadu_epi16((__mmask16) ((1u << k) - 1), ws)); \
	return true

/*
 * For each byte m of a bitmap, the lane each of its 8 documents takes its
 * weight from: the number of set bits below it (8 bytes, one per bit).
 */
static uint64 inv_prefix8[256];

static void
inv_init_prefix8(void)
{
	int			m,
				i;

	for (m = 0; m < 256; m++)
	{
		uint64		v = 0;
		int			k = 0;

		for (i = 0; i < 8; i++)
			if (m & (1 << i))
				v |= (uint64) k++ << (8 * i);
		inv_prefix8[m] = v;
	}
}

/* the lane indexes of a group with mask m, from inv_prefix8 */
__attribute__((target("avx512f,avx512bw,avx512vl")))
static inline __m512i
inv_lanes_table(uint32 m)
{
	uint32		lo = m & 0xff,
				hi = m >> 8;

	/* the high byte's lanes come after the low byte's weights */
	return _mm512_cvtepu8_epi32(_mm_set_epi64x((long long) (inv_prefix8[hi] +
															UINT64CONST(0x0101010101010101) * (uint64) __builtin_popcount(lo)),
											   (long long) inv_prefix8[lo]));
}

/* the same, counted: lane i keeps the bits of m below i */
__attribute__((target("avx512f,avx512vpopcntdq")))
static inline __m512i
inv_lanes_count(uint32 m)
{
	const __m512i below = _mm512_set_epi32(0x7FFF, 0x3FFF, 0x1FFF, 0xFFF, 0x7FF, 0x3FF, 0x1FF, 0xFF,
										   0x7F, 0x3F, 0x1F, 0xF, 0x7, 0x3, 0x1, 0x0);

	return _mm512_popcnt_epi32(_mm512_and_si512(_mm512_set1_epi32((int) m), below));
}

__attribute__((target("avx512f,avx512bw,avx512vl")))
static bool
inv_add_bitmap_avx512(float4 *base, const char *p, uint32 count, float4 q, bool check)
{
	INV_BITMAP_AVX512_BODY(inv_lanes_table);
}

__attribute__((target("avx512f,avx512bw,avx512vl,avx512vpopcntdq")))
static bool
inv_add_bitmap_avx512_count(float4 *base, const char *p, uint32 count, float4 q, bool check)
{
	INV_BITMAP_AVX512_BODY(inv_lanes_count);
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

InvRangeMaxFn inv_range_max_fn = NULL;

InvBitmapAddFn inv_add_bitmap = NULL;

/*
 * The kernels for this scan: the widest the CPU has, up to
 * sparseclip.inverted_simd (which also lets the tests run the narrower ones
 * on any machine).
 */
void
inv_choose_kernels(void)
{
	static int	have_avx2 = -1,
				have_max = -1,
				have_bw = -1,
				have_count = -1;

	if (have_max < 0)
	{
		have_avx2 = have_max = have_bw = have_count = 0;
#if defined(__x86_64__) && defined(__GNUC__)
		__builtin_cpu_init();
		have_avx2 = __builtin_cpu_supports("avx2") ? 1 : 0;
		have_max = __builtin_cpu_supports("avx512f") ? 1 : 0;
		have_bw = have_max && __builtin_cpu_supports("avx512bw") &&
			__builtin_cpu_supports("avx512vl");
		have_count = have_bw && __builtin_cpu_supports("avx512vpopcntdq");
		if (have_bw)
			inv_init_prefix8();
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
	if (inv_simd >= INV_SIMD_AVX512 && have_bw)
		inv_add_bitmap = have_count ? inv_add_bitmap_avx512_count : inv_add_bitmap_avx512;
#endif
}
