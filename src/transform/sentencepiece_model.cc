#include "transform/sentencepiece_model.h"

#include <fmt/format.h>

#include "backends/plugin.h"
#include "transform/json_score.h"
#include "transform/tokenizer.h"

namespace nightshift::transform {
namespace {

// XLM-R's fairseq numbering, as Hugging Face's XLMRobertaTokenizer has it.
constexpr int64_t kBos = 0, kPad = 1, kEos = 2, kUnk = 3;

// The piece "▁" (U+2581) that stands for a space.
constexpr std::string_view kMeta = "\xe2\x96\x81";

// XLMRobertaConverter's vocabulary: <s>, <pad>, </s>, <unk> (score 0), the
// model's pieces from its id 3 on with their scores (as float64, read the
// way Hugging Face reads them from tokenizer.json: see json_score.h), <mask>.
std::vector<std::pair<std::string, double>> XlmrVocab(const SentencePieceContents& c) {
  std::vector<std::pair<std::string, double>> vocab{
      {"<s>", 0.0}, {"<pad>", 0.0}, {"</s>", 0.0}, {"<unk>", 0.0}};
  vocab.reserve(c.pieces.size() + 2);
  for (size_t i = 3; i < c.pieces.size(); ++i)
    vocab.emplace_back(c.pieces[i], JsonScore(c.scores[i]));
  vocab.emplace_back("<mask>", 0.0);
  return vocab;
}

}  // namespace

Result<std::unique_ptr<SentencePieceModel>> SentencePieceModel::Load(std::string_view bytes,
                                                                     const std::string& where) {
  auto entry = LoadPluginEntry("sentencepiece", kSentencePieceEntry);
  if (!entry.has_value()) {
    return Error(Code::kInvalidJob, fmt::format("{}: cannot read SentencePiece models: {}", where,
                                                entry.error().message()));
  }
  SentencePieceContents contents;
  Status error;
  if (!reinterpret_cast<NsReadSentencePieceFn>(*entry)(bytes.data(), bytes.size(), &where,
                                                       &contents, &error)) {
    return std::unexpected(error);
  }
  return FromContents(contents, where);
}

Result<std::unique_ptr<SentencePieceModel>> SentencePieceModel::FromContents(
    const SentencePieceContents& contents, const std::string& where) {
  std::optional<PrecompiledCharsmap> charsmap;
  if (!contents.precompiled_charsmap.empty()) {
    auto parsed = PrecompiledCharsmap::Parse(contents.precompiled_charsmap);
    if (!parsed.has_value()) {
      return Error(Code::kInvalidJob, fmt::format("{}: the model's normalization rules: {}", where,
                                                  parsed.error().message()));
    }
    charsmap = std::move(*parsed);
  }
  if (contents.pieces.size() < 3 || contents.scores.size() != contents.pieces.size()) {
    return Error(Code::kInvalidJob, fmt::format("{}: a SentencePiece model of {} pieces", where,
                                                contents.pieces.size()));
  }
  const auto vocab = XlmrVocab(contents);
  NS_ASSIGN_OR_RETURN(Unigram unigram, Unigram::Build(vocab, kUnk, /*byte_fallback=*/false));
  return std::unique_ptr<SentencePieceModel>(new SentencePieceModel(
      std::move(charsmap), std::move(unigram), static_cast<int64_t>(vocab.size())));
}

// Hugging Face's pipeline for the converted tokenizer: the Precompiled
// normalizer, runs of two or more spaces made one, then the Metaspace
// pre-tokenizer (every space becomes "▁", a "▁" goes in front unless the
// text starts with one, and each "▁" starts a new word), then the Unigram
// model on each word by itself. So whitespace at the end of a text is one
// last "▁" piece, where SentencePiece alone would drop it.
void SentencePieceModel::Encode(std::string_view text, std::vector<int64_t>* ids) const {
  thread_local std::string normalized, spaced;
  std::string_view t = text;
  if (charsmap_) {
    normalized.clear();
    charsmap_->Normalize(text, &normalized);
    t = normalized;
  }
  if (t.empty()) return;
  spaced.assign(kMeta);
  bool after_space = false;
  for (char c : t) {
    if (c != ' ') {
      spaced.push_back(c);
    } else if (!after_space) {
      spaced.append(kMeta);
    }
    after_space = c == ' ';
  }
  std::string_view s = spaced;
  if (s.substr(kMeta.size()).starts_with(kMeta)) s.remove_prefix(kMeta.size());
  for (size_t begin = 0; begin < s.size();) {
    const size_t next = std::min(s.find(kMeta, begin + 1), s.size());
    unigram_.Encode(s.substr(begin, next - begin), ids);
    begin = next;
  }
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
