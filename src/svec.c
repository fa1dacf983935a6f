/*
 * svec.c - the svec sparse vector type: text and binary I/O, type modifier.
 *
 * Text format is pgvector's sparsevec format: {1:0.5,3:2}/10 with 1-based
 * dimension numbers and the dimension count after the slash.  Stored form is
 * sorted 0-based int32 indices followed by float4 values (see svec.h).
 */
#include "postgres.h"

#include <math.h>

#include "common/shortest_dec.h"
#include "fmgr.h"
#include "lib/stringinfo.h"
#include "libpq/pqformat.h"
#include "parser/scansup.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/float.h"

#include "svec.h"

PG_MODULE_MAGIC;

/* Longest prefix of an input string quoted back in an error message. */
#define SVEC_ERROR_QUOTE_LEN 64

SVec *
svec_alloc(int32 dim, int32 nnz)
{
	Size		size = SVEC_SIZE(nnz);
	SVec	   *v = (SVec *) palloc0(size);

	SET_VARSIZE(v, size);
	v->dim = dim;
	v->nnz = nnz;
	return v;
}

void
svec_check_same_dims(const SVec *a, const SVec *b)
{
	if (a->dim != b->dim)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_EXCEPTION),
				 errmsg("different svec dimensions %d and %d", a->dim, b->dim)));
}

double
svec_dot(const SVec *a, const SVec *b)
{
	const int32 *ai = a->indices;
	const int32 *bi = b->indices;
	const float4 *av = SVEC_VALUES(a);
	const float4 *bv = SVEC_VALUES(b);
	int			i = 0,
				j = 0;
	double		sum = 0.0;

	while (i < a->nnz && j < b->nnz)
	{
		if (ai[i] == bi[j])
			sum += (double) av[i++] * (double) bv[j++];
		else if (ai[i] < bi[j])
			i++;
		else
			j++;
	}
	return sum;
}

double
svec_norm2(const SVec *a)
{
	const float4 *av = SVEC_VALUES(a);
	double		sum = 0.0;

	for (int i = 0; i < a->nnz; i++)
		sum += (double) av[i] * (double) av[i];
	return sum;
}

void
svec_check_dim(int64 dim)
{
	if (dim < 1)
		ereport(ERROR,
				(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
				 errmsg("svec must have at least 1 dimension")));
	if (dim > SVEC_MAX_DIM)
		ereport(ERROR,
				(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
				 errmsg("svec cannot have more than %d dimensions", SVEC_MAX_DIM)));
}

void
svec_check_nnz(int64 nnz)
{
	if (nnz > SVEC_MAX_NNZ)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("svec cannot have more than %d non-zero elements", SVEC_MAX_NNZ)));
}

void
svec_check_value(float4 value)
{
	if (isnan(value))
		ereport(ERROR,
				(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
				 errmsg("NaN not allowed in svec")));
	if (isinf(value))
		ereport(ERROR,
				(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
				 errmsg("infinite value not allowed in svec")));
}

/* Sort (index, value) pairs by index; qsort on an array of pairs. */
typedef struct SVecPair
{
	int32		index;
	float4		value;
} SVecPair;

static int
svec_pair_cmp(const void *a, const void *b)
{
	int32		x = ((const SVecPair *) a)->index;
	int32		y = ((const SVecPair *) b)->index;

	return (x > y) - (x < y);
}

