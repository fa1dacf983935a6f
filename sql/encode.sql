-- Encoding text and JPEG images with a model file, against the plain
-- PyTorch reference (test/fixtures/gen_encode_fixtures.py).

-- (With sparseclip.model empty the installed default model is used, or an
-- error says none is installed: test/t/013_default_model.pl, whose
-- installations it controls.)

-- Fixtures: texts with their token ids and reference embeddings, images
-- with their reference embeddings.
CREATE TEMP TABLE fx_texts (t text, ids int[], emb svec);
CREATE TEMP TABLE fx_long (t text, ids int[], emb svec);
CREATE TEMP TABLE fx_images (name text, emb svec);
DO $$
DECLARE dir text := current_setting('sparseclip_test.fixtures') || '/encode/';
BEGIN
	EXECUTE format('COPY fx_texts FROM %L', dir || 'texts.tsv');
	EXECUTE format('COPY fx_long FROM %L', dir || 'long_text.tsv');
	EXECUTE format('COPY fx_images FROM %L', dir || 'images.tsv');
	PERFORM set_config('sparseclip.model', dir || 'model.safetensors', false);
END $$;
ALTER TABLE fx_images ADD COLUMN jpeg bytea;
UPDATE fx_images SET jpeg = pg_read_binary_file(current_setting('sparseclip_test.fixtures') || '/encode/' || name);

-- Largest absolute difference over every dimension, and the dimensions
-- active in one vector but not the other beyond 1e-6.
CREATE FUNCTION pg_temp.max_diff(a svec, b svec) RETURNS float8 LANGUAGE sql AS $$
	SELECT coalesce(max(abs(coalesce(x.weight, 0)::float8 - coalesce(y.weight, 0))), 0)
	FROM svec_entries(a) x FULL JOIN svec_entries(b) y USING (dim) $$;
CREATE FUNCTION pg_temp.support_mismatch(a svec, b svec) RETURNS int LANGUAGE sql AS $$
	SELECT count(*)::int FROM svec_entries(a) x FULL JOIN svec_entries(b) y USING (dim)
	WHERE (x.weight IS NULL AND abs(y.weight) > 1e-6) OR (y.weight IS NULL AND abs(x.weight) > 1e-6) $$;

-- Writes a server file (superuser): lo_export must see the large object
-- from an earlier statement, hence plpgsql.
CREATE FUNCTION pg_temp.write_file(path text, data bytea) RETURNS void LANGUAGE plpgsql AS $$
DECLARE lo oid := lo_from_bytea(0, data);
BEGIN
	PERFORM lo_export(lo, path);
	PERFORM lo_unlink(lo);
END $$;

SELECT model_info() - 'path' - 'blas_kernels' AS info;
SELECT model_info()->>'path' LIKE '%/encode/model.safetensors' AS path_ok;

-- The tokenizer gives the reference ids.
SELECT t, tokenize(t) = ids AS ids_match FROM fx_texts ORDER BY t;

-- Text embeddings match the reference.
SELECT t, pg_temp.max_diff(encode_text(t), emb) <= 1e-4 AS close,
	pg_temp.support_mismatch(encode_text(t), emb) AS mismatched_dims,
	abs(l2_norm(encode_text(t)) - 1) < 1e-5 AS unit
FROM fx_texts ORDER BY t;
-- The batch form gives the same vectors, NULL for NULL.
SELECT count(*) AS texts,
	bool_and(pg_temp.max_diff(b.e, f.emb) <= 1e-4) AS batch_close
FROM fx_texts f
JOIN LATERAL unnest((SELECT encode_texts(array_agg(t ORDER BY t)) FROM fx_texts),
	(SELECT array_agg(t ORDER BY t) FROM fx_texts)) AS b(e, t) ON b.t = f.t;
SELECT encode_texts(ARRAY[NULL, 'hello world', NULL]::text[]) IS NOT NULL AS ok,
	(encode_texts(ARRAY[NULL, 'hello world', NULL]::text[]))[1] IS NULL AS first_null,
	pg_temp.max_diff((encode_texts(ARRAY[NULL, 'hello world']::text[]))[2],
		encode_text('hello world')) <= 1e-6 AS second_same;
