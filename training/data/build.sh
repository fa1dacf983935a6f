#!/bin/bash
# Builds the sparseclip training set from Debian and npm packages only:
# emoji (Google Noto, Twemoji, Fluent), game-icons and openclipart images,
# captioned from emoji names and tags, openclipart metadata and WordNet.
#
# usage: training/data/build.sh [--out DIR] [--size 64] [--jobs N]
# Re-running skips finished work; a new --size re-renders every image.
# Outputs in DIR: train.tsv, val.tsv, val_classes.tsv, stats.txt,
# wordnet.txt, versions.txt, img/ (and cache/, work/ used while building).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
out=$here/out
size=64
jobs=$(nproc 2>/dev/null || echo 2)

while [ $# -gt 0 ]; do
	case $1 in
	--out) out=${2:?--out needs a directory}; shift 2 ;;
	--size) size=${2:?--size needs a number}; shift 2 ;;
	--jobs) jobs=${2:?--jobs needs a number}; shift 2 ;;
	-h|--help) sed -n '2,9p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
	*) echo "build.sh: unknown argument: $1 (try --help)" >&2; exit 2 ;;
	esac
done
case $size in ''|*[!0-9]*) echo "build.sh: --size must be a positive integer" >&2; exit 2 ;; esac
case $jobs in ''|*[!0-9]*) echo "build.sh: --jobs must be a positive integer" >&2; exit 2 ;; esac
if [ "$size" -lt 8 ] || [ "$size" -gt 1024 ]; then
	echo "build.sh: --size must be between 8 and 1024" >&2; exit 2
fi
[ "$jobs" -ge 1 ] || jobs=1

mkdir -p "$out"
out=$(cd "$out" && pwd)
start=$(date +%s)
say() { echo "build.sh: $*" >&2; }

