# Crash recovery of the inverted index: an immediate shutdown while several
# clients insert and delete (with pending-list merges and a VACUUM under way),
# then recovery from WAL; the recovered index must pass inverted_check and
# give exactly the sequential scan's answers.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use IPC::Run;

my $node = PostgreSQL::Test::Cluster->new('inverted_crash');
$node->init;
# small pending lists: inserts keep folding them into segments
$node->append_conf('postgresql.conf', "sparseclip.inverted_pending_limit = 150\nautovacuum = off\n");
$node->start;

my $setup = q{
CREATE EXTENSION sparseclip;
} . slurp_file('t/inverted_helpers.sql') . q{
CREATE TABLE docs (id bigserial PRIMARY KEY, cat int, emb svec);
INSERT INTO docs (cat, emb) SELECT i % 7, inv_rand(500, 1 + i % 30) FROM generate_series(1, 3000) i;
CREATE INDEX docs_ip ON docs USING inverted (emb svec_ip_ops);
CREATE INDEX docs_cos ON docs USING inverted (emb svec_cosine_ops);
};
$node->safe_psql('postgres', $setup);

my $script = $node->basedir . '/writes.sql';
open(my $fh, '>', $script) or die;
print $fh q{
\set a random(1, 160)
\set b random(161, 330)
\set c random(331, 500)
INSERT INTO docs (cat, emb) VALUES (:a % 7, svec(ARRAY[:a, :b, :c], ARRAY[0.5, 0.25, 0.125]::real[], 500));
INSERT INTO docs (cat, emb) SELECT 1, inv_rand(500, 20);
DELETE FROM docs WHERE id = (:a * 17 + :b);
};
close $fh;

my ($out, $err) = ('', '');
my $pgbench = IPC::Run::start(
	[ 'pgbench', '-n', '-c', '4', '-T', '60', '-f', $script, '-h', $node->host, '-p', $node->port, 'postgres' ],
	'>', \$out, '2>', \$err);
my ($vout, $verr) = ('', '');
my $vacuum = IPC::Run::start(
	[ 'psql', '-X', '-h', $node->host, '-p', $node->port, '-c', 'SELECT pg_sleep(1.5)', '-c', 'VACUUM docs', 'postgres' ],
	'>', \$vout, '2>', \$verr);

# let the writers run, then pull the plug
sleep 4;
my $before = $node->safe_psql('postgres', 'SELECT count(*) FROM docs');
$node->stop('immediate');
eval { $pgbench->finish; };
eval { $vacuum->finish; };
ok($before > 3000, "rows were being inserted when the server crashed ($before rows)");

$node->start;
my $rows = $node->safe_psql('postgres', 'SELECT count(*) FROM docs');
is($node->safe_psql('postgres', "SELECT inverted_check('docs_ip')"), $rows,
	'inner-product index passes inverted_check after recovery');
is($node->safe_psql('postgres', "SELECT inverted_check('docs_cos')"), $rows,
	'cosine index passes inverted_check after recovery');

my $same = q{
SELECT count(*) FILTER (WHERE inv_same(op, q, lim)) || ' of ' || count(*)
FROM (SELECT inv_rand(500, 15) AS q FROM generate_series(1, 8)) qs,
	 unnest(ARRAY['<#>', '<=>']) op, unnest(ARRAY[10, 100, 100000]) lim
};
is($node->safe_psql('postgres', $same), '48 of 48', 'index scans equal sequential scans after recovery');

# the recovered index keeps working: more writes, VACUUM, still exact
$node->safe_psql('postgres', q{
INSERT INTO docs (cat, emb) SELECT 2, inv_rand(500, 25) FROM generate_series(1, 500);
DELETE FROM docs WHERE id % 5 = 0;
VACUUM docs;
});
$rows = $node->safe_psql('postgres', 'SELECT count(*) FROM docs');
is($node->safe_psql('postgres', "SELECT inverted_check('docs_ip')"), $rows, 'inverted_check after more writes');
is($node->safe_psql('postgres', $same), '48 of 48', 'still exact after more writes and VACUUM');

$node->stop;
done_testing();
