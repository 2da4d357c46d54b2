// Differential test of nightshift's SentencePiece tokenizer (the .model read
// by libsentencepiece, normalized and split by nightshift, XLM-R's ids)
// against Hugging Face tokenizers (npm `tokenizers`, its Rust core under
// node), on the real texts of test_texts.cjs and 20,000 random strings.
//
// No SentencePiece model ships offline, so one is trained here with spm_train
// (Debian's `sentencepiece`): a Unigram model numbered as XLM-R's (<unk>=0,
// <s>=1, </s>=2), nmt_nfkc normalization, 8,000 pieces, character coverage
// below 1 so that rare characters are unknown. Hugging Face's side gets the
// tokenizer.json that transformers' XLMRobertaConverter makes from that file
// (built here from the model's protobuf): the vocabulary [<s>, <pad>, </s>,
// <unk>] + pieces[3:] + [<mask>], a Precompiled normalizer with the model's
// character map, then " {2,}" -> " ", a Metaspace pre-tokenizer, the
// `<s> $A </s>` template, and the added tokens as in xlm-roberta-base's file
// (<mask> with lstrip). The ids must be identical for every text: each text
// whose ids differ is printed, and any difference fails the test.
//
// usage: node sentencepiece_diff_test.cjs TOKENIZE_IDS TOKENIZERS_DIR [SPM_TRAIN] [MAX_TEXTS]
'use strict';
const fs = require('fs');
const os = require('os');
const path = require('path');
const { execFileSync, spawnSync } = require('child_process');
const { allTexts } = require('./test_texts.cjs');

const [tokenizeIds, tokenizersDir, spmTrainArg, maxTextsArg] = process.argv.slice(2);
const spmTrain = spmTrainArg || 'spm_train';
const MAX_LENGTH = 512;

// The fields of one protobuf message: [field number, value] in file order
// (varints as BigInt, length-delimited as bytes, fixed32 as float).
function protoFields(buf) {
  const fields = [];
  let i = 0;
  const varint = () => {
    let v = 0n, shift = 0n;
    for (;;) {
      const b = buf[i++];
      v |= BigInt(b & 0x7f) << shift;
      if (!(b & 0x80)) return v;
      shift += 7n;
    }
  };
  while (i < buf.length) {
    const key = Number(varint());
    const no = key >> 3, wire = key & 7;
    if (wire === 0) fields.push([no, varint()]);
    else if (wire === 1) { fields.push([no, buf.subarray(i, i + 8)]); i += 8; }
    else if (wire === 2) { const n = Number(varint()); fields.push([no, buf.subarray(i, i + n)]); i += n; }
    else if (wire === 5) { fields.push([no, buf.readFloatLE(i)]); i += 4; }
    else throw new Error(`protobuf wire type ${wire}`);
  }
  return fields;
}

// sentencepiece.ModelProto: pieces (1: {1 piece, 2 score}) and the
// normalizer_spec's precompiled_charsmap (3: {2}).
function readModel(file) {
  const top = protoFields(fs.readFileSync(file));
  const pieces = top.filter(([n]) => n === 1).map(([, b]) => {
    const f = protoFields(b);
    const score = f.find(([n]) => n === 2);
    return { piece: Buffer.from(f.find(([n]) => n === 1)[1]).toString('utf8'), score: score ? score[1] : 0 };
  });
  const norm = protoFields(top.find(([n]) => n === 3)[1]);
  const charsmap = norm.find(([n]) => n === 2);
  return { pieces, charsmap: charsmap ? Buffer.from(charsmap[1]).toString('base64') : '' };
}

// What transformers' XLMRobertaConverter makes of the model.
function xlmrTokenizerJson(modelFile) {
  const m = readModel(modelFile);
  const vocab = [['<s>', 0], ['<pad>', 0], ['</s>', 0], ['<unk>', 0]];
  for (const p of m.pieces.slice(3)) vocab.push([p.piece, p.score]);
  vocab.push(['<mask>', 0]);
  const special = (id, content, lstrip) => ({ id, content, single_word: false, lstrip, rstrip: false,
                                              normalized: false, special: true });
  const normalizers = [{ type: 'Replace', pattern: { Regex: ' {2,}' }, content: ' ' }];
  if (m.charsmap) normalizers.unshift({ type: 'Precompiled', precompiled_charsmap: m.charsmap });
  const metaspace = { type: 'Metaspace', replacement: '\u2581', prepend_scheme: 'always', split: true };
  const tok = (id) => ({ SpecialToken: { id, type_id: 0 } });
  const seq = (id) => ({ Sequence: { id, type_id: 0 } });
  return {
    version: '1.0', truncation: null, padding: null,
    added_tokens: [special(0, '<s>', false), special(1, '<pad>', false), special(2, '</s>', false),
                   special(3, '<unk>', false), special(vocab.length - 1, '<mask>', true)],
    normalizer: { type: 'Sequence', normalizers },
    pre_tokenizer: metaspace,
    post_processor: {
      type: 'TemplateProcessing',
      single: [tok('<s>'), seq('A'), tok('</s>')],
      pair: [tok('<s>'), seq('A'), tok('</s>'), tok('</s>'), seq('B'), tok('</s>')],
      special_tokens: { '<s>': { id: '<s>', ids: [0], tokens: ['<s>'] },
                        '</s>': { id: '</s>', ids: [2], tokens: ['</s>'] } },
    },
    decoder: metaspace,
    model: { type: 'Unigram', unk_id: 3, vocab, byte_fallback: false },
  };
}

