/*
 * bpe.h - CLIP's byte-level BPE tokenizer (open_clip SimpleTokenizer).
 *
 * Built from the merges text (bpe_simple_vocab_16e6.txt, as stored in the
 * model file's metadata: first line a version comment, then one "a b" merge
 * per line, best first) and the vocabulary size.  The vocabulary is CLIP's:
 * 256 byte symbols in bytes_to_unicode order, the same with "</w>", one per
 * merge, then <start_of_text> and <end_of_text>; vocab_size - 514 merges are
 * used.  Errors come back as messages; nothing here exits or aborts.
 *
 * A built tokenizer is read-only: encoding from several threads is safe.
 */
#ifndef SPARSECLIP_BPE_H
#define SPARSECLIP_BPE_H

#include <stddef.h>
#include <stdint.h>

typedef struct ClipTokenizer ClipTokenizer;

/*
 * Build a tokenizer.  merges_text need not be NUL-terminated.  Returns NULL
 * and a message in err on failure (too few merge lines, invalid UTF-8, a
 * symbol outside the byte alphabet, vocab_size out of range, out of memory).
 */
ClipTokenizer *clip_tokenizer_new(const char *merges_text, size_t merges_len,
								  int vocab_size, char *err, size_t errlen);
void		clip_tokenizer_free(ClipTokenizer *tok);

int			clip_tokenizer_vocab_size(const ClipTokenizer *tok);
int32_t		clip_tokenizer_sot_id(const ClipTokenizer *tok);
int32_t		clip_tokenizer_eot_id(const ClipTokenizer *tok);

/*
 * open_clip tokenize() of one text: <start_of_text>, the BPE ids of the
 * cleaned text, <end_of_text>; cut to context_length with the last id forced
 * to <end_of_text>.  ids must hold context_length entries: the *n_ids used
 * ones are followed by zeros (open_clip's padding).  *truncated (may be
 * NULL) says whether ids were cut off.  Returns 0, or -1 with a message in
 * err (invalid UTF-8, context_length < 2, out of memory).
 */
int			clip_tokenizer_encode(const ClipTokenizer *tok, const char *text, size_t len,
								  int context_length, int32_t *ids, int *n_ids,
								  int *truncated, char *err, size_t errlen);

/*
 * BPE ids of already cleaned text (see text_clean.h), no start/end tokens,
 * at most max_ids of them (*n_ids is the count kept, *more says whether the
 * text had more).  Returns 0 or -1 with a message.
 */
int			clip_tokenizer_encode_clean(const ClipTokenizer *tok, const char *clean, size_t len,
										int32_t *ids, int max_ids, int *n_ids, int *more,
										char *err, size_t errlen);

/*
 * open_clip decode(): ids back to text, "</w>" read as a space, bytes that
 * are not valid UTF-8 replaced by U+FFFD.  With skip_special, start/end
 * tokens are left out.  *out is malloc'd and NUL-terminated (free() it).
 * Returns 0, or -1 with a message (an id out of range, out of memory).
 */
int			clip_tokenizer_decode(const ClipTokenizer *tok, const int32_t *ids, int n_ids,
								  int skip_special, char **out, size_t *out_len,
								  char *err, size_t errlen);

#endif
