#!/usr/bin/env bash
# test/citus/run.sh - sparseclip on a Citus cluster: a coordinator and two
# workers on unix sockets on this machine.  Not part of test/run-all.sh;
# skips with a message when Citus is not installed
# (test/citus/install-citus.sh builds it from ../shared/tools/citus).
#
#   bash test/citus/run.sh            # as root; ROWS=100000 SHARDS=8 by default
#
# Checks, each against a plain table on the coordinator holding the same rows:
# CREATE EXTENSION propagation, the inverted index on every shard
# (inverted_check), top-k with filters through the shards' indexes (ids and
# distances equal), sum/avg (grouped and not), COPY in and out in text and
# binary, encoding with the model on every node (encode_text/encode_image on
# the workers equal the coordinator's), the scalar-subquery form (query vector
# computed once, on the coordinator alone), which settings propagate.
# Then it times top-10 queries: distributed against one node holding the
# same rows as one shard, and against one node holding all rows.
# Ends with "N passed, N failed"; exits non-zero on any failure.
set -uo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
PG_CONFIG=${PG_CONFIG:-/usr/lib/postgresql/15/bin/pg_config}
BINDIR=$("$PG_CONFIG" --bindir)
ROWS=${ROWS:-100000}
SHARDS=${SHARDS:-8}
NQ=${NQ:-30}                 # query vectors for the equality checks
REPS=${REPS:-3}              # timed passes over the queries
export OPENBLAS_NUM_THREADS=1

if [ ! -f "$("$PG_CONFIG" --pkglibdir)/citus.so" ] ||
   [ ! -f "$("$PG_CONFIG" --sharedir)/extension/citus.control" ]; then
	echo "test/citus/run.sh: SKIP: Citus is not installed in $("$PG_CONFIG" --pkglibdir)" \
		"(bash test/citus/install-citus.sh builds it from ../shared/tools/citus)"
	exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
	echo "test/citus/run.sh: run as root (it installs the extension)" >&2
	exit 2
fi

# Installing the extension is machine-wide: one test run at a time.
exec 9>/tmp/sparseclip-test.lock
flock 9

TMP=$(mktemp -d /tmp/sparseclip-citus.XXXXXX)
chmod 755 "$TMP"
NODES=(coord w1 w2)
BASE=$((20000 + RANDOM % 20000))
declare -A PORT=([coord]=$BASE [w1]=$((BASE + 1)) [w2]=$((BASE + 2)))

