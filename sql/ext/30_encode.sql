-- sparseclip extension script, part 30: encoding text and images with the
-- model named by sparseclip.model.  STABLE (not IMMUTABLE): the result
-- depends on the configured model; STABLE still lets an index scan take
-- ORDER BY emb <#> encode_text('...') as its ordering key.

CREATE FUNCTION encode_text(input text, truncate boolean DEFAULT false) RETURNS svec
	AS 'MODULE_PATHNAME', 'sparseclip_encode_text' LANGUAGE C STABLE STRICT PARALLEL SAFE;
CREATE FUNCTION encode_texts(inputs text[], truncate boolean DEFAULT false) RETURNS svec[]
	AS 'MODULE_PATHNAME', 'sparseclip_encode_texts' LANGUAGE C STABLE STRICT PARALLEL SAFE;
CREATE FUNCTION encode_image(image bytea) RETURNS svec
	AS 'MODULE_PATHNAME', 'sparseclip_encode_image' LANGUAGE C STABLE STRICT PARALLEL SAFE;
CREATE FUNCTION encode_images(images bytea[]) RETURNS svec[]
	AS 'MODULE_PATHNAME', 'sparseclip_encode_images' LANGUAGE C STABLE STRICT PARALLEL SAFE;
CREATE FUNCTION tokenize(input text, truncate boolean DEFAULT true) RETURNS integer[]
	AS 'MODULE_PATHNAME', 'sparseclip_tokenize' LANGUAGE C STABLE STRICT PARALLEL SAFE;
CREATE FUNCTION model_info() RETURNS jsonb
	AS 'MODULE_PATHNAME', 'sparseclip_model_info' LANGUAGE C STABLE PARALLEL SAFE;

COMMENT ON FUNCTION encode_text(text, boolean) IS 'Sparse-CLIP text embedding; a text longer than the context is an error unless truncate';
COMMENT ON FUNCTION encode_image(bytea) IS 'Sparse-CLIP image embedding of a JPEG, PNG or WebP (transparency: sparseclip.image_alpha)';
COMMENT ON FUNCTION tokenize(text, boolean) IS 'CLIP BPE token ids, with start and end tokens';