# The shared evaluation images must never become training data.
case $out/ in */shared/data/*) echo "build.sh: refusing to write into shared/data" >&2; exit 2 ;; esac

# ---------------------------------------------------------------- 1. packages
# Pinned npm versions: the same versions give the same data set.
npm_pkgs=(
	emoji-datasource-google@16.0.0
	emoji-datasource-twitter@16.0.0
	emojibase-data@17.0.0
	@iconify-json/noto@1.2.9
	@iconify-json/fluent-emoji-flat@1.2.6
	@iconify-json/game-icons@1.2.4
)
deb_pkgs=(openclipart-svg openclipart-png wordnet-base librsvg2-bin imagemagick)
command -v node >/dev/null || deb_pkgs+=(nodejs)
command -v npm >/dev/null || deb_pkgs+=(npm)

missing=()
for p in "${deb_pkgs[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
	say "installing Debian packages: ${missing[*]}"
	if [ "$(id -u)" != 0 ]; then
		echo "build.sh: need root to run: apt-get install ${missing[*]}" >&2; exit 1
	fi
	DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${missing[@]}" >&2 ||
		{ apt-get update >&2 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${missing[@]}" >&2; }
fi

npm_dir=$out/cache/npm
mkdir -p "$npm_dir"
npm_ok=1
for spec in "${npm_pkgs[@]}"; do
	name=${spec%@*} version=${spec##*@}
	have=$(node -e 'try{process.stdout.write(require(process.argv[1]).version)}catch(e){}' \
		"$npm_dir/node_modules/$name/package.json")
	[ "$have" = "$version" ] || npm_ok=0
done
if [ $npm_ok = 0 ]; then
	say "installing npm packages into $npm_dir"
	printf '{ "name": "sparseclip-training-data", "private": true }\n' > "$npm_dir/package.json"
	(cd "$npm_dir" && npm install --save-exact --ignore-scripts --no-audit --no-fund \
		--loglevel=error "${npm_pkgs[@]}" >&2)
fi

{
	echo "# package versions this data set was built from"
	for spec in "${npm_pkgs[@]}"; do
		name=${spec%@*}
		node -e 'const p=require(process.argv[1]); console.log(`npm\t${p.name}\t${p.version}\t${p.license}`)' \
			"$npm_dir/node_modules/$name/package.json"
	done
	for p in openclipart-svg openclipart-png wordnet-base librsvg2-bin imagemagick; do
		dpkg-query -W -f='deb\t${Package}\t${Version}\n' "$p"
	done
	echo "node	$(node --version)"
	echo "size	$size"
} > "$out/versions.txt"

# ---------------------------------------------------------------- 2. plan
say "planning images and captions"
node "$here/plan.js" "$out"

# ---------------------------------------------------------------- 3. render
# Images of another size are useless: start the renders over.
if [ -f "$out/img/.size" ] && [ "$(cat "$out/img/.size")" != "$size" ]; then
	say "size changed to $size: removing old renders"
	rm -rf "$out/img"
fi
mkdir -p "$out/img"
echo "$size" > "$out/img/.size"
find "$out/img" -name '*.tmp.*' -delete

work=$out/work
rm -rf "$work/chunks"
mkdir -p "$work/chunks"
(cd "$out" && find img -name '*.jpg' | LC_ALL=C sort) > "$work/done.txt"
# Images the plan no longer lists (older package versions or rules) go.
cut -f3 "$work/jobs.tsv" | LC_ALL=C sort > "$work/wanted.txt"
LC_ALL=C comm -23 "$work/done.txt" "$work/wanted.txt" > "$work/stale.txt"
if [ -s "$work/stale.txt" ]; then
	say "removing $(wc -l < "$work/stale.txt") images no longer planned"
	(cd "$out" && xargs rm -f < "$work/stale.txt")
	LC_ALL=C comm -12 "$work/done.txt" "$work/wanted.txt" > "$work/done.tmp" && mv -f "$work/done.tmp" "$work/done.txt"
fi
awk -F'\t' 'FILENAME == ARGV[1] { done[$0] = 1; next } !($3 in done)' "$work/done.txt" "$work/jobs.tsv" \
	> "$work/pending.tsv"
total=$(wc -l < "$work/jobs.tsv")
pending=$(wc -l < "$work/pending.tsv")
say "$total images, $((total - pending)) already rendered, $pending to render on $jobs cores"
if [ "$pending" -gt 0 ]; then
	split -l 200 -d -a 4 "$work/pending.tsv" "$work/chunks/c"
	chunks=("$work/chunks"/c[0-9][0-9][0-9][0-9])
	nchunks=${#chunks[@]}
	render_start=$(date +%s)
	# Each finished chunk prints a line, counted here as progress.
	printf '%s\0' "${chunks[@]}" | xargs -0 -P "$jobs" -I{} sh -c '"$1" "$2" "$3" "$4" && echo x' _ \
		"$here/render.sh" "$size" "$out" {} |
		{ i=0; while read -r _; do i=$((i + 1)); say "rendered $i/$nchunks chunks"; done; }
	say "rendering took $(( $(date +%s) - render_start )) s"
fi
cat "$work/chunks"/*.failed 2>/dev/null | LC_ALL=C sort -u > "$work/failed.txt" || true
[ -s "$work/failed.txt" ] && say "$(wc -l < "$work/failed.txt") images failed to render (see $work/failed.txt)"

# ---------------------------------------------------------------- 4. assemble
# Only images that exist on disk get captions; the held-out style goes to val.
(cd "$out" && find img -name '*.jpg' | LC_ALL=C sort) > "$work/done.txt"
awk -F'\t' -v out="$out" '
	FILENAME == ARGV[1] { done[$0] = 1; next }
	!($3 in done) { next }
	$1 == "val" { print $3 "\t" $4 > (out "/val.tsv.tmp"); next }
	{ print $3 "\t" $4 > (out "/train.tsv.tmp") }
' "$work/done.txt" "$work/captions.tsv"
awk -F'\t' 'FILENAME == ARGV[1] { done[$0] = 1; next } ($1 in done)' "$work/done.txt" "$work/classes.tsv" \
	> "$out/val_classes.tsv.tmp"
mv -f "$out/train.tsv.tmp" "$out/train.tsv"
mv -f "$out/val.tsv.tmp" "$out/val.tsv"
mv -f "$out/val_classes.tsv.tmp" "$out/val_classes.tsv"

{
	echo "# source	split	images	pairs"
	awk -F'\t' 'FILENAME == ARGV[1] { done[$0] = 1; next }
		($3 in done) { k = $2 "\t" $1; pairs[k]++; if (!(($3) in seen)) { seen[$3] = 1; imgs[k]++ } }
		END { for (k in pairs) print k "\t" imgs[k] "\t" pairs[k] }' \
		"$work/done.txt" "$work/captions.tsv" | LC_ALL=C sort
	printf 'total\ttrain\t%d\t%d\n' "$(cut -f1 "$out/train.tsv" | sort -u | wc -l)" "$(wc -l < "$out/train.tsv")"
	printf 'total\tval\t%d\t%d\n' "$(cut -f1 "$out/val.tsv" | sort -u | wc -l)" "$(wc -l < "$out/val.tsv")"
	printf 'val_classes\t%d\n' "$(wc -l < "$out/val_classes.tsv")"
	printf 'wordnet_glosses\t%d\n' "$(wc -l < "$out/wordnet.txt")"
	printf 'failed_renders\t%d\n' "$(wc -l < "$work/failed.txt")"
	printf 'size\t%d\n' "$size"
} > "$out/stats.txt"
cat "$out/stats.txt" >&2
say "done in $(( $(date +%s) - start )) s: $out"
