/*
 * inverted_kernels.c - the scan's bitmap kernels side by side, outside
 * PostgreSQL: nanoseconds to add one 1,024-document bitmap piece into its
 * range's accumulators, by the piece's number of postings, for the kernels
 * of src/inverted/scan_kernels.c (included whole: its static kernels are
 * what is measured) and, as baselines, the AVX-512 kernels it had before
 * (an expanding load per 16 documents until de5ad23; then a permutation
 * with a test per group of whether 16 weights could be read, until the
 * sixteenth session), kept here only for this comparison.  Built and run
 * by inverted_kernels.sh.
 *
 * Pieces are added round robin into 32 ranges (a block of the walk:
 * 128 kB of accumulators, as in the scan); the best of 5 rounds counts.
 * Every kernel's sums are checked against the portable kernel's.
 */
#include "../../src/inverted/scan_kernels.c"

#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "../unit/inverted_pieces.h"

/* the GUC the kernels' choice reads (handler.c in the extension) */
int			inv_simd = INV_SIMD_AVX512;

#define NPIECES 4096
#define NRANGES 32

#if defined(__x86_64__) && defined(__GNUC__)
/* The AVX-512 kernel until commit de5ad23: the baseline. */
__attribute__((target("avx512f,avx512bw,avx512vl,avx512vbmi2")))
static bool
add_bitmap_expand(float4 *base, const char *p, uint32 count, float4 q, bool check)
{
	const uint16 *ws = (const uint16 *) (p + INV_BITMAP_BYTES);
	__m512		vq = _mm512_set1_ps(q);
	int			g;

	(void) count;
	(void) check;
	for (g = 0; g < INV_RANGE_DOCS / 16; g++)
	{
		uint16		m;
		__m512		w,
					a;

		memcpy(&m, p + 2 * g, sizeof(m));
		w = _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(
									_mm256_maskz_expandloadu_epi16((__mmask16) m, ws)), 16));
		ws += __builtin_popcount(m);
		a = _mm512_loadu_ps(base + 16 * g);
		_mm512_storeu_ps(base + 16 * g, _mm512_fmadd_ps(vq, w, a));
	}
	return true;
}

/* The AVX-512 kernel of de5ad23 to the fifteenth session: the second baseline. */
__attribute__((target("avx512f,avx512bw,avx512vl")))
static bool
add_bitmap_permute_before(float4 *base, const char *p, uint32 count, float4 q, bool check)
{
	const uint16 *ws = (const uint16 *) (p + INV_BITMAP_BYTES);
	const uint16 *end = ws + count;
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
		uint32		lo,
					hi,
					k;
		__m128i		idx8;
		__m256i		h;
		__m512		w,
					a;

		memcpy(&m, p + 2 * g, sizeof(m));	/* little-endian: docs 16g.. */
		lo = m & 0xff;
		hi = m >> 8;
		k = (uint32) __builtin_popcount(m);
		/* the high byte's lanes come after the low byte's weights */
		idx8 = _mm_set_epi64x((long long) (inv_prefix8[hi] +
										   UINT64CONST(0x0101010101010101) * (uint64) __builtin_popcount(lo)),
							  (long long) inv_prefix8[lo]);
		if (ws + 16 <= end)
			h = _mm256_loadu_si256((const __m256i *) ws);
		else
			h = _mm256_maskz_loadu_epi16((__mmask16) ((1u << k) - 1), ws);
		/* a bfloat16 is the top half of a float */
		w = _mm512_maskz_permutexvar_ps((__mmask16) m, _mm512_cvtepu8_epi32(idx8),
										_mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(h), 16)));
		ws += k;
		a = _mm512_loadu_ps(base + 16 * g);
		_mm512_storeu_ps(base + 16 * g, _mm512_fmadd_ps(vq, w, a));
	}
	return true;
}
#endif

static double
now(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec + t.tv_nsec * 1e-9;
}

/* npieces bitmap pieces of count postings each, each with slack behind it */
static char **
make_pieces(uint32 count)
{
	char	  **pieces = malloc(sizeof(char *) * NPIECES);

	for (int k = 0; k < NPIECES; k++)
	{
		char	   *p = calloc(1, INV_BITMAP_BYTES + 2 * INV_RANGE_DOCS);

		piece_fill(p, count, 0, false);
		pieces[k] = p;
	}
	return pieces;
}

