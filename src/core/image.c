/*
 * image.c - open_clip's eval transform on decoded pixels, and the entry
 * points that pick a decoder by signature (image_jpeg.c, image_png.c,
 * image_webp.c).
 *
 * The resize is Pillow's ImagingResample for 8-bit images: bicubic (a =
 * -0.5) with the support widened by the downscale factor, coefficients
 * normalised per output pixel and rounded to 22-bit fixed point, a
 * horizontal pass rounded to 8 bits, then a vertical pass.  Only the output
 * pixels inside the centre crop are computed; each output pixel depends on
 * its own coefficients only, so the values are those of the full resize.
 * Around it, what Image.resize does per mode: "1" and "P" nearest
 * neighbour (ImagingScaleAffine), "LA" and "RGBA" on premultiplied alpha
 * ("La"/"RGBa", Convert.c's MULDIV255 and its division back), and no
 * resampling at all when the size does not change.
 */
#include "errmsg.h"
#include "image.h"
#include "image_decode.h"

/*
 * The resampling loops are plain integer multiply-adds; GCC's -O2 "very
 * cheap" vectorizer model skips them, so ask for its normal one here.
 */
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC optimize("vect-cost-model=dynamic")
#endif

#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Pillow: PRECISION_BITS = 32 - 8 - 2 */
#define PRECISION_BITS 22
#define BICUBIC_SUPPORT 2.0

static double
bicubic(double x)
{
	const double a = -0.5;

	if (x < 0.0)
		x = -x;
	if (x < 1.0)
		return ((a + 2.0) * x - (a + 3.0)) * x * x + 1;
	if (x < 2.0)
		return (((x - 5) * x + 8) * x - 4) * a;
	return 0.0;
}

typedef struct
{
	int			ksize;
	int		   *bounds;			/* per output pixel: first input index, count */
	int32_t    *kk;				/* per output pixel: ksize fixed-point weights */
} Coeffs;

static void
coeffs_free(Coeffs *c)
{
	free(c->bounds);
	free(c->kk);
}

/*
 * Pillow's precompute_coeffs() + normalize_coeffs_8bpc() for box [0, in_size],
 * for the output pixels first .. first + count - 1 only (each output pixel's
 * coefficients depend on nothing else), so a crop of a huge resize is cheap.
 */
static int
coeffs_make(int in_size, int out_size, int first, int count, Coeffs *c)
{
	double		scale = (double) (float) in_size / out_size;
	double		filterscale = scale < 1.0 ? 1.0 : scale;
	double		support = BICUBIC_SUPPORT * filterscale;
	double	   *w;
	int			xx;

	c->ksize = (int) ceil(support) * 2 + 1;
	c->bounds = malloc(sizeof(int) * 2 * (size_t) count);
	c->kk = malloc(sizeof(int32_t) * (size_t) c->ksize * (size_t) count);
	w = malloc(sizeof(double) * (size_t) c->ksize);
	if (!c->bounds || !c->kk || !w)
	{
		free(w);
		return -1;
	}
	for (xx = first; xx < first + count; xx++)
	{
		double		center = (xx + 0.5) * scale,
					ww = 0.0,
					ss = 1.0 / filterscale;
		int			xmin = (int) (center - support + 0.5),
					xmax = (int) (center + support + 0.5),
					x;
		int32_t    *k = c->kk + (size_t) (xx - first) * (size_t) c->ksize;

		if (xmin < 0)
			xmin = 0;
		if (xmax > in_size)
			xmax = in_size;
		xmax -= xmin;
		for (x = 0; x < xmax; x++)
		{
			w[x] = bicubic((x + xmin - center + 0.5) * ss);
			ww += w[x];
		}
		for (x = 0; x < c->ksize; x++)
		{
			double		v = x < xmax ? (ww != 0.0 ? w[x] / ww : w[x]) : 0.0;

			k[x] = (int32_t) (v < 0 ? -0.5 + v * (1 << PRECISION_BITS)
							  : 0.5 + v * (1 << PRECISION_BITS));
		}
		c->bounds[2 * (xx - first)] = xmin;
		c->bounds[2 * (xx - first) + 1] = xmax;
	}
	free(w);
	return 0;
}

