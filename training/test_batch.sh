#!/bin/bash
# Tests the batch assembly (batch.c) through sparseclip-augment and the
# trainer: every augmentation is deterministic in (seed, step, entry) and
# does what it says (flip mirrors and swaps left/right, grayscale is gray,
# posterise has few levels, backgrounds change only what the alpha mask
# leaves undrawn, hue spares colour-named images), composites' layout and
# captions, caption augmentation (templates, WordNet synonyms and
# hypernyms, tags), group ids, and a short training run with everything on
# that resumes bit-identically.  About half a minute.
#   bash training/test_batch.sh        (from the repository root)
set -euo pipefail
cd "$(dirname "$0")"
make -s sparseclip-train sparseclip-augment
command -v convert >/dev/null || { echo "SKIP: ImageMagick (convert) not installed"; exit 0; }
tmp=$(mktemp -d)
[ -n "${KEEP_TMP:-}" ] || trap 'rm -rf "$tmp"' EXIT
pass=0 fail=0
check() { if eval "$2"; then pass=$((pass + 1)); else fail=$((fail + 1)); echo "FAIL: $1"; fi; }

# A data set with alpha masks (img/X.jpg over white, alpha/X.jpg) and groups.
mkdir -p "$tmp/img" "$tmp/alpha"
shape() {   # shape NAME DRAW COLOUR
	convert -size 64x64 xc:none -fill "$3" -draw "$2" "$tmp/$1.png"
	convert "$tmp/$1.png" -background white -alpha remove -alpha off -type TrueColor -quality 95 "$tmp/img/$1.jpg"
	convert "$tmp/$1.png" -alpha extract -type Grayscale -quality 95 "$tmp/alpha/$1.jpg"
}
shape disc 'circle 32,32 32,12' '#3060c0'
shape arrow 'polygon 8,32 40,12 40,24 58,24 58,40 40,40 40,52' '#c05020'
shape flag 'rectangle 6,14 40,50' '#20a040'
shape square 'rectangle 14,14 50,50' '#d02020'
shape dog 'ellipse 32,36 22,14 0,360' '#806040'
shape car 'roundrectangle 6,24 58,46 6,6' '#2080a0'
for c in red blue green yellow; do convert -size 64x64 xc:$c -type TrueColor -quality 95 "$tmp/img/full-$c.jpg"; done
cat > "$tmp/train.tsv" <<'TSV'
img/disc.jpg	a round disc	n:disc
img/arrow.jpg	arrow pointing left	n:arrow
img/arrow.jpg	Left arrow
img/flag.jpg	flag of nowhere
img/square.jpg	a red square	u:1F7E5
img/dog.jpg	dog	u:1F415
img/car.jpg	car
img/disc.jpg	disc, circle, ring, round
TSV
printf 'img/full-red.jpg\tred tile\nimg/full-blue.jpg\tblue tile\nimg/full-green.jpg\tgreen tile\nimg/full-yellow.jpg\tyellow tile\n' > "$tmp/tiles.tsv"

aug() {   # aug DIR [options]: dump 12 entries of seed 1 step 0 unless overridden
	local dir=$1; shift
	rm -rf "$dir"; mkdir -p "$dir"
	./sparseclip-augment --data "$tmp/train.tsv" --out "$dir" --count 12 "$@"
}
same() { diff -r -q "$1" "$2" > /dev/null; }
px() { convert "$1" -format "%[fx:int(255*r)],%[fx:int(255*g)],%[fx:int(255*b)]" -crop "1x1+$2+$3" +repage info:; }

aug "$tmp/plain" --no-augment
aug "$tmp/nocrop" --aug-crop 0

