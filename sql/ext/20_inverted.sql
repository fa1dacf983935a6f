-- sparseclip extension script, part 20: the `inverted` index access method.
--
--   CREATE INDEX ON t USING inverted (emb svec_ip_ops);      -- ORDER BY emb <#> q
--   CREATE INDEX ON t USING inverted (emb svec_cosine_ops);  -- ORDER BY emb <=> q
--
-- Scans are exact: the same rows in the same order as a sequential scan.

CREATE FUNCTION inverted_handler(internal) RETURNS index_am_handler
	AS 'MODULE_PATHNAME' LANGUAGE C;

CREATE ACCESS METHOD inverted TYPE INDEX HANDLER inverted_handler;
COMMENT ON ACCESS METHOD inverted IS 'exact top-k inner product / cosine search over svec';

CREATE OPERATOR CLASS svec_ip_ops
	FOR TYPE svec USING inverted AS
	OPERATOR 1 <#> (svec, svec) FOR ORDER BY float_ops,
	FUNCTION 1 svec_negative_inner_product(svec, svec);

-- Support function 2 (the norm) marks the cosine class: the index then
-- bounds scores over w/|d|.
CREATE OPERATOR CLASS svec_cosine_ops
	FOR TYPE svec USING inverted AS
	OPERATOR 1 <=> (svec, svec) FOR ORDER BY float_ops,
	FUNCTION 1 cosine_distance(svec, svec),
	FUNCTION 2 l2_norm(svec);

-- Structural check of an inverted index and of its agreement with the table;
-- returns the number of table rows verified, raises an error on corruption.
-- Only the index's owner (or a superuser) may run it.
CREATE FUNCTION inverted_check(regclass) RETURNS bigint
	AS 'MODULE_PATHNAME' LANGUAGE C STRICT;
