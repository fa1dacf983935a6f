# Background workers of an embedding job: two workers on one job share the
# rows and embed none twice; they connect as the job's owner and show their
# progress in pg_stat_activity; with keep_current they pick up inserted rows
# and rows whose input changed, and leave rows whose other columns changed;
# a job asking for more workers than max_worker_processes allows says so.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use lib 't';
use EmbedNode;

my ($node, $model) = EmbedNode::start('embed_workers', "max_worker_processes = 8\n");
my $fixtures = $ENV{SPARSECLIP_FIXTURES};

my $rows = 400;
$node->safe_psql('postgres', qq{
CREATE EXTENSION sparseclip;
CREATE ROLE embedder LOGIN;
GRANT CREATE ON SCHEMA public TO embedder;
SET ROLE embedder;
-- the target column exists before the job, so that the log trigger is in
-- place before the workers (which start at once) write the first vector
CREATE TABLE photos (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, jpeg bytea, note text, emb svec);
-- every vector written, by which backend: no row may be written twice
CREATE TABLE writes (id bigint, pid int);
CREATE FUNCTION log_write() RETURNS trigger LANGUAGE plpgsql AS \$\$
BEGIN INSERT INTO writes VALUES (NEW.id, pg_backend_pid()); RETURN NEW; END \$\$;
CREATE TRIGGER log_write AFTER UPDATE OF emb ON photos FOR EACH ROW WHEN (NEW.emb IS NOT NULL)
	EXECUTE FUNCTION log_write();
RESET ROLE;
INSERT INTO photos (jpeg) SELECT pg_read_binary_file('$fixtures/encode/'
	|| (ARRAY['square.jpg', 'wide.jpg', 'tall.jpg', 'gray.jpg'])[1 + i % 4]) FROM generate_series(1, $rows) i;
});

my $job = $node->safe_psql('postgres', q{
SET ROLE embedder;
SELECT embed_column('photos', 'jpeg', 'emb', workers => 2, batch_size => 8);
});

# While they work: two workers, connected as the owner, with a status line.
ok($node->poll_query_until('postgres', qq{
	SELECT count(*) = 2 FROM pg_stat_activity WHERE backend_type = 'sparseclip embed'
	AND usename = 'embedder' AND application_name LIKE 'embed job $job: %'}),
	'two workers run as the job owner, with their status in application_name');
ok($node->poll_query_until('postgres', "SELECT rows_pending = 0 FROM embed_progress WHERE job = $job"),
	'the workers embed every row');
my ($writes, $distinct, $pids) = split /\|/, $node->safe_psql('postgres',
	'SELECT count(*), count(DISTINCT id), count(DISTINCT pid) FROM writes');
is($writes, $rows, "$rows vectors written");
is($distinct, $rows, 'no row embedded twice');
is($pids, 2, 'both workers embedded rows');
is($node->safe_psql('postgres', "SELECT rows_done, rows_failed, workers_alive, state FROM embed_progress WHERE job = $job"),
	"$rows|0|2|running", 'progress: all done, workers stay for keep_current');
# (batched and single encodes may differ in the last bits of a float)
$node->safe_psql('postgres', q{CREATE FUNCTION max_diff(a svec, b svec) RETURNS float8 LANGUAGE sql AS $$
	SELECT coalesce(max(abs(coalesce(x.weight, 0)::float8 - coalesce(y.weight, 0))), 0)
	FROM svec_entries(a) x FULL JOIN svec_entries(b) y USING (dim) $$});
is($node->safe_psql('postgres', q{
	SELECT bool_and(max_diff(emb, encode_image(jpeg)) < 1e-5) FROM photos}), 't', 'vectors are encode_image\'s');
like($node->safe_psql('postgres', "SELECT application_name FROM pg_stat_activity WHERE backend_type = 'sparseclip embed' LIMIT 1"),
	qr/^embed job $job: 400 of 400/, 'status line shows the counts');

# keep_current: a new row and a changed input are embedded by the workers;
# an update of another column is not.
$node->safe_psql('postgres', q{
TRUNCATE writes;
INSERT INTO photos (jpeg) SELECT jpeg FROM photos WHERE id = 1;
UPDATE photos SET jpeg = (SELECT jpeg FROM photos WHERE id = 2) WHERE id = 1;
UPDATE photos SET note = 'seen' WHERE id = 3;
UPDATE photos SET jpeg = jpeg WHERE id = 4;
});
ok($node->poll_query_until('postgres', q{SELECT count(*) = 0 FROM photos WHERE emb IS NULL}),
	'inserted and changed rows are embedded in the background');
sleep 1;
is($node->safe_psql('postgres', 'SELECT string_agg(id::text, \',\' ORDER BY id) FROM writes'),
	'1,' . ($rows + 1), 'only the changed and the new row were embedded');
is($node->safe_psql('postgres', 'SELECT max_diff(emb, encode_image(jpeg)) < 1e-5 FROM photos WHERE id = 1'), 't',
	'the changed row has the vector of its new input');

# More workers than the server has slots: a warning that points to embed_run.
$node->safe_psql('postgres', q{CREATE TABLE more (id int PRIMARY KEY, body text);
	INSERT INTO more SELECT i, 'text ' || i FROM generate_series(1, 10) i;});
my ($ret, $out, $err) = $node->psql('postgres', "SELECT embed_column('more', 'body', 'emb', workers => 12)");
like($err, qr/no background worker slot free for \d+ of its 12 workers/, 'no free slot: a warning');
like($err, qr/CALL embed_run/, 'the warning points to embed_run');
$node->safe_psql('postgres', "SELECT embed_drop(j.id) FROM embed_jobs j WHERE tbl = 'more'::regclass");

# Pause: the workers finish their batch and leave.
$node->safe_psql('postgres', "SELECT embed_pause($job)");
ok($node->poll_query_until('postgres', "SELECT count(*) = 0 FROM pg_stat_activity WHERE backend_type = 'sparseclip embed'"),
	'paused: the workers leave');
is($node->safe_psql('postgres', "SELECT state, workers_alive FROM embed_progress WHERE job = $job"), 'paused|0',
	'a paused job gets no workers back from a read of the view');

$node->stop;
done_testing();
