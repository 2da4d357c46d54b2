// BERT's text rules, as Hugging Face tokenizers' BertNormalizer and
// BertPreTokenizer apply them: normalising a text and cutting it into words.
#pragma once

#include <functional>
#include <string>

namespace nightshift::transform {

struct BertNormalizerOptions {
  bool clean_text = true;            // drop NUL, U+FFFD and controls; whitespace becomes ' '
  bool handle_chinese_chars = true;  // a space either side of every CJK ideograph
  bool strip_accents = true;         // NFD, then drop nonspacing marks
  bool lowercase = true;
};

// Appends the normalised form of `text` to `out`, in BertNormalizer's order:
// clean, CJK spacing, strip accents, lowercase. Every step looks at one
// character at a time, so the whole is done in one pass.
void BertNormalize(const BertNormalizerOptions& options, const std::u32string& text,
                   std::u32string* out);

// Calls `word(begin, end)` for each word of `text` in order: runs of
// characters split at whitespace (dropped) and at punctuation (each
// punctuation character is a word of its own), as BertPreTokenizer does.
void BertPreTokenize(const std::u32string& text,
                     const std::function<void(size_t begin, size_t end)>& word);

}  // namespace nightshift::transform
