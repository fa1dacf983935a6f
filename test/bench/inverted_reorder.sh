#!/usr/bin/env bash
# Document reordering side by side: the same rows in one table per variant
# (same insertion order, so the same TIDs), each with an svec_ip_ops index
# built with reorder = off or on, and the same top-10 queries through each,
# variants alternating.
#
#   bash test/bench/inverted_reorder.sh [ROWS]        default 200000
#
# Run as root after `make` (BENCH_BUILD=DIR, default this checkout, is
# installed under the private name sparseclip_bench_reorder and removed at
# exit, so the machine-wide installation is not touched and no lock is
# needed).  Data sets (DATASETS, default "docs tdocs clip"):
#   docs   independent documents (inverted_gen docs), text/image queries
#   tdocs  topical documents (inverted_gen tdocs) inserted in a shuffled
#          order, so that insertion order does not cluster them; topical
#          text and image queries (ttext, timage)
#   clip   real Sparse-CLIP embeddings: the CIFAR-10 test images under
#          $SPARSECLIP_SHARED_DATA/cifar10-test (default
#          /work/shared/data) through the default model's encode_image,
#          then jittered copies (each weight times exp(U(-0.3, 0.3)), a fifth
#          of the non-zeros dropped) up to ROWS rows in shuffled order; text
#          queries encode_text of the CIFAR-10 prompt templates, image
#          queries the images of imagenet-sample.  Skipped with a message
#          when the images are absent.  CLIP_CACHE (a file) keeps the encoded
#          images between runs.
# VARIANTS (default "off on"): NAME or NAME:SETTING,SETTING...; "off" builds
# WITH (reorder = off), any other with reorder on, after SET of its settings
# in the building session (for trying a build-time setting of a branch).
# Per data set and variant: build seconds, index MB, text and image top-10
# p50 over ROUNDS (default 2) x NQ (default 100) queries; the share of
# ranges that the scans left incomplete, of the query terms' postings that
# they skipped, and of ranges whose bound over all terms reaches the bar
# (what a walk range by range, best bound first, would score), from their
# DEBUG1 and DEBUG2 lines over the first NQD=20 queries of each kind; and
# whether every variant returned the distances of the first
# one; the first variant is also checked against a sequential scan
# (NQ_SEQ=5 queries of each kind).  Only the ratios between variants of one
# run mean anything on a shared machine.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
N=${1:-200000}
ROUNDS=${ROUNDS:-2}
NQ=${NQ:-100}
NQD=${NQD:-20}
NQ_SEQ=${NQ_SEQ:-5}
DATASETS=${DATASETS:-"docs tdocs clip"}
read -r -a VARIANTS <<< "${VARIANTS:-off on}"
BENCH_BUILD=$(cd "${BENCH_BUILD:-$ROOT}" && pwd)
SHARED_DATA=${SPARSECLIP_SHARED_DATA:-/work/shared/data}
PG_CONFIG=${PG_CONFIG:-/usr/lib/postgresql/15/bin/pg_config}
EXT=sparseclip_bench_reorder

source "$ROOT/test/bench/cluster.sh"
bench_start_cluster shared_buffers=${SHARED_BUFFERS:-2GB} max_parallel_workers_per_gather=0
bench_install_build "$BENCH_BUILD" "$EXT"

gcc -O2 -Wall -Wextra -o "$BENCH_TMP/gen" "$ROOT/test/bench/inverted_gen.c" -lm
cat > "$BENCH_TMP/reorder.sql" <<'SQL'
-- one row per query: its id, milliseconds, and the distances of
-- ORDER BY emb <#> q LIMIT k through table tbl's index (or a sequential scan)
CREATE FUNCTION bench_time_tbl(tbl text, qkind text, k int, nq int, use_index bool DEFAULT true)
RETURNS TABLE (qid int, ms float8, ds float8[]) LANGUAGE plpgsql AS $$
DECLARE
	r record;
	t0 timestamptz;
	d float8[];