static inline uint8_t
clip8(int32_t v)
{
	if (v >= (1 << PRECISION_BITS << 8))
		return 255;
	if (v <= 0)
		return 0;
	return (uint8_t) (v >> PRECISION_BITS);
}

void
clip_image_resized_size(int width, int height, int image_size, int *new_width, int *new_height)
{
	/* torchvision: new_long = int(size * long / short) in double precision */
	if (width <= height)
	{
		*new_width = image_size;
		*new_height = (int) ((double) image_size * height / width);
	}
	else
	{
		*new_height = image_size;
		*new_width = (int) ((double) image_size * width / height);
	}
}

/* torchvision's int(round(d / 2.0)): Python rounds halves to even. */
static int
crop_offset(int d)
{
	int			q = d / 2;

	if (d % 2 == 0)
		return q;
	return (q % 2 == 0) ? q : q + 1;
}

/*
 * Resize in (w x h x ch) to (ow x oh) and keep the window (cx, cy, cw x cwh)
 * of the result in out (cw x cwh x ch).  Returns -1 when out of memory.
 */
static int
resize_crop(const uint8_t *in, int w, int h, int ch, int ow, int oh,
			int cx, int cy, int cw, int chh, uint8_t *out)
{
	int			need_h = ow != w,
				need_v = oh != h;
	Coeffs		hc = {0},
				vc = {0};
	int			y_lo,
				y_hi,
				y,
				x,
				c,
				rc = -1;
	uint8_t    *tmp = NULL;
	int32_t    *acc = NULL;

	if ((need_h && coeffs_make(w, ow, cx, cw, &hc) < 0) ||
		(need_v && coeffs_make(h, oh, cy, chh, &vc) < 0))
		goto done;
	if (need_v)
	{
		y_lo = vc.bounds[0];
		y_hi = y_lo;
		for (y = 0; y < chh; y++)
			if (vc.bounds[2 * y] + vc.bounds[2 * y + 1] > y_hi)
				y_hi = vc.bounds[2 * y] + vc.bounds[2 * y + 1];
	}
	else
	{
		y_lo = cy;
		y_hi = cy + chh;
	}
	tmp = malloc((size_t) (y_hi - y_lo) * (size_t) cw * (size_t) ch);
	if (!tmp && y_hi > y_lo)
		goto done;

	/* horizontal pass over the input rows the kept output rows need */
	for (y = y_lo; y < y_hi; y++)
	{
		const uint8_t *row = in + (size_t) y * (size_t) w * (size_t) ch;
		uint8_t    *trow = tmp + (size_t) (y - y_lo) * (size_t) cw * (size_t) ch;

		if (!need_h)
		{
			memcpy(trow, row + (size_t) cx * (size_t) ch, (size_t) cw * (size_t) ch);
			continue;
		}
		for (x = 0; x < cw; x++)
		{
			int			i;
			const uint8_t *src = row + (size_t) hc.bounds[2 * x] * (size_t) ch;
			int			xn = hc.bounds[2 * x + 1];
			const int32_t *k = hc.kk + (size_t) x * (size_t) hc.ksize;
			uint8_t    *dst = trow + (size_t) x * (size_t) ch;

			/* weights sum to 1 with few negatives: int32 cannot overflow */
			if (ch == 3)
			{
				int32_t		s0 = 1 << (PRECISION_BITS - 1),
							s1 = s0,
							s2 = s0;

				for (i = 0; i < xn; i++, src += 3)
				{
					s0 += src[0] * k[i];
					s1 += src[1] * k[i];
					s2 += src[2] * k[i];
				}
				dst[0] = clip8(s0);
				dst[1] = clip8(s1);
				dst[2] = clip8(s2);
			}
			else
				for (c = 0; c < ch; c++)
				{
					int32_t		ss = 1 << (PRECISION_BITS - 1);

					for (i = 0; i < xn; i++)
						ss += src[(size_t) i * (size_t) ch + (size_t) c] * k[i];
					dst[c] = clip8(ss);
				}
		}
	}

	/* vertical pass: row by row, so the inner loop runs along memory */
	if (need_v)
	{
		acc = malloc(sizeof(int32_t) * (size_t) cw * (size_t) ch);
		if (!acc)
			goto done;
	}
	for (y = 0; y < chh; y++)
	{
		uint8_t    *orow = out + (size_t) y * (size_t) cw * (size_t) ch;
		size_t		stride = (size_t) cw * (size_t) ch,
					j;

		if (!need_v)
		{
			memcpy(orow, tmp + (size_t) y * stride, stride);
			continue;
		}
		{
			int			ymin = vc.bounds[2 * y] - y_lo,
						yn = vc.bounds[2 * y + 1],
						i;
			const int32_t *k = vc.kk + (size_t) y * (size_t) vc.ksize;

			for (j = 0; j < stride; j++)
				acc[j] = 1 << (PRECISION_BITS - 1);
			for (i = 0; i < yn; i++)
			{
				const uint8_t *src = tmp + (size_t) (ymin + i) * stride;
				int32_t		w = k[i];

				for (j = 0; j < stride; j++)
					acc[j] += src[j] * w;
			}
			for (j = 0; j < stride; j++)
				orow[j] = clip8(acc[j]);
		}
	}
	rc = 0;
done:
	free(tmp);
	free(acc);
	coeffs_free(&hc);
	coeffs_free(&vc);
	return rc;
}

