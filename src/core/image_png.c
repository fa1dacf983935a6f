/*
 * image_png.c - PNG decoding with libpng, into the pixels of the mode
 * Pillow opens the file in (PngImagePlugin's table):
 *   gray 1-bit "1" (0/255, resized nearest), gray 2/4/8-bit "L" (scaled to
 *   8 bits), RGB "RGB", palette "P" (indices; resized nearest; indices
 *   past PLTE read as Pillow's gray ramp), gray+alpha "LA", RGBA "RGBA";
 *   16-bit samples keep their high byte, as Pillow's ";16B" unpackers do.
 *   16-bit gray is the exception: Pillow opens it as "I" and convert('RGB')
 *   clips it to 255; here it is "L" from the high byte (see image.h).
 * tRNS is ignored, as convert('RGB') ignores it, unless the alpha mode is
 * CLIP_ALPHA_WHITE: then it becomes alpha and the image is composited.
 *
 * libpng reports errors by longjmp: every libpng call that may raise one
 * runs in a small function with its own setjmp (read_header,
 * set_transforms, read_rows), and everything that must be freed after one
 * lives in a heap context whose pointer is set before setjmp and never
 * changed, so nothing depends on local variables after the jump.  Ancillary chunks other than tRNS are skipped unread
 * (no zTXt/iCCP inflation), sides are capped, and the caller's cancel
 * callback is polled between rows.
 */
#include "errmsg.h"
#include "image_decode.h"

#include <png.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const uint8_t png_signature[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};

typedef struct
{
	const uint8_t *data;
	size_t		len;
	size_t		pos;
	char		msg[160];
	png_structp png;
	png_infop	info;
	uint8_t    *pixels;
	uint8_t    *rgba;			/* palette + tRNS expanded, CLIP_ALPHA_WHITE */
	png_uint_32 width;			/* from IHDR */
	png_uint_32 height;
	int			depth;
	int			color_type;
} PngCtx;

static void
png_error_fn(png_structp png, png_const_charp msg)
{
	PngCtx	   *c = png_get_error_ptr(png);

	snprintf(c->msg, sizeof c->msg, "%s", msg);
	png_longjmp(png, 1);
}

/* Warnings (bad ancillary CRCs, unknown sRGB data...) are not errors. */
static void
png_warning_fn(png_structp png, png_const_charp msg)
{
	(void) png;
	(void) msg;
}

static void
png_read_fn(png_structp png, png_bytep out, size_t n)
{
	PngCtx	   *c = png_get_io_ptr(png);

	if (n > c->len - c->pos)
		png_error(png, "the data ends early (truncated)");
	memcpy(out, c->data + c->pos, n);
	c->pos += n;
}

static void
ctx_free(PngCtx *c)
{
	if (!c)
		return;
	if (c->png)
		png_destroy_read_struct(&c->png, c->info ? &c->info : NULL, NULL);
	free(c->pixels);
	free(c->rgba);
	free(c);
}

/* A context with libpng set up to read from data; NULL when out of memory. */
static PngCtx *
ctx_new(const uint8_t *data, size_t len)
{
	PngCtx	   *c = calloc(1, sizeof(PngCtx));

	if (!c)
		return NULL;
	c->data = data;
	c->len = len;
	c->png = png_create_read_struct(PNG_LIBPNG_VER_STRING, c, png_error_fn, png_warning_fn);
	if (c->png)
		c->info = png_create_info_struct(c->png);
	if (!c->png || !c->info)
	{
		ctx_free(c);
		return NULL;
	}
	return c;
}

/*
 * Calls that may longjmp.  Each is its own function with its own setjmp,
 * so a jump never lands in a frame whose locals it could have clobbered.
 */
static int
read_header(PngCtx *c)
{
	if (setjmp(png_jmpbuf(c->png)))
		return -1;
	png_set_read_fn(c->png, c, png_read_fn);
	/* any size the format allows: the caller refuses large ones (54000, not 22P03) */
	png_set_user_limits(c->png, PNG_UINT_31_MAX, PNG_UINT_31_MAX);
	png_set_chunk_malloc_max(c->png, 1 << 20);
	/* only IHDR, PLTE, tRNS, IDAT and IEND are read */
	png_set_keep_unknown_chunks(c->png, PNG_HANDLE_CHUNK_NEVER, NULL, -1);
#ifdef SPARSECLIP_FUZZING
	/* as libpng's own fuzzer: let mutated chunks past their checksums */
	png_set_crc_action(c->png, PNG_CRC_QUIET_USE, PNG_CRC_QUIET_USE);
	png_set_option(c->png, PNG_IGNORE_ADLER32, PNG_OPTION_ON);
#endif
	png_read_info(c->png, c->info);
	/* png_get_IHDR checks the values again, and may raise an error too */
	if (!png_get_IHDR(c->png, c->info, &c->width, &c->height, &c->depth, &c->color_type,
					  NULL, NULL, NULL))
		png_error(c->png, "no IHDR");
	return 0;
}

