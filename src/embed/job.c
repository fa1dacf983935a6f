/*
 * job.c - the SQL functions that create and steer embedding jobs:
 * embed_column, embed_pause, embed_resume, embed_cancel, embed_drop,
 * embed_retry_failed and embed_status (behind the embed_progress view).
 *
 * Each checks that the caller owns the job's table or may UPDATE it.
 * Schema changes on the table (the target and model columns, the state
 * index, the keep_current trigger) are made as the table's owner; the job
 * tables are written as the extension's owner.  Every call also restarts
 * the workers of running jobs that have none, e.g. after a server restart.
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "access/xact.h"
#include "catalog/pg_authid.h"
#include "catalog/pg_class.h"
#include "catalog/pg_type.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "storage/proc.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/datum.h"
#include "utils/lsyscache.h"
#include "utils/syscache.h"
#include "utils/timestamp.h"

#include "embed/embed.h"

/* sparseclip.model as a job records it: "" is the installed default model */
static const char *
model_setting(void)
{
	const char *p = GetConfigOption("sparseclip.model", false, false);

	return p ? p : "";
}

static Oid
rel_owner(Oid relid)
{
	HeapTuple	tup = SearchSysCache1(RELOID, ObjectIdGetDatum(relid));
	Oid			owner;

	if (!HeapTupleIsValid(tup))
		elog(ERROR, "cache lookup failed for relation %u", relid);
	owner = ((Form_pg_class) GETSTRUCT(tup))->relowner;
	ReleaseSysCache(tup);
	return owner;
}

static char
rel_kind(Oid relid)
{
	return get_rel_relkind(relid);
}

/* Background workers connect as the job's owner, which must be able to log in. */
static void
check_can_login(Oid role, int workers)
{
	HeapTuple	tup;
	bool		login;

	if (workers == 0)
		return;
	tup = SearchSysCache1(AUTHOID, ObjectIdGetDatum(role));
	if (!HeapTupleIsValid(tup))
		elog(ERROR, "cache lookup failed for role %u", role);
	login = ((Form_pg_authid) GETSTRUCT(tup))->rolcanlogin;
	ReleaseSysCache(tup);
	if (!login)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("role \"%s\" cannot log in, so background workers cannot run as it",
						GetUserNameFromId(role, false)),
				 errhint("Use workers => 0 and CALL embed_run(job), or ALTER ROLE ... LOGIN.")));
}

/* The type name of a column ("" when it has none), and its typmod. */
static const char *
column_type(Oid relid, const char *col, Oid *typid, int32 *typmod)
{
	AttrNumber	att = get_attnum(relid, col);
	Oid			coll;

	if (att == InvalidAttrNumber)
		return "";
	if (att < 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_COLUMN_REFERENCE),
				 errmsg("column \"%s\" is a system column", col)));
	get_atttypetypmodcoll(relid, att, typid, typmod, &coll);
	return format_type_be(*typid);
}

static bool
is_svec_type(Oid typid)
{
	HeapTuple	tup = SearchSysCache1(TYPEOID, ObjectIdGetDatum(typid));
	bool		yes;

	if (!HeapTupleIsValid(tup))
		return false;
	yes = strcmp(NameStr(((Form_pg_type) GETSTRUCT(tup))->typname), "svec") == 0 &&
		strcmp(quote_identifier(get_namespace_name(((Form_pg_type) GETSTRUCT(tup))->typnamespace)),
			   embed_schema()) == 0;
	ReleaseSysCache(tup);
	return yes;
}

static char *
index_name(int64 job)
{
	return psprintf("sparseclip_embed_%lld_state", (long long) job);
}

static char *
trigger_name(int64 job)
{
	return psprintf("sparseclip_embed_%lld_keep_current", (long long) job);
}

