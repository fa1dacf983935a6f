-- Encoding PNG and WebP images beside JPEG, against the plain PyTorch
-- reference on Pillow + torchvision preprocessing
-- (test/fixtures/gen_encode_formats.py): transparency dropped as open_clip
-- does (sparseclip.image_alpha = drop) or composited over white (white);
-- and the errors bad images give, with their SQLSTATEs.

CREATE TEMP TABLE fx_formats (name text, alpha text, emb svec);
DO $$
DECLARE dir text := current_setting('sparseclip_test.fixtures') || '/encode/';
BEGIN
	EXECUTE format('COPY fx_formats FROM %L', dir || 'images_formats.tsv');
	PERFORM set_config('sparseclip.model', dir || 'model.safetensors', false);
END $$;
ALTER TABLE fx_formats ADD COLUMN img bytea;
UPDATE fx_formats SET img = pg_read_binary_file(current_setting('sparseclip_test.fixtures') || '/encode/' || name);
CREATE FUNCTION pg_temp.fixture(name text) RETURNS bytea LANGUAGE sql AS $$
	SELECT pg_read_binary_file(current_setting('sparseclip_test.fixtures') || '/encode/' || name) $$;
CREATE FUNCTION pg_temp.max_diff(a svec, b svec) RETURNS float8 LANGUAGE sql AS $$
	SELECT coalesce(max(abs(coalesce(x.weight, 0)::float8 - coalesce(y.weight, 0))), 0)
	FROM svec_entries(a) x FULL JOIN svec_entries(b) y USING (dim) $$;

-- Transparency is dropped by default (the setting 'model': this model file
-- does not say it was trained on white), as open_clip's convert('RGB').
SHOW sparseclip.image_alpha;
SELECT name, pg_temp.max_diff(encode_image(img), emb) <= 1e-4 AS close
FROM fx_formats WHERE alpha = 'drop' ORDER BY name;
-- Composited over white on request.
SET sparseclip.image_alpha = white;
SELECT name, pg_temp.max_diff(encode_image(img), emb) <= 1e-4 AS close
FROM fx_formats WHERE alpha = 'white' ORDER BY name;
-- The two settings differ only for images with transparency.
SELECT f.name, pg_temp.max_diff(encode_image(f.img), f.emb) <= 1e-4 AS same_as_drop
FROM fx_formats f WHERE f.alpha = 'drop' ORDER BY f.name;
RESET sparseclip.image_alpha;
SET sparseclip.image_alpha = grey;

-- The batch form takes JPEG, PNG and WebP together, NULL for NULL.
SELECT count(*) AS images, bool_and(pg_temp.max_diff(b.e, f.emb) <= 1e-4) AS batch_close
FROM fx_formats f
JOIN LATERAL unnest((SELECT encode_images(array_agg(img ORDER BY name)) FROM fx_formats WHERE alpha = 'drop'),
	(SELECT array_agg(name ORDER BY name) FROM fx_formats WHERE alpha = 'drop')) AS b(e, name)
	ON b.name = f.name AND f.alpha = 'drop';
SELECT cardinality(encode_images(ARRAY[pg_temp.fixture('square.jpg'), NULL, pg_temp.fixture('lossy.webp'),
	pg_temp.fixture('rgba.png')])) AS n,
	(encode_images(ARRAY[pg_temp.fixture('square.jpg'), NULL]))[2] IS NULL AS null_kept;

-- Unknown formats name the accepted ones; corrupt or truncated data names
-- its format; all 22P03.
SELECT encode_image('\x474946383961010001000000002c'::bytea);
SELECT encode_image('\x424d3a0000000000000036000000'::bytea);
SELECT encode_image('hello, world'::bytea);
SELECT encode_image(substring(pg_temp.fixture('rgba.png') FROM 1 FOR 30));
SELECT encode_image(substring(pg_temp.fixture('rgba.png') FROM 1 FOR 2000));
SELECT encode_image(substring(pg_temp.fixture('rgb16_interlaced.png') FROM 1 FOR 5000));
SELECT encode_image(overlay(pg_temp.fixture('rgba.png') PLACING '\x00000000'::bytea FROM 17));
SELECT encode_image(overlay(pg_temp.fixture('rgba.png') PLACING '\xdeadbeefdeadbeef'::bytea FROM 200));
SELECT encode_image(substring(pg_temp.fixture('lossy.webp') FROM 1 FOR 20));
SELECT encode_image(substring(pg_temp.fixture('lossy.webp') FROM 1 FOR 400));
SELECT encode_image(overlay(pg_temp.fixture('alpha_lossless.webp') PLACING '\xffffffffffffffff'::bytea FROM 60));
-- Decompression bombs (a header declaring 50000 x 50000 and 16383 x 16383
-- pixels over a few hundred bytes) are refused from the header: 54000.
SELECT encode_image(pg_temp.fixture('bomb.png'));
SELECT encode_image(pg_temp.fixture('bomb.webp'));
SET sparseclip.max_image_pixels = 1000;
SELECT encode_image(pg_temp.fixture('rgba.png'));
SELECT encode_images(ARRAY[pg_temp.fixture('lossy.webp')]);
RESET sparseclip.max_image_pixels;
DO $$
DECLARE
	inputs bytea[] := ARRAY[
		'\x89504e470d0a1a0a'::bytea,
		substring(pg_temp.fixture('palette_trns.png') FROM 1 FOR 100),
		substring(pg_temp.fixture('gray16.png') FROM 1 FOR 1000),
		overlay(pg_temp.fixture('rgba.png') PLACING '\xdeadbeefdeadbeef'::bytea FROM 200),
		'\x52494646040000005745425056503820'::bytea,
		substring(pg_temp.fixture('alpha_lossless.webp') FROM 1 FOR 3000),
		overlay(pg_temp.fixture('alpha_lossless.webp') PLACING '\xffffffffffffffff'::bytea FROM 60),
		pg_temp.fixture('bomb.png'),
		pg_temp.fixture('bomb.webp'),
		'\x474946383961'::bytea];
	b bytea;
BEGIN
	FOREACH b IN ARRAY inputs LOOP
		BEGIN
			PERFORM encode_image(b);
			RAISE NOTICE 'accepted';
		EXCEPTION WHEN OTHERS THEN
			RAISE NOTICE '% bytes -> %', length(b), SQLSTATE;
		END;
	END LOOP;
END $$;
-- The backend is still fine.
SELECT pg_temp.max_diff(encode_image(img), emb) <= 1e-4 AS still_works
FROM fx_formats WHERE name = 'rgba.png' AND alpha = 'drop';
