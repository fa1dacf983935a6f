/*
 * svec_funcs.c - svec functions and casts: dims, nnz, norms, top_dims,
 * svec_entries, the array constructor and the real[] casts.
 */
#include "postgres.h"

#include <math.h>

#include "catalog/pg_type.h"
#include "fmgr.h"
#include "funcapi.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"

#include "svec.h"

PG_FUNCTION_INFO_V1(svec_dims);
Datum
svec_dims(PG_FUNCTION_ARGS)
{
	SVec	   *v = PG_GETARG_SVEC_P(0);

	PG_RETURN_INT32(v->dim);
}

PG_FUNCTION_INFO_V1(svec_nnz);
Datum
svec_nnz(PG_FUNCTION_ARGS)
{
	SVec	   *v = PG_GETARG_SVEC_P(0);

	PG_RETURN_INT32(v->nnz);
}

PG_FUNCTION_INFO_V1(svec_l2_norm);
Datum
svec_l2_norm(PG_FUNCTION_ARGS)
{
	SVec	   *v = PG_GETARG_SVEC_P(0);

	PG_RETURN_FLOAT8(sqrt(svec_norm2(v)));
}

/* Unit length; the zero vector stays zero. */
PG_FUNCTION_INFO_V1(svec_l2_normalize);
Datum
svec_l2_normalize(PG_FUNCTION_ARGS)
{
	SVec	   *v = PG_GETARG_SVEC_P(0);
	double		norm = sqrt(svec_norm2(v));

	if (norm == 0.0)
		PG_RETURN_SVEC_P(v);
	PG_RETURN_SVEC_P(svec_scale(v, 1.0 / norm));
}

typedef struct SVecRank
{
	int32		position;
	float4		value;
} SVecRank;

/* Largest weight first; among equal weights the lower dimension first. */
static int
svec_rank_cmp(const void *a, const void *b)
{
	const SVecRank *x = a;
	const SVecRank *y = b;

	if (x->value != y->value)
		return x->value > y->value ? -1 : 1;
	return (x->position > y->position) - (x->position < y->position);
}

static int
int32_cmp(const void *a, const void *b)
{
	int32		x = *(const int32 *) a;
	int32		y = *(const int32 *) b;

	return (x > y) - (x < y);
}

/* Keep the k largest weights (ties go to the lower dimension). */
PG_FUNCTION_INFO_V1(svec_top_dims);
Datum
svec_top_dims(PG_FUNCTION_ARGS)
{
	SVec	   *v = PG_GETARG_SVEC_P(0);
	int32		k = PG_GETARG_INT32(1);
	float4	   *values = SVEC_VALUES(v);
	SVecRank   *ranks;
	int32	   *keep;
	SVec	   *result;

	if (k < 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("top_dims k must not be negative, got %d", k)));
	if (k >= v->nnz)
		PG_RETURN_SVEC_P(v);

	ranks = palloc(sizeof(SVecRank) * v->nnz);
	for (int i = 0; i < v->nnz; i++)
	{
		ranks[i].position = i;
		ranks[i].value = values[i];
	}
	qsort(ranks, v->nnz, sizeof(SVecRank), svec_rank_cmp);

	/* Restore index order among the survivors. */
	keep = palloc(sizeof(int32) * Max(k, 1));
	for (int i = 0; i < k; i++)
		keep[i] = ranks[i].position;
	qsort(keep, k, sizeof(int32), int32_cmp);

	result = svec_alloc(v->dim, k);
	for (int i = 0; i < k; i++)
	{
		result->indices[i] = v->indices[keep[i]];
		SVEC_VALUES(result)[i] = values[keep[i]];
	}
	PG_RETURN_SVEC_P(result);
}

/* svec_entries(svec) returns table(dim int, weight real), 1-based dims. */
PG_FUNCTION_INFO_V1(svec_entries);
Datum
svec_entries(PG_FUNCTION_ARGS)
{
	FuncCallContext *funcctx;
	SVec	   *v;

	if (SRF_IS_FIRSTCALL())
	{
		MemoryContext oldcontext;
		TupleDesc	tupdesc;

		funcctx = SRF_FIRSTCALL_INIT();
		oldcontext = MemoryContextSwitchTo(funcctx->multi_call_memory_ctx);
		if (get_call_result_type(fcinfo, NULL, &tupdesc) != TYPEFUNC_COMPOSITE)
			ereport(ERROR,
					(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
					 errmsg("svec_entries must be called in a context that accepts a record")));
		funcctx->tuple_desc = BlessTupleDesc(tupdesc);
		funcctx->user_fctx = PG_GETARG_SVEC_P_COPY(0);
		funcctx->max_calls = ((SVec *) funcctx->user_fctx)->nnz;
		MemoryContextSwitchTo(oldcontext);
	}

	funcctx = SRF_PERCALL_SETUP();
	v = (SVec *) funcctx->user_fctx;
	if (funcctx->call_cntr < funcctx->max_calls)
	{
		int			i = (int) funcctx->call_cntr;
		Datum		values[2];
		bool		nulls[2] = {false, false};
		HeapTuple	tuple;

		values[0] = Int32GetDatum(v->indices[i] + 1);
		values[1] = Float4GetDatum(SVEC_VALUES(v)[i]);
		tuple = heap_form_tuple(funcctx->tuple_desc, values, nulls);
		SRF_RETURN_NEXT(funcctx, HeapTupleGetDatum(tuple));
	}
	SRF_RETURN_DONE(funcctx);
}

