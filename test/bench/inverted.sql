-- Helpers for test/bench/inverted.sh: time ORDER BY emb <#> q LIMIT k inside
-- the server, through the index or through a sequential scan.

-- One row per query: its id, milliseconds, and the distances returned.
CREATE FUNCTION bench_time(qkind text, k int, use_index bool, nq int)
RETURNS TABLE (qid int, ms float8, ds float8[]) LANGUAGE plpgsql AS $$
DECLARE
	r record;
	t0 timestamptz;
	d float8[];
BEGIN
	PERFORM set_config('enable_indexscan', CASE WHEN use_index THEN 'on' ELSE 'off' END, true);
	PERFORM set_config('enable_seqscan', CASE WHEN use_index THEN 'off' ELSE 'on' END, true);
	FOR r IN SELECT q.id, q.emb FROM queries q WHERE q.kind = qkind ORDER BY q.id LIMIT nq LOOP
		t0 := clock_timestamp();
		EXECUTE format('SELECT array_agg(d) FROM (SELECT emb <#> $1 AS d FROM docs ORDER BY emb <#> $1 LIMIT %s) s', k)
			INTO d USING r.emb;
		qid := r.id;
		ms := extract(epoch FROM clock_timestamp() - t0) * 1000;
		ds := d;
		RETURN NEXT;
	END LOOP;
END $$;

-- p50/p95 per query kind and k, index vs sequential scan, and how many of
-- the sequentially scanned queries got identical answers from the index.
CREATE FUNCTION bench_queries(nq_index int, nq_seq int)
RETURNS TABLE (metric text, index_ms float8, seq_ms float8, note text) LANGUAGE plpgsql AS $$
DECLARE
	kind text;
	k int;
	same int;
BEGIN
	FOREACH kind IN ARRAY ARRAY['text', 'image'] LOOP
		FOREACH k IN ARRAY ARRAY[10, 100] LOOP
			-- warm-up: every query once through the index, so that its
			-- pages are in shared buffers (at 10M rows, after a single
			-- warm-up most were read from the OS cache: p50 1.8-3x)
			PERFORM * FROM bench_time(kind, k, true, nq_index);
			PERFORM * FROM bench_time(kind, k, false, 1);
			CREATE TEMP TABLE ti AS SELECT * FROM bench_time(kind, k, true, nq_index);
			CREATE TEMP TABLE ts AS SELECT * FROM bench_time(kind, k, false, nq_seq);
			SELECT count(*) INTO same FROM ti JOIN ts USING (qid) WHERE ti.ds = ts.ds;
			metric := format('%s top-%s p50 ms', kind, k);
			SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY ms) INTO index_ms FROM ti;
			SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY ms) INTO seq_ms FROM ts;
			note := format('exact on %s of %s queries', same, (SELECT count(*) FROM ts));
			RETURN NEXT;
			metric := format('%s top-%s p95 ms', kind, k);
			SELECT percentile_cont(0.95) WITHIN GROUP (ORDER BY ms) INTO index_ms FROM ti;
			SELECT percentile_cont(0.95) WITHIN GROUP (ORDER BY ms) INTO seq_ms FROM ts;
			note := '';
			RETURN NEXT;
			DROP TABLE ti, ts;
		END LOOP;
	END LOOP;
END $$;
