-- The inverted index access method: exact ORDER BY <#> / <=> against a
-- sequential scan on random data, through inserts, updates, deletes and
-- VACUUM.  Results are compared inside SQL so the output is deterministic.

SET client_min_messages = warning;
SELECT setseed(0.1234);

-- random vector: nnz draws over dim (low dims more popular), weights in
-- [-neg, 1.3 - neg)
CREATE FUNCTION inv_rand(dim int, nnz int, neg float8) RETURNS svec
LANGUAGE sql VOLATILE AS $$
	SELECT coalesce(svec(array_agg(d), array_agg(w), dim), ('{}/' || dim)::svec)
	FROM (SELECT DISTINCT ON (d) d, (random() * 1.3 - neg)::real AS w
	      FROM (SELECT 1 + floor(dim * random() ^ 2)::int AS d
	            FROM generate_series(1, nnz)) a) b
	WHERE w <> 0
$$;

-- Run ORDER BY emb <op> q [LIMIT lim] with and without the index; 'ok' when
-- the index plan was used and returned the same distances in the same order
-- with no row twice (ties may come in any order).
CREATE FUNCTION inv_compare(tab text, op text, q svec, lim int, filter text)
RETURNS text LANGUAGE plpgsql AS $$
DECLARE
	sql text := format('SELECT id, emb %s $1 AS d FROM %I WHERE %s ORDER BY emb %s $1 %s',
					   op, tab, filter, op,
					   CASE WHEN lim IS NULL THEN '' ELSE 'LIMIT ' || lim END);
	r record;
	plan text := '';
	ids_i int[] := '{}';
	d_i float8[] := '{}';
	d_s float8[] := '{}';
BEGIN
	PERFORM set_config('enable_seqscan', 'off', true);
	PERFORM set_config('enable_indexscan', 'on', true);
	FOR r IN EXECUTE 'EXPLAIN (COSTS OFF) ' || sql USING q LOOP
		plan := plan || r."QUERY PLAN" || E'\n';
	END LOOP;
	IF plan NOT LIKE '%Index Scan using%' THEN
		RETURN 'no index scan: ' || plan;
	END IF;
	FOR r IN EXECUTE sql USING q LOOP
		ids_i := ids_i || r.id;
		d_i := d_i || r.d;
	END LOOP;
	PERFORM set_config('enable_seqscan', 'on', true);
	PERFORM set_config('enable_indexscan', 'off', true);
	FOR r IN EXECUTE sql USING q LOOP
		d_s := d_s || r.d;
	END LOOP;
	PERFORM set_config('enable_indexscan', 'on', true);
	IF d_i IS DISTINCT FROM d_s THEN
		RETURN format('distances differ for %s limit %s where %s: %s rows vs %s', q, lim, filter,
					  cardinality(d_i), cardinality(d_s));
	END IF;
	IF (SELECT count(DISTINCT x) FROM unnest(ids_i) x) <> cardinality(ids_i) THEN
		RETURN 'duplicate rows';
	END IF;
	RETURN 'ok';
END $$;

-- every combination of operator, LIMIT and filter for n random queries
CREATE FUNCTION inv_sweep(tab text, ops text[], nq int, dim int, qnnz int, neg float8)
RETURNS TABLE (result text, n bigint) LANGUAGE sql AS $$
	SELECT left(r, 60), count(*) FROM (
		SELECT inv_compare(tab, op, q, lim, f) AS r
		FROM (SELECT inv_rand(dim, qnnz, neg) AS q FROM generate_series(1, nq)) qs,
			 unnest(ops) op,
			 unnest(ARRAY[1, 10, 100, NULL]) lim,
			 unnest(ARRAY['true', 'cat = 3', 'id % 5 = 0 AND cat <> 1']) f
	) s GROUP BY 1 ORDER BY 1
$$;

CREATE TABLE docs (id int PRIMARY KEY, cat int, emb svec);
INSERT INTO docs SELECT i, i % 7, inv_rand(300, 1 + (i % 40), 0.2) FROM generate_series(1, 4000) i;
UPDATE docs SET emb = '{}/300' WHERE id % 97 = 0;
UPDATE docs SET emb = NULL WHERE id % 101 = 0;

