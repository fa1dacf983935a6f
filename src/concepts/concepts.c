/*
 * concepts.c - SQL functions over the named dimensions (concepts) of the
 * configured model: concepts, concept_names, explain_match, concept_search,
 * suppress and boost.
 *
 * The names come from the model file's metadata (src/core/concepts.h).  A
 * backend parses them once, on first use, and keeps them (malloc'd) until
 * the model cache loads another file; the model's own identity (its
 * address and the file's inode, size and mtime) says when that happened.
 */
#include "postgres.h"

#include <math.h>

#include "catalog/pg_type.h"
#include "fmgr.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/tuplestore.h"

#include "concepts.h"
#include "model_cache.h"
#include "svec.h"

static struct
{
	const sc_model *model;
	dev_t		dev;
	ino_t		ino;
	off_t		size;
	struct timespec mtime;
	sc_concepts *names;
}			cache;

/* The configured model's names; ERROR when it has none or they are broken. */
static const sc_concepts *
current_concepts(void)
{
	CachedModel *cm = sparseclip_get_model();
	const sc_model *m = cm->model;
	const char *acts;
	char		err[512];
	sc_concepts *c;

	if (cache.names && cache.model == m && cache.dev == cm->dev && cache.ino == cm->ino &&
		cache.size == cm->size && cache.mtime.tv_sec == cm->mtime.tv_sec &&
		cache.mtime.tv_nsec == cm->mtime.tv_nsec)
		return cache.names;
	sc_concepts_free(cache.names);
	memset(&cache, 0, sizeof cache);
	if (m->cfg.sparse_dim <= 0)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("model \"%s\" is dense: its dimensions are not concepts", cm->path),
				 errhint("Concepts need a Sparse-CLIP model (sparse_dim > 0).")));
	if (m->concepts == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("model \"%s\" has no concept names", cm->path),
				 errhint("Name its dimensions with training/sparseclip-concepts, which writes them into the model file.")));
	acts = m->file ? st_metadata(m->file, "sparseclip.concept_activations") : NULL;
	c = sc_concepts_parse(m->concepts, strlen(m->concepts), acts, acts ? strlen(acts) : 0,
						  m->cfg.sparse_dim, err, sizeof err);
	if (c == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_CONFIG_FILE_ERROR),
				 errmsg("invalid concept names in model file \"%s\"", cm->path),
				 errdetail("%s", err)));
	cache.model = m;
	cache.dev = cm->dev;
	cache.ino = cm->ino;
	cache.size = cm->size;
	cache.mtime = cm->mtime;
	cache.names = c;
	return c;
}

static void
check_model_dims(const SVec *v, const sc_concepts *c)
{
	if (v->dim != c->dims)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_EXCEPTION),
				 errmsg("svec has %d dimensions but the model has %d", v->dim, c->dims)));
}

static void
check_k(int32 k)
{
	if (k < 1)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("k must be at least 1, not %d", k)));
}

static Datum
name_datum(const sc_concepts *c, int dim, bool *isnull)
{
	const char *s = sc_concepts_name(c, dim, 0);

	*isnull = s == NULL;
	return s ? CStringGetTextDatum(s) : (Datum) 0;
}

/* a before b: higher score, then the lower position (= the lower dimension) */
static inline bool
ranks_before(const double *score, int a, int b)
{
	return score[a] > score[b] || (score[a] == score[b] && a < b);
}

/*
 * Positions of the k highest scores of score[0..n), best first, into out;
 * returns how many (min(k, n)).  A heap of k keeps it O(n log k).
 */
