/*
 * batch.c - one batch of an embedding job, inside the caller's transaction:
 * claim up to batch_size pending rows by key with FOR UPDATE SKIP LOCKED,
 * encode them in one call of encode_images/encode_texts (the same path as
 * SQL, so the job accepts exactly what those accept), write the vectors
 * with one UPDATE.  The caller commits; a crash or cancel before that
 * loses only this batch, whose rows stay pending.
 *
 * A bad input (class 22 data exception or 54 program limit: a corrupt
 * image, one over the pixel limit, a text over the context) fails the
 * batched call; the batch is then encoded row by row, each in its own
 * subtransaction, and each bad row goes to embed_failures with its error,
 * SQLSTATE and the time of its next try (retry_delay doubling each time)
 * until max_attempts, after which its state marks it failed.  Any other
 * error (cancel, no model, out of memory) is the batch's and propagates.
 */
#include "postgres.h"

#include "access/xact.h"
#include "catalog/pg_type.h"
#include "miscadmin.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/datum.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/resowner.h"
#include "utils/timestamp.h"

#include "embed/embed.h"
#include "model_cache.h"

/* The claimed rows of a batch. */
typedef struct Claimed
{
	int			n;
	ItemPointerData *tids;
	char	  **keys;
	Datum	   *inputs;
} Claimed;

/* The ranges of pending states for model m, in the order they are served. */
static const char *
range_sql(const char *s, int r, int m)
{
	switch (r)
	{
		case 0:
			return psprintf("%s > %d AND %s < %d", s, -m, s, m);
		case 1:
			return psprintf("%s < %d", s, -m);
		default:
			return psprintf("%s > %d", s, m);
	}
}

/* Claim up to limit rows of one range, after the cursor; advance it. */
static void
claim_range(EmbedJob *job, int model, int r, int limit, EmbedCursor *cur, Claimed *c)
{
	MemoryContext mcxt = CurrentMemoryContext;
	StringInfoData sql;
	int			nargs = 0;
	Oid		   *types = palloc(sizeof(Oid) * (job->npk + 1));
	Datum	   *values = palloc(sizeof(Datum) * (job->npk + 1));
	uint64		got;

	initStringInfo(&sql);
	appendStringInfo(&sql, "SELECT t.ctid, %s, t.%s%s, %s", job->key_sql, quote_identifier(job->input),
					 job->is_image ? "" : "::text", job->state_sql);
	for (int i = 0; i < job->npk; i++)
		appendStringInfo(&sql, ", t.%s", job->pk_names[i]);
	appendStringInfo(&sql, " FROM ONLY %s t WHERE %s", job->qual_table, range_sql(job->state_sql, r, model));
	if (cur && cur->valid[r])
	{
		/* keyset: (state, key) after the last row claimed in this range */
		appendStringInfo(&sql, " AND (%s) > ($1", job->order_sql);
		types[nargs] = INT4OID;
		values[nargs++] = Int32GetDatum(cur->state[r]);
		for (int i = 0; i < job->npk; i++)
		{
			appendStringInfo(&sql, ", $%d", nargs + 1);
			types[nargs] = job->pk_types[i];
			values[nargs++] = cur->pk[r][i];
		}
		appendStringInfoChar(&sql, ')');
	}
	appendStringInfo(&sql, " AND NOT EXISTS (SELECT 1 FROM %s.embed_failures f WHERE f.job = %lld "
					 "AND f.row_key = %s AND f.model = %d AND f.retry_at > now()) "
					 "ORDER BY %s LIMIT %d FOR UPDATE OF t SKIP LOCKED",
					 embed_schema(), (long long) job->id, job->key_sql, model, job->order_sql, limit);
	embed_spi(InvalidOid, sql.data, nargs, types, values, NULL, false, 0);
	got = SPI_processed;
	for (uint64 i = 0; i < got; i++)
	{
		HeapTuple	tup = SPI_tuptable->vals[i];
		TupleDesc	desc = SPI_tuptable->tupdesc;
		bool		isnull;

		c->tids[c->n] = *(ItemPointer) DatumGetPointer(SPI_getbinval(tup, desc, 1, &isnull));
		c->keys[c->n] = TextDatumGetCString(SPI_getbinval(tup, desc, 2, &isnull));
		/* a TOAST pointer stays valid: the row is locked until commit */
		c->inputs[c->n] = datumCopy(SPI_getbinval(tup, desc, 3, &isnull), false, -1);
		c->n++;
		if (cur && i == got - 1)
		{
			MemoryContext old = MemoryContextSwitchTo(cur->cxt);

			cur->state[r] = DatumGetInt32(SPI_getbinval(tup, desc, 4, &isnull));
			if (cur->pk[r] == NULL)
				cur->pk[r] = palloc0(sizeof(Datum) * job->npk);
			for (int k = 0; k < job->npk; k++)
			{
				int16		typlen;
				bool		typbyval;

				get_typlenbyval(job->pk_types[k], &typlen, &typbyval);
				if (cur->valid[r] && !typbyval)
					pfree(DatumGetPointer(cur->pk[r][k]));
				cur->pk[r][k] = datumCopy(SPI_getbinval(tup, desc, 5 + k, &isnull), typbyval, typlen);
			}
			cur->valid[r] = true;
			MemoryContextSwitchTo(old);
		}
	}
	/* a short range is exhausted: start it from the top next time */
	if (cur && (int) got < limit)
		cur->valid[r] = false;
	MemoryContextSwitchTo(mcxt);
}

