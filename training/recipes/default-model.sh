#!/bin/bash
# How the shipped default model (models/default.safetensors) was trained,
# step for step, so that anyone can rebuild it from packages alone:
#
#   1. 1,748 steps on the whole data set of training/data/build.sh (44,472
#      images), the light recipe on a 6,000-step schedule, no FLOPS yet,
#      the text head starting as a copy of the image head
#      (--tied-head-init, doc/training.md);
#   2. resumed on the colour subset (emoji in eleven styles, flags, colour
#      icons, openclipart and furniture: the monochrome icon sets out, since
#      their terse names taught the held-out emoji style little), the
#      schedule shortened to 4,500 steps, and the L0 controller steering the
#      FLOPS weight from step 2,250 so that the larger of image and text L0
#      falls geometrically to 1.3 % of the dimensions by step 3,600;
#   3. named (sparseclip-concepts, words of the training captions),
#      converted to F16 with its card's metadata (sparseclip-convert).
#
#   bash training/recipes/default-model.sh
#
# Environment (optional): DATA=training/data/out (built when absent),
# OUT=training/runs/default-model (-dense, -untied), THREADS=2, DENSE=1 for
# the dense baseline of the same recipe and compute (--dense, logit scale
# from 14.29, no FLOPS; no names, no conversion), TIED=0 for the two heads
# started apart, as the previous default (2026.12.1) was trained
# (OUT=training/runs/default-model-untied), STAGE1_ONLY=1 to stop once
# stage 1's state is done (the branch point of the stage-2 ablations).
# A rerun resumes each stage from its state file; SIGINT/SIGTERM save the
# state.  With the same data and thread count the steps are the same as
# the shipped model's (the data order and augmentation are functions of
# seed and step).
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
DATA=${DATA:-$root/training/data/out}
DENSE=${DENSE:-0}
if [ "$DENSE" = 1 ] && [ "${TIED:-}" = 1 ]; then
	echo "default-model.sh: TIED=1 ties the sparse heads; the dense baseline has none" >&2
	exit 2
fi
TIED=${TIED:-1}
case $TIED in 0|1) ;; *) echo "default-model.sh: TIED is 0 or 1, not \"$TIED\"" >&2; exit 2 ;; esac
if [ "$DENSE" = 1 ]; then
	OUT=${OUT:-$root/training/runs/default-model-dense}
	kind=(--dense --logit-init 14.29)
	sparsify=()
else
	name=default-model
	kind=(--logit-init 30 --flops 5 --flops-start 0.6 --flops-ramp 0.85)
	sparsify=(--flops-target 0.013 --flops 2 --flops-start 0.5 --flops-ramp 0.8)
	# the version and date of the model each variant made
	version=2026.12.2 trained=2026-12-04
	if [ "$TIED" = 1 ]; then
		kind+=(--tied-head-init)
	else
		name=default-model-untied version=2026.12.1 trained=2026-12-03
	fi
	OUT=${OUT:-$root/training/runs/$name}
fi
THREADS=${THREADS:-2}
T=$root/training/sparseclip-train
say() { echo "default-model.sh: $*" >&2; }

if [ ! -s "$DATA/train.tsv" ]; then
	say "no data set in $DATA: building it (training/data/build.sh)"
	bash "$root/training/data/build.sh" --out "$DATA"
fi
mkdir -p "$OUT"

# The colour subset: every source but the monochrome icon sets.
awk -F'\t' '{ split($1, p, "/"); s = p[2] }
	s !~ /^(game-icons|lucide|material-symbols|mdi|phosphor|tabler|healthicons|maki|weather-icons|emojione-mono)$/' \
	"$DATA/train.tsv" > "$OUT/train-colour.tsv.tmp"
mv "$OUT/train-colour.tsv.tmp" "$OUT/train-colour.tsv"
# the subset's paths are relative to the data set, so it lives beside it
cp "$OUT/train-colour.tsv" "$DATA/train-colour.tsv"

stage1=$OUT/stage1.safetensors
stage2=$OUT/stage2.safetensors
if [ ! -s "$stage1.done.state" ]; then
	if [ -f "$stage1.state" ]; then
		nice "$T" --resume "$stage1.state" --data "$DATA/train.tsv" --val "$DATA/val.tsv" \
			--threads "$THREADS" --stop-at 1748
	else
		nice "$T" --data "$DATA/train.tsv" --val "$DATA/val.tsv" --preset tiny --steps 6000 --batch 128 \
			--lr 5e-4 --warmup 300 --wd 0.2 --clip 1.0 --logit-cap 50 --logit-lr-mult 10 "${kind[@]}" \
			--multi-positive --crop-scale 0.7 --aug-flip 0.5 --aug-background 0.3 --cap-template 0.3 \
			--seed 1 --threads "$THREADS" --log-every 10 --val-every 250 --checkpoint-every 250 \
			--out "$stage1" --stop-at 1748
	fi
	# a stopped run's state is at step 1,748 only when it got there
	step=$(tail -n 1 "${stage1%.safetensors}.csv" | cut -d, -f1)
	[ "$step" -ge 1740 ] || { say "stage 1 stopped at step $step; rerun to resume"; exit 1; }
	cp "$stage1.state" "$stage1.done.state"
fi
if [ "${STAGE1_ONLY:-0}" = 1 ]; then
	say "stage 1 done: $stage1.done.state"
	exit 0
fi

if [ ! -s "$stage2" ]; then
	from=$stage1.done.state
	[ -f "$stage2.state" ] && from=$stage2.state
	nice "$T" --resume "$from" --data "$DATA/train-colour.tsv" --val "$DATA/val.tsv" \
		--steps 4500 ${sparsify[@]+"${sparsify[@]}"} \
		--threads "$THREADS" --out "$stage2"
fi
# a stopped stage 2 leaves its state, not the model file
[ -s "$stage2" ] || { say "stage 2 stopped before its end; rerun to resume"; exit 1; }
if [ "$DENSE" = 1 ]; then
	say "trained the dense baseline: $stage2 (log ${stage2%.safetensors}.csv)"
	exit 0
fi

# 3. concept names from the WordNet and wamerican words that the captions
# use, a gallery of training images; then F16 with the card's metadata
named=$OUT/named.safetensors
if [ ! -s "$named" ]; then
	[ -s "$OUT/vocab.txt" ] || bash "$root/training/concepts_vocab.sh" "$OUT/vocab.txt" --captions "$DATA/train.tsv"
	nice "$root/training/sparseclip-concepts" "$stage2" --vocab "$OUT/vocab.txt" \
		--images "$DATA/train.tsv" --max-images 5000 --classes "$DATA/val_classes.tsv" \
		--out "$OUT/concepts" --png --threads "$THREADS" --write-to "$named.tmp"
	mv "$named.tmp" "$named"
fi
"$root/training/sparseclip-convert" "$named" "$OUT/default.safetensors" --dtype f16 \
	--meta sparseclip.model_name=sparseclip-tiny-emoji \
	--meta sparseclip.model_version=$version \
	--meta sparseclip.trained=$trained \
	--meta sparseclip.card=doc/default-model.md \
	--meta sparseclip.license=CC-BY-SA-4.0 \
	--meta "sparseclip.description=tiny Sparse-CLIP (18M parameters, 64-pixel images, 8,192 named concepts) trained on emoji, icons and clip art from Debian and npm packages" \
	--meta sparseclip.image_alpha=white
say "done: $OUT/default.safetensors (copy it to models/default.safetensors; make install installs it)"
