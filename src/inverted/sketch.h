/*
 * sketch.h - a document's sketch for the `reorder` option: its heaviest
 * dimensions, kept sorted as they are offered.  Plain C, so that the
 * benchmark's model of the scan (test/bench/inverted_oracle.c) orders
 * documents exactly as the index does.
 */
#ifndef SPARSECLIP_INVERTED_SKETCH_H
#define SPARSECLIP_INVERTED_SKETCH_H

#include <stdint.h>

/*
 * Offer (dim, a) to a sketch of at most cap entries, s[] and sw[] sorted by
 * a descending, ties by lower dim; *cnt its current size.
 */
static inline void
inv_sketch_insert(int32_t *s, float *sw, uint8_t *cnt, int cap, int32_t dim, float a)
{
	int			c = *cnt;
	int			j;

	if (c == cap)
	{
		if (!(a > sw[c - 1] || (a == sw[c - 1] && dim < s[c - 1])))
			return;
		c--;
	}
	else
		(*cnt)++;
	for (j = c; j > 0 && (sw[j - 1] < a || (sw[j - 1] == a && s[j - 1] > dim)); j--)
	{
		sw[j] = sw[j - 1];
		s[j] = s[j - 1];
	}
	sw[j] = a;
	s[j] = dim;
}

#endif
