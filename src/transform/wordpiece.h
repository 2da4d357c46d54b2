// WordPiece: Hugging Face tokenizers' WordPiece model. A word is cut greedily
// into the longest vocabulary pieces from its start, every piece after the
// first looked up with the continuation prefix ("##"); a word with a part no
// piece covers, or longer than max_input_chars_per_word characters, is the
// unknown token as a whole.
//
// Immutable once built; Encode may be called from many threads.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace nightshift::transform {

class WordPiece {
 public:
  struct Options {
    std::string unk_token = "[UNK]";
    std::string continuing_subword_prefix = "##";
    int64_t max_input_chars_per_word = 100;
  };

  // REQUIRES: `vocab` holds options.unk_token (the caller checks).
  WordPiece(std::unordered_map<std::string, int64_t> vocab, Options options);

  // Appends the ids of `word` (UTF-8, `chars` code points long) to `ids`.
  // `scratch` is a buffer the caller keeps between calls.
  void Encode(std::string_view word, size_t chars, std::vector<int64_t>* ids,
              std::string* scratch) const;

  // The id of `piece`, or -1.
  int64_t Find(std::string_view piece) const;

 private:
  struct Hash {
    using is_transparent = void;
    size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
  };
  std::unordered_map<std::string, int64_t, Hash, std::equal_to<>> vocab_;
  Options options_;
  int64_t unk_id_ = 0;
};

}  // namespace nightshift::transform
