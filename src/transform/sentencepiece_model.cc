#include "transform/sentencepiece_model.h"

#include <fmt/format.h>

#include "backends/plugin.h"
#include "transform/tokenizer.h"

namespace nightshift::transform {
namespace {

// XLM-R's fairseq numbering, as Hugging Face's XLMRobertaTokenizer has it.
constexpr int64_t kBos = 0, kPad = 1, kEos = 2, kUnk = 3;

}  // namespace

Result<std::unique_ptr<SentencePieceModel>> SentencePieceModel::Load(std::string_view bytes,
                                                                     const std::string& where) {
  auto entry = LoadPluginEntry("sentencepiece", kSentencePieceEntry);
  if (!entry.has_value()) {
    return Error(Code::kInvalidJob, fmt::format("{}: cannot read SentencePiece models: {}", where,
                                                entry.error().message()));
  }
  Status error;
  SentencePieceModel* m =
      reinterpret_cast<NsLoadSentencePieceFn>(*entry)(bytes.data(), bytes.size(), &where, &error);
  if (m == nullptr) return std::unexpected(error);
  return std::unique_ptr<SentencePieceModel>(m);
}

Result<std::unique_ptr<Tokenizer>> Tokenizer::FromSentencePiece(std::string_view bytes,
                                                                const std::string& where) {
  NS_ASSIGN_OR_RETURN(std::unique_ptr<SentencePieceModel> model,
                      SentencePieceModel::Load(bytes, where));
  TokenizerParts parts;
  // Hugging Face's XLM-R tokenizer finds these in the text as written;
  // <mask> also takes the whitespace before it (lstrip).
  parts.added = {{"<s>", kBos},
                 {"<pad>", kPad},
                 {"</s>", kEos},
                 {"<unk>", kUnk},
                 {"<mask>", model->mask_id(), /*lstrip=*/true}};
  parts.before = {kBos};
  parts.after = {kEos};
  parts.sentencepiece = std::move(model);
  return std::make_unique<Tokenizer>(std::move(parts));
}

}  // namespace nightshift::transform
