/*
 * svec_agg.c - sum(svec) and avg(svec).
 *
 * The state is a hash table from dimension to a double sum, so the cost is
 * proportional to the non-zeros seen whatever the dimension count (up to a
 * billion).  It is an expanded object of the type svec_aggstate: transition
 * functions change it in place, with no copy per row.  Its flat form (for
 * parallel workers) and its text form (every double written exactly) let
 * Citus ship partial states from the shards and combine them on the
 * coordinator: Citus does that only for a state type that is not a
 * pseudo-type such as internal, and otherwise rewrites avg into
 * sum(sum) / sum(count), rounding each shard's sum to float4 first.  So a
 * distributed sum or avg equals one node's.
 */
#include "postgres.h"

#include <math.h>

#include "fmgr.h"
#include "lib/stringinfo.h"
#include "utils/builtins.h"
#include "utils/expandeddatum.h"
#include "utils/float.h"
#include "utils/memutils.h"

#include "svec.h"

typedef struct SVecAggState
{
	ExpandedObjectHeader hdr;	/* first: the state is an expanded object */
	int32		dim;
	int64		count;			/* non-NULL inputs */
	int32		used;			/* occupied slots */
	int32		cap;			/* slots, a power of two */
	int32	   *keys;			/* 0-based dimension, or -1 for an empty slot */
	double	   *sums;
} SVecAggState;

/*
 * The flat form: a varlena header, then dim, count and n, then n sorted
 * 0-based dimensions, then (8-byte aligned) their n sums.
 */
typedef struct SVecAggFlat
{
	int32		vl_len_;
	int32		dim;
	int64		count;
	int32		n;
	int32		unused;
} SVecAggFlat;

#define FLAT_KEYS_OFFSET	sizeof(SVecAggFlat)
#define FLAT_SUMS_OFFSET(n)	(FLAT_KEYS_OFFSET + MAXALIGN(sizeof(int32) * (Size) (n)))
#define FLAT_SIZE(n)		(FLAT_SUMS_OFFSET(n) + sizeof(double) * (Size) (n))
#define FLAT_KEYS(f)		((int32 *) ((char *) (f) + FLAT_KEYS_OFFSET))
#define FLAT_SUMS(f)		((double *) ((char *) (f) + FLAT_SUMS_OFFSET((f)->n)))

static Size svec_agg_get_flat_size(ExpandedObjectHeader *eohptr);
static void svec_agg_flatten_into(ExpandedObjectHeader *eohptr, void *result, Size allocated_size);

static const ExpandedObjectMethods svec_agg_methods = {
	svec_agg_get_flat_size,
	svec_agg_flatten_into
};

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
	state->keys = MemoryContextAlloc(state->hdr.eoh_context, sizeof(int32) * cap);
	state->sums = MemoryContextAlloc(state->hdr.eoh_context, sizeof(double) * cap);
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

/* A new, empty state in its own memory context under parent. */
static SVecAggState *
svec_agg_new(MemoryContext parent, int32 dim)
{
	MemoryContext cxt = AllocSetContextCreate(parent, "svec aggregate state",
											  ALLOCSET_SMALL_SIZES);
	SVecAggState *state = MemoryContextAllocZero(cxt, sizeof(SVecAggState));

	EOH_init_header(&state->hdr, &svec_agg_methods, cxt);
	state->dim = dim;
	svec_agg_init_slots(state, 64);
	return state;
}

static int
svec_agg_pair_cmp(const void *a, const void *b)
{
	int64		x = *(const int64 *) a;
	int64		y = *(const int64 *) b;

	return (x > y) - (x < y);
}

/* The occupied slots, ordered by dimension (palloc'd, state->used long). */
static int32 *
svec_agg_sorted_slots(const SVecAggState *state)
{
	/* (dimension << 32 | slot) sorts the slots by dimension. */
	int64	   *pairs = palloc(sizeof(int64) * Max(state->used, 1));
	int32	   *slots = palloc(sizeof(int32) * Max(state->used, 1));
	int32		n = 0;

	for (int32 i = 0; i < state->cap; i++)
		if (state->keys[i] >= 0)
			pairs[n++] = ((int64) state->keys[i] << 32) | (uint32) i;
	qsort(pairs, n, sizeof(int64), svec_agg_pair_cmp);
	for (int32 i = 0; i < n; i++)
		slots[i] = (int32) (pairs[i] & 0xffffffff);
	pfree(pairs);
	return slots;
}

