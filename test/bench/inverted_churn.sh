#!/usr/bin/env bash
# Churn: an index under steady deletes and inserts, against a fresh build of
# the same rows, side by side.  ROWS synthetic documents (inverted_gen docs),
# then ROUNDS (default 10) rounds of deleting a random 10 % of the rows,
# inserting as many new ones (one INSERT per CHUNK rows: the pending list
# fills and merges as under real inserts) and VACUUM.  After each round:
# index size, inverted_check, and whether NQ (default 5) text-like top-10
# queries equal a sequential scan.  At the end: a fresh index on a copy of
# the table, sizes and text top-10 p50 (100 queries, alternating tables,
# LAT_ROUNDS rounds, default 6) of both, and the ratio of their medians.
#
#   bash test/bench/inverted_churn.sh [ROWS]        default 200000
#
# Run as root after `make install` (holding /tmp/sparseclip-test.lock), or
# with PG_CONFIG naming a private installation.  Writes
# inverted-churn-<rows>.tsv to $BENCH_OUT (default test/bench/results).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
N=${1:-200000}
ROUNDS=${ROUNDS:-10}
NQ=${NQ:-5}
CHUNK=${CHUNK:-1000}
OUT=${BENCH_OUT:-$ROOT/test/bench/results}
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)

source "$ROOT/test/bench/cluster.sh"
bench_start_cluster shared_buffers=2GB max_parallel_workers_per_gather=0 autovacuum=off
gcc -O2 -Wall -Wextra -o "$BENCH_TMP/gen" "$ROOT/test/bench/inverted_gen.c" -lm
cp "$ROOT/test/bench/inverted.sql" "$BENCH_TMP/"
chown -R postgres: "$BENCH_TMP"
psql() { runuser -u postgres -- "$BENCH_BINDIR/psql" -X -q -v ON_ERROR_STOP=1 "$@"; }
M=$((N / 10))

cat > "$BENCH_TMP/churn.sql" <<'SQL'
-- the text queries of bench_time whose top 10 differ from a sequential scan
CREATE FUNCTION churn_mismatches(nq int) RETURNS int LANGUAGE plpgsql AS $$
DECLARE
	bad int;
BEGIN
	CREATE TEMP TABLE ti AS SELECT * FROM bench_time('text', 10, true, nq);
	CREATE TEMP TABLE ts AS SELECT * FROM bench_time('text', 10, false, nq);
	SELECT count(*) INTO bad FROM ti JOIN ts USING (qid) WHERE ti.ds IS DISTINCT FROM ts.ds;
	DROP TABLE ti, ts;
	RETURN bad;
END $$;
-- the metapage's segment list (live documents in thousands, dead %, pages),
-- pending documents and free pages, read with pageinspect
CREATE EXTENSION pageinspect;
CREATE FUNCTION churn_u32(p bytea, off int) RETURNS bigint LANGUAGE sql IMMUTABLE AS $$
	SELECT get_byte(p, off) + get_byte(p, off + 1) * 256::bigint +
		get_byte(p, off + 2) * 65536::bigint + get_byte(p, off + 3) * 16777216::bigint
$$;
CREATE FUNCTION churn_segments(idx regclass) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
	p bytea := get_raw_page(idx::text, 0);
	m int := 24;					-- the payload, after the page header
	s text := '';
	fp bigint := 0;
	i int;
BEGIN
	FOR i IN 0 .. churn_u32(p, m + 40) - 1 LOOP
		s := s || format('%sk/%s%%/%sp ', round((churn_u32(p, m + 48 + 20 * i + 8) -
			churn_u32(p, m + 48 + 20 * i + 12)) / 1000.0, 1),
			round(100.0 * churn_u32(p, m + 48 + 20 * i + 12) / greatest(churn_u32(p, m + 48 + 20 * i + 8), 1)),
			churn_u32(p, m + 48 + 20 * i + 4));
	END LOOP;
	FOR i IN 0 .. churn_u32(p, m + 44) - 1 LOOP
		fp := fp + churn_u32(p, m + 4056 + 16 * i + 4);
	END LOOP;
	RETURN s || format('| pending %s, free %s pages in %s runs, of %s',
		churn_u32(p, m + 28), fp, churn_u32(p, m + 44), pg_relation_size(idx) / 8192);
END $$;
SQL
chown postgres: "$BENCH_TMP/churn.sql"
psql -c "CREATE EXTENSION ${BENCH_EXTENSION:-sparseclip}" -f "$BENCH_TMP/inverted.sql" -f "$BENCH_TMP/churn.sql"
psql -c "CREATE TABLE docs (id int PRIMARY KEY, emb svec)" -c "CREATE TABLE queries (kind text, id int, emb svec)" \
	-c "CREATE TABLE newrows (id int, emb svec)" \
	-c "\\copy docs FROM PROGRAM '$BENCH_TMP/gen docs $N 1'" \
	-c "\\copy newrows FROM PROGRAM '$BENCH_TMP/gen docs $((M * ROUNDS)) 7'" \
	-c "CREATE TEMP TABLE q (id int, emb svec)" -c "\\copy q FROM PROGRAM '$BENCH_TMP/gen text 100 3'" \
	-c "INSERT INTO queries SELECT 'text', id, emb FROM q" \
	-c "VACUUM ANALYZE docs" -c "VACUUM ANALYZE queries" \
	-c "CREATE INDEX docs_emb ON docs USING inverted (emb svec_ip_ops)"
