#!/usr/bin/env bash
# A cluster that outlives the script, for profiling the inverted index at
# scale (10M rows take ten minutes to load and build: keep them between
# experiments).  Run as root after `make`; the build in the repository is
# installed as the extension sparseclip_prof (`setup` and `install` copy it).
#
#   bash test/bench/inverted_profile.sh setup [ROWS]    load ROWS documents
#        (test/bench/inverted_gen.c docs, seed 1; 100 text and 100 image
#        queries, seeds 3 and 4, as inverted.sh) and build an svec_ip_ops
#        index with 2 workers, once; later calls only start the server
#   bash test/bench/inverted_profile.sh install         swap in the current build
#   bash test/bench/inverted_profile.sh time KIND [K] [SQL]
#        p50 and p90 of the 100 KIND queries' top-K (default 10) inside the
#        server: each query runs twice and the second run is timed, so the
#        pages it reads are in shared buffers; SQL (e.g. a SET) runs first
#   bash test/bench/inverted_profile.sh compare KIND N SETTING_A SETTING_B
#        two values of a setting ("name=value") side by side on the first N
#        KIND queries' top-10: per query, two untimed runs, then A, B, B, A
#        (B, A, A, B every other query), each run twice and the second
#        timed, so that drifting load falls on both; mean and p50.  (Until
#        the sixteenth session there were no untimed runs first and A
#        always led: A's first timed run was the query's second, and with
#        A = B it came out 6-8 % slower than B.)
#   bash test/bench/inverted_profile.sh once
#        p50 of every query's top-10 run once (text and image interleaved
#        by id), after an untimed pass: the CPU caches hold little of a
#        query's pages, as when a server answers varied queries
#   bash test/bench/inverted_profile.sh hugepages [ROUNDS]
#        `once` with huge_pages off and on, the server restarted for each,
#        their order alternating by round (default 2); reserves the kernel's
#        huge pages for the run (vm.nr_hugepages) and gives them back
#   bash test/bench/inverted_profile.sh rare [DF] [ROUNDS]
#        what the rare terms cost: each text and image query split into its
#        terms of document frequency >= DF (kind KIND-common) and < DF
#        (KIND-rare; DF default 40000, 40 postings a range on average,
#        below the bitmap format's 64), frequencies counted on every 20th
#        document; their share of the postings, then `time` of the whole
#        queries and of each part, ROUNDS times (default 3) in turn.  The
#        frequencies are counted once, into the table dfreq: after a new
#        `setup` with other rows, DROP TABLE dfreq first
#   bash test/bench/inverted_profile.sh single [N]
#        one-term queries (weight 0.9), one dimension from each of N
#        (default 8) bands of document frequency (dfreq, as for `rare`):
#        each query's top-10, p50 of 20 runs after one untimed
#   bash test/bench/inverted_profile.sh unshared [DIM]
#        a query that fewer rows than its LIMIT share a dimension with: the
#        table unshared is docs with dimension DIM (default 5386) left in 5
#        rows only (made once, with its index); ORDER BY <#> '{DIM:1}' LIMIT
#        10 by the index and by a sequential scan, one warm run, then three
#        timed runs each
#   bash test/bench/inverted_profile.sh approx KIND [N...]
#        the approximate setting: for each N (default 8 16 24 32 48 64),
#        sparseclip.inverted_query_terms = N against the exact top-10 of the
#        100 KIND queries: recall@10 and warm p50 (each query twice, the
#        second timed), with the exact p50 first
#   bash test/bench/inverted_profile.sh perf KIND [SECONDS]
#        perf record of one backend running the KIND queries; the top symbols
#   bash test/bench/inverted_profile.sh stop | drop     stop it | delete it
#
# PROFILE_DIR (default /tmp/sparseclip-profile), PROFILE_PORT (5442) and
# SHARED_BUFFERS (7GB: a 10M-row index is 5.4 GB) choose where and how.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
PG_CONFIG=${PG_CONFIG:-/usr/lib/postgresql/15/bin/pg_config}
BIN=$("$PG_CONFIG" --bindir)
D=${PROFILE_DIR:-/tmp/sparseclip-profile}
PORT=${PROFILE_PORT:-5442}
NAME=sparseclip_prof

P() { runuser -u postgres -- "$BIN/psql" -h "$D" -p "$PORT" -X -q -v ON_ERROR_STOP=1 postgres "$@"; }

source "$ROOT/test/bench/cluster.sh"
install_build() { bench_install_build "$ROOT" "$NAME" keep; }

