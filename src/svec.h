/*
 * svec.h - the on-disk layout of the svec sparse vector type.
 *
 * The layout matches pgvector's sparsevec so that the two stay familiar:
 * a varlena header, the dimension count, the number of stored non-zeros,
 * a reserved word, then nnz sorted 0-based int32 indices followed by nnz
 * float4 values.  Zero weights are never stored.
 */
#ifndef SPARSECLIP_SVEC_H
#define SPARSECLIP_SVEC_H

#include "postgres.h"
#include "fmgr.h"

#define SVEC_MAX_DIM	1000000000
#define SVEC_MAX_NNZ	1000000

typedef struct SVec
{
	int32		vl_len_;		/* varlena header (do not touch directly) */
	int32		dim;			/* number of dimensions */
	int32		nnz;			/* number of stored non-zeros */
	int32		unused;			/* reserved, always zero */
	int32		indices[FLEXIBLE_ARRAY_MEMBER];	/* sorted, 0-based */
	/* float4 values[nnz] follow the indices */
} SVec;

#define SVEC_SIZE(nnz)		(offsetof(SVec, indices) + (size_t) (nnz) * (sizeof(int32) + sizeof(float4)))
#define SVEC_VALUES(x)		((float4 *) ((x)->indices + (x)->nnz))

#define DatumGetSVec(x)		((SVec *) PG_DETOAST_DATUM(x))
#define PG_GETARG_SVEC_P(n)	DatumGetSVec(PG_GETARG_DATUM(n))
#define PG_GETARG_SVEC_P_COPY(n)	((SVec *) PG_DETOAST_DATUM_COPY(PG_GETARG_DATUM(n)))
#define PG_RETURN_SVEC_P(x)	PG_RETURN_POINTER(x)

/*
 * Walks the union of two svecs' dimensions in order, giving both weights
 * (0 where a vector has no entry):
 *   SVecMerge m; svec_merge_init(&m, a, b);
 *   while (svec_merge_next(&m, &index, &x, &y)) ...
 */
typedef struct SVecMerge
{
	const SVec *a;
	const SVec *b;
	int			i;
	int			j;
} SVecMerge;

static inline void
svec_merge_init(SVecMerge *m, const SVec *a, const SVec *b)
{
	m->a = a;
	m->b = b;
	m->i = 0;
	m->j = 0;
}

static inline bool
svec_merge_next(SVecMerge *m, int32 *index, float4 *x, float4 *y)
{
	const SVec *a = m->a;
	const SVec *b = m->b;

	if (m->i >= a->nnz && m->j >= b->nnz)
		return false;
	if (m->j >= b->nnz || (m->i < a->nnz && a->indices[m->i] < b->indices[m->j]))
	{
		*index = a->indices[m->i];
		*x = SVEC_VALUES(a)[m->i++];
		*y = 0.0f;
	}
	else if (m->i >= a->nnz || b->indices[m->j] < a->indices[m->i])
	{
		*index = b->indices[m->j];
		*x = 0.0f;
		*y = SVEC_VALUES(b)[m->j++];
	}
	else
	{
		*index = a->indices[m->i];
		*x = SVEC_VALUES(a)[m->i++];
		*y = SVEC_VALUES(b)[m->j++];
	}
	return true;
}

/* Allocate a zeroed svec with room for nnz entries. */
extern SVec *svec_alloc(int32 dim, int32 nnz);

/* Raise ERROR unless a and b have the same number of dimensions. */
extern void svec_check_same_dims(const SVec *a, const SVec *b);

/* Inner product and squared L2 norm, accumulated in double. */
extern double svec_dot(const SVec *a, const SVec *b);
extern double svec_norm2(const SVec *a);

/*
 * Build from arbitrary 0-based (index, value) pairs: sorts, drops zeros,
 * raises dup_errcode on a repeated index.
 */
extern SVec *svec_from_pairs(int32 dim, int32 n, int32 *indices, float4 *values, int dup_errcode);

/* 1 - cosine similarity; NaN when either vector is zero. */
extern double svec_cosine_distance_internal(const SVec *a, const SVec *b);

/* The btree order: dense expansions lexicographically, then dims. */
extern int	svec_cmp_internal(const SVec *a, const SVec *b);

/* Every weight times factor, dropping products that underflow to zero. */
extern SVec *svec_scale(const SVec *a, double factor);
extern SVec *svec_divide(const SVec *a, double divisor);

/* Validation shared by every way of making an svec; each raises ERROR. */
extern void svec_check_dim(int64 dim);
extern void svec_check_nnz(int64 nnz);
extern void svec_check_value(float4 value);
extern void svec_check_typmod(int32 dim, int32 typmod);

#endif
