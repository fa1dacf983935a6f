#!/bin/bash
# Runs a list of named training configurations with the same data and steps,
# one after another, then evaluates each and writes one table and one picture.
#
# usage: training/ablate.sh [options] CONFIGS OUTDIR [TRAINER OPTIONS...]
#
# CONFIGS is a text file, one run per line: a name ([A-Za-z0-9._-]+) and the
# sparseclip-train options of that run, split on white space (no quoting);
# '#' starts a comment.  The TRAINER OPTIONS after OUTDIR are common to every
# run (--data, --val, --steps, --batch, --preset, --threads, ...) and come
# before the run's own, so a run's option wins over a common one.
#
# Each run lives in OUTDIR/NAME/: model.safetensors (written only when the
# run is finished), model.safetensors.state, model.csv, train.log (appended
# across resumes), options (the trainer options it was started with), eval.txt
# and eval.tsv.  A rerun skips finished runs and resumes interrupted ones
# from their state file (the trainer's own --resume); a run whose options
# differ from those it was started with is refused (delete its folder to
# start it over).  Training runs under nice, one run at a time unless --jobs.
# SIGINT/SIGTERM reach the trainers, which save their state and stop.
#
# Then each finished run is evaluated (sparseclip-eval --val, --classes,
# --judge, quick by default), and OUTDIR/ablation.md, OUTDIR/ablation.tsv and
# OUTDIR/curves.png (loss, validation loss, image and text L0, logit scale,
# pairs/s against step, all runs) are written.
#
# options:
#   --classes FILE      held-out style for zero-shot (default: val_classes.tsv
#                       beside the --val file, when it exists)
#   --judge NAME        the run whose model judges clarity (default: the first
#                       run with --dense among its options)
#   --judge-model FILE  a model file to judge clarity instead
#   --eval-opts "..."   sparseclip-eval options (default: "--limit 100
#                       --max-templates 8 --skip imagenet")
#   --stop-at N         train every run up to step N only (resumable later);
#                       unfinished runs are not evaluated
#   --jobs N            train N runs at once (default 1; give each run
#                       --threads so that N x threads fits the cores)
#   --no-eval           train only
#   --no-train          start and resume nothing: evaluate the finished runs
#                       and write the table and curves (safe beside a running
#                       ablate.sh of the same OUTDIR: it reads, never trains)
#   --only A,B,...      train only the named runs (the table still has every
#                       finished run): the most telling runs first, the rest
#                       in a later session
#   --results TSV       an earlier ablation.tsv: a run with no model here but a
#                       row there with the same options takes that row into
#                       the table (runs trained on a machine whose files are
#                       gone; their curves need OUTDIR/NAME/model.csv)
#   --dry-run           print each run's trainer command and stop
#   --nice N            niceness of training and evaluation (default 10)
#   --from STATE        branch every run from this trainer state (copied, never
#                       written): each run starts as --resume STATE with its
#                       options over the stored ones, so the runs differ only
#                       from that step on (a larger or smaller --steps re-spans
#                       the schedule's remaining part); a run's own
#                       "--from STATE" in CONFIGS overrides it (for example
#                       the dense run's branch point)
set -uo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
TRAIN=$here/sparseclip-train
EVAL=$here/sparseclip-eval
classes=
judge=
judge_model=
eval_opts="--limit 100 --max-templates 8 --skip imagenet"
stop_at=
dry=0
jobs=1
do_eval=1
do_train=1
niceness=10
from=
only=
results=

die() { echo "ablate.sh: $*" >&2; exit 2; }
while [ $# -gt 0 ]; do
	case $1 in
	--classes) classes=${2:?--classes needs a file}; shift 2 ;;
	--judge) judge=${2:?--judge needs a run name}; shift 2 ;;
	--judge-model) judge_model=${2:?--judge-model needs a file}; shift 2 ;;
	--eval-opts) eval_opts=${2?--eval-opts needs a value}; shift 2 ;;
	--stop-at) stop_at=${2:?--stop-at needs a step}; shift 2 ;;
	--jobs) jobs=${2:?--jobs needs a number}; shift 2 ;;
	--no-eval) do_eval=0; shift ;;
	--no-train) do_train=0; shift ;;
	--dry-run) dry=1; shift ;;
	--nice) niceness=${2:?--nice needs a number}; shift 2 ;;
	--from) from=${2:?--from needs a state file}; shift 2 ;;
	--only) only=${2:?--only needs run names}; shift 2 ;;
	--results) results=${2:?--results needs a table}; shift 2 ;;
	-h|--help) sed -n '2,/^set /p' "$0" | sed -e '$d' -e 's/^# \{0,1\}//'; exit 0 ;;
	--) shift; break ;;
	-*) die "unknown option $1 (try --help)" ;;
	*) break ;;
	esac