/* Pillow's cmyk2rgb: MULDIV255 rounding, ink c under black k. */
static uint8_t
cmyk_channel(int c, int k)
{
	int			nk = 255 - k;
	int			tmp = c * nk + 128;
	int			v = nk - (((tmp >> 8) + tmp) >> 8);

	return (uint8_t) (v < 0 ? 0 : (v > 255 ? 255 : v));
}

/* MULDIV255 of Pillow's Convert.c: a * b / 255, rounded. */
static inline uint8_t
muldiv255(unsigned a, unsigned b)
{
	unsigned	tmp = a * b + 128;

	return (uint8_t) (((tmp >> 8) + tmp) >> 8);
}

/* "RGBA" -> "RGBa" (rgbA2rgba) or "LA" -> "La" (lA2la), in place. */
static void
premultiply(uint8_t *p, size_t npix, int ch)
{
	size_t		i;
	int			c;

	for (i = 0; i < npix; i++, p += ch)
		for (c = 0; c < ch - 1; c++)
			p[c] = muldiv255(p[c], p[ch - 1]);
}

/* "RGBa" -> "RGBA" (rgba2rgbA) or "La" -> "LA" (la2lA), in place. */
static void
unpremultiply(uint8_t *p, size_t npix, int ch)
{
	size_t		i;
	int			c;

	for (i = 0; i < npix; i++, p += ch)
	{
		unsigned	a = p[ch - 1];

		if (a == 0 || a == 255)
			continue;
		for (c = 0; c < ch - 1; c++)
		{
			unsigned	v = 255u * p[c] / a;

			p[c] = (uint8_t) (v > 255 ? 255 : v);
		}
	}
}

/* Pillow's COORD() of Geometry.c */
static inline int
coord(double v)
{
	return v < 0.0 ? -1 : (int) v;
}

/*
 * Nearest-neighbour resize of (w x h x ch) to (ow x oh), keeping the window
 * (cx, cy, cw x chh): Pillow's ImagingScaleAffine as Image.resize calls it
 * (scale w / ow, first sample at half a step, positions accumulated step by
 * step as there; a position outside the input reads 0, its fill).
 */
