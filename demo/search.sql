-- One text query: the top 5 rows by inner product, with the three concepts
-- (named dimensions) that gave each match most of its score.
-- psql variable: query.
SELECT r.rank, r.caption, r.file, to_char(r.score, '0.0000') AS score,
	(SELECT string_agg(coalesce(m.name, '#' || m.dim), ', ' ORDER BY m.contribution DESC)
	   FROM explain_match(q.v, r.emb, 3) m) AS concepts_that_matched
FROM (SELECT encode_text(:'query') AS v) q
CROSS JOIN LATERAL (
	SELECT row_number() OVER (ORDER BY e.emb <#> q.v) AS rank, e.caption, e.file,
		-(e.emb <#> q.v) AS score, e.emb
	FROM (SELECT * FROM emoji ORDER BY emb <#> q.v LIMIT 5) e
) r
ORDER BY r.rank;
