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
# With pd=P (patch dropout P, FLIP) each side also runs with patch
# dropout, and the table adds C and torch with it, their ratio, and the
# gain of patch dropout in C (pairs/s with it / without), side by side.
#
#   bash test/bench/train.sh [STEPS] [BATCH] [dense] [pd=P]
# Run from the repository root.  PyTorch is optional (/usr/bin/python3).
set -euo pipefail
STEPS=${1:-3}
BATCH=${2:-128}
MODE=
PD=
for a in "${@:3}"; do
	case $a in
	dense) MODE=dense ;;
	pd=*) PD=$a ;;
	*) echo "train.sh: unknown mode $a" >&2; exit 2 ;;
	esac
done
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
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else printf "-" }'; }
cside() { OPENBLAS_NUM_THREADS=$1 "$bin/train_step" tiny "$BATCH" "$1" "$STEPS" $MODE ${2:-}; }
tside() {
	if [ $have_torch = 1 ]; then
		OPENBLAS_CORETYPE=$core OMP_WAIT_POLICY=passive OMP_NUM_THREADS=$1 /usr/bin/python3 test/bench/train_torch.py tiny "$BATCH" "$1" "$STEPS" $MODE ${2:-}
	else
		echo 0
	fi
}
if [ -z "$PD" ]; then
	printf '%-8s %10s %10s %8s\n' threads C torch ratio
else
	printf '%-8s %10s %10s %8s %10s %10s %8s %8s\n' threads C torch ratio "C $PD" "torch $PD" ratio "C gain"
fi
for t in 1 2; do
	c=$(cside $t)
	p=$(tside $t)
	if [ -z "$PD" ]; then
		printf '%-8s %10s %10s %8s\n' "$t" "$c" "$p" "$(ratio "$c" "$p")"
	else
		cd_=$(cside $t "$PD")
		pd_=$(tside $t "$PD")
		printf '%-8s %10s %10s %8s %10s %10s %8s %8s\n' "$t" "$c" "$p" "$(ratio "$c" "$p")" \
			"$cd_" "$pd_" "$(ratio "$cd_" "$pd_")" "$(ratio "$cd_" "$c")"
	fi
done
[ $have_torch = 1 ] || echo "(no PyTorch: /usr/bin/python3 cannot import torch)"
printf 'load average after: %s\n' "$(cut -d' ' -f1-3 /proc/loadavg)"