static int
nearest_crop(const uint8_t *in, int w, int h, int ch, int ow, int oh,
			 int cx, int cy, int cw, int chh, uint8_t *out)
{
	double		ax = (double) w / ow,
				ay = (double) h / oh,
				xo = ax * 0.5,
				yo = ay * 0.5;
	int		   *xin = malloc(sizeof(int) * (size_t) cw);
	int			x,
				y;

	if (!xin)
		return -1;
	for (x = 0; x < cx + cw; x++, xo += ax)
		if (x >= cx)
		{
			int			xi = coord(xo);

			xin[x - cx] = xi < w ? xi : -1;
		}
	for (y = 0; y < cy + chh; y++, yo += ay)
		if (y >= cy)
		{
			int			yi = coord(yo);
			uint8_t    *orow = out + (size_t) (y - cy) * (size_t) cw * (size_t) ch;

			if (yi < 0 || yi >= h)
			{
				memset(orow, 0, (size_t) cw * (size_t) ch);
				continue;
			}
			for (x = 0; x < cw; x++)
			{
				if (xin[x] < 0)
					memset(orow + (size_t) x * ch, 0, (size_t) ch);
				else
					memcpy(orow + (size_t) x * ch,
						   in + ((size_t) yi * (size_t) w + (size_t) xin[x]) * (size_t) ch, (size_t) ch);
			}
		}
	free(xin);
	return 0;
}

int
clip_layout_channels(clip_layout layout)
{
	switch (layout)
	{
		case CLIP_PIX_L:
		case CLIP_PIX_1:
		case CLIP_PIX_P:
			return 1;
		case CLIP_PIX_LA:
			return 2;
		case CLIP_PIX_RGB:
			return 3;
		case CLIP_PIX_RGBA:
		case CLIP_PIX_CMYK:
			return 4;
	}
	return 0;
}

/*
 * Pillow's alpha_composite(white, im) then convert('RGB') (AlphaComposite.c
 * with an opaque white destination: 7 extra bits, divisions by 255 rounded).
 */
void
clip_decoded_over_white(clip_decoded *d)
{
	int			ch = clip_layout_channels(d->layout),
				c;
	size_t		i,
				n = (size_t) d->width * (size_t) d->height;
	const uint8_t *src = d->pixels;
	uint8_t    *dst = d->pixels;

	if (d->layout != CLIP_PIX_LA && d->layout != CLIP_PIX_RGBA)
		return;
	/* writes never overtake reads: ch - 1 bytes out for ch bytes in */
	for (i = 0; i < n; i++, src += ch)
	{
		uint32_t	a = src[ch - 1];

		for (c = 0; c < ch - 1; c++)
		{
			uint32_t	t;

			if (a == 0)
			{
				*dst++ = 255;
				continue;
			}
			t = ((uint32_t) src[c] * a + 255u * (255u - a)) << 7;
			t += 0x80u << 7;
			*dst++ = (uint8_t) (((((t >> 8) + t) >> 8)) >> 7);
		}
	}
	d->layout = d->layout == CLIP_PIX_LA ? CLIP_PIX_L : CLIP_PIX_RGB;
}

static int
check_args(int image_size, const float mean[3], const float std[3], char *err, size_t errlen)
{
	int			c;

	if (image_size <= 0 || image_size > 4096)
	{
		sc_seterr(err, errlen, "image_size %d out of range (1 .. 4096)", image_size);
		return CLIP_IMAGE_EARG;
	}
	if (!mean || !std)
	{
		sc_seterr(err, errlen, "no normalisation mean/std");
		return CLIP_IMAGE_EARG;
	}
	for (c = 0; c < 3; c++)
		if (!(std[c] != 0.0f) || !isfinite(std[c]) || !isfinite(mean[c]))
		{
			sc_seterr(err, errlen, "bad normalisation mean/std for channel %d", c);
			return CLIP_IMAGE_EARG;
		}
	return CLIP_IMAGE_OK;
}

/*
 * Resize, crop, convert to RGB and normalise decoded pixels.  May
 * premultiply d->pixels in place.  Returns a CLIP_IMAGE_* code.
 */
