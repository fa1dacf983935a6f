/*
 * test_convert.c - st_rewrite_as, what sparseclip-convert does: float
 * tensors to F16/BF16/F32 with exact rounding (nearest even, F16
 * subnormals), overflow refused without leaving a file, other tensors and
 * every metadata value kept byte for byte, --meta keys set in place; and a
 * random model converted to F16 encodes texts and images like the F32 one.
 */
#include "unit.h"
#include "model.h"
#include "safetensors.h"

#include <stdint.h>
#include <sys/stat.h>
#include <unistd.h>

static int
exists(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0;
}

static uint16_t
u16_at(const st_tensor *t, int i)
{
	uint16_t	h;

	memcpy(&h, (const unsigned char *) t->data + 2 * i, 2);
	return h;
}

static double
cosine(const float *a, const float *b, int n)
{
	double		ab = 0, aa = 0, bb = 0;

	for (int i = 0; i < n; i++)
	{
		ab += (double) a[i] * b[i];
		aa += (double) a[i] * a[i];
		bb += (double) b[i] * b[i];
	}
	return ab / sqrt(aa * bb);
}

/* Values whose F16 and BF16 bits are known (round to nearest even). */
static const float vals[] = {
	1.0f, -2.5f, 65504.0f, 65519.0f,	/* 65519 rounds down to 65504 in F16 */
	1.0f + 1.0f / 2048,			/* tie: F16 to even, 1.0 */
	1.0f + 3.0f / 2048,			/* tie: F16 to even, 1 + 2^-9 */
	5.9604645e-08f,				/* 2^-24, the smallest F16 subnormal */
	1.0e-6f,					/* an F16 subnormal */
	2.9802322e-08f,				/* 2^-25, a tie between 0 and 2^-24: zero */
	1.0e-9f,					/* below F16's range: zero */
	0.0f, -0.0f,
	1.0f + 1.0f / 256,			/* tie: BF16 to even, 1.0 */
};
#define NVALS (sizeof(vals) / sizeof(vals[0]))
static const uint16_t f16_bits[NVALS] = {
	0x3C00, 0xC100, 0x7BFF, 0x7BFF, 0x3C00, 0x3C02, 0x0001, 0x0011, 0x0000, 0x0000, 0x0000, 0x8000, 0x3C04,
};
static const uint16_t bf16_bits[NVALS] = {
	0x3F80, 0xC020, 0x4780, 0x4780, 0x3F80, 0x3F80, 0x3380, 0x3586, 0x3300, 0x3089, 0x0000, 0x8000, 0x3F80,
};