/* Errors that belong to one row's input, not to the batch. */
static bool
row_error(int sqlerrcode)
{
	int			cat = ERRCODE_TO_CATEGORY(sqlerrcode);

	return cat == ERRCODE_DATA_EXCEPTION || cat == ERRCODE_PROGRAM_LIMIT_EXCEEDED;
}

/*
 * Run sql (one result column) in a subtransaction; the first value copied
 * into mcxt in *result.  On a row error returns false with the error in
 * *err; any other error is re-thrown.
 */
static bool
try_encode(const char *sql, int nargs, Oid *types, Datum *values, Datum *result, Oid *result_type,
		   ErrorData **err)
{
	MemoryContext mcxt = CurrentMemoryContext;
	ResourceOwner owner = CurrentResourceOwner;
	volatile bool ok = false;

	BeginInternalSubTransaction(NULL);
	MemoryContextSwitchTo(mcxt);
	PG_TRY();
	{
		bool		isnull;

		embed_spi(InvalidOid, sql, nargs, types, values, NULL, true, 1);
		*result_type = SPI_gettypeid(SPI_tuptable->tupdesc, 1);
		*result = datumCopy(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull),
							false, -1);
		ReleaseCurrentSubTransaction();
		MemoryContextSwitchTo(mcxt);
		CurrentResourceOwner = owner;
		ok = true;
	}
	PG_CATCH();
	{
		ErrorData  *e;

		MemoryContextSwitchTo(mcxt);
		e = CopyErrorData();
		if (!row_error(e->sqlerrcode))
			PG_RE_THROW();
		FlushErrorState();
		RollbackAndReleaseCurrentSubTransaction();
		MemoryContextSwitchTo(mcxt);
		CurrentResourceOwner = owner;
		*err = e;
	}
	PG_END_TRY();
	return ok;
}

/*
 * Record a failed row; when it has used its attempts, mark its state
 * failed (-model) so that it no longer counts as pending.
 */
