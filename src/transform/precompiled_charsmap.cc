#include "transform/precompiled_charsmap.h"

#include <utf8proc.h>

#include <cstring>

#include "transform/unicode_text.h"

namespace nightshift::transform {
namespace {

// The fields of one unit of the double array (darts-clone's layout, which
// SentencePiece uses).
bool HasLeaf(uint32_t unit) {
  return (unit >> 8) & 1;
}
uint32_t Value(uint32_t unit) {
  return unit & ((1u << 31) - 1);
}
uint32_t Label(uint32_t unit) {
  return unit & ((1u << 31) | 0xFF);
}
uint32_t Offset(uint32_t unit) {
  return (unit >> 10) << ((unit & (1u << 9)) >> 6);
}

// Where the grapheme cluster that starts at `i` ends.
size_t ClusterEnd(std::string_view s, size_t i) {
  const auto* p = reinterpret_cast<const utf8proc_uint8_t*>(s.data());
  const auto n = static_cast<utf8proc_ssize_t>(s.size());
  // An ASCII character followed by another (or by nothing) is a cluster of
  // its own, except CR LF: the common case, without decoding.
  const auto c = static_cast<unsigned char>(s[i]);
  if (c < 0x80) {
    if (i + 1 == s.size()) return i + 1;
    const auto next = static_cast<unsigned char>(s[i + 1]);
    if (next < 0x80 && !(c == '\r' && next == '\n')) return i + 1;
  }
  utf8proc_int32_t first = 0, second = 0, state = 0;
  auto at = static_cast<utf8proc_ssize_t>(i);
  at += std::max<utf8proc_ssize_t>(1, utf8proc_iterate(p + at, n - at, &first));
  while (at < n) {
    const utf8proc_ssize_t len = utf8proc_iterate(p + at, n - at, &second);
    if (len <= 0 || utf8proc_grapheme_break_stateful(first, second, &state)) break;
    at += len;
    first = second;
  }
  return static_cast<size_t>(at);
}

// The length of the UTF-8 character that starts with `lead`.
size_t CharLength(unsigned char lead) {
  if (lead < 0x80) return 1;
  if (lead < 0xE0) return 2;
  if (lead < 0xF0) return 3;
  return 4;
}

}  // namespace

Result<PrecompiledCharsmap> PrecompiledCharsmap::Parse(std::string_view bytes) {
  uint32_t trie_size = 0;
  if (bytes.size() < 4) return Error(Code::kInvalidJob, "the charsmap is shorter than 4 bytes");
  std::memcpy(&trie_size, bytes.data(), 4);  // little-endian, as this machine
  if (trie_size % 4 != 0 || trie_size > bytes.size() - 4 || trie_size == 0) {
    return Error(Code::kInvalidJob, "the charsmap's trie size does not fit its bytes");
  }
  PrecompiledCharsmap m;
  m.units_.resize(trie_size / 4);
  std::memcpy(m.units_.data(), bytes.data() + 4, trie_size);
  m.replacements_ = std::string(bytes.substr(4 + trie_size));
  std::u32string decoded;
  if (DecodeUtf8(m.replacements_, &decoded) >= 0) {
    return Error(Code::kInvalidJob, "the charsmap's replacements are not valid UTF-8");
  }
  for (int c = 0; c < 128; ++c) {
    const char ch = static_cast<char>(c);
    std::string_view r;
    m.ascii_[c] = {0, -1};
    if (m.Lookup(std::string_view(&ch, 1), &r)) {
      m.ascii_[c] = {static_cast<uint32_t>(r.data() - m.replacements_.data()),
                     static_cast<int32_t>(r.size())};
    }
  }
  return m;
}

bool PrecompiledCharsmap::Lookup(std::string_view key, std::string_view* replacement) const {
  uint32_t pos = Offset(units_[0]);
  for (char ch : key) {
    const auto c = static_cast<unsigned char>(ch);
    if (c == 0) return false;
    pos ^= c;
    if (pos >= units_.size()) return false;
    const uint32_t unit = units_[pos];
    if (Label(unit) != c) return false;
    pos ^= Offset(unit);
    if (!HasLeaf(unit)) continue;
    if (pos >= units_.size()) return false;
    const size_t begin = Value(units_[pos]);
    if (begin > replacements_.size()) return false;
    const size_t end = replacements_.find('\0', begin);
    *replacement = std::string_view(replacements_).substr(begin, end - begin);
    return true;  // the shortest match: Hugging Face takes the first
  }
  return false;
}

void PrecompiledCharsmap::Normalize(std::string_view text, std::string* out) const {
  for (size_t i = 0; i < text.size();) {
    const size_t end = ClusterEnd(text, i);
    const std::string_view cluster = text.substr(i, end - i);
    i = end;
    if (cluster.size() == 1) {
      const auto [at, len] = ascii_[static_cast<unsigned char>(cluster[0]) & 0x7F];
      if (len < 0) {
        out->push_back(cluster[0]);
      } else {
        out->append(replacements_, at, static_cast<size_t>(len));
      }
      continue;
    }
    if (cluster.size() < 6 && Replace(cluster, out)) continue;
    for (size_t c = 0; c < cluster.size();) {
      const size_t len =
          std::min(CharLength(static_cast<unsigned char>(cluster[c])), cluster.size() - c);
      if (!Replace(cluster.substr(c, len), out)) out->append(cluster.substr(c, len));
      c += len;
    }
  }
}

}  // namespace nightshift::transform
