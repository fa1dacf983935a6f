# CREATE INDEX within maintenance_work_mem, and in parallel (issue 13): with
# maintenance_work_mem at its smallest (1MB) a build spills many sorted runs
# and merges them into one segment (the very segment, byte for byte, that a
# build in memory writes); with max_parallel_maintenance_workers
# = 2 the workers and the leader each spool their share of the heap (1MB
# each here) and the leader merges everyone's runs.  Each build (serial and
# parallel, bounded and not, CONCURRENTLY, REINDEX and REINDEX
# CONCURRENTLY; both operator classes) passes inverted_check and returns
# exactly the sequential scan's ids and distances for 15 queries, LIMIT 10,
# 100 and every row (NULL and zero vectors included).  A table whose index
# expression sleeps keeps the build busy long enough to see workers spool
# rows, pg_stat_progress_create_index count everyone's tuples, and a
# cancel during a parallel build fail it cleanly, leaving no temporary
# files.  The full-size comparison (1M rows, 64MB, 0 and 2 workers) is
# test/bench/inverted_build.sh.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $n = 20000;
my $node = PostgreSQL::Test::Cluster->new('inverted_build');
$node->init;
$node->append_conf('postgresql.conf', qq{
autovacuum = off
max_worker_processes = 8
max_parallel_workers = 8
});
$node->start;
$node->safe_psql('postgres', q{
CREATE EXTENSION sparseclip;
} . slurp_file('t/inverted_helpers.sql') . qq{
CREATE TABLE docs (id int PRIMARY KEY, emb svec);
INSERT INTO docs SELECT i, CASE WHEN i % 997 = 0 THEN NULL
								WHEN i % 991 = 0 THEN '{}/1000'::svec
								ELSE inv_rand(1000, 10 + i % 40) END
	FROM generate_series(1, $n) i;
-- every build below may use two workers, whatever the table's size
ALTER TABLE docs SET (parallel_workers = 2);
VACUUM ANALYZE docs;
CREATE TABLE queries (qid int, q svec);
INSERT INTO queries SELECT i, inv_rand(1000, 4 + i % 30) FROM generate_series(1, 15) i;

-- ids and distances of ORDER BY emb <op> q LIMIT lim, through an index
-- (idx: and the plan must be an index scan) or a sequential scan; rows of
-- equal distance listed by id
CREATE FUNCTION answer(op text, q svec, lim int, idx bool) RETURNS text LANGUAGE plpgsql AS \$\$
DECLARE
	sql text := format('SELECT string_agg(id || '':'' || coalesce(d::text, ''null''), '' '' ORDER BY d, id)
						FROM (SELECT id, emb %s \$1 AS d FROM docs ORDER BY emb %s \$1 LIMIT %s) s', op, op, lim);
	line text;
	indexed bool := false;
	a text;
BEGIN
	PERFORM set_config('enable_seqscan', (NOT idx)::text, true);
	PERFORM set_config('enable_indexscan', idx::text, true);
	PERFORM set_config('max_parallel_workers_per_gather', '0', true);
	FOR line IN EXECUTE 'EXPLAIN (COSTS OFF) ' || sql USING q LOOP
		indexed := indexed OR line LIKE '%Index Scan using%';
	END LOOP;
	IF indexed <> idx THEN
		RAISE EXCEPTION 'not the plan asked for: %', sql;
	END IF;
	EXECUTE sql INTO a USING q;
	RETURN a;
END \$\$;
CREATE TABLE expected AS
	SELECT qid, op, lim, answer(op, q, lim, false) AS a
	FROM queries, unnest(ARRAY['<#>', '<=>']) op, unnest(ARRAY[10, 100, $n]) lim;
});

my $same = q{
SELECT count(*) FILTER (WHERE e.a = answer(e.op, q.q, e.lim, true)) || ' of ' || count(*)
FROM expected e JOIN queries q USING (qid);
};

# Run the statements with client_min_messages = debug1 and return stderr.
sub build
{
	my ($settings, @stmts) = @_;
	my ($out, $err) = ('', '');
	my $ret = $node->psql('postgres', join("\n", 'SET client_min_messages = debug1;', $settings, @stmts),
						  stdout => \$out, stderr => \$err, on_error_stop => 1);
	is($ret, 0, "builds ran: $settings") or diag($err);
	return $err;
}

sub check
{
	my ($what) = @_;
	is($node->safe_psql('postgres', "SELECT inverted_check('docs_ip') || ' ' || inverted_check('docs_cos')"),
	   "$n $n", "$what: inverted_check");
	is($node->safe_psql('postgres', $same), '90 of 90', "$what: ids and distances equal the sequential scan's");
}

my $create = 'CREATE INDEX docs_ip ON docs USING inverted (emb svec_ip_ops);
			  CREATE INDEX docs_cos ON docs USING inverted (emb svec_cosine_ops);';
my $drop = 'DROP INDEX docs_ip, docs_cos;';
my $log;

# serial, everything in memory: one run-free build
$log = build('SET max_parallel_maintenance_workers = 0; SET maintenance_work_mem = \'1GB\';', $create);
unlike($log, qr/sorted runs|parallel workers/, 'serial, unbounded: no runs, no workers');
check('serial, unbounded');
$node->safe_psql('postgres', $drop);

# serial, 1MB: many runs
$log = build('SET max_parallel_maintenance_workers = 0; SET maintenance_work_mem = \'1MB\';', $create);
my @runs = $log =~ /inverted build: $n documents in (\d+) sorted runs, at most (\d+) kB in memory/g;
is(scalar(@runs), 4, 'serial, 1MB: both builds spilled runs');
cmp_ok($runs[0], '>=', 5, "serial, 1MB: $runs[0] runs");
cmp_ok($runs[1], '<=', 1024, "serial, 1MB: at most $runs[1] kB accounted");
check('serial, 1MB');
# in insertion order (reorder = off; with it on each run is ordered on its
# own), the same segment, byte for byte, as a build in memory (page headers aside)
$node->safe_psql('postgres', $drop);
$node->safe_psql('postgres', q{
SET max_parallel_maintenance_workers = 0;
SET maintenance_work_mem = '1MB';
CREATE INDEX docs_ip ON docs USING inverted (emb svec_ip_ops) WITH (reorder = off);
CREATE INDEX docs_cos ON docs USING inverted (emb svec_cosine_ops) WITH (reorder = off);
SET maintenance_work_mem = '1GB';
CREATE INDEX ref_ip ON docs USING inverted (emb svec_ip_ops) WITH (reorder = off);
CREATE INDEX ref_cos ON docs USING inverted (emb svec_cosine_ops) WITH (reorder = off);
CREATE EXTENSION pageinspect;
});
check('serial, 1MB, insertion order');
for my $pair ([ 'docs_ip', 'ref_ip' ], [ 'docs_cos', 'ref_cos' ])
{
	my ($a, $b) = @$pair;
	like($node->safe_psql('postgres', qq{
		SELECT count(*) FILTER (WHERE substr(get_raw_page('$a', b::int), 25) = substr(get_raw_page('$b', b::int), 25))
			   || ' of ' || count(*) || ' ' || (pg_relation_size('$a') = pg_relation_size('$b'))
		FROM generate_series(0, pg_relation_size('$b') / 8192 - 1) b}),
		 qr/^(\d+) of \1 true$/, "serial, 1MB: $a has the pages of a build in memory");
}
$node->safe_psql('postgres', 'DROP INDEX ref_ip, ref_cos; DROP EXTENSION pageinspect;');
$node->safe_psql('postgres', $drop);

# parallel, 3MB (1MB each)
$log = build('SET max_parallel_maintenance_workers = 2; SET maintenance_work_mem = \'3MB\';', $create);
my @par = $log =~ /inverted build: 2 parallel workers, 1024 kB of maintenance_work_mem each/g;
is(scalar(@par), 2, 'parallel, 3MB: two workers for each build');
my @merged = $log =~ /merging (\d+) sorted runs of 3 participants/g;
is(scalar(@merged), 2, 'parallel, 3MB: the leader merged three participants\' runs');
cmp_ok($merged[0], '>=', 5, "parallel, 3MB: $merged[0] runs");
unlike($log, qr/at most (1[1-9]\d\d|[2-9]\d\d\d|\d{5,}) kB/, 'parallel, 3MB: no participant accounted more than 1MB');
check('parallel, 3MB');
$node->safe_psql('postgres', $drop);

# parallel, everything fits
$log = build('SET max_parallel_maintenance_workers = 2; SET maintenance_work_mem = \'1GB\';', $create);
like($log, qr/inverted build: 2 parallel workers/, 'parallel, unbounded: workers');
check('parallel, unbounded');
$node->safe_psql('postgres', $drop);

# CONCURRENTLY, REINDEX, REINDEX CONCURRENTLY: parallel and bounded
my $small = 'SET max_parallel_maintenance_workers = 2; SET maintenance_work_mem = \'3MB\';';
$log = build($small, 'CREATE INDEX CONCURRENTLY docs_ip ON docs USING inverted (emb svec_ip_ops);',
			 'CREATE INDEX CONCURRENTLY docs_cos ON docs USING inverted (emb svec_cosine_ops);');
is(scalar(() = $log =~ /merging \d+ sorted runs of 3 participants/g), 2, 'CONCURRENTLY: parallel');
check('CREATE INDEX CONCURRENTLY, parallel, 3MB');
$node->safe_psql('postgres', "DELETE FROM docs WHERE id % 10 = 3; UPDATE docs SET emb = inv_rand(1000, 20) WHERE id % 10 = 4;
	INSERT INTO docs SELECT $n + i, inv_rand(1000, 25) FROM generate_series(1, 2000) i;");
$n = $node->safe_psql('postgres', 'SELECT count(*) FROM docs');
$node->safe_psql('postgres', "TRUNCATE expected; INSERT INTO expected
	SELECT qid, op, lim, answer(op, q, lim, false) FROM queries, unnest(ARRAY['<#>', '<=>']) op, unnest(ARRAY[10, 100, $n]) lim;");
$log = build($small, 'REINDEX TABLE docs;');
is(scalar(() = $log =~ /merging \d+ sorted runs of 3 participants/g), 2, 'REINDEX: parallel');
check('REINDEX after writes, parallel, 3MB');
$log = build($small, 'REINDEX INDEX CONCURRENTLY docs_ip;', 'REINDEX INDEX CONCURRENTLY docs_cos;');
is(scalar(() = $log =~ /merging \d+ sorted runs of 3 participants/g), 2, 'REINDEX CONCURRENTLY: parallel');
check('REINDEX CONCURRENTLY, parallel, 3MB');

# A slow index expression: every participant gets blocks to spool.
$node->safe_psql('postgres', q{
CREATE FUNCTION slow(v svec) RETURNS svec LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE AS $$
BEGIN
	PERFORM pg_sleep(0.002);
	RETURN v;
END $$;
CREATE TABLE slowdocs (id int, emb svec) WITH (parallel_workers = 2);
INSERT INTO slowdocs SELECT id, emb FROM docs ORDER BY id LIMIT 1500;
});
$log = build('SET max_parallel_maintenance_workers = 2; SET maintenance_work_mem = \'3MB\';',
			 'CREATE INDEX slow_ip ON slowdocs USING inverted (slow(emb) svec_ip_ops);');
my %spooled = $log =~ /participant (\d+) \((?:leader|worker)\) spooled (\d+) documents/g;
is(scalar(keys %spooled), 3, 'slow expression: three participants');
is(scalar(grep { $_ > 0 } values %spooled), 3, 'and each spooled documents (' . join(', ', map { $spooled{$_} } sort keys %spooled) . ')');
my $sum = 0;
$sum += $_ for values %spooled;
is($sum, 1500, 'which add up to the table');
is($node->safe_psql('postgres', "SELECT inverted_check('slow_ip')"), '1500', 'slow expression: inverted_check');
is($node->safe_psql('postgres', q{
	SET enable_seqscan = off;
	SELECT count(*) FROM queries q, LATERAL (SELECT array_agg(id ORDER BY d, id) a FROM
		(SELECT id, slow(emb) <#> q.q d FROM slowdocs ORDER BY slow(emb) <#> q.q LIMIT 20) s) i,
		LATERAL (SELECT array_agg(id ORDER BY d, id) a FROM
		(SELECT id, emb <#> q.q d FROM slowdocs ORDER BY emb <#> q.q LIMIT 20) s) t
	WHERE i.a = t.a}), '15', 'slow expression: the index answers like the table');
$node->safe_psql('postgres', 'DROP INDEX slow_ip');

# Progress and cancel: a parallel build in which the leader takes a second
# a row (so it stays on its first block) while the workers take 1 ms: the
# progress view must count the workers' tuples (the leader alone would
# need over an hour to reach them); then a cancel fails the build cleanly.
$node->safe_psql('postgres', q{
INSERT INTO slowdocs SELECT id + 100000, emb FROM slowdocs;
INSERT INTO slowdocs SELECT id + 200000, emb FROM slowdocs;
CREATE FUNCTION slow_leader(v svec) RETURNS svec LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE AS $$
BEGIN
	IF pg_backend_pid() = current_setting('test.leader')::int THEN
		PERFORM pg_sleep(1);
	ELSE
		PERFORM pg_sleep(0.001);
	END IF;
	RETURN v;
END $$;
});
my $bg = $node->background_psql('postgres', on_error_stop => 0);
my $pid = $bg->query_safe('SELECT pg_backend_pid()');
$bg->query_safe("SET test.leader = '$pid'; SET max_parallel_maintenance_workers = 2; SET maintenance_work_mem = '3MB';");
$bg->query_until(qr/started/, "\\echo started\nCREATE INDEX slow_cancel ON slowdocs USING inverted (slow_leader(emb) svec_ip_ops);\n");
ok($node->poll_query_until('postgres', qq{
	SELECT phase = 'building index: loading tuples' AND tuples_done >= 4000
	FROM pg_stat_progress_create_index WHERE pid = $pid}),
   'progress: loading tuples, the workers\' counted');
is($node->safe_psql('postgres', "SELECT count(*) FROM pg_stat_activity WHERE leader_pid = $pid"), '2',
   'two workers');
ok($node->safe_psql('postgres', "SELECT pg_cancel_backend($pid)"), 'cancel the build');
my $res = $bg->query("SELECT 'after'");
like($res, qr/after/, 'the session goes on');
like($bg->{stderr}, qr/canceling statement due to user request/, 'the build was cancelled');
$bg->quit;
is($node->safe_psql('postgres', "SELECT count(*) FROM pg_class WHERE relname = 'slow_cancel'"), '0', 'no index left');
$node->poll_query_until('postgres', "SELECT count(*) = 0 FROM pg_stat_activity WHERE backend_type = 'parallel worker'");
is($node->safe_psql('postgres', "SELECT count(*) FROM pg_ls_tmpdir()"), '0', 'no temporary files left');
ok(!$node->log_contains('terminated by signal'), 'no process crashed');
is($node->safe_psql('postgres', 'SELECT inverted_check(\'docs_ip\')'), $n, 'the server goes on');

done_testing();
