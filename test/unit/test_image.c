/*
 * test_image.c - JPEG, PNG and WebP decoding and CLIP preprocessing against
 * references made by torchvision/PIL (test/fixtures/gen_image_fixtures.py
 * for JPEG, gen_image_formats.py for PNG and WebP, which must match
 * exactly), plus the error cases: empty, random, truncated, corrupt,
 * unknown format, zero size, too big, cancelled.
 */
#include "unit.h"

#include <stdint.h>

#include "image.h"
#include "json.h"

#define FIXTURES "test/fixtures/image/"

static uint8_t *
read_file(const char *path, size_t *len)
{
	FILE	   *f = fopen(path, "rb");
	uint8_t    *buf = NULL;
	long		n;

	*len = 0;
	if (!f)
		return NULL;
	if (fseek(f, 0, SEEK_END) == 0 && (n = ftell(f)) >= 0 && fseek(f, 0, SEEK_SET) == 0)
	{
		buf = malloc((size_t) n + 1);
		if (buf && fread(buf, 1, (size_t) n, f) == (size_t) n)
			*len = (size_t) n;
		else
		{
			free(buf);
			buf = NULL;
		}
	}
	fclose(f);
	return buf;
}

/* CLIP's; cases.json carries the same */
static float mean3[3] = {0.48145466f, 0.4578275f, 0.40821073f};
static float std3[3] = {0.26862954f, 0.26130258f, 0.27577711f};

static void
check_case(const json_value *c, int exact)
{
	const char *jpeg_name,
			   *ref_name,
			   *mode,
			   *alpha = "drop";
	size_t		nlen,
				jlen,
				rlen,
				i,
				n;
	int64_t		size,
				width,
				height;
	char		path[512],
				err[256];
	uint8_t    *jpeg,
			   *ref;
	float	   *out;
	int			w,
				h,
				comps,
				want_comps;
	double		max_diff = 0,
				sum_diff = 0,
				max_levels = 0;

	if (json_get(c, "alpha"))
		json_get_string(json_get(c, "alpha"), &alpha, &nlen);
	if (json_get_string(json_get(c, exact ? "file" : "jpeg"), &jpeg_name, &nlen) != 0 ||
		json_get_string(json_get(c, "ref"), &ref_name, &nlen) != 0 ||
		json_get_string(json_get(c, "mode"), &mode, &nlen) != 0 ||
		json_get_int64(json_get(c, "size"), &size) != 0 ||
		json_get_int64(json_get(c, "width"), &width) != 0 ||
		json_get_int64(json_get(c, "height"), &height) != 0)
	{
		CHECK(0, "malformed case in cases.json");
		return;
	}
	snprintf(path, sizeof path, FIXTURES "%s", jpeg_name);
	jpeg = read_file(path, &jlen);
	snprintf(path, sizeof path, FIXTURES "%s", ref_name);
	ref = read_file(path, &rlen);
	n = 3 * (size_t) size * (size_t) size;
	CHECK(jpeg && ref && rlen == n * sizeof(float), "fixture %s / %s missing", jpeg_name, ref_name);
	if (!jpeg || !ref || rlen != n * sizeof(float))
	{
		free(jpeg);
		free(ref);
		return;
	}

	if (!exact)
	{
		want_comps = strcmp(mode, "L") == 0 ? 1 : (strcmp(mode, "CMYK") == 0 ? 4 : 3);
		CHECK(clip_jpeg_info(jpeg, jlen, &w, &h, &comps, err, sizeof err) == 0, "%s: %s", jpeg_name, err);
		CHECK(w == width && h == height && comps == want_comps, "%s: info %dx%d/%d, want %dx%d/%d",
			  jpeg_name, w, h, comps, (int) width, (int) height, want_comps);
	}
	else
	{
		clip_image_info info;
		int			want_alpha = strchr(mode, 'A') != NULL;

		CHECK(clip_image_info_read(jpeg, jlen, &info, err, sizeof err) == CLIP_IMAGE_OK, "%s: %s",
			  jpeg_name, err);
		CHECK(info.width == width && info.height == height, "%s: info %dx%d, want %dx%d", jpeg_name,
			  info.width, info.height, (int) width, (int) height);
		CHECK(info.format == (strstr(jpeg_name, ".png") ? CLIP_FORMAT_PNG : CLIP_FORMAT_WEBP),
			  "%s: format %s", jpeg_name, clip_image_format_name(info.format));
		/* tRNS counts as alpha too */
		CHECK(!want_alpha || info.has_alpha, "%s: mode %s without alpha", jpeg_name, mode);
	}

	out = malloc(n * sizeof(float));
	{
		clip_preprocess_opts o = {(int) size, mean3, std3, 0,
			strcmp(alpha, "white") == 0 ? CLIP_ALPHA_WHITE : CLIP_ALPHA_DROP, NULL, NULL};

		CHECK(out && clip_image_preprocess(jpeg, jlen, &o, out, err, sizeof err) == CLIP_IMAGE_OK,
			  "%s at %d: %s", jpeg_name, (int) size, err);
	}
	if (out)
	{
		for (i = 0; i < n; i++)
		{
			float		r;
			double		d;

			memcpy(&r, ref + i * sizeof(float), sizeof r);
			d = fabs((double) out[i] - r);
			sum_diff += d;
			if (d > max_diff)
				max_diff = d;
			/* in 8-bit pixel levels of the channel */
			d = d * std3[i / ((size_t) size * (size_t) size)] * 255.0;
			if (d > max_levels)
				max_levels = d;
		}
		printf("%-32s size %3d %-5s: max |diff| %.3g (%.2f pixel levels), mean %.3g\n",
			   jpeg_name, (int) size, alpha, max_diff, max_levels, sum_diff / (double) n);
		if (exact)
			CHECK(max_diff == 0.0, "%s at %d (%s): not identical to Pillow, max diff %g", jpeg_name,
				  (int) size, alpha, max_diff);
		CHECK(max_diff <= 0.02, "%s at %d: max diff %g", jpeg_name, (int) size, max_diff);
		CHECK(sum_diff / (double) n <= 1e-3, "%s at %d: mean diff %g", jpeg_name, (int) size,
			  sum_diff / (double) n);
	}
	free(out);
	free(jpeg);
	free(ref);
}

