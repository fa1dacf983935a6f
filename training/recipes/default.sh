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
#   STEPS=12000              training length of both runs
#   EVAL_OPTS=""             sparseclip-eval options (default: every set, full size)
#   JOBS=2                   runs trained at once
#   STOP_AT=N                train up to step N this time only (resume later)
# EXTRA TRAINER OPTIONS are added to both runs after the recipe's own (the
# later occurrence of an option wins), e.g. --threads 2 with JOBS=1.
#
# The recipe's options are today's; the lead fills in the rest as the
# ablations decide (each marked TODO is an option that is not built yet).
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
DATA=${DATA:-$root/training/data/out}
OUT=${OUT:-$root/training/runs/default}
STEPS=${STEPS:-12000}
EVAL_OPTS=${EVAL_OPTS-}
JOBS=${JOBS:-2}

recipe=(
	--preset tiny
	--steps "$STEPS"
	--batch 128
	--lr 5e-4
	--warmup 500
	--wd 0.2
	--clip 1.0
	--logit-cap 50
	--seed 1
	--threads 1
	--log-every 10
	--val-every 250
	--checkpoint-every 500
	# TODO (issue 9, item 1), as the ablations decide:
	#   --logit-init 30, the logit scale's own rate and schedule
	#   stronger augmentation, composites, multi-positive targets, caption augmentation
	#   --flops LAMBDA --flops-start F --flops-ramp F, dead-dimension re-initialisation, patch dropout
)

if [ ! -s "$DATA/train.tsv" ]; then
	echo "default.sh: no data set in $DATA: building it (training/data/build.sh)"
	bash "$root/training/data/build.sh" --out "$DATA"
fi
mkdir -p "$OUT"
# the two runs: the same recipe, with and without the sparse head
printf '%s\n' "# written by training/recipes/default.sh" "sparse" "dense --dense" > "$OUT/runs.txt"
stop=()
[ -n "${STOP_AT:-}" ] && stop=(--stop-at "$STOP_AT")
exec bash "$root/training/ablate.sh" --jobs "$JOBS" --judge dense --eval-opts "$EVAL_OPTS" "${stop[@]}" \
	"$OUT/runs.txt" "$OUT" --data "$DATA/train.tsv" --val "$DATA/val.tsv" "${recipe[@]}" "$@"
