#include "io/query_files.h"

#include <gtest/gtest.h>

#include <filesystem>

#include "env/temp_dir_for_test.h"

namespace nightshift::io {
namespace {

std::vector<std::string> Texts(const std::string& sql) {
  std::vector<std::string> out;
  for (const Literal& l : StringLiterals(sql)) out.push_back(l.text);
  return out;
}

TEST(QueryFilesTest, TakesStringLiteralsButNotIdentifiersOrComments) {
  EXPECT_EQ(Texts("SELECT * FROM read_csv('data/a.csv') WHERE \"it's\" = 'O''Brien' "
                  "-- 'not this'\n/* 'nor this' */ AND x = ''"),
            (std::vector<std::string>{"data/a.csv", "O'Brien", ""}));
  EXPECT_EQ(Texts("SELECT 'unterminated"), std::vector<std::string>{"unterminated"});
  auto lits = StringLiterals("f('ab''c')");
  ASSERT_EQ(lits.size(), 1u);
  EXPECT_EQ(lits[0].begin, 2u);
  EXPECT_EQ(lits[0].end, 9u);
}

TEST(QueryFilesTest, ListsTheFilesItsLiteralsMatchRelativeToTheJobFolder) {
  namespace fs = std::filesystem;
  TempDir tmp("ns_query_files");
  ASSERT_TRUE(tmp.ok());
  const fs::path dir = tmp.path();
  fs::create_directories(dir / "data");
  Env* env = Env::Default();
  ASSERT_TRUE(env->WriteFile((dir / "data/a.csv").string(), "x\n1\n").ok());
  ASSERT_TRUE(env->WriteFile((dir / "data/b.csv").string(), "x\n22\n").ok());
  auto db = DuckDatabase::OpenInMemory(1).value();
  auto conn = DuckConnection::Open(db).value();
  const std::string abs = (dir / "data/a.csv").string();
  auto q = ResolveQuery(conn.get(), env,
                        "SELECT * FROM read_csv('data/*.csv') WHERE x <> 'data' UNION ALL "
                        "SELECT * FROM read_csv('" +
                            abs + "')",
                        dir.string());
  ASSERT_TRUE(q.has_value()) << q.error().message();
  // The relative file literal is made absolute; 'data' (a folder) and the
  // absolute path stay as written.
  EXPECT_EQ(q->query, "SELECT * FROM read_csv('" + (dir / "data/*.csv").string() +
                          "') WHERE x <> 'data' UNION ALL SELECT * FROM read_csv('" + abs + "')");
  const auto* files = &q->files;
  ASSERT_EQ(files->size(), 2u);
  EXPECT_EQ((*files)[0].path, (dir / "data/a.csv").string());
  EXPECT_EQ((*files)[0].size, 4);
  EXPECT_EQ((*files)[1].path, (dir / "data/b.csv").string());
  EXPECT_GT((*files)[1].inode, 0);
  auto none = ResolveQuery(conn.get(), env, "SELECT 42 AS x, 'abc' AS y", dir.string());
  ASSERT_TRUE(none.has_value());
  EXPECT_TRUE(none->files.empty());
  EXPECT_EQ(none->query, "SELECT 42 AS x, 'abc' AS y");
}

}  // namespace
}  // namespace nightshift::io