done
[ $# -ge 2 ] || die "usage: ablate.sh [options] CONFIGS OUTDIR [TRAINER OPTIONS...] (try --help)"
configs=$1 outdir=$2
shift 2
common=("$@")
[ -r "$configs" ] || die "cannot read $configs"
# a state is only branched from: --no-train needs none
[ -z "$from" ] || [ $do_train -eq 0 ] || [ -r "$from" ] || die "cannot read the state $from"
if [ -n "$results" ]; then
	[ -r "$results" ] || die "cannot read the table $results"
	[ "$(head -1 "$results" | cut -f1-3)" = "$(printf 'run\toptions\tsteps')" ] || die "$results is not an ablation.tsv"
fi
case $stop_at in ''|[0-9]*) ;; *) die "--stop-at wants a step number" ;; esac
case $niceness in ''|*[!0-9-]*) die "--nice wants a number" ;; esac
case $jobs in ''|0|*[!0-9]*) die "--jobs wants a positive number" ;; esac
make -s -C "$here" sparseclip-train sparseclip-eval || die "build failed"

# the validation file of the common options, for the evaluation
val=
for ((i = 0; i < ${#common[@]}; i++)); do
	[ "${common[$i]}" = --val ] && val=${common[$((i + 1))]:-}
done
if [ -z "$classes" ] && [ -n "$val" ] && [ -r "$(dirname "$val")/val_classes.tsv" ]; then
	classes=$(dirname "$val")/val_classes.tsv
fi

# read the configurations
names=() opts=()
lineno=0
while IFS= read -r line || [ -n "$line" ]; do
	lineno=$((lineno + 1))
	line=${line%%#*}
	read -r name rest <<< "$line" || true
	[ -n "${name:-}" ] || continue
	[[ $name =~ ^[A-Za-z0-9._-]+$ ]] || die "$configs:$lineno: bad run name \"$name\""
	for n in "${names[@]}"; do [ "$n" != "$name" ] || die "$configs:$lineno: run \"$name\" named twice"; done
	names+=("$name")
	opts+=("$(echo $rest)")	# white space squeezed, for the table
done < "$configs"
[ ${#names[@]} -gt 0 ] || die "$configs names no run"
# wanted NAME: whether --only lets NAME train
wanted() { [ -z "$only" ] || [[ ,$only, == *,$1,* ]]; }
if [ -n "$only" ]; then
	IFS=, read -ra want <<< "$only"
	for w in "${want[@]}"; do
		[[ " ${names[*]} " == *" $w "* ]] || die "--only: $configs names no run \"$w\""
	done
fi
# the script owns where each run writes and when it stops
for o in "${common[@]}" ${opts[@]+${opts[@]}}; do
	case $o in --out|--log|--resume|--stop-at) die "$o is set by ablate.sh, not in the options" ;; esac
done

# own_options OPTS: the run's trainer options in own[], its branch point in
# run_from (its own --from STATE, which is ablate.sh's, or the global one)
own_options() {
	local words i
	read -ra words <<< "$1"
	run_from=$from own=()
	for ((i = 0; i < ${#words[@]}; i++)); do
		if [ "${words[$i]}" = --from ]; then
			run_from=${words[$((i + 1))]:-}
			[ $do_train -eq 0 ] || [ -r "$run_from" ] || die "cannot read the state $run_from"
			i=$((i + 1))
		else
			own+=("${words[$i]}")
		fi
	done
}

if [ $dry -eq 1 ]; then
	for ((r = 0; r < ${#names[@]}; r++)); do
		wanted "${names[$r]}" || continue
		own_options "${opts[$r]}"
		echo "${names[$r]}: sparseclip-train --out $outdir/${names[$r]}/model.safetensors ${common[*]} ${own[*]}${run_from:+ --resume $run_from}"
	done
	exit 0
fi

mkdir -p "$outdir" || die "cannot create $outdir"

# training: at most $jobs runs at once (default 1: one after another)
declare -A running=()	# pid -> run name
stop_all() {
	local p
	for p in "${!running[@]}"; do kill -TERM "$p" 2> /dev/null; done
	for p in "${!running[@]}"; do wait "$p" 2> /dev/null; done
	echo "ablate.sh: interrupted; the runs saved their state: rerun to resume" >&2
	exit 130
}
trap stop_all INT TERM
failed=()
reap() {	# wait for one run to end and report it
	local p rc name
	wait -n -p p "${!running[@]}"
	rc=$?
	name=${running[$p]}
	unset "running[$p]"
	if [ $rc -ne 0 ]; then
		echo "ablate.sh: $name: sparseclip-train failed (exit $rc); see $outdir/$name/train.log" >&2
		tail -3 "$outdir/$name/train.log" >&2
		failed+=("$name")
	else
		echo "== $name: $(tail -1 "$outdir/$name/train.log")"
	fi
}

for ((r = 0; r < ${#names[@]}; r++)); do
	name=${names[$r]}
	dir=$outdir/$name
	own_options "${opts[$r]}"
	cmd=("${common[@]}" ${own[@]+"${own[@]}"})
	wanted "$name" || continue
	mkdir -p "$dir"
	if [ -s "$dir/options" ] && [ "$(cat "$dir/options")" != "${cmd[*]}" ]; then
		echo "ablate.sh: $name: options differ from those it was started with (in $dir/options); delete $dir to start it over" >&2
		failed+=("$name")
		continue
	fi
	if [ -s "$dir/model.safetensors" ]; then
		echo "== $name: finished, skipped"
		continue
	fi
	[ $do_train -eq 1 ] || continue
	while [ ${#running[@]} -ge "$jobs" ]; do reap; done
	printf '%s\n' "${cmd[*]}" > "$dir/options"
	resume=()
	if [ -s "$dir/model.safetensors.state" ]; then
		resume=(--resume "$dir/model.safetensors.state")
		echo "== $name: resuming from $dir/model.safetensors.state ($(date -u +%H:%M:%S) UTC)"
	elif [ -n "$run_from" ]; then
		resume=(--resume "$run_from")
		echo "== $name: branching from $run_from ($(date -u +%H:%M:%S) UTC)"
	else
		echo "== $name: training ($(date -u +%H:%M:%S) UTC)"
	fi
	stop=()
	[ -n "$stop_at" ] && stop=(--stop-at "$stop_at")
	echo "# $(date -u '+%F %T') UTC: sparseclip-train ${cmd[*]} ${resume[*]} ${stop[*]}" >> "$dir/train.log"
	nice -n "$niceness" "$TRAIN" --out "$dir/model.safetensors" "${cmd[@]}" "${resume[@]}" "${stop[@]}" \
		>> "$dir/train.log" 2>&1 &
	running[$!]=$name
done
while [ ${#running[@]} -gt 0 ]; do reap; done

# a value of an eval TSV by key, "-" when absent or not a number
get() { awk -F'\t' -v k="$2" '$1 == k && $2 != "nan" { v = $2 } END { print (v == "" ? "-" : v) }' "$1" 2>/dev/null || echo -; }
# a column of a training CSV by header name, for one row: "last" or "mean" (of rows after the first)
csvcol() {
	awk -F, -v c="$2" -v how="$3" '
		NR == 1 { for (i = 1; i <= NF; i++) if ($i == c) k = i; next }
		k && $k != "nan" && $k != "" { last = $k; if (NR > 2) { s += $k; n++ } }
		END { if (how == "mean") print (n ? s / n : "-"); else print (last == "" ? "-" : last) }' "$1" 2>/dev/null || echo -
}

if [ $do_eval -eq 1 ]; then
	if [ -z "$judge_model" ]; then
		if [ -z "$judge" ]; then
			for ((r = 0; r < ${#names[@]}; r++)); do
				if [[ " ${opts[$r]} " == *" --dense "* ]]; then judge=${names[$r]}; break; fi
			done
		fi
		[ -n "$judge" ] && judge_model=$outdir/$judge/model.safetensors
	fi
	jopt=()
	if [ -n "$judge_model" ] && [ -s "$judge_model" ]; then
		jopt=(--judge "$judge_model")
	else
		echo "ablate.sh: no dense judge model${judge_model:+ ($judge_model not there)}: clarity is skipped" >&2
	fi
	eopts=()
	read -ra eopts <<< "$eval_opts"
	[ -n "$val" ] && eopts+=(--val "$val")
	[ -n "$classes" ] && eopts+=(--classes "$classes")
	eopts+=("${jopt[@]}")
	for name in "${names[@]}"; do
		dir=$outdir/$name
		[ -s "$dir/model.safetensors" ] || continue
		if [ -s "$dir/eval.tsv" ] && [ "$dir/eval.tsv" -nt "$dir/model.safetensors" ] &&
		   [ "$(cat "$dir/eval.opts" 2>/dev/null)" = "${eopts[*]}" ]; then
			continue
		fi
		echo "== $name: evaluating"
		if nice -n "$niceness" "$EVAL" "$dir/model.safetensors" "${eopts[@]}" --tsv "$dir/eval.tsv.tmp" \
			> "$dir/eval.txt" 2> "$dir/eval.err"; then
			mv "$dir/eval.tsv.tmp" "$dir/eval.tsv"
			printf '%s\n' "${eopts[*]}" > "$dir/eval.opts"
		else
			echo "ablate.sh: $name: sparseclip-eval failed; see $dir/eval.err" >&2
			failed+=("$name")
		fi
	done

	# the table: Markdown and TSV
	md=$outdir/ablation.md tsv=$outdir/ablation.tsv
	{
		echo "# Ablation: $(basename "$outdir")"
		echo
		echo "Common trainer options: \`${common[*]}\`; evaluation: \`sparseclip-eval ${eopts[*]}\`."
		echo "L0 and never-active dimensions over the validation embeddings; clarity under the judge's image tower"
		echo "(random groups of the same sizes in brackets); logit scale at the end; cosine of validation pairs, a caption"
		echo "and its own image / any other, and the logit gap (scale x their difference); pairs/s the mean of the logged rates."
		echo
		echo "| run | options | steps | held-out top-1 | R@10 t→i | R@10 i→t | image L0 | image % | text L0 | text % | never active | clarity (random) | multimodal % | CIFAR-10 | F-MNIST | logit scale | cos matched / other | logit gap | pairs/s |"
		echo "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"
	} > "$md"
	printf 'run\toptions\tsteps\theldout_top1\tt2i_r10\ti2t_r10\timage_l0\timage_l0_pct\ttext_l0\ttext_l0_pct\tdead\tdead_pct\tclarity\tclarity_baseline\tmultimodal_pct\tcifar10_top1\tfashion_top1\tlogit_scale\tcos_matched\tcos_other\tlogit_gap\tpairs_per_s\n' > "$tsv"
	for ((r = 0; r < ${#names[@]}; r++)); do
		name=${names[$r]} dir=$outdir/${names[$r]} e=$outdir/${names[$r]}/eval.tsv
		shown='-'	# the run's own options, as code
		[ -n "${opts[$r]}" ] && shown="\`${opts[$r]}\`"
		steps=$(csvcol "$dir/model.csv" step last)
		pps=$(csvcol "$dir/model.csv" pairs_per_s mean)
		[ "$pps" = - ] || pps=$(printf '%.1f' "$pps")
		v=() from_results=0
		if [ -s "$dir/model.safetensors" ] && [ -s "$e" ]; then
			for k in heldout.top1 val.t2i_r10 val.i2t_r10 sparsity.image_l0 sparsity.image_l0_pct sparsity.text_l0 \
				sparsity.text_l0_pct sparsity.dead sparsity.dead_pct clarity.mean clarity.baseline \
				modality.multimodal_pct cifar10.top1 fashion_mnist.top1 model.logit_scale val.cos_matched \
				val.cos_other val.logit_gap; do
				v+=("$(get "$e" $k)")
			done
		elif [ -n "$results" ] && [ ! -e "$dir/model.safetensors" ]; then
			# the earlier table's row, when its options are this run's and it has numbers
			row=$(awk -F'\t' -v n="$name" -v o="${opts[$r]}" '$1 == n && $2 == o && NF == 22 && $4 ~ /^-?[0-9]/' "$results" | tail -1)
			if [ -n "$row" ]; then
				mapfile -t cols < <(printf '%s\n' "$row" | tr '\t' '\n')	# empty fields kept
				steps=${cols[2]} pps=${cols[21]}
				v=("${cols[@]:3:18}")
				from_results=1
			fi
		fi
		if [ ${#v[@]} -eq 18 ]; then
			f() { [ "$1" = - ] && echo - || printf "$2" "$1"; }
			[ $from_results -eq 1 ] && shown+=" (earlier table)"
			printf '| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s (%s %%) | %s (%s) | %s | %s | %s | %s | %s / %s | %s | %s |\n' \
				"$name" "$shown" "$steps" "$(f "${v[0]}" %.2f)" "$(f "${v[1]}" %.2f)" "$(f "${v[2]}" %.2f)" \
				"$(f "${v[3]}" %.1f)" "$(f "${v[4]}" %.2f)" "$(f "${v[5]}" %.1f)" "$(f "${v[6]}" %.2f)" \
				"${v[7]}" "$(f "${v[8]}" %.1f)" "$(f "${v[9]}" %.3f)" "$(f "${v[10]}" %.3f)" "$(f "${v[11]}" %.1f)" \
				"$(f "${v[12]}" %.2f)" "$(f "${v[13]}" %.2f)" "$(f "${v[14]}" %.2f)" "$(f "${v[15]}" %.3f)" \
				"$(f "${v[16]}" %.3f)" "$(f "${v[17]}" %.2f)" "$pps" >> "$md"
			printf '%s\t%s\t%s' "$name" "${opts[$r]}" "$steps" >> "$tsv"
			printf '\t%s' "${v[@]}" >> "$tsv"
			printf '\t%s\n' "$pps" >> "$tsv"
		else
			state=unfinished
			for n in "${failed[@]}"; do [ "$n" != "$name" ] || state=failed; done
			printf '| %s | %s | %s | %s | | | | | | | | | | | | | | | %s |\n' "$name" "$shown" "$steps" "$state" "$pps" >> "$md"
			printf '%s\t%s\t%s\t%s\n' "$name" "${opts[$r]}" "$steps" "$state" >> "$tsv"
		fi
	done
	echo "table: $md, $tsv"
fi

# the curves of all runs: per run, the columns by name (the log may gain columns)
if ! command -v gnuplot > /dev/null && [ "$(id -u)" -eq 0 ]; then
	echo "ablate.sh: installing gnuplot-nox" >&2
	DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends gnuplot-nox > /dev/null 2>&1 ||
		{ apt-get update -q > /dev/null 2>&1 &&
		  DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends gnuplot-nox > /dev/null 2>&1; }
fi
if command -v gnuplot > /dev/null; then
	plots=(loss val_loss image_l0 text_l0 logit_scale pairs_per_s)
	titles=("training loss (batch, running mean of 5 rows)" "validation loss" "image L0 (batch mean, log scale)"
		"text L0 (batch mean, log scale)" "logit scale (exp)" "pairs per second")
	have=0
	for name in "${names[@]}"; do
		csv=$outdir/$name/model.csv
		[ -s "$csv" ] || continue
		have=1
		for c in "${plots[@]}"; do
			awk -F, -v c="$c" -v smooth=$([ "$c" = loss ] && echo 5 || echo 1) '
				NR == 1 { for (i = 1; i <= NF; i++) { if ($i == c) k = i; if ($i == "step") s = i } next }
				k && s && $k != "nan" && $k != "" {
					h[n % smooth] = $k; n++; m = n < smooth ? n : smooth; t = 0
					for (j = 0; j < m; j++) t += h[j]
					print $s, t / m
				}' "$csv" > "$outdir/$name/curve.$c.dat"
		done
	done
	if [ $have -eq 1 ]; then
		gp=$outdir/curves.gp
		{
			echo "set terminal pngcairo size 1500,$((${#names[@]} > 8 ? 1200 : 900)) font ',10' noenhanced"
			echo "set output '$outdir/curves.png'"
			echo "set multiplot layout 2,3 title 'ablation: $(basename "$outdir")'"
			echo "set xlabel 'step'"
			echo "set key top right font ',8'"
			for ((p = 0; p < ${#plots[@]}; p++)); do
				c=${plots[$p]}
				echo "set title '${titles[$p]}'"
				[ "$c" = image_l0 ] || [ "$c" = text_l0 ] && echo "set logscale y" || echo "unset logscale y"
				line="plot"
				sep=" "
				for ((r = 0; r < ${#names[@]}; r++)); do
					d=$outdir/${names[$r]}/curve.$c.dat
					[ -s "$d" ] || continue
					# eight colours, then the same colours dashed, so that a long table stays legible
					lc="lc $((r % 8 + 1)) dt $((r / 8 + 1))"
					style="lines lw 1.5 $lc"
					[ "$c" = val_loss ] && style="linespoints pt 7 ps 0.5 $lc"
					line+="$sep'$d' using 1:2 with $style title '${names[$r]}'"
					sep=", "
				done
				# (a log scale cannot show the placeholder's [0:1])
				[ "$line" = plot ] && line="unset logscale y; set label 1 'no data' at graph 0.45,0.5; plot [0:1] [0:1] 2 notitle; unset label 1"
				echo "$line"
			done
			echo "unset multiplot"
		} > "$gp"
		if gnuplot "$gp" 2> "$outdir/curves.err"; then
			echo "picture: $outdir/curves.png"
		else
			echo "ablate.sh: gnuplot failed; see $outdir/curves.err" >&2
		fi
	fi
else
	echo "ablate.sh: gnuplot not installed (Debian gnuplot-nox): no picture" >&2
fi

if [ ${#failed[@]} -gt 0 ]; then
	echo "ablate.sh: failed: ${failed[*]}" >&2
	exit 1
fi
exit 0
