#!/usr/bin/env bash
# Benchmark of the inverted index against a sequential scan, side by side in
# one run, on synthetic Sparse-CLIP-like data (test/bench/inverted_gen.c).
#
#   bash test/bench/inverted.sh [ROWS ...]        default: 100000 1000000
#
# Run as root after `make install`.  It starts a throwaway cluster (fsync on,
# shared_buffers=4GB), and for each table size reports: load time, index build
# time and memory (peak private memory of the leader and its workers), index size, single-row insert rate with and without the index
# (pgbench, one client, synchronous_commit=off, best of two), and p50/p95 latency of top-10 and top-100 queries
# (text-like: ~24 non-zeros, image-like: ~96) through the index and through a
# sequential scan, measured inside the server, plus whether every index answer
# equalled the sequential scan's.  Prints a table with the ratios and writes
# inverted-<rows>.tsv and inverted.png (gnuplot) to $BENCH_OUT
# (default test/bench/results).
#
# BENCH_EXTENSION names the extension to create (default sparseclip; a
# privately installed copy under another name is not disturbed by other
# installs while the benchmark runs).
# QUIET, when set, prefixes the query phase (for instance a script that
# pauses other work on the machine meanwhile).
# SHARED_BUFFERS (default 4GB): at 10M rows the index (5.4 GB) needs 8GB to
# stay in shared buffers.
# NQ_INDEX (default 100) queries of each kind go through the index,
# NQ_SEQ (default 10) through the sequential scan; INSERTS (default 5000).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
PG_CONFIG=${PG_CONFIG:-/usr/lib/postgresql/15/bin/pg_config}
BINDIR=$("$PG_CONFIG" --bindir)
ROWS=("$@")
[ ${#ROWS[@]} -gt 0 ] || ROWS=(100000 1000000)
NQ_INDEX=${NQ_INDEX:-100}
NQ_SEQ=${NQ_SEQ:-10}
INSERTS=${INSERTS:-5000}
OUT=${BENCH_OUT:-$ROOT/test/bench/results}
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)

TMP=$(mktemp -d /tmp/sparseclip-bench.XXXXXX)
chmod 755 "$TMP"
cleanup() {
	if [ -f "$TMP/data/postmaster.pid" ]; then
		runuser -u postgres -- "$BINDIR/pg_ctl" -D "$TMP/data" -m fast stop >/dev/null 2>&1 || true
	fi
	rm -rf "$TMP"
}
trap cleanup EXIT

gcc -O2 -Wall -Wextra -o "$TMP/gen" "$ROOT/test/bench/inverted_gen.c" -lm
cp "$ROOT/test/bench/inverted.sql" "$TMP/"
chown -R postgres: "$TMP"

runuser -u postgres -- "$BINDIR/initdb" -D "$TMP/data" -A trust -E UTF8 --locale=C >/dev/null
PORT=$((40000 + RANDOM % 20000))
runuser -u postgres -- "$BINDIR/pg_ctl" -D "$TMP/data" -l "$TMP/server.log" -w -o \
	"-k $TMP -p $PORT -c listen_addresses='' -c shared_buffers=${SHARED_BUFFERS:-4GB} -c max_wal_size=20GB \
	 -c checkpoint_timeout=1h -c maintenance_work_mem=1GB -c work_mem=64MB" start >/dev/null

psql() { runuser -u postgres -- "$BINDIR/psql" -h "$TMP" -p "$PORT" -X -q -v ON_ERROR_STOP=1 "$@" postgres; }
now() { date +%s.%N; }

psql -c "CREATE EXTENSION ${BENCH_EXTENSION:-sparseclip}" -f "$TMP/inverted.sql"

for n in "${ROWS[@]}"; do
	echo "== $n rows" >&2
	psql -c "DROP TABLE IF EXISTS docs, docs_plain, newvecs, queries" \
		-c "CREATE TABLE docs (id int, emb svec)" \
		-c "CREATE TABLE docs_plain (id int, emb svec)" \
		-c "CREATE TABLE newvecs (id int PRIMARY KEY, emb svec)" \
		-c "CREATE TABLE queries (kind text, id int, emb svec)"
	t0=$(now)
	psql -c "\\copy docs FROM PROGRAM '$TMP/gen docs $n 1'"
	t1=$(now)
	psql -c "\\copy newvecs FROM PROGRAM '$TMP/gen docs $INSERTS 2'" \
		-c "CREATE TEMP TABLE q (id int, emb svec)" \
		-c "\\copy q FROM PROGRAM '$TMP/gen text $NQ_INDEX 3'" \
		-c "INSERT INTO queries SELECT 'text', id, emb FROM q" \
		-c "TRUNCATE q" \
		-c "\\copy q FROM PROGRAM '$TMP/gen image $NQ_INDEX 4'" \
		-c "INSERT INTO queries SELECT 'image', id, emb FROM q" \
		-c "VACUUM ANALYZE docs" -c "VACUUM ANALYZE queries" -c "VACUUM ANALYZE newvecs"
	t2=$(now)
	# the build's memory: the peak, over the build, of the private memory
	# (RssAnon, so not shared_buffers) of all the cluster's processes (the
	# leader and its parallel workers) above what they held before
	rss_anon() {
		local pm s=0 p k
		pm=$(head -n 1 "$TMP/data/postmaster.pid")
		for p in $pm $(pgrep -P "$pm"); do
			k=$(awk '/^RssAnon:/ { print $2 }' "/proc/$p/status" 2>/dev/null) || k=0
			s=$((s + ${k:-0}))
		done
		echo "$s"
	}
	base=$(rss_anon)
	( peak=0; while :; do r=$(rss_anon); [ "$r" -gt "$peak" ] && { peak=$r; echo "$peak" > "$TMP/peak"; }; sleep 0.2; done ) &
	sampler=$!
	psql -c "CREATE INDEX docs_emb ON docs USING inverted (emb svec_ip_ops)"
	t3=$(now)
	kill "$sampler"; wait "$sampler" 2>/dev/null || true
	buildmem=$(( ($(cat "$TMP/peak" 2>/dev/null || echo "$base") - base) / 1024 ))
	mwm=$(psql -At -c "SHOW maintenance_work_mem")
	workers=$(psql -At -c "SHOW max_parallel_maintenance_workers")
	size=$(psql -At -c "SELECT pg_relation_size('docs_emb')")
	heapsize=$(psql -At -c "SELECT pg_relation_size('docs')")

	# queries (after a checkpoint, so that writing out the load does not
	# compete): index, then sequential scan, each compared with the other
	psql -c "CHECKPOINT"
	${QUIET:-} runuser -u postgres -- "$BINDIR/psql" -h "$TMP" -p "$PORT" -X -q -v ON_ERROR_STOP=1 -At -F $'\t' \
		-c "SELECT * FROM bench_queries($NQ_INDEX, $NQ_SEQ)" postgres > "$TMP/q.tsv"

	# single-row inserts, one transaction each, with and without the index
	cat > "$TMP/ins_idx.sql" <<EOF
\\set i random(1, $INSERTS)
INSERT INTO docs SELECT id, emb FROM newvecs WHERE id = :i;
EOF
	sed 's/INTO docs /INTO docs_plain /' "$TMP/ins_idx.sql" > "$TMP/ins_plain.sql"
	chown postgres: "$TMP"/ins_*.sql
	# synchronous_commit=off: without it both rates are the disk's fsync rate.
	# Each rate is the best of two runs (after a checkpoint), alternating, so
	# that a checkpoint or a neighbour's load hits both alike.
	pgb() {
		psql -c "CHECKPOINT"
		runuser -u postgres -- env PGOPTIONS="-c synchronous_commit=off" "$BINDIR/pgbench" -h "$TMP" -p "$PORT" \
			-n -M prepared -c 1 -t "$INSERTS" -f "$1" postgres 2>&1 | sed -n 's/^tps = \([0-9.]*\).*/\1/p'
	}
	tps_idx=0
	tps_plain=0
	for round in 1 2; do
		t=$(pgb "$TMP/ins_plain.sql"); tps_plain=$(awk -v a="$tps_plain" -v b="$t" 'BEGIN { print (b > a ? b : a) }')
		t=$(pgb "$TMP/ins_idx.sql"); tps_idx=$(awk -v a="$tps_idx" -v b="$t" 'BEGIN { print (b > a ? b : a) }')
	done
	check=$(psql -At -c "SELECT inverted_check('docs_emb')")

	{
		printf 'rows\tmetric\tindex\tbaseline\tratio\tnote\n'
		awk -v n="$n" -v a="$t0" -v b="$t1" 'BEGIN { printf "%d\tload (COPY) s\t%.1f\t-\t-\t\n", n, b - a }'
		awk -v n="$n" -v a="$t2" -v b="$t3" -v w="$workers" 'BEGIN { printf "%d\tindex build s\t%.1f\t-\t-\tmax_parallel_maintenance_workers %s\n", n, b - a, w }'
		printf '%d\tbuild memory MB\t%d\t-\t-\tpeak private memory of all processes above before; maintenance_work_mem %s\n' "$n" "$buildmem" "$mwm"
		awk -v n="$n" -v s="$size" -v h="$heapsize" 'BEGIN { printf "%d\tindex size MB\t%.0f\t%.0f\t%.2f\tbaseline: table size\n", n, s / 1048576, h / 1048576, s / h }'
		awk -v n="$n" -v x="$tps_idx" -v y="$tps_plain" 'BEGIN { printf "%d\tinserts/s\t%.0f\t%.0f\t%.2f\tbaseline: no index\n", n, x, y, x / y }'
		awk -F '\t' -v n="$n" '{ printf "%d\t%s\t%.2f\t%.2f\t%.1fx\t%s\n", n, $1, $2, $3, $3 / $2, $4 }' "$TMP/q.tsv"
		printf '%d\tinverted_check rows\t%s\t-\t-\t\n' "$n" "$check"
	} > "$OUT/inverted-$n.tsv"
	column -t -s $'\t' "$OUT/inverted-$n.tsv"
done

# p50 latencies, index vs sequential scan, log scale
if command -v gnuplot >/dev/null; then
	: > "$TMP/plot.dat"
	for n in "${ROWS[@]}"; do
		grep -E 'p50' "$OUT/inverted-$n.tsv" | awk -F '\t' -v n="$n" \
			'{ gsub(/ p50 ms/, "", $2); printf "\"%s %s\"\t%s\t%s\n", (n >= 1000000 ? n / 1000000 "M" : n / 1000 "k"), $2, $3, $4 }' >> "$TMP/plot.dat"
	done
	gnuplot <<EOF
set terminal pngcairo size 1100,500 noenhanced
set output "$OUT/inverted.png"
set title "inverted index vs sequential scan: p50 latency (ms, log scale)"
set style data histograms
set style histogram clustered gap 1
set style fill solid 0.8 border -1
set logscale y
set yrange [0.1:*]
set ylabel "ms"
set xtics rotate by -30
set key top left
plot "$TMP/plot.dat" using 2:xtic(1) title "inverted index", '' using 3 title "sequential scan"
EOF
	echo "picture: $OUT/inverted.png" >&2
fi
