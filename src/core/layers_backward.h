/*
 * layers_backward.h - backward passes of the kernels in layers.h.
 *
 * sc_<layer>_backward sits beside sc_<layer>_forward, llm.c style: it takes
 * the upstream gradient dout and whatever the forward pass kept, and ADDS
 * into the gradients of the inputs and parameters (so that a tensor used
 * twice, like the residual stream, collects both contributions; callers
 * zero the buffers first).  A gradient pointer may be NULL where that
 * gradient is not wanted.  Nothing here allocates; matrix products go
 * through cblas_sgemm.
 */
#ifndef SPARSECLIP_LAYERS_BACKWARD_H
#define SPARSECLIP_LAYERS_BACKWARD_H

/* LayerNorm: inp, weight and the mean/rstd that sc_layernorm_forward kept. */
extern void sc_layernorm_backward(float *dinp, float *dweight, float *dbias, const float *dout,
								  const float *inp, const float *weight, const float *mean,
								  const float *rstd, int N, int C);

/* out = inp @ weight^T + bias: dinp[N,C], dweight[OC,C], dbias[OC]. */
extern void sc_matmul_backward(float *dinp, float *dweight, float *dbias, const float *dout,
							   const float *inp, const float *weight, int N, int C, int OC);

/*
 * Attention of one sequence: dqkv [T, 3C] from dout [T, C], the qkv input
 * and the attention weights att [NH, T, T] of the forward pass.  scratch
 * holds T*T floats.
 */
extern void sc_attention_backward(float *dqkv, float *scratch, const float *dout,
								  const float *qkv, const float *att, int T, int C, int NH);

/* GELU (exact erf form) and QuickGELU, from the forward input. */
extern void sc_gelu_backward(float *dinp, const float *inp, const float *dout, int N);
extern void sc_quick_gelu_backward(float *dinp, const float *inp, const float *dout, int N);

/* out = a + b. */
extern void sc_residual_backward(float *da, float *db, const float *dout, int N);

/*
 * ReLU, from the forward OUTPUT: gradient flows where out > 0 (torch's
 * convention at 0).  Also serves a top-k head, whose zeroed entries pass
 * no gradient either.
 */
extern void sc_relu_backward(float *dinp, const float *out, const float *dout, int N);

/*
 * Row L2 normalisation y = x / ||x||, from the forward INPUT x:
 * dx = (dy - y (y . dy)) / ||x||.  An all-zero row passes no gradient (its
 * output is the constant zero vector; after a ReLU every entry of such a
 * row has zero gradient anyway).
 */
extern void sc_l2norm_backward(float *dinp, const float *inp, const float *dout, int N, int C);

/* Patch extraction: scatter-add patch gradients back into dimage [3, S, S]. */
extern void sc_im2patch_backward(float *dimage, const float *dpatches, int S, int P);

#endif
