// Source and Sink against real files written by DuckDB in a temp folder.
#include <gtest/gtest.h>

#include <cstdlib>
#include <map>

#include "io/duck.h"
#include "io/duck_test_fixture.h"
#include "io/input_listing.h"
#include "io/jsonl_columns.h"
#include "nightshift/env.h"
#include "nightshift/sink.h"
#include "nightshift/source.h"

namespace nightshift::io {
namespace {

class IoTest : public DuckTest {
 protected:
  void Make(const std::string& name, const std::string& format, int64_t rows) {
    std::string path = JoinPath(dir_, name);
    ASSERT_TRUE(
        conn_
            ->Exec("COPY (SELECT range AS id, (range * 0.5)::DOUBLE AS a, range::INTEGER AS b, "
                   "'k' || range AS s FROM range(" +
                   std::to_string(rows) + ")) TO '" + path + "' (FORMAT " + format +
                   (format == "parquet" ? ", ROW_GROUP_SIZE 1000" : "") + ")")
            .ok());
  }
  static ReadLayout Layout(int64_t batch_rows) { return FloatAbLayout({"id", "s"}, batch_rows); }
  // Reads `shards` and returns (first_row, num_rows, last) per batch and the sum of column a.
  std::vector<std::tuple<int64_t, int64_t, bool>> ReadAll(Source* src, const ReadLayout& layout,
                                                          std::vector<ShardTask> shards,
                                                          double* sum_a) {
    std::vector<std::tuple<int64_t, int64_t, bool>> out;
    *sum_a = 0;
    Status s = src->Read(
        layout, shards, [] { return std::make_unique<RowBatch>(); },
        [&](std::unique_ptr<RowBatch> b) {
          out.emplace_back(b->first_row, b->num_rows, b->last_in_shard);
          EXPECT_EQ(b->inputs[0].shape(), (std::vector<int64_t>{b->num_rows, 2}));
          for (int64_t r = 0; r < b->num_rows; ++r) {
            float a = b->inputs[0].data_as<float>()[r * 2];
            EXPECT_FLOAT_EQ(a, (b->first_row + r) * 0.5f);
            *sum_a += a;
          }
          return true;
        });
    EXPECT_TRUE(s.ok()) << s.ToString();
    return out;
  }
};

TEST_F(IoTest, ParquetShardsAreReadByRowRangeInBatches) {
  Make("a.parquet", "parquet", 5000);
  InputSpec spec;
  spec.path = JoinPath(dir_, "*.parquet");
  auto src = OpenSource(spec, 1).value();
  EXPECT_TRUE(src->seekable());
  EXPECT_EQ(src->CountRows(0).value(), 5000);
  auto cols = src->Describe(0).value();
  ASSERT_EQ(cols.size(), 4u);
  EXPECT_TRUE(cols[1].numeric);
  EXPECT_FALSE(cols[3].numeric);
  double sum = 0;
  auto batches = ReadAll(src.get(), Layout(700), {{7, 0, 0, 3000, 4000, 1}}, &sum);
  ASSERT_EQ(batches.size(), 2u);
  EXPECT_EQ(batches[0], std::make_tuple(int64_t{3000}, int64_t{700}, false));
  EXPECT_EQ(batches[1], std::make_tuple(int64_t{3700}, int64_t{300}, true));
}

// Adjacent Parquet shards are read by one query (DuckSource::ContiguousRun):
// each shard still gets its own rows, batches and last batch, across row
// groups (of 1000 rows here), past a gap of rows no shard wants, and with a
// shard's row list.
TEST_F(IoTest, AdjacentParquetShardsShareOneScanAndKeepTheirRows) {
  Make("a.parquet", "parquet", 5000);
  InputSpec spec;
  spec.path = JoinPath(dir_, "a.parquet");
  auto src = OpenSource(spec, 1).value();
  ShardTask listed{3, 2, 0, 2900, 3500, 1};
  listed.rows = {2900, 2901, 3499};
  std::vector<ShardTask> shards = {
      {1, 0, 0, 500, 1700, 1}, {2, 1, 0, 1700, 2900, 1}, listed, {5, 3, 0, 4000, 4500, 1}};
  std::vector<std::tuple<int64_t, int64_t, int64_t, bool>> got;  // shard, first row, rows, last
  Status s = src->Read(
      Layout(1000), shards, [] { return std::make_unique<RowBatch>(); },
      [&](std::unique_ptr<RowBatch> b) {
        got.emplace_back(b->shard_id, b->first_row, b->num_rows, b->last_in_shard);
        for (int64_t r = 0; r < b->num_rows; ++r) {
          EXPECT_FLOAT_EQ(b->inputs[0].data_as<float>()[r * 2], b->RowNumber(r) * 0.5f);
        }
        return true;
      });
  ASSERT_TRUE(s.ok()) << s.ToString();
  using T = std::tuple<int64_t, int64_t, int64_t, bool>;
  EXPECT_EQ(got,
            (std::vector<T>{T{1, 500, 1000, false}, T{1, 1500, 200, true}, T{2, 1700, 1000, false},
                            T{2, 2700, 200, true}, T{3, 2900, 3, true}, T{5, 4000, 500, true}}));

  // A run of shards beyond the file's end (it lost rows since the plan) is
  // still an error, not a quiet end.
  s = src->Read(
      Layout(1000), std::vector<ShardTask>{{6, 0, 0, 4000, 5000, 1}, {7, 1, 0, 5000, 6000, 1}},
      [] { return std::make_unique<RowBatch>(); }, [](std::unique_ptr<RowBatch>) { return true; });
  EXPECT_EQ(s.code(), Code::kIoError) << s.ToString();
  EXPECT_NE(s.message().find("shard 7"), std::string::npos) << s.ToString();
}

// A Parquet FLOAT feature is read as FLOAT (no DOUBLE round trip): values
// arrive exact, and a null, NaN or Inf still fails only its own row.
TEST_F(IoTest, ParquetFloatColumnsReadAsFloatStillFailBadRows) {
  const std::string path = JoinPath(dir_, "f.parquet");
  ASSERT_TRUE(conn_
                  ->Exec("COPY (SELECT range AS id, CASE WHEN range = 3 THEN NULL WHEN range = 5 "
                         "THEN 'nan'::FLOAT WHEN range = 6 THEN 'inf'::FLOAT ELSE (range * 0.1)"
                         "::FLOAT END AS a, (range * 0.25)::FLOAT AS b FROM range(10)) TO '" +
                         path + "' (FORMAT parquet)")
                  .ok());
  InputSpec spec;
  spec.path = path;
  auto src = OpenSource(spec, 1).value();
  ReadLayout layout = FloatAbLayout({"id"}, 4);
  layout.inputs[0].allow_nan = false;
  std::vector<std::string> errors(10);
  std::vector<float> a(10), b(10);
  Status s = src->Read(
      layout, std::vector<ShardTask>{{0, 0, 0, 0, 10, 1}},
      [] { return std::make_unique<RowBatch>(); },
      [&](std::unique_ptr<RowBatch> batch) {
        for (int64_t r = 0; r < batch->num_rows; ++r) {
          const auto row = static_cast<size_t>(batch->first_row + r);
          if (batch->RowFailed(r)) errors[row] = batch->row_errors[static_cast<size_t>(r)];
          a[row] = batch->inputs[0].data_as<float>()[r * 2];
          b[row] = batch->inputs[0].data_as<float>()[r * 2 + 1];
        }
        return true;
      });
  ASSERT_TRUE(s.ok()) << s.ToString();
  for (size_t r = 0; r < 10; ++r) {
    EXPECT_EQ(b[r], static_cast<float>(r * 0.25)) << r;
    if (r == 3) {
      EXPECT_EQ(errors[r], "null or unconvertible value in column 'a'");
    } else if (r == 5 || r == 6) {
      EXPECT_EQ(errors[r], "NaN or Inf in column 'a' (allow_nan is false)");
    } else {
      EXPECT_EQ(errors[r], "") << r;
      EXPECT_EQ(a[r], static_cast<float>(r * 0.1)) << r;
    }
  }
}

// A JSONL read spells its columns as the job reads them (no type inference):
// a float after 20,480 integers (DuckDB's sample) is read as it is, not
// rounded to the integer type inferred from the sample; extra keys are
// skipped; a value that does not parse falls back to a read of the features
// as text, failing only its row.
TEST_F(IoTest, JsonlReadSpellsItsColumnsAndFallsBackOnAValueThatDoesNotParse) {
  ReadLayout layout = FloatAbLayout({"id"}, 4096);
  layout.carried_types = {"BIGINT"};
  EXPECT_EQ(JsonlReadColumns(layout), "'a': 'DOUBLE', 'b': 'DOUBLE', 'id': 'BIGINT'");
  EXPECT_EQ(JsonlReadColumns(layout, /*features_as_text=*/true),
            "'id': 'BIGINT', 'a': 'VARCHAR', 'b': 'VARCHAR'");
  ReadLayout drift = layout;
  drift.carried = {"a"};
  drift.carried_types = {"VARCHAR"};  // read as two types: not spelled
  EXPECT_EQ(JsonlReadColumns(drift), "");
  ReadLayout kept = layout;  // as text, a kept feature column keeps its type
  kept.carried = {"id", "a"};
  kept.carried_types = {"BIGINT", "DOUBLE"};
  EXPECT_EQ(JsonlReadColumns(kept, true), "'id': 'BIGINT', 'a': 'DOUBLE', 'b': 'VARCHAR'");
  ReadLayout untyped = layout;
  untyped.carried_types.clear();
  EXPECT_EQ(JsonlReadColumns(untyped), "");

  // Both files are over kJsonlSpelledMinBytes.
  constexpr int64_t kLateRow = 20490, kRows = 20500, kBadRow = 1;
  std::string late, bad;
  for (int64_t i = 0; i < kRows; ++i) {
    const std::string a = i == kLateRow ? "2.5" : std::to_string(i % 7);
    late += "{\"id\": " + std::to_string(i) + ", \"a\": " + a + ", \"b\": 1, \"note\": \"x\"}\n";
    const std::string b = i == kBadRow ? "\"oops\"" : std::to_string(i % 5) + ".5";
    bad += "{\"id\": " + std::to_string(i) + ", \"a\": " + b + ", \"b\": 2}\n";
  }
  ASSERT_TRUE(Env::Default()->WriteFileAtomic(JoinPath(dir_, "a.jsonl"), late).ok());
  ASSERT_TRUE(Env::Default()->WriteFileAtomic(JoinPath(dir_, "b.jsonl"), bad).ok());
  InputSpec spec;
  spec.path = JoinPath(dir_, "*.jsonl");
  auto src = OpenSource(spec, 1).value();
  std::map<std::pair<int32_t, int64_t>, std::pair<float, bool>> got;  // (file, row) -> a, failed
  ShardTask first{0, 0, 0, 0, kRows, 1}, second{1, 1, 1, 0, kRows, 1};
  first.file_end = second.file_end = true;
  Status s = src->Read(
      layout, std::vector<ShardTask>{first, second}, [] { return std::make_unique<RowBatch>(); },
      [&](std::unique_ptr<RowBatch> b) {
        for (int64_t r = 0; r < b->num_rows; ++r) {
          got[{b->file_index, b->first_row + r}] = {b->inputs[0].data_as<float>()[r * 2],
                                                    b->RowFailed(r)};
        }
        return true;
      });
  ASSERT_TRUE(s.ok()) << s.ToString();
  ASSERT_EQ(got.size(), static_cast<size_t>(2 * kRows));
  using P = std::pair<float, bool>;
  EXPECT_EQ((got[{0, kLateRow}]), P(2.5f, false));
  EXPECT_EQ((got[{0, kLateRow + 1}]), P(static_cast<float>((kLateRow + 1) % 7), false));
  EXPECT_EQ((got[{1, 0}]), P(0.5f, false));
  EXPECT_TRUE((got[{1, kBadRow}].second));  // "oops" is not a number
  EXPECT_EQ((got[{1, kBadRow + 1}]), P(2.5f, false));
  EXPECT_EQ((got[{1, kRows - 1}]), P(static_cast<float>((kRows - 1) % 5) + 0.5f, false));
}

TEST_F(IoTest, PackedShardIsReadFileByFileAndEndsWithItsLastFile) {
  for (const char* format : {"csv", "parquet"}) {
    Make(std::string("a.") + format, format, 5);
    Make(std::string("b.") + format, format, 3);
    InputSpec spec;
    spec.path = JoinPath(dir_, std::string("*.") + format);
    auto src = OpenSource(spec, 1).value();
    ShardTask packed{4, 0, 0, 0, 8, 1};
    packed.packed = {FilePart{0, 5}, FilePart{1, 3}};
    std::vector<std::tuple<int32_t, int64_t, int64_t, int64_t, bool>>
        got;  // file, seq, first, n, last
    Status s = src->Read(
        Layout(4), std::vector<ShardTask>{packed}, [] { return std::make_unique<RowBatch>(); },
        [&](std::unique_ptr<RowBatch> b) {
          EXPECT_EQ(b->shard_id, 4);
          got.emplace_back(b->file_index, b->seq, b->first_row, b->num_rows, b->last_in_shard);
          return true;
        });
    ASSERT_TRUE(s.ok()) << s.ToString();
    // Batches never span files; seq runs on across them; only the last ends the shard.
    using T = std::tuple<int32_t, int64_t, int64_t, int64_t, bool>;
    EXPECT_EQ(got, (std::vector<T>{{0, 0, 0, 4, false}, {0, 1, 4, 1, false}, {1, 2, 0, 3, true}}))
        << format;
  }
}

TEST_F(IoTest, CsvSkipsRowsBeforePendingShards) {
  Make("a.csv", "csv", 3000);
  InputSpec spec;
  spec.path = JoinPath(dir_, "a.csv");
  auto src = OpenSource(spec, 1).value();
  EXPECT_FALSE(src->seekable());
  EXPECT_EQ(src->CountRows(0).value(), 3000);
  double sum = 0;
  auto batches =
      ReadAll(src.get(), Layout(4096), {{1, 0, 0, 1000, 2000, 1}, {2, 1, 0, 2000, 3000, 1}}, &sum);
  ASSERT_EQ(batches.size(), 2u);
  EXPECT_EQ(batches[0], std::make_tuple(int64_t{1000}, int64_t{1000}, true));
  EXPECT_EQ(batches[1], std::make_tuple(int64_t{2000}, int64_t{1000}, true));
  double expect = 0;
  for (int i = 1000; i < 3000; ++i) expect += i * 0.5;
  EXPECT_DOUBLE_EQ(sum, expect);
}

TEST_F(IoTest, ListingRejectsGlobsMatchingNothingAndUnknownExtensions) {
  InputSpec spec;
  spec.path = JoinPath(dir_, "*.parquet");
  auto r = ListInputFiles(spec, Env::Default());
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code(), Code::kNotFound);
  ASSERT_TRUE(Env::Default()->WriteFile(JoinPath(dir_, "x.bin"), "zz").ok());
  spec.path = JoinPath(dir_, "x.bin");
  r = ListInputFiles(spec, Env::Default());
  ASSERT_FALSE(r.has_value());
  EXPECT_NE(r.error().message().find("input.format"), std::string::npos);
}

// A 0-byte CSV/JSONL file has no rows: skipped among other files, refused
// alone (no header to bind the job to); a 0-byte Parquet file is corrupt.
TEST_F(IoTest, ListingSkipsEmptyTextFilesAndRefusesEmptyParquet) {
  const std::string dir = JoinPath(dir_, "in");
  ASSERT_TRUE(Env::Default()->CreateDirs(dir).ok());
  ASSERT_TRUE(Env::Default()->WriteFile(JoinPath(dir, "a.csv"), "").ok());
  InputSpec spec;
  spec.path = dir;
  auto r = ListInputFiles(spec, Env::Default());
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code(), Code::kInvalidData);
  EXPECT_NE(r.error().message().find("holds only empty files"), std::string::npos);
  spec.path = JoinPath(dir, "a.csv");
  r = ListInputFiles(spec, Env::Default());
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().message(),
            "input file '" + spec.path +
                "' is empty (0 bytes): it has no header or rows to check the job's columns "
                "against");
  ASSERT_TRUE(Env::Default()->WriteFile(JoinPath(dir, "b.csv"), "id\n1\n").ok());
  spec.path = dir;
  r = ListInputFiles(spec, Env::Default());
  ASSERT_TRUE(r.has_value()) << r.error().ToString();
  ASSERT_EQ(r->size(), 1u);
  EXPECT_EQ((*r)[0].path, JoinPath(dir, "b.csv"));
  EXPECT_EQ((*r)[0].index, 0);
  spec.path = JoinPath(dir_, "e.parquet");
  ASSERT_TRUE(Env::Default()->WriteFile(spec.path, "").ok());
  r = ListInputFiles(spec, Env::Default());
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().message(),
            "input file '" + spec.path + "' is empty (0 bytes): not a Parquet file");
}

