-- The demo by hand, in psql, in a database of your own (here mydb); first
--   node demo/load.js demo/.cache/node_modules > emoji.tsv
CREATE EXTENSION IF NOT EXISTS sparseclip;
ALTER DATABASE mydb SET sparseclip.image_alpha = 'white';  -- icons: transparency over white (new sessions, workers)
CREATE TABLE emoji (id int PRIMARY KEY, file text, short_name text, caption text, keywords text, category text, png bytea);
\copy emoji FROM 'emoji.tsv'
SELECT embed_column('emoji', 'png', 'emb');                -- background workers embed every row
SELECT rows_done, rows_total, rows_per_sec, eta FROM embed_progress;  -- again, until all are done
CREATE INDEX ON emoji USING inverted (emb svec_ip_ops);
SELECT caption, -(emb <#> encode_text('a red apple')) AS score
	FROM emoji ORDER BY emb <#> encode_text('a red apple') LIMIT 5;
SELECT * FROM explain_match(encode_text('a red apple'), (SELECT emb FROM emoji WHERE id = 1), 3);
SELECT * FROM concepts((SELECT emb FROM emoji WHERE id = 1), 5);