static int
preprocess_decoded(clip_decoded *d, int image_size, const float mean[3], const float std[3],
				   float *out, char *err, size_t errlen)
{
	int			ow,
				oh,
				cx,
				cy,
				x,
				y,
				c,
				rc,
				ch = clip_layout_channels(d->layout),
				resized,
				alpha = d->layout == CLIP_PIX_LA || d->layout == CLIP_PIX_RGBA,
				nearest = d->layout == CLIP_PIX_1 || d->layout == CLIP_PIX_P;
	size_t		plane;
	uint8_t    *crop;
	float		lut[3][256];

	if ((rc = check_args(image_size, mean, std, err, errlen)) != CLIP_IMAGE_OK)
		return rc;
	if (d->width <= 0 || d->height <= 0 || d->width > CLIP_IMAGE_MAX_SIDE ||
		d->height > CLIP_IMAGE_MAX_SIDE)
	{
		sc_seterr(err, errlen, "image size %dx%d out of range", d->width, d->height);
		return CLIP_IMAGE_EDATA;
	}
	clip_image_resized_size(d->width, d->height, image_size, &ow, &oh);
	if (ow < image_size || oh < image_size || ow > INT_MAX / 4 || oh > INT_MAX / 4)
	{
		sc_seterr(err, errlen, "image %dx%d cannot be resized to %d", d->width, d->height, image_size);
		return CLIP_IMAGE_EDATA;
	}
	/* Image.resize returns a copy when the size does not change */
	resized = ow != d->width || oh != d->height;
	cx = crop_offset(ow - image_size);
	cy = crop_offset(oh - image_size);
	plane = (size_t) image_size * (size_t) image_size;
	crop = malloc(plane * (size_t) ch);
	if (!crop)
	{
		sc_seterr(err, errlen, "out of memory preprocessing an image");
		return CLIP_IMAGE_ENOMEM;
	}
	if (alpha && resized)
		premultiply(d->pixels, (size_t) d->width * (size_t) d->height, ch);
	if ((nearest ? nearest_crop(d->pixels, d->width, d->height, ch, ow, oh, cx, cy, image_size,
								image_size, crop)
		 : resize_crop(d->pixels, d->width, d->height, ch, ow, oh, cx, cy, image_size, image_size,
					   crop)) < 0)
	{
		free(crop);
		sc_seterr(err, errlen, "out of memory resizing an image");
		return CLIP_IMAGE_ENOMEM;
	}
	if (alpha && resized)
		unpremultiply(crop, plane, ch);

	/* convert('RGB'), then ToTensor and Normalize as torchvision: (v / 255 - mean) / std in float32 */
	for (c = 0; c < 3; c++)
		for (x = 0; x < 256; x++)
			lut[c][x] = ((float) x / 255.0f - mean[c]) / std[c];
	for (y = 0; y < image_size; y++)
		for (x = 0; x < image_size; x++)
		{
			size_t		p = (size_t) y * (size_t) image_size + (size_t) x;
			const uint8_t *px = crop + p * (size_t) ch;
			uint8_t		rgb[3];

			switch (d->layout)
			{
				case CLIP_PIX_L:
				case CLIP_PIX_1:
				case CLIP_PIX_LA:
					rgb[0] = rgb[1] = rgb[2] = px[0];
					break;
				case CLIP_PIX_P:
					memcpy(rgb, d->palette + 3 * (size_t) px[0], 3);
					break;
				case CLIP_PIX_RGB:
				case CLIP_PIX_RGBA:
					memcpy(rgb, px, 3);
					break;
				case CLIP_PIX_CMYK:
					for (c = 0; c < 3; c++)
						rgb[c] = cmyk_channel(px[c], px[3]);
					break;
			}
			for (c = 0; c < 3; c++)
				out[(size_t) c * plane + p] = lut[c][rgb[c]];
		}
	free(crop);
	return CLIP_IMAGE_OK;
}

