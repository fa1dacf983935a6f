-- svec functions, casts and aggregates.

SELECT dims('{1:1}/7'::svec), nnz('{1:1,5:2}/7'::svec), nnz('{}/7'::svec);
SELECT l2_norm('{1:3,2:4}/5'::svec), l2_norm('{}/5'::svec);
SELECT l2_normalize('{1:3,2:4}/5'::svec), l2_normalize('{}/5'::svec);
SELECT abs(l2_norm(l2_normalize('{1:0.001,7:123,99:-5}/100'::svec)) - 1) < 1e-6 AS unit;

-- top_dims keeps the k largest weights (ties: the lower dimension)
SELECT top_dims('{1:0.1,2:0.5,3:0.3,4:0.5,5:-1}/5'::svec, 2);
SELECT top_dims('{1:0.1,2:0.5,3:0.3}/5'::svec, 0);
SELECT top_dims('{1:0.1,2:0.5,3:0.3}/5'::svec, 3);
SELECT top_dims('{1:0.1,2:0.5,3:0.3}/5'::svec, 100);
SELECT top_dims('{1:0.1}/5'::svec, -1);

-- svec_entries: 1-based dims in order
SELECT * FROM svec_entries('{7:0.25,2:-1,5:3}/9');
SELECT * FROM svec_entries('{}/9');
SELECT count(*) FROM svec_entries(NULL);

-- constructor svec(dims int[], weights real[], n int)
SELECT svec(ARRAY[3, 1], ARRAY[0.5, 2]::real[], 5);
SELECT svec(ARRAY[]::int[], ARRAY[]::real[], 5);
SELECT svec(ARRAY[1, 2], ARRAY[0, 1]::real[], 2);
SELECT svec(ARRAY[1, 2], ARRAY[1]::real[], 5);
SELECT svec(ARRAY[1, 1], ARRAY[1, 2]::real[], 5);
SELECT svec(ARRAY[0], ARRAY[1]::real[], 5);
SELECT svec(ARRAY[6], ARRAY[1]::real[], 5);
SELECT svec(ARRAY[1], ARRAY['NaN']::real[], 5);
SELECT svec(ARRAY[1], ARRAY[NULL]::real[], 5);
SELECT svec(ARRAY[1], ARRAY[1]::real[], 0);
SELECT svec(ARRAY[[1]], ARRAY[[1]]::real[], 5);

-- casts real[] <-> svec
SELECT ARRAY[0, 1.5, 0, -2]::real[]::svec;
SELECT '{2:1.5,4:-2}/4'::svec::real[];
SELECT ARRAY[0, 0]::real[]::svec;
SELECT ARRAY[1, 2, 3]::real[]::svec(3);
SELECT ARRAY[1, 2, 3]::real[]::svec(2);
SELECT ARRAY[]::real[]::svec;
SELECT ARRAY[1, NULL]::real[]::svec;
SELECT ARRAY[1, 'NaN']::real[]::svec;
SELECT ARRAY[1, 'Infinity']::real[]::svec;
SELECT ARRAY[[1, 2], [3, 4]]::real[]::svec;
SELECT '{1:1}/1000000000'::svec::real[];
CREATE TABLE svec_assign (v svec(3));
INSERT INTO svec_assign VALUES (ARRAY[1, 0, 2]::real[]);
SELECT * FROM svec_assign;
DROP TABLE svec_assign;

-- aggregates
CREATE TABLE svec_agg (g int, v svec);
INSERT INTO svec_agg VALUES (1, '{1:1,2:2}/4'), (1, '{2:-2,4:1}/4'), (1, NULL),
	(2, '{}/4'), (3, NULL);
SELECT g, sum(v), avg(v) FROM svec_agg GROUP BY g ORDER BY g;
SELECT sum(v), avg(v) FROM svec_agg;
SELECT sum(v) FROM svec_agg WHERE false;
INSERT INTO svec_agg VALUES (4, '{1:1}/5');
SELECT sum(v) FROM svec_agg;
SELECT avg(v) FROM svec_agg;
SELECT sum(v) FROM (VALUES ('{1:3e38}/2'::svec), ('{1:3e38}/2')) t(v);
-- sum agrees with + over many random rows, and avg is sum / count;
-- a parallel plan (partial aggregates, serialised states) gives the same.
CREATE TABLE svec_agg_big AS
SELECT i, svec(array_agg(d), array_agg((d % 7 + 1)::real), 100000) AS v
FROM generate_series(1, 2000) i,
	LATERAL (SELECT DISTINCT ((i * 7919 + j * 104729) % 100000) + 1 AS d
		FROM generate_series(1, 10) j) dd
GROUP BY i;
SELECT nnz(sum(v)) AS nnz, l2_norm(sum(v)) > 0 AS nonzero FROM svec_agg_big;
-- sum matches a per-dimension sum of svec_entries; avg = sum / count
SELECT count(*) AS dims_compared,
	bool_and(abs(e.weight - d.total) < 1e-3) AS sum_matches
FROM svec_entries((SELECT sum(v) FROM svec_agg_big)) e
FULL JOIN (SELECT x.dim, sum(x.weight) AS total
	FROM svec_agg_big, svec_entries(v) x GROUP BY x.dim) d USING (dim);
SELECT avg(v) <-> (SELECT sum(v) * (1.0 / count(*))::real FROM svec_agg_big) < 1e-6 AS avg_is_mean
FROM svec_agg_big;
SET parallel_setup_cost = 0;
SET parallel_tuple_cost = 0;
SET min_parallel_table_scan_size = 0;
SET max_parallel_workers_per_gather = 2;
EXPLAIN (COSTS OFF) SELECT sum(v) FROM svec_agg_big;
CREATE TEMP TABLE parallel_result AS SELECT sum(v) AS s, avg(v) AS a FROM svec_agg_big;
RESET parallel_setup_cost;
RESET parallel_tuple_cost;
RESET min_parallel_table_scan_size;
RESET max_parallel_workers_per_gather;
SET max_parallel_workers_per_gather = 0;
SELECT (SELECT s FROM parallel_result) <-> sum(v) < 1e-3 AS parallel_sum_same,
	(SELECT a FROM parallel_result) <-> avg(v) < 1e-6 AS parallel_avg_same
FROM svec_agg_big;
RESET max_parallel_workers_per_gather;
DROP TABLE svec_agg, svec_agg_big;

-- TOAST: a large vector is stored out of line and read back intact
CREATE TABLE svec_toast (v svec);
INSERT INTO svec_toast SELECT svec(array_agg(i), array_agg((i % 13 + 1)::real), 1000000)
FROM generate_series(1, 200000, 3) i;
SELECT nnz(v), pg_column_size(v) < 66667 * 8 AS compressed_or_toasted FROM svec_toast;
SELECT (SELECT sum(weight) FROM svec_entries(v)) AS total FROM svec_toast;
DROP TABLE svec_toast;
