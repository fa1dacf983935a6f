/*
 * batch_image.c - the pixels of a training batch: decoding, the alpha
 * channel's backgrounds, crops, flips and the style transforms that imitate
 * an unseen style (batch.h lists the options).
 */
#include <stdlib.h>
#include <string.h>

#include "batch_internal.h"
#include "image.h"

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
void
batch_resize_rgb(const unsigned char *src, int sw, int sh, unsigned char *dst, int dw, int dh, int dstride)
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
int
batch_augment_image(batch_ctx *c, int im, uint64_t h, unsigned char **out, int *w, int *hh, int *flipped,
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
