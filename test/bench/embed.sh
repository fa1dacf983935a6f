#!/usr/bin/env bash
# Bulk embedding benchmark, side by side in one run on one cluster (port
# 5433), a model of the "tiny" preset (the installed default model, trained
# and as sparse as in use, about 80 of 8,192 dimensions active; a random-
# weight one, half its dimensions active, with MODEL_KIND=random or when no
# default is installed), one OpenBLAS thread per process, batch 32:
#   raw forward   test/bench/bench_model.c's image_b32 (pixels already decoded,
#                 as test/bench/model.sh reports it)
#   raw SQL       SELECT encode_images(array of 32 JPEGs) over the table
#   foreground    CALL embed_run(job) over the same rows
#   1 worker, 2 workers   embed_column(..., workers => N) until done
#   latencies     first embedded row after embed_column (2 workers), and a row
#                 inserted into the kept-current table until embedded
# Images: ../shared/data/imagenet-sample photos when present (else the test
# fixtures), or with IMAGES=twemoji the 16 Twemoji PNGs of the test fixtures
# (64 pixels, the default model's own kind), repeated to ROWS rows.
# Results: test/bench/results/embed-ROWS[-twemoji].tsv.
#
#   flock /tmp/sparseclip-test.lock bash test/bench/embed.sh [ROWS]   (default 20000)
#   MODEL_KIND=random ... for the random-weight model
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
ROWS=${1:-20000}
SHARED=${SPARSECLIP_SHARED_DATA:-$(cd "$ROOT/.." && pwd)/shared/data}
source "$ROOT/test/bench/cluster.sh"

