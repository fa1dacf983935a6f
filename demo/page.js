#!/usr/bin/env node
// The demo's HTML page: each query with its top images, scores and the
// concepts that made each match.
// usage: node demo/page.js WORK OUT MODEL_LINE
//   WORK/queries.txt (one a line) and WORK/results/N.tsv (rank, caption, file,
//   score, concepts) for query N; images in OUT/img; writes OUT/index.html.
'use strict';
const fs = require('fs');
const path = require('path');
const [work, out, model] = process.argv.slice(2);
const esc = s => String(s).replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
const queries = fs.readFileSync(path.join(work, 'queries.txt'), 'utf8').split('\n').filter(Boolean);
let body = '';
queries.forEach((q, i) => {
  const rows = fs.readFileSync(path.join(work, 'results', `${i + 1}.tsv`), 'utf8')
    .split('\n').filter(Boolean).map(l => l.split('\t'));
  body += `<h2>${esc(q)}</h2>\n<div class="row">\n`;
  for (const [rank, caption, file, score, concepts] of rows)
    body += `<figure><img src="img/${encodeURIComponent(file)}" alt="${esc(caption)}" width="96" height="96">` +
      `<figcaption><b>${esc(rank)}. ${esc(caption)}</b><br>score ${esc(score.trim())}` +
      `<br><span class="c">${esc(concepts || '')}</span></figcaption></figure>\n`;
  body += '</div>\n';
});
fs.writeFileSync(path.join(out, 'index.html'), `<!doctype html>
<html><head><meta charset="utf-8"><title>sparseclip demo</title>
<style>
body { font-family: sans-serif; margin: 2em; color: #222; }
.row { display: flex; gap: 1em; flex-wrap: wrap; }
figure { width: 12em; margin: 0; padding: .5em; border: 1px solid #ddd; border-radius: 4px; }
img { image-rendering: auto; display: block; margin: 0 auto .3em; }
figcaption { font-size: 85%; }
.c { color: #555; }
</style></head><body>
<h1>sparseclip: Twemoji images ranked by text</h1>
<p>Model: ${esc(model)}. Each image is a row of table <code>emoji</code>, embedded by
<code>embed_column</code>; the score is the inner product with <code>encode_text(query)</code>;
below it, the three concepts (<code>explain_match</code>) that gave the match most of its score.
Twemoji is the emoji style held out of the training data.</p>
${body}</body></html>
`);
