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
# rows.  Writes test/bench/results/inverted-oracle-ROWS.tsv (OUT= elsewhere)
# and, with gnuplot, the same as a picture beside it (.png).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
N=${1:-1000000}
NQ=${NQ:-30}
MORE=${CHECKPOINTS_MORE:-0.1,0.2,0.3,0.4,0.55,0.7,0.85}
OUT=${OUT:-$ROOT/test/bench/results/inverted-oracle-$N.tsv}
case $N in ''|*[!0-9]*) echo "inverted_oracle.sh: ROWS must be a number" >&2; exit 2 ;; esac

# plot_oracle TSV PNG ROWS: share read against range size, reordered documents
plot_oracle() {
	command -v gnuplot > /dev/null || { echo "inverted_oracle.sh: no gnuplot (Debian gnuplot-nox): no picture" >&2; return 0; }
	local tsv=$1 png=$2 rows=$3 d
	d=$(mktemp -d)
	# blocks in the file: text 2 checkpoints, text more, image 2, image more
	awk -v d="$d" '/^## / { kind = $2; next } /^# / { block = (block == "" ? 0 : block + 1); set = block % 2; next }
		$1 == "reorder" { print $2, $3, $7 > (d "/" kind "." set) }' "$tsv"
	gnuplot <<GP
set terminal pngcairo size 1100,480 font ',10' noenhanced
set output '$png'
set multiplot layout 1,2 title 'exact top-10 by range maxima: share of the query terms postings read at best ($rows documents, reordered)'
set logscale x 2
set xrange [12:1300] reverse
set yrange [0:1]
set xlabel 'documents per range (the index: 1,024)'
set ylabel 'share of postings read'
set key top right
set grid
do for [k in "text image"] {
	set title k.' queries'
	plot '$d/'.k.'.0' using 1:2 with linespoints lw 2 title 'ideal (checks after every term, bar known)', \
		'' using 1:3 with linespoints lw 2 title 'checkpoints at 30, 55 % (the scan today)', \
		'$d/'.k.'.1' using 1:3 with linespoints lw 2 title 'checkpoints at 10, 20, ... 85 %'
}
unset multiplot
GP
	rm -rf "$d"
	echo "inverted_oracle.sh: $png" >&2
}
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
plot_oracle "$OUT" "${OUT%.tsv}.png" "$N"
