# Inserts and searches while the index merges and compacts (issue 13): four
# pgbench clients insert (batches that fill the pending list, so inserts
# fold it into segments themselves), delete and search, while VACUUM
# compacts a segment left more than half dead and folds the pending list.
# Every search runs its index scan and a sequential scan in one REPEATABLE
# READ snapshot and raises an error unless both return the same distances
# (so a wrong answer during a merge fails the client, and pgbench), on a
# mixed-sign column (<#> and <=>: every posting walked) and a non-negative
# one whose rows come in topics (pruned walks, incomplete ranges completed
# later).  The server log shows that merges and a compaction ran during the
# run; afterwards every index passes inverted_check and, for many queries,
# equals the sequential scan.  Insert latencies during the run are reported
# (not asserted: timing).  Then a merge is held mid-way at a gate
# (sparseclip.inverted_merge_gate): inserts and exact searches from other
# sessions complete while it waits, by an insert and by VACUUM; a crash
# while it waits leaves a sound index.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use IPC::Run;

my $node = PostgreSQL::Test::Cluster->new('inverted_merge_concurrent');
$node->init;
# %a: which session wrote a log line (PGAPPNAME below)
$node->append_conf('postgresql.conf', qq{
sparseclip.inverted_pending_limit = 200
autovacuum = off
log_line_prefix = '%a: '
});
$node->start;
$node->safe_psql('postgres', q{
CREATE EXTENSION sparseclip;
} . slurp_file('t/inverted_helpers.sql') . q{
-- non-negative, in topics t of 40 dimensions
CREATE FUNCTION topic_vec(t int, a int, b int, c int, w real) RETURNS svec LANGUAGE sql IMMUTABLE AS $$
	SELECT svec(ARRAY[t % 10 * 40 + 1 + a % 7, t % 10 * 40 + 8 + b % 13, 401 + c % 50, 451 + (a + c) % 49],
				ARRAY[w, (b % 997 + 1) / 997.0, (c % 101 + 1) / 101.0, (a % 89 + 1) / 89.0]::real[], 500) $$;

-- Raises an error unless ORDER BY <col> <op> q LIMIT lim is an index scan
-- and returns the sequential scan's distances (in one snapshot under
-- REPEATABLE READ, whatever commits meanwhile).
CREATE FUNCTION check_same(col text, op text, q svec, lim int) RETURNS int LANGUAGE plpgsql AS $$
DECLARE
	sql text := format('SELECT array_agg(d) FROM (SELECT %I %s $1 AS d FROM docs ORDER BY %I %s $1 LIMIT %s) s',
					   col, op, col, op, lim);
	line text;
	indexed bool := false;
	a float8[];
	b float8[];
BEGIN
	PERFORM set_config('enable_seqscan', 'off', true);
	FOR line IN EXECUTE 'EXPLAIN (COSTS OFF) ' || sql USING q LOOP
		indexed := indexed OR line LIKE '%Index Scan using%';
	END LOOP;
	IF NOT indexed THEN
		RAISE EXCEPTION 'not an index scan: %', sql;
	END IF;
	EXECUTE sql INTO a USING q;
	PERFORM set_config('enable_seqscan', 'on', true);
	PERFORM set_config('enable_indexscan', 'off', true);
	EXECUTE sql INTO b USING q;
	PERFORM set_config('enable_indexscan', 'on', true);
	IF a IS DISTINCT FROM b THEN
		RAISE EXCEPTION 'index scan differs from the sequential scan: % % LIMIT %: % rows, % rows',
			col, op, lim, cardinality(a), cardinality(b);
	END IF;
	RETURN cardinality(a);
END $$;

CREATE TABLE docs (id bigserial PRIMARY KEY, emb svec, pemb svec);
INSERT INTO docs (emb, pemb)
	SELECT inv_rand(500, 1 + i % 30), topic_vec(i / 1024, i * 7, i * 13, i * 31, (i * 7919 % 1000 + 1) / 1000.0)
	FROM generate_series(1, 20480) i;
CREATE INDEX docs_ip ON docs USING inverted (emb svec_ip_ops);
CREATE INDEX docs_cos ON docs USING inverted (emb svec_cosine_ops);
CREATE INDEX docs_pos ON docs USING inverted (pemb svec_ip_ops);
-- 60 % of the built segments dead: the first VACUUM compacts them
DELETE FROM docs WHERE id % 5 < 3;
});

