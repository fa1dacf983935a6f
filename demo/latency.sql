-- Query latency, timed inside the server (no client round trip): for each
-- query, 5 runs of encoding the text and of the top-5 search with the
-- encoded vector.  psql variable: queries, separated by '|'.
SET demo.queries TO :'queries';
CREATE TEMP TABLE latency (n serial, query text, encode_ms float8, search_ms float8);
DO $$
DECLARE
	q text;
	v svec;
	t0 timestamptz;
	t1 timestamptz;
	t2 timestamptz;
BEGIN
	FOREACH q IN ARRAY string_to_array(current_setting('demo.queries'), '|') LOOP
		FOR i IN 1..5 LOOP
			t0 := clock_timestamp();
			v := encode_text(q);
			t1 := clock_timestamp();
			PERFORM id FROM emoji ORDER BY emb <#> v LIMIT 5;
			t2 := clock_timestamp();
			INSERT INTO latency (query, encode_ms, search_ms) VALUES (q, 1000 * extract(epoch FROM t1 - t0), 1000 * extract(epoch FROM t2 - t1));
		END LOOP;
	END LOOP;
END $$;
SELECT query, to_char(encode_ms, '990.00') AS encode_text_ms, to_char(search_ms, '990.00') AS top5_search_ms
FROM (
	SELECT min(n) AS n, query,
		percentile_cont(0.5) WITHIN GROUP (ORDER BY encode_ms) AS encode_ms,
		percentile_cont(0.5) WITHIN GROUP (ORDER BY search_ms) AS search_ms
	FROM latency GROUP BY query
	UNION ALL
	SELECT max(n) + 1, '(median of all runs)',
		percentile_cont(0.5) WITHIN GROUP (ORDER BY encode_ms),
		percentile_cont(0.5) WITHIN GROUP (ORDER BY search_ms)
	FROM latency
) m ORDER BY n;