/* Create or resume a job; see the SQL declaration for the arguments. */
PG_FUNCTION_INFO_V1(sparseclip_embed_column);
Datum
sparseclip_embed_column(PG_FUNCTION_ARGS)
{
	Oid			relid;
	char	   *input,
			   *target,
			   *kind,
			   *model_col;
	int			batch_size,
				workers,
				max_attempts,
				threads;
	bool		keep_current,
				truncate;
	Interval   *retry_delay;
	Oid			typid;
	int32		typmod;
	const char *intype;
	bool		is_image;
	int			dims;
	int			model;
	int64		id;
	Oid			owner;
	char	   *qual;
	EmbedJob   *job;
	MemoryContext mcxt;

	for (int i = 0; i < 10; i++)
		if (PG_ARGISNULL(i))
			ereport(ERROR,
					(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
					 errmsg("only threads may be NULL in embed_column")));
	relid = PG_GETARG_OID(0);
	input = NameStr(*PG_GETARG_NAME(1));
	target = NameStr(*PG_GETARG_NAME(2));
	kind = text_to_cstring(PG_GETARG_TEXT_PP(3));
	batch_size = PG_GETARG_INT32(4);
	workers = PG_GETARG_INT32(5);
	keep_current = PG_GETARG_BOOL(6);
	truncate = PG_GETARG_BOOL(7);
	max_attempts = PG_GETARG_INT32(8);
	retry_delay = PG_GETARG_INTERVAL_P(9);
	threads = PG_ARGISNULL(10) ? 0 : PG_GETARG_INT32(10);

	if (batch_size < 1 || batch_size > 4096)
		ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						errmsg("batch_size must be between 1 and 4096")));
	if (workers < 0 || workers > 64)
		ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						errmsg("workers must be between 0 and 64")));
	if (max_attempts < 1 || max_attempts > 100)
		ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						errmsg("max_attempts must be between 1 and 100")));
	if (retry_delay->time < 0 || retry_delay->day < 0 || retry_delay->month < 0)
		ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						errmsg("retry_delay must not be negative")));
	if (!PG_ARGISNULL(10) && (threads < 1 || threads > 64))
		ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						errmsg("threads must be between 1 and 64, or NULL for cores / workers")));
	if (rel_kind(relid) != RELKIND_RELATION)
		ereport(ERROR, (errcode(ERRCODE_WRONG_OBJECT_TYPE),
						errmsg("\"%s\" is not an ordinary table", get_rel_name(relid)),
						errdetail("Embedding jobs work on ordinary tables (not views, partitioned or foreign tables).")));
	embed_check_table_privilege(relid);
	if (strcmp(input, target) == 0)
		ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						errmsg("the input and target columns must differ")));

	intype = column_type(relid, input, &typid, &typmod);
	if (intype[0] == '\0')
		ereport(ERROR, (errcode(ERRCODE_UNDEFINED_COLUMN),
						errmsg("column \"%s\" of table %s does not exist", input, get_rel_name(relid))));
	if (typid != BYTEAOID && typid != TEXTOID && typid != VARCHAROID)
		ereport(ERROR, (errcode(ERRCODE_DATATYPE_MISMATCH),
						errmsg("column \"%s\" is %s; an input column is bytea (images) or text", input, intype)));
	if (strcmp(kind, "auto") == 0)
		is_image = typid == BYTEAOID;
	else if (strcmp(kind, "image") == 0 || strcmp(kind, "text") == 0)
	{
		is_image = kind[0] == 'i';
		if (is_image != (typid == BYTEAOID))
			ereport(ERROR, (errcode(ERRCODE_DATATYPE_MISMATCH),
							errmsg("kind \"%s\" needs a %s input column; \"%s\" is %s",
								   kind, is_image ? "bytea" : "text", input, intype)));
	}
	else
		ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						errmsg("kind must be 'auto', 'image' or 'text', not \"%s\"", kind)));
	if (strlen(target) + strlen("_model") >= NAMEDATALEN)
		ereport(ERROR, (errcode(ERRCODE_NAME_TOO_LONG),
						errmsg("target column name \"%s\" is too long to add \"_model\" to it", target)));
	model_col = psprintf("%s_model", target);

	mcxt = CurrentMemoryContext;
	SPI_connect();
	MemoryContextSwitchTo(mcxt);
	embed_model_dims(&dims);
	owner = rel_owner(relid);
	qual = quote_qualified_identifier(get_namespace_name(get_rel_namespace(relid)), get_rel_name(relid));

	/* the target and model columns, made as the table's owner */
	intype = column_type(relid, target, &typid, &typmod);
	if (intype[0] == '\0')
		embed_spi(owner, psprintf("ALTER TABLE %s ADD COLUMN %s %s.svec(%d)", qual, quote_identifier(target),
								  embed_schema(), dims), 0, NULL, NULL, NULL, false, 0);
	else if (!is_svec_type(typid))
		ereport(ERROR, (errcode(ERRCODE_DATATYPE_MISMATCH),
						errmsg("target column \"%s\" is %s, not svec", target, intype)));
	else if (typmod >= 0 && typmod != dims)
		ereport(ERROR, (errcode(ERRCODE_DATATYPE_MISMATCH),
						errmsg("target column \"%s\" holds svec(%d) but the model gives %d dimensions",
							   target, typmod, dims)));
	intype = column_type(relid, model_col, &typid, &typmod);
	if (intype[0] == '\0')
		embed_spi(owner, psprintf("ALTER TABLE %s ADD COLUMN %s integer", qual, quote_identifier(model_col)),
				  0, NULL, NULL, NULL, false, 0);
	else if (typid != INT4OID)
		ereport(ERROR, (errcode(ERRCODE_DATATYPE_MISMATCH),
						errmsg("column \"%s\" exists and is %s; the job keeps each row's model id there as integer",
							   model_col, intype)));

	model = embed_current_model(NULL);

	/* the job row: create, or update the options of an existing one */
	{
		Oid			types[13] = {OIDOID, TEXTOID, TEXTOID, TEXTOID, TEXTOID, OIDOID, INT4OID, INT4OID,
		BOOLOID, BOOLOID, INT4OID, INTERVALOID, INT4OID};
		Datum		values[14];
		char		nulls[14];
		bool		isnull;

		values[0] = ObjectIdGetDatum(relid);
		values[1] = CStringGetTextDatum(target);
		embed_spi(embed_ext_owner(),
				  psprintf("SELECT id, input_column::text FROM %s.embed_jobs WHERE tbl = $1 AND target_column = $2 FOR UPDATE",
						   embed_schema()), 2, types, values, NULL, false, 1);
		if (SPI_processed == 1)
		{
			char	   *old_input = TextDatumGetCString(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2, &isnull));

			id = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
			if (strcmp(old_input, input) != 0)
				ereport(ERROR, (errcode(ERRCODE_DUPLICATE_OBJECT),
								errmsg("column \"%s\" is already the target of embedding job %lld, which embeds column \"%s\"",
									   target, (long long) id, old_input)));
		}
		else
			id = 0;
		memset(nulls, ' ', sizeof(nulls));
		values[0] = ObjectIdGetDatum(relid);
		values[1] = CStringGetTextDatum(input);
		values[2] = CStringGetTextDatum(target);
		values[3] = CStringGetTextDatum(model_col);
		values[4] = CStringGetTextDatum(is_image ? "image" : "text");
		values[5] = ObjectIdGetDatum(GetUserId());
		values[6] = Int32GetDatum(batch_size);
		values[7] = Int32GetDatum(workers);
		values[8] = BoolGetDatum(keep_current);
		values[9] = BoolGetDatum(truncate);
		values[10] = Int32GetDatum(max_attempts);
		values[11] = IntervalPGetDatum(retry_delay);
		values[12] = Int32GetDatum(threads);
		if (threads == 0)
			nulls[12] = 'n';
		{
			Oid			t2[15];
			Datum		v2[15];
			char		n2[15];

			memcpy(t2, types, sizeof(types));
			memcpy(v2, values, sizeof(Datum) * 13);
			memcpy(n2, nulls, 13);
			t2[13] = TEXTOID;
			v2[13] = CStringGetTextDatum(model_setting());
			n2[13] = ' ';
			t2[14] = INT4OID;
			v2[14] = Int32GetDatum(model);
			n2[14] = ' ';
			if (id == 0)
			{
				check_can_login(GetUserId(), workers);
				embed_spi(embed_ext_owner(),
						  psprintf("INSERT INTO %s.embed_jobs (tbl, input_column, target_column, model_column, kind, "
								   "owner, batch_size, workers, keep_current, truncate, max_attempts, retry_delay, "
								   "threads, model_path, model, state) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, "
								   "$10, $11, $12, $13, $14, $15, 'running') RETURNING id", embed_schema()),
						  15, t2, v2, n2, false, 0);
				id = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
			}
			else
			{
				HeapTuple	tup;

				embed_spi(embed_ext_owner(),
						  psprintf("UPDATE %s.embed_jobs SET batch_size = $7, workers = $8, keep_current = $9, "
								   "truncate = $10, max_attempts = $11, retry_delay = $12, threads = $13, "
								   "model_path = $14, model = $15, state = 'running', resumed_at = now() "
								   "WHERE tbl = $1 AND target_column = $3 "
								   "RETURNING owner::oid", embed_schema()),
						  15, t2, v2, n2, false, 0);
				tup = SPI_tuptable->vals[0];
				check_can_login(DatumGetObjectId(SPI_getbinval(tup, SPI_tuptable->tupdesc, 1, &isnull)), workers);
				/* rows waiting for a retry wait by the new delay */
				{
					Oid			ftypes[2] = {INT8OID, INTERVALOID};
					Datum		fvalues[2] = {Int64GetDatum(id), IntervalPGetDatum(retry_delay)};

					embed_spi(embed_ext_owner(),
							  psprintf("UPDATE %s.embed_failures SET retry_at = last_failed_at + $2 * power(2, attempts - 1) "
									   "WHERE job = $1 AND retry_at IS NOT NULL", embed_schema()),
							  2, ftypes, fvalues, NULL, false, 0);
				}
			}
		}
	}

	/* the state index and the trigger, as the table's owner */
	job = embed_load_job(id, false);
	{
		StringInfoData sql;

		initStringInfo(&sql);
		appendStringInfo(&sql, "CREATE INDEX %s ON ONLY %s (%s", quote_identifier(index_name(id)),
						 qual, job->state_sql);
		for (int i = 0; i < job->npk; i++)
			appendStringInfo(&sql, ", %s", job->pk_names[i]);
		appendStringInfoChar(&sql, ')');
		if (!OidIsValid(get_relname_relid(index_name(id), get_rel_namespace(relid))))
			embed_spi(owner, sql.data, 0, NULL, NULL, NULL, false, 0);
	}
	{
		Oid			types[2] = {OIDOID, TEXTOID};
		Datum		values[2] = {ObjectIdGetDatum(relid), CStringGetTextDatum(trigger_name(id))};

		embed_spi(InvalidOid, "SELECT 1 FROM pg_catalog.pg_trigger WHERE tgrelid = $1 AND tgname = $2",
				  2, types, values, NULL, true, 1);
		if (SPI_processed > 0)
			embed_spi(owner, psprintf("DROP TRIGGER %s ON %s", quote_identifier(trigger_name(id)), qual),
					  0, NULL, NULL, NULL, false, 0);
	}
	if (keep_current)
		embed_spi(owner, psprintf("CREATE TRIGGER %s BEFORE UPDATE OF %s ON %s FOR EACH ROW "
								  "EXECUTE FUNCTION %s.embed_keep_current(%s, %s, %s)",
								  quote_identifier(trigger_name(id)), quote_identifier(input), qual,
								  embed_schema(), quote_literal_cstr(input), quote_literal_cstr(target),
								  quote_literal_cstr(model_col)),
				  0, NULL, NULL, NULL, false, 0);

	embed_ensure_workers(job, true);
	SPI_finish();
	PG_RETURN_INT64(id);
}

