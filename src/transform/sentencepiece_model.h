// SentencePieceModel: a SentencePiece `.model` file with the ids XLM-R-style
// models use (fairseq's numbering: <s>=0, <pad>=1, </s>=2, <unk>=3, every
// other piece one past its SentencePiece id, <mask> last), encoding texts
// exactly as Hugging Face tokenizers does with the tokenizer.json that
// transformers' XLMRobertaConverter makes of the file (see Encode).
//
// Tokenizer::FromSentencePiece puts it behind the same Tokenizer interface as
// a tokenizer.json: special tokens in the text, the `<s> … </s>` template and
// truncation are the Tokenizer's.
//
// Only reading the file is libsentencepiece's (Debian's): it checks the
// model and hands over its pieces, scores and normalization rules. The
// normalization (precompiled_charsmap.h) and the Viterbi search (unigram.h)
// are nightshift's, because libsentencepiece's differ from Hugging Face's
// (float32 scores, longest-match normalization). libsentencepiece is not
// linked into nightshift: it carries its own copy of protobuf, whose symbols
// would take the place of libtorch's protobuf in the process (a crash when
// the TorchScript backend loads). It lives in the module
// libnightshift_sentencepiece.so (sentencepiece_plugin.cc), loaded with
// RTLD_LOCAL the first time a job names a .model file.
//
// Immutable once loaded; Encode may be called from many threads at once.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "nightshift/status.h"
#include "transform/precompiled_charsmap.h"
#include "transform/unigram.h"

namespace nightshift::transform {

// What the sentencepiece module reads from a `.model` file.
struct SentencePieceContents {
  std::vector<std::string> pieces;  // in SentencePiece's id order
  std::vector<float> scores;
  std::string precompiled_charsmap;  // normalizer_spec's; empty: no normalization
};

class SentencePieceModel {
 public:
  // Loads the bytes of a `.model` file through the sentencepiece module.
  // InvalidJob naming `where` when the file is not a SentencePiece model, or
  // not numbered as XLM-R's is (<unk>=0, <s>=1, </s>=2 in the file), or when
  // the module cannot be loaded.
  static Result<std::unique_ptr<SentencePieceModel>> Load(std::string_view bytes,
                                                          const std::string& where);
  // The same from what the module read (also for tests).
  static Result<std::unique_ptr<SentencePieceModel>> FromContents(
      const SentencePieceContents& contents, const std::string& where);

  // Appends the ids of `text` (valid UTF-8, no special tokens) to `ids`.
  void Encode(std::string_view text, std::vector<int64_t>* ids) const;

  // The number of ids: SentencePiece's pieces, <pad> and <mask>.
  int64_t vocab_size() const { return vocab_size_; }
  int64_t mask_id() const { return vocab_size() - 1; }

 private:
  SentencePieceModel(std::optional<PrecompiledCharsmap> charsmap, Unigram unigram,
                     int64_t vocab_size)
      : charsmap_(std::move(charsmap)), unigram_(std::move(unigram)), vocab_size_(vocab_size) {}

  std::optional<PrecompiledCharsmap> charsmap_;
  Unigram unigram_;
  int64_t vocab_size_ = 0;
};

// The module's entry (extern "C", see sentencepiece_plugin.cc): reads
// `size` bytes into `*out` and returns true, or returns false with `*error`
// set.
using NsReadSentencePieceFn = bool (*)(const char* bytes, size_t size, const std::string* where,
                                       SentencePieceContents* out, Status* error);
inline constexpr const char* kSentencePieceEntry = "nightshift_read_sentencepiece";

}  // namespace nightshift::transform
