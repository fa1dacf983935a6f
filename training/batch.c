/*
 * batch.c - augmented training batches; see batch.h: the options, the
 * context and the entries (pixels in batch_image.c, captions in
 * batch_caption.c).
 *
 * Every random choice comes from splitmix64 streams seeded by (seed, step,
 * entry), each decision from its own stream, so switching one option on
 * does not move the draws of another.
 */
#include "batch_internal.h"
#include "image.h"

#include <ctype.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <turbojpeg.h>

/* ---------- options ---------- */

void
batch_opts_default(batch_opts *o)
{
	memset(o, 0, sizeof *o);
	o->augment = 1;
	o->crop_min = 0.8;
	o->p_crop = 1.0;
	o->wordnet_dir = "/usr/share/wordnet";
}

typedef struct optdef
{
	const char *name, *json, *help;
	size_t		off;
} optdef;

#define F(field) offsetof(batch_opts, field)
static const optdef optdefs[] = {
	{"--crop-scale", "crop_min", "random resized crop keeps MIN..1 of the area (default 0.8)", F(crop_min)},
	{"--aug-crop", "p_crop", "probability of that crop (default 1)", F(p_crop)},
	{"--aug-background", "p_background", "random solid, gradient or noise background behind the alpha mask", F(p_background)},
	{"--aug-flip", "p_flip", "horizontal flip; captions swap left/right (never flags, text, ...)", F(p_flip)},
	{"--aug-gray", "p_gray", "grayscale", F(p_gray)},
	{"--aug-posterize", "p_posterize", "posterise to 4 or 8 levels per channel", F(p_posterize)},
	{"--aug-blur", "p_blur", "3x3 box blur, once or twice", F(p_blur)},
	{"--aug-silhouette", "p_silhouette", "flat silhouette in one colour (dark mostly)", F(p_silhouette)},
	{"--aug-randconv", "p_randconv", "RandConv: random 3x3 convolution mixed with the image", F(p_randconv)},
	{"--aug-hue", "p_hue", "hue rotation (gray, silhouette and hue spare colour-named images)", F(p_hue)},
	{"--composite", "composite", "share of entries made of 2 or 4 images, \"A and B\"", F(composite)},
	{"--cap-tags", "p_tags", "shuffle a comma list of tags and drop some", F(p_tags)},
	{"--cap-synonym", "p_synonym", "each word: a WordNet synonym (most frequent noun sense)", F(p_synonym)},
	{"--cap-hypernym", "p_hypernym", "add the name's WordNet hypernym (\"dog, a canine\")", F(p_hypernym)},
	{"--cap-template", "p_template", "a template (\"an icon of X\", \"a drawing of X\", ...)", F(p_template)},
};
#undef F
#define NOPTS (int) (sizeof optdefs / sizeof optdefs[0])

/* The research notes' settings for icons (shared/research/small-scale-clip-recipes.md). */
static void
icon_preset(batch_opts *o)
{
	o->crop_min = 0.4;
	o->p_crop = 1.0;
	o->p_background = 0.5;
	o->p_flip = 0.5;
	o->p_gray = 0.2;
	o->p_posterize = 0.2;
	o->p_blur = 0.1;
	o->p_silhouette = 0.1;
	o->p_randconv = 0.2;
	o->p_hue = 0.3;
}

