/*
 * fuzz_model.c - libFuzzer target: any bytes given to the safetensors
 * reader and the model loader are refused with a message or loaded; a
 * loaded model must encode one text and one image without a fault.
 *
 * Each input is a whole model file.  Every input goes through the
 * safetensors reader (header length, JSON header, dtypes, shapes, data
 * offsets); one that opens then through the model loader (config JSON and
 * its bounds, bpe and concepts metadata, every tensor's name, dtype and
 * shape against the config, conversion to float, the non-finite check).
 * A model that loads, with widths and image size up to 64, encodes one
 * image and one two-token text.  The seeds (test/fuzz/seeds/model, from
 * test/fuzz/model_seeds.py) are complete models of a few kB, so mutations
 * reach all of this at thousands of inputs a second.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "model.h"

int			LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char		err[512];
	sc_model   *m = sc_model_load_memory(data, size, 0, err, sizeof err);	/* st_open_memory first */

	if (m)
	{
		sc_workspace ws = {0};
		int			S = m->cfg.image_size;
		float	   *img = calloc((size_t) 3 * S * S, sizeof(float));
		float	   *out = malloc(sizeof(float) * (size_t) sc_model_output_dim(m));
		int32_t		ids[2] = {0, m->cfg.vocab_size - 1};
		const int32_t *p = ids;
		int			len = m->cfg.context_length >= 2 ? 2 : 1;

		/* only small models: the fuzzer should not spend its time in sgemm */
		if (img && out && S <= 64 && m->cfg.vision_width <= 64 && m->cfg.text_width <= 64)
		{
			sc_encode_images(m, &ws, img, 1, out, NULL, NULL, err, sizeof err);
			sc_encode_texts(m, &ws, &p, &len, 1, out, NULL, NULL, err, sizeof err);
		}
		free(img);
		free(out);
		sc_workspace_free(&ws);
		sc_model_free(m);
	}
	return 0;
}
