/*
 * bench_tokenize_image.c - throughput of the C tokenizer and of JPEG decode +
 * CLIP preprocessing, one thread.  Driven by bench_tokenize_image.sh, which
 * runs the Python baseline beside it.
 *
 *   bench_tokenize_image tokenize MERGES_TXT TEXTS_TXT SECONDS
 *   bench_tokenize_image image SIZE SECONDS JPEG...
 *   bench_tokenize_image dump SIZE < paths    (for test/fixtures/check_image_parity.py)
 *
 * Prints one line "<what> <items> <seconds> <items/s>"; dump writes, per
 * path, int32 1 and the float32 tensor, or int32 0, a length and the error.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bpe.h"
#include "image.h"

static double
now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return (double) ts.tv_sec + ts.tv_nsec / 1e9;
}

static char *
slurp(const char *path, size_t *len)
{
	FILE	   *f = fopen(path, "rb");
	char	   *buf;
	long		n;

	if (!f)
		return NULL;
	if (fseek(f, 0, SEEK_END) != 0 || (n = ftell(f)) < 0 || fseek(f, 0, SEEK_SET) != 0)
	{
		fclose(f);
		return NULL;
	}
	buf = malloc((size_t) n + 1);
	if (buf && fread(buf, 1, (size_t) n, f) != (size_t) n)
	{
		free(buf);
		buf = NULL;
	}
	if (buf)
		buf[n] = '\0';
	*len = (size_t) n;
	fclose(f);
	return buf;
}

static int
bench_tokenize(const char *merges_path, const char *texts_path, double secs)
{
	size_t		mlen,
				tlen;
	char	   *merges = slurp(merges_path, &mlen),
			   *texts = slurp(texts_path, &tlen);
	char		err[256];
	ClipTokenizer *tok;
	double		t0,
				t;
	long		done = 0;
	int32_t		ids[77];

	if (!merges || !texts)
	{
		fprintf(stderr, "cannot read %s or %s\n", merges_path, texts_path);
		return 1;
	}
	tok = clip_tokenizer_new(merges, mlen, 49408, err, sizeof err);
	if (!tok)
	{
		fprintf(stderr, "%s\n", err);
		return 1;
	}
	t0 = now();
	do
	{
		char	   *p = texts;

		while (*p)
		{
			char	   *e = strchr(p, '\n');
			size_t		n = e ? (size_t) (e - p) : strlen(p);
			int			nid,
						tr;

			if (clip_tokenizer_encode(tok, p, n, 77, ids, &nid, &tr, err, sizeof err) != 0)
			{
				fprintf(stderr, "%s\n", err);
				return 1;
			}
			done++;
			p += n + (e ? 1 : 0);
		}
		t = now() - t0;
	} while (t < secs);
	printf("tokenize %ld %.3f %.1f\n", done, t, done / t);
	clip_tokenizer_free(tok);
	free(merges);
	free(texts);
	return 0;
}

static int
bench_image(int size, double secs, int nfiles, char **files)
{
	static const float mean[3] = {0.48145466f, 0.4578275f, 0.40821073f};
	static const float std[3] = {0.26862954f, 0.26130258f, 0.27577711f};
	char	  **data = malloc(sizeof(char *) * (size_t) nfiles);
	size_t	   *lens = malloc(sizeof(size_t) * (size_t) nfiles);
	float	   *out = malloc(sizeof(float) * 3 * (size_t) size * (size_t) size);
	char		err[256];
	double		t0,
				t;
	long		done = 0;
	int			i;

	for (i = 0; i < nfiles; i++)
		if (!(data[i] = slurp(files[i], &lens[i])))
		{
			fprintf(stderr, "cannot read %s\n", files[i]);
			return 1;
		}
	t0 = now();
	do
	{
		for (i = 0; i < nfiles; i++)
		{
			if (clip_image_preprocess_jpeg((const uint8_t *) data[i], lens[i], size, mean, std, 0,
										   out, err, sizeof err) != 0)
			{
				fprintf(stderr, "%s: %s\n", files[i], err);
				return 1;
			}
			done++;
		}
		t = now() - t0;
	} while (t < secs);
	printf("image%d %ld %.3f %.1f\n", size, done, t, done / t);
	for (i = 0; i < nfiles; i++)
		free(data[i]);
	free(data);
	free(lens);
	free(out);
	return 0;
}

static int
dump(int size)
{
	static const float mean[3] = {0.48145466f, 0.4578275f, 0.40821073f};
	static const float std[3] = {0.26862954f, 0.26130258f, 0.27577711f};
	char		path[4096],
				err[256];
	float	   *out = malloc(sizeof(float) * 3 * (size_t) size * (size_t) size);
	const char *alpha = getenv("SPARSECLIP_ALPHA");
	clip_preprocess_opts opts = {size, mean, std, 0,
		alpha && strcmp(alpha, "white") == 0 ? CLIP_ALPHA_WHITE : CLIP_ALPHA_DROP, NULL, NULL};

	while (out && fgets(path, sizeof path, stdin))
	{
		size_t		len;
		char	   *data;
		int32_t		ok;

		path[strcspn(path, "\n")] = '\0';
		data = slurp(path, &len);
		/* any accepted format; CLIP_ALPHA_WHITE when SPARSECLIP_ALPHA=white */
		ok = data && clip_image_preprocess((const uint8_t *) data, len, &opts, out, err, sizeof err) == 0;
		if (!data)
			snprintf(err, sizeof err, "cannot read %s", path);
		fwrite(&ok, sizeof ok, 1, stdout);
		if (ok)
			fwrite(out, sizeof(float), 3 * (size_t) size * (size_t) size, stdout);
		else
		{
			int32_t		n = (int32_t) strlen(err);

			fwrite(&n, sizeof n, 1, stdout);
			fwrite(err, 1, (size_t) n, stdout);
		}
		free(data);
	}
	free(out);
	return 0;
}

int
main(int argc, char **argv)
{
	if (argc == 3 && strcmp(argv[1], "dump") == 0)
		return dump(atoi(argv[2]));
	if (argc == 5 && strcmp(argv[1], "tokenize") == 0)
		return bench_tokenize(argv[2], argv[3], atof(argv[4]));
	if (argc >= 5 && strcmp(argv[1], "image") == 0)
		return bench_image(atoi(argv[2]), atof(argv[3]), argc - 4, argv + 4);
	fprintf(stderr, "usage: %s tokenize MERGES TEXTS SECONDS | image SIZE SECONDS JPEG... | dump SIZE\n", argv[0]);
	return 2;
}
