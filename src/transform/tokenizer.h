// Tokenizer: turns a text into the token ids a Hugging Face tokenizer.json
// gives it, identical to the Hugging Face tokenizers library (checked against
// it by tokenizer_diff_test.cjs). Supported: the BERT family — BertNormalizer,
// BertPreTokenizer, WordPiece, and a TemplateProcessing or BertProcessing
// post-processor — with special tokens (added_tokens) matched in the raw text.
// Also a SentencePiece `.model` with XLM-R's ids (sentencepiece_model.h,
// checked by sentencepiece_diff_test.cjs).
//
// Immutable once built; Encode may be called from many threads at once.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "nightshift/status.h"
#include "transform/bert_text.h"
#include "transform/wordpiece.h"

namespace nightshift::transform {

// A token the tokenizer.json lists under added_tokens: found in the text
// as it is written and given its id, whatever the model would make of it.
struct AddedToken {
  std::string content;
  int64_t id = 0;
  bool lstrip = false;  // the match takes the whitespace before it too
};

class SentencePieceModel;

struct TokenizerParts {
  std::optional<BertNormalizerOptions> normalizer;  // nullopt: the text as it is
  std::unique_ptr<WordPiece> model;
  std::shared_ptr<const SentencePieceModel> sentencepiece;  // instead of all of the above
  std::vector<AddedToken> added;
  // The post-processor's template for one sequence: ids before and after it,
  // and the token type id of every position.
  std::vector<int64_t> before;
  std::vector<int64_t> after;
  int64_t type_id = 0;
  int64_t truncation_max_length = 0;  // the file's own truncation; 0: none
};

class Tokenizer {
 public:
  // Parses the text of a tokenizer.json. InvalidJob naming `where` (the job
  // key and file) and the part of the file it cannot use.
  static Result<std::unique_ptr<Tokenizer>> FromJson(std::string_view json,
                                                     const std::string& where);

  // Reads the bytes of a SentencePiece `.model` (sentencepiece_model.cc).
  static Result<std::unique_ptr<Tokenizer>> FromSentencePiece(std::string_view bytes,
                                                              const std::string& where);

  // A `.model` file (by its name) or a tokenizer.json.
  static Result<std::unique_ptr<Tokenizer>> FromFile(std::string_view bytes, std::string_view path,
                                                     const std::string& where);

  explicit Tokenizer(TokenizerParts parts) : parts_(std::move(parts)) {}

  // Sets `ids` to the ids of `text`, special tokens included, truncated so
  // that there are at most `max_length` (0: no limit) in all.
  // InvalidData naming the byte offset when `text` is not valid UTF-8.
  // REQUIRES: max_length is 0 or >= special_tokens().
  Status Encode(std::string_view text, int64_t max_length, std::vector<int64_t>* ids) const;

  // How many special tokens the template adds to one sequence.
  int64_t special_tokens() const {
    return static_cast<int64_t>(parts_.before.size() + parts_.after.size());
  }
  int64_t type_id() const { return parts_.type_id; }
  int64_t truncation_max_length() const { return parts_.truncation_max_length; }

 private:
  struct Scratch;
  // The ids of one stretch of text between added tokens, appended to `ids`.
  // `offset` is where it starts in the whole text (for messages).
  Status EncodeStretch(std::string_view text, size_t offset, std::vector<int64_t>* ids,
                       Scratch* s) const;

  TokenizerParts parts_;
};

}  // namespace nightshift::transform