/* Load a job for a steering call: privilege checked, workers restarted. */
static EmbedJob *
steer_job(int64 id)
{
	MemoryContext mcxt = CurrentMemoryContext;
	EmbedJob   *job;

	SPI_connect();
	MemoryContextSwitchTo(mcxt);
	job = embed_load_job(id, false);
	embed_check_table_privilege(job->relid);
	embed_ensure_all_workers();
	return job;
}

static void
set_state(int64 id, const char *state, bool resume)
{
	Oid			types[2] = {INT8OID, TEXTOID};
	Datum		values[2] = {Int64GetDatum(id), CStringGetTextDatum(state)};

	embed_spi(embed_ext_owner(),
			  psprintf("UPDATE %s.embed_jobs SET state = $2%s WHERE id = $1", embed_schema(),
					   resume ? ", resumed_at = now(), last_error = NULL, last_error_at = NULL" : ""),
			  2, types, values, NULL, false, 0);
}

/* Workers finish the batch in hand and stop; embed_resume goes on. */
PG_FUNCTION_INFO_V1(sparseclip_embed_pause);
Datum
sparseclip_embed_pause(PG_FUNCTION_ARGS)
{
	EmbedJob   *job = steer_job(PG_GETARG_INT64(0));

	set_state(job->id, "paused", false);
	SPI_finish();
	PG_RETURN_VOID();
}

