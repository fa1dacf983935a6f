/*
 * svec_agg.c - sum(svec) and avg(svec).
 *
 * The state is a hash table from dimension to a double sum, so the cost is
 * proportional to the non-zeros seen whatever the dimension count (up to a
 * billion).  Partial states serialise to bytea for parallel aggregation.
 */
#include "postgres.h"

#include <math.h>

#include "fmgr.h"
#include "libpq/pqformat.h"
#include "utils/builtins.h"
#include "utils/float.h"

#include "svec.h"

typedef struct SVecAggState
{
	int32		dim;
	int64		count;			/* non-NULL inputs */
	int32		used;			/* occupied slots */
	int32		cap;			/* slots, a power of two */
	int32	   *keys;			/* dimension, or -1 for an empty slot */
	double	   *sums;
} SVecAggState;

static inline uint32
svec_agg_hash(int32 key)
{
	return (uint32) key * 2654435761u;
}

static void
svec_agg_init_slots(SVecAggState *state, int32 cap)
{
	state->cap = cap;
	state->used = 0;
	state->keys = palloc(sizeof(int32) * cap);
	state->sums = palloc(sizeof(double) * cap);
	memset(state->keys, 0xff, sizeof(int32) * cap);
}

static void svec_agg_add(SVecAggState *state, int32 key, double value);

static void
svec_agg_grow(SVecAggState *state)
{
	int32	   *keys = state->keys;
	double	   *sums = state->sums;
	int32		cap = state->cap;

	if (cap >= (1 << 29))
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("svec aggregate has too many distinct dimensions")));
	svec_agg_init_slots(state, cap * 2);
	for (int32 i = 0; i < cap; i++)
		if (keys[i] >= 0)
			svec_agg_add(state, keys[i], sums[i]);
	pfree(keys);
	pfree(sums);
}

static void
svec_agg_add(SVecAggState *state, int32 key, double value)
{
	uint32		mask = (uint32) state->cap - 1;
	uint32		slot = svec_agg_hash(key) & mask;

	while (state->keys[slot] >= 0 && state->keys[slot] != key)
		slot = (slot + 1) & mask;
	if (state->keys[slot] == key)
	{
		state->sums[slot] += value;
		return;
	}
	state->keys[slot] = key;
	state->sums[slot] = value;
	/* Keep the load under one half so probes stay short. */
	if (++state->used * 2 > state->cap)
		svec_agg_grow(state);
}

static SVecAggState *
svec_agg_new(MemoryContext aggcontext, int32 dim)
{
	MemoryContext old = MemoryContextSwitchTo(aggcontext);
	SVecAggState *state = palloc0(sizeof(SVecAggState));

	state->dim = dim;
	svec_agg_init_slots(state, 64);
	MemoryContextSwitchTo(old);
	return state;
}

static MemoryContext
svec_agg_context(FunctionCallInfo fcinfo)
{
	MemoryContext aggcontext;

	if (!AggCheckCallContext(fcinfo, &aggcontext))
		elog(ERROR, "svec aggregate function called in non-aggregate context");
	return aggcontext;
}

PG_FUNCTION_INFO_V1(svec_agg_accum);
Datum
svec_agg_accum(PG_FUNCTION_ARGS)
{
	MemoryContext aggcontext = svec_agg_context(fcinfo);
	SVecAggState *state = PG_ARGISNULL(0) ? NULL : (SVecAggState *) PG_GETARG_POINTER(0);
	SVec	   *v;
	MemoryContext old;

	if (PG_ARGISNULL(1))
		PG_RETURN_POINTER(state);
	v = PG_GETARG_SVEC_P(1);
	if (state == NULL)
		state = svec_agg_new(aggcontext, v->dim);
	else if (state->dim != v->dim)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_EXCEPTION),
				 errmsg("different svec dimensions %d and %d", state->dim, v->dim)));

	old = MemoryContextSwitchTo(aggcontext);
	for (int i = 0; i < v->nnz; i++)
		svec_agg_add(state, v->indices[i], SVEC_VALUES(v)[i]);
	state->count++;
	MemoryContextSwitchTo(old);
	PG_RETURN_POINTER(state);
}

PG_FUNCTION_INFO_V1(svec_agg_combine);
Datum
svec_agg_combine(PG_FUNCTION_ARGS)
{
	MemoryContext aggcontext = svec_agg_context(fcinfo);
	SVecAggState *a = PG_ARGISNULL(0) ? NULL : (SVecAggState *) PG_GETARG_POINTER(0);
	SVecAggState *b = PG_ARGISNULL(1) ? NULL : (SVecAggState *) PG_GETARG_POINTER(1);
	MemoryContext old;

	if (b == NULL)
		PG_RETURN_POINTER(a);
	if (a == NULL)
		a = svec_agg_new(aggcontext, b->dim);
	else if (a->dim != b->dim)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_EXCEPTION),
				 errmsg("different svec dimensions %d and %d", a->dim, b->dim)));
	old = MemoryContextSwitchTo(aggcontext);
	for (int32 i = 0; i < b->cap; i++)
		if (b->keys[i] >= 0)
			svec_agg_add(a, b->keys[i], b->sums[i]);
	a->count += b->count;
	MemoryContextSwitchTo(old);
	PG_RETURN_POINTER(a);
}

