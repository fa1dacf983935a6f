#!/bin/bash
# Training throughput: the C trainer (test/bench/train_step.c) beside the
# same model and step in PyTorch 1.13 (test/bench/train_torch.py), tiny
# preset, batch 128, one and two threads, printed as ratios (C / torch).
# Both sides: best step of STEPS after one warm-up step; PyTorch with
# OMP_WAIT_POLICY=passive and torch.set_num_threads matching, and with
# OPENBLAS_CORETYPE set to the kernels the C side uses (Debian's torch does
# its matrix products in the system OpenBLAS, which otherwise falls back to
# generic kernels on CPUs it misreads; src/core/blas_tune.h).
#
#   bash test/bench/train.sh [STEPS] [BATCH] [dense]
# Run from the repository root.  PyTorch is optional (/usr/bin/python3).
set -euo pipefail
STEPS=${1:-3}
BATCH=${2:-128}
MODE=${3:-}
cd "$(dirname "$0")/../.."
bin=$(mktemp -d)
trap 'rm -rf "$bin"' EXIT
gcc -std=gnu11 -O2 -march=x86-64-v2 -Wall -Wextra -Werror -Isrc/core \
	test/bench/train_step.c src/core/*.c -o "$bin/train_step" \
	-lopenblas -lturbojpeg -lpng16 -lwebp -lwebpdemux -lutf8proc -lm -lpthread
core=$("$bin/train_step" core)
have_torch=0
if /usr/bin/python3 -c 'import torch' 2>/dev/null; then have_torch=1; fi
printf 'tiny preset%s, batch %s, best of %s steps (pairs/s), OpenBLAS %s; load average %s\n' \
	"${MODE:+ ($MODE)}" "$BATCH" "$STEPS" "$core" "$(cut -d' ' -f1-3 /proc/loadavg)"
printf '%-8s %10s %10s %8s\n' threads C torch ratio
for t in 1 2; do
	c=$(OPENBLAS_NUM_THREADS=$t "$bin/train_step" tiny "$BATCH" "$t" "$STEPS" $MODE)
	if [ $have_torch = 1 ]; then
		p=$(OPENBLAS_CORETYPE=$core OMP_WAIT_POLICY=passive OMP_NUM_THREADS=$t /usr/bin/python3 test/bench/train_torch.py tiny "$BATCH" "$t" "$STEPS" $MODE)
		r=$(awk -v a="$c" -v b="$p" 'BEGIN { printf "%.2f", a / b }')
	else
		p="-"; r="(no torch)"
	fi
	printf '%-8s %10s %10s %8s\n' "$t" "$c" "$p" "$r"
done
