#include "transform/piece_trie.h"

#include <algorithm>
#include <numeric>

namespace nightshift::transform {

PieceTrie::PieceTrie(const std::vector<std::string>& pieces) {
  // Pieces in byte order (equal pieces by id), so that the pieces under one
  // node are a range; nodes are made breadth first, each node's children
  // together, so that they are a range too.
  std::vector<uint32_t> order(pieces.size());
  std::iota(order.begin(), order.end(), 0u);
  std::stable_sort(order.begin(), order.end(),
                   [&](uint32_t a, uint32_t b) { return pieces[a] < pieces[b]; });
  struct Pending {
    uint32_t node, lo, hi, depth;
  };
  std::vector<Pending> queue{{0, 0, static_cast<uint32_t>(order.size()), 0}};
  nodes_.emplace_back();
  for (size_t q = 0; q < queue.size(); ++q) {
    auto [node, lo, hi, depth] = queue[q];
    // Pieces that end here: equal, sorted by id, so the last is the last id.
    while (lo < hi && pieces[order[lo]].size() == depth) {
      if (depth > 0) nodes_[node].id = static_cast<int32_t>(order[lo]);
      ++lo;
    }
    nodes_[node].first_child = static_cast<uint32_t>(nodes_.size());
    while (lo < hi) {
      const auto label = static_cast<unsigned char>(pieces[order[lo]][depth]);
      uint32_t end = lo;
      while (end < hi && static_cast<unsigned char>(pieces[order[end]][depth]) == label) ++end;
      const auto child = static_cast<uint32_t>(nodes_.size());
      nodes_.emplace_back().label = label;
      ++nodes_[node].children;
      if (node == 0) root_[label] = child;
      queue.push_back({child, lo, end, depth + 1});
      lo = end;
    }
  }
}

int32_t PieceTrie::Find(std::string_view text) const {
  int32_t id = -1;
  PrefixesOf(text, [&](size_t length, int32_t found) {
    if (length == text.size()) id = found;
  });
  return id;
}

}  // namespace nightshift::transform
