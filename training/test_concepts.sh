#!/bin/bash
# Tests of sparseclip-concepts: the unit tests of its decisions
# (test_naming.c), then the tool end to end on a tiny random model, a
# designed vocabulary and images drawn with ImageMagick: every output file,
# names written into the model (tensors untouched, another run gives the
# same names), --no-write, the gallery picture, the quality report, bad
# input refused.  Seconds.
#   bash training/test_concepts.sh        (from anywhere)
set -euo pipefail
cd "$(dirname "$0")"
make -s sparseclip-concepts test_naming
./test_naming
root=$(cd .. && pwd)
make -s -C "$root" test/tools/bin/make_model test/tools/bin/set_concepts >/dev/null
command -v convert >/dev/null || { echo "SKIP: ImageMagick (convert) not installed"; exit 0; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
pass=0 fail=0
check() { if eval "$2"; then pass=$((pass + 1)); else fail=$((fail + 1)); echo "FAIL: $1"; fi; }

cfg='{"image_size":32,"patch_size":8,"vision_width":32,"vision_layers":1,"vision_heads":2,"context_length":16,"vocab_size":574,"text_width":32,"text_layers":1,"text_heads":2,"embed_dim":16,"sparse_dim":96,"activation":"gelu","image_mean":[0.48145466,0.4578275,0.40821073],"image_std":[0.26862954,0.26130258,0.27577711]}'
"$root/test/tools/bin/make_model" "$cfg" "$root/test/fixtures/encode/model.safetensors" "$tmp/m.safetensors" 3
cp "$tmp/m.safetensors" "$tmp/orig.safetensors"
mkdir -p "$tmp/img"
for c in red green blue yellow black purple orange pink; do
	convert -size 32x32 xc:white -fill $c -draw "circle 16,16 26,16" -quality 90 "$tmp/img/$c.jpg"
	printf 'img/%s.jpg\ta %s circle\n' $c $c >> "$tmp/gallery.tsv"
	printf 'img/%s.jpg\t%s\n' $c $c >> "$tmp/classes.tsv"
done
printf '# a comment\nred\nGreen\ngreen\nblue\nyellow\nblack\npurple\norange\npink\nice_cream\ncircle\nsquare\ndog\ncat\nsnow\n\n' > "$tmp/vocab.txt"

./sparseclip-concepts "$tmp/m.safetensors" --vocab "$tmp/vocab.txt" --images "$tmp/gallery.tsv" \
	--classes "$tmp/classes.tsv" --out "$tmp/out" --names 3 --top-words 4 --top-images 3 --gallery 5 \
	--threads 1 --png > "$tmp/run.log" 2> "$tmp/run.err"
check "reads 14 distinct entries (comment, blank and a case duplicate dropped)" 'grep -q "vocabulary: 14 entries.*1 duplicates" "$tmp/run.err"'
check "names.tsv: header, at most 4 words a dimension, activations in (0, 1]" \
	'awk -F"\t" "NR == 1 { ok = \$0 == \"dim\trank\tword\tactivation\tscore\" } NR > 1 { if (\$2 > 4 || \$4 <= 0 || \$4 > 1 || \$1 < 1 || \$1 > 96) ok = 0; n++ } END { exit !(ok && n > 0) }" "$tmp/out/names.tsv"'
check "names.tsv: ranks best first within a dimension" \
	'awk -F"\t" "NR > 1 { if (\$1 == d && \$5 > prev + 1e-9) bad = 1; d = \$1; prev = \$5 } END { exit bad }" "$tmp/out/names.tsv"'
check "names normalised (ice cream)" '! grep -q "ice_cream" "$tmp/out/names.tsv"'
check "images.tsv lists gallery images" 'awk -F"\t" "NR > 1 && \$3 ~ /img\/[a-z]+\.jpg$/ { n++ } END { exit !(n > 0) }" "$tmp/out/images.tsv"'
check "gallery.html and gallery.png written" '[ -s "$tmp/out/gallery.html" ] && [ -s "$tmp/out/gallery.png" ] && [ $(wc -l < "$tmp/out/gallery.txt") -le 5 ]'
check "quality report with the random baseline" 'grep -q "random names" "$tmp/out/quality.txt" && grep -q "8 images" "$tmp/out/quality.txt"'
check "names written into the model" 'grep -q "names written to" "$tmp/run.log" && head -c 100000 "$tmp/m.safetensors" | grep -a "sparseclip.concept_activations" > /dev/null'
# the tensor bytes: what follows the 8-byte length and the header
data() { tail -c +$((9 + $(od -An -tu8 -N8 "$1"))) "$1"; }
check "tensors byte for byte the same" 'cmp -s <(data "$tmp/orig.safetensors") <(data "$tmp/m.safetensors") && [ $(data "$tmp/m.safetensors" | wc -c) -gt 100000 ]'
check "no temporary file left" '[ -z "$(ls "$tmp" | grep tmp)" ]'
# the names in the model equal names.tsv's first three a dimension
"$root/test/tools/bin/set_concepts" "$tmp/m.safetensors" "$tmp/copy.safetensors" - >/dev/null
./sparseclip-concepts "$tmp/m.safetensors" --vocab "$tmp/vocab.txt" --names 3 --top-words 4 --threads 1 \
	--write-to "$tmp/again.safetensors" > /dev/null 2>&1
check "a second run (words only) writes the same names" \
	'cmp -s <(head -c 100000 "$tmp/m.safetensors" | grep -ao "sparseclip.concepts\":\"[^]]*") <(head -c 100000 "$tmp/again.safetensors" | grep -ao "sparseclip.concepts\":\"[^]]*")'
cp "$tmp/orig.safetensors" "$tmp/keep.safetensors"
./sparseclip-concepts "$tmp/keep.safetensors" --vocab "$tmp/vocab.txt" --no-write --threads 1 > /dev/null 2>&1
check "--no-write leaves the model alone" 'cmp -s "$tmp/orig.safetensors" "$tmp/keep.safetensors"'

# bad input
check "no vocabulary: usage" '! ./sparseclip-concepts "$tmp/m.safetensors" 2>/dev/null'
printf '\n# x\n' > "$tmp/empty.txt"
check "empty vocabulary refused" '! ./sparseclip-concepts "$tmp/m.safetensors" --vocab "$tmp/empty.txt" 2>"$tmp/e" && grep -q "no words" "$tmp/e"'
check "a dense model refused" '! ./sparseclip-concepts "$root/test/fixtures/encode/dense.safetensors" --vocab "$tmp/vocab.txt" 2>"$tmp/e" && grep -q "dense" "$tmp/e"'
check "a missing model refused" '! ./sparseclip-concepts "$tmp/none.safetensors" --vocab "$tmp/vocab.txt" 2>/dev/null'
check "a template without {} refused" '! ./sparseclip-concepts "$tmp/m.safetensors" --vocab "$tmp/vocab.txt" --template "a photo" 2>/dev/null'
check "--names 0 refused" '! ./sparseclip-concepts "$tmp/m.safetensors" --vocab "$tmp/vocab.txt" --names 0 2>/dev/null'

# the vocabulary script: the whole list, and --captions keeping only what
# the captions use (words 3+ times, phrases as 2+ whole captions)
if [ -r /usr/share/wordnet/data.noun ] && [ -r /usr/share/dict/american-english ]; then
	bash "$root/training/concepts_vocab.sh" "$tmp/all.txt" 2>/dev/null
	check "concepts_vocab.sh: WordNet and wamerican words, phrases, no stop words" \
		'[ $(wc -l < "$tmp/all.txt") -gt 50000 ] && grep -qx "ice cream" "$tmp/all.txt" && grep -qx apple "$tmp/all.txt" && ! grep -qx the "$tmp/all.txt"'
	printf 'a/1.jpg\tred apple\na/1.jpg\tan apple, red and shiny\na/2.jpg\tRed Apple\na/3.jpg\tapple pie with the apple\n' > "$tmp/cap.tsv"
	printf 'a/4.jpg\tice cream\na/5.jpg\tice cream cone\na/6.jpg\tthe the the the\na/7.jpg\thydrochlorothiazide\n' >> "$tmp/cap.tsv"
	bash "$root/training/concepts_vocab.sh" "$tmp/cap.txt" --captions "$tmp/cap.tsv" 2>/dev/null
	check "concepts_vocab.sh --captions: apple (5 times) and red (3) kept; pie, ice, cream (fewer) and a phrase of one whole caption not" \
		'[ "$(sort "$tmp/cap.txt" | tr "\n" " ")" = "apple red " ]'
	printf 'a/8.jpg\tice cream\n' >> "$tmp/cap.tsv"
	bash "$root/training/concepts_vocab.sh" "$tmp/cap.txt" --captions "$tmp/cap.tsv" 2>/dev/null
	check "concepts_vocab.sh --captions: a phrase that is two whole captions is kept (and ice, cream now 3 times)" \
		'[ "$(sort "$tmp/cap.txt" | tr "\n" " ")" = "apple cream ice ice cream red " ]'
	check "concepts_vocab.sh --captions with a missing file refused" \
		'! bash "$root/training/concepts_vocab.sh" "$tmp/x.txt" --captions "$tmp/none.tsv" 2>/dev/null'
else
	echo "SKIP: concepts_vocab.sh (wordnet-base or wamerican not installed)"
fi

echo "training/test_concepts.sh: $pass passed, $fail failed"
[ $fail -eq 0 ]
