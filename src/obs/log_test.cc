#include "obs/log.h"

#include <gtest/gtest.h>

#include "obs/batch_record.h"
#include "obs/dagster_pipes.h"
#include "obs/report_html.h"

namespace nightshift::obs {
namespace {

TEST(LogTest, JsonLineHasTheFixedFieldsAndOnlyThoseThatApply) {
  auto j = JsonLine(1764633603456, LogLevel::kWarn, "shard_committed", "committed shard 4",
                    LogFields("churn", "r1", 4, {{"rows_written", 10}}));
  EXPECT_EQ(j["ts"], "2025-12-02T00:00:03.456Z");
  EXPECT_EQ(j["level"], "warn");
  EXPECT_EQ(j["event"], "shard_committed");
  EXPECT_EQ(j["msg"], "committed shard 4");
  EXPECT_EQ(j["job"], "churn");
  EXPECT_EQ(j["run_id"], "r1");
  EXPECT_EQ(j["shard"], 4);
  EXPECT_EQ(j["rows_written"], 10);
  auto bare = JsonLine(0, LogLevel::kInfo, "e", "t", {});
  EXPECT_FALSE(bare.contains("job") || bare.contains("run_id") || bare.contains("shard"));
}

TEST(LogTest, ParsesFormatNames) {
  LogFormat f = LogFormat::kText;
  EXPECT_TRUE(ParseLogFormat("json", &f));
  EXPECT_EQ(f, LogFormat::kJson);
  EXPECT_FALSE(ParseLogFormat("xml", &f));
}

TEST(BatchLatenciesTest, RoundTripsAndRejectsForeignJson) {
  BatchLatencies l;
  l.Add(0.003, 64);
  l.Add(0.003, 64);
  l.Add(1000, 1);  // past the last bound: the last bucket
  auto back = BatchLatencies::FromJson(l.ToJson().dump());
  EXPECT_EQ(back.n, 3);
  EXPECT_EQ(back.rows, 129);
  EXPECT_EQ(back.counts, l.counts);
  EXPECT_EQ(back.counts.back(), 1);
  EXPECT_DOUBLE_EQ(back.max, 1000);
  EXPECT_EQ(BatchLatencies::FromJson("{\"bounds\":[1],\"counts\":[1,2]}").n, 0);
  EXPECT_EQ(BatchLatencies::FromJson("not json").n, 0);
}

TEST(PipesTest, DecodesBase64OfZlibJson) {
  // python: base64.b64encode(zlib.compress(b'{"path": "/tmp/m"}'))
  auto j = DecodePipesParam("eJyrVipILMlQslJQ0i/JLdDPVaoFADX3BaQ=");
  ASSERT_TRUE(j.has_value()) << j.error().message();
  EXPECT_EQ((*j)["path"], "/tmp/m");
  EXPECT_FALSE(DecodePipesParam("!!!").has_value());
  EXPECT_FALSE(DecodePipesParam("aGVsbG8=").has_value());  // base64 of "hello": not zlib
}

TEST(ReportTest, EscapesText) {
  EXPECT_EQ(HtmlEscape("<a href=\"x\">'&'</a>"),
            "&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;");
}

}  // namespace
}  // namespace nightshift::obs
