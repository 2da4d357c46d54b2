#include "exec/output_folders.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <future>
#include <nlohmann/json.hpp>

#include "env/env_wrapper.h"
#include "env/temp_dir_for_test.h"
#include "exec/open_sink.h"
#include "nightshift/env.h"

namespace nightshift::exec {
namespace {

namespace fs = std::filesystem;

class OutputFoldersTest : public ::testing::Test {
 protected:
  TempDir tmp_{"ns_output_folders"};  // first: removed after everything using it

  void SetUp() override {
    ASSERT_TRUE(tmp_.ok());
    dir_ = tmp_.path();
    auto l = Ledger::Open(dir_ + "/ledger.db");
    ASSERT_TRUE(l.has_value()) << l.error().ToString();
    ledger_ = std::move(*l);
  }

  // A run of job `name` in the ledger, with one shard of 10 rows.
  RunRecord MakeRun(const std::string& run_id, const std::string& name = "job-a") {
    RunRecord rec;
    rec.run_id = run_id;
    rec.job_name = name;
    rec.output_path = dir_ + "/out";
    rec.total_rows = 10;
    InputFileRecord file{
        .index = 0, .path = dir_ + "/in.parquet", .size = 1, .mtime_ns = 1, .rows = 10};
    ShardRecord shard;
    shard.row_end = 10;
    auto r = ledger_->CreateOrAttachRun(rec, {file}, {shard});
    EXPECT_TRUE(r.has_value());
    return *r;
  }

  JobSpec Job(const std::string& name = "job-a") {
    JobSpec job;
    job.name = name;
    job.run.ledger = dir_ + "/ledger.db";
    return job;
  }

  SinkLayout Layout(const std::string& dead_letter = "") {
    SinkLayout layout;
    layout.output_dir = dir_ + "/out";
    layout.dead_letter_dir = dead_letter.empty() ? dir_ + "/out/_failed" : dead_letter;
    return layout;
  }

  // The same with the columns a Parquet part needs: key `id`, output `score`.
  SinkLayout ScoreLayout() {
    SinkLayout layout = Layout();
    layout.carried = {"id"};
    layout.carried_types = {"BIGINT"};
    layout.keep_count = 1;
    layout.key = {"id"};
    layout.outputs = {{"score", DType::kFloat32, false, 0, 0}};
    return layout;
  }

  void Touch(const std::string& path) {
    fs::create_directories(fs::path(path).parent_path());
    std::ofstream(path) << "x";
  }

  nlohmann::json Marker(const std::string& folder) {
    std::ifstream in(folder + "/" + kOwnerMarker);
    return nlohmann::json::parse(in, nullptr, /*allow_exceptions=*/false);
  }

