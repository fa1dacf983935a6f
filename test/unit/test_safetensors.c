/*
 * test_safetensors.c - the safetensors reader refuses every inconsistent
 * file with a clear message (no crash), the writer round-trips, and the
 * model loader checks the config against the tensors.
 */
#include "unit.h"
#include "model.h"
#include "safetensors.h"

#include <stdint.h>
#include <unistd.h>

/* A file image: 8-byte length, the header text, then ndata bytes of data. */
static unsigned char *
image(const char *header, size_t ndata, size_t *len)
{
	uint64_t	h = strlen(header);
	unsigned char *b = calloc(1, 8 + h + ndata);
	size_t		i;

	memcpy(b, &h, 8);
	memcpy(b + 8, header, h);
	for (i = 0; i < ndata; i++)
		b[8 + h + i] = (unsigned char) i;
	*len = 8 + h + ndata;
	return b;
}

static void
expect_bad(const char *header, size_t ndata, const char *msg)
{
	size_t		len;
	unsigned char *b = image(header, ndata, &len);
	char		err[512] = "";
	st_file    *f = st_open_memory(b, len, err, sizeof err);

	CHECK(f == NULL, "accepted: %s", header);
	CHECK(strstr(err, msg) != NULL, "header %s: message \"%s\" lacks \"%s\"", header, err, msg);
	st_close(f);
	free(b);
}

static void
write_file(const char *path, const void *b, size_t len)
{
	FILE	   *f = fopen(path, "wb");

	fwrite(b, 1, len, f);
	fclose(f);
}

/* Save m, then check that loading it fails with msg in the error. */
static void
expect_model_bad(const char *path, const char *msg, const char *what)
{
	char		err[512] = "";
	sc_model   *m = sc_model_load(path, 0, err, sizeof err);

	CHECK(m == NULL, "%s: model accepted", what);
	CHECK(strstr(err, msg) != NULL, "%s: message \"%s\" lacks \"%s\"", what, err, msg);
	sc_model_free(m);
}

