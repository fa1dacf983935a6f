# An index written in another on-disk format (an older build) must be
# refused by every path that reads or writes it -- scans, inserts, VACUUM,
# inverted_check -- with a message saying to REINDEX, and work again after
# REINDEX.  The test rewrites the metapage's version field on disk while the
# server is stopped.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use lib 't';
use PageBytes;

my $node = PostgreSQL::Test::Cluster->new('inverted_version');
$node->init;
$node->start;
$node->safe_psql('postgres', q{
CREATE EXTENSION sparseclip;
CREATE TABLE docs (id int, emb svec);
INSERT INTO docs SELECT i, svec(ARRAY[1 + i % 5, 10 + i % 7], ARRAY[1, 0.5]::real[], 20) FROM generate_series(1, 500) i;
CREATE INDEX docs_ip ON docs USING inverted (emb svec_ip_ops);
});
my $path = $node->data_dir . '/' . $node->safe_psql('postgres', "SELECT pg_relation_filepath('docs_ip')");
$node->stop;

# block 0: page header (24 bytes), then magic (4 bytes) and version (4 bytes)
my $version = PageBytes::peek($path, 28);
PageBytes::poke($path, 28, $version - 1);
$node->start;

my $old = $version - 1;
for my $sql ('SET enable_seqscan = off; SELECT id FROM docs ORDER BY emb <#> \'{1:1}/20\' LIMIT 3',
			 'INSERT INTO docs VALUES (0, \'{2:1}/20\')',
			 'VACUUM docs',
			 "SELECT inverted_check('docs_ip')")
{
	my ($ret, $out, $err) = $node->psql('postgres', $sql);
	isnt($ret, 0, "refused: $sql");
	like($err, qr/REINDEX|version/, "says why: $sql");
}
is($node->safe_psql('postgres', 'SELECT count(*) FROM docs'), '500', 'no row was added');

$node->safe_psql('postgres', 'REINDEX INDEX docs_ip');
$node->safe_psql('postgres', "INSERT INTO docs VALUES (0, '{2:1}/20')");
is($node->safe_psql('postgres', "SELECT inverted_check('docs_ip')"), '501', 'works again after REINDEX');

$node->stop;
done_testing();
