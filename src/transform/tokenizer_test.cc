#include "transform/tokenizer.h"

#include <gtest/gtest.h>

#include <string>

#include "transform/unicode_text.h"

namespace nightshift::transform {
namespace {

// A tiny bert-base-uncased-shaped tokenizer.json: the ids are the real ones
// for these pieces.
std::string TinyTokenizerJson(const std::string& extra = "") {
  return R"({
    "version": "1.0", "truncation": null, "padding": null,
    "added_tokens": [
      {"id": 0, "content": "[PAD]", "single_word": false, "lstrip": false, "rstrip": false, "normalized": false, "special": true},
      {"id": 100, "content": "[UNK]", "single_word": false, "lstrip": false, "rstrip": false, "normalized": false, "special": true},
      {"id": 101, "content": "[CLS]", "single_word": false, "lstrip": false, "rstrip": false, "normalized": false, "special": true},
      {"id": 102, "content": "[SEP]", "single_word": false, "lstrip": false, "rstrip": false, "normalized": false, "special": true}
    ],
    "normalizer": {"type": "BertNormalizer", "clean_text": true, "handle_chinese_chars": true, "strip_accents": null, "lowercase": true)" +
         extra + R"(},
    "pre_tokenizer": {"type": "BertPreTokenizer"},
    "post_processor": {"type": "TemplateProcessing",
      "single": [{"SpecialToken": {"id": "[CLS]", "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}}, {"SpecialToken": {"id": "[SEP]", "type_id": 0}}],
      "pair": [],
      "special_tokens": {"[CLS]": {"id": "[CLS]", "ids": [101], "tokens": ["[CLS]"]}, "[SEP]": {"id": "[SEP]", "ids": [102], "tokens": ["[SEP]"]}}},
    "model": {"type": "WordPiece", "unk_token": "[UNK]", "continuing_subword_prefix": "##", "max_input_chars_per_word": 12,
      "vocab": {"[PAD]": 0, "[UNK]": 100, "[CLS]": 101, "[SEP]": 102, "i": 1045, "like": 2066, "straw": 13137,
                "##berries": 20968, "##s": 2015, "!": 999, "cafe": 7668, "the": 1996, "中": 1746, "国": 1799, ",": 1010}}
  })";
}

std::vector<int64_t> Ids(const std::string& text, int64_t max_length = 0,
                         const std::string& extra = "") {
  auto t = Tokenizer::FromJson(TinyTokenizerJson(extra), "tokenizer.json");
  EXPECT_TRUE(t.has_value()) << t.error().message();
  std::vector<int64_t> ids;
  Status s = (*t)->Encode(text, max_length, &ids);
  EXPECT_TRUE(s.ok()) << s.message();
  return ids;
}

TEST(TokenizerTest, SplitsWordsIntoPiecesWithClsAndSep) {
  EXPECT_EQ(Ids("I like strawberries!"),
            (std::vector<int64_t>{101, 1045, 2066, 13137, 20968, 999, 102}));
}

TEST(TokenizerTest, LowercasesAndStripsAccents) {
  EXPECT_EQ(Ids("CAFÉ Café"), (std::vector<int64_t>{101, 7668, 7668, 102}));
}

TEST(TokenizerTest, KeepsAccentsWhenAsked) {
  // strip_accents false: "café" is not in the vocabulary.
  // (A repeated key: the last one counts.)
  EXPECT_EQ(Ids("Café", 0, R"(, "strip_accents": false)"), (std::vector<int64_t>{101, 100, 102}));
}

TEST(TokenizerTest, UnknownWordIsOneUnkToken) {
  EXPECT_EQ(Ids("the xyz strawq"), (std::vector<int64_t>{101, 1996, 100, 100, 102}));
}

TEST(TokenizerTest, WordLongerThanMaxCharsIsUnk) {
  // 13 characters > max_input_chars_per_word 12, though the pieces exist.
  EXPECT_EQ(Ids("strawberriess"), (std::vector<int64_t>{101, 100, 102}));
}

TEST(TokenizerTest, CjkIdeographsAreWordsOfTheirOwn) {
  EXPECT_EQ(Ids("中国,the"), (std::vector<int64_t>{101, 1746, 1799, 1010, 1996, 102}));
}

TEST(TokenizerTest, ControlCharactersAreDroppedAndWhitespaceSplits) {
  // "the\x01\x7fthe" loses its controls and becomes one (unknown) word.
  const char text[] =
      "the\x01\x7f"
      "the\tthe\xc2\xa0the";
  EXPECT_EQ(Ids(std::string(text, sizeof(text) - 1)),
            (std::vector<int64_t>{101, 100, 1996, 1996, 102}));
}

TEST(TokenizerTest, SpecialTokensInTheTextKeepTheirIds) {
  EXPECT_EQ(Ids("the[SEP]the [CLS]"), (std::vector<int64_t>{101, 1996, 102, 1996, 101, 102}));
}

TEST(TokenizerTest, TruncatesToMaxLengthKeepingSpecialTokens) {
  EXPECT_EQ(Ids("i like the the the", 4), (std::vector<int64_t>{101, 1045, 2066, 102}));
}

TEST(TokenizerTest, EmptyTextIsClsSep) {
  EXPECT_EQ(Ids(""), (std::vector<int64_t>{101, 102}));
  EXPECT_EQ(Ids(" \t\n "), (std::vector<int64_t>{101, 102}));
}

TEST(TokenizerTest, InvalidUtf8IsAnErrorNamingTheByte) {
  auto t = Tokenizer::FromJson(TinyTokenizerJson(), "tokenizer.json");
  ASSERT_TRUE(t.has_value());
  std::vector<int64_t> ids;
  Status s = (*t)->Encode("the \xff the", 0, &ids);
  EXPECT_EQ(s.code(), Code::kInvalidData);
  EXPECT_NE(s.message().find("byte 4"), std::string::npos) << s.message();
}

TEST(TokenizerTest, RefusesOtherModelsByName) {
  std::string json = TinyTokenizerJson();
  json.replace(json.find("\"WordPiece\""), 11, "\"BPE\"");
  auto t = Tokenizer::FromJson(json, "preprocess[0].tokenize.tokenizer 'x.json'");
  ASSERT_FALSE(t.has_value());
  EXPECT_NE(t.error().message().find("model \"BPE\" is not supported"), std::string::npos)
      << t.error().message();
  EXPECT_FALSE(Tokenizer::FromJson("[1, 2", "x").has_value());
  EXPECT_FALSE(Tokenizer::FromJson(R"({"model": 3})", "x").has_value());
}

TEST(UnicodeTextTest, WhitespaceAndControlFollowRust) {
  EXPECT_TRUE(IsWhitespace(0x3000));
  EXPECT_TRUE(IsWhitespace(0x0B));
  EXPECT_FALSE(IsWhitespace(0x1F));  // a control Python calls space, Rust does not
  EXPECT_TRUE(IsBertControl(0x0B));
  EXPECT_TRUE(IsBertControl(0x200B));  // zero-width space: Cf
  EXPECT_FALSE(IsBertControl('\n'));
  EXPECT_TRUE(IsBertPunctuation('$'));
  EXPECT_TRUE(IsBertPunctuation(0x00BF));   // ¿
  EXPECT_FALSE(IsBertPunctuation(0x20AC));  // € is a symbol
}

}  // namespace
}  // namespace nightshift::transform
