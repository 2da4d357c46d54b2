#include "exec/batch_runner.h"

#include <cstring>
#include <random>

#include <fmt/format.h>

#include "nightshift/env.h"

namespace nightshift::exec {
namespace {

std::vector<int64_t> WithRows(const std::vector<int64_t>& shape, int64_t rows) {
  std::vector<int64_t> s = shape;
  if (!s.empty()) s[0] = rows;
  return s;
}

int64_t RowBytes(const Tensor& t) {
  return t.shape().empty() || t.shape()[0] == 0 ? 0 : static_cast<int64_t>(t.ByteSize()) / t.shape()[0];
}

}  // namespace

BatchRunner::BatchRunner(ModelInstance* instance, int max_retries, std::vector<int64_t> expected_last_dims)
    : instance_(instance), max_retries_(max_retries), expected_last_dims_(std::move(expected_last_dims)) {}

Status BatchRunner::CheckOutputs(const std::vector<Tensor>& outputs, int64_t rows) const {
  for (size_t i = 0; i < outputs.size(); ++i) {
    const auto& shape = outputs[i].shape();
    if (shape.empty() || shape[0] != rows) {
      return Status(Code::kModelError, fmt::format("the model returned output {} with shape {} for a batch of {} rows",
                                                   i, outputs[i].DebugString(), rows));
    }
    if (i < expected_last_dims_.size() && expected_last_dims_[i] >= 0) {
      int64_t last = shape.size() > 1 ? shape.back() : 1;
      if (last != expected_last_dims_[i]) {
        return Status(Code::kSchemaMismatch,
                      fmt::format("the model returned output {} as {} but the job maps it to {} column(s)", i,
                                  outputs[i].DebugString(), expected_last_dims_[i]));
      }
    }
  }
  return Status::Ok();
}

Status BatchRunner::ExecuteWithRetry(std::vector<Tensor>& inputs, std::vector<Tensor>* outputs, int* attempts) {
  static thread_local std::mt19937_64 rng(std::random_device{}());
  for (int attempt = 0;; ++attempt) {
    *attempts = attempt + 1;
    Status s = instance_->Execute(inputs, outputs);
    if (s.ok() || !s.transient() || attempt >= max_retries_) return s;
    // Exponential backoff with jitter: 50 ms, 100 ms, ... capped at 5 s, x[0.5, 1.5).
    double base = std::min(5.0, 0.05 * static_cast<double>(int64_t{1} << std::min(attempt, 10)));
    std::uniform_real_distribution<double> jitter(0.5, 1.5);
    Env::Default()->SleepMicros(static_cast<int64_t>(base * jitter(rng) * 1e6));
  }
}

Status BatchRunner::Run(RowBatch* batch) {
  int attempts = 0;
  Status s = ExecuteWithRetry(batch->inputs, &batch->outputs, &attempts);
  if (s.ok()) return CheckOutputs(batch->outputs, batch->num_rows);
  if (s.code() == Code::kSchemaMismatch && batch->num_rows > 0) {
    // Wrong shapes are the job's fault, not the rows': no point bisecting.
    return s;
  }
  // Isolate the failing rows. Output tensors are allocated for the whole batch
  // once the first sub-range succeeds.
  batch->outputs.clear();
  return RunRange(batch, 0, batch->num_rows);
}

Status BatchRunner::RunRange(RowBatch* batch, int64_t begin, int64_t end) {
  const int64_t rows = end - begin;
  scratch_inputs_.clear();
  for (Tensor& t : batch->inputs) {
    auto* base = static_cast<char*>(t.data()) + begin * RowBytes(t);
    scratch_inputs_.push_back(Tensor::View(t.dtype(), WithRows(t.shape(), rows), base));
  }
  int attempts = 0;
  Status s = ExecuteWithRetry(scratch_inputs_, &scratch_outputs_, &attempts);
  if (s.ok()) {
    NS_RETURN_IF_ERROR(CheckOutputs(scratch_outputs_, rows));
    if (batch->outputs.empty()) {
      for (const Tensor& o : scratch_outputs_) {
        batch->outputs.push_back(Tensor::Allocate(o.dtype(), WithRows(o.shape(), batch->num_rows)));
      }
    }
    for (size_t i = 0; i < scratch_outputs_.size(); ++i) {
      const int64_t rb = RowBytes(scratch_outputs_[i]);
      if (rb != RowBytes(batch->outputs[i])) {
        return Status(Code::kModelError, "the model returned outputs of different widths for parts of one batch");
      }
      std::memcpy(static_cast<char*>(batch->outputs[i].data()) + begin * rb, scratch_outputs_[i].data(),
                  static_cast<size_t>(rows * rb));
    }
    return Status::Ok();
  }
  if (rows == 1) {
    batch->SetRowError(begin, fmt::format("the model rejected this row: {}", s.message()));
    if (batch->row_attempts.size() < static_cast<size_t>(batch->num_rows)) {
      batch->row_attempts.resize(static_cast<size_t>(batch->num_rows), 1);
    }
    batch->row_attempts[static_cast<size_t>(begin)] = attempts;
    return Status::Ok();
  }
  int64_t mid = begin + rows / 2;
  NS_RETURN_IF_ERROR(RunRange(batch, begin, mid));
  // If every row fails no output tensor is made: the writer then only
  // dead-letters.
  return RunRange(batch, mid, end);
}

}  // namespace nightshift::exec
