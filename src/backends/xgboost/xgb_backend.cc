#include "xgb_backend.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <limits>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "nightshift/env.h"
#include "xgb_instance.h"
#include "xgb_status.h"
#include "xgb_ubjson.h"

namespace nightshift {
namespace xgb {
namespace {

constexpr std::string_view kDefaultInputName = "features";
constexpr std::string_view kPrediction = "prediction";
constexpr std::string_view kMargin = "margin";

Status CheckDevice(const std::string& device) {
  return RequireCpuDevice(device, "xgboost", "this build's XGBoost library has no CUDA support");
}

// When XGBoost would parse the file as UBJSON, checks its structure first
// (see xgb_ubjson.h: XGBoost's reader overruns its buffer on a truncated
// file). ModelError "`context`: <why>" when it is not valid.
Status CheckUbjsonFile(Env* env, const std::string& path, const std::string& context) {
  std::string head;
  Status opened = env->ReadFileBlocks(path, 2, [&head](std::string_view block) {
    head.append(block);
    return head.size() < 2;
  });
  if (!opened.ok()) return Status(Code::kModelError, fmt::format("{}: cannot open it", context));
  if (!MayLoadAsUbjson(path, std::string_view(head).substr(0, 2))) return Status::Ok();
  Result<std::string> bytes = env->ReadFile(path);
  if (!bytes.has_value()) return bytes.error().WithContext(context);
  Status valid = CheckUbjson(*bytes);
  if (!valid.ok())
    return Status(Code::kModelError, fmt::format("{}: {}", context, valid.message()));
  return Status::Ok();
}

// Opens a booster on the model file. NotFound when the file is missing
// (checked before XGBoost, whose message would not say so plainly); ModelError
// with the path and XGBoost's reason when it cannot be loaded. `threads` > 0
// sets XGBoost's nthread.
Result<Booster> OpenBooster(Env* env, const std::string& path, int threads) {
  if (env == nullptr) env = Env::Default();
  NS_RETURN_IF_ERROR(CheckModelFile(env, path, "an XGBoost model file"));
  std::string context = fmt::format("cannot load XGBoost model '{}'", path);
  NS_RETURN_IF_ERROR(CheckUbjsonFile(env, path, context));
  BoosterHandle handle = nullptr;
  NS_RETURN_IF_ERROR(
      XgbStatus(XGBoosterCreate(nullptr, 0, &handle), "cannot create an XGBoost booster"));
  Booster booster(handle);
  Status loaded = XgbStatus(XGBoosterLoadModel(handle, path.c_str()), context);
  if (loaded.code() == Code::kOutOfMemory) {
    // Loading is deterministic: XGBoost's legacy binary reader sizes its
    // buffers from the file, so a corrupt file is the likely cause, not a
    // transient shortage worth retrying.
    return Error(Code::kModelError,
                 loaded.message() + " (out of memory: is the file corrupt or truncated?)");
  }
  NS_RETURN_IF_ERROR(loaded);
  if (threads > 0) {
    NS_RETURN_IF_ERROR(
        XgbStatus(XGBoosterSetParam(handle, "nthread", std::to_string(threads).c_str()), context));
  }
  return booster;
}

Result<int64_t> NumFeatures(BoosterHandle booster, const std::string& path) {
  bst_ulong n = 0;
  NS_RETURN_IF_ERROR(
      XgbStatus(XGBoosterGetNumFeature(booster, &n),
                fmt::format("XGBoost model '{}': cannot read its feature count", path)));
  if (n == 0 || n > static_cast<bst_ulong>(std::numeric_limits<int32_t>::max())) {
    return Error(Code::kModelError,
                 fmt::format("XGBoost model '{}' declares {} features", path, n));
  }
  return static_cast<int64_t>(n);
}

// A count in learner_model_param: XGBoost writes numbers there as strings
// ("3"); `fallback` when absent.
int64_t ParamCount(const nlohmann::json& params, const char* key, int64_t fallback) {
  auto it = params.find(key);
  if (it == params.end()) return fallback;
  if (it->is_number_integer()) return it->get<int64_t>();
  if (!it->is_string()) return fallback;
  const std::string& s = it->get_ref<const std::string&>();
  int64_t value = fallback;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), value);
  return ec == std::errc() && end == s.data() + s.size() ? value : fallback;
}

// What LoadModel learns from a booster.
struct ModelInfo {
  int64_t num_features = 0;
  std::string objective;
  int64_t prediction_width = 1;  // values per row of type 0
  int64_t margin_width = 1;      // values per row of type 1
};

// Reads the feature count and the output widths from the booster's
// configuration (XGBoosterSaveJsonConfig: learner.objective.name,
// learner.learner_model_param.{num_class, num_target}).
Result<ModelInfo> ReadInfo(BoosterHandle booster, const std::string& path) {
  ModelInfo info;
  NS_ASSIGN_OR_RETURN(info.num_features, NumFeatures(booster, path));
  std::string context = fmt::format("XGBoost model '{}': cannot read its configuration", path);
  bst_ulong len = 0;
  const char* text = nullptr;
  NS_RETURN_IF_ERROR(XgbStatus(XGBoosterSaveJsonConfig(booster, &len, &text), context));
  return CatchErrors(context, Code::kModelError, [&]() -> Result<ModelInfo> {
    nlohmann::json config = nlohmann::json::parse(text, text + len);
    const nlohmann::json& learner = config.at("learner");
    info.objective = learner.at("objective").at("name").get<std::string>();
    const nlohmann::json& params = learner.at("learner_model_param");
    int64_t num_class = ParamCount(params, "num_class", 0);
    int64_t num_target = ParamCount(params, "num_target", 1);
    // XGBoost's output groups: one per class of a multi-class model, one per
    // target of a multi-target one.
    int64_t groups = std::max<int64_t>({num_class, num_target, 1});
    info.margin_width = groups;
    // multi:softmax predicts the class index: one value per row.
    info.prediction_width = info.objective == "multi:softmax" ? 1 : groups;
    return info;
  });
}

// Predicts one all-missing row of each type and checks the widths ReadInfo
// derived from the configuration, so a model whose output XGBoost shapes
// differently fails at load time rather than on every batch.
Status Probe(BoosterHandle booster, const std::string& path, const ModelInfo& info) {
  std::vector<float> row(static_cast<size_t>(info.num_features),
                         std::numeric_limits<float>::quiet_NaN());
  for (auto [type, name, expected] :
       {std::tuple(PredictType::kValue, kPrediction, info.prediction_width),
        std::tuple(PredictType::kMargin, kMargin, info.margin_width)}) {
    std::string context = fmt::format("XGBoost model '{}' cannot predict", path);
    const float* values = nullptr;
    int64_t width = 0;
    NS_RETURN_IF_ERROR(PredictDense(booster, row.data(), 1, info.num_features, PredictConfig(type),
                                    context, &values, &width));
    if (width != expected) {
      return Status(Code::kModelError,
                    fmt::format("XGBoost model '{}' (objective {}) predicts {} value(s) per row "
                                "for '{}', its configuration implies {}",
                                path, info.objective, width, name, expected));
    }
  }
  return Status::Ok();
}

Result<std::string> InputName(const std::vector<std::string>& names) {
  if (names.size() > 1) {
    return Error(Code::kSchemaMismatch,
                 fmt::format("an XGBoost model has one input (its feature matrix) but "
                             "model.inputs lists {}: {}",
                             names.size(), fmt::join(names, ", ")));
  }
  if (names.empty() || names[0].empty()) return std::string(kDefaultInputName);
  return names[0];
}

// Picks `names` out of the model's outputs, in the order given; both when
// `names` is empty.
Result<std::vector<OutputKind>> SelectOutputs(const std::vector<OutputKind>& declared,
                                              const std::vector<std::string>& names) {
  if (names.empty()) return declared;
  std::vector<OutputKind> selected;
  for (size_t i = 0; i < names.size(); ++i) {
    const std::string& name = names[i];
    if (std::find(names.begin(), names.begin() + i, name) != names.begin() + i) {
      return Error(Code::kInvalidJob, fmt::format("output '{}' is selected twice", name));
    }
    auto it = std::find_if(declared.begin(), declared.end(),
                           [&](const OutputKind& d) { return d.name == name; });
    if (it == declared.end()) {
      return Error(Code::kSchemaMismatch,
                   fmt::format("model has no output '{}' (an XGBoost model's outputs: {}, {})",
                               name, kPrediction, kMargin));
    }
    selected.push_back(*it);
  }
  return selected;
}

class XgbModel final : public Model {
 public:
  XgbModel(Env* env, std::string path, int threads, int64_t num_features, TensorSpec input,
           std::vector<OutputKind> declared, std::vector<OutputKind> selected, Booster first)
      : env_(env),
        path_(std::move(path)),
        threads_(threads),
        num_features_(num_features),
        selected_(std::move(selected)),
        spare_booster_(std::move(first)) {
    inputs_.push_back(std::move(input));
    for (const OutputKind& out : declared) {
      outputs_.push_back({out.name, DType::kFloat32, {-1, out.width}});
    }
  }