/* Workers stop at once, losing only the batch in flight. */
PG_FUNCTION_INFO_V1(sparseclip_embed_cancel);
Datum
sparseclip_embed_cancel(PG_FUNCTION_ARGS)
{
	EmbedJob   *job = steer_job(PG_GETARG_INT64(0));

	set_state(job->id, "cancelled", false);
	embed_terminate_workers(job->id);
	SPI_finish();
	PG_RETURN_VOID();
}

/* Run again, with the model this session names, from where it stopped. */
PG_FUNCTION_INFO_V1(sparseclip_embed_resume);
Datum
sparseclip_embed_resume(PG_FUNCTION_ARGS)
{
	EmbedJob   *job = steer_job(PG_GETARG_INT64(0));
	int			model = embed_current_model(job);
	Oid			types[3] = {INT8OID, TEXTOID, INT4OID};
	Datum		values[3];
	bool		isnull;

	values[0] = Int64GetDatum(job->id);
	values[1] = CStringGetTextDatum(model_setting());
	values[2] = Int32GetDatum(model);
	embed_spi(embed_ext_owner(),
			  psprintf("UPDATE %s.embed_jobs SET state = 'running', resumed_at = now(), last_error = NULL, "
					   "last_error_at = NULL, model_path = $2, model = $3 WHERE id = $1 RETURNING owner::oid",
					   embed_schema()), 3, types, values, NULL, false, 0);
	check_can_login(DatumGetObjectId(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull)),
					job->workers);
	job = embed_load_job(job->id, false);
	embed_ensure_workers(job, true);
	SPI_finish();
	PG_RETURN_VOID();
}

