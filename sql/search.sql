-- The main query of sparseclip: rank images by a text, through the
-- inverted index, with the query encoded in the same statement.
DO $$ BEGIN PERFORM set_config('sparseclip.model',
	current_setting('sparseclip_test.fixtures') || '/encode/model.safetensors', false); END $$;

CREATE TABLE photos (id serial PRIMARY KEY, name text, jpeg bytea, emb svec(64));
INSERT INTO photos (name, jpeg)
SELECT name, pg_read_binary_file(current_setting('sparseclip_test.fixtures') || '/encode/' || name)
FROM unnest(ARRAY['square.jpg', 'wide.jpg', 'tall.jpg', 'gray.jpg']) name;
-- more rows: the same photos re-encoded at other crops are not needed; use
-- random non-negative vectors of the model's width as filler.
INSERT INTO photos (name, emb)
SELECT 'filler ' || i, l2_normalize(svec(ARRAY[1 + (i % 64), 1 + ((i * 7 + 1) % 64)],
	ARRAY[(i % 5 + 1)::real, (i % 3 + 1)::real], 64))
FROM generate_series(1, 2000) i;
UPDATE photos SET emb = encode_image(jpeg) WHERE jpeg IS NOT NULL;
CREATE INDEX photos_emb ON photos USING inverted (emb svec_ip_ops);
ANALYZE photos;

-- The planner takes the index for ORDER BY ... LIMIT with an encoded query.
EXPLAIN (COSTS OFF)
SELECT name FROM photos ORDER BY emb <#> encode_text('a photo of a cat') LIMIT 3;

-- Same rows and scores as a sequential scan.
CREATE TEMP TABLE via_index AS
SELECT name, emb <#> encode_text('a photo of a cat') AS score
FROM photos ORDER BY emb <#> encode_text('a photo of a cat') LIMIT 5;
SET enable_indexscan = off;
CREATE TEMP TABLE via_seqscan AS
SELECT name, emb <#> encode_text('a photo of a cat') AS score
FROM photos ORDER BY emb <#> encode_text('a photo of a cat') LIMIT 5;
RESET enable_indexscan;
SELECT (SELECT array_agg(score ORDER BY score) FROM via_index) =
	(SELECT array_agg(score ORDER BY score) FROM via_seqscan) AS same_scores;

-- Batch-encoding a table in place, then searching with a filter.
UPDATE photos SET emb = e.emb
FROM (SELECT unnest(array_agg(id ORDER BY id)) AS id,
	unnest(encode_images(array_agg(jpeg ORDER BY id))) AS emb
	FROM photos WHERE jpeg IS NOT NULL) e
WHERE photos.id = e.id;
SELECT count(*) AS encoded FROM photos WHERE jpeg IS NOT NULL AND emb IS NOT NULL;
SELECT count(*) AS found FROM (
	SELECT name FROM photos WHERE jpeg IS NOT NULL
	ORDER BY emb <#> encode_text('two dogs playing in the snow!') LIMIT 10) s;
SELECT inverted_check('photos_emb');
DROP TABLE photos;
RESET sparseclip.model;