fresh0=$(psql -At -c "SELECT pg_relation_size('docs_emb')")
{
	printf 'round\tindex MB\tvs first build\tinverted_check\tqueries unequal to seqscan\tsegments (live docs/dead/pages)\n'
	printf '0\t%.1f\t1.00\t%s\t%s\t%s\n' "$(echo "$fresh0 / 1048576" | bc -l)" \
		"$(psql -At -c "SELECT inverted_check('docs_emb')")" "$(psql -At -c "SELECT churn_mismatches($NQ)")" \
		"$(psql -At -c "SELECT churn_segments('docs_emb')")"
	for r in $(seq "$ROUNDS"); do
		psql -c "DELETE FROM docs WHERE id IN (SELECT id FROM docs ORDER BY random() LIMIT $M)"
		for c in $(seq 0 "$CHUNK" $((M - 1))); do
			lo=$(( (r - 1) * M + c ))
			hi=$(( (r - 1) * M + (c + CHUNK < M ? c + CHUNK : M) ))
			psql -c "INSERT INTO docs SELECT id + $N, emb FROM newrows WHERE id > $lo AND id <= $hi"
		done
		psql -c "VACUUM docs"
		size=$(psql -At -c "SELECT pg_relation_size('docs_emb')")
		printf '%d\t%.1f\t%.2f\t%s\t%s\t%s\n' "$r" "$(echo "$size / 1048576" | bc -l)" "$(echo "$size / $fresh0" | bc -l)" \
			"$(psql -At -c "SELECT inverted_check('docs_emb')")" "$(psql -At -c "SELECT churn_mismatches($NQ)")" \
			"$(psql -At -c "SELECT churn_segments('docs_emb')")"
	done
} | tee "$OUT/inverted-churn-$N.tsv"

# a fresh build of the same rows, on a copy of the table
psql -c "CREATE TABLE docs2 AS SELECT * FROM docs" -c "VACUUM ANALYZE docs2" \
	-c "CREATE INDEX docs2_emb ON docs2 USING inverted (emb svec_ip_ops)" -c "CHECKPOINT"
churned=$(psql -At -c "SELECT pg_relation_size('docs_emb')")
fresh=$(psql -At -c "SELECT pg_relation_size('docs2_emb')")
{
	printf 'final\tchurned index MB\tfresh index MB\tratio\n'
	printf 'size\t%.1f\t%.1f\t%.2f\n' "$(echo "$churned / 1048576" | bc -l)" "$(echo "$fresh / 1048576" | bc -l)" \
		"$(echo "$churned / $fresh" | bc -l)"
	# bench_time reads the table docs: the fresh copy takes its name in turn
	for round in $(seq "${LAT_ROUNDS:-6}"); do
		for t in churned fresh; do
			if [ "$t" = fresh ]; then psql -c "ALTER TABLE docs RENAME TO churned" -c "ALTER TABLE docs2 RENAME TO docs"; fi
			psql -At -F $'\t' -c "SELECT count(*) FROM bench_time('text', 10, true, 5)" \
				-c "SELECT 'text top-10 p50 ms, $t index (round $round)',
					round(percentile_cont(0.5) WITHIN GROUP (ORDER BY ms)::numeric, 2)
					FROM bench_time('text', 10, true, 100)" | tail -n 1
			if [ "$t" = fresh ]; then psql -c "ALTER TABLE docs RENAME TO docs2" -c "ALTER TABLE churned RENAME TO docs"; fi
		done
	done
} | tee -a "$OUT/inverted-churn-$N.tsv" | tee "$BENCH_TMP/lat.tsv"
# the median over the rounds of each index's p50, and their ratio
awk -F'\t' '/^text top-10 p50 ms, churned/ { c[++nc] = $2 } /^text top-10 p50 ms, fresh/ { f[++nf] = $2 }
	function med(a, n,   i, j, t) { for (i = 2; i <= n; i++) for (j = i; j > 1 && a[j-1] > a[j]; j--) { t = a[j]; a[j] = a[j-1]; a[j-1] = t }
		return n % 2 ? a[(n+1)/2] : (a[n/2] + a[n/2+1]) / 2 }
	END { mc = med(c, nc); mf = med(f, nf); printf "text top-10 p50 ms, median of %d rounds\t%.2f\t%.2f\t%.2f\n", nc, mc, mf, mc / mf }' \
	"$BENCH_TMP/lat.tsv" | tee -a "$OUT/inverted-churn-$N.tsv"
