// Test fixture: writes job files into a fresh folder (TempDir).
#pragma once

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "env/temp_dir_for_test.h"
#include "nightshift/job_spec.h"

namespace nightshift::spec {

class JobFileTest : public ::testing::Test {
 protected:
  TempDir tmp_{"ns_spec_test"};

  void SetUp() override {
    ASSERT_TRUE(tmp_.ok());
    dir_ = tmp_.path();
  }

  // Writes `text` to dir_/name and returns the path.
  std::string Write(const std::string& text, const std::string& name = "job.yaml") {
    const std::string path = dir_ + "/" + name;
    std::filesystem::create_directories(std::filesystem::path(path).parent_path());
    std::ofstream(path, std::ios::binary) << text;
    return path;
  }

  // Writes and parses `text`.
  Result<JobSpec> Parse(const std::string& text, const std::vector<Override>& overrides = {}) {
    return ParseJobFile(Write(text), overrides);
  }

  // The error message of parsing `text`, which must fail with InvalidJob.
  std::string ErrorOf(const std::string& text, const std::vector<Override>& overrides = {}) {
    Result<JobSpec> job = Parse(text, overrides);
    if (job.has_value()) {
      ADD_FAILURE() << "expected an error for:\n" << text;
      return "";
    }
    EXPECT_EQ(job.error().code(), Code::kInvalidJob) << job.error().ToString();
    return job.error().message();
  }

  std::string path() const { return dir_ + "/job.yaml"; }

  std::string dir_;
};

// A small valid job; line numbers matter to the tests:
//  1 name  2 input  3 path  4 key  5 model  6 path  7 inputs  8 - name  9 columns
// 10 outputs  11 - name  12 column  13 output  14 path
inline const std::string kMinimalJob =
    "name: t\n"
    "input:\n"
    "  path: in.parquet\n"
    "  key: id\n"
    "model:\n"
    "  path: m.onnx\n"
    "  inputs:\n"
    "    - name: x\n"
    "      columns: [a, b]\n"
    "  outputs:\n"
    "    - name: y\n"
    "      column: y\n"
    "output:\n"
    "  path: out\n";

// kMinimalJob with the first `from` replaced by `to`.
inline std::string Edit(const std::string& from, const std::string& to) {
  std::string text = kMinimalJob;
  const size_t at = text.find(from);
  EXPECT_NE(at, std::string::npos) << from;
  if (at != std::string::npos) text.replace(at, from.size(), to);
  return text;
}

}  // namespace nightshift::spec