TEST_F(IoTest, SinkWritesGoodRowsAndDeadLettersFailedOnes) {
  Make("a.parquet", "parquet", 10);
  InputSpec spec;
  spec.path = JoinPath(dir_, "a.parquet");
  auto src = OpenSource(spec, 1).value();
  ReadLayout layout = Layout(16);
  SinkLayout sl;
  sl.output_dir = JoinPath(dir_, "out");
  sl.dead_letter_dir = JoinPath(dir_, "out/_failed");
  sl.carried = layout.carried;
  sl.carried_types = src->CarriedTypes(layout).value();
  EXPECT_EQ(sl.carried_types, (std::vector<std::string>{"BIGINT", "VARCHAR"}));
  sl.keep_count = 2;
  sl.key = {"id"};
  sl.outputs = {{"score", DType::kFloat32, false, 0, 1}};
  sl.input_paths = {"a.parquet"};
  auto sink = OpenFileSink(sl, 1).value();
  auto writer = sink->BeginShard(0, 1).value();
  Status s = src->Read(
      layout, std::vector<ShardTask>{{0, 0, 0, 0, 10, 1}},
      [] { return std::make_unique<RowBatch>(); },
      [&](std::unique_ptr<RowBatch> b) {
        b->outputs.push_back(Tensor::Allocate(DType::kFloat32, {b->num_rows, 2}));
        for (int64_t r = 0; r < b->num_rows; ++r)
          b->outputs[0].data_as<float>()[r * 2 + 1] = r * 10.0f;
        b->SetRowError(3, "poison");
        EXPECT_TRUE(writer->Append(*b).ok());
        return true;
      });
  ASSERT_TRUE(s.ok()) << s.ToString();
  auto out = writer->Finish([] { return Status::Ok(); }).value();
  EXPECT_EQ(out.output_file, "part-000000.parquet");
  EXPECT_EQ(out.rows_written, 9);
  ASSERT_EQ(out.failures.size(), 1u);
  EXPECT_EQ(out.failures[0].key_json, "3");
  EXPECT_EQ(out.failures[0].error, "poison");
  auto r = conn_
               ->Query("SELECT count(*), sum(score), min(s) FROM '" +
                       JoinPath(sl.output_dir, out.output_file) + "'")
               .value();
  EXPECT_EQ(r.Int(0, 0), 9);
  EXPECT_EQ(r.Int(1, 0), 420);
  EXPECT_EQ(r.Text(2, 0), "k0");
  auto dl = Env::Default()->ReadFile(JoinPath(sl.dead_letter_dir, "part-000000.jsonl")).value();
  EXPECT_EQ(dl,
            "{\"key\":3,\"shard\":0,\"file\":\"a.parquet\",\"row\":3,\"error\":\"poison\","
            "\"attempts\":1}\n");
  // No temp files remain.
  auto names = Env::Default()->ListDir(sl.output_dir).value();
  EXPECT_EQ(names, (std::vector<std::string>{"_failed", "part-000000.parquet"}));
}

