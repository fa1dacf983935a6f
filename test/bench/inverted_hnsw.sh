#!/usr/bin/env bash
# The inverted index side by side with pgvector's HNSW, in one cluster: one
# table holds the same synthetic Sparse-CLIP-like vectors
# (test/bench/inverted_gen.c) twice, as an svec column with an inverted
# index (svec_ip_ops) and as a sparsevec(16384) column with an HNSW index
# (sparsevec_ip_ops, m 16, ef_construction 64), and the same top-10 queries
# by <#> go through a sequential scan, the inverted index and HNSW at three
# hnsw.ef_search values.
#
#   bash test/bench/inverted_hnsw.sh [ROWS]        default 100000
#
# Run as root after `make` in BENCH_BUILD (default this checkout): that
# build is installed under a private name (sparseclip_bench_hnsw_PID) and
# removed at exit, so other installs do not swap it during the run and no
# lock is held.  HNSW is built only when pgvector ("vector") is installed;
# without it the HNSW columns are skipped with a message.
#
# Latency is measured from the client (test/bench/inverted_hnsw_client.c,
# libpq, one connection): each query is sent with PQexecParams and timed
# from send to the last row received, so parse, plan and the round trip
# over the unix socket are included.  ROUNDS (default 2) rounds, the methods
# in reverse order in even rounds; in each, a method runs its queries once
# unmeasured (to warm the caches), then once measured; p50 and p95 are over
# all measured queries.  The server runs with jit = off and
# max_parallel_workers_per_gather = 0 (every method on one process).
# NQ (default 100) text-like and NQ image-like queries; the sequential scan
# runs only the first NQ_SEQ of each kind (default NQ up to 200,000 rows,
# else 10).  Recall@10 of HNSW is against the inverted index's answer, which
# must equal the sequential scan's: the distances of every query both ran
# are compared and the count printed; a mismatch fails the run.
#
# Two more sets of columns, on the same index: `inverted-t2`, the exact
# scan with its helper thread (sparseclip.inverted_scan_threads = 2, off by
# default: it takes a second core), whose answers must equal `inverted`'s;
# and `approxN` for each N in APPROX (default "4 8 12 24 48"; empty: none),
# the approximate setting sparseclip.inverted_query_terms = N, with its
# recall@10, so that HNSW and the index can be compared at equal recall in
# one cluster.
#
# QUIET, when set, prefixes the measuring phase only (for instance
# QUIET=/tmp/quiet2.sh, which pauses other work on the machine meanwhile).
# HNSW_MWM (default 4GB) is maintenance_work_mem for the HNSW build, so that
# the graph stays in memory; HNSW_BUILD_LIMIT (seconds, default 3600)
# cancels an HNSW build that takes longer (then its columns are skipped).
# Writes inverted-hnsw-<rows>.tsv and inverted-hnsw-<rows>.png (gnuplot, if
# installed) to $BENCH_OUT (default test/bench/results).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
N=${1:-100000}
NQ=${NQ:-100}
if [ "$N" -le 200000 ]; then NQ_SEQ=${NQ_SEQ:-$NQ}; else NQ_SEQ=${NQ_SEQ:-10}; fi
ROUNDS=${ROUNDS:-2}
EFS=(${EFS:-40 100 200})
APPROX=(${APPROX-4 8 12 24 48})
HNSW_MWM=${HNSW_MWM:-4GB}
HNSW_BUILD_LIMIT=${HNSW_BUILD_LIMIT:-3600}
QUIET=${QUIET:-}
BENCH_BUILD=$(cd "${BENCH_BUILD:-$ROOT}" && pwd)
OUT=${BENCH_OUT:-$ROOT/test/bench/results}
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)
PG_CONFIG=${PG_CONFIG:-/usr/lib/postgresql/15/bin/pg_config}
EXT=sparseclip_bench_hnsw_$$

source "$ROOT/test/bench/cluster.sh"
bench_start_cluster shared_buffers=${SHARED_BUFFERS:-4GB} max_parallel_workers_per_gather=0 jit=off
bench_install_build "$BENCH_BUILD" "$EXT"

gcc -O2 -Wall -Wextra -o "$BENCH_TMP/gen" "$ROOT/test/bench/inverted_gen.c" -lm
gcc -O2 -Wall -Wextra -I"$("$PG_CONFIG" --includedir)" -o "$BENCH_TMP/client" \
	"$ROOT/test/bench/inverted_hnsw_client.c" -L"$("$PG_CONFIG" --libdir)" -lpq
chown -R postgres: "$BENCH_TMP"
psql() { runuser -u postgres -- "$BENCH_BINDIR/psql" -X -q -v ON_ERROR_STOP=1 "$@"; }
secs() { date +%s.%N; }

