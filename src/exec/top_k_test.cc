#include "exec/top_k.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <numeric>
#include <random>

#include "env/temp_dir_for_test.h"

namespace nightshift::exec {
namespace {

RowBatch BatchOf(const std::vector<std::vector<float>>& rows) {
  RowBatch b;
  b.num_rows = static_cast<int64_t>(rows.size());
  const auto n = static_cast<int64_t>(rows[0].size());
  Tensor t = Tensor::Allocate(DType::kFloat32, {b.num_rows, n});
  for (size_t r = 0; r < rows.size(); ++r) {
    std::copy(rows[r].begin(), rows[r].end(), t.data_as<float>() + r * n);
  }
  b.outputs.push_back(std::move(t));
  return b;
}

std::vector<int64_t> Ids(const RowBatch& b, size_t out, int64_t row, int64_t k) {
  const int64_t* p = b.outputs[out].data_as<int64_t>() + row * k;
  return {p, p + k};
}

TEST(TopKTest, DescendingWithTiesByLowerIndexAndNanLast) {
  const float nan = std::numeric_limits<float>::quiet_NaN();
  RowBatch b = BatchOf({{1, 5, 3, 5, nan}, {nan, nan, 0, -1, 0}});
  std::vector<TopKStep> steps = {{0, 1, 3, {}, "postprocess[0].top_k"}};
  ASSERT_TRUE(ApplyTopK(steps, &b).ok());
  ASSERT_EQ(b.outputs.size(), 3u);
  EXPECT_EQ(Ids(b, 1, 0, 3), (std::vector<int64_t>{1, 3, 2}));
  EXPECT_EQ(Ids(b, 1, 1, 3), (std::vector<int64_t>{2, 4, 3}));
  EXPECT_EQ(b.outputs[2].data_as<float>()[0], 5.0f);
  EXPECT_EQ(b.outputs[2].data_as<float>()[5], -1.0f);
}

TEST(TopKTest, LabelsMapIndicesAndRecycledBatchesAreOverwritten) {
  RowBatch b = BatchOf({{0.1f, 0.9f, 0.5f}});
  b.outputs.push_back(Tensor::Allocate(DType::kInt64, {7, 7}));  // a last use's leftovers
  std::vector<TopKStep> steps = {{0, 1, 2, {100, 200, 300}, "postprocess[0].top_k"}};
  ASSERT_TRUE(ApplyTopK(steps, &b).ok());
  EXPECT_EQ(b.outputs[1].shape(), (std::vector<int64_t>{1, 2}));
  EXPECT_EQ(Ids(b, 1, 0, 2), (std::vector<int64_t>{200, 300}));
}

// The one-pass heap against a stable sort of every index, on rows with many
// ties and NaNs, for k from 1 to the whole row.
TEST(TopKTest, SameAsAStableSortOnRowsWithTiesAndNans) {
  std::mt19937 rng(5);
  const float nan = std::numeric_limits<float>::quiet_NaN();
  for (int trial = 0; trial < 200; ++trial) {
    const int64_t n = 1 + static_cast<int64_t>(rng() % (trial % 2 == 0 ? 60 : 400));  // 400: blocks
    std::vector<float> row(static_cast<size_t>(n));
    for (float& v : row) v = rng() % 7 == 0 ? nan : static_cast<float>(rng() % 5) - 2;
    const int64_t k =
        1 + static_cast<int64_t>(
                rng() % static_cast<uint32_t>(trial % 3 == 0 ? n : std::min<int64_t>(n, 8)));
    RowBatch b = BatchOf({row});
    ASSERT_TRUE(ApplyTopK({{0, 1, k, {}, "postprocess[0].top_k"}}, &b).ok());
    std::vector<int64_t> want(static_cast<size_t>(n));
    std::iota(want.begin(), want.end(), int64_t{0});
    std::stable_sort(want.begin(), want.end(), [&](int64_t a, int64_t c) {
      const float va = row[static_cast<size_t>(a)], vc = row[static_cast<size_t>(c)];
      if (std::isnan(va) || std::isnan(vc)) return !std::isnan(va) && std::isnan(vc);
      return va > vc;
    });
    want.resize(static_cast<size_t>(k));
    EXPECT_EQ(Ids(b, 1, 0, k), want) << "trial " << trial;
  }
}

TEST(TopKTest, AScoredOutputNotWrittenItselfIsFreedAfterTheSteps) {
  RowBatch b = BatchOf({{0.1f, 0.9f, 0.5f}});
  TopKStep first{0, 1, 1, {}, "postprocess[0].top_k"};
  TopKStep second{0, 3, 2, {}, "postprocess[1].top_k"};
  first.release_source = second.release_source = true;
  ASSERT_TRUE(ApplyTopK({first, second}, &b).ok());
  EXPECT_EQ(b.outputs[0].data(), nullptr);  // the [1, 3] scores are gone
  EXPECT_EQ(Ids(b, 1, 0, 1), (std::vector<int64_t>{1}));
  EXPECT_EQ(Ids(b, 3, 0, 2), (std::vector<int64_t>{1, 2}));
}

TEST(TopKTest, OutputNarrowerThanKIsAnError) {
  RowBatch b = BatchOf({{1, 2}});
  std::vector<TopKStep> steps = {{0, 1, 3, {}, "postprocess[0].top_k"}};
  Status s = ApplyTopK(steps, &b);
  EXPECT_EQ(s.code(), Code::kSchemaMismatch);
  EXPECT_NE(s.message().find("postprocess[0].top_k"), std::string::npos);
}

TEST(TopKTest, OneLineThatIsNotAPlainIntegerMakesEveryLabelText) {
  TempDir tmp("ns_top_k");
  ASSERT_TRUE(tmp.ok());
  const std::string dir = tmp.path();
  Env* env = Env::Default();
  for (const char* odd : {"sku-9", "007", "+5", " 5", "1e3", "99999999999999999999"}) {
    ASSERT_TRUE(env->WriteFile(dir + "/l.txt", std::string("12\r\n") + odd + "\n4\n").ok());
    auto l = ReadLabels(env, dir + "/l.txt", "postprocess[0].top_k");
    ASSERT_TRUE(l.has_value()) << l.error().message();
    ASSERT_NE(l->text, nullptr) << odd;
    EXPECT_TRUE(l->ids.empty());
    EXPECT_EQ(*l->text, (std::vector<std::string>{"12", odd, "4"}));
  }
}

TEST(TopKTest, TextLabelsKeepIndicesInTheTensorAndCountAgainstTheOutput) {
  RowBatch b = BatchOf({{0.1f, 0.9f, 0.5f}});
  TopKStep step{0, 1, 2, {}, "postprocess[0].top_k", {}};
  step.text_labels =
      std::make_shared<const std::vector<std::string>>(std::vector<std::string>{"a", "b", "c"});
  ASSERT_TRUE(ApplyTopK({step}, &b).ok());
  EXPECT_EQ(Ids(b, 1, 0, 2), (std::vector<int64_t>{1, 2}));  // the sink writes "b", "c"
  step.text_labels =
      std::make_shared<const std::vector<std::string>>(std::vector<std::string>{"a", "b"});
  Status s = ApplyTopK({step}, &b);
  EXPECT_EQ(s.code(), Code::kSchemaMismatch);
  EXPECT_NE(s.message().find("labels has 2 ids but the output has 3"), std::string::npos)
      << s.message();
}

TEST(TopKTest, LabelsAreOneIntegerPerLine) {
  TempDir tmp("ns_top_k");
  ASSERT_TRUE(tmp.ok());
  const std::string dir = tmp.path();
  Env* env = Env::Default();
  ASSERT_TRUE(env->WriteFile(dir + "/ok.txt", "7\r\n-3\n42").ok());
  auto ok = ReadLabels(env, dir + "/ok.txt", "postprocess[0].top_k");
  ASSERT_TRUE(ok.has_value()) << ok.error().message();
  EXPECT_EQ(ok->ids, (std::vector<int64_t>{7, -3, 42}));
  EXPECT_EQ(ok->text, nullptr);
  ASSERT_TRUE(env->WriteFile(dir + "/bad.txt", "7\n\n8\n").ok());
  auto bad = ReadLabels(env, dir + "/bad.txt", "postprocess[0].top_k");
  ASSERT_FALSE(bad.has_value());
  EXPECT_NE(bad.error().message().find("line 2"), std::string::npos) << bad.error().message();
}

}  // namespace
}  // namespace nightshift::exec