PG_FUNCTION_INFO_V1(svec_agg_serialize);
Datum
svec_agg_serialize(PG_FUNCTION_ARGS)
{
	SVecAggState *state = (SVecAggState *) PG_GETARG_POINTER(0);
	StringInfoData buf;

	pq_begintypsend(&buf);
	pq_sendint32(&buf, state->dim);
	pq_sendint64(&buf, state->count);
	pq_sendint32(&buf, state->used);
	for (int32 i = 0; i < state->cap; i++)
		if (state->keys[i] >= 0)
		{
			pq_sendint32(&buf, state->keys[i]);
			pq_sendfloat8(&buf, state->sums[i]);
		}
	PG_RETURN_BYTEA_P(pq_endtypsend(&buf));
}

PG_FUNCTION_INFO_V1(svec_agg_deserialize);
Datum
svec_agg_deserialize(PG_FUNCTION_ARGS)
{
	bytea	   *data = PG_GETARG_BYTEA_PP(0);
	MemoryContext aggcontext = svec_agg_context(fcinfo);
	StringInfoData buf;
	SVecAggState *state;
	int32		used;
	MemoryContext old;

	initStringInfo(&buf);
	appendBinaryStringInfo(&buf, VARDATA_ANY(data), VARSIZE_ANY_EXHDR(data));
	state = svec_agg_new(aggcontext, pq_getmsgint(&buf, sizeof(int32)));
	state->count = pq_getmsgint64(&buf);
	used = pq_getmsgint(&buf, sizeof(int32));
	old = MemoryContextSwitchTo(aggcontext);
	for (int32 i = 0; i < used; i++)
	{
		int32		key = pq_getmsgint(&buf, sizeof(int32));

		svec_agg_add(state, key, pq_getmsgfloat8(&buf));
	}
	MemoryContextSwitchTo(old);
	pq_getmsgend(&buf);
	PG_RETURN_POINTER(state);
}

static int
svec_agg_pair_cmp(const void *a, const void *b)
{
	int64		x = *(const int64 *) a;
	int64		y = *(const int64 *) b;

	return (x > y) - (x < y);
}

/* The sums divided by divisor, as an svec with sorted indices. */
static SVec *
svec_agg_result(SVecAggState *state, double divisor)
{
	/* (dimension << 32 | slot) sorts the slots by dimension. */
	int64	   *pairs = palloc(sizeof(int64) * Max(state->used, 1));
	int32		n = 0,
				nnz = 0;
	SVec	   *result;

	for (int32 i = 0; i < state->cap; i++)
		if (state->keys[i] >= 0)
			pairs[n++] = ((int64) state->keys[i] << 32) | (uint32) i;
	qsort(pairs, n, sizeof(int64), svec_agg_pair_cmp);

	result = svec_alloc(state->dim, n);
	for (int32 i = 0; i < n; i++)
	{
		int32		slot = (int32) (pairs[i] & 0xffffffff);
		float4		value = (float4) (state->sums[slot] / divisor);

		if (isinf(value))
			float_overflow_error();
		if (value != 0.0f)
		{
			result->indices[nnz] = state->keys[slot];
			SVEC_VALUES(result)[nnz] = value;
			nnz++;
		}
	}
	svec_check_nnz(nnz);
	if (nnz < n)
	{
		/* Values were laid out for n entries: repack for nnz. */
		SVec	   *packed = svec_alloc(state->dim, nnz);

		memcpy(packed->indices, result->indices, sizeof(int32) * nnz);
		memcpy(SVEC_VALUES(packed), SVEC_VALUES(result), sizeof(float4) * nnz);
		result = packed;
	}
	return result;
}

PG_FUNCTION_INFO_V1(svec_sum_final);
Datum
svec_sum_final(PG_FUNCTION_ARGS)
{
	SVecAggState *state = PG_ARGISNULL(0) ? NULL : (SVecAggState *) PG_GETARG_POINTER(0);

	if (state == NULL || state->count == 0)
		PG_RETURN_NULL();
	PG_RETURN_SVEC_P(svec_agg_result(state, 1.0));
}

PG_FUNCTION_INFO_V1(svec_avg_final);
Datum
svec_avg_final(PG_FUNCTION_ARGS)
{
	SVecAggState *state = PG_ARGISNULL(0) ? NULL : (SVecAggState *) PG_GETARG_POINTER(0);

	if (state == NULL || state->count == 0)
		PG_RETURN_NULL();
	PG_RETURN_SVEC_P(svec_agg_result(state, (double) state->count));
}
