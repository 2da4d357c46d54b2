// Unigram: the Viterbi search of a Unigram model (SentencePiece's kind), as
// Hugging Face tokenizers' `Unigram` model does it, so that the ids are
// identical to its: the best split of a word is the one whose pieces' scores
// (float64) add up highest, the sum starting at 0 for every word.
//
//  - Ties: a split replaces the best one found so far for a position only
//    when it scores strictly higher; positions are tried from the start of
//    the word, and at each the pieces shortest first. So of equal splits
//    the one whose last piece starts earliest wins.
//  - A character no piece of its own length covers may also be an unknown
//    piece, scored as the lowest score in the vocabulary minus 10.
//  - Unknown pieces next to each other become one (Hugging Face's fuse_unk),
//    whose text is looked up in the vocabulary and is otherwise the unknown
//    id, or with byte_fallback the pieces `<0xXX>` of its bytes when the
//    vocabulary has all of them.
//
// Immutable once built; Encode may be called from many threads at once.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "nightshift/status.h"
#include "transform/piece_trie.h"

namespace nightshift::transform {

class Unigram {
 public:
  // `vocab`: the pieces and their scores, in id order. InvalidJob when
  // it is empty or `unk_id` is not one of its ids.
  static Result<Unigram> Build(const std::vector<std::pair<std::string, double>>& vocab,
                               int64_t unk_id, bool byte_fallback);

  // Appends the ids of `word` (one pre-token, valid UTF-8) to `ids`.
  void Encode(std::string_view word, std::vector<int64_t>* ids) const;

  double unk_score() const { return unk_score_; }

 private:
  Unigram(PieceTrie trie, std::vector<double> scores)
      : trie_(std::move(trie)), scores_(std::move(scores)) {}
  // The ids of a run of unknown pieces.
  void EncodeUnknown(std::string_view text, std::vector<int64_t>* ids) const;

  PieceTrie trie_;
  std::vector<double> scores_;
  int64_t unk_id_ = 0;
  double unk_score_ = 0;
  bool byte_fallback_ = false;
  std::array<int32_t, 256> byte_ids_{};  // the id of `<0xXX>`, or -1
};

}  // namespace nightshift::transform
