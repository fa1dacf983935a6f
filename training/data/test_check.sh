#!/bin/bash
# Tests check.sh on a tiny hand-made data set: it must pass the good one and
# reject each kind of fault. Runs in about a second, needs no build.
#
# usage: training/data/test_check.sh
set -uo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
convert=/usr/bin/convert
pass=0 failed=0

# A valid data set: two train images, two val images of another style.
make_good() {
	rm -rf "$tmp/d"
	mkdir -p "$tmp/d/img/a" "$tmp/d/img/b"
	"$convert" -size 64x64 xc:white -fill red -draw 'circle 32,32 32,10' -type TrueColor "$tmp/d/img/a/1.jpg"
	"$convert" -size 64x64 xc:white -fill blue -draw 'rectangle 10,10 50,50' -type TrueColor "$tmp/d/img/a/2.jpg"
	"$convert" -size 64x64 xc:white -fill green -draw 'circle 32,32 32,20' -type TrueColor "$tmp/d/img/b/1.jpg"
	"$convert" -size 64x64 xc:white -fill black -draw 'rectangle 20,20 40,40' -type TrueColor "$tmp/d/img/b/2.jpg"
	printf 'img/a/1.jpg\ta red circle\nimg/a/1.jpg\tcircle\nimg/a/2.jpg\ta blue square\n' > "$tmp/d/train.tsv"
	printf 'img/b/1.jpg\ta green circle\nimg/b/2.jpg\ta black square\n' > "$tmp/d/val.tsv"
	printf 'img/b/1.jpg\tcircle\nimg/b/2.jpg\tsquare\n' > "$tmp/d/val_classes.tsv"
	printf 'a round shape\na shape with four equal sides\n' > "$tmp/d/wordnet.txt"
	printf 'a\ttrain\t2\t3\nb\tval\t2\t2\nsize\t64\n' > "$tmp/d/stats.txt"
}

# The same with what build.sh writes now: group keys, alpha masks, thumbnails.
make_new() {
	make_good
	mkdir -p "$tmp/d/alpha/a" "$tmp/d/alpha/b" "$tmp/d/thumb/a" "$tmp/d/thumb/b"
	for f in a/1 a/2 b/1 b/2; do
		"$convert" "$tmp/d/img/$f.jpg" -negate -threshold 10% -type Grayscale "$tmp/d/alpha/$f.jpg"
		"$convert" "$tmp/d/img/$f.jpg" -colorspace Gray -resize '16x16!' -depth 8 "gray:$tmp/d/thumb/$f.gray"
	done
	printf 'img/a/1.jpg\ta red circle\tu:1F534\nimg/a/1.jpg\tcircle\tu:1F534\nimg/a/2.jpg\ta blue square\n' > "$tmp/d/train.tsv"
	printf 'img/b/1.jpg\ta green circle\tu:1F7E2\nimg/b/2.jpg\ta black square\tn:black-square\n' > "$tmp/d/val.tsv"
}

expect() {   # expect pass|fail DESCRIPTION
	if "$here/check.sh" "$tmp/d" > "$tmp/log" 2>&1; then got=pass; else got=fail; fi
	if [ "$got" = "$1" ]; then
		pass=$((pass + 1))
	else
		failed=$((failed + 1))
		echo "not ok: $2: check.sh said $got, want $1" >&2
		cat "$tmp/log" >&2
	fi
}

