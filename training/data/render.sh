#!/bin/bash
# Renders one chunk of jobs: SIZE x SIZE, aspect kept and centred, as
#   img/SRC/ID.jpg    RGB JPEG, alpha over white (what the model sees)
#   alpha/SRC/ID.jpg  8-bit grayscale JPEG of the alpha channel (255 = drawn),
#                     for background augmentation in the trainer
#   thumb/SRC/ID.gray 16x16 8-bit gray thumbnail of the image (raw bytes),
#                     for dedup.js's near-duplicate search
# all from one ImageMagick run. Called by build.sh through xargs.
#
# usage: render.sh SIZE OUT_DIR CHUNK_FILE
# CHUNK_FILE lines: kind<TAB>input<TAB>jpg (relative to OUT_DIR)<TAB>fallback png or -
# A job that fails is listed in CHUNK_FILE.failed; the others never are.
set -u -o pipefail
size=$1 out=$2 chunk=$3
convert=/usr/bin/convert   # ImageMagick itself, whatever stands first on PATH

# Reads image $1 ("png:-" for stdin), writes the three outputs $2 (jpg),
# $3 (alpha jpg), $4 (thumbnail). With $5 = trim, the drawing is first cut
# out of its blank page (transparent, or white where the page is opaque).
render() {
	local fit=${size}x${size} trim=()
	if [ "${5:-}" = trim ]; then
		trim=(-trim +repage)
		fit=$((size * 15 / 16))x$((size * 15 / 16))
	fi
	"$convert" "$1" -background none "${trim[@]}" -resize "$fit" -gravity center -extent "${size}x${size}" \
		-write mpr:a +delete \
		\( mpr:a -alpha extract -strip -colorspace Gray -type Grayscale -quality 90 -write "jpeg:$3" +delete \) \
		\( mpr:a -background white -alpha remove -alpha off -colorspace Gray -resize '16x16!' -depth 8 -write "gray:$4" +delete \) \
		mpr:a -background white -alpha remove -alpha off \
		-strip -colorspace sRGB -type TrueColor -quality 90 "jpeg:$2"
}

# True when image $1 is one flat colour: nothing was drawn.
blank() {
	[ "$("$convert" "$1" -format '%[fx:standard_deviation < 0.002]' info: 2>/dev/null)" = 1 ]
}

# One job the slow way: a process or three per image.
render_one() {
	local kind=$1 input=$2 jpg=$3 fallback=$4
	local dest=$out/$jpg rest=${3#img/}
	local mask=$out/alpha/$rest thumb=$out/thumb/${rest%.jpg}.gray
	local tmp=$dest.tmp.$$ tmask=$mask.tmp.$$ tthumb=$thumb.tmp.$$ ok=0
	mkdir -p "${dest%/*}" "${mask%/*}" "${thumb%/*}"
	if [ "$kind" = svg ]; then
		timeout 60 rsvg-convert -w "$size" -h "$size" -a "$input" 2>/dev/null |
			render png:- "$tmp" "$tmask" "$tthumb" 2>/dev/null && ok=1
	elif [ "$kind" = svgtrim ]; then
		# Clip art often sits small on a big page: render at 4x, cut the page
		# away, then scale. Some drawings are huge or broken: bound the time,
		# then fall back to the packaged PNG rendering.
		# A few SVGs in the package render empty: the PNG may still hold the drawing.
		timeout 60 rsvg-convert -w $((size * 4)) -h $((size * 4)) -a "$input" 2>/dev/null |
			render png:- "$tmp" "$tmask" "$tthumb" trim 2>/dev/null && ! blank "$tmp" && ok=1
		if [ $ok = 0 ] && [ "$fallback" != - ]; then
			render "$fallback" "$tmp" "$tmask" "$tthumb" trim 2>/dev/null && ! blank "$tmp" && ok=1
		fi
	else
		render "$input" "$tmp" "$tmask" "$tthumb" 2>/dev/null && ok=1
	fi
	if [ $ok = 1 ] && [ -s "$tmp" ] && [ -s "$tmask" ] && [ -s "$tthumb" ]; then
		# the RGB image last: build.sh counts a job done when all three exist
		mv -f "$tmask" "$mask" && mv -f "$tthumb" "$thumb" && mv -f "$tmp" "$dest"
	else
		rm -f "$tmp" "$tmask" "$tthumb"
		printf '%s\n' "$jpg" >> "$chunk.failed"
		echo "render: failed: $input" >&2
	fi
}

: > "$chunk.failed"
# Plain SVG and PNG jobs the fast way, with the same operations as render():
# rsvg-convert per image, then one mogrify per output kind for the chunk
# (ImageMagick's start-up was most of the time). Whatever that misses goes
# the slow way, which also records failures.
work=$(mktemp -d "${TMPDIR:-/tmp}/render.XXXXXX")
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/png" "$work/jpg" "$work/alpha" "$work/thumb"
i=0
while IFS=$'\t' read -r kind input jpg fallback; do
	i=$((i + 1))
	case $kind in
	svg) timeout 60 rsvg-convert -w "$size" -h "$size" -a "$input" -o "$work/png/$i.png" 2>/dev/null ||
		rm -f "$work/png/$i.png" ;;
	png) cp "$input" "$work/png/$i.png" 2>/dev/null ;;
	esac
done < "$chunk"
if compgen -G "$work/png/*.png" > /dev/null; then
	fit=(-background none -resize "${size}x${size}" -gravity center -extent "${size}x${size}")
	(cd "$work/png" &&
		"${convert%convert}mogrify" -path ../jpg -format jpg "${fit[@]}" -background white -alpha remove -alpha off \
			-strip -colorspace sRGB -type TrueColor -quality 90 ./*.png
		"${convert%convert}mogrify" -path ../alpha -format jpg "${fit[@]}" -alpha extract \
			-strip -colorspace Gray -type Grayscale -quality 90 ./*.png
		"${convert%convert}mogrify" -path ../thumb -format gray "${fit[@]}" -background white -alpha remove -alpha off \
			-colorspace Gray -resize '16x16!' -depth 8 ./*.png) 2>/dev/null
fi
i=0
while IFS=$'\t' read -r kind input jpg fallback; do
	i=$((i + 1))
	rest=${jpg#img/}
	if [ "$kind" != svgtrim ] && [ -s "$work/jpg/$i.jpg" ] && [ -s "$work/alpha/$i.jpg" ] &&
		[ "$(stat -c %s "$work/thumb/$i.gray" 2>/dev/null)" = 256 ]; then
		mkdir -p "$out/${jpg%/*}" "$out/alpha/${rest%/*}" "$out/thumb/${rest%/*}"
		mv -f "$work/alpha/$i.jpg" "$out/alpha/$rest" && mv -f "$work/thumb/$i.gray" "$out/thumb/${rest%.jpg}.gray" &&
			mv -f "$work/jpg/$i.jpg" "$out/$jpg"
	else
		render_one "$kind" "$input" "$jpg" "$fallback"
	fi
done < "$chunk"
