#!/usr/bin/env bash
# Cosine against inner product, side by side: one table of synthetic
# Sparse-CLIP-like documents (test/bench/inverted_gen.c, L2-normalised, so
# both operators rank alike) with an svec_ip_ops and an svec_cosine_ops
# index, the same 100 text-like queries through each, pruning on and off.
#
#   bash test/bench/inverted_cosine.sh [ROWS]       default 1000000
#
# Run as root after `make install`, holding /tmp/sparseclip-test.lock.  Each
# variant times the same queries (each once, top-10, inside the server as
# bench_time does), variants alternating, ROUNDS (default 2) rounds; prints
# p50/p95 and an md5 of all distances returned (equal for the two pruning
# settings of one operator), and how many of NQ_SEQ (default 10) queries per
# operator equal a sequential scan.  Writes inverted-cosine-<rows>.tsv to
# $BENCH_OUT (default test/bench/results).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
N=${1:-1000000}
ROUNDS=${ROUNDS:-2}
NQ_SEQ=${NQ_SEQ:-10}
OUT=${BENCH_OUT:-$ROOT/test/bench/results}
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)
VARIANTS=("<#>|on" "<=>|on" "<#>|off" "<=>|off")

source "$ROOT/test/bench/cluster.sh"
bench_start_cluster shared_buffers=4GB max_parallel_workers_per_gather=0
gcc -O2 -Wall -Wextra -o "$BENCH_TMP/gen" "$ROOT/test/bench/inverted_gen.c" -lm
chown -R postgres: "$BENCH_TMP"
psql() { runuser -u postgres -- "$BENCH_BINDIR/psql" -X -q -v ON_ERROR_STOP=1 "$@"; }

cat > "$BENCH_TMP/cosine.sql" <<'SQL'
-- one row per query: milliseconds and the distances of ORDER BY emb <op> q LIMIT k
CREATE FUNCTION bench_time_op(op text, k int, use_index bool, nq int)
RETURNS TABLE (qid int, ms float8, ds float8[]) LANGUAGE plpgsql AS $$
DECLARE
	r record;
	t0 timestamptz;
	d float8[];
BEGIN
	PERFORM set_config('enable_indexscan', CASE WHEN use_index THEN 'on' ELSE 'off' END, true);
	PERFORM set_config('enable_seqscan', CASE WHEN use_index THEN 'off' ELSE 'on' END, true);
	FOR r IN SELECT q.id, q.emb FROM queries q ORDER BY q.id LIMIT nq LOOP
		t0 := clock_timestamp();
		EXECUTE format('SELECT array_agg(d) FROM (SELECT emb %s $1 AS d FROM docs ORDER BY emb %s $1 LIMIT %s) s',
					   op, op, k) INTO d USING r.emb;
		qid := r.id;
		ms := extract(epoch FROM clock_timestamp() - t0) * 1000;
		ds := d;
		RETURN NEXT;
	END LOOP;
END $$;
SQL
chown postgres: "$BENCH_TMP/cosine.sql"
psql -c "CREATE EXTENSION ${BENCH_EXTENSION:-sparseclip}" -f "$BENCH_TMP/cosine.sql"
t0=$(date +%s)
psql -c "CREATE TABLE docs (id int, emb svec)" -c "CREATE TABLE queries (id int, emb svec)" \
	-c "\\copy docs FROM PROGRAM '$BENCH_TMP/gen docs $N 1'" \
	-c "\\copy queries FROM PROGRAM '$BENCH_TMP/gen text 100 3'" \
	-c "VACUUM ANALYZE docs" -c "VACUUM ANALYZE queries" \
	-c "CREATE INDEX docs_ip ON docs USING inverted (emb svec_ip_ops)" \
	-c "CREATE INDEX docs_cos ON docs USING inverted (emb svec_cosine_ops)" -c "CHECKPOINT"
echo "loaded and built in $(( $(date +%s) - t0 )) s" >&2

{
	printf 'rows\toperator\tprune\tround\tp50 ms\tp95 ms\tanswers md5\n'
	for round in $(seq "$ROUNDS"); do
		for v in "${VARIANTS[@]}"; do
			op=${v%|*}
			pr=${v#*|}
			psql -At -F $'\t' -c "SET sparseclip.inverted_prune = $pr" \
				-c "SELECT count(*) FROM bench_time_op('$op', 10, true, 5)" \
				-c "SELECT $N, '$op', '$pr', $round,
					round(percentile_cont(0.5) WITHIN GROUP (ORDER BY ms)::numeric, 2),
					round(percentile_cont(0.95) WITHIN GROUP (ORDER BY ms)::numeric, 2),
					left(md5(string_agg(ds::text, ',' ORDER BY qid)), 8)
					FROM bench_time_op('$op', 10, true, 100)" | tail -n 1
		done
	done
	for op in '<#>' '<=>'; do
		psql -At -F $'\t' -c "CREATE TEMP TABLE ti AS SELECT * FROM bench_time_op('$op', 10, true, $NQ_SEQ)" \
			-c "CREATE TEMP TABLE ts AS SELECT * FROM bench_time_op('$op', 10, false, $NQ_SEQ)" \
			-c "SELECT $N, '$op', 'seqscan', '-', round(percentile_cont(0.5) WITHIN GROUP (ORDER BY ts.ms)::numeric, 2), '-',
				(SELECT count(*) FROM ti JOIN ts s USING (qid) WHERE ti.ds = s.ds) || ' of $NQ_SEQ equal the index'
				FROM ts"
	done
} | tee "$OUT/inverted-cosine-$N.tsv"
