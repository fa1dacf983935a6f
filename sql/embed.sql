-- Bulk embedding jobs in the foreground (workers => 0; background workers
-- are tested in test/t/040-042): embed_column, CALL embed_run, progress,
-- bad rows, retries, keep_current, a model change, steering, permissions.

DO $$ BEGIN PERFORM set_config('sparseclip.model',
	current_setting('sparseclip_test.fixtures') || '/encode/model.safetensors', false); END $$;

-- Writes a server file (superuser), for a second model file.
CREATE FUNCTION pg_temp.write_file(path text, data bytea) RETURNS void LANGUAGE plpgsql AS $$
DECLARE lo oid := lo_from_bytea(0, data);
BEGIN
	PERFORM lo_export(lo, path);
	PERFORM lo_unlink(lo);
END $$;
CREATE FUNCTION pg_temp.max_diff(a svec, b svec) RETURNS float8 LANGUAGE sql AS $$
	SELECT coalesce(max(abs(coalesce(x.weight, 0)::float8 - coalesce(y.weight, 0))), 0)
	FROM svec_entries(a) x FULL JOIN svec_entries(b) y USING (dim) $$;

CREATE TABLE docs (id int PRIMARY KEY, body text, note text);
INSERT INTO docs SELECT i, 'a photo of thing ' || i, NULL FROM generate_series(1, 60) i;
UPDATE docs SET body = NULL WHERE id = 7;
UPDATE docs SET body = repeat('cat ', 40) WHERE id = 9;
-- Every write of a vector is logged, to prove that no row is embedded twice.
CREATE TABLE writes (id int, at bigint GENERATED ALWAYS AS IDENTITY);
CREATE FUNCTION log_write() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN INSERT INTO writes (id) VALUES (NEW.id); RETURN NEW; END $$;

-- Bad calls: each a clear error.
CREATE TABLE nokey (body text);
SELECT embed_column('nokey', 'body', 'emb');
SELECT embed_column('docs', 'nothere', 'emb');
SELECT embed_column('docs', 'id', 'emb');
SELECT embed_column('docs', 'body', 'body');
SELECT embed_column('docs', 'body', 'note');
SELECT embed_column('docs', 'body', 'emb', kind => 'image');
SELECT embed_column('docs', 'body', 'emb', kind => 'audio');
SELECT embed_column('docs', 'body', 'emb', batch_size => 0);
SELECT embed_column('docs', 'body', 'emb', workers => -1);
SELECT embed_column('docs', 'body', 'emb', max_attempts => 0);
CREATE VIEW docs_v AS SELECT * FROM docs;
SELECT embed_column('docs_v', 'body', 'emb');
CALL embed_run(12345);
SELECT embed_pause(12345);

