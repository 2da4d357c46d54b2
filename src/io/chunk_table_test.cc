// ChunkTable and the ns_chunks table function against a real DuckDB.
#include "io/chunk_table.h"

#include <gtest/gtest.h>

namespace nightshift::io {
namespace {

class ChunkTableTest : public ::testing::Test {
 protected:
  void SetUp() override {
    db_ = DuckDatabase::OpenInMemory(1).value();
    conn_ = DuckConnection::Open(db_).value();
    registry_ = ChunkScanRegistry::Install(conn_.get()).value();
    schema_ = DuckSchema::FromSql(conn_.get(), {"x", "s"}, {"BIGINT", "VARCHAR"}).value();
  }
  // Appends rows [from, to) as x = row, s = 'r<row>', asking for `step` rows at a time.
  void Fill(ChunkTable* t, int64_t from, int64_t to, idx_t step) {
    for (int64_t row = from; row < to;) {
      ChunkTable::Room room = t->Reserve(std::min<idx_t>(step, static_cast<idx_t>(to - row)));
      ASSERT_GT(room.count, 0u);
      auto* x = static_cast<int64_t*>(
          duckdb_vector_get_data(duckdb_data_chunk_get_vector(room.chunk, 0)));
      duckdb_vector s = duckdb_data_chunk_get_vector(room.chunk, 1);
      for (idx_t i = 0; i < room.count; ++i) {
        x[room.offset + i] = row;
        std::string v = "r" + std::to_string(row);
        duckdb_vector_assign_string_element_len(s, room.offset + i, v.data(), v.size());
        ++row;
      }
      t->Commit(room.count);
    }
  }
  std::shared_ptr<DuckDatabase> db_;
  std::unique_ptr<DuckConnection> conn_;
  std::shared_ptr<ChunkScanRegistry> registry_;
  DuckSchema schema_;
};

TEST_F(ChunkTableTest, QueriesReadEveryRowInAppendOrderAcrossChunks) {
  ChunkTable t(&schema_);
  Fill(&t, 0, 5000, 700);  // 700 does not divide the chunk capacity: pieces straddle chunks
  EXPECT_EQ(t.rows(), 5000);
  idx_t capacity = duckdb_vector_size();
  EXPECT_EQ(t.chunk_count(), (5000 + capacity - 1) / capacity);  // chunks are filled up
  auto h = ChunkScanRegistry::Register(registry_, &t);
  auto r = conn_->Query("SELECT x, s FROM " + h.Sql()).value();
  ASSERT_EQ(r.row_count(), 5000u);
  for (idx_t i = 0; i < r.row_count(); ++i) {
    ASSERT_EQ(r.Int(0, i), static_cast<int64_t>(i));
    ASSERT_EQ(r.Text(1, i), "r" + std::to_string(i));
  }
}

TEST_F(ChunkTableTest, ATableCanBeReadAgainAndUnregisteredIdsFailToBind) {
  ChunkTable t(&schema_);
  Fill(&t, 10, 20, 3);
  std::string sql;
  {
    auto h = ChunkScanRegistry::Register(registry_, &t);
    sql = "SELECT sum(x), count(*) FROM " + h.Sql();
    for (int i = 0; i < 2; ++i) {
      auto r = conn_->Query(sql).value();
      EXPECT_EQ(r.Int(0, 0), 145);
      EXPECT_EQ(r.Int(1, 0), 10);
    }
  }
  auto r = conn_->Query(sql);
  ASSERT_FALSE(r.has_value());
  EXPECT_NE(r.error().message().find("no chunk table"), std::string::npos);
}

TEST_F(ChunkTableTest, AnEmptyTableHasItsColumnsAndNoRows) {
  ChunkTable t(&schema_);
  auto h = ChunkScanRegistry::Register(registry_, &t);
  auto r = conn_->Query("SELECT * FROM " + h.Sql()).value();
  EXPECT_EQ(r.column_count(), 2u);
  EXPECT_EQ(r.column_name(1), "s");
  EXPECT_EQ(r.row_count(), 0u);
}

TEST_F(ChunkTableTest, SchemaResolvesSqlTypesAndRejectsUnknownOnes) {
  auto s = DuckSchema::FromSql(conn_.get(), {"a", "b"}, {"FLOAT[]", "DECIMAL(18,3)"}).value();
  ASSERT_EQ(s.size(), 2u);
  EXPECT_EQ(duckdb_get_type_id(s.type(0)), DUCKDB_TYPE_LIST);
  EXPECT_EQ(duckdb_get_type_id(s.type(1)), DUCKDB_TYPE_DECIMAL);
  auto bad = DuckSchema::FromSql(conn_.get(), {"a"}, {"NOSUCHTYPE"});
  ASSERT_FALSE(bad.has_value());
  EXPECT_EQ(bad.error().code(), Code::kInvalidJob);
}

}  // namespace
}  // namespace nightshift::io