make_good; expect pass "good data set"
make_good; rm "$tmp/d/img/a/2.jpg"; expect fail "missing image"
make_good; "$convert" -size 32x32 xc:white -type TrueColor "$tmp/d/img/a/2.jpg"; expect fail "wrong size"
make_good; "$convert" -size 64x64 xc:white -type Grayscale "$tmp/d/img/a/2.jpg"; expect fail "grey JPEG"
make_good; "$convert" -size 64x64 xc:white "$tmp/d/img/a/2.png"; mv "$tmp/d/img/a/2.png" "$tmp/d/img/a/2.jpg"; expect fail "PNG named .jpg"
make_good; printf 'img/a/2.jpg\t \n' >> "$tmp/d/train.tsv"; expect fail "blank caption"
make_good; printf 'img/a/2.jpg\n' >> "$tmp/d/train.tsv"; expect fail "no caption field"
make_good; printf 'img/a/2.jpg\tsee 2.svg\n' >> "$tmp/d/train.tsv"; expect fail "file name in caption"
make_good; printf 'img/b/1.jpg\ta green circle\n' >> "$tmp/d/train.tsv"; expect fail "val image in train"
make_good; cp "$tmp/d/img/b/2.jpg" "$tmp/d/img/a/2.jpg"; expect fail "val pixels in train"
make_good; printf '../d/img/a/1.jpg\tcircle\n' >> "$tmp/d/train.tsv"; expect fail "path leaving the folder"
make_good; printf 'img/b/2.jpg\tcircle\n' > "$tmp/d/val_classes.tsv"; printf 'img/b/1.jpg\tcircle\n' >> "$tmp/d/val_classes.tsv"; expect fail "class twice"
make_good; printf 'img/a/1.jpg\tcircle\n' > "$tmp/d/val_classes.tsv"; expect fail "class image not in val"
make_good; : > "$tmp/d/wordnet.txt"; expect fail "empty wordnet.txt"
make_good; : > "$tmp/d/train.tsv"; expect fail "empty train.tsv"
make_good; printf 'c\ttrain\t1\t1\n' >> "$tmp/d/stats.txt"; expect fail "stats.txt names a source with no images"
make_good; sed -i 's/^a\ttrain\t2\t3/a\ttrain\t2\t4/' "$tmp/d/stats.txt"; expect fail "stats.txt miscounts pairs"
make_good; sed -i '/^b\tval/d' "$tmp/d/stats.txt"; expect fail "stats.txt without a source"

# the new sources' rules
make_new; expect pass "good data set with groups, masks and thumbnails"
make_new; printf 'img/a/2.jpg\tsquare\tn:square\n' >> "$tmp/d/train.tsv"; expect fail "two group keys for one image"
make_new; printf 'img/a/2.jpg\tsquare\t\n' >> "$tmp/d/train.tsv"; expect fail "empty group key"
make_new; printf 'img/a/2.jpg\tsquare\tn:a b\n' >> "$tmp/d/train.tsv"; expect fail "group key with a space"
make_new; printf 'img/a/2.jpg\tsquare\tx\ty\n' >> "$tmp/d/train.tsv"; expect fail "four fields"
make_new; rm "$tmp/d/alpha/a/2.jpg"; expect fail "missing alpha mask"
make_new; cp "$tmp/d/img/a/2.jpg" "$tmp/d/alpha/a/2.jpg"; expect fail "RGB alpha mask"
make_new; "$convert" -size 32x32 xc:white -type Grayscale "$tmp/d/alpha/a/2.jpg"; expect fail "alpha mask of the wrong size"
make_new; "$convert" "$tmp/d/img/b/2.jpg" -fill '#010101' -draw 'point 0,0' -colorspace Gray -resize '16x16!' -depth 8 "gray:$tmp/d/thumb/a/2.gray"; expect fail "near copy of a held-out image (thumbnail)"
make_new; mkdir -p "$tmp/d/img/emoji-twemoji" "$tmp/d/alpha/emoji-twemoji"; cp "$tmp/d/img/a/2.jpg" "$tmp/d/img/emoji-twemoji/x.jpg"; "$convert" -size 64x64 xc:white -type Grayscale "$tmp/d/alpha/emoji-twemoji/x.jpg"
	printf 'img/emoji-twemoji/x.jpg\tx\n' >> "$tmp/d/train.tsv"; printf 'emoji-twemoji\ttrain\t1\t1\n' >> "$tmp/d/stats.txt"; expect fail "Twemoji in training"
