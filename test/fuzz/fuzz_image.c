/*
 * fuzz_image.c - libFuzzer target for JPEG decoding and preprocessing.
 *
 * Any bytes must give 0 or -1 with a message: no crash, no leak, no read
 * out of bounds.  The first byte picks the output size, the rest is the
 * file.  Build and run with test/fuzz/run.sh.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "image.h"

int			LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const float mean[3] = {0.48145466f, 0.4578275f, 0.40821073f};
	static const float std[3] = {0.26862954f, 0.26130258f, 0.27577711f};
	char		err[256];
	int			image_size,
				w,
				h,
				comps;
	float	   *out;

	if (size < 1)
		return 0;
	image_size = 1 + data[0] % 64;
	data++;
	size--;
	if (clip_jpeg_info(data, size, &w, &h, &comps, err, sizeof err) == 0 &&
		(w <= 0 || h <= 0 || (comps != 1 && comps != 3 && comps != 4)))
		abort();
	out = malloc(3 * (size_t) image_size * (size_t) image_size * sizeof(float));
	if (!out)
		return 0;
	/* a pixel limit keeps huge declared sizes from exhausting memory */
	err[0] = '\0';
	if (clip_image_preprocess_jpeg(data, size, image_size, mean, std, 1 << 22, out, err, sizeof err) != 0 &&
		err[0] == '\0')
		abort();				/* an error must say why */
	free(out);
	return 0;
}