/* Failed rows become pending again, with their attempts reset. */
PG_FUNCTION_INFO_V1(sparseclip_embed_retry_failed);
Datum
sparseclip_embed_retry_failed(PG_FUNCTION_ARGS)
{
	EmbedJob   *job = steer_job(PG_GETARG_INT64(0));
	Oid			types[1] = {INT8OID};
	Datum		values[1] = {Int64GetDatum(job->id)};
	int64		rows;

	embed_spi(InvalidOid, psprintf("UPDATE ONLY %s t SET %s = NULL WHERE %s < 0", job->qual_table,
								   quote_identifier(job->model_col), quote_identifier(job->model_col)),
			  0, NULL, NULL, NULL, false, 0);
	rows = SPI_processed;
	embed_spi(embed_ext_owner(), psprintf("DELETE FROM %s.embed_failures WHERE job = $1", embed_schema()),
			  1, types, values, NULL, false, 0);
	if (strcmp(job->state, "done") == 0)
		set_state(job->id, "running", true);
	job = embed_load_job(job->id, false);
	embed_ensure_workers(job, true);
	SPI_finish();
	PG_RETURN_INT64(rows);
}

/*
 * Remove a job: its workers, trigger, state index and records; with
 * drop_column also the target and model columns.  A job whose table is
 * gone can be dropped by its owner.
 */