static Size
svec_agg_get_flat_size(ExpandedObjectHeader *eohptr)
{
	SVecAggState *state = (SVecAggState *) eohptr;
	Size		size = FLAT_SIZE(state->used);

	if (size > MaxAllocSize)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("svec aggregate state is too large")));
	return size;
}

static void
svec_agg_flatten_into(ExpandedObjectHeader *eohptr, void *result, Size allocated_size)
{
	SVecAggState *state = (SVecAggState *) eohptr;
	SVecAggFlat *flat = (SVecAggFlat *) result;
	int32	   *slots = svec_agg_sorted_slots(state);
	int32	   *keys;
	double	   *sums;

	Assert(allocated_size == FLAT_SIZE(state->used));
	memset(flat, 0, allocated_size);
	SET_VARSIZE(flat, allocated_size);
	flat->dim = state->dim;
	flat->count = state->count;
	flat->n = state->used;
	keys = FLAT_KEYS(flat);
	sums = FLAT_SUMS(flat);
	for (int32 i = 0; i < state->used; i++)
	{
		keys[i] = state->keys[slots[i]];
		sums[i] = state->sums[slots[i]];
	}
	pfree(slots);
}

static void
svec_agg_corrupt(void)
{
	ereport(ERROR,
			(errcode(ERRCODE_DATA_CORRUPTED),
			 errmsg("invalid svec aggregate state")));
}

/* A new state under parent holding what datum d (flat or expanded) holds. */
static SVecAggState *
svec_agg_copy_of(Datum d, MemoryContext parent)
{
	SVecAggState *state;

	if (VARATT_IS_EXTERNAL_EXPANDED(DatumGetPointer(d)))
	{
		SVecAggState *src = (SVecAggState *) DatumGetEOHP(d);

		if (src->hdr.eoh_methods != &svec_agg_methods)
			svec_agg_corrupt();
		state = svec_agg_new(parent, src->dim);
		for (int32 i = 0; i < src->cap; i++)
			if (src->keys[i] >= 0)
				svec_agg_add(state, src->keys[i], src->sums[i]);
		state->count = src->count;
	}
	else
	{
		SVecAggFlat *flat = (SVecAggFlat *) PG_DETOAST_DATUM(d);
		int32	   *keys;
		double	   *sums;

		if (VARSIZE(flat) < sizeof(SVecAggFlat) || flat->n < 0 ||
			VARSIZE(flat) != FLAT_SIZE(flat->n) || flat->dim < 1 || flat->dim > SVEC_MAX_DIM ||
			flat->count < 0)
			svec_agg_corrupt();
		keys = FLAT_KEYS(flat);
		sums = FLAT_SUMS(flat);
		state = svec_agg_new(parent, flat->dim);
		for (int32 i = 0; i < flat->n; i++)
		{
			if (keys[i] < 0 || keys[i] >= flat->dim || (i > 0 && keys[i] <= keys[i - 1]))
				svec_agg_corrupt();
			svec_agg_add(state, keys[i], sums[i]);
		}
		state->count = flat->count;
	}
	return state;
}

/* Argument argno as a state to read (a temporary copy when it is flat). */
static SVecAggState *
svec_agg_read(FunctionCallInfo fcinfo, int argno)
{
	Datum		d;

	if (PG_ARGISNULL(argno))
		return NULL;
	d = PG_GETARG_DATUM(argno);
	if (VARATT_IS_EXTERNAL_EXPANDED(DatumGetPointer(d)))
	{
		SVecAggState *state = (SVecAggState *) DatumGetEOHP(d);

		if (state->hdr.eoh_methods != &svec_agg_methods)
			svec_agg_corrupt();
		return state;
	}
	return svec_agg_copy_of(d, CurrentMemoryContext);
}

/*
 * Argument argno as a state to change: a read-write expanded state is the
 * aggregate's own (the executor passes it so); anything else is copied into
 * a new one under the aggregate context.
 */
