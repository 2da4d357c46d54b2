#include "test_batch_sleep.h"

#include <charconv>
#include <memory>
#include <string>
#include <utility>

#include "nightshift/backend.h"
#include "nightshift/env.h"

namespace nightshift::cli {
namespace {

constexpr const char* kVar = "NIGHTSHIFT_TEST_BATCH_SLEEP_MS";

// The real instance, delayed by a fixed sleep before every batch.
class SleepingInstance : public ModelInstance {
 public:
  SleepingInstance(std::unique_ptr<ModelInstance> inner, int64_t micros)
      : inner_(std::move(inner)), micros_(micros) {}
  std::optional<DeviceMemory> QueryDeviceMemory() override { return inner_->QueryDeviceMemory(); }
  Status Execute(std::span<const Tensor> inputs, std::vector<Tensor>* outputs) override {
    Env::Default()->SleepMicros(micros_);
    return inner_->Execute(inputs, outputs);
  }
  void Cancel() override { inner_->Cancel(); }

 private:
  std::unique_ptr<ModelInstance> inner_;
  int64_t micros_;
};

}  // namespace

Status ApplyTestBatchSleep(const std::function<const char*(const char*)>& getenv,
                           RunOptions* options) {
  const char* raw = getenv(kVar);
  if (raw == nullptr || *raw == '\0') return Status::Ok();
  const std::string value(raw);
  int64_t ms = -1;
  auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), ms);
  if (ec != std::errc() || end != value.data() + value.size() || ms < 0 || ms > 60000) {
    return Status(Code::kInvalidJob, std::string(kVar) + "='" + value +
                                         "' must be a whole number of milliseconds in [0, 60000]");
  }
  const int64_t micros = ms * 1000;
  options->wrap_instance = [micros](std::unique_ptr<ModelInstance> inst) {
    return std::unique_ptr<ModelInstance>(
        std::make_unique<SleepingInstance>(std::move(inst), micros));
  };
  return Status::Ok();
}

}  // namespace nightshift::cli
