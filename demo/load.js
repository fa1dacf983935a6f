#!/usr/bin/env node
// The demo's loader: writes the Twemoji sample table as COPY text on stdout,
// one row per image (skin tones included), for
//   \copy emoji (id, file, short_name, caption, keywords, category, png) FROM pstdin
//
// usage: node demo/load.js NODE_MODULES [ROWS]
//   NODE_MODULES  holds emoji-datasource-twitter (images, short names) and
//                 emojibase-data (names and keywords: the captions)
//   ROWS          keep this many rows, evenly spread over the list (default all)
// Twemoji is the style held out of the training set (training/data/plan.js),
// so the model never saw these images.
'use strict';
const fs = require('fs');
const path = require('path');

const nm = process.argv[2];
const want = process.argv[3] ? parseInt(process.argv[3], 10) : 0;
if (!nm || !(want >= 0)) {
  process.stderr.write('usage: node demo/load.js NODE_MODULES [ROWS]\n');
  process.exit(2);
}
const pkg = path.join(nm, 'emoji-datasource-twitter');
const imgDir = path.join(pkg, 'img/twitter/64');

// emojibase spells the same code points without the variation selector.
const normHex = h => h.toUpperCase().split('-').filter(x => x !== 'FE0F').join('-');
const names = new Map();
for (const e of JSON.parse(fs.readFileSync(path.join(nm, 'emojibase-data/en/data.json'), 'utf8'))) {
  names.set(normHex(e.hexcode), { label: e.label, tags: e.tags || [] });
  for (const s of e.skins || []) names.set(normHex(s.hexcode), { label: s.label, tags: e.tags || [] });
}

const list = JSON.parse(fs.readFileSync(path.join(pkg, 'emoji.json'), 'utf8'))
  .sort((a, b) => a.sort_order - b.sort_order);
const rows = [];
for (const e of list) {
  const variants = [e];
  for (const k of Object.keys(e.skin_variations || {}).sort()) variants.push(e.skin_variations[k]);
  for (const v of variants) {
    if (!v.has_img_twitter || !fs.existsSync(path.join(imgDir, v.image))) continue;
    // Without an emojibase entry (e.g. regional indicator letters) the
    // datasource's own name serves.
    const info = names.get(normHex(v.unified)) || { label: e.name.toLowerCase(), tags: [] };
    rows.push({ file: v.image, short: e.short_name, caption: info.label,
                keywords: info.tags.join(', '), category: e.category || '' });
  }
}

let pick = rows;
if (want > 0 && want < rows.length)
  pick = Array.from({ length: want }, (_, i) => rows[Math.floor(i * rows.length / want)]);

// COPY text format: tab-separated, backslash escapes; bytea as \x hex.
const esc = s => String(s).replace(/\\/g, '\\\\').replace(/\t/g, '\\t').replace(/\n/g, '\\n').replace(/\r/g, '\\r');
const out = fs.openSync('/dev/stdout', 'w');
pick.forEach((r, i) => {
  const png = fs.readFileSync(path.join(imgDir, r.file));
  fs.writeSync(out, [i + 1, esc(r.file), esc(r.short), esc(r.caption), esc(r.keywords), esc(r.category),
                     '\\\\x' + png.toString('hex')].join('\t') + '\n');
});
process.stderr.write(`load.js: ${pick.length} of ${rows.length} Twemoji images\n`);
