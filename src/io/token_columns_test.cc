// Token columns: tokenize steps as DuckDB functions inside a query.
#include "io/token_columns.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <string>

#include "env/temp_dir_for_test.h"
#include "nightshift/env.h"

namespace nightshift::io {
namespace {

constexpr char kTokenizer[] = R"({
  "added_tokens": [{"id": 102, "content": "[SEP]", "normalized": false}],
  "normalizer": {"type": "BertNormalizer", "lowercase": true},
  "pre_tokenizer": {"type": "BertPreTokenizer"},
  "post_processor": {"type": "BertProcessing", "sep": ["[SEP]", 102], "cls": ["[CLS]", 101]},
  "model": {"type": "WordPiece", "vocab": {"[UNK]": 100, "[CLS]": 101, "[SEP]": 102,
            "i": 1045, "like": 2066, "straw": 13137, "##berries": 20968}}
})";

class TokenColumnsTest : public ::testing::Test {
 protected:
  TempDir tmp_{"ns_token_columns"};  // first: removed after everything using it

  void SetUp() override {
    ASSERT_TRUE(tmp_.ok());
    dir_ = tmp_.path();
    ASSERT_TRUE(Env::Default()->WriteFile(JoinPath(dir_, "tokenizer.json"), kTokenizer).ok());
    db_ = DuckDatabase::OpenInMemory(2).value();
    conn_ = DuckConnection::Open(db_).value();
    steps_ = {TokenizeSpec{"body", JoinPath(dir_, "tokenizer.json"), 5, "tok"}};
  }
  std::string dir_;
  std::shared_ptr<DuckDatabase> db_;
  std::unique_ptr<DuckConnection> conn_;
  std::vector<TokenizeSpec> steps_;
};

TEST_F(TokenColumnsTest, AddsIdsMaskAndTypeColumnsPerRow) {
  ASSERT_TRUE(InstallTokenizers(conn_.get(), steps_, Env::Default()).ok());
  std::string rel = WithTokenColumns(
      "(SELECT * FROM (VALUES (1, 'I like strawberries'), (2, NULL), (3, 'I'), "
      "(4, 'like like like like')) t(id, body))",
      steps_);
  auto r = conn_->Query(
      "SELECT id, \"tok.input_ids\"::VARCHAR, \"tok.attention_mask\"::VARCHAR, "
      "\"tok.token_type_ids\"::VARCHAR FROM " +
      rel + " ORDER BY id");
  ASSERT_TRUE(r.has_value()) << r.error().message();
  ASSERT_EQ(r->row_count(), 4u);
  EXPECT_EQ(r->Text(1, 0), "[101, 1045, 2066, 13137, 102]");  // truncated to max_length 5
  EXPECT_EQ(r->Text(2, 0), "[1, 1, 1, 1, 1]");
  EXPECT_EQ(r->Text(3, 0), "[0, 0, 0, 0, 0]");
  EXPECT_EQ(r->Text(1, 1), "");  // a null text: null lists
  EXPECT_EQ(r->Text(1, 2), "[101, 1045, 102]");
  EXPECT_EQ(r->Text(1, 3), "[101, 2066, 2066, 2066, 102]");
}

TEST_F(TokenColumnsTest, ManyRowsAndBlobsThatAreNotUtf8) {
  ASSERT_TRUE(InstallTokenizers(conn_.get(), steps_, Env::Default()).ok());
  std::string rel = WithTokenColumns(
      "(SELECT range AS id, CASE WHEN range % 1000 = 7 THEN '\\xFF'::BLOB ELSE "
      "'i like'::BLOB END AS body FROM range(10000))",
      steps_);
  auto r = conn_->Query(
      "SELECT count(*), count(\"tok.input_ids\"), sum(len(\"tok.input_ids\")) FROM " + rel);
  ASSERT_TRUE(r.has_value()) << r.error().message();
  EXPECT_EQ(r->Int(0, 0), 10000);
  EXPECT_EQ(r->Int(1, 0), 9990);
  EXPECT_EQ(r->Int(2, 0), 9990 * 4);
}

TEST_F(TokenColumnsTest, RefusesMaxLengthShorterThanTheSpecialTokens) {
  steps_[0].max_length = 1;
  Status s = InstallTokenizers(conn_.get(), steps_, Env::Default());
  EXPECT_EQ(s.code(), Code::kInvalidJob);
  EXPECT_NE(s.message().find("preprocess[0].tokenize.max_length 1"), std::string::npos)
      << s.message();
}

TEST(TokenColumnNullReasonTest, NamesTheTextColumn) {
  std::vector<TokenizeSpec> steps = {TokenizeSpec{"body", "t.json", 0, "tok"}};
  EXPECT_NE(TokenColumnNullReason(steps, "tok.attention_mask").find("'body'"), std::string::npos);
  EXPECT_EQ(TokenColumnNullReason(steps, "body"), "");
}

}  // namespace
}  // namespace nightshift::io
