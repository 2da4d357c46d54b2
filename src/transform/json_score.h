// JsonScore: a SentencePiece piece's score as Hugging Face tokenizers holds
// it. A `.model` stores float32 scores; transformers' converter writes them
// to tokenizer.json as the shortest decimal that reads back as the same
// float64 (Python's repr), and tokenizers reads that decimal with serde_json's
// default, fast float parsing: the digits as an integer, rounded to float64,
// then one multiplication or division by a power of ten. That rounds twice,
// so about one score in four ends up one unit in the last place away from
// the float32's exact value. Two splits of a word that tie exactly with the
// exact scores then no longer tie, and Hugging Face picks the one its
// rounded scores favour; to give the same ids, the Viterbi search must add
// up the same rounded scores.
#pragma once

namespace nightshift::transform {

// `score` written as its shortest round-trip decimal and read back the way
// serde_json does without its `float_roundtrip` feature. Finite input.
double JsonScore(double score);

}  // namespace nightshift::transform