static void
test_parity_file(const char *json_path, int exact)
{
	size_t		len,
				i;
	char		err[256];
	uint8_t    *text = read_file(json_path, &len);
	json_value *root = text ? json_parse((const char *) text, len, err, sizeof err) : NULL;
	const json_value *cases;
	double		v;

	CHECK(root != NULL, "cannot read %s (run from the repository root)", json_path);
	free(text);
	if (!root)
		return;
	for (i = 0; i < 3; i++)
	{
		CHECK(json_get_number(json_at(json_get(root, "mean"), i), &v) == 0, "mean[%zu]", i);
		mean3[i] = (float) v;
		CHECK(json_get_number(json_at(json_get(root, "std"), i), &v) == 0, "std[%zu]", i);
		std3[i] = (float) v;
	}
	cases = json_get(root, "cases");
	CHECK(json_len(cases) >= 10, "only %zu cases", json_len(cases));
	for (i = 0; i < json_len(cases); i++)
		check_case(json_at(cases, i), exact);
	json_free(root);
}

static void
test_parity(void)
{
	test_parity_file(FIXTURES "cases.json", 0);
	test_parity_file(FIXTURES "formats.json", 1);
}

static void
test_sizes(void)
{
	int			w,
				h;

	clip_image_resized_size(40, 30, 24, &w, &h);
	CHECK(w == 32 && h == 24, "40x30 -> %dx%d", w, h);
	clip_image_resized_size(20, 61, 16, &w, &h);
	CHECK(w == 16 && h == 48, "20x61 -> %dx%d", w, h);	/* int(48.8) */
	clip_image_resized_size(13, 9, 24, &w, &h);
	CHECK(w == 34 && h == 24, "13x9 -> %dx%d", w, h);	/* upscaled */
	clip_image_resized_size(50, 50, 224, &w, &h);
	CHECK(w == 224 && h == 224, "50x50 -> %dx%d", w, h);
}

