#!/usr/bin/env bash
# The inverted scan's bitmap kernels side by side, without PostgreSQL
# running (test/bench/inverted_kernels.c: ns per 1,024-document piece by
# its number of postings; the AVX-512 kernel now against the expanding-load
# one it replaced, on a machine with AVX-512).  Needs the server headers
# (postgresql-server-dev-15, as the build does).
#
#   bash test/bench/inverted_kernels.sh
#
# Writes test/bench/results/inverted-kernels.tsv (OUT= elsewhere).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
PG_CONFIG=${PG_CONFIG:-/usr/lib/postgresql/15/bin/pg_config}
OUT=${OUT:-$ROOT/test/bench/results/inverted-kernels.tsv}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
PG_LIB=$("$PG_CONFIG" --libdir)
[ -f "$PG_LIB/libpgport.a" ] || PG_LIB=$("$PG_CONFIG" --pkglibdir)
${CC:-gcc} -O2 -Wno-attributes -I"$ROOT/src" -I"$ROOT/src/inverted" -I"$("$PG_CONFIG" --includedir-server)" \
	"$ROOT/test/bench/inverted_kernels.c" "$PG_LIB/libpgport.a" -lm -o "$tmp/inverted_kernels"
{
	echo "# $(grep -m1 'model name' /proc/cpuinfo | sed 's/.*: //'); $(date -u +%Y-%m-%d)"
	"$tmp/inverted_kernels"
} | tee "$OUT"
