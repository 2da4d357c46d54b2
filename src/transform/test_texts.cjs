// The real texts the tokenizer differential tests run on: every package
// description Debian's apt knows (each whole, and each of its paragraphs),
// every fortune (English and German, from the fortunes packages; each whole,
// and each paragraph of one that has several), French sentences from the
// message catalogues Debian packages install (bookworm has no French
// fortunes package) and a set of adversarial strings. Shared by tokenizer_diff_test.cjs (WordPiece) and
// sentencepiece_diff_test.cjs.
'use strict';
const fs = require('fs');
const path = require('path');
const { execFileSync } = require('child_process');

// Package descriptions: each whole, and each of its paragraphs.
function debianDescriptions() {
  const out = execFileSync('apt-cache', ['dumpavail'], { maxBuffer: 1 << 30 }).toString('utf8');
  const texts = [];
  for (const stanza of out.split('\n\n')) {
    const m = stanza.match(/^Description(?:-[a-zA-Z_]+)?: (.*(?:\n .*)*)/m);
    if (!m) continue;
    const lines = m[1].split('\n').map((l) => l.replace(/^ /, ''));
    const paragraphs = lines.join('\n').split('\n.\n');
    texts.push(lines.map((l) => (l === '.' ? '' : l)).join('\n'));
    if (paragraphs.length > 1) texts.push(...paragraphs);
  }
  return texts;
}

function fortunes() {
  const texts = [];
  for (const dir of ['/usr/share/games/fortunes', '/usr/share/games/fortunes/de']) {
    if (!fs.existsSync(dir)) continue;
    for (const f of fs.readdirSync(dir)) {
      const p = path.join(dir, f);
      if (f.endsWith('.dat') || !fs.statSync(p).isFile()) continue;
      if (!f.endsWith('.u8') && fs.existsSync(p + '.u8')) continue;  // the UTF-8 copy instead
      for (const fortune of fs.readFileSync(p).toString('utf8').split(/\n%\n/)) {
        texts.push(fortune);
        const paragraphs = fortune.split(/\n\s*\n/);
        if (paragraphs.length > 1) texts.push(...paragraphs);
      }
    }
  }
  return texts;
}

// French: every fourth distinct translated message of the gettext catalogues
// in /usr/share/locale/fr (coreutils, apt, dpkg, ...: accents, guillemets,
// typographic apostrophes). A .mo file is a header, then a table of
// (length, offset) pairs pointing at the NUL-separated translations.
function frenchMessages() {
  const dir = '/usr/share/locale/fr/LC_MESSAGES';
  if (!fs.existsSync(dir)) return [];
  const seen = new Set();
  for (const f of fs.readdirSync(dir).sort()) {
    const b = fs.readFileSync(path.join(dir, f));
    if (!f.endsWith('.mo') || b.length < 28 || b.readUInt32LE(0) !== 0x950412de) continue;
    const count = b.readUInt32LE(8), table = b.readUInt32LE(16);
    for (let i = 0; i < count; i++) {
      const len = b.readUInt32LE(table + 8 * i), off = b.readUInt32LE(table + 8 * i + 4);
      for (const s of b.subarray(off, off + len).toString('utf8').split('\0')) {
        if (s.trim() && !s.startsWith('Project-Id-Version')) seen.add(s);
      }
    }
  }
  return [...seen].filter((_, i) => i % 4 === 0);
}

function adversarial() {
  const long = 'Lorem ipsum dolor sit amet, consectetur adipiscing elit. '.repeat(18000);  // ~1 MB
  return [
    '', ' ', '\t\n\r ', '\u3000\u00a0\u2028', '\u0000\u0001\u001f\u007f\u0085\u200b\ufeff',
    'a\u0000b', '\ufffdx\ufffd', 'Ünïcödé naïve café résumé Ångström İstanbul ǅ ß ﬁ',
    'e\u0301 a\u0300\u0316 o\u0308\u0304 \u1100\u1161\u11a8 한국어 텍스트',
    '中文字符和日本語のテキスト、한국어。𠀀𪜀', '😀 👍🏽 👨‍👩‍👧 🇩🇪 ❤️ ✨', 'hello[SEP]world [CLS] [MASK]x [UNK]',
    '[PAD][PAD]', 'x'.repeat(101), 'x'.repeat(100), 'supercalifragilisticexpialidocious'.repeat(4),
    '¿¡Qué? «Guillemets» „Anführung“ — dash – 1,000.5 $5 ^_^ ~/path|pipe',
    'Ελληνικά Русский текст עִברִית العربية हिन्दी ไทย', 'ＦＵＬＬＷＩＤＴＨ ｶﾀｶﾅ', long,
  ];
}

function allTexts() {
  return [...debianDescriptions(), ...fortunes(), ...frenchMessages(), ...adversarial()];
}

module.exports = { debianDescriptions, fortunes, frenchMessages, adversarial, allTexts };
