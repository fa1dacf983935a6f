#!/usr/bin/env bash
# The picture of an inverted_hnsw.sh run: recall@10 against p50 latency,
# one panel per kind of query, so that the methods can be compared at equal
# recall: the exact index (recall 1, alone and with its helper thread), its
# approximate setting at each term count, and HNSW at each ef_search.
#
#   bash test/bench/inverted_hnsw_plot.sh TSV PNG      (needs gnuplot)
set -euo pipefail
tsv=$1
png=$2
command -v gnuplot >/dev/null || { echo "gnuplot not installed: no picture" >&2; exit 0; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
rows=$(awk -F '\t' 'NR == 2 { print $1 }' "$tsv")
for k in text image; do
	# p50, recall, label per series
	awk -F '\t' -v k="$k" '$2 == k && $3 ~ /^approx/ { sub(/^approx/, "", $3); print $4, $7, $3 }' "$tsv" > "$tmp/$k-approx"
	awk -F '\t' -v k="$k" '$2 == k && $3 ~ /^hnsw/ { sub(/^hnsw/, "", $3); print $4, $7, $3 }' "$tsv" > "$tmp/$k-hnsw"
	awk -F '\t' -v k="$k" '$2 == k && $3 == "inverted" { print $4, 1, "exact" }' "$tsv" > "$tmp/$k-exact"
	awk -F '\t' -v k="$k" '$2 == k && $3 == "inverted-t2" { print $4, 1, "exact, helper" }' "$tsv" > "$tmp/$k-t2"
done
plot_kind() {
	local k=$1 s="" f
	for f in approx hnsw exact t2; do [ -s "$tmp/$k-$f" ] || continue
		case $f in
			approx) s="$s, '$tmp/$k-approx' using 1:2 with linespoints lw 2 pt 7 title 'inverted, N query terms', '' using 1:2:3 with labels offset 0,1 notitle" ;;
			hnsw) s="$s, '$tmp/$k-hnsw' using 1:2 with linespoints lw 2 pt 5 title 'HNSW, ef_search', '' using 1:2:3 with labels offset 0,-1 notitle" ;;
			exact) s="$s, '$tmp/$k-exact' using 1:2 with points pt 9 ps 2 title 'inverted, exact'" ;;
			t2) s="$s, '$tmp/$k-t2' using 1:2 with points pt 11 ps 2 title 'inverted, exact, helper thread'" ;;
		esac
	done
	echo "${s#, }"
}
gnuplot <<GP
set terminal pngcairo noenhanced size 1000,440
set output '$png'
set multiplot layout 1,2 title 'top-10 by <#>, $rows rows: recall@10 against p50 latency from the client'
set logscale x
set xlabel 'p50 ms (log scale)'
set ylabel 'recall@10'
set yrange [0.3:1.05]
set key bottom right
set grid
set title 'text-like queries'
plot $(plot_kind text)
set title 'image-like queries'
plot $(plot_kind image)
unset multiplot
GP
echo "# wrote $png"
