// TempDir: a fresh folder for a test (or a test suite), removed with all it
// holds when the TempDir goes, so that test runs leave nothing behind in the
// temporary folder, run after run. Test code only.
#pragma once

#include <stdlib.h>

#include <filesystem>
#include <string>
#include <string_view>
#include <utility>

namespace nightshift {

class TempDir {
 public:
  // <temporary folder>/<prefix>_XXXXXX, made by mkdtemp; ok() is false when
  // it could not be made (tests ASSERT it).
  explicit TempDir(std::string_view prefix) {
    std::error_code ec;
    std::string tmpl = (std::filesystem::temp_directory_path(ec) / prefix).string() + "_XXXXXX";
    if (!ec && mkdtemp(tmpl.data()) != nullptr) path_ = std::move(tmpl);
  }
  ~TempDir() {
    if (path_.empty()) return;
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  bool ok() const { return !path_.empty(); }
  const std::string& path() const { return path_; }
  // path() + "/" + name.
  std::string operator/(std::string_view name) const { return path_ + "/" + std::string(name); }

 private:
  std::string path_;
};

}  // namespace nightshift
