#include "exec/batch_sizer.h"

#include <fmt/format.h>
#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <memory>
#include <optional>

namespace nightshift::exec {
namespace {

constexpr int64_t kMinSize = 64;
constexpr int64_t kMaxSize = 16384;
constexpr double kMinGain = 1.05;   // a larger size must beat the best by this much
constexpr double kPlateau = 0.90;   // sizes within this of the best are timed again
constexpr int kConfirmRounds = 2;   // interleaved re-timing rounds over the plateau
constexpr double kWindowS = 0.025;  // time spent per size and round (at least 2 calls)
constexpr int kMaxCalls = 30;
// A call this long amortises any per-batch cost of the pipeline (~0.1 ms):
// larger sizes would only add memory and latency, so the sweep ends there,
// and one call of it is measurement enough.
constexpr double kLongCallS = 0.2;
constexpr double kPerBatchOverheadS = 100e-6;
constexpr int64_t kRssNoise = int64_t{8} << 20;

int64_t PeakRssBytes() {
  struct rusage ru {};
  getrusage(RUSAGE_SELF, &ru);
  return static_cast<int64_t>(ru.ru_maxrss) * 1024;
}

int64_t RowBytes(const Tensor& t) {
  return t.shape().empty() || t.shape()[0] == 0 ? 0
                                                : static_cast<int64_t>(t.ByteSize()) / t.shape()[0];
}

double RowsPerSecond(int64_t size, double call_seconds) {
  return static_cast<double>(size) / (call_seconds + kPerBatchOverheadS);
}

// Times the model on batches of a given size, tiled from the probe rows.
class Prober {
 public:
  Prober(ModelInstance* instance, const RowBatch& data, std::function<double()> clock)
      : instance_(instance), data_(data), clock_(std::move(clock)) {}

  // The inputs of a batch of `size` rows: rows beyond the probe data repeat it.
  std::vector<Tensor> Inputs(int64_t size) const {
    std::vector<Tensor> inputs;
    for (const Tensor& t : data_.inputs) {
      std::vector<int64_t> shape = t.shape();
      shape[0] = size;
      Tensor x = Tensor::Allocate(t.dtype(), shape);
      const int64_t rb = RowBytes(t);
      for (int64_t r = 0; r < size; r += data_.num_rows) {
        int64_t n = std::min(data_.num_rows, size - r);
        std::memcpy(static_cast<char*>(x.data()) + r * rb, t.data(), static_cast<size_t>(n * rb));
      }
      inputs.push_back(std::move(x));
    }
    return inputs;
  }

  // Calls the model on `inputs` for about kWindowS (at least twice) and
  // returns the fastest call's seconds: load on the machine only ever adds
  // time, and the first call of a size (allocations) is the slow one.
  Result<double> FastestCall(const std::vector<Tensor>& inputs) {
    double fastest = 0, spent = 0;
    for (int calls = 0; calls < 2 || (spent < kWindowS && calls < kMaxCalls); ++calls) {
      double t0 = clock_();
      Status s = instance_->Execute(inputs, &outputs_);
      double dt = clock_() - t0;
      if (!s.ok()) return Error(std::move(s));
      fastest = calls == 0 ? dt : std::min(fastest, dt);
      spent += dt;
      if (dt >= kLongCallS) break;
    }
    return fastest;
  }

  int64_t OutputBytes() const {
    int64_t bytes = 0;
    for (const Tensor& t : outputs_) bytes += static_cast<int64_t>(t.ByteSize());
    return bytes;
  }