my $dir = $node->basedir;
open(my $fh, '>', "$dir/write.sql") or die;
print $fh q{\set t random(0, 9)
\set a random(1, 100000)
\set d random(1, 40000)
INSERT INTO docs (emb, pemb) SELECT inv_rand(500, 1 + g % 30), topic_vec(:t, :a + g, :a * 3 + g, :a * 7 + g, (g % 10 + 1) / 10.0) FROM generate_series(1, 20) g;
INSERT INTO docs (emb, pemb) VALUES (inv_rand(500, 8), NULL);
DELETE FROM docs WHERE id = :d;
DELETE FROM docs WHERE id = :d + 7;
};
close $fh;
open($fh, '>', "$dir/check.sql") or die;
print $fh q{\set t random(0, 9)
\set a random(1, 100000)
\set k random(1, 3)
BEGIN ISOLATION LEVEL REPEATABLE READ;
SELECT check_same('emb', '<#>', inv_rand(500, 12), (ARRAY[10, 100, 100000])[:k]);
SELECT check_same('emb', '<=>', inv_rand(500, 12), (ARRAY[10, 100, 100000])[:k]);
SELECT check_same('pemb', '<#>', topic_vec(:t, :a, :a * 3, :a * 7, 1), (ARRAY[10, 200, 100000])[:k]);
COMMIT;
};
close $fh;

my $logstart = -s $node->logfile;

# VACUUM (compaction, folding the pending list) during the run; DEBUG1
# makes the index log each segment it writes and each compaction
my ($vout, $verr) = ('', '');
my @vacuum = ('psql', '-X', '-v', 'ON_ERROR_STOP=1', '-h', $node->host, '-p', $node->port,
	'-c', 'SET log_min_messages = debug1', '-c', 'SELECT pg_sleep(1)');
push @vacuum, ('-c', 'VACUUM docs', '-c', 'SELECT pg_sleep(1)') for 1 .. 4;
my $appname = $ENV{PGAPPNAME};
$ENV{PGAPPNAME} = 'vacuum_loop';
my $vacuum = IPC::Run::start([ @vacuum, 'postgres' ], '>', \$vout, '2>', \$verr);

$ENV{PGAPPNAME} = 'churn';
$ENV{PGOPTIONS} = '-c log_min_messages=debug1';
my ($bout, $berr) = ('', '');
my $ok = IPC::Run::run(
	[ 'pgbench', '-n', '-c', '4', '-j', '2', '-T', '10', '-l', "--log-prefix=$dir/pgb",
	  '-f', "$dir/write.sql\@3", '-f', "$dir/check.sql\@2", '-h', $node->host, '-p', $node->port, 'postgres' ],
	'>', \$bout, '2>', \$berr);
delete $ENV{PGOPTIONS};
$ENV{PGAPPNAME} = $appname;
ok($ok, 'pgbench: inserts, deletes and exact searches during merges, without an error')
  or diag("$bout\n$berr");