SVec *
svec_from_pairs(int32 dim, int32 n, int32 *indices, float4 *values, int dup_errcode)
{
	SVecPair   *pairs = palloc(sizeof(SVecPair) * Max(n, 1));
	int32		nnz = 0;
	bool		sorted = true;
	SVec	   *result;

	for (int i = 0; i < n; i++)
	{
		if (indices[i] < 0 || indices[i] >= dim)
			ereport(ERROR,
					(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
					 errmsg("svec index %lld is out of range for %d dimensions",
							(long long) indices[i] + 1, dim)));
		svec_check_value(values[i]);
		pairs[i].index = indices[i];
		pairs[i].value = values[i];
		if (i > 0 && indices[i] <= indices[i - 1])
			sorted = false;
	}
	if (!sorted)
		qsort(pairs, n, sizeof(SVecPair), svec_pair_cmp);
	for (int i = 1; i < n; i++)
		if (pairs[i].index == pairs[i - 1].index)
			ereport(ERROR,
					(errcode(dup_errcode),
					 errmsg("svec index %lld appears more than once", (long long) pairs[i].index + 1)));
	for (int i = 0; i < n; i++)
		if (pairs[i].value != 0.0f)
			nnz++;
	svec_check_nnz(nnz);

	result = svec_alloc(dim, nnz);
	nnz = 0;
	for (int i = 0; i < n; i++)
		if (pairs[i].value != 0.0f)
		{
			result->indices[nnz] = pairs[i].index;
			SVEC_VALUES(result)[nnz] = pairs[i].value;
			nnz++;
		}
	pfree(pairs);
	return result;
}

/* The input, shortened for quoting in an error message. */
static char *
svec_quote_input(const char *str)
{
	size_t		len = strlen(str);

	if (len <= SVEC_ERROR_QUOTE_LEN)
		return pstrdup(str);
	return psprintf("%.*s...", SVEC_ERROR_QUOTE_LEN, str);
}

static void
svec_syntax_error(const char *str, const char *p, const char *what)
{
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_TEXT_REPRESENTATION),
			 errmsg("invalid input syntax for type svec: \"%s\"", svec_quote_input(str)),
			 errdetail("%s at character %d.", what, (int) (p - str) + 1)));
}

static inline const char *
svec_skip_space(const char *p)
{
	while (scanner_isspace(*p))
		p++;
	return p;
}

/* Parse a decimal integer at *p for an index or the dimension count. */
static int64
svec_parse_int(const char *str, const char **pp, const char *what)
{
	const char *p = *pp;
	int64		value = 0;
	bool		negative = false;

	if (*p == '-' || *p == '+')
		negative = (*p++ == '-');
	if (!isdigit((unsigned char) *p))
		svec_syntax_error(str, *pp, what);
	while (isdigit((unsigned char) *p))
	{
		/* Saturate: anything this large is out of range anyway. */
		if (value < PG_INT64_MAX / 100)
			value = value * 10 + (*p - '0');
		p++;
	}
	*pp = p;
	return negative ? -value : value;
}

