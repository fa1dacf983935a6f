#!/usr/bin/env node
// Reads the installed packages and plans the data set: which image goes
// where and which captions describe it. Rendering is done by render.sh.
//
// usage: node plan.js OUT_DIR
// needs: OUT_DIR/cache/npm/node_modules (npm packages), /usr/share/wordnet,
//        /usr/share/openclipart/{svg,png}, OUT_DIR/cache/sweethome3d/CATALOG/
//        (Sweet Home 3D furniture catalogs unzipped by build.sh)
// writes: OUT_DIR/work/jobs.tsv      kind (png, svg, svgtrim), input, output jpg, fallback png
//         OUT_DIR/work/captions.tsv  split, source, jpg, caption
//         OUT_DIR/work/classes.tsv   jpg, class name (held-out style only)
//         OUT_DIR/work/groups.tsv    jpg, group key (images that show the same thing:
//                                    the same emoji code points in any style, the same
//                                    icon name in any icon set); images without one are unique
//         OUT_DIR/cache/svg/...      SVG files built from iconify JSON
//         OUT_DIR/wordnet.txt        every WordNet gloss, one per line
'use strict';
const fs = require('fs');
const path = require('path');

const OUT = path.resolve(process.argv[2] || 'out');
const NM = path.join(OUT, 'cache/npm/node_modules');
const WN = '/usr/share/wordnet';
const CLIP = '/usr/share/openclipart';
const VAL_SOURCE = 'emoji-twitter';

function log(msg) { process.stderr.write('plan: ' + msg + '\n'); }
function readJson(p) { return JSON.parse(fs.readFileSync(p, 'utf8')); }
function clean(s) { return String(s).replace(/\s+/g, ' ').trim(); }

// FNV-1a: a stable choice of template that does not depend on run order.
function hash(s) {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h;
}
function pick(list, key) { return list[hash(key) % list.length]; }

