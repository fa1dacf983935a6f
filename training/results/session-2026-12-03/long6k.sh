#!/bin/bash
# The long sparse run started on 2026-12-03: the light recipe for 6,000 steps,
# FLOPS 5 only from 60 % of the steps, told to stop at step 3,600 (just
# before FLOPS begins) so that sparsification can branch from its state.
# Rerunning it resumes from OUT/long6k.safetensors.state when present.
#   DATA=training/data/out OUT=training/runs/long bash training/results/session-2026-12-03/long6k.sh
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../../.." && pwd)
DATA=${DATA:-$root/training/data/out}
OUT=${OUT:-$root/training/runs/long}
T=$root/training/sparseclip-train
mkdir -p "$OUT"
if [ -f "$OUT/long6k.safetensors.state" ]; then
	exec nice "$T" --resume "$OUT/long6k.safetensors.state" --data "$DATA/train.tsv" --val "$DATA/val.tsv" \
		--stop-at 3600 "$@"
fi
exec nice "$T" --data "$DATA/train.tsv" --val "$DATA/val.tsv" --preset tiny --steps 6000 --batch 128 \
	--lr 5e-4 --warmup 300 --wd 0.2 --clip 1.0 --logit-cap 50 --logit-init 30 --logit-lr-mult 10 \
	--flops 5 --flops-start 0.6 --flops-ramp 0.85 \
	--multi-positive --crop-scale 0.7 --aug-flip 0.5 --aug-background 0.3 --cap-template 0.3 \
	--seed 1 --threads 2 --log-every 10 --val-every 250 --checkpoint-every 250 \
	--out "$OUT/long6k.safetensors" --stop-at 3600 "$@"
