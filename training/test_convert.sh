#!/bin/bash
# Tests of sparseclip-convert end to end (the exact rounding is tested in
# test/unit/test_convert.c): models with BPE merges and concept names
# converted to F16 and BF16 and back keep every metadata value byte for
# byte and encode texts and images like the F32 model (compare_models:
# cosine > 0.99); --meta sets the descriptive keys; OUT may be IN; bad
# options and protected keys refused, leaving no file.  Seconds.
#   bash training/test_convert.sh        (from anywhere)
set -euo pipefail
cd "$(dirname "$0")"
make -s sparseclip-convert
root=$(cd .. && pwd)
make -s -C "$root" test/tools/bin/make_model test/tools/bin/compare_models >/dev/null
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
pass=0 fail=0
check() { if eval "$2"; then pass=$((pass + 1)); else fail=$((fail + 1)); echo "FAIL: $1"; fi; }
compare="$root/test/tools/bin/compare_models"
fx="$root/test/fixtures"
images=(--image "$fx/encode/square.jpg" --image "$fx/encode/wide.jpg" --image "$fx/encode/rgba.png")

# a random sparse model with the tokenizer of the encode fixture, and concept names
cfg='{"image_size":32,"patch_size":8,"vision_width":64,"vision_layers":2,"vision_heads":2,"context_length":16,"vocab_size":574,"text_width":64,"text_layers":2,"text_heads":2,"embed_dim":32,"sparse_dim":256,"activation":"gelu","image_mean":[0.48145466,0.4578275,0.40821073],"image_std":[0.26862954,0.26130258,0.27577711]}'
"$root/test/tools/bin/make_model" "$cfg" "$fx/encode/model.safetensors" "$tmp/m.safetensors" 5

for src in "$tmp/m.safetensors" "$fx/concepts/named.safetensors" "$fx/encode/model.safetensors"; do
	name=$(basename "$src" .safetensors)
	./sparseclip-convert "$src" "$tmp/$name.f16.safetensors" --dtype f16 > "$tmp/$name.f16.log"
	check "$name: F16 written, sizes printed" 'grep -q "bytes (.* MB), [0-9.]*% of the input" "$tmp/$name.f16.log"'
	in_size=$(stat -c %s "$src"); out_size=$(stat -c %s "$tmp/$name.f16.safetensors")
	check "$name: F16 file is at most 60 % of F32 ($out_size of $in_size bytes)" '[ $((out_size * 100)) -le $((in_size * 60)) ]'
	"$compare" "$src" "$tmp/$name.f16.safetensors" "${images[@]}" > "$tmp/$name.cmp" || true
	sed "s/^/   $name F16: /" "$tmp/$name.cmp"
	check "$name: F16 keeps every metadata value, weights within F16 rounding, cosine > 0.99" \
		'tail -1 "$tmp/$name.cmp" | grep -qx OK'
	./sparseclip-convert "$src" "$tmp/$name.bf16.safetensors" --dtype bf16 > /dev/null
	"$compare" "$src" "$tmp/$name.bf16.safetensors" "${images[@]}" > "$tmp/$name.bcmp" || true
	check "$name: BF16 likewise ($(grep -o 'cosine A/B min [0-9.]*' "$tmp/$name.bcmp"))" 'tail -1 "$tmp/$name.bcmp" | grep -qx OK'
	./sparseclip-convert "$tmp/$name.f16.safetensors" "$tmp/$name.back.safetensors" --dtype f32 > /dev/null
	"$compare" "$src" "$tmp/$name.back.safetensors" --rounding f16 > "$tmp/$name.back.cmp" || true
	check "$name: F16 back to F32 stays within F16 rounding of the original" 'tail -1 "$tmp/$name.back.cmp" | grep -qx OK'
	"$compare" "$tmp/$name.f16.safetensors" "$tmp/$name.back.safetensors" --min-cosine 0.999999 > "$tmp/$name.exact.cmp" || true
	check "$name: F16 -> F32 is exact (same embeddings)" 'grep -q "max abs difference 0," "$tmp/$name.exact.cmp" && tail -1 "$tmp/$name.exact.cmp" | grep -qx OK'
done
check "concept names survive: the named fixture's F16 has its sparseclip.concepts" \
	'grep -aq "\"sparseclip.concepts\"" "$tmp/named.f16.safetensors"'

