#include "exec/batch_runner.h"

#include <fmt/format.h>

#include <cstring>

#include "exec/backoff.h"
#include "obs/run_observer.h"

namespace nightshift::exec {

namespace {

constexpr int kSuccessesBeforeGrowth = 32;

std::vector<int64_t> WithRows(const std::vector<int64_t>& shape, int64_t rows) {
  std::vector<int64_t> s = shape;
  if (!s.empty()) s[0] = rows;
  return s;
}

int64_t RowBytes(const Tensor& t) {
  return t.shape().empty() || t.shape()[0] == 0 ? 0
                                                : static_cast<int64_t>(t.ByteSize()) / t.shape()[0];
}

// Not the rows' fault, and not out of memory (which shrinks the batch instead).
bool RetriesExhausted(const Status& s) {
  return s.transient() && s.code() != Code::kOutOfMemory;
}

void MarkRow(RowBatch* batch, int64_t row, std::string reason, int attempts) {
  batch->SetRowError(row, std::move(reason));
  if (batch->row_attempts.size() < static_cast<size_t>(batch->num_rows)) {
    batch->row_attempts.resize(static_cast<size_t>(batch->num_rows), 1);
  }
  batch->row_attempts[static_cast<size_t>(row)] = attempts;
}

}  // namespace

BatchRunner::BatchRunner(std::unique_ptr<ModelInstance> instance, BatchRunnerOptions options)
    : instance_(std::move(instance)), options_(std::move(options)) {
  if (options_.env == nullptr) options_.env = Env::Default();
}

Status BatchRunner::ExecuteOnce(std::vector<Tensor>& inputs, std::vector<Tensor>* outputs) {
  Status s;
  const CallWatchdog::Outcome outcome = watchdog_.Run(
      options_.timeout_s, options_.cancel, [this] { instance_->Cancel(); },
      [&] { s = instance_->Execute(inputs, outputs); });
  // A call that finished well despite a cancel (too late, or a backend that
  // cannot cancel) produced a valid result: keep it.
  if (s.ok() || outcome == CallWatchdog::Outcome::kFinished) return s;
  if (outcome == CallWatchdog::Outcome::kStopped) {
    return Status(Code::kInterrupted, "the model call was cancelled: the run is stopping");
  }
  return Status(Code::kTimeout,
                fmt::format("the batch ran longer than errors.batch_timeout ({:g}s) and was "
                            "cancelled",
                            options_.timeout_s));
}

Status BatchRunner::CheckOutputs(const std::vector<Tensor>& outputs, int64_t rows) const {
  for (size_t i = 0; i < outputs.size(); ++i) {
    const auto& shape = outputs[i].shape();
    if (shape.empty() || shape[0] != rows) {
      return Status(Code::kModelError,
                    fmt::format("the model returned output {} with shape {} for a batch of {} rows",
                                i, outputs[i].DebugString(), rows));
    }
    if (i < options_.expected_last_dims.size() && options_.expected_last_dims[i] >= 0) {
      int64_t last = shape.size() > 1 ? shape.back() : 1;
      if (last != options_.expected_last_dims[i]) {
        return Status(
            Code::kSchemaMismatch,
            fmt::format("the model returned output {} as {} but the job maps it to {} column(s)", i,
                        outputs[i].DebugString(), options_.expected_last_dims[i]));
      }
    }
  }
  return Status::Ok();
}

Status BatchRunner::ExecuteWithRetry(std::vector<Tensor>& inputs, std::vector<Tensor>* outputs,
                                     int* attempts) {
  for (int attempt = 0;; ++attempt) {
    *attempts = attempt + 1;
    Status s = ExecuteOnce(inputs, outputs);
    if (s.ok() || s.code() == Code::kOutOfMemory || !s.transient() ||
        attempt >= options_.max_retries)
      return s;
    if (options_.observer != nullptr)
      options_.observer->OnRetry(s.code() == Code::kTimeout ? "timeout" : "transient");
    if (!SleepBackoff(options_.env, attempt, options_.backoff_base_us, options_.cancel)) {
      return Status(Code::kInterrupted, "the run is stopping: " + s.message());
    }
  }
}

Status BatchRunner::FailRows(RowBatch* batch, int64_t begin, int64_t end, const Status& failure,
                             int attempts) {
  const std::string reason = fmt::format("the batch holding this row failed {} time(s) ({}): {}",
                                         attempts, CodeName(failure.code()), failure.message());
  for (int64_t r = begin; r < end; ++r) MarkRow(batch, r, reason, attempts);
  return options_.breaker != nullptr ? options_.breaker->RecordFailure(failure) : Status::Ok();
}

void BatchRunner::NoteSuccess() {
  if (options_.breaker != nullptr) options_.breaker->RecordSuccess();
  if (cap_ == 0) return;
  if (++successes_at_cap_ >= kSuccessesBeforeGrowth) {
    cap_ *= 2;
    successes_at_cap_ = 0;
  }
}

Status BatchRunner::Run(RowBatch* batch) {
  NS_RETURN_IF_ERROR(RunModel(batch));
  if (batch->num_rows == 0) return Status::Ok();
  if (options_.top_k != nullptr && !options_.top_k->empty()) {
    NS_RETURN_IF_ERROR(ApplyTopK(*options_.top_k, batch));
  }
  return options_.ocr != nullptr ? ApplyOcrSteps(*options_.ocr, batch) : Status::Ok();
}

Status BatchRunner::RunModel(RowBatch* batch) {
  if (cap_ == 0 || batch->num_rows <= cap_) {
    int attempts = 0;
    Status s = ExecuteWithRetry(batch->inputs, &batch->outputs, &attempts);
    if (s.ok()) {
      NoteSuccess();
      return CheckOutputs(batch->outputs, batch->num_rows);
    }
    if (s.code() == Code::kSchemaMismatch && batch->num_rows > 0) {
      return s;  // wrong shapes are the job's fault, not the rows'
    }
    if (s.code() == Code::kInterrupted) return s;
    if (RetriesExhausted(s)) return FailRows(batch, 0, batch->num_rows, s, attempts);
    if (s.code() == Code::kOutOfMemory) cap_ = std::max<int64_t>(1, batch->num_rows / 2);
  }
  // Isolate the failing rows, or run in pieces under the cap. Output tensors
  // are allocated for the whole batch once the first piece succeeds.
  batch->outputs.clear();
  return RunRange(batch, 0, batch->num_rows);
}

Status BatchRunner::RunRange(RowBatch* batch, int64_t begin, int64_t end) {
  const int64_t rows = end - begin;
  if (cap_ > 0 && rows > cap_) {
    // The cap may shrink while the pieces run: cut each piece at the cap of
    // the moment.
    for (int64_t b = begin; b < end;) {
      int64_t e = std::min(end, b + cap_);
      NS_RETURN_IF_ERROR(RunRange(batch, b, e));
      b = e;
    }
    return Status::Ok();
  }
  scratch_inputs_.clear();
  for (Tensor& t : batch->inputs) {
    auto* base = static_cast<char*>(t.data()) + begin * RowBytes(t);
    scratch_inputs_.push_back(Tensor::View(t.dtype(), WithRows(t.shape(), rows), base));
  }
  int attempts = 0;
  Status s = ExecuteWithRetry(scratch_inputs_, &scratch_outputs_, &attempts);
  if (s.ok()) {
    NoteSuccess();
    NS_RETURN_IF_ERROR(CheckOutputs(scratch_outputs_, rows));
    if (batch->outputs.empty()) {
      for (const Tensor& o : scratch_outputs_) {
        batch->outputs.push_back(Tensor::Allocate(o.dtype(), WithRows(o.shape(), batch->num_rows)));
      }
    }
    for (size_t i = 0; i < scratch_outputs_.size(); ++i) {
      const int64_t rb = RowBytes(scratch_outputs_[i]);
      if (rb != RowBytes(batch->outputs[i])) {
        return Status(Code::kModelError,
                      "the model returned outputs of different widths for parts of one batch");
      }
      std::memcpy(static_cast<char*>(batch->outputs[i].data()) + begin * rb,
                  scratch_outputs_[i].data(), static_cast<size_t>(rows * rb));
    }
    return Status::Ok();
  }
  if (s.code() == Code::kSchemaMismatch || s.code() == Code::kInterrupted) return s;
  if (RetriesExhausted(s)) return FailRows(batch, begin, end, s, attempts);
  if (rows == 1) {
    MarkRow(batch, begin, fmt::format("the model failed on this row: {}", s.message()), attempts);
    return Status::Ok();
  }
  if (s.code() == Code::kOutOfMemory) cap_ = std::max<int64_t>(1, rows / 2);
  int64_t mid = begin + rows / 2;
  NS_RETURN_IF_ERROR(RunRange(batch, begin, mid));
  // If every row fails no output tensor is made: the writer then only
  // dead-letters.
  return RunRange(batch, mid, end);
}

}  // namespace nightshift::exec
