/*
 * embed.h - bulk embedding jobs: a job embeds one input column (bytea
 * images or text) of a table into an svec target column, batch by batch,
 * in the foreground (CALL embed_run) or in dynamic background workers.
 *
 * State lives in the extension's tables (embed_jobs, embed_failures,
 * embed_models) and in the table itself: the companion column
 * <target>_model holds, per row, the id of the model that made its vector
 * (negative: the row failed for good under that model), and an index on
 * the row's "state" (see embed_state_sql) finds pending rows exactly.
 */
#ifndef SPARSECLIP_EMBED_H
#define SPARSECLIP_EMBED_H

#include "postgres.h"

#include "datatype/timestamp.h"
#include "executor/spi.h"

/* pg_locks objsubid of the advisory locks that mark a live worker slot */
#define EMBED_LOCK_FIELD4 21315

/* One job as read from embed_jobs, with what its SQL needs. */
typedef struct EmbedJob
{
	int64		id;
	Oid			relid;
	char	   *input;			/* column names, unquoted */
	char	   *target;
	char	   *model_col;
	bool		is_image;
	Oid			owner;
	char		state[16];
	int			batch_size;
	int			workers;
	bool		keep_current;
	bool		truncate;
	int			max_attempts;
	char	   *retry_delay;	/* interval, as text */
	int			threads;		/* 0: cores / workers */
	char	   *model_path;
	int			model;			/* embed_models id last used */

	/* derived from the catalogs */
	char	   *qual_table;		/* quoted schema.table */
	int			npk;			/* primary key columns */
	char	  **pk_names;		/* quoted */
	Oid		   *pk_types;
	char	   *key_sql;		/* the row's key as text, e.g. (t.id)::text */
	char	   *state_sql;		/* the state expression (see embed_state_sql) */
	char	   *order_sql;		/* state, pk columns: the state index's order */
} EmbedJob;

/* Where a claim scan stopped in each range of pending states. */
typedef struct EmbedCursor
{
	bool		valid[3];
	int			state[3];
	Datum	   *pk[3];			/* npk values each, in cursor_cxt */
	MemoryContext cxt;
} EmbedCursor;

/* Result of one batch. */
typedef struct EmbedBatchResult
{
	int			claimed;
	int			embedded;
	int			failed;
} EmbedBatchResult;

/* common.c: the extension, roles, SPI helpers */
extern const char *embed_schema(void);
extern Oid	embed_ext_owner(void);
extern int	embed_spi(Oid as_role, const char *sql, int nargs, Oid *types, Datum *values,
					  const char *nulls, bool read_only, long count);
extern void embed_check_table_privilege(Oid relid);
extern EmbedJob *embed_load_job(int64 id, bool missing_ok);
extern char *embed_state_sql(const char *input, const char *target, const char *model_col);
extern int	embed_current_model(EmbedJob *job);
extern void embed_model_dims(int *dims);
extern void embed_counts(EmbedJob *job, int model, int64 *done, int64 *failed,
						 int64 *pending, int64 *nulls);
extern char *embed_format_count(int64 n);

/* batch.c: one batch in the current transaction */
extern EmbedBatchResult embed_batch(EmbedJob *job, int limit, EmbedCursor *cursor);
extern void embed_record_progress(EmbedJob *job, int model, int rows, TimestampTz started);

/* workers.c */
extern void embed_ensure_workers(EmbedJob *job, bool report);
extern void embed_ensure_all_workers(void);
extern int	embed_workers_alive(int64 job, bool *slots, int nslots);
extern void embed_terminate_workers(int64 job);
extern void embed_apply_threads(EmbedJob *job);
extern PGDLLEXPORT void sparseclip_embed_worker_main(Datum arg);

#endif
