#!/bin/bash
# Validates a data set made by build.sh: every listed image exists and is a
# SIZE x SIZE RGB JPEG under the output folder, captions are non-empty and
# carry no file names, group keys (optional third column) are one word and
# the same on every line of an image, no validation image (by path, by
# content, or as a near copy by thumbnail) is in training, no training
# image comes from Twemoji in any form or from Tux Paint, every image has
# its SIZE x SIZE grayscale alpha mask (when the set has alpha/), stats.txt
# counts what the TSVs hold per source, val_classes names are unique,
# wordnet.txt is non-empty.
#
# usage: training/data/check.sh [OUT_DIR] [--size N]
#   (default OUT_DIR: training/data/out; default size: the one in stats.txt)
# Exit status 0 when every check passes, 1 otherwise (each failure printed).
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
out=$here/out
size=
while [ $# -gt 0 ]; do
	case $1 in
	--size) size=${2:?--size needs a number}; shift 2 ;;
	-*) echo "check.sh: unknown option $1" >&2; exit 2 ;;
	*) out=$1; shift ;;
	esac
done
[ -d "$out" ] || { echo "check.sh: no such folder: $out" >&2; exit 1; }
if [ -z "$size" ]; then
	size=$(awk -F'\t' '$1 == "size" { print $2 }' "$out/stats.txt" 2>/dev/null || true)
	[ -n "$size" ] || { echo "check.sh: no size in $out/stats.txt; give --size" >&2; exit 1; }
fi

exec node - "$out" "$size" "$here" <<'EOF'
'use strict';
const fs = require('fs');
const path = require('path');
const crypto = require('crypto');
const [out, sizeArg, here] = process.argv.slice(2);
const size = parseInt(sizeArg, 10);
const root = fs.realpathSync(out);
let failures = 0;
function fail(msg) {
  if (failures < 50) console.error('check.sh: FAIL: ' + msg);
  failures++;
}

// Width, height and component count from a JPEG's start-of-frame marker.
function jpegInfo(buf) {
  if (buf.length < 4 || buf[0] !== 0xff || buf[1] !== 0xd8) return null;
  let i = 2;
  while (i + 9 < buf.length) {
    if (buf[i] !== 0xff) return null;
    const marker = buf[i + 1];
    if (marker === 0xff) { i++; continue; }
    const len = buf.readUInt16BE(i + 2);
    if ((marker >= 0xc0 && marker <= 0xcf) && marker !== 0xc4 && marker !== 0xc8 && marker !== 0xcc)
      return { height: buf.readUInt16BE(i + 5), width: buf.readUInt16BE(i + 7), comps: buf[i + 9] };
    i += 2 + len;
  }
  return null;
}

const images = new Map();   // relative path -> content hash, or null when bad
function checkImage(rel, where) {
  if (images.has(rel)) return images.get(rel);
  let digest = null;
  const abs = path.resolve(root, rel);
  if (path.isAbsolute(rel) || rel.split('/').includes('..') || !abs.startsWith(root + path.sep)) {
    fail(`${where}: path leaves the output folder: ${rel}`);
  } else if (/shared\/data/.test(rel)) {
    fail(`${where}: path into the shared evaluation data: ${rel}`);
  } else if (!fs.existsSync(abs)) {
    fail(`${where}: missing image ${rel}`);
  } else {
    const buf = fs.readFileSync(abs);
    const info = jpegInfo(buf);
    if (!info) fail(`${where}: not a JPEG: ${rel}`);
    else if (info.width !== size || info.height !== size)
      fail(`${where}: ${rel} is ${info.width}x${info.height}, want ${size}x${size}`);
    else if (info.comps !== 3) fail(`${where}: ${rel} has ${info.comps} colour components, want 3 (RGB)`);
    else digest = crypto.createHash('sha1').update(buf).digest('hex');
  }
  images.set(rel, digest);
  return digest;
}

