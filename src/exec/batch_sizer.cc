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
constexpr double kMinGain = 1.05;
constexpr double kProbeSeconds = 0.15;  // time spent measuring each size (at least 3 calls)
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
                                        int64_t max_memory, Ledger* ledger,
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

  const int64_t rss_before = PeakRssBytes();
  std::vector<Tensor> outputs;
  double best_rate = 0;
  int misses = 0;
  for (int64_t size = kMinSize; size <= kMaxSize; size *= 2) {
    // Rows beyond the data repeat it: tensors are tiled from the sample.
    std::vector<Tensor> inputs;
    for (const Tensor& t : data->inputs) {
      std::vector<int64_t> shape = t.shape();
      shape[0] = size;
      Tensor x = Tensor::Allocate(t.dtype(), shape);
      const int64_t rb = RowBytes(t);
      for (int64_t r = 0; r < size; r += data->num_rows) {
        int64_t n = std::min(data->num_rows, size - r);
        std::memcpy(static_cast<char*>(x.data()) + r * rb, t.data(), static_cast<size_t>(n * rb));
      }
      inputs.push_back(std::move(x));
    }
    int64_t io_bytes = 0;
    for (const Tensor& t : inputs) io_bytes += static_cast<int64_t>(t.ByteSize());
    if (io_bytes > max_memory) break;
    std::vector<double> times;
    double seconds = 0;
    Status s;
    while (times.size() < 3 || (seconds < kProbeSeconds && times.size() < 50)) {
      double t0 = clock();
      s = instance->Execute(inputs, &outputs);
      double dt = clock() - t0;
      if (!s.ok()) break;
      times.push_back(dt);
      seconds += dt;
    }
    if (!s.ok()) break;  // out of memory or worse: the previous size is the limit
    for (const Tensor& t : outputs) io_bytes += static_cast<int64_t>(t.ByteSize());
    // Peak RSS moves in pages and allocator arenas: count its growth only when
    // it is large enough to be activations rather than noise.
    int64_t growth = PeakRssBytes() - rss_before;
    int64_t bytes = io_bytes + (growth > kRssNoise ? growth : 0);
    if (bytes > max_memory) break;
    // The median call (robust to a noisy neighbour), plus the pipeline's own
    // cost per batch (queue hand-offs, packing set-up), which favours batches
    // large enough to amortise it.
    std::sort(times.begin() + 1, times.end());  // the first call of a size warms up
    double median = times[1 + (times.size() - 1) / 2];
    double rate = static_cast<double>(size) / (median + kPerBatchOverheadS);
    choice.probes.push_back({size, rate, bytes});
    if (rate > best_rate * kMinGain) {
      choice.size = size;
      best_rate = rate;
      misses = 0;
    } else if (++misses >= 2) {
      break;  // two sizes in a row without a real gain
    }
  }
  // Nothing fit (or the model failed even on small batches): the smallest size.
  if (choice.probes.empty()) choice.size = kMinSize;
  NS_RETURN_IF_ERROR(ledger->PutTuning(cache_key, std::to_string(choice.size)));
  return choice;
}

}  // namespace nightshift::exec
