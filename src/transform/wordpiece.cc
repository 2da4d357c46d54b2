#include "transform/wordpiece.h"

namespace nightshift::transform {
namespace {

// True at the first byte of a UTF-8 character.
bool CharStart(char c) {
  return (static_cast<unsigned char>(c) & 0xC0) != 0x80;
}

}  // namespace

WordPiece::WordPiece(std::unordered_map<std::string, int64_t> vocab, Options options)
    : options_(std::move(options)) {
  vocab_.reserve(vocab.size());
  for (auto& [piece, id] : vocab) vocab_.emplace(piece, id);
  unk_id_ = Find(options_.unk_token);
}

int64_t WordPiece::Find(std::string_view piece) const {
  auto it = vocab_.find(piece);
  return it == vocab_.end() ? -1 : it->second;
}

void WordPiece::Encode(std::string_view word, size_t chars, std::vector<int64_t>* ids,
                       std::string* scratch) const {
  if (static_cast<int64_t>(chars) > options_.max_input_chars_per_word) {
    ids->push_back(unk_id_);
    return;
  }
  const size_t before = ids->size();
  const std::string& prefix = options_.continuing_subword_prefix;
  size_t start = 0;
  while (start < word.size()) {
    int64_t found = -1;
    size_t end = word.size();
    for (; end > start; --end) {
      if (end < word.size() && !CharStart(word[end])) continue;
      std::string_view piece = word.substr(start, end - start);
      if (start > 0) {
        scratch->assign(prefix);
        scratch->append(piece);
        piece = *scratch;
      }
      found = Find(piece);
      if (found >= 0) break;
    }
    if (found < 0) {  // a part no piece covers: the whole word is unknown
      ids->resize(before);
      ids->push_back(unk_id_);
      return;
    }
    ids->push_back(found);
    start = end;
  }
}

}  // namespace nightshift::transform
