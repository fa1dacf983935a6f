#!/usr/bin/env bash
# The demo's contact sheet: a row per query, its text, then its top images
# with caption and score.  usage: demo/sheet.sh WORK OUT MODEL_LINE
# (WORK/queries.txt, WORK/results/N.tsv, images in OUT/img; writes OUT/contact.png)
set -euo pipefail
work=$1 out=$2 model=$3
font=(-font DejaVu-Sans)
# ImageMagick reads % escapes in labels.
pct() { printf '%s' "$1" | sed 's/%/%%/g'; }
# Labels longer than a tile are cut.
short() { local s=$1; [ ${#s} -le 20 ] || s="${s:0:19}…"; pct "$s"; }
args=()
i=0
while IFS= read -r q; do
	i=$((i + 1))
	convert -size 96x96 -background white "${font[@]}" -pointsize 14 -gravity center \
		caption:"$(pct "$q")" "$work/query-$i.png"
	args+=(-label '' "$work/query-$i.png")
	n=0
	while IFS=$'\t' read -r rank caption file score concepts; do
		args+=(-label "$(short "$caption")\n${score// /}" "$out/img/$file")
		n=$((n + 1))
	done < "$work/results/$i.tsv"
	# Short rows (a small table) are padded so that every query starts a row.
	while [ $n -lt 5 ]; do args+=(-label "" -size 64x64 xc:white); n=$((n + 1)); done
done < "$work/queries.txt"
montage "${font[@]}" -pointsize 11 -background white -tile 6x -geometry 96x96+22+8 \
	-title "sparseclip: top 5 Twemoji per query (model $(pct "$(basename "${model%% *}")"))" "${args[@]}" -depth 8 "$out/contact.png"
