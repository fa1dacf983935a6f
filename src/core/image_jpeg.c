/*
 * image_jpeg.c - JPEG decoding with TurboJPEG, as PIL reads JPEGs: L, RGB,
 * and every 4-channel file as Adobe's inverted CMYK.
 */
#include "errmsg.h"
#include "image_decode.h"

#include <limits.h>
#include <stdlib.h>
#include <turbojpeg.h>

static int
header(tjhandle tj, const uint8_t *data, size_t len, clip_image_info *info,
	   char *err, size_t errlen)
{
	int			subsamp,
				cs,
				w = 0,
				h = 0;

	if (!data || len < 2 || data[0] != 0xFF || data[1] != 0xD8)
	{
		sc_seterr(err, errlen, "not a JPEG image");
		return CLIP_IMAGE_EDATA;
	}
	if (len < 4)
	{
		sc_seterr(err, errlen, "truncated JPEG (%zu bytes)", len);
		return CLIP_IMAGE_EDATA;
	}
	/* A truncated stream can "succeed" without a frame header: start from 0. */
	if (len > (size_t) ULONG_MAX ||
		tjDecompressHeader3(tj, data, (unsigned long) len, &w, &h, &subsamp, &cs) != 0)
	{
		sc_seterr(err, errlen, "invalid JPEG header: %s", tjGetErrorStr2(tj));
		return CLIP_IMAGE_EDATA;
	}
	if (w <= 0 || h <= 0)
	{
		sc_seterr(err, errlen, "JPEG has no image size (%dx%d): truncated or corrupt", w, h);
		return CLIP_IMAGE_EDATA;
	}
	info->format = CLIP_FORMAT_JPEG;
	info->width = w;
	info->height = h;
	info->has_alpha = 0;
	info->bit_depth = 8;
	switch (cs)
	{
		case TJCS_GRAY:
			info->channels = 1;
			break;
		case TJCS_CMYK:
		case TJCS_YCCK:
			info->channels = 4;
			break;
		default:
			info->channels = 3;
			break;
	}
	return CLIP_IMAGE_OK;
}

int
clip_jpeg_header(const uint8_t *data, size_t len, clip_image_info *info, char *err, size_t errlen)
{
	tjhandle	tj = tjInitDecompress();
	int			rc;

	if (!tj)
	{
		sc_seterr(err, errlen, "cannot start the JPEG decoder");
		return CLIP_IMAGE_ENOMEM;
	}
	rc = header(tj, data, len, info, err, errlen);
	tjDestroy(tj);
	return rc;
}

int
clip_jpeg_decode(const uint8_t *data, size_t len, const clip_preprocess_opts *o,
				 clip_decoded *d, char *err, size_t errlen)
{
	tjhandle	tj = tjInitDecompress();
	clip_image_info info;
	int			rc;
	uint8_t    *pix = NULL;
	size_t		n;

	d->pixels = NULL;
	if (!tj)
	{
		sc_seterr(err, errlen, "cannot start the JPEG decoder");
		return CLIP_IMAGE_ENOMEM;
	}
	if ((rc = header(tj, data, len, &info, err, errlen)) != CLIP_IMAGE_OK ||
		(rc = clip_image_check_size("JPEG", info.width, info.height, o->max_pixels, err, errlen)) != CLIP_IMAGE_OK)
		goto done;
	n = (size_t) info.width * (size_t) info.height * (size_t) info.channels;
	pix = malloc(n);
	if (!pix)
	{
		sc_seterr(err, errlen, "out of memory decoding a %dx%d JPEG", info.width, info.height);
		rc = CLIP_IMAGE_ENOMEM;
		goto done;
	}

	/*
	 * Default decoding (accurate DCT, fancy upsampling) as PIL's libjpeg
	 * use.  A warning means damaged data (PIL refuses a truncated file);
	 * TJFLAG_LIMITSCANS stops progressive files with absurd scan counts.
	 */
	if (tjDecompress2(tj, data, (unsigned long) len, pix, info.width, 0, info.height,
					  info.channels == 1 ? TJPF_GRAY : (info.channels == 4 ? TJPF_CMYK : TJPF_RGB),
					  TJFLAG_STOPONWARNING | TJFLAG_LIMITSCANS) != 0)
	{
		sc_seterr(err, errlen, "corrupt or truncated JPEG: %s", tjGetErrorStr2(tj));
		rc = CLIP_IMAGE_EDATA;
		goto done;
	}
	if (info.channels == 4)
	{
		/* PIL reads every 4-channel JPEG as Adobe's inverted CMYK ("CMYK;I") */
		size_t		i;

		for (i = 0; i < n; i++)
			pix[i] = (uint8_t) (255 - pix[i]);
	}
	d->pixels = pix;
	pix = NULL;
	d->width = info.width;
	d->height = info.height;
	d->layout = info.channels == 1 ? CLIP_PIX_L : (info.channels == 4 ? CLIP_PIX_CMYK : CLIP_PIX_RGB);
	rc = CLIP_IMAGE_OK;
done:
	free(pix);
	tjDestroy(tj);
	return rc;
}