int
batch_opts_parse(batch_opts *o, int argc, char **argv, int i)
{
	const char *a = argv[i];
	int			k;

	if (strcmp(a, "--aug-icons") == 0)
	{
		icon_preset(o);
		return 1;
	}
	if (strcmp(a, "--wordnet-db") == 0)
	{
		if (i + 1 >= argc)
		{
			fprintf(stderr, "sparseclip-train: %s needs a value\n", a);
			return -1;
		}
		o->wordnet_dir = argv[i + 1];
		return 2;
	}
	for (k = 0; k < NOPTS; k++)
		if (strcmp(a, optdefs[k].name) == 0)
		{
			char	   *e;
			double		v;

			if (i + 1 >= argc)
			{
				fprintf(stderr, "sparseclip-train: %s needs a value\n", a);
				return -1;
			}
			v = strtod(argv[i + 1], &e);
			if (*e || e == argv[i + 1] || !(v >= 0.0 && v <= 1.0))
			{
				fprintf(stderr, "sparseclip-train: %s takes a number from 0 to 1, not %s\n", a, argv[i + 1]);
				return -1;
			}
			*(double *) ((char *) o + optdefs[k].off) = v;
			return 2;
		}
	return 0;
}

int
batch_opts_check(const batch_opts *o)
{
	if (!(o->crop_min > 0.0))
	{
		fprintf(stderr, "sparseclip-train: --crop-scale must be above 0\n");
		return -1;
	}
	return 0;
}

void
batch_opts_usage(FILE *f)
{
	int			k;

	fputs("augmentation (each P a probability from 0 to 1; default off unless said; batch.h):\n"
		  "  --aug-icons              the icon recipe: --crop-scale 0.4 --aug-background 0.5\n"
		  "                           --aug-flip 0.5 --aug-gray 0.2 --aug-posterize 0.2 --aug-blur 0.1\n"
		  "                           --aug-silhouette 0.1 --aug-randconv 0.2 --aug-hue 0.3\n"
		  "                           (options after it override)\n", f);
	for (k = 0; k < NOPTS; k++)
	{
		char		opt[64];

		snprintf(opt, sizeof opt, "%s %s", optdefs[k].name, strcmp(optdefs[k].json, "crop_min") == 0 ? "MIN" : "P");
		fprintf(f, "  %-24s %s\n", opt, optdefs[k].help);
	}
	fputs("  --wordnet-db DIR         WordNet's files for --cap-synonym/--cap-hypernym\n"
		  "                           (default /usr/share/wordnet, Debian wordnet-base)\n", f);
}

char *
batch_opts_json(const batch_opts *o)
{
	char	   *s = malloc(2048);
	size_t		n = 0;
	int			k;

	if (!s)
		return NULL;
	n += snprintf(s + n, 2048 - n, "{");
	for (k = 0; k < NOPTS; k++)
		n += snprintf(s + n, 2048 - n, "%s\"%s\":%.17g", k ? "," : "", optdefs[k].json,
					  *(const double *) ((const char *) o + optdefs[k].off));
	snprintf(s + n, 2048 - n, "}");
	return s;
}

void
batch_opts_from_json(batch_opts *o, const char *json)
{
	int			k;

	for (k = 0; k < NOPTS && json; k++)
	{
		char		key[64];
		const char *p;

		snprintf(key, sizeof key, "\"%s\":", optdefs[k].json);
		if ((p = strstr(json, key)) != NULL)
			*(double *) ((char *) o + optdefs[k].off) = strtod(p + strlen(key), NULL);
	}
}

int
batch_opts_text_aug(const batch_opts *o)
{
	return o->composite > 0 || o->p_tags > 0 || o->p_synonym > 0 || o->p_hypernym > 0 ||
		o->p_template > 0 || o->p_flip > 0;
}


/* ---------- context ---------- */

