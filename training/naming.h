/*
 * naming.h - the parts of sparseclip-concepts that decide things, kept
 * apart from file and model handling so that tiny designed cases can test
 * them (training/test_naming.c).
 *
 *  - topk: for every dimension, the k items (words or images) that
 *    activate it most, kept while embeddings stream past in batches;
 *  - wordnet: lemmas and synonyms from WordNet's data.* files;
 *  - targets and hits: the naming-quality measure (is the class name, a
 *    word of it, or a WordNet synonym among the names of an image's top
 *    concepts), and the same with the names shuffled across dimensions.
 */
#ifndef SPARSECLIP_NAMING_H
#define SPARSECLIP_NAMING_H

#include <stddef.h>
#include <stdint.h>

/* ---- per-dimension top k ---- */

typedef struct topk
{
	int			dims, k;
	int		   *count;			/* [dims] */
	float	   *val;			/* [dims * k]: a min-heap per dimension */
	int		   *id;				/* [dims * k] */
} topk;

extern topk *topk_new(int dims, int k);
extern void topk_free(topk *t);

/* Offer item id with activation v > 0 for dimension d. */
extern void topk_push(topk *t, int d, float v, int id);

/* Offer every positive entry of n embeddings [n, dims]; row i is item id0 + i. */
extern void topk_add_rows(topk *t, const float *emb, int n, int id0);

/*
 * Dimension d's items, best first (ties: the lower id), into ids/vals
 * (k entries each); returns how many.
 */
extern int	topk_sorted(const topk *t, int d, int *ids, float *vals);

/*
 * The "specific" score: each row [n, dims] standardised by its own mean and
 * standard deviation over all dimensions, in place (positive entries
 * only; zeros stay zero), so that a word ranks high where it stands out
 * among its own dimensions rather than where it is large because it has
 * few active dimensions.  mu[i], sd[i] receive the row's statistics
 * (activation = score * sd + mu); a row with sd 0 is zeroed.
 */
extern void naming_specific(float *emb, int n, int dims, float *mu, float *sd);

/* ---- words ---- */

/*
 * A vocabulary entry as names are stored: ASCII lower case, '_' and runs
 * of white space made one space, trimmed.  Writes at most outlen-1 bytes;
 * returns the length.
 */
extern size_t naming_normalise(const char *in, char *out, size_t outlen);

/* A set of strings (open addressing; owns copies). */
typedef struct strset
{
	size_t		cap, n;
	char	  **slot;
} strset;

extern void strset_init(strset *s);
extern void strset_free(strset *s);
extern int	strset_add(strset *s, const char *str);	/* 1 added, 0 present, -1 out of memory */
extern int	strset_has(const strset *s, const char *str);

/* WordNet: every lemma (normalised) with the synsets it belongs to. */
typedef struct wordnet wordnet;

/* Read dir/data.{noun,verb,adj,adv}; NULL with a message when none reads. */
extern wordnet *wordnet_load(const char *dir, char *err, size_t errlen);
extern void wordnet_free(wordnet *wn);

/* Add word and every lemma sharing a synset with it to out. */
extern void wordnet_add_synonyms(const wordnet *wn, const char *word, strset *out);

/*
 * The targets of a class name for the quality measure.  strict: the
 * normalised class name and its WordNet synonyms.  words (may be NULL):
 * additionally every content word of the name (no stop words), its
 * singular (-s, -es dropped) and their synonyms.  wn may be NULL.
 */
extern void naming_targets(const wordnet *wn, const char *class_name, strset *strict, strset *words);

/*
 * Whether any of the names of dimensions dims[0..n) is in targets.
 * names[d * k + r] are dimension d's names (NULL ends the list); with
 * perm, dimension d carries the names of perm[d]; only the first
 * use_names names of each list count.
 */
extern int	naming_hit(const char *const *names, int k, int use_names, const int *perm,
					   const int *dims, int n, const strset *targets);

/* The n largest entries of x [dims] (ties: the lower dimension); returns how many are > 0. */
extern int	naming_top_dims(const float *x, int dims, int n, int *out);

/* A permutation of 0..n-1, deterministic in seed. */
extern void naming_permutation(int *perm, int n, uint64_t seed);

#endif
