#!/bin/bash
# The recipe of sparseclip's default model: Sparse-CLIP and the dense
# baseline trained with the same options and compute, side by side (one
# thread each on a two-core machine), then fully evaluated, the dense model
# judging clarity.  A rerun resumes both runs from their state files, so the
# long runs can span sessions; it runs through training/ablate.sh (see there
# for the folder layout: OUT/sparse, OUT/dense, OUT/ablation.md, curves.png).
#
#   bash training/recipes/default.sh [EXTRA TRAINER OPTIONS...]
#
# Environment (all optional):
#   DATA=training/data/out   the data set (built by training/data/build.sh when
#                            absent)
#   OUT=training/runs/default
#   STEPS=1600               training length of both runs
#   FLOPS=15                 the sparse run's FLOPS weight
#   EVAL_OPTS=""             sparseclip-eval options (default: every set, full size)
#   JOBS=2                   runs trained at once
#   STOP_AT=N                train up to step N this time only (resume later)
# EXTRA TRAINER OPTIONS are added to both runs after the recipe's own (the
# later occurrence of an option wins), e.g. --threads 2 with JOBS=1.
#
# The sparse run starts its logit scale at 30 (ReLU + L2 cosines lie in
# [0, 1]: 30 gives the span of a dense model at 14.3) and adds the FLOPS
# penalty late; the dense run keeps 14.3.  Both: see runs.txt below.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
DATA=${DATA:-$root/training/data/out}
OUT=${OUT:-$root/training/runs/default}
STEPS=${STEPS:-1600}
EVAL_OPTS=${EVAL_OPTS-}
JOBS=${JOBS:-2}

recipe=(
	--preset tiny
	--steps "$STEPS"
	--batch 128
	--lr 5e-4
	--warmup 100
	--wd 0.2
	--clip 1.0
	--seed 1
	--threads 1
	--log-every 10
	--val-every 250
	--checkpoint-every 250
	# the logit scale: its own rate (10x), no cosine decay, no weight decay
	--logit-cap 50
	--logit-lr-mult 10
	# mild augmentation, template captions, multi-positive targets; the heavy
	# icon recipe (--aug-icons, composites, caption rewrites, patch dropout)
	# learned far slower at this length (training/results/default-v1)
	--multi-positive
	--crop-scale 0.7 --aug-flip 0.5 --aug-background 0.3
	--cap-template 0.3
)

if [ ! -s "$DATA/train.tsv" ]; then
	echo "default.sh: no data set in $DATA: building it (training/data/build.sh)"
	bash "$root/training/data/build.sh" --out "$DATA"
fi
mkdir -p "$OUT"
# the two runs: the same recipe, with and without the sparse head
printf '%s\n' "# written by training/recipes/default.sh" \
	"sparse --logit-init 30 --flops ${FLOPS:-15} --flops-start 0.25 --flops-ramp 0.65" \
	"dense --dense --logit-init 14.29" > "$OUT/runs.txt"
stop=()
[ -n "${STOP_AT:-}" ] && stop=(--stop-at "$STOP_AT")
exec bash "$root/training/ablate.sh" --jobs "$JOBS" --judge dense --eval-opts "$EVAL_OPTS" "${stop[@]}" \
	"$OUT/runs.txt" "$OUT" --data "$DATA/train.tsv" --val "$DATA/val.tsv" "${recipe[@]}" "$@"
