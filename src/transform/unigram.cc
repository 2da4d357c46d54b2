#include "transform/unigram.h"

#include <fmt/format.h>

#include <algorithm>

namespace nightshift::transform {
namespace {

// What Hugging Face's Unigram takes off the lowest score for an unknown piece.
constexpr double kUnknownPenalty = 10.0;

// The length of the UTF-8 character that starts with `lead`.
size_t CharLength(unsigned char lead) {
  if (lead < 0x80) return 1;
  if (lead < 0xE0) return 2;
  if (lead < 0xF0) return 3;
  return 4;
}

// The best split found so far of the word up to one position: its score,
// where its last piece starts (-1: none found yet) and that piece's id.
struct Best {
  double score = 0;
  int32_t start = -1;
  int32_t id = 0;
};

// Keeps `candidate` at `*best` if it is the first split found there or
// scores strictly higher (equal scores keep the earlier one).
inline void Offer(Best* best, double score, size_t start, int32_t id) {
  if (best->start < 0 || score > best->score) *best = {score, static_cast<int32_t>(start), id};
}

}  // namespace

Result<Unigram> Unigram::Build(const std::vector<std::pair<std::string, double>>& vocab,
                               int64_t unk_id, bool byte_fallback) {
  if (vocab.empty() || unk_id < 0 || unk_id >= static_cast<int64_t>(vocab.size())) {
    return Error(Code::kInvalidJob,
                 fmt::format("the unknown piece's id {} is not in the vocabulary of {} pieces",
                             unk_id, vocab.size()));
  }
  std::vector<std::string> pieces;
  std::vector<double> scores;
  pieces.reserve(vocab.size());
  scores.reserve(vocab.size());
  for (const auto& [piece, score] : vocab) {
    pieces.push_back(piece);
    scores.push_back(score);
  }
  Unigram u(PieceTrie(pieces), std::move(scores));
  u.unk_id_ = unk_id;
  u.unk_score_ = *std::min_element(u.scores_.begin(), u.scores_.end()) - kUnknownPenalty;
  u.byte_fallback_ = byte_fallback;
  for (int b = 0; b < 256; ++b) u.byte_ids_[b] = u.trie_.Find(fmt::format("<0x{:02X}>", b));
  return u;
}

void Unigram::Encode(std::string_view word, std::vector<int64_t>* ids) const {
  thread_local std::vector<Best> best;
  thread_local std::vector<std::pair<int32_t, int32_t>> path;  // (start, id), from the end
  const size_t n = word.size();
  if (n == 0) return;
  best.assign(n + 1, Best{});
  for (size_t start = 0; start < n;) {
    const double here = best[start].score;
    const size_t length = std::min(CharLength(static_cast<unsigned char>(word[start])), n - start);
    bool one_char_piece = false;
    trie_.PrefixesOf(word.substr(start), [&](size_t len, int32_t id) {
      Offer(&best[start + len], scores_[static_cast<size_t>(id)] + here, start, id);
      one_char_piece |= len == length;
    });
    if (!one_char_piece) {
      Offer(&best[start + length], unk_score_ + here, start, static_cast<int32_t>(unk_id_));
    }
    start += length;
  }
  path.clear();
  for (size_t end = n; end > 0;) {
    const Best& b = best[end];
    path.emplace_back(b.start, b.id);
    end = static_cast<size_t>(b.start);
  }
  // `path` runs from the end of the word back; read it from the front,
  // unknown pieces next to each other as one.
  for (size_t i = path.size(); i > 0;) {
    const size_t first = i - 1;
    if (path[first].second != unk_id_) {
      ids->push_back(path[first].second);
      i = first;
      continue;
    }
    size_t last = first;  // the unknown pieces path[first], ..., path[last]
    while (last > 0 && path[last - 1].second == unk_id_) --last;
    const auto start = static_cast<size_t>(path[first].first);
    const size_t stop = last == 0 ? n : static_cast<size_t>(path[last - 1].first);
    EncodeUnknown(word.substr(start, stop - start), ids);
    i = last;
  }
}

void Unigram::EncodeUnknown(std::string_view text, std::vector<int64_t>* ids) const {
  if (const int32_t id = trie_.Find(text); id >= 0) {
    ids->push_back(id);
    return;
  }
  if (byte_fallback_ && std::all_of(text.begin(), text.end(), [&](char c) {
        return byte_ids_[static_cast<unsigned char>(c)] >= 0;
      })) {
    for (char c : text) ids->push_back(byte_ids_[static_cast<unsigned char>(c)]);
    return;
  }
  ids->push_back(unk_id_);
}

}  // namespace nightshift::transform