SELECT encode_texts(ARRAY[]::text[]);
SELECT dims(encode_text('a photo of a cat')), nnz(encode_text('a photo of a cat')) > 0 AS active;

-- Longer than the context: an error, or CLIP's truncation on request.
SELECT encode_text(t) FROM fx_long;
SELECT tokenize(t, truncate => false) FROM fx_long;
SELECT tokenize(t) = ids AS truncated_ids_match,
	pg_temp.max_diff(encode_text(t, truncate => true), emb) <= 1e-4 AS truncated_close
FROM fx_long;
SELECT encode_texts(ARRAY['a cat', (SELECT t FROM fx_long)]);
-- Invalid UTF-8 cannot reach the function through a UTF8 database; text
-- with characters outside the merges still encodes (byte fallback).
SELECT nnz(encode_text('ζέβρα 🦓')) > 0 AS encodes;

-- Image embeddings match the reference (decoding, bicubic resize of the
-- shorter side, centre crop, normalisation, vision tower, sparse head).
SELECT name, pg_temp.max_diff(encode_image(jpeg), emb) <= 1e-4 AS close,
	pg_temp.support_mismatch(encode_image(jpeg), emb) AS mismatched_dims
FROM fx_images ORDER BY name;
SELECT count(*) AS images, bool_and(pg_temp.max_diff(b.e, f.emb) <= 1e-4) AS batch_close
FROM fx_images f
JOIN LATERAL unnest((SELECT encode_images(array_agg(jpeg ORDER BY name)) FROM fx_images),
	(SELECT array_agg(name ORDER BY name) FROM fx_images)) AS b(e, name) ON b.name = f.name;
