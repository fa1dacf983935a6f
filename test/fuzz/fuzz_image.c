/*
 * fuzz_image.c - libFuzzer target for image decoding and preprocessing
 * (JPEG, PNG, WebP, picked by signature as encode_image picks them).
 *
 * Any bytes must give CLIP_IMAGE_OK or an error code with a message: no
 * crash, no leak, no read out of bounds.  The first byte picks the output
 * size (low 6 bits), the alpha mode (bit 6) and whether decoding is
 * cancelled part way (bit 7, after as many polls as the second byte says);
 * the rest is the file.  fuzz_png.c and fuzz_webp.c include this file with
 * FUZZ_PNG or FUZZ_WEBP defined: they put the format's signature (and for
 * WebP the RIFF size) in front, so every mutation reaches that decoder.
 * Build and run with test/fuzz/run.sh.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "image.h"

int			LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int
cancel_after(void *arg)
{
	int		   *left = arg;

	return (*left)-- <= 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const float mean[3] = {0.48145466f, 0.4578275f, 0.40821073f};
	static const float std[3] = {0.26862954f, 0.26130258f, 0.27577711f};
	char		err[256];
	clip_image_info info;
	clip_preprocess_opts o;
	int			polls,
				rc;
	float	   *out;
	uint8_t    *buf = NULL;

	if (size < 2)
		return 0;
#ifdef FUZZ_WEBP
	o.image_size = 1 + data[0] % 16;	/* the decoder is the target here */
#else
	o.image_size = 1 + data[0] % 64;
#endif
	o.mean = mean;
	o.std = std;
	/*
	 * A pixel limit keeps huge declared sizes from exhausting memory.  For
	 * WebP a small one: libwebp's animation decoder allocates and clears
	 * two canvases, which for multi-megapixel headers made the target five
	 * times slower without reaching more code (the limit is unit-tested).
	 */
#ifdef FUZZ_WEBP
	o.max_pixels = 1 << 16;
#else
	o.max_pixels = 1 << 22;
#endif
	o.alpha = (data[0] & 0x40) ? CLIP_ALPHA_WHITE : CLIP_ALPHA_DROP;
	o.cancel = (data[0] & 0x80) ? cancel_after : NULL;
	polls = data[1] % 8;
	o.cancel_arg = &polls;
	data += 2;
	size -= 2;
#if defined(FUZZ_PNG)
	buf = malloc(size + 8);
	if (!buf)
		return 0;
	memcpy(buf, "\x89PNG\r\n\x1a\n", 8);
	memcpy(buf + 8, data, size);
	data = buf;
	size += 8;
#elif defined(FUZZ_WEBP)
	buf = malloc(size + 12);
	if (!buf)
		return 0;
	memcpy(buf, "RIFF", 4);
	buf[4] = (uint8_t) (size + 4);
	buf[5] = (uint8_t) ((size + 4) >> 8);
	buf[6] = (uint8_t) ((size + 4) >> 16);
	buf[7] = (uint8_t) ((size + 4) >> 24);
	memcpy(buf + 8, "WEBP", 4);
	memcpy(buf + 12, data, size);
	data = buf;
	size += 12;
#endif
	err[0] = '\0';
	rc = clip_image_info_read(data, size, &info, err, sizeof err);
	if (rc == CLIP_IMAGE_OK && (info.width <= 0 || info.height <= 0 || info.format == CLIP_FORMAT_UNKNOWN))
		abort();
	if (rc != CLIP_IMAGE_OK && err[0] == '\0')
		abort();
	out = malloc(3 * (size_t) o.image_size * (size_t) o.image_size * sizeof(float));
	if (out)
	{
		err[0] = '\0';
		rc = clip_image_preprocess(data, size, &o, out, err, sizeof err);
		if (rc != CLIP_IMAGE_OK && err[0] == '\0')
			abort();			/* an error must say why */
		if (rc == CLIP_IMAGE_OK)
		{
			size_t		i,
						n = 3 * (size_t) o.image_size * (size_t) o.image_size;

			/* every value is a normalised 8-bit level */
			for (i = 0; i < n; i++)
				if (!(out[i] > -3.0f && out[i] < 3.0f))
					abort();
		}
	}
	free(out);
	free(buf);
	return 0;
}
