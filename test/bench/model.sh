#!/usr/bin/env bash
# Model runtime benchmark: images/s and texts/s (16 tokens) of the C
# runtime (test/bench/bench_model.c) beside the same architecture in
# PyTorch 1.13 (test/bench/bench_model_torch.py), run in the same script on
# the same machine, random weights, batch 1 and 32, one and two threads,
# the "tiny" and "ViT-B/32" presets.  Prints the sgemm peak measured here,
# each run's fraction of it, and the C/torch ratio (> 1: C is faster).
#
#   bash test/bench/model.sh [SECONDS]     (per measurement, default 2)
#   PRESETS="tiny" THREADS="1" bash test/bench/model.sh   (a subset)
#
# OpenBLAS kernels: the C side calls sc_blas_tune() as the extension does
# (on VMs with a generic CPU model OpenBLAS otherwise runs SSE3 kernels);
# torch uses the same OpenBLAS and gets the same kernels through
# OPENBLAS_CORETYPE.  BENCH_NO_TUNE=1 compares both with OpenBLAS's choice.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
SECONDS_PER=${1:-2}
PRESETS=${PRESETS:-"tiny ViT-B/32"}
THREADS=${THREADS:-"1 2"}
TMP=$(mktemp -d /tmp/sparseclip-bench-model.XXXXXX)
trap 'rm -rf "$TMP"' EXIT

gcc -std=gnu11 -O2 -Wall -Wextra -Werror -I"$ROOT/src/core" -o "$TMP/bench_model" \
	"$ROOT/test/bench/bench_model.c" "$ROOT"/src/core/*.c -lopenblas -lturbojpeg -lpng16 -lwebp -lwebpdemux -lutf8proc -lm -lpthread

HAVE_TORCH=0
if /usr/bin/python3 -c 'import torch' 2>/dev/null; then HAVE_TORCH=1; else echo "torch not importable: C side only" >&2; fi

val() { awk -v k="$1" -v f="$2" '$1 == k { print $f }' "$3"; }

printf '%-9s %-4s %-9s %3s %10s %7s %10s %7s\n' preset thr what batch "C items/s" "%peak" "torch/s" "C/torch"
for preset in $PRESETS; do
	for thr in $THREADS; do
		c_out="$TMP/c.txt"; t_out="$TMP/t.txt"
		OPENBLAS_NUM_THREADS=$thr "$TMP/bench_model" "$preset" "$thr" "$SECONDS_PER" > "$c_out"
		core=$(val blas_core 2 "$c_out")
		peak=$(val sgemm_gflops 2 "$c_out")
		: > "$t_out"
		if [ "$HAVE_TORCH" = 1 ]; then
			coreenv=()
			[ -z "${BENCH_NO_TUNE:-}" ] && coreenv=(OPENBLAS_CORETYPE="$core")
			env "${coreenv[@]}" OMP_WAIT_POLICY=passive OMP_NUM_THREADS=$thr OPENBLAS_NUM_THREADS=$thr \
				/usr/bin/python3 "$ROOT/test/bench/bench_model_torch.py" "$preset" "$thr" "$SECONDS_PER" > "$t_out"
		fi
		for what in image text; do
			for b in 1 32; do
				k=${what}_b$b
				c=$(val "$k" 2 "$c_out"); gf=$(val "$k" 3 "$c_out"); t=$(val "$k" 2 "$t_out")
				awk -v p="$preset" -v thr="$thr" -v w="$what" -v b="$b" -v c="$c" -v gf="$gf" -v pk="$peak" -v t="$t" 'BEGIN {
					printf "%-9s %-4s %-9s %3d %10.2f %6.0f%% %10s %7s\n", p, thr, w, b, c, 100 * gf / pk,
						(t == "" ? "-" : sprintf("%.2f", t)), (t == "" ? "-" : sprintf("%.2fx", c / t)) }'
			done
		done
		echo "# $preset, $thr thread(s): OpenBLAS $core, sgemm peak $peak GFLOPS (1024^3, $thr thread(s))"
	done
done
