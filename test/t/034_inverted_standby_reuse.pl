# Space reuse under a hot standby: the primary churns (deletes, inserts that
# fill the pending list and merge, VACUUM with compaction), so segments and
# pending pages are freed and recycled while standby queries -- some holding
# a scan open across a pause, as a cursor does -- keep reading the index.
# Freed pages are reused only behind the transaction horizon, which with
# hot_standby_feedback includes the standby's snapshots, and each reuse logs
# a recovery conflict: no standby query may fail; the same holds for the
# free pages at the end of the relation, which are truncated (the standby
# replays that too).  Then the standby answers exactly like its sequential
# scan, and inverted_check passes.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use IPC::Run;

my $primary = PostgreSQL::Test::Cluster->new('reuse_primary');
$primary->init(allows_streaming => 1);
$primary->append_conf('postgresql.conf', qq{
sparseclip.inverted_pending_limit = 150
autovacuum = off
log_min_messages = debug1
});
$primary->start;
$primary->safe_psql('postgres', q{
CREATE EXTENSION sparseclip;
} . slurp_file('t/inverted_helpers.sql') . q{
CREATE TABLE docs (id int PRIMARY KEY, emb svec);
INSERT INTO docs SELECT i, inv_rand(400, 1 + i % 30) FROM generate_series(1, 20000) i;
CREATE INDEX docs_ip ON docs USING inverted (emb svec_ip_ops);
CREATE INDEX docs_cos ON docs USING inverted (emb svec_cosine_ops);
CREATE TABLE queries (qid int PRIMARY KEY, q svec);
INSERT INTO queries SELECT i, inv_rand(400, 12) FROM generate_series(1, 20) i;
});
my $size0 = $primary->safe_psql('postgres', "SELECT pg_relation_size('docs_ip')");

$primary->backup('b1');
my $standby = PostgreSQL::Test::Cluster->new('reuse_standby');
$standby->init_from_backup($primary, 'b1', has_streaming => 1);
# feedback every second (default 10 s): the primary's horizon then follows
# the standby's queries closely enough for reuse to happen during the churn
$standby->append_conf('postgresql.conf', "hot_standby_feedback = on\nwal_receiver_status_interval = 1\n");
$standby->start;
$primary->wait_for_catchup($standby);

# standby clients: short top-10 scans, and scans held open across a pause
my $dir = $standby->basedir;
open(my $fh, '>', "$dir/q.sql") or die;
print $fh q{\set q random(1, 20)
SET enable_seqscan = off;
SELECT count(*) FROM (SELECT id FROM docs ORDER BY emb <#> (SELECT q FROM queries WHERE qid = :q) LIMIT 10) s;
SELECT count(*) FROM (SELECT id FROM docs ORDER BY emb <=> (SELECT q FROM queries WHERE qid = :q) LIMIT 10) s;
BEGIN;
DECLARE c CURSOR FOR SELECT id FROM docs ORDER BY emb <#> (SELECT q FROM queries WHERE qid = :q);
FETCH 20 FROM c;
SELECT pg_sleep(0.3);
FETCH 500 FROM c;
COMMIT;
};
close $fh;
my ($out, $err) = ('', '');
my $bench = IPC::Run::start(
	[ 'pgbench', '-n', '-c', '2', '-T', '75', '-f', "$dir/q.sql",
	  '-h', $standby->host, '-p', $standby->port, 'postgres' ],
	'>', \$out, '2>', \$err);

# one round of churn on the primary: 10 % deletes, as many inserts, VACUUM
sub churn
{
	my ($round) = @_;
	my $base = 100000 * $round;
	$primary->safe_psql('postgres', 'DELETE FROM docs WHERE id IN (SELECT id FROM docs ORDER BY random() LIMIT 2000)');
	for my $c (0 .. 9)
	{
		my $lo = $base + 200 * $c;
		$primary->safe_psql('postgres',
			"INSERT INTO docs SELECT $lo + i, inv_rand(400, 1 + i % 30) FROM generate_series(1, 200) i");
	}
	$primary->safe_psql('postgres', 'VACUUM docs');
}
sub truncated_pages
{
	my $n = 0;
	my $log = slurp_file($primary->logfile);
	$n += $1 - $2 while $log =~ /truncating the index from (\d+) to (\d+) pages/g;
	return $n;
}

# the primary churns meanwhile: 10 rounds, the last two after a pause, once
# the standby's feedback has moved on
churn($_) for 1 .. 8;
sleep(3);
churn($_) for 9 .. 10;
$primary->wait_for_catchup($standby);
$bench->finish;
is($bench->result(0), 0, 'no standby query failed while pages were freed and reused');
like($out, qr/number of transactions actually processed: [1-9]/, 'the standby ran queries throughout');
diag(join("\n", grep { /processed|failed|latency average/ } split /\n/, $out));
unlike(slurp_file($standby->logfile), qr/conflict with recovery|changed under the scan/,
	   'no recovery conflict cancelled a standby query');

my $log = slurp_file($primary->logfile);
my $reused = 0;
$reused += $1 while $log =~ /segment of \d+ pages, (\d+) of them reused/g;
cmp_ok($reused, '>', 0, "merges reused freed pages ($reused pages)");
my $size1 = $primary->safe_psql('postgres', "SELECT pg_relation_size('docs_ip')");
diag("index size: $size0 bytes built, $size1 after churn");
# Whether the end of the relation was free and recyclable at one of those
# VACUUMs depends on how long the standby's snapshots held the horizon (on
# a slow machine, all the time): with the standby idle, churn on until a
# VACUUM gives the free end back (a round or two).
my $truncated = truncated_pages();
my $extra = 0;
while ($truncated == 0 && $extra < 10)
{
	sleep(2);
	churn(11 + $extra++);
	$truncated = truncated_pages();
}
diag("truncated during the standby's queries: " . ($extra ? 'no' : 'yes') . ", after $extra more rounds");
cmp_ok($truncated, '>', 0, "the free end of the indexes was truncated ($truncated pages)");
$primary->wait_for_catchup($standby);
is($standby->safe_psql('postgres', "SELECT pg_relation_size('docs_ip') || ' ' || pg_relation_size('docs_cos')"),
   $primary->safe_psql('postgres', "SELECT pg_relation_size('docs_ip') || ' ' || pg_relation_size('docs_cos')"),
   'the standby replayed the truncations: same index sizes');

# exact on the standby, and structurally sound
my $rows = $primary->safe_psql('postgres', 'SELECT count(*) FROM docs');
is($standby->safe_psql('postgres', "SELECT inverted_check('docs_ip')"), $rows, 'standby ip index passes inverted_check');
is($standby->safe_psql('postgres', "SELECT inverted_check('docs_cos')"), $rows, 'standby cosine index passes inverted_check');
my $topk = q{
SELECT string_agg(x, E'\n' ORDER BY qid)
FROM (SELECT qid, (SELECT array_agg(d)::text FROM (SELECT emb <#> q AS d FROM docs ORDER BY emb <#> q LIMIT 20) s)
		|| (SELECT array_agg(d)::text FROM (SELECT emb <=> q AS d FROM docs ORDER BY emb <=> q LIMIT 20) s) AS x
	  FROM queries) t;
};
my $s = $standby->safe_psql('postgres', "SET enable_seqscan = off;\n$topk");
my $seq = $standby->safe_psql('postgres', "SET enable_indexscan = off;\n$topk");
is($s, $seq, 'standby index scans equal its sequential scans');
is($primary->safe_psql('postgres', "SET enable_seqscan = off;\n$topk"), $s, 'standby and primary agree');

$standby->stop;
$primary->stop;
done_testing();