make_new; mkdir -p "$tmp/d/img/tuxpaint-stamps" "$tmp/d/alpha/tuxpaint-stamps"; cp "$tmp/d/img/a/2.jpg" "$tmp/d/img/tuxpaint-stamps/x.jpg"; "$convert" -size 64x64 xc:white -type Grayscale "$tmp/d/alpha/tuxpaint-stamps/x.jpg"
	printf 'img/tuxpaint-stamps/x.jpg\tx\n' >> "$tmp/d/train.tsv"; printf 'tuxpaint-stamps\ttrain\t1\t1\n' >> "$tmp/d/stats.txt"; expect fail "Tux Paint stamps"
make_new; mkdir -p "$tmp/d/img/c" "$tmp/d/alpha/c"; cp "$tmp/d/img/a/2.jpg" "$tmp/d/img/c/twitter-logo.jpg"; "$convert" -size 64x64 xc:white -type Grayscale "$tmp/d/alpha/c/twitter-logo.jpg"
	printf 'img/c/twitter-logo.jpg\tx\tn:x\n' >> "$tmp/d/train.tsv"; printf 'c\ttrain\t1\t1\n' >> "$tmp/d/stats.txt"; expect pass "a further source, counted (a Twitter logo icon is no Twemoji)"

# dedup.js: near-identical renders across sources go, a held-out copy goes,
# different drawings and an emoji set's own colour variants stay.
rm -rf "$tmp/e"; mkdir -p "$tmp/e/work" "$tmp/e/thumb/emoji-twitter" "$tmp/e/thumb/emoji-google" "$tmp/e/thumb/mdi" "$tmp/e/thumb/tabler"
th() { "$convert" -size 64x64 xc:white "$@" -colorspace Gray -resize '16x16!' -depth 8 gray:-; }
th -fill black -draw 'circle 32,32 32,8' > "$tmp/e/thumb/emoji-twitter/c.gray"
th -fill black -draw 'circle 32,32 32,8' -fill white -draw 'point 1,1' > "$tmp/e/thumb/emoji-google/c.gray"      # a copy of the held-out circle
th -fill '#404040' -draw 'rectangle 10,10 54,54' > "$tmp/e/thumb/emoji-google/s1.gray"
th -fill '#484848' -draw 'rectangle 10,10 54,54' > "$tmp/e/thumb/emoji-google/s2.gray"  # its own variant: stays
th -fill black -draw 'polygon 8,56 32,8 56,56' > "$tmp/e/thumb/mdi/t.gray"
th -fill black -draw 'polygon 8,56 32,8 56,56' -fill white -draw 'point 1,1' > "$tmp/e/thumb/tabler/t.gray"   # copy of mdi/t
th -fill black -draw 'line 8,8 56,56' > "$tmp/e/thumb/tabler/l.gray"
: > "$tmp/e/work/jobs.tsv"; : > "$tmp/e/work/captions.tsv"
for j in emoji-twitter/c emoji-google/c emoji-google/s1 emoji-google/s2 mdi/t tabler/t tabler/l; do
	split=train; [ "${j%%/*}" = emoji-twitter ] && split=val
	printf 'svg\tx\timg/%s.jpg\t-\n' "$j" >> "$tmp/e/work/jobs.tsv"
	printf '%s\t%s\timg/%s.jpg\tcap\n' "$split" "${j%%/*}" "$j" >> "$tmp/e/work/captions.tsv"
done
node "$here/dedup.js" "$tmp/e" 2> /dev/null
got=$(cut -f1,2 "$tmp/e/work/dropped.tsv" | tr '\t\n' ':,')
if [ "$got" = "img/emoji-google/c.jpg:copy of a held-out image,img/tabler/t.jpg:near-identical," ]; then
	pass=$((pass + 1))
else
	failed=$((failed + 1)); echo "not ok: dedup.js dropped: $got" >&2
fi

echo "test_check.sh: $pass passed, $failed failed" >&2
[ $failed -eq 0 ]
