# Concurrent inserts, deletes and index searches (pgbench, several clients)
# with VACUUM running alongside: no client may see an error, and afterwards
# the index passes inverted_check and equals the sequential scan.  Table
# docs has mixed signs (scans walk every posting); table pos is non-negative,
# 20 ranges of 1,024 rows whose rows come in topics of 1,024 (as when a
# table is filled album by album), so that scans prune most ranges.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use IPC::Run;

my $node = PostgreSQL::Test::Cluster->new('inverted_concurrent');
$node->init;
$node->append_conf('postgresql.conf', "sparseclip.inverted_pending_limit = 300\nautovacuum = off\n");
$node->start;
$node->safe_psql('postgres', q{
CREATE EXTENSION sparseclip;
} . slurp_file('t/inverted_helpers.sql') . q{
CREATE TABLE docs (id bigserial PRIMARY KEY, cat int, emb svec);
INSERT INTO docs (cat, emb) SELECT i % 7, inv_rand(500, 1 + i % 30) FROM generate_series(1, 2000) i;
CREATE INDEX docs_ip ON docs USING inverted (emb svec_ip_ops);
CREATE INDEX docs_cos ON docs USING inverted (emb svec_cosine_ops);
CREATE TABLE pos (id bigserial PRIMARY KEY, emb svec);
INSERT INTO pos (emb) SELECT svec(ARRAY[i / 1024 % 10 * 40 + 1 + i % 7, i / 1024 % 10 * 40 + 8 + i % 13,
		401 + i * 7 % 50, 451 + i * 13 % 49],
	ARRAY[(i * 7919 % 1000 + 1) / 1000.0, (i::bigint * 104729 % 997 + 1) / 997.0,
		  (i * 31 % 101 + 1) / 101.0, (i * 17 % 89 + 1) / 89.0]::real[], 500)
FROM generate_series(1, 20480) i;
CREATE INDEX pos_ip ON pos USING inverted (emb svec_ip_ops);
});

my $script = $node->basedir . '/mixed.sql';
open(my $fh, '>', $script) or die;
print $fh q{
\set a random(1, 160)
\set b random(161, 330)
\set c random(331, 500)
INSERT INTO docs (cat, emb) VALUES (:a % 7, svec(ARRAY[:a, :b, :c], ARRAY[0.5, 0.25, 0.125]::real[], 500));
SELECT id FROM docs WHERE cat <> 3 ORDER BY emb <#> svec(ARRAY[:a, :c], ARRAY[1, 0.5]::real[], 500) LIMIT 10;
SELECT id FROM docs ORDER BY emb <=> svec(ARRAY[:b, :c], ARRAY[0.3, 1]::real[], 500) LIMIT 50;
DELETE FROM docs WHERE id = (:a * 13 + :c);
INSERT INTO pos (emb) VALUES (svec(ARRAY[1 + :a % 7, 8 + :a % 13, :c], ARRAY[0.5, 0.75, 0.25]::real[], 500));
SELECT id FROM pos ORDER BY emb <#> svec(ARRAY[:a % 10 * 40 + 1 + :b % 7, :a % 10 * 40 + 8 + :c % 13, 401 + :a % 50], ARRAY[1, 0.5, 0.25]::real[], 500) LIMIT 10;
SELECT id FROM pos ORDER BY emb <#> svec(ARRAY[:b % 10 * 40 + 1 + :c % 7, 451 + :b % 49], ARRAY[0.3, 1]::real[], 500) LIMIT 200;
DELETE FROM pos WHERE id = (:a * 97 + :b);
};
close $fh;

my ($vout, $verr) = ('', '');
my $vacuum = IPC::Run::start(
	[ 'psql', '-X', '-v', 'ON_ERROR_STOP=1', '-h', $node->host, '-p', $node->port,
	  '-c', 'SELECT pg_sleep(1)', '-c', 'VACUUM docs', '-c', 'VACUUM pos', '-c', 'SELECT pg_sleep(1)',
	  '-c', 'VACUUM docs', '-c', 'VACUUM pos', 'postgres' ],
	'>', \$vout, '2>', \$verr);

$ENV{PGOPTIONS} = '-c enable_seqscan=off';
$node->command_ok(
	[ 'pgbench', '-n', '-c', '4', '-j', '2', '-T', '6', '-f', $script, '-h', $node->host, '-p', $node->port, 'postgres' ],
	'pgbench: 4 clients inserting, deleting and searching, without errors');
delete $ENV{PGOPTIONS};
ok($vacuum->finish, 'concurrent VACUUM succeeded') or diag($verr);

my $rows = $node->safe_psql('postgres', 'SELECT count(*) FROM docs');
ok($rows > 2000, "rows were inserted ($rows)");
is($node->safe_psql('postgres', "SELECT inverted_check('docs_ip')"), $rows, 'ip index passes inverted_check');
is($node->safe_psql('postgres', "SELECT inverted_check('docs_cos')"), $rows, 'cosine index passes inverted_check');
is($node->safe_psql('postgres', q{
SELECT count(*) FILTER (WHERE inv_same(op, q, lim)) || ' of ' || count(*)
FROM (SELECT inv_rand(500, 15) AS q FROM generate_series(1, 8)) qs,
	 unnest(ARRAY['<#>', '<=>']) op, unnest(ARRAY[10, 100, 100000]) lim
}), '48 of 48', 'index scans equal sequential scans afterwards');

my $prows = $node->safe_psql('postgres', 'SELECT count(*) FROM pos');
ok($prows > 20480, "rows were inserted into the non-negative table ($prows)");
is($node->safe_psql('postgres', "SELECT inverted_check('pos_ip')"), $prows, 'non-negative index passes inverted_check');
is($node->safe_psql('postgres', q{
SELECT count(*) FILTER (WHERE inv_same('<#>', q, lim, 'pos')) || ' of ' || count(*)
FROM (SELECT svec(ARRAY[i % 10 * 40 + 1 + i % 7, i % 10 * 40 + 8 + i % 13, 401 + i * 3 % 50, 451 + i * 11 % 49],
				  ARRAY[1, 0.5, (i % 5 + 1) / 5.0, 0.25]::real[], 500) AS q
	  FROM generate_series(1, 8) i) qs,
	 unnest(ARRAY[10, 200, 100000]) lim
}), '24 of 24', 'pruned index scans equal sequential scans afterwards');

$node->stop;
done_testing();
