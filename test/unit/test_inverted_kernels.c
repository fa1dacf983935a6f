/*
 * test_inverted_kernels.c - the inverted scan's kernels (src/inverted/
 * scan_kernels.c, included whole, with PostgreSQL's headers but no server):
 * every width the CPU has (portable, AVX2, AVX-512 with its lane indexes
 * looked up or counted) adds a bitmap piece
 * exactly as a plain loop over its set bits does, for every density from
 * an empty piece to a full one; refuses a piece whose bitmap does not hold
 * its count when asked to check; never reads past the piece's last weight
 * (each piece ends at a page that faults when touched); and takes the
 * same range maximum.  The offset-list kernel (scan.h) adds a piece of
 * every count as the plain loop does and never reads past it.
 */
#include "../../src/inverted/scan_kernels.c"

#include <sys/mman.h>
#include <unistd.h>

#include "unit.h"
#include "inverted_pieces.h"

/* the setting the kernels' choice reads (handler.c in the extension) */
int			inv_simd = INV_SIMD_AVX512;

/*
 * A region whose usable part ends where an inaccessible page begins: a
 * piece placed to end there faults on any read past its last byte.
 */
static char *guard_base;
static size_t guard_page;

static char *
piece_at_guard(size_t nbytes)
{
	return guard_base + guard_page * 2 - nbytes;
}

/* the reference: the weights in bit order, each q * w added in float */
static void
add_reference(float4 *base, const char *p, float4 q)
{
	const char *ws = p + INV_BITMAP_BYTES;

	for (uint32 d = 0; d < INV_RANGE_DOCS; d++)
		if (p[d / 8] & (1 << (d % 8)))
		{
			uint16		h;

			memcpy(&h, ws, sizeof(h));
			ws += sizeof(h);
			base[d] += q * inv_bf16_decode(h);
		}
}

static const char *const simd_names[] = {"portable", "avx2", "avx512"};

static void
test_bitmaps(const char *name)
{
	static const uint32 counts[] = {0, 1, 2, 15, 16, 17, 31, 63, 64, 65, 100, 127, 128, 255,
	256, 300, 511, 512, 700, 1000, 1008, 1009, 1023, 1024};
	float4		want[INV_RANGE_DOCS],
				got[INV_RANGE_DOCS];
	int			mismatches = 0,
				refused = 0,
				accepted_bad = 0,
				pieces = 0;

	for (size_t c = 0; c < sizeof(counts) / sizeof(counts[0]); c++)
		for (int layout = 0; layout < 3; layout++)
			for (int rep = 0; rep < (layout == 0 ? 8 : 1); rep++)
			{
				uint32		count = counts[c];
				size_t		nbytes = INV_BITMAP_BYTES + 2 * (size_t) count;
				char	   *p = piece_at_guard(nbytes);
				float4		q = (rep % 2) ? 0.25f : -2.0f;

				piece_fill(p, count, layout, true);
				for (int d = 0; d < INV_RANGE_DOCS; d++)
					want[d] = got[d] = (float4) ((int) (piece_rand() % 2001) - 1000) / 64.0f;
				add_reference(want, p, q);
				/* both with and without the count check */
				if (!inv_add_bitmap(got, p, count, q, rep % 2 == 0))
					refused++;
				if (memcmp(want, got, sizeof(want)) != 0)
					mismatches++;
				pieces++;
				/* a count the bitmap does not hold: refused, nothing added */
				if (count > 0)
				{
					memcpy(got, want, sizeof(got));
					if (inv_add_bitmap(got, p, count - 1, q, true))
						accepted_bad++;
					else if (memcmp(want, got, sizeof(want)) != 0)
						mismatches++;
				}
			}
	CHECK(mismatches == 0, "%s: %d of %d bitmap pieces added differently from the plain loop",
		  name, mismatches, pieces);
	CHECK(refused == 0, "%s: %d good pieces refused", name, refused);
	CHECK(accepted_bad == 0, "%s: %d pieces with a wrong count accepted under check",
		  name, accepted_bad);
}

/*
 * Offset-list pieces of every count a segment writes (and more): each
 * ends at the guard page, so a read past it faults; the sums equal one
 * q * w per posting, as the plain loop adds them; no other accumulator
 * moves.
 */
