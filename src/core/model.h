/*
 * model.h - the Sparse-CLIP model runtime: config, weights, encoders.
 *
 * A model is an open_clip CLIP (ViT image tower, causal text transformer)
 * with an optional sparse head: z = ReLU(W (x @ proj)), output z / ||z||.
 * Without the head the output is (x @ proj) / ||x @ proj||.  The file format
 * and the architecture are described in doc/model-format.md.
 *
 * Memory: sc_model_load maps the file read-only; float32 tensors are used
 * in place, F16/BF16 ones converted once into a buffer the model owns.
 * Encoding uses only a caller-owned sc_workspace for scratch, so a progress
 * callback may longjmp out (PostgreSQL ereport) without leaking anything
 * but what the workspace holds, which stays valid and reusable (or is
 * released with sc_workspace_free).  Nothing here calls exit or abort;
 * errors are messages written to err.  Single-threaded except inside
 * OpenBLAS, whose thread count the caller sets (openblas_set_num_threads);
 * see blas_tune.h for making OpenBLAS use the CPU's fast kernels.
 *
 * A loaded model is read-only: any number of threads may encode with it at
 * once, each with its own workspace.  Batches are cut into chunks of rows
 * (about 1,000 tokens at width 256); the progress hook runs before each
 * chunk and before each layer of a chunk.
 */
#ifndef SPARSECLIP_MODEL_H
#define SPARSECLIP_MODEL_H

#include <stddef.h>
#include <stdint.h>

#include "image.h"
#include "safetensors.h"

typedef enum sc_activation
{
	SC_GELU = 0,				/* exact erf GELU, torch nn.GELU() */
	SC_QUICK_GELU = 1			/* x * sigmoid(1.702 x), OpenAI CLIP */
} sc_activation;

typedef struct sc_config
{
	int			image_size, patch_size, vision_width, vision_layers, vision_heads;
	int			context_length, vocab_size, text_width, text_layers, text_heads;
	int			embed_dim;
	int			sparse_dim;		/* 0: dense model */
	int			sparse_topk;	/* TopK head: the k largest of the ReLU's outputs are
								 * kept; 0 keeps every positive one (JSON key optional) */
	sc_activation activation;
	float		image_mean[3], image_std[3];
} sc_config;

/* Fill cfg with a named preset: "tiny" or "ViT-B/32"; -1 if unknown. */
extern int sc_config_preset(const char *name, sc_config *cfg);

/* Check that sizes are positive and divide as needed; -1 with a message. */
extern int sc_config_check(const sc_config *cfg, char *err, size_t errlen);

/* Parse the sparseclip.config JSON (all keys required, none unknown). */
extern int sc_config_from_json(const char *json, sc_config *cfg, char *err, size_t errlen);

/* The config as JSON (malloc'd, NULL when out of memory). */
extern char *sc_config_to_json(const sc_config *cfg);

/* Weights of one pre-LN residual attention block (open_clip names). */
typedef struct sc_block
{
	float	   *ln_1_w, *ln_1_b;
	float	   *in_proj_w, *in_proj_b;		/* [3W, W], [3W]: rows q, k, v */
	float	   *out_proj_w, *out_proj_b;	/* [W, W], [W] */
	float	   *ln_2_w, *ln_2_b;
	float	   *c_fc_w, *c_fc_b;			/* [4W, W], [4W] */
	float	   *c_proj_w, *c_proj_b;		/* [W, 4W], [W] */
} sc_block;

typedef struct sc_params
{
	/* vision tower */
	float	   *v_conv1;		/* [VW, 3, P, P] */
	float	   *v_class_embedding;	/* [VW] */
	float	   *v_positional_embedding; /* [G*G+1, VW] */
	float	   *v_ln_pre_w, *v_ln_pre_b;
	sc_block   *v_blocks;		/* vision_layers */
	float	   *v_ln_post_w, *v_ln_post_b;
	float	   *v_proj;			/* [VW, E] */
	/* text tower */
	float	   *token_embedding;	/* [V, TW] */
	float	   *positional_embedding;	/* [L, TW] */
	sc_block   *t_blocks;		/* text_layers */
	float	   *ln_final_w, *ln_final_b;
	float	   *text_projection;	/* [TW, E] */
	float	   *logit_scale;	/* scalar */
	/* sparse head, both NULL for a dense model */
	float	   *sparse_visual;	/* [S, E] */
	float	   *sparse_text;	/* [S, E] */
} sc_params;