/* Every way the input can be wrong gives an error message, never a crash. */
static void
test_errors(void)
{
	size_t		len,
				cut,
				i;
	uint8_t    *jpeg = read_file(FIXTURES "baseline_40x30.jpg", &len);
	uint8_t    *buf;
	float	   *out = malloc(3 * 24 * 24 * sizeof(float));
	char		err[256];
	int			w,
				h,
				comps,
				ok_prefixes = 0;
	uint32_t	seed = 12345;
	static const uint8_t png[] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n', 0, 0, 0, 13};

	CHECK(jpeg && out, "baseline fixture");
	if (!jpeg || !out)
	{
		free(jpeg);
		free(out);
		return;
	}
	buf = malloc(len);

	err[0] = '\0';
	CHECK(clip_image_preprocess_jpeg(NULL, 0, 24, mean3, std3, 0, out, err, sizeof err) == -1 &&
		  err[0], "empty input accepted");
	CHECK(clip_jpeg_info((const uint8_t *) "", 0, &w, &h, &comps, err, sizeof err) == -1, "empty info");
	CHECK(clip_image_preprocess_jpeg(png, sizeof png, 24, mean3, std3, 0, out, err, sizeof err) == -1 &&
		  strstr(err, "not a JPEG") != NULL, "PNG bytes: %s", err);

	/* random bytes, with and without a JPEG start marker */
	for (i = 0; i < 200; i++)
	{
		size_t		j,
					n = 1 + i * 7 % len;

		for (j = 0; j < n; j++)
		{
			seed = seed * 1103515245u + 12345u;
			buf[j] = (uint8_t) (seed >> 16);
		}
		if (i % 2 && n >= 2)
		{
			buf[0] = 0xFF;
			buf[1] = 0xD8;
		}
		CHECK(clip_image_preprocess_jpeg(buf, n, 24, mean3, std3, 0, out, err, sizeof err) == -1,
			  "random bytes %zu accepted", i);
	}

	/* every truncation of a good file is refused; only the whole file decodes */
	for (cut = 0; cut <= len; cut++)
		if (clip_image_preprocess_jpeg(jpeg, cut, 24, mean3, std3, 0, out, err, sizeof err) == 0)
			ok_prefixes++;
	CHECK(ok_prefixes >= 1 && ok_prefixes <= 3, "%d truncated prefixes decode", ok_prefixes);
	CHECK(clip_image_preprocess_jpeg(jpeg, len / 2, 24, mean3, std3, 0, out, err, sizeof err) == -1,
		  "half a JPEG accepted");
	printf("truncated JPEG: %s\n", err);

	/* corrupted scan data */
	memcpy(buf, jpeg, len);
	for (i = len / 2; i < len - 2; i += 3)
		buf[i] = 0xFF;
	CHECK(clip_image_preprocess_jpeg(buf, len, 24, mean3, std3, 0, out, err, sizeof err) == -1,
		  "corrupt scan accepted");

	/* zero height in the frame header */
	memcpy(buf, jpeg, len);
	for (i = 2; i + 8 < len; i++)
		if (buf[i] == 0xFF && buf[i + 1] == 0xC0)
		{
			buf[i + 5] = 0;
			buf[i + 6] = 0;
			break;
		}
	CHECK(clip_image_preprocess_jpeg(buf, len, 24, mean3, std3, 0, out, err, sizeof err) == -1,
		  "zero-height JPEG accepted");
	CHECK(clip_jpeg_info(buf, len, &w, &h, &comps, err, sizeof err) == -1, "zero-height info");

	/* the pixel limit is checked before decoding */
	CHECK(clip_image_preprocess_jpeg(jpeg, len, 24, mean3, std3, 40 * 30 - 1, out, err, sizeof err) == -1 &&
		  strstr(err, "limit") != NULL, "pixel limit: %s", err);
	CHECK(clip_image_preprocess_jpeg(jpeg, len, 24, mean3, std3, 40 * 30, out, err, sizeof err) == 0,
		  "at the pixel limit: %s", err);

	/* bad arguments */
	CHECK(clip_image_preprocess_jpeg(jpeg, len, 0, mean3, std3, 0, out, err, sizeof err) == -1,
		  "image_size 0 accepted");
	CHECK(clip_image_preprocess_pixels(jpeg, 4, 4, 2, 24, mean3, std3, out, err, sizeof err) == -1,
		  "2 channels accepted");
	CHECK(clip_image_preprocess_pixels(jpeg, 0, 4, 3, 24, mean3, std3, out, err, sizeof err) == -1,
		  "zero width accepted");
	free(buf);
	free(jpeg);
	free(out);
}

