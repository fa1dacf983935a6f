/*
 * bpe_train.h - learn CLIP-style byte-level BPE merges from text.
 *
 * Texts are cleaned as CLIP cleans captions (text_clean.h), split into
 * pre-tokens (letter runs, single digits, runs of other characters,
 * contractions), and each pre-token becomes bytes in CLIP's
 * bytes_to_unicode alphabet with "</w>" on its last symbol.  Merges are
 * learned greedily by pair frequency (ties to the pair seen first), never
 * producing a token string twice.  The result is CLIP's merges text, which
 * clip_tokenizer_new (bpe.h) loads.
 */
#ifndef SPARSECLIP_BPE_TRAIN_H
#define SPARSECLIP_BPE_TRAIN_H

#include <stddef.h>

typedef struct bpe_trainer bpe_trainer;

extern bpe_trainer *bpe_trainer_new(void);
extern void bpe_trainer_free(bpe_trainer *bt);

/* Add one text (any UTF-8; weight = how many times it counts).  -1 on bad UTF-8 or OOM. */
extern int	bpe_trainer_add(bpe_trainer *bt, const char *text, size_t len, int weight,
							char *err, size_t errlen);

/*
 * Learn n_merges merges (vocab_size - 514 for a vocabulary of vocab_size)
 * and return the merges text (malloc'd, "#version: 0.2" then one "a b"
 * line per merge), or NULL with a message when the texts hold too few
 * distinct pairs.
 */
extern char *bpe_trainer_merges(bpe_trainer *bt, int n_merges, char *err, size_t errlen);

#endif
