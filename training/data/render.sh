#!/bin/bash
# Renders one chunk of jobs to RGB JPEG: SIZE x SIZE, alpha over white,
# aspect kept and centred. Called by build.sh through xargs.
#
# usage: render.sh SIZE OUT_DIR CHUNK_FILE
# CHUNK_FILE lines: kind<TAB>input<TAB>jpg (relative to OUT_DIR)<TAB>fallback png or -
# A job that fails is listed in CHUNK_FILE.failed; the others never are.
set -u -o pipefail
size=$1 out=$2 chunk=$3
convert=/usr/bin/convert   # ImageMagick itself, whatever stands first on PATH

# Reads image $1 ("png:-" for stdin), writes the finished JPEG to $2.
to_jpeg() {
	"$convert" "$1" -background white -alpha remove -alpha off \
		-resize "${size}x${size}" -gravity center -extent "${size}x${size}" \
		-strip -colorspace sRGB -type TrueColor -quality 90 "jpeg:$2"
}

: > "$chunk.failed"
while IFS=$'\t' read -r kind input jpg fallback; do
	dest=$out/$jpg
	tmp=$dest.tmp.$$
	mkdir -p "${dest%/*}"
	ok=0
	if [ "$kind" = svg ]; then
		# Some SVG drawings are huge or broken: bound the time, then fall back
		# to the packaged PNG rendering when there is one.
		timeout 60 rsvg-convert -w "$size" -h "$size" -a "$input" 2>/dev/null | to_jpeg png:- "$tmp" 2>/dev/null && ok=1
		if [ $ok = 0 ] && [ "$fallback" != - ]; then
			to_jpeg "$fallback" "$tmp" 2>/dev/null && ok=1
		fi
	else
		to_jpeg "$input" "$tmp" 2>/dev/null && ok=1
	fi
	if [ $ok = 1 ] && [ -s "$tmp" ]; then
		mv -f "$tmp" "$dest"
	else
		rm -f "$tmp"
		printf '%s\n' "$jpg" >> "$chunk.failed"
		echo "render: failed: $input" >&2
	fi
done < "$chunk"
