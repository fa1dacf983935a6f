/*
 * image.c - JPEG decoding (TurboJPEG) and open_clip's eval transform.
 *
 * The resize is Pillow's ImagingResample for 8-bit images: bicubic (a =
 * -0.5) with the support widened by the downscale factor, coefficients
 * normalised per output pixel and rounded to 22-bit fixed point, a
 * horizontal pass rounded to 8 bits, then a vertical pass.  Only the output
 * pixels inside the centre crop are computed; each output pixel depends on
 * its own coefficients only, so the values are those of the full resize.
 */
#include "errmsg.h"
#include "image.h"

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
#include <turbojpeg.h>

/* Pillow: PRECISION_BITS = 32 - 8 - 2 */
#define PRECISION_BITS 22
#define BICUBIC_SUPPORT 2.0
/* libjpeg refuses larger images anyway; keeps size arithmetic in range */
#define MAX_SIDE 65535

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

/* Pillow's precompute_coeffs() + normalize_coeffs_8bpc() for box [0, in_size]. */
static int
coeffs_make(int in_size, int out_size, Coeffs *c)
{
	double		scale = (double) (float) in_size / out_size;
	double		filterscale = scale < 1.0 ? 1.0 : scale;
	double		support = BICUBIC_SUPPORT * filterscale;
	double	   *w;
	int			xx;

	c->ksize = (int) ceil(support) * 2 + 1;
	c->bounds = malloc(sizeof(int) * 2 * (size_t) out_size);
	c->kk = malloc(sizeof(int32_t) * (size_t) c->ksize * (size_t) out_size);
	w = malloc(sizeof(double) * (size_t) c->ksize);
	if (!c->bounds || !c->kk || !w)
	{
		free(w);
		return -1;
	}
	for (xx = 0; xx < out_size; xx++)
	{
		double		center = (xx + 0.5) * scale,
					ww = 0.0,
					ss = 1.0 / filterscale;
		int			xmin = (int) (center - support + 0.5),
					xmax = (int) (center + support + 0.5),
					x;
		int32_t    *k = c->kk + (size_t) xx * (size_t) c->ksize;

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
		c->bounds[2 * xx] = xmin;
		c->bounds[2 * xx + 1] = xmax;
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

	if ((need_h && coeffs_make(w, ow, &hc) < 0) || (need_v && coeffs_make(h, oh, &vc) < 0))
		goto done;
	if (need_v)
	{
		y_lo = vc.bounds[2 * cy];
		y_hi = y_lo;
		for (y = cy; y < cy + chh; y++)
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
			int			xx = cx + x,
						i;
			const uint8_t *src = row + (size_t) hc.bounds[2 * xx] * (size_t) ch;
			int			xn = hc.bounds[2 * xx + 1];
			const int32_t *k = hc.kk + (size_t) xx * (size_t) hc.ksize;
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
			int			yy = cy + y,
						ymin = vc.bounds[2 * yy] - y_lo,
						yn = vc.bounds[2 * yy + 1],
						i;
			const int32_t *k = vc.kk + (size_t) yy * (size_t) vc.ksize;

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

int
clip_image_preprocess_pixels(const uint8_t *pixels, int width, int height,
							 int channels, int image_size,
							 const float mean[3], const float std[3],
							 float *out, char *err, size_t errlen)
{
	int			ow,
				oh,
				cx,
				cy,
				x,
				y,
				c;
	size_t		plane;
	uint8_t    *crop;
	float		lut[3][256];

	if (channels != 1 && channels != 3 && channels != 4)
	{
		sc_seterr(err, errlen, "unsupported number of channels %d", channels);
		return -1;
	}
	if (width <= 0 || height <= 0 || width > MAX_SIDE || height > MAX_SIDE)
	{
		sc_seterr(err, errlen, "image size %dx%d out of range", width, height);
		return -1;
	}
	if (image_size <= 0 || image_size > 4096)
	{
		sc_seterr(err, errlen, "image_size %d out of range (1 .. 4096)", image_size);
		return -1;
	}
	for (c = 0; c < 3; c++)
		if (!(std[c] != 0.0f) || !isfinite(std[c]) || !isfinite(mean[c]))
		{
			sc_seterr(err, errlen, "bad normalisation mean/std for channel %d", c);
			return -1;
		}
	clip_image_resized_size(width, height, image_size, &ow, &oh);
	if (ow < image_size || oh < image_size || ow > INT_MAX / 4 || oh > INT_MAX / 4)
	{
		sc_seterr(err, errlen, "image %dx%d cannot be resized to %d", width, height, image_size);
		return -1;
	}
	cx = crop_offset(ow - image_size);
	cy = crop_offset(oh - image_size);
	plane = (size_t) image_size * (size_t) image_size;
	crop = malloc(plane * (size_t) channels);
	if (!crop)
	{
		sc_seterr(err, errlen, "out of memory preprocessing an image");
		return -1;
	}
	if (resize_crop(pixels, width, height, channels, ow, oh, cx, cy, image_size, image_size, crop) < 0)
	{
		free(crop);
		sc_seterr(err, errlen, "out of memory resizing an image");
		return -1;
	}
	/* ToTensor then Normalize, as torchvision: (v / 255 - mean) / std in float32 */
	for (c = 0; c < 3; c++)
		for (x = 0; x < 256; x++)
			lut[c][x] = ((float) x / 255.0f - mean[c]) / std[c];
	for (y = 0; y < image_size; y++)
		for (x = 0; x < image_size; x++)
		{
			size_t		p = (size_t) y * (size_t) image_size + (size_t) x;
			const uint8_t *px = crop + p * (size_t) channels;
			uint8_t		rgb[3];

			if (channels == 1)
				rgb[0] = rgb[1] = rgb[2] = px[0];
			else if (channels == 3)
				memcpy(rgb, px, 3);
			else
				for (c = 0; c < 3; c++)
					rgb[c] = cmyk_channel(px[c], px[3]);
			for (c = 0; c < 3; c++)
				out[(size_t) c * plane + p] = lut[c][rgb[c]];
		}
	free(crop);
	return 0;
}

static int
header(tjhandle tj, const uint8_t *data, size_t len, int *w, int *h, int *comps,
	   char *err, size_t errlen)
{
	int			subsamp,
				cs;

	if (!data || len < 4 || data[0] != 0xFF || data[1] != 0xD8)
	{
		sc_seterr(err, errlen, "not a JPEG image");
		return -1;
	}
	/* A truncated stream can "succeed" without a frame header: start from 0. */
	*w = *h = 0;
	if (len > (size_t) ULONG_MAX ||
		tjDecompressHeader3(tj, data, (unsigned long) len, w, h, &subsamp, &cs) != 0)
	{
		sc_seterr(err, errlen, "invalid JPEG header: %s", tjGetErrorStr2(tj));
		return -1;
	}
	if (*w <= 0 || *h <= 0)
	{
		sc_seterr(err, errlen, "JPEG has no image size (%dx%d): truncated or corrupt", *w, *h);
		return -1;
	}
	switch (cs)
	{
		case TJCS_GRAY:
			*comps = 1;
			break;
		case TJCS_CMYK:
		case TJCS_YCCK:
			*comps = 4;
			break;
		default:
			*comps = 3;
			break;
	}
	return 0;
}

int
clip_jpeg_info(const uint8_t *data, size_t len, int *width, int *height,
			   int *components, char *err, size_t errlen)
{
	tjhandle	tj = tjInitDecompress();
	int			rc;

	if (!tj)
	{
		sc_seterr(err, errlen, "cannot start the JPEG decoder");
		return -1;
	}
	rc = header(tj, data, len, width, height, components, err, errlen);
	tjDestroy(tj);
	return rc;
}

int
clip_image_preprocess_jpeg(const uint8_t *data, size_t len, int image_size,
						   const float mean[3], const float std[3],
						   int64_t max_pixels, float *out,
						   char *err, size_t errlen)
{
	tjhandle	tj = tjInitDecompress();
	int			w,
				h,
				comps,
				rc = -1;
	uint8_t    *pix = NULL;
	size_t		n;

	if (!tj)
	{
		sc_seterr(err, errlen, "cannot start the JPEG decoder");
		return -1;
	}
	if (header(tj, data, len, &w, &h, &comps, err, errlen) < 0)
		goto done;
	if (max_pixels > 0 && (int64_t) w * h > max_pixels)
	{
		sc_seterr(err, errlen, "image of %dx%d pixels is over the limit of %lld pixels",
				w, h, (long long) max_pixels);
		goto done;
	}
	n = (size_t) w * (size_t) h * (size_t) comps;
	pix = malloc(n);
	if (!pix)
	{
		sc_seterr(err, errlen, "out of memory decoding a %dx%d JPEG", w, h);
		goto done;
	}
	/*
	 * Default decoding (accurate DCT, fancy upsampling) as PIL's libjpeg
	 * use.  A warning means damaged data (PIL refuses a truncated file);
	 * TJFLAG_LIMITSCANS stops progressive files with absurd scan counts.
	 */
	if (tjDecompress2(tj, data, (unsigned long) len, pix, w, 0, h,
					  comps == 1 ? TJPF_GRAY : (comps == 4 ? TJPF_CMYK : TJPF_RGB),
					  TJFLAG_STOPONWARNING | TJFLAG_LIMITSCANS) != 0)
	{
		sc_seterr(err, errlen, "cannot decode JPEG: %s", tjGetErrorStr2(tj));
		goto done;
	}
	if (comps == 4)
	{
		/* PIL reads every 4-channel JPEG as Adobe's inverted CMYK ("CMYK;I") */
		size_t		i;

		for (i = 0; i < n; i++)
			pix[i] = (uint8_t) (255 - pix[i]);
	}
	rc = clip_image_preprocess_pixels(pix, w, h, comps, image_size, mean, std, out, err, errlen);
done:
	free(pix);
	tjDestroy(tj);
	return rc;
}
