/*
 * image.h - image decoding (JPEG, PNG, WebP) and CLIP's eval preprocessing,
 * in C.
 *
 * Matches open_clip's eval transform on a PIL image:
 *   Resize(image_size, BICUBIC) of the shorter side, CenterCrop(image_size),
 *   convert('RGB'), ToTensor(), Normalize(mean, std)
 * with Pillow's fixed-point resampling, so the 8-bit pixels before ToTensor
 * are the same as Pillow's for every mode Pillow opens the file in:
 *   - JPEG: L, RGB, and 4-channel files as Adobe's inverted CMYK (converted
 *     to RGB after the resize, as PIL does);
 *   - PNG: 1-bit gray ("1") and palette ("P") images are resized with
 *     nearest neighbour, as Pillow does for those modes; 2/4/8-bit gray,
 *     RGB and 16-bit RGB (high byte) bicubic; gray+alpha and RGBA (8 and
 *     16-bit) bicubic on premultiplied alpha, then alpha dropped;
 *     transparency chunks (tRNS) ignored;
 *   - WebP: RGB, or RGBA as for PNG; an animation gives its first frame.
 * That is CLIP_ALPHA_DROP.  CLIP_ALPHA_WHITE instead composites images with
 * transparency (alpha channel or tRNS) over white first, as Pillow's
 * alpha_composite(white, im.convert('RGBA')).convert('RGB') does.
 * One deliberate difference: Pillow opens a 16-bit gray PNG as mode "I"
 * and convert('RGB') clips it to 255 (a white picture); here it keeps the
 * high byte, as Pillow does for every other 16-bit PNG.
 * EXIF orientation, gamma and ICC profiles are ignored, as Image.open() does.
 *
 * Errors (unknown format, corrupt, truncated, zero size, too many pixels,
 * out of memory, cancelled) come back as codes and messages; nothing here
 * exits, aborts or longjmps out.
 */
#ifndef SPARSECLIP_IMAGE_H
#define SPARSECLIP_IMAGE_H

#include <stddef.h>
#include <stdint.h>

typedef enum clip_image_format
{
	CLIP_FORMAT_UNKNOWN = 0,
	CLIP_FORMAT_JPEG,
	CLIP_FORMAT_PNG,
	CLIP_FORMAT_WEBP
} clip_image_format;

/* For messages: the formats clip_image_preprocess reads. */
#define CLIP_IMAGE_FORMATS "JPEG, PNG and WebP"

/* What becomes of transparency. */
typedef enum clip_alpha_mode
{
	CLIP_ALPHA_DROP = 0,		/* Pillow's convert('RGB'): colour kept, alpha dropped */
	CLIP_ALPHA_WHITE			/* composited over white first */
} clip_alpha_mode;

/* Return codes of clip_image_info and clip_image_preprocess. */
#define CLIP_IMAGE_OK		0
#define CLIP_IMAGE_EDATA	(-1)	/* unknown format, corrupt, truncated */
#define CLIP_IMAGE_ELIMIT	(-2)	/* more pixels than max_pixels */
#define CLIP_IMAGE_ENOMEM	(-3)	/* out of memory */
#define CLIP_IMAGE_ECANCEL	(-4)	/* the cancel callback asked to stop */
#define CLIP_IMAGE_EARG		(-5)	/* bad image_size, mean or std */

typedef struct clip_image_info
{
	clip_image_format format;
	int			width;
	int			height;
	int			channels;		/* colour channels: 1 gray, 3 colour (palette too), 4 CMYK */
	int			has_alpha;		/* alpha channel or transparency chunk */
	int			bit_depth;		/* per sample as stored (8 for JPEG and WebP) */
} clip_image_info;

typedef struct clip_preprocess_opts
{
	int			image_size;
	const float *mean;			/* [3] */
	const float *std;			/* [3] */
	int64_t		max_pixels;		/* > 0: refuse larger images from the header */
	clip_alpha_mode alpha;
	/* Polled while decoding (PNG: every few rows); non-zero stops with
	 * CLIP_IMAGE_ECANCEL.  May be NULL.  Must return, never longjmp. */
	int			(*cancel) (void *arg);
	void	   *cancel_arg;
} clip_preprocess_opts;

/* The format from the first bytes (signature), or CLIP_FORMAT_UNKNOWN. */
clip_image_format clip_image_detect(const uint8_t *data, size_t len);
const char *clip_image_format_name(clip_image_format format);

/*
 * Read only the header: lets a caller refuse an image over a pixel limit
 * before decoding it.  Returns CLIP_IMAGE_OK or an error code with a
 * message in err; an unknown format's message names the accepted ones.
 */
int			clip_image_info_read(const uint8_t *data, size_t len, clip_image_info *info,
								 char *err, size_t errlen);

/*
 * Decode an image of any accepted format and preprocess it into out:
 * float32, channel-major [3][image_size][image_size],
 * ((pixel / 255) - mean[c]) / std[c].  Returns CLIP_IMAGE_OK or an error
 * code with a message in err.
 */
int			clip_image_preprocess(const uint8_t *data, size_t len,
								  const clip_preprocess_opts *opts, float *out,
								  char *err, size_t errlen);

/*
 * JPEG only (the trainer's and older callers' entry points): as
 * clip_image_info_read / clip_image_preprocess, refusing other formats.
 * clip_jpeg_info gives components 1 gray, 3 colour, 4 CMYK/YCCK.
 * Return 0, or -1 with a message in err.
 */
int			clip_jpeg_info(const uint8_t *data, size_t len, int *width, int *height,
						   int *components, char *err, size_t errlen);
int			clip_image_preprocess_jpeg(const uint8_t *data, size_t len, int image_size,
									   const float mean[3], const float std[3],
									   int64_t max_pixels, float *out,
									   char *err, size_t errlen);

/*
 * The same preprocessing from decoded 8-bit pixels, row-major and
 * interleaved: channels 1 (gray, PIL "L"), 3 (RGB) or 4 (CMYK as PIL holds
 * it, 0 = no ink).  Returns 0, or -1 with a message in err.
 */
int			clip_image_preprocess_pixels(const uint8_t *pixels, int width, int height,
										 int channels, int image_size,
										 const float mean[3], const float std[3],
										 float *out, char *err, size_t errlen);

/* The shorter side to image_size, the other int(image_size * long / short). */
void		clip_image_resized_size(int width, int height, int image_size,
									int *new_width, int *new_height);

#endif
