-- What a few rows are made of: each one's five strongest concepts, with
-- their weights and shares of the row's squared norm.  psql variable: rows,
-- captions separated by '|' (the first three rows when none is in the table).
WITH wanted AS (SELECT string_to_array(:'rows', '|') AS captions),
picked AS (
	SELECT e.id FROM emoji e, wanted w WHERE e.caption = ANY (w.captions)
	UNION
	SELECT id FROM (SELECT id FROM emoji ORDER BY id LIMIT 3) f
	WHERE NOT EXISTS (SELECT 1 FROM emoji e, wanted w WHERE e.caption = ANY (w.captions))
)
SELECT e.caption, c.dim, c.name, to_char(c.weight, '0.000') AS weight, to_char(c.share, '0.000') AS share
FROM emoji e JOIN picked p USING (id)
CROSS JOIN LATERAL concepts(e.emb, 5) c
ORDER BY e.caption, c.weight DESC;
