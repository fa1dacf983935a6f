/*
 * concepts.h - the names of a Sparse-CLIP model's dimensions.
 *
 * A model file may carry, in its metadata (doc/model-format.md):
 *   sparseclip.concepts             a JSON array of sparse_dim items, one per
 *                                   dimension: null or [] (unnamed), a name,
 *                                   or an array of names, best first;
 *   sparseclip.concept_activations  optional, a JSON array of sparse_dim
 *                                   items: null or an array of numbers, one
 *                                   per name of that dimension.
 * sc_concepts_parse turns them into flat arrays that answer "the names of
 * dimension d" in O(1) and "the dimensions named w" by binary search over
 * case-folded names.  sc_concepts_json writes the two values.  Pure C:
 * shared by the extension and the naming tool.
 */
#ifndef SPARSECLIP_CONCEPTS_H
#define SPARSECLIP_CONCEPTS_H

#include <stddef.h>
#include <stdint.h>

#define SC_CONCEPT_NAME_MAX 200	/* bytes in one name */

typedef struct sc_concepts
{
	int			dims;
	size_t		nentries;		/* names over all dimensions */
	uint32_t   *first;			/* [dims + 1]: names of d are entries first[d] .. first[d+1]-1 */
	uint32_t   *entry_dim;		/* [nentries] */
	uint32_t   *name_off;		/* [nentries]: offset of the NUL-terminated name in pool */
	float	   *activation;		/* [nentries]: NaN where the file has none */
	uint32_t   *by_name;		/* [nentries]: entries by folded name, then rank, then dim */
	char	   *pool;			/* the names as stored */
	char	   *folded;			/* the same, ASCII lower case, same offsets */
	int			named_dims;		/* dimensions with at least one name */
	int			has_activations;
} sc_concepts;

/*
 * Parse the metadata values (acts may be NULL) for a model of dims
 * dimensions.  NULL with a message when they are malformed: not JSON, not
 * dims items, a name empty, too long or holding control characters, an
 * activation list of another length or with a non-number.
 */
extern sc_concepts *sc_concepts_parse(const char *names, size_t names_len, const char *acts,
									  size_t acts_len, int dims, char *err, size_t errlen);

extern void sc_concepts_free(sc_concepts *c);

static inline int
sc_concepts_count(const sc_concepts *c, int dim)
{
	return (int) (c->first[dim + 1] - c->first[dim]);
}

/* Name rank (0 = the name) of dimension dim (0-based); NULL past the last. */
static inline const char *
sc_concepts_name(const sc_concepts *c, int dim, int rank)
{
	return rank < sc_concepts_count(c, dim) ? c->pool + c->name_off[c->first[dim] + rank] : NULL;
}

/*
 * The entries whose name equals name (len bytes; ASCII case and
 * surrounding spaces ignored): by_name[*lo .. *hi - 1].  Returns the count.
 */
extern size_t sc_concepts_find(const sc_concepts *c, const char *name, size_t len,
							   size_t *lo, size_t *hi);

/* Rank of entry e among its dimension's names (0 = the name). */
static inline int
sc_concepts_rank(const sc_concepts *c, uint32_t e)
{
	return (int) (e - c->first[c->entry_dim[e]]);
}

/*
 * Write the two metadata values for dims dimensions with up to k names
 * each: names[d * k + r] (NULL or "" ends dimension d's list) and, when
 * acts is not NULL, acts[d * k + r].  Both results are malloc'd (acts_json
 * may be NULL to skip it); -1 when out of memory or a name is invalid.
 */
extern int	sc_concepts_json(const char *const *names, const float *acts, int dims, int k,
							 char **names_json, char **acts_json, char *err, size_t errlen);

#endif