 private:
  ModelInstance* instance_;
  const RowBatch& data_;
  std::function<double()> clock_;
  std::vector<Tensor> outputs_;
};

// The size cached for this model/device/width, if any (a bad entry is ignored).
Result<std::optional<int64_t>> CachedSize(Ledger* ledger, const std::string& cache_key) {
  NS_ASSIGN_OR_RETURN(auto cached, ledger->GetTuning(cache_key));
  if (!cached.has_value()) return std::optional<int64_t>();
  try {
    int64_t size = std::stoll(*cached);
    if (size > 0) return std::optional<int64_t>(size);
  } catch (...) {
  }
  return std::optional<int64_t>();
}

// The probe data: the first rows of the shard (up to kMaxSize), read once.
// Null when the shard has no rows.
Result<std::unique_ptr<RowBatch>> ReadProbeRows(Source* source, const ReadLayout& layout,
                                                const ShardTask& shard) {
  ReadLayout probe_layout = layout;
  probe_layout.batch_rows = std::min(kMaxSize, shard.row_end - shard.row_begin);
  std::unique_ptr<RowBatch> data;
  ShardTask first = shard;
  first.rows.clear();
  NS_RETURN_IF_ERROR(source->Read(
      probe_layout, std::span<const ShardTask>(&first, 1),
      [] { return std::make_unique<RowBatch>(); },
      [&](std::unique_ptr<RowBatch> b) {
        data = std::move(b);
        return false;
      }));
  if (data && data->num_rows == 0) data.reset();
  return data;
}

// One probing session: the sweep over sizes, then the plateau re-timing. It
// fills `choice` (probes, device budget) as it goes.
class SizeSearch {
 public:
  SizeSearch(ModelInstance* instance, const RowBatch& data, std::function<double()> clock,
             const SizerLimits& limits, BatchSizeChoice* choice)
      : instance_(instance),
        prober_(instance, data, std::move(clock)),
        limits_(limits),
        choice_(choice),
        rss_before_(PeakRssBytes()) {
    choice_->device_at_start = instance_->QueryDeviceMemory();
    if (choice_->device_at_start.has_value()) {
      choice_->device_budget = static_cast<int64_t>(
          limits_.device_margin * static_cast<double>(choice_->device_at_start->free_bytes) /
          std::max(1, limits_.instances));
    }
  }

  // 1. Sweep: double the size while it pays and fits.
  void Sweep() {
    double best_rate = 0;
    int misses = 0;
    for (int64_t size = kMinSize; size <= kMaxSize; size *= 2) {
      std::optional<BatchProbe> probe = Probe(size);
      if (!probe.has_value()) break;
      choice_->probes.push_back(*probe);
      if (probe->rows_per_s > best_rate * kMinGain) {
        best_rate = probe->rows_per_s;
        misses = 0;
      } else if (++misses >= 2) {
        break;  // two sizes in a row without a real gain
      }
      if (last_call_s_ >= kLongCallS) break;  // large enough: see kLongCallS
    }
  }

  // 2. Plateau: time the sizes near the best again, interleaved, keeping each
  // size's fastest call across all rounds; returns the fastest size.
  int64_t ConfirmPlateau() {
    double best_rate = 0;
    for (const BatchProbe& p : choice_->probes) best_rate = std::max(best_rate, p.rows_per_s);
    std::vector<BatchProbe*> plateau;
    for (BatchProbe& p : choice_->probes) {
      if (p.rows_per_s >= kPlateau * best_rate) plateau.push_back(&p);
    }
    for (int round = 0; plateau.size() > 1 && round < kConfirmRounds; ++round) {
      for (BatchProbe* p : plateau) {
        Result<double> seconds = prober_.FastestCall(prober_.Inputs(p->size));
        if (!seconds.has_value()) continue;  // keep the sweep's figure
        p->rows_per_s = std::max(p->rows_per_s, RowsPerSecond(p->size, *seconds));
      }
    }
    const BatchProbe* best = plateau.front();
    for (const BatchProbe* p : plateau) {
      if (p->rows_per_s > best->rows_per_s) best = p;
    }
    return best->size;
  }