PG_FUNCTION_INFO_V1(svec_in);
Datum
svec_in(PG_FUNCTION_ARGS)
{
	char	   *str = PG_GETARG_CSTRING(0);
	int32		typmod = PG_GETARG_INT32(2);
	const char *p = str;
	int32		cap = 16;
	int32		n = 0;
	int32	   *indices = palloc(sizeof(int32) * cap);
	float4	   *values = palloc(sizeof(float4) * cap);
	int64	   *raw = palloc(sizeof(int64) * cap);
	int64		dim;
	SVec	   *result;

	p = svec_skip_space(p);
	if (*p != '{')
		svec_syntax_error(str, p, "Expected \"{\"");
	p = svec_skip_space(p + 1);

	if (*p != '}')
	{
		for (;;)
		{
			char	   *end;
			float4		value;

			if (n == cap)
			{
				if (n >= SVEC_MAX_NNZ)
					svec_check_nnz((int64) n + 1);
				cap *= 2;
				indices = repalloc(indices, sizeof(int32) * cap);
				values = repalloc(values, sizeof(float4) * cap);
				raw = repalloc(raw, sizeof(int64) * cap);
			}
			raw[n] = svec_parse_int(str, &p, "Expected an index");
			p = svec_skip_space(p);
			if (*p != ':')
				svec_syntax_error(str, p, "Expected \":\" after an index");
			p = svec_skip_space(p + 1);

			errno = 0;
			value = strtof(p, &end);
			if (end == p)
				svec_syntax_error(str, p, "Expected a number");
			if (isnan(value) || isinf(value))
			{
				/* strtof accepts "nan" and "inf": refuse them, but an overflow is a range error. */
				if (errno == ERANGE)
					ereport(ERROR,
							(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
							 errmsg("\"%.*s\" is out of range for type real", (int) (end - p), p)));
				svec_check_value(value);
			}
			if (errno == ERANGE && value == 0.0f)
				ereport(ERROR,
						(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
						 errmsg("\"%.*s\" is out of range for type real", (int) (end - p), p)));
			values[n++] = value;
			p = svec_skip_space(end);
			if (*p == ',')
			{
				p = svec_skip_space(p + 1);
				continue;
			}
			if (*p == '}')
				break;
			svec_syntax_error(str, p, "Expected \",\" or \"}\"");
		}
	}
	p = svec_skip_space(p + 1);
	if (*p != '/')
		svec_syntax_error(str, p, "Expected \"/\" and the number of dimensions");
	p = svec_skip_space(p + 1);
	dim = svec_parse_int(str, &p, "Expected the number of dimensions");
	p = svec_skip_space(p);
	if (*p != '\0')
		svec_syntax_error(str, p, "Unexpected trailing characters");

	svec_check_dim(dim);
	for (int i = 0; i < n; i++)
	{
		if (raw[i] < 1 || raw[i] > dim)
			ereport(ERROR,
					(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
					 errmsg("svec index %lld is out of range for %d dimensions",
							(long long) raw[i], (int) dim),
					 errdetail("Indices are 1-based: they must lie between 1 and %d.", (int) dim)));
		indices[i] = (int32) (raw[i] - 1);
	}
	svec_check_typmod((int32) dim, typmod);

	result = svec_from_pairs((int32) dim, n, indices, values, ERRCODE_INVALID_TEXT_REPRESENTATION);
	pfree(raw);
	pfree(indices);
	pfree(values);
	PG_RETURN_SVEC_P(result);
}

PG_FUNCTION_INFO_V1(svec_out);
Datum
svec_out(PG_FUNCTION_ARGS)
{
	SVec	   *v = PG_GETARG_SVEC_P(0);
	float4	   *values = SVEC_VALUES(v);
	/* index (10 digits), ':', float (FLOAT_SHORTEST_DECIMAL_LEN), ',' */
	Size		cap = 2 + (Size) v->nnz * (11 + FLOAT_SHORTEST_DECIMAL_LEN + 1) + 12;
	char	   *buf = palloc(cap);
	char	   *p = buf;

	*p++ = '{';
	for (int i = 0; i < v->nnz; i++)
	{
		if (i > 0)
			*p++ = ',';
		p += pg_ultoa_n((uint32) v->indices[i] + 1, p);
		*p++ = ':';
		p += float_to_shortest_decimal_bufn(values[i], p);
	}
	*p++ = '}';
	*p++ = '/';
	p += pg_ultoa_n((uint32) v->dim, p);
	*p = '\0';
	PG_RETURN_CSTRING(buf);
}

void
svec_check_typmod(int32 dim, int32 typmod)
{
	if (typmod != -1 && dim != typmod)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_EXCEPTION),
				 errmsg("expected %d dimensions, not %d", typmod, dim)));
}

PG_FUNCTION_INFO_V1(svec_typmod_in);
Datum
svec_typmod_in(PG_FUNCTION_ARGS)
{
	ArrayType  *ta = PG_GETARG_ARRAYTYPE_P(0);
	int32	   *tl;
	int			n;

	tl = ArrayGetIntegerTypmods(ta, &n);
	if (n != 1)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid type modifier"),
				 errdetail("svec takes one type modifier, the number of dimensions.")));
	if (tl[0] < 1)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("dimensions for type svec must be at least 1")));
	if (tl[0] > SVEC_MAX_DIM)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("dimensions for type svec cannot exceed %d", SVEC_MAX_DIM)));
	PG_RETURN_INT32(tl[0]);
}