int
clip_image_preprocess_pixels(const uint8_t *pixels, int width, int height,
							 int channels, int image_size,
							 const float mean[3], const float std[3],
							 float *out, char *err, size_t errlen)
{
	clip_decoded d;

	if (channels != 1 && channels != 3 && channels != 4)
	{
		sc_seterr(err, errlen, "unsupported number of channels %d", channels);
		return -1;
	}
	/* these layouts are never written to */
	d.pixels = (uint8_t *) pixels;
	d.width = width;
	d.height = height;
	d.layout = channels == 1 ? CLIP_PIX_L : (channels == 3 ? CLIP_PIX_RGB : CLIP_PIX_CMYK);
	return preprocess_decoded(&d, image_size, mean, std, out, err, errlen) == CLIP_IMAGE_OK ? 0 : -1;
}

clip_image_format
clip_image_detect(const uint8_t *data, size_t len)
{
	if (!data)
		return CLIP_FORMAT_UNKNOWN;
	if (len >= 3 && data[0] == 0xFF && data[1] == 0xD8 && data[2] == 0xFF)
		return CLIP_FORMAT_JPEG;
	if (len >= 8 && memcmp(data, "\x89PNG\r\n\x1a\n", 8) == 0)
		return CLIP_FORMAT_PNG;
	if (len >= 12 && memcmp(data, "RIFF", 4) == 0 && memcmp(data + 8, "WEBP", 4) == 0)
		return CLIP_FORMAT_WEBP;
	return CLIP_FORMAT_UNKNOWN;
}

const char *
clip_image_format_name(clip_image_format format)
{
	switch (format)
	{
		case CLIP_FORMAT_JPEG:
			return "JPEG";
		case CLIP_FORMAT_PNG:
			return "PNG";
		case CLIP_FORMAT_WEBP:
			return "WebP";
		case CLIP_FORMAT_UNKNOWN:
			break;
	}
	return "unknown";
}

/* A name for formats people store but that are not read, for the message. */
static const char *
other_format(const uint8_t *d, size_t len)
{
	if (len >= 6 && (memcmp(d, "GIF87a", 6) == 0 || memcmp(d, "GIF89a", 6) == 0))
		return "GIF";
	if (len >= 4 && (memcmp(d, "II*\0", 4) == 0 || memcmp(d, "MM\0*", 4) == 0))
		return "TIFF";
	if (len >= 2 && d[0] == 'B' && d[1] == 'M')
		return "BMP";
	if (len >= 12 && memcmp(d + 4, "ftyp", 4) == 0)
	{
		if (memcmp(d + 8, "avif", 4) == 0 || memcmp(d + 8, "avis", 4) == 0)
			return "AVIF";
		if (memcmp(d + 8, "hei", 3) == 0 || memcmp(d + 8, "mif1", 4) == 0 || memcmp(d + 8, "hev", 3) == 0)
			return "HEIF";
	}
	if (len >= 12 && memcmp(d, "\0\0\0\x0cjP  ", 8) == 0)
		return "JPEG 2000";
	if (len >= 4 && memcmp(d, "\xff\x0a", 2) == 0)
		return "JPEG XL";
	if (len >= 12 && memcmp(d, "\0\0\0\x0cJXL ", 8) == 0)
		return "JPEG XL";
	if (len >= 12 && memcmp(d, "RIFF", 4) == 0)
		return "RIFF (not WebP)";
	if (len >= 4 && (memcmp(d, "<svg", 4) == 0 || memcmp(d, "<?xm", 4) == 0))
		return "SVG or XML";
	return NULL;
}

static int
unknown_format(const uint8_t *data, size_t len, char *err, size_t errlen)
{
	const char *other = data ? other_format(data, len) : NULL;

	if (!data || len == 0)
		sc_seterr(err, errlen, "empty data is not an image (accepted formats: " CLIP_IMAGE_FORMATS ")");
	else if (other)
		sc_seterr(err, errlen, "%s images are not supported (accepted formats: " CLIP_IMAGE_FORMATS ")",
				  other);
	else
		sc_seterr(err, errlen, "unrecognised image format (accepted formats: " CLIP_IMAGE_FORMATS ")");
	return CLIP_IMAGE_EDATA;
}

