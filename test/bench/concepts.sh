#!/usr/bin/env bash
# concepts() benchmark: the cost of listing a row's named concepts beyond
# reading the row, side by side in one session on the same table (these
# machines are shared and noisy: read the differences and ratios).
#
#   bash test/bench/concepts.sh [ROWS]      (default 100,000; as root, holding
#                                            /tmp/sparseclip-test.lock)
#
# Model: tiny random towers with a 16,384-dimension sparse head and 5 names a
# dimension (about 1 MB of names, as a named ViT-B/32 model carries), made
# with test/tools.  Data: ROWS random vectors of about 100 non-zeros
# (gen_svec).  Baseline: sum(nnz(v)), which reads and detoasts every row and
# calls a function on it.  Measured: concepts(v) (k = 10) and concepts(v, 3)
# in a lateral join, and the first call of a session, which parses the
# names.  Times are EXPLAIN ANALYZE execution times, best of REPEAT, after a
# warm-up run in the same session.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
ROWS=${1:-100000}
REPEAT=${REPEAT:-5}
DIMS=16384

make -C "$ROOT" -s install >/dev/null
make -C "$ROOT" -s tools >/dev/null
source "$ROOT/test/bench/cluster.sh"
bench_start_cluster max_parallel_workers_per_gather=0 jit=off
gcc -O2 -o "$BENCH_TMP/gen_svec" "$ROOT/test/bench/gen_svec.c" -lm

cfg='{"image_size":32,"patch_size":16,"vision_width":16,"vision_layers":1,"vision_heads":2,"context_length":16,"vocab_size":574,"text_width":16,"text_layers":1,"text_heads":2,"embed_dim":16,"sparse_dim":16384,"activation":"gelu","image_mean":[0.48145466,0.4578275,0.40821073],"image_std":[0.26862954,0.26130258,0.27577711]}'
"$ROOT/test/tools/bin/make_model" "$cfg" "$ROOT/test/fixtures/encode/model.safetensors" "$BENCH_TMP/base.safetensors" 1
awk -v d=$DIMS 'BEGIN { printf "["; for (i = 1; i <= d; i++) printf "%s[\"concept%d\",\"alt%da\",\"alt%db\",\"alt%dc\",\"alt%dd\"]", (i > 1 ? "," : ""), i, i, i, i, i; print "]" }' > "$BENCH_TMP/names.json"
awk -v d=$DIMS 'BEGIN { printf "["; for (i = 1; i <= d; i++) printf "%s[0.41,0.39,0.38,0.36,0.35]", (i > 1 ? "," : ""); print "]" }' > "$BENCH_TMP/acts.json"
"$ROOT/test/tools/bin/set_concepts" "$BENCH_TMP/base.safetensors" "$BENCH_TMP/model.safetensors" "$BENCH_TMP/names.json" "$BENCH_TMP/acts.json"
echo "generating $ROWS vectors..." >&2
"$BENCH_TMP/gen_svec" "$ROWS" $DIMS 100 1 > "$BENCH_TMP/vecs.txt"
chown -R postgres: "$BENCH_TMP"
export PGOPTIONS="-c sparseclip.model=$BENCH_TMP/model.safetensors"

psql -qX -v ON_ERROR_STOP=1 <<SQL
CREATE EXTENSION sparseclip;
CREATE UNLOGGED TABLE t (id int GENERATED ALWAYS AS IDENTITY, v svec($DIMS));
COPY t (v) FROM '$BENCH_TMP/vecs.txt';
VACUUM ANALYZE t;
SQL

# One session: the first call (parses the names), then each query REPEAT
# times with EXPLAIN ANALYZE; prints "label ms" lines.
{
	echo '\timing on'
	echo "SELECT count(*) FROM concepts((SELECT v FROM t LIMIT 1));"
	echo "SELECT count(*) FROM concepts((SELECT v FROM t LIMIT 1));"
	echo '\timing off'
	for q in "SELECT sum(nnz(v)) FROM t" "SELECT count(*) FROM t, concepts(v) c" "SELECT count(*) FROM t, concepts(v, 3) c"; do
		echo "EXPLAIN (ANALYZE, TIMING OFF) $q;"    # warm-up
		for _ in $(seq "$REPEAT"); do echo "EXPLAIN (ANALYZE, TIMING OFF) $q;"; done
	done
} > "$BENCH_TMP/bench.sql"
psql -qAtX -v ON_ERROR_STOP=1 -f "$BENCH_TMP/bench.sql" > "$BENCH_TMP/out.txt"

first=$(grep '^Time:' "$BENCH_TMP/out.txt" | sed -n 1p | awk '{ print $2 }')
second=$(grep '^Time:' "$BENCH_TMP/out.txt" | sed -n 2p | awk '{ print $2 }')
# execution times in order: 1 + REPEAT per query; the best of each group after its warm-up
grep '^Execution Time:' "$BENCH_TMP/out.txt" | awk '{ print $3 }' > "$BENCH_TMP/times.txt"
best() { sed -n "$(( $1 * (REPEAT + 1) + 2 )),$(( ($1 + 1) * (REPEAT + 1) ))p" "$BENCH_TMP/times.txt" | sort -g | head -1; }
base=$(best 0)
c10=$(best 1)
c3=$(best 2)
avg_nnz=$(psql -qAtX -c "SELECT round(avg(nnz(v)), 1) FROM t")
per_row() { awk -v a="$1" -v b="$base" -v n="$ROWS" 'BEGIN { printf "%.2f", (a - b) * 1000 / n }'; }
ratio() { awk -v a="$1" -v b="$base" 'BEGIN { printf "%.2f", a / b }'; }

echo
echo "concepts benchmark: $ROWS rows, $DIMS dims, mean nnz $avg_nnz, 5 names a dimension; $(nproc) cores; best of $REPEAT"
printf '%-44s %10s %16s %10s\n' "query" "ms" "extra us / row" "ratio"
printf '%-44s %10s %16s %10s\n' "sum(nnz(v)) (reading the row)" "$base" "-" "1.00"
printf '%-44s %10s %16s %10s\n' "t, concepts(v) (k = 10, 10 rows out)" "$c10" "$(per_row "$c10")" "$(ratio "$c10")"
printf '%-44s %10s %16s %10s\n' "t, concepts(v, 3)" "$c3" "$(per_row "$c3")" "$(ratio "$c3")"
echo "first concepts() call of a session (loads the model, parses the names): $first ms; the second: $second ms"
