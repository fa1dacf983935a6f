/*
 * workers.c - dynamic background workers for embedding jobs.
 *
 * RegisterDynamicBackgroundWorker needs no shared_preload_libraries, but
 * such workers do not come back after a server restart: every job
 * function and every read of embed_progress calls embed_ensure_workers,
 * which starts the missing workers of running jobs.  A job with N workers
 * has slots 0..N-1; a worker holds the session advisory lock (job, slot)
 * while it lives (pg_locks, objsubid EMBED_LOCK_FIELD4), so the live
 * workers of a job are counted from pg_locks, and a second worker started
 * for a taken slot leaves at once: starting too many is harmless.
 *
 * A worker connects as the job's owner, waits for the transaction that
 * started it to end (so that it sees the job that transaction wrote),
 * loads the model once, and runs batches, one transaction each, until the
 * job is paused, cancelled or dropped, or (without keep_current) nothing
 * is left to embed.  With keep_current it polls for pending rows every
 * 250 ms.  An error in a batch is recorded as the job's last_error and
 * retried after a pause that doubles up to a minute.
 */
#include "postgres.h"

#include <signal.h>
#include <unistd.h>

#include "access/xact.h"
#include "catalog/pg_type.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "postmaster/bgworker.h"
#include "postmaster/interrupt.h"
#include "storage/ipc.h"
#include "storage/latch.h"
#include "storage/lmgr.h"
#include "storage/lock.h"
#include "storage/proc.h"
#include "storage/procarray.h"
#include "tcop/tcopprot.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/memutils.h"
#include "utils/snapmgr.h"
#include "utils/timestamp.h"

#include "embed/embed.h"

typedef struct WorkerArgs
{
	Oid			db;
	Oid			owner;
	int64		job;
	int			slot;
	TransactionId xid;			/* the starting transaction, to wait for */
} WorkerArgs;

StaticAssertDecl(sizeof(WorkerArgs) <= BGW_EXTRALEN, "worker arguments fit in bgw_extra");

static const char *alive_sql =
"SELECT objid::int8, pid FROM pg_catalog.pg_locks WHERE locktype = 'advisory' "
"AND database = (SELECT oid FROM pg_catalog.pg_database WHERE datname = current_database()) "
"AND classid = $1::oid AND objsubid = " CppAsString2(EMBED_LOCK_FIELD4) " AND granted";

/*
 * Live workers of a job; slots[i] set for each live slot i < nslots.
 * Needs an SPI connection.
 */
int
embed_workers_alive(int64 job, bool *slots, int nslots)
{
	MemoryContext mcxt = CurrentMemoryContext;
	Oid			types[1] = {INT8OID};
	Datum		values[1] = {Int64GetDatum(job)};
	int			n;

	embed_spi(InvalidOid, alive_sql, 1, types, values, NULL, true, 0);
	n = (int) SPI_processed;
	for (int i = 0; i < n && slots; i++)
	{
		bool		isnull;
		int64		slot = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 1, &isnull));

		if (slot >= 0 && slot < nslots)
			slots[slot] = true;
	}
	MemoryContextSwitchTo(mcxt);
	return n;
}

/* SIGTERM to a job's workers, and wait (up to 30 s) until they are gone. */
void
embed_terminate_workers(int64 job)
{
	MemoryContext mcxt = CurrentMemoryContext;
	Oid			types[1] = {INT8OID};
	Datum		values[1] = {Int64GetDatum(job)};

	embed_spi(InvalidOid, alive_sql, 1, types, values, NULL, true, 0);
	for (uint64 i = 0; i < SPI_processed; i++)
	{
		bool		isnull;
		int			pid = DatumGetInt32(SPI_getbinval(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 2, &isnull));

		/* only a live backend's pid: never 0 (the process group) */
		if (!isnull && pid > 0 && pid != MyProcPid && BackendPidGetProc(pid) != NULL)
			kill(pid, SIGTERM);
	}
	MemoryContextSwitchTo(mcxt);
	for (int wait = 0; wait < 300 && embed_workers_alive(job, NULL, 0) > 0; wait++)
	{
		CHECK_FOR_INTERRUPTS();
		pg_usleep(100000L);
	}
}