start() {
	[ -f "$D/data/postmaster.pid" ] && return
	runuser -u postgres -- "$BIN/pg_ctl" -D "$D/data" -l "$D/server.log" -w -o "-k $D -p $PORT \
		-c listen_addresses='' -c shared_buffers=${SHARED_BUFFERS:-7GB} -c max_wal_size=8GB \
		-c maintenance_work_mem=1GB -c fsync=off -c wal_level=minimal -c max_wal_senders=0 \
		-c max_parallel_workers_per_gather=0 -c max_parallel_maintenance_workers=2 -c autovacuum=off \
		-c huge_pages=${HUGE_PAGES:-try} -c log_line_prefix='%m [%p] '" start >/dev/null
}

stop() {
	[ -f "$D/data/postmaster.pid" ] || return 0
	runuser -u postgres -- "$BIN/pg_ctl" -D "$D/data" -m fast stop >/dev/null
}

# every query once, in id order (text and image interleaved), the first pass
# untimed; LABEL: p50 per kind
once_pass() {
	cat > "$D/once.sql" <<SQL
SET enable_seqscan = off;
CREATE TEMP TABLE tm (pass int, kind text, ms float8);
DO \$\$ DECLARE r record; t0 timestamptz; BEGIN
FOR p IN 1..2 LOOP
  FOR r IN SELECT kind, emb FROM queries ORDER BY id, kind LOOP
    t0 := clock_timestamp();
    PERFORM emb <#> r.emb FROM docs ORDER BY emb <#> r.emb LIMIT 10;
    INSERT INTO tm VALUES (p, r.kind, extract(epoch FROM clock_timestamp() - t0) * 1000);
  END LOOP;
END LOOP; END \$\$;
SELECT '$1 ' || kind || ' top-10 p50 ' || round(percentile_cont(0.5) WITHIN GROUP (ORDER BY ms)::numeric, 2)
  || ' ms, p90 ' || round(percentile_cont(0.9) WITHIN GROUP (ORDER BY ms)::numeric, 2)
  FROM tm WHERE pass = 2 GROUP BY kind ORDER BY kind DESC;
SQL
	chown postgres: "$D/once.sql"
	P -At -f "$D/once.sql"
}

# SHARED_BUFFERS in MB (accepts kB, MB, GB, TB suffixes)
shared_mb() {
	local v=${SHARED_BUFFERS:-7GB}
	case $v in
	*TB) echo $(( ${v%TB} * 1024 * 1024 )) ;; *GB) echo $(( ${v%GB} * 1024 )) ;;
	*MB) echo "${v%MB}" ;; *kB) echo $(( ${v%kB} / 1024 )) ;; *) echo $(( v * 8 / 1024 )) ;;
	esac
}

# the queries' loop: each query twice, the second timed (or, with perf, all of them)
query_loop() {
	local kind=$1 k=$2 timed=$3
	cat <<SQL
SET enable_seqscan = off;
CREATE TEMP TABLE tm (ms float8);
DO \$\$ DECLARE r record; t0 timestamptz; BEGIN
FOR r IN SELECT emb FROM queries WHERE kind = '$kind' ORDER BY id LOOP
  PERFORM emb <#> r.emb FROM docs ORDER BY emb <#> r.emb LIMIT $k;
  t0 := clock_timestamp();
  PERFORM emb <#> r.emb FROM docs ORDER BY emb <#> r.emb LIMIT $k;
  IF $timed THEN INSERT INTO tm VALUES (extract(epoch FROM clock_timestamp() - t0) * 1000); END IF;
END LOOP; END \$\$;
SQL
}

# document frequencies, counted on every 20th document, once
DFREQ_SQL="CREATE TABLE IF NOT EXISTS dfreq AS
  SELECT e.dim, count(*) * 20 AS df FROM docs d, svec_entries(d.emb) e WHERE d.id % 20 = 0 GROUP BY e.dim;"

