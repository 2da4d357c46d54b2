#include <gtest/gtest.h>

#include <string>

#include "nightshift/job_spec.h"
#include "spec/job_file_fixture.h"

namespace nightshift::spec {
namespace {

using OverridesTest = JobFileTest;

TEST(ParseOverrideTest, SplitsAtTheFirstEquals) {
  Result<Override> o = ParseOverride("output.path=/a=b");
  ASSERT_TRUE(o.has_value());
  EXPECT_EQ(o->key, "output.path");
  EXPECT_EQ(o->value, "/a=b");
  o = ParseOverride("model.sha256=");
  ASSERT_TRUE(o.has_value());
  EXPECT_EQ(o->key, "model.sha256");
  EXPECT_EQ(o->value, "");
}

TEST(ParseOverrideTest, RejectsMissingEqualsOrKey) {
  Result<Override> o = ParseOverride("batch.size");
  ASSERT_FALSE(o.has_value());
  EXPECT_EQ(o.error().code(), Code::kInvalidJob);
  EXPECT_EQ(o.error().message(),
            "--set batch.size: expected KEY=VALUE (e.g. --set batch.size=256)");
  o = ParseOverride("=5");
  ASSERT_FALSE(o.has_value());
  EXPECT_EQ(o.error().message(), "--set =5: the key before '=' is empty");
}

TEST_F(OverridesTest, SetsAnInteger) {
  Result<JobSpec> r = Parse(kMinimalJob, {{"batch.size", "256"}});
  ASSERT_TRUE(r.has_value()) << r.error().ToString();
  EXPECT_EQ(r->batch.size, 256);
}

TEST_F(OverridesTest, SetsAString) {
  Result<JobSpec> r = Parse(kMinimalJob + "batch:\n  size: 8\n", {{"batch.size", "auto"}});
  ASSERT_TRUE(r.has_value()) << r.error().ToString();
  EXPECT_TRUE(r->batch.auto_size());
  r = Parse(kMinimalJob, {{"output.format", "csv"}, {"name", "other"}});
  ASSERT_TRUE(r.has_value()) << r.error().ToString();
  EXPECT_EQ(r->output.format, OutputFormat::kCsv);
  EXPECT_EQ(r->name, "other");
}

TEST_F(OverridesTest, LaterOverrideWins) {
  Result<JobSpec> r = Parse(kMinimalJob, {{"batch.size", "abc"}, {"batch.size", "3"}});
  ASSERT_TRUE(r.has_value()) << r.error().ToString();
  EXPECT_EQ(r->batch.size, 3);
}

TEST_F(OverridesTest, IndexesIntoLists) {
  Result<JobSpec> r =
      Parse(kMinimalJob, {{"model.inputs.0.dtype", "int64"}, {"model.outputs[0].column", "z"}});
  ASSERT_TRUE(r.has_value()) << r.error().ToString();
  EXPECT_EQ(r->model.inputs[0].dtype, DType::kInt64);
  EXPECT_EQ(r->model.inputs[0].columns, (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(r->model.outputs[0].column, "z");
}

TEST_F(OverridesTest, IndexEqualToLengthAppends) {
  Result<JobSpec> r =
      Parse(kMinimalJob, {{"model.inputs.1.name", "w"}, {"model.inputs.1.columns", "[c]"}});
  ASSERT_TRUE(r.has_value()) << r.error().ToString();
  ASSERT_EQ(r->model.inputs.size(), 2u);
  EXPECT_EQ(r->model.inputs[1].name, "w");
  EXPECT_EQ(r->model.inputs[1].columns, std::vector<std::string>{"c"});
}

TEST_F(OverridesTest, CreatesMissingSections) {
  Result<JobSpec> r = Parse(kMinimalJob, {{"errors.max_failed_items", "1.5%"},
                                          {"run.ledger", "postgresql://h/db"},
                                          {"output.keep", "[id, region]"}});
  ASSERT_TRUE(r.has_value()) << r.error().ToString();
  EXPECT_DOUBLE_EQ(*r->errors.max_failed_fraction, 0.015);
  EXPECT_EQ(r->run.ledger, "postgresql://h/db");
  EXPECT_EQ(r->output.keep, (std::vector<std::string>{"id", "region"}));
}

TEST_F(OverridesTest, SetsAWholeSection) {
  Result<JobSpec> r = Parse(kMinimalJob, {{"batch", "{size: 12, max_memory: 1MB}"}});
  ASSERT_TRUE(r.has_value()) << r.error().ToString();
  EXPECT_EQ(r->batch.size, 12);
  EXPECT_EQ(r->batch.max_memory, 1000000);
}

TEST_F(OverridesTest, UnknownKeySuggestsClosest) {
  EXPECT_EQ(ErrorOf(kMinimalJob, {{"batch.sise", "5"}}),
            path() + ": --set batch.sise: unknown key 'batch.sise'; did you mean 'batch.size'?");
  EXPECT_EQ(ErrorOf(kMinimalJob, {{"modle.path", "x"}}),
            path() + ": --set modle.path: unknown key 'modle'; did you mean 'model'?");
  EXPECT_EQ(ErrorOf(kMinimalJob, {{"model.inputs.0.dtyp", "x"}}),
            path() +
                ": --set model.inputs.0.dtyp: unknown key 'model.inputs[0].dtyp'; did you "
                "mean 'model.inputs[0].dtype'?");
  EXPECT_EQ(ErrorOf(kMinimalJob, {{"nonsense", "x"}}),
            path() + ": --set nonsense: unknown key 'nonsense'");
}

TEST_F(OverridesTest, BadValueNamesTheOverride) {
  EXPECT_EQ(ErrorOf(kMinimalJob, {{"batch.size", "abc"}}),
            path() + ": --set batch.size: expected a positive integer or 'auto', got 'abc'");
  EXPECT_EQ(ErrorOf(kMinimalJob, {{"model.threads", "[1]"}}),
            path() + ": --set model.threads: expected an integer >= 0, got a list");
  EXPECT_EQ(ErrorOf(kMinimalJob, {{"batch", "{size: x}"}}),
            path() + ": --set batch: batch.size: expected a positive integer or 'auto', got 'x'");
  EXPECT_EQ(ErrorOf(kMinimalJob, {{"batch", "{sise: 1}"}}),
            path() + ": --set batch: unknown key 'batch.sise'; did you mean 'batch.size'?");
  EXPECT_EQ(ErrorOf(kMinimalJob, {{"input.key", ""}}),
            path() + ": --set input.key: missing required key 'input.key'");
}

TEST_F(OverridesTest, BadPaths) {
  EXPECT_EQ(ErrorOf(kMinimalJob, {{"model.inputs.x.dtype", "int64"}}),
            path() +
                ": --set model.inputs.x.dtype: 'model.inputs' is a list: expected an "
                "index, as in 'model.inputs.0', got 'x'");
  EXPECT_EQ(ErrorOf(kMinimalJob, {{"model.inputs.5.dtype", "int64"}}),
            path() +
                ": --set model.inputs.5.dtype: index 5 is out of range: 'model.inputs' has "
                "1 entry");
  EXPECT_EQ(ErrorOf(kMinimalJob, {{"batch.size.x", "1"}}),
            path() +
                ": --set batch.size.x: 'batch.size' takes a whole value; set it with --set "
                "batch.size=VALUE (a list is written [a, b])");
  EXPECT_EQ(ErrorOf(kMinimalJob, {{"batch..size", "1"}}),
            path() + ": --set batch..size: empty component in the key");
}

TEST_F(OverridesTest, ValueThatIsNotYaml) {
  EXPECT_EQ(ErrorOf(kMinimalJob, {{"output.keep", "[a"}}),
            path() +
                ": --set output.keep: value '[a' is not valid YAML: end of sequence flow "
                "not found");
}

TEST_F(OverridesTest, TextAfterAQuoteOrBracketIsRefusedNotDropped) {
  EXPECT_EQ(ErrorOf(kMinimalJob, {{"output.keep", "[id], f0"}}),
            path() +
                ": --set output.keep: value '[id], f0' is more than one YAML value (text "
                "after its closing quote or bracket); quote all of it");
  EXPECT_EQ(ErrorOf(kMinimalJob, {{"name", "\"Odd Schema\".t1"}}),
            path() +
                ": --set name: value '\"Odd Schema\".t1' is more than one YAML value (text "
                "after its closing quote or bracket); quote all of it");
  // One value, a plain scalar with a comma, and a trailing comment are fine.
  Result<JobSpec> r =
      Parse(kMinimalJob, {{"output.keep", "[id] # the key"}, {"output.path", "out, b"}});
  ASSERT_TRUE(r.has_value()) << r.error().ToString();
  EXPECT_EQ(r->output.keep, std::vector<std::string>{"id"});
  EXPECT_TRUE(r->output.path.ends_with("/out, b")) << r->output.path;
  r = Parse(kMinimalJob, {{"output.path", "'Odd Schema.t1'"}});
  ASSERT_TRUE(r.has_value()) << r.error().ToString();
  EXPECT_TRUE(r->output.path.ends_with("/Odd Schema.t1")) << r->output.path;
}

}  // namespace
}  // namespace nightshift::spec