# a changed weight is noticed by the comparison (the check can fail)
./sparseclip-convert "$tmp/m.safetensors" "$tmp/other.safetensors" --dtype f16 > /dev/null
"$root/test/tools/bin/make_model" "$cfg" "$fx/encode/model.safetensors" "$tmp/m6.safetensors" 6
if "$compare" "$tmp/m.safetensors" "$tmp/m6.safetensors" > "$tmp/diff.cmp"; then r=0; else r=1; fi
check "another model is reported as different" '[ $r -eq 1 ] && tail -1 "$tmp/diff.cmp" | grep -qx DIFFERENT'

# --meta: descriptive keys set, the rest kept; repeated conversion in place
./sparseclip-convert "$tmp/m.safetensors" "$tmp/meta.safetensors" --dtype f16 \
	--meta sparseclip.model_name=sparseclip-test --meta 'sparseclip.card=https://example.org/card "v1"' \
	--meta sparseclip.trained=2026-12-03 > "$tmp/meta.log"
check "--meta: prints 3 keys set" 'grep -q "3 metadata keys set" "$tmp/meta.log"'
"$compare" "$tmp/m.safetensors" "$tmp/meta.safetensors" --expect-meta sparseclip.model_name=sparseclip-test \
	--expect-meta 'sparseclip.card=https://example.org/card "v1"' --expect-meta sparseclip.trained=2026-12-03 > "$tmp/meta.cmp" || true
check "--meta: the keys hold their values, every other key is kept" 'tail -1 "$tmp/meta.cmp" | grep -qx OK'
cp "$tmp/meta.safetensors" "$tmp/inplace.safetensors"
./sparseclip-convert "$tmp/inplace.safetensors" "$tmp/inplace.safetensors" --dtype f16 --meta sparseclip.model_name=renamed > /dev/null
"$compare" "$tmp/meta.safetensors" "$tmp/inplace.safetensors" --expect-meta sparseclip.model_name=renamed --min-cosine 0.999999 > "$tmp/inplace.cmp" || true
check "OUT = IN: rewritten in place, one key replaced, weights identical" \
	'tail -1 "$tmp/inplace.cmp" | grep -qx OK && grep -q "max abs difference 0," "$tmp/inplace.cmp"'
check "no temporary file left beside OUT" '[ -z "$(ls "$tmp" | grep "\.tmp")" ]'

# refusals: exit 2 with a message, no output file
refused() {
	local out="$tmp/refused.safetensors"
	rm -f "$out"
	set +e
	./sparseclip-convert "$tmp/m.safetensors" "$out" "$@" > /dev/null 2> "$tmp/refused.err"
	local rc=$?
	set -e
	[ $rc -ne 0 ] && [ ! -e "$out" ] && [ -s "$tmp/refused.err" ]
}
check "--dtype i8 refused" 'refused --dtype i8 && grep -q "must be f16, bf16 or f32" "$tmp/refused.err"'
check "no --dtype refused" 'refused'
check "--meta sparseclip.config=... refused" 'refused --dtype f16 --meta "sparseclip.config={}" && grep -q "cannot set sparseclip.config" "$tmp/refused.err"'
check "--meta sparseclip.concepts=... refused" 'refused --dtype f16 --meta "sparseclip.concepts=[]"'
check "--meta with an unknown key refused without --force" 'refused --dtype f16 --meta my.key=1 && grep -q "unknown metadata key" "$tmp/refused.err"'
check "--meta without = refused" 'refused --dtype f16 --meta sparseclip.model_name'
check "--meta sparseclip.image_alpha=grey refused (white or drop only)" 'refused --dtype f16 --meta sparseclip.image_alpha=grey && grep -q "must be white or drop" "$tmp/refused.err"'
check "an unknown option refused" 'refused --dtype f16 --fast'
./sparseclip-convert "$tmp/m.safetensors" "$tmp/forced.safetensors" --dtype f16 --force --meta my.key=1 > /dev/null
check "--force sets any key" 'grep -aq "\"my.key\":\"1\"" "$tmp/forced.safetensors"'
printf 'not a model' > "$tmp/junk.safetensors"
set +e; ./sparseclip-convert "$tmp/junk.safetensors" "$tmp/junk.out" --dtype f16 > /dev/null 2> "$tmp/junk.err"; rc=$?; set -e
check "a file that is not safetensors: exit 1, a message, no output" '[ $rc -eq 1 ] && [ ! -e "$tmp/junk.out" ] && grep -q "safetensors:" "$tmp/junk.err"'
check "--help documents --dtype and --meta" './sparseclip-convert --help | grep -q -- "--meta KEY=VALUE" && ./sparseclip-convert --help | grep -q -- "--dtype D"'

echo "test_convert.sh: $pass passed, $fail failed"
[ $fail -eq 0 ]
