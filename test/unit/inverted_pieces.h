/*
 * inverted_pieces.h - random bitmap pieces of the inverted index, for
 * test_inverted_kernels.c and test/bench/inverted_kernels.c (after they
 * include src/inverted/scan_kernels.c).  The same pieces on every run.
 */
#ifndef SPARSECLIP_INVERTED_PIECES_H
#define SPARSECLIP_INVERTED_PIECES_H

static uint64 piece_rng = 0x9E3779B97F4A7C15ULL;

/* xorshift */
static uint32
piece_rand(void)
{
	piece_rng ^= piece_rng << 13;
	piece_rng ^= piece_rng >> 7;
	piece_rng ^= piece_rng << 17;
	return (uint32) (piece_rng >> 11);
}

/*
 * A bitmap piece of count postings at p (INV_BITMAP_BYTES + 2 * count
 * bytes): documents spread at random (layout 0), or the first count
 * (layout 1) or the last (2).  Weights are bfloat16 of magnitude in
 * [0.5, 2), of random sign with signs, so that q * w is exact for q a
 * power of 2.
 */
static void
piece_fill(char *p, uint32 count, int layout, bool signs)
{
	uint8		used[INV_RANGE_DOCS] = {0};
	uint32		n = 0,
				i = 0;

	memset(p, 0, INV_BITMAP_BYTES);
	if (layout == 1 || layout == 2)
		for (n = 0; n < count; n++)
			used[layout == 1 ? n : INV_RANGE_DOCS - 1 - n] = 1;
	while (n < count)
	{
		uint32		d = piece_rand() % INV_RANGE_DOCS;

		if (!used[d])
		{
			used[d] = 1;
			n++;
		}
	}
	for (uint32 d = 0; d < INV_RANGE_DOCS; d++)
		if (used[d])
		{
			uint16		h = (uint16) (0x3f00 + piece_rand() % 256);

			if (signs && piece_rand() % 2)
				h |= 0x8000;
			p[d / 8] |= (char) (1 << (d % 8));
			memcpy(p + INV_BITMAP_BYTES + 2 * i++, &h, sizeof(h));
		}
}

#endif