cmd=${1:-}
case $cmd in
setup)
	n=${2:-10000000}
	install_build
	if [ ! -d "$D/data" ]; then
		mkdir -p "$D"
		chown postgres: "$D"
		chmod 755 "$D"
		runuser -u postgres -- "$BIN/initdb" -D "$D/data" -A trust -E UTF8 --locale=C --no-sync >/dev/null
	fi
	start
	gcc -O2 -o "$D/gen" "$ROOT/test/bench/inverted_gen.c" -lm
	chown postgres: "$D/gen"
	P -c "CREATE EXTENSION IF NOT EXISTS $NAME"
	if [ "$(P -Atc "SELECT count(*) FROM pg_class WHERE relname = 'docs'")" = 0 ]; then
		echo "loading $n rows: $(date)"
		# created and filled in one transaction: no WAL at wal_level minimal
		P -c "BEGIN" -c "CREATE TABLE docs (id int, emb svec)" -c "\\copy docs FROM PROGRAM '$D/gen docs $n 1'" -c "COMMIT"
		P -c "CREATE TABLE queries (kind text, id int, emb svec)" -c "CREATE TEMP TABLE q (id int, emb svec)" \
			-c "\\copy q FROM PROGRAM '$D/gen text 100 3'" -c "INSERT INTO queries SELECT 'text', id, emb FROM q" \
			-c "TRUNCATE q" -c "\\copy q FROM PROGRAM '$D/gen image 100 4'" \
			-c "INSERT INTO queries SELECT 'image', id, emb FROM q" -c "VACUUM ANALYZE docs"
		echo "building: $(date)"
		P -c "\\timing on" -c "CREATE INDEX docs_ip ON docs USING inverted (emb svec_ip_ops)"
	fi
	echo "ready: $(date)"
	;;
install)
	install_build
	;;
rare)
	start
	df=${2:-40000}
	rounds=${3:-3}
	case $df$rounds in *[!0-9]*) echo "usage: $0 rare [DF] [ROUNDS]" >&2; exit 2 ;; esac
	cat > "$D/rare.sql" <<SQL
$DFREQ_SQL
DELETE FROM queries WHERE kind LIKE '%-common' OR kind LIKE '%-rare';
CREATE TEMP TABLE qt AS
  SELECT q.kind, q.id, e.dim, e.weight, coalesce(f.df, 0) AS df
  FROM queries q, svec_entries(q.emb) e LEFT JOIN dfreq f USING (dim) WHERE q.kind IN ('text', 'image');
INSERT INTO queries
  SELECT kind || CASE WHEN df >= $df THEN '-common' ELSE '-rare' END, id,
         svec(array_agg(dim ORDER BY dim), array_agg(weight ORDER BY dim), 16384)
  FROM qt GROUP BY 1, 2;
SELECT kind || ': ' || round(avg(nt), 1) || ' terms, ' || round(avg(nr), 1) || ' with df < $df, holding '
       || round((100 * avg(rp / p))::numeric, 2) || ' % of ' || round(avg(p)::numeric) || ' postings (sampled)'
  FROM (SELECT kind, id, count(*) AS nt, count(*) FILTER (WHERE df < $df) AS nr, sum(df)::float8 AS p,
               coalesce(sum(df) FILTER (WHERE df < $df), 0)::float8 AS rp
        FROM qt GROUP BY kind, id) s GROUP BY kind ORDER BY kind DESC;
SQL
	chown postgres: "$D/rare.sql"
	P -At -f "$D/rare.sql"
	for ((r = 1; r <= rounds; r++)); do
		for k in text text-common text-rare image image-common image-rare; do
			echo "round $r: $("$0" time "$k")"
		done
	done
	;;
single)
	start
	n=${2:-8}
	case $n in '' | *[!0-9]*) echo "usage: $0 single [N]" >&2; exit 2 ;; esac
	cat > "$D/single.sql" <<SQL
$DFREQ_SQL
SET enable_seqscan = off;
DO \$\$
DECLARE r record; q svec; t0 timestamptz; ms float8[];
BEGIN
-- the middle dimension of each band
FOR r IN SELECT dim, df FROM (SELECT dim, df, row_number() OVER (PARTITION BY band ORDER BY df, dim) AS k,
                                     count(*) OVER (PARTITION BY band) AS nb
                              FROM (SELECT dim, df, ntile($n) OVER (ORDER BY df, dim) AS band FROM dfreq) a) b
         WHERE k = (nb + 1) / 2 ORDER BY df LOOP
  q := ('{' || r.dim || ':0.9}/16384')::svec;
  PERFORM id FROM docs ORDER BY emb <#> q LIMIT 10;
  ms := '{}';
  FOR i IN 1..20 LOOP
    t0 := clock_timestamp();
    PERFORM id FROM docs ORDER BY emb <#> q LIMIT 10;
    ms := ms || extract(epoch FROM clock_timestamp() - t0) * 1000;
  END LOOP;
  RAISE NOTICE 'dim %, df % (sampled): top-10 p50 % ms', r.dim, r.df,
    round((SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY x) FROM unnest(ms) x)::numeric, 3);
END LOOP;
END \$\$;
SQL
	chown postgres: "$D/single.sql"
	P -f "$D/single.sql" 2>&1 | grep -v 'already exists, skipping' | sed 's/^.*NOTICE: *//'
	;;
unshared)
	start
	dim=${2:-5386}
	case $dim in '' | *[!0-9]*) echo "usage: $0 unshared [DIM]" >&2; exit 2 ;; esac
	cat > "$D/unshared.sql" <<SQL
