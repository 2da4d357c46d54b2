#include "exec/batch_sizer.h"

#include <fmt/format.h>
#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <cstring>

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
  NS_ASSIGN_OR_RETURN(auto cached, ledger->GetTuning(cache_key));
  if (cached.has_value()) {
    try {
      choice.size = std::stoll(*cached);
      choice.cached = choice.size > 0;
    } catch (...) {
      choice.cached = false;
    }
    if (choice.cached) return choice;
  }

  // Probe data: the first rows of the shard, read once.
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
  if (!data || data->num_rows == 0) return choice;

  Prober prober(instance, *data, clock);
  const int64_t rss_before = PeakRssBytes();
  choice.device_at_start = instance->QueryDeviceMemory();
  if (choice.device_at_start.has_value()) {
    choice.device_budget = static_cast<int64_t>(
        limits.device_margin * static_cast<double>(choice.device_at_start->free_bytes) /
        std::max(1, limits.instances));
  }
  // Device memory the probe has taken since it started (0 without a device).
  auto device_taken = [&]() -> int64_t {
    if (!choice.device_at_start.has_value()) return 0;
    std::optional<DeviceMemory> m = instance->QueryDeviceMemory();
    return m.has_value() ? std::max<int64_t>(0, choice.device_at_start->free_bytes - m->free_bytes)
                         : 0;
  };

  // 1. Sweep: double the size while it pays and fits.
  double best_rate = 0;
  int misses = 0;
  for (int64_t size = kMinSize; size <= kMaxSize; size *= 2) {
    std::vector<Tensor> inputs = prober.Inputs(size);
    int64_t io_bytes = 0;
    for (const Tensor& t : inputs) io_bytes += static_cast<int64_t>(t.ByteSize());
    if (io_bytes > limits.max_memory) break;
    if (choice.device_at_start.has_value() && !choice.probes.empty()) {
      // The last size's working set, scaled to this size: do not even try a
      // batch that would not fit beside the other instances'.
      const BatchProbe& last = choice.probes.back();
      double projected = static_cast<double>(last.device_bytes) * static_cast<double>(size) /
                         static_cast<double>(last.size);
      if (projected > static_cast<double>(choice.device_budget)) break;
    }
    Result<double> seconds = prober.FastestCall(inputs);
    if (!seconds.has_value()) break;  // out of memory or worse: the previous size is the limit
    io_bytes += prober.OutputBytes();
    // Peak RSS moves in pages and allocator arenas: count its growth only when
    // it is large enough to be activations rather than noise.
    int64_t growth = PeakRssBytes() - rss_before;
    int64_t bytes = io_bytes + (growth > kRssNoise ? growth : 0);
    if (bytes > limits.max_memory) break;
    int64_t device_bytes = device_taken();
    if (choice.device_at_start.has_value() && device_bytes > choice.device_budget) break;
    double rate = RowsPerSecond(size, *seconds);
    choice.probes.push_back({size, rate, bytes, device_bytes});
    if (rate > best_rate * kMinGain) {
      best_rate = rate;
      misses = 0;
    } else if (++misses >= 2) {
      break;  // two sizes in a row without a real gain
    }
    if (*seconds >= kLongCallS) break;  // large enough: see kLongCallS
  }
  if (choice.probes.empty()) {
    // Nothing fit (or the model failed even on small batches): the smallest size.
    choice.size = kMinSize;
    NS_RETURN_IF_ERROR(ledger->PutTuning(cache_key, std::to_string(choice.size)));
    return choice;
  }
  best_rate = std::max_element(choice.probes.begin(), choice.probes.end(),
                               [](const BatchProbe& a, const BatchProbe& b) {
                                 return a.rows_per_s < b.rows_per_s;
                               })
                  ->rows_per_s;

  // 2. Plateau: time the sizes near the best again, interleaved, keeping each
  // size's fastest call across all rounds.
  std::vector<BatchProbe*> plateau;
  for (BatchProbe& p : choice.probes) {
    if (p.rows_per_s >= kPlateau * best_rate) plateau.push_back(&p);
  }
  for (int round = 0; plateau.size() > 1 && round < kConfirmRounds; ++round) {
    for (BatchProbe* p : plateau) {
      Result<double> seconds = prober.FastestCall(prober.Inputs(p->size));
      if (!seconds.has_value()) continue;  // keep the sweep's figure
      p->rows_per_s = std::max(p->rows_per_s, RowsPerSecond(p->size, *seconds));
    }
  }
  const BatchProbe* best = plateau.front();
  for (const BatchProbe* p : plateau) {
    if (p->rows_per_s > best->rows_per_s) best = p;
  }
  choice.size = best->size;
  NS_RETURN_IF_ERROR(ledger->PutTuning(cache_key, std::to_string(choice.size)));
  return choice;
}

}  // namespace nightshift::exec
