#include "plan/planner.h"

#include <gtest/gtest.h>

namespace nightshift::plan {
namespace {

using Ranges = std::vector<std::pair<int64_t, int64_t>>;

TEST(PlannerTest, CutsAFileWithoutRowGroupsIntoEvenShards) {
  EXPECT_EQ(CutFile({250}, 100), (Ranges{{0, 100}, {100, 200}, {200, 250}}));
  EXPECT_EQ(CutFile({100}, 100), (Ranges{{0, 100}}));
  EXPECT_EQ(CutFile({0}, 100), Ranges{});
}

TEST(PlannerTest, ShardsFollowSmallRowGroups) {
  // Groups of 40 with a target of 100: 3 groups (120) make a shard.
  EXPECT_EQ(CutFile({40, 40, 40, 40, 40, 40, 10}, 100), (Ranges{{0, 120}, {120, 240}, {240, 250}}));
  // A group just under the target is a shard of its own.
  EXPECT_EQ(CutFile({90, 90, 90}, 100), (Ranges{{0, 90}, {90, 180}, {180, 270}}));
}

TEST(PlannerTest, LargeRowGroupsAreSplit) {
  EXPECT_EQ(CutFile({30, 250, 30}, 100),
            (Ranges{{0, 30}, {30, 130}, {130, 230}, {230, 280}, {280, 310}}));
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
