// The file sink on batches that arrive out of row order (bucketing), with
// list outputs and failed rows, over more rows than one DuckDB chunk holds.
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <functional>

#include "io/duck.h"
#include "io/duck_test_fixture.h"
#include "io/duckdb_carried.h"
#include "nightshift/env.h"
#include "nightshift/sink.h"

namespace nightshift::io {
namespace {

constexpr int64_t kRows = 5000;

class FileSinkTest : public DuckTest {
 protected:
  void SetUp() override {
    DuckTest::SetUp();
    auto r = conn_
                 ->Stream("SELECT range AS id, 'k' || range AS s FROM range(" +
                          std::to_string(kRows) + ")")
                 .value();
    for (auto c = r.Next(); c.has_value() && *c; c = r.Next()) {
      chunks_.push_back(std::make_shared<DuckChunk>(std::move(*c)));
    }
  }
  // The row with id `id`: its chunk and row in it.
  std::pair<std::shared_ptr<DuckChunk>, idx_t> Locate(int64_t id) {
    int64_t i = id;
    for (const auto& c : chunks_) {
      if (i < static_cast<int64_t>(c->size())) return {c, static_cast<idx_t>(i)};
      i -= static_cast<int64_t>(c->size());
    }
    return {nullptr, 0};
  }
  // Rows 10 .. 10+n-1 of the first chunk, row r scored score(r).
  RowBatch ScoreBatch(int n, const std::function<float(int)>& score) {
    RowBatch b;
    b.num_rows = n;
    auto carried = std::make_unique<DuckCarriedRows>(std::vector<idx_t>{0, 1});
    carried->Add(chunks_[0], 10, n);
    b.first_row = 10;
    b.carried = std::move(carried);
    b.outputs.push_back(Tensor::Allocate(DType::kFloat32, {n, 1}));
    for (int r = 0; r < n; ++r) b.outputs[0].data_as<float>()[r] = score(r);
    return b;
  }
  // CSV of id and one float `score`; dead letters under out/_failed.
  SinkLayout CsvScoreLayout() const {
    SinkLayout sl;
    sl.output_dir = JoinPath(dir_, "out");
    sl.dead_letter_dir = JoinPath(dir_, "out/_failed");
    sl.carried = {"id", "s"};
    sl.carried_types = {"BIGINT", "VARCHAR"};
    sl.keep_count = 1;
    sl.key = {"id"};
    sl.format = OutputFormat::kCsv;
    sl.outputs = {{"score", DType::kFloat32, false, 0, 0}};
    return sl;
  }
  std::vector<std::shared_ptr<DuckChunk>> chunks_;
};

TEST_F(FileSinkTest, RestoresRowOrderAndWritesListsAndDeadLettersAcrossChunks) {
  SinkLayout sl = CsvScoreLayout();
  sl.format = OutputFormat::kParquet;
  sl.keep_count = 2;
  sl.outputs = {{"emb", DType::kFloat32, true, 0, 0}, {"score", DType::kFloat32, false, 0, 2}};
  sl.restore_order = true;
  auto sink = OpenFileSink(sl, 1).value();
  auto writer = sink->BeginShard(3, 1).value();
  // Rows in a scrambled order, cut into batches of 777 rows: every batch
  // mixes rows of many source chunks.
  std::vector<int64_t> order(kRows);
  for (int64_t i = 0; i < kRows; ++i) order[i] = (i * 2003) % kRows;
  int64_t seq = 0;
  for (int64_t b0 = 0; b0 < kRows; b0 += 777) {
    RowBatch b;
    b.shard_id = 3;
    b.seq = seq++;
    b.num_rows = std::min<int64_t>(777, kRows - b0);
    auto carried = std::make_unique<DuckCarriedRows>(std::vector<idx_t>{0, 1});
    b.outputs.push_back(Tensor::Allocate(DType::kFloat32, {b.num_rows, 3}));
    float* out = b.outputs[0].data_as<float>();
    for (int64_t r = 0; r < b.num_rows; ++r) {
      int64_t id = order[b0 + r];
      auto [chunk, row] = Locate(id);
      carried->AddRow(chunk, row);
      b.row_numbers.push_back(id);
      for (int k = 0; k < 3; ++k) out[r * 3 + k] = static_cast<float>(id) + 0.25f * k;
      if (id % 7 == 3) b.SetRowError(r, "bad " + std::to_string(id));
    }
    b.carried = std::move(carried);
    ASSERT_TRUE(writer->Append(b).ok());
  }
  auto out = writer->Finish([] { return Status::Ok(); }).value();
  const int64_t failed = (kRows + 3) / 7;  // ids 3, 10, 17, ...
  EXPECT_EQ(out.rows_written, kRows - failed);
  ASSERT_EQ(out.failures.size(), static_cast<size_t>(failed));
  for (size_t i = 0; i < out.failures.size(); ++i) {
    EXPECT_EQ(out.failures[i].row, static_cast<int64_t>(3 + 7 * i));  // in row order
    EXPECT_EQ(out.failures[i].key_json, std::to_string(3 + 7 * i));
    EXPECT_EQ(out.failures[i].error, "bad " + std::to_string(3 + 7 * i));
  }
  std::string part = JoinPath(sl.output_dir, out.output_file);
  // In file order: ids ascending, each row's own string, list and score.
  auto r = conn_
               ->Query(
                   "SELECT count(*), count(*) FILTER (WHERE id % 7 = 3), "
                   "count(*) FILTER (WHERE s <> 'k' || id OR emb <> [id, id + 0.25, id + 0.5] "
                   "OR score <> id + 0.5), "
                   "bool_and(id > prev) FROM (SELECT *, lag(id, 1, -1) OVER () AS prev "
                   "FROM '" +
                   part + "')")
               .value();
  EXPECT_EQ(r.Int(0, 0), kRows - failed);
  EXPECT_EQ(r.Int(1, 0), 0);
  EXPECT_EQ(r.Int(2, 0), 0);
  EXPECT_EQ(r.Text(3, 0), "true");
  auto cols = conn_->Query("SELECT * FROM '" + part + "' LIMIT 0").value();
  EXPECT_EQ(cols.column_count(), 4u);  // id, s, emb, score: no __ns_row
  auto dl = conn_
                ->Query("SELECT count(*), min(row), max(key) FROM read_json('" +
                        JoinPath(sl.dead_letter_dir, "part-000003.jsonl") + "')")
                .value();
  EXPECT_EQ(dl.Int(0, 0), failed);
  EXPECT_EQ(dl.Int(1, 0), 3);
}

TEST_F(FileSinkTest, FinishCanRunAgainAndAnAbandonedShardLeavesNoTempFiles) {
  SinkLayout sl = CsvScoreLayout();
  auto sink = OpenFileSink(sl, 1).value();
  auto make_batch = [&] { return ScoreBatch(3, [](int r) { return 0.5f * r; }); };
  {
    auto writer = sink->BeginShard(0, 1).value();
    ASSERT_TRUE(writer->Append(make_batch()).ok());
    auto first = writer->Finish([] { return Status::Ok(); }).value();
    // As after a transient error: the same part.
    auto again = writer->Finish([] { return Status::Ok(); }).value();
    EXPECT_EQ(again.output_file, first.output_file);
    EXPECT_EQ(again.rows_written, 3);
  }
  auto csv = Env::Default()->ReadFile(JoinPath(sl.output_dir, "part-000000.csv")).value();
  EXPECT_EQ(csv, "id,score\n10,0.0\n11,0.5\n12,1.0\n");
  {
    auto writer = sink->BeginShard(1, 1).value();
    ASSERT_TRUE(writer->Append(make_batch()).ok());
  }  // abandoned before Finish
  auto names = Env::Default()->ListDir(sl.output_dir).value();
  EXPECT_EQ(names, (std::vector<std::string>{"part-000000.csv"}));
}

// A worker paused past its lease finishes after the shard's new holder
// published it: its part and dead letters must not replace the holder's.
TEST_F(FileSinkTest, AWriterWhoseClaimWasLostNeverReplacesThePublishedPart) {
  SinkLayout sl = CsvScoreLayout();
  sl.shared = true;
  auto sink = OpenFileSink(sl, 1).value();
  auto make_batch = [&](float score, bool fail_first) {
    RowBatch b = ScoreBatch(2, [&](int) { return score; });
    if (fail_first) b.SetRowError(0, "late");
    return b;
  };
  auto late = sink->BeginShard(0, 1).value();  // epoch 1, then paused
  ASSERT_TRUE(late->Append(make_batch(1.0f, true)).ok());
  {
    auto holder = sink->BeginShard(0, 2).value();  // epoch 2 took the shard over
    ASSERT_TRUE(holder->Append(make_batch(2.0f, false)).ok());
    ASSERT_TRUE(holder->Finish([] { return Status::Ok(); }).has_value());
  }
  int asked = 0;
  auto lost = [&] {
    ++asked;
    return Status(Code::kConflict, "claim lost");
  };
  auto r = late->Finish(lost);
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code(), Code::kConflict);
  EXPECT_EQ(asked, 1);
  late.reset();
  Env* env = Env::Default();
  EXPECT_EQ(env->ReadFile(JoinPath(sl.output_dir, "part-000000.csv")).value(),
            "id,score\n10,2.0\n11,2.0\n");
  EXPECT_EQ(env->ListDir(sl.output_dir).value(), (std::vector<std::string>{"part-000000.csv"}));
  auto failed = env->ListDir(sl.dead_letter_dir);  // the late one's dead letter was withdrawn
  EXPECT_TRUE(!failed.has_value() || failed->empty());
}

// A process killed while writing _SUCCESS leaves "._SUCCESS.tmp-<pid>": the
// next run of the shard's owner removes it, and so does writing _SUCCESS.
TEST_F(FileSinkTest, LeftoverSuccessTempFilesAreRemoved) {
  SinkLayout sl = CsvScoreLayout();
  Env* env = Env::Default();
  ASSERT_TRUE(env->CreateDirs(sl.output_dir).ok());
  const std::string stale = JoinPath(sl.output_dir, "._SUCCESS.tmp-4242");
  ASSERT_TRUE(env->WriteFile(stale, "{}").ok());
  ASSERT_TRUE(env->WriteFile(JoinPath(sl.output_dir, "._SUCCESS.keep"), "x").ok());
  auto sink = OpenFileSink(sl, 1).value();
  EXPECT_EQ(env->Stat(stale).error().code(), Code::kNotFound);
  ASSERT_TRUE(env->WriteFile(stale, "{}").ok());  // a shared run's sink leaves temps alone
  sl.shared = true;
  auto shared = OpenFileSink(sl, 1).value();
  EXPECT_TRUE(env->Stat(stale).has_value());
  ASSERT_TRUE(shared->WriteSuccess("{\"ok\":true}").ok());
  EXPECT_EQ(env->ListDir(sl.output_dir).value(),
            (std::vector<std::string>{"._SUCCESS.keep", "_SUCCESS"}));
}

}  // namespace
}  // namespace nightshift::io
