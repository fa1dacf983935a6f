/*
 * data.c - TSV image-caption data sets; see data.h.
 */
#include "data.h"
#include "image.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <turbojpeg.h>

static void seterr(char *err, size_t errlen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static void
seterr(char *err, size_t errlen, const char *fmt, ...)
{
	va_list		ap;

	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

uint64_t
data_mix(uint64_t x)
{
	x += 0x9E3779B97F4A7C15ULL;
	x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ULL;
	x = (x ^ (x >> 27)) * 0x94D049BB133111EBULL;
	return x ^ (x >> 31);
}

static int
read_file(const char *path, unsigned char **buf, size_t *len)
{
	FILE	   *f = fopen(path, "rb");
	long		n;

	if (!f)
		return -1;
	if (fseek(f, 0, SEEK_END) != 0 || (n = ftell(f)) < 0 || fseek(f, 0, SEEK_SET) != 0)
	{
		fclose(f);
		return -1;
	}
	*buf = malloc((size_t) n + 1);
	if (!*buf || fread(*buf, 1, (size_t) n, f) != (size_t) n)
	{
		free(*buf);
		*buf = NULL;
		fclose(f);
		return -1;
	}
	(*buf)[n] = 0;
	*len = (size_t) n;
	fclose(f);
	return 0;
}

char *
data_slurp(const char *path, size_t *len)
{
	unsigned char *b;
	size_t		n;

	if (read_file(path, &b, &n) < 0)
		return NULL;
	if (len)
		*len = n;
	return (char *) b;
}

typedef struct line
{
	char	   *path, *cap, *group;
	int			img;
} line;

static uint64_t
hstr(const char *s)
{
	uint64_t	h = 1469598103934665603ULL;

	for (; *s; s++)
		h = (h ^ (unsigned char) *s) * 1099511628211ULL;
	return h;
}

int
dataset_load(dataset *d, const char *tsv, char *err, size_t errlen)
{
	unsigned char *text;
	size_t		len, nl = 0, i, hcap;
	char	   *p, *end, *dir;
	line	   *lines = NULL;
	int		   *hash = NULL, *fill = NULL;
	const char *slash;

	memset(d, 0, sizeof *d);
	if (read_file(tsv, &text, &len) < 0)
	{
		seterr(err, errlen, "cannot read %s", tsv);
		return -1;
	}
	for (i = 0; i < len; i++)
		nl += text[i] == '\n';
	lines = calloc(nl + 1, sizeof(line));
	hcap = 1;
	while (hcap < 2 * (nl + 1))
		hcap <<= 1;
	hash = malloc(hcap * sizeof(int));
	if (!lines || !hash)
		goto oom;
	memset(hash, -1, hcap * sizeof(int));
	d->paths = calloc(nl + 1, sizeof(char *));
	if (!d->paths)
		goto oom;
	nl = 0;
	p = (char *) text;
	end = p + len;
	while (p < end)
	{
		char	   *e = memchr(p, '\n', (size_t) (end - p));
		char	   *tab;
		size_t		h;

		if (!e)
			e = end;
		*e = '\0';
		if (e > p && e[-1] == '\r')
			e[-1] = '\0';
		if (*p)
		{
			tab = strchr(p, '\t');
			if (!tab || tab == p || !tab[1])
			{
				seterr(err, errlen, "%s: line %zu is not image_path<TAB>caption", tsv, nl + 1);
				goto fail;
			}
			*tab = '\0';
			lines[nl].path = p;
			lines[nl].cap = tab + 1;
			tab = strchr(tab + 1, '\t');
			if (tab)
			{
				*tab = '\0';
				lines[nl].group = tab[1] ? tab + 1 : NULL;
				if (!lines[nl].cap[0])
				{
					seterr(err, errlen, "%s: line %zu has an empty caption", tsv, nl + 1);
					goto fail;
				}
			}
			h = hstr(p) & (hcap - 1);
			while (hash[h] >= 0 && strcmp(d->paths[hash[h]], p) != 0)
				h = (h + 1) & (hcap - 1);
			if (hash[h] < 0)
			{
				hash[h] = d->nimages;
				d->paths[d->nimages++] = p;
			}
			lines[nl].img = hash[h];
			nl++;
		}
		p = e + 1;
	}
	if (nl == 0)
	{
		seterr(err, errlen, "%s: no data lines", tsv);
		goto fail;
	}
	/* group captions by image, in file order */
	d->ncaps = (int) nl;
	d->cap_first = calloc(d->nimages, sizeof(int));
	d->cap_count = calloc(d->nimages, sizeof(int));
	d->captions = malloc(nl * sizeof(char *));
	fill = calloc(d->nimages, sizeof(int));
	d->jpeg = calloc(d->nimages, sizeof(unsigned char *));
	d->jpeg_len = calloc(d->nimages, sizeof(size_t));
	d->mask = calloc(d->nimages, sizeof(unsigned char *));
	d->mask_len = calloc(d->nimages, sizeof(size_t));
	d->group = malloc(d->nimages * sizeof(int));
	if (!d->cap_first || !d->cap_count || !d->captions || !fill || !d->jpeg || !d->jpeg_len ||
		!d->mask || !d->mask_len || !d->group)
		goto oom;
	/* group ids: one per distinct key (first key of an image wins), else per image */
	memset(hash, -1, hcap * sizeof(int));
	for (i = 0; i < (size_t) d->nimages; i++)
		d->group[i] = -1;
	for (i = 0; i < nl; i++)
	{
		int			im = lines[i].img;
		size_t		h;

		if (!lines[i].group || d->group[im] >= 0)
			continue;
		h = hstr(lines[i].group) & (hcap - 1);
		while (hash[h] >= 0 && strcmp(lines[hash[h]].group, lines[i].group) != 0)
			h = (h + 1) & (hcap - 1);
		if (hash[h] < 0)
		{
			hash[h] = (int) i;
			d->group[im] = d->ngroups++;
		}
		else
			d->group[im] = d->group[lines[hash[h]].img];
	}
	for (i = 0; i < (size_t) d->nimages; i++)
		if (d->group[i] < 0)
			d->group[i] = d->ngroups++;
	for (i = 0; i < nl; i++)
		d->cap_count[lines[i].img]++;
	for (i = 1; i < (size_t) d->nimages; i++)
		d->cap_first[i] = d->cap_first[i - 1] + d->cap_count[i - 1];
	for (i = 0; i < nl; i++)
	{
		int			im = lines[i].img;

		d->captions[d->cap_first[im] + fill[im]++] = strdup(lines[i].cap);
	}
	/* images, relative to the TSV's folder */
	slash = strrchr(tsv, '/');
	dir = strndup(tsv, slash ? (size_t) (slash - tsv + 1) : 0);
	for (i = 0; i < (size_t) d->nimages; i++)
	{
		char	   *full = malloc(strlen(dir) + strlen(d->paths[i]) + 1);

		if (!full)
			goto oom;
		if (d->paths[i][0] == '/')
			strcpy(full, d->paths[i]);
		else
			sprintf(full, "%s%s", dir, d->paths[i]);
		if (read_file(full, &d->jpeg[i], &d->jpeg_len[i]) < 0)
		{
			seterr(err, errlen, "%s: cannot read image %s", tsv, full);
			free(full);
			free(dir);
			goto fail;
		}
		free(full);
		if (strncmp(d->paths[i], "img/", 4) == 0)
		{
			full = malloc(strlen(dir) + strlen(d->paths[i]) + 3);
			if (!full)
				goto oom;
			sprintf(full, "%salpha/%s", dir, d->paths[i] + 4);
			if (read_file(full, &d->mask[i], &d->mask_len[i]) == 0)
				d->nmasks++;
			free(full);
		}
		d->paths[i] = strdup(d->paths[i]);
	}
	free(dir);
	free(lines);
	free(hash);
	free(fill);
	free(text);
	return 0;

oom:
	seterr(err, errlen, "%s: out of memory", tsv);
fail:
	/* paths still point into text until copied: forget them before freeing */
	for (i = 0; i < (size_t) d->nimages; i++)
		if (!d->jpeg || !d->jpeg[i])
			d->paths[i] = NULL;
	free(lines);
	free(hash);
	free(fill);
	free(text);
	dataset_free(d);
	return -1;
}

void
dataset_free(dataset *d)
{
	int			i;

	for (i = 0; i < d->nimages; i++)
	{
		if (d->paths)
			free(d->paths[i]);
		if (d->jpeg)
			free(d->jpeg[i]);
		if (d->mask)
			free(d->mask[i]);
	}
	for (i = 0; d->captions && i < d->ncaps; i++)
		free(d->captions[i]);
	free(d->paths);
	free(d->jpeg);
	free(d->jpeg_len);
	free(d->mask);
	free(d->mask_len);
	free(d->group);
	free(d->cap_first);
	free(d->cap_count);
	free(d->captions);
	free(d->tokens);
	free(d->ntok);
	memset(d, 0, sizeof *d);
}

int
dataset_tokenize(dataset *d, const ClipTokenizer *tok, int context, char *err, size_t errlen)
{
	int			i;

	free(d->tokens);
	free(d->ntok);
	d->context = context;
	d->tokens = calloc((size_t) d->ncaps * context, sizeof(int32_t));
	d->ntok = calloc(d->ncaps, sizeof(int));
	if (!d->tokens || !d->ntok)
	{
		seterr(err, errlen, "tokenize: out of memory");
		return -1;
	}
	for (i = 0; i < d->ncaps; i++)
		if (clip_tokenizer_encode(tok, d->captions[i], strlen(d->captions[i]), context,
								  d->tokens + (size_t) i * context, &d->ntok[i], NULL, err, errlen) < 0)
			return -1;
	return 0;
}

int
dataset_image(const dataset *d, int i, int S, const float mean[3], const float std[3],
			  uint64_t aug_seed, float *out, char *err, size_t errlen)
{
	tjhandle	tj;
	int			w, h, sub, cs, rc;
	unsigned char *px, *crop;
	uint64_t	r1, r2, r3, r4;
	double		area, aspect;
	int			cw, ch, x0, y0, y;

	if (aug_seed == 0)
		return clip_image_preprocess_jpeg(d->jpeg[i], d->jpeg_len[i], S, mean, std, 0, out, err, errlen);
	tj = tjInitDecompress();
	if (!tj)
	{
		seterr(err, errlen, "turbojpeg: cannot initialise");
		return -1;
	}
	if (tjDecompressHeader3(tj, d->jpeg[i], (unsigned long) d->jpeg_len[i], &w, &h, &sub, &cs) != 0 ||
		w <= 0 || h <= 0 || (size_t) w * h > 64u * 1024 * 1024)
	{
		tjDestroy(tj);
		seterr(err, errlen, "%s: not a readable JPEG", d->paths[i]);
		return -1;
	}
	px = malloc((size_t) w * h * 3);
	crop = malloc((size_t) w * h * 3);
	if (!px || !crop || tjDecompress2(tj, d->jpeg[i], (unsigned long) d->jpeg_len[i], px, w, 0, h,
									  TJPF_RGB, 0) != 0)
	{
		free(px);
		free(crop);
		tjDestroy(tj);
		seterr(err, errlen, "%s: cannot decode", d->paths[i]);
		return -1;
	}
	tjDestroy(tj);
	r1 = data_mix(aug_seed);
	r2 = data_mix(r1);
	r3 = data_mix(r2);
	r4 = data_mix(r3);
	area = 0.8 + 0.2 * (double) (r1 >> 11) / 9007199254740992.0;
	aspect = exp(log(0.75) + (log(4.0 / 3.0) - log(0.75)) * (double) (r2 >> 11) / 9007199254740992.0);
	cw = (int) lround(sqrt(area * w * h * aspect));
	ch = (int) lround(sqrt(area * w * h / aspect));
	cw = cw < 1 ? 1 : cw > w ? w : cw;
	ch = ch < 1 ? 1 : ch > h ? h : ch;
	x0 = (int) (r3 % (uint64_t) (w - cw + 1));
	y0 = (int) (r4 % (uint64_t) (h - ch + 1));
	for (y = 0; y < ch; y++)
		memcpy(crop + (size_t) y * cw * 3, px + ((size_t) (y0 + y) * w + x0) * 3, (size_t) cw * 3);
	rc = clip_image_preprocess_pixels(crop, cw, ch, 3, S, mean, std, out, err, errlen);
	free(px);
	free(crop);
	return rc;
}
