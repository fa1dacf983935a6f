#!/bin/bash
# The stage-2 ablation table of issue 9 (runs.txt says what each run is).
#
#   DATA=training/data/out \
#   UNTIED_STAGE1=training/runs/default-model-untied/stage1.safetensors.done.state \
#   DENSE_STAGE1=training/runs/default-model-dense/stage1.safetensors.done.state \
#   TIED_STAGE1=training/runs/default-model/stage1.safetensors.done.state \
#   OUT=training/runs/ablation-stage2 bash training/results/ablation-stage2/run.sh [ablate.sh options]
#
# The states come from training/recipes/default-model.sh with STAGE1_ONLY=1
# (plain for the tied heads the sparse runs branch from, TIED=0 for
# best-untied, DENSE=1 for the dense one).  A pair of runs side by side
# (--jobs 2, THREADS=1) took about 70 minutes (4,155-4,195 s) on the 2-core
# development machine (2026-12-04); a rerun resumes (ablate.sh);
# --stop-at N and --only A,B spread the runs over sessions; --no-train
# writes the table of the finished runs beside a running one.  Results:
# OUT/ablation.md, OUT/ablation.tsv, OUT/curves.png.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../../.." && pwd)
DATA=${DATA:-$root/training/data/out}
UNTIED_STAGE1=${UNTIED_STAGE1:-$root/training/runs/default-model-untied/stage1.safetensors.done.state}
DENSE_STAGE1=${DENSE_STAGE1:-$root/training/runs/default-model-dense/stage1.safetensors.done.state}
TIED_STAGE1=${TIED_STAGE1:-$root/training/runs/default-model/stage1.safetensors.done.state}
OUT=${OUT:-$root/training/runs/ablation-stage2}
THREADS=${THREADS:-2}
# the stage-1 states are only branched from: --no-train needs none of them
# (a table rebuilt from committed rows names states long gone)
need=("$DATA/train-colour.tsv")
[[ " $* " == *" --no-train "* ]] || need+=("$UNTIED_STAGE1" "$DENSE_STAGE1" "$TIED_STAGE1")
for f in "${need[@]}"; do
	[ -r "$f" ] || { echo "run.sh: no $f: run training/recipes/default-model.sh with STAGE1_ONLY=1 (plain, TIED=0 and DENSE=1) first" >&2; exit 2; }
done
mkdir -p "$OUT"
# whole words: UNTIED_STAGE1 holds TIED_STAGE1
sed -e "s#\\bUNTIED_STAGE1\\b#$UNTIED_STAGE1#" -e "s#\\bDENSE_STAGE1\\b#$DENSE_STAGE1#" -e "s#\\bTIED_STAGE1\\b#$TIED_STAGE1#" "$here/runs.txt" > "$OUT/runs.txt"
# the dense run branches from a dense state, so --dense is not among its
# options: name it as the clarity judge
exec bash "$root/training/ablate.sh" --from "$TIED_STAGE1" --judge dense "$@" "$OUT/runs.txt" "$OUT" \
	--data "$DATA/train-colour.tsv" --val "$DATA/val.tsv" --steps 2500 --threads "$THREADS"