psql -c "CREATE EXTENSION $EXT"
have_hnsw=$(psql -At -c "SELECT count(*) FROM pg_available_extensions WHERE name = 'vector'")
if [ "$have_hnsw" = 1 ]; then
	psql -c "CREATE EXTENSION vector"
	vver=$(psql -At -c "SELECT extversion FROM pg_extension WHERE extname = 'vector'")
	echo "# pgvector extversion $vver"
else
	echo "# pgvector not installed: HNSW columns skipped"
	vver=-
fi
echo "# sparseclip build: $BENCH_BUILD ($(git -C "$BENCH_BUILD" log -1 --format=%h 2>/dev/null || echo '?'))"

# the same vectors as svec and, with pgvector, as sparsevec (one text form)
t0=$(secs)
cols="id int, emb svec"; sel="id, t::svec"
[ "$have_hnsw" = 1 ] && { cols="$cols, sv sparsevec(16384)"; sel="$sel, t::sparsevec(16384)"; }
psql -c "CREATE TEMP TABLE src (id int, t text)" \
	-c "\\copy src FROM PROGRAM '$BENCH_TMP/gen docs $N 1'" \
	-c "CREATE TABLE bench ($cols)" -c "INSERT INTO bench SELECT $sel FROM src ORDER BY id" \
	-c "CREATE TABLE queries (kind text, id int, t text)" -c "TRUNCATE src" \
	-c "\\copy src FROM PROGRAM '$BENCH_TMP/gen text $NQ 3'" -c "INSERT INTO queries SELECT 'text', id, t FROM src" \
	-c "TRUNCATE src" \
	-c "\\copy src FROM PROGRAM '$BENCH_TMP/gen image $NQ 4'" -c "INSERT INTO queries SELECT 'image', id, t FROM src"
psql -c "VACUUM ANALYZE bench"
printf '# loaded %s rows in %.0f s\n' "$N" "$(echo "$(secs) - $t0" | bc)"

t0=$(secs)
psql -c "CREATE INDEX bench_inv ON bench USING inverted (emb svec_ip_ops)"
inv_build=$(printf '%.1f' "$(echo "$(secs) - $t0" | bc)")
inv_mb=$(psql -At -c "SELECT round(pg_relation_size('bench_inv') / 1048576.0, 1)")
echo "# inverted: built in $inv_build s, $inv_mb MB"
hnsw_build=-; hnsw_mb=-
if [ "$have_hnsw" = 1 ]; then
	t0=$(secs)
	if psql -c "SET maintenance_work_mem = '$HNSW_MWM'" -c "SET statement_timeout = '${HNSW_BUILD_LIMIT}s'" \
		-c "CREATE INDEX bench_hnsw ON bench USING hnsw (sv sparsevec_ip_ops) WITH (m = 16, ef_construction = 64)" \
		2> "$BENCH_TMP/hnsw.err"; then
		hnsw_build=$(printf '%.1f' "$(echo "$(secs) - $t0" | bc)")
		hnsw_mb=$(psql -At -c "SELECT round(pg_relation_size('bench_hnsw') / 1048576.0, 1)")
		echo "# hnsw: built in $hnsw_build s, $hnsw_mb MB"
		grep -h NOTICE "$BENCH_TMP/hnsw.err" || true
	else
		cat "$BENCH_TMP/hnsw.err" >&2
		echo "# hnsw: build failed or passed ${HNSW_BUILD_LIMIT} s: HNSW columns skipped"
		have_hnsw=0
	fi
fi
psql -c "VACUUM ANALYZE bench" -c "CHECKPOINT"

# plans: each method must use what it names
for k in text image; do
	psql -At -c "\\copy (SELECT kind, id, t FROM queries WHERE kind = '$k' ORDER BY id) TO '$BENCH_TMP/q-$k.tsv'"
	psql -At -c "\\copy (SELECT kind, id, t FROM queries WHERE kind = '$k' ORDER BY id LIMIT $NQ_SEQ) TO '$BENCH_TMP/qs-$k.tsv'"
