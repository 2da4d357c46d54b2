// DuckTest: the fixture the io tests share: a fresh temporary folder (dir_,
// removed afterwards) and an in-memory DuckDB database with one connection
// (db_, conn_) to make and inspect files with.
#pragma once

#include <gtest/gtest.h>

#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "env/temp_dir_for_test.h"
#include "io/duck.h"
#include "nightshift/env.h"
#include "nightshift/source.h"

namespace nightshift::io {

class DuckTest : public ::testing::Test {
 protected:
  TempDir tmp_{"ns_io"};  // first: removed after everything using it

  void SetUp() override {
    ASSERT_TRUE(tmp_.ok());
    dir_ = tmp_.path();
    db_ = DuckDatabase::OpenInMemory(1).value();
    conn_ = DuckConnection::Open(db_).value();
  }
  void TearDown() override {
    conn_.reset();
    db_.reset();
  }

  // Writes `text` to file `name` in dir_; returns its path.
  std::string Write(const std::string& name, const std::string& text) {
    std::string path = dir_ + "/" + name;
    EXPECT_TRUE(Env::Default()->WriteFile(path, text).ok());
    return path;
  }

  // Reads float32 features a and b (one input [batch, 2]) and carries
  // `carried`, in batches of `batch_rows`.
  static ReadLayout FloatAbLayout(std::vector<std::string> carried, int64_t batch_rows) {
    ReadLayout l;
    InputPacking p;
    p.columns = {"a", "b"};
    p.dtype = DType::kFloat32;
    p.column_widths = {1, 1};
    p.column_is_list = {false, false};
    p.row_shape = {2};
    l.inputs.push_back(p);
    l.carried = std::move(carried);
    l.batch_rows = batch_rows;
    return l;
  }

  std::string dir_;
  std::shared_ptr<DuckDatabase> db_;
  std::unique_ptr<DuckConnection> conn_;
};

}  // namespace nightshift::io
