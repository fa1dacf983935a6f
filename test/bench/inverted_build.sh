#!/usr/bin/env bash
# CREATE INDEX ... USING inverted: serial against two parallel workers,
# within maintenance_work_mem and without a bound, side by side.
#
#   bash test/bench/inverted_build.sh [ROWS]          default ROWS 1000000
#
# Run as root after `make install` (BENCH_EXTENSION as in inverted.sh).  A
# throwaway cluster (test/bench/cluster.sh, autovacuum off) holds ROWS
# synthetic documents (test/bench/inverted_gen.c, ~96 non-zeros) with the
# table's parallel_workers = 2, and NQ (default 100) text-like queries.
# Each round (ROUNDS, default 2; the order of the builds reversed every
# other round) builds an svec_ip_ops index four ways: 0 and 2 workers
# (max_parallel_maintenance_workers), maintenance_work_mem MEM_SMALL
# (default 64MB) and MEM_BIG (default 4GB); each after a CHECKPOINT, timed
# by psql.  For each build it reports the time, the sorted runs and the
# most memory a participant accounted for (the DEBUG1 lines), the peak
# RssAnon of the leader above its level before the build and the sum of
# the workers' peak RssAnon (sampled every 20 ms from /proc), the
# segments in the index (its metapage, through pageinspect), and a hash
# of the ids and distances of the NQ queries' top 10 through the index,
# which must be the same for every build (the first 10 queries are also
# compared once with a sequential scan).  Then, per memory setting, the
# median time with 0 and with 2 workers and their ratio.  Writes
# inverted-build-<rows>.tsv to $BENCH_OUT (default test/bench/results).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
N=${1:-1000000}
ROUNDS=${ROUNDS:-2}
# parallel workers besides the leader (WORKERS=1: two processes, one a core here)
W=${WORKERS:-2}
NQ=${NQ:-100}
MEM_SMALL=${MEM_SMALL:-64MB}
MEM_BIG=${MEM_BIG:-4GB}
OUT=${BENCH_OUT:-$ROOT/test/bench/results}
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)

source "$ROOT/test/bench/cluster.sh"
bench_start_cluster autovacuum=off max_worker_processes=8 max_parallel_workers=8 \
	max_parallel_workers_per_gather=0 shared_buffers=4GB
gcc -O2 -Wall -Wextra -o "$BENCH_TMP/gen" "$ROOT/test/bench/inverted_gen.c" -lm

# The sampler: every 20 ms, the RssAnon of the backend (its pid in $1) and
# of every process of the cluster that started after the sampler (the
# parallel workers), until $BENCH_TMP/stop exists; prints the backend's
# first and peak values and the sum of the others' peaks, in kB.
cat > "$BENCH_TMP/sample.sh" <<'SH'
#!/usr/bin/env bash
pid=$1; dir=$2
pm=$(head -n 1 "$dir/data/postmaster.pid")
rss() { awk '/^RssAnon:/ { print $2 }' "/proc/$1/status" 2>/dev/null || true; }
declare -A before peak
for c in $(pgrep -P "$pm"); do before[$c]=1; done
base=$(rss "$pid"); top=$base
while [ ! -e "$dir/stop" ]; do
	v=$(rss "$pid"); [ -n "$v" ] && [ "$v" -gt "$top" ] && top=$v
	for c in $(pgrep -P "$pm"); do
		[ -n "${before[$c]:-}" ] && continue
		v=$(rss "$c"); [ -n "$v" ] || continue
		[ "$v" -gt "${peak[$c]:-0}" ] && peak[$c]=$v
	done
	sleep 0.02
done
sum=0; for c in "${!peak[@]}"; do sum=$((sum + peak[$c])); done
echo "$base $top $sum"
SH
chmod 755 "$BENCH_TMP/sample.sh"
chown -R postgres: "$BENCH_TMP"
psql() { runuser -u postgres -- "$BENCH_BINDIR/psql" -X -q -v ON_ERROR_STOP=1 "$@"; }

psql -c "CREATE EXTENSION ${BENCH_EXTENSION:-sparseclip}" -c "CREATE EXTENSION pageinspect" \
	-c "CREATE TABLE docs (id int, emb svec)" -c "CREATE TABLE queries (id int, emb svec)" \
	-c "\\copy docs FROM PROGRAM '$BENCH_TMP/gen docs $N 1'" \
	-c "\\copy queries FROM PROGRAM '$BENCH_TMP/gen text $NQ 3'" \
	-c "ALTER TABLE docs SET (parallel_workers = $W)" \
	-c "VACUUM ANALYZE docs" -c "VACUUM ANALYZE queries"
psql <<'SQL'
-- the ids and distances of each query's top 10 (through the index when idx)
CREATE FUNCTION answers(idx bool, nq int) RETURNS SETOF text LANGUAGE plpgsql AS $$
DECLARE
	r record;
	a text;
