#!/usr/bin/env bash
# Side by side: one inverted index scanned by the backend alone
# (sparseclip.inverted_scan_threads = 1, the default) and with its helper
# thread (= 2), on independent synthetic documents (inverted_gen docs),
# text-like and image-like top-10 queries.
#
#   bash test/bench/inverted_threads.sh [ROWS]       default 1000000
#
# Run as root after `make install`.  Each setting times the same 100 queries
# of each kind (each once after a warm-up pass, in the server as bench_time
# does), settings alternating, ROUNDS (default 3) rounds; prints p50/p95,
# the ratio of the helper's p50 to the backend alone's in the same round,
# and whether both returned the same distances.  Writes the table to
# test/bench/results/inverted-threads-ROWS.tsv.  BENCH_EXTENSION as in
# inverted.sh; SHARED_BUFFERS (default 4GB).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
N=${1:-1000000}
ROUNDS=${ROUNDS:-3}
OUT="$ROOT/test/bench/results/inverted-threads-$N.tsv"

source "$ROOT/test/bench/cluster.sh"
bench_start_cluster shared_buffers=${SHARED_BUFFERS:-4GB} max_parallel_workers_per_gather=0 jit=off
gcc -O2 -Wall -Wextra -o "$BENCH_TMP/gen" "$ROOT/test/bench/inverted_gen.c" -lm
cp "$ROOT/test/bench/inverted.sql" "$BENCH_TMP/"
chown -R postgres: "$BENCH_TMP"
psql() { runuser -u postgres -- "$BENCH_BINDIR/psql" -X -q -v ON_ERROR_STOP=1 "$@"; }

psql -c "CREATE EXTENSION ${BENCH_EXTENSION:-sparseclip}" -f "$BENCH_TMP/inverted.sql"
psql -c "CREATE TABLE docs (id int, emb svec)" -c "CREATE TABLE queries (kind text, id int, emb svec)" \
	-c "\\copy docs FROM PROGRAM '$BENCH_TMP/gen docs $N 1'" \
	-c "CREATE TEMP TABLE q (id int, emb svec)" \
	-c "\\copy q FROM PROGRAM '$BENCH_TMP/gen text 100 3'" \
	-c "INSERT INTO queries SELECT 'text', id, emb FROM q" -c "TRUNCATE q" \
	-c "\\copy q FROM PROGRAM '$BENCH_TMP/gen image 100 4'" \
	-c "INSERT INTO queries SELECT 'image', id, emb FROM q" \
	-c "VACUUM ANALYZE docs" -c "VACUUM ANALYZE queries" \
	-c "CREATE INDEX docs_emb ON docs USING inverted (emb svec_ip_ops)" -c "CHECKPOINT"

mkdir -p "$(dirname "$OUT")"
{
	printf 'rows\tqueries\tround\tthreads\tp50 ms\tp95 ms\tp50 ratio (2 / 1)\tanswers\n'
	for round in $(seq "$ROUNDS"); do
		for kind in text image; do
			declare -A p50=()
			for th in 1 2; do
				line=$(psql -At -F $'\t' -c "SET sparseclip.inverted_scan_threads = $th" \
					-c "SELECT count(*) FROM bench_time('$kind', 10, true, 100)" \
					-c "SELECT round(percentile_cont(0.5) WITHIN GROUP (ORDER BY ms)::numeric, 3),
						round(percentile_cont(0.95) WITHIN GROUP (ORDER BY ms)::numeric, 3),
						left(md5(string_agg(ds::text, ',' ORDER BY qid)), 8)
						FROM bench_time('$kind', 10, true, 100)" | tail -n 1)
				p50[$th]=$(cut -f1 <<<"$line")
				ratio=""
				[ "$th" = 2 ] && ratio=$(awk -v a="${p50[2]}" -v b="${p50[1]}" 'BEGIN { printf "%.2f", a / b }')
				printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$N" "$kind" "$round" "$th" \
					"$(cut -f1-2 <<<"$line")" "$ratio" "$(cut -f3 <<<"$line")"
			done
		done
	done
} | tee "$OUT"
