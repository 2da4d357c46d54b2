#include "plan/input_identity.h"

#include <gtest/gtest.h>

#include <filesystem>

#include "env/temp_dir_for_test.h"
#include "plan/planner.h"

namespace nightshift::plan {
namespace {

class InputIdentityTest : public ::testing::Test {
 protected:
  TempDir tmp_{"ns_input_identity"};  // first: removed after everything using it

  void SetUp() override {
    ASSERT_TRUE(tmp_.ok());
    dir_ = tmp_.path();
  }
  InputFile Listed(const std::string& path) {
    FileInfo info = env_->Stat(path).value();
    InputFile f;
    f.path = path;
    f.size = info.size;
    f.mtime_ns = info.mtime_ns;
    f.device = info.device;
    f.inode = info.inode;
    return f;
  }
  Env* env_ = Env::Default();
  std::filesystem::path dir_;
};

TEST_F(InputIdentityTest, AnUntouchedFileIsUnchanged) {
  const std::string p = (dir_ / "a.csv").string();
  ASSERT_TRUE(env_->WriteFile(p, "x\n1\n").ok());
  EXPECT_TRUE(CheckUnchanged(env_, Listed(p)).ok());
  EXPECT_TRUE(CheckUnchanged(env_, InputFile{}).ok());  // a query's placeholder
}

TEST_F(InputIdentityTest, AFileReplacedUnderItsPathIsAChangeNamingIt) {
  const std::string p = (dir_ / "a.csv").string(), q = (dir_ / "b.csv").string();
  ASSERT_TRUE(env_->WriteFile(p, "x\n1\n").ok());
  InputFile listed = Listed(p);
  ASSERT_TRUE(env_->WriteFile(q, "x\n2\n").ok());  // same size
  ASSERT_TRUE(env_->RenameFile(q, p).ok());
  Status s = CheckUnchanged(env_, listed);
  EXPECT_EQ(s.code(), Code::kInvalidData);
  EXPECT_NE(s.message().find("input file '" + p + "' changed during the run: was replaced"),
            std::string::npos)
      << s.message();
}

TEST_F(InputIdentityTest, AFileRewrittenOrRemovedIsAChange) {
  const std::string p = (dir_ / "a.csv").string();
  ASSERT_TRUE(env_->WriteFile(p, "x\n1\n").ok());
  InputFile listed = Listed(p);
  listed.size += 1;
  EXPECT_NE(CheckUnchanged(env_, listed).message().find("size 5 -> 4 bytes"), std::string::npos);
  listed = Listed(p);
  listed.mtime_ns -= 1;
  EXPECT_NE(CheckUnchanged(env_, listed).message().find("was modified"), std::string::npos);
  listed = Listed(p);
  ASSERT_TRUE(env_->RemoveFile(p).ok());
  EXPECT_NE(CheckAllUnchanged(env_, {listed}).message().find("was removed"), std::string::npos);
}

InputFileRecord Rec(std::string path, int64_t size, int64_t mtime) {
  InputFileRecord r;
  r.path = std::move(path);
  r.size = size;
  r.mtime_ns = mtime;
  return r;
}

TEST(InputListingTest, NamesEveryAddedRemovedAndChangedFile) {
  auto changes =
      ListingChanges({Rec("/a", 1, 1), Rec("/b", 1, 1), Rec("/c", 1, 1)},
                     {Rec("/a", 1, 1), Rec("/b", 2, 1), Rec("/c", 1, 5), Rec("/d", 1, 1)});
  EXPECT_EQ(changes, (std::vector<std::string>{"input file '/b' size 1 -> 2 bytes",
                                               "input file '/c' mtime changed (1 -> 5 ns)",
                                               "input file '/d' was added"}));
  EXPECT_EQ(ListingChanges({Rec("/a", 1, 1)}, {}),
            std::vector<std::string>{"input file '/a' was removed"});
  EXPECT_TRUE(ListingChanges({Rec("/a", 1, 1)}, {Rec("/a", 1, 1)}).empty());
}

TEST(InputListingTest, NamesChangedJobKeysButNotTuningKeys) {
  JobSpec a;
  a.name = "j";
  a.input.path = "/in.csv";
  a.run.shard_rows = 1000;
  JobSpec b = a;
  b.batch.size = 7;                 // tuning: not part of the run
  b.run.allow_input_change = true;  // neither
  EXPECT_TRUE(JobChanges(JobDefinition(a), JobDefinition(b)).empty());
  b.run.shard_rows = 500;
  b.input.path = "/other.csv";
  EXPECT_EQ(JobChanges(JobDefinition(a), JobDefinition(b)),
            (std::vector<std::string>{"job key 'input.path' changed ('/in.csv' -> '/other.csv')",
                                      "job key 'run.shard_rows' changed ('1000' -> '500')"}));
}

TEST(InputListingTest, RecordedInputsLeaveOutTheQueryPlaceholderAndSortByPath) {
  JobSpec job;
  job.name = "j";
  InputFile q, b, a;
  b.path = "/b";
  a.path = "/a";
  RunInputs r = RecordedInputs(job, {q, b, a});
  ASSERT_EQ(r.files.size(), 2u);
  EXPECT_EQ(r.files[0].path, "/a");
  EXPECT_EQ(r.files[1].path, "/b");
  EXPECT_EQ(r.job, JobDefinition(job));
}

}  // namespace
}  // namespace nightshift::plan
