// Tokenizer speed: nightshift's tokenizer (build/src/transform/tokenize_ids,
// the library's Tokenizer::Encode in a loop) against Hugging Face tokenizers
// (npm `tokenizers`, its Rust core under node), both on one core, on the same
// texts (src/transform/test_texts.cjs: Debian's package descriptions,
// fortunes, adversarial strings; ~100,000 texts) with the same tokenizer:
//   - wordpiece: bert-base-uncased's tokenizer.json (the real vocabulary);
//   - sentencepiece: an XLM-R-style Unigram model trained by spm_train on the
//     same texts (nightshift reads the .model, Hugging Face its conversion).
// Each process is pinned to one core (taskset); Hugging Face runs with
// TOKENIZERS_PARALLELISM=false and RAYON_NUM_THREADS=1, encoding in batches
// of 1,000 (its fastest single-thread path; its per-text `encode` is slower).
// Each side times only the encoding (not reading texts or printing ids).
// Runs alternate (ours, theirs, ours, ...); each figure is the median of
// --repeat runs, and the ratio is Hugging Face's seconds ÷ nightshift's
// (>= 1: nightshift is at least as fast).
//
// usage: node bench/tokenize_bench.cjs TOKENIZE_IDS TOKENIZERS_DIR VOCAB_JSON [--repeat 5] [--core 0]
'use strict';
const fs = require('fs');
const os = require('os');
const path = require('path');
const { execFileSync, spawnSync } = require('child_process');

const MAX_LENGTH = 512;
const BATCH = 1000;

// The Hugging Face side, in a process of its own: prints encode seconds and tokens.
async function hfChild(tokenizersDir, tokenizerJson, textsJson) {
  const { Tokenizer } = require(path.resolve(tokenizersDir, 'index.js'));
  const t = Tokenizer.fromFile(tokenizerJson);
  t.setTruncation(MAX_LENGTH);
  const texts = JSON.parse(fs.readFileSync(textsJson, 'utf8'));
  let tokens = 0;
  const start = process.hrtime.bigint();
  for (let i = 0; i < texts.length; i += BATCH) {
    for (const e of await t.encodeBatch(texts.slice(i, i + BATCH))) tokens += e.getIds().length;
  }
  const seconds = Number(process.hrtime.bigint() - start) / 1e9;
  console.log(`tokens ${tokens} seconds ${seconds.toFixed(6)}`);
}

function parse(text, what) {
  const m = text.match(/tokens (\d+) seconds ([0-9.]+)/);
  if (!m) throw new Error(`${what}: no timing in ${text}`);
  return { tokens: Number(m[1]), seconds: Number(m[2]) };
}

function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
}

// SentencePiece runs in nightshift's module (libnightshift_sentencepiece.so),
// built beside the nightshift binary: build/tools/nightshift from build/src/transform.
function moduleEnv(o) {
  const dir = require('path').resolve(require('path').dirname(o.tokenizeIds), '../../tools/nightshift');
  return Object.assign({ NIGHTSHIFT_BACKEND_DIR: dir }, process.env);
}

function benchOne(name, ours, hf, o) {
  const runs = { ours: [], hf: [] };
  let tokens = { ours: 0, hf: 0 };
  for (let r = 0; r < o.repeat; ++r) {
    const a = spawnSync('taskset', ['-c', o.core, o.tokenizeIds, ours, String(MAX_LENGTH)],
                        { input: fs.readFileSync(o.textsJsonl), maxBuffer: 1 << 30, env: moduleEnv(o) });
    if (a.status !== 0) throw new Error(`tokenize_ids: ${a.stderr}`);
    const mine = parse(a.stderr.toString(), 'tokenize_ids');
    const b = spawnSync('taskset', ['-c', o.core, process.execPath, __filename, '--hf-child',
                                    o.tokenizersDir, hf, o.textsJson],
                        { env: { ...process.env, TOKENIZERS_PARALLELISM: 'false', RAYON_NUM_THREADS: '1' },
                          maxBuffer: 1 << 30 });
    if (b.status !== 0) throw new Error(`hf: ${b.stderr}`);
    const theirs = parse(b.stdout.toString(), 'hf');
    runs.ours.push(mine.seconds);
    runs.hf.push(theirs.seconds);
    tokens = { ours: mine.tokens, hf: theirs.tokens };
  }
  const ours_s = median(runs.ours), hf_s = median(runs.hf);
  const pairs = runs.hf.map((h, i) => h / runs.ours[i]);
  const line = `| ${name} | ${o.texts} | ${tokens.hf} | ${(tokens.ours / ours_s / 1e6).toFixed(2)} | ` +
               `${(tokens.hf / hf_s / 1e6).toFixed(2)} | ${(hf_s / ours_s).toFixed(2)} | ` +
               `${Math.min(...pairs).toFixed(2)}–${Math.max(...pairs).toFixed(2)} |`;
  console.log(line);
  if (tokens.ours !== tokens.hf) console.log(`  (token counts differ: ours ${tokens.ours}, hf ${tokens.hf})`);
  return hf_s / ours_s;
}

function options(argv) {
  const [tokenizeIds, tokenizersDir, vocabJson, ...rest] = argv;
  const o = { tokenizeIds, tokenizersDir, vocabJson, repeat: 5, core: '0' };
  for (let i = 0; i < rest.length; i += 2) o[rest[i].replace(/^--/, '')] = rest[i + 1];
  o.repeat = Number(o.repeat);
  return o;
}

function main() {
  const o = options(process.argv.slice(2));
  const { allTexts } = require('../src/transform/test_texts.cjs');
  const { bertTokenizerJson } = require('../src/transform/tokenizer_diff_test.cjs');
  const { xlmrTokenizerJson, train } = require('../src/transform/sentencepiece_diff_test.cjs');
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'ns-tokbench-'));
  const texts = allTexts();
  o.texts = texts.length;
  o.textsJson = path.join(tmp, 'texts.json');
  o.textsJsonl = path.join(tmp, 'texts.jsonl');
  fs.writeFileSync(o.textsJson, JSON.stringify(texts));
  fs.writeFileSync(o.textsJsonl, texts.map((t) => JSON.stringify(t)).join('\n') + '\n');
  const bert = path.join(tmp, 'bert.json');
  fs.writeFileSync(bert, JSON.stringify(bertTokenizerJson(o.vocabJson)));
  const model = train(texts.filter((t) => t.length < 100000), tmp);
  const xlmr = path.join(tmp, 'xlmr.json');
  fs.writeFileSync(xlmr, JSON.stringify(xlmrTokenizerJson(model)));

  console.log(`one core (taskset -c ${o.core}), median of ${o.repeat} alternating runs, ` +
              `max_length ${MAX_LENGTH}; ${os.cpus()[0].model}`);
  console.log('| tokenizer | texts | tokens | nightshift M tok/s | HF tokenizers M tok/s | ratio (HF s ÷ ours) | range (paired) |');
  console.log('| --- | ---: | ---: | ---: | ---: | ---: | ---: |');
  benchOne('wordpiece (bert-base-uncased)', bert, bert, o);
  benchOne('sentencepiece (XLM-R ids, 8k Unigram)', model, xlmr, o);
  fs.rmSync(tmp, { recursive: true, force: true });
}

if (process.argv[2] === '--hf-child') {
  hfChild(...process.argv.slice(3)).catch((e) => { console.error(e); process.exit(1); });
} else {
  main();
}
