-- Concepts: the named dimensions of a model.  Fixtures (test/fixtures/
-- concepts, made by gen_concepts_fixtures.sh): a tiny random model of 64
-- dimensions with known names (dim 1 snow/ice/winter, 2 dog/puppy/hound,
-- 3 cat/kitten, 4 unnamed, 5 Dog/wolf, 6 red, 7 ice cream/dessert/snow,
-- 8 a name with quotes, 10 and 20 unnamed, 12 a plain-string name, the
-- others "concept N"), the same model without names, and one with
-- malformed names.

-- Errors as SQLSTATE and message, with the fixture folder hidden.
CREATE FUNCTION pg_temp.err(q text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE detail text;
BEGIN
	EXECUTE q;
	RETURN 'no error';
EXCEPTION WHEN others THEN
	GET STACKED DIAGNOSTICS detail = PG_EXCEPTION_DETAIL;
	RETURN SQLSTATE || ': ' || replace(SQLERRM, current_setting('sparseclip_test.fixtures'), '<fixtures>')
		|| coalesce(nullif(' (' || detail || ')', ' ()'), '');
END $$;
CREATE FUNCTION pg_temp.use(file text) RETURNS void LANGUAGE sql AS $$
	SELECT set_config('sparseclip.model', current_setting('sparseclip_test.fixtures') || '/' || file, false) $$;

-- (No model configured: test/t/013_default_model.pl.)

SELECT pg_temp.use('concepts/named.safetensors');
SELECT model_info()->'has_concepts' AS has_concepts;

-- The names of a dimension: the name, then the alternatives.
SELECT * FROM concept_names(1);
SELECT * FROM concept_names(7);
SELECT * FROM concept_names(8);
SELECT * FROM concept_names(12);
SELECT * FROM concept_names(4);
SELECT * FROM concept_names(NULL);
SELECT count(*) AS names, count(DISTINCT dim) AS named_dims, min(dim), max(dim) FROM concept_names();
SELECT pg_temp.err('SELECT * FROM concept_names(0)');
SELECT pg_temp.err('SELECT * FROM concept_names(65)');

-- The strongest dimensions of an embedding, with names and shares of the
-- squared norm.
SELECT * FROM concepts('{1:0.6,2:0.7,4:0.2,3:0.1}/64');
SELECT * FROM concepts('{1:0.6,2:0.7,4:0.2,3:0.1}/64', 2);
SELECT * FROM concepts('{9:0.5,6:0.5,30:0.5}/64', 2);           -- ties: the lower dimension first
SELECT * FROM concepts('{}/64');
SELECT * FROM concepts(NULL);
SELECT abs(sum(share) - 1) < 1e-6 AS shares_sum_to_one FROM concepts('{1:3,5:1,40:2,64:0.5}/64', 64);
SELECT pg_temp.err($$SELECT * FROM concepts('{1:1}/64', 0)$$);
SELECT pg_temp.err($$SELECT * FROM concepts('{1:1}/64', -3)$$);
SELECT pg_temp.err($$SELECT * FROM concepts('{1:1}/10')$$);
-- On real embeddings of the (random) model: as many rows as asked or as
-- active, strongest first, weights those of the vector.
SELECT count(*) = least(10, nnz(e)) AS count_ok,
	bool_and(c.weight = (SELECT x.weight FROM svec_entries(e) x WHERE x.dim = c.dim)) AS weights_ok
FROM (SELECT encode_text('a photo of a dog') e) s, concepts(e) c GROUP BY e;
SELECT array_agg(dim ORDER BY weight DESC, dim) = (SELECT array_agg(x.dim ORDER BY x.weight DESC, x.dim)
	FROM (SELECT * FROM svec_entries(encode_text('snow')) ORDER BY weight DESC, dim LIMIT 5) x) AS order_ok
FROM concepts(encode_text('snow'), 5);

-- Why a row matched: the shared dimensions, largest contribution first,
-- summing to the inner product.
SELECT * FROM explain_match('{1:0.5,2:0.5,3:0.5,5:0.5}/64', '{2:0.6,3:0.2,5:0.7,6:0.3}/64');
SELECT * FROM explain_match('{1:0.5,2:0.5,3:0.5,5:0.5}/64', '{2:0.6,3:0.2,5:0.7,6:0.3}/64', 1);
SELECT * FROM explain_match('{1:1}/64', '{2:1}/64');
SELECT t1, t2, abs(sum(contribution) - inner_product(encode_text(t1), encode_text(t2))) < 1e-6 AS sums_to_ip,
	abs(sum(share) - 1) < 1e-5 AS shares_sum_to_one,
	count(*) = (SELECT count(*) FROM svec_entries(encode_text(t1)) a JOIN svec_entries(encode_text(t2)) b USING (dim)) AS all_shared
FROM (VALUES ('a dog', 'a cat'), ('snow', 'ice cream'), ('red', 'a red car')) v(t1, t2),
	explain_match(encode_text(t1), encode_text(t2), 64)
GROUP BY t1, t2 ORDER BY t1;
SELECT pg_temp.err($$SELECT * FROM explain_match('{1:1}/64', '{1:1}/63')$$);
SELECT pg_temp.err($$SELECT * FROM explain_match('{1:1}/63', '{1:1}/63')$$);
SELECT pg_temp.err($$SELECT * FROM explain_match('{1:1}/64', '{1:1}/64', 0)$$);
SELECT * FROM explain_match(NULL, '{1:1}/64');

-- Dimensions by name: the name or an alternative, case and spaces ignored.
SELECT * FROM concept_search('dog');
SELECT * FROM concept_search('  DOG ');
SELECT * FROM concept_search('snow');
SELECT * FROM concept_search('ice cream');
SELECT * FROM concept_search('O''Brien "quoted"');
SELECT * FROM concept_search('zebra');
SELECT * FROM concept_search('');
-- Filtering rows by a concept's weight.
CREATE TEMP TABLE docs (id int, t text, emb svec(64));
INSERT INTO docs SELECT i, w || ' ' || i, encode_text(w || ' ' || i)
	FROM generate_series(1, 60) i, unnest(ARRAY['a dog', 'snow', 'a red car', 'ice cream']) w;
SELECT count(*) = (SELECT count(*) FROM docs, svec_entries(emb) e WHERE e.dim = 1 AND e.weight > 0.1) AS filter_ok
FROM docs d WHERE EXISTS (SELECT 1 FROM concepts(d.emb, 64) c WHERE c.name = 'snow' AND c.weight > 0.1);

-- Steering: suppress removes the named dimensions, boost raises them by
-- strength times the largest weight; both return unit vectors.
SELECT suppress('{1:0.6,2:0.8,3:0.5}/64', ARRAY['dog']);
SELECT suppress('{1:0.6,2:0.8,3:0.5,5:0.2}/64', ARRAY['DOG', 'snow']);
SELECT suppress('{1:0.6,2:0.8}/64', ARRAY[]::text[]);
SELECT suppress('{}/64', ARRAY['red']);
SELECT boost('{2:0.6,3:0.8}/64', ARRAY['snow']);
SELECT boost('{2:0.6,3:0.8}/64', ARRAY['snow'], 0.5);
SELECT boost('{1:0.6,3:0.8}/64', ARRAY['snow', 'red'], 1);
SELECT boost('{}/64', ARRAY['red']);
SELECT suppress('{1:0.6,2:0.8,3:0.5}/64', ARRAY[2, 3, 2]);
SELECT boost('{2:0.6,3:0.8}/64', ARRAY[1], 1);
SELECT boost('{2:0.6,3:0.8}/100', ARRAY[100]);
SELECT abs(l2_norm(boost(encode_text('a dog'), ARRAY['snow'])) - 1) < 1e-6 AS unit,
	(SELECT weight FROM svec_entries(boost(encode_text('a dog'), ARRAY['snow'])) WHERE dim = 1) >
	coalesce((SELECT weight FROM svec_entries(encode_text('a dog')) WHERE dim = 1), 0) AS raised,
	NOT EXISTS (SELECT 1 FROM svec_entries(suppress(encode_text('a dog'), ARRAY['snow', 'dog'])) WHERE dim IN (1, 2, 5)) AS removed;
SELECT pg_temp.err($$SELECT suppress('{1:1}/64', ARRAY['zebra'])$$);
SELECT pg_temp.err($$SELECT boost('{1:1}/64', ARRAY['dog', 'zebra'])$$);
SELECT pg_temp.err($$SELECT suppress('{1:1}/64', ARRAY['ice'])$$);
SELECT suppress('{1:1}/64', ARRAY['ice']);
SELECT pg_temp.err($$SELECT suppress('{1:1}/64', ARRAY['dog', NULL])$$);
SELECT pg_temp.err($$SELECT suppress('{1:1}/64', ARRAY[['dog'], ['cat']])$$);
SELECT pg_temp.err($$SELECT boost('{1:1}/64', ARRAY['dog'], 0)$$);
SELECT pg_temp.err($$SELECT boost('{1:1}/64', ARRAY['dog'], -1)$$);
SELECT pg_temp.err($$SELECT boost('{1:1}/64', ARRAY['dog'], 'NaN')$$);
SELECT pg_temp.err($$SELECT boost('{1:1}/64', ARRAY['dog'], 'Infinity')$$);
SELECT pg_temp.err($$SELECT boost('{1:3e38}/64', ARRAY['dog'], 3)$$);
SELECT pg_temp.err($$SELECT suppress('{1:1}/65', ARRAY['dog'])$$);
SELECT pg_temp.err($$SELECT suppress('{1:1}/64', ARRAY[0])$$);
SELECT pg_temp.err($$SELECT boost('{1:1}/64', ARRAY[65])$$);
SELECT pg_temp.err($$SELECT boost('{1:1}/64', ARRAY[1, NULL])$$);
SELECT suppress(NULL, ARRAY['dog']), boost('{1:1}/64', NULL::text[]), boost('{1:1}/64', ARRAY['dog'], NULL);

-- A steered query goes through the index and gives the sequential scan's answer.
CREATE INDEX docs_emb ON docs USING inverted (emb svec_ip_ops);
SET enable_seqscan = off;
EXPLAIN (COSTS OFF) SELECT id FROM docs ORDER BY emb <#> boost(encode_text('a dog'), ARRAY['snow']) LIMIT 10;
CREATE TEMP TABLE by_index AS
	SELECT row_number() OVER () AS n, id FROM (SELECT id FROM docs ORDER BY emb <#> boost(encode_text('a dog'), ARRAY['snow']) LIMIT 10) s;
RESET enable_seqscan;
SET enable_indexscan = off;
SET enable_bitmapscan = off;
SELECT count(*) AS same_top10 FROM by_index JOIN
	(SELECT row_number() OVER () AS n, id FROM (SELECT id FROM docs ORDER BY emb <#> boost(encode_text('a dog'), ARRAY['snow']), id LIMIT 10) s) q
	USING (n, id);
RESET enable_indexscan;
RESET enable_bitmapscan;

-- Volatility: the names depend on the configured model.
SELECT p.oid::regprocedure AS function, provolatile, proparallel, proisstrict
FROM pg_proc p WHERE proname IN ('concepts', 'concept_names', 'explain_match', 'concept_search', 'suppress', 'boost')
ORDER BY 1::text;

-- A model without names, one with malformed names, a dense model.
SELECT pg_temp.use('concepts/unnamed.safetensors');
SELECT model_info()->'has_concepts' AS has_concepts;
SELECT pg_temp.err($$SELECT * FROM concepts('{1:1}/64')$$);
SELECT pg_temp.err($$SELECT * FROM concept_names(1)$$);
SELECT pg_temp.err($$SELECT * FROM concept_names()$$);
SELECT pg_temp.err($$SELECT * FROM explain_match('{1:1}/64', '{1:1}/64')$$);
SELECT pg_temp.err($$SELECT * FROM concept_search('dog')$$);
SELECT pg_temp.err($$SELECT suppress('{1:1}/64', ARRAY['dog'])$$);
SELECT pg_temp.err($$SELECT boost('{1:1}/64', ARRAY['dog'])$$);
SELECT suppress('{1:0.6,2:0.8}/64', ARRAY[2]);    -- by dimension: no names needed
SELECT pg_temp.use('concepts/badnames.safetensors');
SELECT pg_temp.err($$SELECT * FROM concepts('{1:1}/64')$$);
SELECT pg_temp.use('encode/dense.safetensors');
SELECT pg_temp.err($$SELECT * FROM concepts('{1:1}/64')$$);
-- One string per dimension (the older form) is one name each.
SELECT pg_temp.use('encode/model.safetensors');
SELECT * FROM concept_names(3);
SELECT * FROM concept_search('CONCEPT 63');
-- Back to the named model: its names again.
SELECT pg_temp.use('concepts/named.safetensors');
SELECT * FROM concept_names(2);
