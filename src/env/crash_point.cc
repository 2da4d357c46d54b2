#include "env/crash_point.h"

#include <unistd.h>

#include <csignal>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <string>

namespace nightshift {
namespace {

struct CrashSpec {
  std::string name;
  long remaining = 0;
};

CrashSpec* Spec() {
  static CrashSpec* spec = [] {
    const char* env = std::getenv("NIGHTSHIFT_CRASH_AT");
    if (env == nullptr) return static_cast<CrashSpec*>(nullptr);
    std::string s = env;
    auto colon = s.find(':');
    auto* c = new CrashSpec();
    c->name = s.substr(0, colon);
    c->remaining = colon == std::string::npos ? 1 : std::atol(s.c_str() + colon + 1);
    return c;
  }();
  return spec;
}

}  // namespace

void MaybeCrash(const char* name) {
  CrashSpec* spec = Spec();
  if (spec == nullptr || spec->name != name) return;
  static std::mutex mu;
  std::lock_guard<std::mutex> lock(mu);
  if (--spec->remaining == 0) {
    ::kill(::getpid(), SIGKILL);
    ::_exit(137);
  }
}

}  // namespace nightshift
