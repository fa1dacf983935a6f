/*
 * fuzz_svec.c - libFuzzer target: the svec text parser (svec_in) and binary
 * parser (svec_recv), from src/svec.c itself, outside a server (pg_shim.c).
 * Any input is either refused with an ERROR or yields a well-formed vector
 * (dimension in range, indices strictly increasing inside it, values finite
 * and non-zero, the size its count says) that writes back out and reads in
 * again to the same bytes.  The first byte picks the parser.
 */
#include "postgres.h"

#include <setjmp.h>

#include "fmgr.h"
#include "lib/stringinfo.h"

#include "svec.h"
#include "pg_shim.h"

extern Datum svec_in(PG_FUNCTION_ARGS);
extern Datum svec_out(PG_FUNCTION_ARGS);
extern Datum svec_recv(PG_FUNCTION_ARGS);
extern Datum svec_send(PG_FUNCTION_ARGS);
int			LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static Datum
call(PGFunction f, Datum arg)
{
	LOCAL_FCINFO(fcinfo, 3);

	InitFunctionCallInfoData(*fcinfo, NULL, 3, InvalidOid, NULL, NULL);
	fcinfo->args[0].value = arg;
	fcinfo->args[0].isnull = false;
	fcinfo->args[1].value = ObjectIdGetDatum(InvalidOid);
	fcinfo->args[1].isnull = false;
	fcinfo->args[2].value = Int32GetDatum(-1);
	fcinfo->args[2].isnull = false;
	return f(fcinfo);
}

static void
check_wellformed(const SVec *v)
{
	const float4 *vals = SVEC_VALUES(v);

	if (v->dim < 1 || v->dim > SVEC_MAX_DIM || v->nnz < 0 || v->nnz > v->dim ||
		v->nnz > SVEC_MAX_NNZ || v->unused != 0 || VARSIZE(v) != SVEC_SIZE(v->nnz))
		abort();
	for (int i = 0; i < v->nnz; i++)
	{
		if (v->indices[i] < 0 || v->indices[i] >= v->dim ||
			(i > 0 && v->indices[i] <= v->indices[i - 1]))
			abort();
		if (!isfinite(vals[i]) || vals[i] == 0.0f)
			abort();
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	if (setjmp(shim_error_jmp) == 0)
	{
		if ((data[0] & 1) == 0)
		{
			char	   *str = palloc(size);
			SVec	   *v;
			SVec	   *again;
			char	   *out;

			memcpy(str, data + 1, size - 1);
			str[size - 1] = '\0';
			v = (SVec *) DatumGetPointer(call(svec_in, CStringGetDatum(str)));
			check_wellformed(v);
			out = DatumGetCString(call(svec_out, PointerGetDatum(v)));
			again = (SVec *) DatumGetPointer(call(svec_in, CStringGetDatum(out)));
			if (VARSIZE(again) != VARSIZE(v) || memcmp(again, v, VARSIZE(v)) != 0)
				abort();
		}
		else
		{
			StringInfoData buf;
			SVec	   *v;
			bytea	   *sent;

			buf.data = palloc(size);
			memcpy(buf.data, data + 1, size - 1);
			buf.data[size - 1] = '\0';
			buf.len = (int) size - 1;
			buf.maxlen = (int) size;
			buf.cursor = 0;
			v = (SVec *) DatumGetPointer(call(svec_recv, PointerGetDatum(&buf)));
			check_wellformed(v);
			sent = DatumGetByteaPP(call(svec_send, PointerGetDatum(v)));
			/* what was sent is what was read */
			if (VARSIZE(sent) - VARHDRSZ != (Size) buf.cursor ||
				memcmp(VARDATA(sent), data + 1, buf.cursor) != 0)
				abort();
		}
	}
	shim_reset();
	return 0;
}