PG_FUNCTION_INFO_V1(sparseclip_embed_drop);
Datum
sparseclip_embed_drop(PG_FUNCTION_ARGS)
{
	int64		id = PG_GETARG_INT64(0);
	bool		drop_column = PG_GETARG_BOOL(1);
	MemoryContext mcxt = CurrentMemoryContext;
	Oid			types[1] = {INT8OID};
	Datum		values[1] = {Int64GetDatum(id)};
	bool		isnull;
	Oid			relid,
				job_owner;

	SPI_connect();
	MemoryContextSwitchTo(mcxt);
	embed_spi(embed_ext_owner(), psprintf("SELECT tbl::oid, owner::oid FROM %s.embed_jobs WHERE id = $1 FOR UPDATE",
										  embed_schema()), 1, types, values, NULL, false, 1);
	if (SPI_processed == 0)
		ereport(ERROR, (errcode(ERRCODE_UNDEFINED_OBJECT),
						errmsg("embedding job %lld does not exist", (long long) id)));
	relid = DatumGetObjectId(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
	job_owner = DatumGetObjectId(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2, &isnull));
	if (get_rel_name(relid) == NULL)
	{
		if (job_owner != GetUserId() && !superuser())
			ereport(ERROR, (errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
							errmsg("only the owner of embedding job %lld may drop it", (long long) id)));
	}
	else
	{
		EmbedJob   *job = embed_load_job(id, false);
		Oid			owner = rel_owner(relid);
		char	   *nsp = get_namespace_name(get_rel_namespace(relid));

		embed_check_table_privilege(relid);
		embed_spi(embed_ext_owner(), psprintf("UPDATE %s.embed_jobs SET state = 'cancelled' WHERE id = $1",
											  embed_schema()), 1, types, values, NULL, false, 0);
		embed_terminate_workers(id);
		embed_spi(owner, psprintf("DROP TRIGGER IF EXISTS %s ON %s", quote_identifier(trigger_name(id)),
								  job->qual_table), 0, NULL, NULL, NULL, false, 0);
		embed_spi(owner, psprintf("DROP INDEX IF EXISTS %s", quote_qualified_identifier(nsp, index_name(id))),
				  0, NULL, NULL, NULL, false, 0);
		if (drop_column)
			embed_spi(owner, psprintf("ALTER TABLE %s DROP COLUMN IF EXISTS %s, DROP COLUMN IF EXISTS %s",
									  job->qual_table, quote_identifier(job->target),
									  quote_identifier(job->model_col)), 0, NULL, NULL, NULL, false, 0);
	}
	embed_spi(embed_ext_owner(), psprintf("DELETE FROM %s.embed_jobs WHERE id = $1", embed_schema()),
			  1, types, values, NULL, false, 0);
	SPI_finish();
	PG_RETURN_VOID();
}

/*
 * One row of embed_progress: the job's state, exact counts for the model
 * it last used, and live workers.  Restarts missing workers of a running
 * job (silently: this is a read).  NULL counts when the caller may not
 * read the table or it is gone.
 */
PG_FUNCTION_INFO_V1(sparseclip_embed_status);
Datum
sparseclip_embed_status(PG_FUNCTION_ARGS)
{
	int64		id = PG_GETARG_INT64(0);
	MemoryContext mcxt = CurrentMemoryContext;
	TupleDesc	desc;
	Datum		values[7];
	bool		nulls[7];
	EmbedJob   *job;
	Oid			types[1] = {INT8OID};
	Datum		args[1] = {Int64GetDatum(id)};
	bool		isnull;
	Oid			relid;

	if (get_call_result_type(fcinfo, NULL, &desc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "embed_status must return a record");
	desc = BlessTupleDesc(desc);
	memset(nulls, true, sizeof(nulls));
	SPI_connect();
	MemoryContextSwitchTo(mcxt);
	embed_spi(embed_ext_owner(), psprintf("SELECT tbl::oid, state FROM %s.embed_jobs WHERE id = $1", embed_schema()),
			  1, types, args, NULL, true, 1);
	if (SPI_processed == 0)
	{
		SPI_finish();
		PG_RETURN_NULL();
	}
	relid = DatumGetObjectId(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
	values[0] = datumCopy(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2, &isnull), false, -1);
	nulls[0] = false;
	if (get_rel_name(relid) == NULL)
		values[0] = CStringGetTextDatum("table dropped");
	else if (pg_class_aclcheck(relid, GetUserId(), ACL_SELECT) == ACLCHECK_OK)
	{
		int64		done,
					failed,
					pending,
					nullrows;

		static LocalTransactionId ensured = InvalidLocalTransactionId;

		/* once per transaction: a read of the view restarts every running job */
		if (MyProc->lxid != ensured)
		{
			embed_ensure_all_workers();
			ensured = MyProc->lxid;
		}
		job = embed_load_job(id, false);
		embed_counts(job, job->model, &done, &failed, &pending, &nullrows);
		values[1] = Int64GetDatum(done + failed + pending + nullrows);
		values[2] = Int64GetDatum(done);
		values[3] = Int64GetDatum(failed);
		values[4] = Int64GetDatum(pending);
		values[5] = Int64GetDatum(nullrows);
		values[6] = Int32GetDatum(embed_workers_alive(id, NULL, 0));
		for (int i = 1; i < 7; i++)
			nulls[i] = false;
	}
	SPI_finish();
	PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(desc, values, nulls)));
}
