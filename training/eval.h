/*
 * eval.h - the parts of sparseclip-eval: zero-shot sets (eval_zeroshot.c),
 * the validation set's retrieval, sparsity, modality and clarity
 * (eval_val.c), options and output (eval.c).
 */
#ifndef SPARSECLIP_TRAINING_EVAL_H
#define SPARSECLIP_TRAINING_EVAL_H

#include <stdint.h>

#include "bpe.h"
#include "data.h"
#include "json.h"
#include "model.h"

typedef struct ctx
{
	sc_model   *m;
	ClipTokenizer *tok;
	sc_workspace ws;
	int			D, batch;
} ctx;

#define FASHION_DIR "/usr/share/datasets/fashion-mnist"

/* print "sparseclip-eval: what: err" and exit 1 */
extern void die(const char *what, const char *err) __attribute__((noreturn));

/* texts into out [n, D]; preprocessed images [n, 3, S, S] into out [n, D] */
extern void encode_texts(ctx *c, char **texts, int n, float *out);
extern void encode_images(ctx *c, const float *in, int n, float *out);
/* a data set's images through a model's own preprocessing: out [nimages, output dim] */
extern void encode_dataset_images(sc_model *m, sc_workspace *ws, int batch, dataset *d,
								  const char *what, float *out);

/* class embeddings [nc, D]: mean of normalised template embeddings, renormalised */
extern float *class_embeddings(ctx *c, char **classes, int nc, char **templates, int nt);
/* top-1 and top-5 (%) of image embeddings against class embeddings */
extern void zero_shot(const float *img, const int *label, int n, const float *cls, int nc, int D,
					  double *top1, double *top5);
/* a zero-shot row: printed, and recorded as KEY.top1, KEY.top5 */
extern void zs_row(const char *task, const char *key, double top1, double top5, const char *note);

/* the zero-shot sets; each prints a row or says why it is skipped */
extern void eval_heldout(ctx *c, const char *classes_tsv);
extern void eval_cifar(ctx *c, const char *shared, const json_value *prompts, int limit, int maxt);
extern void eval_imagenet(ctx *c, const char *shared, const json_value *prompts, int maxt);
extern void eval_fashion(ctx *c, const char *dir, int limit);
/* install Debian's dataset-fashion-mnist when dir is the default and it is absent (root only) */
extern void ensure_fashion(const char *dir);

typedef struct val_opts
{
	const char *judge;			/* dense model for clarity, or NULL */
	int			clarity_top;
	double		modality_lo;
	uint64_t	seed;
} val_opts;

/* everything measured on the paired validation set */
extern void eval_val(ctx *c, const char *val, const val_opts *o);

#endif
