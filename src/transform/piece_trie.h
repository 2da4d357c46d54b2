// PieceTrie: the pieces of a Unigram vocabulary in a byte trie, for the
// Viterbi search's question "which pieces start here?" (unigram.h).
//
// Built once from the pieces in id order; a piece listed twice answers with
// its last id, as a Hugging Face tokenizer.json's vocabulary map does.
// Immutable once built.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace nightshift::transform {

class PieceTrie {
 public:
  explicit PieceTrie(const std::vector<std::string>& pieces);

  // Calls `found(length, id)` for every piece that is a prefix of `text`,
  // shortest first.
  template <typename F>
  void PrefixesOf(std::string_view text, F&& found) const {
    if (text.empty()) return;
    uint32_t node = root_[static_cast<unsigned char>(text[0])];
    for (size_t depth = 1; node != 0; ++depth) {
      const Node& n = nodes_[node];
      if (n.id >= 0) found(depth, n.id);
      if (depth == text.size()) break;
      node = Child(n, static_cast<unsigned char>(text[depth]));
    }
  }

  // The id of the piece `text`, or -1.
  int32_t Find(std::string_view text) const;

 private:
  // A node's children are the nodes [first_child, first_child + children),
  // in increasing order of label.
  struct Node {
    uint32_t first_child = 0;
    uint32_t children = 0;
    int32_t id = -1;  // the piece that ends here, or -1
    unsigned char label = 0;
  };

  // The child of `n` labelled `byte`, or 0 (the root is no one's child).
  uint32_t Child(const Node& n, unsigned char byte) const {
    for (uint32_t c = n.first_child, end = n.first_child + n.children; c < end; ++c) {
      if (nodes_[c].label == byte) return c;
      if (nodes_[c].label > byte) break;
    }
    return 0;
  }

  std::vector<Node> nodes_;              // nodes_[0] is the root
  std::array<uint32_t, 256> root_ = {};  // the root's children by first byte
};

}  // namespace nightshift::transform
