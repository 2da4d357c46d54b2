// PrecompiledCharsmap: a SentencePiece model's normalization rules (its
// normalizer_spec.precompiled_charsmap: a double-array trie of the strings
// to replace and a blob of their replacements) applied as Hugging Face
// tokenizers' `Precompiled` normalizer applies them, which is not quite how
// SentencePiece does:
//
//  - the text is cut into grapheme clusters (utf8proc's rules); a cluster of
//    fewer than 6 bytes that starts with a string in the map is replaced
//    whole by the replacement of the SHORTEST such string — the rest of the
//    cluster is dropped ("o" + U+0308 + U+0304 becomes "ö");
//  - otherwise each character of the cluster is replaced on its own when it
//    starts with a string in the map, or kept.
//
// SentencePiece instead replaces the longest matching string wherever it
// starts and keeps the rest. Following Hugging Face is what makes the ids
// equal to its ids (sentencepiece_diff_test.cjs).
//
// Immutable once parsed; Normalize may be called from many threads at once.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "nightshift/status.h"

namespace nightshift::transform {

class PrecompiledCharsmap {
 public:
  // Parses the bytes: a little-endian uint32 (the trie's size in bytes),
  // the trie's 32-bit units, then the replacements, each ended by a NUL.
  // InvalidJob saying what is wrong.
  static Result<PrecompiledCharsmap> Parse(std::string_view bytes);

  // Appends `text` (valid UTF-8) normalized to `out`.
  void Normalize(std::string_view text, std::string* out) const;

 private:
  // Where the replacement of the shortest string in the map that `key`
  // starts with lies in replacements_, or false when there is none.
  // Matching stops at a NUL byte in `key`, as Hugging Face's does.
  bool Lookup(std::string_view key, std::string_view* replacement) const;
  // Appends the replacement of `chars` (one cluster or one character) to
  // `out` and returns true, or returns false when there is none.
  bool Replace(std::string_view chars, std::string* out) const {
    std::string_view r;
    if (!Lookup(chars, &r)) return false;
    out->append(r);
    return true;
  }

  std::vector<uint32_t> units_;
  std::string replacements_;
  // For a cluster of one ASCII character: its replacement as (offset,
  // length) in replacements_, or length -1 when it has none.
  std::array<std::pair<uint32_t, int32_t>, 128> ascii_{};
};

}  // namespace nightshift::transform