CREATE INDEX docs_ip ON docs USING inverted (emb svec_ip_ops);
CREATE INDEX docs_cos ON docs USING inverted (emb svec_cosine_ops);
SELECT inverted_check('docs_ip') AS rows_ip, inverted_check('docs_cos') AS rows_cos;

-- planner: the index serves ORDER BY distance (with LIMIT), nothing else
EXPLAIN (COSTS OFF) SELECT id FROM docs ORDER BY emb <#> '{1:1}/300' LIMIT 5;
EXPLAIN (COSTS OFF) SELECT id FROM docs ORDER BY emb <=> '{1:1}/300' LIMIT 5;
EXPLAIN (COSTS OFF) SELECT id FROM docs ORDER BY emb <#> '{1:1}/300';
EXPLAIN (COSTS OFF) SELECT id FROM docs WHERE emb <#> '{1:1}/300' < -0.5;
EXPLAIN (COSTS OFF) SELECT id FROM docs ORDER BY emb <-> '{1:1}/300' LIMIT 5;

-- exactness on the freshly built index: positive and mixed-sign queries
SELECT * FROM inv_sweep('docs', ARRAY['<#>', '<=>'], 6, 300, 12, 0.0);
SELECT * FROM inv_sweep('docs', ARRAY['<#>', '<=>'], 4, 300, 30, 0.6);

-- queries of rare dimensions: most documents score 0 (or less), and the
-- scan offers the positive scores first, the rest only when they can enter
-- a batch (LIMIT 100 and no LIMIT reach them); pruning on, then off
CREATE FUNCTION inv_rare_sweep(tab text, qs svec[])
RETURNS TABLE (result text, n bigint) LANGUAGE sql AS $$
	SELECT left(inv_compare(tab, op, q, lim, f), 60), count(*)
	FROM unnest(qs) q, unnest(ARRAY['<#>', '<=>']) op,
		 unnest(ARRAY[1, 10, 100, NULL]) lim, unnest(ARRAY['true', 'cat = 3']) f
	GROUP BY 1 ORDER BY 1
$$;
SELECT * FROM inv_rare_sweep('docs', '{"{290:1}/300", "{299:0.5}/300", "{280:0.7,295:0.2}/300", "{290:-1}/300", "{285:1,1:-0.01}/300"}');
SET sparseclip.inverted_prune = off;
SELECT * FROM inv_rare_sweep('docs', '{"{290:1}/300", "{299:0.5}/300", "{280:0.7,295:0.2}/300", "{290:-1}/300", "{285:1,1:-0.01}/300"}');
RESET sparseclip.inverted_prune;

-- a query that fewer rows than its LIMIT share a dimension with: the rows
-- that share none get their exact distance as key (0; cosine 1), so the
-- executor returns them without first fetching every row of the table
CREATE TABLE few (id int, cat int, emb svec);
INSERT INTO few SELECT i, i % 7, svec(ARRAY[1 + i % 50], ARRAY[1]::real[], 300)
FROM generate_series(1, 3000) i;
INSERT INTO few VALUES (3001, 0, '{300:0.5}/300'), (3002, 0, '{1:1,300:0.7}/300'),
	(3003, 0, '{299:1,300:0.1}/300'), (3004, 0, '{}/300'), (3005, 0, NULL);
