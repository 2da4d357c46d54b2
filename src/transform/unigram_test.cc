// Unigram's Viterbi search: ties, float64 sums, unknown characters (fused,
// byte fallback), empty words; and SentencePieceModel's whitespace
// pipeline around it (Metaspace), on small vocabularies made here.
#include "transform/unigram.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "transform/sentencepiece_model.h"

namespace nightshift::transform {
namespace {

using Vocab = std::vector<std::pair<std::string, double>>;

// Ids of `word` as the pieces they name (unknown: "<unk>").
std::vector<std::string> Pieces(const Vocab& vocab, const std::string& word,
                                bool byte_fallback = false) {
  auto u = Unigram::Build(vocab, 0, byte_fallback);
  EXPECT_TRUE(u.has_value()) << u.error().message();
  std::vector<int64_t> ids;
  u->Encode(word, &ids);
  std::vector<std::string> out;
  for (int64_t id : ids) out.push_back(vocab[static_cast<size_t>(id)].first);
  return out;
}

using P = std::vector<std::string>;

TEST(UnigramTest, TheBestSumOfScoresWins) {
  const Vocab v{{"<unk>", 0}, {"a", -1}, {"b", -1}, {"ab", -3}, {"abc", -2.5}, {"c", -1}};
  EXPECT_EQ(Pieces(v, "ab"), (P{"a", "b"}));  // -2 beats -3
  EXPECT_EQ(Pieces(v, "abc"), (P{"abc"}));    // -2.5 beats -3
  EXPECT_EQ(Pieces(v, "cab"), (P{"c", "a", "b"}));
}

TEST(UnigramTest, OfEqualSplitsTheOneWhoseLastPieceStartsFirstWins) {
  // "ab" scores as "a" + "b": the piece that reaches the end from the
  // earliest start is found first and kept.
  const Vocab v{{"<unk>", 0}, {"a", -1}, {"b", -1}, {"ab", -2}};
  EXPECT_EQ(Pieces(v, "ab"), (P{"ab"}));
  // "III": I|II, II|I and I|I|I all score -3; HF keeps I|II.
  const Vocab roman{{"<unk>", 0}, {"I", -1}, {"II", -2}};
  EXPECT_EQ(Pieces(roman, "III"), (P{"I", "II"}));
  EXPECT_EQ(Pieces(roman, "IIII"), (P{"II", "II"}));
}

TEST(UnigramTest, ScoresAddInFloat64) {
  // -0.1 + -0.2 is -0.30000000000000004 in float64, just below -0.3 (in
  // float32 the two sums are equal, and SentencePiece's search keeps "a b").
  const Vocab v{{"<unk>", 0}, {"a", -0.1}, {"b", -0.2}, {"ab", -0.3}};
  EXPECT_EQ(Pieces(v, "ab"), (P{"ab"}));
  const Vocab w{{"<unk>", 0}, {"a", -0.1}, {"b", -0.2}, {"ab", -0.30000000000000010}};
  EXPECT_EQ(Pieces(w, "ab"), (P{"a", "b"}));
}

TEST(UnigramTest, UnknownCharactersNextToEachOtherAreOneUnknown) {
  const Vocab v{{"<unk>", 0}, {"a", -1}, {"b", -1}, {"xa", -1.5}};
  EXPECT_EQ(Pieces(v, "ayzb"), (P{"a", "<unk>", "b"}));
  EXPECT_EQ(Pieces(v, "\xc3\xa9\xe2\x98\x83"), (P{"<unk>"}));  // é☃: two characters, one unknown
  EXPECT_EQ(Pieces(v,
                   "y\xc3\xa9"
                   "ay"),
            (P{"<unk>", "a", "<unk>"}));
  // "x" has no piece of its own, but starts "xa".
  EXPECT_EQ(Pieces(v, "xa"), (P{"xa"}));
  EXPECT_EQ(Pieces(v, "xb"), (P{"<unk>", "b"}));
}

TEST(UnigramTest, AnUnknownScoresTheLowestScoreMinusTen) {
  auto u = Unigram::Build({{"<unk>", 0}, {"a", -1}, {"b", -7.5}}, 0, false);
  ASSERT_TRUE(u.has_value());
  EXPECT_EQ(u->unk_score(), -17.5);
  // So a split through a known piece scoring -12 still beats one unknown
  // (-17.5 for "a" would be worse than "a" itself; "zzz": one unknown).
  const Vocab v{{"<unk>", 0}, {"a", -1}, {"b", -2}, {"z", -12}};
  EXPECT_EQ(Pieces(v, "zab"), (P{"z", "a", "b"}));
}

TEST(UnigramTest, ByteFallbackSpellsAnUnknownInBytesWhenAllArePieces) {
  Vocab v{{"<unk>", 0}, {"a", -1}};
  for (int b = 0; b < 256; ++b) {
    if (b == 0xA9) continue;  // one byte missing
    char name[8];
    std::snprintf(name, sizeof name, "<0x%02X>", b);
    v.emplace_back(name, -5);
  }
  EXPECT_EQ(Pieces(v, "ayz", true), (P{"a", "<0x79>", "<0x7A>"}));
  EXPECT_EQ(Pieces(v, "a\xc3\xa9", true), (P{"a", "<unk>"}));  // é needs <0xA9>
  EXPECT_EQ(Pieces(v, "ayz", false), (P{"a", "<unk>"}));
}

TEST(UnigramTest, AnEmptyWordHasNoIds) {
  const Vocab v{{"<unk>", 0}, {"a", -1}};
  EXPECT_TRUE(Pieces(v, "").empty());
}

TEST(UnigramTest, APieceListedTwiceIsItsLastId) {
  auto u = Unigram::Build({{"<unk>", 0}, {"a", -1}, {"a", -1}}, 0, false);
  ASSERT_TRUE(u.has_value());
  std::vector<int64_t> ids;
  u->Encode("aa", &ids);
  EXPECT_EQ(ids, (std::vector<int64_t>{2, 2}));
}

TEST(UnigramTest, AnUnknownIdOutsideTheVocabularyIsRefused) {
  EXPECT_FALSE(Unigram::Build({{"a", -1}}, 1, false).has_value());
  EXPECT_FALSE(Unigram::Build({}, 0, false).has_value());
}

// A SentencePiece model without normalization rules: XLM-R's ids are the
// pieces' indices here plus one (from 3 on).
std::vector<int64_t> ModelIds(const std::string& text) {
  SentencePieceContents c;
  c.pieces = {"<unk>",
              "<s>",
              "</s>",
              "\xe2\x96\x81",
              "\xe2\x96\x81"
              "a",
              "b",
              "\t"};
  c.scores = {0, 0, 0, -2, -1, -1, -3};
  auto m = SentencePieceModel::FromContents(c, "test.model");
  EXPECT_TRUE(m.has_value()) << m.error().message();
  std::vector<int64_t> ids;
  (*m)->Encode(text, &ids);
  return ids;
}

constexpr int64_t kSpace = 4, kSpaceA = 5, kB = 6, kTab = 7, kUnk = 3;

TEST(SentencePieceModelTest, WhitespaceAsHuggingFacesMetaspace) {
  EXPECT_EQ(ModelIds(""), (std::vector<int64_t>{}));
  EXPECT_EQ(ModelIds(" "), (std::vector<int64_t>{kSpace}));
  EXPECT_EQ(ModelIds("   "), (std::vector<int64_t>{kSpace}));
  EXPECT_EQ(ModelIds("a"), (std::vector<int64_t>{kSpaceA}));
  EXPECT_EQ(ModelIds("  a  b "), (std::vector<int64_t>{kSpaceA, kSpace, kB, kSpace}));
  EXPECT_EQ(ModelIds("ab"), (std::vector<int64_t>{kSpaceA, kB}));
  // Only spaces are squeezed; a tab stays (here a piece of its own).
  EXPECT_EQ(ModelIds("a\t\tb"), (std::vector<int64_t>{kSpaceA, kTab, kTab, kB}));
  // A text that starts with "▁" gets no second one.
  EXPECT_EQ(ModelIds("\xe2\x96\x81"
                     "a"),
            (std::vector<int64_t>{kSpaceA}));
  EXPECT_EQ(ModelIds("c"), (std::vector<int64_t>{kSpace, kUnk}));
}

TEST(SentencePieceModelTest, ModelsWithoutPiecesOrScoresAreRefused) {
  SentencePieceContents c;
  c.pieces = {"<unk>", "<s>", "</s>", "a"};
  c.scores = {0, 0};
  EXPECT_FALSE(SentencePieceModel::FromContents(c, "test.model").has_value());
}

}  // namespace
}  // namespace nightshift::transform
