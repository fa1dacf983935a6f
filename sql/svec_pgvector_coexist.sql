-- sparseclip must install into a schema that already holds pgvector.
-- pgvector is not packaged for Debian 12, so this test first creates, in a
-- fresh schema, objects with pgvector's names and signatures for everything
-- that sparseclip's names could collide with (types, functions, operators,
-- aggregates, casts), then installs sparseclip beside them.
DROP EXTENSION sparseclip;
CREATE SCHEMA both_ext;
SET search_path = both_ext, public;
CREATE TYPE sparsevec AS (indices int[], vals real[], dim int);
CREATE TYPE vector AS (vals real[]);
CREATE FUNCTION inner_product(sparsevec, sparsevec) RETURNS float8 LANGUAGE sql IMMUTABLE AS 'SELECT 0::float8';
CREATE FUNCTION cosine_distance(sparsevec, sparsevec) RETURNS float8 LANGUAGE sql IMMUTABLE AS 'SELECT 0::float8';
CREATE FUNCTION l2_distance(sparsevec, sparsevec) RETURNS float8 LANGUAGE sql IMMUTABLE AS 'SELECT 0::float8';
CREATE FUNCTION l1_distance(sparsevec, sparsevec) RETURNS float8 LANGUAGE sql IMMUTABLE AS 'SELECT 0::float8';
CREATE FUNCTION l2_norm(sparsevec) RETURNS float8 LANGUAGE sql IMMUTABLE AS 'SELECT 0::float8';
CREATE FUNCTION l2_normalize(sparsevec) RETURNS sparsevec LANGUAGE sql IMMUTABLE AS 'SELECT $1';
CREATE FUNCTION sparsevec_negative_inner_product(sparsevec, sparsevec) RETURNS float8 LANGUAGE sql IMMUTABLE AS 'SELECT 0::float8';
CREATE OPERATOR <#> (LEFTARG = sparsevec, RIGHTARG = sparsevec, PROCEDURE = sparsevec_negative_inner_product);
CREATE OPERATOR <=> (LEFTARG = sparsevec, RIGHTARG = sparsevec, PROCEDURE = cosine_distance);
CREATE OPERATOR <-> (LEFTARG = sparsevec, RIGHTARG = sparsevec, PROCEDURE = l2_distance);
CREATE OPERATOR <+> (LEFTARG = sparsevec, RIGHTARG = sparsevec, PROCEDURE = l1_distance);
CREATE FUNCTION vector_add(vector, vector) RETURNS vector LANGUAGE sql IMMUTABLE AS 'SELECT $1';
CREATE OPERATOR + (LEFTARG = vector, RIGHTARG = vector, PROCEDURE = vector_add);
CREATE FUNCTION vector_accum(vector, vector) RETURNS vector LANGUAGE sql IMMUTABLE AS 'SELECT $1';
CREATE AGGREGATE sum(vector) (SFUNC = vector_accum, STYPE = vector);
CREATE AGGREGATE avg(vector) (SFUNC = vector_accum, STYPE = vector);
CREATE FUNCTION array_to_sparsevec(real[]) RETURNS sparsevec LANGUAGE sql IMMUTABLE AS 'SELECT NULL::sparsevec';
CREATE CAST (real[] AS sparsevec) WITH FUNCTION array_to_sparsevec(real[]) AS ASSIGNMENT;

CREATE EXTENSION sparseclip SCHEMA both_ext;
SELECT '{1:2}/3'::svec <#> '{1:3}/3'::svec AS ours_still_work,
	l2_norm('{1:3,2:4}/3'::svec) AS norm,
	sum(v) FROM (VALUES ('{1:1}/2'::svec), ('{2:1}/2')) t(v);
-- each shared name now has both overloads side by side
SELECT proname, count(*) AS overloads FROM pg_proc
WHERE pronamespace = 'both_ext'::regnamespace
	AND proname IN ('inner_product', 'cosine_distance', 'l2_distance', 'l1_distance',
		'l2_norm', 'l2_normalize', 'sum', 'avg')
GROUP BY proname ORDER BY proname;

DROP EXTENSION sparseclip;
SET client_min_messages = warning;
DROP SCHEMA both_ext CASCADE;
RESET client_min_messages;
RESET search_path;
CREATE EXTENSION sparseclip;
