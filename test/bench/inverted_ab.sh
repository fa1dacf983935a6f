#!/usr/bin/env bash
# Two builds of the extension side by side: the inverted index's query
# latency of build B against build A, on the same data and queries, in one
# cluster (for a refactor or a change that must not slow the scan).
#
#   bash test/bench/inverted_ab.sh DIR_A DIR_B [ROWS]       default ROWS 100000
#
# DIR_A and DIR_B each hold a build: sparseclip.so, sparseclip.control and
# sparseclip--<version>.sql (a checkout after `make`).  Run as root, holding
# /tmp/sparseclip-test.lock: the builds are installed under private names
# (sparseclip_ab_a, sparseclip_ab_b; removed at exit), each created in its
# own database of one throwaway cluster (port 5433), each with the same
# synthetic documents (test/bench/inverted_gen.c) and an svec_ip_ops and an
# svec_cosine_ops index.  Every round times the same NQ (default 100)
# text-like and image-like top-10 queries under <#> and <=> (each query
# once, inside the server, as bench_time does) in A and in B, the order of
# A and B alternating by round; ROUNDS (default 3), after one untimed pass
# of every query in both.  Prints, per operator and query kind, the p50 and
# p95 of all rounds of each build, the ratio B / A, and whether B returned
# exactly A's distances.  SHARED_BUFFERS (default 4GB) should hold both
# databases' indexes: with 1GB at 1M rows and a 5-query warm-up, the
# database loaded last ran text <#> queries 25 % faster whichever build it
# had (two runs, builds swapped).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
[ $# -ge 2 ] || { echo "usage: $0 DIR_A DIR_B [ROWS]" >&2; exit 2; }
DIR_A=$(cd "$1" && pwd)
DIR_B=$(cd "$2" && pwd)
N=${3:-100000}
ROUNDS=${ROUNDS:-3}
NQ=${NQ:-100}
PG_CONFIG=${PG_CONFIG:-/usr/lib/postgresql/15/bin/pg_config}

# install each build under its private name
source "$ROOT/test/bench/cluster.sh"
bench_start_cluster shared_buffers=${SHARED_BUFFERS:-4GB} max_parallel_workers_per_gather=0
bench_install_build "$DIR_A" sparseclip_ab_a
bench_install_build "$DIR_B" sparseclip_ab_b
gcc -O2 -Wall -Wextra -o "$BENCH_TMP/gen" "$ROOT/test/bench/inverted_gen.c" -lm
cat > "$BENCH_TMP/ab.sql" <<'SQL'
-- one row per query: its id, milliseconds, and the distances of
-- ORDER BY emb <op> q LIMIT k through the index
CREATE FUNCTION bench_time_op(op text, qkind text, k int, nq int)
RETURNS TABLE (qid int, ms float8, ds float8[]) LANGUAGE plpgsql AS $$
DECLARE
	r record;
	t0 timestamptz;
	d float8[];
BEGIN
	PERFORM set_config('enable_seqscan', 'off', true);
	FOR r IN SELECT q.id, q.emb FROM queries q WHERE q.kind = qkind ORDER BY q.id LIMIT nq LOOP
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
chown -R postgres: "$BENCH_TMP"
psql() { runuser -u postgres -- "$BENCH_BINDIR/psql" -X -q -v ON_ERROR_STOP=1 "$@"; }

for ab in a b; do
	psql -c "CREATE DATABASE $ab"
	psql -d "$ab" -c "CREATE EXTENSION sparseclip_ab_$ab" -f "$BENCH_TMP/ab.sql" \
		-c "CREATE TABLE docs (id int, emb svec)" -c "CREATE TABLE queries (kind text, id int, emb svec)" \
		-c "\\copy docs FROM PROGRAM '$BENCH_TMP/gen docs $N 1'" \
		-c "CREATE TEMP TABLE q (id int, emb svec)" \
		-c "\\copy q FROM PROGRAM '$BENCH_TMP/gen text $NQ 3'" \
		-c "INSERT INTO queries SELECT 'text', id, emb FROM q" -c "TRUNCATE q" \
		-c "\\copy q FROM PROGRAM '$BENCH_TMP/gen image $NQ 4'" \
		-c "INSERT INTO queries SELECT 'image', id, emb FROM q" \
		-c "VACUUM ANALYZE docs" -c "VACUUM ANALYZE queries" \
		-c "CREATE INDEX docs_ip ON docs USING inverted (emb svec_ip_ops)" \
		-c "CREATE INDEX docs_cos ON docs USING inverted (emb svec_cosine_ops)"
done
psql -c "CHECKPOINT"
# warm-up: every query once in each database, so that both have their pages in memory
for ab in a b; do
	for op in '<#>' '<=>'; do
		for kind in text image; do
			psql -d "$ab" -At -c "SELECT count(*) FROM bench_time_op('$op', '$kind', 10, $NQ)" >/dev/null
		done
	done
done

# per query: build, operator, kind, round, qid, ms, md5 of its distances
: > "$BENCH_TMP/times.tsv"
for round in $(seq "$ROUNDS"); do
	order="a b"
	[ $((round % 2)) -eq 0 ] && order="b a"
	for op in '<#>' '<=>'; do
		for kind in text image; do
			for ab in $order; do
				psql -d "$ab" -At -F $'\t' -c "SELECT '$ab', '$op', '$kind', $round, qid, ms, md5(ds::text)
						FROM bench_time_op('$op', '$kind', 10, $NQ)" >> "$BENCH_TMP/times.tsv"
			done
		done
	done
done

printf 'rows\toperator\tqueries\tA p50 ms\tB p50 ms\tB/A p50\tA p95 ms\tB p95 ms\tB/A p95\tanswers\n'
for op in '<#>' '<=>'; do
	for kind in text image; do
		pct() {			# BUILD P: the P-th percentile of the build's times (nearest rank)
			awk -F '\t' -v b="$1" -v o="$op" -v k="$kind" '$1 == b && $2 == o && $3 == k { print $6 }' "$BENCH_TMP/times.tsv" |
				sort -g | awk -v p="$2" '{ v[NR] = $1 } END { i = int(p * NR + 0.999999); if (i < 1) i = 1; print v[i] }'
		}
		a50=$(pct a 0.5); b50=$(pct b 0.5); a95=$(pct a 0.95); b95=$(pct b 0.95)
		same=$(awk -F '\t' -v o="$op" -v k="$kind" '$2 == o && $3 == k { h[$1 FS $4 FS $5] = $7 }
			END { n = 0; m = 0; for (x in h) { split(x, f, FS); if (f[1] != "a") continue; n++; if (h["b" FS f[2] FS f[3]] == h[x]) m++ }
				  printf "%d of %d equal", m, n }' "$BENCH_TMP/times.tsv")
		awk -v n="$N" -v o="$op" -v k="$kind" -v a50="$a50" -v b50="$b50" -v a95="$a95" -v b95="$b95" -v s="$same" \
			'BEGIN { printf "%d\t%s\t%s top-10\t%.3f\t%.3f\t%.3f\t%.3f\t%.3f\t%.3f\t%s\n", n, o, k, a50, b50, b50 / a50, a95, b95, b95 / a95, s }'
	done
done