typedef struct sc_model
{
	sc_config	cfg;
	sc_params	p;
	st_file    *file;			/* the mapped file, NULL for an in-memory model */
	float	   *owned;			/* converted or all parameters (see flat) */
	size_t		owned_count;
	int			flat;			/* 1: every parameter lives in owned, in sc_param_list order */
	char	   *bpe;			/* sparseclip.bpe, NULL for a random model */
	char	   *concepts;		/* sparseclip.concepts JSON, or NULL */
	sc_block   *blocks;			/* storage for both towers' blocks */
} sc_model;

/*
 * Optional descriptive metadata keys (doc/model-format.md): shown by the
 * extension's model_info() and set with sparseclip-convert --meta.  A
 * NULL-terminated list of full key names ("sparseclip.model_name", ...).
 */
extern const char *const sc_model_descriptive_keys[];

/*
 * What the model was trained to see behind transparent pixels: the
 * metadata key sparseclip.image_alpha ("white" or "drop", set with
 * sparseclip-convert --meta); CLIP_ALPHA_DROP (open_clip's Pillow
 * behaviour) when absent or for an in-memory model.
 */
extern clip_alpha_mode sc_model_image_alpha(const sc_model *m);

/* Load flags. */
#define SC_LOAD_COPY 1			/* copy every parameter into one flat writable buffer */

/*
 * Load a model file: safetensors validation, config parse, every tensor
 * present with the config's shape (no missing or unknown tensor; the two
 * sparse tensors present exactly when sparse_dim > 0), dtype F32/F16/BF16,
 * sparseclip.bpe present.  NULL with a message on failure.
 */
extern sc_model *sc_model_load(const char *path, int flags, char *err, size_t errlen);

/* The same from a file image in memory (copied; for tests and fuzzing). */
extern sc_model *sc_model_load_memory(const void *buf, size_t len, int flags, char *err, size_t errlen);

/*
 * A model with CLIP-like random weights (normal, std 0.02 for token
 * embeddings, 0.01 positional, width^-0.5 attention, etc.; layer norms 1/0;
 * logit_scale ln(1/0.07)), deterministic in seed, parameters in one flat
 * buffer (flat = 1).  For benchmarks and the trainer's initialisation.
 */
extern sc_model *sc_model_random(const sc_config *cfg, uint64_t seed, char *err, size_t errlen);

/* Save as F32 safetensors with metadata (bpe and concepts may be NULL). */
extern int sc_model_save(const sc_model *m, const char *path, const char *bpe,
						 const char *concepts, char *err, size_t errlen);

extern void sc_model_free(sc_model *m);

/* Embedding length: sparse_dim for a sparse model, else embed_dim. */
extern int sc_model_output_dim(const sc_model *m);

/* One parameter tensor: its open_clip name, shape and where it lives. */
typedef struct sc_param_info
{
	char		name[96];
	int			ndim;
	int64_t		shape[4];
	size_t		numel;
	float	  **slot;			/* the sc_params member pointing at the data */
} sc_param_info;

/*
 * The model's parameters in canonical order (the flat-buffer order).
 * Writes at most max entries to out (out may be NULL) and returns the
 * total count.
 */
extern size_t sc_param_list(sc_model *m, sc_param_info *out, size_t max);

/* Scratch memory for encoding, owned by the caller; zero-initialise it. */
typedef struct sc_workspace
{
	void	   *buf;			/* malloc'd; grown as needed */
	size_t		cap;			/* bytes */
} sc_workspace;

extern void sc_workspace_free(sc_workspace *ws);

/*
 * Progress/cancel hook, called between layers and between batch chunks.
 * Return 0 to go on, nonzero to cancel (the encoder then returns -1 with
 * "cancelled"); it may also longjmp out.
 */
typedef int (*sc_progress_fn) (void *arg);

/*
 * Encode n preprocessed images (float32, [n, 3, image_size, image_size],
 * CHW, already normalised with image_mean/std) into out [n, output_dim].
 * Returns 0, or -1 with a message.
 */
extern int sc_encode_images(const sc_model *m, sc_workspace *ws, const float *images, int n,
							float *out, sc_progress_fn progress, void *progress_arg,
							char *err, size_t errlen);

/*
 * Encode n token sequences (ids[i] holds lens[i] int32 token ids, at most
 * context_length, usually start-of-text ... end-of-text, no padding) into
 * out [n, output_dim].  Features are taken at the position of the largest
 * id (the end-of-text token, as open_clip does); tokens after it do not
 * matter and are not run.
 */
extern int sc_encode_texts(const sc_model *m, sc_workspace *ws, const int32_t *const *ids,
						   const int *lens, int n, float *out, sc_progress_fn progress,
						   void *progress_arg, char *err, size_t errlen);

#endif
