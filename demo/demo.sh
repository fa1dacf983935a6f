#!/usr/bin/env bash
# The demo's SQL path, against a running cluster: fetch the Twemoji sample,
# load it, embed it with the bulk embedder, build the inverted index, search,
# explain, time, and draw the answers.  demo/run.sh calls it with a throwaway
# cluster; test/t/050_demo.pl calls it with a test node.  Needs no root.
#
# The cluster: PGHOST, PGPORT, PGUSER (a superuser), PGDATABASE (the database
# to connect to first).  Everything happens in the database DEMO_DB
# (default sparseclip_demo), created when missing; its table emoji is
# replaced on every run.
#
#   SPARSECLIP_MODEL  model file (read by the server); unset: the installed default
#   DEMO_ROWS         rows to load (default: all of Twemoji, 3,786)
#   DEMO_WORKERS      background embedding workers (default: cores, at most 4)
#   DEMO_OUT          output folder: page, contact sheet (default demo/out)
#   DEMO_CACHE        where the npm packages go (default demo/.cache)
#   DEMO_QUERIES      file of text queries, one a line (default demo/queries.txt)
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
DEMO_DB=${DEMO_DB:-sparseclip_demo}
DEMO_ROWS=${DEMO_ROWS:-0}
cores=$(nproc 2>/dev/null || echo 2)
DEMO_WORKERS=${DEMO_WORKERS:-$((cores < 4 ? cores : 4))}
DEMO_OUT=${DEMO_OUT:-$HERE/out}
DEMO_CACHE=${DEMO_CACHE:-$HERE/.cache}
DEMO_QUERIES=${DEMO_QUERIES:-$HERE/queries.txt}
# The rows whose concepts are listed (by caption), when the table has them.
CONCEPT_ROWS='red apple|cat face|rocket|flag: Japan'
NPM_PKGS=(emoji-datasource-twitter@16.0.0 emojibase-data@17.0.0)

case $DEMO_ROWS in ''|*[!0-9]*) echo "demo: DEMO_ROWS must be a number" >&2; exit 2 ;; esac
case $DEMO_WORKERS in ''|*[!0-9]*) echo "demo: DEMO_WORKERS must be a number" >&2; exit 2 ;; esac

start=$(date +%s.%N)
nstep=0
step() { nstep=$((nstep + 1)); printf '\n== %d. %s\n' "$nstep" "$*"; }
say() { printf '   %s\n' "$*"; }
# The statements a user would type, shown before they run.
show() { printf '   SQL> %s\n' "$@"; }
die() { echo "demo: $*" >&2; exit 1; }
elapsed() { awk -v a="$1" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }'; }
sql() { psql -X -q -v ON_ERROR_STOP=1 -d "$DEMO_DB" "$@"; }
sql_value() { psql -X -q -At -v ON_ERROR_STOP=1 -d "$DEMO_DB" "$@"; }
indent() { sed '/^$/d; s/^/   /'; }