static bool
launch(EmbedJob *job, int slot)
{
	BackgroundWorker w;
	WorkerArgs	a;

	memset(&w, 0, sizeof(w));
	w.bgw_flags = BGWORKER_SHMEM_ACCESS | BGWORKER_BACKEND_DATABASE_CONNECTION;
	w.bgw_start_time = BgWorkerStart_RecoveryFinished;
	w.bgw_restart_time = BGW_NEVER_RESTART;
	strlcpy(w.bgw_library_name, "sparseclip", BGW_MAXLEN);
	strlcpy(w.bgw_function_name, "sparseclip_embed_worker_main", BGW_MAXLEN);
	snprintf(w.bgw_name, BGW_MAXLEN, "sparseclip embed job %lld worker %d", (long long) job->id, slot);
	strlcpy(w.bgw_type, "sparseclip embed", BGW_MAXLEN);
	a.db = MyDatabaseId;
	a.owner = job->owner;
	a.job = job->id;
	a.slot = slot;
	a.xid = GetTopTransactionIdIfAny();
	memcpy(w.bgw_extra, &a, sizeof(a));
	w.bgw_notify_pid = 0;
	return RegisterDynamicBackgroundWorker(&w, NULL);
}

/*
 * Start the missing workers of a running job.  With report, say when no
 * worker slot is free and how to embed without one.
 */
void
embed_ensure_workers(EmbedJob *job, bool report)
{
	bool	   *slots;
	int			missing = 0,
				failed = 0;

	if (strcmp(job->state, "running") != 0 || job->workers == 0 || RecoveryInProgress())
		return;
	slots = palloc0(sizeof(bool) * job->workers);
	embed_workers_alive(job->id, slots, job->workers);
	for (int s = 0; s < job->workers; s++)
		if (!slots[s])
		{
			missing++;
			if (!launch(job, s))
				failed++;
		}
	if (failed > 0 && report)
		ereport(WARNING,
				(errcode(ERRCODE_CONFIGURATION_LIMIT_EXCEEDED),
				 errmsg("embedding job %lld: no background worker slot free for %d of its %d workers",
						(long long) job->id, failed, job->workers),
				 errdetail("max_worker_processes (%d) limits all background workers of the server.",
						   max_worker_processes),
				 errhint("CALL embed_run(%lld) embeds in this session; or raise max_worker_processes (needs a restart).",
						 (long long) job->id)));
}

/* Start the missing workers of every running job of this database. */
void
embed_ensure_all_workers(void)
{
	MemoryContext mcxt = CurrentMemoryContext;
	int64	   *ids;
	int			n;

	if (RecoveryInProgress())
		return;
	embed_spi(embed_ext_owner(),
			  psprintf("SELECT j.id FROM %s.embed_jobs j JOIN pg_catalog.pg_class c ON c.oid = j.tbl "
					   "WHERE j.state = 'running' AND j.workers > 0", embed_schema()),
			  0, NULL, NULL, NULL, true, 0);
	n = (int) SPI_processed;
	ids = palloc(sizeof(int64) * Max(n, 1));
	for (int i = 0; i < n; i++)
	{
		bool		isnull;

		ids[i] = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 1, &isnull));
	}
	MemoryContextSwitchTo(mcxt);
	for (int i = 0; i < n; i++)
	{
		EmbedJob   *job = embed_load_job(ids[i], true);

		if (job)
			embed_ensure_workers(job, false);
	}
}

/* OpenBLAS threads: the job's setting, else the cores shared among its workers. */
void
embed_apply_threads(EmbedJob *job)
{
	int			n = job->threads;
	char		buf[16];

	if (n <= 0)
	{
		long		cores = sysconf(_SC_NPROCESSORS_ONLN);

		n = (int) Max(1, (cores > 0 ? cores : 1) / Max(1, job->workers));
	}
	snprintf(buf, sizeof(buf), "%d", Min(n, 64));
	SetConfigOption("sparseclip.threads", buf, PGC_USERSET, PGC_S_SESSION);
}

/* Record a batch's error as the job's last error (in its own transaction). */
static void
record_error(int64 job, const char *msg)
{
	Oid			types[2] = {INT8OID, TEXTOID};
	Datum		values[2] = {Int64GetDatum(job), CStringGetTextDatum(msg)};

	SetCurrentStatementStartTimestamp();
	StartTransactionCommand();
	SPI_connect();
	PushActiveSnapshot(GetTransactionSnapshot());
	embed_spi(embed_ext_owner(),
			  psprintf("UPDATE %s.embed_jobs SET last_error = $2, last_error_at = now() WHERE id = $1",
					   embed_schema()), 2, types, values, NULL, false, 0);
	SPI_finish();
	PopActiveSnapshot();
	CommitTransactionCommand();
}

static void
report_status(EmbedJob *job, int64 done, int64 total, bool idle)
{
	char		msg[64];

	snprintf(msg, sizeof(msg), "embed job %lld: %s of %s%s", (long long) job->id,
			 embed_format_count(done), embed_format_count(total), idle ? " (waiting)" : "");
	pgstat_report_appname(msg);
	pgstat_report_activity(idle ? STATE_IDLE : STATE_RUNNING, msg);
}

