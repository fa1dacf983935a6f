# Inverted index scans with the helper thread (sparseclip.inverted_scan_threads
# = 2), cancelled while the helper is adding postings.  An error in the walk
# waits for the helper before the abort releases the pages it reads and the
# accumulators it writes; the pages the cursors handed over to the helper
# are released by the abort like any other pin.  Hundreds of scans
# cancelled at random points (statement_timeout of 1 to 4 ms on unpruned
# scans of many terms) must leave the backend sound: in the same session,
# every scan that finishes between them and every later answer equal the
# sequential scan's, the server never
# restarts, and no buffer pin leaks (a leak is a WARNING at the end of a
# transaction).
#
# A statement timeout that fires as its scan finishes is reported by the
# next statement (PostgreSQL's own race): on a loaded machine a SET after a
# scan was once cancelled that way, and the scan after it, meant to run
# without a timeout, ran with the old one.  So each cancellation is matched
# to its statement (psql --echo-errors), and every scan is counted once,
# finished or cancelled.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('inverted_scan_threads');
$node->init;
$node->append_conf('postgresql.conf', "autovacuum = off\n");
$node->start;
$node->safe_psql('postgres', q{
CREATE EXTENSION sparseclip;
} . slurp_file('t/inverted_helpers.sql') . q{
CREATE TABLE docs (id int PRIMARY KEY, emb svec);
INSERT INTO docs SELECT i, inv_rand(1000, 40) FROM generate_series(1, 150000) i;
CREATE INDEX docs_ip ON docs USING inverted (emb svec_ip_ops);
CREATE TABLE queries (qid int, q svec);
INSERT INTO queries SELECT i, inv_rand(1000, 150 + i) FROM generate_series(1, 10) i;
});
my $ranges = $node->safe_psql('postgres', "SELECT ceil(count(*) / 1024.0) FROM docs");
cmp_ok($ranges, '>', 64, "the segment has more than two blocks of ranges ($ranges)");

# Each query's top-10 distances by sequential scan, to compare every scan
# that finishes between cancelled ones with.
my %want = map { split /\|/, $_, 2 } split /\n/, $node->safe_psql('postgres', q{
SET enable_indexscan = off; SET enable_bitmapscan = off;
SELECT qid, (SELECT array_agg(d)::text FROM (SELECT emb <#> q AS d FROM docs ORDER BY emb <#> q LIMIT 10) s)
FROM queries ORDER BY qid;
});
is(scalar(keys %want), 10, 'the sequential scan answered the 10 queries');

# 300 scans, unpruned (every block is walked): four in five with a timeout
# of 1-4 ms (cancelled, or finishing in time), every fifth without; each
# that finishes returns its distances.  Then, in the same backend, the
# answers with pruning on.
my $script = "SET sparseclip.inverted_scan_threads = 2;\nSET sparseclip.inverted_prune = off;\n"
  . "SET enable_seqscan = off;\n";
for my $i (0 .. 299)
{
	# every fifth scan runs to its end, between cancelled ones
	my $ms = $i % 5 == 4 ? 0 : 1 + $i % 4;
	my $q = 1 + $i % 10;
	$script .= "SET statement_timeout = $ms;\n"
	  . "SELECT 'q$q s$i ' || array_agg(d)::text FROM (SELECT emb <#> q AS d FROM docs, "
	  . "(SELECT q FROM queries WHERE qid = $q) x ORDER BY emb <#> q LIMIT 10) s;\n";
}
$script .= "SET statement_timeout = 0;\nRESET sparseclip.inverted_prune;\nRESET enable_seqscan;\n"
  . "SELECT 'same ' || count(*) FILTER (WHERE inv_same(op, q, lim)) || ' of ' || count(*)\n"
  . "FROM queries, unnest(ARRAY['<#>']) op, unnest(ARRAY[10, 100]) lim;\n";
my ($ret, $out, $err) = $node->psql('postgres', $script, on_error_stop => 0,
	extra_params => ['--echo-errors']);
my $timeouts = () = $err =~ /canceling statement due to statement timeout/g;
# the failed statements, echoed: the scans among them by their label
my %cancelled = map { $_ => 1 } $err =~ /STATEMENT:\s+SELECT 'q\d+ s(\d+) '/g;
my @finished = $out =~ /^q(\d+) s(\d+) (\S+)$/mg;
my (%finished, $exact);
$exact = 0;
while (my ($q, $i, $got) = splice(@finished, 0, 3))
{
	$finished{$i} = 1;
	$exact++ if $got eq $want{$q};
}
my $finished = keys %finished;
my $cancelled = keys %cancelled;
my $late = $timeouts - $cancelled;
my $untimed = grep { $_ % 5 == 4 && $finished{$_} } 0 .. 299;
note("$cancelled scans cancelled, $finished finished, $exact of them exact; "
	  . "$late other statements cancelled by a timeout that fired late");
cmp_ok($cancelled, '>=', 20, 'many scans were cancelled');
cmp_ok($late, '<=', 10, 'few timeouts fired after their statement');
cmp_ok($untimed, '>=', 60 - $late,
	'the scans without a timeout finished (but after a late one)');
is(scalar(grep { $finished{$_} || $cancelled{$_} } 0 .. 299), 300,
	'every scan was cancelled or returned its 10 rows');
is(scalar(grep { $finished{$_} && $cancelled{$_} } 0 .. 299), 0, 'and none both');
is($exact, $finished, 'every scan that finished between cancelled ones returned the exact distances');
like($out, qr/^same 20 of 20$/m, 'afterwards the same backend answers exactly');
unlike($err, qr/WARNING|leak|TRAP|server closed/i, 'no warning, leak or lost connection');

is($node->safe_psql('postgres', 'SELECT 1'), '1', 'the server is up');
my $log = slurp_file($node->logfile);
unlike($log, qr/terminated by signal|was terminated|all server processes terminated/, 'no backend crashed');

$node->stop;
done_testing();