int
main(void)
{
	char		err[512];
	char		dir[64], in[96], out[96], out2[96];
	float		fv[NVALS];
	float		special[2] = {INFINITY, NAN};
	int32_t		ints[3] = {7, -1, 123456};
	st_write_tensor wt[2];
	const char *mk[3] = {"z.first", "sparseclip.concepts", "k\"q"};
	const char *mv[3] = {"1", "[\"snow\", [\"dog\",\"puppy\"], null]", "caf\xc3\xa9 \"quoted\"\n\\"};
	st_file    *src, *f;
	st_convert_stats stats;

	strcpy(dir, "/tmp/test_convert_XXXXXX");
	CHECK(mkdtemp(dir) != NULL, "mkdtemp");
	snprintf(in, sizeof in, "%s/in.safetensors", dir);
	snprintf(out, sizeof out, "%s/out.safetensors", dir);
	snprintf(out2, sizeof out2, "%s/out2.safetensors", dir);

	memcpy(fv, vals, sizeof fv);
	wt[0] = (st_write_tensor) {"w", 1, {NVALS}, fv};
	wt[1] = (st_write_tensor) {"s", 1, {2}, special};
	CHECK(st_write(in, wt, 2, mk, mv, 3, err, sizeof err) == 0, "write: %s", err);
	src = st_open(in, err, sizeof err);
	CHECK(src != NULL, "open: %s", err);

	/* F16 */
	CHECK(st_rewrite_as(src, out, ST_F16, NULL, NULL, 0, &stats, err, sizeof err) == 0, "to F16: %s", err);
	f = st_open(out, err, sizeof err);
	CHECK(f != NULL, "open F16: %s", err);
	if (f)
	{
		const st_tensor *w = st_find(f, "w"), *s = st_find(f, "s");

		CHECK(w && w->dtype == ST_F16 && w->numel == (int64_t) NVALS && w->nbytes == 2 * NVALS, "w is F16");
		for (int i = 0; w && i < (int) NVALS; i++)
			CHECK(u16_at(w, i) == f16_bits[i], "F16 of %.9g: 0x%04x, expected 0x%04x", vals[i], u16_at(w, i),
				  f16_bits[i]);
		CHECK(s && s->dtype == ST_F16 && u16_at(s, 0) == 0x7C00 && (u16_at(s, 1) & 0x7C00) == 0x7C00 &&
			  (u16_at(s, 1) & 0x3FF) != 0, "inf and nan stay inf and nan");
		CHECK(f->nmeta == 3, "3 metadata keys");
		for (int i = 0; i < 3 && (size_t) i < f->nmeta; i++)
			CHECK(strcmp(f->meta_keys[i], mk[i]) == 0 && strcmp(f->meta_values[i], mv[i]) == 0,
				  "metadata %d kept in order, byte for byte", i);
		CHECK(f->tensors[0].name && strcmp(f->tensors[0].name, "w") == 0, "tensor order kept");
	}
	st_close(f);
	CHECK(stats.tensors == 2 && stats.values == NVALS + 2, "stats: %zu tensors, %llu values", stats.tensors,
		  (unsigned long long) stats.values);
	CHECK(stats.underflow == 2, "2 values underflow to zero: %llu", (unsigned long long) stats.underflow);
	CHECK(stats.subnormal == 2, "2 subnormals: %llu", (unsigned long long) stats.subnormal);

	/* BF16, and back to F32 from it: exact */
	CHECK(st_rewrite_as(src, out, ST_BF16, NULL, NULL, 0, &stats, err, sizeof err) == 0, "to BF16: %s", err);
	f = st_open(out, err, sizeof err);
	if (f)
	{
		const st_tensor *w = st_find(f, "w");

		for (int i = 0; w && i < (int) NVALS; i++)
			CHECK(u16_at(w, i) == bf16_bits[i], "BF16 of %.9g: 0x%04x, expected 0x%04x", vals[i], u16_at(w, i),
				  bf16_bits[i]);
		CHECK(st_rewrite_as(f, out2, ST_F32, NULL, NULL, 0, NULL, err, sizeof err) == 0, "BF16 to F32: %s", err);
	}
	{
		st_file    *g = st_open(out2, err, sizeof err);
		const st_tensor *w = g ? st_find(g, "w") : NULL;

		CHECK(w && w->dtype == ST_F32, "back to F32");
		for (int i = 0; w && f && i < (int) NVALS; i++)
		{
			float		x;

			memcpy(&x, (const unsigned char *) w->data + 4 * i, 4);
			CHECK(x == st_bf16_to_float(bf16_bits[i]), "F32 of BF16 exact");
		}
		st_close(g);
	}
	st_close(f);

	/* metadata: replaced in place, added at the end, removed; the last of a repeated key wins */
	{
		const char *k[4] = {"sparseclip.concepts", "new.key", "z.first", "new.key"};
		const char *v[4] = {"[]", "a", NULL, "b"};

		CHECK(st_rewrite_as(src, out, ST_F16, k, v, 4, NULL, err, sizeof err) == 0, "meta: %s", err);
		f = st_open(out, err, sizeof err);
		CHECK(f && f->nmeta == 3, "3 keys after one removed and one added");
		if (f && f->nmeta == 3)
		{
			CHECK(strcmp(f->meta_keys[0], "sparseclip.concepts") == 0 && strcmp(f->meta_values[0], "[]") == 0,
				  "replaced in place");
			CHECK(strcmp(f->meta_keys[1], "k\"q") == 0 && strcmp(f->meta_values[1], mv[2]) == 0, "other kept");
			CHECK(strcmp(f->meta_keys[2], "new.key") == 0 && strcmp(f->meta_values[2], "b") == 0,
				  "new key appended once, last value");
		}
		st_close(f);
	}

	/* overflow: refused, naming the tensor; nothing left behind */
	{
		float		big[2] = {1.0f, 65520.0f};	/* rounds to infinity in F16 */
		float		huge[1] = {3.4028235e38f};	/* FLT_MAX: infinity in BF16 */
		st_write_tensor bt = {"big", 1, {2}, big};
		st_write_tensor ht = {"huge", 1, {1}, huge};
		char		bad[96];
		st_file    *b;

		snprintf(bad, sizeof bad, "%s/big.safetensors", dir);
		CHECK(st_write(bad, &bt, 1, NULL, NULL, 0, err, sizeof err) == 0, "write big");
		b = st_open(bad, err, sizeof err);
		unlink(out);
		CHECK(b && st_rewrite_as(b, out, ST_F16, NULL, NULL, 0, NULL, err, sizeof err) < 0, "65520 to F16 refused");
		CHECK(strstr(err, "tensor \"big\" element 1 (65520) is too large for F16") != NULL, "message: %s", err);
		CHECK(!exists(out), "no output file after a refusal");
		CHECK(b && st_rewrite_as(b, out, ST_BF16, NULL, NULL, 0, NULL, err, sizeof err) == 0, "65520 fits BF16");
		st_close(b);
		CHECK(st_write(bad, &ht, 1, NULL, NULL, 0, err, sizeof err) == 0, "write huge");
		b = st_open(bad, err, sizeof err);
		CHECK(b && st_rewrite_as(b, out2, ST_BF16, NULL, NULL, 0, NULL, err, sizeof err) < 0 &&
			  strstr(err, "too large for BF16"), "FLT_MAX to BF16 refused: %s", err);
		CHECK(b && st_rewrite_as(b, out2, 5, NULL, NULL, 0, NULL, err, sizeof err) < 0 &&
			  strstr(err, "F32, F16 or BF16"), "to I32 refused: %s", err);
		st_close(b);
		unlink(bad);
	}
	st_close(src);

	/* integer tensors are copied byte for byte (a file with one, by hand) */
	{
		const char *hdr = "{\"f\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},"
			"\"i\":{\"dtype\":\"I32\",\"shape\":[3],\"data_offsets\":[4,16]}}";
		uint64_t	hl = strlen(hdr);
		unsigned char buf[512];
		float		one = 1.5f;

		memcpy(buf, &hl, 8);
		memcpy(buf + 8, hdr, hl);
		memcpy(buf + 8 + hl, &one, 4);
		memcpy(buf + 12 + hl, ints, 12);
		src = st_open_memory(buf, 8 + hl + 16, err, sizeof err);
		CHECK(src && st_rewrite_as(src, out, ST_F16, NULL, NULL, 0, NULL, err, sizeof err) == 0, "ints: %s", err);
		f = st_open(out, err, sizeof err);
		CHECK(f && st_find(f, "i") && st_find(f, "i")->dtype == ST_I32 &&
			  memcmp(st_find(f, "i")->data, ints, 12) == 0, "I32 tensor unchanged");
		CHECK(f && st_find(f, "f") && st_find(f, "f")->dtype == ST_F16 && u16_at(st_find(f, "f"), 0) == 0x3E00,
			  "F32 tensor converted");
		st_close(f);
		st_close(src);
	}

	/* a random sparse model: F16 encodes like F32 */
	{
		const char *cfgjson = "{\"image_size\":32,\"patch_size\":8,\"vision_width\":64,\"vision_layers\":2,"
			"\"vision_heads\":2,\"context_length\":16,\"vocab_size\":600,\"text_width\":64,\"text_layers\":2,"
			"\"text_heads\":2,\"embed_dim\":32,\"sparse_dim\":512,\"activation\":\"gelu\","
			"\"image_mean\":[0.48145466,0.4578275,0.40821073],\"image_std\":[0.26862954,0.26130258,0.27577711]}";
		sc_config	cfg;
		sc_model   *m, *a, *b;
		sc_workspace ws = {0};
		enum { NT = 5, NI = 4 };
		int32_t		ids[NT][16];
		const int32_t *idp[NT];
		int			lens[NT];
		float	   *pix, *ea, *eb;
		size_t		npix = 3 * 32 * 32;
		uint64_t	s = 7;
		double		worst = 1;

		CHECK(sc_config_from_json(cfgjson, &cfg, err, sizeof err) == 0, "config: %s", err);
		m = sc_model_random(&cfg, 3, err, sizeof err);
		CHECK(m != NULL, "random model: %s", err);
		CHECK(m && sc_model_save(m, in, "#version: 0.2\n", "[]", err, sizeof err) == 0, "save: %s", err);
		sc_model_free(m);
		src = st_open(in, err, sizeof err);
		CHECK(src && st_rewrite_as(src, out, ST_F16, NULL, NULL, 0, NULL, err, sizeof err) == 0, "model to F16");
		st_close(src);
		a = sc_model_load(in, 0, err, sizeof err);
		b = sc_model_load(out, 0, err, sizeof err);
		CHECK(a && b, "load both: %s", err);
		if (a && b)
		{
			struct stat sa, sb;

			CHECK(stat(in, &sa) == 0 && stat(out, &sb) == 0 && sb.st_size < sa.st_size * 55 / 100,
				  "F16 file about half the F32 one");
			for (int t = 0; t < NT; t++)
			{
				lens[t] = 4 + 2 * t;
				for (int j = 0; j < lens[t]; j++)
				{
					s = s * 6364136223846793005ULL + 1442695040888963407ULL;
					ids[t][j] = (int32_t) ((s >> 33) % 598);
				}
				ids[t][lens[t] - 1] = 599;	/* the largest id ends the text */
				idp[t] = ids[t];
			}
			pix = malloc(sizeof(float) * npix * NI);
			ea = malloc(sizeof(float) * 512 * (NT + NI));
			eb = malloc(sizeof(float) * 512 * (NT + NI));
			for (size_t j = 0; j < npix * NI; j++)
			{
				s = s * 6364136223846793005ULL + 1442695040888963407ULL;
				pix[j] = (float) ((double) (s >> 11) / 9007199254740992.0 * 3.4 - 1.7);
			}
			CHECK(sc_encode_texts(a, &ws, idp, lens, NT, ea, NULL, NULL, err, sizeof err) == 0 &&
				  sc_encode_texts(b, &ws, idp, lens, NT, eb, NULL, NULL, err, sizeof err) == 0, "texts: %s", err);
			CHECK(sc_encode_images(a, &ws, pix, NI, ea + NT * 512, NULL, NULL, err, sizeof err) == 0 &&
				  sc_encode_images(b, &ws, pix, NI, eb + NT * 512, NULL, NULL, err, sizeof err) == 0,
				  "images: %s", err);
			for (int i = 0; i < NT + NI; i++)
			{
				double		c = cosine(ea + i * 512, eb + i * 512, 512);

				if (c < worst)
					worst = c;
			}
			printf("random model, F16 vs F32: minimum cosine over %d texts and %d images %.7f\n", NT, NI, worst);
			CHECK(worst > 0.999, "F16 embeddings within cosine 0.999 of F32: %.7f", worst);
			CHECK(strcmp(a->bpe, b->bpe) == 0 && strcmp(a->concepts, b->concepts) == 0, "bpe and concepts kept");
			free(pix);
			free(ea);
			free(eb);
		}
		sc_model_free(a);
		sc_model_free(b);
		sc_workspace_free(&ws);
	}

	unlink(in);
	unlink(out);
	unlink(out2);
	rmdir(dir);
	return unit_done("test_convert");
}
