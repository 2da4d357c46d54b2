#include "sched/time_scale_env.h"

#include <fmt/format.h>

#include <cstdlib>
#include <string>

#include "env/env_wrapper.h"

namespace nightshift::sched {
namespace {

// Only the clock changes; files and processes are the base's (EnvWrapper).
class TimeScaleEnv final : public EnvWrapper {
 public:
  TimeScaleEnv(Env* base, int64_t anchor_micros, double factor)
      : EnvWrapper(base), anchor_(anchor_micros), factor_(factor) {}

  int64_t NowMicros() override {
    const int64_t real = target()->NowMicros();
    return anchor_ + static_cast<int64_t>(static_cast<double>(real - anchor_) * factor_);
  }
  int64_t MonotonicMicros() override {
    return static_cast<int64_t>(static_cast<double>(target()->MonotonicMicros()) * factor_);
  }
  void SleepMicros(int64_t micros) override {
    target()->SleepMicros(static_cast<int64_t>(static_cast<double>(micros) / factor_));
  }

 private:
  const int64_t anchor_;
  const double factor_;
};

}  // namespace

Result<std::unique_ptr<Env>> MakeTimeScaleEnv(Env* base, std::string_view value) {
  const std::string text(value);
  const size_t colon = text.find(':');
  char* end = nullptr;
  const long long anchor = std::strtoll(text.c_str(), &end, 10);
  const bool anchor_ok = colon != std::string::npos && end == text.c_str() + colon;
  const double factor = anchor_ok ? std::strtod(text.c_str() + colon + 1, &end) : 0;
  if (!anchor_ok || *end != '\0' || !(factor > 0)) {
    return Error(Code::kInvalidJob, fmt::format("{}='{}': expected ANCHOR_UNIX_SECONDS:FACTOR",
                                                kTimeScaleVariable, text));
  }
  return std::unique_ptr<Env>(std::make_unique<TimeScaleEnv>(base, anchor * 1000000LL, factor));
}

}  // namespace nightshift::sched
