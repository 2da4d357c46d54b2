// libFuzzer target: job file text (+ `--set` overrides) -> ParseJobText.
//
// Input layout: YAML text, then optionally NUL-separated `--set` overrides:
//   <job.yaml bytes> [\0 <KEY=VALUE> [\0 <KEY=VALUE> [\0 <KEY=VALUE>]]]
// Each override goes through ParseOverride (errors skipped), then all of them
// through ParseJobText. Errors are expected; crashes, sanitizer reports,
// hangs and leaks are bugs.
//
// Properties checked on success (abort = bug):
//   - job_file is the absolute job path, job_dir its folder;
//   - model/output paths and the ledger are absolute (or URLs), text ends in '\n';
//   - ParseJobText is deterministic (a second parse gives the same canonical text).
// Set NS_FUZZ_STRICT=1 to also require that the canonical text re-parses to
// itself when it holds no '$' (round-trip of the fingerprint form); that one
// is a design question rather than a memory-safety bug, so it is opt-in.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "nightshift/job_spec.h"

namespace {

constexpr const char* kJobPath = "/tmp/fuzz/job.yaml";
bool g_strict = false;
bool g_verbose = false;  // NS_FUZZ_VERBOSE=1: print each input's outcome

[[noreturn]] void Fail(const char* what, const std::string& detail) {
  std::fprintf(stderr, "job_parser_fuzzer: property violated: %s\n%s\n", what, detail.c_str());
  std::abort();
}

bool Absolute(const std::string& p) {
  return !p.empty() && p[0] == '/';
}

void CheckSpec(const nightshift::JobSpec& job) {
  if (job.job_file != kJobPath) Fail("job_file", job.job_file);
  if (job.job_dir != "/tmp/fuzz") Fail("job_dir", job.job_dir);
  if (job.text.empty() || job.text.back() != '\n') Fail("text ends in newline", job.text);
  if (!job.model.path.empty() && !Absolute(job.model.path))
    Fail("model.path absolute", job.model.path);
  if (!job.output.path.empty() && !Absolute(job.output.path))
    Fail("output.path absolute", job.output.path);
  if (job.run.ledger.find("://") == std::string::npos && !Absolute(job.run.ledger)) {
    Fail("run.ledger absolute", job.run.ledger);
  }
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  // Variables the seeds reference; NS_FUZZ_UNSET stays unset.
  setenv("NS_FUZZ_VAR", "value", 1);
  setenv("NS_FUZZ_EMPTY", "", 1);
  setenv("NS_FUZZ_DIR", "/data/in", 1);
  setenv("NS_FUZZ_SIZE", "256", 1);
  unsetenv("NS_FUZZ_UNSET");
  const char* strict = std::getenv("NS_FUZZ_STRICT");
  g_strict = strict != nullptr && std::string_view(strict) == "1";
  g_verbose = std::getenv("NS_FUZZ_VERBOSE") != nullptr;
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  size_t nul = in.find('\0');
  std::string text(in.substr(0, nul));
  std::vector<nightshift::Override> overrides;
  while (nul != std::string_view::npos && overrides.size() < 3) {
    size_t start = nul + 1;
    nul = in.find('\0', start);
    std::string_view part =
        in.substr(start, nul == std::string_view::npos ? std::string_view::npos : nul - start);
    auto o = nightshift::ParseOverride(part);
    if (o.has_value()) {
      if (o->key.empty()) Fail("ParseOverride: empty key accepted", std::string(part));
      overrides.push_back(*std::move(o));
    }
  }

  auto job = nightshift::ParseJobText(text, kJobPath, overrides);
  if (g_verbose) {
    std::fprintf(stderr, "%s\n",
                 job.has_value() ? ("ok: " + job->text).c_str() : job.error().ToString().c_str());
  }
  if (!job.has_value()) {
    if (job.error().message().empty()) Fail("error without a message", text);
    return 0;
  }
  CheckSpec(*job);

  auto again = nightshift::ParseJobText(text, kJobPath, overrides);
  if (!again.has_value() || again->text != job->text)
    Fail("ParseJobText is not deterministic", text);

  if (g_strict && job->text.find('$') == std::string::npos) {
    auto round = nightshift::ParseJobText(job->text, kJobPath, {});
    if (!round.has_value()) {
      Fail("canonical text does not re-parse",
           job->text + "\n--- error: " + round.error().message());
    }
    if (round->text != job->text)
      Fail("canonical text is not a fixed point", job->text + "\n---\n" + round->text);
  }
  return 0;
}