# Determinism, option by option: same seed, same bytes; another seed (or
# step) other bytes; and the option changes something.
for o in "--crop-scale 0.4" "--aug-background 1" "--aug-silhouette 1" "--aug-randconv 1" "--aug-hue 1" \
	"--composite 1" "--cap-template 1" "--cap-tags 1" "--aug-posterize 1" "--aug-blur 1"; do
	aug "$tmp/a" --aug-crop 0 $o
	aug "$tmp/b" --aug-crop 0 $o
	aug "$tmp/c" --aug-crop 0 $o --seed 2
	aug "$tmp/d" --aug-crop 0 $o --step 1
	[ "$o" = "--crop-scale 0.4" ] && { aug "$tmp/a" $o; aug "$tmp/b" $o; aug "$tmp/c" $o --seed 2; aug "$tmp/d" $o --step 1; }
	check "$o: same seed, same bytes" 'same "$tmp/a" "$tmp/b"'
	check "$o: another seed, other bytes" '! same "$tmp/a" "$tmp/c"'
	check "$o: another step, other bytes" '! same "$tmp/a" "$tmp/d"'
	check "$o: changes the entries" '! same "$tmp/a" "$tmp/nocrop"'
done
for o in "--aug-gray 1" "--aug-flip 1"; do
	aug "$tmp/a" --aug-crop 0 $o
	aug "$tmp/b" --aug-crop 0 $o
	check "$o: same seed, same bytes" 'same "$tmp/a" "$tmp/b"'
	check "$o: changes the entries" '! same "$tmp/a" "$tmp/nocrop"'
done

# Grayscale: every pixel gray.  Posterise: at most 8 levels per channel.
aug "$tmp/g" --aug-crop 0 --aug-gray 1
check "grayscale: R = G = B" '[ "$(convert "$tmp/g/000.ppm" -fx "abs(r-g)+abs(g-b)" -format "%[fx:maxima]" info:)" = 0 ]'
aug "$tmp/p" --aug-crop 0 --aug-posterize 1
check "posterise: at most 8 levels" '[ $(convert "$tmp/p/000.ppm" -channel R -separate -format %k info:) -le 8 ]'

# Flip: the mirror image of the plain one; left and right swapped in the
# caption; a flag is never flipped.
aug "$tmp/f" --aug-crop 0 --aug-flip 1 --image 1
aug "$tmp/f0" --aug-crop 0 --image 1
convert "$tmp/f0/000.ppm" -flop "$tmp/flop.ppm"
check "flip mirrors the image" '[ "$(compare -metric AE "$tmp/f/000.ppm" "$tmp/flop.ppm" null: 2>&1)" = 0 ]'
check "flip: left becomes right" 'cut -f4 "$tmp/f/captions.tsv" | grep -qx "arrow pointing right" && cut -f4 "$tmp/f/captions.tsv" | grep -qx "Right arrow"'
check "flip: no caption keeps a left" '! cut -f4 "$tmp/f/captions.tsv" | grep -qi left'
aug "$tmp/f" --aug-crop 0 --aug-flip 1 --image 2
aug "$tmp/f0" --aug-crop 0 --image 2
check "flip: flags are never flipped" 'same "$tmp/f" "$tmp/f0"'

# Background: undrawn pixels (alpha 0) change, drawn ones stay.
aug "$tmp/bg" --aug-crop 0 --aug-background 1 --image 0 --count 20
corner_white=0
for i in $(seq -w 0 19); do [ "$(px "$tmp/bg/0$i.ppm" 1 1)" = "255,255,255" ] && corner_white=$((corner_white + 1)); done
check "background: corners no longer white ($corner_white of 20 white)" '[ $corner_white -le 2 ]'
check "background: the drawing stays" '[ "$(px "$tmp/bg/000.ppm" 32 32)" = "$(px "$tmp/nocrop/000.ppm" 32 32)" ]'

# Hue, grayscale, silhouette: never for an image whose captions name a
# colour ("a red square").
aug "$tmp/h" --aug-crop 0 --aug-hue 1 --aug-gray 1 --aug-silhouette 1 --image 3
aug "$tmp/h0" --aug-crop 0 --image 3
check "hue, gray, silhouette: colour-named images keep their colour" 'same "$tmp/h" "$tmp/h0"'
aug "$tmp/h" --aug-crop 0 --aug-hue 1 --image 0
aug "$tmp/h0" --aug-crop 0 --image 0
check "hue: other images change" '! same "$tmp/h" "$tmp/h0"'

