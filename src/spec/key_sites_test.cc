// JobSpec::key_sites and JobKeySite: errors found after parsing point at the
// line of the key they are about.
#include <gtest/gtest.h>

#include <string>

#include "nightshift/job_spec.h"
#include "spec/job_file_fixture.h"

namespace nightshift::spec {
namespace {

using KeySitesTest = JobFileTest;

TEST_F(KeySitesTest, EveryKeyAndListEntryHasItsLine) {
  auto job = Parse(kMinimalJob);
  ASSERT_TRUE(job.has_value()) << job.error().message();
  EXPECT_EQ(job->key_sites.at("input.path"), path() + ":3:3");
  EXPECT_EQ(job->key_sites.at("model.inputs[0]"), path() + ":8:7");
  EXPECT_EQ(job->key_sites.at("model.inputs[0].columns"), path() + ":9:7");
  EXPECT_EQ(job->key_sites.at("model.inputs[0].columns[1]"), path() + ":9:20");
  EXPECT_EQ(job->key_sites.count("batch.size"), 0u);  // defaulted, not written
}

TEST_F(KeySitesTest, AnOverriddenKeyNamesTheOverride) {
  auto job = Parse(kMinimalJob, {{"input.path", "other.parquet"}});
  ASSERT_TRUE(job.has_value()) << job.error().message();
  EXPECT_EQ(job->key_sites.at("input.path"), path() + ": --set input.path");
  EXPECT_EQ(job->key_sites.at("input.key"), path() + ":4:3");
}

TEST_F(KeySitesTest, MessagesFindTheirKey) {
  auto job = Parse(kMinimalJob);
  ASSERT_TRUE(job.has_value()) << job.error().message();
  EXPECT_EQ(JobKeySite(*job, "input.path '/x/in.parquet' does not exist"), path() + ":3:3");
  EXPECT_EQ(JobKeySite(*job, "model.path: not an ONNX model"), path() + ":6:3");
  EXPECT_EQ(JobKeySite(*job, "model input 'x' column 'c' is not in input file 'in.parquet'"),
            path() + ":8:7");
  EXPECT_EQ(JobKeySite(*job, "model output 'y' has shape [3]"), path() + ":11:7");
  // A key the file does not hold: its nearest written ancestor.
  EXPECT_EQ(JobKeySite(*job, "output.keep: column 'q' is not in the input"), path() + ":13:1");
}

TEST_F(KeySitesTest, MessagesAboutNoKeyHaveNoSite) {
  auto job = Parse(kMinimalJob + "run:\n  shard_rows: 10\n");
  ASSERT_TRUE(job.has_value()) << job.error().message();
  EXPECT_EQ(JobKeySite(*job, "model input 'nope' is not in the model"), "");
  EXPECT_EQ(JobKeySite(*job, "run r is being run by pid 1 on host h"), "");
  EXPECT_EQ(JobKeySite(*job, "cannot open ledger: disk full"), "");
  EXPECT_EQ(JobKeySite(*job, ""), "");
}

}  // namespace
}  // namespace nightshift::spec
