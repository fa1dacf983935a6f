/*
 * common.c - what every part of the embedding jobs needs: the extension's
 * schema and owner, SPI as a given role, loading a job, the row state
 * expression, the identity of the current model, exact counts.
 *
 * The job tables are written only here, as the extension's owner; the
 * embedded table is read and written as the caller (or, in a worker, as
 * the job's owner), so its privileges and row security apply.
 */
#include "postgres.h"

#include "access/table.h"
#include "catalog/pg_index.h"
#include "catalog/pg_type.h"
#include "commands/extension.h"
#include "miscadmin.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"
#include "utils/relcache.h"
#include "utils/syscache.h"

#include "embed/embed.h"
#include "model_cache.h"

/* The extension's schema and owner, looked up once per extension oid. */
static Oid	cached_ext_oid = InvalidOid;
static char cached_schema[NAMEDATALEN * 2 + 3];
static Oid	cached_owner = InvalidOid;

static void
lookup_extension(void)
{
	Oid			ext = get_extension_oid("sparseclip", false);
	MemoryContext mcxt = CurrentMemoryContext;
	bool		isnull;

	if (ext == cached_ext_oid)
		return;
	if (SPI_execute("SELECT n.nspname::text, e.extowner FROM pg_catalog.pg_extension e "
					"JOIN pg_catalog.pg_namespace n ON n.oid = e.extnamespace "
					"WHERE e.extname = 'sparseclip'", true, 1) != SPI_OK_SELECT || SPI_processed != 1)
		elog(ERROR, "could not read the sparseclip extension's schema");
	MemoryContextSwitchTo(mcxt);
	strlcpy(cached_schema,
			quote_identifier(TextDatumGetCString(SPI_getbinval(SPI_tuptable->vals[0],
															   SPI_tuptable->tupdesc, 1, &isnull))),
			sizeof(cached_schema));
	cached_owner = DatumGetObjectId(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2, &isnull));
	cached_ext_oid = ext;
}

const char *
embed_schema(void)
{
	lookup_extension();
	return cached_schema;
}

Oid
embed_ext_owner(void)
{
	lookup_extension();
	return cached_owner;
}

/*
 * SPI_execute_with_args as as_role (InvalidOid: as the current user).
 * Leaves CurrentMemoryContext as it found it.
 */
int
embed_spi(Oid as_role, const char *sql, int nargs, Oid *types, Datum *values,
		  const char *nulls, bool read_only, long count)
{
	MemoryContext mcxt = CurrentMemoryContext;
	Oid			save_uid;
	int			save_ctx;
	int			ret;

	GetUserIdAndSecContext(&save_uid, &save_ctx);
	if (OidIsValid(as_role))
		SetUserIdAndSecContext(as_role, save_ctx | SECURITY_LOCAL_USERID_CHANGE);
	ret = SPI_execute_with_args(sql, nargs, types, values, nulls, read_only, count);
	SetUserIdAndSecContext(save_uid, save_ctx);
	MemoryContextSwitchTo(mcxt);
	if (ret < 0)
		elog(ERROR, "SPI failed (%s): %s", SPI_result_code_string(ret), sql);
	return ret;
}

/* Jobs on a table are for its owner and for roles that may UPDATE it. */
void
embed_check_table_privilege(Oid relid)
{
	if (!pg_class_ownercheck(relid, GetUserId()) &&
		pg_class_aclcheck(relid, GetUserId(), ACL_UPDATE) != ACLCHECK_OK)
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("permission denied to embed table %s", get_rel_name(relid)),
				 errdetail("Embedding jobs on a table are for its owner and for roles with UPDATE on it.")));
}

/*
 * The state of a row, the key of the state index:
 *   NULL  the input is NULL (skipped);
 *   m < 0 the row failed for good under model -m;
 *   0     not embedded (target NULL, or no model recorded);
 *   m > 0 embedded by model m.
 * The row is pending for model cur unless its state is cur, -cur or NULL.
 */
char *
embed_state_sql(const char *input, const char *target, const char *model_col)
{
	const char *i = quote_identifier(input);
	const char *t = quote_identifier(target);
	const char *m = quote_identifier(model_col);

	return psprintf("(CASE WHEN %s IS NULL THEN NULL WHEN COALESCE(%s, 0) < 0 THEN %s "
					"WHEN %s IS NULL THEN 0 ELSE COALESCE(%s, 0) END)", i, m, m, t, m);
}

