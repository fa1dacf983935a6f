# Streaming replication of the inverted index: every page change is
# GenericXLog WAL, so a hot standby answers exactly like its primary after
# builds, inserts (pending list and merges), deletes, VACUUM and REINDEX.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $primary = PostgreSQL::Test::Cluster->new('inverted_primary');
$primary->init(allows_streaming => 1);
$primary->append_conf('postgresql.conf', "sparseclip.inverted_pending_limit = 200\n");
$primary->start;
$primary->safe_psql('postgres', q{
CREATE EXTENSION sparseclip;
} . slurp_file('t/inverted_helpers.sql') . q{
CREATE TABLE docs (id int PRIMARY KEY, cat int, emb svec);
INSERT INTO docs SELECT i, i % 7, inv_rand(400, 1 + i % 30) FROM generate_series(1, 3000) i;
CREATE INDEX docs_ip ON docs USING inverted (emb svec_ip_ops);
CREATE TABLE queries (qid int, q svec);
INSERT INTO queries SELECT i, inv_rand(400, 12) FROM generate_series(1, 10) i;
});

$primary->backup('b1');
my $standby = PostgreSQL::Test::Cluster->new('inverted_standby');
$standby->init_from_backup($primary, 'b1', has_streaming => 1);
$standby->start;

# writes after the standby is up: all of it reaches it as WAL
$primary->safe_psql('postgres', q{
CREATE INDEX docs_cos ON docs USING inverted (emb svec_cosine_ops);
INSERT INTO docs SELECT i, i % 7, inv_rand(400, 1 + i % 30) FROM generate_series(3001, 4000) i;
DELETE FROM docs WHERE id % 9 = 0;
UPDATE docs SET emb = inv_rand(400, 20) WHERE id % 13 = 0;
VACUUM docs;
INSERT INTO docs SELECT i, i % 7, inv_rand(400, 1 + i % 30) FROM generate_series(4001, 4300) i;
INSERT INTO docs VALUES (5000, 1, NULL), (5001, 1, '{}/400');
});
$primary->wait_for_catchup($standby);

# every query's ids and distances through each index, as one text
my $answers = q{
SET enable_seqscan = off;
SELECT string_agg(r, E'\n' ORDER BY qid, op)
FROM (SELECT qid, op, (SELECT string_agg(id || ':' || d, ',') FROM (
		SELECT id, CASE op WHEN '<#>' THEN emb <#> q ELSE emb <=> q END AS d FROM docs
		ORDER BY CASE op WHEN '<#>' THEN emb <#> q ELSE emb <=> q END, id LIMIT 20) s) AS r
	  FROM queries, unnest(ARRAY['<#>', '<=>']) op) t;
};
my $ip_plan = q{
SET enable_seqscan = off;
EXPLAIN (COSTS OFF) SELECT id FROM docs ORDER BY emb <#> '{1:1}/400' LIMIT 10;
};
like($standby->safe_psql('postgres', $ip_plan), qr/Index Scan using docs_ip/, 'the standby scans the index');

my $rows = $primary->safe_psql('postgres', 'SELECT count(*) FROM docs');
is($standby->safe_psql('postgres', "SELECT inverted_check('docs_ip')"), $rows, 'standby ip index passes inverted_check');
is($standby->safe_psql('postgres', "SELECT inverted_check('docs_cos')"), $rows, 'standby cosine index passes inverted_check');

# per query: the index's top 20 on the standby equals the primary's
my $topk = q{
SET enable_seqscan = off;
SELECT string_agg(x, E'\n' ORDER BY qid)
FROM (SELECT qid, (SELECT array_agg(d)::text FROM (SELECT emb <#> q AS d FROM docs ORDER BY emb <#> q LIMIT 20) s)
		|| (SELECT array_agg(d)::text FROM (SELECT emb <=> q AS d FROM docs ORDER BY emb <=> q LIMIT 20) s) AS x
	  FROM queries) t;
};
my $p = $primary->safe_psql('postgres', $topk);
my $s = $standby->safe_psql('postgres', $topk);
is($s, $p, 'standby and primary return the same distances');
my $seq = $standby->safe_psql('postgres', "SET enable_indexscan = off;\n" . $topk =~ s/SET enable_seqscan = off;//r);
is($s, $seq, 'standby index scans equal its sequential scans');

# REINDEX replays too
$primary->safe_psql('postgres', 'REINDEX INDEX docs_ip');
$primary->wait_for_catchup($standby);
is($standby->safe_psql('postgres', $topk), $p, 'same answers after REINDEX on the primary');
is($standby->safe_psql('postgres', "SELECT inverted_check('docs_ip')"), $rows, 'inverted_check after REINDEX');

$standby->stop;
$primary->stop;
done_testing();
