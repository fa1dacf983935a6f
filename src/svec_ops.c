/*
 * svec_ops.c - svec operators: distances, comparison, arithmetic.
 *
 * Distances have pgvector's meanings: <#> negative inner product, <=> cosine
 * distance, <-> Euclidean distance, <+> taxicab distance.  Every sum runs in
 * double and walks the two sorted index lists in one merge.
 */
#include "postgres.h"

#include <math.h>

#include "fmgr.h"
#include "utils/builtins.h"
#include "utils/float.h"
#include "utils/numeric.h"

#include "svec.h"

PG_FUNCTION_INFO_V1(svec_inner_product);
Datum
svec_inner_product(PG_FUNCTION_ARGS)
{
	SVec	   *a = PG_GETARG_SVEC_P(0);
	SVec	   *b = PG_GETARG_SVEC_P(1);

	svec_check_same_dims(a, b);
	PG_RETURN_FLOAT8(svec_dot(a, b));
}

PG_FUNCTION_INFO_V1(svec_negative_inner_product);
Datum
svec_negative_inner_product(PG_FUNCTION_ARGS)
{
	SVec	   *a = PG_GETARG_SVEC_P(0);
	SVec	   *b = PG_GETARG_SVEC_P(1);

	svec_check_same_dims(a, b);
	/* 0 - x, not -x: no overlap gives 0, not -0. */
	PG_RETURN_FLOAT8(0.0 - svec_dot(a, b));
}

/* 1 - cos(a, b); NaN when either vector is zero, as pgvector does. */
double
svec_cosine_distance_internal(const SVec *a, const SVec *b)
{
	double		norms = svec_norm2(a) * svec_norm2(b);
	double		similarity;

	if (norms == 0.0)
		return get_float8_nan();
	similarity = svec_dot(a, b) / sqrt(norms);
	/* Rounding can push the cosine a hair outside [-1, 1]. */
	if (similarity > 1.0)
		similarity = 1.0;
	else if (similarity < -1.0)
		similarity = -1.0;
	return 1.0 - similarity;
}

PG_FUNCTION_INFO_V1(svec_cosine_distance);
Datum
svec_cosine_distance(PG_FUNCTION_ARGS)
{
	SVec	   *a = PG_GETARG_SVEC_P(0);
	SVec	   *b = PG_GETARG_SVEC_P(1);

	svec_check_same_dims(a, b);
	PG_RETURN_FLOAT8(svec_cosine_distance_internal(a, b));
}

/*
 * Sum over every dimension of f(a_i - b_i) for the two distances that need
 * the union of both index lists.
 */
static double
svec_diff_sum(const SVec *a, const SVec *b, bool squared)
{
	SVecMerge	m;
	int32		index;
	float4		x,
				y;
	double		sum = 0.0;

	svec_merge_init(&m, a, b);
	while (svec_merge_next(&m, &index, &x, &y))
	{
		double		d = (double) x - (double) y;

		sum += squared ? d * d : fabs(d);
	}
	return sum;
}

PG_FUNCTION_INFO_V1(svec_l2_distance);
Datum
svec_l2_distance(PG_FUNCTION_ARGS)
{
	SVec	   *a = PG_GETARG_SVEC_P(0);
	SVec	   *b = PG_GETARG_SVEC_P(1);

	svec_check_same_dims(a, b);
	PG_RETURN_FLOAT8(sqrt(svec_diff_sum(a, b, true)));
}

PG_FUNCTION_INFO_V1(svec_l1_distance);
Datum
svec_l1_distance(PG_FUNCTION_ARGS)
{
	SVec	   *a = PG_GETARG_SVEC_P(0);
	SVec	   *b = PG_GETARG_SVEC_P(1);

	svec_check_same_dims(a, b);
	PG_RETURN_FLOAT8(svec_diff_sum(a, b, false));
}

/*
 * Total order for btree: the dense expansions compared lexicographically
 * (absent entries are zero), then the dimension counts.  Two svecs compare
 * equal exactly when they are identical, since zeros are never stored.
 */
