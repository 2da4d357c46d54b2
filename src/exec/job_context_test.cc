// PrepareJob starts the model's runtime on a second thread while it opens
// the input (exec/ahead.h); its errors must still come after the input's.
// The job parser refuses an unknown model.backend first, so these set one
// on a parsed job to make the runtime fail to start.
#include "exec/job_context.h"

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <string>

#include "io/duck_test_fixture.h"
#include "nightshift/env.h"
#include "nightshift/job_spec.h"

namespace nightshift::exec {
namespace {

// io::DuckTest: a fresh folder (dir_, removed afterwards) and a DuckDB
// connection (conn_) to write the input with.
class PrepareJobTest : public io::DuckTest {
 protected:
  void SetUp() override {
    io::DuckTest::SetUp();
    ASSERT_TRUE(conn_
                    ->Exec(fmt::format("COPY (SELECT range AS id, range::FLOAT AS a FROM "
                                       "range(10)) TO '{}/in.parquet' (FORMAT parquet)",
                                       dir_))
                    .ok());
  }

  // A job reading `input` with backend `backend`; the model path is a file
  // that exists (PrepareJob checks it before the runtime's result).
  JobSpec Job(const std::string& input, const std::string& backend) {
    const std::string yaml = fmt::format(R"(name: prepare
input: {{path: {0}, key: id}}
model:
  path: {1}/in.parquet
  inputs: [{{name: x, columns: [a]}}]
  outputs: [{{name: y, columns: [b]}}]
output: {{path: {1}/out}}
run: {{ledger: {1}/ledger.db}}
)",
                                         input, dir_);
    auto job = ParseJobText(yaml, dir_ + "/job.yaml", {});
    EXPECT_TRUE(job.has_value()) << job.error().ToString();
    JobSpec spec = *job;
    spec.model.backend = backend;
    return spec;
  }
};

TEST_F(PrepareJobTest, AMissingInputIsReportedBeforeARuntimeThatCannotStart) {
  auto ctx = PrepareJob(Job(dir_ + "/missing.parquet", "nope"), Env::Default());
  ASSERT_FALSE(ctx.has_value());
  EXPECT_NE(ctx.error().message().find("missing.parquet"), std::string::npos)
      << ctx.error().ToString();
  EXPECT_EQ(ctx.error().message().find("model.backend"), std::string::npos)
      << ctx.error().ToString();
}

TEST_F(PrepareJobTest, ARuntimeThatCannotStartIsReportedOnceTheInputOpens) {
  auto ctx = PrepareJob(Job(dir_ + "/in.parquet", "nope"), Env::Default());
  ASSERT_FALSE(ctx.has_value());
  EXPECT_EQ(ctx.error().code(), Code::kInvalidJob) << ctx.error().ToString();
  EXPECT_NE(ctx.error().message().find("unknown model.backend 'nope'"), std::string::npos)
      << ctx.error().ToString();
}

}  // namespace
}  // namespace nightshift::exec
