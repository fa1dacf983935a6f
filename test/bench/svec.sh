#!/usr/bin/env bash
# svec benchmark: text parse and print throughput, and <#> evaluations per
# second in a sequential scan, each beside a baseline run in the same script
# on the same data (these machines are shared and noisy: read the ratios).
#
#   bash test/bench/svec.sh [ROWS]      (default 1,000,000; as root)
#
# Data: ROWS random vectors, 16,384 dims, about 100 non-zeros (uniform in
# 50..150), Zipf-like dimension popularity, non-negative, L2-normalised.
# Baselines: the same lines COPYed as plain text (parse/print), and
# sum(nnz(v)) over the same table (scan, detoast and call overhead).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
ROWS=${1:-1000000}
REPEAT=3

make -C "$ROOT" -s install >/dev/null
source "$ROOT/test/bench/cluster.sh"
bench_start_cluster max_parallel_workers_per_gather=0 jit=off
gcc -O2 -o "$BENCH_TMP/gen_svec" "$ROOT/test/bench/gen_svec.c" -lm
echo "generating $ROWS vectors..." >&2
"$BENCH_TMP/gen_svec" "$ROWS" 16384 100 1 > "$BENCH_TMP/vecs.txt"
chown postgres: "$BENCH_TMP/vecs.txt"
BYTES=$(stat -c %s "$BENCH_TMP/vecs.txt")

psql -qX -v ON_ERROR_STOP=1 <<SQL
CREATE EXTENSION sparseclip;
CREATE UNLOGGED TABLE t_text (v text);
CREATE UNLOGGED TABLE t_svec (v svec);
SQL

# Milliseconds taken by one SQL statement (best of REPEAT, after a truncate
# where the statement loads a table).
time_sql() {
	local sql=$1 setup=${2:-} best=
	for _ in $(seq $REPEAT); do
		[ -n "$setup" ] && psql -qX -c "$setup" >/dev/null
		local t0 t1
		t0=$(date +%s%N)
		psql -qX -v ON_ERROR_STOP=1 -c "$sql" >/dev/null
		t1=$(date +%s%N)
		local ms=$(( (t1 - t0) / 1000000 ))
		if [ -z "$best" ] || [ "$ms" -lt "$best" ]; then best=$ms; fi
	done
	echo "$best"
}

echo "loading..." >&2
parse_text=$(time_sql "COPY t_text FROM '$BENCH_TMP/vecs.txt'" "TRUNCATE t_text")
parse_svec=$(time_sql "COPY t_svec FROM '$BENCH_TMP/vecs.txt'" "TRUNCATE t_svec")
psql -qX -c "VACUUM ANALYZE t_text" -c "VACUUM ANALYZE t_svec" >/dev/null
print_text=$(time_sql "COPY t_text TO '/dev/null'")
print_svec=$(time_sql "COPY t_svec TO '/dev/null'")

Q=$("$BENCH_TMP/gen_svec" 1 16384 24 7)
psql -qX -c "SELECT sum(nnz(v)) FROM t_svec" >/dev/null   # warm the cache
scan_base=$(time_sql "SELECT sum(nnz(v)) FROM t_svec")
scan_ip=$(time_sql "SELECT sum(v <#> '$Q') FROM t_svec")
avg_nnz=$(psql -qAtX -c "SELECT round(avg(nnz(v)), 1) FROM t_svec")
round_trip=$(psql -qAtX -c "SELECT count(*) FROM t_text t JOIN LATERAL (SELECT t.v::svec::text::svec = t.v::svec AS same) s ON true WHERE NOT same")

per_s() { awk -v n="$1" -v ms="$2" 'BEGIN { printf "%.0f", n / (ms / 1000.0) }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }
mbs() { awk -v n="$BYTES" -v ms="$1" 'BEGIN { printf "%.0f", n / 1048576 / (ms / 1000.0) }'; }

echo
echo "svec benchmark: $ROWS vectors, 16384 dims, mean nnz $avg_nnz, $(( BYTES / 1048576 )) MiB of text; $(nproc) cores; best of $REPEAT"
echo "round-trip mismatches (text -> svec -> text -> svec): $round_trip"
printf '%-28s %12s %14s %10s %22s\n' "measure" "svec ms" "svec per s" "MiB/s" "svec / baseline time"
printf '%-28s %12s %14s %10s %22s\n' "parse (COPY FROM)" "$parse_svec" "$(per_s "$ROWS" "$parse_svec")" "$(mbs "$parse_svec")" "$(ratio "$parse_svec" "$parse_text") (text: $parse_text ms)"
printf '%-28s %12s %14s %10s %22s\n' "print (COPY TO)" "$print_svec" "$(per_s "$ROWS" "$print_svec")" "$(mbs "$print_svec")" "$(ratio "$print_svec" "$print_text") (text: $print_text ms)"
printf '%-28s %12s %14s %10s %22s\n' "<#> in a seq scan" "$scan_ip" "$(per_s "$ROWS" "$scan_ip")" "-" "$(ratio "$scan_ip" "$scan_base") (nnz(): $scan_base ms)"
