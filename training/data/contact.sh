#!/bin/bash
# Contact sheet of random training images, each with one of its captions,
# to check the renders by eye (white background, centred, not cropped).
#
# usage: training/data/contact.sh [OUT_DIR] [COUNT]   (default: out, 100)
# writes OUT_DIR/contact.png
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
out=${1:-$here/out}
count=${2:-100}
[ -f "$out/train.tsv" ] || { echo "contact.sh: no $out/train.tsv (run build.sh first)" >&2; exit 1; }
list=$(mktemp)
trap 'rm -f "$list"' EXIT

# One caption per image, images chosen with a fixed seed so the sheet is
# the same for the same data.
awk -F'\t' '!($1 in seen) { seen[$1] = 1; print }' "$out/train.tsv" |
	shuf -n "$count" --random-source=<(yes sparseclip) > "$list"

args=()
while IFS=$'\t' read -r img cap; do
	[ ${#cap} -gt 30 ] && cap="${cap:0:28}.."
	args+=(-label "$cap" "$out/$img")
done < "$list"
/usr/bin/montage -background '#c8c8c8' -font DejaVu-Sans -pointsize 10 -geometry 128x128+4+4 -tile 10x \
	"${args[@]}" "$out/contact.png"
echo "contact.sh: wrote $out/contact.png" >&2
