#include "exec/backoff.h"

#include <algorithm>
#include <random>
#include <utility>

namespace nightshift::exec {

int64_t BackoffMicros(int attempt, int64_t base_us) {
  static thread_local std::mt19937_64 rng(std::random_device{}());
  constexpr double kCapUs = 5e6;
  const double base =
      std::min(kCapUs, static_cast<double>(base_us) *
                           static_cast<double>(int64_t{1} << std::clamp(attempt, 0, 20)));
  std::uniform_real_distribution<double> jitter(0.5, 1.5);
  return static_cast<int64_t>(base * jitter(rng));
}

bool SleepBackoff(Env* env, int attempt, int64_t base_us, std::stop_token stop) {
  return env->SleepUnlessStopped(BackoffMicros(attempt, base_us), std::move(stop));
}

}  // namespace nightshift::exec
