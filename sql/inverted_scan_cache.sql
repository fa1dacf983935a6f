-- The score arrays a backend keeps between inverted index scans
-- (sparseclip.inverted_scan_cache): each open scan has its own, a rescan
-- or an error gives them back, and any cache size gives the sequential
-- scan's answers.

SET client_min_messages = warning;
SET jit = off;
SELECT setseed(0.2718);

CREATE FUNCTION sc_rand(nnz int) RETURNS svec LANGUAGE sql VOLATILE AS $$
	SELECT svec(array_agg(d), array_agg(w), 3000)
	FROM (SELECT DISTINCT ON (d) d, w
	      FROM (SELECT 1 + floor(3000 * random() ^ 2)::int AS d, (random() + 0.01)::real AS w
	            FROM generate_series(1, nnz) g) a) b
$$;
CREATE TABLE sc_docs (id int, emb svec);
INSERT INTO sc_docs SELECT g, sc_rand(25) FROM generate_series(1, 20000) g;
CREATE TABLE sc_q (qid int, emb svec);
INSERT INTO sc_q SELECT g, sc_rand(12) FROM generate_series(1, 6) g;
CREATE INDEX sc_ip ON sc_docs USING inverted (emb svec_ip_ops);
CREATE INDEX sc_cos ON sc_docs USING inverted (emb svec_cosine_ops);
ANALYZE sc_docs;

-- the sequential scan's top 40 of every query, both operators
SET enable_indexscan = off;
CREATE TABLE sc_want AS
SELECT q.qid, o.op, x.rk, x.d
FROM sc_q q, (VALUES ('<#>'), ('<=>')) o(op),
	LATERAL (SELECT row_number() OVER (ORDER BY d) AS rk, d
	         FROM (SELECT CASE o.op WHEN '<#>' THEN emb <#> q.emb ELSE emb <=> q.emb END AS d
	               FROM sc_docs ORDER BY 1 LIMIT 40) s) x;
RESET enable_indexscan;
SET enable_seqscan = off;

-- 'ok' when the index scans return the wanted distances; the scans run
-- in lockstep, two cursors open at once, fetching 5 rows of each in turn
-- (past the first batch of 16, so each later batch reads its scores again)
CREATE FUNCTION sc_lockstep(op text, qa int, qb int) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
	ca refcursor := 'sc_a';
	cb refcursor := 'sc_b';
	qva svec := (SELECT emb FROM sc_q WHERE qid = qa);
	qvb svec := (SELECT emb FROM sc_q WHERE qid = qb);
	da float8[] := '{}';
	db float8[] := '{}';
	d float8;
	i int;
BEGIN
	OPEN ca FOR EXECUTE format('SELECT emb %s $1 FROM sc_docs ORDER BY emb %s $1', op, op) USING qva;
	OPEN cb FOR EXECUTE format('SELECT emb %s $1 FROM sc_docs ORDER BY emb %s $1', op, op) USING qvb;
	FOR i IN 1..40 LOOP
		FETCH ca INTO d;
		da := da || d;
		FETCH cb INTO d;
		db := db || d;
	END LOOP;
	CLOSE ca;
	CLOSE cb;
	IF da IS DISTINCT FROM (SELECT array_agg(w.d ORDER BY rk) FROM sc_want w WHERE w.qid = qa AND w.op = $1) THEN
		RETURN 'first cursor differs';
	END IF;
	IF db IS DISTINCT FROM (SELECT array_agg(w.d ORDER BY rk) FROM sc_want w WHERE w.qid = qb AND w.op = $1) THEN
		RETURN 'second cursor differs';
	END IF;
	RETURN 'ok';
END $$;

