#include "transform/tokenizer.h"

#include <fmt/format.h>

#include "transform/sentencepiece_model.h"
#include "transform/unicode_text.h"

namespace nightshift::transform {

// Buffers kept per thread between texts, so that encoding allocates nothing
// once they have grown.
struct Tokenizer::Scratch {
  std::u32string decoded;
  std::u32string normalized;
  std::string word;
  std::string piece;
  std::vector<int64_t> body;
  std::vector<size_t> next_match;
};

namespace {

// A next_match entry not searched for yet.
constexpr size_t kNotSearched = std::string_view::npos - 1;

// The leftmost (then longest) occurrence of an added token at or after
// `pos`: its index, or -1. `next` caches each token's next occurrence.
int FindAddedToken(const std::vector<AddedToken>& added, std::string_view text, size_t pos,
                   std::vector<size_t>* next, size_t* at) {
  int best = -1;
  for (size_t t = 0; t < added.size(); ++t) {
    size_t& n = (*next)[t];
    if (n == kNotSearched || (n != std::string_view::npos && n < pos))
      n = text.find(added[t].content, pos);
    if (n == std::string_view::npos) continue;
    if (best < 0 || n < *at ||
        (n == *at && added[t].content.size() > added[static_cast<size_t>(best)].content.size())) {
      best = static_cast<int>(t);
      *at = n;
    }
  }
  return best;
}

// Where an lstrip added token found at `at` begins: before the whitespace
// that precedes it, back to `pos` at most.
size_t StartWithWhitespaceBefore(std::string_view text, size_t pos, size_t at) {
  std::u32string cp;
  while (at > pos) {
    size_t start = at - 1;
    while (start > pos && (static_cast<unsigned char>(text[start]) & 0xC0) == 0x80) --start;
    if (DecodeUtf8(text.substr(start, at - start), &cp) >= 0 || cp.size() != 1 ||
        !IsWhitespace(cp[0])) {
      break;
    }
    at = start;
  }
  return at;
}

}  // namespace

Result<std::unique_ptr<Tokenizer>> Tokenizer::FromFile(std::string_view bytes,
                                                       std::string_view path,
                                                       const std::string& where) {
  if (path.ends_with(".model")) return FromSentencePiece(bytes, where);
  return FromJson(bytes, where);
}

Status Tokenizer::EncodeStretch(std::string_view text, size_t offset, std::vector<int64_t>* ids,
                                Scratch* s) const {
  if (text.empty()) return Status::Ok();
  const int64_t bad = DecodeUtf8(text, &s->decoded);
  if (bad >= 0) {
    return Status(Code::kInvalidData,
                  fmt::format("the text is not valid UTF-8 (byte {})", offset + bad));
  }
  if (parts_.sentencepiece) {
    parts_.sentencepiece->Encode(text, ids);
    return Status::Ok();
  }
  const std::u32string* normalized = &s->decoded;
  if (parts_.normalizer) {
    s->normalized.clear();
    BertNormalize(*parts_.normalizer, s->decoded, &s->normalized);
    normalized = &s->normalized;
  }
  BertPreTokenize(*normalized, [&](size_t begin, size_t end) {
    s->word.clear();
    for (size_t i = begin; i < end; ++i) AppendUtf8((*normalized)[i], &s->word);
    parts_.model->Encode(s->word, end - begin, ids, &s->piece);
  });
  return Status::Ok();
}

Status Tokenizer::Encode(std::string_view text, int64_t max_length,
                         std::vector<int64_t>* ids) const {
  thread_local Scratch s;
  s.body.clear();
  s.next_match.assign(parts_.added.size(), kNotSearched);
  size_t pos = 0;
  for (;;) {
    size_t at = 0;
    const int t =
        parts_.added.empty() ? -1 : FindAddedToken(parts_.added, text, pos, &s.next_match, &at);
    if (t < 0) {
      NS_RETURN_IF_ERROR(EncodeStretch(text.substr(pos), pos, &s.body, &s));
      break;
    }
    const AddedToken& token = parts_.added[static_cast<size_t>(t)];
    const size_t start = token.lstrip ? StartWithWhitespaceBefore(text, pos, at) : at;
    NS_RETURN_IF_ERROR(EncodeStretch(text.substr(pos, start - pos), pos, &s.body, &s));
    s.body.push_back(token.id);
    pos = at + token.content.size();
  }
  if (max_length > 0) {
    const auto room = static_cast<size_t>(max_length - special_tokens());
    if (s.body.size() > room) s.body.resize(room);
  }
  ids->clear();
  ids->reserve(s.body.size() + parts_.before.size() + parts_.after.size());
  ids->insert(ids->end(), parts_.before.begin(), parts_.before.end());
  ids->insert(ids->end(), s.body.begin(), s.body.end());
  ids->insert(ids->end(), parts_.after.begin(), parts_.after.end());
  return Status::Ok();
}

}  // namespace nightshift::transform