batch_ctx *
batch_new(const dataset *d, const batch_opts *o, const ClipTokenizer *tok, int context, int B,
		  char *err, size_t errlen)
{
	batch_ctx  *c = calloc(1, sizeof *c);
	int			im, k;

	if (!c)
		goto oom;
	c->d = d;
	c->o = *o;
	c->tok = tok;
	c->context = context;
	c->B = B;
	c->tj = tjInitDecompress();
	c->tokens = calloc((size_t) B * (context > 0 ? context : 1), sizeof(int32_t));
	c->nocolour = calloc(d->nimages > 0 ? d->nimages : 1, 1);
	c->noflip = calloc(d->nimages > 0 ? d->nimages : 1, 1);
	if (!c->tj || !c->tokens || !c->nocolour || !c->noflip)
		goto oom;
	for (im = 0; im < d->nimages; im++)
	{
		int			colour = 0, noflip = 0;

		for (k = 0; k < d->cap_count[im]; k++)
		{
			const char *cap = d->captions[d->cap_first[im] + k];

			colour |= batch_has_word(cap, batch_colour_words);
			/* a digit in a name is mostly drawn too ("3rd place medal") */
			noflip |= batch_has_word(cap, batch_noflip_words) || strpbrk(cap, "0123456789") != NULL;
		}
		c->nocolour[im] = !colour;
		c->noflip[im] = (unsigned char) noflip;
	}
	if (o->p_synonym > 0 || o->p_hypernym > 0)
	{
		c->wn = wn_open(o->wordnet_dir, err, errlen);
		if (!c->wn)
		{
			batch_free(c);
			return NULL;
		}
	}
	return c;
oom:
	snprintf(err, errlen, "batch: out of memory");
	batch_free(c);
	return NULL;
}

void
batch_free(batch_ctx *c)
{
	if (!c)
		return;
	if (c->tj)
		tjDestroy(c->tj);
	wn_close(c->wn);
	free(c->tokens);
	free(c->nocolour);
	free(c->noflip);
	free(c);
}


/* ---------- entries ---------- */

static uint64_t
entry_seed(uint64_t seed, long step, int i)
{
	/* as the trainer always drew it: one caption and crop per (seed, step, entry) */
	return data_mix((seed << 40) ^ ((uint64_t) step << 8) ^ (uint64_t) i);
}

/*
 * Entry i as pixels and caption; *capidx is the data set caption used
 * unchanged, or -1 when the caption was made here.
 */
static int
entry(batch_ctx *c, uint64_t seed, long step, int i, int im, unsigned char **pixels, int *w, int *h,
	  char *cap, size_t caplen, long *group, int *capidx, char *err, size_t errlen)
{
	const dataset *d = c->d;
	uint64_t	hs = entry_seed(seed, step, i), r = stream(hs, 30);
	int			flipped, ci = d->cap_first[im] + (int) (hs % (uint64_t) d->cap_count[im]);

	if (c->o.composite > 0 && runif(&r) < c->o.composite)
	{
		int			n = runif(&r) < 0.5 ? 2 : 4, t, W, H, tw, th;
		unsigned char *canvas;
		size_t		used = 0;

		/* the canvas is the first image's size; tiles are its quarters */
		{
			int			sub, cs;

			if (tjDecompressHeader3(c->tj, d->jpeg[im], (unsigned long) d->jpeg_len[im], &W, &H, &sub, &cs) != 0)
			{
				snprintf(err, errlen, "%s: not a readable JPEG", d->paths[im]);
				return -1;
			}
		}
		tw = W / 2;
		th = H / 2;
		canvas = malloc((size_t) W * H * 3);
		if (!canvas || tw < 1 || th < 1)
		{
			free(canvas);
			snprintf(err, errlen, "batch: image too small for a composite");
			return -1;
		}
		memset(canvas, 255, (size_t) W * H * 3);
		cap[0] = '\0';
		for (t = 0; t < n; t++)
		{
			int			tim = t == 0 ? im : (int) (rnext(&r) % (uint64_t) d->nimages);
			unsigned char *px;
			int			pw, ph, bw, bh, ox, oy;
			char		name[MAXCAP];

			if (batch_augment_image(c, tim, stream(hs, 40 + (uint64_t) t), &px, &pw, &ph, &flipped, err, errlen) < 0)
			{
				free(canvas);
				return -1;
			}
			/* fit into the tile, aspect kept, centred */
			if ((double) pw / ph > (double) tw / th)
			{
				bw = tw;
				bh = (int) lround((double) tw * ph / pw);
			}
			else
			{
				bh = th;
				bw = (int) lround((double) th * pw / ph);
			}
			bw = bw < 1 ? 1 : bw;
			bh = bh < 1 ? 1 : bh;
			ox = (t % 2) * tw + (tw - bw) / 2;
			oy = (n == 2 ? H / 4 : (t / 2) * th) + (th - bh) / 2;
			batch_resize_rgb(px, pw, ph, canvas + 3 * ((size_t) oy * W + ox), bw, bh, W);
			free(px);
			/* the name up to its qualifiers: "kiss: man, man" -> "kiss", so commas join tiles only */
			snprintf(name, sizeof name, "%.*s", (int) strcspn(d->captions[d->cap_first[tim]], ":;,"),
					 d->captions[d->cap_first[tim]]);
			if (flipped)
			{
				char		sw[MAXCAP];

				batch_swap_left_right(name, sw, sizeof sw);
				snprintf(name, sizeof name, "%s", sw);
			}
			used += (size_t) snprintf(cap + used, caplen - used, "%s%s",
									  t == 0 ? "" : t == n - 1 ? " and " : ", ", name);
			if (used >= caplen)
				used = caplen - 1;
		}
		*pixels = canvas;
		*w = W;
		*h = H;
		*group = -(long) (i + 1);
		*capidx = -1;
		return 0;
	}
	if (batch_augment_image(c, im, hs | 1, pixels, w, h, &flipped, err, errlen) < 0)
		return -1;
	*group = d->group ? d->group[im] : im;
	*capidx = ci;
	snprintf(cap, caplen, "%s", d->captions[ci]);
	if (flipped && batch_swap_left_right(d->captions[ci], cap, caplen))
		*capidx = -1;
	{
		char		before[MAXCAP];

		snprintf(before, sizeof before, "%s", cap);
		batch_augment_caption(c, hs, cap, caplen);
		if (strcmp(before, cap) != 0)
			*capidx = -1;
	}
	return 0;
}

