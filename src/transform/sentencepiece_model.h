// SentencePieceModel: a SentencePiece `.model` file run by libsentencepiece,
// with the ids XLM-R-style models use (fairseq's numbering: <s>=0, <pad>=1,
// </s>=2, <unk>=3, every other piece one past its SentencePiece id, <mask>
// last), and Hugging Face tokenizers' whitespace rule on top (see Encode).
//
// Tokenizer::FromSentencePiece puts it behind the same Tokenizer interface as
// a tokenizer.json: special tokens in the text, the `<s> … </s>` template and
// truncation are the Tokenizer's.
//
// Immutable once loaded; Encode may be called from many threads at once.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "nightshift/status.h"

namespace sentencepiece {
class SentencePieceProcessor;
}

namespace nightshift::transform {

class SentencePieceModel {
 public:
  // Loads the bytes of a `.model` file. InvalidJob naming `where` when the
  // file is not a SentencePiece model, or not numbered as XLM-R's is
  // (<unk>=0, <s>=1, </s>=2 in the file).
  static Result<std::unique_ptr<SentencePieceModel>> Load(std::string_view bytes,
                                                          const std::string& where);
  ~SentencePieceModel();

  // Appends the ids of `text` (valid UTF-8, no special tokens) to `ids`.
  void Encode(std::string_view text, std::vector<int64_t>* ids) const;

  // The number of ids: SentencePiece's pieces, <pad> and <mask>.
  int64_t vocab_size() const { return vocab_size_; }
  int64_t mask_id() const { return vocab_size_ - 1; }

 private:
  SentencePieceModel() = default;
  int64_t ToXlmrId(int spm_id) const;

  // `sp_` as the file says: strips and collapses whitespace. `keep_spaces_`:
  // the same model told to keep every space, used only to ask whether a
  // text's end normalizes to whitespace.
  std::unique_ptr<sentencepiece::SentencePieceProcessor> sp_;
  std::unique_ptr<sentencepiece::SentencePieceProcessor> keep_spaces_;
  int64_t vocab_size_ = 0;
  int64_t space_id_ = 0;  // the id of the piece "▁" alone (or <unk>)
};

}  // namespace nightshift::transform