int
main(void)
{
	char		err[512];
	char		path[64], path2[80];
	size_t		len;
	unsigned char *b;
	st_file    *f;
	int			fd;

	strcpy(path, "/tmp/test_st_XXXXXX");
	fd = mkstemp(path);
	close(fd);
	snprintf(path2, sizeof path2, "%s.2", path);

	/* a valid file with every supported dtype decodes */
	b = image("{\"__metadata__\":{\"k\":\"v\\n\\u00e9\"},\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
			  "\"b\":{\"dtype\":\"F16\",\"shape\":[],\"data_offsets\":[8,10]},"
			  "\"e\":{\"dtype\":\"U8\",\"shape\":[0,3],\"data_offsets\":[10,10]},"
			  "\"c\":{\"dtype\":\"BF16\",\"shape\":[1,1],\"data_offsets\":[10,12]}}", 12, &len);
	f = st_open_memory(b, len, err, sizeof err);
	CHECK(f != NULL, "valid file: %s", err);
	if (f)
	{
		CHECK(f->ntensors == 4, "4 tensors");
		CHECK(st_find(f, "a") && st_find(f, "a")->numel == 2 && st_find(f, "a")->nbytes == 8, "a");
		CHECK(st_find(f, "b") && st_find(f, "b")->ndim == 0 && st_find(f, "b")->numel == 1, "scalar b");
		CHECK(st_find(f, "e") && st_find(f, "e")->numel == 0, "empty e");
		CHECK(st_find(f, "zz") == NULL, "no zz");
		CHECK(st_metadata(f, "k") && strcmp(st_metadata(f, "k"), "v\n\xc3\xa9") == 0, "metadata");
		CHECK(st_metadata(f, "x") == NULL, "no metadata x");
	}
	st_close(f);
	free(b);

	/* header length problems */
	b = image("{}", 0, &len);
	f = st_open_memory(b, 5, err, sizeof err);
	CHECK(f == NULL && strstr(err, "too short"), "5-byte file: %s", err);
	memset(b, 0xff, 8);
	f = st_open_memory(b, len, err, sizeof err);
	CHECK(f == NULL && strstr(err, "header length"), "huge header length: %s", err);
	memset(b, 0, 8);
	b[0] = 1;
	f = st_open_memory(b, len, err, sizeof err);
	CHECK(f == NULL && strstr(err, "header length 1"), "header length 1: %s", err);
	b[0] = 200;
	f = st_open_memory(b, len, err, sizeof err);
	CHECK(f == NULL && strstr(err, "header length 200"), "header past the end: %s", err);
	free(b);
	b = image("{}", 0, &len);
	f = st_open_memory(b, len, err, sizeof err);
	CHECK(f != NULL && f->ntensors == 0, "empty header: %s", err);
	st_close(f);
	free(b);

	/* structure */
	expect_bad("[1]", 0, "not an object");
	expect_bad("{\"a\":1}", 0, "not an object");
	expect_bad("{\"a\":{\"dtype\":\"F32\"}}", 0, "needs a string");
	expect_bad("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4],\"x\":1}}", 4, "unexpected fields");
	expect_bad("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]", 4, "bad header");
	expect_bad("{\"__metadata__\":{\"k\":1}}", 0, "not a string");
	expect_bad("{\"__metadata__\":[]}", 0, "__metadata__ is not an object");
	expect_bad("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},"
			   "\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}", 8, "duplicate key");
	/* dtype */
	expect_bad("{\"a\":{\"dtype\":\"F8\",\"shape\":[1],\"data_offsets\":[0,1]}}", 1, "unknown dtype \"F8\"");
	expect_bad("{\"a\":{\"dtype\":\"f32\",\"shape\":[1],\"data_offsets\":[0,4]}}", 4, "unknown dtype");
	/* shape */
	expect_bad("{\"a\":{\"dtype\":\"F32\",\"shape\":[-1],\"data_offsets\":[0,4]}}", 4, "non-negative integer");
	expect_bad("{\"a\":{\"dtype\":\"F32\",\"shape\":[1.5],\"data_offsets\":[0,4]}}", 4, "non-negative integer");
	expect_bad("{\"a\":{\"dtype\":\"F32\",\"shape\":[1,1,1,1,1,1,1,1,1],\"data_offsets\":[0,4]}}", 4, "dimensions");
	expect_bad("{\"a\":{\"dtype\":\"F32\",\"shape\":[4294967296,4294967296,4294967296],\"data_offsets\":[0,4]}}", 4,
			   "larger than the file");
	expect_bad("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,4]}}", 4, "has 4 bytes but its shape and dtype F32 need 8");
	expect_bad("{\"a\":{\"dtype\":\"F16\",\"shape\":[3],\"data_offsets\":[0,4]}}", 4, "need 6");
	/* offsets */
	expect_bad("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,8]}}", 4, "out of range");
	expect_bad("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,0]}}", 4, "out of range");
	expect_bad("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[-4,0]}}", 4, "out of range");
	expect_bad("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0]}}", 4, "two integers");
	expect_bad("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},"
			   "\"b\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[2,6]}}", 8, "overlaps");
	expect_bad("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},"
			   "\"b\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[8,12]}}", 12, "hole");
	expect_bad("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}", 6, "2 bytes after the last tensor");

	/* truncated file on disk */
	b = image("{\"a\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[0,16]}}", 16, &len);
	write_file(path, b, len - 3);
	f = st_open(path, err, sizeof err);
	CHECK(f == NULL && strstr(err, "out of range"), "truncated file: %s", err);
	write_file(path, b, 6);
	f = st_open(path, err, sizeof err);
	CHECK(f == NULL && strstr(err, "too short"), "truncated to 6 bytes: %s", err);
	write_file(path, b, 0);
	f = st_open(path, err, sizeof err);
	CHECK(f == NULL && strstr(err, "too short"), "empty file: %s", err);
	write_file(path, b, len);
	f = st_open(path, err, sizeof err);
	CHECK(f != NULL, "whole file: %s", err);
	st_close(f);
	free(b);
	f = st_open("/nonexistent/x.safetensors", err, sizeof err);
	CHECK(f == NULL && strstr(err, "cannot open"), "missing file: %s", err);
	f = st_open("/tmp", err, sizeof err);
	CHECK(f == NULL && strstr(err, "not a regular file"), "directory: %s", err);

	/* half precision conversions */
	CHECK(st_f16_to_float(0x3C00) == 1.0f && st_f16_to_float(0xC000) == -2.0f, "f16 1, -2");
	CHECK(st_f16_to_float(0x0001) == 5.9604644775390625e-8f, "f16 smallest subnormal");
	CHECK(st_f16_to_float(0x7BFF) == 65504.0f, "f16 max");
	CHECK(isinf(st_f16_to_float(0x7C00)) && isnan(st_f16_to_float(0x7E00)), "f16 inf nan");
	CHECK(st_bf16_to_float(0x3F80) == 1.0f && st_bf16_to_float(0xC0A0) == -5.0f, "bf16");
	{
		uint32_t	h;
		int			bad = 0;

		/* every finite half survives float and back */
		for (h = 0; h < 0x10000; h++)
			if ((h & 0x7C00) != 0x7C00 && st_float_to_f16(st_f16_to_float((uint16_t) h)) != h)
				bad++;
		CHECK(bad == 0, "%d halves do not round-trip", bad);
		CHECK(st_float_to_f16(1.0f + 1.0f / 2048) == 0x3C00, "tie to even down");
		CHECK(st_float_to_f16(1.0f + 3.0f / 2048) == 0x3C02, "tie to even up");
		CHECK(st_float_to_f16(1e6f) == 0x7C00, "overflow to inf");
		CHECK(st_float_to_bf16(1.0f) == 0x3F80, "bf16 from 1");
	}

	/* writer round trip with metadata that needs escaping */
	{
		float		x[6] = {1, 2, 3, 4, 5, 6.5f}, s = 7;
		st_write_tensor wt[2] = {{"x.weight", 2, {2, 3}, x}, {"s", 0, {0}, &s}};
		const char *keys[1] = {"m"};
		const char *vals[1] = {"quote \" backslash \\ tab \t newline \n \xc3\xa9"};

		CHECK(st_write(path, wt, 2, keys, vals, 1, err, sizeof err) == 0, "write: %s", err);
		f = st_open(path, err, sizeof err);
		CHECK(f != NULL, "read back: %s", err);
		if (f)
		{
			const st_tensor *t = st_find(f, "x.weight");
			float		y[6];
			uint64_t	hl;

			CHECK(t && t->dtype == ST_F32 && t->ndim == 2 && t->shape[1] == 3, "shape back");
			CHECK(t && st_to_float(t, y) == 0 && memcmp(x, y, sizeof x) == 0, "data back");
			CHECK(st_find(f, "s") && *(const float *) st_find(f, "s")->data == 7.0f, "scalar back");
			CHECK(st_metadata(f, "m") && strcmp(st_metadata(f, "m"), vals[0]) == 0, "metadata back");
			memcpy(&hl, f->map, 8);
			CHECK(hl % 8 == 0, "header padded to 8");
			CHECK(((uintptr_t) t->data) % 8 == 0, "data aligned");
		}
		st_close(f);
		CHECK(st_write("/nonexistent/dir/x", wt, 2, NULL, NULL, 0, err, sizeof err) == -1 &&
			  strstr(err, "cannot create"), "write to a bad path: %s", err);
	}

	/* model loader: config against tensors */
	{
		sc_config	cfg;
		sc_model   *m, *m2;
		char	   *j;

		/* presets are valid; sizes out of range are refused */
		CHECK(sc_config_preset("ViT-B/32", &cfg) == 0 && sc_config_check(&cfg, err, sizeof err) == 0, "ViT-B/32: %s", err);
		CHECK(sc_config_preset("nope", &cfg) == -1, "unknown preset");
		sc_config_preset("tiny", &cfg);
		CHECK(sc_config_check(&cfg, err, sizeof err) == 0, "tiny: %s", err);
		cfg.context_length = 5000;
		CHECK(sc_config_check(&cfg, err, sizeof err) == -1 && strstr(err, "supported range"), "context 5000: %s", err);
		cfg.context_length = 32;
		cfg.patch_size = 7;
		CHECK(sc_config_check(&cfg, err, sizeof err) == -1 && strstr(err, "not a multiple"), "patch 7: %s", err);
		cfg.patch_size = 0;
		CHECK(sc_config_check(&cfg, err, sizeof err) == -1 && strstr(err, "patch_size"), "patch 0: %s", err);
		sc_config_preset("tiny", &cfg);
		cfg.image_size = 16;
		cfg.vision_width = 16;
		cfg.vision_layers = 2;
		cfg.vision_heads = 2;
		cfg.context_length = 8;
		cfg.vocab_size = 50;
		cfg.text_width = 16;
		cfg.text_layers = 1;
		cfg.text_heads = 2;
		cfg.embed_dim = 8;
		cfg.sparse_dim = 12;
		m = sc_model_random(&cfg, 42, err, sizeof err);
		CHECK(m != NULL, "random: %s", err);
		if (!m)
			return unit_done("test_safetensors");
		CHECK(sc_model_save(m, path, "#version: 0.2\na b\n", "[]", err, sizeof err) == 0, "save: %s", err);
		m2 = sc_model_load(path, 0, err, sizeof err);
		CHECK(m2 != NULL, "load saved: %s", err);
		if (m2)
		{
			CHECK(memcmp(&m2->cfg, &m->cfg, sizeof cfg) == 0, "config round trip");
			CHECK(memcmp(m2->p.sparse_text, m->p.sparse_text, 12 * 8 * sizeof(float)) == 0, "weights round trip");
			CHECK(m2->owned == NULL, "aligned F32 used in place");
		}
		sc_model_free(m2);

		/* a TopK head's k travels in the config; a ReLU head's config omits the key */
		{
			char	   *js = sc_config_to_json(&m->cfg);

			CHECK(js && !strstr(js, "sparse_topk"), "no sparse_topk key for a ReLU head");
			free(js);
			m->cfg.sparse_topk = 5;
			CHECK(sc_model_save(m, path, "#version: 0.2\na b\n", "[]", err, sizeof err) == 0, "save topk: %s", err);
			m2 = sc_model_load(path, 0, err, sizeof err);
			CHECK(m2 && m2->cfg.sparse_topk == 5, "sparse_topk round trip");
			sc_model_free(m2);
			m->cfg.sparse_topk = 0;
		}

		/* no bpe */
		sc_model_save(m, path, NULL, NULL, err, sizeof err);
		expect_model_bad(path, "sparseclip.bpe", "no bpe");

		/* the same tensors under configs that do not match them */
		{
			sc_param_info *list;
			size_t		n, i;
			st_write_tensor *wt;
			const char *keys[2] = {"sparseclip.config", "sparseclip.bpe"};
			const char *vals[2];

			n = sc_param_list(m, NULL, 0);
			list = malloc(n * sizeof *list);
			wt = calloc(n, sizeof *wt);
			sc_param_list(m, list, n);
			for (i = 0; i < n; i++)
			{
				wt[i].name = list[i].name;
				wt[i].ndim = list[i].ndim;
				memcpy(wt[i].shape, list[i].shape, sizeof list[i].shape);
				wt[i].data = *list[i].slot;
			}
			vals[1] = "#version: 0.2\n";

			cfg = m->cfg;
			cfg.vision_layers = 3;
			j = sc_config_to_json(&cfg);
			vals[0] = j;
			st_write(path, wt, n, keys, vals, 2, err, sizeof err);
			expect_model_bad(path, "missing tensor \"visual.transformer.resblocks.2.ln_1.weight\"", "3 layers");
			free(j);

			cfg = m->cfg;
			cfg.vision_layers = 1;
			j = sc_config_to_json(&cfg);
			vals[0] = j;
			st_write(path, wt, n, keys, vals, 2, err, sizeof err);
			expect_model_bad(path, "unexpected tensor \"visual.transformer.resblocks.1", "1 layer");
			free(j);

			cfg = m->cfg;
			cfg.embed_dim = 9;
			j = sc_config_to_json(&cfg);
			vals[0] = j;
			st_write(path, wt, n, keys, vals, 2, err, sizeof err);
			expect_model_bad(path, "has shape [16, 8] but the config implies [16, 9]", "embed_dim");
			free(j);

			cfg = m->cfg;
			cfg.sparse_dim = 0;
			j = sc_config_to_json(&cfg);
			vals[0] = j;
			st_write(path, wt, n, keys, vals, 2, err, sizeof err);
			expect_model_bad(path, "sparse_dim is 0", "sparse tensors in a dense config");
			free(j);

			cfg = m->cfg;
			cfg.sparse_topk = cfg.sparse_dim;
			j = sc_config_to_json(&cfg);
			vals[0] = j;
			st_write(path, wt, n, keys, vals, 2, err, sizeof err);
			expect_model_bad(path, "sparse_topk must be 0 or between 1 and sparse_dim - 1", "topk = sparse_dim");
			free(j);

			cfg = m->cfg;
			cfg.vision_heads = 3;
			j = sc_config_to_json(&cfg);
			vals[0] = j;
			st_write(path, wt, n, keys, vals, 2, err, sizeof err);
			expect_model_bad(path, "multiples of the head counts", "heads");
			free(j);

			vals[0] = "{\"image_size\": 16}";
			st_write(path, wt, n, keys, vals, 2, err, sizeof err);
			expect_model_bad(path, "missing key \"patch_size\"", "partial config");
			vals[0] = "{\"image_size\": 16";
			st_write(path, wt, n, keys, vals, 2, err, sizeof err);
			expect_model_bad(path, "model config: JSON error", "config syntax");
			j = sc_config_to_json(&m->cfg);
			j[strlen(j) - 1] = '\0';
			{
				char	   *j2 = malloc(strlen(j) + 32);

				sprintf(j2, "%s, \"extra\": 1}", j);
				vals[0] = j2;
				st_write(path, wt, n, keys, vals, 2, err, sizeof err);
				expect_model_bad(path, "unknown key \"extra\"", "unknown config key");
				free(j2);
			}
			free(j);
			st_write(path, wt, n, keys + 1, vals + 1, 1, err, sizeof err);
			expect_model_bad(path, "no \"sparseclip.config\"", "no config");

			/* missing one tensor of the set */
			j = sc_config_to_json(&m->cfg);
			vals[0] = j;
			st_write(path, wt + 1, n - 1, keys, vals, 2, err, sizeof err);
			expect_model_bad(path, "missing tensor \"visual.conv1.weight\"", "no conv1");
			free(j);
			free(list);
			free(wt);
		}

		/* a NaN weight is refused */
		m->p.ln_final_b[3] = NAN;
		sc_model_save(m, path, "#version: 0.2\n", NULL, err, sizeof err);
		expect_model_bad(path, "tensor \"ln_final.bias\" holds 1 infinite or NaN values", "NaN weight");
		m->p.ln_final_b[3] = 0.0f;

		/* random corruption of a valid file: refused or loaded, never a fault */
		{
			FILE	   *fp;
			long		flen;
			unsigned char *orig, *mut;
			int			k, loaded = 0, refused = 0;
			unsigned	seed = 7;

			sc_model_save(m, path, "#version: 0.2\n", NULL, err, sizeof err);
			fp = fopen(path, "rb");
			fseek(fp, 0, SEEK_END);
			flen = ftell(fp);
			fseek(fp, 0, SEEK_SET);
			orig = malloc((size_t) flen);
			mut = malloc((size_t) flen);
			CHECK(fread(orig, 1, (size_t) flen, fp) == (size_t) flen, "read model");
			fclose(fp);
			for (k = 0; k < 3000; k++)
			{
				int			nflip = 1 + k % 4, j;
				size_t		len = (size_t) flen;
				uint64_t	hl;
				sc_model   *mm;

				memcpy(mut, orig, (size_t) flen);
				memcpy(&hl, orig, 8);
				for (j = 0; j < nflip; j++)
				{
					size_t		pos;

					seed = seed * 1103515245u + 12345u;
					/* mostly the header, sometimes anywhere */
					pos = (k % 5 == 0) ? (seed >> 4) % (size_t) flen : (seed >> 4) % (size_t) (hl + 8);
					seed = seed * 1103515245u + 12345u;
					mut[pos] = (unsigned char) (seed >> 16);
				}
				if (k % 7 == 0)
					len = (seed >> 3) % (size_t) flen;	/* truncated */
				mm = sc_model_load_memory(mut, len, 0, err, sizeof err);
				if (mm)
					loaded++;
				else
				{
					refused++;
					if (err[0] == '\0')
						CHECK(0, "refused without a message");
				}
				sc_model_free(mm);
			}
			printf("corruption: %d loaded, %d refused\n", loaded, refused);
			CHECK(refused > 1000, "most corruptions refused (%d)", refused);
			free(orig);
			free(mut);
		}

		/* a parameter of an integer dtype */
		{
			st_file    *sf;
			unsigned char *copy;
			char	   *hdr;
			char	   *pos;
			FILE	   *fp;
			long		flen;

			sc_model_save(m, path, "#version: 0.2\n", NULL, err, sizeof err);
			fp = fopen(path, "rb");
			fseek(fp, 0, SEEK_END);
			flen = ftell(fp);
			fseek(fp, 0, SEEK_SET);
			copy = malloc((size_t) flen);
			CHECK(fread(copy, 1, (size_t) flen, fp) == (size_t) flen, "read back");
			fclose(fp);
			hdr = (char *) copy + 8;
			pos = strstr(hdr, "\"logit_scale\":{\"dtype\":\"F32\"");
			CHECK(pos != NULL, "logit_scale in header");
			if (pos)
			{
				memcpy(pos + strlen("\"logit_scale\":{\"dtype\":\""), "I32", 3);
				write_file(path2, copy, (size_t) flen);
				sf = st_open(path2, err, sizeof err);
				CHECK(sf != NULL, "I32 file is valid safetensors: %s", err);
				st_close(sf);
				expect_model_bad(path2, "dtype I32; F32, F16 or BF16 expected", "int dtype");
			}
			free(copy);
		}
		sc_model_free(m);
	}
	unlink(path);
	unlink(path2);
	return unit_done("test_safetensors");
}
