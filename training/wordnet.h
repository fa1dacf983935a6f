/*
 * wordnet.h - the noun part of an installed WordNet 3.0 (Debian
 * wordnet-base, /usr/share/wordnet), read for caption augmentation:
 * synonyms from a word's most frequent sense and that sense's hypernym.
 */
#ifndef SPARSECLIP_TRAINING_WORDNET_H
#define SPARSECLIP_TRAINING_WORDNET_H

#include <stddef.h>

typedef struct wn_db wn_db;

/* Reads DIR/index.noun and DIR/data.noun; NULL with a message. */
extern wn_db *wn_open(const char *dir, char *err, size_t errlen);
extern void wn_close(wn_db *db);

/*
 * Lemmas of the most frequent noun sense of WORD, without capitalised ones, (lower case; "ice cream"
 * or "ice_cream"; a plural is reduced by WordNet's suffix rules), spaces
 * for underscores, WORD itself left out, written one after another as
 * NUL-terminated strings into buf.  Returns how many; 0 when WORD is not a
 * noun or its sense has no other lemma.
 */
extern int	wn_synonyms(const wn_db *db, const char *word, char *buf, size_t buflen);

/*
 * The first lemma of the first hypernym of WORD's most frequent noun sense
 * ("dog" -> "canine"), spaces for underscores, into
 * buf; 0 on success, -1 when there is none.
 */
extern int	wn_hypernym(const wn_db *db, const char *word, char *buf, size_t buflen);

#endif
