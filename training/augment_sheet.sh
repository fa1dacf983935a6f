#!/bin/bash
# Contact sheet of augmented training entries (sparseclip-augment), each
# with its caption, to look at what the trainer's batches show.
#
# usage: training/augment_sheet.sh TSV OUT.png [augmentation options...]
#   e.g. training/augment_sheet.sh data/out/train.tsv aug.png --aug-icons --composite 0.2
# Entries 0..59 of step 0, seed 1, on random images (--seed/--step pass through).
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
[ $# -ge 2 ] || { sed -n '2,8p' "$0" | sed 's/^# \{0,1\}//'; exit 2; }
tsv=$1 png=$2
shift 2
make -s -C "$here" sparseclip-augment
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
"$here/sparseclip-augment" --data "$tsv" --out "$tmp" --count 60 --random "$@"
args=()
while IFS=$'\t' read -r i _ _ cap; do
	[ ${#cap} -gt 44 ] && cap="${cap:0:42}.."
	# two lines of about 22 characters under each picture
	cap=$(printf '%s' "$cap" | fold -s -w 24 | head -2)
	args+=(-label "$cap" "$tmp/$(printf '%03d' "$i").ppm")
done < "$tmp/captions.tsv"
/usr/bin/montage -background '#c8c8c8' -font DejaVu-Sans -pointsize 9 -geometry 128x128+4+4 -filter point -tile 10x \
	"${args[@]}" "$png"
echo "augment_sheet.sh: wrote $png" >&2
