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
# With $3 = trim, the drawing is first cut out of its blank page.
to_jpeg() {
	local fit=${size}x${size} trim=()
	if [ "${3:-}" = trim ]; then
		trim=(-trim +repage)
		fit=$((size * 15 / 16))x$((size * 15 / 16))
	fi
	"$convert" "$1" -background white -alpha remove -alpha off "${trim[@]}" \
		-resize "$fit" -gravity center -extent "${size}x${size}" \
		-strip -colorspace sRGB -type TrueColor -quality 90 "jpeg:$2"
}

# True when image $1 is one flat colour: nothing was drawn.
blank() {
	[ "$("$convert" "$1" -format '%[fx:standard_deviation < 0.002]' info: 2>/dev/null)" = 1 ]
}

: > "$chunk.failed"
while IFS=$'\t' read -r kind input jpg fallback; do
	dest=$out/$jpg
	tmp=$dest.tmp.$$
	mkdir -p "${dest%/*}"
	ok=0
	if [ "$kind" = svg ]; then
		timeout 60 rsvg-convert -w "$size" -h "$size" -a "$input" 2>/dev/null | to_jpeg png:- "$tmp" 2>/dev/null && ok=1
	elif [ "$kind" = svgtrim ]; then
		# Clip art often sits small on a big page: render at 4x, cut the page
		# away, then scale. Some drawings are huge or broken: bound the time,
		# then fall back to the packaged PNG rendering.
		# A few SVGs in the package render empty: the PNG may still hold the drawing.
		timeout 60 rsvg-convert -w $((size * 4)) -h $((size * 4)) -a "$input" 2>/dev/null |
			to_jpeg png:- "$tmp" trim 2>/dev/null && ! blank "$tmp" && ok=1
		if [ $ok = 0 ] && [ "$fallback" != - ]; then
			to_jpeg "$fallback" "$tmp" trim 2>/dev/null && ! blank "$tmp" && ok=1
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