static void
test_offsets(void)
{
	char		bm[INV_BITMAP_BYTES + 2 * INV_RANGE_DOCS];
	float4		want[INV_RANGE_DOCS],
				got[INV_RANGE_DOCS];
	int			mismatches = 0,
				pieces = 0;

	for (uint32 count = 0; count <= 130; count++)
		for (int layout = 0; layout < 3; layout++)
		{
			size_t		nbytes = 4 * (size_t) count;
			char	   *p = piece_at_guard(nbytes);
			float4		q = (count % 2) ? 0.25f : -2.0f;
			uint32		n = 0;

			/* a bitmap piece's documents and weights, as offsets then weights */
			piece_fill(bm, count, layout, true);
			for (uint32 d = 0; d < INV_RANGE_DOCS; d++)
				if (bm[d / 8] & (1 << (d % 8)))
				{
					InvOffset	o = (InvOffset) d;

					memcpy(p + sizeof(InvOffset) * n, &o, sizeof(o));
					memcpy(p + sizeof(InvOffset) * count + 2 * n, bm + INV_BITMAP_BYTES + 2 * n, 2);
					n++;
				}
			for (int d = 0; d < INV_RANGE_DOCS; d++)
				want[d] = got[d] = (float4) ((int) (piece_rand() % 2001) - 1000) / 64.0f;
			add_reference(want, bm, q);
			inv_add_offsets(got, p, count, q);
			if (n != count || memcmp(want, got, sizeof(want)) != 0)
				mismatches++;
			pieces++;
		}
	CHECK(mismatches == 0, "%d of %d offset-list pieces added differently from the plain loop",
		  mismatches, pieces);
}

static void
test_range_max(int simd)
{
	float4		a[INV_RANGE_DOCS];
	int			wrong = 0;

	for (int rep = 0; rep < 200; rep++)
	{
		float4		m;

		for (int d = 0; d < INV_RANGE_DOCS; d++)
			a[d] = (float4) ((int) (piece_rand() % 100001) - 90000) / 7.0f;
		/* the maximum anywhere, once at either end */
		if (rep % 3 == 1)
			a[0] = 1e6f;
		else if (rep % 3 == 2)
			a[INV_RANGE_DOCS - 1] = 1e6f;
		m = a[0];
		for (int d = 1; d < INV_RANGE_DOCS; d++)
			m = Max(m, a[d]);
		if (inv_range_max_fn(a) != m)
			wrong++;
	}
	CHECK(wrong == 0, "%s: %d of 200 range maxima wrong", simd_names[simd], wrong);
}

int
main(void)
{
	guard_page = (size_t) sysconf(_SC_PAGESIZE);
	guard_base = mmap(NULL, guard_page * 3, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (guard_base == MAP_FAILED || mprotect(guard_base + guard_page * 2, guard_page, PROT_NONE) != 0)
	{
		perror("mmap");
		return 1;
	}
	/* a whole bitmap piece must fit below the guard */
	if (INV_BITMAP_BYTES + 2 * INV_RANGE_DOCS > guard_page * 2)
	{
		fprintf(stderr, "page size %zu too small for a piece\n", guard_page);
		return 1;
	}
	test_offsets();
	for (int simd = INV_SIMD_NONE; simd <= INV_SIMD_AVX512; simd++)
	{
		InvBitmapAddFn before = inv_add_bitmap;

		inv_simd = simd;
		inv_choose_kernels();
		/* a width the CPU lacks falls back to a narrower kernel: said, not hidden */
		if (simd > INV_SIMD_NONE && inv_add_bitmap == before)
		{
			char		why[80];

			snprintf(why, sizeof(why), "no %s kernel on this CPU", simd_names[simd]);
			unit_skip(why);
			continue;
		}
		test_bitmaps(simd_names[simd]);
		test_range_max(simd);
#if defined(__x86_64__) && defined(__GNUC__)
		/* where AVX-512 counts its lane indexes, the table's kernel too */
		if (simd == INV_SIMD_AVX512 && inv_add_bitmap == inv_add_bitmap_avx512_count)
		{
			inv_add_bitmap = inv_add_bitmap_avx512;
			test_bitmaps("avx512 (lane table)");
		}
#endif
	}
	return unit_done("test_inverted_kernels");
}
