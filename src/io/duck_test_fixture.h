// DuckTest: the fixture the io tests share: a fresh temporary folder (dir_,
// removed afterwards) and an in-memory DuckDB database with one connection
// (db_, conn_) to make and inspect files with.
#pragma once

#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <memory>
#include <string>

#include "io/duck.h"

namespace nightshift::io {

class DuckTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/ns_io_XXXXXX";
    char* made = mkdtemp(tmpl);
    ASSERT_NE(made, nullptr);
    dir_ = made;
    db_ = DuckDatabase::OpenInMemory(1).value();
    conn_ = DuckConnection::Open(db_).value();
  }
  void TearDown() override {
    conn_.reset();
    db_.reset();
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }

  std::string dir_;
  std::shared_ptr<DuckDatabase> db_;
  std::unique_ptr<DuckConnection> conn_;
};

}  // namespace nightshift::io