int
clip_image_check_size(const char *format, int width, int height, int64_t max_pixels,
					  char *err, size_t errlen)
{
	if (width <= 0 || height <= 0)
	{
		sc_seterr(err, errlen, "%s has no image size (%dx%d)", format, width, height);
		return CLIP_IMAGE_EDATA;
	}
	if (max_pixels > 0 && (int64_t) width * height > max_pixels)
	{
		sc_seterr(err, errlen, "image of %dx%d pixels is over the limit of %lld pixels",
				  width, height, (long long) max_pixels);
		return CLIP_IMAGE_ELIMIT;
	}
	if (width > CLIP_IMAGE_MAX_SIDE || height > CLIP_IMAGE_MAX_SIDE)
	{
		sc_seterr(err, errlen, "%s of %dx%d pixels: sides over %d pixels are not supported",
				  format, width, height, CLIP_IMAGE_MAX_SIDE);
		return CLIP_IMAGE_ELIMIT;
	}
	return CLIP_IMAGE_OK;
}

int
clip_image_info_read(const uint8_t *data, size_t len, clip_image_info *info,
					 char *err, size_t errlen)
{
	memset(info, 0, sizeof *info);
	switch (clip_image_detect(data, len))
	{
		case CLIP_FORMAT_JPEG:
			return clip_jpeg_header(data, len, info, err, errlen);
		case CLIP_FORMAT_PNG:
			return clip_png_header(data, len, info, err, errlen);
		case CLIP_FORMAT_WEBP:
			return clip_webp_header(data, len, info, err, errlen);
		case CLIP_FORMAT_UNKNOWN:
			break;
	}
	return unknown_format(data, len, err, errlen);
}

int
clip_image_preprocess(const uint8_t *data, size_t len, const clip_preprocess_opts *opts,
					  float *out, char *err, size_t errlen)
{
	clip_decoded d;
	int			rc;

	memset(&d, 0, sizeof d);
	if (!opts)
	{
		sc_seterr(err, errlen, "no preprocessing options");
		return CLIP_IMAGE_EARG;
	}
	if ((rc = check_args(opts->image_size, opts->mean, opts->std, err, errlen)) != CLIP_IMAGE_OK)
		return rc;
	switch (clip_image_detect(data, len))
	{
		case CLIP_FORMAT_JPEG:
			rc = clip_jpeg_decode(data, len, opts, &d, err, errlen);
			break;
		case CLIP_FORMAT_PNG:
			rc = clip_png_decode(data, len, opts, &d, err, errlen);
			break;
		case CLIP_FORMAT_WEBP:
			rc = clip_webp_decode(data, len, opts, &d, err, errlen);
			break;
		case CLIP_FORMAT_UNKNOWN:
			return unknown_format(data, len, err, errlen);
	}
	if (rc != CLIP_IMAGE_OK)
		return rc;
	rc = preprocess_decoded(&d, opts->image_size, opts->mean, opts->std, out, err, errlen);
	free(d.pixels);
	return rc;
}

int
clip_jpeg_info(const uint8_t *data, size_t len, int *width, int *height,
			   int *components, char *err, size_t errlen)
{
	clip_image_info info;

	if (clip_jpeg_header(data, len, &info, err, errlen) != CLIP_IMAGE_OK)
		return -1;
	*width = info.width;
	*height = info.height;
	*components = info.channels;
	return 0;
}

int
clip_image_preprocess_jpeg(const uint8_t *data, size_t len, int image_size,
						   const float mean[3], const float std[3],
						   int64_t max_pixels, float *out,
						   char *err, size_t errlen)
{
	clip_preprocess_opts o = {image_size, mean, std, max_pixels, CLIP_ALPHA_DROP, NULL, NULL};

	if (clip_image_detect(data, len) != CLIP_FORMAT_JPEG)
	{
		sc_seterr(err, errlen, "not a JPEG image");
		return -1;
	}
	return clip_image_preprocess(data, len, &o, out, err, errlen) == CLIP_IMAGE_OK ? 0 : -1;
}