/* The primary key columns of a table; ERROR when it has none. */
static void
primary_key(EmbedJob *job)
{
	Relation	rel = table_open(job->relid, AccessShareLock);
	Oid			pkoid = RelationGetPrimaryKeyIndex(rel);
	HeapTuple	tup;
	Form_pg_index idx;
	StringInfoData key,
				order;

	if (!OidIsValid(pkoid))
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("table %s has no primary key", RelationGetRelationName(rel)),
				 errdetail("An embedding job keeps failed rows by key and walks the table in key order."),
				 errhint("Add a primary key, e.g. ALTER TABLE %s ADD COLUMN id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY.",
						 RelationGetRelationName(rel))));
	tup = SearchSysCache1(INDEXRELID, ObjectIdGetDatum(pkoid));
	if (!HeapTupleIsValid(tup))
		elog(ERROR, "cache lookup failed for index %u", pkoid);
	idx = (Form_pg_index) GETSTRUCT(tup);
	job->npk = idx->indnkeyatts;
	job->pk_names = palloc(sizeof(char *) * job->npk);
	job->pk_types = palloc(sizeof(Oid) * job->npk);
	initStringInfo(&key);
	initStringInfo(&order);
	appendStringInfoString(&order, job->state_sql);
	for (int i = 0; i < job->npk; i++)
	{
		AttrNumber	att = idx->indkey.values[i];
		Form_pg_attribute a = TupleDescAttr(RelationGetDescr(rel), att - 1);

		job->pk_names[i] = pstrdup(quote_identifier(NameStr(a->attname)));
		job->pk_types[i] = a->atttypid;
		appendStringInfo(&key, "%st.%s", i ? ", " : "", job->pk_names[i]);
		appendStringInfo(&order, ", t.%s", job->pk_names[i]);
	}
	job->key_sql = job->npk == 1 ? psprintf("(%s)::text", key.data) : psprintf("ROW(%s)::text", key.data);
	job->order_sql = order.data;
	ReleaseSysCache(tup);
	table_close(rel, AccessShareLock);
}

static char *
text_col(HeapTuple tup, TupleDesc desc, int col)
{
	bool		isnull;
	Datum		d = SPI_getbinval(tup, desc, col, &isnull);

	return isnull ? NULL : TextDatumGetCString(d);
}

/*
 * Read job id (as the extension's owner), in CurrentMemoryContext.  NULL
 * when missing_ok and there is no such job.
 */
EmbedJob *
embed_load_job(int64 id, bool missing_ok)
{
	MemoryContext mcxt = CurrentMemoryContext;
	Oid			types[1] = {INT8OID};
	Datum		values[1] = {Int64GetDatum(id)};
	char	   *sql;
	EmbedJob   *job;
	HeapTuple	tup;
	TupleDesc	desc;
	bool		isnull;
	char	   *s;

	sql = psprintf("SELECT tbl::oid, input_column::text, target_column::text, model_column::text, "
				   "kind, owner::oid, state, batch_size, workers, keep_current, truncate, "
				   "max_attempts, retry_delay::text, coalesce(threads, 0), model_path, model "
				   "FROM %s.embed_jobs WHERE id = $1", embed_schema());
	embed_spi(embed_ext_owner(), sql, 1, types, values, NULL, false, 1);
	if (SPI_processed == 0)
	{
		if (missing_ok)
			return NULL;
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("embedding job %lld does not exist", (long long) id)));
	}
	tup = SPI_tuptable->vals[0];
	desc = SPI_tuptable->tupdesc;
	job = palloc0(sizeof(EmbedJob));
	job->id = id;
	job->relid = DatumGetObjectId(SPI_getbinval(tup, desc, 1, &isnull));
	job->input = text_col(tup, desc, 2);
	job->target = text_col(tup, desc, 3);
	job->model_col = text_col(tup, desc, 4);
	s = text_col(tup, desc, 5);
	job->is_image = strcmp(s, "image") == 0;
	job->owner = DatumGetObjectId(SPI_getbinval(tup, desc, 6, &isnull));
	strlcpy(job->state, text_col(tup, desc, 7), sizeof(job->state));
	job->batch_size = DatumGetInt32(SPI_getbinval(tup, desc, 8, &isnull));
	job->workers = DatumGetInt32(SPI_getbinval(tup, desc, 9, &isnull));
	job->keep_current = DatumGetBool(SPI_getbinval(tup, desc, 10, &isnull));
	job->truncate = DatumGetBool(SPI_getbinval(tup, desc, 11, &isnull));
	job->max_attempts = DatumGetInt32(SPI_getbinval(tup, desc, 12, &isnull));
	job->retry_delay = text_col(tup, desc, 13);
	job->threads = DatumGetInt32(SPI_getbinval(tup, desc, 14, &isnull));
	job->model_path = text_col(tup, desc, 15);
	job->model = DatumGetInt32(SPI_getbinval(tup, desc, 16, &isnull));

	if (get_rel_name(job->relid) == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_TABLE),
				 errmsg("the table of embedding job %lld no longer exists", (long long) id),
				 errhint("Remove the job with embed_drop(%lld).", (long long) id)));
	job->qual_table = quote_qualified_identifier(get_namespace_name(get_rel_namespace(job->relid)),
												 get_rel_name(job->relid));
	job->state_sql = embed_state_sql(job->input, job->target, job->model_col);
	primary_key(job);
	MemoryContextSwitchTo(mcxt);
	return job;
}