/*
 * Ask libpng for the 8-bit pixels of Pillow's mode: high bytes of 16-bit
 * samples ("RGB;16B" and the like), palette indices one per byte, gray of
 * 1/2/4 bits scaled to 8 ("L;2", "L;4", and "1" as 0/255), and tRNS as
 * alpha only when it is to be composited.
 */
static int
set_transforms(PngCtx *c, int ct, int depth, int trns_to_alpha, int *passes)
{
	if (setjmp(png_jmpbuf(c->png)))
		return -1;
	if (depth == 16)
		png_set_strip_16(c->png);
	if (ct == PNG_COLOR_TYPE_PALETTE)
		png_set_packing(c->png);
	else
	{
		if (ct == PNG_COLOR_TYPE_GRAY && depth < 8)
			png_set_expand_gray_1_2_4_to_8(c->png);
		if (trns_to_alpha)
			png_set_tRNS_to_alpha(c->png);
	}
	*passes = png_set_interlace_handling(c->png);
	png_read_update_info(c->png, c->info);
	return 0;
}

static int
read_rows(PngCtx *c, uint8_t *first, size_t stride, int y0, int n)
{
	int			y;

	if (setjmp(png_jmpbuf(c->png)))
		return -1;
	/* with interlacing, each pass combines into the rows already there */
	for (y = y0; y < y0 + n; y++)
		png_read_row(c->png, first + (size_t) y * stride, NULL);
	return 0;
}

static int
fill_info(PngCtx *c, clip_image_info *info, char *err, size_t errlen)
{
	if (read_header(c) != 0)
	{
		sc_seterr(err, errlen, "invalid PNG header: %s", c->msg);
		return CLIP_IMAGE_EDATA;
	}
	/* IHDR sides are at most 2^31 - 1: they fit an int */
	info->format = CLIP_FORMAT_PNG;
	info->width = (int) c->width;
	info->height = (int) c->height;
	info->bit_depth = c->depth;
	info->channels = (c->color_type & PNG_COLOR_MASK_COLOR) ? 3 : 1;
	info->has_alpha = (c->color_type & PNG_COLOR_MASK_ALPHA) ||
		png_get_valid(c->png, c->info, PNG_INFO_tRNS);
	return CLIP_IMAGE_OK;
}

static int
is_png(const uint8_t *data, size_t len, char *err, size_t errlen)
{
	if (!data || len < 8 || memcmp(data, png_signature, 8) != 0)
	{
		sc_seterr(err, errlen, "not a PNG image");
		return 0;
	}
	return 1;
}

int
clip_png_header(const uint8_t *data, size_t len, clip_image_info *info, char *err, size_t errlen)
{
	PngCtx	   *c;
	int			rc;

	if (!is_png(data, len, err, errlen))
		return CLIP_IMAGE_EDATA;
	if (!(c = ctx_new(data, len)))
	{
		sc_seterr(err, errlen, "out of memory starting the PNG decoder");
		return CLIP_IMAGE_ENOMEM;
	}
	rc = fill_info(c, info, err, errlen);
	ctx_free(c);
	return rc;
}

/* Pillow's palette: PLTE's entries over a gray ramp (ImagingPaletteNew). */
static void
load_palette(PngCtx *c, uint8_t pal[256 * 3])
{
	png_colorp	plte = NULL;
	int			n = 0,
				i;

	for (i = 0; i < 256; i++)
		pal[3 * i] = pal[3 * i + 1] = pal[3 * i + 2] = (uint8_t) i;
	if (png_get_PLTE(c->png, c->info, &plte, &n) && plte)
		for (i = 0; i < n && i < 256; i++)
		{
			pal[3 * i] = plte[i].red;
			pal[3 * i + 1] = plte[i].green;
			pal[3 * i + 2] = plte[i].blue;
		}
}