/* Gray and CMYK pixels agree with the RGB path on equivalent input. */
static void
test_pixel_paths(void)
{
	uint8_t		gray[7 * 5],
				rgb[7 * 5 * 3],
				cmyk[7 * 5 * 4];
	float		a[3 * 5 * 5],
				b[3 * 5 * 5];
	char		err[256];
	int			i,
				same = 1;

	for (i = 0; i < 35; i++)
	{
		gray[i] = (uint8_t) (i * 7);
		rgb[3 * i] = rgb[3 * i + 1] = rgb[3 * i + 2] = gray[i];
		/* no colour ink, black ink 255 - v: PIL gives v back */
		cmyk[4 * i] = cmyk[4 * i + 1] = cmyk[4 * i + 2] = 0;
		cmyk[4 * i + 3] = (uint8_t) (255 - gray[i]);
	}
	CHECK(clip_image_preprocess_pixels(gray, 7, 5, 1, 4, mean3, std3, a, err, sizeof err) == 0, "%s", err);
	CHECK(clip_image_preprocess_pixels(rgb, 7, 5, 3, 4, mean3, std3, b, err, sizeof err) == 0, "%s", err);
	for (i = 0; i < 48; i++)
		same &= a[i] == b[i];
	CHECK(same, "gray and RGB paths differ");
	/* size 5: a crop without resampling, so the CMYK conversion is exact */
	CHECK(clip_image_preprocess_pixels(gray, 7, 5, 1, 5, mean3, std3, a, err, sizeof err) == 0, "%s", err);
	CHECK(clip_image_preprocess_pixels(cmyk, 7, 5, 4, 5, mean3, std3, b, err, sizeof err) == 0, "%s", err);
	same = 1;
	for (i = 0; i < 75; i++)
		same &= a[i] == b[i];
	CHECK(same, "gray and CMYK paths differ");
	/* the 7-wide image cropped to the middle 5 columns (offset 1) */
	CHECK(a[0] == (gray[1] / 255.0f - mean3[0]) / std3[0], "crop offset: %g", a[0]);
}

static int
cancel_at(void *arg)
{
	int		   *left = arg;

	return (*left)-- <= 0;
}

/* Random corruptions of a good file: an error with a message or a result. */
static void
mutate_file(const char *name, uint32_t seed)
{
	size_t		len,
				i,
				k;
	uint8_t    *file = read_file(name, &len);
	uint8_t    *buf = file ? malloc(len) : NULL;
	float	   *out = malloc(3 * 16 * 16 * sizeof(float));
	char		err[256];
	int			ok = 0,
				bad = 0,
				silent = 0;
	clip_preprocess_opts o = {16, mean3, std3, 1 << 20, CLIP_ALPHA_DROP, NULL, NULL};

	CHECK(file && buf && out, "cannot read %s", name);
	if (!file || !buf || !out)
		goto done;
	for (i = 0; i < 400; i++)
	{
		memcpy(buf, file, len);
		for (k = 0; k < 1 + i % 4; k++)
		{
			seed = seed * 1103515245u + 12345u;
			/* past the signature, so the right decoder sees it */
			buf[12 + (seed >> 8) % (len - 12)] = (uint8_t) (seed >> 3);
		}
		o.alpha = (i & 1) ? CLIP_ALPHA_WHITE : CLIP_ALPHA_DROP;
		err[0] = '\0';
		if (clip_image_preprocess(buf, len, &o, out, err, sizeof err) == CLIP_IMAGE_OK)
			ok++;
		else if (err[0])
			bad++;
		else
			silent++;
	}
	printf("%s: 400 corruptions, %d decode, %d refused\n", name, ok, bad);
	CHECK(silent == 0, "%s: %d errors without a message", name, silent);
	CHECK(bad > 0, "%s: no corruption refused", name);
done:
	free(file);
	free(buf);
	free(out);
}