mapfile -t queries < <(grep -v '^[[:space:]]*\(#\|$\)' "$DEMO_QUERIES")
[ ${#queries[@]} -gt 0 ] || die "no queries in $DEMO_QUERIES"
queries_joined=$(IFS='|'; echo "${queries[*]}")
case $DEMO_DB in [a-z_]*[!a-z0-9_]*|[!a-z_]*|'') die "DEMO_DB must be a plain lower-case name" ;; esac
# The output folder is emptied of an earlier run's files: never a folder
# that holds anything else.
if [ -d "$DEMO_OUT" ] && [ -n "$(ls -A "$DEMO_OUT")" ] && [ ! -f "$DEMO_OUT/.sparseclip-demo" ]; then
	die "DEMO_OUT=$DEMO_OUT is not empty and holds no earlier demo output: name a new folder"
fi
mkdir -p "$DEMO_OUT"
touch "$DEMO_OUT/.sparseclip-demo"
DEMO_OUT=$(cd "$DEMO_OUT" && pwd)
work=$DEMO_OUT/work
rm -rf "$work" "$DEMO_OUT/img"
mkdir -p "$work" "$DEMO_OUT/img"

# ---------------------------------------------------------------- data
step "Fetching the sample images: Twemoji (npm ${NPM_PKGS[*]})"
npm_ok=1
for spec in "${NPM_PKGS[@]}"; do
	name=${spec%@*} version=${spec##*@}
	have=$(node -e 'try{process.stdout.write(require(process.argv[1]).version)}catch(e){}' \
		"$DEMO_CACHE/node_modules/$name/package.json")
	[ "$have" = "$version" ] || npm_ok=0
done
if [ $npm_ok = 1 ]; then
	say "already in $DEMO_CACHE"
else
	command -v npm >/dev/null || die "npm is missing (demo/run.sh installs it: apt-get install npm)"
	mkdir -p "$DEMO_CACHE"
	printf '{ "name": "sparseclip-demo-data", "private": true }\n' > "$DEMO_CACHE/package.json"
	(cd "$DEMO_CACHE" && npm install --save-exact --ignore-scripts --no-audit --no-fund \
		--loglevel=error "${NPM_PKGS[@]}") | indent ||
		die "npm could not install ${NPM_PKGS[*]} (no network?); DEMO_CACHE may name a folder where they are installed"
	say "installed into $DEMO_CACHE"
fi
imgdir=$DEMO_CACHE/node_modules/emoji-datasource-twitter/img/twitter/64
say "Twemoji is the emoji style held out of the training data: the model never saw these images."

# ---------------------------------------------------------------- database
step "Preparing database $DEMO_DB"
if [ "$(psql -X -At -c "SELECT 1 FROM pg_database WHERE datname = '$DEMO_DB'")" != 1 ]; then
	psql -X -q -v ON_ERROR_STOP=1 -c "CREATE DATABASE \"$DEMO_DB\""
	say "created"
fi
# Settings of the demo's database, so that the background workers get them
# too.  Twemoji are drawings with transparency: composite them over white,
# as the training images were.
if [ -n "${SPARSECLIP_MODEL:-}" ]; then
	model_sql=$(printf '%s' "$SPARSECLIP_MODEL" | sed "s/'/''/g")
	psql -X -q -v ON_ERROR_STOP=1 -c "ALTER DATABASE \"$DEMO_DB\" SET sparseclip.model = '$model_sql'"
	model_note="from SPARSECLIP_MODEL, not the installed default"
else
	model_note=
	psql -X -q -v ON_ERROR_STOP=1 -c "ALTER DATABASE \"$DEMO_DB\" RESET sparseclip.model"
fi
psql -X -q -v ON_ERROR_STOP=1 -c "ALTER DATABASE \"$DEMO_DB\" SET sparseclip.image_alpha = 'white'"
show "CREATE EXTENSION sparseclip;" "ALTER DATABASE $DEMO_DB SET sparseclip.image_alpha = 'white';  -- icons: transparency over white"
sql -c 'SET client_min_messages = warning' -c 'CREATE EXTENSION IF NOT EXISTS sparseclip'
if ! info=$(sql_value -c "SELECT format('%s (%s dimensions, %s, concept names: %s)', model_info()->>'path',
		model_info()->>'output_dim', CASE WHEN (model_info()->>'sparse')::bool THEN 'sparse' ELSE 'dense' END,
		CASE WHEN (model_info()->>'has_concepts')::bool THEN 'yes' ELSE 'no' END)" 2>"$work/model.err"); then
	cat "$work/model.err" >&2
	if [ -z "${SPARSECLIP_MODEL:-}" ]; then
		die "no default model is installed (make install installs models/default.safetensors when the checkout has it); set SPARSECLIP_MODEL=/path/to/model.safetensors to use another model"
	fi
	die "the server cannot use SPARSECLIP_MODEL=$SPARSECLIP_MODEL"
fi
say "model: $info"
# explain_match and concepts need a sparse model with named dimensions.
[ "$(sql_value -c "SELECT (model_info()->>'sparse')::bool AND (model_info()->>'has_concepts')::bool")" = t ] ||
	die "the model is dense or has no concept names: the demo needs a sparse model named by training/sparseclip-concepts"
if [ -z "$model_note" ]; then
	if [ -n "$(sql_value -c "SELECT current_setting('sparseclip.model', true)")" ]; then
		model_note="the server's sparseclip.model setting"
	else
		model_note="the installed default"
	fi
fi
say "       ($model_note)"

# ---------------------------------------------------------------- load
step "Loading the sample table"
sql -f "$HERE/table.sql" >/dev/null
node "$HERE/load.js" "$DEMO_CACHE/node_modules" "$DEMO_ROWS" 2>"$work/load.log" |
	sql -c '\copy emoji (id, file, short_name, caption, keywords, category, png) FROM pstdin'
rows=$(sql_value -c 'SELECT count(*) FROM emoji')
say "$(cat "$work/load.log")"
say "$rows rows in table emoji ($(sql_value -c "SELECT pg_size_pretty(pg_total_relation_size('emoji'))")):"
sql -P footer=off -c 'SELECT id, file, short_name, caption, category FROM emoji ORDER BY id LIMIT 3' | indent

# ---------------------------------------------------------------- embed
step "Embedding $rows images with the bulk embedder ($DEMO_WORKERS background workers)"
show "SELECT embed_column('emoji', 'png', 'emb', workers => $DEMO_WORKERS, keep_current => false);"
job=$(sql_value -c "SELECT embed_column('emoji', 'png', 'emb', workers => $DEMO_WORKERS, keep_current => false)")
show "SELECT rows_done, rows_total, rows_per_sec, eta FROM embed_progress WHERE job = $job;  -- every few seconds"
# Poll the progress view until nothing is pending.  With no worker alive
# (no free worker slot, say), embed in this session instead.
idle=0
while :; do
	IFS='|' read -r state total done failed pending rate eta alive err < <(sql_value -c \
		"SELECT state, rows_total, rows_done, rows_failed, rows_pending, coalesce(rows_per_sec::text, '-'),
		        coalesce(eta::text, '-'), workers_alive, coalesce(last_error, '') FROM embed_progress WHERE job = $job")
	pct=$(awk -v d="$done" -v t="$total" 'BEGIN { printf "%5.1f", t ? 100 * d / t : 100 }')
	printf '   embedded %6d of %d (%s %%), %s rows/s, time left %s, %s workers%s\n' \
		"$done" "$total" "$pct" "$rate" "$eta" "$alive" "${err:+, last error: $err}"
	[ "$pending" -eq 0 ] && break
	if [ "$alive" -eq 0 ]; then
		idle=$((idle + 1))
		if [ $idle -ge 2 ]; then
			say "no background worker is running: embedding in this session instead"
			show "CALL embed_run($job);"
			sql -c "CALL embed_run($job)" 2>&1 | indent
			continue
		fi
	else
		idle=0
	fi
	sleep 3
done
# The job's own clock: from its creation to its last batch (the polling
# above only sees the end to within its interval).
embed_s=$(sql_value -c "SELECT round(extract(epoch FROM last_batch_at - created_at), 1) FROM embed_jobs WHERE id = $job")
embed_rate=$(awk -v n="$done" -v s="$embed_s" 'BEGIN { printf "%.1f", (s > 0 ? n / s : 0) }')
say "done: $done rows in $embed_s s ($embed_rate rows/s), $failed failed"
if [ "$failed" -gt 0 ]; then
	sql -P footer=off -c "SELECT row_key, sqlstate, error FROM embed_failures WHERE job = $job LIMIT 5" | indent
fi
sql -P footer=off -c "SELECT avg(nnz(emb))::int AS avg_active_concepts, min(nnz(emb)) AS min, max(nnz(emb)) AS max,
	max(dims(emb)) AS dims FROM emoji" | indent

# ---------------------------------------------------------------- index
step "Building the inverted index"
show "CREATE INDEX ON emoji USING inverted (emb svec_ip_ops);"
index_ms=$(sql -c '\timing on' -c 'CREATE INDEX emoji_emb_idx ON emoji USING inverted (emb svec_ip_ops)' |
	sed -n 's/^Time: \([0-9.]*\) ms.*/\1/p')
say "built in $index_ms ms ($(sql_value -c "SELECT pg_size_pretty(pg_relation_size('emoji_emb_idx'))"))"
sql -c 'ANALYZE emoji'
say "the plan of a search:"
sql -P footer=off -c "EXPLAIN (COSTS OFF) SELECT file FROM emoji ORDER BY emb <#> encode_text('a cat') LIMIT 5" | indent

# ---------------------------------------------------------------- search
step "Searching: ${#queries[@]} text queries, top 5 each, with the concepts that made each match"
show "SELECT caption, -(emb <#> encode_text('a red apple')) AS score FROM emoji" \
	"       ORDER BY emb <#> encode_text('a red apple') LIMIT 5;" \
	"SELECT name, contribution FROM explain_match(encode_text('a red apple'), <the row's emb>, 3);"
mkdir -p "$work/results"
i=0
for q in "${queries[@]}"; do
	i=$((i + 1))
	printf "\n   '%s'\n" "$q"
	sql -P footer=off -v query="$q" -f "$HERE/search.sql" | indent
	sql -At -F $'\t' -v query="$q" -f "$HERE/search.sql" > "$work/results/$i.tsv"
done

# ---------------------------------------------------------------- concepts
step "The active concepts of a few rows"
show "SELECT * FROM concepts((SELECT emb FROM emoji WHERE caption = 'red apple'), 5);"
sql -P footer=off -v rows="$CONCEPT_ROWS" -f "$HERE/concepts.sql" | indent

# ---------------------------------------------------------------- timings
step "Query latency (median of 5 runs, timed in the server)"
lat=$(sql -P footer=off -v queries="$queries_joined" -f "$HERE/latency.sql")
echo "$lat" | indent
search_ms=$(echo "$lat" | awk -F'|' '/median of all runs/ { gsub(/ /, "", $3); print $3 }')
encode_ms=$(echo "$lat" | awk -F'|' '/median of all runs/ { gsub(/ /, "", $2); print $2 }')

# ---------------------------------------------------------------- pictures
step "Writing the page and the contact sheet"
printf '%s\n' "${queries[@]}" > "$work/queries.txt"
cut -f3 "$work"/results/*.tsv | sort -u | while read -r f; do cp "$imgdir/$f" "$DEMO_OUT/img/"; done
node "$HERE/page.js" "$work" "$DEMO_OUT" "$info"
bash "$HERE/sheet.sh" "$work" "$DEMO_OUT" "$info"
say "$DEMO_OUT/index.html"
say "$DEMO_OUT/contact.png"

# ---------------------------------------------------------------- summary
total_s=$(elapsed "$start")
step "Summary"
say "rows: $rows Twemoji images; embedded $done in $embed_s s ($embed_rate rows/s, $DEMO_WORKERS workers)"
say "index build: $index_ms ms; query: encode_text $encode_ms ms + top-5 search $search_ms ms (medians)"
say "total: $total_s s"
say "output: $DEMO_OUT (index.html, contact.png)"
echo
say "To do the same by hand (demo/by-hand.sql; all the demo's SQL is in demo/*.sql):"
sed 's/^\t/    /' "$HERE/by-hand.sql" | indent
