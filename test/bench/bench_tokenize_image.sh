#!/bin/bash
# Throughput of the C tokenizer and of JPEG decode + CLIP preprocessing,
# against the Python path open_clip uses (PIL + torchvision, and a
# SimpleTokenizer written the same way), run side by side, one thread each.
# Prints ratios C / Python of items per second of CPU time (process time, so
# other load on the machine matters less).
#
#   bash test/bench/bench_tokenize_image.sh [seconds per measurement, default 5]
#
# Needs ../shared/data (the CLIP merges, zero-shot prompts, ImageNet sample);
# the Python baseline needs python3-pil, python3-torchvision, python3-regex
# (it skips what is missing).  The baseline tokenizer leaves out ftfy (not
# packaged in Debian), which only makes the Python side faster.
set -euo pipefail
cd "$(dirname "$0")/../.."
secs=${1:-5}
data=${SPARSECLIP_SHARED_DATA:-../shared/data}
PY=/usr/bin/python3
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

if [ ! -f "$data/clip/bpe_simple_vocab_16e6.txt.gz" ]; then
	echo "SKIP: no shared data at $data"
	exit 0
fi
gzip -dc "$data/clip/bpe_simple_vocab_16e6.txt.gz" > "$work/merges.txt"
# ImageNet zero-shot prompts: 80 templates x 1000 classes, the text side of a classifier
$PY - "$data/clip/zeroshot_prompts.json" > "$work/texts.txt" <<'EOF'
import json, sys
d = json.load(open(sys.argv[1]))["imagenet"]
for c in d["classes"]:
    for t in d["templates"]:
        print(t.format(c).replace("\n", " "))
EOF
imgs=("$data"/imagenet-sample/*.JPEG)
printf '%s\n' "${imgs[@]:0:100}" > "$work/images.txt"

gcc -std=gnu11 -O2 -Isrc/core -o "$work/bench" test/bench/bench_tokenize_image.c \
	src/core/bpe.c src/core/text_clean.c src/core/image*.c src/core/errmsg.c -lturbojpeg -lpng16 -lwebp -lwebpdemux -lutf8proc -lm

cat > "$work/baseline.py" <<'EOF'
import html, json, sys, time

def bench(what, fn, items, secs):
    t0 = time.process_time(); n = 0
    while True:
        for it in items:
            fn(it); n += 1
        t = time.process_time() - t0
        if t >= secs:
            break
    print(what, n, "%.3f" % t, "%.1f" % (n / t))

mode, secs = sys.argv[1], float(sys.argv[2])
if mode == "tokenize":
    import regex
    merges_path, texts_path = sys.argv[3], sys.argv[4]

    bs = list(range(0x21, 0x7F)) + list(range(0xA1, 0xAD)) + list(range(0xAE, 0x100))
    cs = bs[:]; extra = 0
    for b in range(256):
        if b not in bs:
            bs.append(b); cs.append(256 + extra); extra += 1
    enc_byte = {b: chr(c) for b, c in zip(bs, cs)}
    lines = open(merges_path, encoding="utf-8").read().split("\n")[1:49408 - 512 - 2 + 1]
    merges = [tuple(l.split()) for l in lines]
    vocab = list(enc_byte.values()); vocab += [v + "</w>" for v in vocab]
    vocab += ["".join(m) for m in merges] + ["<start_of_text>", "<end_of_text>"]
    encoder = dict(zip(vocab, range(len(vocab))))
    ranks = dict(zip(merges, range(len(merges))))
    cache = {"<start_of_text>": "<start_of_text>", "<end_of_text>": "<end_of_text>"}
    pat = regex.compile(r"<start_of_text>|<end_of_text>|'s|'t|'re|'ve|'m|'ll|'d|[\p{L}]+|[\p{N}]|[^\s\p{L}\p{N}]+",
                        regex.IGNORECASE)
    ws = regex.compile(r"\s+")

    def bpe(token):
        if token in cache:
            return cache[token]
        word = tuple(token[:-1]) + (token[-1] + "</w>",)
        while len(word) > 1:
            pairs = set(zip(word, word[1:]))
            best = min(pairs, key=lambda p: ranks.get(p, float("inf")))
            if best not in ranks:
                break
            out, i = [], 0
            while i < len(word):
                if i < len(word) - 1 and word[i] == best[0] and word[i + 1] == best[1]:
                    out.append(best[0] + best[1]); i += 2
                else:
                    out.append(word[i]); i += 1
            word = tuple(out)
        cache[token] = " ".join(word)
        return cache[token]

    def tokenize(text):
        text = html.unescape(html.unescape(text)).strip()
        text = ws.sub(" ", text).strip().lower()
        ids = [encoder["<start_of_text>"]]
        for tok in pat.findall(text):
            tok = "".join(enc_byte[b] for b in tok.encode("utf-8"))
            ids.extend(encoder[t] for t in bpe(tok).split(" "))
        ids = ids[:76] + [encoder["<end_of_text>"]]
        return ids

    texts = open(texts_path, encoding="utf-8").read().split("\n")[:-1]
    bench("tokenize", tokenize, texts, secs)
else:
    import torch
    from PIL import Image
    from torchvision import transforms as T
    torch.set_num_threads(1)
    size = int(mode[5:])
    tf = T.Compose([T.Resize(size, interpolation=T.InterpolationMode.BICUBIC), T.CenterCrop(size),
                    lambda im: im.convert("RGB"), T.ToTensor(),
                    T.Normalize((0.48145466, 0.4578275, 0.40821073), (0.26862954, 0.26130258, 0.27577711))])
    import io
    blobs = [open(p, "rb").read() for p in open(sys.argv[3]).read().split()]
    bench(mode, lambda b: tf(Image.open(io.BytesIO(b))), blobs, secs)
EOF

printf '%-10s %12s %12s %8s\n' what "C items/s" "Py items/s" "C/Py"
run() {
	local what=$1 c py
	shift
	c=$("$work/bench" "$@" | awk '{print $4}')
	case $what in
	tokenize) py=$($PY "$work/baseline.py" tokenize "$secs" "$work/merges.txt" "$work/texts.txt" 2>/dev/null | awk '{print $4}') || py= ;;
	*) py=$($PY "$work/baseline.py" "$what" "$secs" "$work/images.txt" 2>/dev/null | awk '{print $4}') || py= ;;
	esac
	if [ -n "$py" ]; then
		printf '%-10s %12s %12s %8.2f\n' "$what" "$c" "$py" "$(awk -v a="$c" -v b="$py" 'BEGIN { print a / b }')"
	else
		printf '%-10s %12s %12s %8s\n' "$what" "$c" "-" "-"
	fi
}
run tokenize tokenize "$work/merges.txt" "$work/texts.txt" "$secs"
run image224 image 224 "$secs" $(cat "$work/images.txt")
run image64 image 64 "$secs" $(cat "$work/images.txt")
