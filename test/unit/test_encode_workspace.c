/*
 * test_encode_workspace.c - the encoders' scratch memory follows the input,
 * not the chunk limit: a narrow model (width 4, as in the fuzz_model seeds)
 * once reserved 2 GB of workspace to encode one text, since chunk_rows()
 * allows 2e8 / C^2 rows per chunk.  Texts in one batch and alone must still
 * give the same vectors.
 */
#include "unit.h"
#include "model.h"

int
main(void)
{
	sc_config	cfg;
	sc_model   *m;
	sc_workspace ws = {0};
	char		err[256];
	float		img[3 * 8 * 8];
	float		all[3 * 6], one[6];
	int32_t		t0[] = {1, 7}, t1[] = {2, 3, 7}, t2[] = {7};
	const int32_t *ids[] = {t0, t1, t2};
	int			lens[] = {2, 3, 1};
	int			i, j, D;

	sc_config_preset("tiny", &cfg);
	cfg.image_size = 8;
	cfg.patch_size = 4;
	cfg.vision_width = 4;
	cfg.vision_layers = 1;
	cfg.vision_heads = 1;
	cfg.context_length = 3;
	cfg.vocab_size = 8;
	cfg.text_width = 4;
	cfg.text_layers = 1;
	cfg.text_heads = 1;
	cfg.embed_dim = 4;
	cfg.sparse_dim = 6;
	m = sc_model_random(&cfg, 42, err, sizeof err);
	CHECK(m != NULL, "random model: %s", err);
	if (!m)
		return unit_done("test_encode_workspace");
	D = sc_model_output_dim(m);

	CHECK(sc_encode_texts(m, &ws, ids, lens, 1, one, NULL, NULL, err, sizeof err) == 0, "one text: %s", err);
	CHECK(ws.cap < 64 * 1024, "one 2-token text of width 4 took %zu bytes of workspace", ws.cap);

	CHECK(sc_encode_texts(m, &ws, ids, lens, 3, all, NULL, NULL, err, sizeof err) == 0, "three texts: %s", err);
	CHECK(ws.cap < 64 * 1024, "three texts of width 4 took %zu bytes of workspace", ws.cap);
	for (i = 0; i < 3; i++)
	{
		double		md = 0;

		CHECK(sc_encode_texts(m, &ws, &ids[i], &lens[i], 1, one, NULL, NULL, err, sizeof err) == 0,
			  "text %d alone: %s", i, err);
		for (j = 0; j < D; j++)
			md = fmax(md, fabs(one[j] - all[i * D + j]));
		CHECK(md <= 1e-6, "text %d alone differs from the batch by %g", i, md);
	}

	sc_workspace_free(&ws);
	for (i = 0; i < 3 * 8 * 8; i++)
		img[i] = (float) (i % 7) / 7.0f - 0.5f;
	CHECK(sc_encode_images(m, &ws, img, 1, one, NULL, NULL, err, sizeof err) == 0, "one image: %s", err);
	CHECK(ws.cap < 64 * 1024, "one 8x8 image of width 4 took %zu bytes of workspace", ws.cap);

	sc_workspace_free(&ws);
	sc_model_free(m);
	return unit_done("test_encode_workspace");
}