BEGIN
	PERFORM set_config('enable_seqscan', (NOT idx)::text, true);
	PERFORM set_config('enable_indexscan', idx::text, true);
	FOR r IN SELECT q.id, q.emb FROM queries q ORDER BY q.id LIMIT nq LOOP
		SELECT string_agg(id || ':' || d, ' ' ORDER BY d, id) INTO a
		FROM (SELECT id, emb <#> r.emb AS d FROM docs ORDER BY emb <#> r.emb LIMIT 10) s;
		RETURN NEXT a;
	END LOOP;
END $$;
SQL

TSV=$OUT/inverted-build-$N$([ "$W" = 2 ] || echo "-w$W").tsv
configs=("0 $MEM_SMALL" "$W $MEM_SMALL" "0 $MEM_BIG" "$W $MEM_BIG")
printf 'round\tworkers\tmaintenance_work_mem\tbuild s\truns\tmost accounted kB\tleader RssAnon MB\tworkers RssAnon MB\tsegments\tanswers\n' \
	> "$TSV"
for round in $(seq "$ROUNDS"); do
	order=(0 1 2 3)
	[ $((round % 2)) -eq 0 ] && order=(3 2 1 0)
	for i in "${order[@]}"; do
		read -r w mem <<< "${configs[$i]}"
		psql -c "DROP INDEX IF EXISTS docs_idx" -c "CHECKPOINT"
		rm -f "$BENCH_TMP/stop"
		out=$(psql 2>&1 <<SQL
SET client_min_messages = debug1;
SET max_parallel_maintenance_workers = $w;
SET maintenance_work_mem = '$mem';
SELECT pg_backend_pid() AS pid \gset
\setenv BACKEND :pid
\! $BENCH_TMP/sample.sh \$BACKEND $BENCH_TMP > $BENCH_TMP/mem.txt &
\! sleep 0.2
\timing on
CREATE INDEX docs_idx ON docs USING inverted (emb svec_ip_ops);
\timing off
\! touch $BENCH_TMP/stop; sleep 0.1
SQL
)
		sleep 0.2
		ms=$(sed -n 's/^Time: \([0-9.]*\) ms.*/\1/p' <<< "$out" | tail -n 1)
		# (none when everything fitted in memory)
		runs=$( (grep -o 'merging [0-9]* sorted runs\|build: [0-9]* documents in [0-9]* sorted runs' <<< "$out" || true) |
			   (grep -o '[0-9]* sorted' || true) | awk '{ s += $1 } END { print s + 0 }')
		acct=$( (grep -o 'at most [0-9]* kB' <<< "$out" || true) | awk '{ if ($3 > m) m = $3 } END { print m + 0 }')
		read -r base top wsum < "$BENCH_TMP/mem.txt"
		segs=$(psql -At -c "SELECT get_byte(p, 64) + 256 * get_byte(p, 65) FROM get_raw_page('docs_idx', 0) p")
		hash=$(psql -At -c "SELECT md5(string_agg(a, '|')) FROM answers(true, $NQ) a")
		printf '%s\t%s\t%s\t%.2f\t%s\t%s\t%.0f\t%.0f\t%s\t%s\n' "$round" "$w" "$mem" "$(echo "$ms / 1000" | bc -l)" \
			"$runs" "$acct" "$(echo "($top - $base) / 1024" | bc -l)" "$(echo "$wsum / 1024" | bc -l)" "$segs" "$hash" \
			| tee -a "$TSV"
	done
done
seq10=$(psql -At -c "SELECT md5(string_agg(a, '|')) FROM answers(false, 10) a")
idx10=$(psql -At -c "SELECT md5(string_agg(a, '|')) FROM answers(true, 10) a")

echo
printf 'rows\tmaintenance_work_mem\t0 workers s (median)\t%s workers s (median)\tspeedup\n' "$W"
for mem in "$MEM_SMALL" "$MEM_BIG"; do
	med() {
		awk -F '\t' -v w="$1" -v m="$mem" 'NR > 1 && $2 == w && $3 == m { print $4 }' "$TSV" |
			sort -g | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
	}
	s0=$(med 0); s2=$(med "$W")
	printf '%s\t%s\t%.2f\t%.2f\t%.2fx\n' "$N" "$mem" "$s0" "$s2" "$(echo "$s0 / $s2" | bc -l)"
done
nh=$(awk -F '\t' 'NR > 1 { print $10 }' "$TSV" | sort -u | wc -l)
echo "answers of $NQ queries: $nh distinct hash(es) over all builds (1 = every build answered the same)"
[ "$seq10" = "$idx10" ] && echo "first 10 queries: the index equals the sequential scan" ||
	echo "first 10 queries: the index DIFFERS from the sequential scan"