CREATE INDEX few_ip ON few USING inverted (emb svec_ip_ops);
CREATE INDEX few_cos ON few USING inverted (emb svec_cosine_ops);
-- and in the pending list
INSERT INTO few SELECT i, i % 7, svec(ARRAY[1 + i % 50], ARRAY[1]::real[], 300)
FROM generate_series(3006, 3305) i;
SELECT op, lim, inv_compare('few', op, '{300:1}/300', lim, 'true')
FROM unnest(ARRAY['<#>', '<=>']) op, unnest(ARRAY[10, 3310]) lim ORDER BY 1, 2;
-- (the counters include earlier statements' fetches not yet reported)
BEGIN;
SET LOCAL enable_seqscan = off;
SELECT pg_stat_get_xact_tuples_fetched('few_ip'::regclass) +
	pg_stat_get_xact_tuples_fetched('few_cos'::regclass) AS fetched_before \gset
SELECT count(*) FROM (SELECT id FROM few ORDER BY emb <#> '{300:1}/300' LIMIT 10) s;
SELECT count(*) FROM (SELECT id FROM few ORDER BY emb <=> '{300:1}/300' LIMIT 10) s;
SELECT pg_stat_get_xact_tuples_fetched('few_ip'::regclass) +
	pg_stat_get_xact_tuples_fetched('few_cos'::regclass) - :fetched_before
	BETWEEN 20 AND 100 AS few_rows_fetched;
COMMIT;
DROP TABLE few;

-- NULL and zero vectors come last; a NULL query orders nothing but returns all
SET enable_seqscan = off;
SELECT count(*) AS n, count(*) FILTER (WHERE emb IS NULL) AS nulls
FROM (SELECT emb FROM docs ORDER BY emb <#> '{3:1}/300') s;
SELECT array_agg(id ORDER BY id) = (SELECT array_agg(id ORDER BY id) FROM docs WHERE emb IS NULL) AS nulls_last
FROM (SELECT id, emb FROM docs ORDER BY emb <#> '{3:1}/300' OFFSET 4000 - 39) s;
SELECT bool_and(nnz(emb) = 0) AS zero_vectors_nan_last
FROM (SELECT emb FROM docs ORDER BY emb <=> '{3:1}/300' OFFSET 4000 - 39 - 41 LIMIT 41) s;
SELECT count(*) FROM (SELECT id FROM docs ORDER BY emb <#> NULL LIMIT 50) s;
SELECT count(*) FROM (SELECT id FROM docs ORDER BY emb <=> '{}/300') s;
SELECT id FROM docs ORDER BY emb <#> '{1:1}/301' LIMIT 1;
RESET enable_seqscan;

-- writes: deletes, updates (new versions go to the pending list), inserts
DELETE FROM docs WHERE id % 11 = 0;
UPDATE docs SET emb = inv_rand(300, 25, 0.1) WHERE id % 13 = 0;
UPDATE docs SET cat = cat + 1 WHERE id % 17 = 0;
INSERT INTO docs SELECT i, i % 7, inv_rand(300, 1 + (i % 30), 0.2) FROM generate_series(4001, 4600) i;
INSERT INTO docs VALUES (4601, 3, NULL), (4602, 3, '{}/300');
SELECT inverted_check('docs_ip') AS rows_ip, inverted_check('docs_cos') AS rows_cos;
SELECT * FROM inv_sweep('docs', ARRAY['<#>', '<=>'], 4, 300, 12, 0.1);

-- VACUUM marks dead documents and folds the pending list into a segment
VACUUM docs;
SELECT inverted_check('docs_ip') AS rows_ip, inverted_check('docs_cos') AS rows_cos;
SELECT * FROM inv_sweep('docs', ARRAY['<#>', '<=>'], 4, 300, 12, 0.1);

-- inserts after VACUUM, with merges into small segments along the way
SET sparseclip.inverted_pending_limit = 300;
INSERT INTO docs SELECT i, i % 7, inv_rand(300, 1 + (i % 30), 0.2) FROM generate_series(5001, 6500) i;
RESET sparseclip.inverted_pending_limit;
DELETE FROM docs WHERE id BETWEEN 5100 AND 5300;
SELECT inverted_check('docs_ip') AS rows_ip, inverted_check('docs_cos') AS rows_cos;
SELECT * FROM inv_sweep('docs', ARRAY['<#>', '<=>'], 4, 300, 12, 0.1);

-- deleting most rows makes VACUUM compact everything into one segment
DELETE FROM docs WHERE id % 3 <> 0;
VACUUM docs;
SELECT inverted_check('docs_ip') AS rows_ip, inverted_check('docs_cos') AS rows_cos;
SELECT * FROM inv_sweep('docs', ARRAY['<#>', '<=>'], 3, 300, 12, 0.1);

-- REINDEX (plain and concurrent) gives the same answers
REINDEX INDEX docs_ip;
REINDEX INDEX CONCURRENTLY docs_cos;
SELECT inverted_check('docs_ip') AS rows_ip, inverted_check('docs_cos') AS rows_cos;
SELECT * FROM inv_sweep('docs', ARRAY['<#>', '<=>'], 3, 300, 12, 0.1);

-- an index on an empty table, filled by inserts only
CREATE TABLE empty_docs (id int, cat int, emb svec);
CREATE INDEX ON empty_docs USING inverted (emb svec_ip_ops);
SET enable_seqscan = off;
SELECT count(*) FROM (SELECT id FROM empty_docs ORDER BY emb <#> '{1:1}/5' LIMIT 3) s;
INSERT INTO empty_docs VALUES (1, 0, '{1:1}/5'), (2, 0, '{1:2,5:-1}/5'), (3, 0, NULL), (4, 0, '{}/5');
SELECT emb <#> '{1:1,5:1}/5' AS d, emb IS NULL AS is_null FROM empty_docs ORDER BY emb <#> '{1:1,5:1}/5';
RESET enable_seqscan;

-- huge vectors: one at the svec limit of 1,000,000 non-zeros, spanning pages
CREATE TABLE big (id int, cat int, emb svec);
INSERT INTO big SELECT 1, 0, svec(array_agg(i), array_agg((1 + i % 5)::real), 2000000)
	FROM generate_series(1, 1000000) i;
INSERT INTO big SELECT i, i % 7, inv_rand(2000000, 50, 0.0) FROM generate_series(2, 200) i;
CREATE INDEX big_ip ON big USING inverted (emb svec_ip_ops);
INSERT INTO big SELECT 1001, 0, svec(array_agg(i), array_agg((1 + i % 3)::real), 2000000)
	FROM generate_series(500000, 1200000) i;
SELECT inverted_check('big_ip');
SELECT * FROM inv_sweep('big', ARRAY['<#>'], 2, 2000000, 40, 0.0);
SET enable_seqscan = off;
SELECT emb <#> svec(ARRAY[1, 500000], ARRAY[1, 1]::real[], 2000000) AS d
FROM big ORDER BY emb <#> svec(ARRAY[1, 500000], ARRAY[1, 1]::real[], 2000000) LIMIT 3;
RESET enable_seqscan;
VACUUM big;
SELECT inverted_check('big_ip');

-- approximate setting: off by default; when on, scans still return rows in
-- order of the distance they estimate
SHOW sparseclip.inverted_query_terms;
SET sparseclip.inverted_query_terms = 5;
SET enable_seqscan = off;
SELECT count(*) FROM (SELECT id FROM big ORDER BY emb <#> inv_rand(2000000, 40, 0.0) LIMIT 7) s;
RESET enable_seqscan;
RESET sparseclip.inverted_query_terms;

-- Non-negative data (the Sparse-CLIP case): scans walk the query terms that
-- add most per posting first and stop walking the document ranges that can no
-- longer reach the first batch; later batches complete the ranges they need.
-- 41 ranges of 1,024 documents; one document in each of the first 16 ranges
-- has dim 2 = 10, so for {1:1,2:1} the first batch's bar is 10 and the 25
-- ranges whose dims 1 and 2 stay below 1 each are left incomplete.  Dense
-- dimensions are stored as bitmap pieces, sparse ones as offsets.  These
-- constructed tables keep their insertion order (reorder = off), which is
-- what places the best documents; sql/inverted_reorder.sql reorders.
CREATE TABLE demo (id int, emb svec);
INSERT INTO demo SELECT i, svec(ARRAY[1, 2, 3 + i % 5],
	ARRAY[1 - (i::bigint * 104729 % 1000) / 2000.0,
		  CASE WHEN i % 1024 = 1 AND i < 16 * 1024 THEN 10 ELSE (i::bigint * 7919 % 1000) / 2000.0 + 0.001 END,
		  0.5]::real[], 8)
FROM generate_series(1, 41 * 1024) i;
CREATE INDEX demo_ip ON demo USING inverted (emb svec_ip_ops) WITH (reorder = off);
SET enable_seqscan = off;
SET client_min_messages = debug1;
SELECT id, emb <#> '{1:1,2:1}/8' AS d FROM demo ORDER BY emb <#> '{1:1,2:1}/8' LIMIT 3;
SELECT count(*) FROM (SELECT id FROM demo ORDER BY emb <#> '{1:1,2:1}/8' LIMIT 200) s;
SET client_min_messages = warning;
RESET enable_seqscan;
SELECT inv_compare('demo', '<#>', '{1:1,2:1}/8', lim, 'true') AS r, count(*)
FROM unnest(ARRAY[1, 16, 17, 200, 5000, NULL]) lim GROUP BY 1;
DROP TABLE demo;

-- random non-negative data with popular low dims: fresh, with dead rows
-- (VACUUM marks them, their postings stay until a merge: a range whose best
-- document is dead must not set the bar), with several segments and the
-- pending list, and with pruning off (the same answers)
CREATE TABLE pos (id int PRIMARY KEY, cat int, emb svec);
INSERT INTO pos SELECT i, i % 7, inv_rand(1500, 30, 0.0) FROM generate_series(1, 24000) i;
UPDATE pos SET emb = '{}/1500' WHERE id % 997 = 0;
UPDATE pos SET emb = NULL WHERE id % 1009 = 0;
CREATE INDEX pos_ip ON pos USING inverted (emb svec_ip_ops);
CREATE INDEX pos_cos ON pos USING inverted (emb svec_cosine_ops);
SELECT inverted_check('pos_ip'), inverted_check('pos_cos');
SELECT * FROM inv_sweep('pos', ARRAY['<#>', '<=>'], 4, 1500, 12, 0.0);
DELETE FROM pos WHERE id IN (SELECT id FROM pos ORDER BY emb <#> '{1:1,2:1,3:1}/1500' LIMIT 40);
DELETE FROM pos WHERE id % 19 = 0;
VACUUM pos;
SELECT inverted_check('pos_ip'), inverted_check('pos_cos');
SELECT inv_compare('pos', op, '{1:1,2:1,3:1}/1500', lim, f) AS r, count(*)
FROM unnest(ARRAY['<#>', '<=>']) op, unnest(ARRAY[1, 10, 100, NULL]) lim, unnest(ARRAY['true', 'cat = 3']) f GROUP BY 1;
SELECT * FROM inv_sweep('pos', ARRAY['<#>', '<=>'], 3, 1500, 12, 0.0);
SET sparseclip.inverted_pending_limit = 1500;
INSERT INTO pos SELECT i, i % 7, inv_rand(1500, 30, 0.0) FROM generate_series(30001, 35000) i;
RESET sparseclip.inverted_pending_limit;
SELECT inverted_check('pos_ip'), inverted_check('pos_cos');
SELECT * FROM inv_sweep('pos', ARRAY['<#>', '<=>'], 3, 1500, 12, 0.0);
-- rare dimensions over several segments and the pending list: every
-- segment's positive scores are offered before any segment's zeros
SELECT * FROM inv_rare_sweep('pos', '{"{1490:1}/1500", "{1495:0.5,1480:0.5}/1500", "{1499:1,1:-0.01}/1500"}');
SET sparseclip.inverted_prune = off;
SELECT * FROM inv_sweep('pos', ARRAY['<#>', '<=>'], 2, 1500, 12, 0.0);
RESET sparseclip.inverted_prune;
SET sparseclip.inverted_initial_batch = 1;
SELECT * FROM inv_sweep('pos', ARRAY['<#>', '<=>'], 2, 1500, 12, 0.0);
RESET sparseclip.inverted_initial_batch;
-- the narrower scoring loops (the widest the CPU has are used by default):
-- AVX2, where the CPU has it, and the portable ones
SET sparseclip.inverted_simd = avx2;
SELECT * FROM inv_sweep('pos', ARRAY['<#>'], 2, 1500, 12, 0.0);
SELECT inv_compare('docs', op, inv_rand(300, 12, 0.1), 10, 'true') AS r, count(*)
FROM unnest(ARRAY['<#>', '<=>']) op, generate_series(1, 3) GROUP BY 1;
SET sparseclip.inverted_simd = off;
SELECT * FROM inv_sweep('pos', ARRAY['<#>'], 2, 1500, 12, 0.0);
SELECT inv_compare('docs', op, inv_rand(300, 12, 0.1), 10, 'true') AS r, count(*)
FROM unnest(ARRAY['<#>', '<=>']) op, generate_series(1, 3) GROUP BY 1;
RESET sparseclip.inverted_simd;

-- Cosine and mixed signs prune too.  Cosine compares partial scores over
-- |d| against the range bounds of w / |d|; with mixed signs a witness of
-- the bar counts its partial score plus the least (most negative) the
-- remaining terms can add.  41 ranges; one document in each of the first 16
-- is the best for the query, the other 25 ranges are left incomplete.
--   cos_demo: documents (d1, d2, 2) with small d1, d2; the best ones (1, 1)
--   mix_demo: documents (d1 in (0, .5], d2 in [-.5, .05]); the best (10, 5),
--             queried with {1:1,2:1} and with {1:1,2:-1} (best (10, -5))
CREATE TABLE cos_demo (id int, emb svec);
INSERT INTO cos_demo SELECT i, CASE WHEN i % 1024 = 1 AND i < 16 * 1024 THEN '{1:1,2:1}/8'::svec
	ELSE svec(ARRAY[1, 2, 3 + i % 5], ARRAY[(i::bigint * 104729 % 1000) / 2000.0 + 0.001,
	                                        (i::bigint * 7919 % 1000) / 20000.0 + 0.001, 2]::real[], 8) END
FROM generate_series(1, 41 * 1024) i;
CREATE INDEX cos_demo_cos ON cos_demo USING inverted (emb svec_cosine_ops) WITH (reorder = off);
CREATE TABLE mix_demo (id int, emb svec);
INSERT INTO mix_demo SELECT i, svec(ARRAY[1, 2, 3 + i % 5],
	CASE WHEN i % 1024 = 1 AND i < 16 * 1024 THEN ARRAY[10, 5 - 10 * (i / 1024 % 2), 1]::real[]
	ELSE ARRAY[(i::bigint * 104729 % 1000) / 2000.0 + 0.001,
	           0.05 - (i::bigint * 7919 % 1000) / 1800.0, 0.5]::real[] END, 8)
FROM generate_series(1, 41 * 1024) i;
CREATE INDEX mix_demo_ip ON mix_demo USING inverted (emb svec_ip_ops) WITH (reorder = off);
CREATE INDEX mix_demo_cos ON mix_demo USING inverted (emb svec_cosine_ops) WITH (reorder = off);
SET enable_seqscan = off;
SET client_min_messages = debug1;
SELECT id, emb <=> '{1:1,2:1}/8' AS d FROM cos_demo ORDER BY emb <=> '{1:1,2:1}/8' LIMIT 3;
SELECT id, emb <#> '{1:1,2:1}/8' AS d FROM mix_demo ORDER BY emb <#> '{1:1,2:1}/8' LIMIT 3;
SELECT id, emb <#> '{1:1,2:-1}/8' AS d FROM mix_demo ORDER BY emb <#> '{1:1,2:-1}/8' LIMIT 3;
SELECT id FROM mix_demo ORDER BY emb <=> '{1:1,2:1}/8' LIMIT 1;
SET client_min_messages = warning;
RESET enable_seqscan;
SELECT inv_compare(t, op, q, lim, 'true') AS r, count(*)
FROM (VALUES ('cos_demo', '<=>', '{1:1,2:1}/8'::svec), ('mix_demo', '<#>', '{1:1,2:1}/8'),
             ('mix_demo', '<#>', '{1:1,2:-1}/8'), ('mix_demo', '<=>', '{1:1,2:1}/8'),
             ('mix_demo', '<=>', '{1:1,2:-1}/8')) v(t, op, q),
     unnest(ARRAY[1, 16, 17, 200, 5000, NULL]) lim GROUP BY 1;
DROP TABLE cos_demo, mix_demo;

-- random mixed-sign data, pruned and not: fresh, with dead rows, with
-- several segments and the pending list
CREATE TABLE mix (id int PRIMARY KEY, cat int, emb svec);
INSERT INTO mix SELECT i, i % 7, inv_rand(1000, 30, 0.4) FROM generate_series(1, 20000) i;
UPDATE mix SET emb = '{}/1000' WHERE id % 997 = 0;
UPDATE mix SET emb = NULL WHERE id % 1009 = 0;
CREATE INDEX mix_ip ON mix USING inverted (emb svec_ip_ops);
CREATE INDEX mix_cos ON mix USING inverted (emb svec_cosine_ops);
SELECT inverted_check('mix_ip'), inverted_check('mix_cos');
SELECT * FROM inv_sweep('mix', ARRAY['<#>', '<=>'], 3, 1000, 12, 0.0);
SELECT * FROM inv_sweep('mix', ARRAY['<#>', '<=>'], 3, 1000, 12, 0.4);
DELETE FROM mix WHERE id IN (SELECT id FROM mix ORDER BY emb <#> '{1:1,2:1,3:1}/1000' LIMIT 40);
DELETE FROM mix WHERE id IN (SELECT id FROM mix ORDER BY emb <=> '{1:1,2:-1,3:1}/1000' LIMIT 40);
DELETE FROM mix WHERE id % 19 = 0;
VACUUM mix;
SET sparseclip.inverted_pending_limit = 1500;
INSERT INTO mix SELECT i, i % 7, inv_rand(1000, 30, 0.4) FROM generate_series(30001, 34000) i;
RESET sparseclip.inverted_pending_limit;
SELECT inverted_check('mix_ip'), inverted_check('mix_cos');
SELECT inv_compare('mix', op, q, lim, f) AS r, count(*)
FROM unnest(ARRAY['<#>', '<=>']) op, unnest(ARRAY['{1:1,2:1,3:1}/1000'::svec, '{1:1,2:-1,3:1}/1000']) q,
     unnest(ARRAY[1, 10, 100, NULL]) lim, unnest(ARRAY['true', 'cat = 3']) f GROUP BY 1;
SELECT * FROM inv_sweep('mix', ARRAY['<#>', '<=>'], 3, 1000, 12, 0.4);
SET sparseclip.inverted_prune = off;
SELECT * FROM inv_sweep('mix', ARRAY['<#>', '<=>'], 2, 1000, 12, 0.4);
RESET sparseclip.inverted_prune;
SET sparseclip.inverted_initial_batch = 1;
SELECT * FROM inv_sweep('mix', ARRAY['<#>', '<=>'], 2, 1000, 12, 0.4);
RESET sparseclip.inverted_initial_batch;
DROP TABLE mix;

-- The index-wide dimension follows the rows the index holds: rows of another
-- dimension make scans raise the operator's error; once they are deleted and
-- VACUUM has run, scans work again.  Odd rows in the built segment (only
-- marked dead, no merge), in the pending list, and in a merged segment.
CREATE TABLE dims (id int, emb svec);
INSERT INTO dims SELECT i, inv_rand(50, 8, 0.2) FROM generate_series(1, 3000) i;
INSERT INTO dims VALUES (3001, '{1:1,7:2}/60'), (3002, '{3:1}/60'), (3003, NULL);
CREATE INDEX dims_ip ON dims USING inverted (emb svec_ip_ops);
CREATE INDEX dims_cos ON dims USING inverted (emb svec_cosine_ops);
SET enable_seqscan = off;
SELECT id FROM dims ORDER BY emb <#> '{1:1}/50' LIMIT 1;
DELETE FROM dims WHERE id IN (3001, 3002);
SELECT id FROM dims ORDER BY emb <#> '{1:1}/50' LIMIT 1;
VACUUM dims;
RESET enable_seqscan;
SELECT inv_compare('dims', op, inv_rand(50, 6, 0.2), lim, 'true') AS r, count(*)
FROM unnest(ARRAY['<#>', '<=>']) op, unnest(ARRAY[1, 10, NULL]) lim GROUP BY 1;
SELECT inverted_check('dims_ip') AS rows_ip, inverted_check('dims_cos') AS rows_cos;
SET enable_seqscan = off;
SELECT id FROM dims ORDER BY emb <#> '{1:1}/60' LIMIT 1;
INSERT INTO dims VALUES (3004, '{2:1}/70');
SELECT id FROM dims ORDER BY emb <=> '{1:1}/50' LIMIT 1;
DELETE FROM dims WHERE id = 3004;
VACUUM dims;
SELECT count(*) FROM (SELECT id FROM dims ORDER BY emb <=> '{1:1}/50' LIMIT 5) s;
SET sparseclip.inverted_pending_limit = 100;
INSERT INTO dims SELECT i, inv_rand(80, 8, 0.2) FROM generate_series(4001, 4150) i;
RESET sparseclip.inverted_pending_limit;
SELECT id FROM dims ORDER BY emb <#> '{1:1}/50' LIMIT 1;
DELETE FROM dims WHERE id > 4000;
VACUUM dims;
RESET enable_seqscan;
SELECT inv_compare('dims', op, inv_rand(50, 6, 0.2), lim, 'true') AS r, count(*)
FROM unnest(ARRAY['<#>', '<=>']) op, unnest(ARRAY[1, 10, NULL]) lim GROUP BY 1;
SELECT inverted_check('dims_ip') AS rows_ip, inverted_check('dims_cos') AS rows_cos;
DROP TABLE dims;

-- the helper thread (sparseclip.inverted_scan_threads = 2) adds the postings
-- of one block of 32 ranges while the backend finds those of the next: the
-- same answers, inner product and cosine, positive and mixed signs, pruned
-- or not.  70,000 rows: 69 ranges, three blocks of a pipeline.
CREATE TABLE wide (id int PRIMARY KEY, cat int, emb svec);
INSERT INTO wide SELECT i, i % 7, inv_rand(1500, 20, CASE WHEN i % 5 = 0 THEN 0.3 ELSE 0.0 END)
FROM generate_series(1, 70000) i;
CREATE INDEX wide_ip ON wide USING inverted (emb svec_ip_ops);
CREATE INDEX wide_cos ON wide USING inverted (emb svec_cosine_ops);
SET sparseclip.inverted_scan_threads = 2;
SELECT * FROM inv_sweep('wide', ARRAY['<#>', '<=>'], 3, 1500, 12, 0.0);
SELECT * FROM inv_sweep('wide', ARRAY['<#>'], 2, 1500, 30, 0.5);
SET sparseclip.inverted_prune = off;
SELECT * FROM inv_sweep('wide', ARRAY['<#>'], 1, 1500, 12, 0.0);
RESET sparseclip.inverted_prune;
-- a helper that lags (a setting for tests) is two blocks behind whenever
-- the backend could hand it another: in the walks after the first the
-- backend adds those blocks itself, still holding their pages until the
-- helper is done with the blocks before
SET sparseclip.inverted_helper_lag = 300;
SELECT * FROM inv_sweep('wide', ARRAY['<#>', '<=>'], 2, 1500, 12, 0.0);
RESET sparseclip.inverted_helper_lag;
SET sparseclip.inverted_scan_threads = 3;
RESET sparseclip.inverted_scan_threads;
DROP TABLE wide;

-- bad input
CREATE INDEX ON docs USING inverted (emb svec_ip_ops) WITH (lists = 3);
CREATE INDEX ON docs USING inverted (id);
SELECT inverted_check('docs_pkey');
SELECT inverted_check('docs');
CREATE ROLE inv_stranger;
SET ROLE inv_stranger;
SELECT inverted_check('docs_ip');
RESET ROLE;
DROP ROLE inv_stranger;

DROP TABLE docs, empty_docs, big, pos;
DROP FUNCTION inv_rare_sweep, inv_sweep, inv_compare, inv_rand;
