-- The state type of sum(svec) and avg(svec): a real type (not internal) so
-- that Citus can ship partial states.  Its text form keeps every double.
CREATE TABLE aggstate_rows (g int, v svec);
INSERT INTO aggstate_rows VALUES (1, '{1:0.1,3:2}/5'), (1, '{1:0.2,5:-1}/5'), (2, '{2:1e-30}/5'), (2, NULL),
	(3, '{}/5');
-- The state, as a partial aggregate would ship it
SELECT svec_agg_accum(svec_agg_accum(NULL::svec_aggstate, '{1:0.1,3:2}/5'), '{1:0.2,5:-1}/5');
-- round trip through text: same state
SELECT s::text::svec_aggstate::text = s::text AS text_round_trip
FROM (SELECT '{1:0.30000000447034836,3:2,5:-1}/5;2'::svec_aggstate s) t;
SELECT svec_sum_final('{1:0.30000000447034836,3:2,5:-1}/5;2'), svec_avg_final('{1:0.30000000447034836,3:2,5:-1}/5;2');
SELECT svec_avg_final('{}/5;0') AS no_rows, svec_sum_final('{}/5;3') AS zero_vectors;
-- combining two states equals aggregating all rows
SELECT svec_avg_final(svec_agg_combine('{1:1,2:3}/4;2', '{2:1,4:0.5}/4;1')) = avg(v) AS combine_is_avg
FROM (VALUES ('{1:1,2:1}/4'::svec), ('{2:2}/4'), ('{2:1,4:0.5}/4')) t(v);
-- bad text forms are errors
CREATE FUNCTION aggstate_error(t text) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
	PERFORM t::svec_aggstate;
	RETURN 'no error';
EXCEPTION WHEN OTHERS THEN
	RETURN SQLSTATE || ': ' || SQLERRM;
END $$;
SELECT t, aggstate_error(t) FROM (VALUES ('{1:1}/4'), ('{1:1}/4;'), ('{1:1}/4;-1'), ('{2:1,1:1}/4;1'),
	('{1:1,1:1}/4;1'), ('{5:1}/4;1'), ('{0:1}/4;1'), ('{1:NaN}/4;1'), ('{1:inf}/4;1'), ('{1:1}/0;1'),
	('{1:1}/4;1x'), ('1:1}/4;1'), ('{1:1}/4;1;'), ('{1:1,}/4;1')) v(t);
DROP FUNCTION aggstate_error(text);
-- different dimension counts
SELECT svec_agg_combine('{1:1}/4;1', '{1:1}/5;1');
-- the aggregates in every executor path: plain, hashed and sorted groups,
-- window frames, parallel partial states (flattened through a Gather)
SELECT g, sum(v), avg(v) FROM aggstate_rows GROUP BY g ORDER BY g;
SET enable_hashagg = off;
SELECT g, sum(v), avg(v) FROM aggstate_rows GROUP BY g ORDER BY g;
RESET enable_hashagg;
SELECT g, sum(v) OVER (ORDER BY g, v::text ROWS BETWEEN 1 PRECEDING AND CURRENT ROW) FROM aggstate_rows ORDER BY g, v::text;
CREATE TABLE aggstate_big AS
SELECT i % 100 AS g, svec(ARRAY[1 + i % 977, 1000 + i % 13], ARRAY[1.0 / i, sqrt(i)]::real[], 2000) AS v
FROM generate_series(1, 20000) i;
CREATE TEMP TABLE serial AS
SELECT (SELECT sum(v) FROM aggstate_big) s, (SELECT avg(v) FROM aggstate_big) a,
	(SELECT array_agg(x ORDER BY g) FROM (SELECT g, avg(v) x FROM aggstate_big GROUP BY g) t) ga;
SET parallel_setup_cost = 0;
SET parallel_tuple_cost = 0;
SET min_parallel_table_scan_size = 0;
SET max_parallel_workers_per_gather = 2;
EXPLAIN (COSTS OFF) SELECT avg(v) FROM aggstate_big;
SELECT (SELECT sum(v) FROM aggstate_big) = s AS parallel_sum_equal,
	(SELECT avg(v) FROM aggstate_big) = a AS parallel_avg_equal,
	(SELECT array_agg(x ORDER BY g) FROM (SELECT g, avg(v) x FROM aggstate_big GROUP BY g) t) = ga AS parallel_grouped_equal
FROM serial;
RESET parallel_setup_cost;
RESET parallel_tuple_cost;
RESET min_parallel_table_scan_size;
RESET max_parallel_workers_per_gather;
-- a state may be stored and read back
CREATE TEMP TABLE stored AS SELECT g, svec_agg_accum(NULL, v) s FROM aggstate_rows WHERE v IS NOT NULL;
SELECT g, s, svec_sum_final(s) FROM stored ORDER BY g, s::text;
DROP TABLE aggstate_rows, aggstate_big;