BEGIN
	PERFORM set_config('enable_seqscan', CASE WHEN use_index THEN 'off' ELSE 'on' END, true);
	PERFORM set_config('enable_indexscan', CASE WHEN use_index THEN 'on' ELSE 'off' END, true);
	FOR r IN SELECT q.id, q.emb FROM queries q WHERE q.kind = qkind ORDER BY q.id LIMIT nq LOOP
		t0 := clock_timestamp();
		EXECUTE format('SELECT array_agg(d) FROM (SELECT emb <#> $1 AS d FROM %I ORDER BY emb <#> $1 LIMIT %s) s', tbl, k)
			INTO d USING r.emb;
		qid := r.id;
		ms := extract(epoch FROM clock_timestamp() - t0) * 1000;
		ds := d;
		RETURN NEXT;
	END LOOP;
END $$;
-- seconds to build tbl's index with the given WITH clause
CREATE FUNCTION bench_build(tbl text, opts text) RETURNS float8 LANGUAGE plpgsql AS $$
DECLARE
	t0 timestamptz := clock_timestamp();
BEGIN
	EXECUTE format('CREATE INDEX %I ON %I USING inverted (emb svec_ip_ops) %s', tbl || '_idx', tbl, opts);
	RETURN extract(epoch FROM clock_timestamp() - t0);
END $$;
SQL
chown -R postgres: "$BENCH_TMP"
psql() { runuser -u postgres -- "$BENCH_BINDIR/psql" -X -q -v ON_ERROR_STOP=1 "$@"; }
psql -c "CREATE EXTENSION $EXT" -f "$BENCH_TMP/reorder.sql"

load_synthetic() {			# KIND TEXTKIND IMAGEKIND
	psql -c "DROP TABLE IF EXISTS src, queries" \
		-c "CREATE TABLE src (id int, emb svec)" -c "CREATE TABLE queries (kind text, id int, emb svec)" \
		-c "\\copy src FROM PROGRAM '$BENCH_TMP/gen $1 $N 1'" \
		-c "CREATE TEMP TABLE q (id int, emb svec)" \
		-c "\\copy q FROM PROGRAM '$BENCH_TMP/gen $2 $NQ 3'" \
		-c "INSERT INTO queries SELECT 'text', id, emb FROM q" -c "TRUNCATE q" \
		-c "\\copy q FROM PROGRAM '$BENCH_TMP/gen $3 $NQ 4'" \
		-c "INSERT INTO queries SELECT 'image', id, emb FROM q"
}

load_clip() {
	local dir="$SHARED_DATA/cifar10-test" cache=${CLIP_CACHE:-}
	if [ ! -d "$dir" ]; then
		echo "# clip: $dir is absent, skipped" >&2
		return 1
	fi
	mkdir -p "$BENCH_TMP/clip"
	psql -c "DROP TABLE IF EXISTS src, queries, imgs" \
		-c "CREATE TABLE imgs (id int, emb svec)" -c "CREATE TABLE queries (kind text, id int, emb svec)"
	if [ -n "$cache" ] && [ -s "$cache" ]; then
		cp "$cache" "$BENCH_TMP/clip/imgs.copy"
	else
		find "$dir" -type f | sort > "$BENCH_TMP/clip/files.txt"
		chown -R postgres: "$BENCH_TMP/clip"
		echo "# clip: encoding $(wc -l < "$BENCH_TMP/clip/files.txt") images" >&2
		psql -c "CREATE TEMP TABLE f (id serial, name text)" \
			-c "\\copy f (name) FROM '$BENCH_TMP/clip/files.txt'" \
			-c "INSERT INTO imgs SELECT id, encode_image(pg_read_binary_file(name)) FROM f" \
			-c "\\copy imgs TO '$BENCH_TMP/clip/imgs.copy'"
		[ -n "$cache" ] && cp "$BENCH_TMP/clip/imgs.copy" "$cache"
		psql -c "TRUNCATE imgs"
	fi
	chown -R postgres: "$BENCH_TMP/clip"
	psql -c "\\copy imgs FROM '$BENCH_TMP/clip/imgs.copy'"
	# copies with jittered weights, up to N rows
	psql -At -c "SELECT setseed(0.42)" \
		-c "CREATE TABLE src AS SELECT row_number() OVER ()::int AS id, emb FROM (
			SELECT (SELECT svec(array_agg(e.dim), array_agg(e.weight * exp(0.6 * random() - 0.3)::real), dims(i.emb))
					FROM svec_entries(i.emb) e WHERE c = 0 OR random() >= 0.2) AS emb
			FROM imgs i, generate_series(0, ($N - 1) / (SELECT count(*) FROM imgs)) c
			ORDER BY c, i.id LIMIT $N) s" >/dev/null
	# text queries: class prompts; image queries: imagenet-sample images
	python3 - "$SHARED_DATA/clip/zeroshot_prompts.json" "$NQ" > "$BENCH_TMP/clip/prompts.txt" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))["cifar10"]