static int
top_positions(const double *score, int n, int k, int *out)
{
	int			m = 0,
				i;

	if (k > n)
		k = n;
	for (i = 0; i < n; i++)
	{
		int			j;

		/* out[0..m) is a heap whose root is the worst kept */
		if (m < k)
		{
			j = m++;
			while (j > 0 && ranks_before(score, out[(j - 1) / 2], i))
			{
				out[j] = out[(j - 1) / 2];
				j = (j - 1) / 2;
			}
			out[j] = i;
		}
		else if (ranks_before(score, i, out[0]))
		{
			j = 0;
			for (;;)
			{
				int			l = 2 * j + 1,
							r = l + 1,
							w = l;

				if (l >= k)
					break;
				if (r < k && ranks_before(score, out[l], out[r]))
					w = r;
				if (!ranks_before(score, i, out[w]))
					break;
				out[j] = out[w];
				j = w;
			}
			out[j] = i;
		}
	}
	/* heap to best-first order: repeatedly move the worst to the end */
	for (i = m - 1; i > 0; i--)
	{
		int			last = out[i],
					j = 0;

		out[i] = out[0];
		for (;;)
		{
			int			l = 2 * j + 1,
						r = l + 1,
						w = l;

			if (l >= i)
				break;
			if (r < i && ranks_before(score, out[l], out[r]))
				w = r;
			if (!ranks_before(score, last, out[w]))
				break;
			out[j] = out[w];
			j = w;
		}
		out[j] = last;
	}
	return m;
}

