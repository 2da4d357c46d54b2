// A RowExpander in the read layout (what pdf_pages sets): each input row
// becomes the rows it counts, numbered in RowBatch::items, cut into batches
// by rows made (an input row may span batches), its carried columns repeated;
// a row it cannot expand is one failed row.
#include <gtest/gtest.h>

#include <charconv>
#include <tuple>

#include "io/duck_test_fixture.h"
#include "nightshift/source.h"

namespace nightshift::io {
namespace {

// Expands "<n>" into n rows numbered from `first`; anything else is an
// error. Fills each row with its item number.
class CountingStep final : public RowFiller, public RowExpander {
 public:
  explicit CountingStep(int64_t first = 1) : first_(first) {}
  int64_t first_item() const override { return first_; }
  const std::string& column() const override { return column_; }
  bool bytes() const override { return false; }
  void Fill(std::span<Row> rows) const override {
    for (auto& r : rows) *r.out = static_cast<float>(r.item);
  }
  Result<int64_t> Count(std::string_view value, std::string_view) const override {
    int64_t n = 0;
    auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), n);
    if (ec != std::errc() || end != value.data() + value.size() || n < 0) {
      return Error(Status(Code::kInvalidData, "cannot expand '" + std::string(value) + "'"));
    }
    return n;
  }

 private:
  std::string column_ = "s";
  int64_t first_;
};

using RowExpansionTest = DuckTest;

TEST_F(RowExpansionTest, EachRowBecomesItsItemsAcrossBatches) {
  const std::string path = JoinPath(dir_, "e.parquet");
  ASSERT_TRUE(conn_
                  ->Exec("COPY (SELECT * FROM (VALUES (10, '3'), (11, 'x'), (12, '1'), (13, '4')) "
                         "t(id, s)) TO '" +
                         path + "' (FORMAT parquet)")
                  .ok());
  InputSpec spec;
  spec.path = path;
  auto src = OpenSource(spec, 1).value();
  auto step = std::make_shared<CountingStep>();
  ReadLayout layout;
  InputPacking in;
  in.columns = {"made"};
  in.column_widths = {1};
  in.column_is_list = {false};
  in.row_shape = {1};
  in.filler = step;
  layout.inputs = {in};
  layout.carried = {"id"};
  layout.batch_rows = 2;
  layout.expander = step;
  layout.expand_input = 0;
  // (file row, item, filled value, failed) per row, and rows per batch.
  std::vector<std::tuple<int64_t, int64_t, float, bool>> rows;
  std::vector<std::pair<int64_t, bool>> batches;
  Status s = src->Read(
      layout, std::vector<ShardTask>{{0, 0, 0, 0, 4, 1}},
      [] { return std::make_unique<RowBatch>(); },
      [&](std::unique_ptr<RowBatch> b) {
        batches.emplace_back(b->num_rows, b->last_in_shard);
        EXPECT_EQ(static_cast<int64_t>(b->items.size()), b->num_rows);
        for (int64_t r = 0; r < b->num_rows; ++r) {
          rows.emplace_back(b->RowNumber(r), b->items[static_cast<size_t>(r)],
                            b->inputs[0].data_as<float>()[r], b->RowFailed(r));
        }
        return true;
      });
  ASSERT_TRUE(s.ok()) << s.ToString();
  using R = std::tuple<int64_t, int64_t, float, bool>;
  EXPECT_EQ(rows, (std::vector<R>{{0, 1, 1.f, false},
                                  {0, 2, 2.f, false},
                                  {0, 3, 3.f, false},
                                  {1, 0, 0.f, true},
                                  {2, 1, 1.f, false},
                                  {3, 1, 1.f, false},
                                  {3, 2, 2.f, false},
                                  {3, 3, 3.f, false},
                                  {3, 4, 4.f, false}}));
  using B = std::pair<int64_t, bool>;
  EXPECT_EQ(batches, (std::vector<B>{{2, false}, {2, false}, {2, false}, {2, false}, {1, true}}));
}

// As crop numbers a row's boxes: from 0, and a row of 0 boxes makes no rows.
TEST_F(RowExpansionTest, ItemsCountFromTheExpandersFirstAndAnEmptyRowMakesNone) {
  const std::string path = JoinPath(dir_, "z.parquet");
  ASSERT_TRUE(conn_
                  ->Exec("COPY (SELECT * FROM (VALUES (10, '2'), (11, '0'), (12, '1')) t(id, s)) "
                         "TO '" +
                         path + "' (FORMAT parquet)")
                  .ok());
  InputSpec spec;
  spec.path = path;
  auto src = OpenSource(spec, 1).value();
  auto step = std::make_shared<CountingStep>(/*first=*/0);
  ReadLayout layout;
  InputPacking in;
  in.columns = {"made"};
  in.column_widths = {1};
  in.column_is_list = {false};
  in.row_shape = {1};
  in.filler = step;
  layout.inputs = {in};
  layout.carried = {"id"};
  layout.batch_rows = 8;
  layout.expander = step;
  std::vector<std::pair<int64_t, int64_t>> rows;  // (file row, item)
  Status s = src->Read(
      layout, std::vector<ShardTask>{{0, 0, 0, 0, 3, 1}},
      [] { return std::make_unique<RowBatch>(); },
      [&](std::unique_ptr<RowBatch> b) {
        for (int64_t r = 0; r < b->num_rows; ++r) {
          rows.emplace_back(b->RowNumber(r), b->items[static_cast<size_t>(r)]);
        }
        return true;
      });
  ASSERT_TRUE(s.ok()) << s.ToString();
  using P = std::pair<int64_t, int64_t>;
  EXPECT_EQ(rows, (std::vector<P>{{0, 0}, {0, 1}, {2, 0}}));
}

}  // namespace
}  // namespace nightshift::io
