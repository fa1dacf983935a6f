/*
 * layers.c - forward kernels of the CLIP transformer; see layers.h.
 */
#include "layers.h"

#include <cblas.h>
#include <math.h>
#include <stdint.h>
#include <string.h>

/*
 * Elementwise loops are written branch-free so that they vectorize; this
 * asks gcc to do it (the build uses -O2) and to clone them for AVX-512 and
 * AVX2, picked at load time from the CPU's features.
 */
#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__)
#define SC_VECTOR_LOOP __attribute__((optimize("O3"), target_clones("avx512f", "avx2", "default")))
/* for reductions: lets gcc reorder the float sums into vector lanes */
#define SC_VECTOR_SUM __attribute__((optimize("O3", "associative-math", "no-signed-zeros", "no-trapping-math"), \
									 target_clones("avx512f", "avx2", "default")))
#else
#define SC_VECTOR_LOOP
#define SC_VECTOR_SUM
#endif

SC_VECTOR_SUM void
sc_layernorm_forward(float *out, float *mean, float *rstd, const float *inp,
					 const float *weight, const float *bias, int N, int C)
{
	int			i, j;

	for (i = 0; i < N; i++)
	{
		const float *x = inp + (size_t) i * C;
		float	   *o = out + (size_t) i * C;
		float		m = 0.0f, v = 0.0f, s;

		for (j = 0; j < C; j++)
			m += x[j];
		m /= (float) C;
		/* two-pass variance: exact enough for activations of any offset */
		for (j = 0; j < C; j++)
		{
			float		d = x[j] - m;

			v += d * d;
		}
		v /= (float) C;
		s = 1.0f / sqrtf(v + 1e-5f);
		for (j = 0; j < C; j++)
			o[j] = (x[j] - m) * s * weight[j] + bias[j];
		if (mean)
			mean[i] = m;
		if (rstd)
			rstd[i] = s;
	}
}

#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__)
#include <immintrin.h>
#define SC_HAVE_AVX512_SMALL 1

/*
 * out[N,OC] = inp[N,C] @ weight[OC,C]^T (+ bias) for few rows (N small),
 * C a multiple of 16.  sgemm packs the whole weight matrix on every call,
 * which costs as much as the product itself when N is a handful of tokens
 * (one text, one image); this reads each weight row once, straight from
 * memory, and takes dot products with 4 rows of inp at a time.
 */
/*
 * The 16 horizontal sums of v[0..15] as one vector (element i = sum of
 * v[i]), by a transpose-and-add tree: 45 instructions instead of 16 full
 * reductions.
 */
__attribute__((target("avx512f"), always_inline)) static inline __m512
hsum16(const __m512 *v)
{
	__m512		t[8], u[4], p0, p1;
	int			i;

	/* per 128-bit lane: [a0+a2, b0+b2, a1+a3, b1+b3] */
	for (i = 0; i < 8; i++)
		t[i] = _mm512_add_ps(_mm512_unpacklo_ps(v[2 * i], v[2 * i + 1]),
							 _mm512_unpackhi_ps(v[2 * i], v[2 * i + 1]));
	/* per lane: the lane sums of v[4j], v[4j+1], v[4j+2], v[4j+3] */
	for (i = 0; i < 4; i++)
		u[i] = _mm512_add_ps(_mm512_shuffle_ps(t[2 * i], t[2 * i + 1], _MM_SHUFFLE(1, 0, 1, 0)),
							 _mm512_shuffle_ps(t[2 * i], t[2 * i + 1], _MM_SHUFFLE(3, 2, 3, 2)));
	/* add the four 128-bit lanes: lane j ends up holding u[j]'s totals */
	p0 = _mm512_add_ps(_mm512_shuffle_f32x4(u[0], u[1], _MM_SHUFFLE(1, 0, 1, 0)),
					   _mm512_shuffle_f32x4(u[0], u[1], _MM_SHUFFLE(3, 2, 3, 2)));
	p1 = _mm512_add_ps(_mm512_shuffle_f32x4(u[2], u[3], _MM_SHUFFLE(1, 0, 1, 0)),
					   _mm512_shuffle_f32x4(u[2], u[3], _MM_SHUFFLE(3, 2, 3, 2)));
	return _mm512_add_ps(_mm512_shuffle_f32x4(p0, p1, _MM_SHUFFLE(2, 0, 2, 0)),
						 _mm512_shuffle_f32x4(p0, p1, _MM_SHUFFLE(3, 1, 3, 1)));
}

