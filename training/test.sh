#!/bin/bash
# End-to-end check of the trainer and the evaluator on a made-up data set
# (coloured shapes drawn with ImageMagick): BPE learning, training, the CSV
# log, numbered checkpoints, a run split in two by --stop-at/--resume giving
# a bit-identical model, the model loading in sparseclip-eval, bad options
# refused.  About a minute on 2 cores.
#   bash training/test.sh        (from the repository root)
set -euo pipefail
cd "$(dirname "$0")"
make -s sparseclip-train sparseclip-eval test_metrics
./test_metrics
command -v convert >/dev/null || { echo "SKIP: ImageMagick (convert) not installed"; exit 0; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
pass=0 fail=0
check() { if eval "$2"; then pass=$((pass + 1)); else fail=$((fail + 1)); echo "FAIL: $1"; fi; }

mkdir -p "$tmp/img"
n=0
for colour in red green blue yellow black purple; do
	for shape in circle square; do
		for size in 10 14 18 22; do
			f="img/$colour-$shape-$size.jpg"
			if [ $shape = circle ]; then draw="circle 32,32 $((32 + size)),32"; else draw="rectangle $((32 - size)),$((32 - size)) $((32 + size)),$((32 + size))"; fi
			convert -size 64x64 xc:white -fill $colour -draw "$draw" -quality 90 "$tmp/$f"
			printf '%s\ta %s %s\n%s\t%s %s shape\n' "$f" $colour $shape "$f" $shape $colour >> "$tmp/train.tsv"
			n=$((n + 1))
		done
	done
done
head -16 "$tmp/train.tsv" > "$tmp/val.tsv"
printf 'the quick brown fox jumps over the lazy dog\na circle is a round shape; a square has four sides\n' > "$tmp/wordnet.txt"
cat > "$tmp/small.json" <<'JSON'
{"image_size":32,"patch_size":8,"vision_width":32,"vision_layers":2,"vision_heads":2,"context_length":12,"vocab_size":560,"text_width":32,"text_layers":2,"text_heads":2,"embed_dim":16,"sparse_dim":128,"activation":"gelu","image_mean":[0.48145466,0.4578275,0.40821073],"image_std":[0.26862954,0.26130258,0.27577711]}
JSON
common=(--data "$tmp/train.tsv" --val "$tmp/val.tsv" --config "$tmp/small.json" --steps 40 --batch 16
	--warmup 5 --lr 2e-3 --log-every 5 --val-every 20)

./sparseclip-train "${common[@]}" --out "$tmp/full.safetensors" --checkpoint-every 20 > "$tmp/full.log"
check "final model written" '[ -s "$tmp/full.safetensors" ]'
check "numbered checkpoint written" '[ -s "$tmp/full.step000020.safetensors" ]'
check "state written" '[ -s "$tmp/full.safetensors.state" ]'
check "CSV has a header and 8 rows" '[ $(wc -l < "$tmp/full.csv") -eq 9 ]'
check "BPE learned from captions + text" 'grep -q "BPE: learning 46 merges" "$tmp/full.log"'
first=$(awk -F, 'NR == 2 { print $4 }' "$tmp/full.csv")
last=$(awk -F, 'END { print $4 }' "$tmp/full.csv")
check "loss goes down ($first -> $last)" 'awk -v a="$first" -v b="$last" "BEGIN { exit !(b < a - 0.3) }"'

./sparseclip-train "${common[@]}" --out "$tmp/split.safetensors" --stop-at 13 > "$tmp/split1.log"
check "split run stops with a state" 'grep -q "stopped at step 13" "$tmp/split1.log"'
echo "15,stale row of a killed run" >> "$tmp/split.csv"
./sparseclip-train --data "$tmp/train.tsv" --val "$tmp/val.tsv" --resume "$tmp/split.safetensors.state" \
	--out "$tmp/split.safetensors" --log-every 5 --val-every 20 > "$tmp/split2.log"
check "resumed run is bit-identical to the straight one" 'cmp -s "$tmp/full.safetensors" "$tmp/split.safetensors"'
check "resumed log drops stale rows, repeats none" '! grep -q stale "$tmp/split.csv" && [ $(wc -l < "$tmp/split.csv") -eq 9 ]'

./sparseclip-train "${common[@]}" --dense --steps 10 --out "$tmp/dense.safetensors" > /dev/null
./sparseclip-train "${common[@]}" --sparsity topk --topk 8 --steps 10 --out "$tmp/topk.safetensors" > "$tmp/topk.log"
check "top-k run keeps L0 <= 8" 'awk "NR > 1 && (\$10 > 8 || \$11 > 8) { bad = 1 } END { exit bad }" FS=, "$tmp/topk.csv"'

./sparseclip-eval "$tmp/full.safetensors" --val "$tmp/val.tsv" --classes "$tmp/val.tsv" --shared "$tmp/none" > "$tmp/eval.txt"
check "eval prints retrieval" 'grep -q "text->image R@1" "$tmp/eval.txt"'
check "eval prints L0" 'grep -q "image L0" "$tmp/eval.txt"'
check "eval skips missing shared data" 'grep -q "CIFAR-10 test.*skipped" "$tmp/eval.txt"'
./sparseclip-eval "$tmp/dense.safetensors" --val "$tmp/val.tsv" > "$tmp/eval_dense.txt"
check "eval loads the dense model" 'grep -q "dense, output dim 16" "$tmp/eval_dense.txt"'

# The paper's metrics, machine-readable, in range (the dense model judges clarity).
./sparseclip-eval "$tmp/full.safetensors" --val "$tmp/val.tsv" --classes "$tmp/val.tsv" --judge "$tmp/dense.safetensors" \
	--shared "$tmp/none" --skip fashion --json "$tmp/m.json" --tsv "$tmp/m.tsv" > "$tmp/eval_m.txt"
key() { awk -F'\t' -v k="$2" '$1 == k { print $2; f = 1 } END { exit !f }' "$1"; }
inrange() { awk -v x="$(key "$1" "$2")" -v lo="$3" -v hi="$4" 'BEGIN { exit !(x != "" && x != "nan" && x + 0 >= lo && x + 0 <= hi) }'; }
for k in val.t2i_r1 val.t2i_r10 val.i2t_r10 heldout.top1 sparsity.image_l0_pct sparsity.text_l0_pct \
	sparsity.dead_image_pct sparsity.dead_text_pct sparsity.dead_pct modality.multimodal_pct \
	modality.image_only_pct modality.text_only_pct modality.multimodal_mass_pct; do
	check "metric $k in [0, 100]" 'inrange "$tmp/m.tsv" $k 0 100'
done
for k in sparsity.image_l0 sparsity.text_l0 sparsity.dead_image sparsity.dead_text sparsity.dead modality.active clarity.dims; do
	check "metric $k in [0, 128]" 'inrange "$tmp/m.tsv" $k 0 128'
done
check "clarity and its baseline are cosines" 'inrange "$tmp/m.tsv" clarity.mean -1 1 && inrange "$tmp/m.tsv" clarity.baseline -1 1'
check "some dimensions are counted for clarity" 'inrange "$tmp/m.tsv" clarity.dims 1 128'
check "modality classes add up" 'awk -v a="$(key "$tmp/m.tsv" modality.multimodal_pct)" -v b="$(key "$tmp/m.tsv" modality.image_only_pct)" -v c="$(key "$tmp/m.tsv" modality.text_only_pct)" "BEGIN { exit !(a + b + c > 99.99 && a + b + c < 100.01) }"'
check "logit scale recorded" 'inrange "$tmp/m.tsv" model.logit_scale 1 50'
check "the judge is named in the table" 'grep -q "judge: image tower of $tmp/dense.safetensors (dense" "$tmp/eval_m.txt"'
check "JSON has the same figures" 'grep -q "\"clarity.baseline\": " "$tmp/m.json" && grep -q "\"modality.cut_low\": 0.1" "$tmp/m.json" && [ $(grep -c "^  \"" "$tmp/m.json") -eq $(($(wc -l < "$tmp/m.tsv"))) ]'
check "skipped sets say so" 'grep -q "CIFAR-10 test.*skipped" "$tmp/eval_m.txt" && ! grep -q "Fashion" "$tmp/eval_m.txt"'

# Designed data: two images, eight identical copies each.  Every dimension's top 8
# images are copies of one image (clarity 1); random groups of 8 mix the two.
mkdir -p "$tmp/twins"
for k in 1 2 3 4 5 6 7 8; do
	cp "$tmp/img/red-circle-22.jpg" "$tmp/twins/a$k.jpg"
	cp "$tmp/img/blue-square-10.jpg" "$tmp/twins/b$k.jpg"
	printf 'twins/a%s.jpg\ta red circle\ntwins/b%s.jpg\ta blue square\n' $k $k >> "$tmp/twins.tsv"
done
./sparseclip-eval "$tmp/full.safetensors" --val "$tmp/twins.tsv" --judge "$tmp/dense.safetensors" --clarity-top 8 \
	--shared "$tmp/none" --skip fashion --tsv "$tmp/twins.out" > /dev/null
check "identical groups: clarity 1 ($(key "$tmp/twins.out" clarity.mean))" 'inrange "$tmp/twins.out" clarity.mean 0.9999 1.0001'
check "random groups lower ($(key "$tmp/twins.out" clarity.baseline))" 'inrange "$tmp/twins.out" clarity.baseline -1 0.999'
check "identical copies: group size 8" 'inrange "$tmp/twins.out" clarity.mean_group 8 8'
./sparseclip-eval "$tmp/dense.safetensors" --fashion "$tmp/none" --shared "$tmp/none" > "$tmp/eval_f.txt" 2>&1
check "Fashion-MNIST elsewhere than Debian's folder: skipped, not installed" 'grep -q "Fashion-MNIST test.*skipped" "$tmp/eval_f.txt" && ! grep -q installing "$tmp/eval_f.txt"'
check "bad --clarity-top refused" '! ./sparseclip-eval "$tmp/full.safetensors" --clarity-top 1 > /dev/null 2>&1'
check "bad --skip refused" '! ./sparseclip-eval "$tmp/full.safetensors" --skip mnist > /dev/null 2>&1'

# Ablation tooling end to end: two runs split by --stop-at and resumed, the
# table and the picture, a rerun that skips, changed options refused; then the
# default recipe's script with today's options on the drawn data.
printf '# name and options\nsparse\ndense --dense   # the judge\n' > "$tmp/runs.txt"
abl=(--jobs 2 --classes "$tmp/val.tsv" --eval-opts "--skip fashion --shared $tmp/none" "$tmp/runs.txt" "$tmp/ab" "${common[@]}")
bash ./ablate.sh --stop-at 13 "${abl[@]}" > "$tmp/ab1.log" 2>&1
check "ablate: stopped runs keep a state, no model, table says unfinished" '[ -s "$tmp/ab/sparse/model.safetensors.state" ] && [ ! -e "$tmp/ab/sparse/model.safetensors" ] && grep -q "^| sparse | - | 10 | unfinished" "$tmp/ab/ablation.md"'
bash ./ablate.sh "${abl[@]}" > "$tmp/ab2.log" 2>&1
check "ablate: both runs resumed and finished" '[ $(grep -c ": resuming from" "$tmp/ab2.log") -eq 2 ] && [ -s "$tmp/ab/dense/model.safetensors" ]'
check "ablate: resumed run bit-identical to the straight one" 'cmp -s "$tmp/ab/sparse/model.safetensors" "$tmp/full.safetensors"'
check "ablate: each run has its log and evaluation" '[ -s "$tmp/ab/sparse/train.log" ] && grep -q "clarity.mean" "$tmp/ab/dense/eval.tsv"'
check "ablate: TSV table, 2 runs x 19 columns" '[ $(awk -F"\t" "NF == 19" "$tmp/ab/ablation.tsv" | wc -l) -eq 3 ]'
check "ablate: numbers in every column of a finished run" '[ $(awk -F"\t" "\$1 == \"sparse\"" "$tmp/ab/ablation.tsv" | tr "\t" "\n" | sed -n "3,19p" | grep -c "^[0-9.]*$") -eq 15 ]'
check "ablate: Markdown rows with clarity and logit scale" 'grep -q "^| dense | \`--dense\` | 40 | [0-9.]* |.*([0-9.-]*) |" "$tmp/ab/ablation.md"'
check "ablate: curves picture is a PNG" '[ "$(head -c 4 "$tmp/ab/curves.png" | tail -c 3)" = PNG ]'
bash ./ablate.sh "${abl[@]}" > "$tmp/ab3.log" 2>&1
check "ablate: a rerun skips finished runs and evaluations" '[ $(grep -c "finished, skipped" "$tmp/ab3.log") -eq 2 ] && ! grep -q evaluating "$tmp/ab3.log"'
printf 'sparse --lr 1e-3\n' > "$tmp/runs2.txt"
check "ablate: changed options refused" '! bash ./ablate.sh --no-eval "$tmp/runs2.txt" "$tmp/ab" "${common[@]}" > "$tmp/ab4.log" 2>&1 && grep -q "options differ" "$tmp/ab4.log"'
check "ablate: --out in the options refused" 'printf "x --out y\n" > "$tmp/runs4.txt"; ! bash ./ablate.sh "$tmp/runs4.txt" "$tmp/ab6" "${common[@]}" > /dev/null 2>&1'
check "ablate: the ablation list of issue 9 parses" '[ $(bash ./ablate.sh --dry-run recipes/ablations.txt "$tmp/ab7" "${common[@]}" | grep -c "sparseclip-train --out") -ge 5 ] && [ ! -e "$tmp/ab7" ]'
check "ablate: bad config refused" 'printf "a/b --dense\n" > "$tmp/runs3.txt"; ! bash ./ablate.sh "$tmp/runs3.txt" "$tmp/ab5" "${common[@]}" > /dev/null 2>&1'

DATA="$tmp" OUT="$tmp/recipe" STEPS=20 EVAL_OPTS="--skip fashion,cifar10,imagenet" bash recipes/default.sh \
	--config "$tmp/small.json" --batch 16 --warmup 5 --lr 2e-3 --log-every 5 > "$tmp/recipe.log" 2>&1
check "recipe: sparse and dense trained and evaluated, the dense one judging" 'grep -q "^| sparse | - | 20 | - | [0-9.]* |.*([0-9.-]*) |" "$tmp/recipe/ablation.md" && grep -q "clarity.judge.*recipe/dense/model.safetensors" "$tmp/recipe/sparse/eval.tsv"'

check "missing --data refused" '! ./sparseclip-train --steps 1 2> /dev/null'
check "bad --sparsity refused" '! ./sparseclip-train --data "$tmp/train.tsv" --sparsity nope > /dev/null 2>&1'
check "topk without --topk refused" '! ./sparseclip-train --data "$tmp/train.tsv" --sparsity topk > /dev/null 2>&1'
check "missing image file refused" 'printf "img/none.jpg\tx\n" > "$tmp/bad.tsv"; ! ./sparseclip-train --data "$tmp/bad.tsv" > /dev/null 2>&1'
echo "training/test.sh: $pass passed, $fail failed"
[ $fail -eq 0 ]