// Reads int64 list column "t" (carrying "id"), bucketed by its length.
ReadLayout BucketedListLayout(int64_t batch_rows, int64_t max_tokens) {
  ReadLayout layout;
  InputPacking p;
  p.columns = {"t"};
  p.dtype = DType::kInt64;
  p.column_widths = {-1};
  p.column_is_list = {true};
  p.row_shape = {-1};
  layout.inputs = {p};
  layout.carried = {"id"};
  layout.batch_rows = batch_rows;
  layout.sort_by_length = "t";
  layout.max_tokens = max_tokens;
  return layout;
}

TEST_F(IoTest, BucketingSortsByLengthAndCapsPaddedTokens) {
  std::string path = JoinPath(dir_, "l.parquet");
  // Lengths cycle 1..9 over 300 rows.
  ASSERT_TRUE(
      conn_
          ->Exec(
              "COPY (SELECT range AS id, list_transform(range(1 + range % 9), x -> x::BIGINT) AS t "
              "FROM range(300)) TO '" +
              path + "' (FORMAT parquet)")
          .ok());
  InputSpec spec;
  spec.path = path;
  auto src = OpenSource(spec, 1).value();
  ReadLayout layout = BucketedListLayout(64, 100);
  layout.inputs[0].pad_value = -7;
  int64_t rows = 0, last_width = 0;
  bool saw_last = false;
  Status s = src->Read(
      layout, std::vector<ShardTask>{{0, 0, 0, 0, 300, 1}},
      [] { return std::make_unique<RowBatch>(); },
      [&](std::unique_ptr<RowBatch> b) {
        const Tensor& t = b->inputs[0];
        int64_t width = t.shape()[1];
        EXPECT_LE(b->num_rows * width, 100);  // max_tokens
        EXPECT_LE(b->num_rows, 64);
        EXPECT_GE(width, last_width);  // shortest first
        last_width = width;
        EXPECT_EQ(static_cast<int64_t>(b->row_numbers.size()), b->num_rows);
        for (int64_t r = 0; r < b->num_rows; ++r) {
          int64_t len = 1 + b->RowNumber(r) % 9;
          for (int64_t k = 0; k < width; ++k) {
            EXPECT_EQ(t.data_as<int64_t>()[r * width + k], k < len ? k : -7);
          }
        }
        rows += b->num_rows;
        saw_last = saw_last || b->last_in_shard;
        return true;
      });
  ASSERT_TRUE(s.ok()) << s.ToString();
  EXPECT_EQ(rows, 300);
  EXPECT_TRUE(saw_last);
}