/*
 * out[N,OC] = inp[N,C] @ weight[OC,C]^T (+ bias) for few rows (N small),
 * C a multiple of 16.  sgemm packs the whole weight matrix on every call,
 * which costs as much as the product itself when N is a handful of tokens
 * (one text, one image); this reads each weight row once, straight from
 * memory, and takes dot products of 4 weight rows with 4 rows of inp at a
 * time (16 accumulators, summed by hsum16).
 */
__attribute__((target("avx512f"), optimize("O3"))) static void
matmul_small_avx512(float *out, const float *inp, const float *weight, const float *bias,
					int N, int C, int OC)
{
	int			o, n, c, t;
	float		sums[16];

	for (o = 0; o + 4 <= OC; o += 4)
	{
		const float *w0 = weight + (size_t) o * C;

		for (n = 0; n < N; n += 4)
		{
			int			nb = N - n < 4 ? N - n : 4;
			const float *x0 = inp + (size_t) n * C;
			/* rows past N repeat the last one; their sums are dropped */
			const float *x1 = x0 + (size_t) (nb > 1 ? 1 : 0) * C;
			const float *x2 = x0 + (size_t) (nb > 2 ? 2 : 0) * C;
			const float *x3 = x0 + (size_t) (nb > 3 ? 3 : 0) * C;
			__m512		acc[16];

			for (t = 0; t < 16; t++)
				acc[t] = _mm512_setzero_ps();
			for (c = 0; c < C; c += 16)
			{
				__m512		wa = _mm512_loadu_ps(w0 + c);
				__m512		wb = _mm512_loadu_ps(w0 + C + c);
				__m512		wc = _mm512_loadu_ps(w0 + 2 * C + c);
				__m512		wd = _mm512_loadu_ps(w0 + 3 * C + c);
				__m512		xa = _mm512_loadu_ps(x0 + c);
				__m512		xb = _mm512_loadu_ps(x1 + c);
				__m512		xc = _mm512_loadu_ps(x2 + c);
				__m512		xd = _mm512_loadu_ps(x3 + c);

				/* while on the first rows of inp, fetch the next 4 weight rows */
				if (n == 0 && o + 8 <= OC)
				{
					_mm_prefetch((const char *) (w0 + 4 * C + c), _MM_HINT_T0);
					_mm_prefetch((const char *) (w0 + 5 * C + c), _MM_HINT_T0);
					_mm_prefetch((const char *) (w0 + 6 * C + c), _MM_HINT_T0);
					_mm_prefetch((const char *) (w0 + 7 * C + c), _MM_HINT_T0);
				}
				acc[0] = _mm512_fmadd_ps(xa, wa, acc[0]);
				acc[1] = _mm512_fmadd_ps(xa, wb, acc[1]);
				acc[2] = _mm512_fmadd_ps(xa, wc, acc[2]);
				acc[3] = _mm512_fmadd_ps(xa, wd, acc[3]);
				acc[4] = _mm512_fmadd_ps(xb, wa, acc[4]);
				acc[5] = _mm512_fmadd_ps(xb, wb, acc[5]);
				acc[6] = _mm512_fmadd_ps(xb, wc, acc[6]);
				acc[7] = _mm512_fmadd_ps(xb, wd, acc[7]);
				acc[8] = _mm512_fmadd_ps(xc, wa, acc[8]);
				acc[9] = _mm512_fmadd_ps(xc, wb, acc[9]);
				acc[10] = _mm512_fmadd_ps(xc, wc, acc[10]);
				acc[11] = _mm512_fmadd_ps(xc, wd, acc[11]);
				acc[12] = _mm512_fmadd_ps(xd, wa, acc[12]);
				acc[13] = _mm512_fmadd_ps(xd, wb, acc[13]);
				acc[14] = _mm512_fmadd_ps(xd, wc, acc[14]);
				acc[15] = _mm512_fmadd_ps(xd, wd, acc[15]);
			}
			/* element 4t+k: row n+t of inp with weight row o+k */
			_mm512_storeu_ps(sums, hsum16(acc));
			for (t = 0; t < nb; t++)
			{
				float	   *dst = out + (size_t) (n + t) * OC + o;
				int			k;

				for (k = 0; k < 4; k++)
					dst[k] = sums[4 * t + k] + (bias ? bias[o + k] : 0.0f);
			}
		}
	}
	/* the last OC % 4 outputs */
	for (; o < OC; o++)
		for (n = 0; n < N; n++)
		{
			const float *w = weight + (size_t) o * C;
			const float *x = inp + (size_t) n * C;
			__m512		acc = _mm512_setzero_ps();

			for (c = 0; c < C; c += 16)
				acc = _mm512_fmadd_ps(_mm512_loadu_ps(x + c), _mm512_loadu_ps(w + c), acc);
			out[(size_t) n * OC + o] = _mm512_reduce_add_ps(acc) + (bias ? bias[o] : 0.0f);
		}
}
#endif

