-- sparseclip extension script, part 00: the svec sparse vector type.
-- The files in sql/ext are concatenated in name order into sparseclip--<version>.sql.

\echo Use "CREATE EXTENSION sparseclip" to load this file. \quit

CREATE TYPE svec;

CREATE FUNCTION svec_in(cstring, oid, integer) RETURNS svec
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION svec_out(svec) RETURNS cstring
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION svec_typmod_in(cstring[]) RETURNS integer
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION svec_typmod_out(integer) RETURNS cstring
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION svec_recv(internal, oid, integer) RETURNS svec
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION svec_send(svec) RETURNS bytea
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

CREATE TYPE svec (
	INPUT     = svec_in,
	OUTPUT    = svec_out,
	TYPMOD_IN = svec_typmod_in,
	TYPMOD_OUT = svec_typmod_out,
	RECEIVE   = svec_recv,
	SEND      = svec_send,
	INTERNALLENGTH = VARIABLE,
	ALIGNMENT = int4,
	STORAGE   = extended
);

COMMENT ON TYPE svec IS 'sparse vector: sorted int32 indices and float4 weights, text form {1:0.5,3:2}/10';

-- Length coercion for svec(n) columns.
CREATE FUNCTION svec(svec, integer, boolean) RETURNS svec
	AS 'MODULE_PATHNAME', 'svec_coerce' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE CAST (svec AS svec) WITH FUNCTION svec(svec, integer, boolean) AS IMPLICIT;

-- Distances, with pgvector's operator symbols and meanings.
CREATE FUNCTION inner_product(svec, svec) RETURNS float8
	AS 'MODULE_PATHNAME', 'svec_inner_product' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION svec_negative_inner_product(svec, svec) RETURNS float8
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION cosine_distance(svec, svec) RETURNS float8
	AS 'MODULE_PATHNAME', 'svec_cosine_distance' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION l2_distance(svec, svec) RETURNS float8
	AS 'MODULE_PATHNAME', 'svec_l2_distance' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION l1_distance(svec, svec) RETURNS float8
	AS 'MODULE_PATHNAME', 'svec_l1_distance' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

CREATE OPERATOR <#> (
	LEFTARG = svec, RIGHTARG = svec, PROCEDURE = svec_negative_inner_product,
	COMMUTATOR = '<#>'
);
CREATE OPERATOR <=> (
	LEFTARG = svec, RIGHTARG = svec, PROCEDURE = cosine_distance,
	COMMUTATOR = '<=>'
);
CREATE OPERATOR <-> (
	LEFTARG = svec, RIGHTARG = svec, PROCEDURE = l2_distance,
	COMMUTATOR = '<->'
);
CREATE OPERATOR <+> (
	LEFTARG = svec, RIGHTARG = svec, PROCEDURE = l1_distance,
	COMMUTATOR = '<+>'
);

-- Comparison and the btree operator class.
CREATE FUNCTION svec_lt(svec, svec) RETURNS bool
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION svec_le(svec, svec) RETURNS bool
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION svec_eq(svec, svec) RETURNS bool
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION svec_ne(svec, svec) RETURNS bool
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION svec_ge(svec, svec) RETURNS bool
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION svec_gt(svec, svec) RETURNS bool
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION svec_cmp(svec, svec) RETURNS integer
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

CREATE OPERATOR < (
	LEFTARG = svec, RIGHTARG = svec, PROCEDURE = svec_lt,
	COMMUTATOR = >, NEGATOR = >=, RESTRICT = scalarltsel, JOIN = scalarltjoinsel
);
CREATE OPERATOR <= (
	LEFTARG = svec, RIGHTARG = svec, PROCEDURE = svec_le,
	COMMUTATOR = >=, NEGATOR = >, RESTRICT = scalarlesel, JOIN = scalarlejoinsel
);
CREATE OPERATOR = (
	LEFTARG = svec, RIGHTARG = svec, PROCEDURE = svec_eq,
	COMMUTATOR = =, NEGATOR = <>, RESTRICT = eqsel, JOIN = eqjoinsel, MERGES
);
CREATE OPERATOR <> (
	LEFTARG = svec, RIGHTARG = svec, PROCEDURE = svec_ne,
	COMMUTATOR = <>, NEGATOR = =, RESTRICT = neqsel, JOIN = neqjoinsel
);
CREATE OPERATOR >= (
	LEFTARG = svec, RIGHTARG = svec, PROCEDURE = svec_ge,
	COMMUTATOR = <=, NEGATOR = <, RESTRICT = scalargesel, JOIN = scalargejoinsel
);
CREATE OPERATOR > (
	LEFTARG = svec, RIGHTARG = svec, PROCEDURE = svec_gt,
	COMMUTATOR = <, NEGATOR = <=, RESTRICT = scalargtsel, JOIN = scalargtjoinsel
);

