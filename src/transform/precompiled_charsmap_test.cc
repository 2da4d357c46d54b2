// PrecompiledCharsmap on a charsmap built here by hand (darts-clone's
// double-array layout): "a" -> "x", "e" -> "E", "ab" -> "Y".
#include "transform/precompiled_charsmap.h"

#include <gtest/gtest.h>

#include <cstring>
#include <string>
#include <vector>

namespace nightshift::transform {
namespace {

constexpr uint32_t kLeaf = 1u << 8;

// A unit: label, whether a string ends there, and its children's offset.
uint32_t Unit(unsigned char label, bool leaf, uint32_t offset) {
  return label | (leaf ? kLeaf : 0) | (offset << 10);
}

std::string Charsmap() {
  std::vector<uint32_t> units(1024, 0);
  units[0] = Unit(0, false, 256);           // the root's children at 256 ^ byte
  units[256 ^ 'a'] = Unit('a', true, 1);    // "a": value at (256 ^ 'a') ^ 1
  units[(256 ^ 'a') ^ 1] = (1u << 31) | 0;  // "x"
  units[256 ^ 'e'] = Unit('e', true, 1);
  units[(256 ^ 'e') ^ 1] = (1u << 31) | 2;  // "E"
  const uint32_t after_a = (256 ^ 'a') ^ 1;
  units[after_a ^ 'b'] = Unit('b', true, 1);
  units[(after_a ^ 'b') ^ 1] = (1u << 31) | 4;  // "Y"
  const std::string replacements("x\0E\0Y\0", 6);
  std::string bytes(4 + units.size() * 4, '\0');
  const uint32_t size = static_cast<uint32_t>(units.size() * 4);
  std::memcpy(bytes.data(), &size, 4);
  std::memcpy(bytes.data() + 4, units.data(), size);
  return bytes + replacements;
}

std::string Normalized(std::string_view text) {
  auto m = PrecompiledCharsmap::Parse(Charsmap());
  EXPECT_TRUE(m.has_value()) << m.error().message();
  std::string out;
  m->Normalize(text, &out);
  return out;
}

TEST(PrecompiledCharsmapTest, ReplacesWhatTheMapHolds) {
  EXPECT_EQ(Normalized("cat"), "cxt");
  EXPECT_EQ(Normalized("be\xc3\xa9"), "bE\xc3\xa9");  // é is not in the map
  EXPECT_EQ(Normalized(""), "");
  EXPECT_EQ(Normalized(std::string_view("a\0a", 3)), std::string("x\0x", 3));
}

TEST(PrecompiledCharsmapTest, TheShortestMatchOfEachClusterWins) {
  // "a" and "b" are clusters of their own: "ab" is never looked up whole.
  EXPECT_EQ(Normalized("ab"), "xb");
}

TEST(PrecompiledCharsmapTest, AShortClusterIsReplacedWholeByItsFirstCharactersMapping) {
  // e + U+0301 (3 bytes, one cluster): "e" matches, the accent is dropped,
  // as Hugging Face's Precompiled does.
  EXPECT_EQ(Normalized("e\xcc\x81!"), "E!");
  // A cluster of 6 bytes or more goes character by character.
  EXPECT_EQ(Normalized("e\xcc\x81\xcc\x81\xcc\x81"), "E\xcc\x81\xcc\x81\xcc\x81");
}

TEST(PrecompiledCharsmapTest, BrokenCharsmapsAreRefused) {
  EXPECT_FALSE(PrecompiledCharsmap::Parse("ab").has_value());
  EXPECT_FALSE(PrecompiledCharsmap::Parse(std::string("\x08\0\0\0", 4)).has_value());
  std::string bad = Charsmap();
  bad.back() = '\xff';
  bad += "\xfe";
  EXPECT_FALSE(PrecompiledCharsmap::Parse(bad).has_value());
}

}  // namespace
}  // namespace nightshift::transform