cleanup() {
	if [ -n "${KEEP:-}" ]; then echo "KEEP: nodes left running in $TMP (ports ${PORT[coord]}-${PORT[w2]})"; return; fi
	for n in "${NODES[@]}"; do
		if [ -f "$TMP/$n/postmaster.pid" ]; then
			runuser -u postgres -- "$BINDIR/pg_ctl" -D "$TMP/$n" -m immediate stop >/dev/null 2>&1 || true
		fi
	done
	rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

passed=0
failed=0
failures=()
ok() { passed=$((passed + 1)); echo "ok - $1"; }
notok() { failed=$((failed + 1)); failures+=("$1"); echo "not ok - $1"; }

# psql on a node: on NODE [psql args...]
on() {
	local n=$1
	shift
	runuser -u postgres -- "$BINDIR/psql" -h "$TMP/sock" -p "${PORT[$n]}" -X -q -A -t \
		-v ON_ERROR_STOP=1 "$@" postgres
}
# check NAME SQL: passes when the coordinator answers exactly "t"
check() {
	local out
	out=$(on coord -c "$2" 2>&1)
	if [ "$out" = "t" ]; then ok "$1"; else notok "$1"; echo "$out" | tail -n 20 | sed 's/^/    /'; fi
}
# expect NAME WANT SQL: passes when the coordinator's answer equals WANT
expect() {
	local out
	out=$(on coord -c "$3" 2>&1)
	if [ "$out" = "$2" ]; then ok "$1"; else notok "$1"; echo "    want: $2"; echo "$out" | tail -n 20 | sed 's/^/    got:  /'; fi
}

echo "== build and install sparseclip"
if ! make -C "$ROOT" -s WERROR=1 PG_CONFIG="$PG_CONFIG" install >"$TMP/build.log" 2>&1; then
	cat "$TMP/build.log"
	exit 1
fi
gcc -O2 -Wall -Wextra -o "$TMP/gen" "$ROOT/test/bench/inverted_gen.c" -lm
mkdir -p "$TMP/sock" "$TMP/files"
cp "$ROOT"/test/fixtures/encode/*.jpg "$ROOT/test/fixtures/encode/texts.tsv" "$TMP/files/"
cp "$ROOT/test/fixtures/encode/model.safetensors" "$TMP/files/model.safetensors"
# The data: Sparse-CLIP-like 16,384-dimension vectors (~96 non-zeros), an
# album number to filter on, and text-like query vectors (~24 non-zeros).
"$TMP/gen" docs "$ROWS" 1 | awk -F'\t' '{ print $1 "\t" ($1 * 7919) % 50 "\t" $2 }' >"$TMP/files/images.tsv"
"$TMP/gen" text "$NQ" 3 >"$TMP/files/queries.tsv"
chown -R postgres: "$TMP"

echo "== start a coordinator and two workers (ports ${PORT[coord]}-${PORT[w2]})"
for n in "${NODES[@]}"; do
	runuser -u postgres -- "$BINDIR/initdb" -D "$TMP/$n" -A trust -E UTF8 --locale=C --no-sync >"$TMP/initdb-$n.log" 2>&1 ||
		{ cat "$TMP/initdb-$n.log"; exit 1; }
	runuser -u postgres -- env OPENBLAS_NUM_THREADS=1 "$BINDIR/pg_ctl" -D "$TMP/$n" -l "$TMP/$n.log" -w -o \
		"-k $TMP/sock -p ${PORT[$n]} -c listen_addresses='' -c fsync=off -c shared_preload_libraries=citus \
		 -c shared_buffers=512MB -c maintenance_work_mem=256MB -c max_wal_size=4GB -c citus.shard_count=$SHARDS" \
		start >/dev/null || { cat "$TMP/$n.log"; exit 1; }
	on "$n" -c "CREATE EXTENSION citus" || exit 1
done
on coord -c "SELECT citus_set_coordinator_host('$TMP/sock', ${PORT[coord]})" \
	-c "SELECT citus_add_node('$TMP/sock', ${PORT[w1]})" \
	-c "SELECT citus_add_node('$TMP/sock', ${PORT[w2]})" >/dev/null || exit 1
expect "two workers are active" 2 "SELECT count(*) FROM citus_get_active_worker_nodes()"

echo "== extension and tables"
on coord -c "CREATE EXTENSION sparseclip" || exit 1
expect "CREATE EXTENSION sparseclip propagates to both workers" "2" \
	"SELECT count(*) FROM run_command_on_workers(\$\$SELECT extversion FROM pg_extension WHERE extname = 'sparseclip'\$\$)
	 WHERE success AND result = (SELECT extversion FROM pg_extension WHERE extname = 'sparseclip')"

on coord >/dev/null <<SQL || exit 1
CREATE TABLE images (id bigint NOT NULL, album int NOT NULL, emb svec(16384));
CREATE TABLE images_local (LIKE images);
SELECT create_distributed_table('images', 'id');
CREATE TABLE queries (qid int, q svec(16384));
COPY queries FROM '$TMP/files/queries.tsv';
COPY images_local FROM '$TMP/files/images.tsv';
COPY images_local TO '$TMP/files/images.bin' (FORMAT binary);
-- One shard's rows in a plain table: one node with the rows of one shard.
CREATE TABLE images_one_shard AS
	SELECT * FROM images_local WHERE get_shard_id_for_distribution_column('images', id) =
		(SELECT min(shardid) FROM pg_dist_shard WHERE logicalrelid = 'images'::regclass);
CREATE FUNCTION sqlstate_of(q text) RETURNS text LANGUAGE plpgsql AS \$\$
BEGIN
	EXECUTE q;
	RETURN 'no error';
EXCEPTION WHEN OTHERS THEN
	RETURN SQLSTATE;
END \$\$;
-- The same shards, no rows: what Citus's fan-out alone costs.
CREATE TABLE images_empty (LIKE images);
SELECT create_distributed_table('images_empty', 'id', colocate_with => 'images');
-- Compares a table's rows with images_local's: count, then a hash of every
-- row's exact text (the svec text form round-trips every float4 exactly).
CREATE FUNCTION rows_digest(tab regclass) RETURNS text LANGUAGE plpgsql AS \$\$
DECLARE r text;
BEGIN
	EXECUTE format('SELECT count(*) || '':'' || coalesce(sum(hashtextextended(id || '','' || album || '','' || coalesce(emb::text, ''-''), 7)::numeric), 0) FROM %s', tab) INTO r;
	RETURN r;
END \$\$;
SQL

echo "== COPY in and out, text and binary"
on coord -c "COPY images FROM '$TMP/files/images.tsv'" || exit 1
check "COPY text into the distributed table: every row equal" \
	"SELECT rows_digest('images') = rows_digest('images_local')"
expect "rows spread over $SHARDS shards on 2 workers" "$SHARDS 2" \
	"SELECT count(*) || ' ' || count(DISTINCT nodeport) FROM citus_shards WHERE table_name = 'images'::regclass"
on coord -c "TRUNCATE images" -c "COPY images FROM '$TMP/files/images.bin' (FORMAT binary)" || exit 1
check "COPY binary into the distributed table: every row equal" \
	"SELECT rows_digest('images') = rows_digest('images_local')"
on coord -c "COPY (SELECT * FROM images ORDER BY id) TO '$TMP/files/out-dist.bin' (FORMAT binary)" \
	-c "COPY (SELECT * FROM images_local ORDER BY id) TO '$TMP/files/out-local.bin' (FORMAT binary)" \
	-c "COPY (SELECT * FROM images ORDER BY id) TO '$TMP/files/out-dist.tsv'" \
	-c "COPY (SELECT * FROM images_local ORDER BY id) TO '$TMP/files/out-local.tsv'" || exit 1
if cmp -s "$TMP/files/out-dist.bin" "$TMP/files/out-local.bin"; then ok "COPY TO binary: same bytes as from the local table"; else notok "COPY TO binary: same bytes"; fi
if cmp -s "$TMP/files/out-dist.tsv" "$TMP/files/out-local.tsv"; then ok "COPY TO text: same bytes as from the local table"; else notok "COPY TO text: same bytes"; fi

echo "== the inverted index on every shard"
t0=$(date +%s.%N)
on coord -c "CREATE INDEX images_emb ON images USING inverted (emb svec_ip_ops)" || exit 1
t1=$(date +%s.%N)
on coord -c "CREATE INDEX images_local_emb ON images_local USING inverted (emb svec_ip_ops)" \
	-c "CREATE INDEX images_one_shard_emb ON images_one_shard USING inverted (emb svec_ip_ops)" \
	-c "CREATE INDEX images_empty_emb ON images_empty USING inverted (emb svec_ip_ops)" \
	-c "VACUUM ANALYZE images" -c "VACUUM ANALYZE images_local" -c "VACUUM ANALYZE images_one_shard" \
	-c "VACUUM ANALYZE queries" || exit 1
t2=$(date +%s.%N)
echo "   index build: distributed $(echo "$t1 - $t0" | bc) s, local (all rows, then one shard's) $(echo "$t2 - $t1" | bc) s"
expect "every shard has the index and passes inverted_check (rows checked in all)" "$SHARDS $ROWS" \
	"SELECT count(*) || ' ' || sum(result::bigint) FROM run_command_on_shards('images',
		\$\$SELECT inverted_check(indexrelid::regclass) FROM pg_index WHERE indrelid = '%s'::regclass\$\$)
	 WHERE success"

echo "== top-k with filters: distributed equals local"
on coord <<'SQL' || exit 1
-- ids and distances of a top-k, as one text, for table tab
CREATE FUNCTION topk(tab text, q svec, filter text, k int) RETURNS text LANGUAGE plpgsql AS $$
DECLARE r text;
BEGIN
	EXECUTE format('SELECT string_agg(id || '':'' || d, '','' ORDER BY d, id) FROM
		(SELECT id, emb <#> $1 AS d FROM %I WHERE %s ORDER BY emb <#> $1 LIMIT %s) s', tab, filter, k)
		INTO r USING q;
	RETURN r;
END $$;
CREATE TABLE filters (f text);
INSERT INTO filters VALUES ('true'), ('album = 7'), ('album < 5'), ('album <> 3 AND id % 2 = 0'),
	('id BETWEEN 1000 AND 30000'), ('emb <#> ''{1:1}/16384'' <= 0');
SQL
plan=$(on coord -c "EXPLAIN (COSTS OFF) SELECT id FROM images ORDER BY emb <#> (SELECT q FROM queries WHERE qid = 1) LIMIT 10" 2>&1)
if echo "$plan" | grep -q "Index Scan using images_emb_"; then ok "EXPLAIN: each shard answers by an index scan"; else notok "EXPLAIN: each shard answers by an index scan"; echo "$plan" | sed 's/^/    /'; fi
expect "top-10 and top-100 equal for $NQ queries x 6 filters (ids and distances)" "$((NQ * 6 * 2)) 0" \
	"SELECT count(*) || ' ' || count(*) FILTER (WHERE topk('images', q, f, k) IS DISTINCT FROM topk('images_local', q, f, k))
	 FROM queries, filters, (VALUES (10), (100)) k(k)"
on coord <<'SQL' || exit 1
-- the same top-10, the query vector read by a scalar subquery on the coordinator's table
CREATE FUNCTION topk_subquery(id int) RETURNS text LANGUAGE plpgsql AS $$
DECLARE r text; qe text := format('(SELECT q FROM queries WHERE qid = %s)', id);
BEGIN
	EXECUTE format('SELECT string_agg(id || '':'' || d, '','' ORDER BY d, id) FROM
		(SELECT id, emb <#> %s AS d FROM images ORDER BY emb <#> %s LIMIT 10) s', qe, qe) INTO r;
	RETURN r;
END $$;
SQL
expect "the scalar-subquery form equals the constant form" "$NQ" \
	"SELECT count(*) FROM queries WHERE topk('images', q, 'true', 10) = topk_subquery(qid)"

echo "== aggregates: distributed equals local"
on coord <<'SQL' || exit 1
-- per dimension: the largest difference between two svecs relative to the larger weight
CREATE FUNCTION rel_diff(a svec, b svec) RETURNS float8 LANGUAGE sql AS $$
	SELECT coalesce(max(abs(coalesce(x.weight, 0) - coalesce(y.weight, 0))
		/ greatest(abs(x.weight), abs(y.weight))), 0)
	FROM svec_entries(a) x FULL JOIN svec_entries(b) y USING (dim) $$;
CREATE TABLE agg_cmp AS
SELECT 'sum' AS what, (SELECT sum(emb) FROM images) AS dist, (SELECT sum(emb) FROM images_local) AS loc
UNION ALL SELECT 'avg', (SELECT avg(emb) FROM images), (SELECT avg(emb) FROM images_local)
UNION ALL SELECT 'avg where album < 5', (SELECT avg(emb) FROM images WHERE album < 5),
	(SELECT avg(emb) FROM images_local WHERE album < 5);
INSERT INTO agg_cmp SELECT 'avg group by album ' || album, d.a, l.a
FROM (SELECT album, avg(emb) a FROM images GROUP BY album) d JOIN (SELECT album, avg(emb) a FROM images_local GROUP BY album) l USING (album);
INSERT INTO agg_cmp SELECT 'sum group by album ' || album, d.a, l.a
FROM (SELECT album, sum(emb) a FROM images GROUP BY album) d JOIN (SELECT album, sum(emb) a FROM images_local GROUP BY album) l USING (album);
SQL
on coord -c "SELECT rpad(what, 24) || ' equal: ' || (dist = loc) || ', nnz ' || nnz(loc) || ', largest relative difference ' || round(rel_diff(dist, loc)::numeric, 9)
	FROM agg_cmp WHERE what NOT LIKE '% group by %' ORDER BY what" | sed 's/^/   /'
on coord -c "SELECT 'grouped by album: ' || count(*) || ' groups, ' || count(*) FILTER (WHERE dist = loc) || ' equal, largest relative difference ' || round(max(rel_diff(dist, loc))::numeric, 9)
	FROM agg_cmp WHERE what LIKE '% group by %'" | sed 's/^/   /'
check "sum/avg (all rows, filtered, 50 groups by album): all 103 equal the local table's exactly" \
	"SELECT bool_and(dist = loc) AND count(*) = 103 FROM agg_cmp"
plan=$(on coord -c "EXPLAIN (VERBOSE, COSTS OFF) SELECT avg(emb) FROM images" 2>&1)
if echo "$plan" | grep -q "worker_partial_agg" && echo "$plan" | grep -q "coord_combine_agg"; then
	ok "avg(emb): the shards return partial states (worker_partial_agg), the coordinator combines them"
else notok "avg(emb) plan: partial states"; echo "$plan" | sed 's/^/    /'; fi
check "avg(emb) = sum(emb) / count(emb) on the distributed table" \
	"SELECT avg(emb) <-> sum(emb) / count(emb) < 1e-6 * l2_norm(avg(emb)) FROM images"
expect "sum(emb) / 0 on the distributed table: SQLSTATE 22012" "22012" "SELECT sqlstate_of('SELECT sum(emb) / 0 FROM images')"
expect "avg over no rows is NULL, as locally" "true true" \
	"SELECT (SELECT avg(emb) IS NULL FROM images WHERE album > 100) || ' ' || (SELECT avg(emb) IS NULL FROM images_local WHERE album > 100)"

echo "== the model: on the coordinator alone, then on every node"
# sparseclip.model is per node.  PostgreSQL 15 knows sparseclip.* only once
# the library is loaded, so ALTER SYSTEM follows a LOAD in the same session.
on coord -c "LOAD 'sparseclip'" -c "ALTER SYSTEM SET sparseclip.model = '$TMP/files/model.safetensors'" -c "SELECT pg_reload_conf()" >/dev/null || exit 1
on coord >/dev/null <<SQL || exit 1
CREATE TABLE pictures (id bigint, caption text, jpeg bytea, emb_text svec, emb_image svec);
CREATE TABLE pictures_local (LIKE pictures);
SELECT create_distributed_table('pictures', 'id');
INSERT INTO pictures_local (id, caption, jpeg)
SELECT i, t.caption || ' ' || i, pg_read_binary_file('$TMP/files/' || (ARRAY['square.jpg', 'wide.jpg', 'tall.jpg', 'gray.jpg'])[1 + i % 4])
FROM generate_series(1, 200) i,
	LATERAL (SELECT (ARRAY['a photo of a cat', 'two dogs playing', 'a red car', 'hello world'])[1 + i % 4] AS caption) t;
-- encoded on the coordinator; the distributed table gets the same vectors
UPDATE pictures_local SET emb_text = encode_text(caption), emb_image = encode_image(jpeg);
INSERT INTO pictures SELECT * FROM pictures_local;
CREATE INDEX ON pictures USING inverted (emb_image svec_ip_ops);
CREATE INDEX ON pictures_local USING inverted (emb_image svec_ip_ops);
-- top-10 ids for a text query: inline encode_text, or a scalar subquery.
-- The 200 rows hold 4 distinct images: ties, so the order ends on the id.
CREATE FUNCTION text_topk(tab text, t text, subquery bool) RETURNS text LANGUAGE plpgsql AS \$\$
DECLARE r text; qe text := CASE WHEN subquery THEN '(SELECT encode_text(\$1))' ELSE 'encode_text(\$1)' END;
BEGIN
	EXECUTE format('SELECT string_agg(id || '':'' || d, '','' ORDER BY d, id) FROM
		(SELECT id, emb_image <#> %s AS d FROM %I ORDER BY emb_image <#> %s, id LIMIT 10) s', qe, tab, qe) INTO r USING t;
	RETURN r;
END \$\$;
CREATE TABLE texts (t text);
INSERT INTO texts VALUES ('a photo of a cat'), ('a red car'), ('snow'), ('two dogs playing in the snow');
SQL
ws=$(on coord -c "SELECT string_agg(coalesce(result, ''), ',') FROM run_command_on_workers(\$\$SELECT current_setting('sparseclip.model', true)\$\$)")
echo "   sparseclip.model on the workers after ALTER SYSTEM on the coordinator: '${ws}'"
expect "the scalar-subquery form needs the model on the coordinator alone, and equals the local table" "4" \
	"SELECT count(*) FROM texts WHERE text_topk('pictures', t, true) = text_topk('pictures_local', t, true)"
# The workers have no sparseclip.model of their own: they fail, or, where
# make install put a default model (the workers share this installation),
# silently encode with that one instead of the coordinator's file.
if [ -f "$("$PG_CONFIG" --sharedir)/sparseclip/default.safetensors" ]; then
	# another model: an error (its dimensions differ) or other answers
	out=$(on coord -c "SELECT text_topk('pictures', 'a red car', false)" 2>&1)
	want=$(on coord -c "SELECT text_topk('pictures_local', 'a red car', false)" 2>&1)
	if [ "$out" != "$want" ]; then ok "inline encode_text runs on the shards: with the workers' default model, not the coordinator's"; else notok "inline encode_text on the shards gave the coordinator's answer"; fi
	echo "$out" | grep ERROR | sed 's/^/   /'
	expect "the model setting does not propagate: the workers encode with their installed default" "2" \
		"SELECT count(*) FROM run_command_on_workers(\$\$SELECT model_info()->>'source'\$\$) WHERE result = 'default'"
else
	out=$(on coord -c "SELECT text_topk('pictures', 'a red car', false)" 2>&1)
	if echo "$out" | grep -q "sparseclip.model"; then ok "inline encode_text runs on the shards: without the model there, an error"; else notok "inline encode_text without the model on the workers"; fi
	echo "$out" | grep ERROR | sed 's/^/   /'
	out=$(on coord -c "SELECT encode_text(caption) FROM pictures" 2>&1)
	if echo "$out" | grep -q "no model is configured"; then ok "the model setting does not propagate: encoding on the workers fails without their own"; else notok "encoding on workers without a model fails"; echo "$out" | sed 's/^/    /'; fi
fi
# ALTER DATABASE ... SET is propagated by Citus to every node.
on coord -c "ALTER DATABASE postgres SET sparseclip.model = '$TMP/files/model.safetensors'" >/dev/null || exit 1
wd=$(on coord -c "SELECT string_agg(coalesce(result, ''), ',') FROM run_command_on_workers(\$\$SELECT array_to_string(setconfig, ' ') FROM pg_db_role_setting WHERE setdatabase = (SELECT oid FROM pg_database WHERE datname = 'postgres')\$\$)")
echo "   after ALTER DATABASE postgres SET sparseclip.model on the coordinator, the workers' database settings: '${wd}'"
expect "ALTER DATABASE ... SET sparseclip.model on the coordinator reaches both workers" "2" \
	"SELECT count(*) FROM run_command_on_workers(\$\$SELECT model_info()->>'output_dim'\$\$) WHERE result = '64'"
on coord -c "ALTER DATABASE postgres RESET sparseclip.model" >/dev/null || exit 1
expect "ALTER DATABASE ... RESET propagates too" "0" \
	"SELECT count(*) FROM run_command_on_workers(\$\$SELECT current_setting('sparseclip.model', true)\$\$) WHERE result <> ''"
# ALTER SYSTEM on each node, as on one node.
for n in w1 w2; do
	on "$n" -c "LOAD 'sparseclip'" -c "ALTER SYSTEM SET sparseclip.model = '$TMP/files/model.safetensors'" -c "SELECT pg_reload_conf()" >/dev/null || exit 1
done
sleep 1
expect "after LOAD and ALTER SYSTEM on each worker, every worker has the model" "2" \
	"SELECT count(*) FROM run_command_on_workers(\$\$SELECT model_info()->>'output_dim'\$\$) WHERE result = '64'"

echo "== encoding on every node"
# Citus refuses UPDATE ... SET emb = encode_image(jpeg): a STABLE function
# with a column argument.  INSERT ... SELECT into a colocated table is pushed
# down (each shard encodes its rows on its worker), and so is an UPDATE run
# on each shard by run_command_on_shards.
out=$(on coord -c "UPDATE pictures SET emb_text = encode_text(caption)" 2>&1)
if echo "$out" | grep -q "STABLE functions used in UPDATE queries cannot be called with column references"; then
	ok "Citus refuses UPDATE ... SET emb = encode_text(col) (STABLE function with a column reference)"
else notok "UPDATE with encode_text on a distributed table"; echo "$out" | sed 's/^/    /'; fi
on coord >/dev/null <<'SQL' || exit 1
CREATE TABLE pictures_enc (id bigint, emb_text svec, emb_image svec);
SELECT create_distributed_table('pictures_enc', 'id', colocate_with => 'pictures');
SQL
plan=$(on coord -c "EXPLAIN (COSTS OFF) INSERT INTO pictures_enc SELECT id, encode_text(caption), encode_image(jpeg) FROM pictures" 2>&1)
if echo "$plan" | grep -q "Insert on pictures_enc_" && ! echo "$plan" | grep -q "Distributed Subplan\|coordinator"; then
	ok "INSERT ... SELECT encode_*(...) into a colocated table is pushed down to the shards"
else notok "INSERT ... SELECT encode pushed down"; echo "$plan" | sed 's/^/    /'; fi
on coord -c "INSERT INTO pictures_enc SELECT id, encode_text(caption), encode_image(jpeg) FROM pictures" \
	-c "ALTER TABLE pictures ADD COLUMN w_text svec, ADD COLUMN w_image svec" \
	-c "SELECT count(*) FROM run_command_on_shards('pictures', \$\$UPDATE %s SET w_text = encode_text(caption), w_image = encode_image(jpeg)\$\$) WHERE success" >/dev/null || exit 1
check "encode_text and encode_image on the workers (INSERT ... SELECT) equal the coordinator's (200 rows)" \
	"SELECT count(*) = 200 AND bool_and(e.emb_text = p.emb_text AND e.emb_image = p.emb_image) FROM pictures_enc e JOIN pictures p USING (id)"
check "encode_text and encode_image on the workers (UPDATE by run_command_on_shards) equal the coordinator's" \
	"SELECT count(*) = 200 AND bool_and(w_text = emb_text AND w_image = emb_image) FROM pictures"
check "inline encode_text (encoded on each shard) equals the subquery form and the local table" \
	"SELECT bool_and(text_topk('pictures', t, false) = text_topk('pictures', t, true) AND
		text_topk('pictures', t, false) = text_topk('pictures_local', t, false)) FROM texts"

echo "== settings a session sets: sparseclip.inverted_query_terms (approximate scans)"
# With 2 of ~24 query terms the scan is approximate, so the top-10 changes
# where the setting reaches the shards.
on coord -c "CREATE TABLE approx AS SELECT qid, topk('images_local', q, 'true', 10) AS exact FROM queries" || exit 1
expect "a session SET reaches the coordinator's local scans" "t" \
	"SET sparseclip.inverted_query_terms = 2; SELECT count(*) FILTER (WHERE topk('images_local', q, 'true', 10) <> a.exact) > 0 FROM queries JOIN approx a USING (qid)"
sess=$(on coord -c "SET sparseclip.inverted_query_terms = 2" -c "SELECT count(*) FILTER (WHERE topk('images', q, 'true', 10) <> a.exact) FROM queries JOIN approx a USING (qid)" 2>&1)
loc=$(on coord -c "SET citus.propagate_set_commands = 'local'" -c "BEGIN" -c "SET LOCAL sparseclip.inverted_query_terms = 2" \
	-c "SELECT count(*) FILTER (WHERE topk('images', q, 'true', 10) <> a.exact) FROM queries JOIN approx a USING (qid)" -c "COMMIT" 2>&1)
echo "   distributed top-10s that differ from exact: after a session SET: $sess of $NQ; after SET LOCAL with citus.propagate_set_commands = 'local': $loc of $NQ"
if [ "$sess" = "0" ]; then ok "a session SET of sparseclip.* does not reach the shards (exact answers)"; else notok "session SET on shards: $sess"; fi
if [ -n "$loc" ] && [ "$loc" != "0" ] 2>/dev/null; then ok "SET LOCAL with citus.propagate_set_commands = 'local' reaches the shards"; else notok "SET LOCAL propagation: $loc"; fi

echo "== latency: top-10, $NQ queries x $REPS passes, each query its own transaction (median ms)"
# The goal compares like with like: each shard holds ROWS/SHARDS rows, and the
# shard searches run side by side only while each has a core of its own.
echo "   $SHARDS shards of about $((ROWS / SHARDS)) rows on 2 workers, $(nproc) CPU cores for all three nodes"
on coord <<'SQL' >/dev/null || exit 1
CREATE FUNCTION time_ms(sql text, q svec) RETURNS float8 LANGUAGE plpgsql AS $$
DECLARE t0 timestamptz; r record;
BEGIN
	t0 := clock_timestamp();
	FOR r IN EXECUTE sql USING q LOOP END LOOP;
	RETURN extract(epoch FROM clock_timestamp() - t0) * 1000;
END $$;
CREATE TABLE timings (form text, qid int, rep int, ms float8);
-- Every form for each query in turn, so that the machine's noise falls on
-- all alike; a COMMIT after each query, as an application's autocommit.
CREATE PROCEDURE time_pass(rep int, tag text) LANGUAGE plpgsql AS $$
DECLARE x record; f record;
BEGIN
	FOR x IN SELECT qid, q FROM queries ORDER BY qid LOOP
		FOR f IN SELECT form || CASE WHEN form LIKE 'distributed%' THEN tag ELSE '' END AS form, sql FROM (VALUES
			('one node, one shard''s rows', 'SELECT id FROM images_one_shard ORDER BY emb <#> $1 LIMIT 10'),
			('one node, all rows', 'SELECT id FROM images_local ORDER BY emb <#> $1 LIMIT 10'),
			('distributed, constant vector', 'SELECT id FROM images ORDER BY emb <#> $1 LIMIT 10'),
			('distributed, no rows (fan-out)', 'SELECT id FROM images_empty ORDER BY emb <#> $1 LIMIT 10'),
			('distributed, scalar subquery', 'SELECT id FROM images ORDER BY emb <#> (SELECT q FROM queries WHERE qid = ' || x.qid || ') LIMIT 10')) v(form, sql)
		LOOP
			INSERT INTO timings VALUES (f.form, x.qid, rep, time_ms(f.sql, x.q));
			COMMIT;
		END LOOP;
	END LOOP;
END $$;
SQL
# Citus keeps one connection per worker between transactions by default;
# with more shards than that per worker, each query opens the others anew.
# The second pass keeps as many as there are shards.
for rep in $(seq 1 "$REPS"); do
	on coord -c "CALL time_pass($rep, '')" || exit 1
	on coord -c "SET citus.max_cached_conns_per_worker = $SHARDS" -c "CALL time_pass($rep, ' (cached conns)')" || exit 1
done
on coord <<SQL | sed 's/^/   /'
CREATE TEMP TABLE med AS SELECT form, percentile_cont(0.5) WITHIN GROUP (ORDER BY ms) AS ms
	FROM timings WHERE rep > 1 OR $REPS = 1 GROUP BY form;
SELECT rpad(form, 46) || lpad(round(ms::numeric, 2)::text, 9) || ' ms' FROM med ORDER BY 1;
SELECT 'distributed / one node with one shard''s rows: ' ||
	round(((SELECT ms FROM med WHERE form = 'distributed, constant vector') / (SELECT ms FROM med WHERE form = 'one node, one shard''s rows'))::numeric, 2) ||
	'x (constant vector), ' ||
	round(((SELECT ms FROM med WHERE form = 'distributed, scalar subquery') / (SELECT ms FROM med WHERE form = 'one node, one shard''s rows'))::numeric, 2) ||
	'x (scalar subquery); / one node with all rows: ' ||
	round(((SELECT ms FROM med WHERE form = 'distributed, constant vector') / (SELECT ms FROM med WHERE form = 'one node, all rows'))::numeric, 2) ||
	'x; the fan-out alone (no rows): ' ||
	round(((SELECT ms FROM med WHERE form = 'distributed, no rows (fan-out)') / (SELECT ms FROM med WHERE form = 'one node, one shard''s rows'))::numeric, 2) || 'x';
SELECT 'with cached connections: distributed / one shard''s rows ' ||
	round(((SELECT ms FROM med WHERE form = 'distributed, constant vector (cached conns)') / (SELECT ms FROM med WHERE form = 'one node, one shard''s rows'))::numeric, 2) ||
	'x, / all rows ' ||
	round(((SELECT ms FROM med WHERE form = 'distributed, constant vector (cached conns)') / (SELECT ms FROM med WHERE form = 'one node, all rows'))::numeric, 2) ||
	'x; distributed minus the fan-out: ' ||
	round(((SELECT ms FROM med WHERE form = 'distributed, constant vector (cached conns)') - (SELECT ms FROM med WHERE form = 'distributed, no rows (fan-out) (cached conns)'))::numeric, 2) || ' ms';
SELECT 'load average while timing: ' || (SELECT split_part(pg_read_file('/proc/loadavg'), ' ', 1));
SQL
# The shard searches of one distributed query run at once, here on one
# machine's two cores; so does one node's search when two sessions run it at
# once.  pgbench (client round trip included, a literal vector per query):
# one node with one shard's rows, alone and two sessions at once, against
# distributed, one session.
echo "== latency seen by a client (pgbench, 8 s each, average ms)"
mkdir -p "$TMP/pgb"
on coord -c "SELECT qid, q FROM queries ORDER BY qid" -F ' ' | while read -r qid q; do
	printf "SELECT id FROM images_one_shard ORDER BY emb <#> '%s' LIMIT 10;\n" "$q" > "$TMP/pgb/one-$qid.sql"
	printf "SELECT id FROM images ORDER BY emb <#> '%s' LIMIT 10;\n" "$q" > "$TMP/pgb/dist-$qid.sql"
done
chown -R postgres: "$TMP/pgb"
pgb() {	# pgb FORM CLIENTS: average latency in ms
	local files=() f
	for f in "$TMP"/pgb/"$1"-*.sql; do files+=(-f "$f"); done
	runuser -u postgres -- "$BINDIR/pgbench" -h "$TMP/sock" -p "${PORT[coord]}" -n -T 8 -c "$2" -j "$2" "${files[@]}" postgres 2>/dev/null |
		awk '/^latency average/ { print $4; exit }'
}
one1=$(pgb one 1); one2=$(pgb one 2); dist1=$(pgb dist 1)
echo "   one node, one shard's rows, one session:                $one1 ms"
echo "   one node, one shard's rows, two sessions at once:       $one2 ms"
echo "   distributed, one session:                               $dist1 ms"
awk -v a="$one1" -v b="$one2" -v d="$dist1" 'BEGIN { if (a > 0 && b > 0)
	printf "   distributed / one node alone: %.2fx; / one node with two searches at once: %.2fx\n", d / a, d / b }'
# encode_text inline is run on every shard; the subquery form once.
on coord >/dev/null <<'SQL' || exit 1
-- encode once on the coordinator, then search with the vector as a parameter
CREATE FUNCTION search_pictures(t text) RETURNS SETOF bigint LANGUAGE plpgsql AS $$
DECLARE v svec := encode_text(t);
BEGIN
	RETURN QUERY SELECT id FROM pictures ORDER BY emb_image <#> v LIMIT 10;
END $$;
INSERT INTO timings
SELECT f.form, i, 1, time_ms(f.sql, NULL)
FROM generate_series(1, 20) i, (VALUES
	('pictures, encode_text inline', 'SELECT id FROM pictures ORDER BY emb_image <#> encode_text(''a red car'') LIMIT 10'),
	('pictures, encode_text subquery', 'SELECT id FROM pictures ORDER BY emb_image <#> (SELECT encode_text(''a red car'')) LIMIT 10'),
	('pictures, encode_text parameter', 'SELECT * FROM search_pictures(''a red car'')'),
	('pictures_local, encode_text', 'SELECT id FROM pictures_local ORDER BY emb_image <#> encode_text(''a red car'') LIMIT 10')) f(form, sql);
SQL
on coord -c "SELECT rpad(form, 46) || lpad(round(percentile_cont(0.5) WITHIN GROUP (ORDER BY ms)::numeric, 2)::text, 9) || ' ms'
	FROM timings WHERE form LIKE 'pictures%' GROUP BY form ORDER BY 1" | sed 's/^/   /'

echo
if [ $failed -gt 0 ]; then
	echo "Failures:"
	printf '  %s\n' "${failures[@]}"
fi
echo "$passed passed, $failed failed"
[ $failed -eq 0 ]
