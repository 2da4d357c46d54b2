// The models a backend's unit tests load, made once per test binary by one of
// the scripts the project ships (tests/models/<script> FOLDER) into a
// TempDir, which removes them when the suite ends. Test code only: the test
// target defines NS_TEST_PYTHON and NS_SOURCE_DIR.
#pragma once

#include <gtest/gtest.h>

#include <cstdlib>
#include <memory>
#include <string>
#include <string_view>

#include "env/temp_dir_for_test.h"

namespace nightshift {

// The folder `script` filled; null, with a test failure, when the folder
// could not be made or the script failed.
inline std::unique_ptr<TempDir> MakeTestModels(std::string_view script, std::string_view prefix) {
  auto dir = std::make_unique<TempDir>(prefix);
  if (!dir->ok()) {
    ADD_FAILURE() << "cannot make a temporary folder for " << script;
    return nullptr;
  }
  const std::string cmd = std::string(NS_TEST_PYTHON) + " " + NS_SOURCE_DIR + "/tests/models/" +
                          std::string(script) + " " + dir->path();
  if (std::system(cmd.c_str()) != 0) {
    ADD_FAILURE() << "failed: " << cmd;
    return nullptr;
  }
  return dir;
}

}  // namespace nightshift
