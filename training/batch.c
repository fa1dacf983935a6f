/*
 * batch.c - augmented training batches; see batch.h.
 *
 * Every random choice comes from splitmix64 streams seeded by (seed, step,
 * entry), each decision from its own stream, so switching one option on
 * does not move the draws of another.
 */
#include "batch.h"
#include "image.h"

#include <ctype.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <turbojpeg.h>

#define MAXCAP 512

struct batch_ctx
{
	const dataset *d;
	batch_opts	o;
	const ClipTokenizer *tok;
	int			context, B;
	tjhandle	tj;
	wn_db	   *wn;
	int32_t    *tokens;			/* [B, context] captions made on the fly */
	unsigned char *nocolour;	/* [nimages] 1: no caption names a colour (hue may change) */
	unsigned char *noflip;		/* [nimages] 1: a caption names text, a flag, ... */
};

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

/* ---------- random numbers ---------- */

static uint64_t
rnext(uint64_t *s)
{
	*s = data_mix(*s);
	return *s;
}

static double
runif(uint64_t *s)
{
	return (double) (rnext(s) >> 11) * (1.0 / 9007199254740992.0);
}

static double
rnorm(uint64_t *s)
{
	double		u = runif(s), v = runif(s);

	return sqrt(-2.0 * log(u + 1e-300)) * cos(6.283185307179586 * v);
}

/* an independent stream for decision `what` of entry seed h */
static uint64_t
stream(uint64_t h, uint64_t what)
{
	return data_mix(h ^ (what * 0xD1B54A32D192ED03ULL));
}

/* ---------- words ---------- */

static const char *const colour_words[] = {
	"red", "orange", "yellow", "green", "blue", "purple", "violet", "pink", "brown", "black",
	"white", "gray", "grey", "gold", "golden", "silver", "colour", "color", "colored", "coloured",
	"beige", "cyan", "magenta", "teal", "turquoise", "navy", "maroon", "tone", "blond", "blonde",
	"ginger", "indigo", "lime", "crimson", "scarlet", "amber", "bronze", "rainbow",
	"flag", "flags",				/* a flag's colours are what it is */
	NULL
};

/* mirrored, these show something else or nothing readable */
static const char *const noflip_words[] = {
	"flag", "flags", "letter", "letters", "keycap", "digit", "number", "numbers", "numeral", "text",
	"button", "sign", "alphabet", "abc", "font", "character", "clock", "o", "symbol", "logo", "brand",
	"word", "words", NULL
};

int
batch_has_word(const char *text, const char *const *words)
{
	const char *p = text;

	while (*p)
	{
		const char *s;
		size_t		n;
		int			k;

		while (*p && !isalnum((unsigned char) *p))
			p++;
		s = p;
		while (*p && isalnum((unsigned char) *p))
			p++;
		n = (size_t) (p - s);
		for (k = 0; n > 0 && words[k]; k++)
			if (strlen(words[k]) == n && strncasecmp(s, words[k], n) == 0)
				return 1;
	}
	return 0;
}

static const char *const lr_pairs[][2] = {
	{"left", "right"}, {"right", "left"}, {"leftward", "rightward"}, {"rightward", "leftward"},
	{"leftwards", "rightwards"}, {"rightwards", "leftwards"},
	{"clockwise", "counterclockwise"}, {"counterclockwise", "clockwise"}, {"anticlockwise", "clockwise"},
};

