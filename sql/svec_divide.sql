-- svec / numeric and svec / float8: the divisions Citus's avg rewrite needs
-- (sum(sum(emb)) / sum(count(emb)), a numeric divisor) and the general form.
SELECT '{1:1,2:-3}/4'::svec / 2 AS by_int, '{1:1,2:-3}/4'::svec / 2.5 AS by_numeric,
	'{1:1,2:-3}/4'::svec / 4::bigint AS by_bigint, '{1:1,2:-3}/4'::svec / 0.5::real AS by_real,
	'{1:1,2:-3}/4'::svec / -8::float8 AS by_float8;
-- which operator each divisor type resolves to (the casts show it)
CREATE TEMP TABLE svec_div_types (v svec, i int, b bigint, r real, f float8, n numeric);
EXPLAIN (VERBOSE, COSTS OFF) SELECT v / i, v / b, v / r, v / f, v / n, v / 2, v / 2.5 FROM svec_div_types;
SELECT pg_typeof('{1:1}/2'::svec / 2), ('{1:1}/2'::svec / 2)::text AS int_divisor,
	('{1:3}/2'::svec / 3::numeric)::text = ('{1:3}/2'::svec / 3::float8)::text AS numeric_same_as_float8;
-- one rounding: 1/3 computed in double, rounded once to float4
SELECT ('{1:1}/1'::svec / 3)::real[] = ARRAY[(1::float8 / 3)::real] AS rounded_once;
-- the zero vector, NULLs, quotients that underflow are dropped
SELECT '{}/3'::svec / 7 AS zero, '{1:1}/3'::svec / NULL::numeric AS null_divisor,
	'{1:1e-30,2:1}/3'::svec / 1e20::numeric AS underflow_dropped,
	'{1:5}/3'::svec / 'Infinity'::numeric AS by_infinity,
	'{1:5}/3'::svec / 1e400 AS beyond_double, '{}/3'::svec / 1e-400 AS zero_by_tiny;
-- errors, with their SQLSTATEs
CREATE FUNCTION svec_div_error(q text) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
	EXECUTE q;
	RETURN 'no error';
EXCEPTION WHEN OTHERS THEN
	RETURN SQLSTATE || ': ' || left(SQLERRM, 40);
END $$;
SELECT q, svec_div_error('SELECT ' || q)
FROM (VALUES ('''{1:1}/2''::svec / 0'), ('''{1:1}/2''::svec / 0::numeric'),
	('''{1:1}/2''::svec / 0.0'), ('''{}/2''::svec / 0'),
	('''{1:1}/2''::svec / ''-0''::float8'),
	('''{1:1}/2''::svec / ''NaN''::numeric'), ('''{1:1}/2''::svec / ''NaN''::float8'),
	('''{1:3e38}/2''::svec / 1e-10'), ('''{1:1}/2''::svec / 1e-400'),
	('''{1:1}/2''::svec / 1e400')) v(q);
DROP FUNCTION svec_div_error(text);
-- avg as Citus rewrites it: per-shard sum and count, then sum(sum) / sum(count).
-- Equal to avg where the sums are exact in float4 (weights in eighths); with
-- arbitrary weights, the shard sums' float4 rounding adds at most a few ulps.
CREATE TABLE svec_div_rows AS
SELECT i, svec(ARRAY[1 + i % 5, 6 + i % 3], ARRAY[(i % 7 + 1) / 8.0, (i % 4 + 1) / 4.0]::real[], 10) AS v,
	svec(ARRAY[1 + i % 5, 6 + i % 3], ARRAY[1.0 / (i % 7 + 3), sqrt(i)]::real[], 10) AS w
FROM generate_series(1, 1000) i;
CREATE TEMP TABLE svec_div_shards AS
SELECT i % 4 AS shard, sum(v) AS sv, sum(w) AS sw, count(v) AS c FROM svec_div_rows GROUP BY 1;
SELECT pg_typeof(sum(c)) AS sum_of_counts,
	sum(sv) / sum(c) = (SELECT avg(v) FROM svec_div_rows) AS exact_sums_equal,
	(sum(sw) / sum(c)) <-> (SELECT avg(w) FROM svec_div_rows)
		< 1e-6 * l2_norm((SELECT avg(w) FROM svec_div_rows)) AS rounded_sums_close
FROM svec_div_shards;
DROP TABLE svec_div_rows;
