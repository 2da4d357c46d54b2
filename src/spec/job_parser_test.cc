#include <gtest/gtest.h>
#include <stdlib.h>
#include <unistd.h>

#include <filesystem>
#include <string>

#include "nightshift/job_spec.h"
#include "spec/job_file_fixture.h"

namespace nightshift::spec {
namespace {

// The example job of the contract (docs/job-file.md), verbatim.
const std::string kSpecExample = R"(name: churn-nightly                  # required; [A-Za-z0-9_.-]+
input:
  path: data/customers/*.parquet     # a file, a glob or a directory (relative to the job file's folder)
  format: auto                       # auto | parquet | csv | jsonl   (auto: from the extension)
  # query: "SELECT * FROM read_parquet('data/*.parquet') WHERE active"   # instead of path: a DuckDB SQL query
  key: customer_id                   # column (or list of columns) that identifies a row
model:
  backend: onnx                      # onnx | torchscript | xgboost
  path: models/churn.onnx
  sha256: null                       # optional pin: refuse to run a different file
  device: cpu                        # cpu | cuda | cuda:N
  threads: 0                         # intra-op threads; 0 = choose
  inputs:                            # one entry per model input
    - name: features                 # the model's input name (for xgboost: any name)
      columns: [tenure, monthly_charges, total_charges]   # packed along the last axis, in this order
      dtype: float32                 # float32 | float64 | int64 | int32 | ...
  outputs:                           # one entry per model output used
    - name: probabilities            # the model's output name (xgboost: "prediction")
      columns: [p_stay, p_churn]     # one output column per element of the last axis
      # column: embedding            # instead of columns: the whole last axis as one list column
batch:
  size: 1024                         # rows per batch, or auto
  max_memory: 1GiB                   # budget for one batch in flight (inputs, outputs, activations)
output:
  path: out/churn/{run_id}           # a directory; {run_id}, {name} and {date} are substituted
  format: parquet                    # parquet | csv | jsonl
  keep: [customer_id]                # input columns copied into every output row
errors:
  max_retries: 2                     # retries of a failing batch or item before it is dead-lettered
  max_failed_items: 0                # a count (100) or a percentage ("0.5%") of input rows; beyond it the run fails
  dead_letter: "{output}/_failed"    # a directory of JSONL files, one object per failed row
run:
  shard_rows: 131072                 # target rows per shard (the unit of commit and resume)
  ledger: .nightshift/ledger.db      # SQLite file (default) or postgresql://... URL
)";

using ParserTest = JobFileTest;

TEST_F(ParserTest, ParsesTheSpecExample) {
  Result<JobSpec> r = Parse(kSpecExample);
  ASSERT_TRUE(r.has_value()) << r.error().ToString();
  const JobSpec& job = *r;
  EXPECT_EQ(job.name, "churn-nightly");
  EXPECT_EQ(job.job_file, dir_ + "/job.yaml");
  EXPECT_EQ(job.job_dir, dir_);
  EXPECT_EQ(job.input.path, dir_ + "/data/customers/*.parquet");
  EXPECT_EQ(job.input.query, "");
  EXPECT_EQ(job.input.format, InputFormat::kAuto);
  EXPECT_EQ(job.input.key, std::vector<std::string>{"customer_id"});
  EXPECT_EQ(job.model.backend, "onnx");
  EXPECT_EQ(job.model.path, dir_ + "/models/churn.onnx");
  EXPECT_EQ(job.model.sha256, std::nullopt);
  EXPECT_EQ(job.model.device, "cpu");
  EXPECT_EQ(job.model.threads, 0);
  EXPECT_EQ(job.model.instances, 1);
  ASSERT_EQ(job.model.inputs.size(), 1u);
  EXPECT_EQ(job.model.inputs[0].name, "features");
  EXPECT_EQ(job.model.inputs[0].columns,
            (std::vector<std::string>{"tenure", "monthly_charges", "total_charges"}));
  EXPECT_EQ(job.model.inputs[0].dtype, DType::kFloat32);
  EXPECT_TRUE(job.model.inputs[0].allow_nan);
  ASSERT_EQ(job.model.outputs.size(), 1u);
  EXPECT_EQ(job.model.outputs[0].name, "probabilities");
  EXPECT_EQ(job.model.outputs[0].columns, (std::vector<std::string>{"p_stay", "p_churn"}));
  EXPECT_EQ(job.model.outputs[0].column, "");
  EXPECT_EQ(job.batch.size, 1024);
  EXPECT_FALSE(job.batch.auto_size());
  EXPECT_EQ(job.batch.max_memory, int64_t{1} << 30);
  EXPECT_EQ(job.batch.sort_by_length, "");
  EXPECT_EQ(job.batch.max_tokens, 0);
  EXPECT_EQ(job.output.path, dir_ + "/out/churn/{run_id}");
  EXPECT_EQ(job.output.format, OutputFormat::kParquet);
  EXPECT_EQ(job.output.keep, std::vector<std::string>{"customer_id"});
  EXPECT_EQ(job.errors.max_retries, 2);
  EXPECT_EQ(job.errors.max_failed_count, 0);
  EXPECT_EQ(job.errors.max_failed_fraction, std::nullopt);
  EXPECT_EQ(job.errors.dead_letter, "{output}/_failed");
  EXPECT_EQ(job.errors.batch_timeout_s, 0);
  EXPECT_EQ(job.run.shard_rows, 131072);
  EXPECT_EQ(job.run.ledger, dir_ + "/.nightshift/ledger.db");
  EXPECT_EQ(job.run.drain_timeout_s, 20);
  EXPECT_FALSE(job.text.empty());
}

TEST_F(ParserTest, MinimalJobGetsDefaults) {
  Result<JobSpec> r = Parse(kMinimalJob);
  ASSERT_TRUE(r.has_value()) << r.error().ToString();
  EXPECT_EQ(r->model.backend, "onnx");
  EXPECT_EQ(r->model.outputs[0].column, "y");
  EXPECT_TRUE(r->model.outputs[0].columns.empty());
  EXPECT_EQ(r->batch.size, 1024);
  EXPECT_EQ(r->output.format, OutputFormat::kParquet);
  EXPECT_TRUE(r->output.keep.empty());
  EXPECT_FALSE(r->output.overwrite);
  EXPECT_EQ(r->errors.dead_letter, "{output}/_failed");
  EXPECT_EQ(r->run.ledger, dir_ + "/.nightshift/ledger.db");
  EXPECT_EQ(r->run.shard_rows, 131072);
  EXPECT_EQ(r->run.drain_timeout_s, 20);
}

TEST_F(ParserTest, ReadsEveryOptionalKey) {
  const std::string text = R"(name: a.b_c-1
input:
  query: SELECT * FROM t
  format: csv
  key: [region, id]
model:
  backend: xgboost
  path: /abs/model.json
  sha256: ABCDEF0123456789abcdef0123456789ABCDEF0123456789abcdef0123456789
  device: cuda:1
  threads: 4
  instances: 3
  inputs:
    - name: f
      columns: [a]
      dtype: float64
      allow_nan: false
    - name: g
      columns: [b, c]
      dtype: int
  outputs:
    - name: prediction
      column: score
batch:
  size: auto
  max_memory: 512 MiB
  sort_by_length: text
  max_tokens: 8192
output:
  path: /data/out/{name}/{date}/{run_id}
  format: jsonl
  keep: region
  overwrite: true
errors:
  max_retries: 0
  max_failed_items: "0.5%"
  dead_letter: failed/
  batch_timeout: 90s
run:
  shard_rows: 1000
  ledger: postgresql://db.internal/nightshift
  drain_timeout: 500ms
  lease: 2m
)";
  Result<JobSpec> r = Parse(text);
  ASSERT_TRUE(r.has_value()) << r.error().ToString();
  const JobSpec& job = *r;
  EXPECT_EQ(job.name, "a.b_c-1");
  EXPECT_EQ(job.input.path, "");
  EXPECT_EQ(job.input.query, "SELECT * FROM t");
  EXPECT_EQ(job.input.format, InputFormat::kCsv);
  EXPECT_EQ(job.input.key, (std::vector<std::string>{"region", "id"}));
  EXPECT_EQ(job.model.backend, "xgboost");
  EXPECT_EQ(job.model.path, "/abs/model.json");
  EXPECT_EQ(job.model.sha256, "abcdef0123456789abcdef0123456789abcdef0123456789abcdef0123456789");
  EXPECT_EQ(job.model.device, "cuda:1");
  EXPECT_EQ(job.model.threads, 4);
  EXPECT_EQ(job.model.instances, 3);
  ASSERT_EQ(job.model.inputs.size(), 2u);
  EXPECT_EQ(job.model.inputs[0].dtype, DType::kFloat64);
  EXPECT_FALSE(job.model.inputs[0].allow_nan);
  EXPECT_EQ(job.model.inputs[1].columns, (std::vector<std::string>{"b", "c"}));
  EXPECT_EQ(job.model.inputs[1].dtype, DType::kInt32);
  EXPECT_TRUE(job.model.inputs[1].allow_nan);
  EXPECT_EQ(job.model.outputs[0].column, "score");
  EXPECT_EQ(job.batch.size, 0);
  EXPECT_TRUE(job.batch.auto_size());
  EXPECT_EQ(job.batch.max_memory, 512 * 1024 * 1024);
  EXPECT_EQ(job.batch.sort_by_length, "text");
  EXPECT_EQ(job.batch.max_tokens, 8192);
  EXPECT_EQ(job.output.path, "/data/out/{name}/{date}/{run_id}");
  EXPECT_EQ(job.output.format, OutputFormat::kJsonl);
  EXPECT_EQ(job.output.keep, std::vector<std::string>{"region"});
  EXPECT_TRUE(job.output.overwrite);
  EXPECT_EQ(job.errors.max_retries, 0);
  ASSERT_TRUE(job.errors.max_failed_fraction.has_value());
  EXPECT_DOUBLE_EQ(*job.errors.max_failed_fraction, 0.005);
  EXPECT_EQ(job.errors.dead_letter, dir_ + "/failed/");
  EXPECT_DOUBLE_EQ(job.errors.batch_timeout_s, 90);
  EXPECT_EQ(job.run.shard_rows, 1000);
  EXPECT_EQ(job.run.ledger, "postgresql://db.internal/nightshift");
  EXPECT_DOUBLE_EQ(job.run.drain_timeout_s, 0.5);
  EXPECT_DOUBLE_EQ(job.run.lease_s, 120);
}

TEST_F(ParserTest, LeaseDefaultsToAMinuteAndRefusesUnderASecond) {
  Result<JobSpec> r = Parse(kMinimalJob);
  ASSERT_TRUE(r.has_value()) << r.error().ToString();
  EXPECT_DOUBLE_EQ(r->run.lease_s, 60);
  r = Parse(kMinimalJob + "run:\n  lease: 500ms\n");
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code(), Code::kInvalidJob);
  EXPECT_NE(r.error().message().find("run.lease"), std::string::npos) << r.error().message();
  EXPECT_NE(r.error().message().find("at least 1s"), std::string::npos) << r.error().message();
  r = Parse(kMinimalJob + "run:\n  lease: soon\n");
  ASSERT_FALSE(r.has_value());
  EXPECT_NE(r.error().message().find("run.lease"), std::string::npos) << r.error().message();
}

TEST_F(ParserTest, WritersDefaultToChooseAndNeedAFileOutputAboveOne) {
  Result<JobSpec> r = Parse(kMinimalJob);
  ASSERT_TRUE(r.has_value()) << r.error().ToString();
  EXPECT_EQ(r->run.writers, 0);
  r = Parse(kMinimalJob + "run:\n  writers: 3\n");
  ASSERT_TRUE(r.has_value()) << r.error().ToString();
  EXPECT_EQ(r->run.writers, 3);
  for (const char* bad : {"-1", "65", "two"}) {
    r = Parse(kMinimalJob + "run:\n  writers: " + bad + "\n");
    ASSERT_FALSE(r.has_value()) << bad;
    EXPECT_EQ(r.error().code(), Code::kInvalidJob);
    EXPECT_NE(r.error().message().find("run.writers"), std::string::npos) << r.error().message();
    EXPECT_NE(r.error().message().find(":16"), std::string::npos) << r.error().message();
  }
  const std::string db =
      Edit("  path: out\n", "  format: sqlite\n  url: out.db\n  table: scores\n") +
      "run:\n  writers: 2\n";
  r = Parse(db);
  ASSERT_FALSE(r.has_value());
  EXPECT_NE(r.error().message().find("2 writers need a file output; output.format sqlite"),
            std::string::npos)
      << r.error().message();
  r = Parse(Edit("  path: out\n", "  format: sqlite\n  url: out.db\n  table: scores\n") +
            "run:\n  writers: 1\n  readers: 2\n");
  ASSERT_TRUE(r.has_value()) << r.error().ToString();
  EXPECT_EQ(r->run.readers, 2);
  r = Parse(kMinimalJob + "run:\n  readers: 65\n");
  ASSERT_FALSE(r.has_value());
  EXPECT_NE(r.error().message().find("run.readers"), std::string::npos) << r.error().message();
}

TEST_F(ParserTest, MaxFailedItemsCountAndMinusOne) {
  Result<JobSpec> r = Parse(kMinimalJob + "errors:\n  max_failed_items: 100\n");
  ASSERT_TRUE(r.has_value()) << r.error().ToString();
  EXPECT_EQ(r->errors.max_failed_count, 100);
  EXPECT_EQ(r->errors.max_failed_fraction, std::nullopt);
  r = Parse(kMinimalJob + "errors:\n  max_failed_items: -1\n");
  ASSERT_TRUE(r.has_value()) << r.error().ToString();
  EXPECT_EQ(r->errors.max_failed_count, -1);
  r = Parse(kMinimalJob + "errors:\n  max_failed_items: 2%\n");
  ASSERT_TRUE(r.has_value()) << r.error().ToString();
  EXPECT_DOUBLE_EQ(*r->errors.max_failed_fraction, 0.02);
}

TEST_F(ParserTest, ResolvesRelativePathsAgainstTheJobFolder) {
  const std::string text = Edit("  path: in.parquet\n", "  path: ../data/in.parquet\n") +
                           "errors:\n  dead_letter: /var/failed\nrun:\n  ledger: state/l.db\n";
  Result<JobSpec> r = ParseJobFile(Write(text, "jobs/nightly.yaml"), {});
  ASSERT_TRUE(r.has_value()) << r.error().ToString();
  EXPECT_EQ(r->job_file, dir_ + "/jobs/nightly.yaml");
  EXPECT_EQ(r->job_dir, dir_ + "/jobs");
  EXPECT_EQ(r->input.path, dir_ + "/data/in.parquet");
  EXPECT_EQ(r->model.path, dir_ + "/jobs/m.onnx");
  EXPECT_EQ(r->output.path, dir_ + "/jobs/out");
  EXPECT_EQ(r->errors.dead_letter, "/var/failed");
  EXPECT_EQ(r->run.ledger, dir_ + "/jobs/state/l.db");
}

TEST_F(ParserTest, RelativeJobFilePathGivesAbsoluteJobDir) {
  const std::string cwd = std::filesystem::current_path().string();
  Result<JobSpec> r = ParseJobText(kMinimalJob, "sub/job.yaml", {});
  ASSERT_TRUE(r.has_value()) << r.error().ToString();
  EXPECT_EQ(r->job_dir, cwd + "/sub");
  EXPECT_EQ(r->job_file, cwd + "/sub/job.yaml");
  EXPECT_EQ(r->model.path, cwd + "/sub/m.onnx");
}

TEST_F(ParserTest, PostgresLedgerAndUrlInputAreNotResolved) {
  Result<JobSpec> r = Parse(Edit("  path: in.parquet\n", "  path: s3://bucket/x/*.parquet\n") +
                            "run:\n  ledger: postgres://u@h/db\n");
  ASSERT_TRUE(r.has_value()) << r.error().ToString();
  EXPECT_EQ(r->input.path, "s3://bucket/x/*.parquet");
  EXPECT_EQ(r->run.ledger, "postgres://u@h/db");
}

TEST_F(ParserTest, SubstitutesEnvironmentVariables) {
  ASSERT_EQ(::setenv("NS_SPEC_TEST_DATA", "/mnt/data", 1), 0);
  ASSERT_EQ(::setenv("NS_SPEC_TEST_BATCH", "64", 1), 0);
  ::unsetenv("NS_SPEC_TEST_UNSET");
  Result<JobSpec> r =
      Parse(Edit("  path: in.parquet\n", "  path: ${NS_SPEC_TEST_DATA}/in-${NS_SPEC_TEST_DATA}\n") +
            "batch:\n  size: ${NS_SPEC_TEST_BATCH}\n  sort_by_length: $${LITERAL}\n"
            "errors:\n  dead_letter: ${NS_SPEC_TEST_UNSET:-/tmp/fallback}\n");
  ASSERT_TRUE(r.has_value()) << r.error().ToString();
  EXPECT_EQ(r->input.path, "/mnt/data/in-/mnt/data");
  EXPECT_EQ(r->batch.size, 64);
  EXPECT_EQ(r->batch.sort_by_length, "${LITERAL}");
  EXPECT_EQ(r->errors.dead_letter, "/tmp/fallback");
  EXPECT_NE(r->text.find("/mnt/data/in-/mnt/data"), std::string::npos) << r->text;
}

TEST_F(ParserTest, MissingEnvironmentVariableNamesItFileAndLine) {
  ::unsetenv("NS_SPEC_TEST_MISSING");
  EXPECT_EQ(ErrorOf(Edit("  path: m.onnx\n", "  path: ${NS_SPEC_TEST_MISSING}/m.onnx\n")),
            path() + ":6:9: model.path: environment variable 'NS_SPEC_TEST_MISSING' is not set");
}

TEST_F(ParserTest, CanonicalTextIgnoresCommentsAndKeyOrderButNotValues) {
  Result<JobSpec> a = Parse(kMinimalJob);
  ASSERT_TRUE(a.has_value());
  const std::string reordered =
      "# a comment\n"
      "output: {path: out}\n"
      "model:\n"
      "  outputs: [{column: y, name: y}]\n"
      "  inputs: [{name: x, columns: [a, b]}]\n"
      "  path: m.onnx\n"
      "input: {key: id, path: in.parquet}\n"
      "name: t\n";
  Result<JobSpec> b = Parse(reordered);
  ASSERT_TRUE(b.has_value()) << b.error().ToString();
  EXPECT_EQ(a->text, b->text);
  Result<JobSpec> again = Parse(kMinimalJob);
  EXPECT_EQ(a->text, again->text);
  Result<JobSpec> c = Parse(kMinimalJob, {{"batch.size", "7"}});
  ASSERT_TRUE(c.has_value());
  EXPECT_NE(a->text, c->text);
  EXPECT_NE(c->text.find("size: 7"), std::string::npos) << c->text;
  EXPECT_EQ(a->text,
            "input:\n  key: id\n  path: in.parquet\nmodel:\n  inputs:\n    - columns:\n"
            "        - a\n        - b\n      name: x\n  outputs:\n    - column: y\n"
            "      name: y\n  path: m.onnx\nname: t\noutput:\n  path: out\n");
}

TEST_F(ParserTest, MissingJobFileIsNotFound) {
  Result<JobSpec> r = ParseJobFile(dir_ + "/nope.yaml", {});
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code(), Code::kNotFound);
  EXPECT_EQ(r.error().message(), "job file '" + dir_ + "/nope.yaml' not found");
}

TEST_F(ParserTest, DirectoryAsJobFileIsInvalidJob) {
  Result<JobSpec> r = ParseJobFile(dir_, {});
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code(), Code::kInvalidJob);
}

TEST_F(ParserTest, NotYamlIsInvalidJobNeverACrash) {
  EXPECT_EQ(ErrorOf("{{{"), path() + ":1:1: invalid YAML: end of map flow not found");
  EXPECT_EQ(ErrorOf(""), path() + ": the job file is empty");
  EXPECT_EQ(ErrorOf("# only a comment\n"), path() + ": the job file is empty");
  EXPECT_EQ(ErrorOf("just text"),
            path() + ": expected a mapping of keys (name, input, model, ...), got 'just text'");
  EXPECT_EQ(ErrorOf("- a\n- b\n"),
            path() + ": expected a mapping of keys (name, input, model, ...), got a list");
  EXPECT_EQ(ErrorOf(kMinimalJob + "---\n" + kMinimalJob),
            path() + ": holds more than one YAML document ('---'); a job file holds one");
  // A stray ',' made yaml-cpp 0.7's LoadAll loop forever.
  EXPECT_EQ(ErrorOf(","),
            path() + ":1:1: expected a mapping of keys (name, input, model, ...), found ','");
  EXPECT_EQ(ErrorOf("\n,ame: t\n"),
            path() + ":2:1: expected a mapping of keys (name, input, model, ...), found ','");
  EXPECT_EQ(ErrorOf("---\n"), path() + ": the job file is empty");
  std::string garbage;
  for (int i = 0; i < 4096; ++i) garbage += static_cast<char>((i * 7919 + 13) % 256);
  ErrorOf(garbage);
  ErrorOf(std::string("name: \0\x01\xff\n", 10));
  ErrorOf(std::string(100000, '['));
  ErrorOf("name: &a [*a]\n");
  ErrorOf(Edit("  inputs:\n", "  inputs: &a [*a]\n  x:\n"));
  ErrorOf("\t name: x\n");
  ErrorOf("? [a, b]\n: c\n");
  ErrorOf("name: t\nname: u\n");
}

TEST(JobSpecFunctions, ExpandOutputPath) {
  JobSpec job;
  job.name = "churn";
  EXPECT_EQ(
      ExpandOutputPath("/o/{name}/{date}/{run_id}-{run_id}/{other}", job, "r42", "2024-05-01"),
      "/o/churn/2024-05-01/r42-r42/{other}");
  EXPECT_EQ(ExpandOutputPath("/plain", job, "r", "d"), "/plain");
}

TEST(JobSpecFunctions, FormatNames) {
  EXPECT_EQ(InputFormatName(InputFormat::kAuto), "auto");
  EXPECT_EQ(InputFormatName(InputFormat::kParquet), "parquet");
  EXPECT_EQ(InputFormatName(InputFormat::kCsv), "csv");
  EXPECT_EQ(InputFormatName(InputFormat::kJsonl), "jsonl");
  EXPECT_EQ(OutputFormatName(OutputFormat::kParquet), "parquet");
  EXPECT_EQ(OutputFormatName(OutputFormat::kCsv), "csv");
  EXPECT_EQ(OutputFormatName(OutputFormat::kJsonl), "jsonl");
}

}  // namespace
}  // namespace nightshift::spec

namespace nightshift::spec {
namespace {

using ParserTest = JobFileTest;

TEST_F(ParserTest, PostgresInputReadsUrlQueryAndOneKey) {
  Result<JobSpec> r = Parse(
      Edit("  path: in.parquet\n",
           "  format: postgres\n  url: postgresql://u:pw@db/crm\n  query: SELECT * FROM t\n"));
  ASSERT_TRUE(r.has_value()) << r.error().ToString();
  EXPECT_EQ(r->input.format, InputFormat::kPostgres);
  EXPECT_EQ(r->input.url, "postgresql://u:pw@db/crm");
  EXPECT_EQ(r->input.query, "SELECT * FROM t");
  EXPECT_EQ(r->input.query_dir, "");  // runs on the server: no local paths
  EXPECT_EQ(r->input.path, "");
}

TEST_F(ParserTest, PostgresInputRefusesMissingUrlPathAndSeveralKeys) {
  const std::string pg = "  format: postgres\n  url: postgresql://db/crm\n  query: SELECT 1\n";
  EXPECT_NE(ErrorOf(Edit("  path: in.parquet\n", "  format: postgres\n  query: SELECT 1\n"))
                .find("input.url"),
            std::string::npos);
  EXPECT_NE(ErrorOf(Edit("  key: id\n", "  key: id\n" + pg)).find("input.path"), std::string::npos);
  EXPECT_NE(ErrorOf(Edit("  path: in.parquet\n  key: id\n", pg + "  key: [a, b]\n"))
                .find("exactly one key column"),
            std::string::npos);
  EXPECT_NE(ErrorOf(Edit("  key: id\n", "  key: id\n  url: postgresql://db/crm\n"))
                .find("only input.format: postgres has it"),
            std::string::npos);
}

}  // namespace
}  // namespace nightshift::spec