int
svec_cmp_internal(const SVec *a, const SVec *b)
{
	SVecMerge	m;
	int32		index;
	float4		x,
				y;

	svec_merge_init(&m, a, b);
	while (svec_merge_next(&m, &index, &x, &y))
		if (x != y)
			return x < y ? -1 : 1;
	return (a->dim > b->dim) - (a->dim < b->dim);
}

#define SVEC_CMP_FUNCTION(name, expr) \
PG_FUNCTION_INFO_V1(name); \
Datum \
name(PG_FUNCTION_ARGS) \
{ \
	SVec	   *a = PG_GETARG_SVEC_P(0); \
	SVec	   *b = PG_GETARG_SVEC_P(1); \
	int			c = svec_cmp_internal(a, b); \
	PG_RETURN_BOOL(expr); \
}

SVEC_CMP_FUNCTION(svec_lt, c < 0)
SVEC_CMP_FUNCTION(svec_le, c <= 0)
SVEC_CMP_FUNCTION(svec_eq, c == 0)
SVEC_CMP_FUNCTION(svec_ne, c != 0)
SVEC_CMP_FUNCTION(svec_ge, c >= 0)
SVEC_CMP_FUNCTION(svec_gt, c > 0)

PG_FUNCTION_INFO_V1(svec_cmp);
Datum
svec_cmp(PG_FUNCTION_ARGS)
{
	SVec	   *a = PG_GETARG_SVEC_P(0);
	SVec	   *b = PG_GETARG_SVEC_P(1);

	PG_RETURN_INT32(svec_cmp_internal(a, b));
}

static void
svec_check_finite_result(float4 value)
{
	if (isinf(value))
		float_overflow_error();
}

/* a + sign * b, merged; exact cancellations are dropped. */
static SVec *
svec_add_signed(const SVec *a, const SVec *b, float4 sign)
{
	int64		cap = Max(Min((int64) a->nnz + b->nnz, a->dim), 1);
	int32	   *ri = palloc(sizeof(int32) * cap);
	float4	   *rvals = palloc(sizeof(float4) * cap);
	SVecMerge	m;
	int32		index;
	float4		x,
				y;
	int			n = 0;
	SVec	   *result;

	svec_merge_init(&m, a, b);
	while (svec_merge_next(&m, &index, &x, &y))
	{
		float4		value = x + sign * y;

		svec_check_finite_result(value);
		if (value != 0.0f)
		{
			ri[n] = index;
			rvals[n] = value;
			n++;
		}
	}
	svec_check_nnz(n);
	result = svec_alloc(a->dim, n);
	memcpy(result->indices, ri, sizeof(int32) * n);
	memcpy(SVEC_VALUES(result), rvals, sizeof(float4) * n);
	pfree(ri);
	pfree(rvals);
	return result;
}

PG_FUNCTION_INFO_V1(svec_add);
Datum
svec_add(PG_FUNCTION_ARGS)
{
	SVec	   *a = PG_GETARG_SVEC_P(0);
	SVec	   *b = PG_GETARG_SVEC_P(1);

	svec_check_same_dims(a, b);
	PG_RETURN_SVEC_P(svec_add_signed(a, b, 1.0f));
}

PG_FUNCTION_INFO_V1(svec_sub);
Datum
svec_sub(PG_FUNCTION_ARGS)
{
	SVec	   *a = PG_GETARG_SVEC_P(0);
	SVec	   *b = PG_GETARG_SVEC_P(1);

	svec_check_same_dims(a, b);
	PG_RETURN_SVEC_P(svec_add_signed(a, b, -1.0f));
}

/*
 * Multiply (or divide) every weight by a finite scalar in double, rounding
 * each result once to float4; results that underflow to zero go.
 */
