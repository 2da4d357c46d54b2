// Paths from a column: relative to the input's folder and kept inside it.
#include "image/image_file.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <filesystem>

#include "env/temp_dir_for_test.h"

namespace nightshift::image {
namespace {

using ::testing::HasSubstr;

class ImageFileTest : public ::testing::Test {
 protected:
  TempDir tmp_{"ns_image_file"};

  void SetUp() override {
    ASSERT_TRUE(tmp_.ok());
    root_ = tmp_.path();
    dir_ = JoinPath(root_, "in");
    ASSERT_TRUE(env_->CreateDirs(JoinPath(dir_, "sub")).ok());
    ASSERT_TRUE(env_->WriteFile(JoinPath(dir_, "sub/a.jpg"), "AAAA").ok());
    ASSERT_TRUE(env_->WriteFile(JoinPath(root_, "secret.jpg"), "SECRET").ok());
    std::filesystem::create_symlink(JoinPath(root_, "secret.jpg"), JoinPath(dir_, "link.jpg"));
    std::filesystem::create_symlink("sub/a.jpg", JoinPath(dir_, "inside.jpg"));
  }
  std::string ErrorOf(std::string_view path, bool allow_outside = false) {
    auto r = ReadImageFile(env_, path, dir_, allow_outside);
    if (r.has_value()) return "(read)";
    EXPECT_EQ(r.error().code(), Code::kInvalidData);
    return r.error().message();
  }

  Env* env_ = Env::Default();
  std::string root_, dir_;
};

TEST_F(ImageFileTest, ReadsRelativeAndAbsolutePaths) {
  EXPECT_EQ(*ReadImageFile(env_, "sub/a.jpg", dir_, false), "AAAA");
  EXPECT_EQ(*ReadImageFile(env_, "./sub/../sub/a.jpg", dir_, false), "AAAA");
  EXPECT_EQ(*ReadImageFile(env_, "inside.jpg", dir_, false), "AAAA");  // a link that stays inside
  // An absolute path is taken as it is, wherever it points.
  EXPECT_EQ(*ReadImageFile(env_, JoinPath(root_, "secret.jpg"), dir_, false), "SECRET");
}

TEST_F(ImageFileTest, RelativePathMayNotLeaveTheFolder) {
  EXPECT_THAT(ErrorOf("../secret.jpg"), HasSubstr("leaves the input folder"));
  EXPECT_THAT(ErrorOf("../secret.jpg"), HasSubstr("through '..'"));
  EXPECT_THAT(ErrorOf("sub/../../secret.jpg"), HasSubstr("through '..'"));
  EXPECT_THAT(ErrorOf("link.jpg"), HasSubstr("through a symlink"));
}

TEST_F(ImageFileTest, AllowOutsideLetsThemThrough) {
  EXPECT_EQ(*ReadImageFile(env_, "../secret.jpg", dir_, true), "SECRET");
  EXPECT_EQ(*ReadImageFile(env_, "link.jpg", dir_, true), "SECRET");
}

TEST_F(ImageFileTest, MissingEmptyAndFolderPathsAreRefused) {
  EXPECT_THAT(ErrorOf("nope.jpg"), HasSubstr("image path 'nope.jpg'"));
  EXPECT_THAT(ErrorOf(""), HasSubstr("empty"));
  EXPECT_THAT(ErrorOf("sub"), HasSubstr("is a folder"));
  EXPECT_THAT(ErrorOf(std::string_view("a\0b", 3)), HasSubstr("NUL"));
  auto r = ReadImageFile(env_, "sub/a.jpg", "", false);
  ASSERT_FALSE(r.has_value());
  EXPECT_THAT(r.error().message(), HasSubstr("no folder"));
}

TEST_F(ImageFileTest, FifosAndDevicesAreRefusedUnread) {
  // A FIFO would block the reader for ever (nobody writes it); a device such
  // as /dev/zero reports size 0 and never ends.
  ASSERT_EQ(::mkfifo(JoinPath(dir_, "pipe.jpg").c_str(), 0600), 0);
  EXPECT_THAT(ErrorOf("pipe.jpg"), HasSubstr("is not a regular file (a FIFO, socket or device)"));
  EXPECT_THAT(ErrorOf("/dev/zero"), HasSubstr("image path '/dev/zero': is not a regular file"));
}

}  // namespace
}  // namespace nightshift::image