void
embed_model_dims(int *dims)
{
	*dims = sc_model_output_dim(sparseclip_get_model()->model);
}

/*
 * The embed_models id of the model this backend encodes with (the one
 * sparseclip.model names, or the installed default when it is empty),
 * registered on first use.
 */
int
embed_current_model(EmbedJob *job)
{
	MemoryContext mcxt = CurrentMemoryContext;
	CachedModel *cm = sparseclip_get_model();
	const char *fp;
	Oid			types[3] = {TEXTOID, TEXTOID, INT4OID};
	Datum		values[3];
	bool		isnull;
	char	   *sql;
	int			id;

	fp = sparseclip_model_fingerprint(cm);
	values[0] = CStringGetTextDatum(fp);
	values[1] = CStringGetTextDatum(cm->path);
	values[2] = Int32GetDatum(sc_model_output_dim(cm->model));
	sql = psprintf("SELECT id FROM %s.embed_models WHERE fingerprint = $1", embed_schema());
	embed_spi(embed_ext_owner(), sql, 1, types, values, NULL, false, 1);
	if (SPI_processed == 0)
	{
		sql = psprintf("WITH i AS (INSERT INTO %s.embed_models (fingerprint, path, dims) "
					   "VALUES ($1, $2, $3) ON CONFLICT (fingerprint) DO NOTHING RETURNING id) "
					   "SELECT id FROM i UNION ALL SELECT id FROM %s.embed_models WHERE fingerprint = $1",
					   embed_schema(), embed_schema());
		embed_spi(embed_ext_owner(), sql, 3, types, values, NULL, false, 1);
		if (SPI_processed == 0)
			elog(ERROR, "could not register the model");
	}
	id = DatumGetInt32(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
	MemoryContextSwitchTo(mcxt);
	return id;
}

static int64
count_where(EmbedJob *job, const char *where)
{
	MemoryContext mcxt = CurrentMemoryContext;
	bool		isnull;
	int64		n;

	embed_spi(InvalidOid, psprintf("SELECT count(*) FROM ONLY %s t WHERE %s", job->qual_table, where),
			  0, NULL, NULL, NULL, true, 1);
	n = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
	MemoryContextSwitchTo(mcxt);
	return n;
}

/*
 * Exact counts for model, as the current user, each a range of the state
 * index: done (state = model), failed (-model), NULL inputs, and pending
 * (every other state).
 */
void
embed_counts(EmbedJob *job, int model, int64 *done, int64 *failed, int64 *pending, int64 *nulls)
{
	const char *s = job->state_sql;

	*done = count_where(job, psprintf("%s = %d", s, model));
	*failed = count_where(job, psprintf("%s = %d", s, -model));
	*nulls = count_where(job, psprintf("%s IS NULL", s));
	*pending = count_where(job, psprintf("%s < %d", s, -model)) +
		count_where(job, psprintf("%s > %d AND %s < %d", s, -model, s, model)) +
		count_where(job, psprintf("%s > %d", s, model));
}

/* 1200000 -> "1,200,000" */
char *
embed_format_count(int64 n)
{
	char		digits[32];
	char		out[48];
	int			len,
				o = 0;

	snprintf(digits, sizeof(digits), "%lld", (long long) (n < 0 ? -n : n));
	len = strlen(digits);
	if (n < 0)
		out[o++] = '-';
	for (int i = 0; i < len; i++)
	{
		if (i > 0 && (len - i) % 3 == 0)
			out[o++] = ',';
		out[o++] = digits[i];
	}
	out[o] = '\0';
	return pstrdup(out);
}