make -C "$ROOT" -s install >/dev/null
make -C "$ROOT" -s tools >/dev/null
BUILD=$(mktemp -d /tmp/sparseclip-bench-embed.XXXXXX)
trap 'rm -rf "$BUILD"; bench_stop_cluster' EXIT
gcc -std=gnu11 -O2 -I"$ROOT/src/core" -o "$BUILD/bench_model" "$ROOT/test/bench/bench_model.c" \
	"$ROOT"/src/core/*.c -lopenblas -lturbojpeg -lpng16 -lwebp -lwebpdemux -lutf8proc -lm -lpthread

chmod 755 "$BUILD"
DEFAULT=$("${PG_CONFIG:-/usr/lib/postgresql/15/bin/pg_config}" --sharedir)/sparseclip/default.safetensors
MODEL=$BUILD/tiny.safetensors
KIND=${MODEL_KIND:-default}
[ -f "$DEFAULT" ] || KIND=random
CONFIG='{"image_size":64,"patch_size":8,"vision_width":256,"vision_layers":6,"vision_heads":4,'
CONFIG+='"context_length":32,"vocab_size":1,"text_width":256,"text_layers":6,"text_heads":4,'
CONFIG+='"embed_dim":256,"sparse_dim":8192,"activation":"gelu",'
CONFIG+='"image_mean":[0.48145466,0.4578275,0.40821073],"image_std":[0.26862954,0.26130258,0.27577711]}'
if [ "$KIND" = default ]; then
	cp "$DEFAULT" "$MODEL"
	KIND_NOTE="the installed default model"
else
	"$ROOT/test/tools/bin/make_model" "$CONFIG" "$ROOT/test/fixtures/encode/model.safetensors" "$MODEL"
	KIND_NOTE="random weights"
fi
chmod 644 "$MODEL"
bench_start_cluster "max_worker_processes=8" "autovacuum=off" "sparseclip.model='$MODEL'"
trap 'rm -rf "$BUILD"; bench_stop_cluster' EXIT
mkdir -p "$BENCH_TMP/img"
if [ "${IMAGES:-}" = twemoji ]; then
	# the model's own kind of image: 64-pixel emoji PNGs (decoding is cheap)
	cp "$ROOT"/test/fixtures/twemoji/*.png "$BENCH_TMP/img/"
	SOURCE="test/fixtures/twemoji (64-pixel PNG)"
elif [ -d "$SHARED/imagenet-sample" ]; then
	find "$SHARED/imagenet-sample" -name '*.JPEG' -o -name '*.jpg' -o -name '*.jpeg' | head -n 1000 |
		while read -r f; do cp "$f" "$BENCH_TMP/img/"; done
	SOURCE="imagenet-sample"
else
	cp "$ROOT"/test/fixtures/encode/*.jpg "$BENCH_TMP/img/"
	SOURCE="test fixtures"
fi
ls "$BENCH_TMP/img" > "$BENCH_TMP/img.txt"
chown -R postgres: "$BENCH_TMP"
psql() { command psql -X -q -v ON_ERROR_STOP=1 -At "$@"; }
now() { date +%s.%N; }
# wait (inside the server, polling every 10 ms) until a query is true
wait_for() { psql -c "DO \$\$ BEGIN WHILE NOT ($1) LOOP PERFORM pg_sleep(0.01); END LOOP; END \$\$"; }

psql <<SQL
CREATE EXTENSION sparseclip;
CREATE TABLE files (n int, name text);
COPY files (name) FROM '$BENCH_TMP/img.txt';
UPDATE files f SET n = s.n FROM (SELECT name, row_number() OVER (ORDER BY name) - 1 AS n FROM files) s WHERE s.name = f.name;
CREATE TABLE src AS SELECT f.n, pg_read_binary_file('$BENCH_TMP/img/' || f.name) AS jpeg FROM files f;
CREATE TABLE imgs (id bigint PRIMARY KEY, jpeg bytea);
INSERT INTO imgs SELECT i, s.jpeg FROM generate_series(1, $ROWS) i JOIN src s ON s.n = i % (SELECT count(*) FROM src);
CREATE TABLE fg (LIKE imgs INCLUDING ALL); INSERT INTO fg SELECT * FROM imgs;
CREATE TABLE w1 (LIKE imgs INCLUDING ALL); INSERT INTO w1 SELECT * FROM imgs;
CREATE TABLE w2 (LIKE imgs INCLUDING ALL); INSERT INTO w2 SELECT * FROM imgs;
VACUUM ANALYZE;
SQL
MB=$(psql -c "SELECT round(avg(length(jpeg)) / 1024.0, 1) FROM imgs")
echo "# $ROWS images from $SOURCE (mean $MB kB), tiny preset, $KIND_NOTE, batch 32, 1 thread a process"

raw_fwd=$(OPENBLAS_NUM_THREADS=1 "$BUILD/bench_model" tiny 1 4 | awk '$1 == "image_b32" { print $2 }')

t0=$(now)
psql -c "SET sparseclip.threads = 1" -c "SELECT sum(cardinality(encode_images(a))) FROM
	(SELECT array_agg(jpeg ORDER BY id) a FROM imgs GROUP BY (id - 1) / 32) s" >/dev/null
t1=$(now)
raw_sql=$(echo "$ROWS $t0 $t1" | awk '{ printf "%.2f", $1 / ($3 - $2) }')

job=$(psql -c "SELECT embed_column('fg', 'jpeg', 'emb', batch_size => 32, workers => 0, keep_current => false)")
t0=$(now)
psql -c "SET sparseclip.threads = 1" -c "CALL embed_run($job)" 2>/dev/null
t1=$(now)
fg=$(echo "$ROWS $t0 $t1" | awk '{ printf "%.2f", $1 / ($3 - $2) }')
[ "$(psql -c "SELECT count(emb) FROM fg")" = "$ROWS" ] || { echo "foreground: not every row embedded" >&2; exit 1; }
nnz=$(psql -c "SELECT round(avg(nnz(emb)), 1) FROM fg")

# one worker, until the job is done
t0=$(now)
job=$(psql -c "SELECT embed_column('w1', 'jpeg', 'emb', batch_size => 32, workers => 1, threads => 1, keep_current => false)")
wait_for "(SELECT state = 'done' FROM embed_jobs WHERE id = $job)"
t1=$(now)
w1=$(echo "$ROWS $t0 $t1" | awk '{ printf "%.2f", $1 / ($3 - $2) }')

# two workers, kept current: first row, all rows, then an insert
t0=$(now)
job=$(psql -c "SELECT embed_column('w2', 'jpeg', 'emb', batch_size => 32, workers => 2, threads => 1)")
wait_for "EXISTS (SELECT 1 FROM w2 WHERE emb IS NOT NULL)"
tf=$(now)
wait_for "NOT EXISTS (SELECT 1 FROM w2 WHERE emb IS NULL)"
t1=$(now)
w2=$(echo "$ROWS $t0 $t1" | awk '{ printf "%.2f", $1 / ($3 - $2) }')
first_ms=$(echo "$t0 $tf" | awk '{ printf "%.0f", 1000 * ($2 - $1) }')
ins=()
for i in 1 2 3 4 5; do
	ti=$(now)
	id=$(psql -c "INSERT INTO w2 SELECT max(id) + 1, (SELECT jpeg FROM src LIMIT 1) FROM w2 RETURNING id")
	wait_for "(SELECT emb IS NOT NULL FROM w2 WHERE id = $id)"
	ins+=("$(echo "$ti $(now)" | awk '{ printf "%.0f", 1000 * ($2 - $1) }')")
done
[ "$(psql -c "SELECT count(emb) = count(*) FROM w1")" = t ] || { echo "1 worker: rows missing" >&2; exit 1; }
[ "$(psql -c "SELECT count(emb) = count(*) FROM w2")" = t ] || { echo "2 workers: rows missing" >&2; exit 1; }

out="$ROOT/test/bench/results/embed-$ROWS${IMAGES:+-$IMAGES}.tsv"
mkdir -p "$(dirname "$out")"
{
	printf 'what\tvalue\tunit\n'
	printf 'raw_forward_b32\t%s\timages/s\n' "$raw_fwd"
	printf 'raw_sql_encode_images_b32\t%s\timages/s\n' "$raw_sql"
	printf 'foreground_embed_run\t%s\timages/s\n' "$fg"
	printf 'workers_1\t%s\timages/s\n' "$w1"
	printf 'workers_2\t%s\timages/s\n' "$w2"
	printf 'first_row_after_embed_column\t%s\tms\n' "$first_ms"
	printf 'kept_current_insert\t%s\tms\n' "$(IFS=,; echo "${ins[*]}")"
	printf 'mean_active_dimensions\t%s\tof 8192\n' "$nnz"
} > "$out"
awk -F'\t' 'NR > 1 { printf "%-30s %12s %s\n", $1, $2, $3 }' "$out"
echo "foreground / raw SQL encoder: $(echo "$fg $raw_sql" | awk '{ printf "%.3f", $1 / $2 }')"
echo "foreground / raw forward:     $(echo "$fg $raw_fwd" | awk '{ printf "%.3f", $1 / $2 }')"
echo "2 workers / 1 worker:         $(echo "$w2 $w1" | awk '{ printf "%.3f", $1 / $2 }')"
echo "# results in ${out#$ROOT/}"
