#include "exec/top_k.h"

#include <fmt/format.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <numeric>

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

Result<std::vector<int64_t>> ReadLabels(Env* env, const std::string& path,
                                        const std::string& where) {
  auto text = env->ReadFile(path);
  if (!text.has_value()) {
    return Error(Code::kInvalidJob,
                 fmt::format("{}.labels '{}': {}", where, path, text.error().message()));
  }
  std::vector<int64_t> labels;
  std::string_view rest = *text;
  for (int line = 1; !rest.empty(); ++line) {
    const size_t end = std::min(rest.find('\n'), rest.size());
    std::string_view item = rest.substr(0, end);
    if (!item.empty() && item.back() == '\r') item.remove_suffix(1);
    rest.remove_prefix(std::min(end + 1, rest.size()));
    int64_t id = 0;
    auto [p, ec] = std::from_chars(item.data(), item.data() + item.size(), id);
    if (item.empty() || ec != std::errc() || p != item.data() + item.size()) {
      return Error(Code::kInvalidJob,
                   fmt::format("{}.labels '{}' line {}: '{}' is not an integer id (labels are "
                               "one integer id per line)",
                               where, path, line, item));
    }
    labels.push_back(id);
  }
  return labels;
}

namespace {

// Row `r`'s k best (value descending, index ascending; NaN last) into ids/values.
void TopKOfRow(const float* row, int64_t n, const TopKStep& step, std::vector<int64_t>* order,
               int64_t* ids, float* values) {
  order->resize(static_cast<size_t>(n));
  std::iota(order->begin(), order->end(), int64_t{0});
  auto better = [row](int64_t a, int64_t b) {
    const float va = row[a], vb = row[b];
    const bool na = std::isnan(va), nb = std::isnan(vb);
    if (na != nb) return nb;  // a number beats NaN
    if (!na && va != vb) return va > vb;
    return a < b;
  };
  std::partial_sort(order->begin(), order->begin() + step.k, order->end(), better);
  for (int64_t j = 0; j < step.k; ++j) {
    const int64_t i = (*order)[static_cast<size_t>(j)];
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
    if (!step.labels.empty() && static_cast<int64_t>(step.labels.size()) < shape[1]) {
      return Status(Code::kSchemaMismatch,
                    fmt::format("{}.labels has {} ids but the output has {} values per row",
                                step.where, step.labels.size(), shape[1]));
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
  return Status::Ok();
}

}  // namespace nightshift::exec