static SVecAggState *
svec_agg_writable(FunctionCallInfo fcinfo, int argno, MemoryContext aggcontext)
{
	Datum		d;

	if (PG_ARGISNULL(argno))
		return NULL;
	d = PG_GETARG_DATUM(argno);
	if (VARATT_IS_EXTERNAL_EXPANDED_RW(DatumGetPointer(d)))
	{
		SVecAggState *state = (SVecAggState *) DatumGetEOHP(d);

		if (state->hdr.eoh_methods != &svec_agg_methods)
			svec_agg_corrupt();
		return state;
	}
	return svec_agg_copy_of(d, aggcontext);
}

/*
 * Where new states live: the aggregate's context, or, when the functions
 * are called directly on states (svec_agg_accum(NULL, v)), the caller's.
 */
static MemoryContext
svec_agg_context(FunctionCallInfo fcinfo)
{
	MemoryContext aggcontext;

	if (!AggCheckCallContext(fcinfo, &aggcontext))
		aggcontext = CurrentMemoryContext;
	return aggcontext;
}

static void
svec_agg_check_dims(int32 a, int32 b)
{
	if (a != b)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_EXCEPTION),
				 errmsg("different svec dimensions %d and %d", a, b)));
}

PG_FUNCTION_INFO_V1(svec_agg_accum);
Datum
svec_agg_accum(PG_FUNCTION_ARGS)
{
	MemoryContext aggcontext = svec_agg_context(fcinfo);
	SVecAggState *state;
	SVec	   *v;

	if (PG_ARGISNULL(1))
	{
		if (PG_ARGISNULL(0))
			PG_RETURN_NULL();
		PG_RETURN_DATUM(PG_GETARG_DATUM(0));
	}
	v = PG_GETARG_SVEC_P(1);
	state = svec_agg_writable(fcinfo, 0, aggcontext);
	if (state == NULL)
		state = svec_agg_new(aggcontext, v->dim);
	else
		svec_agg_check_dims(state->dim, v->dim);

	for (int i = 0; i < v->nnz; i++)
		svec_agg_add(state, v->indices[i], SVEC_VALUES(v)[i]);
	state->count++;
	PG_RETURN_DATUM(EOHPGetRWDatum(&state->hdr));
}

PG_FUNCTION_INFO_V1(svec_agg_combine);
Datum
svec_agg_combine(PG_FUNCTION_ARGS)
{
	MemoryContext aggcontext = svec_agg_context(fcinfo);
	SVecAggState *a;
	SVecAggState *b;

	if (PG_ARGISNULL(1))
	{
		if (PG_ARGISNULL(0))
			PG_RETURN_NULL();
		PG_RETURN_DATUM(PG_GETARG_DATUM(0));
	}
	if (PG_ARGISNULL(0))
	{
		a = svec_agg_copy_of(PG_GETARG_DATUM(1), aggcontext);
		PG_RETURN_DATUM(EOHPGetRWDatum(&a->hdr));
	}
	a = svec_agg_writable(fcinfo, 0, aggcontext);
	b = svec_agg_read(fcinfo, 1);
	svec_agg_check_dims(a->dim, b->dim);
	for (int32 i = 0; i < b->cap; i++)
		if (b->keys[i] >= 0)
			svec_agg_add(a, b->keys[i], b->sums[i]);
	a->count += b->count;
	PG_RETURN_DATUM(EOHPGetRWDatum(&a->hdr));
}

