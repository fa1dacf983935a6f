#!/bin/bash
# Builds the sparseclip training set from Debian and npm packages only:
# emoji in a dozen styles (Twemoji held out), icon sets, flags, game-icons,
# openclipart and Sweet Home 3D furniture images, captioned from emoji names
# and tags, icon and furniture names, openclipart metadata and WordNet;
# near-identical images left out.
#
# usage: training/data/build.sh [--out DIR] [--size 64] [--jobs N]
# Re-running skips finished work; a new --size re-renders every image.
# Outputs in DIR: train.tsv, val.tsv, val_classes.tsv, stats.txt, wordnet.txt,
# versions.txt, img/, alpha/ (and thumb/, cache/, work/ used while building).
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
	# further emoji styles (Twemoji, the held-out style, in no form)
	@iconify-json/emojione@1.2.3
	@iconify-json/emojione-v1@1.2.3
	@iconify-json/emojione-monotone@1.2.1
	@iconify-json/fxemoji@1.2.2
	@iconify-json/noto-v1@1.2.5
	@iconify-json/openmoji@1.2.29
	@iconify-json/fluent-emoji@1.2.7
	@iconify-json/fluent-emoji-high-contrast@1.2.6
	@iconify-json/streamline-emojis@1.2.4
	# colour and monochrome icon sets with descriptive names; flags
	@iconify-json/flat-color-icons@1.2.3
	@iconify-json/fluent-color@1.2.21
	@iconify-json/mdi@1.2.3
	@iconify-json/tabler@1.2.41
	@iconify-json/ph@1.2.2
	@iconify-json/material-symbols@1.2.98
	@iconify-json/healthicons@1.2.13
	@iconify-json/maki@1.2.5
	@iconify-json/wi@1.2.1
	@iconify-json/lucide@1.2.137
	@iconify-json/flag@1.2.12
	@iconify-json/circle-flags@1.2.11
)
deb_pkgs=(openclipart-svg openclipart-png wordnet-base librsvg2-bin imagemagick sweethome3d-furniture unzip)
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
	for p in openclipart-svg openclipart-png wordnet-base librsvg2-bin imagemagick sweethome3d-furniture unzip; do
		dpkg-query -W -f='deb\t${Package}\t${Version}\n' "$p"
	done
	echo "node	$(node --version)"
	echo "size	$size"
} > "$out/versions.txt"

# Sweet Home 3D furniture catalogs are zip files: their icons and names out.
sh3d=$out/cache/sweethome3d
for f in /usr/share/sweethome3d/furniture/*.sh3f; do
	[ -e "$f" ] || continue
	b=$(basename "$f" .sh3f)
	if [ ! -f "$sh3d/$b/.done" ] || [ "$f" -nt "$sh3d/$b/.done" ]; then
		rm -rf "$sh3d/$b"
		mkdir -p "$sh3d/$b"
		unzip -q -o "$f" '*.png' PluginFurnitureCatalog.properties -d "$sh3d/$b" && touch "$sh3d/$b/.done"
	fi
done

# ---------------------------------------------------------------- 2. plan
say "planning images and captions"
node "$here/plan.js" "$out"

# ---------------------------------------------------------------- 3. render
# Images of another size are useless: start the renders over.
if [ -f "$out/img/.size" ] && [ "$(cat "$out/img/.size")" != "$size" ]; then
	say "size changed to $size: removing old renders"
	rm -rf "$out/img" "$out/alpha" "$out/thumb"
fi
mkdir -p "$out/img" "$out/alpha" "$out/thumb"
echo "$size" > "$out/img/.size"
find "$out/img" "$out/alpha" "$out/thumb" -name '*.tmp.*' -delete

work=$out/work
rm -rf "$work/chunks"
mkdir -p "$work/chunks"
# An image is done when its RGB JPEG, alpha mask and thumbnail all exist
# (a set rendered before masks were kept renders again).
list_done() {
	(cd "$out" && {
		find img -name '*.jpg'
		find alpha -name '*.jpg' | sed 's|^alpha/|img/|'
		find thumb -name '*.gray' | sed 's|^thumb/|img/|; s|\.gray$|.jpg|'
	} | LC_ALL=C sort | uniq -c | awk '$1 == 3 { print $2 }')
}
list_done > "$work/done.txt"
# Images the plan no longer lists (older package versions or rules) go.
cut -f3 "$work/jobs.tsv" | LC_ALL=C sort > "$work/wanted.txt"
LC_ALL=C comm -23 "$work/done.txt" "$work/wanted.txt" > "$work/stale.txt"
if [ -s "$work/stale.txt" ]; then
	say "removing $(wc -l < "$work/stale.txt") images no longer planned"
	(cd "$out" && xargs rm -f < "$work/stale.txt" &&
		sed 's|^img/|alpha/|' "$work/stale.txt" | xargs rm -f &&
		sed 's|^img/|thumb/|; s|\.jpg$|.gray|' "$work/stale.txt" | xargs rm -f)
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

# ---------------------------------------------------------------- 4. dedup
say "looking for near-identical images"
node "$here/dedup.js" "$out"

# ---------------------------------------------------------------- 5. assemble
# Only images that exist on disk and are no near copy get captions; the
# held-out style goes to val. The third column is the image's group key
# (same key = the same thing drawn; none = an image of its own).
list_done > "$work/done.all"
cut -f1 "$work/dropped.tsv" | LC_ALL=C sort > "$work/dropped.txt"
LC_ALL=C comm -23 "$work/done.all" "$work/dropped.txt" > "$work/done.txt"
awk -F'\t' -v out="$out" '
	FILENAME == ARGV[1] { done[$0] = 1; next }
	FILENAME == ARGV[2] { group[$1] = $2; next }
	!($3 in done) { next }
	{ line = $3 "\t" $4 (($3 in group) ? "\t" group[$3] : "") }
	$1 == "val" { print line > (out "/val.tsv.tmp"); next }
	{ print line > (out "/train.tsv.tmp") }
' "$work/done.txt" "$work/groups.tsv" "$work/captions.tsv"
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
	printf 'near_duplicates_left_out\t%d\n' "$(wc -l < "$work/dropped.tsv")"
	awk -F'\t' '{ split($1, p, "/"); n[p[2] "\t" $2]++ } END { for (k in n) print "near_duplicates\t" k "\t" n[k] }' \
		"$work/dropped.tsv" | LC_ALL=C sort
	printf 'size\t%d\n' "$size"
} > "$out/stats.txt"
cat "$out/stats.txt" >&2
say "done in $(( $(date +%s) - start )) s: $out"
