-- Helpers of the inverted-index TAP tests, loaded by each after CREATE EXTENSION.

-- A random vector: nnz draws over 1..dim (low dims more popular), weights
-- in [-0.1, 1.2), so that some are negative.
CREATE FUNCTION inv_rand(dim int, nnz int) RETURNS svec LANGUAGE sql VOLATILE AS $$
	SELECT coalesce(svec(array_agg(d), array_agg(w), dim), ('{}/' || dim)::svec)
	FROM (SELECT DISTINCT ON (d) d, (random() * 1.3 - 0.1)::real AS w
	      FROM (SELECT 1 + floor(dim * random() ^ 2)::int AS d FROM generate_series(1, nnz)) a) b
	WHERE w <> 0 $$;

-- True when ORDER BY emb <op> q LIMIT lim on table tab is an index scan and
-- returns the sequential scan's distances.
CREATE FUNCTION inv_same(op text, q svec, lim int, tab text DEFAULT 'docs') RETURNS bool LANGUAGE plpgsql AS $$
DECLARE
	sql text := format('SELECT array_agg(d) FROM (SELECT emb %s $1 AS d FROM %I ORDER BY emb %s $1 LIMIT %s) s',
					   op, tab, op, lim);
	line text;
	indexed bool := false;
	a float8[];
	b float8[];
BEGIN
	PERFORM set_config('enable_seqscan', 'off', true);
	FOR line IN EXECUTE 'EXPLAIN (COSTS OFF) ' || sql USING q LOOP
		indexed := indexed OR line LIKE '%Index Scan using%';
	END LOOP;
	EXECUTE sql INTO a USING q;
	PERFORM set_config('enable_seqscan', 'on', true);
	PERFORM set_config('enable_indexscan', 'off', true);
	EXECUTE sql INTO b USING q;
	PERFORM set_config('enable_indexscan', 'on', true);
	RETURN indexed AND a IS NOT DISTINCT FROM b;
END $$;
