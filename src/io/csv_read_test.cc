// The CSV read path of the DuckDB source: rows counted without DuckDB agree
// with DuckDB, float features read as typed columns give exactly what the
// text + TRY_CAST read gives (a value that does not parse is a row error, not
// a failed scan, wherever it lies), and a file with more rows than planned is
// an error rather than rows silently left out.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <map>

#include "io/duck.h"
#include "io/duck_test_fixture.h"
#include "nightshift/env.h"
#include "nightshift/source.h"

namespace nightshift::io {
namespace {

class CsvReadTest : public DuckTest {
 protected:
  // "id,a,b" rows: a = id * 0.5 except where `a_text` overrides it.
  std::string WriteRows(const std::string& name, int64_t rows,
                        const std::map<int64_t, std::string>& a_text) {
    std::string text = "id,a,b\n";
    for (int64_t i = 0; i < rows; ++i) {
      auto it = a_text.find(i);
      text += std::to_string(i) + "," +
              (it != a_text.end() ? it->second : std::to_string(static_cast<double>(i) * 0.5)) +
              "," + std::to_string(i % 7) + "\n";
    }
    return Write(name, text);
  }
  struct Rows {
    std::vector<float> a;              // per file row read (NaN stands in for a row error)
    std::vector<int64_t> errors;       // file rows with a row error
    std::vector<std::string> reasons;  // their reasons, in the same order
    Status status;
  };
  static Rows ReadA(Source* src, std::vector<ShardTask> shards) {
    Rows out;
    out.status = src->Read(
        FloatAbLayout({"id"}, 4096), shards, [] { return std::make_unique<RowBatch>(); },
        [&](std::unique_ptr<RowBatch> b) {
          for (int64_t r = 0; r < b->num_rows; ++r) {
            if (b->RowFailed(r)) {
              out.errors.push_back(b->first_row + r);
              out.reasons.push_back(b->row_errors[static_cast<size_t>(r)]);
            }
            out.a.push_back(b->inputs[0].data_as<float>()[r * 2]);
          }
          return true;
        });
    return out;
  }
  // A folder of a.csv (3 plain rows) and b.csv (same header, 2 rows, the
  // last with a stray quote: "3 does not read under '"' quoting).
  std::unique_ptr<Source> OpenPlainAndStrayQuote() {
    WriteRows("a.csv", 3, {});
    Write("b.csv", "id,a,b\n0,1.5,2\n1,2.5,\"3\n");
    InputSpec spec;
    spec.path = dir_;
    auto src = OpenSource(spec, 1).value();
    EXPECT_EQ(src->files().size(), 2u);
    return src;
  }
  static std::unique_ptr<Source> Open(const std::string& path) {
    InputSpec spec;
    spec.path = path;
    return OpenSource(spec, 1).value();
  }
};

TEST_F(CsvReadTest, CountsRowsAsDuckDbDoes) {
  const std::vector<std::string> texts = {
      "id,a,b\n1,2,3\n4,5,6\n",
      "id,a,b\n1,\"x\ny\",3\n4,5,6",  // a quoted line break
      "id,a,b\r\n1,2,3\r\n4,5,6\r\n",
      "id,a,b\n1,2,3\n\n4,5,6\n",  // a blank line: DuckDB counts it
      "id,a,b\n1,2,3\n",
  };
  for (size_t i = 0; i < texts.size(); ++i) {
    std::string path = Write("c" + std::to_string(i) + ".csv", texts[i]);
    auto duck =
        conn_->Query("SELECT count(*) FROM read_csv(" + QuoteString(path) + ", header = true)")
            .value();
    auto src = Open(path);
    auto rows = src->CountRows(0);
    ASSERT_TRUE(rows.has_value()) << rows.error().ToString();
    EXPECT_EQ(*rows, duck.Int(0, 0)) << texts[i];
  }
  std::string jsonl = Write("j.jsonl", "{\"a\": 1}\n{\"a\": 2}\n\n{\"a\": 3}\n");
  auto duck = conn_
                  ->Query("SELECT count(*) FROM read_json(" + QuoteString(jsonl) +
                          ", format = 'newline_delimited')")
                  .value();
  EXPECT_EQ(Open(jsonl)->CountRows(0).value(), duck.Int(0, 0));
}

TEST_F(CsvReadTest, BadFloatBeyondTheSniffedRowsIsARowErrorAndTheRestIsRead) {
  // DuckDB's sniffer samples the first rows: the bad values lie beyond them.
  const int64_t n = 40000;
  std::string path = WriteRows("a.csv", n, {{30000, "oops"}, {35001, "1.5.5"}});
  auto src = Open(path);
  ASSERT_EQ(src->CountRows(0).value(), n);
  ShardTask first{0, 0, 0, 0, 20000, 1};
  ShardTask second{1, 1, 0, 20000, n, 1};
  second.file_end = true;
  Rows rows = ReadA(src.get(), {first, second});
  ASSERT_TRUE(rows.status.ok()) << rows.status.ToString();
  ASSERT_EQ(static_cast<int64_t>(rows.a.size()), n);
  EXPECT_EQ(rows.errors, (std::vector<int64_t>{30000, 35001}));
  for (int64_t i = 0; i < n; ++i) {
    if (i == 30000 || i == 35001) continue;
    ASSERT_FLOAT_EQ(rows.a[static_cast<size_t>(i)], static_cast<float>(i) * 0.5f) << i;
  }
}

// float32 features are read as DOUBLE and narrowed by the packer: a value
// is what TRY_CAST to DOUBLE makes of the text, and a finite value beyond
// float32's range is a row error (not inf, not a silent null).
TEST_F(CsvReadTest, TypedFloatsReadAsTryCastDoes) {
  // Each value alone in a file, so that one that stops the typed read does
  // not hide another.
  const std::vector<std::string> values = {
      "1e3",   "-2",   "+4",       ".5",       "5.",      "-0",    "nan",          "NaN",
      "inf",   "-inf", "Infinity", " 3.5",     "3.5 ",    "1e400", "1e-50",        "0x10",
      "1_000", "abc",  "",         "\"7.25\"", "\"1,5\"", "1.5e",  "3.4028236e38", "TRUE"};
  for (size_t i = 0; i < values.size(); ++i) {
    std::string path = Write("v" + std::to_string(i) + ".csv",
                             "id,a,b\n0,0.5,1\n1," + values[i] + ",1\n2,2.5,1\n");
    auto ref = conn_->Query(
        "SELECT TRY_CAST(a AS DOUBLE) IS NULL, TRY_CAST(a AS DOUBLE)::VARCHAR "
        "FROM read_csv(" +
        QuoteString(path) + ", header = true, types = {'a': 'VARCHAR'}) WHERE id = 1");
    ASSERT_TRUE(ref.has_value()) << values[i];
    const std::string expect = ref->Text(1, 0);
    const double as_double = std::strtod(expect.c_str(), nullptr);
    const bool null = ref->Text(0, 0) == "true" ||
                      (std::isfinite(as_double) && std::fabs(as_double) > 3.4028234663852886e38);
    auto src = Open(path);
    ShardTask all{0, 0, 0, 0, 3, 1};
    all.file_end = true;
    Rows rows = ReadA(src.get(), {all});
    ASSERT_TRUE(rows.status.ok()) << values[i] << ": " << rows.status.ToString();
    ASSERT_EQ(rows.a.size(), 3u) << values[i];
    if (null) {
      EXPECT_EQ(rows.errors, std::vector<int64_t>{1}) << values[i];
    } else {
      EXPECT_TRUE(rows.errors.empty()) << values[i];
      auto want = static_cast<float>(as_double);
      if (std::isnan(want)) {
        EXPECT_TRUE(std::isnan(rows.a[1])) << values[i];
      } else {
        EXPECT_EQ(rows.a[1], want)
            << values[i] << " read as " << rows.a[1] << ", TRY_CAST " << expect;
      }
    }
  }
}

// One rule for a value float32 cannot hold, whatever the column's type in
// the file: CSV text and Parquet DOUBLE give the same row error naming the
// column and the value; an explicit inf stays inf (allow_nan decides).
TEST_F(CsvReadTest, ValueBeyondFloat32IsARowErrorNamingColumnAndValue) {
  std::string csv = WriteRows("big.csv", 4, {{1, "1e39"}, {2, "inf"}});
  std::string parquet = JoinPath(dir_, "big.parquet");
  ASSERT_TRUE(conn_
                  ->Exec("COPY (SELECT * FROM read_csv(" + QuoteString(csv) +
                         ", header = true, types = {'a': 'DOUBLE'})) TO " + QuoteString(parquet) +
                         " (FORMAT parquet)")
                  .ok());
  for (const std::string& path : {csv, parquet}) {
    auto src = Open(path);
    ShardTask all{0, 0, 0, 0, 4, 1};
    all.file_end = true;
    Rows rows = ReadA(src.get(), {all});
    ASSERT_TRUE(rows.status.ok()) << path << ": " << rows.status.ToString();
    EXPECT_EQ(rows.errors, std::vector<int64_t>{1}) << path;
    EXPECT_EQ(rows.reasons,
              std::vector<std::string>{"value 1e+39 in column 'a' is out of range for float32"})
        << path;
    EXPECT_TRUE(std::isinf(rows.a[2])) << path;
  }
}

// The same rule for the narrow integer dtypes (read as BIGINT, narrowed by
// the packer): 300 does not fit int8, and the reason says so.
TEST_F(CsvReadTest, ValueBeyondInt8IsARowErrorNamingColumnAndValue) {
  std::string path = Write("i8.csv", "id,a,b\n0,5,1\n1,300,1\n2,-128,1\n3,-129,1\n");
  ReadLayout layout = FloatAbLayout({"id"}, 16);
  layout.inputs[0].dtype = DType::kInt8;
  auto src = Open(path);
  ShardTask all{0, 0, 0, 0, 4, 1};
  all.file_end = true;
  std::vector<std::string> reasons;
  std::vector<int8_t> a;
  Status st = src->Read(
      layout, {&all, 1}, [] { return std::make_unique<RowBatch>(); },
      [&](std::unique_ptr<RowBatch> b) {
        for (int64_t r = 0; r < b->num_rows; ++r) {
          reasons.push_back(b->RowFailed(r) ? b->row_errors[static_cast<size_t>(r)] : "");
          a.push_back(b->inputs[0].data_as<int8_t>()[r * 2]);
        }
        return true;
      });
  ASSERT_TRUE(st.ok()) << st.ToString();
  EXPECT_EQ(reasons,
            (std::vector<std::string>{"", "value 300 in column 'a' is out of range for int8", "",
                                      "value -129 in column 'a' is out of range for int8"}));
  EXPECT_EQ(a, (std::vector<int8_t>{5, 0, -128, 0}));
}

// A column fed twice is read once by read_csv (which refuses a repeated
// name in `types`) and packed twice, as for Parquet.
TEST_F(CsvReadTest, ColumnFedTwiceIsReadOnceAndPackedTwice) {
  std::string path = WriteRows("twice.csv", 3, {});
  ReadLayout layout = FloatAbLayout({"id"}, 16);
  layout.inputs[0].columns = {"a", "a"};
  auto src = Open(path);
  ShardTask all{0, 0, 0, 0, 3, 1};
  all.file_end = true;
  std::vector<float> packed;
  Status st = src->Read(
      layout, {&all, 1}, [] { return std::make_unique<RowBatch>(); },
      [&](std::unique_ptr<RowBatch> b) {
        EXPECT_EQ(b->CountRowErrors(), 0);
        const float* x = b->inputs[0].data_as<float>();
        packed.insert(packed.end(), x, x + 2 * b->num_rows);
        return true;
      });
  ASSERT_TRUE(st.ok()) << st.ToString();
  EXPECT_EQ(packed, (std::vector<float>{0, 0, 0.5f, 0.5f, 1, 1}));
}

TEST_F(CsvReadTest, MoreRowsThanPlannedIsAnErrorNamingTheFile) {
  std::string path = WriteRows("a.csv", 3000, {});
  auto src = Open(path);
  ShardTask s{0, 0, 0, 0, 2500, 1};
  s.file_end = true;  // as if the plan had counted 2500 rows
  Rows rows = ReadA(src.get(), {s});
  ASSERT_FALSE(rows.status.ok());
  EXPECT_NE(rows.status.message().find(path), std::string::npos) << rows.status.ToString();
  EXPECT_NE(rows.status.message().find("more rows"), std::string::npos);
  // Without file_end (a resumed run's earlier shard, say) later rows are not read.
  s.file_end = false;
  EXPECT_TRUE(ReadA(src.get(), {s}).status.ok());
}

// Files sharing a header line share the first one's sniffed dialect
// (io/csv_dialects.h); one that does not read under it (a stray quote that
// '"' quoting takes for an unterminated value) is described, counted and
// read with DuckDB sniffing it, as every file was before.
TEST_F(CsvReadTest, FileThatDoesNotReadUnderItsHeadersDialectIsSniffedAlone) {
  auto src = OpenPlainAndStrayQuote();
  ASSERT_TRUE(src->Describe(0).has_value());
  auto cols = src->Describe(1);
  ASSERT_TRUE(cols.has_value()) << cols.error().ToString();
  EXPECT_EQ(cols->at(2).sql_type, "VARCHAR");  // "3, read as text
  ASSERT_EQ(src->CountRows(1).value(), 2);
  ShardTask s{0, 0, 1, 0, 2, 1};
  s.file_end = true;
  Rows rows = ReadA(src.get(), {s});
  ASSERT_TRUE(rows.status.ok()) << rows.status.ToString();
  ASSERT_EQ(rows.a.size(), 2u);
  EXPECT_FLOAT_EQ(rows.a[0], 1.5f);
  EXPECT_EQ(rows.errors, std::vector<int64_t>{1});  // its b does not parse
}

// A retry reads files without describing them first: such a file reads
// with DuckDB sniffing it (no dialect was looked up for it).
TEST_F(CsvReadTest, UndescribedFileIsReadWithDuckDbSniffingIt) {
  auto src = OpenPlainAndStrayQuote();
  ASSERT_EQ(src->CountRows(0).value(), 3);
  ShardTask s{0, 0, 1, 0, 2, 1};
  s.file_end = true;
  Rows rows = ReadA(src.get(), {s});
  ASSERT_TRUE(rows.status.ok()) << rows.status.ToString();
  ASSERT_EQ(rows.a.size(), 2u);
  EXPECT_EQ(rows.errors, std::vector<int64_t>{1});
}

}  // namespace
}  // namespace nightshift::io
