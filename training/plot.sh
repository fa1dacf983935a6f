#!/bin/sh
# Training curves from a sparseclip-train CSV log, as one PNG (gnuplot):
# loss and validation loss, image/text L0, logit scale, learning rate.
#   sh training/plot.sh model.csv [out.png] [title]
set -eu
csv=$1
png=${2:-${csv%.csv}.png}
title=${3:-$(basename "$csv" .csv)}
command -v gnuplot >/dev/null || { echo "plot.sh: gnuplot not installed (Debian: gnuplot-nox)" >&2; exit 1; }
# the L0 target of --flops-target (column 23; 0 = none, absent in older logs), where set
target=
if awk -F, 'NR > 1 && $23 > 0 { f = 1; exit } END { exit !f }' "$csv"; then
	target=', "" using 1:($23 > 0 ? $23 : 1/0) with lines dt 2 lc rgb "black" title "L0 target"'
fi
gnuplot <<GP
set terminal pngcairo size 1200,800 font ",10" noenhanced
set output "$png"
set datafile separator ","
set datafile missing "nan"
set key autotitle columnhead
set multiplot layout 2,2 title "$title"
set xlabel "step"
set title "InfoNCE loss"
plot "$csv" using 1:4 with lines title "train (batch)", "" using 1:12 with linespoints pt 7 ps 0.6 title "validation"
set title "mean active dimensions (L0)"
plot "$csv" using 1:10 with lines title "image", "" using 1:11 with lines title "text"$target
set title "logit scale (exp)"
plot "$csv" using 1:6 with lines title "scale"
set title "learning rate and batch accuracy"
set y2tics
plot "$csv" using 1:7 with lines title "lr", "" using 1:5 axes x1y2 with lines title "batch accuracy (y2)"
unset multiplot
GP
echo "$png"