/*
 * Rows up to which the small-N kernel beats sgemm.  It runs on one thread
 * even when OpenBLAS has more: at so few rows the product is bound by
 * reading the weights, and threaded sgemm gains little over it.
 */
#define SMALL_N_MAX 24

void
sc_matmul_forward(float *out, const float *inp, const float *weight,
				  const float *bias, int N, int C, int OC)
{
	int			i;

#ifdef SC_HAVE_AVX512_SMALL
	if (N <= SMALL_N_MAX && C % 16 == 0 && __builtin_cpu_supports("avx512f"))
	{
		matmul_small_avx512(out, inp, weight, bias, N, C, OC);
		return;
	}
#endif
	if (bias)
	{
		/* seed out with the bias so that sgemm accumulates onto it (beta 1) */
		for (i = 0; i < N; i++)
			memcpy(out + (size_t) i * OC, bias, (size_t) OC * sizeof(float));
	}
	cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, N, OC, C,
				1.0f, inp, C, weight, C, bias ? 1.0f : 0.0f, out, OC);
}

/*
 * exp(x) by Cody-Waite range reduction and a degree-6 polynomial (the
 * Cephes expf coefficients), branch-free so that loops over it vectorize.
 * Valid for x in [-87, 88]; below -87 it returns 0.
 */
static inline float
fast_exp(float x)
{
	const float magic = 12582912.0f;	/* 1.5 * 2^23: adding it rounds to an integer */
	float		t, k, n, r, p;
	union
	{
		float		f;
		uint32_t	u;
	}			kb, e;

	x = x > 88.0f ? 88.0f : x;
	t = x < -87.0f ? -87.0f : x;
	k = t * 1.44269504088896341f + magic;
	n = k - magic;
	r = t - n * 0.693359375f;
	r = r - n * -2.12194440e-4f;
	p = 1.9875691500e-4f;
	p = p * r + 1.3981999507e-3f;
	p = p * r + 8.3334519073e-3f;
	p = p * r + 4.1665795894e-2f;
	p = p * r + 1.6666665459e-1f;
	p = p * r + 5.0000001201e-1f;
	p = p * r * r + r + 1.0f;
	/*
	 * 2^n from k's bits (k's mantissa holds n + 1.5*2^23): unsigned
	 * arithmetic, no float-to-int conversion, so a NaN input has no
	 * undefined behaviour and comes out as NaN below.
	 */
	kb.f = k;
	e.u = (kb.u - 0x4B400000u + 127u) << 23;
	return x != x ? x : (x < -87.0f ? 0.0f : p * e.f);
}

float
sc_fast_exp_neg(float x)
{
	return fast_exp(x);
}

/* row[j] = exp(row[j] - mx) for j < n; returns nothing, vectorizes */
SC_VECTOR_LOOP static void
exp_shifted(float *row, int n, float mx)
{
	int			j;

	for (j = 0; j < n; j++)
		row[j] = fast_exp(row[j] - mx);
}

SC_VECTOR_LOOP static void
scale_row(float *row, int n, float s)
{
	int			j;

	for (j = 0; j < n; j++)
		row[j] *= s;
}

/* Softmax over the first n of T entries; entries n..T-1 (masked) become 0. */
static void
softmax_row(float *row, int n, int T)
{
	float		mx = row[0], sum = 0.0f;
	int			j;

	for (j = 1; j < n; j++)
		mx = row[j] > mx ? row[j] : mx;
	exp_shifted(row, n, mx);
	for (j = 0; j < n; j++)
		sum += row[j];
	scale_row(row, n, 1.0f / sum);
	for (j = n; j < T; j++)
		row[j] = 0.0f;
}

void
sc_attention_forward(float *out, float *att, const float *qkv,
					 int T, int C, int NH, int causal)
{
	int			hs = C / NH;
	float		scale = 1.0f / sqrtf((float) hs);
	int			h, i;

	for (h = 0; h < NH; h++)
	{
		const float *q = qkv + h * hs;
		const float *k = qkv + C + h * hs;
		const float *v = qkv + 2 * C + h * hs;
		float	   *a = att + (size_t) h * T * T;

		/* scores = scale * Q K^T, read in place from the strided qkv rows;
		 * with a causal mask the upper triangle is computed and discarded,
		 * cheaper at these sizes than one call per row block */
		cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, T, T, hs,
					scale, q, 3 * C, k, 3 * C, 0.0f, a, T);
		for (i = 0; i < T; i++)
			softmax_row(a + (size_t) i * T, causal ? i + 1 : T, T);
		/* out_h = att V, written straight into the head's columns of out */
		cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, T, hs, T,
					1.0f, a, T, v, 3 * C, 0.0f, out + h * hs, C);
	}
}