/* Every truncation of a good file is refused, but for the last few bytes. */
static void
truncate_file(const char *name, size_t max_ok)
{
	size_t		len,
				cut,
				ok = 0;
	uint8_t    *file = read_file(name, &len);
	float	   *out = malloc(3 * 16 * 16 * sizeof(float));
	char		err[256];
	clip_preprocess_opts o = {16, mean3, std3, 0, CLIP_ALPHA_DROP, NULL, NULL};

	CHECK(file && out, "cannot read %s", name);
	if (file && out)
	{
		for (cut = 0; cut < len; cut++)
		{
			int			rc;

			err[0] = '\0';
			rc = clip_image_preprocess(file, cut, &o, out, err, sizeof err);
			if (rc == CLIP_IMAGE_OK)
				ok++;
			else
				CHECK(rc == CLIP_IMAGE_EDATA && err[0], "%s cut at %zu: rc %d, %s", name, cut, rc, err);
		}
		CHECK(clip_image_preprocess(file, len / 2, &o, out, err, sizeof err) == CLIP_IMAGE_EDATA,
			  "half of %s accepted", name);
		printf("%s: half the file: %s; %zu of %zu prefixes decode\n", name, err, ok, len);
		CHECK(ok <= max_ok, "%s: %zu truncated prefixes decode", name, ok);
		CHECK(clip_image_preprocess(file, len, &o, out, err, sizeof err) == CLIP_IMAGE_OK, "%s: %s", name, err);
	}
	free(file);
	free(out);
}

