#!/usr/bin/env bash
# What loading sparseclip costs a new backend, two builds side by side: each
# build in a database of its own; per round, N new connections per build
# (alternating), each running one svec cast (which loads the library) and
# then reading its own /proc/self/stat and status: CPU time (user + system,
# in clock ticks) and threads.  Then one connection per build encodes a text
# and reports its threads again (sparseclip.threads is 1).
#
#   bash test/bench/backend_start.sh DIR_A DIR_B [N]     default N 20
#
# The server runs without OPENBLAS_NUM_THREADS in its environment, as a
# service manager would start it.
#
# DIR_A and DIR_B hold builds (`make` in a checkout or worktree); run as root
# (installs them as sparseclip_a and sparseclip_b, removed at the end).
# ROUNDS (default 3).  Writes backend-start.tsv to $BENCH_OUT (default
# test/bench/results).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
A=$(cd "$1" && pwd)
B=$(cd "$2" && pwd)
N=${3:-20}
ROUNDS=${ROUNDS:-3}
OUT=${BENCH_OUT:-$ROOT/test/bench/results}
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)

source "$ROOT/test/bench/cluster.sh"
bench_install_build "$A" sparseclip_a
bench_install_build "$B" sparseclip_b
# the server's own environment: no OPENBLAS_NUM_THREADS
BENCH_SERVER_ENV= bench_start_cluster
psql() { runuser -u postgres -- "$BENCH_BINDIR/psql" -X -q -At -v ON_ERROR_STOP=1 "$@"; }
for x in a b; do
	psql -c "CREATE DATABASE db_$x"
	psql -d "db_$x" -c "CREATE EXTENSION sparseclip_$x"
done

# one connection: load the library, then its own CPU ticks and threads
probe() {
	psql -d "db_$1" -F ' ' -c "SELECT '{1:2}/3'::svec IS NOT NULL" \
		-c "SELECT split_part(pg_read_file('/proc/self/stat'), ' ', 14)::int
			+ split_part(pg_read_file('/proc/self/stat'), ' ', 15)::int,
			(regexp_match(pg_read_file('/proc/self/status'), 'Threads:\s+(\d+)'))[1]" | tail -n 1
}

{
	printf 'round\tbuild\tconnections\tCPU ms per backend (mean)\tthreads (max)\n'
	for r in $(seq "$ROUNDS"); do
		for x in a b; do
			ticks=0
			threads=0
			for i in $(seq "$N"); do
				read -r t th < <(probe "$x")
				ticks=$((ticks + t))
				[ "$th" -gt "$threads" ] && threads=$th
			done
			printf '%d\t%s\t%d\t%.1f\t%d\n' "$r" "$x" "$N" "$(echo "$ticks * 1000 / $(getconf CLK_TCK) / $N" | bc -l)" "$threads"
		done
	done
} | tee "$BENCH_TMP/probe.tsv"
# after an encoding, if the default model is installed
for x in a b; do
	psql -d "db_$x" -F ' ' -c "SELECT count(*) FROM (SELECT encode_text('a photo of a cat')) s" \
		-c "SELECT (regexp_match(pg_read_file('/proc/self/status'), 'Threads:\s+(\d+)'))[1]" 2>/dev/null |
		tail -n 1 | sed "s/^/threads after encode_text, build $x: /" || echo "build $x: no default model to encode with"
done | tee "$BENCH_TMP/encode.txt"
awk -F'\t' 'NR > 1 { s[$2] += $4; n[$2]++ }
	END { printf "mean CPU ms per backend: a %.1f, b %.1f; b/a %.2f\n", s["a"] / n["a"], s["b"] / n["b"], (s["b"] / n["b"]) / (s["a"] / n["a"]) }' \
	"$BENCH_TMP/probe.tsv" | tee -a "$BENCH_TMP/probe.tsv"
cat "$BENCH_TMP/probe.tsv" "$BENCH_TMP/encode.txt" > "$OUT/backend-start.tsv"
