#!/usr/bin/env bash
# Seed corpus of fuzz_inverted (test/fuzz/fuzz_inverted.c): small real
# `inverted` indexes written by a throwaway server, each behind the target's
# 16 control bytes, into DIR (default test/fuzz/seeds/inverted).  Both
# operator classes; segments (one with dense bitmap pieces), dead documents,
# free runs left by merges, a pending list; NULL and zero vectors; one index
# with documents of two dimensions; one of non-negative weights over three
# ranges, on which scans prune.  Run as root after `make install`
# (holding /tmp/sparseclip-test.lock).  Not part of the test suite.
#
#   bash test/fuzz/inverted_seeds.sh [DIR]
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
DIR=${1:-$ROOT/test/fuzz/seeds/inverted}
PG_CONFIG=${PG_CONFIG:-/usr/lib/postgresql/15/bin/pg_config}
BIN=$("$PG_CONFIG" --bindir)
mkdir -p "$DIR"
T=$(mktemp -d /tmp/sparseclip-seeds.XXXXXX)
chmod 755 "$T"
cleanup() {
	[ -f "$T/data/postmaster.pid" ] && runuser -u postgres -- "$BIN/pg_ctl" -D "$T/data" -m immediate stop >/dev/null 2>&1
	rm -rf "$T"
}
trap cleanup EXIT
cp "$ROOT/test/t/inverted_helpers.sql" "$T/"
chown -R postgres: "$T"
runuser -u postgres -- "$BIN/initdb" -D "$T/data" -A trust --no-sync >/dev/null
runuser -u postgres -- "$BIN/pg_ctl" -D "$T/data" -l "$T/log" -w -o \
	"-k $T -c listen_addresses='' -c fsync=off -c autovacuum=off -c sparseclip.inverted_pending_limit=100" start >/dev/null
psql() { runuser -u postgres -- "$BIN/psql" -h "$T" -X -q -At -v ON_ERROR_STOP=1 "$@" postgres; }
psql -c "CREATE EXTENSION sparseclip" -f "$T/inverted_helpers.sql" >/dev/null

# name, operator class, dimension, documents, nnz modulus
make_index() {
	local name=$1 op=$2 dim=$3 n=$4 nnz=$5
	psql -c "SELECT setseed(0.5)" \
		-c "CREATE TABLE $name (id int, emb svec)" \
		-c "INSERT INTO $name SELECT g, inv_rand($dim, 1 + g % $nnz) FROM generate_series(1, $n) g" \
		-c "INSERT INTO $name VALUES (0, NULL), (-1, '{}/$dim')" \
		-c "CREATE INDEX ${name}_idx ON $name USING inverted (emb $op)" \
		-c "DELETE FROM $name WHERE id % 7 = 0" -c "VACUUM $name" \
		-c "INSERT INTO $name SELECT g, inv_rand($dim, 1 + g % $nnz) FROM generate_series($n + 1, $n + $n / 2) g" \
		-c "DELETE FROM $name WHERE id % 11 = 0" -c "VACUUM $name" \
		-c "INSERT INTO $name SELECT g, inv_rand($dim, 1 + g % $nnz) FROM generate_series(2 * $n, 2 * $n + $n / 5) g" \
		-c "INSERT INTO $name VALUES (-2, NULL), (-3, '{}/$dim')" >/dev/null
}
make_index ip svec_ip_ops 300 150 10
make_index cos svec_cosine_ops 300 150 10
make_index dense svec_cosine_ops 8 300 6
make_index dense_ip svec_ip_ops 8 300 6
# two dimensions: the scan refuses, inverted_check reads it
psql -c "CREATE TABLE mixed (id int, emb svec)" \
	-c "INSERT INTO mixed SELECT g, inv_rand(40 + g % 2, 1 + g % 6) FROM generate_series(1, 100) g" \
	-c "CREATE INDEX mixed_idx ON mixed USING inverted (emb svec_ip_ops)" \
	-c "INSERT INTO mixed SELECT g, inv_rand(40, 3) FROM generate_series(300, 330) g" >/dev/null
# non-negative weights over three ranges, no dead documents: scans prune
psql -c "CREATE TABLE prune (id int, emb svec)" \
	-c "INSERT INTO prune SELECT g, svec(ARRAY[1 + g % 11, 12 + g % 5, 20 + (g / 7) % 40], ARRAY[1 + g % 3, 0.5, (g % 13) / 4.0 + 0.25]::real[], 64) FROM generate_series(1, 2100) g" \
	-c "CREATE INDEX prune_idx ON prune USING inverted (emb svec_ip_ops)" \
	-c "INSERT INTO prune SELECT g, svec(ARRAY[2, 13], ARRAY[3, 1]::real[], 64) FROM generate_series(2101, 2110) g" >/dev/null
# only a pending list (the build of an empty table writes no segment)
psql -c "CREATE TABLE pend (id int, emb svec)" \
	-c "CREATE INDEX pend_idx ON pend USING inverted (emb svec_cosine_ops)" \
	-c "INSERT INTO pend SELECT g, inv_rand(300, 1 + g % 30) FROM generate_series(1, 60) g" \
	-c "INSERT INTO pend VALUES (0, NULL), (-1, '{}/300')" >/dev/null
for t in ip cos dense dense_ip mixed prune pend; do
	psql -c "SELECT inverted_check('${t}_idx')" >/dev/null
	echo "$t $(psql -c "SELECT pg_relation_filepath('${t}_idx')")" >> "$T/files"
done
psql -c "CHECKPOINT" >/dev/null
runuser -u postgres -- "$BIN/pg_ctl" -D "$T/data" -m fast stop >/dev/null
# control bytes: opclass bit, AVX-512 kernels, pruning on, batch 16; all
# query terms used; 4 query terms (low dimensions, the popular ones;
# positive for prune); all results (10 for prune)
while read -r t f; do
	c0='\xf4' c3='\x00'
	case $t in cos | dense | pend) c0='\xf5' ;; prune) c3='\x0a' ;; esac
	case $t in dense*) q='\x01\x10\x03\xf0\x05\x20\x06\xe0\x00\x00\x00\x00' ;;
	prune) q='\x02\x30\x0d\x20\x15\x10\x18\x08\x00\x00\x00\x00' ;;
	*) q='\x01\x10\x02\xf0\x05\x20\x09\x30\x00\x00\x00\x00' ;;
	esac
	{ printf "$c0"'\xf0\x04'"$c3$q"; cat "$T/data/$f"; } > "$DIR/$t"
	echo "$t: $(( $(stat -c %s "$T/data/$f") / 8192 )) pages"
done < "$T/files"
