#!/usr/bin/env node
// Finds near-identical renders (the same drawing in two icon sets, a set's
// copy of another's icon) from the 16x16 gray thumbnails render.sh writes.
//
// usage: node dedup.js OUT_DIR
// reads:  OUT_DIR/work/jobs.tsv (order = priority: earlier sources win),
//         OUT_DIR/work/captions.tsv (split of each image), OUT_DIR/thumb/
// writes: OUT_DIR/work/dropped.tsv  jpg<TAB>reason<TAB>the image it copies
//
// Two images are near-identical when their 16x16 thumbnails differ by at
// most MAX_MAD gray levels on average; candidates are found by a key of
// coarse block means (probeKeys below), not by comparing all pairs. A training image near-identical to a
// held-out (validation) image is dropped whatever its source; among training
// images the first in plan order is kept. Images of one source are compared
// too, except the emoji sets' skin-tone and gender variants, which differ
// only in colour: those are never dropped against their own source.
'use strict';
const fs = require('fs');
const path = require('path');

const MAX_MAD = 3.0;


function thumbOf(OUT, jpg) {
  const file = path.join(OUT, 'thumb', jpg.replace(/^img\//, '').replace(/\.jpg$/, '.gray'));
  try {
    const b = fs.readFileSync(file);
    return b.length === 256 ? b : null;
  } catch (e) {
    return null;
  }
}
// Candidate keys: the 4x4 block means of the thumbnail at 4 levels. A block
// mean within PROBE gray levels of a level boundary is ambiguous: a lookup
// also probes the other side (up to 2^MAX_AMBIGUOUS keys), so two thumbnails
// whose block means differ by less than PROBE always meet.
const PROBE = 6, MAX_AMBIGUOUS = 5;
function blockMeans(t) {
  const m = [];
  for (let by = 0; by < 4; by++)
    for (let bx = 0; bx < 4; bx++) {
      let s = 0;
      for (let y = 0; y < 4; y++) for (let x = 0; x < 4; x++) s += t[(4 * by + y) * 16 + 4 * bx + x];
      m.push(s / 16);
    }
  return m;
}
function keyOf(t) {
  return blockMeans(t).map(v => Math.min(3, Math.floor(v / 64))).join('');
}
function probeKeys(t) {
  const m = blockMeans(t);
  const base = m.map(v => Math.min(3, Math.floor(v / 64)));
  const alt = [];
  m.forEach((v, i) => {
    const lo = base[i] * 64, hi = lo + 64;
    if (base[i] > 0 && v - lo < PROBE) alt.push([i, base[i] - 1]);
    else if (base[i] < 3 && hi - v < PROBE) alt.push([i, base[i] + 1]);
  });
  const keys = [base.join('')];
  if (alt.length > MAX_AMBIGUOUS) return keys;
  for (let mask = 1; mask < (1 << alt.length); mask++) {
    const k = base.slice();
    alt.forEach(([i, v], j) => { if (mask & (1 << j)) k[i] = v; });
    keys.push(k.join(''));
  }
  return keys;
}
function mad(a, b) {
  let s = 0;
  for (let i = 0; i < 256; i++) s += Math.abs(a[i] - b[i]);
  return s / 256;
}

module.exports = { keyOf, probeKeys, mad, thumbOf, MAX_MAD };
if (require.main === module) main();

function main() {
const OUT = path.resolve(process.argv[2] || 'out');
const split = new Map();
for (const line of fs.readFileSync(path.join(OUT, 'work/captions.tsv'), 'utf8').split('\n')) {
  if (!line) continue;
  const f = line.split('\t');
  split.set(f[2], { split: f[0], source: f[1] });
}
const jobs = fs.readFileSync(path.join(OUT, 'work/jobs.tsv'), 'utf8').split('\n').filter(Boolean).map(l => l.split('\t')[2]);
// Held-out images first, so that training copies of them are found.
const order = jobs.filter(j => split.has(j) && split.get(j).split === 'val')
  .concat(jobs.filter(j => split.has(j) && split.get(j).split !== 'val'));
const buckets = new Map();   // key -> [{jpg, thumb, source, split}]
const dropped = [];
const bySource = new Map();
const isEmojiVariant = (a, b) => a.source === b.source && a.source.startsWith('emoji-');
for (const jpg of order) {
  const t = thumbOf(OUT, jpg);
  if (!t) continue;   // not rendered (yet): nothing to compare
  const me = { jpg, thumb: t, ...split.get(jpg) };
  const k = keyOf(t);
  const list = buckets.get(k) || [];
  let copyOf = null;
  if (me.split !== 'val') {
    for (const pk of probeKeys(t)) {
      for (const o of buckets.get(pk) || []) {
        if (o.split === 'val' ? false : isEmojiVariant(o, me)) continue;
        if (mad(o.thumb, t) <= MAX_MAD) { copyOf = o; break; }
      }
      if (copyOf) break;
    }
  }
  if (copyOf) {
    const reason = copyOf.split === 'val' ? 'copy of a held-out image' : 'near-identical';
    dropped.push([jpg, reason, copyOf.jpg].join('\t'));
    bySource.set(me.source, (bySource.get(me.source) || 0) + 1);
    continue;
  }
  list.push(me);
  buckets.set(k, list);
}
fs.mkdirSync(path.join(OUT, 'work'), { recursive: true });
fs.writeFileSync(path.join(OUT, 'work/dropped.tsv.tmp'), dropped.map(l => l + '\n').join(''));
fs.renameSync(path.join(OUT, 'work/dropped.tsv.tmp'), path.join(OUT, 'work/dropped.tsv'));
process.stderr.write(`dedup: ${dropped.length} near-identical images left out` +
  (bySource.size ? ` (${[...bySource].map(([s, n]) => s + ' ' + n).join(', ')})` : '') + '\n');
}
