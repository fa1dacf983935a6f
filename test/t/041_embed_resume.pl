# An embedding job stopped part way, by embed_cancel and by an immediate-mode
# crash of the server, resumes where it stopped: in the end every row is
# embedded exactly once (a log of committed vector writes proves it).  After
# the restart no worker runs until a read of embed_progress, which brings
# the job's workers back.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use lib 't';
use EmbedNode;

my ($node, $model) = EmbedNode::start('embed_resume');
my $fixtures = $ENV{SPARSECLIP_FIXTURES};

my $rows = 600;
$node->safe_psql('postgres', q{
CREATE EXTENSION sparseclip;
CREATE TABLE writes (tbl text, id bigint);
-- While the gate is closed a table's 41st write waits, so that the job is
-- stopped part way however fast the workers run beside a starved test.
CREATE TABLE gate (closed bool);
INSERT INTO gate VALUES (true);
CREATE FUNCTION log_write() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	WHILE (SELECT closed FROM gate) AND (SELECT count(*) FROM writes WHERE tbl = TG_TABLE_NAME) >= 40 LOOP
		PERFORM pg_sleep(0.02);
	END LOOP;
	INSERT INTO writes VALUES (TG_TABLE_NAME, NEW.id);
	RETURN NEW;
END $$;
});
for my $t ('cancelled', 'crashed')
{
	$node->safe_psql('postgres', qq{
CREATE TABLE $t (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, jpeg bytea);
INSERT INTO $t (jpeg) SELECT pg_read_binary_file('$fixtures/encode/'
	|| (ARRAY['square.jpg', 'wide.jpg', 'tall.jpg', 'gray.jpg'])[1 + i % 4]) FROM generate_series(1, $rows) i;
ALTER TABLE $t ADD COLUMN emb svec(256);
CREATE TRIGGER log_write AFTER UPDATE OF emb ON $t FOR EACH ROW WHEN (NEW.emb IS NOT NULL)
	EXECUTE FUNCTION log_write();
});
}

sub exactly_once
{
	my ($t, $what) = @_;
	my ($writes, $distinct, $embedded) = split /\|/, $node->safe_psql('postgres', qq{
		SELECT count(*), count(DISTINCT id), (SELECT count(emb) FROM $t) FROM writes WHERE tbl = '$t'});
	is($embedded, $rows, "$what: every row embedded");
	is($writes, $rows, "$what: $rows vectors written, none twice");
	is($distinct, $rows, "$what: each row written once");
}

# 1. Cancel part way, check that nothing moves, resume.
my $job = $node->safe_psql('postgres', "SELECT embed_column('cancelled', 'jpeg', 'emb', batch_size => 8)");
ok($node->poll_query_until('postgres', "SELECT rows_done >= 40 FROM embed_progress WHERE job = $job"),
	'cancel: the worker has started');
$node->safe_psql('postgres', "SELECT embed_cancel($job)");
my $at_cancel = $node->safe_psql('postgres', "SELECT rows_done FROM embed_progress WHERE job = $job");
cmp_ok($at_cancel, '<', $rows, "cancelled part way ($at_cancel of $rows)");
is($node->safe_psql('postgres', "SELECT state, workers_alive, rows_done + rows_pending FROM embed_progress WHERE job = $job"),
	"cancelled|0|$rows", 'cancelled: no worker, every row done or pending');
sleep 1;
is($node->safe_psql('postgres', "SELECT rows_done FROM embed_progress WHERE job = $job"), $at_cancel,
	'nothing is embedded after the cancel');
$node->safe_psql('postgres', "UPDATE gate SET closed = false");
$node->safe_psql('postgres', "SELECT embed_resume($job)");
ok($node->poll_query_until('postgres', "SELECT rows_pending = 0 FROM embed_progress WHERE job = $job"),
	'resumed job finishes');
exactly_once('cancelled', 'cancel and resume');

# 2. Crash part way (immediate shutdown), restart.
$node->safe_psql('postgres', "UPDATE gate SET closed = true");
$job = $node->safe_psql('postgres', "SELECT embed_column('crashed', 'jpeg', 'emb', batch_size => 8, keep_current => false)");
ok($node->poll_query_until('postgres', "SELECT rows_done >= 40 FROM embed_progress WHERE job = $job"),
	'crash: the worker has started');
$node->stop('immediate');
$node->start;
is($node->safe_psql('postgres', "SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'sparseclip embed'"),
	'0', 'after the restart no worker runs');
my $at_crash = $node->safe_psql('postgres', "SELECT count(emb) FROM crashed");
cmp_ok($at_crash, '<', $rows, "crashed part way ($at_crash of $rows)");
# A read of the view brings the workers of running jobs back (both jobs:
# the first is running too, with keep_current).
is($node->safe_psql('postgres', "SELECT state FROM embed_progress WHERE job = $job"), 'running', 'still running');
ok($node->poll_query_until('postgres', "SELECT count(*) = 2 FROM pg_stat_activity WHERE backend_type = 'sparseclip embed'"),
	'the read of embed_progress restarted the workers');
$node->safe_psql('postgres', "UPDATE gate SET closed = false");
ok($node->poll_query_until('postgres', "SELECT state = 'done' FROM embed_progress WHERE job = $job"),
	'the job finishes after the crash (done: no keep_current)');
exactly_once('crashed', 'crash and restart');
ok($node->poll_query_until('postgres',
	"SELECT count(*) = 1 FROM pg_stat_activity WHERE backend_type = 'sparseclip embed'"),
	'a done job\'s worker leaves; the kept-current job\'s stays');

$node->stop;
done_testing();
