-- svec operators: distances, comparison, btree, arithmetic.

SELECT '{1:1,2:2,4:3}/5'::svec <#> '{2:0.5,4:2,5:7}/5'::svec AS neg_ip;
SELECT inner_product('{1:1,2:2,4:3}/5'::svec, '{2:0.5,4:2,5:7}/5'::svec);
SELECT '{1:3,2:4}/3'::svec <-> '{2:4,3:-1}/3'::svec AS l2;
SELECT l2_distance('{1:3}/3'::svec, '{2:4}/3'::svec);
SELECT '{1:3,2:4}/3'::svec <+> '{2:-4,3:1}/3'::svec AS l1;
SELECT l1_distance('{}/3'::svec, '{1:-1.5,3:2}/3'::svec);
SELECT '{1:1,2:1}/2'::svec <=> '{1:1}/2'::svec AS cosine;
SELECT round(('{1:1,2:2}/3'::svec <=> '{1:2,2:4}/3'::svec)::numeric, 12) AS cosine_same_direction;
SELECT '{1:1}/2'::svec <=> '{1:-1}/2'::svec AS cosine_opposite;
SELECT '{1:1}/2'::svec <=> '{2:1}/2'::svec AS cosine_orthogonal;
-- a zero vector has no direction: NaN, which sorts last
SELECT '{}/2'::svec <=> '{1:1}/2'::svec AS cosine_zero;
SELECT '{}/2'::svec <#> '{1:1}/2'::svec AS ip_zero, '{}/2'::svec <-> '{}/2'::svec AS l2_zero;
-- distances agree with the dense formulas on random vectors
WITH v AS (
	SELECT i, array_agg(CASE WHEN random() < 0.3 THEN (random() * 2 - 1)::real ELSE 0 END) AS a
	FROM generate_series(1, 20) i, generate_series(1, 50) d GROUP BY i
), p AS (
	SELECT x.a AS a, y.a AS b, x.a::svec AS sa, y.a::svec AS sb FROM v x, v y
), dense AS (
	SELECT sa, sb,
		(SELECT sum(a[k]::float8 * b[k]) FROM generate_subscripts(a, 1) k) AS ip,
		(SELECT sqrt(sum((a[k]::float8 - b[k]) ^ 2)) FROM generate_subscripts(a, 1) k) AS l2,
		(SELECT sum(abs(a[k]::float8 - b[k])) FROM generate_subscripts(a, 1) k) AS l1,
		(SELECT sqrt(sum(a[k]::float8 ^ 2)) FROM generate_subscripts(a, 1) k) AS na,
		(SELECT sqrt(sum(b[k]::float8 ^ 2)) FROM generate_subscripts(b, 1) k) AS nb
	FROM p
)
SELECT count(*) AS pairs,
	max(abs((sa <#> sb) + coalesce(ip, 0))) < 1e-9 AS ip_ok,
	max(abs((sa <-> sb) - l2)) < 1e-9 AS l2_ok,
	max(abs((sa <+> sb) - l1)) < 1e-9 AS l1_ok,
	max(abs((sa <=> sb) - (1 - ip / (na * nb)))) FILTER (WHERE na > 0 AND nb > 0) < 1e-9 AS cos_ok
FROM dense;

-- different dimension counts
SELECT '{1:1}/2'::svec <#> '{1:1}/3'::svec;
SELECT '{1:1}/2'::svec <=> '{1:1}/3'::svec;
SELECT '{1:1}/2'::svec <-> '{1:1}/3'::svec;
SELECT '{1:1}/2'::svec <+> '{1:1}/3'::svec;
SELECT '{1:1}/2'::svec + '{1:1}/3'::svec;
SELECT '{1:1}/2'::svec - '{1:1}/3'::svec;

-- comparison
SELECT '{1:1}/3'::svec = '{1:1}/3'::svec AS eq, '{1:1}/3'::svec = '{1:1}/4'::svec AS eq_dims,
	'{1:1}/3'::svec <> '{1:2}/3'::svec AS ne;
SELECT '{1:1}/3'::svec < '{1:2}/3'::svec AS lt, '{2:1}/3'::svec < '{1:1}/3'::svec AS lt2,
	'{1:-1}/3'::svec < '{}/3'::svec AS lt_negative, '{}/3'::svec <= '{}/3'::svec AS le,
	'{3:1}/3'::svec > '{}/3'::svec AS gt, '{}/3'::svec >= '{}/4'::svec AS ge;
SELECT svec_cmp('{1:1}/3', '{1:1}/3'), svec_cmp('{1:1}/3', '{1:1,2:1}/3'), svec_cmp('{}/5', '{}/3');
-- btree: ORDER BY, DISTINCT, an index, a unique constraint
CREATE TABLE svec_sort (v svec);
INSERT INTO svec_sort VALUES ('{2:1}/3'), ('{1:1}/3'), ('{}/3'), ('{1:-1}/3'), ('{1:1}/3'),
	('{1:1,3:1}/3'), ('{}/2'), (NULL);
SELECT v FROM svec_sort ORDER BY v;
SELECT DISTINCT v FROM svec_sort ORDER BY v DESC NULLS LAST;
CREATE INDEX ON svec_sort (v);
SET enable_seqscan = off;
EXPLAIN (COSTS OFF) SELECT * FROM svec_sort WHERE v = '{1:1}/3';
SELECT count(*) FROM svec_sort WHERE v = '{1:1}/3';
SELECT count(*) FROM svec_sort WHERE v > '{}/3';
RESET enable_seqscan;
CREATE UNIQUE INDEX ON svec_sort (v) WHERE v <> '{1:1}/3';
INSERT INTO svec_sort VALUES ('{2:1}/3');
DROP TABLE svec_sort;

-- arithmetic
SELECT '{1:1,2:2}/4'::svec + '{2:3,4:1}/4'::svec AS add;
SELECT '{1:1,2:2}/4'::svec - '{2:2,4:1}/4'::svec AS sub;
SELECT '{1:1,2:2}/4'::svec - '{1:1,2:2}/4'::svec AS sub_self;
SELECT '{1:1,2:-2}/4'::svec * 2.5::real AS mul, 0.5::real * '{3:4}/4'::svec AS mul_left;
SELECT '{1:1,2:-2}/4'::svec * 0 AS mul_zero;
SELECT '{1:3e38}/2'::svec + '{1:3e38}/2'::svec;
SELECT '{1:3e38}/2'::svec * 10;
SELECT '{1:1e-30}/2'::svec * 1e-30::real AS underflow_dropped;
SELECT '{1:1}/2'::svec * 'NaN'::real;
SELECT '{1:1}/2'::svec * 'Infinity'::real;