static SVec *
svec_scale_by(const SVec *a, double x, bool divide)
{
	const float4 *av = SVEC_VALUES(a);
	SVec	   *result = svec_alloc(a->dim, a->nnz);
	float4	   *rv = SVEC_VALUES(result);
	int			n = 0;

	for (int i = 0; i < a->nnz; i++)
	{
		float4		value = (float4) (divide ? av[i] / x : av[i] * x);

		svec_check_finite_result(value);
		if (value != 0.0f)
		{
			result->indices[n] = a->indices[i];
			rv[n] = value;
			n++;
		}
	}
	if (n < a->nnz)
	{
		/* Compact: values were written at offsets for the old count. */
		SVec	   *packed = svec_alloc(a->dim, n);

		memcpy(packed->indices, result->indices, sizeof(int32) * n);
		memcpy(SVEC_VALUES(packed), rv, sizeof(float4) * n);
		pfree(result);
		result = packed;
	}
	return result;
}

/* Multiply every weight by a scalar; products that underflow to zero go. */
SVec *
svec_scale(const SVec *a, double factor)
{
	if (isnan(factor) || isinf(factor))
		ereport(ERROR,
				(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
				 errmsg("cannot multiply an svec by %s", isnan(factor) ? "NaN" : "infinity")));
	return svec_scale_by(a, factor, false);
}

/*
 * Divide every weight by a scalar.  Each quotient is computed in double and
 * rounded once, so avg's rewrite as sum / count (Citus) loses nothing more
 * than the rounding of the sum.  Dividing by infinity gives the zero vector.
 */
SVec *
svec_divide(const SVec *a, double divisor)
{
	if (divisor == 0.0)
		ereport(ERROR,
				(errcode(ERRCODE_DIVISION_BY_ZERO),
				 errmsg("division by zero")));
	if (isnan(divisor))
		ereport(ERROR,
				(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
				 errmsg("cannot divide an svec by NaN")));
	return svec_scale_by(a, divisor, true);
}

PG_FUNCTION_INFO_V1(svec_mul_real);
Datum
svec_mul_real(PG_FUNCTION_ARGS)
{
	SVec	   *a = PG_GETARG_SVEC_P(0);
	float4		factor = PG_GETARG_FLOAT4(1);

	PG_RETURN_SVEC_P(svec_scale(a, factor));
}

PG_FUNCTION_INFO_V1(real_mul_svec);
Datum
real_mul_svec(PG_FUNCTION_ARGS)
{
	float4		factor = PG_GETARG_FLOAT4(0);
	SVec	   *a = PG_GETARG_SVEC_P(1);

	PG_RETURN_SVEC_P(svec_scale(a, factor));
}

PG_FUNCTION_INFO_V1(svec_div_float8);
Datum
svec_div_float8(PG_FUNCTION_ARGS)
{
	SVec	   *a = PG_GETARG_SVEC_P(0);
	float8		divisor = PG_GETARG_FLOAT8(1);

	PG_RETURN_SVEC_P(svec_divide(a, divisor));
}

/*
 * svec / numeric: Citus computes a distributed avg() as sum(sum) / sum(count),
 * and sum(bigint) is numeric.  The divisor is converted to double (correctly
 * rounded), then as svec / float8.
 */
PG_FUNCTION_INFO_V1(svec_div_numeric);
Datum
svec_div_numeric(PG_FUNCTION_ARGS)
{
	SVec	   *a = PG_GETARG_SVEC_P(0);
	Numeric		divisor = PG_GETARG_NUMERIC(1);
	double		d;

	if (numeric_is_nan(divisor))
		ereport(ERROR,
				(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
				 errmsg("cannot divide an svec by NaN")));
	/* Beyond double's range: infinity (a zero quotient) or zero, see below. */
	d = DatumGetFloat8(DirectFunctionCall1(numeric_float8_no_overflow,
										   NumericGetDatum(divisor)));
	if (d == 0.0 && !DatumGetBool(DirectFunctionCall2(numeric_eq, NumericGetDatum(divisor),
													   NumericGetDatum(int64_to_numeric(0)))))
	{
		/* Non-zero but below double's range: any non-zero weight overflows. */
		if (a->nnz > 0)
			float_overflow_error();
		d = 1.0;
	}
	PG_RETURN_SVEC_P(svec_divide(a, d));
}
