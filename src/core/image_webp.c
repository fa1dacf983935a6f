/*
 * image_webp.c - WebP decoding with libwebp, as Pillow's WebPImagePlugin
 * reads WebP: through WebPAnimDecoder (RGBA output, no threads), mode
 * "RGBA" when WebPGetFeatures reports alpha and "RGB" otherwise; an
 * animation gives its first frame, on a canvas of the animation's size.
 *
 * Decoding is bounded rather than cancellable: the canvas is checked
 * against the pixel limit from the header before the decoder allocates
 * it, and libwebp itself refuses frames over 16383 pixels a side.
 */
#include "errmsg.h"
#include "image_decode.h"

#include <stdlib.h>
#include <string.h>
#include <webp/decode.h>
#include <webp/demux.h>

static const char *
status_name(VP8StatusCode s)
{
	switch (s)
	{
		case VP8_STATUS_OK:
			return "ok";
		case VP8_STATUS_OUT_OF_MEMORY:
			return "out of memory";
		case VP8_STATUS_INVALID_PARAM:
			return "invalid parameter";
		case VP8_STATUS_BITSTREAM_ERROR:
			return "bitstream error";
		case VP8_STATUS_UNSUPPORTED_FEATURE:
			return "unsupported feature";
		case VP8_STATUS_SUSPENDED:
			return "suspended";
		case VP8_STATUS_USER_ABORT:
			return "aborted";
		case VP8_STATUS_NOT_ENOUGH_DATA:
			return "not enough data (truncated)";
	}
	return "unknown error";
}

static int
is_webp(const uint8_t *data, size_t len, char *err, size_t errlen)
{
	if (!data || len < 12 || memcmp(data, "RIFF", 4) != 0 || memcmp(data + 8, "WEBP", 4) != 0)
	{
		sc_seterr(err, errlen, "not a WebP image");
		return 0;
	}
	return 1;
}

int
clip_webp_header(const uint8_t *data, size_t len, clip_image_info *info, char *err, size_t errlen)
{
	WebPBitstreamFeatures f;
	VP8StatusCode s;

	if (!is_webp(data, len, err, errlen))
		return CLIP_IMAGE_EDATA;
	s = WebPGetFeatures(data, len, &f);
	if (s != VP8_STATUS_OK)
	{
		sc_seterr(err, errlen, "invalid WebP header: %s", status_name(s));
		return s == VP8_STATUS_OUT_OF_MEMORY ? CLIP_IMAGE_ENOMEM : CLIP_IMAGE_EDATA;
	}
	if (f.width <= 0 || f.height <= 0)
	{
		sc_seterr(err, errlen, "WebP has no image size (%dx%d)", f.width, f.height);
		return CLIP_IMAGE_EDATA;
	}
	info->format = CLIP_FORMAT_WEBP;
	info->width = f.width;
	info->height = f.height;
	info->channels = 3;
	info->has_alpha = f.has_alpha != 0;
	info->bit_depth = 8;
	return CLIP_IMAGE_OK;
}

int
clip_webp_decode(const uint8_t *data, size_t len, const clip_preprocess_opts *o,
				 clip_decoded *d, char *err, size_t errlen)
{
	clip_image_info info;
	WebPData	wd;
	WebPAnimDecoderOptions opt;
	WebPAnimDecoder *dec = NULL;
	WebPAnimInfo ai;
	uint8_t    *frame = NULL,
			   *pix = NULL;
	int			rc,
				ts,
				ch;
	size_t		i,
				n;

	d->pixels = NULL;
	if ((rc = clip_webp_header(data, len, &info, err, errlen)) != CLIP_IMAGE_OK ||
		(rc = clip_image_check_size("WebP", info.width, info.height, o->max_pixels, err, errlen)) != CLIP_IMAGE_OK)
		return rc;
	if (!WebPAnimDecoderOptionsInit(&opt))
	{
		sc_seterr(err, errlen, "cannot start the WebP decoder (library version mismatch)");
		return CLIP_IMAGE_EDATA;
	}
	opt.color_mode = MODE_RGBA;
	opt.use_threads = 0;
	wd.bytes = data;
	wd.size = len;
	rc = CLIP_IMAGE_EDATA;
	dec = WebPAnimDecoderNew(&wd, &opt);
	if (!dec)
	{
		sc_seterr(err, errlen, "corrupt or truncated WebP: cannot parse its chunks");
		goto done;
	}
	if (!WebPAnimDecoderGetInfo(dec, &ai) ||
		ai.canvas_width != (uint32_t) info.width || ai.canvas_height != (uint32_t) info.height)
	{
		sc_seterr(err, errlen, "corrupt WebP: canvas size differs from the header's %dx%d",
				  info.width, info.height);
		goto done;
	}
	if (!WebPAnimDecoderGetNext(dec, &frame, &ts) || !frame)
	{
		sc_seterr(err, errlen, "corrupt or truncated WebP: cannot decode the first frame");
		goto done;
	}
	ch = info.has_alpha ? 4 : 3;
	n = (size_t) info.width * (size_t) info.height;
	pix = malloc(n * (size_t) ch);
	if (!pix)
	{
		sc_seterr(err, errlen, "out of memory decoding a %dx%d WebP", info.width, info.height);
		rc = CLIP_IMAGE_ENOMEM;
		goto done;
	}
	if (ch == 4)
		memcpy(pix, frame, n * 4);
	else
		for (i = 0; i < n; i++)
			memcpy(pix + 3 * i, frame + 4 * i, 3);	/* Pillow's "RGBX" */
	d->pixels = pix;
	d->width = info.width;
	d->height = info.height;
	d->layout = ch == 4 ? CLIP_PIX_RGBA : CLIP_PIX_RGB;
	if (ch == 4 && o->alpha == CLIP_ALPHA_WHITE)
		clip_decoded_over_white(d);
	rc = CLIP_IMAGE_OK;
done:
	WebPAnimDecoderDelete(dec);
	return rc;
}
