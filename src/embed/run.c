/*
 * run.c - CALL embed_run(job, max_rows): embedding in the foreground, one
 * committed transaction per batch (SPI in non-atomic mode), for sessions
 * that want to watch the work or servers without a free worker slot.
 *
 * It embeds with the model this session names (sparseclip.model), which
 * becomes the job's model, and stops when nothing is pending, after
 * max_rows rows, or when the job is paused or cancelled elsewhere.
 * Progress NOTICEs come every 10 s and at the end.
 */
#include "postgres.h"

#include "access/xact.h"
#include "catalog/pg_type.h"
#include "miscadmin.h"
#include "nodes/parsenodes.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/memutils.h"
#include "utils/snapmgr.h"
#include "utils/timestamp.h"

#include "embed/embed.h"
#include "model_cache.h"

PG_FUNCTION_INFO_V1(sparseclip_embed_run);
Datum
sparseclip_embed_run(PG_FUNCTION_ARGS)
{
	int64		id;
	bool		has_max = !PG_ARGISNULL(1);
	int64		max_rows = has_max ? PG_GETARG_INT64(1) : 0;
	MemoryContext runcxt,
				batchcxt;
	EmbedCursor *cursor;
	int64		embedded = 0,
				failed = 0,
				claimed = 0;
	TimestampTz start = GetCurrentTimestamp();
	TimestampTz noticed = start;
	char		stopped[16] = "";

	if (PG_ARGISNULL(0))
		ereport(ERROR, (errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED), errmsg("job must not be NULL")));
	id = PG_GETARG_INT64(0);
	if (has_max && max_rows < 0)
		ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE), errmsg("max_rows must not be negative")));
	if (fcinfo->context == NULL || !IsA(fcinfo->context, CallContext) ||
		((CallContext *) fcinfo->context)->atomic)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_TRANSACTION_TERMINATION),
				 errmsg("embed_run commits each batch, so it must be called by CALL outside a transaction block")));

	runcxt = AllocSetContextCreate(CurrentMemoryContext, "embed_run", ALLOCSET_DEFAULT_SIZES);
	batchcxt = AllocSetContextCreate(runcxt, "embed_run batch", ALLOCSET_DEFAULT_SIZES);
	cursor = MemoryContextAllocZero(runcxt, sizeof(EmbedCursor));
	cursor->cxt = runcxt;

	SPI_connect_ext(SPI_OPT_NONATOMIC);
	for (;;)
	{
		EmbedJob   *job;
		EmbedBatchResult res;
		int			limit;

		CHECK_FOR_INTERRUPTS();
		MemoryContextReset(batchcxt);
		MemoryContextSwitchTo(batchcxt);
		PushActiveSnapshot(GetTransactionSnapshot());
		job = embed_load_job(id, false);
		if (claimed == 0)
		{
			const char *path = GetConfigOption("sparseclip.model", false, false);

			embed_check_table_privilege(job->relid);
			if (strcmp(job->state, "paused") == 0 || strcmp(job->state, "cancelled") == 0)
				ereport(ERROR,
						(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
						 errmsg("embedding job %lld is %s", (long long) id, job->state),
						 errhint("embed_resume(%lld) makes it run again.", (long long) id)));
			if (path == NULL || strcmp(path, job->model_path) != 0)
			{
				Oid			types[2] = {INT8OID, TEXTOID};
				Datum		values[2] = {Int64GetDatum(id), CStringGetTextDatum(path ? path : "")};

				/* one model per job: the workers follow this session's */
				(void) embed_current_model(job);
				embed_spi(embed_ext_owner(),
						  psprintf("UPDATE %s.embed_jobs SET model_path = $2 WHERE id = $1", embed_schema()),
						  2, types, values, NULL, false, 0);
				if (path == NULL || path[0] == '\0')
					ereport(NOTICE,
							(errmsg("embedding job %lld now embeds with the default model \"%s\"",
									(long long) id, sparseclip_get_model()->path)));
				else
					ereport(NOTICE,
							(errmsg("embedding job %lld now embeds with model file \"%s\"", (long long) id, path)));
			}
		}
		else if (strcmp(job->state, "paused") == 0 || strcmp(job->state, "cancelled") == 0)
		{
			strlcpy(stopped, job->state, sizeof(stopped));
			PopActiveSnapshot();
			break;
		}
		limit = job->batch_size;
		if (has_max)
			limit = (int) Min((int64) limit, max_rows - claimed);
		if (limit <= 0)
		{
			PopActiveSnapshot();
			break;
		}
		res = embed_batch(job, limit, cursor);
		PopActiveSnapshot();
		SPI_commit();
		claimed += res.claimed;
		embedded += res.embedded;
		failed += res.failed;
		if (res.claimed == 0)
			break;
		if (TimestampDifferenceExceeds(noticed, GetCurrentTimestamp(), 10000))
		{
			long		secs;
			int			usecs;

			noticed = GetCurrentTimestamp();
			TimestampDifference(start, noticed, &secs, &usecs);
			ereport(NOTICE,
					(errmsg("embed job %lld: %s rows embedded, %s failed (%.0f rows/s)", (long long) id,
							embed_format_count(embedded), embed_format_count(failed),
							embedded / Max(0.001, secs + usecs / 1e6))));
		}
	}

	/* the closing NOTICE carries the job's exact counts */
	MemoryContextSwitchTo(batchcxt);
	PushActiveSnapshot(GetTransactionSnapshot());
	{
		EmbedJob   *job = embed_load_job(id, false);
		int64		done,
					nfailed,
					pending,
					nulls;

		embed_counts(job, embed_current_model(job), &done, &nfailed, &pending, &nulls);
		ereport(NOTICE,
				(errmsg("embed job %lld: %s rows embedded in this call, %s failed; %s of %s rows done, %s pending%s%s",
						(long long) id, embed_format_count(embedded), embed_format_count(failed),
						embed_format_count(done), embed_format_count(done + nfailed + pending),
						embed_format_count(pending), stopped[0] ? "; stopped: the job is " : "", stopped)));
	}
	PopActiveSnapshot();
	SPI_finish();
	MemoryContextDelete(runcxt);
	PG_RETURN_VOID();
}
