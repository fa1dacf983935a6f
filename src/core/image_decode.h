/*
 * image_decode.h - the decoders behind image.c (internal to the core).
 *
 * Each format has a header reader and a decoder (image_jpeg.c, image_png.c,
 * image_webp.c).  A decoder hands back 8-bit pixels in the layout of the
 * Pillow mode the file opens in, so that image.c can resize them as Pillow
 * resizes that mode; the alpha mode is already applied (CLIP_ALPHA_WHITE
 * leaves no alpha behind).  All memory is malloc'd; on error nothing is
 * left allocated.
 */
#ifndef SPARSECLIP_IMAGE_DECODE_H
#define SPARSECLIP_IMAGE_DECODE_H

#include "image.h"

/* Longest side any decoder accepts; keeps size arithmetic in range. */
#define CLIP_IMAGE_MAX_SIDE 65535

typedef enum clip_layout
{
	CLIP_PIX_L,					/* gray, bicubic */
	CLIP_PIX_LA,				/* gray + alpha: bicubic on premultiplied alpha */
	CLIP_PIX_RGB,
	CLIP_PIX_RGBA,				/* bicubic on premultiplied alpha */
	CLIP_PIX_CMYK,				/* PIL's CMYK (0 = no ink), to RGB after the resize */
	CLIP_PIX_1,					/* 0 or 255 (Pillow "1"): nearest neighbour */
	CLIP_PIX_P					/* palette index (Pillow "P"): nearest neighbour */
} clip_layout;

typedef struct clip_decoded
{
	uint8_t    *pixels;			/* row-major, interleaved; malloc'd */
	int			width;
	int			height;
	clip_layout layout;
	uint8_t		palette[256 * 3];	/* CLIP_PIX_P: RGB of each index */
} clip_decoded;

int			clip_layout_channels(clip_layout layout);

/* Composite LA or RGBA pixels over white in place: LA becomes L, RGBA RGB. */
void		clip_decoded_over_white(clip_decoded *d);

/*
 * Header readers fill info and return CLIP_IMAGE_OK or an error code.
 * Decoders fill d (d->pixels malloc'd) and return CLIP_IMAGE_OK or an
 * error code with d->pixels NULL; o->max_pixels is checked against the
 * header before any pixel is decoded.
 */
int			clip_jpeg_header(const uint8_t *data, size_t len, clip_image_info *info,
							 char *err, size_t errlen);
int			clip_jpeg_decode(const uint8_t *data, size_t len, const clip_preprocess_opts *o,
							 clip_decoded *d, char *err, size_t errlen);
int			clip_png_header(const uint8_t *data, size_t len, clip_image_info *info,
							char *err, size_t errlen);
int			clip_png_decode(const uint8_t *data, size_t len, const clip_preprocess_opts *o,
							clip_decoded *d, char *err, size_t errlen);
int			clip_webp_header(const uint8_t *data, size_t len, clip_image_info *info,
							 char *err, size_t errlen);
int			clip_webp_decode(const uint8_t *data, size_t len, const clip_preprocess_opts *o,
							 clip_decoded *d, char *err, size_t errlen);

/* The size and pixel-limit checks every decoder makes from its header. */
int			clip_image_check_size(const char *format, int width, int height, int64_t max_pixels,
								  char *err, size_t errlen);

#endif