/* Deconstruct a one-dimensional array with no NULLs, or raise ERROR. */
static Datum *
svec_array_elements(ArrayType *array, Oid elemtype, const char *what, int *count)
{
	int16		typlen;
	bool		typbyval;
	char		typalign;
	Datum	   *elems;
	bool	   *nulls;

	if (ARR_NDIM(array) > 1)
		ereport(ERROR,
				(errcode(ERRCODE_ARRAY_SUBSCRIPT_ERROR),
				 errmsg("%s must be a one-dimensional array", what)));
	get_typlenbyvalalign(elemtype, &typlen, &typbyval, &typalign);
	deconstruct_array(array, elemtype, typlen, typbyval, typalign, &elems, &nulls, count);
	for (int i = 0; i < *count; i++)
		if (nulls[i])
			ereport(ERROR,
					(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
					 errmsg("%s must not contain NULLs", what)));
	return elems;
}

/* svec(dims int[], weights real[], n int): 1-based dims in any order. */
PG_FUNCTION_INFO_V1(svec_from_arrays);
Datum
svec_from_arrays(PG_FUNCTION_ARGS)
{
	ArrayType  *dims_array = PG_GETARG_ARRAYTYPE_P(0);
	ArrayType  *weights_array = PG_GETARG_ARRAYTYPE_P(1);
	int32		dim = PG_GETARG_INT32(2);
	Datum	   *dims;
	Datum	   *weights;
	int			ndims,
				nweights;
	int32	   *indices;
	float4	   *values;
	SVec	   *result;

	svec_check_dim(dim);
	dims = svec_array_elements(dims_array, INT4OID, "svec dimensions", &ndims);
	weights = svec_array_elements(weights_array, FLOAT4OID, "svec weights", &nweights);
	if (ndims != nweights)
		ereport(ERROR,
				(errcode(ERRCODE_ARRAY_SUBSCRIPT_ERROR),
				 errmsg("svec dimensions and weights must have the same length, got %d and %d",
						ndims, nweights)));
	svec_check_nnz(ndims);

	indices = palloc(sizeof(int32) * Max(ndims, 1));
	values = palloc(sizeof(float4) * Max(ndims, 1));
	for (int i = 0; i < ndims; i++)
	{
		int32		d = DatumGetInt32(dims[i]);

		if (d < 1 || d > dim)
			ereport(ERROR,
					(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
					 errmsg("svec index %d is out of range for %d dimensions", d, dim),
					 errdetail("Indices are 1-based: they must lie between 1 and %d.", dim)));
		indices[i] = d - 1;
		values[i] = DatumGetFloat4(weights[i]);
	}
	result = svec_from_pairs(dim, ndims, indices, values, ERRCODE_INVALID_PARAMETER_VALUE);
	PG_RETURN_SVEC_P(result);
}

/* Cast real[] -> svec: a dense array, one element per dimension. */
PG_FUNCTION_INFO_V1(array_to_svec);
Datum
array_to_svec(PG_FUNCTION_ARGS)
{
	ArrayType  *array = PG_GETARG_ARRAYTYPE_P(0);
	int32		typmod = PG_GETARG_INT32(1);
	Datum	   *elems;
	int			n,
				nnz = 0;
	SVec	   *result;

	elems = svec_array_elements(array, FLOAT4OID, "array", &n);
	svec_check_dim(n);
	svec_check_typmod(n, typmod);
	for (int i = 0; i < n; i++)
	{
		float4		value = DatumGetFloat4(elems[i]);

		svec_check_value(value);
		if (value != 0.0f)
			nnz++;
	}
	svec_check_nnz(nnz);
	result = svec_alloc(n, nnz);
	nnz = 0;
	for (int i = 0; i < n; i++)
	{
		float4		value = DatumGetFloat4(elems[i]);

		if (value != 0.0f)
		{
			result->indices[nnz] = i;
			SVEC_VALUES(result)[nnz] = value;
			nnz++;
		}
	}
	PG_RETURN_SVEC_P(result);
}

/* Cast svec -> real[]: the dense expansion. */
PG_FUNCTION_INFO_V1(svec_to_array);
Datum
svec_to_array(PG_FUNCTION_ARGS)
{
	SVec	   *v = PG_GETARG_SVEC_P(0);
	Datum	   *elems;

	if ((Size) v->dim > MaxAllocSize / sizeof(Datum))
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("svec of %d dimensions is too large to convert to an array", v->dim)));
	elems = palloc_extended(sizeof(Datum) * v->dim, 0);
	for (int i = 0; i < v->dim; i++)
		elems[i] = Float4GetDatum(0.0f);
	for (int i = 0; i < v->nnz; i++)
		elems[v->indices[i]] = Float4GetDatum(SVEC_VALUES(v)[i]);
	PG_RETURN_ARRAYTYPE_P(construct_array(elems, v->dim, FLOAT4OID, sizeof(float4), true,
										  TYPALIGN_INT));
}