function readTsv(name) {
  const file = path.join(root, name);
  if (!fs.existsSync(file)) { fail(`missing ${name}`); return []; }
  const text = fs.readFileSync(file, 'utf8');
  if (!text.endsWith('\n')) fail(`${name}: last line not terminated`);
  const rows = [];
  text.split('\n').slice(0, -1).forEach((line, i) => {
    const f = line.split('\t');
    const where = `${name}:${i + 1}`;
    if (f.length !== 2 && f.length !== 3) { fail(`${where}: want 2 or 3 tab-separated fields, got ${f.length}`); return; }
    if (f.length === 3 && !/^\S+$/.test(f[2])) { fail(`${where}: group key must be one word: "${f[2]}"`); return; }
    if (!f[1].trim()) { fail(`${where}: empty caption`); return; }
    if (f[1] !== f[1].trim() || /\s{2}/.test(f[1])) fail(`${where}: caption has stray whitespace`);
    if (/\.(svg|png|jpe?g)\b|img\//i.test(f[1])) fail(`${where}: caption names a file: ${f[1]}`);
    rows.push({ img: f[0], text: f[1], group: f[2] || null, where });
  });
  if (rows.length === 0) fail(`${name}: no lines`);
  return rows;
}

const train = readTsv('train.tsv');
const val = readTsv('val.tsv');
const classes = readTsv('val_classes.tsv');
for (const r of [...train, ...val, ...classes]) checkImage(r.img, r.where);

// No validation image in training: not the same file, not the same pixels.
const trainImgs = new Set(train.map(r => r.img));
const trainHashes = new Map();
for (const img of trainImgs) if (images.get(img)) trainHashes.set(images.get(img), img);
const valImgs = new Set(val.map(r => r.img));
for (const img of valImgs) {
  if (trainImgs.has(img)) fail(`val image also in train: ${img}`);
  const h = images.get(img);
  if (h && trainHashes.has(h)) fail(`val image ${img} has the same bytes as train image ${trainHashes.get(h)}`);
}
const valDirs = new Set([...valImgs].map(p => path.dirname(p)));
for (const img of trainImgs)
  if (valDirs.has(path.dirname(img))) fail(`train image from the held-out style: ${img}`);

// Zero-shot classes: held-out images, one image per class name.
const names = new Set();
for (const r of classes) {
  if (!valImgs.has(r.img)) fail(`${r.where}: class image not in val.tsv: ${r.img}`);
  if (names.has(r.text)) fail(`${r.where}: class name twice: ${r.text}`);
  names.add(r.text);
}

// Groups: one key per image.
const groupOf = new Map();
for (const r of [...train, ...val]) {
  if (groupOf.has(r.img) && groupOf.get(r.img) !== r.group)
    fail(`${r.where}: ${r.img} has group ${r.group} here and ${groupOf.get(r.img)} before`);
  groupOf.set(r.img, r.group);
}

// Reserved and held-out material: Twemoji in any form only in validation,
// Tux Paint nowhere.
// (by the source folder: icons of the Twitter logo are no Twemoji)
for (const img of trainImgs)
  if (/twemoji|twitter/i.test(img.split('/').slice(0, -1).join('/'))) fail(`training image from Twemoji (held out): ${img}`);
for (const img of new Set([...trainImgs, ...valImgs]))
  if (/tux.?paint/i.test(img)) fail(`image from Tux Paint (reserved): ${img}`);

// Alpha masks: all or none.
if (fs.existsSync(path.join(root, 'alpha'))) {
  for (const img of new Set([...trainImgs, ...valImgs])) {
    if (!img.startsWith('img/')) { fail(`image outside img/, no place for its mask: ${img}`); continue; }
    const mask = path.join(root, 'alpha', img.slice(4));
    if (!fs.existsSync(mask)) { fail(`missing alpha mask for ${img}`); continue; }
    const info = jpegInfo(fs.readFileSync(mask));
    if (!info) fail(`alpha mask not a JPEG: ${mask}`);
    else if (info.width !== size || info.height !== size) fail(`alpha mask of ${img} is ${info.width}x${info.height}`);
    else if (info.comps !== 1) fail(`alpha mask of ${img} has ${info.comps} components, want 1 (grayscale)`);
  }
}

// Near copies of held-out images, by the thumbnails dedup.js compared.
if (fs.existsSync(path.join(root, 'thumb'))) {
  const dd = require(path.join(here, 'dedup.js'));
  const buckets = new Map();
  for (const img of valImgs) {
    const t = dd.thumbOf(root, img);
    if (!t) continue;
    const k = dd.keyOf(t);
    if (!buckets.has(k)) buckets.set(k, []);
    buckets.get(k).push([img, t]);
  }
  for (const img of trainImgs) {
    const t = dd.thumbOf(root, img);
    if (!t) continue;
    const hit = dd.probeKeys(t).flatMap(k => buckets.get(k) || []).find(([, vt]) => dd.mad(t, vt) <= dd.MAX_MAD);
    if (hit) fail(`train image ${img} is a near copy of held-out ${hit[0]}`);
  }
}

// stats.txt: images and pairs per source and split as the TSVs have them.
const statsFile = path.join(root, 'stats.txt');
if (fs.existsSync(statsFile)) {
  const want = new Map();
  for (const [rows, split] of [[train, 'train'], [val, 'val']]) {
    const seen = new Set();
    for (const r of rows) {
      const src = r.img.split('/')[1];
      const k = src + '\t' + split;
      const e = want.get(k) || { images: 0, pairs: 0 };
      e.pairs++;
      if (!seen.has(r.img)) { seen.add(r.img); e.images++; }
      want.set(k, e);
    }
  }
  const got = new Map();
  for (const line of fs.readFileSync(statsFile, 'utf8').split('\n')) {
    const f = line.split('\t');
    if (f.length === 4 && f[0] !== 'total' && f[0] !== 'near_duplicates' && !f[0].startsWith('#'))
      got.set(f[0] + '\t' + f[1], { images: +f[2], pairs: +f[3] });
  }
  for (const [k, e] of want) {
    const g = got.get(k);
    if (!g) fail(`stats.txt: no line for ${k.replace('\t', ' ')}`);
    else if (g.images !== e.images || g.pairs !== e.pairs)
      fail(`stats.txt: ${k.replace('\t', ' ')}: ${g.images} images, ${g.pairs} pairs; the TSV has ${e.images}, ${e.pairs}`);
  }
  for (const k of got.keys()) if (!want.has(k)) fail(`stats.txt: ${k.replace('\t', ' ')} has no images in the TSVs`);
}

const wn = path.join(root, 'wordnet.txt');
if (!fs.existsSync(wn)) fail('missing wordnet.txt');
else {
  const lines = fs.readFileSync(wn, 'utf8').split('\n').slice(0, -1);
  if (lines.length === 0) fail('wordnet.txt is empty');
  lines.forEach((l, i) => { if (!l.trim()) fail(`wordnet.txt:${i + 1}: empty line`); });
}

const s = `${train.length} train pairs (${trainImgs.size} images), ${val.length} val pairs ` +
          `(${valImgs.size} images), ${classes.length} val classes, ${size}x${size}`;
if (failures) { console.error(`check.sh: ${failures} failures; ${s}`); process.exit(1); }
console.error(`check.sh: OK: ${s}`);
EOF
