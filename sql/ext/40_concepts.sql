-- sparseclip extension script, part 40: concepts, the named dimensions of
-- the model named by sparseclip.model (names written into the model file by
-- training/sparseclip-concepts).  STABLE, not IMMUTABLE: the names depend on
-- the configured model; STABLE still lets an index scan take
-- ORDER BY emb <#> boost(...) as its ordering key.  Dimensions are 1-based,
-- as in svec's text form.  The integer-array forms of suppress and boost
-- need no names and no model: IMMUTABLE.

CREATE FUNCTION concepts(emb svec, k integer DEFAULT 10)
	RETURNS TABLE (dim integer, name text, weight real, share real)
	AS 'MODULE_PATHNAME', 'sparseclip_concepts' LANGUAGE C STABLE STRICT PARALLEL SAFE ROWS 10;
CREATE FUNCTION concept_names(dim integer)
	RETURNS TABLE (rank integer, name text, activation real)
	AS 'MODULE_PATHNAME', 'sparseclip_concept_names' LANGUAGE C STABLE STRICT PARALLEL SAFE ROWS 5;
CREATE FUNCTION concept_names()
	RETURNS TABLE (dim integer, rank integer, name text, activation real)
	AS 'MODULE_PATHNAME', 'sparseclip_concept_names_all' LANGUAGE C STABLE STRICT PARALLEL SAFE ROWS 50000;
CREATE FUNCTION explain_match(query svec, "row" svec, k integer DEFAULT 5)
	RETURNS TABLE (dim integer, name text, contribution real, share real)
	AS 'MODULE_PATHNAME', 'sparseclip_explain_match' LANGUAGE C STABLE STRICT PARALLEL SAFE ROWS 5;
CREATE FUNCTION concept_search(word text)
	RETURNS TABLE (dim integer, rank integer, name text, activation real)
	AS 'MODULE_PATHNAME', 'sparseclip_concept_search' LANGUAGE C STABLE STRICT PARALLEL SAFE ROWS 3;
CREATE FUNCTION suppress(emb svec, concepts text[]) RETURNS svec
	AS 'MODULE_PATHNAME', 'sparseclip_suppress' LANGUAGE C STABLE STRICT PARALLEL SAFE;
CREATE FUNCTION boost(emb svec, concepts text[], strength real DEFAULT 2.0) RETURNS svec
	AS 'MODULE_PATHNAME', 'sparseclip_boost' LANGUAGE C STABLE STRICT PARALLEL SAFE;
CREATE FUNCTION suppress(emb svec, dims integer[]) RETURNS svec
	AS 'MODULE_PATHNAME', 'sparseclip_suppress_dims' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION boost(emb svec, dims integer[], strength real DEFAULT 2.0) RETURNS svec
	AS 'MODULE_PATHNAME', 'sparseclip_boost_dims' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

COMMENT ON FUNCTION concepts(svec, integer) IS 'the k strongest dimensions of an embedding with their names and share of its squared norm';
COMMENT ON FUNCTION concept_names(integer) IS 'the stored names of a dimension: the name (rank 1), then its alternatives';
COMMENT ON FUNCTION concept_names() IS 'the stored names of every dimension';
COMMENT ON FUNCTION explain_match(svec, svec, integer) IS 'the shared dimensions that make up the inner product of query and row, largest first';
COMMENT ON FUNCTION concept_search(text) IS 'the dimensions with a name or alternative equal to word (case-insensitive)';
COMMENT ON FUNCTION suppress(svec, text[]) IS 'the embedding without the dimensions named so, re-normalised';
COMMENT ON FUNCTION boost(svec, text[], real) IS 'the embedding with the dimensions named so raised by strength times its largest weight, re-normalised';
COMMENT ON FUNCTION suppress(svec, integer[]) IS 'the embedding without these dimensions, re-normalised';
COMMENT ON FUNCTION boost(svec, integer[], real) IS 'the embedding with these dimensions raised by strength times its largest weight, re-normalised';
