-- sparseclip extension script, part 60: bulk embedding jobs.
--
--   SELECT embed_column('photos', 'jpeg', 'emb');    -- a job; background workers start
--   CALL embed_run(1);                               -- or embed in this session
--   SELECT * FROM embed_progress;
--
-- A job's state lives in these tables and in the embedded table itself: a
-- row is pending while its target is NULL or was made by another model
-- file (the companion column <target>_model names the model of each row,
-- an id in embed_models).  The tables are written only by the extension's
-- C functions; users read them through row security (rows of tables they
-- may read or update).

-- Every model file a job has embedded with, by content fingerprint.
CREATE TABLE embed_models (
	id integer GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	fingerprint text NOT NULL UNIQUE,
	path text NOT NULL,
	dims integer NOT NULL,
	first_used timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE embed_jobs (
	id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	tbl regclass NOT NULL,
	input_column name NOT NULL,
	target_column name NOT NULL,
	model_column name NOT NULL,
	kind text NOT NULL CHECK (kind IN ('image', 'text')),
	owner regrole NOT NULL,
	state text NOT NULL CHECK (state IN ('running', 'paused', 'cancelled', 'done')),
	batch_size integer NOT NULL,
	workers integer NOT NULL,
	keep_current boolean NOT NULL,
	truncate boolean NOT NULL,
	max_attempts integer NOT NULL,
	retry_delay interval NOT NULL,
	threads integer,
	model_path text NOT NULL,
	model integer NOT NULL REFERENCES embed_models,
	created_at timestamptz NOT NULL DEFAULT now(),
	resumed_at timestamptz NOT NULL DEFAULT now(),
	last_batch_at timestamptz,
	rows_embedded bigint NOT NULL DEFAULT 0,
	rate_since timestamptz,
	rate_rows bigint NOT NULL DEFAULT 0,
	rows_per_sec double precision,
	last_error text,
	last_error_at timestamptz,
	UNIQUE (tbl, target_column)
);

-- Rows whose input could not be embedded: the error, its SQLSTATE and when
-- the row is tried again (NULL once max_attempts is reached).
CREATE TABLE embed_failures (
	job bigint NOT NULL REFERENCES embed_jobs ON DELETE CASCADE,
	row_key text NOT NULL,
	model integer NOT NULL,
	attempts integer NOT NULL,
	sqlstate text NOT NULL,
	error text NOT NULL,
	first_failed_at timestamptz NOT NULL,
	last_failed_at timestamptz NOT NULL,
	retry_at timestamptz,
	PRIMARY KEY (job, row_key)
);

SELECT pg_catalog.pg_extension_config_dump('embed_models', '');
SELECT pg_catalog.pg_extension_config_dump('embed_jobs', '');
SELECT pg_catalog.pg_extension_config_dump('embed_failures', '');

ALTER TABLE embed_jobs ENABLE ROW LEVEL SECURITY;
ALTER TABLE embed_failures ENABLE ROW LEVEL SECURITY;
CREATE POLICY embed_jobs_visible ON embed_jobs FOR SELECT
	USING (has_table_privilege(tbl, 'SELECT, UPDATE'));
CREATE POLICY embed_failures_visible ON embed_failures FOR SELECT
	USING (EXISTS (SELECT 1 FROM embed_jobs j WHERE j.id = job));
REVOKE ALL ON embed_models, embed_jobs, embed_failures FROM PUBLIC;
GRANT SELECT ON embed_models, embed_jobs, embed_failures TO PUBLIC;

CREATE FUNCTION embed_column(tbl regclass, input name, target name,
	kind text DEFAULT 'auto', batch_size integer DEFAULT 32, workers integer DEFAULT 1,
	keep_current boolean DEFAULT true, truncate boolean DEFAULT false,
	max_attempts integer DEFAULT 3, retry_delay interval DEFAULT '30 seconds',
	threads integer DEFAULT NULL) RETURNS bigint
	AS 'MODULE_PATHNAME', 'sparseclip_embed_column' LANGUAGE C VOLATILE;
CREATE PROCEDURE embed_run(job bigint, max_rows bigint DEFAULT NULL)
	AS 'MODULE_PATHNAME', 'sparseclip_embed_run' LANGUAGE C;
CREATE FUNCTION embed_pause(job bigint) RETURNS void
	AS 'MODULE_PATHNAME', 'sparseclip_embed_pause' LANGUAGE C VOLATILE STRICT;
CREATE FUNCTION embed_resume(job bigint) RETURNS void
	AS 'MODULE_PATHNAME', 'sparseclip_embed_resume' LANGUAGE C VOLATILE STRICT;
CREATE FUNCTION embed_cancel(job bigint) RETURNS void
	AS 'MODULE_PATHNAME', 'sparseclip_embed_cancel' LANGUAGE C VOLATILE STRICT;
CREATE FUNCTION embed_drop(job bigint, drop_column boolean DEFAULT false) RETURNS void
	AS 'MODULE_PATHNAME', 'sparseclip_embed_drop' LANGUAGE C VOLATILE STRICT;
CREATE FUNCTION embed_retry_failed(job bigint) RETURNS bigint
	AS 'MODULE_PATHNAME', 'sparseclip_embed_retry_failed' LANGUAGE C VOLATILE STRICT;
-- Counts of one job, exact; restarts the job's workers when they are gone.
CREATE FUNCTION embed_status(job bigint, OUT state text, OUT rows_total bigint,
	OUT rows_done bigint, OUT rows_failed bigint, OUT rows_pending bigint,
	OUT rows_null bigint, OUT workers_alive integer)
	AS 'MODULE_PATHNAME', 'sparseclip_embed_status' LANGUAGE C VOLATILE STRICT;
CREATE FUNCTION embed_keep_current() RETURNS trigger
	AS 'MODULE_PATHNAME', 'sparseclip_embed_keep_current' LANGUAGE C;

CREATE VIEW embed_progress AS
SELECT j.id AS job, j.tbl AS "table", j.input_column AS input, j.target_column AS target,
	s.state, s.rows_total, s.rows_done, s.rows_failed, s.rows_pending, s.rows_null,
	round(r.rate::numeric, 1) AS rows_per_sec,
	CASE WHEN s.rows_pending = 0 THEN interval '0'
		WHEN r.rate > 0 THEN make_interval(secs => round(s.rows_pending / r.rate)) END AS eta,
	s.workers_alive, j.workers, j.last_error, j.last_error_at, j.last_batch_at,
	m.path AS model_path
FROM embed_jobs j
	CROSS JOIN LATERAL embed_status(j.id) s
	CROSS JOIN LATERAL (SELECT coalesce(j.rows_per_sec, j.rate_rows /
		nullif(extract(epoch FROM j.last_batch_at - j.rate_since), 0)) AS rate) r
	LEFT JOIN embed_models m ON m.id = j.model
WHERE has_table_privilege(j.tbl, 'SELECT');
GRANT SELECT ON embed_progress TO PUBLIC;

COMMENT ON FUNCTION embed_column(regclass, name, name, text, integer, integer, boolean, boolean, integer, interval, integer)
	IS 'Create or resume a job that embeds a bytea (image) or text column into an svec column';
COMMENT ON VIEW embed_progress IS 'Embedding jobs: state, exact counts, rate, time left, workers';
