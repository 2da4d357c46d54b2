// DuckDatabase: the settings every database we open gets.
#include "io/duck.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <string>

#include "env/temp_dir_for_test.h"
#include "nightshift/env.h"

namespace nightshift::io {
namespace {

int64_t FileCacheBytes(DuckConnection* conn) {
  auto r = conn->Query(
      "SELECT coalesce(sum(memory_usage_bytes), 0) FROM duckdb_memory() "
      "WHERE tag = 'EXTERNAL_FILE_CACHE'");
  EXPECT_TRUE(r.has_value());
  return r.has_value() ? r->Int(0, 0) : -1;
}

// One query per shard over the same Parquet file used to leave each query's
// byte ranges in DuckDB's external file cache: memory grew with every shard.
TEST(DuckDatabaseTest, RepeatedShardScansKeepNothingInTheFileCache) {
  TempDir dir("ns_duck_test");
  ASSERT_TRUE(dir.ok());
  const std::string path = dir / "a.parquet";
  auto db = DuckDatabase::OpenInMemory(1).value();
  auto conn = DuckConnection::Open(db).value();
  ASSERT_TRUE(conn->Exec("COPY (SELECT range AS id, range * 0.5 AS a FROM range(64000)) TO " +
                         QuoteString(path) + " (FORMAT parquet, ROW_GROUP_SIZE 2048)")
                  .ok());
  for (int s = 0; s < 32; ++s) {
    auto r = conn->Stream(
        "SELECT id, a FROM read_parquet(" + QuoteString(path) +
        ", file_row_number = true) WHERE file_row_number >= " + std::to_string(s * 2000) +
        " AND file_row_number < " + std::to_string((s + 1) * 2000));
    ASSERT_TRUE(r.has_value());
    int64_t rows = 0;
    for (auto c = r->Next(); c.has_value() && *c; c = r->Next()) rows += c->size();
    EXPECT_EQ(rows, 2000);
  }
  EXPECT_EQ(FileCacheBytes(conn.get()), 0);
}

// Every database is offline and writes nothing under $HOME: installing or
// loading an extension that is not built in, and persistent secrets, fail at
// once with a message that says so; built-in Parquet still works.
TEST(DuckDatabaseTest, ExtensionsThatNeedInstallingFailSayingDuckDbIsOffline) {
  auto db = DuckDatabase::OpenInMemory(1).value();
  auto conn = DuckConnection::Open(db).value();
  for (const char* sql : {"INSTALL httpfs", "LOAD httpfs",
                          "SELECT * FROM read_parquet('https://example.com/a.parquet')"}) {
    Status s = conn->Exec(sql, "q");
    ASSERT_FALSE(s.ok()) << sql;
    EXPECT_EQ(s.code(), Code::kInvalidJob) << sql;
    EXPECT_EQ(s.message().rfind("q: extension or persistent secret not available: nightshift "
                                "runs DuckDB offline",
                                0),
              0u)
        << sql << ": " << s.message();
  }
  auto dir = conn->Query(
      "SELECT current_setting('extension_directory'), "
      "current_setting('secret_directory'), "
      "current_setting('autoload_known_extensions')::VARCHAR");
  ASSERT_TRUE(dir.has_value());
  EXPECT_EQ(dir->Text(0, 0), kOfflineExtensionDirectory);
  EXPECT_EQ(dir->Text(1, 0), kOfflineExtensionDirectory);
  EXPECT_EQ(dir->Text(2, 0), "false");
  EXPECT_TRUE(conn->Exec("SELECT * FROM parquet_metadata('/nonexistent.parquet') LIMIT 0")
                  .message()
                  .find("offline") == std::string::npos);
}

}  // namespace
}  // namespace nightshift::io
