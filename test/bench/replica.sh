#!/usr/bin/env bash
# Searches on a streaming replica: a primary and a hot standby on this
# machine, side by side in one run, on synthetic Sparse-CLIP-like data
# (test/bench/inverted_gen.c).
#
#   flock /tmp/sparseclip-test.lock bash test/bench/replica.sh [ROWS]   default 100000
#
# Run as root after `make install`.  Reports: the index build on the primary
# and how long after it the standby had replayed it; top-10 latency (median
# of NQ text-like queries x 3 passes, measured inside each server) on the
# primary and the standby; whether every answer (ids and distances) on the
# standby equalled the primary's, after the build and after INSERTS more
# rows (pending list and segment merges replayed).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
PG_CONFIG=${PG_CONFIG:-/usr/lib/postgresql/15/bin/pg_config}
BINDIR=$("$PG_CONFIG" --bindir)
ROWS=${1:-100000}
NQ=${NQ:-30}
INSERTS=${INSERTS:-10000}
P1=5433
P2=5434

TMP=$(mktemp -d /tmp/sparseclip-bench.XXXXXX)
chmod 755 "$TMP"
cleanup() {
	for d in standby primary; do
		if [ -f "$TMP/$d/postmaster.pid" ]; then
			runuser -u postgres -- "$BINDIR/pg_ctl" -D "$TMP/$d" -m fast stop >/dev/null 2>&1 || true
		fi
	done
	rm -rf "$TMP"
}
trap cleanup EXIT

gcc -O2 -Wall -Wextra -o "$TMP/gen" "$ROOT/test/bench/inverted_gen.c" -lm
"$TMP/gen" docs "$ROWS" 1 >"$TMP/docs.tsv"
"$TMP/gen" docs "$INSERTS" 2 | awk -F'\t' -v n="$ROWS" '{ print $1 + n "\t" $2 }' >"$TMP/more.tsv"
"$TMP/gen" text "$NQ" 3 >"$TMP/queries.tsv"
mkdir -p "$TMP/sock"
chown -R postgres: "$TMP"

psql() { local port=$1; shift; runuser -u postgres -- "$BINDIR/psql" -h "$TMP/sock" -p "$port" -X -q -A -t -v ON_ERROR_STOP=1 "$@" postgres; }
now() { date +%s.%N; }

runuser -u postgres -- "$BINDIR/initdb" -D "$TMP/primary" -A trust -E UTF8 --locale=C >/dev/null
OPTS="-c listen_addresses='' -c shared_buffers=1GB -c max_wal_size=8GB -c maintenance_work_mem=512MB"
runuser -u postgres -- "$BINDIR/pg_ctl" -D "$TMP/primary" -l "$TMP/primary.log" -w \
	-o "-k $TMP/sock -p $P1 $OPTS" start >/dev/null
runuser -u postgres -- "$BINDIR/pg_basebackup" -h "$TMP/sock" -p $P1 -D "$TMP/standby" -R -X stream
runuser -u postgres -- "$BINDIR/pg_ctl" -D "$TMP/standby" -l "$TMP/standby.log" -w \
	-o "-k $TMP/sock -p $P2 $OPTS -c hot_standby=on" start >/dev/null

# Seconds until the standby has replayed everything the primary wrote so far.
catch_up() {
	local lsn t0
	lsn=$(psql $P1 -c "SELECT pg_current_wal_lsn()")
	t0=$(now)
	until [ "$(psql $P2 -c "SELECT pg_last_wal_replay_lsn() >= '$lsn'")" = "t" ]; do sleep 0.01; done
	echo "$(now) - $t0" | bc
}

psql $P1 <<SQL
CREATE EXTENSION sparseclip;
CREATE TABLE docs (id int, emb svec(16384));
CREATE TABLE queries (qid int, q svec(16384));
COPY docs FROM '$TMP/docs.tsv';
COPY queries FROM '$TMP/queries.tsv';
VACUUM ANALYZE docs;
CREATE FUNCTION answers() RETURNS text LANGUAGE sql AS \$\$
	SELECT string_agg(r, E'\n' ORDER BY qid) FROM (SELECT qid, (SELECT string_agg(id || ':' || d, ',') FROM
		(SELECT id, emb <#> q AS d FROM docs ORDER BY emb <#> q LIMIT 10) s) AS r FROM queries) t \$\$;
CREATE FUNCTION time_ms(q svec) RETURNS float8 LANGUAGE plpgsql AS \$\$
DECLARE t0 timestamptz; r record;
BEGIN
	t0 := clock_timestamp();
	FOR r IN SELECT id FROM docs ORDER BY emb <#> q LIMIT 10 LOOP END LOOP;
	RETURN extract(epoch FROM clock_timestamp() - t0) * 1000;
END \$\$;
CREATE FUNCTION median_ms() RETURNS float8 LANGUAGE sql AS \$\$
	SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY time_ms(q)) FROM queries, generate_series(1, 3) \$\$;
SQL
catch_up >/dev/null
t0=$(now)
psql $P1 -c "CREATE INDEX docs_emb ON docs USING inverted (emb svec_ip_ops)"
t1=$(now)
lag=$(catch_up)
build=$(echo "$t1 - $t0" | bc)
index_size=$(psql $P1 -c "SELECT pg_size_pretty(pg_relation_size('docs_emb'))")
psql $P1 -c "SELECT median_ms()" >/dev/null   # warm both alike
psql $P2 -c "SELECT median_ms()" >/dev/null
same1=$([ "$(psql $P1 -c 'SELECT answers()')" = "$(psql $P2 -c 'SELECT answers()')" ] && echo yes || echo NO)
m1=$(psql $P1 -c "SELECT round(median_ms()::numeric, 3)")
m2=$(psql $P2 -c "SELECT round(median_ms()::numeric, 3)")
plan=$(psql $P2 -c "EXPLAIN (COSTS OFF) SELECT id FROM docs ORDER BY emb <#> (SELECT q FROM queries LIMIT 1) LIMIT 10" | grep -c "Index Scan using docs_emb" || true)

t0=$(now)
psql $P1 -c "COPY docs FROM '$TMP/more.tsv'"
lag2=$(catch_up)
same2=$([ "$(psql $P1 -c 'SELECT answers()')" = "$(psql $P2 -c 'SELECT answers()')" ] && echo yes || echo NO)
m3=$(psql $P1 -c "SELECT round(median_ms()::numeric, 3)")
m4=$(psql $P2 -c "SELECT round(median_ms()::numeric, 3)")

cat <<EOF
replica benchmark: $ROWS rows (~96 non-zeros of 16,384), $NQ text-like queries (~24 non-zeros), top-10
index build on the primary        ${build} s (index ${index_size})
standby replayed it               ${lag} s after the build returned
standby plan uses the index       $([ "$plan" -ge 1 ] && echo yes || echo NO)
top-10 median, primary            ${m1} ms
top-10 median, standby            ${m2} ms
standby answers = primary's       ${same1} ($NQ queries, ids and distances)
after $INSERTS more rows (COPY, one statement): standby replayed them ${lag2} s after the COPY returned
top-10 median, primary / standby  ${m3} / ${m4} ms
standby answers = primary's       ${same2}
EOF
[ "$same1" = yes ] && [ "$same2" = yes ]
