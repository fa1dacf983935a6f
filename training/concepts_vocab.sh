#!/bin/bash
# The vocabulary that sparseclip-concepts names dimensions from, as in the
# Sparse-CLIP paper: the first lemma of every WordNet 3.0 synset (nouns,
# verbs, adjectives, adverbs; multi-word lemmas give short phrases such as
# "ice cream") plus the common English words of Debian's wamerican list.
#
#   training/concepts_vocab.sh [OUT] [--captions TRAIN.tsv]
#                                        (default OUT training/data/out/concepts_vocab.txt)
#
# With --captions only the entries the model was trained on are kept: a
# word that occurs at least 3 times in the captions (column 2), a phrase
# that is a whole caption at least twice ("red apple").  Words the model
# never read get idiosyncratic text embeddings and win dimensions by
# accident ("hydrochlorothiazide"); on the default model this raised the
# naming quality of sparseclip-concepts from 3.9 % to 18.5 % of held-out
# images (doc/default-model.md).
#
# Installs wordnet-base and wamerican with apt-get when run as root and they
# are missing.  Cleaning: lower case; only letters, spaces, hyphens and
# apostrophes inside words; 2 to 30 characters; at most 3 words; no
# possessives; no capitalised wamerican entries (names of people and
# places: WordNet's own proper nouns stay); no function words; a regular
# plural (-s, -es) of a word already present is dropped unless WordNet
# lists it as a lemma itself ("glasses", "news"); no duplicates.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
out=$here/data/out/concepts_vocab.txt
captions=
while [ $# -gt 0 ]; do
	case $1 in
	--captions) captions=${2:?--captions needs a TSV file}; shift 2 ;;
	-*) echo "concepts_vocab.sh: unknown option $1" >&2; exit 2 ;;
	*) out=$1; shift ;;
	esac
done
[ -z "$captions" ] || [ -r "$captions" ] || { echo "concepts_vocab.sh: cannot read $captions" >&2; exit 1; }
wn=/usr/share/wordnet
dict=/usr/share/dict/american-english

missing=()
[ -r $wn/data.noun ] || missing+=(wordnet-base)
[ -r $dict ] || missing+=(wamerican)
if [ ${#missing[@]} -gt 0 ]; then
	if [ "$(id -u)" -ne 0 ]; then
		echo "concepts_vocab.sh: install ${missing[*]} (apt-get install ${missing[*]})" >&2
		exit 1
	fi
	export DEBIAN_FRONTEND=noninteractive
	apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null ||
		{ apt-get update -q >/dev/null && apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null; }
fi

mkdir -p "$(dirname "$out")"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
export LC_ALL=C

# every WordNet lemma (for the plural rule), and the first lemma of each synset
cat $wn/index.noun $wn/index.verb $wn/index.adj $wn/index.adv |
	awk '!/^  / { gsub(/_/, " ", $1); print tolower($1) }' | sort -u > "$tmp/lemmas"
cat $wn/data.noun $wn/data.verb $wn/data.adj $wn/data.adv |
	awk '!/^  / { w = $5; sub(/\(.*\)$/, "", w); gsub(/_/, " ", w); print tolower(w) }' > "$tmp/wordnet"
grep -v "'s$" $dict | grep -v '^[A-Z]' > "$tmp/dict" || true

stop="a an the of and or but if in on at to for from by with as is are was were be been being it its this that these those he she they we you i me him her them us my your his our their not no yes do does did so than then there here what which who whom whose when where why how all any some each every very can will just"

cat "$tmp/wordnet" "$tmp/dict" | awk -v stop="$stop" -v lemmas="$tmp/lemmas" '
	BEGIN {
		n = split(stop, s, " "); for (i = 1; i <= n; i++) isstop[s[i]] = 1
		while ((getline l < lemmas) > 0) lemma[l] = 1
	}
	{
		w = tolower($0)
		gsub(/^[ \t]+|[ \t]+$/, "", w); gsub(/[ \t]+/, " ", w)
		if (w !~ /^[a-z]([a-z'"'"' -]*[a-z])?$/) next
		if (length(w) < 2 || length(w) > 30) next
		if (split(w, parts, " ") > 3) next
		if (isstop[w] || (w in seen)) next
		seen[w] = 1; order[++k] = w
	}
	END {
		for (i = 1; i <= k; i++) {
			w = order[i]
			if (!(w in lemma)) {
				if (w ~ /es$/ && (substr(w, 1, length(w) - 2) in seen)) continue
				if (w ~ /s$/ && !(w ~ /ss$/) && (substr(w, 1, length(w) - 1) in seen)) continue
			}
			print w
		}
	}' > "$tmp/vocab"
if [ -n "$captions" ]; then
	# words (3+ letters, not stop words) counted over the captions, and whole
	# captions of 2 or 3 words
	cut -f2 "$captions" | awk -v stop="$stop" -v vocab="$tmp/vocab" '
		BEGIN { n = split(stop, s, " "); for (i = 1; i <= n; i++) isstop[s[i]] = 1 }
		{
			c = tolower($0)
			gsub(/^[ \t]+|[ \t]+$/, "", c)
			if (c ~ /^[a-z][a-z'"'"' -]*$/ && split(c, p, " ") >= 2 && split(c, p, " ") <= 3) phrase[c]++
			gsub(/[^a-z'"'"'-]+/, " ", c)
			n = split(c, t, " ")
			for (i = 1; i <= n; i++) {
				w = t[i]; sub(/^[^a-z]+/, "", w); sub(/[^a-z]+$/, "", w)
				if (length(w) >= 3 && !isstop[w]) word[w]++
			}
		}
		END {
			while ((getline v < vocab) > 0)
				if ((v ~ / / && phrase[v] >= 2) || (v !~ / / && word[v] >= 3)) print v
		}' > "$tmp/used"
	mv "$tmp/used" "$tmp/vocab"
fi
mv "$tmp/vocab" "$out"
echo "concepts_vocab.sh: $(wc -l < "$out") entries ($(grep -c ' ' "$out") phrases) in $out" >&2
