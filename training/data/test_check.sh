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
	printf 'size\t64\n' > "$tmp/d/stats.txt"
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

echo "test_check.sh: $pass passed, $failed failed" >&2
[ $failed -eq 0 ]