  std::string dir_;
  std::unique_ptr<Ledger> ledger_;
};

TEST_F(OutputFoldersTest, AFreshFolderGetsTheRunsMarkerAndADeadLetterFolder) {
  RunRecord a = MakeRun("a-1");
  ASSERT_TRUE(ClaimOutputFolders(Job(), a, Layout(), ledger_.get()).ok());
  nlohmann::json m = Marker(dir_ + "/out");
  EXPECT_EQ(m["run_id"], "a-1");
  EXPECT_EQ(m["job"], "job-a");
  EXPECT_EQ(m["ledger"], dir_ + "/ledger.db");
  EXPECT_TRUE(m["created_at"].is_string());
  EXPECT_TRUE(fs::is_directory(dir_ + "/out/_failed"));
  EXPECT_FALSE(fs::exists(dir_ + "/out/_failed/" + kOwnerMarker));  // covered by the output's
}

TEST_F(OutputFoldersTest, TheOwningRunResumesWithoutRemovingAnything) {
  RunRecord a = MakeRun("a-1");
  ASSERT_TRUE(ClaimOutputFolders(Job(), a, Layout(), ledger_.get()).ok());
  Touch(dir_ + "/out/part-000000.parquet");
  Touch(dir_ + "/out/_failed/part-000000.jsonl");
  JobSpec job = Job();
  job.output.overwrite = true;  // overwrite never applies to the folder's own run
  ASSERT_TRUE(ClaimOutputFolders(job, a, Layout(), ledger_.get()).ok());
  EXPECT_TRUE(fs::exists(dir_ + "/out/part-000000.parquet"));
  EXPECT_TRUE(fs::exists(dir_ + "/out/_failed/part-000000.jsonl"));
}

TEST_F(OutputFoldersTest, AnotherRunIsRefusedNamingTheOwnerAndNothingChanges) {
  RunRecord a = MakeRun("a-1");
  ASSERT_TRUE(ClaimOutputFolders(Job(), a, Layout(), ledger_.get()).ok());
  Touch(dir_ + "/out/part-000000.parquet");
  RunRecord b = MakeRun("b-2", "job-b");
  Status s = ClaimOutputFolders(Job("job-b"), b, Layout(), ledger_.get());
  ASSERT_EQ(s.code(), Code::kInvalidJob);
  EXPECT_NE(s.message().find("run a-1 of job 'job-a'"), std::string::npos) << s.message();
  EXPECT_NE(s.message().find("output.path '" + dir_ + "/out'"), std::string::npos) << s.message();
  EXPECT_NE(s.message().find("output.overwrite"), std::string::npos) << s.message();
  EXPECT_EQ(Marker(dir_ + "/out")["run_id"], "a-1");
  EXPECT_TRUE(fs::exists(dir_ + "/out/part-000000.parquet"));
}

// Another run's process creates the marker between this run's look at the
// folder and its own marker: as two runs started at the same moment do.
class MarkerRaceEnv : public EnvWrapper {
 public:
  MarkerRaceEnv(Env* target, std::string other_marker)
      : EnvWrapper(target), other_marker_(std::move(other_marker)) {}
  Result<bool> RenameIfAbsent(const std::string& from, const std::string& to) override {
    if (to.ends_with(kOwnerMarker) && !raced_) {
      raced_ = true;
      NS_RETURN_IF_ERROR(target()->WriteFile(to, other_marker_));
    }
    return target()->RenameIfAbsent(from, to);
  }