PG_FUNCTION_INFO_V1(svec_typmod_out);
Datum
svec_typmod_out(PG_FUNCTION_ARGS)
{
	int32		typmod = PG_GETARG_INT32(0);

	if (typmod < 0)
		PG_RETURN_CSTRING(pstrdup(""));
	PG_RETURN_CSTRING(psprintf("(%d)", typmod));
}

/* The length coercion function: svec(svec, typmod, explicit). */
PG_FUNCTION_INFO_V1(svec_coerce);
Datum
svec_coerce(PG_FUNCTION_ARGS)
{
	SVec	   *v = PG_GETARG_SVEC_P(0);

	svec_check_typmod(v->dim, PG_GETARG_INT32(1));
	PG_RETURN_SVEC_P(v);
}

/*
 * Binary format: int32 dim, int32 nnz, int32 unused, nnz int32 0-based
 * indices (strictly increasing), nnz float4 values (finite, non-zero).
 */
PG_FUNCTION_INFO_V1(svec_recv);
Datum
svec_recv(PG_FUNCTION_ARGS)
{
	StringInfo	buf = (StringInfo) PG_GETARG_POINTER(0);
	int32		typmod = PG_GETARG_INT32(2);
	int32		dim = pq_getmsgint(buf, sizeof(int32));
	int32		nnz = pq_getmsgint(buf, sizeof(int32));
	int32		unused = pq_getmsgint(buf, sizeof(int32));
	SVec	   *result;
	float4	   *values;

	svec_check_dim(dim);
	if (nnz < 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_BINARY_REPRESENTATION),
				 errmsg("svec has a negative number of non-zero elements")));
	svec_check_nnz(nnz);
	if (nnz > dim)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_BINARY_REPRESENTATION),
				 errmsg("svec has more non-zero elements (%d) than dimensions (%d)", nnz, dim)));
	if (unused != 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_BINARY_REPRESENTATION),
				 errmsg("svec reserved field must be zero")));
	svec_check_typmod(dim, typmod);

	result = svec_alloc(dim, nnz);
	values = SVEC_VALUES(result);
	for (int i = 0; i < nnz; i++)
	{
		result->indices[i] = pq_getmsgint(buf, sizeof(int32));
		if (result->indices[i] < 0 || result->indices[i] >= dim)
			ereport(ERROR,
					(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
					 errmsg("svec index %lld is out of range for %d dimensions",
							(long long) result->indices[i] + 1, dim)));
		if (i > 0 && result->indices[i] <= result->indices[i - 1])
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_BINARY_REPRESENTATION),
					 errmsg("svec indices must be strictly increasing")));
	}
	for (int i = 0; i < nnz; i++)
	{
		values[i] = pq_getmsgfloat4(buf);
		svec_check_value(values[i]);
		if (values[i] == 0.0f)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_BINARY_REPRESENTATION),
					 errmsg("svec binary representation cannot contain zero values")));
	}
	PG_RETURN_SVEC_P(result);
}

PG_FUNCTION_INFO_V1(svec_send);
Datum
svec_send(PG_FUNCTION_ARGS)
{
	SVec	   *v = PG_GETARG_SVEC_P(0);
	float4	   *values = SVEC_VALUES(v);
	StringInfoData buf;

	pq_begintypsend(&buf);
	pq_sendint32(&buf, v->dim);
	pq_sendint32(&buf, v->nnz);
	pq_sendint32(&buf, 0);
	for (int i = 0; i < v->nnz; i++)
		pq_sendint32(&buf, v->indices[i]);
	for (int i = 0; i < v->nnz; i++)
		pq_sendfloat4(&buf, values[i]);
	PG_RETURN_BYTEA_P(pq_endtypsend(&buf));
}
