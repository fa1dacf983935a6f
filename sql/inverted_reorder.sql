-- Document reordering (the index option reorder, default on): each new
-- segment numbers its documents so that those sharing dominant dimensions
-- share ranges.  Answers stay exactly a sequential scan's through builds,
-- merges and compaction; on topical rows inserted in shuffled order the
-- scans leave many more ranges incomplete than with reorder = off.

SET client_min_messages = warning;
SET jit = off;
SELECT setseed(0.4321);

-- topical vector: 15 draws from its topic's 40 dimensions, 5 smaller
-- weights from the popular low dimensions of 2,000
CREATE FUNCTION ro_rand(topic int, nnz int) RETURNS svec LANGUAGE sql VOLATILE AS $$
	SELECT svec(array_agg(d), array_agg(w), 2000)
	FROM (SELECT DISTINCT ON (d) d, w
	      FROM (SELECT CASE WHEN g % 4 <> 0 THEN 1 + topic * 40 + floor(40 * random())::int
	                        ELSE 1 + floor(2000 * random() ^ 3)::int END AS d,
	                   (CASE WHEN g % 4 <> 0 THEN random() + 0.01 ELSE 0.3 * random() + 0.01 END)::real AS w
	            FROM generate_series(1, nnz) g) a) b
$$;

-- 'ok' when ORDER BY emb <op> q [LIMIT lim] used the index and returned the
-- sequential scan's distances, in order, with no row twice
CREATE FUNCTION ro_compare(tab text, op text, q svec, lim int, filter text)
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
		RETURN format('distances differ for %s limit %s where %s', q, lim, filter);
	END IF;
	IF (SELECT count(DISTINCT x) FROM unnest(ids_i) x) <> cardinality(ids_i) THEN
		RETURN 'duplicate rows';
	END IF;
	RETURN 'ok';
END $$;

-- operators x LIMITs x filters for nq topical queries (and one independent one)
CREATE FUNCTION ro_sweep(tab text, ops text[], nq int)
RETURNS TABLE (result text, n bigint) LANGUAGE sql AS $$
	SELECT left(r, 60), count(*) FROM (
		SELECT ro_compare(tab, op, q, lim, f) AS r
		FROM (SELECT ro_rand((i * 11) % 32, 10) AS q FROM generate_series(1, nq) i
			  UNION ALL SELECT svec(ARRAY[1, 2, 3, 50, 900], ARRAY[1, 0.5, 0.3, 0.8, 1]::real[], 2000)) qs,
			 unnest(ops) op,
			 unnest(ARRAY[1, 10, 100, NULL]) lim,
			 unnest(ARRAY['true', 'cat = 3']) f
	) s GROUP BY 1 ORDER BY 1
$$;

-- 20 ranges of topical rows, topics in a scrambled order, some NULL and
-- zero vectors; ro_off holds the same rows in the same order
CREATE TABLE ro (id int PRIMARY KEY, cat int, emb svec);
INSERT INTO ro SELECT i, i % 7, ro_rand((i * 7919) % 32, 20) FROM generate_series(1, 20 * 1024) i;
UPDATE ro SET emb = '{}/2000' WHERE id % 997 = 0;
UPDATE ro SET emb = NULL WHERE id % 1009 = 0;
VACUUM FULL ro;
CREATE TABLE ro_off AS SELECT * FROM ro;
CREATE INDEX ro_ip ON ro USING inverted (emb svec_ip_ops);
CREATE INDEX ro_cos ON ro USING inverted (emb svec_cosine_ops) WITH (reorder = on);
CREATE INDEX ro_off_ip ON ro_off USING inverted (emb svec_ip_ops) WITH (reorder = off);
SELECT relname, reloptions FROM pg_class WHERE relname IN ('ro_ip', 'ro_cos', 'ro_off_ip') ORDER BY 1;
SELECT inverted_check('ro_ip') AS ip, inverted_check('ro_cos') AS cos, inverted_check('ro_off_ip') AS off;
SELECT * FROM ro_sweep('ro', ARRAY['<#>', '<=>'], 3);
SELECT * FROM ro_sweep('ro_off', ARRAY['<#>'], 2);

