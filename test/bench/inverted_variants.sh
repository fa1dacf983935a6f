#!/usr/bin/env bash
# Side by side: one inverted index, scanned under different settings
# (pruning on/off, the scoring kernels), on two kinds of synthetic data:
# independent documents (inverted_gen docs) and "topical" ones whose ids come
# in blocks that share a topic (inverted_gen tdocs), with text-like queries.
#
#   bash test/bench/inverted_variants.sh [ROWS]       default 1000000
#
# Run as root after `make install`.  Each variant times the same 100 queries
# (each once, top-10, in the server as bench_time does), variants alternating,
# ROUNDS (default 2) rounds; prints p50/p95 and whether every variant
# returned the same distances.  BENCH_EXTENSION as in inverted.sh.
#
# Environment: VARIANTS_LIST (settings "name=value", space-separated; default the
# pruning and kernel variants), DATA (default "docs tdocs"), QUERIES (query
# kinds: "text", "image" or both; default text; topical data gets topical
# queries of the same kind).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
N=${1:-1000000}
ROUNDS=${ROUNDS:-2}
VARIANTS=("sparseclip.inverted_prune=on" "sparseclip.inverted_prune=off"
	"sparseclip.inverted_simd=avx2" "sparseclip.inverted_simd=off")
if [ -n "${VARIANTS_LIST:-}" ]; then read -r -a VARIANTS <<< "$VARIANTS_LIST"; fi
DATA=${DATA:-docs tdocs}
QUERIES=${QUERIES:-text}

source "$ROOT/test/bench/cluster.sh"
bench_start_cluster shared_buffers=4GB max_parallel_workers_per_gather=0
gcc -O2 -Wall -Wextra -o "$BENCH_TMP/gen" "$ROOT/test/bench/inverted_gen.c" -lm
cp "$ROOT/test/bench/inverted.sql" "$BENCH_TMP/"
chown -R postgres: "$BENCH_TMP"
psql() { runuser -u postgres -- "$BENCH_BINDIR/psql" -X -q -v ON_ERROR_STOP=1 "$@"; }

psql -c "CREATE EXTENSION ${BENCH_EXTENSION:-sparseclip}" -f "$BENCH_TMP/inverted.sql"
printf 'data\tvariant\tround\tp50 ms\tp95 ms\tanswers\n'
for kind in $DATA; do
	psql -c "DROP TABLE IF EXISTS docs, queries" \
		-c "CREATE TABLE docs (id int, emb svec)" -c "CREATE TABLE queries (kind text, id int, emb svec)" \
		-c "\\copy docs FROM PROGRAM '$BENCH_TMP/gen $kind $N 1'"
	for qk in $QUERIES; do
		gk=$qk
		[ "$kind" = tdocs ] && gk=t$qk
		seed=3
		[ "$qk" = image ] && seed=4
		psql -c "CREATE TEMP TABLE q (id int, emb svec)" -c "\\copy q FROM PROGRAM '$BENCH_TMP/gen $gk 100 $seed'" \
			-c "INSERT INTO queries SELECT '$qk', id, emb FROM q"
	done
	psql -c "VACUUM ANALYZE docs" -c "VACUUM ANALYZE queries" \
		-c "CREATE INDEX docs_emb ON docs USING inverted (emb svec_ip_ops)" -c "CHECKPOINT"
	for qk in $QUERIES; do
		for round in $(seq "$ROUNDS"); do
			for v in "${VARIANTS[@]}"; do
				psql -At -F $'\t' -c "SET $v" -c "SELECT count(*) FROM bench_time('$qk', 10, true, 5)" \
					-c "SELECT '$kind' || CASE WHEN '$qk' = 'text' THEN '' ELSE ' $qk' END, '$v', $round,
						round(percentile_cont(0.5) WITHIN GROUP (ORDER BY ms)::numeric, 2),
						round(percentile_cont(0.95) WITHIN GROUP (ORDER BY ms)::numeric, 2),
						left(md5(string_agg(ds::text, ',' ORDER BY qid)), 8)
						FROM bench_time('$qk', 10, true, 100)" | tail -n 1
			done
		done
	done
done
