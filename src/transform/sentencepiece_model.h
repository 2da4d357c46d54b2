// SentencePieceModel: a SentencePiece `.model` file run by libsentencepiece,
// with the ids XLM-R-style models use (fairseq's numbering: <s>=0, <pad>=1,
// </s>=2, <unk>=3, every other piece one past its SentencePiece id, <mask>
// last), and Hugging Face tokenizers' whitespace rule on top (see Encode).
//
// Tokenizer::FromSentencePiece puts it behind the same Tokenizer interface as
// a tokenizer.json: special tokens in the text, the `<s> … </s>` template and
// truncation are the Tokenizer's.
//
// libsentencepiece is not linked into nightshift: it carries its own copy of
// protobuf, whose symbols would take the place of libtorch's protobuf in the
// process (a crash when the TorchScript backend loads). It lives in the module
// libnightshift_sentencepiece.so (sentencepiece_plugin.cc), loaded with
// RTLD_LOCAL the first time a job names a .model file.
//
// Immutable once loaded; Encode may be called from many threads at once.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "nightshift/status.h"

namespace nightshift::transform {

class SentencePieceModel {
 public:
  // Loads the bytes of a `.model` file through the sentencepiece module.
  // InvalidJob naming `where` when the file is not a SentencePiece model, or
  // not numbered as XLM-R's is (<unk>=0, <s>=1, </s>=2 in the file), or when
  // the module cannot be loaded.
  static Result<std::unique_ptr<SentencePieceModel>> Load(std::string_view bytes,
                                                          const std::string& where);
  virtual ~SentencePieceModel() = default;

  // Appends the ids of `text` (valid UTF-8, no special tokens) to `ids`.
  virtual void Encode(std::string_view text, std::vector<int64_t>* ids) const = 0;

  // The number of ids: SentencePiece's pieces, <pad> and <mask>.
  virtual int64_t vocab_size() const = 0;
  int64_t mask_id() const { return vocab_size() - 1; }
};

// The module's entry (extern "C", see sentencepiece_plugin.cc): a new model
// from `size` bytes, or nullptr with `*error` set.
using NsLoadSentencePieceFn = SentencePieceModel* (*)(const char* bytes, size_t size,
                                                      const std::string* where, Status* error);
inline constexpr const char* kSentencePieceEntry = "nightshift_load_sentencepiece";

}  // namespace nightshift::transform
