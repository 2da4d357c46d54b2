#include "plugin.h"

#include <gtest/gtest.h>
#include <stdlib.h>
#include <unistd.h>

#include <fstream>
#include <string>

#include "env/temp_dir_for_test.h"

namespace nightshift {
namespace {

class PluginTest : public ::testing::Test {
 protected:
  TempDir tmp_{"ns_plugin"};

  void SetUp() override {
    ASSERT_TRUE(tmp_.ok());
    dir_ = tmp_.path();
    setenv("NIGHTSHIFT_BACKEND_DIR", dir_.c_str(), 1);
  }
  void TearDown() override { unsetenv("NIGHTSHIFT_BACKEND_DIR"); }
  std::string dir_;
};

TEST_F(PluginTest, LooksInTheBackendDirOrNextToTheExecutable) {
  EXPECT_EQ(BackendPluginPath("torchscript"), dir_ + "/libnightshift_torchscript.so");
  unsetenv("NIGHTSHIFT_BACKEND_DIR");
  char exe[4096];
  ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
  ASSERT_GT(n, 0);
  std::string self(exe, static_cast<size_t>(n));
  EXPECT_EQ(BackendPluginPath("xgboost"),
            self.substr(0, self.rfind('/')) + "/libnightshift_xgboost.so");
}

TEST_F(PluginTest, AMissingModuleIsAnInvalidJobNamingTheFile) {
  auto b = LoadBackendPlugin("nosuch");
  ASSERT_FALSE(b.has_value());
  EXPECT_EQ(b.error().code(), Code::kInvalidJob);
  EXPECT_NE(b.error().message().find(dir_ + "/libnightshift_nosuch.so"), std::string::npos)
      << b.error().message();
  EXPECT_NE(b.error().message().find("missing"), std::string::npos);
}

TEST_F(PluginTest, AFileThatIsNotALibraryIsRefusedWithTheLoadersReason) {
  std::ofstream(dir_ + "/libnightshift_broken.so") << "not an ELF file\n";
  auto b = LoadBackendPlugin("broken");
  ASSERT_FALSE(b.has_value());
  EXPECT_EQ(b.error().code(), Code::kInvalidJob);
  EXPECT_NE(b.error().message().find("cannot load nightshift's broken module"), std::string::npos)
      << b.error().message();
}

}  // namespace
}  // namespace nightshift
