#!/bin/bash
# The concept gallery picture: one row per dimension, its number and name,
# then the gallery images that activate it most.  sparseclip-concepts --png
# runs it on the gallery.txt it writes (dim<TAB>name<TAB>image...).
#   training/concepts_gallery.sh gallery.txt gallery.png
set -euo pipefail
in=$1
out=$2
command -v convert >/dev/null || { echo "concepts_gallery.sh: ImageMagick (convert) is not installed" >&2; exit 1; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
n=0
while IFS=$'\t' read -r dim name rest; do
	[ -n "$dim" ] || continue
	IFS=$'\t' read -r -a imgs <<<"$rest"
	args=()
	for f in "${imgs[@]}"; do
		args+=("(" "$f" -resize 64x64 -gravity center -background white -extent 68x68 ")")
	done
	# ImageMagick reads % and \ in a caption as escapes: double them
	label=$(printf '%s: %s' "$dim" "$name" | sed 's/[%\\]/&&/g')
	convert -background white -fill black -font DejaVu-Sans -pointsize 14 -size 200x68 -gravity west \
		"caption:$label" "${args[@]}" +append "$tmp/row$(printf %04d $n).png"
	n=$((n + 1))
done < "$in"
[ $n -gt 0 ] || { echo "concepts_gallery.sh: no rows in $in" >&2; exit 1; }
# 256 colours: a quarter of the bytes, and emoji and icons lose nothing visible
convert "$tmp"/row*.png -background white -gravity west -append -bordercolor white -border 6 +dither -colors 256 "PNG8:$out"
echo "concepts_gallery.sh: $n rows in $out" >&2
