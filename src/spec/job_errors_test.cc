// Bad job files: every error names the file, the line and the full key.
#include <gtest/gtest.h>

#include <cstdlib>
#include <string>

#include "nightshift/job_spec.h"
#include "spec/job_file_fixture.h"

namespace nightshift::spec {
namespace {

using JobErrorsTest = JobFileTest;

TEST_F(JobErrorsTest, UnknownTopLevelKeySuggestsClosest) {
  EXPECT_EQ(ErrorOf(kMinimalJob + "erors:\n  max_retries: 1\n"),
            path() + ":15:1: unknown key 'erors'; did you mean 'errors'?");
}

TEST_F(JobErrorsTest, UnknownNestedKeySuggestsFullPath) {
  EXPECT_EQ(ErrorOf(kMinimalJob + "batch:\n  size: 5\n  sise: 5\n"),
            path() + ":17:3: unknown key 'batch.sise'; did you mean 'batch.size'?");
  EXPECT_EQ(ErrorOf(Edit("  key: id\n", "  keys: id\n")),
            path() + ":4:3: unknown key 'input.keys'; did you mean 'input.key'?");
  EXPECT_EQ(ErrorOf(kMinimalJob + "run:\n  shard_row: 10\n"),
            path() + ":16:3: unknown key 'run.shard_row'; did you mean 'run.shard_rows'?");
}

TEST_F(JobErrorsTest, UnknownKeyInListEntry) {
  EXPECT_EQ(
      ErrorOf(Edit("      columns: [a, b]\n", "      colums: [a, b]\n")),
      path() +
          ":9:7: unknown key 'model.inputs[0].colums'; did you mean 'model.inputs[0].columns'?");
  EXPECT_EQ(ErrorOf(Edit("      column: y\n", "      column: y\n    - name: z\n      dtype: x\n")),
            path() +
                ":14:7: unknown key 'model.outputs[1].dtype' (valid keys under "
                "'model.outputs[1]': name, columns, column)");
}

TEST_F(JobErrorsTest, KeyAtTheWrongLevelPointsToItsHome) {
  EXPECT_EQ(ErrorOf(kMinimalJob + "max_memory: 1GiB\n"),
            path() + ":15:1: unknown key 'max_memory'; did you mean 'batch.max_memory'?");
}

TEST_F(JobErrorsTest, UnrelatedUnknownKeyListsValidKeys) {
  EXPECT_EQ(ErrorOf(kMinimalJob + "batch:\n  zzzzzzzz: 1\n"),
            path() +
                ":16:3: unknown key 'batch.zzzzzzzz' (valid keys under 'batch': size, "
                "max_memory, sort_by_length, max_tokens)");
}

TEST_F(JobErrorsTest, DuplicateKey) {
  EXPECT_EQ(ErrorOf(kMinimalJob + "batch:\n  size: 5\n  size: 6\n"),
            path() + ":17:3: duplicate key 'batch.size' (first given at line 16)");
}

TEST_F(JobErrorsTest, WrongTypes) {
  EXPECT_EQ(ErrorOf(kMinimalJob + "batch:\n  size: abc\n"),
            path() + ":16:9: batch.size: expected a positive integer or 'auto', got 'abc'");
  EXPECT_EQ(ErrorOf(kMinimalJob + "batch:\n  size: 0\n"),
            path() + ":16:9: batch.size: expected a positive integer or 'auto', got '0'");
  EXPECT_EQ(ErrorOf(Edit("  path: m.onnx\n", "  path: m.onnx\n  threads: [1]\n")),
            path() + ":7:12: model.threads: expected an integer >= 0, got a list");
  EXPECT_EQ(ErrorOf(Edit("  path: m.onnx\n", "  path: m.onnx\n  instances: 0\n")),
            path() + ":7:14: model.instances: expected an integer >= 1, got '0'");
  EXPECT_EQ(ErrorOf(Edit("  path: m.onnx\n", "  path: {a: 1}\n")),
            path() + ":6:9: model.path: expected a string, got a mapping");
  EXPECT_EQ(ErrorOf(Edit("      columns: [a, b]\n", "      columns: a\n")),
            path() + ":9:16: model.inputs[0].columns: expected a list of strings, got 'a'");
  EXPECT_EQ(ErrorOf(Edit("      columns: [a, b]\n", "      columns: [a, [b]]\n")),
            path() + ":9:20: model.inputs[0].columns[1]: expected a string, got a list");
  EXPECT_EQ(ErrorOf(Edit("      columns: [a, b]\n", "      columns: [a, b]\n      allow_nan: 2\n")),
            path() + ":10:18: model.inputs[0].allow_nan: expected true or false, got '2'");
  EXPECT_EQ(ErrorOf(kMinimalJob + "batch: 5\n"),
            path() + ":15:8: batch: expected a mapping, got '5'");
  EXPECT_EQ(ErrorOf(kMinimalJob + "run:\n  shard_rows: 1.5\n"),
            path() + ":16:15: run.shard_rows: expected an integer >= 1, got '1.5'");
  EXPECT_EQ(ErrorOf(kMinimalJob + "run:\n  shard_rows: 99999999999999999999\n"),
            path() +
                ":16:15: run.shard_rows: expected an integer >= 1, got "
                "'99999999999999999999'");
  EXPECT_EQ(ErrorOf(kMinimalJob + "errors:\n  max_retries: 3000000000\n"),
            path() + ":16:16: errors.max_retries: expected an integer >= 0, got '3000000000'");
}

TEST_F(JobErrorsTest, BadValues) {
  EXPECT_EQ(ErrorOf(Edit("name: t\n", "name: my job\n")),
            path() + ":1:7: name: 'my job' may only hold letters, digits, '_', '.' and '-'");
  EXPECT_EQ(ErrorOf(Edit("  path: m.onnx\n", "  path: m.onnx\n  backend: onx\n")),
            path() +
                ":7:12: model.backend: expected one of onnx, torchscript, xgboost, got "
                "'onx'; did you mean 'onnx'?");
  EXPECT_EQ(ErrorOf(Edit("  path: m.onnx\n", "  path: m.onnx\n  device: gpu\n")),
            path() + ":7:11: model.device: expected cpu, cuda or cuda:N, got 'gpu'");
  EXPECT_EQ(ErrorOf(Edit("  path: m.onnx\n", "  path: m.onnx\n  device: cuda:x\n")),
            path() + ":7:11: model.device: expected cpu, cuda or cuda:N, got 'cuda:x'");
  EXPECT_EQ(ErrorOf(Edit("  path: m.onnx\n", "  path: m.onnx\n  sha256: abc\n")),
            path() + ":7:11: model.sha256: expected 64 hexadecimal digits, got 'abc'");
  EXPECT_EQ(ErrorOf(Edit("      columns: [a, b]\n", "      columns: [a, b]\n      dtype: f32\n")),
            path() +
                ":10:14: model.inputs[0].dtype: unknown dtype 'f32' (valid: float32, "
                "float64, int64, int32, float16, bfloat16, int8, uint8, bool)");
  EXPECT_EQ(ErrorOf(kMinimalJob + "batch:\n  max_memory: 1 GB of RAM\n"),
            path() +
                ":16:15: batch.max_memory: invalid byte size '1 GB of RAM' (expected a "
                "number of bytes or a size like 512MiB, 1GiB, 100MB)");
  EXPECT_EQ(ErrorOf(kMinimalJob + "errors:\n  batch_timeout: soon\n"),
            path() +
                ":16:18: errors.batch_timeout: invalid duration 'soon' (expected e.g. 30s, "
                "500ms, 2m, 1h or a number of seconds)");
  EXPECT_EQ(ErrorOf(kMinimalJob + "errors:\n  max_failed_items: 150%\n"),
            path() +
                ":16:21: errors.max_failed_items: expected a percentage between 0% and "
                "100%, got '150%'");
  EXPECT_EQ(ErrorOf(kMinimalJob + "errors:\n  max_failed_items: 0.5\n"),
            path() +
                ":16:21: errors.max_failed_items: expected a count >= -1 or a percentage "
                "like '0.5%', got '0.5'");
  EXPECT_EQ(ErrorOf(kMinimalJob + "errors:\n  max_failed_items: -2\n"),
            path() +
                ":16:21: errors.max_failed_items: expected a count >= -1 or a percentage "
                "like '0.5%', got '-2'");
  EXPECT_EQ(ErrorOf(Edit("  path: out\n", "  path: out\n  format: parquett\n")),
            path() +
                ":15:11: output.format: expected one of parquet, csv, jsonl, postgres, sqlite, "
                "duckdb, got "
                "'parquett'; did you mean 'parquet'?");
  EXPECT_EQ(ErrorOf(Edit("  path: out\n", "  path: out/{runid}\n")),
            path() +
                ":14:9: output.path: unknown placeholder '{runid}' (valid: {run_id}, "
                "{name}, {date})");
  EXPECT_EQ(ErrorOf(Edit("  key: id\n", "  key: []\n")),
            path() + ":4:8: input.key: expected at least 1 entry, got none");
  EXPECT_EQ(ErrorOf(Edit("  key: id\n", "  key: ''\n")),
            path() + ":4:8: input.key: expected a non-empty string");
}

TEST_F(JobErrorsTest, MissingRequiredKeys) {
  EXPECT_EQ(ErrorOf(Edit("name: t\n", "")), path() + ": missing required key 'name'");
  // A required key given without a value: no value, rather than missing.
  EXPECT_EQ(ErrorOf(Edit("name: t\n", "name:\n")),
            path() + ":1:1: name: no value given (leave the key out to use its default)");
  EXPECT_EQ(ErrorOf(Edit("  key: id\n", "")), path() + ":3:3: missing required key 'input.key'");
  EXPECT_EQ(ErrorOf(Edit("  path: in.parquet\n", "")),
            path() + ":3:3: missing required key 'input.path' (or 'input.query')");
  EXPECT_EQ(ErrorOf(Edit("  path: in.parquet\n", "  path: in.parquet\n  query: SELECT 1\n")),
            path() + ":4:10: input.query: set either 'input.path' or 'input.query', not both");
  EXPECT_EQ(ErrorOf(Edit("  path: m.onnx\n", "")),
            path() + ":6:3: missing required key 'model.path'");
  EXPECT_EQ(ErrorOf(Edit("output:\n  path: out\n", "")),
            path() + ": missing required key 'output'");
  EXPECT_EQ(ErrorOf(Edit("  path: out\n", "  format: csv\n")),
            path() + ":14:3: missing required key 'output.path'");
  EXPECT_EQ(ErrorOf(Edit("    - name: x\n      columns: [a, b]\n", "    - name: x\n")),
            path() + ":8:7: missing required key 'model.inputs[0].columns'");
  EXPECT_EQ(ErrorOf(Edit("      column: y\n", "")),
            path() +
                ":11:7: missing required key 'model.outputs[0].columns' (or "
                "'model.outputs[0].column')");
  EXPECT_EQ(ErrorOf(Edit("      column: y\n", "      column: y\n      columns: [y]\n")),
            path() +
                ":12:15: model.outputs[0].column: set either 'model.outputs[0].columns' or "
                "'model.outputs[0].column', not both");
  EXPECT_EQ(ErrorOf(Edit("  outputs:\n    - name: y\n      column: y\n", "  outputs: []\n")),
            path() +
                ":10:12: model.outputs: expected a list of at least one output (name, "
                "columns or column), got an empty list");
  EXPECT_EQ(ErrorOf(Edit("  inputs:\n    - name: x\n      columns: [a, b]\n", "")),
            path() + ":6:3: missing required key 'model.inputs'");
}

// NodeReader::RequiredString and NonEmptyString, as every section uses them.
TEST_F(JobErrorsTest, EmptyStringsAreRefusedWhereAValueIsNeeded) {
  EXPECT_EQ(ErrorOf(Edit("  path: m.onnx\n", "  path: ''\n")),
            path() + ":6:9: model.path: must not be empty");
  EXPECT_EQ(ErrorOf(Edit("  path: out\n", "  path: \"\"\n")),
            path() + ":14:9: output.path: must not be empty");
  EXPECT_EQ(ErrorOf(Edit("  path: in.parquet\n", "  path: ''\n")),
            path() + ":3:9: input.path: must not be empty");
  EXPECT_EQ(ErrorOf(Edit("    - name: x\n", "    - name: ''\n")),
            path() + ":8:13: model.inputs[0].name: must not be empty");
  EXPECT_EQ(ErrorOf(kMinimalJob + "run:\n  ledger: ''\n"),
            path() + ":16:11: run.ledger: must not be empty");
  EXPECT_EQ(ErrorOf(kMinimalJob + "run:\n  ledger: postgresql+psycopg2://u:secret@db/l\n"),
            path() +
                ":16:11: run.ledger: a 'postgresql+psycopg2://' URL is not a ledger: give a "
                "PostgreSQL URL (postgresql:// or postgres://) or a SQLite file path");
  // ${VAR} is substituted first: a variable set to nothing is empty too.
  setenv("NS_TEST_EMPTY_PATH", "", 1);
  EXPECT_EQ(ErrorOf(Edit("  path: m.onnx\n", "  path: ${NS_TEST_EMPTY_PATH}\n")),
            path() + ":6:9: model.path: must not be empty");
  unsetenv("NS_TEST_EMPTY_PATH");
}

TEST_F(JobErrorsTest, DuplicateModelInputName) {
  EXPECT_EQ(ErrorOf(Edit("      columns: [a, b]\n",
                         "      columns: [a, b]\n    - name: x\n      "
                         "columns: [c]\n")),
            path() + ":10:13: model.inputs[1].name: model input 'x' is listed twice");
}

// A key whose value was forgotten (`size:`) or written as null used to mean
// its default silently (batch.size: 1024); now it is an error naming the key
// and its line, for every key where null has no documented meaning.
TEST_F(JobErrorsTest, NullValueIsAnErrorNamingKeyAndLine) {
  constexpr const char* kNoValue = "no value given (leave the key out to use its default)";
  EXPECT_EQ(ErrorOf(kMinimalJob + "batch:\n  size:\n"), path() + ":16:3: batch.size: " + kNoValue);
  EXPECT_EQ(ErrorOf(kMinimalJob + "batch:\n  size: null\n"),
            path() + ":16:3: batch.size: " + kNoValue);
  EXPECT_EQ(ErrorOf(kMinimalJob + "run:\n  shard_rows: ~\n"),
            path() + ":16:3: run.shard_rows: " + kNoValue);
  EXPECT_EQ(ErrorOf(kMinimalJob + "errors:\n  max_failed_items:\n"),
            path() + ":16:3: errors.max_failed_items: " + kNoValue);
  EXPECT_EQ(ErrorOf(Edit("      columns: [a, b]\n", "      columns: [a, b]\n      dtype:\n")),
            path() + ":10:7: model.inputs[0].dtype: " + kNoValue);
  EXPECT_EQ(ErrorOf(Edit("  key: id\n", "  key: id\n  format:\n")),
            path() + ":5:3: input.format: " + kNoValue);
  EXPECT_EQ(ErrorOf(Edit("  path: out\n", "  path: out\n  keep:\n")),
            path() + ":15:3: output.keep: " + kNoValue);
  EXPECT_EQ(ErrorOf(Edit("name: t\n", "name:\n")), path() + ":1:1: name: " + kNoValue);
}

TEST_F(JobErrorsTest, NullIsAllowedWhereItIsDocumented) {
  // model.sha256: null is the spec's "no pin"; an empty section is all defaults.
  Result<JobSpec> r =
      Parse(Edit("  path: m.onnx\n", "  path: m.onnx\n  sha256: null\n") + "batch:\nerrors:\n");
  ASSERT_TRUE(r.has_value()) << r.error().ToString();
  EXPECT_EQ(r->model.sha256, std::nullopt);
  EXPECT_EQ(r->batch.size, BatchSpec{}.size);
  // `--set KEY=` removes a key (here: back to its default).
  r = Parse(kMinimalJob + "batch:\n  size: 8\n", {{"batch.size", ""}});
  ASSERT_TRUE(r.has_value()) << r.error().ToString();
  EXPECT_EQ(r->batch.size, BatchSpec{}.size);
}

}  // namespace
}  // namespace nightshift::spec