// With max_tokens, a batch also ends where the next (sorted) row is over 1.25x
// its shortest, once it holds an eighth of the budget; a batch below that
// share takes longer rows rather than being cut tiny.
TEST_F(IoTest, BucketingCutsWhereLengthsSpreadOnceABatchIsWorthIt) {
  auto widths_of = [&](const std::string& lengths_sql, int64_t rows) {
    std::string path = JoinPath(dir_, "spread.parquet");
    EXPECT_TRUE(conn_
                    ->Exec("COPY (SELECT range AS id, list_transform(range(" + lengths_sql +
                           "), x -> x::BIGINT) AS t FROM range(" + std::to_string(rows) +
                           ")) TO '" + path + "' (FORMAT parquet)")
                    .ok());
    InputSpec spec;
    spec.path = path;
    auto src = OpenSource(spec, 1).value();
    ReadLayout layout = BucketedListLayout(10000, 20000);
    std::vector<std::pair<int64_t, int64_t>> batches;  // (rows, width)
    Status s = src->Read(
        layout, std::vector<ShardTask>{{0, 0, 0, 0, rows, 1}},
        [] { return std::make_unique<RowBatch>(); },
        [&](std::unique_ptr<RowBatch> b) {
          if (b->num_rows > 0) batches.emplace_back(b->num_rows, b->inputs[0].shape()[1]);
          return true;
        });
    EXPECT_TRUE(s.ok()) << s.ToString();
    return batches;
  };
  // 200 rows each of lengths 8, 9 and 20: all 600 fit the budget padded to 20
  // (12,000 tokens), but the 20s are over 1.25x the 8s and 400 x 9 is over an
  // eighth of 20,000: two batches, 7,600 padded tokens.
  EXPECT_EQ(widths_of("CASE WHEN range < 200 THEN 8 WHEN range < 400 THEN 9 ELSE 20 END", 600),
            (std::vector<std::pair<int64_t, int64_t>>{{400, 9}, {200, 20}}));
  // 10 rows of 2, then 100 of 50: the short rows are far below an eighth of
  // the budget, so they ride along instead of making a batch of their own.
  EXPECT_EQ(widths_of("CASE WHEN range < 10 THEN 2 ELSE 50 END", 110),
            (std::vector<std::pair<int64_t, int64_t>>{{110, 50}}));
}

}  // namespace
}  // namespace nightshift::io
