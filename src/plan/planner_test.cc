#include "plan/planner.h"

#include <gtest/gtest.h>

#include <algorithm>

namespace nightshift::plan {
namespace {

using Ranges = std::vector<std::pair<int64_t, int64_t>>;

TEST(PlannerTest, PostgresInputIsDefinedByDescribedUrlQueryAndKeyNeverThePassword) {
  JobSpec job;
  job.input.format = InputFormat::kPostgres;
  job.input.url = "postgresql://scorer:hunter2@db:5433/crm";
  job.input.query = "SELECT * FROM t";
  job.input.key = {"id"};
  auto def = JobDefinition(job);
  std::string url;
  for (const auto& [k, v] : def) {
    EXPECT_EQ(v.find("hunter2"), std::string::npos) << k;
    if (k == "input.url") url = v;
  }
  EXPECT_EQ(url, "postgresql://scorer@db:5433/crm");
  EXPECT_TRUE(std::is_sorted(def.begin(), def.end()));
  // Another password is the same run; another database is not.
  JobSpec other = job;
  other.input.url = "postgresql://scorer:other@db:5433/crm";
  EXPECT_EQ(Fingerprint(job, {}), Fingerprint(other, {}));
  other.input.url = "postgresql://scorer@db:5433/crm2";
  EXPECT_NE(Fingerprint(job, {}), Fingerprint(other, {}));
  // File inputs have no input.url key (their run ids stay as they were).
  job.input.format = InputFormat::kParquet;
  for (const auto& [k, v] : JobDefinition(job)) EXPECT_NE(k, "input.url");
}

TEST(PlannerTest, CutsAFileWithoutRowGroupsIntoEvenShards) {
  EXPECT_EQ(CutFile({250}, 100), (Ranges{{0, 100}, {100, 200}, {200, 250}}));
  EXPECT_EQ(CutFile({100}, 100), (Ranges{{0, 100}}));
  EXPECT_EQ(CutFile({0}, 100), Ranges{});
}

TEST(PlannerTest, ShardsFollowSmallRowGroups) {
  // Groups of 40 with a target of 100: 3 groups (120) make a shard.
  // The last group (10 rows, under a quarter of the target) joins the shard
  // before it.
  EXPECT_EQ(CutFile({40, 40, 40, 40, 40, 40, 10}, 100), (Ranges{{0, 120}, {120, 250}}));
  // A group just under the target is a shard of its own.
  EXPECT_EQ(CutFile({90, 90, 90}, 100), (Ranges{{0, 90}, {90, 180}, {180, 270}}));
}

TEST(PlannerTest, LargeRowGroupsAreSplit) {
  EXPECT_EQ(CutFile({30, 250, 30}, 100),
            (Ranges{{0, 30}, {30, 130}, {130, 230}, {230, 280}, {280, 310}}));
}

TEST(PlannerTest, NoShardIsUnderAQuarterOfShardRowsWhereItCanJoinThePreviousOne) {
  // Row groups of 51,200 with shards of 50,000: not 50,000 + 1,200 per group
  // but one shard per group (20 shards for 1,024,000 rows, not 40).
  std::vector<int64_t> groups(20, 51'200);
  auto cuts = CutFile(groups, 50'000);
  ASSERT_EQ(cuts.size(), 20u);
  for (size_t i = 0; i < cuts.size(); ++i) {
    EXPECT_EQ(cuts[i], std::make_pair(static_cast<int64_t>(i) * 51'200,
                                      static_cast<int64_t>(i + 1) * 51'200));
  }
  // A remainder of exactly a quarter stays a shard; one row less joins.
  EXPECT_EQ(CutFile({125}, 100), (Ranges{{0, 100}, {100, 125}}));
  EXPECT_EQ(CutFile({124}, 100), (Ranges{{0, 124}}));
  EXPECT_EQ(CutFile({324}, 100), (Ranges{{0, 100}, {100, 200}, {200, 324}}));
  // One text file (one entry): 1,000,010 rows in shards of 100,000.
  auto text = CutFile({1'000'010}, 100'000);
  ASSERT_EQ(text.size(), 10u);
  EXPECT_EQ(text.back(), std::make_pair(int64_t{900'000}, int64_t{1'000'010}));
  // A small first shard has no shard before it to join: it stays.
  EXPECT_EQ(CutFile({10, 200}, 100), (Ranges{{0, 10}, {10, 110}, {110, 210}}));
  // Small groups before a large one join the shard before them.
  EXPECT_EQ(CutFile({100, 10, 200}, 100), (Ranges{{0, 110}, {110, 210}, {210, 310}}));
}

TEST(PlannerTest, FingerprintIsDeterministicAndSeesInputChanges) {
  JobSpec job;
  job.name = "j";
  job.input.path = "/d/*.parquet";
  std::vector<InputFile> files = {{0, "/d/a.parquet", InputFormat::kParquet, 10, 5}};
  std::string a = Fingerprint(job, files);
  EXPECT_EQ(a, Fingerprint(job, files));
  job.batch.size = 17;  // tuning does not change the run
  EXPECT_EQ(a, Fingerprint(job, files));
  job.output.overwrite = true;  // nor does emptying the output folder of another run
  EXPECT_EQ(a, Fingerprint(job, files));
  files[0].mtime_ns = 6;
  EXPECT_NE(a, Fingerprint(job, files));
  EXPECT_EQ(DeriveRunId(job, a), "j-" + a.substr(0, 12));
}

}  // namespace
}  // namespace nightshift::plan