ok($vacuum->finish, 'the concurrent VACUUMs succeeded') or diag($verr);
diag(join("\n", grep { /processed|failed|latency average/ } split /\n/, $bout));
my %done;
$done{ $1 } = $2 while $bout =~ /SQL script (\d+): \S+\n.*?- (\d+) transactions/sg;
cmp_ok($done{2} // 0, '>', 0, 'searches ran (' . ($done{2} // 0) . ' transactions of 3 checks)');

# the server log written since byte offset START
sub log_since
{
	my ($start) = @_;
	open(my $lf, '<', $node->logfile) or die;
	seek($lf, $start, 0);
	my $text = do { local $/; <$lf> };
	close $lf;
	return $text;
}

# every index of docs passes inverted_check, counting every row of docs
sub check_all
{
	my ($when) = @_;
	my $rows = $node->safe_psql('postgres', 'SELECT count(*) FROM docs');
	is($node->safe_psql('postgres', "SELECT inverted_check('$_')"), $rows, "$_ passes inverted_check $when")
	  for qw(docs_ip docs_cos docs_pos);
	return $rows;
}

# what the index did meanwhile, from the log
my $log = log_since($logstart);
my $by_insert = () = $log =~ /^churn: .*inverted: segment of/mg;
my $by_vacuum = () = $log =~ /^vacuum_loop: .*inverted: segment of/mg;
my $compactions = () = $log =~ /inverted: compacting a segment/g;
my $pruned = () = $log =~ /inverted scan: [1-9]\d* of \d+ ranges left incomplete/g;
diag("during the run: $by_insert segments written by inserts, $by_vacuum by VACUUM, "
	 . "$compactions compactions, $pruned pruned scans");
cmp_ok($by_insert + $by_vacuum, '>=', 3, 'merges wrote segments during the run');
cmp_ok($compactions, '>=', 1, 'VACUUM compacted a segment during the run');
cmp_ok($pruned, '>', 0, 'searches pruned ranges during the run');
unlike($log, qr/ERROR|PANIC|terminated by signal/, 'no error in the server log');

# insert latency while merges ran (pgbench -l: script 0 is write.sql)
my @lat;
for my $f (glob("$dir/pgb*"))
{
	open(my $pf, '<', $f) or die;
	while (<$pf>)
	{
		my @c = split;
		push @lat, $c[2] / 1000.0 if @c >= 6 && $c[3] == 0;
	}
	close $pf;
}
@lat = sort { $a <=> $b } @lat;
if (@lat)
{
	my $p = sub { $lat[ int($_[0] * $#lat) ] };
	diag(sprintf('write transactions (20-row insert, 1-row insert, 2 deletes): %d, latency ms p50 %.1f, p99 %.1f, max %.1f',
				 scalar(@lat), $p->(0.5), $p->(0.99), $lat[-1]));
}

# the check can fail: an approximate scan (one query term) differs
my ($rc, $cout, $cerr) = $node->psql('postgres', q{
SET sparseclip.inverted_query_terms = 1;
SELECT check_same('emb', '<#>', inv_rand(500, 12), 100) FROM generate_series(1, 5);
});
like($cerr, qr/differs from the sequential scan/, 'check_same catches a scan that is not exact');

# after the churn: structure, and exact answers for many queries
$node->safe_psql('postgres', 'VACUUM docs');
my $rows = check_all('after the run');
ok($rows > 8192, "rows remain ($rows)");
is($node->safe_psql('postgres', q{
SELECT count(*) FILTER (WHERE inv_same(op, q, lim)) || ' of ' || count(*)
FROM (SELECT inv_rand(500, 12) AS q FROM generate_series(1, 10)) qs,
	 unnest(ARRAY['<#>', '<=>']) op, unnest(ARRAY[10, 100, 100000]) lim
}), '60 of 60', 'mixed-sign index scans equal sequential scans afterwards');
is($node->safe_psql('postgres', q{
SELECT count(*) || ' of ' || count(*)
FROM (SELECT check_same('pemb', '<#>', topic_vec(i, i * 17, i * 29, i * 43, 1), lim)
	  FROM generate_series(1, 10) i, unnest(ARRAY[10, 200, 100000]) lim) c
}), '30 of 30', 'pruned index scans equal sequential scans afterwards');

# ---- a merge held mid-way: inserts and scans finish while it is in progress
#
# sparseclip.inverted_merge_gate makes a merge wait, with its new segment
# written and before its switch, while another session holds that advisory
# lock.  A merge waiting there shows in pg_stat_activity; inserts and
# exact searches from other sessions must complete while it still waits
# (no timing: the merge waits until the gate opens).
my $gate = 4242;
my ($hin, $hout, $herr) = ('', '', '');
my $holder = IPC::Run::start(
	[ 'psql', '-X', '-A', '-t', '-v', 'ON_ERROR_STOP=1', '-h', $node->host, '-p', $node->port, 'postgres' ],
	'<', \$hin, '>', \$hout, '2>', \$herr);
sub gate_close
{
	$hout = '';
	$hin .= "SELECT 'closed', pg_advisory_lock($gate);\n";
	$holder->pump until $hout =~ /closed/;
}
sub gate_open
{
	$hout = '';
	$hin .= "SELECT 'open', pg_advisory_unlock($gate);\n";
	$holder->pump until $hout =~ /open\|t/;
}
# the backends waiting at the gate
my $at_gate = q{SELECT count(*) FROM pg_stat_activity
WHERE application_name = 'merger' AND wait_event_type = 'Lock' AND wait_event = 'advisory'};
sub at_gate { return $node->safe_psql('postgres', $at_gate); }

# close the gate, run SQL (which merges) in a session of its own, and wait
# until its merge waits at the gate; returns its handle and stderr
sub merge_at_gate
{
	my ($what, $sql, $opts) = @_;
	my ($out, $err) = ('', '');
	gate_close();
	local $ENV{PGAPPNAME} = 'merger';
	local $ENV{PGOPTIONS} = "-c sparseclip.inverted_merge_gate=$gate -c sparseclip.inverted_pending_limit=50 "
	  . ($opts // '');
	my $h = IPC::Run::start([ 'psql', '-X', '-v', 'ON_ERROR_STOP=1', '-h', $node->host, '-p', $node->port,
							  '-c', $sql, 'postgres' ], '>', \$out, '2>', \$err);
	ok($node->poll_query_until('postgres', "SELECT ($at_gate) > 0"), "$what waits at the gate");
	return ($h, \$err);
}

# after DURING ran, the merge still waits; then it finishes once the gate opens
sub release_merge
{
	my ($what, $h, $err) = @_;
	is(at_gate(), '1', "$what was still in progress after the inserts and scans");
	gate_open();
	ok($h->finish, "$what finished once the gate opened") or diag($$err);
}
my $insert_rows = q{INSERT INTO docs (emb, pemb) SELECT inv_rand(500, 1 + g % 30), topic_vec(g % 10, g, g * 3, g * 7, 0.5) FROM generate_series(1, %d) g};

# (1) an insert that fills the pending list folds it, and waits at the gate
my ($merger, $merr) = merge_at_gate('an insert folding the pending list', sprintf($insert_rows, 60));
my $before = $node->safe_psql('postgres', 'SELECT count(*) FROM docs');
# these inserts pass the pending limit too: they find the merge running and go on
$node->safe_psql('postgres', 'SET sparseclip.inverted_pending_limit = 50; ' . sprintf($insert_rows, 120));
is($node->safe_psql('postgres', 'SELECT count(*) FROM docs'), $before + 120, '120 rows inserted during the merge');
is($node->safe_psql('postgres', q{
SELECT sum(check_same('emb', op, inv_rand(500, 12), lim))
FROM unnest(ARRAY['<#>', '<=>']) op, unnest(ARRAY[10, 100000]) lim
}) > 0 ? 'ok' : 'none', 'ok', 'exact index scans during the merge');
release_merge('the merge', $merger, $merr);
check_all('after the merge (the rows inserted meanwhile included)');
is($node->safe_psql('postgres', q{
SELECT count(*) FILTER (WHERE inv_same(op, q, lim)) || ' of ' || count(*)
FROM (SELECT inv_rand(500, 12) AS q FROM generate_series(1, 5)) qs,
	 unnest(ARRAY['<#>', '<=>']) op, unnest(ARRAY[10, 100000]) lim
}), '20 of 20', 'index scans equal sequential scans after the merge');

# (2) VACUUM held at the gate (folding the pending list, then compacting):
# its merges do not block inserts and scans either
$node->safe_psql('postgres', 'DELETE FROM docs WHERE id % 3 = 0');
($merger, $merr) = merge_at_gate('VACUUM', 'VACUUM docs');
$before = $node->safe_psql('postgres', 'SELECT count(*) FROM docs');
$node->safe_psql('postgres', sprintf($insert_rows, 40));
is($node->safe_psql('postgres', 'SELECT count(*) FROM docs'), $before + 40, 'rows inserted during VACUUM\'s merge');
is($node->safe_psql('postgres', q{
SELECT count(*) FILTER (WHERE inv_same('<#>', inv_rand(500, 12), 100)) FROM generate_series(1, 3)
}), '3', 'exact index scans during VACUUM\'s merge');
release_merge('VACUUM\'s merge', $merger, $merr);
check_all('after VACUUM');

# (3) a crash while a merge waits at the gate leaves the index as it was;
# transaction ids move past VACUUM's frees first, so that the merge
# reserves free pages for its segment
$node->safe_psql('postgres', 'SELECT txid_current()') for 1 .. 2;
$logstart = -s $node->logfile;
($merger, $merr) = merge_at_gate('a merge before the crash', sprintf($insert_rows, 60), '-c log_min_messages=debug1');
# a commit flushes the WAL, the merge's reservation included
$node->safe_psql('postgres', 'SELECT txid_current()');
my $reserved = log_since($logstart) =~ /^merger: .*inverted: segment of \d+ pages, [1-9]\d* of them reused/m;
$node->stop('immediate');
$merger->finish;
$holder->finish;
$node->start;
check_all('after the crash');
# the next merges take over what the crashed one had reserved
$logstart = -s $node->logfile;
$node->safe_psql('postgres', 'SET log_min_messages = debug1; SET sparseclip.inverted_pending_limit = 50; '
				 . sprintf($insert_rows, 200));
$log = log_since($logstart);
SKIP:
{
	# free pages are reserved only when some are recyclable (the horizon)
	skip 'the crashed merge found no recyclable free pages to reserve', 1 unless $reserved;
	like($log, qr/inverted: [1-9]\d* runs a failed merge had reserved are free again/,
		 'the first merge after the crash frees the runs the crashed one had reserved');
}
diag($reserved ? 'the crashed merge had reserved free pages' : 'the crashed merge had reserved nothing');
$node->safe_psql('postgres', 'DELETE FROM docs WHERE id % 7 = 0; VACUUM docs');
check_all('after merges and VACUUM that followed the crash');
is($node->safe_psql('postgres', q{
SELECT count(*) FILTER (WHERE inv_same(op, q, lim)) || ' of ' || count(*)
FROM (SELECT inv_rand(500, 12) AS q FROM generate_series(1, 5)) qs,
	 unnest(ARRAY['<#>', '<=>']) op, unnest(ARRAY[10, 100000]) lim
}), '20 of 20', 'index scans equal sequential scans after the crash');

$node->stop;
done_testing();
