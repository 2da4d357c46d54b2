// Tokenizer::FromSentencePiece on a small model trained here with
// libsentencepiece's trainer: XLM-R's ids, special tokens in the text, the
// template, truncation, the trailing-whitespace rule and the refusals. The
// ids themselves are checked against Hugging Face by
// sentencepiece_diff_test.cjs on ~100,000 texts.
#include "transform/sentencepiece_model.h"

#include <gtest/gtest.h>
#include <sentencepiece_processor.h>
#include <sentencepiece_trainer.h>

#include <string>
#include <vector>

#include "transform/tokenizer.h"

namespace nightshift::transform {
namespace {

class Sentences : public sentencepiece::SentenceIterator {
 public:
  explicit Sentences(std::vector<std::string> s) : s_(std::move(s)) {}
  bool done() const override { return i_ >= s_.size(); }
  void Next() override { ++i_; }
  const std::string& value() const override { return s_[i_]; }
  sentencepiece::util::Status status() const override { return {}; }

 private:
  std::vector<std::string> s_;
  size_t i_ = 0;
};

// A Unigram model numbered as XLM-R's (SentencePiece's defaults), trained
// once on a few sentences (and `more`); `extra` adds trainer flags.
std::string TrainModel(const std::string& extra = "--model_type=unigram",
                       const std::vector<std::string>& more = {}) {
  std::vector<std::string> corpus(more);
  for (int i = 0; i < 50; ++i) {
    corpus.push_back("the quick brown fox jumps over the lazy dog");
    corpus.push_back("hello world, hello tokenizer; the world is wide");
    corpus.push_back("strawberries and blueberries are berries");
  }
  Sentences it(std::move(corpus));
  std::string model;
  auto s = sentencepiece::SentencePieceTrainer::Train(
      "--vocab_size=60 --hard_vocab_limit=false --num_threads=1 "
      "--minloglevel=2 " +
          extra,
      &it, &model);
  EXPECT_TRUE(s.ok()) << s.ToString();
  return model;
}

const std::string& Model() {
  static const std::string* model = new std::string(TrainModel());
  return *model;
}

// What XLM-R's numbering makes of SentencePiece's own ids for `text`.
std::vector<int64_t> Expected(const std::string& text) {
  sentencepiece::SentencePieceProcessor sp;
  EXPECT_TRUE(sp.LoadFromSerializedProto(Model()).ok());
  std::vector<int> spm;
  EXPECT_TRUE(sp.Encode(text, &spm).ok());
  std::vector<int64_t> ids{0};
  for (int id : spm) ids.push_back(id == 0 ? 3 : id + 1);
  ids.push_back(2);
  return ids;
}

std::vector<int64_t> Ids(const std::string& text, int64_t max_length = 0,
                         const std::string& model = Model()) {
  auto t = Tokenizer::FromSentencePiece(model, "xlmr.model");
  EXPECT_TRUE(t.has_value()) << t.error().message();
  std::vector<int64_t> ids;
  Status s = (*t)->Encode(text, max_length, &ids);
  EXPECT_TRUE(s.ok()) << s.message();
  return ids;
}

int64_t PieceSize() {
  sentencepiece::SentencePieceProcessor sp;
  EXPECT_TRUE(sp.LoadFromSerializedProto(Model()).ok());
  return sp.GetPieceSize();
}

int64_t SpaceId() {
  sentencepiece::SentencePieceProcessor sp;
  EXPECT_TRUE(sp.LoadFromSerializedProto(Model()).ok());
  const int id = sp.PieceToId("\xe2\x96\x81");
  return id == 0 ? 3 : id + 1;
}

TEST(SentencePieceTest, IdsAreSentencePiecesMovedUpOneInsideSAndEndS) {
  const std::vector<int64_t> ids = Ids("hello world, the fox");
  EXPECT_EQ(ids, Expected("hello world, the fox"));
  EXPECT_GT(ids.size(), 4u);
  for (size_t i = 1; i + 1 < ids.size(); ++i) EXPECT_GE(ids[i], 4) << i;
}

TEST(SentencePieceTest, UnknownCharactersAreUnkThree) {
  const std::vector<int64_t> ids = Ids("\xe2\x98\x83");  // a snowman, never seen in training
  ASSERT_GE(ids.size(), 3u);
  EXPECT_EQ(ids[ids.size() - 2], 3);
}

TEST(SentencePieceTest, SpecialTokensInTheTextKeepTheirIds) {
  const int64_t mask = PieceSize() + 1;
  std::vector<int64_t> want{0, 0};
  std::vector<int64_t> hello = Expected("hello");
  want.insert(want.end(), hello.begin() + 1, hello.end() - 1);
  want.insert(want.end(), {1, 3, mask, 2, 2});
  EXPECT_EQ(Ids("<s>hello<pad><unk> \t<mask></s>"), want);
}

TEST(SentencePieceTest, MaskTakesTheWhitespaceBeforeItOtherTokensDoNot) {
  const int64_t mask = PieceSize() + 1;
  std::vector<int64_t> hello = Expected("hello");
  hello.pop_back();
  std::vector<int64_t> with_mask = hello;
  with_mask.insert(with_mask.end(), {mask, 2});
  EXPECT_EQ(Ids("hello  <mask>"), with_mask);
  std::vector<int64_t> with_pad = hello;
  with_pad.insert(with_pad.end(), {SpaceId(), 1, 2});
  EXPECT_EQ(Ids("hello <pad>"), with_pad);
}

TEST(SentencePieceTest, TrailingWhitespaceIsOneSpacePieceAsInHuggingFace) {
  std::vector<int64_t> want = Expected("hello world");
  want.insert(want.end() - 1, SpaceId());
  EXPECT_EQ(Ids("hello world \t\n "), want);
  EXPECT_EQ(Ids("  hello   world"),
            Expected("hello world"));  // leading and inner: as SentencePiece
  EXPECT_EQ(Ids(" "), (std::vector<int64_t>{0, SpaceId(), 2}));
  EXPECT_EQ(Ids(""), (std::vector<int64_t>{0, 2}));
}

TEST(SentencePieceTest, StackedMarksNormalizeAsInHuggingFaceNotAsLibsentencepiece) {
  std::vector<std::string> cafes(50, "cafe\xcc\x81 caf\xc3\xa9 cafe");
  const std::string model = TrainModel("--model_type=unigram", cafes);
  // "e" + two U+0301: one cluster of 5 bytes; its shortest mapped prefix
  // "e" + U+0301 becomes "é" and the second mark goes (Hugging Face's
  // Precompiled). libsentencepiece keeps the mark: one more, unknown, piece.
  const std::string stacked = "cafe\xcc\x81\xcc\x81";
  EXPECT_EQ(Ids(stacked, 0, model), Ids("caf\xc3\xa9", 0, model));
  sentencepiece::SentencePieceProcessor sp;
  ASSERT_TRUE(sp.LoadFromSerializedProto(model).ok());
  std::vector<int> spm, plain;
  ASSERT_TRUE(sp.Encode(stacked, &spm).ok());
  ASSERT_TRUE(sp.Encode("caf\xc3\xa9", &plain).ok());
  EXPECT_EQ(spm.size(), plain.size() + 1);
}

TEST(SentencePieceTest, TruncatesToMaxLengthKeepingSAndEndS) {
  const std::vector<int64_t> all = Ids("the quick brown fox jumps over the lazy dog");
  ASSERT_GT(all.size(), 5u);
  EXPECT_EQ(Ids("the quick brown fox jumps over the lazy dog", 5),
            (std::vector<int64_t>{0, all[1], all[2], all[3], 2}));
}

TEST(SentencePieceTest, InvalidUtf8IsInvalidDataNamingTheByte) {
  auto t = Tokenizer::FromSentencePiece(Model(), "xlmr.model");
  ASSERT_TRUE(t.has_value());
  std::vector<int64_t> ids;
  Status s = (*t)->Encode("ok \xff", 0, &ids);
  EXPECT_EQ(s.code(), Code::kInvalidData);
  EXPECT_NE(s.message().find("byte 3"), std::string::npos) << s.message();
}

TEST(SentencePieceTest, FromFileReadsDotModelAsSentencePiece) {
  auto t = Tokenizer::FromFile(Model(), "models/xlmr.model", "tokenizer 'models/xlmr.model'");
  ASSERT_TRUE(t.has_value()) << t.error().message();
  EXPECT_EQ((*t)->special_tokens(), 2);
  auto json = Tokenizer::FromFile(Model(), "models/tokenizer.json", "tokenizer.json");
  ASSERT_FALSE(json.has_value());
  EXPECT_NE(json.error().message().find("not a tokenizer.json"), std::string::npos);
}

TEST(SentencePieceTest, RefusesWhatIsNotAModel) {
  auto t = Tokenizer::FromSentencePiece("not a model", "tokenizer 'x.model'");
  ASSERT_FALSE(t.has_value());
  EXPECT_EQ(t.error().code(), Code::kInvalidJob);
  EXPECT_NE(t.error().message().find("tokenizer 'x.model': not a SentencePiece model"),
            std::string::npos)
      << t.error().message();
}

TEST(SentencePieceTest, RefusesAModelNotNumberedAsXlmR) {
  const std::string other =
      TrainModel("--model_type=unigram --pad_id=0 --unk_id=1 --bos_id=2 --eos_id=3");
  auto t = Tokenizer::FromSentencePiece(other, "tokenizer 'x.model'");
  ASSERT_FALSE(t.has_value());
  EXPECT_EQ(t.error().code(), Code::kInvalidJob);
  EXPECT_NE(t.error().message().find("<unk>=1, <s>=2, </s>=3"), std::string::npos)
      << t.error().message();
}

TEST(SentencePieceTest, RefusesABpeModel) {
  const std::string bpe = TrainModel("--model_type=bpe");
  auto t = Tokenizer::FromSentencePiece(bpe, "tokenizer 'x.model'");
  ASSERT_FALSE(t.has_value());
  EXPECT_EQ(t.error().code(), Code::kInvalidJob);
  EXPECT_NE(t.error().message().find("model_type 2"), std::string::npos) << t.error().message();
}

}  // namespace
}  // namespace nightshift::transform