  const std::vector<TensorSpec>& inputs() const override { return inputs_; }
  const std::vector<TensorSpec>& outputs() const override { return outputs_; }

  Result<std::unique_ptr<ModelInstance>> CreateInstance() override {
    Booster booster;
    {
      std::lock_guard<std::mutex> lock(mu_);
      booster.swap(spare_booster_);
    }
    if (booster == nullptr) {
      // Each further instance loads the file again: boosters share nothing.
      NS_ASSIGN_OR_RETURN(booster, OpenBooster(env_, path_, threads_));
      NS_ASSIGN_OR_RETURN(int64_t num_features, NumFeatures(booster.get(), path_));
      if (num_features != num_features_) {
        return Error(Code::kModelError,
                     fmt::format("XGBoost model '{}' changed while loaded: it had {} features, "
                                 "now {}",
                                 path_, num_features_, num_features));
      }
    }
    return CatchErrors(fmt::format("cannot create an instance of XGBoost model '{}'", path_),
                       Code::kInternal, [&]() -> Result<std::unique_ptr<ModelInstance>> {
                         return std::make_unique<XgbInstance>(path_, std::move(booster), inputs_[0],
                                                              selected_);
                       });
  }

 private:
  Env* const env_;  // the model file's checks (nullptr: Env::Default())
  const std::string path_;
  const int threads_;
  const int64_t num_features_;
  std::vector<TensorSpec> inputs_;          // const after construction
  std::vector<TensorSpec> outputs_;         // const after construction
  const std::vector<OutputKind> selected_;  // config.output_names, in order
  std::mutex mu_;
  // The booster LoadModel opened to read the metadata, handed to the first
  // instance so a single-instance run loads the file once.
  Booster spare_booster_;  // GUARDED_BY(mu_)
};

class XgbBackend final : public Backend {
 public:
  std::string Version() const override {
    int major = 0, minor = 0, patch = 0;
    XGBoostVersion(&major, &minor, &patch);
    return fmt::format("XGBoost {}.{}.{}", major, minor, patch);
  }