/* The sums divided by divisor, as an svec with sorted indices. */
static SVec *
svec_agg_result(const SVecAggState *state, double divisor)
{
	int32	   *slots = svec_agg_sorted_slots(state);
	int32		n = state->used,
				nnz = 0;
	SVec	   *result;

	result = svec_alloc(state->dim, n);
	for (int32 i = 0; i < n; i++)
	{
		int32		slot = slots[i];
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
	pfree(slots);
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
	SVecAggState *state = svec_agg_read(fcinfo, 0);

	if (state == NULL || state->count == 0)
		PG_RETURN_NULL();
	PG_RETURN_SVEC_P(svec_agg_result(state, 1.0));
}

PG_FUNCTION_INFO_V1(svec_avg_final);
Datum
svec_avg_final(PG_FUNCTION_ARGS)
{
	SVecAggState *state = svec_agg_read(fcinfo, 0);

	if (state == NULL || state->count == 0)
		PG_RETURN_NULL();
	PG_RETURN_SVEC_P(svec_agg_result(state, (double) state->count));
}

/*
 * Text form: {dim:sum,...}/dims;count, 1-based dimensions in order, each
 * sum with 17 significant digits (reads back to the same double).  Citus
 * moves partial states from the shards to the coordinator in this form.
 */
PG_FUNCTION_INFO_V1(svec_aggstate_out);
Datum
svec_aggstate_out(PG_FUNCTION_ARGS)
{
	SVecAggState *state = svec_agg_read(fcinfo, 0);
	int32	   *slots = svec_agg_sorted_slots(state);
	StringInfoData buf;

	initStringInfo(&buf);
	appendStringInfoChar(&buf, '{');
	for (int32 i = 0; i < state->used; i++)
		appendStringInfo(&buf, "%s%d:%.17g", i > 0 ? "," : "",
						 state->keys[slots[i]] + 1, state->sums[slots[i]]);
	appendStringInfo(&buf, "}/%d;" INT64_FORMAT, state->dim, state->count);
	pfree(slots);
	PG_RETURN_CSTRING(buf.data);
}

static void
svec_aggstate_syntax(const char *input)
{
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_TEXT_REPRESENTATION),
			 errmsg("invalid input syntax for type svec_aggstate: \"%s\"", input)));
}

PG_FUNCTION_INFO_V1(svec_aggstate_in);
Datum
svec_aggstate_in(PG_FUNCTION_ARGS)
{
	char	   *input = PG_GETARG_CSTRING(0);
	char	   *p = input;
	char	   *end;
	int32		n = 0,
				cap = 16;
	int64	   *keys = palloc(sizeof(int64) * cap);
	double	   *sums = palloc(sizeof(double) * cap);
	int64		dim,
				count;
	SVecAggFlat *flat;

	if (*p++ != '{')
		svec_aggstate_syntax(input);
	while (*p != '}')
	{
		if (n > 0 && *p++ != ',')
			svec_aggstate_syntax(input);
		if (n == cap)
		{
			if (cap >= (1 << 27))
				ereport(ERROR,
						(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
						 errmsg("svec aggregate state is too large")));
			cap *= 2;
			keys = repalloc(keys, sizeof(int64) * cap);
			sums = repalloc(sums, sizeof(double) * cap);
		}
		errno = 0;
		keys[n] = strtoll(p, &end, 10);
		if (end == p || errno != 0 || *end != ':')
			svec_aggstate_syntax(input);
		p = end + 1;
		sums[n] = strtod(p, &end);
		if (end == p || isnan(sums[n]) || isinf(sums[n]))
			svec_aggstate_syntax(input);
		p = end;
		if (keys[n] < 1 || (n > 0 && keys[n] <= keys[n - 1]))
			svec_aggstate_syntax(input);
		n++;
	}
	p++;
	if (*p++ != '/')
		svec_aggstate_syntax(input);
	errno = 0;
	dim = strtoll(p, &end, 10);
	if (end == p || errno != 0 || *end != ';')
		svec_aggstate_syntax(input);
	p = end + 1;
	count = strtoll(p, &end, 10);
	if (end == p || errno != 0 || *end != '\0' || count < 0)
		svec_aggstate_syntax(input);
	svec_check_dim(dim);
	if (n > 0 && keys[n - 1] > dim)
		svec_aggstate_syntax(input);

	flat = palloc0(FLAT_SIZE(n));
	SET_VARSIZE(flat, FLAT_SIZE(n));
	flat->dim = (int32) dim;
	flat->count = count;
	flat->n = n;
	for (int32 i = 0; i < n; i++)
	{
		FLAT_KEYS(flat)[i] = (int32) (keys[i] - 1);
		FLAT_SUMS(flat)[i] = sums[i];
	}
	PG_RETURN_POINTER(flat);
}