SC_VECTOR_LOOP void
sc_gelu_forward(float *out, const float *inp, int N)
{
	int			i;

	/* 0.5 x (1 + erf(x / sqrt 2)), erf by Abramowitz & Stegun 7.1.26 */
	for (i = 0; i < N; i++)
	{
		float		x = inp[i];
		float		z = x * 0.70710678118654752f;
		float		az = fabsf(z);
		float		t = 1.0f / (1.0f + 0.3275911f * az);
		float		poly = t * (0.254829592f + t * (-0.284496736f + t * (1.421413741f +
													 t * (-1.453152027f + t * 1.061405429f))));
		float		e = 1.0f - poly * fast_exp(-az * az);
		float		erfz = z < 0.0f ? -e : e;

		out[i] = 0.5f * x * (1.0f + erfz);
	}
}

SC_VECTOR_LOOP void
sc_quick_gelu_forward(float *out, const float *inp, int N)
{
	int			i;

	for (i = 0; i < N; i++)
	{
		float		x = inp[i];

		out[i] = x / (1.0f + fast_exp(-1.702f * x));
	}
}

SC_VECTOR_LOOP void
sc_residual_forward(float *out, const float *a, const float *b, int N)
{
	int			i;

	for (i = 0; i < N; i++)
		out[i] = a[i] + b[i];
}

SC_VECTOR_LOOP void
sc_relu_forward(float *out, const float *inp, int N)
{
	int			i;

	for (i = 0; i < N; i++)
		out[i] = inp[i] > 0.0f ? inp[i] : 0.0f;
}

/* entries of r[C] whose bit pattern is at least t (the values' order, for non-negative floats) */
static int
count_at_least(const float *r, int C, uint32_t t)
{
	int			i, n = 0;

	for (i = 0; i < C; i++)
	{
		uint32_t	b;

		memcpy(&b, &r[i], sizeof b);
		n += b >= t;
	}
	return n;
}

void
sc_topk_forward(float *x, int N, int C, int k)
{
	int			row, i;

	if (k >= C)
		return;
	for (row = 0; row < N; row++)
	{
		float	   *r = x + (size_t) row * C;
		uint32_t	lo = 0, hi = 0x7f800000u;	/* +0 .. +inf */
		float		thr;
		int			kept = 0;

		/*
		 * The k-th largest value is the largest t with k entries >= t: a
		 * binary search over bit patterns needs no scratch and no sort.
		 */
		while (lo < hi)
		{
			uint32_t	mid = lo + (hi - lo + 1) / 2;

			if (count_at_least(r, C, mid) >= k)
				lo = mid;
			else
				hi = mid - 1;
		}
		memcpy(&thr, &lo, sizeof thr);
		for (i = 0; i < C; i++)
			kept += r[i] > thr;
		for (i = 0; i < C; i++)
		{
			if (r[i] > thr)
				continue;
			if (r[i] == thr && kept < k && thr > 0.0f)
			{
				kept++;
				continue;
			}
			r[i] = 0.0f;
		}
	}
}

SC_VECTOR_SUM void
sc_l2norm_forward(float *x, int N, int C)
{
	int			i, j;

	for (i = 0; i < N; i++)
	{
		float	   *r = x + (size_t) i * C;
		double		ss = 0.0;
		float		inv;

		for (j = 0; j < C; j++)
			ss += (double) r[j] * r[j];
		if (ss == 0.0)
			continue;
		inv = (float) (1.0 / sqrt(ss));
		for (j = 0; j < C; j++)
			r[j] *= inv;
	}
}

void
sc_im2patch_forward(float *patches, const float *image, int S, int P)
{
	int			G = S / P;
	int			gy, gx, c, py;

	for (gy = 0; gy < G; gy++)
		for (gx = 0; gx < G; gx++)
		{
			float	   *row = patches + ((size_t) gy * G + gx) * 3 * P * P;

			for (c = 0; c < 3; c++)
				for (py = 0; py < P; py++)
					memcpy(row + (c * P + py) * P,
						   image + ((size_t) c * S + gy * P + py) * S + gx * P,
						   (size_t) P * sizeof(float));
		}
}

SC_VECTOR_LOOP size_t
sc_count_nonfinite(const float *x, size_t n)
{
	size_t		i, bad = 0;

	/* exponent all ones: infinity or NaN */
	for (i = 0; i < n; i++)
	{
		uint32_t	b;

		memcpy(&b, x + i, sizeof b);
		bad += (b & 0x7F800000u) == 0x7F800000u;
	}
	return bad;
}
