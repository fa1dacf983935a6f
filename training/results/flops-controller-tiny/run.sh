#!/bin/bash
# The L0 controller of the FLOPS weight against fixed ramps, on the toy data of
# training/test.sh (48 drawn shapes, config small.json there: sparse_dim 128),
# 300 steps each, seconds in all.  Writes the CSVs and controller.png here.
#   bash training/results/flops-controller-tiny/run.sh   (from the repository root)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
train=$here/../../sparseclip-train
make -s -C "$here/../.." sparseclip-train
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cd "$tmp"
mkdir img
for colour in red green blue yellow black purple; do
	for shape in circle square; do
		for size in 10 14 18 22; do
			f="img/$colour-$shape-$size.jpg"
			if [ $shape = circle ]; then draw="circle 32,32 $((32 + size)),32"; else draw="rectangle $((32 - size)),$((32 - size)) $((32 + size)),$((32 + size))"; fi
			convert -size 64x64 xc:white -fill $colour -draw "$draw" -quality 90 "$f"
			printf '%s\ta %s %s\n%s\t%s %s shape\n' "$f" $colour $shape "$f" $shape $colour >> train.tsv
		done
	done
done
printf 'the quick brown fox jumps over the lazy dog\na circle is a round shape; a square has four sides\n' > wordnet.txt
cat > small.json <<'JSON'
{"image_size":32,"patch_size":8,"vision_width":32,"vision_layers":2,"vision_heads":2,"context_length":12,"vocab_size":560,"text_width":32,"text_layers":2,"text_heads":2,"embed_dim":16,"sparse_dim":128,"activation":"gelu","image_mean":[0.48145466,0.4578275,0.40821073],"image_std":[0.26862954,0.26130258,0.27577711]}
JSON
c=(--data train.tsv --config small.json --steps 300 --batch 16 --warmup 5 --lr 2e-3 --log-every 5 --flops-start 0.05)
run() { name=$1; shift; "$train" "${c[@]}" "$@" --out "$name.safetensors" > /dev/null; cp "$name.csv" "$here/"; }
run fixed-0.1 --flops-ramp 0.6 --flops 0.1
run fixed-5 --flops-ramp 0.6 --flops 5
run ctl-g0.5 --flops-ramp 0.6 --flops 0.1 --flops-target 0.3 --flops-gain 0.5
run ctl-g0.05 --flops-ramp 0.6 --flops 0.1 --flops-target 0.3 --flops-gain 0.05
run ctl-fast-g1 --flops-ramp 0.3 --flops 0.1 --flops-target 0.3 --flops-gain 1
cd "$here"
gnuplot <<'GP'
set terminal pngcairo size 1200,600 font ",10" noenhanced
set output "controller.png"
set datafile separator ","
set multiplot layout 1,2 title "FLOPS weight: L0 controller (target 0.3 x 128) against fixed ramps; toy data, 300 steps"
set xlabel "step"
set key below
set title "larger of image and text L0 (batch)"
mx(a, b) = a > b ? a : b
plot "fixed-0.1.csv" using 1:(mx($10,$11)) with lines title "fixed ramp to 0.1", \
	"fixed-5.csv" using 1:(mx($10,$11)) with lines title "fixed ramp to 5", \
	"ctl-g0.5.csv" using 1:(mx($10,$11)) with lines lw 2 title "controller, gain 0.5", \
	"ctl-g0.05.csv" using 1:(mx($10,$11)) with lines title "controller, gain 0.05", \
	"ctl-fast-g1.csv" using 1:(mx($10,$11)) with lines title "controller, gain 1, descent to 30 %", \
	"ctl-g0.5.csv" using 1:($23 > 0 ? $23 : 1/0) with lines dt 2 lc rgb "black" title "target (descent to 60 %)", \
	"ctl-fast-g1.csv" using 1:($23 > 0 ? $23 : 1/0) with lines dt 3 lc rgb "black" title "target (descent to 30 %)"
set title "FLOPS weight"
set logscale y
plot "fixed-0.1.csv" using 1:($18 > 0 ? $18 : 1/0) with lines title "fixed ramp to 0.1", \
	"fixed-5.csv" using 1:($18 > 0 ? $18 : 1/0) with lines title "fixed ramp to 5", \
	"ctl-g0.5.csv" using 1:($18 > 0 ? $18 : 1/0) with lines lw 2 title "controller, gain 0.5", \
	"ctl-g0.05.csv" using 1:($18 > 0 ? $18 : 1/0) with lines title "controller, gain 0.05", \
	"ctl-fast-g1.csv" using 1:($18 > 0 ? $18 : 1/0) with lines title "controller, gain 1, descent to 30 %"
unset multiplot
GP
echo "$here/controller.png"
