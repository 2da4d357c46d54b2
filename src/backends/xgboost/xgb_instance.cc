#include "xgb_instance.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <bit>
#include <cstring>
#include <utility>

namespace nightshift::xgb {
namespace {

std::string SpecString(const TensorSpec& spec) {
  return fmt::format("{}[{}]", DTypeName(spec.dtype), fmt::join(spec.shape, ", "));
}

// A numpy-style __array_interface__ (version 3) describing the matrix,
// which XGBoost reads in place.
std::string ArrayInterface(const float* data, int64_t rows, int64_t cols) {
  constexpr std::string_view kTypestr = std::endian::native == std::endian::little ? "<f4" : ">f4";
  return fmt::format(
      R"({{"data": [{}, true], "shape": [{}, {}], "strides": null, "typestr": "{}", "version": 3}})",
      reinterpret_cast<uintptr_t>(data), rows, cols, kTypestr);
}

}  // namespace

std::string PredictConfig(PredictType type) {
  // "cache_id": 0 as python-xgboost passes it: no prediction cache.
  return fmt::format(
      R"({{"type": {}, "training": false, "iteration_begin": 0, "iteration_end": 0, )"
      R"("strict_shape": false, "missing": NaN, "cache_id": 0}})",
      static_cast<int>(type));
}

Status PredictDense(BoosterHandle booster, const float* data, int64_t rows, int64_t cols,
                    const std::string& config, const std::string& context, const float** values,
                    int64_t* width) {
  std::string array = ArrayInterface(data, rows, cols);
  const bst_ulong* shape = nullptr;
  bst_ulong dims = 0;
  const float* result = nullptr;
  NS_RETURN_IF_ERROR(XgbStatus(XGBoosterPredictFromDense(booster, array.c_str(), config.c_str(),
                                                         /*m=*/nullptr, &shape, &dims, &result),
                               context));
  // Non-strict shapes: [rows] for one value per row, [rows, K] for more.
  bool ok =
      shape != nullptr && (dims == 1 || dims == 2) && shape[0] == static_cast<bst_ulong>(rows);
  if (!ok) {
    std::vector<bst_ulong> got(shape, shape == nullptr ? shape : shape + dims);
    return Status(Code::kModelError, fmt::format("{}: XGBoost returned a prediction of shape [{}] "
                                                 "for {} row(s)",
                                                 context, fmt::join(got, ", "), rows));
  }
  *width = dims == 1 ? 1 : static_cast<int64_t>(shape[1]);
  if (result == nullptr && *width > 0) {
    return Status(Code::kModelError, fmt::format("{}: XGBoost returned no values", context));
  }
  *values = result;
  return Status::Ok();
}

XgbInstance::XgbInstance(std::string path, Booster booster, TensorSpec input,
                         std::vector<OutputKind> outputs)
    : path_(std::move(path)),
      booster_(std::move(booster)),
      input_(std::move(input)),
      num_features_(input_.shape.size() == 2 ? input_.shape[1] : -1),
      outputs_(std::move(outputs)) {
  for (const OutputKind& out : outputs_) configs_.push_back(PredictConfig(out.type));
  returned_data_.assign(outputs_.size(), nullptr);
}

Status XgbInstance::CheckInput(std::span<const Tensor> inputs) const {
  if (inputs.size() != 1) {
    return Status(Code::kSchemaMismatch,
                  fmt::format("XGBoost model '{}' takes one input ('{}'), got {}", path_,
                              input_.name, inputs.size()));
  }
  const Tensor& x = inputs[0];
  if (x.dtype() != DType::kFloat32 || x.shape().size() != 2 || x.shape()[0] < 0) {
    return Status(Code::kSchemaMismatch, fmt::format("input '{}' expects {}, got {}", input_.name,
                                                     SpecString(input_), x.DebugString()));
  }
  if (x.shape()[1] != num_features_) {
    return Status(Code::kSchemaMismatch,
                  fmt::format("XGBoost model '{}' expects {} feature(s) per row, got {} (input "
                              "'{}' is {})",
                              path_, num_features_, x.shape()[1], input_.name, x.DebugString()));
  }
  if (x.data() == nullptr && x.NumElements() > 0) {
    return Status(Code::kInternal, fmt::format("input '{}' has no data", input_.name));
  }
  return Status::Ok();
}

Status XgbInstance::PrepareOutput(size_t j, int64_t rows, std::vector<Tensor>* outputs) {
  std::vector<int64_t> shape = {rows, outputs_[j].width};
  Tensor& out = (*outputs)[j];
  if (out.data() != nullptr && out.data() == returned_data_[j] && out.dtype() == DType::kFloat32) {
    out.Reshape(std::move(shape));  // grows only when the batch no longer fits
  } else {
    out = Tensor::Allocate(DType::kFloat32, std::move(shape));
  }
  returned_data_[j] = out.data();
  if (out.data() == nullptr && out.ByteSize() > 0) {
    return Status(Code::kOutOfMemory, fmt::format("cannot allocate {} bytes for output '{}'",
                                                  out.ByteSize(), outputs_[j].name));
  }
  return Status::Ok();
}

Status XgbInstance::Execute(std::span<const Tensor> inputs, std::vector<Tensor>* outputs) {
  NS_RETURN_IF_ERROR(CheckInput(inputs));
  const Tensor& x = inputs[0];
  const int64_t rows = x.shape()[0];
  return CatchErrors("XGBoost prediction", Code::kInternal, [&]() -> Status {
    outputs->resize(outputs_.size());
    for (size_t j = 0; j < outputs_.size(); ++j) {
      NS_RETURN_IF_ERROR(PrepareOutput(j, rows, outputs));
      if (rows == 0) continue;  // XGBoost is not asked about an empty batch
      std::string context =
          fmt::format("XGBoost model '{}' failed on a batch of {} row(s) (output '{}')", path_,
                      rows, outputs_[j].name);
      const float* values = nullptr;
      int64_t width = 0;
      NS_RETURN_IF_ERROR(PredictDense(booster_.get(), x.data_as<float>(), rows, num_features_,
                                      configs_[j], context, &values, &width));
      if (width != outputs_[j].width) {
        return Status(
            Code::kModelError,
            fmt::format("{}: XGBoost predicted {} value(s) per row, the model declared {}", context,
                        width, outputs_[j].width));
      }
      Tensor& out = (*outputs)[j];
      std::memcpy(out.data(), values, out.ByteSize());
    }
    return Status::Ok();
  });
}

}  // namespace nightshift::xgb