DO \$\$ BEGIN
IF to_regclass('unshared') IS NULL THEN
  CREATE TABLE unshared AS
    SELECT id, (SELECT svec(array_agg(e.dim ORDER BY e.dim), array_agg(e.weight ORDER BY e.dim), 16384)
                FROM svec_entries(d.emb) e WHERE e.dim <> $dim) AS emb
    FROM docs d;
  INSERT INTO unshared SELECT -i, ('{$dim:' || (0.1 * i) || '}/16384')::svec FROM generate_series(1, 5) i;
  CREATE INDEX unshared_ip ON unshared USING inverted (emb svec_ip_ops);
  ANALYZE unshared;
END IF;
END \$\$;
DO \$\$
DECLARE t0 timestamptz; q svec := '{$dim:1}/16384'; ms float8[]; m text;
BEGIN
FOREACH m IN ARRAY ARRAY['index', 'sequential scan'] LOOP
  PERFORM set_config('enable_seqscan', (m <> 'index')::text, true);
  PERFORM set_config('enable_indexscan', (m = 'index')::text, true);
  PERFORM id FROM unshared ORDER BY emb <#> q LIMIT 10;
  ms := '{}';
  FOR i IN 1..3 LOOP
    t0 := clock_timestamp();
    PERFORM id FROM unshared ORDER BY emb <#> q LIMIT 10;
    ms := ms || round((extract(epoch FROM clock_timestamp() - t0) * 1000)::numeric, 1)::float8;
  END LOOP;
  RAISE NOTICE '%: LIMIT 10 on a dimension 5 rows hold, ms %', m, ms;
END LOOP;
END \$\$;
SQL
	chown postgres: "$D/unshared.sql"
	P -f "$D/unshared.sql" 2>&1 | sed 's/^.*NOTICE: *//'
	;;