SELECT (encode_images(ARRAY[NULL, (SELECT jpeg FROM fx_images WHERE name = 'square.jpg')]))[1] IS NULL AS null_kept;
-- Image and text embeddings live in one space: inner products are defined.
SELECT (encode_image(jpeg) <#> encode_text('a photo of a cat')) < 0 AS comparable
FROM fx_images WHERE name = 'square.jpg';

-- Bad images: each a clear error, and the backend stays usable.
SELECT encode_image(''::bytea);
SELECT encode_image('\x00010203'::bytea);
SELECT encode_image('\x89504e470d0a1a0a0000000d49484452'::bytea);
SELECT encode_image(substring(jpeg FROM 1 FOR 300)) FROM fx_images WHERE name = 'wide.jpg';
SELECT encode_image(substring(jpeg FROM 1 FOR 20)) FROM fx_images WHERE name = 'wide.jpg';
SELECT encode_images(ARRAY[(SELECT jpeg FROM fx_images WHERE name = 'square.jpg'), '\xffd8ff'::bytea]);
SET sparseclip.max_image_pixels = 1000;
SELECT encode_image(jpeg) FROM fx_images WHERE name = 'wide.jpg';
RESET sparseclip.max_image_pixels;
DO $$
DECLARE
	inputs bytea[] := ARRAY[''::bytea, '\x00010203'::bytea, '\xffd8ffe000104a464946'::bytea];
	b bytea;
BEGIN
	FOREACH b IN ARRAY inputs LOOP
		BEGIN
			PERFORM encode_image(b);
			RAISE NOTICE 'accepted';
		EXCEPTION WHEN OTHERS THEN
			RAISE NOTICE '% bytes -> %', length(b), SQLSTATE;
		END;
	END LOOP;
END $$;
SELECT pg_temp.max_diff(encode_image(jpeg), emb) <= 1e-4 AS still_works
FROM fx_images WHERE name = 'square.jpg';

-- Bad model files: missing, not safetensors, truncated; each an error,
-- and setting a good file back works at once.
SET sparseclip.model = '/nonexistent/model.safetensors';
SELECT encode_text('a cat');
SELECT pg_temp.write_file('/tmp/sparseclip_not_a_model.safetensors', pg_read_binary_file(
	current_setting('sparseclip_test.fixtures') || '/encode/texts.tsv'));
SET sparseclip.model = '/tmp/sparseclip_not_a_model.safetensors';
SELECT encode_text('a cat');
SELECT pg_temp.write_file('/tmp/sparseclip_truncated.safetensors', substring(pg_read_binary_file(
	current_setting('sparseclip_test.fixtures') || '/encode/model.safetensors') FROM 1 FOR 5000));
SET sparseclip.model = '/tmp/sparseclip_truncated.safetensors';
SELECT encode_text('a cat');
SELECT model_info();
DO $$ BEGIN PERFORM set_config('sparseclip.model',
	current_setting('sparseclip_test.fixtures') || '/encode/model.safetensors', false); END $$;
SELECT pg_temp.max_diff(encode_text('hello world'), emb) <= 1e-4 AS recovered
FROM fx_texts WHERE t = 'hello world';

-- The model is reloaded when the file changes: write one model to a path,
-- use it, then overwrite it with another (a dense one) and see the change.
SELECT pg_temp.write_file('/tmp/sparseclip_swap.safetensors', pg_read_binary_file(
	current_setting('sparseclip_test.fixtures') || '/encode/model.safetensors'));
SET sparseclip.model = '/tmp/sparseclip_swap.safetensors';
SELECT (model_info()->'config'->>'sparse_dim')::int AS sparse_dim, dims(encode_text('a cat'));
SELECT pg_temp.write_file('/tmp/sparseclip_swap.safetensors', pg_read_binary_file(
	current_setting('sparseclip_test.fixtures') || '/encode/dense.safetensors'));
SELECT (model_info()->'config'->>'sparse_dim')::int AS sparse_dim, model_info()->'sparse' AS sparse,
	dims(encode_text('a cat')) AS dims, nnz(encode_text('a cat')) AS nnz,
	abs(l2_norm(encode_text('a cat')) - 1) < 1e-5 AS unit;
RESET sparseclip.model;

-- Only a superuser chooses the model file or the image size limit.
CREATE ROLE encode_user;
SET ROLE encode_user;
SET sparseclip.model = '/tmp/x.safetensors';
SET sparseclip.max_image_pixels = 10;
SET sparseclip.threads = 2;
SHOW sparseclip.threads;
RESET ROLE;
DROP ROLE encode_user;
SET sparseclip.threads = 0;
SET sparseclip.threads = 65;

-- More OpenBLAS threads give the same vectors.  OpenBLAS (opened on first
-- use) runs no thread of its own while sparseclip.threads is 1, and one
-- more at 2: the backend's threads, from /proc.
SELECT (regexp_match(pg_read_file('/proc/self/status'), 'Threads:\s+(\d+)'))[1] AS threads_at_one;
DO $$ BEGIN PERFORM set_config('sparseclip.model',
	current_setting('sparseclip_test.fixtures') || '/encode/model.safetensors', false); END $$;
SET sparseclip.threads = 2;
SELECT bool_and(pg_temp.max_diff(encode_image(jpeg), emb) <= 1e-4) AS two_threads_close
FROM fx_images;
SELECT bool_and(pg_temp.max_diff(encode_text(t), emb) <= 1e-4) AS two_threads_close
FROM fx_texts;
SELECT (regexp_match(pg_read_file('/proc/self/status'), 'Threads:\s+(\d+)'))[1] AS threads_at_two;
RESET sparseclip.threads;

-- Query cancel reaches a long batch quickly.
DO $$ BEGIN PERFORM set_config('sparseclip.model',
	current_setting('sparseclip_test.fixtures') || '/encode/model.safetensors', false); END $$;
SET statement_timeout = '100ms';
SELECT cardinality(encode_texts(array_agg('two dogs playing ' || (i % 10))))
FROM generate_series(1, 200000) i;
RESET statement_timeout;
SELECT nnz(encode_text('still usable')) > 0 AS usable;