// ---------------------------------------------------------------- WordNet
const wn = (() => {
  const index = new Map();     // lemma -> noun synset offsets, most frequent first
  for (const line of fs.readFileSync(path.join(WN, 'index.noun'), 'latin1').split('\n')) {
    if (!line || line.startsWith(' ')) continue;
    const f = line.split(' ');
    const nptr = parseInt(f[3], 10);
    const nsense = parseInt(f[2], 10);
    index.set(f[0], f.slice(6 + nptr, 6 + nptr + nsense));
  }
  const exc = new Map();
  for (const line of fs.readFileSync(path.join(WN, 'noun.exc'), 'latin1').split('\n')) {
    const f = line.split(' ');
    if (f.length >= 2) exc.set(f[0], f[1]);
  }
  const data = fs.readFileSync(path.join(WN, 'data.noun'));  // offsets are byte offsets
  const rules = [['ses', 's'], ['xes', 'x'], ['zes', 'z'], ['ches', 'ch'], ['shes', 'sh'],
                 ['men', 'man'], ['ies', 'y'], ['s', '']];
  // Lexicographer files of things one can draw, best first: animal,
  // artifact, body, food, object, plant; then location, person, substance.
  const things = new Set(['05', '06', '08', '13', '17', '20']);
  const drawable = new Set(['15', '18', '27']);

  function synset(off) {
    const at = parseInt(off, 10);
    const end = data.indexOf(10, at);
    const line = data.toString('latin1', at, end);
    const bar = line.indexOf(' | ');
    return { lexfile: line.split(' ')[1], gloss: clean(line.slice(bar + 3)) };
  }
  // Base form of a noun and whether the word was a plural.
  function lemma(word) {
    if (index.has(word)) return { base: word, plural: false };
    if (exc.has(word) && index.has(exc.get(word))) return { base: exc.get(word), plural: true };
    for (const [suf, rep] of rules) {
      if (word.length > suf.length + 1 && word.endsWith(suf)) {
        const b = word.slice(0, -suf.length) + rep;
        if (index.has(b)) return { base: b, plural: true };
      }
    }
    return null;
  }
  // Definition of the first drawable sense among the three most frequent,
  // else of the most frequent sense.
  function define(base) {
    const offs = index.get(base);
    const senses = offs.slice(0, 3).map(synset);
    const best = senses.find(s => things.has(s.lexfile)) || senses.find(s => drawable.has(s.lexfile)) || senses[0];
    return best.gloss.split(/;\s*"/)[0].replace(/;\s*$/, '').trim();
  }
  return { lemma, define };
})();

// The head noun of an English noun phrase: the last word before the first
// preposition or punctuation ("face with tears of joy" -> "face").
const CUT = /[,:;(]|\s-\s|\s(with|of|in|on|for|from|without|holding|at|and|or|under|over|by|to|into|wearing)\s/;
function headNoun(name) {
  const front = (' ' + name.toLowerCase() + ' ').split(CUT)[0];
  const words = front.replace(/[^a-z0-9' -]/g, ' ').split(/[\s-]+/).filter(Boolean);
  for (let n = Math.min(3, words.length); n >= 1; n--) {
    const w = words.slice(-n).join('_');
    // Two-letter words are mostly abbreviations ("cd" is not cadmium).
    if (!/[a-z]/.test(w) || w.length < 3) continue;
    const l = wn.lemma(w);
    if (l) return { word: words.slice(-n).join(' '), base: l.base, plural: l.plural };
  }
  return null;
}

// "a"/"an" in front of a singular noun phrase; plurals and phrases that
// already start with a determiner or number go bare.
function withArticle(phrase) {
  const p = phrase.trim();
  if (/^(a|an|the|two|three|four|five|some|many|no|my|your|one)\b/i.test(p) || /^\d/.test(p)) return p;
  const h = headNoun(p);
  if (h && h.plural) return p;
  const vowel = /^[aeiou]/i.test(p) && !/^(uni|use|usu|uti|uk|ura|uro|eu|one|once)/i.test(p);
  return (vowel || /^(hour|honest|honou?r)/i.test(p) ? 'an ' : 'a ') + p;
}

function glossCaption(name, key) {
  const h = headNoun(name);
  if (!h) return null;
  const def = wn.define(h.base);
  if (!def) return null;
  const noun = h.base.replace(/_/g, ' ');
  return pick([
    `${withArticle(noun)}: ${def}`,
    `${name}; ${withArticle(noun)} is ${def}`,
  ], key + '#gloss');
}

// ---------------------------------------------------------------- output
const jobs = [];
const captions = [];
const classes = new Map();   // class name -> jpg (first wins, order is stable)

const groups = [];

function addImage(source, id, kind, input, fallback, lines, group) {
  const seen = new Set();
  const uniq = [];
  for (const l of lines) {
    const c = clean(l || '');
    if (c.length < 2 || seen.has(c.toLowerCase())) continue;
    seen.add(c.toLowerCase());
    uniq.push(c);
  }
  if (uniq.length === 0) return null;
  const jpg = `img/${source}/${id}.jpg`;
  jobs.push([kind, input, jpg, fallback || '-'].join('\t'));
  const split = source === VAL_SOURCE ? 'val' : 'train';
  for (const c of uniq) captions.push([split, source, jpg, c].join('\t'));
  if (group) groups.push(jpg + '\t' + group);
  return jpg;
}

// ---------------------------------------------------------------- emoji
const normHex = h => h.toUpperCase().split('-').filter(x => x !== 'FE0F').join('-');

const emojiInfo = new Map();     // normalised hex -> {label, tags, skin}
for (const e of readJson(path.join(NM, 'emojibase-data/en/data.json'))) {
  emojiInfo.set(normHex(e.hexcode), { label: e.label, tags: e.tags || [], skin: false });
  for (const s of e.skins || [])
    emojiInfo.set(normHex(s.hexcode), { label: s.label, tags: [], skin: true });
}

// Template phrase for an emoji label: "flag: Egypt" -> "flag of Egypt",
// "waving hand: light skin tone" -> "waving hand with light skin tone".
function emojiPhrase(label) {
  if (/^flag: /.test(label)) return label.replace(/^flag: /, 'flag of ');
  if (/^keycap: /.test(label)) return label.replace(/^keycap: /, 'keycap ');
  return label.replace(/: /, ' with ');
}

const EMOJI_TEMPLATES = {
  common: ['an emoji of {}', '{} emoji', 'a cartoon icon of {}', 'a drawing of {}',
           'a picture of {}', 'an icon showing {}', 'a small illustration of {}',
           'an emoji showing {}'],
  'emoji-google': ['a glossy cartoon emoji of {}', 'a colourful emoji of {}'],
  noto: ['a glossy cartoon emoji of {}', 'a colourful emoji of {}'],
  'fluent-flat': ['a flat icon of {}', 'a flat emoji of {}'],
  'emoji-twitter': ['a flat icon of {}', 'a flat emoji of {}'],
  'emojione-mono': ['a black and white emoji of {}', 'a monochrome emoji of {}'],
  'fluent-hc': ['a black and white emoji of {}', 'a high contrast icon of {}'],
  openmoji: ['an outlined emoji of {}', 'a flat emoji of {}'],
  'fluent-color-emoji': ['a shaded cartoon emoji of {}', 'a colourful emoji of {}'],
};

// Country codes and other all-capital short tags are noise for captions.
const goodTag = t => t && !/^[A-Z0-9]{1,3}$/.test(t);

function emojiCaptions(source, info, key) {
  const label = info.label;
  const phrase = emojiPhrase(label);
  const tmpl = pick(EMOJI_TEMPLATES.common.concat(EMOJI_TEMPLATES[source] || []), key);
  const lines = [label, tmpl.replace('{}', withArticle(phrase))];
  if (info.skin) return lines;
  const tags = info.tags.filter(goodTag).filter(t => !label.toLowerCase().split(/\W+/).includes(t.toLowerCase()));
  if (tags.length)
    lines.push(pick([`${label}, ${tags.join(', ')}`, tags.join(', ')], key + '#tags'));
  lines.push(glossCaption(label, key));
  return lines;
}

// emoji-datasource: one 64x64 PNG per emoji and per skin tone variant.
function emojiDatasource(style, source) {
  const pkg = path.join(NM, 'emoji-datasource-' + style);
  let n = 0;
  const list = readJson(path.join(pkg, 'emoji.json')).sort((a, b) => a.sort_order - b.sort_order);
  for (const e of list) {
    const variants = [[e, null]];
    for (const k of Object.keys(e.skin_variations || {}).sort())
      variants.push([e.skin_variations[k], e]);
    for (const [v, parent] of variants) {
      if (!v['has_img_' + style]) continue;
      const hex = normHex(v.unified);
      let info = emojiInfo.get(hex);
      if (!info) {  // not in emojibase (e.g. regional indicators): use the datasource name
        const base = (parent || v).name;
        if (!base) continue;
        info = { label: base.toLowerCase(), tags: (parent ? [] : (v.short_names || []).map(s => s.replace(/_/g, ' '))), skin: !!parent };
      }
      const input = path.join(pkg, 'img', style, '64', v.image);
      if (!fs.existsSync(input)) continue;
      const id = v.unified.toLowerCase();
      const jpg = addImage(source, id, 'png', input, null, emojiCaptions(source, info, source + '/' + id), 'u:' + hex);
      if (!jpg) continue;
      n++;
      if (source === VAL_SOURCE && !info.skin) {
        const cls = info.label;
        if (!classes.has(cls)) classes.set(cls, jpg);
      }
    }
  }
  log(`${source}: ${n} images`);
}

// ---------------------------------------------------------------- iconify
function iconSvg(set, icon) {
  const left = icon.left || set.left || 0, top = icon.top || set.top || 0;
  const w = icon.width || set.width || 16, h = icon.height || set.height || 16;
  // game-icons draw in currentColor: render them black.
  const body = icon.body.replace(/currentColor/g, '#000');
  return `<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink" ` +
         `width="${w}" height="${h}" viewBox="${left} ${top} ${w} ${h}">${body}</svg>\n`;
}

function writeIfChanged(file, text) {
  if (fs.existsSync(file) && fs.readFileSync(file, 'utf8') === text) return;
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file + '.tmp', text);
  fs.renameSync(file + '.tmp', file);
}

const TONES = { light: 'light', 'medium-light': 'medium-light', medium: 'medium',
                'medium-dark': 'medium-dark', dark: 'dark' };

// Emoji names as iconify spells them ("grinning-face", "flag-for-belarus",
// "grinningface") -> normalised code points, for sets without chars.json.
const slug = s => s.toLowerCase().normalize('NFD').replace(/[\u0300-\u036f]/g, '')
  .replace(/[^a-z0-9]+/g, '-').replace(/^-|-$/g, '');
const emojiBySlug = new Map(), emojiByCompact = new Map();
for (const [hex, info] of emojiInfo) {
  if (info.skin) continue;
  const sl = slug(info.label);
  if (!emojiBySlug.has(sl)) emojiBySlug.set(sl, hex);
  if (!emojiByCompact.has(sl.replace(/-/g, ''))) emojiByCompact.set(sl.replace(/-/g, ''), hex);
}
function emojiHexByName(name, chars) {
  if (chars && chars.has(name)) return chars.get(name);
  const base = name.replace(/-\d+$/, '');
  for (const c of [name, base, base.replace(/^flag-for-/, 'flag-')])
    if (emojiBySlug.has(c)) return emojiBySlug.get(c);
  return emojiByCompact.get(base.replace(/-/g, ''));
}
function readChars(prefix) {
  const file = path.join(NM, '@iconify-json', prefix, 'chars.json');
  const byName = new Map();
  if (!fs.existsSync(file)) return byName;
  const chars = readJson(file);
  for (const hex of Object.keys(chars).sort()) {
    const nh = normHex(hex);
    if (!byName.has(chars[hex]) || !emojiInfo.has(byName.get(chars[hex]))) byName.set(chars[hex], nh);
  }
  return byName;
}

// An emoji style from an iconify set. charsFrom: another set with the same
// icon names whose chars.json maps names to code points.
// requireMatch: leave out icons whose name is no known emoji (fxemoji's run-together
// names, "ballotboxwithboldscriptx", make no caption).
function iconifyEmoji(prefix, source, charsFrom, requireMatch) {
  const dir = path.join(NM, '@iconify-json', prefix);
  const set = readJson(path.join(dir, 'icons.json'));
  const byName = readChars(charsFrom || prefix);
  let n = 0;
  for (const name of Object.keys(set.icons).sort()) {
    const icon = set.icons[name];
    if (icon.hidden) continue;
    // Skin tone variants: the Google PNG set already has them all; here they
    // would be a third of all images, near copies of one another.
    if (/-skin-tone(-|$)|-tone\d?$/.test(name)) continue;
    const tone = name.match(/^(.*?)-(medium-light|medium-dark|light|medium|dark)$/);
    if (tone && (tone[1] in set.icons || tone[1] in (set.aliases || {}))) continue;
    const hex = emojiHexByName(name, byName);
    let info = emojiInfo.get(hex);
    if (!info && requireMatch) continue;
    if (!info) {
      // Icons without a code point: derive the label from the icon name,
      // "man-wrestling-medium-dark" -> "man wrestling: medium-dark skin tone".
      if (/^\d+$/.test(name) || /tone\d$/.test(name)) continue;
      const m = name.match(/^(.*?)-(medium-light|medium-dark|light|medium|dark)(-skin-tone)?$/);
      info = m ? { label: `${m[1].replace(/-/g, ' ')}: ${TONES[m[2]]} skin tone`, tags: [], skin: true }
               : { label: name.replace(/-\d+$/, '').replace(/-/g, ' '), tags: [], skin: false };
    }
    const svg = path.join(OUT, 'cache/svg', source, name + '.svg');
    writeIfChanged(svg, iconSvg(set, icon));
    const group = emojiInfo.has(hex) ? 'u:' + hex : 'n:' + slug(info.label);
    if (addImage(source, name, 'svg', svg, null, emojiCaptions(source, info, source + '/' + name), group)) n++;
  }
  log(`${source}: ${n} images`);
}

// Icon sets: an icon is named by its words ("table-column-remove"); variants
// of one drawing (outline, filled, weights, sizes) are skipped by `skip`.
const MONO_TEMPLATES = ['a line icon of {}', 'an outline icon of {}', 'a black and white icon of {}',
                        'a simple pictogram of {}', 'a monochrome symbol of {}', 'an icon of {}'];
const COLOUR_TEMPLATES = ['a flat colour icon of {}', 'a colourful icon of {}', 'an icon of {}',
                          'a flat illustration of {}', 'a colour pictogram of {}'];
const ICON_SETS = [
  // prefix, source, skip (regex on the name), templates
  ['flat-color-icons', 'flat-color-icons', null, COLOUR_TEMPLATES],
  ['fluent-color', 'fluent-color', null, COLOUR_TEMPLATES],   // sizes: largest kept below
  ['mdi', 'mdi', /-outline(-|$)/, MONO_TEMPLATES],
  ['tabler', 'tabler', /-filled$/, MONO_TEMPLATES],
  ['ph', 'phosphor', /-(bold|duotone|fill|light|thin)$/, MONO_TEMPLATES],
  ['material-symbols', 'material-symbols', /-(outline|rounded|sharp)(-|$)/, MONO_TEMPLATES],
  ['healthicons', 'healthicons', /-(outline|24px)$|^\d+$/, MONO_TEMPLATES],
  ['maki', 'maki', /-(\d+|jp|stroked)$/, MONO_TEMPLATES],
  ['wi', 'weather-icons', null, MONO_TEMPLATES],
  ['lucide', 'lucide', null, MONO_TEMPLATES],
];
// Words that name a set's conventions, not the picture.
const iconLabel = name => name.replace(/(-\d+)+$/, '').replace(/-(alt\d*|variant|sharp|simple)$/, '')
  .replace(/^wi-/, 'weather ').replace(/-/g, ' ').replace(/\s+/g, ' ').trim();

function iconSet(prefix, source, skip, templates) {
  const set = readJson(path.join(NM, '@iconify-json', prefix, 'icons.json'));
  let names = Object.keys(set.icons).sort().filter(nm => !set.icons[nm].hidden && !(skip && skip.test(nm)));
  if (prefix === 'fluent-color') {
    // "add-circle-16", "add-circle-24": one drawing in sizes; keep the largest.
    const best = new Map();
    for (const nm of names) {
      const m = nm.match(/^(.*)-(\d+)$/);
      const base = m ? m[1] : nm, sz = m ? +m[2] : 0;
      if (!best.has(base) || best.get(base)[1] < sz) best.set(base, [nm, sz]);
    }
    names = [...best.values()].map(v => v[0]).sort();
  }
  let n = 0;
  for (const name of names) {
    const label = iconLabel(prefix === 'fluent-color' ? name.replace(/-\d+$/, '') : name);
    if (!/[a-z]{3}/.test(label)) continue;
    const key = source + '/' + name;
    const svg = path.join(OUT, 'cache/svg', source, name + '.svg');
    writeIfChanged(svg, iconSvg(set, set.icons[name]));
    const lines = [label, pick(templates, key).replace('{}', withArticle(label)), glossCaption(label, key)];
    if (addImage(source, name, 'svg', svg, null, lines, 'n:' + slug(label))) n++;
  }
  log(`${source}: ${n} images`);
}

// Flags named by ISO code ("eg", "gb-eng"): the emoji's name and tags, and
// the flag emoji's code points as the group.
const FLAG_TEMPLATES = ['the flag of {}', 'a flag of {}', 'an icon of the flag of {}',
                        'the national flag of {}', 'a picture of the flag of {}'];
function flagHex(code) {
  const ri = c => (0x1F1E6 + c.charCodeAt(0) - 97).toString(16).toUpperCase();
  if (/^[a-z]{2}$/.test(code)) return ri(code[0]) + '-' + ri(code[1]);
  const m = code.match(/^gb-(eng|sct|wls)$/);
  if (m) return ['1F3F4', ...[...('gb' + m[1])].map(c => 'E00' + (c.charCodeAt(0)).toString(16).toUpperCase()), 'E007F'].join('-');
  return null;
}
function flagSet(prefix, source, pattern) {
  const set = readJson(path.join(NM, '@iconify-json', prefix, 'icons.json'));
  let n = 0;
  for (const name of Object.keys(set.icons).sort()) {
    const m = name.match(pattern);
    if (!m || set.icons[name].hidden) continue;
    const hex = flagHex(m[1]);
    const info = hex && emojiInfo.get(hex);
    if (!info || !/^flag: /.test(info.label)) continue;
    const country = info.label.replace(/^flag: /, '');
    const key = source + '/' + name;
    const svg = path.join(OUT, 'cache/svg', source, name + '.svg');
    writeIfChanged(svg, iconSvg(set, set.icons[name]));
    const tags = info.tags.filter(goodTag).filter(t => !['flag', country.toLowerCase()].includes(t.toLowerCase()));
    const lines = [info.label, pick(FLAG_TEMPLATES, key).replace('{}', country),
                   tags.length ? `flag of ${country}, ${tags.join(', ')}` : null];
    if (addImage(source, name, 'svg', svg, null, lines, 'u:' + hex)) n++;
  }
  log(`${source}: ${n} images`);
}

const GAME_TEMPLATES = ['a black silhouette icon of {}', 'a game icon of {}',
                        'a black and white pictogram of {}', 'a simple black drawing of {}',
                        'a silhouette of {}', 'an icon of {}'];

function gameIcons() {
  const source = 'game-icons';
  const set = readJson(path.join(NM, '@iconify-json/game-icons/icons.json'));
  let n = 0;
  for (const name of Object.keys(set.icons).sort()) {
    const icon = set.icons[name];
    if (icon.hidden) continue;
    // Numbered variants ("abstract-097") keep only their words.
    const label = name.replace(/(-\d+)+$/, '').replace(/-/g, ' ').trim();
    if (!/[a-z]{3}/.test(label)) continue;
    const key = source + '/' + name;
    const svg = path.join(OUT, 'cache/svg', source, name + '.svg');
    writeIfChanged(svg, iconSvg(set, icon));
    const lines = [label, pick(GAME_TEMPLATES, key).replace('{}', withArticle(label)), glossCaption(label, key)];
    if (addImage(source, name, 'svg', svg, null, lines)) n++;
  }
  log(`${source}: ${n} images`);
}

// ---------------------------------------------------------------- openclipart
function xmlText(s) {
  return clean(decodeEntities(decodeEntities(s)));
}
function decodeEntities(s) {
  return (s.replace(/<!\[CDATA\[([\s\S]*?)\]\]>/g, '$1').replace(/<[^>]*>/g, ' ')
    .replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&quot;/g, '"').replace(/&apos;/g, "'")
    .replace(/&#(\d+);/g, (m, d) => String.fromCharCode(+d)).replace(/&amp;/g, '&'));
}

// Metadata written by tools, not people: hashes, URLs, file names, ids.
function junk(s) {
  return !s || /hash\(|0x[0-9a-f]{4,}|sodipodi|inkscape|https?:|www\.|\.(svg|png|jpe?g|ai|eps)\b|^untitled|^image\d*$|^layer\s*\d*$|^svg\d*$|^\d+$|^[a-z]+\d+$/i.test(s) ||
         !/[a-z]{2}/i.test(s);
}

const GENERIC_KW = new Set(['clip art', 'clipart', 'clip_art', 'media', 'svg', 'png', 'image', 'public domain',
  'externalsource', 'openclipart', 'ocal', 'unsorted', 'inkscape', 'drawing', 'icon', 'icons',
  'remix', 'vector', 'graphic', 'picture', 'hash', 'theme', 'lemon theme icon', 'flat theme icon']);

const MAX_SAME_NAME = 12;
const CLIP_TEMPLATES = ['a clip art drawing of {}', 'a vector illustration of {}', 'clip art of {}',
                        'a drawing of {}', 'a cartoon of {}', 'an illustration of {}', 'a picture of {}'];

function openclipart() {
  const source = 'openclipart';
  const root = path.join(CLIP, 'svg');
  const files = [];
  (function walk(d) {
    for (const e of fs.readdirSync(d, { withFileTypes: true }).sort((a, b) => a.name < b.name ? -1 : 1)) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.name.endsWith('.svg')) files.push(p);
    }
  })(root);
  let n = 0, skipped = 0, capped = 0;
  const sameName = new Map();
  for (const file of files) {
    const rel = path.relative(root, file);
    // Colour gradients and the like are not pictures of anything.
    if (rel.startsWith('special/')) { skipped++; continue; }
    const text = fs.readFileSync(file, 'utf8');
    const work = (text.match(/<cc:Work[\s\S]*?<\/cc:Work>/) || [''])[0];
    // The work's own title, not the creator's or publisher's (also dc:title).
    const bare = work.replace(/<dc:(creator|publisher|rights|contributor)[\s\S]*?<\/dc:\1>/g, '');
    let title = xmlText((bare.match(/<dc:title>([\s\S]*?)<\/dc:title>/) || ['', ''])[1]);
    // "04 waxinggibbous openclipart" -> "waxinggibbous"
    title = clean(title.replace(/_/g, ' ').replace(/\([^)]*\)/g, ' ').replace(/\b(open\s?clip\s?art|clip\s?art)\b/ig, '').replace(/^\d+\s+(?=[a-z])/i, ''));
    // Names of whole collections or credits say nothing about the picture.
    if (junk(title) || /\b(cliparts|icons|icon ?set|iconset|collection|theme|various|symbol signs)\b|^by\s|\sby\s+[A-Z]/i.test(title)) title = '';
    if (title === title.toUpperCase()) title = title.toLowerCase();
    const subj = (bare.match(/<dc:subject>([\s\S]*?)<\/dc:subject>/) || ['', ''])[1];
    const kws = [];
    for (const m of subj.matchAll(/<rdf:li>([\s\S]*?)<\/rdf:li>/g)) {
      const k = xmlText(m[1]).replace(/_/g, ' ').toLowerCase();
      if (!junk(k) && !GENERIC_KW.has(k) && !kws.includes(k) && k.length <= 40 && k !== title.toLowerCase()) kws.push(k);
    }
    let desc = xmlText((bare.match(/<dc:description>([\s\S]*?)<\/dc:description>/) || ['', ''])[1]);
    if (junk(desc) || desc.length < 12 || desc.length > 200 || desc.toLowerCase() === title.toLowerCase()) desc = '';
    const name = title || kws.slice(0, 3).join(', ');
    if (!name) { skipped++; continue; }
    // Series share one title (1,375 "gramastar" stars, 793 icons known only
    // as "action, computer"): a few of each teach as much as all of them.
    const seenName = (sameName.get(name.toLowerCase()) || 0) + 1;
    sameName.set(name.toLowerCase(), seenName);
    if (seenName > MAX_SAME_NAME) { capped++; continue; }
    const key = source + '/' + rel;
    const lines = [name, pick(CLIP_TEMPLATES, key).replace('{}', withArticle(name))];
    if (kws.length) {
      const k8 = kws.slice(0, 8).join(', ');
      lines.push(title ? pick([`${title}: ${k8}`, k8], key + '#kw') : k8);
    }
    lines.push(desc);
    lines.push(glossCaption(name, key));
    const png = path.join(CLIP, 'png', rel.replace(/\.svg$/, '.png'));
    const id = rel.replace(/\.svg$/, '').replace(/[^A-Za-z0-9_-]+/g, '_');
    if (addImage(source, id, 'svgtrim', file, fs.existsSync(png) ? png : null, lines)) n++;
  }
  log(`${source}: ${n} images (${skipped} without usable metadata or in special/, ` +
      `${capped} over ${MAX_SAME_NAME} of one name)`);
}

// ---------------------------------------------------------------- Sweet Home 3D
// Furniture catalogs (Debian sweethome3d-furniture): a 128 px PNG render of
// each piece with its name, category and tags (Java properties).
function javaProps(text) {
  const out = new Map();
  for (const line of text.split(/\r?\n/)) {
    const m = line.match(/^([^#!=:\s][^=:]*?)\s*[=:]\s*(.*)$/);
    if (!m) continue;
    out.set(m[1], m[2].replace(/\\u([0-9a-fA-F]{4})/g, (x, h) => String.fromCharCode(parseInt(h, 16)))
      .replace(/\\(.)/g, '$1'));
  }
  return out;
}
const FURNITURE_TEMPLATES = ['a 3D render of {}', 'a rendering of {}', 'a picture of {}', 'a furniture icon of {}',
                             'a small 3D model of {}', 'an icon of {}'];
function sweetHome3d() {
  const source = 'furniture';
  const root = path.join(OUT, 'cache/sweethome3d');
  if (!fs.existsSync(root)) { log(`${source}: no ${root}, skipped`); return; }
  let n = 0;
  for (const cat of fs.readdirSync(root).sort()) {
    const file = path.join(root, cat, 'PluginFurnitureCatalog.properties');
    if (!fs.existsSync(file)) continue;
    const p = javaProps(fs.readFileSync(file, 'latin1'));
    for (let i = 1; p.has(`name#${i}`) || p.has(`name#${i + 1}`); i++) {
      const rawName = clean(p.get(`name#${i}`) || ''), icon = p.get(`icon#${i}`);
      if (!rawName || !icon) continue;
      const png = path.join(root, cat, icon.replace(/^\/+/, ''));
      if (!fs.existsSync(png)) continue;
      // "Coffee table" -> "coffee table"; names in capitals ("TV") stay.
      const name = rawName.split(' ').map(w => /^[A-Z][a-z]/.test(w) ? w.toLowerCase() : w).join(' ');
      if (!/[a-z]{3}/i.test(name) || junk(name)) continue;
      const category = clean(p.get(`category#${i}`) || '').toLowerCase();
      const tags = clean(p.get(`tags#${i}`) || '').split(/\s*,\s*/).map(t => t.toLowerCase())
        .filter(t => t && t !== name.toLowerCase() && !junk(t));
      const key = `${source}/${cat}/${i}`;
      const lines = [name, pick(FURNITURE_TEMPLATES, key).replace('{}', withArticle(name)),
                     category && category !== 'miscellaneous' ? `${name}, ${category}${tags.length ? ', ' + tags.join(', ') : ''}` :
                       (tags.length ? `${name}, ${tags.join(', ')}` : null),
                     glossCaption(name, key)];
      const id = (cat + '_' + (p.get(`id#${i}`) || String(i))).replace(/[^A-Za-z0-9_-]+/g, '_');
      if (addImage(source, id, 'png', png, null, lines, 'n:' + slug(name))) n++;
    }
  }
  log(`${source}: ${n} images`);
}

// ---------------------------------------------------------------- wordnet.txt
function wordnetText() {
  const out = [];
  for (const pos of ['noun', 'verb', 'adj', 'adv']) {
    for (const line of fs.readFileSync(path.join(WN, 'data.' + pos), 'latin1').split('\n')) {
      if (!line || line.startsWith(' ')) continue;
      const bar = line.indexOf(' | ');
      if (bar > 0) out.push(clean(line.slice(bar + 3)));
    }
  }
  return out;
}

// ---------------------------------------------------------------- main
emojiDatasource('google', 'emoji-google');
emojiDatasource('twitter', VAL_SOURCE);
iconifyEmoji('noto', 'noto');
iconifyEmoji('fluent-emoji-flat', 'fluent-flat');
gameIcons();
openclipart();
// Further emoji styles (never Twemoji in any form: it is the held-out style).
iconifyEmoji('emojione', 'emojione');
iconifyEmoji('emojione-v1', 'emojione-v1');
iconifyEmoji('emojione-monotone', 'emojione-mono');
iconifyEmoji('fxemoji', 'fxemoji', null, true);
iconifyEmoji('noto-v1', 'noto-v1', 'noto');
iconifyEmoji('openmoji', 'openmoji');
iconifyEmoji('fluent-emoji', 'fluent-color-emoji', 'fluent-emoji-flat');
iconifyEmoji('fluent-emoji-high-contrast', 'fluent-hc');
iconifyEmoji('streamline-emojis', 'streamline-emojis');
for (const [prefix, source, skip, templates] of ICON_SETS) iconSet(prefix, source, skip, templates);
flagSet('flag', 'flags', /^([a-z]{2}|gb-(?:eng|sct|wls))-4x3$/);
flagSet('circle-flags', 'circle-flags', /^([a-z]{2}|gb-(?:eng|sct|wls))$/);
sweetHome3d();

fs.mkdirSync(path.join(OUT, 'work'), { recursive: true });
writeIfChanged(path.join(OUT, 'work/jobs.tsv'), jobs.join('\n') + '\n');
writeIfChanged(path.join(OUT, 'work/captions.tsv'), captions.join('\n') + '\n');
writeIfChanged(path.join(OUT, 'work/groups.tsv'), groups.join('\n') + '\n');
writeIfChanged(path.join(OUT, 'work/classes.tsv'),
  [...classes].map(([name, jpg]) => jpg + '\t' + name).join('\n') + '\n');
const wt = wordnetText();
writeIfChanged(path.join(OUT, 'wordnet.txt'), wt.join('\n') + '\n');
log(`${jobs.length} images, ${captions.length} captions, ${classes.size} held-out classes, ${wt.length} glosses`);
