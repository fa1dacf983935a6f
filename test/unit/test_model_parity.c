/*
 * test_model_parity.c - the C encoders against the plain-PyTorch reference
 * (test/fixtures/gen_model_fixtures.py): tiny random models, dense and
 * sparse, gelu and quick_gelu, F32/F16/BF16 weights.  Normalised outputs
 * must agree within 1e-4 and have the same non-zero dimensions (apart from
 * values within 1e-6 of zero).  Also: batching and chunking do not change
 * results, a cancel callback stops the encoder, bad inputs are refused.
 */
#include "unit.h"
#include "blas_tune.h"
#include "model.h"
#include "safetensors.h"

#define FIX "test/fixtures/model/"

static const char *const variants[] = {
	"dense_gelu_f32", "sparse_quickgelu_f16", "sparse_gelu_bf16", "dense_quickgelu_f16"
};

static void
compare(const char *what, const float *got, const st_tensor *want, int n, int D)
{
	float		ref[4096];
	double		maxdiff = 0.0;
	int			i, mismatched_support = 0;

	CHECK(want->numel == (int64_t) n * D && want->numel <= 4096, "%s: expected shape", what);
	if (want->numel != (int64_t) n * D || want->numel > 4096)
		return;
	st_to_float(want, ref);
	for (i = 0; i < n * D; i++)
	{
		double		d = fabs((double) got[i] - ref[i]);

		if (d > maxdiff)
			maxdiff = d;
		/* zero in one and not the other is allowed only for values within 1e-6 of zero */
		if ((got[i] == 0.0f) != (ref[i] == 0.0f) && fmax(fabs(got[i]), fabs(ref[i])) > 1e-6)
			mismatched_support++;
	}
	CHECK(maxdiff <= 1e-4, "%s: largest difference %.3g", what, maxdiff);
	CHECK(mismatched_support == 0, "%s: %d dimensions differ in being zero", what, mismatched_support);
	printf("%s: max abs diff %.3g\n", what, maxdiff);
}

static int
cancel_after(void *arg)
{
	int		   *left = arg;

	return --(*left) < 0;
}