int
clip_png_decode(const uint8_t *data, size_t len, const clip_preprocess_opts *o,
				clip_decoded *d, char *err, size_t errlen)
{
	PngCtx	   *c;
	clip_image_info info;
	int			rc,
				ct,
				depth,
				trns,
				white,
				passes = 1,
				ch,
				pass,
				y;
	size_t		stride;

	d->pixels = NULL;
	if (!is_png(data, len, err, errlen))
		return CLIP_IMAGE_EDATA;
	if (!(c = ctx_new(data, len)))
	{
		sc_seterr(err, errlen, "out of memory starting the PNG decoder");
		return CLIP_IMAGE_ENOMEM;
	}
	if ((rc = fill_info(c, &info, err, errlen)) != CLIP_IMAGE_OK ||
		(rc = clip_image_check_size("PNG", info.width, info.height, o->max_pixels, err, errlen)) != CLIP_IMAGE_OK)
		goto done;
	ct = c->color_type;
	depth = c->depth;
	trns = png_get_valid(c->png, c->info, PNG_INFO_tRNS) != 0;
	white = o->alpha == CLIP_ALPHA_WHITE && info.has_alpha;

	if (ct == PNG_COLOR_TYPE_PALETTE)
		d->layout = CLIP_PIX_P;
	else if (ct & PNG_COLOR_MASK_COLOR)
		d->layout = (ct & PNG_COLOR_MASK_ALPHA) || (white && trns) ? CLIP_PIX_RGBA : CLIP_PIX_RGB;
	else if ((ct & PNG_COLOR_MASK_ALPHA) || (white && trns))
		d->layout = CLIP_PIX_LA;
	else
		d->layout = depth == 1 ? CLIP_PIX_1 : CLIP_PIX_L;
	if (set_transforms(c, ct, depth, white && trns && ct != PNG_COLOR_TYPE_PALETTE, &passes) != 0)
	{
		sc_seterr(err, errlen, "corrupt PNG: %s", c->msg);
		rc = CLIP_IMAGE_EDATA;
		goto done;
	}
	ch = clip_layout_channels(d->layout);
	stride = (size_t) info.width * (size_t) ch;
	if (png_get_rowbytes(c->png, c->info) != stride)
	{
		sc_seterr(err, errlen, "PNG row of %zu bytes where %zu were expected",
				  (size_t) png_get_rowbytes(c->png, c->info), stride);
		rc = CLIP_IMAGE_EDATA;
		goto done;
	}
	/* zeroed: an interlaced pass reads back what earlier passes left */
	c->pixels = calloc((size_t) info.height, stride);
	if (!c->pixels)
	{
		sc_seterr(err, errlen, "out of memory decoding a %dx%d PNG", info.width, info.height);
		rc = CLIP_IMAGE_ENOMEM;
		goto done;
	}
	for (pass = 0; pass < passes; pass++)
		for (y = 0; y < info.height; y += 64)
		{
			int			n = info.height - y < 64 ? info.height - y : 64;

			if (o->cancel && o->cancel(o->cancel_arg))
			{
				sc_seterr(err, errlen, "PNG decoding cancelled");
				rc = CLIP_IMAGE_ECANCEL;
				goto done;
			}
			if (read_rows(c, c->pixels, stride, y, n) != 0)
			{
				sc_seterr(err, errlen, "corrupt or truncated PNG: %s", c->msg);
				rc = CLIP_IMAGE_EDATA;
				goto done;
			}
		}

	if (d->layout == CLIP_PIX_P)
	{
		load_palette(c, d->palette);
		if (white)
		{
			/* palette entries with tRNS alpha (255 past its end), then white */
			png_bytep	alpha = NULL;
			int			nalpha = 0;
			uint8_t		a[256];
			size_t		i,
						npix = (size_t) info.width * (size_t) info.height;

			memset(a, 255, sizeof a);
			if (png_get_tRNS(c->png, c->info, &alpha, &nalpha, NULL) && alpha)
				memcpy(a, alpha, (size_t) (nalpha < 256 ? nalpha : 256));
			c->rgba = malloc(npix * 4);
			if (!c->rgba)
			{
				sc_seterr(err, errlen, "out of memory decoding a %dx%d PNG", info.width, info.height);
				rc = CLIP_IMAGE_ENOMEM;
				goto done;
			}
			for (i = 0; i < npix; i++)
			{
				uint8_t		k = c->pixels[i];

				memcpy(c->rgba + 4 * i, d->palette + 3 * k, 3);
				c->rgba[4 * i + 3] = a[k];
			}
			free(c->pixels);
			c->pixels = c->rgba;
			c->rgba = NULL;
			d->layout = CLIP_PIX_RGBA;
		}
	}
	d->pixels = c->pixels;
	c->pixels = NULL;
	d->width = info.width;
	d->height = info.height;
	if (white)
		clip_decoded_over_white(d);
	rc = CLIP_IMAGE_OK;
done:
	ctx_free(c);
	return rc;
}