// Texts that exercise the special tokens and the whitespace around them.
function specialTokenTexts() {
  return ['<s>', '</s>x<s>', 'a <mask>', 'a\u3000\t<mask> b', '<mask><mask>', ' <mask> ', 'x <pad> y ',
          '<unk><unk>', 'a </s> ', '\u200b<mask>', 'end.\n',
          // Fullwidth: not special tokens in the text, but normalized into their spelling,
          // where the model's pieces <s>, <unk>, ... (score 0) match them.
          '\uff1cs\uff1e\uff1cmask\uff1ex\uff1cunk\uff1ey', 'a\uff1cunk\uff1e\u2603b', '\uff1cpad\uff1e',
          'ab \uff1c/s\uff1e '];
}

// `n` short random strings (a fixed seed) from the blocks where
// normalization and grapheme clusters are intricate: combining marks,
// Hangul jamo, Devanagari, Thai, emoji, regional indicators, variation
// selectors, zero-width and control characters, fullwidth forms, CJK
// compatibility, ligatures, Roman numerals; with spaces here and there.
function randomTexts(n) {
  let seed = 12345;
  const next = () => (seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648;
  const blocks = [[0x20, 0x7e], [0x300, 0x36f], [0xc0, 0x24f], [0x1100, 0x11ff], [0xac00, 0xac40],
    [0x900, 0x97f], [0x1f300, 0x1f64f], [0x200b, 0x200f], [0xfe00, 0xfe0f], [0xff01, 0xff5e],
    [0x3000, 0x303f], [0x2000, 0x206f], [0x0, 0x1f], [0xe00, 0xe7f], [0x1f1e6, 0x1f1ff],
    [0x2160, 0x2188], [0xfb00, 0xfb4f], [0x3300, 0x33ff]];
  const texts = [];
  for (let i = 0; i < n; ++i) {
    let s = '';
    for (let j = 1 + Math.floor(next() * 12); j > 0; --j) {
      const [a, b] = blocks[Math.floor(next() * blocks.length)];
      s += String.fromCodePoint(a + Math.floor(next() * (b - a + 1)));
      if (next() < 0.2) s += ' ';
    }
    texts.push(s);
  }
  return texts;
}

// Trains the test's model on `texts` in `dir`; returns the .model's path.
function train(texts, dir, spmTrain = 'spm_train') {
  const input = path.join(dir, 'train.txt');
  fs.writeFileSync(input, texts.join('\n') + '\n');
  execFileSync(spmTrain, [`--input=${input}`, `--model_prefix=${path.join(dir, 'xlmr')}`,
    '--vocab_size=8000', '--model_type=unigram', '--character_coverage=0.9995',
    '--input_sentence_size=300000', '--shuffle_input_sentence=true', '--random_seed=1', '--num_threads=2',
    '--minloglevel=2'], { stdio: ['ignore', 'ignore', 'inherit'] });
  return path.join(dir, 'xlmr.model');
}

async function main() {
  const { Tokenizer } = require(path.resolve(tokenizersDir, 'index.js'));
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'ns-spm-'));
  let texts = [...allTexts(), ...specialTokenTexts()];
  if (maxTextsArg) texts = texts.slice(0, Number(maxTextsArg));
  const model = train(texts.filter((t) => t.length < 100000), tmp, spmTrain);
  const real = texts.length;
  if (!maxTextsArg) texts.push(...randomTexts(20000));  // compared, not trained on
  const jsonPath = path.join(tmp, 'tokenizer.json');
  fs.writeFileSync(jsonPath, JSON.stringify(xlmrTokenizerJson(model)));

  const run = spawnSync(tokenizeIds, [model, String(MAX_LENGTH)], {
    input: texts.map((t) => JSON.stringify(t)).join('\n') + '\n', maxBuffer: 1 << 30,
  });
  if (run.status !== 0) throw new Error(`tokenize_ids failed: ${run.stderr}`);
  const ours = run.stdout.toString('utf8').split('\n');

  const hf = Tokenizer.fromFile(jsonPath);
  hf.setTruncation(MAX_LENGTH);
  const counts = { texts: texts.length, tokens: 0, same: 0, failed: 0 };
  for (let i = 0; i < texts.length; ++i) {
    const want = (await hf.encode(texts[i])).getIds();
    counts.tokens += want.length;
    if (ours[i] === want.join(' ')) {
      counts.same++;
      continue;
    }
    counts.failed++;
    console.log(`MISMATCH text ${i}: ${JSON.stringify(texts[i].slice(0, 300))}\n` +
                `  hf:   ${want.join(' ').slice(0, 300)}\n  ours: ${ours[i].slice(0, 300)}`);
  }
  console.log(`${counts.texts} texts (${real} real, ${counts.texts - real} random), ` +
              `${counts.tokens} tokens: ${counts.same} identical, ${counts.failed} mismatches`);
  fs.rmSync(tmp, { recursive: true, force: true });
  if (real < 1000) { console.log('too few texts: is apt-cache available?'); process.exit(1); }
  process.exit(counts.failed === 0 ? 0 : 1);
}

module.exports = { xlmrTokenizerJson, train };  // also used by bench/tokenize_bench.cjs
if (require.main === module) main().catch((e) => { console.error(e); process.exit(1); });
