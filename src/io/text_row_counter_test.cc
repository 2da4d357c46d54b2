// TextRowCounter against hand-made inputs fed in blocks of every size, and
// against DuckDB's own count of the same files: whenever the counter answers,
// its answer is DuckDB's.
#include "io/text_row_counter.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>

#include "env/temp_dir_for_test.h"
#include "io/duck.h"
#include "nightshift/env.h"

namespace nightshift::io {
namespace {

// Counts `text` fed in blocks of `block` bytes.
std::optional<int64_t> Count(const std::string& text, TextDialect d, size_t block) {
  TextRowCounter c(d);
  for (size_t i = 0; i < text.size(); i += block) c.Feed(std::string_view(text).substr(i, block));
  return c.Finish();
}

// The count, which must not depend on how the text is split into blocks.
std::optional<int64_t> CountAnyBlocks(const std::string& text, TextDialect d) {
  std::optional<int64_t> whole = Count(text, d, text.size() + 1);
  for (size_t block = 1; block <= text.size(); ++block) {
    EXPECT_EQ(Count(text, d, block), whole) << "block " << block << " of '" << text << "'";
  }
  return whole;
}

constexpr TextDialect kCsv{',', '"', true};
constexpr TextDialect kCsvNoQuote{',', 0, true};
constexpr TextDialect kLines{0, 0, false};

TEST(TextRowCounterTest, CountsRowsAfterTheHeader) {
  EXPECT_EQ(CountAnyBlocks("a,b\n1,2\n3,4\n", kCsv), 2);
  EXPECT_EQ(CountAnyBlocks("a,b\n1,2\n3,4", kCsv), 2);  // no line end at the end
  EXPECT_EQ(CountAnyBlocks("a,b\r\n1,2\r\n3,4\r\n", kCsv), 2);
  EXPECT_EQ(CountAnyBlocks("a,b\n", kCsv), 0);
  EXPECT_EQ(CountAnyBlocks("", kCsv), 0);
  EXPECT_EQ(CountAnyBlocks("{\"a\": 1}\n{\"a\": 2}\n", kLines), 2);
}

TEST(TextRowCounterTest, NewlinesInsideQuotesEndNoRecord) {
  EXPECT_EQ(CountAnyBlocks("a,b\n1,\"x\ny\"\n\"3\",\"say \"\"hi\"\"\n\"\n", kCsv), 2);
  EXPECT_EQ(CountAnyBlocks("a,b\r\n1,\"x\r\ny\"\r\n", kCsv), 1);
  // Without quoting, a quote is a plain byte.
  EXPECT_EQ(CountAnyBlocks("a,b\n1,x\"y\n3,4\n", kCsvNoQuote), 2);
}

TEST(TextRowCounterTest, GivesUpWhereDuckDbMayDiffer) {
  for (const char* text : {
           "a,b\n1,2\n\n3,4\n",        // a blank line
           "a,b\n1,2\n  \n3,4\n",      // a whitespace-only line
           "a,b\n1,2\r\n\r\n3,4\r\n",  // a blank CRLF line
           "a,b\r1,2\r3,4\r",          // lone '\r' line ends
           "a,b\n1,x\"y\n3,4\n",       // a quote inside an unquoted value
           "a,b\n1, \"y\"\n",          // a quote after a space
           "a,b\n1,\"x\"y\n",          // bytes after a closing quote
           "a,b\n1,\"x\n",             // an unterminated quote
           "a,b\n1,2\r",               // a trailing lone '\r'
       }) {
    EXPECT_EQ(CountAnyBlocks(text, kCsv), std::nullopt) << text;
  }
  EXPECT_EQ(CountAnyBlocks("{}\n\n{}\n", kLines), std::nullopt);
}

TEST(TextRowCounterTest, AgreesWithDuckDbWheneverItAnswers) {
  TempDir tmp("ns_counter_test");
  ASSERT_TRUE(tmp.ok());
  const std::string dir = tmp.path();
  auto db = DuckDatabase::OpenInMemory(1).value();
  auto conn = DuckConnection::Open(db).value();
  const std::vector<std::string> texts = {
      "a,b\n1,2\n3,4\n",
      "a,b\n1,2\n3,4",
      "a,b\r\n1,2\r\n3,4\r\n",
      "a,b\n1,\"x\ny\"\n3,4\n",
      "a,b\n1,\"x,\"\"y\"\"\nz\"\n3,\"\"\n",
      "a,b\n1,x\"y\n3,4\n",
      "a\n1\n\n3\n",
      "a,b\n1,2\n\n3,4\n",
      "a,b\n1,2\n   \n3,4\n",
      "a\tb\n1\t2\n3\t4\n",
      "a;b\n1;2\n3;\"4\n5\"\n",
      "a,b\n,\n,\n",
      "a\n\"\"\n\"x\"\n",
  };
  int answered = 0;
  for (size_t i = 0; i < texts.size(); ++i) {
    std::string path = JoinPath(dir, "f" + std::to_string(i) + ".csv");
    ASSERT_TRUE(Env::Default()->WriteFile(path, texts[i]).ok());
    auto sniff = conn->Query("SELECT Delimiter, Quote FROM sniff_csv(" + QuoteString(path) +
                             ", header = true)");
    auto duck =
        conn->Query("SELECT count(*) FROM read_csv(" + QuoteString(path) + ", header = true)");
    if (!sniff.has_value() || !duck.has_value()) continue;  // DuckDB rejects it: nothing to match
    TextDialect d;
    d.header = true;
    std::string delim = sniff->Text(0, 0), quote = sniff->Text(1, 0);
    ASSERT_EQ(delim.size(), 1u) << texts[i];
    d.delimiter = delim[0];
    d.quote = quote.size() == 1 ? quote[0] : 0;
    auto ours = CountTextRows(Env::Default(), path, d);
    ASSERT_TRUE(ours.has_value()) << ours.error().ToString();
    if (!ours->has_value()) continue;
    ++answered;
    EXPECT_EQ(**ours, duck->Int(0, 0))
        << "'" << texts[i] << "' sniffed delimiter '" << delim << "' quote '" << quote << "'";
  }
  EXPECT_GE(answered, 8);
}

TEST(TextRowCounterTest, NamesAFileItCannotOpen) {
  auto r = CountTextRows(Env::Default(), "/nonexistent/x.csv", kCsv);
  ASSERT_FALSE(r.has_value());
  EXPECT_NE(r.error().message().find("/nonexistent/x.csv"), std::string::npos);
}

}  // namespace
}  // namespace nightshift::io