static void
record_failure(EmbedJob *job, int model, ItemPointer tid, const char *key, ErrorData *e)
{
	MemoryContext mcxt = CurrentMemoryContext;
	Oid			types[7] = {INT8OID, TEXTOID, INT4OID, TEXTOID, TEXTOID, INT4OID, TEXTOID};
	Datum		values[7];
	bool		isnull;
	bool		exhausted;
	char	   *sql;

	values[0] = Int64GetDatum(job->id);
	values[1] = CStringGetTextDatum(key);
	values[2] = Int32GetDatum(model);
	values[3] = CStringGetTextDatum(unpack_sql_state(e->sqlerrcode));
	values[4] = CStringGetTextDatum(e->message ? e->message : "unknown error");
	values[5] = Int32GetDatum(job->max_attempts);
	values[6] = CStringGetTextDatum(job->retry_delay);
	/* attempts restart when the model changed since the last failure */
	sql = psprintf("INSERT INTO %s.embed_failures AS f (job, row_key, model, attempts, sqlstate, error, "
				   "first_failed_at, last_failed_at, retry_at) "
				   "VALUES ($1, $2, $3, 1, $4, $5, now(), now(), "
				   "CASE WHEN 1 >= $6 THEN NULL ELSE now() + $7::interval END) "
				   "ON CONFLICT (job, row_key) DO UPDATE SET "
				   "attempts = CASE WHEN f.model = $3 THEN f.attempts + 1 ELSE 1 END, "
				   "model = $3, sqlstate = $4, error = $5, last_failed_at = now(), "
				   "retry_at = CASE WHEN (CASE WHEN f.model = $3 THEN f.attempts + 1 ELSE 1 END) >= $6 THEN NULL "
				   "ELSE now() + $7::interval * power(2, CASE WHEN f.model = $3 THEN f.attempts ELSE 0 END) END "
				   "RETURNING retry_at IS NULL", embed_schema());
	embed_spi(embed_ext_owner(), sql, 7, types, values, NULL, false, 0);
	exhausted = DatumGetBool(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
	if (exhausted)
	{
		Oid			ttypes[1] = {TIDOID};
		Datum		tvalues[1] = {PointerGetDatum(tid)};

		embed_spi(InvalidOid, psprintf("UPDATE ONLY %s t SET %s = %d WHERE t.ctid = $1",
									   job->qual_table, quote_identifier(job->model_col), -model),
				  1, ttypes, tvalues, NULL, false, 0);
	}
	MemoryContextSwitchTo(mcxt);
}

/* Remove the failure records of rows that now embedded. */
static void
clear_failures(EmbedJob *job, char **keys, int n)
{
	Datum	   *elems = palloc(sizeof(Datum) * n);
	Oid			types[2] = {INT8OID, TEXTARRAYOID};
	Datum		values[2];

	for (int i = 0; i < n; i++)
		elems[i] = CStringGetTextDatum(keys[i]);
	values[0] = Int64GetDatum(job->id);
	values[1] = PointerGetDatum(construct_array(elems, n, TEXTOID, -1, false, TYPALIGN_INT));
	embed_spi(embed_ext_owner(),
			  psprintf("DELETE FROM %s.embed_failures WHERE job = $1 AND row_key = ANY ($2)", embed_schema()),
			  2, types, values, NULL, false, 0);
}

/*
 * Counters of the job after a batch, as the extension's owner: rows, last
 * batch time, and the rate over windows of at least 5 s (a window starts
 * afresh after an idle gap).
 */
void
embed_record_progress(EmbedJob *job, int model, int rows, TimestampTz started)
{
	Oid			types[4] = {INT8OID, INT8OID, INT4OID, TIMESTAMPTZOID};
	Datum		values[4] = {Int64GetDatum(job->id), Int64GetDatum(rows), Int32GetDatum(model),
	TimestampTzGetDatum(started)};
	const char *fresh = "(rate_since IS NULL OR last_batch_at IS NULL OR last_batch_at < $4 - interval '5 s')";
	const char *full = "(clock_timestamp() - rate_since >= interval '5 s')";

	embed_spi(embed_ext_owner(),
			  psprintf("UPDATE %s.embed_jobs SET rows_embedded = rows_embedded + $2, model = $3, "
					   "last_batch_at = clock_timestamp(), "
					   "rate_since = CASE WHEN %s THEN $4 WHEN %s THEN clock_timestamp() ELSE rate_since END, "
					   "rows_per_sec = CASE WHEN %s THEN rows_per_sec WHEN %s THEN "
					   "(rate_rows + $2) / extract(epoch FROM clock_timestamp() - rate_since) ELSE rows_per_sec END, "
					   "rate_rows = CASE WHEN %s THEN $2 WHEN %s THEN 0 ELSE rate_rows + $2 END "
					   "WHERE id = $1", embed_schema(), fresh, full, fresh, full, fresh, full),
			  4, types, values, NULL, false, 0);
}

/* The svec typmod of the target column must match the model's output. */
static void
check_dims(EmbedJob *job)
{
	int			dims;
	int32		typmod = -1;
	AttrNumber	att = get_attnum(job->relid, job->target);

	embed_model_dims(&dims);
	if (att != InvalidAttrNumber)
	{
		Oid			typid;
		Oid			coll;

		get_atttypetypmodcoll(job->relid, att, &typid, &typmod, &coll);
	}
	if (typmod >= 0 && typmod != dims)
		ereport(ERROR,
				(errcode(ERRCODE_DATATYPE_MISMATCH),
				 errmsg("column \"%s\" holds svec(%d) but the model gives %d dimensions",
						job->target, typmod, dims),
				 errhint("Embed into a new target column, or configure a model of %d dimensions.", typmod)));
}

EmbedBatchResult
embed_batch(EmbedJob *job, int limit, EmbedCursor *cur)
{
	MemoryContext mcxt = CurrentMemoryContext;
	EmbedBatchResult res = {0, 0, 0};
	TimestampTz started = GetCurrentTimestamp();
	const char *nsp = embed_schema();
	const char *m = quote_identifier(job->model_col);
	const char *t = quote_identifier(job->target);
	Claimed		c;
	int			model;
	Datum		arr;
	Oid			arrtype;
	Oid			types[2];
	Datum		values[2];
	ErrorData  *err = NULL;

	check_dims(job);
	model = embed_current_model(job);
	limit = Min(limit, job->batch_size);
	c.n = 0;
	c.tids = palloc(sizeof(ItemPointerData) * limit);
	c.keys = palloc(sizeof(char *) * limit);
	c.inputs = palloc(sizeof(Datum) * limit);
	for (int r = 0; r < 3 && c.n < limit; r++)
		claim_range(job, model, r, limit - c.n, cur, &c);
	res.claimed = c.n;
	if (c.n == 0)
		return res;

	/* one batched model call */
	types[0] = job->is_image ? BYTEAARRAYOID : TEXTARRAYOID;
	values[0] = PointerGetDatum(construct_array(c.inputs, c.n, job->is_image ? BYTEAOID : TEXTOID,
												-1, false, TYPALIGN_INT));
	types[1] = BOOLOID;
	values[1] = BoolGetDatum(job->truncate);
	if (try_encode(job->is_image ? psprintf("SELECT %s.encode_images($1)", nsp) :
				   psprintf("SELECT %s.encode_texts($1, $2)", nsp),
				   job->is_image ? 1 : 2, types, values, &arr, &arrtype, &err))
	{
		Datum	   *tids = palloc(sizeof(Datum) * c.n);
		Oid			utypes[2] = {TIDARRAYOID, arrtype};
		Datum		uvalues[2];

		for (int i = 0; i < c.n; i++)
			tids[i] = PointerGetDatum(&c.tids[i]);
		uvalues[0] = PointerGetDatum(construct_array(tids, c.n, TIDOID, sizeof(ItemPointerData), false,
													 TYPALIGN_SHORT));
		uvalues[1] = arr;
		embed_spi(InvalidOid,
				  psprintf("UPDATE ONLY %s t SET %s = u.e, %s = %d FROM unnest($1, $2) AS u(tid, e) "
						   "WHERE t.ctid = u.tid", job->qual_table, t, m, model),
				  2, utypes, uvalues, NULL, false, 0);
		if ((int) SPI_processed != c.n)
			elog(ERROR, "embedding job %lld: wrote %d of %d claimed rows", (long long) job->id,
				 (int) SPI_processed, c.n);
		res.embedded = c.n;
		clear_failures(job, c.keys, c.n);
	}
	else
	{
		/* a bad input: one row at a time, each in its own subtransaction */
		char	  **ok_keys = palloc(sizeof(char *) * c.n);
		int			n_ok = 0;

		for (int i = 0; i < c.n; i++)
		{
			Datum		v;
			Oid			vtype;

			CHECK_FOR_INTERRUPTS();
			types[0] = job->is_image ? BYTEAOID : TEXTOID;
			values[0] = c.inputs[i];
			err = NULL;
			if (try_encode(job->is_image ? psprintf("SELECT %s.encode_image($1)", nsp) :
						   psprintf("SELECT %s.encode_text($1, $2)", nsp),
						   job->is_image ? 1 : 2, types, values, &v, &vtype, &err))
			{
				Oid			utypes[2] = {vtype, TIDOID};
				Datum		uvalues[2] = {v, PointerGetDatum(&c.tids[i])};

				embed_spi(InvalidOid, psprintf("UPDATE ONLY %s t SET %s = $1, %s = %d WHERE t.ctid = $2",
											   job->qual_table, t, m, model),
						  2, utypes, uvalues, NULL, false, 0);
				ok_keys[n_ok++] = c.keys[i];
				res.embedded++;
			}
			else
			{
				record_failure(job, model, &c.tids[i], c.keys[i], err);
				res.failed++;
			}
		}
		if (n_ok > 0)
			clear_failures(job, ok_keys, n_ok);
	}
	embed_record_progress(job, model, res.embedded, started);
	MemoryContextSwitchTo(mcxt);
	return res;
}
