#!/bin/bash
# Build the libFuzzer targets with clang (ASan + UBSan) and run each for
# SECONDS_EACH seconds (default 60).  Not part of the test suite.
#   bash test/fuzz/run.sh [seconds]
# FUZZ_TARGETS picks targets (default: image png webp bpe model svec inverted).
# inverted (test/fuzz/fuzz_inverted.c): the inverted index's page and
# segment decoders, compiled unchanged from src/inverted over a buffer
# manager shim (inv_shim.c, each page its own malloc'd block): for each
# input (16 control bytes, then 8 KB pages from the metapage on),
# inverted_check's structural part (metapage, free runs, pending chain and
# records, every segment's header, extents, doc table, norms, directory,
# range descriptors and pieces), what a merge or VACUUM reads (segments into
# an InvAccum, free runs) and an ORDER BY scan through the term walk,
# the bitmap kernels, pruning and batches; a corrupt index must give an
# ERROR.  Seeds: test/fuzz/seeds/inverted (test/fuzz/inverted_seeds.sh
# writes them from a throwaway server).  test/fuzz/inverted_pages.sh fuzzes
# the same decoders in a server, far more slowly.
# FUZZ_RUNS=N stops each after N executions instead (the time limit then
# only caps it, at SECONDS_EACH or 24 hours when none is given).
set -euo pipefail
cd "$(dirname "$0")/../.."
secs=${1:-60}
runs=${FUZZ_RUNS:-}
[ -n "$runs" ] && [ -z "${1:-}" ] && secs=86400
targets=${FUZZ_TARGETS:-"image png webp bpe model svec inverted"}
PG_CONFIG=${PG_CONFIG:-/usr/lib/postgresql/15/bin/pg_config}
PG_INC=$("$PG_CONFIG" --includedir-server)
PG_LIB=$("$PG_CONFIG" --libdir)
[ -f "$PG_LIB/libpgcommon.a" ] || PG_LIB=$("$PG_CONFIG" --pkglibdir)
out=${FUZZ_OUT:-/tmp/sparseclip-fuzz}
mkdir -p "$out/corpus_image" "$out/corpus_png" "$out/corpus_webp" "$out/corpus_bpe" "$out/corpus_model" "$out/corpus_svec" "$out/corpus_inverted"
flags="-g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined -Isrc/core"
# SPARSECLIP_FUZZING: libpng lets chunks with bad CRCs through, as libpng's own fuzzer does
images="src/core/image.c src/core/image_jpeg.c src/core/image_png.c src/core/image_webp.c src/core/errmsg.c"
imglibs="-lturbojpeg -lpng16 -lwebp -lwebpdemux -lm"
for t in $targets; do
	case $t in
	image | png | webp)
		clang $flags -DSPARSECLIP_FUZZING "test/fuzz/fuzz_$t.c" $images $imglibs -o "$out/fuzz_$t" ;;
	bpe)
		clang $flags test/fuzz/fuzz_bpe.c src/core/bpe.c src/core/text_clean.c src/core/errmsg.c -lutf8proc \
			-o "$out/fuzz_bpe" ;;
	model)
		clang $flags test/fuzz/fuzz_model.c src/core/model.c src/core/model_encode.c src/core/safetensors.c src/core/json.c \
			src/core/layers.c src/core/errmsg.c -lopenblas -lm -o "$out/fuzz_model" ;;
	svec)
		# the svec parsers of src/svec.c, outside a server (test/fuzz/pg_shim.c)
		clang $flags -Wno-ignored-attributes -Isrc -Itest/fuzz -I"$PG_INC" test/fuzz/fuzz_svec.c test/fuzz/pg_shim.c \
			src/svec.c "$PG_LIB/libpgcommon.a" "$PG_LIB/libpgport.a" -lm -o "$out/fuzz_svec" ;;
	inverted)
		# the index's page and segment decoders, over an index in memory
		# (test/fuzz/fuzz_inverted.c, inv_shim.c, inv_stubs.c)
		clang $flags -Wno-ignored-attributes -Isrc -Isrc/inverted -Itest/fuzz -I"$PG_INC" test/fuzz/fuzz_inverted.c \
			test/fuzz/inv_shim.c test/fuzz/inv_stubs.c test/fuzz/pg_shim.c src/svec.c \
			src/inverted/{page,segment,pending,check,scan,scan_batch,scan_buffers,scan_kernels,scan_prune,scan_segment,scan_walk}.c \
			"$PG_LIB/libpgcommon.a" "$PG_LIB/libpgport.a" -lm -o "$out/fuzz_inverted" ;;
	esac
