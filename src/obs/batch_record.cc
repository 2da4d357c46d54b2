#include "obs/batch_record.h"

#include <algorithm>

#include "obs/log.h"

namespace nightshift::obs {

std::string BatchTimesKey(const std::string& run_id) {
  return "run_batch_seconds/" + run_id;
}

const std::vector<double>& BatchLatencies::Bounds() {
  static const std::vector<double> kBounds = {
      0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2, 5, 10, 20, 60, 120, 300};
  return kBounds;
}

void BatchLatencies::Add(double seconds, int64_t batch_rows) {
  const auto& b = Bounds();
  size_t i = static_cast<size_t>(std::lower_bound(b.begin(), b.end(), seconds) - b.begin());
  counts[i]++;
  n++;
  rows += batch_rows;
  sum += seconds;
  max = std::max(max, seconds);
}

nlohmann::json BatchLatencies::ToJson() const {
  return {{"bounds", Bounds()}, {"counts", counts}, {"n", n},
          {"rows", rows},       {"sum", sum},       {"max", max}};
}

BatchLatencies BatchLatencies::FromJson(const std::string& text) {
  BatchLatencies out;
  auto j = nlohmann::json::parse(text, nullptr, false);
  if (!j.is_object() || j.value("bounds", nlohmann::json()) != nlohmann::json(Bounds())) return out;
  auto counts = j.value("counts", std::vector<int64_t>());
  if (counts.size() != out.counts.size()) return out;
  out.counts = counts;
  out.n = j.value("n", int64_t{0});
  out.rows = j.value("rows", int64_t{0});
  out.sum = j.value("sum", 0.0);
  out.max = j.value("max", 0.0);
  return out;
}

LedgerBatchRecorder::LedgerBatchRecorder(Ledger* ledger, std::string run_id)
    : ledger_(ledger), run_id_(std::move(run_id)) {
  if (ledger_ == nullptr) return;
  auto before = ledger_->GetTuning(BatchTimesKey(run_id_));
  if (before.has_value() && before->has_value()) latencies_ = BatchLatencies::FromJson(**before);
}

void LedgerBatchRecorder::OnBatch(double seconds, int64_t rows) {
  std::lock_guard<std::mutex> lock(mu_);
  latencies_.Add(seconds, rows);
}

void LedgerBatchRecorder::OnShardCommitted(int64_t, int64_t, const std::vector<ItemFailure>&) {
  if (ledger_ == nullptr) return;
  std::string value;
  {
    std::lock_guard<std::mutex> lock(mu_);
    value = latencies_.ToJson().dump();
  }
  // The record is for the report only: failing to save it must not fail the run.
  Status s = ledger_->PutTuning(BatchTimesKey(run_id_), value);
  if (!s.ok()) {
    Log(LogLevel::kWarn, "report_record_failed",
        "warning: could not record batch latencies for the report: " + s.message(),
        LogFields("", run_id_));
  }
}

}  // namespace nightshift::obs