out = [t.format(c) for t in d["templates"] for c in d["classes"]][: int(sys.argv[2])]
print("\n".join(out))
PY
	find "$SHARED_DATA/imagenet-sample" -type f | sort | head -n "$NQ" > "$BENCH_TMP/clip/qimgs.txt"
	chown -R postgres: "$BENCH_TMP/clip"
	psql -c "CREATE TEMP TABLE p (id serial, t text)" -c "\\copy p (t) FROM '$BENCH_TMP/clip/prompts.txt'" \
		-c "INSERT INTO queries SELECT 'text', id, encode_text(t) FROM p" \
		-c "CREATE TEMP TABLE f (id serial, name text)" -c "\\copy f (name) FROM '$BENCH_TMP/clip/qimgs.txt'" \
		-c "INSERT INTO queries SELECT 'image', id, encode_image(pg_read_binary_file(name)) FROM f"
	psql -c "DROP TABLE imgs"
}

vname() { echo "${1%%:*}"; }
vsets() {					# the variant's settings as -c "SET ..." arguments
	local s=${1#*:}
	[ "$s" = "$1" ] && return 0
	tr ',' '\n' <<< "$s" | while read -r kv; do printf '%s\n' "SET ${kv%%=*} = '${kv#*=}'"; done
}

printf 'rows\tdata\tvariant\tbuild s\tindex MB\ttext p50 ms\timage p50 ms\ttext incomplete / skipped / reachable\timage incomplete / skipped / reachable\tanswers\n'
for data in $DATASETS; do
	case $data in
		docs) load_synthetic docs text image ;;
		tdocs) load_synthetic tdocs ttext timage ;;
		clip) load_clip || continue ;;
		*) echo "unknown data set $data" >&2; exit 2 ;;
	esac
	declare -A build=() size=()
	for v in "${VARIANTS[@]}"; do
		t=t_$(vname "$v")
		# the same shuffled order for every variant (topical rows must not come in topic order)
		psql -c "DROP TABLE IF EXISTS $t" -c "CREATE TABLE $t AS SELECT * FROM src ORDER BY md5(id::text)" \
			-c "VACUUM ANALYZE $t"
		opts=""
		[ "$(vname "$v")" = off ] && opts="WITH (reorder = off)"
		args=()
		while read -r s; do [ -n "$s" ] && args+=(-c "$s"); done < <(vsets "$v")
		build[$v]=$(psql -At "${args[@]}" -c "SELECT round(bench_build('$t', '$opts')::numeric, 2)" | tail -n 1)
		size[$v]=$(psql -At -c "SELECT round(pg_relation_size('${t}_idx') / 1048576.0, 1)")
	done
	psql -c "VACUUM ANALYZE queries" -c "CHECKPOINT"
	: > "$BENCH_TMP/times.tsv"
	# warm-up, then rounds with the variants' order alternating
	for v in "${VARIANTS[@]}"; do
		for kind in text image; do
			psql -At -c "SELECT count(*) FROM bench_time_tbl('t_$(vname "$v")', '$kind', 10, $NQ)" >/dev/null
		done
	done
	for round in $(seq "$ROUNDS"); do
		order=("${VARIANTS[@]}")
		if [ $((round % 2)) -eq 0 ]; then
			order=(); for ((i = ${#VARIANTS[@]} - 1; i >= 0; i--)); do order+=("${VARIANTS[i]}"); done
		fi
		for kind in text image; do
			for v in "${order[@]}"; do
				psql -At -F $'\t' -c "SELECT '$(vname "$v")', '$kind', $round, qid, ms, md5(ds::text)
					FROM bench_time_tbl('t_$(vname "$v")', '$kind', 10, $NQ)" >> "$BENCH_TMP/times.tsv"
			done
		done
	done
	# the first variant against a sequential scan
	v0=t_$(vname "${VARIANTS[0]}")
	seq_ok=$(psql -At -c "SELECT count(*) FILTER (WHERE a.ds = b.ds) || ' of ' || count(*)
		FROM (SELECT 'text' k, * FROM bench_time_tbl('$v0', 'text', 10, $NQ_SEQ)
			  UNION ALL SELECT 'image', * FROM bench_time_tbl('$v0', 'image', 10, $NQ_SEQ)) a
		JOIN (SELECT 'text' k, * FROM bench_time_tbl('$v0', 'text', 10, $NQ_SEQ, false)
			  UNION ALL SELECT 'image', * FROM bench_time_tbl('$v0', 'image', 10, $NQ_SEQ, false)) b USING (k, qid)")
	for v in "${VARIANTS[@]}"; do
		name=$(vname "$v")
		inc=()
		for kind in text image; do
			inc+=("$(psql -At -c "SET client_min_messages = debug2" \
				-c "SELECT count(*) FROM bench_time_tbl('t_$name', '$kind', 10, $NQD)" 2>&1 |
				awk '/inverted scan: .* of .* (ranges left incomplete|postings skipped|ranges could reach)/ {
						for (i = 1; i <= NF; i++) if ($i == "of") { k = ($(i + 2) == "postings") ? "p" : ($(i + 3) == "left") ? "r" : "b"; a[k] += $(i - 1); b[k] += $(i + 1) } }
					 END { if (b["r"] > 0 && b["p"] > 0) printf "%.1f / %.1f / %s %%", 100 * a["r"] / b["r"], 100 * a["p"] / b["p"], (b["b"] > 0 ? sprintf("%.1f", 100 * a["b"] / b["b"]) : "-"); else print "-" }')")
		done
		p50() {
			awk -F '\t' -v b="$name" -v k="$1" '$1 == b && $2 == k { print $5 }' "$BENCH_TMP/times.tsv" |
				sort -g | awk '{ v[NR] = $1 } END { i = int(0.5 * NR + 0.999999); if (i < 1) i = 1; printf "%.3f", v[i] }'
		}
		same=$(awk -F '\t' -v b="$name" -v a="$(vname "${VARIANTS[0]}")" '{ h[$1 FS $2 FS $3 FS $4] = $6 }
			END { n = 0; m = 0; for (x in h) { split(x, f, FS); if (f[1] != b) continue; n++; if (h[a FS f[2] FS f[3] FS f[4]] == h[x]) m++ }
				  printf "%d of %d equal", m, n }' "$BENCH_TMP/times.tsv")
		[ "$name" = "$(vname "${VARIANTS[0]}")" ] && same="seq scan: $seq_ok equal"
		printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$N" "$data" "$v" "${build[$v]}" "${size[$v]}" \
			"$(p50 text)" "$(p50 image)" "${inc[0]}" "${inc[1]}" "$same"
	done
	unset build size
	psql -c "DROP TABLE $(for v in "${VARIANTS[@]}"; do printf 't_%s, ' "$(vname "$v")"; done)src, queries"
done
