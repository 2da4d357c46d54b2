#include <gtest/gtest.h>

#include "nightshift/job_spec.h"

namespace nightshift {
namespace {

TEST(ParseByteSizeTest, AcceptsUnits) {
  EXPECT_EQ(ParseByteSize("1024").value(), 1024);
  EXPECT_EQ(ParseByteSize("0").value(), 0);
  EXPECT_EQ(ParseByteSize("10B").value(), 10);
  EXPECT_EQ(ParseByteSize("1KB").value(), 1000);
  EXPECT_EQ(ParseByteSize("100MB").value(), 100'000'000);
  EXPECT_EQ(ParseByteSize("2GB").value(), 2'000'000'000);
  EXPECT_EQ(ParseByteSize("1TB").value(), 1'000'000'000'000);
  EXPECT_EQ(ParseByteSize("1KiB").value(), 1024);
  EXPECT_EQ(ParseByteSize("512MiB").value(), 512 << 20);
  EXPECT_EQ(ParseByteSize("1GiB").value(), int64_t{1} << 30);
  EXPECT_EQ(ParseByteSize("2TiB").value(), int64_t{2} << 40);
  EXPECT_EQ(ParseByteSize("1gib").value(), int64_t{1} << 30);
  EXPECT_EQ(ParseByteSize("512 mb").value(), 512'000'000);
  EXPECT_EQ(ParseByteSize(" 4 KiB ").value(), 4096);
  EXPECT_EQ(ParseByteSize("1.5GiB").value(), int64_t{3} << 29);
  EXPECT_EQ(ParseByteSize("0.5KB").value(), 500);
  EXPECT_EQ(ParseByteSize(".5KB").value(), 500);
}

TEST(ParseByteSizeTest, RejectsGarbage) {
  for (const char* bad : {"", "abc", "GiB", "-1", "1.", ".", "1 GiBs", "1K", "1e3", "1GiB2",
                          "99999999999999999999", "9999999999TiB", "+5"}) {
    Result<int64_t> r = ParseByteSize(bad);
    ASSERT_FALSE(r.has_value()) << bad;
    EXPECT_EQ(r.error().code(), Code::kInvalidJob) << bad;
  }
  EXPECT_EQ(ParseByteSize("1K").error().message(),
            "invalid byte size '1K' (expected a number of bytes or a size like 512MiB, 1GiB, "
            "100MB)");
  EXPECT_EQ(ParseByteSize("9999999999TiB").error().message(),
            "byte size '9999999999TiB' is too large");
}

TEST(ParseDurationTest, AcceptsUnits) {
  EXPECT_DOUBLE_EQ(ParseDuration("30s").value(), 30);
  EXPECT_DOUBLE_EQ(ParseDuration("500ms").value(), 0.5);
  EXPECT_DOUBLE_EQ(ParseDuration("2m").value(), 120);
  EXPECT_DOUBLE_EQ(ParseDuration("1h").value(), 3600);
  EXPECT_DOUBLE_EQ(ParseDuration("45").value(), 45);
  EXPECT_DOUBLE_EQ(ParseDuration("1.5").value(), 1.5);
  EXPECT_DOUBLE_EQ(ParseDuration("0").value(), 0);
  EXPECT_DOUBLE_EQ(ParseDuration("1.5 h").value(), 5400);
  EXPECT_DOUBLE_EQ(ParseDuration("10S").value(), 10);
}

TEST(ParseDurationTest, RejectsGarbage) {
  for (const char* bad : {"", "s", "soon", "-1s", "10 minutes", "1d", "5x", "inf", "nan", "1e3"}) {
    Result<double> r = ParseDuration(bad);
    ASSERT_FALSE(r.has_value()) << bad;
    EXPECT_EQ(r.error().code(), Code::kInvalidJob) << bad;
  }
  EXPECT_EQ(ParseDuration("1d").error().message(),
            "invalid duration '1d' (expected e.g. 30s, 500ms, 2m, 1h or a number of seconds)");
}

}  // namespace
}  // namespace nightshift
