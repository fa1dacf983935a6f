-- sparseclip extension script, part 01: dividing an svec by a scalar.
-- svec / numeric is what Citus needs: it computes a distributed avg(svec) as
-- sum(sum(emb)) / sum(count(emb)), and sum(bigint) is numeric.  svec / float8
-- serves the rest (an integer divisor resolves to it: float8 is preferred).

CREATE FUNCTION svec_div_float8(svec, float8) RETURNS svec
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION svec_div_numeric(svec, numeric) RETURNS svec
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

CREATE OPERATOR / (
	LEFTARG = svec, RIGHTARG = float8, PROCEDURE = svec_div_float8
);
CREATE OPERATOR / (
	LEFTARG = svec, RIGHTARG = numeric, PROCEDURE = svec_div_numeric
);