approx)
	start
	[ $# -ge 2 ] || { echo "usage: $0 approx KIND [N...]" >&2; exit 2; }
	kind=$2
	shift 2
	ns=("$@")
	[ ${#ns[@]} -gt 0 ] || ns=(8 16 24 32 48 64)
	for n in "${ns[@]}"; do
		case $n in ''|*[!0-9]*) echo "usage: $0 approx KIND [N...]" >&2; exit 2 ;; esac
	done
	list=$(IFS=,; echo "${ns[*]}")
	{ echo "SET enable_seqscan = off;"
	  echo "CREATE TEMP TABLE tm (n int, ms float8, hits int);"
	  echo "DO \$\$ DECLARE r record; t0 timestamptz; ex int[]; ap int[]; n int; ms float8; BEGIN"
	  echo "FOR r IN SELECT emb FROM queries WHERE kind = '$kind' ORDER BY id LOOP"
	  echo "  PERFORM set_config('sparseclip.inverted_query_terms', '0', false);"
	  echo "  ex := ARRAY(SELECT id FROM docs ORDER BY emb <#> r.emb LIMIT 10);"
	  echo "  FOREACH n IN ARRAY ARRAY[0, $list] LOOP"
	  echo "    PERFORM set_config('sparseclip.inverted_query_terms', n::text, false);"
	  echo "    PERFORM emb <#> r.emb FROM docs ORDER BY emb <#> r.emb LIMIT 10;"
	  echo "    t0 := clock_timestamp();"
	  echo "    ap := ARRAY(SELECT id FROM docs ORDER BY emb <#> r.emb LIMIT 10);"
	  echo "    ms := extract(epoch FROM clock_timestamp() - t0) * 1000;"
	  echo "    INSERT INTO tm SELECT n, ms, (SELECT count(*) FROM unnest(ap) a WHERE a = ANY (ex));"
	  echo "  END LOOP;"
	  echo "END LOOP; END \$\$;"
	  echo "SELECT '$kind query_terms ' || CASE WHEN n = 0 THEN 'exact' ELSE n::text END || ': recall@10 '"
	  echo "  || round(avg(hits) / 10.0, 3) || ', p50 ' || round(percentile_cont(0.5) WITHIN GROUP (ORDER BY ms)::numeric, 2)"
	  echo "  || ' ms' FROM tm GROUP BY n ORDER BY n;"; } > "$D/approx.sql"
	chown postgres: "$D/approx.sql"
	P -At -f "$D/approx.sql"
	;;
time)
	start
	{ echo "${4:-}"; query_loop "$2" "${3:-10}" true
	  echo "SELECT '$2 top-${3:-10} p50 ' || round(percentile_cont(0.5) WITHIN GROUP (ORDER BY ms)::numeric, 2)
	  || ' ms, p90 ' || round(percentile_cont(0.9) WITHIN GROUP (ORDER BY ms)::numeric, 2) FROM tm;"; } > "$D/time.sql"
	chown postgres: "$D/time.sql"
	P -At -f "$D/time.sql"
	;;
compare)
	start
	[ $# -eq 5 ] || { echo "usage: $0 compare KIND N SETTING_A SETTING_B" >&2; exit 2; }
	{ echo "SET enable_seqscan = off;"
	  echo "CREATE TEMP TABLE tm (s text, ms float8);"
	  echo "DO \$\$ DECLARE r record; t0 timestamptz; s text; n int := 0; BEGIN"
	  echo "FOR r IN SELECT emb FROM queries WHERE kind = '$2' ORDER BY id LIMIT $3 LOOP"
	  echo "  PERFORM emb <#> r.emb FROM docs ORDER BY emb <#> r.emb LIMIT 10;"
	  echo "  PERFORM emb <#> r.emb FROM docs ORDER BY emb <#> r.emb LIMIT 10;"
	  echo "  n := n + 1;"
	  echo "  FOREACH s IN ARRAY CASE WHEN n % 2 = 1 THEN ARRAY['$4', '$5', '$5', '$4']"
	  echo "                          ELSE ARRAY['$5', '$4', '$4', '$5'] END LOOP"
	  echo "    PERFORM set_config(split_part(s, '=', 1), split_part(s, '=', 2), false);"
	  echo "    PERFORM emb <#> r.emb FROM docs ORDER BY emb <#> r.emb LIMIT 10;"
	  echo "    t0 := clock_timestamp();"
	  echo "    PERFORM emb <#> r.emb FROM docs ORDER BY emb <#> r.emb LIMIT 10;"
	  echo "    INSERT INTO tm VALUES (s, extract(epoch FROM clock_timestamp() - t0) * 1000);"
	  echo "  END LOOP;"
	  echo "END LOOP; END \$\$;"
	  echo "SELECT '$2 ' || s || ': mean ' || round(avg(ms)::numeric, 3) || ' ms, p50 '"
	  echo "  || round(percentile_cont(0.5) WITHIN GROUP (ORDER BY ms)::numeric, 3) FROM tm GROUP BY s ORDER BY s;"; } > "$D/compare.sql"
	chown postgres: "$D/compare.sql"
	P -At -f "$D/compare.sql"
	;;
once)
	start
	once_pass "huge_pages=${HUGE_PAGES:-try}"
	;;
hugepages)
	rounds=${2:-2}
	old=$(cat /proc/sys/vm/nr_hugepages)
	# the pool and PostgreSQL's other shared memory, in 2 MB pages
	want=$(( $(shared_mb) / 2 + 128 ))
	trap 'stop; echo "$old" > /proc/sys/vm/nr_hugepages' EXIT
	stop
	echo "$want" > /proc/sys/vm/nr_hugepages
	[ "$(cat /proc/sys/vm/nr_hugepages)" -ge "$want" ] ||
		{ echo "inverted_profile.sh: the kernel gave $(cat /proc/sys/vm/nr_hugepages) of $want huge pages" >&2; exit 1; }
	for ((r = 1; r <= rounds; r++)); do
		if ((r % 2)); then order="off on"; else order="on off"; fi
		for hp in $order; do
			stop
			HUGE_PAGES=$hp start
			once_pass "round $r huge_pages=$hp"
		done
	done
	;;
perf)
	start
	{ echo "SELECT pg_backend_pid() AS pid \\gset"; echo "\\setenv BPID :pid"; echo "\\! echo \$BPID > $D/pid"
	  echo "SELECT pg_sleep(1);"
	  query_loop "$2" 10 false; } > "$D/perf.sql"
	chown postgres: "$D/perf.sql"
	rm -f "$D/pid"
	P -f "$D/perf.sql" >/dev/null &
	until [ -s "$D/pid" ]; do sleep 0.1; done
	perf record -g -o "$D/perf.data" -p "$(cat "$D/pid")" -- sleep "${3:-10}" >/dev/null 2>&1
	wait
	perf report -i "$D/perf.data" --no-children --percent-limit 1.5 --stdio 2>/dev/null | grep -E '^ +[0-9.]+%'
	;;
stop)
	stop
	;;
drop)
	[ -f "$D/data/postmaster.pid" ] && runuser -u postgres -- "$BIN/pg_ctl" -D "$D/data" -m fast stop >/dev/null
	rm -rf "$D"
	;;
*)
	sed -n '2,22p' "$0"
	exit 2
	;;
esac