done
q1=$(psql -At -c "SELECT t FROM queries ORDER BY kind, id LIMIT 1")
# each method's settings start from RESET ALL: one client session runs them all
SEQ_SET="RESET ALL; SET enable_indexscan = off; SET enable_bitmapscan = off"
IDX_SET="RESET ALL; SET enable_seqscan = off"
Q_SVEC="SELECT id, emb <#> \$1::svec FROM bench ORDER BY emb <#> \$1::svec LIMIT 10"
Q_SPARSE="SELECT id, sv <#> \$1::sparsevec FROM bench ORDER BY sv <#> \$1::sparsevec LIMIT 10"
plan_uses() {			# SETUP QUERY PATTERN
	local p
	local rep="'$q1'"
	p=$(psql -At -c "$1" -c "EXPLAIN (COSTS OFF) ${2//\$1/$rep}")
	grep -q "$3" <<< "$p" || { echo "plan does not use $3:" >&2; echo "$p" >&2; exit 1; }
}
plan_uses "$SEQ_SET" "$Q_SVEC" "Seq Scan on bench"
plan_uses "$IDX_SET" "$Q_SVEC" "Index Scan using bench_inv"
methods=(seq inverted inverted-t2)
for a in "${APPROX[@]}"; do methods+=("approx$a"); done
[ "$have_hnsw" = 1 ] && { plan_uses "$IDX_SET" "$Q_SPARSE" "Index Scan using bench_hnsw"; for e in "${EFS[@]}"; do methods+=("hnsw$e"); done; }