int
batch_swap_left_right(const char *in, char *out, size_t outlen)
{
	size_t		o = 0;
	int			changed = 0;
	const char *p = in;

	if (outlen == 0)
		return 0;
	while (*p && o + 1 < outlen)
	{
		if (isalpha((unsigned char) *p))
		{
			const char *s = p;
			size_t		n, k;
			const char *rep = NULL;

			while (isalpha((unsigned char) *p))
				p++;
			n = (size_t) (p - s);
			for (k = 0; k < sizeof lr_pairs / sizeof lr_pairs[0]; k++)
				if (strlen(lr_pairs[k][0]) == n && strncasecmp(s, lr_pairs[k][0], n) == 0)
					rep = lr_pairs[k][1];
			if (rep)
			{
				size_t		j, rn = strlen(rep);
				int			allcaps = n > 1 && isupper((unsigned char) s[0]) && isupper((unsigned char) s[1]);

				for (j = 0; j < rn && o + 1 < outlen; j++)
				{
					char		ch = rep[j];

					if (allcaps || (j == 0 && isupper((unsigned char) s[0])))
						ch = (char) toupper((unsigned char) ch);
					out[o++] = ch;
				}
				changed = 1;
			}
			else
				for (; s < p && o + 1 < outlen; s++)
					out[o++] = *s;
		}
		else
			out[o++] = *p++;
	}
	out[o] = '\0';
	return changed;
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

			colour |= batch_has_word(cap, colour_words);
			/* a digit in a name is mostly drawn too ("3rd place medal") */
			noflip |= batch_has_word(cap, noflip_words) || strpbrk(cap, "0123456789") != NULL;
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

/* ---------- pixels ---------- */

static int
decode(batch_ctx *c, const unsigned char *jpg, size_t len, int gray, unsigned char **px, int *w, int *h)
{
	int			sub, cs;

	*px = NULL;
	if (tjDecompressHeader3(c->tj, jpg, (unsigned long) len, w, h, &sub, &cs) != 0 ||
		*w <= 0 || *h <= 0 || (size_t) *w * *h > 64u * 1024 * 1024)
		return -1;
	*px = malloc((size_t) *w * *h * (gray ? 1 : 3));
	if (!*px || tjDecompress2(c->tj, jpg, (unsigned long) len, *px, *w, 0, *h,
							  gray ? TJPF_GRAY : TJPF_RGB, 0) != 0)
	{
		free(*px);
		*px = NULL;
		return -1;
	}
	return 0;
}

static unsigned char
clamp8(double v)
{
	return v <= 0 ? 0 : v >= 255 ? 255 : (unsigned char) lround(v);
}

/* Alpha of each pixel: the mask, or (no mask) what is not near white. */
static void
alpha_of(const unsigned char *px, const unsigned char *mask, int n, float *a)
{
	int			k;

	for (k = 0; k < n; k++)
	{
		if (mask)
			a[k] = mask[k] / 255.0f;
		else
		{
			int			m = px[3 * k] < px[3 * k + 1] ? px[3 * k] : px[3 * k + 1];

			m = m < px[3 * k + 2] ? m : px[3 * k + 2];
			a[k] = m >= 243 ? 0.0f : 1.0f;
		}
	}
}

/* A flat silhouette: the drawn part in one colour (mostly dark, as game-icons), over white. */
static void
silhouette(unsigned char *px, const float *a, int n, uint64_t *r)
{
	double		col[3];
	int			k, ch;

	if (runif(r) < 0.6)
		col[0] = col[1] = col[2] = 40 * runif(r);
	else
		for (ch = 0; ch < 3; ch++)
			col[ch] = 255 * runif(r);
	for (k = 0; k < n; k++)
		for (ch = 0; ch < 3; ch++)
			px[3 * k + ch] = clamp8(a[k] * col[ch] + (1 - a[k]) * 255.0);
}

/*
 * The images are alpha over white: pixel = a F + (1 - a) 255; over the
 * background b instead: a F + (1 - a) b = pixel + (1 - a) (b - 255).
 */
static void
background(unsigned char *px, const float *a, int w, int h, uint64_t *r)
{
	int			kind = (int) (rnext(r) % 3), x, y, ch;
	double		c0[3], c1[3], grid[4][4][3], ang, dx, dy, lo = 1e9, hi = -1e9;

	for (ch = 0; ch < 3; ch++)
	{
		c0[ch] = 255 * runif(r);
		c1[ch] = 255 * runif(r);
	}
	for (y = 0; y < 4; y++)
		for (x = 0; x < 4; x++)
			for (ch = 0; ch < 3; ch++)
				grid[y][x][ch] = 255 * runif(r);
	ang = 6.283185307179586 * runif(r);
	dx = cos(ang);
	dy = sin(ang);
	for (y = 0; y < 2; y++)
		for (x = 0; x < 2; x++)
		{
			double		t = dx * x * (w - 1) + dy * y * (h - 1);

			lo = t < lo ? t : lo;
			hi = t > hi ? t : hi;
		}
	for (y = 0; y < h; y++)
		for (x = 0; x < w; x++)
		{
			int			k = y * w + x;
			double		b[3];

			if (a[k] >= 1.0f)
				continue;
			if (kind == 0)
				memcpy(b, c0, sizeof b);
			else if (kind == 1)
			{
				double		t = hi > lo ? (dx * x + dy * y - lo) / (hi - lo) : 0;

				for (ch = 0; ch < 3; ch++)
					b[ch] = c0[ch] + t * (c1[ch] - c0[ch]);
			}
			else
			{
				/* smooth noise: a 4x4 grid of colours, bilinear, plus grain */
				double		gx = 3.0 * x / (w > 1 ? w - 1 : 1), gy = 3.0 * y / (h > 1 ? h - 1 : 1);
				int			ix = gx >= 3 ? 2 : (int) gx, iy = gy >= 3 ? 2 : (int) gy;
				double		fx = gx - ix, fy = gy - iy;

				for (ch = 0; ch < 3; ch++)
					b[ch] = (1 - fy) * ((1 - fx) * grid[iy][ix][ch] + fx * grid[iy][ix + 1][ch]) +
						fy * ((1 - fx) * grid[iy + 1][ix][ch] + fx * grid[iy + 1][ix + 1][ch]) +
						48 * (runif(r) - 0.5);
			}
			for (ch = 0; ch < 3; ch++)
				px[3 * k + ch] = clamp8(px[3 * k + ch] + (1 - a[k]) * (b[ch] - 255.0));
		}
}

/* rotation about the gray axis: white and grays stay, colours turn */
static void
hue_rotate(unsigned char *px, int n, double ang)
{
	double		c = cos(ang), s = sin(ang), t = (1 - c) / 3, q = sqrt(1.0 / 3) * s;
	double		m[3][3] = {{c + t, t - q, t + q}, {t + q, c + t, t - q}, {t - q, t + q, c + t}};
	int			k, ch;

	for (k = 0; k < n; k++)
	{
		double		v[3] = {px[3 * k], px[3 * k + 1], px[3 * k + 2]};

		for (ch = 0; ch < 3; ch++)
			px[3 * k + ch] = clamp8(m[ch][0] * v[0] + m[ch][1] * v[1] + m[ch][2] * v[2]);
	}
}

static void
grayscale(unsigned char *px, int n)
{
	int			k;

	for (k = 0; k < n; k++)
		px[3 * k] = px[3 * k + 1] = px[3 * k + 2] =
			clamp8(0.299 * px[3 * k] + 0.587 * px[3 * k + 1] + 0.114 * px[3 * k + 2]);
}

static void
posterize(unsigned char *px, int n, int bits)
{
	int			k, levels = (1 << bits) - 1;

	for (k = 0; k < 3 * n; k++)
		px[k] = (unsigned char) ((px[k] >> (8 - bits)) * 255 / levels);
}

static void
box_blur(unsigned char *px, int w, int h, unsigned char *tmp)
{
	int			x, y, ch, dx, dy;

	for (y = 0; y < h; y++)
		for (x = 0; x < w; x++)
			for (ch = 0; ch < 3; ch++)
			{
				int			s = 0;

				for (dy = -1; dy <= 1; dy++)
					for (dx = -1; dx <= 1; dx++)
					{
						int			xx = x + dx < 0 ? 0 : x + dx >= w ? w - 1 : x + dx;
						int			yy = y + dy < 0 ? 0 : y + dy >= h ? h - 1 : y + dy;

						s += px[3 * (yy * w + xx) + ch];
					}
				tmp[3 * (y * w + x) + ch] = (unsigned char) ((s + 4) / 9);
			}
	memcpy(px, tmp, (size_t) w * h * 3);
}

/*
 * RandConv (Xu et al. 2021): a 3x3 convolution from 3 to 3 channels with
 * N(0, 1/27) weights keeps shapes and randomises texture and colour; its
 * output is standardised per channel and mixed with the image.
 */
static int
randconv(unsigned char *px, int w, int h, uint64_t *r)
{
	double		k[3][3][3][3], alpha = runif(r), mean[3] = {0}, sd[3] = {0};
	float	   *o = malloc(sizeof(float) * 3 * (size_t) w * h);
	int			x, y, oc, ic, dx, dy, n = w * h;

	if (!o)
		return -1;
	for (oc = 0; oc < 3; oc++)
		for (ic = 0; ic < 3; ic++)
			for (dy = 0; dy < 3; dy++)
				for (dx = 0; dx < 3; dx++)
					k[oc][ic][dy][dx] = rnorm(r) / sqrt(27.0);
	for (y = 0; y < h; y++)
		for (x = 0; x < w; x++)
			for (oc = 0; oc < 3; oc++)
			{
				double		s = 0;

				for (dy = -1; dy <= 1; dy++)
					for (dx = -1; dx <= 1; dx++)
					{
						int			xx = x + dx < 0 ? 0 : x + dx >= w ? w - 1 : x + dx;
						int			yy = y + dy < 0 ? 0 : y + dy >= h ? h - 1 : y + dy;

						for (ic = 0; ic < 3; ic++)
							s += k[oc][ic][dy + 1][dx + 1] * (px[3 * (yy * w + xx) + ic] / 255.0);
					}
				o[3 * (y * w + x) + oc] = (float) s;
				mean[oc] += s;
			}
	for (oc = 0; oc < 3; oc++)
		mean[oc] /= n;
	for (x = 0; x < n; x++)
		for (oc = 0; oc < 3; oc++)
			sd[oc] += (o[3 * x + oc] - mean[oc]) * (o[3 * x + oc] - mean[oc]);
	for (oc = 0; oc < 3; oc++)
		sd[oc] = sqrt(sd[oc] / n) + 1e-6;
	for (x = 0; x < n; x++)
		for (oc = 0; oc < 3; oc++)
		{
			double		v = 128 + 64 * (o[3 * x + oc] - mean[oc]) / sd[oc];

			px[3 * x + oc] = clamp8(alpha * px[3 * x + oc] + (1 - alpha) * v);
		}
	free(o);
	return 0;
}

/* area-average resize of 8-bit RGB (used to shrink tiles of composites) */
static void
resize_rgb(const unsigned char *src, int sw, int sh, unsigned char *dst, int dw, int dh, int dstride)
{
	int			x, y, ch;

	for (y = 0; y < dh; y++)
		for (x = 0; x < dw; x++)
		{
			double		x0 = (double) x * sw / dw, x1 = (double) (x + 1) * sw / dw;
			double		y0 = (double) y * sh / dh, y1 = (double) (y + 1) * sh / dh;
			double		acc[3] = {0}, wsum = 0;
			int			xi, yi;

			for (yi = (int) y0; yi < sh && yi < y1; yi++)
				for (xi = (int) x0; xi < sw && xi < x1; xi++)
				{
					double		wx = (xi + 1 < x1 ? xi + 1 : x1) - (xi > x0 ? xi : x0);
					double		wy = (yi + 1 < y1 ? yi + 1 : y1) - (yi > y0 ? yi : y0);
					double		wt = wx * wy;

					for (ch = 0; ch < 3; ch++)
						acc[ch] += wt * src[3 * (yi * sw + xi) + ch];
					wsum += wt;
				}
			for (ch = 0; ch < 3; ch++)
				dst[3 * (y * dstride + x) + ch] = clamp8(wsum > 0 ? acc[ch] / wsum : 255);
		}
}

/*
 * Image `im` augmented with the draws of entry seed h: *out (malloc'd,
 * *w x *h); *flipped when mirrored.
 */
static int
augment_image(batch_ctx *c, int im, uint64_t h, unsigned char **out, int *w, int *hh, int *flipped,
			  char *err, size_t errlen)
{
	const dataset *d = c->d;
	const batch_opts *o = &c->o;
	unsigned char *px, *mask = NULL, *tmp;
	float	   *a = NULL;
	int			W, H, mw, mh, n;
	uint64_t	r;

	*flipped = 0;
	if (decode(c, d->jpeg[im], d->jpeg_len[im], 0, &px, &W, &H) < 0)
	{
		snprintf(err, errlen, "%s: cannot decode", d->paths[im]);
		return -1;
	}
	n = W * H;
	if (!o->augment)
	{
		*out = px;
		*w = W;
		*hh = H;
		return 0;
	}
	if ((o->p_background > 0 || o->p_silhouette > 0) && d->mask && d->mask[im])
	{
		if (decode(c, d->mask[im], d->mask_len[im], 1, &mask, &mw, &mh) < 0 || mw != W || mh != H)
		{
			free(mask);
			mask = NULL;		/* a mask that does not fit: estimate as without one */
		}
	}
	tmp = malloc((size_t) n * 3);
	a = malloc(sizeof(float) * n);
	if (!tmp || !a)
	{
		free(px);
		free(mask);
		free(tmp);
		free(a);
		snprintf(err, errlen, "batch: out of memory");
		return -1;
	}
	alpha_of(px, mask, n, a);
	/* transforms that take colour away spare images whose captions name one */
	r = stream(h, 1);
	if (runif(&r) < o->p_silhouette && c->nocolour[im])
		silhouette(px, a, n, &r);
	r = stream(h, 2);
	if (runif(&r) < o->p_background)
		background(px, a, W, H, &r);
	r = stream(h, 3);
	if (runif(&r) < o->p_hue && c->nocolour[im])
		hue_rotate(px, n, 6.283185307179586 * (runif(&r) - 0.5));
	r = stream(h, 4);
	if (runif(&r) < o->p_gray && c->nocolour[im])
		grayscale(px, n);
	r = stream(h, 5);
	if (runif(&r) < o->p_posterize)
		posterize(px, n, 2 + (int) (rnext(&r) % 2));
	r = stream(h, 6);
	if (runif(&r) < o->p_randconv && randconv(px, W, H, &r) < 0)
	{
		snprintf(err, errlen, "batch: out of memory");
		free(px);
		free(mask);
		free(tmp);
		free(a);
		return -1;
	}
	r = stream(h, 7);
	if (runif(&r) < o->p_blur)
	{
		int			passes = 1 + (int) (rnext(&r) % 2);

		while (passes--)
			box_blur(px, W, H, tmp);
	}
	r = stream(h, 8);
	if (runif(&r) < o->p_crop)
	{
		/* random resized crop: area crop_min..1, aspect 3/4..4/3 */
		double		area = o->crop_min + (1.0 - o->crop_min) * runif(&r);
		double		aspect = exp(log(0.75) + (log(4.0 / 3.0) - log(0.75)) * runif(&r));
		int			cw = (int) lround(sqrt(area * n * aspect)), ch = (int) lround(sqrt(area * n / aspect));
		int			x0, y0, y;

		cw = cw < 1 ? 1 : cw > W ? W : cw;
		ch = ch < 1 ? 1 : ch > H ? H : ch;
		x0 = (int) (rnext(&r) % (uint64_t) (W - cw + 1));
		y0 = (int) (rnext(&r) % (uint64_t) (H - ch + 1));
		for (y = 0; y < ch; y++)
			memcpy(tmp + (size_t) y * cw * 3, px + ((size_t) (y0 + y) * W + x0) * 3, (size_t) cw * 3);
		memcpy(px, tmp, (size_t) cw * ch * 3);
		W = cw;
		H = ch;
	}
	r = stream(h, 9);
	if (runif(&r) < o->p_flip && !c->noflip[im])
	{
		int			x, y, ch;

		for (y = 0; y < H; y++)
			for (x = 0; x < W / 2; x++)
				for (ch = 0; ch < 3; ch++)
				{
					unsigned char t = px[3 * (y * W + x) + ch];

					px[3 * (y * W + x) + ch] = px[3 * (y * W + W - 1 - x) + ch];
					px[3 * (y * W + W - 1 - x) + ch] = t;
				}
		*flipped = 1;
	}
	free(mask);
	free(tmp);
	free(a);
	*out = px;
	*w = W;
	*hh = H;
	return 0;
}

/* ---------- captions ---------- */

/* never replaced by a synonym: function words, and the emoji modifiers ("medium skin tone") */
static const char *const stop_words[] = {
	"the", "and", "with", "for", "from", "that", "this", "into", "over", "under", "without",
	"holding", "wearing", "its", "are", "has", "have", "one", "two", "three", "four",
	"skin", "tone", "medium", "light", "dark", "hair", "bald", "curly", "left", "right",
	"facing", "up", "down", "top", "bottom", "off", "small", "large", "big", "emoji", "icon", NULL
};

static int
starts_determined(const char *s)
{
	static const char *const det[] = {"a", "an", "the", "two", "three", "four", "some", "many", "no", "one", NULL};
	int			k;

	if (isdigit((unsigned char) s[0]))
		return 1;
	for (k = 0; det[k]; k++)
	{
		size_t		n = strlen(det[k]);

		if (strncasecmp(s, det[k], n) == 0 && (s[n] == ' ' || s[n] == '\0'))
			return 1;
	}
	return 0;
}

/* "a X" / "an X" / "X" (already determined, or a plural) into out */
static void
with_article(const char *x, char *out, size_t outlen)
{
	size_t		n = strlen(x);
	int			plural = n > 3 && x[n - 1] == 's' && x[n - 2] != 's' && x[n - 2] != 'u' && x[n - 2] != 'i';
	int			vowel = strchr("aeiouAEIOU", x[0]) != NULL && x[0] != '\0';

	if (starts_determined(x) || plural)
		snprintf(out, outlen, "%s", x);
	else
		snprintf(out, outlen, "%s %s", vowel ? "an" : "a", x);
}

static int
count_words(const char *s)
{
	int			n = 0, in = 0;

	for (; *s; s++)
	{
		if (*s == ' ')
			in = 0;
		else if (!in)
		{
			in = 1;
			n++;
		}
	}
	return n;
}

/* "grinning face, grin, smile": shuffle the items, drop each with p 1/4, keep one */
static void
shuffle_tags(char *cap, size_t caplen, uint64_t *r)
{
	char		buf[MAXCAP], *items[32], out[MAXCAP];
	int			n = 0, k, keep = 0;
	char	   *p, *save = NULL;

	if (strchr(cap, ':') || strchr(cap, ';') || !strchr(cap, ','))
		return;
	snprintf(buf, sizeof buf, "%s", cap);
	for (p = strtok_r(buf, ",", &save); p && n < 32; p = strtok_r(NULL, ",", &save))
	{
		while (*p == ' ')
			p++;
		if (*p)
			items[n++] = p;
	}
	if (n < 2)
		return;
	for (k = n - 1; k > 0; k--)
	{
		int			j = (int) (rnext(r) % (uint64_t) (k + 1));
		char	   *t = items[k];

		items[k] = items[j];
		items[j] = t;
	}
	out[0] = '\0';
	for (k = 0; k < n; k++)
	{
		if (runif(r) < 0.25 && !(k == n - 1 && keep == 0))
			continue;
		if (keep++)
			strncat(out, ", ", sizeof out - strlen(out) - 1);
		strncat(out, items[k], sizeof out - strlen(out) - 1);
	}
	snprintf(cap, caplen, "%s", out);
}

/* each word of three letters or more, with probability p: a WordNet synonym */
static void
synonyms(const wn_db *wn, char *cap, size_t caplen, double p, uint64_t *r)
{
	char		out[MAXCAP], word[64], syn[1024];
	size_t		o = 0;
	const char *s = cap;

	while (*s && o + 1 < sizeof out)
	{
		if (isalpha((unsigned char) *s))
		{
			const char *b = s;
			size_t		n;
			int			ns;

			while (isalpha((unsigned char) *s))
				s++;
			n = (size_t) (s - b);
			if (n >= 3 && n < sizeof word && runif(r) < p)
			{
				memcpy(word, b, n);
				word[n] = '\0';
				if (!batch_has_word(word, stop_words) && !batch_has_word(word, colour_words) &&
					islower((unsigned char) word[0]) &&
					(ns = wn_synonyms(wn, word, syn, sizeof syn)) > 0)
				{
					int			pick = (int) (rnext(r) % (uint64_t) ns);
					const char *q = syn;

					while (pick--)
						q += strlen(q) + 1;
					o += (size_t) snprintf(out + o, sizeof out - o, "%s", q);
					if (o >= sizeof out)
						o = sizeof out - 1;
					continue;
				}
			}
			while (b < s && o + 1 < sizeof out)
				out[o++] = *b++;
		}
		else
			out[o++] = *s++;
	}
	out[o] = '\0';
	snprintf(cap, caplen, "%s", out);
}

static const char *const templates[] = {
	"an emoji of %s", "an icon of %s", "a drawing of %s", "a picture of %s", "a small icon of %s",
	"%s icon", "a sketch of %s", "an illustration of %s", "a cartoon of %s", "a symbol of %s",
};

/* a short name-like caption ("grinning face"): no punctuation, at most 6 words */
static int
name_like(const char *cap)
{
	return !strpbrk(cap, ":;,()") && count_words(cap) <= 6 && !starts_determined(cap);
}

static void
template_of(char *cap, size_t caplen, uint64_t *r)
{
	char		x[MAXCAP], art[MAXCAP];
	const char *t = templates[rnext(r) % (sizeof templates / sizeof templates[0])];

	snprintf(x, sizeof x, "%s", cap);
	if (strncmp(t, "%s", 2) == 0)
		snprintf(art, sizeof art, "%s", x);
	else
		with_article(x, art, sizeof art);
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
	snprintf(cap, caplen, t, art);
#pragma GCC diagnostic pop
}

/* "X" -> "X, a H" with H the hypernym of X's last word or two ("ice cream") */
static void
hypernym_of(const wn_db *wn, char *cap, size_t caplen, const char *name)
{
	char		last[128], hyp[256], art[300];
	const char *e = name + strlen(name), *b = e;
	int			words;

	for (words = 2; words >= 1; words--)
	{
		int			k = 0;

		b = e;
		while (b > name && k < words)
		{
			b--;
			if (*b == ' ')
				k++;
		}
		if (*b == ' ')
			b++;
		if ((size_t) (e - b) >= sizeof last)
			continue;
		memcpy(last, b, (size_t) (e - b));
		last[e - b] = '\0';
		if (wn_hypernym(wn, last, hyp, sizeof hyp) == 0)
		{
			size_t		n = strlen(cap);

			with_article(hyp, art, sizeof art);
			snprintf(cap + n, caplen - n, ", %s", art);
			return;
		}
	}
}

/* entry's caption from data set caption `cap` (after a swap when flipped) */
static void
augment_caption(batch_ctx *c, uint64_t h, char *cap, size_t caplen)
{
	const batch_opts *o = &c->o;
	uint64_t	r;
	char		name[MAXCAP];
	int			is_name = name_like(cap);

	snprintf(name, sizeof name, "%s", cap);
	r = stream(h, 20);
	if (runif(&r) < o->p_tags)
		shuffle_tags(cap, caplen, &r);
	r = stream(h, 21);
	if (o->p_synonym > 0 && c->wn)
		synonyms(c->wn, cap, caplen, o->p_synonym, &r);
	r = stream(h, 22);
	if (is_name && runif(&r) < o->p_template)
		template_of(cap, caplen, &r);
	r = stream(h, 23);
	if (is_name && c->wn && runif(&r) < o->p_hypernym)
		hypernym_of(c->wn, cap, caplen, name);
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

			if (augment_image(c, tim, stream(hs, 40 + (uint64_t) t), &px, &pw, &ph, &flipped, err, errlen) < 0)
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
			resize_rgb(px, pw, ph, canvas + 3 * ((size_t) oy * W + ox), bw, bh, W);
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
	if (augment_image(c, im, hs | 1, pixels, w, h, &flipped, err, errlen) < 0)
		return -1;
	*group = d->group ? d->group[im] : im;
	*capidx = ci;
	snprintf(cap, caplen, "%s", d->captions[ci]);
	if (flipped && batch_swap_left_right(d->captions[ci], cap, caplen))
		*capidx = -1;
	{
		char		before[MAXCAP];

		snprintf(before, sizeof before, "%s", cap);
		augment_caption(c, hs, cap, caplen);
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
