/*
 * layers.h - forward kernels of the CLIP transformer, llm.c style.
 *
 * Each layer is a plain function over float32 arrays, row-major, written as
 * sc_<layer>_forward(out, [saved activations,] inp, params..., sizes) so
 * that a matching sc_<layer>_backward can sit beside it.  Nothing here
 * allocates memory; matrix products go through cblas_sgemm (the OpenBLAS
 * thread count is the caller's business).  "N" is a number of rows
 * (tokens), "C" a width.
 */
#ifndef SPARSECLIP_LAYERS_H
#define SPARSECLIP_LAYERS_H

#include <stddef.h>

/* LayerNorm over the last dimension, eps 1e-5 (torch default).  mean and
 * rstd (N floats each) receive the statistics for a backward pass; either
 * may be NULL.  out may equal inp. */
extern void sc_layernorm_forward(float *out, float *mean, float *rstd, const float *inp,
								 const float *weight, const float *bias, int N, int C);

/* out[N,OC] = inp[N,C] @ weight[OC,C]^T (+ bias[OC] when bias is not NULL),
 * i.e. torch's nn.Linear. */
extern void sc_matmul_forward(float *out, const float *inp, const float *weight,
							  const float *bias, int N, int C, int OC);

/*
 * Multi-head self-attention core of one sequence of T tokens, as
 * nn.MultiheadAttention computes it after in_proj: qkv is [T, 3C] holding
 * q, k, v side by side (head h uses columns h*C/NH .. (h+1)*C/NH - 1 of each),
 * scores are scaled by 1/sqrt(C/NH), softmax over keys, masked to keys
 * <= query when causal.  att [NH, T, T] receives the attention weights
 * (kept for a backward pass); out is [T, C] with heads side by side.
 */
extern void sc_attention_forward(float *out, float *att, const float *qkv,
								 int T, int C, int NH, int causal);

/* GELU, exact erf form (torch nn.GELU()); max abs error about 1e-7. */
extern void sc_gelu_forward(float *out, const float *inp, int N);

/* QuickGELU: x * sigmoid(1.702 x) (OpenAI CLIP). */
extern void sc_quick_gelu_forward(float *out, const float *inp, int N);

/* out = a + b elementwise (out may alias a or b). */
extern void sc_residual_forward(float *out, const float *a, const float *b, int N);

/* out = max(inp, 0). */
extern void sc_relu_forward(float *out, const float *inp, int N);

/*
 * The TopK head: keep the k largest entries of each row of x[N,C]
 * (non-negative, as after ReLU) and zero the rest; at the k-th value ties go
 * to the lower columns, so exactly k survive when k are positive.  k >= C
 * keeps everything.
 */
extern void sc_topk_forward(float *x, int N, int C, int k);

/* Divide each row of x[N,C] by its L2 norm; an all-zero row stays zero. */
extern void sc_l2norm_forward(float *x, int N, int C);

/*
 * Patch extraction for a stride-P convolution without bias (ViT conv1):
 * image [3, S, S] (CHW) -> patches [G*G, 3*P*P], G = S/P, patch rows in
 * (gy, gx) order and columns in (c, py, px) order, matching a conv weight
 * [width, 3, P, P] seen as [width, 3*P*P].  Then sc_matmul_forward makes
 * the patch embeddings.
 */
extern void sc_im2patch_forward(float *patches, const float *image, int S, int P);

/* How many of x[0..n-1] are infinite or NaN. */
extern size_t sc_count_nonfinite(const float *x, size_t n);

/* exp(x) for x <= 0 (softmax after max subtraction); relative error ~2e-7. */
extern float sc_fast_exp_neg(float x);

#endif