  Result<std::unique_ptr<Model>> LoadModel(const ModelConfig& config) override {
    NS_RETURN_IF_ERROR(CheckDevice(config.device));
    if (config.threads < 0) {
      return Error(
          Code::kInvalidJob,
          fmt::format("model.threads must be >= 0 (0: automatic), got {}", config.threads));
    }
    return CatchErrors(fmt::format("cannot load XGBoost model '{}'", config.path),
                       Code::kModelError, [&]() { return Load(config); });
  }

 private:
  static Result<std::unique_ptr<Model>> Load(const ModelConfig& config) {
    NS_ASSIGN_OR_RETURN(std::string input_name, InputName(config.input_names));
    NS_ASSIGN_OR_RETURN(Booster booster, OpenBooster(config.env, config.path, config.threads));
    NS_ASSIGN_OR_RETURN(ModelInfo info, ReadInfo(booster.get(), config.path));
    NS_RETURN_IF_ERROR(Probe(booster.get(), config.path, info));
    std::vector<OutputKind> declared = {
        {std::string(kPrediction), PredictType::kValue, info.prediction_width},
        {std::string(kMargin), PredictType::kMargin, info.margin_width}};
    NS_ASSIGN_OR_RETURN(std::vector<OutputKind> selected,
                        SelectOutputs(declared, config.output_names));
    TensorSpec input{std::move(input_name), DType::kFloat32, {-1, info.num_features}};
    return std::make_unique<XgbModel>(config.env, config.path, config.threads, info.num_features,
                                      std::move(input), std::move(declared), std::move(selected),
                                      std::move(booster));
  }
};

}  // namespace
}  // namespace xgb

Result<std::unique_ptr<Backend>> CreateXgbBackend() {
  return std::make_unique<xgb::XgbBackend>();
}

}  // namespace nightshift