int
batch_entry(batch_ctx *c, uint64_t seed, long step, int i, int im, unsigned char **pixels, int *w,
			int *h, char *cap, size_t caplen, long *group, char *err, size_t errlen)
{
	int			ci;

	return entry(c, seed, step, i, im, pixels, w, h, cap, caplen, group, &ci, err, errlen);
}

int
batch_fill(batch_ctx *c, uint64_t seed, long step, const int *imgs, int B, int S,
		   const float mean[3], const float std[3], float *images, const int32_t **ids, int *lens,
		   long *group, char *err, size_t errlen)
{
	const dataset *d = c->d;
	int			i;

	for (i = 0; i < B; i++)
	{
		unsigned char *px;
		int			w, h, ci, rc;
		char		cap[MAXCAP];
		long		g;

		if (entry(c, seed, step, i, imgs[i], &px, &w, &h, cap, sizeof cap, &g, &ci, err, errlen) < 0)
			return -1;
		rc = clip_image_preprocess_pixels(px, w, h, 3, S, mean, std, images + (size_t) i * 3 * S * S,
										  err, errlen);
		free(px);
		if (rc < 0)
			return -1;
		if (ci >= 0)
		{
			ids[i] = d->tokens + (size_t) ci * d->context;
			lens[i] = d->ntok[ci];
		}
		else
		{
			int32_t    *dst = c->tokens + (size_t) i * c->context;

			if (!c->tok)
			{
				snprintf(err, errlen, "batch: a caption made on the fly needs the tokenizer");
				return -1;
			}
			memset(dst, 0, sizeof(int32_t) * c->context);
			if (clip_tokenizer_encode(c->tok, cap, strlen(cap), c->context, dst, &lens[i], NULL,
									  err, errlen) < 0)
				return -1;
			ids[i] = dst;
		}
		if (group)
			group[i] = g;
	}
	return 0;
}
