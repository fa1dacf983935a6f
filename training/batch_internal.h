/*
 * batch_internal.h - what the parts of the batch builder share (batch.c:
 * options, context and entries; batch_image.c: pixels; batch_caption.c:
 * words and captions).  Not for use outside them: batch.h is the interface.
 */
#ifndef SC_BATCH_INTERNAL_H
#define SC_BATCH_INTERNAL_H

#include <math.h>
#include <stdint.h>
#include <turbojpeg.h>

#include "batch.h"

#define MAXCAP 512

struct batch_ctx
{
	const dataset *d;
	batch_opts	o;
	const ClipTokenizer *tok;
	int			context, B;
	tjhandle	tj;
	wn_db	   *wn;
	int32_t    *tokens;			/* [B, context] captions made on the fly */
	unsigned char *nocolour;	/* [nimages] 1: no caption names a colour (hue may change) */
	unsigned char *noflip;		/* [nimages] 1: a caption names text, a flag, ... */
};

/* random numbers: splitmix64 streams (data_mix), one per decision */
static inline uint64_t
rnext(uint64_t *s)
{
	*s = data_mix(*s);
	return *s;
}

static inline double
runif(uint64_t *s)
{
	return (double) (rnext(s) >> 11) * (1.0 / 9007199254740992.0);
}

static inline double
rnorm(uint64_t *s)
{
	double		u = runif(s), v = runif(s);

	return sqrt(-2.0 * log(u + 1e-300)) * cos(6.283185307179586 * v);
}

/* an independent stream for decision `what` of entry seed h */
static inline uint64_t
stream(uint64_t h, uint64_t what)
{
	return data_mix(h ^ (what * 0xD1B54A32D192ED03ULL));
}

/* caption words that forbid a hue change (a colour) or a flip (text, flags) */
extern const char *const batch_colour_words[];
extern const char *const batch_noflip_words[];

/* area-average resize of 8-bit RGB into dst, whose rows are dstride pixels apart */
void		batch_resize_rgb(const unsigned char *src, int sw, int sh, unsigned char *dst, int dw, int dh,
							 int dstride);
/* the augmented pixels of image im for entry seed h (malloc'd RGB in *out); -1 with err */
int			batch_augment_image(batch_ctx *c, int im, uint64_t h, unsigned char **out, int *w, int *hh,
								int *flipped, char *err, size_t errlen);
/* entry's caption from data set caption cap (after a swap when flipped), in place */
void		batch_augment_caption(batch_ctx *c, uint64_t h, char *cap, size_t caplen);

#endif
