// CsvDialects: one sniff per distinct header line, the dialect spelled out
// for every file that shares it, and none where sharing would be unsafe.
#include "io/csv_dialects.h"

#include <gtest/gtest.h>

#include "env/fault_injection_env.h"
#include "io/duck_test_fixture.h"

namespace nightshift::io {
namespace {

class CsvDialectsTest : public DuckTest {
 protected:
  std::optional<TextDialect> Of(CsvDialects& d, int32_t file, const std::string& path) {
    auto r = d.Of(file, path, "input file '" + path + "'");
    EXPECT_TRUE(r.has_value()) << r.error().ToString();
    return r.has_value() ? *r : std::nullopt;
  }
};

TEST_F(CsvDialectsTest, SniffsOncePerHeaderLine) {
  CsvDialects d(Env::Default(), conn_.get());
  const std::string a = Write("a.csv", "id,x\n1,2\n");
  const std::string b = Write("b.csv", "id,x\n3,\"four, five\"\n");
  const std::string c = Write("c.csv", "id;x\n1;2\n");
  auto da = Of(d, 0, a);
  auto db = Of(d, 1, b);
  EXPECT_EQ(d.sniffs(), 1);  // b shares a's header
  auto dc = Of(d, 2, c);
  EXPECT_EQ(d.sniffs(), 2);
  ASSERT_TRUE(da && db && dc);
  EXPECT_EQ(da->delimiter, ',');
  EXPECT_EQ(da->quote, '"');  // a has no quotes; '"' reads it the same and holds for b
  EXPECT_TRUE(da->header);
  EXPECT_EQ(dc->delimiter, ';');
  EXPECT_EQ(d.ReadOptions(0), ", delim = ',', quote = '\"', escape = '\"', new_line = '\\n'");
  EXPECT_EQ(d.ReadOptions(1), d.ReadOptions(0));
  EXPECT_EQ(d.ReadOptions(2), ", delim = ';', quote = '\"', escape = '\"', new_line = '\\n'");
  // Asked again, a file is not sniffed again.
  Of(d, 0, a);
  EXPECT_EQ(d.sniffs(), 2);
}

TEST_F(CsvDialectsTest, LineEndIsSpelledOnlyWhereTheHeaderShowsIt) {
  CsvDialects d(Env::Default(), conn_.get());
  const std::string crlf = Write("crlf.csv", "id,x\r\n1,2\r\n");
  const std::string bare = Write("bare.csv", "id,x");  // a header alone, no line end
  ASSERT_TRUE(Of(d, 0, crlf));
  ASSERT_TRUE(Of(d, 1, bare));
  EXPECT_EQ(d.sniffs(), 2);  // "id,x\r\n" and "id,x" are other header lines
  EXPECT_EQ(d.ReadOptions(0), ", delim = ',', quote = '\"', escape = '\"', new_line = '\\r\\n'");
  EXPECT_EQ(d.ReadOptions(1), ", delim = ',', quote = '\"', escape = '\"'");
}

TEST_F(CsvDialectsTest, NoSharedDialectWhereSharingWouldBeUnsafe) {
  CsvDialects d(Env::Default(), conn_.get());
  // Single quotes: a dialect the row counter does not model.
  const std::string single = Write("s.csv", "id,name\n1,'a, b'\n2,'c'\n");
  EXPECT_FALSE(Of(d, 0, single).has_value());
  EXPECT_EQ(d.ReadOptions(0), "");
  EXPECT_EQ(d.sniffs(), 1);
  // A compressed file: no header line to read, and no sniff.
  const std::string gz = Write("z.csv.gz", "not really gzip");
  EXPECT_FALSE(Of(d, 1, gz).has_value());
  EXPECT_EQ(d.sniffs(), 1);
  // A first line longer than kMaxHeaderBytes is no key.
  const std::string wide =
      Write("w.csv", std::string(CsvDialects::kMaxHeaderBytes + 10, 'a') + "\n1\n");
  EXPECT_FALSE(Of(d, 2, wide).has_value());
  EXPECT_EQ(d.sniffs(), 1);
}

TEST_F(CsvDialectsTest, ForgetLeavesTheFileToDuckDb) {
  CsvDialects d(Env::Default(), conn_.get());
  const std::string a = Write("a.csv", "id,x\n1,2\n");
  const std::string b = Write("b.csv", "id,x\n3,4\n");
  ASSERT_TRUE(Of(d, 0, a));
  ASSERT_TRUE(Of(d, 1, b));
  d.Forget(1);
  EXPECT_EQ(d.ReadOptions(1), "");
  EXPECT_FALSE(Of(d, 1, b).has_value());
  EXPECT_NE(d.ReadOptions(0), "");  // the other files keep it
}

TEST_F(CsvDialectsTest, UnreadableHeaderIsSniffedByDuckDbInstead) {
  FaultInjectionEnv env(Env::Default());
  env.FailNth(FaultInjectionEnv::Op::kRead, 1);
  CsvDialects d(&env, conn_.get());
  const std::string a = Write("a.csv", "id,x\n1,2\n");
  EXPECT_FALSE(Of(d, 0, a).has_value());
  EXPECT_EQ(d.sniffs(), 0);
  EXPECT_EQ(env.calls(FaultInjectionEnv::Op::kRead), 1);
}

}  // namespace
}  // namespace nightshift::io