done
cp test/fuzz/seeds/inverted/* "$out/corpus_inverted/"
cp test/fuzz/seeds/model/* "$out/corpus_model/"
printf '\x00{1:0.5,3:2}/10' > "$out/corpus_svec/text"
printf '\x00 { 7:-1.5e-3 , 2:3e38 } / 1000000000 ' > "$out/corpus_svec/spaces"
printf '\x01\x00\x00\x00\x0a\x00\x00\x00\x02\x00\x00\x00\x00\x00\x00\x00\x01\x00\x00\x00\x03\x3f\x80\x00\x00\x40\x00\x00\x00' > "$out/corpus_svec/binary"
# seeds: the image fixtures behind two option bytes (size 23, drop, no
# cancel; and size 16, white), without the signature the png/webp targets add
for f in test/fixtures/image/*.jpg test/fixtures/image/*.png test/fixtures/image/*.webp; do
	b=$(basename "$f")
	{ printf '\x17\x00'; cat "$f"; } > "$out/corpus_image/$b"
	case $f in
	*.png) { printf '\x17\x00'; tail -c +9 "$f"; } > "$out/corpus_png/$b"
		{ printf '\x50\x00'; tail -c +9 "$f"; } > "$out/corpus_png/white-$b" ;;
	*.webp) { printf '\x17\x00'; tail -c +13 "$f"; } > "$out/corpus_webp/$b"
		{ printf '\x50\x00'; tail -c +13 "$f"; } > "$out/corpus_webp/white-$b" ;;
	esac
done
printf '\x00a photo of a cat' > "$out/corpus_bpe/cat"
printf '\x00caf&eacute; it\xe2\x80\x99s &#x1F436; <start_of_text>' > "$out/corpus_bpe/html"
printf '\x01#version: 0.2\nh e\nl l\nhe ll\n' > "$out/corpus_bpe/merges"
status=0
for t in $targets; do
	echo "== fuzz_$t for ${secs}s${runs:+ or $runs runs}"
	rc=0
	maxlen=65536
	extra=
	# the model seeds are whole models of 6-9 kB; room to grow, and a
	# model that loads stays small enough to encode in microseconds
	[ "$t" = model ] && maxlen=16384
	# index seeds are up to 12 pages; a corrupt index must not hang a scan.
	# Inputs take milliseconds, but the limit is wall-clock time: on a shared
	# machine that stops nice'd processes for minutes, 30 s fired falsely.
	[ "$t" = inverted ] && maxlen=131088 && extra=-timeout=1200
	OPENBLAS_NUM_THREADS=1 "$out/fuzz_$t" -max_total_time="$secs" ${runs:+-runs=$runs} -rss_limit_mb=2048 -max_len=$maxlen $extra \
		-artifact_prefix="$out/crash_$t-" -print_final_stats=1 "$out/corpus_$t" \
		> "$out/fuzz_$t.log" 2>&1 || rc=$?
	grep -E 'stat::(number_of_executed_units|average_exec_per_sec|new_units_added|peak_rss_mb)|ERROR|SUMMARY|Done' \
		"$out/fuzz_$t.log" || true
	if [ "$rc" -ne 0 ]; then
		echo "fuzz_$t FAILED (exit $rc), log $out/fuzz_$t.log"
		status=1
	fi
done
exit $status
