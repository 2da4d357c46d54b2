#include "exec/ctc_decode.h"

#include <gtest/gtest.h>

#include <fstream>

#include "env/temp_dir_for_test.h"

namespace nightshift::exec {
namespace {

// [time, classes] with probability `p` on each step's class and the rest
// spread evenly.
std::vector<float> Steps(const std::vector<int>& classes_per_step, int64_t classes,
                         float p = 0.9f) {
  std::vector<float> v;
  for (int c : classes_per_step) {
    for (int64_t k = 0; k < classes; ++k)
      v.push_back(k == c ? p : (1 - p) / static_cast<float>(classes - 1));
  }
  return v;
}

const std::vector<std::string> kAlphabet = {"a", "b", "c", "\xe4\xb8\xad"};  // a b c 中

TEST(CtcDecodeTest, CollapsesRepeatsDropsBlanksAndKeepsRepeatsSplitByBlank) {
  auto symbols = ClassSymbols(kAlphabet, 0, 5, "ctc");
  ASSERT_TRUE(symbols.has_value());
  // blank a a blank a b b c blank 中 -> "aabc中"
  auto probs = Steps({0, 1, 1, 0, 1, 2, 2, 3, 0, 4}, 5);
  Decoded d = CtcDecodeRow(probs.data(), 10, 5, *symbols, 0);
  EXPECT_EQ(d.text, "aabc\xe4\xb8\xad");
  EXPECT_NEAR(d.score, 0.9f, 1e-6);
}

TEST(CtcDecodeTest, ScoreIsTheMeanOfKeptStepsAndZeroWhenNothingIsKept) {
  auto symbols = *ClassSymbols(kAlphabet, 0, 5, "ctc");
  std::vector<float> probs = Steps({1}, 5, 0.5f);
  auto more = Steps({1, 2}, 5, 0.9f);  // the repeated 'a' is not counted
  probs.insert(probs.end(), more.begin(), more.end());
  Decoded d = CtcDecodeRow(probs.data(), 3, 5, symbols, 0);
  EXPECT_EQ(d.text, "ab");
  EXPECT_NEAR(d.score, (0.5f + 0.9f) / 2, 1e-6);
  auto blanks = Steps({0, 0, 0}, 5);
  Decoded e = CtcDecodeRow(blanks.data(), 3, 5, symbols, 0);
  EXPECT_EQ(e.text, "");
  EXPECT_EQ(e.score, 0.0f);
}

TEST(CtcDecodeTest, OneClassMoreIsASpaceAndBlankMayBeLast) {
  auto with_space = ClassSymbols(kAlphabet, 0, 6, "ctc");
  ASSERT_TRUE(with_space.has_value());
  EXPECT_EQ((*with_space)[5], " ");
  auto probs = Steps({1, 5, 2}, 6);
  EXPECT_EQ(CtcDecodeRow(probs.data(), 3, 6, *with_space, 0).text, "a b");
  // blank: 4 (the last class): the alphabet takes classes 0..3.
  auto last_blank = *ClassSymbols(kAlphabet, 4, 5, "ctc");
  auto p2 = Steps({0, 4, 0, 3}, 5);
  EXPECT_EQ(CtcDecodeRow(p2.data(), 4, 5, last_blank, 4).text, "aa\xe4\xb8\xad");
}

TEST(CtcDecodeTest, ClassCountThatFitsNeitherIsAnError) {
  auto s = ClassSymbols(kAlphabet, 0, 9, "postprocess[0].ctc_decode");
  ASSERT_FALSE(s.has_value());
  EXPECT_NE(s.error().message().find("9 classes but the alphabet has 4"), std::string::npos);
  EXPECT_FALSE(ClassSymbols(kAlphabet, 7, 5, "ctc").has_value());
}

TEST(CtcDecodeTest, ReadAlphabetKeepsSpacesDropsLineBreaksAndRejectsEmptyLines) {
  TempDir dir("ns_ctc_alphabet");
  ASSERT_TRUE(dir.ok());
  const std::string good = dir / "keys.txt";
  std::ofstream(good) << "a\r\n \nz";  // CRLF, a space symbol, no final line break
  auto a = ReadAlphabet(Env::Default(), good, "ctc");
  ASSERT_TRUE(a.has_value());
  EXPECT_EQ(*a, (std::vector<std::string>{"a", " ", "z"}));
  const std::string bad = dir / "bad.txt";
  std::ofstream(bad) << "a\n\nb\n";
  auto b = ReadAlphabet(Env::Default(), bad, "postprocess[1].ctc_decode");
  ASSERT_FALSE(b.has_value());
  EXPECT_NE(b.error().message().find("line 2 is empty"), std::string::npos);
  EXPECT_FALSE(ReadAlphabet(Env::Default(), dir / "none.txt", "ctc").has_value());
}

TEST(CtcDecodeTest, AnAlphabetThatIsNotUtf8IsRefusedNamingTheLine) {
  TempDir dir("ns_ctc_alphabet");
  ASSERT_TRUE(dir.ok());
  const std::string latin1 = dir / "latin1.txt";
  std::ofstream(latin1) << "a\nb\nc\n\xe9\n";  // "é" in Latin-1
  auto a = ReadAlphabet(Env::Default(), latin1, "postprocess[1].ctc_decode");
  ASSERT_FALSE(a.has_value());
  EXPECT_EQ(a.error().code(), Code::kInvalidJob);
  EXPECT_NE(a.error().message().find("line 4 is not UTF-8"), std::string::npos)
      << a.error().message();
  const std::string utf8 = dir / "utf8.txt";
  std::ofstream(utf8) << "a\n\xc3\xa9\n";  // "é" in UTF-8
  auto b = ReadAlphabet(Env::Default(), utf8, "ctc");
  ASSERT_TRUE(b.has_value());
  EXPECT_EQ((*b)[1], "\xc3\xa9");
}

}  // namespace
}  // namespace nightshift::exec
