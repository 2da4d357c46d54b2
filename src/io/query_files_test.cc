#include "io/query_files.h"

#include <gtest/gtest.h>

#include <filesystem>

namespace nightshift::io {
namespace {

TEST(QueryFilesTest, TakesStringLiteralsButNotIdentifiersOrComments) {
  EXPECT_EQ(StringLiterals("SELECT * FROM read_csv('data/a.csv') WHERE \"it's\" = 'O''Brien' "
                           "-- 'not this'\n/* 'nor this' */ AND x = ''"),
            (std::vector<std::string>{"data/a.csv", "O'Brien", ""}));
  EXPECT_EQ(StringLiterals("SELECT 'unterminated"), std::vector<std::string>{"unterminated"});
}

TEST(QueryFilesTest, ListsTheFilesItsLiteralsMatchRelativeToTheJobFolder) {
  namespace fs = std::filesystem;
  fs::path dir = fs::path(::testing::TempDir()) / "query_files";
  fs::remove_all(dir);
  fs::create_directories(dir / "data");
  Env* env = Env::Default();
  ASSERT_TRUE(env->WriteFile((dir / "data/a.csv").string(), "x\n1\n").ok());
  ASSERT_TRUE(env->WriteFile((dir / "data/b.csv").string(), "x\n22\n").ok());
  auto db = DuckDatabase::OpenInMemory(1).value();
  auto conn = DuckConnection::Open(db).value();
  auto files = ListQueryFiles(conn.get(), env,
                              "SELECT * FROM read_csv('data/*.csv') WHERE x <> 'data' UNION ALL "
                              "SELECT * FROM read_csv('" + (dir / "data/a.csv").string() + "')",
                              dir.string());
  ASSERT_TRUE(files.has_value()) << files.error().message();
  ASSERT_EQ(files->size(), 2u);
  EXPECT_EQ((*files)[0].path, (dir / "data/a.csv").string());
  EXPECT_EQ((*files)[0].size, 4);
  EXPECT_EQ((*files)[1].path, (dir / "data/b.csv").string());
  EXPECT_GT((*files)[1].inode, 0);
  auto none = ListQueryFiles(conn.get(), env, "SELECT 42 AS x, 'abc' AS y", dir.string());
  ASSERT_TRUE(none.has_value());
  EXPECT_TRUE(none->empty());
}

}  // namespace
}  // namespace nightshift::io