/* concepts(emb svec, k int) -> (dim, name, weight, share) */
PG_FUNCTION_INFO_V1(sparseclip_concepts);
Datum
sparseclip_concepts(PG_FUNCTION_ARGS)
{
	SVec	   *v = PG_GETARG_SVEC_P(0);
	int32		k = PG_GETARG_INT32(1);
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	const sc_concepts *c;
	const float *w = SVEC_VALUES(v);
	double	   *score;
	int		   *pos;
	double		norm2 = 0.0;
	int			n,
				i;

	check_k(k);
	c = current_concepts();
	check_model_dims(v, c);
	InitMaterializedSRF(fcinfo, 0);
	score = palloc(sizeof(double) * Max(v->nnz, 1));
	pos = palloc(sizeof(int) * Max(Min(k, v->nnz), 1));
	for (i = 0; i < v->nnz; i++)
	{
		score[i] = w[i];
		norm2 += (double) w[i] * w[i];
	}
	n = top_positions(score, v->nnz, k, pos);
	for (i = 0; i < n; i++)
	{
		Datum		values[4];
		bool		nulls[4] = {false, false, false, false};
		int			p = pos[i];

		values[0] = Int32GetDatum(v->indices[p] + 1);
		values[1] = name_datum(c, v->indices[p], &nulls[1]);
		values[2] = Float4GetDatum(w[p]);
		values[3] = Float4GetDatum((float4) ((double) w[p] * w[p] / norm2));
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	return (Datum) 0;
}

static void
put_names_of(ReturnSetInfo *rsinfo, const sc_concepts *c, int dim, bool with_dim)
{
	int			r,
				cnt = sc_concepts_count(c, dim);

	for (r = 0; r < cnt; r++)
	{
		Datum		values[4];
		bool		nulls[4] = {false, false, false, false};
		int			col = 0;
		float		a = c->activation[c->first[dim] + r];

		if (with_dim)
			values[col++] = Int32GetDatum(dim + 1);
		values[col++] = Int32GetDatum(r + 1);
		values[col++] = CStringGetTextDatum(sc_concepts_name(c, dim, r));
		values[col] = Float4GetDatum(a);
		nulls[col] = isnan(a);
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
}

/* concept_names(dim int) -> (rank, name, activation) */
PG_FUNCTION_INFO_V1(sparseclip_concept_names);
Datum
sparseclip_concept_names(PG_FUNCTION_ARGS)
{
	int32		dim = PG_GETARG_INT32(0);
	const sc_concepts *c = current_concepts();

	if (dim < 1 || dim > c->dims)
		ereport(ERROR,
				(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
				 errmsg("dimension %d is out of range for the model's %d dimensions", dim, c->dims)));
	InitMaterializedSRF(fcinfo, 0);
	put_names_of((ReturnSetInfo *) fcinfo->resultinfo, c, dim - 1, false);
	return (Datum) 0;
}

/* concept_names() -> (dim, rank, name, activation), every dimension */
PG_FUNCTION_INFO_V1(sparseclip_concept_names_all);
Datum
sparseclip_concept_names_all(PG_FUNCTION_ARGS)
{
	const sc_concepts *c = current_concepts();
	int			d;

	InitMaterializedSRF(fcinfo, 0);
	for (d = 0; d < c->dims; d++)
	{
		if ((d & 1023) == 0)
			CHECK_FOR_INTERRUPTS();
		put_names_of((ReturnSetInfo *) fcinfo->resultinfo, c, d, true);
	}
	return (Datum) 0;
}

/* explain_match(query svec, row svec, k int) -> (dim, name, contribution, share) */
PG_FUNCTION_INFO_V1(sparseclip_explain_match);
Datum
sparseclip_explain_match(PG_FUNCTION_ARGS)
{
	SVec	   *q = PG_GETARG_SVEC_P(0);
	SVec	   *r = PG_GETARG_SVEC_P(1);
	int32		k = PG_GETARG_INT32(2);
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	const sc_concepts *c;
	int			cap = Max(Min(q->nnz, r->nnz), 1);
	double	   *contrib = palloc(sizeof(double) * cap);
	int32	   *dims = palloc(sizeof(int32) * cap);
	int		   *pos;
	int			n = 0,
				i = 0,
				j = 0,
				m;
	double		total = 0.0;

	check_k(k);
	svec_check_same_dims(q, r);
	c = current_concepts();
	check_model_dims(q, c);
	/* the shared dimensions, in order: the terms of the inner product */
	while (i < q->nnz && j < r->nnz)
	{
		if (q->indices[i] < r->indices[j])
			i++;
		else if (q->indices[i] > r->indices[j])
			j++;
		else
		{
			dims[n] = q->indices[i];
			contrib[n] = (double) SVEC_VALUES(q)[i] * SVEC_VALUES(r)[j];
			total += contrib[n];
			n++;
			i++;
			j++;
		}
	}
	InitMaterializedSRF(fcinfo, 0);
	pos = palloc(sizeof(int) * Max(Min(k, n), 1));
	m = top_positions(contrib, n, k, pos);
	for (i = 0; i < m; i++)
	{
		Datum		values[4];
		bool		nulls[4] = {false, false, false, false};
		int			p = pos[i];

		values[0] = Int32GetDatum(dims[p] + 1);
		values[1] = name_datum(c, dims[p], &nulls[1]);
		values[2] = Float4GetDatum((float4) contrib[p]);
		values[3] = Float4GetDatum((float4) (contrib[p] / total));
		nulls[3] = total == 0.0;
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	return (Datum) 0;
}

/* concept_search(word text) -> (dim, rank, name, activation) */
PG_FUNCTION_INFO_V1(sparseclip_concept_search);
Datum
sparseclip_concept_search(PG_FUNCTION_ARGS)
{
	text	   *word = PG_GETARG_TEXT_PP(0);
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	const sc_concepts *c = current_concepts();
	size_t		lo,
				hi,
				e;

	InitMaterializedSRF(fcinfo, 0);
	sc_concepts_find(c, VARDATA_ANY(word), VARSIZE_ANY_EXHDR(word), &lo, &hi);
	for (e = lo; e < hi; e++)
	{
		uint32		entry = c->by_name[e];
		Datum		values[4];
		bool		nulls[4] = {false, false, false, false};
		float		a = c->activation[entry];

		values[0] = Int32GetDatum(c->entry_dim[entry] + 1);
		values[1] = Int32GetDatum(sc_concepts_rank(c, entry) + 1);
		values[2] = CStringGetTextDatum(c->pool + c->name_off[entry]);
		values[3] = Float4GetDatum(a);
		nulls[3] = isnan(a);
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	return (Datum) 0;
}

/* ---- steering ---- */

static int
cmp_int32(const void *a, const void *b)
{
	int32		x = *(const int32 *) a,
				y = *(const int32 *) b;

	return x < y ? -1 : x > y;
}

/*
 * The 0-based dimensions named by a text[] of concepts: every dimension
 * whose name (not an alternative) is one of them.  Sorted, no repeats.
 */
static int32 *
dims_of_concepts(ArrayType *arr, const sc_concepts *c, int *n_out)
{
	Datum	   *elems;
	bool	   *nulls;
	int			n,
				i,
				cnt = 0,
				cap = 16;
	int32	   *dims = palloc(sizeof(int32) * cap);

	if (ARR_NDIM(arr) > 1)
		ereport(ERROR,
				(errcode(ERRCODE_ARRAY_SUBSCRIPT_ERROR),
				 errmsg("expected a one-dimensional array of concept names")));
	deconstruct_array(arr, TEXTOID, -1, false, TYPALIGN_INT, &elems, &nulls, &n);
	for (i = 0; i < n; i++)
	{
		text	   *t;
		size_t		lo,
					hi,
					e;
		int			found = 0;

		if (nulls[i])
			ereport(ERROR,
					(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
					 errmsg("concept names must not be NULL")));
		t = DatumGetTextPP(elems[i]);
		sc_concepts_find(c, VARDATA_ANY(t), VARSIZE_ANY_EXHDR(t), &lo, &hi);
		for (e = lo; e < hi; e++)
		{
			uint32		entry = c->by_name[e];

			if (sc_concepts_rank(c, entry) != 0)
				continue;
			if (cnt == cap)
			{
				cap *= 2;
				dims = repalloc(dims, sizeof(int32) * cap);
			}
			dims[cnt++] = (int32) c->entry_dim[entry];
			found++;
		}
		if (!found)
		{
			char	   *name = text_to_cstring(t);

			if (hi > lo)
				ereport(ERROR,
						(errcode(ERRCODE_UNDEFINED_OBJECT),
						 errmsg("no dimension is named \"%s\"", name),
						 errdetail("\"%s\" is only an alternative name of dimension %u.",
								   name, c->entry_dim[c->by_name[lo]] + 1),
						 errhint("concept_search('%s') lists the dimensions; steer by dimension with an integer array.", name)));
			ereport(ERROR,
					(errcode(ERRCODE_UNDEFINED_OBJECT),
					 errmsg("unknown concept \"%s\"", name),
					 errhint("concept_names() lists the names of the model's dimensions.")));
		}
	}
	qsort(dims, cnt, sizeof(int32), cmp_int32);
	for (i = 0, n = 0; i < cnt; i++)
		if (n == 0 || dims[n - 1] != dims[i])
			dims[n++] = dims[i];
	*n_out = n;
	return dims;
}

/* The 0-based dimensions of an int[] of 1-based ones, sorted, no repeats. */
static int32 *
dims_of_ints(ArrayType *arr, int32 ndims, int *n_out)
{
	Datum	   *elems;
	bool	   *nulls;
	int			n,
				i,
				m = 0;
	int32	   *dims;

	if (ARR_NDIM(arr) > 1)
		ereport(ERROR,
				(errcode(ERRCODE_ARRAY_SUBSCRIPT_ERROR),
				 errmsg("expected a one-dimensional array of dimensions")));
	deconstruct_array(arr, INT4OID, sizeof(int32), true, TYPALIGN_INT, &elems, &nulls, &n);
	dims = palloc(sizeof(int32) * Max(n, 1));
	for (i = 0; i < n; i++)
	{
		int32		d;

		if (nulls[i])
			ereport(ERROR,
					(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
					 errmsg("dimensions must not be NULL")));
		d = DatumGetInt32(elems[i]);
		if (d < 1 || d > ndims)
			ereport(ERROR,
					(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
					 errmsg("dimension %d is out of range for %d dimensions", d, ndims)));
		dims[i] = d - 1;
	}
	qsort(dims, n, sizeof(int32), cmp_int32);
	for (i = 0; i < n; i++)
		if (m == 0 || dims[m - 1] != dims[i])
			dims[m++] = dims[i];
	*n_out = m;
	return dims;
}

/* v scaled to unit length (zero stays zero) */
static SVec *
unit(SVec *v)
{
	double		norm = sqrt(svec_norm2(v));

	return norm > 0.0 ? svec_scale(v, 1.0 / norm) : v;
}

/* v without the dimensions dims[0..n) (sorted), re-normalised */
static SVec *
suppress_dims(SVec *v, const int32 *dims, int n)
{
	int32	   *idx = palloc(sizeof(int32) * Max(v->nnz, 1));
	float4	   *val = palloc(sizeof(float4) * Max(v->nnz, 1));
	int			i,
				j = 0,
				m = 0;

	for (i = 0; i < v->nnz; i++)
	{
		while (j < n && dims[j] < v->indices[i])
			j++;
		if (j < n && dims[j] == v->indices[i])
			continue;
		idx[m] = v->indices[i];
		val[m++] = SVEC_VALUES(v)[i];
	}
	return unit(svec_from_pairs(v->dim, m, idx, val, ERRCODE_INTERNAL_ERROR));
}

/*
 * v with strength x its largest weight (1 for a vector with no positive
 * weight) added to each of dims[0..n), re-normalised: a concept the vector
 * lacks comes in at strength times its strongest one.
 */
static SVec *
boost_dims(SVec *v, const int32 *dims, int n, float4 strength)
{
	int			cap = v->nnz + n;
	int32	   *idx = palloc(sizeof(int32) * Max(cap, 1));
	float4	   *val = palloc(sizeof(float4) * Max(cap, 1));
	double		top = 0.0;
	float4		add;
	int			i = 0,
				j = 0,
				m = 0;

	if (!isfinite(strength) || strength <= 0.0f)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("strength must be a positive number, not %g", strength),
				 errhint("To remove concepts, use suppress().")));
	for (i = 0; i < v->nnz; i++)
		top = Max(top, (double) SVEC_VALUES(v)[i]);
	if (top <= 0.0)
		top = 1.0;
	add = (float4) (strength * top);
	if (!isfinite(add))
		ereport(ERROR,
				(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
				 errmsg("boosted weight is out of range")));
	i = 0;
	while (i < v->nnz || j < n)
	{
		if (j >= n || (i < v->nnz && v->indices[i] < dims[j]))
		{
			idx[m] = v->indices[i];
			val[m++] = SVEC_VALUES(v)[i++];
		}
		else if (i >= v->nnz || dims[j] < v->indices[i])
		{
			idx[m] = dims[j++];
			val[m++] = add;
		}
		else
		{
			idx[m] = v->indices[i];
			val[m++] = SVEC_VALUES(v)[i++] + add;
			j++;
		}
	}
	for (i = 0; i < m; i++)
		svec_check_value(val[i]);
	return unit(svec_from_pairs(v->dim, m, idx, val, ERRCODE_INTERNAL_ERROR));
}

PG_FUNCTION_INFO_V1(sparseclip_suppress);
Datum
sparseclip_suppress(PG_FUNCTION_ARGS)
{
	SVec	   *v = PG_GETARG_SVEC_P(0);
	ArrayType  *arr = PG_GETARG_ARRAYTYPE_P(1);
	const sc_concepts *c = current_concepts();
	int			n;
	int32	   *dims;

	check_model_dims(v, c);
	dims = dims_of_concepts(arr, c, &n);
	PG_RETURN_SVEC_P(suppress_dims(v, dims, n));
}

PG_FUNCTION_INFO_V1(sparseclip_boost);
Datum
sparseclip_boost(PG_FUNCTION_ARGS)
{
	SVec	   *v = PG_GETARG_SVEC_P(0);
	ArrayType  *arr = PG_GETARG_ARRAYTYPE_P(1);
	float4		strength = PG_GETARG_FLOAT4(2);
	const sc_concepts *c = current_concepts();
	int			n;
	int32	   *dims;

	check_model_dims(v, c);
	dims = dims_of_concepts(arr, c, &n);
	PG_RETURN_SVEC_P(boost_dims(v, dims, n, strength));
}

PG_FUNCTION_INFO_V1(sparseclip_suppress_dims);
Datum
sparseclip_suppress_dims(PG_FUNCTION_ARGS)
{
	SVec	   *v = PG_GETARG_SVEC_P(0);
	int			n;
	int32	   *dims = dims_of_ints(PG_GETARG_ARRAYTYPE_P(1), v->dim, &n);

	PG_RETURN_SVEC_P(suppress_dims(v, dims, n));
}

PG_FUNCTION_INFO_V1(sparseclip_boost_dims);
Datum
sparseclip_boost_dims(PG_FUNCTION_ARGS)
{
	SVec	   *v = PG_GETARG_SVEC_P(0);
	int			n;
	int32	   *dims = dims_of_ints(PG_GETARG_ARRAYTYPE_P(1), v->dim, &n);

	PG_RETURN_SVEC_P(boost_dims(v, dims, n, PG_GETARG_FLOAT4(2)));
}