void
sparseclip_embed_worker_main(Datum main_arg)
{
	WorkerArgs	a;
	LOCKTAG		tag;
	MemoryContext loopcxt;
	EmbedCursor *cursor;
	int			errors = 0;
	TimestampTz counted_at = 0;
	int64		done = 0,
				total = 0;
	char	   *model_path = NULL;

	memcpy(&a, MyBgworkerEntry->bgw_extra, sizeof(a));
	pqsignal(SIGTERM, die);
	pqsignal(SIGHUP, SignalHandlerForConfigReload);
	BackgroundWorkerUnblockSignals();
	BackgroundWorkerInitializeConnectionByOid(a.db, a.owner, 0);
	{
		char		msg[64];

		snprintf(msg, sizeof(msg), "embed job %lld: starting", (long long) a.job);
		pgstat_report_appname(msg);
	}

	StartTransactionCommand();
	if (TransactionIdIsValid(a.xid))
		XactLockTableWait(a.xid, NULL, NULL, XLTW_None);
	SET_LOCKTAG_ADVISORY(tag, MyDatabaseId, (uint32) a.job, (uint32) a.slot, EMBED_LOCK_FIELD4);
	if (LockAcquire(&tag, ExclusiveLock, true, true) == LOCKACQUIRE_NOT_AVAIL)
	{
		CommitTransactionCommand();
		proc_exit(0);			/* the slot has its worker */
	}
	CommitTransactionCommand();

	loopcxt = AllocSetContextCreate(TopMemoryContext, "embed worker batch", ALLOCSET_DEFAULT_SIZES);
	cursor = MemoryContextAllocZero(TopMemoryContext, sizeof(EmbedCursor));
	cursor->cxt = AllocSetContextCreate(TopMemoryContext, "embed worker cursor", ALLOCSET_SMALL_SIZES);

	for (;;)
	{
		bool		stop = false;
		bool		idle = false;

		CHECK_FOR_INTERRUPTS();
		if (ConfigReloadPending)
		{
			ConfigReloadPending = false;
			ProcessConfigFile(PGC_SIGHUP);
		}
		MemoryContextReset(loopcxt);
		MemoryContextSwitchTo(loopcxt);
		PG_TRY();
		{
			EmbedJob   *job;

			SetCurrentStatementStartTimestamp();
			StartTransactionCommand();
			SPI_connect();
			PushActiveSnapshot(GetTransactionSnapshot());
			MemoryContextSwitchTo(loopcxt);
			job = embed_load_job(a.job, true);
			if (job == NULL || strcmp(job->state, "running") != 0 || a.slot >= job->workers)
				stop = true;
			else
			{
				EmbedBatchResult res;

				if (model_path == NULL || strcmp(model_path, job->model_path) != 0)
				{
					SetConfigOption("sparseclip.model", job->model_path, PGC_SUSET, PGC_S_SESSION);
					model_path = MemoryContextStrdup(TopMemoryContext, job->model_path);
				}
				embed_apply_threads(job);
				res = embed_batch(job, job->batch_size, cursor);
				done += res.embedded;
				if (res.claimed == 0 || counted_at == 0 ||
					TimestampDifferenceExceeds(counted_at, GetCurrentTimestamp(), 10000))
				{
					int64		failed,
								pending,
								nulls;

					embed_counts(job, embed_current_model(job), &done, &failed, &pending, &nulls);
					total = done + failed + pending;
					counted_at = GetCurrentTimestamp();
					if (res.claimed == 0)
					{
						idle = true;
						if (pending == 0 && !job->keep_current)
						{
							Oid			types[1] = {INT8OID};
							Datum		values[1] = {Int64GetDatum(job->id)};

							embed_spi(embed_ext_owner(),
									  psprintf("UPDATE %s.embed_jobs SET state = 'done' WHERE id = $1 AND state = 'running'",
											   embed_schema()), 1, types, values, NULL, false, 0);
							stop = true;
						}
					}
				}
				report_status(job, done, total, idle);
			}
			SPI_finish();
			PopActiveSnapshot();
			CommitTransactionCommand();
			errors = 0;
		}
		PG_CATCH();
		{
			ErrorData  *e;

			MemoryContextSwitchTo(loopcxt);
			e = CopyErrorData();
			EmitErrorReport();
			FlushErrorState();
			AbortCurrentTransaction();
			record_error(a.job, e->message ? e->message : "unknown error");
			errors++;
		}
		PG_END_TRY();
		if (stop)
			break;
		if (errors > 0 || idle)
		{
			long		ms = errors > 0 ? Min(60000L, 1000L << Min(errors - 1, 6)) : 250L;

			(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH, ms, PG_WAIT_EXTENSION);
			ResetLatch(MyLatch);
		}
	}
	proc_exit(0);
}