-- NULL and zero vectors still come last
SET enable_seqscan = off;
SELECT count(*) AS n, count(*) FILTER (WHERE emb IS NULL) AS nulls
FROM (SELECT emb FROM ro ORDER BY emb <#> '{3:1}/2000') s;
SELECT array_agg(id ORDER BY id) = (SELECT array_agg(id ORDER BY id) FROM ro WHERE emb IS NULL) AS nulls_last
FROM (SELECT id FROM ro ORDER BY emb <#> '{3:1}/2000' OFFSET 20 * 1024 - 20) s;
SELECT bool_and(nnz(emb) = 0) AS zero_vectors_nan_last
FROM (SELECT emb FROM ro ORDER BY emb <=> '{3:1}/2000' OFFSET 20 * 1024 - 20 - 20 LIMIT 20) s;

-- reordered, the top-10 scans of topical queries leave most ranges
-- incomplete; in insertion order, few
CREATE TEMP TABLE ro_q AS SELECT t, ro_rand(t, 10) AS q FROM unnest(ARRAY[5, 17, 9]) t;
SET client_min_messages = debug1;
SELECT count(*) FROM (SELECT id FROM ro ORDER BY emb <#> (SELECT q FROM ro_q WHERE t = 5) LIMIT 10) s;
SELECT count(*) FROM (SELECT id FROM ro_off ORDER BY emb <#> (SELECT q FROM ro_q WHERE t = 5) LIMIT 10) s;
SELECT count(*) FROM (SELECT id FROM ro ORDER BY emb <#> (SELECT q FROM ro_q WHERE t = 17) LIMIT 10) s;
SELECT count(*) FROM (SELECT id FROM ro_off ORDER BY emb <#> (SELECT q FROM ro_q WHERE t = 17) LIMIT 10) s;
SET client_min_messages = warning;
RESET enable_seqscan;

-- merges: inserts fold the pending list (2,000 rows, reordered) into
-- segments that merge further; then deletes and VACUUM, which compacts the
-- built segment (more than half dead) into a reordered one
SET sparseclip.inverted_pending_limit = 2000;
INSERT INTO ro SELECT i, i % 7, ro_rand((i * 7919) % 32, 20) FROM generate_series(30001, 37000) i;
RESET sparseclip.inverted_pending_limit;
SELECT inverted_check('ro_ip') AS ip, inverted_check('ro_cos') AS cos;
SELECT * FROM ro_sweep('ro', ARRAY['<#>', '<=>'], 2);
DELETE FROM ro WHERE id % 5 <> 0 AND id <= 20 * 1024;
DELETE FROM ro WHERE id IN (SELECT id FROM ro ORDER BY emb <#> (SELECT q FROM ro_q WHERE t = 9) LIMIT 30);
VACUUM ro;
SELECT inverted_check('ro_ip') AS ip, inverted_check('ro_cos') AS cos;
SELECT * FROM ro_sweep('ro', ARRAY['<#>', '<=>'], 2);
-- the rewritten segments were reordered too: one line per segment (they
-- are small, so a first batch of 4 lets them set a bar)
SET enable_seqscan = off;
SET sparseclip.inverted_initial_batch = 4;
SET client_min_messages = debug1;
SELECT count(*) FROM (SELECT id FROM ro ORDER BY emb <#> (SELECT q FROM ro_q WHERE t = 5) LIMIT 4) s;
SET client_min_messages = warning;
RESET sparseclip.inverted_initial_batch;
RESET enable_seqscan;

-- ALTER INDEX turns it off for the segments written from then on
ALTER INDEX ro_ip SET (reorder = off);
SELECT reloptions FROM pg_class WHERE relname = 'ro_ip';
REINDEX INDEX ro_ip;
SELECT inverted_check('ro_ip') AS ip;
SELECT * FROM ro_sweep('ro', ARRAY['<#>'], 1);

-- bad options
CREATE INDEX ON ro USING inverted (emb svec_ip_ops) WITH (reorder = maybe);
CREATE INDEX ON ro USING inverted (emb svec_ip_ops) WITH (lists = 3);

DROP TABLE ro, ro_off;
DROP FUNCTION ro_sweep, ro_compare, ro_rand;
