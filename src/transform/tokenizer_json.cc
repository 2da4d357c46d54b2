// Tokenizer::FromJson: reads the parts of a Hugging Face tokenizer.json that
// the BERT family uses, and refuses anything else by name (a tokenizer run
// with a part left out would give wrong ids without a word).
#include <fmt/format.h>

#include <nlohmann/json.hpp>

#include "transform/tokenizer.h"

namespace nightshift::transform {
namespace {

using Json = nlohmann::json;

Status Unsupported(const std::string& where, const std::string& what) {
  return Status(Code::kInvalidJob,
                fmt::format("{}: {} (nightshift runs BERT-style WordPiece tokenizers: "
                            "BertNormalizer, BertPreTokenizer, WordPiece, TemplateProcessing "
                            "or BertProcessing)",
                            where, what));
}

std::string TypeOf(const Json& j) {
  return j.is_object() && j.contains("type") ? j["type"].dump() : j.dump();
}

Result<std::optional<BertNormalizerOptions>> ReadNormalizer(const Json& j,
                                                            const std::string& where) {
  if (j.is_null()) return std::optional<BertNormalizerOptions>();
  if (!j.is_object() || j.value("type", "") != "BertNormalizer") {
    return Error(Unsupported(where, "normalizer " + TypeOf(j) + " is not supported"));
  }
  BertNormalizerOptions o;
  o.clean_text = j.value("clean_text", true);
  o.handle_chinese_chars = j.value("handle_chinese_chars", true);
  o.lowercase = j.value("lowercase", true);
  // strip_accents: null follows lowercase, as in Hugging Face.
  const Json& strip = j.contains("strip_accents") ? j["strip_accents"] : Json();
  o.strip_accents = strip.is_boolean() ? strip.get<bool>() : o.lowercase;
  return std::optional<BertNormalizerOptions>(o);
}

Result<std::unique_ptr<WordPiece>> ReadModel(const Json& j, const std::string& where) {
  if (!j.is_object() || j.value("type", "") != "WordPiece") {
    return Error(Unsupported(where, "model " + TypeOf(j) + " is not supported"));
  }
  WordPiece::Options o;
  o.unk_token = j.value("unk_token", "[UNK]");
  o.continuing_subword_prefix = j.value("continuing_subword_prefix", "##");
  o.max_input_chars_per_word = j.value("max_input_chars_per_word", int64_t{100});
  std::unordered_map<std::string, int64_t> vocab;
  for (const auto& [piece, id] : j.at("vocab").items()) vocab.emplace(piece, id.get<int64_t>());
  if (!vocab.contains(o.unk_token)) {
    return Error(Code::kInvalidJob,
                 fmt::format("{}: the vocabulary has no unk_token '{}'", where, o.unk_token));
  }
  return std::make_unique<WordPiece>(std::move(vocab), std::move(o));
}

Result<std::vector<AddedToken>> ReadAddedTokens(const Json& j, const std::string& where) {
  std::vector<AddedToken> added;
  if (j.is_null()) return added;
  for (const Json& t : j) {
    AddedToken a{t.at("content").get<std::string>(), t.at("id").get<int64_t>()};
    if (t.value("normalized", false) || t.value("lstrip", false) || t.value("rstrip", false) ||
        t.value("single_word", false)) {
      return Error(Unsupported(where, fmt::format("added token '{}' sets normalized, lstrip, "
                                                  "rstrip or single_word, which is not supported",
                                                  a.content)));
    }
    if (!a.content.empty()) added.push_back(std::move(a));
  }
  return added;
}

// The ids of the special token `name` of a TemplateProcessing.
Result<std::vector<int64_t>> SpecialIds(const Json& specials, const std::string& name,
                                        const std::string& where) {
  if (!specials.contains(name)) {
    return Error(Code::kInvalidJob, fmt::format("{}: post_processor names special token '{}' "
                                                "but does not define it",
                                                where, name));
  }
  return specials[name].at("ids").get<std::vector<int64_t>>();
}

// TemplateProcessing's `single`: special tokens around one Sequence, every
// piece with the same type id (as BERT's and RoBERTa's templates are).
Status ReadTemplate(const Json& j, const std::string& where, TokenizerParts* parts) {
  bool seen_sequence = false;
  std::optional<int64_t> type_id;
  for (const Json& item : j.at("single")) {
    const bool is_sequence = item.contains("Sequence");
    const Json& body = is_sequence ? item["Sequence"] : item.at("SpecialToken");
    const auto t = body.value("type_id", int64_t{0});
    if (type_id && *type_id != t) {
      return Unsupported(where, "a template whose token type ids differ within one sequence");
    }
    type_id = t;
    if (is_sequence) {
      seen_sequence = true;
      continue;
    }
    NS_ASSIGN_OR_RETURN(
        std::vector<int64_t> ids,
        SpecialIds(j.at("special_tokens"), body.at("id").get<std::string>(), where));
    auto& side = seen_sequence ? parts->after : parts->before;
    side.insert(side.end(), ids.begin(), ids.end());
  }
  parts->type_id = type_id.value_or(0);
  return Status::Ok();
}

Status ReadPostProcessor(const Json& j, const std::string& where, TokenizerParts* parts) {
  if (j.is_null()) return Status::Ok();
  const std::string type = j.is_object() ? j.value("type", "") : "";
  if (type == "TemplateProcessing") return ReadTemplate(j, where, parts);
  if (type == "BertProcessing") {
    parts->before = {j.at("cls").at(1).get<int64_t>()};
    parts->after = {j.at("sep").at(1).get<int64_t>()};
    return Status::Ok();
  }
  return Unsupported(where, "post_processor " + TypeOf(j) + " is not supported");
}

Result<TokenizerParts> ReadParts(const Json& root, const std::string& where) {
  TokenizerParts parts;
  NS_ASSIGN_OR_RETURN(parts.normalizer, ReadNormalizer(root.value("normalizer", Json()), where));
  const Json pre = root.value("pre_tokenizer", Json());
  if (!pre.is_object() || pre.value("type", "") != "BertPreTokenizer") {
    return Error(Unsupported(where, "pre_tokenizer " + TypeOf(pre) + " is not supported"));
  }
  NS_ASSIGN_OR_RETURN(parts.model, ReadModel(root.at("model"), where));
  NS_ASSIGN_OR_RETURN(parts.added, ReadAddedTokens(root.value("added_tokens", Json()), where));
  NS_RETURN_IF_ERROR(ReadPostProcessor(root.value("post_processor", Json()), where, &parts));
  const Json trunc = root.value("truncation", Json());
  if (trunc.is_object()) parts.truncation_max_length = trunc.value("max_length", int64_t{0});
  return parts;
}

}  // namespace

Result<std::unique_ptr<Tokenizer>> Tokenizer::FromJson(std::string_view json,
                                                       const std::string& where) {
  Json root = Json::parse(json, nullptr, /*allow_exceptions=*/false);
  if (root.is_discarded() || !root.is_object()) {
    return Error(Code::kInvalidJob,
                 fmt::format("{}: not a tokenizer.json (not a JSON object)", where));
  }
  try {
    NS_ASSIGN_OR_RETURN(TokenizerParts parts, ReadParts(root, where));
    return std::make_unique<Tokenizer>(std::move(parts));
  } catch (const Json::exception& e) {
    // A missing or mistyped field (at(), get<>()): the file is not what it claims.
    return Error(Code::kInvalidJob,
                 fmt::format("{}: not a tokenizer.json nightshift can read: {}", where, e.what()));
  }
}

}  // namespace nightshift::transform
