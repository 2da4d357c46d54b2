#include "exec/top_k.h"

#include <fmt/format.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstring>
#include <numeric>
#include <optional>

namespace nightshift::exec {

std::vector<std::string> ModelOutputNames(const JobSpec& job) {
  std::vector<std::string> names;
  for (const auto& o : job.model.outputs) names.push_back(o.name);
  auto add = [&names](const std::string& output) {
    if (std::find(names.begin(), names.end(), output) == names.end()) names.push_back(output);
  };
  for (const auto& t : job.model.top_k) add(t.output);
  for (const auto& c : job.model.ctc_decode) add(c.output);
  for (const auto& t : job.model.text_boxes) add(t.output);
  return names;
}

namespace {

// `item` as an integer id when it is one written plainly (to_string gives it back).
std::optional<int64_t> PlainInteger(std::string_view item) {
  int64_t id = 0;
  auto [p, ec] = std::from_chars(item.data(), item.data() + item.size(), id);
  if (ec != std::errc() || p != item.data() + item.size() || std::to_string(id) != item) {
    return std::nullopt;
  }
  return id;
}

}  // namespace

Result<Labels> ReadLabels(Env* env, const std::string& path, const std::string& where) {
  auto text = env->ReadFile(path);
  if (!text.has_value()) {
    return Error(Code::kInvalidJob,
                 fmt::format("{}.labels '{}': {}", where, path, text.error().message()));
  }
  std::vector<std::string> lines;
  std::string_view rest = *text;
  for (int line = 1; !rest.empty(); ++line) {
    const size_t end = std::min(rest.find('\n'), rest.size());
    std::string_view item = rest.substr(0, end);
    if (!item.empty() && item.back() == '\r') item.remove_suffix(1);
    rest.remove_prefix(std::min(end + 1, rest.size()));
    if (item.empty()) {
      return Error(Code::kInvalidJob,
                   fmt::format("{}.labels '{}' line {} is blank (labels are one id per line: line "
                               "i is the id of index i)",
                               where, path, line));
    }
    lines.emplace_back(item);
  }
  Labels labels;
  for (const auto& item : lines) {
    std::optional<int64_t> id = PlainInteger(item);
    if (!id) break;
    labels.ids.push_back(*id);
  }
  if (labels.ids.size() != lines.size()) {  // one text id makes them all text: one column type
    labels.ids.clear();
    labels.text = std::make_shared<const std::vector<std::string>>(std::move(lines));
  }
  return labels;
}

namespace {

constexpr int64_t kBlock = 64;

// Whether any of the kBlock values at `v` is above `worst`: four lanes at a
// time (GCC's vector extension; SSE2 is in every x86-64, and other targets
// get the same code in scalar), since -O2 does not vectorise the plain loop.
bool AnyAbove(const float* v, float worst) {
  using Float4 = float __attribute__((vector_size(16)));
  using Int4 = int32_t __attribute__((vector_size(16)));
  const Float4 w = {worst, worst, worst, worst};
  Int4 any = {0, 0, 0, 0};
  for (int64_t j = 0; j < kBlock; j += 4) {
    Float4 x;
    std::memcpy(&x, v + j, sizeof x);
    any |= x > w;
  }
  return (any[0] | any[1] | any[2] | any[3]) != 0;
}

// Row `r`'s k best (value descending, index ascending; NaN last) into ids/values.
//
// One pass with a heap of the k best so far, its worst on top: most of a
// long row (50,000 items, k = 20) is rejected by one comparison with the
// worst kept value, where sorting indices would touch every value log k
// times through an indirection. A later index never beats an equal value
// (the lower index wins ties), so `v > worst` is the whole test for numbers.
void TopKOfRow(const float* row, int64_t n, const TopKStep& step, std::vector<int64_t>* heap,
               int64_t* ids, float* values) {
  auto better = [row](int64_t a, int64_t b) {
    const float va = row[a], vb = row[b];
    const bool na = std::isnan(va), nb = std::isnan(vb);
    if (na != nb) return nb;  // a number beats NaN
    if (!na && va != vb) return va > vb;
    return a < b;
  };
  heap->resize(static_cast<size_t>(step.k));
  std::iota(heap->begin(), heap->end(), int64_t{0});
  std::make_heap(heap->begin(), heap->end(), better);  // front: the worst kept
  float worst = row[heap->front()];
  for (int64_t i = step.k; i < n; ++i) {
    // A whole block below the worst kept number is skipped in one
    // (vectorised) look; NaNs never enter once a number is kept.
    if (i % kBlock == 0 && i + kBlock <= n && !std::isnan(worst) && !AnyAbove(row + i, worst)) {
      i += kBlock - 1;
      continue;
    }
    const float v = row[i];
    if (!(v > worst) && !(std::isnan(worst) && !std::isnan(v))) continue;
    std::pop_heap(heap->begin(), heap->end(), better);
    heap->back() = i;
    std::push_heap(heap->begin(), heap->end(), better);
    worst = row[heap->front()];
  }
  std::sort_heap(heap->begin(), heap->end(), better);  // best first
  for (int64_t j = 0; j < step.k; ++j) {
    const int64_t i = (*heap)[static_cast<size_t>(j)];
    ids[j] = step.labels.empty() ? i : step.labels[static_cast<size_t>(i)];
    values[j] = row[i];
  }
}

}  // namespace

Status ApplyTopK(const std::vector<TopKStep>& steps, RowBatch* batch) {
  std::vector<int64_t> order;
  for (const TopKStep& step : steps) {
    const Tensor& scores = batch->outputs[step.source];
    const auto& shape = scores.shape();
    if (scores.dtype() != DType::kFloat32 || shape.size() != 2 || shape[1] < step.k) {
      return Status(Code::kSchemaMismatch,
                    fmt::format("{} needs a float32 [batch, n] output with n >= k = {}; the model "
                                "returned {}",
                                step.where, step.k, scores.DebugString()));
    }
    const size_t labels = step.text_labels ? step.text_labels->size() : step.labels.size();
    if (labels != 0 && static_cast<int64_t>(labels) < shape[1]) {
      return Status(Code::kSchemaMismatch,
                    fmt::format("{}.labels has {} ids but the output has {} values per row",
                                step.where, labels, shape[1]));
    }
    Tensor ids = Tensor::Allocate(DType::kInt64, {batch->num_rows, step.k});
    Tensor values = Tensor::Allocate(DType::kFloat32, {batch->num_rows, step.k});
    for (int64_t r = 0; r < batch->num_rows; ++r) {
      TopKOfRow(scores.data_as<float>() + r * shape[1], shape[1], step, &order,
                ids.data_as<int64_t>() + r * step.k, values.data_as<float>() + r * step.k);
    }
    // A recycled batch may hold the last use's tensors: assign, not append.
    if (batch->outputs.size() < step.out + 2) batch->outputs.resize(step.out + 2);
    batch->outputs[step.out] = std::move(ids);
    batch->outputs[step.out + 1] = std::move(values);
  }
  for (const TopKStep& step : steps) {
    if (step.release_source) batch->outputs[step.source] = Tensor();
  }
  return Status::Ok();
}

}  // namespace nightshift::exec