 private:
  // Times one size; nothing when it does not fit (host or device) or fails.
  std::optional<BatchProbe> Probe(int64_t size) {
    std::vector<Tensor> inputs = prober_.Inputs(size);
    int64_t io_bytes = 0;
    for (const Tensor& t : inputs) io_bytes += static_cast<int64_t>(t.ByteSize());
    if (io_bytes > limits_.max_memory || !ProjectedToFitDevice(size)) return std::nullopt;
    Result<double> seconds = prober_.FastestCall(inputs);
    if (!seconds.has_value()) return std::nullopt;  // out of memory or worse: the limit
    io_bytes += prober_.OutputBytes();
    // Peak RSS moves in pages and allocator arenas: count its growth only when
    // it is large enough to be activations rather than noise.
    int64_t growth = PeakRssBytes() - rss_before_;
    int64_t bytes = io_bytes + (growth > kRssNoise ? growth : 0);
    if (bytes > limits_.max_memory) return std::nullopt;
    int64_t device_bytes = DeviceTaken();
    if (choice_->device_at_start.has_value() && device_bytes > choice_->device_budget) {
      return std::nullopt;
    }
    last_call_s_ = *seconds;
    return BatchProbe{size, RowsPerSecond(size, *seconds), bytes, device_bytes};
  }

  // The last size's working set, scaled to this size: do not even try a
  // batch that would not fit beside the other instances'.
  bool ProjectedToFitDevice(int64_t size) const {
    if (!choice_->device_at_start.has_value() || choice_->probes.empty()) return true;
    const BatchProbe& last = choice_->probes.back();
    double projected = static_cast<double>(last.device_bytes) * static_cast<double>(size) /
                       static_cast<double>(last.size);
    return projected <= static_cast<double>(choice_->device_budget);
  }

  // Device memory the probe has taken since it started (0 without a device).
  int64_t DeviceTaken() const {
    if (!choice_->device_at_start.has_value()) return 0;
    std::optional<DeviceMemory> m = instance_->QueryDeviceMemory();
    return m.has_value()
               ? std::max<int64_t>(0, choice_->device_at_start->free_bytes - m->free_bytes)
               : 0;
  }

  ModelInstance* instance_;
  Prober prober_;
  const SizerLimits& limits_;
  BatchSizeChoice* choice_;
  const int64_t rss_before_;
  double last_call_s_ = 0;
};

}  // namespace

std::string RunBatchSizeKey(const std::string& run_id) {
  return "run_batch_size/" + run_id;
}

std::string BatchSizeKey(const std::string& model_sha256, const std::string& device, int threads,
                         const ReadLayout& layout) {
  std::string widths;
  for (const auto& in : layout.inputs) {
    int64_t w = 1;
    for (int64_t d : in.row_shape) w *= d;
    widths += fmt::format("{}{}", widths.empty() ? "" : "x", w);
  }
  return fmt::format("batch_size/{}/{}/threads={}/width={}", model_sha256, device, threads, widths);
}

Result<BatchSizeChoice> ChooseBatchSize(ModelInstance* instance, Source* source,
                                        const ReadLayout& layout, const ShardTask& shard,
                                        const SizerLimits& limits, Ledger* ledger,
                                        const std::string& cache_key,
                                        const std::function<double()>& now) {
  auto clock = [&now] {
    if (now) return now();
    return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch())
        .count();
  };
  BatchSizeChoice choice;
  NS_ASSIGN_OR_RETURN(std::optional<int64_t> cached, CachedSize(ledger, cache_key));
  if (cached.has_value()) {
    choice.size = *cached;
    choice.cached = true;
    return choice;
  }
  NS_ASSIGN_OR_RETURN(std::unique_ptr<RowBatch> data, ReadProbeRows(source, layout, shard));
  if (!data) return choice;

  SizeSearch search(instance, *data, clock, limits, &choice);
  search.Sweep();
  // Nothing fit (or the model failed even on small batches): the smallest size.
  choice.size = choice.probes.empty() ? kMinSize : search.ConfirmPlateau();
  NS_RETURN_IF_ERROR(ledger->PutTuning(cache_key, std::to_string(choice.size)));
  return choice;
}

}  // namespace nightshift::exec
