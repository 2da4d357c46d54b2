// The rules the database sinks share (io/db_sink.h).
#include "io/db_sink.h"

#include <gtest/gtest.h>

#include "io/db_columns.h"

namespace nightshift::io {
namespace {

TEST(DbSinkTest, TablesBesideTheTableAreNamedAfterIt) {
  EXPECT_EQ(CommitTableName("scores"), "scores__nightshift_commits");
  const std::string a = SwapTableName("scores", "run-a");
  EXPECT_EQ(a.rfind("scores__ns_swap_", 0), 0u) << a;
  EXPECT_EQ(a.size(), std::string("scores__ns_swap_").size() + 12);
  EXPECT_EQ(a, SwapTableName("scores", "run-a"));  // the same run finds its table again
  EXPECT_NE(a, SwapTableName("scores", "run-b"));
}

TEST(DbSinkTest, RetargetCreateTableKeepsColumnsAndConstraints) {
  EXPECT_EQ(RetargetCreateTable("CREATE TABLE \"odd (name)\"(id BIGINT PRIMARY KEY, v FLOAT[]);",
                                "\"s\""),
            "CREATE TABLE IF NOT EXISTS \"s\" (id BIGINT PRIMARY KEY, v FLOAT[]);");
  EXPECT_EQ(RetargetCreateTable("CREATE TABLE [a(b] (id INTEGER)", "\"s\""),
            "CREATE TABLE IF NOT EXISTS \"s\" (id INTEGER)");
}

TEST(DbSinkTest, RetargetCreateTableOfPlainName) {
  EXPECT_EQ(RetargetCreateTable("CREATE TABLE scores (id INTEGER, p REAL, UNIQUE (id))", "\"x\""),
            "CREATE TABLE IF NOT EXISTS \"x\" (id INTEGER, p REAL, UNIQUE (id))");
}

TEST(DbSinkTest, SameEpochIsARepeatAnotherIsAConflict) {
  SinkLayout layout;
  layout.run_id = "r1";
  layout.table = "analytics.scores";
  auto repeat = AlreadyCommitted(layout, ShardAttempt{3, 7, 0}, 7, 250);
  ASSERT_TRUE(repeat.has_value());
  EXPECT_EQ(*repeat, 250);
  auto other = AlreadyCommitted(layout, ShardAttempt{3, 8, 0}, 7, 250);
  ASSERT_FALSE(other.has_value());
  EXPECT_EQ(other.error().code(), Code::kConflict);
  EXPECT_FALSE(other.error().transient());
  EXPECT_NE(other.error().message().find("shard 3 of run r1 was already committed to table "
                                         "'analytics.scores' by another worker (epoch 7; this "
                                         "attempt had epoch 8)"),
            std::string::npos)
      << other.error().message();
  auto part = AlreadyCommitted(layout, ShardAttempt{3, 8, 2}, 7, 250);
  EXPECT_NE(part.error().message().find("shard 3 (retry part 2)"), std::string::npos);
}

TEST(DbSinkTest, CreateTablesSqlPerMode) {
  const DbTableNames names{"\"t\"", "\"t__ns_swap_x\"", "\"t__nightshift_commits\"", "\"id\""};
  auto upsert = CreateTablesSql(names, OutputMode::kUpsert, false, "\"id\" BIGINT", "", "c INT");
  ASSERT_EQ(upsert.size(), 2u);
  EXPECT_EQ(upsert[0].sql,
            "CREATE TABLE IF NOT EXISTS \"t\" (\"id\" BIGINT, PRIMARY KEY (\"id\"))");
  EXPECT_EQ(upsert[1].sql, "CREATE TABLE IF NOT EXISTS \"t__nightshift_commits\" (c INT)");
  // insert: no key, so that later runs can append; nothing for a table that exists.
  auto insert = CreateTablesSql(names, OutputMode::kInsert, false, "\"id\" BIGINT", "", "c INT");
  EXPECT_EQ(insert[0].sql, "CREATE TABLE IF NOT EXISTS \"t\" (\"id\" BIGINT)");
  EXPECT_EQ(CreateTablesSql(names, OutputMode::kInsert, true, "", "", "c INT").size(), 1u);
  // swap: the existing table's definition, retargeted; else the columns and the key.
  auto swap = CreateTablesSql(names, OutputMode::kSwap, true, "\"id\" BIGINT",
                              "CREATE TABLE t(id BIGINT CHECK (id > 0))", "c INT");
  ASSERT_EQ(swap.size(), 2u);
  EXPECT_EQ(swap[0].sql, "CREATE TABLE IF NOT EXISTS \"t__ns_swap_x\" (id BIGINT CHECK (id > 0))");
  auto fresh = CreateTablesSql(names, OutputMode::kSwap, false, "\"id\" BIGINT", "", "c INT");
  EXPECT_EQ(fresh[0].sql,
            "CREATE TABLE IF NOT EXISTS \"t__ns_swap_x\" (\"id\" BIGINT, PRIMARY KEY (\"id\"))");
}

TEST(DbSinkTest, OnlyDataAndConstraintErrorsAreAboutARow) {
  EXPECT_TRUE(IsRowRejection("23514"));   // check_violation
  EXPECT_TRUE(IsRowRejection("23502"));   // not_null_violation
  EXPECT_TRUE(IsRowRejection("22001"));   // string_data_right_truncation
  EXPECT_TRUE(IsRowRejection("22003"));   // numeric_value_out_of_range
  EXPECT_FALSE(IsRowRejection(""));       // no server error: a lost connection
  EXPECT_FALSE(IsRowRejection("42501"));  // insufficient_privilege
  EXPECT_FALSE(IsRowRejection("08006"));  // connection_failure
  EXPECT_FALSE(IsRowRejection("57014"));  // query_canceled
}

// A layout keyed by `id` whose rows are pages (page_number from RowBatch::items).
SinkLayout PageLayout(OutputMode mode) {
  SinkLayout l;
  l.carried = {"id"};
  l.carried_types = {"BIGINT"};
  l.keep_count = 1;
  l.key = {"id"};
  l.mode = mode;
  OutputColumn page{"page_number", DType::kInt32};
  page.item_number = true;
  l.outputs = {page, OutputColumn{"p", DType::kFloat32}};
  return l;
}

TEST(DbSinkTest, ATableOfItemsIsKeyedByInputKeyAndItemNumber) {
  const SinkLayout l = PageLayout(OutputMode::kUpsert);
  EXPECT_EQ(TableKey(l), (std::vector<std::string>{"id", "page_number"}));
  std::vector<std::string> keys;
  for (const DbColumn& c : DbColumns(l)) {
    if (c.is_key) keys.push_back(c.name);
  }
  EXPECT_EQ(keys, (std::vector<std::string>{"id", "page_number"}));
  SinkLayout plain = l;
  plain.outputs.erase(plain.outputs.begin());
  EXPECT_EQ(TableKey(plain), std::vector<std::string>{"id"});
}

TEST(DbSinkTest, AnExistingTablesKeysAreCheckedAgainstTheItems) {
  const std::string t = "output.table 'pages'";
  for (OutputMode mode : {OutputMode::kUpsert, OutputMode::kInsert, OutputMode::kSwap}) {
    const SinkLayout l = PageLayout(mode);
    // A key on the input's key alone would refuse every page after the first.
    const Status s = CheckTableKeys(l, {{"id"}}, t);
    EXPECT_EQ(s.code(), Code::kSchemaMismatch);
    EXPECT_NE(s.message().find("unique key on (id) without 'page_number'"), std::string::npos)
        << s.message();
    EXPECT_TRUE(CheckTableKeys(l, {{"page_number", "id"}}, t).ok());
  }
  // Upsert needs a key on both; insert takes a table without one.
  const Status none = CheckTableKeys(PageLayout(OutputMode::kUpsert), {}, t);
  EXPECT_NE(none.message().find("no primary key or unique index on (id,page_number)"),
            std::string::npos)
      << none.message();
  EXPECT_TRUE(CheckTableKeys(PageLayout(OutputMode::kInsert), {}, t).ok());
  // Without items a key on the input's key is what upsert needs.
  SinkLayout plain = PageLayout(OutputMode::kUpsert);
  plain.outputs.erase(plain.outputs.begin());
  EXPECT_TRUE(CheckTableKeys(plain, {{"id"}}, t).ok());
  EXPECT_FALSE(CheckTableKeys(plain, {{"id", "p"}}, t).ok());
}

TEST(DbSinkTest, BytesAreABlobColumnInEveryDatabase) {
  SinkLayout l;
  l.key = {"id"};
  l.carried = {"id", "pdf"};
  l.carried_types = {"BIGINT", "BLOB"};
  l.keep_count = 2;
  OutputColumn page{"page", DType::kUInt8};
  page.kept_image = true;  // pdf_pages' rendered page
  l.outputs = {page};
  const std::vector<DbColumn> cols = DbColumns(l);
  ASSERT_EQ(cols.size(), 3u);
  for (size_t i : {1u, 2u}) {  // a BLOB input column kept, and the page
    EXPECT_EQ(cols[i].kind, DbKind::kBlob) << cols[i].name;
    EXPECT_FALSE(cols[i].as_text) << cols[i].name;
    EXPECT_EQ(cols[i].pg_type, "bytea") << cols[i].name;
    EXPECT_EQ(cols[i].duck_type, "BLOB") << cols[i].name;
    EXPECT_TRUE(PgTypeFits(cols[i], "bytea"));
    EXPECT_FALSE(PgTypeFits(cols[i], "text"));  // an existing text column is refused
  }
  // Read as bytes, not cast to text.
  EXPECT_EQ(ScanSelect({cols[2]}), "\"page\"");
}

}  // namespace
}  // namespace nightshift::io