-- every query's top 10 through a lateral join: the inner scan is rescanned per query
CREATE FUNCTION sc_lateral(op text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
	bad int;
BEGIN
	EXECUTE format($q$
		SELECT count(*) FROM (
			SELECT q.qid, x.rk, x.d FROM sc_q q,
				LATERAL (SELECT row_number() OVER () AS rk, d
				         FROM (SELECT emb %s q.emb AS d FROM sc_docs ORDER BY emb %s q.emb LIMIT 10) s) x
			EXCEPT
			SELECT qid, rk, d FROM sc_want WHERE op = %L AND rk <= 10) e$q$, op, op, op) INTO bad;
	RETURN CASE WHEN bad = 0 THEN 'ok' ELSE bad || ' rows differ' END;
END $$;

SELECT op, sc_lockstep(op, 1, 2) AS lockstep, sc_lateral(op) AS lateral
FROM (VALUES ('<#>'), ('<=>')) o(op);

-- a cache too small for one array, and none at all
SET sparseclip.inverted_scan_cache = '64kB';
SELECT op, sc_lockstep(op, 3, 4) AS lockstep, sc_lateral(op) AS lateral
FROM (VALUES ('<#>'), ('<=>')) o(op);
SET sparseclip.inverted_scan_cache = 0;
SELECT op, sc_lockstep(op, 5, 6) AS lockstep, sc_lateral(op) AS lateral
FROM (VALUES ('<#>'), ('<=>')) o(op);
RESET sparseclip.inverted_scan_cache;
SHOW sparseclip.inverted_scan_cache;

-- scans ended by an error give their arrays back: a scan held open across
-- a failed subtransaction (whose own scan is dropped mid-way) still reads
-- its own scores, and afterwards two scans at once each get their own
CREATE FUNCTION sc_after_error(op text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
	held refcursor := 'sc_held';
	doomed refcursor := 'sc_doomed';
	got float8[] := '{}';
	d float8;
	i int;
BEGIN
	OPEN held FOR EXECUTE format('SELECT emb %s $1 FROM sc_docs ORDER BY emb %s $1', op, op)
		USING (SELECT emb FROM sc_q WHERE qid = 3);
	FOR i IN 1..3 LOOP
		FETCH held INTO d;
		got := got || d;
	END LOOP;
	BEGIN
		OPEN doomed FOR EXECUTE format('SELECT emb %s $1 FROM sc_docs ORDER BY emb %s $1', op, op)
			USING (SELECT emb FROM sc_q WHERE qid = 4);
		FETCH doomed INTO d;
		PERFORM 1 / 0;
	EXCEPTION WHEN division_by_zero THEN
		NULL;
	END;
	FOR i IN 4..40 LOOP
		FETCH held INTO d;
		got := got || d;
	END LOOP;
	CLOSE held;
	IF got IS DISTINCT FROM (SELECT array_agg(w.d ORDER BY rk) FROM sc_want w WHERE w.qid = 3 AND w.op = $1) THEN
		RETURN 'held cursor differs';
	END IF;
	RETURN 'ok';
END $$;
SELECT op, sc_after_error(op) AS after_error FROM (VALUES ('<#>'), ('<=>')) o(op);
SELECT op, sc_lockstep(op, 2, 1) AS lockstep, sc_lateral(op) AS lateral
FROM (VALUES ('<#>'), ('<=>')) o(op);
-- cancelled mid-scan by a timeout
SET statement_timeout = '1ms';
SELECT count(*) FROM sc_q q, LATERAL (SELECT id FROM sc_docs ORDER BY emb <=> q.emb LIMIT 2000) x, pg_sleep(0.01);
RESET statement_timeout;
SELECT op, sc_lockstep(op, 6, 5) AS lockstep, sc_lateral(op) AS lateral
FROM (VALUES ('<#>'), ('<=>')) o(op);

SET sparseclip.inverted_scan_cache = -1;

-- leave nothing that depends on svec: svec_pgvector_coexist, later in the same database, drops the extension
DROP TABLE sc_docs, sc_q;
DROP FUNCTION sc_rand(integer);