-- A job: the target (svec of the model's dimensions) and model columns
-- are added, with the state index and the keep_current trigger.
SELECT embed_column('docs', 'body', 'emb', batch_size => 8, workers => 0) AS job \gset
SELECT attname, format_type(atttypid, atttypmod) FROM pg_attribute
WHERE attrelid = 'docs'::regclass AND attnum > 0 ORDER BY attnum;
SELECT count(*) AS state_index FROM pg_index WHERE indrelid = 'docs'::regclass AND NOT indisprimary;
SELECT tgname LIKE 'sparseclip_embed_%_keep_current' AS trigger FROM pg_trigger WHERE tgrelid = 'docs'::regclass;
CREATE TRIGGER log_write AFTER UPDATE OF emb ON docs FOR EACH ROW WHEN (NEW.emb IS NOT NULL) EXECUTE FUNCTION log_write();
SELECT state, rows_total, rows_done, rows_failed, rows_pending, rows_null, workers_alive, workers
FROM embed_progress WHERE job = :job;

-- embed_run commits per batch, so it cannot run inside a transaction block.
BEGIN;
CALL embed_run(:job);
ROLLBACK;

-- Part of the table, then the rest: the long text fails (22001) and waits
-- for its retry; the NULL input is skipped.
CALL embed_run(:job, max_rows => 20);
SELECT rows_done, rows_pending FROM embed_progress WHERE job = :job;
CALL embed_run(:job);
SELECT state, rows_total, rows_done, rows_failed, rows_pending, rows_null FROM embed_progress WHERE job = :job;
SELECT row_key, attempts, sqlstate, error, retry_at > now() AS waits FROM embed_failures WHERE job = :job;
-- The vectors are encode_text's, each row written once.
SELECT count(*) AS rows, bool_and(pg_temp.max_diff(emb, encode_text(body)) < 1e-6) AS same
FROM docs WHERE emb IS NOT NULL;
SELECT count(*) AS writes, count(DISTINCT id) AS rows FROM writes;
-- Running again embeds nothing: done rows are never embedded again.
CALL embed_run(:job);
SELECT count(*) AS writes FROM writes;

-- keep_current: other columns, or the same input, leave the vector;
-- a changed input makes the row pending, as does a new row.
UPDATE docs SET note = 'seen' WHERE id = 1 RETURNING id, emb IS NOT NULL AS kept;
UPDATE docs SET body = body WHERE id = 2 RETURNING id, emb IS NOT NULL AS kept;
UPDATE docs SET body = 'a photo of thing ' || id WHERE id = 3 RETURNING id, emb IS NOT NULL AS kept;
UPDATE docs SET body = 'a red car' WHERE id = 4 RETURNING id, emb IS NULL AS pending, emb_model IS NULL AS no_model;
UPDATE docs SET body = NULL WHERE id = 5 RETURNING id, emb IS NULL AS cleared;
INSERT INTO docs VALUES (61, 'a new row'), (62, NULL);
SELECT rows_total, rows_done, rows_pending, rows_null FROM embed_progress WHERE job = :job;
CALL embed_run(:job);
-- only the row whose input changed was embedded again
SELECT id, count(*) AS writes FROM writes GROUP BY id HAVING count(*) > 1 ORDER BY id;
SELECT pg_temp.max_diff(emb, encode_text('a red car')) < 1e-6 AS new_vector FROM docs WHERE id = 4;
SELECT emb IS NOT NULL AS embedded FROM docs WHERE id = 61;

-- Options change by calling embed_column again (the same job); retries are
-- bounded: with no delay, the long text fails its last attempt at once and
-- is marked failed; embed_retry_failed with truncation embeds it.
SELECT embed_column('docs', 'body', 'emb', batch_size => 8, workers => 0, max_attempts => 2,
	retry_delay => '0') = :job AS same_job;
CALL embed_run(:job);
SELECT row_key, attempts, sqlstate, retry_at IS NULL AS given_up FROM embed_failures WHERE job = :job;
SELECT rows_done, rows_failed, rows_pending FROM embed_progress WHERE job = :job;
SELECT embed_column('docs', 'body', 'emb', workers => 0, truncate => true) = :job AS same_job;
SELECT embed_retry_failed(:job);
CALL embed_run(:job);
SELECT rows_done, rows_failed, rows_pending FROM embed_progress WHERE job = :job;
SELECT count(*) AS failures FROM embed_failures WHERE job = :job;
SELECT pg_temp.max_diff(emb, encode_text(body, truncate => true)) < 1e-6 AS truncated FROM docs WHERE id = 9;
-- One job per target column.
SELECT embed_column('docs', 'note', 'emb');

-- Another model file of the same shape (one weight changed): every row
-- embedded by the first model is pending again, keeps its old vector until
-- re-embedded, and is re-embedded once.
SELECT pg_temp.write_file('/tmp/sparseclip_embed_model2.safetensors', overlay(m PLACING
	set_byte('\x00'::bytea, 0, (get_byte(m, length(m) - 4) + 1) % 256) FROM length(m) - 3 FOR 1))
FROM pg_read_binary_file(current_setting('sparseclip_test.fixtures') || '/encode/model.safetensors') m;
SET sparseclip.model = '/tmp/sparseclip_embed_model2.safetensors';
TRUNCATE writes;
SELECT embed_resume(:job);
SELECT rows_done, rows_pending, rows_null FROM embed_progress WHERE job = :job;
SELECT count(*) FILTER (WHERE emb IS NOT NULL) AS old_vectors_kept FROM docs;
CALL embed_run(:job);
SELECT rows_done, rows_pending FROM embed_progress WHERE job = :job;
SELECT count(*) AS writes, count(DISTINCT id) AS rows FROM writes;
SELECT count(DISTINCT emb_model) AS models FROM docs WHERE emb IS NOT NULL;
SELECT m.path LIKE '%model2%' AS job_model FROM embed_jobs j JOIN embed_models m ON m.id = j.model WHERE j.id = :job;
DO $$ BEGIN PERFORM set_config('sparseclip.model',
	current_setting('sparseclip_test.fixtures') || '/encode/model.safetensors', false); END $$;

-- Steering: paused and cancelled jobs do not run until resumed.
SELECT embed_pause(:job);
SELECT state FROM embed_progress WHERE job = :job;
CALL embed_run(:job);
SELECT embed_cancel(:job);
SELECT state FROM embed_progress WHERE job = :job;
SELECT embed_resume(:job);
SELECT state FROM embed_progress WHERE job = :job;
CALL embed_run(:job);
SELECT rows_done, rows_pending FROM embed_progress WHERE job = :job;

-- Images: whatever encode_images accepts (JPEG, PNG, WebP); a corrupt image and one over
-- the pixel limit land in the failures table with their SQLSTATEs.
CREATE TABLE photos (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, name text, jpeg bytea);
INSERT INTO photos (name, jpeg) SELECT n, pg_read_binary_file(current_setting('sparseclip_test.fixtures') || '/encode/' || n)
FROM unnest(ARRAY['square.jpg', 'wide.jpg', 'tall.jpg', 'gray.jpg', 'rgba.png', 'palette_trns.png', 'lossy.webp', 'alpha_lossless.webp']) n;
INSERT INTO photos (name, jpeg) SELECT 'broken', substring(jpeg FROM 1 FOR 300) FROM photos WHERE name = 'wide.jpg';
SELECT embed_column('photos', 'jpeg', 'emb', workers => 0, max_attempts => 1) AS pjob \gset
SET sparseclip.max_image_pixels = 2200;  -- wide.jpg is 61 x 40
CALL embed_run(:pjob);
RESET sparseclip.max_image_pixels;
SELECT p.name, f.sqlstate, f.attempts, f.retry_at IS NULL AS given_up
FROM embed_failures f JOIN photos p ON p.id::text = f.row_key WHERE f.job = :pjob ORDER BY p.name;
SELECT count(*) AS embedded, bool_and(pg_temp.max_diff(emb, encode_image(jpeg)) < 1e-6) AS same
FROM photos WHERE emb IS NOT NULL;
SELECT rows_total, rows_done, rows_failed, rows_pending FROM embed_progress WHERE job = :pjob;

-- Permissions: the table's owner or a role with UPDATE on it may create
-- and steer a job; a role that may only read it may not.
CREATE ROLE embed_owner;
CREATE ROLE embed_writer;
CREATE ROLE embed_reader;
CREATE TABLE owned (id int PRIMARY KEY, body text);
INSERT INTO owned SELECT i, 'owned ' || i FROM generate_series(1, 5) i;
ALTER TABLE owned OWNER TO embed_owner;
-- (the owner makes the state index, so it needs CREATE on the schema)
GRANT CREATE ON SCHEMA public TO embed_owner;
GRANT SELECT, UPDATE ON owned TO embed_writer;
GRANT SELECT ON owned TO embed_reader;
SET ROLE embed_reader;
SELECT embed_column('owned', 'body', 'emb', workers => 0);
RESET ROLE;
SET ROLE embed_writer;
SELECT embed_column('owned', 'body', 'emb', workers => 0) AS ojob \gset
CALL embed_run(:ojob);
SELECT state, rows_done, rows_pending FROM embed_progress WHERE job = :ojob;
-- the job tables are written only through the functions
UPDATE embed_jobs SET state = 'paused';
RESET ROLE;
SET ROLE embed_reader;
SELECT embed_pause(:ojob);
SELECT job, state FROM embed_progress ORDER BY job;
SELECT count(*) AS visible_jobs FROM embed_jobs;
RESET ROLE;
-- background workers connect as the job's owner, which must log in
SET ROLE embed_writer;
SELECT embed_column('owned', 'body', 'emb', workers => 1);
RESET ROLE;
SELECT owner FROM embed_jobs WHERE id = :ojob;

-- Dropping a job removes its trigger and index; drop_column its columns.
SELECT embed_drop(:ojob, drop_column => true);
SELECT attname FROM pg_attribute WHERE attrelid = 'owned'::regclass AND attnum > 0 AND NOT attisdropped ORDER BY attnum;
SELECT embed_drop(:job);
SELECT count(*) AS triggers FROM pg_trigger WHERE tgrelid = 'docs'::regclass AND tgname LIKE 'sparseclip%';
SELECT count(*) AS indexes FROM pg_index WHERE indrelid = 'docs'::regclass AND NOT indisprimary;
SELECT count(emb) > 0 AS vectors_kept FROM docs;
SELECT embed_drop(:pjob);
SELECT count(*) AS jobs, (SELECT count(*) FROM embed_failures) AS failures FROM embed_jobs;
DROP TABLE owned, docs, photos, nokey, writes CASCADE;
DROP FUNCTION log_write();
REVOKE CREATE ON SCHEMA public FROM embed_owner;
DROP ROLE embed_owner;
DROP ROLE embed_writer;
DROP ROLE embed_reader;
RESET sparseclip.model;
