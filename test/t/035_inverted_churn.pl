# Churn: 10 rounds of deleting a random 10 % of the rows and inserting as
# many (in small transactions, so the pending list fills and merges), with
# VACUUM after each.  Every round the index passes inverted_check and
# answers exactly like a sequential scan (both operator classes, LIMIT 10 and
# 100).  Freed pages are reused, segments are moved down and the end of the
# relation truncated, so after 10 rounds the index is within 1.3 times a
# fresh build (issue 13's goal), and round 10 adds less than a tenth to
# round 8.  (The full-size run, 200,000 rows, is
# test/bench/inverted_churn.sh.)
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $n = 50000;
my $node = PostgreSQL::Test::Cluster->new('inverted_churn');
$node->init;
$node->append_conf('postgresql.conf', "autovacuum = off\nsparseclip.inverted_pending_limit = 1000\n");
$node->start;
$node->safe_psql('postgres', q{
CREATE EXTENSION sparseclip;
} . slurp_file('t/inverted_helpers.sql') . qq{
CREATE TABLE docs (id int PRIMARY KEY, emb svec);
INSERT INTO docs SELECT i, inv_rand(1000, 10 + i % 40) FROM generate_series(1, $n) i;
CREATE INDEX docs_ip ON docs USING inverted (emb svec_ip_ops);
CREATE INDEX docs_cos ON docs USING inverted (emb svec_cosine_ops);
CREATE TABLE queries (qid int, q svec);
INSERT INTO queries SELECT i, inv_rand(1000, 12) FROM generate_series(1, 4) i;
});
my $fresh = $node->safe_psql('postgres', "SELECT pg_relation_size('docs_ip')");

my $exact = q{
SELECT count(*) FILTER (WHERE NOT inv_same(op, q, lim)) || ' of ' || count(*)
FROM queries, unnest(ARRAY['<#>', '<=>']) op, unnest(ARRAY[10, 100]) lim;
};
my %size;
for my $round (1 .. 10)
{
	my $m = $n / 10;
	$node->safe_psql('postgres', "DELETE FROM docs WHERE id IN (SELECT id FROM docs ORDER BY random() LIMIT $m)");
	for (my $c = 0; $c < $m; $c += 250)
	{
		my $lo = 100000 * $round + $c;
		$node->safe_psql('postgres',
			"INSERT INTO docs SELECT $lo + i, inv_rand(1000, 10 + i % 40) FROM generate_series(1, 250) i");
	}
	$node->safe_psql('postgres', 'VACUUM docs');
	is($node->safe_psql('postgres', "SELECT inverted_check('docs_ip') || ' ' || inverted_check('docs_cos')"),
	   "$n $n", "round $round: inverted_check");
	is($node->safe_psql('postgres', $exact), '0 of 16', "round $round: index scans equal sequential scans");
	$size{$round} = $node->safe_psql('postgres', "SELECT pg_relation_size('docs_ip')");
}

$node->safe_psql('postgres', 'CREATE INDEX docs_fresh ON docs USING inverted (emb svec_ip_ops)');
my $rebuilt = $node->safe_psql('postgres', "SELECT pg_relation_size('docs_fresh')");
my $ratio = $size{10} / $rebuilt;
diag(sprintf("index: %d kB built, %s after rounds 1-10, %d kB rebuilt: %.2fx", $fresh / 1024,
			 join(' ', map { int($size{$_} / 1024) } 1 .. 10), $rebuilt / 1024, $ratio));
cmp_ok($ratio, '<=', 1.3, 'after 10 rounds the index is within 1.3x of a fresh build');
cmp_ok($size{10}, '<=', 1.1 * $size{8}, 'and stopped growing (round 10 within 1.1x of round 8)');

$node->stop;
done_testing();
