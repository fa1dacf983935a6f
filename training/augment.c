/*
 * augment.c - sparseclip-augment: writes what the trainer's batches look
 * like (batch.h) for one seed and step: each entry's augmented pixels as a
 * PPM image and its caption, to test the augmentation and to look at it.
 *
 * usage: sparseclip-augment --data train.tsv --out DIR [--seed N] [--step N]
 *            [--count N] [--image K] [augmentation options of sparseclip-train]
 * writes DIR/NNN.ppm (entry NNN, native size, before the model's resize)
 * and DIR/captions.tsv: entry<TAB>image path<TAB>group<TAB>caption.
 * Entry i shows image K (--image), a random image (--random, drawn from
 * the seed), or image i modulo the image count.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "batch.h"
#include "data.h"

int
main(int argc, char **argv)
{
	const char *data = NULL, *out = NULL;
	long		seed = 1, step = 0, count = 16, image = -1;
	int			i, noaug = 0, rnd = 0;
	batch_opts	o;
	dataset		d;
	batch_ctx  *c;
	char		err[1024], path[2048];
	FILE	   *caps;

	batch_opts_default(&o);
	for (i = 1; i < argc; i++)
	{
		int			used = batch_opts_parse(&o, argc, argv, i);
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;

		if (used < 0)
			return 2;
		if (used > 0)
		{
			i += used - 1;
			continue;
		}
		if (strcmp(a, "--no-augment") == 0)
		{
			noaug = 1;
			continue;
		}
		if (strcmp(a, "--random") == 0)
		{
			rnd = 1;
			continue;
		}
		if (!v)
		{
			fprintf(stderr, "sparseclip-augment: unknown option or missing value: %s\n", a);
			return 2;
		}
		if (strcmp(a, "--data") == 0)
			data = v;
		else if (strcmp(a, "--out") == 0)
			out = v;
		else if (strcmp(a, "--seed") == 0)
			seed = strtol(v, NULL, 10);
		else if (strcmp(a, "--step") == 0)
			step = strtol(v, NULL, 10);
		else if (strcmp(a, "--count") == 0)
			count = strtol(v, NULL, 10);
		else if (strcmp(a, "--image") == 0)
			image = strtol(v, NULL, 10);
		else
		{
			fprintf(stderr, "sparseclip-augment: unknown option %s\n", a);
			batch_opts_usage(stderr);
			return 2;
		}
		i++;
	}
	if (!data || !out || count < 1 || count > 255 || batch_opts_check(&o) < 0)
	{
		fprintf(stderr, "usage: sparseclip-augment --data train.tsv --out DIR [--seed N] [--step N]\n"
				"           [--count N (1..255)] [--image K | --random] [augmentation options]\n");
		batch_opts_usage(stderr);
		return 2;
	}
	o.augment = !noaug;
	if (dataset_load(&d, data, err, sizeof err) < 0)
	{
		fprintf(stderr, "sparseclip-augment: %s\n", err);
		return 1;
	}
	if (image >= d.nimages)
	{
		fprintf(stderr, "sparseclip-augment: --image %ld: the data has %d images\n", image, d.nimages);
		return 1;
	}
	c = batch_new(&d, &o, NULL, 0, (int) count, err, sizeof err);
	if (!c)
	{
		fprintf(stderr, "sparseclip-augment: %s\n", err);
		return 1;
	}
	snprintf(path, sizeof path, "%s/captions.tsv", out);
	caps = fopen(path, "w");
	if (!caps)
	{
		fprintf(stderr, "sparseclip-augment: cannot write %s\n", path);
		return 1;
	}
	for (i = 0; i < count; i++)
	{
		int			im = image >= 0 ? (int) image :
			rnd ? (int) (data_mix((uint64_t) seed * 7919 + (uint64_t) i) % (uint64_t) d.nimages) : i % d.nimages, w, h;
		unsigned char *px;
		char		cap[512];
		long		group;
		FILE	   *f;

		if (batch_entry(c, (uint64_t) seed, step, i, im, &px, &w, &h, cap, sizeof cap, &group,
						err, sizeof err) < 0)
		{
			fprintf(stderr, "sparseclip-augment: %s\n", err);
			return 1;
		}
		snprintf(path, sizeof path, "%s/%03d.ppm", out, i);
		f = fopen(path, "wb");
		if (!f || fprintf(f, "P6\n%d %d\n255\n", w, h) < 0 ||
			fwrite(px, 1, (size_t) w * h * 3, f) != (size_t) w * h * 3 || fclose(f) != 0)
		{
			fprintf(stderr, "sparseclip-augment: cannot write %s\n", path);
			return 1;
		}
		free(px);
		fprintf(caps, "%d\t%s\t%ld\t%s\n", i, d.paths[im], group, cap);
	}
	fclose(caps);
	batch_free(c);
	dataset_free(&d);
	return 0;
}