plan_line() {			# METHOD KIND PASSES
	local m=$1 k=$2 n=$3
	case $m in
		seq) printf 'seq\t%s\t%s\t%s\t%s\n' "$n" "$SEQ_SET" "$Q_SVEC" "$BENCH_TMP/qs-$k.tsv" ;;
		inverted) printf 'inverted\t%s\t%s\t%s\t%s\n' "$n" "$IDX_SET" "$Q_SVEC" "$BENCH_TMP/q-$k.tsv" ;;
		inverted-t2) printf 'inverted-t2\t%s\t%s; SET sparseclip.inverted_scan_threads = 2\t%s\t%s\n' "$n" "$IDX_SET" "$Q_SVEC" "$BENCH_TMP/q-$k.tsv" ;;
		approx*) printf '%s\t%s\t%s; SET sparseclip.inverted_query_terms = %s\t%s\t%s\n' "$m" "$n" "$IDX_SET" "${m#approx}" "$Q_SVEC" "$BENCH_TMP/q-$k.tsv" ;;
		hnsw*) printf '%s\t%s\t%s; SET hnsw.ef_search = %s\t%s\t%s\n' "$m" "$n" "$IDX_SET" "${m#hnsw}" "$Q_SPARSE" "$BENCH_TMP/q-$k.tsv" ;;
	esac
}
: > "$BENCH_TMP/plan.tsv"
for round in $(seq "$ROUNDS"); do
	order=("${methods[@]}")
	if [ $((round % 2)) -eq 0 ]; then
		order=(); for ((i = ${#methods[@]} - 1; i >= 0; i--)); do order+=("${methods[i]}"); done
	fi
	for k in text image; do
		for m in "${order[@]}"; do
			plan_line "$m" "$k" 2 >> "$BENCH_TMP/plan.tsv"
		done
	done
done
echo "# measuring (${QUIET:-no QUIET wrapper})"
$QUIET "$BENCH_TMP/client" "host=$PGHOST port=$PGPORT user=postgres dbname=postgres" "$BENCH_TMP/plan.tsv" \
	> "$BENCH_TMP/times.tsv"

# the sequential scan's distances must equal the inverted index's
check=$(awk -F '\t' '$1 == "seq" { s[$3 FS $4] = $7 } $1 == "inverted" { v[$3 FS $4] = $7 }
	END { n = 0; m = 0; for (x in s) { n++; if (v[x] == s[x]) m++ } print m, n }' "$BENCH_TMP/times.tsv")
read -r eq neq <<< "$check"
echo "# inverted = sequential scan: $eq of $neq queries equal"
[ "$eq" = "$neq" ] && [ "$neq" -gt 0 ] || { echo "inverted index answers differ from the sequential scan" >&2; exit 1; }
# the helper thread changes how the work is split, never the answer
check=$(awk -F '\t' '$1 == "inverted" { s[$3 FS $4] = $7 } $1 == "inverted-t2" { v[$3 FS $4] = $7 }
	END { n = 0; m = 0; for (x in s) { n++; if (v[x] == s[x]) m++ } print m, n }' "$BENCH_TMP/times.tsv")
read -r eq neq <<< "$check"
echo "# inverted with its helper thread = without: $eq of $neq queries equal"
[ "$eq" = "$neq" ] && [ "$neq" -gt 0 ] || { echo "the helper thread changed an answer" >&2; exit 1; }

stat() {				# METHOD KIND -> "p50 p95 n recall"
	local pct rec
	pct=$(awk -F '\t' -v m="$1" -v k="$2" '$1 == m && $3 == k { print $5 }' "$BENCH_TMP/times.tsv" | sort -g |
		awk '{ v[NR] = $1 } END { i = int(0.5 * NR + 0.999999); j = int(0.95 * NR + 0.999999); if (i < 1) i = 1; if (j < 1) j = 1
			printf "%.2f %.2f %d", v[i], v[j], NR }')
	rec=$(awk -F '\t' -v m="$1" -v k="$2" '
		$1 == "inverted" && $3 == k { n = split($6, a, ","); for (i = 1; i <= n; i++) ex[$4 FS a[i]] = 1; nex[$4] = n }
		$1 == m && $3 == k { n = split($6, a, ","); hit = 0; for (i = 1; i <= n; i++) if (($4 FS a[i]) in ex) hit++; rq[$4] = hit }
		END { s = 0; c = 0; for (q in rq) { s += rq[q] / (nex[q] > 0 ? nex[q] : 1); c++ }; printf "%.3f", c ? s / c : 0 }' \
		"$BENCH_TMP/times.tsv")
	echo "$pct $rec"
}

tsv="$OUT/inverted-hnsw-$N.tsv"
printf 'rows\tkind\tmethod\tp50 ms\tp95 ms\tqueries\trecall@10\tbuild s\tindex MB\tpgvector\n' > "$tsv"
for k in text image; do
	for m in "${methods[@]}"; do
		read -r p50 p95 n rec <<< "$(stat "$m" "$k")"
		b=-; mb=-
		case $m in inverted* | approx*) b=$inv_build; mb=$inv_mb ;; hnsw*) b=$hnsw_build; mb=$hnsw_mb ;; esac
		case $m in seq | inverted*) rec=1.000 ;; esac
		printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$N" "$k" "$m" "$p50" "$p95" "$n" "$rec" "$b" "$mb" "$vver" >> "$tsv"
	done
done

# the table: p50 / p95 ms (recall@10) per method
echo
printf '%-8s %-6s' rows kind
for m in "${methods[@]}"; do printf ' | %-24s' "$m"; done
echo
for k in text image; do
	printf '%-8s %-6s' "$N" "$k"
	for m in "${methods[@]}"; do
		awk -F '\t' -v k="$k" -v m="$m" '$2 == k && $3 == m {
			printf " | %-24s", sprintf("%s / %s ms%s", $4, $5, (m ~ /^(hnsw|approx)/ ? sprintf(" (%.3f)", $7) : "")) }' "$tsv"
	done
	echo
done
echo "# p50 / p95 ms from the client, round trip included; (recall@10 against the exact answer)"
echo "# seq: $NQ_SEQ queries of each kind x $ROUNDS rounds; others: $NQ x $ROUNDS"
echo "# build: inverted $inv_build s ($inv_mb MB); hnsw $hnsw_build s ($hnsw_mb MB)"
if [ "$have_hnsw" = 1 ] && [[ " ${methods[*]} " == *" hnsw40 "* ]]; then
	awk -F '\t' '$3 == "inverted" { inv[$2] = $4 } $3 == "hnsw40" { h[$2] = $4 }
		END { printf "# inverted / hnsw ef_search 40 p50: text %.2fx (goal at 1M: <= 0.6x), image %.2fx (goal at 1M: <= 1x)\n",
			  inv["text"] / h["text"], inv["image"] / h["image"] }' "$tsv"
	awk -F '\t' '$3 == "inverted-t2" { inv[$2] = $4 } $3 == "hnsw40" { h[$2] = $4 }
		END { printf "# inverted with its helper thread / hnsw ef_search 40 p50: text %.2fx, image %.2fx\n",
			  inv["text"] / h["text"], inv["image"] / h["image"] }' "$tsv"
	# at equal recall: the fastest approxN whose recall reaches each ef_search's
	awk -F '\t' '$3 ~ /^hnsw/ { hp[$2 FS $3] = $4; hr[$2 FS $3] = $7 } $3 ~ /^approx/ { ap[$2 FS $3] = $4; ar[$2 FS $3] = $7 }
		END { for (h in hp) { split(h, x, FS); best = ""
				for (a in ap) { split(a, y, FS); if (y[1] == x[1] && ar[a] >= hr[h] && (best == "" || ap[a] < ap[best])) best = a }
				if (best == "") printf "# %s %s: recall %.3f in %s ms; no approxN reaches that recall\n", x[1], x[2], hr[h], hp[h]
				else { split(best, y, FS); printf "# %s %s: recall %.3f in %s ms; %s: %.3f in %s ms (%.2fx)\n",
					x[1], x[2], hr[h], hp[h], y[2], ar[best], ap[best], ap[best] / hp[h] } } }' "$tsv" | sort
fi
echo "# wrote $tsv"

bash "$ROOT/test/bench/inverted_hnsw_plot.sh" "$tsv" "$OUT/inverted-hnsw-$N.png"
