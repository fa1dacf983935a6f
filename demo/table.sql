-- The sample table: one row per Twemoji image, its names kept in columns and
-- the PNG itself as bytea (encode_image reads PNG, JPEG and WebP).
-- Running the demo again starts over: an earlier run's job goes with its table.
SET client_min_messages = warning;
SELECT embed_drop(id, drop_column => true) FROM embed_jobs WHERE tbl = to_regclass('emoji');
DROP TABLE IF EXISTS emoji;
CREATE TABLE emoji (
	id integer PRIMARY KEY,    -- the bulk embedder needs a primary key
	file text NOT NULL,        -- image file in emoji-datasource-twitter
	short_name text NOT NULL,  -- its short name there
	caption text NOT NULL,     -- its name in emojibase-data
	keywords text,             -- emojibase-data's tags
	category text,
	png bytea NOT NULL
);