# Composites: two side by side or four in a 2x2 grid, named in reading order.
rm -rf "$tmp/cp"; mkdir -p "$tmp/cp"
./sparseclip-augment --data "$tmp/tiles.tsv" --out "$tmp/cp" --count 24 --composite 1 --aug-crop 0
colour_of() { case $1 in red) echo 255,0,0 ;; blue) echo 0,0,255 ;; green) echo 0,128,0 ;; yellow) echo 255,255,0 ;; esac; }
near() { awk -v a="$1" -v b="$2" 'BEGIN { split(a, x, ","); split(b, y, ","); for (i = 1; i <= 3; i++) if ((x[i] - y[i])^2 > 100) exit 1 }'; }
twos=0 fours=0 bad=0
while IFS=$'\t' read -r i _ group cap; do
	f=$tmp/cp/$(printf %03d "$i").ppm
	[ "$group" -lt 0 ] || bad=$((bad + 1))
	if [[ $cap =~ ^([a-z]+)\ tile\ and\ ([a-z]+)\ tile$ ]]; then
		twos=$((twos + 1))
		near "$(px "$f" 16 32)" "$(colour_of "${BASH_REMATCH[1]}")" || bad=$((bad + 1))
		near "$(px "$f" 48 32)" "$(colour_of "${BASH_REMATCH[2]}")" || bad=$((bad + 1))
		[ "$(px "$f" 32 4)" = "255,255,255" ] || bad=$((bad + 1))
	elif [[ $cap =~ ^([a-z]+)\ tile,\ ([a-z]+)\ tile,\ ([a-z]+)\ tile\ and\ ([a-z]+)\ tile$ ]]; then
		fours=$((fours + 1))
		near "$(px "$f" 16 16)" "$(colour_of "${BASH_REMATCH[1]}")" || bad=$((bad + 1))
		near "$(px "$f" 48 16)" "$(colour_of "${BASH_REMATCH[2]}")" || bad=$((bad + 1))
		near "$(px "$f" 16 48)" "$(colour_of "${BASH_REMATCH[3]}")" || bad=$((bad + 1))
		near "$(px "$f" 48 48)" "$(colour_of "${BASH_REMATCH[4]}")" || bad=$((bad + 1))
	else
		bad=$((bad + 1)); echo "composite caption: $cap"
	fi
done < "$tmp/cp/captions.tsv"
check "composites: both layouts seen ($twos of 2, $fours of 4)" '[ $twos -gt 0 ] && [ $fours -gt 0 ]'
check "composites: tiles where the caption says, groups unique ($bad faults)" '[ $bad -eq 0 ]'
check "composites: first entry shows the entry's own image" 'head -1 "$tmp/cp/captions.tsv" | cut -f4 | grep -q "^red tile"'

# Captions: templates, tags, WordNet.
aug "$tmp/t" --aug-crop 0 --cap-template 1 --image 5
check "template around the name" 'cut -f4 "$tmp/t/captions.tsv" | grep -qE "^(an emoji of a car|an icon of a car|a drawing of a car|a picture of a car|a small icon of a car|car icon|a sketch of a car|an illustration of a car|a cartoon of a car|a symbol of a car)$"'
check "template: every caption one of them" '! cut -f4 "$tmp/t/captions.tsv" | grep -qx car'
aug "$tmp/t" --aug-crop 0 --cap-tags 1 --image 0 --count 40
check "tags: shuffled subsets of the list" 'cut -f4 "$tmp/t/captions.tsv" | grep , | awk -F", " "{ for (i = 1; i <= NF; i++) { if (!(\$i ~ /^(disc|circle|ring|round)\$/) || seen[NR, \$i]++) exit 1 } }"'
check "tags: order changes" '[ $(cut -f4 "$tmp/t/captions.tsv" | grep , | sort -u | wc -l) -gt 3 ]'
if [ -f /usr/share/wordnet/data.noun ]; then
	aug "$tmp/w" --aug-crop 0 --cap-hypernym 1 --image 4
	check "hypernym: dog, a canine" 'cut -f4 "$tmp/w/captions.tsv" | sort -u | grep -qx "dog, a canine"'
	aug "$tmp/w" --aug-crop 0 --cap-synonym 1 --image 5
	check "synonym from the same synset" 'cut -f4 "$tmp/w/captions.tsv" | sort -u | grep -qxE "auto|automobile|machine|motorcar" && ! cut -f4 "$tmp/w/captions.tsv" | grep -qx car'
	check "missing WordNet refused" '! ./sparseclip-augment --data "$tmp/train.tsv" --out "$tmp/w" --cap-synonym 0.5 --wordnet-db "$tmp/none" 2> /dev/null'
