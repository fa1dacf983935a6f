#!/usr/bin/env bash
# What pruning by range maxima can skip at best on the benchmark's data,
# without PostgreSQL: test/bench/inverted_oracle.c over the documents and
# queries of inverted_hnsw.sh (inverted_gen docs N 1, text NQ 3, image NQ 4),
# in insertion order and in the `reorder` option's order, for ranges of
# 1,024 documents (the index's) and finer, with the scan's checkpoints (30
# and 55 % of the postings) and with those of CHECKPOINTS_MORE.
#
#   bash test/bench/inverted_oracle.sh [ROWS]     default 1000000
#
# NQ (default 30) queries of each kind; needs about 3 GB of memory at 1M
# rows.  Writes test/bench/results/inverted-oracle-ROWS.tsv (OUT= elsewhere).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
N=${1:-1000000}
NQ=${NQ:-30}
MORE=${CHECKPOINTS_MORE:-0.1,0.2,0.3,0.4,0.55,0.7,0.85}
OUT=${OUT:-$ROOT/test/bench/results/inverted-oracle-$N.tsv}
case $N in ''|*[!0-9]*) echo "inverted_oracle.sh: ROWS must be a number" >&2; exit 2 ;; esac
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
gcc -O2 -Wall -Wextra -o "$tmp/gen" "$ROOT/test/bench/inverted_gen.c" -lm
gcc -O2 -march=native -Wall -Wextra -o "$tmp/oracle" "$ROOT/test/bench/inverted_oracle.c" -lm
"$tmp/gen" docs "$N" 1 > "$tmp/docs"
"$tmp/gen" text "$NQ" 3 > "$tmp/text"
"$tmp/gen" image "$NQ" 4 > "$tmp/image"
{
	for kind in text image; do
		for cps in 0.3,0.55 "$MORE"; do
			echo "## $kind queries"
			CHECKPOINTS=$cps "$tmp/oracle" "$tmp/docs" "$tmp/$kind"
		done
	done
} | tee "$OUT.tmp"
mv "$OUT.tmp" "$OUT"
echo "inverted_oracle.sh: $OUT" >&2