 private:
  const std::string other_marker_;
  bool raced_ = false;
};

TEST_F(OutputFoldersTest, OfTwoRunsStartingTogetherTheSecondToClaimIsRefused) {
  const RunRecord b = MakeRun("run-b");
  const std::string theirs =
      R"({"run_id": "run-a", "job": "job-a", "ledger": "x.db", "created_at": "t"})";
  MarkerRaceEnv env(Env::Default(), theirs);
  SinkLayout layout = Layout();
  layout.env = &env;
  Status s = ClaimOutputFolders(Job("job-b"), b, layout, ledger_.get());
  ASSERT_EQ(s.code(), Code::kInvalidJob) << s.ToString();
  EXPECT_NE(s.message().find("belongs to run run-a"), std::string::npos) << s.message();
  EXPECT_EQ(Marker(dir_ + "/out")["run_id"], "run-a");  // the first run's, untouched
  for (const auto& e : fs::directory_iterator(dir_ + "/out")) {
    EXPECT_FALSE(e.path().filename().string().starts_with(".")) << e.path();  // no temp left
  }
}

TEST_F(OutputFoldersTest, OverwriteEmptiesAnotherRunsFolderBeforeTheFirstCommit) {
  RunRecord a = MakeRun("a-1");
  ASSERT_TRUE(ClaimOutputFolders(Job(), a, Layout(), ledger_.get()).ok());
  for (const char* f : {"part-000000.parquet", "part-000001-r1.parquet", "_SUCCESS",
                        "_failed/part-000001.jsonl", "notes.txt"})
    Touch(dir_ + "/out/" + f);
  RunRecord b = MakeRun("b-2", "job-b");
  JobSpec job = Job("job-b");
  job.output.overwrite = true;
  ASSERT_TRUE(ClaimOutputFolders(job, b, Layout(), ledger_.get()).ok());
  EXPECT_EQ(Marker(dir_ + "/out")["run_id"], "b-2");
  for (const char* f :
       {"part-000000.parquet", "part-000001-r1.parquet", "_SUCCESS", "_failed/part-000001.jsonl"})
    EXPECT_FALSE(fs::exists(dir_ + "/out/" + f)) << f;
  EXPECT_TRUE(fs::exists(dir_ + "/out/notes.txt"));  // not nightshift's: left alone
}

TEST_F(OutputFoldersTest, ARunWhoseFolderWasTakenOverIsNotCompleted) {
  // Run a's folder was emptied and taken by run b (overwrite, a having
  // stopped): a, resumed from another ledger's view, must not write
  // _SUCCESS there.
  RunRecord a = MakeRun("a-1");
  ASSERT_TRUE(ClaimOutputFolders(Job(), a, Layout(), ledger_.get()).ok());
  RunRecord b = MakeRun("b-2", "job-b");
  JobSpec job = Job("job-b");
  job.output.overwrite = true;
  ASSERT_TRUE(ClaimOutputFolders(job, b, Layout(), ledger_.get()).ok());
  Status s = CheckCommittedParts(Env::Default(), dir_ + "/out", "a-1", {});
  EXPECT_EQ(s.code(), Code::kFailed);
  EXPECT_NE(s.message().find("now belongs to run b-2"), std::string::npos) << s.message();
  EXPECT_TRUE(CheckCommittedParts(Env::Default(), dir_ + "/out", "b-2", {}).ok());
}

TEST_F(OutputFoldersTest, StrayPartsAreRefusedUnlessTheRunHasCommittedShards) {
  Touch(dir_ + "/out/part-000007.csv");
  RunRecord a = MakeRun("a-1");
  Status s = ClaimOutputFolders(Job(), a, Layout(), ledger_.get());
  ASSERT_EQ(s.code(), Code::kInvalidJob);
  EXPECT_NE(s.message().find("part-000007.csv"), std::string::npos) << s.message();
  EXPECT_NE(s.message().find("no run claims"), std::string::npos) << s.message();
  EXPECT_FALSE(fs::exists(dir_ + "/out/" + kOwnerMarker));
  // A run that committed before markers existed adopts its own folder.
  auto epoch = ledger_->ClaimShard("a-1", 0);
  ASSERT_TRUE(epoch.has_value());
  ASSERT_TRUE(ledger_->CommitShard("a-1", 0, *epoch, 10, "part-000000.csv", "", {}).ok());
  ASSERT_TRUE(ClaimOutputFolders(Job(), a, Layout(), ledger_.get()).ok());
  EXPECT_EQ(Marker(dir_ + "/out")["run_id"], "a-1");
  EXPECT_TRUE(fs::exists(dir_ + "/out/part-000007.csv"));
}

TEST_F(OutputFoldersTest, ADeadLetterFolderOutsideTheOutputHasItsOwnOwner) {
  const std::string dead = dir_ + "/out/../failed";  // outside, however it is spelled
  RunRecord a = MakeRun("a-1");
  ASSERT_TRUE(ClaimOutputFolders(Job(), a, Layout(dead), ledger_.get()).ok());
  EXPECT_EQ(Marker(dir_ + "/failed")["run_id"], "a-1");
  RunRecord b = MakeRun("b-2", "job-b");
  SinkLayout other = Layout(dead);
  other.output_dir = dir_ + "/out-b";
  Status s = ClaimOutputFolders(Job("job-b"), b, other, ledger_.get());
  ASSERT_EQ(s.code(), Code::kInvalidJob);
  EXPECT_NE(s.message().find("errors.dead_letter '" + dead + "' belongs to run a-1"),
            std::string::npos)
      << s.message();
  EXPECT_FALSE(fs::exists(dir_ + "/out-b"));  // refused before anything was created
}

TEST_F(OutputFoldersTest, AnUnwritableDeadLetterFolderStopsTheStartNamingTheKey) {
  Touch(dir_ + "/afile");
  RunRecord a = MakeRun("a-1");
  Status s = ClaimOutputFolders(Job(), a, Layout(dir_ + "/afile/dl"), ledger_.get());
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find("errors.dead_letter"), std::string::npos) << s.message();
  EXPECT_NE(s.message().find(dir_ + "/afile/dl"), std::string::npos) << s.message();
}

// OpenSink claims the folders, then takes the database opened ahead for the
// file sink (and leaves the future read, so its thread is joined).
TEST_F(OutputFoldersTest, OpenSinkTakesTheDatabaseOpenedAhead) {
  RunRecord a = MakeRun("a-1");
  SinkDatabaseAhead ahead = OpenSinkDatabaseAhead(Job());
  ASSERT_TRUE(ahead.valid());
  auto sink = OpenSink(Job(), a, ScoreLayout(), ledger_.get(), &ahead);
  ASSERT_TRUE(sink.has_value()) << sink.error().ToString();
  EXPECT_NE(*sink, nullptr);
  EXPECT_FALSE(ahead.valid());
  EXPECT_EQ(Marker(dir_ + "/out")["run_id"], "a-1");
}

// A database that failed to open ahead is not the run's error: OpenSink
// opens one itself (which reports its own error if that fails too).
TEST_F(OutputFoldersTest, OpenSinkOpensItsOwnDatabaseWhenTheOneAheadFailed) {
  RunRecord a = MakeRun("a-1");
  std::promise<Result<std::shared_ptr<io::DuckDatabase>>> failed;
  failed.set_value(Error(Code::kTransient, "the database could not open"));
  SinkDatabaseAhead ahead = failed.get_future();
  auto sink = OpenSink(Job(), a, ScoreLayout(), ledger_.get(), &ahead);
  ASSERT_TRUE(sink.has_value()) << sink.error().ToString();
  EXPECT_NE(*sink, nullptr);
  EXPECT_FALSE(ahead.valid());
}

TEST_F(OutputFoldersTest, TheMarkerNeverHoldsALedgerPassword) {
  RunRecord a = MakeRun("a-1");
  JobSpec job = Job();
  job.run.ledger = "postgresql://scorer:s3cret@db/nightshift";
  ASSERT_TRUE(ClaimOutputFolders(job, a, Layout(), ledger_.get()).ok());
  EXPECT_EQ(Marker(dir_ + "/out")["ledger"], "postgresql://scorer@db/nightshift");
}

// Output and dead-letter folders against the input that would read them.
class OutputOutsideInputTest : public OutputFoldersTest {
 protected:
  Status Check(const std::string& input, const std::string& output,
               const std::string& dead_letter = "{output}/_failed") {
    JobSpec job = Job();
    job.input.path = dir_ + "/" + input;
    job.output.path = dir_ + "/" + output;
    job.errors.dead_letter =
        dead_letter.starts_with("{output}") ? dead_letter : dir_ + "/" + dead_letter;
    return CheckOutputOutsideInput(job, "job-a-0123", Env::Default());
  }
};

TEST_F(OutputOutsideInputTest, AFolderInputRefusesAnOutputItWouldWalkInto) {
  Touch(dir_ + "/a/x.parquet");
  Status s = Check("a", "a/out/{run_id}");
  ASSERT_EQ(s.code(), Code::kInvalidJob);
  EXPECT_NE(s.message().find("output.path '" + dir_ + "/a/out/job-a-0123'"), std::string::npos)
      << s.message();
  EXPECT_NE(s.message().find("input.path '" + dir_ + "/a'"), std::string::npos) << s.message();
  // The walk skips names starting with '_' or '.'; sibling folders are not read.
  EXPECT_TRUE(Check("a", "a/_out/{run_id}").ok());
  EXPECT_TRUE(Check("a", "b/out").ok());
  EXPECT_TRUE(Check("a", "ab/out").ok());  // a prefix of the name is not the folder
  EXPECT_EQ(Check("a", "b/out", "a/failed").code(), Code::kInvalidJob);
  EXPECT_EQ(Check("a", "b/../a/out").code(), Code::kInvalidJob);
}

TEST_F(OutputOutsideInputTest, AGlobRefusesOnlyWhatItMatches) {
  EXPECT_TRUE(Check("a/*.parquet", "a/out").ok());  // '*' does not cross '/'
  EXPECT_EQ(Check("a/*.parquet", "a").code(), Code::kInvalidJob);
  EXPECT_EQ(Check("a/*/*.parquet", "a/out").code(), Code::kInvalidJob);
  EXPECT_EQ(Check("a/**/*.parquet", "a/out/x/y").code(), Code::kInvalidJob);
  EXPECT_TRUE(Check("a/*.csv", "a").ok());                            // part files are .parquet
  EXPECT_EQ(Check("a/*.jsonl", "b", "a").code(), Code::kInvalidJob);  // dead letters are .jsonl
  EXPECT_TRUE(Check("a/*/*.parquet", "a/.out").ok());  // like glob(3), '*' skips hidden names
}

TEST_F(OutputOutsideInputTest, ASingleFileOrAQueryNeverReadsTheOutput) {
  Touch(dir_ + "/a/x.parquet");
  EXPECT_TRUE(Check("a/x.parquet", "a").ok());
  JobSpec job = Job();
  job.input.query = "SELECT * FROM '" + dir_ + "/a/*.parquet'";
  job.output.path = dir_ + "/a";
  EXPECT_TRUE(CheckOutputOutsideInput(job, "r", Env::Default()).ok());
}

}  // namespace
}  // namespace nightshift::exec
