#include "spec/suggest.h"

#include <gtest/gtest.h>

#include <string_view>

#include "spec/env_vars.h"

namespace nightshift::spec {
namespace {

TEST(EditDistanceTest, CountsEdits) {
  EXPECT_EQ(EditDistance("", ""), 0);
  EXPECT_EQ(EditDistance("size", "size"), 0);
  EXPECT_EQ(EditDistance("sise", "size"), 1);
  EXPECT_EQ(EditDistance("szie", "size"), 1);  // transposition
  EXPECT_EQ(EditDistance("Size", "size"), 0);  // case-insensitive
  EXPECT_EQ(EditDistance("", "abc"), 3);
  EXPECT_EQ(EditDistance("kitten", "sitting"), 3);
  EXPECT_EQ(EditDistance("max_retry", "max_retries"), 3);
}

TEST(ClosestMatchTest, SuggestsOnlyPlausibleTypos) {
  constexpr std::string_view kKeys[] = {"size", "max_memory", "sort_by_length", "max_tokens"};
  EXPECT_EQ(ClosestMatch("sise", kKeys), "size");
  EXPECT_EQ(ClosestMatch("max_memroy", kKeys), "max_memory");
  EXPECT_EQ(ClosestMatch("max_token", kKeys), "max_tokens");
  EXPECT_EQ(ClosestMatch("zzz", kKeys), std::nullopt);
  EXPECT_EQ(ClosestMatch("foo", std::span<const std::string_view>{}), std::nullopt);
  constexpr std::string_view kTop[] = {"name",   "input",  "model", "batch",
                                       "output", "errors", "run"};
  EXPECT_EQ(ClosestMatch("foo", kTop), std::nullopt);  // "foo" vs "run" is 3 edits: too far
  EXPECT_EQ(ClosestMatch("modle", kTop), "model");
}

TEST(SubstituteEnvVarsTest, Forms) {
  ASSERT_EQ(::setenv("NS_SUBST_A", "alpha", 1), 0);
  ASSERT_EQ(::setenv("NS_SUBST_EMPTY", "", 1), 0);
  ::unsetenv("NS_SUBST_UNSET");
  EXPECT_EQ(SubstituteEnvVars("plain $ text $5").value(), "plain $ text $5");
  EXPECT_EQ(SubstituteEnvVars("${NS_SUBST_A}/${NS_SUBST_A}").value(), "alpha/alpha");
  EXPECT_EQ(SubstituteEnvVars("$${NS_SUBST_A}").value(), "${NS_SUBST_A}");
  EXPECT_EQ(SubstituteEnvVars("${NS_SUBST_UNSET:-x/y}").value(), "x/y");
  EXPECT_EQ(SubstituteEnvVars("${NS_SUBST_EMPTY:-d}").value(), "d");
  EXPECT_EQ(SubstituteEnvVars("[${NS_SUBST_EMPTY}]").value(), "[]");
  EXPECT_EQ(SubstituteEnvVars("${NS_SUBST_UNSET}").error().message(),
            "environment variable 'NS_SUBST_UNSET' is not set");
  EXPECT_EQ(SubstituteEnvVars("${1BAD}").error().message(),
            "invalid environment variable name '1BAD' in '${1BAD}'");
  EXPECT_EQ(SubstituteEnvVars("a${OPEN").error().message(),
            "unterminated '${' in 'a${OPEN' (write '$${' for a literal '${')");
}

}  // namespace
}  // namespace nightshift::spec