int
main(void)
{
	char		err[512];
	st_file    *in = st_open(FIX "inputs.safetensors", err, sizeof err);
	const st_tensor *images, *tlens, *tids;
	int			nimg, ntxt, i, v;
	int			lens[16];
	const int32_t *ids[16];
	int32_t		idbuf[256];
	sc_workspace ws = {0};

	/* the kernels the extension runs with */
	sc_blas_tune(NULL, 0);
	CHECK(in != NULL, "inputs: %s", err);
	if (!in)
		return unit_done("test_model_parity");
	images = st_find(in, "images");
	tlens = st_find(in, "text_lens");
	tids = st_find(in, "text_ids");
	CHECK(images && tlens && tids && tlens->numel <= 16 && tids->numel <= 256, "input tensors");
	if (!(images && tlens && tids && tlens->numel <= 16 && tids->numel <= 256))
		return unit_done("test_model_parity");
	nimg = (int) images->shape[0];
	ntxt = (int) tlens->numel;
	memcpy(idbuf, tids->data, tids->nbytes);
	{
		int			off = 0;

		for (i = 0; i < ntxt; i++)
		{
			memcpy(&lens[i], (const char *) tlens->data + 4 * i, 4);
			ids[i] = idbuf + off;
			off += lens[i];
		}
	}

	for (v = 0; v < (int) (sizeof variants / sizeof variants[0]); v++)
	{
		char		path[256], what[300];
		sc_model   *m;
		st_file    *ex;
		float	   *img_out, *txt_out, *one;
		float	   *imgs = malloc(images->nbytes);
		int			D, cancel_left;

		snprintf(path, sizeof path, FIX "%s.safetensors", variants[v]);
		m = sc_model_load(path, 0, err, sizeof err);
		CHECK(m != NULL, "load %s: %s", path, err);
		snprintf(path, sizeof path, FIX "%s.expected.safetensors", variants[v]);
		ex = st_open(path, err, sizeof err);
		CHECK(ex != NULL, "load %s: %s", path, err);
		if (!m || !ex)
		{
			free(imgs);
			sc_model_free(m);
			st_close(ex);
			continue;
		}
		CHECK(m->bpe && strncmp(m->bpe, "#version", 8) == 0, "bpe metadata exposed");
		CHECK((m->cfg.sparse_dim > 0) == (m->concepts != NULL), "concepts metadata exposed");
		D = sc_model_output_dim(m);
		memcpy(imgs, images->data, images->nbytes);
		img_out = malloc(sizeof(float) * nimg * D);
		txt_out = malloc(sizeof(float) * ntxt * D);
		one = malloc(sizeof(float) * D);

		CHECK(sc_encode_images(m, &ws, imgs, nimg, img_out, NULL, NULL, err, sizeof err) == 0,
			  "encode images: %s", err);
		snprintf(what, sizeof what, "%s images", variants[v]);
		compare(what, img_out, st_find(ex, "image_out"), nimg, D);
		CHECK(sc_encode_texts(m, &ws, ids, lens, ntxt, txt_out, NULL, NULL, err, sizeof err) == 0,
			  "encode texts: %s", err);
		snprintf(what, sizeof what, "%s texts", variants[v]);
		compare(what, txt_out, st_find(ex, "text_out"), ntxt, D);

		/* one at a time gives the same as the batch */
		for (i = 0; i < nimg; i++)
		{
			int			j;
			double		md = 0;

			sc_encode_images(m, &ws, imgs + (size_t) i * 3 * 32 * 32, 1, one, NULL, NULL, err, sizeof err);
			for (j = 0; j < D; j++)
				md = fmax(md, fabs(one[j] - img_out[(size_t) i * D + j]));
			CHECK(md <= 1e-5, "%s image %d alone differs by %g", variants[v], i, md);
		}
		for (i = 0; i < ntxt; i++)
		{
			int			j;
			double		md = 0;

			sc_encode_texts(m, &ws, &ids[i], &lens[i], 1, one, NULL, NULL, err, sizeof err);
			for (j = 0; j < D; j++)
				md = fmax(md, fabs(one[j] - txt_out[(size_t) i * D + j]));
			CHECK(md <= 1e-5, "%s text %d alone differs by %g", variants[v], i, md);
		}

		/* the callback can cancel; the workspace stays usable afterwards */
		cancel_left = 2;
		CHECK(sc_encode_images(m, &ws, imgs, nimg, img_out, cancel_after, &cancel_left, err, sizeof err) == -1 &&
			  strcmp(err, "cancelled") == 0, "cancel images: %s", err);
		cancel_left = 2;
		CHECK(sc_encode_texts(m, &ws, ids, lens, ntxt, txt_out, cancel_after, &cancel_left, err, sizeof err) == -1 &&
			  strcmp(err, "cancelled") == 0, "cancel texts: %s", err);
		cancel_left = 1000;
		CHECK(sc_encode_texts(m, &ws, ids, lens, ntxt, txt_out, cancel_after, &cancel_left, err, sizeof err) == 0,
			  "callback that goes on: %s", err);
		CHECK(cancel_left < 1000 - m->cfg.text_layers, "callback called between layers (%d calls)", 1000 - cancel_left);
		snprintf(what, sizeof what, "%s texts after cancel", variants[v]);
		compare(what, txt_out, st_find(ex, "text_out"), ntxt, D);

		/* bad inputs: a clear error, nothing written past the output */
		{
			int32_t		bad_ids[2] = {1, 600};
			const int32_t *bp = bad_ids;
			int			two = 2, zero = 0, big = 17;

			CHECK(sc_encode_texts(m, &ws, &bp, &two, 1, one, NULL, NULL, err, sizeof err) == -1 &&
				  strstr(err, "outside the vocabulary"), "bad id: %s", err);
			CHECK(sc_encode_texts(m, &ws, &bp, &zero, 1, one, NULL, NULL, err, sizeof err) == -1 &&
				  strstr(err, "tokens"), "empty text: %s", err);
			CHECK(sc_encode_texts(m, &ws, &bp, &big, 1, one, NULL, NULL, err, sizeof err) == -1 &&
				  strstr(err, "tokens"), "too long: %s", err);
			CHECK(sc_encode_images(m, &ws, imgs, 0, one, NULL, NULL, err, sizeof err) == 0, "zero images");
		}

		/* the same model copied into one flat buffer encodes the same */
		{
			sc_model   *mc;

			snprintf(path, sizeof path, FIX "%s.safetensors", variants[v]);
			mc = sc_model_load(path, SC_LOAD_COPY, err, sizeof err);
			CHECK(mc && mc->flat && mc->file == NULL, "copy load: %s", err);
			if (mc)
			{
				float	   *o2 = malloc(sizeof(float) * nimg * D);

				sc_encode_images(mc, &ws, imgs, nimg, o2, NULL, NULL, err, sizeof err);
				snprintf(what, sizeof what, "%s images (flat copy)", variants[v]);
				compare(what, o2, st_find(ex, "image_out"), nimg, D);
				free(o2);
				sc_model_free(mc);
			}
		}
		free(imgs);
		free(img_out);
		free(txt_out);
		free(one);
		sc_model_free(m);
		st_close(ex);
	}
	sc_workspace_free(&ws);
	st_close(in);
	return unit_done("test_model_parity");
}
