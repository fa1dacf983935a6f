/*
 * data.h - image-caption data sets for the trainer and the evaluator.
 *
 * A TSV file of lines "image_path<TAB>caption[<TAB>group]" (paths relative
 * to the file; an image with several captions appears on several lines) is
 * read into memory: each distinct image once, as its JPEG bytes, with the
 * list of its captions, tokenized once with the model's tokenizer.
 *
 * group, optional: images with the same group key show the same thing (the
 * same emoji in two styles); an image without one is a group of its own.
 * An image at "img/REST" may have an alpha mask, an 8-bit grayscale JPEG at
 * "alpha/REST" beside it (255 = drawn), read when present (for background
 * augmentation, batch.h).
 */
#ifndef SPARSECLIP_TRAINING_DATA_H
#define SPARSECLIP_TRAINING_DATA_H

#include <stddef.h>
#include <stdint.h>

#include "bpe.h"

typedef struct dataset
{
	int			nimages;
	char	  **paths;			/* as written in the file */
	unsigned char **jpeg;
	size_t	   *jpeg_len;
	int		   *cap_first, *cap_count;	/* captions of image i: cap_first[i] .. + cap_count[i] */
	int			ncaps;
	char	  **captions;		/* grouped by image */
	int			context;		/* token rows are this long */
	int32_t    *tokens;			/* [ncaps, context], after dataset_tokenize */
	int		   *ntok;
	int		   *group;			/* [nimages] group ids 0..ngroups-1 */
	int			ngroups;
	unsigned char **mask;		/* [nimages] alpha mask JPEG or NULL */
	size_t	   *mask_len;
	int			nmasks;
} dataset;

/* A whole file, NUL-terminated (*len without the NUL, when len is not NULL); NULL when it cannot be read. */
extern char *data_slurp(const char *path, size_t *len);

/* Read a TSV and every image it names; -1 with a message. */
extern int	dataset_load(dataset *d, const char *tsv, char *err, size_t errlen);
extern void dataset_free(dataset *d);

/* Tokenize every caption (open_clip tokenize: start, BPE, end, cut to context). */
extern int	dataset_tokenize(dataset *d, const ClipTokenizer *tok, int context, char *err, size_t errlen);

/*
 * Image i preprocessed for a model (size, mean, std) into out [3, S, S].
 * With aug_seed != 0, a light augmentation first: a random crop of 80 to
 * 100% of the area (aspect 3/4 to 4/3), deterministic in aug_seed.
 */
extern int	dataset_image(const dataset *d, int i, int S, const float mean[3], const float std[3],
						  uint64_t aug_seed, float *out, char *err, size_t errlen);

/* splitmix64 step, shared by the trainer's deterministic sampling */
extern uint64_t data_mix(uint64_t x);

#endif