CREATE OPERATOR CLASS svec_ops
	DEFAULT FOR TYPE svec USING btree AS
	OPERATOR 1 <,
	OPERATOR 2 <=,
	OPERATOR 3 =,
	OPERATOR 4 >=,
	OPERATOR 5 >,
	FUNCTION 1 svec_cmp(svec, svec);

-- Element-wise arithmetic and scaling.
CREATE FUNCTION svec_add(svec, svec) RETURNS svec
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION svec_sub(svec, svec) RETURNS svec
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION svec_mul_real(svec, real) RETURNS svec
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION real_mul_svec(real, svec) RETURNS svec
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

CREATE OPERATOR + (
	LEFTARG = svec, RIGHTARG = svec, PROCEDURE = svec_add, COMMUTATOR = +
);
CREATE OPERATOR - (
	LEFTARG = svec, RIGHTARG = svec, PROCEDURE = svec_sub
);
CREATE OPERATOR * (
	LEFTARG = svec, RIGHTARG = real, PROCEDURE = svec_mul_real, COMMUTATOR = *
);
CREATE OPERATOR * (
	LEFTARG = real, RIGHTARG = svec, PROCEDURE = real_mul_svec, COMMUTATOR = *
);

-- Functions.
CREATE FUNCTION dims(svec) RETURNS integer
	AS 'MODULE_PATHNAME', 'svec_dims' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION nnz(svec) RETURNS integer
	AS 'MODULE_PATHNAME', 'svec_nnz' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION l2_norm(svec) RETURNS float8
	AS 'MODULE_PATHNAME', 'svec_l2_norm' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION l2_normalize(svec) RETURNS svec
	AS 'MODULE_PATHNAME', 'svec_l2_normalize' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION top_dims(svec, integer) RETURNS svec
	AS 'MODULE_PATHNAME', 'svec_top_dims' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION svec_entries(svec, OUT dim integer, OUT weight real) RETURNS SETOF record
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION svec(dims integer[], weights real[], n integer) RETURNS svec
	AS 'MODULE_PATHNAME', 'svec_from_arrays' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

COMMENT ON FUNCTION top_dims(svec, integer) IS 'keeps the k largest weights';
COMMENT ON FUNCTION svec(integer[], real[], integer) IS 'builds an svec from 1-based dimensions, their weights and the dimension count';

-- Casts to and from dense real[].
CREATE FUNCTION array_to_svec(real[], integer, boolean) RETURNS svec
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION svec_to_array(svec, integer, boolean) RETURNS real[]
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE CAST (real[] AS svec) WITH FUNCTION array_to_svec(real[], integer, boolean) AS ASSIGNMENT;
CREATE CAST (svec AS real[]) WITH FUNCTION svec_to_array(svec, integer, boolean) AS ASSIGNMENT;

-- Aggregates: sum and mean of non-NULL inputs, parallel-capable.  The state
-- type is a real type, not internal, so that Citus combines the shards'
-- partial states (exact double sums) instead of rewriting avg as
-- sum(sum) / sum(count) over float4 partial sums; see src/svec_agg.c.
CREATE TYPE svec_aggstate;
CREATE FUNCTION svec_aggstate_in(cstring) RETURNS svec_aggstate
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION svec_aggstate_out(svec_aggstate) RETURNS cstring
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE TYPE svec_aggstate (
	INPUT     = svec_aggstate_in,
	OUTPUT    = svec_aggstate_out,
	INTERNALLENGTH = VARIABLE,
	ALIGNMENT = double,
	STORAGE   = extended
);
COMMENT ON TYPE svec_aggstate IS 'partial state of sum(svec) and avg(svec): per-dimension double sums and a count';

CREATE FUNCTION svec_agg_accum(svec_aggstate, svec) RETURNS svec_aggstate
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE PARALLEL SAFE;
CREATE FUNCTION svec_agg_combine(svec_aggstate, svec_aggstate) RETURNS svec_aggstate
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE PARALLEL SAFE;
CREATE FUNCTION svec_sum_final(svec_aggstate) RETURNS svec
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE PARALLEL SAFE;
CREATE FUNCTION svec_avg_final(svec_aggstate) RETURNS svec
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE PARALLEL SAFE;

CREATE AGGREGATE sum(svec) (
	SFUNC = svec_agg_accum, STYPE = svec_aggstate,
	COMBINEFUNC = svec_agg_combine,
	FINALFUNC = svec_sum_final,
	PARALLEL = SAFE
);
CREATE AGGREGATE avg(svec) (
	SFUNC = svec_agg_accum, STYPE = svec_aggstate,
	COMBINEFUNC = svec_agg_combine,
	FINALFUNC = svec_avg_final,
	PARALLEL = SAFE
);
