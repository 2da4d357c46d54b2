#include "obs/failure_classes.h"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <nlohmann/json.hpp>

#include "obs/log.h"

namespace nightshift::obs {

std::string FailureClass(std::string_view error) {
  std::string out;
  // Numbers vary per row ("row 17", "failed 3 time(s)"); names do not: digits
  // right after a letter or '_' ("column 'f2'") are part of a name and stay.
  auto word = [](char c) { return std::isalnum(static_cast<unsigned char>(c)) != 0 || c == '_'; };
  bool in_name = false;
  for (size_t i = 0; i < error.size() && out.size() < 200; ++i) {
    const char c = error[i];
    const bool digit = std::isdigit(static_cast<unsigned char>(c)) != 0;
    if (digit && !in_name) {
      if (out.empty() || out.back() != '#') out += '#';
      continue;
    }
    in_name = word(c) && (!digit || in_name);
    out += c;
  }
  return out;
}

void FailureTally::Add(const std::string& error, const std::string& key_json) {
  std::string reason = FailureClass(error);
  if (groups_.size() >= kMaxClasses && groups_.count(reason) == 0) reason = "other";
  FailureGroup& g = groups_[reason];
  g.reason = reason;
  g.count++;
  if (g.example_keys.size() < kExamples) g.example_keys.push_back(key_json);
}

std::vector<FailureGroup> FailureTally::Groups() const {
  std::vector<FailureGroup> out;
  for (const auto& [k, g] : groups_) out.push_back(g);
  std::stable_sort(out.begin(), out.end(),
                   [](const FailureGroup& a, const FailureGroup& b) { return a.count > b.count; });
  return out;
}

void FailureLog::OnRunStarted(const std::string& job, const std::string& run_id, int) {
  std::lock_guard<std::mutex> lock(mu_);
  job_ = job;
  run_id_ = run_id;
}

void FailureLog::OnShardCommitted(int64_t, int64_t, const std::vector<ItemFailure>& failures) {
  std::lock_guard<std::mutex> lock(mu_);
  for (const auto& f : failures) tally_.Add(f.error, f.key_json);
}

void FailureLog::LogClasses() {
  std::lock_guard<std::mutex> lock(mu_);
  for (const FailureGroup& g : tally_.Groups()) {
    nlohmann::json examples = nlohmann::json::array();
    for (const auto& k : g.example_keys) {
      auto j = nlohmann::json::parse(k, nullptr, false);
      examples.push_back(j.is_discarded() ? nlohmann::json(k) : j);
    }
    LogJsonOnly(LogLevel::kWarn, "items_failed",
                fmt::format("{} item(s) failed: {}", g.count, g.reason),
                LogFields(job_, run_id_, -1,
                          {{"reason", g.reason}, {"count", g.count}, {"example_keys", examples}}));
  }
}

}  // namespace nightshift::obs
