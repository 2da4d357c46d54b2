// The test fixture of the SQLite ledger's tests (sqlite_ledger_test.cc: runs
// and shards; sqlite_ledger_file_test.cc: the file, its connections and
// durability): a plan of two files in four shards, a failed item, and a
// ledger in a fresh temporary folder.
#pragma once

#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

#include "env/temp_dir_for_test.h"
#include "nightshift/ledger.h"

namespace nightshift::ledger_test {

// Two files of 200 rows, cut into four shards of 100 rows.
struct Plan {
  RunRecord run;
  std::vector<InputFileRecord> files;
  std::vector<ShardRecord> shards;
};

inline Plan MakePlan(const std::string& run_id, const std::string& job_name = "score") {
  Plan p;
  p.run.run_id = run_id;
  p.run.job_name = job_name;
  p.run.fingerprint = "fp-" + run_id;
  p.run.output_path = "/out/" + run_id;
  p.run.model_path = "/models/m.onnx";
  p.run.model_sha256 = "abc123";
  for (int32_t f = 0; f < 2; ++f) {
    p.files.push_back({.index = f,
                       .path = "/data/part" + std::to_string(f) + ".parquet",
                       .size = 1000 + f,
                       .mtime_ns = 1700000000000000000 + f,
                       .rows = 200});
    for (int64_t half = 0; half < 2; ++half) {
      ShardRecord s;
      s.shard_id = f * 2 + half;
      s.file_index = f;
      s.row_begin = half * 100;
      s.row_end = half * 100 + 100;
      p.shards.push_back(s);
    }
  }
  return p;
}

inline ItemFailure Failure(int64_t shard_id, int64_t row) {
  return {.shard_id = shard_id,
          .row = row,
          .key_json = "{\"id\":" + std::to_string(row) + "}",
          .error = "bad value in row " + std::to_string(row),
          .attempts = 2,
          .file_index = 0,
          .file = ""};
}

class SqliteLedgerTest : public ::testing::Test {
 protected:
  TempDir tmp_{"ns_ledger_test"};  // first: removed after everything using it

  void SetUp() override {
    ASSERT_TRUE(tmp_.ok());
    dir_ = tmp_.path();
    path_ = dir_ + "/ledger.db";
  }

  std::unique_ptr<Ledger> Open(const std::string& path) {
    auto ledger = Ledger::Open(path);
    EXPECT_TRUE(ledger.has_value()) << ledger.error().ToString();
    return ledger.has_value() ? std::move(ledger).value() : nullptr;
  }

  // Opens path_ and creates the run of MakePlan(run_id).
  std::unique_ptr<Ledger> OpenWithRun(const std::string& run_id) {
    auto ledger = Open(path_);
    if (ledger == nullptr) return nullptr;
    Plan p = MakePlan(run_id);
    auto run = ledger->CreateOrAttachRun(p.run, p.files, p.shards);
    EXPECT_TRUE(run.has_value()) << run.error().ToString();
    return ledger;
  }

  std::string dir_;
  std::string path_;
};

inline void ExpectSameRun(const RunRecord& a, const RunRecord& b) {
  EXPECT_EQ(a.run_id, b.run_id);
  EXPECT_EQ(a.job_name, b.job_name);
  EXPECT_EQ(a.fingerprint, b.fingerprint);
  EXPECT_EQ(a.state, b.state);
  EXPECT_EQ(a.message, b.message);
  EXPECT_EQ(a.output_path, b.output_path);
  EXPECT_EQ(a.model_path, b.model_path);
  EXPECT_EQ(a.model_sha256, b.model_sha256);
  EXPECT_EQ(a.total_rows, b.total_rows);
  EXPECT_EQ(a.total_shards, b.total_shards);
  EXPECT_EQ(a.created_at_ms, b.created_at_ms);
  EXPECT_EQ(a.updated_at_ms, b.updated_at_ms);
  EXPECT_EQ(a.finished_at_ms, b.finished_at_ms);
}

}  // namespace nightshift::ledger_test
