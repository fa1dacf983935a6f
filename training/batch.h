/*
 * batch.h - assembles the training batch: for each entry (seed, step, i)
 * the image pixels after augmentation, the caption tokens after caption
 * augmentation, and a group id.  Everything is a function of (seed, step,
 * i), so a run resumed from its state file sees the same batches.
 *
 * Image augmentation (each with its own probability; the order applied):
 * flat silhouette, a random solid / gradient / noise background behind the
 * alpha mask, hue rotation, grayscale (these three only when no caption of
 * the image names a colour), posterise, RandConv (a random 3x3 convolution over
 * the three channels, mixed with the original), blur, random resized crop,
 * horizontal flip (captions swap left and right; images whose captions
 * have a digit or name flags, letters, text, buttons or signs are never
 * flipped).
 * Composites: a share of entries are two images side by side or four in a
 * 2x2 grid, captioned "A and B" / "A, B, C and D" from their first captions.
 * Caption augmentation: shuffled or dropped tags of a comma list, WordNet
 * synonyms (most frequent noun sense), a template ("an icon of X"), an added
 * hypernym ("dog, a canine").
 */
#ifndef SPARSECLIP_TRAINING_BATCH_H
#define SPARSECLIP_TRAINING_BATCH_H

#include <stdint.h>
#include <stdio.h>

#include "bpe.h"
#include "data.h"
#include "wordnet.h"

typedef struct batch_opts
{
	int			augment;		/* 0: no image augmentation at all (--no-augment) */
	double		crop_min;		/* random resized crop: area share from crop_min to 1 */
	double		p_crop;			/* probability of the crop */
	double		p_background, p_flip, p_gray, p_posterize, p_blur, p_silhouette, p_randconv, p_hue;
	double		composite;		/* share of entries that are composites */
	double		p_tags, p_synonym, p_hypernym, p_template;
	const char *wordnet_dir;	/* WordNet's files, for p_synonym / p_hypernym */
} batch_opts;

extern void batch_opts_default(batch_opts *o);

/*
 * Parses one option at argv[i] into o: returns how many arguments it used
 * (1 or 2), 0 when the option is not one of these, -1 with a message on
 * stderr for a bad value.
 */
extern int	batch_opts_parse(batch_opts *o, int argc, char **argv, int i);
extern int	batch_opts_check(const batch_opts *o);	/* -1 with a message */
extern void batch_opts_usage(FILE *f);
extern char *batch_opts_json(const batch_opts *o);	/* malloc'd */
extern void batch_opts_from_json(batch_opts *o, const char *json);
extern int	batch_opts_text_aug(const batch_opts *o);	/* captions change on the fly */

typedef struct batch_ctx batch_ctx;

/* tok: for captions made on the fly (may be NULL when none are) */
extern batch_ctx *batch_new(const dataset *d, const batch_opts *o, const ClipTokenizer *tok,
							int context, int B, char *err, size_t errlen);
extern void batch_free(batch_ctx *c);

/*
 * One entry as 8-bit RGB pixels (*w x *h, malloc'd into *pixels) and its
 * caption (into cap, NUL-terminated), for entry i of step `step` whose
 * image is `im`; *group as batch_fill's.  0, or -1 with a message.
 */
extern int	batch_entry(batch_ctx *c, uint64_t seed, long step, int i, int im,
						unsigned char **pixels, int *w, int *h, char *cap, size_t caplen,
						long *group, char *err, size_t errlen);

/*
 * The whole batch: images [B, 3, S, S] preprocessed with mean/std; ids[i]
 * and lens[i] the tokens of entry i (pointing into the data set or into
 * the context, valid until the next call); group[i] the data set's group
 * id of the image (>= 0), or -(i+1) for a composite (unique in the batch).
 */
extern int	batch_fill(batch_ctx *c, uint64_t seed, long step, const int *imgs, int B, int S,
					   const float mean[3], const float std[3], float *images,
					   const int32_t **ids, int *lens, long *group, char *err, size_t errlen);

/* Caption helpers, exposed for tests */
extern int	batch_swap_left_right(const char *in, char *out, size_t outlen);	/* 1 when changed */
extern int	batch_has_word(const char *text, const char *const *words);

#endif
