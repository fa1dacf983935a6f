#!/usr/bin/env bash
# Insert latency while merges run: build B against build A, side by side.
#
#   bash test/bench/inverted_merge_latency.sh DIR_A DIR_B [ROWS]   default ROWS 100000
#
# DIR_A and DIR_B each hold a build (a checkout after `make`), installed
# under private names as in inverted_ab.sh (run as root, holding
# /tmp/sparseclip-test.lock).  Each round, for A and B in turn (the order
# alternating by round), a fresh database gets ROWS synthetic documents
# (test/bench/inverted_gen.c) and an svec_ip_ops index; a quarter of the
# rows are deleted and VACUUM marks them, so that the first pending-list
# fold by an insert also compacts the large segment (a rewrite of the
# whole index, in that insert's backend); then pgbench runs CLIENTS
# (default 4) clients of single-row inserts for RUN_SECONDS (default 20), in
# which the list is folded every 4,096 inserts and tiers merge.  Prints per
# build and round the inserts, their latency p50, p99 and max, how many
# took over 50 ms; then the merges (inserts that took WINDOW_MS, default
# 200 ms, or more: those that merged, and, when merges block, those that
# waited) and the latency of the other inserts that began while one ran
# ("during merges").  The insert that does a merge waits for it in either
# build.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
[ $# -ge 2 ] || { echo "usage: $0 DIR_A DIR_B [ROWS]" >&2; exit 2; }
DIR_A=$(cd "$1" && pwd)
DIR_B=$(cd "$2" && pwd)
N=${3:-100000}
ROUNDS=${ROUNDS:-2}
CLIENTS=${CLIENTS:-4}
SECONDS_RUN=${RUN_SECONDS:-20}
WINDOW_MS=${WINDOW_MS:-200}
PG_CONFIG=${PG_CONFIG:-/usr/lib/postgresql/15/bin/pg_config}

source "$ROOT/test/bench/cluster.sh"
bench_start_cluster shared_buffers=1GB synchronous_commit=off autovacuum=off
bench_install_build "$DIR_A" sparseclip_ml_a
bench_install_build "$DIR_B" sparseclip_ml_b
gcc -O2 -Wall -Wextra -o "$BENCH_TMP/gen" "$ROOT/test/bench/inverted_gen.c" -lm
printf '\\set r random(1, 50000)\nINSERT INTO docs SELECT id, emb FROM pool WHERE id = :r;\n' > "$BENCH_TMP/ins.sql"
chown -R postgres: "$BENCH_TMP"
psql() { runuser -u postgres -- "$BENCH_BINDIR/psql" -X -q -v ON_ERROR_STOP=1 "$@"; }

printf 'build\tround\trows\tclients\tinserts\tp50 ms\tp99 ms\tmax ms\tover 50 ms\tmerges\tduring merges\tp50 ms\tp99 ms\tmax ms\n'
for round in $(seq "$ROUNDS"); do
	order="a b"
	[ $((round % 2)) -eq 0 ] && order="b a"
	for ab in $order; do
		db="${ab}_$round"
		psql -c "CREATE DATABASE $db"
		psql -d "$db" -c "CREATE EXTENSION sparseclip_ml_$ab" \
			-c "CREATE TABLE docs (id int, emb svec)" -c "CREATE TABLE pool (id int PRIMARY KEY, emb svec)" \
			-c "\\copy docs FROM PROGRAM '$BENCH_TMP/gen docs $N 1'" \
			-c "\\copy pool FROM PROGRAM '$BENCH_TMP/gen docs 50000 2'" \
			-c "CREATE INDEX docs_ip ON docs USING inverted (emb svec_ip_ops)" \
			-c "DELETE FROM docs WHERE id % 4 = 0" -c "VACUUM ANALYZE docs" -c "VACUUM ANALYZE pool" -c "CHECKPOINT"
		rm -f "$BENCH_TMP"/pgb.*
		runuser -u postgres -- bash -c "cd '$BENCH_TMP' && '$BENCH_BINDIR/pgbench' -n -c $CLIENTS -j 2 -T $SECONDS_RUN -l --log-prefix=pgb \
			-f ins.sql -h '$PGHOST' -p $PGPORT $db" > "$BENCH_TMP/pgbench.out" 2>&1
		# pgbench -l: client, transaction, latency (us), script, end (s, us)
		[ -n "${LOGDIR:-}" ] && cat "$BENCH_TMP"/pgb.* > "$LOGDIR/pgbench-$db.log"
		cat "$BENCH_TMP"/pgb.* | perl -e '
			my ($build, $r, $n, $c, $w) = @ARGV;
			my (@t, @win);
			while (<STDIN>) {
				my @f = split;
				my $e = $f[4] + $f[5] / 1e6;
				push @t, [ $f[2] / 1000.0, $e - $f[2] / 1e6, $e ];
				push @win, $#t if $f[2] / 1000.0 >= $w;
			}
			my @during;
			for my $i (0 .. $#t) {
				for my $j (@win) {
					if ($j != $i && $t[$j][1] <= $t[$i][1] && $t[$i][1] < $t[$j][2]) { push @during, $t[$i][0]; last }
				}
			}
			my @all = sort { $a <=> $b } map { $_->[0] } @t;
			@during = sort { $a <=> $b } @during;
			my $pct = sub { my ($v, $p) = @_; return 0 unless @$v; my $i = int($p * @$v + 0.999999) - 1; $i = 0 if $i < 0; $v->[$i] };
			printf "%s\t%d\t%d\t%d\t%d\t%.2f\t%.2f\t%.1f\t%d\t%d\t%d\t%.2f\t%.2f\t%.1f\n", $build, $r, $n, $c, scalar(@all),
				$pct->(\@all, 0.5), $pct->(\@all, 0.99), $all[-1], scalar(grep { $_ > 50 } @all), scalar(@win),
				scalar(@during), $pct->(\@during, 0.5), $pct->(\@during, 0.99), @during ? $during[-1] : 0;
		' "$ab" "$round" "$N" "$CLIENTS" "$WINDOW_MS"
		psql -c "DROP DATABASE $db"
	done
done
