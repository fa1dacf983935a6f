#!/usr/bin/env bash
# Corrupt-page fuzzing of the inverted index's decoders (metapage, segment
# header and extents, directory, range descriptors, postings, doc table,
# pending records, free list), in a real server: TABLES small indexes (both
# operator classes, with segments, dead documents, free runs and a pending
# list) are written once; each round restores them, corrupts 1-8 random
# bytes of one random page of each (any page, any byte), starts the server
# and runs on each: index scans (LIMIT 10 and 500, both operators), an
# insert, VACUUM and inverted_check.  Each may fail with an ERROR; none may
# crash the server ("terminated by signal" in its log), which stops the run
# and keeps the corrupt file.  Not part of the test suite.
#
#   bash test/fuzz/inverted_pages.sh [ROUNDS]       default 50
#
# Run as root after `make install` (holding /tmp/sparseclip-test.lock), or
# with PG_CONFIG naming a private installation.  Prints the executions run.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
ROUNDS=${1:-50}
TABLES=${TABLES:-30}
PG_CONFIG=${PG_CONFIG:-/usr/lib/postgresql/15/bin/pg_config}
BIN=$("$PG_CONFIG" --bindir)
OUT=${FUZZ_OUT:-/tmp/sparseclip-fuzz}/pages
mkdir -p "$OUT"
T=$(mktemp -d /tmp/sparseclip-pages.XXXXXX)
chmod 755 "$T"
cleanup() {
	[ -f "$T/data/postmaster.pid" ] && runuser -u postgres -- "$BIN/pg_ctl" -D "$T/data" -m immediate stop >/dev/null 2>&1
	rm -rf "$T"
}
trap cleanup EXIT
cp "$ROOT/test/t/inverted_helpers.sql" "$T/"
chown -R postgres: "$T"
runuser -u postgres -- "$BIN/initdb" -D "$T/data" -A trust --no-sync >/dev/null
start() {
	runuser -u postgres -- "$BIN/pg_ctl" -D "$T/data" -l "$T/log" -w -o \
		"-k $T -c listen_addresses='' -c fsync=off -c autovacuum=off -c sparseclip.inverted_pending_limit=300" start >/dev/null
}
stop() { runuser -u postgres -- "$BIN/pg_ctl" -D "$T/data" -m fast stop >/dev/null; }
psql() { runuser -u postgres -- "$BIN/psql" -h "$T" -X -q -At "$@" postgres; }

start
psql -c "CREATE EXTENSION sparseclip" -f "$T/inverted_helpers.sql" >/dev/null
for i in $(seq "$TABLES"); do
	op=svec_ip_ops
	[ $((i % 2)) -eq 0 ] && op=svec_cosine_ops
	psql -c "CREATE TABLE t$i (id int, emb svec)" \
		-c "INSERT INTO t$i SELECT g, inv_rand(300, 1 + g % 40) FROM generate_series(1, 2500) g" \
		-c "INSERT INTO t$i VALUES (0, NULL), (-1, '{}/300')" \
		-c "CREATE INDEX t${i}_idx ON t$i USING inverted (emb $op)" \
		-c "DELETE FROM t$i WHERE id % 7 = 0" -c "VACUUM t$i" \
		-c "INSERT INTO t$i SELECT g, inv_rand(300, 1 + g % 40) FROM generate_series(3000, 3700) g" \
		-c "DELETE FROM t$i WHERE id % 11 = 0" -c "VACUUM t$i" \
		-c "INSERT INTO t$i SELECT g, inv_rand(300, 1 + g % 40) FROM generate_series(4000, 4200) g" >/dev/null
	echo "$i $(psql -c "SELECT pg_relation_filepath('t${i}_idx')")" >> "$T/files"
done
stop
mkdir -p "$T/pristine"
while read -r i f; do cp "$T/data/$f" "$T/pristine/$i"; done < "$T/files"

execs=0
for round in $(seq "$ROUNDS"); do
	while read -r i f; do
		cp "$T/pristine/$i" "$T/data/$f"
		python3 - "$T/data/$f" <<'PY'
import os, random, sys
path = sys.argv[1]
size = os.path.getsize(path)
pages = size // 8192
with open(path, 'r+b') as fh:
    blk = random.randrange(pages)
    for _ in range(random.randint(1, 8)):
        # mostly the payload (past the 24-byte page header), sometimes anywhere
        off = random.randrange(24 if random.random() < 0.9 else 0, 8192)
        fh.seek(blk * 8192 + off)
        b = fh.read(1)
        fh.seek(blk * 8192 + off)
        r = random.random()
        v = random.randrange(256) if r < 0.5 else (b[0] ^ (1 << random.randrange(8))) if r < 0.8 else random.choice([0, 255, 127, 128])
        fh.write(bytes([v]))
PY
	done < "$T/files"
	start
	while read -r i f; do
		for sql in "SET enable_seqscan = off; SELECT count(*) FROM (SELECT id FROM t$i ORDER BY emb <#> '{1:1,2:0.5,7:-1,40:2}/300' LIMIT 10) s" \
				   "SET enable_seqscan = off; SELECT count(*) FROM (SELECT id FROM t$i ORDER BY emb <=> '{1:1,3:1,9:1}/300' LIMIT 500) s" \
				   "SELECT inverted_check('t${i}_idx')" \
				   "INSERT INTO t$i VALUES (9999, '{2:1,5:1}/300')" \
				   "VACUUM t$i"; do
			psql -c "$sql" >/dev/null 2>&1 || true
			execs=$((execs + 1))
		done
	done < "$T/files"
	stop
	if grep -q "terminated by signal" "$T/log"; then
		echo "round $round: the server crashed"
		grep -B2 -A2 "terminated by signal" "$T/log" | head -20
		while read -r i f; do cp "$T/data/$f" "$OUT/crash-round$round-t$i"; done < "$T/files"
		echo "$execs executions"
		exit 1
	fi
	: > "$T/log"
	echo "round $round: $execs executions, no crash" >&2
done
echo "$execs executions in $ROUNDS rounds of $TABLES corrupted indexes, no crash"
