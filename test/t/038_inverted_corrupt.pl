# Corrupt metapages that the fuzzer (test/fuzz/fuzz_inverted.c) found must
# end in an ERROR, never a crash, a read past the metapage's arrays, a new
# page added to the index, or a scan that never ends.  The test rewrites
# metapage fields on disk while the server is stopped:
#  - nsegments past INV_MAX_SEGMENTS (a scan read segment references past
#    the array);
#  - a segment starting at InvalidBlockNumber (a scan locked an invalid
#    buffer; ReadBuffer would have extended the index);
#  - a pending page whose next link points to itself, with a huge record
#    count (a scan read the same page for ever).
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use lib 't';
use PageBytes;

my $node = PostgreSQL::Test::Cluster->new('inverted_corrupt');
$node->init;
$node->start;
$node->safe_psql('postgres', q{
CREATE EXTENSION sparseclip;
CREATE TABLE a (id int, emb svec);
CREATE TABLE b (id int, emb svec);
CREATE TABLE c (id int, emb svec);
INSERT INTO a SELECT i, svec(ARRAY[1 + i % 5, 10 + i % 7], ARRAY[1, 0.5]::real[], 20) FROM generate_series(1, 500) i;
INSERT INTO b SELECT * FROM a;
CREATE INDEX a_idx ON a USING inverted (emb svec_ip_ops);
CREATE INDEX b_idx ON b USING inverted (emb svec_ip_ops);
CREATE INDEX c_idx ON c USING inverted (emb svec_ip_ops);
-- 204 records of 40 bytes (two terms) fill the first pending page exactly
INSERT INTO c SELECT * FROM a WHERE id <= 204;
});
my %path;
$path{$_} = $node->data_dir . '/' . $node->safe_psql('postgres', "SELECT pg_relation_filepath('${_}_idx')")
  for qw(a b c);
my $csize = -s $path{b};
$node->stop;

# metapage: page header (24 bytes), then InvMetaPageData: pend_head at 16,
# pend_count at 28, nsegments at 40, segs[0].start at 48
PageBytes::poke($path{a}, 24 + 40, 201);
PageBytes::poke($path{b}, 24 + 48, 0xFFFFFFFF);
my $head = PageBytes::peek($path{c}, 24 + 16);
ok($head > 0 && $head < 0xFFFFFFFF, 'c has a pending list');
# the pending page's special area (its next link) is the page's last 8 bytes
PageBytes::poke($path{c}, $head * 8192 + 8184, $head);
PageBytes::poke($path{c}, 24 + 28, 0x7FFFFFFF);
$node->start;

for my $sql ('SET enable_seqscan = off; SELECT id FROM a ORDER BY emb <#> \'{1:1}/20\' LIMIT 3',
			 'INSERT INTO a VALUES (0, \'{2:1}/20\')',
			 'VACUUM a',
			 "SELECT inverted_check('a_idx')")
{
	my ($ret, $out, $err) = $node->psql('postgres', $sql);
	isnt($ret, 0, "too many segments refused: $sql");
	like($err, qr/bad metapage/, "says why: $sql");
}

my ($ret, $out, $err) = $node->psql('postgres',
	'SET enable_seqscan = off; SELECT id FROM b ORDER BY emb <#> \'{1:1}/20\' LIMIT 3');
isnt($ret, 0, 'segment at an invalid block refused');
like($err, qr/invalid block/, 'says why');
is(-s $path{b}, $csize, 'no page was added to the index');

($ret, $out, $err) = $node->psql('postgres',
	'SET statement_timeout = \'60s\'; SET enable_seqscan = off; SELECT id FROM c ORDER BY emb <#> \'{1:1}/20\' LIMIT 3');
isnt($ret, 0, 'looping pending list refused');
like($err, qr/pending list loops/, 'says why, without running into the timeout');

is($node->safe_psql('postgres', 'SELECT 1'), '1', 'the server is still up');
$node->stop;
done_testing();