static void
test_format_errors(void)
{
	static const char *pngs[] = {FIXTURES "png_rgba8_40x30.png", FIXTURES "png_pal8_trns_40x30.png",
	FIXTURES "png_rgba16_adam7_33x27.png", FIXTURES "png_gray2_adam7_19x13.png"};
	static const char *webps[] = {FIXTURES "webp_lossy_40x30.webp", FIXTURES "webp_lossless_alpha_33x27.webp",
	FIXTURES "webp_lossy_alpha_40x30.webp", FIXTURES "webp_anim_30x20.webp"};
	float	   *out = malloc(3 * 24 * 24 * sizeof(float));
	char		err[256];
	clip_image_info info;
	clip_preprocess_opts o = {24, mean3, std3, 0, CLIP_ALPHA_DROP, NULL, NULL};
	size_t		len,
				i;
	uint8_t    *png = read_file(FIXTURES "png_rgba8_40x30.png", &len);
	uint8_t    *data;
	size_t		dlen;
	int			polls;
	static const struct
	{
		const char *bytes;
		size_t		len;
		const char *want;
	}			unknown[] = {
		{"", 0, "empty"},
		{"GIF89a\x01\x00\x01\x00", 10, "GIF images are not supported"},
		{"BM\x3a\x00\x00\x00", 6, "BMP"},
		{"II*\x00\x08\x00\x00\x00", 8, "TIFF"},
		{"\x00\x00\x00\x1c" "ftypavif", 12, "AVIF"},
		{"RIFF\x10\x00\x00\x00WAVEfmt ", 16, "RIFF (not WebP)"},
		{"hello, world", 12, "unrecognised image format"},
		{"\xff\xd8", 2, "unrecognised"},
	};

	CHECK(out && png, "fixtures");
	if (!out || !png)
	{
		free(out);
		free(png);
		return;
	}
	for (i = 0; i < sizeof unknown / sizeof unknown[0]; i++)
	{
		err[0] = '\0';
		CHECK(clip_image_info_read((const uint8_t *) unknown[i].bytes, unknown[i].len, &info, err, sizeof err) ==
			  CLIP_IMAGE_EDATA && strstr(err, unknown[i].want) && strstr(err, CLIP_IMAGE_FORMATS),
			  "unknown format %zu: %s", i, err);
		CHECK(clip_image_preprocess((const uint8_t *) unknown[i].bytes, unknown[i].len, &o, out, err, sizeof err) ==
			  CLIP_IMAGE_EDATA && strstr(err, "accepted formats"), "unknown format %zu: %s", i, err);
	}
	CHECK(clip_image_preprocess(NULL, 0, &o, out, err, sizeof err) == CLIP_IMAGE_EDATA, "NULL accepted");
	CHECK(clip_image_detect(png, len) == CLIP_FORMAT_PNG, "PNG not detected");
	/* the JPEG-only entry points refuse other formats */
	CHECK(clip_image_preprocess_jpeg(png, len, 24, mean3, std3, 0, out, err, sizeof err) == -1 &&
		  strstr(err, "not a JPEG"), "JPEG entry point took a PNG: %s", err);

	/* truncations and corruptions */
	for (i = 0; i < 4; i++)
	{
		truncate_file(pngs[i], 16);		/* a file cut in IEND still has its pixels, as in Pillow */
		truncate_file(webps[i], 0);
		mutate_file(pngs[i], 100 + (uint32_t) i);
		mutate_file(webps[i], 200 + (uint32_t) i);
	}

	/* the pixel limit, from the header, for each format */
	o.max_pixels = 40 * 30 - 1;
	CHECK(clip_image_preprocess(png, len, &o, out, err, sizeof err) == CLIP_IMAGE_ELIMIT && strstr(err, "limit"),
		  "PNG over the limit: %s", err);
	o.max_pixels = 40 * 30;
	CHECK(clip_image_preprocess(png, len, &o, out, err, sizeof err) == CLIP_IMAGE_OK, "PNG at the limit: %s", err);
	data = read_file(FIXTURES "webp_lossy_40x30.webp", &dlen);
	o.max_pixels = 40 * 30 - 1;
	CHECK(data && clip_image_preprocess(data, dlen, &o, out, err, sizeof err) == CLIP_IMAGE_ELIMIT,
		  "WebP over the limit: %s", err);
	free(data);

	/* decompression bombs: refused from the header, nothing allocated */
	o.max_pixels = 25000000;
	data = read_file("test/fixtures/encode/bomb.png", &dlen);
	CHECK(data && clip_image_info_read(data, dlen, &info, err, sizeof err) == CLIP_IMAGE_OK &&
		  info.width == 50000 && info.height == 50000, "bomb.png header: %s", err);
	CHECK(data && clip_image_preprocess(data, dlen, &o, out, err, sizeof err) == CLIP_IMAGE_ELIMIT,
		  "bomb.png: %s", err);
	free(data);
	data = read_file("test/fixtures/encode/bomb.webp", &dlen);
	CHECK(data && clip_image_info_read(data, dlen, &info, err, sizeof err) == CLIP_IMAGE_OK &&
		  info.width == 16383 && info.height == 16383, "bomb.webp header: %s", err);
	CHECK(data && clip_image_preprocess(data, dlen, &o, out, err, sizeof err) == CLIP_IMAGE_ELIMIT,
		  "bomb.webp: %s", err);
	free(data);

	/* cancellation between rows: at once, and in a later interlace pass */
	o.max_pixels = 0;
	o.cancel = cancel_at;
	o.cancel_arg = &polls;
	polls = 0;
	CHECK(clip_image_preprocess(png, len, &o, out, err, sizeof err) == CLIP_IMAGE_ECANCEL &&
		  strstr(err, "cancel"), "not cancelled: %s", err);
	data = read_file(FIXTURES "png_rgba16_adam7_33x27.png", &dlen);
	polls = 5;
	CHECK(data && clip_image_preprocess(data, dlen, &o, out, err, sizeof err) == CLIP_IMAGE_ECANCEL,
		  "interlaced not cancelled: %s", err);
	polls = 7;					/* one poll per pass of 27 rows: not reached */
	CHECK(data && clip_image_preprocess(data, dlen, &o, out, err, sizeof err) == CLIP_IMAGE_OK,
		  "interlaced with 7 polls: %s", err);
	free(data);
	o.cancel = NULL;

	/* without transparency the alpha mode changes nothing */
	data = read_file(FIXTURES "png_rgb8_40x30.png", &dlen);
	if (data)
	{
		float	   *out2 = malloc(3 * 24 * 24 * sizeof(float));

		o.alpha = CLIP_ALPHA_DROP;
		CHECK(clip_image_preprocess(data, dlen, &o, out, err, sizeof err) == CLIP_IMAGE_OK, "%s", err);
		o.alpha = CLIP_ALPHA_WHITE;
		CHECK(out2 && clip_image_preprocess(data, dlen, &o, out2, err, sizeof err) == CLIP_IMAGE_OK, "%s", err);
		CHECK(out2 && memcmp(out, out2, 3 * 24 * 24 * sizeof(float)) == 0, "alpha mode changed an opaque image");
		free(out2);
	}
	free(data);
	free(png);
	free(out);
}

int
main(void)
{
	test_parity();
	test_format_errors();
	test_sizes();
	test_errors();
	test_pixel_paths();
	return unit_done("test_image");
}