else
	echo "SKIP: WordNet (Debian wordnet-base) not installed: no synonym/hypernym tests"
fi

# Groups: the TSV's third column; images without one are their own group.
aug "$tmp/gr" --no-augment --count 6
g() { awk -F'\t' -v i="$1" '$1 == i { print $3 }' "$tmp/gr/captions.tsv"; }
check "groups: distinct keys, distinct ids" '[ $(cut -f3 "$tmp/gr/captions.tsv" | sort -u | wc -l) -eq 6 ]'
printf 'img/car.jpg\tcar\tu:1F415\n' >> "$tmp/train.tsv"
aug "$tmp/gr" --no-augment --count 6
check "groups: one key, one id (dog and car share u:1F415)" '[ "$(g 4)" = "$(g 5)" ] && [ "$(g 0)" != "$(g 4)" ]'

# Bad values are refused.
check "probability above 1 refused" '! ./sparseclip-augment --data "$tmp/train.tsv" --out "$tmp/gr" --aug-flip 2 2> /dev/null'
check "non-number refused" '! ./sparseclip-train --data "$tmp/train.tsv" --composite x > /dev/null 2>&1'

# The trainer with everything on: runs, and a run split in two by
# --stop-at/--resume (options stored in the state) is bit-identical.
cat > "$tmp/small.json" <<'JSON'
{"image_size":32,"patch_size":8,"vision_width":32,"vision_layers":1,"vision_heads":2,"context_length":16,"vocab_size":520,"text_width":32,"text_layers":1,"text_heads":2,"embed_dim":16,"sparse_dim":64,"activation":"gelu","image_mean":[0.48145466,0.4578275,0.40821073],"image_std":[0.26862954,0.26130258,0.27577711]}
JSON
cat "$tmp/train.tsv" "$tmp/tiles.tsv" > "$tmp/all.tsv"
opts=(--data "$tmp/all.tsv" --config "$tmp/small.json" --batch 8 --steps 6 --warmup 1 --log-every 1 --aug-icons --composite 0.3
	--cap-template 0.3 --cap-tags 0.5)
[ -f /usr/share/wordnet/data.noun ] && opts+=(--cap-synonym 0.15 --cap-hypernym 0.2)
./sparseclip-train "${opts[@]}" --out "$tmp/s.safetensors" > "$tmp/s.log"
check "training with every option runs" '[ -s "$tmp/s.safetensors" ] && grep -q "alpha masks" "$tmp/s.log"'
./sparseclip-train "${opts[@]}" --out "$tmp/r.safetensors" --stop-at 3 > /dev/null
./sparseclip-train --data "$tmp/all.tsv" --resume "$tmp/r.safetensors.state" --out "$tmp/r.safetensors" --log-every 1 > /dev/null
check "resumed run with augmentation is bit-identical" 'cmp -s "$tmp/s.safetensors" "$tmp/r.safetensors"'
./sparseclip-train "${opts[@]/--aug-icons/--no-augment}" --out "$tmp/n.safetensors" > /dev/null
check "augmentation changes the training" '! cmp -s "$tmp/s.safetensors" "$tmp/n.safetensors"'

echo "training/test_batch.sh: $pass passed, $fail failed"
[ $fail -eq 0 ]