/* a kernel's sums must be the portable kernel's */
static void
check_sums(const char *name, const float4 *ref, const float4 *got)
{
	if (memcmp(ref, got, sizeof(float4) * NRANGES * INV_RANGE_DOCS) != 0)
	{
		fprintf(stderr, "inverted_kernels: %s sums differ from the portable kernel's\n", name);
		exit(1);
	}
}

/* ns per piece, best of 5 rounds of 10 passes; the sums into sums */
static double
time_kernel(InvBitmapAddFn fn, char **pieces, uint32 count, float4 *acc, float4 *sums)
{
	double		best = 1e30;

	for (int round = 0; round < 5; round++)
	{
		double		t0;

		memset(acc, 0, sizeof(float4) * NRANGES * INV_RANGE_DOCS);
		t0 = now();
		for (int pass = 0; pass < 10; pass++)
			for (int k = 0; k < NPIECES; k++)
				/* q = 0.5: every product exact, so fused and separate adds agree */
				if (!fn(acc + (size_t) (k % NRANGES) * INV_RANGE_DOCS, pieces[k], count, 0.5f, false))
				{
					fprintf(stderr, "inverted_kernels: a kernel refused a good piece\n");
					exit(1);
				}
		best = Min(best, (now() - t0) / (10.0 * NPIECES) * 1e9);
	}
	memcpy(sums, acc, sizeof(float4) * NRANGES * INV_RANGE_DOCS);
	return best;
}

int
main(void)
{
	static const uint32 counts[] = {64, 96, 128, 192, 256, 384, 512, 768, 1024};
	float4	   *acc = aligned_alloc(64, sizeof(float4) * NRANGES * INV_RANGE_DOCS);
	float4	   *ref = malloc(sizeof(float4) * NRANGES * INV_RANGE_DOCS);
	float4	   *got = malloc(sizeof(float4) * NRANGES * INV_RANGE_DOCS);
	bool		have512;
	bool		have_count = false;

	inv_choose_kernels();
	have512 = inv_add_bitmap != inv_add_bitmap_plain && inv_add_bitmap != inv_add_bitmap_avx2;
#if defined(__x86_64__) && defined(__GNUC__)
	have_count = inv_add_bitmap == inv_add_bitmap_avx512_count;
#endif
	printf("postings\tportable ns\tavx2 ns\texpand ns (de5ad23)\tpermute ns (before)\t"
		   "table ns (now)\tcount ns (now)\tnow / before\n");
	for (size_t c = 0; c < sizeof(counts) / sizeof(counts[0]); c++)
	{
		char	  **pieces = make_pieces(counts[c]);
		double		t_plain,
					t_avx2 = 0,
					t_expand = 0,
					t_before = 0,
					t_table = 0,
					t_count = 0;

		t_plain = time_kernel(inv_add_bitmap_plain, pieces, counts[c], acc, ref);
#if defined(__x86_64__) && defined(__GNUC__)
		if (__builtin_cpu_supports("avx2"))
		{
			t_avx2 = time_kernel(inv_add_bitmap_avx2, pieces, counts[c], acc, got);
			check_sums("avx2", ref, got);
		}
		if (have512 && __builtin_cpu_supports("avx512vbmi2"))
			t_expand = time_kernel(add_bitmap_expand, pieces, counts[c], acc, got);
		if (have512)
		{
			t_before = time_kernel(add_bitmap_permute_before, pieces, counts[c], acc, got);
			check_sums("permute (before)", ref, got);
			t_table = time_kernel(inv_add_bitmap_avx512, pieces, counts[c], acc, got);
			check_sums("table", ref, got);
		}
		if (have_count)
		{
			t_count = time_kernel(inv_add_bitmap_avx512_count, pieces, counts[c], acc, got);
			check_sums("count", ref, got);
		}
#endif
		printf("%u\t%.1f\t%.1f\t%.1f\t%.1f\t%.1f\t%.1f\t%.3f\n", counts[c], t_plain, t_avx2,
			   t_expand, t_before, t_table, t_count,
			   t_before > 0 ? (have_count ? t_count : t_table) / t_before : 0.0);
		for (int k = 0; k < NPIECES; k++)
			free(pieces[k]);
		free(pieces);
	}
	return 0;
}
